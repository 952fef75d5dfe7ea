//! The query box, the indexing progress bar and its cancel button.

use leptos::prelude::*;

use crate::app_state::{Place, use_app};

#[component]
pub fn QueryBox() -> impl IntoView {
    let app = use_app();
    let cancel = move |_| {
        // Stops the indexing of the current query (a newer generation) and any run-all.
        app.cancel.set(true);
        app.generation.update(|g| *g += 1);
        app.busy.set(None);
        app.notify(
            Place::Query,
            "Indexing stopped. Change the query or the pool to start again.",
        );
    };
    view! {
        <section class="query" aria-label="Query">
            <label for="query" class="query-label">"Your query, in any language"</label>
            <input id="query" type="search" placeholder="e.g. Wie entsteht ein Regenbogen?" prop:value=move || app.query_text.get()
                on:input=move |ev| {
                    app.query_text.set(event_target_value(&ev));
                    app.settings.update(|s| {
                        s.query_text = Some(app.query_text.get_untracked());
                        s.answer = None;
                    });
                } />
            <div class="busy" class:hidden=move || app.busy.get().is_none()>
                {move || app.busy.get().map(|b| view! {
                    <label class="busy-label" for="index-progress">{format!("{}: {} / {}", b.label, b.done, b.total)}</label>
                    <progress id="index-progress" max=b.total.max(1) value=b.done></progress>
                })}
                <button class="quiet" on:click=cancel>"cancel"</button>
            </div>
            <p class="muted small">"A chosen question is judged against its own topic: its passage in every pool language is relevant. A query you type is judged once you mark the passage that answers it."</p>
        </section>
    }
}

//! The story in one sentence, the model badges and the download progress.

use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::app_state::{Message, Place, use_app};
use crate::fetch;

#[component]
pub fn Header() -> impl IntoView {
    let app = use_app();
    let clear = move |_| {
        spawn_local(async move {
            let models = fetch::clear_cache().await;
            let vectors = crate::store::clear().await;
            match (models, vectors) {
                (Ok(_), Ok(())) => app.notify(Place::Page,
                    "Cache cleared: the next reload downloads the model and embeds your pools again."),
                (Err(e), _) | (_, Err(e)) => {
                    app.fail(Place::Page, Message::with_detail("The cache could not be cleared.", e))
                }
            }
        })
    };
    view! {
        <header>
            <h1>"langbias"<span class="tagline">" · language bias in multilingual retrieval"</span></h1>
            <p class="lede">"Multilingual embedding models misrank mixed-language pools: a question finds its own-language passage first and the English translation far below, or the other way round. Type a query and watch the base encoder, the cross-lingually aligned one and a training-free fix (language centring or per-language z-scores, of the base or the aligned model) rank the same pool."</p>
            <div class="badges">
                <span class="badge" id="backend" title="Where the encoder runs">{move || if app.backend.get().is_empty() { "backend: …".to_string() } else { app.backend.get() }}</span>
                <span class="badge" id="stage" data-stage=move || app.stage.get() title="Loading stage">{move || app.stage.get()}</span>
                <span class="badge" id="cache" class:hidden=move || app.cache_info.get().is_empty()>{move || app.cache_info.get()}</span>
                <button class="quiet" on:click=clear title="Remove the model and the stored embeddings from this browser">"clear cache"</button>
            </div>
            <progress aria-label="Model download" max="1" value=move || app.progress.get() class:hidden=move || app.ready.get()></progress>
            <p class="note">{move || app.backend_note.get()}
                {move || app.backend_detail.get().map(|d| view! { <details><summary>"details"</summary>{d}</details> })}</p>
        </header>
    }
}

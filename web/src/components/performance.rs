//! What the page measured: downloads, encoder start-up, workers, query and indexing times.

use leptos::prelude::*;

use crate::app_state::use_app;

#[component]
pub fn Performance() -> impl IntoView {
    let app = use_app();
    view! {
        <dl id="perf">
            {move || app.perf.get().into_iter().map(|(k, v)| view! { <dt>{k}</dt><dd>{v}</dd> }).collect_view()}
        </dl>
    }
}

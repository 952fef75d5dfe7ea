//! The error banner (plain words, details behind a toggle) and the notice line.

use leptos::prelude::*;

use crate::app_state::use_app;

#[component]
pub fn Alerts() -> impl IntoView {
    let app = use_app();
    view! {
        <div id="error" role="alert" class:hidden=move || app.error.get().is_none()>
            {move || app.error.get().map(|m| view! {
                <span class="text">{m.text}</span>
                {m.detail.map(|d| view! { <details><summary>"details"</summary><span class="detail">{d}</span></details> })}
            })}
            " "<button class="quiet" on:click=move |_| app.error.set(None)>"dismiss"</button>
        </div>
        <div class="notice" role="status" class:hidden=move || app.notice.get().is_none()>
            {move || app.notice.get()}" "
            <button class="quiet" on:click=move |_| app.notice.set(None)>"dismiss"</button>
        </div>
    }
}

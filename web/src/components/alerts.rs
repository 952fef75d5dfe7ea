//! The messages of one [`Place`]: errors in plain words with the technical detail behind a
//! toggle, and notices, each dismissable. A message inside a collapsed section opens it.

use leptos::prelude::*;

use crate::app_state::{Place, use_app};

#[component]
pub fn Alerts(place: Place) -> impl IntoView {
    let app = use_app();
    let here = move || {
        app.alerts
            .get()
            .into_iter()
            .filter(|a| a.place == place)
            .collect::<Vec<_>>()
    };
    let node = NodeRef::<leptos::html::Div>::new();
    Effect::new(move |_| {
        if !here().is_empty()
            && let Some(div) = node.get()
            && let Ok(Some(details)) = div.closest("details")
        {
            let _ = details.set_attribute("open", "");
        }
    });
    view! {
        <div class="alerts" data-place=place.name() node_ref=node>
            {move || here().into_iter().map(|a| {
                let error = a.error;
                let m = a.message;
                view! {
                    <div class=if error { "alert error" } else { "alert notice" } data-place=place.name()
                        role=if error { "alert" } else { "status" }>
                        <span class="text">{m.text}</span>
                        {m.detail.map(|d| view! { <details><summary>"details"</summary><span class="detail">{d}</span></details> })}
                        " "<button class="quiet" on:click=move |_| app.remove(place, error)>"dismiss"</button>
                    </div>
                }
            }).collect_view()}
        </div>
    }
}

//! The lessons: a view of the pool each, what to look for, one button to apply it.

use leptos::prelude::*;

use crate::app_state::use_app;
use crate::workflows::apply_lesson;

#[component]
pub fn Lessons() -> impl IntoView {
    let app = use_app();
    move || {
        app.lessons
            .get()
            .into_iter()
            .enumerate()
            .map(|(i, l)| {
                let label = format!("Show lesson {}: {}", i + 1, l.title);
                let lesson = l.clone();
                let go = move |_| {
                    apply_lesson(app, &lesson);
                    // Bring the rankings into view.
                    if let Some(el) = web_sys::window()
                        .and_then(|w| w.document())
                        .and_then(|d| d.get_element_by_id("query"))
                    {
                        el.scroll_into_view();
                    }
                };
                view! {
                    <article class="lesson" data-lesson=l.id.clone()>
                        <h3>{format!("{}. {}", i + 1, l.title)}</h3>
                        <p>{l.body.clone()}</p>
                        <p class="expect"><b>"What you should see: "</b>{l.expect.text.clone()}</p>
                        <button aria-label=label on:click=go>"Show me"</button>
                    </article>
                }
            })
            .collect_view()
    }
}

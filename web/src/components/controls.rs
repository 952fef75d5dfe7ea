//! What the pool holds: query language, pool languages, topics, distractors, question.

use leptos::prelude::*;

use crate::app_state::use_app;
use crate::state::current_pool;
use crate::workflows::pick_question;

#[component]
pub fn PoolControls() -> impl IntoView {
    let app = use_app();
    let all_langs = move || {
        app.collection
            .get()
            .map(|p| p.languages())
            .unwrap_or_default()
    };
    // The number of topics in the collection (the input's maximum and what "all" means).
    let topic_count = move || {
        app.collection.get().map_or(0, |p| {
            p.documents
                .iter()
                .map(|d| d.group.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len()
        })
    };
    let on_query_lang = move |ev| {
        let v = event_target_value(&ev);
        app.settings.update(|s| {
            s.query_lang = v.clone();
            if !s.pool_langs.contains(&v) {
                s.pool_langs.push(v.clone());
            }
        });
        if let Some(all) = app.collection.get_untracked()
            && let Some(q) = all.queries.iter().find(|q| q.lang == v)
        {
            pick_question(app, q.id.clone());
        }
    };
    view! {
        <section class="controls" aria-label="Pool">
            <label>"Query language"
                <select id="query-lang" on:change=on_query_lang>
                    {move || all_langs().into_iter().map(|l| {
                        let sel = app.settings.get().query_lang == l;
                        view! { <option value=l.clone() selected=sel>{l.clone()}</option> }
                    }).collect_view()}
                </select>
            </label>
            <fieldset><legend>"Pool languages"</legend>
                {move || all_langs().into_iter().map(|l| {
                    let l2 = l.clone();
                    let checked = app.settings.get().pool_langs.contains(&l);
                    view! {
                        <label class="chk"><input type="checkbox" data-lang=l.clone() prop:checked=checked
                            on:change=move |ev| {
                                let on = event_target_checked(&ev);
                                let l = l2.clone();
                                app.settings.update(|s| {
                                    s.pool_langs.retain(|x| *x != l);
                                    if on { s.pool_langs.push(l); }
                                });
                            } />{l.clone()}</label>
                    }
                }).collect_view()}
            </fieldset>
            <label title="How many topics of the collection the pool draws its passages from">"Topics"
                <input type="number" min="1" prop:max=move || topic_count().max(1).to_string()
                    prop:value=move || app.settings.get().topics.min(topic_count().max(1)).to_string()
                    on:change=move |ev| { if let Ok(n) = event_target_value(&ev).parse() { app.settings.update(|s| s.topics = n); } } /></label>
            <label title="Extra unrelated passages from other topics">"Distractors"
                <input type="number" min="0" max="1000" prop:value=move || app.settings.get().distractors.to_string()
                    on:change=move |ev| { if let Ok(n) = event_target_value(&ev).parse() { app.settings.update(|s| s.distractors = n); } } /></label>
            <label class="question">"Question"
                <select id="question" on:change=move |ev| pick_question(app, event_target_value(&ev))>
                    {move || {
                        let s = app.settings.get();
                        app.collection.get().map(|c| current_pool(&c, &s).queries.into_iter().map(|q| {
                            let sel = q.id == s.query_id;
                            view! { <option value=q.id.clone() selected=sel>{q.text.clone()}</option> }
                        }).collect_view())
                    }}
                </select>
            </label>
        </section>
    }
}

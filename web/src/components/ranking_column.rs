//! One ranking column: the base model (0), the aligned model (1) or a model with a
//! training-free debiasing (2: language centring or per-language z-scores, of the base model
//! or of the aligned one, as chosen; or routing, both models together). Shows the
//! metrics of the query shown (never another topic's), the top hits with their movement
//! against the base column, and where the relevant documents below the list landed.

use langbias_eval::Debias;
use langbias_eval::routing::Feedback;
use leptos::prelude::*;

use super::{fmt_opt, lang_color};
use crate::app_state::use_app;
use crate::workflows::ranks_of;

const IDS: [&str; 3] = ["col-base", "col-aligned", "col-centred"];
const MODELS: [&str; 3] = ["base", "aligned", "centred"];
/// Hits shown before "show the full ranking".
const SHOWN: usize = 15;

#[component]
pub fn RankingColumn(which: usize) -> impl IntoView {
    let app = use_app();
    let which = which.min(2);
    let title = move || match which {
        0 => format!("Base: {}", app.model_name.get()),
        1 => "Aligned (JSD + InfoNCE adapter)".to_string(),
        _ => {
            let s = app.settings.get();
            let aligned = s.centre_aligned && app.has_aligned.get();
            match (s.method, aligned) {
                (Debias::Routed, _) => {
                    "Routed: own language by base, others by aligned (the best shipped variant)"
                }
                (Debias::ZScore, true) => "Aligned + per-language z-scores",
                (Debias::ZScore, false) => "Base + per-language z-scores (no training)",
                (_, true) => "Aligned + language centring",
                (_, false) => "Base + language centring (no training)",
            }
            .to_string()
        }
    };
    // The shown ranking belongs to another query or pool while the new one is computed.
    let outdated = move || {
        let r = app.result.get();
        r.pool.is_some()
            && (r.query.trim() != app.query_text.get().trim()
                || r.settings.as_ref() != Some(&app.settings.get()))
    };
    let body = move || {
        let r = app.result.get();
        let aligned = which == 1;
        let Some(pool) = r.pool.clone() else {
            let text = if app.query_text.get().trim().is_empty() {
                "Type a query to rank the pool."
            } else if app.collection.get().is_none() {
                "Loading the pool…"
            } else {
                "Ranking…"
            };
            return view! { <p class="muted">{text}</p> }.into_any();
        };
        let ranking = match which {
            0 => r.base.clone(),
            1 => r.aligned.clone(),
            _ => match r.centred.clone() {
                Some(Err(why)) => return view! { <p class="muted">{why}</p> }.into_any(),
                other => other.and_then(Result::ok),
            },
        };
        let Some(ranking) = ranking else {
            let text = if r.waiting {
                "Waiting for the model: this query has no build-time embedding, so the page embeds it once the model has downloaded."
            } else if aligned && !app.has_aligned.get() {
                "No aligned adapter is shipped with this build: only the base model is shown."
            } else {
                "Ranking…"
            };
            return view! { <p class="muted">{text}</p> }.into_any();
        };
        // Movement against the base column (for the aligned and the centred column).
        let base_rank = if which == 0 {
            Default::default()
        } else {
            ranks_of(r.base.as_ref())
        };
        let s = app.settings.get();
        let group = r.judged_group.clone();
        let free_text = app
            .collection
            .get()
            .and_then(|c| {
                c.queries
                    .iter()
                    .find(|q| q.id == s.query_id)
                    .map(|q| q.text.trim() != r.query.trim())
            })
            .unwrap_or(true);
        let m = ranking.metrics.clone();
        let shown = if app.show_all.get() {
            ranking.hits.len()
        } else {
            SHOWN
        };
        let is_relevant = |doc: usize| group.as_deref() == Some(pool.documents[doc].group.as_str());
        let standardised = |s: &crate::state::Settings| s.method != Debias::Centre;
        let score_title = if which == 2 && r.settings.as_ref().is_some_and(standardised) {
            "z-score: the cosine similarity minus the mean of its language's documents, over their standard deviation"
        } else {
            "cosine similarity"
        };
        let rows = ranking.hits.iter().take(shown).map(|h| {
            let d = &pool.documents[h.doc];
            let relevant = is_relevant(h.doc);
            let tag = if !relevant {
                String::new()
            } else if d.lang == s.query_lang {
                "relevant".into()
            } else {
                format!("relevant translation ({})", d.lang)
            };
            // Up is good only for a relevant document; an off-topic one moving up is not.
            let (moved, good, moved_title) = base_rank
                .get(&h.doc)
                .map(|o| {
                    let delta = *o as i64 - h.rank as i64;
                    let good = (delta > 0) == relevant;
                    if delta == 0 {
                        (String::new(), true, String::new())
                    } else if delta > 0 {
                        (format!("▲{delta}"), good, format!("{delta} places higher than in the base column"))
                    } else {
                        (format!("▼{}", -delta), good, format!("{} places lower than in the base column", -delta))
                    }
                })
                .unwrap_or_default();
            let snippet: String = d.text.chars().take(110).collect();
            let g = d.group.clone();
            let answer_button = (free_text && which == 0).then(|| view! {
                <button class="answer" title="Judge the metrics against this passage and its translations"
                    on:click=move |_| app.settings.update(|s| s.answer = Some(g.clone()))>"answers my query"</button>
            });
            view! {
                <li class:relevant=relevant data-doc=d.id.clone() data-group=d.group.clone()>
                    <span class="rank" title="rank">{h.rank}</span>
                    <span class="lang" style=format!("background:{}", lang_color(&d.lang))>{d.lang.clone()}</span>
                    <span class="score" title=score_title>{format!("{:.4}", h.score)}</span>
                    <span class="moved" class:worse=!good title=moved_title>{moved}</span>
                    <span class="tag">{tag}</span>
                    {answer_button}
                    <div class="text"><b>{d.title.clone().unwrap_or_default()}</b>" "{snippet}"…"</div>
                </li>
            }
        }).collect_view();
        // Where the relevant documents below the visible list landed.
        let below: Vec<String> = ranking
            .hits
            .iter()
            .skip(shown)
            .filter(|h| is_relevant(h.doc))
            .map(|h| format!("{} at rank {}", pool.documents[h.doc].lang, h.rank))
            .collect();
        let below = (!below.is_empty()).then(|| view! {
            <p class="below">"Further down: relevant "{below.join(", ")}" · "
                <button class="show-all" on:click=move |_| app.show_all.set(true)>"show the full ranking"</button></p>
        });
        let metrics = match &m {
            Some(m) => view! {
                <dl class="metrics" data-model=MODELS[which]>
                    <div title="Max@R: the worst rank at which all relevant versions (the passage in every pool language) are found; 2 is best with two languages. Lower is better."><dt>"Max@R"</dt><dd class="max-r">{m.max_rank.to_string()}</dd></div>
                    <div title="Complete@10: every relevant version is in the top 10"><dt>"Complete@10"</dt><dd>{if m.complete.get(&10) == Some(&true) { "yes" } else { "no" }}</dd></div>
                    <div title="nDCG@1: is the first hit relevant (1) or not (0)"><dt>"nDCG@1"</dt><dd>{fmt_opt(m.ndcg.get(&1).copied(), 3)}</dd></div>
                    <div title="English-above: unrelated English passages ranked above the relevant passage in the query's language"><dt>"EN-above"</dt><dd>{m.english_above.map_or("–".into(), |v| v.to_string())}</dd></div>
                    <div title="native-above: unrelated passages in the query's language ranked above the relevant English passage"><dt>"native-above"</dt><dd>{m.native_above.map_or("–".into(), |v| v.to_string())}</dd></div>
                </dl>
            }.into_any(),
            None if group.is_none() => view! {
                <p class="metrics muted" data-model=MODELS[which]>"Your own query has no judged answer yet: press “answers my query” on the passage that answers it (base column); it and its translations become the relevant documents."</p>
            }.into_any(),
            None => view! { <p class="metrics muted">"No relevant document of the judged topic is in this pool."</p> }.into_any(),
        };
        // Which single-document languages were centred on the adapter's stored means.
        let stored_note = (which == 2 && !r.centred_on_stored_means.is_empty()).then(|| {
            let langs = r.centred_on_stored_means.join(", ");
            view! {
                <p class="muted small stored-means" title="A language with one document in the pool has no mean of its own (the mean would be the document itself). The aligned adapter stores the mean of many documents per language under the same model.">
                    {format!("One document in {langs}: centred on the aligned adapter's stored mean for that language.")}
                </p>
            }
        });
        // What routing's feedback did: which passage fed back, and into which languages.
        let feedback_note = (which == 2)
            .then(|| r.routed_feedback.clone())
            .flatten()
            .and_then(|f| {
                let d = pool.documents.get(f.from?)?;
                let name = d.title.clone().unwrap_or_else(|| d.id.clone());
                Some((format!("“{name}” ({})", d.lang), f.languages))
            })
            .map(|(from, langs)| {
                let text = if langs.is_empty() {
                    format!("Feedback from {from}: no passage in another language matches it clearly (as a translation would), so nothing was lifted.")
                } else {
                    format!("Feedback from {from}: its clear match in {} was lifted.", langs.join(", "))
                };
                let title = format!("The first passage in the query's language (base model) is compared with every passage in the other languages (aligned model). Where one stands out by {} standard deviations, as a translation does, the passages of that language that resemble it are lifted.", Feedback::default().min_match);
                view! {
                    <p class="muted small feedback-note" title=title>{text}</p>
                }
            });
        view! {
            {metrics}
            {stored_note}
            {feedback_note}
            <ol class="hits">{rows}</ol>
            {below}
        }
        .into_any()
    };
    view! {
        <div class="col" id=IDS[which] class:outdated=outdated aria-busy=move || outdated().to_string()>
            <h2>{title}</h2>
            {(which == 2).then(|| view! {
                <p class="muted small">{move || match app.settings.get().method {
                    Debias::ZScore => "Each language's scores for the query, standardised among that language's documents (minus their mean, over their spread): a passage counts by how far it stands out in its own language.",
                    Debias::Routed => "Passages in the query's language ranked by the base model, passages in other languages by the aligned one (which was trained for that), then each language's scores standardised among its documents; a passage in another language that clearly matches the best passage in the query's language (its translation) is lifted (feedback). Monolingual ranking stays the base model's.",
                    _ => "Each document minus the mean of its language's documents in this pool: much of language identity is one direction per language.",
                }}</p>
                <label class="small">"Method "
                    <select id="debias-method" on:change=move |ev| {
                        let method = event_target_value(&ev).parse().unwrap_or(Debias::Centre);
                        app.settings.update(|s| s.method = method);
                    }>
                        <option value="centre" selected=move || app.settings.get().method == Debias::Centre>"language centring"</option>
                        <option value="zscore" selected=move || app.settings.get().method == Debias::ZScore>"per-language z-scores"</option>
                        <option value="routed" class:hidden=move || !app.has_aligned.get() selected=move || app.settings.get().method == Debias::Routed>"routing: base for the query's language, aligned for the others"</option>
                    </select>
                </label>
                " "
                <label class="small" class:hidden=move || !app.has_aligned.get() || app.settings.get().method == Debias::Routed>"on the "
                    <select id="centre-on" on:change=move |ev| {
                        let aligned = event_target_value(&ev) == "aligned";
                        app.settings.update(|s| s.centre_aligned = aligned);
                    }>
                        <option value="base" selected=move || !app.settings.get().centre_aligned>"base model (no training)"</option>
                        <option value="aligned" selected=move || app.settings.get().centre_aligned>"aligned model"</option>
                    </select>
                </label>
            })}
            {body}
        </div>
    }
}

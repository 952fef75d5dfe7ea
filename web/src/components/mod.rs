//! The page's components, one per section, sharing [`crate::app_state::AppState`] through
//! context. [`App`] lays them out: the story and the three ranking columns first, the rest in
//! collapsible sections.

mod alerts;
mod controls;
mod header;
mod heatmap;
mod lessons;
mod performance;
mod pool_map;
mod query_box;
mod ranking_column;
mod run_all;
mod source_line;
mod your_data;

use langbias_eval::ENGLISH;
use leptos::prelude::*;

use crate::app_state::{AppState, Place, use_app};
use crate::browser::set_hash;
use crate::state::Settings;
use crate::workflows;

/// The page.
#[component]
pub fn App() -> impl IntoView {
    let initial = Settings::from_hash(
        &web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default(),
    );
    let app = AppState::provide(initial);
    workflows::start(app);

    // Any settings change: keep the URL in sync and rerank (with the build-time vectors
    // before the model is ready, and again once it is).
    Effect::new(move |_| {
        let s = app.settings.get();
        set_hash(&s);
        let _ = app.collection.get();
        let _ = app.ready.get();
        workflows::run_query(app);
    });
    // Default query text from the shared link or the chosen question.
    Effect::new(move |_| {
        if let Some(all) = app.collection.get()
            && app.query_text.get_untracked().is_empty()
        {
            let s = app.settings.get_untracked();
            if let Some(q) = all.queries.iter().find(|q| q.id == s.query_id) {
                app.query_text.set(q.text.clone());
            }
        }
    });

    view! {
        <header::Header />
        <alerts::Alerts place=Place::Page />
        <main>
            <controls::PoolControls />
            <query_box::QueryBox />
            <alerts::Alerts place=Place::Query />
            <source_line::SourceLine />
            <section class="columns" aria-label="Rankings">
                <ranking_column::RankingColumn which=0 />
                <ranking_column::RankingColumn which=1 />
                <ranking_column::RankingColumn which=2 />
            </section>
            <LiveSummary />
            <details class="lessons panel" open=true>
                <summary><h2>"Lessons"</h2></summary>
                <alerts::Alerts place=Place::Lessons />
                <lessons::Lessons />
            </details>
            <details class="runall panel">
                <summary><h2>"Run all queries"</h2></summary>
                <alerts::Alerts place=Place::RunAll />
                <run_all::RunAllPanel />
            </details>
            <details class="heatmap panel">
                <summary><h2>"Similarity of the top documents"</h2></summary>
                <heatmap::SimilarityHeatmap />
            </details>
            <details class="map panel">
                <summary><h2>"Map of the pool"</h2></summary>
                <alerts::Alerts place=Place::Map />
                <pool_map::PoolMap />
            </details>
            <details class="data panel">
                <summary><h2>"Your data"</h2></summary>
                <alerts::Alerts place=Place::YourData />
                <your_data::YourData />
            </details>
            <details class="perf panel">
                <summary><h2>"Performance"</h2></summary>
                <performance::Performance />
            </details>
        </main>
        <footer>
            <p>"Encoder: "{move || app.model_name.get()}" ("{move || app.model_source.get()}"), run with burn in WebAssembly. Method after Lim, Hong et al. 2026, \"Improving Semantic Proximity in Information Retrieval through Cross-Lingual Alignment\". Demo texts: original, CC0. Share this view: the address bar holds the pool, query and model."</p>
        </footer>
    }
}

/// Announces each new ranking to screen readers (a polite live region).
#[component]
fn LiveSummary() -> impl IntoView {
    let app = use_app();
    let text = move || {
        let r = app.result.get();
        let max_r = |m: Option<&langbias_eval::Ranking>| {
            m.and_then(|r| r.metrics.as_ref())
                .map(|m| m.max_rank.to_string())
        };
        match (max_r(r.base.as_ref()), max_r(r.aligned.as_ref())) {
            (Some(b), Some(a)) => format!("Ranked. Max@R: base {b}, aligned {a}."),
            (Some(b), None) => format!("Ranked. Max@R: base {b}."),
            _ if r.base.is_some() => "Ranked.".to_string(),
            _ => String::new(),
        }
    };
    view! { <p id="live" class="sr-only" aria-live="polite">{text}</p> }
}

/// A number with `digits` decimals, or a dash.
pub(crate) fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

/// The colour of a language's badge and map points (English always blue); every colour has
/// at least 4.5:1 contrast with white text.
pub(crate) fn lang_color(lang: &str) -> &'static str {
    const COLORS: [&str; 9] = [
        "#b3261e", "#1e7a3c", "#6a3d9a", "#a3470b", "#7a4b3a", "#a8326e", "#0e6e78", "#5c6b00",
        "#555555",
    ];
    if lang == ENGLISH {
        return "#1d5fa8";
    }
    let h = lang
        .bytes()
        .fold(7usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
    COLORS[h % COLORS.len()]
}

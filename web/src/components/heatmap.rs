//! Pairwise cosine similarity of the base model's top hits, under each model, with a colour
//! scale.

use leptos::prelude::*;

use crate::app_state::use_app;

/// Cosines of e5 embeddings live in about [0.6, 1]: 0.6 → white, 1.0 → dark blue.
const LOW: f32 = 0.6;

fn shade(v: f32) -> String {
    let t = ((v - LOW) / (1.0 - LOW)).clamp(0.0, 1.0);
    let c = (255.0 - 200.0 * t) as u8;
    format!("rgb({c},{c},255)")
}

#[component]
pub fn SimilarityHeatmap() -> impl IntoView {
    let app = use_app();
    move || {
        let r = app.result.get();
        if r.heat.is_empty() {
            return view! { <p class="muted">"Rank a query: the base model's top hits are compared pairwise (cosine) under each model."</p> }.into_any();
        }
        let scale = (0..=4)
            .map(|i| {
                let v = LOW + (1.0 - LOW) * i as f32 / 4.0;
                view! {
                    <rect x=i * 40 y="0" width="40" height="12" fill=shade(v)></rect>
                    <text x=i * 40 + 2 y="26" font-size="11">{format!("{v:.1}")}</text>
                }
            })
            .collect_view();
        let figures = r.heat.into_iter().map(|h| {
            let n = h.labels.len();
            let cell = 26usize;
            let left = 130usize;
            let cells = h.sims.iter().enumerate().flat_map(|(i, row)| row.iter().enumerate().map(move |(j, &v)| (i, j, v))).map(|(i, j, v)| {
                view! { <rect x=left + j * cell y=i * cell width=cell height=cell fill=shade(v)><title>{format!("{} × {}: cosine {v:.3}", h.labels[i], h.labels[j])}</title></rect> }
            }).collect_view();
            let labels = h.labels.iter().enumerate().map(|(i, l)| view! { <text x=left - 4 y=i * cell + 17 text-anchor="end" font-size="11">{l.clone()}</text> }).collect_view();
            view! {
                <figure class="heat" data-model=h.model>
                    <figcaption>{h.model}" model"</figcaption>
                    <svg role="img" aria-label=format!("cosine similarity of the top {n} documents under the {} model", h.model) viewBox=format!("0 0 {} {}", left + n * cell + 4, n * cell + 4) width=left + n * cell + 4>{labels}{cells}</svg>
                </figure>
            }
        }).collect_view();
        view! {
            <p class="muted small">"Rows and columns: language · topic of the base model's top hits. Parallel passages (same topic) should be darker than unrelated passages of the same language."</p>
            <div class="heat-row">{figures}</div>
            <figure class="scale">
                <figcaption class="small">"cosine similarity"</figcaption>
                <svg role="img" aria-label="colour scale: white 0.6, dark blue 1.0" width="200" height="30">{scale}</svg>
            </figure>
        }.into_any()
    }
}

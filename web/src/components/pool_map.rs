//! The pool's documents on the two principal axes shared by both models, coloured by
//! language, translations joined, the query marked.

use std::collections::BTreeSet;

use leptos::prelude::*;

use super::lang_color;
use crate::app_state::use_app;
use crate::workflows;

const W: f32 = 420.0;
const H: f32 = 320.0;

#[component]
pub fn PoolMap() -> impl IntoView {
    let app = use_app();
    view! {
        <p class="muted small">"Each dot is a passage of the current pool, coloured by language; grey lines join translations of the same passage; ★ is your query. Both panels share one projection (the two principal axes of all of them), so a model whose languages form separate clouds shows them apart."</p>
        <button id="draw-map" on:click=move |_| workflows::compute_map(app)>"Draw the map"</button>
        {move || {
            let panels = app.map.get();
            if panels.is_empty() {
                return view! { <p class="muted">"Not drawn yet."</p> }.into_any();
            }
            let all = panels.iter().flat_map(|p| p.points.iter().map(|q| (q.0, q.1)).chain(p.query));
            let (minx, maxx, miny, maxy) = all.fold((f32::MAX, f32::MIN, f32::MAX, f32::MIN), |(a, b, c, d), (x, y)| (a.min(x), b.max(x), c.min(y), d.max(y)));
            let sx = move |x: f32| 12.0 + (x - minx) / (maxx - minx).max(1e-6) * (W - 24.0);
            let sy = move |y: f32| 12.0 + (y - miny) / (maxy - miny).max(1e-6) * (H - 24.0);
            let langs: BTreeSet<String> = panels.iter().flat_map(|p| p.points.iter().map(|q| q.2.clone())).collect();
            let legend = langs.into_iter().map(|l| view! {
                <span class="legend-item"><span class="swatch" style=format!("background:{}", lang_color(&l))></span>{l}</span>
            }).collect_view();
            let figures = panels.into_iter().map(|p| {
                let mut lines = Vec::new();
                for (i, a) in p.points.iter().enumerate() {
                    for b in &p.points[i + 1..] {
                        if a.3 == b.3 {
                            lines.push((sx(a.0), sy(a.1), sx(b.0), sy(b.1)));
                        }
                    }
                }
                view! {
                    <figure class="pca" data-model=p.model>
                        <figcaption>{p.model}" model"</figcaption>
                        <svg role="img" aria-label=format!("map of the pool under the {} model", p.model) viewBox=format!("0 0 {W} {H}") width=W>
                            <rect x="0" y="0" width=W height=H fill="none" stroke="#ccc"></rect>
                            {lines.into_iter().map(|(x1, y1, x2, y2)| view! { <line x1=x1 y1=y1 x2=x2 y2=y2 stroke="#bbb" /> }).collect_view()}
                            {p.points.iter().map(|(x, y, l, g)| view! { <circle cx=sx(*x) cy=sy(*y) r="4.5" fill=lang_color(l)><title>{format!("topic {g}, {l}")}</title></circle> }).collect_view()}
                            {p.query.map(|(x, y)| view! { <text x=sx(x) y=sy(y) + 6.0 font-size="18" text-anchor="middle" fill="#111">"★"<title>"your query"</title></text> })}
                        </svg>
                    </figure>
                }
            }).collect_view();
            view! {
                <div class="legend" aria-label="languages">{legend}<span class="legend-item">"★ query"</span></div>
                <div class="map-row">{figures}</div>
            }.into_any()
        }}
    }
}

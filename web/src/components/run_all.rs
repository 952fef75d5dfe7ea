//! Every query of the pool, per query language and model: a table, a labelled chart and the
//! evaluator's exports (`langbias_eval::report`).

use leptos::prelude::*;

use super::fmt_opt;
use crate::app_state::use_app;
use crate::browser::download;
use crate::workflows;

/// Bar colours of the base, aligned and centred models (≥ 4.5:1 against white).
const COLOURS: [&str; 3] = ["#6b6b6b", "#1e7a3c", "#6a3d9a"];

#[component]
pub fn RunAllPanel() -> impl IntoView {
    let app = use_app();
    let export_csv = move |_| {
        let r = app.run_all.get_untracked();
        let mut csv = String::new();
        for (i, report) in r.reports.iter().enumerate() {
            let text = report.to_csv();
            // One header for all models.
            let body = if i == 0 {
                text.as_str()
            } else {
                text.split_once('\n').map_or("", |(_, b)| b)
            };
            csv.push_str(body);
        }
        download("langbias-results.csv", "text/csv", &csv);
    };
    let export_json = move |_| {
        let r = app.run_all.get_untracked();
        let json = serde_json::to_string_pretty(&r.reports).unwrap_or_default();
        download("langbias-results.json", "application/json", &json);
    };
    let has_rows = move || !app.run_all.get().rows.is_empty();
    view! {
        <p class="muted small">"Ranks every question of the current pool with each model and with the third column's method (language centring or per-language z-scores, on the model it uses), one query language at a time (the pool languages but English), and averages the metrics."</p>
        <div class="buttons">
            <button id="run-all" on:click=move |_| workflows::run_all(app)>"Run all queries"</button>
            <button on:click=move |_| app.cancel.set(true)>"Cancel"</button>
            <button on:click=export_csv prop:disabled=move || !has_rows()>"Export CSV"</button>
            <button on:click=export_json prop:disabled=move || !has_rows()>"Export JSON"</button>
        </div>
        {move || {
            let r = app.run_all.get();
            if r.rows.is_empty() {
                return view! { <p class="muted">"No results yet."</p> }.into_any();
            }
            // Models with at least one result, in column order (base, aligned, centred).
            let shown: Vec<usize> = (0..3).filter(|&i| r.rows.iter().any(|(_, s)| s[i].is_some())).collect();
            let names = r.names.clone();
            let head = |metric: &str| shown.iter().map(|&i| view! { <th scope="col">{format!("{metric} {}", names[i])}</th> }).collect_view();
            let rows = r.rows.iter().map(|(l, s)| {
                let cells = |f: &dyn Fn(&langbias_eval::Summary) -> Option<f64>, d: usize| shown.iter().map(|&i| view! { <td>{fmt_opt(s[i].as_ref().and_then(f), d)}</td> }).collect_view();
                view! {
                    <tr>
                        <th scope="row">{l.clone()}</th>
                        <td>{s[0].as_ref().map_or(0, |s| s.num_queries)}</td>
                        {cells(&|s| Some(s.max_rank.mean), 2)}
                        {cells(&|s| s.complete.get(&10).copied(), 3)}
                        {cells(&|s| s.ndcg.get(&10).copied(), 3)}
                    </tr>
                }
            }).collect_view();
            let max = r.rows.iter().flat_map(|(_, s)| s.iter()).flatten().map(|s| s.max_rank.mean).fold(1.0f64, f64::max);
            let left = 40.0;
            let width = 300.0;
            let step = 6 + 16 * shown.len();
            let bars = r.rows.iter().enumerate().map(|(row, (l, s))| {
                let y = 34 + row * step;
                let bars = shown.iter().enumerate().map(|(k, &i)| s[i].as_ref().map(|s| {
                    let w = s.max_rank.mean / max * width;
                    let (dy, name) = (k * 16, names[i].clone());
                    view! {
                        <rect x=left y=y + dy width=w height="14" fill=COLOURS[i]><title>{format!("{l}, {name}: Max@R mean {:.2}", s.max_rank.mean)}</title></rect>
                        <text x=left + w + 4.0 y=y + dy + 11 font-size="11">{format!("{:.1}", s.max_rank.mean)}</text>
                    }
                })).collect_view();
                view! {
                    <text x="0" y=y + 12 font-size="12">{l.clone()}</text>
                    {bars}
                }
            }).collect_view();
            let legend = shown.iter().enumerate().map(|(k, &i)| {
                let x = left + 120.0 * k as f64;
                view! { <rect x=x y="18" width="10" height="10" fill=COLOURS[i]></rect><text x=x + 14.0 y="27" font-size="11">{names[i].clone()}</text> }
            }).collect_view();
            let height = 44 + r.rows.len() * step;
            view! {
                <div class="table-wrap">
                    <table id="results">
                        <caption>"MIX L→{pool languages}: means over the pool's questions"</caption>
                        <thead>
                            <tr><th scope="col">"Query language"</th><th scope="col">"Queries"</th>
                                {head("Max@R")}{head("Complete@10")}{head("nDCG@10")}</tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
                <figure class="chart">
                    <svg role="img" aria-label="Max@R mean per query language and model" viewBox=format!("0 0 420 {height}") width="420">
                        <text x=left y="12" font-size="12">"Max@R mean (lower is better)"</text>
                        {legend}
                        {bars}
                        <line x1=left y1="32" x2=left y2=height - 8 stroke="#444"></line>
                        <line x1=left y1=height - 8 x2=left + width y2=height - 8 stroke="#444"></line>
                        <text x=left y=height as f64 + 4.0 font-size="10">"0"</text>
                        <text x=left + width y=height as f64 + 4.0 font-size="10" text-anchor="end">{format!("{max:.1}")}</text>
                    </svg>
                </figure>
                <details><summary>"as text (the evaluator's table)"</summary><pre id="table">{r.table.clone()}</pre></details>
            }.into_any()
        }}
    }
}

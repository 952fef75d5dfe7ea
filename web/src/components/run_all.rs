//! Every query of the pool, per query language and model: a table, a labelled chart and the
//! evaluator's exports (`langbias_eval::report`).

use leptos::prelude::*;

use super::fmt_opt;
use crate::app_state::use_app;
use crate::browser::download;
use crate::workflows;

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
        <p class="muted small">"Ranks every question of the current pool with each model, one query language at a time (the pool languages but English), and averages the metrics."</p>
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
            let rows = r.rows.iter().map(|(l, b, a)| {
                let cell = |s: &Option<langbias_eval::Summary>, f: &dyn Fn(&langbias_eval::Summary) -> Option<f64>, d: usize| fmt_opt(s.as_ref().and_then(f), d);
                view! {
                    <tr>
                        <th scope="row">{l.clone()}</th>
                        <td>{b.as_ref().map_or(0, |s| s.num_queries)}</td>
                        <td>{cell(b, &|s| Some(s.max_rank.mean), 2)}</td>
                        <td>{cell(a, &|s| Some(s.max_rank.mean), 2)}</td>
                        <td>{cell(b, &|s| s.complete.get(&10).copied(), 3)}</td>
                        <td>{cell(a, &|s| s.complete.get(&10).copied(), 3)}</td>
                        <td>{cell(b, &|s| s.ndcg.get(&10).copied(), 3)}</td>
                        <td>{cell(a, &|s| s.ndcg.get(&10).copied(), 3)}</td>
                    </tr>
                }
            }).collect_view();
            let max = r.rows.iter().flat_map(|(_, b, a)| [b, a]).flatten().map(|s| s.max_rank.mean).fold(1.0f64, f64::max);
            let left = 40.0;
            let width = 300.0;
            let bars = r.rows.iter().enumerate().map(|(i, (l, b, a))| {
                let y = 34 + i * 40;
                let bar = |s: &Option<langbias_eval::Summary>, dy: usize, fill: &'static str, name: &'static str| s.as_ref().map(|s| {
                    let w = s.max_rank.mean / max * width;
                    view! {
                        <rect x=left y=y + dy width=w height="14" fill=fill><title>{format!("{l}, {name}: Max@R mean {:.2}", s.max_rank.mean)}</title></rect>
                        <text x=left + w + 4.0 y=y + dy + 11 font-size="11">{format!("{:.1}", s.max_rank.mean)}</text>
                    }
                });
                view! {
                    <text x="0" y=y + 18 font-size="12">{l.clone()}</text>
                    {bar(b, 0, "#6b6b6b", "base")}
                    {bar(a, 16, "#1e7a3c", "aligned")}
                }
            }).collect_view();
            let height = 44 + r.rows.len() * 40;
            view! {
                <div class="table-wrap">
                    <table id="results">
                        <caption>"MIX L→{pool languages}: means over the pool's questions"</caption>
                        <thead>
                            <tr><th scope="col">"Query language"</th><th scope="col">"Queries"</th>
                                <th scope="col" title="lower is better">"Max@R base"</th><th scope="col">"Max@R aligned"</th>
                                <th scope="col">"Complete@10 base"</th><th scope="col">"Complete@10 aligned"</th>
                                <th scope="col">"nDCG@10 base"</th><th scope="col">"nDCG@10 aligned"</th></tr>
                        </thead>
                        <tbody>{rows}</tbody>
                    </table>
                </div>
                <figure class="chart">
                    <svg role="img" aria-label="Max@R mean per query language, base and aligned" viewBox=format!("0 0 420 {height}") width="420">
                        <text x=left y="12" font-size="12">"Max@R mean (lower is better)"</text>
                        <rect x=left y="18" width="10" height="10" fill="#6b6b6b"></rect><text x=left + 14.0 y="27" font-size="11">"base"</text>
                        <rect x=left + 60.0 y="18" width="10" height="10" fill="#1e7a3c"></rect><text x=left + 74.0 y="27" font-size="11">"aligned"</text>
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

//! Writers: TREC run and qrels files, an MTEB-like JSON report, CSV, and a plain-text
//! paper-style table (optionally comparing two models).
//!
//! All writers return `String`s; writing them to disk is the caller's business.
//! TREC formats are whitespace-separated, so ids and tags must not contain whitespace.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use serde::{Deserialize, Serialize};

use crate::metrics::{Evaluation, Exclusion, Qrels, QueryMetrics, Summary, top_k};
use crate::scenario::Scenario;

/// The `format` value of [`Report`].
pub const REPORT_FORMAT: &str = "langbias-report/1";

/// Appends TREC run lines `qid Q0 docid rank score tag` for one query: the best
/// `depth` documents (all if `depth ≥ n`), ranked with the trec_eval tie rule, rank
/// 1-based, score printed as the shortest decimal that round-trips the `f32`
/// (so re-reading the file reproduces the same order and ties).
///
/// # Panics
/// If `scores` and `doc_ids` differ in length.
pub fn write_trec_run<S: AsRef<str>>(
    out: &mut String,
    query_id: &str,
    doc_ids: &[S],
    scores: &[f32],
    depth: usize,
    tag: &str,
) {
    for (r, &d) in top_k(scores, doc_ids, depth).iter().enumerate() {
        let _ = writeln!(
            out,
            "{query_id} Q0 {} {} {} {tag}",
            doc_ids[d].as_ref(),
            r + 1,
            scores[d]
        );
    }
}

/// TREC run file for many `(query id, scores)` pairs over one document list.
pub fn trec_run<S, I, Q, F>(doc_ids: &[S], runs: I, depth: usize, tag: &str) -> String
where
    S: AsRef<str>,
    I: IntoIterator<Item = (Q, F)>,
    Q: AsRef<str>,
    F: AsRef<[f32]>,
{
    let mut out = String::new();
    for (q, s) in runs {
        write_trec_run(&mut out, q.as_ref(), doc_ids, s.as_ref(), depth, tag);
    }
    out
}

/// TREC qrels file: `qid 0 docid rel` per judgement, sorted by query id then doc id.
pub fn trec_qrels(qrels: &Qrels) -> String {
    let mut out = String::new();
    for (q, rels) in qrels.iter() {
        for (d, r) in rels {
            let _ = writeln!(out, "{q} 0 {d} {r}");
        }
    }
    out
}

/// One line about `excluded` queries, grouped by reason with up to three example ids each,
/// e.g. `3 queries excluded: 2 × no relevant document in the scenario's languages ("q1",
/// "q2"); 1 × no document of the pool has its group ("q9")`. `None` when there are none.
pub fn exclusion_summary(excluded: &[Exclusion]) -> Option<String> {
    if excluded.is_empty() {
        return None;
    }
    let mut by_reason: Vec<(crate::ExclusionReason, Vec<&str>)> = Vec::new();
    for e in excluded {
        match by_reason.iter_mut().find(|(r, _)| *r == e.reason) {
            Some((_, ids)) => ids.push(&e.query_id),
            None => by_reason.push((e.reason, vec![&e.query_id])),
        }
    }
    let parts: Vec<String> = by_reason
        .iter()
        .map(|(reason, ids)| {
            let shown: Vec<String> = ids.iter().take(3).map(|id| format!("{id:?}")).collect();
            let more = if ids.len() > 3 { ", …" } else { "" };
            format!("{} × {reason} ({}{more})", ids.len(), shown.join(", "))
        })
        .collect();
    let n = excluded.len();
    let s = if n == 1 { "query" } else { "queries" };
    Some(format!("{n} {s} excluded: {}", parts.join("; ")))
}

/// One scenario result in the JSON report. Metrics are flattened next to `main_score`
/// (MTEB style: `ndcg_at_10`, `complete_at_10`, `max_at_r_mean`, …).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReportEntry {
    /// Scenario id, e.g. `mix.de`.
    pub scenario: String,
    /// Display name, e.g. `MIX de→{en,de}`.
    pub name: String,
    /// Scenario kind (`mono`, `xl`, `mix`, `mix-en`, `multi`, `unpaired`).
    pub kind: String,
    /// Target language `L`.
    pub language: String,
    /// Query language.
    pub query_language: String,
    /// Document languages.
    pub doc_languages: Vec<String>,
    /// nDCG@10 (`null` if 10 is not among the nDCG cutoffs).
    pub main_score: Option<f64>,
    /// All aggregate metrics of [`Summary::metric_values`].
    #[serde(flatten)]
    pub metrics: BTreeMap<String, f64>,
    /// Queries left out of the means, with the reason (`num_excluded` of them).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub excluded_queries: Vec<Exclusion>,
    /// Per-query rows, if requested.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_query: Option<Vec<QueryMetrics>>,
}

impl ReportEntry {
    /// Builds an entry from a scenario and its evaluation.
    pub fn new(scenario: &Scenario, eval: &Evaluation, include_per_query: bool) -> Self {
        Self {
            scenario: scenario.id(),
            name: scenario.to_string(),
            kind: scenario.kind().to_owned(),
            language: scenario.target().to_owned(),
            query_language: scenario.query_language().to_owned(),
            doc_languages: scenario
                .doc_languages()
                .into_iter()
                .map(str::to_owned)
                .collect(),
            main_score: eval.summary.ndcg.get(&10).copied(),
            metrics: eval.summary.metric_values().into_iter().collect(),
            excluded_queries: eval.excluded.clone(),
            per_query: include_per_query.then(|| eval.queries.clone()),
        }
    }
}

/// A JSON report: one entry per scenario/language.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    /// Always [`REPORT_FORMAT`].
    pub format: String,
    /// Model name.
    pub model: String,
    /// Dataset / pool name.
    pub dataset: String,
    /// One entry per scenario.
    pub scores: Vec<ReportEntry>,
}

impl Report {
    /// An empty report.
    pub fn new(model: impl Into<String>, dataset: impl Into<String>) -> Self {
        Self {
            format: REPORT_FORMAT.to_owned(),
            model: model.into(),
            dataset: dataset.into(),
            scores: Vec::new(),
        }
    }

    /// Adds a scenario result.
    pub fn push(&mut self, scenario: &Scenario, eval: &Evaluation, include_per_query: bool) {
        self.scores
            .push(ReportEntry::new(scenario, eval, include_per_query));
    }

    /// Pretty JSON. Non-finite numbers (never produced by the metrics) become `null`.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("report serialization cannot fail")
    }

    /// Parses a report written by [`Report::to_json_pretty`].
    pub fn from_json(json: &str) -> Result<Self, serde_json::Error> {
        serde_json::from_str(json)
    }

    /// CSV with one row per entry: `model,dataset,scenario,name,language,query_language,
    /// doc_languages,main_score,<metrics…>,excluded_queries` (metric columns are the union
    /// over entries, in a fixed order; missing values are empty; `excluded_queries` lists
    /// `id (reason)` separated by `; `).
    pub fn to_csv(&self) -> String {
        let names: BTreeSet<&String> = self.scores.iter().flat_map(|e| e.metrics.keys()).collect();
        let mut names: Vec<&String> = names.into_iter().collect();
        names.sort_by_key(|n| metric_order(n));
        let mut out = String::new();
        let mut header: Vec<String> = [
            "model",
            "dataset",
            "scenario",
            "name",
            "language",
            "query_language",
            "doc_languages",
            "main_score",
        ]
        .map(str::to_owned)
        .to_vec();
        header.extend(names.iter().map(|n| (*n).clone()));
        header.push("excluded_queries".to_owned());
        push_csv_row(&mut out, &header);
        for e in &self.scores {
            let mut row = vec![
                self.model.clone(),
                self.dataset.clone(),
                e.scenario.clone(),
                e.name.clone(),
                e.language.clone(),
                e.query_language.clone(),
                e.doc_languages.join(" "),
                e.main_score.map(fmt_num).unwrap_or_default(),
            ];
            row.extend(
                names
                    .iter()
                    .map(|n| e.metrics.get(*n).copied().map(fmt_num).unwrap_or_default()),
            );
            let excluded: Vec<String> = e
                .excluded_queries
                .iter()
                .map(|x| format!("{} ({})", x.query_id, x.reason.code()))
                .collect();
            row.push(excluded.join("; "));
            push_csv_row(&mut out, &row);
        }
        out
    }
}

/// Sort key putting metrics in a readable order: counts, Max@R, min rank, Complete,
/// nDCG, MRR, Recall, mAP, bias, language preference; numeric cutoffs ascending.
fn metric_order(name: &str) -> (usize, usize, String) {
    const PREFIXES: [&str; 14] = [
        "num_",
        "max_at_r",
        "min_rank",
        "complete_at_",
        "ndcg_at_",
        "mrr_at_",
        "mrr",
        "recall_at_",
        "map",
        "english_above",
        "native_above",
        "lang_pref",
        "own_lang_share",
        "",
    ];
    let group = PREFIXES
        .iter()
        .position(|p| name.starts_with(p))
        .unwrap_or(PREFIXES.len());
    let k = name
        .rsplit('_')
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    (group, k, name.to_owned())
}

fn fmt_num(x: f64) -> String {
    format!("{x}")
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn push_csv_row(out: &mut String, fields: &[String]) {
    let row: Vec<String> = fields.iter().map(|f| csv_field(f)).collect();
    out.push_str(&row.join(","));
    out.push('\n');
}

/// Per-query CSV: `query_id,num_docs,num_relevant,missing_relevant,max_rank,min_rank,
/// complete@K…,ndcg@k…,mrr@k…,mrr,recall@k…,ap,english_above,native_above,lang_pref@k`
/// (Complete as 0/1; undefined bias counts and language preferences are empty; `k` is
/// the first defined row's cutoff, `lang_pref` without one).
pub fn per_query_csv(eval: &Evaluation) -> String {
    let mut out = String::new();
    let Some(first) = eval.queries.first() else {
        return out;
    };
    let mut header: Vec<String> = [
        "query_id",
        "num_docs",
        "num_relevant",
        "missing_relevant",
        "max_rank",
        "min_rank",
    ]
    .map(str::to_owned)
    .to_vec();
    header.extend(first.complete.keys().map(|k| format!("complete@{k}")));
    header.extend(first.ndcg.keys().map(|k| format!("ndcg@{k}")));
    header.extend(first.mrr_at.keys().map(|k| format!("mrr@{k}")));
    header.push("mrr".to_owned());
    header.extend(first.recall.keys().map(|k| format!("recall@{k}")));
    header.push("ap".to_owned());
    header.push("english_above".to_owned());
    header.push("native_above".to_owned());
    header.push(match eval.queries.iter().find_map(|q| q.lang_pref) {
        Some(p) => format!("lang_pref@{}", p.at),
        None => "lang_pref".to_owned(),
    });
    push_csv_row(&mut out, &header);
    let opt = |x: Option<usize>| x.map(|v| v.to_string()).unwrap_or_default();
    for q in &eval.queries {
        let mut row = vec![
            q.query_id.clone(),
            q.num_docs.to_string(),
            q.num_relevant.to_string(),
            q.missing_relevant.to_string(),
            q.max_rank.to_string(),
            q.min_rank.to_string(),
        ];
        row.extend(q.complete.values().map(|&c| u8::from(c).to_string()));
        row.extend(q.ndcg.values().map(|&v| fmt_num(v)));
        row.extend(q.mrr_at.values().map(|&v| fmt_num(v)));
        row.push(fmt_num(q.mrr));
        row.extend(q.recall.values().map(|&v| fmt_num(v)));
        row.push(fmt_num(q.ap));
        row.push(opt(q.english_above));
        row.push(opt(q.native_above));
        row.push(q.lang_pref.map(|p| fmt_num(p.value())).unwrap_or_default());
        push_csv_row(&mut out, &row);
    }
    out
}

/// One model's rows for [`paper_table`]: `(language, summary)` pairs.
#[derive(Debug, Clone, Copy)]
pub struct TableModel<'a> {
    /// Model name shown in the header.
    pub name: &'a str,
    /// `(row label, summary)`, normally one row per target language.
    pub rows: &'a [(String, Summary)],
}

/// The paper's columns: label, extractor, decimals, and whether a comparison shows the
/// relative change (`Δ%`) or, for values around 0, the difference (`Δ`).
type Column = (&'static str, fn(&Summary) -> Option<f64>, usize, bool);

const COLUMNS: [Column; 9] = [
    ("Max@R mean", |s| Some(s.max_rank.mean), 2, true),
    ("Max@R med", |s| Some(s.max_rank.median), 1, true),
    ("Complete@10", |s| s.complete.get(&10).copied(), 3, true),
    ("nDCG@1", |s| s.ndcg.get(&1).copied(), 3, true),
    ("nDCG@10", |s| s.ndcg.get(&10).copied(), 3, true),
    ("mAP", |s| Some(s.map), 3, true),
    ("EN-above", |s| s.english_above.map(|b| b.rate), 3, true),
    ("native-above", |s| s.native_above.map(|b| b.rate), 3, true),
    (LANG_PREF, |s| s.lang_pref.map(|p| p.mean), 3, false),
];

/// Label of the language-preference column (`@k` is appended from the rows).
const LANG_PREF: &str = "LangPref";

/// Plain-text paper-style table. Rows = languages (plus an `avg` row when there are at
/// least two: the mean over the languages present in both models, or in `a` alone
/// without a comparison); columns = Max@R mean / median,
/// Complete@10, nDCG@1, nDCG@10, mAP, English-above rate, native-above rate and the
/// language preference `LangPref@k` (`k` of the first row that has one).
///
/// With `compare`, every column shows `A`, `B` and the relative change
/// `Δ% = (B − A) / |A| · 100` (`n/a` when `A = 0`; note that for Max@R and the bias
/// rates a negative change is an improvement); the language preference, a signed value
/// around 0, shows the difference `Δ = B − A` instead. Rows of `compare` are matched by
/// label; missing values are shown as `-`.
///
/// Below the rows, a note line per kind lists the rows (per model) with excluded queries
/// and with relevant documents missing from the corpus (absent when there are none).
pub fn paper_table(title: &str, a: TableModel<'_>, compare: Option<TableModel<'_>>) -> String {
    let mut labels: Vec<String> = a.rows.iter().map(|r| r.0.clone()).collect();
    if let Some(b) = compare {
        for (l, _) in b.rows {
            if !labels.contains(l) {
                labels.push(l.clone());
            }
        }
    }
    // The `avg` row averages the languages present in both models (all of A's without
    // a comparison), so that A and B are averaged over the same languages.
    let avg_labels: Vec<&String> = a
        .rows
        .iter()
        .map(|r| &r.0)
        .filter(|l| compare.is_none_or(|b| b.rows.iter().any(|r| &r.0 == *l)))
        .collect();
    let lookup = |m: &TableModel<'_>, label: &str, col: usize| -> Option<f64> {
        m.rows
            .iter()
            .find(|r| r.0 == label)
            .and_then(|r| (COLUMNS[col].1)(&r.1))
    };
    let value = |m: &TableModel<'_>, label: &str, col: usize| -> Option<f64> {
        if label == "avg" {
            let vals: Vec<f64> = avg_labels
                .iter()
                .filter_map(|l| lookup(m, l, col))
                .collect();
            return (!vals.is_empty()).then(|| vals.iter().sum::<f64>() / vals.len() as f64);
        }
        lookup(m, label, col)
    };
    if labels.len() >= 2 && !labels.iter().any(|l| l == "avg") {
        labels.push("avg".to_owned());
    }
    let fmt = |v: Option<f64>, col: usize| match v {
        Some(x) => format!("{x:.*}", COLUMNS[col].2),
        None => "-".to_owned(),
    };

    let pref_at = [Some(a), compare]
        .into_iter()
        .flatten()
        .flat_map(|m| m.rows)
        .find_map(|r| r.1.lang_pref.map(|p| p.at));
    let mut header1 = vec!["".to_owned()];
    let mut header2 = vec!["lang".to_owned()];
    let mut spans = vec![1usize];
    for (name, _, _, relative) in COLUMNS {
        header1.push(match pref_at {
            Some(k) if name == LANG_PREF => format!("{name}@{k}"),
            _ => name.to_owned(),
        });
        match compare {
            Some(b) => {
                let delta = if relative { "Δ%" } else { "Δ" };
                header2.extend([a.name.to_owned(), b.name.to_owned(), delta.to_owned()]);
                spans.push(3);
            }
            None => spans.push(1),
        }
    }
    let mut body: Vec<Vec<String>> = Vec::new();
    for label in &labels {
        let mut row = vec![label.clone()];
        for (col, &(_, _, decimals, relative)) in COLUMNS.iter().enumerate() {
            let va = value(&a, label, col);
            row.push(fmt(va, col));
            if let Some(b) = compare {
                let vb = value(&b, label, col);
                row.push(fmt(vb, col));
                row.push(match (va, vb) {
                    (Some(x), Some(y)) if !relative => format!("{:+.*}", decimals, y - x),
                    (Some(x), Some(y)) if x != 0.0 => format!("{:+.1}%", (y - x) / x.abs() * 100.0),
                    (Some(_), Some(_)) => "n/a".to_owned(),
                    _ => "-".to_owned(),
                });
            }
        }
        body.push(row);
    }

    // Column widths over the sub-columns.
    let ncols = body.first().map_or(header2.len(), Vec::len);
    let sub_header: Vec<String> = if compare.is_some() {
        header2.clone()
    } else {
        header1
            .iter()
            .enumerate()
            .map(|(i, h)| if i == 0 { "lang".to_owned() } else { h.clone() })
            .collect()
    };
    let mut widths = vec![0usize; ncols];
    for row in body.iter().chain([&sub_header]) {
        for (i, c) in row.iter().enumerate() {
            widths[i] = widths[i].max(c.chars().count());
        }
    }
    // Widen groups so the metric name fits over its sub-columns.
    if compare.is_some() {
        let mut start = 1;
        for (g, name) in header1.iter().enumerate().skip(1) {
            let span = spans[g];
            let width: usize = widths[start..start + span].iter().sum::<usize>() + 2 * (span - 1);
            let need = name.chars().count();
            if need > width {
                widths[start + span - 1] += need - width;
            }
            start += span;
        }
    }

    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    if compare.is_some() {
        let _ = writeln!(
            out,
            "A = {}, B = {}",
            a.name,
            compare.map_or("", |b| b.name)
        );
        let mut line = pad_right("", widths[0]);
        let mut start = 1;
        for (g, name) in header1.iter().enumerate().skip(1) {
            let span = spans[g];
            let width: usize = widths[start..start + span].iter().sum::<usize>() + 2 * (span - 1);
            line.push_str("  ");
            line.push_str(&pad_left(name, width));
            start += span;
        }
        let _ = writeln!(out, "{}", line.trim_end());
    } else {
        let _ = writeln!(out, "model: {}", a.name);
    }
    let rule_len: usize = widths.iter().sum::<usize>() + 2 * (ncols - 1);
    let _ = writeln!(out, "{}", format_row(&sub_header, &widths));
    let _ = writeln!(out, "{}", "-".repeat(rule_len));
    for row in &body {
        let _ = writeln!(out, "{}", format_row(row, &widths));
    }
    for (what, count) in [
        (
            "excluded queries (no relevant document; listed in the report)",
            (|s: &Summary| s.num_excluded) as fn(&Summary) -> usize,
        ),
        (
            "relevant documents missing from the corpus (count as not retrieved)",
            |s: &Summary| s.num_missing_relevant,
        ),
    ] {
        let models: Vec<String> = [Some(a), compare]
            .into_iter()
            .flatten()
            .filter_map(|m| {
                let rows: Vec<String> = m
                    .rows
                    .iter()
                    .filter(|r| count(&r.1) > 0)
                    .map(|r| format!("{} {}", r.0, count(&r.1)))
                    .collect();
                (!rows.is_empty()).then(|| format!("{}: {}", m.name, rows.join(", ")))
            })
            .collect();
        if !models.is_empty() {
            let _ = writeln!(out, "{what}: {}", models.join("; "));
        }
    }
    out
}

/// A metric of [`models_table`]: label, extractor, decimals.
type TableMetric = (&'static str, fn(&Summary) -> Option<f64>, usize);

const MODEL_TABLE_METRICS: [TableMetric; 6] = [
    ("Max@R mean", |s| Some(s.max_rank.mean), 2),
    ("Complete@10", |s| s.complete.get(&10).copied(), 3),
    ("nDCG@1", |s| s.ndcg.get(&1).copied(), 3),
    ("nDCG@10", |s| s.ndcg.get(&10).copied(), 3),
    ("mAP", |s| Some(s.map), 3),
    ("native-above", |s| s.native_above.map(|b| b.rate), 3),
];

/// Any number of models side by side, as Markdown tables (one per metric: Max@R mean,
/// Complete@10, nDCG@1, nDCG@10, mAP, native-above; rows = languages, columns = models),
/// for comparing a model with its training-free baselines. The `avg` row is the mean
/// over the languages every model has; a metric no model has is left out, a missing
/// value is `-`.
pub fn models_table(title: &str, models: &[TableModel<'_>]) -> String {
    let mut labels: Vec<&str> = Vec::new();
    for m in models {
        for (l, _) in m.rows {
            if !labels.contains(&l.as_str()) {
                labels.push(l);
            }
        }
    }
    let common: Vec<&str> = labels
        .iter()
        .copied()
        .filter(|l| models.iter().all(|m| m.rows.iter().any(|r| r.0 == *l)))
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "{title}\n");
    for (metric, get, decimals) in MODEL_TABLE_METRICS {
        let value = |m: &TableModel<'_>, label: &str| -> Option<f64> {
            let one = |l: &str| m.rows.iter().find(|r| r.0 == l).and_then(|r| get(&r.1));
            if label != "avg" {
                return one(label);
            }
            let vals: Vec<f64> = common.iter().filter_map(|l| one(l)).collect();
            (!vals.is_empty() && vals.len() == common.len())
                .then(|| vals.iter().sum::<f64>() / vals.len() as f64)
        };
        let mut rows: Vec<&str> = labels.clone();
        if common.len() >= 2 {
            rows.push("avg");
        }
        if !rows
            .iter()
            .any(|l| models.iter().any(|m| value(m, l).is_some()))
        {
            continue;
        }
        let _ = write!(out, "| {metric} |");
        for m in models {
            let _ = write!(out, " {} |", m.name);
        }
        let _ = write!(out, "\n|---|");
        out.push_str(&"---:|".repeat(models.len()));
        out.push('\n');
        for label in rows {
            let _ = write!(out, "| {label} |");
            for m in models {
                match value(m, label) {
                    Some(v) => {
                        let _ = write!(out, " {v:.decimals$} |");
                    }
                    None => out.push_str(" - |"),
                }
            }
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

fn pad_left(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{}{s}", " ".repeat(width.saturating_sub(n)))
}

fn pad_right(s: &str, width: usize) -> String {
    let n = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(n)))
}

fn format_row(cells: &[String], widths: &[usize]) -> String {
    let mut line = String::new();
    for (i, c) in cells.iter().enumerate() {
        if i == 0 {
            line.push_str(&pad_right(c, widths[0]));
        } else {
            line.push_str("  ");
            line.push_str(&pad_left(c, widths[i]));
        }
    }
    line.trim_end().to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::{Evaluator, LanguageSpec, MetricsConfig};

    fn evaluation() -> (Scenario, Evaluation) {
        let ids = ["a.en", "a.de", "b.en", "b.de"];
        let langs = ["en", "de", "en", "de"];
        let ev = Evaluator::new(&ids, MetricsConfig::default())
            .unwrap()
            .with_languages(&langs, LanguageSpec::english_vs("de"))
            .unwrap();
        let mut qrels = Qrels::new();
        qrels.insert("qa", "a.en", 1);
        qrels.insert("qa", "a.de", 1);
        qrels.insert("qb", "b.en", 1);
        qrels.insert("qb", "b.de", 1);
        let runs = [
            ("qa", vec![0.5, 0.25, 1.0, 0.0]),
            ("qb", vec![0.0, 0.0, 1.0, 0.75]),
            ("qx", vec![0.0; 4]),
        ];
        let eval = ev.evaluate(runs, &qrels).unwrap();
        (Scenario::Mix { lang: "de".into() }, eval)
    }

    #[test]
    fn exclusion_summary_groups_by_reason() {
        use crate::ExclusionReason::{NoGroupDocument, NoRelevantInScenario};
        assert_eq!(exclusion_summary(&[]), None);
        let ex: Vec<Exclusion> = ["a", "b", "c", "d"]
            .iter()
            .map(|id| Exclusion::new(*id, NoRelevantInScenario))
            .chain([Exclusion::new("z", NoGroupDocument)])
            .collect();
        assert_eq!(
            exclusion_summary(&ex).unwrap(),
            "5 queries excluded: 4 × no relevant document in the scenario's languages \
             (\"a\", \"b\", \"c\", …); 1 × no document of the pool has its group (\"z\")"
        );
    }

    #[test]
    fn trec_run_and_qrels_lines() {
        let ids = ["d1", "d2", "d3"];
        let run = trec_run(&ids, [("q1", [0.5f32, 0.5, 0.25])], 2, "sys");
        assert_eq!(run, "q1 Q0 d2 1 0.5 sys\nq1 Q0 d1 2 0.5 sys\n");
        let mut qrels = Qrels::new();
        qrels.insert("q2", "d1", 2);
        qrels.insert("q1", "d3", 1);
        qrels.insert("q1", "d1", 0);
        assert_eq!(trec_qrels(&qrels), "q1 0 d1 0\nq1 0 d3 1\nq2 0 d1 2\n");
    }

    #[test]
    fn json_report_is_mteb_like() {
        let (scenario, eval) = evaluation();
        let mut report = Report::new("model-x", "toy");
        report.push(&scenario, &eval, true);
        let json = report.to_json_pretty();
        let v: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(v["format"], REPORT_FORMAT);
        let e = &v["scores"][0];
        assert_eq!(e["scenario"], "mix.de");
        assert_eq!(e["name"], "MIX de→{en,de}");
        assert_eq!(e["main_score"], e["ndcg_at_10"]);
        assert_eq!(e["num_queries"], 2.0);
        assert_eq!(e["num_excluded"], 1.0);
        assert_eq!(e["excluded_queries"][0]["query_id"], "qx");
        assert_eq!(e["excluded_queries"][0]["reason"], "no_positive_judgement");
        // qa: b.en a.en a.de b.de → Max@R 3; qb: b.en b.de a.en a.de → Max@R 2.
        assert_eq!(e["max_at_r_mean"], 2.5);
        // AP: qa (1/2 + 2/3)/2, qb 1; the 4-document pool is inside the top 10.
        assert!((e["map"].as_f64().unwrap() - (7.0 / 12.0 + 1.0) / 2.0).abs() < 1e-12);
        assert_eq!(e["lang_pref_at_10"], 0.0);
        assert_eq!(e["own_lang_share_at_10"], 0.5);
        assert_eq!(e["lang_pref_queries"], 2.0);
        assert_eq!(e["per_query"].as_array().unwrap().len(), 2);
        assert_eq!(Report::from_json(&json).unwrap(), report);
    }

    #[test]
    fn csv_quotes_and_orders() {
        let (scenario, eval) = evaluation();
        let mut report = Report::new("m", "toy");
        report.push(&scenario, &eval, false);
        let csv = report.to_csv();
        let lines: Vec<&str> = csv.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with(
            "model,dataset,scenario,name,language,query_language,doc_languages,main_score,num_excluded,num_missing_relevant,num_queries,max_at_r_mean"
        ), "{}", lines[0]);
        assert!(
            lines[1].starts_with("m,toy,mix.de,\"MIX de→{en,de}\",de,de,en de,"),
            "{}",
            lines[1]
        );
        let header: Vec<&str> = lines[0].split(',').collect();
        let pos = |n: &str| header.iter().position(|h| *h == n).unwrap();
        assert!(pos("complete_at_5") < pos("complete_at_10"));
        assert!(pos("ndcg_at_10") < pos("mrr_at_10"));

        let per_query = per_query_csv(&eval);
        let lines: Vec<&str> = per_query.lines().collect();
        assert_eq!(lines.len(), 3);
        assert!(lines[0].starts_with(
            "query_id,num_docs,num_relevant,missing_relevant,max_rank,min_rank,complete@1"
        ));
        assert!(lines[1].starts_with("qa,4,2,0,3,2,0,1,1,"), "{}", lines[1]);
        assert!(lines[0].ends_with(",ap,english_above,native_above,lang_pref@10"));
        // qa: AP (1/2 + 2/3)/2; en-above = b.en above a.de → 1; native-above: nothing de
        // above a.en → 0; language preference 0 (k = 10 covers the 4-document pool).
        assert!(
            lines[1].ends_with(",0.5833333333333333,1,0,0"),
            "{}",
            lines[1]
        );
    }

    #[test]
    fn models_table_puts_models_side_by_side() {
        let (_, eval) = evaluation();
        let mut other = eval.summary.clone();
        other.max_rank.mean = 4.5;
        let a = vec![
            ("de".to_owned(), eval.summary.clone()),
            ("zh".to_owned(), other.clone()),
        ];
        let b = vec![("de".to_owned(), other)];
        let table = models_table(
            "MIX",
            &[
                TableModel {
                    name: "base",
                    rows: &a,
                },
                TableModel {
                    name: "base+centre",
                    rows: &b,
                },
            ],
        );
        // Max@R mean of the fixture is 2.5; zh only in the first model: `-` for the second;
        // no `avg` row with a single common language.
        assert!(table.starts_with("MIX\n\n| Max@R mean | base | base+centre |\n|---|---:|---:|\n| de | 2.50 | 4.50 |\n| zh | 4.50 | - |\n\n"), "{table}");
        assert!(!table.contains("| avg |"), "{table}");
        let two = vec![
            ("de".to_owned(), eval.summary.clone()),
            ("zh".to_owned(), eval.summary.clone()),
        ];
        let table = models_table(
            "t",
            &[TableModel {
                name: "m",
                rows: &two,
            }],
        );
        assert!(table.contains("| avg | 2.50 |"), "{table}");
        assert!(table.contains("| nDCG@1 | m |"), "{table}");
    }

    #[test]
    fn paper_table_single_and_compare() {
        let (_, eval) = evaluation();
        let rows_a = vec![("de".to_owned(), eval.summary.clone())];
        let table = paper_table(
            "MIX L→{en,L}",
            TableModel {
                name: "base",
                rows: &rows_a,
            },
            None,
        );
        let lines: Vec<&str> = table.lines().collect();
        assert_eq!(lines[0], "MIX L→{en,L}");
        assert!(
            lines[2].starts_with("lang  Max@R mean  Max@R med  Complete@10"),
            "{table}"
        );
        assert!(lines[4].starts_with("de"), "{table}");
        assert!(lines[4].contains("2.50"), "{table}");

        let mut better = eval.summary.clone();
        better.max_rank.mean = 2.0;
        let rows_b = vec![("de".to_owned(), better)];
        let table = paper_table(
            "MIX",
            TableModel {
                name: "base",
                rows: &rows_a,
            },
            Some(TableModel {
                name: "aligned",
                rows: &rows_b,
            }),
        );
        assert!(table.contains("-20.0%"), "{table}");
        assert!(table.contains("+0.0%"), "{table}");
        assert!(table.contains("aligned"), "{table}");
        // A second language only in A: avg averages the shared language (de) only.
        let mut worse = eval.summary.clone();
        worse.max_rank.mean = 10.0;
        let rows_a2 = vec![rows_a[0].clone(), ("zh".to_owned(), worse)];
        let table2 = paper_table(
            "MIX",
            TableModel {
                name: "base",
                rows: &rows_a2,
            },
            Some(TableModel {
                name: "aligned",
                rows: &rows_b,
            }),
        );
        let line =
            |t: &str, start: &str| t.lines().find(|l| l.starts_with(start)).unwrap().to_owned();
        let avg = line(&table2, "avg");
        let cells = |l: &str| l.split_whitespace().take(4).collect::<Vec<_>>().join(" ");
        assert_eq!(cells(&avg), "avg 2.50 2.00 -20.0%", "{table2}");
        // The exclusions (the fixture excludes "qx") are noted below the rows.
        assert_eq!(
            table2.lines().last().unwrap(),
            "excluded queries (no relevant document; listed in the report): \
             base: de 1, zh 1; aligned: de 1"
        );
        assert!(!table2.contains("missing from the corpus"), "{table2}");
        let zh = table2.lines().find(|l| l.starts_with("zh")).unwrap();
        assert_eq!(cells(zh), "zh 10.00 - -", "{table2}");
        // Without a comparison avg covers both languages: (2.5 + 10) / 2.
        let single = paper_table(
            "MIX",
            TableModel {
                name: "base",
                rows: &rows_a2,
            },
            None,
        );
        assert_eq!(
            cells(&line(&single, "avg")),
            "avg 6.25 2.5 1.000",
            "{single}"
        );
        // Every body line has 1 + 9·3 cells; the language preference shows a difference.
        let row = line(&table, "de");
        assert_eq!(row.split_whitespace().count(), 28, "{table}");
        assert!(row.ends_with("0.000    0.000  +0.000"), "{table}");
        assert!(table.contains("LangPref@10"), "{table}");
    }
}

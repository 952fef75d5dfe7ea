//! Agreement with pytrec_eval (trec_eval) on committed fixtures.
//!
//! `tests/fixtures/metrics/pytrec_eval.json` is produced by `scripts/metrics_reference.py`
//! (pytrec-eval-terrier 0.5.11) from `run.json` and `qrels.json` in the same folder:
//! nDCG@1/@10, MRR, Recall@5/@10 and average precision (`map`, also on a LaReQA-style
//! four-language query).

use std::collections::BTreeMap;
use std::path::PathBuf;

use langbias_eval::metrics::{Gain, MetricsConfig, evaluate_query, rank};

/// The package directory: `cargo test` sets it at run time, which stays right when a test
/// binary built from another checkout is reused from a shared target directory.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

fn fixtures() -> PathBuf {
    PathBuf::from(manifest_dir()).join("../../tests/fixtures/metrics")
}

fn read_json<T: serde::de::DeserializeOwned>(name: &str) -> T {
    let path = fixtures().join(name);
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&text).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

type Run = BTreeMap<String, BTreeMap<String, f64>>;
type QrelsMap = BTreeMap<String, BTreeMap<String, i32>>;

#[derive(serde::Deserialize)]
struct Reference {
    queries: BTreeMap<String, BTreeMap<String, f64>>,
}

#[test]
fn metrics_agree_with_pytrec_eval() {
    let run: Run = read_json("run.json");
    let qrels: QrelsMap = read_json("qrels.json");
    let reference: Reference = read_json("pytrec_eval.json");
    assert_eq!(
        reference.queries.keys().collect::<Vec<_>>(),
        run.keys().collect::<Vec<_>>(),
        "reference is stale: rerun scripts/metrics_reference.py"
    );
    assert!(run.len() >= 8);

    let config = MetricsConfig {
        complete_at: vec![10],
        ndcg_at: vec![1, 10],
        // trec_eval's recip_rank has no cutoff: compare with a cutoff beyond the pool.
        mrr_at: vec![1_000_000],
        recall_at: vec![5, 10],
        gain: Gain::Graded,
        ..MetricsConfig::default()
    };
    let mut compared = 0;
    for (qid, docs) in &run {
        let ids: Vec<&str> = docs.keys().map(String::as_str).collect();
        let scores: Vec<f32> = docs.values().map(|&s| s as f32).collect();
        let m = evaluate_query(
            qid,
            &ids,
            &scores,
            &qrels[qid],
            &config,
            None::<(&[&str], _)>,
        )
        .unwrap()
        .unwrap_or_else(|| panic!("{qid} has relevant documents"));
        let ours = [
            ("ndcg_cut_1", m.ndcg[&1]),
            ("ndcg_cut_10", m.ndcg[&10]),
            ("recip_rank", m.mrr),
            ("recip_rank", m.mrr_at[&1_000_000]),
            ("recall_5", m.recall[&5]),
            ("recall_10", m.recall[&10]),
            ("map", m.ap),
        ];
        for (name, value) in ours {
            let expected = reference.queries[qid][name];
            assert!(
                (value - expected).abs() < 1e-6,
                "{qid} {name}: ours {value}, pytrec_eval {expected}"
            );
            compared += 1;
        }
    }
    assert_eq!(compared, run.len() * 7);
}

/// The fixtures really exercise the tie rule: breaking ties by (roughly) ascending id would
/// change the reference values of the tied queries.
#[test]
fn fixtures_depend_on_tie_rule() {
    let run: Run = read_json("run.json");
    let qrels: QrelsMap = read_json("qrels.json");
    let reference: Reference = read_json("pytrec_eval.json");
    let mut differing = 0;
    for (qid, docs) in &run {
        let ids: Vec<&str> = docs.keys().map(String::as_str).collect();
        let scores: Vec<f32> = docs.values().map(|&s| s as f32).collect();
        // Break ties the other way: complemented bytes reverse the order of any two ids
        // that are not prefixes of each other.
        let flipped: Vec<String> = ids
            .iter()
            .map(|id| id.bytes().map(|b| format!("{:02x}", 255 - b)).collect())
            .collect();
        let order = rank(&scores, &flipped);
        let first_rel = order
            .iter()
            .position(|&i| qrels[qid].get(ids[i]).is_some_and(|&r| r > 0))
            .map_or(0.0, |p| 1.0 / (p + 1) as f64);
        if (first_rel - reference.queries[qid]["recip_rank"]).abs() > 1e-9 {
            differing += 1;
        }
    }
    assert!(
        differing >= 3,
        "only {differing} queries depend on the tie rule"
    );
}

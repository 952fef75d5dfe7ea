//! Bounded mutation fuzzing of the readers (pool JSON, XQuAD, BEIR, the debiasing means and
//! Procrustes files): a fixed number of corrupted variants of a valid seed each; no input
//! may panic, and whatever a reader accepts must be sane (valid pool, consistent qrels,
//! finite metrics in range on every scenario; finite unit-length debiased embeddings).

use std::panic::{AssertUnwindSafe, catch_unwind};

use langbias_assets::test_util::Mutator;
use langbias_eval::{
    Debias, Evaluation, Fitted, LanguageMeans, MetricsConfig, Pool, ProcrustesMaps, Qrels, Rows,
    Scenario, ScenarioSet, beir, xquad::XquadLanguage, xquad::build_pool,
};

const CASES: usize = 3000;

/// Runs `check` on `CASES` mutations of `seed`; fails on a panic or an insane result,
/// naming the case; `check` returns whether the reader accepted the input.
fn fuzz(seed: &[u8], protect: usize, mut check: impl FnMut(&[u8]) -> Result<bool, String>) {
    let mut mutator = Mutator::new(0x01ab_5eed);
    let mut accepted = 0;
    for case in 0..CASES {
        let input = mutator.mutate(seed, protect);
        match catch_unwind(AssertUnwindSafe(|| check(&input))) {
            Ok(Ok(ok)) => accepted += usize::from(ok),
            Ok(Err(why)) => panic!(
                "case {case}: {why}\ninput: {}",
                String::from_utf8_lossy(&input)
            ),
            Err(_) => panic!(
                "case {case} panicked\ninput: {}",
                String::from_utf8_lossy(&input)
            ),
        }
    }
    // Neither vacuous nor trivial: some variants are accepted, most are not identical.
    assert!(accepted > 0, "no mutated input was accepted");
    assert!(accepted < CASES, "every mutated input was accepted");
}

fn ensure(cond: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if cond { Ok(()) } else { Err(what()) }
}

/// Deterministic scores in [-1, 1] for the documents of a set (with ties).
fn scores(set: &ScenarioSet, salt: usize) -> Vec<(String, Vec<f32>)> {
    set.query_ids
        .iter()
        .enumerate()
        .map(|(q, id)| {
            let s = (0..set.doc_ids.len())
                .map(|d| ((d * 7 + q * 3 + salt) % 5) as f32 / 2.0 - 1.0)
                .collect();
            (id.clone(), s)
        })
        .collect()
}

fn check_evaluation(set: &ScenarioSet, eval: &Evaluation, queries: usize) -> Result<(), String> {
    let n = set.doc_ids.len();
    let s = &eval.summary;
    ensure(s.num_queries + s.num_excluded == queries, || {
        format!(
            "{} evaluated + {} excluded != {queries} queries",
            s.num_queries, s.num_excluded
        )
    })?;
    ensure(eval.excluded.len() == s.num_excluded, || {
        "excluded list and count differ".into()
    })?;
    for q in &eval.queries {
        ensure(q.num_relevant > 0 && q.max_rank >= q.min_rank, || {
            format!("{}: bad relevant/rank counts", q.query_id)
        })?;
        ensure((1..=n + 1).contains(&q.max_rank), || {
            format!("{}: Max@R {} outside 1..={}", q.query_id, q.max_rank, n + 1)
        })?;
        let values = q
            .ndcg
            .values()
            .chain(q.recall.values())
            .chain(q.mrr_at.values())
            .chain([&q.mrr, &q.ap]);
        for v in values {
            ensure(v.is_finite() && (0.0..=1.0 + 1e-9).contains(v), || {
                format!("{}: metric {v} outside [0, 1]", q.query_id)
            })?;
        }
        if let Some(p) = q.lang_pref {
            ensure((-1.0..=1.0).contains(&p.value()), || {
                format!(
                    "{}: language preference {} outside [-1, 1]",
                    q.query_id,
                    p.value()
                )
            })?;
        }
    }
    let means = s
        .ndcg
        .values()
        .chain(s.recall.values())
        .chain(s.complete.values());
    for v in means.chain([&s.mrr, &s.map]) {
        ensure(v.is_finite() && (0.0..=1.0 + 1e-9).contains(v), || {
            format!("mean {v} outside [0, 1]")
        })?;
    }
    Ok(())
}

/// Every qrels entry of a set refers to one of its queries; group-based qrels only to its
/// documents.
fn check_set(set: &ScenarioSet, group_based: bool) -> Result<(), String> {
    for (q, rels) in set.qrels.iter() {
        ensure(set.query_ids.contains(q), || {
            format!("qrels query {q:?} not in the set")
        })?;
        ensure(rels.values().any(|&r| r > 0), || {
            format!("{q:?} kept without a relevant document")
        })?;
        for d in rels.keys() {
            ensure(!group_based || set.doc_ids.contains(d), || {
                format!("{q:?}: relevant {d:?} not in the set")
            })?;
        }
    }
    Ok(())
}

/// Runs `mono`, `mix`, `xl` and `unpaired` for every query language of a valid pool.
fn run_scenarios(pool: &Pool, qrels: Option<&Qrels>) -> Result<(), String> {
    pool.validate()
        .map_err(|e| format!("accepted pool is invalid: {e}"))?;
    let langs = pool.languages();
    for lang in pool.query_languages() {
        for kind in ["mono", "mix", "xl", "unpaired"] {
            let Ok(scenario) = Scenario::parse(kind, &lang, &langs) else {
                continue;
            };
            let built = match qrels {
                Some(q) => scenario.build_with_qrels(pool, q),
                None => scenario.build(pool),
            };
            let Ok(set) = built else { continue };
            check_set(&set, qrels.is_none())?;
            let queries = pool
                .queries
                .iter()
                .filter(|q| q.lang == set.scenario.query_language());
            let queries = queries.count();
            let runs = scores(&set, lang.len());
            let eval = set
                .evaluate(MetricsConfig::default(), runs.iter().map(|(q, s)| (q, s)))
                .map_err(|e| format!("{scenario}: {e}"))?;
            check_evaluation(&set, &eval, queries)?;
        }
    }
    Ok(())
}

const POOL: &str = r#"{"format": "langbias-pool/1", "name": "fuzz",
  "documents": [
    {"id": "t1.en", "group": "t1", "lang": "en", "title": "Cats", "text": "The cat sleeps."},
    {"id": "t1.de", "group": "t1", "lang": "de", "text": "Die Katze schläft."},
    {"id": "t2.en", "group": "t2", "lang": "en", "text": "Dogs bark."},
    {"id": "x1.de", "group": "x1", "lang": "de", "text": "Ablenkung."}],
  "queries": [
    {"id": "q1.de", "group": "t1", "lang": "de", "text": "Katze?"},
    {"id": "q2.de", "group": "t2", "lang": "de", "text": "Hunde?"},
    {"id": "q1.en", "group": "t1", "lang": "en", "text": "Cat?"}]}"#;

#[test]
fn pool_json_reader_survives_mutations() {
    // The seed itself is sane.
    run_scenarios(&Pool::from_json(POOL).unwrap(), None).unwrap();
    fuzz(POOL.as_bytes(), 0, |input| match Pool::from_slice(input) {
        Ok(pool) => run_scenarios(&pool, None).map(|()| true),
        Err(e) => ensure(!e.to_string().is_empty(), || "empty error".into()).map(|()| false),
    });
}

fn squad(questions: &[&[&str]]) -> String {
    let paragraphs: Vec<String> = questions
        .iter()
        .enumerate()
        .map(|(p, ids)| {
            let qas: Vec<String> = ids
                .iter()
                .map(|id| {
                    format!(r#"{{"id": "{id}", "question": "Q {id}?", "answers": [{{"answer_start": 0, "text": "c"}}]}}"#)
                })
                .collect();
            format!(r#"{{"context": "context {p}", "qas": [{}]}}"#, qas.join(", "))
        })
        .collect();
    format!(
        r#"{{"version": "1.1", "data": [{{"title": "T", "paragraphs": [{}]}}]}}"#,
        paragraphs.join(", ")
    )
}

#[test]
fn xquad_reader_survives_mutations() {
    let layout: &[&[&str]] = &[&["a", "b"], &["c"], &[]];
    let en = XquadLanguage::parse("en", "xquad.en.json", &squad(layout)).unwrap();
    let seed = squad(layout);
    fuzz(seed.as_bytes(), 0, |input| {
        let text = String::from_utf8_lossy(input);
        let Ok(de) = XquadLanguage::parse("de", "xquad.de.json", &text) else {
            return Ok(false);
        };
        let Ok(pool) = build_pool(&[en.clone(), de]) else {
            return Ok(false);
        };
        ensure(pool.documents.len() == 2 * en.num_paragraphs(), || {
            "document count".into()
        })?;
        run_scenarios(&pool, None).map(|()| true)
    });
}

#[test]
fn beir_reader_survives_mutations() {
    let corpus = "{\"_id\": \"d1\", \"title\": \"One\", \"text\": \"first doc\"}\n\
                  {\"_id\": 2, \"text\": \"second doc\", \"metadata\": {}}\n\
                  {\"_id\": \"d3\", \"text\": \"third doc\"}\n";
    let queries = "{\"_id\": \"q1\", \"text\": \"first?\"}\n{\"_id\": \"q2\", \"text\": \"second?\"}\n\
                   {\"_id\": \"q3\", \"text\": \"unjudged?\"}\n";
    let qrels = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t2\t1\nq2\td3\t0\nq2\td1\t1\n";
    let dir = std::env::temp_dir().join(format!("langbias-beir-fuzz-{}", std::process::id()));
    std::fs::create_dir_all(dir.join("qrels")).unwrap();
    let files = ["corpus.jsonl", "queries.jsonl", "qrels/test.tsv"];
    let seeds = [corpus, queries, qrels];
    let write = |which: usize, bytes: &[u8]| std::fs::write(dir.join(files[which]), bytes).unwrap();
    for (i, s) in seeds.iter().enumerate() {
        write(i, s.as_bytes());
    }
    assert!(beir::load_dir(&dir, "test", "en").is_ok());
    for (which, seed) in seeds.iter().enumerate() {
        let mut case = 0;
        fuzz(seed.as_bytes(), 0, |input| {
            // Every 10th case goes through the files (UTF-8 checks, paths); the others
            // through the same parser in memory, which is much faster.
            case += 1;
            let loaded = if case % 10 == 0 {
                write(which, input);
                beir::load_dir(&dir, "test", "en")
            } else {
                let text = String::from_utf8_lossy(input);
                let mut contents = seeds.map(str::to_owned);
                contents[which] = text.into_owned();
                beir::build(
                    "fuzz",
                    "en",
                    (files[0], &contents[0]),
                    (files[1], &contents[1]),
                    (files[2], &contents[2]),
                )
            };
            let Ok(data) = loaded else {
                return Ok(false);
            };
            let ids: Vec<&str> = data.pool.queries.iter().map(|q| q.id.as_str()).collect();
            for (q, _) in data.qrels.iter() {
                ensure(ids.contains(&q.as_str()), || {
                    format!("qrels query {q:?} unknown")
                })?;
            }
            for q in &ids {
                ensure(data.qrels.get(q).is_some(), || {
                    format!("unjudged query {q:?} kept")
                })?;
            }
            run_scenarios(&data.pool, Some(&data.qrels)).map(|()| true)
        });
        write(which, seed.as_bytes());
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// Applies `method` to a small document and query set; an accepted result must be finite
/// and unit-length, a rejection must say why.
fn check_debias(method: Debias, fitted: Fitted<'_>) -> Result<(), String> {
    let mut docs = vec![1.0, 0.0, 0.6, 0.8, 0.0, 1.0];
    let mut queries = vec![0.8, 0.6];
    let doc_langs = ["en", "de", "de"];
    match method.apply(
        2,
        Rows::new(&mut docs, &doc_langs),
        Rows::new(&mut queries, &["de"]),
        fitted,
    ) {
        Ok(()) => {
            for r in docs.chunks(2).chain(queries.chunks(2)) {
                let norm = r.iter().map(|x| x * x).sum::<f32>().sqrt();
                ensure(
                    r.iter().all(|x| x.is_finite()) && (norm - 1.0).abs() < 1e-4,
                    || format!("{method}: row {r:?} is not a finite unit vector"),
                )?;
            }
            Ok(())
        }
        Err(e) => ensure(!e.to_string().is_empty(), || "empty error".into()),
    }
}

#[test]
fn means_file_reader_survives_mutations() {
    const MEANS: &str = r#"{"format": "langbias-means/1", "dim": 2, "source": "fuzz",
  "documents": {"en": [0.1, -0.2], "de": [0.3, 0.25]},
  "queries": {"de": [-0.5, 0.125]}}"#;
    let seed = LanguageMeans::from_json(MEANS).unwrap();
    check_debias(
        Debias::CentreQ,
        Fitted {
            means: Some(&seed),
            maps: None,
        },
    )
    .unwrap();
    fuzz(MEANS.as_bytes(), 0, |input| {
        let Ok(means) = LanguageMeans::from_json(&String::from_utf8_lossy(input)) else {
            return Ok(false);
        };
        means
            .validate()
            .map_err(|e| format!("accepted file is invalid: {e}"))?;
        check_debias(
            Debias::CentreQ,
            Fitted {
                means: Some(&means),
                maps: None,
            },
        )
        .map(|()| true)
    });
}

#[test]
fn procrustes_file_reader_survives_mutations() {
    const MAPS: &str = r#"{"format": "langbias-procrustes/1", "dim": 2, "pivot": "en",
  "source": "fuzz", "maps": {"de": {"pairs": 4, "matrix": [[0.0, 1.0], [-1.0, 0.0]]}}}"#;
    let seed = ProcrustesMaps::from_json(MAPS).unwrap();
    check_debias(
        Debias::Procrustes,
        Fitted {
            means: None,
            maps: Some(&seed),
        },
    )
    .unwrap();
    fuzz(MAPS.as_bytes(), 0, |input| {
        let Ok(maps) = ProcrustesMaps::from_json(&String::from_utf8_lossy(input)) else {
            return Ok(false);
        };
        maps.validate()
            .map_err(|e| format!("accepted file is invalid: {e}"))?;
        check_debias(
            Debias::Procrustes,
            Fitted {
                means: None,
                maps: Some(&maps),
            },
        )
        .map(|()| true)
    });
}

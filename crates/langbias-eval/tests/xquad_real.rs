#![cfg(feature = "fs")]
//! Reads the real XQuAD data (not part of the repository). The directory is
//! `$LANGBIAS_XQUAD_DIR` or `../../../shared/data/xquad` relative to this crate.
//! A missing directory is a test FAILURE, not a skip.

use std::path::PathBuf;

use langbias_eval::metrics::MetricsConfig;
use langbias_eval::scenario::Scenario;
use langbias_eval::xquad::{self, XquadError, XquadLanguage};

/// The package directory: `cargo test` sets it at run time, which stays right when a test
/// binary built from another checkout is reused from a shared target directory.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

const LANGS: [&str; 7] = ["ar", "de", "en", "es", "hi", "ru", "zh"];
const PARAGRAPHS: usize = 240;
const QUESTIONS: usize = 1190;

fn xquad_dir() -> PathBuf {
    let dir = std::env::var_os("LANGBIAS_XQUAD_DIR").map_or_else(
        || PathBuf::from(manifest_dir()).join("../../../shared/data/xquad"),
        PathBuf::from,
    );
    assert!(
        dir.is_dir(),
        "XQuAD directory {} not found: set LANGBIAS_XQUAD_DIR or provide shared/data/xquad",
        dir.display()
    );
    dir
}

#[test]
fn lists_all_languages_from_file_names() {
    assert_eq!(xquad::available_languages(xquad_dir()).unwrap(), LANGS);
}

#[test]
fn loads_aligned_multilingual_pool() {
    let pool = xquad::load_dir(xquad_dir(), &[] as &[&str]).unwrap();
    assert_eq!(pool.languages(), LANGS);
    assert_eq!(pool.documents.len(), PARAGRAPHS * LANGS.len());
    assert_eq!(pool.queries.len(), QUESTIONS * LANGS.len());
    for lang in LANGS {
        assert_eq!(
            pool.documents.iter().filter(|d| d.lang == lang).count(),
            PARAGRAPHS,
            "{lang}"
        );
        assert_eq!(
            pool.queries.iter().filter(|q| q.lang == lang).count(),
            QUESTIONS,
            "{lang}"
        );
    }
    // Every question's group has one paragraph per language.
    let qrels = pool.qrels();
    assert_eq!(qrels.len(), QUESTIONS * LANGS.len());
    assert!(qrels.iter().all(|(_, r)| r.len() == LANGS.len()));
    let d = &pool.documents[0];
    assert_eq!((d.id.as_str(), d.group.as_str()), ("p0_0.ar", "p0_0"));
    // The pool survives the langbias-pool/1 round trip.
    let back = langbias_eval::Pool::from_json(&pool.to_json_pretty()).unwrap();
    assert_eq!(back, pool);
}

#[test]
fn missing_language_lists_available() {
    let err = xquad::load_dir(xquad_dir(), &["en", "xx"]).unwrap_err();
    match &err {
        XquadError::MissingLanguage {
            lang, available, ..
        } => {
            assert_eq!(lang, "xx");
            assert_eq!(available, &LANGS);
        }
        other => panic!("unexpected {other:?}"),
    }
    assert!(
        err.to_string().contains("ar, de, en, es, hi, ru, zh"),
        "{err}"
    );
}

#[test]
fn misalignment_is_reported_with_position_and_ids() {
    let dir = xquad_dir();
    let en_text = std::fs::read_to_string(dir.join("xquad.en.json")).unwrap();
    let de_text = std::fs::read_to_string(dir.join("xquad.de.json")).unwrap();
    let en = XquadLanguage::parse("en", "xquad.en.json", &en_text).unwrap();
    // Drop the first question of article 3, paragraph 1 in German (in memory only).
    let mut de: serde_json::Value = serde_json::from_str(&de_text).unwrap();
    let qas = de["data"][3]["paragraphs"][1]["qas"]
        .as_array_mut()
        .unwrap();
    let removed = qas.remove(0)["id"].as_str().unwrap().to_owned();
    let de = XquadLanguage::parse("de", "de-modified", &de.to_string()).unwrap();
    match xquad::build_pool(&[en, de]).unwrap_err() {
        XquadError::QuestionIds {
            paragraph,
            only_in_reference,
            only_in_lang,
            ..
        } => {
            assert_eq!(paragraph, "p3_1");
            assert_eq!(only_in_reference, [removed]);
            assert!(only_in_lang.is_empty());
        }
        other => panic!("unexpected {other:?}"),
    }
    // Malformed JSON: truncated file.
    let err = XquadLanguage::parse("de", "xquad.de.json", &de_text[..1000]).unwrap_err();
    assert!(
        matches!(err, XquadError::Json { line, .. } if line > 1),
        "{err}"
    );
}

#[test]
fn mix_scenario_end_to_end_with_a_biased_scorer() {
    let pool = xquad::load_dir(xquad_dir(), &["en", "de"]).unwrap();
    let set = Scenario::parse("mix", "de", &pool.languages())
        .unwrap()
        .build(&pool)
        .unwrap();
    assert_eq!(set.query_ids.len(), QUESTIONS);
    assert_eq!(set.doc_ids.len(), 2 * PARAGRAPHS);
    assert!(set.excluded_queries.is_empty());
    let ev = set.evaluator(MetricsConfig::default()).unwrap();
    // Relevant en = 1.0, every other en = 0.5, relevant de = 0.4, other de = 0.
    let runs: Vec<(String, Vec<f32>)> = set
        .query_ids
        .iter()
        .map(|q| {
            let rel = set.qrels.get(q).unwrap();
            let scores = set
                .doc_ids
                .iter()
                .zip(&set.doc_langs)
                .map(|(d, l)| match (rel.contains_key(d), l.as_str()) {
                    (true, "en") => 1.0,
                    (false, "en") => 0.5,
                    (true, _) => 0.4,
                    (false, _) => 0.0,
                })
                .collect();
            (q.clone(), scores)
        })
        .collect();
    let out = ev.evaluate(runs, &set.qrels).unwrap();
    let s = &out.summary;
    assert_eq!(s.num_queries, QUESTIONS);
    assert_eq!(s.max_rank.mean, (PARAGRAPHS + 1) as f64);
    assert_eq!(s.max_rank.median, (PARAGRAPHS + 1) as f64);
    assert_eq!(s.min_rank.mean, 1.0);
    assert_eq!(s.complete[&10], 0.0);
    assert_eq!(s.ndcg[&1], 1.0);
    let en = s.english_above.unwrap();
    assert_eq!((en.rate, en.mean), (1.0, (PARAGRAPHS - 1) as f64));
    let native = s.native_above.unwrap();
    assert_eq!((native.rate, native.mean), (0.0, 0.0));
}

//! XQuAD samples and the article split, on tiny inline SQuAD files.

use std::collections::HashSet;
use std::path::PathBuf;

use langbias_eval::xquad::{Split, XquadLanguage, build_pool};
use langbias_train_data::xquad::{
    Articles, XquadOptions, XquadSplit, heldout_pool, load_dir, read_dir, samples,
};
use langbias_train_data::{DataError, validate};

/// `articles` articles of 2 paragraphs with 2 questions each, texts tagged with `lang`.
fn squad(lang: &str, articles: usize) -> String {
    let data: Vec<String> = (0..articles)
        .map(|a| {
            let paras: Vec<String> = (0..2)
                .map(|p| {
                    let qas: Vec<String> = (0..2)
                        .map(|q| {
                            format!(
                                r#"{{"id": "q{a}{p}{q}", "question": "{lang} question {a}.{p}.{q}?", "answers": [{{"answer_start": 0, "text": "x"}}]}}"#
                            )
                        })
                        .collect();
                    format!(
                        r#"{{"context": "{lang} context {a}.{p}", "qas": [{}]}}"#,
                        qas.join(", ")
                    )
                })
                .collect();
            format!(r#"{{"title": "T{a}", "paragraphs": [{}]}}"#, paras.join(", "))
        })
        .collect();
    format!(r#"{{"version": "1.1", "data": [{}]}}"#, data.join(", "))
}

fn lang(code: &str, articles: usize) -> XquadLanguage {
    XquadLanguage::parse(code, &format!("xquad.{code}.json"), &squad(code, articles)).unwrap()
}

fn article_of(source: &str) -> usize {
    source
        .strip_prefix("xquad p")
        .and_then(|s| s.split('_').next())
        .and_then(|s| s.parse().ok())
        .unwrap()
}

#[test]
fn split_by_fraction_is_disjoint_complete_and_deterministic() {
    let split = XquadSplit::by_fraction(48, 0.5, 3).unwrap();
    assert_eq!(split.train_articles.len(), 24);
    assert_eq!(split.heldout_articles.len(), 24);
    let train: HashSet<usize> = split.train_articles.iter().copied().collect();
    assert!(split.heldout_articles.iter().all(|a| !train.contains(a)));
    let mut all: Vec<usize> = train
        .iter()
        .chain(&split.heldout_articles)
        .copied()
        .collect();
    all.sort_unstable();
    assert_eq!(all, (0..48).collect::<Vec<_>>());
    assert_eq!(split, XquadSplit::by_fraction(48, 0.5, 3).unwrap());
    assert_ne!(split, XquadSplit::by_fraction(48, 0.5, 4).unwrap());
    assert_eq!(
        XquadSplit::by_fraction(5, 0.0, 0)
            .unwrap()
            .train_articles
            .len(),
        0
    );
    assert_eq!(
        XquadSplit::by_fraction(5, 1.0, 0)
            .unwrap()
            .heldout_articles
            .len(),
        0
    );
    assert!(XquadSplit::by_fraction(5, 1.5, 0).is_err());
    assert!(XquadSplit::by_fraction(5, f64::NAN, 0).is_err());
    assert!(XquadSplit::from_train_articles(5, &[1, 5]).is_err());
    assert!(XquadSplit::from_train_articles(5, &[1, 1]).is_err());
    let explicit = XquadSplit::from_train_articles(4, &[3, 0]).unwrap();
    assert_eq!(explicit.train_articles, [0, 3]);
    assert_eq!(explicit.heldout_articles, [1, 2]);
}

#[test]
fn samples_come_only_from_training_articles() {
    let (en, de, zh) = (lang("en", 4), lang("de", 4), lang("zh", 4));
    let split = XquadSplit::from_train_articles(4, &[1, 3]).unwrap();
    let out = samples(
        &en,
        &[de.clone(), zh.clone()],
        &split,
        &XquadOptions::default(),
    )
    .unwrap();
    // 2 articles × 2 paragraphs × 2 questions × 2 languages.
    assert_eq!(out.len(), 16);
    validate(&out).unwrap();
    for s in &out {
        let a = article_of(s.source.as_deref().unwrap());
        assert!(split.is_train(a), "{s:?}");
        assert!(s.query_en.starts_with("en question"));
        assert!(s.doc_en.starts_with("en context"));
        assert!(s.query_l.starts_with(&format!("{} question", s.lang)));
        // Parallel: same indices on both sides.
        assert_eq!(s.query_en[2..], s.query_l[s.lang.len()..]);
        assert_eq!(s.doc_en[2..], s.doc_l[s.lang.len()..]);
    }
    assert_eq!(out[0].id.as_deref(), Some("q100.de"));
    assert_eq!(out[0].source.as_deref(), Some("xquad p1_0"));

    // The held-out pool has no document or query of a training article.
    let pool = build_pool(&[en.clone(), de.clone()]).unwrap();
    let held = heldout_pool(&pool, &split);
    assert_eq!(held.documents.len(), 2 * 2 * 2);
    assert_eq!(held.queries.len(), 2 * 2 * 2 * 2);
    let train_docs: HashSet<&str> = out.iter().map(|s| s.doc_en.as_str()).collect();
    for d in &held.documents {
        let a: usize = d.group[1..].split('_').next().unwrap().parse().unwrap();
        assert!(!split.is_train(a));
        assert!(!train_docs.contains(d.text.as_str()));
    }
    held.validate().unwrap();

    let one = samples(
        &en,
        &[de],
        &split,
        &XquadOptions {
            max_questions_per_paragraph: Some(1),
        },
    )
    .unwrap();
    assert_eq!(one.len(), 4);
}

#[test]
fn errors_for_english_misalignment_and_empty_training_set() {
    let en = lang("en", 2);
    let split = XquadSplit::from_train_articles(2, &[0]).unwrap();
    let opts = XquadOptions::default();
    assert!(matches!(
        samples(&en, &[lang("en", 2)], &split, &opts),
        Err(DataError::InvalidOption(_))
    ));
    let err = samples(&en, &[lang("de", 3)], &split, &opts).unwrap_err();
    assert!(matches!(err, DataError::Xquad(_)), "{err}");
    let wrong = XquadSplit::from_train_articles(3, &[0]).unwrap();
    assert!(samples(&en, &[lang("de", 2)], &wrong, &opts).is_err());
    let none = XquadSplit::from_train_articles(2, &[]).unwrap();
    assert!(matches!(
        samples(&en, &[lang("de", 2)], &none, &opts),
        Err(DataError::NoSamples { .. })
    ));
}

#[test]
fn loads_a_directory() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xquad-split");
    std::fs::create_dir_all(&dir).unwrap();
    for code in ["en", "de", "ru"] {
        std::fs::write(dir.join(format!("xquad.{code}.json")), squad(code, 6)).unwrap();
    }
    let random = Articles::Random {
        train_fraction: 0.5,
        seed: 9,
    };
    let data = load_dir(&dir, &[] as &[&str], random, &XquadOptions::default()).unwrap();
    assert_eq!(data.languages, ["de", "ru"]);
    assert_eq!(data.split.train_articles.len(), 3);
    assert_eq!(data.samples.len(), 3 * 2 * 2 * 2);
    let used: HashSet<usize> = data
        .samples
        .iter()
        .map(|s| article_of(s.source.as_deref().unwrap()))
        .collect();
    assert!(
        data.split
            .heldout_articles
            .iter()
            .all(|a| !used.contains(a))
    );
    let (_, only_ru) = read_dir(&dir, &["ru"]).unwrap();
    assert_eq!(only_ru.len(), 1);
    let err = read_dir(&dir, &["fr"]).unwrap_err();
    assert!(err.to_string().contains("available: de, en, ru"), "{err}");
}

#[test]
fn trains_on_one_half_of_the_evaluators_split() {
    let dir = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("xquad-half");
    std::fs::create_dir_all(&dir).unwrap();
    for code in ["en", "de"] {
        std::fs::write(dir.join(format!("xquad.{code}.json")), squad(code, 5)).unwrap();
    }
    let opts = XquadOptions::default();
    let data = load_dir(&dir, &["de"], Articles::Half(Split::Dev), &opts).unwrap();
    assert_eq!(data.split.train_articles, [0, 2, 4]);
    assert_eq!(data.split.heldout_articles, [1, 3]);
    // Every sample comes from a dev article, so `eval --split test` sees none of them.
    for s in &data.samples {
        assert!(Split::Dev.contains(article_of(s.source.as_deref().unwrap())));
    }
    let err = load_dir(&dir, &["de"], Articles::Half(Split::All), &opts).unwrap_err();
    assert!(err.to_string().contains("nothing to evaluate on"), "{err}");
}

//! Each lesson of the site (`public/pools/lessons.json`) promises a result; this ranks every
//! lesson's view of the built-in pool with the shipped models — their build-time embeddings,
//! which `tests/precomputed.rs` keeps current and the page ranks with — in the page's three
//! columns and checks each promise. When a model changes and a check fails, rewrite the lesson.

use langbias_assets::embeddings::PrecomputedEmbeddings;
use langbias_assets::site::{SiteManifest, SiteModel};
use langbias_eval::lessons::{Column, LessonsFile};
use langbias_eval::{Pool, QueryMetrics};

fn repo(path: &str) -> String {
    format!("{}/../../{path}", env!("CARGO_MANIFEST_DIR"))
}

const POOL: &str = "pools/everyday.json";

fn vectors(manifest: &SiteManifest, model: SiteModel) -> Option<PrecomputedEmbeddings> {
    let entry = manifest
        .precomputed
        .iter()
        .find(|p| p.model == model && p.pool == POOL)?;
    let bytes = std::fs::read(repo(&format!("public/{}", entry.file))).unwrap();
    Some(PrecomputedEmbeddings::from_bytes(&entry.file, &bytes).unwrap())
}

#[test]
fn every_lesson_shows_what_it_promises() {
    let path = repo("public/models/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `cargo xtask setup` first)"));
    let manifest = SiteManifest::from_json(&path, &text).unwrap();
    let base = vectors(&manifest, SiteModel::Base)
        .expect("no current build-time embeddings of the base model (see tests/precomputed.rs)");
    let aligned = vectors(&manifest, SiteModel::Aligned);
    let collection = Pool::from_path(repo(&format!("public/{POOL}"))).unwrap();
    let lessons_path = repo("public/pools/lessons.json");
    let lessons = LessonsFile::from_json(
        &lessons_path,
        &std::fs::read_to_string(&lessons_path).unwrap(),
    )
    .unwrap()
    .lessons;
    assert!(!lessons.is_empty());
    let mut failures = Vec::new();
    for lesson in &lessons {
        let langs: Vec<&str> = lesson.pool_langs.iter().map(String::as_str).collect();
        let pool = collection.subset(
            &lesson.query_lang,
            &langs,
            lesson.topics,
            lesson.distractors,
        );
        let query = pool
            .queries
            .iter()
            .find(|q| q.id == lesson.query_id)
            .unwrap_or_else(|| {
                panic!(
                    "lesson {}: question {} is not in its pool",
                    lesson.id, lesson.query_id
                )
            });
        let rank = |file: &PrecomputedEmbeddings, centred: bool| -> QueryMetrics {
            let docs: Vec<Vec<f32>> = pool
                .documents
                .iter()
                .map(|d| file.passage(&d.text).unwrap().to_vec())
                .collect();
            let q = file.query(&query.text).unwrap();
            let r = if centred {
                pool.rank_query_centred(&docs, None, q, &query.id, Some(&query.group), &query.lang)
                    .unwrap()
                    .ranking
            } else {
                pool.rank_query(
                    docs.iter().map(Vec::as_slice),
                    q,
                    &query.id,
                    Some(&query.group),
                    &query.lang,
                )
                .unwrap()
            };
            r.metrics.unwrap()
        };
        let metrics = |c: Column| match c {
            Column::Base => Some(rank(&base, false)),
            Column::Aligned => aligned.as_ref().map(|a| rank(a, false)),
            Column::Centred => Some(rank(&base, true)),
        };
        let show = |c: Column| {
            metrics(c).map_or("–".into(), |m| {
                format!(
                    "Max@R {} EN-above {:?} native-above {:?} nDCG@1 {:?}",
                    m.max_rank,
                    m.english_above,
                    m.native_above,
                    m.ndcg.get(&1)
                )
            })
        };
        println!(
            "{} ({}): base {} | aligned {} | centred {}",
            lesson.id,
            lesson.query_id,
            show(Column::Base),
            show(Column::Aligned),
            show(Column::Centred)
        );
        if lesson.expect.checks.is_empty() {
            failures.push(format!("lesson {} checks nothing", lesson.id));
        }
        for check in &lesson.expect.checks {
            if let Err(e) = check.verify(metrics) {
                failures.push(format!(
                    "lesson {}: {e} (promise: {})",
                    lesson.id, lesson.expect.text
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

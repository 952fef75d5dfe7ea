//! The committed build-time embeddings of the site's built-in pool (`public/embeddings/`) are
//! current: `cargo xtask setup` (run before the tests) lists in the site manifest only files
//! computed with exactly the site's model, tokenizer, adapter and pool file, and a sample of
//! texts embedded now by `langbias embed` (the CLI's own model files) agrees with them.
//! When this fails, regenerate: `cargo run --release -p langbias-cli -- precompute`, then
//! `cargo xtask setup`, and commit `public/embeddings/`.

use std::process::Command;

use langbias_assets::embeddings::PrecomputedEmbeddings;
use langbias_assets::site::{SiteManifest, SiteModel};

fn repo(path: &str) -> String {
    let dir =
        std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").into());
    format!("{dir}/../../{path}")
}

const POOL: &str = "pools/everyday.json";

/// `langbias embed` of `texts` (no cache) under `model`, uncentred: the files hold the
/// model's raw vectors, and the page centres on the pool's own means.
fn embed(model: &str, kind: &str, texts: &[&str]) -> Vec<Vec<f32>> {
    let out = Command::new(env!("CARGO_BIN_EXE_langbias"))
        .args([
            "embed",
            "--no-cache",
            "--centre",
            "off",
            "--model",
            model,
            "--kind",
            kind,
        ])
        .args(texts)
        .current_dir(repo(""))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    json["embeddings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            e["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|x| x.as_f64().unwrap() as f32)
                .collect()
        })
        .collect()
}

#[test]
fn the_committed_build_time_embeddings_are_current() {
    let path = repo("public/models/manifest.json");
    let text = std::fs::read_to_string(&path)
        .unwrap_or_else(|e| panic!("{path}: {e} (run `cargo xtask setup` first)"));
    let manifest = SiteManifest::from_json(&path, &text).unwrap();
    let pool = langbias_eval::Pool::from_path(repo(&format!("public/{POOL}"))).unwrap();
    let mut models = vec![SiteModel::Base];
    if manifest.aligned.is_some() {
        models.push(SiteModel::Aligned);
    }
    // A few passages in different scripts and two questions.
    let pick = |lang: &str| {
        pool.documents
            .iter()
            .find(|d| d.lang == lang)
            .map(|d| d.text.as_str())
            .unwrap()
    };
    let passages = [pick("en"), pick("zh"), pick("ar"), pick("hi")];
    let queries = [pool.queries[0].text.as_str(), pool.queries[7].text.as_str()];
    for model in models {
        let entry = manifest
            .precomputed
            .iter()
            .find(|p| p.model == model && p.pool == POOL)
            .unwrap_or_else(|| {
                panic!(
                    "no current build-time embeddings of {POOL} for the {} model in public/embeddings/ \
                     (stale or missing): run `cargo run --release -p langbias-cli -- precompute`, \
                     then `cargo xtask setup`, and commit public/embeddings/",
                    model.name()
                )
            });
        let bytes = std::fs::read(repo(&format!("public/{}", entry.file))).unwrap();
        let file = PrecomputedEmbeddings::from_bytes(&entry.file, &bytes).unwrap();
        // Every text of the pool is in the file.
        for d in &pool.documents {
            assert!(file.passage(&d.text).is_some(), "{} missing", d.id);
        }
        for q in &pool.queries {
            assert!(file.query(&q.text).is_some(), "{} missing", q.id);
        }
        for (kind, texts) in [("passage", &passages[..]), ("query", &queries[..])] {
            let now = embed(model.name(), kind, texts);
            for (t, v) in texts.iter().zip(&now) {
                let stored = match kind {
                    "passage" => file.passage(t),
                    _ => file.query(t),
                }
                .unwrap();
                let cos: f32 = stored.iter().zip(v).map(|(a, b)| a * b).sum();
                assert!(
                    cos >= 0.9999,
                    "{} {kind} {t:?}: cosine {cos} against the committed vector",
                    model.name()
                );
            }
        }
    }
}

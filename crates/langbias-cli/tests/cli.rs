//! The `langbias` binary end to end: help, clear errors on bad input, the pool ranking.
//! (Building this test also builds the binary the browser tests compare against.)

use std::process::Command;

/// The package directory: `cargo test` sets it at run time, which stays right when a test
/// binary built from another checkout is reused from a shared target directory.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

fn langbias(args: &[&str]) -> (bool, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_langbias"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn repo(path: &str) -> String {
    format!("{}/../../{path}", manifest_dir())
}

#[test]
fn help_documents_every_eval_flag() {
    let (ok, out, _) = langbias(&["eval", "--help"]);
    assert!(ok);
    for flag in [
        "--data",
        "--langs",
        "--scenarios",
        "--model",
        "--backend",
        "--out",
        "--cache-dir",
        "--k",
        "--depth",
    ] {
        assert!(out.contains(flag), "{flag} missing from --help");
    }
}

#[test]
fn bad_input_is_a_clear_error() {
    let (ok, _, err) = langbias(&["eval", "--data", "/nonexistent/xquad"]);
    assert!(!ok);
    assert!(err.contains("/nonexistent/xquad"), "{err}");
    let (ok, _, err) = langbias(&["embed"]);
    assert!(!ok);
    assert!(err.contains("nothing to embed"), "{err}");
    let (ok, _, err) = langbias(&[
        "rank",
        "--pool",
        &repo("public/pools/everyday.json"),
        "--query-id",
        "nope",
    ]);
    assert!(!ok);
    assert!(err.contains("no query \"nope\" in the pool"), "{err}");
}

/// Language lists and topic limits that would silently mean something else are errors
/// that say what is available (checked before any model is loaded).
#[test]
fn language_and_topic_choices_are_checked() {
    let pool = repo("public/pools/everyday.json");
    for langs in ["", ","] {
        let (ok, _, err) = langbias(&["eval", "--data", &pool, "--langs", langs]);
        assert!(!ok);
        assert!(err.contains("--langs: no language given"), "{err}");
        assert!(err.contains("(available: ar, de, en"), "{err}");
    }
    let rank = |extra: &[&str]| {
        let mut args = vec!["rank", "--pool", &pool, "--query-id", "t05.q1.de"];
        args.extend(extra);
        langbias(&args)
    };
    let (ok, _, err) = rank(&["--langs", "en,xx"]);
    assert!(!ok);
    assert!(
        err.contains("unknown language \"xx\" (available: ar, de, en"),
        "{err}"
    );
    let (ok, _, err) = rank(&["--topics", "4"]);
    assert!(!ok);
    assert!(
        err.contains("is topic 5 of") && err.contains("only the first 4 are kept"),
        "{err}"
    );
}

#[test]
fn rank_reports_max_rank_over_a_mixed_pool() {
    let pool = repo("public/pools/everyday.json");
    let (ok, out, err) = langbias(&[
        "rank",
        "--pool",
        &pool,
        "--langs",
        "en,de",
        "--topics",
        "5",
        "--distractors",
        "0",
        "--query-id",
        "t05.q1.de",
    ]);
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["pool_size"], 10);
    let max_rank = json["max_rank"].as_u64().unwrap();
    // Both parallel versions are relevant, so the worst of them is at rank 2 or below.
    assert!((2..=10).contains(&max_rank), "{max_rank}");
    assert_eq!(json["hits"][0]["lang"], "de");
}

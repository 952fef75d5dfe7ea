//! The `langbias` binary end to end: help, clear errors on bad input, the pool ranking.
//! (Building this test also builds the binary the browser tests compare against.)

use std::path::{Path, PathBuf};
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

/// Runs the binary with `envs`, in `cwd` when given.
fn langbias_with(
    args: &[&str],
    envs: &[(&str, &str)],
    cwd: Option<&Path>,
) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_langbias"));
    cmd.args(args).envs(envs.iter().copied());
    if let Some(dir) = cwd {
        cmd.current_dir(dir);
    }
    let out = cmd.output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// Runs the binary with a 1-block file-size limit: writing more gives EFBIG, like a full disk.
fn langbias_disk_full(args: &[&str]) -> (bool, String, String) {
    let mut full = vec![
        "-c",
        r#"trap "" XFSZ; ulimit -f 1; exec "$0" "$@""#,
        env!("CARGO_BIN_EXE_langbias"),
    ];
    full.extend_from_slice(args);
    let out = Command::new("bash").args(&full).output().unwrap();
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

/// An empty scratch directory for one test.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("langbias-cli-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Every file in `dir` (name → bytes).
fn snapshot(dir: &Path) -> std::collections::BTreeMap<String, Vec<u8>> {
    std::fs::read_dir(dir)
        .unwrap()
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                std::fs::read(e.path()).unwrap(),
            )
        })
        .collect()
}

/// A small pool: the first three topics of the shipped pool, in English and German.
fn small_pool(dir: &Path) -> String {
    let text = std::fs::read_to_string(repo("public/pools/everyday.json")).unwrap();
    let mut pool: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keep = |v: &serde_json::Value| {
        ["t01", "t02", "t03"].contains(&v["group"].as_str().unwrap())
            && ["en", "de"].contains(&v["lang"].as_str().unwrap())
    };
    for field in ["documents", "queries"] {
        let kept: Vec<serde_json::Value> = pool[field]
            .as_array()
            .unwrap()
            .iter()
            .filter(|v| keep(v))
            .cloned()
            .collect();
        pool[field] = kept.into();
    }
    let path = dir.join("pool.json");
    std::fs::write(&path, pool.to_string()).unwrap();
    path.display().to_string()
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

#[test]
fn backend_help_says_cpu_is_the_host_engine_everywhere() {
    for sub in ["embed", "eval", "fit", "rank", "bench"] {
        let (ok, out, _) = langbias(&[sub, "--help"]);
        assert!(ok);
        assert!(out.contains("`cpu` (the host engine"), "{sub}: {out}");
        assert!(!out.contains("burn flex)"), "{sub}: {out}");
    }
}

#[test]
fn bad_arguments_show_the_value_and_what_was_expected() {
    let cases: &[(&[&str], &[&str])] = &[
        (&["eval", "--k", "abc"], &["`abc`", "whole number"]),
        (&["eval", "--k", "1,0"], &["`0`", "at least 1"]),
        (&["eval", "--k", ""], &["--k", "empty item"]),
        (&["eval", "--scenarios", "mix,foo"], &["`foo`", "mono"]),
        (&["eval", "--depth", "0"], &["--depth", "0"]),
        (
            &["eval", "--model", "baes"],
            &["`baes`", "neither `base`, `aligned`", "Hugging Face"],
        ),
        (&["eval", "--model", "=base"], &["empty name"]),
        (&["embed", "--model", "baes", "x"], &["`baes`", "E5S1"]),
        (&["embed", "--backend", "tpu", "x"], &["tpu", "wgpu"]),
        (
            &["embed", "--max-line-bytes", "0", "x"],
            &["--max-line-bytes", "0"],
        ),
        (&["bench", "--limit", "0"], &["--limit", "0"]),
        (
            &["rank", "--pool", "p", "--query-id", "q", "--top", "x"],
            &["'x'", "--top"],
        ),
    ];
    for (args, wanted) in cases {
        let (ok, _, err) = langbias(args);
        assert!(!ok, "{args:?} succeeded");
        for w in *wanted {
            assert!(err.contains(w), "{args:?}: `{w}` missing from: {err}");
        }
    }
}

#[test]
fn duplicate_model_names_are_an_error() {
    for models in [
        ["a=base", "a=aligned"],
        ["base", "base"],
        ["x.y=base", "x_y=base"],
    ] {
        let (ok, _, err) = langbias(&[
            "eval",
            "--data",
            "/nonexistent",
            "--model",
            models[0],
            "--model",
            models[1],
        ]);
        assert!(!ok);
        assert!(err.contains("both write files named"), "{models:?}: {err}");
        assert!(err.contains(models[0]) && err.contains(models[1]), "{err}");
    }
}

#[test]
fn endless_lines_are_an_error_naming_the_file_and_line() {
    let (ok, _, err) = langbias(&["embed", "--file", "/dev/zero"]);
    assert!(!ok);
    assert!(err.contains("/dev/zero line 1: longer than"), "{err}");
    let dir = scratch("lines");
    let file = dir.join("texts.txt");
    std::fs::write(&file, "short\nthis line is long\n").unwrap();
    let (ok, _, err) = langbias(&[
        "embed",
        "--file",
        file.to_str().unwrap(),
        "--max-line-bytes",
        "8",
    ]);
    assert!(!ok);
    assert!(
        err.contains("texts.txt line 2: longer than 8 bytes"),
        "{err}"
    );
    std::fs::write(&file, b"ok\n\xff\xfe\n").unwrap();
    let (ok, _, err) = langbias(&["embed", "--file", file.to_str().unwrap()]);
    assert!(!ok);
    assert!(err.contains("texts.txt line 2: not UTF-8"), "{err}");
}

#[test]
fn the_aligned_adapter_is_found_from_any_directory() {
    let dir = scratch("anywhere");
    let (ok, out, err) = langbias_with(
        &["embed", "--no-cache", "--model", "aligned", "hello"],
        &[],
        Some(&dir),
    );
    assert!(ok, "{err}");
    assert!(out.contains("\"embedding\""));
    let (ok, _, err) = langbias_with(
        &["embed", "--no-cache", "--model", "aligned", "hello"],
        &[("LANGBIAS_ADAPTER", "/nonexistent/aligned.safetensors")],
        Some(&dir),
    );
    assert!(!ok);
    assert!(
        err.contains("LANGBIAS_ADAPTER=/nonexistent/aligned.safetensors"),
        "{err}"
    );
}

#[test]
fn a_full_disk_keeps_the_old_embed_output_and_names_the_path() {
    let dir = scratch("full-embed");
    let out = dir.join("old.json");
    std::fs::write(&out, "old").unwrap();
    let (ok, _, err) = langbias_disk_full(&[
        "embed",
        "--no-cache",
        "--out",
        out.to_str().unwrap(),
        "a text of some length",
    ]);
    assert!(!ok);
    assert!(err.contains(out.to_str().unwrap()), "{err}");
    assert_eq!(std::fs::read_to_string(&out).unwrap(), "old");
    assert_eq!(snapshot(&dir).len(), 1, "a temporary file was left behind");
}

#[test]
fn an_interrupted_embed_resumes_from_the_cache() {
    let dir = scratch("resume");
    let file = dir.join("texts.txt");
    std::fs::write(&file, "one\ntwo\n\nthree\nfour\none\n").unwrap();
    let cache = dir.join("cache");
    let args = |out: &str| {
        vec![
            "embed".to_owned(),
            "--file".into(),
            file.display().to_string(),
            "--cache-dir".into(),
            cache.display().to_string(),
            "--out".into(),
            dir.join(out).display().to_string(),
        ]
    };
    let a = args("first.json");
    let a: Vec<&str> = a.iter().map(String::as_str).collect();
    // One text per chunk; stop after two chunks as a Ctrl-C would.
    let (ok, _, err) = langbias_with(
        &a,
        &[
            ("LANGBIAS_CACHE_CHUNK_TOKENS", "1"),
            ("LANGBIAS_FAIL_AFTER_CHUNKS", "2"),
        ],
        None,
    );
    assert!(!ok);
    assert!(err.contains("stopped after 2 chunks"), "{err}");
    let (ok, _, err) = langbias_with(&a, &[], None);
    assert!(ok, "{err}");
    // Five distinct texts (the empty line is one), two kept from the stopped run.
    assert!(err.contains("embedded 6 texts: 3 encoded"), "{err}");
    let (ok, _, err) = langbias_with(&a, &[], None);
    assert!(ok, "{err}");
    assert!(err.contains("embedded 6 texts: 0 encoded"), "{err}");
    let b = args("fresh.json");
    let mut b: Vec<&str> = b.iter().map(String::as_str).collect();
    b.push("--no-cache");
    let (ok, _, err) = langbias_with(&b, &[], None);
    assert!(ok, "{err}");
    assert_eq!(
        std::fs::read(dir.join("first.json")).unwrap(),
        std::fs::read(dir.join("fresh.json")).unwrap(),
        "cached output differs from a run without the cache"
    );
}

#[test]
fn concurrent_embeds_share_the_cache() {
    let dir = scratch("concurrent");
    let file = dir.join("texts.txt");
    let texts: Vec<String> = (0..12).map(|i| format!("text number {i}")).collect();
    std::fs::write(&file, texts.join("\n")).unwrap();
    let cache = dir.join("cache");
    let args = [
        "embed",
        "--file",
        file.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
        "--format",
        "npy",
    ];
    let runs: Vec<_> = (0..2)
        .map(|i| {
            let out = dir.join(format!("{i}.npy"));
            Command::new(env!("CARGO_BIN_EXE_langbias"))
                .args(args)
                .arg("--out")
                .arg(&out)
                .env("LANGBIAS_CACHE_CHUNK_TOKENS", "16")
                .spawn()
                .unwrap()
        })
        .collect();
    for mut run in runs {
        assert!(run.wait().unwrap().success());
    }
    let (ok, _, err) = langbias_with(
        &[&args[..], &["--out", dir.join("2.npy").to_str().unwrap()]].concat(),
        &[],
        None,
    );
    assert!(ok, "{err}");
    assert!(err.contains("embedded 12 texts: 0 encoded"), "{err}");
    // Compacted: one file of 12 distinct records.
    let files: Vec<_> = std::fs::read_dir(&cache)
        .unwrap()
        .flat_map(|d| std::fs::read_dir(d.unwrap().path()).unwrap())
        .map(|f| f.unwrap().path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    let count = u32::from_le_bytes(
        std::fs::read(&files[0]).unwrap()[12..16]
            .try_into()
            .unwrap(),
    );
    assert_eq!(count, 12);
    let first = std::fs::read(dir.join("0.npy")).unwrap();
    for i in 1..3 {
        assert_eq!(std::fs::read(dir.join(format!("{i}.npy"))).unwrap(), first);
    }
}

fn eval_args<'a>(pool: &'a str, out: &'a Path, cache: &'a Path) -> Vec<&'a str> {
    vec![
        "eval",
        "--data",
        pool,
        "--langs",
        "de",
        "--scenarios",
        "mono,mix",
        "--out",
        out.to_str().unwrap(),
        "--cache-dir",
        cache.to_str().unwrap(),
    ]
}

/// The run files of an eval output directory, concatenated by name.
fn runs(dir: &Path) -> Vec<u8> {
    snapshot(dir)
        .into_iter()
        .filter(|(n, _)| n.ends_with(".run"))
        .flat_map(|(_, b)| b)
        .collect()
}

#[test]
fn the_embedding_cache_key_covers_the_prefixes() {
    let dir = scratch("key");
    let pool = small_pool(&dir);
    let cache = dir.join("cache");
    let outs: Vec<PathBuf> = (0..3).map(|i| dir.join(format!("out{i}"))).collect();
    let (ok, _, err) = langbias_with(&eval_args(&pool, &outs[0], &cache), &[], None);
    assert!(ok, "{err}");
    let (ok, _, err) = langbias_with(
        &[&eval_args(&pool, &outs[1], &cache)[..], &["--no-prefix"]].concat(),
        &[],
        None,
    );
    assert!(ok, "{err}");
    let (ok, _, err) = langbias_with(
        &[
            &eval_args(&pool, &outs[2], &cache)[..],
            &["--no-prefix", "--no-cache"],
        ]
        .concat(),
        &[],
        None,
    );
    assert!(ok, "{err}");
    assert_eq!(
        runs(&outs[1]),
        runs(&outs[2]),
        "--no-prefix read prefixed embeddings from the cache"
    );
    assert_ne!(runs(&outs[0]), runs(&outs[2]));
}

#[test]
fn a_failed_eval_leaves_the_old_results_intact() {
    let dir = scratch("staged");
    let pool = small_pool(&dir);
    let cache = dir.join("cache");
    let out = dir.join("results");
    let (ok, _, err) = langbias_with(&eval_args(&pool, &out, &cache), &[], None);
    assert!(ok, "{err}");
    let before = snapshot(&out);
    assert!(before.contains_key("table.txt"), "{before:?}");
    // The second model fails to load after the first was evaluated.
    let bad = dir.join("bad.bin");
    std::fs::write(&bad, "not a model").unwrap();
    let (ok, _, _) = langbias_with(
        &[
            &eval_args(&pool, &out, &cache)[..],
            &[
                "--no-prefix",
                "--model",
                "base",
                "--model",
                bad.to_str().unwrap(),
            ],
        ]
        .concat(),
        &[],
        None,
    );
    assert!(!ok);
    assert_eq!(snapshot(&out), before);
    // A full disk: the error names the file, the directory is unchanged.
    let (ok, _, err) = langbias_disk_full(
        &[
            &eval_args(&pool, &out, &cache)[..],
            &["--no-cache", "--no-prefix"],
        ]
        .concat(),
    );
    assert!(!ok);
    assert!(err.contains(out.to_str().unwrap()), "{err}");
    assert_eq!(snapshot(&out), before);
}

/// The training-free baselines' arguments are checked before any model is loaded.
#[test]
fn baseline_arguments_are_checked_first() {
    let pool = repo("public/pools/everyday.json");
    let fails = |args: &[&str], expected: &str| {
        let (ok, _, err) = langbias(args);
        assert!(!ok, "{args:?} succeeded");
        assert!(err.contains(expected), "{args:?}: {err}");
    };
    fails(
        &["eval", "--data", &pool, "--split", "test"],
        "only XQuAD data has the dev/test article split",
    );
    fails(
        &["eval", "--data", &pool, "--split", "train"],
        "unknown split \"train\"",
    );
    fails(
        &["eval", "--data", &pool, "--debias", "procrustes"],
        "--debias procrustes needs maps for model `base`",
    );
    fails(
        &["eval", "--data", &pool, "--debias", "centre,,none"],
        "--debias",
    );
    fails(
        &[
            "eval",
            "--data",
            &pool,
            "--model",
            "base",
            "--model",
            "aligned",
            "--procrustes",
            "maps.json",
        ],
        "name the model the file was fitted for",
    );
    fails(
        &["eval", "--data", &pool, "--means", "nobody=m.json"],
        "no --model is named `nobody`",
    );
    fails(&["fit"], "nothing to fit on");
}

/// `--debias` adds each baseline as its own model: its report, its run files and a column of
/// the table; `centre` changes the MIX ranking, `none` is the plain model.
#[test]
fn each_baseline_is_its_own_model_in_the_outputs() {
    let dir = scratch("debias");
    let pool = small_pool(&dir);
    let cache = dir.join("cache");
    let out = dir.join("out");
    let (ok, table, err) = langbias_with(
        &[
            &eval_args(&pool, &out, &cache)[..],
            &["--debias", "none,centre,centre-q"],
        ]
        .concat(),
        &[],
        None,
    );
    assert!(ok, "{err}");
    let files = snapshot(&out);
    for model in ["base", "base+centre", "base+centre-q"] {
        assert!(
            files.contains_key(&format!("report.{model}.json")),
            "{model}: {files:?}",
            files = files.keys()
        );
        assert!(
            files.contains_key(&format!("mix.de.{model}.run")),
            "{model}"
        );
    }
    // More than two models: one Markdown table per metric, every model a column.
    assert!(
        table.contains("| Max@R mean | base | base+centre | base+centre-q |"),
        "{table}"
    );
    assert_ne!(files["mix.de.base.run"], files["mix.de.base+centre.run"]);
}

/// `--model aligned` is the variant the model card reports: the shipped adapter declares
/// routing by language pair, which `--debias auto` (the default) applies and names
/// (`aligned+routed`); `--debias none` ranks the adapter alone; an adapter that declares
/// nothing is ranked as it is, and one that declares an unknown centring is refused.
#[test]
fn an_adapter_is_ranked_as_it_declares() {
    use langbias_assets::{CENTRING_KEY, LoraAdapter};
    let dir = scratch("declared-centring");
    let pool = small_pool(&dir);
    let cache = dir.join("cache");
    let shipped = std::fs::read(repo("public/adapters/aligned.safetensors")).unwrap();
    let mut adapter = LoraAdapter::from_safetensors("shipped", &shipped).unwrap();
    assert_eq!(adapter.metadata[CENTRING_KEY], "routed");
    adapter.metadata.remove(CENTRING_KEY);
    let plain = dir.join("plain.safetensors");
    std::fs::write(&plain, adapter.to_safetensors(true).unwrap()).unwrap();
    adapter
        .metadata
        .insert(CENTRING_KEY.into(), "queries".into());
    let odd = dir.join("odd.safetensors");
    std::fs::write(&odd, adapter.to_safetensors(true).unwrap()).unwrap();

    let eval = |name: &str, extra: &[&str]| {
        let out = dir.join(name);
        let (ok, _, err) = langbias_with(
            &[&eval_args(&pool, &out, &cache)[..], extra].concat(),
            &[],
            None,
        );
        assert!(ok, "{name}: {err}");
        snapshot(&out)
    };
    let auto = eval(
        "auto",
        &["--model", "aligned", "--model", plain.to_str().unwrap()],
    );
    let reports: Vec<&String> = auto
        .keys()
        .filter(|f| f.starts_with("report.") && f.ends_with(".json"))
        .collect();
    assert_eq!(
        reports,
        ["report.aligned+routed.json", "report.plain.json"],
        "{reports:?}"
    );
    let none = eval("none", &["--model", "aligned", "--debias", "none"]);
    assert!(none.contains_key("report.aligned.json"));
    // The plain adapter is the shipped one without the declaration: the same ranking as
    // `aligned --debias none`, and the declared standardisation changes it.
    // (TREC run lines without their last column, the run's name.)
    let ranking = |run: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(run)
            .lines()
            .map(|l| l.rsplit_once(' ').map_or(l, |(r, _)| r).to_owned())
            .collect()
    };
    assert_eq!(
        ranking(&auto["mix.de.plain.run"]),
        ranking(&none["mix.de.aligned.run"])
    );
    assert_ne!(
        auto["mix.de.aligned+routed.run"],
        none["mix.de.aligned.run"]
    );
    // Routing: a German query's German documents come in the base model's order (MONO is
    // the base model's ranking), the English ones of MIX in the adapter's.
    let base = eval("base", &["--model", "base"]);
    let order = |run: &[u8]| -> Vec<String> {
        String::from_utf8_lossy(run)
            .lines()
            .map(|l| l.split(' ').take(3).collect::<Vec<_>>().join(" "))
            .collect()
    };
    assert_eq!(
        order(&auto["mono.de.aligned+routed.run"]),
        order(&base["mono.de.base.run"])
    );
    assert_ne!(
        order(&none["mono.de.aligned.run"]),
        order(&base["mono.de.base.run"]),
        "the adapter alone ranks German differently, or this test shows nothing"
    );
    let in_lang = |run: &[u8], lang: &str| -> Vec<String> {
        order(run)
            .into_iter()
            .filter(|l| l.ends_with(&format!(".{lang}")))
            .collect()
    };
    assert_eq!(
        in_lang(&auto["mix.de.aligned+routed.run"], "de"),
        in_lang(&base["mix.de.base.run"], "de")
    );
    // Without feedback the English documents come in the adapter's order; feedback moves
    // them (and only them).
    let plain_routing = eval(
        "no-feedback",
        &["--model", "aligned", "--feedback-weight", "0"],
    );
    let routed_run = &plain_routing["mix.de.aligned+routed.run"];
    assert_eq!(
        in_lang(routed_run, "en"),
        in_lang(&none["mix.de.aligned.run"], "en")
    );
    assert_eq!(
        in_lang(routed_run, "de"),
        in_lang(&base["mix.de.base.run"], "de")
    );
    // In a language of n documents no cosine stands out by more than √(n − 1) standard
    // deviations: with three per language here, the default threshold (4) lets no feedback
    // through, and a threshold of 0 does.
    let text = |run: &[u8]| String::from_utf8_lossy(run).into_owned();
    assert_eq!(text(routed_run), text(&auto["mix.de.aligned+routed.run"]));
    let fed = eval(
        "feedback-any-match",
        &["--model", "aligned", "--feedback-match", "0"],
    );
    assert_ne!(text(routed_run), text(&fed["mix.de.aligned+routed.run"]));
    assert_eq!(
        in_lang(&fed["mix.de.aligned+routed.run"], "de"),
        in_lang(&base["mix.de.base.run"], "de")
    );
    let (ok, _, err) = langbias(
        &[
            &eval_args(&pool, &dir.join("bad-weight"), &cache)[..],
            &["--model", "aligned", "--feedback-weight=-1"],
        ]
        .concat(),
    );
    assert!(!ok && err.contains("not a feedback weight"), "{err}");
    // A model without an adapter routes to itself: without feedback, that is z-scores. The
    // base model is embedded once, for its own rows and for routing the adapter.
    let out = dir.join("routed-base");
    let (ok, _, err) = langbias_with(
        &[
            &eval_args(&pool, &out, &cache)[..],
            &[
                "--model",
                "base",
                "--model",
                "aligned",
                "--debias",
                "zscore,routed",
                "--feedback-weight",
                "0",
            ],
        ]
        .concat(),
        &[],
        None,
    );
    assert!(ok, "{err}");
    let encodings = err.lines().filter(|l| l.contains("passages +")).count();
    assert_eq!(encodings, 2, "one encoding line per model:\n{err}");
    assert!(!err.contains("base (for routing)"), "{err}");
    let files = snapshot(&out);
    assert!(files.contains_key("report.aligned+routed.json"));
    assert_eq!(
        ranking(&files["mix.de.base+routed.run"]),
        ranking(&files["mix.de.base+zscore.run"])
    );

    // A pool with a single German document: the declared standardisation cannot apply there.
    let mut one: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&pool).unwrap()).unwrap();
    let mut seen_de = false;
    one["documents"]
        .as_array_mut()
        .unwrap()
        .retain(|d| d["lang"] != "de" || !std::mem::replace(&mut seen_de, true));
    let one_path = dir.join("one-de.json");
    std::fs::write(&one_path, one.to_string()).unwrap();
    let out = dir.join("one");
    let (ok, _, err) = langbias_with(
        &[
            &eval_args(one_path.to_str().unwrap(), &out, &cache)[..],
            &["--model", "aligned"],
        ]
        .concat(),
        &[],
        None,
    );
    assert!(!ok);
    assert!(
        err.contains("single document") && err.contains("--debias none ranks without it"),
        "{err}"
    );
    // `rank` (as the page's centred column) centres that single German document on the
    // adapter's stored German mean instead, and says so; the English ones on the pool's.
    let rank = |model: &str| {
        langbias(&[
            "rank",
            "--pool",
            &one_path.to_string_lossy(),
            "--langs",
            "en,de",
            "--topics",
            "3",
            "--distractors",
            "0",
            "--query-id",
            "t01.q1.en",
            "--model",
            model,
            "--centre",
            "on",
        ])
    };
    let (ok, out, err) = rank("aligned");
    assert!(ok, "{err}");
    let json: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(json["centred"], true);
    assert_eq!(json["centred_on_stored_means"], serde_json::json!(["de"]));
    assert_eq!(json["pool_size"], 4, "{json}");
    // The shipped adapter without its stored means: the single-document error.
    let mut bare = LoraAdapter::from_safetensors("shipped", &shipped).unwrap();
    bare.document_means.clear();
    let bare_path = dir.join("no-means.safetensors");
    std::fs::write(&bare_path, bare.to_safetensors(true).unwrap()).unwrap();
    let (ok, _, err) = rank(bare_path.to_str().unwrap());
    assert!(!ok);
    assert!(err.contains("\"de\" has a single document"), "{err}");

    let (ok, _, err) = langbias_with(&["embed", "--model", odd.to_str().unwrap(), "x"], &[], None);
    assert!(!ok);
    assert!(
        err.contains("odd.safetensors")
            && err.contains("\"queries\"")
            && err.contains("none, documents, zscore"),
        "{err}"
    );

    // An adapter that declares per-language score standardisation: `eval` reports it as
    // `+zscore`, `rank` standardises (the plain adapter with `--zscore` ranks the same), and
    // `--centre on` ranks it centred instead; both at once is refused.
    adapter
        .metadata
        .insert(CENTRING_KEY.into(), "zscore".into());
    let zs = dir.join("zs.safetensors");
    std::fs::write(&zs, adapter.to_safetensors(true).unwrap()).unwrap();
    let declared = eval("zscore", &["--model", zs.to_str().unwrap()]);
    assert!(
        declared.contains_key("report.zs+zscore.json"),
        "{:?}",
        declared.keys()
    );
    let by_hand = eval(
        "by-hand",
        &["--model", plain.to_str().unwrap(), "--debias", "zscore"],
    );
    assert_eq!(
        ranking(&declared["mix.de.zs+zscore.run"]),
        ranking(&by_hand["mix.de.plain+zscore.run"])
    );
    assert_ne!(
        ranking(&declared["mix.de.zs+zscore.run"]),
        ranking(&none["mix.de.aligned.run"])
    );
    let rank_on = |model: &Path, extra: &[&str]| {
        let args = [
            &[
                "rank",
                "--pool",
                pool.as_str(),
                "--query-id",
                "t01.q1.de",
                "--topics",
                "3",
                "--distractors",
                "0",
                "--model",
                model.to_str().unwrap(),
            ][..],
            extra,
        ]
        .concat();
        let (ok, out, err) = langbias(&args);
        (
            ok,
            serde_json::from_str::<serde_json::Value>(&out).ok(),
            err,
        )
    };
    let (ok, z, err) = rank_on(&zs, &[]);
    assert!(ok, "{err}");
    let z = z.unwrap();
    assert_eq!(
        (z["zscore"].clone(), z["centred"].clone()),
        (true.into(), false.into())
    );
    let (_, by_flag, _) = rank_on(&plain, &["--zscore"]);
    assert_eq!(by_flag.unwrap()["hits"], z["hits"]);
    let (_, c, _) = rank_on(&zs, &["--centre"]);
    let c = c.unwrap();
    assert_eq!(
        (c["zscore"].clone(), c["centred"].clone()),
        (false.into(), true.into())
    );
    let (ok, _, err) = rank_on(&zs, &["--centre", "on", "--zscore", "on"]);
    assert!(!ok && err.contains("choose one"), "{err}");

    // The shipped adapter declares routing; the plain one routes with `--routed`; the base
    // model has no adapter to route with.
    let aligned = std::path::PathBuf::from(repo("public/adapters/aligned.safetensors"));
    let (ok, r, err) = rank_on(&aligned, &[]);
    assert!(ok, "{err}");
    let r = r.unwrap();
    assert_eq!(
        (
            r["routed"].clone(),
            r["zscore"].clone(),
            r["centred"].clone()
        ),
        (true.into(), false.into(), false.into())
    );
    let (_, by_flag, _) = rank_on(&plain, &["--routed"]);
    assert_eq!(by_flag.unwrap()["hits"], r["hits"]);
    assert_ne!(r["hits"], z["hits"]);
    // `rank` embeds each document with its route's model only; the routed scores must equal
    // routing the two models' plain cosines over the whole pool (every document embedded by
    // both).
    let all = ["--top", "1000"];
    let scores_of = |v: &serde_json::Value| -> std::collections::BTreeMap<String, (String, f64)> {
        v["hits"]
            .as_array()
            .unwrap()
            .iter()
            .map(|h| {
                let id = h["id"].as_str().unwrap().to_owned();
                let lang = h["lang"].as_str().unwrap().to_owned();
                (id, (lang, h["score"].as_f64().unwrap()))
            })
            .collect()
    };
    let routed_json = rank_on(&aligned, &[&all[..], &["--feedback-match", "0"]].concat())
        .1
        .unwrap();
    let default = langbias_eval::routing::Feedback::default();
    assert_eq!(
        routed_json["feedback"]["weight"].as_f64(),
        Some(f64::from(default.weight))
    );
    assert_eq!(routed_json["feedback"]["min_match"].as_f64(), Some(0.0));
    // It says which German document fed back, and into which languages; with three documents
    // per language and the default threshold, none.
    let from = routed_json["feedback"]["from"].as_str().unwrap();
    assert!(from.ends_with(".de"), "{from}");
    assert_eq!(
        routed_json["feedback"]["languages"],
        serde_json::json!(["en"])
    );
    let defaults = rank_on(&aligned, &[]).1.unwrap();
    assert_eq!(defaults["feedback"]["from"].as_str(), Some(from));
    assert_eq!(defaults["feedback"]["languages"], serde_json::json!([]));
    assert_eq!(
        defaults["feedback"]["min_match"].as_f64(),
        Some(f64::from(default.min_match))
    );
    let with_feedback = scores_of(&routed_json);
    let routed = scores_of(
        &rank_on(&aligned, &[&all[..], &["--feedback-weight", "0"]].concat())
            .1
            .unwrap(),
    );
    let own = scores_of(&rank_on(Path::new("base"), &all).1.unwrap());
    let cross = scores_of(
        &rank_on(&aligned, &[&all[..], &["--routed", "off"]].concat())
            .1
            .unwrap(),
    );
    let ids: Vec<&String> = routed.keys().collect();
    let langs: Vec<&str> = ids.iter().map(|d| routed[*d].0.as_str()).collect();
    let pick = |m: &std::collections::BTreeMap<String, (String, f64)>| -> Vec<f32> {
        ids.iter().map(|d| m[*d].1 as f32).collect()
    };
    let want =
        langbias_eval::routing::route_and_standardise(&pick(&own), &pick(&cross), &langs, "de")
            .unwrap();
    for ((id, got), want) in ids.iter().zip(pick(&routed)).zip(want) {
        assert!(
            (got - want).abs() < 1e-4,
            "{id}: routed {got}, by hand {want}"
        );
    }
    // Feedback leaves the query's language as it is and moves the others.
    let moved: Vec<&&String> = ids
        .iter()
        .filter(|d| (with_feedback[**d].1 - routed[**d].1).abs() > 1e-6)
        .collect();
    assert!(!moved.is_empty());
    assert!(moved.iter().all(|d| routed[**d].0 != "de"), "{moved:?}");
    // The base model routes to itself: without feedback, that is z-scores.
    let (ok, b, err) = rank_on(Path::new("base"), &["--routed", "--feedback-weight", "0"]);
    assert!(ok, "{err}");
    let (_, bz, _) = rank_on(Path::new("base"), &["--zscore"]);
    assert_eq!(b.unwrap()["hits"], bz.unwrap()["hits"]);
    let (ok, _, err) = rank_on(&aligned, &["--routed", "on", "--zscore", "on"]);
    assert!(!ok && err.contains("choose one"), "{err}");
}

/// `langbias fit --into-adapter` stores the fitted document means in a copy of an adapter
/// (weights bit for bit); `embed` then centres passages of a model that declares centring on
/// their language's stored mean, `normalise(x − μ_L)`, checked here against the uncentred
/// vector and the means file; queries stay as they are; bad requests are clear errors.
#[test]
fn stored_means_centre_single_documents() {
    use langbias_assets::{CENTRING_KEY, LoraAdapter};
    let dir = scratch("stored-means");
    let cache = dir.join("cache");
    let shipped = std::fs::read(repo("public/adapters/aligned.safetensors")).unwrap();
    let mut adapter = LoraAdapter::from_safetensors("shipped", &shipped).unwrap();
    // This test is about an adapter that declares document centring.
    adapter
        .metadata
        .insert(CENTRING_KEY.into(), "documents".into());
    adapter.document_means.clear();
    let plain = dir.join("plain.safetensors");
    std::fs::write(&plain, adapter.to_safetensors(true).unwrap()).unwrap();
    let samples = dir.join("samples.jsonl");
    let sample = |q_en: &str, q: &str, d_en: &str, d: &str| {
        serde_json::json!({"lang": "de", "query_en": q_en, "query_l": q, "doc_en": d_en, "doc_l": d})
            .to_string()
    };
    std::fs::write(
        &samples,
        [
            sample(
                "Where is the sun?",
                "Wo ist die Sonne?",
                "The sun is behind you when you see a rainbow.",
                "Die Sonne steht hinter dir, wenn du einen Regenbogen siehst.",
            ),
            sample(
                "How long does honey keep?",
                "Wie lange hält Honig?",
                "Honey keeps for years in a closed jar.",
                "Honig hält sich in einem geschlossenen Glas jahrelang.",
            ),
        ]
        .join("\n"),
    )
    .unwrap();
    let with_means = dir.join("with-means.safetensors");
    let fitted = dir.join("fitted");
    let cache_arg = cache.to_str().unwrap();
    let (ok, _, err) = langbias(&[
        "fit",
        "--samples",
        samples.to_str().unwrap(),
        "--model",
        plain.to_str().unwrap(),
        "--means-only",
        "--out",
        fitted.to_str().unwrap(),
        "--into-adapter",
        with_means.to_str().unwrap(),
        "--cache-dir",
        cache_arg,
    ]);
    assert!(ok, "{err}");
    assert!(
        !fitted.join("procrustes.plain.json").exists(),
        "--means-only"
    );
    let means: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(fitted.join("means.plain.json")).unwrap())
            .unwrap();
    let stored = LoraAdapter::from_safetensors("m", &std::fs::read(&with_means).unwrap()).unwrap();
    assert_eq!(stored.layers, adapter.layers, "the weights bit for bit");
    assert_eq!(
        stored.document_means.keys().collect::<Vec<_>>(),
        ["de", "en"]
    );
    let mean_de: Vec<f32> = serde_json::from_value(means["documents"]["de"].clone()).unwrap();
    assert_eq!(stored.document_means["de"], mean_de);

    let embed = |model: &Path, extra: &[&str]| {
        let (ok, out, err) = langbias(
            &[
                &[
                    "embed",
                    "--model",
                    model.to_str().unwrap(),
                    "--cache-dir",
                    cache_arg,
                ][..],
                extra,
            ]
            .concat(),
        );
        (
            ok,
            serde_json::from_str::<serde_json::Value>(&out).ok(),
            err,
        )
    };
    let text = "Ein Regenbogen erscheint, wenn die Sonne hinter dir steht.";
    let (ok, raw, err) = embed(&with_means, &["--kind", "passage", "--centre", "off", text]);
    assert!(ok, "{err}");
    let raw = raw.unwrap();
    assert_eq!(raw["centred"], false);
    let (ok, centred, err) = embed(&with_means, &["--kind", "passage", text]);
    assert!(ok, "{err}");
    let centred = centred.unwrap();
    assert_eq!(centred["centred"], true);
    assert_eq!(centred["embeddings"][0]["lang"], "de", "guessed");
    let x: Vec<f32> = serde_json::from_value(raw["embeddings"][0]["embedding"].clone()).unwrap();
    let got: Vec<f32> =
        serde_json::from_value(centred["embeddings"][0]["embedding"].clone()).unwrap();
    let diff: Vec<f64> = x
        .iter()
        .zip(&mean_de)
        .map(|(a, m)| f64::from(*a) - f64::from(*m))
        .collect();
    let norm = diff.iter().map(|d| d * d).sum::<f64>().sqrt();
    for (g, d) in got.iter().zip(&diff) {
        assert!(
            (f64::from(*g) - d / norm).abs() < 1e-5,
            "{g} vs {}",
            d / norm
        );
    }
    // The same with the language given.
    let (ok, given, _) = embed(&with_means, &["--kind", "passage", "--lang", "de", text]);
    assert!(ok);
    assert_eq!(given.unwrap()["embeddings"], centred["embeddings"]);
    // Queries stay as they are.
    let (ok, query, _) = embed(&with_means, &[text]);
    assert!(ok);
    assert_eq!(query.unwrap()["centred"], false);

    // An adapter that declares centring but stores no means: uncentred, and a note says so.
    let (ok, out, err) = embed(&plain, &["--kind", "passage", text]);
    assert!(ok, "{err}");
    assert_eq!(out.unwrap()["centred"], false);
    assert!(err.contains("stores no language means"), "{err}");
    // Bad requests.
    for (model, extra, want) in [
        (
            &with_means,
            &["--kind", "passage", "--lang", "fr", text][..],
            "it has: de, en",
        ),
        (
            &with_means,
            &["--kind", "passage", "12345"][..],
            "give --lang (one of: de, en)",
        ),
        (
            &with_means,
            &["--centre", "on", text][..],
            "centring applies to passages",
        ),
        (
            &plain,
            &["--kind", "passage", "--centre", "on", text][..],
            "stores no document means",
        ),
    ] {
        let (ok, _, err) = embed(model, extra);
        assert!(!ok, "{extra:?}");
        assert!(err.contains(want), "{extra:?}: {err}");
    }
    let (ok, _, err) = langbias(&[
        "fit",
        "--samples",
        samples.to_str().unwrap(),
        "--model",
        "base",
        "--means-only",
        "--out",
        fitted.to_str().unwrap(),
        "--into-adapter",
        dir.join("x.safetensors").to_str().unwrap(),
    ]);
    assert!(!ok);
    assert!(
        err.contains("--into-adapter: the model `base` is not an adapter"),
        "{err}"
    );
}

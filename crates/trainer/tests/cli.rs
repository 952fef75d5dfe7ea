//! The `trainer` binary end to end (`cargo test` builds it): every subcommand's help, a real
//! tiny run (train on the CPU backend, export, reload), and the bad input a hostile user would
//! try. Every failure must exit non-zero with an error naming the item and what was expected,
//! never a panic.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use langbias_assets::hf_dir;
use langbias_assets::test_util::{TinyModel, word_level_tokenizer};

const VOCAB: usize = 40;

/// A scratch directory holding a tiny random base model (`base/`, hidden 16, two layers,
/// word-level tokenizer) and eight samples (`train.jsonl`).
struct Fixture {
    dir: PathBuf,
}

impl Fixture {
    fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("trainer-cli-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        write_tiny_model(&dir.join("base"));
        let lines: Vec<String> = (0..8)
            .map(|i| {
                let w = |k: usize| format!("w{}", 1 + (i * 7 + k * 3) % (VOCAB - 1));
                serde_json::json!({
                    "lang": "xx",
                    "query_en": format!("{} {}", w(0), w(1)),
                    "query_l": format!("{} {}", w(2), w(3)),
                    "doc_en": format!("{} {} {} {}", w(0), w(1), w(4), w(5)),
                    "doc_l": format!("{} {} {} {}", w(2), w(3), w(6), w(7)),
                })
                .to_string()
            })
            .collect();
        std::fs::write(dir.join("train.jsonl"), lines.join("\n") + "\n").unwrap();
        Self { dir }
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `trainer train` on the fixture's model and data into `out` (one epoch: two steps of
    /// batch 4, rank 2), `extra` flags added or replacing those defaults.
    fn train(&self, out: &str, extra: &[&str]) -> Output {
        let defaults = [
            ("--quiet", None),
            ("--backend", Some("cpu".to_owned())),
            ("--rank", Some("2".to_owned())),
            ("--batch-size", Some("4".to_owned())),
            ("--warmup", Some("0".to_owned())),
            ("--lr", Some("1e-2".to_owned())),
            (
                "--data",
                Some(self.path("train.jsonl").display().to_string()),
            ),
            (
                "--base-model",
                Some(self.path("base").display().to_string()),
            ),
            ("--out", Some(self.path(out).display().to_string())),
        ];
        let given = |flag: &str| {
            extra
                .iter()
                .any(|e| *e == flag || e.starts_with(&format!("{flag}=")))
        };
        let mut args = vec!["train".to_owned()];
        for (flag, value) in defaults {
            if !given(flag) {
                args.push(flag.to_owned());
                args.extend(value);
            }
        }
        args.extend(extra.iter().map(|s| s.to_string()));
        trainer(&args)
    }
}

impl Drop for Fixture {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn write_tiny_model(dir: &Path) {
    let weights = TinyModel {
        hidden: 16,
        intermediate: 32,
        vocab: VOCAB,
        max_positions: 64,
        scale: 0.2,
        ..TinyModel::default()
    }
    .weights();
    hf_dir::export(&weights, &word_level_tokenizer(VOCAB), dir).unwrap();
}

fn trainer<S: AsRef<std::ffi::OsStr>>(args: &[S]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_trainer"))
        .args(args)
        .output()
        .unwrap()
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[track_caller]
fn assert_ok(out: &Output) {
    assert!(out.status.success(), "expected success: {}", stderr(out));
}

/// The run failed cleanly (exit 1, no panic) with an error containing every one of `expected`.
#[track_caller]
fn assert_fails(out: &Output, expected: &[&str]) {
    let err = stderr(out);
    assert!(!err.contains("panicked"), "panic: {err}");
    assert_eq!(out.status.code(), Some(1), "{err}");
    for e in expected {
        assert!(err.contains(e), "error should contain {e:?}: {err}");
    }
}

#[test]
fn every_subcommand_has_help() {
    for (args, flag) in [
        (&["--help"][..], "prepare"),
        (&["train", "--help"], "--resume"),
        (&["prepare", "--help"], "--source"),
        (&["export", "--help"], "--hf-dir"),
    ] {
        let out = trainer(args);
        assert_ok(&out);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(text.contains(flag), "{args:?}: {text}");
    }
    let out = trainer(&["trian"]);
    assert_eq!(out.status.code(), Some(2), "a usage error");
    assert!(stderr(&out).contains("unrecognized subcommand 'trian'"));
}

#[test]
fn trains_exports_and_the_export_loads() {
    let f = Fixture::new("e2e");
    let out = f.train("run", &["--checkpoint-every", "1"]);
    assert_ok(&out);
    let run = f.path("run");
    for file in ["adapter.safetensors", "config.json", "summary.json"] {
        assert!(run.join(file).is_file(), "{file} missing");
    }
    let metrics = std::fs::read_to_string(run.join("metrics.jsonl")).unwrap();
    assert_eq!(metrics.lines().count(), 2, "{metrics}");
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(run.join("checkpoint/state.json")).unwrap()).unwrap();
    assert_eq!(state["step"], 2);
    // Only the current checkpoint's tensors are kept.
    let steps: Vec<_> = std::fs::read_dir(run.join("checkpoint"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with("step-"))
        .collect();
    assert_eq!(steps, ["step-2"]);

    let hf = f.path("hf");
    let export = |adapter: &Path| {
        trainer(&[
            "export".as_ref(),
            "--adapter".as_ref(),
            adapter.as_os_str(),
            "--base-model".as_ref(),
            f.path("base").as_os_str(),
            "--hf-dir".as_ref(),
            hf.as_os_str(),
        ])
    };
    assert_ok(&export(&run.join("adapter.safetensors")));
    let model = langbias_encoder::load::load_model(&hf, false).unwrap();
    let runtime = langbias_encoder::Runtime::cpu();
    let embeddings = model
        .encoder(&runtime)
        .unwrap()
        .embed_blocking(langbias_encoder::TextKind::Passage, &["w1 w2 w3", "w4"])
        .unwrap();
    assert!(embeddings.data.iter().all(|x| x.is_finite()));

    // A second run into the same directory must ask for --resume.
    assert_fails(&f.train("run", &[]), &["already holds a run", "--resume"]);
    // Export from a file that is not an adapter names it.
    assert_fails(&export(&f.path("train.jsonl")), &["train.jsonl"]);
}

#[test]
fn bad_configurations_name_the_option_and_the_expected_value() {
    let f = Fixture::new("config");
    let config = |name: &str, text: &str| {
        let p = f.path(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let cases: Vec<(Vec<String>, Vec<&str>)> = vec![
        (
            vec!["--config".into(), f.path("none.toml").display().to_string()],
            vec!["none.toml", "No such file"],
        ),
        (
            vec!["--config".into(), config("garbled.toml", "rank = [\n")],
            vec!["garbled.toml", "line 1"],
        ),
        (
            vec!["--config".into(), config("unknown.toml", "rnak = 4\n")],
            vec!["unknown.toml", "unknown field `rnak`"],
        ),
        (
            vec!["--config".into(), config("anchor.toml", "anchor = -1.0\n")],
            vec!["--anchor", "≥ 0", "-1"],
        ),
        (
            vec!["--config".into(), config("type.toml", "rank = \"four\"\n")],
            vec!["type.toml", "rank"],
        ),
        (vec!["--lr".into(), "NaN".into()], vec!["--lr", "NaN"]),
        (vec!["--lr=-1".into()], vec!["--lr", "positive", "-1"]),
        (vec!["--lr".into(), "inf".into()], vec!["--lr", "inf"]),
        (
            vec!["--batch-size".into(), "0".into()],
            vec!["--batch-size", "at least 2"],
        ),
        (
            vec!["--batch-size".into(), "9".into()],
            vec!["--batch-size 9", "8 samples"],
        ),
        (vec!["--tau".into(), "0".into()], vec!["--tau", "positive"]),
        (vec!["--jsd-tau=-0.5".into()], vec!["--jsd-tau", "positive"]),
        (vec!["--lambda".into(), "NaN".into()], vec!["--lambda"]),
        (
            vec!["--rank".into(), "0".into()],
            vec!["--rank", "at least 1"],
        ),
        (
            vec!["--alpha".into(), "0".into()],
            vec!["--alpha", "positive"],
        ),
        (
            vec!["--warmup".into(), "1.5".into()],
            vec!["--warmup", "[0, 1)"],
        ),
        (
            vec!["--max-steps".into(), "0".into()],
            vec!["--max-steps", "at least 1"],
        ),
        (
            vec!["--checkpoint-every".into(), "0".into()],
            vec!["--checkpoint-every"],
        ),
        (vec!["--rank=-3".into()], vec!["--rank", "-3"]),
        (
            vec!["--epochs".into(), usize::MAX.to_string()],
            vec!["--epochs", "too large"],
        ),
        (
            vec!["--devices".into(), "2".into()],
            vec!["--devices", "wgpu"],
        ),
    ];
    // Every case is tried; the failures are listed together.
    let mut wrong = Vec::new();
    for (i, (extra, expected)) in cases.into_iter().enumerate() {
        let extra: Vec<&str> = extra.iter().map(String::as_str).collect();
        let out = f.train(&format!("run-{i}"), &extra);
        let err = stderr(&out);
        if err.contains("panicked")
            || out.status.success()
            || expected.iter().any(|e| !err.contains(e))
        {
            wrong.push(format!(
                "{extra:?} (expected {expected:?}): exit {:?}, {err}",
                out.status.code()
            ));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Epochs: without --max-steps, 0 and a count whose steps overflow are refused.
    let out = trainer(&[
        "train",
        "--epochs",
        "0",
        "--data",
        &f.path("train.jsonl").display().to_string(),
    ]);
    assert_fails(&out, &["--epochs", "at least 1"]);
}

#[test]
fn bad_samples_files_name_the_file_and_line() {
    let f = Fixture::new("data");
    let data = |name: &str, text: &str| {
        let p = f.path(name);
        std::fs::write(&p, text).unwrap();
        p.display().to_string()
    };
    let good = std::fs::read_to_string(f.path("train.jsonl")).unwrap();
    let mut lines: Vec<&str> = good.lines().collect();
    lines[2] = r#"{"lang": "de", "query_en": "q", "query_l": }"#;
    let malformed = data("malformed.jsonl", &lines.join("\n"));
    lines[2] = r#"{"lang": "de", "query_en": "q", "query_l": "q", "doc_en": "d"}"#;
    let missing_field = data("missing.jsonl", &lines.join("\n"));
    let cases = [
        (
            f.path("absent.jsonl").display().to_string(),
            vec!["absent.jsonl", "No such file", "prepare"],
        ),
        (
            data("empty.jsonl", "\n\n"),
            vec!["empty.jsonl", "no samples"],
        ),
        (malformed, vec!["malformed.jsonl:3", "column"]),
        (missing_field, vec!["missing.jsonl:3", "doc_l"]),
        (
            data("binary.jsonl", "\u{0}\u{1}\u{2}"),
            vec!["binary.jsonl:1"],
        ),
        (f.path("base").display().to_string(), vec!["base"]),
    ];
    for (path, expected) in cases {
        assert_fails(&f.train("run", &["--data", &path]), &expected);
    }
}

#[test]
fn unwritable_outputs_and_bad_base_models_are_named() {
    let f = Fixture::new("out");
    let file = f.path("file");
    std::fs::write(&file, "x").unwrap();
    let under_file = file.join("run").display().to_string();
    assert_fails(
        &f.train("run", &["--out", &under_file]),
        &["output directory", "file/run"],
    );
    let missing = f.path("no-model").display().to_string();
    assert_fails(
        &f.train("run", &["--base-model", &missing]),
        &["base model", "no-model"],
    );
    let out = trainer(&[
        "export".as_ref(),
        "--base-model".as_ref(),
        f.path("base").as_os_str(),
        "--hf-dir".as_ref(),
        file.join("hf").as_os_str(),
    ]);
    assert_fails(&out, &["file/hf"]);
}

#[test]
fn a_non_finite_loss_stops_training_naming_the_step() {
    let f = Fixture::new("nan");
    let out = f.train(
        "run",
        &[
            "--lr",
            "1e30",
            "--clip-norm",
            "0",
            "--max-steps",
            "20",
            "--checkpoint-every",
            "1",
        ],
    );
    assert_fails(&out, &["training stopped at step", "last good checkpoint"]);
    assert!(
        !f.path("run/adapter.safetensors").exists(),
        "no adapter from a diverged run"
    );
}

#[test]
fn resume_refuses_corrupt_or_mismatched_checkpoints() {
    let f = Fixture::new("resume");
    assert_fails(&f.train("fresh", &["--resume"]), &["nothing to resume"]);
    assert_ok(&f.train("run", &[]));
    let checkpoint = f.path("run/checkpoint");
    // A different configuration than the run's.
    assert_fails(
        &f.train("run", &["--resume", "--rank", "3"]),
        &["--resume", "configuration differs"],
    );
    // A checkpoint of another run (rank 3) under this run's configuration.
    assert_ok(&f.train("other", &["--rank", "3"]));
    let state = std::fs::read(checkpoint.join("state.json")).unwrap();
    let ours = checkpoint.join("step-2/adapter.safetensors");
    let original = std::fs::read(&ours).unwrap();
    std::fs::copy(f.path("other/checkpoint/step-2/adapter.safetensors"), &ours).unwrap();
    assert_fails(&f.train("run", &["--resume"]), &["rank 3"]);
    // Garbled tensors and state.
    std::fs::write(&ours, &original[..original.len() / 2]).unwrap();
    assert_fails(
        &f.train("run", &["--resume"]),
        &["step-2/adapter.safetensors"],
    );
    std::fs::write(&ours, &original).unwrap();
    let optimizer = checkpoint.join("step-2/optimizer.safetensors");
    std::fs::copy(
        f.path("other/checkpoint/step-2/optimizer.safetensors"),
        &optimizer,
    )
    .unwrap();
    assert_fails(
        &f.train("run", &["--resume"]),
        &["optimizer.safetensors", "moment"],
    );
    std::fs::write(checkpoint.join("state.json"), "{\"step\": ").unwrap();
    assert_fails(&f.train("run", &["--resume"]), &["state.json", "not valid"]);
    let mut far = serde_json::from_slice::<serde_json::Value>(&state).unwrap();
    far["step"] = 99.into();
    std::fs::write(checkpoint.join("state.json"), far.to_string()).unwrap();
    assert_fails(&f.train("run", &["--resume"]), &["step 99"]);
}

/// A checkpoint that cannot be completed (here: a directory where its optimizer file must go)
/// leaves the previous checkpoint current; resuming from it gives the uninterrupted result.
#[test]
fn an_interrupted_checkpoint_keeps_the_previous_one_and_resume_works() {
    let f = Fixture::new("interrupt");
    let steps = ["--epochs", "2", "--checkpoint-every", "2"];
    assert_ok(&f.train("straight", &steps));

    let obstacle = f.path("run/checkpoint/step-4/optimizer.safetensors");
    std::fs::create_dir_all(obstacle.join("x")).unwrap();
    assert_fails(&f.train("run", &steps), &["step-4/optimizer.safetensors"]);
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(f.path("run/checkpoint/state.json")).unwrap())
            .unwrap();
    assert_eq!(state["step"], 2, "the step-2 checkpoint stays current");
    assert!(!f.path("run/adapter.safetensors").exists());

    std::fs::remove_dir_all(&obstacle).unwrap();
    let resumed: Vec<&str> = steps.iter().copied().chain(["--resume"]).collect();
    assert_ok(&f.train("run", &resumed));
    let metrics = std::fs::read_to_string(f.path("run/metrics.jsonl")).unwrap();
    let logged: Vec<u64> = metrics
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["step"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(logged, [1, 2, 3, 4], "each step logged once");
    let read = |run: &str| {
        let path = f.path(run).join("adapter.safetensors");
        langbias_assets::LoraAdapter::from_safetensors("t", &std::fs::read(path).unwrap())
            .unwrap()
            .layers
    };
    let (a, b) = (read("straight"), read("run"));
    assert_eq!(a.len(), b.len());
    for (name, pa) in &a {
        for (x, y) in pa.b.data.iter().zip(&b[name].b.data) {
            assert!((x - y).abs() < 1e-3, "{name}: {x} vs {y}");
        }
    }
}

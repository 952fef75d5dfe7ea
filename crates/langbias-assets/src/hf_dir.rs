//! Hugging Face model directories: `config.json` + `model.safetensors` + `tokenizer.json`.

use std::path::{Path, PathBuf};

use crate::{AssetError, EncoderConfig, EncoderWeights};

pub const CONFIG: &str = "config.json";
pub const WEIGHTS: &str = "model.safetensors";
pub const TOKENIZER: &str = "tokenizer.json";

fn read(path: &Path) -> Result<Vec<u8>, AssetError> {
    std::fs::read(path).map_err(|source| AssetError::Io {
        path: path.display().to_string(),
        source,
    })
}

fn read_text(path: &Path) -> Result<String, AssetError> {
    let bytes = read(path)?;
    String::from_utf8(bytes)
        .map_err(|_| AssetError::corrupt(&path.display().to_string(), "not UTF-8 text"))
}

/// The project's cache: `$LANGBIAS_CACHE`, else `$XDG_CACHE_HOME/langbias`, else
/// `~/.cache/langbias` (wheels, verified model files, the Hugging Face export, embeddings).
pub fn cache_dir() -> PathBuf {
    if let Some(dir) = std::env::var_os("LANGBIAS_CACHE") {
        return PathBuf::from(dir);
    }
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(|| PathBuf::from(".cache"))
        .join("langbias")
}

/// Reads a directory's config and weights; returns them with the `tokenizer.json` text.
pub fn load(dir: &Path) -> Result<(EncoderWeights, String), AssetError> {
    let config_path = dir.join(CONFIG);
    let config = EncoderConfig::from_hf_json(
        &config_path.display().to_string(),
        &read_text(&config_path)?,
    )?;
    let weights_path = dir.join(WEIGHTS);
    let bytes = read(&weights_path)?;
    let weights =
        EncoderWeights::from_safetensors(&weights_path.display().to_string(), config, &bytes)?;
    let tokenizer = read_text(&dir.join(TOKENIZER))?;
    Ok((weights, tokenizer))
}

/// Writes `config.json`, an fp32 `model.safetensors` and `tokenizer.json` into `dir`.
pub fn export(
    weights: &EncoderWeights,
    tokenizer_json: &str,
    dir: &Path,
) -> Result<Vec<PathBuf>, AssetError> {
    std::fs::create_dir_all(dir).map_err(|source| AssetError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    // All three files replace their old versions together, or none does.
    let mut staged = crate::atomic::Staged::new();
    staged.add(dir.join(CONFIG), weights.config.to_hf_json())?;
    staged.add(dir.join(TOKENIZER), tokenizer_json)?;
    staged.add(dir.join(WEIGHTS), weights.to_safetensors()?)?;
    let paths = staged.paths().map(Path::to_path_buf).collect();
    staged.commit()?;
    Ok(paths)
}

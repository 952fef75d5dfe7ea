//! Model specs on the command line → encoders, plus the on-disk embedding cache.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use langbias_assets::{LoraAdapter, sha256_hex};
use langbias_encoder::{BackendKind, Encoder, ModelAssets, Runtime, TextKind, load};

/// Where the shipped aligned adapter lives in the repository.
pub const SHIPPED_ADAPTER: &str = "public/adapters/aligned.safetensors";

/// A model named on the command line: `base`, `aligned`, an adapter (`*.safetensors` in the
/// `langbias-lora/1` format, applied to the base), an E5S1 `.bin` file or a Hugging Face dir.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub path: Option<PathBuf>,
    pub adapter: Option<PathBuf>,
}

impl ModelSpec {
    pub fn parse(spec: &str) -> Self {
        let (name, value) = match spec.split_once('=') {
            Some((n, v)) => (Some(n.to_owned()), v),
            None => (None, spec),
        };
        let path = PathBuf::from(value);
        let stem = || {
            path.file_stem()
                .map_or_else(|| value.to_owned(), |s| s.to_string_lossy().into_owned())
        };
        match value {
            "base" => Self {
                name: name.unwrap_or_else(|| "base".into()),
                path: None,
                adapter: None,
            },
            "aligned" => Self {
                name: name.unwrap_or_else(|| "aligned".into()),
                path: None,
                adapter: Some(PathBuf::from(SHIPPED_ADAPTER)),
            },
            _ if value.ends_with(".safetensors") && !path.is_dir() => Self {
                name: name.unwrap_or_else(stem),
                path: None,
                adapter: Some(path.clone()),
            },
            _ => Self {
                name: name.unwrap_or_else(stem),
                path: Some(path.clone()),
                adapter: None,
            },
        }
    }
}

/// Loads models once and builds encoders; keeps the base assets for adapters.
pub struct Models {
    runtime: Runtime,
    base_path: PathBuf,
    base: Option<(ModelAssets, String)>,
    use_prefixes: bool,
}

/// An encoder and the key that identifies its weights in the embedding cache.
pub struct LoadedModel {
    pub encoder: Encoder,
    pub key: String,
}

fn hash_file(path: &Path) -> Result<String> {
    if path.is_dir() {
        let weights = path.join("model.safetensors");
        let bytes =
            std::fs::read(&weights).with_context(|| format!("reading {}", weights.display()))?;
        return Ok(sha256_hex(&bytes));
    }
    Ok(sha256_hex(
        &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
    ))
}

impl Models {
    pub fn new(
        backend: BackendKind,
        base_path: Option<PathBuf>,
        use_prefixes: bool,
    ) -> Result<Self> {
        let runtime =
            Runtime::new(backend).with_context(|| format!("initialising the {backend} backend"))?;
        Ok(Self {
            runtime,
            base_path: base_path.unwrap_or_else(load::default_model_path),
            base: None,
            use_prefixes,
        })
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    fn base(&mut self) -> Result<&(ModelAssets, String)> {
        if self.base.is_none() {
            let assets = load::load_model(&self.base_path, self.use_prefixes)?;
            let key = hash_file(&self.base_path)?;
            self.base = Some((assets, key));
        }
        Ok(self.base.as_ref().unwrap_or_else(|| unreachable!()))
    }

    pub fn load(&mut self, spec: &ModelSpec) -> Result<LoadedModel> {
        if let Some(path) = &spec.path {
            let assets = load::load_model(path, self.use_prefixes)?;
            let key = hash_file(path)?;
            return Ok(LoadedModel {
                encoder: assets.encoder(&self.runtime)?,
                key,
            });
        }
        let runtime = self.runtime.clone();
        let (assets, base_key) = self.base()?;
        match &spec.adapter {
            None => Ok(LoadedModel {
                encoder: assets.encoder(&runtime)?,
                key: base_key.clone(),
            }),
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("reading adapter {}", path.display()))?;
                let adapter = LoraAdapter::from_safetensors(&path.display().to_string(), &bytes)?;
                let key = sha256_hex(format!("{base_key}+{}", sha256_hex(&bytes)).as_bytes());
                Ok(LoadedModel {
                    encoder: assets.encoder_with_adapter(&runtime, &adapter)?,
                    key,
                })
            }
        }
    }
}

/// Embeddings on disk, keyed by model and by `sha256(kind, text)`: an append-only file of
/// `[32-byte key][dim × f32]` records per model, so a second run encodes nothing.
pub struct EmbeddingCache {
    file: Option<std::fs::File>,
    dim: usize,
    map: HashMap<[u8; 32], Vec<f32>>,
}

fn text_key(kind: TextKind, text: &str) -> [u8; 32] {
    let hex = sha256_hex(format!("{}\u{0}{text}", kind.prefix()).as_bytes());
    let mut key = [0u8; 32];
    for (i, k) in key.iter_mut().enumerate() {
        *k = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).unwrap_or(0);
    }
    key
}

impl EmbeddingCache {
    /// `dir = None` keeps everything in memory only.
    pub fn open(dir: Option<&Path>, model_key: &str, dim: usize) -> Result<Self> {
        let mut map = HashMap::new();
        let Some(dir) = dir else {
            return Ok(Self {
                file: None,
                dim,
                map,
            });
        };
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating cache dir {}", dir.display()))?;
        let path = dir.join(format!(
            "{}-{dim}.emb",
            &model_key[..16.min(model_key.len())]
        ));
        if let Ok(mut f) = std::fs::File::open(&path) {
            let mut bytes = Vec::new();
            f.read_to_end(&mut bytes)?;
            let record = 32 + dim * 4;
            // A torn last record (interrupted run) is ignored, not an error.
            for chunk in bytes.chunks_exact(record) {
                let key: [u8; 32] = chunk[..32].try_into().unwrap_or([0; 32]);
                let v = chunk[32..]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                map.insert(key, v);
            }
            if bytes.len() % record != 0 {
                std::fs::write(&path, &bytes[..bytes.len() / record * record])?;
            }
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .with_context(|| format!("opening {}", path.display()))?;
        Ok(Self {
            file: Some(file),
            dim,
            map,
        })
    }

    /// Embeds `texts`, encoding only those not cached; `progress(done, total)` over the misses.
    pub fn embed(
        &mut self,
        encoder: &Encoder,
        kind: TextKind,
        texts: &[&str],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f32>>> {
        let keys: Vec<[u8; 32]> = texts.iter().map(|t| text_key(kind, t)).collect();
        let mut missing: Vec<usize> = (0..texts.len())
            .filter(|&i| !self.map.contains_key(&keys[i]))
            .collect();
        let mut seen = std::collections::HashSet::new();
        missing.retain(|&i| seen.insert(keys[i]));
        if !missing.is_empty() {
            let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
            let ids = encoder.tokenize(kind, &batch)?;
            let emb = encoder.embed_ids_blocking(&ids, progress)?;
            let mut buffer = Vec::new();
            for (row, &i) in emb.rows().zip(&missing) {
                buffer.extend_from_slice(&keys[i]);
                buffer.extend(row.iter().flat_map(|x| x.to_le_bytes()));
                self.map.insert(keys[i], row.to_vec());
            }
            if let Some(f) = &mut self.file {
                f.write_all(&buffer)?;
            }
        }
        Ok(keys
            .iter()
            .map(|k| {
                self.map
                    .get(k)
                    .cloned()
                    .unwrap_or_else(|| vec![0.0; self.dim])
            })
            .collect())
    }
}

//! Model specs on the command line → encoders, with the hash that identifies their weights.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use langbias_assets::{Centring, LoraAdapter, sha256_hex};
use langbias_encoder::{Encoder, ModelAssets, Precision, Runtime, load};
use langbias_eval::LanguageMeans;
use sha2::{Digest, Sha256};

use crate::cache::{CacheKey, LongText};

/// Where the shipped aligned adapter lives in the repository.
pub const SHIPPED_ADAPTER: &str = "public/adapters/aligned.safetensors";

/// Names the aligned adapter's file, overriding the search of [`shipped_adapter`].
pub const ADAPTER_ENV: &str = "LANGBIAS_ADAPTER";

/// The accepted forms of `--model`, for error messages.
const MODEL_FORMS: &str = "`base`, `aligned`, an adapter `FILE.safetensors`, an E5S1 `FILE.bin` \
    or a Hugging Face directory, optionally as `NAME=SPEC`";

/// The shipped aligned adapter, found from any working directory. In this order: the file
/// `$LANGBIAS_ADAPTER` names; `public/adapters/aligned.safetensors` under the current
/// directory, under each directory above the executable, and in the checkout the binary was
/// built from. The error lists where it looked.
pub fn shipped_adapter() -> Result<PathBuf> {
    if let Some(path) = std::env::var_os(ADAPTER_ENV) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!("{ADAPTER_ENV}={}: no such adapter file", path.display());
        }
        return Ok(path);
    }
    let mut tried = vec![PathBuf::from(SHIPPED_ADAPTER)];
    if let Ok(exe) = std::env::current_exe() {
        tried.extend(exe.ancestors().skip(1).map(|d| d.join(SHIPPED_ADAPTER)));
    }
    tried.push(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../..")
            .join(SHIPPED_ADAPTER),
    );
    if let Some(found) = tried.iter().find(|p| p.is_file()) {
        return Ok(found.clone());
    }
    let list: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
    bail!(
        "the shipped adapter `aligned` was not found; looked at {}; set {ADAPTER_ENV}=FILE \
         or pass the adapter's path to --model",
        list.join(", ")
    )
}

/// A model named on the command line: `base`, `aligned`, an adapter (`*.safetensors` in the
/// `langbias-lora/1` format, applied to the base), an E5S1 `.bin` file or a Hugging Face dir.
#[derive(Debug, Clone)]
pub struct ModelSpec {
    pub name: String,
    pub path: Option<PathBuf>,
    pub adapter: Option<PathBuf>,
}

impl ModelSpec {
    /// Parses `--model`; a path that does not exist is an error listing the accepted forms.
    pub fn parse(spec: &str) -> Result<Self> {
        let (name, value) = match spec.split_once('=') {
            Some((n, _)) if n.trim().is_empty() => {
                bail!("--model `{spec}`: empty name before `=` (expected {MODEL_FORMS})")
            }
            Some((n, v)) => (Some(n.to_owned()), v),
            None => (None, spec),
        };
        let path = PathBuf::from(value);
        let stem = || {
            path.file_stem()
                .map_or_else(|| value.to_owned(), |s| s.to_string_lossy().into_owned())
        };
        Ok(match value {
            "base" => Self {
                name: name.unwrap_or_else(|| "base".into()),
                path: None,
                adapter: None,
            },
            "aligned" => Self {
                name: name.unwrap_or_else(|| "aligned".into()),
                path: None,
                adapter: Some(shipped_adapter()?),
            },
            _ if !path.exists() => bail!(
                "--model `{value}` is neither `base`, `aligned`, an adapter, an E5S1 file nor a \
                 Hugging Face directory: {} does not exist (expected {MODEL_FORMS})",
                path.display()
            ),
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
        })
    }

    /// The name as used in output file names: ASCII letters, digits, `-` and `_` kept, every
    /// other character `_`.
    pub fn file_name(&self) -> String {
        self.name
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                    c
                } else {
                    '_'
                }
            })
            .collect()
    }

    /// Parses every `--model`; two models whose names give the same file name are an error
    /// (the second would overwrite the first's outputs).
    pub fn parse_all(specs: &[String]) -> Result<Vec<Self>> {
        let parsed = specs
            .iter()
            .map(|s| Self::parse(s))
            .collect::<Result<Vec<_>>>()?;
        for (i, a) in parsed.iter().enumerate() {
            if let Some(j) = (0..i).find(|&j| parsed[j].file_name() == a.file_name()) {
                bail!(
                    "--model `{}` and --model `{}` both write files named `{}`: give them \
                     different names with NAME=SPEC",
                    specs[j],
                    specs[i],
                    a.file_name()
                );
            }
        }
        Ok(parsed)
    }
}

/// `--centre` of `rank` and `embed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Centre {
    /// As the model declares ([`langbias_assets::Centring`]).
    Auto,
    On,
    Off,
}

/// Loads models once and builds encoders; keeps the base assets for adapters.
pub struct Models {
    runtime: Runtime,
    base_path: PathBuf,
    base: Option<(ModelAssets, String)>,
    use_prefixes: bool,
    precision: Precision,
}

/// An encoder and what identifies its embeddings in the cache.
pub struct LoadedModel {
    pub encoder: Encoder,
    /// sha256 over the files the model was read from (and the adapter).
    pub key: String,
    /// How the model is meant to be ranked: its adapter's [`Centring`], else none.
    pub centring: Centring,
    /// The document means its adapter stores (inductive centring), checked against the
    /// encoder's dimension; `None` when it stores none.
    pub document_means: Option<LanguageMeans>,
    prefixes: bool,
    precision: Precision,
}

impl LoadedModel {
    /// The cache key of this model's embeddings read with `long_text`.
    pub fn cache_key(&self, long_text: LongText) -> CacheKey {
        CacheKey {
            model: self.key.clone(),
            prefixes: self.prefixes,
            long_text,
            max_tokens: self.encoder.tokenizer().max_tokens(),
            backend: self.encoder.runtime().kind,
            precision: self.precision,
            dim: self.encoder.dim(),
        }
    }
}

/// sha256 over every file a model is read from: an E5S1 file and the `tokenizer.json` beside
/// it, or a Hugging Face directory's config, weights and tokenizer.
fn hash_model(path: &Path) -> Result<String> {
    let files: Vec<PathBuf> = if path.is_dir() {
        ["config.json", "model.safetensors", "tokenizer.json"]
            .iter()
            .map(|f| path.join(f))
            .collect()
    } else {
        vec![path.to_owned(), path.with_file_name("tokenizer.json")]
    };
    let mut h = Sha256::new();
    for file in &files {
        let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
        h.update(Sha256::digest(&bytes));
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

impl Models {
    pub fn new(
        backend: langbias_encoder::BackendKind,
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
            precision: Precision::F32,
        })
    }

    /// Encoders at `precision` ([`Precision::Int8`] needs `--backend cpu`).
    pub fn with_precision(mut self, precision: Precision) -> Self {
        self.precision = precision;
        self
    }

    fn base(&mut self) -> Result<&(ModelAssets, String)> {
        if self.base.is_none() {
            let assets = load::load_model(&self.base_path, self.use_prefixes)?;
            let key = hash_model(&self.base_path)?;
            self.base = Some((assets, key));
        }
        Ok(self.base.as_ref().unwrap_or_else(|| unreachable!()))
    }

    pub fn load(&mut self, spec: &ModelSpec) -> Result<LoadedModel> {
        let precision = self.precision;
        let mut loaded = self.load_f32(spec)?;
        loaded.encoder = loaded.encoder.into_precision(precision)?;
        loaded.precision = precision;
        Ok(loaded)
    }

    fn load_f32(&mut self, spec: &ModelSpec) -> Result<LoadedModel> {
        if let Some(path) = &spec.path {
            let assets = load::load_model(path, self.use_prefixes)?;
            let key = hash_model(path)?;
            return Ok(LoadedModel {
                encoder: assets.encoder(&self.runtime)?,
                key,
                centring: Centring::None,
                document_means: None,
                prefixes: self.use_prefixes,
                precision: Precision::F32,
            });
        }
        let runtime = self.runtime.clone();
        let prefixes = self.use_prefixes;
        let (assets, base_key) = self.base()?;
        match &spec.adapter {
            None => Ok(LoadedModel {
                encoder: assets.encoder(&runtime)?,
                key: base_key.clone(),
                centring: Centring::None,
                document_means: None,
                prefixes,
                precision: Precision::F32,
            }),
            Some(path) => {
                let bytes = std::fs::read(path)
                    .with_context(|| format!("reading adapter {}", path.display()))?;
                let adapter = LoraAdapter::from_safetensors(&path.display().to_string(), &bytes)?;
                let key = sha256_hex(format!("{base_key}+{}", sha256_hex(&bytes)).as_bytes());
                let encoder = assets.encoder_with_adapter(&runtime, &adapter)?;
                let document_means = stored_means(&adapter, encoder.dim())
                    .with_context(|| format!("adapter {}", path.display()))?;
                Ok(LoadedModel {
                    encoder,
                    key,
                    centring: adapter.centring()?,
                    document_means,
                    prefixes,
                    precision: Precision::F32,
                })
            }
        }
    }
}

/// An adapter's stored document means as a means file's contents (queries: none), or `None`
/// when it stores none; means of another length than the model's embeddings are an error.
pub fn stored_means(adapter: &LoraAdapter, dim: usize) -> Result<Option<LanguageMeans>> {
    if adapter.document_means.is_empty() {
        return Ok(None);
    }
    let source = adapter.document_means_source();
    let means = LanguageMeans::from_documents(dim, source, adapter.document_means.clone())
        .context("its stored document means do not fit the model")?;
    Ok(Some(means))
}

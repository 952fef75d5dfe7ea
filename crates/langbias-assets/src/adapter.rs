//! Low-rank adapters (LoRA) produced by the trainer: for a linear layer `W [out, in]`,
//! `W' = W + (alpha / rank) · B · A` with `A [rank, in]`, `B [out, rank]`.
//!
//! File format (`langbias-lora/1`): one safetensors file with tensors
//! `<hf linear name>.lora_A` and `.lora_B` (f16 or f32) and string metadata `format`, `rank`,
//! `alpha`, `base_model`, optionally `centring` ([`Centring`]: how the adapter is meant to be
//! used at inference), plus free-form provenance (`data`, `command`, …). Small enough to ship
//! with the site (rank 8 on all six linears of e5-small: 0.66 M weights, 1.3 MB in f16).
//!
//! Optionally, per-language **document means** for inductive centring: one f32 tensor
//! `langbias.document_mean.<lang>` of shape `[dim]` per language ([`DOCUMENT_MEAN_PREFIX`]),
//! the mean embedding of that language's documents under the adapted model, with their
//! provenance under the metadata key [`DOCUMENT_MEANS_SOURCE_KEY`]. They let a document be
//! centred without a pool of its language around it (`langbias embed`, a language with a
//! single document in a pool); `langbias fit --into-adapter` writes them.

use std::collections::{BTreeMap, HashMap};

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::{AssetError, HostTensor};

pub const LORA_FORMAT: &str = "langbias-lora/1";

/// The largest `|alpha / rank|` accepted: trained adapters use 0.5–4; beyond this a merged
/// delta swamps the base weights.
pub const MAX_LORA_SCALE: f32 = 1e3;

/// Metadata key of [`Centring`].
pub const CENTRING_KEY: &str = "centring";

/// Tensor name prefix of the stored document means (`langbias.document_mean.de`, …).
pub const DOCUMENT_MEAN_PREFIX: &str = "langbias.document_mean.";

/// Metadata key saying where the stored document means come from (model, data).
pub const DOCUMENT_MEANS_SOURCE_KEY: &str = "document_means_source";

/// How an adapter's embeddings are meant to be ranked, stored under [`CENTRING_KEY`] (absent:
/// [`Centring::None`]). The trainer writes it; `langbias eval` and `rank` apply it unless told
/// otherwise, so that `--model aligned` is the variant the model card reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Centring {
    /// The embeddings as they are.
    #[default]
    None,
    /// Each document centred on the mean of its language's documents in the pool and
    /// renormalised (`langbias_eval::Debias::Centre`); queries as they are.
    Documents,
    /// The embeddings as they are; each query's scores standardised per document language
    /// before the languages' lists are merged (`langbias_eval::Debias::ZScore`).
    #[serde(rename = "zscore")]
    ZScore,
    /// Documents in the query's language scored by the base model, the others by the
    /// adapter; then z-scores as [`Centring::ZScore`] and cross-lingual feedback from the
    /// query language's first document (`langbias_eval::Debias::Routed`).
    Routed,
}

impl Centring {
    /// The metadata values, in the order of the variants.
    pub const VALUES: [&str; 4] = ["none", "documents", "zscore", "routed"];
}

impl std::fmt::Display for Centring {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(Self::VALUES[*self as usize])
    }
}

impl std::str::FromStr for Centring {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "none" => Ok(Self::None),
            "documents" => Ok(Self::Documents),
            "zscore" => Ok(Self::ZScore),
            "routed" => Ok(Self::Routed),
            _ => Err(format!(
                "unknown centring {s:?} (expected one of: {})",
                Self::VALUES.join(", ")
            )),
        }
    }
}

/// The [`Centring`] under [`CENTRING_KEY`] in `metadata` (absent: none), or what is wrong.
fn centring_of(metadata: &BTreeMap<String, String>) -> Result<Centring, String> {
    metadata.get(CENTRING_KEY).map_or(Ok(Centring::None), |v| {
        v.parse()
            .map_err(|e| format!("metadata `{CENTRING_KEY}`: {e}"))
    })
}

/// Checks stored document means: language codes of ASCII letters, digits, `-` and `_`
/// (they become tensor names), one length for all, not empty, finite (checked on reading).
fn check_means(means: &BTreeMap<String, Vec<f32>>) -> Result<(), String> {
    let mut dim: Option<usize> = None;
    for (lang, v) in means {
        let valid = !lang.is_empty()
            && lang
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !valid {
            return Err(format!(
                "document mean for language {lang:?}: a code of letters, digits, `-` or `_` expected"
            ));
        }
        if v.is_empty() || dim.is_some_and(|d| d != v.len()) {
            return Err(format!(
                "document mean for `{lang}` has {} values, expected {}",
                v.len(),
                dim.map_or("at least one".to_owned(), |d| d.to_string())
            ));
        }
        if !v.iter().all(|x| x.is_finite()) {
            return Err(format!("document mean for `{lang}` has a non-finite value"));
        }
        dim = Some(v.len());
    }
    Ok(())
}

/// One adapted linear layer.
#[derive(Debug, Clone, PartialEq)]
pub struct LoraPair {
    /// `[rank, in]`
    pub a: HostTensor,
    /// `[out, rank]`
    pub b: HostTensor,
}

#[derive(Debug, Clone, PartialEq)]
pub struct LoraAdapter {
    pub rank: usize,
    pub alpha: f32,
    /// Keyed by the Hugging Face name of the linear layer, e.g. `encoder.layer.0.attention.self.query`.
    pub layers: BTreeMap<String, LoraPair>,
    /// Provenance and anything else worth keeping (`base_model`, `data`, `command`, …).
    pub metadata: BTreeMap<String, String>,
    /// Per-language mean of the adapted model's document embeddings (inductive centring),
    /// keyed by language code; every vector has the same length and finite values. Empty when
    /// the file stores none.
    pub document_means: BTreeMap<String, Vec<f32>>,
}

impl LoraAdapter {
    pub fn scale(&self) -> f32 {
        self.alpha / self.rank as f32
    }

    /// The centring this adapter is meant to be used with (metadata `centring`; absent:
    /// none). An unknown value is an error: it would silently rank another variant.
    pub fn centring(&self) -> Result<Centring, AssetError> {
        centring_of(&self.metadata).map_err(|detail| AssetError::Safetensors {
            what: "adapter".into(),
            detail,
        })
    }

    /// Where the stored document means come from (metadata [`DOCUMENT_MEANS_SOURCE_KEY`];
    /// empty when the file does not say).
    pub fn document_means_source(&self) -> &str {
        self.metadata
            .get(DOCUMENT_MEANS_SOURCE_KEY)
            .map_or("", String::as_str)
    }

    pub fn num_params(&self) -> usize {
        self.layers
            .values()
            .map(|p| p.a.data.len() + p.b.data.len())
            .sum()
    }

    /// Whether every factor is exactly an f16 value, so [`Self::to_safetensors`]`(true)`
    /// loses nothing (an adapter read from an f16 file).
    pub fn fits_in_half(&self) -> bool {
        self.layers.values().all(|p| {
            [&p.a, &p.b]
                .iter()
                .all(|t| t.data.iter().all(|&x| half::f16::from_f32(x).to_f32() == x))
        })
    }

    /// Serialises to safetensors; `half` stores the factors in f16.
    pub fn to_safetensors(&self, half: bool) -> Result<Vec<u8>, AssetError> {
        let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
        for (name, pair) in &self.layers {
            for (suffix, t) in [("lora_A", &pair.a), ("lora_B", &pair.b)] {
                let bytes: Vec<u8> = if half {
                    t.data
                        .iter()
                        .flat_map(|x| half::f16::from_f32(*x).to_le_bytes())
                        .collect()
                } else {
                    t.data.iter().flat_map(|x| x.to_le_bytes()).collect()
                };
                owned.push((format!("{name}.{suffix}"), t.shape.clone(), bytes));
            }
        }
        let dtype = if half { Dtype::F16 } else { Dtype::F32 };
        check_means(&self.document_means).map_err(|detail| AssetError::Safetensors {
            what: "adapter".into(),
            detail,
        })?;
        // The means stay f32 (a few KB): f16 would move them by up to 5e-4 per value.
        let means: Vec<(String, Vec<usize>, Vec<u8>)> = self
            .document_means
            .iter()
            .map(|(lang, v)| {
                let bytes = v.iter().flat_map(|x| x.to_le_bytes()).collect();
                (
                    format!("{DOCUMENT_MEAN_PREFIX}{lang}"),
                    vec![v.len()],
                    bytes,
                )
            })
            .collect();
        let views = owned
            .iter()
            .map(|(n, s, b)| (n, s, b, dtype))
            .chain(means.iter().map(|(n, s, b)| (n, s, b, Dtype::F32)))
            .map(|(n, s, b, dtype)| TensorView::new(dtype, s.clone(), b).map(|v| (n.clone(), v)))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| AssetError::Safetensors {
                what: "adapter".into(),
                detail: e.to_string(),
            })?;
        let mut meta: HashMap<String, String> = self.metadata.clone().into_iter().collect();
        meta.insert("format".into(), LORA_FORMAT.into());
        meta.insert("rank".into(), self.rank.to_string());
        meta.insert("alpha".into(), self.alpha.to_string());
        safetensors::serialize(views, Some(meta)).map_err(|e| AssetError::Safetensors {
            what: "adapter".into(),
            detail: e.to_string(),
        })
    }

    pub fn from_safetensors(what: &str, bytes: &[u8]) -> Result<Self, AssetError> {
        let bad = |detail: String| AssetError::Safetensors {
            what: what.into(),
            detail,
        };
        let (_, header) = SafeTensors::read_metadata(bytes).map_err(|e| bad(e.to_string()))?;
        let meta: BTreeMap<String, String> = header
            .metadata()
            .clone()
            .unwrap_or_default()
            .into_iter()
            .collect();
        if meta.get("format").map(String::as_str) != Some(LORA_FORMAT) {
            return Err(bad(format!(
                "metadata `format` is {:?}, expected `{LORA_FORMAT}`",
                meta.get("format")
            )));
        }
        let rank: usize = meta
            .get("rank")
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| bad("metadata `rank` missing".into()))?;
        let alpha: f32 = meta
            .get("alpha")
            .and_then(|r| r.parse().ok())
            .ok_or_else(|| bad("metadata `alpha` missing".into()))?;
        let scale = alpha / rank as f32;
        if rank == 0 || !alpha.is_finite() || scale.abs() > MAX_LORA_SCALE {
            return Err(bad(format!(
                "metadata rank {rank} and alpha {alpha} (expected rank ≥ 1 and a finite \
                 |alpha / rank| ≤ {MAX_LORA_SCALE})"
            )));
        }
        let st = SafeTensors::deserialize(bytes).map_err(|e| bad(e.to_string()))?;
        let mut parts: BTreeMap<String, (Option<HostTensor>, Option<HostTensor>)> = BTreeMap::new();
        let mut document_means = BTreeMap::new();
        for (key, view) in st.tensors() {
            let data: Vec<f32> = match view.dtype() {
                Dtype::F32 => view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect(),
                Dtype::F16 => view
                    .data()
                    .chunks_exact(2)
                    .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
                    .collect(),
                other => return Err(bad(format!("tensor `{key}` has dtype {other:?}"))),
            };
            crate::weights::check_finite(what, &key, &data)?;
            let t = HostTensor {
                shape: view.shape().to_vec(),
                data,
            };
            if let Some(lang) = key.strip_prefix(DOCUMENT_MEAN_PREFIX) {
                if t.shape.len() != 1 {
                    return Err(bad(format!(
                        "tensor `{key}` has shape {:?}, expected one vector `[dim]`",
                        t.shape
                    )));
                }
                document_means.insert(lang.to_owned(), t.data);
            } else if let Some(name) = key.strip_suffix(".lora_A") {
                parts.entry(name.into()).or_default().0 = Some(t);
            } else if let Some(name) = key.strip_suffix(".lora_B") {
                parts.entry(name.into()).or_default().1 = Some(t);
            } else {
                return Err(bad(format!(
                    "unexpected tensor `{key}` (expected `<layer>.lora_A`/`.lora_B` or \
                     `{DOCUMENT_MEAN_PREFIX}<lang>`)"
                )));
            }
        }
        let mut layers = BTreeMap::new();
        for (name, (a, b)) in parts {
            let (Some(a), Some(b)) = (a, b) else {
                return Err(bad(format!("layer `{name}` lacks lora_A or lora_B")));
            };
            if a.shape.len() != 2 || b.shape.len() != 2 || a.shape[0] != rank || b.shape[1] != rank
            {
                return Err(bad(format!(
                    "layer `{name}`: A {:?} / B {:?} do not match rank {rank}",
                    a.shape, b.shape
                )));
            }
            layers.insert(name, LoraPair { a, b });
        }
        centring_of(&meta).map_err(bad)?;
        check_means(&document_means).map_err(bad)?;
        Ok(Self {
            rank,
            alpha,
            layers,
            metadata: meta,
            document_means,
        })
    }

    /// Base weights with this adapter merged in (`W + scale·B·A`); the embedding table is
    /// untouched, so callers can share it between the base and the merged copy. A layer the
    /// base lacks, a factor of the wrong shape or a merged weight that is not finite is an
    /// error naming the layer.
    pub fn merge_into(
        &self,
        base: &BTreeMap<String, HostTensor>,
    ) -> Result<BTreeMap<String, HostTensor>, AssetError> {
        let mut tensors = base.clone();
        let scale = self.scale();
        for (name, pair) in &self.layers {
            let key = format!("{name}.weight");
            let error = |detail: String| AssetError::Adapter {
                what: "adapter".into(),
                layer: name.clone(),
                detail,
            };
            let w = tensors.get_mut(&key).ok_or_else(|| {
                error(format!(
                    "the base model has no tensor `{key}` (is the adapter for another model?)"
                ))
            })?;
            let &[out, inp] = w.shape.as_slice() else {
                return Err(error(format!(
                    "the base tensor `{key}` has shape {:?}, not a matrix",
                    w.shape
                )));
            };
            if pair.a.shape[1] != inp || pair.b.shape[0] != out {
                return Err(error(format!(
                    "factors A {:?} and B {:?} do not fit the base tensor `{key}` {:?}",
                    pair.a.shape, pair.b.shape, w.shape
                )));
            }
            let r = self.rank;
            for o in 0..out {
                let b_row = &pair.b.data[o * r..(o + 1) * r];
                let w_row = &mut w.data[o * inp..(o + 1) * inp];
                for (k, &b) in b_row.iter().enumerate() {
                    let a_row = &pair.a.data[k * inp..(k + 1) * inp];
                    let s = scale * b;
                    for (wv, av) in w_row.iter_mut().zip(a_row) {
                        *wv += s * av;
                    }
                }
            }
            crate::weights::check_finite("adapter merged into the base", &key, &w.data)?;
        }
        Ok(tensors)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_merge() {
        let a = HostTensor {
            shape: vec![1, 2],
            data: vec![1.0, 2.0],
        };
        let b = HostTensor {
            shape: vec![2, 1],
            data: vec![0.5, -1.0],
        };
        let adapter = LoraAdapter {
            rank: 1,
            alpha: 2.0,
            layers: BTreeMap::from([(
                "encoder.layer.0.output.dense".to_owned(),
                LoraPair { a, b },
            )]),
            metadata: BTreeMap::from([("base_model".to_owned(), "test".to_owned())]),
            document_means: BTreeMap::new(),
        };
        let bytes = adapter.to_safetensors(false).unwrap();
        let back = LoraAdapter::from_safetensors("t", &bytes).unwrap();
        assert_eq!(back.layers, adapter.layers);
        assert_eq!(back.rank, 1);
        assert_eq!(back.metadata["base_model"], "test");
        let err = LoraAdapter::from_safetensors("bad.safetensors", b"nonsense").unwrap_err();
        assert!(err.to_string().contains("bad.safetensors"));
    }

    #[test]
    fn the_centring_travels_in_the_metadata_and_an_unknown_one_is_an_error() {
        let mut adapter = LoraAdapter {
            rank: 1,
            alpha: 1.0,
            layers: BTreeMap::new(),
            metadata: BTreeMap::new(),
            document_means: BTreeMap::new(),
        };
        let read = |a: &LoraAdapter| LoraAdapter::from_safetensors("a", &a.to_safetensors(true)?);
        assert_eq!(read(&adapter).unwrap().centring().unwrap(), Centring::None);
        adapter
            .metadata
            .insert(CENTRING_KEY.into(), Centring::Documents.to_string());
        assert_eq!(
            read(&adapter).unwrap().centring().unwrap(),
            Centring::Documents
        );
        adapter
            .metadata
            .insert(CENTRING_KEY.into(), "queries".into());
        let err = read(&adapter).unwrap_err().to_string();
        assert!(err.starts_with("a: "), "names the file: {err}");
        assert!(
            err.contains("\"queries\"") && err.contains("none, documents, zscore"),
            "{err}"
        );
    }

    #[test]
    fn document_means_round_trip_in_f32_and_bad_ones_are_refused() {
        let mut adapter = LoraAdapter {
            rank: 1,
            alpha: 1.0,
            layers: BTreeMap::new(),
            metadata: BTreeMap::new(),
            document_means: BTreeMap::from([
                ("de".to_owned(), vec![0.1, -0.2, 1.0 / 3.0]),
                ("zh".to_owned(), vec![0.0, 0.5, 0.25]),
            ]),
        };
        // Stored in f32 even in a half-precision file: exactly the values given.
        let back =
            LoraAdapter::from_safetensors("a", &adapter.to_safetensors(true).unwrap()).unwrap();
        assert_eq!(back.document_means, adapter.document_means);
        adapter.document_means.insert("ar".into(), vec![1.0, 2.0]);
        let err = adapter.to_safetensors(true).unwrap_err().to_string();
        assert!(err.contains("`de` has 3 values, expected 2"), "{err}");
        adapter
            .document_means
            .insert("ar".into(), vec![1.0, f32::NAN, 0.0]);
        let err = adapter.to_safetensors(true).unwrap_err().to_string();
        assert!(err.contains("`ar` has a non-finite value"), "{err}");
        adapter.document_means.remove("ar");
        adapter
            .document_means
            .insert("x y".into(), vec![1.0, 0.0, 0.0]);
        let err = adapter.to_safetensors(true).unwrap_err().to_string();
        assert!(err.contains("\"x y\""), "{err}");
        // A mean that is not a vector, in a file written by hand.
        let data = [0u8; 8];
        let view = TensorView::new(Dtype::F32, vec![1, 2], &data).unwrap();
        let meta = HashMap::from([
            ("format".to_owned(), LORA_FORMAT.to_owned()),
            ("rank".to_owned(), "1".to_owned()),
            ("alpha".to_owned(), "1".to_owned()),
        ]);
        let bytes =
            safetensors::serialize([(format!("{DOCUMENT_MEAN_PREFIX}de"), view)], Some(meta))
                .unwrap();
        let err = LoraAdapter::from_safetensors("m.safetensors", &bytes)
            .unwrap_err()
            .to_string();
        assert!(
            err.starts_with("m.safetensors") && err.contains("[1, 2], expected one vector"),
            "{err}"
        );
    }
}

use std::collections::BTreeMap;

use safetensors::{Dtype, SafeTensors, tensor::TensorView};

use crate::tensor_names::{BertTensor, Dense, Norm, Part, TENSORS_PER_LAYER};
use crate::{AssetError, EncoderConfig, Q4_BLOCK_BYTES, Q4_BLOCK_LEN, dequantize_q4_0};

/// A dense f32 tensor on the host, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct HostTensor {
    pub shape: Vec<usize>,
    pub data: Vec<f32>,
}

/// The word-embedding table `[rows, cols]`, kept on the host in its compact form. Rows are
/// gathered per batch, so the table never becomes one GPU buffer (384 MB in f32 for e5-small).
#[derive(Debug, Clone)]
pub enum EmbeddingTable {
    /// Q4_0 blocks, `rows × cols/32` blocks of 18 bytes.
    Q4 {
        blocks: Vec<u8>,
        rows: usize,
        cols: usize,
    },
    F32 {
        data: Vec<f32>,
        rows: usize,
        cols: usize,
    },
}

impl EmbeddingTable {
    pub fn rows(&self) -> usize {
        match self {
            Self::Q4 { rows, .. } | Self::F32 { rows, .. } => *rows,
        }
    }

    pub fn cols(&self) -> usize {
        match self {
            Self::Q4 { cols, .. } | Self::F32 { cols, .. } => *cols,
        }
    }

    /// Bytes held in memory.
    pub fn byte_len(&self) -> usize {
        match self {
            Self::Q4 { blocks, .. } => blocks.len(),
            Self::F32 { data, .. } => data.len() * 4,
        }
    }

    /// Appends the f32 rows of `ids` to `out` (`ids.len() × cols` values).
    /// Ids past the table are an error, not a panic (a tokenizer from another model).
    pub fn gather_into(&self, ids: &[u32], out: &mut Vec<f32>) -> Result<(), AssetError> {
        let cols = self.cols();
        let short = || {
            AssetError::corrupt(
                "word embeddings",
                format!("the table holds fewer than {} rows of {cols}", self.rows()),
            )
        };
        out.reserve(ids.len() * cols);
        for &id in ids {
            let id = id as usize;
            if id >= self.rows() {
                return Err(AssetError::Unsupported {
                    what: "word embeddings".into(),
                    detail: format!("token id {id} is outside the table of {} rows", self.rows()),
                });
            }
            match self {
                Self::Q4 { blocks, .. } => {
                    let row_bytes = cols / Q4_BLOCK_LEN * Q4_BLOCK_BYTES;
                    let start = out.len();
                    out.resize(start + cols, 0.0);
                    let row = blocks.get(id * row_bytes..(id + 1) * row_bytes);
                    dequantize_q4_0(row.ok_or_else(short)?, &mut out[start..]);
                }
                Self::F32 { data, .. } => {
                    out.extend_from_slice(data.get(id * cols..(id + 1) * cols).ok_or_else(short)?)
                }
            }
        }
        Ok(())
    }

    /// The whole table in f32 (for export; 4 bytes per weight).
    pub fn to_f32(&self) -> Vec<f32> {
        match self {
            Self::Q4 { blocks, rows, cols } => {
                let mut out = vec![0.0; rows * cols];
                dequantize_q4_0(blocks, &mut out);
                out
            }
            Self::F32 { data, .. } => data.clone(),
        }
    }
}

/// Everything needed to build an encoder: config, the compact word-embedding table, and every
/// other tensor in f32 under its Hugging Face `BertModel` name (without a `bert.` prefix).
#[derive(Debug, Clone)]
pub struct EncoderWeights {
    pub config: EncoderConfig,
    pub word_embeddings: EmbeddingTable,
    pub tensors: BTreeMap<String, HostTensor>,
}

/// Tensors of Hugging Face checkpoints that an encoder does not use and may be present: the
/// `position_ids` buffer, the pooler and the pre-training heads (`cls.*` of BERT, `lm_head.*`
/// of RoBERTa/XLM-R). Anything else that the configuration does not use is an error.
fn is_optional_hf_tensor(name: &str) -> bool {
    matches!(
        name,
        "embeddings.position_ids" | "pooler.dense.weight" | "pooler.dense.bias"
    ) || name.starts_with("cls.")
        || name.starts_with("lm_head.")
}

/// An error naming the first non-finite value of `data`, if any.
pub(crate) fn check_finite(what: &str, name: &str, data: &[f32]) -> Result<(), AssetError> {
    match data.iter().position(|v| !v.is_finite()) {
        None => Ok(()),
        Some(index) => Err(AssetError::NonFinite {
            what: what.into(),
            name: name.into(),
            index,
            value: data[index],
        }),
    }
}

/// An error naming the first Q4_0 block whose f16 scale is not finite, if any.
pub(crate) fn check_q4_scales(what: &str, name: &str, blocks: &[u8]) -> Result<(), AssetError> {
    for (k, block) in blocks.chunks_exact(Q4_BLOCK_BYTES).enumerate() {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        if !d.is_finite() {
            return Err(AssetError::NonFinite {
                what: what.into(),
                name: format!("{name} (scale of Q4_0 block {k})"),
                index: k * Q4_BLOCK_LEN,
                value: d,
            });
        }
    }
    Ok(())
}

/// Fails if `num_hidden_layers` exceeds the file's tensor count (each layer needs 16): checked
/// before the expected names are made, so a huge layer count allocates nothing, while a few
/// layers too many still get their missing tensors named.
pub(crate) fn check_layer_count(
    what: &str,
    config: &EncoderConfig,
    tensors_in_file: usize,
) -> Result<(), AssetError> {
    if config.num_hidden_layers > tensors_in_file {
        return Err(AssetError::InvalidConfig {
            what: what.into(),
            detail: format!(
                "num_hidden_layers {} for a file of {tensors_in_file} tensors ({TENSORS_PER_LAYER} per layer)",
                config.num_hidden_layers
            ),
        });
    }
    Ok(())
}

fn to_f32(what: &str, name: &str, view: &TensorView<'_>) -> Result<Vec<f32>, AssetError> {
    let bytes = view.data();
    Ok(match view.dtype() {
        Dtype::F32 => bytes
            .chunks_exact(4)
            .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
            .collect(),
        Dtype::F16 => bytes
            .chunks_exact(2)
            .map(|c| half::f16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        Dtype::BF16 => bytes
            .chunks_exact(2)
            .map(|c| half::bf16::from_le_bytes([c[0], c[1]]).to_f32())
            .collect(),
        other => {
            return Err(AssetError::Unsupported {
                what: what.into(),
                detail: format!("dtype {other:?} of `{name}`"),
            });
        }
    })
}

impl EncoderWeights {
    /// Names and shapes every BERT encoder of `config` must have, except the word table
    /// ([`BertTensor`]): the embeddings, then per layer the six linears and the two norms.
    pub fn expected_shapes(config: &EncoderConfig) -> Vec<(String, Vec<usize>)> {
        let layers = (0..config.num_hidden_layers).flat_map(|l| {
            let dense = Dense::ALL
                .into_iter()
                .flat_map(move |d| Part::ALL.map(|p| BertTensor::Dense(l, d, p)));
            let norms = Norm::ALL
                .into_iter()
                .flat_map(move |n| Part::ALL.map(|p| BertTensor::Norm(l, n, p)));
            dense.chain(norms)
        });
        BertTensor::EMBEDDINGS
            .into_iter()
            .chain(layers)
            .map(|t| (t.name(), t.shape(config)))
            .collect()
    }

    /// Reads a Hugging Face `model.safetensors` (f32, f16 or bf16) of a BERT/XLM-R encoder.
    /// Accepts keys with or without a `bert.`/`roberta.`/`model.` prefix. Every tensor the
    /// configuration needs must be there, with its shape and finite values; any other tensor
    /// except the pooler, the pre-training heads and the `position_ids` buffer is an error
    /// (a `num_hidden_layers` below the file's layers would otherwise drop layers silently).
    pub fn from_safetensors(
        what: &str,
        config: EncoderConfig,
        bytes: &[u8],
    ) -> Result<Self, AssetError> {
        config.validate(what)?;
        let st = SafeTensors::deserialize(bytes).map_err(|e| AssetError::Safetensors {
            what: what.into(),
            detail: e.to_string(),
        })?;
        let mut by_name: BTreeMap<String, (String, TensorView<'_>)> = BTreeMap::new();
        for (key, view) in st.tensors() {
            let name = ["bert.", "roberta.", "model.", "xlm_roberta."]
                .iter()
                .find_map(|p| key.strip_prefix(p))
                .unwrap_or(&key)
                .to_owned();
            if let Some((other, _)) = by_name.get(&name) {
                return Err(AssetError::corrupt(
                    what,
                    format!("tensor `{name}` appears twice (as `{other}` and `{key}`)"),
                ));
            }
            by_name.insert(name, (key, view));
        }
        check_layer_count(what, &config, by_name.len())?;
        let expected = Self::expected_shapes(&config);
        let word_key = BertTensor::WordEmbeddings.name();
        let known: std::collections::BTreeSet<&str> = std::iter::once(word_key.as_str())
            .chain(expected.iter().map(|(n, _)| n.as_str()))
            .collect();
        let missing: Vec<String> = known
            .iter()
            .filter(|n| !by_name.contains_key(**n))
            .map(|n| (*n).to_owned())
            .collect();
        let unused: Vec<String> = by_name
            .iter()
            .filter(|(n, _)| !known.contains(n.as_str()) && !is_optional_hf_tensor(n))
            .map(|(_, (key, _))| key.clone())
            .collect();
        AssetError::check_tensor_set(what, &config, missing, unused)?;
        let fetch = |name: &str, shape: &[usize]| -> Result<Vec<f32>, AssetError> {
            let (key, view) = by_name.get(name).ok_or_else(|| AssetError::MissingTensor {
                what: what.into(),
                name: name.into(),
            })?;
            if view.shape() != shape {
                return Err(AssetError::ShapeMismatch {
                    what: what.into(),
                    name: key.clone(),
                    found: view.shape().to_vec(),
                    expected: shape.to_vec(),
                });
            }
            let data = to_f32(what, key, view)?;
            check_finite(what, key, &data)?;
            Ok(data)
        };
        let h = config.hidden_size;
        let word = fetch(&word_key, &BertTensor::WordEmbeddings.shape(&config))?;
        let word_embeddings = EmbeddingTable::F32 {
            data: word,
            rows: config.vocab_size,
            cols: h,
        };
        let mut tensors = BTreeMap::new();
        for (name, shape) in expected {
            let data = fetch(&name, &shape)?;
            tensors.insert(name, HostTensor { shape, data });
        }
        Ok(Self {
            config,
            word_embeddings,
            tensors,
        })
    }

    /// The same model with BERT position ids (0..L): RoBERTa/XLM-R models number real tokens
    /// from `pad + 1`, so their position table loses its first `pad + 1` rows (only padding
    /// used them, and padding is masked). Outputs are unchanged; BERT models pass through.
    pub fn with_bert_positions(mut self) -> Result<Self, AssetError> {
        let offset = self.config.position_offset();
        if offset == 0 {
            return Ok(self);
        }
        let key = BertTensor::PositionEmbeddings.name();
        let table = self
            .tensors
            .get_mut(&key)
            .ok_or_else(|| AssetError::MissingTensor {
                what: "weights".into(),
                name: key.clone(),
            })?;
        let &[rows, cols] = table.shape.as_slice() else {
            return Err(AssetError::corrupt(
                "weights",
                format!("{key} has shape {:?}, not [positions, hidden]", table.shape),
            ));
        };
        if rows <= offset || table.data.len() != rows * cols {
            return Err(AssetError::corrupt(
                "weights",
                format!("{rows} positions for a position offset of {offset}"),
            ));
        }
        table.data.drain(..offset * cols);
        table.shape[0] = rows - offset;
        self.config.max_position_embeddings = rows - offset;
        self.config.model_type = "bert".into();
        Ok(self)
    }

    /// Serialises all weights as an fp32 `model.safetensors` loadable by `transformers`' `BertModel`.
    pub fn to_safetensors(&self) -> Result<Vec<u8>, AssetError> {
        let word = HostTensor {
            shape: vec![self.word_embeddings.rows(), self.word_embeddings.cols()],
            data: self.word_embeddings.to_f32(),
        };
        let meta = std::collections::HashMap::from([("format".to_owned(), "pt".to_owned())]);
        let word_key = BertTensor::WordEmbeddings.name();
        write_f32_safetensors(
            "export",
            std::iter::once((word_key.as_str(), &word))
                .chain(self.tensors.iter().map(|(n, t)| (n.as_str(), t))),
            meta,
        )
    }
}

/// Serialises named f32 tensors, with `meta` as the header's metadata.
pub fn write_f32_safetensors<'a>(
    what: &str,
    tensors: impl IntoIterator<Item = (&'a str, &'a HostTensor)>,
    meta: std::collections::HashMap<String, String>,
) -> Result<Vec<u8>, AssetError> {
    let owned: Vec<(&str, &HostTensor, Vec<u8>)> = tensors
        .into_iter()
        .map(|(name, t)| {
            (
                name,
                t,
                t.data.iter().flat_map(|x| x.to_le_bytes()).collect(),
            )
        })
        .collect();
    let error = |e: safetensors::SafeTensorError| AssetError::Safetensors {
        what: what.into(),
        detail: e.to_string(),
    };
    let views = owned
        .iter()
        .map(|(name, t, bytes)| {
            TensorView::new(Dtype::F32, t.shape.clone(), bytes).map(|v| (name.to_string(), v))
        })
        .collect::<Result<Vec<_>, _>>()
        .map_err(error)?;
    safetensors::serialize(views, Some(meta)).map_err(error)
}

/// Named tensors and the header's metadata of a safetensors file.
pub type TensorsWithMetadata = (
    BTreeMap<String, HostTensor>,
    std::collections::HashMap<String, String>,
);

/// Every tensor of a safetensors file as f32 (F32, F16 or BF16 stored), with the header's
/// metadata.
pub fn read_f32_safetensors(what: &str, bytes: &[u8]) -> Result<TensorsWithMetadata, AssetError> {
    let error = |e: safetensors::SafeTensorError| AssetError::Safetensors {
        what: what.into(),
        detail: e.to_string(),
    };
    let (_, header) = SafeTensors::read_metadata(bytes).map_err(error)?;
    let meta = header.metadata().clone().unwrap_or_default();
    let st = SafeTensors::deserialize(bytes).map_err(error)?;
    let mut tensors = BTreeMap::new();
    for (name, view) in st.tensors() {
        let data = to_f32(what, &name, &view)?;
        let shape = view.shape().to_vec();
        tensors.insert(name, HostTensor { shape, data });
    }
    Ok((tensors, meta))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn f32_safetensors_round_trip_with_metadata() {
        let a = HostTensor {
            shape: vec![2, 3],
            data: vec![1.0, -2.5, 3.25, 0.0, f32::MIN_POSITIVE, 1e30],
        };
        let b = HostTensor {
            shape: vec![1],
            data: vec![7.0],
        };
        let meta = std::collections::HashMap::from([("step".to_owned(), "12".to_owned())]);
        let bytes = write_f32_safetensors("t", [("x.a", &a), ("y", &b)], meta.clone()).unwrap();
        let (tensors, back) = read_f32_safetensors("t", &bytes).unwrap();
        assert_eq!(back, meta);
        assert_eq!(tensors["x.a"], a);
        assert_eq!(tensors["y"], b);
        assert!(read_f32_safetensors("t", &bytes[..bytes.len() - 4]).is_err());
    }
}

//! The `E5S1` container (version 1): a little-endian header, the tokenizer's pieces, scores and
//! normalisation table, then a tensor directory whose large matrices are Q4_0 blocks.
//! Layout: `docs/e5s1-format.md`; this reader checks every offset it follows.

use std::collections::{BTreeMap, BTreeSet};

use crate::tensor_names::{BertTensor, Dense, Norm, Part};
use crate::{AssetError, EmbeddingTable, EncoderConfig, EncoderWeights, HostTensor};

/// Weights per Q4_0 block.
pub const Q4_BLOCK_LEN: usize = 32;
/// Bytes per Q4_0 block: an f16 scale and 16 bytes of packed nibbles.
pub const Q4_BLOCK_BYTES: usize = 18;

/// Storage type of one tensor in the directory.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TensorDtype {
    F32,
    Q4_0,
}

/// One entry of the tensor directory (data is a byte range of the file).
#[derive(Debug, Clone)]
pub struct E5s1Tensor {
    pub name: String,
    pub dtype: TensorDtype,
    pub n_elems: usize,
    pub(crate) offset: usize,
    n_bytes: usize,
}

/// The tokenizer section of an E5S1 file.
#[derive(Debug, Clone, PartialEq)]
pub struct E5s1Vocab {
    /// Pieces with their Unigram log-probabilities (0 for other tokenizer models), in id order.
    pub pieces: Vec<(String, f64)>,
    /// `<s>`, `</s>`, `<pad>`, `<unk>` ids (`[CLS]`, `[SEP]`, `[PAD]`, `[UNK]` for WordPiece).
    pub bos_id: u32,
    pub eos_id: u32,
    pub pad_id: u32,
    pub unk_id: u32,
    /// The per-codepoint normalisation records as stored (`entries` of them). This crate's
    /// reader never applies them (the `tokenizer.json` normaliser does), and a vocabulary read
    /// from a `tokenizer.json` has none.
    pub normalization_entries: u32,
    pub normalization_records: Vec<u8>,
}

/// A parsed E5S1 file. Holds the file's bytes; tensors are decoded on demand.
#[derive(Debug)]
pub struct E5s1 {
    /// The file's name in error messages.
    what: String,
    bytes: Vec<u8>,
    pub config: EncoderConfig,
    pub vocab: E5s1Vocab,
    tensors: Vec<E5s1Tensor>,
}

struct Reader<'a> {
    what: &'a str,
    bytes: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], AssetError> {
        let end = self
            .pos
            .checked_add(n)
            .filter(|&end| end <= self.bytes.len())
            .ok_or_else(|| {
                AssetError::corrupt(
                    self.what,
                    format!(
                        "needs {n} bytes at offset {} but the file has {}",
                        self.pos,
                        self.bytes.len()
                    ),
                )
            })?;
        let out = &self.bytes[self.pos..end];
        self.pos = end;
        Ok(out)
    }
    fn u8(&mut self) -> Result<u8, AssetError> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, AssetError> {
        Ok(u16::from_le_bytes(
            self.take(2)?.try_into().unwrap_or_default(),
        ))
    }
    fn u32(&mut self) -> Result<u32, AssetError> {
        Ok(u32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn i32_pos(&mut self, field: &str) -> Result<usize, AssetError> {
        let v = i32::from_le_bytes(self.take(4)?.try_into().unwrap_or_default());
        usize::try_from(v)
            .map_err(|_| AssetError::corrupt(self.what, format!("{field} is negative ({v})")))
    }
    fn f32(&mut self) -> Result<f32, AssetError> {
        Ok(f32::from_le_bytes(
            self.take(4)?.try_into().unwrap_or_default(),
        ))
    }
    fn u64(&mut self) -> Result<u64, AssetError> {
        Ok(u64::from_le_bytes(
            self.take(8)?.try_into().unwrap_or_default(),
        ))
    }
}

impl E5s1 {
    /// Parses an E5S1 file. `what` names it in error messages (usually its path).
    pub fn parse(what: &str, bytes: Vec<u8>) -> Result<Self, AssetError> {
        let mut r = Reader {
            what,
            bytes: &bytes,
            pos: 0,
        };
        let magic: [u8; 4] = r
            .take(4)
            .map_err(|_| AssetError::corrupt(what, format!("only {} bytes long", bytes.len())))?
            .try_into()
            .unwrap_or_default();
        if &magic != b"E5S1" {
            return Err(AssetError::BadMagic {
                what: what.into(),
                found: magic,
            });
        }
        let version = r.u32()?;
        if version != 1 {
            return Err(AssetError::BadVersion {
                what: what.into(),
                version,
            });
        }
        let hidden = r.i32_pos("hidden size")?;
        let layers = r.i32_pos("layers")?;
        let heads = r.i32_pos("heads")?;
        let inter = r.i32_pos("intermediate size")?;
        let rows = r.i32_pos("embedding rows")?;
        let max_pos = r.i32_pos("max positions")?;
        let type_vocab = r.i32_pos("token type vocab")?;
        let eps = r.f32()?;
        let block = r.i32_pos("quant block size")?;
        if block != Q4_BLOCK_LEN {
            return Err(AssetError::Unsupported {
                what: what.into(),
                detail: format!("quant block size {block} (expected {Q4_BLOCK_LEN})"),
            });
        }
        let n_pieces = r.i32_pos("n_pieces")?;
        let bos_id = r.u32()?;
        let eos_id = r.u32()?;
        let pad_id = r.u32()?;
        let unk_id = r.u32()?;
        let blob_len =
            usize::try_from(r.u64()?).map_err(|_| AssetError::corrupt(what, "blob length"))?;
        if n_pieces > rows || n_pieces == 0 {
            return Err(AssetError::corrupt(
                what,
                format!("{n_pieces} pieces for {rows} embedding rows"),
            ));
        }
        for (name, id) in [
            ("bos", bos_id),
            ("eos", eos_id),
            ("pad", pad_id),
            ("unk", unk_id),
        ] {
            if id as usize >= n_pieces {
                return Err(AssetError::corrupt(
                    what,
                    format!("{name} id {id} is outside the {n_pieces} pieces"),
                ));
            }
        }
        let words = |n: usize| {
            n.checked_mul(4)
                .ok_or_else(|| AssetError::corrupt(what, format!("{n_pieces} pieces")))
        };
        let offsets_raw = r.take(words(n_pieces + 1)?)?;
        let scores_raw = r.take(words(n_pieces)?)?;
        let blob = r.take(blob_len)?;
        let mut vocab = Vec::with_capacity(n_pieces);
        for i in 0..n_pieces {
            let at = |k: usize| {
                u32::from_le_bytes(offsets_raw[k * 4..k * 4 + 4].try_into().unwrap_or_default())
                    as usize
            };
            let (start, end) = (at(i), at(i + 1));
            let piece = blob
                .get(start..end)
                .and_then(|b| std::str::from_utf8(b).ok())
                .ok_or_else(|| {
                    AssetError::corrupt(what, format!("piece {i} has a bad offset or is not UTF-8"))
                })?;
            let score =
                f32::from_le_bytes(scores_raw[i * 4..i * 4 + 4].try_into().unwrap_or_default());
            if !score.is_finite() {
                return Err(AssetError::corrupt(
                    what,
                    format!("piece {i} has a non-finite score ({score})"),
                ));
            }
            vocab.push((piece.to_owned(), f64::from(score)));
        }
        // The per-codepoint normalisation table duplicates the tokenizer.json normaliser: it is
        // kept (so the file can be written back) but not interpreted.
        let normalization_entries = r.i32_pos("n_norm")? as u32;
        let norm_bytes = r.u32()? as usize;
        let normalization_records = r.take(norm_bytes)?.to_vec();
        let n_tensors = r.i32_pos("n_tensors")?;
        // Each directory entry takes at least this many bytes: a count beyond what the rest of
        // the file can hold is corrupt (and must not size an allocation).
        const MIN_ENTRY_BYTES: usize = 2 + 1 + 4 + 8 + 8;
        if n_tensors > (bytes.len() - r.pos) / MIN_ENTRY_BYTES {
            return Err(AssetError::corrupt(
                what,
                format!(
                    "{n_tensors} tensors in a directory of at most {} bytes",
                    bytes.len() - r.pos
                ),
            ));
        }
        let mut tensors: Vec<E5s1Tensor> = Vec::with_capacity(n_tensors);
        let mut names = BTreeSet::new();
        for _ in 0..n_tensors {
            let name_len = r.u16()? as usize;
            let name = std::str::from_utf8(r.take(name_len)?)
                .map_err(|_| AssetError::corrupt(what, "tensor name is not UTF-8"))?
                .to_owned();
            let dtype = match r.u8()? {
                0 => TensorDtype::F32,
                1 => TensorDtype::Q4_0,
                other => {
                    return Err(AssetError::Unsupported {
                        what: what.into(),
                        detail: format!("dtype {other} of `{name}`"),
                    });
                }
            };
            let n_elems = r.u32()? as usize;
            let offset =
                usize::try_from(r.u64()?).map_err(|_| AssetError::corrupt(what, "offset"))?;
            let n_bytes =
                usize::try_from(r.u64()?).map_err(|_| AssetError::corrupt(what, "size"))?;
            if !names.insert(name.clone()) {
                return Err(AssetError::corrupt(
                    what,
                    format!("tensor `{name}` appears twice"),
                ));
            }
            if dtype == TensorDtype::Q4_0 && !n_elems.is_multiple_of(Q4_BLOCK_LEN) {
                return Err(AssetError::corrupt(
                    what,
                    format!(
                        "Q4_0 tensor `{name}` has {n_elems} weights, not whole blocks of {Q4_BLOCK_LEN}"
                    ),
                ));
            }
            let expected = match dtype {
                TensorDtype::F32 => n_elems.checked_mul(4),
                TensorDtype::Q4_0 => (n_elems / Q4_BLOCK_LEN).checked_mul(Q4_BLOCK_BYTES),
            }
            .unwrap_or(usize::MAX);
            if n_bytes != expected
                || offset
                    .checked_add(n_bytes)
                    .is_none_or(|end| end > bytes.len())
            {
                return Err(AssetError::corrupt(
                    what,
                    format!(
                        "tensor `{name}` claims {n_bytes} bytes at {offset} (expected {expected}; file is {} bytes)",
                        bytes.len()
                    ),
                ));
            }
            tensors.push(E5s1Tensor {
                name,
                dtype,
                n_elems,
                offset,
                n_bytes,
            });
        }
        let config = EncoderConfig {
            hidden_size: hidden,
            num_hidden_layers: layers,
            num_attention_heads: heads,
            intermediate_size: inter,
            vocab_size: rows,
            max_position_embeddings: max_pos,
            type_vocab_size: type_vocab,
            layer_norm_eps: f64::from(eps),
            pad_token_id: pad_id,
            model_type: "bert".into(),
            hidden_act: "gelu".into(),
            position_embedding_type: "absolute".into(),
        };
        config.validate(what)?;
        check_directory(what, &config, &tensors)?;
        Ok(Self {
            what: what.to_owned(),
            bytes,
            config,
            vocab: E5s1Vocab {
                pieces: vocab,
                bos_id,
                eos_id,
                pad_id,
                unk_id,
                normalization_entries,
                normalization_records,
            },
            tensors,
        })
    }

    pub fn tensors(&self) -> &[E5s1Tensor] {
        &self.tensors
    }

    fn raw(&self, name: &str) -> Result<&E5s1Tensor, AssetError> {
        self.tensors
            .iter()
            .find(|t| t.name == name)
            .ok_or_else(|| AssetError::MissingTensor {
                what: self.what.clone(),
                name: name.into(),
            })
    }

    /// The stored bytes of one tensor (f32 little-endian or Q4_0 blocks).
    /// Empty for a tensor of another file that does not fit this one.
    pub fn tensor_bytes(&self, t: &E5s1Tensor) -> &[u8] {
        t.offset
            .checked_add(t.n_bytes)
            .and_then(|end| self.bytes.get(t.offset..end))
            .unwrap_or(&[])
    }

    /// Decodes one tensor to f32 (dequantising Q4_0), checking its element count against `shape`.
    pub fn tensor_f32(&self, name: &str, shape: &[usize]) -> Result<HostTensor, AssetError> {
        let t = self.raw(name)?;
        let n = shape_len(shape).unwrap_or(usize::MAX);
        if t.n_elems != n {
            return Err(AssetError::ShapeMismatch {
                what: self.what.clone(),
                name: name.into(),
                found: vec![t.n_elems],
                expected: shape.to_vec(),
            });
        }
        let bytes = self.tensor_bytes(t);
        let data = match t.dtype {
            TensorDtype::F32 => bytes
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes(c.try_into().unwrap_or_default()))
                .collect(),
            TensorDtype::Q4_0 => {
                let mut out = vec![0.0; n];
                dequantize_q4_0(bytes, &mut out);
                out
            }
        };
        crate::weights::check_finite(&self.what, name, &data)?;
        Ok(HostTensor {
            shape: shape.to_vec(),
            data,
        })
    }

    /// Converts the file into encoder weights under Hugging Face names. The word-embedding table
    /// stays Q4_0 (54 MB instead of 384 MB in f32); everything else is dequantised to f32.
    pub fn to_weights(&self) -> Result<EncoderWeights, AssetError> {
        let c = &self.config;
        let h = c.hidden_size;
        let word = self.raw("emb.word")?;
        let word_embeddings = match word.dtype {
            TensorDtype::Q4_0
                if Some(word.n_elems) == c.vocab_size.checked_mul(h)
                    && h.is_multiple_of(Q4_BLOCK_LEN) =>
            {
                crate::weights::check_q4_scales(&self.what, "emb.word", self.tensor_bytes(word))?;
                EmbeddingTable::Q4 {
                    blocks: self.tensor_bytes(word).to_vec(),
                    rows: c.vocab_size,
                    cols: h,
                }
            }
            TensorDtype::F32 => EmbeddingTable::F32 {
                data: self.tensor_f32("emb.word", &[c.vocab_size, h])?.data,
                rows: c.vocab_size,
                cols: h,
            },
            TensorDtype::Q4_0 => {
                return Err(AssetError::corrupt(
                    &self.what,
                    "emb.word is not a Q4_0 [rows, hidden] table",
                ));
            }
        };
        let mut tensors = BTreeMap::new();
        for entry in tensor_layout(c).into_iter().skip(1) {
            let tensor = self.tensor_f32(&entry.e5s1_name, &entry.shape)?;
            tensors.insert(entry.hf_name, tensor);
        }
        Ok(EncoderWeights {
            config: c.clone(),
            word_embeddings,
            tensors,
        })
    }
}

/// Elements of a tensor of `shape` (`None` if the product overflows).
fn shape_len(shape: &[usize]) -> Option<usize> {
    shape.iter().try_fold(1usize, |n, &d| n.checked_mul(d))
}

/// The directory must hold exactly the tensors of `config`'s layout, each with its element
/// count: a tensor it lacks, or one it does not use (a header that says 4 layers over a
/// 12-layer file), is an error naming them.
fn check_directory(
    what: &str,
    config: &EncoderConfig,
    tensors: &[E5s1Tensor],
) -> Result<(), AssetError> {
    crate::weights::check_layer_count(what, config, tensors.len())?;
    let layout = tensor_layout(config);
    let by_name: BTreeMap<&str, &E5s1Tensor> =
        tensors.iter().map(|t| (t.name.as_str(), t)).collect();
    let known: BTreeSet<&str> = layout.iter().map(|e| e.e5s1_name.as_str()).collect();
    let missing: Vec<String> = layout
        .iter()
        .filter(|e| !by_name.contains_key(e.e5s1_name.as_str()))
        .map(|e| e.e5s1_name.clone())
        .collect();
    let unused: Vec<String> = tensors
        .iter()
        .filter(|t| !known.contains(t.name.as_str()))
        .map(|t| t.name.clone())
        .collect();
    AssetError::check_tensor_set(what, config, missing, unused)?;
    for e in &layout {
        let t = by_name.get(e.e5s1_name.as_str());
        if let Some(t) = t.filter(|t| Some(t.n_elems) != shape_len(&e.shape)) {
            return Err(AssetError::ShapeMismatch {
                what: what.into(),
                name: t.name.clone(),
                found: vec![t.n_elems],
                expected: e.shape.clone(),
            });
        }
    }
    Ok(())
}

/// One tensor of an E5S1 file: its name there, its Hugging Face `BertModel` name and shape, and
/// whether it is a matrix (stored Q4_0 in the original file) or a vector/table kept in f32.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct LayoutEntry {
    pub e5s1_name: String,
    pub hf_name: String,
    pub shape: Vec<usize>,
    pub quantised: bool,
}

/// Every tensor of an E5S1 file of `config`, in the file's order (the word table first).
pub(crate) fn tensor_layout(c: &EncoderConfig) -> Vec<LayoutEntry> {
    let layers = (0..c.num_hidden_layers).flat_map(BertTensor::layer);
    std::iter::once(BertTensor::WordEmbeddings)
        .chain(BertTensor::EMBEDDINGS)
        .chain(layers)
        .map(|t| LayoutEntry {
            e5s1_name: e5s1_name(t),
            hf_name: t.name(),
            shape: t.shape(c),
            // Matrices were stored Q4_0 in the original file; vectors and tables in f32.
            quantised: matches!(
                t,
                BertTensor::WordEmbeddings | BertTensor::Dense(_, _, Part::Weight)
            ),
        })
        .collect()
}

/// A tensor's name in E5S1 files: `emb.word`, `emb.pos`, `emb.type`, `emb.ln.{w,b}`, and
/// `l{l}.<q|k|v|ao|fi|fo|aln|oln>.{w,b}` for the layers.
fn e5s1_name(t: BertTensor) -> String {
    let part = |p: Part| match p {
        Part::Weight => "w",
        Part::Bias => "b",
    };
    match t {
        BertTensor::WordEmbeddings => "emb.word".into(),
        BertTensor::PositionEmbeddings => "emb.pos".into(),
        BertTensor::TokenTypeEmbeddings => "emb.type".into(),
        BertTensor::EmbeddingNorm(p) => format!("emb.ln.{}", part(p)),
        BertTensor::Dense(l, d, p) => {
            let short = match d {
                Dense::Query => "q",
                Dense::Key => "k",
                Dense::Value => "v",
                Dense::AttentionOutput => "ao",
                Dense::Intermediate => "fi",
                Dense::Output => "fo",
            };
            format!("l{l}.{short}.{}", part(p))
        }
        BertTensor::Norm(l, n, p) => {
            let short = match n {
                Norm::Attention => "aln",
                Norm::Output => "oln",
            };
            format!("l{l}.{short}.{}", part(p))
        }
    }
}

/// Dequantises Q4_0 blocks (`block_q4_0` of ggml): per 32 weights an f16 scale `d` and 16 bytes;
/// weight j = ((qs[j] & 0x0F) − 8)·d, weight j+16 = ((qs[j] >> 4) − 8)·d.
/// `out.len()` must be `blocks.len() / 18 * 32`.
pub fn dequantize_q4_0(blocks: &[u8], out: &mut [f32]) {
    for (block, out) in blocks
        .chunks_exact(Q4_BLOCK_BYTES)
        .zip(out.chunks_exact_mut(Q4_BLOCK_LEN))
    {
        let d = half::f16::from_le_bytes([block[0], block[1]]).to_f32();
        let qs = &block[2..];
        for j in 0..16 {
            out[j] = (f32::from(qs[j] & 0x0F) - 8.0) * d;
            out[j + 16] = (f32::from(qs[j] >> 4) - 8.0) * d;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn q4_block_decodes_low_then_high_nibbles() {
        let mut block = vec![0u8; 18];
        block[..2].copy_from_slice(&half::f16::from_f32(0.5).to_le_bytes());
        block[2] = 0x9F; // low 15 → 3.5, high 9 → 0.5
        block[17] = 0x08; // low 8 → 0, high 0 → −4
        let mut out = [0.0; 32];
        dequantize_q4_0(&block, &mut out);
        assert_eq!(out[0], 3.5);
        assert_eq!(out[16], 0.5);
        assert_eq!(out[15], 0.0);
        assert_eq!(out[31], -4.0);
        assert_eq!(out[1], -4.0);
    }

    #[test]
    fn rejects_wrong_magic_and_truncation() {
        let err = E5s1::parse("x.bin", b"GGUF\0\0\0\0".to_vec()).unwrap_err();
        assert!(
            err.to_string().contains("x.bin") && err.to_string().contains("E5S1"),
            "{err}"
        );
        let err = E5s1::parse("y.bin", b"E5S1\x01\0\0\0\x80".to_vec()).unwrap_err();
        assert!(err.to_string().contains("truncated"), "{err}");
        let err = E5s1::parse("z.bin", b"E5".to_vec()).unwrap_err();
        assert!(err.to_string().contains("z.bin"), "{err}");
    }
}

//! Writing E5S1 files: how `cargo xtask setup --model DIR` turns a user's Hugging Face
//! directory into the one compact file the site downloads. Q4_0 is ggml's `block_q4_0`
//! reference quantiser, so re-quantising a dequantised file reproduces it byte for byte.

use serde_json::Value;

use crate::e5s1::{E5s1Vocab, Q4_BLOCK_BYTES, Q4_BLOCK_LEN, tensor_layout};
use crate::{AssetError, EmbeddingTable, EncoderWeights};

/// How the encoder-layer matrices are stored. The word-embedding table is always Q4_0 when its
/// width allows (a multiple of 32), since it is most of the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LayerPrecision {
    /// 4-bit, like the original file (e5-small: 71.6 MB in all).
    #[default]
    Q4_0,
    /// Exact f32 (e5-small: 139 MB in all, over the site's 75 MB budget).
    F32,
}

/// Quantises `values` (a multiple of 32 long) to Q4_0 blocks appended to `out`, exactly as
/// ggml's `quantize_row_q4_0_reference`: the block's largest-magnitude value maps to −8.
pub fn quantize_q4_0(values: &[f32], out: &mut Vec<u8>) {
    out.reserve(values.len() / Q4_BLOCK_LEN * Q4_BLOCK_BYTES);
    for block in values.chunks_exact(Q4_BLOCK_LEN) {
        let max = block
            .iter()
            .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
        let d = max / -8.0;
        let inv = if d == 0.0 { 0.0 } else { 1.0 / d };
        out.extend_from_slice(&half::f16::from_f32(d).to_le_bytes());
        // `as i8` truncates toward zero like ggml's `(int8_t)` cast; the +8.5 rounds.
        let q = |v: f32| ((v * inv + 8.5) as i8).clamp(0, 15) as u8;
        for j in 0..Q4_BLOCK_LEN / 2 {
            out.push(q(block[j]) | (q(block[j + Q4_BLOCK_LEN / 2]) << 4));
        }
    }
}

impl E5s1Vocab {
    /// The vocabulary of a Hugging Face `tokenizer.json`: Unigram pieces with their scores
    /// (XLM-R, e5), or WordPiece/BPE tokens in id order with score 0. The normalisation table
    /// stays empty (readers use the `tokenizer.json` normaliser).
    pub fn from_tokenizer_json(tokenizer_json: &str) -> Result<Self, AssetError> {
        const WHAT: &str = "tokenizer.json";
        let value: Value =
            serde_json::from_str(tokenizer_json).map_err(|source| AssetError::Json {
                what: WHAT.into(),
                source,
            })?;
        let model = value
            .get("model")
            .ok_or_else(|| AssetError::corrupt(WHAT, "no `model` object"))?;
        let kind = model.get("type").and_then(Value::as_str).unwrap_or("");
        let pieces: Vec<(String, f64)> = match (kind, model.get("vocab")) {
            ("Unigram", Some(Value::Array(entries))) => entries
                .iter()
                .enumerate()
                .map(
                    |(i, e)| match (e.get(0).and_then(Value::as_str), e.get(1)) {
                        (Some(piece), Some(score)) => {
                            Ok((piece.to_owned(), score.as_f64().unwrap_or(0.0)))
                        }
                        _ => Err(AssetError::corrupt(
                            WHAT,
                            format!("vocab entry {i} is not [piece, score]"),
                        )),
                    },
                )
                .collect::<Result<_, _>>()?,
            ("WordPiece" | "BPE", Some(Value::Object(map))) => {
                let mut by_id = vec![None; map.len()];
                for (token, id) in map {
                    let slot = id
                        .as_u64()
                        .and_then(|id| by_id.get_mut(id as usize))
                        .ok_or_else(|| {
                            AssetError::corrupt(
                                WHAT,
                                format!("token `{token}` has id {id}, outside 0..{}", map.len()),
                            )
                        })?;
                    *slot = Some((token.clone(), 0.0));
                }
                by_id
                    .into_iter()
                    .enumerate()
                    .map(|(i, t)| {
                        t.ok_or_else(|| AssetError::corrupt(WHAT, format!("no token has id {i}")))
                    })
                    .collect::<Result<_, _>>()?
            }
            _ => {
                return Err(AssetError::Unsupported {
                    what: WHAT.into(),
                    detail: format!(
                        "tokenizer model `{kind}` (expected Unigram, WordPiece or BPE)"
                    ),
                });
            }
        };
        let id_of = |names: [&str; 2]| -> Result<u32, AssetError> {
            pieces
                .iter()
                .position(|(p, _)| names.contains(&p.as_str()))
                .map(|i| i as u32)
                .ok_or_else(|| {
                    AssetError::corrupt(
                        WHAT,
                        format!("no special token {} or {}", names[0], names[1]),
                    )
                })
        };
        if pieces.is_empty() {
            return Err(AssetError::corrupt(WHAT, "the vocabulary is empty"));
        }
        Ok(Self {
            bos_id: id_of(["<s>", "[CLS]"])?,
            eos_id: id_of(["</s>", "[SEP]"])?,
            pad_id: id_of(["<pad>", "[PAD]"])?,
            unk_id: id_of(["<unk>", "[UNK]"])?,
            pieces,
            normalization_entries: 0,
            normalization_records: Vec::new(),
        })
    }
}

fn i32_field(name: &str, v: usize) -> Result<[u8; 4], AssetError> {
    i32::try_from(v)
        .map(i32::to_le_bytes)
        .map_err(|_| AssetError::Unsupported {
            what: "E5S1 writer".into(),
            detail: format!("{name} {v} does not fit the format"),
        })
}

/// Serialises `weights` and `vocab` as an E5S1 version-1 file (layout:
/// `docs/e5s1-format.md`). The weights must use BERT positions (see
/// [`EncoderWeights::with_bert_positions`]); matrices are Q4_0 per `layers` where their width is
/// a multiple of 32, everything else f32; every tensor starts at a 64-byte aligned offset.
pub fn write_e5s1(
    weights: &EncoderWeights,
    vocab: &E5s1Vocab,
    layers: LayerPrecision,
) -> Result<Vec<u8>, AssetError> {
    const WHAT: &str = "E5S1 writer";
    let c = &weights.config;
    if c.position_offset() != 0 {
        return Err(AssetError::Unsupported {
            what: WHAT.into(),
            detail: format!(
                "model_type `{}` has offset positions; convert with `with_bert_positions` first",
                c.model_type
            ),
        });
    }
    if vocab.pieces.len() > c.vocab_size {
        return Err(AssetError::Unsupported {
            what: WHAT.into(),
            detail: format!(
                "the tokenizer has {} tokens but the embedding table only {} rows",
                vocab.pieces.len(),
                c.vocab_size
            ),
        });
    }

    // Tensor payloads in file order: (name, dtype byte, element count, bytes).
    let mut payloads: Vec<(String, u8, usize, Vec<u8>)> = Vec::new();
    for entry in tensor_layout(c) {
        let n: usize = entry.shape.iter().product();
        let cols = *entry.shape.last().unwrap_or(&0);
        let is_word = entry.e5s1_name == "emb.word";
        let want_q4 = entry.quantised
            && cols.is_multiple_of(Q4_BLOCK_LEN)
            && (is_word || layers == LayerPrecision::Q4_0);
        let f32_values =
            |data: &[f32]| -> Vec<u8> { data.iter().flat_map(|x| x.to_le_bytes()).collect() };
        let (dtype, bytes) =
            if is_word {
                match &weights.word_embeddings {
                    // Already Q4_0: copied as is (no second rounding).
                    EmbeddingTable::Q4 { blocks, .. } if want_q4 => (1, blocks.clone()),
                    table if want_q4 => {
                        let mut out = Vec::new();
                        quantize_q4_0(&table.to_f32(), &mut out);
                        (1, out)
                    }
                    table => (0, f32_values(&table.to_f32())),
                }
            } else {
                let tensor = weights.tensors.get(&entry.hf_name).ok_or_else(|| {
                    AssetError::MissingTensor {
                        what: WHAT.into(),
                        name: entry.hf_name.clone(),
                    }
                })?;
                if tensor.shape != entry.shape {
                    return Err(AssetError::ShapeMismatch {
                        what: WHAT.into(),
                        name: entry.hf_name.clone(),
                        found: tensor.shape.clone(),
                        expected: entry.shape.clone(),
                    });
                }
                if want_q4 {
                    let mut out = Vec::new();
                    quantize_q4_0(&tensor.data, &mut out);
                    (1, out)
                } else {
                    (0, f32_values(&tensor.data))
                }
            };
        payloads.push((entry.e5s1_name, dtype, n, bytes));
    }

    let mut out = Vec::new();
    out.extend_from_slice(b"E5S1");
    out.extend_from_slice(&1u32.to_le_bytes());
    for (name, v) in [
        ("hidden size", c.hidden_size),
        ("layers", c.num_hidden_layers),
        ("heads", c.num_attention_heads),
        ("intermediate size", c.intermediate_size),
        ("embedding rows", c.vocab_size),
        ("max positions", c.max_position_embeddings),
        ("token type vocab", c.type_vocab_size),
    ] {
        out.extend_from_slice(&i32_field(name, v)?);
    }
    out.extend_from_slice(&(c.layer_norm_eps as f32).to_le_bytes());
    out.extend_from_slice(&i32_field("block size", Q4_BLOCK_LEN)?);
    out.extend_from_slice(&i32_field("pieces", vocab.pieces.len())?);
    for id in [vocab.bos_id, vocab.eos_id, vocab.pad_id, vocab.unk_id] {
        out.extend_from_slice(&id.to_le_bytes());
    }
    let blob: Vec<u8> = vocab.pieces.iter().flat_map(|(p, _)| p.bytes()).collect();
    out.extend_from_slice(&(blob.len() as u64).to_le_bytes());
    let mut offset = 0u32;
    out.extend_from_slice(&offset.to_le_bytes());
    for (piece, _) in &vocab.pieces {
        offset = u32::try_from(piece.len())
            .ok()
            .and_then(|n| offset.checked_add(n))
            .ok_or_else(|| AssetError::Unsupported {
                what: WHAT.into(),
                detail: "the vocabulary's pieces exceed 4 GiB".into(),
            })?;
        out.extend_from_slice(&offset.to_le_bytes());
    }
    for (_, score) in &vocab.pieces {
        out.extend_from_slice(&(*score as f32).to_le_bytes());
    }
    out.extend_from_slice(&blob);
    out.extend_from_slice(&i32_field(
        "normalisation entries",
        vocab.normalization_entries as usize,
    )?);
    out.extend_from_slice(&i32_field(
        "normalisation table bytes",
        vocab.normalization_records.len(),
    )?);
    out.extend_from_slice(&vocab.normalization_records);
    out.extend_from_slice(&i32_field("tensors", payloads.len())?);

    let align = |at: usize| at.next_multiple_of(64);
    let directory_len: usize = payloads
        .iter()
        .map(|(name, ..)| 2 + name.len() + 1 + 4 + 8 + 8)
        .sum();
    let mut data_at = align(out.len() + directory_len);
    for (name, dtype, n, bytes) in &payloads {
        out.extend_from_slice(&(name.len() as u16).to_le_bytes());
        out.extend_from_slice(name.as_bytes());
        out.push(*dtype);
        let n = u32::try_from(*n).map_err(|_| AssetError::Unsupported {
            what: WHAT.into(),
            detail: format!("tensor `{name}` has {n} elements, more than the format's u32 count"),
        })?;
        out.extend_from_slice(&n.to_le_bytes());
        out.extend_from_slice(&(data_at as u64).to_le_bytes());
        out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
        data_at = align(data_at + bytes.len());
    }
    for (_, _, _, bytes) in &payloads {
        out.resize(align(out.len()), 0);
        out.extend_from_slice(bytes);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dequantize_q4_0;
    use crate::test_util::{TINY_UNIGRAM_JSON, TinyModel};

    #[test]
    fn q4_quantiser_bounds_the_error_and_is_idempotent() {
        // Deterministic pseudo-random values with a few all-zero and single-spike blocks.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut values: Vec<f32> = (0..32 * 64)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
            })
            .collect();
        values[..32].fill(0.0);
        values[32..64].fill(0.0);
        values[40] = -3.0;
        let mut blocks = Vec::new();
        quantize_q4_0(&values, &mut blocks);
        assert_eq!(blocks.len(), 64 * 18);
        let mut back = vec![0.0; values.len()];
        dequantize_q4_0(&blocks, &mut back);
        for (block, (orig, deq)) in values.chunks(32).zip(back.chunks(32)).enumerate() {
            let max = orig
                .iter()
                .fold(0.0f32, |m, &v| if v.abs() > m.abs() { v } else { m });
            let step = (max / 8.0).abs();
            for (o, d) in orig.iter().zip(deq) {
                // Half a step, or more where a value of the other sign passes the top code
                // (+7 steps), plus the f16 rounding of the scale (2^-11 relative, ≤ 8 steps).
                let t = if max == 0.0 { 0.0 } else { o / (max / -8.0) };
                let bound = if t > 7.5 {
                    step * (t - 7.0)
                } else {
                    step / 2.0
                };
                assert!(
                    (o - d).abs() <= bound + step * 8.0 / 2048.0 + 1e-7,
                    "block {block}: {o} vs {d}"
                );
            }
        }
        assert_eq!(back[40], -3.0);
        // Quantising what was dequantised gives the same blocks (what makes files reproducible).
        let mut again = Vec::new();
        quantize_q4_0(&back, &mut again);
        assert_eq!(again, blocks);
    }

    /// A tiny XLM-R-style model (positions offset by pad + 1) with pseudo-random weights.
    fn tiny_xlmr() -> EncoderWeights {
        TinyModel {
            layers: 1,
            vocab: 6,
            max_positions: 10,
            type_vocab: 1,
            model_type: "xlm-roberta",
            pad_token_id: 1,
            layer_norm_eps: 1e-5,
            seed: 1,
            ..TinyModel::default()
        }
        .weights()
    }

    fn tiny_vocab() -> E5s1Vocab {
        E5s1Vocab::from_tokenizer_json(TINY_UNIGRAM_JSON).unwrap()
    }

    #[test]
    fn written_file_reads_back() {
        let original = tiny_xlmr();
        let weights = original.clone().with_bert_positions().unwrap();
        assert_eq!(weights.config.max_position_embeddings, 8);
        let pos = "embeddings.position_embeddings.weight";
        assert_eq!(
            weights.tensors[pos].data,
            original.tensors[pos].data[2 * 32..]
        );
        let vocab = tiny_vocab();
        assert_eq!(
            (vocab.bos_id, vocab.eos_id, vocab.pad_id, vocab.unk_id),
            (0, 2, 1, 3)
        );

        // Exact layers: everything but the 4-bit word table comes back bit for bit.
        let bytes = write_e5s1(&weights, &vocab, LayerPrecision::F32).unwrap();
        let parsed = crate::E5s1::parse("tiny.e5s1", bytes).unwrap();
        assert_eq!(parsed.vocab, vocab);
        assert_eq!(parsed.config, weights.config);
        let back = parsed.to_weights().unwrap();
        assert_eq!(back.tensors, weights.tensors);
        let mut expected_word = Vec::new();
        quantize_q4_0(&weights.word_embeddings.to_f32(), &mut expected_word);
        assert!(
            matches!(&back.word_embeddings, EmbeddingTable::Q4 { blocks, .. } if *blocks == expected_word)
        );
        for t in parsed.tensors() {
            assert_eq!(
                t.dtype == crate::TensorDtype::Q4_0,
                t.name == "emb.word",
                "{}",
                t.name
            );
        }

        // 4-bit layers: matrices within half a step, vectors exact; writing again is identical.
        let bytes = write_e5s1(&weights, &vocab, LayerPrecision::Q4_0).unwrap();
        let back = crate::E5s1::parse("tiny.e5s1", bytes.clone())
            .unwrap()
            .to_weights()
            .unwrap();
        for (name, t) in &weights.tensors {
            let got = &back.tensors[name];
            if t.shape.len() == 2 && name.starts_with("encoder.") {
                let amax = t.data.iter().fold(0.0f32, |m, v| m.max(v.abs()));
                let err = t
                    .data
                    .iter()
                    .zip(&got.data)
                    .map(|(a, b)| (a - b).abs())
                    .fold(0.0, f32::max);
                assert!(err > 0.0 && err <= amax / 8.0, "{name}: {err}");
            } else {
                assert_eq!(got, t, "{name}");
            }
        }
        assert_eq!(
            write_e5s1(&back, &vocab, LayerPrecision::Q4_0).unwrap(),
            bytes
        );

        // Offset positions and a vocabulary larger than the table are refused with a reason.
        let err = write_e5s1(&original, &vocab, LayerPrecision::Q4_0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("with_bert_positions"), "{err}");
        let mut big = vocab.clone();
        big.pieces.push(("x".into(), 0.0));
        let err = write_e5s1(&weights, &big, LayerPrecision::Q4_0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("7 tokens") && err.contains("6 rows"), "{err}");
    }

    #[test]
    fn vocab_from_wordpiece_and_bad_tokenizers() {
        let json = r#"{"model":{"type":"WordPiece","vocab":{"[PAD]":0,"[UNK]":1,"[CLS]":2,"[SEP]":3,"hello":4}}}"#;
        let v = E5s1Vocab::from_tokenizer_json(json).unwrap();
        assert_eq!((v.bos_id, v.eos_id, v.pad_id, v.unk_id), (2, 3, 0, 1));
        assert_eq!(v.pieces[4], ("hello".to_owned(), 0.0));
        let gap = r#"{"model":{"type":"WordPiece","vocab":{"[PAD]":0,"[UNK]":5}}}"#;
        let err = E5s1Vocab::from_tokenizer_json(gap).unwrap_err().to_string();
        assert!(
            err.contains("tokenizer.json") && err.contains("[UNK]"),
            "{err}"
        );
        let wordlevel = r#"{"model":{"type":"WordLevel","vocab":{}}}"#;
        let err = E5s1Vocab::from_tokenizer_json(wordlevel)
            .unwrap_err()
            .to_string();
        assert!(err.contains("WordLevel"), "{err}");
    }
}

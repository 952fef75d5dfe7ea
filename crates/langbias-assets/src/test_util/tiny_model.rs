//! A tiny random BERT or XLM-R for tests: every tensor the configuration needs, filled with
//! reproducible pseudo-random values, plus small tokenizers to go with it.

use crate::{EmbeddingTable, EncoderConfig, EncoderWeights, HostTensor};

/// `n` values uniform in `[-scale, scale)`, reproducible from `seed` (a 64-bit LCG).
pub fn pseudo_random(n: usize, seed: u64, scale: f32) -> Vec<f32> {
    let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    (0..n)
        .map(|_| {
            state = state
                .wrapping_mul(6_364_136_223_846_793_005)
                .wrapping_add(1_442_695_040_888_963_407);
            ((state >> 40) as f32 / (1u64 << 24) as f32 * 2.0 - 1.0) * scale
        })
        .collect()
}

/// The sizes and seed of a tiny random encoder. Build it with struct update syntax from
/// [`Default`] (hidden 32, 2 layers of 2 heads, FFN 64, 8 rows, 16 positions, BERT).
#[derive(Debug, Clone)]
pub struct TinyModel {
    pub hidden: usize,
    pub layers: usize,
    pub heads: usize,
    pub intermediate: usize,
    /// Rows of the word-embedding table.
    pub vocab: usize,
    pub max_positions: usize,
    pub type_vocab: usize,
    /// `bert` (positions from 0) or `xlm-roberta` (positions offset by `pad_token_id + 1`).
    pub model_type: &'static str,
    pub pad_token_id: u32,
    /// An f32, so that an E5S1 header (which stores it as f32) keeps it exactly.
    pub layer_norm_eps: f32,
    /// Tensor `k` (in [`EncoderWeights::expected_shapes`] order) gets
    /// `pseudo_random(n, seed + k, scale)`, LayerNorm weights plus one; the word table
    /// `pseudo_random(vocab · hidden, seed + 99, word_scale)`.
    pub seed: u64,
    pub scale: f32,
    pub word_scale: f32,
}

impl Default for TinyModel {
    fn default() -> Self {
        Self {
            hidden: 32,
            layers: 2,
            heads: 2,
            intermediate: 64,
            vocab: 8,
            max_positions: 16,
            type_vocab: 2,
            model_type: "bert",
            pad_token_id: 0,
            layer_norm_eps: 1e-12,
            seed: 0,
            scale: 0.5,
            word_scale: 1.0,
        }
    }
}

impl TinyModel {
    /// The configuration (checked as every reader checks it).
    ///
    /// # Panics
    /// If the sizes are not a valid configuration.
    pub fn config(&self) -> EncoderConfig {
        let config = EncoderConfig {
            hidden_size: self.hidden,
            num_hidden_layers: self.layers,
            num_attention_heads: self.heads,
            intermediate_size: self.intermediate,
            vocab_size: self.vocab,
            max_position_embeddings: self.max_positions,
            type_vocab_size: self.type_vocab,
            layer_norm_eps: f64::from(self.layer_norm_eps),
            pad_token_id: self.pad_token_id,
            model_type: self.model_type.into(),
            hidden_act: "gelu".into(),
            position_embedding_type: "absolute".into(),
        };
        config.validate("tiny").expect("a valid tiny configuration");
        config
    }

    /// The weights: the configuration, an f32 word table and every other tensor.
    pub fn weights(&self) -> EncoderWeights {
        let config = self.config();
        let tensors = EncoderWeights::expected_shapes(&config)
            .into_iter()
            .enumerate()
            .map(|(k, (name, shape))| {
                let seed = self.seed.wrapping_add(k as u64);
                let mut data = pseudo_random(shape.iter().product(), seed, self.scale);
                if name.ends_with("LayerNorm.weight") {
                    data.iter_mut().for_each(|x| *x += 1.0);
                }
                (name, HostTensor { shape, data })
            })
            .collect();
        let rows = self.vocab;
        let data = pseudo_random(
            rows * self.hidden,
            self.seed.wrapping_add(99),
            self.word_scale,
        );
        EncoderWeights {
            config,
            word_embeddings: EmbeddingTable::F32 {
                data,
                rows,
                cols: self.hidden,
            },
            tensors,
        }
    }
}

/// A `tokenizer.json` splitting on whitespace into the words `[UNK]` (id 0) and `w1` …
/// `w{vocab−1}` (id = the number), with no special tokens.
pub fn word_level_tokenizer(vocab: usize) -> String {
    let words: serde_json::Map<String, serde_json::Value> = (0..vocab)
        .map(|i| {
            let word = if i == 0 {
                "[UNK]".to_owned()
            } else {
                format!("w{i}")
            };
            (word, i.into())
        })
        .collect();
    serde_json::json!({
        "version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
        "normalizer": null, "pre_tokenizer": {"type": "Whitespace"}, "post_processor": null,
        "decoder": null, "model": {"type": "WordLevel", "vocab": words, "unk_token": "[UNK]"}
    })
    .to_string()
}

/// The model part of an XLM-R-style Unigram `tokenizer.json` with six pieces (`<s>`, `<pad>`,
/// `</s>`, `<unk>`, `▁hi`, `é`): enough for an [`E5s1Vocab`](crate::E5s1Vocab).
pub const TINY_UNIGRAM_JSON: &str = r#"{"model":{"type":"Unigram","unk_id":3,"vocab":[["<s>",0.0],["<pad>",0.0],["</s>",0.0],["<unk>",0.0],["\u2581hi",-2.5],["é",-7.25]]}}"#;

//! The Hugging Face names of a BERT/XLM-R encoder's tensors (`BertModel`'s, without a `bert.`
//! or `roberta.` prefix), each with its shape from the [`EncoderConfig`]. Written once here;
//! the readers and writers of this crate, both engines of `langbias-encoder` and the trainer's
//! LoRA and full fine-tuning name tensors through [`BertTensor`].
//!
//! With `H` = `hidden_size`, `I` = `intermediate_size`:
//!
//! | tensor | name | shape |
//! |---|---|---|
//! | [`BertTensor::WordEmbeddings`] | `embeddings.word_embeddings.weight` | `[vocab_size, H]` |
//! | [`BertTensor::PositionEmbeddings`] | `embeddings.position_embeddings.weight` | `[max_position_embeddings, H]` |
//! | [`BertTensor::TokenTypeEmbeddings`] | `embeddings.token_type_embeddings.weight` | `[type_vocab_size, H]` |
//! | [`BertTensor::EmbeddingNorm`] | `embeddings.LayerNorm.{weight,bias}` | `[H]` |
//! | [`BertTensor::Dense`] | `encoder.layer.{l}.<dense>.weight` / `.bias` | `[out, in]` / `[out]` ([`Dense::dims`]) |
//! | [`BertTensor::Norm`] | `encoder.layer.{l}.<norm>.{weight,bias}` | `[H]` |

use crate::EncoderConfig;

/// Weight or bias of a linear layer or a LayerNorm (LayerNorm's γ is `weight`, β `bias`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Part {
    Weight,
    Bias,
}

impl Part {
    pub const ALL: [Part; 2] = [Part::Weight, Part::Bias];

    /// `weight` or `bias`.
    pub fn suffix(self) -> &'static str {
        match self {
            Part::Weight => "weight",
            Part::Bias => "bias",
        }
    }
}

/// One of the six linear layers of an encoder layer, in Hugging Face's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Dense {
    /// `attention.self.query`: `[H, H]`.
    Query,
    /// `attention.self.key`: `[H, H]`.
    Key,
    /// `attention.self.value`: `[H, H]`.
    Value,
    /// `attention.output.dense`: `[H, H]`.
    AttentionOutput,
    /// `intermediate.dense`: `[I, H]`.
    Intermediate,
    /// `output.dense`: `[H, I]`.
    Output,
}

impl Dense {
    pub const ALL: [Dense; 6] = [
        Dense::Query,
        Dense::Key,
        Dense::Value,
        Dense::AttentionOutput,
        Dense::Intermediate,
        Dense::Output,
    ];

    /// The module path inside a layer (`attention.self.query`, …).
    pub fn path(self) -> &'static str {
        match self {
            Dense::Query => "attention.self.query",
            Dense::Key => "attention.self.key",
            Dense::Value => "attention.self.value",
            Dense::AttentionOutput => "attention.output.dense",
            Dense::Intermediate => "intermediate.dense",
            Dense::Output => "output.dense",
        }
    }

    /// `encoder.layer.{layer}.<path>`: the name without `.weight`/`.bias` (LoRA adapters key
    /// their factors by it).
    pub fn prefix(self, layer: usize) -> String {
        format!("{LAYER_PREFIX}.{layer}.{}", self.path())
    }

    /// `[out, in]` (the Hugging Face weight's shape; the bias is `[out]`).
    pub fn dims(self, config: &EncoderConfig) -> [usize; 2] {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        match self {
            Dense::Intermediate => [i, h],
            Dense::Output => [h, i],
            _ => [h, h],
        }
    }
}

/// One of the two LayerNorms of an encoder layer (`[H]` weight and bias).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Norm {
    /// `attention.output.LayerNorm`, after the attention block's residual.
    Attention,
    /// `output.LayerNorm`, after the feed-forward block's residual.
    Output,
}

impl Norm {
    pub const ALL: [Norm; 2] = [Norm::Attention, Norm::Output];

    /// The module path inside a layer.
    pub fn path(self) -> &'static str {
        match self {
            Norm::Attention => "attention.output.LayerNorm",
            Norm::Output => "output.LayerNorm",
        }
    }
}

/// `encoder.layer`: the encoder layers' common prefix (then `.{l}.`).
const LAYER_PREFIX: &str = "encoder.layer";

/// Tensors per encoder layer: six linears with biases and two LayerNorms.
pub const TENSORS_PER_LAYER: usize = 2 * Dense::ALL.len() + 2 * Norm::ALL.len();

/// A tensor of a BERT/XLM-R encoder (see the module docs for names and shapes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum BertTensor {
    /// `embeddings.word_embeddings.weight`: `[vocab_size, H]`.
    WordEmbeddings,
    /// `embeddings.position_embeddings.weight`: `[max_position_embeddings, H]`.
    PositionEmbeddings,
    /// `embeddings.token_type_embeddings.weight`: `[type_vocab_size, H]`.
    TokenTypeEmbeddings,
    /// `embeddings.LayerNorm.{weight,bias}`: `[H]`.
    EmbeddingNorm(Part),
    /// `encoder.layer.{l}.<dense>.{weight,bias}`: `[out, in]` / `[out]`.
    Dense(usize, Dense, Part),
    /// `encoder.layer.{l}.<norm>.{weight,bias}`: `[H]`.
    Norm(usize, Norm, Part),
}

impl BertTensor {
    /// The Hugging Face name.
    pub fn name(self) -> String {
        match self {
            BertTensor::WordEmbeddings => "embeddings.word_embeddings.weight".into(),
            BertTensor::PositionEmbeddings => "embeddings.position_embeddings.weight".into(),
            BertTensor::TokenTypeEmbeddings => "embeddings.token_type_embeddings.weight".into(),
            BertTensor::EmbeddingNorm(part) => format!("embeddings.LayerNorm.{}", part.suffix()),
            BertTensor::Dense(l, dense, part) => format!("{}.{}", dense.prefix(l), part.suffix()),
            BertTensor::Norm(l, norm, part) => {
                format!("{LAYER_PREFIX}.{l}.{}.{}", norm.path(), part.suffix())
            }
        }
    }

    /// The shape `config` implies.
    pub fn shape(self, config: &EncoderConfig) -> Vec<usize> {
        let h = config.hidden_size;
        match self {
            BertTensor::WordEmbeddings => vec![config.vocab_size, h],
            BertTensor::PositionEmbeddings => vec![config.max_position_embeddings, h],
            BertTensor::TokenTypeEmbeddings => vec![config.type_vocab_size, h],
            BertTensor::EmbeddingNorm(_) | BertTensor::Norm(..) => vec![h],
            BertTensor::Dense(_, dense, Part::Weight) => dense.dims(config).to_vec(),
            BertTensor::Dense(_, dense, Part::Bias) => vec![dense.dims(config)[0]],
        }
    }

    /// The tensors of encoder layer `l`, in Hugging Face's (and the E5S1 file's) order: the
    /// attention's query, key, value, output dense and LayerNorm, then the feed-forward's
    /// intermediate, output dense and LayerNorm; weight before bias.
    pub fn layer(l: usize) -> [BertTensor; TENSORS_PER_LAYER] {
        use Part::{Bias, Weight};
        let d = |dense, part| BertTensor::Dense(l, dense, part);
        let n = |norm, part| BertTensor::Norm(l, norm, part);
        [
            d(Dense::Query, Weight),
            d(Dense::Query, Bias),
            d(Dense::Key, Weight),
            d(Dense::Key, Bias),
            d(Dense::Value, Weight),
            d(Dense::Value, Bias),
            d(Dense::AttentionOutput, Weight),
            d(Dense::AttentionOutput, Bias),
            n(Norm::Attention, Weight),
            n(Norm::Attention, Bias),
            d(Dense::Intermediate, Weight),
            d(Dense::Intermediate, Bias),
            d(Dense::Output, Weight),
            d(Dense::Output, Bias),
            n(Norm::Output, Weight),
            n(Norm::Output, Bias),
        ]
    }

    /// The embedding tensors after the word table: positions, token types, LayerNorm.
    pub const EMBEDDINGS: [BertTensor; 4] = [
        BertTensor::PositionEmbeddings,
        BertTensor::TokenTypeEmbeddings,
        BertTensor::EmbeddingNorm(Part::Weight),
        BertTensor::EmbeddingNorm(Part::Bias),
    ];
}

impl std::fmt::Display for BertTensor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_shapes_are_hugging_faces() {
        let config = crate::test_util::TinyModel {
            hidden: 32,
            intermediate: 64,
            ..Default::default()
        }
        .config();
        let layer = BertTensor::layer(1);
        let named: Vec<(String, Vec<usize>)> =
            layer.iter().map(|t| (t.name(), t.shape(&config))).collect();
        assert_eq!(
            named[0],
            (
                "encoder.layer.1.attention.self.query.weight".into(),
                vec![32, 32]
            )
        );
        assert_eq!(
            named[9],
            (
                "encoder.layer.1.attention.output.LayerNorm.bias".into(),
                vec![32]
            )
        );
        assert_eq!(
            named[10],
            (
                "encoder.layer.1.intermediate.dense.weight".into(),
                vec![64, 32]
            )
        );
        assert_eq!(
            named[13],
            ("encoder.layer.1.output.dense.bias".into(), vec![32])
        );
        assert_eq!(
            BertTensor::EmbeddingNorm(Part::Weight).to_string(),
            "embeddings.LayerNorm.weight"
        );
        assert_eq!(Dense::Output.prefix(0), "encoder.layer.0.output.dense");
    }
}

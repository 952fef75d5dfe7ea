use serde::{Deserialize, Serialize};

use crate::AssetError;

/// Architecture of a BERT-family encoder (the subset of a Hugging Face `config.json` that
/// matters for inference). multilingual-e5-small: H = 384, 12 layers, 12 heads, FFN 1536.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EncoderConfig {
    pub hidden_size: usize,
    pub num_hidden_layers: usize,
    pub num_attention_heads: usize,
    pub intermediate_size: usize,
    /// Rows of the word-embedding table (may exceed the tokenizer's vocabulary).
    pub vocab_size: usize,
    pub max_position_embeddings: usize,
    #[serde(default = "default_type_vocab")]
    pub type_vocab_size: usize,
    #[serde(default = "default_eps")]
    pub layer_norm_eps: f64,
    #[serde(default)]
    pub pad_token_id: u32,
    /// `bert` (positions 0..L) or `xlm-roberta`/`roberta` (positions offset by pad + 1).
    #[serde(default = "default_model_type")]
    pub model_type: String,
    #[serde(default = "default_act")]
    pub hidden_act: String,
    #[serde(default = "default_position_type")]
    pub position_embedding_type: String,
}

/// The largest `layer_norm_eps` accepted (real models use 1e-12 to 1e-5).
const MAX_LAYER_NORM_EPS: f64 = 1e-2;
/// The fewest positions a model must have: `<s>`, one token and `</s>`.
const MIN_TOKENS: usize = 3;

fn default_type_vocab() -> usize {
    2
}
fn default_eps() -> f64 {
    1e-12
}
fn default_model_type() -> String {
    "bert".into()
}
fn default_act() -> String {
    "gelu".into()
}
fn default_position_type() -> String {
    "absolute".into()
}

impl EncoderConfig {
    /// Parses a Hugging Face `config.json` and checks that this crate can run it.
    pub fn from_hf_json(what: &str, json: &str) -> Result<Self, AssetError> {
        let config: Self = serde_json::from_str(json).map_err(|source| AssetError::Json {
            what: what.to_owned(),
            source,
        })?;
        config.validate(what)?;
        Ok(config)
    }

    /// Checks that this crate can run the configuration and that every field is in range
    /// (sizes positive and consistent, `layer_norm_eps` finite, positive and small,
    /// `pad_token_id` inside the vocabulary, enough positions). Every reader calls it, so the
    /// other methods may rely on it.
    pub fn validate(&self, what: &str) -> Result<(), AssetError> {
        let unsupported = |detail: String| AssetError::Unsupported {
            what: what.to_owned(),
            detail,
        };
        if !matches!(self.model_type.as_str(), "bert" | "xlm-roberta" | "roberta") {
            return Err(unsupported(format!(
                "model_type `{}` (expected a BERT-family encoder: bert, xlm-roberta, roberta)",
                self.model_type
            )));
        }
        if self.hidden_act != "gelu" {
            return Err(unsupported(format!(
                "hidden_act `{}` (expected `gelu`)",
                self.hidden_act
            )));
        }
        if self.position_embedding_type != "absolute" {
            return Err(unsupported(format!(
                "position_embedding_type `{}` (expected `absolute`)",
                self.position_embedding_type
            )));
        }
        let invalid = |detail: String| AssetError::InvalidConfig {
            what: what.to_owned(),
            detail,
        };
        for (field, value) in [
            ("hidden_size", self.hidden_size),
            ("num_hidden_layers", self.num_hidden_layers),
            ("num_attention_heads", self.num_attention_heads),
            ("intermediate_size", self.intermediate_size),
            ("vocab_size", self.vocab_size),
            ("max_position_embeddings", self.max_position_embeddings),
            ("type_vocab_size", self.type_vocab_size),
        ] {
            if value == 0 {
                return Err(invalid(format!("{field} is 0 (expected at least 1)")));
            }
        }
        if !self.hidden_size.is_multiple_of(self.num_attention_heads) {
            return Err(invalid(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            )));
        }
        let eps = self.layer_norm_eps;
        if !(eps > 0.0 && eps <= MAX_LAYER_NORM_EPS) {
            return Err(invalid(format!(
                "layer_norm_eps {eps} (expected a small positive number, at most {MAX_LAYER_NORM_EPS}, e.g. 1e-12)"
            )));
        }
        if self.pad_token_id as usize >= self.vocab_size {
            return Err(invalid(format!(
                "pad_token_id {} is outside the vocabulary of {} tokens",
                self.pad_token_id, self.vocab_size
            )));
        }
        // `<s>`, one token and `</s>` after the positions RoBERTa-style models skip.
        let needed = self.position_offset().saturating_add(MIN_TOKENS);
        if self.max_position_embeddings < needed {
            return Err(invalid(format!(
                "max_position_embeddings {} leaves fewer than {MIN_TOKENS} positions{}",
                self.max_position_embeddings,
                match self.position_offset() {
                    0 => String::new(),
                    offset => format!(
                        " after the {offset} that `{}` skips (pad_token_id {} + 1)",
                        self.model_type, self.pad_token_id
                    ),
                }
            )));
        }
        Ok(())
    }

    /// First position id: 0 for BERT, `pad_token_id + 1` for RoBERTa-style models.
    pub fn position_offset(&self) -> usize {
        match self.model_type.as_str() {
            "bert" => 0,
            _ => (self.pad_token_id as usize).saturating_add(1),
        }
    }

    /// Longest input in tokens (including `<s>` and `</s>`) the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings
            .saturating_sub(self.position_offset())
    }

    /// The configuration in a few words, for error messages.
    pub fn summary(&self) -> String {
        format!(
            "{} layers, hidden {}, {} embedding rows",
            self.num_hidden_layers, self.hidden_size, self.vocab_size
        )
    }

    /// A Hugging Face `config.json` for `BertModel` with this architecture.
    pub fn to_hf_json(&self) -> String {
        let value = serde_json::json!({
            "architectures": ["BertModel"],
            "model_type": self.model_type,
            "hidden_size": self.hidden_size,
            "num_hidden_layers": self.num_hidden_layers,
            "num_attention_heads": self.num_attention_heads,
            "intermediate_size": self.intermediate_size,
            "hidden_act": self.hidden_act,
            "hidden_dropout_prob": 0.1,
            "attention_probs_dropout_prob": 0.1,
            "max_position_embeddings": self.max_position_embeddings,
            "type_vocab_size": self.type_vocab_size,
            "initializer_range": 0.02,
            "layer_norm_eps": self.layer_norm_eps,
            "pad_token_id": self.pad_token_id,
            "position_embedding_type": self.position_embedding_type,
            "vocab_size": self.vocab_size,
            "torch_dtype": "float32",
        });
        serde_json::to_string_pretty(&value).unwrap_or_default()
    }
}

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
        if self.num_attention_heads == 0
            || !self.hidden_size.is_multiple_of(self.num_attention_heads)
        {
            return Err(unsupported(format!(
                "hidden_size {} is not divisible by num_attention_heads {}",
                self.hidden_size, self.num_attention_heads
            )));
        }
        Ok(())
    }

    /// First position id: 0 for BERT, `pad_token_id + 1` for RoBERTa-style models.
    pub fn position_offset(&self) -> usize {
        match self.model_type.as_str() {
            "bert" => 0,
            _ => self.pad_token_id as usize + 1,
        }
    }

    /// Longest input in tokens (including `<s>` and `</s>`) the position table allows.
    pub fn max_tokens(&self) -> usize {
        self.max_position_embeddings - self.position_offset()
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

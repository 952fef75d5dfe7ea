//! Text → token ids with the model's own Hugging Face `tokenizer.json` (XLM-R Unigram for e5),
//! the e5 prefixes and Hugging Face-style truncation.

use std::str::FromStr;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::EncoderError;

/// What a text is: e5 models are trained with `"query: "` and `"passage: "` prefixes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TextKind {
    Query,
    Passage,
}

impl TextKind {
    pub fn prefix(self) -> &'static str {
        match self {
            Self::Query => "query: ",
            Self::Passage => "passage: ",
        }
    }
}

/// The model's tokenizer, truncating to `max_tokens` (including `<s>` and `</s>`) exactly as
/// `transformers` does with `truncation=True, max_length=max_tokens`: the text's tail is dropped.
#[derive(Clone)]
pub struct TextTokenizer {
    inner: Tokenizer,
    max_tokens: usize,
    /// Prefix texts with `query: `/`passage: ` (e5 models); off for other encoders.
    use_prefixes: bool,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl TextTokenizer {
    pub fn from_json(
        json: &str,
        max_tokens: usize,
        use_prefixes: bool,
    ) -> Result<Self, EncoderError> {
        let mut inner =
            Tokenizer::from_str(json).map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        inner.with_padding(None);
        Ok(Self {
            inner,
            max_tokens,
            use_prefixes,
        })
    }

    /// The `tokenizer.json` text (without the truncation this wrapper adds), for exports.
    pub fn to_json(&self) -> Result<String, EncoderError> {
        let mut plain = self.inner.clone();
        plain
            .with_truncation(None)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        plain
            .to_string(false)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    /// Token ids of one text, with special tokens, truncated to `max_tokens`.
    pub fn encode(&self, kind: TextKind, text: &str) -> Result<Vec<u32>, EncoderError> {
        let input = if self.use_prefixes {
            format!("{}{text}", kind.prefix())
        } else {
            text.to_owned()
        };
        let encoding = self
            .inner
            .encode(input, true)
            .map_err(|e| EncoderError::Tokenizer(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }
}

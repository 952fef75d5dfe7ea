//! Text → token ids with the model's own Hugging Face `tokenizer.json` (XLM-R Unigram for e5),
//! the e5 prefixes and Hugging Face-style truncation, or overlapping windows for long texts.

use std::str::FromStr;
use std::sync::OnceLock;

use tokenizers::{Tokenizer, TruncationDirection, TruncationParams, TruncationStrategy};

use crate::EncoderError;

/// How errors of a loaded tokenizer name it.
const TOKENIZER: &str = "tokenizer";

/// One text's windows: the token ids of each and its weight (the text tokens it adds).
pub type TextWindows = Vec<(Vec<u32>, usize)>;

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
    /// The same tokenizer without truncation, made on the first windowed call only (it costs
    /// as much memory as the tokenizer).
    untruncated: OnceLock<Tokenizer>,
}

impl std::fmt::Debug for TextTokenizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TextTokenizer")
            .field("max_tokens", &self.max_tokens)
            .finish_non_exhaustive()
    }
}

impl TextTokenizer {
    /// Parses a `tokenizer.json` text; `what` names it (usually its path) in error messages.
    pub fn from_json(
        what: &str,
        json: &str,
        max_tokens: usize,
        use_prefixes: bool,
    ) -> Result<Self, EncoderError> {
        let invalid = |e: tokenizers::Error| {
            EncoderError::tokenizer(what, format!("not a usable tokenizer: {e}"))
        };
        let mut inner = Tokenizer::from_str(json).map_err(invalid)?;
        inner
            .with_truncation(Some(TruncationParams {
                max_length: max_tokens,
                strategy: TruncationStrategy::LongestFirst,
                stride: 0,
                direction: TruncationDirection::Right,
            }))
            .map_err(invalid)?;
        inner.with_padding(None);
        Ok(Self {
            inner,
            max_tokens,
            use_prefixes,
            untruncated: OnceLock::new(),
        })
    }

    fn untruncated(&self) -> Result<&Tokenizer, EncoderError> {
        if let Some(t) = self.untruncated.get() {
            return Ok(t);
        }
        let mut plain = self.inner.clone();
        plain
            .with_truncation(None)
            .map_err(|e| EncoderError::tokenizer(TOKENIZER, e))?;
        Ok(self.untruncated.get_or_init(|| plain))
    }

    /// The `tokenizer.json` text (without the truncation this wrapper adds), for exports.
    pub fn to_json(&self) -> Result<String, EncoderError> {
        self.untruncated()?
            .to_string(false)
            .map_err(|e| EncoderError::tokenizer(TOKENIZER, e))
    }

    pub fn max_tokens(&self) -> usize {
        self.max_tokens
    }

    fn prefixed(&self, kind: TextKind, text: &str) -> String {
        if self.use_prefixes {
            format!("{}{text}", kind.prefix())
        } else {
            text.to_owned()
        }
    }

    /// Token ids of one text, with special tokens, truncated to `max_tokens`.
    pub fn encode(&self, kind: TextKind, text: &str) -> Result<Vec<u32>, EncoderError> {
        let encoding = self
            .inner
            .encode(self.prefixed(kind, text), true)
            .map_err(|e| EncoderError::tokenizer(TOKENIZER, e))?;
        Ok(encoding.get_ids().to_vec())
    }

    /// The whole text as windows of at most `max_tokens` ids whose text parts overlap by
    /// `overlap` tokens, each keeping the special tokens and the e5 prefix, with its weight: the
    /// number of text tokens it adds to the windows before it. A text that fits gives one
    /// window equal to [`TextTokenizer::encode`].
    pub fn encode_windows(
        &self,
        kind: TextKind,
        text: &str,
        overlap: usize,
    ) -> Result<TextWindows, EncoderError> {
        let full = self
            .untruncated()?
            .encode(self.prefixed(kind, text), true)
            .map_err(|e| EncoderError::tokenizer(TOKENIZER, e))?;
        let ids = full.get_ids();
        if ids.len() <= self.max_tokens {
            return Ok(vec![(ids.to_vec(), ids.len())]);
        }
        // Between the leading and trailing special tokens: the prefix's tokens (those inside its
        // characters), which start every window, then the text's.
        let mask = full.get_special_tokens_mask();
        let head = mask.iter().take_while(|&&m| m == 1).count();
        let end = ids.len() - mask[head..].iter().rev().take_while(|&&m| m == 1).count();
        let (specials_head, specials_tail) = (&ids[..head], &ids[end..]);
        let prefix_chars = if self.use_prefixes {
            kind.prefix().len()
        } else {
            0
        };
        let prefix_len = full.get_offsets()[head..end]
            .iter()
            .take_while(|&&(_, stop)| prefix_chars > 0 && stop <= prefix_chars)
            .count();
        let prefix = &ids[head..head + prefix_len];
        let body = &ids[head + prefix_len..end];
        let width = self
            .max_tokens
            .saturating_sub(head + (ids.len() - end) + prefix_len);
        if overlap >= width {
            return Err(EncoderError::Input(format!(
                "window overlap {overlap} must be below the {width} text tokens a window holds"
            )));
        }
        let mut windows = Vec::new();
        let (mut start, mut covered) = (0, 0);
        loop {
            let stop = (start + width).min(body.len());
            let mut window = Vec::with_capacity(self.max_tokens);
            window.extend_from_slice(specials_head);
            window.extend_from_slice(prefix);
            window.extend_from_slice(&body[start..stop]);
            window.extend_from_slice(specials_tail);
            windows.push((window, stop - covered));
            covered = stop;
            if stop == body.len() {
                return Ok(windows);
            }
            start = stop - overlap;
        }
    }
}

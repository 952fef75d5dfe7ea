use thiserror::Error;

impl EncoderError {
    pub(crate) fn tokenizer(what: &str, e: impl std::fmt::Display) -> Self {
        Self::Tokenizer {
            what: what.to_owned(),
            detail: e.to_string(),
        }
    }
}

#[derive(Debug, Error)]
pub enum EncoderError {
    #[error(transparent)]
    Asset(#[from] langbias_assets::AssetError),
    /// A tokenizer that cannot be loaded or used; `what` names its file.
    #[error("{what}: {detail}")]
    Tokenizer { what: String, detail: String },
    /// The model produced a NaN or infinite embedding (broken weights or configuration).
    #[error(
        "the embedding of text {index} (0-based) is not finite: the model's weights or \
         configuration are broken (an adapter with a huge scale?)"
    )]
    NonFinite { index: usize },
    #[error("model weights lack `{0}`")]
    MissingWeight(String),
    #[error("backend: {0}")]
    Backend(String),
    #[error("reading results back from the device failed: {0}")]
    Readback(String),
    #[error("{0}")]
    Input(String),
}

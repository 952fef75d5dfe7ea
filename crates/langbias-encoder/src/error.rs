use thiserror::Error;

#[derive(Debug, Error)]
pub enum EncoderError {
    #[error(transparent)]
    Asset(#[from] langbias_assets::AssetError),
    #[error("tokenizer: {0}")]
    Tokenizer(String),
    #[error("model weights lack `{0}`")]
    MissingWeight(String),
    #[error("backend: {0}")]
    Backend(String),
    #[error("reading results back from the device failed: {0}")]
    Readback(String),
    #[error("{0}")]
    Input(String),
}

use thiserror::Error;

/// Everything that can be wrong with a model file. Messages name the file (or part) and what was
/// expected, so a user can tell a truncated download from a wrong model.
#[derive(Debug, Error)]
pub enum AssetError {
    #[error("{what}: not an E5S1 model file (expected magic `E5S1`, found {found:?})")]
    BadMagic { what: String, found: [u8; 4] },
    #[error("{what}: unsupported E5S1 version {version} (this build reads version 1)")]
    BadVersion { what: String, version: u32 },
    #[error("{what}: file is truncated or corrupt: {detail}")]
    Corrupt { what: String, detail: String },
    #[error("{what}: tensor `{name}` is missing")]
    MissingTensor { what: String, name: String },
    #[error("{what}: tensor `{name}` has shape {found:?}, expected {expected:?}")]
    ShapeMismatch {
        what: String,
        name: String,
        found: Vec<usize>,
        expected: Vec<usize>,
    },
    #[error("{what}: unsupported: {detail}")]
    Unsupported { what: String, detail: String },
    #[error("{what}: invalid JSON: {source}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("{what}: invalid safetensors: {detail}")]
    Safetensors { what: String, detail: String },
    #[error("{path}: {source}")]
    Io {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

impl AssetError {
    pub(crate) fn corrupt(what: &str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.to_owned(),
            detail: detail.into(),
        }
    }
}

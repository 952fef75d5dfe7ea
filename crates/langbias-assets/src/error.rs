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
    #[error(
        "{what}: the tensors do not match the configuration ({config}): {}",
        tensor_mismatch(.missing, .unused)
    )]
    TensorMismatch {
        what: String,
        /// The configuration in a few words (`12 layers, hidden 384`).
        config: String,
        /// Tensors the configuration needs that the file lacks.
        missing: Vec<String>,
        /// Tensors in the file that the configuration does not use.
        unused: Vec<String>,
    },
    #[error("{what}: tensor `{name}` has a non-finite value ({value}) at element {index}")]
    NonFinite {
        what: String,
        name: String,
        index: usize,
        value: f32,
    },
    #[error("{what}: invalid model configuration: {detail}")]
    InvalidConfig { what: String, detail: String },
    #[error("{what}: layer `{layer}`: {detail}")]
    Adapter {
        what: String,
        layer: String,
        detail: String,
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

/// `missing `a`, `b`; not used: `c`` with at most a few names of each and a count of the rest.
fn tensor_mismatch(missing: &[String], unused: &[String]) -> String {
    const SHOWN: usize = 4;
    let list = |label: &str, names: &[String]| {
        let mut out = format!("{label} {}", names.len());
        let shown: Vec<String> = names.iter().take(SHOWN).map(|n| format!("`{n}`")).collect();
        out.push_str(&format!(" ({}", shown.join(", ")));
        if names.len() > SHOWN {
            out.push_str(&format!(", … {} more", names.len() - SHOWN));
        }
        out.push(')');
        out
    };
    let mut parts = Vec::new();
    if !missing.is_empty() {
        parts.push(list("missing", missing));
    }
    if !unused.is_empty() {
        parts.push(list("not used by it", unused));
    }
    parts.join("; ")
}

impl AssetError {
    /// `Ok` when no tensor is `missing` or `unused`, else [`AssetError::TensorMismatch`]
    /// (the one check every reader of a tensor set makes against the configuration).
    pub(crate) fn check_tensor_set(
        what: &str,
        config: &crate::EncoderConfig,
        missing: Vec<String>,
        unused: Vec<String>,
    ) -> Result<(), Self> {
        if missing.is_empty() && unused.is_empty() {
            return Ok(());
        }
        Err(Self::TensorMismatch {
            what: what.to_owned(),
            config: config.summary(),
            missing,
            unused,
        })
    }

    pub(crate) fn corrupt(what: &str, detail: impl Into<String>) -> Self {
        Self::Corrupt {
            what: what.to_owned(),
            detail: detail.into(),
        }
    }
}

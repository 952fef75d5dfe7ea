//! The crate's error type.

use langbias_eval::xquad::XquadError;

/// Errors from reading, building or validating training data.
#[derive(Debug, thiserror::Error)]
pub enum DataError {
    /// A JSONL line is not valid JSON or not a sample object (wrong type, unknown field).
    #[error("{file}:{line}: invalid sample JSON at column {column}: {message}")]
    Json {
        /// File name (as given by the caller).
        file: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column reported by serde_json.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// A JSONL line lacks a required field.
    #[error("{file}:{line}: missing field `{field}`")]
    MissingField {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The missing field.
        field: &'static str,
    },
    /// A JSONL line has a field that is empty or only whitespace.
    #[error("{file}:{line}: field `{field}` is empty")]
    EmptyField {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The empty field.
        field: &'static str,
    },
    /// A JSONL line is longer than [`crate::MAX_LINE_BYTES`] (an endless or binary file).
    #[error("{file}:{line}: line longer than {max} bytes (expected one JSON sample per line)")]
    LineTooLong {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// The limit in bytes.
        max: usize,
    },
    /// A data set has no samples.
    #[error("{name}: no samples")]
    NoSamples {
        /// What was empty (a file name or a description).
        name: String,
    },
    /// A sample's `lang` is English: a sample needs a non-English side.
    #[error(
        "sample {index} ({id}): lang {lang:?} is English; `lang` names the non-English side of the pair"
    )]
    EnglishSample {
        /// 0-based index in the data.
        index: usize,
        /// The sample id, or `#<index>` when it has none.
        id: String,
        /// The offending language code.
        lang: String,
    },
    /// A sample has an empty (or whitespace-only) field.
    #[error("sample {index} ({id}): field `{field}` is empty")]
    InvalidSample {
        /// 0-based index in the data.
        index: usize,
        /// The sample id, or `#<index>` when it has none.
        id: String,
        /// The empty field.
        field: &'static str,
    },
    /// Two samples share an id.
    #[error("duplicate sample id {id:?} (samples {first} and {second})")]
    DuplicateId {
        /// The repeated id.
        id: String,
        /// 0-based index of the first occurrence.
        first: usize,
        /// 0-based index of the second occurrence.
        second: usize,
    },
    /// No LibreOffice help directory was found.
    #[error("no LibreOffice help found at {path}: expected {expected}")]
    NoHelp {
        /// The directory given.
        path: String,
        /// What was looked for.
        expected: String,
    },
    /// A requested help language is not installed under the help directory.
    #[error("no LibreOffice help for language {lang:?} in {dir} (available: {})", available.join(", "))]
    MissingLanguage {
        /// The requested language.
        lang: String,
        /// The help directory.
        dir: String,
        /// The languages found there.
        available: Vec<String>,
    },
    /// A language was requested twice (possibly under two spellings, e.g. `zh` and `zh-CN`).
    #[error("language {lang:?} given twice")]
    DuplicateLanguage {
        /// The language.
        lang: String,
    },
    /// An option or argument is out of range.
    #[error("invalid option: {0}")]
    InvalidOption(String),
    /// Reading a file or directory failed.
    #[error("cannot read {path}: {source}")]
    Read {
        /// Path.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Writing a file failed.
    #[error("cannot write {path}: {source}")]
    Write {
        /// Path.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
    /// Reading or aligning XQuAD files failed.
    #[error(transparent)]
    Xquad(#[from] XquadError),
}

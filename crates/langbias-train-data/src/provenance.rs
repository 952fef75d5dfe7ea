//! [`Provenance`]: where a training file came from (written as `<out>.provenance.json`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::{DataError, Sample};

/// The value of [`Provenance::format`].
pub const PROVENANCE_FORMAT: &str = "langbias-train-provenance/1";

/// Where the provenance of a data file lives: the data path with its extension replaced by
/// `provenance.json` (`train/libreoffice.jsonl` → `train/libreoffice.provenance.json`).
pub fn provenance_path(data: impl AsRef<Path>) -> PathBuf {
    data.as_ref().with_extension("provenance.json")
}

/// A package the data was built from (e.g. a Debian `.deb`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackageInfo {
    /// Package name, e.g. `libreoffice-help-de`.
    pub name: String,
    /// Package version, e.g. `4:7.4.7-1+deb12u14`.
    pub version: String,
    /// sha256 of the package file (lower-case hex), where known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

/// Counts for one language.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageCounts {
    /// Candidate pairs aligned with English (present in both languages), where applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aligned: Option<usize>,
    /// Candidate pairs left after dropping untranslated ones, where applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available: Option<usize>,
    /// How many samples were asked for, where applicable.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requested: Option<usize>,
    /// Samples in the file.
    pub selected: usize,
}

/// A description of a training file: source, licence, packages, counts and options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Provenance {
    /// Always [`PROVENANCE_FORMAT`].
    pub format: String,
    /// Source name: `libreoffice-help`, `xquad` or `jsonl`.
    pub source: String,
    /// One-sentence description of how the samples were made.
    pub description: String,
    /// Licence of the texts (SPDX where possible, e.g. `MPL-2.0`, `CC-BY-SA-4.0`).
    pub license: String,
    /// Packages the texts came from, with versions (supplied by the caller).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packages: Vec<PackageInfo>,
    /// Counts per sample language.
    pub languages: BTreeMap<String, LanguageCounts>,
    /// Number of samples in the file.
    pub total: usize,
    /// The options used to build the file.
    pub options: serde_json::Value,
    /// XQuAD only: the article indices used for training.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub train_articles: Option<Vec<usize>>,
    /// XQuAD only: the held-out article indices (evaluate only on these).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub heldout_articles: Option<Vec<usize>>,
    /// sha256 of the data file (lower-case hex), filled in by the writer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_sha256: Option<String>,
    /// The program that wrote the data (`langbias-train-data <version>` by default).
    pub generator: String,
}

impl Provenance {
    /// A provenance with `languages` and `total` counted from `samples` (only `selected` set)
    /// and the other optional fields empty.
    pub fn new(
        source: impl Into<String>,
        license: impl Into<String>,
        description: impl Into<String>,
        samples: &[Sample],
        options: serde_json::Value,
    ) -> Self {
        let languages = crate::count_by_lang(samples)
            .into_iter()
            .map(|(lang, selected)| {
                (
                    lang,
                    LanguageCounts {
                        selected,
                        ..LanguageCounts::default()
                    },
                )
            })
            .collect();
        Self {
            format: PROVENANCE_FORMAT.to_owned(),
            source: source.into(),
            description: description.into(),
            license: license.into(),
            packages: Vec::new(),
            languages,
            total: samples.len(),
            options,
            train_articles: None,
            heldout_articles: None,
            output_sha256: None,
            generator: format!("langbias-train-data {}", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Pretty JSON text (with a trailing newline).
    pub fn to_json_pretty(&self) -> String {
        let mut s = serde_json::to_string_pretty(self).unwrap_or_default();
        s.push('\n');
        s
    }

    /// Parses a provenance file's text; `name` is used in errors.
    pub fn from_json(text: &str, name: &str) -> Result<Self, DataError> {
        serde_json::from_str(text).map_err(|e| DataError::Json {
            file: name.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })
    }
}

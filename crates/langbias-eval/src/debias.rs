//! Training-free debiasing of embeddings: per-language mean-centring and orthogonal
//! Procrustes maps to English, applied to a scenario's document and query matrices.
//!
//! Matrices are row-major `f32` slices of `n · dim` values (row `i` is
//! `rows[i·dim .. (i+1)·dim]`, normally L2-normalised), each row with a language.
//!
//! # Transforms
//!
//! * **Centring** (`centre`: documents; `centre-q`: documents and queries):
//!   `x' = (x − μ_L) / ‖x − μ_L‖` with `μ_L` the mean of the rows of language `L` of the
//!   same side (documents by the documents' means, queries by the queries'). The means
//!   come from the matrices themselves (*transductive*, [`Fitted::default`]) or from a
//!   [`LanguageMeans`] file (*inductive*, `langbias-means/1`).
//! * **Procrustes** (`procrustes`): for every language `L` other than the pivot
//!   (English), `W_L = argmin_{W orthogonal} ‖X_L W − Y_en‖_F` fitted on parallel pairs
//!   (row `i` of `X_L` translates row `i` of `Y_en`): `W_L = U Vᵀ` from the SVD
//!   `X_Lᵀ Y_en = U Σ Vᵀ` (as `scipy.linalg.orthogonal_procrustes`; `W_L` may be a
//!   reflection). Documents and queries of language `L` become `x' = normalise(x W_L)`;
//!   English rows are unchanged. Maps are stored as `langbias-procrustes/1`
//!   ([`ProcrustesMaps`]).
//!
//! # Bad input
//!
//! All errors are [`DebiasError`]s naming the side (document/query), the row or the
//! language; nothing is changed silently:
//!
//! * wrong shapes (`dim = 0`, a length that is not `n · dim`, a language count ≠ `n`),
//!   non-finite values, and an empty language;
//! * transductive centring of a language with a **single** row (its mean is the row
//!   itself, centring would leave nothing): an error that suggests a means file;
//! * a row that is (numerically) its language's mean, `‖x − μ‖ < 1e-6`: no direction
//!   is left to normalise (e.g. duplicated documents in a language of two);
//! * a language missing from the means file or the maps (the error lists those it has),
//!   a file of another `dim`, other `format`, non-finite or wrongly sized vectors, a map
//!   that is not orthogonal (`max |WᵀW − I| > 1e-4`) or a map for the pivot;
//! * a Procrustes fit with fewer pairs than dimensions, or with `rank(X_Lᵀ Y) < dim`
//!   (the map would not be unique): an error naming the counts.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// The `format` value of a [`LanguageMeans`] file.
pub const MEANS_FORMAT: &str = "langbias-means/1";
/// The `format` value of a [`ProcrustesMaps`] file.
pub const PROCRUSTES_FORMAT: &str = "langbias-procrustes/1";
/// A centred row shorter than this cannot be normalised.
pub const MIN_CENTRED_NORM: f64 = 1e-6;
/// Largest accepted `|WᵀW − I|` entry of a map read from a file.
pub const ORTHOGONALITY_TOLERANCE: f64 = 1e-4;
/// Singular values below this share of the largest count as zero in a Procrustes fit.
const RANK_TOLERANCE: f64 = 1e-9;

/// Which matrix a row belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Side {
    /// A document (passage) embedding.
    Document,
    /// A query embedding.
    Query,
}

impl fmt::Display for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Document => "document",
            Self::Query => "query",
        })
    }
}

/// Errors of the debiasing transforms and of their files.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum DebiasError {
    /// A method name that is not one of [`Debias::ALL`].
    #[error(
        "unknown debiasing method {given:?} (expected one of: none, centre, centre-q, procrustes)"
    )]
    UnknownMethod {
        /// The name given.
        given: String,
    },
    /// An empty method list or list entry.
    #[error("empty debiasing method in {spec:?} (expected e.g. \"none,centre\")")]
    EmptyMethod {
        /// The list given.
        spec: String,
    },
    /// `dim` is 0.
    #[error("the embedding dimension must be at least 1")]
    ZeroDim,
    /// A matrix whose length is not a multiple of `dim`.
    #[error("{side} matrix: {len} values are not rows of dimension {dim}")]
    Shape {
        /// The matrix.
        side: Side,
        /// Its number of values.
        len: usize,
        /// The expected row length.
        dim: usize,
    },
    /// Not one language per row.
    #[error("{side} matrix: {langs} languages for {rows} rows")]
    LanguageCount {
        /// The matrix.
        side: Side,
        /// Its rows.
        rows: usize,
        /// The languages given.
        langs: usize,
    },
    /// A NaN or infinite value.
    #[error("{side} {row}: non-finite value in the embedding")]
    NonFinite {
        /// The matrix.
        side: Side,
        /// 0-based row.
        row: usize,
    },
    /// A row without a language.
    #[error("{side} {row}: no language (empty code)")]
    MissingLanguage {
        /// The matrix.
        side: Side,
        /// 0-based row.
        row: usize,
    },
    /// Transductive centring of a language with one row.
    #[error(
        "language {lang:?} has a single {side}: its mean is the {side} itself and centring \
         would leave nothing; use a means file (inductive centring)"
    )]
    SingleRow {
        /// The matrix.
        side: Side,
        /// The language.
        lang: String,
    },
    /// A row equal to its language's mean.
    #[error("{side} {row} ({lang}): equal to its language's mean, nothing left to normalise")]
    ZeroAfterCentring {
        /// The matrix.
        side: Side,
        /// 0-based row.
        row: usize,
        /// Its language.
        lang: String,
    },
    /// A language with no mean in the means file.
    #[error("no {side} mean for language {lang:?} in the means file (it has: {available})")]
    NoMean {
        /// The matrix.
        side: Side,
        /// The language.
        lang: String,
        /// The languages the file has, comma-separated (or `none`).
        available: String,
    },
    /// A language without a Procrustes map.
    #[error("no Procrustes map for language {lang:?} (maps: {available}; {pivot} is the pivot)")]
    NoMap {
        /// The language.
        lang: String,
        /// The languages with a map, comma-separated (or `none`).
        available: String,
        /// The pivot language.
        pivot: String,
    },
    /// `procrustes` without fitted maps.
    #[error("`procrustes` needs fitted maps (a langbias-procrustes/1 file or a fit)")]
    NoMaps,
    /// A file's `dim` differs from the embeddings'.
    #[error("{what} has dimension {found}, the embeddings {expected}")]
    DimMismatch {
        /// `means file` or `Procrustes maps`.
        what: &'static str,
        /// The embeddings' dimension.
        expected: usize,
        /// The file's.
        found: usize,
    },
    /// Invalid JSON or a wrong shape.
    #[error("invalid {what} JSON at line {line}, column {column}: {message}")]
    Json {
        /// `means file` or `Procrustes maps`.
        what: &'static str,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// Another `format` value.
    #[error("unknown {what} format {found:?} (expected {expected:?})")]
    UnknownFormat {
        /// `means file` or `Procrustes maps`.
        what: &'static str,
        /// The value found.
        found: String,
        /// The value expected.
        expected: &'static str,
    },
    /// A vector or matrix in a file is wrongly sized or not finite.
    #[error("{what}, language {lang:?}: {problem}")]
    BadEntry {
        /// `document mean`, `query mean` or `Procrustes map`.
        what: &'static str,
        /// The language.
        lang: String,
        /// What is wrong.
        problem: String,
    },
    /// A map that is not orthogonal.
    #[error("Procrustes map for {lang:?} is not orthogonal (max |WᵀW − I| = {error:.2e})")]
    NotOrthogonal {
        /// The language.
        lang: String,
        /// `max |WᵀW − I|`.
        error: f64,
    },
    /// A map for the pivot language (it is the identity by definition).
    #[error("Procrustes map given for the pivot language {lang:?} (the pivot is left as is)")]
    PivotMap {
        /// The pivot.
        lang: String,
    },
    /// A fit with the same language twice.
    #[error("Procrustes fit: language {lang:?} given twice")]
    DuplicateLanguage {
        /// The language.
        lang: String,
    },
    /// Parallel matrices of the wrong shape or with non-finite values.
    #[error("Procrustes fit for {lang:?}: {problem}")]
    BadPairs {
        /// The language.
        lang: String,
        /// What is wrong.
        problem: String,
    },
    /// Fewer pairs than dimensions.
    #[error(
        "Procrustes fit for {lang:?}: {pairs} parallel pairs for dimension {dim}; at least \
         {dim} are needed for a unique map"
    )]
    TooFewPairs {
        /// The language.
        lang: String,
        /// Pairs given.
        pairs: usize,
        /// The dimension.
        dim: usize,
    },
    /// `X_Lᵀ Y` is rank-deficient.
    #[error(
        "Procrustes fit for {lang:?}: the {pairs} pairs span rank {rank} < dimension {dim}; \
         the map would not be unique"
    )]
    RankDeficient {
        /// The language.
        lang: String,
        /// Pairs given.
        pairs: usize,
        /// Numerical rank of `X_Lᵀ Y`.
        rank: usize,
        /// The dimension.
        dim: usize,
    },
    /// The SVD did not converge (not expected for finite input).
    #[error("Procrustes fit for {lang:?}: the SVD did not converge")]
    NoConvergence {
        /// The language.
        lang: String,
    },
    /// A file error (only with the `fs` feature).
    #[error("{path}: {message}")]
    File {
        /// The file.
        path: String,
        /// What went wrong (reading, or the error in its contents).
        message: String,
    },
}

/// A training-free debiasing method, shown as its own model `base+<method>` in reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Debias {
    /// No change.
    #[default]
    #[serde(rename = "none")]
    None,
    /// Per-language mean-centring of the documents.
    #[serde(rename = "centre")]
    Centre,
    /// Per-language mean-centring of the documents and of the queries.
    #[serde(rename = "centre-q")]
    CentreQ,
    /// Orthogonal Procrustes map of every non-English language to English.
    #[serde(rename = "procrustes")]
    Procrustes,
}

impl Debias {
    /// Every method, in the order of the `--debias` help.
    pub const ALL: [Self; 4] = [Self::None, Self::Centre, Self::CentreQ, Self::Procrustes];

    /// The method's name (`none`, `centre`, `centre-q`, `procrustes`).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Centre => "centre",
            Self::CentreQ => "centre-q",
            Self::Procrustes => "procrustes",
        }
    }

    /// The model name in reports: `base` for [`Debias::None`], else `base+<name>`.
    pub fn model_name(self, base: &str) -> String {
        match self {
            Self::None => base.to_owned(),
            _ => format!("{base}+{}", self.name()),
        }
    }

    /// Parses a comma-separated list (`none,centre`): entries trimmed, repeats dropped,
    /// order kept; an empty list or entry or an unknown name is an error.
    pub fn parse_list(spec: &str) -> Result<Vec<Self>, DebiasError> {
        let mut out = Vec::new();
        for part in spec.split(',') {
            let part = part.trim();
            if part.is_empty() {
                return Err(DebiasError::EmptyMethod {
                    spec: spec.to_owned(),
                });
            }
            let method = part.parse()?;
            if !out.contains(&method) {
                out.push(method);
            }
        }
        Ok(out)
    }

    /// Applies the method in place to a document and a query matrix (`dim` values per
    /// row, `*_langs[i]` the language of row `i`), using `fitted` means or maps where
    /// given: centring without means is transductive; `procrustes` needs maps. Checks
    /// every input first (see the module's *Bad input*); on error nothing is changed.
    pub fn apply<L: AsRef<str>>(
        self,
        dim: usize,
        docs: Rows<'_, L>,
        queries: Rows<'_, L>,
        fitted: Fitted<'_>,
    ) -> Result<(), DebiasError> {
        check(dim, Side::Document, docs.values, docs.langs)?;
        check(dim, Side::Query, queries.values, queries.langs)?;
        match self {
            Self::None => Ok(()),
            Self::Centre => centre(dim, Side::Document, docs, fitted.means),
            Self::CentreQ => {
                // Check both before changing either.
                let d = centred(dim, Side::Document, &docs, fitted.means)?;
                let q = centred(dim, Side::Query, &queries, fitted.means)?;
                docs.values.copy_from_slice(&d);
                queries.values.copy_from_slice(&q);
                Ok(())
            }
            Self::Procrustes => {
                let maps = fitted.maps.ok_or(DebiasError::NoMaps)?;
                let d = maps.mapped(dim, &docs)?;
                let q = maps.mapped(dim, &queries)?;
                docs.values.copy_from_slice(&d);
                queries.values.copy_from_slice(&q);
                Ok(())
            }
        }
    }
}

impl fmt::Display for Debias {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Debias {
    type Err = DebiasError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| DebiasError::UnknownMethod {
                given: s.to_owned(),
            })
    }
}

/// One embedding matrix with the language of every row.
#[derive(Debug)]
pub struct Rows<'a, L> {
    /// Row-major values, `n · dim`.
    pub values: &'a mut [f32],
    /// `n` language codes.
    pub langs: &'a [L],
}

impl<'a, L> Rows<'a, L> {
    /// A matrix `values` whose row `i` has language `langs[i]`.
    pub fn new(values: &'a mut [f32], langs: &'a [L]) -> Self {
        Self { values, langs }
    }
}

/// What a method may use besides the embeddings.
#[derive(Debug, Clone, Copy, Default)]
pub struct Fitted<'a> {
    /// Per-language means (inductive centring); `None`: means of the rows themselves.
    pub means: Option<&'a LanguageMeans>,
    /// Procrustes maps (required by [`Debias::Procrustes`]).
    pub maps: Option<&'a ProcrustesMaps>,
}

/// Checks the shape of a matrix, its values and languages.
fn check<L: AsRef<str>>(
    dim: usize,
    side: Side,
    values: &[f32],
    langs: &[L],
) -> Result<(), DebiasError> {
    if dim == 0 {
        return Err(DebiasError::ZeroDim);
    }
    if values.len() % dim != 0 {
        return Err(DebiasError::Shape {
            side,
            len: values.len(),
            dim,
        });
    }
    let rows = values.len() / dim;
    if langs.len() != rows {
        return Err(DebiasError::LanguageCount {
            side,
            rows,
            langs: langs.len(),
        });
    }
    for (row, (x, lang)) in values.chunks_exact(dim).zip(langs).enumerate() {
        if !x.iter().all(|v| v.is_finite()) {
            return Err(DebiasError::NonFinite { side, row });
        }
        if lang.as_ref().trim().is_empty() {
            return Err(DebiasError::MissingLanguage { side, row });
        }
    }
    Ok(())
}

/// Per-language means of the rows (f64 sums), with the row counts.
fn language_means<L: AsRef<str>>(
    dim: usize,
    values: &[f32],
    langs: &[L],
) -> BTreeMap<String, (usize, Vec<f64>)> {
    let mut sums: BTreeMap<String, (usize, Vec<f64>)> = BTreeMap::new();
    for (x, lang) in values.chunks_exact(dim).zip(langs) {
        let (n, sum) = sums
            .entry(lang.as_ref().to_owned())
            .or_insert_with(|| (0, vec![0.0; dim]));
        *n += 1;
        for (s, &v) in sum.iter_mut().zip(x) {
            *s += f64::from(v);
        }
    }
    for (n, sum) in sums.values_mut() {
        sum.iter_mut().for_each(|s| *s /= *n as f64);
    }
    sums
}

/// `x / ‖x‖` as `f32`, `None` if `‖x‖ < MIN_CENTRED_NORM`.
fn normalised(x: &[f64]) -> Option<Vec<f32>> {
    let norm = x.iter().map(|v| v * v).sum::<f64>().sqrt();
    (norm >= MIN_CENTRED_NORM).then(|| x.iter().map(|v| (v / norm) as f32).collect())
}

/// Centres `rows` in place (see [`centred`]).
fn centre<L: AsRef<str>>(
    dim: usize,
    side: Side,
    rows: Rows<'_, L>,
    means: Option<&LanguageMeans>,
) -> Result<(), DebiasError> {
    let out = centred(dim, side, &rows, means)?;
    rows.values.copy_from_slice(&out);
    Ok(())
}

/// The rows centred by their language's mean (from `means`, else from the rows
/// themselves) and renormalised. Inputs must have passed [`check`].
fn centred<L: AsRef<str>>(
    dim: usize,
    side: Side,
    rows: &Rows<'_, L>,
    means: Option<&LanguageMeans>,
) -> Result<Vec<f32>, DebiasError> {
    let own = language_means(dim, rows.values, rows.langs);
    let mut out = Vec::with_capacity(rows.values.len());
    for (row, (x, lang)) in rows.values.chunks_exact(dim).zip(rows.langs).enumerate() {
        let lang = lang.as_ref();
        let mu: Vec<f64> = match means {
            Some(file) => file
                .mean(side, lang, dim)?
                .iter()
                .map(|&v| v.into())
                .collect(),
            None => {
                let (n, mu) = &own[lang];
                if *n == 1 {
                    return Err(DebiasError::SingleRow {
                        side,
                        lang: lang.to_owned(),
                    });
                }
                mu.clone()
            }
        };
        let diff: Vec<f64> = x.iter().zip(&mu).map(|(&v, m)| f64::from(v) - m).collect();
        out.extend(
            normalised(&diff).ok_or_else(|| DebiasError::ZeroAfterCentring {
                side,
                row,
                lang: lang.to_owned(),
            })?,
        );
    }
    Ok(out)
}

/// Comma-separated keys, or `none`.
fn key_list<V>(map: &BTreeMap<String, V>) -> String {
    if map.is_empty() {
        "none".to_owned()
    } else {
        map.keys().cloned().collect::<Vec<_>>().join(", ")
    }
}

fn json_error(what: &'static str) -> impl Fn(serde_json::Error) -> DebiasError {
    move |e| DebiasError::Json {
        what,
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

#[cfg(feature = "fs")]
fn read_file<T>(
    path: &std::path::Path,
    parse: impl Fn(&str) -> Result<T, DebiasError>,
) -> Result<T, DebiasError> {
    let in_file = |message: String| DebiasError::File {
        path: path.display().to_string(),
        message,
    };
    let text = std::fs::read_to_string(path).map_err(|e| in_file(format!("cannot read: {e}")))?;
    parse(&text).map_err(|e| in_file(e.to_string()))
}

/// Per-language mean vectors of documents and queries: the `langbias-means/1` file.
///
/// ```json
/// {"format": "langbias-means/1", "dim": 384, "source": "XQuAD dev half, base model",
///  "documents": {"de": [0.01, ...], "en": [...]}, "queries": {"de": [...]}}
/// ```
///
/// `source` (free text, default `""`) and `queries` (default empty) are optional.
/// Every vector has `dim` finite values; unknown fields are errors.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LanguageMeans {
    /// Always [`MEANS_FORMAT`].
    pub format: String,
    /// Length of every vector.
    pub dim: usize,
    /// Where the means come from (model, data).
    #[serde(default)]
    pub source: String,
    /// Document means by language.
    pub documents: BTreeMap<String, Vec<f32>>,
    /// Query means by language.
    #[serde(default)]
    pub queries: BTreeMap<String, Vec<f32>>,
}

impl LanguageMeans {
    /// The per-language means of a document and a query matrix (either may be empty).
    pub fn fit<L: AsRef<str>>(
        dim: usize,
        docs: (&[f32], &[L]),
        queries: (&[f32], &[L]),
        source: impl Into<String>,
    ) -> Result<Self, DebiasError> {
        check(dim, Side::Document, docs.0, docs.1)?;
        check(dim, Side::Query, queries.0, queries.1)?;
        let to_f32 = |m: BTreeMap<String, (usize, Vec<f64>)>| {
            m.into_iter()
                .map(|(l, (_, mu))| (l, mu.into_iter().map(|v| v as f32).collect()))
                .collect()
        };
        Ok(Self {
            format: MEANS_FORMAT.to_owned(),
            dim,
            source: source.into(),
            documents: to_f32(language_means(dim, docs.0, docs.1)),
            queries: to_f32(language_means(dim, queries.0, queries.1)),
        })
    }

    /// The mean of `side` for `lang`, checked against the embeddings' `dim`.
    pub fn mean(&self, side: Side, lang: &str, dim: usize) -> Result<&[f32], DebiasError> {
        if self.dim != dim {
            return Err(DebiasError::DimMismatch {
                what: "means file",
                expected: dim,
                found: self.dim,
            });
        }
        let map = match side {
            Side::Document => &self.documents,
            Side::Query => &self.queries,
        };
        let mean = map.get(lang).ok_or_else(|| DebiasError::NoMean {
            side,
            lang: lang.to_owned(),
            available: key_list(map),
        })?;
        let what = match side {
            Side::Document => "document mean",
            Side::Query => "query mean",
        };
        check_entry(what, lang, mean, dim)?;
        Ok(mean)
    }

    /// Parses and validates a means file (a leading byte order mark is skipped).
    pub fn from_json(json: &str) -> Result<Self, DebiasError> {
        let means: Self =
            serde_json::from_str(crate::strip_bom(json)).map_err(json_error("means file"))?;
        means.validate()?;
        Ok(means)
    }

    /// Reads a means file; errors name it.
    #[cfg(feature = "fs")]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, DebiasError> {
        read_file(path.as_ref(), Self::from_json)
    }

    /// Pretty JSON (floats as the shortest decimals that round-trip the `f32`s).
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("means serialization cannot fail")
    }

    /// Checks `format`, `dim ≥ 1`, and that every vector has `dim` finite values and a
    /// non-empty language.
    pub fn validate(&self) -> Result<(), DebiasError> {
        if self.format != MEANS_FORMAT {
            return Err(DebiasError::UnknownFormat {
                what: "means file",
                found: self.format.clone(),
                expected: MEANS_FORMAT,
            });
        }
        if self.dim == 0 {
            return Err(DebiasError::ZeroDim);
        }
        for (what, map) in [
            ("document mean", &self.documents),
            ("query mean", &self.queries),
        ] {
            for (lang, v) in map {
                check_entry(what, lang, v, self.dim)?;
            }
        }
        Ok(())
    }
}

/// A file vector/matrix row: `dim` finite values under a non-empty language.
fn check_entry(what: &'static str, lang: &str, v: &[f32], dim: usize) -> Result<(), DebiasError> {
    let bad = |problem: String| DebiasError::BadEntry {
        what,
        lang: lang.to_owned(),
        problem,
    };
    if lang.trim().is_empty() {
        return Err(bad("empty language code".to_owned()));
    }
    if v.len() != dim {
        return Err(bad(format!("{} values, expected {dim}", v.len())));
    }
    if !v.iter().all(|x| x.is_finite()) {
        return Err(bad("non-finite value".to_owned()));
    }
    Ok(())
}

/// One fitted map `W_L` (`dim × dim`, row-major rows) and the number of pairs it was
/// fitted on.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcrustesMap {
    /// Parallel pairs of the fit.
    pub pairs: usize,
    /// `W_L` as `dim` rows of `dim` values: `x' = x W_L` (`x` a row vector).
    pub matrix: Vec<Vec<f32>>,
}

/// Orthogonal maps from languages to the pivot: the `langbias-procrustes/1` file.
///
/// ```json
/// {"format": "langbias-procrustes/1", "dim": 384, "pivot": "en", "source": "...",
///  "maps": {"de": {"pairs": 5000, "matrix": [[...], ...]}}}
/// ```
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProcrustesMaps {
    /// Always [`PROCRUSTES_FORMAT`].
    pub format: String,
    /// Dimension of the embeddings.
    pub dim: usize,
    /// The pivot language (its rows are left as they are), normally `en`.
    pub pivot: String,
    /// Where the pairs come from (model, data).
    #[serde(default)]
    pub source: String,
    /// One map per non-pivot language.
    pub maps: BTreeMap<String, ProcrustesMap>,
}

impl ProcrustesMaps {
    /// Fits `W_L` for every `(L, X_L, Y_pivot)` (row-major, `dim` per row, rows aligned).
    pub fn fit<'a>(
        dim: usize,
        pivot: &str,
        pairs: impl IntoIterator<Item = (&'a str, &'a [f32], &'a [f32])>,
        source: impl Into<String>,
    ) -> Result<Self, DebiasError> {
        if dim == 0 {
            return Err(DebiasError::ZeroDim);
        }
        let mut maps = BTreeMap::new();
        for (lang, x, y) in pairs {
            if lang == pivot {
                return Err(DebiasError::PivotMap {
                    lang: lang.to_owned(),
                });
            }
            if maps.contains_key(lang) {
                return Err(DebiasError::DuplicateLanguage {
                    lang: lang.to_owned(),
                });
            }
            maps.insert(lang.to_owned(), fit_procrustes(dim, lang, x, y)?);
        }
        Ok(Self {
            format: PROCRUSTES_FORMAT.to_owned(),
            dim,
            pivot: pivot.to_owned(),
            source: source.into(),
            maps,
        })
    }

    /// Parses and validates a maps file (a leading byte order mark is skipped).
    pub fn from_json(json: &str) -> Result<Self, DebiasError> {
        let maps: Self =
            serde_json::from_str(crate::strip_bom(json)).map_err(json_error("Procrustes maps"))?;
        maps.validate()?;
        Ok(maps)
    }

    /// Reads a maps file; errors name it.
    #[cfg(feature = "fs")]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, DebiasError> {
        read_file(path.as_ref(), Self::from_json)
    }

    /// Pretty JSON.
    pub fn to_json_pretty(&self) -> String {
        serde_json::to_string_pretty(self).expect("maps serialization cannot fail")
    }

    /// Checks `format`, `dim ≥ 1`, a non-empty pivot without a map, and that every map is
    /// `dim × dim`, finite and orthogonal (`max |WᵀW − I| ≤ 1e-4`).
    pub fn validate(&self) -> Result<(), DebiasError> {
        if self.format != PROCRUSTES_FORMAT {
            return Err(DebiasError::UnknownFormat {
                what: "Procrustes maps",
                found: self.format.clone(),
                expected: PROCRUSTES_FORMAT,
            });
        }
        if self.dim == 0 {
            return Err(DebiasError::ZeroDim);
        }
        if self.pivot.trim().is_empty() {
            return Err(DebiasError::BadEntry {
                what: "Procrustes maps",
                lang: self.pivot.clone(),
                problem: "empty pivot language".to_owned(),
            });
        }
        for (lang, map) in &self.maps {
            if *lang == self.pivot {
                return Err(DebiasError::PivotMap { lang: lang.clone() });
            }
            if map.matrix.len() != self.dim {
                return Err(DebiasError::BadEntry {
                    what: "Procrustes map",
                    lang: lang.clone(),
                    problem: format!("{} rows, expected {}", map.matrix.len(), self.dim),
                });
            }
            for row in &map.matrix {
                check_entry("Procrustes map", lang, row, self.dim)?;
            }
            let error = orthogonality_error(&map.matrix);
            if error.is_nan() || error > ORTHOGONALITY_TOLERANCE {
                return Err(DebiasError::NotOrthogonal {
                    lang: lang.clone(),
                    error,
                });
            }
        }
        Ok(())
    }

    /// The rows mapped by their language's `W_L` and renormalised (pivot rows as they
    /// are). Inputs must have passed [`check`]; the maps' shapes are checked here, their
    /// orthogonality by [`ProcrustesMaps::validate`] (run by the readers) and the fit.
    fn mapped<L: AsRef<str>>(
        &self,
        dim: usize,
        rows: &Rows<'_, L>,
    ) -> Result<Vec<f32>, DebiasError> {
        if self.dim != dim {
            return Err(DebiasError::DimMismatch {
                what: "Procrustes maps",
                expected: dim,
                found: self.dim,
            });
        }
        let mut out = Vec::with_capacity(rows.values.len());
        for (x, lang) in rows.values.chunks_exact(dim).zip(rows.langs) {
            let lang = lang.as_ref();
            if lang == self.pivot {
                out.extend_from_slice(x);
                continue;
            }
            let w = &self
                .maps
                .get(lang)
                .ok_or_else(|| DebiasError::NoMap {
                    lang: lang.to_owned(),
                    available: key_list(&self.maps),
                    pivot: self.pivot.clone(),
                })?
                .matrix;
            if w.len() != dim || w.iter().any(|r| r.len() != dim) {
                return Err(DebiasError::BadEntry {
                    what: "Procrustes map",
                    lang: lang.to_owned(),
                    problem: format!("not {dim} × {dim}"),
                });
            }
            let mut y = vec![0.0f64; dim];
            for (&xi, wi) in x.iter().zip(w) {
                for (yj, &wij) in y.iter_mut().zip(wi) {
                    *yj += f64::from(xi) * f64::from(wij);
                }
            }
            // ‖x W‖ = ‖x‖: only a zero input row has no direction.
            match normalised(&y) {
                Some(v) => out.extend(v),
                None => out.extend_from_slice(x),
            }
        }
        Ok(out)
    }
}

/// `max |WᵀW − I|` of a square matrix given by rows.
fn orthogonality_error(w: &[Vec<f32>]) -> f64 {
    let dim = w.len();
    let mut worst = 0.0f64;
    for i in 0..dim {
        for j in i..dim {
            let dot: f64 = w.iter().map(|r| f64::from(r[i]) * f64::from(r[j])).sum();
            let target = if i == j { 1.0 } else { 0.0 };
            let e = (dot - target).abs();
            if e.is_nan() {
                return f64::NAN;
            }
            worst = worst.max(e);
        }
    }
    worst
}

/// `W = U Vᵀ` for `Xᵀ Y = U Σ Vᵀ`, via a one-sided (Hestenes) Jacobi SVD in `f64`.
fn fit_procrustes(
    dim: usize,
    lang: &str,
    x: &[f32],
    y: &[f32],
) -> Result<ProcrustesMap, DebiasError> {
    let bad = |problem: String| DebiasError::BadPairs {
        lang: lang.to_owned(),
        problem,
    };
    for (name, m) in [("source", x), ("pivot", y)] {
        if m.len() % dim != 0 {
            return Err(bad(format!(
                "{name} matrix: {} values are not rows of dimension {dim}",
                m.len()
            )));
        }
        if let Some(row) = m
            .chunks_exact(dim)
            .position(|r| !r.iter().all(|v| v.is_finite()))
        {
            return Err(bad(format!("{name} row {row}: non-finite value")));
        }
    }
    let n = x.len() / dim;
    if y.len() / dim != n {
        return Err(bad(format!(
            "{n} source rows but {} pivot rows",
            y.len() / dim
        )));
    }
    if n < dim {
        return Err(DebiasError::TooFewPairs {
            lang: lang.to_owned(),
            pairs: n,
            dim,
        });
    }
    // Columns of M = Xᵀ Y: col[j][i] = Σ_r x[r][i] y[r][j].
    let mut a = vec![vec![0.0f64; dim]; dim];
    for (xr, yr) in x.chunks_exact(dim).zip(y.chunks_exact(dim)) {
        for (col, &yj) in a.iter_mut().zip(yr) {
            for (c, &xi) in col.iter_mut().zip(xr) {
                *c += f64::from(xi) * f64::from(yj);
            }
        }
    }
    // V starts as the identity (columns).
    let mut v: Vec<Vec<f64>> = (0..dim)
        .map(|j| (0..dim).map(|i| f64::from(u8::from(i == j))).collect())
        .collect();
    // Columns shorter than ε·‖M‖_F are numerical zeros: never rotated.
    let fro2: f64 = a.iter().flatten().map(|x| x * x).sum();
    let floor = f64::EPSILON * f64::EPSILON * fro2;
    let mut converged = false;
    for _sweep in 0..80 {
        let mut rotated = false;
        for p in 0..dim {
            for q in p + 1..dim {
                let (alpha, beta, gamma) = a[p]
                    .iter()
                    .zip(&a[q])
                    .fold((0.0, 0.0, 0.0), |(s, t, u), (&ap, &aq)| {
                        (s + ap * ap, t + aq * aq, u + ap * aq)
                    });
                if alpha <= floor
                    || beta <= floor
                    || gamma.abs() <= f64::EPSILON * (alpha * beta).sqrt()
                {
                    continue;
                }
                rotated = true;
                let zeta = (beta - alpha) / (2.0 * gamma);
                let t = zeta.signum() / (zeta.abs() + (1.0 + zeta * zeta).sqrt());
                let c = 1.0 / (1.0 + t * t).sqrt();
                let s = c * t;
                for m in [&mut a, &mut v] {
                    let (left, right) = m.split_at_mut(q);
                    for (ip, iq) in left[p].iter_mut().zip(right[0].iter_mut()) {
                        let (xp, xq) = (*ip, *iq);
                        *ip = c * xp - s * xq;
                        *iq = s * xp + c * xq;
                    }
                }
            }
        }
        if !rotated {
            converged = true;
            break;
        }
    }
    if !converged {
        return Err(DebiasError::NoConvergence {
            lang: lang.to_owned(),
        });
    }
    // A = U Σ: σ_j = ‖A_j‖, U_j = A_j / σ_j.
    let sigma: Vec<f64> = a
        .iter()
        .map(|c| c.iter().map(|x| x * x).sum::<f64>().sqrt())
        .collect();
    let max = sigma.iter().copied().fold(0.0, f64::max);
    let rank = sigma.iter().filter(|&&s| s > RANK_TOLERANCE * max).count();
    if rank < dim {
        return Err(DebiasError::RankDeficient {
            lang: lang.to_owned(),
            pairs: n,
            rank,
            dim,
        });
    }
    // W[i][k] = Σ_j U[i][j] V[k][j] (U, V stored by columns).
    let mut w = vec![vec![0.0f32; dim]; dim];
    for (i, wi) in w.iter_mut().enumerate() {
        for (k, wik) in wi.iter_mut().enumerate() {
            *wik = (0..dim).map(|j| a[j][i] / sigma[j] * v[j][k]).sum::<f64>() as f32;
        }
    }
    Ok(ProcrustesMap {
        pairs: n,
        matrix: w,
    })
}

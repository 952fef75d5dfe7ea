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
//! * **Score standardisation** (`zscore`): the embeddings are left as they are; after
//!   scoring, [`Debias::rescore`] maps each query's score of a document of language `L` to
//!   `(s − m_L) / σ_L`, the mean and standard deviation of that query's scores over the
//!   documents of `L` ([`crate::zscore`]).
//!
//! # Use
//!
//! ```
//! use langbias_eval::{Debias, Fitted, Rows};
//!
//! // Three 2-D documents (en, de, de) and one German query, rows L2-normalised.
//! let mut docs = vec![1.0, 0.0, 0.6, 0.8, 0.8, 0.6];
//! let doc_langs = ["en", "de", "de"];
//! let mut queries = vec![0.6, 0.8];
//! let method: Debias = "centre".parse()?;
//! assert_eq!(method.model_name("base"), "base+centre");
//! // Transductive: the means come from these documents (en has one: use a means file).
//! let err = method
//!     .apply(2, Rows::new(&mut docs, &doc_langs), Rows::new(&mut queries, &["de"]), Fitted::default())
//!     .unwrap_err();
//! assert!(err.to_string().contains("single document"));
//! let (docs, doc_langs) = (&mut docs[2..], &doc_langs[1..]);
//! method.apply(2, Rows::new(docs, doc_langs), Rows::new(&mut queries, &["de"]), Fitted::default())?;
//! let h = std::f32::consts::FRAC_1_SQRT_2; // (0.6, 0.8) − (0.7, 0.7) → (−1, 1)/√2
//! assert!((docs[0] + h).abs() < 1e-6 && (docs[1] - h).abs() < 1e-6);
//! # Ok::<(), langbias_eval::DebiasError>(())
//! ```
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
//! * a Procrustes fit with fewer pairs than dimensions: an error naming the counts. When
//!   `rank(X_Lᵀ Y) < dim` (relative tolerance 1e-9) the map is unique on the data only if
//!   the data have no energy along the missing directions (at most 1e-6 of the total: the
//!   embeddings span a subspace, as multilingual-e5-small's span 383 of 384 dimensions);
//!   then U is completed orthonormally (documented behaviour), else it is an error.

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
/// The most energy (relative to the total) the pairs may have along the directions where
/// `X_Lᵀ Y` vanishes for the map to count as unique on the data.
const NULL_ENERGY: f64 = 1e-6;

/// Fills the empty columns of `u` (the others orthonormal) with an orthonormal completion:
/// Gram–Schmidt (twice) on the standard basis vectors.
fn complete_orthonormal(u: &mut [Vec<f64>], dim: usize) {
    let mut next = 0;
    for j in 0..u.len() {
        if !u[j].is_empty() {
            continue;
        }
        while next < dim {
            let mut c: Vec<f64> = (0..dim).map(|i| f64::from(u8::from(i == next))).collect();
            next += 1;
            for _ in 0..2 {
                for b in u.iter().filter(|b| !b.is_empty()) {
                    let d: f64 = c.iter().zip(b).map(|(x, y)| x * y).sum();
                    c.iter_mut().zip(b).for_each(|(x, y)| *x -= d * y);
                }
            }
            let norm = c.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm > 1e-6 {
                c.iter_mut().for_each(|x| *x /= norm);
                u[j] = c;
                break;
            }
        }
    }
}

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
        "unknown debiasing method {given:?} (expected one of: none, centre, centre-q, procrustes, zscore, routed)"
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
    /// `zscore` with a language that has a single document.
    #[error(
        "language {lang:?} has a single document: its scores have no spread to standardise \
         by (zscore needs at least two documents per language)"
    )]
    SingleScore {
        /// The language.
        lang: String,
    },
    /// `zscore` with a language whose documents all score alike for a query.
    #[error(
        "the {documents} documents in {lang:?} all have the same score for this query \
         (e.g. duplicates): zscore cannot standardise them"
    )]
    FlatScores {
        /// The language.
        lang: String,
        /// Its documents.
        documents: usize,
    },
    /// `routed` with two score lists of different lengths.
    #[error(
        "routing: the own-language model gave {own} scores and the cross-lingual model {cross}; \
         both must score every document"
    )]
    ScoreCount {
        /// Scores of the model for the query's own language.
        own: usize,
        /// Scores of the cross-lingual model.
        cross: usize,
    },
    /// Routing's feedback weight is negative or not a number, or its match threshold is not
    /// a number.
    #[error("routing: the feedback {what} must be a finite number (the weight ≥ 0), not {value}")]
    FeedbackSetting {
        /// `weight` or `match threshold`.
        what: &'static str,
        /// The value given.
        value: f32,
    },
    /// Routing's feedback given cosines (or document vectors) for another number of documents.
    #[error("routing: {cosines} feedback cosines for {scores} scored documents; one per document")]
    FeedbackCount {
        /// Scored documents.
        scores: usize,
        /// Cosines or vectors given.
        cosines: usize,
    },
    /// `routed` asked of one model's scores alone.
    #[error(
        "`routed` ranks with two models (the base model for the query's own language, the \
         adapter for the others): use crate::routing with both models' scores"
    )]
    RoutingNeedsTwoModels,
    /// A NaN or infinite score.
    #[error("document {row}: non-finite score")]
    NonFiniteScore {
        /// 0-based document.
        row: usize,
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
        "Procrustes fit for {lang:?}: Xᵀ Y of the {pairs} pairs has rank {rank} < dimension \
         {dim} in directions the data use; the map would not be unique"
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
    /// Per-language standardisation of each query's scores ([`crate::zscore`]); the
    /// embeddings are unchanged.
    #[serde(rename = "zscore")]
    ZScore,
    /// Documents in the query's language scored by the base model, the others by the
    /// adapter, then per-language z-scores and cross-lingual feedback ([`crate::routing`]);
    /// the embeddings are unchanged.
    #[serde(rename = "routed")]
    Routed,
}

impl Debias {
    /// Every method, in the order of the `--debias` help.
    pub const ALL: [Self; 6] = [
        Self::None,
        Self::Centre,
        Self::CentreQ,
        Self::Procrustes,
        Self::ZScore,
        Self::Routed,
    ];

    /// The method's name (`none`, `centre`, `centre-q`, `procrustes`, `zscore`, `routed`).
    pub fn name(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Centre => "centre",
            Self::CentreQ => "centre-q",
            Self::Procrustes => "procrustes",
            Self::ZScore => "zscore",
            Self::Routed => "routed",
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
        // Both results are computed before either matrix is changed.
        let (d, q) = match self {
            Self::None | Self::ZScore | Self::Routed => return Ok(()),
            Self::Centre => (centred(dim, Side::Document, &docs, fitted.means)?, None),
            Self::CentreQ => (
                centred(dim, Side::Document, &docs, fitted.means)?,
                Some(centred(dim, Side::Query, &queries, fitted.means)?),
            ),
            Self::Procrustes => {
                let maps = fitted.maps.ok_or(DebiasError::NoMaps)?;
                (maps.mapped(dim, &docs)?, Some(maps.mapped(dim, &queries)?))
            }
        };
        docs.values.copy_from_slice(&d);
        if let Some(q) = q {
            queries.values.copy_from_slice(&q);
        }
        Ok(())
    }

    /// The method's step after scoring, on one query's `scores` (one per document,
    /// `doc_langs[i]` the language of document `i`): [`Debias::ZScore`] standardises them by
    /// language ([`crate::zscore::standardise_by_language`]); [`Debias::Routed`] needs a
    /// second model's scores ([`crate::routing`]) and is an error here; every other method
    /// leaves them as they are. On error nothing is changed.
    pub fn rescore<L: AsRef<str>>(
        self,
        scores: &mut [f32],
        doc_langs: &[L],
    ) -> Result<(), DebiasError> {
        match self {
            Self::ZScore => crate::zscore::standardise_by_language(scores, doc_langs),
            Self::Routed => Err(DebiasError::RoutingNeedsTwoModels),
            _ => Ok(()),
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
    if !values.len().is_multiple_of(dim) {
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

/// The rows centred by their language's mean (from `means`, else from the rows
/// themselves) and renormalised. Inputs must have passed [`check`].
fn centred<L: AsRef<str>>(
    dim: usize,
    side: Side,
    rows: &Rows<'_, L>,
    means: Option<&LanguageMeans>,
) -> Result<Vec<f32>, DebiasError> {
    let mut mus: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    match means {
        Some(file) => {
            for lang in rows.langs {
                let lang = lang.as_ref();
                if !mus.contains_key(lang) {
                    let mu = file.mean(side, lang, dim)?.iter().map(|&v| v.into());
                    mus.insert(lang.to_owned(), mu.collect());
                }
            }
        }
        None => {
            for (lang, (n, mu)) in language_means(dim, rows.values, rows.langs) {
                if n == 1 {
                    return Err(DebiasError::SingleRow { side, lang });
                }
                mus.insert(lang, mu);
            }
        }
    }
    let mut out = Vec::with_capacity(rows.values.len());
    for (row, (x, lang)) in rows.values.chunks_exact(dim).zip(rows.langs).enumerate() {
        let lang = lang.as_ref();
        let mu = &mus[lang];
        let diff: Vec<f64> = x.iter().zip(mu).map(|(&v, m)| f64::from(v) - m).collect();
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

    /// Document means only (no query means), validated: e.g. an aligned adapter's stored
    /// means (`langbias_assets::LoraAdapter::document_means`) for a model of dimension `dim`.
    pub fn from_documents(
        dim: usize,
        source: impl Into<String>,
        documents: BTreeMap<String, Vec<f32>>,
    ) -> Result<Self, DebiasError> {
        let means = Self {
            format: MEANS_FORMAT.to_owned(),
            dim,
            source: source.into(),
            documents,
            queries: BTreeMap::new(),
        };
        means.validate()?;
        Ok(means)
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
        if !m.len().is_multiple_of(dim) {
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
    let kept: Vec<bool> = sigma.iter().map(|&s| s > RANK_TOLERANCE * max).collect();
    let rank = kept.iter().filter(|&&k| k).count();
    // U's columns: A_j / σ_j where σ_j > 0.
    let mut u: Vec<Vec<f64>> = a
        .iter()
        .zip(&sigma)
        .zip(&kept)
        .map(|((col, &s), &k)| {
            if k {
                col.iter().map(|x| x / s).collect()
            } else {
                Vec::new()
            }
        })
        .collect();
    if rank < dim {
        // Directions where `X_Lᵀ Y` vanishes. If the data have no energy there (the
        // embeddings span a subspace: multilingual-e5's span 383 of 384 dimensions), the
        // map is unique on the data and U is completed orthonormally; otherwise the fit is
        // ambiguous on real data: an error.
        complete_orthonormal(&mut u, dim);
        let energy = |m: &[f32], basis: &[Vec<f64>]| -> (f64, f64) {
            let mut along = 0.0;
            let mut total = 0.0;
            for row in m.chunks_exact(dim) {
                total += row
                    .iter()
                    .map(|&x| f64::from(x) * f64::from(x))
                    .sum::<f64>();
                for (j, b) in basis.iter().enumerate() {
                    if !kept[j] {
                        let d: f64 = row.iter().zip(b).map(|(&x, &bi)| f64::from(x) * bi).sum();
                        along += d * d;
                    }
                }
            }
            (along, total)
        };
        let (xa, xt) = energy(x, &u);
        let (ya, yt) = energy(y, &v);
        if xa > NULL_ENERGY * xt || ya > NULL_ENERGY * yt {
            return Err(DebiasError::RankDeficient {
                lang: lang.to_owned(),
                pairs: n,
                rank,
                dim,
            });
        }
    }
    // W[i][k] = Σ_j U[i][j] V[k][j] (U, V stored by columns).
    let mut w = vec![vec![0.0f32; dim]; dim];
    for (i, wi) in w.iter_mut().enumerate() {
        for (k, wik) in wi.iter_mut().enumerate() {
            *wik = (0..dim).map(|j| u[j][i] * v[j][k]).sum::<f64>() as f32;
        }
    }
    Ok(ProcrustesMap {
        pairs: n,
        matrix: w,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const S3: f32 = 0.577_350_26; // 1/√3

    fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() <= tol)
    }

    fn apply(
        method: Debias,
        dim: usize,
        docs: &mut [f32],
        doc_langs: &[&str],
        queries: &mut [f32],
        query_langs: &[&str],
        fitted: Fitted<'_>,
    ) -> Result<(), DebiasError> {
        method.apply(
            dim,
            Rows::new(docs, doc_langs),
            Rows::new(queries, query_langs),
            fitted,
        )
    }

    #[test]
    fn zscore_changes_scores_only() {
        let mut docs = vec![1.0, 0.0, 0.6, 0.8, 0.8, 0.6];
        let mut queries = vec![0.6, 0.8];
        let (d0, q0) = (docs.clone(), queries.clone());
        let langs = ["en", "de", "de"];
        apply(
            Debias::ZScore,
            2,
            &mut docs,
            &langs,
            &mut queries,
            &["de"],
            Fitted::default(),
        )
        .unwrap();
        assert_eq!((docs, queries), (d0, q0));
        let raw = vec![0.6_f32, 1.0, 0.96, 0.5];
        let langs = ["en", "de", "de", "en"];
        for m in Debias::ALL {
            let mut s = raw.clone();
            if m == Debias::Routed {
                let err = m.rescore(&mut s, &langs).unwrap_err();
                assert_eq!(err, DebiasError::RoutingNeedsTwoModels);
                assert_eq!(s, raw, "unchanged on error");
                continue;
            }
            m.rescore(&mut s, &langs).unwrap();
            if m == Debias::ZScore {
                // en 0.6, 0.5 → ±1; de 1.0, 0.96 → ±1.
                assert!(close(&s, &[1.0, 1.0, -1.0, -1.0], 1e-4), "{s:?}");
            } else {
                assert_eq!(s, raw, "{m}");
            }
        }
    }

    #[test]
    fn names_parse_and_model_names() {
        for m in Debias::ALL {
            assert_eq!(m.name().parse::<Debias>().unwrap(), m);
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(Debias::None.model_name("base"), "base");
        assert_eq!(Debias::CentreQ.model_name("base"), "base+centre-q");
        assert_eq!(
            Debias::parse_list(" none, centre ,none,procrustes").unwrap(),
            [Debias::None, Debias::Centre, Debias::Procrustes]
        );
        let err = "center".parse::<Debias>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown debiasing method \"center\" (expected one of: none, centre, centre-q, \
             procrustes, zscore, routed)"
        );
        assert_eq!(Debias::ZScore.model_name("aligned"), "aligned+zscore");
        assert!(matches!(
            Debias::parse_list("none,,centre"),
            Err(DebiasError::EmptyMethod { .. })
        ));
        assert!(matches!(
            Debias::parse_list(""),
            Err(DebiasError::EmptyMethod { .. })
        ));
        assert_eq!(
            serde_json::to_string(&Debias::CentreQ).unwrap(),
            "\"centre-q\""
        );
    }

    #[test]
    fn transductive_centring_hand_computed() {
        // en: (1,0,0), (0,1,0) → μ = (½,½,0) → ±(1,−1,0)/√2.
        // de: the three axes → μ = (⅓,⅓,⅓) → (2,−1,−1)/√6 and permutations.
        let mut docs = vec![
            1.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, //
            1.0, 0.0, 0.0, //
            0.0, 1.0, 0.0, //
            0.0, 0.0, 1.0,
        ];
        let langs = ["en", "en", "de", "de", "de"];
        let mut queries = vec![S3, S3, S3];
        let original_queries = queries.clone();
        apply(
            Debias::Centre,
            3,
            &mut docs,
            &langs,
            &mut queries,
            &["de"],
            Fitted::default(),
        )
        .unwrap();
        let (h, a, b) = (
            std::f32::consts::FRAC_1_SQRT_2,
            2.0 / 6f32.sqrt(),
            1.0 / 6f32.sqrt(),
        );
        let expect = [
            h, -h, 0.0, //
            -h, h, 0.0, //
            a, -b, -b, //
            -b, a, -b, //
            -b, -b, a,
        ];
        assert!(close(&docs, &expect, 1e-6), "{docs:?}");
        // `centre` leaves the queries alone.
        assert_eq!(queries, original_queries);
        // Every row is unit length again.
        for r in docs.chunks(3) {
            assert!((r.iter().map(|x| x * x).sum::<f32>() - 1.0).abs() < 1e-6);
        }
    }

    #[test]
    fn centre_q_uses_the_query_means() {
        let mut docs = vec![1.0, 0.0, 0.0, 1.0];
        let mut queries = vec![0.6, 0.8, 0.8, 0.6, 1.0, 0.0];
        // de queries: μ = (0.7, 0.7) → (−0.1, 0.1)/‖·‖, (0.1, −0.1)/‖·‖.
        let err = apply(
            Debias::CentreQ,
            2,
            &mut docs,
            &["en", "en"],
            &mut queries,
            &["de", "de", "en"],
            Fitted::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DebiasError::SingleRow {
                side: Side::Query,
                lang: "en".into()
            }
        );
        // The English query is alone in its language: an error, and nothing changed.
        assert_eq!(queries, [0.6, 0.8, 0.8, 0.6, 1.0, 0.0]);
        assert_eq!(docs, [1.0, 0.0, 0.0, 1.0]);
        apply(
            Debias::CentreQ,
            2,
            &mut docs,
            &["en", "en"],
            &mut queries[..4],
            &["de", "de"],
            Fitted::default(),
        )
        .unwrap();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        assert!(close(&queries[..4], &[-h, h, h, -h], 1e-6), "{queries:?}");
        assert!(close(&docs, &[h, -h, -h, h], 1e-6), "{docs:?}");
    }

    #[test]
    fn single_row_and_zero_after_centring() {
        let mut docs = vec![1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let langs = ["en", "en", "de"];
        let err = apply(
            Debias::Centre,
            2,
            &mut docs,
            &langs,
            &mut [],
            &[],
            Fitted::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DebiasError::SingleRow {
                side: Side::Document,
                lang: "de".into()
            }
        );
        assert!(err.to_string().contains("use a means file"), "{err}");
        assert_eq!(docs, [1.0, 0.0, 0.0, 1.0, 0.6, 0.8]);
        // Two identical documents: both equal their mean.
        let mut docs = vec![0.6, 0.8, 0.6, 0.8];
        let err = apply(
            Debias::Centre,
            2,
            &mut docs,
            &["de", "de"],
            &mut [],
            &[],
            Fitted::default(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            DebiasError::ZeroAfterCentring {
                side: Side::Document,
                row: 0,
                lang: "de".into()
            }
        );
    }

    #[test]
    fn inductive_centring_from_a_means_file() {
        let means = LanguageMeans::from_json(
            r#"{"format": "langbias-means/1", "dim": 2,
                "documents": {"de": [0.5, 0.0], "en": [0.0, 0.5]},
                "queries": {"de": [0.0, -1.0]}}"#,
        )
        .unwrap();
        let fitted = Fitted {
            means: Some(&means),
            maps: None,
        };
        // A single de document is fine with a file: (0.6, 0.8) − (0.5, 0) = (0.1, 0.8).
        let mut docs = vec![0.6, 0.8, 1.0, 0.0];
        let mut queries = vec![1.0, 0.0];
        apply(
            Debias::CentreQ,
            2,
            &mut docs,
            &["de", "en"],
            &mut queries,
            &["de"],
            fitted,
        )
        .unwrap();
        let n = 0.65f32.sqrt();
        let m = 1.25f32.sqrt();
        let s2 = 2f32.sqrt();
        assert!(
            close(&docs, &[0.1 / n, 0.8 / n, 1.0 / m, -0.5 / m], 1e-6),
            "{docs:?}"
        );
        assert!(close(&queries, &[1.0 / s2, 1.0 / s2], 1e-6), "{queries:?}");
        // A language the file lacks, on either side, lists what it has.
        let mut docs = vec![1.0, 0.0];
        let err = apply(Debias::Centre, 2, &mut docs, &["zh"], &mut [], &[], fitted).unwrap_err();
        assert_eq!(
            err.to_string(),
            "no document mean for language \"zh\" in the means file (it has: de, en)"
        );
        let err = apply(
            Debias::CentreQ,
            2,
            &mut [1.0, 0.0],
            &["de"],
            &mut [1.0, 0.0],
            &["en"],
            fitted,
        )
        .unwrap_err();
        assert!(
            matches!(&err, DebiasError::NoMean { side: Side::Query, lang, available } if lang == "en" && available == "de"),
            "{err}"
        );
        // Embeddings of another dimension.
        let err = apply(Debias::Centre, 1, &mut [1.0], &["de"], &mut [], &[], fitted).unwrap_err();
        assert_eq!(
            err,
            DebiasError::DimMismatch {
                what: "means file",
                expected: 1,
                found: 2
            }
        );
    }

    #[test]
    fn means_file_round_trip_and_validation() {
        let docs = [1.0, 0.0, 0.0, 1.0, 0.6, 0.8];
        let means = LanguageMeans::fit(
            2,
            (&docs[..], &["en", "en", "de"]),
            (&[][..], &[] as &[&str]),
            "toy",
        )
        .unwrap();
        assert_eq!(means.documents["en"], [0.5, 0.5]);
        assert_eq!(means.documents["de"], [0.6, 0.8]);
        assert!(means.queries.is_empty());
        let json = means.to_json_pretty();
        assert_eq!(LanguageMeans::from_json(&json).unwrap(), means);
        assert_eq!(
            LanguageMeans::from_json(&format!("\u{feff}{json}")).unwrap(),
            means
        );
        let bad = |text: &str| LanguageMeans::from_json(text).unwrap_err().to_string();
        assert_eq!(
            bad(r#"{"format": "langbias-means/2", "dim": 2, "documents": {}}"#),
            "unknown means file format \"langbias-means/2\" (expected \"langbias-means/1\")"
        );
        assert_eq!(
            bad(r#"{"format": "langbias-means/1", "dim": 2, "documents": {"de": [1.0]}}"#),
            "document mean, language \"de\": 1 values, expected 2"
        );
        // 1e39 overflows f32 to infinity.
        assert_eq!(
            bad(
                r#"{"format": "langbias-means/1", "dim": 1, "documents": {}, "queries": {"de": [1e39]}}"#
            ),
            "query mean, language \"de\": non-finite value"
        );
        assert_eq!(
            bad(r#"{"format": "langbias-means/1", "dim": 1, "documents": {"": [1.0]}}"#),
            "document mean, language \"\": empty language code"
        );
        assert!(
            bad(r#"{"format": "langbias-means/1", "dim": 0, "documents": {}}"#)
                .contains("at least 1")
        );
        assert!(
            bad(r#"{"format": "langbias-means/1", "dim": 1, "documents": {}, "mean": 1}"#)
                .contains("line 1")
        );
        // Fitting checks its input like the transforms.
        assert_eq!(
            LanguageMeans::fit(
                2,
                (&[1.0, f32::NAN][..], &["de"]),
                (&[][..], &[] as &[&str]),
                ""
            )
            .unwrap_err(),
            DebiasError::NonFinite {
                side: Side::Document,
                row: 0
            }
        );
    }

    #[cfg(feature = "fs")]
    #[test]
    fn file_errors_name_the_file() {
        let means =
            LanguageMeans::fit(1, (&[1.0][..], &["de"]), (&[][..], &[] as &[&str]), "").unwrap();
        let json = means.to_json_pretty();
        let dir = std::env::temp_dir().join(format!("langbias-means-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("means.json");
        std::fs::write(&path, json.replace("langbias-means/1", "x")).unwrap();
        let err = LanguageMeans::from_path(&path).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: unknown means file format", path.display())),
            "{err}"
        );
        std::fs::write(&path, &json).unwrap();
        assert_eq!(LanguageMeans::from_path(&path).unwrap(), means);
        let missing = dir.join("missing.json");
        let err = ProcrustesMaps::from_path(&missing).unwrap_err().to_string();
        assert!(
            err.starts_with(&format!("{}: cannot read", missing.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn input_checks() {
        let fitted = Fitted::default();
        let cases: [(usize, Vec<f32>, Vec<&str>, DebiasError); 5] = [
            (0, vec![], vec![], DebiasError::ZeroDim),
            (
                2,
                vec![1.0, 0.0, 1.0],
                vec!["de"],
                DebiasError::Shape {
                    side: Side::Document,
                    len: 3,
                    dim: 2,
                },
            ),
            (
                2,
                vec![1.0, 0.0],
                vec!["de", "en"],
                DebiasError::LanguageCount {
                    side: Side::Document,
                    rows: 1,
                    langs: 2,
                },
            ),
            (
                2,
                vec![1.0, 0.0, 0.0, f32::INFINITY],
                vec!["de", "de"],
                DebiasError::NonFinite {
                    side: Side::Document,
                    row: 1,
                },
            ),
            (
                2,
                vec![1.0, 0.0, 0.0, 1.0],
                vec!["de", " "],
                DebiasError::MissingLanguage {
                    side: Side::Document,
                    row: 1,
                },
            ),
        ];
        for (dim, mut docs, langs, expected) in cases {
            // Checked for every method, `none` included.
            for m in Debias::ALL {
                let got = apply(m, dim, &mut docs, &langs, &mut [], &[], fitted).unwrap_err();
                assert_eq!(got, expected, "{m}");
            }
        }
        // Queries are checked too.
        let err = apply(
            Debias::Centre,
            2,
            &mut [],
            &[],
            &mut [f32::NAN, 0.0],
            &["de"],
            fitted,
        )
        .unwrap_err();
        assert_eq!(
            err,
            DebiasError::NonFinite {
                side: Side::Query,
                row: 0
            }
        );
        assert_eq!(
            apply(Debias::Procrustes, 2, &mut [], &[], &mut [], &[], fitted).unwrap_err(),
            DebiasError::NoMaps
        );
    }

    /// `R = R_x(40°) · R_z(30°)`, rows of `x'` = `x R`.
    fn rotation() -> Vec<Vec<f32>> {
        let (a, b) = (30f32.to_radians(), 40f32.to_radians());
        let rz = [
            [a.cos(), a.sin(), 0.0],
            [-a.sin(), a.cos(), 0.0],
            [0.0, 0.0, 1.0],
        ];
        let rx = [
            [1.0, 0.0, 0.0],
            [0.0, b.cos(), b.sin()],
            [0.0, -b.sin(), b.cos()],
        ];
        (0..3)
            .map(|i| {
                (0..3)
                    .map(|j| (0..3).map(|k| rx[i][k] * rz[k][j]).sum())
                    .collect()
            })
            .collect()
    }

    fn times(x: &[f32], w: &[Vec<f32>]) -> Vec<f32> {
        x.chunks(w.len())
            .flat_map(|r| {
                (0..w.len()).map(move |j| r.iter().zip(w).map(|(a, wi)| a * wi[j]).sum::<f32>())
            })
            .collect()
    }

    const X: [f32; 12] = [
        1.0, 0.0, 0.0, //
        0.0, 0.8, 0.6, //
        S3, -S3, S3, //
        0.0, 0.0, 1.0,
    ];

    #[test]
    fn procrustes_recovers_a_rotation_and_a_reflection() {
        let r = rotation();
        let mirror = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 1.0, 0.0],
            vec![0.0, 0.0, -1.0],
        ];
        for truth in [r, mirror] {
            let y = times(&X, &truth);
            let maps = ProcrustesMaps::fit(3, "en", [("de", &X[..], &y[..])], "").unwrap();
            let w = &maps.maps["de"].matrix;
            assert_eq!(maps.maps["de"].pairs, 4);
            for (wi, ti) in w.iter().zip(&truth) {
                assert!(close(wi, ti, 1e-5), "{w:?} vs {truth:?}");
            }
            assert!(orthogonality_error(w) < 1e-5);
        }
        // The reflection has determinant −1: nothing forces a rotation (as in SciPy).
    }

    #[test]
    fn procrustes_apply_maps_non_pivot_rows_only() {
        let r = rotation();
        let y = times(&X, &r);
        let maps = ProcrustesMaps::fit(3, "en", [("de", &X[..], &y[..])], "toy").unwrap();
        let fitted = Fitted {
            means: None,
            maps: Some(&maps),
        };
        let mut docs = vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0];
        let mut queries = vec![0.0, 0.0, 1.0];
        apply(
            Debias::Procrustes,
            3,
            &mut docs,
            &["en", "de"],
            &mut queries,
            &["de"],
            fitted,
        )
        .unwrap();
        assert_eq!(docs[..3], [1.0, 0.0, 0.0]);
        assert!(close(&docs[3..], &r[1], 1e-5), "{docs:?}");
        assert!(close(&queries, &r[2], 1e-5), "{queries:?}");
        let err = apply(
            Debias::Procrustes,
            3,
            &mut [1.0, 0.0, 0.0],
            &["zh"],
            &mut [],
            &[],
            fitted,
        )
        .unwrap_err();
        assert_eq!(
            err.to_string(),
            "no Procrustes map for language \"zh\" (maps: de; en is the pivot)"
        );
        let err = apply(
            Debias::Procrustes,
            1,
            &mut [1.0],
            &["de"],
            &mut [],
            &[],
            fitted,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            DebiasError::DimMismatch {
                expected: 1,
                found: 3,
                ..
            }
        ));
        // The file round-trips and is validated.
        let json = maps.to_json_pretty();
        assert_eq!(ProcrustesMaps::from_json(&json).unwrap(), maps);
        let mut skewed = maps.clone();
        skewed.maps.get_mut("de").unwrap().matrix[0][0] += 0.01;
        assert!(matches!(
            ProcrustesMaps::from_json(&skewed.to_json_pretty()),
            Err(DebiasError::NotOrthogonal { .. })
        ));
        let mut pivot = maps.clone();
        pivot.maps.insert("en".into(), maps.maps["de"].clone());
        assert_eq!(
            pivot.validate().unwrap_err(),
            DebiasError::PivotMap { lang: "en".into() }
        );
        let mut short = maps.clone();
        short.maps.get_mut("de").unwrap().matrix.pop();
        assert!(
            short
                .validate()
                .unwrap_err()
                .to_string()
                .contains("2 rows, expected 3")
        );
    }

    #[test]
    fn procrustes_rejects_too_few_pairs_and_rank_deficiency() {
        let y = times(&X, &rotation());
        let err = ProcrustesMaps::fit(3, "en", [("de", &X[..6], &y[..6])], "").unwrap_err();
        assert_eq!(
            err.to_string(),
            "Procrustes fit for \"de\": 2 parallel pairs for dimension 3; at least 3 are \
             needed for a unique map"
        );
        // Four pairs, all in the x–y plane: rank 2, but the data have no energy outside the
        // plane, so the map is unique on them (completed orthonormally) and recovers them.
        let flat = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.6, 0.8, 0.0, -0.8, 0.6, 0.0];
        let yf = times(&flat, &rotation());
        let maps = ProcrustesMaps::fit(3, "en", [("de", &flat[..], &yf[..])], "").unwrap();
        maps.validate().unwrap();
        let mapped = times(&flat, &maps.maps["de"].matrix);
        for (a, b) in mapped.iter().zip(&yf) {
            assert!((a - b).abs() < 1e-5, "{mapped:?} vs {yf:?}");
        }
        // Energy along a vanishing direction: e3 maps to +e1 once and to −e1 once, so
        // `Xᵀ Y` loses that direction while the data use it — ambiguous, an error.
        let x4 = [1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 1.0];
        let y4 = [0.0, 0.0, 1.0, 0.0, 1.0, 0.0, 1.0, 0.0, 0.0, -1.0, 0.0, 0.0];
        assert_eq!(
            ProcrustesMaps::fit(3, "en", [("de", &x4[..], &y4[..])], "").unwrap_err(),
            DebiasError::RankDeficient {
                lang: "de".into(),
                pairs: 4,
                rank: 2,
                dim: 3
            }
        );
        let bad = |x: &[f32], y: &[f32]| {
            ProcrustesMaps::fit(3, "en", [("de", x, y)], "")
                .unwrap_err()
                .to_string()
        };
        assert!(bad(&X, &y[..9]).contains("4 source rows but 3 pivot rows"));
        assert!(bad(&X[..11], &y).contains("11 values are not rows of dimension 3"));
        let mut nan = y.clone();
        nan[4] = f32::NAN;
        assert!(bad(&X, &nan).contains("pivot row 1: non-finite value"));
        assert_eq!(
            ProcrustesMaps::fit(3, "en", [("en", &X[..], &y[..])], "").unwrap_err(),
            DebiasError::PivotMap { lang: "en".into() }
        );
        assert_eq!(
            ProcrustesMaps::fit(
                3,
                "en",
                [("de", &X[..], &y[..]), ("de", &X[..], &y[..])],
                ""
            )
            .unwrap_err(),
            DebiasError::DuplicateLanguage { lang: "de".into() }
        );
    }

    #[test]
    fn procrustes_on_a_larger_random_problem_is_orthogonal_and_optimal() {
        // Deterministic pseudo-random 200 × 48 pairs (y = x Q + noise, Q a product of
        // Givens rotations).
        let (n, dim) = (200, 48);
        let mut state = 15u64;
        let mut rnd = || {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ((state >> 33) as f64 / (1u64 << 31) as f64 - 0.5) as f32
        };
        let x: Vec<f32> = (0..n * dim).map(|_| rnd()).collect();
        // Q: the Givens rotations applied to the rows of the identity.
        let mut q: Vec<Vec<f32>> = (0..dim)
            .map(|i| (0..dim).map(|j| f32::from(u8::from(i == j))).collect())
            .collect();
        for p in 0..dim - 1 {
            let (c, s) = ((p as f32).cos(), (p as f32).sin());
            for r in &mut q {
                let (a, b) = (r[p], r[p + 1]);
                r[p] = c * a - s * b;
                r[p + 1] = s * a + c * b;
            }
        }
        let y: Vec<f32> = times(&x, &q).iter().map(|v| v + 0.05 * rnd()).collect();
        let maps = ProcrustesMaps::fit(dim, "en", [("de", &x[..], &y[..])], "").unwrap();
        let w = &maps.maps["de"].matrix;
        assert!(orthogonality_error(w) < 1e-5);
        // No other orthogonal map (the generating Q, W with two columns swapped or one
        // negated) fits better.
        let loss = |w: &[Vec<f32>]| -> f32 {
            times(&x, w)
                .iter()
                .zip(&y)
                .map(|(a, b)| (a - b) * (a - b))
                .sum()
        };
        let best = loss(w);
        let mut swapped = w.clone();
        swapped.iter_mut().for_each(|r| r.swap(0, 1));
        let mut negated = w.clone();
        negated.iter_mut().for_each(|r| r[5] = -r[5]);
        assert!(best <= loss(&q), "{best} vs {}", loss(&q));
        assert!(best < loss(&swapped) && best < loss(&negated), "{best}");
    }
}

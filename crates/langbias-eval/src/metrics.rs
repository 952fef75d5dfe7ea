//! Ranking with the trec_eval tie rule and per-query / aggregated retrieval metrics.
//!
//! # Ranking (tie rule)
//!
//! Documents are sorted by score descending; equal scores are ordered by document id
//! **descending** (byte-wise, like `strcmp` in trec_eval's `comp_sim_docno`, which
//! pytrec_eval uses too). `-0.0 == 0.0`; `NaN` is treated as `-inf` (ranked last, ties
//! among those again by id descending). Ranks are 1-based.
//!
//! # Metrics for one query
//!
//! Notation: `n` = number of documents in the pool (all of them are ranked), `rel(d)` =
//! qrels grade of `d` (absent = 0), relevant ⇔ `rel(d) > 0`, `R` = number of relevant
//! documents in the qrels (including any that are not in the pool), `r_1 < r_2 < …` the
//! ranks of the relevant documents that are in the pool.
//!
//! * **Max@R** = `max_i r_i`, the rank at which the *last* relevant document appears
//!   (lower is better). If a relevant document is missing from the pool it counts as
//!   rank `n + 1`.
//! * **Min rank** = `r_1` (`n + 1` if no relevant document is in the pool).
//! * **Complete@K** = 1 if every relevant document is within the top `K`, else 0
//!   (⇔ `Max@R ≤ K`). `K > n` is clamped to `n`.
//! * **nDCG@k** = `DCG@k / IDCG@k`, `DCG@k = Σ_{i=1}^{min(k,n)} g(d_i) / log2(i + 1)`,
//!   `IDCG@k` = the same sum over the qrels' grades sorted descending (top `min(k, R)`),
//!   i.e. the ideal ranking comes from the qrels, not from the pool (as in trec_eval).
//!   Gain `g`: [`Gain::Graded`] `g = max(rel, 0)` (linear), [`Gain::Binary`] `g = [rel > 0]`.
//! * **MRR@k** = `1 / r_1` if `r_1 ≤ k`, else 0. **MRR** (no cutoff) = `1 / r_1`, 0 if no
//!   relevant document is in the pool (= trec_eval `recip_rank`).
//! * **Recall@k** = `|{i : r_i ≤ k}| / R`.
//! * **AP** (average precision) = `(1/R) Σ_i i / r_i` (precision at each relevant
//!   document's rank; relevant documents missing from the pool add 0) = trec_eval `map`
//!   for one query. **mAP** = mean AP; on the `multi` scenario over all pool languages
//!   (every parallel version relevant) this is the LaReQA / XQuAD-R mAP.
//!
//! Cutoffs larger than the pool are clamped implicitly (a ranking has only `n` entries);
//! the metric keeps the requested label (e.g. `ndcg@10` on a 5-document pool).
//!
//! # Language bias (both directions)
//!
//! With a [`BiasSpec`] `{english: E, native: L}` (normally `E = "en"` and `L` the
//! query language) and the language of every document:
//!
//! * **English-above** = number of *non-relevant* `E` documents ranked above the best
//!   (lowest-rank) relevant `L` document; undefined (`None`) if no relevant `L` document
//!   is in the pool.
//! * **Native-above** = number of *non-relevant* `L` documents ranked above the best
//!   relevant `E` document; `None` if no relevant `E` document is in the pool.
//!
//! "Above" refers to the tie-broken ranking. Aggregates: `rate` = share of queries
//! (among those where the count is defined) with count ≥ 1, `mean` = mean count.
//!
//! # Language preference
//!
//! With a [`LanguageSpec`] (query language `Q`) and `k` = [`MetricsConfig::lang_pref_at`]
//! (default 10): `LangPref@k = |{i ≤ min(k, n) : lang(d_i) = Q}| / min(k, n) −
//! |{d : lang(d) = Q}| / n`, the share of the query's own language among the top `k`
//! minus its share of the pool, in `[−1, 1]`: 0 = no preference, > 0 = the own language
//! is over-represented at the top (a difference rather than a ratio: bounded, and
//! comparable across pools). Undefined (`None`) when the pool holds no document or only
//! documents of `Q`. Aggregate: mean over the queries where it is defined.
//!
//! # Edge cases
//!
//! * Empty pool (no documents): [`MetricsError::EmptyPool`].
//! * Query with no relevant document in the qrels (no entry, or all grades ≤ 0):
//!   **excluded** from all means and counted in [`Evaluation::excluded`].
//!   If every query is excluded, [`MetricsError::NoEvaluableQueries`].
//! * Cutoff 0 (also `lang_pref_at = 0`) is rejected ([`MetricsError::InvalidCutoff`]).
//! * Scores length ≠ number of documents, or duplicate document ids: errors.
//! * Queries in the qrels without scores are ignored (only scored queries are evaluated).
//!
//! # Aggregation
//!
//! Means are arithmetic means over the evaluated queries. Median and p90 use linear
//! interpolation between order statistics: `h = (m - 1)·p`,
//! `x_(⌊h⌋) + (h - ⌊h⌋)(x_(⌊h⌋+1) - x_(⌊h⌋))` (numpy's default).

use std::cmp::Ordering;
use std::collections::{BTreeMap, HashSet};

use serde::{Deserialize, Serialize};

/// Errors from evaluating rankings.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum MetricsError {
    /// The pool has no documents.
    #[error("the document pool is empty")]
    EmptyPool,
    /// Two documents in the pool share an id.
    #[error("duplicate document id {id:?} in the pool")]
    DuplicateDocumentId {
        /// The repeated id.
        id: String,
    },
    /// A query's score vector does not have one score per document.
    #[error("query {query_id:?}: {found} scores for {expected} documents")]
    ScoreLength {
        /// The query.
        query_id: String,
        /// Number of documents.
        expected: usize,
        /// Number of scores given.
        found: usize,
    },
    /// `doc_langs` does not have one language per document.
    #[error("{found} document languages for {expected} documents")]
    LanguageLength {
        /// Number of documents.
        expected: usize,
        /// Number of languages given.
        found: usize,
    },
    /// A cutoff of 0 was configured.
    #[error("cutoff must be at least 1 (metric {metric})")]
    InvalidCutoff {
        /// The metric whose cutoff list contained 0.
        metric: &'static str,
    },
    /// No query had a relevant document.
    #[error("no query has a relevant document ({excluded} queries excluded)")]
    NoEvaluableQueries {
        /// Number of excluded queries.
        excluded: usize,
    },
}

/// Relevance judgements: query id → document id → grade (`> 0` = relevant).
///
/// Serializes as the pytrec_eval / JSON qrels shape `{"q1": {"d1": 1}}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Qrels(pub BTreeMap<String, BTreeMap<String, i32>>);

impl Qrels {
    /// Empty qrels.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets the grade of `doc_id` for `query_id`.
    pub fn insert(&mut self, query_id: impl Into<String>, doc_id: impl Into<String>, rel: i32) {
        self.0
            .entry(query_id.into())
            .or_default()
            .insert(doc_id.into(), rel);
    }

    /// The judgements of one query, created empty if absent.
    pub fn entry(&mut self, query_id: &str) -> &mut BTreeMap<String, i32> {
        self.0.entry(query_id.to_owned()).or_default()
    }

    /// The judgements of one query.
    pub fn get(&self, query_id: &str) -> Option<&BTreeMap<String, i32>> {
        self.0.get(query_id)
    }

    /// Number of queries with an entry.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True if no query has an entry.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Iterates over `(query id, judgements)` in query-id order.
    pub fn iter(&self) -> impl Iterator<Item = (&String, &BTreeMap<String, i32>)> {
        self.0.iter()
    }

    /// Number of relevant (`grade > 0`) documents for a query.
    pub fn num_relevant(&self, query_id: &str) -> usize {
        self.get(query_id)
            .map_or(0, |m| m.values().filter(|&&r| r > 0).count())
    }
}

/// How qrels grades become nDCG gains.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Gain {
    /// `g = max(rel, 0)` (linear gain, as trec_eval's `ndcg_cut`).
    #[default]
    Graded,
    /// `g = 1` if `rel > 0`, else 0.
    Binary,
}

/// Which cutoffs to compute. All lists must contain only values ≥ 1.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricsConfig {
    /// Complete@K cutoffs (default 1, 5, 10).
    pub complete_at: Vec<usize>,
    /// nDCG@k cutoffs (default 1, 10).
    pub ndcg_at: Vec<usize>,
    /// MRR@k cutoffs (default 10). MRR without cutoff is always computed.
    pub mrr_at: Vec<usize>,
    /// Recall@k cutoffs (default 1, 5, 10).
    pub recall_at: Vec<usize>,
    /// nDCG gain (default graded; identical to binary for binary qrels).
    pub gain: Gain,
    /// Cutoff `k` of the language preference (default 10).
    #[serde(default = "default_lang_pref_at")]
    pub lang_pref_at: usize,
}

fn default_lang_pref_at() -> usize {
    10
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Self {
            complete_at: vec![1, 5, 10],
            ndcg_at: vec![1, 10],
            mrr_at: vec![10],
            recall_at: vec![1, 5, 10],
            gain: Gain::Graded,
            lang_pref_at: default_lang_pref_at(),
        }
    }
}

impl MetricsConfig {
    /// Rejects cutoffs of 0.
    pub fn validate(&self) -> Result<(), MetricsError> {
        for (metric, list) in [
            ("complete", &self.complete_at),
            ("ndcg", &self.ndcg_at),
            ("mrr", &self.mrr_at),
            ("recall", &self.recall_at),
        ] {
            if list.contains(&0) {
                return Err(MetricsError::InvalidCutoff { metric });
            }
        }
        if self.lang_pref_at == 0 {
            return Err(MetricsError::InvalidCutoff {
                metric: "lang_pref",
            });
        }
        Ok(())
    }
}

/// Languages used for the two bias counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct BiasSpec {
    /// The pivot language, normally `"en"`.
    pub english: String,
    /// The native language `L`, normally the query language.
    pub native: String,
}

impl BiasSpec {
    /// `{english: "en", native}`.
    pub fn english_vs(native: impl Into<String>) -> Self {
        Self {
            english: crate::ENGLISH.to_owned(),
            native: native.into(),
        }
    }
}

/// The languages behind the language-dependent metrics of a ranking (given together with
/// the language of every document): the query language for the language preference, and
/// the bias languages for the two bias counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LanguageSpec {
    /// The query's language (language preference: its share of the top `k`).
    pub query: String,
    /// The bias languages (`None`: no bias counts).
    pub bias: Option<BiasSpec>,
}

impl LanguageSpec {
    /// Query language `lang` with the bias counts English vs `lang` (the MIX setting).
    pub fn english_vs(lang: impl Into<String>) -> Self {
        let query = lang.into();
        Self {
            bias: Some(BiasSpec::english_vs(query.clone())),
            query,
        }
    }
}

/// Language preference of one query: the share of the query's language among the top
/// `k` documents minus its share of the pool.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct LanguagePreference {
    /// The cutoff `k` (as configured; the top list holds `min(k, n)` documents).
    pub at: usize,
    /// Share of the query's language among the top `min(k, n)` documents.
    pub top_share: f64,
    /// Share of the query's language in the pool.
    pub pool_share: f64,
}

impl LanguagePreference {
    /// `top_share − pool_share`, in `[−1, 1]`: 0 = the top `k` hold the query's language
    /// as often as the pool does, > 0 = the query's own language is preferred.
    pub fn value(&self) -> f64 {
        self.top_share - self.pool_share
    }
}

/// Metrics of one query.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueryMetrics {
    /// The query id.
    pub query_id: String,
    /// Pool size `n`.
    pub num_docs: usize,
    /// `R`: relevant documents in the qrels.
    pub num_relevant: usize,
    /// Relevant documents of the qrels that are not in the pool.
    pub missing_relevant: usize,
    /// Max@R (1-based; `n + 1` if a relevant document is missing from the pool).
    pub max_rank: usize,
    /// Rank of the first relevant document (`n + 1` if none is in the pool).
    pub min_rank: usize,
    /// Complete@K per cutoff.
    pub complete: BTreeMap<usize, bool>,
    /// nDCG@k per cutoff.
    pub ndcg: BTreeMap<usize, f64>,
    /// MRR@k per cutoff.
    pub mrr_at: BTreeMap<usize, f64>,
    /// Reciprocal rank without cutoff.
    pub mrr: f64,
    /// Recall@k per cutoff.
    pub recall: BTreeMap<usize, f64>,
    /// Non-relevant English documents above the best relevant native one.
    pub english_above: Option<usize>,
    /// Non-relevant native documents above the best relevant English one.
    pub native_above: Option<usize>,
    /// Average precision (trec_eval `map` for one query).
    #[serde(default)]
    pub ap: f64,
    /// Language preference (`None` without languages, or when the pool holds only the
    /// query's language or none of it).
    #[serde(default)]
    pub lang_pref: Option<LanguagePreference>,
}

/// Mean, median and 90th percentile of a rank statistic.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct RankStats {
    /// Arithmetic mean.
    pub mean: f64,
    /// Median (linear interpolation).
    pub median: f64,
    /// 90th percentile (linear interpolation).
    pub p90: f64,
}

impl RankStats {
    /// Statistics of a non-empty list of values. Returns `None` for an empty list.
    pub fn from_values(values: &[f64]) -> Option<Self> {
        if values.is_empty() {
            return None;
        }
        let mut sorted = values.to_vec();
        sorted.sort_by(f64::total_cmp);
        Some(Self {
            mean: sorted.iter().sum::<f64>() / sorted.len() as f64,
            median: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
        })
    }
}

/// Linear-interpolation percentile of sorted, non-empty values, `p` in `[0, 1]`.
///
/// # Panics
/// If `sorted` is empty.
pub fn percentile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let lo = h.floor() as usize;
    let hi = (lo + 1).min(sorted.len() - 1);
    sorted[lo] + (h - lo as f64) * (sorted[hi] - sorted[lo])
}

/// Aggregated bias count.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct BiasStats {
    /// Queries where the count is defined.
    pub queries: usize,
    /// Share of those queries with count ≥ 1.
    pub rate: f64,
    /// Mean count.
    pub mean: f64,
}

impl BiasStats {
    fn from_counts(counts: impl Iterator<Item = Option<usize>>) -> Option<Self> {
        let defined: Vec<usize> = counts.flatten().collect();
        if defined.is_empty() {
            return None;
        }
        let m = defined.len() as f64;
        Some(Self {
            queries: defined.len(),
            rate: defined.iter().filter(|&&c| c >= 1).count() as f64 / m,
            mean: defined.iter().sum::<usize>() as f64 / m,
        })
    }
}

/// Mean metrics over the evaluated queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    /// Evaluated queries.
    pub num_queries: usize,
    /// Queries excluded because they have no relevant document.
    pub num_excluded: usize,
    /// Relevant documents of the qrels that are not in the ranked documents, summed over
    /// the evaluated queries (they count as never retrieved, as in trec_eval).
    #[serde(default)]
    pub num_missing_relevant: usize,
    /// Max@R statistics.
    pub max_rank: RankStats,
    /// Min-rank statistics.
    pub min_rank: RankStats,
    /// Mean Complete@K per cutoff.
    pub complete: BTreeMap<usize, f64>,
    /// Mean nDCG@k per cutoff.
    pub ndcg: BTreeMap<usize, f64>,
    /// Mean MRR@k per cutoff.
    pub mrr_at: BTreeMap<usize, f64>,
    /// Mean reciprocal rank without cutoff.
    pub mrr: f64,
    /// Mean Recall@k per cutoff.
    pub recall: BTreeMap<usize, f64>,
    /// English-above aggregate (`None` if never defined).
    pub english_above: Option<BiasStats>,
    /// Native-above aggregate (`None` if never defined).
    pub native_above: Option<BiasStats>,
    /// Mean average precision (trec_eval `map`; LaReQA mAP on the `multi` scenario).
    #[serde(default)]
    pub map: f64,
    /// Language-preference aggregate (`None` if never defined).
    #[serde(default)]
    pub lang_pref: Option<PreferenceStats>,
}

/// Aggregated language preference over the queries where it is defined.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PreferenceStats {
    /// The cutoff `k`.
    pub at: usize,
    /// Queries where it is defined.
    pub queries: usize,
    /// Mean of [`LanguagePreference::value`].
    pub mean: f64,
    /// Mean share of the query's language in the top `k`.
    pub top_share: f64,
}

impl PreferenceStats {
    /// Means over the defined values; those with another cutoff than the first are
    /// ignored (rows of one evaluation share one). `None` if none is defined.
    fn from_rows<'a>(
        prefs: impl IntoIterator<Item = Option<&'a LanguagePreference>>,
    ) -> Option<Self> {
        let mut prefs = prefs.into_iter().flatten().peekable();
        let at = prefs.peek()?.at;
        let defined: Vec<&LanguagePreference> = prefs.filter(|p| p.at == at).collect();
        let m = defined.len() as f64;
        Some(Self {
            at,
            queries: defined.len(),
            mean: defined.iter().map(|p| p.value()).sum::<f64>() / m,
            top_share: defined.iter().map(|p| p.top_share).sum::<f64>() / m,
        })
    }
}

impl Summary {
    /// Aggregates per-query rows. `None` if `rows` is empty.
    pub fn from_queries(rows: &[QueryMetrics], num_excluded: usize) -> Option<Self> {
        let max: Vec<f64> = rows.iter().map(|q| q.max_rank as f64).collect();
        let min: Vec<f64> = rows.iter().map(|q| q.min_rank as f64).collect();
        let m = rows.len() as f64;
        let mean_map = |get: &dyn Fn(&QueryMetrics) -> &BTreeMap<usize, f64>| {
            let mut sums: BTreeMap<usize, f64> = BTreeMap::new();
            for q in rows {
                for (&k, &v) in get(q) {
                    *sums.entry(k).or_default() += v;
                }
            }
            sums.into_iter().map(|(k, v)| (k, v / m)).collect()
        };
        let mut complete: BTreeMap<usize, f64> = BTreeMap::new();
        for q in rows {
            for (&k, &v) in &q.complete {
                *complete.entry(k).or_default() += f64::from(u8::from(v));
            }
        }
        complete.values_mut().for_each(|v| *v /= m);
        Some(Self {
            num_queries: rows.len(),
            num_excluded,
            num_missing_relevant: rows.iter().map(|q| q.missing_relevant).sum(),
            max_rank: RankStats::from_values(&max)?,
            min_rank: RankStats::from_values(&min)?,
            complete,
            ndcg: mean_map(&|q| &q.ndcg),
            mrr_at: mean_map(&|q| &q.mrr_at),
            mrr: rows.iter().map(|q| q.mrr).sum::<f64>() / m,
            recall: mean_map(&|q| &q.recall),
            english_above: BiasStats::from_counts(rows.iter().map(|q| q.english_above)),
            native_above: BiasStats::from_counts(rows.iter().map(|q| q.native_above)),
            map: rows.iter().map(|q| q.ap).sum::<f64>() / m,
            lang_pref: PreferenceStats::from_rows(rows.iter().map(|q| q.lang_pref.as_ref())),
        })
    }

    /// All aggregate values as flat `(name, value)` pairs, MTEB-style names
    /// (`ndcg_at_10`, `complete_at_10`, `max_at_r_mean`, `english_above_rate`, …).
    pub fn metric_values(&self) -> Vec<(String, f64)> {
        let mut out = vec![
            ("num_queries".to_owned(), self.num_queries as f64),
            ("num_excluded".to_owned(), self.num_excluded as f64),
            (
                "num_missing_relevant".to_owned(),
                self.num_missing_relevant as f64,
            ),
            ("max_at_r_mean".to_owned(), self.max_rank.mean),
            ("max_at_r_median".to_owned(), self.max_rank.median),
            ("max_at_r_p90".to_owned(), self.max_rank.p90),
            ("min_rank_mean".to_owned(), self.min_rank.mean),
            ("min_rank_median".to_owned(), self.min_rank.median),
        ];
        for (prefix, map) in [
            ("complete_at", &self.complete),
            ("ndcg_at", &self.ndcg),
            ("mrr_at", &self.mrr_at),
            ("recall_at", &self.recall),
        ] {
            out.extend(map.iter().map(|(k, v)| (format!("{prefix}_{k}"), *v)));
        }
        out.push(("mrr".to_owned(), self.mrr));
        out.push(("map".to_owned(), self.map));
        for (prefix, stats) in [
            ("english_above", &self.english_above),
            ("native_above", &self.native_above),
        ] {
            if let Some(s) = stats {
                out.push((format!("{prefix}_rate"), s.rate));
                out.push((format!("{prefix}_mean"), s.mean));
                out.push((format!("{prefix}_queries"), s.queries as f64));
            }
        }
        if let Some(p) = &self.lang_pref {
            out.push((format!("lang_pref_at_{}", p.at), p.mean));
            out.push((format!("own_lang_share_at_{}", p.at), p.top_share));
            out.push(("lang_pref_queries".to_owned(), p.queries as f64));
        }
        out
    }
}

/// Why a query was left out of the means (it has nothing that could be found).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExclusionReason {
    /// Pool: no document of the pool has the query's group.
    NoGroupDocument,
    /// Qrels: no document is judged with a grade above 0 for the query.
    NoPositiveJudgement,
    /// Its relevant documents exist, but none is in the scenario's document languages.
    NoRelevantInScenario,
}

impl ExclusionReason {
    /// The name used in JSON and CSV reports (`no_group_document`, …).
    pub fn code(self) -> &'static str {
        match self {
            Self::NoGroupDocument => "no_group_document",
            Self::NoPositiveJudgement => "no_positive_judgement",
            Self::NoRelevantInScenario => "no_relevant_in_scenario",
        }
    }
}

impl std::fmt::Display for ExclusionReason {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NoGroupDocument => "no document of the pool has its group",
            Self::NoPositiveJudgement => "no document judged relevant (grade > 0)",
            Self::NoRelevantInScenario => "no relevant document in the scenario's languages",
        })
    }
}

/// A query left out of an evaluation, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Exclusion {
    /// The query id.
    pub query_id: String,
    /// Why it was left out.
    pub reason: ExclusionReason,
}

impl Exclusion {
    /// An exclusion of `query_id` for `reason`.
    pub fn new(query_id: impl Into<String>, reason: ExclusionReason) -> Self {
        Self {
            query_id: query_id.into(),
            reason,
        }
    }
}

/// Result of evaluating a set of queries.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evaluation {
    /// Means over [`Evaluation::queries`].
    pub summary: Summary,
    /// Per-query rows, in input order.
    pub queries: Vec<QueryMetrics>,
    /// Queries left out of the means, with the reason (`summary.num_excluded` of them).
    pub excluded: Vec<Exclusion>,
}

/// Compares two `(score, id)` pairs in trec_eval order: score descending, then id
/// descending. `NaN` counts as `-inf`; `-0.0 == 0.0`.
pub fn trec_cmp(a_score: f32, a_id: &str, b_score: f32, b_id: &str) -> Ordering {
    let norm = |x: f32| if x.is_nan() { f32::NEG_INFINITY } else { x };
    norm(b_score)
        .partial_cmp(&norm(a_score))
        .unwrap_or(Ordering::Equal)
        .then_with(|| b_id.cmp(a_id))
}

/// Ranks documents: returns document indices, best first, using the trec_eval tie rule
/// (score descending, then id descending).
///
/// # Panics
/// If `scores` and `doc_ids` differ in length.
pub fn rank<S: AsRef<str>>(scores: &[f32], doc_ids: &[S]) -> Vec<usize> {
    assert_eq!(scores.len(), doc_ids.len(), "one score per document");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| {
        trec_cmp(
            scores[a],
            doc_ids[a].as_ref(),
            scores[b],
            doc_ids[b].as_ref(),
        )
    });
    order
}

/// The best `k` document indices in rank order (same order as the first `k` entries of
/// [`rank`], in `O(n + k log k)`). `k` larger than the pool returns the full ranking.
///
/// # Panics
/// If `scores` and `doc_ids` differ in length.
pub fn top_k<S: AsRef<str>>(scores: &[f32], doc_ids: &[S], k: usize) -> Vec<usize> {
    assert_eq!(scores.len(), doc_ids.len(), "one score per document");
    if k >= scores.len() {
        return rank(scores, doc_ids);
    }
    let cmp = |&a: &usize, &b: &usize| {
        trec_cmp(
            scores[a],
            doc_ids[a].as_ref(),
            scores[b],
            doc_ids[b].as_ref(),
        )
    };
    let mut order: Vec<usize> = (0..scores.len()).collect();
    if k > 0 {
        order.select_nth_unstable_by(k - 1, cmp);
    }
    order.truncate(k);
    order.sort_by(cmp);
    order
}

/// 1-based rank of every document (inverse of [`rank`]): `ranks[i]` is the rank of
/// document `i`.
///
/// # Panics
/// If `scores` and `doc_ids` differ in length.
pub fn rank_positions<S: AsRef<str>>(scores: &[f32], doc_ids: &[S]) -> Vec<usize> {
    let order = rank(scores, doc_ids);
    let mut pos = vec![0; order.len()];
    for (r, &i) in order.iter().enumerate() {
        pos[i] = r + 1;
    }
    pos
}

/// Evaluates one query against its own document list (useful when every query has a
/// different candidate list, e.g. a TREC run). Returns `Ok(None)` if the query has no
/// relevant document (it is then to be excluded).
///
/// `langs` gives the language of every document plus the query and bias languages
/// (language preference and bias counts; without it both are `None`).
pub fn evaluate_query<S: AsRef<str>, L: AsRef<str>>(
    query_id: &str,
    doc_ids: &[S],
    scores: &[f32],
    relevance: &BTreeMap<String, i32>,
    config: &MetricsConfig,
    langs: Option<(&[L], &LanguageSpec)>,
) -> Result<Option<QueryMetrics>, MetricsError> {
    config.validate()?;
    check_docs(doc_ids)?;
    if let Some((langs, _)) = langs {
        check_langs(langs.len(), doc_ids.len())?;
    }
    check_scores(query_id, scores.len(), doc_ids.len())?;
    Ok(eval_checked(
        query_id, doc_ids, scores, relevance, config, langs,
    ))
}

fn check_docs<S: AsRef<str>>(doc_ids: &[S]) -> Result<(), MetricsError> {
    if doc_ids.is_empty() {
        return Err(MetricsError::EmptyPool);
    }
    let mut seen = HashSet::with_capacity(doc_ids.len());
    for id in doc_ids {
        if !seen.insert(id.as_ref()) {
            return Err(MetricsError::DuplicateDocumentId {
                id: id.as_ref().to_owned(),
            });
        }
    }
    Ok(())
}

fn check_langs(found: usize, expected: usize) -> Result<(), MetricsError> {
    if found == expected {
        Ok(())
    } else {
        Err(MetricsError::LanguageLength { expected, found })
    }
}

fn check_scores(query_id: &str, found: usize, expected: usize) -> Result<(), MetricsError> {
    if found == expected {
        Ok(())
    } else {
        Err(MetricsError::ScoreLength {
            query_id: query_id.to_owned(),
            expected,
            found,
        })
    }
}

fn eval_checked<S: AsRef<str>, L: AsRef<str>>(
    query_id: &str,
    doc_ids: &[S],
    scores: &[f32],
    relevance: &BTreeMap<String, i32>,
    config: &MetricsConfig,
    langs: Option<(&[L], &LanguageSpec)>,
) -> Option<QueryMetrics> {
    let gain = |rel: i32| match config.gain {
        Gain::Graded => f64::from(rel.max(0)),
        Gain::Binary => f64::from(u8::from(rel > 0)),
    };
    let mut ideal: Vec<f64> = relevance
        .values()
        .filter(|&&r| r > 0)
        .map(|&r| gain(r))
        .collect();
    let num_relevant = ideal.len();
    if num_relevant == 0 {
        return None;
    }
    ideal.sort_by(|a, b| b.total_cmp(a));

    let n = doc_ids.len();
    let order = rank(scores, doc_ids);
    // (rank, grade) of every relevant document in the pool, best first.
    let mut rel_ranks: Vec<(usize, i32)> = Vec::new();
    let max_ndcg_k = config.ndcg_at.iter().copied().max().unwrap_or(0).min(n);
    let mut dcg_prefix = vec![0.0f64; max_ndcg_k + 1];
    for (i, &d) in order.iter().enumerate() {
        let r = i + 1;
        let grade = relevance.get(doc_ids[d].as_ref()).copied().unwrap_or(0);
        if grade > 0 {
            rel_ranks.push((r, grade));
        }
        if r <= max_ndcg_k {
            dcg_prefix[r] = dcg_prefix[r - 1] + gain(grade) / (r as f64 + 1.0).log2();
        }
    }
    let missing = num_relevant - rel_ranks.len();
    let max_rank = if missing > 0 {
        n + 1
    } else {
        rel_ranks.last().map_or(n + 1, |x| x.0)
    };
    let min_rank = rel_ranks.first().map_or(n + 1, |x| x.0);

    let complete = config
        .complete_at
        .iter()
        .map(|&k| (k, missing == 0 && max_rank <= k.min(n)))
        .collect();
    let ndcg = config
        .ndcg_at
        .iter()
        .map(|&k| {
            let idcg: f64 = ideal
                .iter()
                .take(k)
                .enumerate()
                .map(|(i, g)| g / (i as f64 + 2.0).log2())
                .sum();
            let dcg = dcg_prefix[k.min(n)];
            (k, if idcg > 0.0 { dcg / idcg } else { 0.0 })
        })
        .collect();
    let rr = |k: usize| {
        if min_rank <= k.min(n) {
            1.0 / min_rank as f64
        } else {
            0.0
        }
    };
    let mrr_at = config.mrr_at.iter().map(|&k| (k, rr(k))).collect();
    let recall = config
        .recall_at
        .iter()
        .map(|&k| {
            let hits = rel_ranks.iter().take_while(|x| x.0 <= k).count();
            (k, hits as f64 / num_relevant as f64)
        })
        .collect();

    // AP = (1/R) Σ_i i / r_i over the relevant documents in the pool (trec_eval `map`).
    let ap = rel_ranks
        .iter()
        .enumerate()
        .map(|(i, &(r, _))| (i + 1) as f64 / r as f64)
        .sum::<f64>()
        / num_relevant as f64;
    let lang_pref = langs.and_then(|(langs, spec)| {
        let own = |d: &usize| langs[*d].as_ref() == spec.query;
        let in_pool = order.iter().filter(|d| own(d)).count();
        let top = config.lang_pref_at.min(n);
        (in_pool > 0 && in_pool < n).then(|| LanguagePreference {
            at: config.lang_pref_at,
            top_share: order[..top].iter().filter(|d| own(d)).count() as f64 / top as f64,
            pool_share: in_pool as f64 / n as f64,
        })
    });
    let bias = langs.and_then(|(langs, spec)| spec.bias.as_ref().map(|b| (langs, b)));
    let (english_above, native_above) = match bias {
        Some((langs, spec)) if spec.english != spec.native => {
            let lang = |d: usize| langs[d].as_ref();
            let relevant = |d: usize| relevance.get(doc_ids[d].as_ref()).is_some_and(|&g| g > 0);
            (
                count_above(
                    &order,
                    spec.native.as_str(),
                    spec.english.as_str(),
                    lang,
                    relevant,
                ),
                count_above(
                    &order,
                    spec.english.as_str(),
                    spec.native.as_str(),
                    lang,
                    relevant,
                ),
            )
        }
        _ => (None, None),
    };

    Some(QueryMetrics {
        query_id: query_id.to_owned(),
        num_docs: n,
        num_relevant,
        missing_relevant: missing,
        max_rank,
        min_rank,
        complete,
        ndcg,
        mrr_at,
        mrr: rr(usize::MAX),
        recall,
        english_above,
        native_above,
        ap,
        lang_pref,
    })
}

/// Number of non-relevant `other`-language documents ranked above the first relevant
/// `target`-language document; `None` if there is no relevant `target` document.
fn count_above<'a>(
    order: &[usize],
    target: &str,
    other: &str,
    lang: impl Fn(usize) -> &'a str,
    relevant: impl Fn(usize) -> bool,
) -> Option<usize> {
    let mut count = 0;
    for &d in order {
        let rel = relevant(d);
        if rel && lang(d) == target {
            return Some(count);
        }
        if !rel && lang(d) == other {
            count += 1;
        }
    }
    None
}

/// Evaluates many queries against one shared document pool.
#[derive(Debug, Clone)]
pub struct Evaluator {
    doc_ids: Vec<String>,
    langs: Option<(Vec<String>, LanguageSpec)>,
    config: MetricsConfig,
}

impl Evaluator {
    /// Creates an evaluator for a pool. Errors on an empty pool, duplicate ids or a
    /// zero cutoff.
    pub fn new<S: AsRef<str>>(doc_ids: &[S], config: MetricsConfig) -> Result<Self, MetricsError> {
        config.validate()?;
        check_docs(doc_ids)?;
        Ok(Self {
            doc_ids: doc_ids.iter().map(|s| s.as_ref().to_owned()).collect(),
            langs: None,
            config,
        })
    }

    /// Enables the language preference and (with `spec.bias`) the bias counts;
    /// `doc_langs[i]` is the language of document `i`.
    pub fn with_languages<L: AsRef<str>>(
        mut self,
        doc_langs: &[L],
        spec: LanguageSpec,
    ) -> Result<Self, MetricsError> {
        check_langs(doc_langs.len(), self.doc_ids.len())?;
        self.langs = Some((
            doc_langs.iter().map(|s| s.as_ref().to_owned()).collect(),
            spec,
        ));
        Ok(self)
    }

    /// The document ids, in score order.
    pub fn doc_ids(&self) -> &[String] {
        &self.doc_ids
    }

    /// The metric configuration.
    pub fn config(&self) -> &MetricsConfig {
        &self.config
    }

    /// Evaluates one query (`scores[i]` belongs to document `i`). `Ok(None)` if the
    /// query has no relevant document.
    pub fn evaluate_query(
        &self,
        query_id: &str,
        scores: &[f32],
        relevance: &BTreeMap<String, i32>,
    ) -> Result<Option<QueryMetrics>, MetricsError> {
        check_scores(query_id, scores.len(), self.doc_ids.len())?;
        let langs = self.langs.as_ref().map(|(l, s)| (l.as_slice(), s));
        Ok(eval_checked(
            query_id,
            &self.doc_ids,
            scores,
            relevance,
            &self.config,
            langs,
        ))
    }

    /// Evaluates `(query id, scores)` pairs against `qrels` and aggregates. Queries
    /// without a relevant document are excluded and listed in [`Evaluation::excluded`].
    pub fn evaluate<I, Q, F>(&self, runs: I, qrels: &Qrels) -> Result<Evaluation, MetricsError>
    where
        I: IntoIterator<Item = (Q, F)>,
        Q: AsRef<str>,
        F: AsRef<[f32]>,
    {
        let empty = BTreeMap::new();
        let mut rows = Vec::new();
        let mut excluded = Vec::new();
        for (qid, scores) in runs {
            let qid = qid.as_ref();
            let rel = qrels.get(qid).unwrap_or(&empty);
            match self.evaluate_query(qid, scores.as_ref(), rel)? {
                Some(row) => rows.push(row),
                None => excluded.push(Exclusion::new(qid, ExclusionReason::NoPositiveJudgement)),
            }
        }
        let summary = Summary::from_queries(&rows, excluded.len()).ok_or(
            MetricsError::NoEvaluableQueries {
                excluded: excluded.len(),
            },
        )?;
        Ok(Evaluation {
            summary,
            queries: rows,
            excluded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IDS: [&str; 6] = ["a.en", "a.de", "b.en", "b.de", "c.en", "c.de"];
    const LANGS: [&str; 6] = ["en", "de", "en", "de", "en", "de"];

    fn rel(ids: &[(&str, i32)]) -> BTreeMap<String, i32> {
        ids.iter().map(|(d, r)| ((*d).to_owned(), *r)).collect()
    }

    fn config() -> MetricsConfig {
        MetricsConfig {
            complete_at: vec![1, 4, 5, 10],
            ndcg_at: vec![1, 10],
            mrr_at: vec![1, 4, 10],
            recall_at: vec![4, 5],
            gain: Gain::Binary,
            lang_pref_at: 2,
        }
    }

    #[test]
    fn rank_uses_trec_tie_rule() {
        // Tie at 0.8 between a.de, b.de and c.en → id descending: c.en, b.de, a.de.
        let scores = [0.5, 0.8, 0.9, 0.8, 0.8, 0.1];
        let order = rank(&scores, &IDS);
        let named: Vec<&str> = order.iter().map(|&i| IDS[i]).collect();
        assert_eq!(named, ["b.en", "c.en", "b.de", "a.de", "a.en", "c.de"]);
        assert_eq!(rank_positions(&scores, &IDS), vec![5, 4, 1, 3, 2, 6]);
    }

    #[test]
    fn rank_byte_order_nan_and_signed_zero() {
        let ids = ["d10", "d9", "D9", "é", "e"];
        // All tied: byte-wise descending: "é" (0xC3..) > "e" > "d9" > "d10" > "D9".
        let order = rank(&[0.0, -0.0, 0.0, 0.0, -0.0], &ids);
        let named: Vec<&str> = order.iter().map(|&i| ids[i]).collect();
        assert_eq!(named, ["é", "e", "d9", "d10", "D9"]);
        // NaN counts as -inf (ranked last); NaN/-inf ties are broken by id descending.
        let order = rank(&[f32::NAN, 1.0, f32::NEG_INFINITY, -5.0, f32::NAN], &ids);
        let named: Vec<&str> = order.iter().map(|&i| ids[i]).collect();
        assert_eq!(named, ["d9", "é", "e", "d10", "D9"]);
    }

    #[test]
    fn top_k_matches_rank_prefix() {
        let ids: Vec<String> = (0..50).map(|i| format!("d{i}")).collect();
        let scores: Vec<f32> = (0..50).map(|i| ((i * 7) % 5) as f32 * 0.25).collect();
        let full = rank(&scores, &ids);
        for k in [0, 1, 3, 10, 49, 50, 80] {
            assert_eq!(top_k(&scores, &ids, k), full[..k.min(50)].to_vec(), "k={k}");
        }
    }

    #[test]
    fn hand_computed_query_with_ties() {
        let scores = [0.5, 0.8, 0.9, 0.8, 0.8, 0.1];
        // ranking: b.en(1) c.en(2) b.de(3) a.de(4) a.en(5) c.de(6)
        let q = evaluate_query(
            "q",
            &IDS,
            &scores,
            &rel(&[("a.en", 1), ("a.de", 1), ("b.de", 0)]),
            &config(),
            Some((&LANGS[..], &LanguageSpec::english_vs("de"))),
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.num_relevant, 2);
        assert_eq!(q.max_rank, 5);
        assert_eq!(q.min_rank, 4);
        let complete: Vec<bool> = q.complete.values().copied().collect();
        assert_eq!(complete, [false, false, true, true]); // K = 1, 4, 5, 10 (clamped to 6)
        assert_eq!(q.mrr, 0.25);
        assert_eq!(q.mrr_at[&1], 0.0);
        assert_eq!(q.mrr_at[&4], 0.25);
        assert_eq!(q.recall[&4], 0.5);
        assert_eq!(q.recall[&5], 1.0);
        assert_eq!(q.ndcg[&1], 0.0);
        let expect = (1.0 / 5f64.log2() + 1.0 / 6f64.log2()) / (1.0 + 1.0 / 3f64.log2());
        assert!((q.ndcg[&10] - expect).abs() < 1e-12);
        // English-above: b.en, c.en above a.de (rank 4) → 2.
        assert_eq!(q.english_above, Some(2));
        // Native-above: only non-relevant b.de above a.en (rank 5); a.de is relevant.
        assert_eq!(q.native_above, Some(1));
        // AP = (1/4 + 2/5) / 2.
        assert!((q.ap - 0.325).abs() < 1e-12);
        // Top 2 (b.en, c.en) hold no de document; the pool is half de.
        let pref = q.lang_pref.unwrap();
        assert_eq!((pref.at, pref.top_share, pref.pool_share), (2, 0.0, 0.5));
        assert_eq!(pref.value(), -0.5);
    }

    #[test]
    fn tie_decides_bias_and_complete() {
        // Relevant x.de and distractor y.en tie; "y.en" > "x.de" so y.en ranks first.
        let ids = ["x.de", "y.en", "x.en"];
        let langs = ["de", "en", "en"];
        let q = evaluate_query(
            "q",
            &ids,
            &[0.7, 0.7, 0.2],
            &rel(&[("x.de", 1), ("x.en", 1)]),
            &config(),
            Some((&langs[..], &LanguageSpec::english_vs("de"))),
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.min_rank, 2);
        assert_eq!(q.max_rank, 3);
        assert_eq!(q.english_above, Some(1));
        assert_eq!(q.native_above, Some(0));
        assert!(!q.complete[&1]);
        // Swapping the ids flips the tie.
        let ids = ["y.de", "x.en", "y.en"];
        let q = evaluate_query(
            "q",
            &ids,
            &[0.7, 0.7, 0.2],
            &rel(&[("y.de", 1), ("y.en", 1)]),
            &config(),
            Some((&langs[..], &LanguageSpec::english_vs("de"))),
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.min_rank, 1);
        assert_eq!(q.english_above, Some(0));
    }

    #[test]
    fn missing_relevant_and_undefined_bias() {
        let scores = [0.9, 0.8, 0.7, 0.6, 0.5, 0.4];
        let q = evaluate_query(
            "q",
            &IDS,
            &scores,
            &rel(&[("a.en", 2), ("zzz", 1)]),
            &MetricsConfig {
                gain: Gain::Graded,
                ..config()
            },
            Some((&LANGS[..], &LanguageSpec::english_vs("de"))),
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.missing_relevant, 1);
        assert_eq!(q.max_rank, 7); // n + 1
        assert_eq!(q.min_rank, 1);
        assert!(q.complete.values().all(|c| !c));
        assert_eq!(q.recall[&5], 0.5);
        // ideal from qrels: gains [2, 1] → IDCG@10 = 2 + 1/log2(3); DCG = 2.
        let expect = 2.0 / (2.0 + 1.0 / 3f64.log2());
        assert!((q.ndcg[&10] - expect).abs() < 1e-12);
        assert_eq!(q.ndcg[&1], 1.0);
        assert_eq!(q.english_above, None); // no relevant de document
        assert_eq!(q.native_above, Some(0));
        // AP counts the missing relevant document: (1/1) / 2.
        assert_eq!(q.ap, 0.5);
    }

    #[test]
    fn no_relevant_is_excluded_and_counted() {
        let ev = Evaluator::new(&IDS, config()).unwrap();
        let s1 = [0.9, 0.1, 0.2, 0.3, 0.4, 0.5];
        let mut qrels = Qrels::new();
        qrels.insert("q1", "a.en", 1);
        qrels.insert("q2", "a.en", 0);
        let out = ev
            .evaluate([("q1", &s1[..]), ("q2", &s1[..]), ("q3", &s1[..])], &qrels)
            .unwrap();
        assert_eq!(out.queries.len(), 1);
        let reason = ExclusionReason::NoPositiveJudgement;
        assert_eq!(
            out.excluded,
            [Exclusion::new("q2", reason), Exclusion::new("q3", reason)]
        );
        assert_eq!(out.summary.num_excluded, 2);
        let err = ev.evaluate([("q2", &s1[..])], &qrels).unwrap_err();
        assert_eq!(err, MetricsError::NoEvaluableQueries { excluded: 1 });
    }

    #[test]
    fn input_errors() {
        let none: [&str; 0] = [];
        assert_eq!(
            Evaluator::new(&none, MetricsConfig::default()).unwrap_err(),
            MetricsError::EmptyPool
        );
        assert!(matches!(
            Evaluator::new(&["a", "a"], MetricsConfig::default()),
            Err(MetricsError::DuplicateDocumentId { id }) if id == "a"
        ));
        let bad = MetricsConfig {
            ndcg_at: vec![0],
            ..MetricsConfig::default()
        };
        assert_eq!(
            Evaluator::new(&["a"], bad).unwrap_err(),
            MetricsError::InvalidCutoff { metric: "ndcg" }
        );
        let ev = Evaluator::new(&["a", "b"], MetricsConfig::default()).unwrap();
        assert!(matches!(
            ev.evaluate_query("q", &[1.0], &BTreeMap::new()),
            Err(MetricsError::ScoreLength {
                expected: 2,
                found: 1,
                ..
            })
        ));
        assert!(matches!(
            ev.with_languages(&["en"], LanguageSpec::english_vs("de")),
            Err(MetricsError::LanguageLength { .. })
        ));
    }

    #[test]
    fn aggregation_hand_computed() {
        let ids = ["a.en", "a.de", "b.en", "b.de"];
        let langs = ["en", "de", "en", "de"];
        let ev = Evaluator::new(&ids, config())
            .unwrap()
            .with_languages(&langs, LanguageSpec::english_vs("de"))
            .unwrap();
        let mut qrels = Qrels::new();
        for q in ["qa1", "qa2"] {
            qrels.insert(q, "a.en", 1);
            qrels.insert(q, "a.de", 1);
        }
        for q in ["qb1", "qb2"] {
            qrels.insert(q, "b.en", 1);
            qrels.insert(q, "b.de", 1);
        }
        // qa1: a.de a.en b.en b.de → Max@R 2, en-above 0, native-above 0
        // qa2: b.en b.de a.en a.de → Max@R 4, en-above 1 (b.en), native-above 1 (b.de)
        // qb1: a.en b.en b.de a.de → Max@R 3, en-above 1 (a.en; b.en is relevant), native 0
        // qb2: b.de a.de a.en b.en → Max@R 4, en-above 0, native-above 1 (a.de; b.de relevant)
        let runs = [
            ("qa1", vec![0.9, 1.0, 0.5, 0.1]),
            ("qa2", vec![0.5, 0.1, 1.0, 0.9]),
            ("qb1", vec![1.0, 0.1, 0.9, 0.5]),
            ("qb2", vec![0.5, 0.9, 0.1, 1.0]),
        ];
        let out = ev
            .evaluate(runs.iter().map(|(q, s)| (*q, s)), &qrels)
            .unwrap();
        let max: Vec<usize> = out.queries.iter().map(|q| q.max_rank).collect();
        assert_eq!(max, [2, 4, 3, 4]);
        let en: Vec<Option<usize>> = out.queries.iter().map(|q| q.english_above).collect();
        assert_eq!(en, [Some(0), Some(1), Some(1), Some(0)]);
        let native: Vec<Option<usize>> = out.queries.iter().map(|q| q.native_above).collect();
        assert_eq!(native, [Some(0), Some(1), Some(0), Some(1)]);
        let s = &out.summary;
        assert_eq!(s.max_rank.mean, 3.25);
        assert_eq!(s.max_rank.median, 3.5);
        // sorted [2,3,4,4], h = 2.7 → 4 + 0.7·0 = 4
        assert_eq!(s.max_rank.p90, 4.0);
        assert_eq!(s.complete[&4], 1.0);
        assert_eq!(s.complete[&1], 0.0);
        assert_eq!(s.complete[&5], 1.0);
        let en = s.english_above.unwrap();
        assert_eq!((en.queries, en.rate, en.mean), (4, 0.5, 0.5));
        let nat = s.native_above.unwrap();
        assert_eq!((nat.rate, nat.mean), (0.5, 0.5));
        // AP: qa1 1, qa2 (1/3 + 2/4)/2, qb1 (1/2 + 2/3)/2, qb2 (1 + 2/4)/2.
        assert!((s.map - 2.75 / 4.0).abs() < 1e-12);
        // de share of the top 2: 0.5, 0.5, 0, 1 against 0.5 in the pool.
        let pref = s.lang_pref.unwrap();
        assert_eq!(
            (pref.at, pref.queries, pref.mean, pref.top_share),
            (2, 4, 0.0, 0.5)
        );
        let names: Vec<String> = s.metric_values().into_iter().map(|x| x.0).collect();
        assert!(names.contains(&"ndcg_at_10".to_owned()));
        assert!(names.contains(&"english_above_rate".to_owned()));
        assert!(names.contains(&"map".to_owned()));
        assert!(names.contains(&"lang_pref_at_2".to_owned()));
    }

    #[test]
    fn percentile_interpolates() {
        let v = [1.0, 2.0, 3.0, 4.0, 10.0];
        assert_eq!(percentile(&v, 0.5), 3.0);
        assert!((percentile(&v, 0.9) - 7.6).abs() < 1e-12);
        assert_eq!(percentile(&[5.0], 0.9), 5.0);
    }

    #[test]
    fn same_language_bias_is_undefined() {
        let q = evaluate_query(
            "q",
            &["a", "b"],
            &[1.0, 0.0],
            &rel(&[("a", 1)]),
            &MetricsConfig::default(),
            Some((&["en", "en"][..], &LanguageSpec::english_vs("en"))),
        )
        .unwrap()
        .unwrap();
        assert_eq!((q.english_above, q.native_above), (None, None));
        // A pool of the query's language alone has no language preference.
        assert_eq!(q.lang_pref, None);
    }

    #[test]
    fn language_preference_uses_the_query_language() {
        // MIX en→{en,de}: the query is English, the bias languages en vs de.
        let spec = LanguageSpec {
            query: "en".to_owned(),
            bias: Some(BiasSpec::english_vs("de")),
        };
        let mut config = config();
        config.lang_pref_at = 3;
        // ranking: a.en c.en b.de a.de b.en c.de → en share of the top 3 = 2/3.
        let scores = [0.9, 0.6, 0.3, 0.7, 0.8, 0.1];
        let q = evaluate_query(
            "q",
            &IDS,
            &scores,
            &rel(&[("a.en", 1)]),
            &config,
            Some((&LANGS[..], &spec)),
        )
        .unwrap()
        .unwrap();
        let pref = q.lang_pref.unwrap();
        assert_eq!((pref.top_share, pref.pool_share), (2.0 / 3.0, 0.5));
        // k beyond the pool: the top list is the pool, no preference.
        config.lang_pref_at = 100;
        let q = evaluate_query(
            "q",
            &IDS,
            &scores,
            &rel(&[("a.en", 1)]),
            &config,
            Some((&LANGS[..], &spec)),
        )
        .unwrap()
        .unwrap();
        assert_eq!(q.lang_pref.unwrap().value(), 0.0);
        // No languages, or a query language absent from the pool: undefined.
        let none = evaluate_query(
            "q",
            &IDS,
            &scores,
            &rel(&[("a.en", 1)]),
            &config,
            None::<(&[&str], _)>,
        );
        assert_eq!(none.unwrap().unwrap().lang_pref, None);
        let zh = LanguageSpec {
            query: "zh".to_owned(),
            bias: None,
        };
        let q = evaluate_query(
            "q",
            &IDS,
            &scores,
            &rel(&[("a.en", 1)]),
            &config,
            Some((&LANGS[..], &zh)),
        );
        assert_eq!(q.unwrap().unwrap().lang_pref, None);
        config.lang_pref_at = 0;
        assert_eq!(
            config.validate(),
            Err(MetricsError::InvalidCutoff {
                metric: "lang_pref"
            })
        );
    }
}

//! Measuring the language bias of multilingual embedding retrievers in mixed-language
//! pools (after Hong et al. 2026, "Improving Semantic Proximity in Information Retrieval
//! through Cross-Lingual Alignment"). Pure Rust, no ML framework: shared by the native
//! CLI and the WebAssembly web app.
//!
//! How the pieces fit:
//!
//! 1. Load a [`Pool`] (documents + queries, relevance by shared `group`) from the
//!    `langbias-pool/1` JSON format ([`pool`]), from XQuAD files ([`xquad`]) or from a
//!    BEIR directory ([`beir`], which also yields graded [`Qrels`]).
//! 2. Pick a [`Scenario`] (`mono`, `xl`, `mix`, `mix-en`, `multi`, `unpaired`) and
//!    [`build`](Scenario::build) a [`ScenarioSet`]: the query and document subsets plus
//!    qrels and the bias languages.
//! 3. Score every document for every query with your encoder, then evaluate with
//!    [`ScenarioSet::evaluate`] (an [`Evaluator`] that also counts the scenario's
//!    excluded queries, each with an [`ExclusionReason`]): trec_eval tie rule, Max@R,
//!    Complete@K, nDCG@k, MRR, Recall@k, AP/mAP, the two bias counts and the language
//!    preference, per query and aggregated in an [`Evaluation`]. For one query over a pool
//!    (the CLI's `rank`, the site) use [`Pool::rank_query`] ([`ranking`]), for ad-hoc
//!    rankings [`rank`] / [`top_k`]. Training-free baselines ([`Debias`]: per-language centring,
//!    Procrustes maps to English) transform the embeddings before scoring ([`debias`]), or
//!    the scores after it (per-language standardisation, [`zscore`]; [`routing`] takes the
//!    documents in the query's language from one model and the others from another);
//!    centring needs each document's language, which [`lang_id`] guesses when a user has
//!    not given it.
//! 4. Write results with [`report`]: TREC run/qrels, JSON (MTEB-like), CSV and a
//!    plain-text paper table comparing two models.
//!
//! ```
//! use langbias_eval::{MetricsConfig, Pool, Scenario};
//!
//! let pool = Pool::from_json(r#"{"format": "langbias-pool/1", "name": "toy",
//!   "documents": [
//!     {"id": "t1.en", "group": "t1", "lang": "en", "text": "The cat sleeps."},
//!     {"id": "t1.de", "group": "t1", "lang": "de", "text": "Die Katze schläft."},
//!     {"id": "t2.en", "group": "t2", "lang": "en", "text": "Dogs bark."}],
//!   "queries": [{"id": "q1.de", "group": "t1", "lang": "de", "text": "Katze?"}]}"#)?;
//! let set = Scenario::parse("mix", "de", &pool.languages())?.build(&pool)?;
//! assert_eq!(set.scenario.to_string(), "MIX de→{en,de}");
//! // Scores from an encoder, one per document of `set.doc_ids` (t1.en, t1.de, t2.en).
//! let scores = vec![0.5_f32, 0.9, 0.7];
//! let eval = set.evaluate(MetricsConfig::default(), [("q1.de", scores)])?;
//! assert_eq!(eval.summary.num_excluded, 0);
//! assert_eq!(eval.queries[0].max_rank, 3); // t1.de, t2.en, t1.en
//! assert_eq!(eval.queries[0].native_above, Some(0));
//! assert_eq!(eval.queries[0].english_above, Some(0));
//! # Ok::<(), langbias_eval::Error>(())
//! ```
//!
//! The `fs` feature (default) adds thin `from_path`/`load_dir` helpers; without it the
//! crate does no file I/O and all readers take `&str` contents.

pub mod beir;
pub mod debias;
pub mod lang_id;
pub mod lessons;
pub mod lines;
pub mod metrics;
pub mod pool;
pub mod ranking;
pub mod report;
pub mod routing;
pub mod scenario;
pub mod xquad;
pub mod zscore;

pub use debias::{Debias, DebiasError, Fitted, LanguageMeans, ProcrustesMaps, Rows};
pub use metrics::{
    BiasSpec, Evaluation, Evaluator, Exclusion, ExclusionReason, Gain, LanguagePreference,
    LanguageSpec, MetricsConfig, MetricsError, PreferenceStats, Qrels, QueryMetrics, Summary, rank,
    top_k,
};
pub use pool::{Document, Pool, PoolError, Query, SubsetError, select_languages};
pub use ranking::{CentredDocuments, CentredRanking, Hit, Ranking, RoutedRanking};
pub use scenario::{Scenario, ScenarioError, ScenarioSet};

/// The pivot language code used by the scenarios and the bias counts.
pub const ENGLISH: &str = "en";

/// Any error of this crate.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Pool format error.
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// XQuAD reader error.
    #[error(transparent)]
    Xquad(#[from] xquad::XquadError),
    /// BEIR reader error.
    #[error(transparent)]
    Beir(#[from] beir::BeirError),
    /// Scenario error.
    #[error(transparent)]
    Scenario(#[from] ScenarioError),
    /// Metrics error.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
    /// Language selection or pool subset error.
    #[error(transparent)]
    Subset(#[from] SubsetError),
    /// Debiasing transform or means/maps file error.
    #[error(transparent)]
    Debias(#[from] DebiasError),
}

/// `text` without a leading UTF-8 byte order mark (editors on Windows write one; JSON and
/// TSV readers accept it).
pub(crate) fn strip_bom(text: &str) -> &str {
    text.strip_prefix('\u{feff}').unwrap_or(text)
}

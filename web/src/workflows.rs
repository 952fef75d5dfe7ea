//! The page's async workflows as plain functions on [`AppState`]: start-up (manifest, pool,
//! build-time embeddings, model, workers), ranking the current query, run-all, the map,
//! uploads and added documents, lessons.

use std::collections::HashMap;

use gloo::timers::future::TimeoutFuture;
use langbias_encoder::TextKind;
use langbias_eval::lessons::{Lesson, LessonsFile};
use langbias_eval::report::{TableModel, models_table};
use langbias_eval::routing::Feedback;
use langbias_eval::{Debias, ENGLISH, Pool, Query, QueryMetrics, Ranking, xquad};
use leptos::prelude::*;
use leptos::task::spawn_local;

use crate::app_state::{AppState, BuildNote, Heatmap, Message, Place, QueryResult, RunAll};
use crate::embedder::{self, Embedder};
use crate::engine::{self, CPU_BADGE, Engine, ModelFiles, Stage, gpu_runtime, now_ms};
use crate::fetch;
use crate::messages::ToWorker;
use crate::precomputed;
use crate::state::{self, Settings, current_pool, pca_2d, rank_query};
use crate::vectors::{check_build_vectors, fill_from_build, model_key, vectors};
use crate::workers::{self, WorkerPool};

/// The built-in pool (its embeddings may be precomputed at build time).
const POOL_URL: &str = "pools/everyday.json";

/// How many of the top hits the heatmap compares.
const HEATMAP_DOCS: usize = 8;

/// Start-up: the manifest and the demo pool, the build-time embeddings (the first ranking
/// needs nothing else), the lessons, then the model — on WebGPU in the page, else in workers.
pub fn start(app: AppState) {
    spawn_local(async move {
        let manifest = match engine::load_manifest().await {
            Ok(m) => m,
            Err(e) => {
                app.stage.set("failed".into());
                return app.fail(
                    Place::Page,
                    Message::with_detail(
                        "The model files of this site are missing or unreadable.",
                        e,
                    ),
                );
            }
        };
        app.has_aligned.set(manifest.aligned.is_some());
        crate::store::set_models(
            &manifest.base.model_sha256,
            manifest.aligned.as_ref().map(|a| a.adapter_sha256.as_str()),
        );
        app.model_name.set(manifest.base.name.clone());
        if !manifest.base.source.is_empty() {
            app.model_source.set(manifest.base.source.clone());
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
                        app.build_note.set(BuildNote::Loaded {
                            bytes: pre.bytes,
                            ms: now_ms() - t0,
                            checked: None,
                        });
                    }
                    Err(why) => app.build_note.set(BuildNote::Unavailable(why)),
                }
                if let Some(name) = app.settings.get_untracked().pool {
                    // Uploads stay in the browser that loaded them: a link cannot carry them.
                    app.notify(Place::Page, format!(
                        "This link was made with the pool “{name}”, uploaded in another browser: uploads stay in the browser that loaded them. Upload the same file under “Your data” to see that view; the built-in pool is shown meanwhile."
                    ));
                    let defaults = Settings::default();
                    app.settings.update(|s| {
                        s.pool = None;
                        if !pool.queries.iter().any(|q| q.id == s.query_id) {
                            s.query_id = defaults.query_id.clone();
                            s.answer = None;
                        }
                        s.pool_langs.retain(|l| pool.languages().contains(l));
                        if s.pool_langs.is_empty() {
                            s.pool_langs = defaults.pool_langs.clone();
                        }
                        if !s.pool_langs.contains(&s.query_lang) {
                            s.query_lang = defaults.query_lang.clone();
                        }
                    });
                }
                app.collection.set(Some(pool));
            }
            Err(e) => app.fail(
                Place::Page,
                Message::with_detail("Could not load the demo pool.", e),
            ),
        }
        match fetch::fetch_text("pools/lessons.json")
            .await
            .and_then(|text| LessonsFile::from_json("pools/lessons.json", &text))
        {
            Ok(file) => app.lessons.set(file.lessons),
            Err(e) => app.notify(
                Place::Lessons,
                format!("The lessons could not be loaded ({e})."),
            ),
        }
        // The first ranking (build-time vectors) before the workers compete for the cores.
        let t0 = now_ms();
        while app.result.get_untracked().pool.is_none()
            && app.collection.get_untracked().is_some()
            && app.settings.get_untracked().topics > 0
            && !app.query_text.get_untracked().trim().is_empty()
            && now_ms() - t0 < 1500.0
        {
            TimeoutFuture::new(20).await;
        }
        match load_embedder(app, &manifest).await {
            Ok(e) => ready(app, e).await,
            Err(e) => {
                app.stage.set("failed".into());
                app.fail(Place::Page, Message::with_detail(
                    "The model could not be loaded: the pool is ranked only where build-time embeddings exist.",
                    e,
                ));
            }
        }
    });
}

fn on_stage(app: AppState) -> impl Fn(Stage) {
    move |s: Stage| match s {
        Stage::Download { file, done, total } => {
            app.stage.set(format!(
                "downloading {file}: {:.1} / {:.1} MB",
                done as f64 / 1e6,
                total as f64 / 1e6
            ));
            app.progress.set(if total > 0 {
                done as f64 / total as f64
            } else {
                0.0
            });
        }
        Stage::Compile(what) => {
            app.stage.set(what);
            app.progress.set(1.0);
        }
    }
}

/// Downloads the model once, then builds the encoders: on WebGPU in the page when the browser
/// offers an adapter (`?backend=cpu` skips it), else in a pool of workers, else (no worker
/// could start) on the CPU in the page.
async fn load_embedder(
    app: AppState,
    manifest: &langbias_assets::site::SiteManifest,
) -> Result<Embedder, String> {
    let stage = on_stage(app);
    let t0 = now_ms();
    let mut files = ModelFiles::download(manifest, &stage).await?;
    app.cache_info.set(if files.cached {
        "model from the browser cache (no download)".into()
    } else {
        format!("downloaded {:.1} MB", files.downloaded_bytes as f64 / 1e6)
    });
    if let Some(n) = &files.cache_note {
        app.notify(Place::Page, n.clone());
    }
    if let Some(bytes) = &files.adapter {
        match stored_means(bytes) {
            Ok(means) => app.stored_means.set(means),
            Err(e) => app.notify(
                Place::Page,
                Message::with_detail(
                    "The aligned adapter's stored language means could not be read: a language with a single document in the pool cannot be centred.",
                    e,
                ),
            ),
        }
    }
    app.perf_line(
        "download",
        format!("model files in {:.0} ms", now_ms() - t0),
    );
    let prefer_gpu = crate::browser::search_param("backend").as_deref() != Some("cpu");
    let mut gpu = None;
    if prefer_gpu {
        stage(Stage::Compile("initialising WebGPU".into()));
        match gpu_runtime().await {
            Ok(g) => gpu = Some(g),
            Err((note, detail)) => {
                files.gpu_note = Some(note);
                files.gpu_detail = Some(detail);
            }
        }
    }
    let main_thread = |files: ModelFiles, gpu| async move {
        let e = Engine::build(files, gpu, &on_stage(app)).await?;
        app.backend.set(e.backend.clone());
        app.backend_note.set(e.backend_note.clone());
        app.backend_detail.set(e.backend_detail.clone());
        app.perf_line(
            "encoders",
            format!("built on the main thread in {:.0} ms", e.load_ms),
        );
        Ok::<_, String>(Embedder::Main(Box::new(e)))
    };
    if gpu.is_some() {
        return main_thread(files, gpu).await;
    }
    let (n, planned) = workers::planned_size();
    let Some(url) = workers::script_url().filter(|_| n > 0) else {
        app.perf_line(
            "workers",
            format!("none: {planned}; encoding on the main thread"),
        );
        return main_thread(files, None).await;
    };
    stage(Stage::Compile(format!(
        "starting {n} encoder worker{}",
        if n == 1 { "" } else { "s" }
    )));
    let (note, detail) = (files.gpu_note.clone(), files.gpu_detail.clone());
    let init = ToWorker::init(files);
    let on_event = move |m: String| app.notify(Place::Page, m);
    // The pool keeps its own copy of the `Init` message; ours is dropped (or taken back).
    match WorkerPool::start(n, planned, &url, &init, on_event).await {
        Ok(pool) => {
            drop(init);
            app.backend.set(format!(
                "{CPU_BADGE} · {} worker{}",
                pool.size(),
                if pool.size() == 1 { "" } else { "s" }
            ));
            app.backend_note.set(note);
            app.backend_detail.set(detail);
            app.perf_line(
                "workers",
                format!(
                    "{} encoder workers ready in {:.0} ms; asked for {}",
                    pool.size(),
                    pool.load_ms,
                    pool.planned
                ),
            );
            Ok(Embedder::Workers(pool))
        }
        Err(why) => {
            app.notify(Place::Page,
                "The encoder could not start in a background worker, so it runs on the page itself: the page may lag while it indexes.");
            app.perf_line("workers", format!("none started: {why}"));
            let mut files = init.into_files().ok_or("internal: no model files")?;
            files.gpu_note = note;
            files.gpu_detail = detail;
            main_thread(files, None).await
        }
    }
}

/// The aligned adapter's stored document means ([`langbias_assets::LoraAdapter::document_means`]),
/// or `None` when its file stores none.
fn stored_means(adapter: &[u8]) -> Result<Option<langbias_eval::LanguageMeans>, String> {
    let adapter = langbias_assets::LoraAdapter::from_safetensors("aligned adapter", adapter)
        .map_err(|e| e.to_string())?;
    let Some(dim) = adapter.document_means.values().next().map(Vec::len) else {
        return Ok(None);
    };
    let source = adapter.document_means_source().to_owned();
    langbias_eval::LanguageMeans::from_documents(dim, source, adapter.document_means)
        .map(Some)
        .map_err(|e| e.to_string())
}

/// The encoders are loaded: check the build-time vectors against them, then "ready".
async fn ready(app: AppState, embedder: Embedder) {
    let software_gpu = matches!(&embedder, Embedder::Main(e) if e.software_gpu);
    let has_aligned = embedder.models().contains(&true);
    let embedder = embedder::install(embedder);
    app.has_aligned.set(has_aligned);
    if let BuildNote::Loaded { bytes, ms, .. } = app.build_note.get_untracked()
        && let Some(pool) = app.collection.get_untracked()
    {
        if software_gpu {
            // A GPU emulated on the CPU needs minutes for a few passages; the GPU/CPU parity
            // self-test ties it to the CPU engine instead.
            app.build_note.set(BuildNote::Loaded {
                bytes,
                ms,
                checked: Some(Err("not re-checked on a software GPU (minutes per passage); the GPU/CPU parity self-test stands for it".into())),
            });
        } else {
            app.stage.set("checking the build-time embeddings".into());
            match check_build_vectors(&embedder, &pool).await {
                Ok(worst) => app.build_note.set(BuildNote::Loaded {
                    bytes,
                    ms,
                    checked: worst.map(Ok),
                }),
                Err(why) => app.build_note.set(BuildNote::Unavailable(why)),
            }
        }
    }
    app.stage.set("ready".into());
    app.ready.set(true);
    let bytes = fetch::cached_bytes().await;
    if bytes > 0 {
        app.cache_info
            .update(|c| c.push_str(&format!(" · cached {:.1} MB", bytes as f64 / 1e6)));
    }
}

/// Whether the centred column centres the aligned model: when the visitor chose it and the
/// aligned model is among `columns`.
fn centre_on_aligned(s: &Settings, columns: &[bool]) -> bool {
    s.centre_aligned && columns.contains(&true)
}

/// The model columns to rank (`false` base, `true` aligned): the loaded embedder's, or before
/// it has loaded, what the manifest ships.
fn model_columns(embedder: Option<&Embedder>, has_aligned: bool) -> Vec<bool> {
    match embedder {
        Some(e) => e.models(),
        None => std::iter::once(false)
            .chain(has_aligned.then_some(true))
            .collect(),
    }
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

/// Ranks the current query (debounced; a newer query stops an older one and an older one
/// never overwrites a newer result): with the build-time vectors as soon as they are there,
/// with the page's encoder for everything else; each column as soon as it is ranked.
pub fn run_query(app: AppState) {
    let my = app.generation.get_untracked() + 1;
    app.generation.set(my);
    spawn_local(async move {
        TimeoutFuture::new(150).await;
        let stale = move || app.generation.get_untracked() != my;
        if stale() {
            return;
        }
        let Some(all) = app.collection.get_untracked() else {
            return;
        };
        let embedder = embedder::current();
        let s = app.settings.get_untracked();
        let pool = current_pool(&all, &s);
        if pool.documents.is_empty() {
            app.result.set(QueryResult::default());
            app.notify(
                Place::Query,
                "The pool is empty: pick at least one document language and one topic.",
            );
            return;
        }
        let text = app.query_text.get_untracked();
        if text.trim().is_empty() {
            app.result.set(QueryResult::default());
            return;
        }
        let question = all.queries.iter().find(|q| q.id == s.query_id);
        let judged = judged_group(question, &text, &s);
        let t0 = now_ms();
        let mut out = QueryResult {
            pool: Some(pool.clone()),
            settings: Some(s.clone()),
            query: text.clone(),
            judged_group: judged.clone(),
            from_build: true,
            ..Default::default()
        };
        let columns = model_columns(embedder.as_deref(), app.has_aligned.get_untracked());
        let doc_texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
        // Routing ranks the query's own language with the base model's vectors (kept here)
        // and the other languages with the aligned model's.
        let routed = s.method == Debias::Routed;
        let mut base_vectors: Option<(Vectors, Vec<f32>)> = None;
        if routed && !columns.contains(&true) {
            out.centred = Some(Err(
                "Routing needs the aligned model, and this page has none.".to_owned(),
            ));
        }
        for &aligned in &columns {
            let key = model_key(aligned);
            let t_index = now_ms();
            let progress = app.progress(format!("indexing the pool ({key} model)"));
            let docs = vectors(
                embedder.as_deref(),
                aligned,
                TextKind::Passage,
                &doc_texts,
                &progress,
                &stale,
            )
            .await;
            if let Some(w) = crate::store::take_warning() {
                app.notify(Place::Page, w);
            }
            let index_ms = now_ms() - t_index;
            let tq = now_ms();
            let query = match &docs {
                Ok(Some(_)) => {
                    vectors(
                        embedder.as_deref(),
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
                    if !stale() {
                        app.busy.set(None);
                    }
                    if e != engine::CANCELLED {
                        app.fail(
                            Place::Query,
                            Message::with_detail("The query could not be ranked.", e),
                        );
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
                    app.busy.set(None);
                    return app.fail(Place::Query, e);
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
            out.heat.push(heatmap(key, &pool, &docs, &picked));
            if routed && !aligned {
                base_vectors = Some((docs, q));
            } else if routed && let Some((own_docs, own_q)) = &base_vectors {
                out.centred = Some(
                    pool.rank_query_routed(
                        own_docs.iter().map(Vec::as_slice),
                        own_q,
                        docs.iter().map(Vec::as_slice),
                        &q,
                        Feedback::default(),
                        &s.query_id,
                        judged.as_deref(),
                        &s.query_lang,
                    )
                    .map(|r| {
                        out.routed_feedback = Some(r.feedback);
                        r.ranking
                    })
                    .map_err(|e| format!("Routing cannot be computed for this pool: {e}")),
                );
            } else if !routed && aligned == centre_on_aligned(&s, &columns) {
                // The adapter's stored means belong to the aligned model only.
                let stored = aligned.then(|| app.stored_means.get_untracked()).flatten();
                out.centred = Some(if s.method == Debias::ZScore {
                    pool.rank_query_zscore(
                        docs.iter().map(Vec::as_slice),
                        &q,
                        &s.query_id,
                        judged.as_deref(),
                        &s.query_lang,
                    )
                    .map_err(|e| {
                        format!("Per-language z-scores cannot be computed for this pool: {e}")
                    })
                } else {
                    let centred = pool.rank_query_centred(
                        &docs,
                        stored.as_ref(),
                        &q,
                        &s.query_id,
                        judged.as_deref(),
                        &s.query_lang,
                    );
                    match centred {
                        Ok(c) => {
                            out.centred_on_stored_means = c.on_stored_means;
                            Ok(c.ranking)
                        }
                        Err(e) => Err(format!(
                            "Language centring cannot be computed for this pool: {e}"
                        )),
                    }
                });
            }
            if aligned {
                out.aligned = Some(ranking)
            } else {
                out.base = Some(ranking)
            }
            let (embedded, stored) = crate::vectors::counts();
            app.perf_line(
                "embeddings",
                format!("{embedded} embedded in this browser, {stored} read from its store"),
            );
            app.perf_line(
                &format!("query ({key})"),
                format!(
                    "query embedded in {q_ms:.0} ms; {} documents indexed or read in {index_ms:.0} ms",
                    pool.documents.len()
                ),
            );
            out.ms = now_ms() - t0;
            if stale() {
                return;
            }
            // Each column as soon as it is ranked.
            app.result.set(out.clone());
        }
        app.busy.set(None);
        out.ms = now_ms() - t0;
        if !stale() {
            app.result.set(out);
            // An earlier query's failure no longer describes what is shown.
            app.remove(Place::Query, true);
        }
    });
}

/// Picks a question of the collection as the query.
pub fn pick_question(app: AppState, id: String) {
    if let Some(all) = app.collection.get_untracked()
        && let Some(q) = all.queries.iter().find(|q| q.id == id)
    {
        app.query_text.set(q.text.clone());
        app.settings.update(|s| {
            s.query_id = id;
            s.query_text = None;
            s.answer = None;
        });
    }
}

/// One embedding per text.
type Vectors = Vec<Vec<f32>>;

/// Applies a lesson's view of the pool.
pub fn apply_lesson(app: AppState, l: &Lesson) {
    app.settings.set(Settings {
        query_lang: l.query_lang.clone(),
        pool_langs: l.pool_langs.clone(),
        topics: l.topics,
        distractors: l.distractors,
        query_id: l.query_id.clone(),
        query_text: None,
        model: l.model.clone(),
        answer: None,
        pool: app.settings.get_untracked().pool,
        // The lessons' promises are about the training-free baseline, centring.
        centre_aligned: false,
        method: Debias::Centre,
    });
    app.show_all.set(false);
    if let Some(all) = app.collection.get_untracked()
        && let Some(q) = all.queries.iter().find(|q| q.id == l.query_id)
    {
        app.query_text.set(q.text.clone());
    }
}

/// Ranks every query of the pool in each pool language (but English) with each model.
pub fn run_all(app: AppState) {
    app.cancel.set(false);
    spawn_local(async move {
        let Some(all) = app.collection.get_untracked() else {
            return;
        };
        let embedder = embedder::current();
        let s = app.settings.get_untracked();
        let mut rows = Vec::new();
        let columns = model_columns(embedder.as_deref(), app.has_aligned.get_untracked());
        let centre_aligned = centre_on_aligned(&s, &columns);
        let routed = s.method == Debias::Routed && columns.contains(&true);
        let centred_name = match (routed, s.method) {
            (true, _) => Debias::Routed.model_name("aligned"),
            (false, m) => {
                let method = if m == Debias::ZScore {
                    m
                } else {
                    Debias::Centre
                };
                method.model_name(if centre_aligned { "aligned" } else { "base" })
            }
        };
        // Base, aligned, centred: as the three ranking columns.
        let names = ["base", "aligned", centred_name.as_str()];
        let mut reports =
            names.map(|name| langbias_eval::report::Report::new(name, all.name.clone()));
        let langs: Vec<String> = s
            .pool_langs
            .iter()
            .filter(|l| *l != ENGLISH || s.pool_langs.len() == 1)
            .cloned()
            .collect();
        let stop = move || app.cancel.get_untracked();
        for lang in langs {
            let ls = Settings {
                query_lang: lang.clone(),
                ..s.clone()
            };
            let pool = current_pool(&all, &ls);
            let mut evaluated: [Vec<QueryMetrics>; 3] = Default::default();
            // Routing: the base model's vectors of this pool, for the aligned pass.
            let mut base_vectors: Option<(Vectors, Vectors)> = None;
            for &aligned in &columns {
                let doc_texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
                let q_texts: Vec<&str> = pool.queries.iter().map(|q| q.text.as_str()).collect();
                let key = model_key(aligned);
                let docs = vectors(
                    embedder.as_deref(),
                    aligned,
                    TextKind::Passage,
                    &doc_texts,
                    &app.progress(format!("run all: indexing the {lang} pool ({key} model)")),
                    &stop,
                )
                .await;
                let q_emb = match &docs {
                    Ok(Some(_)) => {
                        vectors(
                            embedder.as_deref(),
                            aligned,
                            TextKind::Query,
                            &q_texts,
                            &app.progress(format!("run all: {lang} queries ({key} model)")),
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
                        app.busy.set(None);
                        if e == engine::CANCELLED {
                            return app.notify(Place::RunAll, "Run all was cancelled.");
                        }
                        return app.fail(Place::RunAll, Message::with_detail("Run all failed.", e));
                    }
                    _ => {
                        app.busy.set(None);
                        return app.notify(Place::RunAll, "Run all needs the model for this pool: it is still loading. Try again when the badge says ready.");
                    }
                };
                // Centred once per pool; a pool where centring is undefined (a language with
                // one document, and no stored mean for it) leaves this column empty, as in the
                // ranking column.
                let dim = docs.first().map_or(0, Vec::len);
                let stored = aligned.then(|| app.stored_means.get_untracked()).flatten();
                let zscore = s.method == Debias::ZScore;
                let third = !routed && aligned == centre_aligned && dim > 0;
                let centred = (third && !zscore)
                    .then(|| pool.centre_documents(&docs, dim, stored.as_ref()).ok())
                    .flatten()
                    .map(|c| c.values);
                for (i, (q, e)) in pool.queries.iter().zip(&q_emb).enumerate() {
                    let group = Some(q.group.as_str());
                    if let Some(m) = rank_query(&pool, &docs, e, &q.id, group, &lang)
                        .ok()
                        .and_then(|r| r.metrics)
                    {
                        evaluated[usize::from(aligned)].push(m);
                    }
                    let own = base_vectors.as_ref().filter(|_| routed && aligned);
                    let debiased = if let Some((own_docs, own_q)) = own {
                        pool.rank_query_routed(
                            own_docs.iter().map(Vec::as_slice),
                            &own_q[i],
                            docs.iter().map(Vec::as_slice),
                            e,
                            Feedback::default(),
                            &q.id,
                            group,
                            &lang,
                        )
                        .ok()
                        .map(|r| r.ranking)
                    } else if third && zscore {
                        pool.rank_query_zscore(
                            docs.iter().map(Vec::as_slice),
                            e,
                            &q.id,
                            group,
                            &lang,
                        )
                        .ok()
                    } else {
                        centred.as_ref().and_then(|flat| {
                            pool.rank_query(flat.chunks_exact(dim), e, &q.id, group, &lang)
                                .ok()
                        })
                    };
                    if let Some(m) = debiased.and_then(|r| r.metrics) {
                        evaluated[2].push(m);
                    }
                }
                if routed && !aligned {
                    base_vectors = Some((docs, q_emb));
                }
            }
            let scenario = langbias_eval::Scenario::Multi {
                query: lang.clone(),
                docs: pool.document_languages(),
            };
            let summaries = evaluated.each_ref().map(|m| state::summarize(m));
            for ((report, summary), metrics) in reports.iter_mut().zip(&summaries).zip(&evaluated) {
                if let Some(summary) = summary {
                    let eval = langbias_eval::Evaluation {
                        summary: summary.clone(),
                        queries: metrics.clone(),
                        excluded: Vec::new(),
                    };
                    report.push(&scenario, &eval, true);
                }
            }
            rows.push((lang, summaries));
        }
        let per_model: Vec<Vec<(String, langbias_eval::Summary)>> = (0..3)
            .map(|i| {
                rows.iter()
                    .filter_map(|(l, s): &(String, [Option<langbias_eval::Summary>; 3])| {
                        s[i].clone().map(|s| (l.clone(), s))
                    })
                    .collect()
            })
            .collect();
        let models: Vec<TableModel> = names
            .iter()
            .zip(&per_model)
            .filter(|(_, rows)| !rows.is_empty())
            .map(|(&name, rows)| TableModel { name, rows })
            .collect();
        let table = models_table("MIX L→{pool languages} on the current pool", &models);
        app.busy.set(None);
        app.run_all.set(RunAll {
            names: names.map(str::to_owned),
            rows,
            reports: reports
                .into_iter()
                .filter(|r| !r.scores.is_empty())
                .collect(),
            table,
        });
    });
}

/// Projects the current pool's documents and query under every model onto the two principal
/// axes of all of them together (one shared projection, so the panels compare).
pub fn compute_map(app: AppState) {
    spawn_local(async move {
        let Some(all) = app.collection.get_untracked() else {
            return;
        };
        let embedder = embedder::current();
        let s = app.settings.get_untracked();
        let pool = current_pool(&all, &s);
        let query = app.query_text.get_untracked();
        let texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
        let columns = model_columns(embedder.as_deref(), app.has_aligned.get_untracked());
        // Rows of every model: documents, then the query (when there is one).
        let mut rows: Vec<Vec<f32>> = Vec::new();
        let mut models = Vec::new();
        for aligned in columns {
            let key = model_key(aligned);
            let progress = app.progress(format!("map: indexing the pool ({key} model)"));
            let docs = vectors(
                embedder.as_deref(),
                aligned,
                TextKind::Passage,
                &texts,
                &progress,
                &|| false,
            )
            .await;
            let q = if query.trim().is_empty() {
                Ok(None)
            } else {
                vectors(
                    embedder.as_deref(),
                    aligned,
                    TextKind::Query,
                    &[query.as_str()],
                    &|_, _| {},
                    &|| false,
                )
                .await
            };
            app.busy.set(None);
            match (docs, q) {
                (Ok(Some((d, _))), q) => {
                    let q = q.ok().flatten().and_then(|(q, _)| q.into_iter().next());
                    models.push((key, d.len(), q.is_some()));
                    rows.extend(d);
                    rows.extend(q);
                }
                (Ok(None), _) => {
                    return app.notify(
                        Place::Map,
                        "The map needs the model for this pool: it is still loading.",
                    );
                }
                (Err(e), _) => {
                    return app.fail(
                        Place::Map,
                        Message::with_detail("The map could not be drawn.", e),
                    );
                }
            }
        }
        let mut xy = pca_2d(&rows).into_iter();
        let panels = models
            .into_iter()
            .map(|(model, n, has_query)| crate::app_state::MapPanel {
                model,
                points: xy
                    .by_ref()
                    .take(n)
                    .zip(&pool.documents)
                    .map(|((x, y), d)| (x, y, d.lang.clone(), d.group.clone()))
                    .collect(),
                query: if has_query { xy.next() } else { None },
            })
            .collect();
        app.map.set(panels);
    });
}

/// Reads uploaded files: a langbias pool (JSON) or XQuAD files `xquad.<lang>.json`.
pub fn upload(app: AppState, files: Vec<web_sys::File>) {
    spawn_local(async move {
        let rejected = |e: String| {
            app.fail(
                Place::YourData,
                Message::with_detail("Upload rejected, the current pool is kept.", e),
            )
        };
        let mut xquad_langs = Vec::new();
        let mut loaded: Option<Pool> = None;
        for f in &files {
            let name = f.name();
            let blob = gloo::file::Blob::from(f.clone());
            let text = match gloo::file::futures::read_as_text(&blob).await {
                Ok(t) => t,
                Err(e) => return rejected(format!("{name}: {e}")),
            };
            if let Some(lang) = xquad::language_from_file_name(&name) {
                match xquad::XquadLanguage::parse(lang, &name, &text) {
                    Ok(x) => xquad_langs.push(x),
                    Err(e) => return rejected(e.to_string()),
                }
            } else {
                match Pool::from_json(&text) {
                    Ok(p) => loaded = Some(p),
                    Err(e) => return rejected(format!("{name}: {e}")),
                }
            }
        }
        if !xquad_langs.is_empty() {
            match xquad::build_pool(&xquad_langs) {
                Ok(p) => loaded = Some(p),
                Err(e) => return rejected(e.to_string()),
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
            let topics = p
                .documents
                .iter()
                .map(|d| d.group.as_str())
                .collect::<std::collections::HashSet<_>>()
                .len();
            let name = p.name.clone();
            app.dismiss(Place::YourData);
            app.notify(
                Place::YourData,
                format!(
                    "Loaded “{}”: {} documents, {} queries, languages {}.",
                    p.name,
                    p.documents.len(),
                    p.queries.len(),
                    langs.join(", ")
                ),
            );
            app.collection.set(Some(p));
            if let Some(q) = first_q {
                app.query_text.set(q.text.clone());
                app.settings.update(|s| {
                    s.query_lang = q.lang.clone();
                    s.pool_langs = if langs.iter().any(|l| l == ENGLISH) && q.lang != ENGLISH {
                        vec![ENGLISH.into(), q.lang.clone()]
                    } else {
                        vec![q.lang.clone()]
                    };
                    s.query_id = q.id.clone();
                    s.query_text = None;
                    s.answer = None;
                    s.topics = topics.max(1);
                    s.pool = Some(name.clone());
                });
            }
        }
    });
}

/// The language choice of "Add a document" that asks the page to guess it.
pub const DETECT_LANGUAGE: &str = "detect";

/// Adds a visitor's document to the collection (a topic of its own), in `lang` or, for
/// [`DETECT_LANGUAGE`], the language guessed among the collection's (centring needs it).
/// Returns what to tell the visitor.
pub fn add_document(app: AppState, text: String, lang: String) -> Result<String, String> {
    if text.trim().is_empty() {
        return Err("Type or paste a document first.".into());
    }
    let (lang, said) = if lang == DETECT_LANGUAGE {
        let langs = app
            .collection
            .get_untracked()
            .map(|p| p.languages())
            .unwrap_or_default();
        match langbias_eval::lang_id::guess(&text, &langs) {
            Some(g) if g.reliable() => {
                let said = format!(
                    "Added in {} (detected, confidence {:.2}): choose the language in the list if that is wrong, and add it again.",
                    g.lang, g.confidence
                );
                (g.lang, said)
            }
            Some(g) => {
                return Err(format!(
                    "This text looks like {}, but not clearly (confidence {:.2}): choose its language in the list.",
                    g.lang, g.confidence
                ));
            }
            None => {
                return Err(
                    "The page could not tell this text's language: choose it in the list.".into(),
                );
            }
        }
    } else {
        let said = format!("Added in {lang}.");
        (lang, said)
    };
    let n = app.custom_count.get_untracked() + 1;
    app.custom_count.set(n);
    app.collection.update(|c| {
        if let Some(p) = c {
            p.documents.push(langbias_eval::Document {
                id: format!("user{n}.{lang}"),
                group: format!("user{n}"),
                lang,
                title: Some(format!("Your document {n}")),
                text,
            });
        }
    });
    app.settings.update(|s| s.distractors += 1);
    Ok(said)
}

/// The rank of each document in `ranking` (movement arrows of the other columns).
pub fn ranks_of(ranking: Option<&Ranking>) -> HashMap<usize, usize> {
    ranking
        .map(|o| o.hits.iter().map(|h| (h.doc, h.rank)).collect())
        .unwrap_or_default()
}

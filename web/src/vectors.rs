//! The page's embedding memo: every vector per (model, text), from the build-time files or
//! embedded once in the page, so changing pool languages or topics only embeds what is new.

use std::cell::RefCell;
use std::collections::{HashMap, HashSet};

use langbias_assets::site::SiteModel;
use langbias_encoder::{Precision, TextKind};
use langbias_eval::Pool;

use crate::embedder::Embedder;
use crate::precomputed::Precomputed;
use crate::{state, store};

/// Where a vector came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    /// Precomputed at build time (`public/embeddings`).
    Build,
    /// Embedded in this page (or read back from this browser's store of earlier ones).
    Page,
}

type VectorCache = HashMap<(&'static str, String), (Vec<f32>, Origin)>;

thread_local! {
    /// Passage embeddings per (model, text): survive pool changes.
    static DOC_CACHE: RefCell<VectorCache> = RefCell::new(HashMap::new());
    /// Query embeddings per (model, text).
    static QUERY_CACHE: RefCell<VectorCache> = RefCell::new(HashMap::new());
}

thread_local! {
    /// Texts embedded by this page's encoders, and read back from this browser's store.
    static COUNTS: std::cell::Cell<(usize, usize)> = const { std::cell::Cell::new((0, 0)) };
}

/// `(embedded in this page, read from this browser's store)` since the page opened.
pub fn counts() -> (usize, usize) {
    COUNTS.with(std::cell::Cell::get)
}

fn count(embedded: usize, stored: usize) {
    COUNTS.with(|c| {
        let (e, s) = c.get();
        c.set((e + embedded, s + stored));
    });
}

fn cache_for(kind: TextKind) -> &'static std::thread::LocalKey<RefCell<VectorCache>> {
    match kind {
        TextKind::Passage => &DOC_CACHE,
        TextKind::Query => &QUERY_CACHE,
    }
}

/// The name of the base (`false`) or aligned (`true`) model in caches, messages and exports.
pub fn model_key(aligned: bool) -> &'static str {
    if aligned { "aligned" } else { "base" }
}

/// The vectors of `texts` (`kind`) under the base or aligned model: from the memo (build-time
/// or earlier page embeddings), the rest embedded by `embedder`. `Ok(None)` when some are
/// missing and there is no embedder yet (the model is still loading). The flag says whether
/// every vector came from the build-time files.
pub async fn vectors(
    embedder: Option<&Embedder>,
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
        let mut seen = HashSet::new();
        texts
            .iter()
            .filter(|t| !c.contains_key(&(key, (**t).to_owned())) && seen.insert(**t))
            .map(|t| (*t).to_owned())
            .collect()
    });
    if !missing.is_empty() {
        // This browser's store first: what was embedded here before.
        let stored = store::get(aligned, kind, &missing)
            .await
            .unwrap_or_else(|e| {
                store::warn(&e);
                vec![None; missing.len()]
            });
        let mut still = Vec::new();
        let n_missing = missing.len();
        cache.with(|c| {
            let mut c = c.borrow_mut();
            for (t, v) in missing.into_iter().zip(stored) {
                match v {
                    Some(v) => {
                        c.insert((key, t), (v, Origin::Page));
                    }
                    None => still.push(t),
                }
            }
        });
        count(0, n_missing - still.len());
        if !still.is_empty() {
            let Some(embedder) = embedder else {
                return Ok(None);
            };
            let emb = embedder
                .embed(aligned, kind, &still, progress, stop)
                .await?;
            count(still.len(), 0);
            if let Err(e) = store::put(aligned, kind, &still, &emb).await {
                store::warn(&e);
            }
            cache.with(|c| {
                let mut c = c.borrow_mut();
                for (t, e) in still.into_iter().zip(emb) {
                    c.insert((key, t), (e, Origin::Page));
                }
            });
        }
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

/// Puts the build-time vectors of `pool`'s texts into the memo.
pub fn fill_from_build(pre: &Precomputed, pool: &Pool) {
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
pub async fn check_build_vectors(embedder: &Embedder, pool: &Pool) -> Result<Option<f32>, String> {
    let mut worst: Option<f32> = None;
    for aligned in embedder.models() {
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
        let mut model_worst: Option<f32> = None;
        for (kind, text) in picks {
            let Some((stored, Origin::Build)) =
                cache_for(kind).with(|c| c.borrow().get(&(key, text.clone())).cloned())
            else {
                continue;
            };
            let got = embedder
                .embed(
                    aligned,
                    kind,
                    std::slice::from_ref(&text),
                    &|_, _| {},
                    &|| false,
                )
                .await?;
            let cos = state::dot(got.first().map_or(&[][..], Vec::as_slice), &stored);
            model_worst = Some(model_worst.map_or(cos, |w| w.min(cos)));
        }
        if let Some(cos) = model_worst {
            worst = Some(worst.map_or(cos, |w| w.min(cos)));
            if cos < 0.9999 {
                drop_build_vectors(aligned);
                return Err(if crate::browser::precision() == Precision::Int8 {
                    format!(
                        "8-bit encoder (?precision=int8): its embeddings reach a cosine of {cos:.4} with the f32 build-time embeddings of the {key} model (worst of four texts), so those are not used and the page ranks with its 8-bit vectors"
                    )
                } else {
                    format!(
                        "the build-time embeddings of the {key} model differ from this page's encoder (cosine {cos:.5} < 0.9999): they were dropped and the page embeds the pool itself"
                    )
                });
            }
        }
    }
    Ok(worst)
}

//! Embeddings kept in this browser (IndexedDB) per (model, kind, text), so a reload, another
//! pool view or an uploaded pool seen before embeds nothing twice. Keys name the model by the
//! sha256 of its files ([`set_models`]), so a changed model or adapter never answers from an
//! older one's vectors. Unavailable (private mode) or full storage: the page keeps vectors in
//! memory only and says so.

use std::cell::RefCell;

use js_sys::{Float32Array, Promise};
use langbias_assets::sha256_hex;
use langbias_encoder::TextKind;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{IdbDatabase, IdbRequest, IdbTransactionMode};

use crate::fetch::js_error;

const DB: &str = "langbias-embeddings";
const STORE: &str = "vectors";

thread_local! {
    /// The model identities (`[base, aligned]`) used in keys; empty until the manifest is read.
    static MODELS: RefCell<[String; 2]> = RefCell::new(Default::default());
    static DATABASE: RefCell<Option<IdbDatabase>> = const { RefCell::new(None) };
}

/// Names the models in keys: the base by its model file's sha256, the aligned one by both,
/// and 8-bit vectors (`?precision=int8`) apart from f32 ones.
pub fn set_models(base_sha: &str, adapter_sha: Option<&str>) {
    let bits = match crate::browser::precision() {
        langbias_encoder::Precision::F32 => "",
        langbias_encoder::Precision::Int8 => ":int8",
    };
    let base = format!("m{}{bits}", &base_sha[..base_sha.len().min(16)]);
    let aligned = adapter_sha.map_or(String::new(), |a| {
        format!(
            "m{}+a{}{bits}",
            &base_sha[..base_sha.len().min(16)],
            &a[..a.len().min(16)]
        )
    });
    MODELS.with(|m| *m.borrow_mut() = [base, aligned]);
}

/// `?store=0` in the address leaves the store out (tests compare fresh embeddings); read
/// once per page.
fn enabled() -> bool {
    thread_local! {
        static ENABLED: bool = crate::browser::search_param("store").as_deref() != Some("0");
    }
    ENABLED.with(|e| *e)
}

fn key(aligned: bool, kind: TextKind, text: &str) -> Option<String> {
    if !enabled() {
        return None;
    }
    let model = MODELS.with(|m| m.borrow()[usize::from(aligned)].clone());
    if model.is_empty() {
        return None;
    }
    let kind = match kind {
        TextKind::Query => "q",
        TextKind::Passage => "p",
    };
    Some(format!(
        "{model}|{kind}|{}",
        &sha256_hex(text.as_bytes())[..32]
    ))
}

/// Resolves when `request` succeeds (with its result), rejects when it fails.
async fn settle(request: &IdbRequest) -> Result<JsValue, String> {
    let promise = Promise::new(&mut |resolve, reject| {
        request.set_onsuccess(Some(&resolve));
        request.set_onerror(Some(&reject));
    });
    JsFuture::from(promise).await.map_err(|_| {
        request
            .error()
            .ok()
            .flatten()
            .map_or("IndexedDB request failed".into(), |e| {
                format!("{}: {}", e.name(), e.message())
            })
    })?;
    request.result().map_err(js_error)
}

async fn database() -> Result<IdbDatabase, String> {
    if let Some(db) = DATABASE.with(|d| d.borrow().clone()) {
        return Ok(db);
    }
    let factory = web_sys::window()
        .ok_or("no window")?
        .indexed_db()
        .map_err(js_error)?
        .ok_or("this browser offers no IndexedDB (private mode?)")?;
    let request = factory.open_with_u32(DB, 1).map_err(js_error)?;
    let upgrade = Closure::<dyn FnMut(JsValue)>::new({
        let request = request.clone();
        move |_| {
            if let Ok(db) = request.result().map(JsCast::unchecked_into::<IdbDatabase>)
                && !db.object_store_names().contains(STORE)
            {
                db.create_object_store(STORE).ok();
            }
        }
    });
    request.set_onupgradeneeded(Some(upgrade.as_ref().unchecked_ref()));
    let db: IdbDatabase = settle(&request).await?.unchecked_into();
    drop(upgrade);
    DATABASE.with(|d| *d.borrow_mut() = Some(db.clone()));
    Ok(db)
}

/// The stored vectors of `texts` (`None` where none is stored).
pub async fn get(
    aligned: bool,
    kind: TextKind,
    texts: &[String],
) -> Result<Vec<Option<Vec<f32>>>, String> {
    let keys: Vec<Option<String>> = texts.iter().map(|t| key(aligned, kind, t)).collect();
    if keys.iter().all(Option::is_none) {
        return Ok(vec![None; texts.len()]);
    }
    let db = database().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readonly)
        .map_err(js_error)?;
    let store = tx.object_store(STORE).map_err(js_error)?;
    let requests: Vec<Option<IdbRequest>> = keys
        .iter()
        .map(|k| {
            k.as_ref()
                .and_then(|k| store.get(&JsValue::from_str(k)).ok())
        })
        .collect();
    let mut out = Vec::with_capacity(texts.len());
    for r in requests {
        out.push(match r {
            Some(r) => settle(&r)
                .await?
                .dyn_into::<Float32Array>()
                .ok()
                .map(|a| a.to_vec()),
            None => None,
        });
    }
    Ok(out)
}

/// Stores `vectors` of `texts`; `Err` (e.g. `QuotaExceededError`) leaves the page working
/// from memory.
pub async fn put(
    aligned: bool,
    kind: TextKind,
    texts: &[String],
    vectors: &[Vec<f32>],
) -> Result<(), String> {
    if !enabled() {
        return Ok(());
    }
    let db = database().await?;
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(js_error)?;
    let store = tx.object_store(STORE).map_err(js_error)?;
    let mut last = None;
    for (t, v) in texts.iter().zip(vectors) {
        if let Some(k) = key(aligned, kind, t) {
            let value = Float32Array::from(v.as_slice());
            last = Some(
                store
                    .put_with_key(&value, &JsValue::from_str(&k))
                    .map_err(js_error)?,
            );
        }
    }
    // The transaction commits when its last request has succeeded.
    if let Some(r) = last {
        settle(&r).await?;
    }
    Ok(())
}

/// Removes every stored vector.
pub async fn clear() -> Result<(), String> {
    let db = match database().await {
        Ok(db) => db,
        // Nothing stored where there is no IndexedDB.
        Err(_) => return Ok(()),
    };
    let tx = db
        .transaction_with_str_and_mode(STORE, IdbTransactionMode::Readwrite)
        .map_err(js_error)?;
    let request = tx
        .object_store(STORE)
        .map_err(js_error)?
        .clear()
        .map_err(js_error)?;
    settle(&request).await.map(drop)
}

thread_local! {
    static WARNING: RefCell<Option<String>> = const { RefCell::new(None) };
    static WARNED: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

/// Records that the store failed (said once per page, in plain words).
pub fn warn(why: &str) {
    if !WARNED.with(|w| w.replace(true)) {
        let text = if why.contains("Quota") {
            "This browser's storage is full: new embeddings are kept in memory only and are computed again after a reload."
        } else {
            "This browser does not let the page store embeddings (private mode?): they are kept in memory only and are computed again after a reload."
        };
        WARNING.with(|w| *w.borrow_mut() = Some(format!("{text} ({why})")));
    }
}

/// The store's warning, once.
pub fn take_warning() -> Option<String> {
    WARNING.with(|w| w.borrow_mut().take())
}

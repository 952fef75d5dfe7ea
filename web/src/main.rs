//! The langbias site: build mixed-language pools, type a query, and watch the base and the
//! aligned multilingual-e5 encoder rank the pool side by side, in the page (WebGPU or CPU).
//!
//! - [`components`]: one Leptos component per section; [`app_state::AppState`] holds the
//!   shared signals (provided as context); [`workflows`] the async work (start-up, ranking,
//!   run-all, map, uploads) as plain functions on it.
//! - [`engine`]: downloads (Cache API, progress), backend choice with a GPU/CPU parity test,
//!   encoders from `langbias-encoder`; [`embedder::Embedder`] runs them on the main thread
//!   (WebGPU) or in a pool of Web Workers ([`workers`] in the page, [`worker`] in each
//!   worker, [`messages`] between them).
//! - [`vectors`]: the embedding memo per (model, text), backed by IndexedDB ([`store`]) and
//!   seeded by the build-time embeddings ([`precomputed`]).
//! - [`state`]: shareable settings, the current pool, ranking and metrics from `langbias-eval`
//!   (the evaluator's own code), PCA for the map.
//! - [`fetch`]: same-origin fetch with byte progress and caching.

mod app_state;
mod browser;
mod components;
mod embedder;
mod engine;
mod fetch;
mod messages;
mod precomputed;
mod state;
mod store;
mod vectors;
mod worker;
mod workers;
mod workflows;

/// The module's constructors (cubecl's `inventory` registrations), run once at start.
///
/// `inventory` documents this call: when no exported function calls `__wasm_call_ctors`, the
/// wasm linker treats the module as "command-style" and wraps *every* export in a call to all
/// constructors — each DOM callback and each `externref` table operation of wasm-bindgen. In a
/// CPU profile of the page that was 2.8 s of the 4.5 s between opening the page and its first
/// ranking. Calling it here (from `main`, itself exported) switches the wrapping off.
#[cfg(target_family = "wasm")]
#[allow(unsafe_code)]
fn run_constructors_once() {
    unsafe extern "C" {
        fn __wasm_call_ctors();
    }
    // SAFETY: called once, first thing in `main`, before any other code of the module runs;
    // the constructors only register statics (inventory's are idempotent).
    unsafe { __wasm_call_ctors() }
}

fn main() {
    #[cfg(target_family = "wasm")]
    run_constructors_once();
    // In an encoder worker (no window) the worker script calls `langbias_worker_start`.
    if web_sys::window().is_none() {
        return;
    }
    console_error_panic_hook::set_once();
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        browser::show_fatal(&format!(
            "The page hit an internal error and stopped: {info}. Reload to start again; please report this."
        ));
    }));
    leptos::mount::mount_to_body(components::App);
}

/// Test and scripting hook (exported to `window.wasmBindings`): embeds `texts` with the loaded
/// base model, where the page embeds (its workers, or the main thread on WebGPU), and returns
/// the vectors concatenated, `[texts.len() × 384]`.
#[wasm_bindgen::prelude::wasm_bindgen]
pub async fn langbias_embed(
    kind: String,
    texts: Vec<String>,
) -> Result<Vec<f32>, wasm_bindgen::JsValue> {
    let kind = match kind.as_str() {
        "query" => langbias_encoder::TextKind::Query,
        "passage" => langbias_encoder::TextKind::Passage,
        other => return Err(format!("unknown kind `{other}`").into()),
    };
    let embedder = embedder::current()
        .ok_or_else(|| wasm_bindgen::JsValue::from_str("the model is not loaded yet"))?;
    let rows = embedder
        .embed(false, kind, &texts, &|_, _| {}, &|| false)
        .await
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e))?;
    Ok(rows.concat())
}

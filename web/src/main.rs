//! The langbias site: build mixed-language pools, type a query, and watch the base and the
//! aligned multilingual-e5 encoder rank the pool side by side, in the page (WebGPU or CPU).
//!
//! - [`engine`]: downloads (Cache API, progress), backend choice with a GPU/CPU parity test,
//!   encoders from `langbias-encoder`.
//! - [`state`]: shareable settings, the current pool, ranking and metrics from `langbias-eval`
//!   (the evaluator's own code), PCA for the map.
//! - [`fetch`]: same-origin fetch with byte progress and caching.
//! - [`precomputed`]: the built-in pool's build-time embeddings (first ranking before the
//!   model has downloaded), checked against the manifest and the page's own encoder.

mod engine;
mod fetch;
mod precomputed;
mod state;
mod ui;

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
    console_error_panic_hook::set_once();
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        ui::show_fatal(&format!(
            "The page hit an internal error and stopped: {info}. Reload to start again; please report this."
        ));
    }));
    leptos::mount::mount_to_body(ui::App);
}

/// Test and scripting hook (exported to `window.wasmBindings`): embeds `texts` with the loaded
/// base model and returns the vectors concatenated, `[texts.len() × 384]`.
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
    let engine = ui::loaded_engine()
        .ok_or_else(|| wasm_bindgen::JsValue::from_str("the model is not loaded yet"))?;
    let emb = engine
        .base
        .embed(kind, &texts)
        .await
        .map_err(|e| wasm_bindgen::JsValue::from_str(&e.to_string()))?;
    Ok(emb.data)
}

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

fn main() {
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

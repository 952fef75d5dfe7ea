//! Small browser helpers: the fatal-error banner, the address bar, file downloads.

use wasm_bindgen::JsCast;

use crate::state::Settings;

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

/// The value of `name` in the address's query string (`?workers=2&store=0`), if given.
pub fn search_param(name: &str) -> Option<String> {
    let search = web_sys::window()?.location().search().ok()?;
    web_sys::UrlSearchParams::new_with_str(&search)
        .ok()?
        .get(name)
}

/// Writes the shareable settings to the address bar (no history entry).
pub fn set_hash(settings: &Settings) {
    if let Some(w) = web_sys::window()
        && let Ok(history) = w.history()
    {
        history
            .replace_state_with_url(&wasm_bindgen::JsValue::NULL, "", Some(&settings.to_hash()))
            .ok();
    }
}

/// Offers `text` as a file download named `name`.
pub fn download(name: &str, mime: &str, text: &str) {
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

/// The CPU engine's number format this page asked for: `?precision=int8`, else f32.
pub fn precision() -> langbias_encoder::Precision {
    match search_param("precision").as_deref() {
        Some("int8") => langbias_encoder::Precision::Int8,
        _ => langbias_encoder::Precision::F32,
    }
}

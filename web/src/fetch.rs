//! Same-origin downloads with byte progress, kept in the Cache API under a content hash so a
//! reload does not download again.

use js_sys::{Reflect, Uint8Array};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;
use web_sys::{Cache, Response};

const CACHE_NAME: &str = "langbias-models-v1";

pub fn js_error(e: JsValue) -> String {
    e.as_string()
        .or_else(|| {
            e.dyn_ref::<js_sys::Error>()
                .map(|e| String::from(e.message()))
        })
        .unwrap_or_else(|| format!("{e:?}"))
}

async fn open_cache() -> Option<Cache> {
    let caches = web_sys::window()?.caches().ok()?;
    JsFuture::from(caches.open(CACHE_NAME))
        .await
        .ok()?
        .dyn_into()
        .ok()
}

/// Where the bytes came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Cache,
    Network,
    /// Downloaded, but the browser refused to store it (quota): kept in memory only.
    NetworkNotCached,
}

async fn read_body(
    response: &Response,
    total_hint: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<Vec<u8>, String> {
    let total = response
        .headers()
        .get("content-length")
        .ok()
        .flatten()
        .and_then(|v| v.parse().ok())
        .unwrap_or(total_hint);
    let Some(body) = response.body() else {
        let buf = JsFuture::from(response.array_buffer().map_err(js_error)?)
            .await
            .map_err(js_error)?;
        return Ok(Uint8Array::new(&buf).to_vec());
    };
    let reader: web_sys::ReadableStreamDefaultReader = body.get_reader().unchecked_into();
    let mut out = Vec::with_capacity(total as usize);
    loop {
        let chunk = JsFuture::from(reader.read()).await.map_err(js_error)?;
        if Reflect::get(&chunk, &"done".into())
            .map_err(js_error)?
            .as_bool()
            == Some(true)
        {
            break;
        }
        let value: Uint8Array = Reflect::get(&chunk, &"value".into())
            .map_err(js_error)?
            .unchecked_into();
        let start = out.len();
        out.resize(start + value.length() as usize, 0);
        value.copy_to(&mut out[start..]);
        progress(out.len() as u64, total.max(out.len() as u64));
    }
    Ok(out)
}

/// Fetches `url`, verifying nothing here (callers check hashes), via the cache keyed by `key`.
pub async fn fetch_cached(
    url: &str,
    key: &str,
    size_hint: u64,
    progress: &dyn Fn(u64, u64),
) -> Result<(Vec<u8>, Origin), String> {
    let cache = open_cache().await;
    let cache_key = format!("/__langbias_cache/{key}");
    if let Some(cache) = &cache
        && let Ok(hit) = JsFuture::from(cache.match_with_str(&cache_key)).await
        && let Ok(response) = hit.dyn_into::<Response>()
    {
        let bytes = read_body(&response, size_hint, progress).await?;
        return Ok((bytes, Origin::Cache));
    }
    let response = get(url).await?;
    let bytes = read_body(&response, size_hint, progress).await?;
    let mut origin = Origin::NetworkNotCached;
    if let Some(cache) = &cache {
        let array = Uint8Array::from(bytes.as_slice());
        if let Ok(stored) = Response::new_with_opt_buffer_source(Some(&array))
            && JsFuture::from(cache.put_with_str(&cache_key, &stored))
                .await
                .is_ok()
        {
            origin = Origin::Network;
        }
    }
    Ok((bytes, origin))
}

/// A same-origin GET that succeeded (HTTP 2xx), or why not.
async fn get(url: &str) -> Result<Response, String> {
    let window = web_sys::window().ok_or("no window")?;
    let response: Response = JsFuture::from(window.fetch_with_str(url))
        .await
        .map_err(js_error)?
        .unchecked_into();
    if !response.ok() {
        return Err(format!(
            "{url}: HTTP {} {}",
            response.status(),
            response.status_text()
        ));
    }
    Ok(response)
}

/// Plain same-origin fetch of a small file's bytes.
pub async fn fetch_bytes(url: &str) -> Result<Vec<u8>, String> {
    let response = get(url).await?;
    read_body(&response, 0, &|_, _| {}).await
}

/// Plain same-origin text fetch (small files).
pub async fn fetch_text(url: &str) -> Result<String, String> {
    let response = get(url).await?;
    let text = JsFuture::from(response.text().map_err(js_error)?)
        .await
        .map_err(js_error)?;
    text.as_string().ok_or_else(|| format!("{url}: not text"))
}

/// Deletes the model cache; returns whether anything was deleted.
pub async fn clear_cache() -> Result<bool, String> {
    let caches = web_sys::window()
        .ok_or("no window")?
        .caches()
        .map_err(js_error)?;
    let deleted = JsFuture::from(caches.delete(CACHE_NAME))
        .await
        .map_err(js_error)?;
    Ok(deleted.as_bool().unwrap_or(false))
}

/// Bytes stored in the model cache (sum of the cached bodies' sizes).
pub async fn cached_bytes() -> u64 {
    let Some(cache) = open_cache().await else {
        return 0;
    };
    let Ok(keys) = JsFuture::from(cache.keys()).await else {
        return 0;
    };
    let keys: js_sys::Array = keys.unchecked_into();
    let mut total = 0;
    for request in keys.iter() {
        let request: web_sys::Request = request.unchecked_into();
        if let Ok(hit) = JsFuture::from(cache.match_with_request(&request)).await
            && let Ok(response) = hit.dyn_into::<Response>()
            && let Ok(blob) = response.blob()
            && let Ok(blob) = JsFuture::from(blob).await
        {
            total += blob.unchecked_into::<web_sys::Blob>().size() as u64;
        }
    }
    total
}

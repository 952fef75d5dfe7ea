//! The messages between the page and its encoder workers: typed Rust values that cross with
//! `serde-wasm-bindgen`, vectors beside them as a transferred `Float32Array` (no copy).
//!
//! A worker posts [`FromWorker::Booted`] once its wasm instance runs, gets one
//! [`ToWorker::Init`] (the model files, downloaded once by the page), answers
//! [`FromWorker::Ready`] or [`FromWorker::Failed`], then serves [`ToWorker::Embed`] jobs with
//! [`FromWorker::Progress`] and one [`FromWorker::Done`] or [`FromWorker::Error`] each.

use js_sys::{Float32Array, Object, Reflect};
use langbias_assets::site::SiteManifest;
use langbias_encoder::Precision;
use serde::{Deserialize, Serialize};
use serde_bytes::ByteBuf;
use wasm_bindgen::{JsCast, JsValue};

/// Page → worker.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum ToWorker {
    /// The model files, as the page downloaded and checked them.
    Init {
        manifest: Box<SiteManifest>,
        tokenizer: String,
        model: ByteBuf,
        adapter: Option<ByteBuf>,
        precision: Precision,
    },
    /// Embed `texts` (queries when `query`, else passages) with the base or aligned model.
    Embed {
        job: u32,
        aligned: bool,
        query: bool,
        texts: Vec<String>,
    },
    /// Stop job `job` at its next slice (it ends with an [`FromWorker::Error`] "cancelled").
    Cancel { job: u32 },
}

/// Worker → page.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type")]
pub enum FromWorker {
    /// The worker's wasm instance runs and listens.
    Booted,
    /// The encoders are built (`load_ms`: parsing and building).
    Ready { load_ms: f64, has_aligned: bool },
    /// The worker cannot serve (bad model files, out of memory, a panic): the page drops it.
    Failed { message: String },
    /// `done` texts of `job` embedded.
    Progress { job: u32, done: u32 },
    /// `job` finished: its `rows` vectors travel beside the message.
    Done { job: u32, rows: u32 },
    /// `job` failed (or was cancelled).
    Error { job: u32, message: String },
}

const MESSAGE: &str = "m";
const VECTORS: &str = "v";

fn js_err(e: impl std::fmt::Display) -> String {
    format!("worker message: {e}")
}

/// `{m: message, v: vectors}` (and the transfer list for `postMessage`).
pub fn envelope<T: Serialize>(
    msg: &T,
    vectors: Option<&Float32Array>,
) -> Result<(JsValue, js_sys::Array), String> {
    let obj = Object::new();
    let value = serde_wasm_bindgen::to_value(msg).map_err(js_err)?;
    Reflect::set(&obj, &MESSAGE.into(), &value).map_err(|e| js_err(format!("{e:?}")))?;
    let transfer = js_sys::Array::new();
    if let Some(v) = vectors {
        Reflect::set(&obj, &VECTORS.into(), v).map_err(|e| js_err(format!("{e:?}")))?;
        transfer.push(&v.buffer());
    }
    Ok((obj.into(), transfer))
}

/// The message and vectors of an [`envelope`].
pub fn open<T: for<'de> Deserialize<'de>>(
    data: &JsValue,
) -> Result<(T, Option<Float32Array>), String> {
    let value = Reflect::get(data, &MESSAGE.into()).map_err(|e| js_err(format!("{e:?}")))?;
    let msg = serde_wasm_bindgen::from_value(value).map_err(js_err)?;
    let vectors = Reflect::get(data, &VECTORS.into())
        .ok()
        .and_then(|v| v.dyn_into::<Float32Array>().ok());
    Ok((msg, vectors))
}

impl ToWorker {
    /// The `Init` message carrying `files` (moved, not copied).
    pub fn init(files: crate::engine::ModelFiles) -> Self {
        Self::Init {
            manifest: Box::new(files.manifest),
            tokenizer: files.tokenizer,
            model: ByteBuf::from(files.model),
            adapter: files.adapter.map(ByteBuf::from),
            precision: files.precision,
        }
    }

    /// The model files of an `Init` message (what the worker builds from; the page takes them
    /// back when no worker could start).
    pub fn into_files(self) -> Option<crate::engine::ModelFiles> {
        match self {
            Self::Init {
                manifest,
                tokenizer,
                model,
                adapter,
                precision,
            } => Some(crate::engine::ModelFiles {
                manifest: *manifest,
                tokenizer,
                model: model.into_vec(),
                adapter: adapter.map(ByteBuf::into_vec),
                downloaded_bytes: 0,
                cached: true,
                cache_note: None,
                gpu_note: None,
                gpu_detail: None,
                precision,
            }),
            _ => None,
        }
    }
}

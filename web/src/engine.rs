//! Loading the model files and running the encoders in the page.

use gloo::timers::future::TimeoutFuture;
use js_sys::Reflect;
use langbias_assets::site::SiteManifest;
use langbias_assets::{LoraAdapter, sha256_hex};
use langbias_encoder::{BackendKind, Encoder, ModelAssets, Precision, Runtime, TextKind};
use wasm_bindgen::{JsCast, JsValue};
use wasm_bindgen_futures::JsFuture;

use crate::fetch::{self, Origin};

/// The site manifest (`models/manifest.json`, written by `cargo xtask setup`).
pub async fn load_manifest() -> Result<SiteManifest, String> {
    let text = fetch::fetch_text("models/manifest.json")
        .await
        .map_err(|e| format!("{e}. The model files are missing: run `cargo xtask demo` (or `cargo xtask setup`) to fetch and convert them."))?;
    SiteManifest::from_json("models/manifest.json", &text).map_err(|e| e.to_string())
}

/// What the loader reports to the page while it works.
#[derive(Debug, Clone, PartialEq)]
pub enum Stage {
    Download { file: String, done: u64, total: u64 },
    Compile(String),
}

/// The loaded encoders and what the page shows about them.
pub struct Engine {
    /// A GPU emulated on the CPU (SwiftShader, lavapipe): correct but minutes per passage.
    pub software_gpu: bool,
    pub base: Encoder,
    pub aligned: Option<Encoder>,
    pub backend: String,
    pub backend_note: Option<String>,
    /// The technical reason behind `backend_note` (shown behind a toggle).
    pub backend_detail: Option<String>,
    /// Building the encoders (parsing, upload, self-test).
    pub load_ms: f64,
}

/// `performance.now()` on the page or in a worker.
pub fn now_ms() -> f64 {
    Reflect::get(&js_sys::global(), &"performance".into())
        .ok()
        .and_then(|p| p.dyn_into::<web_sys::Performance>().ok())
        .map(|p| p.now())
        .unwrap_or(0.0)
}

/// `navigator.gpu.requestAdapter()` details for the badge (vendor, architecture, limits), and
/// whether the adapter is a software renderer (SwiftShader, llvmpipe/lavapipe, a fallback).
async fn adapter_description() -> Option<(String, bool)> {
    let navigator: JsValue = web_sys::window()?.navigator().into();
    let gpu = Reflect::get(&navigator, &"gpu".into())
        .ok()
        .filter(|g| !g.is_undefined())?;
    let request = Reflect::get(&gpu, &"requestAdapter".into())
        .ok()?
        .dyn_into::<js_sys::Function>()
        .ok()?;
    let promise: js_sys::Promise = request.call0(&gpu).ok()?.dyn_into().ok()?;
    let adapter = JsFuture::from(promise)
        .await
        .ok()
        .filter(|a| !a.is_null() && !a.is_undefined())?;
    let info = Reflect::get(&adapter, &"info".into()).ok();
    let field = |obj: &Option<JsValue>, k: &str| {
        obj.as_ref()
            .and_then(|o| Reflect::get(o, &k.into()).ok())
            .and_then(|v| v.as_string())
            .filter(|s| !s.is_empty())
    };
    let limits = Reflect::get(&adapter, &"limits".into()).ok();
    let max_buffer = limits
        .as_ref()
        .and_then(|l| Reflect::get(l, &"maxStorageBufferBindingSize".into()).ok())
        .and_then(|v| v.as_f64())
        .unwrap_or(0.0);
    let fallback = Reflect::get(&adapter, &"isFallbackAdapter".into())
        .ok()
        .and_then(|v| v.as_bool())
        .unwrap_or(false)
        || field(&info, "isFallbackAdapter").is_some();
    let name = [
        field(&info, "vendor"),
        field(&info, "architecture"),
        field(&info, "description"),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ");
    let lower = name.to_lowercase();
    let software = fallback
        || ["swiftshader", "llvmpipe", "lavapipe"]
            .iter()
            .any(|s| lower.contains(s));
    let description = format!(
        "{}{} · max storage buffer {} MiB",
        if name.is_empty() {
            "unnamed adapter".into()
        } else {
            name
        },
        if fallback { " (software fallback)" } else { "" },
        (max_buffer / 1048576.0).round()
    );
    Some((description, software))
}

/// The backend badge on the CPU path: the encoder's host engine, one thread, wasm SIMD.
pub const CPU_BADGE: &str = "CPU (wasm SIMD)";

/// Parity sentences for the GPU self-test.
const PARITY: [&str; 3] = [
    "The cat sits on the mat.",
    "Die Katze sitzt auf der Matte.",
    "猫坐在垫子上。",
];

/// What the downloads of one load added up to.
struct Tally {
    all_cached: bool,
    cache_note: Option<String>,
    downloaded: u64,
}

async fn download(
    url: &str,
    sha: &str,
    bytes: u64,
    label: &str,
    on_stage: &dyn Fn(Stage),
    tally: &mut Tally,
) -> Result<Vec<u8>, String> {
    let label_owned = label.to_owned();
    let (data, origin) = fetch::fetch_cached(url, sha, bytes, &|done, total| {
        on_stage(Stage::Download {
            file: label_owned.clone(),
            done,
            total,
        })
    })
    .await?;
    let got = sha256_hex(&data);
    if got != sha {
        return Err(format!(
            "{url}: the file is corrupt or from another model (sha256 {}…, expected {}…). Clear the cache and reload; if it persists, rerun `cargo xtask setup`.",
            &got[..12],
            &sha[..12.min(sha.len())]
        ));
    }
    match origin {
        Origin::Cache => {}
        Origin::Network => {
            tally.all_cached = false;
            tally.downloaded += data.len() as u64;
        }
        Origin::NetworkNotCached => {
            tally.all_cached = false;
            tally.downloaded += data.len() as u64;
            tally.cache_note = Some("the browser refused to store the model (storage quota?): it is kept in memory and will be downloaded again next time".into());
        }
    }
    Ok(data)
}

impl Engine {
    /// The base (`false`) or the aligned (`true`) encoder, if the site ships it.
    pub fn encoder(&self, aligned: bool) -> Option<&Encoder> {
        if aligned {
            self.aligned.as_ref()
        } else {
            Some(&self.base)
        }
    }

    /// Builds the encoders from downloaded files: on `gpu` when given (with the GPU/CPU parity
    /// self-test, falling back to the CPU), else on the CPU (the host engine, wasm SIMD).
    pub async fn build(
        files: ModelFiles,
        gpu: Option<GpuRuntime>,
        on_stage: &dyn Fn(Stage),
    ) -> Result<Engine, String> {
        let t0 = now_ms();
        on_stage(Stage::Compile("parsing the model".into()));
        TimeoutFuture::new(0).await;
        let b = &files.manifest.base;
        let assets = ModelAssets::from_e5s1(&b.model, files.model, &files.tokenizer, b.prefixes)
            .map_err(|e| e.to_string())?;
        let adapter = files
            .adapter
            .as_ref()
            .map(|bytes| LoraAdapter::from_safetensors("aligned adapter", bytes))
            .transpose()
            .map_err(|e| e.to_string())?;

        let mut backend_note = files.gpu_note.clone();
        let backend_detail = files.gpu_detail.clone();
        let mut runtime = Runtime::cpu();
        let mut backend = CPU_BADGE.to_string();
        // A GPU emulated on the CPU spends its time computing, not compiling, so padding to
        // fewer shapes only costs it (SwiftShader: the second embedding of the fixtures is as
        // slow as the first); it keeps exact lengths.
        let mut software_gpu = false;
        if let Some(gpu) = gpu {
            backend = format!("WebGPU: {}", gpu.description);
            software_gpu = gpu.software;
            runtime = gpu.runtime;
        }
        on_stage(Stage::Compile("uploading weights".into()));
        TimeoutFuture::new(0).await;
        let exact_lengths = |mut encoder: Encoder| {
            if software_gpu {
                encoder.batching.seq_multiple = 1;
            }
            encoder
        };
        let mut base = exact_lengths(assets.encoder(&runtime).map_err(|e| e.to_string())?);
        if runtime.kind == BackendKind::Wgpu {
            on_stage(Stage::Compile(
                "GPU/CPU parity self-test (compiling shaders)".into(),
            ));
            let cpu = assets.encoder(&Runtime::cpu()).map_err(|e| e.to_string())?;
            let gpu_emb = base.embed(TextKind::Passage, &PARITY).await;
            let cpu_emb = cpu
                .embed(TextKind::Passage, &PARITY)
                .await
                .map_err(|e| e.to_string())?;
            match gpu_emb {
                Ok(g) => {
                    let min_cos = g
                        .rows()
                        .zip(cpu_emb.rows())
                        .map(|(a, b)| a.iter().zip(b).map(|(x, y)| x * y).sum::<f32>())
                        .fold(1.0f32, f32::min);
                    if min_cos < 0.9999 {
                        backend_note = Some(format!(
                            "WebGPU results differ from the CPU (cosine {min_cos:.5} < 0.9999): using the CPU backend"
                        ));
                        base = cpu;
                        runtime = Runtime::cpu();
                        backend = CPU_BADGE.into();
                    } else {
                        backend_note = Some(format!("GPU/CPU parity cosine {min_cos:.6}"));
                    }
                }
                Err(e) => {
                    backend_note = Some(format!(
                        "WebGPU failed the self-test ({e}): using the CPU backend"
                    ));
                    base = cpu;
                    runtime = Runtime::cpu();
                    backend = CPU_BADGE.into();
                }
            }
        }
        let aligned = match &adapter {
            Some(a) => Some(exact_lengths(
                assets
                    .encoder_with_adapter(&runtime, a)
                    .map_err(|e| e.to_string())?,
            )),
            None => None,
        };
        // 8 bits on request, for the CPU engine only (the GPU path keeps its f32 parity test).
        let precision = if runtime.kind == BackendKind::Cpu {
            files.precision
        } else {
            Precision::F32
        };
        let to_precision = |e: Encoder| e.into_precision(precision).map_err(|e| e.to_string());
        let base = to_precision(base)?;
        let aligned = aligned.map(to_precision).transpose()?;
        if precision == Precision::Int8 {
            backend.push_str(" · 8-bit");
        }
        Ok(Engine {
            software_gpu: software_gpu && runtime.kind == BackendKind::Wgpu,
            base,
            aligned,
            backend,
            backend_note,
            backend_detail,
            load_ms: now_ms() - t0,
        })
    }
}

/// The model files of the manifest, downloaded once (the Cache API keeps them) and handed to
/// the main-thread engine or to every worker.
pub struct ModelFiles {
    pub manifest: SiteManifest,
    pub tokenizer: String,
    pub model: Vec<u8>,
    pub adapter: Option<Vec<u8>>,
    pub downloaded_bytes: u64,
    pub cached: bool,
    pub cache_note: Option<String>,
    /// Why the GPU is not used (plain words), and the technical reason.
    pub gpu_note: Option<String>,
    pub gpu_detail: Option<String>,
    /// The CPU engine's number format (`?precision=int8`; the GPU path stays f32).
    pub precision: Precision,
}

impl ModelFiles {
    /// Downloads (or reads from the Cache API) the tokenizer, the model and the adapter, each
    /// checked against the manifest's sha256.
    pub async fn download(
        manifest: &SiteManifest,
        on_stage: &dyn Fn(Stage),
    ) -> Result<Self, String> {
        let mut tally = Tally {
            all_cached: true,
            cache_note: None,
            downloaded: 0,
        };
        let b = &manifest.base;
        let tokenizer = download(
            &format!("models/{}", b.tokenizer),
            &b.tokenizer_sha256,
            b.tokenizer_bytes,
            "tokenizer",
            on_stage,
            &mut tally,
        )
        .await?;
        let model = download(
            &format!("models/{}", b.model),
            &b.model_sha256,
            b.model_bytes,
            "model (4-bit)",
            on_stage,
            &mut tally,
        )
        .await?;
        let adapter = match &manifest.aligned {
            Some(a) => Some(
                download(
                    &a.adapter,
                    &a.adapter_sha256,
                    a.adapter_bytes,
                    "aligned adapter",
                    on_stage,
                    &mut tally,
                )
                .await?,
            ),
            None => None,
        };
        let tokenizer =
            String::from_utf8(tokenizer).map_err(|_| "tokenizer file is not UTF-8".to_string())?;
        Ok(Self {
            manifest: manifest.clone(),
            tokenizer,
            model,
            adapter,
            downloaded_bytes: tally.downloaded,
            cached: tally.all_cached,
            cache_note: tally.cache_note,
            gpu_note: None,
            gpu_detail: None,
            precision: crate::browser::precision(),
        })
    }
}

/// A WebGPU device and what the badge says about its adapter.
pub struct GpuRuntime {
    pub runtime: Runtime,
    pub description: String,
    /// A GPU emulated on the CPU (SwiftShader, lavapipe).
    pub software: bool,
}

/// WebGPU, when the browser offers an adapter: `Err((plain words, technical reason))` when not.
pub async fn gpu_runtime() -> Result<GpuRuntime, (String, String)> {
    match Runtime::wgpu_async().await {
        Ok(runtime) => {
            let (description, software) = adapter_description()
                .await
                .unwrap_or_else(|| ("adapter".into(), false));
            Ok(GpuRuntime {
                runtime,
                description,
                software,
            })
        }
        Err(e) => Err((
            "This browser offers no WebGPU adapter: the encoder runs on the CPU (WebAssembly SIMD).".into(),
            e.to_string(),
        )),
    }
}

/// The error of an embedding stopped on purpose (not shown as an error).
pub const CANCELLED: &str = "cancelled";

/// Embeds in slices of a few texts, yielding to the event loop between slices so the page
/// stays responsive; `progress(done, total)` after each slice; stops with an error when
/// `stop()` says so (cancel, or a newer request).
///
/// The texts are tokenised first and taken longest first, so that each slice (one padded
/// batch) holds texts of about the same length; the vectors come back in the callers' order.
/// In the pool's own order a slice is padded to its longest member (11 % more tokens on the
/// demo passages, more on pools of uneven texts).
pub async fn embed_in_slices(
    encoder: &Encoder,
    kind: TextKind,
    texts: &[String],
    progress: &dyn Fn(usize, usize),
    stop: &dyn Fn() -> bool,
) -> Result<Vec<Vec<f32>>, String> {
    const SLICE: usize = 4;
    // Tokenised in groups with a yield between them (a large upload on the page's thread).
    let mut ids = Vec::with_capacity(texts.len());
    for group in texts.chunks(64) {
        if stop() {
            return Err(CANCELLED.into());
        }
        ids.extend(encoder.tokenize(kind, group).map_err(|e| e.to_string())?);
        TimeoutFuture::new(0).await;
    }
    let mut order: Vec<usize> = (0..ids.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
    let mut out: Vec<Vec<f32>> = vec![Vec::new(); texts.len()];
    let mut done = 0;
    for slice in order.chunks(SLICE) {
        if stop() {
            return Err(CANCELLED.into());
        }
        let batch: Vec<Vec<u32>> = slice.iter().map(|&i| ids[i].clone()).collect();
        let emb = encoder
            .embed_ids(&batch, &mut |_, _| {})
            .await
            .map_err(|e| e.to_string())?;
        for (&i, row) in slice.iter().zip(emb.rows()) {
            out[i] = row.to_vec();
        }
        done += slice.len();
        progress(done, texts.len());
        TimeoutFuture::new(0).await;
    }
    Ok(out)
}

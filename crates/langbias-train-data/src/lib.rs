//! Training data for the cross-lingual alignment trainer (pure Rust, no model code).
//!
//! A [`Sample`] is one query and its relevant document, each in English and in a second
//! language `lang`, parallel (the four texts `query_en`, `query_l`, `doc_en`, `doc_l`). The
//! trainer aligns `query_l` with `query_en` and `doc_l` with `doc_en` (JSD) and learns
//! query–document relevance across the pairs of a batch (InfoNCE).
//!
//! - [`Sample`], [`read_jsonl`] / [`parse_jsonl`] / [`read_jsonl_path`], [`write_jsonl`] /
//!   [`write_jsonl_path`] and [`validate`]: the JSONL file format, one sample per line
//!   (`{"lang": "de", "query_en": …, "query_l": …, "doc_en": …, "doc_l": …, "id": …, "source": …}`;
//!   `id` and `source` optional).
//! - [`libreoffice`]: samples from the human translations of the LibreOffice help
//!   (Debian `libreoffice-help-<lang>` packages, MPL-2.0): [`libreoffice::LibreOfficeHelp`],
//!   [`libreoffice::SelectOptions`].
//! - [`xquad`]: samples from XQuAD-format files with an article-level train/held-out split
//!   ([`xquad::XquadSplit`]), so that the trainer never sees articles the evaluation uses.
//! - [`Provenance`]: the JSON description written next to a data file, at
//!   [`provenance_path`] (source, packages and versions, licence, per-language counts, options).
//! - [`epoch_order`], [`grouped_epoch_order`], [`first_seen_ids`], [`Rng`]: deterministic,
//!   seeded shuffling for batching and selection
//!   (SplitMix64; identical on every platform).
//!
//! [`DataError`] is the error type of the whole crate; bad input never panics.

mod error;
pub mod libreoffice;
mod order;
mod provenance;
mod sample;
pub mod xquad;

pub use error::DataError;
pub use order::{Rng, derive_seed, epoch_order, first_seen_ids, grouped_epoch_order};
pub use provenance::{LanguageCounts, PROVENANCE_FORMAT, PackageInfo, Provenance, provenance_path};
pub use sample::{
    MAX_LINE_BYTES, Sample, count_by_lang, is_english, normalize_whitespace, parse_jsonl,
    read_jsonl, read_jsonl_path, validate, write_jsonl, write_jsonl_path,
};

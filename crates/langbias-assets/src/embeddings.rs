//! Precomputed embeddings of a built-in pool (`langbias-embeddings/1`, `*.lbemb`): what the
//! page ranks with before its model has downloaded. Written by `langbias precompute`, listed
//! in the [site manifest](crate::site), read by the page.
//!
//! Layout (little-endian):
//!
//! | bytes | what |
//! |---|---|
//! | 4 | magic `LBEM` |
//! | 4 | `u32` length `H` of the header |
//! | `H` | JSON [`EmbeddingsHeader`] (format, [`EmbeddingsKey`], model, `dim`, row counts) |
//! | rows | `passages` then `queries` rows, each a 16-byte text hash then `dim` `f16` values |
//!
//! A row is found by its text: the hash is the first 16 bytes of the SHA-256 of the text as
//! given to the encoder without its prefix ([`text_hash`]); passages and queries are separate
//! (the e5 prefixes differ). Vectors are L2-normalised; stored as f16 they keep cosine
//! ≥ 0.99999 with the f32 originals (measured in `langbias-cli`'s precompute test).
//!
//! Reading checks everything before anything is used: magic, header (unknown fields, format,
//! `dim` in 1..=8192), the exact file length, finite values, unit norms (±1e-2) and that no
//! text hash repeats; errors name the file and the row.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};

use crate::AssetError;
use crate::site::{EmbeddingsKey, SiteModel};

/// The `format` of the header.
pub const EMBEDDINGS_FORMAT: &str = "langbias-embeddings/1";
const MAGIC: &[u8; 4] = b"LBEM";
const HASH_BYTES: usize = 16;
const MAX_DIM: usize = 8192;

/// The JSON header.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmbeddingsHeader {
    /// Always [`EMBEDDINGS_FORMAT`].
    pub format: String,
    /// What the vectors were computed with.
    pub key: EmbeddingsKey,
    /// Base or aligned.
    pub model: SiteModel,
    /// The pool file, relative to the site root (`pools/everyday.json`).
    pub pool: String,
    /// Values per vector.
    pub dim: usize,
    /// Passage rows.
    pub passages: usize,
    /// Query rows (after the passages).
    pub queries: usize,
    /// How it was made (command, machine), free text.
    #[serde(default)]
    pub source: String,
}

/// A loaded file: vectors by text hash, passages and queries apart.
#[derive(Debug, Clone, PartialEq)]
pub struct PrecomputedEmbeddings {
    /// The header.
    pub header: EmbeddingsHeader,
    passages: HashMap<[u8; HASH_BYTES], Vec<f32>>,
    queries: HashMap<[u8; HASH_BYTES], Vec<f32>>,
}

/// The row key of a text: the first 16 bytes of its SHA-256.
pub fn text_hash(text: &str) -> [u8; HASH_BYTES] {
    use sha2::Digest;
    let digest = sha2::Sha256::digest(text.as_bytes());
    let mut out = [0u8; HASH_BYTES];
    out.copy_from_slice(&digest[..HASH_BYTES]);
    out
}

impl PrecomputedEmbeddings {
    /// Builds a file's contents from `(text, vector)` pairs; a text given twice keeps one row.
    /// Every vector must have `dim` finite values.
    pub fn new<'a>(
        key: EmbeddingsKey,
        model: SiteModel,
        pool: &str,
        dim: usize,
        passages: impl IntoIterator<Item = (&'a str, &'a [f32])>,
        queries: impl IntoIterator<Item = (&'a str, &'a [f32])>,
        source: impl Into<String>,
    ) -> Result<Self, AssetError> {
        let collect = |rows: &mut dyn Iterator<Item = (&'a str, &'a [f32])>| {
            let mut map = HashMap::new();
            for (text, v) in rows {
                if v.len() != dim || !v.iter().all(|x| x.is_finite()) {
                    return Err(AssetError::InvalidConfig {
                        what: "precomputed embeddings".into(),
                        detail: format!(
                            "the vector of {:?} has {} values (expected {dim} finite values)",
                            truncate(text),
                            v.len()
                        ),
                    });
                }
                map.insert(text_hash(text), v.to_vec());
            }
            Ok(map)
        };
        let passages = collect(&mut passages.into_iter())?;
        let queries = collect(&mut queries.into_iter())?;
        Ok(Self {
            header: EmbeddingsHeader {
                format: EMBEDDINGS_FORMAT.into(),
                key,
                model,
                pool: pool.to_owned(),
                dim,
                passages: passages.len(),
                queries: queries.len(),
                source: source.into(),
            },
            passages,
            queries,
        })
    }

    /// The passage vector of `text` (as stored: f16-rounded), if the file has it.
    pub fn passage(&self, text: &str) -> Option<&[f32]> {
        self.passages.get(&text_hash(text)).map(Vec::as_slice)
    }

    /// The query vector of `text`, if the file has it.
    pub fn query(&self, text: &str) -> Option<&[f32]> {
        self.queries.get(&text_hash(text)).map(Vec::as_slice)
    }

    /// The file's bytes (rows sorted by hash, so equal contents give equal files).
    pub fn to_bytes(&self) -> Vec<u8> {
        let header = serde_json::to_vec(&self.header).expect("header serialization cannot fail");
        let mut out = Vec::with_capacity(
            8 + header.len()
                + (self.passages.len() + self.queries.len()) * (HASH_BYTES + 2 * self.header.dim),
        );
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&(header.len() as u32).to_le_bytes());
        out.extend_from_slice(&header);
        for map in [&self.passages, &self.queries] {
            let mut rows: Vec<_> = map.iter().collect();
            rows.sort_by_key(|(h, _)| **h);
            for (hash, v) in rows {
                out.extend_from_slice(hash.as_slice());
                for x in v {
                    out.extend_from_slice(&half::f16::from_f32(*x).to_le_bytes());
                }
            }
        }
        out
    }

    /// Reads and checks a file (`what` names it in errors).
    pub fn from_bytes(what: &str, bytes: &[u8]) -> Result<Self, AssetError> {
        let corrupt = |detail: String| AssetError::Corrupt {
            what: what.to_owned(),
            detail,
        };
        if bytes.len() < 8 || &bytes[..4] != MAGIC {
            return Err(corrupt(format!(
                "not a precomputed-embeddings file (expected magic `LBEM`, {} bytes)",
                bytes.len()
            )));
        }
        let header_len = u32::from_le_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]) as usize;
        let header_bytes = bytes
            .get(8..8 + header_len)
            .ok_or_else(|| corrupt(format!("header of {header_len} bytes past the end")))?;
        let header: EmbeddingsHeader =
            serde_json::from_slice(header_bytes).map_err(|source| AssetError::Json {
                what: format!("{what} header"),
                source,
            })?;
        if header.format != EMBEDDINGS_FORMAT {
            return Err(AssetError::Unsupported {
                what: what.to_owned(),
                detail: format!(
                    "format {:?}, this build reads {EMBEDDINGS_FORMAT:?}",
                    header.format
                ),
            });
        }
        if header.dim == 0 || header.dim > MAX_DIM {
            return Err(corrupt(format!(
                "dim {} (expected 1..={MAX_DIM})",
                header.dim
            )));
        }
        let row_bytes = HASH_BYTES + 2 * header.dim;
        let body = &bytes[8 + header_len..];
        let rows = header
            .passages
            .checked_add(header.queries)
            .and_then(|n| n.checked_mul(row_bytes))
            .filter(|&n| n == body.len())
            .ok_or_else(|| {
                corrupt(format!(
                    "{} bytes of rows, expected ({} passages + {} queries) × {row_bytes}",
                    body.len(),
                    header.passages,
                    header.queries
                ))
            })?;
        debug_assert_eq!(rows, body.len());
        let mut maps = [HashMap::new(), HashMap::new()];
        for (i, row) in body.chunks_exact(row_bytes).enumerate() {
            let (side, map) = if i < header.passages {
                ("passage", &mut maps[0])
            } else {
                ("query", &mut maps[1])
            };
            let mut hash = [0u8; HASH_BYTES];
            hash.copy_from_slice(&row[..HASH_BYTES]);
            let v: Vec<f32> = row[HASH_BYTES..]
                .chunks_exact(2)
                .map(|b| half::f16::from_le_bytes([b[0], b[1]]).to_f32())
                .collect();
            if !v.iter().all(|x| x.is_finite()) {
                return Err(corrupt(format!("row {i} ({side}): non-finite value")));
            }
            let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt();
            if (norm - 1.0).abs() > 1e-2 {
                return Err(corrupt(format!(
                    "row {i} ({side}): norm {norm:.4}, expected a unit vector"
                )));
            }
            if map.insert(hash, v).is_some() {
                return Err(corrupt(format!("row {i} ({side}): text hash repeated")));
            }
        }
        let [passages, queries] = maps;
        Ok(Self {
            header,
            passages,
            queries,
        })
    }
}

fn truncate(text: &str) -> String {
    text.chars().take(40).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::test_util::Mutator;

    fn key() -> EmbeddingsKey {
        EmbeddingsKey {
            model_sha256: "m".into(),
            tokenizer_sha256: "t".into(),
            adapter_sha256: None,
            prefixes: true,
            pool_sha256: "p".into(),
        }
    }

    fn sample() -> PrecomputedEmbeddings {
        let a = [0.6f32, 0.8, 0.0];
        let b = [0.0f32, 0.0, 1.0];
        PrecomputedEmbeddings::new(
            key(),
            SiteModel::Base,
            "pools/p.json",
            3,
            [
                ("Die Katze.", &a[..]),
                ("The cat.", &b[..]),
                ("The cat.", &b[..]),
            ],
            [("Katze?", &b[..])],
            "test",
        )
        .unwrap()
    }

    #[test]
    fn round_trip_and_lookup_by_text() {
        let e = sample();
        assert_eq!(e.header.passages, 2, "a repeated text is one row");
        let bytes = e.to_bytes();
        let back = PrecomputedEmbeddings::from_bytes("x.lbemb", &bytes).unwrap();
        assert_eq!(back.header, e.header);
        assert!((back.passage("Die Katze.").unwrap()[0] - 0.6).abs() < 1e-3);
        assert_eq!(back.query("Katze?"), Some(&[0.0f32, 0.0, 1.0][..]));
        // Passages and queries are apart; unknown texts are absent.
        assert_eq!(back.query("The cat."), None);
        assert_eq!(back.passage("Katze!"), None);
        assert_eq!(
            sample().to_bytes(),
            bytes,
            "the bytes do not depend on hash order"
        );
    }

    #[test]
    fn bad_files_are_named_errors() {
        let bytes = sample().to_bytes();
        let err = |b: &[u8]| {
            PrecomputedEmbeddings::from_bytes("pool.base.lbemb", b)
                .unwrap_err()
                .to_string()
        };
        let e = err(&bytes[..bytes.len() - 1]);
        assert!(
            e.contains("pool.base.lbemb") && e.contains("bytes of rows"),
            "{e}"
        );
        assert!(err(b"PK\x03\x04rest").contains("magic"));
        assert!(err(&bytes[..10]).contains("past the end"));
        // The same header with format version 2 (same length, so the layout holds).
        let mut other = bytes.clone();
        let at = bytes
            .windows(EMBEDDINGS_FORMAT.len())
            .position(|w| w == EMBEDDINGS_FORMAT.as_bytes())
            .unwrap();
        other[at + EMBEDDINGS_FORMAT.len() - 1] = b'2';
        let e = err(&other);
        assert!(e.contains("langbias-embeddings/2"), "{e}");
        // A row scaled away from unit norm, and a NaN.
        let mut scaled = bytes.clone();
        let first_value = bytes.len() - 3 * (16 + 6) + 16;
        scaled[first_value..first_value + 2]
            .copy_from_slice(&half::f16::from_f32(3.0).to_le_bytes());
        assert!(err(&scaled).contains("norm"), "{}", err(&scaled));
        let mut nan = bytes.clone();
        nan[first_value..first_value + 2].copy_from_slice(&half::f16::NAN.to_le_bytes());
        assert!(err(&nan).contains("non-finite"));
        assert!(
            PrecomputedEmbeddings::new(
                key(),
                SiteModel::Base,
                "p",
                3,
                [("x", &[1.0f32][..])],
                [],
                ""
            )
            .unwrap_err()
            .to_string()
            .contains("expected 3")
        );
    }

    #[test]
    fn fuzzed_files_never_panic() {
        let bytes = sample().to_bytes();
        let mut m = Mutator::new(7);
        let mut accepted = 0;
        for _ in 0..3000 {
            let b = m.mutate(&bytes, 4);
            if let Ok(e) = PrecomputedEmbeddings::from_bytes("f", &b) {
                accepted += 1;
                assert!(e.header.dim >= 1);
            }
        }
        assert!(
            accepted > 0,
            "some mutants (e.g. a changed hash byte) are valid"
        );
    }
}

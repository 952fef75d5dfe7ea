//! The on-disk embedding cache, safe to share between processes by construction.
//!
//! A cache directory holds one subdirectory per [`CacheKey`] (everything besides the text that
//! changes an embedding). Each encoded chunk of texts becomes one record file, written
//! atomically under the hash of its content, so files are never appended to or rewritten:
//! concurrent runs only add files, and a run stopped part-way (Ctrl-C) keeps every chunk it
//! finished. Opening reads the union of the files (a damaged one is skipped with a warning,
//! never repaired in place) and compacts several files into one, deleting only files whose
//! records the merged file, already on disk, holds.

use std::collections::{HashMap, HashSet};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use langbias_assets::atomic::write_atomic;
use langbias_encoder::{BackendKind, Encoder, Precision, TextKind};
use serde::Serialize;
use sha2::{Digest, Sha256};

/// How texts longer than the model's positions are read.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum LongText {
    /// Keep the start, as Hugging Face truncation does.
    Truncate,
    /// Overlapping windows sharing `overlap` text tokens, averaged.
    Window { overlap: usize },
}

/// Everything besides the text and its kind that changes an embedding: runs share cached
/// vectors only when every field is equal. Hashed in one place, [`CacheKey::record_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CacheKey {
    /// sha256 over every file the model was read from (weights, config, tokenizer) and the
    /// adapter's bytes.
    pub model: String,
    /// The e5 `query: `/`passage: ` prefixes are added.
    pub prefixes: bool,
    pub long_text: LongText,
    /// Tokens per text (truncation length) or per window.
    pub max_tokens: usize,
    /// The engine: engines agree to about 1e-6 only, and a cached vector must be the one a run
    /// without the cache would give.
    pub backend: BackendKind,
    /// The host engine's number format; left out of the digest for f32, so keys written
    /// before 8-bit inference existed still match.
    #[serde(skip_serializing_if = "is_f32")]
    pub precision: Precision,
    pub dim: usize,
}

fn is_f32(p: &Precision) -> bool {
    *p == Precision::F32
}

/// Bumped when the meaning of a key or the record layout changes.
const FORMAT: u32 = 1;
const MAGIC: &[u8; 8] = b"LBEMB\x00\x01\n";
const HEADER: usize = 16;
const EXT: &str = "rec";

/// Test hooks: the tokens per stored chunk, and an error after this many chunks (to test that
/// a stopped run resumes).
const CHUNK_TOKENS_ENV: &str = "LANGBIAS_CACHE_CHUNK_TOKENS";
const FAIL_AFTER_ENV: &str = "LANGBIAS_FAIL_AFTER_CHUNKS";
/// Tokens encoded between two stores (a few seconds of work on a laptop CPU).
const CHUNK_TOKENS: usize = 1 << 16;

impl CacheKey {
    fn digest(&self) -> [u8; 32] {
        let json = serde_json::to_string(&(FORMAT, self)).unwrap_or_default();
        Sha256::digest(json.as_bytes()).into()
    }

    /// The record key of one text: the settings, the kind and the text.
    fn record_key(digest: &[u8; 32], kind: TextKind, text: &str) -> [u8; 32] {
        let mut h = Sha256::new();
        h.update(digest);
        h.update(kind.prefix().as_bytes());
        h.update([0]);
        h.update(text.as_bytes());
        h.finalize().into()
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// One record file: magic, `dim` and `count` (u32 LE), `count × ([32-byte key][dim × f32 LE])`,
/// and the sha256 of everything before it.
fn encode_records(dim: usize, records: &[(&[u8; 32], &[f32])]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER + records.len() * (32 + 4 * dim) + 32);
    out.extend_from_slice(MAGIC);
    out.extend((dim as u32).to_le_bytes());
    out.extend((records.len() as u32).to_le_bytes());
    for (key, v) in records {
        out.extend_from_slice(*key);
        out.extend(v.iter().flat_map(|x| x.to_le_bytes()));
    }
    let sum = Sha256::digest(&out);
    out.extend_from_slice(&sum);
    out
}

/// Decoded records: key and vector.
type Records = Vec<([u8; 32], Vec<f32>)>;

/// The records of one file, or why it is not a valid record file for `dim`.
fn decode_records(bytes: &[u8], dim: usize) -> Result<Records, String> {
    if bytes.len() < HEADER + 32 || &bytes[..8] != MAGIC {
        return Err("not a langbias embedding record file".into());
    }
    let (body, sum) = bytes.split_at(bytes.len() - 32);
    if Sha256::digest(body).as_slice() != sum {
        return Err("checksum mismatch (damaged or truncated)".into());
    }
    let u32_at = |i: usize| u32::from_le_bytes([body[i], body[i + 1], body[i + 2], body[i + 3]]);
    let (file_dim, count) = (u32_at(8) as usize, u32_at(12) as usize);
    if file_dim != dim {
        return Err(format!("vectors of {file_dim} values, expected {dim}"));
    }
    let record = 32 + 4 * dim;
    if body.len() - HEADER != count.saturating_mul(record) {
        return Err(format!("length does not match its {count} records"));
    }
    body[HEADER..]
        .chunks_exact(record)
        .map(|r| {
            let key: [u8; 32] = r[..32].try_into().map_err(|_| "short key".to_owned())?;
            let v: Vec<f32> = r[32..]
                .chunks_exact(4)
                .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                .collect();
            if v.iter().any(|x| !x.is_finite()) {
                return Err("holds a non-finite value".to_owned());
            }
            Ok((key, v))
        })
        .collect()
}

fn env_usize(name: &str) -> Option<usize> {
    std::env::var(name).ok().and_then(|v| v.parse().ok())
}

/// Embeddings by text, in memory and (unless opened without a directory) on disk.
pub struct EmbeddingCache {
    dir: Option<PathBuf>,
    digest: [u8; 32],
    key: CacheKey,
    map: HashMap<[u8; 32], Vec<f32>>,
    /// Texts encoded (not found in the cache) so far.
    pub encoded: usize,
    chunks_stored: usize,
}

/// The record files in `dir`: `(path, records)` of the valid ones; warns about the others.
/// `Err` with a path when a file vanished while being read (a concurrent compaction).
fn read_dir_records(dir: &Path, dim: usize) -> Result<Vec<(PathBuf, Records)>, PathBuf> {
    let mut files = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(files);
    };
    let mut paths: Vec<PathBuf> = entries
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            // A temporary an interrupted run left behind (a writer finishes in seconds).
            if p.extension().is_some_and(|e| e == "tmp") && is_stale(p) {
                let _ = std::fs::remove_file(p);
            }
            p.extension().is_some_and(|e| e == EXT)
        })
        .collect();
    paths.sort();
    for path in paths {
        match std::fs::read(&path) {
            Ok(bytes) => match decode_records(&bytes, dim) {
                Ok(records) => files.push((path, records)),
                Err(why) => eprintln!(
                    "warning: ignoring embedding cache file {}: {why} (delete it to silence this)",
                    path.display()
                ),
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(path),
            Err(e) => eprintln!(
                "warning: ignoring embedding cache file {}: {e}",
                path.display()
            ),
        }
    }
    Ok(files)
}

/// Older than an hour.
fn is_stale(path: &Path) -> bool {
    std::fs::metadata(path)
        .and_then(|m| m.modified())
        .ok()
        .and_then(|t| t.elapsed().ok())
        .is_some_and(|age| age.as_secs() > 3600)
}

impl EmbeddingCache {
    /// Opens the cache for `key` under `dir` (`None`: in memory only) and compacts it.
    pub fn open(dir: Option<&Path>, key: CacheKey) -> Result<Self> {
        let digest = key.digest();
        let mut cache = Self {
            dir: dir.map(|d| d.join(&hex(&digest)[..32])),
            digest,
            key,
            map: HashMap::new(),
            encoded: 0,
            chunks_stored: 0,
        };
        if let Some(dir) = &cache.dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating cache directory {}", dir.display()))?;
            cache.load()?;
        }
        Ok(cache)
    }

    /// Reads every record file; merges several into one.
    fn load(&mut self) -> Result<()> {
        let Some(dir) = self.dir.clone() else {
            return Ok(());
        };
        // A file deleted between listing and reading was merged into a file the listing may
        // have missed: list again.
        let mut files = Vec::new();
        for _ in 0..3 {
            match read_dir_records(&dir, self.key.dim) {
                Ok(f) => {
                    files = f;
                    break;
                }
                Err(_) => continue,
            }
        }
        for (_, records) in &files {
            self.map.extend(records.iter().cloned());
        }
        if files.len() > 1 {
            let mut keys: Vec<&[u8; 32]> = self.map.keys().collect();
            keys.sort();
            let records: Vec<_> = keys
                .into_iter()
                .map(|k| (k, self.map[k].as_slice()))
                .collect();
            let bytes = encode_records(self.key.dim, &records);
            let merged = self.write_file(&dir, &bytes)?;
            for (path, _) in files {
                if path != merged {
                    // Its records are in `merged`; another process may have removed it first.
                    let _ = std::fs::remove_file(&path);
                }
            }
        }
        Ok(())
    }

    /// Writes a record file under its content's hash; returns its path.
    fn write_file(&self, dir: &Path, bytes: &[u8]) -> Result<PathBuf> {
        let name = hex(&Sha256::digest(bytes)[..16]);
        let path = dir.join(format!("{name}.{EXT}"));
        write_atomic(&path, bytes)?;
        Ok(path)
    }

    /// Adds records, in one new file on disk.
    fn store(&mut self, records: &[(&[u8; 32], &[f32])]) -> Result<()> {
        if let Some(dir) = &self.dir {
            self.write_file(dir, &encode_records(self.key.dim, records))?;
        }
        self.map
            .extend(records.iter().map(|&(k, v)| (*k, v.to_vec())));
        Ok(())
    }

    /// Embeds `texts` of `kind`, encoding only those not cached, in chunks that are stored as
    /// soon as they are done. `progress(done, total)` counts the tokens to encode.
    pub fn embed(
        &mut self,
        encoder: &Encoder,
        kind: TextKind,
        texts: &[&str],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Vec<Vec<f32>>> {
        let keys: Vec<[u8; 32]> = texts
            .iter()
            .map(|t| CacheKey::record_key(&self.digest, kind, t))
            .collect();
        let mut seen = HashSet::new();
        let missing: Vec<usize> = (0..texts.len())
            .filter(|&i| !self.map.contains_key(&keys[i]) && seen.insert(keys[i]))
            .collect();
        let batch: Vec<&str> = missing.iter().map(|&i| texts[i]).collect();
        let windows = match self.key.long_text {
            LongText::Truncate => encoder
                .tokenize(kind, &batch)?
                .into_iter()
                .map(|ids| vec![(ids, 1)])
                .collect(),
            LongText::Window { overlap } => encoder.tokenize_windows(kind, &batch, overlap)?,
        };
        let tokens: Vec<usize> = windows
            .iter()
            .map(|w| w.iter().map(|(ids, _)| ids.len()).sum())
            .collect();
        let total: usize = tokens.iter().sum();
        let chunk_tokens = env_usize(CHUNK_TOKENS_ENV).unwrap_or(CHUNK_TOKENS).max(1);
        let fail_after = env_usize(FAIL_AFTER_ENV);
        let (mut start, mut done) = (0, 0);
        if total > 0 {
            progress(0, total);
        }
        while start < missing.len() {
            let mut end = start;
            let mut chunk = 0;
            while end < missing.len() && (end == start || chunk + tokens[end] <= chunk_tokens) {
                chunk += tokens[end];
                end += 1;
            }
            let part = &windows[start..end];
            let mut report = |d: usize, _: usize| progress(done + d, total);
            let emb = match self.key.long_text {
                LongText::Truncate => {
                    let ids: Vec<Vec<u32>> = part.iter().map(|w| w[0].0.clone()).collect();
                    encoder.embed_ids_blocking(&ids, &mut report)?
                }
                LongText::Window { .. } => encoder.embed_windows_blocking(part, &mut report)?,
            };
            let chunk_keys = &missing[start..end];
            if let Some((row, &i)) = emb
                .rows()
                .zip(chunk_keys)
                .find(|(row, _)| row.iter().any(|x| !x.is_finite()))
            {
                bail!(
                    "the model gave a non-finite embedding ({:?}…) for text {} ({:?}…): refusing to use it",
                    &row[..row.len().min(3)],
                    i + 1,
                    texts[i].chars().take(40).collect::<String>()
                );
            }
            let records: Vec<_> = chunk_keys
                .iter()
                .map(|&i| &keys[i])
                .zip(emb.rows())
                .collect();
            self.store(&records)?;
            self.encoded += end - start;
            self.chunks_stored += 1;
            done += chunk;
            start = end;
            if fail_after == Some(self.chunks_stored) && start < missing.len() {
                bail!(
                    "stopped after {} chunks ({FAIL_AFTER_ENV})",
                    self.chunks_stored
                );
            }
        }
        keys.iter()
            .zip(texts)
            .map(|(k, t)| {
                self.map
                    .get(k)
                    .cloned()
                    .with_context(|| format!("internal: no embedding for {t:?}"))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use langbias_assets::test_util::Mutator;

    const DIM: usize = 4;

    fn key() -> CacheKey {
        CacheKey {
            model: "m".into(),
            prefixes: true,
            long_text: LongText::Truncate,
            max_tokens: 512,
            backend: BackendKind::Cpu,
            precision: Precision::F32,
            dim: DIM,
        }
    }

    fn scratch(name: &str) -> PathBuf {
        let d = std::env::temp_dir().join(format!("langbias-cache-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&d);
        d
    }

    fn files(cache: &EmbeddingCache) -> Vec<PathBuf> {
        let mut f: Vec<PathBuf> = std::fs::read_dir(cache.dir.as_ref().unwrap())
            .unwrap()
            .map(|e| e.unwrap().path())
            .collect();
        f.sort();
        f
    }

    fn record(i: u32) -> ([u8; 32], Vec<f32>) {
        let mut k = [0u8; 32];
        k[..4].copy_from_slice(&i.to_le_bytes());
        (k, vec![i as f32; DIM])
    }

    /// f32 keys hash as they did before the precision existed: the caches users have stay valid.
    #[test]
    fn an_f32_key_hashes_without_its_precision() {
        let json = serde_json::to_string(&(FORMAT, key())).unwrap();
        assert!(!json.contains("precision"), "{json}");
        let int8 = CacheKey {
            precision: Precision::Int8,
            ..key()
        };
        assert!(
            serde_json::to_string(&int8)
                .unwrap()
                .contains(r#""precision":"int8""#)
        );
    }

    #[test]
    fn every_setting_changes_the_key() {
        let base = key().digest();
        let changed = [
            CacheKey {
                model: "other".into(),
                ..key()
            },
            CacheKey {
                prefixes: false,
                ..key()
            },
            CacheKey {
                long_text: LongText::Window { overlap: 128 },
                ..key()
            },
            CacheKey {
                long_text: LongText::Window { overlap: 64 },
                ..key()
            },
            CacheKey {
                max_tokens: 256,
                ..key()
            },
            CacheKey {
                backend: BackendKind::Flex,
                ..key()
            },
            CacheKey {
                precision: Precision::Int8,
                ..key()
            },
            CacheKey { dim: 8, ..key() },
        ];
        let mut seen = HashSet::from([base]);
        for k in changed {
            assert!(seen.insert(k.digest()), "{k:?} shares a digest");
        }
        let d = key().digest();
        assert_ne!(
            CacheKey::record_key(&d, TextKind::Query, "x"),
            CacheKey::record_key(&d, TextKind::Passage, "x")
        );
    }

    #[test]
    fn concurrent_writers_lose_nothing_and_compaction_merges_duplicates() {
        let dir = scratch("concurrent");
        let records: Vec<_> = (0..500).map(record).collect();
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    let mut cache = EmbeddingCache::open(Some(&dir), key()).unwrap();
                    for chunk in records.chunks(50) {
                        let r: Vec<_> = chunk.iter().map(|(k, v)| (k, v.as_slice())).collect();
                        cache.store(&r).unwrap();
                    }
                });
            }
        });
        let cache = EmbeddingCache::open(Some(&dir), key()).unwrap();
        assert_eq!(cache.map.len(), 500);
        let on_disk = files(&cache);
        assert_eq!(on_disk.len(), 1, "{on_disk:?}");
        let merged = decode_records(&std::fs::read(&on_disk[0]).unwrap(), DIM).unwrap();
        assert_eq!(merged.len(), 500);
        assert!(merged.iter().all(|(k, v)| cache.map[k] == *v));
    }

    #[test]
    fn damaged_files_are_skipped_and_left_alone() {
        let dir = scratch("damaged");
        let mut cache = EmbeddingCache::open(Some(&dir), key()).unwrap();
        let (k, v) = record(1);
        cache.store(&[(&k, &v)]).unwrap();
        let good = files(&cache)[0].clone();
        let bytes = std::fs::read(&good).unwrap();
        let sub = cache.dir.clone().unwrap();
        let torn = sub.join("torn.rec");
        std::fs::write(&torn, &bytes[..bytes.len() - 7]).unwrap();
        let mut flipped = bytes.clone();
        flipped[HEADER + 40] ^= 1;
        let flip = sub.join("flipped.rec");
        std::fs::write(&flip, &flipped).unwrap();
        let cache = EmbeddingCache::open(Some(&dir), key()).unwrap();
        assert_eq!(cache.map.len(), 1);
        assert_eq!(cache.map[&k], v);
        assert_eq!(std::fs::read(&torn).unwrap(), &bytes[..bytes.len() - 7]);
        assert_eq!(std::fs::read(&flip).unwrap(), flipped);
    }

    #[test]
    fn fuzzed_record_files_never_panic() {
        let records: Vec<_> = (0..3).map(record).collect();
        let r: Vec<_> = records.iter().map(|(k, v)| (k, v.as_slice())).collect();
        let seed = encode_records(DIM, &r);
        let mut m = Mutator::new(7);
        let body = &seed[..seed.len() - 32];
        for i in 0..2000 {
            // Every other input gets a valid checksum, to reach the parsing behind it.
            let bytes = if i % 2 == 0 {
                m.mutate(&seed, 0)
            } else {
                let mut b = m.mutate(body, 0);
                let sum = Sha256::digest(&b);
                b.extend_from_slice(&sum);
                b
            };
            let result = std::panic::catch_unwind(|| decode_records(&bytes, DIM));
            let Ok(decoded) = result else {
                panic!("panicked on {bytes:?}")
            };
            if let Ok(decoded) = decoded {
                assert!(
                    decoded
                        .iter()
                        .all(|(_, v)| v.len() == DIM && v.iter().all(|x| x.is_finite()))
                );
            }
        }
    }

    #[test]
    fn progress_counts_the_tokens_of_long_texts() {
        let mut models = crate::models::Models::new(BackendKind::Cpu, None, true).unwrap();
        let model = models
            .load(&crate::models::ModelSpec::parse("base").unwrap())
            .unwrap();
        let long = "word and another word. ".repeat(300);
        let windows = model
            .encoder
            .tokenize_windows(TextKind::Passage, &[long.as_str()], 128)
            .unwrap();
        let tokens: usize = windows[0].iter().map(|(ids, _)| ids.len()).sum();
        assert!(windows[0].len() > 1 && tokens > 1000);
        let mut cache =
            EmbeddingCache::open(None, model.cache_key(LongText::Window { overlap: 128 })).unwrap();
        let mut seen = Vec::new();
        cache
            .embed(
                &model.encoder,
                TextKind::Passage,
                &[long.as_str()],
                &mut |d, t| seen.push((d, t)),
            )
            .unwrap();
        assert_eq!(seen.first(), Some(&(0, tokens)), "{seen:?}");
        assert_eq!(seen.last(), Some(&(tokens, tokens)), "{seen:?}");
    }
}

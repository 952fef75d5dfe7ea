//! The built-in pool's embeddings computed at build time (`langbias precompute`, listed in the
//! site manifest): the page ranks built-in questions with them as soon as these ~1 MB files
//! have arrived, before its 73 MB model has downloaded, and checks them against its own
//! encoder once the model is ready.
//!
//! Nothing stale is used: a file is taken only when its sha256 matches the manifest and its
//! [`EmbeddingsKey`](langbias_assets::site::EmbeddingsKey) equals the key the page derives from
//! its own manifest (model, tokenizer and adapter hashes) and from the pool bytes it fetched.
//! Otherwise the page embeds in the browser and says why.

use langbias_assets::embeddings::PrecomputedEmbeddings;
use langbias_assets::sha256_hex;
use langbias_assets::site::SiteManifest;

use crate::fetch;

/// The usable files for one pool.
pub struct Precomputed {
    pub files: Vec<PrecomputedEmbeddings>,
    pub bytes: u64,
}

/// Loads and checks every precomputed file the manifest lists for the pool `pool_url` whose
/// bytes are `pool_bytes`. `Err` says, in plain words, why the page must embed the pool itself.
pub async fn load(
    manifest: &SiteManifest,
    pool_url: &str,
    pool_bytes: &[u8],
) -> Result<Precomputed, String> {
    let pool_sha = sha256_hex(pool_bytes);
    let entries: Vec<_> = manifest
        .precomputed
        .iter()
        .filter(|p| p.pool == pool_url)
        .collect();
    if entries.is_empty() {
        return Err(format!(
            "this build has no precomputed embeddings for {pool_url} (a custom model, or files older than the model: `cargo run -p langbias-cli -- precompute`, then `cargo xtask setup`)"
        ));
    }
    let mut out = Precomputed {
        files: Vec::new(),
        bytes: 0,
    };
    for entry in entries {
        let expected = manifest.key(entry.model, &pool_sha).ok_or_else(|| {
            format!(
                "{} lists embeddings of the {} model, which this site does not ship",
                entry.file,
                entry.model.name()
            )
        })?;
        if entry.key != expected {
            return Err(format!(
                "{} was computed for another version of the model or of {pool_url} (stale)",
                entry.file
            ));
        }
        let (bytes, _) = fetch::fetch_cached(&entry.file, &entry.sha256, entry.bytes, &|_, _| {})
            .await
            .map_err(|e| format!("{}: {e}", entry.file))?;
        if sha256_hex(&bytes) != entry.sha256 {
            return Err(format!(
                "{} is corrupt or truncated ({} bytes, sha256 does not match the manifest)",
                entry.file,
                bytes.len()
            ));
        }
        let file =
            PrecomputedEmbeddings::from_bytes(&entry.file, &bytes).map_err(|e| e.to_string())?;
        if file.header.key != expected || file.header.model != entry.model {
            return Err(format!(
                "{}: its header names another model or pool than the manifest (stale)",
                entry.file
            ));
        }
        out.bytes += bytes.len() as u64;
        out.files.push(file);
    }
    Ok(out)
}

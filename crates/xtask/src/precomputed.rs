//! The built-in pools' precomputed embeddings (`public/embeddings/*.lbemb`, committed; made by
//! `langbias precompute`): setup lists in the site manifest those computed with exactly the
//! site's model, tokenizer, adapter and pool file, and says which are stale.

use std::path::Path;

use anyhow::{Context, Result};
use langbias_assets::embeddings::PrecomputedEmbeddings;
use langbias_assets::sha256_hex;
use langbias_assets::site::{PrecomputedFile, SiteManifest};

/// The directory, relative to `public/` (also the URL prefix).
pub const DIR: &str = "embeddings";

/// The command that regenerates the files for the shipped models.
pub const REGENERATE: &str = "cargo run --release -p langbias-cli -- precompute";

/// The files of `public/embeddings/` whose key matches `manifest` (sorted by name); a file
/// that does not match is reported on stderr and left out, so the page embeds those texts
/// itself.
pub fn matching(repo: &Path, manifest: &SiteManifest) -> Result<Vec<PrecomputedFile>> {
    let public = repo.join("public");
    let dir = public.join(DIR);
    let Ok(entries) = std::fs::read_dir(&dir) else {
        return Ok(Vec::new());
    };
    let mut names: Vec<String> = entries
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".lbemb"))
        .collect();
    names.sort();
    let mut out = Vec::new();
    for name in names {
        let path = dir.join(&name);
        let bytes = std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
        let file = match PrecomputedEmbeddings::from_bytes(&path.display().to_string(), &bytes) {
            Ok(f) => f,
            Err(e) => {
                eprintln!("setup: warning: {e}; the page will embed these texts itself");
                continue;
            }
        };
        let h = &file.header;
        let pool_path = public.join(&h.pool);
        let pool_sha = std::fs::read(&pool_path).map(|b| sha256_hex(&b)).ok();
        let expected = pool_sha.and_then(|sha| manifest.key(h.model, &sha));
        if expected.as_ref() != Some(&h.key) {
            eprintln!(
                "setup: {DIR}/{name} was computed for another {} model, adapter or version of {} \
                 (not used; the page embeds in the browser). Regenerate: {REGENERATE}",
                h.model.name(),
                h.pool
            );
            continue;
        }
        out.push(PrecomputedFile {
            model: h.model,
            file: format!("{DIR}/{name}"),
            sha256: sha256_hex(&bytes),
            bytes: bytes.len() as u64,
            pool: h.pool.clone(),
            key: h.key.clone(),
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use langbias_assets::site::{BaseFiles, SITE_MANIFEST_FORMAT, SiteModel};

    use super::*;

    #[test]
    fn only_files_of_this_model_adapter_and_pool_are_listed() {
        let repo = std::env::temp_dir().join(format!("xtask-precomputed-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&repo);
        std::fs::create_dir_all(repo.join("public/pools")).unwrap();
        std::fs::create_dir_all(repo.join("public/embeddings")).unwrap();
        let pool = b"{\"a pool\": 1}";
        std::fs::write(repo.join("public/pools/p.json"), pool).unwrap();
        let manifest = SiteManifest {
            format: SITE_MANIFEST_FORMAT.into(),
            base: BaseFiles {
                name: "m".into(),
                source: String::new(),
                prefixes: true,
                model: "m.bin".into(),
                model_sha256: "model".into(),
                model_bytes: 1,
                tokenizer: "t.json".into(),
                tokenizer_sha256: "tok".into(),
                tokenizer_bytes: 1,
            },
            aligned: None,
            precomputed: Vec::new(),
        };
        let v = [1.0f32, 0.0];
        let write = |name: &str, key| {
            let file = PrecomputedEmbeddings::new(
                key,
                SiteModel::Base,
                "pools/p.json",
                2,
                [("text", &v[..])],
                [],
                "",
            )
            .unwrap();
            std::fs::write(repo.join("public/embeddings").join(name), file.to_bytes()).unwrap();
        };
        let key = manifest.key(SiteModel::Base, &sha256_hex(pool)).unwrap();
        write("p.base.current.lbemb", key.clone());
        let mut other_model = key.clone();
        other_model.model_sha256 = "another model".into();
        write("p.base.other-model.lbemb", other_model);
        let mut other_pool = key;
        other_pool.pool_sha256 = sha256_hex(b"an older pool");
        write("p.base.other-pool.lbemb", other_pool);
        std::fs::write(repo.join("public/embeddings/broken.lbemb"), b"LBEM").unwrap();
        let listed = matching(&repo, &manifest).unwrap();
        assert_eq!(listed.len(), 1, "{listed:?}");
        assert_eq!(listed[0].file, "embeddings/p.base.current.lbemb");
        assert_eq!(listed[0].pool, "pools/p.json");
        // The aligned model's files are not listed when the site has no adapter, and a
        // changed pool makes the current file stale too.
        std::fs::write(repo.join("public/pools/p.json"), b"{\"a pool\": 2}").unwrap();
        assert!(matching(&repo, &manifest).unwrap().is_empty());
        let _ = std::fs::remove_dir_all(&repo);
    }
}

//! `langbias precompute`: the site's built-in pool embedded with every model the site ships,
//! from exactly the files the page downloads (`public/models/manifest.json` and what it names),
//! into `public/embeddings/<pool>.<model>.<sha256[..12]>.lbemb` ([`PrecomputedEmbeddings`]).
//! The page ranks built-in questions with these before its own model is ready.
//!
//! Run after `cargo xtask setup` (which writes the manifest); setup lists in the manifest only
//! the files whose key matches the site's model, adapter and pool.

use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use langbias_assets::atomic::Staged;
use langbias_assets::embeddings::PrecomputedEmbeddings;
use langbias_assets::site::{SiteManifest, SiteModel};
use langbias_assets::{LoraAdapter, sha256_hex};
use langbias_encoder::{Encoder, ModelAssets, Runtime, TextKind};
use langbias_eval::Pool;

#[derive(clap::Args)]
pub struct PrecomputeArgs {
    /// The site's public directory (holds `models/manifest.json`, `pools/`, `embeddings/`).
    #[arg(long, default_value = "public")]
    public: PathBuf,
    /// Pool files relative to `--public`, comma list.
    #[arg(long, default_value = "pools/everyday.json")]
    pools: String,
}

/// The page's encoders, built from the manifest's files as the page builds them.
pub fn site_encoders(public: &Path) -> Result<(SiteManifest, Vec<(SiteModel, Encoder)>)> {
    let path = public.join("models/manifest.json");
    let text = std::fs::read_to_string(&path)
        .with_context(|| format!("reading {} (run `cargo xtask setup` first)", path.display()))?;
    let manifest = SiteManifest::from_json(&path.display().to_string(), &text)?;
    let read_checked = |rel: &str, sha: &str| -> Result<Vec<u8>> {
        let file = public.join(rel);
        let bytes = std::fs::read(&file).with_context(|| format!("reading {}", file.display()))?;
        if sha256_hex(&bytes) != sha {
            bail!(
                "{}: sha256 differs from the manifest (rerun `cargo xtask setup`)",
                file.display()
            );
        }
        Ok(bytes)
    };
    let b = &manifest.base;
    let model = read_checked(&format!("models/{}", b.model), &b.model_sha256)?;
    let tokenizer = read_checked(&format!("models/{}", b.tokenizer), &b.tokenizer_sha256)?;
    let tokenizer = String::from_utf8(tokenizer).context("the site's tokenizer is not UTF-8")?;
    let assets = ModelAssets::from_e5s1(&b.model, model, &tokenizer, b.prefixes)?;
    let runtime = Runtime::cpu();
    let mut encoders = vec![(SiteModel::Base, assets.encoder(&runtime)?)];
    if let Some(a) = &manifest.aligned {
        let bytes = read_checked(&a.adapter, &a.adapter_sha256)?;
        let adapter = LoraAdapter::from_safetensors(&a.adapter, &bytes)?;
        encoders.push((
            SiteModel::Aligned,
            assets.encoder_with_adapter(&runtime, &adapter)?,
        ));
    }
    Ok((manifest, encoders))
}

/// The unique texts of a pool: passages, then queries.
pub fn pool_texts(pool: &Pool) -> (Vec<&str>, Vec<&str>) {
    let mut passages: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
    let mut queries: Vec<&str> = pool.queries.iter().map(|q| q.text.as_str()).collect();
    for v in [&mut passages, &mut queries] {
        v.sort_unstable();
        v.dedup();
    }
    (passages, queries)
}

pub fn run(args: PrecomputeArgs) -> Result<()> {
    let (manifest, encoders) = site_encoders(&args.public)?;
    let out_dir = args.public.join("embeddings");
    std::fs::create_dir_all(&out_dir).with_context(|| format!("creating {}", out_dir.display()))?;
    let mut staged = Staged::new();
    let mut stale = Vec::new();
    for rel in args.pools.split(',').map(str::trim) {
        let pool_path = args.public.join(rel);
        let bytes = std::fs::read(&pool_path)
            .with_context(|| format!("reading {}", pool_path.display()))?;
        let pool = Pool::from_slice(&bytes).with_context(|| pool_path.display().to_string())?;
        let pool_sha = sha256_hex(&bytes);
        let stem = Path::new(rel)
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pool".into());
        let (passages, queries) = pool_texts(&pool);
        for (model, encoder) in &encoders {
            let t0 = Instant::now();
            let key = manifest.key(*model, &pool_sha).unwrap_or_else(|| {
                unreachable!("an encoder exists only for the manifest's models")
            });
            let p = encoder.embed_blocking(TextKind::Passage, &passages)?;
            let q = encoder.embed_blocking(TextKind::Query, &queries)?;
            let file = PrecomputedEmbeddings::new(
                key,
                *model,
                rel,
                encoder.dim(),
                passages.iter().copied().zip(p.rows()),
                queries.iter().copied().zip(q.rows()),
                format!(
                    "`langbias precompute` ({} {}, host engine on the CPU)",
                    manifest.base.name,
                    model.name()
                ),
            )?;
            // What f16 storage costs: the worst cosine between a stored and an f32 vector.
            let worst = passages
                .iter()
                .zip(p.rows())
                .map(|(t, v)| (file.passage(t), v))
                .chain(
                    queries
                        .iter()
                        .zip(q.rows())
                        .map(|(t, v)| (file.query(t), v)),
                )
                .map(|(stored, v)| {
                    stored.map_or(0.0, |s| s.iter().zip(v).map(|(a, b)| a * b).sum::<f32>())
                })
                .fold(1.0f32, f32::min);
            let bytes = file.to_bytes();
            let name = format!(
                "{stem}.{}.{}.lbemb",
                model.name(),
                &sha256_hex(&bytes)[..12]
            );
            eprintln!(
                "{rel} · {}: {} passages + {} queries in {:.1} s → {name} ({:.2} MB; f16 vs f32: worst cosine {worst:.7})",
                model.name(),
                passages.len(),
                queries.len(),
                t0.elapsed().as_secs_f64(),
                bytes.len() as f64 / 1e6
            );
            let prefix = format!("{stem}.{}.", model.name());
            for entry in std::fs::read_dir(&out_dir)?.flatten() {
                let old = entry.file_name().to_string_lossy().into_owned();
                if old.starts_with(&prefix) && old.ends_with(".lbemb") && old != name {
                    stale.push(entry.path());
                }
            }
            staged.add(out_dir.join(&name), bytes)?;
        }
    }
    staged.commit()?;
    for path in stale {
        std::fs::remove_file(&path).with_context(|| format!("removing {}", path.display()))?;
        eprintln!("removed the stale {}", path.display());
    }
    eprintln!("now run `cargo xtask setup` to list them in the site manifest");
    Ok(())
}

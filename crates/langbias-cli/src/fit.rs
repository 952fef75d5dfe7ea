//! `langbias fit`: the training-free baselines' parameters for one model — per-language mean
//! embeddings (`langbias-means/1`, inductive centring) and orthogonal Procrustes maps to
//! English (`langbias-procrustes/1`) — from parallel text: XQuAD's development half (or any
//! split) and/or the trainer's parallel samples (JSONL).
//!
//! Pairs for Procrustes: every paragraph in L with the same paragraph in English, every
//! question in L with the same question in English (XQuAD), and every sample's `doc_l`/`doc_en`
//! and `query_l`/`query_en` (samples). Passages and queries are embedded with their own e5
//! prefix, so one map per language covers both.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use langbias_assets::atomic::Staged;
use langbias_assets::{DOCUMENT_MEANS_SOURCE_KEY, LoraAdapter};
use langbias_encoder::{BackendKind, TextKind};
use langbias_eval::xquad::{self, Split};
use langbias_eval::{ENGLISH, LanguageMeans, ProcrustesMaps, select_languages};

use crate::cache::{EmbeddingCache, LongText};
use crate::models::{ModelSpec, Models};
use crate::{BACKEND_HELP, TokenBar};

#[derive(clap::Args)]
pub struct FitArgs {
    /// An XQuAD directory (`xquad.<lang>.json`); `--split` picks its articles.
    #[arg(long)]
    data: Option<PathBuf>,
    /// XQuAD articles to fit on: `dev` (even-numbered; never fit on the reported half),
    /// `test` or `all`.
    #[arg(long, default_value = "dev")]
    split: Split,
    /// Languages of the XQuAD files to use: `all` or a comma list (English is always read).
    #[arg(long, default_value = "all")]
    langs: String,
    /// Parallel samples (JSONL of the trainer: `lang`, `query_en`, `query_l`, `doc_en`,
    /// `doc_l`), in addition to or instead of `--data`.
    #[arg(long)]
    samples: Option<PathBuf>,
    /// The model (as for `eval`): `base`, `aligned`, an adapter, an E5S1 file or a directory.
    #[arg(long, default_value = "base")]
    model: String,
    /// Base model for adapters (default: the one `cargo xtask setup` prepared).
    #[arg(long)]
    base_model: Option<PathBuf>,
    #[arg(long, default_value = "cpu", help = BACKEND_HELP)]
    backend: BackendKind,
    /// Output directory: `means.<model>.json` and `procrustes.<model>.json`, written together.
    #[arg(long, default_value = "fitted")]
    out: PathBuf,
    /// Embedding cache directory (default: `~/.cache/langbias/embeddings`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,
    /// Do not add the e5 prefixes (non-e5 Hugging Face models).
    #[arg(long)]
    no_prefix: bool,
    /// Also write a copy of the model's adapter (`--model` must be one) that stores the fitted
    /// document means, for inductive centring of single documents (`langbias embed`). Its
    /// weights are the adapter's, bit for bit. May be the adapter itself.
    #[arg(long, value_name = "ADAPTER_OUT")]
    into_adapter: Option<PathBuf>,
    /// Fit only the means (no Procrustes maps, so no English versions are needed: a few
    /// documents per language will do).
    #[arg(long)]
    means_only: bool,
}

/// Texts of one side (passages or queries): `(language, pair key, text)`; rows with the same
/// key in L and in English are a parallel pair.
#[derive(Default)]
struct Side {
    rows: Vec<(String, String, String)>,
}

impl Side {
    fn push(&mut self, lang: &str, key: String, text: &str) {
        self.rows.push((lang.to_owned(), key, text.to_owned()));
    }
}

pub fn run(args: FitArgs) -> Result<()> {
    if args.data.is_none() && args.samples.is_none() {
        bail!("nothing to fit on: give --data XQUAD_DIR and/or --samples FILE.jsonl");
    }
    let mut passages = Side::default();
    let mut queries = Side::default();
    let mut sources = Vec::new();
    if let Some(dir) = &args.data {
        let available = xquad::available_languages(dir)?;
        let mut langs = select_languages(&args.langs, &available)
            .map_err(|e| anyhow::anyhow!("--langs: {e}"))?;
        if !langs.iter().any(|l| l == ENGLISH) {
            langs.push(ENGLISH.to_owned());
        }
        let pool = args.split.apply(&xquad::load_dir(dir, &langs)?)?;
        for d in &pool.documents {
            passages.push(&d.lang, format!("xquad:{}", d.group), &d.text);
        }
        for q in &pool.queries {
            // `{question id}.{lang}`: the question id is the pair key.
            let key = q.id.strip_suffix(&format!(".{}", q.lang)).unwrap_or(&q.id);
            queries.push(&q.lang, format!("xquad:{key}"), &q.text);
        }
        sources.push(format!("XQuAD {} split ({})", args.split, dir.display()));
    }
    if let Some(path) = &args.samples {
        let samples = langbias_train_data::read_jsonl_path(path)?;
        for (i, s) in samples.iter().enumerate() {
            let key = format!("sample:{i}");
            passages.push(ENGLISH, key.clone(), &s.doc_en);
            passages.push(&s.lang, key.clone(), &s.doc_l);
            queries.push(ENGLISH, key.clone(), &s.query_en);
            queries.push(&s.lang, key, &s.query_l);
        }
        sources.push(format!("{} samples from {}", samples.len(), path.display()));
    }

    let spec = ModelSpec::parse(&args.model)?;
    let adapter_in = match (&args.into_adapter, &spec.adapter) {
        (Some(_), None) => bail!(
            "--into-adapter: the model `{}` is not an adapter (use `aligned` or an adapter \
             .safetensors file)",
            spec.name
        ),
        (Some(_), Some(path)) => Some(path.clone()),
        (None, _) => None,
    };
    let mut models = Models::new(args.backend, args.base_model.clone(), !args.no_prefix)?;
    let model = models
        .load(&spec)
        .with_context(|| format!("loading model `{}`", spec.name))?;
    let dir = crate::cache_dir(args.no_cache, args.cache_dir.as_deref());
    let mut cache = EmbeddingCache::open(dir.as_deref(), model.cache_key(LongText::Truncate))?;
    let mut embed = |side: &Side, kind: TextKind, what: &str| -> Result<Vec<f32>> {
        let texts: Vec<&str> = side.rows.iter().map(|r| r.2.as_str()).collect();
        let bar = TokenBar::new(&format!("{}: {what}", spec.name));
        let rows = cache.embed(&model.encoder, kind, &texts, &mut |d, t| bar.update(d, t))?;
        Ok(rows.concat())
    };
    let p_emb = embed(&passages, TextKind::Passage, "passages")?;
    let q_emb = embed(&queries, TextKind::Query, "queries")?;
    let dim = model.encoder.dim();
    let source = format!("{} on {}", spec.name, sources.join(" + "));

    let langs_of = |side: &Side| side.rows.iter().map(|r| r.0.clone()).collect::<Vec<_>>();
    let means = LanguageMeans::fit(
        dim,
        (&p_emb, &langs_of(&passages)),
        (&q_emb, &langs_of(&queries)),
        source.clone(),
    )?;

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let name = spec.file_name();
    let means_path = args.out.join(format!("means.{name}.json"));
    let mut staged = Staged::new();
    staged.add(means_path.clone(), means.to_json_pretty())?;
    if let (Some(out), Some(input)) = (&args.into_adapter, &adapter_in) {
        staged.add(out.clone(), adapter_with_means(input, &means)?)?;
    }
    let maps = if args.means_only {
        None
    } else {
        Some(fit_maps(
            dim,
            &passages,
            &queries,
            (&p_emb, &q_emb),
            source,
        )?)
    };
    let maps_path = args.out.join(format!("procrustes.{name}.json"));
    if let Some(maps) = &maps {
        staged.add(maps_path.clone(), maps.to_json_pretty())?;
    }
    staged.commit()?;
    if let Some(out) = &args.into_adapter {
        eprintln!(
            "wrote {} (the adapter with document means for {})",
            out.display(),
            means
                .documents
                .keys()
                .cloned()
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    eprintln!(
        "wrote {} ({} document / {} query languages; {} encoded, the others from the cache)",
        means_path.display(),
        means.documents.len(),
        means.queries.len(),
        cache.encoded
    );
    if let Some(maps) = &maps {
        for (lang, m) in &maps.maps {
            eprintln!("{lang}: Procrustes map fitted on {} pairs", m.pairs);
        }
        eprintln!("wrote {}", maps_path.display());
    }
    Ok(())
}

/// Procrustes maps to English from the parallel rows of `passages` and `queries` (their
/// embeddings `emb`, `dim` values per row).
fn fit_maps(
    dim: usize,
    passages: &Side,
    queries: &Side,
    emb: (&[f32], &[f32]),
    source: String,
) -> Result<ProcrustesMaps> {
    // X_L and Y_en row by row: every L row whose key has an English row.
    let mut pairs: BTreeMap<String, (Vec<f32>, Vec<f32>)> = BTreeMap::new();
    for (side, emb) in [(passages, emb.0), (queries, emb.1)] {
        let english: BTreeMap<&str, usize> = side
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.0 == ENGLISH)
            .map(|(i, r)| (r.1.as_str(), i))
            .collect();
        for (i, (lang, key, _)) in side.rows.iter().enumerate() {
            if lang == ENGLISH {
                continue;
            }
            let Some(&j) = english.get(key.as_str()) else {
                bail!("{key} ({lang}) has no English version to pair with");
            };
            let (x, y) = pairs.entry(lang.clone()).or_default();
            x.extend_from_slice(&emb[i * dim..(i + 1) * dim]);
            y.extend_from_slice(&emb[j * dim..(j + 1) * dim]);
        }
    }
    if pairs.is_empty() {
        bail!("no language other than English in the data: nothing to map to English");
    }
    Ok(ProcrustesMaps::fit(
        dim,
        ENGLISH,
        pairs
            .iter()
            .map(|(l, (x, y))| (l.as_str(), x.as_slice(), y.as_slice())),
        source,
    )?)
}

/// The adapter file `input` with `means`' document means stored in it (replacing any it had),
/// in the precision it was stored in.
fn adapter_with_means(input: &std::path::Path, means: &LanguageMeans) -> Result<Vec<u8>> {
    let what = input.display().to_string();
    let bytes = std::fs::read(input).with_context(|| format!("reading {what}"))?;
    let mut adapter = LoraAdapter::from_safetensors(&what, &bytes)?;
    adapter.document_means = means.documents.clone();
    adapter
        .metadata
        .insert(DOCUMENT_MEANS_SOURCE_KEY.to_owned(), means.source.clone());
    Ok(adapter.to_safetensors(adapter.fits_in_half())?)
}

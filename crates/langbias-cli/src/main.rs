//! `langbias`: embed texts with multilingual-e5 on burn, and measure language bias in
//! mixed-language retrieval on XQuAD, BEIR directories or langbias pools.

mod bench;
mod eval;
mod models;

use std::io::{BufRead, Write};
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressStyle};
use langbias_encoder::{BackendKind, TextKind};

// The encoder allocates and frees large activation buffers on every layer; glibc's malloc
// returns them to the OS each time, and page faults then cost ~10 % of the run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "langbias",
    version,
    about = "Language bias in multilingual retrieval: embed texts, evaluate mixed-language pools"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Embed texts (arguments, or a file with one text per line) and write JSON or .npy.
    Embed(EmbedArgs),
    /// Run retrieval scenarios (MIX, MONO, XL, MULTI) and the bias metrics on a data set.
    Eval(eval::EvalArgs),
    /// Rank one query over a pool built like the web app's pool builder; prints JSON.
    Rank(RankArgs),
    /// Encoder throughput on XQuAD's English paragraphs and questions (JSON).
    Bench(bench::BenchArgs),
}

#[derive(clap::Args)]
struct RankArgs {
    /// Pool file (langbias-pool/1).
    #[arg(long)]
    pool: PathBuf,
    /// Document languages (comma list).
    #[arg(long, default_value = "en,de")]
    langs: String,
    /// Topics (groups with queries) to keep, in file order.
    #[arg(long, default_value_t = 40)]
    topics: usize,
    /// Distractor groups to keep, in file order.
    #[arg(long, default_value_t = 22)]
    distractors: usize,
    /// The question whose topic is relevant (its language is the query language).
    #[arg(long)]
    query_id: String,
    /// Query text (default: the question's own text).
    #[arg(long)]
    text: Option<String>,
    /// Model (as for `embed`).
    #[arg(long, default_value = "base")]
    model: String,
    /// Backend: `cpu` (host engine), `flex` (the burn module on burn's CPU backend) or `wgpu`.
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// How many hits to print.
    #[arg(long, default_value_t = 10)]
    top: usize,
}

fn rank(args: RankArgs) -> Result<()> {
    let collection = langbias_eval::Pool::from_path(&args.pool)?;
    let langs = langbias_eval::select_languages(&args.langs, &collection.document_languages())
        .context("--langs")?;
    let langs: Vec<&str> = langs.iter().map(String::as_str).collect();
    let (pool, question) = collection
        .subset_for_query(&args.query_id, &langs, args.topics, args.distractors)
        .with_context(|| args.pool.display().to_string())?;
    let mut models = models::Models::new(args.backend, None, true)?;
    let encoder = models.load(&models::ModelSpec::parse(&args.model))?.encoder;
    let texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
    let docs = encoder.embed_blocking(TextKind::Passage, &texts)?;
    let text = args.text.clone().unwrap_or_else(|| question.text.clone());
    let query = encoder.embed_blocking(TextKind::Query, &[text.as_str()])?;
    let scores: Vec<f32> = docs
        .rows()
        .map(|d| d.iter().zip(&query.data).map(|(a, b)| a * b).sum())
        .collect();
    let ids: Vec<&str> = pool.documents.iter().map(|d| d.id.as_str()).collect();
    let order = langbias_eval::rank(&scores, &ids);
    let metrics = pool.judge_query(&question.id, &question.group, &question.lang, &scores)?;
    let hits: Vec<serde_json::Value> = order
        .iter()
        .take(args.top)
        .enumerate()
        .map(|(r, &i)| serde_json::json!({"rank": r + 1, "id": ids[i], "lang": pool.documents[i].lang, "score": scores[i]}))
        .collect();
    let out = serde_json::json!({
        "query": text, "query_id": question.id, "pool_size": pool.documents.len(),
        "max_rank": metrics.as_ref().map(|m| m.max_rank), "metrics": metrics, "hits": hits,
    });
    println!("{}", serde_json::to_string_pretty(&out)?);
    Ok(())
}

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Npy,
}

#[derive(clap::Args)]
struct EmbedArgs {
    /// Texts to embed (or use --file).
    texts: Vec<String>,
    /// File with one text per line (`-` for standard input).
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// `query` or `passage` (the e5 prefix).
    #[arg(long, default_value = "query")]
    kind: KindArg,
    /// Model: `base`, `aligned`, an adapter `.safetensors`, an E5S1 `.bin` or a Hugging Face dir.
    #[arg(long, default_value = "base")]
    model: String,
    /// Base model for adapters (default: the one `cargo xtask setup` prepared).
    #[arg(long)]
    base_model: Option<PathBuf>,
    /// Backend: `cpu` (burn flex) or `wgpu` (Vulkan/Metal/DX12).
    #[arg(long, default_value = "cpu")]
    backend: BackendKind,
    /// Output format.
    #[arg(long, default_value = "json")]
    format: Format,
    /// Output file (default: standard output; required for npy).
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Do not add the e5 `query: `/`passage: ` prefixes (for non-e5 Hugging Face models).
    #[arg(long)]
    no_prefix: bool,
    /// Texts longer than the model's 512 tokens: `truncate` keeps the start, as Hugging Face
    /// does; `window` covers the whole text with overlapping windows and averages them.
    #[arg(long, default_value = "truncate")]
    long_text: LongTextArg,
    /// Text tokens that consecutive windows share (`--long-text window`).
    #[arg(long, default_value_t = 128)]
    overlap: usize,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LongTextArg {
    Truncate,
    Window,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Query,
    Passage,
}

impl From<KindArg> for TextKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Query => TextKind::Query,
            KindArg::Passage => TextKind::Passage,
        }
    }
}

pub fn progress_bar(len: u64, what: &str) -> ProgressBar {
    let bar = ProgressBar::new(len);
    bar.set_style(
        ProgressStyle::with_template("{msg:>24} [{bar:30}] {pos}/{len} ({per_sec}, ETA {eta})")
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
    );
    bar.set_message(what.to_owned());
    bar
}

fn embed(args: EmbedArgs) -> Result<()> {
    let mut texts = args.texts.clone();
    if let Some(file) = &args.file {
        let reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file).with_context(|| format!("opening {}", file.display()))?,
            ))
        };
        for line in reader.lines() {
            texts.push(
                line.with_context(|| format!("reading {} (is it UTF-8 text?)", file.display()))?,
            );
        }
    }
    if texts.is_empty() {
        bail!("nothing to embed: give texts as arguments or --file");
    }
    if matches!(args.format, Format::Npy) && args.out.is_none() {
        bail!("--format npy needs --out FILE");
    }
    let mut models = models::Models::new(args.backend, args.base_model.clone(), !args.no_prefix)?;
    let model = models.load(&models::ModelSpec::parse(&args.model))?;
    let encoder = &model.encoder;
    let kind = TextKind::from(args.kind);
    let bar = progress_bar(texts.len() as u64, "embedding");
    if texts.len() < 64 {
        bar.set_draw_target(indicatif::ProgressDrawTarget::hidden());
    }
    let mut progress = |done: usize, total: usize| {
        bar.set_length(total as u64);
        bar.set_position(done as u64);
    };
    // Per text: the tokens the model reads (all windows' when windowed) and the window count.
    let (emb, sizes) = match args.long_text {
        LongTextArg::Truncate => {
            let ids = encoder.tokenize(kind, &texts)?;
            let sizes: Vec<(usize, usize)> = ids.iter().map(|i| (i.len(), 1)).collect();
            (encoder.embed_ids_blocking(&ids, &mut progress)?, sizes)
        }
        LongTextArg::Window => {
            let windows = encoder.tokenize_windows(kind, &texts, args.overlap)?;
            let sizes = windows
                .iter()
                .map(|w| (w.iter().map(|(ids, _)| ids.len()).sum(), w.len()))
                .collect();
            (
                encoder.embed_windows_blocking(&windows, &mut progress)?,
                sizes,
            )
        }
    };
    bar.finish_and_clear();
    let bytes = match args.format {
        Format::Json => {
            let rows: Vec<serde_json::Value> = texts
                .iter()
                .zip(emb.rows())
                .zip(&sizes)
                .map(|((t, e), &(tokens, windows))| serde_json::json!({"text": t, "tokens": tokens, "windows": windows, "embedding": e}))
                .collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model, "backend": args.backend, "kind": kind, "dim": emb.dim, "embeddings": rows,
            }))?;
            s.push('\n');
            s.into_bytes()
        }
        Format::Npy => npy_f32(&emb.data, emb.len(), emb.dim),
    };
    match &args.out {
        Some(path) => {
            std::fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))?
        }
        None => std::io::stdout().write_all(&bytes)?,
    }
    Ok(())
}

/// A NumPy `.npy` (format 1.0) file holding a little-endian f32 matrix `[rows, cols]`.
fn npy_f32(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data.iter().flat_map(|x| x.to_le_bytes()));
    out
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Embed(args) => embed(args),
        Command::Eval(args) => eval::run(args),
        Command::Rank(args) => rank(args),
        Command::Bench(args) => bench::run(args),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn npy_header_is_aligned() {
        let bytes = super::npy_f32(&[1.0, 2.0], 1, 2);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 8);
    }
}

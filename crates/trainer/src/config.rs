//! Training configuration: a TOML file (`--config`) whose values command-line flags override;
//! every field has a documented default. The resolved configuration is written next to the
//! outputs so that a run can be repeated exactly.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use langbias_assets::Centring;
use langbias_encoder::BackendKind;
use serde::{Deserialize, Serialize};

use crate::lora::Target;
use crate::loss::{AnchorTo, JsdOn, LossConfig, LossKind, NceDirections};

/// What a run trains.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Method {
    /// Low-rank adapters on the layers' linears; the base weights stay frozen.
    #[default]
    Lora,
    /// Every encoder-layer weight (linears and LayerNorms); the embeddings stay frozen.
    Full,
}

/// How an epoch's samples are cut into batches.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum Batches {
    /// A seeded shuffle of all samples.
    #[default]
    Random,
    /// Multi-way: the samples of one English question (one per language) stay in one batch,
    /// the questions in a seeded random order, so JSD and the masks see every translation.
    Multiway,
}

/// Options as given (file or flags); `None` means "not given here".
#[derive(Debug, Clone, Default, clap::Args, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct TrainOptions {
    /// Training samples (JSONL, one `{lang, query_en, query_l, doc_en, doc_l}` per line)
    /// [default: the file `trainer prepare` writes].
    #[arg(long)]
    pub data: Option<PathBuf>,
    /// Base model: an E5S1 `.bin` or a Hugging Face directory [default: the one setup prepared].
    #[arg(long)]
    pub base_model: Option<PathBuf>,
    /// Output directory (adapter, checkpoints, metrics log, resolved config) [default: runs/aligned].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// `cpu` (burn flex) or `wgpu` [default: cpu].
    #[arg(long)]
    pub backend: Option<BackendKind>,
    /// Losses: `nce`, `jsd` or `both` [default: both].
    #[arg(long, value_enum)]
    pub loss: Option<LossKind>,
    /// λ in `L = L_NCE + λ·L_JSD` [default: 1].
    #[arg(long)]
    pub lambda: Option<f32>,
    /// InfoNCE temperature τ [default: 0.05].
    #[arg(long)]
    pub tau: Option<f32>,
    /// Temperature of the distributions JSD compares [default: τ].
    #[arg(long)]
    pub jsd_tau: Option<f32>,
    /// InfoNCE directions: `all` (L→L, L→en, en→en, en→L) or `target` (L→·) [default: all].
    #[arg(long, value_enum)]
    pub nce_directions: Option<NceDirections>,
    /// JSD over `queries` (en vs L query over the documents), `documents` or `both` [default: queries].
    #[arg(long, value_enum)]
    pub jsd_on: Option<JsdOn>,
    /// Weight μ of the anchor term `1 − cos(adapted, base target)` (0 = off) [default: 0].
    #[arg(long)]
    pub anchor: Option<f32>,
    /// Anchor target: `english` (the base embedding of the text's English version) or `own`
    /// (of the text itself) [default: english].
    #[arg(long, value_enum)]
    pub anchor_to: Option<AnchorTo>,
    /// What is trained: `lora` (low-rank adapters, exported as a small adapter file) or `full`
    /// (every encoder-layer weight, exported as a Hugging Face directory) [default: lora].
    #[arg(long, value_enum)]
    pub method: Option<Method>,
    /// LoRA rank [default: 8].
    #[arg(long)]
    pub rank: Option<usize>,
    /// LoRA alpha (scale = alpha / rank) [default: 16].
    #[arg(long)]
    pub alpha: Option<f32>,
    /// Adapted linears [default: all six: query,key,value,attention-output,intermediate,output].
    #[arg(long, value_enum, value_delimiter = ',')]
    pub targets: Option<Vec<Target>>,
    /// Devices for data-parallel training (wgpu only): N discrete GPUs, or 0 for all found
    /// [default: 1].
    #[arg(long)]
    pub devices: Option<usize>,
    /// Samples per batch (in-batch negatives: 2·batch documents) [default: 16].
    #[arg(long)]
    pub batch_size: Option<usize>,
    /// Batch order: `random` or `multiway` (every language of a question in one batch)
    /// [default: random].
    #[arg(long, value_enum)]
    pub batches: Option<Batches>,
    /// Passes over the data [default: 1].
    #[arg(long)]
    pub epochs: Option<usize>,
    /// Stop after this many steps (overrides epochs).
    #[arg(long)]
    pub max_steps: Option<usize>,
    /// Peak learning rate [default: 3e-4].
    #[arg(long)]
    pub lr: Option<f64>,
    /// Linear warm-up, as a fraction of all steps, then cosine decay to 0 [default: 0.1].
    #[arg(long)]
    pub warmup: Option<f64>,
    /// AdamW weight decay [default: 0.01].
    #[arg(long)]
    pub weight_decay: Option<f32>,
    /// Clip the global gradient norm (0 = off) [default: 1].
    #[arg(long)]
    pub clip_norm: Option<f32>,
    /// Truncate training texts to this many tokens, `</s>` kept [default: 256].
    #[arg(long)]
    pub max_tokens: Option<usize>,
    /// Seed of the adapter init and the data order [default: 42].
    #[arg(long)]
    pub seed: Option<u64>,
    /// Write a checkpoint every N steps [default: 25].
    #[arg(long)]
    pub checkpoint_every: Option<usize>,
    /// Compute InfoNCE and JSD on documents centred on their language's mean (the frozen
    /// base model's over the training data), as they are ranked with `centring = documents`
    /// [default: false].
    #[arg(long)]
    pub centred_loss: Option<bool>,
    /// How the adapter is meant to be ranked, stored in its file: `none`, `documents` (each
    /// document centred on its language's mean in the pool), `zscore` (each query's scores
    /// standardised per document language) or `routed` (the query's own language scored by
    /// the base model, the others by the adapter, then `zscore`); `langbias eval` and `rank`
    /// apply it by default [default: none].
    #[arg(long)]
    pub centring: Option<Centring>,
}

macro_rules! merge_fields {
    ($self:ident, $other:ident; $($f:ident),*) => { $( if $other.$f.is_some() { $self.$f = $other.$f; } )* };
}

impl TrainOptions {
    pub fn from_toml_file(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading the config {}", path.display()))?;
        toml::from_str(&text).with_context(|| format!("parsing the config {}", path.display()))
    }

    /// `other`'s given values win.
    pub fn merge(mut self, other: TrainOptions) -> Self {
        merge_fields!(self, other; data, base_model, out, backend, loss, lambda, tau, jsd_tau,
            nce_directions, jsd_on, anchor, anchor_to, method, rank, alpha, targets, devices, batch_size, batches, epochs, max_steps, lr,
            warmup, weight_decay, clip_norm, max_tokens, seed, checkpoint_every, centring,
            centred_loss);
        self
    }

    pub fn resolve(self) -> Result<TrainConfig> {
        let tau = self.tau.unwrap_or(0.05);
        let c = TrainConfig {
            data: self.data.unwrap_or_else(crate::default_data_path),
            base_model: self
                .base_model
                .unwrap_or_else(langbias_encoder::load::default_model_path),
            out: self.out.unwrap_or_else(|| PathBuf::from("runs/aligned")),
            backend: self.backend.unwrap_or(BackendKind::Cpu),
            loss: LossConfig {
                kind: self.loss.unwrap_or(LossKind::Both),
                lambda: self.lambda.unwrap_or(1.0),
                tau,
                jsd_tau: self.jsd_tau.unwrap_or(tau),
                nce_directions: self.nce_directions.unwrap_or(NceDirections::All),
                jsd_on: self.jsd_on.unwrap_or(JsdOn::Queries),
                anchor: self.anchor.unwrap_or(0.0),
                anchor_to: self.anchor_to.unwrap_or_default(),
                centred: self.centred_loss.unwrap_or(false),
            },
            method: self.method.unwrap_or_default(),
            rank: self.rank.unwrap_or(8),
            alpha: self.alpha.unwrap_or(16.0),
            targets: self.targets.unwrap_or_else(|| Target::ALL.to_vec()),
            devices: self.devices.unwrap_or(1),
            batch_size: self.batch_size.unwrap_or(16),
            batches: self.batches.unwrap_or_default(),
            epochs: self.epochs.unwrap_or(1),
            max_steps: self.max_steps,
            lr: self.lr.unwrap_or(3e-4),
            warmup: self.warmup.unwrap_or(0.1),
            weight_decay: self.weight_decay.unwrap_or(0.01),
            clip_norm: self.clip_norm.unwrap_or(1.0),
            max_tokens: self.max_tokens.unwrap_or(256),
            seed: self.seed.unwrap_or(42),
            checkpoint_every: self.checkpoint_every.unwrap_or(25),
            centring: self.centring.unwrap_or_default(),
        };
        c.validate()?;
        Ok(c)
    }
}

/// The resolved configuration of a run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TrainConfig {
    pub data: PathBuf,
    pub base_model: PathBuf,
    pub out: PathBuf,
    pub backend: BackendKind,
    pub loss: LossConfig,
    pub method: Method,
    pub rank: usize,
    pub alpha: f32,
    pub targets: Vec<Target>,
    /// Devices for data parallelism (0 = every discrete GPU found).
    pub devices: usize,
    pub batch_size: usize,
    /// Absent from runs before 2026-12-07 (random).
    #[serde(default)]
    pub batches: Batches,
    pub epochs: usize,
    pub max_steps: Option<usize>,
    pub lr: f64,
    pub warmup: f64,
    pub weight_decay: f32,
    pub clip_norm: f32,
    pub max_tokens: usize,
    pub seed: u64,
    pub checkpoint_every: usize,
    /// Written into the adapter's metadata ([`langbias_assets::CENTRING_KEY`]).
    #[serde(default)]
    pub centring: Centring,
}

impl TrainConfig {
    /// Every hyper-parameter in range; errors name the option (the TOML key is the flag
    /// without `--`, with `_` for `-`) and say what is expected.
    fn validate(&self) -> Result<()> {
        fn positive(name: &str, v: f64) -> Result<()> {
            if !(v.is_finite() && v > 0.0) {
                bail!("--{name} must be a positive finite number, got {v}");
            }
            Ok(())
        }
        fn non_negative(name: &str, v: f64) -> Result<()> {
            if !(v.is_finite() && v >= 0.0) {
                bail!("--{name} must be a finite number ≥ 0, got {v}");
            }
            Ok(())
        }
        fn at_least(name: &str, v: usize, min: usize, why: &str) -> Result<()> {
            if v < min {
                bail!("--{name} must be at least {min}{why}, got {v}");
            }
            Ok(())
        }
        at_least("batch-size", self.batch_size, 2, " (in-batch negatives)")?;
        positive("tau", self.loss.tau.into())?;
        positive("jsd-tau", self.loss.jsd_tau.into())?;
        non_negative("lambda", self.loss.lambda.into())?;
        non_negative("anchor", self.loss.anchor.into())?;
        positive("lr", self.lr)?;
        if !(0.0..1.0).contains(&self.warmup) {
            bail!(
                "--warmup must be in [0, 1) (a fraction of the steps), got {}",
                self.warmup
            );
        }
        non_negative("weight-decay", self.weight_decay.into())?;
        non_negative("clip-norm", self.clip_norm.into())?;
        if self.method == Method::Full && self.centring != Centring::None {
            bail!(
                "--centring is stored in adapter files (--method lora); for a fully fine-tuned \
                 model use `langbias eval --debias centre`"
            );
        }
        if self.method == Method::Lora {
            at_least("rank", self.rank, 1, "")?;
            positive("alpha", self.alpha.into())?;
            if self.targets.is_empty() {
                bail!(
                    "--targets must name at least one linear (query, key, value, attention-output, intermediate, output)"
                );
            }
        }
        if self.devices != 1 && self.backend != BackendKind::Wgpu {
            bail!(
                "the CPU backend is one device; data-parallel training (--devices) needs --backend wgpu"
            );
        }
        at_least("max-tokens", self.max_tokens, 8, "")?;
        match self.max_steps {
            Some(steps) => at_least("max-steps", steps, 1, "")?,
            None => at_least("epochs", self.epochs, 1, "")?,
        }
        at_least("checkpoint-every", self.checkpoint_every, 1, "")?;
        Ok(())
    }

    /// Steps of the run over `samples` samples: `--max-steps`, else whole batches × epochs.
    pub fn total_steps(&self, samples: usize) -> Result<usize> {
        if self.batch_size > samples {
            bail!(
                "--batch-size {} is larger than the data ({samples} samples)",
                self.batch_size
            );
        }
        match self.max_steps {
            Some(steps) => Ok(steps),
            None => (samples / self.batch_size)
                .checked_mul(self.epochs)
                .with_context(|| format!("--epochs {} is too large", self.epochs)),
        }
    }

    /// Learning rate at `step` (0-based) of `total`: linear warm-up, then cosine to 0.
    pub fn lr_at(&self, step: usize, total: usize) -> f64 {
        let warmup = ((total as f64) * self.warmup).round() as usize;
        if step < warmup {
            return self.lr * (step + 1) as f64 / warmup as f64;
        }
        let span = (total - warmup).max(1) as f64;
        let progress = (step - warmup) as f64 / span;
        self.lr * 0.5 * (1.0 + (std::f64::consts::PI * progress).cos())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_override_the_file_and_defaults_fill_the_rest() {
        let file: TrainOptions = toml::from_str("rank = 4\nlr = 1e-3\nloss = \"jsd\"\n").unwrap();
        let flags = TrainOptions {
            rank: Some(16),
            ..Default::default()
        };
        let c = file.merge(flags).resolve().unwrap();
        assert_eq!(c.rank, 16);
        assert_eq!(c.lr, 1e-3);
        assert_eq!(c.loss.kind, LossKind::Jsd);
        assert_eq!(c.batch_size, 16);
        assert_eq!(c.loss.jsd_tau, c.loss.tau);
    }

    #[test]
    fn unknown_keys_and_bad_values_are_errors() {
        assert!(toml::from_str::<TrainOptions>("rnak = 4").is_err());
        let bad = TrainOptions {
            batch_size: Some(1),
            ..Default::default()
        };
        assert!(bad.resolve().is_err());
        let odd = toml::from_str::<TrainOptions>("centring = \"queries\"").unwrap_err();
        assert!(
            odd.to_string()
                .contains("expected one of `none`, `documents`, `zscore`"),
            "{odd}"
        );
        let full = TrainOptions {
            method: Some(Method::Full),
            centring: Some(Centring::Documents),
            ..Default::default()
        };
        let err = full.resolve().unwrap_err().to_string();
        assert!(
            err.contains("--centring") && err.contains("--debias centre"),
            "{err}"
        );
        let c: TrainOptions = toml::from_str("centring = \"documents\"").unwrap();
        assert_eq!(c.resolve().unwrap().centring, Centring::Documents);
    }

    #[test]
    fn schedule_warms_up_then_decays_to_zero() {
        let c = TrainOptions {
            lr: Some(1.0),
            warmup: Some(0.1),
            ..Default::default()
        }
        .resolve()
        .unwrap();
        assert!((c.lr_at(0, 100) - 0.1).abs() < 1e-9);
        assert!((c.lr_at(9, 100) - 1.0).abs() < 1e-9);
        assert!((c.lr_at(10, 100) - 1.0).abs() < 1e-9);
        assert!(c.lr_at(55, 100) < 0.6 && c.lr_at(55, 100) > 0.4);
        assert!(c.lr_at(99, 100) < 0.01);
    }
}

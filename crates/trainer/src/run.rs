//! `trainer train`: the training loop with progress, metrics log, checkpoints, resume, and the
//! export at the end.
//!
//! Output directory layout:
//! - `config.json`: the resolved configuration (a resumed run must match it);
//! - `metrics.jsonl`: one line per step (loss, NCE, JSD, anchor, gradient norm, lr, samples/s);
//! - `checkpoint/`: the last good state, every `checkpoint_every` steps (see [`checkpoint`]);
//! - `adapter.safetensors`: the final adapter in f16 (`langbias-lora/1`), what the site loads;
//!   or, for full fine-tuning, `hf/`: the whole model as a Hugging Face directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, DeviceKind};
use indicatif::{ProgressBar, ProgressStyle};
use langbias_assets::atomic::write_atomic;
use langbias_assets::{EncoderWeights, hf_dir};
use langbias_encoder::model::BertEncoderConfig;
use langbias_encoder::{BackendKind, Batching, ModelAssets, Runtime, TextKind, Workload};
use langbias_train_data::{Sample, epoch_order, first_seen_ids, grouped_epoch_order};
use serde::Serialize;

use crate::checkpoint;
use crate::config::{Batches, Method, TrainConfig};
use crate::layers::TrainableLayers;
use crate::lora::TrainableLora;
use crate::step::{Learner, TokenizedSample, Trainable};

/// Token ids of every sample, truncated to `max_tokens` with the final `</s>` kept.
pub fn tokenize_samples(
    assets: &ModelAssets,
    samples: &[Sample],
    max_tokens: usize,
) -> Result<Vec<TokenizedSample>> {
    let encode = |kind: TextKind, text: &str| -> Result<Vec<u32>> {
        let mut ids = assets.tokenizer.encode(kind, text)?;
        if ids.len() > max_tokens {
            let last = ids[ids.len() - 1];
            ids.truncate(max_tokens.saturating_sub(1));
            ids.push(last);
        }
        Ok(ids)
    };
    samples
        .iter()
        .map(|s| {
            Ok(TokenizedSample {
                lang: s.lang.clone(),
                query_l: encode(TextKind::Query, &s.query_l)?,
                query_en: encode(TextKind::Query, &s.query_en)?,
                doc_l: encode(TextKind::Passage, &s.doc_l)?,
                doc_en: encode(TextKind::Passage, &s.doc_en)?,
            })
        })
        .collect()
}

/// The device to train on, with autodiff.
pub fn training_device(backend: BackendKind) -> Result<Device> {
    Ok(Runtime::new(backend)?.device.autodiff())
}

/// The devices to train on, with autodiff: one of `backend`, or for `--devices N` (wgpu) the
/// first N discrete GPUs (N = 0: all of them).
pub fn training_devices(backend: BackendKind, count: usize) -> Result<Vec<Device>> {
    if count == 1 {
        return Ok(vec![training_device(backend)?]);
    }
    if backend != BackendKind::Wgpu {
        bail!("data-parallel training (--devices {count}) needs --backend wgpu");
    }
    let wanted = if count == 0 { 64 } else { count };
    let mut devices = Vec::new();
    for index in 0..wanted {
        // Adapter acquisition reports a missing GPU as an error; the unwind guard is for
        // drivers that panic instead.
        let init = std::panic::catch_unwind(|| {
            Device::wgpu_options()
                .device_kind(DeviceKind::DiscreteGpu(index))
                .init()
        });
        match init {
            Ok(Ok(device)) => devices.push(device.autodiff()),
            Ok(Err(e)) if count != 0 => {
                bail!("--devices {count}: discrete GPU {index} is not usable: {e}")
            }
            Err(_) if count != 0 => {
                bail!("--devices {count}: initialising discrete GPU {index} failed")
            }
            _ => break,
        }
    }
    if devices.is_empty() {
        bail!("--devices 0: no discrete GPU found (train on the default device with --devices 1)");
    }
    Ok(devices)
}

/// One group per English question (its text and its paragraph's), numbered in first-seen
/// order: the samples of one question in its several languages share a group.
pub fn question_groups(samples: &[TokenizedSample]) -> Vec<usize> {
    first_seen_ids(
        samples
            .iter()
            .map(|s| (s.query_en.as_slice(), s.doc_en.as_slice())),
    )
}

/// The base encoder on `device`, every parameter frozen.
pub fn frozen_model(
    assets: &ModelAssets,
    backend: BackendKind,
    device: &Device,
) -> Result<langbias_encoder::model::BertEncoder> {
    use burn::module::Module;
    let config = BertEncoderConfig::from(&assets.config).for_backend(backend, Workload::Training);
    Ok(config
        .init_with_weights(assets.tensors(), device)?
        .no_grad())
}

/// Writes the base model with the trained layer weights as a Hugging Face directory (what
/// `langbias eval --model NAME=DIR` and `cargo xtask setup --model DIR` read), plus
/// `training.json` with the run's metadata. Returns the files written.
pub fn export_layers(
    assets: &ModelAssets,
    layers: &TrainableLayers,
    metadata: &BTreeMap<String, String>,
    dir: &Path,
) -> Result<Vec<PathBuf>> {
    let mut tensors = assets.tensors().clone();
    tensors.extend(layers.to_hf()?);
    let weights = EncoderWeights {
        config: assets.config.clone(),
        word_embeddings: (*assets.embeddings).clone(),
        tensors,
    };
    let mut files = hf_dir::export(&weights, &assets.tokenizer.to_json()?, dir)?;
    let provenance = dir.join("training.json");
    write_atomic(&provenance, serde_json::to_string_pretty(metadata)?)?;
    files.push(provenance);
    Ok(files)
}

/// Summary of a finished run.
#[derive(Debug, Clone, Serialize)]
pub struct RunSummary {
    pub steps: usize,
    pub samples_seen: usize,
    pub train_seconds: f64,
    pub samples_per_second: f64,
    pub final_loss: f32,
    /// The adapter file (LoRA) or the Hugging Face directory (full fine-tuning).
    pub output: PathBuf,
    pub output_bytes: u64,
    pub peak_rss_mb: Option<f64>,
}

/// How one session of [`train`] runs, beside the configuration (which a resumed run must
/// repeat exactly).
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// Continue the run in the output directory from its checkpoint (`--resume`).
    pub resume: bool,
    /// Goes into the adapter file (or the exported directory's `training.json`).
    pub metadata: BTreeMap<String, String>,
    /// No progress bar and no messages on standard error.
    pub quiet: bool,
    /// End the session with an error after this many steps, like an interruption (tests use it
    /// to check that `--resume` reproduces an uninterrupted run).
    pub stop_after: Option<usize>,
}

/// Runs (or resumes) training as configured.
pub fn train(
    config: &TrainConfig,
    assets: &ModelAssets,
    samples: &[Sample],
    options: RunOptions,
) -> Result<RunSummary> {
    let RunOptions {
        resume,
        mut metadata,
        quiet,
        stop_after,
    } = options;
    let n = samples.len();
    let total_steps = config.total_steps(n)?;
    std::fs::create_dir_all(&config.out)
        .with_context(|| format!("creating the output directory {}", config.out.display()))?;
    let probe = config.out.join(".write-test");
    std::fs::write(&probe, b"").with_context(|| {
        format!(
            "the output directory {} is not writable",
            config.out.display()
        )
    })?;
    let _ = std::fs::remove_file(probe);

    let config_path = config.out.join("config.json");
    let config_json = serde_json::to_string_pretty(config)?;
    if resume {
        let saved = std::fs::read_to_string(&config_path).with_context(|| {
            format!("--resume: no {} (nothing to resume)", config_path.display())
        })?;
        if saved != config_json {
            bail!(
                "--resume: the configuration differs from the one in {} (start a new --out, or use the same flags)",
                config_path.display()
            );
        }
    } else {
        if checkpoint::dir(&config.out).join("state.json").exists() {
            bail!(
                "{} already holds a run: pass --resume to continue it, or choose another --out",
                config.out.display()
            );
        }
        write_atomic(&config_path, &config_json)?;
    }

    let mut devices = training_devices(config.backend, config.devices)?.into_iter();
    let device = devices.next().context("no training device")?;
    let model = frozen_model(assets, config.backend, &device)?;
    // Like the encoder, texts are cut at the model's positions when `--max-tokens` is longer.
    let tokenized = tokenize_samples(
        assets,
        samples,
        config.max_tokens.min(model.max_positions()),
    )?;
    let groups = (config.batches == Batches::Multiway).then(|| {
        let groups = question_groups(&tokenized);
        let questions = groups.iter().max().map_or(0, |&g| g + 1);
        eprintln!(
            "multi-way batches: {} samples of {questions} English questions ({:.1} languages each)",
            groups.len(),
            groups.len() as f64 / questions.max(1) as f64
        );
        groups
    });
    let replicas = devices
        .map(|d| Ok((frozen_model(assets, config.backend, &d)?, d)))
        .collect::<Result<Vec<_>>>()?;
    let c = &assets.config;
    let trainable = match config.method {
        Method::Lora => Trainable::Lora(TrainableLora::new(
            config.rank,
            config.alpha,
            c.num_hidden_layers,
            c.hidden_size,
            c.intermediate_size,
            &config.targets,
            config.seed,
            &device,
        )?),
        Method::Full => Trainable::Layers(TrainableLayers::from_hf(
            assets.tensors(),
            c.num_hidden_layers,
            &device,
        )?),
    };
    if !quiet {
        let what = match config.method {
            Method::Lora => "LoRA adapter",
            Method::Full => "full fine-tuning of the encoder layers",
        };
        eprintln!("{what}: {} trainable parameters", trainable.num_params());
        if !replicas.is_empty() {
            eprintln!(
                "data parallel over {} devices (each batch's texts split between them)",
                1 + replicas.len()
            );
        }
    }
    let mut learner = Learner::new(
        model,
        &assets.embeddings,
        trainable,
        config.weight_decay,
        config.loss.clone(),
        config.clip_norm,
    )
    .with_replicas(replicas)
    .with_batching(Batching::for_backend(config.backend));
    if config.loss.centred {
        learner = learner.with_document_means(&tokenized)?;
    }

    let steps_per_epoch = n / config.batch_size;
    let mut state = checkpoint::RunState {
        step: 0,
        total_steps,
        train_seconds: 0.0,
    };
    if resume {
        state = checkpoint::load(
            &mut learner,
            &checkpoint::dir(&config.out),
            total_steps,
            c.num_hidden_layers,
            &device,
        )?;
        if !quiet {
            eprintln!("resuming at step {}/{}", state.step, total_steps);
        }
    }
    metadata.insert("config".into(), config_json.clone());

    // The metrics log holds the steps up to the checkpoint resumed from (none for a new run)
    // and is rewritten atomically after every step: a crash never leaves a torn line, and a
    // resumed run does not log steps twice.
    let log_path = config.out.join("metrics.jsonl");
    let mut log = String::new();
    if resume && let Ok(text) = std::fs::read_to_string(&log_path) {
        for line in text.lines() {
            let logged = serde_json::from_str::<serde_json::Value>(line)
                .ok()
                .and_then(|v| v["step"].as_u64());
            if logged.is_some_and(|s| s <= state.step as u64) {
                log.push_str(line);
                log.push('\n');
            }
        }
    }

    let bar = if quiet {
        ProgressBar::hidden()
    } else {
        ProgressBar::new(total_steps as u64)
    };
    bar.set_style(
        ProgressStyle::with_template(
            "{bar:30} {pos}/{len} steps {msg} [{elapsed_precise} < {eta_precise}]",
        )
        .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    bar.set_position(state.step as u64);
    let mut order_epoch = usize::MAX;
    let mut order = Vec::new();
    let mut last = None;
    let mut last_checkpoint = resume.then_some(state.step);
    while state.step < total_steps {
        if stop_after.is_some_and(|s| state.step >= s) {
            bail!(
                "stopped after step {} as asked; continue with --resume",
                state.step
            );
        }
        let epoch = state.step / steps_per_epoch;
        if epoch != order_epoch {
            order = match &groups {
                Some(groups) => grouped_epoch_order(groups, config.seed, epoch as u64),
                None => epoch_order(n, config.seed, epoch as u64),
            };
            order_epoch = epoch;
        }
        let start = (state.step % steps_per_epoch) * config.batch_size;
        let batch: Vec<&TokenizedSample> = order[start..start + config.batch_size]
            .iter()
            .map(|&i| &tokenized[i])
            .collect();
        let lr = config.lr_at(state.step, total_steps);
        let t0 = Instant::now();
        let stats = match learner.step(&batch, lr) {
            Ok(stats) => stats,
            Err(e) => {
                bar.abandon();
                let kept = match last_checkpoint {
                    Some(step) => format!(
                        "the last good checkpoint (step {step}) is kept in {}",
                        checkpoint::dir(&config.out).display()
                    ),
                    None => "no checkpoint had been written yet (the last good checkpoint is the base model)".into(),
                };
                bail!("training stopped at step {}: {e:#}; {kept}", state.step + 1);
            }
        };
        let dt = t0.elapsed().as_secs_f64();
        state.train_seconds += dt;
        state.step += 1;
        let samples_per_s = config.batch_size as f64 / dt;
        let line = serde_json::json!({
            "step": state.step, "epoch": epoch, "lr": lr, "loss": stats.loss, "nce": stats.nce,
            "jsd": stats.jsd, "anchor": stats.anchor, "grad_norm": stats.grad_norm, "samples_per_s": samples_per_s,
            "train_seconds": state.train_seconds,
        });
        log.push_str(&format!("{line}\n"));
        write_atomic(&log_path, &log)?;
        let anchor = if config.loss.anchor > 0.0 {
            format!(" anchor {:.4}", stats.anchor)
        } else {
            String::new()
        };
        bar.set_message(format!(
            "loss {:.4} nce {:.4} jsd {:.4}{anchor} | {:.1} samples/s",
            stats.loss, stats.nce, stats.jsd, samples_per_s
        ));
        bar.inc(1);
        if state.step.is_multiple_of(config.checkpoint_every) || state.step == total_steps {
            checkpoint::save(&learner, &state, &checkpoint::dir(&config.out), &metadata)?;
            last_checkpoint = Some(state.step);
        }
        last = Some(stats);
    }
    bar.finish();

    metadata.insert("steps".into(), state.step.to_string());
    metadata.insert(
        "train_seconds".into(),
        format!("{:.0}", state.train_seconds),
    );
    let (output, output_bytes) = match &learner.trainable {
        Trainable::Lora(lora) => {
            let path = config.out.join("adapter.safetensors");
            let bytes = lora.to_adapter(metadata)?.to_safetensors(true)?;
            write_atomic(&path, &bytes)?;
            (path, bytes.len() as u64)
        }
        Trainable::Layers(layers) => {
            let path = config.out.join("hf");
            let files = export_layers(assets, layers, &metadata, &path)?;
            let bytes = files
                .iter()
                .map(|f| std::fs::metadata(f).map_or(0, |m| m.len()))
                .sum();
            (path, bytes)
        }
    };
    let samples_seen = state.step * config.batch_size;
    Ok(RunSummary {
        steps: state.step,
        samples_seen,
        train_seconds: state.train_seconds,
        samples_per_second: samples_seen as f64 / state.train_seconds.max(1e-9),
        final_loss: last.map_or(f32::NAN, |s| s.loss),
        output,
        output_bytes,
        peak_rss_mb: langbias_encoder::load::peak_rss_mb(),
    })
}

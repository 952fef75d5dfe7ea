//! `trainer train`: the training loop with progress, metrics log, checkpoints, resume, and the
//! export at the end.
//!
//! Output directory layout:
//! - `config.json`: the resolved configuration (a resumed run must match it);
//! - `metrics.jsonl`: one line per step (loss, NCE, JSD, anchor, gradient norm, lr, samples/s);
//! - `checkpoint/`: `state.json` (the step reached) and `step-<N>/` with
//!   `adapter.safetensors` (LoRA) or `layers.safetensors` (full fine-tuning) and
//!   `optimizer.safetensors`: the last good state, every `checkpoint_every` steps. A new
//!   checkpoint's tensors are staged and committed into a new `step-<N>/` first, and
//!   `state.json`, written atomically last, is what makes it current: an interrupted
//!   checkpoint leaves the previous one loadable;
//! - `adapter.safetensors`: the final adapter in f16 (`langbias-lora/1`), what the site loads;
//!   or, for full fine-tuning, `hf/`: the whole model as a Hugging Face directory.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use langbias_assets::atomic::{Staged, write_atomic};
use langbias_assets::{
    EncoderWeights, HostTensor, LoraAdapter, hf_dir, read_f32_safetensors, write_f32_safetensors,
};
use langbias_encoder::model::BertEncoderConfig;
use langbias_encoder::{BackendKind, Batching, ModelAssets, Runtime, TextKind};
use langbias_train_data::{Sample, epoch_order};
use serde::{Deserialize, Serialize};

use crate::config::{Method, TrainConfig};
use crate::layers::TrainableLayers;
use crate::lora::TrainableLora;
use crate::step::{Learner, TokenizedSample, Trainable, adamw_state};

/// Where a run stands; saved with every checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    /// Steps completed.
    pub step: usize,
    pub total_steps: usize,
    /// Seconds spent training so far (over all resumed sessions).
    pub train_seconds: f64,
}

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

/// The base encoder on `device`, every parameter frozen.
pub fn frozen_model(
    assets: &ModelAssets,
    backend: BackendKind,
    device: &Device,
) -> Result<langbias_encoder::model::BertEncoder> {
    use burn::module::Module;
    let config = BertEncoderConfig {
        fused_attention: backend != BackendKind::Wgpu,
        ..BertEncoderConfig::from(&assets.config)
    };
    Ok(config
        .init_with_weights(assets.tensors(), device)?
        .no_grad())
}

fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// The tensors of the checkpoint at `step`.
fn step_dir(checkpoint: &Path, step: usize) -> PathBuf {
    checkpoint.join(format!("step-{step}"))
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

/// Saves the trained tensors (f32) and the AdamW moments into `dir/step-<N>/` (staged, then
/// committed together), then the run state `dir/state.json` atomically: until that last
/// rename the previous checkpoint stays the current one. Older `step-*` directories are
/// removed afterwards.
fn save_checkpoint(
    learner: &Learner,
    state: &RunState,
    dir: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<()> {
    let tensors = step_dir(dir, state.step);
    std::fs::create_dir_all(&tensors).with_context(|| format!("creating {}", tensors.display()))?;
    let step = std::collections::HashMap::from([("step".to_string(), state.step.to_string())]);
    let mut staged = Staged::new();
    match &learner.trainable {
        Trainable::Lora(lora) => {
            let mut meta = meta.clone();
            meta.insert("step".into(), state.step.to_string());
            staged.add(
                tensors.join("adapter.safetensors"),
                lora.to_adapter(meta)?.to_safetensors(false)?,
            )?;
        }
        Trainable::Layers(layers) => staged.add(
            tensors.join("layers.safetensors"),
            write_f32_safetensors(
                "checkpoint",
                layers.to_leaves()?.iter().map(|(n, t)| (n.as_str(), t)),
                step.clone(),
            )?,
        )?,
    }
    let mut moments = BTreeMap::new();
    for (name, s) in &learner.states {
        for (moment, t) in [("m1", &s.momentum.moment_1), ("m2", &s.momentum.moment_2)] {
            let data = t
                .clone()
                .into_data()
                .try_to_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("{e:?}"))?;
            let shape = t.dims().to_vec();
            moments.insert(format!("{name}.{moment}"), HostTensor { shape, data });
        }
    }
    staged.add(
        tensors.join("optimizer.safetensors"),
        write_f32_safetensors(
            "checkpoint",
            moments.iter().map(|(n, t)| (n.as_str(), t)),
            step,
        )?,
    )?;
    staged.commit()?;
    write_atomic(
        &dir.join("state.json"),
        serde_json::to_string_pretty(state)?,
    )?;
    // The new checkpoint is current: the older ones (and the flat layout of earlier
    // versions) can go. Failing to remove them loses nothing. (A later step's directory, left
    // by an interrupted checkpoint, is overwritten when the run gets there again.)
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let name = entry.file_name();
        let older = name
            .to_str()
            .and_then(|n| n.strip_prefix("step-"))
            .and_then(|n| n.parse::<usize>().ok())
            .is_some_and(|n| n < state.step);
        if older {
            let _ = std::fs::remove_dir_all(entry.path());
        }
    }
    for legacy in [
        "adapter.safetensors",
        "layers.safetensors",
        "optimizer.safetensors",
    ] {
        let _ = std::fs::remove_file(dir.join(legacy));
    }
    Ok(())
}

/// Loads the checkpoint in `dir` into `learner` (whose trainable, freshly initialised from
/// the configuration, gives the names and shapes the checkpoint must have).
fn load_checkpoint(
    learner: &mut Learner,
    dir: &Path,
    total_steps: usize,
    num_layers: usize,
    device: &Device,
) -> Result<RunState> {
    let state_path = dir.join("state.json");
    let state_bytes = std::fs::read(&state_path).with_context(|| {
        format!(
            "--resume: cannot read the checkpoint state {}",
            state_path.display()
        )
    })?;
    let state: RunState = serde_json::from_slice(&state_bytes).with_context(|| {
        format!(
            "--resume: the checkpoint state {} is not valid (expected {{\"step\", \"total_steps\", \"train_seconds\"}})",
            state_path.display()
        )
    })?;
    if state.step > total_steps || state.total_steps != total_steps {
        bail!(
            "--resume: {} is at step {} of {}, this run has {total_steps} steps",
            state_path.display(),
            state.step,
            state.total_steps
        );
    }
    // Earlier versions kept the tensors directly in `dir`.
    let tensors = Some(step_dir(dir, state.step))
        .filter(|d| d.is_dir())
        .unwrap_or_else(|| dir.to_path_buf());
    let read = |name: &str| -> Result<(String, Vec<u8>)> {
        let p = tensors.join(name);
        let bytes = std::fs::read(&p)
            .with_context(|| format!("reading the checkpoint file {}", p.display()))?;
        Ok((p.display().to_string(), bytes))
    };
    let step = state.step.to_string();
    let incomplete = || {
        anyhow::anyhow!(
            "the checkpoint in {} is incomplete (its files and state.json disagree on the step)",
            dir.display()
        )
    };
    let expected: BTreeMap<String, Vec<usize>> = learner
        .trainable
        .leaves()
        .into_iter()
        .map(|(n, t)| (n, t.dims().to_vec()))
        .collect();
    learner.trainable = match &learner.trainable {
        Trainable::Lora(lora) => {
            let (path, bytes) = read("adapter.safetensors")?;
            let adapter = LoraAdapter::from_safetensors(&path, &bytes)?;
            if adapter.metadata.get("step") != Some(&step) {
                return Err(incomplete());
            }
            if adapter.rank != lora.rank {
                bail!(
                    "the checkpoint has rank {}, the configuration {}",
                    adapter.rank,
                    lora.rank
                );
            }
            Trainable::Lora(TrainableLora::from_adapter(&adapter, num_layers, device)?)
        }
        Trainable::Layers(layers) => {
            let (path, bytes) = read("layers.safetensors")?;
            let (leaves, meta) = read_f32_safetensors(&path, &bytes)?;
            if meta.get("step") != Some(&step) {
                return Err(incomplete());
            }
            Trainable::Layers(layers.with_stored(leaves, device)?)
        }
    };
    let loaded: BTreeMap<String, Vec<usize>> = learner
        .trainable
        .leaves()
        .into_iter()
        .map(|(n, t)| (n, t.dims().to_vec()))
        .collect();
    if loaded != expected {
        let differs = expected
            .iter()
            .find_map(|(n, s)| match loaded.get(n) {
                None => Some(format!("it has no {n}")),
                Some(l) if l != s => Some(format!("{n} has shape {l:?}, expected {s:?}")),
                Some(_) => None,
            })
            .or_else(|| {
                loaded
                    .keys()
                    .find(|n| !expected.contains_key(*n))
                    .map(|n| format!("{n} is not trained by this configuration"))
            })
            .unwrap_or_default();
        bail!(
            "--resume: the checkpoint in {} does not fit the configuration ({differs})",
            tensors.display()
        );
    }
    let (path, bytes) = read("optimizer.safetensors")?;
    let (mut moments, meta) = read_f32_safetensors(&path, &bytes)?;
    // Checkpoints written before full fine-tuning existed named the step `time`.
    if meta.get("step").or(meta.get("time")) != Some(&step) {
        return Err(incomplete());
    }
    learner.states.clear();
    for (name, shape) in expected {
        let moment = |m: &str, moments: &mut BTreeMap<String, HostTensor>| {
            moments
                .remove(&format!("{name}.{m}"))
                .filter(|t| t.shape == shape && t.data.iter().all(|x| x.is_finite()))
                .with_context(|| {
                    format!("{path}: no finite optimizer moment {name}.{m} of shape {shape:?}")
                })
        };
        let (m1, m2) = (moment("m1", &mut moments)?, moment("m2", &mut moments)?);
        let tensor = |t: HostTensor| -> Tensor<2> {
            Tensor::<2>::from_data(TensorData::new(t.data, [shape[0], shape[1]]), device).inner()
        };
        let s = adamw_state(state.step, tensor(m1), tensor(m2));
        learner.states.insert(name, s);
    }
    if let Some(name) = moments.keys().next() {
        bail!("{path}: optimizer moment {name} belongs to no trained tensor");
    }
    Ok(state)
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

/// Runs (or resumes) training as configured; `metadata` goes into the adapter file.
/// `stop_after` ends the session with an error after that many steps, like an interruption
/// (tests use it to check that `--resume` reproduces an uninterrupted run).
pub fn train(
    config: &TrainConfig,
    assets: &ModelAssets,
    samples: &[Sample],
    resume: bool,
    mut metadata: BTreeMap<String, String>,
    quiet: bool,
    stop_after: Option<usize>,
) -> Result<RunSummary> {
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
        if checkpoint_dir(&config.out).join("state.json").exists() {
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

    let steps_per_epoch = n / config.batch_size;
    let mut state = RunState {
        step: 0,
        total_steps,
        train_seconds: 0.0,
    };
    if resume {
        state = load_checkpoint(
            &mut learner,
            &checkpoint_dir(&config.out),
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
            order = epoch_order(n, config.seed, epoch as u64);
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
                        checkpoint_dir(&config.out).display()
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
            save_checkpoint(&learner, &state, &checkpoint_dir(&config.out), &metadata)?;
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

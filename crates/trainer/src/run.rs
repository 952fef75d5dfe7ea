//! `trainer train`: the training loop with progress, metrics log, checkpoints, resume, and the
//! adapter export at the end.
//!
//! Output directory layout:
//! - `config.json`: the resolved configuration (a resumed run must match it);
//! - `metrics.jsonl`: one line per step (loss, NCE, JSD, gradient norm, lr, samples/s);
//! - `checkpoint/adapter.safetensors` + `checkpoint/optimizer.safetensors` + `checkpoint/state.json`:
//!   the last good state, replaced atomically every `checkpoint_every` steps;
//! - `adapter.safetensors`: the final adapter in f16 (`langbias-lora/1`), what the site loads.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, DeviceKind, Tensor, TensorData};
use indicatif::{ProgressBar, ProgressStyle};
use langbias_assets::LoraAdapter;
use langbias_encoder::model::BertEncoderConfig;
use langbias_encoder::{BackendKind, ModelAssets, Runtime, TextKind};
use langbias_train_data::{Sample, epoch_order};
use safetensors::{Dtype, SafeTensors, tensor::TensorView};
use serde::{Deserialize, Serialize};

use crate::config::TrainConfig;
use crate::lora::TrainableLora;
use crate::step::{Learner, TokenizedSample, adamw_state};

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
            ids.truncate(max_tokens - 1);
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
        fused_attention: backend == BackendKind::Cpu,
        ..BertEncoderConfig::from(&assets.config)
    };
    Ok(config
        .init_with_weights(assets.tensors(), device)?
        .no_grad())
}

fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)
        .and_then(|()| std::fs::rename(&tmp, path))
        .with_context(|| format!("writing {}", path.display()))
}

fn checkpoint_dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// Saves factors (f32), AdamW moments and the run state. The state file is written last, so a
/// checkpoint interrupted half-way is detected on resume (its step does not match).
fn save_checkpoint(
    learner: &Learner,
    state: &RunState,
    dir: &Path,
    meta: &BTreeMap<String, String>,
) -> Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    let mut meta = meta.clone();
    meta.insert("step".into(), state.step.to_string());
    let adapter = learner.lora.to_adapter(meta)?;
    write_atomic(
        &dir.join("adapter.safetensors"),
        &adapter.to_safetensors(false)?,
    )?;

    let mut owned: Vec<(String, Vec<usize>, Vec<u8>)> = Vec::new();
    for (&(layer, target), (sa, sb)) in &learner.states {
        for (factor, s) in [("a", sa), ("b", sb)] {
            let Some(s) = s else { continue };
            for (moment, t) in [("m1", &s.momentum.moment_1), ("m2", &s.momentum.moment_2)] {
                let data = t
                    .clone()
                    .into_data()
                    .try_to_vec::<f32>()
                    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
                let bytes = data.iter().flat_map(|x| x.to_le_bytes()).collect();
                owned.push((
                    format!("{}.{factor}.{moment}", target.hf_name(layer)),
                    t.dims().to_vec(),
                    bytes,
                ));
            }
        }
    }
    let views = owned
        .iter()
        .map(|(n, s, b)| TensorView::new(Dtype::F32, s.clone(), b).map(|v| (n.clone(), v)))
        .collect::<Result<Vec<_>, _>>()?;
    let meta = std::collections::HashMap::from([("time".to_string(), state.step.to_string())]);
    write_atomic(
        &dir.join("optimizer.safetensors"),
        &safetensors::serialize(views, Some(meta))?,
    )?;
    write_atomic(
        &dir.join("state.json"),
        serde_json::to_string_pretty(state)?.as_bytes(),
    )?;
    Ok(())
}

fn load_checkpoint(
    learner: &mut Learner,
    dir: &Path,
    num_layers: usize,
    device: &Device,
) -> Result<RunState> {
    let read = |name: &str| {
        let p = dir.join(name);
        std::fs::read(&p).with_context(|| format!("reading the checkpoint file {}", p.display()))
    };
    let state: RunState =
        serde_json::from_slice(&read("state.json")?).context("checkpoint state.json")?;
    let adapter =
        LoraAdapter::from_safetensors("checkpoint adapter", &read("adapter.safetensors")?)?;
    if adapter.metadata.get("step").map(String::as_str) != Some(state.step.to_string().as_str()) {
        bail!(
            "the checkpoint in {} is incomplete (adapter and state.json disagree on the step)",
            dir.display()
        );
    }
    if adapter.rank != learner.lora.rank {
        bail!(
            "the checkpoint has rank {}, the configuration {}",
            adapter.rank,
            learner.lora.rank
        );
    }
    learner.lora = TrainableLora::from_adapter(&adapter, num_layers, device)?;
    let bytes = read("optimizer.safetensors")?;
    let st = SafeTensors::deserialize(&bytes)?;
    learner.states.clear();
    for &(layer, target) in learner.lora.factors.keys() {
        let get = |factor: &str| -> Result<Option<burn::optim::AdamWState<2>>> {
            let mut moments = Vec::new();
            for moment in ["m1", "m2"] {
                let name = format!("{}.{factor}.{moment}", target.hf_name(layer));
                let Ok(view) = st.tensor(&name) else {
                    return Ok(None);
                };
                let data: Vec<f32> = view
                    .data()
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes([c[0], c[1], c[2], c[3]]))
                    .collect();
                let shape = view.shape();
                if shape.len() != 2 {
                    bail!("optimizer tensor {name} is not 2-D");
                }
                moments.push(
                    Tensor::<2>::from_data(TensorData::new(data, [shape[0], shape[1]]), device)
                        .inner(),
                );
            }
            let m2 = moments.pop().context("moment")?;
            let m1 = moments.pop().context("moment")?;
            Ok(Some(adamw_state(state.step, m1, m2)))
        };
        let sa = get("a")?;
        let sb = get("b")?;
        learner.states.insert((layer, target), (sa, sb));
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
    pub adapter: PathBuf,
    pub adapter_bytes: u64,
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
    if config.batch_size > n {
        bail!(
            "--batch-size {} is larger than the data ({n} samples)",
            config.batch_size
        );
    }
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
        write_atomic(&config_path, config_json.as_bytes())?;
    }

    let tokenized = tokenize_samples(assets, samples, config.max_tokens)?;
    let mut devices = training_devices(config.backend, config.devices)?.into_iter();
    let device = devices.next().context("no training device")?;
    let model = frozen_model(assets, config.backend, &device)?;
    let replicas = devices
        .map(|d| Ok((frozen_model(assets, config.backend, &d)?, d)))
        .collect::<Result<Vec<_>>>()?;
    let c = &assets.config;
    let lora = TrainableLora::new(
        config.rank,
        config.alpha,
        c.num_hidden_layers,
        c.hidden_size,
        c.intermediate_size,
        &config.targets,
        config.seed,
        &device,
    )?;
    if !quiet {
        eprintln!("LoRA adapter: {} trainable parameters", lora.num_params());
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
        lora,
        config.weight_decay,
        config.loss.clone(),
        config.clip_norm,
    )
    .with_replicas(replicas);

    let steps_per_epoch = n / config.batch_size;
    let total_steps = config.max_steps.unwrap_or(steps_per_epoch * config.epochs);
    let mut state = RunState {
        step: 0,
        total_steps,
        train_seconds: 0.0,
    };
    if resume {
        state = load_checkpoint(
            &mut learner,
            &checkpoint_dir(&config.out),
            c.num_hidden_layers,
            &device,
        )?;
        if !quiet {
            eprintln!("resuming at step {}/{}", state.step, total_steps);
        }
    }
    metadata.insert("config".into(), config_json.clone());

    let log_path = config.out.join("metrics.jsonl");
    let mut log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log_path)
        .with_context(|| format!("opening {}", log_path.display()))?;

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
        writeln!(log, "{line}").with_context(|| format!("writing {}", log_path.display()))?;
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
    let adapter = learner.lora.to_adapter(metadata)?;
    let adapter_path = config.out.join("adapter.safetensors");
    let bytes = adapter.to_safetensors(true)?;
    write_atomic(&adapter_path, &bytes)?;
    let samples_seen = state.step * config.batch_size;
    Ok(RunSummary {
        steps: state.step,
        samples_seen,
        train_seconds: state.train_seconds,
        samples_per_second: samples_seen as f64 / state.train_seconds.max(1e-9),
        final_loss: last.map_or(f32::NAN, |s| s.loss),
        adapter: adapter_path,
        adapter_bytes: bytes.len() as u64,
        peak_rss_mb: langbias_encoder::load::peak_rss_mb(),
    })
}

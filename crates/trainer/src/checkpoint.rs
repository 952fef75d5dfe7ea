//! The checkpoint of a training run: `<out>/checkpoint/` holds `state.json` ([`RunState`], the
//! step reached) and `step-<N>/` with `adapter.safetensors` (LoRA) or `layers.safetensors`
//! (full fine-tuning) and `optimizer.safetensors` (the AdamW moments): the last good state.
//!
//! [`save`] stages a new checkpoint's tensors and commits them into a new `step-<N>/` first;
//! `state.json`, written atomically last, is what makes it current, so an interrupted
//! checkpoint leaves the previous one loadable. [`load`] reads it back into a [`Learner`] for
//! `--resume`, checking that it fits the configuration. Checkpoints of earlier versions (the
//! tensors directly in `checkpoint/`, the step named `time`) still load.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use langbias_assets::atomic::{Staged, write_atomic};
use langbias_assets::{HostTensor, LoraAdapter, read_f32_safetensors, write_f32_safetensors};
use serde::{Deserialize, Serialize};

use crate::lora::TrainableLora;
use crate::step::{Learner, Trainable, adamw_state};

/// Where a run stands; saved with every checkpoint.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunState {
    /// Steps completed.
    pub step: usize,
    pub total_steps: usize,
    /// Seconds spent training so far (over all resumed sessions).
    pub train_seconds: f64,
}

/// The checkpoint directory of the run writing to `out`.
pub fn dir(out: &Path) -> PathBuf {
    out.join("checkpoint")
}

/// The tensors of the checkpoint at `step`.
fn step_dir(checkpoint: &Path, step: usize) -> PathBuf {
    checkpoint.join(format!("step-{step}"))
}

/// Saves the trained tensors (f32) and the AdamW moments into `dir/step-<N>/` (staged, then
/// committed together), then the run state `dir/state.json` atomically: until that last
/// rename the previous checkpoint stays the current one. Older `step-*` directories are
/// removed afterwards.
pub fn save(
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
pub fn load(
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

//! Trainable LoRA factors for the encoder layers and their conversion to and from the
//! shipped adapter format ([`langbias_assets::LoraAdapter`]).
//!
//! Layouts: burn's linears are `[in, out]`, so the factors are trained as `A [in, r]`,
//! `B [r, out]` (`y = x·W + scale·(x·A)·B`); the file stores the Hugging Face/PEFT layout
//! `lora_A [r, in]` (= Aᵀ) and `lora_B [out, r]` (= Bᵀ), so that `W_hf' = W_hf + scale·B·A`.

use std::collections::BTreeMap;

use anyhow::{Result, bail};
use burn::tensor::{Device, Tensor, TensorData};
use langbias_assets::tensor_names::Dense;
use langbias_assets::{HostTensor, LoraAdapter, LoraPair};
use langbias_encoder::model::{LayerDeltas, LowRankDelta};
use langbias_train_data::{Rng, derive_seed};
use serde::{Deserialize, Serialize};

/// A linear layer of each BERT layer that can carry an adapter.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, clap::ValueEnum,
)]
#[serde(rename_all = "snake_case")]
pub enum Target {
    Query,
    Key,
    Value,
    AttentionOutput,
    Intermediate,
    Output,
}

impl Target {
    pub const ALL: [Target; 6] = [
        Target::Query,
        Target::Key,
        Target::Value,
        Target::AttentionOutput,
        Target::Intermediate,
        Target::Output,
    ];

    /// The encoder's linear this target adapts.
    pub fn dense(self) -> Dense {
        match self {
            Target::Query => Dense::Query,
            Target::Key => Dense::Key,
            Target::Value => Dense::Value,
            Target::AttentionOutput => Dense::AttentionOutput,
            Target::Intermediate => Dense::Intermediate,
            Target::Output => Dense::Output,
        }
    }

    /// Hugging Face name of the linear in layer `layer`, without `.weight` (what adapters key
    /// their factors by).
    pub fn hf_name(self, layer: usize) -> String {
        self.dense().prefix(layer)
    }

    /// `(in, out)` of this linear for a model with `hidden`/`intermediate` sizes.
    fn dims(self, hidden: usize, intermediate: usize) -> (usize, usize) {
        match self {
            Target::Intermediate => (hidden, intermediate),
            Target::Output => (intermediate, hidden),
            _ => (hidden, hidden),
        }
    }
}

/// One adapted linear: trainable leaves `a [in, r]`, `b [r, out]`.
#[derive(Debug, Clone)]
pub struct Factors {
    pub a: Tensor<2>,
    pub b: Tensor<2>,
}

/// LoRA factors for `targets` in every layer.
#[derive(Debug, Clone)]
pub struct TrainableLora {
    pub rank: usize,
    pub alpha: f32,
    pub num_layers: usize,
    /// Keyed by `(layer, target)`.
    pub factors: BTreeMap<(usize, Target), Factors>,
}

/// Deterministic normal samples (Box–Muller over the data crate's seeded [`Rng`]) so that a
/// seed fixes the init on every backend.
pub(crate) fn normals(n: usize, std: f32, seed: u64) -> Vec<f32> {
    let mut rng = Rng::new(seed);
    let mut uniform = move || ((rng.next_u64() >> 11) as f64 + 0.5) / (1u64 << 53) as f64;
    (0..n)
        .map(|_| {
            let (u1, u2) = (uniform(), uniform());
            ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32 * std
        })
        .collect()
}

/// A trainable leaf on an autodiff device (a plain tensor elsewhere, e.g. for inference tests).
pub(crate) fn leaf(data: Vec<f32>, shape: [usize; 2], device: &Device) -> Tensor<2> {
    let t = Tensor::from_data(TensorData::new(data, shape), device);
    if device.is_autodiff() {
        t.require_grad()
    } else {
        t
    }
}

impl TrainableLora {
    /// Standard LoRA init: `A ~ N(0, 1/in)` (Kaiming-like), `B = 0`, so training starts
    /// from the base model exactly.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        rank: usize,
        alpha: f32,
        num_layers: usize,
        hidden: usize,
        intermediate: usize,
        targets: &[Target],
        seed: u64,
        device: &Device,
    ) -> Result<Self> {
        if rank == 0 {
            bail!("LoRA rank must be at least 1");
        }
        if targets.is_empty() {
            bail!("no LoRA targets selected");
        }
        let mut factors = BTreeMap::new();
        for layer in 0..num_layers {
            for &target in targets {
                let (inp, out) = target.dims(hidden, intermediate);
                let seed = derive_seed(seed, &target.hf_name(layer));
                let a = normals(inp * rank, 1.0 / (inp as f32).sqrt(), seed);
                factors.insert(
                    (layer, target),
                    Factors {
                        a: leaf(a, [inp, rank], device),
                        b: leaf(vec![0.0; rank * out], [rank, out], device),
                    },
                );
            }
        }
        Ok(Self {
            rank,
            alpha,
            num_layers,
            factors,
        })
    }

    pub fn scale(&self) -> f32 {
        self.alpha / self.rank as f32
    }

    pub fn num_params(&self) -> usize {
        self.factors
            .values()
            .map(|f| f.a.shape().num_elements() + f.b.shape().num_elements())
            .sum()
    }

    /// [`deltas`](Self::deltas) moved to `device`, differentiably (gradients flow back to
    /// these factors).
    pub fn deltas_on(&self, device: &Device) -> Vec<LayerDeltas> {
        let mut deltas = self.deltas();
        for layer in &mut deltas {
            for delta in [
                &mut layer.query,
                &mut layer.key,
                &mut layer.value,
                &mut layer.attention_output,
                &mut layer.intermediate,
                &mut layer.output,
            ]
            .into_iter()
            .flatten()
            {
                delta.a = delta.a.clone().to_device(device);
                delta.b = delta.b.clone().to_device(device);
            }
        }
        deltas
    }

    /// Per-layer deltas for [`BertEncoder::forward_with`](langbias_encoder::model::BertEncoder::forward_with).
    pub fn deltas(&self) -> Vec<LayerDeltas> {
        let scale = self.scale();
        let mut out = vec![LayerDeltas::default(); self.num_layers];
        for (&(layer, target), f) in &self.factors {
            let delta = Some(LowRankDelta {
                a: f.a.clone(),
                b: f.b.clone(),
                scale,
            });
            let d = &mut out[layer];
            match target {
                Target::Query => d.query = delta,
                Target::Key => d.key = delta,
                Target::Value => d.value = delta,
                Target::AttentionOutput => d.attention_output = delta,
                Target::Intermediate => d.intermediate = delta,
                Target::Output => d.output = delta,
            }
        }
        out
    }

    /// Host copy in the adapter file layout (`lora_A = Aᵀ`, `lora_B = Bᵀ`).
    pub fn to_adapter(&self, metadata: BTreeMap<String, String>) -> Result<LoraAdapter> {
        let mut layers = BTreeMap::new();
        for (&(layer, target), f) in &self.factors {
            layers.insert(
                target.hf_name(layer),
                LoraPair {
                    a: host_transposed(&f.a)?,
                    b: host_transposed(&f.b)?,
                },
            );
        }
        Ok(LoraAdapter {
            rank: self.rank,
            alpha: self.alpha,
            layers,
            metadata,
            document_means: BTreeMap::new(),
        })
    }

    /// Trainable factors from a saved adapter (to resume, or to continue from a shipped one).
    pub fn from_adapter(adapter: &LoraAdapter, num_layers: usize, device: &Device) -> Result<Self> {
        let mut factors = BTreeMap::new();
        for (name, pair) in &adapter.layers {
            let Some((layer, target)) = (0..num_layers)
                .flat_map(|l| Target::ALL.iter().map(move |&t| (l, t)))
                .find(|&(l, t)| t.hf_name(l) == *name)
            else {
                bail!("adapter layer `{name}` is not a linear of a {num_layers}-layer encoder");
            };
            factors.insert(
                (layer, target),
                Factors {
                    a: from_host_transposed(&pair.a, device),
                    b: from_host_transposed(&pair.b, device),
                },
            );
        }
        if factors.is_empty() {
            bail!("the adapter has no layers");
        }
        Ok(Self {
            rank: adapter.rank,
            alpha: adapter.alpha,
            num_layers,
            factors,
        })
    }
}

/// `t` on the device → host, same layout.
pub(crate) fn host(t: &Tensor<2>) -> Result<HostTensor> {
    let shape = t.dims().to_vec();
    let data = t
        .clone()
        .detach()
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading a trained tensor back: {e:?}"))?;
    Ok(HostTensor { shape, data })
}

/// `t [r, c]` on the device → host `[c, r]`.
pub(crate) fn host_transposed(t: &Tensor<2>) -> Result<HostTensor> {
    let [r, c] = t.dims();
    let data = t
        .clone()
        .detach()
        .transpose()
        .into_data()
        .try_to_vec::<f32>()
        .map_err(|e| anyhow::anyhow!("reading adapter factors back: {e:?}"))?;
    Ok(HostTensor {
        shape: vec![c, r],
        data,
    })
}

/// Host `[r, c]` → device leaf `[c, r]` (transposed on the host so the result is a plain leaf).
pub(crate) fn from_host_transposed(t: &HostTensor, device: &Device) -> Tensor<2> {
    let (r, c) = (t.shape[0], t.shape[1]);
    let mut data = vec![0.0f32; r * c];
    for i in 0..r {
        for j in 0..c {
            data[j * r + i] = t.data[i * c + j];
        }
    }
    leaf(data, [c, r], device)
}

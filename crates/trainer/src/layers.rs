//! Full fine-tuning: the encoder layers' own weights as trainable leaves (`--method full`).
//!
//! Every weight of every [`BertLayer`](langbias_encoder::model::BertLayer) is trained — the six
//! linears (weight and bias) and the two LayerNorms; the embeddings (word table, positions,
//! token type, embedding LayerNorm) stay frozen, as with LoRA. Leaves are kept by Hugging Face
//! name in burn's layouts: linear weights `[in, out]`, vectors `[1, n]`, so that the optimiser,
//! the checkpoints and the gradient clipping treat them like LoRA factors. Each forward pass
//! puts them into a copy of the frozen model (moved to a replica's device when there is one).

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use burn::module::{Param, ParamId};
use burn::tensor::{Device, Tensor};
use langbias_assets::HostTensor;
use langbias_assets::tensor_names::{BertTensor, Norm, Part};
use langbias_encoder::model::BertEncoder;

use crate::lora::{Target, from_host_transposed, host, host_transposed, leaf};

/// Trainable copies of every encoder-layer weight.
#[derive(Debug, Clone)]
pub struct TrainableLayers {
    /// Hugging Face name → leaf (`[in, out]` for linear weights, `[1, n]` for vectors).
    pub leaves: BTreeMap<String, Tensor<2>>,
}

fn vector(t: &HostTensor, name: &str) -> Result<Vec<f32>> {
    if t.shape.len() != 1 {
        bail!("{name}: expected a vector, found shape {:?}", t.shape);
    }
    Ok(t.data.clone())
}

impl TrainableLayers {
    /// Leaves initialised from Hugging Face tensors (`[out, in]` linears, 1-D vectors).
    pub fn from_hf(
        tensors: &BTreeMap<String, HostTensor>,
        num_layers: usize,
        device: &Device,
    ) -> Result<Self> {
        let get = |name: &str| {
            tensors
                .get(name)
                .with_context(|| format!("the model has no tensor {name}"))
        };
        let mut leaves = BTreeMap::new();
        for layer in 0..num_layers {
            for target in Target::ALL {
                let tensor = |part| BertTensor::Dense(layer, target.dense(), part);
                let name = tensor(Part::Weight).name();
                let w = get(&name)?;
                if w.shape.len() != 2 {
                    bail!("{name}: expected a matrix, found shape {:?}", w.shape);
                }
                // Hugging Face `[out, in]` → burn `[in, out]`.
                leaves.insert(name, from_host_transposed(w, device));
                let name = tensor(Part::Bias).name();
                let b = vector(get(&name)?, &name)?;
                let n = b.len();
                leaves.insert(name, leaf(b, [1, n], device));
            }
            for norm in Norm::ALL {
                for part in Part::ALL {
                    let name = BertTensor::Norm(layer, norm, part).name();
                    let v = vector(get(&name)?, &name)?;
                    let n = v.len();
                    leaves.insert(name, leaf(v, [1, n], device));
                }
            }
        }
        Ok(Self { leaves })
    }

    /// Leaves from a checkpoint's tensors (stored in the leaves' own layouts), which must have
    /// the names and shapes of `self`'s.
    pub fn with_stored(
        &self,
        mut stored: BTreeMap<String, HostTensor>,
        device: &Device,
    ) -> Result<Self> {
        let mut leaves = BTreeMap::new();
        for (name, current) in &self.leaves {
            let t = stored
                .remove(name)
                .with_context(|| format!("the checkpoint has no tensor {name}"))?;
            if t.shape != current.dims() {
                bail!(
                    "checkpoint tensor {name} has shape {:?}, the model {:?}",
                    t.shape,
                    current.dims()
                );
            }
            leaves.insert(name.clone(), leaf(t.data, [t.shape[0], t.shape[1]], device));
        }
        if let Some(name) = stored.keys().next() {
            bail!("the checkpoint holds {name}, which this model does not train");
        }
        Ok(Self { leaves })
    }

    pub fn num_params(&self) -> usize {
        self.leaves.values().map(|t| t.shape().num_elements()).sum()
    }

    /// `model` with its layer weights replaced by the leaves (moved to `device` when given,
    /// differentiably, for a replica).
    pub fn apply(&self, model: &BertEncoder, device: Option<&Device>) -> Result<BertEncoder> {
        let mut model = model.clone();
        let take = |name: String| -> Result<Tensor<2>> {
            let t = self
                .leaves
                .get(&name)
                .with_context(|| format!("no trainable tensor {name}"))?
                .clone();
            Ok(match device {
                Some(d) => t.to_device(d),
                None => t,
            })
        };
        // `Param::initialized` keeps the tensor as it is: a leaf on the first device, a moved
        // copy (part of the graph) on a replica.
        let param2 = |t: Tensor<2>| Param::initialized(ParamId::new(), t);
        let param1 = |t: Tensor<2>| {
            let n = t.dims()[1];
            Param::initialized(ParamId::new(), t.reshape([n]))
        };
        for (l, layer) in model.layers.iter_mut().enumerate() {
            for target in Target::ALL {
                let tensor = |part| BertTensor::Dense(l, target.dense(), part).name();
                let linear = match target {
                    Target::Query => &mut layer.query,
                    Target::Key => &mut layer.key,
                    Target::Value => &mut layer.value,
                    Target::AttentionOutput => &mut layer.attention_output,
                    Target::Intermediate => &mut layer.intermediate,
                    Target::Output => &mut layer.output,
                };
                linear.weight = param2(take(tensor(Part::Weight))?);
                linear.bias = Some(param1(take(tensor(Part::Bias))?));
            }
            for (norm, ln) in Norm::ALL
                .into_iter()
                .zip([&mut layer.attention_norm, &mut layer.output_norm])
            {
                let tensor = |part| BertTensor::Norm(l, norm, part).name();
                ln.gamma = param1(take(tensor(Part::Weight))?);
                ln.beta = Some(param1(take(tensor(Part::Bias))?));
            }
        }
        Ok(model)
    }

    /// The leaves in their own layouts (checkpoints).
    pub fn to_leaves(&self) -> Result<BTreeMap<String, HostTensor>> {
        self.leaves
            .iter()
            .map(|(name, t)| Ok((name.clone(), host(t)?)))
            .collect()
    }

    /// The trained tensors under Hugging Face names and layouts (`[out, in]`, 1-D), to merge
    /// over the base model's tensors for export.
    pub fn to_hf(&self) -> Result<BTreeMap<String, HostTensor>> {
        self.leaves
            .iter()
            .map(|(name, t)| {
                let converted = if t.dims()[0] == 1 {
                    let h = host(t)?;
                    HostTensor {
                        shape: vec![h.data.len()],
                        data: h.data,
                    }
                } else {
                    host_transposed(t)?
                };
                Ok((name.clone(), converted))
            })
            .collect()
    }
}

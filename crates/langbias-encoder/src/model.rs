//! The BERT encoder as a burn [`Module`]: post-LayerNorm layers, exact erf GELU, padding masked
//! in attention, masked mean pooling and L2 normalisation.
//!
//! The word-embedding lookup is *not* part of the module: rows are gathered on the host from the
//! compact table ([`EmbeddingTable`](langbias_assets::EmbeddingTable)) and only the
//! `[batch, seq, hidden]` result is uploaded, so no GPU buffer ever holds the 250k-row table.

use burn::module::{Module, Param};
use burn::nn::{LayerNorm, LayerNormConfig, Linear};
use burn::tensor::activation::{gelu, softmax};
use burn::tensor::module::attention;
use burn::tensor::ops::AttentionModuleOptions;
use burn::tensor::{Device, Tensor, TensorData};
use langbias_assets::tensor_names::{BertTensor, Dense, Norm, Part};
use langbias_assets::{EncoderConfig, HostTensor};

use crate::{EncoderError, host_ops};

/// Architecture hyper-parameters of a [`BertEncoder`] (`XxxConfig` → `Xxx`).
#[derive(Debug, Clone)]
pub struct BertEncoderConfig {
    pub hidden_size: usize,
    pub num_layers: usize,
    pub num_heads: usize,
    pub intermediate_size: usize,
    pub max_positions: usize,
    /// First position id (0 for BERT, pad + 1 for RoBERTa-style models).
    pub position_offset: usize,
    pub layer_norm_eps: f64,
    /// See [`BertLayer::fused_attention`]; [`Self::for_backend`] sets it.
    pub fused_attention: bool,
    /// See [`BertLayer::host_kernels`]; [`Self::for_backend`] sets it.
    pub host_kernels: bool,
}

impl From<&EncoderConfig> for BertEncoderConfig {
    fn from(c: &EncoderConfig) -> Self {
        Self {
            hidden_size: c.hidden_size,
            num_layers: c.num_hidden_layers,
            num_heads: c.num_attention_heads,
            intermediate_size: c.intermediate_size,
            max_positions: c.max_position_embeddings,
            position_offset: c.position_offset(),
            layer_norm_eps: c.layer_norm_eps,
            fused_attention: false,
            host_kernels: false,
        }
    }
}

/// One post-LayerNorm transformer layer.
#[derive(Module, Debug)]
pub struct BertLayer {
    pub query: Linear,
    pub key: Linear,
    pub value: Linear,
    pub attention_output: Linear,
    pub attention_norm: LayerNorm,
    pub intermediate: Linear,
    pub output: Linear,
    pub output_norm: LayerNorm,
    pub num_heads: usize,
    /// Use burn's fused attention op (fast on the CPU backend) instead of explicit
    /// `softmax(QKᵀ/√d + bias)·V` (kept for wgpu/WebGPU, where it is tested in browsers).
    pub fused_attention: bool,
    /// Run the GELU and the attention with [`host_ops`] (several times faster on the CPU
    /// backend; not differentiable, so never while training).
    pub host_kernels: bool,
}

/// A trainable low-rank update of one linear layer in burn's `[in, out]` layout:
/// `y = x·W + b + scale · (x·A)·B` with `A [in, rank]`, `B [rank, out]`.
#[derive(Debug, Clone)]
pub struct LowRankDelta {
    pub a: Tensor<2>,
    pub b: Tensor<2>,
    pub scale: f32,
}

impl LowRankDelta {
    fn apply(&self, x: Tensor<3>, y: Tensor<3>) -> Tensor<3> {
        y + x
            .matmul(self.a.clone().unsqueeze())
            .matmul(self.b.clone().unsqueeze())
            * self.scale
    }
}

/// Low-rank deltas of the six linears of one [`BertLayer`] (`None` leaves a linear unchanged).
/// Used by the trainer; inference merges adapters into the weights instead.
#[derive(Debug, Clone, Default)]
pub struct LayerDeltas {
    pub query: Option<LowRankDelta>,
    pub key: Option<LowRankDelta>,
    pub value: Option<LowRankDelta>,
    pub attention_output: Option<LowRankDelta>,
    pub intermediate: Option<LowRankDelta>,
    pub output: Option<LowRankDelta>,
}

/// `linear(x)`, plus `delta` when there is one.
fn linear_with(linear: &Linear, delta: Option<&LowRankDelta>, x: Tensor<3>) -> Tensor<3> {
    match delta {
        None => linear.forward(x),
        Some(d) => d.apply(x.clone(), linear.forward(x)),
    }
}

/// Embeddings (positions, token type 0, LayerNorm) + layers + masked mean pooling.
#[derive(Module, Debug)]
pub struct BertEncoder {
    /// `[max_positions, hidden]`
    pub position: Param<Tensor<2>>,
    /// Token-type-0 row, `[hidden]` (e5 never uses type 1).
    pub token_type: Param<Tensor<1>>,
    pub embedding_norm: LayerNorm,
    pub layers: Vec<BertLayer>,
    pub position_offset: usize,
}

/// Looks tensors up by Hugging Face name and uploads them in burn's layouts.
struct Uploader<'a> {
    tensors: &'a std::collections::BTreeMap<String, HostTensor>,
    device: &'a Device,
}

impl Uploader<'_> {
    fn host(&self, name: &str) -> Result<&HostTensor, EncoderError> {
        self.tensors
            .get(name)
            .ok_or_else(|| EncoderError::MissingWeight(name.to_owned()))
    }

    fn tensor1(&self, name: &str) -> Result<Tensor<1>, EncoderError> {
        let t = self.host(name)?;
        Ok(Tensor::from_data(
            TensorData::new(t.data.clone(), [t.data.len()]),
            self.device,
        ))
    }

    fn tensor2(&self, name: &str) -> Result<Tensor<2>, EncoderError> {
        let t = self.host(name)?;
        Ok(Tensor::from_data(
            TensorData::new(t.data.clone(), [t.shape[0], t.shape[1]]),
            self.device,
        ))
    }

    /// Hugging Face linears are `[out, in]`; burn's row layout is `[in, out]`.
    fn linear(&self, tensor: impl Fn(Part) -> BertTensor) -> Result<Linear, EncoderError> {
        let w = self.host(&tensor(Part::Weight).name())?;
        let (out, inp) = (w.shape[0], w.shape[1]);
        let weight = Tensor::from_data(TensorData::new(transposed(w), [inp, out]), self.device);
        Ok(Linear {
            weight: Param::from_tensor(weight),
            bias: Some(Param::from_tensor(
                self.tensor1(&tensor(Part::Bias).name())?,
            )),
        })
    }

    fn layer_norm(
        &self,
        tensor: impl Fn(Part) -> BertTensor,
        eps: f64,
    ) -> Result<LayerNorm, EncoderError> {
        let gamma = self.tensor1(&tensor(Part::Weight).name())?;
        let mut norm = LayerNormConfig::new(gamma.dims()[0])
            .with_epsilon(eps)
            .init(self.device);
        norm.gamma = Param::from_tensor(gamma);
        norm.beta = Some(Param::from_tensor(
            self.tensor1(&tensor(Part::Bias).name())?,
        ));
        Ok(norm)
    }
}

/// A Hugging Face linear weight `[out, in]` in burn's and gemm's `[in, out]` row layout.
pub(crate) fn transposed(w: &HostTensor) -> Vec<f32> {
    let (out, inp) = (w.shape[0], w.shape[1]);
    let mut transposed = vec![0.0f32; out * inp];
    for o in 0..out {
        for i in 0..inp {
            transposed[i * out + o] = w.data[o * inp + i];
        }
    }
    transposed
}

impl BertEncoderConfig {
    /// Builds the encoder on `device` from f32 tensors under Hugging Face `BertModel` names.
    pub fn init_with_weights(
        &self,
        tensors: &std::collections::BTreeMap<String, HostTensor>,
        device: &Device,
    ) -> Result<BertEncoder, EncoderError> {
        let up = Uploader { tensors, device };
        let eps = self.layer_norm_eps;
        let token_types = up.host(&BertTensor::TokenTypeEmbeddings.name())?;
        let token_type = Tensor::from_data(
            TensorData::new(
                token_types.data[..self.hidden_size].to_vec(),
                [self.hidden_size],
            ),
            device,
        );
        let layers = (0..self.num_layers)
            .map(|l| {
                let dense = |d| move |p| BertTensor::Dense(l, d, p);
                let norm = |n| move |p| BertTensor::Norm(l, n, p);
                Ok(BertLayer {
                    query: up.linear(dense(Dense::Query))?,
                    key: up.linear(dense(Dense::Key))?,
                    value: up.linear(dense(Dense::Value))?,
                    attention_output: up.linear(dense(Dense::AttentionOutput))?,
                    attention_norm: up.layer_norm(norm(Norm::Attention), eps)?,
                    intermediate: up.linear(dense(Dense::Intermediate))?,
                    output: up.linear(dense(Dense::Output))?,
                    output_norm: up.layer_norm(norm(Norm::Output), eps)?,
                    num_heads: self.num_heads,
                    fused_attention: self.fused_attention,
                    host_kernels: self.host_kernels,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(BertEncoder {
            position: Param::from_tensor(up.tensor2(&BertTensor::PositionEmbeddings.name())?),
            token_type: Param::from_tensor(token_type),
            embedding_norm: up.layer_norm(BertTensor::EmbeddingNorm, eps)?,
            layers,
            position_offset: self.position_offset,
        })
    }
}

impl BertLayer {
    /// `x [B, S, H]` → `[B, S, H]`, padded keys masked by `mask`.
    pub fn forward(&self, x: Tensor<3>, mask: &AttentionMask) -> Tensor<3> {
        self.forward_with(x, mask, &LayerDeltas::default())
    }

    /// [`forward`](Self::forward) with low-rank deltas on some linears.
    pub fn forward_with(
        &self,
        x: Tensor<3>,
        mask: &AttentionMask,
        deltas: &LayerDeltas,
    ) -> Tensor<3> {
        let q = linear_with(&self.query, deltas.query.as_ref(), x.clone());
        let k = linear_with(&self.key, deltas.key.as_ref(), x.clone());
        let v = linear_with(&self.value, deltas.value.as_ref(), x.clone());
        let context = self.attention(q, k, v, mask);
        let attended = linear_with(
            &self.attention_output,
            deltas.attention_output.as_ref(),
            context,
        );
        let x = self.attention_norm.forward(attended + x);
        let inner = linear_with(&self.intermediate, deltas.intermediate.as_ref(), x.clone());
        let inner = if self.host_kernels {
            host_ops::gelu(inner)
        } else {
            gelu(inner)
        };
        let ff = linear_with(&self.output, deltas.output.as_ref(), inner);
        self.output_norm.forward(ff + x)
    }
}

impl BertLayer {
    /// Multi-head attention of the projections `q`, `k`, `v` (`[B, S, H]`) → context
    /// `[B, S, H]`, on the path this layer is configured for.
    fn attention(
        &self,
        q: Tensor<3>,
        k: Tensor<3>,
        v: Tensor<3>,
        mask: &AttentionMask,
    ) -> Tensor<3> {
        let heads = self.num_heads;
        let (q, k, v) = match &mask.host_keys {
            Some(valid) if self.host_kernels => match host_ops::attention(q, k, v, heads, valid) {
                Ok(context) => return context,
                Err(inputs) => {
                    let [q, k, v] = *inputs;
                    (q, k, v)
                }
            },
            _ => (q, k, v),
        };
        let [b, s, h] = q.dims();
        let head_dim = h / heads;
        let split = |t: Tensor<3>| t.reshape([b, s, heads, head_dim]).swap_dims(1, 2);
        let (q, k, v) = (split(q), split(k), split(v));
        let bias = mask.bias.clone();
        let context = if self.fused_attention {
            attention(q, k, v, None, Some(bias), AttentionModuleOptions::default())
        } else {
            let scores = q
                .matmul(k.swap_dims(2, 3))
                .div_scalar((head_dim as f32).sqrt())
                + bias;
            softmax(scores, 3).matmul(v)
        };
        context.swap_dims(1, 2).reshape([b, s, h])
    }
}

/// The padding mask of a batch, in the forms the attention paths use.
#[derive(Debug, Clone)]
pub struct AttentionMask {
    /// `[B, 1, S, S]`: 0 for real keys, −1e9 for padded ones (burn's attention paths).
    pub bias: Tensor<4>,
    /// `[B·S]` key validity on the host, for [`host_ops::attention`]; read back only when a
    /// layer uses host kernels.
    pub host_keys: Option<Vec<bool>>,
}

impl AttentionMask {
    /// From `mask [B, S]` (1 token, 0 padding).
    pub fn new(mask: Tensor<2>, with_host_keys: bool) -> Self {
        let [b, s] = mask.dims();
        let host_keys = if with_host_keys {
            mask.clone()
                .into_data()
                .try_into_vec::<f32>()
                .ok()
                .map(|m| m.iter().map(|&x| x > 0.5).collect())
        } else {
            None
        };
        // Keys that are padding get −1e9 for every query row: [B, 1, 1, S] → [B, 1, S, S]
        // (the fused op wants full trailing dimensions; heads broadcast).
        let bias = (mask - 1.0)
            .mul_scalar(1e9)
            .reshape([b, 1, 1, s])
            .expand([b, 1, s, s]);
        Self { bias, host_keys }
    }
}

impl BertEncoder {
    /// The longest sequence the position table covers.
    pub fn max_positions(&self) -> usize {
        self.position.val().dims()[0].saturating_sub(self.position_offset)
    }

    /// Last hidden states. `word [B, S, H]` (gathered rows), `mask [B, S]` (1 token, 0 padding).
    pub fn hidden_states(&self, word: Tensor<3>, mask: Tensor<2>) -> Tensor<3> {
        self.hidden_states_with(word, mask, &[])
    }

    /// [`hidden_states`](Self::hidden_states) with low-rank deltas for the first
    /// `deltas.len()` layers.
    pub fn hidden_states_with(
        &self,
        word: Tensor<3>,
        mask: Tensor<2>,
        deltas: &[LayerDeltas],
    ) -> Tensor<3> {
        let [_, s, h] = word.dims();
        let positions = self
            .position
            .val()
            .slice([self.position_offset..self.position_offset + s, 0..h])
            .reshape([1, s, h]);
        let token_type = self.token_type.val().reshape([1, 1, h]);
        let mut x = self.embedding_norm.forward(word + positions + token_type);
        let host_kernels = self.layers.iter().any(|l| l.host_kernels);
        let mask = AttentionMask::new(mask, host_kernels);
        let none = LayerDeltas::default();
        for (i, layer) in self.layers.iter().enumerate() {
            x = layer.forward_with(x, &mask, deltas.get(i).unwrap_or(&none));
        }
        x
    }

    /// Sentence embeddings `[B, H]`: mean over real tokens, then L2-normalised.
    pub fn forward(&self, word: Tensor<3>, mask: Tensor<2>) -> Tensor<2> {
        self.forward_with(word, mask, &[])
    }

    /// [`forward`](Self::forward) with low-rank deltas (see [`hidden_states_with`](Self::hidden_states_with)).
    pub fn forward_with(
        &self,
        word: Tensor<3>,
        mask: Tensor<2>,
        deltas: &[LayerDeltas],
    ) -> Tensor<2> {
        let [b, s, h] = word.dims();
        let hidden = self.hidden_states_with(word, mask.clone(), deltas);
        let mask = mask.reshape([b, s, 1]);
        let summed = (hidden * mask.clone()).sum_dim(1).reshape([b, h]);
        let counts = mask.sum_dim(1).reshape([b, 1]).clamp_min(1.0);
        l2_normalize(summed / counts)
    }
}

/// Row-wise L2 normalisation of `[B, H]`.
pub fn l2_normalize(x: Tensor<2>) -> Tensor<2> {
    let norm = x.clone().powi_scalar(2).sum_dim(1).sqrt().clamp_min(1e-12);
    x / norm
}

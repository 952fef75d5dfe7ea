//! [`HostBert`]: the BERT encoder for inference on the CPU, on plain host buffers.
//!
//! The same computation as [`BertEncoder`](crate::model::BertEncoder) without a tensor
//! library in between: every matrix product is one `gemm` call (the library burn's CPU backend
//! uses) over all the batch's tokens, and everything between the products runs where it costs
//! least — biases and residuals are written into the product's output before `gemm`
//! accumulates into it (no separate add passes), the three projections are one product with
//! packed `[q | k | v]` weights, attention writes each head straight into place, and
//! LayerNorm/GELU run in place over all cores. No tensor is allocated per operation: five
//! buffers per batch serve all layers.
//!
//! burn's CPU backend leaves these element-wise steps and copies to one thread, which
//! the matrix products then wait for; on 16 cores that made it 2.3–2.5× slower than PyTorch.
//! It is not differentiable: the trainer keeps the burn module.

use std::collections::BTreeMap;

use langbias_assets::HostTensor;
use langbias_assets::tensor_names::{self as names, BertTensor, Part};

use crate::host_int8::Int8Weights;
use crate::host_ops::{
    Product, attention_packed, for_row_groups, gelu_in_place, layer_norm_rows, strided_matmul,
};
use crate::model::{BertEncoderConfig, transposed};
use crate::{EncoderError, PaddedBatch};
use profile::Step;

/// Where [`HostBert::forward`] spends its time, for `langbias bench --profile`: seconds per
/// step, summed over batches — batches that run at the same time each count, so on several
/// cores the sum exceeds the wall time. Off unless [`profile::enable`]d (then a clock read per
/// step).
pub mod profile {
    use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

    /// The steps, in the order a layer runs them; [`STEPS`] names them.
    #[derive(Debug, Clone, Copy)]
    pub(crate) enum Step {
        Embeddings,
        QkvProduct,
        Attention,
        AttentionOutputProduct,
        LayerNorms,
        IntermediateProduct,
        Gelu,
        OutputProduct,
    }

    /// The names of the [`Step`]s, in their order.
    pub const STEPS: [&str; 8] = [
        "embeddings",
        "qkv product",
        "attention",
        "attention output product",
        "layer norms",
        "intermediate product",
        "gelu",
        "output product",
    ];

    static ENABLED: AtomicBool = AtomicBool::new(false);
    static NANOS: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

    /// Starts (or stops) collecting, from zero.
    pub fn enable(on: bool) {
        for n in &NANOS {
            n.store(0, Ordering::Relaxed);
        }
        ENABLED.store(on, Ordering::Relaxed);
    }

    /// The seconds per step collected since [`enable`].
    pub fn seconds() -> Vec<(&'static str, f64)> {
        STEPS
            .iter()
            .zip(&NANOS)
            .map(|(&name, n)| (name, n.load(Ordering::Relaxed) as f64 * 1e-9))
            .collect()
    }

    /// Charges the time since the previous lap to a step.
    pub(crate) struct Clock(Option<std::time::Instant>);

    impl Clock {
        pub(crate) fn start() -> Self {
            Self(
                ENABLED
                    .load(Ordering::Relaxed)
                    .then(std::time::Instant::now),
            )
        }

        pub(crate) fn lap(&mut self, step: Step) {
            if let Some(last) = &mut self.0 {
                let now = std::time::Instant::now();
                let nanos = now.duration_since(*last).as_nanos() as u64;
                NANOS[step as usize].fetch_add(nanos, Ordering::Relaxed);
                *last = now;
            }
        }
    }
}

/// A dense layer in the layout `gemm` reads: `weight [in, out]` row-major, `bias [out]`; or,
/// once [`HostBert::into_int8`] has run, the same weights in 8 bits (`weight` then empty).
#[derive(Debug, Clone)]
struct Dense {
    weight: Vec<f32>,
    bias: Vec<f32>,
    inputs: usize,
    int8: Option<Int8Weights>,
}

impl Dense {
    fn outputs(&self) -> usize {
        self.bias.len()
    }

    /// `out [rows, out] = x [rows, in] · W + b (+ residual [rows, out])`.
    fn forward(&self, x: &[f32], rows: usize, residual: Option<&[f32]>, out: &mut [f32]) {
        let n = self.outputs();
        let out = &mut out[..rows * n];
        // The bias (and residual) go in first; gemm then adds the product to them.
        for_row_groups(out, n, |first, group| {
            for (r, row) in group.chunks_exact_mut(n).enumerate() {
                match residual {
                    Some(res) => {
                        let res = &res[(first + r) * n..(first + r + 1) * n];
                        for ((o, &b), &x) in row.iter_mut().zip(&self.bias).zip(res) {
                            *o = b + x;
                        }
                    }
                    None => row.copy_from_slice(&self.bias),
                }
            }
        });
        if let Some(q) = &self.int8 {
            return q.accumulate(&x[..rows * self.inputs], rows, out);
        }
        strided_matmul(
            [rows, n, self.inputs],
            (out, n),
            (&x[..rows * self.inputs], self.inputs, 1),
            (&self.weight, n, 1),
            Product {
                scale: 1.0,
                accumulate: true,
                parallel: true,
            },
        );
    }

    fn into_int8(self) -> Self {
        let n = self.outputs();
        Self {
            int8: Some(Int8Weights::quantise(&self.weight, self.inputs, n)),
            weight: Vec::new(),
            ..self
        }
    }
}

#[derive(Debug, Clone)]
struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
}

impl Norm {
    fn forward(&self, x: &mut [f32], eps: f32) {
        for_row_groups(x, self.gamma.len(), |_, rows| {
            layer_norm_rows(rows, &self.gamma, &self.beta, eps)
        });
    }
}

#[derive(Debug, Clone)]
struct HostLayer {
    /// Query, key and value projections in one: `[H, 3H]`.
    qkv: Dense,
    attention_output: Dense,
    attention_norm: Norm,
    intermediate: Dense,
    output: Dense,
    output_norm: Norm,
}

/// The encoder's weights on the host, laid out for [`HostBert::forward`].
#[derive(Debug, Clone)]
pub struct HostBert {
    hidden: usize,
    heads: usize,
    eps: f32,
    /// `[max_positions, H]`
    position: Vec<f32>,
    position_offset: usize,
    /// Token-type-0 row, `[H]`.
    token_type: Vec<f32>,
    embedding_norm: Norm,
    layers: Vec<HostLayer>,
}

/// Looks weights up by Hugging Face name and checks their sizes.
struct Weights<'a>(&'a BTreeMap<String, HostTensor>);

impl Weights<'_> {
    fn get(&self, name: &str, len: usize) -> Result<&HostTensor, EncoderError> {
        let t = self
            .0
            .get(name)
            .ok_or_else(|| EncoderError::MissingWeight(name.to_owned()))?;
        if t.data.len() != len {
            return Err(EncoderError::Input(format!(
                "weight `{name}` has {} values, the config implies {len}",
                t.data.len()
            )));
        }
        Ok(t)
    }

    fn vector(&self, name: &str, len: usize) -> Result<Vec<f32>, EncoderError> {
        Ok(self.get(name, len)?.data.clone())
    }

    /// Hugging Face linear weights are `[out, in]`; gemm reads `[in, out]` here.
    fn dense(
        &self,
        tensor: impl Fn(Part) -> BertTensor,
        inputs: usize,
        outputs: usize,
    ) -> Result<Dense, EncoderError> {
        let name = tensor(Part::Weight).name();
        let weight = self.get(&name, outputs * inputs)?;
        if weight.shape != [outputs, inputs] {
            return Err(EncoderError::Input(format!(
                "weight `{name}` has shape {:?}, the config implies [{outputs}, {inputs}]",
                weight.shape
            )));
        }
        Ok(Dense {
            weight: transposed(weight),
            bias: self.vector(&tensor(Part::Bias).name(), outputs)?,
            inputs,
            int8: None,
        })
    }

    fn norm(&self, tensor: impl Fn(Part) -> BertTensor, len: usize) -> Result<Norm, EncoderError> {
        Ok(Norm {
            gamma: self.vector(&tensor(Part::Weight).name(), len)?,
            beta: self.vector(&tensor(Part::Bias).name(), len)?,
        })
    }
}

/// Joins the query, key and value projections (each `[H, H]` in `[in, out]`) into one
/// `[H, 3H]` layer whose output rows are `[q | k | v]`.
fn pack_qkv(parts: [Dense; 3]) -> Dense {
    let inputs = parts[0].inputs;
    let mut weight = Vec::with_capacity(inputs * 3 * parts[0].outputs());
    for i in 0..inputs {
        for part in &parts {
            let n = part.outputs();
            weight.extend_from_slice(&part.weight[i * n..(i + 1) * n]);
        }
    }
    Dense {
        weight,
        bias: parts.iter().flat_map(|p| p.bias.iter().copied()).collect(),
        inputs,
        int8: None,
    }
}

impl BertEncoderConfig {
    /// The encoder for CPU inference from f32 tensors under Hugging Face `BertModel` names
    /// (the same inputs as [`init_with_weights`](Self::init_with_weights)).
    pub fn init_host(
        &self,
        tensors: &BTreeMap<String, HostTensor>,
    ) -> Result<HostBert, EncoderError> {
        let (h, inter) = (self.hidden_size, self.intermediate_size);
        if self.num_heads == 0 || h % self.num_heads != 0 {
            return Err(EncoderError::Input(format!(
                "hidden size {h} is not divisible by {} attention heads",
                self.num_heads
            )));
        }
        let w = Weights(tensors);
        let token_types = w.0.get(&BertTensor::TokenTypeEmbeddings.name());
        let token_type = match token_types {
            Some(t) if t.data.len() >= h && t.data.len() % h == 0 => t.data[..h].to_vec(),
            Some(_) => {
                return Err(EncoderError::Input(
                    "token type embeddings are not rows of the hidden size".into(),
                ));
            }
            None => {
                return Err(EncoderError::MissingWeight(
                    BertTensor::TokenTypeEmbeddings.name(),
                ));
            }
        };
        let layers = (0..self.num_layers)
            .map(|l| {
                let dense = |d| move |p| BertTensor::Dense(l, d, p);
                let norm = |n| move |p| BertTensor::Norm(l, n, p);
                Ok(HostLayer {
                    qkv: pack_qkv([
                        w.dense(dense(names::Dense::Query), h, h)?,
                        w.dense(dense(names::Dense::Key), h, h)?,
                        w.dense(dense(names::Dense::Value), h, h)?,
                    ]),
                    attention_output: w.dense(dense(names::Dense::AttentionOutput), h, h)?,
                    attention_norm: w.norm(norm(names::Norm::Attention), h)?,
                    intermediate: w.dense(dense(names::Dense::Intermediate), h, inter)?,
                    output: w.dense(dense(names::Dense::Output), inter, h)?,
                    output_norm: w.norm(norm(names::Norm::Output), h)?,
                })
            })
            .collect::<Result<Vec<_>, EncoderError>>()?;
        Ok(HostBert {
            hidden: h,
            heads: self.num_heads,
            eps: self.layer_norm_eps as f32,
            position: w.vector(
                &BertTensor::PositionEmbeddings.name(),
                self.max_positions * h,
            )?,
            position_offset: self.position_offset,
            token_type,
            embedding_norm: w.norm(BertTensor::EmbeddingNorm, h)?,
            layers,
        })
    }
}

impl HostBert {
    /// The same encoder with every dense layer's weights in 8 bits
    /// ([`host_int8`](crate::host_int8)): about 2× faster products in WebAssembly, embeddings
    /// within a cosine of about 0.995 of f32. Attention, LayerNorm, GELU and pooling stay f32.
    pub fn into_int8(self) -> Self {
        Self {
            layers: self
                .layers
                .into_iter()
                .map(|l| HostLayer {
                    qkv: l.qkv.into_int8(),
                    attention_output: l.attention_output.into_int8(),
                    intermediate: l.intermediate.into_int8(),
                    output: l.output.into_int8(),
                    ..l
                })
                .collect(),
            ..self
        }
    }

    /// The longest sequence the position table covers.
    pub fn max_positions(&self) -> usize {
        (self.position.len() / self.hidden.max(1)).saturating_sub(self.position_offset)
    }

    /// Sentence embeddings `[B, H]` (row-major): mean over real tokens, L2-normalised.
    pub fn forward(&self, batch: &PaddedBatch) -> Result<Vec<f32>, EncoderError> {
        let (b, s, h) = (batch.batch, batch.seq, self.hidden);
        if batch.hidden != h || batch.word.len() != b * s * h || batch.mask.len() != b * s {
            return Err(EncoderError::Input(format!(
                "batch of {b}×{s} tokens with {} values per token, the model has {h}",
                batch.hidden
            )));
        }
        if s > self.max_positions() {
            return Err(EncoderError::Input(format!(
                "sequence of {s} tokens, the model has {} positions",
                self.max_positions()
            )));
        }
        let rows = b * s;
        let inter = self.layers.first().map_or(0, |l| l.intermediate.outputs());
        let key_valid: Vec<bool> = batch.mask.iter().map(|&m| m > 0.5).collect();

        let mut clock = profile::Clock::start();
        // Embeddings: word + position + token type, then LayerNorm.
        let mut x = batch.word.clone();
        let position = &self.position[self.position_offset * h..];
        for_row_groups(&mut x, h, |first, group| {
            for (r, row) in group.chunks_exact_mut(h).enumerate() {
                let t = (first + r) % s;
                let pos = &position[t * h..(t + 1) * h];
                for ((v, &p), &tt) in row.iter_mut().zip(pos).zip(&self.token_type) {
                    *v += p + tt;
                }
            }
        });
        self.embedding_norm.forward(&mut x, self.eps);
        clock.lap(Step::Embeddings);

        let mut qkv = vec![0.0f32; rows * 3 * h];
        let mut context = vec![0.0f32; rows * h];
        let mut attended = vec![0.0f32; rows * h];
        let mut inner = vec![0.0f32; rows * inter];
        for layer in &self.layers {
            layer.qkv.forward(&x, rows, None, &mut qkv);
            clock.lap(Step::QkvProduct);
            attention_packed(&qkv, [b, s, h], self.heads, &key_valid, &mut context);
            clock.lap(Step::Attention);
            layer
                .attention_output
                .forward(&context, rows, Some(&x), &mut attended);
            clock.lap(Step::AttentionOutputProduct);
            layer.attention_norm.forward(&mut attended, self.eps);
            clock.lap(Step::LayerNorms);
            layer
                .intermediate
                .forward(&attended, rows, None, &mut inner);
            clock.lap(Step::IntermediateProduct);
            gelu_in_place(&mut inner);
            clock.lap(Step::Gelu);
            layer.output.forward(&inner, rows, Some(&attended), &mut x);
            clock.lap(Step::OutputProduct);
            layer.output_norm.forward(&mut x, self.eps);
            clock.lap(Step::LayerNorms);
        }

        // Masked mean pooling and L2 normalisation.
        let mut pooled = vec![0.0f32; b * h];
        for (seq, out) in pooled.chunks_exact_mut(h).enumerate() {
            let mut count = 0.0f32;
            for t in 0..s {
                let m = batch.mask[seq * s + t];
                if m > 0.0 {
                    count += m;
                    let row = &x[(seq * s + t) * h..(seq * s + t + 1) * h];
                    out.iter_mut().zip(row).for_each(|(o, &v)| *o += m * v);
                }
            }
            let count = count.max(1.0);
            out.iter_mut().for_each(|o| *o /= count);
            let norm = out.iter().map(|v| v * v).sum::<f32>().sqrt().max(1e-12);
            out.iter_mut().for_each(|o| *o /= norm);
        }
        Ok(pooled)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use langbias_assets::HostTensor;
    use langbias_assets::test_util::{TinyModel, pseudo_random};

    use crate::PaddedBatch;
    use crate::model::BertEncoderConfig;

    /// A random encoder of odd sizes (hidden 12, 3 heads of 4, intermediate 20) with
    /// RoBERTa-style offset positions.
    fn tiny() -> (BertEncoderConfig, BTreeMap<String, HostTensor>) {
        let weights = TinyModel {
            hidden: 12,
            heads: 3,
            intermediate: 20,
            vocab: 10,
            model_type: "xlm-roberta",
            pad_token_id: 1,
            layer_norm_eps: 1e-5,
            ..TinyModel::default()
        }
        .weights();
        (BertEncoderConfig::from(&weights.config), weights.tensors)
    }

    #[test]
    fn host_engine_matches_the_burn_module() {
        let (config, tensors) = tiny();
        let host = config.init_host(&tensors).unwrap();
        let device = crate::Runtime::cpu().device;
        let burn = config.init_with_weights(&tensors, &device).unwrap();
        // Three sequences padded to 6 positions: lengths 6, 3 and 1.
        let (b, s, h) = (3, 6, 12);
        let lengths = [6, 3, 1];
        let mask: Vec<f32> = (0..b * s)
            .map(|i| if i % s < lengths[i / s] { 1.0 } else { 0.0 })
            .collect();
        let mut word = pseudo_random(b * s * h, 99, 1.0);
        word.iter_mut()
            .zip(mask.iter().flat_map(|&m| std::iter::repeat_n(m, h)))
            .for_each(|(w, m)| *w *= m);
        let batch = PaddedBatch {
            batch: b,
            seq: s,
            hidden: h,
            word,
            mask,
        };
        let got = host.forward(&batch).unwrap();
        let (word, mask) = batch.to_tensors(&device);
        let want: Vec<f32> = burn.forward(word, mask).into_data().try_into_vec().unwrap();
        assert_eq!(got.len(), want.len());
        for (i, (g, w)) in got.iter().zip(&want).enumerate() {
            assert!((g - w).abs() <= 1e-5, "element {i}: host {g}, burn {w}");
        }
    }

    #[test]
    fn wrong_shapes_and_lengths_are_errors() {
        let (config, mut tensors) = tiny();
        let host = config.init_host(&tensors).unwrap();
        let too_long = PaddedBatch {
            batch: 1,
            seq: 20,
            hidden: 12,
            word: vec![0.0; 20 * 12],
            mask: vec![1.0; 20],
        };
        let err = host.forward(&too_long).unwrap_err().to_string();
        assert!(err.contains("positions"), "{err}");
        let wrong_hidden = PaddedBatch {
            hidden: 8,
            word: vec![0.0; 8],
            mask: vec![1.0],
            ..too_long
        };
        assert!(host.forward(&wrong_hidden).is_err());

        let w = tensors
            .get_mut("encoder.layer.1.output.dense.weight")
            .unwrap();
        w.shape.reverse();
        let err = config.init_host(&tensors).unwrap_err().to_string();
        assert!(err.contains("encoder.layer.1.output.dense.weight"), "{err}");
        tensors.remove("encoder.layer.0.attention.self.key.bias");
        let err = config.init_host(&tensors).unwrap_err().to_string();
        assert!(err.contains("attention.self.key.bias"), "{err}");
    }
}

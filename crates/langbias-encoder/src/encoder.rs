//! [`ModelAssets`] (host-side weights + tokenizer) → [`Encoder`] (weights on a device).

use std::collections::BTreeMap;
use std::sync::Arc;

use burn::tensor::{Tensor, TensorData};
use langbias_assets::{
    E5s1, EmbeddingTable, EncoderConfig, EncoderWeights, HostTensor, LoraAdapter,
    tokenizer_skeleton,
};

use crate::host_model::HostBert;
use crate::model::{BertEncoder, BertEncoderConfig};
use crate::{EncoderError, Runtime, TextKind, TextTokenizer, TextWindows};

/// A model as loaded on the host: config, tokenizer, the compact word-embedding table (shared
/// by every [`Encoder`] made from it) and the remaining weights in f32.
#[derive(Debug, Clone)]
pub struct ModelAssets {
    pub config: EncoderConfig,
    pub tokenizer: Arc<TextTokenizer>,
    pub embeddings: Arc<EmbeddingTable>,
    tensors: BTreeMap<String, HostTensor>,
}

/// How tokenizer errors name a `tokenizer.json` given as text (the native loader names the
/// file's path instead).
const TOKENIZER_JSON: &str = "tokenizer.json";

impl ModelAssets {
    /// From weights and a `tokenizer.json` text. `use_prefixes` applies the e5
    /// `query: `/`passage: ` prefixes.
    pub fn from_weights(
        weights: EncoderWeights,
        tokenizer_json: &str,
        use_prefixes: bool,
    ) -> Result<Self, EncoderError> {
        Self::from_weights_named(weights, TOKENIZER_JSON, tokenizer_json, use_prefixes)
    }

    /// [`ModelAssets::from_weights`] with the tokenizer named `tokenizer_what` in errors.
    pub(crate) fn from_weights_named(
        weights: EncoderWeights,
        tokenizer_what: &str,
        tokenizer_json: &str,
        use_prefixes: bool,
    ) -> Result<Self, EncoderError> {
        let EncoderWeights {
            config,
            word_embeddings,
            tensors,
        } = weights;
        config.validate("model configuration")?;
        let tokenizer = TextTokenizer::from_json(
            tokenizer_what,
            tokenizer_json,
            config.max_tokens(),
            use_prefixes,
        )?;
        Ok(Self {
            config,
            tokenizer: Arc::new(tokenizer),
            embeddings: Arc::new(word_embeddings),
            tensors,
        })
    }

    /// From an E5S1 file and a `tokenizer.json` — either complete or a skeleton without
    /// vocabulary, in which case the vocabulary inside the E5S1 file is used. `use_prefixes`
    /// applies the e5 `query: `/`passage: ` prefixes.
    pub fn from_e5s1(
        what: &str,
        bytes: Vec<u8>,
        tokenizer_json: &str,
        use_prefixes: bool,
    ) -> Result<Self, EncoderError> {
        Self::from_e5s1_named(what, bytes, TOKENIZER_JSON, tokenizer_json, use_prefixes)
    }

    /// [`ModelAssets::from_e5s1`] with the tokenizer named `tokenizer_what` in errors.
    pub(crate) fn from_e5s1_named(
        what: &str,
        bytes: Vec<u8>,
        tokenizer_what: &str,
        tokenizer_json: &str,
        use_prefixes: bool,
    ) -> Result<Self, EncoderError> {
        let e5 = E5s1::parse(what, bytes)?;
        let weights = e5.to_weights()?;
        let is_skeleton = serde_json::from_str::<serde_json::Value>(tokenizer_json)
            .ok()
            .and_then(|v| {
                v.pointer("/model/vocab")
                    .and_then(|v| v.as_array())
                    .map(Vec::is_empty)
            })
            .unwrap_or(false);
        if is_skeleton {
            let full = tokenizer_skeleton::fill_unigram_vocab(tokenizer_json, &e5.vocab.pieces)?;
            drop(e5);
            Self::from_weights_named(weights, tokenizer_what, &full, use_prefixes)
        } else {
            drop(e5);
            Self::from_weights_named(weights, tokenizer_what, tokenizer_json, use_prefixes)
        }
    }

    /// The base encoder on `runtime`.
    pub fn encoder(&self, runtime: &Runtime) -> Result<Encoder, EncoderError> {
        self.build(runtime, &self.tensors)
    }

    /// An aligned variant: `adapter` merged into the encoder layers; the word-embedding table
    /// and tokenizer stay shared with the base.
    pub fn encoder_with_adapter(
        &self,
        runtime: &Runtime,
        adapter: &LoraAdapter,
    ) -> Result<Encoder, EncoderError> {
        let merged = adapter.merge_into(&self.tensors)?;
        self.build(runtime, &merged)
    }

    fn build(
        &self,
        runtime: &Runtime,
        tensors: &BTreeMap<String, HostTensor>,
    ) -> Result<Encoder, EncoderError> {
        self.check_shapes(tensors)?;
        let config =
            BertEncoderConfig::from(&self.config).for_backend(runtime.kind, Workload::Inference);
        let model = match runtime.kind {
            crate::BackendKind::Cpu => Model::Host(config.init_host(tensors)?),
            _ => Model::Burn(Box::new(
                config.init_with_weights(tensors, &runtime.device)?,
            )),
        };
        Ok(Encoder {
            model,
            runtime: runtime.clone(),
            tokenizer: self.tokenizer.clone(),
            embeddings: self.embeddings.clone(),
            batching: Batching::for_backend(runtime.kind),
        })
    }

    /// Every tensor the configuration needs is there with its shape (both engines index them
    /// by shape), and the word table is as wide as the hidden size.
    fn check_shapes(&self, tensors: &BTreeMap<String, HostTensor>) -> Result<(), EncoderError> {
        let c = &self.config;
        if self.embeddings.cols() != c.hidden_size || c.num_hidden_layers > tensors.len() {
            return Err(EncoderError::Input(format!(
                "the weights ({} tensors, word embeddings of width {}) do not fit the \
                 configuration ({})",
                tensors.len(),
                self.embeddings.cols(),
                c.summary()
            )));
        }
        for (name, shape) in EncoderWeights::expected_shapes(c) {
            let t = tensors
                .get(&name)
                .ok_or_else(|| EncoderError::MissingWeight(name.clone()))?;
            if t.shape != shape || t.data.len() != shape.iter().product::<usize>() {
                return Err(EncoderError::Input(format!(
                    "weight `{name}` has shape {:?} ({} values), the configuration implies {shape:?}",
                    t.shape,
                    t.data.len()
                )));
            }
        }
        Ok(())
    }

    /// Host tensors under Hugging Face names (for the trainer and exports).
    pub fn tensors(&self) -> &BTreeMap<String, HostTensor> {
        &self.tensors
    }
}

/// How texts are grouped into forward passes. Texts are sorted by length so batches carry
/// little padding; a batch holds at most `max_batch` texts and `max_tokens` padded tokens,
/// which bounds the `[B, heads, S, S]` attention scores (peak memory).
#[derive(Debug, Clone, Copy)]
pub struct Batching {
    pub max_batch: usize,
    pub max_tokens: usize,
    /// The padded length is rounded up to a multiple of this (1: the longest member's length).
    /// GPU backends compile and autotune kernels per tensor shape, so a few lengths that
    /// recur beat many exact ones; padding is masked, so results do not change.
    pub seq_multiple: usize,
}

impl Default for Batching {
    fn default() -> Self {
        Self {
            max_batch: 64,
            max_tokens: 8192,
            seq_multiple: 1,
        }
    }
}

impl Batching {
    /// On the GPU ([`BackendKind::Wgpu`]) lengths are rounded to multiples of 32.
    pub fn for_backend(kind: crate::BackendKind) -> Self {
        Self {
            seq_multiple: match kind {
                crate::BackendKind::Cpu | crate::BackendKind::Flex => 1,
                crate::BackendKind::Wgpu => GPU_SEQ_MULTIPLE,
            },
            ..Self::default()
        }
    }

    /// The padded length of a batch whose longest member has `longest` tokens, at most
    /// `limit` (the model's positions) unless `longest` itself is longer.
    pub fn padded_len(&self, longest: usize, limit: usize) -> usize {
        let m = self.seq_multiple.max(1);
        longest
            .div_ceil(m)
            .saturating_mul(m)
            .min(limit)
            .max(longest)
    }
}

/// See [`Batching::for_backend`].
const GPU_SEQ_MULTIPLE: usize = 32;

/// What an encoder is built for; the burn module's kernels depend on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Workload {
    Inference,
    /// Gradients flow through the module (the trainer).
    Training,
}

impl BertEncoderConfig {
    /// The burn module's backend policy, decided here once (beside [`Batching::for_backend`]):
    /// burn's fused attention op on its CPU backend (fast there), explicit ops on wgpu (what
    /// browsers test); the host GELU/attention kernels ([`crate::host_ops`]) for inference on
    /// the CPU backend only, as they leave burn's autodiff graph. (Inference with
    /// [`BackendKind::Cpu`](crate::BackendKind::Cpu) runs the host engine instead of the
    /// module; see [`ModelAssets::encoder`].)
    pub fn for_backend(self, kind: crate::BackendKind, workload: Workload) -> Self {
        let cpu_backend = kind != crate::BackendKind::Wgpu;
        Self {
            fused_attention: cpu_backend,
            host_kernels: cpu_backend && workload == Workload::Inference,
            ..self
        }
    }
}

/// The smallest batch (padded tokens) the host engine shrinks batches to on many cores: a
/// product over fewer rows than this no longer keeps a core busy with arithmetic.
#[cfg(not(target_family = "wasm"))]
const MIN_CONCURRENT_TOKENS: usize = 1024;

/// Unit-length sentence embeddings, row-major `[n, dim]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Embeddings {
    pub dim: usize,
    pub data: Vec<f32>,
}

impl Embeddings {
    pub fn len(&self) -> usize {
        self.data.len().checked_div(self.dim).unwrap_or(0)
    }
    pub fn is_empty(&self) -> bool {
        self.data.is_empty()
    }
    pub fn row(&self, i: usize) -> &[f32] {
        &self.data[i * self.dim..(i + 1) * self.dim]
    }
    pub fn rows(&self) -> impl Iterator<Item = &[f32]> {
        self.data.chunks_exact(self.dim.max(1))
    }
    /// Cosine similarities of every row of `self` with every row of `other` (`[n, m]`), which
    /// for unit vectors is their dot product.
    pub fn cosine_matrix(&self, other: &Embeddings) -> Vec<Vec<f32>> {
        self.rows()
            .map(|a| {
                other
                    .rows()
                    .map(|b| a.iter().zip(b).map(|(x, y)| x * y).sum())
                    .collect()
            })
            .collect()
    }
}

/// Token sequences padded to one length, with their word-embedding rows gathered on the host
/// (so only `[B, S, H]` is uploaded, never the vocabulary table).
#[derive(Debug, Clone)]
pub struct PaddedBatch {
    pub batch: usize,
    pub seq: usize,
    pub hidden: usize,
    /// `[B, S, H]`, padding rows zero.
    pub word: Vec<f32>,
    /// `[B, S]`, 1 for tokens.
    pub mask: Vec<f32>,
}

impl PaddedBatch {
    /// Pads `ids` to the longest sequence and gathers their rows from `table`.
    pub fn gather<'a>(
        table: &EmbeddingTable,
        ids: impl IntoIterator<Item = &'a [u32]>,
    ) -> Result<Self, EncoderError> {
        Self::gather_padded(table, ids, 0)
    }

    /// [`PaddedBatch::gather`] padded to at least `min_seq` positions.
    pub fn gather_padded<'a>(
        table: &EmbeddingTable,
        ids: impl IntoIterator<Item = &'a [u32]>,
        min_seq: usize,
    ) -> Result<Self, EncoderError> {
        let ids: Vec<&[u32]> = ids.into_iter().collect();
        let longest = ids.iter().map(|t| t.len()).max().unwrap_or(0);
        if longest == 0 {
            return Err(EncoderError::Input(
                "a text tokenized to zero tokens".into(),
            ));
        }
        let seq = longest.max(min_seq);
        let hidden = table.cols();
        let mut word = Vec::with_capacity(ids.len() * seq * hidden);
        let mut mask = Vec::with_capacity(ids.len() * seq);
        for t in &ids {
            table.gather_into(t, &mut word)?;
            word.resize(word.len() + (seq - t.len()) * hidden, 0.0);
            mask.extend((0..seq).map(|i| if i < t.len() { 1.0 } else { 0.0 }));
        }
        Ok(Self {
            batch: ids.len(),
            seq,
            hidden,
            word,
            mask,
        })
    }

    /// `(word [B, S, H], mask [B, S])` on `device`.
    pub fn to_tensors(&self, device: &burn::tensor::Device) -> (Tensor<3>, Tensor<2>) {
        let word = Tensor::<3>::from_data(
            TensorData::new(self.word.clone(), [self.batch, self.seq, self.hidden]),
            device,
        );
        let mask = Tensor::<2>::from_data(
            TensorData::new(self.mask.clone(), [self.batch, self.seq]),
            device,
        );
        (word, mask)
    }
}

/// One planned batch: the texts' positions in the caller's order and their padded inputs.
struct Batch {
    members: Vec<usize>,
    inputs: PaddedBatch,
}

/// The network an [`Encoder`] runs: the burn module on a burn device, or the host engine for
/// CPU inference.
#[derive(Debug)]
enum Model {
    Burn(Box<BertEncoder>),
    Host(HostBert),
}

/// The number format of the host engine's dense layers.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// f32 throughout: the reference, equal to PyTorch within 1e-6.
    #[default]
    F32,
    /// Dense layers in 8 bits (per-channel weights, per-token inputs); faster in WebAssembly,
    /// embeddings within a cosine of about 0.995 of f32.
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = EncoderError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "f32" => Ok(Self::F32),
            "int8" => Ok(Self::Int8),
            _ => Err(EncoderError::Input(format!(
                "unknown precision {s:?} (expected `f32` or `int8`)"
            ))),
        }
    }
}

/// A sentence encoder on one device.
#[derive(Debug)]
pub struct Encoder {
    model: Model,
    runtime: Runtime,
    tokenizer: Arc<TextTokenizer>,
    embeddings: Arc<EmbeddingTable>,
    pub batching: Batching,
}

impl Encoder {
    /// This encoder at `precision`. [`Precision::Int8`] needs the host engine
    /// ([`BackendKind::Cpu`](crate::BackendKind::Cpu)); converting is one pass over the
    /// weights (the f32 copies are dropped).
    pub fn into_precision(self, precision: Precision) -> Result<Self, EncoderError> {
        match (precision, self.model) {
            (Precision::F32, model) => Ok(Self { model, ..self }),
            (Precision::Int8, Model::Host(host)) => Ok(Self {
                model: Model::Host(host.into_int8()),
                ..self
            }),
            (Precision::Int8, Model::Burn(_)) => Err(EncoderError::Input(format!(
                "8-bit inference needs the CPU host engine, not {}",
                self.runtime.kind
            ))),
        }
    }

    pub fn runtime(&self) -> &Runtime {
        &self.runtime
    }

    pub fn dim(&self) -> usize {
        self.embeddings.cols()
    }

    pub fn tokenizer(&self) -> &TextTokenizer {
        &self.tokenizer
    }

    pub fn tokenize<S: AsRef<str>>(
        &self,
        kind: TextKind,
        texts: &[S],
    ) -> Result<Vec<Vec<u32>>, EncoderError> {
        texts
            .iter()
            .map(|t| self.tokenizer.encode(kind, t.as_ref()))
            .collect()
    }

    /// Groups texts into batches of at most `max_tokens` padded tokens (and `max_batch` texts).
    fn plan(&self, ids: &[Vec<u32>], max_tokens: usize) -> Vec<Vec<usize>> {
        let mut order: Vec<usize> = (0..ids.len()).collect();
        order.sort_by_key(|&i| std::cmp::Reverse(ids[i].len()));
        let mut batches: Vec<Vec<usize>> = Vec::new();
        let mut current: Vec<usize> = Vec::new();
        for i in order {
            // Sorted longest first, so the first member sets the padded length.
            let seq = self.padded_len(current.first().map_or(ids[i].len(), |&f| ids[f].len()));
            if !current.is_empty()
                && (current.len() >= self.batching.max_batch
                    || (current.len() + 1) * seq > max_tokens)
            {
                batches.push(std::mem::take(&mut current));
            }
            current.push(i);
        }
        if !current.is_empty() {
            batches.push(current);
        }
        batches
    }

    /// The padded length for a batch whose longest member has `longest` tokens.
    fn padded_len(&self, longest: usize) -> usize {
        let limit = match &self.model {
            Model::Burn(m) => m.max_positions(),
            Model::Host(m) => m.max_positions(),
        };
        self.batching.padded_len(longest, limit).max(1)
    }

    fn gather(&self, ids: &[Vec<u32>], members: Vec<usize>) -> Result<Batch, EncoderError> {
        let longest = members.iter().map(|&i| ids[i].len()).max().unwrap_or(0);
        let inputs = PaddedBatch::gather_padded(
            &self.embeddings,
            members.iter().map(|&i| ids[i].as_slice()),
            self.padded_len(longest),
        )?;
        Ok(Batch { members, inputs })
    }

    /// The batch's embeddings `[B, H]`, row-major.
    async fn forward(&self, batch: &Batch) -> Result<Vec<f32>, EncoderError> {
        match &self.model {
            Model::Host(model) => model.forward(&batch.inputs),
            Model::Burn(model) => {
                let (word, mask) = batch.inputs.to_tensors(&self.runtime.device);
                model
                    .forward(word, mask)
                    .into_data_async()
                    .await
                    .map_err(|e| EncoderError::Readback(format!("{e:?}")))?
                    .try_into_vec::<f32>()
                    .map_err(|e| EncoderError::Readback(format!("{e:?}")))
            }
        }
    }

    /// Copies the batch's embeddings to their texts' rows of `out`; a non-finite embedding is
    /// an error naming its text (every engine's output passes here).
    fn scatter(&self, out: &mut [f32], batch: &Batch, values: &[f32]) -> Result<(), EncoderError> {
        let h = self.dim();
        if values.len() != batch.members.len() * h {
            return Err(EncoderError::Readback(format!(
                "{} values for {} embeddings of {h}",
                values.len(),
                batch.members.len()
            )));
        }
        for (&i, row) in batch.members.iter().zip(values.chunks_exact(h)) {
            if row.iter().any(|v| !v.is_finite()) {
                return Err(EncoderError::NonFinite { index: i });
            }
            out[i * h..(i + 1) * h].copy_from_slice(row);
        }
        Ok(())
    }

    /// Embeds token-id sequences (from [`Encoder::tokenize`]). `progress(done, total)` counts
    /// tokens (a few long texts are as much work as many short ones) and is called after every
    /// batch (every group of concurrent batches on the host engine). Works on every target:
    /// read-backs are awaited.
    pub async fn embed_ids(
        &self,
        ids: &[Vec<u32>],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embeddings, EncoderError> {
        let (max_tokens, concurrent) = self.concurrency();
        let mut out = vec![0.0; ids.len() * self.dim()];
        let total: usize = ids.iter().map(Vec::len).sum();
        let mut done = 0;
        for group in self.plan(ids, max_tokens).chunks(concurrent) {
            for (batch, values) in self.forward_group(ids, group).await? {
                self.scatter(&mut out, &batch, &values)?;
                done += batch.members.iter().map(|&i| ids[i].len()).sum::<usize>();
            }
            progress(done, total);
        }
        Ok(Embeddings {
            dim: self.dim(),
            data: out,
        })
    }

    /// The batch size (padded tokens) and how many batches run at once. One at a time, as
    /// large as [`Batching`] allows, except natively on the host engine: one batch per core,
    /// each `2 / cores` of the usual size, so that the cores share out whole batches instead of
    /// meeting after every operation (which limited them on many cores), while the activations
    /// in memory stay those of two full batches. Batches that do not fill the cores split
    /// their operations over the idle ones (rayon's work stealing).
    fn concurrency(&self) -> (usize, usize) {
        let max_tokens = self.batching.max_tokens;
        #[cfg(not(target_family = "wasm"))]
        if let Model::Host(_) = self.model {
            let threads = rayon::current_num_threads().max(1);
            let per_batch =
                (max_tokens * 2 / threads).clamp(MIN_CONCURRENT_TOKENS.min(max_tokens), max_tokens);
            let concurrent = threads.min((2 * max_tokens / per_batch.max(1)).max(1));
            return (per_batch, concurrent);
        }
        (max_tokens, 1)
    }

    /// Gathers and encodes `group`'s batches (at the same time on the host engine).
    async fn forward_group(
        &self,
        ids: &[Vec<u32>],
        group: &[Vec<usize>],
    ) -> Result<Vec<(Batch, Vec<f32>)>, EncoderError> {
        #[cfg(not(target_family = "wasm"))]
        if let Model::Host(model) = &self.model {
            use rayon::prelude::*;
            return group
                .par_iter()
                .map(|members| {
                    let batch = self.gather(ids, members.clone())?;
                    let values = model.forward(&batch.inputs)?;
                    Ok((batch, values))
                })
                .collect();
        }
        let mut results = Vec::with_capacity(group.len());
        for members in group {
            let batch = self.gather(ids, members.clone())?;
            let values = self.forward(&batch).await?;
            results.push((batch, values));
        }
        Ok(results)
    }

    pub async fn embed<S: AsRef<str>>(
        &self,
        kind: TextKind,
        texts: &[S],
    ) -> Result<Embeddings, EncoderError> {
        let ids = self.tokenize(kind, texts)?;
        self.embed_ids(&ids, &mut |_, _| {}).await
    }

    /// The windows of every text ([`TextTokenizer::encode_windows`]), per text: token ids and
    /// weight of each window. Feed them to [`Encoder::embed_windows`].
    pub fn tokenize_windows<S: AsRef<str>>(
        &self,
        kind: TextKind,
        texts: &[S],
        overlap: usize,
    ) -> Result<Vec<TextWindows>, EncoderError> {
        texts
            .iter()
            .map(|t| self.tokenizer.encode_windows(kind, t.as_ref(), overlap))
            .collect()
    }

    /// Embeds whole texts however long, from [`Encoder::tokenize_windows`]: every window is
    /// encoded, then each text's windows are averaged, weighted by the text tokens each adds,
    /// and normalised again. Texts that fit give exactly [`Encoder::embed`]'s vectors.
    /// `progress(done, total)` counts tokens over all windows.
    pub async fn embed_windows(
        &self,
        windows: &[TextWindows],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embeddings, EncoderError> {
        let (ids, owners): (Vec<Vec<u32>>, Vec<(usize, f32)>) = windows
            .iter()
            .enumerate()
            .flat_map(|(t, text)| {
                text.iter()
                    .map(move |(ids, weight)| (ids.clone(), (t, *weight as f32)))
            })
            .unzip();
        // A non-finite window names the text it belongs to.
        let embedded = self.embed_ids(&ids, progress).await.map_err(|e| match e {
            EncoderError::NonFinite { index } => EncoderError::NonFinite {
                index: owners[index].0,
            },
            e => e,
        })?;
        let h = self.dim();
        let mut out = vec![0.0f32; windows.len() * h];
        for (row, &(t, weight)) in embedded.rows().zip(&owners) {
            for (o, x) in out[t * h..(t + 1) * h].iter_mut().zip(row) {
                *o += weight * x;
            }
        }
        for row in out.chunks_mut(h) {
            let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
            if norm > 0.0 {
                row.iter_mut().for_each(|x| *x /= norm);
            }
        }
        Ok(Embeddings { dim: h, data: out })
    }

    /// Native, synchronous version of [`Encoder::embed_windows`].
    #[cfg(not(target_family = "wasm"))]
    pub fn embed_windows_blocking(
        &self,
        windows: &[TextWindows],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embeddings, EncoderError> {
        block_on(self.embed_windows(windows, progress))
    }

    /// Native, synchronous version of [`Encoder::embed_ids`].
    #[cfg(not(target_family = "wasm"))]
    pub fn embed_ids_blocking(
        &self,
        ids: &[Vec<u32>],
        progress: &mut dyn FnMut(usize, usize),
    ) -> Result<Embeddings, EncoderError> {
        block_on(self.embed_ids(ids, progress))
    }

    #[cfg(not(target_family = "wasm"))]
    pub fn embed_blocking<S: AsRef<str>>(
        &self,
        kind: TextKind,
        texts: &[S],
    ) -> Result<Embeddings, EncoderError> {
        let ids = self.tokenize(kind, texts)?;
        self.embed_ids_blocking(&ids, &mut |_, _| {})
    }
}

/// Drives a future to completion on this thread (native read-backs resolve without an
/// executor's help; parking just waits for the device).
#[cfg(not(target_family = "wasm"))]
fn block_on<F: std::future::Future>(future: F) -> F::Output {
    use std::task::{Context, Poll, Wake, Waker};
    struct Unpark(std::thread::Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(std::thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = std::pin::pin!(future);
    loop {
        match future.as_mut().poll(&mut cx) {
            Poll::Ready(out) => return out,
            Poll::Pending => std::thread::park(),
        }
    }
}

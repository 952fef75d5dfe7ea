//! One optimisation step: embed a batch with the adapted encoder, compute the losses,
//! back-propagate into the trainable tensors only (LoRA factors, or the layer weights for full
//! fine-tuning), clip and apply AdamW.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result, bail};
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, Optimizer};
use burn::tensor::{Device, Tensor};
use langbias_assets::EmbeddingTable;
use langbias_encoder::model::BertEncoder;
use langbias_encoder::{Batching, PaddedBatch};
use langbias_eval::debias::Side;
use langbias_eval::{ENGLISH, LanguageMeans};

use crate::layers::TrainableLayers;
use crate::lora::TrainableLora;
use crate::loss::{AnchorTo, LossConfig, Losses, anchor_loss, losses};

/// A training sample as token ids (prefixes and truncation already applied).
#[derive(Debug, Clone)]
pub struct TokenizedSample {
    /// The language of `query_l` and `doc_l` (the other side is English).
    pub lang: String,
    pub query_l: Vec<u32>,
    pub query_en: Vec<u32>,
    pub doc_l: Vec<u32>,
    pub doc_en: Vec<u32>,
}

/// What one step measured.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct StepStats {
    pub loss: f32,
    pub nce: f32,
    pub jsd: f32,
    /// The anchor term before its weight (0 when off).
    pub anchor: f32,
    /// Global gradient norm before clipping.
    pub grad_norm: f32,
}

/// What a run trains.
#[derive(Debug, Clone)]
pub enum Trainable {
    /// LoRA factors on the frozen layers.
    Lora(TrainableLora),
    /// The layers' own weights (full fine-tuning).
    Layers(TrainableLayers),
}

impl Trainable {
    /// Every trainable leaf by a stable name (optimiser state and checkpoints use it).
    pub fn leaves(&self) -> Vec<(String, &Tensor<2>)> {
        match self {
            Trainable::Lora(lora) => lora
                .factors
                .iter()
                .flat_map(|(&(layer, target), f)| {
                    let name = target.hf_name(layer);
                    [(format!("{name}.a"), &f.a), (format!("{name}.b"), &f.b)]
                })
                .collect(),
            Trainable::Layers(layers) => {
                layers.leaves.iter().map(|(n, t)| (n.clone(), t)).collect()
            }
        }
    }

    /// Replaces the leaf called `name` (tests probe the loss with it). Unknown names change
    /// nothing.
    #[cfg(test)]
    pub fn set_leaf(&mut self, name: &str, value: Tensor<2>) {
        let names: Vec<String> = self.leaves().into_iter().map(|(n, _)| n).collect();
        if let Some(i) = names.iter().position(|n| n == name) {
            *self.leaves_mut()[i] = value;
        }
    }

    /// [`leaves`](Self::leaves), mutable, in the same order.
    fn leaves_mut(&mut self) -> Vec<&mut Tensor<2>> {
        match self {
            Trainable::Lora(lora) => lora
                .factors
                .values_mut()
                .flat_map(|f| [&mut f.a, &mut f.b])
                .collect(),
            Trainable::Layers(layers) => layers.leaves.values_mut().collect(),
        }
    }

    pub fn num_params(&self) -> usize {
        match self {
            Trainable::Lora(lora) => lora.num_params(),
            Trainable::Layers(layers) => layers.num_params(),
        }
    }

    fn device(&self) -> Result<Device> {
        let first = match self {
            Trainable::Lora(lora) => lora.factors.values().next().map(|f| &f.a),
            Trainable::Layers(layers) => layers.leaves.values().next(),
        };
        Ok(first.context("nothing to train")?.device())
    }
}

/// The frozen encoder, what is trained and the optimiser state.
pub struct Learner<'a> {
    /// On an autodiff device, every base parameter frozen.
    pub model: BertEncoder,
    /// Copies of the frozen model on further devices (data parallelism; empty = one device).
    /// Each embeds its share of a batch with the trained tensors moved to its device; the
    /// embeddings come back to the first device for the losses, so the gradients of the one
    /// set of trained tensors sum every device's contribution.
    pub replicas: Vec<(BertEncoder, Device)>,
    pub table: &'a EmbeddingTable,
    pub trainable: Trainable,
    pub optimizer: AdamW,
    /// AdamW state per leaf name (absent until the leaf's first step).
    pub states: BTreeMap<String, AdamWState<2>>,
    pub loss: LossConfig,
    /// Clip the global gradient norm to this (0 = off).
    pub clip_norm: f32,
    /// Padded lengths rounded as the encoder does on this backend (see [`Batching`]).
    pub batching: Batching,
    /// Per-language mean of the frozen base model's document embeddings over the training
    /// data (`[H]` each, English under `en`), set by [`Self::with_document_means`] when
    /// [`LossConfig::centred`]: the losses then see each document centred on its language's
    /// mean and renormalised, as `langbias` ranks with `--debias centre`.
    pub document_means: Option<LanguageMeans>,
}

impl<'a> Learner<'a> {
    pub fn new(
        model: BertEncoder,
        table: &'a EmbeddingTable,
        trainable: Trainable,
        weight_decay: f32,
        loss: LossConfig,
        clip_norm: f32,
    ) -> Self {
        Self {
            model,
            replicas: Vec::new(),
            table,
            trainable,
            optimizer: AdamWConfig::new().with_weight_decay(weight_decay).build(),
            states: BTreeMap::new(),
            loss,
            clip_norm,
            batching: Batching::default(),
            document_means: None,
        }
    }

    /// Computes [`Self::document_means`] over the distinct documents of `samples` with the
    /// frozen base model (constants: no gradient flows through them).
    pub fn with_document_means(mut self, samples: &[TokenizedSample]) -> Result<Self> {
        let mut docs: BTreeSet<(&str, &[u32])> = BTreeSet::new();
        for s in samples {
            docs.insert((&s.lang, &s.doc_l));
            docs.insert((ENGLISH, &s.doc_en));
        }
        let (langs, ids): (Vec<&str>, Vec<&[u32]>) = docs.into_iter().unzip();
        let mut rows = Vec::new();
        for chunk in ids.chunks(32) {
            let values = self
                .embed_base(chunk)?
                .into_data()
                .try_into_vec::<f32>()
                .map_err(|e| anyhow::anyhow!("reading embeddings back: {e:?}"))?;
            rows.extend(values);
        }
        let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
        langs
            .iter()
            .for_each(|l| *counts.entry(l).or_default() += 1);
        if let Some((lang, _)) = counts.iter().find(|(_, n)| **n < 2) {
            bail!(
                "centred losses: the training data has a single {lang} document, which would be \
                 its own mean (nothing left after centring)"
            );
        }
        let dim = rows.len() / langs.len().max(1);
        let no_queries: (&[f32], &[&str]) = (&[], &[]);
        self.document_means = Some(LanguageMeans::fit(
            dim,
            (&rows, &langs),
            no_queries,
            "frozen base model, training documents",
        )?);
        Ok(self)
    }

    /// `docs [2B, H]` (`doc_l` rows, then `doc_en` rows) centred on their languages' means and
    /// renormalised.
    pub(crate) fn centre_documents(
        &self,
        docs: Tensor<2>,
        batch: &[&TokenizedSample],
    ) -> Result<Tensor<2>> {
        let [n, h] = docs.dims();
        let langs = batch
            .iter()
            .map(|s| s.lang.as_str())
            .chain(batch.iter().map(|_| ENGLISH));
        let fitted = self
            .document_means
            .as_ref()
            .context("centred losses: no document means (call with_document_means)")?;
        let mut means = Vec::with_capacity(n * h);
        for lang in langs {
            means.extend_from_slice(fitted.mean(Side::Document, lang, h)?);
        }
        let means = Tensor::from_data(burn::tensor::TensorData::new(means, [n, h]), &docs.device());
        let centred = docs - means;
        let norm = centred
            .clone()
            .powf_scalar(2.0)
            .sum_dim(1)
            .sqrt()
            .clamp_min(1e-12);
        Ok(centred / norm)
    }

    /// Rounds padded lengths as `batching` says (fewer distinct shapes on the GPU).
    pub fn with_batching(mut self, batching: Batching) -> Self {
        self.batching = batching;
        self
    }

    /// Spreads the encoding of every batch over `replicas` as well (see [`Self::replicas`]).
    pub fn with_replicas(mut self, replicas: Vec<(BertEncoder, Device)>) -> Self {
        self.replicas = replicas;
        self
    }

    /// Sentence embeddings `[n, H]` of token sequences through the adapted encoder.
    pub fn embed(&self, ids: &[&[u32]]) -> Result<Tensor<2>> {
        self.embed_sharded(ids, true)
    }

    /// Sentence embeddings `[n, H]` through the frozen base model, outside the graph.
    fn embed_base(&self, ids: &[&[u32]]) -> Result<Tensor<2>> {
        Ok(self.embed_sharded(ids, false)?.detach())
    }

    /// Embeds consecutive shards of `ids` on the first device and the replicas, gathered on the
    /// first device in input order.
    fn embed_sharded(&self, ids: &[&[u32]], adapted: bool) -> Result<Tensor<2>> {
        if ids.is_empty() {
            bail!("nothing to embed");
        }
        let device = self.trainable.device()?;
        let per_device = ids.len().div_ceil(1 + self.replicas.len());
        let mut parts = Vec::with_capacity(1 + self.replicas.len());
        for (k, shard) in ids.chunks(per_device).enumerate() {
            let longest = shard.iter().map(|t| t.len()).max().unwrap_or(0);
            let seq = self
                .batching
                .padded_len(longest, self.model.max_positions());
            let batch = PaddedBatch::gather_padded(self.table, shard.iter().copied(), seq)?;
            let (model, target) = match k {
                0 => (&self.model, None),
                _ => {
                    let (model, replica_device) = &self.replicas[k - 1];
                    (model, Some(replica_device))
                }
            };
            let (word, mask) = batch.to_tensors(target.unwrap_or(&device));
            let part = match (&self.trainable, adapted) {
                (_, false) => model.forward(word, mask),
                (Trainable::Lora(lora), true) => {
                    let deltas = match target {
                        None => lora.deltas(),
                        Some(d) => lora.deltas_on(d),
                    };
                    model.forward_with(word, mask, &deltas)
                }
                (Trainable::Layers(layers), true) => {
                    layers.apply(model, target)?.forward(word, mask)
                }
            };
            let part = match target {
                None => part,
                Some(_) => part.to_device(&device),
            };
            parts.push(part);
        }
        Ok(Tensor::cat(parts, 0))
    }

    /// Anchor targets `[4B, H]` in the order `[ql; qe; dl; de]` (see [`AnchorTo`]).
    fn anchor_targets(&self, batch: &[&TokenizedSample]) -> Result<Tensor<2>> {
        let b = batch.len();
        let pick = |f: fn(&TokenizedSample) -> &[u32]| batch.iter().map(move |s| f(s));
        match self.loss.anchor_to {
            AnchorTo::English => {
                let texts: Vec<&[u32]> = pick(|s| &s.query_en).chain(pick(|s| &s.doc_en)).collect();
                let base = self.embed_base(&texts)?;
                let h = base.dims()[1];
                let qe = base.clone().slice([0..b, 0..h]);
                let de = base.slice([b..2 * b, 0..h]);
                Ok(Tensor::cat(vec![qe.clone(), qe, de.clone(), de], 0))
            }
            AnchorTo::Own => {
                let texts: Vec<&[u32]> = pick(|s| &s.query_l)
                    .chain(pick(|s| &s.query_en))
                    .chain(pick(|s| &s.doc_l))
                    .chain(pick(|s| &s.doc_en))
                    .collect();
                self.embed_base(&texts)
            }
        }
    }

    /// The losses of a batch (graph attached, nothing updated).
    pub fn losses(&self, batch: &[&TokenizedSample]) -> Result<Losses> {
        let b = batch.len();
        if b < 2 {
            bail!("a batch needs at least 2 samples for in-batch negatives");
        }
        let mut queries: Vec<&[u32]> = batch.iter().map(|s| s.query_l.as_slice()).collect();
        queries.extend(batch.iter().map(|s| s.query_en.as_slice()));
        let mut docs: Vec<&[u32]> = batch.iter().map(|s| s.doc_l.as_slice()).collect();
        docs.extend(batch.iter().map(|s| s.doc_en.as_slice()));
        let q = self.embed(&queries)?;
        let d = self.embed(&docs)?;
        let h = q.dims()[1];
        let half = |t: &Tensor<2>, k: usize| t.clone().slice([k * b..(k + 1) * b, 0..h]);
        // The losses see centred documents when asked; the anchor keeps the raw embeddings.
        let d_seen = if self.loss.centred {
            self.centre_documents(d.clone(), batch)?
        } else {
            d.clone()
        };
        let l = losses(
            &self.loss,
            half(&q, 0),
            half(&q, 1),
            half(&d_seen, 0),
            half(&d_seen, 1),
            &langbias_train_data::first_seen_ids(docs.iter().copied()),
        );
        if self.loss.anchor <= 0.0 {
            return Ok(l);
        }
        let targets = self.anchor_targets(batch)?;
        let anchor = anchor_loss(Tensor::cat(vec![q, d], 0), targets);
        Ok(l.with_anchor(anchor, self.loss.anchor))
    }

    /// Forward, backward, clip, AdamW at learning rate `lr`. Returns an error, changing nothing,
    /// when the loss or the gradients are not finite.
    pub fn step(&mut self, batch: &[&TokenizedSample], lr: f64) -> Result<StepStats> {
        let l = self.losses(batch)?;
        let scalar = |t: &Tensor<1>| -> Result<f32> {
            let v = t.clone().detach().into_data().try_to_vec::<f32>();
            v.ok()
                .and_then(|v| v.first().copied())
                .context("reading a loss back")
        };
        let (loss, nce, jsd, anchor) = (
            scalar(&l.total)?,
            scalar(&l.nce)?,
            scalar(&l.jsd)?,
            scalar(&l.anchor)?,
        );
        if !loss.is_finite() {
            bail!("the loss is {loss} (NCE {nce}, JSD {jsd})");
        }
        let grads = l.total.backward();
        let leaves = self.trainable.leaves();
        let mut pending = Vec::with_capacity(leaves.len());
        let mut squares = Vec::with_capacity(leaves.len());
        for (name, leaf) in leaves {
            let grad = leaf
                .grad(&grads)
                .with_context(|| format!("no gradient for {name}"))?;
            squares.push(grad.clone().powi_scalar(2).sum());
            pending.push((name, grad));
        }
        // One read-back for the global norm instead of one per leaf.
        let norm_sq = Tensor::cat(squares, 0).sum().into_scalar::<f32>();
        let grad_norm = norm_sq.sqrt();
        if !grad_norm.is_finite() {
            bail!("the gradient norm is {grad_norm} (loss {loss})");
        }
        let factor = if self.clip_norm > 0.0 && grad_norm > self.clip_norm {
            self.clip_norm / grad_norm
        } else {
            1.0
        };
        for (leaf, (name, grad)) in self.trainable.leaves_mut().into_iter().zip(pending) {
            let state = self.states.remove(&name);
            let (updated, state) =
                self.optimizer
                    .step(lr, leaf.clone().inner(), grad * factor, state);
            *leaf = updated.autodiff().require_grad();
            if let Some(state) = state {
                self.states.insert(name, state);
            }
        }
        Ok(StepStats {
            loss,
            nce,
            jsd,
            anchor,
            grad_norm,
        })
    }
}

/// Rebuilds AdamW state from saved moments (`time` = steps taken).
pub fn adamw_state(time: usize, moment_1: Tensor<2>, moment_2: Tensor<2>) -> AdamWState<2> {
    AdamWState::new(AdaptiveMomentumState::new(time, moment_1, moment_2))
}

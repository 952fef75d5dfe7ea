//! One optimisation step: embed a batch with the adapted encoder, compute the losses,
//! back-propagate into the LoRA factors only, clip and apply AdamW.

use std::collections::BTreeMap;

use anyhow::{Context, Result, bail};
use burn::optim::{AdamW, AdamWConfig, AdamWState, AdaptiveMomentumState, Optimizer};
use burn::tensor::{Device, Tensor};
use langbias_assets::EmbeddingTable;
use langbias_encoder::PaddedBatch;
use langbias_encoder::model::BertEncoder;

use crate::lora::{Target, TrainableLora};
use crate::loss::{AnchorTo, LossConfig, Losses, anchor_loss, losses};

/// A training sample as token ids (prefixes and truncation already applied).
#[derive(Debug, Clone)]
pub struct TokenizedSample {
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

/// AdamW moments of one factor pair.
pub type FactorStates = (Option<AdamWState<2>>, Option<AdamWState<2>>);

/// The frozen encoder, its trainable adapter and the optimiser state.
pub struct Learner<'a> {
    /// On an autodiff device, every base parameter frozen.
    pub model: BertEncoder,
    /// Copies of the frozen model on further devices (data parallelism; empty = one device).
    /// Each embeds its share of a batch with the adapter moved to its device; the embeddings
    /// come back to the first device for the losses, so the gradients of the one adapter sum
    /// every device's contribution.
    pub replicas: Vec<(BertEncoder, Device)>,
    pub table: &'a EmbeddingTable,
    pub lora: TrainableLora,
    pub optimizer: AdamW,
    pub states: BTreeMap<(usize, Target), FactorStates>,
    pub loss: LossConfig,
    /// Clip the global gradient norm to this (0 = off).
    pub clip_norm: f32,
}

impl<'a> Learner<'a> {
    pub fn new(
        model: BertEncoder,
        table: &'a EmbeddingTable,
        lora: TrainableLora,
        weight_decay: f32,
        loss: LossConfig,
        clip_norm: f32,
    ) -> Self {
        Self {
            model,
            replicas: Vec::new(),
            table,
            lora,
            optimizer: AdamWConfig::new().with_weight_decay(weight_decay).build(),
            states: BTreeMap::new(),
            loss,
            clip_norm,
        }
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
        let device = self
            .lora
            .factors
            .values()
            .next()
            .context("adapter without factors")?
            .a
            .device();
        let per_device = ids.len().div_ceil(1 + self.replicas.len());
        let mut parts = Vec::with_capacity(1 + self.replicas.len());
        for (k, shard) in ids.chunks(per_device).enumerate() {
            let batch = PaddedBatch::gather(self.table, shard.iter().copied())?;
            let part = if k == 0 {
                let deltas = if adapted {
                    self.lora.deltas()
                } else {
                    Vec::new()
                };
                let (word, mask) = batch.to_tensors(&device);
                self.model.forward_with(word, mask, &deltas)
            } else {
                let (model, replica_device) = &self.replicas[k - 1];
                let deltas = if adapted {
                    self.lora.deltas_on(replica_device)
                } else {
                    Vec::new()
                };
                let (word, mask) = batch.to_tensors(replica_device);
                model.forward_with(word, mask, &deltas).to_device(&device)
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
        let l = losses(
            &self.loss,
            half(&q, 0),
            half(&q, 1),
            half(&d, 0),
            half(&d, 1),
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
        let mut pending = Vec::with_capacity(self.lora.factors.len());
        let mut squares = Vec::with_capacity(2 * self.lora.factors.len());
        for (&key, f) in &self.lora.factors {
            let grad_a =
                f.a.grad(&grads)
                    .with_context(|| format!("no gradient for {key:?} A"))?;
            let grad_b =
                f.b.grad(&grads)
                    .with_context(|| format!("no gradient for {key:?} B"))?;
            squares.push(grad_a.clone().powi_scalar(2).sum());
            squares.push(grad_b.clone().powi_scalar(2).sum());
            pending.push((key, grad_a, grad_b));
        }
        // One read-back for the global norm instead of one per factor.
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
        for (key, grad_a, grad_b) in pending {
            let f = self.lora.factors.get_mut(&key).context("factor vanished")?;
            let (state_a, state_b) = self.states.remove(&key).unwrap_or((None, None));
            let (a, state_a) =
                self.optimizer
                    .step(lr, f.a.clone().inner(), grad_a * factor, state_a);
            let (b, state_b) =
                self.optimizer
                    .step(lr, f.b.clone().inner(), grad_b * factor, state_b);
            f.a = a.autodiff().require_grad();
            f.b = b.autodiff().require_grad();
            self.states.insert(key, (state_a, state_b));
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

//! The two training objectives on a batch of `B` parallel samples, all embeddings unit-length
//! `[B, H]`: `ql`/`qe` the query in language L and in English, `dl`/`de` the relevant document
//! in L and in English (row `i` of each belongs to sample `i`).
//!
//! * InfoNCE: cosine / τ over the `2B` in-batch documents `[dl; de]`. For each query direction
//!   the positive is one version of the sample's own document; its *other* (parallel) version,
//!   and any other in-batch copy or translation of that paragraph, is removed from the
//!   denominator so translations never compete with each other.
//! * Jensen–Shannon divergence (natural log, bounded by ln 2) between the softmax similarity
//!   distributions of the parallel pair over the in-batch candidates: by default the English
//!   query and its L query over the `2B` documents; optionally the two document versions over
//!   the `2B` queries.
//! * Anchor (optional, weight μ): `1 − cos` between each adapted embedding and a target from
//!   the frozen base model — by default the base embedding of the text's *English* version
//!   (multilingual distillation, Reimers & Gurevych 2020), so English stays where the base put
//!   it and L moves onto it; or the base embedding of the text itself. It holds the space the
//!   base model ranks well in while InfoNCE and JSD pull the languages together.

use burn::tensor::activation::log_softmax;
use burn::tensor::{Device, Tensor, TensorData};
use serde::{Deserialize, Serialize};

/// Additive logit for masked-out candidates: far below any cosine/τ (|cos/τ| ≤ 1/τ).
const MASKED: f32 = -1.0e4;

/// Which query→document directions InfoNCE averages over.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum NceDirections {
    /// L→L, L→en, en→en, en→L.
    All,
    /// L→L and L→en only (the target-language user's view).
    Target,
}

/// Which parallel pairs JSD compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum JsdOn {
    /// English query vs L query, over the in-batch documents.
    Queries,
    /// English document vs L document, over the in-batch queries.
    Documents,
    /// The mean of both.
    Both,
}

/// Which losses are optimised (`--loss` for the ablations).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum LossKind {
    Nce,
    Jsd,
    Both,
}

/// What the anchor pulls each adapted embedding towards (always a frozen base embedding).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AnchorTo {
    /// The base embedding of the text's English version (L and English both map onto it).
    #[default]
    English,
    /// The base embedding of the text itself (resists every change, alignment included).
    Own,
}

/// Loss hyper-parameters.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LossConfig {
    pub kind: LossKind,
    /// Weight of JSD in `L = L_NCE + λ·L_JSD`.
    pub lambda: f32,
    /// InfoNCE temperature.
    pub tau: f32,
    /// Temperature of the distributions JSD compares.
    pub jsd_tau: f32,
    pub nce_directions: NceDirections,
    pub jsd_on: JsdOn,
    /// Weight μ of the anchor term (0 = off).
    #[serde(default)]
    pub anchor: f32,
    #[serde(default)]
    pub anchor_to: AnchorTo,
    /// InfoNCE and JSD on documents centred on their language's mean (the frozen base model's,
    /// over the training data) and renormalised: training for the way the adapter is ranked
    /// with `centring = documents`. The anchor term keeps the raw embeddings.
    #[serde(default)]
    pub centred: bool,
}

impl Default for LossConfig {
    fn default() -> Self {
        Self {
            kind: LossKind::Both,
            lambda: 1.0,
            tau: 0.05,
            jsd_tau: 0.05,
            nce_directions: NceDirections::All,
            jsd_on: JsdOn::Queries,
            anchor: 0.0,
            anchor_to: AnchorTo::English,
            centred: false,
        }
    }
}

/// Scalar tensors of one step (`[1]` each); `total` is what is differentiated.
#[derive(Debug, Clone)]
pub struct Losses {
    pub total: Tensor<1>,
    pub nce: Tensor<1>,
    pub jsd: Tensor<1>,
    /// The anchor term before its weight (0 when off).
    pub anchor: Tensor<1>,
}

impl Losses {
    /// Adds `weight · anchor` to the total.
    pub fn with_anchor(mut self, anchor: Tensor<1>, weight: f32) -> Self {
        self.total = self.total + anchor.clone().mul_scalar(weight);
        self.anchor = anchor;
        self
    }
}

/// Mean `1 − cos` between the rows of `student` and `teacher`, both unit-length `[N, H]`.
pub fn anchor_loss(student: Tensor<2>, teacher: Tensor<2>) -> Tensor<1> {
    let [n, _] = student.dims();
    (student * teacher)
        .sum()
        .neg()
        .add_scalar(n as f32)
        .div_scalar(n as f32)
}

/// InfoNCE of `queries [B, H]` against `candidates [2B, H]` where the positive of row `i` is
/// column `positive(i)` and every column `j` with `left_out(i, j)` is left out of the
/// denominator (never the positive). Returns the mean loss `[1]`.
pub fn info_nce(
    queries: Tensor<2>,
    candidates: Tensor<2>,
    tau: f32,
    positive: impl Fn(usize) -> usize,
    left_out: impl Fn(usize, usize) -> bool,
) -> Tensor<1> {
    let [b, _] = queries.dims();
    let [n, _] = candidates.dims();
    let device = queries.device();
    let mut bias = vec![0.0f32; b * n];
    let mut pick = vec![0.0f32; b * n];
    for i in 0..b {
        for j in 0..n {
            if j != positive(i) && left_out(i, j) {
                bias[i * n + j] = MASKED;
            }
        }
        pick[i * n + positive(i)] = 1.0;
    }
    let logits =
        queries.matmul(candidates.transpose()).div_scalar(tau) + host(bias, [b, n], &device);
    let log_p = log_softmax(logits, 1);
    (log_p * host(pick, [b, n], &device))
        .sum()
        .neg()
        .div_scalar(b as f32)
}

/// Mean JSD between row-wise `softmax(logits_p)` and `softmax(logits_q)`, both `[B, N]`.
pub fn jsd_from_logits(logits_p: Tensor<2>, logits_q: Tensor<2>) -> Tensor<1> {
    let [b, _] = logits_p.dims();
    let log_p = log_softmax(logits_p, 1);
    let log_q = log_softmax(logits_q, 1);
    let p = log_p.clone().exp();
    let q = log_q.clone().exp();
    // Probabilities come from softmax of |logits| ≤ 1/τ, so M is never near f32 underflow;
    // the clamp only guards against exact zeros.
    let log_m = ((p.clone() + q.clone()) * 0.5).clamp_min(1e-30).log();
    let kl_p = (p * (log_p - log_m.clone())).sum();
    let kl_q = (q * (log_q - log_m)).sum();
    (kl_p + kl_q).mul_scalar(0.5).div_scalar(b as f32)
}

/// Both objectives for one batch (see the module docs for the layout).
///
/// `same_text[j]` names the text of document column `j` of `[dl; de]` (`2B` entries, equal
/// values for identical texts). InfoNCE leaves out of a query's denominator every copy of its
/// two parallel positives and every translation of them: several samples may share a document
/// (XQuAD's questions of one paragraph), and samples that share their English document hold
/// that paragraph in their languages (XQuAD's languages of one question, or of two questions
/// on one paragraph). Neither a duplicate nor a translation of the positive is a negative.
pub fn losses(
    config: &LossConfig,
    ql: Tensor<2>,
    qe: Tensor<2>,
    dl: Tensor<2>,
    de: Tensor<2>,
    same_text: &[usize],
) -> Losses {
    let [b, _] = ql.dims();
    assert_eq!(same_text.len(), 2 * b, "one text id per document column");
    let device = ql.device();
    let documents = Tensor::cat(vec![dl.clone(), de.clone()], 0);
    let l_doc = |i: usize| i;
    let en_doc = |i: usize| b + i;
    // The paragraph of column `j`: the text of its sample's English document.
    let paragraph = |j: usize| same_text[en_doc(j % b)];
    let parallel = |i: usize, j: usize| {
        same_text[j] == same_text[l_doc(i)]
            || same_text[j] == same_text[en_doc(i)]
            || paragraph(j) == paragraph(i)
    };

    let nce = if config.kind == LossKind::Jsd {
        zero(&device)
    } else {
        let tau = config.tau;
        let mut terms = vec![
            info_nce(ql.clone(), documents.clone(), tau, l_doc, parallel),
            info_nce(ql.clone(), documents.clone(), tau, en_doc, parallel),
        ];
        if config.nce_directions == NceDirections::All {
            terms.push(info_nce(
                qe.clone(),
                documents.clone(),
                tau,
                en_doc,
                parallel,
            ));
            terms.push(info_nce(
                qe.clone(),
                documents.clone(),
                tau,
                l_doc,
                parallel,
            ));
        }
        let count = terms.len() as f32;
        Tensor::cat(terms, 0).sum().div_scalar(count)
    };

    let jsd = if config.kind == LossKind::Nce {
        zero(&device)
    } else {
        let tau = config.jsd_tau;
        let over_documents = || {
            let docs_t = documents.clone().transpose();
            jsd_from_logits(
                qe.clone().matmul(docs_t.clone()).div_scalar(tau),
                ql.clone().matmul(docs_t).div_scalar(tau),
            )
        };
        let over_queries = || {
            let queries_t = Tensor::cat(vec![ql.clone(), qe.clone()], 0).transpose();
            jsd_from_logits(
                de.clone().matmul(queries_t.clone()).div_scalar(tau),
                dl.clone().matmul(queries_t).div_scalar(tau),
            )
        };
        match config.jsd_on {
            JsdOn::Queries => over_documents(),
            JsdOn::Documents => over_queries(),
            JsdOn::Both => (over_documents() + over_queries()).mul_scalar(0.5),
        }
    };

    let total = match config.kind {
        LossKind::Nce => nce.clone(),
        LossKind::Jsd => jsd.clone(),
        LossKind::Both => nce.clone() + jsd.clone().mul_scalar(config.lambda),
    };
    Losses {
        total,
        nce,
        jsd,
        anchor: zero(&device),
    }
}

fn host<const D: usize>(data: Vec<f32>, shape: [usize; D], device: &Device) -> Tensor<D> {
    Tensor::from_data(TensorData::new(data, shape), device)
}

fn zero(device: &Device) -> Tensor<1> {
    Tensor::zeros([1], device)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(t: Tensor<1>) -> f64 {
        f64::from(t.into_data().try_to_vec::<f32>().unwrap()[0])
    }

    fn t2(rows: &[&[f32]]) -> Tensor<2> {
        let cols = rows[0].len();
        let data: Vec<f32> = rows.iter().flat_map(|r| r.iter().copied()).collect();
        host(data, [rows.len(), cols], &Device::flex())
    }

    #[test]
    fn jsd_of_identical_distributions_is_zero() {
        let logits = t2(&[&[0.3, -1.0, 2.0], &[1.0, 1.0, 1.0]]);
        assert!(scalar(jsd_from_logits(logits.clone(), logits)).abs() < 1e-6);
    }

    #[test]
    fn jsd_of_disjoint_distributions_is_ln2() {
        let p = t2(&[&[60.0, 0.0]]);
        let q = t2(&[&[0.0, 60.0]]);
        assert!((scalar(jsd_from_logits(p, q)) - std::f64::consts::LN_2).abs() < 1e-5);
    }

    #[test]
    fn jsd_matches_hand_computed_value() {
        // P = (1/2, 1/2), Q = (1, 0): M = (3/4, 1/4);
        // KL(P‖M) = ½ln(2/3) + ½ln 2 = 0.1438410, KL(Q‖M) = ln(4/3) = 0.2876821,
        // JSD = ½(0.1438410 + 0.2876821) = 0.2157616.
        // A second row with P = Q contributes 0, so the batch mean is half of it.
        let p = t2(&[&[0.0, 0.0], &[1.0, 2.0]]);
        let q = t2(&[&[80.0, 0.0], &[1.0, 2.0]]);
        assert!((scalar(jsd_from_logits(p, q)) - 0.2157616 / 2.0).abs() < 1e-5);
    }

    #[test]
    fn info_nce_masks_the_parallel_positive() {
        // Two queries, four candidates [dl0, dl1, de0, de1] in 1-D "embeddings" so that every
        // cosine is a product of scalars. Query 0 → positive dl0, masked de0.
        let queries = t2(&[&[1.0], &[0.5]]);
        let candidates = t2(&[&[1.0], &[0.0], &[1.0], &[-1.0]]);
        let tau = 0.5;
        let loss = scalar(info_nce(queries, candidates, tau, |i| i, |i, j| j == 2 + i));
        // Row 0: logits (2, 0, ·, −2) → −log(e² / (e² + 1 + e⁻²)).
        let row0 = -(2f64.exp() / (2f64.exp() + 1.0 + (-2f64).exp())).ln();
        // Row 1: logits (1, 0, 1, ·)   → −log(e⁰ / (e¹ + 1 + e¹)); positive dl1, masked de1.
        let row1 = -(1.0 / (1f64.exp() + 1.0 + 1f64.exp())).ln();
        assert!((loss - (row0 + row1) / 2.0).abs() < 1e-5, "{loss}");
    }

    #[test]
    fn copies_and_translations_of_the_positive_are_no_negatives() {
        // Samples 0 and 1 hold one paragraph in two languages (they share their English
        // document: de0 = de1, one text id); sample 2 is another paragraph. 1-D embeddings,
        // τ = 0.5, so a logit is 2·q·d. Columns [dl0, dl1, dl2, de0, de1, de2] = [1, 0, ½, 1, 1, −1].
        let queries = t2(&[&[1.0], &[0.5], &[-0.5]]);
        let dl = t2(&[&[1.0], &[0.0], &[0.5]]);
        let de = t2(&[&[1.0], &[1.0], &[-1.0]]);
        let config = LossConfig {
            kind: LossKind::Nce,
            nce_directions: NceDirections::Target,
            tau: 0.5,
            ..LossConfig::default()
        };
        let got = scalar(
            losses(
                &config,
                queries.clone(),
                queries,
                dl,
                de,
                &[0, 1, 2, 3, 3, 4],
            )
            .nce,
        );
        let e = f64::exp;
        let nll = |pos: f64, others: &[f64]| {
            -(e(pos) / (e(pos) + others.iter().map(|&x| e(x)).sum::<f64>())).ln()
        };
        // Query 0 (logits 2, 0, 1, 2, 2, −2): dl1, de0 and de1 are its paragraph, left out;
        // only dl2 and de2 compete, for either positive.
        let q0 = [nll(2.0, &[1.0, -2.0]), nll(2.0, &[1.0, -2.0])];
        // Query 1 (logits 1, 0, ½, 1, 1, −1): → dl1 and → de1, against dl2 and de2.
        let q1 = [nll(0.0, &[0.5, -1.0]), nll(1.0, &[0.5, -1.0])];
        // Query 2 (logits −1, 0, −½, −1, −1, 1): every version of the other paragraph competes.
        let q2 = [
            nll(-0.5, &[-1.0, 0.0, -1.0, -1.0]),
            nll(1.0, &[-1.0, 0.0, -1.0, -1.0]),
        ];
        let want = ((q0[0] + q1[0] + q2[0]) / 3.0 + (q0[1] + q1[1] + q2[1]) / 3.0) / 2.0;
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
    }

    #[test]
    fn anchor_is_one_minus_cosine() {
        let r = std::f32::consts::FRAC_1_SQRT_2;
        // cos = 1, 0 and 1/√2: mean(1 − cos) = (0 + 1 + (1 − 1/√2)) / 3.
        let student = t2(&[&[1.0, 0.0], &[1.0, 0.0], &[r, r]]);
        let teacher = t2(&[&[1.0, 0.0], &[0.0, 1.0], &[0.0, 1.0]]);
        let want = (2.0 - std::f64::consts::FRAC_1_SQRT_2) / 3.0;
        assert!((scalar(anchor_loss(student, teacher)) - want).abs() < 1e-6);
    }

    #[test]
    fn losses_follow_the_kind() {
        let e = |v: [f32; 2]| {
            let n = (v[0] * v[0] + v[1] * v[1]).sqrt();
            [v[0] / n, v[1] / n]
        };
        let ql = t2(&[&e([1.0, 0.2]), &e([0.1, 1.0])]);
        let qe = t2(&[&e([1.0, 0.0]), &e([0.3, 1.0])]);
        let dl = t2(&[&e([0.9, 0.3]), &e([0.0, 1.0])]);
        let de = t2(&[&e([1.0, 0.1]), &e([0.2, 1.0])]);
        let mut config = LossConfig::default();
        // Four distinct documents.
        let run = |config: &LossConfig| {
            losses(
                config,
                ql.clone(),
                qe.clone(),
                dl.clone(),
                de.clone(),
                &[0, 1, 2, 3],
            )
        };
        let both = run(&config);
        let (total, nce, jsd) = (
            scalar(both.total.clone()),
            scalar(both.nce.clone()),
            scalar(both.jsd.clone()),
        );
        assert!(nce > 0.0 && jsd > 0.0 && jsd <= std::f64::consts::LN_2);
        assert!((total - (nce + jsd)).abs() < 1e-5);
        assert_eq!(scalar(both.anchor.clone()), 0.0);
        let anchored = both.with_anchor(t2(&[&[0.25]]).reshape([1]), 2.0);
        assert!((scalar(anchored.total) - (nce + jsd + 0.5)).abs() < 1e-5);
        config.kind = LossKind::Nce;
        let only = run(&config);
        assert!((scalar(only.total) - nce).abs() < 1e-6);
        assert_eq!(scalar(only.jsd), 0.0);
        config.kind = LossKind::Jsd;
        config.jsd_on = JsdOn::Both;
        let only = run(&config);
        assert_eq!(scalar(only.nce), 0.0);
        assert!(scalar(only.total) > 0.0);
    }
}

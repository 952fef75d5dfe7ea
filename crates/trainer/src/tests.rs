//! End-to-end tests of the trainer on a tiny random BERT (hidden 16, 2 layers) with a word-level
//! tokenizer: gradient check, loss decreasing, checkpoint/resume equality, export round trip and
//! the documented errors.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use langbias_assets::LoraAdapter;
use langbias_assets::test_util::{TinyModel, word_level_tokenizer};
use langbias_encoder::{ModelAssets, Runtime, TextKind};
use langbias_train_data::Sample;

use crate::config::{Method, TrainConfig, TrainOptions};
use crate::layers::TrainableLayers;
use crate::lora::{Target, TrainableLora, normals};
use crate::loss::{AnchorTo, LossConfig};
use crate::run;
use crate::step::{Learner, TokenizedSample, Trainable};

const VOCAB: usize = 40;

fn tiny_assets() -> ModelAssets {
    let weights = TinyModel {
        hidden: 16,
        intermediate: 32,
        vocab: VOCAB,
        max_positions: 64,
        seed: 7,
        word_scale: 1.7,
        ..TinyModel::default()
    }
    .weights();
    ModelAssets::from_weights(weights, &word_level_tokenizer(VOCAB), false).unwrap()
}

/// 16 samples whose L and English sides use different words, and whose documents share
/// words with their queries.
fn tiny_samples() -> Vec<Sample> {
    (0..16)
        .map(|i| {
            let w = |k: usize| format!("w{}", 1 + (i * 7 + k * 3) % (VOCAB - 1));
            Sample {
                lang: "xx".into(),
                query_en: format!("{} {}", w(0), w(1)),
                query_l: format!("{} {}", w(2), w(3)),
                doc_en: format!("{} {} {} {}", w(0), w(1), w(4), w(5)),
                doc_l: format!("{} {} {} {}", w(2), w(3), w(6), w(7)),
                id: None,
                source: None,
            }
        })
        .collect()
}

fn tiny_config(out: &std::path::Path, steps: usize) -> TrainConfig {
    TrainOptions {
        out: Some(out.to_path_buf()),
        rank: Some(4),
        alpha: Some(8.0),
        batch_size: Some(8),
        max_steps: Some(steps),
        lr: Some(1e-2),
        warmup: Some(0.0),
        checkpoint_every: Some(3),
        ..Default::default()
    }
    .resolve()
    .unwrap()
}

/// A quiet run without adapter metadata.
fn train_tiny(
    config: &TrainConfig,
    assets: &ModelAssets,
    samples: &[Sample],
    resume: bool,
    stop_after: Option<usize>,
) -> anyhow::Result<run::RunSummary> {
    let options = run::RunOptions {
        resume,
        quiet: true,
        stop_after,
        ..Default::default()
    };
    run::train(config, assets, samples, options)
}

fn temp_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("trainer-test-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

fn losses_logged(out: &std::path::Path) -> Vec<f64> {
    std::fs::read_to_string(out.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["loss"]
                .as_f64()
                .unwrap()
        })
        .collect()
}

/// A learner with a fresh rank-2 adapter (B = 0: the adapted model is the base model).
fn fresh_lora_learner<'a>(
    assets: &'a ModelAssets,
    device: &Device,
    config: LossConfig,
) -> Learner<'a> {
    let model = run::frozen_model(assets, langbias_encoder::BackendKind::Cpu, device).unwrap();
    let lora = TrainableLora::new(2, 4.0, 2, 16, 32, &Target::ALL, 3, device).unwrap();
    Learner::new(
        model,
        &assets.embeddings,
        Trainable::Lora(lora),
        0.0,
        config,
        0.0,
    )
}

#[test]
fn anchor_targets_come_from_the_frozen_base() {
    let assets = tiny_assets();
    let device = Runtime::cpu().device.autodiff();
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let batch: Vec<_> = samples.iter().take(4).collect();
    let anchor_with = |anchor_to| {
        let config = LossConfig {
            anchor: 1.0,
            anchor_to,
            ..Default::default()
        };
        let learner = fresh_lora_learner(&assets, &device, config);
        let v: Vec<f32> = learner
            .losses(&batch)
            .unwrap()
            .anchor
            .into_data()
            .try_to_vec()
            .unwrap();
        v[0]
    };
    let own = anchor_with(AnchorTo::Own);
    assert!(
        own.abs() < 1e-6,
        "own-text anchor of the unchanged model: {own}"
    );
    let english = anchor_with(AnchorTo::English);
    assert!(
        english > 1e-3,
        "L texts differ from their English versions: {english}"
    );
}

/// A LoRA adapter with non-zero B (so that A's gradient is not trivially zero), or the full
/// layer weights, on `device`.
fn trainables(assets: &ModelAssets, device: &Device) -> Vec<Trainable> {
    let mut lora = TrainableLora::new(2, 4.0, 2, 16, 32, &Target::ALL, 3, device).unwrap();
    for f in lora.factors.values_mut() {
        let [r, out] = f.b.dims();
        let data: Vec<f32> = (0..r * out)
            .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.05)
            .collect();
        f.b = Tensor::<2>::from_data(TensorData::new(data, [r, out]), device).require_grad();
    }
    let layers = TrainableLayers::from_hf(assets.tensors(), 2, device).unwrap();
    vec![Trainable::Lora(lora), Trainable::Layers(layers)]
}

fn values(t: Tensor<2>) -> Vec<f32> {
    t.into_data().try_to_vec().unwrap()
}

/// The total loss of `batch` and the gradient of every trainable leaf, by name.
fn loss_and_gradients(
    learner: &Learner,
    batch: &[&TokenizedSample],
) -> (f32, BTreeMap<String, Vec<f32>>) {
    let loss = learner.losses(batch).unwrap().total;
    let value: Vec<f32> = loss.clone().into_data().try_to_vec().unwrap();
    let grads = loss.backward();
    let g = learner
        .trainable
        .leaves()
        .into_iter()
        .map(|(name, leaf)| (name, values(leaf.grad(&grads).unwrap())))
        .collect();
    (value[0], g)
}

/// Trains one batch on `device` alone and sharded over `replicas` (each a device the encoder is
/// copied to): the loss and every gradient must agree.
fn check_sharded_matches_single(
    backend: langbias_encoder::BackendKind,
    device: &Device,
    replicas: &[Device],
) {
    let assets = tiny_assets();
    let model = |on: &Device| run::frozen_model(&assets, backend, on).unwrap();
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let batch: Vec<_> = samples.iter().take(5).collect();
    let config = LossConfig {
        anchor: 0.5,
        ..Default::default()
    };
    for trainable in trainables(&assets, device) {
        let single = Learner::new(
            model(device),
            &assets.embeddings,
            trainable.clone(),
            0.0,
            config.clone(),
            0.0,
        );
        let sharded = Learner::new(
            model(device),
            &assets.embeddings,
            trainable,
            0.0,
            config.clone(),
            0.0,
        )
        .with_replicas(replicas.iter().map(|d| (model(d), d.clone())).collect());
        let (loss_1, grads_1) = loss_and_gradients(&single, &batch);
        let (loss_n, grads_n) = loss_and_gradients(&sharded, &batch);
        assert!((loss_1 - loss_n).abs() < 1e-5, "loss {loss_1} vs {loss_n}");
        assert_eq!(grads_1.len(), grads_n.len());
        for (name, a) in &grads_1 {
            for (x, y) in a.iter().zip(&grads_n[name]) {
                assert!(
                    (x - y).abs() <= 1e-5 + 1e-3 * x.abs(),
                    "{name}: gradient {x} vs {y}"
                );
            }
        }
        assert!(grads_1.values().flatten().any(|g| g.abs() > 1e-6));
    }
}

#[test]
fn data_parallel_shards_give_the_single_device_loss_and_gradients() {
    // Two replicas on the same CPU device exercise the whole path (sharding, the trained
    // tensors moved to each replica, embeddings gathered, gradients summed through the moves).
    let device = Runtime::cpu().device.autodiff();
    check_sharded_matches_single(
        langbias_encoder::BackendKind::Cpu,
        &device,
        &[device.clone(), device.clone()],
    );
}

/// The same over two wgpu devices — separate wgpu devices and queues, which may share one
/// adapter (one GPU, or lavapipe's software Vulkan): tensors really cross devices. Needs a
/// Vulkan/Metal/DX12 adapter, so it is opt-in:
/// `cargo test -p trainer -- --ignored data_parallel_over_two_wgpu_devices`.
#[test]
#[ignore = "needs a wgpu adapter"]
fn data_parallel_over_two_wgpu_devices() {
    use burn::tensor::DeviceKind;
    let open = |kind: DeviceKind| {
        Device::wgpu_options()
            .device_kind(kind)
            .init()
            .expect("a wgpu adapter")
            .autodiff()
    };
    let first = open(DeviceKind::DefaultDevice);
    // A second device on the same adapter: the GPU itself if discrete, else a CPU adapter.
    let second = Device::wgpu_options()
        .device_kind(DeviceKind::DiscreteGpu(0))
        .init()
        .map(|d| d.autodiff())
        .unwrap_or_else(|_| open(DeviceKind::Cpu));
    assert_ne!(first, second, "two distinct wgpu devices");
    check_sharded_matches_single(
        langbias_encoder::BackendKind::Wgpu,
        &first,
        &[first.clone(), second],
    );
}

#[test]
fn autodiff_gradient_matches_finite_differences() {
    let assets = tiny_assets();
    let device = Runtime::cpu().device.autodiff();
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let batch: Vec<_> = samples.iter().take(4).collect();
    // The anchor is on so that its gradient (through the adapted side only) is checked too.
    // The centred losses' gradients are checked too (the centring sits between the encoder
    // and both losses).
    for centred in [false, true] {
        let loss_config = LossConfig {
            anchor: 0.5,
            centred,
            ..Default::default()
        };
        let model =
            run::frozen_model(&assets, langbias_encoder::BackendKind::Cpu, &device).unwrap();
        // A LoRA factor, and for full fine-tuning a linear weight, a bias and a LayerNorm gain.
        let probes = [
            "encoder.layer.1.attention.self.value.a",
            "encoder.layer.0.intermediate.dense.weight",
            "encoder.layer.1.output.dense.bias",
            "encoder.layer.0.attention.output.LayerNorm.weight",
        ];
        for trainable in trainables(&assets, &device) {
            let mut learner = Learner::new(
                model.clone(),
                &assets.embeddings,
                trainable,
                0.0,
                loss_config.clone(),
                0.0,
            );
            if centred {
                learner = learner.with_document_means(&samples).unwrap();
            }
            let (_, analytic) = loss_and_gradients(&learner, &batch);
            let leaves: BTreeMap<String, Tensor<2>> = learner
                .trainable
                .leaves()
                .into_iter()
                .map(|(n, t)| (n, t.clone().detach()))
                .collect();
            for name in probes.iter().filter(|n| leaves.contains_key(**n)) {
                let shape = leaves[*name].dims();
                let original = values(leaves[*name].clone());
                let eval = |v: Vec<f32>| -> f64 {
                    let mut probe = Learner::new(
                        learner.model.clone(),
                        learner.table,
                        learner.trainable.clone(),
                        0.0,
                        loss_config.clone(),
                        0.0,
                    );
                    probe.document_means = learner.document_means.clone();
                    probe.trainable.set_leaf(
                        name,
                        Tensor::<2>::from_data(TensorData::new(v, shape), &device),
                    );
                    let l: Vec<f32> = probe
                        .losses(&batch)
                        .unwrap()
                        .total
                        .into_data()
                        .try_to_vec()
                        .unwrap();
                    f64::from(l[0])
                };
                let eps = 1e-2f32;
                let n = original.len();
                for idx in [0, 5 % n, 17 % n, (n - 1)] {
                    let mut plus = original.clone();
                    plus[idx] += eps;
                    let mut minus = original.clone();
                    minus[idx] -= eps;
                    let numeric = (eval(plus) - eval(minus)) / (2.0 * f64::from(eps));
                    let got = f64::from(analytic[*name][idx]);
                    assert!(
                        (numeric - got).abs() <= 2e-3 + 0.05 * numeric.abs(),
                        "centred {centred}: d loss / d {name}[{idx}]: autodiff {got}, finite differences {numeric}"
                    );
                }
            }
        }
    }
}

/// With centred losses, the losses see `normalise(d − μ_lang)`, `μ` the frozen base model's
/// mean over the distinct training documents of each language (hand-computed here).
#[test]
fn centred_losses_see_documents_centred_on_their_language_means() {
    let assets = tiny_assets();
    let device = Runtime::cpu().device.autodiff();
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let config = LossConfig {
        centred: true,
        ..Default::default()
    };
    let learner = fresh_lora_learner(&assets, &device, config)
        .with_document_means(&samples)
        .unwrap();
    assert_eq!(
        learner
            .document_means
            .as_ref()
            .unwrap()
            .documents
            .keys()
            .collect::<Vec<_>>(),
        ["en", "xx"]
    );
    // A fresh adapter (B = 0) is the base model: the means by hand from its embeddings.
    let rows = |ids: Vec<&[u32]>| -> Vec<Vec<f32>> {
        let e = learner.embed(&ids).unwrap();
        let h = e.dims()[1];
        values(e).chunks_exact(h).map(<[f32]>::to_vec).collect()
    };
    let mean_of = |docs: Vec<&[u32]>| -> Vec<f32> {
        let mut distinct = docs;
        distinct.sort();
        distinct.dedup();
        let r = rows(distinct);
        (0..r[0].len())
            .map(|c| r.iter().map(|x| x[c]).sum::<f32>() / r.len() as f32)
            .collect()
    };
    let mu_xx = mean_of(samples.iter().map(|s| s.doc_l.as_slice()).collect());
    let mu_en = mean_of(samples.iter().map(|s| s.doc_en.as_slice()).collect());
    for (got, want) in [
        (
            &learner.document_means.as_ref().unwrap().documents["xx"],
            &mu_xx,
        ),
        (
            &learner.document_means.as_ref().unwrap().documents["en"],
            &mu_en,
        ),
    ] {
        assert!(got.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5));
    }
    let batch: Vec<&TokenizedSample> = samples.iter().take(3).collect();
    let docs: Vec<&[u32]> = batch
        .iter()
        .map(|s| s.doc_l.as_slice())
        .chain(batch.iter().map(|s| s.doc_en.as_slice()))
        .collect();
    let raw = rows(docs.clone());
    let seen = learner
        .centre_documents(learner.embed(&docs).unwrap(), &batch)
        .unwrap();
    let h = seen.dims()[1];
    for (i, got) in values(seen).chunks_exact(h).enumerate() {
        let mu = if i < 3 { &mu_xx } else { &mu_en };
        let c: Vec<f32> = raw[i].iter().zip(mu).map(|(x, m)| x - m).collect();
        let norm = c.iter().map(|x| x * x).sum::<f32>().sqrt();
        for (g, w) in got.iter().zip(&c) {
            assert!((g - w / norm).abs() < 1e-5, "row {i}: {g} vs {}", w / norm);
        }
    }
}

#[test]
fn training_lowers_the_loss_and_resume_reproduces_an_uninterrupted_run() {
    let assets = tiny_assets();
    let samples = tiny_samples();
    for method in [Method::Lora, Method::Full] {
        let name = format!("{method:?}").to_lowercase();
        let straight = temp_dir(&format!("straight-{name}"));
        let mut config = tiny_config(&straight, 12);
        config.method = method;
        if method == Method::Full {
            config.lr = 2e-3;
        }
        let summary = train_tiny(&config, &assets, &samples, false, None).unwrap();
        assert_eq!(summary.steps, 12);
        let losses = losses_logged(&straight);
        let first: f64 = losses[..3].iter().sum::<f64>() / 3.0;
        let last: f64 = losses[9..].iter().sum::<f64>() / 3.0;
        assert!(
            last < 0.8 * first,
            "{name}: loss did not decrease: {losses:?}"
        );

        // The same run interrupted after step 7 (last checkpoint: step 6), then resumed.
        let resumed = temp_dir(&format!("resumed-{name}"));
        let mut config_r = config.clone();
        config_r.out = resumed.clone();
        let stopped = train_tiny(&config_r, &assets, &samples, false, Some(7));
        assert!(
            stopped
                .unwrap_err()
                .to_string()
                .contains("stopped after step 7")
        );
        let again = train_tiny(&config_r, &assets, &samples, false, None);
        assert!(
            again.is_err(),
            "starting over an existing run must ask for --resume"
        );
        let summary_r = train_tiny(&config_r, &assets, &samples, true, None).unwrap();

        let (a, b) = match method {
            Method::Lora => {
                let read = |path: &std::path::Path| {
                    let adapter =
                        LoraAdapter::from_safetensors("test", &std::fs::read(path).unwrap())
                            .unwrap();
                    adapter
                        .layers
                        .into_iter()
                        .flat_map(|(n, p)| {
                            [(format!("{n}.a"), p.a.data), (format!("{n}.b"), p.b.data)]
                        })
                        .collect::<BTreeMap<_, _>>()
                };
                (read(&summary.output), read(&summary_r.output))
            }
            Method::Full => {
                let read = |dir: &std::path::Path| {
                    langbias_encoder::load::load_model(dir, false)
                        .unwrap()
                        .tensors()
                        .iter()
                        .map(|(n, t)| (n.clone(), t.data.clone()))
                        .collect::<BTreeMap<_, _>>()
                };
                let (a, b) = (read(&summary.output), read(&summary_r.output));
                let base = assets.tensors();
                let moved = a.iter().any(|(n, v)| {
                    v.iter()
                        .zip(&base[n].data)
                        .any(|(x, y)| (x - y).abs() > 1e-4)
                });
                assert!(moved, "full fine-tuning changed no weight");
                (a, b)
            }
        };
        assert_eq!(a.len(), b.len());
        for (n, va) in &a {
            for (x, y) in va.iter().zip(&b[n]) {
                assert!((x - y).abs() < 1e-3, "{name} {n}: {x} vs {y}");
            }
        }
        let _ = std::fs::remove_dir_all(straight);
        let _ = std::fs::remove_dir_all(resumed);
    }
}

/// `exported` (passage embeddings of `texts` from a reloaded export) differs from the base
/// model's and equals `training` (the training-time forward) to 1e-4.
fn assert_trained_and_equal(
    assets: &ModelAssets,
    texts: &[&str],
    exported: &[f32],
    training: &[f32],
) {
    let base = assets
        .encoder(&Runtime::cpu())
        .unwrap()
        .embed_blocking(TextKind::Passage, texts)
        .unwrap();
    let moved = base
        .data
        .iter()
        .zip(exported)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(moved > 1e-3, "training should change the embeddings");
    assert_eq!(exported.len(), training.len());
    for (x, y) in exported.iter().zip(training) {
        assert!((x - y).abs() < 1e-4, "exported {x} vs training forward {y}");
    }
}

#[test]
fn exported_adapter_merged_into_the_base_gives_the_training_forward() {
    let assets = tiny_assets();
    let device = Device::flex();
    let mut lora = TrainableLora::new(4, 8.0, 2, 16, 32, &Target::ALL, 11, &device).unwrap();
    for f in lora.factors.values_mut() {
        let [r, out] = f.b.dims();
        let data: Vec<f32> = (0..r * out)
            .map(|i| ((i * 13 % 7) as f32 - 3.0) * 0.02)
            .collect();
        f.b = Tensor::from_data(TensorData::new(data, [r, out]), &device);
    }
    let adapter = lora.to_adapter(BTreeMap::new()).unwrap();
    let reloaded =
        LoraAdapter::from_safetensors("rt", &adapter.to_safetensors(false).unwrap()).unwrap();
    assert_eq!(reloaded.layers, adapter.layers);

    let texts = ["w1 w2 w3", "w4 w5", "w9 w8 w7 w6 w5"];
    let runtime = Runtime::cpu();
    let merged = assets.encoder_with_adapter(&runtime, &reloaded).unwrap();
    let via_merge = merged.embed_blocking(TextKind::Passage, &texts).unwrap();

    let model = run::frozen_model(&assets, langbias_encoder::BackendKind::Cpu, &device).unwrap();
    let learner = Learner::new(
        model,
        &assets.embeddings,
        Trainable::Lora(lora),
        0.0,
        Default::default(),
        0.0,
    );
    let ids = merged.tokenize(TextKind::Passage, &texts).unwrap();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let via_deltas: Vec<f32> = learner
        .embed(&refs)
        .unwrap()
        .into_data()
        .try_to_vec()
        .unwrap();
    assert_trained_and_equal(&assets, &texts, &via_merge.data, &via_deltas);
}

#[test]
fn exported_full_model_reloads_with_the_training_forward() {
    let assets = tiny_assets();
    let device = Device::flex();
    let mut layers = TrainableLayers::from_hf(assets.tensors(), 2, &device).unwrap();
    for (k, t) in layers.leaves.values_mut().enumerate() {
        let [rows, cols] = t.dims();
        let nudge: Vec<f32> = normals(rows * cols, 0.05, 100 + k as u64);
        *t = t.clone() + Tensor::from_data(TensorData::new(nudge, [rows, cols]), &device);
    }
    let dir = temp_dir("full-export");
    run::export_layers(&assets, &layers, &BTreeMap::new(), &dir).unwrap();
    let reloaded = langbias_encoder::load::load_model(&dir, false).unwrap();
    let texts = ["w1 w2 w3", "w4 w5", "w9 w8 w7 w6 w5"];
    let runtime = Runtime::cpu();
    let exported = reloaded
        .encoder(&runtime)
        .unwrap()
        .embed_blocking(TextKind::Passage, &texts)
        .unwrap();

    let model = run::frozen_model(&assets, langbias_encoder::BackendKind::Cpu, &device).unwrap();
    let learner = Learner::new(
        model,
        &assets.embeddings,
        Trainable::Layers(layers),
        0.0,
        Default::default(),
        0.0,
    );
    let ids: Vec<Vec<u32>> = texts
        .iter()
        .map(|t| reloaded.tokenizer.encode(TextKind::Passage, t).unwrap())
        .collect();
    let refs: Vec<&[u32]> = ids.iter().map(Vec::as_slice).collect();
    let trained = values(learner.embed(&refs).unwrap());
    assert_trained_and_equal(&assets, &texts, &exported.data, &trained);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn bad_runs_fail_clearly() {
    let assets = tiny_assets();
    let samples = tiny_samples();
    let dir = temp_dir("bad");
    let mut config = tiny_config(&dir, 2);
    config.batch_size = 32;
    let err = train_tiny(&config, &assets, &samples, false, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("larger than the data"), "{err}");

    let file = dir.with_extension("file");
    std::fs::write(&file, b"x").unwrap();
    let config = tiny_config(&file.join("sub"), 2);
    let err = train_tiny(&config, &assets, &samples, false, None)
        .unwrap_err()
        .to_string();
    assert!(err.contains("output directory"), "{err}");

    let mut config = tiny_config(&dir, 6);
    config.lr = 1e30;
    config.clip_norm = 0.0;
    let err = format!(
        "{:#}",
        train_tiny(&config, &assets, &samples, false, None).unwrap_err()
    );
    assert!(err.contains("last good checkpoint"), "{err}");
    let _ = std::fs::remove_dir_all(dir);
    let _ = std::fs::remove_file(file);
}

#[test]
fn multiway_groups_are_the_languages_of_one_english_question() {
    let sample = |lang: &str, q: u32, d: u32, own: u32| TokenizedSample {
        lang: lang.into(),
        query_l: vec![own],
        query_en: vec![q],
        doc_l: vec![own + 1],
        doc_en: vec![d],
    };
    // Question 1 on paragraph 10 in de and es; question 2 on the same paragraph in de;
    // question 1's English text on another paragraph is another question.
    let samples = [
        sample("de", 1, 10, 100),
        sample("de", 2, 10, 200),
        sample("es", 1, 10, 300),
        sample("es", 1, 11, 400),
    ];
    assert_eq!(run::question_groups(&samples), [0, 1, 0, 2]);
}

#[test]
fn every_configuration_file_parses_and_validates() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("configs");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let options = TrainOptions::from_toml_file(&path).unwrap();
            options
                .resolve()
                .unwrap_or_else(|e| panic!("{}: {e:#}", path.display()));
            seen += 1;
        }
    }
    assert!(seen >= 3, "{seen} configurations in {}", dir.display());
}

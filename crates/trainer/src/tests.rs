//! End-to-end tests of the trainer on a tiny random BERT (hidden 16, 2 layers) with a word-level
//! tokenizer: gradient check, loss decreasing, checkpoint/resume equality, export round trip and
//! the documented errors.

use std::collections::BTreeMap;

use burn::tensor::{Device, Tensor, TensorData};
use langbias_assets::{EmbeddingTable, EncoderConfig, EncoderWeights, HostTensor, LoraAdapter};
use langbias_encoder::{ModelAssets, Runtime, TextKind};
use langbias_train_data::Sample;

use crate::config::{TrainConfig, TrainOptions};
use crate::lora::{Target, TrainableLora, normals};
use crate::loss::{AnchorTo, LossConfig};
use crate::run;
use crate::step::Learner;

const VOCAB: usize = 40;

fn tiny_assets() -> ModelAssets {
    let config = EncoderConfig::from_hf_json(
        "tiny",
        r#"{"hidden_size": 16, "num_hidden_layers": 2, "num_attention_heads": 2,
            "intermediate_size": 32, "vocab_size": 40, "max_position_embeddings": 64,
            "model_type": "bert", "layer_norm_eps": 1e-12, "pad_token_id": 0}"#,
    )
    .unwrap();
    let mut tensors = BTreeMap::new();
    for (k, (name, shape)) in EncoderWeights::expected_shapes(&config)
        .into_iter()
        .enumerate()
    {
        let n: usize = shape.iter().product();
        let data = if name.ends_with("LayerNorm.weight") {
            normals(n, 0.1, k as u64)
                .into_iter()
                .map(|x| 1.0 + x)
                .collect()
        } else {
            normals(n, 0.3, k as u64)
        };
        tensors.insert(name, HostTensor { shape, data });
    }
    let table = EmbeddingTable::F32 {
        data: normals(VOCAB * 16, 1.0, 7),
        rows: VOCAB,
        cols: 16,
    };
    let vocab: Vec<String> = (0..VOCAB)
        .map(|i| {
            if i == 0 {
                "\"[UNK]\": 0".into()
            } else {
                format!("\"w{i}\": {i}")
            }
        })
        .collect();
    let tokenizer = format!(
        r#"{{"version": "1.0", "truncation": null, "padding": null, "added_tokens": [],
            "normalizer": null, "pre_tokenizer": {{"type": "Whitespace"}}, "post_processor": null,
            "decoder": null, "model": {{"type": "WordLevel", "vocab": {{{}}}, "unk_token": "[UNK]"}}}}"#,
        vocab.join(", ")
    );
    ModelAssets::from_weights(
        EncoderWeights {
            config,
            word_embeddings: table,
            tensors,
        },
        &tokenizer,
        false,
    )
    .unwrap()
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
    run::train(
        config,
        assets,
        samples,
        resume,
        BTreeMap::new(),
        true,
        stop_after,
    )
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

#[test]
fn anchor_targets_come_from_the_frozen_base() {
    let assets = tiny_assets();
    let device = Runtime::cpu().device.autodiff();
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let batch: Vec<_> = samples.iter().take(4).collect();
    let anchor_with = |anchor_to| {
        let model =
            run::frozen_model(&assets, langbias_encoder::BackendKind::Cpu, &device).unwrap();
        // A fresh adapter has B = 0: the adapted model is the base model.
        let lora = TrainableLora::new(2, 4.0, 2, 16, 32, &Target::ALL, 3, &device).unwrap();
        let config = LossConfig {
            anchor: 1.0,
            anchor_to,
            ..Default::default()
        };
        let learner = Learner::new(model, &assets.embeddings, lora, 0.0, config, 0.0);
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

#[test]
fn data_parallel_shards_give_the_single_device_loss_and_gradients() {
    // Two replicas on the same CPU device exercise the whole path (sharding, the adapter moved
    // to each replica, embeddings gathered, gradients summed through the moves).
    let assets = tiny_assets();
    let device = Runtime::cpu().device.autodiff();
    let model = || run::frozen_model(&assets, langbias_encoder::BackendKind::Cpu, &device).unwrap();
    let mut lora = TrainableLora::new(2, 4.0, 2, 16, 32, &Target::ALL, 3, &device).unwrap();
    for f in lora.factors.values_mut() {
        let [r, out] = f.b.dims();
        let data: Vec<f32> = (0..r * out)
            .map(|i| ((i * 7 % 5) as f32 - 2.0) * 0.05)
            .collect();
        f.b = Tensor::<2>::from_data(TensorData::new(data, [r, out]), &device).require_grad();
    }
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let batch: Vec<_> = samples.iter().take(5).collect();
    let config = LossConfig {
        anchor: 0.5,
        ..Default::default()
    };
    let single = Learner::new(
        model(),
        &assets.embeddings,
        lora.clone(),
        0.0,
        config.clone(),
        0.0,
    );
    let sharded = Learner::new(model(), &assets.embeddings, lora, 0.0, config, 0.0)
        .with_replicas(vec![(model(), device.clone()), (model(), device.clone())]);
    let values = |t: Tensor<2>| -> Vec<f32> { t.into_data().try_to_vec().unwrap() };
    let run = |learner: &Learner| {
        let loss = learner.losses(&batch).unwrap().total;
        let value: Vec<f32> = loss.clone().into_data().try_to_vec().unwrap();
        let grads = loss.backward();
        let g: Vec<Vec<f32>> = learner
            .lora
            .factors
            .values()
            .flat_map(|f| {
                [
                    values(f.a.grad(&grads).unwrap()),
                    values(f.b.grad(&grads).unwrap()),
                ]
            })
            .collect();
        (value[0], g)
    };
    let (loss_1, grads_1) = run(&single);
    let (loss_3, grads_3) = run(&sharded);
    assert!((loss_1 - loss_3).abs() < 1e-5, "loss {loss_1} vs {loss_3}");
    for (a, b) in grads_1.iter().zip(&grads_3) {
        for (x, y) in a.iter().zip(b) {
            assert!(
                (x - y).abs() <= 1e-5 + 1e-3 * x.abs(),
                "gradient {x} vs {y}"
            );
        }
    }
    assert!(grads_1.iter().flatten().any(|g| g.abs() > 1e-6));
}

#[test]
fn autodiff_gradient_matches_finite_differences() {
    let assets = tiny_assets();
    let device = Runtime::cpu().device.autodiff();
    let model = run::frozen_model(&assets, langbias_encoder::BackendKind::Cpu, &device).unwrap();
    let mut lora = TrainableLora::new(2, 4.0, 2, 16, 32, &Target::ALL, 3, &device).unwrap();
    // B starts at zero; give it values so that A's gradient is not trivially zero.
    let key = (1, Target::Value);
    let f = lora.factors.get_mut(&key).unwrap();
    let b_data: Vec<f32> = (0..2 * 16)
        .map(|i| ((i * 37 % 11) as f32 - 5.0) * 0.05)
        .collect();
    f.b = Tensor::<2>::from_data(TensorData::new(b_data, [2, 16]), &device).require_grad();
    let samples = run::tokenize_samples(&assets, &tiny_samples(), 64).unwrap();
    let batch: Vec<_> = samples.iter().take(4).collect();
    // The anchor is on so that its gradient (through the adapted side only) is checked too.
    let loss_config = LossConfig {
        anchor: 0.5,
        ..Default::default()
    };
    let learner = Learner::new(
        model,
        &assets.embeddings,
        lora,
        0.0,
        loss_config.clone(),
        0.0,
    );

    let loss = learner.losses(&batch).unwrap().total;
    let grads = loss.backward();
    let factors = &learner.lora.factors[&key];
    let analytic: Vec<f32> = factors
        .a
        .grad(&grads)
        .unwrap()
        .into_data()
        .try_to_vec()
        .unwrap();
    let a0: Vec<f32> = factors.a.clone().detach().into_data().try_to_vec().unwrap();

    let eval = |a: Vec<f32>| -> f64 {
        let mut probe = Learner::new(
            learner.model.clone(),
            learner.table,
            learner.lora.clone(),
            0.0,
            loss_config.clone(),
            0.0,
        );
        probe.lora.factors.get_mut(&key).unwrap().a =
            Tensor::<2>::from_data(TensorData::new(a, [16, 2]), &device);
        let v: Vec<f32> = probe
            .losses(&batch)
            .unwrap()
            .total
            .into_data()
            .try_to_vec()
            .unwrap();
        f64::from(v[0])
    };
    let eps = 1e-2f32;
    for idx in [0, 5, 17, 30] {
        let mut plus = a0.clone();
        plus[idx] += eps;
        let mut minus = a0.clone();
        minus[idx] -= eps;
        let numeric = (eval(plus) - eval(minus)) / (2.0 * f64::from(eps));
        let got = f64::from(analytic[idx]);
        assert!(
            (numeric - got).abs() <= 2e-3 + 0.05 * numeric.abs(),
            "d loss / d A[{idx}]: autodiff {got}, finite differences {numeric}"
        );
    }
}

#[test]
fn training_lowers_the_loss_and_resume_reproduces_an_uninterrupted_run() {
    let assets = tiny_assets();
    let samples = tiny_samples();

    let straight = temp_dir("straight");
    let config = tiny_config(&straight, 12);
    let summary = train_tiny(&config, &assets, &samples, false, None).unwrap();
    assert_eq!(summary.steps, 12);
    let losses = losses_logged(&straight);
    let first: f64 = losses[..3].iter().sum::<f64>() / 3.0;
    let last: f64 = losses[9..].iter().sum::<f64>() / 3.0;
    assert!(last < 0.8 * first, "loss did not decrease: {losses:?}");

    // The same run interrupted after step 7 (last checkpoint: step 6), then resumed.
    let resumed = temp_dir("resumed");
    let config_r = tiny_config(&resumed, 12);
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
    train_tiny(&config_r, &assets, &samples, true, None).unwrap();

    let read = |dir: &std::path::Path| {
        let bytes = std::fs::read(dir.join("adapter.safetensors")).unwrap();
        LoraAdapter::from_safetensors("test", &bytes).unwrap()
    };
    let (a, b) = (read(&straight), read(&resumed));
    for (name, pa) in &a.layers {
        let pb = &b.layers[name];
        for (x, y) in
            pa.a.data
                .iter()
                .zip(&pb.a.data)
                .chain(pa.b.data.iter().zip(&pb.b.data))
        {
            assert!((x - y).abs() < 1e-3, "{name}: {x} vs {y}");
        }
    }
    let _ = std::fs::remove_dir_all(straight);
    let _ = std::fs::remove_dir_all(resumed);
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
    // The anchor is on so that its gradient (through the adapted side only) is checked too.
    let loss_config = LossConfig {
        anchor: 0.5,
        ..Default::default()
    };
    let learner = Learner::new(
        model,
        &assets.embeddings,
        lora,
        0.0,
        loss_config.clone(),
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
    let base = assets
        .encoder(&runtime)
        .unwrap()
        .embed_blocking(TextKind::Passage, &texts)
        .unwrap();
    let moved = base
        .data
        .iter()
        .zip(&via_merge.data)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max);
    assert!(moved > 1e-3, "the adapter should change the embeddings");
    for (x, y) in via_merge.data.iter().zip(&via_deltas) {
        assert!((x - y).abs() < 1e-4, "merged {x} vs deltas {y}");
    }
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

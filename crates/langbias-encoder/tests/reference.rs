//! The encoder against the PyTorch/transformers reference (`tests/fixtures/encoder/`, made by
//! `scripts/encoder_reference/make_fixtures.py` from the Hugging Face export of the same
//! weights). Needs the model from `cargo xtask setup` (the test command runs it first).

use std::path::PathBuf;
use std::sync::OnceLock;

use langbias_encoder::model::BertEncoderConfig;
use langbias_encoder::{
    BackendKind, Encoder, ModelAssets, PaddedBatch, Runtime, TextKind, TextTokenizer, load,
};
use serde_json::Value;

/// The package directory: `cargo test` sets it at run time, which stays right when a test
/// binary built from another checkout is reused from a shared target directory.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

fn repo() -> PathBuf {
    PathBuf::from(manifest_dir()).join("../..")
}

fn assets() -> &'static ModelAssets {
    static ASSETS: OnceLock<ModelAssets> = OnceLock::new();
    ASSETS.get_or_init(|| {
        let path = load::default_model_path();
        load::load_model(&path, true)
            .unwrap_or_else(|e| panic!("{e}\n(the model comes from `cargo xtask setup`)"))
    })
}

struct Case {
    id: String,
    kind: TextKind,
    text: String,
    ids: Vec<u32>,
    embedding: Vec<f32>,
}

fn fixture() -> (Vec<Case>, Value) {
    let path = repo().join("tests/fixtures/encoder/reference.json");
    let json: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let cases = json["texts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| Case {
            id: t["id"].as_str().unwrap().to_owned(),
            kind: if t["kind"] == "query" {
                TextKind::Query
            } else {
                TextKind::Passage
            },
            text: t["text"].as_str().unwrap().to_owned(),
            ids: t["input_ids"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_u64().unwrap() as u32)
                .collect(),
            embedding: t["embedding"]
                .as_array()
                .unwrap()
                .iter()
                .map(|v| v.as_f64().unwrap() as f32)
                .collect(),
        })
        .collect();
    (cases, json)
}

fn encode_all(encoder: &Encoder, cases: &[Case]) -> Vec<Vec<f32>> {
    let ids: Vec<Vec<u32>> = cases
        .iter()
        .map(|c| encoder.tokenizer().encode(c.kind, &c.text).unwrap())
        .collect();
    let out = encoder.embed_ids_blocking(&ids, &mut |_, _| {}).unwrap();
    out.rows().map(<[f32]>::to_vec).collect()
}

/// The largest absolute difference between two vectors of the same length.
fn max_abs_diff(a: &[f32], b: &[f32]) -> f32 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y).abs())
        .fold(0.0, f32::max)
}

fn check_against_reference(encoder: &Encoder, cases: &[Case], min_cosine: f32, max_abs: f32) {
    let got = encode_all(encoder, cases);
    let mut failures = Vec::new();
    for (case, emb) in cases.iter().zip(&got) {
        let cos: f32 = case.embedding.iter().zip(emb).map(|(a, b)| a * b).sum();
        let diff = max_abs_diff(&case.embedding, emb);
        if cos < min_cosine || diff > max_abs {
            failures.push(format!("{}: cosine {cos:.7}, max |Δ| {diff:.2e}", case.id));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} texts disagree:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn fixture_is_broad_enough() {
    let (cases, json) = fixture();
    assert!(cases.len() >= 50);
    let langs: std::collections::BTreeSet<&str> = json["texts"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["lang"].as_str())
        .collect();
    assert!(langs.len() >= 12, "{langs:?}");
    assert!(cases.iter().any(|c| c.text.is_empty()));
    assert!(
        cases.iter().any(|c| c.ids.len() == 512),
        "no truncated text in the fixture"
    );
}

#[test]
fn token_ids_match_transformers() {
    let (cases, _) = fixture();
    let tokenizer = &assets().tokenizer;
    for case in &cases {
        let ids = tokenizer.encode(case.kind, &case.text).unwrap();
        assert_eq!(ids, case.ids, "token ids differ for `{}`", case.id);
    }
}

#[test]
fn cpu_embeddings_match_transformers() {
    let (cases, _) = fixture();
    let encoder = assets().encoder(&Runtime::cpu()).unwrap();
    check_against_reference(&encoder, &cases, 0.99999, 1e-4);
}

/// The burn module on burn's CPU backend (the path the host engine replaced for inference,
/// and the one the trainer differentiates) gives the same embeddings.
#[test]
fn flex_embeddings_match_transformers() {
    let (cases, _) = fixture();
    let encoder = assets()
        .encoder(&Runtime::new(BackendKind::Flex).unwrap())
        .unwrap();
    check_against_reference(&encoder, &cases, 0.99999, 1e-4);
}

#[test]
fn batching_does_not_change_results() {
    let (cases, _) = fixture();
    let mut encoder = assets().encoder(&Runtime::cpu()).unwrap();
    let batched = encode_all(&encoder, &cases[..12]);
    encoder.batching.max_batch = 1;
    let single = encode_all(&encoder, &cases[..12]);
    for (a, b) in batched.iter().zip(&single) {
        let diff = max_abs_diff(a, b);
        assert!(diff < 1e-5, "padding changed an embedding by {diff}");
    }
}

#[test]
fn padding_to_a_multiple_does_not_change_results() {
    let (cases, _) = fixture();
    let mut encoder = assets().encoder(&Runtime::cpu()).unwrap();
    let exact = encode_all(&encoder, &cases);
    encoder.batching.seq_multiple = 64;
    let rounded = encode_all(&encoder, &cases);
    for ((a, b), case) in exact.iter().zip(&rounded).zip(&cases) {
        let diff = max_abs_diff(a, b);
        assert!(
            diff < 1e-5,
            "{}: padding changed its embedding by {diff}",
            case.id
        );
    }
    // Never past the position table: the 512-token text stays 512 (not 576).
    assert_eq!(encoder.batching.padded_len(500, 512), 512);
    assert_eq!(encoder.batching.padded_len(513, 512), 513);
    assert_eq!(encoder.batching.padded_len(33, 512), 64);
}

/// The wgpu backend runs burn's own ops (unfused attention with an additive mask, no host
/// kernels); the same code on the CPU device must ignore extra padding too.
#[test]
fn padding_is_masked_on_the_gpu_code_path() {
    let (cases, _) = fixture();
    let assets = assets();
    let config = BertEncoderConfig {
        fused_attention: false,
        host_kernels: false,
        ..BertEncoderConfig::from(&assets.config)
    };
    let device = Runtime::cpu().device;
    let model = config.init_with_weights(assets.tensors(), &device).unwrap();
    let ids: Vec<Vec<u32>> = cases[..8]
        .iter()
        .map(|c| assets.tokenizer.encode(c.kind, &c.text).unwrap())
        .collect();
    let exact = PaddedBatch::gather(&assets.embeddings, ids.iter().map(Vec::as_slice)).unwrap();
    let padded = PaddedBatch::gather_padded(
        &assets.embeddings,
        ids.iter().map(Vec::as_slice),
        exact.seq + 37,
    )
    .unwrap();
    assert_eq!(padded.seq, exact.seq + 37);
    let embed = |batch: &PaddedBatch| {
        let (word, mask) = batch.to_tensors(&device);
        model
            .forward(word, mask)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap()
    };
    let diff = max_abs_diff(&embed(&exact), &embed(&padded));
    assert!(diff < 1e-5, "padding changed an embedding by {diff}");
}

/// `docs/e5s1-format.md`: the cross-lingual cosine matrix of four "cat" sentences.
#[test]
fn cat_cosine_matrix_to_three_decimals() {
    let documented = [
        [1.0, 0.892, 0.845, 0.851],
        [0.892, 1.0, 0.855, 0.886],
        [0.845, 0.855, 1.0, 0.880],
        [0.851, 0.886, 0.880, 1.0],
    ];
    let texts = [
        "The cat sits on the mat.",
        "Die Katze sitzt auf der Matte.",
        "猫坐在垫子上。",
        "고양이가 매트 위에 앉아 있다.",
    ];
    let encoder = assets().encoder(&Runtime::cpu()).unwrap();
    let emb = encoder.embed_blocking(TextKind::Passage, &texts).unwrap();
    let cos = emb.cosine_matrix(&emb);
    for i in 0..4 {
        for j in 0..4 {
            let rounded = (cos[i][j] * 1000.0).round() / 1000.0;
            assert!(
                (rounded - documented[i][j]).abs() < 1e-6,
                "cos[{i}][{j}] = {} vs {}",
                cos[i][j],
                documented[i][j]
            );
        }
    }
    let counts: Vec<usize> = encoder
        .tokenize(TextKind::Passage, &texts)
        .unwrap()
        .iter()
        .map(Vec::len)
        .collect();
    assert_eq!(counts, [12, 14, 11, 13]);
}

/// The Hugging Face export loads through the safetensors path and gives the same vectors.
#[test]
fn hugging_face_export_matches_e5s1() {
    let dir = load::cache_dir().join("models/multilingual-e5-small");
    let hf = load::load_model(&dir, true).unwrap_or_else(|e| panic!("{e}"));
    let texts = ["passage text in English", "texto en español", "текст"];
    let a = assets()
        .encoder(&Runtime::cpu())
        .unwrap()
        .embed_blocking(TextKind::Query, &texts)
        .unwrap();
    let b = hf
        .encoder(&Runtime::cpu())
        .unwrap()
        .embed_blocking(TextKind::Query, &texts)
        .unwrap();
    let diff = max_abs_diff(&a.data, &b.data);
    assert!(diff < 1e-6, "{diff}");
}

#[test]
fn corrupt_model_file_is_a_clear_error() {
    let dir = std::env::temp_dir().join(format!("langbias-bad-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bin = dir.join("model.bin");
    let real = std::fs::read(load::default_model_path()).unwrap();
    std::fs::write(&bin, &real[..1 << 20]).unwrap();
    std::fs::write(dir.join("tokenizer.json"), "{}").unwrap();
    let err = load::load_model(&bin, true).unwrap_err().to_string();
    assert!(
        err.contains("model.bin") && err.contains("truncated"),
        "{err}"
    );
    let err = load::load_model(&dir.join("missing.bin"), true)
        .unwrap_err()
        .to_string();
    assert!(err.contains("missing.bin"), "{err}");
    std::fs::remove_dir_all(&dir).ok();
}

/// An XLM-R-style copy of the model (positions numbered from `pad + 1` = 2 in a 514-row table,
/// rows 0 and 1 junk) gives the same vectors, run directly and after `with_bert_positions` (the
/// conversion `cargo xtask setup --model` applies before writing the site's E5S1 file).
#[test]
fn xlm_roberta_positions_match_bert() {
    let dir = load::cache_dir().join("models/multilingual-e5-small");
    let (mut weights, tokenizer) =
        langbias_assets::hf_dir::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let table = weights
        .tensors
        .get_mut("embeddings.position_embeddings.weight")
        .unwrap();
    let mut shifted = vec![7.0; 2 * table.shape[1]];
    shifted.extend_from_slice(&table.data);
    table.data = shifted;
    table.shape[0] += 2;
    weights.config.model_type = "xlm-roberta".into();
    weights.config.pad_token_id = 1;
    weights.config.max_position_embeddings += 2;

    // Different lengths in one batch, so padded positions are exercised too.
    let texts = [
        "short",
        "a somewhat longer passage with more tokens in it",
        "日本語の文",
    ];
    let embed = |assets: &ModelAssets| {
        assets
            .encoder(&Runtime::cpu())
            .unwrap()
            .embed_blocking(TextKind::Passage, &texts)
            .unwrap()
    };
    let reference = embed(assets());
    let xlmr = ModelAssets::from_weights(weights.clone(), &tokenizer, true).unwrap();
    let bert = ModelAssets::from_weights(weights.with_bert_positions().unwrap(), &tokenizer, true)
        .unwrap();
    for other in [embed(&xlmr), embed(&bert)] {
        let diff = max_abs_diff(&reference.data, &other.data);
        assert!(diff < 1e-6, "{diff}");
    }
}

/// Long texts in windows: the windows fit, keep `<s>`, the `passage: ` prefix and `</s>`, and
/// their new tokens rebuild the untruncated token sequence; embeddings are the weighted mean of
/// the windows', and texts that fit embed exactly as without windows.
#[test]
fn windows_cover_long_texts() {
    let (cases, _) = fixture();
    let long = &cases.iter().find(|c| c.id == "edge_long_en").unwrap().text;
    let encoder = assets().encoder(&Runtime::cpu()).unwrap();
    let tokenizer = encoder.tokenizer();
    let untruncated = TextTokenizer::from_json("t", &tokenizer.to_json().unwrap(), 1 << 20, true)
        .unwrap()
        .encode(TextKind::Passage, long)
        .unwrap();
    assert!(untruncated.len() > 700, "{}", untruncated.len());
    let windows = tokenizer
        .encode_windows(TextKind::Passage, long, 64)
        .unwrap();
    assert_eq!(windows.len(), 2);
    assert_eq!(
        windows[0].0,
        tokenizer.encode(TextKind::Passage, long).unwrap()
    );
    let head = &untruncated[..3]; // <s> ▁passage :
    assert_eq!(head, [0, 46692, 12]);
    let mut rebuilt = head.to_vec();
    for (window, weight) in &windows {
        assert!(window.len() <= 512);
        assert_eq!(&window[..3], head);
        assert_eq!(window.last(), Some(&2));
        let text = &window[3..window.len() - 1];
        rebuilt.extend_from_slice(&text[text.len() - weight..]);
    }
    rebuilt.push(2);
    assert_eq!(rebuilt, untruncated);
    // Consecutive windows share 64 text tokens.
    let (a, b) = (&windows[0].0, &windows[1].0);
    assert_eq!(a[a.len() - 1 - 64..a.len() - 1], b[3..3 + 64]);

    let texts = ["short text", long.as_str(), "ein kurzer Satz"];
    let windowed = encoder
        .embed_windows_blocking(
            &encoder
                .tokenize_windows(TextKind::Passage, &texts, 64)
                .unwrap(),
            &mut |_, _| {},
        )
        .unwrap();
    let plain = encoder.embed_blocking(TextKind::Passage, &texts).unwrap();
    for i in [0, 2] {
        let diff = max_abs_diff(windowed.row(i), plain.row(i));
        assert!(diff < 1e-6, "text {i}: {diff}");
    }
    let ids: Vec<Vec<u32>> = windows.iter().map(|(w, _)| w.clone()).collect();
    let parts = encoder.embed_ids_blocking(&ids, &mut |_, _| {}).unwrap();
    let mut mean = vec![0.0f32; parts.dim];
    for (row, (_, weight)) in parts.rows().zip(&windows) {
        mean.iter_mut()
            .zip(row)
            .for_each(|(m, x)| *m += *weight as f32 * x);
    }
    let norm = mean.iter().map(|x| x * x).sum::<f32>().sqrt();
    let diff = mean
        .iter()
        .zip(windowed.row(1))
        .map(|(m, x)| (m / norm - x).abs())
        .fold(0.0, f32::max);
    assert!(diff < 1e-6, "{diff}");
}

//! Bad input on a tiny random model (no download needed): tokenizer files that do not load
//! are named, non-finite embeddings are refused on every CPU engine, and the tokenizer takes
//! any text (mutated UTF-8 and bytes, NULs, lone combining marks, very long texts) without a
//! panic, giving ids that fit the model.

use std::panic::{AssertUnwindSafe, catch_unwind};

use langbias_assets::EncoderWeights;
use langbias_assets::test_util::{Mutator, TinyModel};
use langbias_encoder::{BackendKind, EncoderError, ModelAssets, Runtime, TextKind, load};

/// A Unigram tokenizer like XLM-R's (NFKC, Metaspace, `<s> … </s>`) over nine pieces.
const TOKENIZER: &str = r#"{
  "version": "1.0", "truncation": null, "padding": null,
  "added_tokens": [
    {"id": 0, "content": "<s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 1, "content": "<pad>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 2, "content": "</s>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true},
    {"id": 3, "content": "<unk>", "single_word": false, "lstrip": false, "rstrip": false, "normalized": false, "special": true}
  ],
  "normalizer": {"type": "NFKC"},
  "pre_tokenizer": {"type": "Metaspace", "replacement": "▁", "prepend_scheme": "always", "split": true},
  "post_processor": {
    "type": "TemplateProcessing",
    "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "pair": [{"SpecialToken": {"id": "<s>", "type_id": 0}}, {"Sequence": {"id": "A", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}, {"Sequence": {"id": "B", "type_id": 0}}, {"SpecialToken": {"id": "</s>", "type_id": 0}}],
    "special_tokens": {
      "<s>": {"id": "<s>", "ids": [0], "tokens": ["<s>"]},
      "</s>": {"id": "</s>", "ids": [2], "tokens": ["</s>"]}
    }
  },
  "decoder": null,
  "model": {"type": "Unigram", "unk_id": 3, "byte_fallback": false, "vocab": [
    ["<s>", 0.0], ["<pad>", 0.0], ["</s>", 0.0], ["<unk>", 0.0], ["▁", -1.0],
    ["a", -2.0], ["b", -2.0], ["é", -3.0], ["▁a", -1.5]
  ]}
}"#;

const ROWS: usize = 9;
const HIDDEN: usize = 8;
const MAX_POSITIONS: usize = 16;

fn tiny_weights() -> EncoderWeights {
    TinyModel {
        hidden: HIDDEN,
        layers: 1,
        intermediate: 16,
        vocab: ROWS,
        max_positions: MAX_POSITIONS,
        layer_norm_eps: 1e-5,
        ..TinyModel::default()
    }
    .weights()
}

fn tiny_assets() -> ModelAssets {
    ModelAssets::from_weights(tiny_weights(), TOKENIZER, true).unwrap()
}

/// Finite weights whose activations overflow (what an adapter with a huge scale does).
fn overflowing_assets() -> ModelAssets {
    let mut weights = tiny_weights();
    for name in [
        "encoder.layer.0.intermediate.dense.weight",
        "encoder.layer.0.output.dense.weight",
    ] {
        let t = weights.tensors.get_mut(name).unwrap();
        t.data.iter_mut().for_each(|x| *x *= 1e30);
    }
    ModelAssets::from_weights(weights, TOKENIZER, true).unwrap()
}

#[test]
fn non_finite_embeddings_are_an_error_naming_the_text() {
    let assets = overflowing_assets();
    for kind in [BackendKind::Cpu, BackendKind::Flex] {
        let encoder = assets.encoder(&Runtime::new(kind).unwrap()).unwrap();
        let err = encoder
            .embed_blocking(TextKind::Query, &["a b", "b a"])
            .unwrap_err();
        assert!(
            matches!(err, EncoderError::NonFinite { index } if index < 2),
            "{kind}: {err}"
        );
        assert!(err.to_string().contains("not finite"), "{err}");
        // In windows, the error names the text, not the window.
        let long = "a b ".repeat(40);
        let windows = encoder
            .tokenize_windows(TextKind::Passage, &[long.as_str()], 2)
            .unwrap();
        assert!(windows[0].len() > 1);
        let err = encoder
            .embed_windows_blocking(&windows, &mut |_, _| {})
            .unwrap_err();
        assert!(
            matches!(err, EncoderError::NonFinite { index: 0 }),
            "{kind}: {err}"
        );
    }
    // The same texts on sane weights embed to unit vectors.
    let encoder = tiny_assets().encoder(&Runtime::cpu()).unwrap();
    let e = encoder
        .embed_blocking(TextKind::Query, &["a b", "b a"])
        .unwrap();
    for row in e.rows() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-5, "{norm}");
    }
}

#[test]
fn tokenizer_errors_name_the_file() {
    let dir = std::env::temp_dir().join(format!("langbias-tok-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    langbias_assets::hf_dir::export(
        &tiny_weights(),
        &TOKENIZER[..TOKENIZER.find("\"model\"").unwrap()],
        &dir,
    )
    .unwrap();
    let err = load::load_model(&dir, true).unwrap_err().to_string();
    let path = dir.join("tokenizer.json").display().to_string();
    assert!(err.contains(&path) && err.contains("EOF"), "{err}");
    // A model whose configuration does not fit: a clear error, not a panic.
    let bad = tiny_weights()
        .config
        .to_hf_json()
        .replace("\"pad_token_id\": 0", "\"pad_token_id\": 600");
    std::fs::write(dir.join("config.json"), bad).unwrap();
    let err = load::load_model(&dir, true).unwrap_err().to_string();
    assert!(
        err.contains("config.json") && err.contains("pad_token_id 600"),
        "{err}"
    );
    std::fs::remove_dir_all(&dir).ok();
    // Given as text, the tokenizer is named `tokenizer.json`.
    let err = ModelAssets::from_weights(tiny_weights(), "[1, 2", true)
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("tokenizer.json: "), "{err}");
}

/// Texts that stress normalisation and pre-tokenisation.
fn seed_texts() -> Vec<String> {
    vec![
        "a b é".into(),
        "\u{301}\u{302}\u{303}".into(),
        "a\0b\0\0".into(),
        "e\u{301}\u{301}\u{301} ab".into(),
        "ﬁ ① Ａ".into(),
        "\u{200b}\u{feff}\u{202e}ab".into(),
        " ".repeat(50),
        String::new(),
    ]
}

#[test]
fn fuzz_tokenizer_input() {
    let encoder = tiny_assets().encoder(&Runtime::cpu()).unwrap();
    let max = encoder.tokenizer().max_tokens();
    let check = |text: &str| {
        let ids = encoder.tokenize(TextKind::Passage, &[text]).unwrap();
        let ids = &ids[0];
        assert!(ids.len() >= 2 && ids.len() <= max, "{} ids", ids.len());
        assert_eq!((ids[0], ids[ids.len() - 1]), (0, 2));
        assert!(ids.iter().all(|&id| (id as usize) < ROWS));
        let windows = encoder
            .tokenize_windows(TextKind::Passage, &[text], 2)
            .unwrap();
        for (window, _) in &windows[0] {
            assert!(window.len() <= max && window.iter().all(|&id| (id as usize) < ROWS));
        }
        windows
    };
    let mut m = Mutator::new(16);
    let seeds = seed_texts();
    let mut sample = Vec::new();
    for case in 0..3000 {
        let seed = &seeds[case % seeds.len()];
        let bytes = m.mutate(seed.as_bytes(), 0);
        // Valid UTF-8 as is, anything else as the replacement characters a reader would give.
        let text = String::from_utf8(bytes)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
        match catch_unwind(AssertUnwindSafe(|| check(&text))) {
            Ok(windows) if case % 100 == 0 => sample.extend(windows),
            Ok(_) => {}
            Err(_) => panic!("case {case} panicked on {text:?}"),
        }
    }
    // Very long texts: one long word, many words (both many windows), many combining marks
    // (unknown to this vocabulary: one fused `<unk>`).
    for (text, many_windows) in [
        ("a".repeat(200_000), true),
        ("ab é ".repeat(40_000), true),
        (format!("a{}", "\u{301}".repeat(50_000)), false),
    ] {
        let windows = check(&text);
        assert_eq!(
            windows[0].len() > 1,
            many_windows,
            "{} windows",
            windows[0].len()
        );
        sample.extend(windows);
    }
    // Embedding what was tokenised gives unit vectors.
    let e = encoder
        .embed_windows_blocking(&sample, &mut |_, _| {})
        .unwrap();
    for row in e.rows() {
        let norm = row.iter().map(|x| x * x).sum::<f32>().sqrt();
        assert!((norm - 1.0).abs() < 1e-4, "{norm}");
    }
}

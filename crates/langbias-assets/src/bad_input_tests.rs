//! Bad model files: configurations out of range, tensors the configuration does not use or
//! lacks, non-finite weights, bad adapters — each a clear error, never a panic or a silently
//! different model — and bounded mutation fuzzing of every reader.

use std::collections::{BTreeMap, HashMap};
use std::panic::{AssertUnwindSafe, catch_unwind};

use crate::test_util::{Mutator, TINY_UNIGRAM_JSON, TinyModel};
use crate::{
    AssetError, E5s1, E5s1Vocab, EmbeddingTable, EncoderConfig, EncoderWeights, HostTensor,
    LayerPrecision, LoraAdapter, LoraPair, write_e5s1, write_f32_safetensors,
};

/// A BERT small enough to fuzz: hidden 32 (one Q4_0 block), `layers` layers.
fn tiny(layers: usize) -> TinyModel {
    TinyModel {
        layers,
        intermediate: 32,
        vocab: 6,
        max_positions: 8,
        type_vocab: 1,
        pad_token_id: 1,
        layer_norm_eps: 1e-5,
        seed: 7,
        ..TinyModel::default()
    }
}

fn tiny_config(layers: usize) -> EncoderConfig {
    tiny(layers).config()
}

fn tiny_weights(layers: usize) -> EncoderWeights {
    tiny(layers).weights()
}

fn tiny_vocab() -> E5s1Vocab {
    E5s1Vocab::from_tokenizer_json(TINY_UNIGRAM_JSON).unwrap()
}

fn tiny_e5s1(layers: usize, precision: LayerPrecision) -> Vec<u8> {
    write_e5s1(&tiny_weights(layers), &tiny_vocab(), precision).unwrap()
}

/// Byte offsets of header fields (after the magic and the version).
const LAYERS_AT: usize = 12;
const EPS_AT: usize = 36;

fn err_of<T: std::fmt::Debug>(r: Result<T, AssetError>) -> String {
    r.unwrap_err().to_string()
}

#[test]
fn e5s1_header_with_a_non_finite_or_negative_eps_is_refused() {
    for eps in [f32::NAN, f32::INFINITY, -1.0, 0.0, 0.5] {
        let mut bytes = tiny_e5s1(2, LayerPrecision::F32);
        bytes[EPS_AT..EPS_AT + 4].copy_from_slice(&eps.to_le_bytes());
        let err = err_of(E5s1::parse("tiny.bin", bytes));
        assert!(
            err.contains("tiny.bin") && err.contains("layer_norm_eps"),
            "{eps}: {err}"
        );
    }
}

#[test]
fn e5s1_header_with_fewer_or_more_layers_names_the_tensors() {
    let mut bytes = tiny_e5s1(2, LayerPrecision::F32);
    bytes[LAYERS_AT..LAYERS_AT + 4].copy_from_slice(&1i32.to_le_bytes());
    let err = err_of(E5s1::parse("tiny.bin", bytes.clone()));
    assert!(
        err.contains("tiny.bin") && err.contains("not used") && err.contains("`l1.q.w`"),
        "{err}"
    );
    bytes[LAYERS_AT..LAYERS_AT + 4].copy_from_slice(&3i32.to_le_bytes());
    let err = err_of(E5s1::parse("tiny.bin", bytes.clone()));
    assert!(
        err.contains("missing 16") && err.contains("`l2.q.w`"),
        "{err}"
    );
    bytes[LAYERS_AT..LAYERS_AT + 4].copy_from_slice(&i32::MAX.to_le_bytes());
    let err = err_of(E5s1::parse("tiny.bin", bytes));
    assert!(err.contains("num_hidden_layers 2147483647"), "{err}");
}

#[test]
fn e5s1_with_non_finite_weights_is_refused() {
    let mut weights = tiny_weights(1);
    let name = "encoder.layer.0.output.dense.bias";
    weights.tensors.get_mut(name).unwrap().data[3] = f32::NAN;
    let bytes = write_e5s1(&weights, &tiny_vocab(), LayerPrecision::F32).unwrap();
    let err = err_of(E5s1::parse("nan.bin", bytes).unwrap().to_weights());
    assert!(
        err.contains("nan.bin") && err.contains("l0.fo.b") && err.contains("element 3"),
        "{err}"
    );
    // An infinite weight makes an infinite Q4_0 scale.
    let mut weights = tiny_weights(1);
    if let EmbeddingTable::F32 { data, .. } = &mut weights.word_embeddings {
        data[40] = f32::INFINITY;
    }
    let bytes = write_e5s1(&weights, &tiny_vocab(), LayerPrecision::Q4_0).unwrap();
    let err = err_of(E5s1::parse("inf.bin", bytes).unwrap().to_weights());
    assert!(err.contains("emb.word") && err.contains("block 1"), "{err}");
}

#[test]
fn hf_config_out_of_range_is_refused_without_panicking() {
    let base = serde_json::json!({"hidden_size": 384, "num_hidden_layers": 12,
        "num_attention_heads": 12, "intermediate_size": 1536, "vocab_size": 250037,
        "max_position_embeddings": 512});
    for (extra, expect) in [
        (r#""layer_norm_eps": -1"#, "layer_norm_eps -1"),
        (r#""layer_norm_eps": 0"#, "layer_norm_eps 0"),
        (r#""layer_norm_eps": 1e300"#, "layer_norm_eps"),
        (
            r#""model_type": "xlm-roberta", "pad_token_id": 600"#,
            "after the 601",
        ),
        (r#""pad_token_id": 300000"#, "pad_token_id 300000"),
        (r#""type_vocab_size": 0"#, "type_vocab_size is 0"),
        (r#""num_attention_heads": 0"#, "num_attention_heads is 0"),
        (r#""num_attention_heads": 7"#, "not divisible"),
    ] {
        let mut json = base.clone();
        let fields: serde_json::Value = serde_json::from_str(&format!("{{{extra}}}")).unwrap();
        json.as_object_mut()
            .unwrap()
            .extend(fields.as_object().unwrap().clone());
        let json = json.to_string();
        let result = catch_unwind(|| EncoderConfig::from_hf_json("config.json", &json));
        let err = err_of(result.unwrap_or_else(|_| panic!("panicked on {extra}")));
        assert!(
            err.contains("config.json") && err.contains(expect),
            "{extra}: {err}"
        );
    }
    // The panic of the issue came from `max_tokens` on such a config.
    let mut config = tiny_config(1);
    config.model_type = "xlm-roberta".into();
    config.pad_token_id = 600;
    assert_eq!(config.max_tokens(), 0);
}

fn safetensors_of(tensors: &BTreeMap<String, HostTensor>) -> Vec<u8> {
    write_f32_safetensors(
        "t",
        tensors.iter().map(|(n, t)| (n.as_str(), t)),
        HashMap::new(),
    )
    .unwrap()
}

fn hf_tensors(layers: usize) -> BTreeMap<String, HostTensor> {
    let w = tiny_weights(layers);
    let mut tensors = w.tensors.clone();
    tensors.insert(
        "embeddings.word_embeddings.weight".into(),
        HostTensor {
            shape: vec![6, 32],
            data: w.word_embeddings.to_f32(),
        },
    );
    tensors
}

#[test]
fn hf_weights_must_match_the_configuration() {
    // Two layers of tensors under a one-layer config: the unused layer is named.
    let bytes = safetensors_of(&hf_tensors(2));
    let err = err_of(EncoderWeights::from_safetensors(
        "model.safetensors",
        tiny_config(1),
        &bytes,
    ));
    assert!(
        err.contains("model.safetensors")
            && err.contains("not used by it 16")
            && err.contains("encoder.layer.1."),
        "{err}"
    );
    // A three-layer config over two layers of tensors.
    let err = err_of(EncoderWeights::from_safetensors(
        "model.safetensors",
        tiny_config(3),
        &bytes,
    ));
    assert!(
        err.contains("missing 16") && err.contains("encoder.layer.2."),
        "{err}"
    );
    // A tensor missing, the rest complete.
    let mut tensors = hf_tensors(2);
    tensors.remove("encoder.layer.1.output.LayerNorm.bias");
    let err = err_of(EncoderWeights::from_safetensors(
        "m",
        tiny_config(2),
        &safetensors_of(&tensors),
    ));
    assert!(
        err.contains("missing 1") && err.contains("encoder.layer.1.output.LayerNorm.bias"),
        "{err}"
    );
    // Prefixed keys, the position_ids buffer, the pooler and an MLM head are fine.
    let mut tensors: BTreeMap<String, HostTensor> = hf_tensors(2)
        .into_iter()
        .map(|(n, t)| (format!("bert.{n}"), t))
        .collect();
    let small = HostTensor {
        shape: vec![1],
        data: vec![0.0],
    };
    for extra in [
        "bert.embeddings.position_ids",
        "bert.pooler.dense.bias",
        "cls.predictions.bias",
    ] {
        tensors.insert(extra.into(), small.clone());
    }
    let weights =
        EncoderWeights::from_safetensors("m", tiny_config(2), &safetensors_of(&tensors)).unwrap();
    assert_eq!(weights.tensors, tiny_weights(2).tensors);
    // The same tensor with and without a prefix is ambiguous.
    tensors.insert("embeddings.LayerNorm.bias".into(), small);
    let err = err_of(EncoderWeights::from_safetensors(
        "m",
        tiny_config(2),
        &safetensors_of(&tensors),
    ));
    assert!(err.contains("appears twice"), "{err}");
    // A non-finite weight.
    let mut tensors = hf_tensors(1);
    tensors.get_mut("embeddings.LayerNorm.weight").unwrap().data[5] = f32::NEG_INFINITY;
    let err = err_of(EncoderWeights::from_safetensors(
        "m",
        tiny_config(1),
        &safetensors_of(&tensors),
    ));
    assert!(
        err.contains("embeddings.LayerNorm.weight") && err.contains("element 5"),
        "{err}"
    );
}

fn tiny_adapter(layer: &str, alpha: f32) -> LoraAdapter {
    LoraAdapter {
        rank: 2,
        alpha,
        layers: BTreeMap::from([(
            layer.to_owned(),
            LoraPair {
                a: HostTensor {
                    shape: vec![2, 32],
                    data: (0..64).map(|i| i as f32 / 64.0).collect(),
                },
                b: HostTensor {
                    shape: vec![32, 2],
                    data: (0..64).map(|i| -(i as f32) / 64.0).collect(),
                },
            },
        )]),
        metadata: BTreeMap::new(),
        document_means: BTreeMap::new(),
    }
}

#[test]
fn adapters_with_bad_factors_or_scale_are_refused() {
    let layer = "encoder.layer.0.attention.self.query";
    let mut nan = tiny_adapter(layer, 4.0);
    nan.layers.get_mut(layer).unwrap().b.data[9] = f32::NAN;
    let err = err_of(LoraAdapter::from_safetensors(
        "nan.safetensors",
        &nan.to_safetensors(false).unwrap(),
    ));
    assert!(
        err.contains("nan.safetensors") && err.contains(&format!("{layer}.lora_B")),
        "{err}"
    );
    for alpha in [1e30, f32::INFINITY, f32::NAN, -1e30] {
        let bytes = tiny_adapter(layer, alpha).to_safetensors(true).unwrap();
        let err = err_of(LoraAdapter::from_safetensors("big.safetensors", &bytes));
        assert!(
            err.contains("big.safetensors") && err.contains("alpha"),
            "{err}"
        );
    }
    let mut zero_rank = tiny_adapter(layer, 1.0);
    zero_rank.rank = 0;
    for pair in zero_rank.layers.values_mut() {
        pair.a = HostTensor {
            shape: vec![0, 32],
            data: vec![],
        };
        pair.b = HostTensor {
            shape: vec![32, 0],
            data: vec![],
        };
    }
    let bytes = zero_rank.to_safetensors(false).unwrap();
    assert!(LoraAdapter::from_safetensors("zero", &bytes).is_err());
}

#[test]
fn an_adapter_for_layers_the_base_lacks_names_them() {
    let base = tiny_weights(1).tensors;
    let err = err_of(tiny_adapter("encoder.layer.5.attention.self.query", 1.0).merge_into(&base));
    assert!(
        err.contains("encoder.layer.5.attention.self.query")
            && err.contains("base model has no tensor"),
        "{err}"
    );
    // A vector of the base (a LayerNorm) is not a linear layer: an error, not a panic.
    let err = err_of(tiny_adapter("encoder.layer.0.output.LayerNorm", 1.0).merge_into(&base));
    assert!(err.contains("not a matrix"), "{err}");
    let merged = tiny_adapter("encoder.layer.0.output.dense", 1.0).merge_into(&base);
    assert!(merged.is_ok());
}

#[test]
fn hf_export_writes_all_files_and_reads_back() {
    let dir = std::env::temp_dir().join(format!("langbias-export-{}", std::process::id()));
    let weights = tiny_weights(1);
    let tokenizer = r#"{"model":{}}"#;
    crate::hf_dir::export(&weights, tokenizer, &dir).unwrap();
    crate::hf_dir::export(&weights, tokenizer, &dir).unwrap();
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 3, "{names:?}");
    let (back, text) = crate::hf_dir::load(&dir).unwrap();
    assert_eq!(back.tensors, weights.tensors);
    assert_eq!(text, tokenizer);
    std::fs::remove_dir_all(&dir).ok();
}

/// What an accepted file must satisfy: a valid config, and weights (when they decode) of the
/// config's shapes with finite values.
fn assert_sane_weights(w: &EncoderWeights) {
    w.config.validate("fuzzed").unwrap();
    assert!(w.config.max_tokens() >= 3);
    for (name, t) in &w.tensors {
        assert_eq!(t.data.len(), t.shape.iter().product::<usize>(), "{name}");
        assert!(t.data.iter().all(|v| v.is_finite()), "{name}");
    }
    let table = w.word_embeddings.to_f32();
    assert_eq!(table.len(), w.config.vocab_size * w.config.hidden_size);
    assert!(table.iter().all(|v| v.is_finite()));
}

/// Runs `check` on `cases` mutations of `seed` (`extend` appended to each), fails on the first
/// panic naming the case, and returns how many inputs `check` accepted.
fn fuzz(
    seed: &[u8],
    extend: &[u8],
    protect: usize,
    cases: u64,
    check: impl Fn(Vec<u8>) -> bool,
) -> usize {
    let mut m = Mutator::new(0x5eed ^ cases);
    let mut accepted = 0;
    for case in 0..cases {
        let mut input = m.mutate(seed, protect);
        input.extend_from_slice(extend);
        let len = input.len();
        match catch_unwind(AssertUnwindSafe(|| check(input))) {
            Ok(ok) => accepted += usize::from(ok),
            Err(_) => panic!("case {case} panicked on {len} bytes"),
        }
    }
    accepted
}

#[test]
fn fuzz_e5s1_reader() {
    let bytes = tiny_e5s1(1, LayerPrecision::Q4_0);
    let check = |input: Vec<u8>| {
        let Ok(parsed) = E5s1::parse("fuzz", input) else {
            return false;
        };
        assert!(parsed.vocab.pieces.len() <= parsed.config.vocab_size);
        let Ok(w) = parsed.to_weights() else {
            return false;
        };
        assert_sane_weights(&w);
        true
    };
    assert!(fuzz(&bytes, &[], 4, 1500, check) > 0);
    // Mostly the header, vocabulary and directory: mutate what precedes the tensor data.
    let parsed = E5s1::parse("tiny", bytes.clone()).unwrap();
    let data_at = parsed.tensors().iter().map(|t| t.offset).min().unwrap();
    let (head, data) = bytes.split_at(data_at);
    assert!(fuzz(head, data, 4, 2500, check) > 0);
}

#[test]
fn fuzz_hf_config_and_safetensors_readers() {
    let json = tiny_config(1).to_hf_json();
    let accepted = fuzz(json.as_bytes(), &[], 0, 3000, |input| {
        let Ok(config) = std::str::from_utf8(&input)
            .map_err(drop)
            .and_then(|text| EncoderConfig::from_hf_json("fuzz", text).map_err(drop))
        else {
            return false;
        };
        assert!(config.max_tokens() >= 3);
        assert!(config.layer_norm_eps.is_finite() && config.layer_norm_eps > 0.0);
        assert!((config.pad_token_id as usize) < config.vocab_size);
        true
    });
    assert!(accepted > 0);
    let st = safetensors_of(&hf_tensors(1));
    let accepted = fuzz(&st, &[], 0, 1000, |input| {
        let Ok(w) = EncoderWeights::from_safetensors("fuzz", tiny_config(1), &input) else {
            return false;
        };
        assert_sane_weights(&w);
        true
    });
    assert!(accepted > 0);
}

#[test]
fn fuzz_adapter_reader() {
    let bytes = tiny_adapter("encoder.layer.0.attention.self.query", 4.0)
        .to_safetensors(true)
        .unwrap();
    let base = tiny_weights(1).tensors;
    let accepted = fuzz(&bytes, &[], 0, 3000, |input| {
        let Ok(adapter) = LoraAdapter::from_safetensors("fuzz", &input) else {
            return false;
        };
        assert!(adapter.rank >= 1 && adapter.scale().is_finite());
        for pair in adapter.layers.values() {
            assert!(
                pair.a
                    .data
                    .iter()
                    .chain(&pair.b.data)
                    .all(|v| v.is_finite())
            );
        }
        if let Ok(merged) = adapter.merge_into(&base) {
            assert!(
                merged
                    .values()
                    .all(|t| t.data.iter().all(|v| v.is_finite()))
            );
        }
        true
    });
    assert!(accepted > 0);
}

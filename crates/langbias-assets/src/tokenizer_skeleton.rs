//! A `tokenizer.json` without its vocabulary (17 MB → ~0.4 MB for XLM-R). The site ships the
//! vocabulary once, inside the E5S1 file, and puts it back with [`fill_unigram_vocab`].

use serde_json::Value;

use crate::AssetError;

/// Removes `model.vocab` from a Unigram `tokenizer.json`, keeping normaliser, pre-tokenizer,
/// post-processor, decoder and special tokens.
pub fn strip_vocab(tokenizer_json: &str) -> Result<String, AssetError> {
    let mut value: Value =
        serde_json::from_str(tokenizer_json).map_err(|source| AssetError::Json {
            what: "tokenizer.json".into(),
            source,
        })?;
    let model = value
        .get_mut("model")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| AssetError::corrupt("tokenizer.json", "no `model` object"))?;
    if model.get("type").and_then(Value::as_str) != Some("Unigram") {
        return Err(AssetError::Unsupported {
            what: "tokenizer.json".into(),
            detail: "model type is not Unigram".into(),
        });
    }
    model.insert("vocab".into(), Value::Array(Vec::new()));
    serde_json::to_string(&value).map_err(|source| AssetError::Json {
        what: "tokenizer skeleton".into(),
        source,
    })
}

/// Puts a Unigram vocabulary (pieces with log-probabilities, in id order) back into a skeleton.
pub fn fill_unigram_vocab(
    skeleton_json: &str,
    vocab: &[(String, f64)],
) -> Result<String, AssetError> {
    let mut value: Value =
        serde_json::from_str(skeleton_json).map_err(|source| AssetError::Json {
            what: "tokenizer skeleton".into(),
            source,
        })?;
    let model = value
        .get_mut("model")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| AssetError::corrupt("tokenizer skeleton", "no `model` object"))?;
    let entries = vocab
        .iter()
        .map(|(piece, score)| serde_json::json!([piece, score]))
        .collect();
    model.insert("vocab".into(), Value::Array(entries));
    serde_json::to_string(&value).map_err(|source| AssetError::Json {
        what: "tokenizer".into(),
        source,
    })
}

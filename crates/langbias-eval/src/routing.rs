//! Routing by language pair (`--debias routed`): each document is scored by the model that is
//! best for its pairing with the query's language, and the languages' lists are merged by
//! per-language z-scores ([`crate::zscore`]).
//!
//! An adapter trained for cross-lingual alignment ranks English documents for an Arabic
//! question better than its base model, but it need not rank Arabic documents for that
//! question any better. Routing keeps each model where it is best. For one query in language
//! `q`, documents `d` of language `L_d`, and two models' cosine scores — `own_d` from the model
//! for the query's own language (the base model) and `cross_d` from the cross-lingual model
//! (the adapter):
//!
//! ```text
//! s_d = own_d    if L_d = q
//! s_d = cross_d  otherwise
//! z_d = (s_d − m_{L_d}) / σ_{L_d}      (the z-scores of crate::zscore over s)
//! ```
//!
//! So the documents in the query's language come in the own model's order, every other
//! language's in the cross model's, and z-scores interleave them. A pool in the query's
//! language alone ranks exactly as the own model ranks it (monolingual retrieval is the base
//! model's, by construction); a pool without it ranks as the cross model with z-scores. The
//! query is embedded by both models, each document only by the model its pairing needs.
//!
//! ```
//! use langbias_eval::routing::route_and_standardise;
//!
//! // A German query; documents en, en, de, de. The own model's German scores (0.9, 0.5) and
//! // the cross model's English scores (0.6, 0.2) are kept, the others dropped.
//! let own = [0.0_f32, 0.0, 0.9, 0.5];
//! let cross = [0.6_f32, 0.2, 0.1, 0.8];
//! let z = route_and_standardise(&own, &cross, &["en", "en", "de", "de"], "de")?;
//! let want = [1.0, -1.0, 1.0, -1.0];
//! assert!(z.iter().zip(want).all(|(a, b)| (a - b).abs() < 1e-5));
//! # Ok::<(), langbias_eval::DebiasError>(())
//! ```
//!
//! # Bad input
//!
//! [`DebiasError`]s: two score lists of different lengths ([`DebiasError::ScoreCount`]), a
//! query without a language, and everything [`crate::zscore::standardise_by_language`]
//! rejects (a language with a single document or with flat scores, a non-finite score, a
//! document without a language, a language count ≠ the number of scores).

use crate::debias::{DebiasError, Side};

/// The routed scores (before z-scores): `own[i]` where `doc_langs[i]` is `query_lang`, else
/// `cross[i]`. See the module docs.
pub fn route<L: AsRef<str>>(
    own: &[f32],
    cross: &[f32],
    doc_langs: &[L],
    query_lang: &str,
) -> Result<Vec<f32>, DebiasError> {
    if own.len() != cross.len() {
        return Err(DebiasError::ScoreCount {
            own: own.len(),
            cross: cross.len(),
        });
    }
    if doc_langs.len() != own.len() {
        return Err(DebiasError::LanguageCount {
            side: Side::Document,
            rows: own.len(),
            langs: doc_langs.len(),
        });
    }
    if query_lang.trim().is_empty() {
        return Err(DebiasError::MissingLanguage {
            side: Side::Query,
            row: 0,
        });
    }
    Ok(own
        .iter()
        .zip(cross)
        .zip(doc_langs)
        .map(|((&o, &c), lang)| if lang.as_ref() == query_lang { o } else { c })
        .collect())
}

/// [`route`], then [`crate::zscore::standardise_by_language`]: the scores `--debias routed`
/// ranks by.
pub fn route_and_standardise<L: AsRef<str>>(
    own: &[f32],
    cross: &[f32],
    doc_langs: &[L],
    query_lang: &str,
) -> Result<Vec<f32>, DebiasError> {
    let mut scores = route(own, cross, doc_langs, query_lang)?;
    crate::zscore::standardise_by_language(&mut scores, doc_langs)?;
    Ok(scores)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zscore::standardise_by_language;

    #[test]
    fn takes_the_own_model_for_the_query_language_and_the_cross_model_otherwise() {
        let own = [0.1_f32, 0.2, 0.3, 0.4, 0.5];
        let cross = [0.6_f32, 0.7, 0.8, 0.9, 1.0];
        let langs = ["en", "ar", "en", "ar", "hi"];
        assert_eq!(
            route(&own, &cross, &langs, "ar").unwrap(),
            [0.6, 0.2, 0.8, 0.4, 1.0]
        );
        // An English query: its own language is English.
        assert_eq!(
            route(&own, &cross, &langs, "en").unwrap(),
            [0.1, 0.7, 0.3, 0.9, 1.0]
        );
    }

    #[test]
    fn standardises_the_routed_scores_by_hand() {
        // Query "de". en (cross): 0.3, 0.5, 0.7 → mean 0.5, σ = √(0.08/3); de (own): 0.8,
        // 0.2 → mean 0.5, σ 0.3 → 1, −1.
        let own = [9.0_f32, 9.0, 9.0, 0.8, 0.2];
        let cross = [0.3_f32, 0.5, 0.7, -9.0, -9.0];
        let z = route_and_standardise(&own, &cross, &["en", "en", "en", "de", "de"], "de").unwrap();
        let s = (0.08_f64 / 3.0).sqrt();
        let want = [-0.2 / s, 0.0, 0.2 / s, 1.0, -1.0];
        for (a, b) in z.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{z:?} vs {want:?}");
        }
    }

    #[test]
    fn a_pool_in_the_query_language_alone_ranks_as_the_own_model() {
        let own = [0.3_f32, 0.9, 0.1];
        let cross = [0.9_f32, 0.1, 0.5];
        let langs = ["hi", "hi", "hi"];
        let z = route_and_standardise(&own, &cross, &langs, "hi").unwrap();
        let mut want = own.to_vec();
        standardise_by_language(&mut want, &langs).unwrap();
        assert_eq!(z, want);
        // Without the query's language every document is the cross model's.
        let z = route_and_standardise(&own, &cross, &langs, "en").unwrap();
        let mut want = cross.to_vec();
        standardise_by_language(&mut want, &langs).unwrap();
        assert_eq!(z, want);
    }

    #[test]
    fn bad_input_is_named() {
        let err = route(&[0.1, 0.2], &[0.1], &["en", "de"], "de").unwrap_err();
        assert_eq!(err, DebiasError::ScoreCount { own: 2, cross: 1 });
        assert!(err.to_string().contains("2 scores"), "{err}");
        let err = route(&[0.1, 0.2], &[0.1, 0.2], &["en"], "de").unwrap_err();
        assert!(matches!(
            err,
            DebiasError::LanguageCount {
                rows: 2,
                langs: 1,
                ..
            }
        ));
        let err = route(&[0.1], &[0.1], &["en"], " ").unwrap_err();
        assert!(matches!(
            err,
            DebiasError::MissingLanguage {
                side: Side::Query,
                ..
            }
        ));
        // A language with a single document has no spread (z-scores' own error).
        let err = route_and_standardise(
            &[0.1, 0.2, 0.3],
            &[0.1, 0.2, 0.3],
            &["en", "en", "de"],
            "de",
        )
        .unwrap_err();
        assert_eq!(
            err,
            DebiasError::SingleScore {
                lang: "de".to_owned()
            }
        );
    }
}

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
//! language's in the cross model's, and z-scores interleave them.
//!
//! **Cross-lingual feedback** ([`add_feedback`], weight β = [`FEEDBACK_WEIGHT`] by default; 0
//! turns it off). The own model ranks the query's language best, so its first document `t`
//! (the highest `own_d` of language `q`; the first in pool order among equals) is used as
//! pseudo-relevance feedback for the other languages, with the cross model's document vectors
//! `x_d` (Rocchio's feedback with one document, across languages):
//!
//! ```text
//! f_d  = cos(x_d, x_t)                           for every d with L_d ≠ q
//! z'_d = z_d + β · (f_d − m^f_{L_d}) / σ^f_{L_d}   (f standardised within d's language)
//! z''  = z' standardised again within each language other than q; z_d for L_d = q unchanged
//! ```
//!
//! A document in another language that says what the query's best own-language document says
//! (its translation, in a pool that holds one) rises towards the top of its language; a
//! language whose `f` is flat (all its documents alike to `t`) gets no feedback; a pool without
//! the query's language has no `t` and is ranked without feedback. β = 0.45 was chosen on the
//! development half of XQuAD (Arabic and Hindi, with the shipped adapter; the model card),
//! as the lowest MIX Max@R whose MIX nDCG@1 is not below the base model's and whose nDCG@1 on
//! pools without parallel versions (`unpaired`) is not below the best training-free baseline's.
//!
//! A pool in the query's language alone ranks exactly as the own model ranks it (monolingual
//! retrieval is the base model's, by construction); a pool without it ranks as the cross model
//! with z-scores. The query is embedded by both models; `langbias rank` embeds each document
//! only with the model its pairing needs (and `t` with the cross model too), while `eval` and
//! the page have both models' vectors of every document anyway.
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
//! feedback weight below 0 or not finite ([`DebiasError::FeedbackWeight`]), feedback cosines
//! for another number of documents ([`DebiasError::FeedbackCount`]) or not finite, a query
//! without a language, and everything [`crate::zscore::standardise_by_language`] rejects (a language with a single document or with flat scores, a non-finite score, a
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

/// The weight β of [`add_feedback`] that `--debias routed`, `langbias rank` and the page use
/// unless told otherwise (module docs: chosen on XQuAD's development half).
pub const FEEDBACK_WEIGHT: f32 = 0.45;

/// [`route_and_standardise`], then [`add_feedback`] with weight `weight` from the query
/// language's first document `t` ([`top_own`]): the scores `--debias routed` ranks by.
/// `cross_docs[d]` is the cross model's vector of document `d` (read for the other languages'
/// documents and for `t`; unit vectors, so their dot product is the cosine).
pub fn route_with_feedback<L: AsRef<str>>(
    own: &[f32],
    cross: &[f32],
    cross_docs: &[&[f32]],
    doc_langs: &[L],
    query_lang: &str,
    weight: f32,
) -> Result<Vec<f32>, DebiasError> {
    if !weight.is_finite() || weight < 0.0 {
        return Err(DebiasError::FeedbackWeight { weight });
    }
    if cross_docs.len() != cross.len() {
        return Err(DebiasError::FeedbackCount {
            scores: cross.len(),
            cosines: cross_docs.len(),
        });
    }
    let mut z = route_and_standardise(own, cross, doc_langs, query_lang)?;
    if let Some(t) = top_own(&z, doc_langs, query_lang)
        && weight > 0.0
    {
        let to_top = crate::ranking::scores(cross_docs.iter().copied(), cross_docs[t]);
        add_feedback(&mut z, &to_top, doc_langs, query_lang, weight)?;
    }
    Ok(z)
}

/// The first document of the query's language by `scores` (the highest; the first in pool
/// order among equals), or `None` when the pool has none: the feedback document `t`.
pub fn top_own<L: AsRef<str>>(scores: &[f32], doc_langs: &[L], query_lang: &str) -> Option<usize> {
    scores
        .iter()
        .zip(doc_langs)
        .enumerate()
        .filter(|(_, (_, lang))| lang.as_ref() == query_lang)
        .fold(
            None,
            |best: Option<(usize, f32)>, (i, (&s, _))| match best {
                Some((_, b)) if b >= s => best,
                _ => Some((i, s)),
            },
        )
        .map(|(i, _)| i)
}

/// Cross-lingual feedback on routed z-scores `z` (module docs): `to_top[d]` is the cross
/// model's cosine between document `d` and the feedback document `t` (read only for the
/// languages other than `query_lang`). Each other language's `to_top` is standardised among
/// its documents, added with weight `weight`, and the sum standardised again; the query's
/// language keeps its scores. A language whose `to_top` is flat gets no feedback.
pub fn add_feedback<L: AsRef<str>>(
    z: &mut [f32],
    to_top: &[f32],
    doc_langs: &[L],
    query_lang: &str,
    weight: f32,
) -> Result<(), DebiasError> {
    if !weight.is_finite() || weight < 0.0 {
        return Err(DebiasError::FeedbackWeight { weight });
    }
    if to_top.len() != z.len() {
        return Err(DebiasError::FeedbackCount {
            scores: z.len(),
            cosines: to_top.len(),
        });
    }
    if doc_langs.len() != z.len() {
        return Err(DebiasError::LanguageCount {
            side: Side::Document,
            rows: z.len(),
            langs: doc_langs.len(),
        });
    }
    let others: Vec<usize> = (0..z.len())
        .filter(|&i| doc_langs[i].as_ref() != query_lang)
        .collect();
    if weight == 0.0 || others.is_empty() {
        return Ok(());
    }
    if let Some(&row) = others.iter().find(|&&i| !to_top[i].is_finite()) {
        return Err(DebiasError::NonFiniteScore { row });
    }
    let langs: Vec<&str> = others.iter().map(|&i| doc_langs[i].as_ref()).collect();
    let mut feedback: Vec<f32> = others.iter().map(|&i| to_top[i]).collect();
    match crate::zscore::standardise_by_language(&mut feedback, &langs) {
        Ok(()) => {}
        // Flat within a language: standardise the languages that are not, the flat ones add 0.
        Err(DebiasError::FlatScores { .. } | DebiasError::SingleScore { .. }) => {
            feedback = standardise_or_zero(&feedback, &langs);
        }
        Err(e) => return Err(e),
    }
    let mut summed: Vec<f32> = others
        .iter()
        .zip(&feedback)
        .map(|(&i, &f)| z[i] + weight * f)
        .collect();
    crate::zscore::standardise_by_language(&mut summed, &langs)?;
    for (&i, s) in others.iter().zip(summed) {
        z[i] = s;
    }
    Ok(())
}

/// Per-language z-scores of `values`, 0 for a language without spread (or a single value).
fn standardise_or_zero(values: &[f32], langs: &[&str]) -> Vec<f32> {
    let mut out = vec![0.0; values.len()];
    let mut seen: Vec<&str> = Vec::new();
    for &lang in langs {
        if seen.contains(&lang) {
            continue;
        }
        seen.push(lang);
        let rows: Vec<usize> = (0..values.len()).filter(|&i| langs[i] == lang).collect();
        let mut own: Vec<f32> = rows.iter().map(|&i| values[i]).collect();
        let same = vec![lang; rows.len()];
        if crate::zscore::standardise_by_language(&mut own, &same).is_ok() {
            for (&i, v) in rows.iter().zip(own) {
                out[i] = v;
            }
        }
    }
    out
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
    fn feedback_by_hand() {
        // Query "de": German z-scores stay. English z-scores of 0.3, 0.5, 0.7 are
        // −√1.5, 0, √1.5; their cosines to the top German document 0.9, 0.1, 0.5 standardise
        // to √1.5, −√1.5, 0. With β = 0.5 the sums are −√1.5/2, −√1.5/2, √1.5 (mean 0, σ
        // √0.75), standardised again: −1/√2, −1/√2, √2.
        let r = 1.5_f64.sqrt();
        let langs = ["de", "de", "en", "en", "en"];
        let mut z = [1.0_f32, -1.0, -r as f32, 0.0, r as f32];
        let to_top = [9.0_f32, 9.0, 0.9, 0.1, 0.5];
        add_feedback(&mut z, &to_top, &langs, "de", 0.5).unwrap();
        let h = 0.5_f64.sqrt();
        let want = [1.0, -1.0, -h, -h, 2.0 * h];
        for (a, b) in z.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{z:?} vs {want:?}");
        }
        // Weight 0 is routing without feedback.
        let mut off = [1.0_f32, -1.0, -r as f32, 0.0, r as f32];
        add_feedback(&mut off, &to_top, &langs, "de", 0.0).unwrap();
        assert_eq!(off, [1.0_f32, -1.0, -r as f32, 0.0, r as f32]);
    }

    #[test]
    fn feedback_needs_a_document_in_the_query_language_and_some_spread() {
        // The first of the query's language by score; the first in pool order among equals.
        assert_eq!(
            top_own(&[0.9, 0.2, 0.7, 0.7], &["en", "de", "de", "de"], "de"),
            Some(2)
        );
        assert_eq!(top_own(&[0.9, 0.2], &["en", "en"], "de"), None);
        // A language whose documents are all alike to the feedback document keeps its scores;
        // the others get feedback.
        let langs = ["de", "de", "en", "en", "fr", "fr"];
        let mut z = [1.0_f32, -1.0, 1.0, -1.0, 1.0, -1.0];
        add_feedback(&mut z, &[0.0, 0.0, 0.4, 0.4, 0.1, 0.9], &langs, "de", 3.0).unwrap();
        assert_eq!(&z[..4], &[1.0, -1.0, 1.0, -1.0]);
        assert!(z[5] > z[4], "{z:?}");
        // A pool in the query's language alone is left as it is.
        let mut mono = [1.0_f32, -1.0];
        add_feedback(&mut mono, &[0.3, 0.1], &["de", "de"], "de", 1.0).unwrap();
        assert_eq!(mono, [1.0, -1.0]);
    }

    #[test]
    fn bad_feedback_is_named() {
        let langs = ["de", "de", "en", "en"];
        let mut z = [1.0_f32, -1.0, 1.0, -1.0];
        for weight in [-0.1, f32::NAN, f32::INFINITY] {
            let err = add_feedback(&mut z, &[0.0; 4], &langs, "de", weight).unwrap_err();
            assert!(matches!(err, DebiasError::FeedbackWeight { .. }), "{err}");
            assert!(err.to_string().contains("feedback weight"), "{err}");
        }
        let err = add_feedback(&mut z, &[0.0, 0.0, f32::NAN, 0.1], &langs, "de", 0.5).unwrap_err();
        assert_eq!(err, DebiasError::NonFiniteScore { row: 2 });
        let err = add_feedback(&mut z, &[0.0; 3], &langs, "de", 0.5).unwrap_err();
        assert_eq!(
            err,
            DebiasError::FeedbackCount {
                scores: 4,
                cosines: 3
            }
        );
        assert!(
            err.to_string().contains("3 feedback cosines for 4"),
            "{err}"
        );
        assert_eq!(z, [1.0, -1.0, 1.0, -1.0]);
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

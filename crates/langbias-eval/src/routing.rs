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
//! **Cross-lingual feedback** ([`add_feedback`], [`Feedback`]; β = 0.45 and τ = 4 by default,
//! [`Feedback::OFF`] turns it off). The own model ranks the query's language best, so its first document `t`
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
//! only in the languages where `t` has a clear match: `max_d (f_d − m^f_L) / σ^f_L ≥ τ` (a
//! translation of `t` stands out from the other documents by that many standard deviations; a
//! merely related document does not). A document in another language that says what the
//! query's best own-language document says (its translation, in a pool that holds one) rises
//! towards the top of its language; a language without such a match, or whose `f` is flat, gets
//! no feedback; a pool without the query's language has no `t` and is ranked without feedback.
//! Both values were chosen on the development half of XQuAD (Arabic and Hindi, with the shipped
//! adapter; the model card): β as the lowest MIX Max@R whose MIX nDCG@1 is not below the base
//! model's and whose nDCG@1 on pools without parallel versions (`unpaired`) is not below the
//! best training-free baseline's; then τ as the best `unpaired` nDCG@1 that keeps MIX Max@R
//! within 0.02 of the ungated feedback's.
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
//! feedback weight below 0 or a setting not finite ([`DebiasError::FeedbackSetting`]),
//! feedback cosines for another number of documents ([`DebiasError::FeedbackCount`]) or not
//! finite, a query without a language, and everything
//! [`crate::zscore::standardise_by_language`] rejects (a language with a single document or
//! with flat scores, a non-finite score, a document without a language, a language count ≠
//! the number of scores).

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

/// How much the query language's first document feeds back into the other languages
/// ([`add_feedback`]; module docs). The default is what `--debias routed`, `langbias rank` and
/// the page use: both values were chosen on XQuAD's development half (the model card).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Feedback {
    /// β: the weight of the standardised feedback cosine (0: no feedback).
    pub weight: f32,
    /// A language gets feedback only when its document closest to the feedback document stands
    /// out by at least this many standard deviations of its cosines (a translation does; a
    /// merely related document does not).
    pub min_match: f32,
}

impl Default for Feedback {
    fn default() -> Self {
        Self {
            weight: 0.45,
            min_match: 4.0,
        }
    }
}

impl Feedback {
    /// No feedback: routing and z-scores only.
    pub const OFF: Self = Self {
        weight: 0.0,
        min_match: 0.0,
    };

    /// The setting, checked: a finite weight ≥ 0 and a finite `min_match`.
    pub fn new(weight: f32, min_match: f32) -> Result<Self, DebiasError> {
        if !weight.is_finite() || weight < 0.0 {
            return Err(DebiasError::FeedbackSetting {
                what: "weight",
                value: weight,
            });
        }
        if !min_match.is_finite() {
            return Err(DebiasError::FeedbackSetting {
                what: "match threshold",
                value: min_match,
            });
        }
        Ok(Self { weight, min_match })
    }
}

/// What feedback did for one query ([`route_with_feedback`]).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct FeedbackOutcome {
    /// The feedback document `t` (its index among the documents), when the pool has one in the
    /// query's language and the weight is above 0.
    pub from: Option<usize>,
    /// The languages that had a clear match for `t` and so received feedback, in code order.
    pub languages: Vec<String>,
}

/// [`route_and_standardise`], then [`add_feedback`] from the query language's first document
/// `t` ([`top_own`]): the scores `--debias routed` ranks by, and what the feedback did.
/// `cross_docs[d]` is the cross model's vector of document `d` (read for the other languages'
/// documents and for `t`; unit vectors, so their dot product is the cosine).
pub fn route_with_feedback<L: AsRef<str>>(
    own: &[f32],
    cross: &[f32],
    cross_docs: &[&[f32]],
    doc_langs: &[L],
    query_lang: &str,
    feedback: Feedback,
) -> Result<(Vec<f32>, FeedbackOutcome), DebiasError> {
    let feedback = Feedback::new(feedback.weight, feedback.min_match)?;
    if cross_docs.len() != cross.len() {
        return Err(DebiasError::FeedbackCount {
            scores: cross.len(),
            cosines: cross_docs.len(),
        });
    }
    let mut z = route_and_standardise(own, cross, doc_langs, query_lang)?;
    let mut outcome = FeedbackOutcome::default();
    if let Some(t) = top_own(&z, doc_langs, query_lang)
        && feedback.weight > 0.0
    {
        let to_top = crate::ranking::scores(cross_docs.iter().copied(), cross_docs[t]);
        outcome.languages = add_feedback(&mut z, &to_top, doc_langs, query_lang, feedback)?;
        outcome.from = Some(t);
    }
    Ok((z, outcome))
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
/// languages other than `query_lang`). In each other language, `to_top` is standardised among
/// its documents; if its largest value reaches `feedback.min_match`, it is added with weight
/// `feedback.weight` and the sum standardised again. Every other language, the query's
/// included, keeps its scores (so does a language whose `to_top` is flat). Returns the
/// languages that received feedback.
pub fn add_feedback<L: AsRef<str>>(
    z: &mut [f32],
    to_top: &[f32],
    doc_langs: &[L],
    query_lang: &str,
    feedback: Feedback,
) -> Result<Vec<String>, DebiasError> {
    let Feedback { weight, min_match } = Feedback::new(feedback.weight, feedback.min_match)?;
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
    let mut by_lang: std::collections::BTreeMap<&str, Vec<usize>> = Default::default();
    for (i, lang) in doc_langs.iter().enumerate() {
        if lang.as_ref() != query_lang {
            by_lang.entry(lang.as_ref()).or_default().push(i);
        }
    }
    if let Some(row) = by_lang
        .values()
        .flatten()
        .copied()
        .find(|&i| !to_top[i].is_finite())
    {
        return Err(DebiasError::NonFiniteScore { row });
    }
    let mut fed = Vec::new();
    if weight == 0.0 {
        return Ok(fed);
    }
    for (lang, rows) in by_lang {
        let same = vec![lang; rows.len()];
        let mut cosines: Vec<f32> = rows.iter().map(|&i| to_top[i]).collect();
        match crate::zscore::standardise_by_language(&mut cosines, &same) {
            // A single document or flat cosines: nothing stands out, no feedback.
            Err(DebiasError::SingleScore { .. } | DebiasError::FlatScores { .. }) => continue,
            Err(e) => return Err(e),
            Ok(()) if cosines.iter().all(|&c| c < min_match) => continue,
            Ok(()) => {}
        }
        let mut summed: Vec<f32> = rows
            .iter()
            .zip(&cosines)
            .map(|(&i, &c)| z[i] + weight * c)
            .collect();
        crate::zscore::standardise_by_language(&mut summed, &same)?;
        for (&i, s) in rows.iter().zip(summed) {
            z[i] = s;
        }
        fed.push(lang.to_owned());
    }
    Ok(fed)
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

    /// β without a match threshold (every language's best match passes).
    fn weight(weight: f32) -> Feedback {
        Feedback {
            weight,
            min_match: f32::MIN,
        }
    }

    #[test]
    fn feedback_by_hand() {
        // Query "de": German z-scores stay. English z-scores of 0.3, 0.5, 0.7 are
        // −√1.5, 0, √1.5; their cosines to the top German document 0.9, 0.1, 0.5 standardise
        // to √1.5, −√1.5, 0. With β = 0.5 the sums are −√1.5/2, −√1.5/2, √1.5 (mean 0, σ
        // √0.75), standardised again: −1/√2, −1/√2, √2.
        let r = 1.5_f64.sqrt();
        let langs = ["de", "de", "en", "en", "en"];
        let before = [1.0_f32, -1.0, -r as f32, 0.0, r as f32];
        let to_top = [9.0_f32, 9.0, 0.9, 0.1, 0.5];
        let mut z = before;
        let fed = add_feedback(&mut z, &to_top, &langs, "de", weight(0.5)).unwrap();
        assert_eq!(fed, ["en"]);
        let h = 0.5_f64.sqrt();
        let want = [1.0, -1.0, -h, -h, 2.0 * h];
        for (a, b) in z.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{z:?} vs {want:?}");
        }
        // The best English match stands out by √1.5 ≈ 1.22 standard deviations: a threshold
        // of 1.2 lets the feedback through, 1.3 does not.
        let mut gated = before;
        let at = |min_match| Feedback {
            weight: 0.5,
            min_match,
        };
        add_feedback(&mut gated, &to_top, &langs, "de", at(1.2)).unwrap();
        assert_eq!(gated, z);
        let mut gated = before;
        let fed = add_feedback(&mut gated, &to_top, &langs, "de", at(1.3)).unwrap();
        assert_eq!(gated, before);
        assert!(fed.is_empty());
        // Weight 0 is routing without feedback.
        let mut off = before;
        add_feedback(&mut off, &to_top, &langs, "de", Feedback::OFF).unwrap();
        assert_eq!(off, before);
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
        add_feedback(
            &mut z,
            &[0.0, 0.0, 0.4, 0.4, 0.1, 0.9],
            &langs,
            "de",
            weight(3.0),
        )
        .unwrap();
        assert_eq!(&z[..4], &[1.0, -1.0, 1.0, -1.0]);
        assert!(z[5] > z[4], "{z:?}");
        // A pool in the query's language alone is left as it is.
        let mut mono = [1.0_f32, -1.0];
        add_feedback(&mut mono, &[0.3, 0.1], &["de", "de"], "de", weight(1.0)).unwrap();
        assert_eq!(mono, [1.0, -1.0]);
        // Routing with feedback: the German query's best German document (index 3 by the own
        // model) feeds back through the cross model's vectors; English document 1 is its
        // translation and rises above document 0, which the cross model scored higher.
        let own = [0.0_f32, 0.0, 0.0, 0.9, 0.2];
        let cross = [0.6_f32, 0.5, 0.1, 0.0, 0.0];
        let e = |x: f32, y: f32| [x, y];
        let vectors = [
            e(0.6, 0.8),
            e(1.0, 0.0),
            e(0.0, 1.0),
            e(1.0, 0.0),
            e(0.0, 1.0),
        ];
        let rows: Vec<&[f32]> = vectors.iter().map(|v| v.as_slice()).collect();
        let langs = ["en", "en", "en", "de", "de"];
        let (plain, none) =
            route_with_feedback(&own, &cross, &rows, &langs, "de", Feedback::OFF).unwrap();
        assert!(plain[0] > plain[1], "{plain:?}");
        assert_eq!(none, FeedbackOutcome::default());
        let (fed, outcome) =
            route_with_feedback(&own, &cross, &rows, &langs, "de", weight(1.0)).unwrap();
        assert!(fed[1] > fed[0], "{fed:?}");
        assert_eq!(&fed[3..], &plain[3..]);
        assert_eq!(
            outcome,
            FeedbackOutcome {
                from: Some(3),
                languages: vec!["en".to_owned()]
            }
        );
    }

    #[test]
    fn bad_feedback_is_named() {
        let langs = ["de", "de", "en", "en"];
        let mut z = [1.0_f32, -1.0, 1.0, -1.0];
        for w in [-0.1, f32::NAN, f32::INFINITY] {
            let err = add_feedback(&mut z, &[0.0; 4], &langs, "de", weight(w)).unwrap_err();
            assert!(
                matches!(err, DebiasError::FeedbackSetting { what: "weight", .. }),
                "{err}"
            );
            assert!(err.to_string().contains("feedback weight"), "{err}");
        }
        let err = Feedback::new(0.5, f32::NAN).unwrap_err();
        assert!(err.to_string().contains("match threshold"), "{err}");
        let err = add_feedback(
            &mut z,
            &[0.0, 0.0, f32::NAN, 0.1],
            &langs,
            "de",
            weight(0.5),
        )
        .unwrap_err();
        assert_eq!(err, DebiasError::NonFiniteScore { row: 2 });
        let err = add_feedback(&mut z, &[0.0; 3], &langs, "de", weight(0.5)).unwrap_err();
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

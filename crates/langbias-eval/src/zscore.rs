//! Per-language score standardisation (`--debias zscore`): a query's scores are made
//! comparable across the languages of a mixed pool before the lists are merged, as
//! multilingual result merging does (z-score normalisation, Savoy 2003/2004, CLEF).
//!
//! For one query with scores `s_d` (cosines) and `D_L` the documents of language `L`:
//!
//! ```text
//! z_d = (s_d − m_L) / σ_L,   m_L = mean_{e ∈ D_L} s_e,   σ_L = sqrt(mean_{e ∈ D_L} (s_e − m_L)²)
//! ```
//!
//! (population standard deviation, computed in f64). Within one language the order is
//! unchanged (a monotone map per language), so a single-language pool ranks as without it;
//! across languages, a document counts by how far it stands out among its own language's
//! documents, not by its raw cosine. Subtracting `m_L` alone equals centring the documents
//! without renormalising them (`m_L = q · μ_L`); dividing by `σ_L` also evens out how
//! spread a query's scores are within each language.
//!
//! It assumes what mixed-pool evaluation assumes: every language of the pool is a
//! collection worth merging. In a pool where one language holds nothing relevant to a
//! query, its best documents are still lifted to the level of the other language's best
//! (the model card, `public/adapters/README.md`, measures that cost on UNPAIRED pools).
//!
//! ```
//! use langbias_eval::zscore::standardise_by_language;
//!
//! // en scores 0.9, 0.7 (mean 0.8, σ 0.1); de scores 0.5, 0.3, 0.4 (mean 0.4, σ √(0.02/3)).
//! let mut s = vec![0.9_f32, 0.7, 0.5, 0.3, 0.4];
//! standardise_by_language(&mut s, &["en", "en", "de", "de", "de"])?;
//! let sd = (0.02_f64 / 3.0).sqrt();
//! let want = [1.0, -1.0, 0.1 / sd, -0.1 / sd, 0.0];
//! assert!(s.iter().zip(want).all(|(a, b)| (f64::from(*a) - b).abs() < 1e-5));
//! # Ok::<(), langbias_eval::DebiasError>(())
//! ```
//!
//! # Bad input
//!
//! [`DebiasError`]s, nothing changed on error: a language count ≠ the number of scores, an
//! empty language, a non-finite score, a language with a **single** document (no spread to
//! standardise by: [`DebiasError::SingleScore`]) and a language whose documents all score
//! alike for the query (`σ_L < 1e-9`: [`DebiasError::FlatScores`], e.g. duplicated
//! documents).

use std::collections::BTreeMap;

use crate::debias::{DebiasError, Side};

/// Spreads below this count as zero.
pub const MIN_SPREAD: f64 = 1e-9;

/// Standardises `scores` in place by the mean and (population) standard deviation of the
/// scores of each language (`langs[i]` is document `i`'s language). See the module docs.
pub fn standardise_by_language<L: AsRef<str>>(
    scores: &mut [f32],
    langs: &[L],
) -> Result<(), DebiasError> {
    if langs.len() != scores.len() {
        return Err(DebiasError::LanguageCount {
            side: Side::Document,
            rows: scores.len(),
            langs: langs.len(),
        });
    }
    // (count, sum, sum of squares around the running mean) per language: Welford.
    let mut stats: BTreeMap<&str, (usize, f64, f64)> = BTreeMap::new();
    for (row, (&s, lang)) in scores.iter().zip(langs).enumerate() {
        let lang = lang.as_ref();
        if lang.trim().is_empty() {
            return Err(DebiasError::MissingLanguage {
                side: Side::Document,
                row,
            });
        }
        if !s.is_finite() {
            return Err(DebiasError::NonFiniteScore { row });
        }
        let (n, mean, m2) = stats.entry(lang).or_insert((0, 0.0, 0.0));
        *n += 1;
        let x = f64::from(s);
        let delta = x - *mean;
        *mean += delta / *n as f64;
        *m2 += delta * (x - *mean);
    }
    let mut by_lang: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
    for (lang, (n, mean, m2)) in stats {
        if n == 1 {
            return Err(DebiasError::SingleScore {
                lang: lang.to_owned(),
            });
        }
        let sd = (m2 / n as f64).sqrt();
        if sd < MIN_SPREAD {
            return Err(DebiasError::FlatScores {
                lang: lang.to_owned(),
                documents: n,
            });
        }
        by_lang.insert(lang, (mean, sd));
    }
    for (s, lang) in scores.iter_mut().zip(langs) {
        let (mean, sd) = by_lang[lang.as_ref()];
        *s = ((f64::from(*s) - mean) / sd) as f32;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standardises_each_language_by_hand() {
        // en: 0.2, 0.6 → mean 0.4, σ 0.2 → −1, 1. de: 0.9, 0.8, 0.7 → mean 0.8,
        // σ = √(0.02/3) ≈ 0.08165 → ±1.2247, 0.
        let mut s = vec![0.2_f32, 0.9, 0.6, 0.8, 0.7];
        standardise_by_language(&mut s, &["en", "de", "en", "de", "de"]).unwrap();
        let r = 1.0 / (0.02_f64 / 3.0).sqrt() * 0.1;
        let want = [-1.0, r, 1.0, 0.0, -r];
        for (a, b) in s.iter().zip(want) {
            assert!((f64::from(*a) - b).abs() < 1e-5, "{s:?} vs {want:?}");
        }
    }

    #[test]
    fn keeps_the_order_within_a_language_and_changes_it_across() {
        // Raw: the German answer (0.5) trails every English document; standardised, it
        // stands out among German documents as much as the best English one among English.
        let langs = ["en", "en", "en", "de", "de", "de"];
        let raw = [0.80_f32, 0.75, 0.70, 0.50, 0.40, 0.30];
        let mut z = raw.to_vec();
        standardise_by_language(&mut z, &langs).unwrap();
        for (i, j) in [(0, 1), (1, 2), (3, 4), (4, 5)] {
            assert!(z[i] > z[j]);
        }
        assert!((z[0] - z[3]).abs() < 1e-5, "{z:?}");
        assert!(raw[3] < raw[2] && z[3] > z[1]);
    }

    #[test]
    fn bad_input_is_named() {
        let mut s = vec![0.1_f32, 0.2, 0.3];
        let err = standardise_by_language(&mut s, &["en", "en", "de"]).unwrap_err();
        assert_eq!(
            err,
            DebiasError::SingleScore {
                lang: "de".to_owned()
            }
        );
        assert!(err.to_string().contains("single document"), "{err}");
        assert_eq!(s, [0.1, 0.2, 0.3], "unchanged on error");

        let mut s = vec![0.1_f32, 0.2, 0.4, 0.4];
        let err = standardise_by_language(&mut s, &["en", "en", "de", "de"]).unwrap_err();
        assert!(matches!(err, DebiasError::FlatScores { ref lang, documents: 2 } if lang == "de"));

        let mut s = vec![0.1_f32, f32::NAN];
        let err = standardise_by_language(&mut s, &["en", "en"]).unwrap_err();
        assert_eq!(err, DebiasError::NonFiniteScore { row: 1 });

        let mut s = vec![0.1_f32, 0.2];
        let err = standardise_by_language(&mut s, &["en", " "]).unwrap_err();
        assert!(matches!(err, DebiasError::MissingLanguage { row: 1, .. }));
        let err = standardise_by_language(&mut s, &["en"]).unwrap_err();
        assert!(matches!(
            err,
            DebiasError::LanguageCount {
                rows: 2,
                langs: 1,
                ..
            }
        ));
    }
}

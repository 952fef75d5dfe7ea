//! One query ranked over a pool: cosine scores of unit vectors, the trec_eval order and the
//! query's metrics — the one code path of `langbias rank`, `langbias eval` and the site.
//!
//! ```
//! use langbias_eval::{Pool, ranking};
//!
//! let pool = Pool::from_json(r#"{"format": "langbias-pool/1", "name": "toy",
//!   "documents": [
//!     {"id": "t1.en", "group": "t1", "lang": "en", "text": "The cat sleeps."},
//!     {"id": "t1.de", "group": "t1", "lang": "de", "text": "Die Katze schläft."},
//!     {"id": "t2.de", "group": "t2", "lang": "de", "text": "Hunde bellen."}],
//!   "queries": []}"#)?;
//! // Unit vectors of the three documents and of a German query about cats.
//! let docs = [[0.6_f32, 0.8], [1.0, 0.0], [0.8, 0.6]];
//! let r = pool.rank_query(docs.iter().map(|d| &d[..]), &[1.0, 0.0], "q", Some("t1"), "de")?;
//! assert_eq!(r.hits.iter().map(|h| h.doc).collect::<Vec<_>>(), [1, 2, 0]);
//! assert_eq!(r.metrics.unwrap().max_rank, 3); // t1.en below the unrelated t2.de
//! assert_eq!(ranking::scores(docs.iter().map(|d| &d[..]), &[1.0, 0.0]), [0.6, 1.0, 0.8]);
//! # Ok::<(), langbias_eval::Error>(())
//! ```

use crate::{MetricsError, Pool, QueryMetrics, rank};

/// The dot product (the cosine of unit vectors).
pub fn dot(a: &[f32], b: &[f32]) -> f32 {
    a.iter().zip(b).map(|(x, y)| x * y).sum()
}

/// The score of every document row for one query.
pub fn scores<'a>(docs: impl IntoIterator<Item = &'a [f32]>, query: &[f32]) -> Vec<f32> {
    docs.into_iter().map(|d| dot(d, query)).collect()
}

/// One ranked document.
#[derive(Debug, Clone, PartialEq)]
pub struct Hit {
    /// 1-based rank.
    pub rank: usize,
    /// Index into the pool's documents.
    pub doc: usize,
    /// Its score.
    pub score: f32,
}

/// A query's ranking over a pool and, when it is judged, its metrics.
#[derive(Debug, Clone, PartialEq)]
pub struct Ranking {
    /// Every document, best first (score descending, then document id descending).
    pub hits: Vec<Hit>,
    /// Metrics against the judged group (`None` without a group, or when no document of the
    /// pool has it).
    pub metrics: Option<QueryMetrics>,
}

impl Pool {
    /// Ranks this pool's documents (`docs`: one unit vector per document, in order) for the
    /// query vector `query`, and judges it against `group` (its documents in every language
    /// are relevant) when given.
    pub fn rank_query<'a>(
        &self,
        docs: impl IntoIterator<Item = &'a [f32]>,
        query: &[f32],
        query_id: &str,
        group: Option<&str>,
        query_lang: &str,
    ) -> Result<Ranking, MetricsError> {
        self.rank_scores(scores(docs, query), query_id, group, query_lang)
    }

    /// [`Pool::rank_query`] with each document's score standardised among its language's
    /// documents ([`crate::Debias::ZScore`], [`crate::zscore`]); the hits carry the
    /// standardised scores. Needs two documents per language with differing scores.
    pub fn rank_query_zscore<'a>(
        &self,
        docs: impl IntoIterator<Item = &'a [f32]>,
        query: &[f32],
        query_id: &str,
        group: Option<&str>,
        query_lang: &str,
    ) -> Result<Ranking, DebiasedRankError> {
        let mut scores = scores(docs, query);
        crate::zscore::standardise_by_language(&mut scores, &self.document_langs())?;
        Ok(self.rank_scores(scores, query_id, group, query_lang)?)
    }

    /// [`Pool::rank_query_zscore`] over routed scores ([`crate::Debias::Routed`],
    /// [`crate::routing`]): the documents in `query_lang` scored by the own-language model
    /// (`own_docs`, `own_query`: the base model), the others by the cross-lingual one
    /// (`cross_docs`, `cross_query`: the adapter), then cross-lingual `feedback` from the query
    /// language's first document, whose vector is read from `cross_docs`
    /// ([`crate::routing::Feedback::default`] is what the CLI and the page use,
    /// [`crate::routing::Feedback::OFF`] none); the hits carry the final scores.
    #[allow(clippy::too_many_arguments)]
    pub fn rank_query_routed<'a, 'b>(
        &self,
        own_docs: impl IntoIterator<Item = &'a [f32]>,
        own_query: &[f32],
        cross_docs: impl IntoIterator<Item = &'b [f32]>,
        cross_query: &[f32],
        feedback: crate::routing::Feedback,
        query_id: &str,
        group: Option<&str>,
        query_lang: &str,
    ) -> Result<RoutedRanking, DebiasedRankError> {
        let cross_docs: Vec<&[f32]> = cross_docs.into_iter().collect();
        let (routed, feedback) = crate::routing::route_with_feedback(
            &scores(own_docs, own_query),
            &scores(cross_docs.iter().copied(), cross_query),
            &cross_docs,
            &self.document_langs(),
            query_lang,
            feedback,
        )?;
        Ok(RoutedRanking {
            ranking: self.rank_scores(routed, query_id, group, query_lang)?,
            feedback,
        })
    }

    /// Each document's language, in the pool's order.
    fn document_langs(&self) -> Vec<&str> {
        self.documents.iter().map(|d| d.lang.as_str()).collect()
    }

    /// The ranking and metrics of one score per document of the pool.
    fn rank_scores(
        &self,
        scores: Vec<f32>,
        query_id: &str,
        group: Option<&str>,
        query_lang: &str,
    ) -> Result<Ranking, MetricsError> {
        let ids: Vec<&str> = self.documents.iter().map(|d| d.id.as_str()).collect();
        let hits = rank(&scores, &ids)
            .into_iter()
            .enumerate()
            .map(|(r, doc)| Hit {
                rank: r + 1,
                doc,
                score: scores[doc],
            })
            .collect();
        let metrics = match group {
            Some(g) => self.judge_query(query_id, g, query_lang, &scores)?,
            None => None,
        };
        Ok(Ranking { hits, metrics })
    }
}

/// Why a centred or standardised ranking could not be computed.
#[derive(Debug, thiserror::Error)]
pub enum DebiasedRankError {
    /// Centring or standardising failed (e.g. a language with a single document).
    #[error(transparent)]
    Debias(#[from] crate::DebiasError),
    /// Judging the query failed.
    #[error(transparent)]
    Metrics(#[from] MetricsError),
}

/// The pool's documents after per-language mean-centring ([`Pool::centre_documents`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CentredDocuments {
    /// `dim` values per document, flat, in the pool's order.
    pub values: Vec<f32>,
    /// The languages with a single document in the pool, centred on a stored mean instead
    /// of the pool's own (empty when none was).
    pub on_stored_means: Vec<String>,
}

/// A query's routed ranking ([`Pool::rank_query_routed`]).
#[derive(Debug, Clone, PartialEq)]
pub struct RoutedRanking {
    /// The ranking.
    pub ranking: Ranking,
    /// What the cross-lingual feedback did ([`crate::routing::FeedbackOutcome`]).
    pub feedback: crate::routing::FeedbackOutcome,
}

/// A query's ranking over the centred documents ([`Pool::rank_query_centred`]).
#[derive(Debug, Clone, PartialEq)]
pub struct CentredRanking {
    /// The ranking.
    pub ranking: Ranking,
    /// As [`CentredDocuments::on_stored_means`].
    pub on_stored_means: Vec<String>,
}

impl Pool {
    /// The documents' vectors (`dim` values each, one per document of the pool) after
    /// per-language mean-centring ([`crate::Debias::Centre`]) with the pool's own language
    /// means: what [`Pool::rank_query_centred`] scores. Compute it once to rank many queries.
    ///
    /// A language with a single document in the pool has no mean of its own (its mean is the
    /// document, nothing is left after centring). It is centred on `stored`'s document mean
    /// for that language where given (an aligned adapter's stored means: the mean of many
    /// documents of that language under the same model), and listed in
    /// [`CentredDocuments::on_stored_means`]; without one, the result is the error
    /// [`crate::DebiasError::SingleRow`]. Languages with several documents always use the
    /// pool's own means.
    pub fn centre_documents(
        &self,
        docs: &[Vec<f32>],
        dim: usize,
        stored: Option<&crate::LanguageMeans>,
    ) -> Result<CentredDocuments, crate::DebiasError> {
        let mut values: Vec<f32> = docs.concat();
        let langs = self.document_langs();
        let mut counts = std::collections::BTreeMap::<&str, usize>::new();
        for &l in &langs {
            *counts.entry(l).or_default() += 1;
        }
        let single: Vec<&str> = counts
            .iter()
            .filter(|&(_, &n)| n == 1)
            .map(|(&l, _)| l)
            .collect();
        let centre = |values: &mut [f32], means: Option<&crate::LanguageMeans>| {
            crate::Debias::Centre.apply(
                dim,
                crate::Rows::new(values, &langs),
                crate::Rows::new(&mut [], &[] as &[&str]),
                crate::Fitted { means, maps: None },
            )
        };
        let on_stored_means = match stored {
            Some(stored) if !single.is_empty() => {
                // The pool's own means, except the single-document languages' (stored).
                let mut means = crate::LanguageMeans::fit(
                    dim,
                    (&values, &langs),
                    (&[], &[] as &[&str]),
                    "this pool, with stored means for its single-document languages",
                )?;
                for &lang in &single {
                    // No stored mean for it: the single-document error; any other
                    // (another dimension, a bad value) as it is.
                    let side = crate::debias::Side::Document;
                    let mean = stored.mean(side, lang, dim).map_err(|e| match e {
                        crate::DebiasError::NoMean { .. } => crate::DebiasError::SingleRow {
                            side,
                            lang: lang.to_owned(),
                        },
                        other => other,
                    })?;
                    means.documents.insert(lang.to_owned(), mean.to_vec());
                }
                centre(&mut values, Some(&means))?;
                single.iter().map(|l| (*l).to_owned()).collect()
            }
            _ => {
                centre(&mut values, None)?;
                Vec::new()
            }
        };
        Ok(CentredDocuments {
            values,
            on_stored_means,
        })
    }

    /// [`Pool::rank_query`] after [`Pool::centre_documents`] (the query is scored as it is):
    /// the site's "language centring" column and `langbias rank`'s centred ranking.
    pub fn rank_query_centred(
        &self,
        docs: &[Vec<f32>],
        stored: Option<&crate::LanguageMeans>,
        query: &[f32],
        query_id: &str,
        group: Option<&str>,
        query_lang: &str,
    ) -> Result<CentredRanking, DebiasedRankError> {
        let dim = query.len();
        let centred = self.centre_documents(docs, dim, stored)?;
        let ranking = self.rank_query(
            centred.values.chunks_exact(dim),
            query,
            query_id,
            group,
            query_lang,
        )?;
        Ok(CentredRanking {
            ranking,
            on_stored_means: centred.on_stored_means,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pool of the documents `ids` (`group.lang`), without queries.
    fn toy(ids: &[&str]) -> Pool {
        let docs: Vec<String> = ids
            .iter()
            .map(|id| {
                let (group, lang) = id.split_once('.').unwrap();
                format!(r#"{{"id": "{id}", "group": "{group}", "lang": "{lang}", "text": "x"}}"#)
            })
            .collect();
        Pool::from_json(&format!(
            r#"{{"format": "langbias-pool/1", "name": "toy", "queries": [], "documents": [{}]}}"#,
            docs.join(",")
        ))
        .unwrap()
    }

    /// Two topics in German and English, the third axis the language (+ de, − en), and a
    /// German query about t1: the pool of the next two tests.
    fn two_topics() -> (Pool, Vec<Vec<f32>>, [f32; 3]) {
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let docs = vec![
            vec![h, 0.0, h],
            vec![0.0, h, h],
            vec![h, 0.0, -h],
            vec![0.0, h, -h],
        ];
        (
            toy(&["t1.de", "t2.de", "t1.en", "t2.en"]),
            docs,
            [0.8, 0.0, 0.6],
        )
    }

    /// Two topics in German and English; the third axis is the language (+ de, − en). Worked
    /// by hand: the German query about t1 scores t1.de 0.99, t2.de 0.42, t1.en 0.14 (Max@R 3);
    /// after centring each language on its mean, the language axis is gone and both t1
    /// passages score 0.8/√2 = 0.566 (Max@R 2).
    #[test]
    fn centring_removes_the_language_axis() {
        let (pool, docs, query) = two_topics();
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let plain = pool
            .rank_query(
                docs.iter().map(Vec::as_slice),
                &query,
                "q",
                Some("t1"),
                "de",
            )
            .unwrap();
        assert_eq!(plain.metrics.unwrap().max_rank, 3);
        let centred = pool
            .rank_query_centred(&docs, None, &query, "q", Some("t1"), "de")
            .unwrap()
            .ranking;
        assert_eq!(centred.metrics.unwrap().max_rank, 2);
        for hit in &centred.hits[..2] {
            assert!((hit.score - 0.8 * h).abs() < 1e-6, "{hit:?}");
        }
        // A language with a single document has nothing left after centring: an error.
        let one = toy(&["t1.de", "t1.en"]);
        let err = one
            .rank_query_centred(&docs[1..3], None, &query, "q", Some("t1"), "de")
            .unwrap_err();
        assert!(err.to_string().contains("single document"), "{err}");
    }

    /// The same pool standardised per language: the query scores de 1.4h (t1), 0.6h (t2) and
    /// en 0.2h (t1), −0.6h (t2); within each language the two scores become +1 and −1, so
    /// both t1 passages lead (Max@R 2). A language with one document has no spread: an error.
    #[test]
    fn zscore_ranks_each_language_by_its_own_spread() {
        let (pool, docs, query) = two_topics();
        let rows = || docs.iter().map(Vec::as_slice);
        let z = pool
            .rank_query_zscore(rows(), &query, "q", Some("t1"), "de")
            .unwrap();
        assert_eq!(z.metrics.unwrap().max_rank, 2);
        let by_doc: Vec<(usize, f32)> = z.hits.iter().map(|h| (h.doc, h.score)).collect();
        let mut sorted = by_doc.clone();
        sorted.sort_by_key(|&(d, _)| d);
        for ((_, got), want) in sorted.iter().zip([1.0, -1.0, 1.0, -1.0]) {
            assert!((got - want).abs() < 1e-5, "{by_doc:?}");
        }
        let one = toy(&["t1.de", "t2.de", "t1.en"]);
        let err = one
            .rank_query_zscore(rows().take(3), &query, "q", Some("t1"), "de")
            .unwrap_err();
        assert!(
            err.to_string().contains("\"en\" has a single document"),
            "{err}"
        );
    }

    /// A language with a single document is centred on a stored mean when one is given; the
    /// other languages keep the pool's own means. Worked by hand: the pool has t1.de
    /// (1, 0, 0), t1.en (0, 0.6, 0.8) and t2.en (0, 0.6, −0.8); the English mean is (0, 0.6,
    /// 0), so t1.en → (0, 0, 1) and t2.en → (0, 0, −1). The stored German mean (0.5, 0.5, 0)
    /// gives t1.de − μ = (0.5, −0.5, 0) → (1/√2, −1/√2, 0).
    #[test]
    fn a_single_document_language_uses_a_stored_mean() {
        let pool = toy(&["t1.de", "t1.en", "t2.en"]);
        let docs = vec![
            vec![1.0, 0.0, 0.0],
            vec![0.0, 0.6, 0.8],
            vec![0.0, 0.6, -0.8],
        ];
        let stored = crate::LanguageMeans::from_json(
            r#"{"format": "langbias-means/1", "dim": 3,
                "documents": {"de": [0.5, 0.5, 0.0], "fr": [0.0, 0.0, 1.0]}}"#,
        )
        .unwrap();
        let centred = pool.centre_documents(&docs, 3, Some(&stored)).unwrap();
        assert_eq!(centred.on_stored_means, ["de"]);
        let h = std::f32::consts::FRAC_1_SQRT_2;
        let want = [h, -h, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, -1.0];
        for (got, want) in centred.values.iter().zip(want) {
            assert!((got - want).abs() < 1e-6, "{:?}", centred.values);
        }
        // Without a single-document language the stored means are not used.
        let two = toy(&["t1.en", "t2.en"]);
        let plain = two.centre_documents(&docs[1..], 3, None).unwrap();
        let with = two.centre_documents(&docs[1..], 3, Some(&stored)).unwrap();
        assert_eq!(plain, with);
        assert!(with.on_stored_means.is_empty());
        // Stored means without the language: the single-document error, naming it.
        let en_only = crate::LanguageMeans::from_json(
            r#"{"format": "langbias-means/1", "dim": 3, "documents": {"en": [0.0, 0.6, 0.0]}}"#,
        )
        .unwrap();
        let err = pool.centre_documents(&docs, 3, Some(&en_only)).unwrap_err();
        assert!(
            err.to_string().contains("\"de\" has a single document"),
            "{err}"
        );
        // Stored means of another dimension: said as such, not as a missing mean.
        let other_dim = crate::LanguageMeans::from_json(
            r#"{"format": "langbias-means/1", "dim": 2, "documents": {"de": [1.0, 0.0]}}"#,
        )
        .unwrap();
        let err = pool
            .centre_documents(&docs, 3, Some(&other_dim))
            .unwrap_err();
        assert!(err.to_string().contains("has dimension 2"), "{err}");
    }
}

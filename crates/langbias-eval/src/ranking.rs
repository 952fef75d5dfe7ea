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
        let scores = scores(docs, query);
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

//! Page state that is plain data (shareable in the URL) and the pure computations on it:
//! building the current pool, ranking, metrics (the evaluator's own code), PCA.

pub use langbias_eval::ranking::dot;
use langbias_eval::{Debias, Pool, QueryMetrics, Ranking, Summary};

/// Everything a shared link restores.
#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    pub query_lang: String,
    pub pool_langs: Vec<String>,
    pub topics: usize,
    pub distractors: usize,
    pub query_id: String,
    pub query_text: Option<String>,
    pub model: String,
    /// The group the visitor marked as answering a typed query (metrics are judged on it).
    pub answer: Option<String>,
    /// The name of an uploaded pool the view belongs to (`None`: the built-in pool). A link
    /// cannot carry the upload itself: opened elsewhere, the page says so.
    pub pool: Option<String>,
    /// Which model the centred column centres: the base model (the training-free baseline)
    /// or the aligned one.
    pub centre_aligned: bool,
    /// How that column removes the language bias: [`Debias::Centre`] (mean-centring of the
    /// documents), [`Debias::ZScore`] (per-language z-scores of the query's scores) or
    /// [`Debias::Routed`] (the best shipped variant: the query's own language ranked by the
    /// base model, the others by the aligned one, then z-scores; `centre_aligned` unused).
    pub method: Debias,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            query_lang: "de".into(),
            pool_langs: vec!["en".into(), "de".into()],
            topics: 40,
            distractors: 22,
            query_id: "t05.q1.de".into(),
            query_text: None,
            model: "both".into(),
            answer: None,
            pool: None,
            centre_aligned: false,
            method: Debias::Centre,
        }
    }
}

fn encode(s: &str) -> String {
    String::from(js_sys::encode_uri_component(s))
}

fn decode(s: &str) -> String {
    js_sys::decode_uri_component(s)
        .map(String::from)
        .unwrap_or_else(|_| s.to_owned())
}

impl Settings {
    pub fn to_hash(&self) -> String {
        let mut out = format!(
            "#ql={}&langs={}&topics={}&d={}&q={}&model={}",
            encode(&self.query_lang),
            encode(&self.pool_langs.join(",")),
            self.topics,
            self.distractors,
            encode(&self.query_id),
            encode(&self.model)
        );
        if let Some(t) = &self.query_text {
            out.push_str(&format!("&text={}", encode(t)));
        }
        if let Some(g) = &self.answer {
            out.push_str(&format!("&answer={}", encode(g)));
        }
        if let Some(p) = &self.pool {
            out.push_str(&format!("&pool={}", encode(p)));
        }
        if self.centre_aligned {
            out.push_str("&centre=aligned");
        }
        if self.method != Debias::Centre {
            out.push_str(&format!("&method={}", self.method));
        }
        out
    }

    /// Parses a `#…` fragment; unknown or malformed fields keep their defaults.
    pub fn from_hash(hash: &str) -> Self {
        let mut s = Self::default();
        for pair in hash.trim_start_matches('#').split('&') {
            let Some((k, v)) = pair.split_once('=') else {
                continue;
            };
            let v = decode(v);
            match k {
                "ql" if !v.is_empty() => s.query_lang = v,
                "langs" => {
                    s.pool_langs = v
                        .split(',')
                        .filter(|x| !x.is_empty())
                        .map(str::to_owned)
                        .collect()
                }
                "topics" => s.topics = v.parse().unwrap_or(s.topics),
                "d" => s.distractors = v.parse().unwrap_or(s.distractors),
                "q" => s.query_id = v,
                "text" => s.query_text = Some(v),
                "answer" if !v.is_empty() => s.answer = Some(v),
                "pool" if !v.is_empty() => s.pool = Some(v),
                "centre" => s.centre_aligned = v == "aligned",
                "method" => {
                    s.method = match v.parse() {
                        Ok(m @ (Debias::ZScore | Debias::Routed)) => m,
                        _ => Debias::Centre,
                    }
                }
                "model" if ["both", "base", "aligned"].contains(&v.as_str()) => s.model = v,
                _ => {}
            }
        }
        s
    }
}

/// The current pool (the evaluator's pool builder, shared with `langbias rank`).
pub fn current_pool(collection: &Pool, s: &Settings) -> Pool {
    let langs: Vec<&str> = s.pool_langs.iter().map(String::as_str).collect();
    collection.subset(&s.query_lang, &langs, s.topics, s.distractors)
}

/// Ranks `pool.documents` by cosine with `query` and judges it against `group` when given
/// (the evaluator's [`Pool::rank_query`], as `langbias rank` does).
pub fn rank_query(
    pool: &Pool,
    doc_emb: &[Vec<f32>],
    query: &[f32],
    query_id: &str,
    group: Option<&str>,
    query_lang: &str,
) -> Result<Ranking, String> {
    pool.rank_query(
        doc_emb.iter().map(Vec::as_slice),
        query,
        query_id,
        group,
        query_lang,
    )
    .map_err(|e| format!("Could not judge the query: {e}"))
}

/// Aggregate over many queries of one language.
pub fn summarize(rows: &[QueryMetrics]) -> Option<Summary> {
    Summary::from_queries(rows, 0)
}

/// Deterministic 2-D PCA (power iteration from a fixed start) of row vectors.
pub fn pca_2d(rows: &[Vec<f32>]) -> Vec<(f32, f32)> {
    let n = rows.len();
    if n == 0 {
        return Vec::new();
    }
    let dim = rows[0].len();
    let mut mean = vec![0.0f32; dim];
    for r in rows {
        for (m, x) in mean.iter_mut().zip(r) {
            *m += x / n as f32;
        }
    }
    let centered: Vec<Vec<f32>> = rows
        .iter()
        .map(|r| r.iter().zip(&mean).map(|(x, m)| x - m).collect())
        .collect();
    let mut components: Vec<Vec<f32>> = Vec::new();
    for c in 0..2 {
        let mut v: Vec<f32> = (0..dim)
            .map(|i| ((i * 7 + c * 13) % 11) as f32 - 5.0)
            .collect();
        for _ in 0..100 {
            // v ← Xᵀ X v, orthogonalised against earlier components.
            let xv: Vec<f32> = centered.iter().map(|r| dot(r, &v)).collect();
            let mut next = vec![0.0f32; dim];
            for (r, s) in centered.iter().zip(&xv) {
                for (nx, x) in next.iter_mut().zip(r) {
                    *nx += x * s;
                }
            }
            for p in &components {
                let proj = dot(&next, p);
                for (nx, px) in next.iter_mut().zip(p) {
                    *nx -= proj * px;
                }
            }
            let norm = dot(&next, &next).sqrt().max(1e-12);
            v = next.into_iter().map(|x| x / norm).collect();
        }
        // Fix the sign so the picture does not flip between runs.
        if v.iter()
            .copied()
            .fold(0.0f32, |acc, x| if x.abs() > acc.abs() { x } else { acc })
            < 0.0
        {
            v.iter_mut().for_each(|x| *x = -*x);
        }
        components.push(v);
    }
    centered
        .iter()
        .map(|r| (dot(r, &components[0]), dot(r, &components[1])))
        .collect()
}

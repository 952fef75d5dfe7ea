//! Retrieval scenarios over a multilingual [`Pool`].
//!
//! With `L` the target language and `en` = [`ENGLISH`]:
//!
//! | kind      | queries | documents            | display name          |
//! |-----------|---------|----------------------|-----------------------|
//! | `mono`    | `L`     | `{L}`                | `MONO de→{de}`        |
//! | `xl`      | `L`     | `{en}` (or `xl:B`)   | `XL de→{en}`          |
//! | `mix`     | `L`     | `{en, L}` (the paper's) | `MIX de→{en,de}`   |
//! | `mix-en`  | `en`    | `{en, L}`            | `MIX en→{en,de}`      |
//! | `multi`   | `L`     | `{en, L, L1..Lk}`    | `MULTI de→{en,de,es}` |
//! | `unpaired`| `L`     | `{en, L}`, one version per group | `UNPAIRED de→{en,de}` |
//!
//! `unpaired` is `mix` without parallel versions: the groups of the document set, sorted by
//! id, keep their `L` documents at even positions (0, 2, …) and their English documents at
//! odd ones (a group with documents in only one of the two languages keeps them). Every query
//! then has its relevant documents in one language only, half of them in each, and a method
//! that lifts one language as a whole shows its cost there (the top of a language with
//! nothing relevant to the query).
//!
//! A built [`ScenarioSet`] holds the queries and documents (pool indices and ids) and
//! binary qrels: a query is relevant to every parallel version (same `group`) that is in
//! the document set. Queries with no relevant document in the set are excluded and listed
//! with an [`ExclusionReason`]; [`ScenarioSet::evaluate`] counts them in `num_excluded`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ENGLISH;
use crate::metrics::{
    BiasSpec, Evaluation, Evaluator, Exclusion, ExclusionReason, LanguageSpec, MetricsConfig,
    MetricsError, Qrels,
};
use crate::pool::Pool;

/// Errors from parsing or building a scenario.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScenarioError {
    /// The scenario kind is not one of `mono`, `xl`, `mix`, `mix-en`, `multi`, `unpaired`.
    #[error("unknown scenario {kind:?} (expected mono, xl, mix, mix-en, multi or unpaired)")]
    UnknownKind {
        /// What was given.
        kind: String,
    },
    /// A language code is empty.
    #[error("empty language code in scenario {spec:?}")]
    EmptyLanguage {
        /// The scenario string.
        spec: String,
    },
    /// The scenario would degenerate (e.g. `mix` with target `en`).
    #[error("scenario {kind} needs a target language other than {ENGLISH:?}, got {lang:?}")]
    Degenerate {
        /// The kind.
        kind: String,
        /// The target language.
        lang: String,
    },
    /// A language of the scenario does not occur in the pool.
    #[error("language {lang:?} is not in the pool (available: {})", available.join(", "))]
    LanguageNotInPool {
        /// Missing language.
        lang: String,
        /// Languages present in the pool.
        available: Vec<String>,
    },
    /// No query of the query language has a relevant document in the document set.
    #[error(
        "scenario {scenario}: no query in {query_language:?} with a relevant document ({} excluded{})",
        excluded.len(),
        excluded.first().map(|e| format!(", e.g. {:?}: {}", e.query_id, e.reason)).unwrap_or_default()
    )]
    NoQueries {
        /// Display name of the scenario.
        scenario: String,
        /// The query language.
        query_language: String,
        /// The queries of that language that were excluded, with the reason.
        excluded: Vec<Exclusion>,
    },
}

/// A retrieval scenario (see the module docs for the table).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Scenario {
    /// Queries and documents in `lang`.
    Mono {
        /// `L`.
        lang: String,
    },
    /// Queries in `query`, documents only in `docs`.
    CrossLingual {
        /// Query language `A`.
        query: String,
        /// Document language `B`.
        docs: String,
    },
    /// The paper's scenario: queries in `lang`, documents in `{en, lang}`.
    Mix {
        /// `L`.
        lang: String,
    },
    /// English queries, documents in `{en, lang}`.
    MixEnglish {
        /// `L`.
        lang: String,
    },
    /// Queries in `query`, documents in `docs` (`[en, L, L1..Lk]`).
    Multi {
        /// Query language `L`.
        query: String,
        /// Document languages, `en` and `L` first.
        docs: Vec<String>,
    },
    /// Queries in `lang`, documents in `{en, lang}` with one language per group (module docs).
    Unpaired {
        /// `L`.
        lang: String,
    },
}

impl Scenario {
    /// All kinds accepted by [`Scenario::parse`].
    pub const KINDS: [&'static str; 6] = ["mono", "xl", "mix", "mix-en", "multi", "unpaired"];

    /// Parses a scenario kind with a target language `L` (case-insensitive kind):
    ///
    /// * `mono` → `L→{L}`
    /// * `xl` → `L→{en}`; `xl:B` → `L→{B}`
    /// * `mix` → `L→{en,L}`
    /// * `mix-en` (also `mixen`, `mix_en`) → `en→{en,L}`
    /// * `multi` → `L→{en, L, every other language of pool_languages (sorted)}`;
    ///   `multi:es,zh` → `L→{en, L, es, zh}`
    /// * `unpaired` → `L→{en,L}`, each group in one of the two languages only
    ///
    /// `pool_languages` is only used by `multi` without an explicit list.
    /// `xl`, `mix`, `mix-en` and `unpaired` with `L = en` are rejected as degenerate.
    pub fn parse(
        spec: &str,
        target: &str,
        pool_languages: &[String],
    ) -> Result<Self, ScenarioError> {
        let spec_trim = spec.trim();
        let (kind, arg) = match spec_trim.split_once(':') {
            Some((k, a)) => (k.trim().to_ascii_lowercase(), Some(a.trim())),
            None => (spec_trim.to_ascii_lowercase(), None),
        };
        let target = target.trim();
        if target.is_empty() {
            return Err(ScenarioError::EmptyLanguage {
                spec: spec.to_owned(),
            });
        }
        let l = target.to_owned();
        let degenerate = || ScenarioError::Degenerate {
            kind: kind.clone(),
            lang: l.clone(),
        };
        let unknown = || ScenarioError::UnknownKind {
            kind: spec.to_owned(),
        };
        let scenario = match (kind.as_str(), arg) {
            ("mono", None) => Scenario::Mono { lang: l.clone() },
            ("xl" | "cross" | "cross-lingual", arg) => {
                let docs = match arg {
                    None => ENGLISH.to_owned(),
                    Some("") => {
                        return Err(ScenarioError::EmptyLanguage {
                            spec: spec.to_owned(),
                        });
                    }
                    Some(b) => b.to_owned(),
                };
                if docs == l {
                    return Err(degenerate());
                }
                Scenario::CrossLingual {
                    query: l.clone(),
                    docs,
                }
            }
            ("mix", None) if l == ENGLISH => return Err(degenerate()),
            ("mix", None) => Scenario::Mix { lang: l.clone() },
            ("unpaired", None) if l == ENGLISH => return Err(degenerate()),
            ("unpaired", None) => Scenario::Unpaired { lang: l.clone() },
            ("mix-en" | "mixen" | "mix_en", None) if l == ENGLISH => return Err(degenerate()),
            ("mix-en" | "mixen" | "mix_en", None) => Scenario::MixEnglish { lang: l.clone() },
            ("multi", arg) => {
                let mut docs = vec![ENGLISH.to_owned(), l.clone()];
                let extra: Vec<String> = match arg {
                    Some(list) => {
                        let parts: Vec<&str> = list.split(',').map(str::trim).collect();
                        if parts.iter().any(|p| p.is_empty()) {
                            return Err(ScenarioError::EmptyLanguage {
                                spec: spec.to_owned(),
                            });
                        }
                        parts.into_iter().map(str::to_owned).collect()
                    }
                    None => {
                        let set: BTreeSet<&String> = pool_languages.iter().collect();
                        set.into_iter().cloned().collect()
                    }
                };
                for lang in extra {
                    if !docs.contains(&lang) {
                        docs.push(lang);
                    }
                }
                Scenario::Multi {
                    query: l.clone(),
                    docs,
                }
            }
            _ => return Err(unknown()),
        };
        Ok(scenario)
    }

    /// The short kind: `mono`, `xl`, `mix`, `mix-en`, `multi` or `unpaired`.
    pub fn kind(&self) -> &'static str {
        match self {
            Scenario::Mono { .. } => "mono",
            Scenario::CrossLingual { .. } => "xl",
            Scenario::Mix { .. } => "mix",
            Scenario::MixEnglish { .. } => "mix-en",
            Scenario::Multi { .. } => "multi",
            Scenario::Unpaired { .. } => "unpaired",
        }
    }

    /// The target language `L` (for `xl`, the query language).
    pub fn target(&self) -> &str {
        match self {
            Scenario::Mono { lang }
            | Scenario::Mix { lang }
            | Scenario::MixEnglish { lang }
            | Scenario::Unpaired { lang } => lang,
            Scenario::CrossLingual { query, .. } | Scenario::Multi { query, .. } => query,
        }
    }

    /// Language of the queries.
    pub fn query_language(&self) -> &str {
        match self {
            Scenario::MixEnglish { .. } => ENGLISH,
            other => other.target(),
        }
    }

    /// Languages of the documents.
    pub fn doc_languages(&self) -> Vec<&str> {
        match self {
            Scenario::Mono { lang } => vec![lang],
            Scenario::CrossLingual { docs, .. } => vec![docs],
            Scenario::Mix { lang }
            | Scenario::MixEnglish { lang }
            | Scenario::Unpaired { lang } => {
                vec![ENGLISH, lang]
            }
            Scenario::Multi { docs, .. } => docs.iter().map(String::as_str).collect(),
        }
    }

    /// A file-name friendly id, e.g. `mix.de`, `mix-en.de`, `xl.de-en`, `multi.de`.
    pub fn id(&self) -> String {
        match self {
            Scenario::CrossLingual { query, docs } => format!("xl.{query}-{docs}"),
            other => format!("{}.{}", other.kind(), other.target()),
        }
    }

    /// The bias languages: `{english: en, native: L}` when the document set contains
    /// both `en` and `L ≠ en`; `None` otherwise (e.g. `mono`, `xl`).
    pub fn bias_spec(&self) -> Option<BiasSpec> {
        let l = self.target();
        let docs = self.doc_languages();
        (l != ENGLISH && docs.contains(&ENGLISH) && docs.contains(&l))
            .then(|| BiasSpec::english_vs(l))
    }

    /// Selects queries, documents and group-based binary qrels from `pool`.
    ///
    /// A query of the query language is excluded (listed in
    /// [`ScenarioSet::excluded_queries`], counted by [`ScenarioSet::evaluate`]) when no
    /// document of the pool has its group ([`ExclusionReason::NoGroupDocument`]) or when
    /// none of its group's documents is in the scenario's document languages
    /// ([`ExclusionReason::NoRelevantInScenario`]).
    pub fn build(&self, pool: &Pool) -> Result<ScenarioSet, ScenarioError> {
        let (docs, queries) = self.select(pool)?;
        let mut by_group: BTreeMap<&str, Vec<usize>> = BTreeMap::new();
        for &i in &docs {
            by_group
                .entry(&pool.documents[i].group)
                .or_default()
                .push(i);
        }
        let pool_groups: BTreeSet<&str> = pool.documents.iter().map(|d| d.group.as_str()).collect();
        let mut qrels = Qrels::new();
        let mut kept = Vec::new();
        let mut excluded = Vec::new();
        for qi in queries {
            let q = &pool.queries[qi];
            match by_group.get(q.group.as_str()) {
                Some(rel) => {
                    for &d in rel {
                        qrels.insert(&q.id, &pool.documents[d].id, 1);
                    }
                    kept.push(qi);
                }
                None if pool_groups.contains(q.group.as_str()) => {
                    excluded.push(Exclusion::new(&q.id, ExclusionReason::NoRelevantInScenario))
                }
                None => excluded.push(Exclusion::new(&q.id, ExclusionReason::NoGroupDocument)),
            }
        }
        self.finish(pool, docs, kept, excluded, qrels)
    }

    /// Like [`Scenario::build`] but with explicit (possibly graded) qrels, e.g. from
    /// BEIR. Judgements of pool documents outside the scenario's document languages are
    /// dropped; judgements of documents that are not in the pool at all are **kept**
    /// (they count in `R` and as never retrieved, as in trec_eval). A query is excluded
    /// when it has no judgement with a grade above 0
    /// ([`ExclusionReason::NoPositiveJudgement`]) or when all its relevant documents are
    /// pool documents of other languages ([`ExclusionReason::NoRelevantInScenario`]).
    pub fn build_with_qrels(
        &self,
        pool: &Pool,
        qrels: &Qrels,
    ) -> Result<ScenarioSet, ScenarioError> {
        let (docs, queries) = self.select(pool)?;
        let selected: BTreeSet<&str> = docs
            .iter()
            .map(|&i| pool.documents[i].id.as_str())
            .collect();
        let all: BTreeSet<&str> = pool.documents.iter().map(|d| d.id.as_str()).collect();
        let mut out = Qrels::new();
        let mut kept = Vec::new();
        let mut excluded = Vec::new();
        for qi in queries {
            let q = &pool.queries[qi];
            let judged = qrels.get(&q.id).into_iter().flatten();
            let rels: Vec<(&String, &i32)> = judged
                .clone()
                .filter(|(d, _)| selected.contains(d.as_str()) || !all.contains(d.as_str()))
                .collect();
            if rels.iter().any(|(_, r)| **r > 0) {
                for (d, r) in rels {
                    out.insert(&q.id, d, *r);
                }
                kept.push(qi);
            } else {
                let reason = if judged.into_iter().any(|(_, r)| *r > 0) {
                    ExclusionReason::NoRelevantInScenario
                } else {
                    ExclusionReason::NoPositiveJudgement
                };
                excluded.push(Exclusion::new(&q.id, reason));
            }
        }
        self.finish(pool, docs, kept, excluded, out)
    }

    fn select(&self, pool: &Pool) -> Result<(Vec<usize>, Vec<usize>), ScenarioError> {
        let available = pool.languages();
        let doc_langs = self.doc_languages();
        for lang in doc_langs.iter().copied().chain([self.query_language()]) {
            if !available.iter().any(|a| a == lang) {
                return Err(ScenarioError::LanguageNotInPool {
                    lang: lang.to_owned(),
                    available,
                });
            }
        }
        let mut docs: Vec<usize> = (0..pool.documents.len())
            .filter(|&i| doc_langs.contains(&pool.documents[i].lang.as_str()))
            .collect();
        if let Scenario::Unpaired { lang } = self {
            docs = unpaired(pool, docs, lang);
        }
        let qlang = self.query_language();
        let queries = (0..pool.queries.len())
            .filter(|&i| pool.queries[i].lang == qlang)
            .collect();
        Ok((docs, queries))
    }

    fn finish(
        &self,
        pool: &Pool,
        docs: Vec<usize>,
        queries: Vec<usize>,
        excluded: Vec<Exclusion>,
        qrels: Qrels,
    ) -> Result<ScenarioSet, ScenarioError> {
        if queries.is_empty() {
            return Err(ScenarioError::NoQueries {
                scenario: self.to_string(),
                query_language: self.query_language().to_owned(),
                excluded,
            });
        }
        Ok(ScenarioSet {
            scenario: self.clone(),
            query_ids: queries
                .iter()
                .map(|&i| pool.queries[i].id.clone())
                .collect(),
            doc_ids: docs.iter().map(|&i| pool.documents[i].id.clone()).collect(),
            doc_langs: docs
                .iter()
                .map(|&i| pool.documents[i].lang.clone())
                .collect(),
            query_indices: queries,
            doc_indices: docs,
            qrels,
            excluded_queries: excluded,
            bias: self.bias_spec(),
        })
    }
}

/// `docs` (in `{en, lang}`) with one language per group: the groups, sorted by id, keep
/// their `lang` documents at even positions and their English ones at odd positions; a group
/// with documents in only one of the two languages keeps them.
fn unpaired(pool: &Pool, docs: Vec<usize>, lang: &str) -> Vec<usize> {
    let mut langs_of: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for &i in &docs {
        let d = &pool.documents[i];
        langs_of.entry(&d.group).or_default().insert(&d.lang);
    }
    let keep: BTreeMap<&str, &str> = langs_of
        .iter()
        .enumerate()
        .map(|(pos, (group, langs))| {
            let wanted = if pos % 2 == 0 { lang } else { ENGLISH };
            let kept = if langs.contains(wanted) {
                wanted
            } else {
                langs.first().copied().unwrap_or(wanted)
            };
            (*group, kept)
        })
        .collect();
    docs.into_iter()
        .filter(|&i| {
            let d = &pool.documents[i];
            keep.get(d.group.as_str()) == Some(&d.lang.as_str())
        })
        .collect()
}

impl fmt::Display for Scenario {
    /// `MIX de→{en,de}` style.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let label = match self {
            Scenario::Mono { .. } => "MONO",
            Scenario::CrossLingual { .. } => "XL",
            Scenario::Mix { .. } | Scenario::MixEnglish { .. } => "MIX",
            Scenario::Multi { .. } => "MULTI",
            Scenario::Unpaired { .. } => "UNPAIRED",
        };
        write!(
            f,
            "{label} {}→{{{}}}",
            self.query_language(),
            self.doc_languages().join(",")
        )
    }
}

/// The queries, documents and qrels of one scenario over a pool.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScenarioSet {
    /// The scenario.
    pub scenario: Scenario,
    /// Indices into `pool.queries` of the evaluated queries.
    pub query_indices: Vec<usize>,
    /// Their ids.
    pub query_ids: Vec<String>,
    /// Indices into `pool.documents` of the document set (pool order).
    pub doc_indices: Vec<usize>,
    /// Their ids.
    pub doc_ids: Vec<String>,
    /// Their languages.
    pub doc_langs: Vec<String>,
    /// Relevance of the selected documents for the selected queries.
    pub qrels: Qrels,
    /// Queries of the query language without a relevant document in the set, with the
    /// reason; [`ScenarioSet::evaluate`] counts them in `num_excluded`.
    pub excluded_queries: Vec<Exclusion>,
    /// Bias languages, if the scenario mixes `en` and `L`.
    pub bias: Option<BiasSpec>,
}

impl ScenarioSet {
    /// An [`Evaluator`] over this document set, with bias counts when applicable.
    pub fn evaluator(&self, config: MetricsConfig) -> Result<Evaluator, MetricsError> {
        let spec = LanguageSpec {
            query: self.scenario.query_language().to_owned(),
            bias: self.bias.clone(),
        };
        Evaluator::new(&self.doc_ids, config)?.with_languages(&self.doc_langs, spec)
    }

    /// Evaluates `(query id, scores)` pairs (scores in [`ScenarioSet::doc_ids`] order)
    /// against [`ScenarioSet::qrels`]. The scenario's own exclusions come first in
    /// [`Evaluation::excluded`] and count in `summary.num_excluded`.
    pub fn evaluate<I, Q, F>(
        &self,
        config: MetricsConfig,
        runs: I,
    ) -> Result<Evaluation, MetricsError>
    where
        I: IntoIterator<Item = (Q, F)>,
        Q: AsRef<str>,
        F: AsRef<[f32]>,
    {
        let mut eval = match self.evaluator(config)?.evaluate(runs, &self.qrels) {
            Err(MetricsError::NoEvaluableQueries { excluded }) => {
                return Err(MetricsError::NoEvaluableQueries {
                    excluded: excluded + self.excluded_queries.len(),
                });
            }
            other => other?,
        };
        eval.excluded
            .splice(0..0, self.excluded_queries.iter().cloned());
        eval.summary.num_excluded = eval.excluded.len();
        Ok(eval)
    }

    /// Relevant documents of the qrels (grade > 0) that are not among the scenario's
    /// documents, summed over its queries: documents the qrels name but the corpus lacks.
    pub fn missing_relevant(&self) -> usize {
        let docs: BTreeSet<&str> = self.doc_ids.iter().map(String::as_str).collect();
        self.qrels
            .iter()
            .flat_map(|(_, rels)| rels)
            .filter(|(d, r)| **r > 0 && !docs.contains(d.as_str()))
            .count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pool::{Document, Query};

    fn pool() -> Pool {
        let mut docs = Vec::new();
        for g in ["t1", "t2", "t3"] {
            for l in ["en", "de", "es"] {
                docs.push(Document {
                    id: format!("{g}.{l}"),
                    group: g.into(),
                    lang: l.into(),
                    title: None,
                    text: "x".into(),
                });
            }
        }
        docs.retain(|d| d.id != "t2.de");
        let mut queries = Vec::new();
        for g in ["t1", "t2"] {
            for l in ["en", "de"] {
                queries.push(Query {
                    id: format!("{g}.q.{l}"),
                    group: g.into(),
                    lang: l.into(),
                    text: "q".into(),
                });
            }
        }
        Pool::new("p", docs, queries)
    }

    fn langs() -> Vec<String> {
        vec!["de".into(), "en".into(), "es".into()]
    }

    #[test]
    fn parse_and_names() {
        let cases = [
            ("mono", "MONO de→{de}", "mono.de"),
            ("xl", "XL de→{en}", "xl.de-en"),
            ("XL:es", "XL de→{es}", "xl.de-es"),
            ("mix", "MIX de→{en,de}", "mix.de"),
            ("mix-en", "MIX en→{en,de}", "mix-en.de"),
            ("multi", "MULTI de→{en,de,es}", "multi.de"),
            ("multi:es", "MULTI de→{en,de,es}", "multi.de"),
            ("unpaired", "UNPAIRED de→{en,de}", "unpaired.de"),
        ];
        for (spec, name, id) in cases {
            let s = Scenario::parse(spec, "de", &langs()).unwrap();
            assert_eq!(s.to_string(), name, "{spec}");
            assert_eq!(s.id(), id, "{spec}");
        }
        assert_eq!(
            Scenario::parse("mix", "de", &[]).unwrap(),
            Scenario::Mix { lang: "de".into() }
        );
    }

    #[test]
    fn parse_errors() {
        assert!(matches!(
            Scenario::parse("mixed", "de", &[]),
            Err(ScenarioError::UnknownKind { .. })
        ));
        assert!(matches!(
            Scenario::parse("mix", "en", &[]),
            Err(ScenarioError::Degenerate { .. })
        ));
        assert!(matches!(
            Scenario::parse("xl", "en", &[]),
            Err(ScenarioError::Degenerate { .. })
        ));
        assert!(matches!(
            Scenario::parse("unpaired", "en", &[]),
            Err(ScenarioError::Degenerate { .. })
        ));
        assert!(matches!(
            Scenario::parse("mono", " ", &[]),
            Err(ScenarioError::EmptyLanguage { .. })
        ));
        assert!(matches!(
            Scenario::parse("multi:es,", "de", &[]),
            Err(ScenarioError::EmptyLanguage { .. })
        ));
    }

    #[test]
    fn bias_only_when_mixed() {
        let p = |s| Scenario::parse(s, "de", &langs()).unwrap().bias_spec();
        assert_eq!(p("mono"), None);
        assert_eq!(p("xl"), None);
        assert_eq!(p("mix"), Some(BiasSpec::english_vs("de")));
        assert_eq!(p("mix-en"), Some(BiasSpec::english_vs("de")));
        assert_eq!(p("multi"), Some(BiasSpec::english_vs("de")));
        assert_eq!(p("unpaired"), Some(BiasSpec::english_vs("de")));
    }

    #[test]
    fn unpaired_keeps_one_language_per_group() {
        // {en, de} groups by id: t1 (en, de) keeps de, t2 (en only: t2.de is missing) keeps
        // en, t3 (en, de) keeps de; a group lacking the language its position asks for
        // keeps the one it has.
        let pool = pool();
        let set = Scenario::parse("unpaired", "de", &langs())
            .unwrap()
            .build(&pool)
            .unwrap();
        assert_eq!(set.doc_ids, ["t1.de", "t2.en", "t3.de"]);
        assert_eq!(set.doc_langs, ["de", "en", "de"]);
        assert_eq!(set.query_ids, ["t1.q.de", "t2.q.de"]);
        let rel = |q: &str| {
            set.qrels
                .get(q)
                .unwrap()
                .keys()
                .cloned()
                .collect::<Vec<_>>()
        };
        assert_eq!(rel("t1.q.de"), ["t1.de"]);
        assert_eq!(rel("t2.q.de"), ["t2.en"]);
        // Every group of `mix` is kept, in one language.
        let mix = Scenario::parse("mix", "de", &langs())
            .unwrap()
            .build(&pool)
            .unwrap();
        assert_eq!(mix.doc_ids.len(), 5);
    }

    #[test]
    fn build_mix_selects_and_relates_parallel_versions() {
        let set = Scenario::parse("mix", "de", &[])
            .unwrap()
            .build(&pool())
            .unwrap();
        assert_eq!(set.query_ids, ["t1.q.de", "t2.q.de"]);
        assert_eq!(set.doc_ids, ["t1.en", "t1.de", "t2.en", "t3.en", "t3.de"]);
        assert_eq!(set.doc_langs, ["en", "de", "en", "en", "de"]);
        let rel: Vec<&String> = set.qrels.get("t1.q.de").unwrap().keys().collect();
        assert_eq!(rel, ["t1.de", "t1.en"]);
        // t2 has no German version: only the English one is relevant.
        let rel: Vec<&String> = set.qrels.get("t2.q.de").unwrap().keys().collect();
        assert_eq!(rel, ["t2.en"]);
        assert!(set.excluded_queries.is_empty());
        let ev = set.evaluator(MetricsConfig::default()).unwrap();
        assert_eq!(ev.doc_ids().len(), 5);
    }

    #[test]
    fn language_preference_is_for_the_query_language() {
        // MIX en→{en,de}: English queries; pool t1.en t1.de t2.en t3.en t3.de (3 en of 5).
        let set = Scenario::parse("mix-en", "de", &langs())
            .unwrap()
            .build(&pool())
            .unwrap();
        assert_eq!(set.doc_ids, ["t1.en", "t1.de", "t2.en", "t3.en", "t3.de"]);
        let config = MetricsConfig {
            lang_pref_at: 2,
            ..MetricsConfig::default()
        };
        // Top 2 for both queries: t1.de, t3.de → no English.
        let scores = [0.1f32, 0.9, 0.2, 0.3, 0.8];
        let runs = set.query_ids.iter().map(|q| (q, &scores));
        let eval = set.evaluate(config, runs).unwrap();
        let pref = eval.summary.lang_pref.unwrap();
        assert_eq!((pref.queries, pref.top_share), (2, 0.0));
        assert!((pref.mean + 0.6).abs() < 1e-12, "{pref:?}");
    }

    #[test]
    fn build_excludes_queries_without_relevant_docs() {
        let set = Scenario::parse("mono", "de", &[])
            .unwrap()
            .build(&pool())
            .unwrap();
        assert_eq!(set.query_ids, ["t1.q.de"]);
        assert_eq!(
            set.excluded_queries,
            [Exclusion::new(
                "t2.q.de",
                ExclusionReason::NoRelevantInScenario
            )]
        );
        assert_eq!(set.bias, None);
    }

    #[test]
    fn evaluate_counts_and_lists_scenario_exclusions() {
        // q.zz's group has no document at all; t2.q.de has no German version.
        let mut p = pool();
        p.queries.push(Query {
            id: "q.zz".into(),
            group: "zz".into(),
            lang: "de".into(),
            text: "q".into(),
        });
        let set = Scenario::parse("mono", "de", &[])
            .unwrap()
            .build(&p)
            .unwrap();
        let scores = vec![1.0_f32; set.doc_ids.len()];
        let eval = set
            .evaluate(MetricsConfig::default(), [("t1.q.de", &scores)])
            .unwrap();
        assert_eq!(eval.summary.num_queries, 1);
        assert_eq!(eval.summary.num_excluded, 2);
        assert_eq!(
            eval.excluded,
            [
                Exclusion::new("t2.q.de", ExclusionReason::NoRelevantInScenario),
                Exclusion::new("q.zz", ExclusionReason::NoGroupDocument),
            ]
        );
        // Every query excluded: the error names the count and an example.
        p.queries.retain(|q| q.id != "t1.q.de");
        let err = Scenario::parse("mono", "de", &[])
            .unwrap()
            .build(&p)
            .unwrap_err();
        assert!(
            err.to_string().contains(
                "(2 excluded, e.g. \"t2.q.de\": no relevant document in the scenario's languages)"
            ),
            "{err}"
        );
    }

    #[test]
    fn build_missing_language_lists_available() {
        let err = Scenario::parse("mix", "zh", &[])
            .unwrap()
            .build(&pool())
            .unwrap_err();
        assert_eq!(
            err,
            ScenarioError::LanguageNotInPool {
                lang: "zh".into(),
                available: langs()
            }
        );
        // es has documents but no queries.
        let err = Scenario::parse("mono", "es", &[])
            .unwrap()
            .build(&pool())
            .unwrap_err();
        assert!(matches!(err, ScenarioError::NoQueries { .. }));
    }

    #[test]
    fn build_with_explicit_qrels() {
        let mut qrels = Qrels::new();
        qrels.insert("t1.q.de", "t1.de", 2);
        qrels.insert("t1.q.de", "t3.de", 0);
        qrels.insert("t1.q.de", "t1.es", 1); // not in the document set
        qrels.insert("t2.q.de", "t2.es", 1);
        qrels.insert("t3.q.de", "t3.de", 0); // judged, but nothing relevant
        let mut p = pool();
        p.queries.push(Query {
            id: "t3.q.de".into(),
            group: "t3".into(),
            lang: "de".into(),
            text: "q".into(),
        });
        let set = Scenario::parse("mono", "de", &[])
            .unwrap()
            .build_with_qrels(&p, &qrels)
            .unwrap();
        assert_eq!(set.query_ids, ["t1.q.de"]);
        assert_eq!(
            set.excluded_queries,
            [
                Exclusion::new("t2.q.de", ExclusionReason::NoRelevantInScenario),
                Exclusion::new("t3.q.de", ExclusionReason::NoPositiveJudgement),
            ]
        );
        assert_eq!(set.qrels.get("t1.q.de").unwrap().len(), 2);
        assert_eq!(set.qrels.get("t1.q.de").unwrap()["t1.de"], 2);
        assert_eq!(set.missing_relevant(), 0);
    }

    /// A relevant document the corpus lacks stays in `R`: never retrieved, Recall 0.5 (as
    /// trec_eval), and a query whose only relevant documents are missing is evaluated with
    /// zeros rather than dropped.
    #[test]
    fn qrels_documents_missing_from_the_pool_stay_relevant() {
        let mut qrels = Qrels::new();
        qrels.insert("t1.q.de", "t1.de", 1);
        qrels.insert("t1.q.de", "gone", 1);
        qrels.insert("t2.q.de", "gone-too", 1);
        let set = Scenario::parse("mono", "de", &[])
            .unwrap()
            .build_with_qrels(&pool(), &qrels)
            .unwrap();
        assert_eq!(set.query_ids, ["t1.q.de", "t2.q.de"]);
        assert!(set.excluded_queries.is_empty());
        assert_eq!(set.missing_relevant(), 2);
        let scores = vec![1.0_f32; set.doc_ids.len()];
        let eval = set
            .evaluate(
                MetricsConfig::default(),
                [("t1.q.de", &scores), ("t2.q.de", &scores)],
            )
            .unwrap();
        let (q1, q2) = (&eval.queries[0], &eval.queries[1]);
        assert_eq!((q1.num_relevant, q1.missing_relevant), (2, 1));
        assert_eq!(q1.recall[&10], 0.5);
        assert_eq!(q1.max_rank, set.doc_ids.len() + 1);
        assert!(!q1.complete[&10]);
        assert_eq!((q2.recall[&10], q2.mrr, q2.ndcg[&10]), (0.0, 0.0, 0.0));
        assert_eq!(eval.summary.num_missing_relevant, 2);
        assert_eq!(eval.summary.num_excluded, 0);
    }
}

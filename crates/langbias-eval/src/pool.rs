//! The pool / collection file format (`langbias-pool/1`) shared by the CLI and the web app.
//!
//! ```json
//! { "format": "langbias-pool/1", "name": "...", "description": "...", "license": "...",
//!   "documents": [{"id": "t01.en", "group": "t01", "lang": "en", "title": null, "text": "..."}],
//!   "queries":   [{"id": "t01.q1.de", "group": "t01", "lang": "de", "text": "..."}] }
//! ```
//!
//! Relevance is implicit: a query is relevant to every document with the same `group`
//! (its parallel versions in other languages). Documents whose group no query has are
//! distractors. Document ids and query ids are two separate namespaces; each must be
//! unique within its own list.

use std::collections::{BTreeMap, BTreeSet, HashSet};

use serde::{Deserialize, Serialize};

use crate::metrics::Qrels;

/// The only accepted value of the `format` field.
pub const POOL_FORMAT: &str = "langbias-pool/1";

/// Errors from parsing or validating a [`Pool`].
#[derive(Debug, thiserror::Error)]
pub enum PoolError {
    /// The JSON could not be parsed into the pool structure.
    #[error("invalid pool JSON at line {line}, column {column}: {message}")]
    Json {
        /// 1-based line of the error.
        line: usize,
        /// 1-based column of the error.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// The `format` field is not [`POOL_FORMAT`].
    #[error("unknown pool format {found:?} (expected {POOL_FORMAT:?})")]
    UnknownFormat {
        /// The format string found in the file.
        found: String,
    },
    /// Two documents share an id.
    #[error("duplicate document id {id:?}")]
    DuplicateDocumentId {
        /// The repeated id.
        id: String,
    },
    /// Two queries share an id.
    #[error("duplicate query id {id:?}")]
    DuplicateQueryId {
        /// The repeated id.
        id: String,
    },
    /// A required string field is empty (or only whitespace).
    #[error("{kind} {id:?}: field `{field}` is empty")]
    EmptyField {
        /// `"document"` or `"query"`.
        kind: &'static str,
        /// The id of the offending item, or `#<index>` when the id itself is empty.
        id: String,
        /// The empty field (`id`, `group`, `lang` or `text`).
        field: &'static str,
    },
    /// An id contains whitespace (TREC run and qrels lines could not hold it).
    #[error("{kind} {id:?}: the id contains whitespace (TREC run files cannot hold it)")]
    WhitespaceInId {
        /// `"document"` or `"query"`.
        kind: &'static str,
        /// The offending id.
        id: String,
    },
    /// An error in a pool file (only with the `fs` feature): the error with the file name.
    #[error("{path}: {source}")]
    File {
        /// The pool file.
        path: String,
        /// What is wrong with it.
        #[source]
        source: Box<PoolError>,
    },
    /// Reading a pool file failed (only with the `fs` feature).
    #[error("cannot read {path}: {source}")]
    Io {
        /// The path that could not be read.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// Errors from choosing languages or a query's pool subset ([`select_languages`],
/// [`Pool::subset_for_query`]); each says what is available.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SubsetError {
    /// The language list is empty (e.g. `""` or `","`).
    #[error("no language given in {spec:?} (available: {})", available.join(", "))]
    NoLanguages {
        /// The list as given.
        spec: String,
        /// The languages that could be chosen.
        available: Vec<String>,
    },
    /// An entry of the language list is empty (e.g. `"de,,es"`).
    #[error("empty entry in the language list {spec:?} (available: {})", available.join(", "))]
    EmptyLanguage {
        /// The list as given.
        spec: String,
        /// The languages that could be chosen.
        available: Vec<String>,
    },
    /// A language is not in the pool.
    #[error("unknown language {lang:?} (available: {})", available.join(", "))]
    UnknownLanguage {
        /// The language asked for.
        lang: String,
        /// The languages that could be chosen.
        available: Vec<String>,
    },
    /// No query has the id.
    #[error("no query {id:?} in the pool ({count} queries)")]
    UnknownQuery {
        /// The id asked for.
        id: String,
        /// Number of queries in the pool.
        count: usize,
    },
    /// No document of the pool has the query's group.
    #[error("query {query_id:?}: no document of the pool has its topic {group:?}")]
    TopicWithoutDocuments {
        /// The query.
        query_id: String,
        /// Its group.
        group: String,
    },
    /// The topic limit leaves out the query's own topic.
    #[error(
        "query {query_id:?}: its topic {group:?} is topic {position} of {total} in the pool, \
         but only the first {topics} are kept (keep at least {position})"
    )]
    TopicCutOff {
        /// The query.
        query_id: String,
        /// Its group.
        group: String,
        /// 1-based position of the group among the topics (groups with queries), in
        /// document order.
        position: usize,
        /// Topics asked for.
        topics: usize,
        /// Topics in the pool.
        total: usize,
    },
    /// None of the query's topic documents is in the chosen languages.
    #[error(
        "query {query_id:?}: no document of its topic {group:?} is in the languages {} \
         (the topic has {})",
        langs.join(","),
        topic_langs.join(", ")
    )]
    TopicNotInLanguages {
        /// The query.
        query_id: String,
        /// Its group.
        group: String,
        /// The chosen document languages.
        langs: Vec<String>,
        /// The languages of the topic's documents.
        topic_langs: Vec<String>,
    },
}

/// Parses a comma-separated language list against the `available` languages: `all`
/// gives all of them; entries are trimmed and deduplicated (first occurrence kept).
/// An empty list (`""`, `","`), an empty entry or an unknown language is an error that
/// lists the available languages.
pub fn select_languages(spec: &str, available: &[String]) -> Result<Vec<String>, SubsetError> {
    if spec.trim() == "all" {
        return Ok(available.to_vec());
    }
    let entries: Vec<&str> = spec.split(',').map(str::trim).collect();
    let error = |empty_list: bool| {
        let (spec, available) = (spec.to_owned(), available.to_vec());
        if empty_list {
            SubsetError::NoLanguages { spec, available }
        } else {
            SubsetError::EmptyLanguage { spec, available }
        }
    };
    if entries.iter().all(|e| e.is_empty()) {
        return Err(error(true));
    }
    if entries.iter().any(|e| e.is_empty()) {
        return Err(error(false));
    }
    let mut out: Vec<String> = Vec::new();
    for lang in entries {
        if !available.iter().any(|a| a == lang) {
            return Err(SubsetError::UnknownLanguage {
                lang: lang.to_owned(),
                available: available.to_vec(),
            });
        }
        if !out.iter().any(|l| l == lang) {
            out.push(lang.to_owned());
        }
    }
    Ok(out)
}

/// One document of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a document object with `id`, `group`, `lang`, `text` and optional `title`"
)]
pub struct Document {
    /// Unique document id (e.g. `t01.en`).
    pub id: String,
    /// Parallel group: all versions of the same content share it.
    pub group: String,
    /// Language code (any string, e.g. `en`, `de`, `zh`).
    pub lang: String,
    /// Optional title.
    #[serde(default)]
    pub title: Option<String>,
    /// Document text (must not be empty).
    pub text: String,
}

/// One query of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a query object with `id`, `group`, `lang` and `text`"
)]
pub struct Query {
    /// Unique query id (e.g. `t01.q1.de`).
    pub id: String,
    /// Group of the documents this query is relevant to.
    pub group: String,
    /// Language code.
    pub lang: String,
    /// Query text (must not be empty).
    pub text: String,
}

/// A (possibly multilingual) pool of documents and queries.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(
    deny_unknown_fields,
    expecting = "a langbias-pool/1 object with `format`, `name`, `documents` and `queries`"
)]
pub struct Pool {
    /// Must be [`POOL_FORMAT`].
    pub format: String,
    /// Short name of the pool.
    pub name: String,
    /// Free-text description (optional in the file, defaults to `""`).
    #[serde(default)]
    pub description: String,
    /// License of the texts (optional in the file, defaults to `""`).
    #[serde(default)]
    pub license: String,
    /// The documents.
    pub documents: Vec<Document>,
    /// The queries.
    pub queries: Vec<Query>,
}

impl Pool {
    /// Creates a pool with the current format string and empty description/license.
    /// Call [`Pool::validate`] if the inputs are untrusted.
    pub fn new(name: impl Into<String>, documents: Vec<Document>, queries: Vec<Query>) -> Self {
        Self {
            format: POOL_FORMAT.to_owned(),
            name: name.into(),
            description: String::new(),
            license: String::new(),
            documents,
            queries,
        }
    }

    /// Parses and validates a pool from JSON text (a leading UTF-8 byte order mark is
    /// skipped).
    ///
    /// Errors: serde errors (with line and column; unknown fields are errors too), an
    /// unknown `format`, duplicate ids, ids with whitespace, and empty
    /// `id`/`group`/`lang`/`text` fields (naming the offending id).
    pub fn from_json(json: &str) -> Result<Self, PoolError> {
        let pool: Pool = serde_json::from_str(crate::strip_bom(json)).map_err(json_error)?;
        pool.validate()?;
        Ok(pool)
    }

    /// Like [`Pool::from_json`] but from bytes (must be UTF-8 JSON).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, PoolError> {
        let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
        let pool: Pool = serde_json::from_slice(bytes).map_err(json_error)?;
        pool.validate()?;
        Ok(pool)
    }

    /// Reads and validates a pool file; every error names the file.
    #[cfg(feature = "fs")]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, PoolError> {
        let path = path.as_ref();
        let in_file = |source| PoolError::File {
            path: path.display().to_string(),
            source: Box::new(source),
        };
        let bytes = std::fs::read(path).map_err(|source| PoolError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_slice(&bytes).map_err(in_file)
    }

    /// Serializes the pool as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain strings and vectors cannot fail.
        serde_json::to_string_pretty(self).expect("pool serialization cannot fail")
    }

    /// Checks the format string, id uniqueness, ids without whitespace and non-empty
    /// fields.
    pub fn validate(&self) -> Result<(), PoolError> {
        if self.format != POOL_FORMAT {
            return Err(PoolError::UnknownFormat {
                found: self.format.clone(),
            });
        }
        let mut seen = HashSet::new();
        for (i, d) in self.documents.iter().enumerate() {
            check_fields(
                "document",
                i,
                &d.id,
                [("group", &d.group), ("lang", &d.lang), ("text", &d.text)],
            )?;
            if !seen.insert(d.id.as_str()) {
                return Err(PoolError::DuplicateDocumentId { id: d.id.clone() });
            }
        }
        let mut seen = HashSet::new();
        for (i, q) in self.queries.iter().enumerate() {
            check_fields(
                "query",
                i,
                &q.id,
                [("group", &q.group), ("lang", &q.lang), ("text", &q.text)],
            )?;
            if !seen.insert(q.id.as_str()) {
                return Err(PoolError::DuplicateQueryId { id: q.id.clone() });
            }
        }
        Ok(())
    }

    /// All languages of documents and queries, sorted and deduplicated.
    pub fn languages(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self
            .documents
            .iter()
            .map(|d| d.lang.as_str())
            .chain(self.queries.iter().map(|q| q.lang.as_str()))
            .collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Languages of the documents, sorted and deduplicated.
    pub fn document_languages(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.documents.iter().map(|d| d.lang.as_str()).collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Languages of the queries, sorted and deduplicated.
    pub fn query_languages(&self) -> Vec<String> {
        let set: BTreeSet<&str> = self.queries.iter().map(|q| q.lang.as_str()).collect();
        set.into_iter().map(str::to_owned).collect()
    }

    /// Metrics of one query over this pool's documents (`scores` in document order): relevant
    /// = the documents of `group`; bias counts (English vs `query_lang`) when the pool holds
    /// both languages. Same code path in the web app and `langbias rank`.
    pub fn judge_query(
        &self,
        query_id: &str,
        group: &str,
        query_lang: &str,
        scores: &[f32],
    ) -> Result<Option<crate::QueryMetrics>, crate::MetricsError> {
        let ids: Vec<&str> = self.documents.iter().map(|d| d.id.as_str()).collect();
        let langs: Vec<&str> = self.documents.iter().map(|d| d.lang.as_str()).collect();
        let relevance: BTreeMap<String, i32> = self
            .documents
            .iter()
            .filter(|d| d.group == group)
            .map(|d| (d.id.clone(), 1))
            .collect();
        let has = |l: &str| langs.contains(&l);
        let spec = crate::LanguageSpec {
            query: query_lang.to_owned(),
            bias: (query_lang != crate::ENGLISH && has(crate::ENGLISH) && has(query_lang))
                .then(|| crate::BiasSpec::english_vs(query_lang)),
        };
        crate::metrics::evaluate_query(
            query_id,
            &ids,
            scores,
            &relevance,
            &crate::MetricsConfig::default(),
            Some((langs.as_slice(), &spec)),
        )
    }

    /// The groups with queries (topics) and those without (distractors), each in order
    /// of first appearance among the documents.
    fn topics_and_distractors(&self) -> (Vec<&str>, Vec<&str>) {
        let query_groups: BTreeSet<&str> = self.queries.iter().map(|q| q.group.as_str()).collect();
        let (mut topic_groups, mut distractor_groups): (Vec<&str>, Vec<&str>) =
            (Vec::new(), Vec::new());
        for d in &self.documents {
            let list = if query_groups.contains(d.group.as_str()) {
                &mut topic_groups
            } else {
                &mut distractor_groups
            };
            if !list.contains(&d.group.as_str()) {
                list.push(&d.group);
            }
        }
        (topic_groups, distractor_groups)
    }

    /// The demo's pool builder: the first `topics` groups that have queries and the first
    /// `distractors` groups without, in document order, restricted to `doc_langs` (documents)
    /// and `query_lang` (queries). The web app and `langbias rank` share it.
    ///
    /// A pure filter: languages that are not in the pool match nothing. Use
    /// [`Pool::subset_for_query`] to check the choice for one query.
    pub fn subset(
        &self,
        query_lang: &str,
        doc_langs: &[&str],
        topics: usize,
        distractors: usize,
    ) -> Pool {
        let (topic_groups, distractor_groups) = self.topics_and_distractors();
        let keep: BTreeSet<String> = topic_groups
            .into_iter()
            .take(topics)
            .chain(distractor_groups.into_iter().take(distractors))
            .map(str::to_owned)
            .collect();
        let mut pool = self.filter_languages(query_lang, doc_langs);
        pool.documents.retain(|d| keep.contains(&d.group));
        pool.queries.retain(|q| keep.contains(&q.group));
        pool
    }

    /// [`Pool::subset`] for the query `query_id` (its language is the query language),
    /// checked so that the query can be judged on it: `doc_langs` is a non-empty list of
    /// document languages of the pool, the query's topic is among the first `topics`, and
    /// one of its documents is in `doc_langs`. Returns the subset and the query.
    pub fn subset_for_query(
        &self,
        query_id: &str,
        doc_langs: &[&str],
        topics: usize,
        distractors: usize,
    ) -> Result<(Pool, &Query), SubsetError> {
        let available = self.document_languages();
        select_languages(&doc_langs.join(","), &available)?;
        let query = self
            .queries
            .iter()
            .find(|q| q.id == query_id)
            .ok_or_else(|| SubsetError::UnknownQuery {
                id: query_id.to_owned(),
                count: self.queries.len(),
            })?;
        let (topic_groups, _) = self.topics_and_distractors();
        let position = topic_groups
            .iter()
            .position(|g| *g == query.group)
            .ok_or_else(|| SubsetError::TopicWithoutDocuments {
                query_id: query.id.clone(),
                group: query.group.clone(),
            })?
            + 1;
        if position > topics {
            return Err(SubsetError::TopicCutOff {
                query_id: query.id.clone(),
                group: query.group.clone(),
                position,
                topics,
                total: topic_groups.len(),
            });
        }
        let pool = self.subset(&query.lang, doc_langs, topics, distractors);
        if !pool.documents.iter().any(|d| d.group == query.group) {
            let topic_langs: BTreeSet<&str> = self
                .documents
                .iter()
                .filter(|d| d.group == query.group)
                .map(|d| d.lang.as_str())
                .collect();
            return Err(SubsetError::TopicNotInLanguages {
                query_id: query.id.clone(),
                group: query.group.clone(),
                langs: doc_langs.iter().map(|l| (*l).to_owned()).collect(),
                topic_langs: topic_langs.into_iter().map(str::to_owned).collect(),
            });
        }
        Ok((pool, query))
    }

    /// Builds a mixed pool: keeps the queries whose language is `query_lang` and the
    /// documents whose language is one of `doc_langs` (original order preserved).
    ///
    /// This is a pure filter: queries are kept even if none of their relevant documents
    /// survives (the metrics exclude and count such queries). Name and metadata are kept.
    pub fn filter_languages(&self, query_lang: &str, doc_langs: &[&str]) -> Pool {
        Pool {
            format: self.format.clone(),
            name: self.name.clone(),
            description: self.description.clone(),
            license: self.license.clone(),
            documents: self
                .documents
                .iter()
                .filter(|d| doc_langs.contains(&d.lang.as_str()))
                .cloned()
                .collect(),
            queries: self
                .queries
                .iter()
                .filter(|q| q.lang == query_lang)
                .cloned()
                .collect(),
        }
    }

    /// Index of a document by id.
    pub fn document_index(&self, id: &str) -> Option<usize> {
        self.documents.iter().position(|d| d.id == id)
    }

    /// Binary qrels implied by the groups: for every query, relevance 1 for every
    /// document of the same group. Queries without any such document get an empty entry.
    pub fn qrels(&self) -> Qrels {
        let mut by_group: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for d in &self.documents {
            by_group.entry(&d.group).or_default().push(&d.id);
        }
        let mut qrels = Qrels::default();
        for q in &self.queries {
            let entry = qrels.entry(&q.id);
            for doc in by_group.get(q.group.as_str()).into_iter().flatten() {
                entry.insert((*doc).to_owned(), 1);
            }
        }
        qrels
    }
}

fn check_fields(
    kind: &'static str,
    index: usize,
    id: &str,
    fields: [(&'static str, &str); 3],
) -> Result<(), PoolError> {
    if id.trim().is_empty() {
        return Err(PoolError::EmptyField {
            kind,
            id: format!("#{index}"),
            field: "id",
        });
    }
    if id.contains(char::is_whitespace) {
        return Err(PoolError::WhitespaceInId {
            kind,
            id: id.to_owned(),
        });
    }
    for (field, value) in fields {
        if value.trim().is_empty() {
            return Err(PoolError::EmptyField {
                kind,
                id: id.to_owned(),
                field,
            });
        }
    }
    Ok(())
}

fn json_error(e: serde_json::Error) -> PoolError {
    PoolError::Json {
        line: e.line(),
        column: e.column(),
        message: e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
  "format": "langbias-pool/1",
  "name": "tiny",
  "description": "two topics",
  "license": "CC0",
  "documents": [
    {"id": "t01.en", "group": "t01", "lang": "en", "title": null, "text": "The cat sleeps."},
    {"id": "t01.de", "group": "t01", "lang": "de", "text": "Die Katze schläft."},
    {"id": "t02.en", "group": "t02", "lang": "en", "title": "Dogs", "text": "Dogs bark."},
    {"id": "x01.de", "group": "x01", "lang": "de", "text": "Ablenkung."}
  ],
  "queries": [
    {"id": "t01.q1.de", "group": "t01", "lang": "de", "text": "Was macht die Katze?"},
    {"id": "t01.q1.en", "group": "t01", "lang": "en", "text": "What does the cat do?"}
  ]
}"#;

    #[test]
    fn parses_sample_and_lists_languages() {
        let pool = Pool::from_json(SAMPLE).unwrap();
        assert_eq!(pool.name, "tiny");
        assert_eq!(pool.documents.len(), 4);
        assert_eq!(pool.documents[2].title.as_deref(), Some("Dogs"));
        assert_eq!(pool.languages(), vec!["de", "en"]);
        assert_eq!(pool.query_languages(), vec!["de", "en"]);
        let back = Pool::from_json(&pool.to_json_pretty()).unwrap();
        assert_eq!(back, pool);
    }

    #[test]
    fn description_and_license_are_optional() {
        let json = r#"{"format":"langbias-pool/1","name":"n","documents":[],"queries":[]}"#;
        let pool = Pool::from_json(json).unwrap();
        assert_eq!(pool.description, "");
        assert_eq!(pool.license, "");
    }

    #[test]
    fn group_qrels() {
        let pool = Pool::from_json(SAMPLE).unwrap();
        let qrels = pool.qrels();
        let rel: Vec<_> = qrels.get("t01.q1.de").unwrap().keys().cloned().collect();
        assert_eq!(rel, vec!["t01.de", "t01.en"]);
        assert_eq!(qrels.len(), 2);
    }

    #[test]
    fn filter_languages_builds_mixed_pool() {
        let pool = Pool::from_json(SAMPLE).unwrap();
        let mixed = pool.filter_languages("de", &["en"]);
        assert_eq!(mixed.queries.len(), 1);
        assert_eq!(mixed.queries[0].id, "t01.q1.de");
        let ids: Vec<_> = mixed.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, vec!["t01.en", "t02.en"]);
        let mono = pool.filter_languages("de", &["de"]);
        assert_eq!(mono.documents.len(), 2);
    }

    #[test]
    fn unknown_format_is_rejected() {
        let json = SAMPLE.replace("langbias-pool/1", "langbias-pool/2");
        match Pool::from_json(&json) {
            Err(PoolError::UnknownFormat { found }) => assert_eq!(found, "langbias-pool/2"),
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn duplicate_ids_are_named() {
        let json = SAMPLE.replace("\"t02.en\"", "\"t01.en\"");
        let err = Pool::from_json(&json).unwrap_err();
        assert!(matches!(&err, PoolError::DuplicateDocumentId { id } if id == "t01.en"));
        assert!(err.to_string().contains("t01.en"));

        let json = SAMPLE.replace("\"t01.q1.en\"", "\"t01.q1.de\"");
        let err = Pool::from_json(&json).unwrap_err();
        assert!(matches!(&err, PoolError::DuplicateQueryId { id } if id == "t01.q1.de"));
    }

    #[test]
    fn empty_text_names_the_id() {
        let json = SAMPLE.replace("Dogs bark.", "  ");
        let err = Pool::from_json(&json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document \"t02.en\": field `text` is empty"
        );

        let json = SAMPLE.replace("What does the cat do?", "");
        let err = Pool::from_json(&json).unwrap_err();
        assert!(
            matches!(&err, PoolError::EmptyField { kind: "query", id, field: "text" } if id == "t01.q1.en")
        );
    }

    #[test]
    fn json_errors_have_line_and_column() {
        // Missing comma after the first document on line 7.
        let json = SAMPLE.replacen("\"The cat sleeps.\"},", "\"The cat sleeps.\"}", 1);
        match Pool::from_json(&json) {
            Err(PoolError::Json { line, column, .. }) => {
                assert_eq!(line, 8);
                assert!(column > 0);
            }
            other => panic!("unexpected {other:?}"),
        }
        // Missing required field.
        let json = SAMPLE.replace("\"lang\": \"en\", \"title\": null, ", "\"title\": null, ");
        let err = Pool::from_json(&json).unwrap_err();
        assert!(err.to_string().contains("missing field `lang`"), "{err}");
        assert!(err.to_string().contains("line 7"), "{err}");
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let with_bom = format!("\u{feff}{SAMPLE}");
        assert_eq!(Pool::from_json(&with_bom).unwrap().name, "tiny");
        assert_eq!(Pool::from_slice(with_bom.as_bytes()).unwrap().name, "tiny");
    }

    #[test]
    fn unknown_fields_and_whitespace_ids_are_errors() {
        let json = SAMPLE.replace("\"title\": null", "\"tilte\": null");
        let err = Pool::from_json(&json).unwrap_err();
        assert!(err.to_string().contains("unknown field `tilte`"), "{err}");
        assert!(err.to_string().contains("line 7"), "{err}");
        let json = SAMPLE.replace("\"t02.en\"", "\"t02 en\"");
        let err = Pool::from_json(&json).unwrap_err();
        assert_eq!(
            err.to_string(),
            "document \"t02 en\": the id contains whitespace (TREC run files cannot hold it)"
        );
        let err = Pool::from_json("42").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a langbias-pool/1 object"),
            "{err}"
        );
    }

    #[cfg(feature = "fs")]
    #[test]
    fn file_errors_name_the_file() {
        let dir = std::env::temp_dir().join(format!("langbias-pool-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.json");
        std::fs::write(&path, SAMPLE.replace("Dogs bark.", "")).unwrap();
        let err = Pool::from_path(&path).unwrap_err();
        assert_eq!(
            err.to_string(),
            format!(
                "{}: document \"t02.en\": field `text` is empty",
                path.display()
            )
        );
        std::fs::write(&path, b"{\"format\": \"\xff\"}").unwrap();
        let err = Pool::from_path(&path).unwrap_err();
        assert!(
            err.to_string()
                .starts_with(&format!("{}: invalid pool JSON at line 1", path.display())),
            "{err}"
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn language_lists_are_checked() {
        let available = vec!["de".to_owned(), "en".to_owned()];
        assert_eq!(select_languages("all", &available).unwrap(), available);
        assert_eq!(
            select_languages(" en, de,en", &available).unwrap(),
            ["en", "de"]
        );
        for spec in ["", ",", " , "] {
            let err = select_languages(spec, &available).unwrap_err();
            assert!(matches!(err, SubsetError::NoLanguages { .. }), "{spec:?}");
            assert!(err.to_string().ends_with("(available: de, en)"), "{err}");
        }
        assert!(matches!(
            select_languages("de,,en", &available),
            Err(SubsetError::EmptyLanguage { .. })
        ));
        let err = select_languages("en,xx", &available).unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown language \"xx\" (available: de, en)"
        );
    }

    #[test]
    fn subset_for_query_checks_languages_and_topic() {
        let pool = Pool::from_json(SAMPLE).unwrap();
        let (sub, q) = pool
            .subset_for_query("t01.q1.de", &["en", "de"], 1, 1)
            .unwrap();
        assert_eq!(q.lang, "de");
        assert_eq!(sub.documents.len(), 3);
        let err = pool
            .subset_for_query("t01.q1.de", &["en", "xx"], 1, 1)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "unknown language \"xx\" (available: de, en)"
        );
        let err = pool.subset_for_query("t01.q1.de", &[], 1, 1).unwrap_err();
        assert!(matches!(err, SubsetError::NoLanguages { .. }), "{err}");
        let err = pool.subset_for_query("nope", &["en"], 1, 1).unwrap_err();
        assert_eq!(err.to_string(), "no query \"nope\" in the pool (2 queries)");
        let err = pool
            .subset_for_query("t01.q1.de", &["en"], 0, 1)
            .unwrap_err();
        assert_eq!(
            err.to_string(),
            "query \"t01.q1.de\": its topic \"t01\" is topic 1 of 1 in the pool, but only \
             the first 0 are kept (keep at least 1)"
        );
        let mut p = pool.clone();
        p.documents.retain(|d| d.id != "t01.de");
        let err = p.subset_for_query("t01.q1.de", &["de"], 5, 5).unwrap_err();
        assert_eq!(
            err.to_string(),
            "query \"t01.q1.de\": no document of its topic \"t01\" is in the languages de \
             (the topic has en)"
        );
        p.queries[0].group = "none".into();
        let err = p.subset_for_query("t01.q1.de", &["de"], 5, 5).unwrap_err();
        assert!(
            matches!(err, SubsetError::TopicWithoutDocuments { .. }),
            "{err}"
        );
    }
}

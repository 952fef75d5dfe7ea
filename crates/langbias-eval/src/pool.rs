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

/// One document of a pool.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
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

    /// Parses and validates a pool from JSON text.
    ///
    /// Errors: serde errors (with line and column), an unknown `format`, duplicate ids,
    /// and empty `id`/`group`/`lang`/`text` fields (naming the offending id).
    pub fn from_json(json: &str) -> Result<Self, PoolError> {
        let pool: Pool = serde_json::from_str(json).map_err(json_error)?;
        pool.validate()?;
        Ok(pool)
    }

    /// Like [`Pool::from_json`] but from bytes (must be UTF-8 JSON).
    pub fn from_slice(bytes: &[u8]) -> Result<Self, PoolError> {
        let pool: Pool = serde_json::from_slice(bytes).map_err(json_error)?;
        pool.validate()?;
        Ok(pool)
    }

    /// Reads and validates a pool file.
    #[cfg(feature = "fs")]
    pub fn from_path(path: impl AsRef<std::path::Path>) -> Result<Self, PoolError> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path).map_err(|source| PoolError::Io {
            path: path.display().to_string(),
            source,
        })?;
        Self::from_json(&text)
    }

    /// Serializes the pool as pretty-printed JSON.
    pub fn to_json_pretty(&self) -> String {
        // Serializing plain strings and vectors cannot fail.
        serde_json::to_string_pretty(self).expect("pool serialization cannot fail")
    }

    /// Checks the format string, id uniqueness and non-empty fields.
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
        let spec = (query_lang != crate::ENGLISH && has(crate::ENGLISH) && has(query_lang))
            .then(|| crate::BiasSpec::english_vs(query_lang));
        crate::metrics::evaluate_query(
            query_id,
            &ids,
            scores,
            &relevance,
            &crate::MetricsConfig::default(),
            spec.as_ref().map(|s| (langs.as_slice(), s)),
        )
    }

    /// The demo's pool builder: the first `topics` groups that have queries and the first
    /// `distractors` groups without, in document order, restricted to `doc_langs` (documents)
    /// and `query_lang` (queries). The web app and `langbias rank` share it.
    pub fn subset(
        &self,
        query_lang: &str,
        doc_langs: &[&str],
        topics: usize,
        distractors: usize,
    ) -> Pool {
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
}

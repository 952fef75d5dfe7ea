//! Reader for the BEIR layout:
//!
//! ```text
//! corpus.jsonl        {"_id": "d1", "title": "...", "text": "..."}   one object per line
//! queries.jsonl       {"_id": "q1", "text": "..."}
//! qrels/<split>.tsv   query-id<TAB>corpus-id<TAB>score   (header line first)
//! ```
//!
//! Produces a monolingual [`Pool`] (language given by the caller) plus graded [`Qrels`].
//! Only queries that occur in the split's qrels are kept (as BEIR's own loader does).
//! Relevance comes from the qrels, not from pool groups: every document's `group` is its
//! own id and every query's group is `beir-query:{id}`, so [`Pool::qrels`] is empty —
//! use [`BeirData::qrels`] (e.g. with `Scenario::build_with_qrels`).
//!
//! `_id` may be a JSON string or integer. Blank lines are skipped. Every malformed line
//! is reported with file name and 1-based line number.

use std::collections::HashSet;

use serde::Deserialize;

use crate::metrics::Qrels;
use crate::pool::{Document, Pool, Query};

/// Errors from reading BEIR files.
#[derive(Debug, thiserror::Error)]
pub enum BeirError {
    /// A JSONL line is not a valid object of the expected shape.
    #[error("{file}:{line}: invalid JSON at column {column}: {message}")]
    Json {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// 1-based column within the line.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// A line is well-formed JSON/TSV but its content is invalid.
    #[error("{file}:{line}: {message}")]
    Line {
        /// File name.
        file: String,
        /// 1-based line number.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// Reading a file failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

/// A BEIR dataset as a monolingual pool plus its qrels.
#[derive(Debug, Clone, PartialEq)]
pub struct BeirData {
    /// Documents and (qrels-filtered) queries.
    pub pool: Pool,
    /// Graded judgements of the split.
    pub qrels: Qrels,
}

#[derive(Deserialize)]
struct RawDoc {
    #[serde(rename = "_id")]
    id: RawId,
    #[serde(default)]
    title: Option<String>,
    text: String,
}

#[derive(Deserialize)]
struct RawQuery {
    #[serde(rename = "_id")]
    id: RawId,
    text: String,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawId {
    Str(String),
    Int(i64),
}

impl RawId {
    fn into_string(self) -> String {
        match self {
            RawId::Str(s) => s,
            RawId::Int(i) => i.to_string(),
        }
    }
}

fn jsonl<T: for<'de> Deserialize<'de>>(
    file: &str,
    contents: &str,
) -> Result<Vec<(usize, T)>, BeirError> {
    let mut out = Vec::new();
    for (i, line) in contents.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let value = serde_json::from_str(line).map_err(|e| BeirError::Json {
            file: file.to_owned(),
            line: i + 1,
            column: e.column(),
            message: e.to_string(),
        })?;
        out.push((i + 1, value));
    }
    Ok(out)
}

fn line_error(file: &str, line: usize, message: String) -> BeirError {
    BeirError::Line {
        file: file.to_owned(),
        line,
        message,
    }
}

fn check_entry(
    file: &str,
    line: usize,
    id: &str,
    text: &str,
    seen: &mut HashSet<String>,
) -> Result<(), BeirError> {
    if id.trim().is_empty() {
        return Err(line_error(file, line, "empty _id".to_owned()));
    }
    if text.trim().is_empty() {
        return Err(line_error(file, line, format!("{id:?}: empty text")));
    }
    if !seen.insert(id.to_owned()) {
        return Err(line_error(file, line, format!("duplicate _id {id:?}")));
    }
    Ok(())
}

/// Parses `corpus.jsonl`. `file` is used in errors only.
pub fn parse_corpus(file: &str, contents: &str, lang: &str) -> Result<Vec<Document>, BeirError> {
    let mut seen = HashSet::new();
    let mut docs = Vec::new();
    for (line, raw) in jsonl::<RawDoc>(file, contents)? {
        let id = raw.id.into_string();
        check_entry(file, line, &id, &raw.text, &mut seen)?;
        docs.push(Document {
            group: id.clone(),
            id,
            lang: lang.to_owned(),
            title: raw.title.filter(|t| !t.trim().is_empty()),
            text: raw.text,
        });
    }
    Ok(docs)
}

/// Parses `queries.jsonl`. `file` is used in errors only.
pub fn parse_queries(file: &str, contents: &str, lang: &str) -> Result<Vec<Query>, BeirError> {
    let mut seen = HashSet::new();
    let mut queries = Vec::new();
    for (line, raw) in jsonl::<RawQuery>(file, contents)? {
        let id = raw.id.into_string();
        check_entry(file, line, &id, &raw.text, &mut seen)?;
        queries.push(Query {
            group: format!("beir-query:{id}"),
            id,
            lang: lang.to_owned(),
            text: raw.text,
        });
    }
    Ok(queries)
}

/// Parses `qrels/<split>.tsv` (`query-id corpus-id score`, integer score, grades kept).
/// The first line is skipped if it starts with `query-id`. Fields are tab-separated
/// (any whitespace if the line has no tab). A repeated pair keeps the last grade.
pub fn parse_qrels(file: &str, contents: &str) -> Result<Qrels, BeirError> {
    let mut qrels = Qrels::new();
    for (i, line) in contents.lines().enumerate() {
        let n = i + 1;
        if line.trim().is_empty() || (n == 1 && line.trim_start().starts_with("query-id")) {
            continue;
        }
        let fields: Vec<&str> = if line.contains('\t') {
            line.split('\t').map(str::trim).collect()
        } else {
            line.split_whitespace().collect()
        };
        let [qid, did, score] = fields.as_slice() else {
            return Err(line_error(
                file,
                n,
                format!(
                    "expected 3 fields (query-id corpus-id score), found {}",
                    fields.len()
                ),
            ));
        };
        if qid.is_empty() || did.is_empty() {
            return Err(line_error(
                file,
                n,
                "empty query-id or corpus-id".to_owned(),
            ));
        }
        let score: i32 = score
            .parse()
            .map_err(|_| line_error(file, n, format!("score {score:?} is not an integer")))?;
        qrels.insert(*qid, *did, score);
    }
    Ok(qrels)
}

/// Builds a [`BeirData`] from file contents: `(file name, contents)` for the corpus,
/// the queries and the qrels split. Queries absent from the qrels are dropped.
pub fn build(
    name: &str,
    lang: &str,
    corpus: (&str, &str),
    queries: (&str, &str),
    qrels: (&str, &str),
) -> Result<BeirData, BeirError> {
    let documents = parse_corpus(corpus.0, corpus.1, lang)?;
    let mut queries = parse_queries(queries.0, queries.1, lang)?;
    let qrels = parse_qrels(qrels.0, qrels.1)?;
    queries.retain(|q| qrels.get(&q.id).is_some());
    let mut pool = Pool::new(name, documents, queries);
    pool.description = format!("BEIR dataset {name} ({lang})");
    Ok(BeirData { pool, qrels })
}

/// Reads `dir/corpus.jsonl`, `dir/queries.jsonl` and `dir/qrels/<split>.tsv`.
/// The pool is named after the directory.
#[cfg(feature = "fs")]
pub fn load_dir(
    dir: impl AsRef<std::path::Path>,
    split: &str,
    lang: &str,
) -> Result<BeirData, BeirError> {
    let dir = dir.as_ref();
    let read = |rel: &str| {
        let path = dir.join(rel);
        let shown = path.display().to_string();
        std::fs::read_to_string(&path)
            .map(|t| (shown.clone(), t))
            .map_err(|source| BeirError::Io {
                path: shown,
                source,
            })
    };
    let corpus = read("corpus.jsonl")?;
    let queries = read("queries.jsonl")?;
    let qrels = read(&format!("qrels/{split}.tsv"))?;
    let name = dir
        .file_name()
        .map_or_else(|| "beir".to_owned(), |n| n.to_string_lossy().into_owned());
    build(
        &name,
        lang,
        (&corpus.0, &corpus.1),
        (&queries.0, &queries.1),
        (&qrels.0, &qrels.1),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    const CORPUS: &str = r#"{"_id": "d1", "title": "One", "text": "first doc"}
{"_id": 2, "title": "", "text": "second doc"}

{"_id": "d3", "text": "third doc", "metadata": {}}
"#;
    const QUERIES: &str = r#"{"_id": "q1", "text": "first?"}
{"_id": "q2", "text": "second?"}
{"_id": "q3", "text": "unjudged?"}
"#;
    const QRELS: &str = "query-id\tcorpus-id\tscore\nq1\td1\t2\nq1\t2\t1\nq2\td3\t0\nq2\td1\t1\n";

    #[test]
    fn builds_pool_and_graded_qrels() {
        let data = build(
            "toy",
            "en",
            ("corpus.jsonl", CORPUS),
            ("queries.jsonl", QUERIES),
            ("qrels/test.tsv", QRELS),
        )
        .unwrap();
        let ids: Vec<&str> = data.pool.documents.iter().map(|d| d.id.as_str()).collect();
        assert_eq!(ids, ["d1", "2", "d3"]);
        assert_eq!(data.pool.documents[0].title.as_deref(), Some("One"));
        assert_eq!(data.pool.documents[1].title, None);
        let qids: Vec<&str> = data.pool.queries.iter().map(|q| q.id.as_str()).collect();
        assert_eq!(qids, ["q1", "q2"]);
        assert_eq!(data.qrels.get("q1").unwrap()["d1"], 2);
        assert_eq!(data.qrels.get("q2").unwrap()["d3"], 0);
        assert_eq!(data.qrels.num_relevant("q2"), 1);
        assert!(data.pool.qrels().iter().all(|(_, r)| r.is_empty()));
        assert_eq!(data.pool.languages(), ["en"]);
        data.pool.validate().unwrap();
    }

    #[test]
    fn malformed_jsonl_line_is_located() {
        let bad = CORPUS.replace("\"_id\": \"d3\", ", "\"_id\": \"d3\" ");
        let err = parse_corpus("corpus.jsonl", &bad, "en").unwrap_err();
        assert!(matches!(&err, BeirError::Json { line: 4, .. }), "{err:?}");
        assert!(err.to_string().starts_with("corpus.jsonl:4: "), "{err}");

        let bad = QUERIES.replace("\"text\": \"second?\"", "\"txt\": \"second?\"");
        let err = parse_queries("queries.jsonl", &bad, "en").unwrap_err();
        assert!(err.to_string().starts_with("queries.jsonl:2: "), "{err}");
        assert!(err.to_string().contains("missing field `text`"), "{err}");
    }

    #[test]
    fn duplicate_and_empty_entries() {
        let bad = format!("{CORPUS}{{\"_id\": \"d1\", \"text\": \"again\"}}\n");
        let err = parse_corpus("c", &bad, "en").unwrap_err();
        assert_eq!(err.to_string(), "c:5: duplicate _id \"d1\"");
        let bad = QUERIES.replace("first?", " ");
        let err = parse_queries("q", &bad, "en").unwrap_err();
        assert_eq!(err.to_string(), "q:1: \"q1\": empty text");
    }

    #[test]
    fn malformed_qrels_line_is_located() {
        let err =
            parse_qrels("t.tsv", "query-id\tcorpus-id\tscore\nq1\td1\t1\nq1\td2\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "t.tsv:3: expected 3 fields (query-id corpus-id score), found 2"
        );
        let err = parse_qrels("t.tsv", "q1 d1 high\n").unwrap_err();
        assert_eq!(err.to_string(), "t.tsv:1: score \"high\" is not an integer");
        // Without header the first line is data.
        let q = parse_qrels("t.tsv", "q1 d1 3\n").unwrap();
        assert_eq!(q.get("q1").unwrap()["d1"], 3);
    }
}

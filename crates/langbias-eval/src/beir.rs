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
//! `_id` may be a JSON string or integer; ids must be unique, non-empty and free of
//! whitespace, texts non-empty. Other fields (`metadata`, …) are ignored. Blank lines are
//! skipped and a leading UTF-8 byte order mark is accepted in every file. Every malformed
//! line is reported with file name and 1-based line number. A qrels line naming a query
//! that `queries.jsonl` lacks is an error (BEIR's loader fails on it too); one naming a
//! document that the corpus lacks is kept: the document stays relevant and counts as
//! never retrieved (trec_eval semantics). An empty corpus, query file or qrels split is
//! an error.

use std::collections::{BTreeMap, HashSet};

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
    /// A file has no entries.
    #[error("{file}: no {what}")]
    Empty {
        /// File name.
        file: String,
        /// What it should hold (`documents`, `queries`, `judgements`).
        what: &'static str,
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
#[serde(expecting = "a corpus object with `_id`, `text` and optional `title`")]
struct RawDoc {
    #[serde(rename = "_id")]
    id: RawId,
    #[serde(default)]
    title: Option<String>,
    text: String,
}

#[derive(Deserialize)]
#[serde(expecting = "a query object with `_id` and `text`")]
struct RawQuery {
    #[serde(rename = "_id")]
    id: RawId,
    text: String,
}

/// A BEIR `_id`: a JSON string or integer (kept as written).
struct RawId(String);

impl<'de> Deserialize<'de> for RawId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        match serde_json::Value::deserialize(d)? {
            serde_json::Value::String(s) => Ok(Self(s)),
            serde_json::Value::Number(n) if n.is_i64() || n.is_u64() => Ok(Self(n.to_string())),
            other => Err(serde::de::Error::custom(format!(
                "`_id` must be a string or an integer, found {other}"
            ))),
        }
    }
}

fn jsonl<T: for<'de> Deserialize<'de>>(
    file: &str,
    contents: &str,
) -> Result<Vec<(usize, T)>, BeirError> {
    let mut out = Vec::new();
    for (i, line) in crate::strip_bom(contents).lines().enumerate() {
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
    if id.contains(char::is_whitespace) {
        return Err(line_error(
            file,
            line,
            format!("_id {id:?} contains whitespace (TREC run files cannot hold it)"),
        ));
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
        let id = raw.id.0;
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
        let id = raw.id.0;
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

/// Parses `qrels/<split>.tsv` (`query-id corpus-id score`, integer score, grades kept;
/// `> 0` is relevant). The first line is skipped if it starts with `query-id`. Fields are
/// tab-separated (any whitespace if the line has no tab). A repeated pair keeps the last
/// grade.
pub fn parse_qrels(file: &str, contents: &str) -> Result<Qrels, BeirError> {
    Ok(parse_qrels_lines(file, contents)?.0)
}

/// [`parse_qrels`] plus the first line number of every query id.
fn parse_qrels_lines(
    file: &str,
    contents: &str,
) -> Result<(Qrels, BTreeMap<String, usize>), BeirError> {
    let mut qrels = Qrels::new();
    let mut first_line = BTreeMap::new();
    for (i, line) in crate::strip_bom(contents).lines().enumerate() {
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
        let score: i32 = score.parse().map_err(|_| {
            line_error(
                file,
                n,
                format!("score {score:?} is not an integer (expected e.g. 0, 1, 2)"),
            )
        })?;
        qrels.insert(*qid, *did, score);
        first_line.entry((*qid).to_owned()).or_insert(n);
    }
    Ok((qrels, first_line))
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
    let mut all_queries = parse_queries(queries.0, queries.1, lang)?;
    let (judgements, first_line) = parse_qrels_lines(qrels.0, qrels.1)?;
    for (file, empty, what) in [
        (corpus.0, documents.is_empty(), "documents"),
        (queries.0, all_queries.is_empty(), "queries"),
        (qrels.0, judgements.is_empty(), "judgements"),
    ] {
        if empty {
            return Err(BeirError::Empty {
                file: file.to_owned(),
                what,
            });
        }
    }
    let known: HashSet<&str> = all_queries.iter().map(|q| q.id.as_str()).collect();
    let unknown = first_line
        .iter()
        .filter(|(q, _)| !known.contains(q.as_str()));
    if let Some((qid, &line)) = unknown.min_by_key(|(_, line)| **line) {
        return Err(line_error(
            qrels.0,
            line,
            format!("query {qid:?} is not in {}", queries.0),
        ));
    }
    all_queries.retain(|q| judgements.get(&q.id).is_some());
    let (queries, qrels) = (all_queries, judgements);
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
        assert_eq!(
            err.to_string(),
            "t.tsv:1: score \"high\" is not an integer (expected e.g. 0, 1, 2)"
        );
        // Without header the first line is data.
        let q = parse_qrels("t.tsv", "q1 d1 3\n").unwrap();
        assert_eq!(q.get("q1").unwrap()["d1"], 3);
    }

    fn toy(corpus: &str, queries: &str, qrels: &str) -> Result<BeirData, BeirError> {
        build(
            "toy",
            "en",
            ("corpus.jsonl", corpus),
            ("queries.jsonl", queries),
            ("qrels/test.tsv", qrels),
        )
    }

    #[test]
    fn byte_order_marks_are_accepted() {
        let bom = |s: &str| format!("\u{feff}{s}");
        let data = toy(&bom(CORPUS), &bom(QUERIES), &bom(QRELS)).unwrap();
        assert_eq!(data.pool.documents[0].id, "d1");
        assert_eq!(data.pool.queries.len(), 2);
        assert_eq!(data.qrels.get("q1").unwrap()["d1"], 2);
    }

    /// BEIR queries whose qrels name documents missing from the corpus are evaluated, the
    /// missing documents stay in `R` (Recall 0.5, trec_eval semantics), and a query with
    /// only grade-0 judgements is excluded and counted.
    #[test]
    fn missing_corpus_documents_stay_relevant_end_to_end() {
        use crate::{ExclusionReason, MetricsConfig, Scenario};
        let qrels = "q1\td1\t1\nq1\tgone\t1\nq2\tgone2\t1\nq3\td3\t0\n";
        let data = toy(CORPUS, QUERIES, qrels).unwrap();
        let set = Scenario::parse("mono", "en", &[])
            .unwrap()
            .build_with_qrels(&data.pool, &data.qrels)
            .unwrap();
        assert_eq!(set.query_ids, ["q1", "q2"]);
        assert_eq!(set.missing_relevant(), 2);
        let scores = [0.9_f32, 0.1, 0.2];
        let eval = set
            .evaluate(
                MetricsConfig::default(),
                [("q1", &scores[..]), ("q2", &scores[..])],
            )
            .unwrap();
        assert_eq!(eval.queries[0].recall[&10], 0.5);
        assert_eq!(eval.queries[1].recall[&10], 0.0);
        assert_eq!(eval.summary.num_queries, 2);
        assert_eq!(eval.summary.num_excluded, 1);
        assert_eq!(eval.excluded[0].query_id, "q3");
        assert_eq!(
            eval.excluded[0].reason,
            ExclusionReason::NoPositiveJudgement
        );
    }

    #[test]
    fn unknown_query_empty_files_and_bad_ids() {
        let err = toy(CORPUS, QUERIES, "q1\td1\t1\nq9\td1\t1\nq8\td1\t1\n").unwrap_err();
        assert_eq!(
            err.to_string(),
            "qrels/test.tsv:2: query \"q9\" is not in queries.jsonl"
        );
        let err = toy("\n", QUERIES, QRELS).unwrap_err();
        assert_eq!(err.to_string(), "corpus.jsonl: no documents");
        let err = toy(CORPUS, QUERIES, "query-id\tcorpus-id\tscore\n").unwrap_err();
        assert_eq!(err.to_string(), "qrels/test.tsv: no judgements");
        let err = parse_corpus("c", "{\"_id\": 1.5, \"text\": \"x\"}", "en").unwrap_err();
        assert!(
            err.to_string()
                .contains("`_id` must be a string or an integer, found 1.5"),
            "{err}"
        );
        let err = parse_corpus("c", "{\"_id\": \"a b\", \"text\": \"x\"}", "en").unwrap_err();
        assert!(
            err.to_string()
                .starts_with("c:1: _id \"a b\" contains whitespace"),
            "{err}"
        );
        let err = parse_queries("q", "[]", "en").unwrap_err();
        assert!(err.to_string().contains("expected a query object"), "{err}");
        let big = parse_corpus(
            "c",
            "{\"_id\": 18446744073709551615, \"text\": \"x\"}",
            "en",
        );
        assert_eq!(big.unwrap()[0].id, "18446744073709551615");
    }
}

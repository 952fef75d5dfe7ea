//! The site's lessons (`public/pools/lessons.json`): a view of the built-in pool each, what a
//! visitor should look at, and the result to expect as checks on the metrics of the base, the
//! aligned and the centred column. The page shows [`Expectation::text`]; a test ranks each
//! lesson with the shipped models' build-time embeddings and fails when a check does not hold.

use serde::{Deserialize, Serialize};

use crate::QueryMetrics;

/// The version of the lessons file.
pub const LESSONS_FORMAT: &str = "langbias-lessons/1";

/// One lesson.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Lesson {
    pub id: String,
    pub title: String,
    pub body: String,
    /// The question (`Query::id` of the pool).
    pub query_id: String,
    pub query_lang: String,
    pub pool_langs: Vec<String>,
    pub topics: usize,
    pub distractors: usize,
    pub model: String,
    /// What the visitor should see.
    pub expect: Expectation,
}

/// The result a lesson promises, in words and as checks.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Expectation {
    /// Shown in the page ("What you should see").
    pub text: String,
    /// Each must hold for the shipped models.
    pub checks: Vec<Check>,
}

/// A column of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Column {
    Base,
    Aligned,
    /// The base model with per-language centring of the pool.
    Centred,
}

/// A per-query metric a check compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Metric {
    MaxRank,
    EnglishAbove,
    NativeAbove,
    Ndcg1,
}

impl Metric {
    /// The value in `m` (`None` where the metric is undefined for the query).
    pub fn of(self, m: &QueryMetrics) -> Option<f64> {
        match self {
            Self::MaxRank => Some(m.max_rank as f64),
            Self::EnglishAbove => m.english_above.map(|v| v as f64),
            Self::NativeAbove => m.native_above.map(|v| v as f64),
            Self::Ndcg1 => m.ndcg.get(&1).copied(),
        }
    }
}

/// A comparison.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Cmp {
    #[serde(rename = "<")]
    Lt,
    #[serde(rename = "<=")]
    Le,
    #[serde(rename = "==")]
    Eq,
    #[serde(rename = ">=")]
    Ge,
    #[serde(rename = ">")]
    Gt,
}

impl Cmp {
    fn holds(self, a: f64, b: f64) -> bool {
        match self {
            Self::Lt => a < b,
            Self::Le => a <= b,
            Self::Eq => a == b,
            Self::Ge => a >= b,
            Self::Gt => a > b,
        }
    }

    fn symbol(self) -> &'static str {
        match self {
            Self::Lt => "<",
            Self::Le => "<=",
            Self::Eq => "==",
            Self::Ge => ">=",
            Self::Gt => ">",
        }
    }
}

/// The right-hand side of a check: another column's value or a number.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Operand {
    Column(Column),
    Value(f64),
}

/// `metric(column) op right`, e.g. Max@R of the aligned column < Max@R of the base column.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Check {
    pub metric: Metric,
    pub column: Column,
    pub op: Cmp,
    pub right: Operand,
}

impl Check {
    /// Evaluates the check on the columns' metrics; `Err` says which value was missing or what
    /// the values were when it does not hold.
    pub fn verify(&self, metrics: impl Fn(Column) -> Option<QueryMetrics>) -> Result<(), String> {
        let value = |c: Column| {
            metrics(c)
                .and_then(|m| self.metric.of(&m))
                .ok_or_else(|| format!("{:?} of the {c:?} column is undefined", self.metric))
        };
        let left = value(self.column)?;
        let (right, what) = match self.right {
            Operand::Column(c) => (value(c)?, format!("{c:?}")),
            Operand::Value(v) => (v, String::new()),
        };
        if self.op.holds(left, right) {
            Ok(())
        } else {
            Err(format!(
                "{:?}({:?}) {} {what}{right} does not hold: {left} vs {right}",
                self.metric,
                self.column,
                self.op.symbol()
            ))
        }
    }
}

/// The lessons file: `{"format": "langbias-lessons/1", "lessons": [...]}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct LessonsFile {
    pub format: String,
    pub lessons: Vec<Lesson>,
}

impl LessonsFile {
    /// Parses and checks the format.
    pub fn from_json(what: &str, json: &str) -> Result<Self, String> {
        let file: Self = serde_json::from_str(json).map_err(|e| format!("{what}: {e}"))?;
        if file.format != LESSONS_FORMAT {
            return Err(format!(
                "{what}: format {:?}, expected {LESSONS_FORMAT:?}",
                file.format
            ));
        }
        Ok(file)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;

    fn metrics(max_rank: usize, english_above: Option<usize>) -> QueryMetrics {
        QueryMetrics {
            query_id: "q".into(),
            num_docs: 10,
            num_relevant: 2,
            missing_relevant: 0,
            max_rank,
            min_rank: 1,
            complete: BTreeMap::new(),
            ndcg: BTreeMap::from([(1, 1.0)]),
            mrr_at: BTreeMap::new(),
            mrr: 1.0,
            recall: BTreeMap::new(),
            english_above,
            native_above: None,
            ap: 1.0,
            lang_pref: None,
        }
    }

    #[test]
    fn checks_compare_columns_and_numbers() {
        let m = |c: Column| {
            Some(match c {
                Column::Base => metrics(9, Some(4)),
                Column::Aligned => metrics(3, Some(0)),
                Column::Centred => metrics(2, None),
            })
        };
        let json = r#"[
            {"metric": "max_rank", "column": "aligned", "op": "<", "right": "base"},
            {"metric": "english_above", "column": "base", "op": ">=", "right": 1},
            {"metric": "ndcg1", "column": "centred", "op": "==", "right": 1.0}
        ]"#;
        let checks: Vec<Check> = serde_json::from_str(json).unwrap();
        for c in &checks {
            c.verify(m).unwrap();
        }
        let wrong: Check = serde_json::from_str(
            r#"{"metric": "max_rank", "column": "base", "op": "<", "right": "aligned"}"#,
        )
        .unwrap();
        let err = wrong.verify(m).unwrap_err();
        assert!(err.contains("9 vs 3"), "{err}");
        let undefined: Check = serde_json::from_str(
            r#"{"metric": "english_above", "column": "centred", "op": "==", "right": 0}"#,
        )
        .unwrap();
        assert!(undefined.verify(m).unwrap_err().contains("undefined"));
    }

    #[test]
    fn the_format_is_checked() {
        let err =
            LessonsFile::from_json("l.json", r#"{"format": "x", "lessons": []}"#).unwrap_err();
        assert!(err.contains("langbias-lessons/1"), "{err}");
        assert!(
            LessonsFile::from_json("l.json", "[")
                .unwrap_err()
                .starts_with("l.json: ")
        );
    }
}

//! [`Sample`] and the JSONL file format.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufRead, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};

use langbias_eval::lines::{CappedLine, read_capped_line};

use crate::DataError;

/// One training sample: a query and its relevant document, each in English and in language
/// `lang`, the two versions parallel (translations of each other).
///
/// In JSONL, one object per line with exactly these fields; `id` and `source` may be left
/// out, every other field is required and must not be empty.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sample {
    /// Code of the non-English language (e.g. `de`, `zh`); never English.
    pub lang: String,
    /// The query in English.
    pub query_en: String,
    /// The same query in `lang`.
    pub query_l: String,
    /// The relevant document in English.
    pub doc_en: String,
    /// The same document in `lang`.
    pub doc_l: String,
    /// Optional unique id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    /// Optional origin of the texts (e.g. `libreoffice-help 7.4 text/…/x.html#par_id…`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl Sample {
    /// The sample with whitespace normalised in every text field (see
    /// [`normalize_whitespace`]); `lang`, `id` and `source` are trimmed.
    pub fn normalized(&self) -> Sample {
        Sample {
            lang: self.lang.trim().to_owned(),
            query_en: normalize_whitespace(&self.query_en),
            query_l: normalize_whitespace(&self.query_l),
            doc_en: normalize_whitespace(&self.doc_en),
            doc_l: normalize_whitespace(&self.doc_l),
            id: self.id.as_ref().map(|s| s.trim().to_owned()),
            source: self.source.as_ref().map(|s| s.trim().to_owned()),
        }
    }

    /// `(field name, value)` of the five required fields, in file order.
    fn required(&self) -> [(&'static str, &str); 5] {
        [
            ("lang", &self.lang),
            ("query_en", &self.query_en),
            ("query_l", &self.query_l),
            ("doc_en", &self.doc_en),
            ("doc_l", &self.doc_l),
        ]
    }
}

/// Collapses every run of whitespace (Unicode `White_Space`, which includes no-break
/// spaces and line breaks) to one ASCII space and trims both ends.
pub fn normalize_whitespace(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for word in text.split_whitespace() {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(word);
    }
    out
}

/// Whether a language code denotes English (`en`, `EN`, `en-US`, `en_GB`, …).
pub fn is_english(lang: &str) -> bool {
    let lang = lang.trim();
    let primary = lang.split(['-', '_']).next().unwrap_or(lang);
    primary.eq_ignore_ascii_case("en")
}

/// The JSONL line as written, before the required fields are checked.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawSample {
    lang: Option<String>,
    query_en: Option<String>,
    query_l: Option<String>,
    doc_en: Option<String>,
    doc_l: Option<String>,
    id: Option<String>,
    source: Option<String>,
}

fn parse_line(file: &str, line_no: usize, line: &str) -> Result<Sample, DataError> {
    let raw: RawSample = serde_json::from_str(line).map_err(|e| DataError::Json {
        file: file.to_owned(),
        line: line_no,
        column: e.column(),
        message: e.to_string(),
    })?;
    let required = |field: &'static str, value: Option<String>| -> Result<String, DataError> {
        match value {
            None => Err(DataError::MissingField {
                file: file.to_owned(),
                line: line_no,
                field,
            }),
            Some(v) if v.trim().is_empty() => Err(DataError::EmptyField {
                file: file.to_owned(),
                line: line_no,
                field,
            }),
            Some(v) => Ok(v),
        }
    };
    let optional = |field: &'static str, value: Option<String>| match value {
        Some(v) if v.trim().is_empty() => Err(DataError::EmptyField {
            file: file.to_owned(),
            line: line_no,
            field,
        }),
        other => Ok(other),
    };
    Ok(Sample {
        lang: required("lang", raw.lang)?,
        query_en: required("query_en", raw.query_en)?,
        query_l: required("query_l", raw.query_l)?,
        doc_en: required("doc_en", raw.doc_en)?,
        doc_l: required("doc_l", raw.doc_l)?,
        id: optional("id", raw.id)?,
        source: optional("source", raw.source)?,
    })
}

/// Parses JSONL text (one [`Sample`] object per line; blank lines are skipped; a leading
/// byte-order mark is ignored). `name` is the file name used in errors, which give the
/// 1-based line number.
///
/// Errors: [`DataError::Json`] for a line that is not a JSON object of the sample's fields
/// (including unknown fields, which catch misspelt names), [`DataError::MissingField`] and
/// [`DataError::EmptyField`]. An empty result is not an error here; see [`validate`].
pub fn parse_jsonl(text: &str, name: &str) -> Result<Vec<Sample>, DataError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut samples = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        samples.push(parse_line(name, i + 1, line)?);
    }
    Ok(samples)
}

/// The longest JSONL line [`read_jsonl`] accepts (a sample's four texts are far shorter), so
/// that an endless line (`/dev/zero`, a binary file) is an error instead of an allocation
/// that never ends.
pub const MAX_LINE_BYTES: usize = 16 << 20;

/// Like [`parse_jsonl`], reading lines from `reader`. A line that is not UTF-8 or a read
/// failure is a [`DataError::Read`] naming `name` and the line; a line longer than
/// [`MAX_LINE_BYTES`] is [`DataError::LineTooLong`].
pub fn read_jsonl<R: BufRead>(mut reader: R, name: &str) -> Result<Vec<Sample>, DataError> {
    let mut samples = Vec::new();
    let mut buf = Vec::new();
    for line_no in 1.. {
        let read_err = |source| DataError::Read {
            path: format!("{name}:{line_no}"),
            source,
        };
        match read_capped_line(&mut reader, &mut buf, MAX_LINE_BYTES).map_err(read_err)? {
            CappedLine::End => break,
            CappedLine::TooLong => {
                return Err(DataError::LineTooLong {
                    file: name.to_owned(),
                    line: line_no,
                    max: MAX_LINE_BYTES,
                });
            }
            CappedLine::Line => {}
        }
        let line = std::str::from_utf8(&buf).map_err(|e| {
            read_err(std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                format!("not UTF-8 (byte {})", e.valid_up_to() + 1),
            ))
        })?;
        let line = if line_no == 1 {
            line.strip_prefix('\u{feff}').unwrap_or(line)
        } else {
            line
        };
        if line.trim().is_empty() {
            continue;
        }
        samples.push(parse_line(name, line_no, line)?);
    }
    Ok(samples)
}

/// Reads a JSONL file ([`read_jsonl`]); errors name the path.
pub fn read_jsonl_path(path: impl AsRef<Path>) -> Result<Vec<Sample>, DataError> {
    let path = path.as_ref();
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|source| DataError::Read {
        path: name.clone(),
        source,
    })?;
    read_jsonl(std::io::BufReader::new(file), &name)
}

/// Writes one compact JSON object per sample, each followed by `\n`.
pub fn write_jsonl<W: Write>(mut writer: W, samples: &[Sample]) -> std::io::Result<()> {
    for s in samples {
        serde_json::to_writer(&mut writer, s)?;
        writer.write_all(b"\n")?;
    }
    writer.flush()
}

/// Writes a JSONL file ([`write_jsonl`]), creating missing parent directories; errors
/// name the path.
pub fn write_jsonl_path(path: impl AsRef<Path>, samples: &[Sample]) -> Result<(), DataError> {
    let path = path.as_ref();
    let err = |source| DataError::Write {
        path: path.display().to_string(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(err)?;
    }
    let file = std::fs::File::create(path).map_err(err)?;
    write_jsonl(std::io::BufWriter::new(file), samples).map_err(err)
}

/// Checks a data set before training:
///
/// - it must not be empty ([`DataError::NoSamples`]);
/// - every required field must be non-empty ([`DataError::InvalidSample`]);
/// - `lang` must not be English ([`is_english`]; [`DataError::EnglishSample`]): every sample
///   pairs English with another language, and `lang` names that other language. A data set
///   with a single non-English language is fine;
/// - ids, where given, must be unique ([`DataError::DuplicateId`]).
///
/// The first problem found is returned.
pub fn validate(samples: &[Sample]) -> Result<(), DataError> {
    if samples.is_empty() {
        return Err(DataError::NoSamples {
            name: "training data".to_owned(),
        });
    }
    let mut ids: HashMap<&str, usize> = HashMap::new();
    for (index, s) in samples.iter().enumerate() {
        let label = || s.id.clone().unwrap_or_else(|| format!("#{index}"));
        for (field, value) in s.required() {
            if value.trim().is_empty() {
                return Err(DataError::InvalidSample {
                    index,
                    id: label(),
                    field,
                });
            }
        }
        if is_english(&s.lang) {
            return Err(DataError::EnglishSample {
                index,
                id: label(),
                lang: s.lang.clone(),
            });
        }
        if let Some(id) = &s.id {
            if id.trim().is_empty() {
                return Err(DataError::InvalidSample {
                    index,
                    id: format!("#{index}"),
                    field: "id",
                });
            }
            if let Some(first) = ids.insert(id, index) {
                return Err(DataError::DuplicateId {
                    id: id.clone(),
                    first,
                    second: index,
                });
            }
        }
    }
    Ok(())
}

/// Number of samples per `lang`, sorted by language code.
pub fn count_by_lang(samples: &[Sample]) -> BTreeMap<String, usize> {
    let mut counts = BTreeMap::new();
    for s in samples {
        *counts.entry(s.lang.clone()).or_insert(0) += 1;
    }
    counts
}

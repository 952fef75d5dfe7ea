//! Reader for XQuAD (SQuAD v1.1 JSON: `data[].paragraphs[].{context, qas[].{id, question}}`),
//! one file `xquad.<lang>.json` per language.
//!
//! Mapping to a multilingual [`Pool`] (articles `a` and paragraphs `p` are 0-based):
//!
//! * every paragraph becomes a document with id `p{a}_{p}.{lang}`, group `p{a}_{p}`;
//! * every question becomes a query with id `{question id}.{lang}`, group `p{a}_{p}`
//!   (so it is relevant to the paragraph's version in every language);
//! * article titles are *not* used (they are the untranslated English Wikipedia slug in
//!   every language file and would leak the answer across languages).
//!
//! All languages must be aligned with the first one: same number of articles, same
//! number of paragraphs per article and the same set of question ids per paragraph.

use std::collections::BTreeSet;

use serde::Deserialize;

use crate::pool::{Document, Pool, PoolError, Query};

/// Errors from reading XQuAD files.
#[derive(Debug, thiserror::Error)]
pub enum XquadError {
    /// A file is not valid SQuAD JSON.
    #[error("{file}: invalid SQuAD JSON at line {line}, column {column}: {message}")]
    Json {
        /// File name.
        file: String,
        /// 1-based line.
        line: usize,
        /// 1-based column.
        column: usize,
        /// serde_json's message.
        message: String,
    },
    /// A requested language has no file.
    #[error("no XQuAD file for language {lang:?} in {dir} (available: {})", available.join(", "))]
    MissingLanguage {
        /// Requested language.
        lang: String,
        /// Directory searched.
        dir: String,
        /// Languages that exist.
        available: Vec<String>,
    },
    /// No `xquad.<lang>.json` file was found or no language was given.
    #[error("no XQuAD languages found in {dir}")]
    NoLanguages {
        /// Directory searched (or `<input>`).
        dir: String,
    },
    /// Different number of articles than the reference language.
    #[error("{lang}: {found} articles, but {reference} has {expected}")]
    ArticleCount {
        /// The misaligned language.
        lang: String,
        /// The reference (first) language.
        reference: String,
        /// Reference count.
        expected: usize,
        /// Count found.
        found: usize,
    },
    /// Different number of paragraphs in one article.
    #[error("{lang}: article {article} has {found} paragraphs, but {reference} has {expected}")]
    ParagraphCount {
        /// The misaligned language.
        lang: String,
        /// The reference language.
        reference: String,
        /// 0-based article index.
        article: usize,
        /// Reference count.
        expected: usize,
        /// Count found.
        found: usize,
    },
    /// Different question ids in one paragraph.
    #[error(
        "{lang}: paragraph {paragraph} question ids differ from {reference}: only in {reference}: [{}], only in {lang}: [{}]",
        only_in_reference.join(", "),
        only_in_lang.join(", ")
    )]
    QuestionIds {
        /// The misaligned language.
        lang: String,
        /// The reference language.
        reference: String,
        /// Paragraph id `p{a}_{p}`.
        paragraph: String,
        /// Ids present only in the reference.
        only_in_reference: Vec<String>,
        /// Ids present only in this language.
        only_in_lang: Vec<String>,
    },
    /// The same language was given twice.
    #[error("language {lang:?} given twice")]
    DuplicateLanguage {
        /// The language.
        lang: String,
    },
    /// The resulting pool is invalid (e.g. an empty question or duplicate question id).
    #[error(transparent)]
    Pool(#[from] PoolError),
    /// An item of a file is unusable (empty context or question, bad or repeated id).
    #[error("{file}: {item}: {message}")]
    Item {
        /// File name.
        file: String,
        /// Where: `article A, paragraph P` (0-based), plus the question id if any.
        item: String,
        /// What is wrong.
        message: String,
    },
    /// A `--split` name other than `all`, `dev`, `test`, `dev-train` or `dev-val`.
    #[error("unknown split {given:?} (expected `all`, `dev`, `test`, `dev-train` or `dev-val`)")]
    UnknownSplit {
        /// What was given.
        given: String,
    },
    /// A split was asked of a pool whose groups are not XQuAD paragraph ids.
    #[error(
        "split `{split}` needs XQuAD paragraph groups `p{{article}}_{{paragraph}}`, found group {group:?}"
    )]
    NotXquadGroup {
        /// The split asked for.
        split: &'static str,
        /// The offending group.
        group: String,
    },
    /// Reading a file or directory failed.
    #[error("cannot read {path}: {source}")]
    Io {
        /// Path.
        path: String,
        /// Underlying error.
        #[source]
        source: std::io::Error,
    },
}

#[derive(Deserialize)]
#[serde(expecting = "a SQuAD v1.1 object with `data`")]
struct SquadFile {
    data: Vec<SquadArticle>,
}

#[derive(Deserialize)]
#[serde(expecting = "an article object with `paragraphs`")]
struct SquadArticle {
    paragraphs: Vec<SquadParagraph>,
}

#[derive(Deserialize)]
#[serde(expecting = "a paragraph object with `context` and `qas`")]
struct SquadParagraph {
    context: String,
    qas: Vec<SquadQa>,
}

#[derive(Deserialize)]
#[serde(expecting = "a question object with `id` and `question`")]
struct SquadQa {
    id: String,
    question: String,
}

/// One parsed XQuAD language file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XquadLanguage {
    /// Language code.
    pub lang: String,
    /// `articles[a][p]` = paragraph `p` of article `a`.
    pub articles: Vec<Vec<XquadParagraph>>,
}

/// One paragraph with its questions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct XquadParagraph {
    /// The context text.
    pub context: String,
    /// `(question id, question)` pairs.
    pub questions: Vec<(String, String)>,
}

impl XquadLanguage {
    /// Parses the contents of `xquad.<lang>.json` (a leading UTF-8 byte order mark is
    /// skipped; fields other than the ones read, e.g. `answers`, are ignored); `file` is
    /// only used in errors.
    pub fn parse(lang: &str, file: &str, json: &str) -> Result<Self, XquadError> {
        let json = crate::strip_bom(json);
        let parsed: SquadFile = serde_json::from_str(json).map_err(|e| XquadError::Json {
            file: file.to_owned(),
            line: e.line(),
            column: e.column(),
            message: e.to_string(),
        })?;
        let mut seen = BTreeSet::new();
        for (a, article) in parsed.data.iter().enumerate() {
            for (p, para) in article.paragraphs.iter().enumerate() {
                let item = |what: &str, message: &str| XquadError::Item {
                    file: file.to_owned(),
                    item: format!("article {a}, paragraph {p}{what}"),
                    message: message.to_owned(),
                };
                if para.context.trim().is_empty() {
                    return Err(item("", "empty context"));
                }
                for qa in &para.qas {
                    let at = format!(", question {:?}", qa.id);
                    if qa.id.trim().is_empty() || qa.id.contains(char::is_whitespace) {
                        return Err(item(&at, "the id is empty or contains whitespace"));
                    }
                    if qa.question.trim().is_empty() {
                        return Err(item(&at, "empty question"));
                    }
                    if !seen.insert(qa.id.as_str()) {
                        return Err(item(&at, "the id occurs twice in the file"));
                    }
                }
            }
        }
        Ok(Self {
            lang: lang.to_owned(),
            articles: parsed
                .data
                .into_iter()
                .map(|a| {
                    a.paragraphs
                        .into_iter()
                        .map(|p| XquadParagraph {
                            context: p.context,
                            questions: p.qas.into_iter().map(|q| (q.id, q.question)).collect(),
                        })
                        .collect()
                })
                .collect(),
        })
    }

    /// Number of paragraphs over all articles.
    pub fn num_paragraphs(&self) -> usize {
        self.articles.iter().map(Vec::len).sum()
    }

    /// Number of questions over all paragraphs.
    pub fn num_questions(&self) -> usize {
        self.articles
            .iter()
            .flatten()
            .map(|p| p.questions.len())
            .sum()
    }
}

/// The language of an XQuAD file name `xquad.<lang>.json` (any non-empty code).
pub fn language_from_file_name(name: &str) -> Option<&str> {
    let lang = name.strip_prefix("xquad.")?.strip_suffix(".json")?;
    (!lang.is_empty()).then_some(lang)
}

/// Sorted, deduplicated languages of the XQuAD files among `names`; other names are ignored.
pub fn languages_from_file_names<I, S>(names: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: AsRef<str>,
{
    let set: BTreeSet<String> = names
        .into_iter()
        .filter_map(|n| language_from_file_name(n.as_ref()).map(str::to_owned))
        .collect();
    set.into_iter().collect()
}

/// Paragraph id `p{article}_{paragraph}` (0-based), also the group.
pub fn paragraph_id(article: usize, paragraph: usize) -> String {
    format!("p{article}_{paragraph}")
}

/// Checks alignment against the first language and builds a validated multilingual pool.
pub fn build_pool(languages: &[XquadLanguage]) -> Result<Pool, XquadError> {
    let Some(reference) = languages.first() else {
        return Err(XquadError::NoLanguages {
            dir: "<input>".to_owned(),
        });
    };
    let mut seen = BTreeSet::new();
    for l in languages {
        if !seen.insert(l.lang.as_str()) {
            return Err(XquadError::DuplicateLanguage {
                lang: l.lang.clone(),
            });
        }
        check_alignment(reference, l)?;
    }
    let mut documents = Vec::new();
    let mut queries = Vec::new();
    for l in languages {
        for (a, article) in l.articles.iter().enumerate() {
            for (p, para) in article.iter().enumerate() {
                let group = paragraph_id(a, p);
                documents.push(Document {
                    id: format!("{group}.{}", l.lang),
                    group: group.clone(),
                    lang: l.lang.clone(),
                    title: None,
                    text: para.context.clone(),
                });
                for (qid, question) in &para.questions {
                    queries.push(Query {
                        id: format!("{qid}.{}", l.lang),
                        group: group.clone(),
                        lang: l.lang.clone(),
                        text: question.clone(),
                    });
                }
            }
        }
    }
    let langs: Vec<&str> = languages.iter().map(|l| l.lang.as_str()).collect();
    let mut pool = Pool::new("xquad", documents, queries);
    pool.description = format!(
        "XQuAD paragraphs as documents and questions as queries; a question is relevant to \
         its paragraph in every language ({})",
        langs.join(", ")
    );
    pool.license = "CC BY-SA 4.0".to_owned();
    pool.validate()?;
    Ok(pool)
}

fn check_alignment(reference: &XquadLanguage, l: &XquadLanguage) -> Result<(), XquadError> {
    if l.articles.len() != reference.articles.len() {
        return Err(XquadError::ArticleCount {
            lang: l.lang.clone(),
            reference: reference.lang.clone(),
            expected: reference.articles.len(),
            found: l.articles.len(),
        });
    }
    for (a, (ra, la)) in reference.articles.iter().zip(&l.articles).enumerate() {
        if ra.len() != la.len() {
            return Err(XquadError::ParagraphCount {
                lang: l.lang.clone(),
                reference: reference.lang.clone(),
                article: a,
                expected: ra.len(),
                found: la.len(),
            });
        }
        for (p, (rp, lp)) in ra.iter().zip(la).enumerate() {
            let rids: BTreeSet<&str> = rp.questions.iter().map(|q| q.0.as_str()).collect();
            let lids: BTreeSet<&str> = lp.questions.iter().map(|q| q.0.as_str()).collect();
            if rids != lids {
                return Err(XquadError::QuestionIds {
                    lang: l.lang.clone(),
                    reference: reference.lang.clone(),
                    paragraph: paragraph_id(a, p),
                    only_in_reference: rids.difference(&lids).map(|s| (*s).to_owned()).collect(),
                    only_in_lang: lids.difference(&rids).map(|s| (*s).to_owned()).collect(),
                });
            }
        }
    }
    Ok(())
}

/// Languages of the `xquad.<lang>.json` files in `dir`, sorted.
#[cfg(feature = "fs")]
pub fn available_languages(dir: impl AsRef<std::path::Path>) -> Result<Vec<String>, XquadError> {
    let dir = dir.as_ref();
    let io = |source| XquadError::Io {
        path: dir.display().to_string(),
        source,
    };
    let mut names = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let entry = entry.map_err(io)?;
        if entry.file_type().map_err(io)?.is_file() {
            names.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    Ok(languages_from_file_names(names))
}

/// Reads `dir/xquad.<lang>.json` for each of `langs` (all available languages, sorted,
/// if `langs` is empty), checks alignment and builds the multilingual pool.
/// The first language is the alignment reference.
#[cfg(feature = "fs")]
pub fn load_dir<S: AsRef<str>>(
    dir: impl AsRef<std::path::Path>,
    langs: &[S],
) -> Result<Pool, XquadError> {
    let dir = dir.as_ref();
    let available = available_languages(dir)?;
    let wanted: Vec<String> = if langs.is_empty() {
        available.clone()
    } else {
        langs.iter().map(|l| l.as_ref().to_owned()).collect()
    };
    if wanted.is_empty() {
        return Err(XquadError::NoLanguages {
            dir: dir.display().to_string(),
        });
    }
    let mut parsed = Vec::new();
    for lang in &wanted {
        if !available.contains(lang) {
            return Err(XquadError::MissingLanguage {
                lang: lang.clone(),
                dir: dir.display().to_string(),
                available,
            });
        }
        let path = dir.join(format!("xquad.{lang}.json"));
        let text = std::fs::read_to_string(&path).map_err(|source| XquadError::Io {
            path: path.display().to_string(),
            source,
        })?;
        parsed.push(XquadLanguage::parse(
            lang,
            &path.display().to_string(),
            &text,
        )?);
    }
    build_pool(&parsed)
}

/// The fixed development / reported split of XQuAD by article (never by paragraph or
/// question: the paragraphs of one article share topic and vocabulary).
///
/// * [`Split::Dev`]: the even-numbered articles (0, 2, …, 46: 24 of 48), for choosing
///   hyper-parameters and fitting training-free transforms (means, Procrustes maps);
/// * [`Split::Test`]: the odd-numbered articles (1, 3, …, 47), the **reported** half —
///   nothing is tuned on it;
/// * [`Split::All`]: every article (what published XQuAD numbers use);
/// * [`Split::DevTrain`] and [`Split::DevVal`]: the development half cut in two again
///   (articles 0, 4, 8, … and 2, 6, 10, …), so that a model *trained* on XQuAD text can be
///   compared on articles it never saw in any language before the reported half is touched.
///
/// The rule is fixed (not seeded) so every tool and document agrees on it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Split {
    /// Every article.
    #[default]
    All,
    /// Even-numbered articles.
    Dev,
    /// Odd-numbered articles (reported).
    Test,
    /// The development half's articles 0, 4, 8, … (12 of 48): training data.
    DevTrain,
    /// The development half's articles 2, 6, 10, … (12 of 48): choosing between models
    /// trained on [`Split::DevTrain`].
    DevVal,
}

impl Split {
    /// `all`, `dev`, `test`, `dev-train` or `dev-val`.
    pub fn name(self) -> &'static str {
        match self {
            Self::All => "all",
            Self::Dev => "dev",
            Self::Test => "test",
            Self::DevTrain => "dev-train",
            Self::DevVal => "dev-val",
        }
    }

    /// Whether article `a` (0-based) belongs to this split.
    pub fn contains(self, article: usize) -> bool {
        match self {
            Self::All => true,
            Self::Dev => article.is_multiple_of(2),
            Self::Test => !article.is_multiple_of(2),
            Self::DevTrain => article.is_multiple_of(4),
            Self::DevVal => article % 4 == 2,
        }
    }

    /// The documents and queries of `pool` whose group `p{a}_{p}` lies in an article of
    /// this split (the whole pool for [`Split::All`]). A group that is not an XQuAD
    /// paragraph id is an error, never silently dropped.
    pub fn apply(self, pool: &Pool) -> Result<Pool, XquadError> {
        if self == Self::All {
            return Ok(pool.clone());
        }
        let keep = |group: &str| {
            article_of_group(group)
                .map(|a| self.contains(a))
                .ok_or_else(|| XquadError::NotXquadGroup {
                    split: self.name(),
                    group: group.to_owned(),
                })
        };
        let mut out = pool.clone();
        out.documents.clear();
        out.queries.clear();
        for d in &pool.documents {
            if keep(&d.group)? {
                out.documents.push(d.clone());
            }
        }
        for q in &pool.queries {
            if keep(&q.group)? {
                out.queries.push(q.clone());
            }
        }
        Ok(out)
    }
}

impl std::fmt::Display for Split {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Split {
    type Err = XquadError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [
            Self::All,
            Self::Dev,
            Self::Test,
            Self::DevTrain,
            Self::DevVal,
        ]
        .into_iter()
        .find(|x| x.name() == s)
        .ok_or_else(|| XquadError::UnknownSplit {
            given: s.to_owned(),
        })
    }
}

/// The article of an XQuAD paragraph group `p{a}_{p}` (the inverse of [`paragraph_id`]).
pub fn article_of_group(group: &str) -> Option<usize> {
    let (a, p) = group.strip_prefix('p')?.split_once('_')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    (digits(a) && digits(p)).then(|| a.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_split_halves_the_articles_and_names_a_foreign_group() {
        // Three articles with one paragraph each, one question per paragraph.
        let en =
            XquadLanguage::parse("en", "xquad.en.json", &file(&[&["a"], &["b"], &["c"]])).unwrap();
        let pool = build_pool(&[en]).unwrap();
        let ids = |p: &Pool| p.documents.iter().map(|d| d.id.clone()).collect::<Vec<_>>();
        let dev = Split::Dev.apply(&pool).unwrap();
        assert_eq!(ids(&dev), ["p0_0.en", "p2_0.en"]);
        assert_eq!(
            dev.queries
                .iter()
                .map(|q| q.id.as_str())
                .collect::<Vec<_>>(),
            ["a.en", "c.en"]
        );
        let test = Split::Test.apply(&pool).unwrap();
        assert_eq!(ids(&test), ["p1_0.en"]);
        assert_eq!(Split::All.apply(&pool).unwrap(), pool);
        // The development half's two quarters: articles 0 (mod 4) and 2 (mod 4).
        assert_eq!(ids(&Split::DevTrain.apply(&pool).unwrap()), ["p0_0.en"]);
        assert_eq!(ids(&Split::DevVal.apply(&pool).unwrap()), ["p2_0.en"]);
        for a in 0..48 {
            let quarters = [Split::DevTrain, Split::DevVal].map(|s| s.contains(a));
            assert_eq!(
                quarters.iter().filter(|&&q| q).count(),
                usize::from(a % 2 == 0)
            );
        }
        assert_eq!("dev-val".parse::<Split>().unwrap(), Split::DevVal);
        assert_eq!(Split::DevTrain.to_string(), "dev-train");
        assert_eq!(article_of_group("p12_3"), Some(12));
        for bad in ["p12", "q1_2", "p_2", "p1_", "p1_2x", "p-1_2"] {
            assert_eq!(article_of_group(bad), None, "{bad}");
        }
        let mut foreign = pool.clone();
        foreign.documents[1].group = "t05".into();
        let err = Split::Test.apply(&foreign).unwrap_err().to_string();
        assert!(err.contains("\"t05\""), "{err}");
        assert_eq!("test".parse::<Split>().unwrap(), Split::Test);
        assert!(
            "train"
                .parse::<Split>()
                .unwrap_err()
                .to_string()
                .contains("`dev`")
        );
    }

    fn file(contexts: &[&[&str]]) -> String {
        // contexts[a][p] = comma-free list of question ids separated by '|'
        let articles: Vec<String> = contexts
            .iter()
            .enumerate()
            .map(|(a, paras)| {
                let ps: Vec<String> = paras
                    .iter()
                    .enumerate()
                    .map(|(p, qids)| {
                        let qas: Vec<String> = qids
                            .split('|')
                            .filter(|s| !s.is_empty())
                            .map(|id| {
                                format!(
                                    r#"{{"id": "{id}", "question": "question {id}?", "answers": [{{"answer_start": 0, "text": "x"}}]}}"#
                                )
                            })
                            .collect();
                        format!(
                            r#"{{"context": "context {a} {p}", "qas": [{}]}}"#,
                            qas.join(", ")
                        )
                    })
                    .collect();
                format!(r#"{{"title": "T{a}", "paragraphs": [{}]}}"#, ps.join(", "))
            })
            .collect();
        format!(
            "{{\"version\": \"1.1\",\n \"data\": [{}]}}",
            articles.join(",\n")
        )
    }

    #[test]
    fn file_names() {
        assert_eq!(language_from_file_name("xquad.de.json"), Some("de"));
        assert_eq!(
            language_from_file_name("xquad.zh-Hans.json"),
            Some("zh-Hans")
        );
        assert_eq!(language_from_file_name("xquad..json"), None);
        assert_eq!(language_from_file_name("squad.de.json"), None);
        assert_eq!(
            languages_from_file_names([
                "xquad.ru.json",
                "LICENSE.txt",
                "xquad.ar.json",
                "xquad.ru.json"
            ]),
            ["ar", "ru"]
        );
    }

    #[test]
    fn builds_pool_with_groups() {
        let en =
            XquadLanguage::parse("en", "xquad.en.json", &file(&[&["a|b", "c"], &["d"]])).unwrap();
        let de =
            XquadLanguage::parse("de", "xquad.de.json", &file(&[&["b|a", "c"], &["d"]])).unwrap();
        assert_eq!(en.num_paragraphs(), 3);
        assert_eq!(en.num_questions(), 4);
        let pool = build_pool(&[en, de]).unwrap();
        assert_eq!(pool.documents.len(), 6);
        assert_eq!(pool.queries.len(), 8);
        assert_eq!(pool.documents[1].id, "p0_1.en");
        assert_eq!(pool.documents[1].group, "p0_1");
        assert_eq!(pool.documents[1].text, "context 0 1");
        assert_eq!(pool.documents[1].title, None);
        let q = pool.queries.iter().find(|q| q.id == "d.de").unwrap();
        assert_eq!((q.group.as_str(), q.lang.as_str()), ("p1_0", "de"));
        assert_eq!(pool.languages(), ["de", "en"]);
        let qrels = pool.qrels();
        let rel: Vec<&String> = qrels.get("d.de").unwrap().keys().collect();
        assert_eq!(rel, ["p1_0.de", "p1_0.en"]);
    }

    #[test]
    fn alignment_errors_name_positions_and_ids() {
        let en = XquadLanguage::parse("en", "e", &file(&[&["a|b", "c"], &["d"]])).unwrap();
        let bad = XquadLanguage::parse("de", "d", &file(&[&["a|b", "c"]])).unwrap();
        assert!(matches!(
            build_pool(&[en.clone(), bad]),
            Err(XquadError::ArticleCount {
                expected: 2,
                found: 1,
                ..
            })
        ));
        let bad = XquadLanguage::parse("de", "d", &file(&[&["a|b"], &["d"]])).unwrap();
        assert!(matches!(
            build_pool(&[en.clone(), bad]),
            Err(XquadError::ParagraphCount {
                article: 0,
                expected: 2,
                found: 1,
                ..
            })
        ));
        let bad = XquadLanguage::parse("de", "d", &file(&[&["a|x", "c"], &["d"]])).unwrap();
        let err = build_pool(&[en.clone(), bad]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "de: paragraph p0_0 question ids differ from en: only in en: [b], only in de: [x]"
        );
        assert!(matches!(
            build_pool(&[en.clone(), en]),
            Err(XquadError::DuplicateLanguage { .. })
        ));
    }

    #[test]
    fn malformed_json_reports_file_line_column() {
        let text = file(&[&["a"]]).replacen("\n \"data\"", "\n \"data\" x", 1);
        match XquadLanguage::parse("de", "xquad.de.json", &text) {
            Err(XquadError::Json {
                file, line, column, ..
            }) => {
                assert_eq!(file, "xquad.de.json");
                assert_eq!(line, 2);
                assert_eq!(column, 9);
            }
            other => panic!("unexpected {other:?}"),
        }
        let err = XquadLanguage::parse(
            "de",
            "f.json",
            r#"{"data": [{"paragraphs": [{"qas": []}]}]}"#,
        )
        .unwrap_err();
        assert!(err.to_string().contains("missing field `context`"), "{err}");
        assert!(err.to_string().starts_with("f.json: "), "{err}");
    }

    #[test]
    fn empty_question_is_rejected_with_id() {
        let text = file(&[&["a"]]).replace("question a?", " ");
        let err = XquadLanguage::parse("de", "d", &text).unwrap_err();
        assert_eq!(
            err.to_string(),
            "d: article 0, paragraph 0, question \"a\": empty question"
        );
        let text = file(&[&["a"], &["b"]]).replace("context 1 0", "");
        let err = XquadLanguage::parse("de", "d", &text).unwrap_err();
        assert_eq!(err.to_string(), "d: article 1, paragraph 0: empty context");
        let text = file(&[&["a"], &["a"]]);
        let err = XquadLanguage::parse("de", "d", &text).unwrap_err();
        assert!(
            err.to_string().ends_with("the id occurs twice in the file"),
            "{err}"
        );
        // Built directly (not parsed), the pool's validation still names the id.
        let mut l = XquadLanguage::parse("de", "d", &file(&[&["a"]])).unwrap();
        l.articles[0][0].questions[0].1 = " ".into();
        let err = build_pool(&[l]).unwrap_err();
        assert_eq!(err.to_string(), "query \"a.de\": field `text` is empty");
    }

    #[test]
    fn byte_order_mark_is_accepted() {
        let text = format!("\u{feff}{}", file(&[&["a|b"]]));
        let l = XquadLanguage::parse("de", "xquad.de.json", &text).unwrap();
        assert_eq!(l.num_questions(), 2);
    }

    #[test]
    fn wrong_shape_says_what_was_expected() {
        let err = XquadLanguage::parse("de", "f.json", "[]").unwrap_err();
        assert!(
            err.to_string()
                .contains("expected a SQuAD v1.1 object with `data`"),
            "{err}"
        );
    }
}

//! Samples from XQuAD-format files (SQuAD v1.1 JSON, one `xquad.<lang>.json` per language,
//! read with [`langbias_eval::xquad`]), split by article.
//!
//! A sample is (question in English, the same question in L, its paragraph in English, the
//! paragraph in L), for every question of the training articles and every language L.
//!
//! **The trainer must not train on XQuAD articles that the evaluation uses.** The split is
//! by article (never by question or paragraph: paragraphs of one article share topic and
//! vocabulary), and [`XquadData::split`] returns the held-out articles; evaluate only on
//! them, e.g. with [`heldout_pool`]. The [`Provenance`](crate::Provenance) written next to
//! the data records both article lists. LibreOffice help data
//! ([`crate::libreoffice`]) has no such overlap and needs no split.
//!
//! Several questions share a paragraph, so the samples of one paragraph have the same
//! documents; trainers with in-batch negatives should keep them out of one batch (the ids
//! tell them apart: `{question id}.{lang}`, and [`Sample::source`] is `xquad p{a}_{p}`, the
//! paragraph's group in the evaluation pool) or set
//! [`XquadOptions::max_questions_per_paragraph`] to 1.

use std::collections::{BTreeSet, HashMap};
use std::path::Path;

use langbias_eval::Pool;
pub use langbias_eval::xquad::Split;
use langbias_eval::xquad::{XquadLanguage, build_pool, paragraph_id};
use serde::{Deserialize, Serialize};

use crate::{DataError, Rng, Sample, derive_seed, is_english};

/// Which articles (0-based indices into `data[]`) are for training; the rest are held out.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct XquadSplit {
    /// Number of articles in the files.
    pub num_articles: usize,
    /// Training articles, sorted.
    pub train_articles: Vec<usize>,
    /// Held-out articles (all others), sorted.
    pub heldout_articles: Vec<usize>,
}

impl XquadSplit {
    /// A random split: `round(train_fraction × num_articles)` training articles drawn with
    /// `seed`. `train_fraction` must be in `0.0..=1.0`.
    pub fn by_fraction(
        num_articles: usize,
        train_fraction: f64,
        seed: u64,
    ) -> Result<Self, DataError> {
        if !(0.0..=1.0).contains(&train_fraction) {
            return Err(DataError::InvalidOption(format!(
                "train fraction {train_fraction} is not between 0 and 1"
            )));
        }
        let n_train = ((num_articles as f64) * train_fraction).round() as usize;
        let mut order: Vec<usize> = (0..num_articles).collect();
        Rng::new(derive_seed(seed, "xquad-split")).shuffle(&mut order);
        order.truncate(n_train.min(num_articles));
        Self::from_train_articles(num_articles, &order)
    }

    /// An explicit split. Errors for an index `>= num_articles` or a repeated index.
    pub fn from_train_articles(num_articles: usize, train: &[usize]) -> Result<Self, DataError> {
        let mut set = BTreeSet::new();
        for &a in train {
            if a >= num_articles {
                return Err(DataError::InvalidOption(format!(
                    "training article {a} does not exist (there are {num_articles})"
                )));
            }
            if !set.insert(a) {
                return Err(DataError::InvalidOption(format!(
                    "training article {a} given twice"
                )));
            }
        }
        Ok(Self {
            num_articles,
            train_articles: set.iter().copied().collect(),
            heldout_articles: (0..num_articles).filter(|a| !set.contains(a)).collect(),
        })
    }

    /// The articles of one part of the evaluator's fixed split ([`Split`]: `dev` = even,
    /// `test` = odd articles, `dev-train` = articles 0 mod 4) for training; the rest is held
    /// out. `all` is an error: it would leave nothing to evaluate on.
    pub fn half(num_articles: usize, half: Split) -> Result<Self, DataError> {
        if half == Split::All {
            return Err(DataError::InvalidOption(
                "training on every XQuAD article leaves nothing to evaluate on: \
                 choose the `dev` or the `test` half"
                    .into(),
            ));
        }
        let train: Vec<usize> = (0..num_articles).filter(|&a| half.contains(a)).collect();
        Self::from_train_articles(num_articles, &train)
    }

    /// Whether article `a` is a training article.
    pub fn is_train(&self, article: usize) -> bool {
        self.train_articles.binary_search(&article).is_ok()
    }
}

/// Options of [`samples`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct XquadOptions {
    /// Keep at most this many questions per paragraph (the first ones in the English file);
    /// all if `None`.
    pub max_questions_per_paragraph: Option<usize>,
}

/// Samples plus the split they came from.
#[derive(Debug, Clone)]
pub struct XquadData {
    /// The training samples (training articles only), grouped by language in the order
    /// given, then in English file order.
    pub samples: Vec<Sample>,
    /// The split: evaluate only on `split.heldout_articles`.
    pub split: XquadSplit,
    /// The non-English languages used.
    pub languages: Vec<String>,
}

/// Builds the samples of the training articles of `split` from the English file and the
/// files of the other languages, which must be aligned with it (same articles, paragraphs
/// and question ids; checked with [`langbias_eval::xquad::build_pool`]).
///
/// Errors: misaligned files, an English language among `others`, a split whose
/// `num_articles` differs from the files, no samples.
pub fn samples(
    english: &XquadLanguage,
    others: &[XquadLanguage],
    split: &XquadSplit,
    opts: &XquadOptions,
) -> Result<Vec<Sample>, DataError> {
    if let Some(l) = others.iter().find(|l| is_english(&l.lang)) {
        return Err(DataError::InvalidOption(format!(
            "{:?} is English, the pivot language; give only the other languages",
            l.lang
        )));
    }
    if split.num_articles != english.articles.len() {
        return Err(DataError::InvalidOption(format!(
            "the split is for {} articles, but the files have {}",
            split.num_articles,
            english.articles.len()
        )));
    }
    let all: Vec<XquadLanguage> = std::iter::once(english).chain(others).cloned().collect();
    // Checks alignment, duplicate languages and empty texts.
    build_pool(&all)?;
    let mut out = Vec::new();
    for l in others {
        for &a in &split.train_articles {
            for (p, (en_para, l_para)) in english.articles[a].iter().zip(&l.articles[a]).enumerate()
            {
                let l_questions: HashMap<&str, &str> = l_para
                    .questions
                    .iter()
                    .map(|(id, q)| (id.as_str(), q.as_str()))
                    .collect();
                let limit = opts.max_questions_per_paragraph.unwrap_or(usize::MAX);
                for (qid, q_en) in en_para.questions.iter().take(limit) {
                    let Some(q_l) = l_questions.get(qid.as_str()) else {
                        continue; // cannot happen after build_pool's check
                    };
                    out.push(Sample {
                        lang: l.lang.clone(),
                        query_en: q_en.clone(),
                        query_l: (*q_l).to_owned(),
                        doc_en: en_para.context.clone(),
                        doc_l: l_para.context.clone(),
                        id: Some(format!("{qid}.{}", l.lang)),
                        source: Some(format!("xquad {}", paragraph_id(a, p))),
                    });
                }
            }
        }
    }
    if out.is_empty() {
        return Err(DataError::NoSamples {
            name: format!(
                "XQuAD training split ({} of {} articles)",
                split.train_articles.len(),
                split.num_articles
            ),
        });
    }
    Ok(out)
}

/// Reads `dir/xquad.en.json` and `dir/xquad.<lang>.json` for each of `langs` (every
/// non-English language in `dir`, sorted, if `langs` is empty).
pub fn read_dir<S: AsRef<str>>(
    dir: &Path,
    langs: &[S],
) -> Result<(XquadLanguage, Vec<XquadLanguage>), DataError> {
    let available = langbias_eval::xquad::available_languages(dir)?;
    let wanted: Vec<String> = if langs.is_empty() {
        available
            .iter()
            .filter(|l| !is_english(l))
            .cloned()
            .collect()
    } else {
        langs.iter().map(|l| l.as_ref().trim().to_owned()).collect()
    };
    let read = |lang: &str| -> Result<XquadLanguage, DataError> {
        if !available.iter().any(|a| a == lang) {
            return Err(langbias_eval::xquad::XquadError::MissingLanguage {
                lang: lang.to_owned(),
                dir: dir.display().to_string(),
                available: available.clone(),
            }
            .into());
        }
        let path = dir.join(format!("xquad.{lang}.json"));
        let text = std::fs::read_to_string(&path).map_err(|source| DataError::Read {
            path: path.display().to_string(),
            source,
        })?;
        Ok(XquadLanguage::parse(
            lang,
            &path.display().to_string(),
            &text,
        )?)
    };
    let english = read("en")?;
    let mut others = Vec::new();
    for lang in &wanted {
        if is_english(lang) {
            continue;
        }
        others.push(read(lang)?);
    }
    if others.is_empty() {
        return Err(DataError::InvalidOption(format!(
            "no non-English XQuAD language in {}",
            dir.display()
        )));
    }
    Ok((english, others))
}

/// Which XQuAD articles a training set is drawn from.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Articles {
    /// A random fraction of the articles ([`XquadSplit::by_fraction`]).
    Random {
        /// Share of the articles used for training, `0.0..=1.0`.
        train_fraction: f64,
        /// Seed of the draw.
        seed: u64,
    },
    /// One half of the evaluator's fixed split ([`XquadSplit::half`]), so that
    /// `langbias eval --split <the other half>` reports only held-out articles.
    Half(Split),
}

/// [`read_dir`], the article split and [`samples`].
pub fn load_dir<S: AsRef<str>>(
    dir: &Path,
    langs: &[S],
    articles: Articles,
    opts: &XquadOptions,
) -> Result<XquadData, DataError> {
    let (english, others) = read_dir(dir, langs)?;
    let n = english.articles.len();
    let split = match articles {
        Articles::Random {
            train_fraction,
            seed,
        } => XquadSplit::by_fraction(n, train_fraction, seed)?,
        Articles::Half(half) => XquadSplit::half(n, half)?,
    };
    let samples = samples(&english, &others, &split, opts)?;
    Ok(XquadData {
        samples,
        split,
        languages: others.into_iter().map(|l| l.lang).collect(),
    })
}

/// The article index of an XQuAD pool group `p{a}_{p}`.
fn group_article(group: &str) -> Option<usize> {
    group.strip_prefix('p')?.split('_').next()?.parse().ok()
}

/// The part of an XQuAD evaluation pool (from [`langbias_eval::xquad::build_pool`] or
/// `load_dir`) that belongs to the held-out articles of `split`: documents and queries of
/// training articles are removed. Items whose group is not of the form `p{a}_{p}` are removed
/// too.
pub fn heldout_pool(pool: &Pool, split: &XquadSplit) -> Pool {
    let keep = |group: &str| group_article(group).is_some_and(|a| !split.is_train(a));
    let mut out = pool.clone();
    out.documents.retain(|d| keep(&d.group));
    out.queries.retain(|q| keep(&q.group));
    out.description = format!(
        "{} — held-out articles only ({} of {})",
        pool.description,
        split.heldout_articles.len(),
        split.num_articles
    );
    out
}

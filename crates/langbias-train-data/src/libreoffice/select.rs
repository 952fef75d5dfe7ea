//! From parsed pages to samples: the English heading → paragraph pairs of a page, their
//! deduplication, the translated pairs of each language, and the seeded round-robin
//! selection with its counts and provenance (see the parent module's docs).

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};

use super::page::{Block, BlockKind, Page};
use super::{LICENSE, LibreOfficeHelp, SOURCE, sample_lang};
use crate::provenance::{LanguageCounts, PackageInfo, Provenance};
use crate::{DataError, Rng, Sample, derive_seed};

/// A heading text that heads this many different English documents is generic (see the
/// module docs).
pub const GENERIC_HEADING_DOCS: usize = 3;

/// Options of [`LibreOfficeHelp::select`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SelectOptions {
    /// Samples over all languages, spread evenly (the first languages get one more where it
    /// does not divide). Ignored when `per_lang` is set. Default 2800.
    pub total: usize,
    /// Samples per language (overrides `total`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub per_lang: Option<usize>,
    /// Minimum characters (Unicode scalar values) of the English document. Default 40.
    pub min_doc_chars: usize,
    /// Maximum characters of the English document. Default 1000.
    pub max_doc_chars: usize,
    /// Minimum characters of the English heading. Default 3.
    pub min_query_chars: usize,
    /// Drop ambiguous headings and duplicate documents (see the module docs). Default true.
    pub dedupe: bool,
    /// Also use headings without a lower-case letter (spreadsheet function names such as
    /// `PMT` or `T.TEST`) as queries. Default false: they are identifiers rather than
    /// queries, and some translations map them to the wrong function.
    pub identifier_queries: bool,
    /// Seed of the selection. Default 0.
    pub seed: u64,
}

impl Default for SelectOptions {
    fn default() -> Self {
        Self {
            total: 2800,
            per_lang: None,
            min_doc_chars: 40,
            max_doc_chars: 1000,
            min_query_chars: 3,
            dedupe: true,
            identifier_queries: false,
            seed: 0,
        }
    }
}

impl SelectOptions {
    fn check(&self) -> Result<(), DataError> {
        if self.per_lang.unwrap_or(self.total) == 0 {
            return Err(DataError::InvalidOption(
                "the number of samples must be positive".to_owned(),
            ));
        }
        if self.max_doc_chars < self.min_doc_chars {
            return Err(DataError::InvalidOption(format!(
                "max_doc_chars ({}) is below min_doc_chars ({})",
                self.max_doc_chars, self.min_doc_chars
            )));
        }
        Ok(())
    }

    /// Samples requested for each of `n` languages.
    fn quotas(&self, n: usize) -> Vec<usize> {
        match self.per_lang {
            Some(k) => vec![k; n],
            None if n == 0 => Vec::new(),
            None => (0..n)
                .map(|i| self.total / n + usize::from(i < self.total % n))
                .collect(),
        }
    }
}

/// Heading → document pairs of one page as block indices `(heading, paragraph)`: each
/// heading with the first following paragraph, before the next heading, whose text has
/// `min_doc_chars..=max_doc_chars` characters, if the heading has at least
/// `min_query_chars` and (unless `identifier_queries`) a lower-case letter.
pub fn page_pairs(page: &Page, opts: &SelectOptions) -> Vec<(usize, usize)> {
    let mut pairs = Vec::new();
    let mut heading: Option<usize> = None;
    for (i, b) in page.blocks.iter().enumerate() {
        match b.kind {
            BlockKind::Heading(_) => {
                let long_enough = b.text.chars().count() >= opts.min_query_chars.max(1);
                let usable = opts.identifier_queries || b.text.chars().any(char::is_lowercase);
                heading = (long_enough && usable).then_some(i);
            }
            BlockKind::Paragraph => {
                let n = b.text.chars().count();
                if let Some(h) = heading
                    && n >= opts.min_doc_chars
                    && n <= opts.max_doc_chars
                {
                    pairs.push((h, i));
                    heading = None;
                }
            }
        }
    }
    pairs
}

/// Whether `translated` is an untranslated copy of `english`: equal, or (for a partly
/// translated paragraph) sharing a common prefix and suffix that together cover at least
/// [`COPY_FRACTION`] of the English characters.
pub fn is_copy(english: &str, translated: &str) -> bool {
    if english == translated {
        return true;
    }
    let en: Vec<char> = english.chars().collect();
    let tr: Vec<char> = translated.chars().collect();
    let prefix = en.iter().zip(&tr).take_while(|(a, b)| a == b).count();
    let max_suffix = en.len().min(tr.len()) - prefix;
    let suffix = en
        .iter()
        .rev()
        .zip(tr.iter().rev())
        .take(max_suffix)
        .take_while(|(a, b)| a == b)
        .count();
    (prefix + suffix) as f64 >= COPY_FRACTION * en.len() as f64
}

/// See [`is_copy`].
pub const COPY_FRACTION: f64 = 0.75;

/// One English heading/paragraph pair.
#[derive(Debug, Clone, Copy)]
struct Candidate {
    page: usize,
    heading: usize,
    paragraph: usize,
}

/// Counts for one target language (see the module docs for the terms).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LangStats {
    /// [`Sample::lang`] code.
    pub lang: String,
    /// The help's code.
    pub help_lang: String,
    /// English pages that exist in this language.
    pub pages: usize,
    /// English prose paragraphs within the document length limits.
    pub paragraphs: usize,
    /// Of those, present and different from English in this language.
    pub paragraphs_translated: usize,
    /// English pairs (after deduplication), the same for every language.
    pub candidates: usize,
    /// Pairs whose heading and paragraph both exist in this language.
    pub aligned: usize,
    /// Aligned pairs with both texts translated (available for selection).
    pub translated: usize,
    /// Samples requested.
    pub requested: usize,
    /// Samples selected.
    pub selected: usize,
}

/// English-side counts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EnglishStats {
    /// English pages read.
    pub pages: usize,
    /// Heading/paragraph pairs found.
    pub pairs: usize,
    /// Pairs left after deduplication (the candidates).
    pub candidates: usize,
}

/// The result of [`LibreOfficeHelp::select`].
#[derive(Debug, Clone)]
pub struct Selection {
    /// The samples, grouped by language in the order the languages were given, each group
    /// in selection order.
    pub samples: Vec<Sample>,
    /// Counts per target language, in the same order.
    pub stats: Vec<LangStats>,
    /// English-side counts.
    pub english: EnglishStats,
}

impl LibreOfficeHelp {
    /// The English candidate pairs (in page and document order) and the number of pairs
    /// found before deduplication.
    fn candidates(&self, opts: &SelectOptions) -> (Vec<Candidate>, usize) {
        let mut all = Vec::new();
        for (page, (_, p)) in self.english.iter().enumerate() {
            for (heading, paragraph) in page_pairs(p, opts) {
                all.push(Candidate {
                    page,
                    heading,
                    paragraph,
                });
            }
        }
        let found = all.len();
        if !opts.dedupe {
            return (all, found);
        }
        let text = |c: &Candidate, i: usize| self.english[c.page].1.blocks[i].text.as_str();
        // Headings that head many distinct documents are generic.
        let mut docs_by_query: HashMap<String, HashSet<&str>> = HashMap::new();
        for c in &all {
            docs_by_query
                .entry(text(c, c.heading).to_lowercase())
                .or_default()
                .insert(text(c, c.paragraph));
        }
        let mut seen_queries: HashSet<String> = HashSet::new();
        let mut seen_docs: HashSet<&str> = HashSet::new();
        let kept = all
            .iter()
            .filter(|c| {
                let q = text(c, c.heading).to_lowercase();
                let specific = docs_by_query
                    .get(&q)
                    .is_some_and(|d| d.len() < GENERIC_HEADING_DOCS);
                specific && seen_queries.insert(q) && seen_docs.insert(text(c, c.paragraph))
            })
            .copied()
            .collect();
        (kept, found)
    }

    /// Builds the samples and the counts (see the module docs).
    ///
    /// Errors: no samples requested, `max_doc_chars < min_doc_chars`. A language with fewer
    /// translated pairs than requested gets what there is (see [`LangStats::selected`]).
    pub fn select(&self, opts: &SelectOptions) -> Result<Selection, DataError> {
        opts.check()?;
        let (candidates, found) = self.candidates(opts);
        let quotas = opts.quotas(self.langs.len());
        let mut stats = Vec::with_capacity(self.langs.len());
        // Per language: the translated candidates with their L texts, in random order.
        let mut pools: Vec<Vec<(usize, String, String)>> = Vec::with_capacity(self.langs.len());
        for (li, lang) in self.langs.iter().enumerate() {
            let pages = &self.translations[li];
            let mut st = LangStats {
                lang: sample_lang(lang),
                help_lang: lang.clone(),
                pages: pages.iter().filter(|p| p.is_some()).count(),
                paragraphs: 0,
                paragraphs_translated: 0,
                candidates: candidates.len(),
                aligned: 0,
                translated: 0,
                requested: quotas[li],
                selected: 0,
            };
            for ((_, en), tr) in self.english.iter().zip(pages) {
                for b in &en.blocks {
                    let n = b.text.chars().count();
                    if b.kind == BlockKind::Paragraph
                        && n >= opts.min_doc_chars
                        && n <= opts.max_doc_chars
                    {
                        st.paragraphs += 1;
                        let l = tr
                            .as_ref()
                            .and_then(|m| m.get(&(b.id.clone(), b.occurrence)));
                        if l.is_some_and(|l| !is_copy(&b.text, l)) {
                            st.paragraphs_translated += 1;
                        }
                    }
                }
            }
            let mut pool = Vec::new();
            for (ci, c) in candidates.iter().enumerate() {
                let Some(map) = &pages[c.page] else { continue };
                let blocks = &self.english[c.page].1.blocks;
                let (h, p) = (&blocks[c.heading], &blocks[c.paragraph]);
                let (Some(hl), Some(pl)) = (
                    map.get(&(h.id.clone(), h.occurrence)),
                    map.get(&(p.id.clone(), p.occurrence)),
                ) else {
                    continue;
                };
                st.aligned += 1;
                if *hl == h.text || is_copy(&p.text, pl) {
                    continue;
                }
                st.translated += 1;
                pool.push((ci, hl.clone(), pl.clone()));
            }
            Rng::new(derive_seed(opts.seed, lang)).shuffle(&mut pool);
            pools.push(pool);
            stats.push(st);
        }

        // Round robin over the languages; each English pair goes to one language at most.
        let mut used: HashSet<usize> = HashSet::new();
        let mut cursor = vec![0usize; self.langs.len()];
        let mut chosen: Vec<Vec<usize>> = vec![Vec::new(); self.langs.len()];
        loop {
            let mut progress = false;
            for li in 0..self.langs.len() {
                if chosen[li].len() >= quotas[li] {
                    continue;
                }
                while let Some(&(ci, _, _)) = pools[li].get(cursor[li]) {
                    cursor[li] += 1;
                    if used.insert(ci) {
                        chosen[li].push(cursor[li] - 1);
                        progress = true;
                        break;
                    }
                }
            }
            if !progress {
                break;
            }
        }

        let release = self.release.as_deref().unwrap_or("unknown");
        let mut samples = Vec::new();
        for (li, picks) in chosen.iter().enumerate() {
            stats[li].selected = picks.len();
            for &k in picks {
                let (ci, ql, dl) = &pools[li][k];
                let c = candidates[*ci];
                let (path, page) = &self.english[c.page];
                let (h, p) = (&page.blocks[c.heading], &page.blocks[c.paragraph]);
                let id_of = |b: &Block| {
                    if b.occurrence == 0 {
                        b.id.clone()
                    } else {
                        format!("{}~{}", b.id, b.occurrence)
                    }
                };
                samples.push(Sample {
                    lang: stats[li].lang.clone(),
                    query_en: h.text.clone(),
                    query_l: ql.clone(),
                    doc_en: p.text.clone(),
                    doc_l: dl.clone(),
                    id: Some(format!(
                        "{}:{path}#{}/{}",
                        stats[li].lang,
                        id_of(h),
                        id_of(p)
                    )),
                    source: Some(format!("{SOURCE} {release} {path}#{}", id_of(p))),
                });
            }
        }
        Ok(Selection {
            samples,
            stats,
            english: EnglishStats {
                pages: self.english.len(),
                pairs: found,
                candidates: candidates.len(),
            },
        })
    }

    /// The samples of [`LibreOfficeHelp::select`].
    pub fn samples(&self, opts: &SelectOptions) -> Result<Vec<Sample>, DataError> {
        Ok(self.select(opts)?.samples)
    }

    /// The provenance of a selection: source, licence, the given packages (names, versions,
    /// hashes supplied by the caller), per-language counts, options and total.
    pub fn provenance(
        &self,
        selection: &Selection,
        opts: &SelectOptions,
        packages: Vec<PackageInfo>,
    ) -> Provenance {
        let options = serde_json::json!({
            "select": opts,
            "languages": self.langs,
            "release": self.release,
            "english": selection.english,
        });
        let mut p = Provenance::new(
            SOURCE,
            LICENSE,
            "LibreOffice help pages (human translations): an English heading as the query and \
             the first prose paragraph under it as the document, aligned with the same ids in \
             the other language; untranslated pairs dropped",
            &selection.samples,
            options,
        );
        p.packages = packages;
        p.languages = selection
            .stats
            .iter()
            .map(|s| {
                (
                    s.lang.clone(),
                    LanguageCounts {
                        aligned: Some(s.aligned),
                        available: Some(s.translated),
                        requested: Some(s.requested),
                        selected: s.selected,
                    },
                )
            })
            .collect::<BTreeMap<_, _>>();
        p
    }
}

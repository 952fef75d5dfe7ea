//! Samples from the LibreOffice help, whose pages are translated by people into many
//! languages (Debian packages `libreoffice-help-<lang>`, MPL-2.0).
//!
//! # Layout
//!
//! An extracted package holds its pages at
//! `<root>/usr/share/libreoffice/help/<LANG>/text/**/*.html`, `LANG` being the help's own
//! code (`en-US`, `de`, `es`, `fr`, `ru`, `ja`, `ko`, `zh-CN`, …). Every page exists under the
//! same relative path in every language, and its headings (`h1`–`h6`, ids like `hd_id3150040`)
//! and paragraphs (`p`, ids like `par_id3150040`) carry the same ids in every language, so
//! `(relative path, id)` aligns them. An id that occurs several times in one page (embedded
//! sections) is told apart by its occurrence number.
//!
//! # Pairs
//!
//! Only the page body (`div#DisplayArea`) is read. In each English page, every heading is a
//! query and the first paragraph after it (before the next heading) whose English text has
//! between [`SelectOptions::min_doc_chars`] and [`SelectOptions::max_doc_chars`] characters
//! is its document. Code, table-header, image and "related topics" paragraphs are skipped
//! (see [`is_prose_paragraph`]). Text is the element's text with tags stripped, entities
//! decoded and whitespace normalised; of an inline platform switch (`Command`/`Ctrl`, menu
//! paths on macOS vs elsewhere) only the default case is kept.
//!
//! With [`SelectOptions::dedupe`] (the default), a pair is dropped if its English heading
//! text (case-insensitive) heads [`GENERIC_HEADING_DOCS`] or more *different* documents
//! (generic headings such as "Parameters:", "Example", "Delete"); of the remaining pairs,
//! only the first (in path order) of each English heading text and of each English document
//! text is kept (embedded copies of a section, a heading used twice). No two samples then
//! share an English query or an English document, so in-batch negatives are true negatives.
//!
//! Headings without a lower-case letter (spreadsheet function names such as `PMT`) are not
//! used as queries unless [`SelectOptions::identifier_queries`] is set.
//!
//! For each target language, a pair is *aligned* if both ids have non-empty text in that
//! language's page, and *translated* if moreover the heading differs from the English
//! heading and the paragraph is not a copy of the English paragraph ([`is_copy`]: equal, or
//! at least 75 % of it an unchanged English prefix and suffix, i.e. a partly translated
//! paragraph). Untranslated strings are copies of the English text in these packages, so
//! such pairs are dropped.
//!
//! # Selection
//!
//! [`LibreOfficeHelp::select`] spreads [`SelectOptions::total`] evenly over the target
//! languages (or takes [`SelectOptions::per_lang`] each), draws each language's pairs in a
//! seeded random order, and never gives the same English pair to two languages (so a batch
//! mixing languages never holds the same English document twice). The result depends only on
//! the pages, the languages (and their order) and the options.
//!
//! # Language codes
//!
//! [`Sample::lang`] uses the code XQuAD uses where there is one: the help's `zh-CN`
//! (Simplified Chinese) becomes `zh`; every other help code is kept as the help spells it
//! (`de`, `ja`, `ko`, `zh-TW`, `pt-BR`, …). See [`sample_lang`]. When opening, a language may
//! be given as either spelling (`zh` or `zh-CN`, any case).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::LazyLock;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use scraper::{ElementRef, Html, Node, Selector};
use serde::{Deserialize, Serialize};

use crate::provenance::{LanguageCounts, PackageInfo, Provenance};
use crate::{DataError, Rng, Sample, derive_seed, normalize_whitespace};

/// The help's code of the English pages (the pivot language).
pub const ENGLISH: &str = "en-US";
/// Default target languages (help codes).
pub const DEFAULT_LANGS: &[&str] = &["de", "es", "zh-CN", "ru", "ja", "ko", "fr"];
/// Where the help lives inside an extracted package.
pub const HELP_SUBDIR: &str = "usr/share/libreoffice/help";
/// Licence of the help texts.
pub const LICENSE: &str = "MPL-2.0";
/// Source name used in [`Provenance::source`] and [`Sample::source`].
pub const SOURCE: &str = "libreoffice-help";

/// The [`Sample::lang`] code for a help language code: `zh-CN` → `zh` (XQuAD's code for
/// Simplified Chinese); any other code is returned unchanged.
pub fn sample_lang(help_lang: &str) -> String {
    if help_lang.eq_ignore_ascii_case("zh-CN") {
        "zh".to_owned()
    } else {
        help_lang.to_owned()
    }
}

/// The Debian package of a help language: `libreoffice-help-<lower-case code>`
/// (`en-US` → `libreoffice-help-en-us`, `zh` or `zh-CN` → `libreoffice-help-zh-cn`).
pub fn debian_package(help_lang: &str) -> String {
    let code = if help_lang.eq_ignore_ascii_case("zh") {
        "zh-cn".to_owned()
    } else {
        help_lang.replace('_', "-").to_ascii_lowercase()
    };
    format!("libreoffice-help-{code}")
}

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

/// Kind of a [`Block`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BlockKind {
    /// `h1`–`h6` (the level).
    Heading(u8),
    /// A prose `p`.
    Paragraph,
}

/// A heading or paragraph of a page, with its text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Block {
    /// Heading or paragraph.
    pub kind: BlockKind,
    /// The element's `id`.
    pub id: String,
    /// 0 for the first element with this id in the page, 1 for the second, …
    pub occurrence: usize,
    /// Text: tags stripped, entities decoded, whitespace normalised (never empty).
    pub text: String,
}

/// The parsed body of one help page.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Headings and prose paragraphs that have an id and text, in document order.
    pub blocks: Vec<Block>,
    /// The release in the page header ("LibreOffice 7.4 Help" → `7.4`), if found.
    pub release: Option<String>,
}

static DISPLAY_AREA: LazyLock<Option<Selector>> =
    LazyLock::new(|| Selector::parse("div#DisplayArea").ok());
static LOGO: LazyLock<Option<Selector>> = LazyLock::new(|| Selector::parse("a.logo").ok());

/// Whether a paragraph with this `class` attribute is prose (a possible document): not
/// code (`code`, `codeintable`, `smathcode`, `bascode`, …), not a table header, an image
/// caption, an `example` command line, a "related topics" link or a video consent notice.
pub fn is_prose_paragraph(class: Option<&str>) -> bool {
    const SKIP: &[&str] = &[
        "code",
        "tablehead",
        "image",
        "example",
        "related",
        "youtube",
    ];
    class.is_none_or(|c| {
        c.split_whitespace()
            .all(|token| !SKIP.iter().any(|s| token.to_ascii_lowercase().contains(s)))
    })
}

fn has_class(el: &ElementRef<'_>, name: &str) -> bool {
    el.value().classes().any(|c| c == name)
}

/// Appends the text of `el`'s subtree to `out`: text nodes as they are (entities are
/// already decoded by the parser), `br` as a space, no `script`/`style`/`img` content, and
/// of a platform switch (`span.switchinline` / `span.switch`) only the case whose id starts
/// with `default` (else the first case).
fn collect_text(el: ElementRef<'_>, out: &mut String) {
    if has_class(&el, "switchinline") || has_class(&el, "switch") {
        let cases: Vec<ElementRef<'_>> = el.children().filter_map(ElementRef::wrap).collect();
        let chosen = cases
            .iter()
            .find(|c| c.value().id().is_some_and(|id| id.starts_with("default")))
            .or(cases.first());
        if let Some(case) = chosen {
            collect_text(*case, out);
        }
        return;
    }
    for child in el.children() {
        match child.value() {
            Node::Text(t) => out.push_str(t),
            Node::Element(e) => match e.name() {
                "script" | "style" | "noscript" | "template" | "img" | "svg" => {}
                "br" => out.push(' '),
                _ => {
                    if let Some(child_el) = ElementRef::wrap(child) {
                        collect_text(child_el, out);
                    }
                }
            },
            _ => {}
        }
    }
}

/// The normalised text of an element (see [`Page`]).
fn element_text(el: ElementRef<'_>) -> String {
    let mut raw = String::new();
    collect_text(el, &mut raw);
    normalize_whitespace(&raw)
}

fn heading_level(name: &str) -> Option<u8> {
    match name {
        "h1" => Some(1),
        "h2" => Some(2),
        "h3" => Some(3),
        "h4" => Some(4),
        "h5" => Some(5),
        "h6" => Some(6),
        _ => None,
    }
}

/// Parses one help page: the headings and prose paragraphs of its body (`div#DisplayArea`,
/// or the whole document if there is none) that have an `id` and non-empty text.
/// Occurrence numbers count every `h1`–`h6`/`p` with the id, kept or not, so they agree
/// across languages.
pub fn parse_page(html: &str) -> Page {
    let doc = Html::parse_document(html);
    let body = DISPLAY_AREA
        .as_ref()
        .and_then(|s| doc.select(s).next())
        .unwrap_or_else(|| doc.root_element());
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut blocks = Vec::new();
    for el in body.descendants().filter_map(ElementRef::wrap) {
        let name = el.value().name();
        let kind = match heading_level(name) {
            Some(level) => BlockKind::Heading(level),
            None if name == "p" => BlockKind::Paragraph,
            None => continue,
        };
        let Some(id) = el.value().id() else { continue };
        let counter = seen.entry(id).or_insert(0);
        let occurrence = *counter;
        *counter += 1;
        if kind == BlockKind::Paragraph && !is_prose_paragraph(el.value().attr("class")) {
            continue;
        }
        let text = element_text(el);
        if text.is_empty() {
            continue;
        }
        blocks.push(Block {
            kind,
            id: id.to_owned(),
            occurrence,
            text,
        });
    }
    let release = LOGO
        .as_ref()
        .and_then(|s| doc.select(s).next())
        .and_then(|logo| {
            element_text(logo)
                .split_whitespace()
                .find(|w| w.starts_with(|c: char| c.is_ascii_digit()))
                .map(str::to_owned)
        });
    Page { blocks, release }
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

/// Texts of one translated page by `(id, occurrence)`.
type TextMap = HashMap<(String, usize), String>;

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

/// The parsed help of English and the target languages.
#[derive(Debug)]
pub struct LibreOfficeHelp {
    help_dir: PathBuf,
    langs: Vec<String>,
    release: Option<String>,
    /// `(relative path, page)`, sorted by path.
    english: Vec<(String, Page)>,
    /// Per target language, per English page: the page's texts, `None` if it is missing.
    translations: Vec<Vec<Option<TextMap>>>,
}

fn read_err(path: &Path) -> impl FnOnce(std::io::Error) -> DataError + '_ {
    move |source| DataError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// `root` itself or `root/usr/share/libreoffice/help`, whichever has an `en-US` directory.
fn find_help_dir(root: &Path) -> Result<PathBuf, DataError> {
    let nested = root.join(HELP_SUBDIR);
    for dir in [nested.as_path(), root] {
        if dir.join(ENGLISH).join("text").is_dir() {
            return Ok(dir.to_path_buf());
        }
    }
    Err(DataError::NoHelp {
        path: root.display().to_string(),
        expected: format!(
            "{ENGLISH}/text/ in it or in {} (extract libreoffice-help-en-us there with dpkg-deb -x)",
            nested.display()
        ),
    })
}

/// Language directories (those with a `text/` subdirectory), sorted.
fn available_languages(help_dir: &Path) -> Result<Vec<String>, DataError> {
    let mut langs = Vec::new();
    for entry in std::fs::read_dir(help_dir).map_err(read_err(help_dir))? {
        let entry = entry.map_err(read_err(help_dir))?;
        if entry.path().join("text").is_dir() {
            langs.push(entry.file_name().to_string_lossy().into_owned());
        }
    }
    langs.sort();
    Ok(langs)
}

/// The directory name for a requested code: exact, then case-insensitive with `_` as `-`,
/// then `zh` → `zh-CN`.
fn resolve_language(
    code: &str,
    available: &[String],
    help_dir: &Path,
) -> Result<String, DataError> {
    let wanted = code.trim().replace('_', "-");
    let wanted = if wanted.eq_ignore_ascii_case("zh") {
        "zh-CN".to_owned()
    } else {
        wanted
    };
    available
        .iter()
        .find(|a| **a == wanted)
        .or_else(|| available.iter().find(|a| a.eq_ignore_ascii_case(&wanted)))
        .cloned()
        .ok_or_else(|| DataError::MissingLanguage {
            lang: code.to_owned(),
            dir: help_dir.display().to_string(),
            available: available.to_vec(),
        })
}

/// Relative paths (with `/`) of the `.html` files under `dir/text`, sorted.
fn list_pages(lang_dir: &Path) -> Result<Vec<String>, DataError> {
    let mut out = Vec::new();
    let mut stack = vec![lang_dir.join("text")];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir).map_err(read_err(&dir))? {
            let entry = entry.map_err(read_err(&dir))?;
            let path = entry.path();
            let file_type = entry.file_type().map_err(read_err(&path))?;
            if file_type.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e == "html")
                && let Ok(rel) = path.strip_prefix(lang_dir)
            {
                let parts: Vec<String> = rel
                    .components()
                    .map(|c| c.as_os_str().to_string_lossy().into_owned())
                    .collect();
                out.push(parts.join("/"));
            }
        }
    }
    out.sort();
    Ok(out)
}

/// Reads a page; `Ok(None)` if it does not exist.
fn read_page(path: &Path) -> Result<Option<Page>, DataError> {
    match std::fs::read(path) {
        Ok(bytes) => Ok(Some(parse_page(&String::from_utf8_lossy(&bytes)))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(read_err(path)(e)),
    }
}

fn text_map(page: Page) -> TextMap {
    page.blocks
        .into_iter()
        .map(|b| ((b.id, b.occurrence), b.text))
        .collect()
}

impl LibreOfficeHelp {
    /// Reads and parses the English pages and those of `langs` (help codes or sample codes,
    /// e.g. `de`, `zh-CN` or `zh`; [`DEFAULT_LANGS`] if empty). `root` is the directory the
    /// packages were extracted into (holding `usr/share/libreoffice/help`) or the help
    /// directory itself. Pages are parsed on all available cores.
    ///
    /// Errors: no English help, a language that is not installed (the error lists those
    /// that are), English or a language given twice, unreadable files.
    pub fn open<S: AsRef<str>>(root: &Path, langs: &[S]) -> Result<Self, DataError> {
        let help_dir = find_help_dir(root)?;
        let available = available_languages(&help_dir)?;
        let requested: Vec<&str> = if langs.is_empty() {
            DEFAULT_LANGS.to_vec()
        } else {
            langs.iter().map(AsRef::as_ref).collect()
        };
        let mut resolved: Vec<String> = Vec::new();
        for code in requested {
            let lang = resolve_language(code, &available, &help_dir)?;
            if lang == ENGLISH || crate::is_english(&lang) {
                return Err(DataError::InvalidOption(format!(
                    "{code:?} is English, the pivot language; give only the other languages"
                )));
            }
            if resolved.contains(&lang) {
                return Err(DataError::DuplicateLanguage { lang });
            }
            resolved.push(lang);
        }
        let paths = list_pages(&help_dir.join(ENGLISH))?;
        if paths.is_empty() {
            return Err(DataError::NoHelp {
                path: help_dir.display().to_string(),
                expected: format!("HTML pages under {ENGLISH}/text/"),
            });
        }

        // One job per (language, page); language 0 is English.
        let all_langs: Vec<&str> = std::iter::once(ENGLISH)
            .chain(resolved.iter().map(String::as_str))
            .collect();
        let n_jobs = all_langs.len() * paths.len();
        let next = AtomicUsize::new(0);
        let results: Mutex<Vec<Option<Page>>> = Mutex::new(vec![None; n_jobs]);
        let first_error: Mutex<Option<DataError>> = Mutex::new(None);
        let threads = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(1)
            .clamp(1, 16);
        std::thread::scope(|scope| {
            for _ in 0..threads {
                scope.spawn(|| {
                    loop {
                        let job = next.fetch_add(1, Ordering::Relaxed);
                        if job >= n_jobs {
                            break;
                        }
                        let (lang, page) =
                            (all_langs[job / paths.len()], &paths[job % paths.len()]);
                        let path = help_dir.join(lang).join(page);
                        match read_page(&path) {
                            Ok(parsed) => {
                                if let Ok(mut r) = results.lock() {
                                    r[job] = parsed;
                                }
                            }
                            Err(e) => {
                                if let Ok(mut slot) = first_error.lock() {
                                    slot.get_or_insert(e);
                                }
                                next.store(n_jobs, Ordering::Relaxed);
                                break;
                            }
                        }
                    }
                });
            }
        });
        if let Some(e) = first_error.into_inner().ok().flatten() {
            return Err(e);
        }
        let mut results = results.into_inner().unwrap_or_default().into_iter();
        let mut english = Vec::with_capacity(paths.len());
        for path in &paths {
            // A missing English page cannot happen (we listed it), but an empty one may.
            let page = results.next().flatten().unwrap_or_default();
            english.push((path.clone(), page));
        }
        let translations: Vec<Vec<Option<TextMap>>> = resolved
            .iter()
            .map(|_| {
                (0..paths.len())
                    .map(|_| results.next().flatten().map(text_map))
                    .collect()
            })
            .collect();
        let release = english.iter().find_map(|(_, p)| p.release.clone());
        Ok(Self {
            help_dir,
            langs: resolved,
            release,
            english,
            translations,
        })
    }

    /// The help directory (`…/usr/share/libreoffice/help`).
    pub fn help_dir(&self) -> &Path {
        &self.help_dir
    }

    /// The target languages (help codes), in the order given.
    pub fn languages(&self) -> &[String] {
        &self.langs
    }

    /// The release named in the page headers (e.g. `7.4`), if found.
    pub fn release(&self) -> Option<&str> {
        self.release.as_deref()
    }

    /// Number of English pages.
    pub fn english_pages(&self) -> usize {
        self.english.len()
    }

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

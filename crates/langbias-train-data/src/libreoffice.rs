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
//!
//! # Code
//!
//! This module reads the help directory ([`LibreOfficeHelp::open`], pages parsed in parallel);
//! `page` parses one page into [`Block`]s ([`parse_page`]); `select` finds the pairs and
//! chooses the samples ([`page_pairs`], [`is_copy`], [`LibreOfficeHelp::select`]).

mod page;
mod select;

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

pub use self::page::{Block, BlockKind, Page, is_prose_paragraph, parse_page};
pub use self::select::{
    COPY_FRACTION, EnglishStats, GENERIC_HEADING_DOCS, LangStats, SelectOptions, Selection,
    is_copy, page_pairs,
};
use crate::DataError;

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

/// Texts of one translated page by `(id, occurrence)`.
type TextMap = HashMap<(String, usize), String>;

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

        // One job per (language, page), language 0 being English; the results keep that order.
        let all_langs: Vec<&str> = std::iter::once(ENGLISH)
            .chain(resolved.iter().map(String::as_str))
            .collect();
        let mut results = (0..all_langs.len() * paths.len())
            .into_par_iter()
            .map(|job| {
                let (lang, page) = (all_langs[job / paths.len()], &paths[job % paths.len()]);
                read_page(&help_dir.join(lang).join(page))
            })
            .collect::<Result<Vec<Option<Page>>, DataError>>()?
            .into_iter();
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
}

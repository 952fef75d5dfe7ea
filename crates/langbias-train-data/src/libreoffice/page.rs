//! One help page parsed: the headings and prose paragraphs of its body with their ids,
//! occurrence numbers and normalised text, and the release named in its header.

use std::collections::HashMap;
use std::sync::LazyLock;

use scraper::{ElementRef, Html, Node, Selector};

use crate::normalize_whitespace;

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

//! LibreOffice help pages → samples, on the small hand-written pages in
//! `tests/fixtures/help` (en-US, de, zh-CN).

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use langbias_train_data::libreoffice::{
    BlockKind, LibreOfficeHelp, SelectOptions, debian_package, is_copy, is_prose_paragraph,
    page_pairs, parse_page, sample_lang,
};
use langbias_train_data::{DataError, PackageInfo, Provenance, validate};

/// The package directory: `cargo test` sets it at run time, which stays right when a test
/// binary built from another checkout is reused from a shared target directory.
fn manifest_dir() -> String {
    std::env::var("CARGO_MANIFEST_DIR").unwrap_or_else(|_| env!("CARGO_MANIFEST_DIR").to_owned())
}

fn fixture_root() -> PathBuf {
    Path::new(&manifest_dir()).join("tests/fixtures/help")
}

fn open(langs: &[&str]) -> LibreOfficeHelp {
    LibreOfficeHelp::open(&fixture_root(), langs).expect("fixture help opens")
}

#[test]
fn parses_body_text_entities_nested_tags_and_switches() {
    let html = std::fs::read_to_string(
        fixture_root().join("usr/share/libreoffice/help/en-US/text/swriter/guide/frames.html"),
    )
    .unwrap();
    let page = parse_page(&html);
    assert_eq!(page.release.as_deref(), Some("7.4"));
    let ids: Vec<&str> = page.blocks.iter().map(|b| b.id.as_str()).collect();
    // Header, sidebar, donation frame and script contents are outside the body; the code
    // paragraph is not prose.
    assert_eq!(
        ids,
        [
            "hd_id1", "par_id1", "hd_id2", "hd_id3", "par_id3a", "par_id3c", "hd_id4", "par_id4",
            "hd_id5", "par_id5", "hd_id6", "par_id6"
        ]
    );
    assert_eq!(page.blocks[0].kind, BlockKind::Heading(1));
    assert_eq!(page.blocks[0].text, "Inserting & Editing Frames");
    assert_eq!(page.blocks[1].kind, BlockKind::Paragraph);
    assert_eq!(
        page.blocks[1].text,
        "A frame is a container for text & graphics that you can place anywhere."
    );
    // Only the default case of the platform switch; whitespace and line breaks collapsed.
    assert_eq!(
        page.blocks[5].text,
        "Press Ctrl+F8 to open the frame dialog quickly."
    );
}

#[test]
fn decodes_numeric_entities_and_counts_repeated_ids() {
    let page = parse_page(
        r#"<div id="DisplayArea"><h2 id="h">&#x6846;&#26550; &lt;x&gt;</h2>
           <p id="p" class="paragraph">one</p><p id="p">two<br>lines</p>
           <p id="p" class="code">three</p><p id="p">four</p><p id="noText"> </p></div>"#,
    );
    assert_eq!(page.blocks[0].text, "框架 <x>");
    let occ: Vec<(usize, &str)> = page
        .blocks
        .iter()
        .skip(1)
        .map(|b| (b.occurrence, b.text.as_str()))
        .collect();
    // The code paragraph is skipped but still counted, so occurrences agree across languages.
    assert_eq!(occ, [(0, "one"), (1, "two lines"), (3, "four")]);
    assert_eq!(page.release, None);
}

#[test]
fn pairs_heading_with_first_long_enough_paragraph() {
    let page = parse_page(
        r#"<div id="DisplayArea">
           <h1 id="a">Heading without a paragraph</h1>
           <h2 id="b">Second heading</h2>
           <p id="b1">Too short.</p>
           <p id="b2">This one is long enough to be the document of the heading.</p>
           <p id="b3">A later paragraph that is long enough but not the first one.</p>
           <h2 id="c">NAME</h2><p id="c1">An identifier heading is not a query by default.</p>
           <h2 id="d">Last</h2></div>"#,
    );
    let opts = SelectOptions::default();
    let pairs: Vec<(&str, &str)> = page_pairs(&page, &opts)
        .into_iter()
        .map(|(h, p)| (page.blocks[h].id.as_str(), page.blocks[p].id.as_str()))
        .collect();
    assert_eq!(pairs, [("b", "b2")]);
    let with_ids = SelectOptions {
        identifier_queries: true,
        max_doc_chars: 55,
        ..opts
    };
    let pairs: Vec<(&str, &str)> = page_pairs(&page, &with_ids)
        .into_iter()
        .map(|(h, p)| (page.blocks[h].id.as_str(), page.blocks[p].id.as_str()))
        .collect();
    // b2 (58 chars) is now too long, b3 too; the identifier heading pairs with c1.
    assert_eq!(pairs, [("c", "c1")]);
}

#[test]
fn prose_classes_and_copies() {
    assert!(is_prose_paragraph(None));
    assert!(is_prose_paragraph(Some("paragraph")));
    assert!(is_prose_paragraph(Some("tablecontentintable")));
    for c in [
        "code",
        "bascode",
        "codeintable",
        "tableheadintable",
        "related",
        "image",
    ] {
        assert!(!is_prose_paragraph(Some(c)), "{c}");
    }
    assert!(is_copy("Same text.", "Same text."));
    assert!(!is_copy("Open the dialog.", "Öffnet den Dialog."));
    // Partly translated: only the last sentence differs.
    let en = "If you are using drag-and-drop, selecting with the mouse or clicking objects and \
              names, you can use the keys Shift, Ctrl and occasionally Alt to access additional \
              functionality. It depends on your window manager.";
    let ru = "If you are using drag-and-drop, selecting with the mouse or clicking objects and \
              names, you can use the keys Shift, Ctrl and occasionally Alt to access additional \
              functionality. Это зависит от диспетчера окон.";
    assert!(is_copy(en, ru));
}

#[test]
fn language_codes() {
    assert_eq!(sample_lang("zh-CN"), "zh");
    assert_eq!(sample_lang("zh-TW"), "zh-TW");
    assert_eq!(sample_lang("de"), "de");
    assert_eq!(debian_package("en-US"), "libreoffice-help-en-us");
    assert_eq!(debian_package("zh-CN"), "libreoffice-help-zh-cn");
    assert_eq!(debian_package("zh"), "libreoffice-help-zh-cn");
}

#[test]
fn counts_drop_untranslated_ambiguous_and_missing() {
    let help = open(&["de", "zh"]);
    assert_eq!(help.languages(), ["de", "zh-CN"]);
    assert_eq!(help.release(), Some("7.4"));
    assert_eq!(help.english_pages(), 3);
    let sel = help.select(&SelectOptions::default()).unwrap();
    // 9 heading/paragraph pairs; "Options" heads three different documents (all dropped),
    // the embedded copy of "Linking Frames" is kept once.
    assert_eq!(sel.english.pairs, 9);
    assert_eq!(sel.english.candidates, 5);
    let de = &sel.stats[0];
    let zh = &sel.stats[1];
    assert_eq!((de.lang.as_str(), de.help_lang.as_str()), ("de", "de"));
    assert_eq!((zh.lang.as_str(), zh.help_lang.as_str()), ("zh", "zh-CN"));
    // The English-only page is missing in both languages.
    assert_eq!((de.pages, de.aligned, zh.pages, zh.aligned), (2, 4, 2, 4));
    // German leaves one paragraph as the English copy.
    assert_eq!((de.translated, zh.translated), (3, 4));
    assert_eq!((de.paragraphs, de.paragraphs_translated), (10, 7));
    assert_eq!((zh.paragraphs, zh.paragraphs_translated), (10, 8));
    for s in &sel.samples {
        assert_ne!(s.doc_en, s.doc_l, "untranslated copy kept: {s:?}");
        assert_ne!(s.query_en, "Options");
        assert_ne!(s.query_en, "To Insert a Frame", "heading without paragraph");
        assert!(!s.doc_en.contains("code paragraph"));
    }
    // Every English pair goes to one language at most; all 4 translated pairs are used.
    let english: HashSet<&str> = sel.samples.iter().map(|s| s.doc_en.as_str()).collect();
    assert_eq!(english.len(), sel.samples.len());
    assert_eq!(sel.samples.len(), 4);
    assert_eq!(de.selected + zh.selected, 4);
    assert!(de.selected <= 3);
    validate(&sel.samples).unwrap();
}

#[test]
fn a_heading_with_two_documents_keeps_the_first() {
    // Without the English-only page, "Options" heads two documents: not generic, so the
    // first pair in path order (text/shared/01/options.html) is kept.
    let root = std::path::PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("help-two-options");
    let _ = std::fs::remove_dir_all(&root);
    let src = fixture_root().join("usr/share/libreoffice/help");
    for lang in ["en-US", "de"] {
        for page in [
            "text/shared/01/options.html",
            "text/swriter/guide/frames.html",
        ] {
            let to = root.join(lang).join(page);
            std::fs::create_dir_all(to.parent().unwrap()).unwrap();
            std::fs::copy(src.join(lang).join(page), &to).unwrap();
        }
    }
    let help = LibreOfficeHelp::open(&root, &["de"]).unwrap();
    let sel = help.select(&SelectOptions::default()).unwrap();
    assert_eq!((sel.english.pairs, sel.english.candidates), (7, 5));
    let options: Vec<_> = sel
        .samples
        .iter()
        .filter(|s| s.query_en == "Options")
        .collect();
    assert_eq!(options.len(), 1);
    assert_eq!(options[0].query_l, "Optionen");
    assert!(options[0].doc_en.starts_with("Opens the dialog"));
    // Without deduplication every pair counts, the embedded copy included.
    let all = help
        .select(&SelectOptions {
            dedupe: false,
            ..SelectOptions::default()
        })
        .unwrap();
    assert_eq!(all.english.candidates, 7);
    assert_eq!(all.stats[0].translated, 6);
}

#[test]
fn samples_carry_texts_ids_and_sources() {
    let help = open(&["zh-CN"]);
    let samples = help
        .samples(&SelectOptions {
            per_lang: Some(10),
            ..SelectOptions::default()
        })
        .unwrap();
    assert_eq!(samples.len(), 4);
    let s = samples
        .iter()
        .find(|s| s.query_en == "Inserting & Editing Frames")
        .unwrap();
    assert_eq!(s.lang, "zh");
    assert_eq!(s.query_l, "插入和编辑框架");
    assert_eq!(
        s.doc_l,
        "框架是文本和图形的容器，可以放在页面上的任何位置。"
    );
    assert_eq!(
        s.id.as_deref(),
        Some("zh:text/swriter/guide/frames.html#hd_id1/par_id1")
    );
    assert_eq!(
        s.source.as_deref(),
        Some("libreoffice-help 7.4 text/swriter/guide/frames.html#par_id1")
    );
    let keys = samples
        .iter()
        .find(|s| s.query_en == "Shortcut Keys")
        .unwrap();
    assert_eq!(keys.doc_l, "按 Ctrl+F8 可以快速打开框架对话框。");
}

#[test]
fn selection_is_deterministic_and_respects_quotas() {
    let help = open(&["de", "zh-CN"]);
    let opts = SelectOptions {
        total: 3,
        seed: 42,
        ..SelectOptions::default()
    };
    let a = help.select(&opts).unwrap();
    let b = open(&["de", "zh-CN"]).select(&opts).unwrap();
    assert_eq!(a.samples, b.samples);
    // 3 over 2 languages: 2 + 1.
    assert_eq!((a.stats[0].requested, a.stats[1].requested), (2, 1));
    assert_eq!((a.stats[0].selected, a.stats[1].selected), (2, 1));
    assert_eq!(a.samples[0].lang, "de");
    assert_eq!(a.samples[2].lang, "zh");
    // Different seeds eventually choose differently (4 candidates, many seeds).
    let differs = (0..20u64).any(|seed| {
        help.samples(&SelectOptions {
            seed,
            ..opts.clone()
        })
        .unwrap()
            != a.samples
    });
    assert!(differs);
}

#[test]
fn provenance_lists_packages_counts_and_options() {
    let help = open(&["de", "zh"]);
    let opts = SelectOptions::default();
    let sel = help.select(&opts).unwrap();
    let packages = vec![PackageInfo {
        name: "libreoffice-help-de".into(),
        version: "4:7.4.7-1+deb12u14".into(),
        sha256: None,
    }];
    let p = help.provenance(&sel, &opts, packages);
    assert_eq!(p.source, "libreoffice-help");
    assert_eq!(p.license, "MPL-2.0");
    assert_eq!(p.total, 4);
    assert_eq!(p.languages["de"].available, Some(3));
    assert_eq!(p.languages["zh"].aligned, Some(4));
    assert_eq!(p.options["select"]["total"], 2800);
    assert_eq!(p.options["select"]["min_doc_chars"], 40);
    let back = Provenance::from_json(&p.to_json_pretty(), "p.json").unwrap();
    assert_eq!(back, p);
    assert!(p.to_json_pretty().contains("\"4:7.4.7-1+deb12u14\""));
}

#[test]
fn open_errors() {
    let err = LibreOfficeHelp::open(&fixture_root(), &["fr"]).unwrap_err();
    assert!(matches!(err, DataError::MissingLanguage { .. }));
    assert!(
        err.to_string().contains("available: de, en-US, zh-CN"),
        "{err}"
    );
    let err = LibreOfficeHelp::open(&fixture_root(), &["zh", "zh-CN"]).unwrap_err();
    assert!(matches!(err, DataError::DuplicateLanguage { .. }), "{err}");
    let err = LibreOfficeHelp::open(&fixture_root(), &["en-US"]).unwrap_err();
    assert!(err.to_string().contains("English"), "{err}");
    let err = LibreOfficeHelp::open(Path::new(&manifest_dir()), &["de"]).unwrap_err();
    assert!(matches!(err, DataError::NoHelp { .. }), "{err}");
    // The help directory itself works too, and codes are case-insensitive.
    let help = LibreOfficeHelp::open(
        &fixture_root().join("usr/share/libreoffice/help"),
        &["ZH-cn", "DE"],
    )
    .unwrap();
    assert_eq!(help.languages(), ["zh-CN", "de"]);
    let bad = SelectOptions {
        min_doc_chars: 50,
        max_doc_chars: 10,
        ..SelectOptions::default()
    };
    assert!(matches!(
        help.select(&bad),
        Err(DataError::InvalidOption(_))
    ));
    let none = SelectOptions {
        total: 0,
        ..SelectOptions::default()
    };
    assert!(help.select(&none).is_err());
}

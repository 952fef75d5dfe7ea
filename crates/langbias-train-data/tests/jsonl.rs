//! The JSONL format, validation and epoch order.

use std::collections::HashSet;

use langbias_train_data::{
    DataError, Sample, count_by_lang, epoch_order, is_english, normalize_whitespace, parse_jsonl,
    read_jsonl, read_jsonl_path, validate, write_jsonl, write_jsonl_path,
};

const LINE_DE: &str = r#"{"lang": "de", "query_en": "What is a frame?", "query_l": "Was ist ein Rahmen?", "doc_en": "A frame holds text.", "doc_l": "Ein Rahmen enthält Text.", "id": "s1"}"#;
const LINE_ZH: &str = r#"{"lang": "zh", "query_en": "Q", "query_l": "问", "doc_en": "D", "doc_l": "文", "source": "test"}"#;

fn sample(lang: &str, id: Option<&str>) -> Sample {
    Sample {
        lang: lang.into(),
        query_en: "q".into(),
        query_l: "ql".into(),
        doc_en: "d".into(),
        doc_l: "dl".into(),
        id: id.map(Into::into),
        source: None,
    }
}

#[test]
fn reads_lines_and_skips_blank_ones() {
    let text = format!("\u{feff}{LINE_DE}\n\n   \r\n{LINE_ZH}\r\n");
    let samples = parse_jsonl(&text, "train.jsonl").unwrap();
    assert_eq!(samples.len(), 2);
    assert_eq!(samples[0].doc_l, "Ein Rahmen enthält Text.");
    assert_eq!(samples[0].id.as_deref(), Some("s1"));
    assert_eq!(samples[0].source, None);
    assert_eq!(samples[1].source.as_deref(), Some("test"));
    let from_reader = read_jsonl(text.as_bytes(), "train.jsonl").unwrap();
    assert_eq!(from_reader, samples);
    assert_eq!(
        count_by_lang(&samples).into_iter().collect::<Vec<_>>(),
        [("de".to_owned(), 1), ("zh".to_owned(), 1)]
    );
}

#[test]
fn malformed_json_reports_file_and_line() {
    let text = format!("{LINE_DE}\n\n{{\"lang\": \"de\", \"query_en\": }}\n{LINE_ZH}\n");
    for result in [
        parse_jsonl(&text, "data/train.jsonl"),
        read_jsonl(text.as_bytes(), "data/train.jsonl"),
    ] {
        match result {
            Err(DataError::Json {
                file, line, column, ..
            }) => {
                assert_eq!(file, "data/train.jsonl");
                assert_eq!(line, 3);
                assert!(column > 20, "{column}");
            }
            other => panic!("unexpected {other:?}"),
        }
    }
    let err = parse_jsonl("[1, 2]\n", "x.jsonl").unwrap_err();
    assert!(
        err.to_string()
            .starts_with("x.jsonl:1: invalid sample JSON"),
        "{err}"
    );
    // A misspelt field is caught, not ignored.
    let typo = LINE_DE.replace("\"query_l\"", "\"query_de\"");
    let err = parse_jsonl(&typo, "x.jsonl").unwrap_err();
    assert!(
        err.to_string().contains("unknown field `query_de`"),
        "{err}"
    );
}

#[test]
fn missing_and_empty_fields_report_line() {
    let missing = LINE_ZH.replace(r#""doc_en": "D", "#, "");
    let text = format!("{LINE_DE}\n{missing}\n");
    let err = parse_jsonl(&text, "t.jsonl").unwrap_err();
    assert!(
        matches!(
            err,
            DataError::MissingField {
                line: 2,
                field: "doc_en",
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "t.jsonl:2: missing field `doc_en`");
    let empty = LINE_ZH.replace(r#""query_l": "问""#, r#""query_l": "  ""#);
    let err = parse_jsonl(&format!("\n{empty}"), "t.jsonl").unwrap_err();
    assert_eq!(err.to_string(), "t.jsonl:2: field `query_l` is empty");
    let null_lang = LINE_ZH.replace(r#""lang": "zh""#, r#""lang": null"#);
    let err = parse_jsonl(&null_lang, "t.jsonl").unwrap_err();
    assert_eq!(err.to_string(), "t.jsonl:1: missing field `lang`");
    let empty_id = LINE_DE.replace(r#""id": "s1""#, r#""id": """#);
    let err = parse_jsonl(&empty_id, "t.jsonl").unwrap_err();
    assert_eq!(err.to_string(), "t.jsonl:1: field `id` is empty");
}

#[test]
fn invalid_utf8_is_an_error_not_a_panic() {
    let mut bytes = LINE_DE.as_bytes().to_vec();
    bytes.extend_from_slice(b"\n{\"lang\": \"\xff\"}\n");
    let err = read_jsonl(bytes.as_slice(), "bad.jsonl").unwrap_err();
    assert!(
        err.to_string().starts_with("cannot read bad.jsonl:2"),
        "{err}"
    );
}

#[test]
fn validate_rejects_empty_english_and_duplicates() {
    let err = validate(&[]).unwrap_err();
    assert!(matches!(err, DataError::NoSamples { .. }));
    let err = validate(&[sample("de", None), sample("en", Some("x"))]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sample 1 (x): lang \"en\" is English; `lang` names the non-English side of the pair"
    );
    assert!(matches!(
        validate(&[sample("en-GB", None)]),
        Err(DataError::EnglishSample { index: 0, .. })
    ));
    let mut blank = sample("de", None);
    blank.doc_l = " ".into();
    assert_eq!(
        validate(&[blank]).unwrap_err().to_string(),
        "sample 0 (#0): field `doc_l` is empty"
    );
    let err = validate(&[sample("de", Some("a")), sample("ja", Some("a"))]).unwrap_err();
    assert!(matches!(
        err,
        DataError::DuplicateId {
            first: 0,
            second: 1,
            ..
        }
    ));
    // One non-English language only is fine.
    validate(&[sample("de", Some("a")), sample("de", Some("b"))]).unwrap();
    assert!(is_english("EN_us") && !is_english("eng") && !is_english("de"));
}

#[test]
fn write_then_read_round_trips_and_normalises() {
    let mut s = sample("ko", Some("k1"));
    s.doc_l = " 두 줄\n\t문서 ".into();
    let mut buf = Vec::new();
    write_jsonl(&mut buf, std::slice::from_ref(&s)).unwrap();
    let text = String::from_utf8(buf).unwrap();
    assert!(!text.contains("source"), "None fields are skipped: {text}");
    assert_eq!(text.lines().count(), 1);
    let back = parse_jsonl(&text, "m").unwrap();
    assert_eq!(back, [s.clone()]);
    assert_eq!(back[0].normalized().doc_l, "두 줄 문서");
    assert_eq!(normalize_whitespace("a\u{a0} b\n"), "a b");

    let dir = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("jsonl-roundtrip");
    let path = dir.join("sub/train.jsonl");
    write_jsonl_path(&path, &back).unwrap();
    assert_eq!(read_jsonl_path(&path).unwrap(), back);
    let err = read_jsonl_path(dir.join("missing.jsonl")).unwrap_err();
    assert!(err.to_string().contains("missing.jsonl"), "{err}");
}

#[test]
fn epoch_order_is_a_deterministic_permutation() {
    let a = epoch_order(1000, 7, 0);
    assert_eq!(a, epoch_order(1000, 7, 0));
    let set: HashSet<usize> = a.iter().copied().collect();
    assert_eq!(set.len(), 1000);
    assert!(set.iter().all(|&i| i < 1000));
    assert_ne!(a, epoch_order(1000, 7, 1), "epochs differ");
    assert_ne!(a, epoch_order(1000, 8, 0), "seeds differ");
    assert_ne!(a, (0..1000).collect::<Vec<_>>());
    assert!(epoch_order(0, 1, 1).is_empty());
    assert_eq!(epoch_order(1, 1, 1), [0]);
    // Fixed values: the order must not change between versions or platforms.
    assert_eq!(epoch_order(8, 0, 0), epoch_order(8, 0, 0));
}

#[test]
fn an_endless_line_is_an_error_naming_file_and_line() {
    // `/dev/zero` or a binary file: no newline ever comes.
    let endless = std::io::BufReader::new(std::io::repeat(0));
    match read_jsonl(endless, "/dev/zero") {
        Err(e @ DataError::LineTooLong { line: 1, .. }) => {
            assert!(
                e.to_string().starts_with("/dev/zero:1: line longer than"),
                "{e}"
            )
        }
        other => panic!("unexpected {other:?}"),
    }
    let mut bytes = format!("{LINE_DE}\n").into_bytes();
    bytes.extend([0xff, 0xfe, b'\n']);
    let err = read_jsonl(&bytes[..], "t.jsonl").unwrap_err().to_string();
    assert!(err.contains("t.jsonl:2") && err.contains("UTF-8"), "{err}");
}

/// Bounded mutation fuzzing of the JSONL reader: never a panic; what it accepts has every
/// required field non-empty.
#[test]
fn fuzzed_jsonl_never_panics() {
    let seed = format!("{LINE_DE}\n{LINE_ZH}\n").into_bytes();
    let mut m = langbias_assets::test_util::Mutator::new(16);
    for _ in 0..3000 {
        let input = m.mutate(&seed, 0);
        let result = std::panic::catch_unwind(|| read_jsonl(&input[..], "fuzz.jsonl"));
        let Ok(result) = result else {
            panic!(
                "read_jsonl panicked on {:?}",
                String::from_utf8_lossy(&input)
            );
        };
        if let Ok(samples) = result {
            for s in &samples {
                for v in [&s.lang, &s.query_en, &s.query_l, &s.doc_en, &s.doc_l] {
                    assert!(!v.trim().is_empty(), "accepted an empty field: {s:?}");
                }
            }
        }
    }
}

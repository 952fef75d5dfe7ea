//! `langbias embed`: texts (arguments, or a file with one text per line) embedded through the
//! embedding cache, written as JSON (with token and window counts) or as a `.npy` matrix.
//!
//! Passages of a model whose adapter declares document centring and stores document means
//! are centred on their language's stored mean and renormalised (inductive centring,
//! [`langbias_eval::Debias::Centre`] with the adapter's means): the vectors that model is meant
//! to be ranked with, one document at a time. `--centre` does it for any adapter with means,
//! such as `aligned`, which declares z-scores (a ranking step: by default its vectors are
//! written as they are). The language is `--lang`, or guessed per text among the adapter's
//! languages ([`langbias_eval::lang_id`]); an unsure guess is an error that asks for `--lang`.

use std::io::BufRead;
use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use clap::ValueEnum;
use langbias_assets::atomic::write_atomic;
use langbias_encoder::{BackendKind, TextKind};
use langbias_eval::lines::{CappedLine, read_capped_line};

use crate::cache::{EmbeddingCache, LongText};
use crate::models::{Centre, LoadedModel};
use crate::{BACKEND_HELP, TokenBar, models};

#[derive(Clone, Copy, ValueEnum)]
enum Format {
    Json,
    Npy,
}

#[derive(clap::Args)]
pub struct EmbedArgs {
    /// Texts to embed (or use --file).
    texts: Vec<String>,
    /// File with one text per line (`-` for standard input), after the argument texts. Every
    /// line is one text, empty lines included, so row i of the output is text i.
    #[arg(long, short)]
    file: Option<PathBuf>,
    /// The longest line --file may hold, in bytes (a file without line breaks is an error, not
    /// an endless read).
    #[arg(long, default_value_t = 8 << 20, value_parser = clap::value_parser!(u64).range(1..))]
    max_line_bytes: u64,
    /// `query` or `passage` (the e5 prefix).
    #[arg(long, default_value = "query")]
    kind: KindArg,
    /// Model: `base`, `aligned`, an adapter `.safetensors`, an E5S1 `.bin` or a Hugging Face dir.
    #[arg(long, default_value = "base")]
    model: String,
    /// Base model for adapters (default: the one `cargo xtask setup` prepared).
    #[arg(long)]
    base_model: Option<PathBuf>,
    #[arg(long, default_value = "cpu", help = BACKEND_HELP)]
    backend: BackendKind,
    /// Output format.
    #[arg(long, default_value = "json")]
    format: Format,
    /// Output file (default: standard output; required for npy). Written to a temporary file
    /// and renamed, so a failed run leaves an earlier file intact.
    #[arg(long, short)]
    out: Option<PathBuf>,
    /// Do not add the e5 `query: `/`passage: ` prefixes (for non-e5 Hugging Face models).
    #[arg(long)]
    no_prefix: bool,
    /// Texts longer than the model's 512 tokens: `truncate` keeps the start, as Hugging Face
    /// does; `window` covers the whole text with overlapping windows and averages them.
    #[arg(long, default_value = "truncate")]
    long_text: LongTextArg,
    /// Text tokens that consecutive windows share (`--long-text window`).
    #[arg(long, default_value_t = 128)]
    overlap: usize,
    /// Embedding cache directory (default: `~/.cache/langbias/embeddings`); finished chunks are
    /// kept there, so an interrupted run resumes.
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,
    /// Centre passages on their language's mean stored in the model's adapter: `auto` (the
    /// default) when the adapter declares document centring and stores means, `on`
    /// (`--centre` alone) for any adapter that stores means, `off` never. Queries are never
    /// centred (the model card's variant centres documents only).
    #[arg(long, value_enum, default_value = "auto", num_args = 0..=1, default_missing_value = "on")]
    centre: Centre,
    /// The passages' language when centred (one code for all), or `auto`: guessed per text
    /// among the languages the adapter stores means for.
    #[arg(long, default_value = "auto")]
    lang: String,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum LongTextArg {
    Truncate,
    Window,
}

#[derive(Clone, Copy, ValueEnum)]
enum KindArg {
    Query,
    Passage,
}

impl From<KindArg> for TextKind {
    fn from(k: KindArg) -> Self {
        match k {
            KindArg::Query => TextKind::Query,
            KindArg::Passage => TextKind::Passage,
        }
    }
}

/// One text per line of `reader` (`name` in errors; a final `\r` is dropped); a line longer
/// than `max` bytes or not UTF-8 is an error naming the line.
fn read_lines(reader: &mut dyn BufRead, name: &str, max: u64) -> Result<Vec<String>> {
    let mut texts = Vec::new();
    let mut buf = Vec::new();
    for n in 1.. {
        let read = read_capped_line(reader, &mut buf, usize::try_from(max).unwrap_or(usize::MAX))
            .with_context(|| format!("reading {name} line {n}"))?;
        match read {
            CappedLine::End => break,
            CappedLine::TooLong => bail!(
                "{name} line {n}: longer than {max} bytes (--max-line-bytes); --file takes \
                 one text per line"
            ),
            CappedLine::Line => {}
        }
        let text = String::from_utf8(std::mem::take(&mut buf)).map_err(|e| {
            anyhow::anyhow!(
                "{name} line {n}: not UTF-8 text (invalid byte at column {})",
                e.utf8_error().valid_up_to() + 1
            )
        })?;
        texts.push(text);
    }
    Ok(texts)
}

pub fn run(args: EmbedArgs) -> Result<()> {
    let mut texts = args.texts.clone();
    if let Some(file) = &args.file {
        let name = file.display().to_string();
        let mut reader: Box<dyn BufRead> = if file.as_os_str() == "-" {
            Box::new(std::io::stdin().lock())
        } else {
            Box::new(std::io::BufReader::new(
                std::fs::File::open(file).with_context(|| format!("opening {name}"))?,
            ))
        };
        texts.extend(read_lines(&mut reader, &name, args.max_line_bytes)?);
    }
    if texts.is_empty() {
        bail!("nothing to embed: give texts as arguments or --file");
    }
    if matches!(args.format, Format::Npy) && args.out.is_none() {
        bail!("--format npy needs --out FILE");
    }
    let spec = models::ModelSpec::parse(&args.model)?;
    let mut models = models::Models::new(args.backend, args.base_model.clone(), !args.no_prefix)?;
    let model = models.load(&spec)?;
    let encoder = &model.encoder;
    let kind = TextKind::from(args.kind);
    let long_text = match args.long_text {
        LongTextArg::Truncate => LongText::Truncate,
        LongTextArg::Window => LongText::Window {
            overlap: args.overlap,
        },
    };
    let dir = crate::cache_dir(args.no_cache, args.cache_dir.as_deref());
    let mut cache = EmbeddingCache::open(dir.as_deref(), model.cache_key(long_text))?;
    let refs: Vec<&str> = texts.iter().map(String::as_str).collect();
    let bar = TokenBar::new("embedding");
    let centring = centring_for(&model, &args, kind)?;
    let mut rows = cache.embed(encoder, kind, &refs, &mut |d, t| bar.update(d, t))?;
    drop(bar);
    eprintln!(
        "embedded {} texts: {} encoded, the others from the cache",
        texts.len(),
        cache.encoded
    );
    let dim = encoder.dim();
    let langs = match centring {
        Some(means) => Some(centre_rows(&mut rows, &texts, means, &args.lang)?),
        None => None,
    };
    let bytes = match args.format {
        Format::Json => {
            // Per text: the tokens the model reads (all windows' when windowed) and the window count.
            let sizes: Vec<(usize, usize)> = match long_text {
                LongText::Truncate => encoder
                    .tokenize(kind, &texts)?
                    .iter()
                    .map(|i| (i.len(), 1))
                    .collect(),
                LongText::Window { overlap } => encoder
                    .tokenize_windows(kind, &texts, overlap)?
                    .iter()
                    .map(|w| (w.iter().map(|(ids, _)| ids.len()).sum(), w.len()))
                    .collect(),
            };
            let rows: Vec<serde_json::Value> = texts
                .iter()
                .zip(&rows)
                .zip(&sizes)
                .enumerate()
                .map(|(i, ((t, e), &(tokens, windows)))| {
                    let mut row = serde_json::json!({"text": t, "tokens": tokens, "windows": windows, "embedding": e});
                    if let Some(langs) = &langs {
                        row["lang"] = langs[i].clone().into();
                    }
                    row
                })
                .collect();
            let mut s = serde_json::to_string_pretty(&serde_json::json!({
                "model": args.model, "backend": args.backend, "kind": kind, "dim": dim,
                "centred": langs.is_some(), "embeddings": rows,
            }))?;
            s.push('\n');
            s.into_bytes()
        }
        Format::Npy => npy_f32(&rows.concat(), rows.len(), dim),
    };
    match &args.out {
        Some(path) => write_atomic(path, bytes)?,
        None => crate::print_stdout(&bytes)?,
    }
    Ok(())
}

/// The stored means to centre with, after `--centre` and `--kind` (`None`: no centring).
fn centring_for<'m>(
    model: &'m LoadedModel,
    args: &EmbedArgs,
    kind: TextKind,
) -> Result<Option<&'m langbias_eval::LanguageMeans>> {
    let ranking_step = matches!(
        model.centring,
        langbias_assets::Centring::ZScore | langbias_assets::Centring::Routed
    );
    if ranking_step && args.centre == Centre::Auto && kind == TextKind::Passage {
        eprintln!(
            "note: `{}` is meant to be ranked with each query's scores standardised per \
             document language ({}; `langbias rank`/`eval` do it); these vectors are as the \
             model gives them",
            args.model,
            if model.centring == langbias_assets::Centring::Routed {
                "the query's own language scored by the base model"
            } else {
                "z-scores"
            }
        );
    }
    let declared = model.centring == langbias_assets::Centring::Documents;
    match (args.centre, &model.document_means) {
        (Centre::Off, _) => Ok(None),
        (Centre::Auto, _) if !declared || kind == TextKind::Query => Ok(None),
        (Centre::On, _) if kind == TextKind::Query => bail!(
            "--centre: centring applies to passages (`--kind passage`); queries are ranked as \
             they are"
        ),
        (_, Some(means)) => Ok(Some(means)),
        (Centre::Auto, None) => {
            eprintln!(
                "note: `{}` is meant to be ranked with its documents centred, but its adapter \
                 stores no language means, so these vectors are not centred (centring needs a \
                 pool: `langbias rank`/`eval`; `langbias fit --into-adapter` stores means)",
                args.model
            );
            Ok(None)
        }
        (Centre::On, None) => bail!(
            "--centre: `{}` stores no document means (an adapter gets them from `langbias fit \
             --into-adapter`)",
            args.model
        ),
    }
}

/// Centres `rows` in place on their languages' means: `lang` for all, or (`auto`) each text's
/// guessed language among the means'. Returns the languages used.
fn centre_rows(
    rows: &mut [Vec<f32>],
    texts: &[String],
    means: &langbias_eval::LanguageMeans,
    lang: &str,
) -> Result<Vec<String>> {
    let known: Vec<&str> = means.documents.keys().map(String::as_str).collect();
    let langs: Vec<String> = if lang == "auto" {
        texts
            .iter()
            .enumerate()
            .map(|(i, text)| match langbias_eval::lang_id::guess(text, &known) {
                Some(g) if g.reliable() => Ok(g.lang),
                guess => bail!(
                    "text {}: cannot tell its language for centring ({}); give --lang (one of: {})",
                    i + 1,
                    guess.map_or("no guess".to_owned(), |g| format!(
                        "`{}` at confidence {:.2}",
                        g.lang, g.confidence
                    )),
                    known.join(", ")
                ),
            })
            .collect::<Result<_>>()?
    } else {
        vec![lang.to_owned(); texts.len()]
    };
    let dim = means.dim;
    let mut flat = rows.concat();
    langbias_eval::Debias::Centre
        .apply(
            dim,
            langbias_eval::Rows::new(&mut flat, &langs),
            langbias_eval::Rows::new(&mut [], &[] as &[String]),
            langbias_eval::Fitted {
                means: Some(means),
                maps: None,
            },
        )
        .context("--centre: centring on the adapter's stored document means")?;
    for (row, centred) in rows.iter_mut().zip(flat.chunks_exact(dim)) {
        row.copy_from_slice(centred);
    }
    Ok(langs)
}

/// A NumPy `.npy` (format 1.0) file holding a little-endian f32 matrix `[rows, cols]`.
fn npy_f32(data: &[f32], rows: usize, cols: usize) -> Vec<u8> {
    let mut header =
        format!("{{'descr': '<f4', 'fortran_order': False, 'shape': ({rows}, {cols}), }}");
    // Magic (6) + version (2) + length (2) + header + '\n' must be a multiple of 64.
    while (10 + header.len() + 1) % 64 != 0 {
        header.push(' ');
    }
    header.push('\n');
    let mut out = b"\x93NUMPY\x01\x00".to_vec();
    out.extend((header.len() as u16).to_le_bytes());
    out.extend(header.as_bytes());
    out.extend(data.iter().flat_map(|x| x.to_le_bytes()));
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn every_line_is_a_text() {
        let mut input: &[u8] = b"one\r\n\ntwo\nlast";
        let lines = super::read_lines(&mut input, "in", 16).unwrap();
        assert_eq!(lines, ["one", "", "two", "last"]);
        // A line of exactly the limit passes, one byte more does not.
        let mut input: &[u8] = b"12345678\r\n123456789\n";
        let err = super::read_lines(&mut input, "in", 8)
            .unwrap_err()
            .to_string();
        assert!(err.contains("in line 2: longer than 8 bytes"), "{err}");
    }

    #[test]
    fn npy_header_is_aligned() {
        let bytes = super::npy_f32(&[1.0, 2.0], 1, 2);
        let header_len = u16::from_le_bytes([bytes[8], bytes[9]]) as usize;
        assert_eq!((10 + header_len) % 64, 0);
        assert_eq!(bytes.len(), 10 + header_len + 8);
    }
}

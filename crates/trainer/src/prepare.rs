//! `trainer prepare`: builds the training JSONL and its provenance (`<out>` with the extension
//! `provenance.json`, see [`langbias_train_data::provenance_path`]).
//!
//! Sources:
//!
//! - `--source libreoffice` (default): the human-translated LibreOffice help. Downloads the
//!   Debian packages `libreoffice-help-en-us` and `libreoffice-help-<lang>` with
//!   `apt-get download` into `<cache>/libreoffice-help/debs/` (skipped when a `.deb` of the
//!   package is already there), records each package's version (`dpkg-deb -f`) and sha256,
//!   extracts them with `dpkg-deb -x` into `<cache>/libreoffice-help/root/` and builds
//!   heading → paragraph samples ([`langbias_train_data::libreoffice`]). `--help-root DIR`
//!   uses already extracted packages instead (no apt-get/dpkg-deb needed).
//! - `--source xquad --xquad-dir DIR --train-fraction F` (or `--articles dev`: the
//!   evaluator's development half): XQuAD-format files, split by article; the provenance lists
//!   the held-out articles, the only ones to evaluate on.
//! - `--source jsonl --input FILE`: checks a JSONL file of samples, normalises whitespace and
//!   writes it with a provenance.
//!
//! `<cache>` is the project cache, [`langbias_assets::hf_dir::cache_dir`] (`$LANGBIAS_CACHE`,
//! else `~/.cache/langbias`).

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use langbias_assets::atomic::Staged;
use langbias_assets::hf_dir;
use langbias_train_data::libreoffice::{self, LibreOfficeHelp, SelectOptions};
use langbias_train_data::xquad::{self, Articles, Split, XquadOptions};
use langbias_train_data::{
    PackageInfo, Provenance, Sample, count_by_lang, provenance_path, read_jsonl_path, validate,
    write_jsonl,
};
use sha2::{Digest, Sha256};

/// Where the samples come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Source {
    /// LibreOffice help pages (Debian packages, MPL-2.0).
    Libreoffice,
    /// XQuAD-format files, split by article.
    Xquad,
    /// A JSONL file of samples.
    Jsonl,
}

impl Source {
    fn name(self) -> &'static str {
        match self {
            Source::Libreoffice => "libreoffice",
            Source::Xquad => "xquad",
            Source::Jsonl => "jsonl",
        }
    }
}

/// Options of `trainer prepare`.
#[derive(clap::Args, Debug)]
pub struct PrepareArgs {
    /// Where the samples come from.
    #[arg(long, value_enum, default_value_t = Source::Libreoffice)]
    pub source: Source,
    /// Target languages, comma-separated. libreoffice: help codes (`zh` = `zh-CN`)
    /// [default: de,es,zh-CN,ru,ja,ko,fr]; xquad: file codes [default: every non-English file].
    #[arg(long, value_delimiter = ',')]
    pub langs: Vec<String>,
    /// libreoffice: samples over all languages, spread evenly.
    #[arg(long, default_value_t = 2800)]
    pub samples: usize,
    /// libreoffice: samples per language (instead of --samples).
    #[arg(long)]
    pub per_lang: Option<usize>,
    /// libreoffice: minimum characters of an English document.
    #[arg(long, default_value_t = 40)]
    pub min_doc_chars: usize,
    /// libreoffice: maximum characters of an English document.
    #[arg(long, default_value_t = 1000)]
    pub max_doc_chars: usize,
    /// Seed of the selection (libreoffice) or of the article split (xquad).
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output JSONL [default: <cache>/train/<source>.jsonl; jsonl: <cache>/train/<input name>].
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// libreoffice: directory the packages were extracted into (holding
    /// usr/share/libreoffice/help), instead of downloading them.
    #[arg(long)]
    pub help_root: Option<PathBuf>,
    /// libreoffice: download and extract the packages again even if they are cached.
    #[arg(long)]
    pub refresh: bool,
    /// xquad: directory with xquad.<lang>.json [default: $LANGBIAS_XQUAD_DIR, else
    /// ../shared/data/xquad].
    #[arg(long)]
    pub xquad_dir: Option<PathBuf>,
    /// xquad: fraction of the articles used for training (the rest is held out).
    #[arg(long, default_value_t = 0.5, conflicts_with = "articles")]
    pub train_fraction: f64,
    /// xquad: train on one part of `langbias eval`'s fixed split instead of a random
    /// fraction: `dev` (even articles; then report with `eval --split test`), `test`, or
    /// `dev-train` (articles 0, 4, 8, …; choose with `eval --split dev-val`, report with
    /// `--split test`).
    #[arg(long)]
    pub articles: Option<Split>,
    /// xquad: at most this many questions per paragraph [default: all].
    #[arg(long)]
    pub questions_per_paragraph: Option<usize>,
    /// jsonl: the file to check and normalise.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// jsonl: licence of the texts, recorded in the provenance.
    #[arg(long, default_value = "unknown")]
    pub license: String,
}

/// Runs `trainer prepare`.
pub fn run(args: &PrepareArgs) -> Result<()> {
    let start = Instant::now();
    let out = match &args.out {
        Some(p) => p.clone(),
        None => {
            // jsonl: the input's name; otherwise the source's name.
            let stem = match (&args.input, args.source) {
                (Some(input), Source::Jsonl) => input
                    .file_stem()
                    .map_or_else(|| "input".to_owned(), |s| s.to_string_lossy().into_owned()),
                _ => args.source.name().to_owned(),
            };
            hf_dir::cache_dir()
                .join("train")
                .join(format!("{stem}.jsonl"))
        }
    };
    if let Some(input) = &args.input
        && same_file(input, &out)
    {
        bail!(
            "the output {} is the input; pass another --out",
            out.display()
        );
    }
    if args.source != Source::Jsonl && args.input.is_some() {
        bail!("--input is only used with --source jsonl");
    }
    if args.source != Source::Xquad && args.xquad_dir.is_some() {
        bail!("--xquad-dir is only used with --source xquad");
    }
    // Fail before the long part if the output cannot be written.
    check_writable(&out)?;
    let (provenance, prov_path, n) = build_and_write(args, &out)?;

    print_summary(&provenance);
    println!(
        "wrote {n} samples to {} and {} ({:.1} s)",
        out.display(),
        prov_path.display(),
        start.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Builds the samples and writes them to `out` with their provenance, the two staged and
/// committed together (an interruption leaves the old pair); returns the provenance, its
/// path and the number of samples.
fn build_and_write(args: &PrepareArgs, out: &Path) -> Result<(Provenance, PathBuf, usize)> {
    let (samples, mut provenance) = match args.source {
        Source::Libreoffice => prepare_libreoffice(args)?,
        Source::Xquad => prepare_xquad(args)?,
        Source::Jsonl => prepare_jsonl(args)?,
    };
    validate(&samples).context("the prepared samples are invalid")?;
    let bytes = jsonl_bytes(&samples)?;
    provenance.output_sha256 = Some(hex(&Sha256::digest(&bytes)));
    let prov_path = provenance_path(out);
    let mut staged = Staged::new();
    staged.add(out, &bytes)?;
    staged.add(&prov_path, provenance.to_json_pretty())?;
    staged.commit()?;
    Ok((provenance, prov_path, samples.len()))
}

fn same_file(a: &Path, b: &Path) -> bool {
    match (a.canonicalize(), b.canonicalize()) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Creates `path`'s directory and checks that a file can be written there (a temporary one,
/// removed again) and that `path` itself is not a directory.
fn check_writable(path: &Path) -> Result<()> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the output directory {}", parent.display()))?;
    }
    if path.is_dir() {
        bail!("the output {} is a directory; pass a file", path.display());
    }
    Staged::new()
        .add(path, b"")
        .with_context(|| format!("cannot write the output {}", path.display()))
}

fn jsonl_bytes(samples: &[Sample]) -> Result<Vec<u8>> {
    let mut buf = Vec::new();
    write_jsonl(&mut buf, samples).context("serialising the samples")?;
    Ok(buf)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn sha256_file(path: &Path) -> Result<String> {
    let bytes = std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
    Ok(hex(&Sha256::digest(&bytes)))
}

fn print_summary(p: &Provenance) {
    println!("{} samples from {} ({}):", p.total, p.source, p.license);
    println!(
        "{:<8} {:>9} {:>10} {:>9} {:>9}",
        "lang", "aligned", "available", "requested", "selected"
    );
    let opt = |v: Option<usize>| v.map_or_else(|| "-".to_owned(), |v| v.to_string());
    for (lang, c) in &p.languages {
        println!(
            "{:<8} {:>9} {:>10} {:>9} {:>9}",
            lang,
            opt(c.aligned),
            opt(c.available),
            opt(c.requested),
            c.selected
        );
    }
    if let Some(held) = &p.heldout_articles {
        println!(
            "XQuAD: trained on articles {:?}; evaluate only on the {} held-out articles {:?}",
            p.train_articles.as_deref().unwrap_or_default(),
            held.len(),
            held
        );
    }
}

// ---------------------------------------------------------------- libreoffice

/// Runs a tool, with a clear error when it is missing or fails; returns its stdout.
fn tool(program: &str, args: &[&OsStr], dir: Option<&Path>, hint: &str) -> Result<String> {
    let mut cmd = Command::new(program);
    cmd.args(args);
    if let Some(dir) = dir {
        cmd.current_dir(dir);
    }
    let shown = format!(
        "{program} {}",
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join(" ")
    );
    let output = match cmd.output() {
        Ok(o) => o,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => bail!(
            "`{program}` was not found: the LibreOffice source needs Debian's apt-get and \
             dpkg-deb. Elsewhere, extract the libreoffice-help packages yourself and pass \
             --help-root DIR, or use --source jsonl / --source xquad"
        ),
        Err(e) => return Err(e).with_context(|| format!("cannot run `{shown}`")),
    };
    if !output.status.success() {
        bail!(
            "`{shown}` failed ({}): {}{hint}",
            output.status,
            String::from_utf8_lossy(&output.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&output.stdout).into_owned())
}

/// The cached `.deb` files of `package` (`<package>_<version>_<arch>.deb`), newest first.
fn cached_debs(dir: &Path, package: &str) -> Result<Vec<PathBuf>> {
    let prefix = format!("{package}_");
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).with_context(|| format!("cannot read {}", dir.display()))? {
        let entry = entry.with_context(|| format!("cannot read {}", dir.display()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if name.starts_with(&prefix) && name.ends_with(".deb") {
            let modified = entry.metadata().and_then(|m| m.modified()).ok();
            found.push((modified, entry.path()));
        }
    }
    found.sort();
    Ok(found.into_iter().rev().map(|(_, p)| p).collect())
}

/// Downloads the missing packages; returns `(package, deb path)` in the order given.
fn download_packages(
    dir: &Path,
    packages: &[String],
    refresh: bool,
) -> Result<Vec<(String, PathBuf)>> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    if refresh {
        for p in packages {
            for deb in cached_debs(dir, p)? {
                std::fs::remove_file(&deb)
                    .with_context(|| format!("cannot remove {}", deb.display()))?;
            }
        }
    }
    let mut missing = Vec::new();
    for p in packages {
        if cached_debs(dir, p)?.is_empty() {
            missing.push(p.as_str());
        }
    }
    if !missing.is_empty() {
        eprintln!("downloading {} with apt-get …", missing.join(", "));
        let mut args: Vec<&OsStr> = vec![OsStr::new("download")];
        args.extend(missing.iter().map(OsStr::new));
        tool(
            "apt-get",
            &args,
            Some(dir),
            "\n(the packages must be known to apt: run `apt-get update` first; package names are \
             libreoffice-help-<lang> with a lower-case code, e.g. libreoffice-help-zh-cn)",
        )?;
    } else {
        eprintln!("using the cached packages in {}", dir.display());
    }
    packages
        .iter()
        .map(|p| {
            let deb = cached_debs(dir, p)?
                .into_iter()
                .next()
                .with_context(|| format!("apt-get did not download {p} into {}", dir.display()))?;
            Ok((p.clone(), deb))
        })
        .collect()
}

fn prepare_libreoffice(args: &PrepareArgs) -> Result<(Vec<Sample>, Provenance)> {
    let langs: Vec<String> = if args.langs.is_empty() {
        libreoffice::DEFAULT_LANGS
            .iter()
            .map(|s| (*s).to_owned())
            .collect()
    } else {
        args.langs.iter().map(|s| s.trim().to_owned()).collect()
    };
    let mut packages_info = Vec::new();
    let root = match &args.help_root {
        Some(root) => root.clone(),
        None => {
            let base = hf_dir::cache_dir().join("libreoffice-help");
            let packages: Vec<String> = std::iter::once(libreoffice::ENGLISH)
                .chain(langs.iter().map(String::as_str))
                .map(libreoffice::debian_package)
                .collect();
            let t = Instant::now();
            let debs = download_packages(&base.join("debs"), &packages, args.refresh)?;
            let root = base.join("root");
            if args.refresh && root.exists() {
                std::fs::remove_dir_all(&root)
                    .with_context(|| format!("cannot remove {}", root.display()))?;
            }
            std::fs::create_dir_all(&root)
                .with_context(|| format!("cannot create {}", root.display()))?;
            for (package, deb) in &debs {
                let field = |name: &str| -> Result<String> {
                    Ok(tool(
                        "dpkg-deb",
                        &[OsStr::new("-f"), deb.as_os_str(), OsStr::new(name)],
                        None,
                        "",
                    )?
                    .trim()
                    .to_owned())
                };
                let name = field("Package")?;
                if name != *package {
                    bail!(
                        "{} contains package {name:?}, not {package:?}",
                        deb.display()
                    );
                }
                let version = field("Version")?;
                let sha256 = sha256_file(deb)?;
                // One marker per .deb file (its name holds the version): extract once.
                let file_name = deb
                    .file_name()
                    .unwrap_or_default()
                    .to_string_lossy()
                    .into_owned();
                let marker = root.join(format!(".extracted.{file_name}.{}", &sha256[..16]));
                if !marker.exists() {
                    tool(
                        "dpkg-deb",
                        &[OsStr::new("-x"), deb.as_os_str(), root.as_os_str()],
                        None,
                        "",
                    )?;
                    std::fs::write(&marker, b"")
                        .with_context(|| format!("cannot write {}", marker.display()))?;
                }
                packages_info.push(PackageInfo {
                    name,
                    version,
                    sha256: Some(sha256),
                });
            }
            eprintln!(
                "packages ready in {:.1} s: {}",
                t.elapsed().as_secs_f64(),
                packages_info
                    .iter()
                    .map(|p| format!("{} {}", p.name, p.version))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            root
        }
    };

    let t = Instant::now();
    let help = LibreOfficeHelp::open(&root, &langs)?;
    eprintln!(
        "parsed {} English pages and {} languages ({}) in {:.1} s",
        help.english_pages(),
        help.languages().len(),
        help.languages().join(", "),
        t.elapsed().as_secs_f64()
    );
    let opts = SelectOptions {
        total: args.samples,
        per_lang: args.per_lang,
        min_doc_chars: args.min_doc_chars,
        max_doc_chars: args.max_doc_chars,
        seed: args.seed,
        ..SelectOptions::default()
    };
    let selection = help.select(&opts)?;
    eprintln!(
        "English: {} heading/paragraph pairs, {} after removing ambiguous and duplicate ones",
        selection.english.pairs, selection.english.candidates
    );
    for s in &selection.stats {
        if s.selected < s.requested {
            eprintln!(
                "warning: {} has only {} translated pairs left, {} requested",
                s.lang, s.selected, s.requested
            );
        }
    }
    let provenance = help.provenance(&selection, &opts, packages_info);
    Ok((selection.samples, provenance))
}

// ---------------------------------------------------------------- xquad

fn prepare_xquad(args: &PrepareArgs) -> Result<(Vec<Sample>, Provenance)> {
    let dir = match &args.xquad_dir {
        Some(d) => d.clone(),
        None => std::env::var_os("LANGBIAS_XQUAD_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("../shared/data/xquad")),
    };
    if !dir.is_dir() {
        bail!(
            "XQuAD directory {} not found: pass --xquad-dir DIR (with xquad.en.json and \
             xquad.<lang>.json) or set LANGBIAS_XQUAD_DIR",
            dir.display()
        );
    }
    let opts = XquadOptions {
        max_questions_per_paragraph: args.questions_per_paragraph,
    };
    let (articles, selection) = match args.articles {
        Some(half) => (Articles::Half(half), serde_json::json!({ "half": half })),
        None => (
            Articles::Random {
                train_fraction: args.train_fraction,
                seed: args.seed,
            },
            serde_json::json!({ "train_fraction": args.train_fraction, "seed": args.seed }),
        ),
    };
    let data = xquad::load_dir(&dir, &args.langs, articles, &opts)
        .with_context(|| format!("reading XQuAD from {}", dir.display()))?;
    let options = serde_json::json!({
        "xquad_dir": dir.display().to_string(),
        "languages": data.languages,
        "articles": selection,
        "max_questions_per_paragraph": args.questions_per_paragraph,
    });
    let mut p = Provenance::new(
        "xquad",
        "CC-BY-SA-4.0",
        "XQuAD questions and their paragraphs (English + L), training articles only; \
         evaluate only on heldout_articles",
        &data.samples,
        options,
    );
    p.train_articles = Some(data.split.train_articles.clone());
    p.heldout_articles = Some(data.split.heldout_articles.clone());
    Ok((data.samples, p))
}

// ---------------------------------------------------------------- jsonl

fn prepare_jsonl(args: &PrepareArgs) -> Result<(Vec<Sample>, Provenance)> {
    let Some(input) = &args.input else {
        bail!("--source jsonl needs --input FILE");
    };
    let samples: Vec<Sample> = read_jsonl_path(input)?
        .iter()
        .map(Sample::normalized)
        .collect();
    validate(&samples).with_context(|| format!("checking {}", input.display()))?;
    let options = serde_json::json!({
        "input": input.display().to_string(),
        "input_sha256": sha256_file(input)?,
        "normalised": "whitespace collapsed and trimmed",
    });
    let p = Provenance::new(
        "jsonl",
        args.license.clone(),
        "samples from a user's JSONL file, whitespace normalised",
        &samples,
        options,
    );
    let counts = count_by_lang(&samples);
    eprintln!(
        "{}: {} valid samples ({})",
        input.display(),
        samples.len(),
        counts
            .iter()
            .map(|(l, n)| format!("{l} {n}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    Ok((samples, p))
}

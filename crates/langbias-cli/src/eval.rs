//! `langbias eval`: scenarios × languages × models on XQuAD, BEIR or a langbias pool.

use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::rc::Rc;
use std::time::Instant;

use anyhow::{Context, Result, bail};
use langbias_assets::Centring;
use langbias_assets::atomic::Staged;
use langbias_encoder::{BackendKind, Precision, TextKind};
use langbias_eval::report::{self, Report, TableModel};
use langbias_eval::xquad::Split;
use langbias_eval::{
    Debias, ENGLISH, Fitted, LanguageMeans, MetricsConfig, Pool, ProcrustesMaps, Rows, Scenario,
    Summary, beir, ranking, routing, select_languages, xquad,
};

use crate::cache::{EmbeddingCache, LongText};
use crate::models::{LoadedModel, ModelSpec, Models};
use crate::{BACKEND_HELP, TokenBar};

/// Per scenario kind, `(target language, summary)` rows of one model.
type SummariesByKind = BTreeMap<String, Vec<(String, Summary)>>;

#[derive(clap::Args)]
pub struct EvalArgs {
    /// Data: an XQuAD directory (`xquad.<lang>.json`), a BEIR directory (`corpus.jsonl`,
    /// `queries.jsonl`, `qrels/`) or a langbias pool file (`.json`).
    #[arg(long, default_value = "../shared/data/xquad")]
    data: PathBuf,
    /// Target languages: `all` or a comma list (`de,es,zh`). English is always loaded.
    #[arg(long, default_value = "all")]
    langs: String,
    /// Scenarios, comma-separated: mix (L→{en,L}), mix-en (en→{en,L}), mono (L→L), xl (L→en),
    /// multi (L→{en, L, all other languages}), unpaired (L→{en,L} with one version per
    /// paragraph: each question's answer in one language only), or `all`.
    #[arg(long, default_value = "mix,mono")]
    scenarios: String,
    /// Model(s), repeatable: `base`, `aligned`, an adapter `.safetensors`, an E5S1 `.bin` or a
    /// Hugging Face directory; `name=spec` sets the name shown in tables.
    #[arg(long = "model", default_value = "base")]
    models: Vec<String>,
    /// Base model for adapters (default: the one `cargo xtask setup` prepared).
    #[arg(long)]
    base_model: Option<PathBuf>,
    #[arg(long, default_value = "cpu", help = BACKEND_HELP)]
    backend: BackendKind,
    /// The host engine's dense layers in `f32` (exact) or `int8` (faster in WebAssembly, not
    /// exact; `--backend cpu` only).
    #[arg(long, default_value = "f32")]
    precision: Precision,
    /// Output directory for TREC runs, qrels, report.json and report.csv. All files are
    /// written at the end, together: a failed run leaves the directory as it was.
    #[arg(long, default_value = "results")]
    out: PathBuf,
    /// Embedding cache directory (default: `~/.cache/langbias/embeddings`).
    #[arg(long)]
    cache_dir: Option<PathBuf>,
    /// Do not read or write the embedding cache.
    #[arg(long)]
    no_cache: bool,
    /// Cutoffs K for Complete@K, Recall@K (comma list).
    #[arg(long, default_value = "1,5,10")]
    k: String,
    /// Routing's cross-lingual feedback (`--debias routed`).
    #[command(flatten)]
    feedback: crate::FeedbackArgs,
    /// Depth of the TREC run files.
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..))]
    depth: u64,
    /// Evaluate only the first N queries of each language (quick runs).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_queries: Option<u64>,
    /// Language of a BEIR data set (BEIR has no language field).
    #[arg(long, default_value = "en")]
    beir_lang: String,
    /// BEIR qrels split.
    #[arg(long, default_value = "test")]
    beir_split: String,
    /// Do not add the e5 prefixes (non-e5 Hugging Face models).
    #[arg(long)]
    no_prefix: bool,
    /// XQuAD articles to evaluate: `all`, `dev` (the even-numbered articles, for choosing
    /// settings), `test` (the odd-numbered ones, the reported half), or the development
    /// half's quarters `dev-train` (articles 0, 4, 8, …) and `dev-val` (2, 6, 10, …: for
    /// choosing between models trained on `dev-train`).
    #[arg(long, default_value = "all")]
    split: Split,
    /// Training-free baselines applied to every model, each reported as its own model
    /// (`base+centre`, …), comma list: `none`, `centre` (per-language mean-centring of the
    /// documents), `centre-q` (documents and queries), `procrustes` (orthogonal maps to
    /// English; needs --procrustes), `zscore` (each query's scores standardised per
    /// document language; needs two documents per language), `routed` (for an adapter: the
    /// documents in the query's language scored by the base model, the others by the
    /// adapter, then z-scores and cross-lingual feedback, `--feedback-weight`; a model
    /// without an adapter routes to itself: z-scores and feedback, training-free). `auto`:
    /// each model as it is meant to be used, i.e. what its adapter declares (`aligned` →
    /// `aligned+routed`), else none.
    #[arg(long, default_value = "auto")]
    debias: String,
    /// Per-language means (`langbias-means/1`, from `langbias fit`) for inductive centring,
    /// `FILE` (one model) or `MODEL=FILE` (repeatable, one per model); without it the means
    /// come from each scenario's own documents (and queries).
    #[arg(long)]
    means: Vec<String>,
    /// Procrustes maps (`langbias-procrustes/1`, from `langbias fit`) for `--debias
    /// procrustes`: `FILE` (one model) or `MODEL=FILE` (repeatable, one per model).
    #[arg(long)]
    procrustes: Vec<String>,
}

/// The debiasing that applies a model's declared [`Centring`] (`--debias auto`).
fn default_debias(centring: Centring) -> Debias {
    match centring {
        Centring::None => Debias::None,
        Centring::Documents => Debias::Centre,
        Centring::ZScore => Debias::ZScore,
        Centring::Routed => Debias::Routed,
    }
}

/// `FILE` or `MODEL=FILE` arguments of `flag`, read with `read`, by model name. A bare `FILE`
/// is only accepted with a single model (fitted files belong to one model's embeddings).
fn per_model<T>(
    flag: &str,
    args: &[String],
    models: &[ModelSpec],
    read: impl Fn(&str) -> Result<T, langbias_eval::DebiasError>,
) -> Result<BTreeMap<String, T>> {
    let mut out = BTreeMap::new();
    for arg in args {
        let (name, file) = match arg.split_once('=') {
            Some((name, file)) if models.iter().any(|m| m.name == name) => (name.to_owned(), file),
            Some((name, _)) if !std::path::Path::new(arg).exists() => bail!(
                "{flag} {arg}: no --model is named `{name}` (models: {})",
                models
                    .iter()
                    .map(|m| m.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            ),
            _ if models.len() == 1 => (models[0].name.clone(), arg.as_str()),
            _ => bail!(
                "{flag} {arg}: with several models, name the model the file was fitted for (`MODEL=FILE`)"
            ),
        };
        if out.insert(name.clone(), read(file)?).is_some() {
            bail!("{flag}: two files for model `{name}`");
        }
    }
    Ok(out)
}

/// The data set, its name, BEIR qrels if any, and the `--langs` target languages.
type Data = (Pool, String, Option<langbias_eval::Qrels>, Vec<String>);

fn load_data(args: &EvalArgs) -> Result<Data> {
    let (pool, name, qrels, langs) = load_all(args)?;
    if args.split == Split::All {
        return Ok((pool, name, qrels, langs));
    }
    if name != "xquad" {
        bail!(
            "--split {}: only XQuAD data has the dev/test article split (use --split all)",
            args.split
        );
    }
    let pool = args.split.apply(&pool)?;
    Ok((pool, format!("xquad[{}]", args.split), qrels, langs))
}

fn load_all(args: &EvalArgs) -> Result<Data> {
    let data = &args.data;
    // `--langs` is checked against the languages the data has (`--langs: ...` in the message).
    let targets = |available: &[String]| {
        select_languages(&args.langs, available).map_err(|e| anyhow::anyhow!("--langs: {e}"))
    };
    if data.is_file() {
        let pool = Pool::from_path(data)?;
        let langs = targets(&pool.languages())?;
        return Ok((pool.clone(), pool.name, None, langs));
    }
    if data.join("corpus.jsonl").is_file() {
        let b = beir::load_dir(data, &args.beir_split, &args.beir_lang)?;
        let langs = targets(&b.pool.languages())?;
        return Ok((
            b.pool,
            format!("beir:{}", data.display()),
            Some(b.qrels),
            langs,
        ));
    }
    if !data.is_dir() {
        bail!(
            "{}: no such data directory or pool file (XQuAD: clone google-deepmind/xquad and pass its directory)",
            data.display()
        );
    }
    let langs = targets(&xquad::available_languages(data)?)?;
    let mut wanted = langs.clone();
    if !wanted.is_empty() && !wanted.iter().any(|l| l == ENGLISH) {
        wanted.push(ENGLISH.into());
    }
    let pool = xquad::load_dir(data, &wanted)?;
    Ok((pool, "xquad".into(), None, langs))
}

/// A comma list of `flag`: an empty list, an empty item or an item given twice is an error.
fn parse_list(flag: &str, s: &str) -> Result<Vec<String>> {
    let mut items: Vec<String> = Vec::new();
    for item in s.split(',').map(str::trim) {
        if item.is_empty() {
            bail!("{flag} `{s}`: empty item (expected a comma list such as `a,b`)");
        }
        if items.iter().any(|i| i == item) {
            bail!("{flag} `{s}`: `{item}` is listed twice");
        }
        items.push(item.to_owned());
    }
    Ok(items)
}

/// `--k`: whole numbers of at least 1.
fn parse_ks(s: &str) -> Result<Vec<usize>> {
    parse_list("--k", s)?
        .iter()
        .map(|k| match k.parse::<usize>() {
            Ok(k) if k >= 1 => Ok(k),
            _ => bail!(
                "--k `{s}`: `{k}` is not a whole number of at least 1 (expected e.g. `1,5,10`)"
            ),
        })
        .collect()
}

pub fn run(args: EvalArgs) -> Result<()> {
    let started = Instant::now();
    let kinds = if args.scenarios == "all" {
        Scenario::KINDS.iter().map(|s| (*s).to_owned()).collect()
    } else {
        parse_list("--scenarios", &args.scenarios)?
    };
    if let Some(bad) = kinds
        .iter()
        .find(|k| !Scenario::KINDS.contains(&k.as_str()))
    {
        bail!(
            "--scenarios: unknown scenario `{bad}` (expected `all` or a comma list of {})",
            Scenario::KINDS.join(", ")
        );
    }
    let ks = parse_ks(&args.k)?;
    let specs = ModelSpec::parse_all(&args.models)?;
    // `None`: `--debias auto`, each model's declared centring (known once it is loaded).
    let listed: Option<Vec<Debias>> = match args.debias.trim() {
        "auto" => None,
        list => Some(Debias::parse_list(list).map_err(|e| anyhow::anyhow!("--debias: {e}"))?),
    };
    let means = per_model("--means", &args.means, &specs, |f| {
        LanguageMeans::from_path(f)
    })?;
    let maps = per_model("--procrustes", &args.procrustes, &specs, |f| {
        ProcrustesMaps::from_path(f)
    })?;
    if listed
        .as_ref()
        .is_some_and(|l| l.contains(&Debias::Procrustes))
        && let Some(spec) = specs.iter().find(|s| !maps.contains_key(&s.name))
    {
        bail!(
            "--debias procrustes needs maps for model `{}`: --procrustes {}=FILE (fit them with `langbias fit --model …`)",
            spec.name,
            spec.name
        );
    }
    let (mut pool, dataset, beir_qrels, targets) = load_data(&args)?;
    if let Some(n) = args.max_queries {
        let mut per_lang: BTreeMap<String, u64> = BTreeMap::new();
        pool.queries.retain(|q| {
            let c = per_lang.entry(q.lang.clone()).or_default();
            *c += 1;
            *c <= n
        });
    }
    let pool_langs = pool.languages();
    let mut scenarios = Vec::new();
    for kind in &kinds {
        for target in &targets {
            match Scenario::parse(kind, target, &pool_langs) {
                Ok(s) => scenarios.push(s),
                // `mix`/`xl` with target `en` are degenerate: skip them, report real errors.
                Err(_) if target == ENGLISH => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    if scenarios.is_empty() {
        bail!("no scenario to run for languages {targets:?} and scenarios {kinds:?}");
    }
    let config = MetricsConfig {
        complete_at: ks.clone(),
        recall_at: ks,
        ..MetricsConfig::default()
    };
    let sets = scenarios
        .iter()
        .map(|s| match &beir_qrels {
            Some(q) => s.build_with_qrels(&pool, q),
            None => s.build(&pool),
        })
        .collect::<Result<Vec<_>, _>>()?;
    for set in &sets {
        let id = set.scenario.id();
        if let Some(note) = report::exclusion_summary(&set.excluded_queries) {
            eprintln!("{id}: {note} (listed in the reports)");
        }
        let missing = set.missing_relevant();
        if missing > 0 {
            eprintln!(
                "{id}: {missing} relevant documents of the qrels are not in the corpus; \
                 they count as never retrieved"
            );
        }
    }
    let needed_docs: BTreeSet<usize> = sets
        .iter()
        .flat_map(|s| s.doc_indices.iter().copied())
        .collect();
    let needed_queries: BTreeSet<usize> = sets
        .iter()
        .flat_map(|s| s.query_indices.iter().copied())
        .collect();

    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    let cache_dir = crate::cache_dir(args.no_cache, args.cache_dir.as_deref());
    let mut models = Models::new(args.backend, args.base_model.clone(), !args.no_prefix)?
        .with_precision(args.precision);
    // Every output is staged and renamed into place at the end, all together.
    let mut staged = Staged::new();
    let mut tables: Vec<(String, SummariesByKind)> = Vec::new();
    // The base model's embeddings, for routing (every adapter shares the base), once a run.
    // `--model base` shares them: the base model is embedded once, whichever comes first.
    let mut base_rows: Option<Rc<EmbeddedRows>> = None;
    for spec in &specs {
        let model = models
            .load(spec)
            .with_context(|| format!("loading model `{}`", spec.name))?;
        let is_base = spec.path.is_none() && spec.adapter.is_none();
        let rows = match &base_rows {
            Some(rows) if is_base => Rc::clone(rows),
            _ => Rc::new(embed_needed(
                &model,
                &spec.name,
                cache_dir.as_deref(),
                &pool,
                &needed_docs,
                &needed_queries,
            )?),
        };
        if is_base {
            base_rows.get_or_insert_with(|| Rc::clone(&rows));
        }
        let (doc_row, q_row) = &*rows;
        let dim = model.encoder.dim();
        let fitted = Fitted {
            means: means.get(&spec.name),
            maps: maps.get(&spec.name),
        };
        let methods = listed
            .clone()
            .unwrap_or_else(|| vec![default_debias(model.centring)]);
        // Routing scores the query's own language with the adapter's base model; a model
        // without an adapter routes to itself (z-scores, then feedback: training-free).
        let routes = methods.contains(&Debias::Routed);
        if routes && spec.adapter.is_some() && base_rows.is_none() {
            let base = models.load(&ModelSpec::parse("base")?)?;
            base_rows = Some(Rc::new(embed_needed(
                &base,
                "base (for routing)",
                cache_dir.as_deref(),
                &pool,
                &needed_docs,
                &needed_queries,
            )?));
        }
        let own = match (routes, &spec.adapter) {
            (false, _) => None,
            (true, Some(_)) => base_rows.as_deref(),
            (true, None) => Some(&*rows),
        };
        for &method in &methods {
            let name = method.model_name(&spec.name);
            let file_name = method.model_name(&spec.file_name());
            let mut report = Report::new(&name, &dataset);
            let mut by_kind = SummariesByKind::new();
            for set in &sets {
                let mut docs: Vec<f32> = set
                    .doc_indices
                    .iter()
                    .flat_map(|i| doc_row[i].iter().copied())
                    .collect();
                let mut queries: Vec<f32> = set
                    .query_indices
                    .iter()
                    .flat_map(|i| q_row[i].iter().copied())
                    .collect();
                let doc_langs: Vec<&str> = set
                    .doc_indices
                    .iter()
                    .map(|&i| pool.documents[i].lang.as_str())
                    .collect();
                let q_langs: Vec<&str> = set
                    .query_indices
                    .iter()
                    .map(|&i| pool.queries[i].lang.as_str())
                    .collect();
                // When the method is the one the model declares, say how to rank without it.
                let why = if listed.is_none() && method != Debias::None {
                    format!(
                        " (`{}` declares {method}; --debias none ranks without it)",
                        spec.name
                    )
                } else {
                    String::new()
                };
                method
                    .apply(
                        dim,
                        Rows::new(&mut docs, &doc_langs),
                        Rows::new(&mut queries, &q_langs),
                        fitted,
                    )
                    .with_context(|| format!("{name} on {}{why}", set.scenario.id()))?;
                // Routing: this set's documents under the base model and under this model,
                // gathered once for all its queries.
                let routing_rows =
                    own.filter(|_| method == Debias::Routed)
                        .map(|(own_docs, own_qs)| {
                            let own: Vec<&[f32]> = set
                                .doc_indices
                                .iter()
                                .map(|d| own_docs[d].as_slice())
                                .collect();
                            let cross: Vec<&[f32]> = docs.chunks_exact(dim).collect();
                            (own, own_qs, cross)
                        });
                let runs: Vec<(String, Vec<f32>)> = set
                    .query_ids
                    .iter()
                    .zip(queries.chunks_exact(dim))
                    .enumerate()
                    .map(|(i, (qid, q))| {
                        let context =
                            || format!("{name} on {}, query {qid}{why}", set.scenario.id());
                        let mut scores = ranking::scores(docs.chunks_exact(dim), q);
                        match &routing_rows {
                            Some((own_docs, own_queries, cross_docs)) => {
                                let own_scores = ranking::scores(
                                    own_docs.iter().copied(),
                                    &own_queries[&set.query_indices[i]],
                                );
                                (scores, _) = routing::route_with_feedback(
                                    &own_scores,
                                    &scores,
                                    cross_docs,
                                    &doc_langs,
                                    q_langs[i],
                                    args.feedback.feedback(),
                                )
                                .with_context(context)?;
                            }
                            None => method
                                .rescore(&mut scores, &doc_langs)
                                .with_context(context)?,
                        }
                        Ok((qid.clone(), scores))
                    })
                    .collect::<Result<_>>()?;
                let eval = set.evaluate(config.clone(), runs.iter().map(|(q, s)| (q, s)))?;
                let file = args
                    .out
                    .join(format!("{}.{file_name}.run", set.scenario.id()));
                staged.add(
                    file,
                    report::trec_run(
                        &set.doc_ids,
                        runs.iter().map(|(q, s)| (q, s)),
                        usize::try_from(args.depth).unwrap_or(usize::MAX),
                        &name,
                    ),
                )?;
                let qrels_file = args.out.join(format!("{}.qrels", set.scenario.id()));
                staged.add(qrels_file, report::trec_qrels(&set.qrels))?;
                report.push(&set.scenario, &eval, false);
                by_kind
                    .entry(set.scenario.kind().to_owned())
                    .or_default()
                    .push((set.scenario.target().to_owned(), eval.summary.clone()));
            }
            staged.add(
                args.out.join(format!("report.{file_name}.json")),
                report.to_json_pretty(),
            )?;
            staged.add(
                args.out.join(format!("report.{file_name}.csv")),
                report.to_csv(),
            )?;
            tables.push((name, by_kind));
        }
    }
    let mut text = String::new();
    for (kind, _) in tables[0].1.iter() {
        let title = sets
            .iter()
            .find(|s| s.scenario.kind() == kind)
            .map(|s| scenario_title(&s.scenario))
            .unwrap_or_default();
        let title = format!("{title} on {dataset}");
        let models: Vec<TableModel<'_>> = tables
            .iter()
            .filter_map(|(n, t)| t.get(kind).map(|rows| TableModel { name: n, rows }))
            .collect();
        // Two models: the paper's table with the relative change; more: one Markdown table
        // per metric with every model as a column.
        if models.len() > 2 {
            text.push_str(&report::models_table(&title, &models));
        } else {
            text.push_str(&report::paper_table(
                &title,
                models[0],
                models.get(1).copied(),
            ));
        }
        text.push('\n');
    }
    staged.add(args.out.join("table.txt"), &text)?;
    staged.commit()?;
    crate::print_stdout(&text)?;
    eprintln!(
        "wrote {} in {:.1} s",
        args.out.display(),
        started.elapsed().as_secs_f64()
    );
    Ok(())
}

/// Embedding rows by pool index: the documents and the queries.
type EmbeddedRows = (BTreeMap<usize, Vec<f32>>, BTreeMap<usize, Vec<f32>>);

/// `model`'s embeddings of the pool's `docs` and `queries` (through the cache), by index.
fn embed_needed(
    model: &LoadedModel,
    name: &str,
    cache_dir: Option<&std::path::Path>,
    pool: &Pool,
    docs: &BTreeSet<usize>,
    queries: &BTreeSet<usize>,
) -> Result<EmbeddedRows> {
    let t0 = Instant::now();
    let mut cache = EmbeddingCache::open(cache_dir, model.cache_key(LongText::Truncate))?;
    let doc_texts: Vec<&str> = docs
        .iter()
        .map(|&i| pool.documents[i].text.as_str())
        .collect();
    let bar = TokenBar::new(&format!("{name}: passages"));
    let doc_emb = cache.embed(
        &model.encoder,
        TextKind::Passage,
        &doc_texts,
        &mut |d, t| bar.update(d, t),
    )?;
    drop(bar);
    let q_texts: Vec<&str> = queries
        .iter()
        .map(|&i| pool.queries[i].text.as_str())
        .collect();
    let bar = TokenBar::new(&format!("{name}: queries"));
    let q_emb = cache.embed(&model.encoder, TextKind::Query, &q_texts, &mut |d, t| {
        bar.update(d, t)
    })?;
    drop(bar);
    eprintln!(
        "{name}: {} passages + {} queries, {} encoded (the others from the cache) in {:.1} s ({})",
        doc_texts.len(),
        q_texts.len(),
        cache.encoded,
        t0.elapsed().as_secs_f64(),
        model.encoder.runtime().kind
    );
    Ok((
        docs.iter().copied().zip(doc_emb).collect(),
        queries.iter().copied().zip(q_emb).collect(),
    ))
}

fn scenario_title(s: &Scenario) -> String {
    match s.kind() {
        "mix" => "MIX L→{en,L}".into(),
        "mix-en" => "MIX en→{en,L}".into(),
        "mono" => "MONO L→L".into(),
        "xl" => "XL L→en".into(),
        "multi" => "MULTI L→{en,L,…}".into(),
        other => other.to_uppercase(),
    }
}

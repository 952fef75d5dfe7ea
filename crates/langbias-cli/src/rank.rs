//! `langbias rank`: one query ranked over a pool built like the web app's pool builder
//! ([`langbias_eval::Pool::subset_for_query`], [`langbias_eval::Pool::rank_query`], or
//! [`langbias_eval::Pool::rank_query_centred`] when centred, as the page's centred column,
//! or [`langbias_eval::Pool::rank_query_zscore`] when standardised, or
//! [`langbias_eval::Pool::rank_query_routed`] when routed; by default as the model's adapter
//! declares);
//! prints the hits and the query's metrics as JSON.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};
use langbias_assets::Centring;
use langbias_encoder::{BackendKind, Encoder, TextKind};

use crate::BACKEND_HELP;
use crate::models::{self, Centre};

#[derive(clap::Args)]
pub struct RankArgs {
    /// Pool file (langbias-pool/1).
    #[arg(long)]
    pool: PathBuf,
    /// Document languages (comma list).
    #[arg(long, default_value = "en,de")]
    langs: String,
    /// Topics (groups with queries) to keep, in file order.
    #[arg(long, default_value_t = 40)]
    topics: usize,
    /// Distractor groups to keep, in file order.
    #[arg(long, default_value_t = 22)]
    distractors: usize,
    /// The question whose topic is relevant (its language is the query language).
    #[arg(long)]
    query_id: String,
    /// Query text (default: the question's own text).
    #[arg(long)]
    text: Option<String>,
    /// Model (as for `embed`).
    #[arg(long, default_value = "base")]
    model: String,
    #[arg(long, default_value = "cpu", help = BACKEND_HELP)]
    backend: BackendKind,
    /// Centre each document on the mean of its language's documents in the pool (as the
    /// page's centred column does): `auto` (the default) when the model's adapter declares
    /// it (`aligned` does), `on` for any model (`--centre` alone), `off` never.
    #[arg(long, value_enum, default_value = "auto", num_args = 0..=1, default_missing_value = "on")]
    centre: Centre,
    /// Standardise the query's scores per document language (`--debias zscore` of `eval`):
    /// `auto` (the default) when the model's adapter declares it, `on` for any model
    /// (`--zscore` alone), `off` never. Not together with `--centre on`.
    #[arg(long, value_enum, default_value = "auto", num_args = 0..=1, default_missing_value = "on")]
    zscore: Centre,
    /// Route by language pair (`--debias routed` of `eval`): the documents in the query's
    /// language scored by the base model, the others by the adapter, then z-scores and
    /// cross-lingual feedback. `auto` (the default) when the model's adapter declares it
    /// (`aligned` does) and `--zscore` is not `off`, `on` for any model (`--routed` alone; a
    /// model without an adapter routes to itself), `off` never. Not together with `--centre
    /// on` or `--zscore on`.
    #[arg(long, value_enum, default_value = "auto", num_args = 0..=1, default_missing_value = "on")]
    routed: Centre,
    /// Routing's cross-lingual feedback (as `eval`'s).
    #[command(flatten)]
    feedback: crate::FeedbackArgs,
    /// How many hits to print.
    #[arg(long, default_value_t = 10, value_parser = clap::value_parser!(u64).range(1..))]
    top: u64,
}

pub fn run(args: RankArgs) -> Result<()> {
    let collection = langbias_eval::Pool::from_path(&args.pool)?;
    let langs = langbias_eval::select_languages(&args.langs, &collection.document_languages())
        .context("--langs")?;
    let langs: Vec<&str> = langs.iter().map(String::as_str).collect();
    let (pool, question) = collection
        .subset_for_query(&args.query_id, &langs, args.topics, args.distractors)
        .with_context(|| args.pool.display().to_string())?;
    let mut models = models::Models::new(args.backend, None, true)?;
    let spec = models::ModelSpec::parse(&args.model)?;
    let model = models.load(&spec)?;
    let declared = model.centring;
    let on = [args.centre, args.zscore, args.routed]
        .iter()
        .filter(|&&c| c == Centre::On)
        .count();
    if on > 1 {
        bail!(
            "--centre on, --zscore on and --routed on: choose one (each is a way of ranking \
             the languages of the pool together)"
        );
    }
    let pick = |flag: Centre, declares: Centring| match flag {
        Centre::Auto => declared == declares && on == 0,
        Centre::On => true,
        Centre::Off => false,
    };
    let centred = pick(args.centre, Centring::Documents);
    let zscore = pick(args.zscore, Centring::ZScore);
    // Routing merges by z-scores: `--zscore off` ranks without either.
    let routed = pick(args.routed, Centring::Routed)
        && !(args.routed == Centre::Auto && args.zscore == Centre::Off);
    let encoder = model.encoder;
    let text = args.text.clone().unwrap_or_else(|| question.text.clone());
    let query = encoder.embed_blocking(TextKind::Query, &[text.as_str()])?;
    let (id, group, lang) = (&question.id, Some(question.group.as_str()), &question.lang);
    let feedback = args.feedback.feedback();
    let mut routed_feedback = None;
    let (ranking, on_stored_means) = if routed {
        // A model without an adapter routes to itself (z-scores and feedback).
        let loaded;
        let base = if spec.adapter.is_some() {
            loaded = models.load(&models::ModelSpec::parse("base")?)?.encoder;
            &loaded
        } else {
            &encoder
        };
        let own_query = base.embed_blocking(TextKind::Query, &[text.as_str()])?;
        let docs = routed_rows(&pool, lang, base, &encoder)?;
        // Each row is already its route's model's vector, so the same rows serve as both
        // models' documents: routing reads the base model's score only for the query's
        // language and the adapter's only for the others. Feedback also needs the adapter's
        // vector of the query language's first document (a model routed to itself has it).
        let langs: Vec<&str> = pool.documents.iter().map(|d| d.lang.as_str()).collect();
        let own_scores =
            langbias_eval::ranking::scores(docs.iter().map(Vec::as_slice), &own_query.data);
        let mut top_vector = None;
        if feedback.weight > 0.0
            && spec.adapter.is_some()
            && let Some(top) = langbias_eval::routing::top_own(&own_scores, &langs, lang)
        {
            let text = [pool.documents[top].text.as_str()];
            top_vector = Some((top, encoder.embed_blocking(TextKind::Passage, &text)?.data));
        }
        let cross = docs.iter().enumerate().map(|(i, row)| match &top_vector {
            Some((top, v)) if *top == i => v.as_slice(),
            _ => row.as_slice(),
        });
        let r = pool.rank_query_routed(
            docs.iter().map(Vec::as_slice),
            &own_query.data,
            cross,
            &query.data,
            feedback,
            id,
            group,
            lang,
        )?;
        routed_feedback = Some(r.feedback);
        (r.ranking, Vec::new())
    } else {
        let texts: Vec<&str> = pool.documents.iter().map(|d| d.text.as_str()).collect();
        let docs = encoder.embed_blocking(TextKind::Passage, &texts)?;
        if centred {
            // A language with a single document in the pool is centred on the adapter's stored
            // mean.
            let rows: Vec<Vec<f32>> = docs.rows().map(<[f32]>::to_vec).collect();
            let r = pool.rank_query_centred(
                &rows,
                model.document_means.as_ref(),
                &query.data,
                id,
                group,
                lang,
            )?;
            (r.ranking, r.on_stored_means)
        } else if zscore {
            (
                pool.rank_query_zscore(docs.rows(), &query.data, id, group, lang)?,
                Vec::new(),
            )
        } else {
            (
                pool.rank_query(docs.rows(), &query.data, id, group, lang)?,
                Vec::new(),
            )
        }
    };
    let hits: Vec<serde_json::Value> = ranking
        .hits
        .iter()
        .take(usize::try_from(args.top).unwrap_or(usize::MAX))
        .map(|h| {
            let d = &pool.documents[h.doc];
            serde_json::json!({"rank": h.rank, "id": d.id, "lang": d.lang, "score": h.score})
        })
        .collect();
    let metrics = ranking.metrics;
    let out = serde_json::json!({
        "query": text, "query_id": question.id, "pool_size": pool.documents.len(),
        "centred": centred, "centred_on_stored_means": on_stored_means, "zscore": zscore, "routed": routed,
        "feedback": routed_feedback.map(|f| serde_json::json!({
            "weight": feedback.weight, "min_match": feedback.min_match,
            "from": f.from.map(|t| &pool.documents[t].id), "languages": f.languages,
        })),
        "max_rank": metrics.as_ref().map(|m| m.max_rank), "metrics": metrics, "hits": hits,
    });
    crate::print_stdout(format!("{}\n", serde_json::to_string_pretty(&out)?))?;
    Ok(())
}

/// Each document's vector from the model its pairing with the query's language needs (routing):
/// `own` (the base model) for the documents in `query_lang`, `cross` (the adapter) for the
/// others, so no document is embedded twice.
fn routed_rows(
    pool: &langbias_eval::Pool,
    query_lang: &str,
    own: &Encoder,
    cross: &Encoder,
) -> Result<Vec<Vec<f32>>> {
    let (mine, others): (Vec<usize>, Vec<usize>) =
        (0..pool.documents.len()).partition(|&i| pool.documents[i].lang == query_lang);
    let mut rows = vec![Vec::new(); pool.documents.len()];
    for (indices, encoder) in [(mine, own), (others, cross)] {
        if indices.is_empty() {
            continue;
        }
        let texts: Vec<&str> = indices
            .iter()
            .map(|&i| pool.documents[i].text.as_str())
            .collect();
        let vectors = encoder.embed_blocking(TextKind::Passage, &texts)?;
        for (&i, row) in indices.iter().zip(vectors.rows()) {
            rows[i] = row.to_vec();
        }
    }
    Ok(rows)
}

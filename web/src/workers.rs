//! The page's pool of encoder workers (CPU path): each a Web Worker running this same wasm
//! module ([`crate::worker`]) with its own copy of the encoders. A request is split among the
//! live workers; a worker that fails (cannot start, runs out of memory, panics) is reported
//! and dropped, its share embedded by the others.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::rc::{Rc, Weak};

use gloo::timers::future::TimeoutFuture;
use js_sys::{Promise, Reflect};
use langbias_encoder::TextKind;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::JsFuture;
use web_sys::{ErrorEvent, MessageEvent, Worker, WorkerOptions, WorkerType};

use crate::engine::{CANCELLED, now_ms};
use crate::messages::{FromWorker, ToWorker, envelope, open};

/// The most workers a page starts (each holds a copy of the encoders, ≈ 0.5 GB).
const MAX_WORKERS: usize = 4;
/// How long a worker may take to build its encoders.
const START_TIMEOUT_MS: f64 = 240_000.0;

/// How many workers to start, and why: `?workers=N` in the address, else one per logical
/// core (`navigator.hardwareConcurrency`) up to [`MAX_WORKERS`], at most one per 2 GB of
/// `navigator.deviceMemory` (where the browser tells it).
pub fn planned_size() -> (usize, String) {
    if let Some(n) = crate::browser::search_param("workers").and_then(|v| v.parse::<usize>().ok()) {
        return (n.min(16), format!("{n} (set by ?workers= in the address)"));
    }
    let navigator = web_sys::window().map(|w| JsValue::from(w.navigator()));
    let number = |key: &str| {
        navigator
            .as_ref()
            .and_then(|n| Reflect::get(n, &key.into()).ok())
            .and_then(|v| v.as_f64())
    };
    let cores = number("hardwareConcurrency").unwrap_or(2.0).max(1.0) as usize;
    let memory = number("deviceMemory");
    let mut n = cores.min(MAX_WORKERS);
    if let Some(gb) = memory {
        n = n.min(((gb / 2.0) as usize).max(1));
    }
    let memory = memory.map_or("not reported".into(), |gb| format!("{gb} GB"));
    (
        n,
        format!("{n} (hardwareConcurrency {cores}, deviceMemory {memory})"),
    )
}

/// The worker script written by `cargo xtask site` (a `<meta name="langbias-worker">`).
pub fn script_url() -> Option<String> {
    let doc = web_sys::window()?.document()?;
    let meta = doc.query_selector("meta[name=langbias-worker]").ok()??;
    meta.get_attribute("content").filter(|s| !s.is_empty())
}

#[derive(Debug, Clone, PartialEq)]
enum Status {
    Starting,
    Ready,
    Dead(String),
}

/// Why a job did not give vectors.
enum JobError {
    /// The worker stopped: the job can run on another.
    Worker,
    /// The embedding failed (or was cancelled).
    Embed(String),
}

struct Job {
    worker: usize,
    done: usize,
    outcome: Option<Result<Vec<Vec<f32>>, JobError>>,
    resolve: Option<js_sys::Function>,
}

struct Slot {
    id: usize,
    worker: Worker,
    status: Status,
    _on_message: Closure<dyn FnMut(MessageEvent)>,
    _on_error: Closure<dyn FnMut(ErrorEvent)>,
}

struct Inner {
    slots: RefCell<Vec<Slot>>,
    jobs: RefCell<HashMap<u32, Job>>,
    next_job: Cell<u32>,
    has_aligned: Cell<bool>,
    /// The `Init` message, posted to each worker once it has booted (released after start-up:
    /// it holds the model files).
    init: RefCell<JsValue>,
    /// Told when a worker stops (plain words).
    on_event: Box<dyn Fn(String)>,
}

/// A pool of encoder workers.
pub struct WorkerPool {
    inner: Rc<Inner>,
    /// Building the encoders in the workers, slowest worker.
    pub load_ms: f64,
    /// Workers asked for, and why that many.
    pub planned: String,
}

impl Inner {
    fn on_message(&self, id: usize, data: JsValue) {
        let (msg, vectors) = match open::<FromWorker>(&data) {
            Ok(m) => m,
            Err(e) => return self.kill(id, e),
        };
        match msg {
            FromWorker::Booted => {
                if let Some(slot) = self.slots.borrow().iter().find(|s| s.id == id) {
                    slot.worker.post_message(&self.init.borrow()).ok();
                }
            }
            FromWorker::Ready { has_aligned, .. } => {
                self.has_aligned.set(has_aligned);
                if let Some(slot) = self.slots.borrow_mut().iter_mut().find(|s| s.id == id) {
                    slot.status = Status::Ready;
                }
            }
            FromWorker::Failed { message } => self.kill(id, message),
            FromWorker::Progress { job, done } => {
                if let Some(j) = self.jobs.borrow_mut().get_mut(&job) {
                    j.done = done as usize;
                }
            }
            FromWorker::Done { job, rows } => {
                let flat = vectors.map(|v| v.to_vec()).unwrap_or_default();
                let rows = rows as usize;
                let outcome = if rows > 0 && flat.len() % rows == 0 {
                    let dim = flat.len() / rows;
                    Ok(flat.chunks_exact(dim).map(<[f32]>::to_vec).collect())
                } else if rows == 0 {
                    Ok(Vec::new())
                } else {
                    Err(JobError::Embed(format!(
                        "worker {id} sent {} values for {rows} vectors",
                        flat.len()
                    )))
                };
                self.finish(job, outcome);
            }
            FromWorker::Error { job, message } => self.finish(job, Err(JobError::Embed(message))),
        }
    }

    fn finish(&self, job: u32, outcome: Result<Vec<Vec<f32>>, JobError>) {
        let resolve = self.jobs.borrow_mut().get_mut(&job).and_then(|j| {
            j.outcome = Some(outcome);
            j.resolve.take()
        });
        if let Some(r) = resolve {
            r.call0(&JsValue::NULL).ok();
        }
    }

    /// Stops worker `id` (it failed): its jobs fail over to the others.
    fn kill(&self, id: usize, reason: String) {
        let was_ready = {
            let mut slots = self.slots.borrow_mut();
            let Some(slot) = slots.iter_mut().find(|s| s.id == id) else {
                return;
            };
            if matches!(slot.status, Status::Dead(_)) {
                return;
            }
            slot.worker.terminate();
            let was_ready = slot.status == Status::Ready;
            slot.status = Status::Dead(reason.clone());
            was_ready
        };
        let orphans: Vec<u32> = self
            .jobs
            .borrow()
            .iter()
            .filter(|(_, j)| j.worker == id && j.outcome.is_none())
            .map(|(k, _)| *k)
            .collect();
        for job in orphans {
            self.finish(job, Err(JobError::Worker));
        }
        if was_ready {
            let left = self.live().len();
            (self.on_event)(format!(
                "An encoder worker stopped ({reason}); {left} worker{} left.",
                if left == 1 { "" } else { "s" }
            ));
        }
    }

    fn live(&self) -> Vec<(usize, Worker)> {
        self.slots
            .borrow()
            .iter()
            .filter(|s| s.status == Status::Ready)
            .map(|s| (s.id, s.worker.clone()))
            .collect()
    }
}

fn spawn(inner: &Rc<Inner>, id: usize, url: &str) -> Result<Slot, String> {
    let options = WorkerOptions::new();
    options.set_type(WorkerType::Module);
    options.set_name(&format!("langbias encoder {id}"));
    let worker = Worker::new_with_options(url, &options).map_err(|e| {
        format!(
            "the browser refused to start a worker ({})",
            crate::fetch::js_error(e)
        )
    })?;
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let on_message = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        if let Some(inner) = weak.upgrade() {
            inner.on_message(id, ev.data());
        }
    });
    let weak: Weak<Inner> = Rc::downgrade(inner);
    let on_error = Closure::<dyn FnMut(ErrorEvent)>::new(move |ev: ErrorEvent| {
        ev.prevent_default();
        if let Some(inner) = weak.upgrade() {
            let message = ev.message();
            inner.kill(
                id,
                if message.is_empty() {
                    "the worker script failed to load or run".into()
                } else {
                    message
                },
            );
        }
    });
    worker.set_onmessage(Some(on_message.as_ref().unchecked_ref()));
    worker.set_onerror(Some(on_error.as_ref().unchecked_ref()));
    Ok(Slot {
        id,
        worker,
        status: Status::Starting,
        _on_message: on_message,
        _on_error: on_error,
    })
}

impl WorkerPool {
    /// Starts `n` workers from `url` and waits until each has built its encoders or failed.
    /// `Err` (every reason, plain words) when none is ready.
    pub async fn start(
        n: usize,
        planned: String,
        url: &str,
        init: &ToWorker,
        on_event: impl Fn(String) + 'static,
    ) -> Result<WorkerPool, String> {
        let t0 = now_ms();
        let (init, _) = envelope(init, None)?;
        let inner = Rc::new(Inner {
            slots: RefCell::new(Vec::new()),
            jobs: RefCell::new(HashMap::new()),
            next_job: Cell::new(0),
            has_aligned: Cell::new(false),
            init: RefCell::new(init),
            on_event: Box::new(on_event),
        });
        let mut refused = Vec::new();
        for id in 0..n {
            match spawn(&inner, id, url) {
                Ok(slot) => inner.slots.borrow_mut().push(slot),
                Err(e) => refused.push(e),
            }
        }
        loop {
            let starting = inner
                .slots
                .borrow()
                .iter()
                .filter(|s| s.status == Status::Starting)
                .count();
            if starting == 0 {
                break;
            }
            if now_ms() - t0 > START_TIMEOUT_MS {
                let late: Vec<usize> = inner
                    .slots
                    .borrow()
                    .iter()
                    .filter(|s| s.status == Status::Starting)
                    .map(|s| s.id)
                    .collect();
                for id in late {
                    inner.kill(id, "it did not start within four minutes".into());
                }
                break;
            }
            TimeoutFuture::new(30).await;
        }
        inner.init.replace(JsValue::UNDEFINED);
        let mut reasons: Vec<String> = refused;
        reasons.extend(inner.slots.borrow().iter().filter_map(|s| match &s.status {
            Status::Dead(r) => Some(format!("worker {}: {r}", s.id)),
            _ => None,
        }));
        if inner.live().is_empty() {
            return Err(if reasons.is_empty() {
                "no worker was asked for".into()
            } else {
                reasons.join("; ")
            });
        }
        if !reasons.is_empty() {
            (inner.on_event)(format!(
                "Some encoder workers could not start ({}); the page uses the {} that did.",
                reasons.join("; "),
                inner.live().len()
            ));
        }
        Ok(WorkerPool {
            inner,
            load_ms: now_ms() - t0,
            planned,
        })
    }

    /// Workers serving now.
    pub fn size(&self) -> usize {
        self.inner.live().len()
    }

    pub fn has_aligned(&self) -> bool {
        self.inner.has_aligned.get()
    }

    /// Embeds `texts`, split among the live workers; rows in input order.
    pub async fn embed(
        &self,
        aligned: bool,
        kind: TextKind,
        texts: &[String],
        progress: &dyn Fn(usize, usize),
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<Vec<f32>>, String> {
        let total = texts.len();
        let mut out: Vec<Option<Vec<f32>>> = vec![None; total];
        // (offset, texts) still to embed.
        let live = self.inner.live().len().max(1);
        let per = total.div_ceil(live).max(1);
        let mut todo: Vec<(usize, Vec<String>)> = texts
            .chunks(per)
            .enumerate()
            .map(|(i, c)| (i * per, c.to_vec()))
            .collect();
        let mut finished = 0usize;
        while !todo.is_empty() {
            let workers = self.inner.live();
            if workers.is_empty() {
                return Err("every encoder worker has stopped: reload the page".into());
            }
            // Post each chunk to a worker, round robin.
            let mut posted: Vec<(u32, usize, Vec<String>)> = Vec::new();
            let promises = js_sys::Array::new();
            for (i, (offset, chunk)) in std::mem::take(&mut todo).into_iter().enumerate() {
                let (wid, worker) = &workers[i % workers.len()];
                let job = self.inner.next_job.get();
                self.inner.next_job.set(job.wrapping_add(1));
                let mut resolve = None;
                let promise = Promise::new(&mut |res, _| resolve = Some(res));
                self.inner.jobs.borrow_mut().insert(
                    job,
                    Job {
                        worker: *wid,
                        done: 0,
                        outcome: None,
                        resolve,
                    },
                );
                promises.push(&promise);
                let msg = ToWorker::Embed {
                    job,
                    aligned,
                    query: kind == TextKind::Query,
                    texts: chunk.clone(),
                };
                let (value, _) = envelope(&msg, None)?;
                if let Err(e) = worker.post_message(&value) {
                    self.inner.kill(*wid, crate::fetch::js_error(e));
                }
                posted.push((job, offset, chunk));
            }
            let all = Promise::all(&promises);
            let mut cancelled = false;
            loop {
                let done_now = self
                    .inner
                    .jobs
                    .borrow()
                    .iter()
                    .filter(|(k, _)| posted.iter().any(|(j, _, _)| j == *k))
                    .map(|(_, j)| j.done)
                    .sum::<usize>();
                progress((finished + done_now).min(total), total);
                if !cancelled && stop() {
                    cancelled = true;
                    for (job, _, _) in &posted {
                        let worker = self.inner.jobs.borrow().get(job).map(|j| j.worker);
                        if let Some((_, w)) =
                            worker.and_then(|id| workers.iter().find(|(i, _)| *i == id))
                            && let Ok((value, _)) = envelope(&ToWorker::Cancel { job: *job }, None)
                        {
                            w.post_message(&value).ok();
                        }
                    }
                }
                let all_done = posted.iter().all(|(job, _, _)| {
                    self.inner
                        .jobs
                        .borrow()
                        .get(job)
                        .is_none_or(|j| j.outcome.is_some())
                });
                if all_done {
                    break;
                }
                let tick = Promise::new(&mut |res, _| {
                    web_sys::window().and_then(|w| {
                        w.set_timeout_with_callback_and_timeout_and_arguments_0(&res, 100)
                            .ok()
                    });
                });
                let race = Promise::race(&js_sys::Array::of2(&all, &tick));
                JsFuture::from(race).await.ok();
            }
            let mut error = None;
            for (job, offset, chunk) in posted {
                let outcome = self
                    .inner
                    .jobs
                    .borrow_mut()
                    .remove(&job)
                    .and_then(|j| j.outcome);
                match outcome {
                    Some(Ok(rows)) if rows.len() == chunk.len() => {
                        finished += rows.len();
                        for (k, row) in rows.into_iter().enumerate() {
                            out[offset + k] = Some(row);
                        }
                    }
                    Some(Ok(rows)) => {
                        error.get_or_insert(format!(
                            "a worker returned {} vectors for {} texts",
                            rows.len(),
                            chunk.len()
                        ));
                    }
                    Some(Err(JobError::Worker)) | None => todo.push((offset, chunk)),
                    Some(Err(JobError::Embed(e))) => {
                        error.get_or_insert(e);
                    }
                }
            }
            if cancelled {
                return Err(CANCELLED.into());
            }
            if let Some(e) = error {
                return Err(e);
            }
        }
        progress(total, total);
        Ok(out.into_iter().map(Option::unwrap_or_default).collect())
    }
}

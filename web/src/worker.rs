//! The encoder worker: the page's own wasm module, started in a Web Worker by the script
//! `cargo xtask site` writes (`langbias-worker-<hash>.js`), which calls
//! [`langbias_worker_start`]. It builds the encoders from the files the page sends and embeds
//! jobs in slices, so a cancel between slices is seen (see [`crate::messages`]).

use std::cell::RefCell;
use std::collections::HashSet;
use std::rc::Rc;

use js_sys::Float32Array;
use langbias_encoder::TextKind;
use wasm_bindgen::prelude::*;
use wasm_bindgen_futures::spawn_local;
use web_sys::{DedicatedWorkerGlobalScope, MessageEvent};

use crate::engine::{Engine, embed_in_slices};
use crate::messages::{FromWorker, ToWorker, envelope, open};

fn scope() -> DedicatedWorkerGlobalScope {
    js_sys::global().unchecked_into()
}

fn post(msg: &FromWorker, vectors: Option<&Float32Array>) {
    match envelope(msg, vectors) {
        Ok((value, transfer)) => {
            scope().post_message_with_transfer(&value, &transfer).ok();
        }
        Err(e) => web_sys::console::error_1(&e.into()),
    }
}

#[derive(Default)]
struct Worker {
    engine: RefCell<Option<Rc<Engine>>>,
    cancelled: RefCell<HashSet<u32>>,
}

/// Entry point of an encoder worker (called by the worker script once the module runs).
#[wasm_bindgen]
pub fn langbias_worker_start() {
    std::panic::set_hook(Box::new(|info| {
        console_error_panic_hook::hook(info);
        post(
            &FromWorker::Failed {
                message: format!("the worker hit an internal error: {info}"),
            },
            None,
        );
    }));
    let state = Rc::new(Worker::default());
    let handler = Closure::<dyn FnMut(MessageEvent)>::new(move |ev: MessageEvent| {
        match open::<ToWorker>(&ev.data()) {
            Ok((msg, _)) => spawn_local(handle(state.clone(), msg)),
            Err(e) => post(&FromWorker::Failed { message: e }, None),
        }
    });
    scope().set_onmessage(Some(handler.as_ref().unchecked_ref()));
    handler.forget();
    post(&FromWorker::Booted, None);
}

async fn handle(state: Rc<Worker>, msg: ToWorker) {
    match msg {
        init @ ToWorker::Init { .. } => {
            let Some(files) = init.into_files() else {
                return;
            };
            match Engine::build(files, None, &|_| {}).await {
                Ok(engine) => {
                    let ready = FromWorker::Ready {
                        load_ms: engine.load_ms,
                        has_aligned: engine.aligned.is_some(),
                    };
                    *state.engine.borrow_mut() = Some(Rc::new(engine));
                    post(&ready, None);
                }
                Err(message) => post(&FromWorker::Failed { message }, None),
            }
        }
        ToWorker::Cancel { job } => {
            state.cancelled.borrow_mut().insert(job);
        }
        ToWorker::Embed {
            job,
            aligned,
            query,
            texts,
        } => {
            let engine = state.engine.borrow().clone();
            let result = match engine.as_deref().map(|e| e.encoder(aligned)) {
                None => Err("the worker has no model yet".to_string()),
                Some(None) => Err("no aligned adapter is shipped with this build".to_string()),
                Some(Some(encoder)) => {
                    let kind = if query {
                        TextKind::Query
                    } else {
                        TextKind::Passage
                    };
                    let st = state.clone();
                    embed_in_slices(
                        encoder,
                        kind,
                        &texts,
                        &|done, _| {
                            post(
                                &FromWorker::Progress {
                                    job,
                                    done: done as u32,
                                },
                                None,
                            )
                        },
                        &move || st.cancelled.borrow().contains(&job),
                    )
                    .await
                }
            };
            state.cancelled.borrow_mut().remove(&job);
            match result {
                Ok(rows) => {
                    let flat: Vec<f32> = rows.concat();
                    let vectors = Float32Array::from(flat.as_slice());
                    post(
                        &FromWorker::Done {
                            job,
                            rows: rows.len() as u32,
                        },
                        Some(&vectors),
                    );
                }
                // A cancelled job reports `engine::CANCELLED`, which the page recognises.
                Err(message) => post(&FromWorker::Error { job, message }, None),
            }
        }
    }
}

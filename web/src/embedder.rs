//! Where the page's embeddings are computed: on the main thread ([`Engine`], the WebGPU path
//! or the fallback when no worker can start) or in a pool of Web Workers
//! ([`WorkerPool`], the CPU path). The rest of the page only sees [`Embedder::embed`].

use std::cell::RefCell;
use std::rc::Rc;

use langbias_encoder::TextKind;

use crate::engine::{Engine, embed_in_slices};
use crate::workers::WorkerPool;

/// The loaded encoders, wherever they run.
pub enum Embedder {
    /// On the main thread, in slices between which the page stays responsive.
    Main(Box<Engine>),
    /// In Web Workers, the texts split among them.
    Workers(WorkerPool),
}

thread_local! {
    static EMBEDDER: RefCell<Option<Rc<Embedder>>> = const { RefCell::new(None) };
}

/// The loaded embedder, once the model is ready.
pub fn current() -> Option<Rc<Embedder>> {
    EMBEDDER.with(|e| e.borrow().clone())
}

/// Makes `embedder` the page's.
pub fn install(embedder: Embedder) -> Rc<Embedder> {
    let e = Rc::new(embedder);
    EMBEDDER.with(|slot| *slot.borrow_mut() = Some(e.clone()));
    e
}

impl Embedder {
    /// The models it can embed with: `false` base, `true` aligned (when shipped).
    pub fn models(&self) -> Vec<bool> {
        let aligned = match self {
            Self::Main(e) => e.aligned.is_some(),
            Self::Workers(w) => w.has_aligned(),
        };
        std::iter::once(false)
            .chain(aligned.then_some(true))
            .collect()
    }

    /// Embeds `texts` with the base or aligned model (L2-normalised rows); `progress(done,
    /// total)` as texts complete; stops with [`crate::engine::CANCELLED`] when `stop()` says so.
    pub async fn embed(
        &self,
        aligned: bool,
        kind: TextKind,
        texts: &[String],
        progress: &dyn Fn(usize, usize),
        stop: &dyn Fn() -> bool,
    ) -> Result<Vec<Vec<f32>>, String> {
        match self {
            Self::Main(engine) => {
                let encoder = engine
                    .encoder(aligned)
                    .ok_or_else(|| "no aligned adapter is shipped with this build".to_string())?;
                embed_in_slices(encoder, kind, texts, progress, stop).await
            }
            Self::Workers(pool) => pool.embed(aligned, kind, texts, progress, stop).await,
        }
    }
}

//! Where the vectors of the shown ranking came from: the build-time files (and their check
//! against the page's encoder) or the page itself.

use leptos::prelude::*;

use crate::app_state::{BuildNote, use_app};

#[component]
pub fn SourceLine() -> impl IntoView {
    let app = use_app();
    move || {
        let r = app.result.get();
        let note = app.build_note.get();
        let (kind, text) = match (&note, r.pool.is_some()) {
            (BuildNote::Loaded { bytes, ms, checked }, true) if r.from_build => (
                "build",
                format!(
                    "Ranked with the built-in pool's embeddings, computed with the same model at build time ({:.1} MB, loaded in {:.0} ms){}.",
                    *bytes as f64 / 1e6,
                    ms,
                    match checked {
                        Some(Ok(c)) => format!(
                            "; checked in this page against its own encoder: cosine ≥ {c:.5}"
                        ),
                        Some(Err(why)) => format!("; {why}"),
                        None if app.ready.get() => String::new(),
                        None =>
                            "; the page checks them against its own encoder once the model is ready"
                                .into(),
                    }
                ),
            ),
            (_, true) => (
                "page",
                "Ranked with embeddings computed in this browser.".to_string(),
            ),
            _ => ("none", String::new()),
        };
        let why = match note {
            BuildNote::Unavailable(why) => Some(why),
            _ => None,
        };
        view! {
            <p id="source" data-source=kind class="muted small">{text}
                {why.map(|w| view! { <details><summary>"Built-in embeddings not used"</summary>{w}</details> })}
            </p>
        }
    }
}

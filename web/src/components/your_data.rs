//! Uploads (a langbias pool or XQuAD files) and documents typed into the pool.

use leptos::prelude::*;

use crate::app_state::{Place, use_app};
use crate::workflows;

#[component]
pub fn YourData() -> impl IntoView {
    let app = use_app();
    let text = RwSignal::new(String::new());
    let lang = RwSignal::new(workflows::DETECT_LANGUAGE.to_string());
    let on_upload = move |ev: leptos::ev::Event| {
        let input: web_sys::HtmlInputElement = event_target(&ev);
        let Some(files) = input.files() else { return };
        let files: Vec<web_sys::File> = (0..files.length()).filter_map(|i| files.get(i)).collect();
        workflows::upload(app, files);
    };
    let add =
        move |_| match workflows::add_document(app, text.get_untracked(), lang.get_untracked()) {
            Ok(said) => {
                text.set(String::new());
                app.remove(Place::YourData, true);
                app.notify(Place::YourData, said);
            }
            Err(e) => app.fail(Place::YourData, e),
        };
    let langs = move || {
        app.collection
            .get()
            .map(|p| p.languages())
            .unwrap_or_default()
    };
    view! {
        <p>"Rank your own pool: a langbias pool (JSON, format langbias-pool/1) or XQuAD files named xquad.<lang>.json (select several at once). Embeddings stay in this browser."</p>
        <label for="upload">"Pool or XQuAD files"</label>
        <input id="upload" type="file" multiple accept=".json" on:change=on_upload />
        <div class="add">
            <label for="add-text">"Add a document"</label>
            <textarea id="add-text" placeholder="Paste a passage to add to the pool" prop:value=move || text.get() on:input=move |ev| text.set(event_target_value(&ev))></textarea>
            <label>"Its language "
                <select id="add-lang" on:change=move |ev| lang.set(event_target_value(&ev))>
                    <option value=workflows::DETECT_LANGUAGE>"detect it"</option>
                    {move || langs().into_iter().map(|l| view! { <option value=l.clone()>{l.clone()}</option> }).collect_view()}
                </select>
            </label>
            <button on:click=add>"Add document"</button>
        </div>
    }
}

//! The site build and the demo server, from tools the project installs anyway (no Trunk: its
//! `cargo install` alone took 10 of CI's from-scratch minutes):
//!
//! 1. `cargo build --profile wasm-release --target wasm32-unknown-unknown -p langbias-web`;
//! 2. `wasm-bindgen --target web` (the version in Cargo.lock);
//! 3. binaryen 132's `wasm-opt -O1` (npm, `web/package.json`);
//! 4. `dist/`: the JS glue and the wasm under content-hashed names, `style-<hash>.css`, an
//!    `index.html` that loads them (and exports the wasm functions as `window.wasmBindings`),
//!    and copies of `public/{pools,models,adapters,embeddings}`.
//!
//! The new `dist/` is assembled beside the old one and swapped in by renames, so a failed build
//! leaves the previous site. [`serve`] serves `dist/` on 127.0.0.1 (GET and HEAD, no directory
//! listings, nothing outside `dist/`).

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Component, Path, PathBuf};
use std::process::Command;

use anyhow::{Context, Result, bail};
use langbias_assets::sha256_hex;

use crate::tools::{self, run};

/// The directories of `public/` the site serves.
const PUBLIC_DIRS: [&str; 4] = ["pools", "models", "adapters", "embeddings"];

/// The wasm build's own target directory, `<target>/site`. Nothing in it could be shared with
/// the native builds (another target and profile, host tools included), and with its own lock
/// `cargo xtask test` compiles it while the native tests build.
pub fn wasm_target_dir(target_dir: &Path) -> PathBuf {
    target_dir.join("site")
}

/// The release wasm build of the page (`wasm-release` profile) into `wasm_target_dir`.
pub fn wasm_build_command(repo: &Path, wasm_target_dir: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO"));
    cmd.args([
        "build",
        "--profile",
        "wasm-release",
        "--target",
        "wasm32-unknown-unknown",
        "-p",
        "langbias-web",
    ])
    .env("CARGO_TARGET_DIR", wasm_target_dir)
    .current_dir(repo);
    cmd
}

/// Builds `dist/` (release wasm, wasm-bindgen, wasm-opt, hashed names, public files).
pub fn build(repo: &Path, target_dir: &Path) -> Result<PathBuf> {
    tools::ensure_wasm_tools(repo)?;
    let wasm_dir = wasm_target_dir(target_dir);
    run(&mut wasm_build_command(repo, &wasm_dir))?;
    package(repo, &wasm_dir)
}

/// wasm-bindgen, wasm-opt and `dist/` from a finished wasm build in `wasm_target_dir`.
pub fn package(repo: &Path, wasm_target_dir: &Path) -> Result<PathBuf> {
    let target_dir = wasm_target_dir;
    let wasm = target_dir.join("wasm32-unknown-unknown/wasm-release/langbias-web.wasm");
    let stage = repo.join("dist.new");
    let _ = std::fs::remove_dir_all(&stage);
    std::fs::create_dir_all(&stage).with_context(|| format!("creating {}", stage.display()))?;
    let bindgen = target_dir.join("wasm-bindgen");
    let _ = std::fs::remove_dir_all(&bindgen);
    run(Command::new("wasm-bindgen")
        .args([
            "--target",
            "web",
            "--no-typescript",
            "--out-name",
            "langbias-web",
        ])
        .arg("--out-dir")
        .arg(&bindgen)
        .arg(&wasm))?;
    let optimised = bindgen.join("langbias-web_bg.opt.wasm");
    run(Command::new(tools::wasm_opt(repo))
        .arg(bindgen.join("langbias-web_bg.wasm"))
        .args([
            "-O1",
            "--enable-simd",
            "--enable-bulk-memory",
            "--enable-reference-types",
        ])
        .args([
            "--enable-nontrapping-float-to-int",
            "--enable-sign-ext",
            "--enable-mutable-globals",
        ])
        .args(["--enable-multivalue", "-o"])
        .arg(&optimised))?;
    let hashed = |name: &str, bytes: &[u8]| -> Result<String> {
        let (stem, ext) = name.rsplit_once('.').unwrap_or((name, ""));
        let out = format!("{stem}-{}.{ext}", &sha256_hex(bytes)[..16]);
        std::fs::write(stage.join(&out), bytes)
            .with_context(|| format!("writing {}", stage.join(&out).display()))?;
        Ok(out)
    };
    let wasm_bytes = read(&optimised)?;
    let wasm_name = hashed("langbias-web_bg.wasm", &wasm_bytes)?;
    // The glue names its wasm only as a default; the page passes the hashed name.
    let js_name = hashed("langbias-web.js", &read(&bindgen.join("langbias-web.js"))?)?;
    let css_name = hashed("style.css", &read(&repo.join("web/style.css"))?)?;
    let worker_name = hashed(
        "langbias-worker.js",
        worker_js(&js_name, &wasm_name).as_bytes(),
    )?;
    let template = std::fs::read_to_string(repo.join("index.html"))
        .with_context(|| format!("reading {}", repo.join("index.html").display()))?;
    std::fs::write(
        stage.join("index.html"),
        index_html(&template, &js_name, &wasm_name, &css_name, &worker_name)?,
    )?;
    for dir in PUBLIC_DIRS {
        copy_dir(&repo.join("public").join(dir), &stage.join(dir))?;
    }
    // Swap: dist → dist.old, dist.new → dist.
    let dist = repo.join("dist");
    let old = repo.join("dist.old");
    let _ = std::fs::remove_dir_all(&old);
    if dist.exists() {
        std::fs::rename(&dist, &old).with_context(|| format!("moving {}", dist.display()))?;
    }
    std::fs::rename(&stage, &dist).with_context(|| format!("moving {}", stage.display()))?;
    let _ = std::fs::remove_dir_all(&old);
    eprintln!(
        "site: dist/ with {wasm_name} ({:.1} MB)",
        wasm_bytes.len() as f64 / 1e6
    );
    Ok(dist)
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The encoder workers' script: the page's own wasm module (one build, one download), started
/// without the page (`main` returns where there is no window) and handed to
/// `langbias_worker_start`.
fn worker_js(js: &str, wasm: &str) -> String {
    format!(
        "// An encoder worker of the langbias page (written by `cargo xtask site`).\n\
         import init, {{ langbias_worker_start }} from '/{js}';\n\
         await init({{ module_or_path: '/{wasm}' }});\n\
         langbias_worker_start();\n"
    )
}

/// `index.html` with the stylesheet, the module script and the worker script's name put in at
/// `<!-- langbias:head -->`.
fn index_html(template: &str, js: &str, wasm: &str, css: &str, worker: &str) -> Result<String> {
    const MARK: &str = "<!-- langbias:head -->";
    if !template.contains(MARK) {
        bail!("index.html: the placeholder {MARK} is missing");
    }
    let head = format!(
        r#"<meta name="langbias-worker" content="/{worker}" />
  <link rel="stylesheet" href="/{css}" />
  <link rel="modulepreload" href="/{js}" />
  <link rel="preload" href="/{wasm}" as="fetch" type="application/wasm" crossorigin="anonymous" />
  <script type="module">
    import init, * as bindings from '/{js}';
    await init({{ module_or_path: '/{wasm}' }});
    window.wasmBindings = bindings;
  </script>"#
    );
    Ok(template.replace(MARK, &head))
}

fn copy_dir(from: &Path, to: &Path) -> Result<()> {
    if !from.is_dir() {
        bail!(
            "{} is missing{}",
            from.display(),
            if from.ends_with("models") {
                " (run `cargo xtask setup`)"
            } else {
                ""
            }
        );
    }
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)?.flatten() {
        let path = entry.path();
        let dest = to.join(entry.file_name());
        if path.is_dir() {
            copy_dir(&path, &dest)?;
        } else {
            // A hard link when possible (the model is 72 MB), else a copy.
            if std::fs::hard_link(&path, &dest).is_err() {
                std::fs::copy(&path, &dest)
                    .with_context(|| format!("copying {}", path.display()))?;
            }
        }
    }
    Ok(())
}

/// Serves `dist` on `127.0.0.1:port` until the process is stopped.
pub fn serve(dist: &Path, port: u16) -> Result<()> {
    let listener = TcpListener::bind(("127.0.0.1", port))
        .with_context(|| format!("listening on 127.0.0.1:{port} (is another demo running?)"))?;
    println!("\nlangbias demo: serving http://127.0.0.1:{port}/  (Ctrl-C to stop)\n");
    for stream in listener.incoming().flatten() {
        let dist = dist.to_owned();
        std::thread::spawn(move || {
            let _ = respond(&dist, stream);
        });
    }
    Ok(())
}

fn content_type(path: &Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js") => "text/javascript",
        Some("wasm") => "application/wasm",
        Some("css") => "text/css",
        Some("json") => "application/json",
        _ => "application/octet-stream",
    }
}

/// The file under `dist` a request path names (`/` → `index.html`), never outside it.
fn resolve(dist: &Path, url_path: &str) -> Option<PathBuf> {
    let path = url_path.split(['?', '#']).next().unwrap_or("/");
    let mut out = dist.to_owned();
    for c in Path::new(path.trim_start_matches('/')).components() {
        match c {
            Component::Normal(part) => out.push(part),
            Component::CurDir => {}
            _ => return None,
        }
    }
    if out.is_dir() {
        out.push("index.html");
    }
    out.is_file().then_some(out)
}

fn respond(dist: &Path, mut stream: TcpStream) -> std::io::Result<()> {
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    // Skip the headers.
    let mut header = String::new();
    while reader.read_line(&mut header)? > 2 {
        header.clear();
    }
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next().unwrap_or(""), parts.next().unwrap_or("/"));
    if method != "GET" && method != "HEAD" {
        return stream.write_all(
            b"HTTP/1.1 405 Method Not Allowed\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
        );
    }
    let Some(file) = resolve(dist, target) else {
        return stream.write_all(
            b"HTTP/1.1 404 Not Found\r\ncontent-length: 9\r\nconnection: close\r\n\r\nnot found",
        );
    };
    let body = std::fs::read(&file)?;
    write!(
        stream,
        "HTTP/1.1 200 OK\r\ncontent-type: {}\r\ncontent-length: {}\r\ncache-control: no-cache\r\nconnection: close\r\n\r\n",
        content_type(&file),
        body.len()
    )?;
    if method == "GET" {
        stream.write_all(&body)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_never_leave_dist() {
        let dist = std::env::temp_dir().join(format!("xtask-dist-{}", std::process::id()));
        std::fs::create_dir_all(dist.join("pools")).unwrap();
        std::fs::write(dist.join("index.html"), "x").unwrap();
        std::fs::write(dist.join("pools/a.json"), "{}").unwrap();
        assert_eq!(resolve(&dist, "/"), Some(dist.join("index.html")));
        assert_eq!(
            resolve(&dist, "/?backend=cpu"),
            Some(dist.join("index.html"))
        );
        assert_eq!(
            resolve(&dist, "/pools/a.json"),
            Some(dist.join("pools/a.json"))
        );
        assert_eq!(resolve(&dist, "/../etc/passwd"), None);
        assert_eq!(resolve(&dist, "/pools/../../x"), None);
        assert_eq!(resolve(&dist, "/missing.js"), None);
        let _ = std::fs::remove_dir_all(&dist);
    }

    #[test]
    fn the_page_loads_the_hashed_files() {
        let html = index_html(
            "<head>\n  <!-- langbias:head -->\n</head>",
            "a-1.js",
            "b-2.wasm",
            "s-3.css",
            "w-4.js",
        )
        .unwrap();
        assert!(html.contains("href=\"/s-3.css\""));
        assert!(html.contains("from '/a-1.js'") && html.contains("module_or_path: '/b-2.wasm'"));
        assert!(html.contains("window.wasmBindings = bindings"));
        assert!(html.contains(r#"<meta name="langbias-worker" content="/w-4.js" />"#));
        assert!(index_html("<head></head>", "a", "b", "c", "d").is_err());
        let worker = worker_js("a-1.js", "b-2.wasm");
        assert!(
            worker.contains("from '/a-1.js'") && worker.contains("module_or_path: '/b-2.wasm'")
        );
        assert!(worker.trim_end().ends_with("langbias_worker_start();"));
    }
}

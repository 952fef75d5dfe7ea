//! Project automation. `cargo xtask setup` prepares the model; `cargo xtask demo` builds and
//! serves the site; `cargo xtask test` runs every check CI runs.

mod assets;

use std::path::PathBuf;

use anyhow::{Result, bail};

fn repo_root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").canonicalize().unwrap_or_else(|_| PathBuf::from("."))
}

fn main() -> Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let repo = repo_root();
    match args.first().map(String::as_str) {
        Some("setup") => {
            let a = assets::setup(&repo)?;
            println!("model:     {}", a.model_bin.display());
            println!("tokenizer: {}", a.tokenizer_json.display());
            println!("hf dir:    {}", a.hf_dir.display());
            Ok(())
        }
        _ => bail!("usage: cargo xtask <setup|demo|test>"),
    }
}

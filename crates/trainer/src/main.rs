//! `cargo run -p trainer`: cross-lingual alignment training (JSD + InfoNCE) of the encoder.
//!
//! Not implemented yet (issue "Trainer"): the encoder, the LoRA adapter format
//! (`langbias_assets::adapter`) and the evaluator it builds on are in place. Until then this
//! binary says so instead of pretending to train.

fn main() -> std::process::ExitCode {
    eprintln!(
        "trainer: the alignment training (JSD + InfoNCE, LoRA export) is not implemented yet.\n\
         The adapter format it will write is `langbias-lora/1` (crates/langbias-assets/src/adapter.rs);\n\
         the site and `langbias eval --model <adapter>.safetensors` already load such adapters."
    );
    std::process::ExitCode::from(2)
}

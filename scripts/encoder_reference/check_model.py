"""Compares `langbias embed` with a reference file written by make_fixtures.py.

Checks a model other than the base one (an adapter, a fully fine-tuned directory) against
PyTorch/transformers: export it as a Hugging Face directory, let make_fixtures.py encode the
fixture texts with transformers, then embed the same texts with langbias and compare.

    cargo run -p trainer -- export --adapter public/adapters/aligned.safetensors --hf-dir /tmp/aligned-hf
    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ~/.cache/langbias/venv-ref/bin/python \\
        scripts/encoder_reference/make_fixtures.py /tmp/aligned-hf --out /tmp/aligned-ref.json
    python3 scripts/encoder_reference/check_model.py /tmp/aligned-ref.json --model aligned

Prints the worst cosine and the largest absolute difference over all texts; exits non-zero
when a text falls below --min-cosine. Standard library only.
"""
import argparse
import json
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_CLI = os.path.join(
    os.environ.get("CARGO_TARGET_DIR", os.path.expanduser("~/.cache/langbias/target")),
    "debug",
    "langbias",
)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("reference", help="reference.json from make_fixtures.py")
    ap.add_argument("--model", default="aligned", help="langbias --model value")
    ap.add_argument("--cli", default=DEFAULT_CLI, help="the langbias binary")
    ap.add_argument("--backend", default="cpu", help="langbias --backend value (cpu or wgpu)")
    ap.add_argument("--min-cosine", type=float, default=0.99999)
    args = ap.parse_args()

    ref = json.load(open(args.reference, encoding="utf-8"))["texts"]
    worst_cos, worst_abs, worst_id, compared = 1.0, 0.0, None, 0
    for kind in ("query", "passage"):
        texts = [t for t in ref if t["kind"] == kind]
        # One text per line: the fixtures' line breaks would split a text, so those are skipped.
        texts = [t for t in texts if "\n" not in t["text"] and "\r" not in t["text"]]
        out = subprocess.run(
            [args.cli, "embed", "--kind", kind, "--model", args.model, "--backend", args.backend,
             "--file", "-"],
            input="\n".join(t["text"] for t in texts) + "\n",
            capture_output=True,
            text=True,
            cwd=REPO,
            check=True,
        )
        got = [e["embedding"] for e in json.loads(out.stdout)["embeddings"]]
        if len(got) != len(texts):
            sys.exit(f"{kind}: {len(texts)} texts sent, {len(got)} embeddings back")
        compared += len(texts)
        for t, v in zip(texts, got):
            cos = sum(a * b for a, b in zip(v, t["embedding"]))
            diff = max(abs(a - b) for a, b in zip(v, t["embedding"]))
            if cos < worst_cos:
                worst_cos, worst_id = cos, t["id"]
            worst_abs = max(worst_abs, diff)
    print(f"{compared} of {len(ref)} texts: worst cosine {worst_cos:.7f} ({worst_id}), max |diff| {worst_abs:.2e}")
    if worst_cos < args.min_cosine:
        sys.exit(f"below {args.min_cosine}")


if __name__ == "__main__":
    main()

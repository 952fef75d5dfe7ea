"""Independent reference fixtures for the multilingual-e5-small encoder.

Command (from the repository root; the model directory argument is optional):

    HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 \
    ~/.cache/langbias/venv-ref/bin/python scripts/encoder_reference/make_fixtures.py \
        ~/.cache/langbias/models/multilingual-e5-small \
        --out tests/fixtures/encoder/reference.json

What it does, with Hugging Face transformers/tokenizers/PyTorch only (no network:
HF_HUB_OFFLINE/TRANSFORMERS_OFFLINE are forced to 1 and local_files_only=True):

  * tokenizer: PreTrainedTokenizerFast(tokenizer_file=<dir>/tokenizer.json) with
    the XLM-R special tokens (<s>=0, <pad>=1, </s>=2, <unk>=3, <mask>),
  * model: AutoModel (BertModel), fp32, eval mode, eager attention, torch.no_grad,
    torch.manual_seed(0) and torch.use_deterministic_algorithms(True), 1 thread,
  * each text from texts.json is prefixed "query: " or "passage: " by its kind,
    tokenized with truncation=True, max_length=512 (special tokens included),
  * batches of --batch-size texts, right-padded with <pad>, attention_mask,
    token_type_ids all zeros,
  * mean pooling of last_hidden_state over the attention mask, then L2 norm,
  * writes reference.json: generator info, per-text input_ids and the 384-dim
    embedding rounded to 7 significant digits, and the 4x4 cosine matrix of the
    four "cat" passages (cat_en, cat_de, cat_zh, cat_ko).

It also re-encodes every text alone (no padding) and reports the largest
difference to the batched result, and prints the cosine matrix and the first
8 dims of the English cat passage.
"""
import os

os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

import argparse  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import shlex  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402
import safetensors  # noqa: E402
import tokenizers  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402
from transformers import AutoModel, PreTrainedTokenizerFast  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
DEFAULT_MODEL = os.path.expanduser("~/.cache/langbias/models/multilingual-e5-small")
DEFAULT_TEXTS = os.path.join(HERE, "texts.json")
DEFAULT_OUT = os.path.join(REPO, "tests", "fixtures", "encoder", "reference.json")
MAX_LENGTH = 512
PREFIX = {"query": "query: ", "passage": "passage: "}
CAT_IDS = ["cat_en", "cat_de", "cat_zh", "cat_ko"]


def sha256_file(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def sig7(x):
    """Round to 7 significant digits (returns a Python float)."""
    return float(f"{float(x):.7g}")


def home_quote(path):
    """Shell-quote a path, writing $HOME as a bare ~/ so that it still expands."""
    home = os.path.expanduser("~")
    if path == home or path.startswith(home + os.sep):
        path = "~" + path[len(home):]
    if path.startswith("~/"):
        return "~/" + shlex.quote(path[2:])
    return shlex.quote(path)


def load_tokenizer(model_dir):
    tok = PreTrainedTokenizerFast(
        tokenizer_file=os.path.join(model_dir, "tokenizer.json"),
        bos_token="<s>",
        eos_token="</s>",
        sep_token="</s>",
        cls_token="<s>",
        unk_token="<unk>",
        pad_token="<pad>",
        mask_token="<mask>",
        model_max_length=MAX_LENGTH,
        padding_side="right",
        truncation_side="right",
    )
    ids = tok.convert_tokens_to_ids(["<s>", "<pad>", "</s>", "<unk>"])
    assert ids == [0, 1, 2, 3], f"unexpected special token ids {ids}"
    return tok


def encode(model, tok, strings):
    enc = tok(
        strings,
        padding=True,
        truncation=True,
        max_length=MAX_LENGTH,
        return_tensors="pt",
        return_token_type_ids=True,
    )
    out = model(
        input_ids=enc["input_ids"],
        attention_mask=enc["attention_mask"],
        token_type_ids=enc["token_type_ids"],
    )
    hidden = out.last_hidden_state  # [B, T, 384]
    mask = enc["attention_mask"].unsqueeze(-1).to(hidden.dtype)
    pooled = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
    emb = torch.nn.functional.normalize(pooled, p=2, dim=1)
    return enc, emb


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("model_dir", nargs="?", default=DEFAULT_MODEL)
    ap.add_argument("--texts", default=DEFAULT_TEXTS)
    ap.add_argument("--out", default=DEFAULT_OUT)
    ap.add_argument("--batch-size", type=int, default=8)
    args = ap.parse_args()

    model_dir = os.path.abspath(os.path.expanduser(args.model_dir))
    torch.manual_seed(0)
    torch.use_deterministic_algorithms(True)
    torch.set_num_threads(1)

    with open(args.texts, encoding="utf-8") as f:
        texts = json.load(f)

    tok = load_tokenizer(model_dir)
    model = AutoModel.from_pretrained(
        model_dir,
        local_files_only=True,
        torch_dtype=torch.float32,
        attn_implementation="eager",
        add_pooling_layer=False,
    )
    model.eval()
    assert model.config.hidden_size == 384, model.config.hidden_size

    strings = [PREFIX[t["kind"]] + t["text"] for t in texts]
    embs = []
    ids_batched = []
    with torch.no_grad():
        for i in range(0, len(strings), args.batch_size):
            enc, emb = encode(model, tok, strings[i : i + args.batch_size])
            embs.append(emb)
            for row, m in zip(enc["input_ids"].tolist(), enc["attention_mask"].tolist()):
                ids_batched.append([t for t, keep in zip(row, m) if keep])
        emb = torch.cat(embs).to(torch.float64).numpy()

        # Cross-check: each text alone (no padding) and its unpadded input_ids.
        max_diff = 0.0
        for k, s in enumerate(strings):
            enc1, e1 = encode(model, tok, [s])
            assert enc1["input_ids"][0].tolist() == ids_batched[k], texts[k]["id"]
            max_diff = max(max_diff, float(np.abs(e1[0].double().numpy() - emb[k]).max()))

    norms = np.linalg.norm(emb, axis=1)
    assert np.allclose(norms, 1.0, atol=1e-5), norms

    index = {t["id"]: k for k, t in enumerate(texts)}
    cat = emb[[index[c] for c in CAT_IDS]]
    cat = cat / np.linalg.norm(cat, axis=1, keepdims=True)  # exact unit length in float64
    cos = cat @ cat.T

    rel_out = os.path.relpath(os.path.abspath(args.out), REPO)
    if rel_out.startswith(".."):
        rel_out = os.path.abspath(args.out)
    command = (
        "HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1 ~/.cache/langbias/venv-ref/bin/python "
        "scripts/encoder_reference/make_fixtures.py "
        + home_quote(args.model_dir)
        + " --out " + shlex.quote(rel_out)
        + (f" --batch-size {args.batch_size}" if args.batch_size != 8 else "")
    )
    generator = {
        "command": command,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "tokenizers": tokenizers.__version__,
        "safetensors": safetensors.__version__,
        "numpy": np.__version__,
        "model_dir": args.model_dir.replace(os.path.expanduser("~"), "~"),
        "model_safetensors_sha256": sha256_file(os.path.join(model_dir, "model.safetensors")),
        "tokenizer_json_sha256": sha256_file(os.path.join(model_dir, "tokenizer.json")),
        "config_json_sha256": sha256_file(os.path.join(model_dir, "config.json")),
        "dtype": "float32",
        "attention": "eager",
        "prefixes": PREFIX,
        "max_length": MAX_LENGTH,
        "truncation": "right, special tokens included in max_length",
        "pooling": "mean over attention_mask of last_hidden_state, then L2 normalise",
        "batch_size": args.batch_size,
        "rounding": "embedding and cosine values rounded to 7 significant digits",
        "max_abs_diff_batched_vs_single": float(f"{max_diff:.3g}"),
    }

    # Hand-formatted JSON: one line per text record keeps the file small and diffable.
    lines = ["{"]
    lines.append(' "generator": ' + json.dumps(generator, ensure_ascii=False) + ",")
    lines.append(' "texts": [')
    recs = []
    for k, t in enumerate(texts):
        rec = {
            "id": t["id"],
            "lang": t["lang"],
            "kind": t["kind"],
            "text": t["text"],
            "input_ids": ids_batched[k],
            "embedding": [sig7(x) for x in emb[k]],
        }
        recs.append("  " + json.dumps(rec, ensure_ascii=False, separators=(",", ":")))
    lines.append(",\n".join(recs))
    lines.append(" ],")
    lines.append(
        ' "cosine_matrix_cat": '
        + json.dumps([[sig7(x) for x in row] for row in cos])
    )
    lines.append("}")
    os.makedirs(os.path.dirname(os.path.abspath(args.out)), exist_ok=True)
    with open(args.out, "w", encoding="utf-8") as f:
        f.write("\n".join(lines) + "\n")
    json.load(open(args.out, encoding="utf-8"))  # well-formed

    np.set_printoptions(precision=5, suppress=True, linewidth=120)
    print("generator:", json.dumps(generator, indent=1))
    print("cosine matrix (cat_en, cat_de, cat_zh, cat_ko):")
    print(cos)
    print("first 8 dims of 'passage: The cat sits on the mat.':")
    print(emb[index["cat_en"]][:8])
    print("token counts:", {c: len(ids_batched[index[c]]) for c in CAT_IDS})
    print("tokens cat_en:", tok.convert_ids_to_tokens(ids_batched[index["cat_en"]]))
    long_counts = {
        t["id"]: len(tok(strings[k], add_special_tokens=True)["input_ids"])
        for k, t in enumerate(texts)
        if t["id"].startswith("edge_long")
    }
    print("untruncated token counts of long texts:", long_counts)
    print("max |batched - single|:", max_diff)
    print(f"wrote {args.out} ({os.path.getsize(args.out)} bytes, {len(texts)} texts)")


if __name__ == "__main__":
    sys.exit(main())

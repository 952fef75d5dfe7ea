#!/usr/bin/env python3
"""ONNX export of multilingual-e5-small for the onnxruntime-web comparison in tests/bench/site.mjs.

Command (from the repository root; no torch, nothing from a model hub):

    python3 -m venv /tmp/venv-onnx \
      && /tmp/venv-onnx/bin/pip install onnx onnxruntime tokenizers safetensors numpy \
      && /tmp/venv-onnx/bin/python scripts/onnx_export.py [--out ~/.cache/langbias/onnx]

Options: --model-dir DIR (default ~/.cache/langbias/models/multilingual-e5-small, the
directory `cargo xtask setup` exports: the project's e5-small-q4.bin dequantized to fp32),
--out DIR (default ~/.cache/langbias/onnx; never commit the .onnx files), --cli PATH (the
`langbias` binary that gives the reference vectors; default: $LANGBIAS_CLI, else
~/.cache/langbias/target/{release,debug}/langbias), --no-per-channel (per-tensor int8
weights), --no-check (skip the comparison with the CLI).

Writes
  <out>/e5-small.fp32.onnx  the encoder, built node by node with onnx.helper (opset 17):
                            inputs input_ids, attention_mask (int64 [batch, seq]), output
                            embedding (float32 [batch, 384], mean-pooled over the mask and
                            L2-normalised), exactly the computation of
                            crates/langbias-encoder/src/model.rs;
  <out>/e5-small.int8.onnx  the same after onnxruntime.quantization.quantize_dynamic: int8
                            weights (per output channel unless --no-per-channel) for the
                            MatMuls and the word-embedding Gather, activations quantized at
                            run time (DynamicQuantizeLinear + MatMulInteger);
  <out>/bench-tokens.json   the benchmark's 124 passages (the en + de documents of
                            public/pools/everyday.json) as "passage: [bench ort] " + text,
                            tokenised with tokenizer.json and truncated to 512 tokens as our
                            encoder does, plus our CLI's vectors for two of them so that the
                            page can check what it computes.

Check (unless --no-check): `langbias embed --model base --backend cpu --no-cache` embeds the
124 passages and 8 queries; onnxruntime (Python, CPU) embeds the same token ids in padded,
length-sorted batches of 8 with both files. Printed: the lowest and mean cosine per file, and
for each query whether its top-10 over the 124 passages is the CLI's (same order / same set /
overlap). fp32 must reach a cosine of 0.9999 for every text (exit 1 otherwise); the int8
numbers are information.

Conventions copied from the Rust encoder: position ids start at `position_offset` =
0 for `model_type: bert` (multilingual-e5-small's config.json says bert, and its position
table has 512 rows for 512 tokens), pad_token_id + 1 for RoBERTa/XLM-R-style configs
(langbias-assets' Config::position_offset); token type 0 everywhere; post-LayerNorm layers
with the config's eps; exact (erf) GELU; padded keys get -1e9 before the softmax; mean over
real tokens (count clamped to >= 1), then x / max(|x|, 1e-12).
"""
import argparse
import json
import math
import os
import pathlib
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_MODEL_DIR = pathlib.Path.home() / ".cache/langbias/models/multilingual-e5-small"
DEFAULT_OUT = pathlib.Path.home() / ".cache/langbias/onnx"
OPSET = 17
BENCH_TAG = "[bench ort] "  # site.mjs marks its uploads "[bench N] ": ours are marked alike
BATCH = 8  # the batch size of the check here and of tests/bench/ort.html
QUERIES = 8  # queries of the ranking check: every 20th en/de query of the pool
FP32_MIN_COSINE = 0.9999


def position_offset(config):
    """langbias-assets' Config::position_offset: 0 for BERT, pad + 1 for RoBERTa-style models."""
    return 0 if config["model_type"] == "bert" else config["pad_token_id"] + 1


class Graph:
    """A list of nodes and initializers with fresh names; each op returns its output name."""

    def __init__(self):
        self.nodes, self.inits, self.n = [], [], 0

    def const(self, name, array):
        self.inits.append(numpy_helper.from_array(np.ascontiguousarray(array), name))
        return name

    def op(self, op_type, inputs, name=None, **attrs):
        self.n += 1
        out = name or f"{op_type.lower()}_{self.n}"
        self.nodes.append(helper.make_node(op_type, inputs, [out], name=f"{op_type}_{self.n}", **attrs))
        return out


def build_model(weights, config):
    """The encoder as an ONNX ModelProto (opset 17), weights from the safetensors dict."""
    h = config["hidden_size"]
    heads = config["num_attention_heads"]
    head_dim = h // heads
    eps = float(config["layer_norm_eps"])
    offset = position_offset(config)
    g = Graph()
    f32 = lambda x: np.asarray(x, dtype=np.float32)  # noqa: E731
    i64 = lambda x: np.asarray(x, dtype=np.int64)  # noqa: E731
    w = lambda name: f32(weights[name])  # noqa: E731
    # Constants shared by every layer.
    one = g.const("one", f32(1.0))
    half = g.const("half", f32(0.5))
    sqrt2 = g.const("sqrt2", f32(math.sqrt(2.0)))
    scale = g.const("attention_scale", f32(1.0 / math.sqrt(head_dim)))
    big = g.const("mask_big", f32(1e9))
    axis1 = g.const("axis1", i64([1]))
    split_heads = g.const("split_heads_shape", i64([0, 0, heads, head_dim]))
    merge_heads = g.const("merge_heads_shape", i64([0, 0, h]))

    def linear(x, prefix):
        # torch's Linear stores [out, in]; MatMul wants [in, out].
        wt = g.const(f"{prefix}.weight_t", w(f"{prefix}.weight").T)
        return g.op("Add", [g.op("MatMul", [x, wt]), g.const(f"{prefix}.bias", w(f"{prefix}.bias"))])

    def layer_norm(x, prefix):
        return g.op("LayerNormalization", [x, g.const(f"{prefix}.weight", w(f"{prefix}.weight")),
                                           g.const(f"{prefix}.bias", w(f"{prefix}.bias"))],
                    axis=-1, epsilon=eps)

    # Embeddings: word rows + position rows offset..offset+seq + token type 0, LayerNorm.
    word = g.op("Gather", [g.const("embeddings.word_embeddings.weight", w("embeddings.word_embeddings.weight")),
                           "input_ids"], axis=0)
    seq = g.op("Shape", ["input_ids"], start=1, end=2)  # [seq]
    positions = g.op("Slice", [g.const("embeddings.position_embeddings.weight", w("embeddings.position_embeddings.weight")),
                               g.const("position_start", i64([offset])),
                               g.op("Add", [seq, g.const("position_offset", i64([offset]))]),
                               g.const("axis0", i64([0]))])
    token_type = g.const("token_type_0", w("embeddings.token_type_embeddings.weight")[0])
    x = layer_norm(g.op("Add", [g.op("Add", [word, positions]), token_type]), "embeddings.LayerNorm")

    # The mask: float [batch, seq] for the pooling, -1e9 on padded keys for the scores.
    mask = g.op("Cast", ["attention_mask"], to=TensorProto.FLOAT)
    key_bias = g.op("Unsqueeze", [g.op("Mul", [g.op("Sub", [mask, one]), big]), g.const("axes12", i64([1, 2]))])

    for i in range(config["num_hidden_layers"]):
        p = f"encoder.layer.{i}"

        def heads_of(name, perm):
            return g.op("Transpose", [g.op("Reshape", [linear(x, f"{p}.attention.self.{name}"), split_heads])], perm=perm)

        q = heads_of("query", [0, 2, 1, 3])  # [B, heads, S, d]
        k = heads_of("key", [0, 2, 3, 1])  # [B, heads, d, S]
        v = heads_of("value", [0, 2, 1, 3])  # [B, heads, S, d]
        scores = g.op("Add", [g.op("Mul", [g.op("MatMul", [q, k]), scale]), key_bias])
        context = g.op("MatMul", [g.op("Softmax", [scores], axis=-1), v])
        context = g.op("Reshape", [g.op("Transpose", [context], perm=[0, 2, 1, 3]), merge_heads])
        x = layer_norm(g.op("Add", [linear(context, f"{p}.attention.output.dense"), x]), f"{p}.attention.output.LayerNorm")
        inner = linear(x, f"{p}.intermediate.dense")
        # GELU(x) = x * 0.5 * (1 + erf(x / sqrt 2)), in the order torch exports it, which
        # onnxruntime's GeluFusion turns into one Gelu kernel.
        gelu = g.op("Mul", [g.op("Mul", [inner, g.op("Add", [g.op("Erf", [g.op("Div", [inner, sqrt2])]), one])]), half])
        x = layer_norm(g.op("Add", [linear(gelu, f"{p}.output.dense"), x]), f"{p}.output.LayerNorm")

    # Mean over real tokens, then L2 normalisation.
    summed = g.op("ReduceSum", [g.op("Mul", [x, g.op("Unsqueeze", [mask, g.const("axes2", i64([2]))])]), axis1], keepdims=0)
    counts = g.op("Max", [g.op("ReduceSum", [mask, axis1], keepdims=1), one])
    mean = g.op("Div", [summed, counts])
    norm = g.op("Max", [g.op("Sqrt", [g.op("ReduceSum", [g.op("Mul", [mean, mean]), axis1], keepdims=1)]),
                        g.const("norm_floor", f32(1e-12))])
    g.op("Div", [mean, norm], name="embedding")

    graph = helper.make_graph(
        g.nodes, "multilingual-e5-small",
        [helper.make_tensor_value_info("input_ids", TensorProto.INT64, ["batch", "seq"]),
         helper.make_tensor_value_info("attention_mask", TensorProto.INT64, ["batch", "seq"])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["batch", h])],
        g.inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)],
                              producer_name="langbias scripts/onnx_export.py")
    model.ir_version = 8  # opset 17's IR version: loadable by older onnxruntime(-web) too
    return model


def load_weights(model_dir):
    from safetensors.numpy import load_file

    return load_file(str(model_dir / "model.safetensors"))


def tokenizer(model_dir, max_tokens):
    from tokenizers import Tokenizer

    t = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
    t.no_padding()
    # As the Rust TextTokenizer: LongestFirst, stride 0, the tail dropped.
    t.enable_truncation(max_length=max_tokens, strategy="longest_first", direction="right")
    return t


def bench_texts():
    pool = json.loads((REPO / "public/pools/everyday.json").read_text(encoding="utf-8"))
    passages = [BENCH_TAG + d["text"] for d in pool["documents"] if d["lang"] in ("en", "de")]
    queries = [q["text"] for q in pool["queries"] if q["lang"] in ("en", "de")][::20][:QUERIES]
    return passages, queries


def batches(lengths, size):
    """Indices sorted by length, longest first (stable), cut into batches of `size`."""
    order = sorted(range(len(lengths)), key=lambda i: -lengths[i])
    return [order[i:i + size] for i in range(0, len(order), size)]


def embed(session, ids):
    """Embeddings [len(ids), H] of token-id lists, in padded length-sorted batches."""
    out = [None] * len(ids)
    for batch in batches([len(x) for x in ids], BATCH):
        seq = max(len(ids[i]) for i in batch)
        input_ids = np.ones((len(batch), seq), dtype=np.int64)  # pad id 1 (masked anyway)
        mask = np.zeros((len(batch), seq), dtype=np.int64)
        for row, i in enumerate(batch):
            input_ids[row, :len(ids[i])] = ids[i]
            mask[row, :len(ids[i])] = 1
        (emb,) = session.run(["embedding"], {"input_ids": input_ids, "attention_mask": mask})
        for row, i in enumerate(batch):
            out[i] = emb[row]
    return np.stack(out)


def find_cli(arg):
    candidates = [arg, os.environ.get("LANGBIAS_CLI")] + [
        str(pathlib.Path.home() / f".cache/langbias/target/{p}/langbias") for p in ("release", "debug")]
    for c in candidates:
        if c and pathlib.Path(c).is_file():
            return c
    sys.exit("no langbias binary found: pass --cli PATH (or --no-check)")


def cli_embed(cli, kind, texts):
    """Our encoder's vectors (host engine, fp32, no cache) for texts without line breaks."""
    with tempfile.TemporaryDirectory() as tmp:
        src, dst = pathlib.Path(tmp, "texts.txt"), pathlib.Path(tmp, "vectors.npy")
        src.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
        subprocess.run([cli, "embed", "--kind", kind, "--model", "base", "--backend", "cpu", "--no-cache",
                        "--format", "npy", "-o", str(dst), "-f", str(src)], check=True)
        vectors = np.load(dst)
    assert vectors.shape[0] == len(texts), vectors.shape
    return vectors


def check(out, tok, passages, queries, cli):
    """Prints cosines against the CLI and the top-10 agreement; returns the fp32 minimum cosine."""
    import onnxruntime as ort

    print(f"reference: {cli} embed --model base --backend cpu --no-cache "
          f"({len(passages)} passages, {len(queries)} queries)", flush=True)
    ref_p = cli_embed(cli, "passage", passages)
    ref_q = cli_embed(cli, "query", queries)
    p_ids = [tok.encode("passage: " + t).ids for t in passages]
    q_ids = [tok.encode("query: " + t).ids for t in queries]
    ref_top = [np.argsort(-(ref_p @ q), kind="stable")[:10] for q in ref_q]
    results = {}
    for kind in ("fp32", "int8"):
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = 2
        session = ort.InferenceSession(str(out / f"e5-small.{kind}.onnx"), opts, providers=["CPUExecutionProvider"])
        t0 = time.perf_counter()
        emb_p = embed(session, p_ids)
        seconds = time.perf_counter() - t0
        emb_q = embed(session, q_ids)
        cos = np.concatenate([(emb_p * ref_p).sum(1), (emb_q * ref_q).sum(1)])
        print(f"{kind}: cosine with the CLI over {len(cos)} texts: min {cos.min():.6f}, mean {cos.mean():.6f} "
              f"(onnxruntime {ort.__version__} Python CPU, 2 threads: {len(passages) / seconds:.1f} passages/s)")
        same_order = same_set = 0
        overlaps = []
        for qi, q in enumerate(emb_q):
            top = np.argsort(-(emb_p @ q), kind="stable")[:10]
            same_order += bool((top == ref_top[qi]).all())
            same_set += set(top) == set(ref_top[qi])
            overlaps.append(len(set(top) & set(ref_top[qi])))
        print(f"{kind}: top-10 of {len(queries)} queries over {len(passages)} passages vs the CLI: "
              f"{same_order} in the same order, {same_set} as the same set, overlap per query {overlaps}")
        results[kind] = cos.min()
    return results["fp32"], ref_p


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model-dir", type=pathlib.Path, default=DEFAULT_MODEL_DIR)
    ap.add_argument("--out", type=pathlib.Path, default=DEFAULT_OUT)
    ap.add_argument("--cli", default=None, help="the langbias binary that gives the reference vectors")
    ap.add_argument("--no-per-channel", action="store_true", help="per-tensor int8 weights")
    ap.add_argument("--no-check", action="store_true", help="skip the comparison with the CLI")
    args = ap.parse_args(argv)
    args.out = args.out.expanduser()
    args.out.mkdir(parents=True, exist_ok=True)
    config = json.loads((args.model_dir / "config.json").read_text())
    offset = position_offset(config)
    max_tokens = config["max_position_embeddings"] - offset  # Config::max_tokens
    print(f"model: {args.model_dir} ({config['model_type']}, {config['num_hidden_layers']} layers, "
          f"hidden {config['hidden_size']}, position ids from {offset}, at most {max_tokens} tokens)", flush=True)

    # 1. fp32: built, checked by onnx, written (the file is ~470 MB, under protobuf's 2 GB).
    fp32 = args.out / "e5-small.fp32.onnx"
    model = build_model(load_weights(args.model_dir), config)
    onnx.checker.check_model(model)
    tmp = fp32.with_suffix(".tmp")
    onnx.save(model, str(tmp))
    os.replace(tmp, fp32)
    del model
    print(f"wrote {fp32} ({fp32.stat().st_size / 2**20:.0f} MiB, opset {OPSET})", flush=True)

    # 2. int8: dynamic quantization (weights int8 now, activations uint8 at run time).
    from onnxruntime.quantization import QuantType, quantize_dynamic

    int8 = args.out / "e5-small.int8.onnx"
    tmp = int8.with_suffix(".tmp.onnx")
    quantize_dynamic(fp32, tmp, weight_type=QuantType.QInt8, per_channel=not args.no_per_channel)
    os.replace(tmp, int8)
    print(f"wrote {int8} ({int8.stat().st_size / 2**20:.0f} MiB, QInt8 weights, "
          f"{'per-tensor' if args.no_per_channel else 'per-channel'})", flush=True)

    # 3. The benchmark's token ids.
    tok = tokenizer(args.model_dir, max_tokens)
    passages, queries = bench_texts()
    ids = [tok.encode("passage: " + t).ids for t in passages]
    bench = {
        "what": "tests/bench/site.mjs's 124 passages (en + de of public/pools/everyday.json) for onnxruntime-web",
        "text": '"passage: " + "' + BENCH_TAG + '" + text',
        "max_tokens": max_tokens,
        "batch": BATCH,
        "tokens": sum(map(len, ids)),
        "passages": ids,
        "reference": [],
    }

    # 4. The check against our CLI; two of its vectors (the longest and the shortest passage)
    # go to bench-tokens.json so that the page reports the cosine of what it computed.
    status = 0
    if not args.no_check:
        fp32_min, ref_p = check(args.out, tok, passages, queries, find_cli(args.cli))
        longest, shortest = int(np.argmax(list(map(len, ids)))), int(np.argmin(list(map(len, ids))))
        bench["reference"] = [{"index": i, "embedding": [round(float(v), 7) for v in ref_p[i]]}
                              for i in (longest, shortest)]
        if fp32_min < FP32_MIN_COSINE:
            print(f"FAIL: fp32 cosine {fp32_min:.6f} < {FP32_MIN_COSINE}", file=sys.stderr)
            status = 1
        else:
            print(f"ok: fp32 cosine >= {FP32_MIN_COSINE} for every text")
    tokens = args.out / "bench-tokens.json"
    tokens.write_text(json.dumps(bench), encoding="utf-8")
    print(f"wrote {tokens} ({len(ids)} passages, {bench['tokens']} tokens, longest {max(map(len, ids))})")
    return status


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Correctness and speed on a real GPU, in one go (a GPU machine is lent for minutes, not hours):
#   1. the encoder fixtures on the wgpu backend against the committed PyTorch reference;
#   2. the encoder benchmark (XQuAD en) on wgpu, two rounds each (the first compiles and
#      autotunes kernels), with lengths rounded to 32 (the default), exact and rounded to 8, beside
#      PyTorch/transformers on CUDA with the same fp32 weights (the base model exported as a
#      Hugging Face directory);
#   3. wgpu training runs (`trainer train --backend wgpu --devices 1` + flags): TRAIN_RUNS is
#      `NAME FLAGS…` entries separated by `;` (default a 24-step probe), each written to
#      OUT/train-NAME (checkpoints removed);
#   4. an evaluation on all XQuAD languages with the wgpu backend, base vs the shipped adapter
#      and the adapters step 3 trained: compare with the CPU table;
#   5. the CPU benchmark on that machine's cores: the host engine (`cpu`), the burn module on
#      burn's CPU backend (`flex`) and PyTorch.
# Steps run in that order and are skipped once DEADLINE seconds have passed; STEPS (names
# separated by spaces) runs only those.
#
#   LANGBIAS=… TRAINER=… XQUAD=dir OUT=dir [PYTHON=python3] [DEADLINE=420] [STEPS="…"] \
#     [TRAIN_RUNS="probe --max-steps 24; …"] scripts/gpu/run_checks.sh
#
# The model comes from `cargo xtask setup` (or LANGBIAS_CACHE); PYTHON needs torch, transformers,
# tokenizers and numpy. Results land in OUT as JSON/text; the last lines print a summary.
set -u
: "${LANGBIAS:?the langbias binary}" "${TRAINER:?the trainer binary}" "${XQUAD:?XQuAD dir}" "${OUT:?output dir}"
PYTHON=${PYTHON:-python3}
DEADLINE=${DEADLINE:-420}
STEPS=${STEPS:-fixtures-wgpu bench-wgpu bench-wgpu-exact bench-wgpu-8 export-hf bench-torch-cuda train eval-wgpu bench-cpu bench-flex bench-torch-cpu}
TRAIN_RUNS=${TRAIN_RUNS:-probe --max-steps 24}
WORK=$(mktemp -d)
START=$(date +%s)
mkdir -p "$OUT"

step() { # step NAME LIMIT_S COMMAND…: runs COMMAND under a timeout, logs to OUT/NAME.log
  local name=$1 limit=$2 left
  shift 2
  [[ " $STEPS " == *" $name "* ]] || return
  left=$((DEADLINE - ($(date +%s) - START)))
  if ((left < 20)); then
    echo "== $name: skipped (deadline)"
    return
  fi
  ((limit > left)) && limit=$left
  echo "== $name (limit ${limit}s)"
  local t0=$(date +%s)
  timeout "$limit" "$@" >"$OUT/$name.log" 2>&1
  echo "   rc $? in $(($(date +%s) - t0)) s"
  tail -n 3 "$OUT/$name.log" | sed 's/^/   /'
}

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 | tee "$OUT/gpu.txt"
nproc | tee -a "$OUT/gpu.txt"

step fixtures-wgpu 90 "$PYTHON" scripts/encoder_reference/check_model.py \
  tests/fixtures/encoder/reference.json --model base --backend wgpu --cli "$LANGBIAS" --min-cosine 0.9999
step bench-wgpu 120 "$LANGBIAS" bench --backend wgpu --rounds 2 --xquad "$XQUAD/xquad.en.json" \
  --json "$OUT/bench-wgpu.json"
step bench-wgpu-exact 120 "$LANGBIAS" bench --backend wgpu --rounds 2 --seq-multiple 1 \
  --xquad "$XQUAD/xquad.en.json" --json "$OUT/bench-wgpu-exact.json"
step bench-wgpu-8 120 "$LANGBIAS" bench --backend wgpu --rounds 2 --seq-multiple 8 \
  --xquad "$XQUAD/xquad.en.json" --json "$OUT/bench-wgpu-8.json"
step export-hf 40 "$TRAINER" export --hf-dir "$WORK/hf"
step bench-torch-cuda 90 "$PYTHON" scripts/bench/encode_xquad.py --engine torch --device cuda --threads "$(nproc)" \
  --xquad "$XQUAD/xquad.en.json" --model-dir "$WORK/hf" --json "$OUT/bench-torch-cuda.json"
trained=()
if [[ " $STEPS " == *" train "* ]]; then
  IFS=';' read -ra runs <<<"$TRAIN_RUNS"
  for run in "${runs[@]}"; do
    read -ra flags <<<"$run"
    name=${flags[0]}
    # STEPS names the run for `step`, which only runs the steps STEPS lists.
    STEPS="train-$name" step "train-$name" 400 "$TRAINER" train --config crates/trainer/configs/aligned.toml \
      --backend wgpu --devices 1 --quiet --out "$OUT/train-$name" "${flags[@]:1}"
    rm -rf "$OUT/train-$name/checkpoint"
    [[ -f "$OUT/train-$name/adapter.safetensors" ]] && trained+=(--model "$name=$OUT/train-$name/adapter.safetensors")
  done
fi
step eval-wgpu 180 "$LANGBIAS" eval --backend wgpu --data "$XQUAD" --langs all --scenarios mix,mono \
  --model base --model aligned=public/adapters/aligned.safetensors "${trained[@]}" --no-cache --out "$WORK/eval"
mkdir -p "$OUT/eval" && cp "$WORK"/eval/report.*.json "$OUT/eval/" 2>/dev/null
step bench-cpu 90 "$LANGBIAS" bench --backend cpu --xquad "$XQUAD/xquad.en.json" --json "$OUT/bench-cpu.json"
step bench-flex 90 "$LANGBIAS" bench --backend flex --xquad "$XQUAD/xquad.en.json" --json "$OUT/bench-flex.json"
step bench-torch-cpu 90 "$PYTHON" scripts/bench/encode_xquad.py --engine torch --device cpu --threads "$(nproc)" \
  --xquad "$XQUAD/xquad.en.json" --model-dir "$WORK/hf" --json "$OUT/bench-torch-cpu.json"

echo "== summary ($(($(date +%s) - START)) s)"
"$PYTHON" - "$OUT" <<'EOF'
import json, os, sys
out = sys.argv[1]
for name in ("bench-wgpu", "bench-wgpu-exact", "bench-wgpu-8", "bench-torch-cuda", "bench-cpu", "bench-flex",
             "bench-torch-cpu"):
    try:
        r = json.load(open(os.path.join(out, name + ".json")))
    except (OSError, ValueError):
        print(f"{name}: no result")
        continue
    res = r["sets"]
    cells = []
    for key in ("paragraphs", "questions"):
        x = res.get(key, {})
        first = x.get("first_round_seconds")
        cells.append(f"{key} {x.get('texts_per_second'):.1f} texts/s {x.get('tokens_per_second'):.0f} tok/s"
                     + (f" (first round {first:.2f} s, last {x.get('seconds'):.2f} s)" if first else ""))
    print(f"{name}: " + "; ".join(cells) + f"; load {r.get('load_seconds')} s")
EOF

#!/usr/bin/env python3
"""How far two rankings of the same queries agree: TREC run files of two `langbias eval`
directories (e.g. the f32 and the 8-bit encoder), per file name present in both.

Usage: python3 scripts/run_agreement.py runs/eval-test-base runs/eval-test-base-int8 [GLOB]
GLOB defaults to `*.base.run`. Prints per file and overall: queries, the share whose top hit is
the same, the mean overlap of the top-10 sets (out of 10) and the share of queries whose whole
top-10 is in the same order.
"""
import pathlib
import sys


def read_run(path):
    runs = {}
    for line in path.read_text().splitlines():
        qid, _, doc, rank, _score, _tag = line.split()
        runs.setdefault(qid, []).append((int(rank), doc))
    return {q: [d for _, d in sorted(v)] for q, v in runs.items()}


a_dir, b_dir = map(pathlib.Path, sys.argv[1:3])
pattern = sys.argv[3] if len(sys.argv) > 3 else "*.base.run"
totals = [0, 0, 0.0, 0]
print(f"{'file':<24} {'queries':>7} {'top-1 same':>10} {'top-10 overlap':>14} {'top-10 order same':>17}")
for a_path in sorted(a_dir.glob(pattern)):
    b_path = b_dir / a_path.name
    if not b_path.exists():
        continue
    a, b = read_run(a_path), read_run(b_path)
    qs = sorted(set(a) & set(b))
    top1 = sum(a[q][0] == b[q][0] for q in qs)
    overlap = sum(len(set(a[q][:10]) & set(b[q][:10])) for q in qs)
    order = sum(a[q][:10] == b[q][:10] for q in qs)
    n = len(qs)
    totals = [totals[0] + n, totals[1] + top1, totals[2] + overlap, totals[3] + order]
    print(f"{a_path.name:<24} {n:>7} {top1 / n:>10.3f} {overlap / n:>14.2f} {order / n:>17.3f}")
n = totals[0]
if n:
    print(f"{'all':<24} {n:>7} {totals[1] / n:>10.3f} {totals[2] / n:>14.2f} {totals[3] / n:>17.3f}")

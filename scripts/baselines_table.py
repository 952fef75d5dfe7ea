#!/usr/bin/env python3
"""Markdown tables of models and training-free baselines from `langbias eval` directories.

Usage: python3 scripts/baselines_table.py runs/eval-test-base runs/eval-test-aligned
Reads every report.<model>.json; prints (1) per language, MIX Max@R mean / Complete@10 for each
model, (2) means over the non-English languages of MIX Max@R (also over the unseen languages),
Complete@10, MIX nDCG@1 and MONO nDCG@10 / nDCG@1 (MONO averaged over all languages), and
(3) the same over the unseen languages only, with MIX mAP and, when the reports have the
`unpaired` scenario, its nDCG@1.
"""
import json
import pathlib
import sys

UNSEEN = ["ar", "hi"]  # XQuAD languages absent from the shipped adapter's training data
ORDER = ["base", "base+centre", "base+centre-q", "base+procrustes", "base+zscore", "base+routed",
         "aligned", "aligned+centre", "aligned+centre-q", "aligned+zscore"]

models = {}
for d in map(pathlib.Path, sys.argv[1:]):
    for path in sorted(d.glob("report.*.json")):
        r = json.loads(path.read_text())
        for s in r["scores"]:
            models.setdefault(r["model"], {}).setdefault(s["kind"], {})[s["language"]] = s
names = [n for n in ORDER if n in models] + [n for n in models if n not in ORDER]
langs = sorted(next(iter(models.values()))["mix"])


def mean(rows, key, ls):
    return sum(rows[l][key] for l in ls) / len(ls)


print("| lang | " + " | ".join(names) + " |")
print("|---|" + "---:|" * len(names))
for l in langs:
    cells = [f"{models[n]['mix'][l]['max_at_r_mean']:.2f} / {models[n]['mix'][l]['complete_at_10']:.3f}" for n in names]
    print(f"| {l}{' (unseen)' if l in UNSEEN else ''} | " + " | ".join(cells) + " |")
print()
print("| model | MIX Max@R | MIX Max@R (ar, hi) | Complete@10 | MIX nDCG@1 | MONO nDCG@10 | MONO nDCG@1 |")
print("|---|---:|---:|---:|---:|---:|---:|")
for n in names:
    mix, mono = models[n]["mix"], models[n]["mono"]
    all_mono = sorted(mono)
    print(f"| {n} | {mean(mix, 'max_at_r_mean', langs):.2f} | {mean(mix, 'max_at_r_mean', UNSEEN):.2f} | "
          f"{mean(mix, 'complete_at_10', langs):.3f} | {mean(mix, 'ndcg_at_1', langs):.3f} | "
          f"{mean(mono, 'ndcg_at_10', all_mono):.3f} | {mean(mono, 'ndcg_at_1', all_mono):.3f} |")
print()
unpaired = all("unpaired" in models[n] for n in names)
print("| model (ar, hi) | MIX Max@R | Complete@10 | MIX nDCG@1 | MONO nDCG@10 | MONO nDCG@1 | MIX mAP |"
      + (" UNPAIRED nDCG@1 |" if unpaired else ""))
print("|---|" + "---:|" * (7 if unpaired else 6))
for n in names:
    mix, mono = models[n]["mix"], models[n]["mono"]
    cells = [mean(mix, "max_at_r_mean", UNSEEN), mean(mix, "complete_at_10", UNSEEN),
             mean(mix, "ndcg_at_1", UNSEEN), mean(mono, "ndcg_at_10", UNSEEN),
             mean(mono, "ndcg_at_1", UNSEEN), mean(mix, "map", UNSEEN)]
    if unpaired:
        cells.append(mean(models[n]["unpaired"], "ndcg_at_1", UNSEEN))
    print(f"| {n} | {cells[0]:.2f} | " + " | ".join(f"{c:.3f}" for c in cells[1:]) + " |")

#!/usr/bin/env python3
"""Markdown tables of models and training-free baselines from `langbias eval` directories.

Usage: python3 scripts/baselines_table.py runs/eval-test-base runs/eval-test-aligned
Reads every report.<model>.json; prints (1) per language, MIX Max@R mean / Complete@10 for each
model and (2) means over the non-English languages (and over `--unseen` languages) of MIX
Max@R, Complete@10, MIX nDCG@1 and MONO nDCG@10 / nDCG@1 (MONO averaged over all languages).
"""
import json
import pathlib
import sys

UNSEEN = ["ar", "hi"]  # XQuAD languages absent from the shipped adapter's training data
ORDER = ["base", "base+centre", "base+centre-q", "base+procrustes", "aligned", "aligned+centre", "aligned+centre-q"]

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

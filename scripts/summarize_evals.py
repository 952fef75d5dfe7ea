#!/usr/bin/env python3
"""Markdown table from `langbias eval` output directories (report.<model>.json files).

Usage: python3 scripts/summarize_evals.py runs/eval-main [runs/eval-ablate-nce ...]
One row per (directory, model, language): MIX Max@R mean/median, Complete@10, MIX nDCG@10,
native-above rate, and MONO nDCG@10; plus each model's mean over languages.
"""
import json
import pathlib
import sys


def rows(report):
    by = {}
    for s in report["scores"]:
        by.setdefault(s["language"], {})[s["kind"]] = s
    return by


def fmt(v, digits=3):
    return "–" if v is None else f"{v:.{digits}f}"


print("| run | model | lang | MIX Max@R mean | MIX Max@R med | Complete@10 | MIX nDCG@10 | native-above | MONO nDCG@10 |")
print("|---|---|---|---:|---:|---:|---:|---:|---:|")
for d in map(pathlib.Path, sys.argv[1:]):
    for path in sorted(d.glob("report.*.json")):
        report = json.loads(path.read_text())
        table = rows(report)
        means = {k: [] for k in ("maxr", "med", "c10", "ndcg", "nat", "mono")}
        for lang in sorted(table):
            mix, mono = table[lang].get("mix"), table[lang].get("mono")
            vals = {
                "maxr": mix and mix["max_at_r_mean"], "med": mix and mix["max_at_r_median"],
                "c10": mix and mix["complete_at_10"], "ndcg": mix and mix["ndcg_at_10"],
                "nat": mix and mix["native_above_rate"], "mono": mono and mono["ndcg_at_10"],
            }
            for k, v in vals.items():
                if v is not None:
                    means[k].append(v)
            print(f"| {d.name} | {report['model']} | {lang} | {fmt(vals['maxr'], 2)} | {fmt(vals['med'], 1)} | "
                  f"{fmt(vals['c10'])} | {fmt(vals['ndcg'])} | {fmt(vals['nat'])} | {fmt(vals['mono'])} |")
        avg = {k: (sum(v) / len(v) if v else None) for k, v in means.items()}
        print(f"| {d.name} | **{report['model']}** | mean | {fmt(avg['maxr'], 2)} | {fmt(avg['med'], 1)} | "
              f"{fmt(avg['c10'])} | {fmt(avg['ndcg'])} | {fmt(avg['nat'])} | {fmt(avg['mono'])} |")

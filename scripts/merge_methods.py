#!/usr/bin/env python3
"""Other ways to merge two per-language lists than z-scores, on routed scores.

Usage: python3 scripts/merge_methods.py OWN_DIR OWN_RUN CROSS_DIR CROSS_RUN [SCENARIO] [LANGS]

OWN_DIR/OWN_RUN and CROSS_DIR/CROSS_RUN are `langbias eval --debias none --depth 1000` runs of
two models over the same data and split (the depth keeps every document), e.g. `base` and
`aligned`. For each MIX (or UNPAIRED) question of the languages given (default: ar,hi) the L
paragraphs take OWN_RUN's cosines and the English ones CROSS_RUN's (routing, as
`langbias_eval::routing`), each language's scores are normalised by one of the methods below,
and the two lists are merged by the normalised score (ties: document id descending, as
trec_eval). Printed per method: mean Max@R, Complete@10 and nDCG@1 (binary judgements: the
first document is relevant). `z` is what `--debias routed` does, and reproduces its numbers.

- z:       (s − mean) / population standard deviation, over the language's documents
- minmax:  (s − min) / (max − min)
- zmax:    (s − max) / standard deviation (each language's best at 0)
- robust:  (s − median) / median absolute deviation
- ztop10, ztop30: z with the mean and deviation of the language's 10 / 30 best scores only
"""
import math
import pathlib
import statistics
import sys

from merge_floor import read_qrels, read_run


def mean_sd(values):
    m = sum(values) / len(values)
    return m, math.sqrt(sum((x - m) ** 2 for x in values) / len(values))


def z(sc):
    m, sd = mean_sd(list(sc.values()))
    return {d: (x - m) / sd for d, x in sc.items()}


def minmax(sc):
    lo, hi = min(sc.values()), max(sc.values())
    return {d: (x - lo) / (hi - lo) for d, x in sc.items()}


def zmax(sc):
    _, sd = mean_sd(list(sc.values()))
    best = max(sc.values())
    return {d: (x - best) / sd for d, x in sc.items()}


def robust(sc):
    med = statistics.median(sc.values())
    mad = statistics.median(abs(x - med) for x in sc.values())
    return {d: (x - med) / mad for d, x in sc.items()}


def ztop(k):
    def norm(sc):
        m, sd = mean_sd(sorted(sc.values(), reverse=True)[:k])
        return {d: (x - m) / sd for d, x in sc.items()}

    return norm


METHODS = {"z": z, "minmax": minmax, "zmax": zmax, "robust": robust, "ztop10": ztop(10), "ztop30": ztop(30)}


def main():
    if len(sys.argv) < 5:
        sys.exit(__doc__)
    own_dir, own_run, cross_dir, cross_run = sys.argv[1:5]
    scenario = sys.argv[5] if len(sys.argv) > 5 else "mix"
    langs = sys.argv[6].split(",") if len(sys.argv) > 6 else ["ar", "hi"]
    data = []
    for lang in langs:
        qrels = read_qrels(pathlib.Path(own_dir) / f"{scenario}.{lang}.qrels")
        own = read_run(pathlib.Path(own_dir) / f"{scenario}.{lang}.{own_run}.run")
        cross = read_run(pathlib.Path(cross_dir) / f"{scenario}.{lang}.{cross_run}.run")
        for q, rel in qrels.items():
            if set(own[q]) != set(cross[q]) or not rel <= set(own[q]):
                sys.exit(f"{q}: the runs do not hold every document; use --depth 1000")
            in_lang = {d: s for d, s in own[q].items() if d.endswith("." + lang)}
            english = {d: s for d, s in cross[q].items() if d.endswith(".en")}
            data.append((rel, in_lang, english))
    print(f"| {scenario} ({', '.join(langs)}), {len(data)} questions | Max@R | Complete@10 | nDCG@1 |")
    print("|---|---:|---:|---:|")
    for name, norm in METHODS.items():
        maxr, c10, top1 = [], [], []
        for rel, in_lang, english in data:
            sc = {**norm(in_lang), **norm(english)}
            order = sorted(sorted(sc, reverse=True), key=lambda d: -sc[d])
            worst = max(order.index(d) + 1 for d in rel)
            maxr.append(worst)
            c10.append(worst <= 10)
            top1.append(order[0] in rel)
        n = len(data)
        print(f"| {name} | {sum(maxr) / n:.2f} | {sum(c10) / n:.3f} | {sum(top1) / n:.3f} |")


if __name__ == "__main__":
    main()

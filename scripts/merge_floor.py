#!/usr/bin/env python3
"""The lowest MIX Max@R any per-language merge of a model's rankings can reach.

Usage: python3 scripts/merge_floor.py EVAL_DIR MODEL [MODEL+METHOD ...]

EVAL_DIR is a `langbias eval --scenarios mix --depth 1000` output directory (the run files must
hold every document, hence the depth). For each MIX pool (L questions over the English and L
paragraphs; the XQuAD document ids end in `.en` / `.L`) and each question, with r_L the rank of
the relevant L paragraph among the L paragraphs and r_en that of the relevant English paragraph
among the English ones, both under MODEL's own scores:

    floor = r_L + r_en

Any ranking that keeps each language's own order (z-scores, any per-language calibration, any
interleaving) must place r_L − 1 L paragraphs before the L answer and r_en − 1 English ones
before the English answer, so the later of the two answers comes at r_L + r_en or below; placing
those paragraphs first reaches it. The mean floor is what a perfect merge of MODEL's two
per-language lists would score. Printed beside it, per language and over ar + hi: the Max@R
mean of each named run (e.g. `aligned+zscore`) and the share of questions whose English answer
leads the English paragraphs (the model's cross-lingual top-1).
"""
import collections
import pathlib
import sys

UNSEEN = ["ar", "hi"]


def read_run(path):
    scores = collections.defaultdict(dict)
    for line in path.read_text().splitlines():
        qid, _, doc, _, score, _ = line.split()
        scores[qid][doc] = float(score)
    return scores


def read_qrels(path):
    rel = collections.defaultdict(set)
    for line in path.read_text().splitlines():
        qid, _, doc, grade = line.split()
        if int(grade) > 0:
            rel[qid].add(doc)
    return rel


def rank_of(doc, scores, pool):
    """1-based rank of `doc` among `pool` (ties count against it, as a pessimistic floor)."""
    s = scores[doc]
    return 1 + sum(1 for d in pool if d != doc and scores[d] >= s)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    out, model, others = pathlib.Path(sys.argv[1]), sys.argv[2], sys.argv[3:]
    langs = sorted(p.name.split(".")[1] for p in out.glob("mix.*.qrels"))
    if not langs:
        sys.exit(f"{out}: no mix.*.qrels (run `langbias eval --scenarios mix --depth 1000`)")
    print(f"| lang | floor ({model}) | " + " | ".join(f"{m} Max@R" for m in [model, *others])
          + f" | English answer first among English ({model}) |")
    print("|---|---:|" + "---:|" * (len(others) + 1) + "---:|")
    sums = collections.defaultdict(list)
    for lang in langs:
        qrels = read_qrels(out / f"mix.{lang}.qrels")
        runs = {m: read_run(out / f"mix.{lang}.{m}.run") for m in [model, *others]}
        floors, first = [], []
        maxr = {m: [] for m in runs}
        for qid, rel in qrels.items():
            base = runs[model][qid]
            docs = list(base)
            for m, run in runs.items():
                if set(run[qid]) != set(docs) or not rel <= set(docs):
                    sys.exit(f"{out}: run {m} of {qid} does not hold every document; use --depth 1000")
                # trec_eval's order: score descending, then document id descending.
                order = sorted(sorted(run[qid], reverse=True), key=lambda d: -run[qid][d])
                maxr[m].append(max(order.index(d) + 1 for d in rel))
            r = {}
            for d in rel:
                side = d.rsplit(".", 1)[1]
                r[side] = rank_of(d, base, [x for x in docs if x.endswith("." + side)])
            floors.append(r[lang] + r["en"])
            first.append(r["en"] == 1)
        row = [sum(floors) / len(floors)] + [sum(v) / len(v) for v in maxr.values()] + [sum(first) / len(first)]
        for i, v in enumerate(row):
            sums[i].append((lang, v))
        print(f"| {lang} | " + " | ".join(f"{v:.2f}" for v in row[:-1]) + f" | {row[-1]:.3f} |")
    unseen = [[v for l, v in sums[i] if l in UNSEEN] for i in range(len(sums))]
    if all(len(u) == len(UNSEEN) for u in unseen):
        cells = [sum(u) / len(u) for u in unseen]
        print("| ar + hi | " + " | ".join(f"{v:.2f}" for v in cells[:-1]) + f" | {cells[-1]:.3f} |")


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Is a difference in nDCG@1 between two runs more than noise? A paired comparison per question.

Usage: python3 scripts/paired_top1.py DIR_A RUN_A DIR_B RUN_B [LANG,LANG...]

DIR_A and DIR_B are `langbias eval` output directories over the same data and split; RUN_A and
RUN_B name a run in each (e.g. `base` and `aligned+zscore`). For every scenario present in both
(mix, mono, unpaired) and the languages given (default: ar,hi), each question scores
nDCG@1 = rel(first document) / max rel of its qrels (with XQuAD's binary judgements: 1 when the
first document is relevant) under both runs, and the script prints the mean difference B − A in
points, its standard error over questions (sample standard deviation / sqrt(n)), and how many
questions B wins and loses. The first document is the run file's rank 1, the evaluator's own
tie-breaking.
"""
import collections
import math
import pathlib
import sys


def read_qrels(path):
    rel = collections.defaultdict(dict)
    for line in path.read_text().splitlines():
        q, _, d, r = line.split()
        rel[q][d] = int(r)
    return rel


def first_documents(path):
    first = {}
    for line in path.read_text().splitlines():
        q, _, d, rank, _, _ = line.split()
        if int(rank) == 1:
            first[q] = d
    return first


def ndcg1(rel, first):
    out = {}
    for q, judged in rel.items():
        best = max(judged.values())
        out[q] = judged.get(first.get(q), 0) / best if best > 0 else 0.0
    return out


def main(argv):
    if len(argv) not in (4, 5):
        sys.exit(__doc__)
    dir_a, run_a, dir_b, run_b = pathlib.Path(argv[0]), argv[1], pathlib.Path(argv[2]), argv[3]
    langs = (argv[4] if len(argv) == 5 else "ar,hi").split(",")
    print(f"| scenario | nDCG@1 {run_a} | nDCG@1 {run_b} | B − A (points) | SE | B wins | B loses | questions |")
    print("|---|---:|---:|---:|---:|---:|---:|---:|")
    for scenario in ["mix", "mono", "unpaired"]:
        a_all, b_all = [], []
        for lang in langs:
            qrels = dir_a / f"{scenario}.{lang}.qrels"
            files = [qrels, dir_a / f"{scenario}.{lang}.{run_a}.run", dir_b / f"{scenario}.{lang}.{run_b}.run"]
            if not all(f.is_file() for f in files):
                break
            rel = read_qrels(qrels)
            other = dir_b / f"{scenario}.{lang}.qrels"
            if other.is_file() and read_qrels(other) != rel:
                sys.exit(f"{qrels} and {other} differ: the two runs are not over the same data")
            a = ndcg1(rel, first_documents(files[1]))
            b = ndcg1(rel, first_documents(files[2]))
            a_all += [a[q] for q in rel]
            b_all += [b[q] for q in rel]
        else:
            n = len(a_all)
            if n < 2:
                continue
            d = [y - x for x, y in zip(a_all, b_all)]
            mean = sum(d) / n
            sd = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1))
            print(
                f"| {scenario} | {sum(a_all) / n:.3f} | {sum(b_all) / n:.3f} | {100 * mean:+.2f} | "
                f"{100 * sd / math.sqrt(n):.2f} | {sum(x > 0 for x in d)} | {sum(x < 0 for x in d)} | {n} |"
            )


if __name__ == "__main__":
    main(sys.argv[1:])

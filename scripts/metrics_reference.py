#!/usr/bin/env python3
"""Independent reference values for langbias-eval's metrics, computed with pytrec_eval.

Exact command (from the repository root):

    python3 -m venv /tmp/venv-metrics \
      && /tmp/venv-metrics/bin/pip install pytrec-eval-terrier==0.5.11 \
      && /tmp/venv-metrics/bin/python scripts/metrics_reference.py

Pinned: pytrec-eval-terrier==0.5.11 (PyPI; module name `pytrec_eval`, wraps trec_eval 9).

Reads  tests/fixtures/metrics/run.json   {query: {doc: score}}
       tests/fixtures/metrics/qrels.json {query: {doc: grade}}
Writes tests/fixtures/metrics/pytrec_eval.json
       {query: {ndcg_cut_1, ndcg_cut_10, recip_rank, recall_5, recall_10, map}}

The Rust test `crates/langbias-eval/tests/pytrec_reference.rs` recomputes these values
and asserts agreement to 1e-6. Note that trec_eval's `recip_rank` has no cutoff, and that
`map` (average precision per query) counts relevant documents missing from the run as
never retrieved; `q9_lareqa_multi` is a LaReQA/XQuAD-R-style query (one pool of four
languages, every parallel version of the answer relevant, ties across languages).
"""

import json
import pathlib
import sys

import pytrec_eval

PINNED = "0.5.11"
MEASURES = {"ndcg_cut.1,10", "recip_rank", "recall.5,10", "map"}
KEYS = ["ndcg_cut_1", "ndcg_cut_10", "recip_rank", "recall_5", "recall_10", "map"]


def main() -> int:
    root = pathlib.Path(__file__).resolve().parent.parent
    fixtures = root / "tests" / "fixtures" / "metrics"
    run = json.loads((fixtures / "run.json").read_text(encoding="utf-8"))
    qrels = json.loads((fixtures / "qrels.json").read_text(encoding="utf-8"))

    try:
        from importlib.metadata import version

        installed = version("pytrec-eval-terrier")
    except Exception:  # pragma: no cover - metadata missing
        installed = "unknown"
    if installed != PINNED:
        print(f"warning: pytrec-eval-terrier {installed} installed, pinned {PINNED}", file=sys.stderr)

    evaluator = pytrec_eval.RelevanceEvaluator(qrels, MEASURES)
    results = evaluator.evaluate(run)
    missing = sorted(set(run) - set(results))
    if missing:
        print(f"error: pytrec_eval did not evaluate {missing}", file=sys.stderr)
        return 1
    out = {
        "_generator": f"scripts/metrics_reference.py with pytrec-eval-terrier {installed}",
        "queries": {q: {k: results[q][k] for k in KEYS} for q in sorted(results)},
    }
    path = fixtures / "pytrec_eval.json"
    path.write_text(json.dumps(out, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {path} ({len(results)} queries)")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env python3
"""Reference orthogonal Procrustes map for langbias-eval's `debias` module, from SciPy.

Exact command (from the repository root):

    python3 -m venv /tmp/venv-metrics \
      && /tmp/venv-metrics/bin/pip install numpy==2.4.6 scipy==1.17.1 \
      && /tmp/venv-metrics/bin/python scripts/procrustes_reference.py

Writes tests/fixtures/debias/procrustes.json:
    {"x": 20×8, "y": 20×8 (float32 values, rows L2-normalised), "r": 8×8}
where y = normalise(x Q + 0.1·noise) for a random orthogonal Q (seed 15) and
r = scipy.linalg.orthogonal_procrustes(x, y)[0], i.e. argmin_{R orthogonal} ‖x R − y‖_F,
computed in float64 from the float32 inputs.

The Rust test `crates/langbias-eval/tests/procrustes_reference.rs` fits the same map with
`ProcrustesMaps::fit` and asserts agreement to 1e-5.
"""

import json
import pathlib

import numpy as np
import scipy
from scipy.linalg import orthogonal_procrustes
from scipy.stats import ortho_group

SEED = 15
N, DIM = 20, 8


def unit_rows(m: np.ndarray) -> np.ndarray:
    return m / np.linalg.norm(m, axis=1, keepdims=True)


def main() -> None:
    rng = np.random.default_rng(SEED)
    q = ortho_group.rvs(DIM, random_state=rng)
    x = unit_rows(rng.standard_normal((N, DIM))).astype(np.float32)
    y = unit_rows(x.astype(np.float64) @ q + 0.1 * rng.standard_normal((N, DIM))).astype(np.float32)
    r, _ = orthogonal_procrustes(x.astype(np.float64), y.astype(np.float64))
    out = {
        "_generator": f"scripts/procrustes_reference.py with numpy {np.__version__}, scipy {scipy.__version__}",
        "seed": SEED,
        "x": [[float(v) for v in row] for row in x],
        "y": [[float(v) for v in row] for row in y],
        "r": r.tolist(),
    }
    root = pathlib.Path(__file__).resolve().parent.parent
    path = root / "tests" / "fixtures" / "debias" / "procrustes.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(out, indent=1) + "\n", encoding="utf-8")
    print(f"wrote {path}: det(r) = {np.linalg.det(r):+.3f}, max|r - q| = {np.abs(r - q).max():.3f}")


if __name__ == "__main__":
    main()

"""Check ``pool=love_matlab`` against LOVE's videobench.m indexing run in Octave.

Usage: ``python benchmarks/parity/octave_nriqa/check_videobench_pooling.py``
(needs ``octave-cli``). Runs ``videobench_pooling.m`` and compares every
N = 8..400 with :func:`videojury.metrics.classical.pooling.love_matlab_pool`.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np

from videojury.metrics.classical.pooling import love_matlab_pool

HERE = Path(__file__).resolve().parent


def main() -> None:
    out = subprocess.run(["octave-cli", "--quiet", str(HERE / "videobench_pooling.m")],
                         capture_output=True, text=True, check=True).stdout.split()
    rows = [line.split(",") for line in out[1:]]
    scores = np.arange(1, 9) + 0.5
    worst = 0.0
    for n, pooled in rows:
        ours = love_matlab_pool(scores, int(n))
        worst = max(worst, abs(ours - float(pooled)))
    plain = float(np.mean(scores))
    print(f"N = 8..400: {len(rows)} frame counts, largest |Octave - love_matlab_pool| = {worst:.3g}")
    for n in (8, 14, 15, 30, 121, 400):
        print(f"  N={n:3d}: pooled {love_matlab_pool(scores, n):.4f} = "
              f"{love_matlab_pool(scores, n) / plain:.4f} x the plain mean")


if __name__ == "__main__":
    main()

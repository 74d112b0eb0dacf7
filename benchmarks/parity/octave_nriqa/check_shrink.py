"""Octave's ``bwmorph(bw, 'shrink', Inf)`` against videojury's ``shrink="octave"``.

Usage: ``python benchmarks/parity/octave_nriqa/check_shrink.py`` (needs
``octave-cli`` with the image package). Shrinks random binary images of
several densities and sizes in Octave and compares pixel by pixel with
``videojury.metrics.classical.bpri._shrink_octave``; prints the number of
differing pixels per image (0 expected).
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
from scipy.io import loadmat, savemat

from videojury.metrics.classical.bpri import _shrink_octave

SCRIPT = """pkg load image
load(argv(){1});
out = false(size(bws));
for k = 1:size(bws, 1)
  out(k, :, :) = bwmorph(logical(squeeze(bws(k, :, :))), 'shrink', Inf);
end
save('-v7', argv(){2}, 'out');
"""


def main() -> int:
    rng = np.random.default_rng(0)
    worst = 0
    for shape in ((40, 50), (97, 64)):
        bws = np.array([rng.random(shape) < p for p in (0.05, 0.2, 0.4, 0.6, 0.8)], dtype=np.uint8)
        with tempfile.TemporaryDirectory() as tmp:
            src, dst, m = Path(tmp) / "in.mat", Path(tmp) / "out.mat", Path(tmp) / "s.m"
            savemat(src, {"bws": bws})
            m.write_text(SCRIPT)
            subprocess.run(["octave-cli", "--quiet", str(m), str(src), str(dst)], check=True,
                           capture_output=True)
            ref = loadmat(dst)["out"].astype(bool)
        for k, bw in enumerate(bws.astype(bool)):
            diff = int(np.count_nonzero(_shrink_octave(bw) != ref[k]))
            worst = max(worst, diff)
            print(f"{shape[0]}x{shape[1]} density {bw.mean():.2f}: {int(ref[k].sum())} pixels "
                  f"left, {diff} differ")
    return 1 if worst else 0


if __name__ == "__main__":
    sys.exit(main())

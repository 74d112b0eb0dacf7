"""videojury's simplevqa on the reference's checkpoints and videos.

    python benchmarks/parity/simplevqa/compare.py REF.json --ckpt UGC_BVQA_model.pth \
        --slowfast SLOWFAST_8x8_R50.pyth
(REF.json: the output of reference.py). Prints per video the reference score,
ours and the absolute difference, then the maximum; exits 1 above --tol.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _vqa_compare import compare  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--slowfast", required=True)
    ap.add_argument("--videos", default="/tmp/svqa_clips")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    sys.exit(compare("simplevqa", {"score": "simplevqa"}, a.ref, a.videos, a.tol,
                     model=a.ckpt, motion_model=a.slowfast))


if __name__ == "__main__":
    main()

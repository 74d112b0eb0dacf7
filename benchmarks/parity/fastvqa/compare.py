"""videojury's fast_vqa / faster_vqa / dover on the reference's checkpoint and videos.

    python benchmarks/parity/fastvqa/compare.py REF.json --metric faster_vqa --ckpt CKPT
(REF.json: the output of reference.py). Prints per video the reference value,
ours, and the absolute difference, then the maximum; exits 1 above --tol.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from _vqa_compare import compare  # noqa: E402

FIELDS = {"fast_vqa": {"raw": "fast_vqa_raw", "score": "fast_vqa"},
          "faster_vqa": {"raw": "faster_vqa_raw", "score": "faster_vqa"},
          "dover": {"technical": "dover_technical", "aesthetic": "dover_aesthetic",
                    "overall": "dover"}}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("--metric", choices=sorted(FIELDS), required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--videos", default="/tmp/vqa_clips")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    seed = json.loads(Path(a.ref).read_text())["seed"]
    sys.exit(compare(a.metric, FIELDS[a.metric], a.ref, a.videos, a.tol, model=a.ckpt,
                     seed=seed))


if __name__ == "__main__":
    main()

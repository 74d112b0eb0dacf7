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
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
    from videojury.metrics import load_metric
    from videojury.video import sample

    ref = json.loads(Path(a.ref).read_text())
    m = load_metric(a.metric, model=a.ckpt, seed=ref["seed"], device="cpu")
    worst = 0.0
    for name, vals in ref["scores"].items():
        path = str(Path(a.videos) / name)
        got = m.score(sample(path, m.frame_policy()), None)
        for key, field in FIELDS[a.metric].items():
            d = abs(got[field] - vals[key])
            worst = max(worst, d)
            print(f"{name:28s} {key:10s} ref {vals[key]: .8f} ours {got[field]: .8f} "
                  f"diff {d:.2e}")
    print(f"max abs difference: {worst:.2e}")
    sys.exit(0 if worst <= a.tol else 1)


if __name__ == "__main__":
    main()

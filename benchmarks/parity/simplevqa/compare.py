"""videojury's simplevqa on the reference's checkpoints and videos.

    python benchmarks/parity/simplevqa/compare.py REF.json --ckpt UGC_BVQA_model.pth \
        --slowfast SLOWFAST_8x8_R50.pyth
(REF.json: the output of reference.py). Prints per video the reference score,
ours and the absolute difference, then the maximum; exits 1 above --tol.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--slowfast", required=True)
    ap.add_argument("--videos", default="/tmp/svqa_clips")
    ap.add_argument("--tol", type=float, default=1e-4)
    a = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
    from videojury.metrics import load_metric
    from videojury.video import sample

    ref = json.loads(Path(a.ref).read_text())
    m = load_metric("simplevqa", model=a.ckpt, motion_model=a.slowfast, device="cpu")
    worst = 0.0
    for name, vals in ref["scores"].items():
        got = m.score(sample(str(Path(a.videos) / name), m.frame_policy()), None)["simplevqa"]
        d = abs(got - vals["score"])
        worst = max(worst, d)
        print(f"{name:28s} ref {vals['score']: .8f} ours {got: .8f} diff {d:.2e}")
    print(f"max abs difference: {worst:.2e}")
    sys.exit(0 if worst <= a.tol else 1)


if __name__ == "__main__":
    main()

"""videojury's ``love_*`` metric on the videos of a reference.py run; prints the differences.

    python compare.py ref.json --ckpt /tmp/love_tiny --root /tmp/love_clips [--texts ...]

Exit status 1 when a score differs by more than --tol (default 1e-4) or a QA
answer token differs.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("ref")
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--root", required=True)
    ap.add_argument("--texts", nargs="*", default=[])
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--device", default="cpu")
    a = ap.parse_args()
    ref = json.loads(Path(a.ref).read_text())
    import pandas as pd

    aspect = ref["aspect"]
    name = {"perception": "love_perception", "correspondence": "love_correspondence",
            "qa": "love_qa"}[aspect]
    rows = ref["rows"]
    df = pd.DataFrame({"video": [str(Path(a.root) / r["video"]) for r in rows]})
    if aspect == "correspondence":
        df["prompt"] = a.texts
    if aspect == "qa":
        df["question"] = a.texts
    spec = f"{name}:model={a.ckpt},seed={ref['seed']},device={a.device},dtype=float32"
    # one forward per clip: the metric's score and the next-token logits at the answer
    # position (the whole vision + motion + LLM path); score() is run()["score"]
    from videojury.metrics import load_metric
    from videojury.video import FramePolicy, sample

    m = load_metric(spec)
    t0 = time.perf_counter()
    worst = worst_logit = 0.0
    ok = True
    for r, (_, it) in zip(rows, df.iterrows()):
        frames = sample(it["video"], FramePolicy.all(stream=True))
        item = type("Item", (), {"prompt": it.get("prompt"), "question": it.get("question")})
        got = m.run(frames, item)
        lg = got["logits"][:len(r["answer_logits_head"])]
        dl = max(abs(float(x) - y) for x, y in zip(lg, r["answer_logits_head"]))
        worst_logit = max(worst_logit, dl)
        d = abs(got["score"] - r["score"])
        worst = max(worst, d)
        same = int(got["logits"].argmax()) == r["answer_argmax"]
        ok &= same
        print(f"{r['video']}: score LOVE {r['score']:.9f} videojury {got['score']:.9f} "
              f"|diff| {d:.2e}; logits |diff| {dl:.2e}; argmax same: {same} "
              f"({r['answer_text']!r})", flush=True)
    wall = time.perf_counter() - t0
    print(f"max abs difference: score {worst:.2e}, answer logits {worst_logit:.2e} over "
          f"{len(rows)} videos; videojury wall {wall:.1f} s")
    return 0 if ok and worst <= a.tol and worst_logit <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())

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

    import videojury

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
    t0 = time.perf_counter()
    out = videojury.score(df, metrics=[spec])
    wall = time.perf_counter() - t0
    # the next-token logits at the answer position: the whole vision + motion + LLM path
    from videojury.metrics import load_metric
    from videojury.video import FramePolicy, sample

    m = load_metric(spec)
    worst_logit = 0.0
    for r, (_, it) in zip(rows, df.iterrows()):
        frames = sample(it["video"], FramePolicy.all(stream=True))
        item = type("Item", (), {"prompt": it.get("prompt"), "question": it.get("question")})
        got = m.run(frames, item)["logits"][:len(r["answer_logits_head"])]
        worst_logit = max(worst_logit, max(abs(float(x) - y)
                                           for x, y in zip(got, r["answer_logits_head"])))
    worst = 0.0
    ok = True
    for r, (_, got) in zip(rows, out.iterrows()):
        if isinstance(got.get("error"), str) and got["error"]:
            print(r["video"], "ERROR", got["error"])
            ok = False
            continue
        if aspect == "qa":
            want = 1.0 if "yes" in r["answer_text"].lower() else (
                0.0 if "no" in r["answer_text"].lower() else None)
            same = want == got["love_qa_yes"]
            ok &= same
            print(f"{r['video']}: LOVE argmax {r['answer_text']!r} -> {want}, videojury "
                  f"{got['love_qa_yes']} (p_yes_norm {got['love_qa_p_yes_norm']:.6f})")
        else:
            d = abs(float(got[name]) - r["score"])
            worst = max(worst, d)
            print(f"{r['video']}: LOVE {r['score']:.9f} videojury {float(got[name]):.9f} "
                  f"|diff| {d:.2e}")
    print(f"max abs difference: score {worst:.2e}, answer logits {worst_logit:.2e} over "
          f"{len(rows)} videos; videojury score() wall {wall:.1f} s")
    return 0 if ok and worst <= a.tol and worst_logit <= a.tol else 1


if __name__ == "__main__":
    sys.exit(main())

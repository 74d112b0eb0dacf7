"""Run VSFA's own test_demo.py on a VSFA head, a ResNet-50 file and videos; write JSON.

Usage (see README.md in this folder):
    /tmp/vsfaref/bin/python benchmarks/parity/vsfa/reference.py --repo /tmp/vsfa_src \
        --head VSFA.pt --backbone resnet50.pth --out REF.json VIDEO...

test_demo.py is executed unchanged with ``runpy`` (``--model_path HEAD
--video_path VIDEO``), once per video. Stood in for, around it:

* ``skvideo.io.vread`` (FFmpeg through a pipe; no ffmpeg binary here): the
  frames from videojury's decoder, the same uint8 RGB array (N, H, W, 3), so
  both sides see identical pixels and the comparison isolates the model;
* ``torchvision.models.resnet50(pretrained=True)`` (downloads ImageNet
  weights): the same network with ``--backbone`` loaded into it, which is
  what ``pretrained=True`` does with the downloaded file;
* ``np.int`` (removed from NumPy 1.24; VSFA.py's forward calls it on a
  1-element array): ``int`` of that element, as older NumPy did;
* ``h5py`` / ``tensorboardX`` (imported at module level by VSFA.py for its
  training code only): empty modules.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
import time
import types
from pathlib import Path


def install_shims(backbone: str) -> None:
    src = str(Path(__file__).resolve().parents[3] / "src")
    sys.path.insert(0, src)
    import numpy as np
    import torch
    import torchvision.models as tvm

    from videojury.video import probe, read_frames

    def vread(path, *args, **kwargs):
        info = probe(path)
        _, got = read_frames(path, range(info.frame_count), info=info)
        return np.stack([got[i][0] for i in sorted(got)])

    skv = types.ModuleType("skvideo")
    skv.io = types.ModuleType("skvideo.io")
    skv.io.vread = vread
    sys.modules["skvideo"], sys.modules["skvideo.io"] = skv, skv.io
    for name in ("h5py", "tensorboardX"):
        mod = types.ModuleType(name)
        mod.SummaryWriter = object
        sys.modules.setdefault(name, mod)
    # VSFA.py: np.int(input_length[i].numpy()) on a 1-element array, which int() took
    # before NumPy 2
    np.int = lambda x: int(np.asarray(x).reshape(-1)[0])
    original = tvm.resnet50

    def resnet50(pretrained=False, **kw):
        net = original(weights=None, **kw)
        if pretrained:
            net.load_state_dict(torch.load(backbone, map_location="cpu", weights_only=True))
        return net

    tvm.resnet50 = resnet50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--head", required=True)
    ap.add_argument("--backbone", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()
    install_shims(a.backbone)
    sys.path.insert(0, a.repo)
    out, secs = {}, {}
    for v in a.videos:
        sys.argv = ["test_demo.py", "--model_path", a.head, "--video_path", os.path.abspath(v)]
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            g = runpy.run_path(str(Path(a.repo, "test_demo.py")), run_name="__main__")
        secs[os.path.basename(v)] = time.perf_counter() - t0
        out[os.path.basename(v)] = {"score": float(g["y_pred"])}
    Path(a.out).write_text(json.dumps({"model": "VSFA", "scores": out, "seconds": secs},
                                      indent=1))


if __name__ == "__main__":
    main()

"""Run SimpleVQA's own test_demo.py on a checkpoint pair and videos; write JSON.

Usage (see README.md in this folder):
    /tmp/simplevqaref/bin/python benchmarks/parity/simplevqa/reference.py \
        --repo /tmp/simplevqa_src --ckpt UGC_BVQA_model.pth --slowfast SLOWFAST_8x8_R50.pyth \
        --out REF.json VIDEO...

test_demo.py is executed unchanged with ``runpy`` (``--method_name
single-scale --dist VIDEO --output FILE``, CPU), from a work folder whose
``ckpts/UGC_BVQA_model.pth`` is ``--ckpt``; the score is read from the file it
writes. Stood in for, around it:

* ``cv2.VideoCapture``: a reader over videojury's decoder handing out the
  same frames in BGR order (the script converts them back with
  ``cv2.cvtColor``), so both sides see identical pixels;
* pytorchvideo's download in ``slowfast_r50(pretrained=True)``: the
  ``--slowfast`` file, read as the hub reads its download
  (``checkpoint["model_state"]``).

pytorchvideo 0.1.5 (pip) is installed in the reference venv with
``--no-deps`` plus fvcore, iopath, portalocker (imports only).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
import time
from pathlib import Path


class _Capture:
    CAP_PROP_FRAME_COUNT, CAP_PROP_FPS = 7, 5

    def __init__(self, path=None):
        self._frames, self._pos, self._info = [], 0, None
        if path is not None:
            self.open(path)

    def open(self, path):
        from videojury.video import probe, read_frames

        self._info = probe(path)
        _, got = read_frames(path, range(self._info.frame_count), info=self._info)
        self._frames = [got[i][0][..., ::-1].copy() for i in sorted(got)]  # RGB -> BGR
        self._pos = 0
        return True

    def get(self, prop):
        import cv2

        if prop == cv2.CAP_PROP_FRAME_COUNT:
            return float(self._info.frame_count)
        if prop == cv2.CAP_PROP_FPS:
            return float(self._info.fps)
        raise KeyError(prop)

    def read(self):
        if self._pos >= len(self._frames):
            return False, None
        self._pos += 1
        return True, self._frames[self._pos - 1]

    def release(self):
        self._frames = []


def install_shims(slowfast: str, train_bn: bool = False) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "src"))
    import cv2
    import torch

    import pytorchvideo.models.hub.slowfast as hub

    cv2.VideoCapture = _Capture
    hub.load_state_dict_from_url = lambda *a, **k: torch.load(slowfast, map_location="cpu",
                                                              weights_only=True)
    if not train_bn:
        # test_demo.py never calls model_motion.eval(), so its SlowFast runs with
        # BatchNorm in training mode (batch statistics of the one clip, running
        # statistics drifting from clip to clip); the feature-extraction scripts the
        # regressor was trained on call model.eval(). The hub model is put in eval
        # mode here (test_demo's wrapper reuses its modules), which is what the
        # metric does; --demo-train-bn keeps the demo as it is.
        import pytorchvideo.models.hub as hub_pkg

        original = hub.slowfast_r50

        def slowfast_r50(*args, **kwargs):
            return original(*args, **kwargs).eval()

        hub.slowfast_r50 = hub_pkg.slowfast_r50 = slowfast_r50


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--slowfast", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/simplevqa_ref_work")
    ap.add_argument("--demo-train-bn", action="store_true",
                    help="leave test_demo.py's SlowFast in training mode, as the demo runs it")
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()
    install_shims(os.path.abspath(a.slowfast), a.demo_train_bn)
    work = Path(a.work)
    (work / "ckpts").mkdir(parents=True, exist_ok=True)
    link = work / "ckpts" / "UGC_BVQA_model.pth"
    if link.is_symlink() or link.exists():
        link.unlink()
    link.symlink_to(os.path.abspath(a.ckpt))
    sys.path.insert(0, a.repo)
    os.chdir(work)
    out, secs = {}, {}
    for v in a.videos:
        res = work / "result.txt"
        sys.argv = ["test_demo.py", "--method_name", "single-scale", "--dist",
                    os.path.abspath(v), "--output", str(res)]
        t0 = time.perf_counter()
        with contextlib.redirect_stdout(sys.stderr):
            runpy.run_path(str(Path(a.repo, "test_demo.py")), run_name="__main__")
        secs[os.path.basename(v)] = time.perf_counter() - t0
        out[os.path.basename(v)] = {"score": float(res.read_text().strip().rsplit(",", 1)[1])}
        Path(a.out).write_text(json.dumps({"model": "SimpleVQA", "scores": out,
                                           "seconds": secs}, indent=1))  # after each video


if __name__ == "__main__":
    main()

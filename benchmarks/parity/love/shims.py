"""Stand-ins for what LOVE's code imports but the reference run does not use (or replaces).

* ``decord``: ``VideoReader`` over videojury's decoder (PyAV), so both sides
  read the same RGB frames (``len``, ``[i].asnumpy()``, ``get_avg_fps``);
* ``pytorchvideo.models.hub`` (``slowfast_r50``, imported by
  ``modeling_internvl_chat.py``, never called), ``peft`` (``LoraConfig``,
  ``get_peft_model``: called only when the config wraps LoRA, which the tiny
  checkpoint does not) and ``imageio`` (imported by ``train/dataset.py``):
  empty modules.
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np

NOTES = ["decord replaced by videojury's decoder; pytorchvideo, peft, imageio stubbed"]


class _Frame:
    def __init__(self, a):
        self._a = a

    def asnumpy(self):
        return self._a


class VideoReader:
    def __init__(self, path, *args, **kwargs):
        from videojury.video import probe, read_frames

        info = probe(path)
        _, got = read_frames(path, range(info.frame_count), info=info)
        self._frames = [np.ascontiguousarray(got[i][0]) for i in sorted(got)]
        self._fps = float(info.fps)

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, i):
        return _Frame(self._frames[int(i)])

    def get_avg_fps(self):
        return self._fps


def _module(name: str) -> types.ModuleType:
    import importlib.machinery

    mod = types.ModuleType(name)
    mod.__spec__ = importlib.machinery.ModuleSpec(name, None)
    return mod


def install() -> None:
    src = str(Path(__file__).resolve().parents[3] / "src")
    if src not in sys.path:
        sys.path.insert(0, src)
    mod = _module("decord")
    mod.VideoReader = VideoReader
    mod.cpu = lambda *a, **k: None
    sys.modules["decord"] = mod
    hub = _module("pytorchvideo.models.hub")
    hub.slowfast_r50 = None
    for name in ("pytorchvideo", "pytorchvideo.models"):
        sys.modules[name] = _module(name)
    sys.modules["pytorchvideo.models.hub"] = hub
    peft = _module("peft")
    peft.LoraConfig = peft.get_peft_model = None
    sys.modules["peft"] = peft
    sys.modules.setdefault("imageio", _module("imageio"))

"""What the official FAST-VQA / DOVER code imports but this machine lacks, stood in for.

* ``decord``: its ``VideoReader`` is replaced by one that decodes with
  videojury's decoder (PyAV), so both sides see the same RGB frames and the
  comparison isolates the models and the sampling (decord's and PyAV's
  YUV->RGB conversions are both FFmpeg's, but that is not what is tested).
* ``clip``: imported at module level by ``xclip_backbone.py``, which these
  models never use; an empty module satisfies the import.
* ``torch.hub.load_state_dict_from_url``: DOVER's constructor downloads
  ImageNet ConvNeXt weights that the checkpoint then overwrites; without
  network the download is skipped (the module keeps its initial weights,
  which ``load_state_dict`` replaces).
"""

from __future__ import annotations

import sys
import types
from pathlib import Path

import numpy as np


class VideoReader:
    def __init__(self, path, *args, **kwargs):
        import torch

        from videojury.video import probe, read_frames

        info = probe(path)
        _, got = read_frames(path, range(info.frame_count), info=info)
        self._frames = [torch.from_numpy(np.ascontiguousarray(got[i][0]))
                        for i in sorted(got)]

    def __len__(self):
        return len(self._frames)

    def __getitem__(self, i):
        return self._frames[int(i)]


def install() -> None:
    src = str(Path(__file__).resolve().parents[3] / "src")  # videojury, for its decoder
    if src not in sys.path:
        sys.path.insert(0, src)
    mod = types.ModuleType("decord")
    mod.VideoReader = VideoReader
    mod.cpu = lambda *a, **k: None
    mod.gpu = lambda *a, **k: None
    mod.bridge = types.SimpleNamespace(set_bridge=lambda *a, **k: None)
    sys.modules["decord"] = mod
    # xclip_backbone.py (an unused X-CLIP option) imports OpenAI's clip at module level
    sys.modules.setdefault("clip", types.ModuleType("clip"))
    import torch.hub

    torch.hub.load_state_dict_from_url = lambda *a, **k: {"model": {}}

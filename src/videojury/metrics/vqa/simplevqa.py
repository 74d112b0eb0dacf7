"""The ``simplevqa`` metric: SimpleVQA (Sun et al., ACM MM 2022) with its released weights.

Protocol of SimpleVQA's ``test_demo.py`` (``single-scale``), with ``N`` the
frame count, ``r = round(fps)`` and ``T = N // r`` (whole seconds):

* key frames ``0, r, 2r, ... (T - 1) r``, each resized (PIL bilinear) so its
  short side is 520, centre-cropped to 448x448, ImageNet-normalised;
* one motion clip per second: frames ``i r .. i r + 31`` (the last frame
  repeated past the end), each resized to 224x224 and normalised with mean
  0.45 / std 0.225, fed to SlowFast R50; when ``T < 8`` the last clip is
  repeated up to 8 clips;
* the regressor scores row ``t`` = (key frame ``t``, clip ``t``); the score
  is the mean over rows.

Where ``test_demo.py`` fails, the metric goes on as SimpleVQA's frame
extraction scripts do: a video under 8 seconds has its last key frame
repeated up to 8 too (the demo then stops on the 8 motion rows against fewer
key frames), and a video under one second takes frame 0 as its one key frame
and clip. No randomness. Frames are streamed once: clips are assembled as
their frames arrive and scored in groups of ``clip_batch``, so memory does not
grow with the video. Parity: ``tests/test_vqa_simplevqa.py``,
``benchmarks/parity/simplevqa/``.
"""

from __future__ import annotations

from typing import Any, Sequence

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from . import _shared, _VQAMetric

CLIP_LEN = 32
MIN_ROWS = 8


def plan(frame_count: int, fps: float) -> tuple[int, int, int]:
    """(r, T, rows): rounded fps, distinct key frames / clips, rows scored."""
    r = int(round(fps))
    if r < 1:
        raise MetricError(f"frame rate {fps:g} rounds to 0: SimpleVQA samples one key frame "
                          "per second and needs a frame rate of at least 0.5")
    t = max(1, frame_count // r)
    return r, t, max(t, MIN_ROWS)


@register_metric
class SimpleVQA(_VQAMetric):
    """SimpleVQA: ResNet-50 multi-stage spatial features + SlowFast motion features + MLP."""

    name = "simplevqa"
    version = "1"
    fields = (ScoreField("simplevqa", None, None, True,
                         "SimpleVQA quality (regressed on LSVQ's MOS)"),)
    description = ("SimpleVQA video quality (ResNet-50 spatial + SlowFast R50 motion features; "
                   "weights Apache-2.0).")
    reference = ("SimpleVQA (Sun et al., ACM MM 2022), sunwei925/SimpleVQA test_demo.py; "
                 "UGC_BVQA_model.pth Apache-2.0, pytorchvideo SlowFast R50 Apache-2.0")
    default_options = {"model": "simplevqa", "motion_model": "slowfast-r50", "device": "",
                       "batch_size": 2, "clip_batch": 4}
    runtime_options = frozenset({"device", "batch_size", "clip_batch"})
    option_ranges = {"clip_batch": ">= 1"}
    weight_kind = "SimpleVQA's UGC_BVQA_model.pth"

    def motion_path(self):
        from ...models.checkpoints import resolve_weight_file

        return resolve_weight_file(str(self.options["motion_model"]),
                                   "pytorchvideo's SlowFast R50 (SLOWFAST_8x8_R50.pyth)")

    def identity(self, hash_file) -> dict[str, str]:
        from ...models.checkpoints import weight_file_identity

        out = super().identity(hash_file)
        out["motion_model"] = weight_file_identity(self.motion_path(), hash_file)
        return out

    def model(self):
        from ...models.vqa.simplevqa import load_simplevqa, load_slowfast

        main, motion, dev = self.weight_path(), self.motion_path(), self.device()
        return (_shared(("simplevqa", str(main), dev), lambda: load_simplevqa(main).to(dev)),
                _shared(("slowfast", str(motion), dev), lambda: load_slowfast(motion).to(dev)))

    def rows(self, frames: Frames):
        """(rows, 7168) spatial and (rows, 2304) motion features of one video (CPU)."""
        import numpy as np
        import torch
        from PIL import Image
        from torchvision.transforms import functional as TF

        net, slowfast = self.model()
        dev = self.device()
        n = int(frames.info.frame_count)
        if n < 1:
            raise MetricError(f"{frames.info.path}: no frames")
        r, t, rows = plan(n, float(frames.info.fps))
        cb = int(self.options.get("clip_batch", 4))
        keys = {k * r: k for k in range(t)}
        ends = [min(i * r + CLIP_LEN - 1, n - 1) for i in range(t)]
        last = max(ends[-1], (t - 1) * r)
        spatial, motion, pending_s, pending_m = [], [], [], []
        cache: dict[int, Any] = {}
        nxt = 0  # next clip to assemble
        mean_m = torch.tensor([0.45] * 3).view(3, 1, 1, 1)

        def run_spatial():
            with torch.no_grad():
                spatial.append(net.spatial_features(torch.stack(pending_s).to(dev)).cpu())
            pending_s.clear()

        def run_motion():
            with torch.no_grad():
                motion.append(slowfast(torch.stack(pending_m).to(dev)).cpu())
            pending_m.clear()

        seen = -1
        for fi, arr in zip(frames.indices.tolist(), frames.iter()):
            if fi > last:
                break
            seen = fi
            img = Image.fromarray(np.ascontiguousarray(arr))
            if fi in keys:
                x = TF.center_crop(TF.resize(img, 520), 448)
                pending_s.append(TF.normalize(TF.to_tensor(x), [0.485, 0.456, 0.406],
                                              [0.229, 0.224, 0.225]))
                if len(pending_s) == cb:
                    run_spatial()
            if (fi % r < CLIP_LEN and fi // r < t) or fi == n - 1:  # a clip uses it
                cache[fi] = TF.to_tensor(TF.resize(img, [224, 224]))
            while nxt < t and ends[nxt] <= fi:
                start = nxt * r
                clip = torch.stack([cache[min(start + j, n - 1)] for j in range(CLIP_LEN)], 1)
                pending_m.append((clip - mean_m) / 0.225)
                nxt += 1
                for old in [k for k in cache if k < nxt * r]:
                    del cache[old]
                if len(pending_m) == cb:
                    run_motion()
        if seen < last:
            raise MetricError(f"{frames.info.path}: the video ended at frame {seen} before "
                              f"frame {last} (it reports {n} frames)")
        if pending_s:
            run_spatial()
        if pending_m:
            run_motion()
        idx = torch.tensor([min(i, t - 1) for i in range(rows)])
        return torch.cat(spatial)[idx], torch.cat(motion)[idx]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        net, _ = self.model()
        dev = self.device()
        feats = [self.rows(f) for f in frames]
        with torch.no_grad():
            q = net.regress(torch.cat([s for s, _ in feats]).to(dev),
                            torch.cat([m for _, m in feats]).to(dev)).cpu()
        out, i = [], 0
        for s, _ in feats:
            out.append({"simplevqa": float(q[i:i + len(s)].mean())})
            i += len(s)
        return out

"""VBench's imaging_quality: MUSIQ trained on SPAQ, per frame, averaged; and plain ``musiq``.

As ``vbench/imaging_quality.py``: every frame of the video as float 0-255 RGB,
VBench's preprocessing (``preprocess``, VBench's
``imaging_quality_preprocessing_mode``):

* ``longer`` (VBench's default): when the longer side exceeds 512, both sides
  scaled by ``512 / longer`` (``int`` of each), bilinear without antialias;
* ``shorter``: the same on the shorter side; ``shorter_centercrop``: then a
  512x512 centre crop (only when the frame was resized, as in VBench);
* ``none``: no resizing (VBench's ``'None'``);

then /255, MUSIQ's score of each frame (:mod:`._musiq`, with
``musiq_spaq_ckpt-358bb6af.pth``), and the mean over the frames (summed in
float64 in frame order, as VBench's loop does). VBench's per-video value is that
mean on SPAQ's 0-100 scale (field ``musiq``); its dimension score is the mean over
videos divided by 100, so the field ``imaging_quality`` is the per-video value / 100
(``videojury bench`` writes it back on the 0-100 scale in ``eval_results``).

MUSIQ runs in float32 on every device, as in VBench. Frames go through the network
``batch_size`` at a time (VBench: one at a time); all frames of a video have the same
size and so the same token layout, and batching changes a frame's score only by float
rounding.

``musiq`` is the same network and score without VBench's resizing by default
(``preprocess=none``: MUSIQ on each frame at its own size, as MUSIQ scores an image),
field ``musiq`` only.
"""

from __future__ import annotations

from typing import Any

from ...video import Frames
from ..base import ScoreField, register_metric
from ._base import VBenchMetric, frame_batches, shared_model

PREPROCESS = ("longer", "shorter", "shorter_centercrop", "none")


def vbench_transform(x, mode: str):
    """``vbench.imaging_quality.transform``: (T, 3, H, W) float 0-255 -> [0, 1], resized
    as ``mode`` says."""
    from torchvision.transforms import functional as TF

    h, w = x.shape[-2:]
    if mode in ("shorter", "shorter_centercrop"):
        if min(h, w) > 512:
            s = 512. / min(h, w)
            x = TF.resize(x, [int(s * h), int(s * w)], antialias=False)
            if mode == "shorter_centercrop":
                x = TF.center_crop(x, [512, 512])
    elif mode == "longer":
        if max(h, w) > 512:
            s = 512. / max(h, w)
            x = TF.resize(x, [int(s * h), int(s * w)], antialias=False)
    return x / 255.


class _MusiqMetric(VBenchMetric):
    weight_kind = "a MUSIQ checkpoint (musiq_spaq_ckpt-358bb6af.pth)"
    option_choices = {**VBenchMetric.option_choices, "preprocess": PREPROCESS,
                      "dtype": ("", "float32")}

    def model(self):
        from ._musiq import load_musiq

        path, dev = self.weight_path(), self.device()
        return shared_model(("musiq", str(path), dev), lambda: load_musiq(path, dev))

    def frame_scores(self, frames: Frames) -> list[float]:
        """MUSIQ's score of every frame, in order (float32 values as Python floats)."""
        import torch

        from ._nets import as_float_tchw

        net, dev = self.model(), self.device()
        mode = str(self.options["preprocess"])
        out: list[float] = []
        with torch.inference_mode():
            for batch in frame_batches(frames, int(self.options["batch_size"])):
                with self.timed("preprocess"):
                    x = vbench_transform(as_float_tchw(batch), mode).to(dev)
                out.extend(float(v) for v in net(x).float().cpu())
        return out

    def per_video(self, frames: Frames) -> float:
        scores = self.frame_scores(frames)
        acc = 0.
        for s in scores:  # VBench's running sum, in frame order
            acc += s
        return acc / len(scores)


@register_metric
class ImagingQuality(_MusiqMetric):
    """VBench imaging quality: MUSIQ (SPAQ) per frame after VBench's resizing, mean."""

    name = "imaging_quality"
    version = "1"
    fields = (
        ScoreField("imaging_quality", None, None, True,
                   "mean over frames of MUSIQ's SPAQ score / 100 (about 0-1; VBench's "
                   "dimension scale)"),
        ScoreField("musiq", None, None, True,
                   "mean over frames of MUSIQ's SPAQ score (about 0-100; VBench's per-video "
                   "value)"),
    )
    description = "VBench imaging quality (MUSIQ trained on SPAQ, VBench's preprocessing)."
    reference = ("VBench imaging_quality (Huang et al., CVPR 2024), MUSIQ (Ke et al., ICCV "
                 "2021) trained on SPAQ")
    default_options = {"model": "musiq-spaq", "preprocess": "longer", "device": "",
                       "dtype": "", "batch_size": 8}

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        v = self.per_video(frames)
        return {"imaging_quality": v / 100., "musiq": v}


@register_metric
class Musiq(_MusiqMetric):
    """MUSIQ (SPAQ) per frame at the frame's own size, mean over frames."""

    name = "musiq"
    version = "1"
    fields = (ScoreField("musiq", None, None, True,
                         "mean over frames of MUSIQ's score (SPAQ: about 0-100)"),)
    description = "MUSIQ image quality per frame (SPAQ weights by default), mean over frames."
    reference = "MUSIQ (Ke et al., ICCV 2021), pyiqa's released SPAQ checkpoint"
    default_options = {"model": "musiq-spaq", "preprocess": "none", "device": "",
                       "dtype": "", "batch_size": 8}

    def score_one(self, frames: Frames, item: Any) -> dict[str, float]:
        return {"musiq": self.per_video(frames)}

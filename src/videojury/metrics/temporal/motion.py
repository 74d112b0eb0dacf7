"""Motion metrics from dense optical flow (OpenCV DIS): ``dynamic_degree`` and
``motion_smoothness``.

VBench measures both with learned networks (RAFT for the dynamic degree, AMT
frame interpolation for motion smoothness). We keep VBench's sampling and
arithmetic and swap in OpenCV's DIS optical flow, which needs no weights:

``dynamic_degree``
    Frames at about 8 fps (every ``round(fps / 8)``-th frame, as VBench). For
    each consecutive pair, the mean of the largest 5% of flow magnitudes,
    divided by the frame's short side, so the score does not depend on
    resolution; the score is the mean over pairs. ``is_dynamic`` is VBench's
    rule restated in those units: a pair moves when its value exceeds
    ``6 / 256 * max(1, 8 / fps)`` (VBench: 6 pixels per 256 pixels of short
    side, at native resolution), and the video is dynamic when at least
    ``round(4 * n_frames / 16)`` pairs move. DIS and RAFT agree closely on
    textured translation (see the tests); on large or fast motion of
    untextured regions DIS tends to under-estimate, so borderline videos may
    flip relative to VBench.

``motion_smoothness``
    VBench drops every odd frame, interpolates it back from its even
    neighbours and compares: ``(255 - MAE) / 255``. We interpolate with DIS
    flow in both directions and symmetric backward warping half way, then
    average the two warps. A smooth, steady motion is predicted well (score
    near 1); jitter, stutter and flicker are not.

``dynamic_degree:method=raft`` is VBench's own rule with VBench's own network
(RAFT-large, ``raft-things.pth``, on torchvision's ``raft_large`` with the keys
converted; every ``round(fps / 8)``-th frame at native size, 20 iterations):
see :mod:`videojury.metrics.vbench.raft`. ``method=dis`` (the default, no
weights) is the restatement above: a documented deviation from VBench.
Likewise ``motion_smoothness:method=amt`` is VBench's own procedure with AMT-S
(``amt-s.pth``): see :mod:`videojury.metrics.vbench.amt`; ``method=dis`` (the
default, no weights) is the DIS restatement above.

DIS runs with its ``fast`` preset by default (``preset=medium`` is about 4x
slower): on textured pans both recover the true displacement within 5% and
interpolate the middle frame to within about 0.02 grey levels. Flow for
``dynamic_degree`` is computed with the short side at most 256 pixels.

Both stream their frames (``FramePolicy(stream=True)``): they hold two or
three frames at a time, so memory does not grow with the clip's length.
"""

from __future__ import annotations

import cv2
import numpy as np

from ...video import FramePolicy, Frames, Resize
from ...errors import MetricError
from ..base import Metric, ScoreField, register_metric

_PRESETS = {
    "ultrafast": cv2.DISOPTICAL_FLOW_PRESET_ULTRAFAST,
    "fast": cv2.DISOPTICAL_FLOW_PRESET_FAST,
    "medium": cv2.DISOPTICAL_FLOW_PRESET_MEDIUM,
}

# The smallest frame DIS computes flow on: (short side, long side), measured.
_FLOW_MIN = (8, 12)


def dis_flow(a: np.ndarray, b: np.ndarray, preset: str = "fast") -> np.ndarray:
    """Dense flow (H, W, 2) from RGB frame ``a`` to ``b`` with OpenCV's DIS."""
    if preset not in _PRESETS:
        raise ValueError(f"unknown DIS preset {preset!r}; use {', '.join(_PRESETS)}")
    h, w = a.shape[:2]
    if min(h, w) < _FLOW_MIN[0] or max(h, w) < _FLOW_MIN[1]:
        # OpenCV's own message here is a raw C++ assertion (dis_flow.cpp).
        raise MetricError(f"optical flow needs frames with a short side of at least "
                          f"{_FLOW_MIN[0]} and a long side of at least {_FLOW_MIN[1]} pixels, "
                          f"got {w}x{h}")
    dis = cv2.DISOpticalFlow_create(_PRESETS[preset])
    ga = cv2.cvtColor(a, cv2.COLOR_RGB2GRAY)
    gb = cv2.cvtColor(b, cv2.COLOR_RGB2GRAY)
    return dis.calc(ga, gb, None)


def top_motion(flow: np.ndarray, share: float = 0.05) -> float:
    """Mean of the largest ``share`` of flow magnitudes (VBench's per-pair value)."""
    rad = np.sqrt(flow[..., 0].astype(np.float64) ** 2 + flow[..., 1].astype(np.float64) ** 2)
    flat = rad.ravel()
    k = max(1, int(flat.size * share))
    return float(np.partition(flat, flat.size - k)[flat.size - k:].mean())


def interpolate_midpoint(a: np.ndarray, b: np.ndarray, preset: str = "fast") -> np.ndarray:
    """The frame half way between ``a`` and ``b``, by flow-based backward warping."""
    h, w = a.shape[:2]
    grid_x, grid_y = np.meshgrid(np.arange(w, dtype=np.float32), np.arange(h, dtype=np.float32))
    f_ab = dis_flow(a, b, preset)
    f_ba = dis_flow(b, a, preset)
    # A point at x in the middle frame came from about x - f_ab/2 in a, x - f_ba/2 in b.
    from_a = cv2.remap(a, grid_x - 0.5 * f_ab[..., 0], grid_y - 0.5 * f_ab[..., 1],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    from_b = cv2.remap(b, grid_x - 0.5 * f_ba[..., 0], grid_y - 0.5 * f_ba[..., 1],
                       cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return ((from_a.astype(np.uint16) + from_b.astype(np.uint16) + 1) // 2).astype(np.uint8)


def _resize(short_side: int) -> Resize | None:
    # Flow is computed at most at this short side; smaller videos are not upscaled.
    return Resize(short_side=short_side, upscale=False) if short_side else None


@register_metric
class DynamicDegree(Metric):
    """How much the video moves (VBench's dynamic degree, with DIS flow)."""

    name = "dynamic_degree"
    version = "1"
    fields = (
        ScoreField("dynamic_degree", 0.0, None, True,
                   "mean over frame pairs of the top-5% flow magnitude / short side"),
        ScoreField("is_dynamic", 0.0, 1.0, True, "VBench's moving-or-not rule (1 = dynamic)"),
    )
    description = ("Amount of motion at ~8 fps and VBench's is-dynamic rule; method=raft is "
                   "VBench's (RAFT, raft-things.pth), method=dis needs no weights.")
    reference = "VBench dynamic_degree (method=raft: VBench's RAFT; dis: OpenCV DIS instead)"
    default_options = {"rate": 8.0, "short_side": 256, "preset": "fast", "method": "dis",
                       "model": "raft-things", "device": ""}
    option_choices = {"preset": tuple(_PRESETS), "method": ("dis", "raft")}
    runtime_options = frozenset({"device"})
    # The weight file is keyed by its content (identity), not by how it was named.
    resolved_options = frozenset({"model"})

    def _raft(self) -> bool:
        return self.options["method"] == "raft"

    def identity(self, hash_file) -> dict[str, str]:
        if not self._raft():
            return {}
        from ..vbench.raft import raft_identity

        return raft_identity(self, hash_file)

    def load(self) -> None:
        if self._raft():
            from ..vbench.raft import raft_model

            raft_model(self)

    def frame_policy(self) -> FramePolicy:
        if self._raft():
            # VBench: every frame decoded at native size, every round(fps/8)-th kept.
            return FramePolicy.all(min_frames=2, stream=True)
        return FramePolicy.fps(self.options["rate"], min_frames=2,
                               resize=_resize(self.options["short_side"]), stream=True)

    def score(self, frames: Frames, item) -> dict[str, float]:
        if self._raft():
            from ..vbench.raft import score_raft

            return score_raft(self, frames)
        # Streamed: two frames held at a time.
        values: list[float] = []
        prev = None
        count = 0
        short = 1.0
        for frame in frames.iter():
            if prev is None:
                short = float(min(frame.shape[:2]))
            else:
                values.append(top_motion(dis_flow(prev, frame, self.options["preset"])))
            prev = frame
            count += 1
        per_pair = np.array(values) / short
        fps = frames.info.fps or 8.0
        threshold = 6.0 / 256.0 * max(1.0, 8.0 / fps)
        needed = round(4 * count / 16.0)
        moving = int((per_pair > threshold).sum())
        return {"dynamic_degree": float(per_pair.mean()),
                "is_dynamic": float(moving >= needed)}


@register_metric
class MotionSmoothness(Metric):
    """How well each odd frame is predicted from its even neighbours (VBench scale)."""

    name = "motion_smoothness"
    version = "1"
    fields = (ScoreField("motion_smoothness", 0.0, 1.0, True,
                         "(255 - MAE of interpolated odd frames) / 255"),)
    description = ("Frame-interpolation error of odd frames from even ones; method=amt is "
                   "VBench's (AMT-S, amt-s.pth), method=dis needs no weights.")
    reference = "VBench motion_smoothness (method=amt: VBench's AMT-S; dis: DIS-flow instead)"
    default_options = {"short_side": 0, "max_frames": 0, "preset": "fast", "method": "dis",
                       "model": "amt-s", "device": "", "batch_size": 8}
    option_choices = {"preset": tuple(_PRESETS), "method": ("dis", "amt")}
    runtime_options = frozenset({"device", "batch_size"})
    # The weight file is keyed by its content (identity), not by how it was named.
    resolved_options = frozenset({"model"})

    def __init__(self, **options) -> None:
        super().__init__(**options)
        if self._amt():
            # VBench's AMT rule reads every frame at native size.
            for opt in ("short_side", "max_frames"):
                if self.options[opt]:
                    raise MetricError(f"metric motion_smoothness: {opt} applies to method=dis "
                                      "only; method=amt reads every frame at native size, "
                                      "as VBench does")

    def _amt(self) -> bool:
        return self.options["method"] == "amt"

    def identity(self, hash_file) -> dict[str, str]:
        if not self._amt():
            return {}
        from ..vbench.amt import amt_identity

        return amt_identity(self, hash_file)

    def load(self) -> None:
        if self._amt():
            from ..vbench.amt import amt_model

            amt_model(self)

    def frame_policy(self) -> FramePolicy:
        if self._amt():
            return FramePolicy.all(min_frames=3, stream=True)
        return FramePolicy.all(max_frames=self.options["max_frames"] or None, min_frames=3,
                               resize=_resize(self.options["short_side"]), stream=True)

    def score(self, frames: Frames, item) -> dict[str, float]:
        if self._amt():
            from ..vbench.amt import score_amt

            return score_amt(self, frames)
        # Streamed: three frames held at a time. Each odd frame j - 1 is
        # predicted from frames j - 2 and j once frame j (even) arrives.
        errors = []
        before = odd = None
        for j, frame in enumerate(frames.iter()):
            if j % 2 == 0:
                if odd is not None:
                    mid = interpolate_midpoint(before, frame, self.options["preset"])
                    errors.append(np.abs(mid.astype(np.int16) - odd.astype(np.int16)).mean())
                before, odd = frame, None
            else:
                odd = frame
        return {"motion_smoothness": (255.0 - float(np.mean(errors))) / 255.0}

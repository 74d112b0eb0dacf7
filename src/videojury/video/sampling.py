"""Frame sampling policies and resizing.

A :class:`FramePolicy` says which frames a metric needs (``uniform(n)`` at
segment centres, ``fps(r)``, ``all``), at what size, and whether the metric
reads them as a stream (one at a time, nothing held). Policies are pure
data: :meth:`FramePolicy.indices` maps a video's frame count and frame rate to
frame indices, so the decoder can read the union of what several metrics need
in one pass and hand each metric its own subset.

:func:`plan_size` and :func:`resize_frame` are the one place where a frame's
output size is decided and the frame resized: the decoder and
:func:`videojury.video.frames_from_array` (frames already in memory) both go
through them, so the same frames give the same pixels either way.

Memory: the frames one metric holds at once (all its frames, or
:data:`STREAM_HOLD` for a streamed policy) may not exceed
:data:`PIXEL_BUDGET` pixels; larger frames are downscaled (aspect kept) and
the :class:`~videojury.video.Frames` carry a note saying so.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import cv2
import numpy as np


@dataclass(frozen=True)
class Resize:
    """How to resize sampled frames; at most one of the three modes is set.

    ``short_side``: scale so the shorter side equals this many pixels (aspect
    kept). ``size``: exactly ``(width, height)``. ``max_pixels``: scale down
    (never up) so that width*height <= max_pixels. Sizes are rounded to the
    nearest integer. Downscaling uses area interpolation, upscaling bicubic;
    OpenCV's resize is deterministic.
    """

    short_side: int | None = None
    size: tuple[int, int] | None = None
    max_pixels: int | None = None
    upscale: bool = True  # short_side only: False leaves smaller frames as they are

    def __post_init__(self) -> None:
        modes = [m for m in (self.short_side, self.size, self.max_pixels) if m is not None]
        if len(modes) > 1:
            raise ValueError("Resize takes one of short_side, size or max_pixels, not several")
        if self.short_side is not None and self.short_side < 1:
            raise ValueError(f"short_side must be >= 1, got {self.short_side}")
        if self.max_pixels is not None and self.max_pixels < 1:
            raise ValueError(f"max_pixels must be >= 1, got {self.max_pixels}")
        if self.size is not None and (len(self.size) != 2 or min(self.size) < 1):
            raise ValueError(f"size must be (width, height) with positive values, got {self.size}")

    def target(self, width: int, height: int) -> tuple[int, int]:
        """The (width, height) a frame of the given size is resized to."""
        if self.size is not None:
            return int(self.size[0]), int(self.size[1])
        if self.short_side is not None:
            scale = self.short_side / min(width, height)
            if not self.upscale and scale > 1:
                return width, height
        elif self.max_pixels is not None:
            scale = min(1.0, math.sqrt(self.max_pixels / (width * height)))
        else:
            return width, height
        return max(1, round(width * scale)), max(1, round(height * scale))

    def apply(self, frames: np.ndarray) -> np.ndarray:
        """Resize a (T, H, W, 3) uint8 array; returns the input when no change is needed."""
        t, h, w = frames.shape[:3]
        tw, th = self.target(w, h)
        if (tw, th) == (w, h):
            return frames
        out = np.empty((t, th, tw, frames.shape[3]), dtype=frames.dtype)
        for i in range(t):
            out[i] = resize_frame(frames[i], tw, th)
        return out


# Pixels one metric may hold at once (uint8 RGB: 3 bytes each, so 384 MiB).
PIXEL_BUDGET = 1 << 27
# Frames a streaming metric holds at once (pairwise metrics keep two or three).
STREAM_HOLD = 4


def resize_frame(frame: np.ndarray, width: int, height: int) -> np.ndarray:
    """One (H, W, 3) frame at ``width`` x ``height``: area interpolation when
    shrinking, bicubic when enlarging; the frame itself when the size is right."""
    h, w = frame.shape[:2]
    if (w, h) == (width, height):
        return frame
    interp = cv2.INTER_AREA if width * height < w * h else cv2.INTER_CUBIC
    return cv2.resize(frame, (width, height), interpolation=interp)


def love_indices(frame_count: int, n: int = 8) -> np.ndarray:
    """The ``n`` frame indices LOVE's evaluation scripts read from a video.

    LOVE (``train/infer_perception.py``, ``get_index``) takes
    ``int(seg / 2 + np.round(seg * i))`` for ``i = 0..n-1`` with
    ``seg = (N - 1) / n`` (``N`` frames; numpy rounds half to even and
    ``int`` truncates). The last frame is never read, and when ``N <= n``
    (``seg < 1``) some frame is read twice; both are kept, as LOVE has them.
    """
    if frame_count <= 0:
        return np.zeros(0, dtype=np.int64)
    seg = float(frame_count - 1) / n
    return (seg / 2 + np.round(seg * np.arange(n))).astype(np.int64)


def _linspace_f32(stop: float, steps: int) -> np.ndarray:
    """``torch.linspace(0, stop, steps)`` in float32, computed as torch does
    (from the start for the first half, from the end for the rest)."""
    if steps == 1:
        return np.zeros(1, dtype=np.float32)
    start, end = np.float32(0.0), np.float32(stop)
    step = np.float32((end - start) / np.float32(steps - 1))
    i = np.arange(steps)
    half = steps // 2
    out = np.where(i < half, start + step * i.astype(np.float32),
                   end - step * (steps - 1 - i).astype(np.float32))
    return out.astype(np.float32)


def qwen_vl_indices(frame_count: int, fps: float, rate: float = 2.0, min_frames: int = 4,
                    max_frames: int = 768) -> np.ndarray:
    """The frames qwen-vl-utils (``fetch_video``) reads from a video at ``rate`` fps.

    The count is ``N / fps * rate`` clamped to [``min_frames``, ``min(max_frames,
    N)``] (bounds rounded to even), then to at most ``N``, then floored to an
    even number; the indices are ``linspace(0, N - 1, count)`` in float32,
    rounded half to even. Videos of fewer than 2 frames give no indices (the
    library refuses them).
    """
    if frame_count < 2:
        return np.zeros(0, dtype=np.int64)
    src = fps if fps and fps > 0 else rate
    lo = math.ceil(min_frames / 2) * 2
    hi = math.floor(min(max_frames, frame_count) / 2) * 2
    n = min(min(max(frame_count / src * rate, lo), hi), frame_count)
    n = math.floor(n / 2) * 2
    if n < 2:
        return np.zeros(0, dtype=np.int64)
    return np.rint(_linspace_f32(frame_count - 1, n)).astype(np.int64)


def float_stride_indices(frame_count: int, max_frames: int) -> np.ndarray:
    """VideoScore's example rule: every frame when there are at most ``max_frames``,
    else ``arange(0, N, N / max_frames)`` truncated to int (float64 steps, so a
    rounding edge can give ``max_frames + 1`` indices, as the script does)."""
    if frame_count <= 0:
        return np.zeros(0, dtype=np.int64)
    if frame_count <= max_frames:
        return np.arange(frame_count, dtype=np.int64)
    return np.arange(0, frame_count, frame_count / max_frames).astype(np.int64)


def linspace_int_indices(frame_count: int, n: int) -> np.ndarray:
    """``np.linspace(0, N - 1, n, dtype=int)``: ``n`` indices truncated toward zero, first
    and last frame included, repeats kept when ``N < n`` (t2v_metrics' LLaVA-OneVision
    reader)."""
    if frame_count <= 0:
        return np.zeros(0, dtype=np.int64)
    return np.linspace(0, frame_count - 1, n).astype(np.int64)


@dataclass(frozen=True)
class FramePolicy:
    """Which frames a metric needs, and at what size.

    ``mode`` is ``"uniform"`` (``n`` frames, one at the centre of each of
    ``n`` equal segments: index ``floor((i + 0.5) * N / n)``), ``"love"``
    (LOVE's own rule for its ``n`` = 8 frames, see :func:`love_indices`; it
    differs from ``uniform`` for most frame counts and may repeat a frame),
    ``"fps"`` (``rate`` frames per second of video time, capped
    by ``max_frames`` with a uniform subsample) or ``"all"`` (every frame,
    optionally capped by ``max_frames``). ``min_frames`` is the fewest frames
    the metric can work with: a shorter video is an error for that metric.
    ``stream=True``: the metric reads its frames one at a time with
    :meth:`Frames.iter() <videojury.video.Frames.iter>`; they are decoded as
    it goes and never held together, so memory does not grow with the clip.
    """

    mode: str = "uniform"
    n: int | None = 8
    rate: float | None = None
    max_frames: int | None = None
    min_frames: int = 1
    resize: Resize | None = field(default=None)
    stream: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("uniform", "love", "fps", "all", "qwen_vl", "float_stride",
                             "linspace"):
            raise ValueError(f"unknown sampling mode {self.mode!r}: use uniform, love, fps or all")
        if self.mode in ("uniform", "love", "linspace") and (self.n is None or self.n < 1):
            raise ValueError(f"{self.mode} sampling needs n >= 1")
        if self.mode in ("fps", "qwen_vl") and (self.rate is None or self.rate <= 0):
            raise ValueError("fps sampling needs rate > 0")

    @classmethod
    def uniform(cls, n: int, *, min_frames: int = 1, resize: Resize | None = None,
                stream: bool = False) -> FramePolicy:
        """``n`` frames at segment centres."""
        return cls(mode="uniform", n=n, min_frames=min_frames, resize=resize, stream=stream)

    @classmethod
    def love(cls, n: int = 8, *, min_frames: int = 1, resize: Resize | None = None,
             stream: bool = False) -> FramePolicy:
        """``n`` frames picked by LOVE's rule (:func:`love_indices`), repeats kept."""
        return cls(mode="love", n=n, min_frames=min_frames, resize=resize, stream=stream)

    @classmethod
    def fps(
        cls, rate: float, *, max_frames: int | None = None, min_frames: int = 1,
        resize: Resize | None = None, stream: bool = False,
    ) -> FramePolicy:
        """``rate`` frames per second of video time."""
        return cls(mode="fps", n=None, rate=rate, max_frames=max_frames, min_frames=min_frames,
                   resize=resize, stream=stream)

    @classmethod
    def qwen_vl(cls, rate: float = 2.0, *, min_frames: int = 2) -> FramePolicy:
        """The frames qwen-vl-utils reads at ``rate`` fps (:func:`qwen_vl_indices`), full size."""
        return cls(mode="qwen_vl", n=None, rate=rate, min_frames=min_frames)

    @classmethod
    def linspace(cls, n: int, *, min_frames: int = 1) -> FramePolicy:
        """``n`` frames by :func:`linspace_int_indices` (repeats kept), full size."""
        return cls(mode="linspace", n=n, min_frames=min_frames)

    @classmethod
    def float_stride(cls, max_frames: int, *, min_frames: int = 1) -> FramePolicy:
        """VideoScore's frames (:func:`float_stride_indices`), full size."""
        return cls(mode="float_stride", n=None, max_frames=max_frames, min_frames=min_frames)

    @classmethod
    def all(cls, *, max_frames: int | None = None, min_frames: int = 1,
            resize: Resize | None = None, stream: bool = False) -> FramePolicy:
        """Every frame (optionally the first ``max_frames`` spread uniformly)."""
        return cls(mode="all", n=None, max_frames=max_frames, min_frames=min_frames, resize=resize,
                   stream=stream)

    def indices(self, frame_count: int, fps: float) -> np.ndarray:
        """Frame indices (sorted, int64) this policy takes from a video.

        Indices are unique except for ``love``, which keeps LOVE's repeats
        (always ``n`` indices, e.g. frame 4 twice for an 8-frame clip). When a
        video has fewer frames than ``uniform(n)`` asks for, every frame is
        taken once; whether that is enough is decided by ``min_frames``.
        """
        if frame_count <= 0:
            return np.zeros(0, dtype=np.int64)
        if self.mode == "love":
            return love_indices(frame_count, int(self.n))  # type: ignore[arg-type]
        if self.mode == "uniform":
            n = int(self.n)  # type: ignore[arg-type]
            if n >= frame_count:
                return np.arange(frame_count, dtype=np.int64)
            idx = np.floor((np.arange(n) + 0.5) * frame_count / n).astype(np.int64)
            return np.unique(idx)
        if self.mode == "linspace":
            return linspace_int_indices(frame_count, int(self.n))  # type: ignore[arg-type]
        if self.mode == "float_stride":
            return float_stride_indices(frame_count, int(self.max_frames))  # type: ignore[arg-type]
        if self.mode == "qwen_vl":
            return qwen_vl_indices(frame_count, fps, float(self.rate))  # type: ignore[arg-type]
        if self.mode == "fps":
            # Every k-th frame, k = max(1, round(source fps / rate)), as VBench
            # samples: evenly spaced frames at (about) the asked rate.
            src = fps if fps and fps > 0 else float(self.rate)  # type: ignore[arg-type]
            step = max(1, round(src / float(self.rate)))  # type: ignore[arg-type]
            idx = np.arange(0, frame_count, step, dtype=np.int64)
        else:
            idx = np.arange(frame_count, dtype=np.int64)
        if self.max_frames is not None and len(idx) > self.max_frames:
            pick = np.floor((np.arange(self.max_frames) + 0.5) * len(idx) / self.max_frames)
            idx = idx[pick.astype(np.int64)]
        return idx

    def describe(self) -> str:
        """Short human-readable form, e.g. ``uniform(8)@short_side=224``."""
        if self.mode == "uniform":
            s = f"uniform({self.n})"
        elif self.mode == "love":
            s = f"love({self.n})"
        elif self.mode == "fps":
            s = f"fps({self.rate:g})"
        elif self.mode == "qwen_vl":
            s = f"qwen_vl({self.rate:g})"
        elif self.mode == "float_stride":
            s = "float_stride"
        elif self.mode == "linspace":
            s = f"linspace({self.n})"
        else:
            s = "all"
        if self.max_frames is not None and self.mode != "uniform":
            s += f"[max {self.max_frames}]"
        if self.resize is not None:
            r = self.resize
            if r.short_side is not None:
                s += f"@short_side{'<=' if not r.upscale else '='}{r.short_side}"
            elif r.size is not None:
                s += f"@{r.size[0]}x{r.size[1]}"
            elif r.max_pixels is not None:
                s += f"@max_pixels={r.max_pixels}"
        return s

    def plan_size(self, width: int, height: int, count: int) -> tuple[int, int, str | None]:
        """The (width, height) this policy's frames come out at, from a source of
        ``width`` x ``height``, and a note when they were shrunk for memory.

        The policy's resize comes first; then, if the frames held at once
        (``count`` frames, or :data:`STREAM_HOLD` when streamed) exceed
        :data:`PIXEL_BUDGET` pixels, the size is scaled down (aspect kept).
        """
        tw, th = self.resize.target(width, height) if self.resize is not None else (width, height)
        held = max(1, min(count, STREAM_HOLD) if self.stream else count)
        if held * tw * th <= PIXEL_BUDGET:
            return tw, th, None
        scale = math.sqrt(PIXEL_BUDGET / (held * tw * th))
        cw, ch = max(1, math.floor(tw * scale)), max(1, math.floor(th * scale))
        note = (f"frames for {self.describe()} downscaled for memory from {tw}x{th} to {cw}x{ch}: "
                f"{held} frame(s) held at once would exceed the {PIXEL_BUDGET}-pixel budget")
        return cw, ch, note

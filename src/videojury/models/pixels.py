"""Differentiable pixels: a metric's frame preprocessing redone in torch, for rewards.

The scored path works on uint8 frames: the decoder samples them, resizes
them with OpenCV (area for downscaling, bicubic for upscaling), and the
model's processor resizes, crops, rescales and normalises them (and for
Qwen-VL cuts them into flattened patches). A reward needs the same numbers
as a function of float pixels, with gradients. Here:

* :func:`as_clips` checks the input: float ``(B, T, 3, H, W)`` or
  ``(T, 3, H, W)`` in [0, 1] (or a list of ``(T, 3, H, W)`` clips).
* :func:`policy_frames` samples a clip by the metric's :class:`FramePolicy`
  (the same indices the decoder takes) and resizes it like
  :meth:`Resize.apply`, with OpenCV's area / bicubic / bilinear weights as
  matrices (equal to ``cv2.resize`` on float input to 1e-4 grey levels).
* :func:`processor_resize` is the processor's antialiased resize: a
  horizontal pass, a clamp to [0, 255], a vertical pass and a clamp, which
  is how torch's uint8 kernel (the one the processors run on uint8 frames)
  computes it; it agrees with it to within one grey level.
* :func:`processor_pixels` then calls the model's own processor with
  resizing, rescaling and normalising turned off (so cropping, temporal
  padding and patchifying are the processor's own code running on float
  tensors) and normalises the result with the processor's mean and std.

What is not reproduced: the rounding to uint8 after each of the two
resizes (at most half a grey level each), and for the processor's resize
the fixed-point arithmetic of its uint8 kernel (under one grey level).
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any, Sequence

import numpy as np

from ..errors import MetricError

# PIL resample codes the processors store -> torch interpolation modes.
_PIL_MODES = {0: "nearest", 2: "bilinear", 3: "bicubic"}


def _torch():
    import torch

    return torch


def as_clips(frames: Any, n_prompts: int | None = None) -> list:
    """Float clips ``(T, 3, H, W)`` in [0, 1] from a batch, one clip or a list of clips."""
    torch = _torch()
    if isinstance(frames, torch.Tensor):
        if frames.ndim == 4:
            clips = [frames]
        elif frames.ndim == 5:
            clips = list(frames.unbind(0))
        else:
            raise MetricError(f"reward frames must be (B, T, 3, H, W) or (T, 3, H, W), got shape "
                              f"{tuple(frames.shape)}")
    elif isinstance(frames, (list, tuple)) and all(isinstance(f, torch.Tensor) for f in frames):
        clips = list(frames)
    else:
        raise MetricError("reward frames must be a float torch tensor (B, T, 3, H, W) in [0, 1] "
                          f"or a list of (T, 3, H, W) tensors, got {type(frames).__name__}")
    if not clips:
        raise MetricError("reward got no clips")
    for i, c in enumerate(clips):
        if c.ndim != 4 or c.shape[1] != 3:
            raise MetricError(f"reward clip {i}: expected (T, 3, H, W) with 3 colour channels "
                              f"first, got shape {tuple(c.shape)}")
        if not c.is_floating_point():
            raise MetricError(f"reward clip {i}: expected float pixels in [0, 1], got "
                              f"{c.dtype}; for uint8 frames divide by 255")
        if c.shape[0] < 1 or c.shape[2] < 1 or c.shape[3] < 1:
            raise MetricError(f"reward clip {i} is empty (shape {tuple(c.shape)})")
        with torch.no_grad():
            lo, hi = float(c.min()), float(c.max())
        if not (math.isfinite(lo) and math.isfinite(hi)):
            raise MetricError(f"reward clip {i} has non-finite pixels")
        if lo < -0.01 or hi > 1.01:
            raise MetricError(f"reward clip {i}: pixels span [{lo:.3g}, {hi:.3g}], expected "
                              "[0, 1]; map [-1, 1] decoder output with (x + 1) / 2")
    if n_prompts is not None and n_prompts != len(clips):
        raise MetricError(f"reward got {len(clips)} clips and {n_prompts} prompts; give one "
                          "prompt per clip")
    return clips


# --- OpenCV's resize as matrices ---------------------------------------------

@lru_cache(maxsize=256)
def _weights(kind: str, n_in: int, n_out: int) -> np.ndarray:
    """(n_out, n_in) 1-D interpolation weights of cv2.resize for one axis."""
    s = n_in / n_out
    w = np.zeros((n_out, n_in))
    for i in range(n_out):
        if kind == "area":  # box filter over the output pixel's footprint
            a, b = i * s, (i + 1) * s
            for j in range(int(math.floor(a)), min(n_in, int(math.ceil(b)))):
                w[i, j] = max(0.0, min(b, j + 1) - max(a, j))
            w[i] /= w[i].sum()
            continue
        f = (i + 0.5) * s - 0.5
        x0 = math.floor(f)
        t = f - x0
        if kind == "cubic":  # Keys kernel, a = -0.75, edges replicated
            a = -0.75
            ks = [((a * (t + 1) - 5 * a) * (t + 1) + 8 * a) * (t + 1) - 4 * a,
                  ((a + 2) * t - (a + 3)) * t * t + 1,
                  ((a + 2) * (1 - t) - (a + 3)) * (1 - t) * (1 - t) + 1]
            ks.append(1.0 - sum(ks))
            for k, v in zip(range(x0 - 1, x0 + 3), ks):
                w[i, min(max(k, 0), n_in - 1)] += v
        else:  # linear
            if x0 < 0:
                x0, t = 0, 0.0
            if x0 >= n_in - 1:
                x0, t = n_in - 1, 0.0
            w[i, x0] += 1.0 - t
            if t:
                w[i, x0 + 1] += t
    return w


def cv2_resize(x, width: int, height: int):
    """``x`` (..., H, W) resized to (height, width) as :meth:`Resize.apply` does with
    OpenCV: area weights when both sides shrink, bicubic when the frame grows, and
    (OpenCV's own fallback for area) bilinear when one side grows and the other shrinks."""
    torch = _torch()
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    if width * height < w * h:
        kind = "area" if (height <= h and width <= w) else "linear"
    else:
        kind = "cubic"
    wh = torch.as_tensor(_weights(kind, h, height), dtype=x.dtype, device=x.device)
    ww = torch.as_tensor(_weights(kind, w, width), dtype=x.dtype, device=x.device)
    return torch.einsum("ih,...hw,jw->...ij", wh, x, ww)


def policy_frames(clip, policy, fps: float | None):
    """Sample ``clip`` (T, 3, H, W) by ``policy`` and resize it as the decoder would."""
    t, _, h, w = clip.shape
    idx = policy.indices(int(t), float(fps or 0.0))
    if len(idx) < policy.min_frames:
        raise MetricError(f"reward clip has {t} frames; this metric's sampling "
                          f"({policy.describe()}) needs at least {policy.min_frames}")
    x = clip[_torch().as_tensor(idx, device=clip.device)]
    if policy.resize is not None:
        tw, th = policy.resize.target(int(w), int(h))
        # OpenCV saturates its uint8 output; bicubic overshoots without the clamp.
        x = cv2_resize(x, tw, th).clamp(0.0, 1.0)
    return x


def to_uint8(x) -> np.ndarray:
    """(T, 3, H, W) floats in [0, 1] -> (T, H, W, 3) uint8, the frames the scored path sees."""
    torch = _torch()
    with torch.no_grad():
        u = (x.detach().float() * 255.0).round().clamp(0, 255).to(torch.uint8)
    return np.ascontiguousarray(u.permute(0, 2, 3, 1).cpu().numpy())


# --- the processor's own steps -----------------------------------------------

def _mode(proc: Any) -> str:
    resample = getattr(proc, "resample", 3)
    code = int(getattr(resample, "value", resample)) if resample is not None else 2
    mode = _PIL_MODES.get(code)
    if mode is None:
        raise MetricError(f"reward: the processor resamples with mode {resample!r}; only "
                          "nearest, bilinear and bicubic are reproduced in torch")
    return mode


def processor_resize(x, height: int, width: int, mode: str):
    """Antialiased resize of (N, 3, H, W) values in [0, 255] as the processors' uint8
    kernel does it: horizontal pass, clamp, vertical pass, clamp."""
    torch = _torch()
    f = torch.nn.functional
    h, w = x.shape[-2:]
    if (h, w) == (height, width):
        return x
    kw = {} if mode == "nearest" else {"antialias": True, "align_corners": False}
    x = f.interpolate(x, size=(h, width), mode=mode, **kw).clamp(0, 255)
    return f.interpolate(x, size=(height, width), mode=mode, **kw).clamp(0, 255)


def target_size(proc: Any, height: int, width: int) -> tuple[int, int]:
    """The (height, width) an image processor resizes an H x W image to (before any
    crop), from its own resize on a dummy."""
    torch = _torch()
    if not getattr(proc, "do_resize", True):
        return height, width
    dummy = torch.zeros((1, 3, height, width), dtype=torch.uint8)
    out = proc.resize(dummy, size=proc.size, resample=getattr(proc, "resample", None))
    return int(out.shape[-2]), int(out.shape[-1])


def _normalise(px, proc: Any, patches: bool):
    """Rescale and normalise processor output that skipped both (values in [0, 255])."""
    torch = _torch()
    scale = float(proc.rescale_factor) if getattr(proc, "do_rescale", True) else 1.0
    px = px * scale
    if not getattr(proc, "do_normalize", True):
        return px
    mean = torch.as_tensor(proc.image_mean, dtype=px.dtype, device=px.device)
    std = torch.as_tensor(proc.image_std, dtype=px.dtype, device=px.device)
    if patches:  # (N, C * temporal * patch * patch), channel-major
        shaped = px.reshape(px.shape[0], mean.numel(), -1)
        return ((shaped - mean[None, :, None]) / std[None, :, None]).reshape(px.shape)
    shape = [1] * px.ndim
    shape[-3] = mean.numel()
    return (px - mean.reshape(shape)) / std.reshape(shape)


def _check_backend(proc: Any) -> None:
    backend = getattr(proc, "backend", "torchvision")
    if backend != "torchvision":
        raise MetricError(f"reward needs a torch (torchvision-backend) processor; "
                          f"{type(proc).__name__} uses the {backend!r} backend")


def _check_close(px, ref, proc: Any, what: str) -> None:
    """Refuse a torch result that strays from the processor's own output on the uint8
    frames by more than rounding explains (a layout or size the code does not know)."""
    torch = _torch()
    scale = 1.0  # processor units -> grey levels
    if getattr(proc, "do_normalize", True):
        scale *= float(np.min(proc.image_std))
    if getattr(proc, "do_rescale", True):
        scale /= float(proc.rescale_factor)
    with torch.no_grad():
        levels = float((px.detach().double().cpu() - ref.double().cpu()).abs().max()) * scale
    if levels > _MAX_LEVELS:
        raise MetricError(f"reward: the torch preprocessing of {what} differs from the "
                          f"processor's by {levels:.1f} grey levels (more than rounding); this "
                          f"processor ({type(proc).__name__}) is not supported by reward")


# Largest difference from the processor's uint8 result that rounding explains:
# half a level from the input, up to about one from the uint8 resize kernel.
_MAX_LEVELS = 4.0


def image_pixels(frames255, proc: Any):
    """``pixel_values`` of (N, 3, H, W) frames in [0, 255] through an image processor,
    with gradients; checked against the processor's own output on the rounded frames."""
    torch = _torch()
    _check_backend(proc)
    h, w = frames255.shape[-2:]
    th, tw = target_size(proc, int(h), int(w))
    x = processor_resize(frames255, th, tw, _mode(proc)) if getattr(proc, "do_resize", True) \
        else frames255
    out = proc(images=list(x), do_resize=False, do_rescale=False, do_normalize=False,
               return_tensors="pt")["pixel_values"]
    out = _normalise(out, proc, patches=False)
    with torch.no_grad():
        u8 = frames255.detach().round().clamp(0, 255).to(torch.uint8).cpu()
        ref = proc(images=list(u8), return_tensors="pt")["pixel_values"]
    if tuple(out.shape) != tuple(ref.shape):
        raise MetricError(f"reward: the torch preprocessing gave images of shape "
                          f"{tuple(out.shape)}, the processor {tuple(ref.shape)}")
    _check_close(out, ref, proc, "images")
    return out


def video_pixels(clips255: Sequence[Any], proc: Any, reference: Any, key: str,
                 kwargs: dict[str, Any]):
    """The pixel tensor ``key`` of ``reference`` (the full processor's output on the
    uint8 frames), recomputed from float clips (T, 3, H, W) in [0, 255] with gradients
    by the video processor ``proc``."""
    _check_backend(proc)
    ref = reference[key]
    grid = reference["video_grid_thw"] if "video_grid_thw" in reference else None
    resized = []
    for i, c in enumerate(clips255):
        if not getattr(proc, "do_resize", True):
            resized.append(c)
            continue
        if grid is not None:  # Qwen-style: the size is the patch grid's
            p = int(proc.patch_size)
            th, tw = int(grid[i][1]) * p, int(grid[i][2]) * p
        else:
            th, tw = int(ref.shape[-2]), int(ref.shape[-1])
        resized.append(processor_resize(c, th, tw, _mode(proc)))
    got = proc(videos=resized, do_resize=False, do_rescale=False, do_normalize=False,
               return_tensors="pt", **kwargs)
    out = next((v for k, v in got.items() if k.startswith("pixel")), None)
    if out is None or out.numel() != ref.numel():
        shape = None if out is None else tuple(out.shape)
        raise MetricError(f"reward: the torch preprocessing gave {key} of shape {shape}, the "
                          f"processor {tuple(ref.shape)}")
    # Some processors flatten (B, T, 3, h, w) to (B*T, 3, h, w); frames stay in order.
    out = _normalise(out, proc, patches=grid is not None).reshape(ref.shape)
    _check_close(out, ref, proc, "the video")
    return out.to(device=ref.device)


def model_dtype(model: Any):
    """The floating dtype of a model's parameters (pixels are cast to it)."""
    torch = _torch()
    for p in model.parameters():
        if p.is_floating_point():
            return p.dtype
    return torch.float32

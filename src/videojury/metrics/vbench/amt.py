"""VBench's ``motion_smoothness`` with AMT-S frame interpolation (``amt-s.pth``).

VBench (``vbench/motion_smoothness.py``) reads every frame, keeps the even ones
(0, 2, 4, ...), predicts the frame half way between each consecutive pair with
AMT-S and compares each prediction with the odd frame it stands for.
:func:`amt_smoothness` restates that procedure:

* frames as float RGB in [0, 1] (uint8 / 255), native size;
* replicate padding to a multiple of ``int(16 / scale)``, split between the sides
  (AMT's ``InputPadder``); ``scale`` is VBench's memory rule (:func:`vbench_scale`):
  1 on CPU, and on CUDA 1 unless the frame is large for the GPU's memory, when the
  network runs on a downscaled copy as VBench's does;
* AMT-S at time 0.5, float32; the prediction unpadded and turned back into uint8 by
  truncation (``(x * 255).clip(0, 255).astype(uint8)``, as VBench's ``tensor2img``);
* per predicted frame the mean absolute difference to the odd frame over all pixels
  and channels (``cv2.absdiff``, mean); the video's value is ``(255 - mean) / 255``
  over the predicted frames. With an even frame count the last odd frame has no
  right neighbour and is not used, as in VBench.

The difference from VBench's code is only how the work is arranged: frames are
streamed (``batch_size`` frame pairs held at a time instead of the whole video) and
several pairs go through the network in one batch, which changes the numbers only by
float rounding (``tests/test_vbench_amt.py``).
"""

from __future__ import annotations

from collections import OrderedDict
from pathlib import Path
from typing import Iterable

import numpy as np

from ...errors import MetricError

# The smallest padded frame the network runs on: the 1/8-scale correlation volume is
# pooled three times, so its coarsest level needs at least 2 positions a side.
MIN_PADDED = 128
# Frame pairs per forward pass are capped so the correlation volumes (two float32
# (hw/64)^2 arrays a pair) stay within this many bytes.
CORR_BUDGET = 1 << 30


def random_amt_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """AMT-S with seeded random weights (PReLU slopes and biases randomised too), saved as
    AMT's trainer saves ``amt-s.pth``: ``{"epoch": ..., "state_dict": ...}``."""
    import torch

    from ._amt_nets import AMTS

    torch.manual_seed(seed)
    model = AMTS()
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.PReLU):
                mod.weight.uniform_(0.05, 0.45, generator=g)
            elif isinstance(mod, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)) \
                    and mod.bias is not None:
                mod.bias.normal_(0.0, 0.02, generator=g)
    state = OrderedDict((k, v.clone()) for k, v in model.state_dict().items())
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(OrderedDict(epoch=300, state_dict=state), p)
    return p


def load_amt(path: str | Path, device: str = "cpu"):
    """AMT-S with the weights of an ``amt-s.pth`` file (``weights_only``, strict keys)."""
    import torch

    from ._amt_nets import AMTS

    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file: one message
        raise MetricError(f"{path}: cannot read as an AMT checkpoint ({type(exc).__name__}: "
                          f"{exc})") from None
    state = ckpt.get("state_dict") if isinstance(ckpt, dict) else None
    if not isinstance(state, dict):
        raise MetricError(f"{path}: expected AMT's checkpoint layout (a dict with "
                          "'state_dict', as amt-s.pth); got "
                          + (f"keys {', '.join(list(map(str, ckpt))[:4])}"
                             if isinstance(ckpt, dict) else type(ckpt).__name__))
    model = AMTS()
    want = model.state_dict()
    missing = [k for k in want if k not in state]
    unexpected = [k for k in state if k not in want]
    shapes = [k for k in want if k in state and tuple(state[k].shape) != tuple(want[k].shape)]
    if missing or unexpected or shapes:
        raise MetricError(
            f"{path}: not an AMT-S checkpoint (missing: {', '.join(missing[:3]) or 'none'}; "
            f"unexpected: {', '.join(unexpected[:3]) or 'none'}; other shape: "
            f"{', '.join(shapes[:3]) or 'none'}); VBench uses amt-s.pth (AMT-S)")
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)


def vbench_scale(h: int, w: int, device: str) -> tuple[float, int]:
    """VBench's (scale, padding divisor) for ``h`` x ``w`` frames on ``device``
    (``MotionSmoothness.initialization`` and ``motion_score``)."""
    if device.split(":", 1)[0] == "cuda":
        import torch

        anchor_res, anchor_mem, bias = 1024 * 512, 1500 * 1024 ** 2, 2500 * 1024 ** 2
        vram = torch.cuda.get_device_properties(device).total_memory
    else:  # VBench: "do not resize in cpu mode"
        anchor_res, anchor_mem, bias, vram = 8192 * 8192, 1, 0, 1
    scale = anchor_res / (h * w) * np.sqrt((vram - bias) / anchor_mem)
    scale = 1 if scale > 1 else scale
    scale = 1 / np.floor(1 / np.sqrt(scale) * 16) * 16
    return float(scale), int(16 / scale)


def _pads(h: int, w: int, div: int) -> list[int]:
    ph, pw = (-h) % div, (-w) % div
    return [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2]


def amt_smoothness(model, frames: Iterable[np.ndarray], device: str = "cpu",
                   batch_size: int = 8) -> tuple[float, int]:
    """(VBench's motion smoothness, number of predicted frames) of RGB uint8 frames."""
    import torch
    import torch.nn.functional as F

    geom: dict = {}
    diffs: list[float] = []
    pending: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []

    def tensor(frame: np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float() / 255.0

    def run() -> None:
        if not pending:
            return
        pads, scale = geom["pads"], geom["scale"]
        a = torch.stack([tensor(p[0]) for p in pending]).to(device)
        b = torch.stack([tensor(p[1]) for p in pending]).to(device)
        a, b = F.pad(a, pads, mode="replicate"), F.pad(b, pads, mode="replicate")
        t = torch.full((len(pending), 1, 1, 1), 0.5, device=device)
        with torch.inference_mode():
            pred = model(a, b, t, scale=scale).cpu()
        hp, wp = pred.shape[-2:]
        pred = pred[..., pads[2]:hp - pads[3], pads[0]:wp - pads[1]]
        imgs = (pred * 255.0).permute(0, 2, 3, 1).numpy().clip(0, 255).astype(np.uint8)
        for img, (_, _, odd) in zip(imgs, pending):
            diffs.append(float(np.mean(np.abs(odd.astype(np.int16) - img.astype(np.int16)))))
        pending.clear()

    prev_even = odd = None
    for j, frame in enumerate(frames):
        if not geom:
            h, w = frame.shape[:2]
            scale, div = vbench_scale(h, w, device)
            pads = _pads(h, w, div)
            hp, wp = h + pads[2] + pads[3], w + pads[0] + pads[1]
            if min(hp * scale, wp * scale) < MIN_PADDED:
                raise MetricError(f"AMT needs frames of at least {MIN_PADDED}x{MIN_PADDED} "
                                  f"pixels after padding to a multiple of {div}, got {w}x{h}; "
                                  "use method=dis for smaller videos")
            per_pair = 2 * 4 * (int(hp * scale) // 8 * (int(wp * scale) // 8)) ** 2
            geom.update(size=(h, w), scale=scale, pads=pads,
                        batch=max(1, min(int(batch_size), CORR_BUDGET // max(per_pair, 1))))
        elif frame.shape[:2] != geom["size"]:
            raise MetricError(f"frame {j} is {frame.shape[1]}x{frame.shape[0]}, the first was "
                              f"{geom['size'][1]}x{geom['size'][0]}; motion smoothness needs "
                              "frames of one size")
        if j % 2:
            odd = frame
            continue
        if prev_even is not None:
            pending.append((prev_even, frame, odd))
            if len(pending) >= geom["batch"]:
                run()
        prev_even, odd = frame, None
    run()
    if not diffs:
        raise MetricError("motion smoothness needs at least 3 frames (two even frames to "
                          "interpolate between)")
    return (255.0 - float(np.mean(np.array(diffs)))) / 255.0, len(diffs)


# --- the metric's side (motion_smoothness:method=amt) ----------------------------------

def _weight(metric) -> Path:
    from ...models.checkpoints import resolve_weight_file

    return resolve_weight_file(str(metric.options["model"]), "an AMT-S checkpoint (amt-s.pth)")


def _device(metric) -> str:
    from ...models.loading import select_device

    return select_device(metric.options.get("device") or None)


def amt_identity(metric, hash_file) -> dict[str, str]:
    """The store-key identity: the weight file's content and the device kind."""
    return {"model": "file:" + str(hash_file(str(_weight(metric)))),
            "device": _device(metric).split(":", 1)[0], "dtype": "float32"}


def amt_model(metric):
    """The AMT-S network of this metric's weight file, loaded once per process."""
    from ._base import shared_model

    path, dev = _weight(metric), _device(metric)
    return shared_model(("amt-s", str(path), dev), lambda: load_amt(path, dev))


def score_amt(metric, frames) -> dict[str, float]:
    value, _ = amt_smoothness(amt_model(metric), frames.iter(), _device(metric),
                              int(metric.options.get("batch_size") or 8))
    return {"motion_smoothness": value}


__all__ = ["random_amt_checkpoint", "load_amt", "vbench_scale", "amt_smoothness",
           "amt_identity", "amt_model", "score_amt", "MIN_PADDED"]

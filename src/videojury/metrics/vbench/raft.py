"""VBench's ``dynamic_degree`` with RAFT (Teed & Deng, ECCV 2020) on torchvision's RAFT-large.

VBench (``vbench/dynamic_degree.py``) runs the original RAFT code
(``third_party/RAFT``) with ``raft-things.pth``. torchvision's
``raft_large`` is the same network; :func:`convert_raft_keys` renames the
original checkpoint's keys to torchvision's (strictly: every key used once,
none missing) and :func:`load_raft` loads it with ``weights_only``. The flow
equals the original code's to float rounding (``tests/test_vbench_flow.py``).

VBench's rule, restated in :func:`dynamic_degree_raft`: every
``max(1, round(fps / 8))``-th frame from the first, as float 0-255 RGB at
native resolution, padded to a multiple of 8 (replicate, split between the
sides: RAFT's ``InputPadder``), 20 refinement iterations; per consecutive pair
the mean of the largest ``int(0.05 * H * W)`` flow magnitudes of the padded
flow field; the video is dynamic when at least ``round(4 * n / 16)`` pairs
(``n`` frames kept) exceed ``6 * short_side / 256``.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Iterable

import numpy as np

from ...errors import MetricError

_ENC = {"fnet": "feature_encoder", "cnet": "context_encoder"}
_FIXED = {
    "update_block.encoder.convc1": "update_block.motion_encoder.convcorr1.0",
    "update_block.encoder.convc2": "update_block.motion_encoder.convcorr2.0",
    "update_block.encoder.convf1": "update_block.motion_encoder.convflow1.0",
    "update_block.encoder.convf2": "update_block.motion_encoder.convflow2.0",
    "update_block.encoder.conv": "update_block.motion_encoder.conv.0",
    "update_block.gru.convz1": "update_block.recurrent_block.convgru1.convz",
    "update_block.gru.convr1": "update_block.recurrent_block.convgru1.convr",
    "update_block.gru.convq1": "update_block.recurrent_block.convgru1.convq",
    "update_block.gru.convz2": "update_block.recurrent_block.convgru2.convz",
    "update_block.gru.convr2": "update_block.recurrent_block.convgru2.convr",
    "update_block.gru.convq2": "update_block.recurrent_block.convgru2.convq",
    "update_block.flow_head.conv1": "update_block.flow_head.conv1",
    "update_block.flow_head.conv2": "update_block.flow_head.conv2",
    "update_block.mask.0": "mask_predictor.convrelu.0",
    "update_block.mask.2": "mask_predictor.conv",
}
_LAYER = re.compile(r"^(fnet|cnet)\.(layer\d\.\d)\.(conv1|conv2|norm1|norm2|norm3|downsample\.\d)"
                    r"\.(.+)$")
_STEM = re.compile(r"^(fnet|cnet)\.(conv1|norm1|conv2)\.(.+)$")
_BLOCK = {"conv1": "convnormrelu1.0", "norm1": "convnormrelu1.1", "conv2": "convnormrelu2.0",
          "norm2": "convnormrelu2.1"}


def convert_raft_keys(state: dict) -> dict:
    """The original RAFT state dict (``raft-things.pth``, with or without DataParallel's
    ``module.`` prefix) with torchvision's ``raft_large`` key names.

    The original keeps each residual block's shortcut norm twice (``norm3`` and
    ``downsample.1`` are one module); the ``norm3`` copy is dropped after checking that
    it equals ``downsample.1``. Any key that fits no rule is an error."""
    import torch

    src = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}
    out: dict = {}
    unknown = []
    for k, v in src.items():
        m = _LAYER.match(k)
        if m:
            enc, layer, part, rest = m.groups()
            if part == "norm3":
                twin = f"{enc}.{layer}.downsample.1.{rest}"
                if twin not in src or not torch.equal(src[twin], v):
                    raise MetricError(f"RAFT checkpoint: {k} has no equal {twin}; not the "
                                      "original RAFT's layout")
                continue
            new_part = _BLOCK.get(part, part)
            out[f"{_ENC[enc]}.{layer}.{new_part}.{rest}"] = v
            continue
        m = _STEM.match(k)
        if m:
            enc, part, rest = m.groups()
            new = {"conv1": "convnormrelu.0", "norm1": "convnormrelu.1", "conv2": "conv"}[part]
            out[f"{_ENC[enc]}.{new}.{rest}"] = v
            continue
        base, _, leaf = k.rpartition(".")
        if base in _FIXED:
            out[f"{_FIXED[base]}.{leaf}"] = v
            continue
        unknown.append(k)
    if unknown:
        raise MetricError(f"RAFT checkpoint: {len(unknown)} key(s) of no known RAFT layer "
                          f"(e.g. {', '.join(unknown[:3])}); expected raft-things.pth (RAFT-large)")
    return out


def original_raft_keys(tv_state: dict) -> dict:
    """torchvision ``raft_large`` keys back to the original RAFT's, with DataParallel's
    ``module.`` prefix as in ``raft-things.pth`` (the inverse of
    :func:`convert_raft_keys`; the shortcut norm appears twice, as the original has it).
    Used to write random checkpoints in the official format for the parity tests."""
    inv_enc = {v: k for k, v in _ENC.items()}
    inv_fixed = {v: k for k, v in _FIXED.items()}
    inv_block = {v: k for k, v in _BLOCK.items()}
    out: dict = {}
    for k, v in tv_state.items():
        head, _, rest = k.partition(".")
        if head in inv_enc:
            enc = inv_enc[head]
            if rest.startswith("layer"):
                layer, _, tail = rest.partition(".")
                idx, _, tail = tail.partition(".")
                for new, old in inv_block.items():
                    if tail.startswith(new + "."):
                        tail = old + tail[len(new):]
                        break
                out[f"module.{enc}.{layer}.{idx}.{tail}"] = v
                if tail.startswith("downsample.1."):
                    out[f"module.{enc}.{layer}.{idx}.norm3.{tail[len('downsample.1.'):]}"] = v
            else:
                for new, old in (("convnormrelu.0.", "conv1."), ("convnormrelu.1.", "norm1."),
                                 ("conv.", "conv2.")):
                    if rest.startswith(new):
                        out[f"module.{enc}.{old}{rest[len(new):]}"] = v
                        break
                else:
                    raise KeyError(k)
            continue
        base, _, leaf = k.rpartition(".")
        out[f"module.{inv_fixed[base]}.{leaf}"] = v
    return out


def random_raft_checkpoint(path: str | Path, seed: int = 0) -> Path:
    """A RAFT-large checkpoint with seeded random weights (batch-norm statistics and
    affine terms randomised too), saved as the original ``raft-things.pth`` is."""
    import torch
    from torchvision.models.optical_flow import raft_large

    torch.manual_seed(seed)
    model = raft_large(weights=None, progress=False)
    g = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0.0, 0.1, generator=g)
                mod.running_var.uniform_(0.5, 1.5, generator=g)
                mod.weight.uniform_(0.5, 1.5, generator=g)
                mod.bias.normal_(0.0, 0.1, generator=g)
    state = {k: v.clone() for k, v in model.state_dict().items()}
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(original_raft_keys(state), p)
    return p


def load_raft(path: str | Path, device: str = "cpu"):
    """torchvision's ``raft_large`` with the weights of an original RAFT checkpoint file."""
    import torch
    from torchvision.models.optical_flow import raft_large

    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file: one message
        raise MetricError(f"{path}: cannot read as a RAFT checkpoint ({type(exc).__name__}: "
                          f"{exc})") from None
    if not isinstance(state, dict):
        raise MetricError(f"{path}: expected a RAFT state dict, got {type(state).__name__}")
    model = raft_large(weights=None, progress=False)
    converted = convert_raft_keys(state)
    missing, unexpected = model.load_state_dict(converted, strict=False)
    # Instance norms have no tensors; anything else missing or unexpected is an error.
    if missing or unexpected:
        raise MetricError(f"{path}: RAFT keys do not fit torchvision's raft_large (missing: "
                          f"{', '.join(missing[:3]) or 'none'}; unexpected: "
                          f"{', '.join(unexpected[:3]) or 'none'})")
    return model.eval().to(device)


def pad8(x):
    """RAFT's ``InputPadder`` (sintel mode): replicate-pad H and W up to a multiple of 8,
    half on each side (the odd pixel at the bottom/right)."""
    import torch.nn.functional as F

    h, w = x.shape[-2:]
    ph, pw = (-h) % 8, (-w) % 8
    return F.pad(x, [pw // 2, pw - pw // 2, ph // 2, ph - ph // 2], mode="replicate")


def top_rad(flow: np.ndarray) -> float:
    """VBench's per-pair value: mean of the largest ``int(0.05 * H * W)`` flow magnitudes."""
    u, v = flow[0], flow[1]
    rad = np.sqrt(np.square(u) + np.square(v)).ravel()
    k = int(rad.size * 0.05)
    if k < 1:
        return float("nan")  # VBench: the mean of nothing
    top = np.partition(rad, rad.size - k)[rad.size - k:]
    return float(np.mean(top.astype(np.float64)))


def raft_pairs(model, frames: Iterable[np.ndarray], interval: int, device: str = "cpu",
               iters: int = 20) -> tuple[list[float], int, int]:
    """(per-pair values, frames kept, short side) for RGB uint8 frames, VBench's sampling."""
    import torch

    values: list[float] = []
    prev = None
    kept = 0
    short = 0
    with torch.inference_mode():
        for j, frame in enumerate(frames):
            if j % interval:
                continue
            kept += 1
            cur = torch.from_numpy(np.ascontiguousarray(frame)).permute(2, 0, 1).float()[None]
            if prev is None:
                short = int(min(frame.shape[:2]))
            else:
                a, b = pad8(prev.to(device)), pad8(cur.to(device))
                flows = model(2 * (a / 255.0) - 1.0, 2 * (b / 255.0) - 1.0,
                              num_flow_updates=iters)
                values.append(top_rad(flows[-1][0].float().cpu().numpy()))
            prev = cur
    return values, kept, short


def is_dynamic(values: list[float], kept: int, short: int) -> bool:
    """VBench's ``check_move``: at least ``round(4 * kept / 16)`` pairs over ``6 * short / 256``."""
    thres = 6.0 * (short / 256.0)
    need = round(4 * (kept / 16.0))
    count = 0
    for v in values:
        if v > thres:
            count += 1
        if count >= need:
            return True
    return False


# --- the metric's side (dynamic_degree:method=raft) ---------------------------------

_MIN_SIDE = 128  # torchvision's RAFT needs feature maps of 16 after the /8 encoder


def _weight(metric) -> Path:
    from ...models.checkpoints import resolve_weight_file

    return resolve_weight_file(str(metric.options["model"]), "an original RAFT checkpoint "
                               "(raft-things.pth)")


def _device(metric) -> str:
    from ...models.loading import select_device

    return select_device(metric.options.get("device") or None)


def raft_identity(metric, hash_file) -> dict[str, str]:
    """The store-key identity: the weight file's content and the device kind."""
    return {"model": "file:" + str(hash_file(str(_weight(metric)))),
            "device": _device(metric).split(":", 1)[0], "dtype": "float32"}


def raft_model(metric):
    """The RAFT network of this metric's weight file, loaded once per process."""
    from ._base import shared_model

    path, dev = _weight(metric), _device(metric)
    return shared_model(("raft", str(path), dev), lambda: load_raft(path, dev))


def score_raft(metric, frames) -> dict[str, float]:
    """``dynamic_degree`` / ``is_dynamic`` of a clip with VBench's RAFT rule."""
    fps = frames.info.fps or 0.0
    interval = max(1, round(fps / 8)) if fps else 1
    model = raft_model(metric)
    dev = _device(metric)

    def checked():
        for frame in frames.iter():
            h, w = frame.shape[:2]
            if h + (-h) % 8 < _MIN_SIDE or w + (-w) % 8 < _MIN_SIDE:
                raise MetricError(f"RAFT needs frames of at least {_MIN_SIDE}x{_MIN_SIDE} "
                                  f"pixels, got {w}x{h}; use method=dis for smaller videos")
            yield frame

    values, kept, short = raft_pairs(model, checked(), interval, dev)
    if not values:
        raise MetricError("dynamic degree needs at least two frames after VBench's 8 fps "
                          f"sampling (every {interval}th frame), got {kept}")
    return {"dynamic_degree": float(np.mean(values)) / short,
            "is_dynamic": float(is_dynamic(values, kept, short))}


__all__ = ["convert_raft_keys", "original_raft_keys", "random_raft_checkpoint", "raft_identity", "raft_model", "score_raft", "is_dynamic", "load_raft", "pad8", "raft_pairs", "top_rad"]

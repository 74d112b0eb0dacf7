"""SimpleVQA (Sun et al., ACM MM 2022): ResNet-50 multi-stage spatial features,
SlowFast R50 motion features and a two-layer linear regressor.

Spatial branch (:class:`SimpleVQANet`): ResNet-50 (the checkpoint's own
weights) on 448x448 key frames; the global mean and unbiased standard
deviation of the outputs of stages 2, 3 and 4 (512 + 1024 + 2048 channels, so
7168 values). Motion branch (:class:`SlowFastR50`, pytorchvideo's
``slowfast_r50`` written here with torch): 32-frame clips at 224x224, the fast
pathway on all 32 frames, the slow one on 8 of them
(``linspace(0, 31, 8)``); the last stage of each pathway average-pooled, 2048 +
256 values. The regressor ``Linear(9472, 128) -> Linear(128, 1)`` scores each
(key frame, clip) pair; the video's score is the mean.

Checkpoints: ``UGC_BVQA_model.pth`` (a DataParallel state dict: ``module.*``)
and pytorchvideo's ``SLOWFAST_8x8_R50.pyth`` (``{"model_state": ...}``), both
read with ``weights_only=True`` and loaded strictly after key conversion
(:func:`slowfast_from_official`); the Kinetics classifier of the SlowFast file
(``blocks.6.proj``) is the one part left unused, as in SimpleVQA.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import MetricError
from .nets import _read, _strict_load
from .vsfa import ResNet50Trunk, build_empty, global_std

__all__ = ["SimpleVQANet", "SlowFastR50", "load_simplevqa", "load_slowfast",
           "slowfast_from_official", "slowfast_to_official"]

SPATIAL_DIM = 2 * (512 + 1024 + 2048)
MOTION_DIM = 2048 + 256


class SimpleVQANet(nn.Module):
    """SimpleVQA's ResNet-50 spatial branch and its quality regressor."""

    def __init__(self) -> None:
        super().__init__()
        self.trunk = ResNet50Trunk()
        self.quality = nn.Sequential(nn.Linear(SPATIAL_DIM + MOTION_DIM, 128), nn.Linear(128, 1))

    def spatial_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, 448, 448) normalised key frames -> (B, 7168)."""
        parts = []
        for m in self.trunk(x):
            parts += [F.adaptive_avg_pool2d(m, 1).flatten(1), global_std(m)]
        return torch.cat(parts, 1)

    def regress(self, spatial: torch.Tensor, motion: torch.Tensor) -> torch.Tensor:
        """(R, 7168), (R, 2304) -> (R,) per-row quality."""
        return self.quality(torch.cat([spatial, motion], 1))[:, 0]


class _Stem(nn.Module):
    def __init__(self, cout: int, kt: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, cout, (kt, 7, 7), stride=(1, 2, 2), padding=(kt // 2, 3, 3),
                              bias=False)
        self.bn = nn.BatchNorm3d(cout)

    def forward(self, x):
        return F.max_pool3d(F.relu(self.bn(self.conv(x))), (1, 3, 3), (1, 2, 2), (0, 1, 1))


class _Fuse(nn.Module):
    """Fast -> slow lateral connection: time-strided conv, BN, ReLU, concatenated."""

    def __init__(self, cf: int) -> None:
        super().__init__()
        self.conv = nn.Conv3d(cf, 2 * cf, (7, 1, 1), stride=(4, 1, 1), padding=(3, 0, 0),
                              bias=False)
        self.bn = nn.BatchNorm3d(2 * cf)

    def forward(self, slow, fast):
        return torch.cat([slow, F.relu(self.bn(self.conv(fast)))], 1)


class _Bottleneck3d(nn.Module):
    def __init__(self, cin: int, inner: int, cout: int, kt: int, stride: int) -> None:
        super().__init__()
        self.conv_a = nn.Conv3d(cin, inner, (kt, 1, 1), padding=(kt // 2, 0, 0), bias=False)
        self.bn_a = nn.BatchNorm3d(inner)
        self.conv_b = nn.Conv3d(inner, inner, (1, 3, 3), stride=(1, stride, stride),
                                padding=(0, 1, 1), bias=False)
        self.bn_b = nn.BatchNorm3d(inner)
        self.conv_c = nn.Conv3d(inner, cout, 1, bias=False)
        self.bn_c = nn.BatchNorm3d(cout)
        self.shortcut = None
        if cin != cout or stride != 1:
            self.shortcut_conv = nn.Conv3d(cin, cout, 1, stride=(1, stride, stride), bias=False)
            self.shortcut_bn = nn.BatchNorm3d(cout)
            self.shortcut = True

    def forward(self, x):
        y = F.relu(self.bn_a(self.conv_a(x)))
        y = F.relu(self.bn_b(self.conv_b(y)))
        y = self.bn_c(self.conv_c(y))
        sc = self.shortcut_bn(self.shortcut_conv(x)) if self.shortcut else x
        return F.relu(sc + y)


class SlowFastR50(nn.Module):
    """SlowFast R50 8x8 (alpha 4, beta 1/8) up to its last stage, with SimpleVQA's pooling."""

    DEPTHS = (3, 4, 6, 3)

    def __init__(self) -> None:
        super().__init__()
        self.stems = nn.ModuleList([_Stem(64, 1), _Stem(8, 5)])
        self.fusions = nn.ModuleList([_Fuse(c) for c in (8, 32, 64, 128)])
        slow_in, fast_in = (80, 320, 640, 1280), (8, 32, 64, 128)
        paths = []
        for p, (cins, base, kts) in enumerate(((slow_in, 64, (1, 1, 3, 3)),
                                               (fast_in, 8, (3, 3, 3, 3)))):
            stages = []
            for s, depth in enumerate(self.DEPTHS):
                inner, cout = base * 2 ** s, base * 4 * 2 ** s
                blocks = [_Bottleneck3d(cins[s] if j == 0 else cout, inner, cout, kts[s],
                                        (1 if s == 0 else 2) if j == 0 else 1)
                          for j in range(depth)]
                stages.append(nn.Sequential(*blocks))
            paths.append(nn.ModuleList(stages))
        self.stages = nn.ModuleList(paths)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        """(B, 3, 32, 224, 224) normalised clips -> (B, 2304) (slow 2048, fast 256)."""
        idx = torch.linspace(0, clips.shape[2] - 1, clips.shape[2] // 4).long()
        slow = self.stems[0](torch.index_select(clips, 2, idx.to(clips.device)))
        fast = self.stems[1](clips)
        slow = self.fusions[0](slow, fast)
        for s in range(4):
            slow, fast = self.stages[0][s](slow), self.stages[1][s](fast)
            if s < 3:
                slow = self.fusions[s + 1](slow, fast)
        slow = F.adaptive_avg_pool3d(F.avg_pool3d(slow, (8, 7, 7), stride=1), 1).flatten(1)
        fast = F.adaptive_avg_pool3d(F.avg_pool3d(fast, (32, 7, 7), stride=1), 1).flatten(1)
        return torch.cat([slow, fast], 1)


_BRANCH = {"branch1_conv": "shortcut_conv", "branch1_norm": "shortcut_bn",
           "branch2.conv_a": "conv_a", "branch2.norm_a": "bn_a",
           "branch2.conv_b": "conv_b", "branch2.norm_b": "bn_b",
           "branch2.conv_c": "conv_c", "branch2.norm_c": "bn_c"}


def slowfast_from_official(sd: dict) -> dict:
    """pytorchvideo ``slowfast_r50`` keys -> :class:`SlowFastR50` keys (the classifier
    ``blocks.6.proj`` dropped); a key with no place is an error naming it."""
    out = {}
    for key, val in sd.items():
        if key.startswith("blocks.6.proj."):
            continue
        m = re.match(r"blocks\.0\.multipathway_blocks\.([01])\.(conv|norm)\.(\w+)$", key)
        if m:
            out[f"stems.{m.group(1)}.{'bn' if m.group(2) == 'norm' else 'conv'}.{m.group(3)}"] = val
            continue
        m = re.match(r"blocks\.([0-3])\.multipathway_fusion\.(conv_fast_to_slow|norm)\.(\w+)$", key)
        if m:
            part = "conv" if m.group(2) == "conv_fast_to_slow" else "bn"
            out[f"fusions.{m.group(1)}.{part}.{m.group(3)}"] = val
            continue
        m = re.match(r"blocks\.([1-4])\.multipathway_blocks\.([01])\.res_blocks\.(\d+)\."
                     r"(branch1_conv|branch1_norm|branch2\.(?:conv|norm)_[abc])\.(\w+)$", key)
        if m:
            s, p, j = int(m.group(1)) - 1, m.group(2), m.group(3)
            out[f"stages.{p}.{s}.{j}.{_BRANCH[m.group(4)]}.{m.group(5)}"] = val
            continue
        raise MetricError(f"checkpoint key {key!r} has no place in SlowFast R50")
    return out


def slowfast_to_official(sd: dict) -> dict:
    """The inverse of :func:`slowfast_from_official` (for writing test files)."""
    inv = {v: k for k, v in _BRANCH.items()}
    out = {}
    for key, val in sd.items():
        parts = key.split(".")
        if parts[0] == "stems":
            name = "conv" if parts[2] == "conv" else "norm"
            out[f"blocks.0.multipathway_blocks.{parts[1]}.{name}.{parts[3]}"] = val
        elif parts[0] == "fusions":
            name = "conv_fast_to_slow" if parts[2] == "conv" else "norm"
            out[f"blocks.{parts[1]}.multipathway_fusion.{name}.{parts[3]}"] = val
        else:
            p, s, j, mod, leaf = parts[1], int(parts[2]), parts[3], parts[4], parts[5]
            out[f"blocks.{s + 1}.multipathway_blocks.{p}.res_blocks.{j}.{inv[mod]}.{leaf}"] = val
    return out


def load_simplevqa(path: str | Path) -> SimpleVQANet:
    """SimpleVQA's ``UGC_BVQA_model.pth`` (``module.*`` keys, or the same without the
    DataParallel prefix)."""
    sd = _read(path)
    sd = {(k[len("module."):] if k.startswith("module.") else k): v for k, v in sd.items()}
    if "quality.0.weight" not in sd or "conv1.weight" not in sd:
        raise MetricError(f"{path}: not a SimpleVQA checkpoint (no quality.0.weight / conv1.weight "
                          "keys; SimpleVQA's file is UGC_BVQA_model.pth)")
    conv = {("quality." + k[len("quality."):]) if k.startswith("quality.") else "trunk." + k: v
            for k, v in sd.items()}
    net = build_empty(SimpleVQANet)
    _strict_load(net, conv, path, "a SimpleVQA checkpoint")
    return net.eval()


def load_slowfast(path: str | Path) -> SlowFastR50:
    """pytorchvideo's ``SLOWFAST_8x8_R50.pyth`` (``{"model_state": ...}``)."""
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or pickled-code file
        raise MetricError(f"{path}: cannot be read as a weights-only PyTorch checkpoint "
                          f"({str(exc).splitlines()[0] if str(exc) else exc})") from None
    sd = obj.get("model_state", obj) if isinstance(obj, dict) else None
    if not isinstance(sd, dict) or "blocks.0.multipathway_blocks.0.conv.weight" not in sd:
        raise MetricError(f"{path}: not a pytorchvideo SlowFast R50 checkpoint "
                          "(SLOWFAST_8x8_R50.pyth, with model_state)")
    net = build_empty(SlowFastR50)
    _strict_load(net, slowfast_from_official(sd), path, "a SlowFast R50 checkpoint")
    return net.eval()

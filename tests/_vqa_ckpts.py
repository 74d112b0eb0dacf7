"""Seeded random checkpoints in the official FAST-VQA and DOVER formats (small widths).

The same function writes the files the official code loads in
``benchmarks/parity/{fastvqa,dover}/reference.py`` and the files the tests
load, so the reference numbers in ``tests/test_vqa_parity.py`` regenerate
from the seed alone.
"""

from __future__ import annotations

import math

TINY_SWIN = dict(embed_dim=24, depths=(2, 2, 2, 2), num_heads=(1, 2, 4, 8))
TINY_CONVNEXT = dict(depths=(2, 2, 3, 2), dims=(24, 48, 96, 192))


def _official_swin(net, prefix: str) -> dict:
    """Our FragmentSwin3D's tensors under the official Video Swin key names."""
    import re

    out = {}
    for k, v in net.state_dict().items():
        m = re.match(r"features\.(\d+)\.(.*)$", k)
        if m:
            i, rest = int(m.group(1)), m.group(2)
            if i % 2 == 0:
                j, tail = rest.split(".", 1)
                tail = tail.replace("mlp.0.", "mlp.fc1.").replace("mlp.3.", "mlp.fc2.")
                k = f"layers.{i // 2}.blocks.{j}.{tail}"
            else:
                k = f"layers.{i // 2}.downsample.{rest}"
        out[prefix + k] = v
    # the official modules keep relative_position_index as a (persistent) buffer
    for i, stage in enumerate(net.features[0::2]):
        for j, blk in enumerate(stage):
            out[f"{prefix}layers.{i}.blocks.{j}.attn.relative_position_index"] = \
                blk.attn.relative_position_index.clone()
    return out


def _randomize(sd: dict, seed: int) -> dict:
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    for k in sorted(sd):
        v = sd[k]
        if k.endswith("relative_position_index"):
            out[k] = v
            continue
        shape = tuple(v.shape)
        r = torch.randn(shape, generator=g)
        if "bias_table" in k:
            out[k] = 0.5 * r
        elif k.endswith("gamma"):
            out[k] = 0.3 * r
        elif len(shape) == 1 and ("norm" in k or k.split(".")[-2].isdigit()) and k.endswith("weight"):
            out[k] = 1.0 + 0.1 * r
        elif len(shape) == 1:
            out[k] = 0.05 * r
        else:
            fan_in = math.prod(shape[1:])
            out[k] = r / math.sqrt(fan_in)
    return out


def fastvqa_state(seed: int = 0) -> dict:
    """``{"state_dict": ...}`` as FAST_VQA_B_1_4.pth / FAST_VQA_3D_1_1.pth, small widths."""
    from videojury.models.vqa.nets import FastVQANet

    net = FastVQANet(TINY_SWIN)
    sd = _official_swin(net.backbone, "fragments_backbone.")
    sd.update({"vqa_head." + k: v for k, v in net.head.state_dict().items()})
    return {"state_dict": _randomize(sd, seed)}


def dover_state(seed: int = 0) -> dict:
    """A plain state dict as DOVER.pth, small widths."""
    from videojury.models.vqa.nets import DOVERNet

    net = DOVERNet(TINY_SWIN, TINY_CONVNEXT)
    sd = _official_swin(net.technical_backbone, "technical_backbone.")
    for name in ("aesthetic_backbone", "technical_head", "aesthetic_head"):
        sd.update({f"{name}.{k}": v for k, v in getattr(net, name).state_dict().items()})
    return _randomize(sd, seed)


def write(path, state) -> str:
    import torch

    torch.save(state, str(path))
    return str(path)


def write_all(root) -> dict:
    """The tiny official-format files under ``root``: name -> path (for tests/_vlm_models.py)."""
    from pathlib import Path

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    return {"vqa_fast": Path(write(root / "FAST_VQA_B_1_4.pth", fastvqa_state(0))),
            "vqa_dover": Path(write(root / "DOVER.pth", dover_state(0)))}

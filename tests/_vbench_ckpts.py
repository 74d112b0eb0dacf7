"""Seeded random checkpoints in the official file formats of VBench's models.

Plain torch only: the parity scripts in benchmarks/parity/vbench/ import this
file (by path) in VBench's throw-away environment to build the very same
files, so the reference numbers in tests/test_vbench_consistency.py can be
regenerated from the seed. Small configurations keep the tests fast; the
reference code infers the sizes from the keys, as videojury does.
"""

from __future__ import annotations

import math
from pathlib import Path

import torch


def _fill(shapes: dict[str, tuple[int, ...]], seed: int) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key in sorted(shapes):
        shape = shapes[key]
        x = torch.randn(shape, generator=g, dtype=torch.float32)
        leaf = key.rsplit(".", 1)[-1]
        if key.endswith(("norm1.weight", "norm2.weight", "ln_1.weight", "ln_2.weight",
                         "ln_pre.weight", "ln_post.weight", "ln_final.weight")) \
                or key in ("norm.weight",):
            x = 1.0 + 0.1 * x
        elif leaf == "bias" or key.endswith("_bias"):
            x = 0.05 * x
        elif key == "logit_scale":
            x = torch.tensor(math.log(100.0))
        elif len(shape) >= 2 and "embed" not in key and key not in ("positional_embedding",):
            fan_in = math.prod(shape[1:]) if key not in ("text_projection", "visual.proj") \
                else shape[0]
            x = x / math.sqrt(fan_in)
        else:
            x = 0.1 * x
        out[key] = x
    return out


def dino_shapes(width: int = 128, depth: int = 2, patch: int = 16, image: int = 224):
    n = (image // patch) ** 2 + 1
    s = {"cls_token": (1, 1, width), "pos_embed": (1, n, width),
         "patch_embed.proj.weight": (width, 3, patch, patch), "patch_embed.proj.bias": (width,),
         "norm.weight": (width,), "norm.bias": (width,)}
    for i in range(depth):
        b = f"blocks.{i}."
        s.update({b + "norm1.weight": (width,), b + "norm1.bias": (width,),
                  b + "attn.qkv.weight": (3 * width, width), b + "attn.qkv.bias": (3 * width,),
                  b + "attn.proj.weight": (width, width), b + "attn.proj.bias": (width,),
                  b + "norm2.weight": (width,), b + "norm2.bias": (width,),
                  b + "mlp.fc1.weight": (4 * width, width), b + "mlp.fc1.bias": (4 * width,),
                  b + "mlp.fc2.weight": (width, 4 * width), b + "mlp.fc2.bias": (width,)})
    return s


def _resblocks(prefix: str, width: int, layers: int) -> dict[str, tuple[int, ...]]:
    s = {}
    for i in range(layers):
        b = f"{prefix}.resblocks.{i}."
        s.update({b + "attn.in_proj_weight": (3 * width, width), b + "attn.in_proj_bias": (3 * width,),
                  b + "attn.out_proj.weight": (width, width), b + "attn.out_proj.bias": (width,),
                  b + "ln_1.weight": (width,), b + "ln_1.bias": (width,),
                  b + "mlp.c_fc.weight": (4 * width, width), b + "mlp.c_fc.bias": (4 * width,),
                  b + "mlp.c_proj.weight": (width, 4 * width), b + "mlp.c_proj.bias": (width,),
                  b + "ln_2.weight": (width,), b + "ln_2.bias": (width,)})
    return s


def clip_shapes(embed: int = 32, vision_width: int = 64, vision_layers: int = 2,
                patch: int = 32, image: int = 224, text_width: int = 64, text_layers: int = 2,
                context: int = 77, vocab: int = 49408):
    grid = image // patch
    s = {"positional_embedding": (context, text_width), "text_projection": (text_width, embed),
         "logit_scale": (), "token_embedding.weight": (vocab, text_width),
         "ln_final.weight": (text_width,), "ln_final.bias": (text_width,),
         "visual.class_embedding": (vision_width,),
         "visual.positional_embedding": (grid * grid + 1, vision_width),
         "visual.proj": (vision_width, embed),
         "visual.conv1.weight": (vision_width, 3, patch, patch),
         "visual.ln_pre.weight": (vision_width,), "visual.ln_pre.bias": (vision_width,),
         "visual.ln_post.weight": (vision_width,), "visual.ln_post.bias": (vision_width,)}
    s.update(_resblocks("transformer", text_width, text_layers))
    s.update(_resblocks("visual.transformer", vision_width, vision_layers))
    return s


def write_dino(path: str | Path, seed: int = 14, **cfg) -> Path:
    """A DINO ViT state dict as ``dino_vitbase16_pretrain.pth`` holds it (float32)."""
    torch.save(_fill(dino_shapes(**cfg), seed), str(path))
    return Path(path)


class _Holder(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


def torchscript_archive(sd: dict[str, torch.Tensor], path: str | Path) -> Path:
    """Save tensors as a TorchScript archive whose ``state_dict()`` is ``sd``: the
    container OpenAI publishes CLIP in (``clip.load`` reads it with ``torch.jit.load``)."""
    root = _Holder()
    for key, value in sd.items():
        *mods, leaf = key.split(".")
        m = root
        for name in mods:
            if not hasattr(m, name):
                m.add_module(name, _Holder())
            m = getattr(m, name)
        m.register_parameter(leaf, torch.nn.Parameter(value, requires_grad=False))
    import warnings

    with warnings.catch_warnings():  # torch marks TorchScript deprecated
        warnings.simplefilter("ignore", FutureWarning)
        torch.jit.save(torch.jit.script(root), str(path))
    return Path(path)


def write_clip(path: str | Path, seed: int = 32, **cfg) -> Path:
    """An OpenAI CLIP checkpoint as published: a TorchScript archive, float16 weights."""
    sd = {k: v.half() for k, v in _fill(clip_shapes(**cfg), seed).items()}
    return torchscript_archive(sd, path)


def write_aesthetic(path: str | Path, seed: int = 10, dim: int = 768) -> Path:
    """LAION's ``sa_0_4_vit_l_14_linear.pth`` layout: Linear(dim, 1) weight and bias."""
    g = torch.Generator().manual_seed(seed)
    w = torch.randn(1, dim, generator=g) * 2.0
    b = torch.randn(1, generator=g) + 5.0
    torch.save({"weight": w, "bias": b}, str(path))
    return Path(path)


# The configurations the tests and parity scripts use.
CLIP_B32_TINY = dict(embed=32, vision_width=64, vision_layers=2, patch=32, image=224,
                     text_width=64, text_layers=2)
CLIP_L14_TINY = dict(embed=768, vision_width=64, vision_layers=2, patch=14, image=224,
                     text_width=64, text_layers=1)
DINO_TINY = dict(width=128, depth=2, patch=16, image=224)


def synthetic_clips():
    """name -> (uint8 frames (T, H, W, 3), fps): a moving blob on a gradient (landscape,
    16 frames), a square clip (no position-embedding resampling in DINO, 5 frames) and a
    tall odd-aspect clip (9 frames). numpy only, deterministic."""
    import numpy as np

    def clip(t, h, w, seed):
        rng = np.random.default_rng(seed)
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
        base = np.stack([xx / w, yy / h, 0.5 + 0.5 * np.sin(xx / 7.0)], -1) * 200.0
        out = []
        for k in range(t):
            cx, cy = w * (0.2 + 0.6 * k / max(t - 1, 1)), h * (0.5 + 0.2 * np.sin(k))
            blob = np.exp(-((xx - cx) ** 2 + (yy - cy) ** 2) / (2 * (0.12 * min(h, w)) ** 2))
            f = base * (1 - blob[..., None]) + blob[..., None] * np.array([250, 40, 60])
            f = f + rng.normal(0, 6, size=f.shape)
            out.append(np.clip(f, 0, 255).astype(np.uint8))
        return np.stack(out)

    return {"synth_landscape": (clip(16, 96, 160, 1), 24.0),
            "synth_square": (clip(5, 128, 128, 2), 8.0),
            "synth_tall": (clip(9, 202, 90, 3), 12.0)}


def write_all(root: str | Path) -> dict[str, Path]:
    """Every tiny VBench checkpoint under ``root``: name -> file."""
    root = Path(root)
    (root / "aesthetic").mkdir(parents=True, exist_ok=True)
    return {"vbench_dino": write_dino(root / "dino_vitbase16_pretrain.pth", **DINO_TINY),
            "vbench_clip_b32": write_clip(root / "ViT-B-32.pt", **CLIP_B32_TINY),
            "vbench_clip_l14": write_clip(root / "ViT-L-14.pt", seed=33, **CLIP_L14_TINY),
            "vbench_aesthetic": write_aesthetic(root / "aesthetic" /
                                                "sa_0_4_vit_l_14_linear.pth"),
            "vbench_viclip": write_viclip(root / "ViClip-InternVid-10M-FLT.pth", **VICLIP_TINY)}


def viclip_shapes(vision_width: int = 64, vision_layers: int = 2, patch: int = 14,
                  image: int = 224, frames: int = 8, embed: int = 32, text_width: int = 64,
                  text_layers: int = 2, context: int = 32, vocab: int = 49408):
    grid = image // patch
    v, t = "vision_encoder.", "text_encoder."
    s = {v + "conv1.weight": (vision_width, 3, 1, patch, patch),
         v + "class_embedding": (vision_width,),
         v + "positional_embedding": (grid * grid + 1, vision_width),
         v + "temporal_positional_embedding": (1, frames, vision_width),
         v + "ln_pre.weight": (vision_width,), v + "ln_pre.bias": (vision_width,),
         v + "ln_post.weight": (vision_width,), v + "ln_post.bias": (vision_width,),
         v + "proj": (vision_width, embed),
         t + "token_embedding.weight": (vocab, text_width),
         t + "positional_embedding": (context, text_width),
         t + "ln_final.weight": (text_width,), t + "ln_final.bias": (text_width,),
         t + "text_projection": (text_width, embed), "temp": ()}
    s.update(_resblocks(v + "transformer", vision_width, vision_layers))
    s.update(_resblocks(t + "transformer", text_width, text_layers))
    return s


VICLIP_TINY = dict(vision_width=64, vision_layers=2, patch=14, image=224, frames=8, embed=32,
                   text_width=64, text_layers=2, context=32)


def write_viclip(path: str | Path, seed: int = 8, **cfg) -> Path:
    """InternVid's ViCLIP file layout: ``{"model": state dict}`` (float32)."""
    torch.save({"model": _fill(viclip_shapes(**cfg), seed)}, str(path))
    return Path(path)

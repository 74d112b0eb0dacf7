"""The networks behind the VBench dimensions, built on maintained libraries.

Imported only when a VBench metric loads its model (torch, timm and
open_clip are needed then, not before). Each loader reads the official
checkpoint file as its authors publish it, converts the keys strictly (a
missing or unexpected key is an error naming the keys) and returns the model
in eval mode on the requested device:

* :func:`load_dino`: DINO's ViT (``dino_vitbase16_pretrain.pth``, a plain
  state dict) into timm's ``VisionTransformer``; DINO's keys are timm's keys.
  The one behaviour timm does differently is resampling the position
  embedding for an input that is not 224x224 (VBench feeds DINO frames whose
  short side is 224 and whose long side is kept), so :class:`DinoViT`
  resamples it as DINO's ``interpolate_pos_encoding`` does (bicubic with
  DINO's scale factor ``(n + 0.1) / 14``), not with timm's own rule.
* :func:`load_openai_clip`: OpenAI's CLIP file (a TorchScript archive, or a
  plain state dict) into open_clip's CLIP via
  ``build_model_from_openai_state_dict``, which infers the sizes from the
  keys as OpenAI's ``clip.build_model`` does and rounds the same layers to
  float16 on the way (OpenAI's ``clip.load`` keeps them in float16 on CUDA
  and casts the model to float32 on CPU; so do we).
* :func:`load_aesthetic_head`: LAION's ``sa_0_4_vit_l_14_linear.pth``, a
  ``Linear(768, 1)`` state dict (``weight``, ``bias``).

The preprocessing functions reproduce ``vbench.utils``' transforms with the
same torchvision calls on the same tensor types (VBench resizes float32
tensors of 0-255 values for DINO/CLIP-on-tensors, PIL images for
appearance_style), so the inputs agree to the last bit.
"""

from __future__ import annotations

import math
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

try:  # the metrics registry imports every module under metrics; torch is used only in calls
    import torch
    import torch.nn.functional as F
except ImportError:  # core install (no [models]): the metrics that call these require torch
    torch = F = None

from ...errors import MetricError

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


# --- reading checkpoint files ------------------------------------------------------

def _is_torchscript(path: Path) -> bool:
    try:
        with zipfile.ZipFile(path) as z:
            return any(n.split("/", 1)[-1].startswith(("constants.pkl", "code/"))
                       for n in z.namelist())
    except (zipfile.BadZipFile, OSError):
        return False


def read_state_dict(path: str | Path, what: str) -> dict[str, torch.Tensor]:
    """The tensors of a checkpoint file, without unpickling Python objects.

    A plain state dict is read with ``torch.load(weights_only=True)``; a
    TorchScript archive (how OpenAI publishes CLIP) with ``torch.jit.load``,
    which restores TorchScript modules, not arbitrary Python objects. A
    ``{"state_dict": ...}`` or ``{"model": ...}`` wrapper is unwrapped.
    """
    p = Path(path)
    try:
        if _is_torchscript(p):
            import warnings

            with warnings.catch_warnings():  # torch marks TorchScript deprecated
                warnings.simplefilter("ignore", FutureWarning)
                sd = torch.jit.load(str(p), map_location="cpu").state_dict()
        else:
            sd = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a truncated or foreign file
        raise MetricError(f"{p}: cannot be read as {what} ({str(exc).splitlines()[0]})") from None
    for wrap in ("state_dict", "model"):
        if isinstance(sd, dict) and wrap in sd and isinstance(sd[wrap], dict):
            sd = sd[wrap]
    if not isinstance(sd, dict) or not all(isinstance(v, torch.Tensor) for v in sd.values()):
        raise MetricError(f"{p}: is not {what} (expected a state dict of tensors)")
    return dict(sd)


def strict_load(module: torch.nn.Module, sd: dict[str, torch.Tensor], path: Path,
                what: str) -> None:
    """``load_state_dict`` that names the mismatching keys in one message."""
    own = module.state_dict()
    missing = sorted(set(own) - set(sd))
    unexpected = sorted(set(sd) - set(own))
    wrong = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    if missing or unexpected or wrong:
        parts = []
        for label, keys in (("missing", missing), ("unexpected", unexpected),
                            ("wrong shape", wrong)):
            if keys:
                parts.append(f"{label}: {', '.join(keys[:5])}" + (" ..." if len(keys) > 5 else ""))
        raise MetricError(f"{path}: is not {what} ({'; '.join(parts)})")
    module.load_state_dict(sd, strict=True)


# --- DINO ---------------------------------------------------------------------------

def _dino_class():
    from timm.models.vision_transformer import VisionTransformer

    class DinoViT(VisionTransformer):
        """timm's ViT with DINO's position-embedding resampling."""

        def forward_features(self, x: torch.Tensor, *args: Any, **kwargs: Any) -> torch.Tensor:
            # DINO's stride-p convolution drops the last H % p rows and W % p columns;
            # timm refuses such sizes, so they are dropped here (the same patches).
            p = self.patch_embed.patch_size[0]
            x = x[..., : x.shape[-2] // p * p, : x.shape[-1] // p * p]
            return super().forward_features(x, *args, **kwargs)

        def _pos_embed(self, x: torch.Tensor) -> torch.Tensor:
            b, h0, w0, dim = x.shape  # NHWC from the dynamic-size patch embedding
            x = x.reshape(b, h0 * w0, dim)
            pos = self.pos_embed
            n = pos.shape[1] - 1
            side = int(math.sqrt(n))
            if not (h0 * w0 == n and h0 == w0):
                patch = F.interpolate(
                    pos[:, 1:].reshape(1, side, side, dim).permute(0, 3, 1, 2),
                    scale_factor=((h0 + 0.1) / math.sqrt(n), (w0 + 0.1) / math.sqrt(n)),
                    mode="bicubic")
                if patch.shape[-2:] != (h0, w0):  # pragma: no cover - DINO asserts this too
                    raise MetricError("DINO position embedding resampled to the wrong grid")
                pos = torch.cat([pos[:, :1], patch.permute(0, 2, 3, 1).reshape(1, -1, dim)], 1)
            x = torch.cat([self.cls_token.expand(b, -1, -1), x], dim=1)
            return self.pos_drop(x + pos)

    return DinoViT


def build_dino(sd: dict[str, torch.Tensor]) -> torch.nn.Module:
    """A DINO ViT sized from its state dict (DINO's heads are 64 wide: ViT-S 6, ViT-B 12)."""
    try:
        width = sd["cls_token"].shape[-1]
        patch = sd["patch_embed.proj.weight"].shape[-1]
        n = sd["pos_embed"].shape[1] - 1
        depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
        mlp = sd["blocks.0.mlp.fc1.weight"].shape[0]
    except KeyError as exc:
        raise MetricError(f"not a DINO ViT state dict (no {exc.args[0]})") from None
    side = int(round(math.sqrt(n)))
    cls = _dino_class()
    return cls(img_size=side * patch, patch_size=patch, embed_dim=width, depth=depth,
               num_heads=max(1, width // 64), mlp_ratio=mlp / width, qkv_bias=True,
               num_classes=0, global_pool="token", dynamic_img_size=True)


def load_dino(path: str | Path, device: str) -> torch.nn.Module:
    """DINO's ViT from a DINO checkpoint file (``dino_vitbase16_pretrain.pth``)."""
    p = Path(path)
    what = "a DINO ViT checkpoint (dino_vitbase16_pretrain.pth)"
    sd = read_state_dict(p, what)
    sd = {k: v.float() for k, v in sd.items()}
    try:
        model = build_dino(sd)
    except MetricError as exc:
        raise MetricError(f"{p}: {exc}") from None
    strict_load(model, sd, p, what)
    return model.eval().to(device)


# --- OpenAI CLIP --------------------------------------------------------------------

def load_openai_clip(path: str | Path, device: str, dtype: torch.dtype | None = None):
    """OpenAI's CLIP from its published file (``ViT-B-32.pt``, ``ViT-L-14.pt``).

    ``dtype=None`` does what ``clip.load`` does: float16 on CUDA, float32
    elsewhere.
    """
    from open_clip.model import build_model_from_openai_state_dict

    p = Path(path)
    what = "an OpenAI CLIP checkpoint (ViT-B-32.pt / ViT-L-14.pt)"
    sd = read_state_dict(p, what)
    if "visual.proj" not in sd and "visual.attnpool.c_proj.weight" not in sd:
        raise MetricError(f"{p}: is not {what} (no visual.proj key)")
    try:
        model = build_model_from_openai_state_dict(dict(sd))
    except (KeyError, RuntimeError, AssertionError) as exc:
        raise MetricError(f"{p}: is not {what} ({str(exc).splitlines()[0][:300]})") from None
    model = model.to(device).eval()
    if dtype is None:
        dtype = torch.float16 if str(device).startswith("cuda") else torch.float32
    if dtype != torch.float16:
        model = model.to(dtype)
    return model


def clip_tokenize(texts: list[str], context_length: int) -> torch.Tensor:
    """OpenAI CLIP's BPE tokens (open_clip ships the same tokenizer and vocabulary)."""
    from open_clip.tokenizer import SimpleTokenizer

    tok = SimpleTokenizer(context_length=context_length)
    ids = [[tok.sot_token_id] + tok.encode(t) + [tok.eot_token_id] for t in texts]
    for t, i in zip(texts, ids):
        if len(i) > context_length:
            raise MetricError(f"text too long for CLIP's {context_length} tokens: {t[:60]!r}")
    out = torch.zeros(len(ids), context_length, dtype=torch.long)
    for row, i in enumerate(ids):
        out[row, :len(i)] = torch.tensor(i)
    return out


# --- LAION aesthetic head -------------------------------------------------------------

def load_aesthetic_head(path: str | Path, device: str) -> torch.nn.Module:
    """LAION's linear aesthetic predictor (``sa_0_4_vit_l_14_linear.pth``)."""
    p = Path(path)
    what = "LAION's aesthetic linear head (sa_0_4_vit_l_14_linear.pth)"
    sd = read_state_dict(p, what)
    w = sd.get("weight")
    if w is None or w.ndim != 2 or w.shape[0] != 1:
        raise MetricError(f"{p}: is not {what} (expected weight of shape (1, D))")
    head = torch.nn.Linear(w.shape[1], 1)
    strict_load(head, {k: v.float() for k, v in sd.items()}, p, what)
    return head.eval().to(device)


# --- VBench's preprocessing ------------------------------------------------------------

def as_float_tchw(frames: np.ndarray) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (T, 3, H, W) float32 of 0-255 values, as ``load_video`` returns."""
    return torch.from_numpy(np.ascontiguousarray(frames)).float().permute(0, 3, 1, 2)


def dino_transform(x: torch.Tensor, n_px: int = 224) -> torch.Tensor:
    """``vbench.utils.dino_transform``: bilinear short side to ``n_px`` (no antialias, no
    crop), /255, ImageNet normalisation."""
    from torchvision.transforms import functional as TF

    x = TF.resize(x, n_px, antialias=False)
    return TF.normalize(x.float().div(255.0), IMAGENET_MEAN, IMAGENET_STD)


def clip_transform(x: torch.Tensor, n_px: int = 224) -> torch.Tensor:
    """``vbench.utils.clip_transform``: bicubic short side (no antialias), centre crop,
    /255, CLIP normalisation."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    x = TF.resize(x, n_px, interpolation=InterpolationMode.BICUBIC, antialias=False)
    x = TF.center_crop(x, n_px)
    return TF.normalize(x.float().div(255.0), CLIP_MEAN, CLIP_STD)


def clip_transform_image(frame: np.ndarray, n_px: int = 224) -> torch.Tensor:
    """``vbench.utils.clip_transform_Image`` on one uint8 frame: PIL bicubic resize of the
    short side, centre crop, ``ToTensor``, CLIP normalisation."""
    from PIL import Image
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    # VBench passes antialias=False, which torchvision ignores for PIL images
    img = TF.resize(Image.fromarray(frame), n_px, interpolation=InterpolationMode.BICUBIC)
    img = TF.center_crop(img, n_px)
    return TF.normalize(TF.to_tensor(img), CLIP_MEAN, CLIP_STD)


def clip_image_batch(frames: np.ndarray, n_px: int = 224) -> torch.Tensor:
    """:func:`clip_transform_image` on each frame, stacked."""
    return torch.stack([clip_transform_image(f, n_px) for f in frames])


def vbench_consistency(features: torch.Tensor) -> float:
    """VBench's subject/background formula on (T, D) features.

    Features are L2-normalised; for every frame after the first, the mean of
    ``max(0, cos)`` with the first and with the previous frame; averaged
    over those T-1 frames.
    """
    f = F.normalize(features.float(), dim=-1, p=2)
    if len(f) < 2:
        raise MetricError("consistency needs at least 2 frames")
    pre = F.cosine_similarity(f[:-1], f[1:]).clamp(min=0.0).double()
    fir = F.cosine_similarity(f[:1].expand_as(f[1:]), f[1:]).clamp(min=0.0).double()
    return float(((pre + fir) / 2).mean())


# --- ViCLIP (InternVid's video CLIP, VBench's overall_consistency / temporal_style) --------

class _ResBlock(torch.nn.Module):
    """A CLIP residual attention block (QuickGELU MLP), OpenAI's key names."""

    def __init__(self, width: int, heads: int):
        super().__init__()
        from collections import OrderedDict

        self.attn = torch.nn.MultiheadAttention(width, heads)
        self.ln_1 = torch.nn.LayerNorm(width)
        self.mlp = torch.nn.Sequential(OrderedDict([
            ("c_fc", torch.nn.Linear(width, 4 * width)), ("gelu", _QuickGELU()),
            ("c_proj", torch.nn.Linear(4 * width, width))]))
        self.ln_2 = torch.nn.LayerNorm(width)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        h = self.ln_1(x)
        m = None if mask is None else mask.to(dtype=x.dtype, device=x.device)
        x = x + self.attn(h, h, h, need_weights=False, attn_mask=m)[0]
        return x + self.mlp(self.ln_2(x))


class _QuickGELU(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.sigmoid(1.702 * x)


class _Blocks(torch.nn.Module):
    def __init__(self, width: int, layers: int, heads: int):
        super().__init__()
        self.resblocks = torch.nn.ModuleList(_ResBlock(width, heads) for _ in range(layers))

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        for blk in self.resblocks:
            x = blk(x, mask)
        return x


class ViCLIPVision(torch.nn.Module):
    """ViCLIP's video ViT: per-frame patches (a Conv3d of temporal size 1), the class
    token and spatial position embedding per frame, a learned embedding per frame index,
    then one transformer over all frames' patches; the class token's output, projected."""

    def __init__(self, width: int, layers: int, patch: int, grid: int, frames: int,
                 out_dim: int):
        super().__init__()
        self.conv1 = torch.nn.Conv3d(3, width, (1, patch, patch), (1, patch, patch), bias=False)
        self.class_embedding = torch.nn.Parameter(torch.zeros(width))
        self.positional_embedding = torch.nn.Parameter(torch.zeros(grid * grid + 1, width))
        self.temporal_positional_embedding = torch.nn.Parameter(torch.zeros(1, frames, width))
        self.ln_pre = torch.nn.LayerNorm(width)
        self.transformer = _Blocks(width, layers, max(1, width // 64))
        self.ln_post = torch.nn.LayerNorm(width)
        self.proj = torch.nn.Parameter(torch.zeros(width, out_dim))

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, 3, H, W) -> (B, out_dim)."""
        x = self.conv1(video.permute(0, 2, 1, 3, 4))  # B, C, T, h, w
        b, c, t, h, w = x.shape
        x = x.permute(0, 2, 3, 4, 1).reshape(b * t, h * w, c)
        cls = self.class_embedding.to(x.dtype).expand(b * t, 1, c)
        x = torch.cat([cls, x], 1) + self.positional_embedding.to(x.dtype)
        cls, x = x[:b, :1], x[:, 1:]
        # patch-major, frame-minor token order, as ViCLIP's rearranges leave them
        x = x.reshape(b, t, h * w, c).permute(0, 2, 1, 3)  # b, n, t, c
        temporal = self.temporal_positional_embedding
        x = x + (temporal.mean(1) if t == 1 else temporal).unsqueeze(0).to(x.dtype)
        x = torch.cat([cls, x.reshape(b, h * w * t, c)], 1)
        x = self.transformer(self.ln_pre(x).permute(1, 0, 2))
        return self.ln_post(x)[0] @ self.proj


class ViCLIPText(torch.nn.Module):
    """ViCLIP's text tower: OpenAI CLIP's causal text transformer (context 32)."""

    def __init__(self, width: int, layers: int, context: int, vocab: int, out_dim: int):
        super().__init__()
        self.transformer = _Blocks(width, layers, max(1, width // 64))
        self.token_embedding = torch.nn.Embedding(vocab, width)
        self.positional_embedding = torch.nn.Parameter(torch.zeros(context, width))
        self.ln_final = torch.nn.LayerNorm(width)
        self.text_projection = torch.nn.Parameter(torch.zeros(width, out_dim))
        self.register_buffer("mask", torch.full((context, context), float("-inf")).triu_(1),
                             persistent=False)

    def forward(self, tokens: torch.Tensor) -> torch.Tensor:
        x = self.token_embedding(tokens) + self.positional_embedding
        x = self.transformer(x.permute(1, 0, 2), self.mask).permute(1, 0, 2)
        x = self.ln_final(x.float()).to(x.dtype)
        return x[torch.arange(x.shape[0]), tokens.argmax(dim=-1)] @ self.text_projection


class ViCLIP(torch.nn.Module):
    def __init__(self, vision: ViCLIPVision, text: ViCLIPText):
        super().__init__()
        self.vision_encoder = vision
        self.text_encoder = text
        self.temp = torch.nn.Parameter(torch.tensor(0.01))

    @property
    def context_length(self) -> int:
        return int(self.text_encoder.positional_embedding.shape[0])


def load_viclip(path: str | Path, device: str) -> ViCLIP:
    """ViCLIP from InternVid's ``ViClip-InternVid-10M-FLT.pth`` (``{"model": state dict}``),
    sized from its keys (ViT-L/14 video tower, 12-layer 768-wide text tower)."""
    p = Path(path)
    what = "a ViCLIP checkpoint (ViClip-InternVid-10M-FLT.pth)"
    sd = {k: v.float() for k, v in read_state_dict(p, what).items()}
    try:
        conv = sd["vision_encoder.conv1.weight"]
        vw, patch = conv.shape[0], conv.shape[-1]
        grid = int(round(math.sqrt(sd["vision_encoder.positional_embedding"].shape[0] - 1)))
        frames = sd["vision_encoder.temporal_positional_embedding"].shape[1]
        out_dim = sd["vision_encoder.proj"].shape[1]
        ctx, tw = sd["text_encoder.positional_embedding"].shape
        vocab = sd["text_encoder.token_embedding.weight"].shape[0]
    except KeyError as exc:
        raise MetricError(f"{p}: is not {what} (no {exc.args[0]})") from None

    def depth(prefix: str) -> int:
        return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})

    model = ViCLIP(ViCLIPVision(vw, depth("vision_encoder.transformer.resblocks."), patch, grid,
                                frames, out_dim),
                   ViCLIPText(tw, depth("text_encoder.transformer.resblocks."), ctx, vocab,
                              sd["text_encoder.text_projection"].shape[1]))
    strict_load(model, sd, p, what)
    return model.eval().to(device)


def viclip_tokenize(texts: list[str], context_length: int) -> torch.Tensor:
    """ViCLIP's tokens: OpenAI's BPE, cut to the context (the last kept token made the
    end-of-text token), as ViCLIP's ``tokenize(truncate=True)``."""
    from open_clip.tokenizer import SimpleTokenizer

    tok = SimpleTokenizer(context_length=context_length)
    out = torch.zeros(len(texts), context_length, dtype=torch.long)
    for row, t in enumerate(texts):
        ids = [tok.sot_token_id] + tok.encode(t) + [tok.eot_token_id]
        if len(ids) > context_length:
            ids = ids[:context_length]
            ids[-1] = tok.eot_token_id
        out[row, :len(ids)] = torch.tensor(ids)
    return out


def vbench_middle_indices(vlen: int, num_frames: int = 8) -> list[int]:
    """``vbench.utils.get_frame_indices(sample="middle")``: the middle frame of each of
    ``num_frames`` equal integer intervals, padded with the last index for short videos."""
    n = min(num_frames, vlen)
    edges = np.linspace(0, vlen, n + 1).astype(int)
    idx = [(int(edges[i]) + int(edges[i + 1]) - 1) // 2 for i in range(n)]
    return idx + [idx[-1]] * (num_frames - len(idx))

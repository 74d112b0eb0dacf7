"""MUSIQ, the multi-scale image quality transformer (Ke et al., ICCV 2021), for VBench's
``imaging_quality``.

VBench scores each frame with pyiqa's PyTorch port of MUSIQ loading
``musiq_spaq_ckpt-358bb6af.pth`` (MUSIQ trained on SPAQ). This module is
videojury's own implementation of that network, written from the paper and
from what the port computes, with the port's parameter names so the official
file loads strictly (a plain state dict; DataParallel's ``module.`` prefix is
dropped, as the port drops it). pyiqa itself is not used (its licence is
non-commercial) and not needed.

What the network computes for one image ``x`` in [0, 1] (B, 3, H, W):

* ``x * 2 - 1``; a multi-scale representation: the image resized (bicubic, no
  antialias) so that its longer side is 224, and 384 (``round`` of each side),
  plus the image at its own size. Each is cut into 32x32 patches on a grid
  padded with zeros to a multiple of 32 (TensorFlow's SAME split: the odd
  pixel at the bottom/right). The resized scales are padded with empty
  patches (mask 0) to ``ceil(L / 32) ** 2`` tokens; the native scale keeps all
  of its patches.
* Each patch has a hashed spatial position: its row and column are mapped to a
  ``grid x grid`` table (10x10) by nearest-neighbour resampling of the grid
  indices to the patch counts, and a scale index (0, 1, 2).
* Each patch goes through a ResNet stem with weight-standardised convolutions
  (7x7/2 conv, GroupNorm, ReLU, SAME max-pool 3/2, one bottleneck 64 -> 256),
  the 8x8x256 map flattened channel-last and projected to the model width.
* A pre-norm ViT encoder (14 layers, width 384, 6 heads, MLP 1152, GELU) over
  [CLS] + tokens with the spatial and scale embeddings added; attention logits
  between a real and an empty token are set to -1000.
* The score is a linear head on the final-norm CLS token (SPAQ: one output, the
  MOS on SPAQ's 0-100 scale; a multi-class head is a softmax distribution whose
  mean class index 1..C is the score, as for AVA).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from ...errors import MetricError

_STEM = 64  # ResNet stem width; the bottleneck widens it to 4x


@dataclass(frozen=True)
class MusiqConfig:
    """Sizes of a MUSIQ network. The defaults are the released checkpoints' (27.1M
    parameters). Everything but ``heads`` and ``longer_sides`` can be read from a
    state dict (:func:`config_from_state`)."""

    patch: int = 32
    width: int = 384
    mlp: int = 1152
    heads: int = 6
    layers: int = 14
    grid: int = 10
    classes: int = 1
    longer_sides: tuple[int, ...] = (224, 384)

    @property
    def scales(self) -> int:
        return len(self.longer_sides) + 1  # the resized scales and the native one


def _same_pad(x: torch.Tensor, kernel: int, stride: int) -> torch.Tensor:
    """Zero padding as TensorFlow's SAME: the output has ceil(size / stride) positions,
    the extra pixel of an odd padding goes to the bottom/right."""
    h, w = x.shape[-2:]
    ph = max((math.ceil(h / stride) - 1) * stride + kernel - h, 0)
    pw = max((math.ceil(w / stride) - 1) * stride + kernel - w, 0)
    if ph == 0 and pw == 0:
        return x
    return F.pad(x, (pw // 2, pw - pw // 2, ph // 2, ph - ph // 2))


class _WSConv(nn.Conv2d):
    """Convolution with weight standardisation (per output channel: zero mean, unit
    sample standard deviation + 1e-5) and SAME padding."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        w = self.weight - self.weight.mean(dim=(1, 2, 3), keepdim=True)
        w = w / (w.std(dim=(1, 2, 3), keepdim=True) + 1e-5)
        return F.conv2d(_same_pad(x, self.kernel_size[0], self.stride[0]), w, self.bias,
                        self.stride)


class _Bottleneck(nn.Module):
    """The stem's one residual bottleneck (64 -> 256 channels, stride 1, GroupNorm 32)."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.conv1 = _WSConv(cin, cin, 1, 1, bias=False)
        self.gn1 = nn.GroupNorm(32, cin, eps=1e-4)
        self.conv2 = _WSConv(cin, cin, 3, 1, bias=False)
        self.gn2 = nn.GroupNorm(32, cin, eps=1e-4)
        self.conv3 = _WSConv(cin, cout, 1, 1, bias=False)
        self.gn3 = nn.GroupNorm(32, cout, eps=1e-4)
        self.conv_proj = _WSConv(cin, cout, 1, 1, bias=False)
        self.gn_proj = nn.GroupNorm(32, cout, eps=1e-4)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        short = self.gn_proj(self.conv_proj(x))
        y = F.relu(self.gn1(self.conv1(x)))
        y = F.relu(self.gn2(self.conv2(y)))
        return F.relu(self.gn3(self.conv3(y)) + short)


class _Attention(nn.Module):
    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        if width % heads:
            raise MetricError(f"MUSIQ: width {width} is not a multiple of {heads} heads")
        self.heads = heads
        self.query = nn.Linear(width, width)
        self.key = nn.Linear(width, width)
        self.value = nn.Linear(width, width)
        self.out = nn.Linear(width, width)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        b, n, c = x.shape
        d = c // self.heads

        def split(t):
            return t.reshape(b, n, self.heads, d).transpose(1, 2)

        q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
        logits = (q @ k.transpose(-2, -1)) * (d ** -0.5)
        logits = logits.masked_fill(blocked, -1e3)
        y = logits.softmax(dim=-1) @ v
        return self.out(y.transpose(1, 2).reshape(b, n, c))


class _Mlp(nn.Module):
    def __init__(self, width: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class _Layer(nn.Module):
    def __init__(self, cfg: MusiqConfig) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.width, eps=1e-6)
        self.attention = _Attention(cfg.width, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.width, eps=1e-6)
        self.mlp = _Mlp(cfg.width, cfg.mlp)

    def forward(self, x: torch.Tensor, blocked: torch.Tensor) -> torch.Tensor:
        x = x + self.attention(self.norm1(x), blocked)
        return x + self.mlp(self.norm2(x))


class _Table(nn.Module):
    """A learned embedding table under the parameter name the checkpoints use."""

    def __init__(self, attr: str, shape: tuple[int, ...]) -> None:
        super().__init__()
        self.attr = attr
        self.register_parameter(attr, nn.Parameter(torch.zeros(shape)))

    def table(self) -> torch.Tensor:
        return getattr(self, self.attr)


class _Encoder(nn.Module):
    def __init__(self, cfg: MusiqConfig) -> None:
        super().__init__()
        self.posembed_input = _Table("position_emb", (1, cfg.grid * cfg.grid, cfg.width))
        self.scaleembed_input = _Table("scale_emb", (cfg.scales, cfg.width))
        self.cls = nn.Parameter(torch.zeros(1, 1, cfg.width))
        self.encoder_norm = nn.LayerNorm(cfg.width, eps=1e-6)
        self.transformer = nn.ModuleDict({f"encoderblock_{i}": _Layer(cfg)
                                          for i in range(cfg.layers)})

    def forward(self, x: torch.Tensor, pos: torch.Tensor, scale: torch.Tensor,
                mask: torch.Tensor) -> torch.Tensor:
        x = x + self.posembed_input.table()[0][pos] + self.scaleembed_input.table()[scale]
        b = x.shape[0]
        x = torch.cat([self.cls.expand(b, -1, -1), x], dim=1)
        m = torch.cat([torch.ones(b, 1, dtype=torch.bool, device=mask.device), mask], dim=1)
        # a logit is kept only between two real tokens (CLS counts as real)
        blocked = ~(m[:, None, :, None] & m[:, None, None, :])
        for layer in self.transformer.values():
            x = layer(x, blocked)
        return self.encoder_norm(x)


def _grid_hash(grid: int, count: int) -> torch.Tensor:
    """Each of ``count`` patch rows (or columns) mapped to one of ``grid`` table rows:
    nearest-neighbour resampling of 0..grid-1 to ``count`` entries."""
    idx = torch.arange(grid, dtype=torch.float32).reshape(1, 1, grid)
    return F.interpolate(idx, size=count, mode="nearest").reshape(count).long()


@dataclass
class Tokens:
    """One scale's (or all scales') patches and their indices, batch first."""

    patches: torch.Tensor  # (B, N, 3, P, P)
    pos: torch.Tensor      # (B, N) long, index into the grid x grid table
    scale: torch.Tensor    # (B, N) long
    mask: torch.Tensor     # (B, N) bool, False for padding


def _patchify(img: torch.Tensor, cfg: MusiqConfig, scale_id: int, length: int | None) -> Tokens:
    """The ``P x P`` patches of ``img`` (B, 3, H, W) row by row, the grid zero-padded as
    SAME; padded with empty tokens up to ``length`` (``None``: all patches, no padding)."""
    p = cfg.patch
    b, c, h, w = img.shape
    nh, nw = math.ceil(h / p), math.ceil(w / p)
    x = _same_pad(img, p, p)
    patches = x.reshape(b, c, nh, p, nw, p).permute(0, 2, 4, 1, 3, 5).reshape(b, nh * nw, c, p, p)
    pos = (_grid_hash(cfg.grid, nh)[:, None] * cfg.grid + _grid_hash(cfg.grid, nw)[None, :])
    pos = pos.reshape(1, nh * nw).expand(b, -1).to(img.device)
    n = nh * nw
    mask = torch.ones(b, n, dtype=torch.bool, device=img.device)
    if length is not None:
        if n > length:  # cannot happen for a resized scale (its sides are <= L); kept exact
            patches, pos, mask, n = patches[:, :length], pos[:, :length], mask[:, :length], length
        extra = length - n
        if extra:
            patches = torch.cat([patches, patches.new_zeros(b, extra, c, p, p)], dim=1)
            pos = torch.cat([pos, pos.new_zeros(b, extra)], dim=1)
            mask = torch.cat([mask, mask.new_zeros(b, extra)], dim=1)
    scale = torch.full_like(pos, scale_id)
    scale[~mask] = 0
    return Tokens(patches, pos, scale, mask)


def multiscale_tokens(x: torch.Tensor, cfg: MusiqConfig) -> Tokens:
    """MUSIQ's input for images ``x`` in [-1, 1] (B, 3, H, W): the longer-side scales in
    increasing order, then the native resolution."""
    h, w = x.shape[-2:]
    parts = []
    for i, side in enumerate(sorted(cfg.longer_sides)):
        r = side / max(h, w)
        size = (round(h * r), round(w * r))
        resized = F.interpolate(x, size=size, mode="bicubic", align_corners=False)
        parts.append(_patchify(resized, cfg, i, math.ceil(side / cfg.patch) ** 2))
    parts.append(_patchify(x, cfg, len(cfg.longer_sides), None))
    return Tokens(*(torch.cat([getattr(t, f) for t in parts], dim=1)
                    for f in ("patches", "pos", "scale", "mask")))


class Musiq(nn.Module):
    """MUSIQ with the parameter names of pyiqa's released checkpoints."""

    def __init__(self, cfg: MusiqConfig = MusiqConfig()) -> None:
        super().__init__()
        if cfg.patch % 4:
            raise MetricError(f"MUSIQ: patch size {cfg.patch} is not a multiple of 4")
        self.cfg = cfg
        self.conv_root = _WSConv(3, _STEM, 7, 2, bias=False)
        self.gn_root = nn.GroupNorm(32, _STEM, eps=1e-6)
        self.block1 = _Bottleneck(_STEM, 4 * _STEM)
        self.embedding = nn.Linear(4 * _STEM * (cfg.patch // 4) ** 2, cfg.width)
        self.transformer_encoder = _Encoder(cfg)
        head = nn.Linear(cfg.width, cfg.classes)
        self.head = head if cfg.classes == 1 else nn.Sequential(head, nn.Softmax(dim=-1))

    def embed(self, patches: torch.Tensor) -> torch.Tensor:
        """(B, N, 3, P, P) patches in [-1, 1] -> (B, N, width) tokens."""
        b, n = patches.shape[:2]
        p = self.cfg.patch
        y = F.relu(self.gn_root(self.conv_root(patches.reshape(b * n, 3, p, p))))
        y = F.max_pool2d(_same_pad(y, 3, 2), 3, 2)
        y = self.block1(y)
        return self.embedding(y.permute(0, 2, 3, 1).reshape(b, n, -1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Scores (B,) of images ``x`` (B, 3, H, W) with values in [0, 1]."""
        t = multiscale_tokens((x - 0.5) * 2, self.cfg)
        feats = self.transformer_encoder(self.embed(t.patches), t.pos, t.scale, t.mask)
        q = self.head(feats[:, 0])
        if self.cfg.classes == 1:
            return q[:, 0]
        return (q * torch.arange(1, self.cfg.classes + 1, dtype=q.dtype, device=q.device)).sum(-1)


# --- checkpoints -------------------------------------------------------------------

def _strip(state: dict) -> dict:
    return {(k[len("module."):] if k.startswith("module.") else k): v for k, v in state.items()}


def config_from_state(state: dict, heads: int = 6,
                      longer_sides: tuple[int, ...] = (224, 384)) -> MusiqConfig:
    """The sizes of the network a MUSIQ state dict was saved from (the number of heads
    and the longer sides are not in the file: the released models use 6 and 224/384)."""
    s = _strip(state)
    need = ("embedding.weight", "transformer_encoder.posembed_input.position_emb",
            "transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight")
    missing = [k for k in need if k not in s]
    head = s.get("head.weight", s.get("head.0.weight"))
    if missing or head is None:
        raise MetricError("not a MUSIQ checkpoint: no "
                          + ", ".join(missing or ["head.weight"])
                          + " (expected pyiqa's musiq_*_ckpt file, a plain state dict)")
    emb = s["embedding.weight"]
    tokens_in = emb.shape[1] // (4 * _STEM)
    patch = 4 * math.isqrt(tokens_in)
    cells = s["transformer_encoder.posembed_input.position_emb"].shape[1]
    layers = 0
    while f"transformer_encoder.transformer.encoderblock_{layers}.norm1.weight" in s:
        layers += 1
    return MusiqConfig(patch=patch, width=emb.shape[0],
                       mlp=s["transformer_encoder.transformer.encoderblock_0.mlp.fc1.weight"]
                       .shape[0], heads=heads, layers=layers, grid=math.isqrt(cells),
                       classes=head.shape[0], longer_sides=tuple(longer_sides))


def load_musiq(path: str | Path, device: str = "cpu") -> Musiq:
    """The network of a MUSIQ checkpoint file, loaded strictly with ``weights_only``."""
    try:
        state = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or foreign file: one message
        raise MetricError(f"{path}: cannot read as a MUSIQ checkpoint ({type(exc).__name__}: "
                          f"{exc})") from None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor)
                                              for v in state.values()):
        raise MetricError(f"{path}: expected a MUSIQ state dict (tensors by name), got "
                          f"{type(state).__name__}")
    try:
        cfg = config_from_state(state)
    except MetricError as exc:
        raise MetricError(f"{path}: {exc}") from None
    state = _strip(state)
    se = state.get("transformer_encoder.scaleembed_input.scale_emb")
    if se is not None and se.shape[0] != cfg.scales:
        raise MetricError(f"{path}: the MUSIQ scale embedding has {se.shape[0]} rows, expected "
                          f"{cfg.scales} (longer sides {cfg.longer_sides} and the native size)")
    model = Musiq(cfg)
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    bad = sorted(k for k in set(own) & set(state) if own[k].shape != state[k].shape)
    if missing or unexpected or bad:
        raise MetricError(f"{path}: MUSIQ keys do not fit (missing: "
                          f"{', '.join(missing[:3]) or 'none'}; unexpected: "
                          f"{', '.join(unexpected[:3]) or 'none'}; wrong shape: "
                          f"{', '.join(bad[:3]) or 'none'})")
    model.load_state_dict(state, strict=True)
    return model.eval().to(device)


def musiq_shapes(cfg: MusiqConfig = MusiqConfig()) -> dict[str, tuple[int, ...]]:
    """Parameter names and shapes of a MUSIQ network (the checkpoint's layout)."""
    return {k: tuple(v.shape) for k, v in Musiq(cfg).state_dict().items()}


def random_musiq_checkpoint(path: str | Path, seed: int = 0,
                            cfg: MusiqConfig = MusiqConfig(), prefix: str = "") -> Path:
    """A MUSIQ checkpoint with seeded random weights, saved as the released files are (a
    plain state dict; ``prefix="module."`` for a DataParallel-style one). Weights are
    scaled by 1/sqrt(fan-in), norms near 1, the head's bias 50 and weights x10 so the
    scores spread around the middle of SPAQ's scale."""
    g = torch.Generator().manual_seed(seed)
    out = {}
    for key, shape in sorted(musiq_shapes(cfg).items()):
        x = torch.randn(shape, generator=g, dtype=torch.float32)
        leaf = key.rsplit(".", 1)[-1]
        if "gn" in key.rsplit(".", 2)[-2] or "norm" in key:
            x = (1.0 + 0.1 * x) if leaf == "weight" else 0.1 * x
        elif leaf == "bias":
            x = (50.0 + x) if key.startswith("head") else 0.05 * x
        elif key.endswith(("position_emb", "scale_emb", ".cls")):
            x = 0.5 * x
        elif key.startswith("head"):
            x = 10.0 * x / math.sqrt(shape[1])  # scores spread over about +-10
        else:
            x = x / math.sqrt(math.prod(shape[1:]))
        out[prefix + key] = x.contiguous()
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    torch.save(out, p)
    return p


TINY = MusiqConfig(width=48, mlp=96, heads=6, layers=2)


__all__ = ["Musiq", "MusiqConfig", "TINY", "Tokens", "config_from_state", "load_musiq",
           "multiscale_tokens", "musiq_shapes", "random_musiq_checkpoint"]

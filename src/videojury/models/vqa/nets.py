"""The networks of FAST-VQA / FasterVQA and DOVER, on torchvision's Video Swin-T.

FAST-VQA's backbone is Video Swin-T (patch 2x4x4, window 8x7x7, depths
2-2-6-2) with one addition, the *gated relative position bias*: in every
window the attention bias of a token pair is the ordinary relative-position
bias, blended with a second table (``fragment_position_bias_table``, in the
first three stages) by a gate that is the L1 distance between the two
tokens' fragment coordinates (the window's 7x7 grid stretched over the whole
feature map). torchvision's ``SwinTransformer3d`` supplies the patch
embedding, blocks, MLPs, patch merging and norms; :class:`FragmentAttention3d`
replaces its window attention with that bias. DOVER's technical branch is the
same backbone; its aesthetic branch is ConvNeXt-T inflated to 3D
(:class:`ConvNeXt3D`: stem 2x4x4, depthwise kernels 1x7x7 / 3x7x7 in the
pattern 1-3-1). The heads are FAST-VQA's two 1x1x1 convolutions, applied per
token; the score is the mean over tokens (and clips).

Official checkpoints are read with ``torch.load(weights_only=True)`` and
converted key by key (:func:`convert_swin_keys`); a key that maps nowhere, a
missing key or a shape mismatch is an error naming it.
"""

from __future__ import annotations

from functools import lru_cache, partial
from pathlib import Path
import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import MetricError

__all__ = ["FragmentSwin3D", "ConvNeXt3D", "VQAHead", "FastVQANet", "DOVERNet",
           "convert_swin_keys", "load_fastvqa", "load_dover"]


def _window_and_shift(size, window, shift):
    ws, ss = list(window), list(shift)
    for i in range(3):
        if size[i] <= window[i]:
            ws[i], ss[i] = size[i], 0
    return tuple(ws), tuple(ss)


def _partition(x: torch.Tensor, ws) -> torch.Tensor:
    b, d, h, w, c = x.shape
    x = x.view(b, d // ws[0], ws[0], h // ws[1], ws[1], w // ws[2], ws[2], c)
    return x.permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(-1, ws[0] * ws[1] * ws[2], c)


def _reverse(win: torch.Tensor, ws, b, d, h, w) -> torch.Tensor:
    x = win.view(b, d // ws[0], h // ws[1], w // ws[2], ws[0], ws[1], ws[2], -1)
    return x.permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, d, h, w, -1)


@lru_cache(maxsize=64)
def _fragment_gate(d, h, w, ws, ss, device: str) -> torch.Tensor:
    """(windows, N, N) gate: L1 distance of the fragment coordinates of each token pair.

    The fragment grid has the window's spatial size (1 x Wh x Ww cells) and
    is stretched over the padded map by nearest-neighbour indexing, then
    shifted with the tokens, as FAST-VQA's ``global_position_index`` does.
    """
    grid = torch.stack(torch.meshgrid(torch.arange(1), torch.arange(ws[1]), torch.arange(ws[2]),
                                      indexing="ij")).float()
    coords = F.interpolate(grid[None], size=(d, h, w)).long().permute(0, 2, 3, 4, 1)
    coords = torch.roll(coords, shifts=(-ss[0], -ss[1], -ss[2]), dims=(1, 2, 3))
    wc = _partition(coords, ws)  # (nW, N, 3)
    gate = (wc[:, None, :] - wc[:, :, None]).abs().sum(-1).float()
    return gate.to(device)


@lru_cache(maxsize=64)
def _shift_mask(d, h, w, ws, ss, device: str) -> torch.Tensor:
    img = torch.zeros((1, d, h, w, 1))
    cnt = 0
    for sd in (slice(-ws[0]), slice(-ws[0], -ss[0]), slice(-ss[0], None)):
        for sh in (slice(-ws[1]), slice(-ws[1], -ss[1]), slice(-ss[1], None)):
            for sw in (slice(-ws[2]), slice(-ws[2], -ss[2]), slice(-ss[2], None)):
                img[:, sd, sh, sw, :] = cnt
                cnt += 1
    mw = _partition(img, ws).squeeze(-1)
    mask = mw.unsqueeze(1) - mw.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0).to(device)


class FragmentAttention3d(nn.Module):
    """Shifted-window attention with FAST-VQA's gated relative position bias.

    Parameter names follow torchvision's ``ShiftedWindowAttention3d`` (``qkv``,
    ``proj``, ``relative_position_bias_table``) plus
    ``fragment_position_bias_table`` (None in stages without it).
    """

    def __init__(self, dim, window_size, shift_size, num_heads, qkv_bias=True, proj_bias=True,
                 attention_dropout=0.0, dropout=0.0, frag_bias=True):
        super().__init__()
        self.window_size, self.shift_size, self.num_heads = list(window_size), list(shift_size), \
            num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim, bias=proj_bias)
        size = (2 * window_size[0] - 1) * (2 * window_size[1] - 1) * (2 * window_size[2] - 1)
        self.relative_position_bias_table = nn.Parameter(torch.zeros(size, num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.fragment_position_bias_table = (nn.Parameter(torch.zeros(size, num_heads))
                                             if frag_bias else None)
        wd, wh, ww = window_size
        coords = torch.stack(torch.meshgrid(torch.arange(wd), torch.arange(wh), torch.arange(ww),
                                            indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0).contiguous()
        rel[:, :, 0] += wd - 1
        rel[:, :, 1] += wh - 1
        rel[:, :, 2] += ww - 1
        rel[:, :, 0] *= (2 * wh - 1) * (2 * ww - 1)
        rel[:, :, 1] *= 2 * ww - 1
        self.register_buffer("relative_position_index", rel.sum(-1), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, d, h, w, c = x.shape
        ws, ss = _window_and_shift((d, h, w), self.window_size, self.shift_size)
        pad = [(ws[i] - s % ws[i]) % ws[i] for i, s in enumerate((d, h, w))]
        x = F.pad(x, (0, 0, 0, pad[2], 0, pad[1], 0, pad[0]))
        _, dp, hp, wp, _ = x.shape
        shifted = any(s > 0 for s in ss)
        if shifted:
            x = torch.roll(x, shifts=(-ss[0], -ss[1], -ss[2]), dims=(1, 2, 3))
        win = _partition(x, ws)
        bw, n, _ = win.shape
        nh = self.num_heads
        qkv = self.qkv(win).reshape(bw, n, 3, nh, c // nh).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * (c // nh) ** -0.5) @ k.transpose(-2, -1)
        rpi = self.relative_position_index[:n, :n].reshape(-1)
        bias = self.relative_position_bias_table[rpi].reshape(n, n, -1).permute(2, 0, 1)
        dev = str(x.device)
        if self.fragment_position_bias_table is not None:
            fbias = self.fragment_position_bias_table[rpi].reshape(n, n, -1).permute(2, 0, 1)
            gate = _fragment_gate(dp, hp, wp, ws, ss, dev).to(attn.dtype).unsqueeze(1)
            bias = bias.unsqueeze(0) * gate + fbias.unsqueeze(0) * (1 - gate)  # nW, nH, N, N
        else:
            bias = bias.unsqueeze(0)
        nw = bw // b
        attn = attn.view(b, nw, nh, n, n) + bias.unsqueeze(0)
        if shifted:
            attn = attn + _shift_mask(dp, hp, wp, ws, ss, dev).to(attn.dtype).unsqueeze(1)[None]
        attn = attn.view(-1, nh, n, n).softmax(dim=-1)
        out = (attn @ v).transpose(1, 2).reshape(bw, n, c)
        out = _reverse(self.proj(out), ws, b, dp, hp, wp)
        if shifted:
            out = torch.roll(out, shifts=ss, dims=(1, 2, 3))
        return out[:, :d, :h, :w, :].contiguous()


class FragmentSwin3D(nn.Module):
    """Video Swin-T from torchvision with FAST-VQA's attention; returns (B, 768, T', H', W')."""

    def __init__(self, embed_dim: int = 96, depths=(2, 2, 6, 2), num_heads=(3, 6, 12, 24),
                 frag_biases=(True, True, True, False)):
        super().__init__()
        from torchvision.models.swin_transformer import SwinTransformerBlock
        from torchvision.models.video.swin_transformer import SwinTransformer3d

        biases = list(frag_biases)
        stage_of = {embed_dim * 2 ** i: i for i in range(len(depths))}
        self.num_features = embed_dim * 2 ** (len(depths) - 1)

        def attn(dim, window_size, shift_size, num_heads, **kw):
            return FragmentAttention3d(dim, window_size, shift_size, num_heads,
                                       frag_bias=bool(biases[stage_of[dim]]), **kw)

        def block(*args, attn_layer=None, **kw):  # torchvision passes its own attn_layer
            return SwinTransformerBlock(*args, attn_layer=attn, **kw)

        net = SwinTransformer3d(patch_size=[2, 4, 4], embed_dim=embed_dim, depths=list(depths),
                                num_heads=list(num_heads), window_size=[8, 7, 7],
                                stochastic_depth_prob=0.1,
                                norm_layer=partial(nn.LayerNorm, eps=1e-5),
                                block=block)
        self.patch_embed, self.features, self.norm = net.patch_embed, net.features, net.norm

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(self.patch_embed(x))
        return self.norm(x).permute(0, 4, 1, 2, 3)


class _LayerNormCF(nn.LayerNorm):
    """LayerNorm over the channel axis of (B, C, T, H, W)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return super().forward(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class _Block3D(nn.Module):
    def __init__(self, dim: int, t: int):
        super().__init__()
        self.dwconv = nn.Conv3d(dim, dim, (t, 7, 7), padding=(t // 2, 3, 3), groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.pwconv1 = nn.Linear(dim, 4 * dim)
        self.act = nn.GELU()
        self.pwconv2 = nn.Linear(4 * dim, dim)
        self.gamma = nn.Parameter(torch.full((dim,), 1e-6))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = self.dwconv(x).permute(0, 2, 3, 4, 1)
        y = self.gamma * self.pwconv2(self.act(self.pwconv1(self.norm(y))))
        return x + y.permute(0, 4, 1, 2, 3)


class ConvNeXt3D(nn.Module):
    """ConvNeXt-T inflated to 3D as DOVER's aesthetic branch (keys as DOVER's)."""

    def __init__(self, depths=(3, 3, 9, 3), dims=(96, 192, 384, 768), inflate="131"):
        super().__init__()
        self.downsample_layers = nn.ModuleList([nn.Sequential(
            nn.Conv3d(3, dims[0], (2, 4, 4), stride=(2, 4, 4)), _LayerNormCF(dims[0], eps=1e-6))])
        for i in range(3):
            self.downsample_layers.append(nn.Sequential(
                _LayerNormCF(dims[i], eps=1e-6),
                nn.Conv3d(dims[i], dims[i + 1], (1, 2, 2), stride=(1, 2, 2))))
        self.stages = nn.ModuleList(
            nn.Sequential(*[_Block3D(dims[i], int(inflate[j % len(inflate)]))
                            for j in range(depths[i])]) for i in range(4))
        self.norm = nn.LayerNorm(dims[-1], eps=1e-6)
        self.num_features = dims[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for down, stage in zip(self.downsample_layers, self.stages):
            x = stage(down(x))
        return self.norm(x.permute(0, 2, 3, 4, 1)).permute(0, 4, 1, 2, 3)


class VQAHead(nn.Module):
    """FAST-VQA's head: 1x1x1 conv 768->64, GELU, 1x1x1 conv 64->1, per token (dropout at train)."""

    def __init__(self, in_channels: int = 768, hidden: int = 64, dropout: float = 0.5):
        super().__init__()
        self.dropout = nn.Dropout(dropout)
        self.fc_hid = nn.Conv3d(in_channels, hidden, 1)
        self.fc_last = nn.Conv3d(hidden, 1, 1)
        self.gelu = nn.GELU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc_last(self.dropout(self.gelu(self.fc_hid(self.dropout(x)))))


class FastVQANet(nn.Module):
    """FAST-VQA / FasterVQA: fragment Swin + head; ``forward`` gives one raw score per clip."""

    def __init__(self, swin: dict | None = None):
        super().__init__()
        self.backbone = FragmentSwin3D(**(swin or {}))
        self.head = VQAHead(self.backbone.num_features)

    def forward(self, clips: torch.Tensor) -> torch.Tensor:
        return self.head(self.backbone(clips)).flatten(1).mean(1)


class DOVERNet(nn.Module):
    """DOVER: technical branch (fragment Swin) and aesthetic branch (ConvNeXt-3D), one head each."""

    def __init__(self, swin: dict | None = None, convnext: dict | None = None):
        super().__init__()
        self.technical_backbone = FragmentSwin3D(**(swin or {}))
        self.aesthetic_backbone = ConvNeXt3D(**(convnext or {}))
        self.technical_head = VQAHead(self.technical_backbone.num_features)
        self.aesthetic_head = VQAHead(self.aesthetic_backbone.num_features)

    def technical(self, clips: torch.Tensor) -> torch.Tensor:
        return self.technical_head(self.technical_backbone(clips)).flatten(1).mean(1)

    def aesthetic(self, clips: torch.Tensor) -> torch.Tensor:
        return self.aesthetic_head(self.aesthetic_backbone(clips)).flatten(1).mean(1)


# --- official checkpoints -----------------------------------------------------------

def convert_swin_keys(sd: dict[str, torch.Tensor], prefix: str, new_prefix: str) -> dict:
    """FAST-VQA's Video Swin keys (``<prefix>layers.i.blocks.j...``) to torchvision's.

    ``layers.i.blocks.j`` -> ``features.{2i}.j``, ``layers.i.downsample`` ->
    ``features.{2i+1}``, ``mlp.fc1/fc2`` -> ``mlp.0/mlp.3``; ``patch_embed``
    and ``norm`` keep their names. ``relative_position_index`` buffers are
    dropped (they follow from the window size and are rebuilt).
    """
    import re

    out = {}
    for key, val in sd.items():
        if not key.startswith(prefix):
            continue
        k = key[len(prefix):]
        if k.endswith("relative_position_index"):
            continue
        m = re.match(r"layers\.(\d+)\.blocks\.(\d+)\.(.*)$", k)
        if m:
            rest = m.group(3).replace("mlp.fc1.", "mlp.0.").replace("mlp.fc2.", "mlp.3.")
            k = f"features.{2 * int(m.group(1))}.{m.group(2)}.{rest}"
        else:
            m = re.match(r"layers\.(\d+)\.downsample\.(.*)$", k)
            if m:
                k = f"features.{2 * int(m.group(1)) + 1}.{m.group(2)}"
            elif not (k.startswith("patch_embed.") or k.startswith("norm.")):
                raise MetricError(f"checkpoint key {key!r} has no place in the Video Swin backbone")
        out[new_prefix + k] = val
    return out


def _read(path: str | Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - a corrupt or pickled-code file
        raise MetricError(f"{path}: cannot be read as a weights-only PyTorch checkpoint "
                          f"({str(exc).splitlines()[0] if str(exc) else exc})") from None
    if isinstance(obj, dict) and isinstance(obj.get("state_dict"), dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict):
        raise MetricError(f"{path}: not a state dict")
    return obj


def state_mismatch(own: dict, sd: dict) -> list[str]:
    """What keeps ``sd`` from loading strictly into a module whose state dict is ``own``
    (missing, unexpected and mis-shaped keys, the first of each named); empty when it fits."""
    missing = sorted(set(own) - set(sd))
    extra = sorted(set(sd) - set(own))
    bad = sorted(k for k in set(own) & set(sd) if tuple(own[k].shape) != tuple(sd[k].shape))
    parts = []
    if missing:
        parts.append(f"missing {len(missing)} keys (first: {missing[0]})")
    if extra:
        parts.append(f"{len(extra)} unexpected keys (first: {extra[0]})")
    if bad:
        parts.append(f"shape mismatch at {bad[0]}: {tuple(sd[bad[0]].shape)} in the file, "
                     f"{tuple(own[bad[0]].shape)} expected")
    return parts


def _strict_load(net: nn.Module, sd: dict, path, what: str) -> None:
    parts = state_mismatch(net.state_dict(), sd)
    if parts:
        raise MetricError(f"{path}: not {what}: " + "; ".join(parts))
    net.load_state_dict({k: v.float() for k, v in sd.items()}, strict=True)


def _swin_size(sd: dict, prefix: str) -> dict:
    """Embedding width, depths, heads and fragment-bias stages of a Video Swin in a file
    (the official files hold Swin-T: 96, 2-2-6-2, 3-6-12-24; smaller ones are test models)."""
    import re

    w = sd.get(prefix + "patch_embed.proj.weight")
    if w is None:
        raise MetricError(f"no {prefix}patch_embed.proj.weight: not a FAST-VQA-style backbone")
    depths: dict[int, int] = {}
    heads: dict[int, int] = {}
    frag: dict[int, bool] = {}
    for k, v in sd.items():
        m = re.match(re.escape(prefix) + r"layers\.(\d+)\.blocks\.(\d+)\.attn\.(\w+)", k)
        if m:
            i, j = int(m.group(1)), int(m.group(2))
            depths[i] = max(depths.get(i, 0), j + 1)
            if m.group(3) == "relative_position_bias_table":
                heads[i] = int(v.shape[1])
            frag[i] = frag.get(i, False) or m.group(3) == "fragment_position_bias_table"
    n = len(depths)
    return {"embed_dim": int(w.shape[0]), "depths": tuple(depths[i] for i in range(n)),
            "num_heads": tuple(heads[i] for i in range(n)),
            "frag_biases": tuple(frag[i] for i in range(n))}


def _convnext_size(sd: dict, prefix: str) -> dict:
    import re

    depths: dict[int, int] = {}
    for k in sd:
        m = re.match(re.escape(prefix) + r"stages\.(\d+)\.(\d+)\.", k)
        if m:
            depths[int(m.group(1))] = max(depths.get(int(m.group(1)), 0), int(m.group(2)) + 1)
    dims = tuple(int(sd[f"{prefix}stages.{i}.0.gamma"].shape[0]) for i in range(len(depths)))
    return {"depths": tuple(depths[i] for i in range(len(depths))), "dims": dims}


def load_fastvqa(path: str | Path) -> FastVQANet:
    """FAST-VQA / FasterVQA from an official file (``{"state_dict": ...}`` with
    ``fragments_backbone.*`` and ``vqa_head.*``)."""
    sd = _read(path)
    unknown = [k for k in sd if not k.startswith(("fragments_backbone.", "vqa_head."))]
    if unknown:
        raise MetricError(f"{path}: not a FAST-VQA checkpoint (unexpected key {unknown[0]!r})")
    conv = convert_swin_keys(sd, "fragments_backbone.", "backbone.")
    conv.update({"head." + k[len("vqa_head."):]: v for k, v in sd.items()
                 if k.startswith("vqa_head.")})
    try:
        net = FastVQANet(_swin_size(sd, "fragments_backbone."))
    except (KeyError, MetricError) as exc:
        raise MetricError(f"{path}: not a FAST-VQA checkpoint ({exc})") from None
    _strict_load(net, conv, path, "a FAST-VQA checkpoint")
    return net.eval()


def load_dover(path: str | Path) -> DOVERNet:
    """DOVER from its official file (a plain state dict: ``technical_backbone.*``,
    ``aesthetic_backbone.*``, ``technical_head.*``, ``aesthetic_head.*``)."""
    sd = _read(path)
    known = ("technical_backbone.", "aesthetic_backbone.", "technical_head.", "aesthetic_head.")
    unknown = [k for k in sd if not k.startswith(known)]
    if unknown:
        raise MetricError(f"{path}: not a DOVER checkpoint (unexpected key {unknown[0]!r})")
    conv = convert_swin_keys(sd, "technical_backbone.", "technical_backbone.")
    conv.update({k: v for k, v in sd.items() if k.startswith(known[1:])})
    try:
        net = DOVERNet(_swin_size(sd, "technical_backbone."),
                       _convnext_size(sd, "aesthetic_backbone."))
    except (KeyError, MetricError) as exc:
        raise MetricError(f"{path}: not a DOVER checkpoint ({exc})") from None
    _strict_load(net, conv, path, "a DOVER checkpoint")
    return net.eval()


def count_parameters(net: nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())

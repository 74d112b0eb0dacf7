"""AMT-S (Li et al., CVPR 2023, "AMT: All-Pairs Multi-Field Transforms for Efficient Frame
Interpolation"), the network VBench's ``motion_smoothness`` runs.

Written here from the paper's description and the released configuration (corr radius 3,
4 correlation levels, 3 flow fields, pyramid channels 20/32/44/56). The module names are the
ones of ``amt-s.pth``'s ``state_dict`` (the file format), so the official file loads strictly
with no renaming. Layout, coarse to fine:

* a RAFT-style feature encoder (instance-normalised bottleneck blocks, 1/8 scale, 84
  channels) on both frames, and an all-pairs correlation volume between them with a
  4-level pooled pyramid, looked up in both directions (frame 0 -> 1 and its transpose);
* an IFRNet-style 4-level convolutional pyramid per frame (1/2 .. 1/16);
* decoders from 1/16 up to full size that predict the two flows from the middle time to
  each frame plus a feature map; after each of the three coarse decoders, a small update
  block refines flows and features from the correlation looked up at the flows extended
  linearly to the far frame;
* the last decoder predicts 3 flow pairs, blending masks and residuals; the 3 warped
  candidates are averaged and corrected by a small convolution.

torch is imported here only; the package's core never imports this module.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F

CHANNELS = (20, 32, 44, 56)
SKIP = 20
NUM_FLOWS = 3
RADIUS = 3
LEVELS = 4


def _up(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Bilinear rescaling by a factor (half-pixel centres)."""
    return F.interpolate(x, scale_factor=factor, mode="bilinear", align_corners=False)


def backward_warp(img: torch.Tensor, flow: torch.Tensor) -> torch.Tensor:
    """Sample ``img`` at each pixel displaced by ``flow`` (pixels), edges repeated."""
    b, _, h, w = flow.shape
    gx = torch.linspace(-1.0, 1.0, w).view(1, 1, 1, w).expand(b, -1, h, -1)
    gy = torch.linspace(-1.0, 1.0, h).view(1, 1, h, 1).expand(b, -1, -1, w)
    base = torch.cat([gx, gy], 1).to(img)
    step = torch.cat([flow[:, 0:1] / ((w - 1.0) / 2.0), flow[:, 1:2] / ((h - 1.0) / 2.0)], 1)
    grid = (base + step).permute(0, 2, 3, 1)
    return F.grid_sample(img, grid, mode="bilinear", padding_mode="border", align_corners=True)


def _conv_prelu(cin: int, cout: int, k: int = 3, stride: int = 1, pad: int = 1) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(cin, cout, k, stride, pad), nn.PReLU(cout))


# --- feature encoder (1/8 scale) -------------------------------------------------------

def _inorm(x: torch.Tensor) -> torch.Tensor:
    return F.instance_norm(x, eps=1e-5)


class _Bottleneck(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int) -> None:
        super().__init__()
        mid = cout // 4
        self.conv1 = nn.Conv2d(cin, mid, 1)
        self.conv2 = nn.Conv2d(mid, mid, 3, stride, 1)
        self.conv3 = nn.Conv2d(mid, cout, 1)
        # index 1 of the shortcut is a parameter-free instance norm
        self.downsample = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride), nn.Identity())
                           if stride != 1 else None)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        y = F.relu(_inorm(self.conv1(x)))
        y = F.relu(_inorm(self.conv2(y)))
        y = F.relu(_inorm(self.conv3(y)))
        if self.downsample is not None:
            x = _inorm(self.downsample[0](x))
        return F.relu(x + y)


class FeatureEncoder(nn.Module):
    def __init__(self, out_dim: int = 84) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(3, 32, 7, 2, 3)
        self.layer1 = nn.Sequential(_Bottleneck(32, 32, 1), _Bottleneck(32, 32, 1))
        self.layer2 = nn.Sequential(_Bottleneck(32, 64, 2), _Bottleneck(64, 64, 1))
        self.layer3 = nn.Sequential(_Bottleneck(64, 96, 2), _Bottleneck(96, 96, 1))
        self.conv2 = nn.Conv2d(96, out_dim, 1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = F.relu(_inorm(self.conv1(x)))
        return self.conv2(self.layer3(self.layer2(self.layer1(x))))


# --- all-pairs correlation, both directions --------------------------------------------

def pixel_grid(b: int, h: int, w: int, device) -> torch.Tensor:
    """(b, 2, h, w) pixel coordinates, x first."""
    ys, xs = torch.meshgrid(torch.arange(h, device=device), torch.arange(w, device=device),
                            indexing="ij")
    return torch.stack([xs, ys], 0).float()[None].repeat(b, 1, 1, 1)


def _sample_px(vol: torch.Tensor, coords: torch.Tensor) -> torch.Tensor:
    """Bilinear sampling of ``vol`` at pixel ``coords`` (..., 2), zeros outside."""
    h, w = vol.shape[-2:]
    x, y = coords.split([1, 1], dim=-1)
    grid = torch.cat([2 * x / (w - 1) - 1, 2 * y / (h - 1) - 1], dim=-1)
    return F.grid_sample(vol, grid, align_corners=True)


class CorrPyramid:
    """The correlation of every 1/8-scale position of frame 0 with every one of frame 1,
    pooled into ``levels`` levels; also kept transposed for the 1 -> 0 lookup."""

    def __init__(self, f0: torch.Tensor, f1: torch.Tensor, levels: int = LEVELS,
                 radius: int = RADIUS) -> None:
        self.levels, self.radius = levels, radius
        b, c, h, w = f0.shape
        vol = torch.matmul(f0.view(b, c, h * w).transpose(1, 2), f1.view(b, c, h * w))
        vol = vol.view(b, h, w, 1, h, w) / torch.sqrt(torch.tensor(c).float())
        fwd = vol.reshape(b * h * w, 1, h, w)
        bwd = vol.clone().permute(0, 4, 5, 3, 1, 2).reshape(b * h * w, 1, h, w)
        self.fwd, self.bwd = [fwd], [bwd]
        for _ in range(levels - 1):
            fwd = F.avg_pool2d(fwd, 2, stride=2)
            bwd = F.avg_pool2d(bwd, 2, stride=2)
            self.fwd.append(fwd)
            self.bwd.append(bwd)

    def lookup(self, at0: torch.Tensor, at1: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Windows of (2r+1)^2 values per level around ``at0`` in the forward volume and
        ``at1`` in the transposed one; (b, levels*(2r+1)^2, h, w) each."""
        r = self.radius
        at0, at1 = at0.permute(0, 2, 3, 1), at1.permute(0, 2, 3, 1)
        b, h, w, _ = at0.shape
        offs = torch.linspace(-r, r, 2 * r + 1, device=at0.device)
        # window entry [i, j] moves x by offs[i] and y by offs[j] (the released layout)
        win = torch.stack(torch.meshgrid(offs, offs, indexing="ij"), dim=-1).view(
            1, 2 * r + 1, 2 * r + 1, 2)
        outs0, outs1 = [], []
        for lvl in range(self.levels):
            c0 = at0.reshape(b * h * w, 1, 1, 2) / 2 ** lvl + win
            c1 = at1.reshape(b * h * w, 1, 1, 2) / 2 ** lvl + win
            outs0.append(_sample_px(self.fwd[lvl], c0).view(b, h, w, -1))
            outs1.append(_sample_px(self.bwd[lvl], c1).view(b, h, w, -1))
        o0 = torch.cat(outs0, -1).permute(0, 3, 1, 2).contiguous().float()
        o1 = torch.cat(outs1, -1).permute(0, 3, 1, 2).contiguous().float()
        return o0, o1


class UpdateBlock(nn.Module):
    """Refines the two flows and the feature map from the looked-up correlation, at 1/8
    scale (inputs at a finer scale are brought down by ``scale`` and the deltas back up)."""

    def __init__(self, feat: int, scale: int | None, hidden: int = 76, flow_dim: int = 20,
                 corr_dim: int = 64, mix_dim: int = 68) -> None:
        super().__init__()
        planes = LEVELS * (2 * RADIUS + 1) ** 2
        self.scale = scale
        self.convc1 = nn.Conv2d(2 * planes, corr_dim, 1)
        self.convf1 = nn.Conv2d(4, 2 * flow_dim, 7, padding=3)
        self.convf2 = nn.Conv2d(2 * flow_dim, flow_dim, 3, padding=1)
        self.conv = nn.Conv2d(corr_dim + flow_dim, mix_dim, 3, padding=1)
        self.gru = nn.Sequential(nn.Conv2d(mix_dim + 4 + feat, hidden, 3, padding=1),
                                 nn.LeakyReLU(0.1), nn.Conv2d(hidden, hidden, 3, padding=1))
        self.feat_head = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1),
                                       nn.LeakyReLU(0.1), nn.Conv2d(hidden, feat, 3, padding=1))
        self.flow_head = nn.Sequential(nn.Conv2d(hidden, hidden, 3, padding=1),
                                       nn.LeakyReLU(0.1), nn.Conv2d(hidden, 4, 3, padding=1))

    def forward(self, feat, flow, corr):
        act = lambda t: F.leaky_relu(t, 0.1)  # noqa: E731
        if self.scale is not None:
            feat = _up(feat, 1 / self.scale)
        c = act(self.convc1(corr))
        f = act(self.convf2(act(self.convf1(flow))))
        x = torch.cat([act(self.conv(torch.cat([c, f], 1))), flow, feat], 1)
        h = self.gru(x)
        d_feat, d_flow = self.feat_head(h), self.flow_head(h)
        if self.scale is not None:
            d_feat = _up(d_feat, self.scale)
            d_flow = self.scale * _up(d_flow, self.scale)
        return d_feat, d_flow


# --- IFRNet-style pyramid and decoders -------------------------------------------------

class SideResBlock(nn.Module):
    """A residual block whose last ``side`` channels get extra convolutions in between."""

    def __init__(self, ch: int, side: int) -> None:
        super().__init__()
        self.side = side
        self.conv1 = _conv_prelu(ch, ch)
        self.conv2 = _conv_prelu(side, side)
        self.conv3 = _conv_prelu(ch, ch)
        self.conv4 = _conv_prelu(side, side)
        self.conv5 = nn.Conv2d(ch, ch, 3, 1, 1)
        self.prelu = nn.PReLU(ch)

    def forward(self, x):
        s = self.side
        y = self.conv1(x)
        y = self.conv3(torch.cat([y[:, :-s], self.conv2(y[:, -s:])], 1))
        y = self.conv5(torch.cat([y[:, :-s], self.conv4(y[:, -s:])], 1))
        return self.prelu(x + y)


class Pyramid(nn.Module):
    def __init__(self, channels=CHANNELS) -> None:
        super().__init__()
        self.n = len(channels)
        prev = 3
        for i, ch in enumerate(channels, 1):
            self.add_module(f"pyramid{i}", nn.Sequential(_conv_prelu(prev, ch, 3, 2, 1),
                                                         _conv_prelu(ch, ch)))
            prev = ch

    def forward(self, x):
        out = []
        for i in range(1, self.n + 1):
            x = getattr(self, f"pyramid{i}")(x)
            out.append(x)
        return out


def _decoder_block(cin: int, mid: int, cout: int) -> nn.Sequential:
    return nn.Sequential(_conv_prelu(cin, mid), SideResBlock(mid, SKIP),
                         nn.ConvTranspose2d(mid, cout, 4, 2, 1))


class FirstDecoder(nn.Module):
    """From the coarsest features of both frames and the time: two flows and features."""

    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.convblock = _decoder_block(2 * cin + 1, 2 * cin, cout + 4)

    def forward(self, f0, f1, t):
        h, w = f0.shape[2:]
        out = self.convblock(torch.cat([f0, f1, t.expand(-1, 1, h, w)], 1))
        return out[:, 0:2], out[:, 2:4], out[:, 4:]


class MidDecoder(nn.Module):
    def __init__(self, cin: int, cout: int) -> None:
        super().__init__()
        self.convblock = _decoder_block(3 * cin + 4, 3 * cin, cout + 4)

    def forward(self, feat, f0, f1, flow0, flow1):
        x = torch.cat([feat, backward_warp(f0, flow0), backward_warp(f1, flow1), flow0, flow1], 1)
        out = self.convblock(x)
        return (out[:, 0:2] + 2.0 * _up(flow0, 2.0), out[:, 2:4] + 2.0 * _up(flow1, 2.0),
                out[:, 4:])


class LastDecoder(nn.Module):
    """Full-size output: ``n`` flow pairs, ``n`` blending masks and ``n`` RGB residuals."""

    def __init__(self, cin: int, n: int = NUM_FLOWS) -> None:
        super().__init__()
        self.n = n
        self.convblock = _decoder_block(3 * cin + 4, 3 * cin, 8 * n)

    def forward(self, feat, f0, f1, flow0, flow1):
        n = self.n
        x = torch.cat([feat, backward_warp(f0, flow0), backward_warp(f1, flow1), flow0, flow1], 1)
        out = self.convblock(x)
        d0, d1, mask, res = torch.split(out, [2 * n, 2 * n, n, 3 * n], 1)
        flow0 = d0 + 2.0 * _up(flow0, 2.0).repeat(1, n, 1, 1)
        flow1 = d1 + 2.0 * _up(flow1, 2.0).repeat(1, n, 1, 1)
        return flow0, flow1, torch.sigmoid(mask), res


def blend_fields(comb: nn.Module, img0, img1, flow0, flow1, mask, res, mean):
    """Warp both frames by each of the ``n`` flow pairs, blend by the masks, add the
    residual and the mean back; average the ``n`` candidates plus ``comb``'s correction."""
    b, c, h, w = flow0.shape
    n = c // 2
    flow0 = flow0.reshape(b * n, 2, h, w)
    flow1 = flow1.reshape(b * n, 2, h, w)
    mask = mask.reshape(b * n, 1, h, w)
    res = res.reshape(b * n, 3, h, w)
    rep = lambda t: torch.stack([t] * n, 1).reshape(b * n, *t.shape[1:])  # noqa: E731
    cand = (mask * backward_warp(rep(img0), flow0) + (1 - mask) * backward_warp(rep(img1), flow1)
            + rep(mean) + res)
    cand = cand.reshape(b, n, 3, h, w)
    return cand.mean(1) + comb(cand.view(b, -1, h, w))


class AMTS(nn.Module):
    """AMT-S with the module names of ``amt-s.pth``."""

    def __init__(self) -> None:
        super().__init__()
        ch = CHANNELS
        self.feat_encoder = FeatureEncoder(84)
        self.encoder = Pyramid(ch)
        self.decoder4 = FirstDecoder(ch[3], ch[2])
        self.decoder3 = MidDecoder(ch[2], ch[1])
        self.decoder2 = MidDecoder(ch[1], ch[0])
        self.decoder1 = LastDecoder(ch[0], NUM_FLOWS)
        self.update4 = UpdateBlock(44, None)
        self.update3 = UpdateBlock(32, 2)
        self.update2 = UpdateBlock(20, 4)
        self.comb_block = nn.Sequential(nn.Conv2d(3 * NUM_FLOWS, 6 * NUM_FLOWS, 3, 1, 1),
                                        nn.PReLU(6 * NUM_FLOWS),
                                        nn.Conv2d(6 * NUM_FLOWS, 3, 3, 1, 1))

    @staticmethod
    def _refine(block, corr: CorrPyramid, grid, flow0, flow1, feat, t, down: int):
        # the flows (middle -> frame k) extended linearly to the whole interval
        if down != 1:
            flow0 = (1 / down) * _up(flow0, 1 / down)
            flow1 = (1 / down) * _up(flow1, 1 / down)
        c0, c1 = corr.lookup(grid + flow1 * (1.0 / t), grid + flow0 * (1.0 / (1.0 - t)))
        d_feat, d_flow = block(feat, torch.cat([flow0, flow1], 1), torch.cat([c0, c1], 1))
        return d_feat, d_flow

    def forward(self, img0: torch.Tensor, img1: torch.Tensor, t: torch.Tensor,
                scale: float = 1.0) -> torch.Tensor:
        """The frame at time ``t`` (b, 1, 1, 1) between RGB frames in [0, 1] (b, 3, H, W);
        H and W multiples of 16 / ``scale``. Returns (b, 3, H, W) in [0, 1]."""
        mean = torch.cat([img0, img1], 2).mean(1, keepdim=True).mean(2, keepdim=True).mean(
            3, keepdim=True)
        img0, img1 = img0 - mean, img1 - mean
        x0 = _up(img0, scale) if scale != 1.0 else img0
        x1 = _up(img1, scale) if scale != 1.0 else img1
        b, _, h, w = x0.shape
        grid = pixel_grid(b, h // 8, w // 8, img0.device)
        fm0, fm1 = torch.split(self.feat_encoder(torch.cat([x0, x1], 0)), [b, b], 0)
        corr = CorrPyramid(fm0, fm1)
        p0, p1 = self.encoder(x0), self.encoder(x1)

        flow0, flow1, feat = self.decoder4(p0[3], p1[3], t)
        for block, dec, down, lvl in ((self.update4, self.decoder3, 1, 2),
                                      (self.update3, self.decoder2, 2, 1),
                                      (self.update2, None, 4, 0)):
            d_feat, d_flow = self._refine(block, corr, grid, flow0, flow1, feat, t, down)
            d0, d1 = torch.chunk(d_flow, 2, 1)
            flow0, flow1, feat = flow0 + d0, flow1 + d1, feat + d_feat
            if dec is not None:
                flow0, flow1, feat = dec(feat, p0[lvl], p1[lvl], flow0, flow1)
        flow0, flow1, mask, res = self.decoder1(feat, p0[0], p1[0], flow0, flow1)
        if scale != 1.0:
            flow0 = _up(flow0, 1.0 / scale) * (1.0 / scale)
            flow1 = _up(flow1, 1.0 / scale) * (1.0 / scale)
            mask = _up(mask, 1.0 / scale)
            res = _up(res, 1.0 / scale)
        out = blend_fields(self.comb_block, img0, img1, flow0, flow1, mask, res, mean)
        return torch.clamp(out, 0, 1)

"""VSFA (Li et al., ACM MM 2019): ResNet-50 content features, a GRU and temporal pooling.

Per frame, at the frame's own resolution, an ImageNet ResNet-50 (torchvision's,
the ``resnet50(pretrained=True)`` that VSFA's ``CNNfeatures.py`` builds) gives
its last stage (``res5c``); the feature is that map's global mean and global
standard deviation (unbiased, as ``torch.std``), 2 x 2048 values. VSFA's own
network (``models/VSFA.pt``) reduces each frame's 4096 values to 128 with one
linear layer, runs a one-layer GRU (hidden size 32) over the frames, maps each
hidden state to a frame quality ``q_t`` and pools them with the
*subjectively-inspired temporal pooling*: over a window of ``tau = 12``
frames, ``0.5 * softmin-weighted mean of the next 12 + 0.5 * min of the
previous 12``, then the mean over frames.

:class:`ResNet50Trunk` is shared with SimpleVQA (``simplevqa.py``), which
reads stages 2-4 of the same network.
"""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from ...errors import MetricError
from .nets import _read, _strict_load

__all__ = ["ResNet50Trunk", "VSFAHead", "temporal_pool", "global_std", "load_resnet50",
           "load_vsfa_head", "build_empty", "IMAGENET_MEAN", "IMAGENET_STD"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


def global_std(x: torch.Tensor) -> torch.Tensor:
    """(B, C, H, W) -> (B, C): the unbiased standard deviation over H x W."""
    return torch.std(x.flatten(2), dim=2)


class ResNet50Trunk(nn.Module):
    """torchvision's ResNet-50 without pooling and classifier; :meth:`forward` returns
    the outputs of stages 2, 3 and 4 (``layer2``..``layer4``)."""

    def __init__(self) -> None:
        super().__init__()
        from torchvision.models import resnet50

        r = resnet50(weights=None)
        self.conv1, self.bn1, self.relu, self.maxpool = r.conv1, r.bn1, r.relu, r.maxpool
        self.layer1, self.layer2, self.layer3, self.layer4 = r.layer1, r.layer2, r.layer3, r.layer4

    def forward(self, x: torch.Tensor):
        x = self.maxpool(self.relu(self.bn1(self.conv1(x))))
        x2 = self.layer2(self.layer1(x))
        x3 = self.layer3(x2)
        x4 = self.layer4(x3)
        return x2, x3, x4

    def vsfa_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, H, W) normalised frames -> (B, 4096): mean and std of ``res5c``."""
        x4 = self(x)[2]
        if x4.shape[2] * x4.shape[3] < 2:
            raise MetricError(f"frames of {x.shape[3]}x{x.shape[2]} are too small for VSFA: "
                              "ResNet-50's last map is 1x1 and has no standard deviation "
                              "(at least 33 pixels on one side are needed)")
        return torch.cat([F.adaptive_avg_pool2d(x4, 1).flatten(1), global_std(x4)], 1)


class _ANN(nn.Module):
    def __init__(self, input_size: int, reduced_size: int) -> None:
        super().__init__()
        self.fc0 = nn.Linear(input_size, reduced_size)
        # VSFA's ANN keeps a second layer that its one-layer setting never applies;
        # it is in the checkpoint, so it is kept (unused) for a strict load.
        self.fc = nn.Linear(reduced_size, reduced_size)


class VSFAHead(nn.Module):
    """Linear 4096 -> 128, GRU 128 -> 32, linear 32 -> 1 per frame, temporal pooling."""

    def __init__(self, input_size: int = 4096, reduced_size: int = 128, hidden: int = 32):
        super().__init__()
        self.ann = _ANN(input_size, reduced_size)
        self.rnn = nn.GRU(reduced_size, hidden, batch_first=True)
        self.q = nn.Linear(hidden, 1)

    def frame_quality(self, feats: torch.Tensor) -> torch.Tensor:
        """(B, T, 4096) -> (B, T). The GRU is causal, so padding after a video's last
        frame does not change its earlier outputs."""
        h0 = feats.new_zeros(1, feats.shape[0], self.rnn.hidden_size)
        out, _ = self.rnn(self.ann.fc0(feats), h0)
        return self.q(out)[..., 0]

    def forward(self, feats: torch.Tensor, lengths) -> torch.Tensor:
        q = self.frame_quality(feats)
        return torch.stack([temporal_pool(q[i, :int(n)]).mean() for i, n in enumerate(lengths)])


def temporal_pool(q: torch.Tensor, tau: int = 12, beta: float = 0.5) -> torch.Tensor:
    """VSFA's subjectively-inspired temporal pooling of frame qualities ``q`` (T,) -> (T,).

    ``l_t``: the minimum of ``q`` over frames ``t - tau + 1 .. t`` (memory of the
    worst recent frame); ``m_t``: the mean of ``q`` over ``t .. t + tau - 1``
    weighted by ``exp(-q)`` (frames past the end weigh 0). Returns
    ``beta * m + (1 - beta) * l``. Written with the same pooling operations as
    VSFA's ``TP`` so the float results agree.
    """
    x = q.reshape(1, 1, -1)
    pad = torch.full((1, 1, tau - 1), -float("inf"), dtype=q.dtype, device=q.device)
    low = -F.max_pool1d(torch.cat([pad, -x], 2), tau, stride=1)
    big = torch.full((1, 1, tau - 1), 10000.0, dtype=q.dtype, device=q.device)
    num = F.avg_pool1d(torch.cat([x * torch.exp(-x), big * torch.exp(-big)], 2), tau, stride=1)
    den = F.avg_pool1d(torch.cat([torch.exp(-x), torch.exp(-big)], 2), tau, stride=1)
    return (beta * (num / den) + (1 - beta) * low).reshape(-1)


def build_empty(cls, *args, **kwargs) -> nn.Module:
    """``cls(*args)`` with uninitialised CPU tensors (built on the meta device: no random
    init, which for ResNet-50 costs seconds); for modules that a state dict then fills."""
    with torch.device("meta"):
        net = cls(*args, **kwargs)
    return net.to_empty(device="cpu")


def load_resnet50(path: str | Path) -> ResNet50Trunk:
    """torchvision's ImageNet ResNet-50 file (``resnet50-0676ba61.pth``), strictly;
    the classifier ``fc.*`` is the only part left out."""
    sd = _read(path)
    if "conv1.weight" not in sd or "layer4.2.bn3.weight" not in sd:
        raise MetricError(f"{path}: not a torchvision ResNet-50 state dict (no conv1/layer4 keys)")
    sd = {k: v for k, v in sd.items() if k not in ("fc.weight", "fc.bias")}
    net = build_empty(ResNet50Trunk)
    _strict_load(net, sd, path, "a torchvision ResNet-50 checkpoint")
    return net.eval()


def load_vsfa_head(path: str | Path) -> VSFAHead:
    """VSFA's ``models/VSFA.pt`` (a plain state dict: ``ann.*``, ``rnn.*``, ``q.*``)."""
    sd = _read(path)
    unknown = [k for k in sd if not k.startswith(("ann.", "rnn.", "q."))]
    if unknown or "ann.fc0.weight" not in sd:
        first = unknown[0] if unknown else "no ann.fc0.weight"
        raise MetricError(f"{path}: not a VSFA checkpoint (unexpected key {first!r})")
    w = sd["ann.fc0.weight"]
    hidden = int(sd["q.weight"].shape[1]) if "q.weight" in sd else 32
    net = VSFAHead(int(w.shape[1]), int(w.shape[0]), hidden)
    _strict_load(net, sd, path, "a VSFA checkpoint")
    return net.eval()

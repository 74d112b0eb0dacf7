"""Seeded random checkpoints in the official formats of VSFA and SimpleVQA (full size).

* ``resnet50_state``: torchvision's ResNet-50 state dict (as resnet50-0676ba61.pth),
* ``vsfa_state``: VSFA's models/VSFA.pt (a plain state dict),
* ``simplevqa_state``: SimpleVQA's UGC_BVQA_model.pth (a DataParallel state dict,
  ``module.*``),
* ``slowfast_state``: pytorchvideo's SLOWFAST_8x8_R50.pyth (``{"model_state": ...}``
  with pytorchvideo's key names, the Kinetics classifier included).

The same functions write the files the official code loads in
``benchmarks/parity/{vsfa,simplevqa}/`` and the files the tests load, so the
reference numbers in the tests regenerate from the seed alone. Convolutions get
He-scaled normal weights, the last BN of each residual branch a small scale (so
activations stay in range through 16 blocks), BN statistics are random too.
"""

from __future__ import annotations

import math


def _randomize(sd: dict, seed: int, head_scale: dict | None = None) -> dict:
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    for k in sorted(sd):
        v = sd[k]
        shape = tuple(v.shape)
        if k.endswith("num_batches_tracked"):
            out[k] = torch.tensor(100, dtype=torch.long)
            continue
        r = torch.randn(shape, generator=g)
        last = k.rsplit(".", 1)[-1]
        is_bn = len(shape) == 1 and any(t in k for t in ("bn", "norm", "downsample.1"))
        if is_bn and last == "weight":
            small = any(t in k for t in ("bn3", "norm_c", "branch1_norm", "downsample.1"))
            out[k] = (0.2 if small else 1.0) * (1.0 + 0.1 * r)
        elif is_bn and last == "running_var":
            out[k] = 1.0 + 0.2 * r.abs()
        elif is_bn and last in ("bias", "running_mean"):
            out[k] = 0.05 * r
        elif len(shape) == 1:
            out[k] = 0.05 * r
        else:
            fan_in = math.prod(shape[1:])
            scale = (head_scale or {}).get(k, math.sqrt(2.0 / fan_in))
            out[k] = r * scale
    return out


def resnet50_state(seed: int = 0) -> dict:
    import torch
    from torchvision.models import resnet50

    with torch.device("meta"):  # shapes only: no slow random init
        sd = resnet50(weights=None).state_dict()
    return _randomize(sd, seed)


def vsfa_state(seed: int = 0) -> dict:
    from videojury.models.vqa.vsfa import VSFAHead

    sd = VSFAHead().state_dict()
    # res5c statistics are ~0.05 here: fc0 scaled so the content moves the GRU
    return _randomize(sd, seed, {"ann.fc0.weight": 20.0 / math.sqrt(4096),
                                 "ann.fc.weight": 1 / math.sqrt(128),
                                 "rnn.weight_ih_l0": 1.5 / math.sqrt(128),
                                 "rnn.weight_hh_l0": 1.0 / math.sqrt(32),
                                 "q.weight": 1.0 / math.sqrt(32)})


def simplevqa_state(seed: int = 0) -> dict:
    from videojury.models.vqa.simplevqa import SimpleVQANet

    from videojury.models.vqa.vsfa import build_empty

    net = build_empty(SimpleVQANet)
    sd = {k: v for k, v in net.state_dict().items() if not k.startswith("motion.")}
    sd = _randomize(sd, seed, {"quality.0.weight": 1 / math.sqrt(9472),
                               "quality.1.weight": 1 / math.sqrt(128)})
    return {"module." + k.replace("trunk.", ""): v for k, v in sd.items()}


def slowfast_state(seed: int = 0) -> dict:
    from videojury.models.vqa.simplevqa import SlowFastR50, slowfast_to_official

    import torch

    from videojury.models.vqa.vsfa import build_empty

    sd = slowfast_to_official(build_empty(SlowFastR50).state_dict())

    g = torch.Generator().manual_seed(seed + 1000)
    sd["blocks.6.proj.weight"] = torch.randn(400, 2304, generator=g) / 48.0
    sd["blocks.6.proj.bias"] = torch.zeros(400)
    return {"model_state": _randomize(sd, seed)}


def write(path, state) -> str:
    import torch

    torch.save(state, str(path))
    return str(path)

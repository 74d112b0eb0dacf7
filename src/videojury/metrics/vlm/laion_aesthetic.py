"""LAION's improved aesthetic predictor, per frame (the seeds' AestheticScore).

The predictor (christophschuhmann/improved-aesthetic-predictor) is a small
linear MLP, 768 -> 1024 -> 128 -> 64 -> 16 -> 1 (no activations; its dropouts
do nothing at inference), on the L2-normalised CLIP ViT-L/14 image embedding;
it predicts a 1-10 aesthetic rating (AVA + logos + SAC). Each sampled frame is
scored and the scores averaged, as AIGV-Assessor evaluates image-level
baselines on video; VBench's "aesthetic quality" is the same predictor per
frame, divided by 10.

The head is the repository's ``.pth`` state dict (``layers.{0,2,4,6,7}``;
the released file is ``sac+logos+ava1-l14-linearMSE.pth``, no licence file in
that repository), read with ``torch.load(weights_only=True)`` or from a
``.safetensors`` file with the same keys; give its path as ``head=PATH``.
Keys and shapes are checked strictly: a missing, extra or mis-shaped tensor,
or an input size different from the CLIP model's embedding size, is an error
naming it. The CLIP tower is any CLIP checkpoint videojury loads (default
``clip-vit-l-14``, OpenAI's ViT-L/14 in transformers' format, the weights
the reference loads through the ``clip`` package).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import Frames
from ..base import ScoreField, register_metric
from ._common import COMMON_OPTIONS
from .clipscore import _DualMetric

# The head's Linear layers, as indices of the reference's nn.Sequential.
HEAD_LAYERS = (0, 2, 4, 6, 7)
HEAD_FILE = "sac+logos+ava1-l14-linearMSE.pth"
HEAD_SOURCE = "https://github.com/christophschuhmann/improved-aesthetic-predictor"


def read_head(path: str | Path) -> dict[str, Any]:
    """The head's tensors from a ``.pth`` (weights only) or ``.safetensors`` file."""
    import torch

    p = Path(path)
    if not p.is_file():
        raise MetricError(f"laion_aesthetic: head file {str(p)!r} does not exist; download "
                          f"{HEAD_FILE} from {HEAD_SOURCE} and pass head=PATH")
    if p.suffix == ".safetensors":
        from safetensors.torch import load_file

        return dict(load_file(str(p)))
    try:
        state = torch.load(str(p), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a pickle with code in it, or not a torch file
        raise MetricError(f"laion_aesthetic: {p} is not a plain tensor state dict "
                          f"(torch.load weights_only refused it: {e})") from None
    if not isinstance(state, dict):
        raise MetricError(f"laion_aesthetic: {p} holds a {type(state).__name__}, not a state dict")
    return state


def build_head(state: dict[str, Any], in_features: int):
    """The MLP as a torch ``Sequential`` of Linear layers, loaded strictly from ``state``."""
    import torch

    want = {f"layers.{i}.{k}" for i in HEAD_LAYERS for k in ("weight", "bias")}
    got = set(state)
    if got != want:
        missing, extra = sorted(want - got), sorted(got - want)
        raise MetricError("laion_aesthetic: the head's keys are not the predictor's "
                          f"(missing: {', '.join(missing) or 'none'}; unexpected: "
                          f"{', '.join(extra[:5]) or 'none'})")
    layers, prev = [], in_features
    for i in HEAD_LAYERS:
        w, b = state[f"layers.{i}.weight"], state[f"layers.{i}.bias"]
        if w.ndim != 2 or w.shape[1] != prev or b.shape != (w.shape[0],):
            raise MetricError(f"laion_aesthetic: head layer {i} has weight {tuple(w.shape)} and bias "
                              f"{tuple(b.shape)}; expected ({{out}}, {prev}) after the "
                              f"{'CLIP embedding' if i == 0 else 'previous layer'}")
        lin = torch.nn.Linear(int(w.shape[1]), int(w.shape[0]))
        with torch.no_grad():
            lin.weight.copy_(w.float())
            lin.bias.copy_(b.float())
        layers.append(lin)
        prev = int(w.shape[0])
    if prev != 1:
        raise MetricError(f"laion_aesthetic: the head ends in {prev} outputs, not 1")
    return torch.nn.Sequential(*layers).eval()


def clip_pixels(frames: Sequence[np.ndarray], n: int, mean, std):
    """(N, 3, n, n) float tensor as OpenAI CLIP's ``_transform(n)`` makes it: PIL bicubic
    resize of the short side to ``n``, centre crop (offsets rounded as torchvision
    does), /255, normalised with ``mean``/``std``."""
    import torch
    from PIL import Image

    mean = np.asarray(mean, dtype=np.float32)
    std = np.asarray(std, dtype=np.float32)
    out = []
    for f in frames:
        img = Image.fromarray(np.ascontiguousarray(f)).convert("RGB")
        w, h = img.size
        size = (n, int(n * h / w)) if w <= h else (int(n * w / h), n)
        if size != (w, h):
            img = img.resize(size, Image.BICUBIC)
        w, h = img.size
        top, left = int(round((h - n) / 2.0)), int(round((w - n) / 2.0))
        img = img.crop((left, top, left + n, top + n))
        x = np.asarray(img, dtype=np.float32) / 255.0
        out.append(((x - mean) / std).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


@register_metric
class LaionAesthetic(_DualMetric):
    """LAION aesthetic score (1-10 scale) of each frame, averaged over frames."""

    name = "laion_aesthetic"
    version = "1"
    needs_prompt = False
    fields = (ScoreField("laion_aesthetic", None, None, True,
                         "mean over frames of the LAION aesthetic predictor (about 1-10)"),)
    description = "LAION improved aesthetic predictor on CLIP ViT-L/14, per frame, averaged."
    reference = "LAION aesthetic predictor (Schuhmann, 2022); AestheticScore in LOVE's V2T tables"
    default_options = {**COMMON_OPTIONS, "model": "clip-vit-l-14", "head": ""}

    _head = None

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options["head"]:
            raise MetricError(f"laion_aesthetic needs head=PATH: download {HEAD_FILE} from "
                              f"{HEAD_SOURCE} (the predictor's MLP on CLIP ViT-L/14)")

    def identity(self, hash_file) -> dict[str, str]:
        ident = super().identity(hash_file)
        head = Path(self.options["head"])
        if not head.is_file():
            raise MetricError(f"laion_aesthetic: head file {str(head)!r} does not exist; download "
                              f"{HEAD_FILE} from {HEAD_SOURCE}")
        return {**ident, "head": hash_file(str(head))}

    def head(self):
        if self._head is None:
            enc = self.encoder()
            dim = int(enc.model.config.projection_dim)
            self._head = build_head(read_head(self.options["head"]), dim)
        return self._head

    def load(self) -> None:
        super().load()
        self.head()

    def pixels(self, frames: Sequence[np.ndarray]):
        """The reference's preprocessing (the ``clip`` package's ``_transform``), see
        :func:`clip_pixels`; transformers 5's CLIP processor resizes differently (up to
        one grey level), hence this path."""
        enc = self.encoder()
        proc = getattr(enc.processor, "image_processor", enc.processor)
        return clip_pixels(frames, int(enc.model.config.vision_config.image_size),
                           proc.image_mean, proc.image_std)

    def embeds(self, frames: Sequence[np.ndarray]):
        """(N, D) L2-normalised CLIP image embeddings (float32) of N frames."""
        import torch

        from ...models.embed import _as_tensor

        enc = self.encoder()
        outs = []
        for j in range(0, len(frames), 32):
            with self.timed("preprocess"):
                px = self.pixels(frames[j:j + 32]).to(enc.backbone.device, enc.backbone.dtype)
            with enc.backbone.lock, torch.inference_mode():
                e = _as_tensor(enc.model.get_image_features(pixel_values=px))
            outs.append(torch.nn.functional.normalize(e.float(), dim=-1).cpu())
        return torch.cat(outs)

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        flat = [f for fr in frames for f in fr.array]
        emb = self.embeds(flat)
        with torch.inference_mode():
            s = self.head()(emb).squeeze(-1).numpy().astype(np.float64)
        out, k = [], 0
        for fr in frames:
            n = len(fr)
            out.append({"laion_aesthetic": float(np.mean(s[k:k + n]))})
            k += n
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_head"] = None
        return state

"""The temporal branch of the trainable evaluator: a video feature network whose
features become extra tokens of the language model (LOVE; AIGV-Assessor's
temporal projector).

Layout (``temporal:`` in the training config)::

    frames (B, T, H, W, 3) uint8        the same T frames the LMM sees
      -> video net                       FragmentSwin3D (kind dover_technical /
                                         fast_vqa: DOVER's technical branch and
                                         FAST-VQA's backbone, the net of LOVE's
                                         DiViDeAddEvaluator) on 7x7 fragments of
                                         32 px, or MotionPathway (kind slowfast)
      -> mean over H, W; T pooled into ``tokens`` bins        (B, K, C)
      -> projector  LayerNorm -> Linear -> GELU -> Linear     (B, K, D)   LOVE's fast_mlp
      -> written over K slot tokens placed right after the last video token

The slots are K pad-id tokens that :func:`insert_slots` adds to a row after
the processor ran (input ids, attention mask 1 and every other per-token
tensor); the language model's input embeddings at those positions are
replaced by a forward pre-hook on its decoder, so each family's own merging
of vision features and its position ids are untouched. The slots come before
the answer, so the head's anchor moves by K and stays exact. The video net is
frozen (``trainable: false``, LOVE's stage 2 trains its LoRA and heads
around a fixed temporal.pth) or trained; the projector always trains.

Deviations from LOVE, on purpose: LOVE samples four 32-frame clips of its own
for the branch (one token per clip); here the branch reads the LMM's frames
(``data.frames``), and the K tokens are K temporal bins of one clip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from ..errors import MetricError

TEMPORAL_KINDS = ("none", "dover_technical", "fast_vqa", "slowfast")
SLOT_KEY = "temporal_video"  # the row's frames in the processor outputs
BACK_KEY = "temporal_back"  # distance from the first slot to the anchor
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
# Checkpoint prefixes of a Swin3D fragment backbone: FAST-VQA / LOVE's temporal.pth,
# DOVER's technical branch, LOVE's merged checkpoint.
SWIN_PREFIXES = ("fragments_backbone.", "technical_backbone.", "evaluator.fragments_backbone.")


@dataclass(frozen=True)
class TemporalSpec:
    """What the branch is (``evaluator.json``'s ``temporal`` field holds these)."""

    kind: str = "none"
    tokens: int = 4
    width: int = 0  # 0: Swin-T (96) / motion pathway 32
    trainable: bool = True
    checkpoint: str = ""

    @property
    def on(self) -> bool:
        return self.kind != "none" and self.tokens > 0

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "tokens": self.tokens, "width": self.width,
                "trainable": self.trainable, "checkpoint": self.checkpoint}


class MotionPathway(nn.Module):
    """A SlowFast-style pair of 3D conv pathways (own design, AIGV-Assessor's "motion
    features"): a slow one on every ``alpha``-th frame (appearance), a fast one with
    temporal kernels on the absolute differences of all consecutive frames (motion
    energy; SlowFast's fast pathway reads raw frames). Returns
    (B, C, T, H', W') with both pathways pooled to the fast one's time axis."""

    def __init__(self, width: int = 32, alpha: int = 4) -> None:
        super().__init__()
        w, f = int(width), max(4, int(width) // 4)
        self.alpha = int(alpha)
        self.slow = nn.Sequential(nn.Conv3d(3, w, (1, 7, 7), (1, 4, 4), (0, 3, 3)), nn.ReLU(),
                                  nn.Conv3d(w, w, (1, 3, 3), (1, 2, 2), (0, 1, 1)), nn.ReLU())
        self.fast = nn.Sequential(nn.Conv3d(3, f, (3, 7, 7), (1, 4, 4), (1, 3, 3)), nn.ReLU(),
                                  nn.Conv3d(f, f, (3, 3, 3), (1, 2, 2), (1, 1, 1)), nn.ReLU())
        self.num_features = w + f

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # Motion energy: absolute differences of consecutive frames (0 before the first).
        diff = torch.cat([torch.zeros_like(x[:, :, :1]), (x[:, :, 1:] - x[:, :, :-1]).abs()],
                         dim=2)
        fast = self.fast(diff)
        slow = self.slow(x[:, :, ::self.alpha])
        slow = nn.functional.interpolate(slow, size=fast.shape[2:], mode="nearest")
        return torch.cat([slow, fast], dim=1)


def _swin(width: int, size: dict | None = None):
    from ..models.vqa.nets import FragmentSwin3D

    if size:
        return FragmentSwin3D(**size), dict(size)
    w = int(width) or 96
    if w % 3:
        raise MetricError(f"temporal.width {w} must be a multiple of 3 (Swin heads 3-6-12-24)")
    return FragmentSwin3D(embed_dim=w), {"embed_dim": w}


def load_swin_checkpoint(path: str):
    """A FragmentSwin3D from an official file (FAST-VQA, DOVER, LOVE's temporal.pth),
    read weights-only and loaded strictly."""
    from ..models.vqa.nets import FragmentSwin3D, _read, _strict_load, _swin_size, \
        convert_swin_keys

    sd = _read(path)
    prefix = next((p for p in SWIN_PREFIXES if any(k.startswith(p) for k in sd)), None)
    if prefix is None:
        raise MetricError(f"{path}: no Swin3D fragment backbone in the file (expected keys "
                          f"starting with one of {', '.join(SWIN_PREFIXES)})")
    size = _swin_size(sd, prefix)
    net = FragmentSwin3D(**size)
    _strict_load(net, convert_swin_keys(sd, prefix, ""), path, "a Swin3D fragment backbone")
    return net, {k: (list(v) if isinstance(v, tuple) else v) for k, v in size.items()}


class TemporalBranch(nn.Module):
    """Video net + projector; ``forward(video uint8 (B, T, H, W, 3))`` -> (B, K, D)."""

    def __init__(self, spec: TemporalSpec, hidden: int, checkpoint_path: str = "",
                 swin_size: dict | None = None) -> None:
        super().__init__()
        if spec.kind not in TEMPORAL_KINDS or spec.kind == "none":
            raise MetricError(f"temporal.kind must be one of {', '.join(TEMPORAL_KINDS[1:])}")
        self.spec = spec
        if spec.kind == "slowfast":
            if checkpoint_path:
                raise MetricError("temporal.checkpoint: the slowfast pathway has no official "
                                  "weights; leave it empty")
            self.net = MotionPathway(int(spec.width) or 32)
            self.swin_size = None
        else:  # swin_size: the layout saved with a trained evaluator
            self.net, self.swin_size = load_swin_checkpoint(checkpoint_path) \
                if checkpoint_path else _swin(spec.width, swin_size)
        feat = int(self.net.num_features)
        # LOVE's fast_mlp starts with a LayerNorm; the motion pathway's features carry the
        # amount of motion in their overall size, which a LayerNorm would remove.
        first = nn.Identity() if spec.kind == "slowfast" else nn.LayerNorm(feat)
        self.proj = nn.Sequential(first, nn.Linear(feat, hidden), nn.GELU(),
                                  nn.Linear(hidden, hidden))
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1, 1),
                             persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1, 1),
                             persistent=False)

    def describe(self) -> dict[str, Any]:
        """``evaluator.json``'s ``temporal`` field."""
        return {**self.spec.to_dict(), "swin": self.swin_size}

    def clip(self, video: torch.Tensor) -> torch.Tensor:
        """(B, T, H, W, 3) uint8 -> the net's normalised input (B, 3, T, H', W')."""
        x = video.permute(0, 4, 1, 2, 3)
        if self.spec.kind != "slowfast":
            x = torch.stack([fragments(v) for v in x])
        x = x.float().div(255.0)
        return (x - self.mean) / self.std

    def features(self, video: torch.Tensor) -> torch.Tensor:
        """(B, K, C) pooled features."""
        fmap = self.net(self.clip(video).to(next(self.net.parameters()).dtype))
        per_t = fmap.float().mean((-2, -1))  # (B, C, T')
        return nn.functional.adaptive_avg_pool1d(per_t, int(self.spec.tokens)).transpose(1, 2)

    def forward(self, video: torch.Tensor) -> torch.Tensor:
        return self.proj(self.features(video))


def fragments(clip: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """(3, T, H, W) uint8 -> (3, T, 224, 224): FAST-VQA's 7x7 grid of 32-px fragments,
    one offset draw per clip from a fixed seed (the same views every epoch)."""
    from ..models.vqa.views import fragment_frame, fragment_plan

    _, t, h, w = clip.shape
    gen = torch.Generator().manual_seed(int(seed))
    plan = fragment_plan(int(h), int(w), int(t), int(t), gen)
    return torch.stack([fragment_frame(clip[:, i], plan, i) for i in range(t)], dim=1)


# --- slots in the token sequence ------------------------------------------------------

def vision_token_ids(config) -> set[int]:
    """Ids of the placeholder tokens the processor expands video/image features into."""
    ids = set()
    for src in (config, getattr(config, "text_config", None)):
        if src is None:
            continue
        for name in ("video_token_id", "image_token_id", "video_token_index",
                     "image_token_index", "vision_end_token_id"):
            v = getattr(src, name, None)
            if isinstance(v, int) and v >= 0:
                ids.add(int(v))
    return ids


def insert_slots(inputs: dict[str, Any], anchor: int, k: int, pad_id: int,
                 vision_ids: set[int], frames: np.ndarray) -> tuple[dict[str, Any], int]:
    """Add K slot tokens after the row's last vision token (or at the start of the answer
    text when no vision token is found before the anchor); returns (inputs, new anchor).
    The row's frames and the slot-to-anchor distance travel in the inputs."""
    ids = inputs["input_ids"][0]
    n = int(ids.shape[0])
    hits = [i for i, t in enumerate(ids.tolist()[:anchor]) if int(t) in vision_ids]
    if not hits:
        raise MetricError("temporal branch: no video token before the answer in the processor's "
                          "input ids; this family's prompt layout is not supported")
    at = hits[-1] + 1
    out = {}
    for key, v in inputs.items():
        if isinstance(v, torch.Tensor) and v.dim() == 2 and v.shape[0] == 1 and v.shape[1] == n:
            fill = pad_id if key == "input_ids" else (1 if key == "attention_mask" else 0)
            slot = v.new_full((1, k), fill)
            out[key] = torch.cat([v[:, :at], slot, v[:, at:]], dim=1)
        else:
            out[key] = v
    new_anchor = anchor + k
    out[SLOT_KEY] = torch.from_numpy(np.ascontiguousarray(frames))[None]
    out[BACK_KEY] = torch.tensor([new_anchor - at], dtype=torch.long)
    return out, new_anchor


class SlotWriter:
    """A forward pre-hook on the decoder that writes the branch's tokens over the slots."""

    def __init__(self) -> None:
        self.tokens: torch.Tensor | None = None  # (B, K, D)
        self.positions: torch.Tensor | None = None  # (B, K)

    def __call__(self, module, args, kwargs):
        if self.tokens is None:
            return None
        emb = kwargs.get("inputs_embeds")
        if emb is None:
            raise MetricError("temporal branch: the decoder was called without inputs_embeds")
        emb = emb.clone()
        rows = torch.arange(emb.shape[0], device=emb.device)[:, None]
        emb[rows, self.positions.to(emb.device)] = self.tokens.to(emb.dtype)
        kwargs["inputs_embeds"] = emb
        return args, kwargs


def decoder_of(hf) -> nn.Module:
    """The language model module that receives ``inputs_embeds`` after vision merging."""
    core = getattr(hf, "model", None)
    lm = getattr(core, "language_model", None) if core is not None else None
    if lm is None:
        raise MetricError("temporal branch: this model has no model.language_model to feed the "
                          "extra tokens into; the family is not supported with temporal:")
    return lm


def temporal_state(evaluator) -> dict[str, Any]:
    """Branch parameters keyed ``net.*`` / ``proj.*`` (empty without a branch)."""
    br = getattr(evaluator, "temporal", None)
    return dict(br.named_parameters()) if br is not None else {}

"""The checkpoint table: short names for the models the metrics run on.

A metric names its model with the ``model`` option. That value is looked up
here first (``qwen2.5-vl-7b``), else taken as a local folder if one exists at
that path, else as a Hugging Face hub id (``owner/name``). A
:class:`Checkpoint` records where the weights live, which transformers class
loads them, which family they belong to (that decides how frames and text are
put in front of the model), the frame-sampling convention the model was
trained or published with, and what it costs in memory, so ``docs/models.md``
and error messages can say so.

Nothing here imports torch or transformers: the table is plain data, and the
registry can list metrics on a machine without the ``[models]`` extra.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field, replace
from pathlib import Path

from ..errors import MetricError
from ..video import FramePolicy, Resize

# Families and the kind of model each is. "lmm": a chat model that reads a
# video and writes text (VQAScore, level judges, rationale, QA). "dual": a
# two-tower image/text embedding model (CLIP-style scores). "itm": an
# image-text matching model with a match head (BLIP ITM).
FAMILY_KIND = {
    "qwen2_5_vl": "lmm",
    "qwen3_vl": "lmm",
    "internvl": "lmm",
    "llava_onevision": "lmm",
    "lmm": "lmm",  # any other image-text-to-text model transformers can load
    "clip": "dual",
    "siglip": "dual",
    "blip_itm": "itm",
}

# transformers class that loads each family (looked up by name at load time).
FAMILY_CLASS = {
    "qwen2_5_vl": "AutoModelForImageTextToText",
    "qwen3_vl": "AutoModelForImageTextToText",
    "internvl": "AutoModelForImageTextToText",
    "llava_onevision": "AutoModelForImageTextToText",
    "lmm": "AutoModelForImageTextToText",
    "clip": "CLIPModel",
    "siglip": "AutoModel",
    "blip_itm": "BlipForImageTextRetrieval",
}


@dataclass(frozen=True)
class FrameSpec:
    """A checkpoint's frame convention, turned into a :class:`FramePolicy` on demand.

    ``mode="uniform"``: ``n`` frames at segment centres, resized to ``size``
    (width, height) when given. ``mode="fps"``: ``rate`` frames per second,
    at most ``max_frames``, each scaled down to at most ``max_pixels``
    pixels (the model's processor then rounds to its patch grid).
    """

    mode: str = "uniform"
    n: int = 8
    size: tuple[int, int] | None = None
    rate: float = 2.0
    max_frames: int = 32
    max_pixels: int | None = None
    short_side: int | None = None

    def policy(self, *, frames: int = 0, fps: float = 0.0, max_pixels: int = 0,
               min_frames: int = 1) -> FramePolicy:
        """The frame policy, with the metric's ``frames``/``fps``/``max_pixels`` overrides.

        ``frames`` > 0 switches to that many uniform frames; ``fps`` > 0 to
        fps sampling; ``max_pixels`` > 0 replaces the pixel budget (and any
        fixed size) with a scale-down-only limit.
        """
        if max_pixels:
            resize: Resize | None = Resize(max_pixels=max_pixels)
        elif self.size is not None:
            resize = Resize(size=self.size)
        elif self.max_pixels is not None:
            resize = Resize(max_pixels=self.max_pixels)
        elif self.short_side is not None:
            resize = Resize(short_side=self.short_side)
        else:
            resize = None
        if frames:
            return FramePolicy.uniform(frames, min_frames=min_frames, resize=resize)
        if fps or self.mode == "fps":
            return FramePolicy.fps(fps or self.rate, max_frames=self.max_frames,
                                   min_frames=min_frames, resize=resize)
        return FramePolicy.uniform(self.n, min_frames=min_frames, resize=resize)

    def describe(self) -> str:
        """Short text for docs and tables."""
        if self.mode == "fps":
            s = f"{self.rate:g} fps (max {self.max_frames})"
        else:
            s = f"{self.n} uniform"
        if self.size:
            s += f" @ {self.size[0]}x{self.size[1]}"
        elif self.max_pixels:
            s += f" @ <= {self.max_pixels} px"
        elif self.short_side:
            s += f" @ short side {self.short_side}"
        return s


# LOVE / Q-Align style evaluation: 8 uniform frames at 448x448.
LOVE_FRAMES = FrameSpec(mode="uniform", n=8, size=(448, 448))
# Qwen's video convention: 2 fps with a per-frame pixel budget (qwen-vl-utils
# uses 2 fps and scales frames down; 448*448 keeps a 5 s clip near 2.5k tokens).
QWEN_FRAMES = FrameSpec(mode="fps", rate=2.0, max_frames=32, max_pixels=448 * 448)
LLAVA_FRAMES = FrameSpec(mode="uniform", n=8, size=(384, 384))
CLIP_FRAMES = FrameSpec(mode="uniform", n=8, short_side=224)


@dataclass(frozen=True)
class Checkpoint:
    """One model the metrics can run on.

    ``source``: hub id or local folder of the weights. ``processor_source``:
    where the processor (tokenizer + image/video processor) lives when it is
    not next to the weights (PickScore ships weights only). ``dtype``: the
    dtype it is meant to run in on a GPU. ``chat``: how a video is put in the
    chat message ("video": one video item the processor expands).
    ``params_b`` / ``memory_gb``: size in billions of parameters and the
    weights' memory in bf16 (fp32 on CPU doubles it), activations not
    counted. ``reference``: what the checkpoint is known for.
    """

    name: str
    source: str
    family: str
    frames: FrameSpec = field(default=LOVE_FRAMES)
    processor_source: str | None = None
    dtype: str = "bfloat16"
    chat: str = "video"
    params_b: float = 0.0
    memory_gb: float = 0.0
    reference: str = ""
    revision: str | None = None

    @property
    def kind(self) -> str:
        """``lmm``, ``dual`` or ``itm`` (see :data:`FAMILY_KIND`)."""
        return FAMILY_KIND[self.family]

    @property
    def model_class(self) -> str:
        """Name of the transformers class that loads the weights."""
        return FAMILY_CLASS[self.family]

    def download_commands(self) -> list[str]:
        """Shell commands that put this checkpoint in the local Hugging Face cache."""
        out = []
        for src in (self.source, self.processor_source):
            if src and not _looks_local(src):
                rev = f" --revision {self.revision}" if self.revision and src == self.source else ""
                out.append(f"hf download {src}{rev}")
        return out


CHECKPOINTS: dict[str, Checkpoint] = {c.name: c for c in [
    Checkpoint("qwen2.5-vl-7b", "Qwen/Qwen2.5-VL-7B-Instruct", "qwen2_5_vl", QWEN_FRAMES,
               params_b=8.3, memory_gb=16.6,
               reference="Qwen2.5-VL (Bai et al., 2025); base of VideoScore2"),
    Checkpoint("qwen2.5-vl-3b", "Qwen/Qwen2.5-VL-3B-Instruct", "qwen2_5_vl", QWEN_FRAMES,
               params_b=3.8, memory_gb=7.5, reference="Qwen2.5-VL (Bai et al., 2025)"),
    Checkpoint("qwen3-vl-8b", "Qwen/Qwen3-VL-8B-Instruct", "qwen3_vl", QWEN_FRAMES,
               params_b=8.8, memory_gb=17.5, reference="Qwen3-VL (Qwen team, 2025)"),
    Checkpoint("videoscore2", "TIGER-Lab/VideoScore2", "qwen2_5_vl", QWEN_FRAMES,
               params_b=8.3, memory_gb=16.6,
               reference="VideoScore2 (He et al., 2025), fine-tuned Qwen2.5-VL-7B"),
    Checkpoint("internvl3-8b", "OpenGVLab/InternVL3-8B-hf", "internvl", LOVE_FRAMES,
               params_b=7.9, memory_gb=15.9,
               reference="InternVL3 (Zhu et al., 2025); LOVE and AIGV-Assessor build on "
                         "InternVL"),
    Checkpoint("internvl3-2b", "OpenGVLab/InternVL3-2B-hf", "internvl", LOVE_FRAMES,
               params_b=2.1, memory_gb=4.2, reference="InternVL3 (Zhu et al., 2025)"),
    Checkpoint("llava-onevision-7b", "llava-hf/llava-onevision-qwen2-7b-ov-hf",
               "llava_onevision", LLAVA_FRAMES, params_b=8.0, memory_gb=16.1,
               reference="LLaVA-OneVision (Li et al., 2024)"),
    Checkpoint("llava-onevision-0.5b", "llava-hf/llava-onevision-qwen2-0.5b-ov-hf",
               "llava_onevision", LLAVA_FRAMES, params_b=0.9, memory_gb=1.8,
               reference="LLaVA-OneVision (Li et al., 2024)"),
    Checkpoint("clip-vit-l-14", "openai/clip-vit-large-patch14", "clip", CLIP_FRAMES,
               dtype="float32", params_b=0.43, memory_gb=1.7,
               reference="CLIP (Radford et al., 2021)"),
    Checkpoint("clip-vit-b-32", "openai/clip-vit-base-patch32", "clip", CLIP_FRAMES,
               dtype="float32", params_b=0.15, memory_gb=0.6,
               reference="CLIP ViT-B/32, the backbone of CLIPScore (Hessel et al., 2021)"),
    Checkpoint("siglip-so400m", "google/siglip-so400m-patch14-384", "siglip",
               FrameSpec(mode="uniform", n=8, short_side=384), dtype="float32",
               params_b=0.88, memory_gb=3.5, reference="SigLIP (Zhai et al., 2023)"),
    Checkpoint("pickscore", "yuvalkirstain/PickScore_v1", "clip", CLIP_FRAMES,
               processor_source="laion/CLIP-ViT-H-14-laion2B-s32B-b79K", dtype="float32",
               params_b=0.99, memory_gb=3.9,
               reference="PickScore (Kirstain et al., 2023), CLIP-H fine-tuned on Pick-a-Pic"),
    Checkpoint("blip-itm-large", "Salesforce/blip-itm-large-coco", "blip_itm",
               FrameSpec(mode="uniform", n=8, short_side=384), dtype="float32",
               params_b=0.47, memory_gb=1.9, reference="BLIP ITM (Li et al., 2022)"),
]}

# Families recognised from a folder's config.json ``model_type``.
_MODEL_TYPE_FAMILY = {
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "internvl": "internvl",
    "llava_onevision": "llava_onevision",
    "clip": "clip",
    "siglip": "siglip",
    "siglip2": "siglip",
    "blip": "blip_itm",
}
_FAMILY_FRAMES = {"qwen2_5_vl": QWEN_FRAMES, "qwen3_vl": QWEN_FRAMES, "internvl": LOVE_FRAMES,
                  "llava_onevision": LLAVA_FRAMES, "lmm": LOVE_FRAMES, "clip": CLIP_FRAMES,
                  "siglip": FrameSpec(mode="uniform", n=8, short_side=384),
                  "blip_itm": FrameSpec(mode="uniform", n=8, short_side=384)}
_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*/[\w.-]+$")


def _looks_local(value: str) -> bool:
    """True when ``value`` is meant as a path rather than a hub id."""
    v = os.path.expanduser(value)
    return (Path(v).exists() or v.startswith((".", "/", "~")) or os.sep + os.sep in v
            or v.count("/") > 1 or (os.name == "nt" and ":" in v))


def family_of_config(config: dict) -> str:
    """The family of a checkpoint from its ``config.json`` contents."""
    model_type = str(config.get("model_type", ""))
    if model_type in _MODEL_TYPE_FAMILY:
        fam = _MODEL_TYPE_FAMILY[model_type]
        archs = config.get("architectures") or []
        if fam == "blip_itm" and archs and "BlipForImageTextRetrieval" not in archs:
            raise MetricError(f"this BLIP checkpoint ({', '.join(archs)}) has no image-text "
                              "matching head; use an ITM checkpoint such as "
                              "Salesforce/blip-itm-large-coco")
        return fam
    return "lmm"


def _read_local_config(folder: Path) -> dict:
    path = folder / "config.json"
    if not path.is_file():
        raise MetricError(f"{folder}: no config.json in this folder; a model folder must hold "
                          "the files save_pretrained writes (config.json, *.safetensors, the "
                          "processor and tokenizer files)")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise MetricError(f"{path}: cannot be read as JSON ({exc})") from None


def resolve_checkpoint(name: str, processor: str | None = None) -> Checkpoint:
    """The :class:`Checkpoint` a ``model`` option value stands for.

    A short name from :data:`CHECKPOINTS` wins; otherwise an existing folder
    (its family read from ``config.json``); otherwise a hub id, whose family
    is read from its config when the model is loaded. ``processor``
    overrides where the processor comes from.
    """
    if not name:
        raise MetricError("no model given; pass model=SHORT_NAME, a local folder or a hub id "
                          f"(short names: {', '.join(sorted(CHECKPOINTS))})")
    if name in CHECKPOINTS:
        ck = CHECKPOINTS[name]
        return replace(ck, processor_source=processor) if processor else ck
    local = Path(os.path.expanduser(name))
    if local.exists():
        if not local.is_dir():
            raise MetricError(f"{name}: is a file; pass the folder that holds config.json")
        fam = family_of_config(_read_local_config(local))
        return Checkpoint(name=name, source=str(local.resolve()), family=fam,
                          frames=_FAMILY_FRAMES[fam], processor_source=processor)
    if _looks_local(name) or not _HUB_ID.match(name):
        import difflib

        close = difflib.get_close_matches(name, list(CHECKPOINTS), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MetricError(f"model {name!r} is not a known short name, an existing folder or a "
                          f"hub id (owner/name).{hint} Short names: "
                          f"{', '.join(sorted(CHECKPOINTS))}")
    # A hub id not in the table: the family is settled once its config is read.
    return Checkpoint(name=name, source=name, family="lmm", frames=LOVE_FRAMES,
                      processor_source=processor)


def with_family(ck: Checkpoint, family: str) -> Checkpoint:
    """``ck`` with its family (and the family's default frames when it had none)."""
    if ck.family == family:
        return ck
    frames = ck.frames if ck.name in CHECKPOINTS else _FAMILY_FRAMES[family]
    return replace(ck, family=family, frames=frames)

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
    # issue 17: the rest of LOVE's open LMMs that transformers has natively
    "qwen2_vl": "lmm",
    "llava_next_video": "lmm",
    "llava_next": "lmm",  # image model: frames go in as images
    "video_llava": "lmm",
    "video_llama_3": "lmm",
    "mllama": "lmm",  # Llama 3.2 Vision, image model: frames go in as images
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
    "qwen2_vl": "AutoModelForImageTextToText",
    "llava_next_video": "AutoModelForImageTextToText",
    "llava_next": "AutoModelForImageTextToText",
    "video_llava": "AutoModelForImageTextToText",
    "video_llama_3": "AutoModelForImageTextToText",
    "mllama": "AutoModelForImageTextToText",
    "lmm": "AutoModelForImageTextToText",
    "clip": "CLIPModel",
    "siglip": "AutoModel",
    "blip_itm": "BlipForImageTextRetrieval",
}


@dataclass(frozen=True)
class FrameSpec:
    """A checkpoint's frame convention, turned into a :class:`FramePolicy` on demand.

    ``mode="uniform"``: ``n`` frames at segment centres, resized to ``size``
    (width, height) when given; ``mode="love"``: the same, with the ``n``
    frames picked by LOVE's own rule (``sampling.love_indices``).
    ``mode="fps"``: ``rate`` frames per second,
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
        if self.mode == "love":
            return FramePolicy.love(self.n, min_frames=min_frames, resize=resize)
        return FramePolicy.uniform(self.n, min_frames=min_frames, resize=resize)

    def describe(self) -> str:
        """Short text for docs and tables."""
        if self.mode == "fps":
            s = f"{self.rate:g} fps (max {self.max_frames})"
        else:
            s = f"{self.n} uniform" + (" (LOVE's rule)" if self.mode == "love" else "")
        if self.size:
            s += f" @ {self.size[0]}x{self.size[1]}"
        elif self.max_pixels:
            s += f" @ <= {self.max_pixels} px"
        elif self.short_side:
            s += f" @ short side {self.short_side}"
        return s


# LOVE / Q-Align style evaluation: 8 frames picked by LOVE's rule, at 448x448.
LOVE_FRAMES = FrameSpec(mode="love", n=8, size=(448, 448))
# Qwen's video convention: 2 fps with a per-frame pixel budget (qwen-vl-utils
# uses 2 fps and scales frames down; 448*448 keeps a 5 s clip near 2.5k tokens).
QWEN_FRAMES = FrameSpec(mode="fps", rate=2.0, max_frames=32, max_pixels=448 * 448)
LLAVA_FRAMES = FrameSpec(mode="uniform", n=8, size=(384, 384))
CLIP_FRAMES = FrameSpec(mode="uniform", n=8, short_side=224)
# Video-LLaVA was trained on 8 frames at 224 px; LLaVA-NeXT-Video's examples use 8
# uniform frames; VideoLLaMA3 samples 1 fps; the image models (LLaVA-NeXT, Llama 3.2
# Vision) get 8 uniform frames as 8 images, scaled down to their tile size.
VIDEO_LLAVA_FRAMES = FrameSpec(mode="uniform", n=8, size=(224, 224))
LLAVA_NEXT_VIDEO_FRAMES = FrameSpec(mode="uniform", n=8, size=(336, 336))
VIDEOLLAMA3_FRAMES = FrameSpec(mode="fps", rate=1.0, max_frames=32, max_pixels=448 * 448)
LLAVA_NEXT_FRAMES = FrameSpec(mode="uniform", n=8, max_pixels=336 * 336)
MLLAMA_FRAMES = FrameSpec(mode="uniform", n=8, max_pixels=560 * 560)


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
    processor_revision: str | None = None  # of processor_source, when that is a hub id

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
                want = self.revision if src == self.source else self.processor_revision
                rev = f" --revision {want}" if want else ""
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
    # issue 17: LOVE's other open LMMs (hub ids as their authors publish them; not run here)
    Checkpoint("qwen2-vl-7b", "Qwen/Qwen2-VL-7B-Instruct", "qwen2_vl", QWEN_FRAMES,
               params_b=8.3, memory_gb=16.6, reference="Qwen2-VL (Wang et al., 2024)"),
    Checkpoint("qwen2-vl-72b", "Qwen/Qwen2-VL-72B-Instruct", "qwen2_vl", QWEN_FRAMES,
               params_b=73.4, memory_gb=146.8, reference="Qwen2-VL (Wang et al., 2024)"),
    Checkpoint("llava-next-8b", "llava-hf/llama3-llava-next-8b-hf", "llava_next",
               LLAVA_NEXT_FRAMES, params_b=8.4, memory_gb=16.7,
               reference="LLaVA-NeXT on Llama 3 8B (Liu et al., 2024); frames as images"),
    Checkpoint("llava-next-video-7b", "llava-hf/LLaVA-NeXT-Video-7B-hf", "llava_next_video",
               LLAVA_NEXT_VIDEO_FRAMES, params_b=7.1, memory_gb=14.1,
               reference="LLaVA-NeXT-Video (Zhang et al., 2024)"),
    Checkpoint("video-llava-7b", "LanguageBind/Video-LLaVA-7B-hf", "video_llava",
               VIDEO_LLAVA_FRAMES, params_b=7.4, memory_gb=14.7,
               reference="Video-LLaVA (Lin et al., 2024)"),
    Checkpoint("llama-3.2-11b-vision", "meta-llama/Llama-3.2-11B-Vision-Instruct", "mllama",
               MLLAMA_FRAMES, params_b=10.7, memory_gb=21.3,
               reference="Llama 3.2 Vision (Meta, 2024); gated on the hub; frames as images"),
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
    "qwen2_vl": "qwen2_vl",
    "llava_next_video": "llava_next_video",
    "llava_next": "llava_next",
    "video_llava": "video_llava",
    "video_llama_3": "video_llama_3",
    "mllama": "mllama",
    "clip": "clip",
    "siglip": "siglip",
    "siglip2": "siglip",
    "blip": "blip_itm",
}
_FAMILY_FRAMES = {"qwen2_5_vl": QWEN_FRAMES, "qwen3_vl": QWEN_FRAMES, "internvl": LOVE_FRAMES,
                  "llava_onevision": LLAVA_FRAMES, "lmm": LOVE_FRAMES, "clip": CLIP_FRAMES,
                  "siglip": FrameSpec(mode="uniform", n=8, short_side=384),
                  "blip_itm": FrameSpec(mode="uniform", n=8, short_side=384),
                  "qwen2_vl": QWEN_FRAMES, "llava_next_video": LLAVA_NEXT_VIDEO_FRAMES,
                  "llava_next": LLAVA_NEXT_FRAMES, "video_llava": VIDEO_LLAVA_FRAMES,
                  "video_llama_3": VIDEOLLAMA3_FRAMES, "mllama": MLLAMA_FRAMES}
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


# --- identity: what the store key records about a checkpoint ---------------------

# Files of a local model folder that decide what it computes: weights (the
# loader reads safetensors only), configs, tokenizer and processor files,
# chat templates and any repository code.
CHECKPOINT_SUFFIXES = (".safetensors", ".json", ".model", ".txt", ".tiktoken", ".jinja", ".py")
_COMMIT = re.compile(r"^[0-9a-f]{40}$")
_HUB_COMMITS: dict[tuple[str, str, str], str] = {}


def hub_cache_dir() -> str | None:
    """The hub cache folder as the environment says now (huggingface_hub reads it once,
    at import; a process that changes it later still gets the right answer here)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    return None


def _offline() -> bool:
    return any(os.environ.get(v, "").strip().lower() in ("1", "true", "yes", "on")
               for v in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def hub_commit(repo: str, revision: str | None = None) -> str:
    """The commit a hub id (at ``revision``, default ``main``) resolves to.

    Read from the local Hugging Face cache (``refs/<revision>`` ->
    ``snapshots/<commit>``), so it works offline; a checkpoint not in the
    cache is asked of the hub (one small request) unless ``HF_HUB_OFFLINE``
    is set. Raises :class:`MetricError` when it cannot be resolved.
    """
    rev = revision or "main"
    if _COMMIT.match(rev):
        return rev
    memo = (repo, rev, hub_cache_dir() or "")
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:  # pragma: no cover - comes with transformers
        raise MetricError(f"checkpoint {repo}: huggingface_hub is needed to resolve it; "
                          "pip install 'videojury[models]'") from None
    commit = None
    for name in ("config.json", "preprocessor_config.json", "tokenizer_config.json",
                 "model.safetensors.index.json", "model.safetensors"):
        try:
            got = try_to_load_from_cache(repo, name, cache_dir=hub_cache_dir(), revision=rev)
        except Exception as exc:  # noqa: BLE001 - an invalid repo id or revision
            raise MetricError(f"checkpoint {repo}@{rev}: {exc}") from None
        if isinstance(got, str):
            commit = Path(got).parent.name
            break
    if commit is None and memo in _HUB_COMMITS:  # asked the hub already in this process
        commit = _HUB_COMMITS[memo]
    if commit is None and not _offline():
        try:
            from huggingface_hub import HfApi

            commit = HfApi().model_info(repo, revision=rev, timeout=15).sha
            if commit:
                _HUB_COMMITS[memo] = commit
        except Exception as exc:  # noqa: BLE001 - network, auth, missing repo
            raise MetricError(f"checkpoint {repo}@{rev}: cannot find which commit it is "
                              f"({str(exc).strip().splitlines()[0] if str(exc).strip() else exc})"
                              ) from None
    if not commit or not _COMMIT.match(commit):
        raise MetricError(f"checkpoint {repo}@{rev} is not in the local Hugging Face cache "
                          "(and HF_HUB_OFFLINE is set), so its commit is unknown; download it "
                          f"with 'hf download {repo}'")
    return commit


def _cached_config(repo: str, commit: str) -> dict | None:
    """``config.json`` of a hub checkpoint at ``commit`` from the local cache, if there."""
    try:
        from huggingface_hub import try_to_load_from_cache

        got = try_to_load_from_cache(repo, "config.json", cache_dir=hub_cache_dir(),
                                     revision=commit)
        if isinstance(got, str):
            return json.loads(Path(got).read_text(encoding="utf-8"))
    except (ImportError, OSError, ValueError):
        pass
    return None


def checkpoint_files(folder: str | os.PathLike) -> list[Path]:
    """The files of a local model folder that go into its digest (sorted, hidden ones left out)."""
    root = Path(folder)
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in filenames:
            if not name.startswith(".") and name.lower().endswith(CHECKPOINT_SUFFIXES):
                p = Path(dirpath) / name
                if p.is_file():
                    out.append(p)
    if not out:
        raise MetricError(f"{folder}: no model files (config.json, *.safetensors) in this "
                          "folder")
    return sorted(out, key=lambda p: p.relative_to(root).as_posix())


def folder_digest(folder: str | os.PathLike, hash_file) -> str:
    """One digest of a local model folder: each file's relative path and content hash.

    ``hash_file(path)`` gives a file's content hash (the store's
    :meth:`~videojury.run.store.Store.content_hash`, cached by path, size,
    mtime, ctime and inode, so large weights are read once).
    """
    import hashlib

    root = Path(folder)
    h = hashlib.blake2b(digest_size=16)
    for p in checkpoint_files(root):
        h.update(p.relative_to(root).as_posix().encode() + b"\0")
        h.update(str(hash_file(str(p))).encode() + b"\n")
    return h.hexdigest()


def weight_file_identity(path: str | os.PathLike, hash_file) -> str:
    """``"file:<content hash>"`` of one weight file (a ``.pth`` a metric loads itself),
    for a metric's :meth:`~videojury.metrics.base.Metric.identity`."""
    return "file:" + str(hash_file(str(path)))


def source_identity(source: str, revision: str | None, hash_file) -> tuple[str, str | None]:
    """``("files:<digest>", None)`` for a local folder, ``("hub:<repo>@<commit>", commit)``
    for a hub id."""
    if _looks_local(source):
        p = Path(os.path.expanduser(source))
        if not p.is_dir():
            raise MetricError(f"model folder {source} does not exist")
        return "files:" + folder_digest(p, hash_file), None
    commit = hub_commit(source, revision)
    return f"hub:{source}@{commit}", commit


def pinned_identity(ck: Checkpoint, hash_file) -> tuple[Checkpoint, dict[str, str]]:
    """The checkpoint pinned to the hub commits it resolves to now, and its identity.

    The identity (``weights`` and ``processor``) goes into the store key; the
    pinned checkpoint is what the metric then loads, so the key names exactly
    what ran. No weights are loaded.
    """
    weights, commit = source_identity(ck.source, ck.revision, hash_file)
    pinned = replace(ck, revision=commit) if commit else ck
    if commit and ck.name not in CHECKPOINTS:
        # A hub id not in the table: its family (and so its frames) from the
        # cached config, as the loader will read it.
        cfg = _cached_config(ck.source, commit)
        if cfg is not None:
            pinned = with_family(pinned, family_of_config(cfg))
    ident = {"weights": weights}
    if ck.processor_source:
        proc, pcommit = source_identity(ck.processor_source, ck.processor_revision, hash_file)
        ident["processor"] = proc
        if pcommit:
            pinned = replace(pinned, processor_revision=pcommit)
    else:
        ident["processor"] = "with weights"
    return pinned, ident


# --- single weight files: the official checkpoints of non-Hugging-Face models -----

@dataclass(frozen=True)
class WeightFile:
    """One official checkpoint file (a ``.pth``/``.pt`` as its authors publish it).

    The VBench dimensions run on these rather than on Hugging Face folders.
    ``file``: the file name; ``url``: where its authors publish it;
    ``licence``: the weights' licence; ``size_mb``: download size in MiB;
    ``vbench_dir``: the sub-folder of VBench's cache (``~/.cache/vbench``)
    where VBench keeps it, so a machine that ran VBench needs no second
    copy. Nothing here downloads: :meth:`fetch_command` says how to.
    """

    name: str
    file: str
    url: str
    licence: str
    size_mb: float
    reference: str = ""
    vbench_dir: str = ""
    archive_member: str = ""  # the file's path inside a .zip at ``url`` (RAFT's models.zip)

    def fetch_command(self, folder: str | None = None) -> str:
        """The shell command that puts the file where :func:`resolve_weight_file` looks."""
        target = folder or weights_dir()
        if self.archive_member:
            return (f"mkdir -p {target} && curl -L -o {target}/_download.zip {self.url} && "
                    f"unzip -j -o {target}/_download.zip {self.archive_member} -d {target} && "
                    f"rm {target}/_download.zip")
        return f"mkdir -p {target} && curl -L -o {target}/{self.file} {self.url}"


WEIGHT_FILES: dict[str, WeightFile] = {w.name: w for w in [
    WeightFile("dino-vitb16", "dino_vitbase16_pretrain.pth",
               "https://dl.fbaipublicfiles.com/dino/dino_vitbase16_pretrain/"
               "dino_vitbase16_pretrain.pth", "Apache-2.0", 327.4,
               "DINO ViT-B/16 (Caron et al., ICCV 2021); VBench subject_consistency",
               "dino_model"),
    WeightFile("openai-clip-vit-b-32", "ViT-B-32.pt",
               "https://openaipublic.azureedge.net/clip/models/40d365715913c9da98579312b702a82c1"
               "8be219cc2a73407c4526f58eba950af/ViT-B-32.pt", "MIT", 337.6,
               "OpenAI CLIP ViT-B/32 (Radford et al., 2021); VBench background_consistency, "
               "appearance_style", "clip_model"),
    WeightFile("openai-clip-vit-l-14", "ViT-L-14.pt",
               "https://openaipublic.azureedge.net/clip/models/b8cca3fd41ae0c99ba7e8951adf17d267"
               "cdb84cd88be6f7c2e0eca1737a03836/ViT-L-14.pt", "MIT", 890.0,
               "OpenAI CLIP ViT-L/14 (Radford et al., 2021); backbone of VBench aesthetic_quality",
               "clip_model"),
    WeightFile("laion-aesthetic-vit-l-14", "sa_0_4_vit_l_14_linear.pth",
               "https://raw.githubusercontent.com/LAION-AI/aesthetic-predictor/main/"
               "sa_0_4_vit_l_14_linear.pth", "MIT", 0.003,
               "LAION aesthetic predictor v1 (linear head on CLIP ViT-L/14 embeddings); "
               "VBench aesthetic_quality", "aesthetic_model/emb_reader"),
    WeightFile("viclip-l14", "ViClip-InternVid-10M-FLT.pth",
               "https://huggingface.co/OpenGVLab/VBench_Used_Models/resolve/main/"
               "ViClip-InternVid-10M-FLT.pth", "Apache-2.0", 1640.0,
               "ViCLIP ViT-L/14 trained on InternVid-10M-FLT (Wang et al., ICLR 2024); VBench "
               "overall_consistency, temporal_style (size approximate)", "ViCLIP"),
    WeightFile("raft-things", "raft-things.pth",
               "https://dl.dropboxusercontent.com/s/4j4z58wuv8o0mfz/models.zip", "BSD-3-Clause",
               20.1, "RAFT-large trained on FlyingThings (Teed & Deng, ECCV 2020); VBench "
               "dynamic_degree", "raft_model/models", archive_member="models/raft-things.pth"),
    WeightFile("musiq-spaq", "musiq_spaq_ckpt-358bb6af.pth",
               "https://github.com/chaofengc/IQA-PyTorch/releases/download/v0.1-weights/"
               "musiq_spaq_ckpt-358bb6af.pth",
               "no licence of its own: published in IQA-PyTorch's release (PolyForm "
               "Noncommercial 1.0.0), converted from Google Research's MUSIQ checkpoint "
               "(google-research, Apache-2.0); treat as NON-COMMERCIAL use only", 103.5,
               "MUSIQ trained on SPAQ (Ke et al., ICCV 2021), pyiqa's PyTorch conversion; VBench "
               "imaging_quality, metric musiq (size approximate, from the parameter count)",
               "pyiqa_model"),
    WeightFile("amt-s", "amt-s.pth", "https://huggingface.co/lalala125/AMT/resolve/main/amt-s.pth",
               "CC BY-NC 4.0 (NON-COMMERCIAL use only)", 11.4,
               "AMT-S frame interpolation (Li et al., CVPR 2023), 2.99M parameters; VBench "
               "motion_smoothness (size from the parameter count)", "amt_model"),
    WeightFile("fga-blip2", "fga_blip2.pth",
               "https://huggingface.co/hanshuhao/FGA-BLIP2/resolve/main/fga_blip2.pth",
               "not stated for the weights (EvalMuse's code: Apache-2.0; fine-tuned from "
               "Salesforce LAVIS's BLIP-2, BSD-3-Clause)", 4500.0,
               "FGA-BLIP2 (EvalMuse-40K, Han et al., 2024): LAVIS BLIP-2 with EVA ViT-g at 364 px "
               "fine-tuned on EvalMuse-40K; metric fga_blip2 (size approximate, from the parameter "
               "count in float32; larger if the file keeps its optimizer state)"),
    WeightFile("fast-vqa-b", "FAST_VQA_B_1_4.pth",
               "https://github.com/TimothyHTimothy/FAST-VQA/releases/download/v2.0.0/"
               "FAST_VQA_B_1_4.pth", "MIT", 106.0,
               "FAST-VQA-B 1x4 (Wu et al., ECCV 2022), trained on LSVQ; metric fast_vqa "
               "(size approximate, from the parameter count)"),
    WeightFile("faster-vqa", "FAST_VQA_3D_1_1.pth",
               "https://github.com/TimothyHTimothy/FAST-VQA/releases/download/v2.0.0/"
               "FAST_VQA_3D_1_1.pth", "MIT", 106.0,
               "FasterVQA (Wu et al., TPAMI 2023), trained on LSVQ; metric faster_vqa "
               "(size approximate, from the parameter count)"),
    WeightFile("dover", "DOVER.pth",
               "https://github.com/QualityAssessment/DOVER/releases/download/v0.1.0/DOVER.pth",
               "S-Lab License 1.0 (NON-COMMERCIAL use only)", 214.0,
               "DOVER (Wu et al., ICCV 2023), trained on LSVQ; metric dover "
               "(size approximate, from the parameter count)"),
    WeightFile("vsfa", "VSFA.pt", "https://github.com/lidq92/VSFA/raw/master/models/VSFA.pt",
               "MIT", 2.1, "VSFA head (Li et al., ACM MM 2019), trained on KoNViD-1k (split 9); "
               "metric vsfa, with resnet50-imagenet"),
    WeightFile("resnet50-imagenet", "resnet50-0676ba61.pth",
               "https://download.pytorch.org/models/resnet50-0676ba61.pth", "BSD-3-Clause", 97.8,
               "torchvision's ImageNet ResNet-50 (IMAGENET1K_V1, what resnet50(pretrained=True) "
               "loads); VSFA's feature extractor"),
    WeightFile("simplevqa", "UGC_BVQA_model.pth",
               "https://drive.google.com/file/d/137XJdq3reNMJ9tkBNqKUYTY_dTlcwXc3/view",
               "Apache-2.0", 103.0,
               "SimpleVQA (Sun et al., ACM MM 2022), trained on LSVQ; metric simplevqa, with "
               "slowfast-r50 (Google Drive: download in a browser; size approximate)"),
    WeightFile("slowfast-r50", "SLOWFAST_8x8_R50.pyth",
               "https://dl.fbaipublicfiles.com/pytorchvideo/model_zoo/kinetics/"
               "SLOWFAST_8x8_R50.pyth", "Apache-2.0", 264.0,
               "pytorchvideo's SlowFast R50 8x8 on Kinetics-400; SimpleVQA's motion features "
               "(size approximate)"),
]}


def weights_dir() -> str:
    """Where weight files are looked for first: ``$VIDEOJURY_WEIGHTS`` or
    ``~/.cache/videojury/weights``."""
    return os.environ.get("VIDEOJURY_WEIGHTS") or os.path.join("~", ".cache", "videojury",
                                                               "weights")


def resolve_weight_file(value: str, kind: str) -> Path:
    """The local path of a weight file named by a ``model`` option.

    ``value`` is a short name of :data:`WEIGHT_FILES` (looked for in
    :func:`weights_dir`, then in VBench's cache ``$VBENCH_CACHE_DIR`` or
    ``~/.cache/vbench``) or a path to the file itself. ``kind`` names what the
    file must be, for messages (``"a DINO ViT checkpoint"``). Raises
    :class:`MetricError` naming the file, its source and the fetch command.
    """
    if value in WEIGHT_FILES:
        wf = WEIGHT_FILES[value]
        places = [Path(os.path.expanduser(weights_dir())) / wf.file]
        if wf.vbench_dir:
            vb = os.environ.get("VBENCH_CACHE_DIR") or os.path.join("~", ".cache", "vbench")
            places.append(Path(os.path.expanduser(vb)) / wf.vbench_dir / wf.file)
        for p in places:
            if p.is_file():
                return p
        raise MetricError(f"weights {wf.file} ({wf.reference}) are not on this machine; looked "
                          f"in {', '.join(str(p.parent) for p in places)}. Nothing downloads by "
                          f"itself: fetch them from {wf.url} with\n  {wf.fetch_command()}\n"
                          f"(licence {wf.licence}, {wf.size_mb:g} MiB) or pass model=PATH")
    p = Path(os.path.expanduser(value))
    if p.is_file():
        return p
    if p.is_dir():
        raise MetricError(f"model={value} is a folder; this metric needs {kind} file (.pth/.pt)")
    close = [n for n, w in WEIGHT_FILES.items() if w.file == value]
    hint = f" (short name: {close[0]})" if close else ""
    raise MetricError(f"model={value}: no such file and not a known weight name{hint}; "
                      f"this metric needs {kind}. Known names: {', '.join(sorted(WEIGHT_FILES))}")

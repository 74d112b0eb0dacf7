"""``vqascore:preset=t2v_metrics``: VQAScore as t2v_metrics 3.0 computes it on Qwen-VL.

t2v_metrics (Lin et al.) scores a video with Qwen2.5-VL / Qwen2-VL through
``Qwen2VLModel.forward`` and qwen-vl-utils 0.0.14. Every choice it makes
differs from videojury's default VQAScore; the preset makes each of them:

* **question**: ``Does this image show "{prompt}"?`` (no "Please answer yes or
  no."), answer word ``Yes``, its id the first of ``tokenizer.encode("Yes")``;
* **frames of a file**: ``qwen-vl-utils`` at 8 fps: ``n = N / fps * 8``
  clamped to [4, min(768, N)] and floored to an even count, indices
  ``linspace(0, N - 1, n)`` rounded (:func:`videojury.video.sampling.
  qwen_vl_indices`, read by videojury's decoder at full size);
* **size of a file's frames**: one bicubic, antialiased resize of the uint8
  frames (torchvision's kernel, as the library calls it) to a multiple of 28
  on each side with at least 128 * 28 * 28 pixels (so small clips are
  *upscaled*) and at most ``360 * 420``; the result goes to the processor as
  float pixels;
* **a clip in memory** (t2v_metrics' ``.npy`` input): the frames are first
  resized one by one with PIL's bicubic resize to multiples of **56** with at
  least 4 * 56 * 56 pixels (qwen-vl-utils 0.0.14 passes its 28-pixel factor
  where a patch size is expected, so its frame-list path doubles the factor),
  padded to an even count with the last frame, then resized as a file's
  frames are but with no 360 * 420 cap (at most 768 * 28 * 28 pixels). The
  frames of the clip are picked as for a file (videojury reads a clip in
  memory as it reads the same clip from a lossless file; an 8 fps clip of an
  even number of frames keeps them all, as t2v_metrics does);
* **temporal position ids**: no fps and no video metadata reach the
  processor, so its default applies (transformers 5: 24 fps for the
  seconds-per-grid of Qwen2.5-VL; transformers 4.49, t2v_metrics' pin: 2);
* **the probability**: ``generate(max_new_tokens=1, do_sample=False,
  output_scores=True)`` and the softmax of its first *processed* score row,
  so the checkpoint's generation config applies (the released
  Qwen2.5-VL-Instruct's ``repetition_penalty=1.05`` over the prompt's tokens);
* one item at a time (no padding), as t2v_metrics runs.

Checked against t2v_metrics' own scorer code on the same tiny weights
(``benchmarks/parity/t2v_metrics``, ``tests/test_vqascore_t2v_preset.py``).
LLaVA-OneVision (:mod:`.t2v_preset_llava_ov`): t2v_metrics'
``LLaVAOneVisionModel`` runs LLaVA-NeXT's own ``llava`` package on lmms-lab
checkpoints; the preset runs the native ``LlavaOnevisionForConditionalGeneration``
(or an lmms-lab folder converted by :mod:`videojury.models.llava_ov_convert`) with
its choices: 16 frames at ``np.linspace(0, N - 1, 16, dtype=int)`` (repeats for
short clips; a clip in memory gets the same 16), each squashed to 384 x 384 by
PIL's bicubic filter, the ``qwen_1_5`` conversation with ``Does this image show
"{}"? Answer the question with Yes or No``, and the softmax of the raw
next-token logits (LLaVA-NeXT's ``generate`` sees only embeddings, so no
repetition penalty acts) over the tokenizer's ids only (LLaVA-NeXT resizes the
embeddings to ``len(tokenizer)``). Parity: 2.0e-9 absolute
(``tests/test_vqascore_t2v_llava_ov.py``). ``frames=`` stays fixed (16, as
t2v_metrics' ``score()`` passes no ``num_frames``).

InternVL2.5 / InternVL3 (:mod:`.t2v_preset_internvl`): t2v_metrics'
``InternVL2Model`` runs OpenGVLab's remote code; the preset runs the native
``InternVLForConditionalGeneration`` (or an OpenGVLab folder converted by
:mod:`videojury.models.internvl_chat`) with its choices: 16 frames by
``get_video_index`` (LOVE's rule), each squashed to 448 x 448 by PIL's bicubic
filter, ``Frame{i}: <image>`` lines and ``Does this figure show "{}"? Please
answer Yes or No.`` in the ``internvl2_5`` conversation with OpenGVLab's system
message, and the softmax of the raw next-token logits (OpenGVLab's ``generate``
sees only embeddings). Parity: 5.6e-9 absolute
(``tests/test_vqascore_t2v_internvl.py``). ``frames=`` stays fixed (16).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import MetricError
from ...video import MEMORY_PATH, FramePolicy, Frames
from ..base import Metric

PRESETS = ("", "t2v_metrics")

# qwen-vl-utils 0.0.14's constants as t2v_metrics uses them
QWEN_FPS = 8.0                       # t2v_metrics' model table: 'fps': 8.0
QWEN_FILE_MAX_PIXELS = 360 * 420     # Qwen2VLModel.load_images: "max_pixels": 360*420
_FACTOR = 28                         # patch 14 x spatial merge 2
_VIDEO_MIN_PIXELS = 128 * _FACTOR * _FACTOR
_VIDEO_MAX_PIXELS = 768 * _FACTOR * _FACTOR
_TOTAL_PIXELS = 128000 * _FACTOR * _FACTOR * 0.9   # MODEL_SEQ_LEN default
_LIST_FACTOR = 2 * _FACTOR           # the frame-list path's doubled factor
_LIST_MIN_PIXELS = 4 * _LIST_FACTOR * _LIST_FACTOR
_LIST_MAX_PIXELS = 16384 * _LIST_FACTOR * _LIST_FACTOR
_MAX_RATIO = 200

QWEN_CLASSES = ("Qwen2_5_VLForConditionalGeneration", "Qwen2VLForConditionalGeneration")


def _torch():
    import torch

    return torch


def check_options(metric: Metric, defaults: dict[str, Any]) -> None:
    """Refuse the options the preset fixes, and hosted models."""
    o = metric.options
    if o["preset"] not in PRESETS:
        raise MetricError(f"{metric.name}: preset={o['preset']!r} is not known; use "
                          "preset=t2v_metrics (or leave it out)")
    if not o["preset"]:
        return
    if getattr(metric, "remote", False):
        raise MetricError(f"{metric.name}: preset=t2v_metrics runs a local Qwen-VL checkpoint; "
                          f"model={o['model']} is a hosted model")
    fixed = ("template", "frames", "fps", "max_pixels", "sampling", "renormalize", "yes", "no")
    given = [k for k in fixed if o.get(k) != defaults.get(k)]
    if given:
        raise MetricError(f"{metric.name}: preset=t2v_metrics fixes the question, the answer "
                          f"word, the frames and their size; drop {given[0]}=")


# t2v_metrics' scorer of each checkpoint family videojury reproduces: the module
# (in this package) holding that family's ``frame_policy(min_frames)`` and
# ``score_items(metric, frames, items)``; the Qwen families live here.
FAMILY_MODULES = {"qwen2_5_vl": None, "qwen2_vl": None, "internvl": "t2v_preset_internvl",
                 "llava_onevision": "t2v_preset_llava_ov"}


# original-layout checkpoints (config model_type) the native families are converted from
ORIGINAL_LAYOUTS = {"llava_qwen": "python -m videojury.models.llava_ov_convert SRC DST",
                    "internvl_chat": "python -m videojury.models.internvl_chat SRC DST"}


def family_of(metric: Metric) -> str:
    """The checkpoint family of ``metric``'s model, read without loading weights (once per
    metric: the frames of every video ask for it)."""
    fam = getattr(metric, "_t2v_family", None)
    if fam is not None:
        return fam
    ck = metric.checkpoint
    fam = ck.family
    if fam == "lmm":  # a hub id or folder not in the table: read its config.json
        from ...models.checkpoints import family_of_config
        from ...models.loading import _raw_config

        cfg = _raw_config(ck)
        if cfg:
            fam = family_of_config(cfg)
    metric._t2v_family = fam
    return fam


def _family_module(metric: Metric):
    import importlib

    fam = family_of(metric)
    if fam not in FAMILY_MODULES:
        known = ", ".join(sorted(FAMILY_MODULES))
        hint = ""
        if fam == "lmm":
            from ...models.loading import _raw_config

            cmd = ORIGINAL_LAYOUTS.get(str((_raw_config(metric.checkpoint) or {}).get(
                "model_type")))
            if cmd:
                hint = f" (a checkpoint in its authors' layout: convert it with {cmd})"
        raise MetricError(f"{metric.name}: preset=t2v_metrics reproduces t2v_metrics' scorers "
                          f"for the families {known}; model={metric.options['model']} is "
                          f"{fam!r}{hint}")
    mod = FAMILY_MODULES[fam]
    return None if mod is None else importlib.import_module(f"{__package__}.{mod}")


def frame_policy(metric: Metric) -> FramePolicy:
    """The frames t2v_metrics reads for this family (Qwen: qwen-vl-utils' 8 fps rule)."""
    mod = _family_module(metric)
    if mod is not None:
        return mod.frame_policy(metric.min_frames)
    return FramePolicy.qwen_vl(QWEN_FPS, min_frames=max(2, metric.min_frames))


def smart_size(height: int, width: int, factor: int, min_pixels: float,
               max_pixels: float) -> tuple[int, int]:
    """qwen-vl-utils' ``smart_resize`` rule: both sides a multiple of ``factor`` (nearest,
    Python's round), scaled down by the pixel excess (floored) or up to ``min_pixels``
    (ceiled), aspect kept as closely as that allows."""
    if max(height, width) / min(height, width) > _MAX_RATIO:
        raise MetricError(f"preset=t2v_metrics: a {width}x{height} frame has an aspect ratio "
                          f"above {_MAX_RATIO}, which qwen-vl-utils refuses")
    h = max(factor, factor * round(height / factor))
    w = max(factor, factor * round(width / factor))
    if h * w > max_pixels:
        scale = math.sqrt(height * width / max_pixels)
        h = factor * math.floor(height / scale / factor)
        w = factor * math.floor(width / scale / factor)
    elif h * w < min_pixels:
        scale = math.sqrt(min_pixels / (height * width))
        h = factor * math.ceil(height * scale / factor)
        w = factor * math.ceil(width * scale / factor)
    return h, w


def _video_pixels_cap(n: int, cap: float | None) -> float:
    limit = max(min(_VIDEO_MAX_PIXELS, _TOTAL_PIXELS / n * 2), int(_VIDEO_MIN_PIXELS * 1.05))
    return min(cap, limit) if cap is not None else limit


def _resize_video(video, cap: float | None):
    """(T, 3, H, W) uint8 tensor -> float tensor at the Qwen video size (bicubic, antialias)."""
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms.functional import resize

    n, _, h, w = video.shape
    th, tw = smart_size(int(h), int(w), _FACTOR, _VIDEO_MIN_PIXELS, _video_pixels_cap(int(n), cap))
    return resize(video, [th, tw], interpolation=InterpolationMode.BICUBIC, antialias=True).float()


def file_video(array: np.ndarray):
    """A file's sampled frames (T, H, W, 3) uint8 as t2v_metrics hands them to the processor."""
    torch = _torch()
    video = torch.from_numpy(np.ascontiguousarray(array)).permute(0, 3, 1, 2).contiguous()
    return _resize_video(video, QWEN_FILE_MAX_PIXELS)


def array_video(array: np.ndarray):
    """A clip in memory (T, H, W, 3) uint8 as t2v_metrics' ``.npy`` path hands it over."""
    from PIL import Image

    torch = _torch()
    frames = []
    for a in array:
        img = Image.fromarray(np.ascontiguousarray(a), "RGB")
        w, h = img.size
        th, tw = smart_size(h, w, _LIST_FACTOR, _LIST_MIN_PIXELS, _LIST_MAX_PIXELS)
        frames.append(np.asarray(img.resize((tw, th), Image.Resampling.BICUBIC)))
    if len(frames) % 2:
        frames.append(frames[-1])
    video = torch.from_numpy(np.stack(frames)).permute(0, 3, 1, 2).contiguous()
    return _resize_video(video, None)


def preset_video(frames: Frames):
    """The float video tensor t2v_metrics would give the processor for these frames."""
    if frames.array is None:
        frames = frames.materialize()
    if frames.info.path == MEMORY_PATH:
        return array_video(frames.array)
    return file_video(frames.array)


def check_family(backbone: Any) -> None:
    cls = type(backbone.model).__name__
    if cls not in QWEN_CLASSES:
        raise MetricError(f"vqascore: preset=t2v_metrics: {backbone.checkpoint.name} loads as "
                          f"a {cls}, not the Qwen2-VL / Qwen2.5-VL model its config names")


def prompt_text(processor: Any, question: str) -> str:
    messages = [{"role": "user", "content": [{"type": "video"},
                                             {"type": "text", "text": question}]}]
    text = processor.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)
    return text[0] if isinstance(text, list) else text


def answer_id(tokenizer: Any, word: str = "Yes") -> int:
    """t2v_metrics' answer token: the first id of ``tokenizer.encode(word)``."""
    ids = tokenizer.encode(word)
    if not ids:
        raise MetricError(f"the tokenizer cannot encode {word!r}")
    return int(ids[0])


def next_token_logprobs(backbone: Any, video, text: str, *, processed: bool = True,
                        metadata: Any = None):
    """Log-softmax of the first answer token for one item (float64 numpy row).

    ``processed``: from ``generate``'s first processed score row (t2v_metrics), else from
    the raw logits of one forward pass. ``metadata``: video metadata for the processor
    (None: the processor's default fps, as t2v_metrics passes none).
    """
    torch = _torch()
    kwargs = {} if metadata is None else {"video_metadata": [metadata]}
    inputs = backbone.processor(text=[text], images=None, videos=[video], padding=True,
                                return_tensors="pt", **kwargs).to(backbone.device)
    for k, v in list(inputs.items()):
        if isinstance(v, torch.Tensor) and v.is_floating_point() and k.startswith("pixel"):
            inputs[k] = v.to(backbone.dtype)
    with backbone.lock, torch.inference_mode():
        if processed:
            out = backbone.model.generate(**inputs, max_new_tokens=1, do_sample=False,
                                          output_scores=True, return_dict_in_generate=True)
            row = out.scores[0][0]
        else:
            row = backbone.model(**inputs, use_cache=False).logits[0, -1]
    return torch.log_softmax(row.float(), dim=-1).double().cpu().numpy()


def score_items(metric: Any, frames: list[Frames], items: list[Any]) -> list[dict[str, float]]:
    """The preset's VQAScore for a batch (run one item at a time)."""
    mod = _family_module(metric)
    if mod is not None:
        return mod.score_items(metric, frames, items)
    from .prompts import T2V_METRICS_QWEN_TEMPLATE, fill

    backbone = metric.backbone()
    check_family(backbone)
    yes = answer_id(backbone.tokenizer)
    out = []
    for f, it in zip(frames, items):
        text = prompt_text(backbone.processor,
                           fill(T2V_METRICS_QWEN_TEMPLATE, prompt=it.prompt or ""))
        with metric.timed("preprocess"):
            video = preset_video(f)
        lp = next_token_logprobs(backbone, video, text)
        out.append({"vqascore": min(1.0, max(0.0, float(np.exp(lp[yes]))))})
    return out

"""``vqascore:preset=t2v_metrics`` on LLaVA-OneVision: t2v_metrics 3.0's ``LLaVAOneVisionModel``.

t2v_metrics runs LLaVA-OneVision through the LLaVA-NeXT repository's ``llava``
package on the lmms-lab checkpoints; the same network runs here natively
(``LlavaOnevisionForConditionalGeneration``: the ``llava-hf/...-ov-hf``
checkpoints, or an lmms-lab folder converted by
:func:`videojury.models.llava_ov_convert.convert_lmms_llava_ov`). What it does,
and this module with it:

* **frames of a file**: 16 (``forward``'s ``num_frames`` default; ``score()``
  passes none) at ``np.linspace(0, N - 1, 16, dtype=int)`` (truncated, first and
  last frame read, repeats for clips under 16 frames:
  :func:`videojury.video.sampling.linspace_int_indices`), read by decord;
* **a clip in memory** (t2v_metrics' 4-D ``.npy``: every frame of the array,
  same processing): the same 16 frames as the file (videojury samples a clip in
  memory as it samples the same lossless file);
* **pixels**: LLaVA-NeXT's own SigLIP image processor: each frame resized to
  384 x 384 by PIL's bicubic filter on uint8 (aspect ratio squashed), ``x / 255``
  in float64 then float32, ``(x - 0.5) / 0.5``; t2v_metrics then casts to
  float16 (``.half()``) -- here the pixels take the model's dtype instead (the
  float32 CPU check cannot take float16 pixels either);
* **prompt**: ``conv_templates["qwen_1_5"]`` (ChatML, ``You are a helpful
  assistant.``) with ``<image>\\n`` + ``Does this image show "{prompt}"? Answer
  the question with Yes or No``, tokenized by ``tokenizer_image_token``: the text
  before and after ``<image>`` tokenized apart, the video's features in between
  (16 x 14 x 14 bilinear-pooled SigLIP patches, last SigLIP layer dropped, then
  one newline embedding: the native video path, ``mm_newline_position=one_token``);
* **the probability**: softmax of ``generate(max_new_tokens=1)``'s first score
  row at ``tokenizer.encode("Yes")[0]``. LLaVA-NeXT's ``generate`` passes only
  ``inputs_embeds``, so a repetition penalty in the generation config has no
  prompt ids to act on (measured on the tiny check with 1.05: no effect) and the
  row is the raw next-token logits (read here from one forward pass). Its
  ``load_pretrained_model`` resizes the embeddings to ``len(tokenizer)`` (151646
  for Qwen2, whose checkpoint has 152064 rows), so the softmax runs over the
  tokenizer's ids only: here over the ids below the native tokenizer's
  ``<image>``/``<video>`` tokens, which the conversion appended after them;
* fp16 throughout on CUDA in t2v_metrics; here the metric's dtype; one item at a time.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames

NUM_FRAMES = 16            # LLaVAOneVisionModel.forward(num_frames=16)
SIZE = 384                 # SigLipImageProcessor(size=(384, 384))
QUESTION = 'Does this image show "{}"? Answer the question with Yes or No'
ANSWER = "Yes"
SYSTEM = "You are a helpful assistant."   # conv_templates["qwen_1_5"].system
NATIVE_CLASSES = ("LlavaOnevisionForConditionalGeneration",)


def frame_policy(min_frames: int) -> FramePolicy:
    """t2v_metrics' 16 frames by ``np.linspace(..., dtype=int)`` (full size)."""
    return FramePolicy.linspace(NUM_FRAMES, min_frames=max(1, min_frames))


def pixels(array: np.ndarray, size: int = SIZE):
    """(T, H, W, 3) uint8 -> (T, 3, size, size) float32, as LLaVA-NeXT's processor makes them."""
    import torch
    from PIL import Image

    out = []
    for f in array:
        img = Image.fromarray(np.ascontiguousarray(f), "RGB")
        a = np.asarray(img.resize((size, size), Image.Resampling.BICUBIC))
        x = (a.astype(np.float64) * (1 / 255)).astype(np.float32)
        x = (x - np.float32(0.5)) / np.float32(0.5)
        out.append(np.ascontiguousarray(x.transpose(2, 0, 1)))
    return torch.from_numpy(np.stack(out))


def prompt_chunks(question: str) -> tuple[str, str]:
    """The ``qwen_1_5`` conversation split at ``<image>`` (as ``tokenizer_image_token`` does)."""
    before = f"<|im_start|>system\n{SYSTEM}<|im_end|>\n<|im_start|>user\n"
    after = f"\n{question}<|im_end|>\n<|im_start|>assistant\n"
    return before, after


def video_tokens(config: Any, n_frames: int) -> int:
    """Feature positions of a video: per frame the 2x2-pooled (ceil) patch grid, then one newline."""
    side = config.vision_config.image_size // config.vision_config.patch_size
    return n_frames * math.ceil(side / 2) ** 2 + 1


def text_vocab(tokenizer: Any, config: Any) -> int:
    """The ids LLaVA-NeXT's resized model scores: those below the appended <image>/<video>."""
    n = len(tokenizer)
    added = [i for i in (config.image_token_index, config.video_token_index) if i >= n - 2]
    return n - len(added)


def input_ids(tokenizer: Any, config: Any, question: str, n_frames: int) -> list[int]:
    before, after = prompt_chunks(question)
    ids_b = tokenizer(before, add_special_tokens=True).input_ids
    ids_a = tokenizer(after, add_special_tokens=True).input_ids
    bos = getattr(tokenizer, "bos_token_id", None)
    if ids_b and bos is not None and ids_b[0] == bos:
        # tokenizer_image_token keeps the first chunk's BOS and drops the others'
        if ids_a and ids_a[0] == bos:
            ids_a = ids_a[1:]
    return ids_b + [config.video_token_index] * video_tokens(config, n_frames) + ids_a


def answer_id(tokenizer: Any) -> int:
    ids = tokenizer.encode(ANSWER)
    if not ids:
        raise MetricError(f"the tokenizer cannot encode {ANSWER!r}")
    return int(ids[0])


def check_model(backbone: Any) -> None:
    cls = type(backbone.model).__name__
    if cls not in NATIVE_CLASSES:
        raise MetricError(f"vqascore: preset=t2v_metrics on LLaVA-OneVision runs the native "
                          f"LlavaOnevisionForConditionalGeneration; {backbone.checkpoint.name} "
                          f"loads as {cls} (an lmms-lab folder: convert it with python -m "
                          "videojury.models.llava_ov_convert SRC DST)")
    cfg = backbone.model.config
    if cfg.vision_feature_select_strategy != "full" or cfg.vision_feature_layer != -1:
        raise MetricError(f"vqascore: preset=t2v_metrics: {backbone.checkpoint.name} selects "
                          f"vision layer {cfg.vision_feature_layer} "
                          f"({cfg.vision_feature_select_strategy}); LLaVA-NeXT reads the last "
                          "kept SigLIP layer, all patches (vision_feature_layer=-1, full)")


def next_token_logprobs(backbone: Any, pixel_values, ids: list[int], vocab: int):
    """Log-softmax over the first ``vocab`` ids of the next-token logits (float64 numpy)."""
    import torch

    model = backbone.model
    x = torch.tensor([ids], dtype=torch.long, device=backbone.device)
    pv = pixel_values[None].to(device=backbone.device, dtype=backbone.dtype)
    with backbone.lock, torch.inference_mode():
        row = model(input_ids=x, attention_mask=torch.ones_like(x), pixel_values_videos=pv,
                    use_cache=False, logits_to_keep=1).logits[0, -1]
    return torch.log_softmax(row[:vocab].float(), dim=-1).double().cpu().numpy()


def score_items(metric: Any, frames: list[Frames], items: list[Any]) -> list[dict[str, float]]:
    """t2v_metrics' LLaVA-OneVision VQAScore for each (frames, item), one at a time."""
    backbone = metric.backbone()
    check_model(backbone)
    tok, cfg = backbone.tokenizer, backbone.model.config
    yes, vocab = answer_id(tok), text_vocab(tok, cfg)
    size = int(cfg.vision_config.image_size)
    out = []
    for f, it in zip(frames, items):
        if f.array is None:
            f = f.materialize()
        with metric.timed("preprocess"):
            pv = pixels(f.array, size)
        ids = input_ids(tok, cfg, QUESTION.format(it.prompt or ""), len(pv))
        lp = next_token_logprobs(backbone, pv, ids, vocab)
        out.append({"vqascore": min(1.0, max(0.0, float(np.exp(lp[yes]))))})
    return out

"""``vqascore:preset=t2v_metrics`` on InternVL: t2v_metrics 3.0's ``InternVL2Model``.

t2v_metrics scores InternVL2 / 2.5 / 3 through OpenGVLab's remote code; the same
network runs here natively (``InternVLForConditionalGeneration``: the
``OpenGVLab/InternVL3-*-hf`` checkpoints, or an original-layout folder converted
by :func:`videojury.models.internvl_chat.convert_folder`). What it does, and
this module with it:

* **frames**: 16 (``forward``'s ``num_frames`` default; ``score()`` passes none),
  at ``int(seg / 2 + np.round(seg * i))`` with ``seg = (N - 1) / 16``
  (``get_video_index`` without bounds: LOVE's rule, :func:`videojury.video.
  sampling.love_indices`), so a clip of 16 frames or fewer repeats frames and the
  last frame is never read;
* **pixels**: each frame resized to 448 x 448 by PIL (its default bicubic;
  ``dynamic_preprocess(max_num=1)`` gives one tile and no thumbnail), so the
  aspect ratio is squashed; torchvision's ``Resize((448, 448))`` is then a
  no-op; ``ToTensor`` and ImageNet normalisation;
* **prompt**: ``Frame1: <image>\\n ... Frame16: <image>\\n`` + ``Does this figure
  show "{prompt}"? Please answer Yes or No.`` in the model's conversation
  template (``internvl2_5``, ChatML, with OpenGVLab's Chinese system message),
  each ``<image>`` becoming ``<img>`` + ``<IMG_CONTEXT>`` x 256 + ``</img>``;
* **the probability**: softmax of ``generate(max_new_tokens=1)``'s first score row
  at ``tokenizer.encode("Yes")[0]``. OpenGVLab's ``generate`` hands the LLM only
  ``inputs_embeds``; under transformers 4.49 (t2v_metrics' pin) generation then
  starts from no ids, so no logits processor acts (a repetition penalty of 1.5 in
  the LLM config left the reference's scores unchanged) and the row is the raw
  next-token logits, which is what this module reads (one forward pass). (Under
  transformers 4.37.2 it starts from ``[[bos_token_id]]``, which such a penalty
  would lower; the released configs carry 1.0.)
* bf16 autocast on CUDA (no-op on CPU), one item at a time.

For tokenizers that put a BOS first (InternLM2's, which InternVL2-2B/8B/26B and
InternVL2.5-2B/8B/26B use), ``encode("Yes")[0]`` is the BOS id, so t2v_metrics'
score there is P(BOS); this module reproduces whatever id the tokenizer gives.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames

NUM_FRAMES = 16            # InternVL2Model.forward(num_frames=16)
INPUT_SIZE = 448           # load_video(input_size=448)
QUESTION = 'Does this figure show "{}"? Please answer Yes or No.'
ANSWER = "Yes"
NATIVE_CLASSES = ("InternVLForConditionalGeneration",)


def frame_policy(min_frames: int) -> FramePolicy:
    """t2v_metrics' 16 frames by ``get_video_index`` (full size; resized in :func:`pixels`)."""
    return FramePolicy.love(NUM_FRAMES, min_frames=max(1, min_frames))


def pixels(array: np.ndarray):
    """(T, H, W, 3) uint8 -> (T, 3, 448, 448) float32, as ``load_video`` makes them."""
    import torch

    from ...models.love import frame_pixels

    return torch.stack([frame_pixels(f, INPUT_SIZE) for f in array])


def template_of(config: Any) -> tuple[str, str]:
    """(template name, system message) of a native config: what a converted folder
    recorded, else InternVL2.5 / InternVL3's ``internvl2_5`` and its system message."""
    from ...models.internvl_chat import (CONFIG_SYSTEM_KEY, CONFIG_TEMPLATE_KEY,
                                         TEMPLATE_NAME, TEMPLATE_SYSTEM)

    name = getattr(config, CONFIG_TEMPLATE_KEY, None) or TEMPLATE_NAME
    system = getattr(config, CONFIG_SYSTEM_KEY, None)
    if name != TEMPLATE_NAME:
        raise MetricError(f"vqascore: preset=t2v_metrics reproduces InternVL's {TEMPLATE_NAME!r} "
                          f"conversation template (InternVL2.5, InternVL3); this checkpoint "
                          f"names {name!r}")
    return name, TEMPLATE_SYSTEM if system is None else system


def query(system: str, prompt: str, n_frames: int, num_image_token: int) -> str:
    """The text t2v_metrics tokenizes (``internvl2_5``: MPT separator style)."""
    from ...models.internvl_chat import IMG_CONTEXT, IMG_END, IMG_START

    user = "".join(f"Frame{i + 1}: <image>\n" for i in range(n_frames)) + QUESTION.format(prompt)
    text = (f"<|im_start|>system\n{system}<|im_end|>\n"
            f"<|im_start|>user\n{user}<|im_end|>\n<|im_start|>assistant\n")
    tokens = IMG_START + IMG_CONTEXT * num_image_token + IMG_END
    return text.replace("<image>", tokens)


def num_image_token(config: Any) -> int:
    vc = config.vision_config
    size = vc.image_size[0] if isinstance(vc.image_size, (list, tuple)) else vc.image_size
    patch = vc.patch_size[0] if isinstance(vc.patch_size, (list, tuple)) else vc.patch_size
    if int(size) != INPUT_SIZE:
        raise MetricError(f"vqascore: preset=t2v_metrics feeds 448-pixel frames (t2v_metrics' "
                          f"load_video); this checkpoint's vision tower takes {size}")
    return int((INPUT_SIZE // int(patch)) ** 2 * float(config.downsample_ratio) ** 2)


def yes_probability(backbone: Any, pv, text: str, yes: int) -> float:
    """softmax(next-token logits)[yes] for one item."""
    import torch

    tok = backbone.tokenizer
    enc = tok(text, return_tensors="pt")
    ids = enc["input_ids"].to(backbone.device)
    mask = enc["attention_mask"].to(backbone.device)
    pv = pv.to(backbone.device, backbone.dtype)
    cuda = str(backbone.device).startswith("cuda")
    with backbone.lock, torch.inference_mode(), \
            torch.autocast("cuda", dtype=torch.bfloat16, enabled=cuda):
        row = backbone.model(input_ids=ids, attention_mask=mask, pixel_values=pv,
                             use_cache=False, logits_to_keep=1).logits[0, -1]
    return float(torch.softmax(row.float(), dim=-1)[yes])


def score_items(metric: Any, frames: list[Frames], items: list[Any]) -> list[dict[str, float]]:
    backbone = metric.backbone()
    cls = type(backbone.model).__name__
    if cls not in NATIVE_CLASSES:
        raise MetricError(f"vqascore: preset=t2v_metrics on InternVL runs "
                          f"InternVLForConditionalGeneration; {backbone.checkpoint.name} is "
                          f"a {cls}")
    cfg = backbone.model.config
    _, system = template_of(cfg)
    n_tok = num_image_token(cfg)
    ids = backbone.tokenizer.encode(ANSWER)
    if not ids:
        raise MetricError(f"the tokenizer cannot encode {ANSWER!r}")
    yes = int(ids[0])
    out = []
    for f, it in zip(frames, items):
        if f.array is None:
            f = f.materialize()
        with metric.timed("preprocess"):
            pv = pixels(f.array)
        text = query(system, it.prompt or "", len(f.array), n_tok)
        p = yes_probability(backbone, pv, text, yes)
        out.append({"vqascore": min(1.0, max(0.0, p))})
    return out

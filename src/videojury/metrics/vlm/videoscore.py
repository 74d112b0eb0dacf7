"""VideoScore2 as its released inference computes it, and VideoScore (v1/v1.1).

VideoScore2 (TIGER-Lab/VideoScore2, a fine-tuned Qwen2.5-VL-7B) ships one
inference script with its model card (``vs2_inference.py``). ``videoscore2``
reproduces its steps:

* prompt: the script's own query template (:data:`VS2_TEMPLATE`, its
  indentation and trailing spaces included), the text prompt substituted for
  ``$t2v_prompt``, as the one user turn after the video;
* frames: what qwen-vl-utils' ``fetch_video`` gives at ``fps=2.0`` (the
  script's ``infer_fps``): ``N / fps * 2`` frames floored to an even count,
  at least 4 and at most ``min(768, N)``, at ``linspace(0, N - 1, n)``
  rounded (:func:`~videojury.video.sampling.qwen_vl_indices`); each frame
  bicubic-resized (antialiased, not rounded back to 8 bits) to the
  smart-resize size (multiples of 28, at least 128 x 28 x 28 pixels, at most
  768 x 28 x 28 or the 115200 x 28 x 28 token budget spread over the frames);
  the processor then called with ``fps=2.0`` as the script does;
* score rule: the answer is decoded, and the script's regular expression
  (``visual quality:\\s*(\\d+).*?text-to-video alignment:\\s*(\\d+).*?
  physical/common-sense consistency:\\s*(\\d+)``, case-insensitive, across
  lines) reads three integers; an answer it does not match is an error for
  that video (the script returns None), recorded with the text.

The released script samples (``do_sample=True, temperature=0.7``) and so is
not deterministic; ``videoscore2`` decodes greedily by default (the same
integers every run). ``decoding=sample`` runs the released sampling,
``samples=K`` times per video with seeds ``seed, seed+1, ...`` (each item
on its own, so batching does not change a draw), and averages the integers
of the answers that parse.

``videoscore2_prob`` is the script's probability-weighted number under its
own name: at the token of the first digit after each axis label (found as
the script finds it, by decoding the generated prefix), the probabilities
of the single-token digits 1-5 from ``generate``'s processed scores;
``argmax digit x max p / sum p``, rounded to 4 decimals (so at most the
argmax digit; about 2.5 for a near-even split between 4 and 5). It is not the
expected digit that ``rationale_judge``'s ``*_soft`` fields report.

``videoscore`` is VideoScore v1 / v1.1 (Idefics2 + a five-way regression
head, Mantis' ``Idefics2ForSequenceClassification`` layout) on transformers'
native ``Idefics2Model`` with the head in this module (:class:`VideoScoreHead`).
"""

from __future__ import annotations

import math
import re
from string import Template
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import ScoreField, register_metric
from ._common import COMMON_OPTIONS, LMMMetric, ModelMetric, append_log

# The query template of VideoScore2's released vs2_inference.py, verbatim in
# its whitespace (it is indented inside a function there, and the model card's
# script sends it so).
VS2_TEMPLATE = (
    "\n    You are an expert for evaluating AI-generated videos from three dimensions:\n"
    "    (1) visual quality \u2013 clarity, smoothness, artifacts;\n"
    "    (2) text-to-video alignment \u2013 fidelity to the prompt;\n"
    "    (3) physical/common-sense consistency \u2013 naturalness and physics plausibility.\n"
    "\n"
    "    Video prompt: $t2v_prompt\n"
    "\n"
    "    Please output in this format:\n"
    "    visual quality: <v_score>; \n"
    "    text-to-video alignment: <t_score>, \n"
    "    physical/common-sense consistency: <p_score>\n"
    "    ")

VS2_AXES = (("visual", "visual quality:"), ("alignment", "text-to-video alignment:"),
            ("physical", "physical/common-sense consistency:"))
_VS2_PATTERN = re.compile(r"visual quality:\s*(\d+).*?text-to-video alignment:\s*(\d+)"
                          r".*?physical/common-sense consistency:\s*(\d+)",
                          re.DOTALL | re.IGNORECASE)

# qwen-vl-utils' video pixel bounds (per frame, in 28 x 28 patches)
_MIN_TOKENS, _MAX_TOKENS, _SEQ_LEN = 128, 768, 128000


def vs2_query(prompt: str) -> str:
    """The user text VideoScore2's script sends for a text prompt."""
    return Template(VS2_TEMPLATE).substitute(t2v_prompt=prompt)


def parse_vs2(text: str) -> tuple[int, int, int] | None:
    """The three integers the released regular expression reads, or None."""
    m = _VS2_PATTERN.search(text)
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) if m else None


def score_step(label: str, tokenizer, gen_ids: Sequence[int]) -> int:
    """Index of the generated token that completes the first digit after ``label``.

    The released rule: in the generated text (special tokens kept), find the
    label (optionally after "(n) " or a newline), then the first digit after
    it; the step is the first prefix of the generated tokens whose decoding
    is exactly the text up to and including that digit. -1 when none is.
    """
    ids = [int(t) for t in gen_ids]
    text = tokenizer.decode(ids, skip_special_tokens=False)
    m = re.search(r"(?:\(\d+\)\s*|\n\s*)?" + re.escape(label), text, flags=re.IGNORECASE)
    if not m:
        return -1
    d = re.search(r"\d", text[m.end():])
    if not d:
        return -1
    target = text[:m.end() + d.start() + 1]
    for i in range(len(ids)):
        if tokenizer.decode(ids[:i + 1], skip_special_tokens=False) == target:
            return i
    return -1


def normed_digit_score(logits, tokenizer) -> float | None:
    """argmax_k p(k) x max p / sum p over the single-token digits 1-5, rounded to 4 places."""
    import torch

    logp = torch.log_softmax(logits.float(), dim=-1)
    probs: list[tuple[int, float]] = []
    for s in range(1, 6):
        ids = tokenizer.encode(str(s), add_special_tokens=False)
        if len(ids) == 1:
            probs.append((s, float(np.exp(logp[ids[0]].item()))))
    if not probs:
        return None
    total = sum(p for _, p in probs)
    best, pmax = max(probs, key=lambda sp: (sp[1], -sp[0]))  # first maximum, as list.index
    return round(best * (pmax / total if total > 0 else 0.0), 4)


def smart_size(height: int, width: int, frames: int, factor: int = 28) -> tuple[int, int]:
    """qwen-vl-utils' frame size for a ``frames``-frame video (height, width)."""
    min_px = _MIN_TOKENS * factor * factor
    total = _SEQ_LEN * factor * factor * 0.9
    max_px = max(min(_MAX_TOKENS * factor * factor, total / frames * 2), int(min_px * 1.05))
    if max(height, width) / min(height, width) > 200:
        raise MetricError(f"frames of {width}x{height} are too elongated for Qwen-VL "
                          "(aspect ratio above 200)")
    h = max(factor, round(height / factor) * factor)
    w = max(factor, round(width / factor) * factor)
    if h * w > max_px:
        beta = math.sqrt(height * width / max_px)
        h = math.floor(height / beta / factor) * factor
        w = math.floor(width / beta / factor) * factor
    elif h * w < min_px:
        beta = math.sqrt(min_px / (height * width))
        h = math.ceil(height * beta / factor) * factor
        w = math.ceil(width * beta / factor) * factor
    return h, w


def released_video(frames: Frames, factor: int = 28):
    """The float (T, 3, H, W) tensor qwen-vl-utils hands the processor for these frames."""
    import torch
    from torchvision.transforms import InterpolationMode
    from torchvision.transforms import functional as TF

    arr = np.ascontiguousarray(frames.array)
    video = torch.from_numpy(arr).permute(0, 3, 1, 2)
    h, w = smart_size(video.shape[2], video.shape[3], video.shape[0], factor)
    return TF.resize(video, [h, w], interpolation=InterpolationMode.BICUBIC,
                     antialias=True).float()


def released_inputs(processor, frames: Frames, texts: Sequence[str], fps: float):
    """Processor output as the released script builds it (one video, ``fps=`` given)."""
    vp = processor.video_processor
    factor = int(getattr(vp, "patch_size", 14)) * int(getattr(vp, "merge_size", 2))
    video = released_video(frames, factor)
    return processor(text=list(texts), videos=[video] * len(texts), fps=fps, padding=True,
                     return_tensors="pt")


class _VS2Base(LMMMetric):
    needs_prompt = True
    reference = "VideoScore2 (He et al., 2025), released vs2_inference.py"
    default_options = {**COMMON_OPTIONS, "model": "videoscore2", "infer_fps": 2.0,
                       "max_new_tokens": 1024, "decoding": "greedy", "temperature": 0.7,
                       "samples": 1, "seed": 0, "rationale_log": ""}
    runtime_options = frozenset({"device", "batch_size", "rationale_log"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        o = self.options
        for k in ("frames", "fps", "max_pixels"):
            if o[k]:
                raise MetricError(f"{self.name}: {k}= is not taken; frames are read as the "
                                  "released inference reads them (qwen-vl-utils at infer_fps=2)")
        if o["sampling"]:
            raise MetricError(f"{self.name}: sampling= is not taken; use infer_fps=")
        if o["decoding"] not in ("greedy", "sample"):
            raise MetricError(f"{self.name}: decoding={o['decoding']!r}: use greedy or sample")
        if float(o["infer_fps"]) <= 0 or int(o["max_new_tokens"]) < 1:
            raise MetricError(f"{self.name}: infer_fps must be > 0 and max_new_tokens >= 1")
        if int(o["samples"]) < 1 or float(o["temperature"]) <= 0:
            raise MetricError(f"{self.name}: samples must be >= 1 and temperature > 0")
        if o["decoding"] == "greedy" and int(o["samples"]) != 1:
            raise MetricError(f"{self.name}: samples={o['samples']} needs decoding=sample "
                              "(greedy answers are all the same)")

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.qwen_vl(float(self.options["infer_fps"]))

    # --- one answer ---------------------------------------------------------
    def _answer(self, frames: Frames, prompt: str, draw: int) -> dict[str, Any]:
        import torch

        lmm = self.lmm()
        bb = lmm.backbone
        proc = bb.processor
        text = proc.apply_chat_template(
            [{"role": "user", "content": [{"type": "video"},
                                          {"type": "text", "text": vs2_query(prompt)}]}],
            tokenize=False, add_generation_prompt=True)
        if isinstance(text, list):
            text = text[0]
        with self.timed("preprocess"):
            inputs = released_inputs(proc, frames, [text], float(self.options["infer_fps"]))
        inputs = lmm._cast(inputs.to(bb.device))
        kw: dict[str, Any] = {"max_new_tokens": int(self.options["max_new_tokens"]),
                              "output_scores": True, "return_dict_in_generate": True}
        if self.options["decoding"] == "sample":
            kw.update(do_sample=True, temperature=float(self.options["temperature"]))
        else:
            kw.update(do_sample=False, temperature=None, top_p=None, top_k=None)
        with bb.lock, torch.inference_mode():
            if self.options["decoding"] == "sample":
                torch.manual_seed(int(self.options["seed"]) + draw)
            out = bb.model.generate(**inputs, **kw)
        n_in = inputs["input_ids"].shape[1]
        gen = out.sequences[0, n_in:].tolist()
        answer = proc.batch_decode(out.sequences[:, n_in:], skip_special_tokens=True,
                                   clean_up_tokenization_spaces=False)[0]
        rec: dict[str, Any] = {"text": answer, "draw": draw}
        ints = parse_vs2(answer)
        if ints is not None:
            rec["ints"] = ints
            probs = []
            for (_, label), hard in zip(VS2_AXES, ints):
                step = score_step(label, bb.tokenizer, gen)
                probs.append(None if step < 0 else
                             normed_digit_score(out.scores[step][0], bb.tokenizer))
            rec["probs"] = probs
        return rec

    def explain(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, Any]]:
        """Per item: the answers (``answers``: text, integers, weighted scores per draw)."""
        k = int(self.options["samples"]) if self.options["decoding"] == "sample" else 1
        out = []
        for f, it in zip(frames, items):
            answers = [self._answer(f, it.prompt or "", j) for j in range(k)]
            out.append({"video": getattr(it, "video", None), "prompt": it.prompt,
                        "answers": answers})
        append_log(self.options["rationale_log"], out, self.options["model"])
        return out

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        recs = self.explain(frames, items)
        if len(recs) > 1 and any(self._fields(r) is None for r in recs):
            raise MetricError("an answer could not be read")  # rescored one by one
        res = []
        for r in recs:
            f = self._fields(r)
            if f is None:
                snippet = " ".join(r["answers"][0]["text"].split())[:160]
                raise MetricError(f"{self.name}: VideoScore2's score pattern is not in the answer "
                                  f"({len(r['answers'])} draw(s)): {snippet!r}")
            res.append(f)
        return res

    def _fields(self, rec: dict[str, Any]) -> dict[str, float] | None:
        raise NotImplementedError


@register_metric
class VideoScore2(_VS2Base):
    """VideoScore2's three integers, as its released inference reads them."""

    name = "videoscore2"
    version = "1"
    fields = tuple(ScoreField(f"vs2_{a}", 1.0, 5.0, True, f"VideoScore2 {label[:-1]}: the "
                              "integer written (mean over draws when sampled)")
                   for a, label in VS2_AXES)
    description = "VideoScore2 as released: prompt, qwen-vl-utils frames, integers 1-5 per axis."

    def _fields(self, rec):
        got = [a["ints"] for a in rec["answers"] if "ints" in a]
        if not got:
            return None
        mean = np.mean(np.asarray(got, dtype=np.float64), axis=0)
        return {f"vs2_{a}": float(v) for (a, _), v in zip(VS2_AXES, mean)}


@register_metric
class VideoScore2Prob(_VS2Base):
    """VideoScore2's released probability-weighted number (argmax digit x its normalised p)."""

    name = "videoscore2_prob"
    version = "1"
    fields = tuple(ScoreField(f"vs2_{a}_prob", 0.0, 5.0, True,
                              f"VideoScore2 {label[:-1]}: argmax digit x max p / sum p over 1-5 "
                              "at the score token (released rule)")
                   for a, label in VS2_AXES)
    description = ("VideoScore2's probability-weighted scores as its released script computes "
                   "them (argmax digit x its renormalised probability).")

    def _fields(self, rec):
        got = [a["probs"] for a in rec["answers"] if "probs" in a and None not in a["probs"]]
        if not got:
            return None
        mean = np.mean(np.asarray(got, dtype=np.float64), axis=0)
        return {f"vs2_{a}_prob": float(v) for (a, _), v in zip(VS2_AXES, mean)}


# --- VideoScore v1 / v1.1: Idefics2 + a five-way regression head --------------

# The query of VideoScore's examples/run_videoscore.py (its regression prompt), verbatim.
VS1_TEMPLATE = (
    "\nSuppose you are an expert in judging and evaluating the quality of AI-generated videos,\n"
    "please watch the following frames of a given video and see the text prompt for generating "
    "the video,\n"
    "then give scores from 5 different dimensions:\n"
    "(1) visual quality: the quality of the video in terms of clearness, resolution, brightness, "
    "and color\n"
    "(2) temporal consistency, both the consistency of objects or humans and the smoothness of "
    "motion or movements\n"
    "(3) dynamic degree, the degree of dynamic changes\n"
    "(4) text-to-video alignment, the alignment between the text prompt and the video content\n"
    "(5) factual consistency, the consistency of the video content with the common-sense and "
    "factual knowledge\n"
    "\n"
    "for each dimension, output a float number from 1.0 to 4.0,\n"
    "the higher the number is, the better the video performs in that sub-score, \n"
    "the lowest 1.0 means Bad, the highest 4.0 means Perfect/Real (the video is like a real "
    "video)\n"
    "Here is an output example:\n"
    "visual quality: 3.2\n"
    "temporal consistency: 2.7\n"
    "dynamic degree: 4.0\n"
    "text-to-video alignment: 2.3\n"
    "factual consistency: 1.8\n"
    "\n"
    "For this video, the text prompt is \"{text_prompt}\",\n"
    "all the frames of video are as follows:\n")

VS1_ASPECTS = ("visual_quality", "temporal_consistency", "dynamic_degree", "text_alignment",
               "factual_consistency")


def vs1_query(prompt: str, n_frames: int) -> str:
    """VideoScore's prompt for ``n_frames`` frames: the query, then one "<image> " per frame."""
    text = VS1_TEMPLATE.replace("{text_prompt}", prompt)
    missing = n_frames - text.count("<image>")
    return text + "<image> " * max(0, missing)


class VideoScoreHead:
    """Idefics2 (native transformers) + VideoScore's linear ``score`` head.

    The checkpoint layout is Mantis' ``Idefics2ForSequenceClassification``:
    ``model.*`` (an ``Idefics2Model``: vision tower, connector, Mistral text
    model) and ``score.weight``/``score.bias`` (hidden -> 5). Every key must
    be there and none other (strict). The head reads the last hidden state at
    the position before the first pad token (``(argmax(ids == pad) - 1) mod
    L``, the last token when there is none), with the pad id from the top
    level of ``config.json`` as Mantis reads it (``None``: the last token).
    """

    def __init__(self, folder: str, device: str, dtype) -> None:
        import json
        from pathlib import Path

        import torch
        from safetensors.torch import load_file
        from transformers import AutoProcessor, Idefics2Config, Idefics2Model

        p = Path(folder)
        raw = json.loads((p / "config.json").read_text(encoding="utf-8"))
        if raw.get("model_type") != "idefics2":
            raise MetricError(f"{folder}: a {raw.get('model_type') or 'unknown'} checkpoint, not "
                              "VideoScore's (Idefics2 + score head; e.g. "
                              "TIGER-Lab/VideoScore-v1.1)")
        cfg = Idefics2Config.from_dict(raw)
        self.pad_id = raw.get("pad_token_id")
        files = sorted(p.glob("*.safetensors"))
        if not files:
            raise MetricError(f"{folder}: no .safetensors weights; videoscore loads safetensors "
                              "only (convert with save_pretrained(safe_serialization=True))")
        state: dict[str, Any] = {}
        for f in files:
            state.update(load_file(str(f)))
        with torch.device("meta"):
            probe = Idefics2Model(cfg)
        want = {"model." + k for k in probe.state_dict()} | {"score.weight", "score.bias"}
        missing, extra = sorted(want - set(state)), sorted(set(state) - want)
        if missing or extra:
            raise MetricError(f"{folder}: not a VideoScore checkpoint (Idefics2 + score head): "
                              f"{len(missing)} missing key(s) {missing[:3]}, {len(extra)} "
                              f"unexpected {extra[:3]}")
        n_out, hidden = state["score.weight"].shape
        if n_out != len(VS1_ASPECTS):
            raise MetricError(f"{folder}: the score head has {n_out} outputs, VideoScore has 5")
        model = Idefics2Model(cfg)
        model.load_state_dict({k[6:]: v for k, v in state.items() if k.startswith("model.")},
                              strict=True)
        head = torch.nn.Linear(hidden, n_out)
        head.load_state_dict({"weight": state["score.weight"], "bias": state["score.bias"]},
                             strict=True)
        self.model = model.to(device=device, dtype=dtype).eval()
        self.head = head.to(device=device, dtype=dtype).eval()
        self.processor = AutoProcessor.from_pretrained(folder)
        self.device, self.dtype = device, dtype

    def __call__(self, frames: Frames, prompt: str) -> list[float]:
        import torch
        from PIL import Image

        images = [Image.fromarray(np.ascontiguousarray(f)) for f in frames.array]
        inputs = self.processor(text=vs1_query(prompt, len(images)), images=images,
                                return_tensors="pt")
        inputs = {k: (v.to(self.device, self.dtype) if v.is_floating_point() else
                      v.to(self.device)) for k, v in inputs.items()}
        with torch.inference_mode():
            hidden = self.model(**inputs, use_cache=False).last_hidden_state
            logits = self.head(hidden)
            ids = inputs["input_ids"]
            if self.pad_id is None:
                pos = torch.full((ids.shape[0],), ids.shape[1] - 1, device=ids.device)
            else:
                pos = (torch.eq(ids, int(self.pad_id)).int().argmax(-1) - 1) % ids.shape[-1]
            out = logits[torch.arange(ids.shape[0], device=ids.device), pos]
        return [float(v) for v in out[0].float().cpu()]


@register_metric
class VideoScore(ModelMetric):
    """VideoScore v1 / v1.1: five regression scores from Idefics2 + a linear head."""

    name = "videoscore"
    version = "1"
    needs_prompt = True
    fields = tuple(ScoreField(f"vs1_{a}", None, None, True,
                              f"VideoScore {a.replace('_', ' ')} (regression, trained on 1-4)")
                   for a in VS1_ASPECTS)
    description = ("VideoScore v1/v1.1 (Idefics2 + regression head): visual quality, temporal "
                   "consistency, dynamic degree, text alignment, factual consistency.")
    reference = "VideoScore (He et al., EMNLP 2024), examples/run_videoscore.py"
    default_options = {**COMMON_OPTIONS, "model": "TIGER-Lab/VideoScore-v1.1", "max_frames": 0,
                       "batch_size": 1}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for k in ("frames", "fps", "max_pixels", "sampling"):
            if self.options[k]:
                raise MetricError(f"videoscore: {k}= is not taken; frames are VideoScore's "
                                  "(max_frames=: 16 for VideoScore, 48 for v1.1)")
        if int(self.options["max_frames"]) < 0:
            raise MetricError("videoscore: max_frames must be >= 0 (0: the checkpoint's)")
        self._head = None

    def n_frames(self) -> int:
        """16 for TIGER-Lab/VideoScore (v1), else 48 (v1.1), unless max_frames= says."""
        if int(self.options["max_frames"]):
            return int(self.options["max_frames"])
        return 16 if str(self.options["model"]).rstrip("/").endswith("/VideoScore") else 48

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.float_stride(self.n_frames())

    def head(self) -> VideoScoreHead:
        if self._head is None:
            from ...models.loading import select_device, select_dtype

            from pathlib import Path

            ck = self.checkpoint
            folder = ck.source
            if not Path(folder).is_dir():
                from huggingface_hub import snapshot_download

                folder = snapshot_download(ck.source, revision=ck.revision,
                                           allow_patterns=["*.json", "*.safetensors",
                                                           "*.model", "*.txt", "*.jinja"])
            dev = select_device(self.options["device"] or None)
            dt = select_dtype(self.options["dtype"] or None, dev, "bfloat16")
            self._head = VideoScoreHead(folder, dev, dt)
        return self._head

    def load(self) -> None:
        self.head()

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        out = []
        for f, it in zip(frames, items):
            vals = self.head()(f, it.prompt or "")
            out.append({f"vs1_{a}": v for a, v in zip(VS1_ASPECTS, vals)})
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_head"] = None
        return state


"""Asking a video chat model questions: prompts in, next-token probabilities or text out.

:class:`VideoLMM` wraps a loaded chat backbone (Qwen2-VL, Qwen2.5-VL, Qwen3-VL,
InternVL3-hf, LLaVA-OneVision, LLaVA-NeXT-Video, Video-LLaVA, VideoLLaMA3, or
any image-text-to-text model whose processor takes videos; image-only models
such as LLaVA-NeXT and Llama 3.2 Vision get the sampled frames as that many
images) and does the two things the metrics need:

* :meth:`VideoLMM.next_token_logprobs`: one forward pass over the chat
  prompt (the video, the question, the assistant turn opened and optionally
  started with a fixed prefix) and the log-probabilities of the next token
  over the whole vocabulary (VQAScore, level judges, QA);
* :meth:`VideoLMM.generate`: greedy decoding of an answer (rationale judge,
  QA in generate mode), recording at every step whose chosen token is a
  digit 1-5 the distribution over those five digits, so an integer score can
  be turned into a probability-weighted one.

Batches are real batches: items with the same visual shape are stacked and
run together, sorted by prompt length, with the text padded on the left so
every row's last position is its own last token. The chat template and the
video placeholder expansion are the checkpoint's own (its processor's), so
each family sees the layout it was trained with.
"""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, ContextManager, Sequence, TypeVar

import numpy as np

from ..errors import MetricError
from ..video import Frames
from .loading import Backbone

T = TypeVar("T")
Timer = Callable[[str], ContextManager[None]]


def _no_timer(stage: str) -> ContextManager[None]:
    return contextlib.nullcontext()


@dataclass
class Generation:
    """One greedy answer: its text, tokens, where each token starts in the text,
    and for steps that chose a digit 1-5 the log-probabilities of the five digits."""

    text: str
    token_ids: list[int]
    offsets: list[int]
    digit_logprobs: dict[int, np.ndarray] = field(default_factory=dict)

    def step_at(self, char_pos: int) -> int | None:
        """Index of the generated token covering character ``char_pos`` of :attr:`text`."""
        step = None
        for i, off in enumerate(self.offsets):
            if off <= char_pos:
                step = i
            else:
                break
        return step


def plan_batches(keys: Sequence[Any], lengths: Sequence[int], batch_size: int
                 ) -> list[list[int]]:
    """Split item indices into batches: same ``key`` (visual shape) together,
    sorted by ``lengths`` inside a key, at most ``batch_size`` each.

    Sorting by length keeps left padding short; grouping by shape is needed
    by processors that stack frames into one tensor (InternVL, LLaVA).
    """
    groups: dict[Any, list[int]] = {}
    for i, k in enumerate(keys):
        groups.setdefault(k, []).append(i)
    out: list[list[int]] = []
    bs = max(1, int(batch_size))
    for k in groups:
        idx = sorted(groups[k], key=lambda i: (lengths[i], i))
        out.extend(idx[j:j + bs] for j in range(0, len(idx), bs))
    return out


def run_batched(keys: Sequence[Any], lengths: Sequence[int], batch_size: int,
                fn: Callable[[list[int]], list[T]]) -> list[T]:
    """Call ``fn`` on each batch of :func:`plan_batches` and return results in input order."""
    results: list[Any] = [None] * len(keys)
    for batch in plan_batches(keys, lengths, batch_size):
        for i, r in zip(batch, fn(batch)):
            results[i] = r
    return results


class VideoLMM:
    """A chat backbone that reads a video and a question.

    One instance per backbone is enough; it holds small caches (token ids of
    answer words) and no per-item state.
    """

    def __init__(self, backbone: Backbone) -> None:
        if backbone.checkpoint.kind != "lmm":
            raise MetricError(f"model {backbone.checkpoint.name} is a "
                              f"{backbone.checkpoint.family} model, not a video chat model; "
                              "this metric needs one such as qwen2.5-vl-7b or internvl3-8b")
        self.backbone = backbone
        self.processor = backbone.processor
        self.tokenizer = backbone.tokenizer
        self._ids: dict[tuple[str, str], int] = {}
        self._digit_ids: dict[int, list[int]] | None = None
        vp = getattr(self.processor, "video_processor", None)
        # Image-only chat models (Llama 3.2 Vision): the sampled frames go in as that
        # many images, in order, before the question.
        self.frames_as_images = vp is None
        self.image_token: str | None = None
        if vp is None:
            token = getattr(self.processor, "image_token", None)
            if getattr(self.processor, "image_processor", None) is None or not token:
                raise MetricError(f"the processor of {backbone.checkpoint.name} takes neither "
                                  "videos (no video_processor) nor images; use a checkpoint "
                                  "whose processor does")
            self.image_token = str(token)
        # Processor keywords for videos (public: training encodes the same way).
        self.video_kwargs: dict[str, Any] = {"do_sample_frames": False}
        # Qwen's processors can bound each frame's pixels the way the
        # reference qwen-vl-utils does; ask for it when the checkpoint's
        # config leaves it unset, so long videos do not explode in tokens.
        if vp is not None and hasattr(vp, "cap_pixels_per_frame") and vp.cap_pixels_per_frame is None:
            self.video_kwargs["cap_pixels_per_frame"] = True

    # --- prompts ------------------------------------------------------------
    def render(self, question: str, prefix: str = "", system: str | None = None) -> str:
        """The full prompt text: the checkpoint's chat template around one video and
        ``question``, the assistant turn opened, then ``prefix`` (may be empty)."""
        messages: list[dict[str, Any]] = []
        if system:
            messages.append({"role": "system", "content": [{"type": "text", "text": system}]})
        # With frames as images the one image placeholder stands for all frames; encode
        # repeats it once per frame (the count is known only then).
        visual = {"type": "image" if self.frames_as_images else "video"}
        messages.append({"role": "user", "content": [visual,
                                                     {"type": "text", "text": question}]})
        try:
            text = self.processor.apply_chat_template(messages, tokenize=False,
                                                      add_generation_prompt=True)
        except Exception as exc:  # noqa: BLE001 - template errors come in many types
            raise MetricError(f"the chat template of {self.backbone.checkpoint.name} failed "
                              f"({exc.__class__.__name__}: {exc})") from None
        if isinstance(text, list):
            text = text[0]
        return text + prefix

    def continuation_id(self, prompt: str, word: str) -> int:
        """Token id that starts ``word`` when the model continues ``prompt``.

        BPE vocabularies spell a word differently after a space, a newline or
        at the start of a turn ("Yes" vs " Yes"), so the id is read from how
        the tokenizer splits ``prompt + word``, not from ``word`` alone. When
        ``word`` is several tokens, its first token stands for it.
        """
        key = (prompt[-200:], word)
        hit = self._ids.get(key)
        if hit is not None:
            return hit
        tok = self.tokenizer
        base = tok(prompt, add_special_tokens=False)["input_ids"]
        full = tok(prompt + word, add_special_tokens=False)["input_ids"]
        if full[:len(base)] == base and len(full) > len(base):
            tid = int(full[len(base)])
        else:  # the word merged with the prompt's last token: fall back to the bare word
            alone = tok(word, add_special_tokens=False)["input_ids"]
            if not alone:
                raise MetricError(f"the tokenizer of {self.backbone.checkpoint.name} cannot "
                                  f"encode {word!r}")
            tid = int(alone[0])
        self._ids[key] = tid
        return tid

    # --- inputs -------------------------------------------------------------
    @staticmethod
    def metadata(frames: Frames):
        """transformers' ``VideoMetadata`` for sampled frames (fps, size, indices)."""
        from transformers.video_utils import VideoMetadata

        info = frames.info
        fps = float(info.fps) if info.fps and info.fps > 0 else 1.0
        total = max(int(info.frame_count), int(frames.indices.max()) + 1 if len(frames) else 1)
        return VideoMetadata(total_num_frames=total, fps=fps, width=frames.array.shape[2],
                             height=frames.array.shape[1], duration=total / fps,
                             frames_indices=[int(i) for i in frames.indices])

    def encode(self, frames: Sequence[Frames], texts: Sequence[str]):
        """Processor output for a batch (tensors on the model's device)."""
        if self.frames_as_images:
            return self._encode_images(frames, texts)
        videos = [np.ascontiguousarray(f.array) for f in frames]
        meta = [self.metadata(f) for f in frames]
        try:
            inputs = self.processor(text=list(texts), videos=videos, video_metadata=meta,
                                    padding=True, return_tensors="pt", **self.video_kwargs)
        except TypeError:
            # Processors without metadata support (remote-code ones) take plain frames.
            inputs = self.processor(text=list(texts), videos=videos, padding=True,
                                    return_tensors="pt")
        return inputs.to(self.backbone.device)

    def _encode_images(self, frames: Sequence[Frames], texts: Sequence[str]):
        """Processor output for an image-only model: each item's frames as its images."""
        token = self.image_token or ""
        expanded = []
        for f, t in zip(frames, texts):
            if t.count(token) != 1:
                raise MetricError(f"the prompt for {self.backbone.checkpoint.name} must hold its "
                                  f"image placeholder {token!r} once (found {t.count(token)})")
            expanded.append(t.replace(token, token * len(f), 1))
        images = [[np.ascontiguousarray(a) for a in f.array] for f in frames]
        inputs = self.processor(text=expanded, images=images, padding=True, return_tensors="pt")
        return inputs.to(self.backbone.device)

    def _cast(self, inputs):
        """Pixel tensors in the model's dtype; ids, grids and timings left as they are
        (Qwen's seconds-per-grid would lose precision in bf16)."""
        torch = _torch()
        out = {}
        for k, v in inputs.items():
            if isinstance(v, torch.Tensor) and v.is_floating_point() and k.startswith("pixel"):
                v = v.to(self.backbone.dtype)
            out[k] = v
        return out

    # --- reading the next token ---------------------------------------------
    def next_token_logprobs(self, frames: Sequence[Frames], texts: Sequence[str],
                            batch_size: int = 1, timer: Timer | None = None
                            ) -> list[np.ndarray]:
        """Log-softmax over the vocabulary of the token after each prompt (float32 arrays).

        ``texts`` are full prompts from :meth:`render`. Items are batched as
        :func:`plan_batches` says; the result is in input order. ``timer``
        (a metric's ``timed``) gets the processor's time as "preprocess".
        """
        timer = timer or _no_timer
        torch = _torch()
        keys = [f.array.shape for f in frames]
        lengths = [len(t) for t in texts]

        def run(batch: list[int]) -> list[np.ndarray]:
            with timer("preprocess"):
                inputs = self.encode([frames[i] for i in batch], [texts[i] for i in batch])
            with self.backbone.lock, torch.inference_mode():
                try:  # only the last position's logits: a vocabulary-wide row per item
                    out = self.backbone.model(**self._cast(inputs), logits_to_keep=1,
                                              use_cache=False)
                except TypeError:  # remote-code models without logits_to_keep
                    out = self.backbone.model(**self._cast(inputs), use_cache=False)
            last = out.logits[:, -1, :].float()
            return list(torch.log_softmax(last, dim=-1).cpu().numpy())

        return run_batched(keys, lengths, batch_size, run)

    def next_token_logprobs_grad(self, clips: Sequence[Any], frames: Sequence[Frames],
                                 texts: Sequence[str]):
        """Log-softmax of the next token, (B, V), with gradients to the pixels.

        ``clips``: float (T, 3, H, W) tensors in [0, 1], already sampled and sized
        as the metric's frame policy says; ``frames``: the same frames rounded to
        uint8 (with their indices and fps), from which the processor lays out the
        tokens. The pixel tensor the processor makes from them is replaced by
        one computed in torch from ``clips`` (:func:`~videojury.models.pixels.
        video_pixels`), checked against it. The reward path of VQAScore and the
        level judges.
        """
        from .pixels import model_dtype, video_pixels

        torch = _torch()
        if self.frames_as_images:
            raise MetricError(f"{self.backbone.checkpoint.name} reads frames as images; the "
                              "reward (gradient) path needs a model whose processor takes "
                              "videos")
        vp = self.processor.video_processor
        dtype = model_dtype(self.backbone.model)
        keys = [f.array.shape for f in frames]
        lengths = [len(t) for t in texts]

        def run(batch: list[int]) -> list[Any]:
            inputs = self.encode([frames[i] for i in batch], [texts[i] for i in batch])
            key = "pixel_values_videos" if "pixel_values_videos" in inputs else "pixel_values"
            px = video_pixels([clips[i] * 255.0 for i in batch], vp, inputs, key,
                              self.video_kwargs)
            feed = dict(inputs)
            feed[key] = px.to(self.backbone.device, dtype)
            with self.backbone.lock, torch.enable_grad():
                try:
                    out = self.backbone.model(**feed, logits_to_keep=1, use_cache=False)
                except TypeError:
                    out = self.backbone.model(**feed, use_cache=False)
            return list(torch.log_softmax(out.logits[:, -1, :], dim=-1).unbind(0))

        return torch.stack(run_batched(keys, lengths, len(frames), run))

    # --- generating ---------------------------------------------------------
    def digit_ids(self) -> dict[int, list[int]]:
        """Token ids that spell each digit 1-5 on their own (with or without a leading space)."""
        if self._digit_ids is None:
            out: dict[int, list[int]] = {}
            for k in range(1, 6):
                ids: set[int] = set()
                for spelling in (str(k), " " + str(k)):
                    enc = self.tokenizer(spelling, add_special_tokens=False)["input_ids"]
                    if len(enc) == 1:
                        ids.add(int(enc[0]))
                if not ids:
                    raise MetricError(f"the tokenizer of {self.backbone.checkpoint.name} has no "
                                      f"single token for the digit {k}")
                out[k] = sorted(ids)
            self._digit_ids = out
        return self._digit_ids

    def generate(self, frames: Sequence[Frames], texts: Sequence[str], max_new_tokens: int = 256,
                 batch_size: int = 1, timer: Timer | None = None) -> list[Generation]:
        """Greedy answers to each prompt, with digit distributions at digit steps."""
        timer = timer or _no_timer
        torch = _torch()
        from transformers import LogitsProcessor, LogitsProcessorList

        digits = self.digit_ids()
        all_ids = sorted({i for ids in digits.values() for i in ids})
        digit_of = {i: k for k, ids in digits.items() for i in ids}
        tok = self.tokenizer
        eos_ids = _eos_ids(self.backbone)
        keys = [f.array.shape for f in frames]
        lengths = [len(t) for t in texts]

        class _Record(LogitsProcessor):
            """Keeps, at steps whose greedy pick is a digit 1-5, log P of each digit."""

            def __init__(self) -> None:
                self.steps: list[dict[int, np.ndarray]] = []

            def __call__(self, input_ids, scores):
                logp = torch.log_softmax(scores.float(), dim=-1)
                pick = scores.argmax(dim=-1).tolist()
                rec: dict[int, np.ndarray] = {}
                for row, t in enumerate(pick):
                    if t in digit_of:
                        sub = logp[row, all_ids].cpu().numpy()
                        vec = np.full(5, -np.inf)
                        for j, tid in enumerate(all_ids):
                            d = digit_of[tid] - 1
                            vec[d] = np.logaddexp(vec[d], sub[j])
                        rec[row] = vec
                self.steps.append(rec)
                return scores

        def run(batch: list[int]) -> list[Generation]:
            with timer("preprocess"):
                inputs = self.encode([frames[i] for i in batch], [texts[i] for i in batch])
            rec = _Record()
            with self.backbone.lock, torch.inference_mode():
                seq = self.backbone.model.generate(
                    **self._cast(inputs), max_new_tokens=int(max_new_tokens), do_sample=False,
                    num_beams=1, repetition_penalty=1.0, temperature=None, top_p=None,
                    top_k=None, logits_processor=LogitsProcessorList([rec]),
                    pad_token_id=tok.pad_token_id, eos_token_id=eos_ids or None)
            new = seq[:, inputs["input_ids"].shape[1]:].tolist()
            out = []
            for row, ids in enumerate(new):
                kept: list[int] = []
                for t in ids:
                    if t in eos_ids or t == tok.pad_token_id:
                        break
                    kept.append(int(t))
                offsets = [len(tok.decode(kept[:i], skip_special_tokens=True))
                           for i in range(len(kept))]
                text = tok.decode(kept, skip_special_tokens=True)
                dl = {s: r[row] for s, r in enumerate(rec.steps[:len(kept)]) if row in r}
                out.append(Generation(text, kept, offsets, dl))
            return out

        return run_batched(keys, lengths, batch_size, run)


def _eos_ids(backbone: Backbone) -> list[int]:
    ids: set[int] = set()
    gc = getattr(backbone.model, "generation_config", None)
    for src in (getattr(gc, "eos_token_id", None), backbone.tokenizer.eos_token_id):
        if src is None:
            continue
        ids.update([int(src)] if isinstance(src, int) else [int(s) for s in src])
    return sorted(ids)


def expected_digit(logprobs5: np.ndarray) -> float:
    """Probability-weighted score from log-probabilities of the digits 1..5, renormalised
    over those five digits: sum_k k * p(k) / sum_k p(k)."""
    lp = np.asarray(logprobs5, dtype=np.float64)
    m = np.max(lp)
    if not math.isfinite(m):
        raise MetricError("no probability on any digit 1-5 at the score position")
    p = np.exp(lp - m)
    p /= p.sum()
    return float((np.arange(1, 6) * p).sum())


def _torch():
    import torch

    return torch

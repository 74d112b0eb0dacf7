"""LOVE's released evaluators: ``love_perception``, ``love_correspondence``, ``love_qa``.

The three checkpoints of IntMeGroup/LOVE (``anonymousdb/LOVE-Perception``,
``-Correspondence``, ``-QA``), loaded from their folders into native
transformers classes plus own-code temporal branch and heads
(:mod:`videojury.models.love`), and run as LOVE's inference scripts run them:

* frames: the 8 of LOVE's ``get_index`` rule
  (:func:`videojury.video.sampling.love_indices`), each resized by PIL to
  448x448 (bicubic) and ImageNet-normalised; and FAST-VQA's test-time
  fragments of 4 clips x 32 frames (``SampleFrames(32, num_clips=4)``, 7x7
  patches of 32 px, the offsets drawn from a generator seeded with ``seed``)
  for the Swin3D motion branch;
* prompt: InternLM2-chat with InternVL's system message, ``Frame1..8``,
  ``Motion Feature`` (four one-token slots for the motion features) and the
  aspect's question and fixed answer (``train/infer_perception.py``,
  ``infer_correspondence.py``);
* score: ``mlpscore`` on the last hidden state (after the final norm) at
  position -4; LOVE trains it on MOS / 100, so it reads as 0..1 (x100 for
  AIGVE-60K's MOS scale);
* QA (``train/eval_qa.py``): LOVE decodes the argmax tokens of a forward pass
  with the data's answer teacher-forced and reads ``'yes' in text`` first,
  then ``'no'``. Without a reference answer, videojury reads the argmax at the
  first answer position (it does not depend on the answer that follows) with
  the same rule: ``love_qa_yes``; ``love_qa_p_yes_norm`` is P(yes) / (P(yes) +
  P(no)) over the Yes/yes and No/no tokens at that position (videojury's).

Parity with LOVE's own code on seeded random weights in LOVE's layout:
``benchmarks/parity/love/``, ``tests/test_love.py``, ``docs/models.md``.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import Metric, ScoreField, register_metric

HUB = {"perception": "anonymousdb/LOVE-Perception",
       "correspondence": "anonymousdb/LOVE-Correspondence",
       "qa": "anonymousdb/LOVE-QA"}
_MODELS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


class _LoveMetric(Metric):
    extra = "models"
    aspect: ClassVar[str] = ""
    runtime_options = frozenset({"device", "batch_size"})
    resolved_options = frozenset({"dtype"})
    option_ranges = {"seed": ">= 0"}
    batch_size = 1

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._folder: Path | None = None

    # --- where the weights are -----------------------------------------------
    def source(self) -> str:
        return str(self.options["model"] or HUB[self.aspect])

    def folder(self) -> Path:
        if self._folder is None:
            import os

            src = self.source()
            p = Path(os.path.expanduser(src))
            if p.is_dir():
                self._folder = p
            elif src.startswith((".", "/", "~")) or os.sep in src.strip("/").replace("/", "", 1):
                raise MetricError(f"{self.name}: model folder {src} does not exist")
            else:
                try:
                    from huggingface_hub import snapshot_download

                    self._folder = Path(snapshot_download(src, local_files_only=True))
                except Exception:  # noqa: BLE001 - not in the local cache
                    raise MetricError(
                        f"{self.name}: {src} is not in the local Hugging Face cache; download it "
                        f"(hf download {src}) or pass model=FOLDER") from None
        return self._folder

    def identity(self, hash_file) -> dict[str, str]:
        import hashlib

        from ...models.loading import select_device, select_dtype

        folder = self.folder()
        h = hashlib.blake2b(digest_size=16)
        files = sorted(f for f in folder.rglob("*") if f.is_file() and not f.name.startswith(".")
                       and f.suffix in (".json", ".safetensors", ".bin", ".pth", ".model",
                                        ".py", ".txt"))
        if not files:
            raise MetricError(f"{self.name}: {folder} holds no model files")
        for f in files:
            h.update(f.relative_to(folder).as_posix().encode() + b"\0")
            h.update(str(hash_file(str(f))).encode() + b"\n")
        dev = select_device(self.options["device"] or None)
        dt = select_dtype(self.options["dtype"] or None, dev, "bfloat16")
        return {"device": dev.split(":", 1)[0], "dtype": str(dt).replace("torch.", ""),
                "model": "files:" + h.hexdigest()}

    # --- model ---------------------------------------------------------------
    def model(self):
        from ...models.love import load_love
        from ...models.loading import select_device, select_dtype

        folder = self.folder()
        dev = select_device(self.options["device"] or None)
        dt = select_dtype(self.options["dtype"] or None, dev, "bfloat16")
        trust = bool(self.options["trust_remote_code"])
        key = (str(folder.resolve()), dev, str(dt), trust)
        with _LOCK:
            if key not in _MODELS:
                _MODELS[key] = load_love(folder, dev, dt, trust)
            return _MODELS[key]

    def load(self) -> None:
        self.model()

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.all(stream=True)

    # --- inputs --------------------------------------------------------------
    def inputs(self, frames: Frames, image_size: int):
        """(pixels (8, 3, S, S), clips (4, 3, 32, 224, 224)) of one video."""
        import torch

        from ...models.love import frame_pixels
        from ...models.vqa import views as V
        from ...video.sampling import love_indices

        n = int(frames.info.frame_count)
        if n < 1:
            raise MetricError(f"{frames.info.path}: no frames")
        h, w = int(frames.info.height), int(frames.info.width)
        gen = torch.Generator().manual_seed(int(self.options["seed"]))
        clip_idx = V.test_clip_indices(n, 32, 4)
        plan = V.fragment_plan(h, w, len(clip_idx), 32, gen)

        def build(name, pos, t):
            if name == "clip":
                return V.fragment_frame(t, plan, pos)
            return frame_pixels(t.permute(1, 2, 0).numpy(), image_size)

        got = V.gather(frames, {"clip": clip_idx, "f8": love_indices(n, 8)}, build)
        clips = V.normalize(torch.stack(got["clip"], 1)).reshape(3, 4, 32, 224, 224)
        return torch.stack(got["f8"]), clips.transpose(0, 1)

    def question(self, item: Any) -> tuple[str, str]:
        from ...models.love import PROMPTS

        q, a = PROMPTS[self.aspect]
        return q, a

    def run(self, frames: Frames, item: Any) -> dict[str, Any]:
        from ...models.love import build_text, forward

        m = self.model()
        with self.timed("preprocess"):
            pixels, clips = self.inputs(frames, m.cfg.image_size)
        q, a = self.question(item)
        return forward(m, pixels, clips, build_text(q, a, m.cfg.num_image_token))

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        # the regression aspects: the head's output is the one field
        return {self.fields[0].name: self.run(frames, item)["score"]}

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        return [self.score(f, it) for f, it in zip(frames, items)]

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)


_COMMON = {"model": "", "device": "", "dtype": "", "seed": 0, "trust_remote_code": False,
           "batch_size": 1}


@register_metric
class LovePerception(_LoveMetric):
    """LOVE-Perception: perceptual quality regressed from InternVL3 + a motion branch."""

    name = "love_perception"
    version = "1"
    aspect = "perception"
    fields = (ScoreField("love_perception", None, None, True,
                         "LOVE-Perception's regression output (trained on MOS / 100)"),)
    description = "LOVE-Perception (released evaluator): perceptual quality of the video."
    reference = ("LOVE (IntMeGroup/LOVE, train/infer_perception.py; weights "
                 "anonymousdb/LOVE-Perception)")
    default_options = dict(_COMMON)


@register_metric
class LoveCorrespondence(_LoveMetric):
    """LOVE-Correspondence: text-video correspondence regressed from the prompt and video."""

    name = "love_correspondence"
    version = "1"
    aspect = "correspondence"
    needs_prompt = True
    fields = (ScoreField("love_correspondence", None, None, True,
                         "LOVE-Correspondence's regression output (trained on MOS / 100)"),)
    description = "LOVE-Correspondence (released evaluator): text-video correspondence."
    reference = ("LOVE (IntMeGroup/LOVE, train/infer_correspondence.py; weights "
                 "anonymousdb/LOVE-Correspondence)")
    default_options = dict(_COMMON)

    def question(self, item: Any) -> tuple[str, str]:
        from ...models.love import PROMPTS

        q, a = PROMPTS["correspondence"]
        return q.replace("{prompt}", (item.prompt or "").strip()), a


@register_metric
class LoveQA(_LoveMetric):
    """LOVE-QA: yes/no answer to the item's question."""

    name = "love_qa"
    version = "1"
    aspect = "qa"
    needs_question = True
    fields = (ScoreField("love_qa_yes", 0.0, 1.0, True,
                         "LOVE's answer rule on the first answer token: 1 = yes, 0 = no"),
              ScoreField("love_qa_p_yes_norm", 0.0, 1.0, True,
                         "P(Yes/yes) / (P(Yes/yes) + P(No/no)) at the first answer token"))
    description = "LOVE-QA (released evaluator): yes/no question answering about the video."
    reference = "LOVE (IntMeGroup/LOVE, train/eval_qa.py; weights anonymousdb/LOVE-QA)"
    default_options = dict(_COMMON)

    def question(self, item: Any) -> tuple[str, str]:
        from ...models.love import QA_ANSWER

        return (item.question or "").strip(), QA_ANSWER

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        import torch

        out = self.run(frames, item)
        tok = self.model().tokenizer
        logits = out["logits"]
        text = tok.decode([int(logits.argmax())]).lower()
        if "yes" in text:
            yes = 1.0
        elif "no" in text:
            yes = 0.0
        else:
            raise MetricError(f"love_qa: the answer token {text!r} is neither yes nor no")
        p = torch.softmax(logits.double(), -1)

        def mass(words):
            ids = set()
            for w in words:
                got = tok(w, add_special_tokens=False)["input_ids"]
                if len(got) == 1 and got[0] != tok.unk_token_id:
                    ids.add(int(got[0]))
            return float(sum(p[i] for i in ids))

        py, pn = mass(("Yes", "yes")), mass(("No", "no"))
        return {"love_qa_yes": yes,
                "love_qa_p_yes_norm": py / (py + pn) if py + pn > 0 else float("nan")}

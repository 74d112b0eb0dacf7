"""``trained:DIR``: score with an evaluator trained by ``videojury train`` or ``videojury fit``.

``DIR`` is either

* an LMM evaluator folder (``evaluator.json`` + safetensors): the fields are
  the evaluator's targets (``quality``, ``correspondence``, ...) as
  predicted MOS on each target's scale, plus ``qa_yes`` (P(Yes) for the
  item's question) with ``qa=true``. Options: ``device``, ``dtype``,
  ``batch_size``, ``qa``, ``trust_remote_code``. Frames: the evaluator's own
  (uniform, fixed size), so scores match training exactly;
* a fusion model folder (``fusion.json``): one field named after the model,
  computed from the input metrics' scores. The fusion metric declares its
  inputs (``input_metrics``, the exact specs it was fitted on); the planner
  adds them to the run, the executor scores them through the store like any
  metric (decoding each video once for all of them), and the fusion is then
  computed from their stored scores (``from_inputs``) without decoding.

The metric's name is ``trained:<folder name>`` and its version is a digest
of the folder's files, so a store never mixes scores of two different
trainings, and moving the folder does not invalidate results.

Nothing is imported from torch until a video is scored.

The family lives with the training code it loads and registers itself with
the metrics registry (``register_scheme``) when ``videojury`` is imported, as
a plug-in would: the metrics layer never imports ``train``.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Sequence

from ..errors import MetricError
from ..video import FramePolicy, Frames
from ..metrics.base import Metric, ScoreField, load_metric, register_scheme


def _digest(paths: Sequence[Path]) -> str:
    h = hashlib.sha256()
    for p in paths:
        h.update(p.name.encode())
        with open(p, "rb") as fh:
            for chunk in iter(lambda: fh.read(1 << 20), b""):
                h.update(chunk)
    return h.hexdigest()[:12]


def _rebuild(folder: str, options: dict[str, Any]) -> Metric:
    return trained_metric(folder, **options)


class TrainedEvaluatorMetric(Metric):
    """Base of the per-folder classes :func:`trained_metric` makes for LMM evaluators."""

    extra = "models"
    description = "LMM evaluator trained with videojury train (LoRA + regression heads)"
    reference = "LOVE (Wang et al., 2025) training recipe"
    default_options = {"device": "", "dtype": "", "batch_size": 4, "qa": False,
                       "trust_remote_code": False}
    runtime_options = frozenset({"device", "batch_size"})
    resolved_options = frozenset({"dtype"})  # keyed by its resolved value, see identity()
    folder: str = ""
    meta: dict[str, Any] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.batch_size = max(1, int(self.options["batch_size"]))
        self._evaluator = None

    def frame_policy(self) -> FramePolicy:
        from .data import frame_policy

        fr = self.meta["frames"]
        return frame_policy(int(fr["n"]), fr["size"])

    def identity(self, hash_file) -> dict[str, str]:
        """Device kind, resolved dtype and the base checkpoint's identity (the
        evaluator's own files are in :attr:`version`)."""
        from ..models.loading import run_identity
        from .evaluator import checkpoint_from_meta

        _, ident = run_identity(checkpoint_from_meta(self.meta), self.options["device"],
                                self.options["dtype"], hash_file)
        return ident

    def evaluator(self):
        """The loaded evaluator (on first use)."""
        if self._evaluator is None:
            from .evaluator import load_evaluator

            self._evaluator = load_evaluator(self.folder, self.options["device"],
                                             self.options["dtype"],
                                             bool(self.options["trust_remote_code"]))
        return self._evaluator

    def load(self) -> None:
        self.evaluator()

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        return self.score_batch([frames], [item])[0]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        ev = self.evaluator()
        with self.timed("model"):
            return ev.score(frames, items, batch_size=self.batch_size,
                            qa=bool(self.options["qa"]))

    def __reduce__(self):
        return _rebuild, (self.folder, dict(self.options))


class TrainedVQAMetric(Metric):
    """Base of the per-folder classes :func:`trained_metric` makes for fine-tuned VQA networks.

    The views are the base metric's own (``fast_vqa`` / ``faster_vqa`` /
    ``dover`` with the seed the network was trained with), so a video is
    scored on exactly the input it would have been trained on.
    """

    extra = "models"
    description = "deep VQA network fine-tuned on MOS with videojury train (vqa: section)"
    reference = "AIGV-Assessor's fine-tuned VQA baselines (Wang et al., 2025)"
    default_options = {"device": "", "batch_size": 4}
    runtime_options = frozenset({"device", "batch_size"})
    folder: str = ""
    meta: dict[str, Any] = {}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if int(self.options["batch_size"]) < 1:
            raise MetricError(f"metric {self.name}: batch_size must be >= 1")
        self._model = None
        self._base = load_metric(str(self.meta["vqa"]["model"]),
                                 seed=int(self.meta["vqa"].get("seed", 0)))

    def frame_policy(self) -> FramePolicy:
        return self._base.frame_policy()

    def device(self) -> str:
        from ..models.loading import select_device

        return select_device(self.options["device"] or None)

    def identity(self, hash_file) -> dict[str, str]:
        return {"device": self.device().split(":", 1)[0], "dtype": "float32"}

    def load(self) -> None:
        if self._model is None:
            from .vqa import load_vqa_evaluator

            self._model = load_vqa_evaluator(self.folder, self.meta, self.device())

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        return self.score_batch([frames], [item])[0]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        self.load()
        with self.timed("preprocess"):
            views = [self._base.views(f) for f in frames]
        keys = ("tech", "aes") if self._base.name == "dover" else ("clips",)
        if len(keys) == 1:
            views = [(v,) for v in views]
        t = self.meta["targets"][0]
        out: list[dict[str, float]] = []
        bs = int(self.options["batch_size"])
        with self.timed("model"), torch.no_grad():
            for start in range(0, len(views), bs):
                chunk = views[start:start + bs]
                inputs = {k: torch.stack([v[j] for v in chunk]).to(self.device())
                          for j, k in enumerate(keys)}
                preds = self._model(inputs)["preds"][:, 0].double().cpu().tolist()
                out += [{t["name"]: p * float(t["scale"])} for p in preds]
        return out

    def __reduce__(self):
        return _rebuild, (self.folder, dict(self.options))


class FusionMetric(Metric):
    """Base of the per-folder classes :func:`trained_metric` makes for fusion models."""

    description = "fusion of metric scores fitted to human MOS with videojury fit"
    reference = "videojury fit (ridge / gradient boosting, CV grouped by prompt)"
    default_options: dict[str, Any] = {}
    folder: str = ""

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        from .fusion import load_fusion

        self.fusion = load_fusion(self.folder)
        specs = list(dict.fromkeys(i.metric for i in self.fusion.inputs))
        unknown = [i.column for i in self.fusion.inputs if not i.metric]
        if unknown:
            raise MetricError(f"{self.folder}: input column(s) {unknown} have no known metric, "
                              "so the fusion model cannot compute them; refit with "
                              "--input COLUMN=METRIC, or apply it to a table of scores with "
                              "FusionModel.predict_frame")
        try:
            self.input_metrics = {s: load_metric(s) for s in specs}
        except MetricError as exc:
            raise MetricError(f"{self.folder}: an input metric cannot be loaded ({exc})") from None
        self.inputs = self.input_metrics  # older name
        for i in self.fusion.inputs:
            known = [f.name for f in self.inputs[i.metric].fields]
            if i.field not in known:
                raise MetricError(f"{self.folder}: input column {i.column!r} reads field "
                                  f"{i.field!r}, which metric {i.metric!r} does not produce "
                                  f"(its fields: {', '.join(known)}); refit the fusion model")
        self.needs_prompt = any(m.needs_prompt for m in self.inputs.values())
        self.needs_question = any(m.needs_question for m in self.inputs.values())
        pols = {m.frame_policy() for m in self.inputs.values()}
        # Frames are only used when the metric is called directly on frames
        # (outside a run), which needs one policy shared by every input.
        self._shared = pols.pop() if len(pols) == 1 else None

    def frame_policy(self) -> FramePolicy:
        return self._shared if self._shared is not None else FramePolicy.uniform(1)

    def from_inputs(self, scores: dict[str, dict[str, float]], item: Any) -> dict[str, float]:
        """The fused score from the input metrics' scores (``{spec: {field: value}}``)."""
        import numpy as np

        row = [float(scores[i.metric][i.field]) for i in self.fusion.inputs]
        pred = self.fusion.predict(np.asarray([row], dtype=np.float64))
        return {self.fusion.name: float(pred[0])}

    def identity(self, hash_file) -> dict[str, str]:
        """The identities of the input metrics that have one (model metrics)."""
        import json

        out = {}
        for spec, m in self.inputs.items():
            ident = m.identity(hash_file)
            if ident:
                out[spec] = json.dumps(ident, sort_keys=True, separators=(",", ":"))
        return out

    def text_for(self, item: Any) -> str:
        return "\x1f".join(m.text_for(item) for m in self.inputs.values())

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        return self.score_batch([frames], [item])[0]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        """Direct use on frames (a run computes fusions from stored scores instead)."""
        if self._shared is None:
            raise MetricError(f"{self.name}: its input metrics sample frames differently, so it "
                              "cannot score one set of frames; run it through videojury.score, "
                              "which scores the inputs through the store")
        per_metric: dict[str, list[dict[str, float]]] = {}
        for spec, m in self.inputs.items():
            m.load()
            per_metric[spec] = [m.check_scores(s) for s in m.score_batch(frames, items)]
        return [self.from_inputs({spec: per_metric[spec][k] for spec in per_metric}, it)
                for k, it in enumerate(items)]

    def __reduce__(self):
        return _rebuild, (self.folder, dict(self.options))


def trained_metric(folder: str, **options: Any) -> Metric:
    """The metric for an evaluator or fusion folder (the ``trained:`` scheme's factory)."""
    p = Path(folder).expanduser()
    if not p.is_dir():
        raise MetricError(f"trained:{folder}: no such folder (it should hold evaluator.json "
                          "from videojury train or fusion.json from videojury fit)")
    if (p / "evaluator.json").is_file():
        from .saving import read_meta

        meta = read_meta(p)
        files = [p / "evaluator.json"] + [p / n for n in sorted(meta["files"])]
        if meta.get("kind") == "vqa":
            t = meta["targets"][0]
            cls = type("TrainedVQA", (TrainedVQAMetric,), {
                "name": f"trained:{p.resolve().name}", "version": _digest(files),
                "fields": (ScoreField(t["name"], None, None, True,
                                      f"predicted MOS (0-{float(t['scale']):g}) of the "
                                      f"fine-tuned {meta['vqa']['model']}"),),
                "folder": str(p.resolve()), "meta": meta})
            return cls(**options)
        qa = str(options.get("qa", False)).strip().lower() in ("1", "true", "yes", "on")
        fields = [ScoreField(t["name"], None, None, True,
                             f"predicted MOS (0-{float(t['scale']):g})")
                  for t in meta["targets"]]
        if qa:
            fields.append(ScoreField("qa_yes", 0.0, 1.0, True,
                                     "P(Yes) to the item's question"))
        needs_prompt = any("{prompt}" in t["question"] for t in meta["targets"])
        cls = type("TrainedEvaluator", (TrainedEvaluatorMetric,), {
            "name": f"trained:{p.resolve().name}", "version": _digest(files),
            "fields": tuple(fields), "needs_prompt": needs_prompt, "needs_question": bool(qa),
            "folder": str(p.resolve()), "meta": meta})
        return cls(**options)
    if (p / "fusion.json").is_file():
        from .fusion import load_fusion

        fm = load_fusion(p)
        cls = type("TrainedFusion", (FusionMetric,), {
            "name": f"trained:{p.resolve().name}", "version": _digest([p / "fusion.json"]),
            "fields": (ScoreField(fm.name, None, None, True,
                                  f"{fm.kind} fusion of {len(fm.inputs)} metric fields, "
                                  "predicted MOS"),),
            "folder": str(p.resolve())})
        return cls(**options)
    raise MetricError(f"trained:{folder}: neither evaluator.json nor fusion.json in this folder")


register_scheme("trained", trained_metric)

__all__ = ["FusionMetric", "TrainedEvaluatorMetric", "TrainedVQAMetric", "trained_metric"]

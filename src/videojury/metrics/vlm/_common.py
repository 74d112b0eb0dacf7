"""What every model-backed metric shares: options, checkpoint, frames, lazy loading.

A :class:`ModelMetric` names its checkpoint with the ``model`` option and
loads it the first time it scores (never at import or construction, so
listing metrics and planning a run need neither torch nor the weights). Its
frame policy is the checkpoint's convention unless ``frames``, ``fps`` or
``max_pixels`` override it. ``batch_size`` sets how many items the executor
hands over per call; ``device`` and ``dtype`` pick where and how the model
runs (default: CUDA in bf16 when present, else CPU in fp32);
``trust_remote_code`` lets a checkpoint run code from its repository and is
off unless the user turns it on.
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, ClassVar, Sequence

from ...errors import MetricError
from ...models.remote import REMOTE_OPTIONS, REMOTE_RUNTIME, remote_name
from ...video import FramePolicy, Frames
from ..base import Metric

_LOG_LOCK = threading.Lock()


def load_fitting(model: Any, sd: dict, what: str, *, extra_position_ids: bool = False) -> None:
    """``model.load_state_dict(sd, strict=False)`` that refuses, with one message starting
    ``what``, any missing or unexpected tensor but the derived ``position_ids`` buffers
    (missing ones always; unexpected ones when ``extra_position_ids``)."""
    res = model.load_state_dict(sd, strict=False)
    missing = [k for k in res.missing_keys if not k.endswith("position_ids")]
    unexpected = [k for k in res.unexpected_keys
                  if not (extra_position_ids and k.endswith("position_ids"))]
    if missing or unexpected:
        raise MetricError(f"{what} (missing: {', '.join(missing[:5]) or 'none'}; "
                          f"unexpected: {', '.join(unexpected[:5]) or 'none'})")


def append_log(path: str, records: Sequence[dict[str, Any]], model: str) -> None:
    """Append one JSON line per record (plus the model's name) to ``path``.

    Used by the metrics that generate text (QA answers, rationales) so the
    text behind each score can be read later; a no-op for an empty path.
    """
    if not path:
        return
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with _LOG_LOCK, open(p, "a", encoding="utf-8") as fh:
        for r in records:
            fh.write(json.dumps({**r, "model": model}, ensure_ascii=False) + "\n")


# Options every model-backed metric takes, with their defaults.
COMMON_OPTIONS: dict[str, Any] = {
    "model": "",
    "processor": "",
    "device": "",
    "dtype": "",
    "batch_size": 4,
    "frames": 0,
    "fps": 0.0,
    "max_pixels": 0,
    "trust_remote_code": False,
    # "" (the checkpoint's convention), "uniform" (segment centres) or "love"
    # (LOVE's own rule, see videojury.video.sampling.love_indices).
    "sampling": "",
}
SAMPLINGS = ("", "uniform", "love")


class ModelMetric(Metric):
    """Base of the metrics that run a Hugging Face model (the ``[models]`` extra)."""

    extra = "models"
    min_frames: ClassVar[int] = 1
    # The device is runtime; the dtype is keyed by its resolved value (bf16 and
    # fp32 give different numbers, "" and "float32" on CPU the same), see identity().
    runtime_options = frozenset({"device", "batch_size"})
    resolved_options = frozenset({"dtype"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if not self.options.get("model"):
            raise MetricError(f"metric {self.name} needs model=...")
        if remote_name(self.options["model"]) is not None and \
                not set(REMOTE_OPTIONS) <= set(self.options):
            raise MetricError(f"metric {self.name} does not run on hosted models "
                              f"(model={self.options['model']}); vqascore, the level judges, "
                              "qa and rationale_judge do")
        self.batch_size = max(1, int(self.options["batch_size"]))
        if self.options["frames"] < 0 or self.options["fps"] < 0 or self.options["max_pixels"] < 0:
            raise MetricError(f"metric {self.name}: frames, fps and max_pixels must be >= 0")
        if self.options["frames"] and self.options["fps"]:
            raise MetricError(f"metric {self.name}: give frames= or fps=, not both")
        if self.options["sampling"] not in SAMPLINGS:
            raise MetricError(f"metric {self.name}: sampling={self.options['sampling']!r} is not "
                              "known; use sampling=uniform or sampling=love")
        if self.options["sampling"] and self.options["fps"]:
            raise MetricError(f"metric {self.name}: sampling={self.options['sampling']} picks a "
                              "fixed number of frames; give frames= (or nothing), not fps=")
        self._checkpoint = None
        self._backbone = None

    @property
    def checkpoint(self):
        """The resolved :class:`~videojury.models.Checkpoint` (no loading)."""
        if self._checkpoint is None:
            from ...models.checkpoints import resolve_checkpoint

            self._checkpoint = resolve_checkpoint(self.options["model"],
                                                  self.options["processor"] or None)
        return self._checkpoint

    def identity(self, hash_file) -> dict[str, str]:
        """Device kind, resolved dtype, weights and processor identity (no loading).

        The checkpoint is pinned to the hub commit it resolves to now, so the
        model loaded later is the one the store key names.
        """
        from ...models.loading import run_identity

        pinned, ident = run_identity(self.checkpoint, self.options["device"],
                                     self.options["dtype"], hash_file)
        if self.frame_policy().mode == "love":
            # LOVE's frame rule (a checkpoint's default since it exists) keys apart
            # from the segment-centre frames scored before it
            ident = {**ident, "sampling": "love"}
        if self._backbone is None:
            self._checkpoint = pinned
        return ident

    @property
    def options_key(self) -> str:
        # sampling="" (the checkpoint's convention) keys as before the option existed
        if self.options.get("sampling"):
            return super().options_key
        keyed = {k: v for k, v in self.options.items()
                 if k != "sampling" and k not in self.runtime_options
                 and k not in self.resolved_options}
        return json.dumps(keyed, sort_keys=True, separators=(",", ":"), default=str)

    def frame_policy(self) -> FramePolicy:
        pol = self.checkpoint.frames.policy(frames=self.options["frames"],
                                            fps=self.options["fps"],
                                            max_pixels=self.options["max_pixels"],
                                            min_frames=self.min_frames)
        want = self.options["sampling"]
        if want == "love" and pol.mode != "love":
            n = self.options["frames"] or (pol.n if pol.mode == "uniform" else 8)
            return FramePolicy.love(int(n), min_frames=self.min_frames, resize=pol.resize)
        if want == "uniform" and pol.mode == "love":
            return FramePolicy.uniform(int(pol.n), min_frames=self.min_frames, resize=pol.resize)
        return pol

    def backbone(self):
        """The loaded backbone (loaded on first use, shared process-wide)."""
        if self._backbone is None:
            from ...models.loading import load_backbone

            self._backbone = load_backbone(self.checkpoint, self.options["device"],
                                           self.options["dtype"],
                                           self.options["trust_remote_code"])
        return self._backbone

    def load(self) -> None:
        self.backbone()

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        return self.score_batch([frames], [item])[0]

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        raise NotImplementedError

    def reward(self, frames: Any, prompts: str | Sequence[str] | None = None, *,
               fps: float | None = None, field: str | None = None):
        """The metric's score as a differentiable function of the pixels: a (B,) tensor.

        ``frames``: float tensor (B, T, 3, H, W) with values in [0, 1] (or one
        clip (T, 3, H, W), or a list of clips of different sizes); ``prompts``:
        one per clip (a string for one clip; None for prompt-free metrics);
        ``fps``: the clips' frame rate (needed by metrics that sample by time,
        e.g. on Qwen-VL). ``field``: which field (default: the first). The
        frames are sampled, resized and normalised as the scored path does,
        in torch, so ``reward`` matches :meth:`score` on the same frames to
        rounding; see :mod:`videojury.metrics.vlm.reward`.
        """
        from .reward import run_reward

        return run_reward(self, frames, prompts, fps=fps, field=field)

    def __getstate__(self) -> dict[str, Any]:
        # Pickled metrics (other executors) carry options, not loaded models.
        state = dict(self.__dict__)
        state["_backbone"] = None
        state.pop("_videojury_loaded", None)  # the copy loads (and times) its own model
        return state


# The LMM metrics' options: the common ones plus those of hosted models
# (model=openai:NAME, see videojury.models.remote).
LMM_OPTIONS: dict[str, Any] = {**COMMON_OPTIONS, **REMOTE_OPTIONS}


class LMMMetric(ModelMetric):
    """A metric that asks a video chat model (VQAScore, level judges, rationale, QA).

    ``model=openai:NAME`` asks a hosted model through OpenAI-compatible chat
    completions instead of loading a checkpoint (:mod:`videojury.models.remote`).
    """

    runtime_options = ModelMetric.runtime_options | REMOTE_RUNTIME

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self._lmm = None
        self._client = None
        self.remote = remote_name(self.options["model"]) is not None
        from ...models import remote

        if self.remote:
            remote.check_options(self)
            # enough items per call to keep `concurrency` requests in flight
            self.batch_size = max(self.batch_size, int(self.options["concurrency"]))
        else:
            remote.check_local_options(self)

    @property
    def options_key(self) -> str:
        key = super().options_key
        if self.remote or not set(REMOTE_OPTIONS) & set(self.options):
            return key
        # a local checkpoint keys as before hosted models existed
        keyed = {k: v for k, v in json.loads(key).items() if k not in REMOTE_OPTIONS}
        return json.dumps(keyed, sort_keys=True, separators=(",", ":"))

    def identity(self, hash_file) -> dict[str, str]:
        if self.remote:  # no weights here: the model is what base_url serves under its name
            return {"backend": "openai-chat-completions"}
        return super().identity(hash_file)

    def frame_policy(self) -> FramePolicy:
        if not self.remote:
            return super().frame_policy()
        from ...models.remote import DEFAULT_FRAMES, DEFAULT_MAX_PIXELS
        from ...video import Resize

        o = self.options
        resize = Resize(max_pixels=int(o["max_pixels"] or DEFAULT_MAX_PIXELS))
        if o["fps"]:
            return FramePolicy.fps(o["fps"], max_frames=32, min_frames=self.min_frames,
                                   resize=resize)
        n = int(o["frames"] or DEFAULT_FRAMES)
        if o["sampling"] == "love":
            return FramePolicy.love(n, min_frames=self.min_frames, resize=resize)
        return FramePolicy.uniform(n, min_frames=self.min_frames, resize=resize)

    def backbone(self):
        if self.remote:
            raise MetricError(f"{self.name}: model={self.options['model']} is a hosted model; "
                              "it has no local weights (no reward(), no backbone)")
        return super().backbone()

    def client(self):
        """The :class:`~videojury.models.remote.ChatClient` of a hosted model."""
        if self._client is None:
            from ...models.remote import make_client

            self._client = make_client(self)
        return self._client

    def remote_counts(self) -> dict[str, int] | None:
        """Requests, retries and tokens so far (None: a local model, or none sent)."""
        return self._client.counts() if self._client is not None else None

    def lmm(self):
        """The :class:`~videojury.models.lmm.VideoLMM` over this metric's backbone."""
        if self._lmm is None:
            from ...models.lmm import VideoLMM

            self._lmm = VideoLMM(self.backbone())
        return self._lmm

    def load(self) -> None:
        if self.remote:
            self.client().resume()  # a client stopped in an earlier run may ask again
            return
        self.lmm()

    def __getstate__(self) -> dict[str, Any]:
        state = super().__getstate__()
        state["_lmm"] = None
        state["_client"] = None  # holds the API key: never pickled
        return state

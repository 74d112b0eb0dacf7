"""The metric interface and the registry.

A metric is a small class that declares what it needs and what it returns,
registered with :func:`register_metric`::

    @register_metric
    class Flicker(Metric):
        name = "flicker"
        version = "1"
        fields = (ScoreField("flicker", 0.0, 1.0, higher_is_better=True),)
        default_options = {"frames": 0}

        def frame_policy(self):
            return FramePolicy.all()

        def score(self, frames, item):
            return {"flicker": ...}

Options are keyword arguments with defaults declared in ``default_options``;
they are type-checked against the defaults and become part of the store key,
so a result can always be traced to the exact settings that produced it.
Third-party packages register metrics through the ``videojury.metrics``
entry-point group (each entry point names a :class:`Metric` subclass or a
module that registers some on import).
"""

from __future__ import annotations

import importlib
import json
import math
import pkgutil
import re
import time
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any, Callable, ClassVar, Iterator, Mapping, Sequence

from ..errors import MetricError
from ..io import ResultField  # noqa: F401 - re-exported
from ..video import FramePolicy, Frames


@dataclass(frozen=True)
class ScoreField:
    """One named output of a metric: its range and its direction."""

    name: str
    low: float | None
    high: float | None
    higher_is_better: bool
    description: str = ""

    @property
    def range_text(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"[{lo}, {hi}]"


# ResultField, the one type for a results-table column, lives one layer down in
# videojury.io (it travels with tables); re-exported here.


class Metric:
    """Base class of every metric.

    Subclasses set the class attributes and implement :meth:`frame_policy`
    and :meth:`score` (or :meth:`score_batch` for batched models). ``score``
    gets the sampled frames and the :class:`~videojury.data.Item` (prompt,
    question, ...) and returns ``{field name: float}``; raising any exception
    makes that item an error row, the run goes on.
    """

    name: ClassVar[str] = ""
    version: ClassVar[str] = "1"
    fields: ClassVar[tuple[ScoreField, ...]] = ()
    needs_prompt: ClassVar[bool] = False
    needs_question: ClassVar[bool] = False
    extra: ClassVar[str | None] = None  # optional-dependency group that provides it
    description: ClassVar[str] = ""
    reference: ClassVar[str] = ""  # what it reproduces (paper / code)
    default_options: ClassVar[dict[str, Any]] = {}
    batch_size: ClassVar[int] = 1  # preferred number of items per score_batch call
    # Options that change how a metric runs but not what it computes (batch
    # size, device, log files): left out of the store key and of the label, so
    # a rerun with another batch size reuses the stored scores.
    runtime_options: ClassVar[frozenset[str]] = frozenset()
    # Options whose *resolved* value :meth:`identity` reports (``dtype=""`` is
    # float32 on CPU and bfloat16 on CUDA): left out of the options key, kept
    # in the label, so spelling out the default reuses the stored scores.
    resolved_options: ClassVar[frozenset[str]] = frozenset()
    # Checked when the metric is built, so a bad value is one clear message
    # before any video is decoded (not an error row per video):
    # float options that may be NaN or infinite (none unless listed),
    nonfinite_options: ClassVar[frozenset[str]] = frozenset()
    # ranges such as {"threshold": ">= 0, <= 255"} (options many metrics share
    # have theirs in COMMON_OPTION_RANGES; a metric's own entry wins),
    option_ranges: ClassVar[Mapping[str, str]] = {}
    # and the allowed values of string options, e.g. {"preset": ("fast", "medium")}.
    option_choices: ClassVar[Mapping[str, Sequence[str]]] = {}

    def __init__(self, **options: Any) -> None:
        self.options = self._check_options(options)
        self.timings: dict[str, float] = {}

    @contextmanager
    def timed(self, stage: str) -> Iterator[None]:
        """Add the time spent in the block to ``self.timings[stage]``.

        The executor reports ``preprocess`` apart from the rest of a metric's
        time (``model``); metrics with a processor step wrap it in
        ``with self.timed("preprocess"):``.
        """
        timings = self.__dict__.setdefault("timings", {})
        t0 = time.perf_counter()
        try:
            yield
        finally:
            timings[stage] = timings.get(stage, 0.0) + time.perf_counter() - t0

    # --- declared behaviour -------------------------------------------------
    def load(self) -> None:
        """Load weights or other one-time state (default: nothing to load).

        The executor calls it once before the metric's first batch and reports
        its time as ``load``, apart from the per-video cost; an exception here
        makes that batch's items error rows, like one from :meth:`score`.
        Must be idempotent.
        """

    def frame_policy(self) -> FramePolicy:
        """The frames this metric needs (sampling and size)."""
        raise NotImplementedError

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        """Scores of one item."""
        raise NotImplementedError

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        """Scores of several items; the default calls :meth:`score` on each."""
        return [self.score(f, it) for f, it in zip(frames, items)]

    def text_for(self, item: Any) -> str:
        """The text this metric reads from an item (part of the store key)."""
        parts = []
        if self.needs_prompt:
            parts.append(item.prompt or "")
        if self.needs_question:
            parts.append(item.question or "")
        return "\x1f".join(parts)

    # --- identity -----------------------------------------------------------
    @property
    def options_key(self) -> str:
        """Canonical JSON of the options that decide the scores (sorted keys).

        Part of the store key; :attr:`runtime_options` and
        :attr:`resolved_options` (whose resolved values :meth:`identity`
        gives) are left out.
        """
        keyed = {k: v for k, v in self.options.items()
                 if k not in self.runtime_options and k not in self.resolved_options}
        return json.dumps(keyed, sort_keys=True, separators=(",", ":"), default=str)

    def identity(self, hash_file: Callable[[str], str]) -> dict[str, str]:
        """What decides the scores besides name, version, options and text.

        Part of the store key (as canonical JSON; empty for ``{}``). A model
        metric returns the resolved device kind and dtype and the identity of
        its checkpoint and processor (hub commit, or a digest of a local
        folder's files made with ``hash_file(path) -> content hash``, which
        the store caches). Called at plan time: it must not load the model.
        Weight-free metrics have nothing to add (the default).
        """
        return {}

    @property
    def label(self) -> str:
        """``name`` plus the options that differ from the defaults, e.g. ``niqe:pool=median``."""
        diff = {k: v for k, v in self.options.items()
                if self.default_options.get(k) != v and k not in self.runtime_options}
        if not diff:
            return self.name
        return self.name + ":" + ",".join(f"{k}={v}" for k, v in sorted(diff.items()))

    def check_scores(self, scores: Mapping[str, float]) -> dict[str, float]:
        """Validate a metric's output: every declared field, finite floats."""
        out: dict[str, float] = {}
        declared = {f.name for f in self.fields}
        missing = declared - set(scores)
        if missing:
            raise MetricError(f"metric {self.name} returned no value for {sorted(missing)}")
        for key, value in scores.items():
            if key not in declared:
                raise MetricError(f"metric {self.name} returned undeclared field {key!r}")
            v = float(value)
            if not math.isfinite(v):
                raise MetricError(f"metric {self.name} produced a non-finite {key} ({v}); "
                                  "the input is likely degenerate (constant or too small)")
            out[key] = v
        return out

    @classmethod
    def _check_options(cls, options: Mapping[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(cls.default_options))
        if unknown:
            known = ", ".join(sorted(cls.default_options)) or "none"
            raise MetricError(f"metric {cls.name!r} has no option {unknown[0]!r} (its options: "
                              f"{known})")
        out = dict(cls.default_options)
        for key, value in options.items():
            out[key] = _coerce(cls.name, key, value, cls.default_options[key],
                               allow_nonfinite=key in cls.nonfinite_options)
        for key in options:
            _check_value(cls, key, out[key])
        return out

    # --- frames in memory ----------------------------------------------------
    def __call__(self, video: Any, *, fps: float, prompt: str | None = None,
                 question: str | None = None) -> dict[str, float]:
        """Score one clip held in memory: ``{field: value}``.

        ``video`` is a uint8 ``(T, H, W, 3)`` RGB numpy array or torch tensor,
        or floating point ``(T, 3, H, W)`` in [0, 1] (see
        :func:`videojury.video.as_video_array`); ``fps`` its frame rate. The
        metric's frame policy is applied by the same code as the decoder's,
        and the scores go through the same path as in a run, so the result
        equals :func:`videojury.score` on the same frames in a lossless file.
        Raises the metric's error when it cannot score the clip.
        """
        return self.batch([video], fps=fps, prompts=None if prompt is None else [prompt],
                          questions=None if question is None else [question])[0]

    def batch(self, videos: Sequence[Any], *, fps: float | Sequence[float],
              prompts: Sequence[str | None] | None = None,
              questions: Sequence[str | None] | None = None) -> list[dict[str, float]]:
        """Score several clips in memory (see :meth:`__call__`); one dict per clip.

        ``fps`` is one rate for all clips or one per clip. The metric is loaded
        once and fed in groups of :attr:`batch_size`, as in a run. The first
        clip that cannot be scored raises :class:`MetricError` naming its
        position (the cause is chained).
        """
        from ..data.items import Item, check_text_needs  # noqa: PLC0415
        from ..errors import InputError, VideoJuryError  # noqa: PLC0415
        from .calling import score_batch_safely  # noqa: PLC0415 - the run's own code
        from ..video import MEMORY_PATH, frames_from_array  # noqa: PLC0415

        videos = list(videos)
        n = len(videos)
        rates = list(fps) if hasattr(fps, "__len__") else [fps] * n
        texts = {}
        for name, given in (("prompts", prompts), ("questions", questions)):
            values = [None] * n if given is None else list(given)
            if isinstance(given, str) or len(values) != n:
                raise MetricError(f"{name} must be a list with one entry per video ({n}), got "
                                  f"{given!r:.80}")
            texts[name] = values
        if len(rates) != n:
            raise MetricError(f"fps must be one number or one per video ({n}), got {len(rates)}")
        items = [Item(f"{MEMORY_PATH}[{i}]", prompt=p, question=q)
                 for i, (p, q) in enumerate(zip(texts["prompts"], texts["questions"]))]
        for attr, needed in (("prompt", self.needs_prompt), ("question", self.needs_question)):
            lacking = [i for i, it in enumerate(items) if needed and not getattr(it, attr)]
            if lacking:
                raise InputError(f"metric {self.name!r} needs a {attr}: pass {attr}=... (batch: "
                                 f"{attr}s=[...]); video {lacking[0]} has none")
        check_text_needs(items, self.name, self.needs_prompt, self.needs_question)
        policy = self.frame_policy()
        frames = []
        for i, (video, rate) in enumerate(zip(videos, rates)):
            try:
                frames.append(frames_from_array(video, rate, policy))
            except VideoJuryError as exc:
                raise MetricError(f"metric {self.name}: video {i}: {exc}") from exc
        out: list[dict[str, float]] = []
        size = max(1, int(self.batch_size))
        for start in range(0, n, size):
            outcomes, _, _ = score_batch_safely(self, frames[start:start + size],
                                                items[start:start + size])
            for k, outcome in enumerate(outcomes):
                if isinstance(outcome, BaseException):
                    raise MetricError(f"metric {self.name}: video {start + k}: "
                                      f"{outcome}") from outcome
                out.append(outcome)
        return out

    def __repr__(self) -> str:
        return f"<metric {self.label} v{self.version}>"


# Ranges of the options that many metrics share (a metric's option_ranges win).
COMMON_OPTION_RANGES: dict[str, str] = {
    "frames": ">= 0", "max_frames": ">= 0", "short_side": ">= 0", "max_pixels": ">= 0",
    "fps": ">= 0", "rate": "> 0", "batch_size": ">= 1", "max_new_tokens": ">= 1",
}
_OPS = {">=": lambda v, b: v >= b, ">": lambda v, b: v > b, "<=": lambda v, b: v <= b,
        "<": lambda v, b: v < b}
# torch device strings (checked without importing torch; availability is
# checked when the model loads).
_DEVICE = re.compile(r"^(auto|cpu|mps|meta|(cuda|xpu|hpu|npu|mtia|xla)(:\d+)?)$", re.I)


def _check_value(cls: type[Metric], key: str, value: Any) -> None:
    """Range, choice, device and dtype checks of one given option value."""
    metric = cls.name
    rule = cls.option_ranges.get(key, COMMON_OPTION_RANGES.get(key))
    if rule and isinstance(value, (int, float)) and not isinstance(value, bool):
        for cond in rule.split(","):
            op, _, bound = cond.strip().partition(" ")
            if not _OPS[op](value, float(bound)):
                raise MetricError(f"option {key!r} of metric {metric!r} must be {rule}, got "
                                  f"{value!r}")
    choices = cls.option_choices.get(key)
    if choices is not None and value not in choices:
        raise MetricError(f"option {key!r} of metric {metric!r} must be one of "
                          f"{', '.join(map(str, choices))}, got {value!r}")
    if key == "device" and isinstance(value, str) and value.strip() and \
            not _DEVICE.match(value.strip()):
        raise MetricError(f"option 'device' of metric {metric!r}: {value!r} is not a device; "
                          "use cpu, cuda, cuda:N, mps or auto (or leave it out: CUDA when "
                          "present, else CPU)")
    if key == "dtype" and isinstance(value, str) and value.strip():
        from ..models.loading import _DTYPES

        if value.strip().lower() not in _DTYPES and value.strip().lower() != "auto":
            raise MetricError(f"option 'dtype' of metric {metric!r}: unknown dtype {value!r}; "
                              "use float32, bfloat16 or float16 (or auto)")


def _coerce(metric: str, key: str, value: Any, default: Any, allow_nonfinite: bool = False) -> Any:
    """Convert an option value (often a string from the CLI) to the default's type.

    A float option may not be NaN or infinite unless ``allow_nonfinite``."""
    if default is None or value is None:
        if isinstance(value, str):
            low = value.lower()
            if low in ("none", "null"):
                return None
            try:
                return json.loads(value)
            except ValueError:
                return value
        return value
    kind = type(default)
    try:
        if kind is bool:
            if isinstance(value, str):
                low = value.lower()
                if low in ("1", "true", "yes", "on"):
                    return True
                if low in ("0", "false", "no", "off"):
                    return False
                raise ValueError(value)
            return bool(value)
        if kind is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if kind is float:
            f = float(value)
            if not allow_nonfinite and not math.isfinite(f):
                raise MetricError(f"option {key!r} of metric {metric!r} must be a finite number, "
                                  f"got {value!r}")
            return f
        if kind is str:
            return str(value)
        if kind in (list, tuple) and isinstance(value, str):
            return kind(v for v in value.split("|") if v)
        return kind(value)
    except (TypeError, ValueError):
        raise MetricError(f"option {key!r} of metric {metric!r} must be a {kind.__name__}, "
                          f"got {value!r}") from None


# --- registry ---------------------------------------------------------------

_REGISTRY: dict[str, type[Metric]] = {}
_SCHEMES: dict[str, Callable[..., Metric]] = {}
_BUILTINS_LOADED = False


def register_metric(cls: type[Metric]) -> type[Metric]:
    """Class decorator: add a :class:`Metric` subclass to the registry."""
    if not cls.name:
        raise MetricError(f"{cls.__name__} has no name")
    if not cls.fields:
        raise MetricError(f"metric {cls.name} declares no fields")
    existing = _REGISTRY.get(cls.name)
    if existing is not None and existing is not cls and (
            existing.__module__, existing.__qualname__) != (cls.__module__, cls.__qualname__):
        raise MetricError(f"two metrics are named {cls.name!r}: {existing.__module__} and "
                          f"{cls.__module__}")
    _REGISTRY[cls.name] = cls
    return cls


def register_scheme(prefix: str, factory: Callable[..., Metric]) -> None:
    """Register a metric family addressed as ``prefix:ARGUMENT`` (e.g. ``trained:DIR``)."""
    _SCHEMES[prefix] = factory


def _load_builtins() -> None:
    """Import every module under ``videojury.metrics`` (they register themselves)
    and the ``videojury.metrics`` entry points of installed packages."""
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    _BUILTINS_LOADED = True
    package = importlib.import_module("videojury.metrics")
    for mod in pkgutil.walk_packages(package.__path__, prefix="videojury.metrics."):
        if mod.name.rsplit(".", 1)[-1].startswith("_"):
            continue
        importlib.import_module(mod.name)
    from importlib.metadata import entry_points

    for ep in entry_points(group="videojury.metrics"):
        try:
            obj = ep.load()
        except Exception as exc:  # noqa: BLE001 - a broken plugin must not break the tool
            import warnings

            warnings.warn(f"videojury: metric plug-in {ep.name!r} ({ep.value}) failed to load: "
                          f"{exc}", stacklevel=2)
            continue
        if isinstance(obj, type) and issubclass(obj, Metric):
            register_metric(obj)


def metric_class(name: str) -> type[Metric]:
    """The registered class of metric ``name`` (raises :class:`MetricError` if unknown)."""
    _load_builtins()
    try:
        return _REGISTRY[name]
    except KeyError:
        import difflib

        close = difflib.get_close_matches(name, list(_REGISTRY), n=3)
        hint = f" Did you mean {', '.join(close)}?" if close else ""
        raise MetricError(f"unknown metric {name!r}.{hint} Run 'videojury metrics' to list "
                          "them.") from None


def list_metrics() -> list[str]:
    """Names of every registered metric, sorted."""
    _load_builtins()
    return sorted(_REGISTRY)


def parse_spec(spec: str) -> tuple[str, dict[str, str]]:
    """Split a CLI metric spec ``name[:opt=value[,opt=value...]]``.

    Values may not contain commas. For a registered family (``trained:DIR``)
    the name is ``trained:DIR`` and options may follow after another colon.
    """
    spec = spec.strip()
    if not spec:
        raise MetricError("empty metric name")
    _load_builtins()
    head, sep, rest = spec.partition(":")
    if head in _SCHEMES:
        arg, sep2, opts_text = rest.partition(":")
        name = f"{head}:{arg}"
    else:
        name, opts_text = head, rest
    options: dict[str, str] = {}
    if opts_text:
        for part in opts_text.split(","):
            if not part.strip():
                continue
            key, eq, value = part.partition("=")
            if not eq or not key.strip():
                raise MetricError(f"metric option {part!r} in {spec!r} is not of the form "
                                  "key=value")
            if key.strip() in options:
                raise MetricError(f"metric option {key.strip()!r} is given twice in {spec!r}; "
                                  "give each option once")
            options[key.strip()] = value.strip()
    return name, options


def load_metric(name: str, **options: Any) -> Metric:
    """Create a ready metric from its name (or ``name:opt=value,...`` spec) and options."""
    if ":" in name:
        base, parsed = parse_spec(name)
        options = {**parsed, **options}
        name = base
    if ":" in name:
        _load_builtins()
        prefix, _, arg = name.partition(":")
        if prefix not in _SCHEMES:
            raise MetricError(f"unknown metric family {prefix!r} in {name!r}")
        return _SCHEMES[prefix](arg, **options)
    return metric_class(name)(**options)


__all__ = [
    "Metric", "ResultField", "ScoreField", "list_metrics", "load_metric", "metric_class",
    "parse_spec", "register_metric", "register_scheme",
]

"""Planning and running a scoring job.

``plan()`` turns items x metrics into tasks keyed like the store, and splits
them into cached and pending. An executor runs the pending tasks and writes
each result to the store as soon as it exists. The local executor decodes
every video once for all the metrics that need it (the union of their frame
indices in one pass) and hands each metric its frames; metrics that batch
get their items in groups of ``batch_size``. A failure on one video (cannot
be read, too short, metric raised) becomes an error result for that video and
metric only, and the run goes on.

Another backend (Ray) implements :class:`Executor` over the same plan and the
same work functions, :func:`decode_for` and :func:`score_batch_safely`.
"""

from __future__ import annotations

import time
import traceback
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Sequence

from ..data.items import Item
from ..errors import VideoError, VideoJuryError
from ..metrics.base import Metric
from ..video import Frames, probe, sample_many
from .store import Result, ResultKey, Store, missing_hash


@dataclass
class Task:
    """One (item, metric) pair to compute."""

    item_index: int
    metric_index: int
    key: ResultKey


@dataclass
class Plan:
    """What a run will do: every task, and which are already in the store."""

    items: list[Item]
    metrics: list[Metric]
    keys: dict[tuple[int, int], ResultKey]
    cached: dict[tuple[int, int], Result]
    pending: list[Task]

    @property
    def total(self) -> int:
        return len(self.keys)

    @property
    def distinct_videos(self) -> int:
        return len({k.video_hash for k in self.keys.values()})

    @property
    def pending_videos(self) -> int:
        return len({t.key.video_hash for t in self.pending})

    def first_videos(self, n: int) -> Plan:
        """The same plan restricted to the pending tasks of its first ``n`` videos."""
        keep = list(dict.fromkeys(t.key.video_hash for t in self.pending))[:n]
        tasks = [t for t in self.pending if t.key.video_hash in set(keep)]
        return Plan(self.items, self.metrics, self.keys, {}, tasks)

    def pending_by_video(self) -> dict[str, list[Task]]:
        """Pending tasks grouped by video content (decode once per group)."""
        groups: dict[str, list[Task]] = defaultdict(list)
        for t in self.pending:
            groups[t.key.video_hash].append(t)
        return dict(groups)


@dataclass
class RunStats:
    """What a run did and what it cost.

    Times are wall-clock seconds in the process that did the work: decoding
    (probe + decode + resize), and per metric its preprocessing (what the
    metric reports under ``Metric.timed("preprocess")``) and the rest of its
    scoring ("model").
    """

    total: int = 0
    cached: int = 0
    computed: int = 0
    failed: int = 0
    videos: int = 0
    videos_in_input: int = 0
    seconds: float = 0.0
    decode_seconds: float = 0.0
    preprocess_seconds: dict[str, float] = field(default_factory=dict)
    model_seconds: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = 0.0
    backend: str = "local"
    setup_seconds: float = 0.0  # one-time costs inside ``seconds``: model loads, workers

    @property
    def seconds_per_video(self) -> float:
        """Wall time per video once set up (one-time costs left out)."""
        if not self.videos:
            return 0.0
        return max(0.0, self.seconds - self.setup_seconds) / self.videos

    def add_metric_time(self, label: str, preprocess: float, model: float) -> None:
        self.preprocess_seconds[label] = self.preprocess_seconds.get(label, 0.0) + preprocess
        self.model_seconds[label] = self.model_seconds.get(label, 0.0) + model

    def summary(self) -> str:
        """A short paragraph for the end of a run."""
        rate = self.videos / self.seconds if self.seconds > 0 else 0.0
        pre = sum(self.preprocess_seconds.values())
        model = sum(self.model_seconds.values())
        lines = [
            f"{self.total} results: {self.computed} computed, {self.cached} cached, "
            f"{self.failed} failed",
            f"{self.videos} videos in {self.seconds:.1f}s ({rate:.2f} videos/s, {self.backend}); "
            + (f"setup {self.setup_seconds:.1f}s, " if self.setup_seconds >= 0.05 else "")
            + f"decode {self.decode_seconds:.1f}s, preprocess {pre:.1f}s, model {model:.1f}s"
            + (f"; peak memory {self.peak_rss_mb:.0f} MB" if self.peak_rss_mb else ""),
        ]
        if self.videos and self.videos_in_input:
            full = self.setup_seconds + self.seconds_per_video * self.videos_in_input
            lines.append(f"estimate for all {self.videos_in_input} videos from scratch: "
                         f"{_duration(full)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """Plain-data form (for JSON logs and benchmarks)."""
        from dataclasses import asdict

        return asdict(self)


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def _peak_rss_mb() -> float:
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb / 1024.0
    except (ImportError, OSError):  # pragma: no cover - non-POSIX
        return 0.0


def plan(items: Sequence[Item], metrics: Sequence[Metric], store: Store,
         retry_errors: bool = False) -> Plan:
    """Key every (item, metric) pair and look the keys up in the store.

    An item whose file cannot be read is keyed by its path; its tasks stay
    pending so the run records the error.
    """
    keys: dict[tuple[int, int], ResultKey] = {}
    hashes: dict[str, str] = {}
    for i, item in enumerate(items):
        if item.video not in hashes:
            try:
                hashes[item.video] = store.content_hash(item.video)
            except OSError:
                hashes[item.video] = missing_hash(item.video)
        vh = hashes[item.video]
        for m_i, metric in enumerate(metrics):
            keys[(i, m_i)] = ResultKey(vh, metric.name, metric.version, metric.options_key,
                                       metric.text_for(item))
    found = store.get_many(keys.values())
    cached: dict[tuple[int, int], Result] = {}
    pending: list[Task] = []
    seen_pending: set[ResultKey] = set()
    for (i, m_i), key in keys.items():
        hit = found.get(key)
        if hit is not None and not (retry_errors and hit.status == "error") and not \
                key.video_hash.startswith("missing:"):
            cached[(i, m_i)] = hit
        elif key not in seen_pending:
            seen_pending.add(key)
            pending.append(Task(i, m_i, key))
    return Plan(list(items), list(metrics), keys, cached, pending)


def _error_text(exc: BaseException) -> str:
    if isinstance(exc, VideoJuryError):
        return str(exc)
    if isinstance(exc, MemoryError):
        return "out of memory while scoring this video"
    where = traceback.extract_tb(exc.__traceback__)[-1] if exc.__traceback__ else None
    at = f" (at {Path(where.filename).name}:{where.lineno})" if where else ""
    return f"{exc.__class__.__name__}: {exc}{at}"


def decode_for(item: Item, metrics: Sequence[Metric]) -> dict[int, Frames | BaseException]:
    """Decode one video for several metrics at once; per-metric frames or the error."""
    try:
        path = Path(item.video)
        if not path.exists():
            raise VideoError(path, "file does not exist; check the path (paths in a manifest are "
                                   "relative to the manifest's folder)")
        info = probe(path, exact=True)
        policies = [m.frame_policy() for m in metrics]
        got = sample_many(path, policies, info=info, errors="collect")
        return {i: got[pol] for i, pol in enumerate(policies)}
    except Exception as exc:  # noqa: BLE001 - recorded per item
        return {i: exc for i in range(len(metrics))}


def score_batch_safely(metric: Metric, frames: Sequence[Frames], items: Sequence[Item]
                       ) -> tuple[list[dict | BaseException], float, float]:
    """Score a batch; per item the checked scores or the exception.

    A batch that raises is scored again one item at a time, so one bad video
    does not take its neighbours down. The metric's :meth:`~Metric.load` runs
    before its first batch (its time goes to ``metric.timings["load"]``).
    Returns the outcomes and the seconds spent in preprocessing and in the
    rest of the metric.
    """
    timings = metric.__dict__.setdefault("timings", {})
    if not metric.__dict__.get("_videojury_loaded"):
        # One-time loading is timed apart (timings["load"]), not as model time.
        with metric.timed("load"):
            try:
                metric.load()
            except Exception as exc:  # noqa: BLE001 - the batch's items become errors
                return [exc] * len(frames), 0.0, 0.0
        metric.__dict__["_videojury_loaded"] = True
    pre0 = timings.get("preprocess", 0.0)
    t0 = time.perf_counter()
    outcomes: list[dict | BaseException]
    try:
        scores = metric.score_batch(frames, items)
        if len(scores) != len(frames):
            raise VideoJuryError(f"metric {metric.name} returned {len(scores)} results for "
                                 f"{len(frames)} items")
        outcomes = []
        for s in scores:
            try:
                outcomes.append(metric.check_scores(s))
            except Exception as exc:  # noqa: BLE001 - recorded per item
                outcomes.append(exc)
    except Exception as exc:  # noqa: BLE001
        if len(frames) == 1:
            outcomes = [exc]
        else:
            outcomes = []
            for f, it in zip(frames, items):
                try:
                    outcomes.append(metric.check_scores(metric.score(f, it)))
                except Exception as exc2:  # noqa: BLE001
                    outcomes.append(exc2)
    total = time.perf_counter() - t0
    pre = timings.get("preprocess", 0.0) - pre0
    return outcomes, pre, max(0.0, total - pre)


def error_text(exc: BaseException) -> str:
    """The message stored for a failed item."""
    return _error_text(exc)


class Executor:
    """Runs a plan's pending tasks and writes each result to the store."""

    def run(self, plan: Plan, store: Store, progress: Callable[[int], None] | None = None
            ) -> RunStats:
        raise NotImplementedError


class LocalExecutor(Executor):
    """In-process executor: decode once per video, batch per metric, write as you go."""

    def run(self, plan: Plan, store: Store, progress: Callable[[int], None] | None = None
            ) -> RunStats:
        t0 = time.perf_counter()
        stats = RunStats(total=plan.total, cached=len(plan.cached),
                         videos_in_input=plan.distinct_videos)
        queues: dict[int, list[tuple[Task, Frames]]] = defaultdict(list)
        load0 = {id(m): m.__dict__.setdefault("timings", {}).get("load", 0.0)
                 for m in plan.metrics}

        def record(results: list[Result]) -> None:
            store.put(results)
            for r in results:
                stats.computed += 1
                stats.failed += r.status == "error"
            if progress is not None:
                progress(len(results))

        def flush(m_i: int) -> None:
            batch = queues.pop(m_i, [])
            if not batch:
                return
            metric = plan.metrics[m_i]
            items = [plan.items[t.item_index] for t, _ in batch]
            outcomes, pre, model = score_batch_safely(metric, [f for _, f in batch], items)
            stats.add_metric_time(metric.label, pre, model)
            per = (pre + model) / len(batch)
            record([make_result(t, plan, res, per) for (t, _), res in zip(batch, outcomes)])

        for tasks in plan.pending_by_video().values():
            item = plan.items[tasks[0].item_index]
            metric_ids = sorted({t.metric_index for t in tasks})
            td = time.perf_counter()
            frames = decode_for(item, [plan.metrics[m] for m in metric_ids])
            stats.decode_seconds += time.perf_counter() - td
            stats.videos += 1
            errors: list[Result] = []
            for t in tasks:
                got = frames[metric_ids.index(t.metric_index)]
                if isinstance(got, BaseException):
                    errors.append(make_result(t, plan, got, None))
                else:
                    queues[t.metric_index].append((t, got))
                    if len(queues[t.metric_index]) >= max(1, plan.metrics[t.metric_index]
                                                          .batch_size):
                        flush(t.metric_index)
            if errors:
                record(errors)
        for m_i in list(queues):
            flush(m_i)
        stats.seconds = time.perf_counter() - t0
        stats.setup_seconds = sum(m.timings.get("load", 0.0) - load0.get(id(m), 0.0)
                                  for m in plan.metrics)
        stats.peak_rss_mb = _peak_rss_mb()
        return stats


def make_result(task: Task, plan: Plan, outcome: dict | BaseException, seconds: float | None
            ) -> Result:
    item = plan.items[task.item_index]
    if isinstance(outcome, BaseException):
        return Result(task.key, "error", None, _error_text(outcome), item.video, seconds)
    return Result(task.key, "ok", outcome, None, item.video, seconds)


def get_executor(backend: str = "local", **options) -> Executor:
    """The executor for a backend name (``local``; ``ray`` when installed)."""
    if backend == "local":
        if options:
            raise VideoJuryError(f"the local backend takes no options ({', '.join(options)})")
        return LocalExecutor()
    if backend == "ray":
        from .ray_backend import RayExecutor  # noqa: PLC0415 - optional extra

        return RayExecutor(**options)
    raise VideoJuryError(f"unknown backend {backend!r}: use local or ray")


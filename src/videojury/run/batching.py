"""The one copy of the per-video work and of batching, shared by every executor.

The local executor and the Ray backend both call these, so "local and Ray
rows are identical" rests on one implementation:

* :func:`decode_for` decodes one video once for several metrics (the union of
  their frame indices), per metric the frames or the error;
* :class:`BatchQueues` queues each metric's items in arrival order and hands
  out a batch as soon as it holds ``batch_size`` items; :meth:`BatchQueues.drain`
  gives the last, partial batches in the order their metrics first queued;
* :func:`route_video` sends one decoded video's tasks to the queues (or to
  error results when its frames could not be produced);
* :func:`score_batch_safely` loads a metric once, scores a batch and, when the
  batch raises, scores it again one item at a time (defined with the metrics,
  :mod:`videojury.metrics.calling`, so a metric called on frames in memory
  takes the same path; re-exported here);
* :func:`result_for` turns an outcome into the stored :class:`Result`.

A metric whose :meth:`~videojury.metrics.base.Metric.load` fails raises
:class:`MetricLoadError` from :func:`score_batch_safely`: that is about the
run (a wrong path, missing weights, no network), not about any video, so the
executors stop that metric and store nothing for it; a rerun after the fix
computes its items.

This module also holds the plain types every executor shares (:class:`Task`,
:class:`Plan`, :class:`RunStats`, :class:`Executor`), so the Ray backend
never imports the local executor.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Generic, Iterator, Sequence, TypeVar

import numpy as np

from ..data.items import Item
from ..metrics.base import Metric
from ..metrics.calling import MetricLoadError, ensure_loaded, error_text, score_batch_safely
from ..video import Frames, probe, sample_many
from ..video.decode import check_file
from .store import Result, ResultKey, Store

P = TypeVar("P")


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
    # Metrics computed from other metrics' stored scores (fusion models):
    # metric index -> the indices of its input metrics in ``metrics``. The
    # inputs a user did not ask for are appended after the first ``requested``.
    inputs_of: dict[int, list[int]] = field(default_factory=dict)
    requested: int | None = None

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
        keep = set(list(dict.fromkeys(t.key.video_hash for t in self.pending))[:n])
        tasks = [t for t in self.pending if t.key.video_hash in keep]
        return Plan(self.items, self.metrics, self.keys, {}, tasks, self.inputs_of,
                    self.requested)

    def decoded(self) -> Plan:
        """The plan of the tasks an executor decodes videos for (derived metrics left out)."""
        tasks = [t for t in self.pending if t.metric_index not in self.inputs_of]
        return Plan(self.items, self.metrics, self.keys, self.cached, tasks, {}, self.requested)

    def derived_tasks(self) -> list[Task]:
        """Pending tasks of metrics computed from their inputs' stored scores."""
        return [t for t in self.pending if t.metric_index in self.inputs_of]

    def view(self) -> Plan:
        """The plan restricted to the metrics the user asked for (for the results table)."""
        n = len(self.metrics) if self.requested is None else self.requested
        keys = {k: v for k, v in self.keys.items() if k[1] < n}
        cached = {k: v for k, v in self.cached.items() if k[1] < n}
        return Plan(self.items, self.metrics[:n], keys, cached,
                    [t for t in self.pending if t.metric_index < n],
                    {m: ins for m, ins in self.inputs_of.items() if m < n}, n)

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
    scoring ("model"). ``load_errors`` maps a metric's label to why it could
    not be loaded; its items were not computed and nothing was stored for them.
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
    load_errors: dict[str, str] = field(default_factory=dict)
    not_computed: int = 0  # tasks skipped because their metric could not be loaded
    # per metric label, what its hosted model cost in this run: requests (retries
    # included), retries, prompt_tokens, completion_tokens (videojury.models.remote)
    requests: dict[str, dict[str, int]] = field(default_factory=dict)

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
            f"{self.failed} failed"
            + (f", {self.not_computed} not computed (metric could not be loaded)"
               if self.not_computed else ""),
            f"{self.videos} videos in {self.seconds:.1f}s ({rate:.2f} videos/s, {self.backend}); "
            + (f"setup {self.setup_seconds:.1f}s, " if self.setup_seconds >= 0.05 else "")
            + f"decode {self.decode_seconds:.1f}s, preprocess {pre:.1f}s, model {model:.1f}s"
            + (f"; peak memory {self.peak_rss_mb:.0f} MB" if self.peak_rss_mb else ""),
        ]
        for label, c in self.requests.items():
            lines.append(f"{label}: {c.get('requests', 0)} requests ({c.get('retries', 0)} "
                         f"retries), {c.get('prompt_tokens', 0)} prompt + "
                         f"{c.get('completion_tokens', 0)} completion tokens")
        if self.videos and self.videos_in_input and not self.load_errors:
            full = self.setup_seconds + self.seconds_per_video * self.videos_in_input
            lines.append(f"estimate for all {self.videos_in_input} videos from scratch: "
                         f"{duration_text(full)}")
        return "\n".join(lines)

    def as_dict(self) -> dict:
        """Plain-data form (for JSON logs and benchmarks)."""
        from dataclasses import asdict

        return asdict(self)


def duration_text(seconds: float) -> str:
    """``42s``, ``12 min`` or ``3.5 h``."""
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:.1f} h"


def peak_rss_mb() -> float:
    """This process's peak resident memory in MB (0 where unknown)."""
    try:
        import resource

        kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return kb / 1024.0
    except (ImportError, OSError):  # pragma: no cover - non-POSIX
        return 0.0


class Executor:
    """Runs a plan's pending tasks and writes each result to the store."""

    def run(self, plan: Plan, store: Store, progress: Callable[[int], None] | None = None
            ) -> RunStats:
        raise NotImplementedError


# --------------------------------------------------------------------------- per-video work


def decode_for(item: Item, metrics: Sequence[Metric]) -> dict[int, Frames | BaseException]:
    """Decode one video for several metrics at once; per-metric frames or the error.

    ``metrics`` need only a ``frame_policy()`` method.
    """
    try:
        path = Path(item.video)
        check_file(path)  # missing, link loop, folder, FIFO/device: one clear error, no hang
        info = probe(path, exact=True)
        policies = [m.frame_policy() for m in metrics]
        got: dict = sample_many(path, policies, info=info, errors="collect")
        return {i: got[pol] for i, pol in enumerate(share_streams(policies, got))}
    except Exception as exc:  # noqa: BLE001 - recorded per item
        return {i: exc for i in range(len(metrics))}


def share_streams(policies: Sequence, got: dict) -> list:
    """Let metrics that read the same frames share one decode (``got`` is updated).

    A streamed policy decodes its video each time a metric iterates it. When
    another policy already holds the very same frames (same indices, same
    size; policies may differ only in ``min_frames``), the streamed one gets
    those; when two or more metrics stream the same frames and they fit in
    :data:`~videojury.video.sampling.PIXEL_BUDGET` pixels, they are decoded
    once and held. The frames are the decoder's, bit for bit, either way.
    Returns ``policies`` with each one replaced by the policy it now shares.
    """
    from ..video.sampling import PIXEL_BUDGET

    def key(fr: Frames):
        if fr.array is not None:
            size = (int(fr.array.shape[2]), int(fr.array.shape[1])) if fr.array.ndim == 4 \
                else None
        else:
            prep = getattr(fr.source, "prep", None)
            size = getattr(prep, "size", None) or (fr.info.width, fr.info.height)
        return (np.asarray(fr.indices).tobytes(), size)

    held: dict = {}
    streams: dict = {}
    for pol in dict.fromkeys(policies):
        fr = got.get(pol)
        if isinstance(fr, Frames) and len(fr):
            (streams if fr.streamed else held).setdefault(key(fr), pol)
    out = []
    for pol in policies:
        fr = got.get(pol)
        if not (isinstance(fr, Frames) and fr.streamed and len(fr)):
            out.append(pol)
            continue
        k = key(fr)
        if k in held:
            out.append(held[k])
            continue
        users = sum(1 for q in policies if isinstance(got.get(q), Frames)
                    and got[q].streamed and key(got[q]) == k)
        if users >= 2 and len(fr) * k[1][0] * k[1][1] <= PIXEL_BUDGET:
            first = streams[k]
            if isinstance(got[first], Frames):  # not yet tried
                try:
                    got[first] = got[first].materialize()
                    held[k] = first
                except Exception as exc:  # noqa: BLE001 - recorded for those metrics
                    got[first] = exc
            out.append(first)
            continue
        out.append(pol)
    return out


def result_for(task: Task, item: Item, outcome: dict | BaseException | str,
               seconds: float | None) -> Result:
    """The stored row for one outcome: scores, or an error (exception or its text)."""
    if isinstance(outcome, BaseException):
        return Result(task.key, "error", None, error_text(outcome), item.video, seconds)
    if isinstance(outcome, str):
        return Result(task.key, "error", None, outcome, item.video, seconds)
    return Result(task.key, "ok", outcome, None, item.video, seconds)


# --------------------------------------------------------------------------- batching


class BatchQueues(Generic[P]):
    """Per-metric queues of ``(task, payload)``; payloads are frames or references to them.

    :meth:`add` returns a full batch as soon as a metric's queue reaches its
    batch size; :meth:`drain` yields what is left, metric by metric in the
    order the metrics first queued. Both executors form batches through this.
    """

    def __init__(self, batch_sizes: Sequence[int]) -> None:
        self.sizes = [max(1, int(b)) for b in batch_sizes]
        self._queues: dict[int, list[tuple[Task, P]]] = {}

    def __bool__(self) -> bool:
        return bool(self._queues)

    def add(self, task: Task, payload: P) -> list[tuple[Task, P]] | None:
        """Queue one task; its metric's batch when that is now full, else None."""
        q = self._queues.setdefault(task.metric_index, [])
        q.append((task, payload))
        if len(q) >= self.sizes[task.metric_index]:
            return self._queues.pop(task.metric_index)
        return None

    def drop(self, metric_index: int) -> list[tuple[Task, P]]:
        """Remove and return a metric's queued tasks (e.g. when it cannot be loaded)."""
        return self._queues.pop(metric_index, [])

    def drain(self) -> Iterator[tuple[int, list[tuple[Task, P]]]]:
        """The remaining partial batches, ``(metric index, batch)``."""
        for m_i in list(self._queues):
            batch = self._queues.pop(m_i, [])
            if batch:
                yield m_i, batch


def route_video(tasks: Sequence[Task], metric_ids: Sequence[int],
                got: Callable[[int], P | BaseException | str], queues: BatchQueues[P],
                skip: Callable[[int], bool] = lambda m_i: False,
                ) -> tuple[list[tuple[Task, BaseException | str]], list[tuple[int, list]],
                           list[Task]]:
    """Send one decoded video's tasks to the queues.

    ``got(j)`` is the payload for ``metric_ids[j]``, or the error (an
    exception or its text) when that metric's frames could not be produced.
    ``skip(m_i)`` is true for a metric that is stopped (not loadable).
    Returns the tasks that failed with their errors, the full batches
    ``(metric index, batch)`` in the order they filled, and the skipped tasks.
    """
    failed: list[tuple[Task, BaseException | str]] = []
    full: list[tuple[int, list]] = []
    skipped: list[Task] = []
    for t in tasks:
        if skip(t.metric_index):
            skipped.append(t)
            continue
        payload = got(metric_ids.index(t.metric_index))
        if isinstance(payload, (BaseException, str)):
            failed.append((t, payload))
            continue
        batch = queues.add(t, payload)
        if batch is not None:
            full.append((t.metric_index, batch))
    return failed, full, skipped


__all__ = [
    "BatchQueues", "Executor", "MetricLoadError", "Plan", "RunStats", "Task", "decode_for",
    "duration_text", "ensure_loaded", "error_text", "peak_rss_mb", "result_for", "route_video",
    "score_batch_safely",
]

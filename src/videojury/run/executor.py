"""Planning and running a scoring job.

``plan()`` turns items x metrics into tasks keyed like the store, and splits
them into cached and pending. An executor runs the pending tasks and writes
each result to the store as soon as it exists. The local executor decodes
every video once for all the metrics that need it (the union of their frame
indices in one pass) and hands each metric its frames; metrics that batch
get their items in groups of ``batch_size``. A failure on one video (cannot
be read, too short, metric raised) becomes an error result for that video and
metric only, and the run goes on. A metric that cannot be loaded is stopped:
nothing is stored for it, so a rerun after the fix computes its items.

The per-video work and the batching are :mod:`videojury.run.batching`, shared
with the Ray backend (:mod:`videojury.run.ray_backend`), which implements
:class:`Executor` over the same plan.
"""

from __future__ import annotations

import json
import time
from typing import Callable, Sequence

from ..data.items import Item
from ..errors import VideoJuryError
from ..metrics.base import Metric
from ..video import Frames
from .batching import (
    BatchQueues,
    Executor,
    MetricLoadError,
    Plan,
    RunStats,
    Task,
    decode_for,
    duration_text,
    error_text,
    peak_rss_mb,
    result_for,
    route_video,
    score_batch_safely,
)
from .store import Result, ResultKey, Store, missing_hash

# Older names, kept for callers of this module.
_duration = duration_text
_peak_rss_mb = peak_rss_mb
_error_text = error_text


def plan(items: Sequence[Item], metrics: Sequence[Metric], store: Store,
         retry_errors: bool = False) -> Plan:
    """Key every (item, metric) pair and look the keys up in the store.

    An item whose file cannot be read is keyed by its path; its tasks stay
    pending so the run records the error. A key is the video's content hash,
    the metric's name, version, options, the item's text and the metric's
    :meth:`~videojury.metrics.base.Metric.identity` (resolved dtype and
    device kind, checkpoint and processor identity; empty for weight-free
    metrics). A metric whose identity cannot be resolved (a checkpoint that
    is not there) keeps its tasks pending, never served from the store; its
    load then fails with the message. A read-only store is refused here,
    before any scoring, when something would have to be saved.
    """
    identities = [_identity_key(m, store) for m in metrics]
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
                                       metric.text_for(item), identities[m_i])
    found = store.get_many(keys.values())
    cached: dict[tuple[int, int], Result] = {}
    pending: list[Task] = []
    seen_pending: set[ResultKey] = set()
    for (i, m_i), key in keys.items():
        hit = found.get(key)
        if hit is not None and not (retry_errors and hit.status == "error") and not \
                key.video_hash.startswith("missing:") and \
                not key.identity.startswith(UNRESOLVED):
            cached[(i, m_i)] = hit
        elif key not in seen_pending:
            seen_pending.add(key)
            pending.append(Task(i, m_i, key))
    store.require_writable(len(pending))
    return Plan(list(items), list(metrics), keys, cached, pending)


UNRESOLVED = "unresolved:"


def _identity_key(metric: Metric, store: Store) -> str:
    """Canonical JSON of a metric's identity ("" when it has none)."""
    try:
        ident = metric.identity(store.file_identity)
    except (VideoJuryError, OSError) as exc:  # a checkpoint not there / unreadable: its
        return UNRESOLVED + str(exc)           # load will say so
    return json.dumps(ident, sort_keys=True, separators=(",", ":")) if ident else ""


def input_metrics(metric: Metric) -> dict[str, Metric]:
    """The metrics whose stored scores ``metric`` is computed from (``{}`` for most).

    A metric declares them as ``input_metrics`` (spec -> metric object) and
    implements ``from_inputs(scores_by_spec, item) -> {field: float}``.
    """
    got = getattr(metric, "input_metrics", None)
    return dict(got) if got else {}


def plan_job(items: Sequence[Item], metrics: Sequence[Metric], store: Store,
             retry_errors: bool = False) -> Plan:
    """:func:`plan`, with the inputs of derived metrics (fusion models) added.

    An input a user did not list is appended after the requested metrics (a
    listed one, same name and options, is reused), so the executor decodes
    and scores it like any metric, through the store; the derived metric is
    then computed from the stored scores by :func:`compute_derived`.
    """
    metrics = list(metrics)
    requested = len(metrics)
    index = {(m.name, m.options_key): i for i, m in enumerate(metrics)}
    inputs_of: dict[int, list[int]] = {}
    for m_i in range(requested):
        ins = input_metrics(metrics[m_i])
        if not ins:
            continue
        ids = []
        for sub in ins.values():
            if input_metrics(sub):
                raise VideoJuryError(f"metric {metrics[m_i].label}: an input metric "
                                     f"({sub.label}) is itself computed from other metrics, "
                                     "which is not supported")
            k = (sub.name, sub.options_key)
            if k not in index:
                index[k] = len(metrics)
                metrics.append(sub)
            ids.append(index[k])
        inputs_of[m_i] = ids
    p = plan(items, metrics, store, retry_errors=retry_errors)
    p.inputs_of, p.requested = inputs_of, requested
    if len(metrics) > requested:
        # An input nobody asked for is computed only where a derived result is missing.
        needed = {p.keys[(i, j)] for (i, m_i) in p.keys if m_i in inputs_of
                  and (i, m_i) not in p.cached for j in inputs_of[m_i]}
        p.pending = [t for t in p.pending if t.metric_index < requested or t.key in needed]
    return p


def compute_derived(p: Plan, store: Store, stats: RunStats,
                    progress: Callable[[int], None] | None = None) -> None:
    """Compute the pending derived tasks from their inputs' stored results (no decoding).

    An input that failed makes the derived item an error naming it; an input
    not computed (its metric could not be loaded) leaves it not computed.
    """
    tasks = p.derived_tasks()
    if not tasks:
        return
    want = [p.keys[(t.item_index, j)] for t in tasks for j in p.inputs_of[t.metric_index]]
    found = store.get_many(want)
    results: list[Result] = []
    for t in tasks:
        metric, item = p.metrics[t.metric_index], p.items[t.item_index]
        if metric.label in stats.load_errors:
            stats.not_computed += 1
            continue
        ins = p.inputs_of[t.metric_index]
        got = {j: found.get(p.keys[(t.item_index, j)]) for j in ins}
        missing = [p.metrics[j].label for j, r in got.items() if r is None]
        if missing:
            stats.not_computed += 1
            stats.load_errors.setdefault(metric.label, f"input metric(s) {', '.join(missing)} "
                                         "were not computed")
            continue
        bad = [(p.metrics[j].label, r.error) for j, r in got.items() if r.status != "ok"]
        if bad:
            outcome: dict | BaseException | str = "; ".join(
                f"input metric {label} failed: {msg}" for label, msg in bad)
        else:
            specs = dict(zip(input_metrics(metric), ins))
            t0 = time.perf_counter()
            try:
                outcome = metric.check_scores(metric.from_inputs(
                    {spec: got[j].scores for spec, j in specs.items()}, item))
            except Exception as exc:  # noqa: BLE001 - recorded per item
                outcome = exc
            stats.add_metric_time(metric.label, 0.0, time.perf_counter() - t0)
        results.append(result_for(t, item, outcome, None))
    if results:
        store.put(results)
        stats.computed += len(results)
        stats.failed += sum(r.status == "error" for r in results)
    if progress is not None:
        progress(len(tasks))


def execute(p: Plan, store: Store, executor: Executor,
            progress: Callable[[int], None] | None = None) -> RunStats:
    """Run a plan: the executor scores what needs decoding, then derived metrics follow."""
    stats = executor.run(p.decoded(), store, progress=progress)
    stats.total = p.total
    t0 = time.perf_counter()
    compute_derived(p, store, stats, progress)
    stats.seconds += time.perf_counter() - t0
    return stats


class LocalExecutor(Executor):
    """In-process executor: decode once per video, batch per metric, write as you go."""

    def run(self, plan: Plan, store: Store, progress: Callable[[int], None] | None = None
            ) -> RunStats:
        t0 = time.perf_counter()
        stats = RunStats(total=plan.total, cached=len(plan.cached),
                         videos_in_input=plan.distinct_videos)
        queues: BatchQueues[Frames] = BatchQueues([m.batch_size for m in plan.metrics])
        load0 = {id(m): m.__dict__.setdefault("timings", {}).get("load", 0.0)
                 for m in plan.metrics}
        stopped: set[int] = set()  # metrics whose load() failed
        sent0 = {id(m): _remote_counts(m) for m in plan.metrics}  # hosted models' requests

        def record(results: list[Result]) -> None:
            store.put(results)
            for r in results:
                stats.computed += 1
                stats.failed += r.status == "error"
            if progress is not None:
                progress(len(results))

        def skip(tasks: Sequence[Task]) -> None:
            stats.not_computed += len(tasks)
            if progress is not None and tasks:
                progress(len(tasks))

        def score(m_i: int, batch: list[tuple[Task, Frames]]) -> None:
            if m_i in stopped:
                skip([t for t, _ in batch])
                return
            metric = plan.metrics[m_i]
            items = [plan.items[t.item_index] for t, _ in batch]
            try:
                outcomes, pre, model = score_batch_safely(metric, [f for _, f in batch], items)
            except MetricLoadError as exc:
                stopped.add(m_i)
                stats.load_errors[metric.label] = exc.cause_text
                k = len(exc.done)  # items scored before scoring stopped the metric
                if k:
                    record([result_for(t, it, res, None)
                            for (t, _), it, res in zip(batch[:k], items, exc.done)])
                skip([t for t, _ in batch[k:]] + [t for t, _ in queues.drop(m_i)])
                return
            stats.add_metric_time(metric.label, pre, model)
            per = (pre + model) / len(batch)
            record([result_for(t, it, res, per) for (t, _), it, res in zip(batch, items, outcomes)])

        for tasks in plan.pending_by_video().values():
            live = [t for t in tasks if t.metric_index not in stopped]
            if not live:
                skip(tasks)
                continue
            item = plan.items[tasks[0].item_index]
            metric_ids = sorted({t.metric_index for t in live})
            td = time.perf_counter()
            frames = decode_for(item, [plan.metrics[m] for m in metric_ids])
            stats.decode_seconds += time.perf_counter() - td
            stats.videos += 1
            failed, full, skipped = route_video(tasks, metric_ids, frames.__getitem__, queues,
                                                skip=stopped.__contains__)
            skip(skipped)
            if failed:
                record([result_for(t, plan.items[t.item_index], e, None) for t, e in failed])
            for m_i, batch in full:
                score(m_i, batch)
        for m_i, batch in queues.drain():
            score(m_i, batch)
        stats.seconds = time.perf_counter() - t0
        stats.setup_seconds = sum(m.timings.get("load", 0.0) - load0.get(id(m), 0.0)
                                  for m in plan.metrics)
        stats.peak_rss_mb = peak_rss_mb()
        for m in plan.metrics:
            now, before = _remote_counts(m), sent0.get(id(m), {})
            if now:
                stats.requests[m.label] = {k: v - before.get(k, 0) for k, v in now.items()}
        return stats


def _remote_counts(metric: Metric) -> dict[str, int]:
    """A hosted-model metric's request counts so far ({} for any other metric)."""
    get = getattr(metric, "remote_counts", None)
    return (get() or {}) if callable(get) else {}


def make_result(task: Task, plan: Plan, outcome: dict | BaseException, seconds: float | None
                ) -> Result:
    """The stored row of one task's outcome (see :func:`~.batching.result_for`)."""
    return result_for(task, plan.items[task.item_index], outcome, seconds)


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


__all__ = [
    "Executor", "LocalExecutor", "MetricLoadError", "Plan", "RunStats", "Task", "decode_for",
    "compute_derived", "error_text", "execute", "get_executor", "input_metrics", "make_result",
    "plan", "plan_job", "score_batch_safely",
]

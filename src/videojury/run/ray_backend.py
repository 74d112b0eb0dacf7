"""Ray backend: the same plan and the same per-video work, spread over a Ray cluster.

The driver (the process that called ``score``) keeps the plan and is the only
writer to the store. Each pending video is decoded once in a CPU task
(``num_cpus=1``) that returns its frames per metric as separate objects;
scoring actors (one per worker, ``num_gpus=gpus_per_worker``) build their
metrics once from ``(name, options)`` and score batches of frames fetched from
the object store. The driver consumes decodes in submission order and forms
each metric's batches with the same code as the local executor
(:mod:`videojury.run.batching`: ``BatchQueues``, ``route_video``,
``score_batch_safely``, ``decode_for``), so both backends give the same rows
and bit-identical scores. A window
bounds how many videos have frames alive at once (decoding, queued or being
scored), which keeps memory flat however long the input is; results are
written as they come back, so a killed driver keeps everything already done.

Failures: a decode task whose worker dies is retried by Ray (``max_retries``);
a scoring actor that dies (killed, out of memory) is replaced by a fresh one,
and the batches it held are sent again, split into single videos so that one
video that crashes its worker cannot take its neighbours with it. Each item is
tried at most ``retries + 1`` times, then stored as an error row naming the
failure, and the run goes on.
"""

from __future__ import annotations

import importlib
import logging
import os
import time
from collections import deque
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Sequence

import numpy as np

from ..errors import VideoJuryError, require
from ..metrics.base import Metric, load_metric
from ..video import FramePolicy, Frames
from .batching import (
    BatchQueues,
    Executor,
    MetricLoadError,
    Plan,
    RunStats,
    Task,
    decode_for,
    error_text,
    result_for,
    route_video,
    score_batch_safely,
)
from .batching import peak_rss_mb as _peak_rss_mb
from .store import Result, Store

# Scoring calls queued per actor: one running, one waiting, so an actor never
# idles for a driver round trip between batches.
_CALLS_PER_WORKER = 2


# --------------------------------------------------------------------------- worker side


class _PolicyOnly:
    """Stands in for a metric in a decode task, which needs only its frame policy."""

    def __init__(self, policy: FramePolicy) -> None:
        self.policy = policy

    def frame_policy(self) -> FramePolicy:
        return self.policy


@dataclass
class _DecodeMeta:
    """What a decode task reports besides the frames.

    ``where[i]`` is, for the task's ``i``-th metric, the index of the returned
    frames object it uses, or the error message when its frames could not be
    produced.
    """

    where: list[int | str]
    seconds: float
    rss_mb: float


def _decode_video(item: Any, policies: Sequence[FramePolicy]) -> tuple:
    """Decode one video for several policies; returns the meta, then the frames.

    Metrics that share a policy share one frames object; the tuple is padded
    with ``None`` to ``len(policies) + 1`` entries (Ray needs the count up front).
    """
    t0 = time.perf_counter()
    got = decode_for(item, [_PolicyOnly(p) for p in policies])
    seconds = time.perf_counter() - t0
    slots: list[Frames] = []
    slot_of: dict[int, int] = {}
    where: list[int | str] = []
    for i in range(len(policies)):
        frames = got[i]
        if isinstance(frames, BaseException):
            where.append(error_text(frames))
            continue
        if id(frames) not in slot_of:
            slot_of[id(frames)] = len(slots)
            slots.append(frames)
        where.append(slot_of[id(frames)])
    padding = [None] * (len(policies) - len(slots))
    return (_DecodeMeta(where, seconds, _peak_rss_mb()), *slots, *padding)


def _writable(frames: Frames) -> Frames:
    """Frames whose array a metric may modify in place, as in the local executor.

    Arrays fetched from Ray's object store are read-only views of shared memory.
    """
    if frames.array is None or frames.array.flags.writeable:
        return frames  # streamed frames decode in the worker, nothing to copy
    return replace(frames, array=np.array(frames.array), indices=np.array(frames.indices),
                   timestamps=np.array(frames.timestamps))


@dataclass
class _MetricSpec:
    """How a worker rebuilds one of the driver's metrics, and what it must match.

    Registered metrics are rebuilt by name and options. A family member
    (``trained:DIR``) travels as the pickled object, whose own pickling
    rebuilds it from its folder (its name alone does not locate the folder).
    """

    module: str
    name: str
    options: dict
    options_key: str
    version: str
    obj: Metric | None = None

    @classmethod
    def of(cls, m: Metric) -> _MetricSpec:
        return cls(type(m).__module__, m.name, dict(m.options), m.options_key, m.version,
                   m if ":" in m.name else None)

    def build(self) -> Metric:
        if self.obj is not None:
            metric = self.obj
        else:
            if self.module and self.module != "__main__":
                importlib.import_module(self.module)  # registers plug-in metrics
            metric = load_metric(self.name, **self.options)
        # A node with another videojury version would store results under the
        # driver's key that the driver's version did not compute.
        if (metric.version, metric.options_key) != (self.version, self.options_key):
            raise VideoJuryError(f"version/options differ on the worker (version "
                                 f"{metric.version}, options {metric.options_key}) from the "
                                 f"driver (version {self.version}, options {self.options_key}); "
                                 "install the same videojury on every node")
        return metric


class _ScoringWorker:
    """A Ray actor that holds metric objects and scores batches of frames.

    Metrics are rebuilt once per actor (see :class:`_MetricSpec`). A metric
    that cannot be built is reported by :meth:`ready` instead of killing the
    actor, so the driver can say why.
    """

    def __init__(self, specs: Sequence[_MetricSpec | None]) -> None:
        self.metrics: list[Metric | None] = []
        self.load_error: str | None = None
        for spec in specs:
            if spec is None:  # nothing pending for this metric: do not load it
                self.metrics.append(None)
                continue
            name = spec.name
            try:
                metric = spec.build()
            except Exception as exc:  # noqa: BLE001 - reported through ready()
                self.load_error = (f"metric {name} could not be built on a Ray worker: "
                                   f"{error_text(exc)}. Metrics must be importable on every "
                                   "node (install videojury and plug-ins there).")
                break
            self.metrics.append(metric)

    def ready(self) -> dict[str, Any]:
        """The worker's pid and load error (if any)."""
        return {"pid": os.getpid(), "error": self.load_error}

    def score(self, metric_index: int, items: list, *frames: Frames
              ) -> tuple[list[tuple[str, Any]], float, float, float, float]:
        """Score one batch: per item ``("ok", scores)`` or ``("error", message)``,
        then preprocessing, model and (first batch only) loading seconds, and this
        process's peak memory (MB). A metric that cannot be loaded returns
        ``[("load_error", message)]`` and stores nothing."""
        if self.load_error is not None:
            raise VideoJuryError(self.load_error)
        metric = self.metrics[metric_index]
        if metric is None:
            raise VideoJuryError(f"metric #{metric_index} was not loaded on this worker")
        load0 = metric.__dict__.setdefault("timings", {}).get("load", 0.0)
        try:
            outcomes, pre, model = score_batch_safely(metric, [_writable(f) for f in frames],
                                                      items)
        except MetricLoadError as exc:
            return [("load_error", exc.cause_text)], 0.0, 0.0, 0.0, _peak_rss_mb()
        out = [("error", error_text(o)) if isinstance(o, BaseException) else ("ok", o)
               for o in outcomes]
        return out, pre, model, metric.timings.get("load", 0.0) - load0, _peak_rss_mb()


# --------------------------------------------------------------------------- driver side


@dataclass
class _Unit:
    """One batch of one metric: the tasks and their frames' object references."""

    metric_index: int
    tasks: list[Task]
    frames: list[Any]
    failures: int = 0


@dataclass
class _Slot:
    """A place in the pool of scoring actors; ``generation`` grows on replacement."""

    actor: Any
    generation: int = 0
    busy: int = 0
    load_seconds: float = 0.0  # model loading in this slot's actors


@dataclass
class _Video:
    """A video whose decode has been submitted: its tasks and the decode's references."""

    tasks: list[Task]
    metric_ids: list[int]
    refs: list[Any]
    left: int = field(init=False)

    def __post_init__(self) -> None:
        self.left = len(self.tasks)


class RayExecutor(Executor):
    """Run a plan on Ray: CPU decode tasks feed one scoring actor per worker.

    ``address``: ``None`` uses a running Ray session in this process or starts a
    local one (``RAY_ADDRESS`` is honoured), ``"auto"`` joins the cluster on
    this node, ``"ray://host:10001"`` a remote one. ``workers``: scoring actors
    (default: GPUs // ``gpus_per_worker``, or half the CPUs without GPUs).
    ``gpus_per_worker``: GPUs per actor, fractions allowed (default 1 when the
    cluster has GPUs, else 0). ``cpus_per_worker``: CPUs reserved per actor
    (default 0, so actors never starve the decode tasks). ``max_in_flight``:
    videos with frames alive at once. ``retries``: extra attempts of an item
    whose worker died.
    """

    def __init__(self, address: str | None = None, workers: int | None = None,
                 gpus_per_worker: float | None = None, cpus_per_worker: float = 0.0,
                 max_in_flight: int | None = None, retries: int = 2) -> None:
        self.ray = require("ray", "ray", "the Ray backend (--backend ray)")
        if workers is not None and workers < 1:
            raise VideoJuryError(f"--workers must be at least 1 (got {workers})")
        if gpus_per_worker is not None and not gpus_per_worker >= 0 or \
                gpus_per_worker == float("inf"):  # NaN fails >= 0
            raise VideoJuryError(f"--gpus-per-worker must be a finite number, 0 or more (got "
                                 f"{gpus_per_worker})")
        if retries < 0:
            raise VideoJuryError(f"retries must be 0 or more (got {retries})")
        self.address = address
        self.workers = workers
        self.gpus_per_worker = gpus_per_worker
        self.cpus_per_worker = cpus_per_worker
        self.max_in_flight = max_in_flight
        self.retries = retries
        self.setup_seconds = 0.0  # connecting and starting actors, last run
        self.worker_pids: list[int] = []  # scoring actors' pids, as they start
        self.replaced = 0  # scoring actors replaced after dying, last run
        self.peak_in_flight = 0  # most videos with frames alive at once, last run
        self._actor_cls: Any = None

    # --- cluster ------------------------------------------------------------------
    def _connect(self) -> bool:
        """Join or start Ray; True when this call started it (and so must stop it)."""
        ray = self.ray
        if ray.is_initialized():
            return False
        kwargs: dict[str, Any] = {"logging_level": logging.WARNING}
        if self.address is None and not os.environ.get("RAY_ADDRESS"):
            kwargs["include_dashboard"] = False
        try:
            ray.init(address=self.address, **kwargs)
        except ConnectionError as exc:
            raise VideoJuryError(f"cannot reach the Ray cluster at {self.address!r}: "
                                 f"{str(exc).rstrip('.')}. "
                                 "Start one with 'ray start --head' (see docs/scale.md) or "
                                 "leave out --address to run on this machine") from None
        return True

    def _sizes(self, pending_videos: int) -> tuple[int, float]:
        """Number of actors and GPUs each, checked against the cluster's resources."""
        res = self.ray.cluster_resources()
        gpus, cpus = float(res.get("GPU", 0.0)), float(res.get("CPU", 0.0))
        gpw = self.gpus_per_worker if self.gpus_per_worker is not None else (
            1.0 if gpus >= 1 else 0.0)
        if self.workers is not None:
            n = self.workers
        elif gpw > 0:
            n = max(1, int(gpus // gpw))
        else:
            n = max(1, int(cpus // 2))
        if gpw * n > gpus + 1e-9:
            raise VideoJuryError(f"{n} Ray workers x {gpw:g} GPUs need {gpw * n:g} GPUs but the "
                                 f"cluster has {gpus:g}; lower --workers or --gpus-per-worker")
        if cpus - self.cpus_per_worker * n < 1:
            raise VideoJuryError(f"{n} Ray workers x {self.cpus_per_worker:g} CPUs leave no CPU "
                                 f"for decoding (the cluster has {cpus:g})")
        # More actors than videos would only load models for nothing.
        return max(1, min(n, pending_videos)), gpw

    def _new_actor(self, specs: list, gpus: float) -> Any:
        if self._actor_cls is None:
            self._actor_cls = self.ray.remote(_ScoringWorker)
        # max_restarts=0: the driver replaces a dead actor itself and decides
        # what to resend, so Ray must not also retry the calls.
        return self._actor_cls.options(num_gpus=gpus, num_cpus=self.cpus_per_worker,
                                       max_restarts=0, max_task_retries=0).remote(specs)

    # --- the run ------------------------------------------------------------------
    def run(self, plan: Plan, store: Store, progress: Callable[[int], None] | None = None
            ) -> RunStats:
        t_start = time.perf_counter()
        stats = RunStats(total=plan.total, cached=len(plan.cached),
                         videos_in_input=plan.distinct_videos, backend="ray")
        groups = list(plan.pending_by_video().values())
        self.replaced = self.peak_in_flight = 0
        self._actor_cls = None  # a class exported to an earlier Ray session is not reused
        if not groups:  # everything cached: no need to touch the cluster
            stats.seconds = time.perf_counter() - t_start
            stats.peak_rss_mb = _peak_rss_mb()
            return stats
        started = self._connect()
        run = None
        try:
            run = _Run(self, plan, store, progress, stats, groups, t_start)
            run.go()
        finally:
            if started:
                self.ray.shutdown()
        # One-time costs: starting the actors, then their model loads (in
        # parallel, so the slowest slot's).
        stats.setup_seconds = self.setup_seconds + max(
            (s.load_seconds for s in getattr(run, "slots", [])), default=0.0)
        stats.seconds = time.perf_counter() - t_start
        stats.peak_rss_mb = max(stats.peak_rss_mb, _peak_rss_mb())
        return stats


class _Run:
    """The driver loop of one :meth:`RayExecutor.run` (state kept on the instance)."""

    def __init__(self, ex: RayExecutor, plan: Plan, store: Store,
                 progress: Callable[[int], None] | None, stats: RunStats,
                 groups: list[list[Task]], t_start: float) -> None:
        self.ex, self.ray, self.plan, self.store = ex, ex.ray, plan, store
        self.progress, self.stats, self.t_start = progress, stats, t_start
        self.groups = deque(groups)
        needed = sorted({t.metric_index for t in plan.pending})
        self.specs = [_MetricSpec.of(m) if i in needed else None
                      for i, m in enumerate(plan.metrics)]
        self.policies = [m.frame_policy() for m in plan.metrics]
        self.batch = [max(1, int(m.batch_size)) for m in plan.metrics]
        n, self.gpus = ex._sizes(len(groups))
        self.window = ex.max_in_flight or max(8, 4 * n * max(self.batch[i] for i in needed))
        self.n_workers = n
        self.decode = self.ray.remote(_decode_video)
        self.slots: list[_Slot] = []
        self.decoding: deque[tuple[Any, _Video]] = deque()  # in submission order
        self.queues: BatchQueues[Any] = BatchQueues(self.batch)  # per metric, filling a batch
        self.stopped: set[int] = set()  # metrics whose load() failed
        self.ready: deque[_Unit] = deque()  # batches waiting for an actor
        self.scoring: dict[Any, tuple[_Unit, int, int]] = {}  # ref -> unit, slot, generation
        self.video_of: dict[int, _Video] = {}  # id(task) -> its video
        self.live = 0  # videos submitted whose tasks are not all recorded

    def _check_ready(self, actors: list) -> None:
        try:
            infos = self.ray.get([a.ready.remote() for a in actors])
        except self.ray.exceptions.RayError as exc:  # e.g. a metric that cannot be unpickled
            raise VideoJuryError(f"the Ray scoring workers could not start: "
                                 f"{_first_line(exc)}") from exc
        self.ex.worker_pids = [i["pid"] for i in infos]
        for info in infos:
            if info["error"]:
                raise VideoJuryError(info["error"])

    # --- main loop ------------------------------------------------------------------
    def go(self) -> None:
        ray = self.ray
        try:
            self.slots = [_Slot(self.ex._new_actor(self.specs, self.gpus))
                          for _ in range(self.n_workers)]
            self._check_ready([s.actor for s in self.slots])
            self.ex.setup_seconds = time.perf_counter() - self.t_start
            while True:
                self._submit_decodes()
                idle = not self.decoding and not self.scoring and not self.ready
                if self.queues and not self.decoding and (not self.groups or idle):
                    # Nothing can fill these batches now: the input is exhausted,
                    # or the window is full of videos waiting in them. Send them
                    # as they are (the local executor's last batches, too).
                    for m_i, batch in self.queues.drain():
                        self._flush(m_i, batch)
                self._dispatch()
                if not self.decoding and not self.scoring and not self.ready:
                    if not self.groups:
                        break
                    # _submit_decodes would have sent more if the window had room.
                    raise VideoJuryError("Ray driver stalled with videos left (in-flight count "
                                         f"{self.live}); this is a bug in videojury")
                waits = ([self.decoding[0][0][0]] if self.decoding else []) + list(self.scoring)
                done, _ = ray.wait(waits, num_returns=1, fetch_local=False)
                for ref in done:
                    if ref in self.scoring:
                        self._on_scored(ref)
                    else:
                        self._on_decoded()
        finally:
            for s in self.slots:
                self.ray.kill(s.actor)

    def _submit_decodes(self) -> None:
        while self.groups and self.live < self.window:
            tasks = self.groups.popleft()
            item = self.plan.items[tasks[0].item_index]
            metric_ids = sorted({t.metric_index for t in tasks})
            refs = self.decode.options(num_cpus=1, max_retries=self.ex.retries,
                                       num_returns=len(metric_ids) + 1).remote(
                item, [self.policies[m] for m in metric_ids])
            video = _Video(tasks, metric_ids, refs)
            for t in tasks:
                self.video_of[id(t)] = video
            self.decoding.append((refs, video))
            self.live += 1
            self.ex.peak_in_flight = max(self.ex.peak_in_flight, self.live)

    def _on_decoded(self) -> None:
        """Take the oldest decode (order matters: it fixes each metric's batches)."""
        refs, video = self.decoding.popleft()
        self.stats.videos += 1
        try:
            meta: _DecodeMeta = self.ray.get(refs[0])
        except self.ray.exceptions.RayError as exc:
            text = _failure_text(exc, "decoding", self.ex.retries + 1)
            self._record(video.tasks, [self._error(t, text, None) for t in video.tasks])
            return
        self.stats.decode_seconds += meta.seconds
        self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, meta.rss_mb)

        def got(j: int) -> Any:
            where = meta.where[j]
            return where if isinstance(where, str) else refs[1 + where]

        failed, full, skipped = route_video(video.tasks, video.metric_ids, got, self.queues,
                                            skip=self.stopped.__contains__)
        self._skip(skipped)
        if failed:
            self._record([t for t, _ in failed], [self._error(t, e, None) for t, e in failed])
        for m_i, batch in full:
            self._flush(m_i, batch)

    def _flush(self, m_i: int, batch: list) -> None:
        if m_i in self.stopped:
            self._skip([t for t, _ in batch])
        elif batch:
            self.ready.append(_Unit(m_i, [t for t, _ in batch], [f for _, f in batch]))

    def _dispatch(self) -> None:
        while self.ready:
            slot_i = min(range(len(self.slots)), key=lambda i: self.slots[i].busy)
            slot = self.slots[slot_i]
            if slot.busy >= _CALLS_PER_WORKER:
                return
            unit = self.ready.popleft()
            items = [self.plan.items[t.item_index] for t in unit.tasks]
            ref = slot.actor.score.remote(unit.metric_index, items, *unit.frames)
            self.scoring[ref] = (unit, slot_i, slot.generation)
            slot.busy += 1

    def _on_scored(self, ref: Any) -> None:
        unit, slot_i, generation = self.scoring.pop(ref)
        slot = self.slots[slot_i]
        if slot.generation == generation:
            slot.busy -= 1
        ray = self.ray
        try:
            outcomes, pre, model, load, rss = ray.get(ref)
        except ray.exceptions.RayTaskError as exc:
            # Our own wrapper raised (score_batch_safely catches metric errors):
            # deterministic, so retrying would only fail again.
            text = _failure_text(exc, "scoring", unit.failures + 1)
            self._record(unit.tasks, [self._error(t, text, None) for t in unit.tasks])
            return
        except ray.exceptions.RayError as exc:
            self._worker_lost(unit, slot_i, generation, exc)
            return
        metric = self.plan.metrics[unit.metric_index]
        if outcomes and outcomes[0][0] == "load_error":
            self._stop(unit, metric.label, outcomes[0][1])
            return
        slot.load_seconds += load
        self.stats.add_metric_time(metric.label, pre, model)
        self.stats.peak_rss_mb = max(self.stats.peak_rss_mb, rss)
        per = (pre + model) / len(unit.tasks)
        results = [result_for(t, self.plan.items[t.item_index],
                              payload if status == "ok" else str(payload), per)
                   for t, (status, payload) in zip(unit.tasks, outcomes)]
        self._record(unit.tasks, results)

    def _stop(self, unit: _Unit, label: str, message: str) -> None:
        """A metric could not be loaded: skip its batch and everything queued or waiting."""
        m_i = unit.metric_index
        self.stopped.add(m_i)
        self.stats.load_errors[label] = message
        waiting = [u for u in self.ready if u.metric_index == m_i]
        self.ready = deque(u for u in self.ready if u.metric_index != m_i)
        skipped = list(unit.tasks) + [t for u in waiting for t in u.tasks]
        skipped += [t for t, _ in self.queues.drop(m_i)]
        self._skip(skipped)

    def _worker_lost(self, unit: _Unit, slot_i: int, generation: int, exc: Exception) -> None:
        """A batch failed for a system reason: replace a dead actor once, resend or give up.

        Only errors that mean the actor's process is gone replace it; others
        (e.g. a frames object lost with its node) just resend the batch, and
        if the actor is in fact dead the next call finds out.
        """
        errs = self.ray.exceptions
        dead = isinstance(exc, (errs.RayActorError, errs.WorkerCrashedError,
                                errs.OutOfMemoryError))
        slot = self.slots[slot_i]
        if dead and slot.generation == generation:
            self.ray.kill(slot.actor)
            slot.actor = self.ex._new_actor(self.specs, self.gpus)
            slot.generation += 1
            slot.busy = 0
            self.ex.replaced += 1
        failures = unit.failures + 1
        if failures > self.ex.retries:
            text = _failure_text(exc, "scoring", failures)
            self._record(unit.tasks, [self._error(t, text, None) for t in unit.tasks])
            return
        # Resend one video per call: if a video kills its worker, only it is lost.
        for t, f in zip(unit.tasks, unit.frames):
            self.ready.appendleft(_Unit(unit.metric_index, [t], [f], failures))

    # --- results -------------------------------------------------------------------
    def _error(self, task: Task, text: str, seconds: float | None) -> Result:
        return result_for(task, self.plan.items[task.item_index], text, seconds)

    def _skip(self, tasks: list[Task]) -> None:
        """Release tasks of a stopped metric without storing anything for them."""
        if not tasks:
            return
        self.stats.not_computed += len(tasks)
        self._release(tasks)
        if self.progress is not None:
            self.progress(len(tasks))

    def _record(self, tasks: list[Task], results: list[Result]) -> None:
        """Write results (the driver is the only writer) and release finished videos."""
        self.store.put(results)
        for r in results:
            self.stats.computed += 1
            self.stats.failed += r.status == "error"
        self._release(tasks)
        if self.progress is not None:
            self.progress(len(results))

    def _release(self, tasks: list[Task]) -> None:
        for t in tasks:
            video = self.video_of.pop(id(t))
            video.left -= 1
            if video.left == 0:
                video.refs = []  # drop the frames' references so Ray can free them
                self.live -= 1


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    line = text.splitlines()[0] if text else exc.__class__.__name__
    return line[:300]


def _failure_text(exc: BaseException, stage: str, attempts: int) -> str:
    """The stored message for an item whose worker kept dying (or whose task broke)."""
    ray = importlib.import_module("ray")
    if isinstance(exc, ray.exceptions.RayTaskError):
        return f"Ray task error while {stage} this video: {_first_line(exc.cause or exc)}"
    what = ("ran out of memory" if isinstance(exc, ray.exceptions.OutOfMemoryError)
            else "died")
    return (f"the Ray worker {what} while {stage} this video ({exc.__class__.__name__}; "
            f"{attempts} attempt(s)): {_first_line(exc)}")

"""The Ray backend on a local 2-CPU Ray: same results as local, survives dying workers.

One Ray session serves the whole module (starting Ray costs seconds). Scoring
actors import this module to rebuild ``test_ray_crash``, which kills its own
process on a chosen video; a marker file makes "only the first time"
deterministic.
"""

from __future__ import annotations

import os
import signal
import sqlite3
import sys
from pathlib import Path

import pytest

import videojury
from videojury.api import resolve_metrics
from videojury.data.items import load_items
from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.errors import MissingExtraError, VideoJuryError
from videojury.metrics import Metric, ScoreField, register_metric
from videojury.metrics import base as metrics_base
from videojury.run import Store
from videojury.run.executor import get_executor, plan
from videojury.video import FramePolicy, write_video

from . import _plugins  # noqa: F401 - registers test metrics (workers import it too)

ROOT = Path(__file__).resolve().parents[1]

# Weight-free metrics plus a batching one (batches of 3 must be formed as locally).
METRICS = ["flicker", "frozen", "dynamic_degree", "motion_smoothness",
           "test_batch_mean:batch_size=3"]


@register_metric
class CrashingMean(Metric):
    """Mean grey level; kills its own process on the video named ``victim``.

    Without ``always`` it does so only while ``marker`` does not exist (and
    creates it first), so the retry succeeds. Never run it with the local
    backend on its victim: it would kill the test process.
    """

    name = "test_ray_crash"
    fields = (ScoreField("crash_mean", 0, 255, True),)
    default_options = {"victim": "", "marker": "", "always": False, "batch_size": 1,
                       "sleep": 0.0}

    def __init__(self, **options):
        super().__init__(**options)
        self.batch_size = self.options["batch_size"]

    def frame_policy(self):
        return FramePolicy.uniform(2)

    def score(self, frames, item):
        opts = self.options
        if opts["victim"] and Path(item.video).name == opts["victim"]:
            marker = Path(opts["marker"])
            if opts["always"] or not marker.exists():
                marker.touch()
                os.kill(os.getpid(), signal.SIGKILL)
        if opts["sleep"]:
            import time

            time.sleep(opts["sleep"])
        return {"crash_mean": float(frames.array.mean())}


@pytest.fixture(scope="module")
def ray_session():
    ray = pytest.importorskip("ray")
    # PYTHONPATH lets workers import this module and tests._plugins wherever
    # pytest was started from.
    path = os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)
    ray.init(num_cpus=2, include_dashboard=False, logging_level="WARNING",
             runtime_env={"env_vars": {"PYTHONPATH": path}})
    yield ray
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[str]:
    """Ten distinct small clips and one file that is not a video."""
    d = tmp_path_factory.mktemp("ray_videos")
    spec = ClipSpec(64, 48, 12, 8.0)
    paths = []
    for i in range(10):
        clip = make_clip(i, spec)
        if i % 3 == 1:
            clip = degrade(clip, "flicker", 2)
        p = d / f"v{i:02d}.mp4"
        write_video(p, clip, fps=8)
        paths.append(str(p))
    bad = d / "broken.mp4"
    bad.write_text("not a video")
    return paths + [str(bad)]


def _rows(store_path: Path) -> list[tuple]:
    """Every stored result without its timestamps and timings, sorted."""
    with sqlite3.connect(store_path) as c:
        return sorted(c.execute("SELECT video_hash, metric, version, options, text, status, "
                                "scores, error, video FROM results").fetchall())


def _run_ray(paths, metrics, store_path, **options):
    """Plan and run with a RayExecutor; returns the executor and its stats."""
    executor = get_executor("ray", **options)
    with Store(store_path) as st:
        job = plan(load_items(paths), resolve_metrics(metrics), st)
        stats = executor.run(job, st)
    return executor, stats


def _assert_complete(store_path: Path, n_videos: int, metric: str) -> list[tuple]:
    """One row per video for ``metric``, no duplicates; returns (video name, status, error)."""
    with sqlite3.connect(store_path) as c:
        rows = c.execute("SELECT video, status, error, scores FROM results WHERE metric=?",
                         (metric,)).fetchall()
        distinct = c.execute("SELECT COUNT(DISTINCT video_hash) FROM results WHERE metric=?",
                             (metric,)).fetchone()[0]
    assert len(rows) == n_videos and distinct == n_videos
    for _, status, error, scores in rows:
        assert (status == "ok" and scores and error is None) or (status == "error" and error)
    return sorted((Path(v).name, s, e) for v, s, e, _ in rows)


@pytest.mark.ray
def test_ray_gives_the_same_rows_and_scores_as_local(ray_session, videos, tmp_path):
    local_df, local = videojury.score(videos, metrics=METRICS, store=tmp_path / "local.sqlite",
                                      return_stats=True)
    ray_df, remote = videojury.score(videos, metrics=METRICS, store=tmp_path / "ray.sqlite",
                                     backend="ray", backend_options={"workers": 2},
                                     return_stats=True)
    assert _rows(tmp_path / "local.sqlite") == _rows(tmp_path / "ray.sqlite")
    assert list(local_df.columns) == list(ray_df.columns)
    for col in local_df.columns:
        a, b = local_df[col].to_numpy(), ray_df[col].to_numpy()
        if a.dtype.kind == "f":
            assert a.tobytes() == b.tobytes(), col  # bit for bit, NaN where errors
        else:
            assert a.tolist() == b.tolist(), col
    assert ray_df["error"].notna().sum() == 1  # broken.mp4
    assert (remote.backend, remote.computed, remote.failed, remote.videos) == \
        ("ray", local.computed, local.failed, local.videos)
    assert remote.decode_seconds > 0 and remote.peak_rss_mb > 0
    assert set(remote.model_seconds) == set(local.model_seconds)
    assert all(v > 0 for v in remote.model_seconds.values())

    # A rerun finds everything in the store and does not start any worker.
    _, again = videojury.score(videos, metrics=METRICS, store=tmp_path / "ray.sqlite",
                               backend="ray", return_stats=True)
    assert (again.computed, again.cached) == (0, local.total)


@pytest.mark.ray
def test_a_small_window_bounds_work_in_flight_and_still_finishes(ray_session, videos, tmp_path):
    # Batches of 4 with room for only 3 videos: partial batches must be sent
    # rather than wait forever.
    ex, stats = _run_ray(videos, ["test_batch_mean:batch_size=4", "flicker"],
                         tmp_path / "s.sqlite", workers=1, max_in_flight=3)
    assert ex.peak_in_flight <= 3
    assert stats.computed == 2 * len(videos)
    _assert_complete(tmp_path / "s.sqlite", len(videos), "test_batch_mean")


@pytest.mark.ray
def test_worker_killed_on_one_video_is_retried_and_scored(ray_session, videos, tmp_path):
    good = videos[:6]
    marker = tmp_path / "crashed.once"
    spec = f"test_ray_crash:victim=v04.mp4,marker={marker},batch_size=2"
    ex, stats = _run_ray(good, [spec], tmp_path / "ray.sqlite", workers=2)
    assert marker.exists() and ex.replaced >= 1
    rows = _assert_complete(tmp_path / "ray.sqlite", len(good), "test_ray_crash")
    assert all(status == "ok" for _, status, _ in rows)
    assert stats.computed == len(good) and stats.failed == 0
    # The marker now exists, so the local backend computes the same metric safely.
    videojury.score(good, metrics=[spec], store=tmp_path / "local.sqlite")
    assert _rows(tmp_path / "local.sqlite") == _rows(tmp_path / "ray.sqlite")


@pytest.mark.ray
def test_video_that_always_kills_its_worker_becomes_an_error_row(ray_session, videos,
                                                                  tmp_path):
    good = videos[:4]
    spec = f"test_ray_crash:victim=v02.mp4,marker={tmp_path / 'm'},always=true"
    ex, stats = _run_ray(good, [spec], tmp_path / "s.sqlite", workers=2, retries=1)
    rows = _assert_complete(tmp_path / "s.sqlite", len(good), "test_ray_crash")
    errors = [(name, err) for name, status, err in rows if status == "error"]
    assert len(errors) == 1 and errors[0][0] == "v02.mp4"
    assert "Ray worker died while scoring" in errors[0][1] and "2 attempt(s)" in errors[0][1]
    assert stats.failed == 1 and stats.computed == len(good)
    assert ex.replaced == 2  # first try and one retry, each killed its actor


@pytest.mark.ray
def test_actor_killed_from_outside_mid_run(ray_session, videos, tmp_path):
    """SIGKILL one scoring actor's process after the first result arrives."""
    good = videos[:6]
    executor = get_executor("ray", workers=2)
    killed: list[int] = []

    def progress(n: int) -> None:
        if not killed:
            killed.append(executor.worker_pids[0])
            os.kill(killed[0], signal.SIGKILL)

    with Store(tmp_path / "s.sqlite") as st:
        job = plan(load_items(good),
                   resolve_metrics(["test_ray_crash:sleep=0.2"]), st)
        stats = executor.run(job, st, progress=progress)
    assert killed and executor.replaced == 1
    rows = _assert_complete(tmp_path / "s.sqlite", len(good), "test_ray_crash")
    assert all(status == "ok" for _, status, _ in rows), rows
    assert stats.computed == len(good)


@pytest.mark.ray
def test_interrupted_driver_keeps_results_and_rerun_computes_the_rest(ray_session, videos,
                                                                       tmp_path):
    good = videos[:-1]
    store = tmp_path / "s.sqlite"
    seen = []

    def stop_after_three(n: int) -> None:
        seen.append(n)
        if sum(seen) >= 3:
            raise KeyboardInterrupt

    with Store(store) as st:
        job = plan(load_items(good),
                   resolve_metrics(["flicker"]), st)
        with pytest.raises(KeyboardInterrupt):
            get_executor("ray", workers=1).run(job, st, progress=stop_after_three)
    kept = len(_rows(store))
    assert 3 <= kept < len(good)
    _, stats = videojury.score(good, metrics=["flicker"], store=store, backend="ray",
                               return_stats=True)
    assert (stats.cached, stats.computed) == (kept, len(good) - kept)
    _assert_complete(store, len(good), "flicker")


@pytest.mark.ray
def test_metric_that_workers_cannot_build_stops_the_run_with_a_reason(ray_session, videos,
                                                                      tmp_path, monkeypatch):
    # A metric whose module does not exist on the workers (e.g. a plug-in
    # installed on the driver only); registered for this test only.
    cls = type("Elsewhere", (CrashingMean,), {"name": "test_ray_elsewhere",
                                              "__module__": "no_such_plugin_module"})
    monkeypatch.setitem(metrics_base._REGISTRY, cls.name, cls)
    with pytest.raises(VideoJuryError, match="could not be built on a Ray worker.*"
                                             "no_such_plugin_module"):
        _run_ray(videos[:2], ["test_ray_elsewhere"], tmp_path / "s.sqlite", workers=1)
    with Store(tmp_path / "s.sqlite") as st:
        assert st.count() == 0


def test_ray_backend_without_ray_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # makes "import ray" fail
    with pytest.raises(MissingExtraError, match=r"videojury\[ray\]"):
        get_executor("ray", workers=1)


def test_bad_ray_options_are_refused():
    pytest.importorskip("ray")
    with pytest.raises(VideoJuryError, match="at least 1"):
        get_executor("ray", workers=0)



@pytest.mark.ray
def test_a_metric_whose_load_fails_on_the_workers_is_stopped_and_not_stored(ray_session, videos,
                                                                            tmp_path):
    store = tmp_path / "s.sqlite"
    good = videos[:4]
    with pytest.warns(videojury.api.MetricLoadWarning, match="weights not found"):
        df, stats = videojury.score(good, metrics=["test_load_once:fail=true", "flicker"],
                                    store=store, backend="ray", backend_options={"workers": 1},
                                    return_stats=True)
    assert list(stats.load_errors) == ["test_load_once:fail=True"]
    assert stats.not_computed == 4 and stats.computed == 4
    assert df["flicker"].notna().all() and df["lo_mean"].isna().all()
    assert df["error"].str.contains("not computed, the metric could not be loaded").all()
    with Store(store) as st:
        assert st.count() == 4  # flicker's rows only: a rerun after the fix computes the rest

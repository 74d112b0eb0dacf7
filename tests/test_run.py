"""The store, the planner and the local executor: resumable, exact, no duplicates."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import videojury
from videojury.data.synthetic import ClipSpec, make_clip
from videojury.run import Store
from videojury.video import write_video

from . import _plugins  # noqa: F401 - registers test metrics

TESTS = Path(__file__).resolve().parent


def test_bad_files_become_error_rows_and_the_rest_is_scored(bad_dir, tmp_path):
    paths = sorted(str(p) for p in bad_dir.iterdir()) + [str(bad_dir / "does_not_exist.mp4")]
    df = videojury.score(paths, metrics=["flicker", "frozen"], store=tmp_path / "s.sqlite")
    by = {Path(v).name: (f, e) for v, f, e in zip(df["video"], df["flicker"], df["error"])}
    assert np.isfinite(by["good1.mp4"][0]) and by["good1.mp4"][1] is None
    assert np.isfinite(by["good2.mp4"][0]) and by["good2.mp4"][1] is None
    for name, words in [("empty.mp4", "empty"), ("notes.mp4", "cannot be opened"),
                        ("truncated.mp4", "cannot be opened"),
                        ("does_not_exist.mp4", "does not exist")]:
        value, err = by[name]
        assert np.isnan(value)
        assert words in err and name in err
        assert err.startswith("flicker, frozen: ")
    with Store(tmp_path / "s.sqlite") as st:
        long = st.to_frame()
    assert set(long[long.status == "error"]["metric"]) == {"flicker", "frozen"}


def test_rerun_computes_only_what_is_missing(video_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    paths = sorted(str(p) for p in video_dir.glob("*.mp4"))
    _, s1 = videojury.score(paths[:2], metrics=["flicker"], store=store, return_stats=True)
    assert (s1.computed, s1.cached) == (2, 0)
    _, s2 = videojury.score(paths, metrics=["flicker", "frozen"], store=store, return_stats=True)
    assert (s2.computed, s2.cached) == (4, 2)
    _, s3 = videojury.score(paths, metrics=["flicker", "frozen"], store=store, return_stats=True)
    assert (s3.computed, s3.cached) == (0, 6)
    # a different option is a different result
    _, s4 = videojury.score(paths, metrics=["frozen:threshold=2"], store=store, return_stats=True)
    assert s4.computed == 3


def test_results_keyed_by_content_not_name(video_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    copy = tmp_path / "renamed.mp4"
    copy.write_bytes((video_dir / "a.mp4").read_bytes())
    videojury.score([str(video_dir / "a.mp4")], metrics=["flicker"], store=store)
    df, stats = videojury.score([str(copy)], metrics=["flicker"], store=store, return_stats=True)
    assert stats.cached == 1 and stats.computed == 0
    assert df["video"][0] == str(copy)


def test_two_runs_give_bit_identical_scores(video_dir, tmp_path):
    paths = sorted(str(p) for p in video_dir.glob("*.mp4"))
    a = videojury.score(paths, metrics=["flicker", "frozen", "test_batch_mean"],
                        store=tmp_path / "1.sqlite")
    b = videojury.score(paths, metrics=["flicker", "frozen", "test_batch_mean"],
                        store=tmp_path / "2.sqlite")
    for col in ("flicker", "frozen_ratio", "bm_mean", "bm_std"):
        assert a[col].to_numpy().tobytes() == b[col].to_numpy().tobytes()


def test_batch_of_four_equals_four_singles(tmp_path):
    paths = []
    for i in range(6):
        p = tmp_path / f"v{i}.mp4"
        write_video(p, make_clip(i, ClipSpec(64, 48, 6, 6.0)), fps=6)
        paths.append(str(p))
    _plugins.CALLS.clear()
    batched = videojury.score(paths, metrics=["test_batch_mean:batch_size=4"])
    assert _plugins.CALLS == [4, 2]
    single = videojury.score(paths, metrics=["test_batch_mean"])
    assert batched["bm_mean"].tolist() == single["bm_mean"].tolist()
    assert batched["bm_std"].tolist() == single["bm_std"].tolist()


def test_runtime_options_reuse_stored_scores(video_dir, tmp_path):
    # batch_size changes how a metric runs, not what it computes: not in the key
    paths = sorted(str(p) for p in video_dir.glob("*.mp4"))
    store = tmp_path / "s.sqlite"
    a = videojury.score(paths, metrics=["test_batch_mean:batch_size=1"], store=store)
    b, stats = videojury.score(paths, metrics=["test_batch_mean:batch_size=3"], store=store,
                               return_stats=True)
    assert stats.computed == 0 and stats.cached == len(paths)
    assert a["bm_mean"].tolist() == b["bm_mean"].tolist()
    assert list(b.columns) == list(a.columns)  # the label ignores it too
    assert videojury.load_metric("test_batch_mean:batch_size=3").label == "test_batch_mean"


def test_load_runs_once_and_is_reported_as_setup(video_dir):
    paths = sorted(str(p) for p in video_dir.glob("*.mp4"))
    _plugins.LoadOnce.loads = 0
    df, stats = videojury.score(paths, metrics=["test_load_once"], return_stats=True)
    assert _plugins.LoadOnce.loads == 1 and df["error"].isna().all()
    assert stats.setup_seconds >= 0.3
    assert sum(stats.model_seconds.values()) < 0.3  # loading is not model time
    assert stats.seconds_per_video == pytest.approx(
        (stats.seconds - stats.setup_seconds) / stats.videos)
    assert "setup" in stats.summary()


def test_failed_load_is_not_a_crash_and_not_stored(video_dir):
    paths = sorted(str(p) for p in video_dir.glob("*.mp4"))
    with Store(None) as st:
        with pytest.warns(videojury.api.MetricLoadWarning, match="weights not found"):
            df = videojury.score(paths, metrics=["test_load_once:fail=true", "flicker"], store=st)
        assert len(st.to_frame()) == len(paths)  # flicker's rows only
    assert df["error"].str.contains("not computed, the metric could not be loaded: OSError: "
                                    "weights not found").all()
    assert df["flicker"].notna().all()  # the other metric is unaffected


def test_same_video_with_two_prompts_and_text_key(video_dir):
    from videojury.data.items import Item
    from videojury.run.executor import plan

    items = [Item(str(video_dir / "a.mp4"), prompt="x"), Item(str(video_dir / "a.mp4"),
                                                              prompt="y")]
    metric = videojury.load_metric("flicker")
    with Store(None) as st:
        p = plan(items, [metric], st)
        # flicker ignores the prompt: one computation serves both items
        assert len(p.pending) == 1 and len(p.keys) == 2


def test_export_formats(video_dir, tmp_path):
    from videojury.run.store import export_frame

    with Store(tmp_path / "s.sqlite") as st:
        videojury.score(str(video_dir), metrics=["flicker"], store=st)
        long = st.to_frame()
    assert len(long) == 3 and set(long["field"]) == {"flicker"}
    for suffix in (".csv", ".parquet", ".jsonl"):
        export_frame(long, tmp_path / f"out{suffix}")
    back = pd.read_parquet(tmp_path / "out.parquet")
    assert back["value"].tolist() == long["value"].tolist()
    assert len(pd.read_json(tmp_path / "out.jsonl", lines=True)) == 3


def test_store_rejects_a_non_store_file(tmp_path):
    bogus = tmp_path / "x.sqlite"
    bogus.write_text("not a database at all, just text" * 100)
    with pytest.raises(videojury.InputError, match="not a videojury store"):
        Store(bogus)


def _make_many(folder: Path, n: int) -> None:
    base = make_clip(3, ClipSpec(32, 24, 4, 4.0))
    for i in range(n):
        shifted = np.roll(np.roll(base, i % 32, axis=2), i // 32, axis=1)  # distinct content
        write_video(folder / f"v{i:03d}.mp4", shifted, fps=4)


def test_sigkill_midway_then_rerun_completes_exactly(tmp_path):
    videos = tmp_path / "videos"
    videos.mkdir()
    _make_many(videos, 100)
    store = tmp_path / "s.sqlite"
    code = ("import sys; sys.path.insert(0, %r); import tests._plugins; "
            "from videojury.cli import main; sys.exit(main(sys.argv[1:]))" % str(TESTS.parent))
    cmd = [sys.executable, "-c", code, "score", str(videos), "-m", "test_slow_mean",
           "--store", str(store), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    done = 0
    deadline = time.time() + 60
    while time.time() < deadline:
        time.sleep(0.05)
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=5) as c:
                    done = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            except sqlite3.OperationalError:
                continue
            if done >= 20:
                break
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    with sqlite3.connect(store) as c:
        kept = c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
    assert 20 <= kept < 100

    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0, rerun.stderr
    assert f"{kept} results cached, {100 - kept} to compute" in rerun.stderr
    with sqlite3.connect(store) as c:
        rows = c.execute("SELECT COUNT(*), COUNT(DISTINCT video_hash) FROM results "
                         "WHERE metric='test_slow_mean'").fetchone()
        bad = c.execute("SELECT COUNT(*) FROM results WHERE status!='ok' OR scores IS NULL"
                        ).fetchone()[0]
    assert rows == (100, 100) and bad == 0

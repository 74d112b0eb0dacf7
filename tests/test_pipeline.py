"""One pipeline: the CLI calls the public API; early checks; load errors; derived metrics."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest

import videojury
from videojury.cli import main
from videojury.data.synthetic import ClipSpec, make_clip
from videojury.metrics.base import Metric, ScoreField, register_metric
from videojury.video import FramePolicy, write_video


@register_metric
class _NeedsFolder(Metric):
    """Mean grey level after a load() that needs ``folder`` to exist (like model weights)."""

    name = "test_needs_folder"
    fields = (ScoreField("nf_mean", 0, 255, True),)
    default_options = {"folder": ""}

    def load(self):
        if not Path(self.options["folder"]).is_dir():
            raise OSError(f"no weights in {self.options['folder']}")

    def frame_policy(self):
        return FramePolicy.uniform(2)

    def score(self, frames, item):
        return {"nf_mean": float(frames.array.mean())}


@register_metric
class _CountsBuilds(Metric):
    """Counts how often it is constructed; takes a batch size."""

    name = "test_counts_builds"
    fields = (ScoreField("cb_mean", 0, 255, True),)
    default_options = {"batch_size": 1}
    runtime_options = frozenset({"batch_size"})
    built = 0
    batches: list[int] = []

    def __init__(self, **options):
        super().__init__(**options)
        type(self).built += 1
        self.batch_size = int(self.options["batch_size"])

    def frame_policy(self):
        return FramePolicy.uniform(2)

    def score_batch(self, frames, items):
        type(self).batches.append(len(frames))
        return [{"cb_mean": float(f.array.mean())} for f in frames]


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    root = tmp_path_factory.mktemp("clips")
    spec = ClipSpec(width=48, height=32, frames=6, fps=8.0)
    for i in range(3):
        write_video(root / f"c{i}.mp4", make_clip(seed=i, spec=spec), fps=8, crf=0)
    return root


def _rows(store: Path) -> int:
    if not store.exists():
        return 0
    con = sqlite3.connect(store)
    try:
        tables = [r[0] for r in con.execute("select name from sqlite_master where type='table'")]
        return sum(con.execute(f"select count(*) from {t}").fetchone()[0]
                   for t in tables if "result" in t)
    finally:
        con.close()


@pytest.mark.parametrize("out", ["res.xlsx", "adir", "afile/x.csv"])
def test_score_refuses_a_bad_output_before_scoring(clips, tmp_path, capsys, out):
    (tmp_path / "adir").mkdir()
    (tmp_path / "afile").write_text("a regular file")
    store = tmp_path / "s.sqlite"
    rc = main(["score", str(clips), "-m", "flicker", "--store", str(store),
               "-o", str(tmp_path / out)])
    err = capsys.readouterr().err
    assert rc == 2 and "Traceback" not in err
    assert "-o/--out" in err and err.count("\n") == 1, err
    assert _rows(store) == 0  # nothing was scored
    assert "to compute" not in err


def test_bench_and_demo_refuse_bad_options_before_any_work(tmp_path, capsys):
    f = tmp_path / "a_file"
    f.write_text("x")
    rc = main(["bench", str(tmp_path / "no_suite.json"), str(tmp_path), "--bootstrap", "-4"])
    err = capsys.readouterr().err
    assert rc == 2 and "--bootstrap" in err and "-4" in err
    rc = main(["bench", str(tmp_path / "no_suite.json"), str(tmp_path), "--out", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and "is a file" in err
    rc = main(["demo", "--out", str(f)])
    err = capsys.readouterr().err
    assert rc == 2 and "is a file" in err and "Traceback" not in err


def test_a_failed_model_load_is_not_cached_and_a_rerun_after_the_fix_computes(clips, tmp_path,
                                                                                capsys):
    weights = tmp_path / "weights"
    store = tmp_path / "s.sqlite"
    spec = f"test_needs_folder:folder={weights}"
    rc = main(["score", str(clips), "-m", spec, "-m", "flicker", "--store", str(store),
               "--quiet"])
    captured = capsys.readouterr()
    err = captured.err
    assert rc == 2
    assert f"could not be loaded: OSError: no weights in {weights}" in err
    assert "Nothing was stored for it; fix this and run again" in err
    assert "3 not computed" in err
    assert _rows(store) == 3  # flicker only
    with pytest.warns(videojury.api.MetricLoadWarning, match="could not be loaded"):
        df = videojury.score(str(clips), metrics=[spec, "flicker"], store=store)
    assert df["nf_mean"].isna().all() and df["flicker"].notna().all()
    assert df["error"].str.contains("not computed, the metric could not be loaded").all()
    weights.mkdir()  # the fix
    rc = main(["score", str(clips), "-m", spec, "-m", "flicker", "--store", str(store),
               "--quiet"])
    err = capsys.readouterr().err
    assert rc == 0 and "3 results cached, 3 to compute" in err
    df = videojury.score(str(clips), metrics=[spec], store=store)
    assert df["nf_mean"].notna().all() and df["error"].isna().all()


def test_batch_size_builds_every_metric_once_and_cli_equals_api(clips, tmp_path, capsys):
    _CountsBuilds.built = 0
    _CountsBuilds.batches = []
    out = tmp_path / "cli.csv"
    assert main(["score", str(clips), "-m", "test_counts_builds", "-m", "flicker",
                 "--batch-size", "2", "--no-store", "--quiet", "-o", str(out)]) == 0
    assert _CountsBuilds.built == 1
    assert _CountsBuilds.batches == [2, 1]  # 3 videos in batches of 2
    api = videojury.score(str(clips), metrics=["test_counts_builds", "flicker"], batch_size=2)
    from videojury.io import read_table

    cli = read_table(out)
    assert list(cli["video"]) == list(api["video"])
    np.testing.assert_array_equal(cli["cb_mean"].astype(float), api["cb_mean"])
    np.testing.assert_array_equal(cli["flicker"].astype(float), api["flicker"])
    assert main(["score", str(clips), "-m", "flicker", "--batch-size", "0", "--no-store"]) == 2


def test_dry_run_is_the_public_estimate(clips, tmp_path):
    store = tmp_path / "s.sqlite"
    est = videojury.estimate(str(clips), metrics=["flicker"], store=store, sample=1)
    assert (est.items, est.metrics, est.cached, est.pending) == (3, 1, 0, 3)
    assert est.sample.videos == 1 and est.remaining_videos == 2 and est.seconds >= 0
    again = videojury.api.estimate(str(clips), metrics=["flicker"], store=store, sample=0)
    assert again.cached == 1 and again.sample is None  # the sample's result was kept


def test_fusion_metric_reads_its_inputs_through_the_store(clips, tmp_path, monkeypatch):
    from videojury.train.fusion import FusionInput, FusionModel
    from videojury.train.fusion_fit import fit_ridge

    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(20, 2)), rng.normal(size=20)
    fm = FusionModel("fused", "ridge", [FusionInput("flicker", "flicker", "flicker"),
                                        FusionInput("nf_mean", "test_counts_builds",
                                                    "cb_mean")], fit_ridge(X, y))
    folder = tmp_path / "fus"
    folder.mkdir()
    (folder / "fusion.json").write_text(json.dumps(fm.to_json()))
    store = tmp_path / "s.sqlite"
    df, stats = videojury.score(str(clips), metrics=[f"trained:{folder}"], store=store,
                                return_stats=True)
    assert df["error"].isna().all() and list(df.columns).count("fused") == 1
    assert "flicker" not in df.columns  # inputs run, but are not shown
    ref = videojury.score(str(clips), metrics=["flicker", "test_counts_builds"], store=store)
    X = np.column_stack([ref["flicker"], ref["cb_mean"]])
    np.testing.assert_allclose(df["fused"], fm.predict(X), rtol=1e-12)
    assert stats.videos == 3  # each video decoded once, for both inputs together
    # The fused scores are stored: a rerun decodes nothing and computes nothing.
    def no_decode(*a, **k):
        raise AssertionError("decoded")

    monkeypatch.setattr("videojury.run.executor.decode_for", no_decode)
    again, st2 = videojury.score(str(clips), metrics=[f"trained:{folder}"], store=store,
                                 return_stats=True)
    assert st2.computed == 0 and st2.cached == st2.total == 9  # 3 fused + 2 x 3 inputs
    np.testing.assert_array_equal(again["fused"], df["fused"])


def test_html_is_rendered_by_templates_with_autoescaping():
    import pandas as pd

    from videojury.analysis.leaderboard import rank_table
    from videojury.report.html import leaderboard_page

    df = pd.DataFrame({"model": ['<script>alert("x")</script>', "b&c"], "s": [1.0, 0.5]})
    page = leaderboard_page(rank_table(df, "model", [("s", True)]), title="<b>T</b>")
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#34;x&#34;)" in page
    assert "b&amp;c" in page and "<title>&lt;b&gt;T&lt;/b&gt;</title>" in page
    assert 'content: " \\25B2"' in page  # the package's own style sheet is not escaped
    assert page.count("<tr data-name=") == 2


def test_bench_stops_a_metric_that_cannot_load_and_says_so(tmp_path, capsys):
    from videojury.bench.synthetic import make_synthetic_bench

    suite, videos = make_synthetic_bench(tmp_path / "b", models=[("m0", 0), ("m1", 2)],
                                         n_prompts=2)
    weights = tmp_path / "missing"
    rc = main(["bench", str(suite), str(videos), "-m", f"test_needs_folder:folder={weights}",
               "-m", "flicker", "--no-store", "--bootstrap", "0", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "could not be loaded: OSError: no weights in" in err
    assert "Traceback" not in err and "MetricLoadWarning" not in err

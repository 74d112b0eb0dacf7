"""The metric interface, options and the registry."""

from __future__ import annotations

import pytest

import videojury
from videojury.errors import MetricError
from videojury.metrics import Metric, ScoreField, load_metric, parse_spec, register_metric
from videojury.metrics import base as base_mod


def test_builtins_listed():
    names = videojury.list_metrics()
    assert {"flicker", "frozen"} <= set(names)
    assert names == sorted(names)


def test_unknown_metric_suggests_close_names():
    with pytest.raises(MetricError, match="unknown metric 'flicer'.*flicker"):
        load_metric("flicer")


def test_options_are_typed_and_checked():
    m = load_metric("frozen:threshold=1.5")
    assert m.options["threshold"] == 1.5
    assert m.label == "frozen:threshold=1.5"
    assert load_metric("frozen").label == "frozen"
    with pytest.raises(MetricError, match="no option 'treshold'.*threshold"):
        load_metric("frozen", treshold=1)
    with pytest.raises(MetricError, match="must be a float"):
        load_metric("frozen:threshold=abc")
    with pytest.raises(MetricError, match="key=value"):
        load_metric("frozen:threshold")


def test_options_key_is_canonical():
    a = load_metric("frozen", threshold=1, max_frames=4)
    b = load_metric("frozen:max_frames=4,threshold=1.0")
    assert a.options_key == b.options_key


def test_parse_spec(monkeypatch):
    assert parse_spec("niqe") == ("niqe", {})
    assert parse_spec("niqe:pool=median,n=4") == ("niqe", {"pool": "median", "n": "4"})
    monkeypatch.setitem(base_mod._SCHEMES, "family", lambda arg, **kw: None)
    assert parse_spec("family:/tmp/model") == ("family:/tmp/model", {})
    assert parse_spec("family:/tmp/model:batch_size=2") == ("family:/tmp/model",
                                                            {"batch_size": "2"})


def test_check_scores_rejects_nan_and_undeclared():
    m = load_metric("flicker")
    with pytest.raises(MetricError, match="non-finite"):
        m.check_scores({"flicker": float("nan")})
    with pytest.raises(MetricError, match="undeclared"):
        m.check_scores({"flicker": 0.5, "other": 1.0})
    with pytest.raises(MetricError, match="no value"):
        m.check_scores({})


def test_duplicate_names_are_refused():
    class A(Metric):
        name = "flicker"
        fields = (ScoreField("x", 0, 1, True),)

    with pytest.raises(MetricError, match="two metrics are named 'flicker'"):
        register_metric(A)


def test_entry_point_plugins_register(monkeypatch):
    class Plugin(Metric):
        name = "plugin_metric_for_test"
        fields = (ScoreField("p", 0, 1, True),)

    class EP:
        name, value = "plugin", "pkg:Plugin"

        def load(self):
            return Plugin

    import importlib.metadata as md

    monkeypatch.setattr(md, "entry_points", lambda group=None: [EP()] if group ==
                        "videojury.metrics" else [])
    monkeypatch.setattr(base_mod, "_BUILTINS_LOADED", False)
    try:
        assert "plugin_metric_for_test" in videojury.list_metrics()
    finally:
        base_mod._REGISTRY.pop("plugin_metric_for_test", None)


def test_core_imports_no_torch_and_no_ray():
    # A fresh interpreter: the core (decode, classical metrics, statistics,
    # benchmarks, reports, the CLI) must not pull in the optional extras.
    import subprocess
    import sys

    code = ("import sys, videojury, videojury.analysis, videojury.human, videojury.bench, "
            "videojury.report, videojury.cli, videojury.analysis.leaderboard\n"
            "videojury.list_metrics(); [videojury.load_metric(m) for m in "
            "('niqe', 'brisque', 'piqe', 'flicker', 'dynamic_degree')]\n"
            "print(sorted(m for m in ('torch', 'ray', 'transformers', 'peft', 'accelerate') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"

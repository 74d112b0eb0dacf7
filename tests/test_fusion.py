"""Fusion evaluators: JSON models that reproduce scikit-learn, and ``videojury fit``.

The synthetic set has four degradations, each seen by a different metric
(flicker by ``flicker``, frozen frames by ``frozen``, noise and blur by
``brisque``), and MOS = 100 - 25 x level whatever the degradation, so no
single metric can rank all videos but a fusion of them can.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd
import pytest

import videojury
from videojury.cli import main
from videojury.data.synthetic import ClipSpec, make_dataset
from videojury.errors import MetricError
from videojury.io import write_table
from videojury.train.fusion import FusionModel, load_fusion
from videojury.train.fusion_fit import GBM_PARAMS, fit_gbm, fit_ridge

SPEC = ClipSpec(width=96, height=72, frames=12, fps=8.0)
METRICS = ["flicker", "frozen", "brisque"]


def _synthetic(root, clips, seed):
    man = make_dataset(root, n_clips=clips, kinds=("blur", "noise", "flicker", "freeze"),
                       levels=(1, 2, 3), spec=SPEC, seed=seed)
    df = pd.read_csv(man)
    df["mos"] = 100.0 - 25.0 * df["level"]
    df.to_csv(man, index=False)
    return man


@pytest.fixture(scope="module")
def scored(tmp_path_factory):
    root = tmp_path_factory.mktemp("fusion")
    man = _synthetic(root / "data", 6, 0)
    store = root / "scores.sqlite"
    df = videojury.score(man, metrics=METRICS, store=store)
    assert df["error"].isna().all()
    table = root / "scores.csv"
    write_table(df, table)  # with scores.csv.fields.json: fit reads its inputs from it
    return {"root": root, "manifest": man, "table": table, "store": store, "df": df}


def test_gbm_json_reproduces_sklearn_exactly():
    from sklearn.ensemble import GradientBoostingRegressor

    rng = np.random.default_rng(0)
    X = rng.normal(size=(80, 4)) * [1.0, 10.0, 0.01, 100.0]
    y = np.sin(X[:, 0]) + (X[:, 1] > 2) + 30 * X[:, 2] ** 2 + rng.normal(0, 0.1, 80)
    ours = fit_gbm(X, y, seed=0)
    ref = GradientBoostingRegressor(random_state=0, **GBM_PARAMS).fit(X, y)
    Xt = rng.normal(size=(50, 4)) * [1.0, 10.0, 0.01, 100.0]
    np.testing.assert_allclose(ours.predict(Xt), ref.predict(Xt), rtol=0, atol=1e-12)
    # Through JSON text and back: the same numbers.
    from videojury.train.fusion import FusionInput

    fm = FusionModel("f", "gbm", [FusionInput(f"c{i}", "m", f"c{i}") for i in range(4)], ours)
    back = FusionModel.from_json(json.loads(json.dumps(fm.to_json())))
    np.testing.assert_array_equal(back.predict(Xt), fm.predict(Xt))
    r = fit_ridge(X, y)
    fr = FusionModel("r", "ridge", fm.inputs, r)
    back = FusionModel.from_json(json.loads(json.dumps(fr.to_json())))
    np.testing.assert_array_equal(back.predict(Xt), fr.predict(Xt))


def test_malformed_fusion_json_is_refused(tmp_path):
    from videojury.train.fusion import FusionInput

    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    fm = FusionModel("f", "gbm", [FusionInput("a", "m", "a"), FusionInput("b", "m", "b")],
                     fit_gbm(X, y))
    good = fm.to_json()
    bad = json.loads(json.dumps(good))
    bad["model"]["trees"][0]["feature"][0] = 7  # an input that does not exist
    with pytest.raises(MetricError, match="refers to a node or input"):
        FusionModel.from_json(bad)
    bad = json.loads(json.dumps(good))
    bad["model"]["trees"][0]["value"].pop()
    with pytest.raises(MetricError, match="differ in length"):
        FusionModel.from_json(bad)
    bad = json.loads(json.dumps(good))
    del bad["model"]["init"]
    with pytest.raises(MetricError, match="malformed fusion model"):
        FusionModel.from_json(bad)
    with pytest.raises(MetricError, match="not a videojury fusion model"):
        FusionModel.from_json({"format": "pickle"})
    with pytest.raises(MetricError, match="missing or not finite"):
        fm.predict(np.array([[1.0, np.nan]]))


def _cv_numbers(text: str) -> tuple[float, str, float]:
    m = re.search(r"CV SRCC (-?[\d.]+); best single metric (\S+): CV SRCC (-?[\d.]+)",
                  " ".join(text.split()))
    assert m, text
    return float(m.group(1)), m.group(2), float(m.group(3))


def test_fit_beats_the_best_single_metric_and_reports_both(scored, capsys):
    out = scored["root"] / "fused"
    assert main(["fit", str(scored["table"]), "-o", str(out)]) == 0
    text = capsys.readouterr().out
    fused, best_name, best = _cv_numbers(text)
    cv = pd.read_csv(out / "cv.csv")
    print(cv.to_string())
    singles = cv[cv["kind"] == "single"]
    # Every metric field of the table is an input; manifest columns (level!) are not.
    assert sorted(singles["model"]) == ["brisque", "flicker", "frozen_longest", "frozen_ratio"]
    assert best == pytest.approx(singles["cv_srcc"].max(), abs=1e-4)
    assert best_name == singles.loc[singles["cv_srcc"].idxmax(), "model"]
    assert fused >= best + 0.2
    assert fused >= 0.75
    fm = load_fusion(out)
    assert fm.report["best_single"]["model"] == best_name
    # The saved JSON holds numbers and names only.
    text_json = (out / "fusion.json").read_text()
    assert json.loads(text_json)["kind"] in ("ridge", "gbm")


def test_fit_from_store_with_separate_labels_and_gbm(scored, capsys, tmp_path):
    labels = pd.read_csv(scored["manifest"])[["video", "mos", "prompt_id"]]
    lab = tmp_path / "labels.csv"
    labels.to_csv(lab, index=False)  # paths relative to the manifest: matched by name
    out = tmp_path / "gbm"
    assert main(["fit", str(scored["store"]), "--mos", str(lab), "--model", "gbm", "--folds",
                 "3", "-o", str(out)]) == 0
    text = capsys.readouterr().out
    fused, _, best = _cv_numbers(text)
    assert "fusion (gbm" in " ".join(text.split())
    assert fused > best
    assert load_fusion(out).kind == "gbm"


def test_fusion_metric_computes_its_inputs_itself(scored, tmp_path):
    from videojury.metrics.base import load_metric

    out = scored["root"] / "fused"
    if not (out / "fusion.json").exists():
        assert main(["fit", str(scored["table"]), "-o", str(out)]) == 0
    fm = load_fusion(out)
    new = _synthetic(tmp_path / "new", 1, 50)  # unseen clips
    metric = load_metric(f"trained:{out}")
    assert [f.name for f in metric.fields] == ["fusion"]
    got = videojury.score(new, metrics=[metric])
    assert got["error"].isna().all()
    ref = videojury.score(new, metrics=METRICS)
    np.testing.assert_allclose(got["fusion"].to_numpy(), fm.predict_frame(ref), rtol=1e-9)
    # Worse videos get lower fused scores on the unseen clip.
    from videojury.stats.correlation import srcc

    assert srcc(got["fusion"], got["mos"]) > 0.5


def _small_gbm():
    from videojury.train.fusion import FusionInput

    rng = np.random.default_rng(2)
    X, y = rng.normal(size=(30, 2)), rng.normal(size=30)
    fm = FusionModel("f", "gbm", [FusionInput("flicker", "flicker", "flicker"),
                                  FusionInput("brisque", "brisque", "brisque")], fit_gbm(X, y))
    return fm.to_json()


def test_tampered_tree_with_a_cycle_is_refused_not_looped_forever():
    good = _small_gbm()
    tree = good["model"]["trees"][0]
    inner = next(i for i, v in enumerate(tree["left"]) if v != -1 and i > 0)
    bad = json.loads(json.dumps(good))
    bad["model"]["trees"][0]["left"][inner] = inner  # node -> itself: predict never ends
    with pytest.raises(MetricError, match="refers to a node"):
        FusionModel.from_json(bad)
    bad = json.loads(json.dumps(good))
    bad["model"]["trees"][0]["right"][inner] = 0  # back to the root
    with pytest.raises(MetricError, match="refers to a node"):
        FusionModel.from_json(bad)


def test_non_finite_numbers_and_reserved_names_are_refused_at_load():
    good = _small_gbm()
    bad = json.loads(json.dumps(good))
    bad["model"]["learning_rate"] = float("nan")
    with pytest.raises(MetricError, match="not finite"):
        FusionModel.from_json(json.loads(json.dumps(bad)))
    bad = json.loads(json.dumps(good))
    bad["model"]["trees"][1]["value"][0] = float("inf")
    with pytest.raises(MetricError, match="not finite"):
        FusionModel.from_json(bad)
    for name in ("video", "prompt", ""):
        bad = json.loads(json.dumps(good))
        bad["name"] = name
        with pytest.raises(MetricError, match="cannot be a score column"):
            FusionModel.from_json(bad)


def test_fit_refuses_a_name_that_would_overwrite_an_item_column():
    from videojury.errors import InputError
    from videojury.train.fusion_fit import fit_fusion

    rng = np.random.default_rng(3)
    df = pd.DataFrame({"video": [f"v{i}" for i in range(12)], "prompt_id": [f"p{i // 2}"
                                                                           for i in range(12)],
                       "flicker": rng.random(12), "mos": rng.random(12) * 100})
    with pytest.raises(InputError, match="cannot be a score column"):
        fit_fusion(df, name="prompt")


def test_fusion_folder_with_a_field_its_metric_does_not_produce_fails_at_load(tmp_path):
    from videojury.metrics.base import load_metric

    bad = _small_gbm()
    bad["inputs"][1]["field"] = "brisque_score"  # brisque produces 'brisque'
    (tmp_path / "f").mkdir()
    (tmp_path / "f" / "fusion.json").write_text(json.dumps(bad))
    with pytest.raises(MetricError, match="'brisque_score', which metric 'brisque' does not"):
        load_metric(f"trained:{tmp_path / 'f'}")


def test_fit_inputs_come_from_the_field_metadata_and_a_foreign_copy_falls_back_to_the_registry(
        scored, tmp_path):
    from videojury.io import read_table
    from videojury.train.fusion_fit import discover_inputs

    meta = discover_inputs(read_table(scored["table"]), exclude=["mos"])
    assert [(i.column, i.metric, i.field) for i in meta] == [
        ("flicker", "flicker", "flicker"), ("frozen_ratio", "frozen", "frozen_ratio"),
        ("frozen_longest", "frozen", "frozen_longest"), ("brisque", "brisque", "brisque")]
    # The same table written by another tool: no metadata, the registry places the columns,
    # and the manifest's numeric 'level' column is still not taken for a score.
    foreign = tmp_path / "foreign.csv"
    pd.read_csv(scored["table"]).to_csv(foreign, index=False)
    reg = discover_inputs(read_table(foreign), exclude=["mos"])
    assert sorted((i.column, i.metric) for i in reg) == sorted((i.column, i.metric) for i in meta)


def test_fit_reports_each_inputs_declared_direction_and_flags_a_contradiction(scored):
    from videojury.io import read_table
    from videojury.train.fusion_fit import fit_fusion

    df = read_table(scored["table"])
    df["mos"] = pd.to_numeric(df["mos"])
    _, report = fit_fusion(df, folds=3)
    t = report.table().set_index("model")
    assert t.loc["brisque", "direction"] == "lower" and t.loc["flicker", "direction"] == "higher"
    assert not [n for n in report.notes if n.startswith("brisque")]
    # Labels upside down (a 1-is-best scale read as 5-is-best): BRISQUE now "rises with" MOS.
    df["mos"] = 200.0 - df["mos"]
    _, flipped = fit_fusion(df, folds=3)
    assert any(n.startswith("brisque is lower-is-better but rises with the MOS") for n in flipped.notes)

"""Field metadata travels with results tables; directions are read from it, never guessed.

The issue's repro: ``score -m niqe:frames=2 -m niqe:frames=2,pool=median``
names its columns ``niqe[niqe:frames=2]`` and ``niqe[niqe:frames=2,pool=median]``;
``correlate`` looked them up by bare field name, fell back to "higher is
better" and reported SRCC -0.88 for NIQE (a lower-is-better score).
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from videojury import io
from videojury.cli import main
from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.errors import InputError
from videojury.metrics.base import ResultField, load_metric
from videojury.run.results import result_fields
from videojury.video import write_video

SPEC = ClipSpec(width=192, height=144, frames=6, fps=6.0)


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    """3 scenes x (pristine, blur 1-3, noise 1-3): 21 clips, MOS falling with the level."""
    root = tmp_path_factory.mktemp("clips")
    v = root / "v"
    v.mkdir()
    rows = []
    for c in range(3):
        clip = make_clip(c, SPEC)
        for kind, level in [("none", 0)] + [(k, lv) for k in ("blur", "noise") for lv in (1, 2, 3)]:
            name = f"s{c}_{kind}{level}.mp4"
            write_video(v / name, degrade(clip, kind, level, seed=c), fps=SPEC.fps)
            rows.append({"video": name, "mos": 90.0 - 25.0 * level + c})
    pd.DataFrame(rows).to_csv(root / "mos.csv", index=False)
    return root


def _srcc(table: pd.DataFrame) -> dict[str, float]:
    t = table[(table["level"] == "instance") & (table["breakdown"] == "all")]
    return dict(zip(t["field"], t["srcc"]))


def test_repro_two_niqe_columns_get_the_single_runs_positive_srcc(clips, tmp_path):
    v, mos = clips / "v", clips / "mos.csv"
    assert main(["score", str(v), "-m", "niqe:frames=2", "--out", str(tmp_path / "one.csv"),
                 "--store", str(tmp_path / "s.sqlite"), "--quiet"]) == 0
    assert main(["score", str(v), "-m", "niqe:frames=2", "-m", "niqe:frames=2,pool=median",
                 "--out", str(tmp_path / "two.csv"), "--store", str(tmp_path / "s.sqlite"), "--quiet"]) == 0
    side = json.loads((tmp_path / "two.csv.fields.json").read_text())
    assert side["format"] == "videojury-fields"
    assert [f["column"] for f in side["fields"]] == ["niqe[niqe:frames=2]",
                                                     "niqe[niqe:frames=2,pool=median]"]
    assert {f["higher_is_better"] for f in side["fields"]} == {False}
    assert {f["metric"] for f in side["fields"]} == {"niqe:frames=2", "niqe:frames=2,pool=median"}
    for name in ("one", "two"):
        assert main(["correlate", str(tmp_path / f"{name}.csv"), "--human", str(mos),
                     "--bootstrap", "0", "--no-breakdown", "-o", str(tmp_path / f"{name}_agree.csv")]) == 0
    one = _srcc(pd.read_csv(tmp_path / "one_agree.csv"))
    two = _srcc(pd.read_csv(tmp_path / "two_agree.csv"))
    assert one["niqe"] > 0.5
    # Same frames, same metric: the mean-pooled column equals the single run exactly.
    assert two["niqe[niqe:frames=2]"] == one["niqe"]
    # With 2 frames the median is the mean: the same value again, and positive.
    assert two["niqe[niqe:frames=2,pool=median]"] == pytest.approx(one["niqe"], abs=1e-12)
    assert set(pd.read_csv(tmp_path / "two_agree.csv")["direction"]) == {"lower"}


def test_results_table_carries_one_field_per_score_column():
    a, b = load_metric("niqe:frames=2"), load_metric("niqe:frames=2,pool=median")
    fields = result_fields([a, b, load_metric("flicker")])
    assert [f.column for f in fields] == ["niqe[niqe:frames=2]", "niqe[niqe:frames=2,pool=median]",
                                          "flicker"]
    f = fields[1]
    assert (f.name, f.field, f.metric, f.higher_is_better) == ("niqe", "niqe",
                                                              "niqe:frames=2,pool=median", False)
    assert json.loads(f.options)["pool"] == "median" and f.version == a.version
    assert fields[2].higher_is_better is True
    assert ResultField.from_dict(f.to_dict()) == f


@pytest.mark.parametrize("ext", ["csv", "tsv", "jsonl", "json", "parquet"])
def test_fields_round_trip_every_format(tmp_path, ext):
    df = pd.DataFrame({"video": ["a.mp4", "b.mp4"], "niqe": [3.0, 5.0], "note": ["x", "y"]})
    fields = [ResultField("niqe", "niqe", False, 0.0, None, "naturalness", name="niqe",
                          version="1", options="{}", field="niqe")]
    p = io.write_table(df, tmp_path / f"t.{ext}", fields=fields)
    side = io.fields_sidecar(p)
    assert side.exists() == (ext != "parquet")  # Parquet keeps it in its schema metadata
    back = io.read_table(p)
    assert io.table_fields(back) == {"niqe": fields[0]}
    assert io.field_directions(back) == {"niqe": False}
    assert io.score_columns(back) == ["niqe"]
    assert back.attrs["source"] == str(p)
    # Rewriting the path with a table that has no metadata removes the stale sidecar.
    io.write_table(df, p)
    assert not side.exists()
    assert io.field_directions(io.read_table(p)) == {}


def test_attrs_survive_slicing_and_unknown_columns_are_dropped():
    df = pd.DataFrame({"video": ["a", "b", "c"], "x": [1.0, 2.0, 3.0]})
    io.attach_fields(df, [ResultField("x", higher_is_better=False), ResultField("gone")])
    assert list(io.table_fields(df)) == ["x"]
    assert io.field_directions(df[df["x"] > 1].copy()) == {"x": False}


def test_foreign_table_needs_directions_and_names_the_columns():
    df = pd.DataFrame({"video": ["a", "b"], "sharp": [1.0, 2.0], "fvd": [3.0, 1.0],
                       "model": ["m", "n"]})
    df.attrs["source"] = "their.csv"
    assert io.score_columns(df) == ["sharp", "fvd"]  # no metadata: the numeric non-item columns
    with pytest.raises(InputError, match=r"their.csv: direction unknown for column\(s\) 'sharp', "
                                         r"'fvd'.*no videojury field metadata"):
        io.resolve_directions(df, ["sharp", "fvd"])
    assert io.resolve_directions(df, ["sharp", "fvd"], higher_better=["sharp"],
                                 lower_better=["fvd"]) == {"sharp": True, "fvd": False}
    with pytest.raises(InputError, match="both --higher-better and --lower-better"):
        io.resolve_directions(df, ["fvd"], higher_better=["fvd"], lower_better=["fvd"])
    # Metadata that does not cover a column is also refused, not filled in.
    io.attach_fields(df, [ResultField("sharp", higher_is_better=True)])
    with pytest.raises(InputError, match="'fvd'.*does not cover"):
        io.resolve_directions(df, ["sharp", "fvd"])
    # A flag overrides the metadata.
    assert io.resolve_directions(df, ["sharp"], lower_better=["sharp"]) == {"sharp": False}


def test_a_broken_sidecar_is_a_clear_error(tmp_path):
    p = io.write_table(pd.DataFrame({"video": ["a"], "s": [1.0]}), tmp_path / "t.csv",
                       fields=[ResultField("s")])
    side = io.fields_sidecar(p)
    side.write_text("{not json")
    with pytest.raises(InputError, match=r"t.csv.fields.json: not valid JSON"):
        io.read_table(p)
    side.write_text(json.dumps({"format": "videojury-fields", "fields": [{"column": "s",
                                                                         "higher_is_better": "yes"}]}))
    with pytest.raises(InputError, match="higher_is_better must be true, false or null"):
        io.read_table(p)
    side.write_text(json.dumps({"fields": []}))
    with pytest.raises(InputError, match="not a videojury field metadata file"):
        io.read_table(p)


def test_write_json_is_plain_and_atomic(tmp_path):
    p = io.write_json({"a": np.float32(0.5), "b": [np.int64(3), float("nan")], "c": np.bool_(True),
                       "d": pd.DataFrame({"x": [1.0, None]})}, tmp_path / "sub" / "x.json")
    assert json.loads(p.read_text()) == {"a": 0.5, "b": [3, None], "c": True,
                                         "d": [{"x": 1.0}, {"x": None}]}
    assert not list(tmp_path.glob("sub/*.part"))

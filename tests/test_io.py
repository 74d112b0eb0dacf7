"""videojury.io: the one reader and writer of tables and JSON (strict, atomic).

Field metadata (sidecars, Parquet metadata, directions) is tested in
test_fields_metadata.py; here, the reading rules that moved here from
``data/items.py`` and ``human/importers.py`` and the writers that replace
``run/store.export_frame``, ``human/importers.write_table`` and the two
``write_json``.
"""

from __future__ import annotations

import json

import pandas as pd
import pytest

from videojury import io
from videojury.errors import InputError


def test_text_stays_text_in_every_format(tmp_path):
    df = pd.DataFrame({"video": ["001.mp4", "2e3"], "prompt_id": ["007", "8"], "x": ["1.50", ""]})
    for ext in ("csv", "tsv"):
        p = tmp_path / f"t.{ext}"
        df.to_csv(p, index=False, sep="\t" if ext == "tsv" else ",")
        back = io.read_table(p)
        assert back["prompt_id"].tolist() == ["007", "8"]  # no int guessing: zeros kept
        assert back["x"].tolist()[0] == "1.50" and pd.isna(back["x"].tolist()[1])
    p = io.write_table(df, tmp_path / "t.parquet")
    assert io.read_table(p)["video"].tolist() == ["001.mp4", "2e3"]


@pytest.mark.parametrize("name, text, message", [
    ("a.jsonl", '{"video": "a"}\n{"video": \n', r"a.jsonl line 2: not valid JSON"),
    ("a.jsonl", '{"video": "a"}\n[1, 2]\n', r"line 2: expected a JSON object, got list"),
    ("a.ndjson", "\n\n", "the file has no rows"),
    ("a.json", '[{"video": "a"}, 3]', r"element 2 of the list is a int"),
    ("a.json", '{"video": [1, 2', "not valid JSON"),
    ("a.json", "7", "expected a list of objects"),
    ("a.csv", "", "the file is empty"),
    ("a.xlsx", "x", r"unsupported table format '.xlsx'"),
])
def test_bad_files_name_the_file_and_line(tmp_path, name, text, message):
    p = tmp_path / name
    p.write_text(text)
    with pytest.raises(InputError, match=message):
        io.read_table(p)


def test_missing_folder_and_non_utf8(tmp_path):
    with pytest.raises(InputError, match="nope.csv: file does not exist"):
        io.read_table(tmp_path / "nope.csv")
    with pytest.raises(InputError, match="is a folder"):
        io.read_table(tmp_path)
    (tmp_path / "l1.csv").write_bytes("video\ncaf\xe9.mp4\n".encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        io.read_table(tmp_path / "l1.csv")


def test_json_shapes_accepted(tmp_path):
    (tmp_path / "m.json").write_text(json.dumps({"a.mp4": "a cat", "b.mp4": "a dog"}))
    assert io.read_table(tmp_path / "m.json").to_dict("list") == {"video": ["a.mp4", "b.mp4"],
                                                                 "prompt": ["a cat", "a dog"]}
    # One object per line under a .json name (LOVE ships such files), and a list under .jsonl.
    (tmp_path / "l.json").write_text('{"video": "a", "mos": 1}\n{"video": "b", "mos": 2}\n')
    assert io.read_table(tmp_path / "l.json")["mos"].tolist() == [1, 2]
    (tmp_path / "l.jsonl").write_text('[{"video": "a"}, {"video": "b"}]')
    assert io.read_records(tmp_path / "l.jsonl") == [{"video": "a"}, {"video": "b"}]


def test_write_table_by_suffix_round_trips(tmp_path):
    df = pd.DataFrame({"video": ["a", "b"], "s": [0.25, None], "note": ["é", "x"]})
    for ext in ("csv", "tsv", "jsonl", "json", "parquet"):
        back = io.read_table(io.write_table(df, tmp_path / "out" / f"t.{ext}"))
        assert back["video"].tolist() == ["a", "b"] and back["note"].tolist() == ["é", "x"]
        assert float(back["s"].iloc[0]) == 0.25 and pd.isna(back["s"].iloc[1])
    with pytest.raises(InputError, match=r"unknown output format '.xlsx'"):
        io.write_table(df, tmp_path / "t.xlsx")
    assert not (tmp_path / "t.xlsx").exists()


def test_a_failed_write_leaves_the_old_file_and_no_part_file(tmp_path):
    p = io.write_table(pd.DataFrame({"a": [1]}), tmp_path / "t.parquet")
    before = p.read_bytes()
    bad = pd.DataFrame({"a": [object()]})  # not serialisable to Parquet
    with pytest.raises(Exception):
        io.write_table(bad, p)
    assert p.read_bytes() == before
    assert sorted(x.name for x in tmp_path.iterdir()) == ["t.parquet"]


def test_write_json_writes_non_finite_as_null_and_paths_as_text(tmp_path):
    p = io.write_json({"inf": float("inf"), "path": tmp_path, "t": (1, 2)}, tmp_path / "x.json",
                      sort_keys=True)
    assert json.loads(p.read_text()) == {"inf": None, "path": str(tmp_path), "t": [1, 2]}
    assert p.read_text().endswith("\n")
    assert io.read_json(p)["t"] == [1, 2]
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(InputError, match=r"bad.json: not valid JSON"):
        io.read_json(tmp_path / "bad.json")


def test_sidecar_names():
    assert io.sidecar("r/res.csv", "models").as_posix() == "r/res.models.csv"
    assert io.sidecar("r/res.csv", "meta", ".json").as_posix() == "r/res.meta.json"
    assert io.fields_sidecar("r/res.csv").as_posix() == "r/res.csv.fields.json"

"""Readers for ratings, human labels and LOVE / AIGVE-60K JSONL files."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from videojury.errors import InputError
from videojury.human.importers import (
    guess_love_kind,
    load_human_labels,
    load_love_jsonl,
    load_ratings,
    read_table,
    write_table,
)


def _jsonl(path, records):
    path.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    return path


def _love(video, mos, question="How would you rate the quality of this video?", answer="good"):
    rec = {"video": video, "conversations": [
        {"from": "human", "value": f"<video>\n{question}"},
        {"from": "gpt", "value": answer},
    ]}
    if mos is not None:
        rec["mos"] = mos
    return rec


def test_love_perception_and_correspondence(tmp_path):
    p = _jsonl(tmp_path / "train_perception.jsonl", [_love("Sora/001.mp4", 71.5), _love("Lavie/001.mp4", 40.25)])
    df = load_love_jsonl(p)
    assert df.attrs["love_kind"] == "perception"
    assert df["dimension"].tolist() == ["perception", "perception"]
    assert df["mos"].tolist() == [71.5, 40.25]
    assert df["instruction"].iloc[0] == "How would you rate the quality of this video?"  # <video> tag stripped
    c = _jsonl(tmp_path / "test_correspondence.jsonl",
               [_love("Sora/001.mp4", 55, question="How well does the video match the prompt 'a red fox'?")])
    dc = load_human_labels(c)
    assert dc["dimension"].tolist() == ["correspondence"]
    assert dc["mos"].tolist() == [55.0]


def test_love_qa_file_keeps_unparseable_answers(tmp_path):
    p = _jsonl(tmp_path / "aigve_qa.jsonl", [
        _love("a.mp4", None, "Is there a dog in the video? Please answer yes or no.", "Yes"),
        _love("a.mp4", None, "Is the dog running?", "No."),
        _love("b.mp4", None, "Is it raining?", "hard to say"),
    ])
    df = load_love_jsonl(p)
    assert df.attrs["love_kind"] == "qa"
    assert df["answer_norm"].tolist() == ["yes", "no", None]
    assert df["question"].iloc[0].startswith("Is there a dog")
    # A QA file is not MOS labels.
    with pytest.raises(InputError, match="QA file"):
        load_human_labels(p)


def test_love_json_list_and_model_from_path(tmp_path):
    p = tmp_path / "labels.json"
    p.write_text(json.dumps([_love("Sora/001.mp4", 60), _love("Gen3/001.mp4", 50)]))
    df = load_love_jsonl(p, kind="perception", model_from_path=True)
    assert df["model"].tolist() == ["Sora", "Gen3"]


def test_love_errors_name_row_and_field(tmp_path):
    p = _jsonl(tmp_path / "perception.jsonl", [_love("a.mp4", 50), _love("b.mp4", "high")])
    with pytest.raises(InputError, match=r"row 2: field 'mos' is not a number"):
        load_love_jsonl(p)
    p2 = _jsonl(tmp_path / "perception2.jsonl", [{"video": "a.mp4", "mos": 3}])
    with pytest.raises(InputError, match=r"row 1: field 'conversations'"):
        load_love_jsonl(p2)
    p3 = tmp_path / "broken.jsonl"
    p3.write_text('{"video": "a.mp4"}\n{not json\n')
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        load_love_jsonl(p3)
    p4 = _jsonl(tmp_path / "perception4.jsonl", [_love("a.mp4", 50), _love("a.mp4", 60)])
    with pytest.raises(InputError, match="appears twice"):
        load_love_jsonl(p4)


def test_guess_kind():
    assert guess_love_kind("data/train_perception.jsonl") == "perception"
    assert guess_love_kind("corr_test.jsonl") == "correspondence"
    assert guess_love_kind("aigve60k_qa.jsonl") == "qa"
    assert guess_love_kind("labels.jsonl") is None


def test_generic_ratings_csv_with_custom_columns(tmp_path):
    p = tmp_path / "r.csv"
    pd.DataFrame({"worker": ["w1", "w2"], "clip": ["0001.mp4", "0001.mp4"], "rating": ["4", "5"]}).to_csv(p, index=False)
    df = load_ratings(p, rater="worker", video="clip", score="rating")
    assert df.columns.tolist() == ["rater", "video", "dimension", "score"]
    assert df["video"].tolist() == ["0001.mp4", "0001.mp4"]  # numeric-looking names stay text
    assert df["dimension"].tolist() == ["overall", "overall"]


@pytest.mark.parametrize(
    ("frame", "message"),
    [
        ({"rater": ["a"], "video": ["x"]}, "missing column.*'score'"),
        ({"rater": ["a", "b"], "video": ["x", "x"], "score": ["3", "three"]}, "row 2: field 'score' is not a number"),
        ({"rater": ["a", "b"], "video": ["x", "x"], "score": ["3", ""]}, "row 2: field 'score' is missing"),
        ({"rater": ["a", ""], "video": ["x", "x"], "score": ["3", "4"]}, "row 2: field 'rater' is empty"),
        ({"rater": ["a", "b", "a"], "video": ["x", "x", "x"], "score": ["3", "4", "3"]},
         r"row 3: rater 'a' already rated video 'x' in dimension 'overall' \(row 1\)"),
    ],
)
def test_ratings_errors(tmp_path, frame, message):
    p = tmp_path / "r.csv"
    pd.DataFrame(frame).to_csv(p, index=False)
    with pytest.raises(InputError, match=message):
        load_ratings(p)


def test_generic_labels_and_roundtrip_formats(tmp_path):
    df = pd.DataFrame({"video": ["a.mp4", "b.mp4"], "mos": [1.5, 2.5], "dimension": ["q", "q"], "model": ["m", "n"]})
    for ext in ("csv", "jsonl", "parquet", "tsv", "json"):
        p = write_table(df, tmp_path / f"labels.{ext}")
        back = load_human_labels(p)
        assert back["mos"].tolist() == [1.5, 2.5]
        assert back["model"].tolist() == ["m", "n"]
    dup = tmp_path / "dup.csv"
    pd.DataFrame({"video": ["a", "a"], "mos": [1, 2]}).to_csv(dup, index=False)
    with pytest.raises(InputError, match="row 2: video 'a' has a second"):
        load_human_labels(dup)
    with pytest.raises(InputError, match="file does not exist"):
        read_table(tmp_path / "nope.csv")

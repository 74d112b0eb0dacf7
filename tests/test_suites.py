"""Prompt suites: the videojury format, its validation, and the VBench and LOVE adapters."""

from __future__ import annotations

import json

import pytest

from videojury.data.suites import (
    builtin_suites,
    from_love,
    from_vbench,
    load_suite,
    suite_from_records,
)
from videojury.errors import InputError


def test_builtin_demo_suite():
    assert "demo" in builtin_suites()
    s = load_suite("demo")
    assert s.name == "demo" and len(s) == 6
    assert s.dimensions == ["multiple_objects", "motion"]
    assert s.n_questions == 12
    q = s.questions_frame()
    assert set(q["expected"]) == {"yes", "no"}
    assert (q.groupby("prompt_id").size() == 2).all()


def test_csv_one_row_per_question(tmp_path):
    p = tmp_path / "suite.csv"
    p.write_text(
        "prompt_id,prompt,dimension,question,expected,seed\n"
        "cat,a cat on a sofa,object|color,Is there a cat?,Yes.,7\n"
        "cat,a cat on a sofa,,Is the sofa red?,NO,7\n"
        "dog,a dog running,motion,Does the dog move?,true,3\n"
        "sky,an empty sky,,,,1\n")
    s = load_suite(p)
    assert s.ids == ["cat", "dog", "sky"]
    assert s["cat"].dimensions == ("object", "color")
    assert [(q.question, q.expected) for q in s["cat"].questions] == [
        ("Is there a cat?", "yes"), ("Is the sofa red?", "no")]
    assert s["dog"].questions[0].expected == "yes"
    assert s["sky"].questions == () and s["sky"].dimensions == ()
    assert s["cat"].extra == {"seed": "7"}
    assert s.dimensions == ["object", "color", "motion"]
    # Round trips through both written formats.
    for name in ("again.jsonl", "again.csv"):
        back = load_suite(s.write(tmp_path / name))
        assert back.ids == s.ids
        assert [sp.questions for sp in back.prompts] == [sp.questions for sp in s.prompts]
        assert [sp.dimensions for sp in back.prompts] == [sp.dimensions for sp in s.prompts]


def test_jsonl_nested_questions_and_list_dimensions(tmp_path):
    p = tmp_path / "suite.jsonl"
    p.write_text(json.dumps({"prompt_id": "a", "prompt": "two red apples",
                             "dimension": ["count", "color"],
                             "questions": [{"question": "Are there two apples?",
                                            "expected": "yes", "dimension": "count"}]}) + "\n")
    s = load_suite(p)
    assert s["a"].dimensions == ("count", "color")
    q = s["a"].questions[0]
    assert q.dimensions == ("count",)
    assert s.questions_frame()["dimension"].tolist() == ["count"]


@pytest.mark.parametrize("text, message", [
    ("id,prompt\nx,a cat\n", "no 'prompt_id' column"),
    ("prompt_id,prompt\n,a cat\n", "row 1, column 'prompt_id': empty"),
    ("prompt_id,prompt\nx,\n", "row 1, column 'prompt': empty for prompt_id 'x'"),
    ("prompt_id,prompt\nx,a cat\nx,a dog\n", "row 2: prompt_id 'x' has a different prompt than "
                                            "row 1"),
    ("prompt_id,prompt,question\nx,a cat,Is it a cat?\n", "has no 'expected' answer"),
    ("prompt_id,prompt,question,expected\nx,a cat,Is it a cat?,maybe\n",
     "'maybe' is not a yes/no answer"),
    ("prompt_id,prompt,question,expected\nx,a cat,Q?,yes\nx,a cat,Q?,no\n",
     "question 'Q?' of prompt 'x' repeats row 1"),
    ("prompt_id,prompt\n", "the suite has no prompts"),
    ("", "the suite has no prompts"),
])
def test_invalid_suites_give_clear_messages(tmp_path, text, message):
    p = tmp_path / "suite.csv"
    p.write_text(text)
    with pytest.raises(InputError) as exc:
        load_suite(p)
    assert message in str(exc.value)
    assert "suite.csv" in str(exc.value)


def test_unknown_suite_name_lists_builtins():
    with pytest.raises(InputError, match="built-in suites: demo"):
        load_suite("no-such-suite")


def test_vbench_full_info_adapter(tmp_path):
    info = [
        {"prompt_en": "a dog running on the beach", "dimension": ["subject_consistency",
                                                                  "dynamic_degree"]},
        {"prompt_en": "a cat and a dog", "dimension": ["multiple_objects"],
         "auxiliary_info": {"multiple_objects": {"object": "cat and dog"}}},
        {"prompt_en": "A 3D model of a 1800s victorian house.",
         "dimension": ["overall_consistency"]},
        # The same prompt listed again under another dimension merges into one entry.
        {"prompt_en": "a dog running on the beach", "dimension": ["motion_smoothness"]},
    ]
    p = tmp_path / "VBench_full_info.json"
    p.write_text(json.dumps(info))
    s = load_suite(p)  # recognised by its "prompt_en" key
    assert len(s) == 3
    dog = s["a dog running on the beach"]
    assert dog.prompt == dog.prompt_id  # VBench names videos by the prompt text
    assert dog.dimensions == ("subject_consistency", "dynamic_degree", "motion_smoothness")
    assert s["a cat and a dog"].extra["auxiliary_info"] == {
        "multiple_objects": {"object": "cat and dog"}}
    only = from_vbench(p, dimensions=["multiple_objects"])
    assert only.ids == ["a cat and a dog"]
    with pytest.raises(InputError, match="no prompt has dimension 'color'"):
        from_vbench(p, dimensions=["color"])


def test_vbench_prompt_list_adapter(tmp_path):
    p = tmp_path / "all_dimension.txt"
    p.write_text("a dog running\n\n  a cat sleeping  \na dog running\n")
    s = load_suite(p)
    assert s.ids == ["a dog running", "a cat sleeping"]  # blank lines and repeats dropped
    assert s.dimensions == []


def test_love_prompt_file_adapter(tmp_path):
    d = tmp_path / "love"
    d.mkdir()
    (d / "prompt.txt").write_text("A cat is drinking a cup of water.\n"
                                  "A yellow shark is swimming under the water.\n")
    s = from_love(d / "prompt.txt")
    assert s.ids == ["p0001", "p0002"]
    assert s["p0002"].prompt == "A yellow shark is swimming under the water."
    # With LOVE's video_names.txt next to it, ids are the video stems (line by line);
    # the same prompt for two models' videos collapses to one entry.
    (d / "prompt.txt").write_text("A cat drinks.\nA cat drinks.\nA shark swims.\n")
    (d / "video_names.txt").write_text("modelA/0001.mp4\nmodelB/0001.mp4\nmodelA/0002.mp4\n")
    s = load_suite(d / "prompt.txt")  # auto: a .txt with video_names.txt beside it is LOVE's
    assert s.name == "love" and s.ids == ["0001", "0002"]
    (d / "video_names.txt").write_text("modelA/0001.mp4\n")
    with pytest.raises(InputError, match="lists 1 videos but .* has 3 prompts"):
        from_love(d / "prompt.txt")
    (d / "video_names.txt").write_text("a/0001.mp4\nb/0001.mp4\nc/0002.mp4\n")
    (d / "prompt.txt").write_text("one\ntwo\nthree\n")
    with pytest.raises(InputError, match="video stem '0001' has two different prompts"):
        from_love(d / "prompt.txt")


def test_txt_in_videojury_format_is_refused(tmp_path):
    p = tmp_path / "prompts.txt"
    p.write_text("a cat\n")
    with pytest.raises(InputError, match="--suite-format vbench or love"):
        load_suite(p, "videojury")


def test_suite_from_records():
    s = suite_from_records([{"prompt_id": "a", "prompt": "x", "question": "Q?",
                             "expected": "No"}])
    assert s["a"].questions[0].expected == "no"

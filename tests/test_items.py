"""Manifests, folders and their validation."""

from __future__ import annotations

import json

import pandas as pd
import pytest

import videojury
from videojury.data import load_items, load_manifest
from videojury.errors import InputError


def test_manifest_paths_are_relative_to_the_manifest(video_dir, tmp_path):
    m = video_dir / "m.csv"
    pd.DataFrame({"video": ["a.mp4", "b.mp4"], "prompt": ["x", "y"], "model": ["m1", "m2"],
                  "human_mos": ["55.5", "60"]}).to_csv(m, index=False)
    items = load_manifest(m)
    assert items[0].video == str(video_dir / "a.mp4")
    assert items[1].model == "m2" and items[1].extra == {"human_mos": "60"}
    assert items[1].where == f"{m} row 2"


@pytest.mark.parametrize("fmt", ["csv", "jsonl", "parquet"])
def test_manifest_formats_and_passthrough_columns(video_dir, fmt):
    df = pd.DataFrame({"video": ["a.mp4", "c.mp4"], "prompt": ["p1", "p2"], "mos": [1.5, 2.5]})
    path = video_dir / f"manifest.{fmt}"
    if fmt == "csv":
        df.to_csv(path, index=False)
    elif fmt == "jsonl":
        df.to_json(path, orient="records", lines=True)
    else:
        df.to_parquet(path)
    out = videojury.score(str(path), metrics=["flicker"])
    assert list(out.columns[:3]) == ["video", "prompt", "mos"]
    assert out["mos"].astype(float).tolist() == [1.5, 2.5]
    assert out["error"].isna().all()


def test_missing_video_column(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("path,prompt\na.mp4,x\n")
    with pytest.raises(InputError, match=r"m.csv: no 'video' column \(columns found: path, prompt"):
        load_manifest(m)


def test_duplicate_rows(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("video,prompt\na.mp4,x\nb.mp4,x\na.mp4,x\n")
    with pytest.raises(InputError, match="m.csv row 3: duplicate of row 1"):
        load_manifest(m)


def test_empty_video_cell_names_row_and_column(tmp_path):
    m = tmp_path / "m.csv"
    m.write_text("video,prompt\na.mp4,x\n,y\n")
    with pytest.raises(InputError, match="row 2, column 'video'"):
        load_manifest(m)


def test_unreadable_encoding(tmp_path):
    m = tmp_path / "m.csv"
    m.write_bytes("video,prompt\na.mp4,caf\u00e9\n".encode("latin-1"))
    with pytest.raises(InputError, match="not valid UTF-8"):
        load_manifest(m)


def test_malformed_jsonl_names_line(tmp_path):
    m = tmp_path / "m.jsonl"
    m.write_text('{"video": "a.mp4"}\n{"video": \n')
    with pytest.raises(InputError, match="line 2: not valid JSON"):
        load_manifest(m)


def test_metric_needing_prompts_on_manifest_without_them(video_dir):
    from videojury.data.items import check_text_needs

    items = load_items([video_dir / "a.mp4"])
    with pytest.raises(InputError, match="needs a prompt.*no 'prompt' column"):
        check_text_needs(items, "vqascore", True, False)
    items[0].prompt = "x"
    items.append(load_items([video_dir / "b.mp4"])[0])
    with pytest.raises(InputError, match="column 'prompt' is empty for .*b.mp4"):
        check_text_needs(items, "vqascore", True, False)


def test_folder_with_prompts_file(video_dir, tmp_path):
    prompts = tmp_path / "prompts.json"
    prompts.write_text(json.dumps({"a.mp4": "a red ball", "b.mp4": "a blue box"}))
    items = load_items(video_dir, prompts)
    by_name = {it.video.rsplit("/", 1)[-1]: it.prompt for it in items}
    assert by_name["a.mp4"] == "a red ball" and by_name["c.mp4"] is None


def test_empty_folder(tmp_path):
    with pytest.raises(InputError, match="no video or image files"):
        load_items(tmp_path)

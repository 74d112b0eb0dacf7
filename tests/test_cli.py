"""The command line, run as a user would."""

from __future__ import annotations

import json
import subprocess
import sys

import pandas as pd
import pytest

from videojury.cli import main


def test_score_folder_with_bad_files_exits_1_and_records_errors(bad_dir, tmp_path, capsys):
    out = tmp_path / "res.csv"
    code = main(["score", str(bad_dir), str(bad_dir / "nope.mp4"), "-m", "flicker",
                 "--store", str(tmp_path / "s.sqlite"), "--out", str(out)])
    assert code == 1
    df = pd.read_csv(out)
    assert len(df) == 6
    ok = df[df["error"].isna()]
    assert sorted(p.rsplit("/", 1)[-1] for p in ok["video"]) == ["good1.mp4", "good2.mp4"]
    err = capsys.readouterr().err
    assert "4 of 6 videos had errors" in err
    assert "2 computed, 0 cached, 4 failed" not in err  # 6 computed: errors are results too
    assert "6 computed, 0 cached, 4 failed" in err


def test_unknown_metric_is_a_clear_usage_error(video_dir, capsys):
    assert main(["score", str(video_dir), "-m", "flickr", "--no-store"]) == 2
    assert "unknown metric 'flickr'" in capsys.readouterr().err


def test_metric_names_joined_by_commas_are_several_metrics(video_dir, tmp_path):
    out = tmp_path / "res.csv"
    code = main(["score", str(video_dir), "-m", "flicker,frozen",
                 "-m", "frozen:threshold=0.4,max_frames=4", "--no-store", "--quiet",
                 "--out", str(out)])
    df = pd.read_csv(out)
    assert code == 0, df["error"].tolist()
    assert list(df.columns) == ["video", "flicker",
                                "frozen_ratio[frozen]", "frozen_longest[frozen]",
                                "frozen_ratio[frozen:max_frames=4,threshold=0.4]",
                                "frozen_longest[frozen:max_frames=4,threshold=0.4]", "error"]
    assert df["error"].isna().all()


def test_split_metric_specs_keeps_options_together():
    from videojury.cli._common import split_metric_specs

    assert split_metric_specs("hosa, qac,") == ["hosa", "qac"]
    assert split_metric_specs("niqe:pool=median,frames=8") == ["niqe:pool=median,frames=8"]
    assert split_metric_specs("trained:/x,y") == ["trained:/x,y"]
    assert split_metric_specs("flicker") == ["flicker"]


def test_missing_manifest_column_message(tmp_path, capsys):
    m = tmp_path / "m.csv"
    m.write_text("file,prompt\na.mp4,x\n")
    assert main(["score", str(m), "-m", "flicker", "--no-store"]) == 2
    err = capsys.readouterr().err
    assert "m.csv" in err and "no 'video' column" in err


def test_metrics_listing_json(capsys):
    assert main(["metrics", "--json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    by = {r["name"]: r for r in rows}
    assert by["flicker"]["fields"][0] == {"name": "flicker", "range": [0.0, 1.0],
                                          "higher_is_better": True,
                                          "description": by["flicker"]["fields"][0]["description"]}
    assert by["frozen"]["extra"] == "core"


def test_export_store(video_dir, tmp_path):
    store = tmp_path / "s.sqlite"
    assert main(["score", str(video_dir), "-m", "flicker", "--store", str(store), "--quiet"]) == 0
    assert main(["export", str(store), "-o", str(tmp_path / "all.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "all.parquet")) == 3


@pytest.mark.slow
def test_demo_runs_offline_and_ranks(tmp_path):
    run = subprocess.run([sys.executable, "-m", "videojury", "demo", "--clips", "1",
                          "--out", str(tmp_path)], capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr
    ranking = pd.read_csv(tmp_path / "ranking.csv")
    assert len(ranking) == 19 and "pristine" in set(ranking["condition"])
    assert "Degradations ranked" in run.stdout
    # the heaviest flicker is the worst by the flicker metric
    worst = ranking.sort_values("flicker").iloc[0]["condition"]
    assert worst == "flicker-3"

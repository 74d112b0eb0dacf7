"""LOVE's two V2T tables from ``correlate --v2t`` on a synthetic AIGVE-60K-shaped dataset."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from videojury.analysis.leaderboard import competition_rank
from videojury.analysis.v2t import (parse_evaluator, synthetic_aigve, v2t_tables,
                                    write_synthetic_aigve)
from videojury.cli import main
from videojury.errors import InputError


@pytest.fixture(scope="module")
def data():
    return synthetic_aigve(seed=0)


def test_v2t_tables_rank_the_known_order(data):
    human = pd.concat([data["perception"], data["correspondence"]], ignore_index=True)
    fields = [c for c in data["predictions"].columns if c not in ("video", "model", "prompt_id", "dimension")]
    tables, notes = v2t_tables(data["predictions"], human, data["evaluators"],
                               qa_predictions=data["qa_predictions"], qa_human=data["qa"],
                               directions={f: "higher" for f in fields})
    assert notes == []
    inst = tables["instance"].set_index("evaluator")
    # Known by construction: less noise -> higher SRCC and accuracy.
    assert list(tables["instance"]["evaluator"]) == ["oracle", "good", "fair", "quality_only", "random"]
    assert inst.loc["oracle", "perception_srcc"] > inst.loc["good", "perception_srcc"] > \
        inst.loc["fair", "perception_srcc"] > inst.loc["random", "perception_srcc"]
    assert inst.loc["oracle", "qa_acc"] > inst.loc["good", "qa_acc"] > inst.loc["fair", "qa_acc"] > 0.6
    assert abs(inst.loc["random", "qa_acc"] - 0.5) < 0.1
    # quality_only: strong on perception, nothing on correspondence, no QA (last QA rank: 4 answer)
    assert inst.loc["quality_only", "rank:perception_srcc"] == 2
    assert abs(inst.loc["quality_only", "correspondence_srcc"]) < 0.15
    assert inst.loc["quality_only", "rank:qa_acc"] == 5
    # ranks and rank sums recomputed by hand: competition ranks of the rank sums
    t = tables["instance"]
    sums = t[["rank:perception_srcc", "rank:correspondence_srcc", "rank:qa_acc"]].sum(axis=1)
    assert t["rank_sum"].tolist() == sums.tolist()
    assert t["overall_rank"].tolist() == competition_rank(sums.to_numpy(), False).tolist()
    mod = tables["model"].set_index("evaluator")
    # 8 models: oracle and good order the models perfectly on both axes, a shared rank 1
    assert mod.loc["oracle", "perception_srcc"] == pytest.approx(1.0)
    assert mod.loc["oracle", "rank:perception_srcc"] == mod.loc["good", "rank:perception_srcc"] == 1
    assert mod.loc["oracle", "qa_acc"] > 0.9 > mod.loc["random", "qa_acc"]
    assert tables["model"]["overall_rank"].tolist() == [1, 2, 3, 3, 5]  # competition ties


def test_correlate_v2t_cli_prints_both_tables(data, tmp_path, capsys):
    args = write_synthetic_aigve(tmp_path)
    fields = [c for c in data["predictions"].columns if c not in ("video", "model", "prompt_id", "dimension")]
    with open(tmp_path / "perception_test.jsonl") as fh:  # LOVE's layout: MOS in the gpt turn
        first = json.loads(fh.readline())
    assert first["conversations"][1]["value"] == f"{data['perception']['mos'][0]:.2f}"
    assert main(args) == 0
    text = capsys.readouterr().out
    assert "V2T instance-level leaderboard" in text and "V2T model-level leaderboard" in text
    assert "| Rank | Method | Perception SRCC | Rank | Correspondence SRCC | Rank | QA Acc (%) | Rank |" in text
    inst_line = next(line for line in text.splitlines() if "**oracle**" in line)
    assert inst_line.startswith("| \N{FIRST PLACE MEDAL} | **oracle** | 0.95")
    v2t = pd.read_csv(tmp_path / "agreement.v2t.csv")
    assert set(v2t["level"]) == {"instance", "model"} and len(v2t) == 10
    direct, _ = v2t_tables(data["predictions"],
                           pd.concat([data["perception"], data["correspondence"]], ignore_index=True),
                           data["evaluators"], qa_predictions=data["qa_predictions"], qa_human=data["qa"],
                           directions={f: "higher" for f in fields})
    got = v2t[v2t["level"] == "instance"].reset_index(drop=True)
    assert got["evaluator"].tolist() == direct["instance"]["evaluator"].tolist()
    assert got["qa_acc"].tolist() == pytest.approx(direct["instance"]["qa_acc"].tolist(), nan_ok=True)


def test_evaluator_specs_and_errors(data):
    assert parse_evaluator("niqe") == parse_evaluator("niqe=niqe,niqe")
    e = parse_evaluator("LOVE = a, -, qa")
    assert (e.name, e.perception, e.correspondence, e.qa) == ("LOVE", "a", None, "qa")
    with pytest.raises(InputError, match="NAME=PERCEPTION_FIELD"):
        parse_evaluator("x=a")
    with pytest.raises(InputError, match="no human labels for dimension 'correspondence'"):
        v2t_tables(data["predictions"], data["perception"], ["good=good_quality,good_alignment"],
                   directions={"good_quality": "higher", "good_alignment": "higher"})
    with pytest.raises(InputError, match="no human QA answers"):
        v2t_tables(data["predictions"], data["perception"], ["a=good_quality,-,good_answer"],
                   directions={"good_quality": "higher"})


def test_seed_baselines_list(capsys):
    from videojury.metrics.baselines import SEED_BASELINES, baseline_status, suite_metrics

    assert len(SEED_BASELINES) == 48 and len({b.name for b in SEED_BASELINES}) == 48
    status = {b.name: baseline_status(b)[0] for b in SEED_BASELINES}
    assert status["NIQE"] == status["HOSA"] == status["V-Temporal Flickering"] == "runs"
    assert status["CLIPScore"] == status["Qwen2.5-VL (7B)"] == "needs weights"
    assert status["DOVER"] == status["FAST-VQA"] == status["LOVE (Ours)"] == "needs weights"
    assert status["ChatGPT-4o"] == status["Gemini1.5-pro"] == "needs a key"
    assert status["BVQA"] == "later"
    assert set(suite_metrics("seed-baselines")) == {
        "hosa", "qac", "niqe", "brisque", "bmpri", "bpri", "temporal_flickering"}
    every = suite_metrics("seed-baselines-all")
    assert "clipscore" in every and not any(s.startswith("qa:") for s in every)
    with pytest.raises(InputError, match="unknown --suite 'seeds'"):
        suite_metrics("seeds")
    assert main(["metrics", "--suite", "seed-baselines"]) == 0
    text = capsys.readouterr().out
    assert "LOVE's 48 V2T evaluators" in text and "needs a key" in text
    assert "GEMINI_API_KEY" in text


def test_score_needs_a_metric_or_a_suite(tmp_path, capsys):
    assert main(["score", str(tmp_path)]) != 0
    assert "give at least one -m/--metric (or --suite seed-baselines)" in capsys.readouterr().err


def test_module_writes_the_set_and_prints_a_command_that_runs(tmp_path):
    import shlex
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-m", "videojury.analysis.v2t", str(tmp_path / "s")],
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    cmd = shlex.split(out.stdout.strip())
    assert cmd[:2] == ["videojury", "correlate"]
    assert main(cmd[1:]) == 0
    v2t = pd.read_csv(tmp_path / "s" / "agreement.v2t.csv")
    assert v2t[v2t["level"] == "instance"]["evaluator"].tolist() == \
        ["oracle", "good", "fair", "quality_only", "random"]
    bad = subprocess.run([sys.executable, "-m", "videojury.analysis.v2t"], capture_output=True,
                         text=True, timeout=120)
    assert bad.returncode == 1 and "usage:" in bad.stderr and "Traceback" not in bad.stderr

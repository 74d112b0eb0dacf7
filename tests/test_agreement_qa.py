"""Yes/no normalisation and QA accuracy (nothing dropped silently)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from videojury.analysis.agreement import agreement
from videojury.analysis.qa import normalize_yes_no, qa_accuracy
from videojury.human.importers import load_love_jsonl


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Yes", "yes"), ("yes.", "yes"), ("  YES, the cat is red", "yes"), ("Yes!", "yes"),
        ('"Yes"', "yes"), ("**Yes**", "yes"), ("Answer: yes", "yes"), ("A: No", "no"),
        ("No.", "no"), ("no", "no"), ("No, it is not.", "no"), ("Nope", "no"),
        ("I think yes", "yes"), ("The answer is: No", "no"), ("y", "yes"), ("N", "no"),
        ("True", "yes"), ("false", "no"),
        # Never inside a word, never a negation without the word "no".
        ("yesterday", None), ("eyes open", None), ("Nothing here", None), ("not really", None),
        ("The video does not show it", None), ("I don't know", None), ("snow", None), ("None", None),
        ("n/a", None),
        # Echoing the options or saying both is ambiguous.
        ("yes or no", None), ("Yes/No", None), ("maybe yes, maybe no", None),
        ("", None), ("   ", None), (None, None), (float("nan"), None), (3, None), (True, "yes"), (False, "no"),
    ],
)
def test_normalize_yes_no(text, expected):
    assert normalize_yes_no(text) == expected


def test_qa_accuracy_counts_unparseable_instead_of_dropping():
    pred = ["Yes", "no", "maybe", "Yes, clearly", "No."]
    human = ["yes", "yes", "no", "???", "no"]
    r = qa_accuracy(pred, human)
    # Item 4 has no usable human answer: excluded and counted. Item 3's
    # prediction is unparseable: stays in the denominator as wrong.
    assert r["n"] == 4 and r["human_unparseable"] == 1
    assert r["pred_unparseable"] == 1
    assert r["correct"] == 2
    assert r["accuracy"] == pytest.approx(2 / 4)
    assert r["accuracy_parsed"] == pytest.approx(2 / 3)


def test_qa_in_agreement_table_with_love_file_and_questions(tmp_path):
    recs, preds = [], []
    rng = np.random.default_rng(0)
    for v in range(20):
        for qn, q in enumerate(["Is there a dog?", "Is it night?"]):
            truth = "Yes" if rng.random() < 0.5 else "No"
            recs.append({"video": f"Sora/{v:03d}.mp4", "conversations": [
                {"from": "human", "value": f"<video>\n{q}"}, {"from": "gpt", "value": truth}]})
            said = truth if (v + qn) % 4 else ("no" if truth == "Yes" else "yes")
            if v == 7 and qn == 0:
                said = "I cannot tell"
            preds.append({"video": f"/runs/Sora/{v:03d}.mp4", "question": q, "answer_vlm": said,
                          "dimension": "animals" if qn == 0 else "time"})
    path = tmp_path / "qa_test.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in recs) + "\n")
    qa = load_love_jsonl(path)
    res = agreement(pd.DataFrame(preds), None, qa_human=qa, qa_fields=["answer_vlm"], n_resamples=200, fields=[])
    t = res.table
    overall = t[(t["level"] == "qa") & (t["group"] == "all")].iloc[0]
    assert overall["n"] == 40
    assert overall["qa_pred_unparseable"] == 1
    # Wrong when (v + qn) % 4 == 0: 10 of 40, plus the unparseable one (which was right before).
    assert overall["qa_acc"] == pytest.approx(29 / 40)
    assert overall["qa_acc_low"] < overall["qa_acc"] < overall["qa_acc_high"]
    assert set(t.loc[t["level"] == "qa", "group"]) == {"all", "animals", "time"}

"""The one video-path matcher, and the joins that use it (correlate pairs/QA, fit's MOS)."""

from __future__ import annotations

import pandas as pd

from videojury.analysis.agreement import agreement
from videojury.matching import match_videos, matched_index, norm_path


def test_rules_exact_then_longest_unique_suffix_each_label_once():
    preds = ["/runs/A/001.mp4", "/runs/B/001.mp4", "C\\002.mp4", "./d/003.mp4", "/x/004.mp4"]
    labels = ["A/001.mp4", "B/001.mp4", "C/002.mp4", "d/003.mp4", "e/004.mp4", "f/004.mp4"]
    match, ambiguous = match_videos(preds, labels)
    assert match == {0: ("A/001.mp4", "suffix2"), 1: ("B/001.mp4", "suffix2"),
                     2: ("C/002.mp4", "exact"), 3: ("d/003.mp4", "exact")}
    assert ambiguous == {"/x/004.mp4"}  # two labelled 004.mp4: neither is taken
    assert norm_path(" .\\a\\b.mp4 ") == "a/b.mp4"


def test_a_matched_label_is_not_borrowed_by_another_prediction():
    # Once A/001.mp4 is matched exactly, B/001.mp4 must not take C's label by its bare name.
    match, _ = match_videos(["A/001.mp4", "B/001.mp4"], ["A/001.mp4", "C/001.mp4"])
    assert match == {0: ("A/001.mp4", "exact")}
    assert matched_index(["/r/x.mp4", "y.mp4", "z.mp4"], ["x.mp4", "x.mp4", "q/y.mp4"]) == [0, 2, None]


def test_human_pairs_name_videos_by_suffix_like_the_mos_join():
    # Pair files often give model/clip paths while scores hold absolute ones.
    videos = [f"/data/run/M{m}/p{p}.mp4" for m in range(2) for p in range(4)]
    pred = pd.DataFrame({"video": videos, "s": [1.0 * m + 0.1 * p for m in range(2) for p in range(4)]})
    pairs = pd.DataFrame({"video_a": [f"M1/p{p}.mp4" for p in range(4)],
                          "video_b": [f"M0/p{p}.mp4" for p in range(4)], "winner": ["a"] * 4})
    human = pd.DataFrame({"video": videos, "mos": list(range(8))})
    res = agreement(pred, human, human_pairs=pairs, directions={"s": "higher"}, n_resamples=0,
                    levels=())
    row = res.table[res.table["level"] == "human_pair"].iloc[0]
    assert row["n_pairs"] == 4 and row["pair_acc"] == 1.0
    assert not any("no prediction" in n for n in res.notes)

"""A study's answers as tables: what `videojury mos` / `pairs` read, screening, progress, agreement."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
from .store import connect, read_config

__all__ = ["StudyTables", "study_tables", "export_study", "agreement"]

_FLIP = {"a": "b", "b": "a", "tie": "tie"}


class StudyTables:
    """``ratings`` (regular answers in the mos/pairs input format), ``screening``
    (golden and repeat answers with what was expected), ``raters`` (per-rater
    progress and checks)."""

    def __init__(self, config: dict, ratings: pd.DataFrame, screening: pd.DataFrame, raters: pd.DataFrame):
        self.config = config
        self.ratings = ratings
        self.screening = screening
        self.raters = raters


def _frame(con: sqlite3.Connection) -> pd.DataFrame:
    rows = con.execute(
        """SELECT an.rater, an.seq, an.dimension, an.value, an.answered_at, an.view_s,
                  it.kind, it.a, it.b, it.repeat_of
           FROM answers an JOIN items it ON it.rater = an.rater AND it.seq = an.seq
           ORDER BY an.rater, an.seq, an.dimension"""
    ).fetchall()
    return pd.DataFrame(rows, columns=["rater", "seq", "dimension", "value", "answered_at", "view_s",
                                       "kind", "a", "b", "repeat_of"])


def study_tables(con: sqlite3.Connection) -> StudyTables:
    """Read every answer once and build the three tables."""
    cfg = read_config(con)
    pair = cfg["protocol"] == "pairwise"
    vids = {r[0]: {"label": r[1], "prompt_id": r[2], "model": r[3], "golden": json.loads(r[4]) if r[4] else {}}
            for r in con.execute("SELECT id, label, prompt_id, model, golden FROM videos")}
    with_model = all(v["model"] for v in vids.values())
    with_pid = any(v["prompt_id"] for v in vids.values())
    df = _frame(con)
    first = {(r, s, d): v for r, s, d, v in zip(df["rater"], df["seq"], df["dimension"], df["value"])}
    rows, screen = [], []
    tol = cfg.get("golden_tolerance", 1.0)
    for rec in df.itertuples(index=False):
        a, b = vids[rec.a], (vids[int(rec.b)] if pair else None)
        base = {"rater": rec.rater}
        if pair:
            base.update(video_a=a["label"], video_b=b["label"], winner=rec.value, dimension=rec.dimension)
        else:
            base.update(video=a["label"], dimension=rec.dimension, score=int(rec.value))
        if with_model:
            if pair:
                base.update(model_a=a["model"], model_b=b["model"])
            else:
                base["model"] = a["model"]
        if with_pid:
            base["prompt_id"] = a["prompt_id"]
        base.update(seq=int(rec.seq), seconds=round(float(rec.view_s), 3))
        if rec.kind == "regular":
            rows.append(base)
            continue
        expected, correct = None, None
        if rec.kind == "golden":
            ga = a["golden"].get(rec.dimension)
            if pair:
                gb = b["golden"].get(rec.dimension)
                if ga is not None and gb is not None and ga != gb:
                    expected = "a" if ga > gb else "b"
                    correct = rec.value == expected
            elif ga is not None:
                expected = ga
                correct = abs(int(rec.value) - ga) <= tol
        else:
            orig = first.get((rec.rater, int(rec.repeat_of), rec.dimension))
            if orig is not None:
                if pair:
                    expected = _FLIP[orig]
                    correct = rec.value == expected
                else:
                    expected = int(orig)
                    correct = int(rec.value) == int(orig)
        screen.append({**base, "kind": rec.kind, "expected": expected, "correct": correct,
                       "repeat_of": None if pd.isna(rec.repeat_of) else int(rec.repeat_of)})
    ratings = pd.DataFrame(rows)
    if ratings.empty:
        cols = (["rater", "video_a", "video_b", "winner", "dimension"] if pair
                else ["rater", "video", "dimension", "score"])
        ratings = pd.DataFrame(columns=cols)
    screening = pd.DataFrame(screen)
    raters = _rater_table(con, cfg, df, screening)
    return StudyTables(cfg, ratings, screening, raters)


def _rater_table(con, cfg, df: pd.DataFrame, screening: pd.DataFrame) -> pd.DataFrame:
    totals = dict(con.execute("SELECT rater, COUNT(*) FROM items GROUP BY rater").fetchall())
    started = dict(con.execute("SELECT rater, started_at FROM raters").fetchall())
    names = [r[0] for r in con.execute("SELECT rater FROM raters ORDER BY ord")]
    per_item = df.drop_duplicates(["rater", "seq"])
    g = per_item.groupby("rater")
    answered, last, median = g.size(), g["answered_at"].max(), g["view_s"].median()
    checks = {}
    if len(screening):
        sc = screening[screening["correct"].notna()]
        for kind in ("golden", "repeat"):
            part = sc[sc["kind"] == kind].groupby("rater")["correct"]
            checks[kind] = (part.size(), part.apply(lambda c: float(c.astype(bool).mean())))
    out = []
    for name in names:
        rec = {"rater": name, "answered": int(answered.get(name, 0)), "total": int(totals.get(name, 0)),
               "started": started.get(name) is not None,
               "last_answer": float(last[name]) if name in last.index else None,
               "median_seconds": float(median[name]) if name in median.index else None}
        for kind, col in (("golden", "golden_accuracy"), ("repeat", "repeat_agree")):
            n, acc = checks.get(kind, ({}, {}))
            rec[f"{kind}_n"] = int(n.get(name, 0))
            rec[col] = float(acc[name]) if name in getattr(acc, "index", ()) else None
        out.append(rec)
    return pd.DataFrame(out)


def agreement(tables: StudyTables, *, n_splits: int = 50, seed: int = 0) -> list[dict]:
    """Live agreement per dimension: split-half reliability and golden accuracy.

    ACR: per-rater z-scored split-half SRCC, Spearman-Brown corrected (as
    `videojury mos` reports it). Pairwise: the same on each video's win rate
    (a win 1, a tie 0.5) in each half. ``None`` where the data are too few yet.
    """
    from ..human.reliability import split_half_reliability

    cfg = tables.config
    r = tables.ratings
    out = []
    for dim in cfg["dimensions"]:
        sub = r[r["dimension"] == dim] if len(r) else r
        rec = {"dimension": dim, "answers": int(len(sub)), "split_half": None, "split_half_n_raters": 0}
        if len(sub):
            if cfg["protocol"] == "pairwise":
                win = sub["winner"].map({"a": 1.0, "b": 0.0, "tie": 0.5}).to_numpy()
                long = pd.DataFrame({
                    "rater": np.r_[sub["rater"].to_numpy(), sub["rater"].to_numpy()],
                    "video": np.r_[sub["video_a"].to_numpy(), sub["video_b"].to_numpy()],
                    "score": np.r_[win, 1.0 - win]})
                zs = False
            else:
                long = sub[["rater", "video", "score"]].astype({"score": float})
                zs = True
            long = long.assign(dimension=dim)
            try:
                res = split_half_reliability(long, n_splits=n_splits, seed=seed, zscore=zs)
                rec["split_half"] = res[0].srcc_full
                rec["split_half_n_raters"] = res[0].n_raters
            except InputError:
                pass
        s = tables.screening
        g = s[(s["kind"] == "golden") & (s["dimension"] == dim) & s["correct"].notna()] if len(s) else s
        rec["golden_n"] = int(len(g))
        rec["golden_accuracy"] = float(g["correct"].astype(bool).mean()) if len(g) else None
        out.append(rec)
    return out


def export_study(folder: str | Path, out: str | Path) -> dict:
    """Write the answers: ``out`` in the format `videojury mos` (ACR) or `pairs` (pairwise)
    reads, ``<stem>.screening.<ext>`` with the golden and repeat answers and
    ``<stem>.raters.<ext>`` with each rater's progress, golden accuracy and
    repeat agreement. Returns the paths and counts."""
    from ..human.importers import sidecar, write_table

    con = connect(folder)
    try:
        con.execute("BEGIN")  # one consistent snapshot while a server may be writing
        tables = study_tables(con)
        con.execute("COMMIT")
    finally:
        con.close()
    out = Path(out)
    write_table(tables.ratings, out)
    spath, rpath = sidecar(out, "screening"), sidecar(out, "raters")
    scr = tables.screening
    if scr.empty:
        scr = pd.DataFrame(columns=["rater", "kind", "dimension", "expected", "correct"])
    write_table(scr, spath)
    write_table(tables.raters, rpath)
    return {"ratings": str(out), "screening": str(spath), "raters": str(rpath),
            "n_ratings": int(len(tables.ratings)), "n_screening": int(len(tables.screening)),
            "protocol": tables.config["protocol"]}

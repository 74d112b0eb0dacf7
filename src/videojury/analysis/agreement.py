"""Agreement of metric scores with human judgements: the tidy table.

The functional core behind ``videojury correlate``, in three layers:

* :mod:`videojury.analysis.join` - :func:`join_scores` matches a score
  table to human labels by video (the project's one matcher,
  :func:`videojury.matching.match_videos`) and reports how.
* :mod:`videojury.analysis.statistics` - :func:`correlate`,
  :func:`model_level`, :func:`prompt_pairs`, :func:`pair_accuracy` on
  arrays, with seeded bootstrap CIs.
* here, :func:`agreement` - all of the above for every score field and
  human dimension, at the instance, model and pair levels, overall and per
  breakdown (e.g. prompt ``dimension``), plus explicit human pairs and QA
  accuracy, as one tidy table.

Direction: for a lower-is-better field the scores are negated before any
statistic, so a metric that ranks like people always gets a positive
correlation. The direction comes from ``directions`` (a mapping or a
callable) and otherwise from the field metadata the predictions carry
(:mod:`videojury.io`); a field with neither is refused, naming it - it is
never assumed to be higher-better.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import ITEM_COLUMNS, resolve_directions, score_columns
from ..matching import match_videos, norm_path
from ..stats.bootstrap import LinearStatistic, bootstrap_statistics, percentile_ci
from .join import JoinReport, join_scores
from .qa import normalize_yes_no, qa_accuracy
from .statistics import (
    _fill_ci,
    _instance_setup,
    _model_setup,
    correlate,
    model_level,
    pair_accuracy,
    prompt_pairs,
)

__all__ = [
    "AgreementResult",
    "JoinReport",
    "META_COLUMNS",
    "agreement",
    "correlate",
    "model_level",
    "pair_accuracy",
    "prompt_pairs",
    "join_scores",
    "match_videos",
    "resolve_direction",
    "score_fields",
]

# Columns of a foreign score table that are never metric scores (one list: videojury.io's).
META_COLUMNS = ITEM_COLUMNS

_STAT_COLUMNS = [
    "field", "direction", "human_dimension", "level", "breakdown", "group", "n",
    "srcc", "srcc_low", "srcc_high", "krcc", "krcc_low", "krcc_high",
    "plcc", "plcc_low", "plcc_high", "plcc_fit", "plcc_fit_low", "plcc_fit_high",
    "srcc_fit", "krcc_fit", "rmse_fit", "rmse_fit_low", "rmse_fit_high", "fit_ok",
    "pair_acc", "pair_acc_low", "pair_acc_high", "pair_acc_excl_ties", "n_pairs", "pair_ties",
    "qa_acc", "qa_acc_low", "qa_acc_high", "qa_pred_unparseable", "qa_human_unparseable",
    "n_missing", "krcc_method", "srcc_method",
]


def _nan_row() -> dict:
    return {c: np.nan for c in _STAT_COLUMNS}


# --------------------------------------------------------------------------
# Fields and directions
# --------------------------------------------------------------------------


def score_fields(table: pd.DataFrame) -> list[str]:
    """The score columns of a table: :func:`videojury.io.score_columns`."""
    return score_columns(table)


def resolve_direction(name: str, directions: Mapping[str, str] | Callable[[str], str | None] | None
                      ) -> str | None:
    """``"higher"``, ``"lower"`` or ``None`` (not given) for a field.

    ``directions`` is a mapping or a callable returning ``"lower"`` for
    FVD-like scores, ``"higher"``, or ``None`` if it does not know.
    """
    d = None
    if callable(directions):
        d = directions(name)
    elif directions is not None:
        d = directions.get(name)
    if d is None:
        return None
    if isinstance(d, bool):
        return "higher" if d else "lower"
    d = str(d).lower()
    if d in ("higher", "high", "up", "+", "max", "higher_better", "higher-is-better"):
        return "higher"
    if d in ("lower", "low", "down", "-", "min", "lower_better", "lower-is-better"):
        return "lower"
    raise InputError(f"field {name!r}: direction must be 'higher' or 'lower', got {d!r}")


def field_directions(predictions: pd.DataFrame, fields: Sequence[str],
                     directions: Mapping[str, str] | Callable[[str], str | None] | None = None
                     ) -> dict[str, str]:
    """``{field: "higher"|"lower"}``: ``directions`` first, then the table's field metadata.

    Raises :class:`InputError` naming every field whose direction neither
    gives (a foreign table: pass ``directions`` / ``--higher-better``,
    ``--lower-better``).
    """
    given = {f: resolve_direction(f, directions) for f in fields}
    known = resolve_directions(
        predictions, list(fields), higher_better=[f for f, d in given.items() if d == "higher"],
        lower_better=[f for f, d in given.items() if d == "lower"],
        where=str(predictions.attrs.get("source", "predictions")))
    return {f: "higher" if known[f] else "lower" for f in fields}


@dataclass
class AgreementResult:
    """Tidy agreement table plus join report, per-model means and notes."""

    table: pd.DataFrame
    join: JoinReport
    model_means: pd.DataFrame
    notes: list[str]
    settings: dict

    def as_dict(self) -> dict:
        """JSON-friendly view: rows, join report, model means, notes, settings."""
        t = self.table.astype(object).where(self.table.notna(), None)
        m = self.model_means.astype(object).where(self.model_means.notna(), None)
        return {
            "results": t.to_dict("records"),
            "join": self.join.as_dict(),
            "model_means": m.to_dict("records"),
            "notes": list(self.notes),
            "settings": dict(self.settings),
        }


def _field_values(df: pd.DataFrame, f: str, drop_missing: bool) -> tuple[np.ndarray, np.ndarray]:
    raw = df[f]
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad_text = np.isnan(vals) & raw.notna().to_numpy()
    bad = ~np.isfinite(vals)
    if bad.any() and not drop_missing:
        i = int(np.flatnonzero(bad)[0])
        row = int(df["_row"].iloc[i]) if "_row" in df.columns else i + 1
        what = f"is not a number: {raw.iloc[i]!r}" if bad_text[i] else "is missing (NaN/empty)"
        err = ""
        if "error" in df.columns and isinstance(df["error"].iloc[i], str) and df["error"].iloc[i].strip():
            err = f" (the scorer recorded an error: {df['error'].iloc[i].strip()[:120]})"
        raise InputError(
            f"predictions row {row} (video {df['video'].iloc[i]!r}): field {f!r} {what}{err}. "
            "Pass drop_missing / --drop-missing to leave such rows out and count them."
        )
    return vals, ~bad


def agreement(
    predictions: pd.DataFrame,
    human: pd.DataFrame,
    *,
    fields: Sequence[str] | None = None,
    directions: Mapping[str, str] | Callable[[str], str | None] | None = None,
    levels: Sequence[str] = ("instance", "model", "pair"),
    by: Sequence[str] = ("dimension",),
    human_pairs: pd.DataFrame | None = None,
    qa_human: pd.DataFrame | None = None,
    qa_fields: Sequence[str] = (),
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    cluster: str | None = None,
    exact_max_n: int = 2_000,
    krcc_exact_max_n: int = 2_000,
    allow_unmatched: bool = False,
    drop_missing: bool = False,
    min_group: int = 5,
) -> AgreementResult:
    """Every agreement statistic for every score field and human dimension.

    Joins ``predictions`` to ``human`` (:func:`join_scores`), then for each
    field (default: the score columns named by the predictions' field
    metadata; for a foreign table, its numeric non-item columns) and each
    human dimension produces rows for:

    * ``level="instance"``: :func:`correlate` over all videos
      (``breakdown="all"``) and within each value of every column in ``by``
      present in the predictions (default the prompt ``dimension``);
    * ``level="model"``: :func:`model_level` when a ``model`` column exists,
      overall and per ``by`` group;
    * ``level="pair"``: :func:`pair_accuracy` over same-prompt pairs with
      distinct MOS when ``prompt_id`` or ``prompt`` exists, and
      ``level="human_pair"`` over explicit human preferences
      (``human_pairs``: ``video_a, video_b, winner[, dimension]``);
    * ``level="qa"``: QA accuracy for each of ``qa_fields`` (a column of
      free-text yes/no answers) against ``qa_human`` (``video, answer[,
      question]``), overall and per breakdown.

    Each field's direction comes from ``directions`` or else the field
    metadata; a field with neither raises :class:`InputError` naming it.
    ``cluster="prompt"`` resamples prompts instead of videos for every CI.
    Groups with fewer than ``min_group`` items get no statistics. The
    result's ``table`` is tidy: one row per field x human dimension x level
    x breakdown group.
    """
    notes: list[str] = []
    joined, report, fields = _join(predictions, human, fields, qa_human, qa_fields, allow_unmatched)
    dirs = field_directions(predictions, fields, directions)
    qa_by = list(by)  # QA rows come from their own join, with its own columns
    by = [b for b in by if b in joined.columns]
    cl_col = _cluster_column(joined, cluster)
    common = dict(n_resamples=n_resamples, seed=seed, confidence=confidence)
    opts = dict(levels=levels, min_group=min_group, exact_max_n=exact_max_n,
                krcc_exact_max_n=krcc_exact_max_n, drop_missing=drop_missing, common=common)
    rows: list[dict] = []
    model_tables: list[pd.DataFrame] = []
    for hdim, sub in joined.groupby("human_dimension", sort=True):
        sub = sub.reset_index(drop=True)
        xs, oks = {}, {}
        for f in fields:
            vals, ok = _field_values(sub, f, drop_missing)
            xs[f] = (-1.0 if dirs[f] == "lower" else 1.0) * vals
            oks[f] = ok
        for breakdown, gval, gmask in _groups(sub, by):
            r, m, n = _group_rows(sub, hdim, breakdown, gval, gmask, fields, dirs, xs, oks, cl_col, **opts)
            rows.extend(r)
            model_tables.extend(m)
            notes.extend(n)
    if "pair" in levels and len(joined) and "prompt_id" not in joined.columns and "prompt" not in joined.columns:
        notes.append("no prompt_id/prompt column: same-prompt pair accuracy skipped")
    if human_pairs is not None and len(fields):
        prow, pnotes = _human_pair_rows(predictions, human_pairs, fields, dirs, drop_missing, common)
        rows.extend(prow)
        notes.extend(pnotes)
    if qa_human is not None and qa_fields:
        qrows, qnotes = _qa_rows(predictions, qa_human, qa_fields, qa_by, common)
        rows.extend(qrows)
        notes.extend(qnotes)
    table = _tidy(rows, list(fields) + list(qa_fields))
    mm = pd.concat(model_tables, ignore_index=True) if model_tables else pd.DataFrame(
        columns=["field", "human_dimension", "breakdown", "group", "model", "metric", "human", "n_videos"])
    if report.unmatched_predictions:
        notes.append(f"{len(report.unmatched_predictions)} prediction video(s) had no human label and were left out")
    if report.unmatched_human:
        notes.append(f"{len(report.unmatched_human)} human-labelled video(s) had no prediction")
    settings = {
        "n_resamples": n_resamples, "seed": seed, "confidence": confidence, "cluster": cluster or "video",
        "exact_max_n": exact_max_n, "krcc_exact_max_n": krcc_exact_max_n, "levels": list(levels), "by": list(by),
        "fields": list(fields), "directions": dirs,
    }
    return AgreementResult(table=table, join=report, model_means=mm, notes=notes, settings=settings)


def _join(predictions, human, fields, qa_human, qa_fields, allow_unmatched):
    """The joined table, the join report and the fields to evaluate (checked)."""
    if human is None or len(human) == 0:
        # QA-only run: predictions may hold one row per question, so no MOS join.
        if qa_human is None:
            raise InputError("no human labels given")
        if "video" not in predictions.columns:
            raise InputError("predictions: missing column 'video'")
        joined = pd.DataFrame(columns=["video", "human_dimension", "mos"])
        return joined, JoinReport(n_predictions=len(predictions), n_human_videos=0), []
    joined, report = join_scores(predictions, human, allow_unmatched=allow_unmatched)
    if fields is None:
        return joined, report, [f for f in score_fields(predictions) if f not in qa_fields]
    missing = [f for f in fields if f not in predictions.columns]
    if missing:
        raise InputError(
            f"predictions have no column(s) {', '.join(map(repr, missing))}; "
            f"score columns found: {', '.join(map(repr, score_fields(predictions)))}"
        )
    return joined, report, list(fields)


def _cluster_column(joined: pd.DataFrame, cluster: str | None) -> str | None:
    if cluster == "prompt":
        col = "prompt_id" if "prompt_id" in joined.columns else ("prompt" if "prompt" in joined.columns else None)
        if col is None:
            raise InputError("cluster='prompt' needs a 'prompt_id' or 'prompt' column in predictions or human labels")
        return col
    if cluster not in (None, "none", "video"):
        raise InputError(f"cluster must be 'prompt' or none, got {cluster!r}")
    return None


def _groups(sub: pd.DataFrame, by: Sequence[str]):
    """``(breakdown, group value, row mask)``: all rows, then each value of each ``by`` column."""
    out = [("all", "all", np.ones(len(sub), dtype=bool))]
    for b in by:
        for gval, idx in sub.groupby(b, sort=True).indices.items():
            gm = np.zeros(len(sub), dtype=bool)
            gm[idx] = True
            out.append((b, str(gval), gm))
    return out


def _group_rows(sub, hdim, breakdown, gval, gmask, fields, dirs, xs, oks, cl_col, *, levels, min_group,
                exact_max_n, krcc_exact_max_n, drop_missing, common):
    """Rows (instance, model, pair) of every field in one breakdown group of one human dimension.

    Fields with the same usable rows share one set of resamples (and the
    instance and model levels share them too): one weight draw and one
    matrix product serve them all.
    """
    rows, model_tables, notes = [], [], []
    y_all = sub["mos"].to_numpy(dtype=float)
    cl_all = sub[cl_col].astype(str).to_numpy() if cl_col else None
    pcol = "prompt_id" if "prompt_id" in sub.columns else ("prompt" if "prompt" in sub.columns else None)
    want_ci = bool(common["n_resamples"])
    parts: dict[bytes, list[str]] = {}
    for f in fields:
        parts.setdefault((gmask & oks[f]).tobytes(), []).append(f)
    for key, flds in parts.items():
        mask = np.frombuffer(key, dtype=bool)
        n = int(mask.sum())
        y = y_all[mask]
        d = sub[mask]
        sts: dict = {}
        frows: dict[str, dict] = {}
        for f in flds:
            x = xs[f][mask]
            base = {**_nan_row(), "field": f, "direction": dirs[f], "human_dimension": hdim,
                    "n_missing": int((gmask & ~oks[f]).sum()), "breakdown": breakdown, "group": gval}
            if "instance" in levels:
                r = {**base, "level": "instance", "n": n}
                if n >= min_group:
                    pr, st = _instance_setup(x, y, exact_max_n, krcc_exact_max_n, want_ci)
                    r.update(pr)
                    sts.update({f"{f}\0i\0{k}": v for k, v in st.items()})
                frows[f + "\0i"] = r
            if "model" in levels and "model" in d.columns:
                mdl = d["model"]
                r = {**base, "level": "model"}
                if mdl.notna().all() and n >= min_group:
                    pr, st, means = _model_setup(x, y, mdl.to_numpy(), want_ci)
                    r.update(pr)
                    if st is not None:
                        sts[f"{f}\0m\0model"] = st
                    means = means.copy()
                    means["metric"] = (-1.0 if dirs[f] == "lower" else 1.0) * means["metric"]
                    for col, val in (("group", gval), ("breakdown", breakdown), ("human_dimension", hdim),
                                     ("field", f)):
                        means.insert(0, col, val)
                    model_tables.append(means)
                elif mdl.isna().any():
                    notes.append(f"{f}/{hdim}/{breakdown}={gval}: {int(mdl.isna().sum())} video(s) "
                                 "without a model; model level skipped")
                frows[f + "\0m"] = r
            if "pair" in levels and pcol is not None:
                pg = d[pcol]
                r = {**base, "level": "pair", "n": n}
                if pg.notna().all():
                    bt, wt, gg = prompt_pairs(pg.to_numpy(), y)
                    r.update(pair_accuracy(x, bt, wt, clusters=gg, **common))
                frows[f + "\0p"] = r
        if sts:
            cls = cl_all[mask] if cl_all is not None else None
            samp = bootstrap_statistics(n, sts, n_resamples=common["n_resamples"], seed=common["seed"],
                                        clusters=cls)
            for f in flds:
                for tag in ("i", "m"):
                    if f + "\0" + tag in frows:
                        _fill_ci(frows[f + "\0" + tag], samp, f"{f}\0{tag}\0", common["confidence"])
        rows.extend(frows.values())
    return rows, model_tables, notes


def _tidy(rows: list[dict], fields: list[str]) -> pd.DataFrame:
    """The rows as the tidy table, in a stable, readable order: field, human dimension,
    overall before breakdowns, then level."""
    table = pd.DataFrame(rows)
    for c in _STAT_COLUMNS:
        if c not in table.columns:
            table[c] = np.nan
    table = table[_STAT_COLUMNS]
    if len(table):
        order = {"instance": 0, "model": 1, "pair": 2, "human_pair": 3, "qa": 4}
        table = table.assign(
            _f=table["field"].map({f: i for i, f in enumerate(fields)}).fillna(len(fields) + 99),
            _l=table["level"].map(order).fillna(9), _b=(table["breakdown"] != "all").astype(int),
        ).sort_values(["_f", "human_dimension", "_b", "breakdown", "group", "_l"], kind="mergesort")
        table = table.drop(columns=["_f", "_l", "_b"]).reset_index(drop=True)
    return table


def _human_pair_rows(predictions, pairs, fields, dirs, drop_missing, common) -> tuple[list[dict], list[str]]:
    for c in ("video_a", "video_b", "winner"):
        if c not in pairs.columns:
            raise InputError(f"human pairs table is missing column {c!r}")
    # Each distinct pair video matched once to a prediction, by the one matcher.
    pv = [norm_path(v) for v in predictions["video"]]
    pos = {v: i for i, v in enumerate(pv)}
    uniq = list(dict.fromkeys(norm_path(v) for v in pd.concat([pairs["video_a"], pairs["video_b"]])))
    match_of, _ = match_videos(uniq, pv, normalized=True)
    to_pred = {v: pos[match_of[j][0]] for j, v in enumerate(uniq) if j in match_of}

    def find(v: object) -> int | None:
        return to_pred.get(norm_path(v))

    ia = np.array([-1 if (k := find(v)) is None else k for v in pairs["video_a"]], dtype=np.int64)
    ib = np.array([-1 if (k := find(v)) is None else k for v in pairs["video_b"]], dtype=np.int64)
    win = pairs["winner"].astype(str).str.lower().to_numpy()
    dims = pairs["dimension"].astype(str).to_numpy() if "dimension" in pairs.columns else np.full(len(pairs), "preference")
    found = (ia >= 0) & (ib >= 0)
    decisive = np.isin(win, ["a", "b"])
    rows = []
    for hdim in sorted(set(dims)):
        sel = found & decisive & (dims == hdim)
        better = np.where(win[sel] == "a", ia[sel], ib[sel])
        worse = np.where(win[sel] == "a", ib[sel], ia[sel])
        for f in fields:
            vals = pd.to_numeric(predictions[f], errors="coerce").to_numpy(dtype=float)
            sign = -1.0 if dirs[f] == "lower" else 1.0
            okp = np.isfinite(vals[better]) & np.isfinite(vals[worse])
            if not okp.all() and not drop_missing:
                k = int(np.flatnonzero(~okp)[0])
                i = better[k] if not np.isfinite(vals[better[k]]) else worse[k]
                raise InputError(f"predictions row {i + 1} (video {predictions['video'].iloc[i]!r}): field {f!r} is missing (NaN/empty)")
            row = {**_nan_row(), "field": f, "direction": dirs[f], "human_dimension": hdim, "level": "human_pair",
                   "breakdown": "all", "group": "all", "n_missing": int((~okp).sum())}
            row.update(pair_accuracy(sign * vals, better[okp], worse[okp], **common))
            row["n"] = int(okp.sum())
            rows.append(row)
    notes = []
    if (~found).any():
        k = int(np.flatnonzero(~found)[0])
        notes.append(
            f"{int((~found).sum())} human pair(s) name a video with no prediction and were left out "
            f"(first: pairs row {k + 1}: {pairs['video_a'].iloc[k]!r} vs {pairs['video_b'].iloc[k]!r})"
        )
    if (found & ~decisive).any():
        notes.append(f"{int((found & ~decisive).sum())} human pair(s) are ties and do not enter pair accuracy")
    return rows, notes


def qa_join(predictions: pd.DataFrame, qa_human: pd.DataFrame,
            keep: Sequence[str] = ()) -> tuple[pd.DataFrame, list[str]]:
    """Predictions matched to human QA answers: one row per (video, question)
    pair with both, the human answer in ``_human_answer``; plus notes on what
    did not match. ``keep``: prediction columns named ``answer`` to keep."""
    for c in ("video", "answer"):
        if c not in qa_human.columns:
            raise InputError(f"QA labels are missing column {c!r}")
    h = qa_human.reset_index(drop=True).copy()
    h["_v"] = h["video"].map(norm_path)
    p = predictions.reset_index(drop=True).copy()
    # Several questions per video: match each distinct video once, then map back.
    uniq = list(dict.fromkeys(p["video"].astype(str)))
    match_of, _ = match_videos(uniq, h["_v"].tolist())
    to_h = {v: match_of[i][0] for i, v in enumerate(uniq) if i in match_of}
    p["_v"] = [to_h.get(v) for v in p["video"].astype(str)]
    notes = []
    n_unmatched = int(p["_v"].isna().sum())
    if n_unmatched:
        notes.append(f"QA: {n_unmatched} prediction video(s) have no human QA label")
    p = p[p["_v"].notna()]
    on = ["_v"]
    if "question" in h.columns and "question" in p.columns:
        # Compare questions without the <video> placeholder and extra spaces.
        for t in (h, p):
            t["_q"] = (t["question"].astype(str).str.replace(r"^\s*(<video>\s*)+", "", regex=True)
                       .str.split().str.join(" "))
        on = ["_v", "_q"]
    elif h.duplicated("_v").any():
        raise InputError("QA labels have several questions per video; predictions need a 'question' column to match them")
    keep_p = [c for c in p.columns if c != "answer" or c in keep]
    m = p[keep_p].merge(h[on + ["answer"]].rename(columns={"answer": "_human_answer"}), on=on, how="inner")
    n_lost = len(h) - len(m)
    if n_lost > 0:
        notes.append(f"QA: {n_lost} human QA label(s) have no matching prediction (video/question)")
    return m, notes


def _qa_rows(predictions, qa_human, qa_fields, by, common) -> tuple[list[dict], list[str]]:
    m, notes = qa_join(predictions, qa_human, keep=qa_fields)
    rows = []
    for f in qa_fields:
        if f not in m.columns:
            raise InputError(f"predictions have no QA answer column {f!r}")
        groups = [("all", "all", np.ones(len(m), dtype=bool))]
        for b in by:
            if b in m.columns:
                for gval, idx in m.groupby(b, sort=True).indices.items():
                    mask = np.zeros(len(m), dtype=bool)
                    mask[idx] = True
                    groups.append((b, str(gval), mask))
        for breakdown, gval, mask in groups:
            sub = m[mask]
            res = qa_accuracy(sub[f].tolist(), sub["_human_answer"].tolist())
            row = {**_nan_row(), "field": f, "direction": "", "human_dimension": "qa", "level": "qa",
                   "breakdown": breakdown, "group": gval, "n": res["n"], "qa_acc": res["accuracy"],
                   "qa_pred_unparseable": res["pred_unparseable"], "qa_human_unparseable": res["human_unparseable"]}
            if common["n_resamples"] and res["n"]:
                hp = [normalize_yes_no(v) for v in sub["_human_answer"]]
                pp = [normalize_yes_no(v) for v in sub[f]]
                correct = np.array([a is not None and a == b for a, b in zip(pp, hp) if b is not None], dtype=float)
                st = LinearStatistic(np.column_stack([np.ones(correct.size), correct]), lambda T: T[:, 1] / T[:, 0])
                s = bootstrap_statistics(correct.size, {"a": st}, n_resamples=common["n_resamples"], seed=common["seed"])["a"]
                row["qa_acc_low"], row["qa_acc_high"] = percentile_ci(s, common["confidence"])
            rows.append(row)
    return rows, notes

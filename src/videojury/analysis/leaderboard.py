"""Leaderboards: rank models (or evaluators) on several metrics at once.

The core is pure functions on DataFrames. :func:`rank_table` ranks every
metric in its own direction with standard competition ranking (ties share the
best rank and the next rank skips: "1, 2, 2, 4"), sums the ranks, and ranks
the rank sums the same way, as LOVE's leaderboards do. :func:`weighted_table`
is the VBench-style alternative: each metric min-max normalised to [0, 1]
(flipped when lower is better), then a weighted mean. :func:`bootstrap_ranks`
resamples prompts to say how sure an overall rank is. Renderers turn a ranked
table into Markdown (medals for the top three), CSV, JSON or a small HTML page.
"""

from __future__ import annotations

import json
import math
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..io import table_fields
from ..metrics.base import ResultField

MEDALS = {1: "\N{FIRST PLACE MEDAL}", 2: "\N{SECOND PLACE MEDAL}", 3: "\N{THIRD PLACE MEDAL}"}

# Values are compared after rounding to this many significant digits, so that
# 0.1 + 0.2 and 0.3 tie: a leaderboard should not split ties on float noise.
SIGNIFICANT_DIGITS = 12


# A leaderboard column is the one field type: column, direction, display title
# (``title``), and, for a column of a videojury results table, its metric.
MetricSpec = ResultField


def parse_metric_spec(text: str) -> ResultField:
    """``COL``, ``COL:lower`` or ``COL:higher`` -> a :class:`ResultField`.

    Only a trailing ``:lower``/``:higher`` is read as a direction, so column
    names that contain colons still work. A bare ``COL`` has no direction
    (``higher_is_better=None``): it is taken from the table's field metadata
    when ranking, and refused if the table has none for it.
    """
    text = text.strip()
    if not text:
        raise InputError("empty --metric; give a column name, optionally with :lower")
    head, sep, tail = text.rpartition(":")
    if sep and tail.lower() in ("lower", "low", "min"):
        return ResultField(head, higher_is_better=False)
    if sep and tail.lower() in ("higher", "high", "max"):
        return ResultField(head, higher_is_better=True)
    return ResultField(text, higher_is_better=None)


def _as_specs(metrics: Iterable[ResultField | tuple[str, bool] | str],
              df: pd.DataFrame | None = None) -> list[ResultField]:
    """The metrics as fields, each with a direction: given, or from ``df``'s field metadata.

    A metric whose direction is neither given nor in the metadata is refused
    with one message naming every such column - never ranked as if higher
    were better.
    """
    known = table_fields(df) if df is not None else {}
    out = []
    for m in metrics:
        if isinstance(m, ResultField):
            spec = m
        elif isinstance(m, str):
            spec = parse_metric_spec(m)
        else:
            col, hib = m
            spec = ResultField(str(col), higher_is_better=bool(hib))
        if spec.higher_is_better is None and spec.column in known:
            meta = known[spec.column]
            spec = meta if meta.higher_is_better is not None else spec
        out.append(spec)
    if not out:
        raise InputError("no metric given; a leaderboard needs at least one column to rank")
    cols = [m.column for m in out]
    dup = {c for c in cols if cols.count(c) > 1}
    if dup:
        raise InputError(f"metric column listed twice: {', '.join(sorted(dup))}")
    # (A column missing from the table is reported as such by _check_table.)
    unknown = [m.column for m in out if m.higher_is_better is None
               and (df is None or m.column in df.columns)]
    if unknown:
        src = (df.attrs.get("source") if df is not None else None) or "the table"
        raise InputError(
            f"{src}: direction unknown for metric column(s) {', '.join(map(repr, unknown))} (no "
            f"videojury field metadata says which way they point); write {unknown[0]}:higher "
            f"or {unknown[0]}:lower")
    return out


def competition_rank(values: Sequence[float] | np.ndarray, higher_is_better: bool = True
                     ) -> np.ndarray:
    """Standard competition ranks ("1, 2, 2, 4") of a 1-D array.

    The best value gets rank 1; equal values share the best rank of their
    group. Missing values (NaN) all share the last rank, one past the number of
    present values, so a model without a score cannot win on that metric.
    Infinities are values (a PSNR of identical frames is +inf), ranked as such.
    """
    v = np.asarray(values, dtype=float).ravel()
    n = v.size
    ranks = np.empty(n, dtype=np.int64)
    present = ~np.isnan(v)
    x = _round_sig(v[present])
    key = -x if higher_is_better else x
    # rank = 1 + number of strictly better values (this is the "min" method).
    sorted_key = np.sort(key)
    ranks[present] = 1 + np.searchsorted(sorted_key, key, side="left")
    ranks[~present] = int(present.sum()) + 1
    return ranks


def _round_sig(x: np.ndarray) -> np.ndarray:
    """Round to :data:`SIGNIFICANT_DIGITS` significant digits (0 and inf left alone)."""
    x = np.asarray(x, dtype=float)
    out = x.copy()
    nz = np.isfinite(x) & (x != 0)
    if nz.any():
        mag = np.floor(np.log10(np.abs(x[nz])))
        # Round the mantissa (in [1, 10)), not x * 10**(digits - mag): that scale overflows
        # for tiny values (1e-300, a p-value) and turned them into NaN.
        unit = 10.0 ** mag
        ok = (unit > 0) & np.isfinite(unit)
        vals = x[nz]
        vals[ok] = np.round(vals[ok] / unit[ok], SIGNIFICANT_DIGITS - 1) * unit[ok]
        out[nz] = vals
    return out


def _check_table(df: pd.DataFrame, name_col: str, specs: list[MetricSpec]) -> pd.DataFrame:
    if name_col not in df.columns:
        raise InputError(f"no name column {name_col!r} in the table (columns: "
                         f"{', '.join(map(str, df.columns))})")
    missing = [m.column for m in specs if m.column not in df.columns]
    if missing:
        numeric = [c for c in df.columns if c != name_col and _numeric_or_none(df[c]) is not None]
        raise InputError(f"no column {missing[0]!r} in the table; numeric columns are: "
                         f"{', '.join(map(str, numeric)) or 'none'}")
    if len(df) == 0:
        raise InputError("the table has no rows")
    out = pd.DataFrame({name_col: df[name_col].astype(str).to_numpy()})
    for m in specs:
        col = _numeric_or_none(df[m.column])
        if col is None:
            bad = _first_non_numeric(df[m.column])
            raise InputError(f"column {m.column!r} is not numeric (row {bad[0]}: {bad[1]!r})")
        out[m.column] = col.to_numpy()
    return out


def _check_reserved(specs: list[MetricSpec], reserved: tuple[str, ...], method: str) -> None:
    """Refuse a metric column whose name the ranked table uses for its own output."""
    for m in specs:
        if m.column in reserved:
            raise InputError(f"metric column {m.column!r} has the name of a column the {method} "
                             f"leaderboard adds ({', '.join(reserved)}); rename it in the table")


def _numeric_or_none(s: pd.Series) -> pd.Series | None:
    """The column as floats, with '', 'nan' and '%'-suffixed values understood."""
    if pd.api.types.is_numeric_dtype(s) and not pd.api.types.is_bool_dtype(s):
        return s.astype(float)
    txt = s.astype("string").str.strip().str.rstrip("%")
    num = pd.to_numeric(txt.replace({"": None}), errors="coerce")
    bad = num.isna() & txt.notna() & ~txt.str.lower().isin(["", "nan", "na", "none", "-"])
    if bad.any():
        return None
    return num.astype(float)


def _first_non_numeric(s: pd.Series) -> tuple[int, Any]:
    for i, v in enumerate(s.tolist(), 1):
        try:
            float(str(v).strip().rstrip("%"))
        except ValueError:
            if str(v).strip().lower() not in ("", "nan", "na", "none", "-"):
                return i, v
    return 0, None  # pragma: no cover - only called when one exists


def aggregate_by_name(df: pd.DataFrame, name_col: str,
                      metrics: Iterable[MetricSpec | tuple[str, bool] | str]) -> pd.DataFrame:
    """Mean of each metric per name (a long table -> one row per name), in first-seen order."""
    specs = _as_specs(metrics, df)
    clean = _check_table(df, name_col, specs)
    if not clean[name_col].duplicated().any():
        return clean
    grouped = clean.groupby(name_col, sort=False)[[m.column for m in specs]].mean()
    return grouped.reset_index()


def rank_table(df: pd.DataFrame, name_col: str,
               metrics: Iterable[MetricSpec | tuple[str, bool] | str]) -> pd.DataFrame:
    """Rank every name on every metric, then overall by the sum of ranks.

    ``df`` has one row per name (several rows per name are averaged first).
    ``metrics`` are :class:`MetricSpec`, ``(column, higher_is_better)`` pairs
    or ``"COL[:lower]"`` strings. Returns one row per name, ordered by overall
    rank (ties keep the input order), with columns ``name_col``, each metric's
    value, ``rank:<metric>`` for each metric, ``rank_sum`` and
    ``overall_rank``. Ranks are standard competition ranks, ties included.
    """
    specs = _as_specs(metrics, df)
    _check_reserved(specs, ("rank_sum", "overall_rank"), "rank-sum")
    table = aggregate_by_name(df, name_col, specs)
    rank_cols = []
    for m in specs:
        col = f"rank:{m.column}"
        table[col] = competition_rank(table[m.column].to_numpy(), m.higher_is_better)
        rank_cols.append(col)
    table["rank_sum"] = table[rank_cols].sum(axis=1).astype(np.int64)
    table["overall_rank"] = competition_rank(table["rank_sum"].to_numpy(), higher_is_better=False)
    table["_order"] = np.arange(len(table))
    table = table.sort_values(["overall_rank", "_order"], kind="mergesort").drop(columns="_order")
    table.attrs["metrics"] = specs
    table.attrs["name_col"] = name_col
    table.attrs["method"] = "ranksum"
    return table.reset_index(drop=True)


def weighted_table(df: pd.DataFrame, name_col: str,
                   metrics: Iterable[MetricSpec | tuple[str, bool] | str],
                   weights: Mapping[str, float] | None = None,
                   ranges: Mapping[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """VBench-style aggregate: min-max normalise each metric, then a weighted mean.

    Each metric is mapped to [0, 1] with ``(v - lo) / (hi - lo)`` where
    ``(lo, hi)`` comes from ``ranges`` when given (VBench uses fixed empirical
    bounds per dimension) and otherwise from the values in the table; a
    lower-is-better metric is flipped (``1 - x``) so 1 is always best. The
    ``score`` column is the weighted mean over the metrics a name has values
    for (weights default to 1), and ``overall_rank`` its competition rank.
    Columns ``norm:<metric>`` hold the normalised values.
    """
    specs = _as_specs(metrics, df)
    _check_reserved(specs, ("score", "overall_rank"), "weighted")
    weights = dict(weights or {})
    unknown = set(weights) - {m.column for m in specs}
    if unknown:
        raise InputError(f"weight given for {sorted(unknown)[0]!r}, which is not one of the "
                         "ranked metrics")
    for k, w in weights.items():
        if not (math.isfinite(w) and w >= 0):
            raise InputError(f"weight of {k!r} must be a finite number >= 0, got {w}")
    table = aggregate_by_name(df, name_col, specs)
    norm = np.empty((len(table), len(specs)))
    for j, m in enumerate(specs):
        v = table[m.column].to_numpy(dtype=float)
        lo, hi = (ranges or {}).get(m.column, (np.nanmin(v) if np.isfinite(v).any() else 0.0,
                                                np.nanmax(v) if np.isfinite(v).any() else 1.0))
        x = np.full_like(v, 0.5) if hi == lo else np.clip((v - lo) / (hi - lo), 0.0, 1.0)
        if not m.higher_is_better:
            x = 1.0 - x
        norm[:, j] = x
        table[f"norm:{m.column}"] = x
        table[f"rank:{m.column}"] = competition_rank(v, m.higher_is_better)
    w = np.array([weights.get(m.column, 1.0) for m in specs], dtype=float)
    if w.sum() <= 0:
        raise InputError("all weights are zero")
    present = np.isfinite(norm)
    wsum = (present * w).sum(axis=1)
    score = np.where(wsum > 0, np.nansum(np.where(present, norm, 0.0) * w, axis=1) /
                     np.where(wsum > 0, wsum, 1.0), np.nan)
    table["score"] = score
    table["overall_rank"] = competition_rank(score, higher_is_better=True)
    table["_order"] = np.arange(len(table))
    table = table.sort_values(["overall_rank", "_order"], kind="mergesort").drop(columns="_order")
    table.attrs["metrics"] = specs
    table.attrs["name_col"] = name_col
    table.attrs["method"] = "weighted"
    table.attrs["weights"] = {m.column: float(weights.get(m.column, 1.0)) for m in specs}
    return table.reset_index(drop=True)


def bootstrap_ranks(long_df: pd.DataFrame, name_col: str, prompt_col: str,
                    metrics: Iterable[MetricSpec | tuple[str, bool] | str],
                    n_boot: int = 1000, seed: int = 0, confidence: float = 0.95,
                    method: str = "ranksum", weights: Mapping[str, float] | None = None
                    ) -> pd.DataFrame:
    """Overall-rank intervals from resampling prompts with replacement.

    ``long_df`` has one row per (name, prompt[, sample]) with the metric
    columns. Each of ``n_boot`` replicates draws the prompts with replacement
    (seeded: the same seed gives the same intervals), averages each name's
    values over the drawn prompts (a prompt drawn twice counts twice), and
    ranks as :func:`rank_table` (or :func:`weighted_table` with
    ``method="weighted"``) would. Returns per name: the overall rank on the
    full data, the ``rank_lo``/``rank_hi`` percentile interval, the median
    bootstrap rank and ``p_first``, the share of replicates ranking it first.
    """
    if method not in ("ranksum", "weighted"):
        raise InputError(f"unknown ranking method {method!r}: use ranksum or weighted")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be in (0, 1), got {confidence}")
    if n_boot < 1:
        raise InputError(f"the number of bootstrap replicates must be >= 1, got {n_boot}")
    specs = _as_specs(metrics, long_df)
    if prompt_col not in long_df.columns:
        raise InputError(f"no prompt column {prompt_col!r} in the table; the bootstrap resamples "
                         "prompts, so it needs one row per (name, prompt)")
    clean = _check_table(long_df, name_col, specs)
    clean[prompt_col] = long_df[prompt_col].astype(str).to_numpy()
    names = list(dict.fromkeys(clean[name_col]))
    prompts = list(dict.fromkeys(clean[prompt_col]))
    if len(prompts) < 2:
        raise InputError("the bootstrap over prompts needs at least two prompts")
    n_i, n_p, n_m = len(names), len(prompts), len(specs)
    # Per (name, prompt) sums and counts of each metric, so replicate means are
    # weighted sums: a prompt drawn k times weighs k.
    ni = pd.Index(names).get_indexer(clean[name_col])
    pi = pd.Index(prompts).get_indexer(clean[prompt_col])
    sums = np.zeros((n_m, n_i, n_p))
    counts = np.zeros((n_m, n_i, n_p))
    for j, m in enumerate(specs):
        v = clean[m.column].to_numpy(dtype=float)
        ok = np.isfinite(v)
        np.add.at(sums[j], (ni[ok], pi[ok]), v[ok])
        np.add.at(counts[j], (ni[ok], pi[ok]), 1.0)
    rng = np.random.default_rng(seed)
    draws = rng.multinomial(n_p, np.full(n_p, 1.0 / n_p), size=n_boot).astype(float)  # (B, P)
    with np.errstate(invalid="ignore", divide="ignore"):
        means = np.einsum("bp,mip->bmi", draws, sums) / np.einsum("bp,mip->bmi", draws, counts)
    ranks = np.empty((n_boot, n_i), dtype=np.int64)
    w = np.array([(weights or {}).get(m.column, 1.0) for m in specs], dtype=float)
    for b in range(n_boot):
        ranks[b] = _overall_from_means(means[b], specs, method, w)
    with np.errstate(invalid="ignore", divide="ignore"):  # a name with no values: NaN
        full_means = np.einsum("mip->mi", sums) / np.einsum("mip->mi", counts)
    full = _overall_from_means(full_means, specs, method, w)
    alpha = (1.0 - confidence) / 2.0
    lo = np.quantile(ranks, alpha, axis=0, method="lower")
    hi = np.quantile(ranks, 1.0 - alpha, axis=0, method="higher")
    out = pd.DataFrame({
        name_col: names,
        "overall_rank": full,
        "rank_lo": lo.astype(np.int64),
        "rank_hi": hi.astype(np.int64),
        "rank_median": np.median(ranks, axis=0),
        "p_first": (ranks == 1).mean(axis=0),
    })
    out = out.sort_values(["overall_rank", "rank_median"], kind="mergesort").reset_index(drop=True)
    out.attrs.update(n_boot=n_boot, seed=seed, confidence=confidence, prompts=n_p)
    return out


def _overall_from_means(means: np.ndarray, specs: list[MetricSpec], method: str,
                        w: np.ndarray) -> np.ndarray:
    """Overall competition ranks from a (metrics, names) matrix of means."""
    if method == "ranksum":
        rs = sum(competition_rank(means[j], m.higher_is_better) for j, m in enumerate(specs))
        return competition_rank(np.asarray(rs, dtype=float), higher_is_better=False)
    norm = np.empty_like(means)
    for j, m in enumerate(specs):
        v = means[j]
        fin = np.isfinite(v)
        lo, hi = (v[fin].min(), v[fin].max()) if fin.any() else (0.0, 1.0)
        x = np.full_like(v, 0.5) if hi == lo else (v - lo) / (hi - lo)
        norm[j] = x if m.higher_is_better else 1.0 - x
    present = np.isfinite(norm)
    wsum = (present * w[:, None]).sum(axis=0)
    score = np.where(present, norm, 0.0).T @ w / np.where(wsum > 0, wsum, 1.0)
    score[wsum == 0] = np.nan
    return competition_rank(score, higher_is_better=True)


# --- data out (Markdown and HTML rendering: videojury.report.leaderboard) ------


def _specs_of(table: pd.DataFrame) -> list[MetricSpec]:
    specs = table.attrs.get("metrics")
    if specs is None:
        specs = [ResultField(c[len("rank:"):]) for c in table.columns if c.startswith("rank:")]
    return list(specs)


def to_records(table: pd.DataFrame, intervals: pd.DataFrame | None = None) -> list[dict]:
    """The JSON form: a list ordered by overall rank of ``{"name", "overall_rank",
    "rank_sum", "ranks": {metric: rank}, "values": {metric: value}}``.

    A weighted table has ``score`` in place of ``rank_sum`` (and ``ranks``
    holds each metric's own competition rank); with bootstrap ``intervals``
    each record gains ``rank_interval: [lo, hi]``.
    """
    name_col = table.attrs.get("name_col", table.columns[0])
    specs = _specs_of(table)
    method = table.attrs.get("method")
    weighted = method == "weighted" if method else "rank_sum" not in table.columns
    iv = None
    if intervals is not None:
        iv = intervals.set_index(intervals.columns[0])
    out = []
    for _, row in table.iterrows():
        rec: dict[str, Any] = {"name": str(row[name_col]), "overall_rank": int(row["overall_rank"])}
        # The method says which total a table has: a rank-sum table may rank a metric
        # that happens to be called "score".
        if weighted:
            rec["score"] = _json_float(row["score"])
        else:
            rec["rank_sum"] = int(row["rank_sum"])
        rec["ranks"] = {m.column: int(row[f"rank:{m.column}"]) for m in specs}
        rec["values"] = {m.column: _json_float(row[m.column]) for m in specs}
        if iv is not None and rec["name"] in iv.index:
            rec["rank_interval"] = [int(iv.loc[rec["name"], "rank_lo"]),
                                    int(iv.loc[rec["name"], "rank_hi"])]
        out.append(rec)
    return out


def _json_float(v: Any) -> float | None:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def to_json(table: pd.DataFrame, intervals: pd.DataFrame | None = None) -> str:
    """:func:`to_records` as indented JSON text (UTF-8, medals not escaped)."""
    return json.dumps(to_records(table, intervals), indent=2, ensure_ascii=False) + "\n"


def to_csv(table: pd.DataFrame, intervals: pd.DataFrame | None = None) -> str:
    """The ranked table as CSV (one row per name, ordered by overall rank)."""
    t = table.copy()
    if intervals is not None:
        iv = intervals.set_index(intervals.columns[0])
        names = t[t.columns[0]].astype(str)
        t["rank_lo"] = names.map(iv["rank_lo"]).to_numpy()
        t["rank_hi"] = names.map(iv["rank_hi"]).to_numpy()
    return t.to_csv(index=False)


__all__ = [
    "MEDALS", "MetricSpec", "aggregate_by_name", "bootstrap_ranks", "competition_rank",
    "parse_metric_spec", "rank_table", "to_csv", "to_json", "to_records", "weighted_table",
]

"""Best-of-N: pick the best of N candidate videos per prompt, and measure what it buys.

Given a manifest with a ``prompt_id`` column and at least two candidates
(rows) per prompt, :func:`best_of_n` scores every candidate through
:func:`videojury.score` (so the store serves what was computed before and a
killed run resumes), then per prompt picks the candidate with the highest
*objective*:

* one metric: its first field, direction-aware (a lower-is-better field
  such as ``niqe`` picks its lowest value);
* several metrics with weights: ``sum_k w_k * s_k * norm_k(x)``, where
  ``s_k`` is +1 for a higher-is-better field and -1 otherwise, and
  ``norm_k`` standardises the field *within the prompt*: ``zscore``
  (``(x - mean) / std``, population std; 0 when all candidates tie) or
  ``rank`` (average rank scaled to [0, 1]). Fields with weight 0 are only
  reported. Without weights the first metric decides and the others are
  reported.

Ties go to the candidate listed first. A candidate whose weighted fields
are not all finite (an error row) cannot be picked; a prompt with no
eligible candidate gets no pick and is counted in :attr:`BestOfN.skipped`.

For every score column (the objective's own included) the gain of the pick
over a random pick is, per prompt, ``s * (x_pick - mean_c x_c)`` (the mean
over the prompt's candidates is the expected value of a uniformly random
pick; ``s`` as above, so a positive gain is always an improvement), then
averaged over prompts with a seeded percentile bootstrap interval that
resamples prompts.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import InputError

NORMALIZATIONS = ("zscore", "rank")


@dataclass
class BestOfN:
    """What :func:`best_of_n` returns.

    ``picks``: one row per prompt with a pick: ``prompt_id``, ``video``, the
    score columns, ``objective``, ``n_candidates``, the manifest's other
    columns and ``error`` (a report-only metric may have failed on the
    pick). ``gains``: one row per score column: ``field``,
    ``higher_is_better``, ``weight``, ``pick_mean``, ``random_mean``,
    ``gain`` (mean over prompts, positive = better), ``ci_low``,
    ``ci_high``, ``n_prompts``. ``table``: every candidate with its scores
    and ``objective``. ``skipped``: prompt ids without an eligible candidate.
    ``stats``: the scoring run's :class:`~videojury.run.executor.RunStats`.
    """

    picks: pd.DataFrame
    gains: pd.DataFrame
    table: pd.DataFrame
    weights: dict[str, float]
    directions: dict[str, bool]
    normalize: str
    skipped: list[str] = field(default_factory=list)
    confidence: float = 0.95
    n_resamples: int = 1000
    seed: int = 0
    stats: Any = None  # the scoring run's RunStats (what was cached, what was computed)


def parse_weights(text: str | Sequence[float] | Mapping[str, float] | None
                  ) -> list[float] | dict[str, float] | None:
    """Weights from the CLI's ``--weights``: ``"1,0.5"`` (one per metric, in order) or
    ``"niqe=1,clipscore=0.5"`` (by column or metric name)."""
    if text is None or isinstance(text, Mapping):
        return dict(text) if text is not None else None
    if not isinstance(text, str):
        return [float(w) for w in text]
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise InputError("--weights is empty; give one number per metric (1,0.5) or "
                         "name=value pairs (niqe=1,clipscore=0.5)")
    named = ["=" in p for p in parts]
    if any(named) and not all(named):
        raise InputError(f"--weights {text!r} mixes plain numbers and name=value pairs; "
                         "use one form")
    try:
        if all(named):
            out: dict[str, float] = {}
            for p in parts:
                k, v = p.rsplit("=", 1)
                out[k.strip()] = float(v)
            return out
        return [float(p) for p in parts]
    except ValueError:
        raise InputError(f"--weights {text!r}: every weight must be a number") from None


def _resolve_weights(weights: Any, metrics: list, columns: list[tuple[int, Any, str]]
                     ) -> dict[str, float]:
    """Column -> weight (every score column present, 0 for report-only ones)."""
    first_col = {}
    for m_i, _f, col in columns:
        first_col.setdefault(m_i, col)
    out = {col: 0.0 for _m, _f, col in columns}
    if weights is None:
        out[first_col[0]] = 1.0
        return out
    if isinstance(weights, str):
        weights = parse_weights(weights)
    if isinstance(weights, Mapping):
        by_name: dict[str, str] = {}
        for m_i, m in enumerate(metrics):
            by_name.setdefault(m.label, first_col[m_i])
            by_name.setdefault(m.name, first_col[m_i])
        for key, w in weights.items():
            if key in out:
                col = key
            elif key in by_name:
                col = by_name[key]
            else:
                raise InputError(f"weight for {key!r}: no such score column or metric; the "
                                 f"columns are {', '.join(out)}")
            out[col] = float(w)
    else:
        ws = [float(w) for w in weights]
        if len(ws) != len(metrics):
            raise InputError(f"{len(ws)} weights for {len(metrics)} metrics; give one number "
                             "per -m, in order, or name=value pairs")
        for m_i, w in enumerate(ws):
            out[first_col[m_i]] = w
    bad = [c for c, w in out.items() if not math.isfinite(w)]
    if bad:
        raise InputError(f"weight for {bad[0]!r} is not a finite number")
    if not any(w != 0 for w in out.values()):
        raise InputError("every weight is 0: nothing to choose by; give at least one "
                         "non-zero weight")
    return out


def check_groups(items: Sequence[Any], source: str = "the manifest") -> dict[str, list[int]]:
    """prompt_id -> item indices (manifest order); every prompt needs >= 2 candidates."""
    missing = [i for i, it in enumerate(items) if not it.prompt_id]
    if missing:
        if len(missing) == len(items):
            raise InputError(f"{source}: best-of-n needs a 'prompt_id' column naming the prompt "
                             "each candidate video was generated for")
        rows = ", ".join(str(i + 1) for i in missing[:5])
        raise InputError(f"{source}: {len(missing)} row(s) have an empty prompt_id (data rows "
                         f"{rows}{', ...' if len(missing) > 5 else ''}); every candidate needs "
                         "one")
    groups: dict[str, list[int]] = {}
    for i, it in enumerate(items):
        groups.setdefault(str(it.prompt_id), []).append(i)
    single = [p for p, idx in groups.items() if len(idx) < 2]
    if single:
        shown = ", ".join(repr(p) for p in single[:5])
        raise InputError(f"{source}: {len(single)} prompt(s) have a single candidate ({shown}"
                         f"{', ...' if len(single) > 5 else ''}); best-of-n needs at least 2 "
                         "per prompt_id")
    return groups


def _normalise(x: np.ndarray, how: str) -> np.ndarray:
    """Within-prompt normalisation of finite values (NaN stays NaN)."""
    out = np.full(x.shape, np.nan)
    ok = np.isfinite(x)
    v = x[ok]
    if v.size == 0:
        return out
    if how == "zscore":
        sd = v.std()
        out[ok] = (v - v.mean()) / sd if sd > 0 else 0.0
    else:
        from scipy.stats import rankdata

        out[ok] = (rankdata(v) - 1.0) / (v.size - 1) if v.size > 1 else 0.5
    return out


def select(table: pd.DataFrame, groups: Mapping[str, Sequence[int]],
           weights: Mapping[str, float], directions: Mapping[str, bool],
           normalize: str = "zscore") -> tuple[np.ndarray, dict[str, int], list[str]]:
    """(objective per row, prompt_id -> picked row, prompts without an eligible row)."""
    if normalize not in NORMALIZATIONS:
        raise InputError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got "
                         f"{normalize!r}")
    active = {c: w for c, w in weights.items() if w != 0}
    objective = np.full(len(table), np.nan)
    picks: dict[str, int] = {}
    skipped: list[str] = []
    single = len(active) == 1
    for pid, idx in groups.items():
        idx = np.asarray(idx)
        total = np.zeros(len(idx))
        for col, w in active.items():
            x = table[col].to_numpy(dtype=float)[idx]
            sign = 1.0 if directions[col] else -1.0
            # One field: its own (signed) values, so the objective reads in its units.
            total = total + (w * sign * x if single else w * sign * _normalise(x, normalize))
        objective[idx] = total
        ok = np.isfinite(total)
        if not ok.any():
            skipped.append(pid)
            continue
        best = np.flatnonzero(ok)[np.argmax(total[ok])]  # first among ties
        picks[pid] = int(idx[best])
    return objective, picks, skipped


def gain_table(table: pd.DataFrame, groups: Mapping[str, Sequence[int]],
               picks: Mapping[str, int], weights: Mapping[str, float],
               directions: Mapping[str, bool], *, n_resamples: int = 1000, seed: int = 0,
               confidence: float = 0.95) -> pd.DataFrame:
    """Per score column: mean over prompts of the pick's gain over a random pick, with a
    percentile bootstrap interval over prompts."""
    from .stats.bootstrap import LinearStatistic, bootstrap_statistics, percentile_ci

    rows = []
    for col, w in weights.items():
        x = table[col].to_numpy(dtype=float)
        sign = 1.0 if directions[col] else -1.0
        pick_v, rand_v = [], []
        for pid, i in picks.items():
            vals = x[np.asarray(groups[pid])]
            vals = vals[np.isfinite(vals)]
            if not math.isfinite(x[i]) or vals.size == 0:
                continue
            pick_v.append(x[i])
            rand_v.append(vals.mean())
        n = len(pick_v)
        rec: dict[str, Any] = {"field": col, "higher_is_better": directions[col],
                               "weight": w, "pick_mean": np.nan, "random_mean": np.nan,
                               "gain": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                               "n_prompts": n}
        if n:
            g = sign * (np.asarray(pick_v) - np.asarray(rand_v))
            rec.update(pick_mean=float(np.mean(pick_v)), random_mean=float(np.mean(rand_v)),
                       gain=float(g.mean()))
            if n > 1 and n_resamples > 0:
                stat = LinearStatistic(g[:, None], lambda T, n=n: T[:, 0] / n)
                samples = bootstrap_statistics(n, {"gain": stat}, n_resamples=n_resamples,
                                               seed=seed)["gain"]
                rec["ci_low"], rec["ci_high"] = percentile_ci(samples, confidence)
        rows.append(rec)
    return pd.DataFrame(rows, columns=["field", "higher_is_better", "weight", "pick_mean",
                                       "random_mean", "gain", "ci_low", "ci_high", "n_prompts"])


def best_of_n(
    videos: str | os.PathLike | pd.DataFrame | Iterable[Any],
    metrics: str | Any | Sequence[str | Any],
    *,
    weights: str | Sequence[float] | Mapping[str, float] | None = None,
    normalize: str = "zscore",
    prompts: str | os.PathLike | Sequence[str | None] | None = None,
    store: Any = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
    backend: str = "local",
    backend_options: dict[str, Any] | None = None,
    retry_errors: bool = False,
    progress: Callable[[int], None] | None = None,
) -> BestOfN:
    """Pick the best candidate per ``prompt_id`` and report the gain over a random pick.

    ``videos``: a manifest (CSV/JSONL/Parquet), a DataFrame or items, with a
    ``prompt_id`` per candidate and >= 2 candidates per prompt. ``metrics``:
    as for :func:`videojury.score`. ``weights``: None (the first metric's
    first field decides), one number per metric (each metric's first
    field), or ``{column or metric name: weight}``; weight-0 columns are only
    reported. ``normalize``: ``zscore`` or ``rank`` (within prompt; used when
    more than one field has a weight). ``store``: as for
    :func:`videojury.score` (a path keeps every score and makes a rerun
    free). Inputs, metrics and weights are checked before anything is scored.
    """
    from .api import resolve_metrics, score
    from .data.items import check_text_needs, load_items
    from .run.results import field_columns

    if normalize not in NORMALIZATIONS:
        raise InputError(f"normalize must be one of {', '.join(NORMALIZATIONS)}, got "
                         f"{normalize!r}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    if int(n_resamples) < 0 or int(seed) < 0:
        raise InputError(f"n_resamples and seed must be >= 0, got {n_resamples} and {seed}")
    source = str(videos) if isinstance(videos, (str, os.PathLike)) else "the manifest"
    items = load_items(videos, prompts)
    groups = check_groups(items, source)
    metric_objs = resolve_metrics(metrics)
    for m in metric_objs:
        check_text_needs(items, m.name, m.needs_prompt, m.needs_question)
    columns = field_columns(metric_objs)
    w = _resolve_weights(weights, metric_objs, columns)

    df, stats = score(items, metrics=metric_objs, store=store, backend=backend,
                      backend_options=backend_options, retry_errors=retry_errors,
                      progress=progress, return_stats=True)
    # Directions come from the field metadata the results table carries.
    from .io import field_directions

    known = field_directions(df)
    directions = {col: known.get(col, bool(f.higher_is_better)) for _m, f, col in columns}
    objective, picks, skipped = select(df, groups, w, directions, normalize)
    table = df.copy()
    table["objective"] = objective
    gains = gain_table(df, groups, picks, w, directions, n_resamples=n_resamples, seed=seed,
                       confidence=confidence)

    score_cols = [col for _m, _f, col in columns]
    rows = [picks[p] for p in groups if p in picks]
    picked = table.iloc[rows].reset_index(drop=True)
    picked["n_candidates"] = [len(groups[p]) for p in groups if p in picks]
    first = ["prompt_id", "video", *score_cols, "objective", "n_candidates"]
    rest = [c for c in picked.columns if c not in first]  # prompt, model, extras, error
    picked = picked[first + rest]
    return BestOfN(picks=picked, gains=gains, table=table, weights=w, directions=directions,
                   normalize=normalize, skipped=skipped, confidence=confidence,
                   n_resamples=n_resamples, seed=seed, stats=stats)

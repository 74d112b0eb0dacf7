"""Agreement of metric scores with human judgements.

The functional core behind ``videojury correlate``:

* :func:`join_scores` matches a metric score table to human labels by the
  ``video`` string: exact path first, then the longest unambiguous path
  suffix (``model/clip.mp4``, then the bare file name), and reports how
  every video was matched and which were not.
* :func:`correlate` - SRCC, KRCC, PLCC raw and after the VQEG 4-parameter
  logistic, RMSE after the fit, with seeded bootstrap CIs, for one pair of
  arrays.
* :func:`model_level` - average per T2V model, then correlate the model
  means (LOVE's model-level protocol), with CIs from resampling videos.
* :func:`prompt_pairs` / :func:`pair_accuracy` - share of pairs of videos
  (same prompt with distinct MOS, or explicit human preferences) that the
  metric orders like people do; metric ties counted separately.
* :func:`agreement` - all of the above for every score field and human
  dimension, at the instance and model levels, overall and per breakdown
  (e.g. prompt ``dimension``), as one tidy table.

Direction: for a lower-is-better metric the scores are negated before any
statistic, so a metric that ranks like people always gets a positive
correlation. The direction comes from ``directions`` (a mapping or a
callable such as a metric-metadata lookup); the default is higher-better.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..stats.bootstrap import (
    LinearStatistic,
    bootstrap_statistics,
    kendall_statistic,
    model_level_statistics,
    pearson_statistic,
    percentile_ci,
    rmse_statistic,
    spearman_statistic,
)
from ..stats.correlation import fit_logistic, krcc, plcc, rmse, srcc
from .qa import normalize_yes_no, qa_accuracy

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

# Columns of a score table that are never metric scores.
META_COLUMNS = frozenset({
    "video", "prompt", "model", "prompt_id", "dimension", "error", "seed", "path", "id", "index",
    "row", "n_frames", "num_frames", "frames", "fps", "duration", "duration_s", "width", "height",
    "seconds", "elapsed", "elapsed_s", "time_s", "runtime_s", "question", "answer", "status",
})

_STAT_COLUMNS = [
    "field", "direction", "human_dimension", "level", "breakdown", "group", "n",
    "srcc", "srcc_low", "srcc_high", "krcc", "krcc_low", "krcc_high",
    "plcc", "plcc_low", "plcc_high", "plcc_fit", "plcc_fit_low", "plcc_fit_high",
    "srcc_fit", "krcc_fit", "rmse_fit", "rmse_fit_low", "rmse_fit_high", "fit_ok",
    "pair_acc", "pair_acc_low", "pair_acc_high", "pair_acc_excl_ties", "n_pairs", "pair_ties",
    "qa_acc", "qa_acc_low", "qa_acc_high", "qa_pred_unparseable", "qa_human_unparseable",
    "n_missing", "krcc_method", "srcc_method",
]


# --------------------------------------------------------------------------
# Join
# --------------------------------------------------------------------------


@dataclass
class JoinReport:
    """How prediction videos were matched to human-labelled videos."""

    n_predictions: int
    n_human_videos: int
    matched: dict[str, int] = field(default_factory=dict)  # method -> count
    unmatched_predictions: list[str] = field(default_factory=list)
    unmatched_human: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-friendly summary (lists truncated to 50 entries, counts exact)."""
        return {
            "n_predictions": self.n_predictions,
            "n_human_videos": self.n_human_videos,
            "matched": dict(self.matched),
            "n_unmatched_predictions": len(self.unmatched_predictions),
            "unmatched_predictions": self.unmatched_predictions[:50],
            "n_unmatched_human": len(self.unmatched_human),
            "unmatched_human": self.unmatched_human[:50],
            "n_ambiguous": len(self.ambiguous),
            "ambiguous": self.ambiguous[:50],
        }


def _norm_path(v: str) -> str:
    v = v.replace("\\", "/").strip()
    return v[2:] if v.startswith("./") else v


def _norm_series(s: pd.Series) -> list[str]:
    # Vectorised _norm_path for a whole column, returned as a plain list.
    return s.astype(str).str.replace("\\", "/", regex=False).str.strip().str.removeprefix("./").tolist()


def _suffix(v: str, k: int) -> str | None:
    parts = [p for p in _norm_path(v).split("/") if p]
    if len(parts) < k:
        return None
    return "/".join(parts[-k:])


def match_videos(
    pred_videos: Sequence[str], human_videos: Sequence[str], *, max_suffix: int = 4, normalized: bool = False
) -> tuple[dict[int, tuple[str, str]], set[str]]:
    """Match prediction video paths to human video paths; see :func:`join_scores`.

    Returns ``{prediction index: (human video, method)}`` with method
    ``"exact"``, ``"suffixK"`` (the last K path components) or
    ``"basename"``, and the set of prediction videos whose file name was
    ambiguous. Each human video is used at most once.
    """
    if normalized:
        pv = list(pred_videos)
        hvideos = list(dict.fromkeys(human_videos))
    else:
        pv = [_norm_path(str(v)) for v in pred_videos]
        hvideos = list(dict.fromkeys(_norm_path(str(v)) for v in human_videos))
    hset = set(hvideos)
    match_of: dict[int, tuple[str, str]] = {}
    used: set[str] = set()
    for i, v in enumerate(pv):
        if v in hset and v not in used:
            match_of[i] = (v, "exact")
            used.add(v)
    ambiguous: set[str] = set()
    if len(match_of) == len(pv):
        return match_of, ambiguous
    # Suffix keys by rsplit: a plain loop over strings, ~0.1 s per pass at 60k.
    stripped_h = [h.lstrip("/") for h in hvideos]
    stripped_p = [v.lstrip("/") for v in pv]

    def tail(v: str, k: int) -> str | None:
        parts = v.rsplit("/", k)
        return "/".join(parts[-k:]) if len(parts) >= k and all(parts[-k:]) else None

    for k in range(max_suffix, 0, -1):
        rest = [i for i in range(len(pv)) if i not in match_of]
        if not rest:
            break
        # A key must be unique among *all* labelled videos and all predictions,
        # matched or not: otherwise, once "A/001.mp4" is matched exactly, the
        # bare "001.mp4" of prediction "B/001.mp4" would pick the label of an
        # unrelated "C/001.mp4" just because it is the only one left.
        hk = {}
        hcount: Counter = Counter()
        for j, h in enumerate(stripped_h):
            key = tail(h, k)
            if key is not None:
                hk[key] = j
                hcount[key] += 1
        p_all = [tail(v, k) for v in stripped_p]
        pk = [p_all[i] for i in rest]
        pcount = Counter(key for key in p_all if key is not None)
        for i, key in zip(rest, pk):
            if key is None or key not in hcount:
                continue
            if hcount[key] == 1 and pcount[key] == 1 and hvideos[hk[key]] not in used:
                h = hvideos[hk[key]]
                match_of[i] = (h, "basename" if k == 1 else f"suffix{k}")
                used.add(h)
            elif k == 1:
                ambiguous.add(pv[i])
    return match_of, ambiguous


def join_scores(
    predictions: pd.DataFrame,
    human: pd.DataFrame,
    *,
    allow_unmatched: bool = False,
    max_suffix: int = 4,
) -> tuple[pd.DataFrame, JoinReport]:
    """Join a score table to human labels by video; report how each was matched.

    ``predictions`` needs a ``video`` column (one row per video) and
    ``human`` the columns ``video, dimension, mos`` (as produced by
    :func:`videojury.human.importers.load_human_labels`). Matching: the
    exact path string (after turning backslashes into slashes); then, for
    the rest, the longest trailing path of up to ``max_suffix`` components
    that identifies exactly one human video and exactly one prediction,
    the human video not matched yet (so
    ``/data/Sora/001.mp4`` finds ``Sora/001.mp4`` even where ``001.mp4``
    alone is ambiguous). Prediction videos with no human label raise
    :class:`InputError` (naming rows) unless ``allow_unmatched``, in which
    case they are left out and listed in the report; human videos without
    a prediction are always listed. The result has one row per (video,
    human dimension) with the human columns renamed ``human_video``,
    ``human_dimension``, ``mos`` and a ``match`` column.
    """
    if "video" not in predictions.columns:
        raise InputError(f"{predictions.attrs.get('source', 'predictions')}: missing column 'video'")
    for c in ("video", "mos"):
        if c not in human.columns:
            raise InputError(f"{human.attrs.get('source', 'human labels')}: missing column {c!r}")
    pred = predictions.reset_index(drop=True).copy()
    pv = pd.Series(_norm_series(pred["video"]))
    empty = pv.str.len() == 0
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(f"predictions row {i + 1}: field 'video' is empty")
    dup = pv.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"predictions row {i + 1}: video {pred['video'].iloc[i]!r} appears more than once; "
            "correlate needs one score per video"
        )
    hum = human.copy()
    if "dimension" not in hum.columns:
        hum["dimension"] = "mos"
    hv_all = _norm_series(hum["video"])
    hvideos = list(dict.fromkeys(hv_all))
    match_of, ambiguous = match_videos(pv.tolist(), hvideos, max_suffix=max_suffix, normalized=True)
    used = {h for h, _ in match_of.values()}
    unmatched = [i for i in range(len(pv)) if i not in match_of]
    report = JoinReport(n_predictions=len(pv), n_human_videos=len(hvideos))
    for _, m in match_of.values():
        report.matched[m] = report.matched.get(m, 0) + 1
    report.unmatched_predictions = [str(pred["video"].iloc[i]) for i in unmatched]
    report.unmatched_human = [h for h in hvideos if h not in used]
    report.ambiguous = sorted(ambiguous)
    if unmatched and not allow_unmatched:
        shown = ", ".join(f"row {i + 1} ({pred['video'].iloc[i]!r})" for i in unmatched[:5])
        more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
        amb = f"; {len(ambiguous)} of them have an ambiguous file name" if ambiguous else ""
        raise InputError(
            f"{len(unmatched)} video(s) in the predictions have no human label (field 'video'): {shown}{more}{amb}. "
            "Pass allow_unmatched / --allow-unmatched to correlate the matched ones and list the rest."
        )
    pred["_row"] = np.arange(len(pred)) + 1
    pred["human_video"] = [match_of[i][0] if i in match_of else None for i in range(len(pred))]
    pred["match"] = [match_of[i][1] if i in match_of else None for i in range(len(pred))]
    pred = pred[pred["human_video"].notna()]
    hcols = hum.copy()
    hcols["human_video"] = hv_all
    hcols = hcols.rename(columns={"dimension": "human_dimension", "video": "_hvideo_raw"})
    keep_h = ["human_video", "human_dimension", "mos"] + [
        c for c in ("model", "prompt_id", "prompt") if c in hcols.columns
    ]
    hcols = hcols[keep_h]
    hdup = hcols.duplicated(["human_video", "human_dimension"])
    if hdup.any():
        i = int(np.flatnonzero(hdup.to_numpy())[0])
        raise InputError(
            f"human labels row {i + 1}: video {hcols['human_video'].iloc[i]!r} has more than one label "
            f"for dimension {hcols['human_dimension'].iloc[i]!r}"
        )
    hmos = pd.to_numeric(hcols["mos"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(hmos)):
        i = int(np.flatnonzero(~np.isfinite(hmos))[0])
        raise InputError(f"human labels row {i + 1}: field 'mos' is missing or not a number: {hcols['mos'].iloc[i]!r}")
    hcols = hcols.assign(mos=hmos)
    # Prediction metadata wins over the human table's; fill gaps from the latter.
    for c in ("model", "prompt_id", "prompt"):
        if c in hcols.columns:
            hcols = hcols.rename(columns={c: f"_h_{c}"})
    joined = pred.merge(hcols, on="human_video", how="inner")
    for c in ("model", "prompt_id", "prompt"):
        hc = f"_h_{c}"
        if hc in joined.columns:
            if c in joined.columns:
                joined[c] = joined[c].where(joined[c].notna(), joined[hc])
            else:
                joined[c] = joined[hc]
            joined = joined.drop(columns=[hc])
    return joined.reset_index(drop=True), report


# --------------------------------------------------------------------------
# Fields and directions
# --------------------------------------------------------------------------


def score_fields(table: pd.DataFrame) -> list[str]:
    """Numeric columns of a score table that are metric scores (not metadata).

    A column counts when most of its non-empty cells are numbers. A score
    column with a stray text cell ("n/a", "NaN" read from CSV, an error
    message) is therefore still a score column, and :func:`agreement` stops
    on that cell naming its row, instead of the field vanishing silently.
    """
    out = []
    for c in table.columns:
        if c in META_COLUMNS or str(c).startswith("_") or c in ("human_video", "human_dimension", "mos", "match"):
            continue
        raw = table[c]
        vals = pd.to_numeric(raw, errors="coerce")
        present = raw.notna() & (raw.astype(str).str.strip() != "")
        n_num = int(vals.notna().sum())
        if n_num and n_num > int((present & vals.isna()).sum()):
            out.append(c)
    return out


def resolve_direction(name: str, directions: Mapping[str, str] | Callable[[str], str | None] | None) -> str:
    """``"higher"`` or ``"lower"`` for a field; default higher-better.

    ``directions`` is a mapping or a callable (e.g. a lookup in metric
    metadata returning ``"lower"`` for FVD-like scores, ``None`` if unknown).
    """
    d = None
    if callable(directions):
        d = directions(name)
    elif directions is not None:
        d = directions.get(name)
    if d is None:
        return "higher"
    d = str(d).lower()
    if d in ("higher", "high", "up", "+", "max", "higher_better", "higher-is-better"):
        return "higher"
    if d in ("lower", "low", "down", "-", "min", "lower_better", "lower-is-better"):
        return "lower"
    raise InputError(f"field {name!r}: direction must be 'higher' or 'lower', got {d!r}")


# --------------------------------------------------------------------------
# Statistics on arrays
# --------------------------------------------------------------------------


def _nan_row() -> dict:
    return {c: np.nan for c in _STAT_COLUMNS}


def _instance_point(x: np.ndarray, y: np.ndarray) -> tuple[dict, object]:
    out: dict = {"n": int(x.size)}
    if x.size < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        for k in ("srcc", "krcc", "plcc", "plcc_fit", "srcc_fit", "krcc_fit", "rmse_fit"):
            out[k] = float("nan")
        out["fit_ok"] = False
        return out, None
    out["srcc"] = srcc(x, y)
    out["krcc"] = krcc(x, y)
    out["plcc"] = plcc(x, y)
    fit = fit_logistic(x, y)
    fx = fit(x)
    if np.all(np.isfinite(fx)) and np.ptp(fx) > 0:
        out["plcc_fit"] = plcc(fx, y)
        # The logistic is monotone, so these equal the raw values unless the
        # fit saturates and creates ties; reported so that is visible.
        out["srcc_fit"] = srcc(fx, y)
        out["krcc_fit"] = krcc(fx, y)
        out["rmse_fit"] = rmse(fx, y)
    else:
        out.update(plcc_fit=float("nan"), srcc_fit=float("nan"), krcc_fit=float("nan"), rmse_fit=float("nan"))
        fit = None
    out["fit_ok"] = bool(fit is not None and fit.ok)
    return out, fit


def _instance_statistics(x, y, fit, *, exact_max_n, krcc_exact_max_n, prefix="") -> dict:
    n = x.size
    sts = {
        prefix + "srcc": spearman_statistic(x, y, exact=n <= exact_max_n),
        prefix + "krcc": kendall_statistic(x, y, exact=n <= krcc_exact_max_n),
        prefix + "plcc": pearson_statistic(x, y),
    }
    if fit is not None:
        fx = fit(x)
        sts[prefix + "plcc_fit"] = pearson_statistic(fx, y)
        sts[prefix + "rmse_fit"] = rmse_statistic(fx, y)
    return sts


def _instance_setup(x: np.ndarray, y: np.ndarray, exact_max_n: int, krcc_exact_max_n: int, want_ci: bool):
    """Point estimates and (if ``want_ci``) the bootstrap statistics to evaluate."""
    row, fit = _instance_point(x, y)
    n = x.size
    row["srcc_method"] = "exact" if n <= exact_max_n else "linearised"
    row["krcc_method"] = "exact" if n <= krcc_exact_max_n else "linearised"
    sts = {}
    if want_ci and n >= 3 and math.isfinite(row.get("srcc", float("nan"))):
        sts = _instance_statistics(x, y, fit, exact_max_n=exact_max_n, krcc_exact_max_n=krcc_exact_max_n)
    return row, sts


def _model_setup(x: np.ndarray, y: np.ndarray, models, want_ci: bool):
    """Per-model means, point estimates and (if ``want_ci``) the bootstrap statistic."""
    g = pd.Series(np.asarray(models, dtype=object)).astype(str).to_numpy()
    labels, codes = np.unique(g, return_inverse=True)
    codes = codes.ravel()
    cnt = np.bincount(codes, minlength=labels.size)
    means = pd.DataFrame({
        "model": labels,
        "metric": np.bincount(codes, weights=x, minlength=labels.size) / cnt,
        "human": np.bincount(codes, weights=y, minlength=labels.size) / cnt,
        "n_videos": cnt,
    })
    row: dict = {"n": int(len(means))}
    mx, my = means["metric"].to_numpy(), means["human"].to_numpy()
    st = None
    if len(means) >= 3 and np.ptp(mx) > 0 and np.ptp(my) > 0:
        row.update(srcc=srcc(mx, my), krcc=krcc(mx, my), plcc=plcc(mx, my))
        if len(means) >= 10:
            # A 4-parameter curve through fewer points is mostly noise.
            fit = fit_logistic(mx, my)
            fx = fit(mx)
            if np.all(np.isfinite(fx)) and np.ptp(fx) > 0:
                row.update(plcc_fit=plcc(fx, my), srcc_fit=srcc(fx, my), krcc_fit=krcc(fx, my),
                           rmse_fit=rmse(fx, my), fit_ok=fit.ok)
        if want_ci:
            st = model_level_statistics(x, y, g)
    else:
        row.update(srcc=np.nan, krcc=np.nan, plcc=np.nan)
    return row, st, means


def _fill_ci(row: dict, samples: dict, prefix: str, confidence: float) -> None:
    for k, v in samples.items():
        if not k.startswith(prefix):
            continue
        name = k[len(prefix):]
        if name == "model":
            for j, stat in enumerate(("srcc", "krcc", "plcc")):
                row[stat + "_low"], row[stat + "_high"] = percentile_ci(v[:, j], confidence)
        else:
            row[name + "_low"], row[name + "_high"] = percentile_ci(v, confidence)


def correlate(
    x,
    y,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
    exact_max_n: int = 2_000,
    krcc_exact_max_n: int = 2_000,
) -> dict:
    """SRCC, KRCC, PLCC (raw and after the 4-parameter logistic) and RMSE with CIs.

    ``x`` are metric scores (already oriented higher-is-better) and ``y`` the
    human scores. Returns a flat dict with the point estimates, ``*_low`` /
    ``*_high`` percentile bootstrap bounds (``n_resamples=0`` skips the
    bootstrap), ``fit_ok`` and the methods used for the rank statistics.
    SRCC is exact per resample up to ``exact_max_n`` items, KRCC up to
    ``krcc_exact_max_n``; above that, the linearised bootstrap is used (see
    :mod:`videojury.stats.bootstrap`).
    """
    xa = np.asarray(x, float)
    ya = np.asarray(y, float)
    row, sts = _instance_setup(xa, ya, exact_max_n, krcc_exact_max_n, bool(n_resamples))
    if sts:
        samp = bootstrap_statistics(xa.size, sts, n_resamples=n_resamples, seed=seed, clusters=clusters)
        _fill_ci(row, samp, "", confidence)
    return row


def model_level(
    x,
    y,
    models,
    *,
    n_resamples: int = 1000,
    seed: int = 0,
    clusters: Sequence | np.ndarray | None = None,
    confidence: float = 0.95,
) -> dict:
    """Correlate per-model mean metric scores with per-model mean human scores.

    Every T2V model's videos are averaged (metric and MOS alike) and SRCC,
    KRCC and PLCC are taken across the models, as in LOVE's model-level
    leaderboard. CIs resample videos (or ``clusters``) and recompute the
    means, so they reflect how much the model ranking depends on which
    videos were generated - not uncertainty from the choice of models.
    Also returns the per-model means as ``row["models"]``.
    """
    xa = np.asarray(x, float)
    ya = np.asarray(y, float)
    row, st, means = _model_setup(xa, ya, models, bool(n_resamples))
    if st is not None:
        samp = bootstrap_statistics(xa.size, {"model": st}, n_resamples=n_resamples, seed=seed, clusters=clusters)
        _fill_ci(row, samp, "", confidence)
    row["models"] = means
    return row


def prompt_pairs(groups, mos) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """All pairs of items in the same group (prompt) whose human scores differ.

    Returns ``(better, worse, group_code)``: item indices oriented so that
    ``mos[better] > mos[worse]``, and the group each pair came from. Built
    without a Python loop over groups (one pass per distinct group size).
    """
    g = pd.Series(np.asarray(groups, dtype=object)).astype(str)
    codes, _ = pd.factorize(g)
    m = np.asarray(mos, float)
    order = np.argsort(codes, kind="mergesort")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    sizes = np.diff(np.r_[starts, sc.size])
    A, B, G = [], [], []
    for s in np.unique(sizes):
        if s < 2:
            continue
        st = starts[sizes == s]
        ia, ib = np.triu_indices(s, 1)
        a = order[(st[:, None] + ia[None, :]).ravel()]
        b = order[(st[:, None] + ib[None, :]).ravel()]
        A.append(a)
        B.append(b)
        G.append(np.repeat(sc[st], ia.size))
    if not A:
        e = np.zeros(0, dtype=np.int64)
        return e, e, e
    a, b, gg = np.concatenate(A), np.concatenate(B), np.concatenate(G)
    keep = m[a] != m[b]
    a, b, gg = a[keep], b[keep], gg[keep]
    swap = m[a] < m[b]
    better = np.where(swap, b, a)
    worse = np.where(swap, a, b)
    return better, worse, gg


def pair_accuracy(
    x,
    better: np.ndarray,
    worse: np.ndarray,
    *,
    clusters: np.ndarray | None = None,
    n_resamples: int = 1000,
    seed: int = 0,
    confidence: float = 0.95,
) -> dict:
    """Share of human-ordered pairs ``(better, worse)`` that the metric orders the same way.

    ``x`` are metric scores (higher-is-better orientation). A pair where the
    metric gives both videos the same score is a *tie*: it does not count
    as agreement (``pair_acc = agree / n_pairs``), is reported as
    ``pair_ties``, and ``pair_acc_excl_ties = agree / (n_pairs - ties)`` is
    given too. The CI resamples ``clusters`` (one label per pair, e.g. the
    prompt: pairs of one prompt share videos and are not independent) or
    pairs when none are given.
    """
    xa = np.asarray(x, float)
    d = xa[better] - xa[worse]
    agree = (d > 0).astype(float)
    tie = (d == 0).astype(float)
    n = d.size
    row = {"n_pairs": int(n), "pair_ties": int(tie.sum())}
    if n == 0:
        row.update(pair_acc=np.nan, pair_acc_excl_ties=np.nan)
        return row
    row["pair_acc"] = float(agree.mean())
    nt = n - tie.sum()
    row["pair_acc_excl_ties"] = float(agree.sum() / nt) if nt else float("nan")
    if n_resamples:
        if clusters is not None:
            codes, _ = pd.factorize(pd.Series(np.asarray(clusters, dtype=object)).astype(str))
            k = int(codes.max()) + 1
            F = np.column_stack([np.bincount(codes, minlength=k), np.bincount(codes, weights=agree, minlength=k)])
        else:
            k = n
            F = np.column_stack([np.ones(n), agree])
        st = LinearStatistic(F, lambda T: T[:, 1] / T[:, 0])
        samp = bootstrap_statistics(k, {"p": st}, n_resamples=n_resamples, seed=seed)["p"]
        row["pair_acc_low"], row["pair_acc_high"] = percentile_ci(samp, confidence)
    return row


# --------------------------------------------------------------------------
# The full table
# --------------------------------------------------------------------------


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
    field (default: the numeric non-metadata columns) and each human
    dimension produces rows for:

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

    ``cluster="prompt"`` resamples prompts instead of videos for every CI.
    Groups with fewer than ``min_group`` items get no statistics. The
    result's ``table`` is tidy: one row per field x human dimension x level
    x breakdown group.
    """
    notes: list[str] = []
    if human is None or len(human) == 0:
        # QA-only run: predictions may hold one row per question, so no MOS join.
        if qa_human is None:
            raise InputError("no human labels given")
        if "video" not in predictions.columns:
            raise InputError("predictions: missing column 'video'")
        joined = pd.DataFrame(columns=["video", "human_dimension", "mos"])
        report = JoinReport(n_predictions=len(predictions), n_human_videos=0)
        fields = []
    else:
        joined, report = join_scores(predictions, human, allow_unmatched=allow_unmatched)
    if fields is None:
        fields = [f for f in score_fields(predictions) if f not in qa_fields]
    else:
        missing = [f for f in fields if f not in predictions.columns]
        if missing:
            raise InputError(
                f"predictions have no column(s) {', '.join(map(repr, missing))}; "
                f"score columns found: {', '.join(map(repr, score_fields(predictions)))}"
            )
    dirs = {f: resolve_direction(f, directions) for f in fields}
    qa_by = list(by)  # QA rows come from their own join, with its own columns
    by = [b for b in by if b in joined.columns]
    cl_col = None
    if cluster == "prompt":
        cl_col = "prompt_id" if "prompt_id" in joined.columns else ("prompt" if "prompt" in joined.columns else None)
        if cl_col is None:
            raise InputError("cluster='prompt' needs a 'prompt_id' or 'prompt' column in predictions or human labels")
    elif cluster not in (None, "none", "video"):
        raise InputError(f"cluster must be 'prompt' or none, got {cluster!r}")
    rows: list[dict] = []
    model_tables: list[pd.DataFrame] = []
    common = dict(n_resamples=n_resamples, seed=seed, confidence=confidence)

    want_ci = bool(n_resamples)
    for hdim, sub in joined.groupby("human_dimension", sort=True):
        sub = sub.reset_index(drop=True)
        y_all = sub["mos"].to_numpy(dtype=float)
        xs_all, oks = {}, {}
        for f in fields:
            vals, ok = _field_values(sub, f, drop_missing)
            xs_all[f] = (-1.0 if dirs[f] == "lower" else 1.0) * vals
            oks[f] = ok
        cl_all = sub[cl_col].astype(str).to_numpy() if cl_col else None
        pcol = "prompt_id" if "prompt_id" in sub.columns else ("prompt" if "prompt" in sub.columns else None)
        groups = [("all", "all", np.ones(len(sub), dtype=bool))]
        for b in by:
            for gval, idx in sub.groupby(b, sort=True).indices.items():
                gm = np.zeros(len(sub), dtype=bool)
                gm[idx] = True
                groups.append((b, str(gval), gm))
        for breakdown, gval, gmask in groups:
            # Fields with the same usable rows share one set of resamples (and
            # the instance and model levels share them too): one weight draw
            # and one matrix product serve them all.
            parts: dict[bytes, list[str]] = {}
            for f in fields:
                parts.setdefault((gmask & oks[f]).tobytes(), []).append(f)
            for key, flds in parts.items():
                mask = np.frombuffer(key, dtype=bool)
                n = int(mask.sum())
                y = y_all[mask]
                cls = cl_all[mask] if cl_all is not None else None
                d = sub[mask]
                sts: dict = {}
                frows: dict[str, dict] = {}
                for f in flds:
                    x = xs_all[f][mask]
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
                            means.insert(0, "group", gval)
                            means.insert(0, "breakdown", breakdown)
                            means.insert(0, "human_dimension", hdim)
                            means.insert(0, "field", f)
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
                    samp = bootstrap_statistics(n, sts, n_resamples=n_resamples, seed=seed, clusters=cls)
                    for f in flds:
                        for tag in ("i", "m"):
                            if f + "\0" + tag in frows:
                                _fill_ci(frows[f + "\0" + tag], samp, f"{f}\0{tag}\0", confidence)
                rows.extend(frows.values())
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

    table = pd.DataFrame(rows)
    for c in _STAT_COLUMNS:
        if c not in table.columns:
            table[c] = np.nan
    table = table[_STAT_COLUMNS]
    if len(table):
        # Stable, readable order: field, human dimension, level, then overall before breakdowns.
        order = {"instance": 0, "model": 1, "pair": 2, "human_pair": 3, "qa": 4}
        table = table.assign(
            _f=table["field"].map({f: i for i, f in enumerate(list(fields) + list(qa_fields))}).fillna(len(fields) + 99),
            _l=table["level"].map(order).fillna(9), _b=(table["breakdown"] != "all").astype(int),
        ).sort_values(["_f", "human_dimension", "_b", "breakdown", "group", "_l"], kind="mergesort")
        table = table.drop(columns=["_f", "_l", "_b"]).reset_index(drop=True)
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


def _human_pair_rows(predictions, pairs, fields, dirs, drop_missing, common) -> tuple[list[dict], list[str]]:
    for c in ("video_a", "video_b", "winner"):
        if c not in pairs.columns:
            raise InputError(f"human pairs table is missing column {c!r}")
    pv = predictions["video"].astype(str).map(_norm_path)
    pos = {v: i for i, v in enumerate(pv)}
    # Fall back to file names for pair videos that are not exact paths.
    base: dict[str, list[int]] = {}
    for i, v in enumerate(pv):
        base.setdefault(_suffix(v, 1) or v, []).append(i)

    def find(v: str) -> int | None:
        v = _norm_path(str(v))
        if v in pos:
            return pos[v]
        c = base.get(_suffix(v, 1) or v, [])
        return c[0] if len(c) == 1 else None

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


def _qa_rows(predictions, qa_human, qa_fields, by, common) -> tuple[list[dict], list[str]]:
    for c in ("video", "answer"):
        if c not in qa_human.columns:
            raise InputError(f"QA labels are missing column {c!r}")
    h = qa_human.reset_index(drop=True).copy()
    h["_v"] = h["video"].astype(str).map(_norm_path)
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
    keep_p = [c for c in p.columns if c != "answer" or c in qa_fields]
    m = p[keep_p].merge(h[on + ["answer"]].rename(columns={"answer": "_human_answer"}), on=on, how="inner")
    n_lost = len(h) - len(m)
    if n_lost > 0:
        notes.append(f"QA: {n_lost} human QA label(s) have no matching prediction (video/question)")
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

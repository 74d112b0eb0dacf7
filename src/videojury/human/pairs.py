"""Pairwise preferences to Bradley-Terry scores, per video and per T2V model.

Model: item ``i`` beats item ``j`` with probability
``p_i / (p_i + p_j) = 1 / (1 + exp(-(s_i - s_j)))`` where ``s = log p`` is
the reported **score** (centred to mean 0 within a fit).

Ties, two options:

* ``"half"`` (default): a tie counts as half a win for each side, and the
  model is fitted with the minorisation-maximisation (MM) algorithm of
  Hunter (2004), ``p_i <- W_i / sum_g 1 / (p_i + p_opp(g))``. Simple,
  monotone, and what most leaderboards do.
* ``"davidson"``: Davidson's (1970) model with an explicit tie parameter,
  ``P(tie) = nu sqrt(p_i p_j) / (p_i + p_j + nu sqrt(p_i p_j))``, fitted by
  L-BFGS on the penalised log-likelihood. Preferable when ties are common
  and carry information.

Regularisation: every item plays ``prior`` virtual games (half won, half
lost) against a fixed reference of score 0. That keeps the scores finite
for items that never win or never lose and ties together comparison
graphs that are not connected; with many real comparisons per item its
pull is negligible. ``prior=0`` gives the plain MLE (which may diverge).

Uncertainty: percentile bootstrap over comparisons (each resample a
multinomial reweighting of the rows), all resamples fitted together with
vectorised MM, warm-started from the full-data fit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import optimize, sparse
from scipy.sparse.csgraph import connected_components

from ..stats.bootstrap import Resampler
from ..errors import InputError

__all__ = ["BTResult", "bradley_terry", "fit_bt_davidson", "fit_bt_mm", "pairwise_scores",
           "video_model_mapping"]


def _incidence(i: np.ndarray, j: np.ndarray, n_items: int) -> sparse.csr_matrix:
    m = i.size
    rows = np.r_[np.arange(m), np.arange(m)]
    cols = np.r_[i, j]
    return sparse.csr_matrix((np.ones(2 * m), (rows, cols)), shape=(m, n_items))


def _best_shift(theta: np.ndarray) -> np.ndarray:
    """Shift each row of log-strengths to maximise the prior term exactly.

    The data likelihood is invariant to adding a constant to every score;
    only the virtual games against the reference pin the common level. MM
    moves along that flat direction very slowly (thousands of iterations),
    so after each MM step we solve the 1-D concave problem
    ``max_t sum_k log sig(theta_k + t) + log sig(-theta_k - t)`` by Newton.
    """
    # The previous iterate was already optimally shifted, so t = 0 is a close start.
    t = np.zeros((theta.shape[0], 1))
    for _ in range(50):
        sig = 1.0 / (1.0 + np.exp(-(theta + t)))
        g = (1.0 - 2.0 * sig).sum(axis=1, keepdims=True)
        h = 2.0 * (sig * (1.0 - sig)).sum(axis=1, keepdims=True)
        step = g / np.maximum(h, 1e-300)
        t = t + step
        if np.max(np.abs(step)) < 1e-12:
            break
    return theta + t


def fit_bt_mm(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    n_items: int,
    *,
    weights: np.ndarray | None = None,
    prior: float = 1.0,
    max_iter: int = 5000,
    tol: float = 1e-9,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, int, bool]:
    """Fit Bradley-Terry log-strengths by MM with ties as half wins.

    ``i``, ``j`` are item indices of each comparison and ``outcome`` is 1
    when ``i`` won, 0 when ``j`` won and 0.5 for a tie. ``weights`` may be
    a ``(b, m)`` array of per-comparison weights (one row per bootstrap
    resample); all rows are then fitted simultaneously and the result is
    ``(b, n_items)``. Returns ``(scores, iterations, converged)``; scores
    are centred to mean 0 per row.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    o = np.asarray(outcome, dtype=float)
    single = weights is None or np.ndim(weights) == 1
    Wt = np.ones((1, i.size)) if weights is None else np.atleast_2d(np.asarray(weights, float))
    # Wins per item: outcome for the i side, 1 - outcome for the j side.
    Mi = sparse.csr_matrix((np.ones(i.size), (np.arange(i.size), i)), shape=(i.size, n_items))
    Mj = sparse.csr_matrix((np.ones(j.size), (np.arange(j.size), j)), shape=(j.size, n_items))
    wins = np.asarray((Wt * o) @ Mi + (Wt * (1 - o)) @ Mj) + prior / 2.0
    # Only the number of games per unordered pair matters to the MM step, so
    # aggregate repeated pairs once (model-level data has few distinct pairs).
    lo_, hi_ = np.minimum(i, j), np.maximum(i, j)
    key, inv = np.unique(lo_ * n_items + hi_, return_inverse=True)
    P = sparse.csr_matrix((np.ones(i.size), (np.arange(i.size), inv.ravel())), shape=(i.size, key.size))
    games = np.asarray(P.T @ Wt.T).T
    i, j = key // n_items, key % n_items
    M = _incidence(i, j, n_items)
    p = np.exp(init) if init is not None else np.ones((Wt.shape[0], n_items))
    p = np.broadcast_to(p, (Wt.shape[0], n_items)).copy()
    converged = False
    it = 0
    for it in range(1, max_iter + 1):
        d = games / (p[:, i] + p[:, j])
        denom = np.asarray(d @ M) + prior / (p + 1.0)
        with np.errstate(divide="ignore", invalid="ignore"):
            new = wins / denom
        new = np.where(np.isfinite(new) & (new > 0), new, 1e-300)
        if prior == 0:
            # Without the reference the scale is free; fix the geometric mean.
            new = new / np.exp(np.mean(np.log(new), axis=1, keepdims=True))
        else:
            new = np.exp(_best_shift(np.log(new)))
        change = np.max(np.abs(np.log(new) - np.log(p)))
        p = new
        if change < tol:
            converged = True
            break
    s = np.log(p)
    s -= s.mean(axis=1, keepdims=True)
    return (s[0] if single else s), it, converged


def fit_bt_davidson(
    i: np.ndarray,
    j: np.ndarray,
    outcome: np.ndarray,
    n_items: int,
    *,
    weights: np.ndarray | None = None,
    prior: float = 1.0,
    init: np.ndarray | None = None,
) -> tuple[np.ndarray, float, bool]:
    """Fit Davidson's tie model by L-BFGS; returns ``(scores, nu, converged)``.

    ``outcome`` as in :func:`fit_bt_mm` (0.5 marks a tie). The penalty is
    the same ``prior`` virtual games against a score-0 reference.
    """
    i = np.asarray(i, dtype=np.int64)
    j = np.asarray(j, dtype=np.int64)
    o = np.asarray(outcome, dtype=float)
    w = np.ones(i.size) if weights is None else np.asarray(weights, float)
    win_i = w * (o == 1)
    win_j = w * (o == 0)
    tie = w * (o == 0.5)

    def nll(params: np.ndarray) -> tuple[float, np.ndarray]:
        th, lnu = params[:-1], params[-1]
        a, b = th[i], th[j]
        half = 0.5 * (a + b)
        # log D = log(e^a + e^b + nu e^{(a+b)/2}) computed stably.
        terms = np.stack([a, b, lnu + half])
        mx = terms.max(axis=0)
        ex = np.exp(terms - mx)
        sD = ex.sum(axis=0)
        logD = mx + np.log(sD)
        ll = win_i * (a - logD) + win_j * (b - logD) + tie * (lnu + half - logD)
        tot = win_i + win_j + tie
        pa, pb, pc = ex[0] / sD, ex[1] / sD, ex[2] / sD
        # d logD / d a = pa + pc/2; d logD / d b = pb + pc/2; d logD / d lnu = pc
        ga = win_i + 0.5 * tie - tot * (pa + 0.5 * pc)
        gb = win_j + 0.5 * tie - tot * (pb + 0.5 * pc)
        gnu = tie.sum() - float(tot @ pc)
        g = np.bincount(i, weights=ga, minlength=n_items) + np.bincount(j, weights=gb, minlength=n_items)
        # Virtual games vs the reference: prior/2 * (log sig(th) + log sig(-th)).
        sig = 1.0 / (1.0 + np.exp(-th))
        ll_prior = prior / 2.0 * (np.log(sig) + np.log1p(-sig)).sum() if prior else 0.0
        g_prior = prior / 2.0 * (1.0 - 2.0 * sig) if prior else 0.0
        f = -(ll.sum() + ll_prior)
        grad = -np.r_[g + g_prior, gnu]
        return float(f), grad

    x0 = np.r_[init if init is not None else np.zeros(n_items), np.log(0.5)]
    res = optimize.minimize(nll, x0, jac=True, method="L-BFGS-B", options={"maxiter": 5000})
    th = res.x[:-1] - res.x[:-1].mean()
    return th, float(np.exp(res.x[-1])), bool(res.success)


def video_model_mapping(table: pd.DataFrame, *, video: str = "video", model: str = "model") -> dict[str, str]:
    """``{video: model}`` from a table such as a score table or a manifest.

    A video may be listed several times (one row per dimension or question)
    under the same model; under two different models it is ambiguous which
    model its comparisons count for, and :class:`InputError` names both rows.
    """
    vids = table[video].astype(str).str.strip().to_numpy()
    mods = table[model].astype(str).str.strip().to_numpy()
    mapping: dict[str, str] = {}
    first: dict[str, int] = {}
    for i, (v, m) in enumerate(zip(vids, mods)):
        if v in mapping and mapping[v] != m:
            src = table.attrs.get("source", "video->model mapping")
            raise InputError(
                f"{src}: row {i + 1}: video {v!r} is mapped to model {m!r}, but row {first[v] + 1} maps "
                f"it to {mapping[v]!r}; a video belongs to one model"
            )
        mapping.setdefault(v, m)
        first.setdefault(v, i)
    return mapping


@dataclass
class BTResult:
    """Bradley-Terry scores table plus fit diagnostics."""

    scores: pd.DataFrame
    settings: dict = field(default_factory=dict)


def bradley_terry(
    items_a,
    items_b,
    winner,
    *,
    ties: str = "half",
    prior: float = 1.0,
    n_resamples: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
) -> tuple[pd.DataFrame, dict]:
    """Fit Bradley-Terry scores with bootstrap CIs for one set of comparisons.

    ``items_a``/``items_b`` are item labels, ``winner`` is ``"a"``, ``"b"``
    or ``"tie"`` per comparison. Returns a table (``item, score, ci_low,
    ci_high, wins, losses, ties, n, win_rate, rank``; higher score is
    better, rank 1 the best) and diagnostics (iterations, convergence,
    number of connected components of the comparison graph, and for
    Davidson the tie parameter ``nu``).
    """
    a = np.asarray(items_a).astype(str)
    b = np.asarray(items_b).astype(str)
    w = np.asarray(winner).astype(str)
    if n_resamples < 0:
        raise InputError(f"n_resamples must be >= 0 (0 skips the bootstrap), got {n_resamples}")
    if not 0 < confidence < 1:
        raise InputError(f"confidence must be between 0 and 1, got {confidence}")
    bad = ~np.isin(w, ["a", "b", "tie"])
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise InputError(f"comparison {k + 1}: winner must be a, b or tie, got {w[k]!r}")
    codes, labels = pd.factorize(np.r_[a, b])
    i, j = codes[: a.size], codes[a.size :]
    n = len(labels)
    o = np.where(w == "a", 1.0, np.where(w == "b", 0.0, 0.5))
    ncomp = connected_components(_incidence(i, j, n).T @ _incidence(i, j, n), directed=False)[0] if n else 0
    diag: dict = {"ties": ties, "prior": prior, "n_comparisons": int(a.size), "n_items": n, "graph_components": int(ncomp)}
    if ties == "half":
        s, it, ok = fit_bt_mm(i, j, o, n, prior=prior)
        diag.update(iterations=it, converged=ok)
    elif ties == "davidson":
        s, nu, ok = fit_bt_davidson(i, j, o, n, prior=prior)
        diag.update(nu=nu, converged=ok)
    else:
        raise InputError(f"ties must be 'half' or 'davidson', got {ties!r}")
    lo = np.full(n, np.nan)
    hi = np.full(n, np.nan)
    if n_resamples and a.size:
        res = Resampler(a.size, n_resamples=n_resamples, seed=seed)
        boots = []
        for W in res.blocks():
            if ties == "half":
                sb, _, _ = fit_bt_mm(i, j, o, n, weights=W, prior=prior, init=s[None, :], max_iter=2000, tol=1e-7)
            else:
                sb = np.vstack([fit_bt_davidson(i, j, o, n, weights=wr, prior=prior, init=s)[0] for wr in W])
            boots.append(np.atleast_2d(sb))
        B = np.vstack(boots)
        a = (1.0 - confidence) / 2.0
        ok = np.all(np.isfinite(B), axis=1)
        if ok.any():
            lo, hi = np.quantile(B[ok], [a, 1.0 - a], axis=0)
    wins = np.bincount(i, weights=(o == 1), minlength=n) + np.bincount(j, weights=(o == 0), minlength=n)
    losses = np.bincount(i, weights=(o == 0), minlength=n) + np.bincount(j, weights=(o == 1), minlength=n)
    tcount = np.bincount(i, weights=(o == 0.5), minlength=n) + np.bincount(j, weights=(o == 0.5), minlength=n)
    total = wins + losses + tcount
    table = pd.DataFrame({
        "item": np.asarray(labels, dtype=str),
        "score": s,
        "ci_low": lo,
        "ci_high": hi,
        "wins": wins.astype(int),
        "losses": losses.astype(int),
        "ties": tcount.astype(int),
        "n": total.astype(int),
        "win_rate": (wins + 0.5 * tcount) / np.where(total > 0, total, 1),
    })
    table["rank"] = table["score"].rank(ascending=False, method="min").astype(int)
    return table.sort_values(["rank", "item"]).reset_index(drop=True), diag


def pairwise_scores(
    pairs: pd.DataFrame,
    *,
    ties: str = "half",
    prior: float = 1.0,
    n_resamples: int = 200,
    seed: int = 0,
    confidence: float = 0.95,
    levels: tuple[str, ...] = ("video", "model"),
) -> BTResult:
    """Bradley-Terry scores per video and per T2V model, for every dimension.

    ``pairs`` is the table from
    :func:`videojury.human.importers.load_pairs` (``video_a, video_b,
    winner, dimension`` and, for the model level, ``model_a, model_b``).
    At the model level every video comparison becomes a comparison of the
    two videos' models; comparisons of two videos of the same model carry
    no information about models and are dropped (their count is reported).
    Returns one tidy table with ``level, dimension`` in front of the
    columns of :func:`bradley_terry`.
    """
    need = ["video_a", "video_b", "winner"]
    missing = [c for c in need if c not in pairs.columns]
    if missing:
        raise InputError(f"pairs table is missing column(s) {', '.join(map(repr, missing))}")
    df = pairs.copy()
    if "dimension" not in df.columns:
        df["dimension"] = "overall"
    tables = []
    settings: dict = {"ties": ties, "prior": prior, "n_resamples": n_resamples, "seed": seed, "fits": []}
    for dim, sub in df.groupby("dimension", sort=True):
        for level in levels:
            if level == "video":
                a, b, w = sub["video_a"], sub["video_b"], sub["winner"]
                dropped = 0
            elif level == "model":
                if "model_a" not in sub.columns or "model_b" not in sub.columns:
                    continue
                same = (sub["model_a"] == sub["model_b"]).to_numpy()
                dropped = int(same.sum())
                sub2 = sub[~same]
                a, b, w = sub2["model_a"], sub2["model_b"], sub2["winner"]
            else:
                raise InputError(f"unknown level {level!r}")
            if len(a) == 0:
                continue
            t, diag = bradley_terry(a, b, w, ties=ties, prior=prior, n_resamples=n_resamples, seed=seed, confidence=confidence)
            t.insert(0, "dimension", dim)
            t.insert(0, "level", level)
            tables.append(t)
            diag.update(level=level, dimension=dim, dropped_same_model=dropped)
            settings["fits"].append(diag)
    cols = ["level", "dimension", "item", "score", "ci_low", "ci_high", "wins", "losses", "ties", "n", "win_rate", "rank"]
    out = pd.concat(tables, ignore_index=True) if tables else pd.DataFrame(columns=cols)
    return BTResult(scores=out, settings=settings)

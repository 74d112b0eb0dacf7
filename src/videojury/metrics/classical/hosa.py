"""HOSA: a numpy port of the HOSA release LOVE ships (``NRIQA/HOSA_release_v0``).

HOSA (Xu, Ye, Li, Du, Liu & Doermann, "Blind Image Quality Assessment Based on
High Order Statistics Aggregation", IEEE TIP 2016) describes an image by how
its local patches deviate from a 100-word codebook learned on natural
images, and maps that description to a quality score with a linear SVR.

1. Gray image (MATLAB ``rgb2gray``, uint8 rounding) as float; 7x7 patches
   on a regular grid with stride ``max(1, floor(sqrt(H*W / 10000)))`` over the
   image without its 2-pixel border.
2. Each patch is normalised (mean removed, divided by ``sqrt(var + 10)``,
   ``var`` the sample variance) and whitened with the released ``M``, ``P``.
3. Soft assignment: the 5 nearest codewords (squared Euclidean), weights
   ``exp(-0.05 d)`` normalised per patch.
4. Per codeword: weighted mean, weighted variance and weighted skewness of
   its assigned patches minus the codeword's own (``centroid``, ``variance``,
   ``skewness``), giving 3 x 49 x 100 = 14700 numbers. Quirks of the release
   kept: a codeword with one assigned patch adds that patch's residual
   weighted by the patch's *fifth* weight (the loop index left over), and its
   variance/skewness terms stay 0; the higher moments are also 0 when the
   assigned patches have (unweighted) total variance <= 1e-8.
5. Signed power normalisation (``|x|^0.2``), L2 normalisation, then the
   liblinear L2-loss SVR: ``w[:14700] . fv + w[14700] * 1``.

Lower is better: the model predicts LIVE's DMOS (differential mean opinion
score, roughly 0-100; 31 on a clean photograph, 75-80 after heavy blur or
JPEG). The
reference (MATLAB code run in GNU Octave) comparison is in
``docs/metrics.md``.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources

import numpy as np
from scipy.sparse import csc_matrix

from . import matlab
from ._jit import kernel

__all__ = ["hosa", "hosa_features"]

BLOCK = 7
POWER = 0.2
GAMMA = 0.05
NEAREST = 5


@lru_cache(maxsize=1)
def _params() -> dict[str, np.ndarray]:
    with resources.files(__package__).joinpath("data/hosa_params.npz").open("rb") as fh:
        with np.load(fh) as z:
            p = {k: z[k] for k in z.files}
    p["centroid_m2"] = -2.0 * p["centroid"]
    p["centroid_sq"] = np.sum(p["centroid"] * p["centroid"], axis=0)
    return p


def _grid(img: np.ndarray, block: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    """Top-left corners (rows, columns) of the patches inside the 2-pixel border."""
    r, c = img.shape[0] - 4, img.shape[1] - 4
    ys = np.arange(0, r + 1, step)
    xs = np.arange(0, c + 1, step)
    return ys[ys + block <= r], xs[xs + block <= c]


def grid_patches(img: np.ndarray, block: int, step: int) -> np.ndarray:
    """Patches (n, block*block) of LOVE's ``compute_patches``: 2-pixel border cut,
    top-left corners on a ``step`` grid, patch entries row-major, patches in
    MATLAB's column-major grid order (rows of the grid vary fastest)."""
    m = img[2:-2, 2:-2]
    ys, xs = _grid(img, block, step)
    if ys.size == 0 or xs.size == 0:
        return np.zeros((0, block * block))
    # Grid column-major (x outer, y inner), gathered in one copy.
    win = np.lib.stride_tricks.sliding_window_view(m, (block, block)).transpose(1, 0, 2, 3)
    return win[np.ix_(xs, ys)].reshape(-1, block * block)


def _pairwise_sum(a):  # pragma: no cover - compiled by numba
    """numpy's sum of a contiguous run of up to 128 doubles: eight running sums
    (for 8 or more), combined as a tree, then the tail."""
    n = a.size
    if n < 8:
        res = 0.0
        for i in range(n):
            res += a[i]
        return res
    r0, r1, r2, r3, r4, r5, r6, r7 = a[0], a[1], a[2], a[3], a[4], a[5], a[6], a[7]
    i = 8
    while i < n - n % 8:
        r0 += a[i]
        r1 += a[i + 1]
        r2 += a[i + 2]
        r3 += a[i + 3]
        r4 += a[i + 4]
        r5 += a[i + 5]
        r6 += a[i + 6]
        r7 += a[i + 7]
        i += 8
    res = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7))
    while i < n:
        res += a[i]
        i += 1
    return res


def _normalise_loop(gray, ys, xs, block, whiten_mean, z):  # pragma: no cover - numba
    """The patches of :func:`grid_patches`, each normalised as numpy's ``mean``,
    ``var(ddof=1)`` and the whitening offset do it: ``(p - mu) / sqrt(var + 10) - m``."""
    m = block * block
    patch = np.empty(m)
    sq = np.empty(m)
    ny = ys.size
    for ix in range(xs.size):
        for iy in range(ny):
            y0, x0 = ys[iy], xs[ix]
            for a in range(block):
                src = gray[y0 + a, x0:x0 + block]
                for b in range(block):
                    patch[a * block + b] = src[b]
            mu = _pairwise_sum(patch) / m
            for t in range(m):
                dev = patch[t] - mu
                sq[t] = dev * dev
            sd = np.sqrt(_pairwise_sum(sq) / (m - 1) + 10.0)
            out = z[ix * ny + iy]
            for t in range(m):
                out[t] = (patch[t] - mu) / sd - whiten_mean[t]


def _sums_loop(x, pos, wn, sums, u1, s0):  # pragma: no cover - compiled by numba
    """The codeword sums of the sparse products, patch by patch in the order
    SciPy's CSC product adds them (``y[code] += w * x`` per stored entry):
    ``sums`` = [sum w x, sum w x^2, sum w x^3], ``u1`` = sum x, ``s0`` = sum w."""
    n, d = x.shape
    for j in range(n):
        xj = x[j]
        for r in range(pos.shape[1]):
            c, w = pos[j, r], wn[j, r]
            out, u = sums[c], u1[c]
            for t in range(d):
                v = xj[t]
                v2 = v * v
                out[t] += w * v
                out[d + t] += w * v2
                out[2 * d + t] += w * (v2 * v)
                u[t] += v
            s0[c, 0] += w


_pairwise_sum = kernel(_pairwise_sum)
_NORMALISE_KERNEL = kernel(_normalise_loop, helpers=("_pairwise_sum",))
_SUMS_KERNEL = kernel(_sums_loop)


def hosa_features(image: np.ndarray) -> np.ndarray:
    """The 14700 normalised HOSA features of a uint8 RGB or gray image."""
    gray = matlab.gray_float(image)
    h, w = gray.shape
    step = max(1, int(np.floor(np.sqrt(h * w / 10000.0))))
    ys, xs = _grid(gray, BLOCK, step)
    if ys.size * xs.size < 2:
        raise ValueError(f"image {h}x{w} is too small for HOSA (needs two 7x7 patches "
                         "inside a 2-pixel border, e.g. 11x12 pixels)")
    p = _params()
    centroid, variance, skewness = p["centroid"], p["variance"], p["skewness"]
    d, k = centroid.shape
    if _NORMALISE_KERNEL.ok():
        z = np.empty((xs.size * ys.size, BLOCK * BLOCK))
        _NORMALISE_KERNEL(gray, ys + 2, xs + 2, BLOCK, p["whiten_mean"], z)
    else:
        patches = grid_patches(gray, BLOCK, step)
        mu = patches.mean(axis=1, keepdims=True)
        sd = np.sqrt(patches.var(axis=1, ddof=1, keepdims=True) + 10.0)
        z = (patches - mu) / sd - p["whiten_mean"]
    x = z @ p["whiten_proj"]  # (n, d)
    n = x.shape[0]

    # Squared distances to every codeword; -2 is folded into the codebook
    # (scaling by a power of two is exact, so the sums are unchanged).
    dist = x @ p["centroid_m2"]
    dist += p["centroid_sq"][None, :]
    dist += np.einsum("ij,ij->i", x, x)[:, None]
    # The 5 nearest codewords in MATLAB's sort order (distance, then index):
    # five rounds of argmin (the first index of the smallest), each masking its pick.
    rows = np.arange(n)
    pos = np.empty((n, NEAREST), dtype=np.intp)
    dsort = np.empty((n, NEAREST))
    for r in range(NEAREST):
        j = dist.argmin(axis=1)
        pos[:, r] = j
        dsort[:, r] = dist[rows, j]
        dist[rows, j] = np.inf
    e = np.exp(-GAMMA * dsort)
    weights = e / e.sum(axis=1, keepdims=True)

    # Per codeword: how many patches it took and their weight sum.
    count = np.bincount(pos.ravel(), minlength=k)
    wsum = np.bincount(pos.ravel(), weights=weights.ravel(), minlength=k)
    mean_diff = np.zeros((d, k))
    var_diff = np.zeros((d, k))
    skn_diff = np.zeros((d, k))

    single = np.flatnonzero(count == 1)
    if single.size:
        # the release adds the lone patch's residual weighted by its fifth weight
        lone = np.zeros(k, dtype=bool)
        lone[single] = True
        pt, rk = np.nonzero(lone[pos])
        pt = pt[np.argsort(pos[pt, rk])]
        mean_diff[:, single] = (weights[pt, NEAREST - 1][:, None]
                                * (x[pt] - centroid[:, single].T)).T

    multi = count > 1
    if multi.any():
        # Group sums as sparse (codeword x patch) products taken patch by patch
        # (each patch adds to its 5 codewords; the sums stay in cache while the
        # patches stream by): S_j = sum w x^j with the normalised weights over
        # the columns [x, x^2, x^3], and the unweighted sum of x.
        wn = weights / np.where(wsum > 0, wsum, 1.0)[pos]
        x2 = x * x
        if _SUMS_KERNEL.ok():
            sums, u1, s0 = np.zeros((k, 3 * d)), np.zeros((k, d)), np.zeros((k, 1))
            _SUMS_KERNEL(x, pos, wn, sums, u1, s0)
        else:
            ptr = np.arange(0, NEAREST * n + 1, NEAREST)
            sums = csc_matrix((wn.ravel(), pos.ravel(), ptr), shape=(k, n)) @ np.hstack(
                [x, x2, x2 * x])
            u1 = csc_matrix((np.ones(NEAREST * n), pos.ravel(), ptr), shape=(k, n)) @ x
            s0 = np.bincount(pos.ravel(), weights=wn.ravel(), minlength=k)[:, None]
        s1, s2, s3 = sums[:, :d], sums[:, d:2 * d], sums[:, 2 * d:]
        wmean = s1
        mean_diff[:, multi] = wmean[multi].T - centroid[:, multi]
        # Unweighted sample variance summed over dimensions (the release's
        # "any variation" test): (sum x^2 - (sum x)^2 / count) / (count - 1).
        cnt = np.maximum(count, 1)
        sq = np.bincount(pos.ravel(), weights=np.repeat(x2.sum(axis=1), NEAREST), minlength=k)
        uvar = (sq - (u1 * u1).sum(axis=1) / cnt) / np.maximum(count - 1, 1)
        varies = multi & (uvar > 1e-8)
        # MATLAB's var(X, w): weighted mean square about the weighted mean, over sum(w).
        mu = wmean
        m2 = s2 - 2.0 * mu * s1 + mu * mu * s0
        m3 = s3 - 3.0 * mu * s2 + 3.0 * mu * mu * s1 - mu * mu * mu * s0
        with np.errstate(invalid="ignore", divide="ignore"):
            wvar = m2 / s0
        var_diff[:, varies] = wvar[varies].T - variance[:, varies]
        skn_diff[:, varies] = (m3[varies] / (wvar[varies] ** 1.5 + 1e-4)).T - skewness[:, varies]

    fv = np.concatenate([mean_diff.T.ravel(), var_diff.T.ravel(), skn_diff.T.ravel()])
    fv = np.sign(fv) * np.abs(fv) ** POWER
    return fv / (np.sqrt(np.sum(fv * fv)) + 1e-20)


def hosa(image: np.ndarray) -> float:
    """HOSA (predicted DMOS) of a uint8 RGB (H, W, 3) or gray (H, W) image; lower is better.

    Raises ``ValueError`` for invalid input (non-uint8, wrong shape, empty)
    or an image too small to hold two 7x7 patches.
    """
    fv = hosa_features(image)
    p = _params()
    w = p["w"]
    return float(fv @ w[: fv.shape[0]] + w[fv.shape[0]] * float(p["bias"]))


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class HOSA(FrameIQAMetric):
    """HOSA of uniformly sampled frames, pooled (lower is better)."""

    name = "hosa"
    version = "1"
    fields = (ScoreField("hosa", None, None, False,
                         "HOSA's linear SVR prediction of LIVE DMOS from codebook "
                         "high-order statistics; roughly 0-100, lower is better"),)
    description = "HOSA (LOVE NRIQA MATLAB release port) per frame, pooled over sampled frames."
    reference = "Xu et al., IEEE TIP 2016; IntMeGroup/LOVE NRIQA/HOSA_release_v0"
    image_score = staticmethod(hosa)

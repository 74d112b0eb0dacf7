"""QAC: a numpy port of the QAC code LOVE ships (``NRIQA/QAC``).

QAC (Xue, Zhang & Mou, "Learning without Human Scores for Blind Image
Quality Assessment", CVPR 2013) is "quality-aware clustering": patches of
difference-of-Gaussian responses are compared with cluster centres learned
at 10 quality levels, and the image's quality is the distance-weighted
level of the nearest centres.

1. Gray image (MATLAB ``rgb2gray``, uint8 rounding) divided by 255.
2. Three DoG maps ``(I - G_s * I) * 4 / s`` for ``s`` = 0.5, 2, 4 (Gaussian
   window ``2 ceil(3 s) + 1`` wide, symmetric padding).
3. 8x8 patches of each map on a 12-pixel grid (2-pixel border cut), the
   three maps' patches stacked into 192-vectors, absolute values.
4. For each level, the Euclidean distance to its nearest of 30 centres
   (the released centres divided by 255).
5. Per patch the two nearest levels ``l1, l2`` (1..10) with weights
   ``exp(-d / 32) + eps`` normalised; patch quality ``sum(l / 10 * w)``;
   the image's QAC is the mean over patches.

Higher is better: the released centres' quality labels run 0.1 .. 1.0 and
distortion lowers the score (0.70 on a clean photograph, 0.41-0.44 after
heavy JPEG or blur). See ``docs/metrics.md``.
"""

from __future__ import annotations

import math
from functools import lru_cache
from importlib import resources

import cv2
import numpy as np

from . import matlab
from ._jit import kernel

__all__ = ["qac", "qac_from_patches", "dog_patches"]

SIGMAS = (0.5, 2.0, 4.0)
BLOCK = 8
STEP = 12
LEVELS_USED = 2


@lru_cache(maxsize=1)
def _centres() -> np.ndarray:
    """(levels, K, 192) cluster centres on the 0..1 scale."""
    with resources.files(__package__).joinpath("data/qac_centres.npz").open("rb") as fh:
        with np.load(fh) as z:
            return z["centroids"] / 255.0


@lru_cache(maxsize=1)
def _distance_terms() -> tuple[np.ndarray, np.ndarray]:
    """(levels * K, 192) centres times -2 (exact: a power of two) and their squared norms."""
    centres = _centres()
    flat = centres.reshape(-1, centres.shape[-1])
    return -2.0 * flat, np.sum(flat * flat, axis=1)


@lru_cache(maxsize=1)
def _centres_f32() -> np.ndarray:
    """``-2 *`` the centres in single precision (levels * K, 192), for the screening product."""
    m2c = _distance_terms()[0]
    assert m2c.max() <= 0.0  # centres of absolute values: the error bound below needs c >= 0
    return m2c.astype(np.float32)


# |float32 product - exact dot| <= (gamma_192 + 2u) * sum |2 c f| for single-precision
# inputs and sums (u = 2^-24, gamma_n = n u / (1 - n u)): 1.146e-5 of the product when
# c, f >= 0; bounded here by 2e-5 of the single-precision value.
_F32_BOUND = 2e-5


def _minima_loop(g32, feats, m2c, cc, aa, levels, k, bound, out):  # pragma: no cover
    """Each level's smallest ``-2 c.f + |c|^2`` per patch, in double precision,
    for the levels that can be among each patch's two nearest (the others get
    inf, which sorts after them).

    ``g32`` is the single-precision product ``(n, levels * k)``: each value lies
    within ``bound * |g|`` of the double one, so the double dot products are
    taken only for centres whose interval reaches their level's smallest upper
    end, and only in levels whose lower end reaches the second-smallest level's
    upper end (with a margin of a few ulps for ties made by adding |f|^2 and
    the square root)."""
    n, d = feats.shape
    lo = np.empty(levels)
    hi = np.empty(levels)
    for j in range(n):
        gj, fj = g32[j], feats[j]
        for lev in range(levels):
            low = np.inf
            high = np.inf
            for c in range(lev * k, lev * k + k):
                g = np.float64(gj[c])
                e = bound * abs(g) + 1e-15 * (abs(g) + cc[c])
                a = g + cc[c]
                low = min(low, a - e)
                high = min(high, a + e)
            lo[lev] = low
            hi[lev] = high
        h1 = np.inf
        h2 = np.inf
        for lev in range(levels):
            v = hi[lev]
            if v < h1:
                h2 = h1
                h1 = v
            elif v < h2:
                h2 = v
        cut = max(h2 + aa[j], 0.0) * (1.0 + 1e-14) + 1e-15 * aa[j]
        for lev in range(levels):
            if lo[lev] + aa[j] > cut:
                out[lev, j] = np.inf
                continue
            best = np.inf
            for c in range(lev * k, lev * k + k):
                g = np.float64(gj[c])
                e = bound * abs(g) + 1e-15 * (abs(g) + cc[c])
                if g + cc[c] - e > hi[lev]:
                    continue
                mc = m2c[c]
                s0 = 0.0
                s1 = 0.0
                s2 = 0.0
                s3 = 0.0
                for t in range(0, d - 3, 4):
                    s0 += mc[t] * fj[t]
                    s1 += mc[t + 1] * fj[t + 1]
                    s2 += mc[t + 2] * fj[t + 2]
                    s3 += mc[t + 3] * fj[t + 3]
                for t in range(d - d % 4, d):
                    s0 += mc[t] * fj[t]
                best = min(best, ((s0 + s1) + (s2 + s3)) + cc[c])
            out[lev, j] = best


_MINIMA_KERNEL = kernel(_minima_loop)


def _grid(r: int, c: int, block: int, step: int) -> tuple[np.ndarray, np.ndarray]:
    ys = np.arange(0, r + 1, step)
    xs = np.arange(0, c + 1, step)
    return ys[ys + block <= r], xs[xs + block <= c]


def _grid_view(m: np.ndarray, nx: int, ny: int) -> np.ndarray:
    """(nx, ny, BLOCK, BLOCK) view of the BLOCK-sized patches of ``m`` whose corners
    lie on the STEP grid from (0, 0)."""
    rs, cs = m.strides
    return np.lib.stride_tricks.as_strided(
        m, (nx, ny, BLOCK, BLOCK), (STEP * cs, STEP * rs, rs, cs), writeable=False)


@lru_cache(maxsize=1)
def _taps() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The three blurs' 1-D taps (rows of a zero-filled array), half widths and DoG scales."""
    halves = np.array([math.ceil(3 * s) for s in SIGMAS])
    taps = np.zeros((len(SIGMAS), 2 * int(halves.max()) + 1))
    for i, s in enumerate(SIGMAS):
        taps[i, :2 * halves[i] + 1] = matlab.gaussian_kernel_1d(2 * int(halves[i]) + 1, s)
    return taps, halves, np.array([4.0 / s for s in SIGMAS])


def _dog_loop(gp, pad, nx, ny, taps, halves, scales, out):  # pragma: no cover - numba
    """The DoG patch features of the ``pad``-padded (symmetric) gray image ``gp``.

    Each blur is computed at the patch pixels only: a vertical pass over the
    patch rows, then a horizontal pass over the patch columns, each summing
    its taps in order. ``out`` is (nx, ny, sigmas, BLOCK, BLOCK)."""
    # Slices of rows, not offsets into them: numba then knows the indices are
    # in range and vectorises the loops.
    width = gp.shape[1]
    span = 12 * (nx - 1) + 8  # the blur at image columns 2 .. 2 + span - 1 (all patch columns)
    col = np.empty(width)
    row = np.empty(span)
    for iy in range(ny):
        for a in range(8):
            y = 2 + 12 * iy + a  # image row of the patch row
            g = gp[y + pad, 2 + pad:2 + pad + span]
            for si in range(taps.shape[0]):
                r, k, scale = halves[si], taps[si], scales[si]
                y0 = y + pad - r
                src = gp[y0]
                k0 = k[0]
                for x in range(width):
                    col[x] = k0 * src[x]
                for t in range(1, 2 * r + 1):
                    src = gp[y0 + t]
                    kt = k[t]
                    for x in range(width):
                        col[x] += kt * src[x]
                base = 2 + pad - r  # row[j] reads col from padded column base + j on
                cs = col[base:base + span]
                for j in range(span):
                    row[j] = k0 * cs[j]
                for t in range(1, 2 * r + 1):
                    cs = col[base + t:base + t + span]
                    kt = k[t]
                    for j in range(span):
                        row[j] += kt * cs[j]
                for ix in range(nx):
                    o = out[ix, iy, si, a]
                    j0 = 12 * ix
                    for b in range(8):
                        o[b] = abs((g[j0 + b] - row[j0 + b]) * scale)


_DOG_KERNEL = kernel(_dog_loop)


def dog_patches(image: np.ndarray) -> np.ndarray:
    """The (n, 192) absolute DoG patch features of LOVE's ``compute_DOG``.

    Compiled (numba) when installed, else :func:`dog_patches_numpy`; the two
    sum the blurs' taps in different orders, a last-bit difference."""
    if not _DOG_KERNEL.ok():
        return dog_patches_numpy(image)
    gray = matlab.gray_float(image) / 255.0
    h, w = gray.shape
    ys, xs = _grid(h - 4, w - 4, BLOCK, STEP)
    if ys.size == 0 or xs.size == 0:
        raise ValueError(f"image {h}x{w} is too small for QAC (needs at least 12x12 pixels)")
    taps, halves, scales = _taps()
    pad = int(halves.max())
    # imfilter(..., 'symmetric'): numpy's 'symmetric' extension (repeated for
    # images smaller than the pad, as OpenCV's BORDER_REFLECT does)
    gp = np.pad(gray, pad, mode="symmetric")
    out = np.empty((xs.size, ys.size, len(SIGMAS), BLOCK, BLOCK))
    _DOG_KERNEL(gp, pad, xs.size, ys.size, taps, halves, scales, out)
    return out.reshape(ys.size * xs.size, len(SIGMAS) * BLOCK * BLOCK)


def dog_patches_numpy(image: np.ndarray) -> np.ndarray:
    """:func:`dog_patches` in numpy and OpenCV (whole-image blurs)."""
    gray = matlab.gray_float(image) / 255.0
    h, w = gray.shape
    ys, xs = _grid(h - 4, w - 4, BLOCK, STEP)
    if ys.size == 0 or xs.size == 0:
        raise ValueError(f"image {h}x{w} is too small for QAC (needs at least 12x12 pixels)")
    n = ys.size * xs.size
    out = np.empty((xs.size, ys.size, len(SIGMAS), BLOCK, BLOCK))
    for i, s in enumerate(SIGMAS):
        size = 2 * math.ceil(3 * s) + 1
        k = matlab.gaussian_kernel_1d(size, s)
        # imfilter(..., 'symmetric'): OpenCV's BORDER_REFLECT (SIMD, one thread
        # per call) equals SciPy's 'reflect' to a few ulp and is 2-30x faster.
        blur = cv2.sepFilter2D(gray, cv2.CV_64F, k, k, borderType=cv2.BORDER_REFLECT)
        np.subtract(gray, blur, out=blur)
        # the patches of the regular grid, grid column-major (x outer, y inner),
        # copied once straight into the feature rows; |d * 4/s| = |d| * 4/s
        # (the rounding is sign-symmetric), taken on the patches only
        part = out[:, :, i]
        part[...] = _grid_view(blur[2:-2, 2:-2], xs.size, ys.size)
        part *= 4.0 / s
    np.abs(out, out=out)
    return out.reshape(n, len(SIGMAS) * BLOCK * BLOCK)


def qac(image: np.ndarray) -> float:
    """QAC of a uint8 RGB (H, W, 3) or gray (H, W) image, in [0.1, 1]; higher is better.

    Raises ``ValueError`` for invalid input or an image smaller than 12x12.
    """
    return qac_from_patches(dog_patches(image))


def qac_from_patches(feats: np.ndarray) -> float:
    """QAC of the (n, 192) DoG patch features :func:`dog_patches` returns."""
    levels, k, _ = _centres().shape
    m2c, cc = _distance_terms()
    aa = np.einsum("ij,ij->i", feats, feats)
    if _MINIMA_KERNEL.ok():
        d2 = np.empty((levels, feats.shape[0]))
        _MINIMA_KERNEL(feats.astype(np.float32) @ _centres_f32().T, feats, m2c, cc, aa, levels,
                       k, _F32_BOUND, d2)
    else:
        # One row per centre, one column per patch: each level's minimum is
        # then taken across 30 long rows.
        d2 = m2c @ feats.T  # -2 c.f
        d2 += cc[:, None]
        d2 = d2.reshape(levels, k, -1).min(axis=1)
    # Adding the patch's own |f|^2, the clamp at 0 and sqrt are monotonic:
    # taken after each level's minimum they give the same numbers.
    d2 += aa[None, :]
    dist = np.sqrt(np.maximum(d2, 0.0))  # (levels, n)
    order = np.argsort(dist, axis=0, kind="stable")[:LEVELS_USED]
    dmin = np.take_along_axis(dist, order, axis=0)
    weight = np.exp(-dmin / 32.0) + np.finfo(np.float64).eps
    weight /= weight.sum(axis=0, keepdims=True)
    quality = (order + 1) / levels
    return float(np.mean(np.sum(quality * weight, axis=0)))


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class QAC(FrameIQAMetric):
    """QAC of uniformly sampled frames, pooled (higher is better)."""

    name = "qac"
    version = "1"
    fields = (ScoreField("qac", 0.1, 1.0, True,
                         "quality-aware clustering: distance-weighted quality label (0.1 .. 1, "
                         "10 levels) of the nearest cluster centres; higher is better"),)
    description = "QAC (LOVE NRIQA MATLAB code port) per frame, pooled over sampled frames."
    reference = "Xue, Zhang & Mou, CVPR 2013; IntMeGroup/LOVE NRIQA/QAC"
    image_score = staticmethod(qac)

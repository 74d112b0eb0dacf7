"""MATLAB-compatible building blocks shared by NIQE, BRISQUE and PIQE.

The reference implementations of these metrics are MATLAB programs, and
their scores depend on MATLAB's exact conventions: ``rgb2gray`` on uint8
rounds to uint8, ``imresize`` is bicubic with an antialiasing kernel when
shrinking, ``fspecial('gaussian')`` windows are normalised, ``imfilter``
pads by replication while ``filter2`` pads with zeros, and the generalised
Gaussian fits are grid searches that take the first minimum. This module
reproduces each of these in vectorised numpy (plus SciPy's gamma function)
so the metric modules can be written in terms of them. Nothing here imports
torch.
"""

from __future__ import annotations

import math
import sys
from typing import Literal

import numpy as np
from scipy.special import gamma as _gamma

from ._jit import kernel

__all__ = [
    "ALPHA_GRID",
    "as_uint8_image",
    "rgb2gray",
    "gray_float",
    "gaussian_kernel_1d",
    "gaussian_window",
    "filter_same",
    "mscn",
    "imresize",
    "grid_index",
    "fit_aggd",
    "fit_ggd",
    "gamma_on_grid",
    "circshift_product",
]

Border = Literal["replicate", "zero"]

# First row of inv(YIQ matrix): the weights MATLAB's rgb2gray applies.
_RGB2GRAY = np.linalg.inv(
    np.array([[1.0, 0.956, 0.621], [1.0, -0.272, -0.647], [1.0, -1.106, 1.703]])
)[0]
# c * weight for every uint8 level c: the products rgb2gray needs, precomputed;
# and R * w0 + G * w1 for every (R, G) pair, indexed by R + 256 * G (the two
# bytes of a pixel read as one little-endian uint16): the same double as
# adding the two products, one lookup instead of two lookups and an add.
_GRAY_TABLES = np.arange(256, dtype=np.float64)[None, :] * _RGB2GRAY[:, None]
_GRAY_RG = (_GRAY_TABLES[0][None, :] + _GRAY_TABLES[1][:, None]).ravel()


def as_uint8_image(image: np.ndarray, *, what: str = "image") -> np.ndarray:
    """Check that ``image`` is a non-empty uint8 (H, W) or (H, W, 3) array.

    A trailing singleton channel, (H, W, 1), is accepted and dropped. The
    metrics are defined on 8-bit pictures (their constants assume the 0..255
    range), so any other dtype or channel count raises ``ValueError`` with a
    message naming the problem rather than being silently rescaled.
    """
    arr = np.asarray(image)
    if arr.dtype != np.uint8:
        raise ValueError(f"{what} must be uint8 (0..255), got dtype {arr.dtype}")
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[:, :, 0]
    if arr.ndim == 3 and arr.shape[2] != 3:
        raise ValueError(f"{what} must have 1 or 3 channels, got shape {arr.shape}")
    if arr.ndim not in (2, 3):
        raise ValueError(f"{what} must be (H, W) or (H, W, 3), got shape {arr.shape}")
    if arr.shape[0] == 0 or arr.shape[1] == 0:
        raise ValueError(f"{what} is empty (shape {arr.shape})")
    return arr


def rgb2gray(image: np.ndarray) -> np.ndarray:
    """Convert a uint8 RGB image to uint8 gray exactly as MATLAB's ``rgb2gray``.

    MATLAB weights R, G, B by the first row of the inverse NTSC (YIQ)
    matrix, about 0.2989/0.5870/0.1140, accumulates in double and casts back
    to uint8, which rounds half away from zero. A 2-D input is returned as
    is. The rounding matters: NIQE and BRISQUE see the rounded gray levels.
    """
    arr = as_uint8_image(image)
    if arr.ndim == 2:
        return arr
    if _GRAY_KERNEL.ok():
        out = np.empty(arr.shape[:2], dtype=np.uint8)
        _GRAY_KERNEL(arr, *_GRAY_TABLES, out)
        return out
    return _gray_levels(arr).astype(np.uint8)


def _gray_loop(arr, t0, t1, t2, out):  # pragma: no cover - compiled by numba
    """``_gray_levels`` pixel by pixel: (R*w0 + G*w1) + B*w2, + 0.5, floor, into ``out``."""
    for y in range(arr.shape[0]):
        for x in range(arr.shape[1]):
            v = t0[arr[y, x, 0]] + t1[arr[y, x, 1]]
            v = v + t2[arr[y, x, 2]]
            out[y, x] = math.floor(v + 0.5)


_GRAY_KERNEL = kernel(_gray_loop)


def _gray_levels(arr: np.ndarray) -> np.ndarray:
    """MATLAB's rgb2gray levels of a uint8 (H, W, 3) image, as float64 integers."""
    if _GRAY_KERNEL.ok():
        out = np.empty(arr.shape[:2])
        _GRAY_KERNEL(arr, *_GRAY_TABLES, out)
        return out
    return _gray_levels_numpy(arr)


def _gray_levels_numpy(arr: np.ndarray) -> np.ndarray:
    h, w, _ = arr.shape
    if not (arr.flags.c_contiguous and sys.byteorder == "little"):
        arr = np.ascontiguousarray(arr)
    if sys.byteorder == "little":
        # (R*c0 + G*c1) from the pair table, then + B*c2: the sum MATLAB forms,
        # added left to right in double.
        rg = np.ndarray((h, w), dtype=np.uint16, buffer=arr, strides=(3 * w, 3))
        y = _GRAY_RG[rg]
    else:
        y = _GRAY_TABLES[0][arr[..., 0]]
        y += _GRAY_TABLES[1][arr[..., 1]]
    y += _GRAY_TABLES[2][arr[..., 2]]
    # Values are in [0, 255.5), so half-away-from-zero is floor(x + 0.5).
    y += 0.5
    return np.floor(y, out=y)


def gray_float(image: np.ndarray) -> np.ndarray:
    """Validate, convert to MATLAB gray and return the result as float64 (0..255)."""
    arr = as_uint8_image(image)
    return arr.astype(np.float64) if arr.ndim == 2 else _gray_levels(arr)


def gaussian_kernel_1d(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """Normalised 1-D Gaussian taps whose outer product is ``gaussian_window``.

    ``fspecial('gaussian', size, sigma)`` is separable: the 2-D window equals
    the outer product of this vector with itself (up to rounding), so
    filtering with it twice is the same filter at a third of the cost.
    """
    half = (size - 1) / 2.0
    x = np.arange(-half, half + 1.0)
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    g[g < np.finfo(np.float64).eps * g.max()] = 0.0
    return g / g.sum()


def gaussian_window(size: int = 7, sigma: float = 7.0 / 6.0) -> np.ndarray:
    """The 2-D window of MATLAB's ``fspecial('gaussian', size, sigma)``, summing to 1."""
    half = (size - 1) / 2.0
    x = np.arange(-half, half + 1.0)
    xx, yy = np.meshgrid(x, x)
    h = np.exp(-(xx * xx + yy * yy) / (2.0 * sigma * sigma))
    h[h < np.finfo(np.float64).eps * h.max()] = 0.0
    return h / h.sum()


# Rows per strip when filtering: small enough that a strip and its
# temporaries stay in the CPU cache (the filter is memory-bound otherwise).
_STRIP_BYTES = 1 << 18


def _taps(padded: np.ndarray, kernel: np.ndarray, axis: int, out_len: int,
          out: np.ndarray | None = None) -> np.ndarray:
    """Correlate along ``axis`` of an already padded array, adding taps in order."""

    def view(k: int) -> np.ndarray:
        return padded[k : k + out_len] if axis == 0 else padded[:, k : k + out_len]

    acc = np.multiply(kernel[0], view(0), out=out)
    tmp = np.empty_like(acc)
    for k in range(1, kernel.shape[0]):
        np.multiply(kernel[k], view(k), out=tmp)
        acc += tmp
    return acc


def filter_same(image: np.ndarray, kernel_1d: np.ndarray, border: Border) -> np.ndarray:
    """Filter a float64 image with a separable symmetric kernel, output the same size.

    ``border="replicate"`` matches ``imfilter(..., 'replicate')`` (NIQE,
    PIQE); ``border="zero"`` matches ``filter2(w, x, 'same')`` (BRISQUE),
    which pads with zeros. MATLAB filters a rank-1 7x7 window separably
    with factors that, in exact arithmetic, are this normalised 1-D kernel,
    and adds the taps one after the other. We do the same on purpose rather
    than calling an optimised filter (OpenCV and SciPy pair symmetric taps):
    in perfectly flat regions the local mean then differs from the pixel by
    0 or a few ulps depending on the order of additions, and since the GGD
    fits count the signs of the MSCN coefficients, that noise moves NIQE and
    BRISQUE by several percent on images with large flat areas. The work is
    done in horizontal strips (columns pass, then rows pass) so that it runs
    from cache; every output is the same sum in the same order either way.
    """
    if border not in ("replicate", "zero"):
        raise ValueError(f"unknown border {border!r}")
    k = np.asarray(kernel_1d, dtype=np.float64)
    p = (k.shape[0] - 1) // 2
    img = np.asarray(image, dtype=np.float64)
    h, w = img.shape
    padded = np.pad(img, p, mode="edge" if border == "replicate" else "constant")
    out = np.empty((h, w), dtype=np.float64)
    step = max(8, _STRIP_BYTES // (8 * (w + 2 * p)))
    for r0 in range(0, h, step):
        r1 = min(h, r0 + step)
        cols = _taps(padded[r0 : r1 + 2 * p], k, axis=0, out_len=r1 - r0)
        _taps(cols, k, axis=1, out_len=w, out=out[r0:r1])
    return out


def mscn(image: np.ndarray, border: Border, c: float = 1.0) -> tuple[np.ndarray, np.ndarray]:
    """Mean-subtracted contrast-normalised coefficients and the local sigma.

    ``(x - mu) / (sigma + c)`` with ``mu`` and ``sigma`` the local mean and
    standard deviation under the 7x7, sigma 7/6 Gaussian window; the
    ``abs`` inside the square root follows the MATLAB code, which guards
    against tiny negative variances from rounding.
    """
    img = np.asarray(image, dtype=np.float64)
    k = gaussian_kernel_1d()
    mu = filter_same(img, k, border)
    sigma = filter_same(img * img, k, border)
    mu_sq = mu * mu
    sigma -= mu_sq
    np.abs(sigma, out=sigma)
    np.sqrt(sigma, out=sigma)
    out = np.subtract(img, mu, out=mu)  # mu is no longer needed
    out /= sigma + c
    return out, sigma


def _cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with a = -0.5, as in MATLAB's imresize."""
    ax = np.abs(x)
    ax2 = ax * ax
    ax3 = ax2 * ax
    return (1.5 * ax3 - 2.5 * ax2 + 1.0) * (ax <= 1) + (
        -0.5 * ax3 + 2.5 * ax2 - 4.0 * ax + 2.0
    ) * ((ax > 1) & (ax <= 2))


def _contributions(in_len: int, out_len: int, scale: float
                   ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Weights and 0-based source indices of MATLAB's bicubic imresize along one axis.

    When shrinking, the kernel is stretched by 1/scale (antialiasing) and
    scaled by ``scale``; rows are normalised to sum to 1; indices that fall
    outside the image are mirrored (``[1:n, n:-1:1]``); tap columns that are
    zero for every output are dropped, as MATLAB does. Returns the weights,
    the mirrored indices and the raw (unmirrored) indices.
    """
    antialias = scale < 1.0
    kernel_width = 4.0 / scale if antialias else 4.0
    x = np.arange(1, out_len + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    idx = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    dist = u[:, None] - idx
    if antialias:
        w = scale * _cubic(scale * dist)
    else:
        w = _cubic(dist)
    w = w / w.sum(axis=1, keepdims=True)
    raw = idx.astype(np.int64) - 1
    mirror = np.concatenate([np.arange(in_len), np.arange(in_len - 1, -1, -1)])
    src = mirror[np.mod(raw, 2 * in_len)]
    keep = np.any(w != 0, axis=0)
    return w[:, keep], src[:, keep], raw[:, keep]


def _resample(img: np.ndarray, axis: int, out_len: int, scale: float) -> np.ndarray:
    """One axis of imresize: each output is sum_k w_k * x[src_k], taps added in order.

    When every output uses the same weights on an evenly spaced run of
    sources (scale 0.5 does), the sources are strided views of the image
    padded by mirroring, which avoids copying the image once per tap; the
    general case gathers the source rows. Both give the same sums.
    """
    n = img.shape[axis]
    w, src, raw = _contributions(n, out_len, scale)

    def take(rows: np.ndarray | slice, a: np.ndarray) -> np.ndarray:
        return a[rows] if axis == 0 else a[:, rows]

    steps = np.diff(raw, axis=0)
    before = max(0, -int(raw.min()))
    after = max(0, int(raw.max()) - (n - 1))
    uniform = (
        out_len > 1
        and np.all(w == w[0])
        and np.all(steps == steps[0, 0])
        and steps[0, 0] > 0
        and max(before, after) <= n
    )
    if uniform:
        step = int(steps[0, 0])
        pad = [(0, 0), (0, 0)]
        pad[axis] = (before, after)
        padded = np.pad(img, pad, mode="symmetric")
        starts = raw[0] + before
        acc = w[0, 0] * take(slice(starts[0], starts[0] + step * (out_len - 1) + 1, step), padded)
        for k in range(1, w.shape[1]):
            acc += w[0, k] * take(slice(starts[k], starts[k] + step * (out_len - 1) + 1, step),
                                  padded)
        return acc
    shape = (-1, 1) if axis == 0 else (1, -1)
    acc = w[:, 0].reshape(shape) * take(src[:, 0], img)
    for k in range(1, w.shape[1]):
        acc += w[:, k].reshape(shape) * take(src[:, k], img)
    return acc


def imresize(image: np.ndarray, scale: float) -> np.ndarray:
    """Resize a float64 2-D image like MATLAB's ``imresize(image, scale)``.

    MATLAB's default method is bicubic with antialiasing when shrinking; the
    output size is ``ceil(scale * size)`` and the rows are resized before the
    columns (MATLAB resizes the dimension with the smaller scale first and
    keeps the natural order on a tie). No rounding is applied, as for
    double input. The cost is a few passes over the image per axis.
    """
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 2:
        raise ValueError(f"imresize expects a 2-D image, got shape {img.shape}")
    h, w = img.shape
    rows = _resample(img, 0, int(math.ceil(scale * h)), scale)
    return _resample(rows, 1, int(math.ceil(scale * w)), scale)


def circshift_product(a: np.ndarray, shift: tuple[int, int], out: np.ndarray | None = None
                      ) -> np.ndarray:
    """``a * circshift(a, shift)`` over the last two axes, without building the shifted copy.

    Equal element for element to ``a * np.roll(a, shift, axis=(-2, -1))``
    (MATLAB's ``circshift`` with the same row and column offsets): the
    product is formed by at most four slice multiplications, one for each
    part of the wrap-around.
    """
    if out is None:
        out = np.empty_like(a)
    h, w = a.shape[-2:]
    dy, dx = shift[0] % h, shift[1] % w

    def parts(d: int, n: int) -> list[tuple[slice, slice]]:
        # (destination, source) ranges: rolled[i] = a[i - d].
        if d == 0:
            return [(slice(0, n), slice(0, n))]
        return [(slice(d, n), slice(0, n - d)), (slice(0, d), slice(n - d, n))]

    for rd, rs in parts(dy, h):
        for cd, cs in parts(dx, w):
            np.multiply(a[..., rd, cd], a[..., rs, cs], out=out[..., rd, cd])
    return out


# ---------------------------------------------------------------------------
# Generalised Gaussian fits
# ---------------------------------------------------------------------------

# The reference code searches the shape parameter over 0.2:0.001:10. Building
# the grid from integers gives the correctly rounded decimals.
ALPHA_GRID = np.arange(200, 10001, dtype=np.float64) / 1000.0
_G1 = _gamma(1.0 / ALPHA_GRID)
_G2 = _gamma(2.0 / ALPHA_GRID)
_G3 = _gamma(3.0 / ALPHA_GRID)
# (E|x|)^2 / E[x^2] of a GGD with shape alpha; strictly increasing in alpha.
_R_AGGD = (_G2 * _G2) / (_G1 * _G3)
# Its reciprocal E[x^2] / (E|x|)^2, the form BRISQUE's GGD fit compares with;
# strictly decreasing in alpha.
_R_GGD = (_G1 * _G3) / (_G2 * _G2)


def gamma_on_grid(index: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Gamma(1/a), Gamma(2/a), Gamma(3/a) for grid indices (same values MATLAB computes)."""
    return _G1[index], _G2[index], _G3[index]


def grid_index(table: np.ndarray, target: np.ndarray, squared: bool) -> np.ndarray:
    """Index MATLAB's ``min`` returns over a strictly monotone ``table``, vectorised.

    The reference computes ``[~, i] = min((table - t).^2)`` (``squared``) or
    ``min(abs(t - table))`` for each target ``t``; both objectives are
    monotone in ``|table - t|`` even after floating-point rounding, so the
    minimiser is one of the two grid points that bracket ``t``. A binary
    search finds them and the exact objective decides, preferring the lower
    index on a tie as ``min`` does. A NaN or infinite target makes every
    objective NaN/Inf, for which MATLAB returns the first index; so do we.
    """
    t = np.asarray(target, dtype=np.float64)
    n = table.shape[0]
    increasing = table[-1] > table[0]
    key = table if increasing else -table
    pos = np.searchsorted(key, t if increasing else -t, side="left")
    lo = np.clip(pos - 1, 0, n - 1)
    hi = np.clip(pos, 0, n - 1)
    with np.errstate(invalid="ignore", over="ignore"):
        if squared:
            d_lo = (table[lo] - t) ** 2
            d_hi = (table[hi] - t) ** 2
        else:
            d_lo = np.abs(t - table[lo])
            d_hi = np.abs(t - table[hi])
    idx = np.where(d_lo <= d_hi, lo, hi)
    return np.where(np.isfinite(t), idx, 0)


def fit_aggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching fit of an asymmetric GGD along the last axis.

    Returns ``(index, alpha, left_std, right_std)`` where ``alpha`` is the
    grid shape of LIVE's ``estimateaggdparam`` and the stds are the root
    mean squares of the strictly negative and strictly positive samples
    (zeros count for neither side; an empty side gives NaN, as ``mean([])``
    does in MATLAB). Everything is computed per row, without a Python loop.
    """
    x = np.asarray(x, dtype=np.float64)
    n = x.shape[-1]
    # Clipping at 0 splits the samples without boolean temporaries: the
    # negative part squares to exactly the x^2 of the negative samples.
    neg = np.minimum(x, 0.0)
    pos = np.maximum(x, 0.0)
    left_sq = np.einsum("...i,...i->...", neg, neg)
    right_sq = np.einsum("...i,...i->...", pos, pos)
    n_left = np.count_nonzero(neg, axis=-1)
    n_right = np.count_nonzero(pos, axis=-1)
    with np.errstate(invalid="ignore", divide="ignore"):
        left = np.sqrt(left_sq / n_left)
        right = np.sqrt(right_sq / n_right)
        g = left / right
        mean_abs = (pos.sum(axis=-1) - neg.sum(axis=-1)) / n
        mean_sq = (left_sq + right_sq) / n
        r_hat = mean_abs**2 / mean_sq
        r_norm = (r_hat * (g**3 + 1.0) * (g + 1.0)) / ((g**2 + 1.0) ** 2)
    idx = grid_index(_R_AGGD, r_norm, squared=True)
    return idx, ALPHA_GRID[idx], left, right


def fit_ggd(x: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Moment-matching fit of a symmetric GGD along the last axis (BRISQUE).

    Returns ``(index, alpha, sigma)`` as LIVE's ``estimateggdparam``: sigma
    is the root mean square and alpha the grid shape whose
    ``Gamma(1/a)Gamma(3/a)/Gamma(2/a)^2`` is closest to
    ``E[x^2]/(E|x|)^2``.
    """
    x = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        sigma_sq = (x * x).mean(axis=-1)
        e_abs = np.abs(x).mean(axis=-1)
        rho = sigma_sq / (e_abs * e_abs)
    idx = grid_index(_R_GGD, rho, squared=False)
    return idx, ALPHA_GRID[idx], np.sqrt(sigma_sq)

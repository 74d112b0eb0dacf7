"""BRISQUE: a torch-free port of LIVE's MATLAB release.

BRISQUE (Mittal, Moorthy and Bovik, 2012) describes an image by 36 natural
scene statistics — at the full and half resolution, the generalised Gaussian
shape and variance of the MSCN coefficients and the asymmetric generalised
Gaussian parameters of their products with four neighbours — and maps them
to a score with an epsilon-SVR trained on the LIVE database. This module
follows ``brisque_feature.m`` and ``brisquescore.m``: MATLAB gray
conversion, ``filter2`` (zero padding) with the 7x7 sigma 7/6 Gaussian,
whole-image ``circshift`` neighbours, antialiased bicubic ``imresize(0.5)``,
libsvm's ``svm-scale`` to [-1, 1] with LIVE's ``allrange`` and the RBF
``allmodel``, evaluated here in numpy. Lower is better; typical scores lie
in about [0, 100] but the SVR is not clipped, so slightly negative or >100
values occur.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from . import matlab

__all__ = [
    "brisque",
    "brisque_features",
    "brisque_from_features",
    "brisque_from_scaled",
    "scale_features",
    "MIN_SIDE",
]

_DATA = Path(__file__).resolve().parent / "data"

#: Smallest height and width accepted; below this the half-scale image is
#: too small for the 7x7 window statistics to mean anything.
MIN_SIDE = 16

# Neighbour offsets of brisque_feature.m (circshift row, column shifts):
# horizontal, vertical, main diagonal, anti-diagonal.
_SHIFTS = ((0, 1), (1, 0), (1, 1), (-1, 1))


@lru_cache(maxsize=1)
def _model() -> dict[str, np.ndarray]:
    with np.load(_DATA / "brisque_svr.npz") as f:
        return {k: f[k] for k in f.files}


def _check(image: np.ndarray) -> np.ndarray:
    gray = matlab.gray_float(image)
    h, w = gray.shape
    if h < MIN_SIDE or w < MIN_SIDE:
        raise ValueError(f"BRISQUE needs an image of at least {MIN_SIDE}x{MIN_SIDE} pixels, "
                         f"got {w}x{h}")
    if gray.min() == gray.max():
        raise ValueError("BRISQUE is undefined for a constant image (no local structure to model)")
    return gray


def brisque_features(image: np.ndarray) -> np.ndarray:
    """The 36 unscaled BRISQUE features of a uint8 RGB or gray image.

    Order as in the MATLAB release: for each of the two scales, GGD shape
    and variance of the MSCN map, then for each neighbour direction the
    AGGD shape, mean, left variance and right variance of the products.
    Raises ``ValueError`` for an image that is too small or constant.
    """
    img = _check(image)
    feats: list[np.ndarray] = []
    for scale in range(2):
        structdis, _ = matlab.mscn(img, border="zero")
        flat = structdis.ravel()
        _, alpha, sigma = matlab.fit_ggd(flat)
        feats += [alpha, sigma * sigma]
        pairs = np.empty((len(_SHIFTS),) + structdis.shape)
        for i, shift in enumerate(_SHIFTS):
            matlab.circshift_product(structdis, shift, out=pairs[i])
        pairs = pairs.reshape(len(_SHIFTS), -1)
        idx, alpha, left, right = matlab.fit_aggd(pairs)
        g1, g2, g3 = matlab.gamma_on_grid(idx)
        const = np.sqrt(g1) / np.sqrt(g3)
        mean = (right - left) * (g2 / g1) * const
        feats.append(np.stack([alpha, mean, left * left, right * right], axis=1).ravel())
        if scale == 0:
            img = matlab.imresize(img, 0.5)
    return np.concatenate([np.atleast_1d(f) for f in feats]).astype(np.float64)


def _printf_g(x: np.ndarray) -> np.ndarray:
    """Round to 6 significant digits as C's ``%g`` does (svm-scale's output)."""
    return np.array([float(f"{v:g}") for v in x])


def scale_features(features: np.ndarray) -> np.ndarray:
    """Scale 36 raw features to [-1, 1] exactly as brisquescore.m's libsvm step does.

    The MATLAB release writes the features with ``%f`` (6 decimals) and runs
    ``svm-scale -r allrange``, which maps each feature linearly from LIVE's
    [min, max] to [-1, 1] (the range ends exactly, a degenerate range left
    alone) and prints ``%g`` (6 significant digits). The same roundings are
    applied here so the SVR sees the numbers it saw in MATLAB.
    """
    f = np.asarray(features, dtype=np.float64).reshape(36)
    if not np.all(np.isfinite(f)):
        raise ValueError("BRISQUE features are not finite (image lacks texture at some scale)")
    m = _model()
    f = np.round(f, 6)  # fprintf('%f')
    lo, hi = m["feature_min"], m["feature_max"]
    lower, upper = float(m["scale_lower"]), float(m["scale_upper"])
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = lower + (upper - lower) * (f - lo) / (hi - lo)
    scaled = np.where(f == lo, lower, np.where(f == hi, upper, scaled))
    scaled = np.where(hi == lo, f, scaled)
    return _printf_g(scaled)


def brisque_from_features(features: np.ndarray) -> float:
    """Score 36 unscaled features: ``scale_features`` then the SVR, as brisquescore.m."""
    return brisque_from_scaled(scale_features(features))


def brisque_from_scaled(scaled: np.ndarray) -> float:
    """Evaluate LIVE's epsilon-SVR on features already scaled to [-1, 1].

    libsvm's epsilon-SVR predicts ``sum_i coef_i * K(x, sv_i) - rho`` with the
    RBF kernel ``K = exp(-gamma * |x - sv|^2)``; ``-b 1`` changes nothing
    for regression. All 774 kernel values are computed in one product.
    """
    m = _model()
    x = np.asarray(scaled, dtype=np.float64).reshape(36)
    d2 = ((m["support_vectors"] - x[None, :]) ** 2).sum(axis=1)
    k = np.exp(-float(m["gamma"]) * d2)
    return float(np.dot(m["dual_coef"], k) - float(m["rho"]))


def brisque(image: np.ndarray) -> float:
    """BRISQUE score of a uint8 RGB (H, W, 3) or gray (H, W) image; lower is better.

    A port of LIVE's ``brisquescore.m``: 36 natural-scene features at two
    scales, scaled by LIVE's ranges and scored by LIVE's SVR model. Raises
    ``ValueError`` for a non-uint8 input, an image under 16x16 pixels, a
    constant image, or any image whose features come out undefined, so a
    NaN is never returned.
    """
    score = brisque_from_features(brisque_features(image))
    if not np.isfinite(score):  # pragma: no cover - features are checked above
        raise ValueError("BRISQUE score is not finite")
    return score


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402  (core above stays import-light)
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class BRISQUE(FrameIQAMetric):
    """BRISQUE of uniformly sampled frames, pooled (lower is better)."""

    name = "brisque"
    version = "1"
    fields = (ScoreField("brisque", None, None, False,
                         "LIVE's SVR quality prediction; about 0 (best) to 100 (worst), the "
                         "regression is not clipped so values slightly outside occur"),)
    description = "BRISQUE (LIVE MATLAB release port) per frame, pooled over sampled frames."
    reference = "Mittal, Moorthy & Bovik, IEEE TIP 2012; LIVE brisquescore.m"
    image_score = staticmethod(brisque)

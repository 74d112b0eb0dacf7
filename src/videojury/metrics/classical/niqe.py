"""NIQE: a torch-free port of LIVE's MATLAB release (``computequality.m``).

NIQE (Mittal, Soundararajan and Bovik, 2013) fits a multivariate Gaussian to
natural-scene features of 96x96 patches and reports the Mahalanobis-like
distance between that fit and a model of pristine natural images. The steps
that decide the numbers, all as in LIVE's code:

* MATLAB ``rgb2gray`` on uint8 (rounded), crop to whole 96x96 blocks;
* MSCN coefficients with the 7x7, sigma 7/6 Gaussian window and replicate
  padding, C = 1;
* per block 18 features: an AGGD fit of the MSCN block (shape and mean of
  the left/right scales) and of its products with the four neighbours taken
  by ``circshift`` *inside the block* (shape, mean, left and right scale);
* the same at half resolution (antialiased bicubic ``imresize(0.5)``,
  48x48 blocks), giving 36 features per block;
* ``nanmean`` / ``nancov`` over blocks and
  ``sqrt((mu_p - mu_d) pinv((cov_p + cov_d) / 2) (mu_p - mu_d)')``.

LIVE's sharpness selection of patches applies to training the pristine model
only, so it is not used here. Lower is better.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import numpy as np

from . import matlab

__all__ = ["niqe", "niqe_block_features", "BLOCK"]

_DATA = Path(__file__).resolve().parent / "data"

#: Side of the square blocks at full resolution (LIVE's default, and the
#: size the pristine model was built with).
BLOCK = 96

# computefeature.m's circshift offsets (rows, columns).
_SHIFTS = ((0, 1), (1, 0), (1, 1), (1, -1))


@lru_cache(maxsize=1)
def _pristine() -> tuple[np.ndarray, np.ndarray]:
    with np.load(_DATA / "niqe_pris_params.npz") as f:
        return f["mu_pris_param"].reshape(36), f["cov_pris_param"]


def _blocks(x: np.ndarray, size: int) -> np.ndarray:
    """Split an (R*size, C*size) array into (R*C, size, size) blocks, row-major."""
    r, c = x.shape[0] // size, x.shape[1] // size
    return x.reshape(r, size, c, size).transpose(0, 2, 1, 3).reshape(r * c, size, size)


def _scale_features(structdis: np.ndarray, size: int) -> np.ndarray:
    """The 18 NIQE features of every ``size`` x ``size`` block, shape (n_blocks, 18)."""
    blocks = _blocks(structdis, size)
    n = blocks.shape[0]
    idx, alpha, left, right = matlab.fit_aggd(blocks.reshape(n, -1))
    g1, _, g3 = matlab.gamma_on_grid(idx)
    root = np.sqrt(g1 / g3)
    out = [alpha, (left * root + right * root) / 2.0]
    # The four neighbour products of each block at once: (4, n, size*size).
    pairs = np.empty((len(_SHIFTS),) + blocks.shape)
    for i, shift in enumerate(_SHIFTS):
        matlab.circshift_product(blocks, shift, out=pairs[i])
    pairs = pairs.reshape(len(_SHIFTS), n, -1)
    idx, alpha, left, right = matlab.fit_aggd(pairs)
    g1, g2, g3 = matlab.gamma_on_grid(idx)
    root = np.sqrt(g1 / g3)
    beta_l, beta_r = left * root, right * root
    mean = (beta_r - beta_l) * (g2 / g1)
    per_shift = np.stack([alpha, mean, beta_l, beta_r], axis=-1)  # (4, n, 4)
    out_arr = np.concatenate(
        [np.stack(out, axis=-1), per_shift.transpose(1, 0, 2).reshape(n, 16)], axis=1
    )
    return out_arr


def _prepare(image: np.ndarray) -> np.ndarray:
    gray = matlab.gray_float(image)
    h, w = gray.shape
    if h < BLOCK or w < BLOCK:
        raise ValueError(
            f"NIQE needs an image of at least {BLOCK}x{BLOCK} pixels (one block), got {w}x{h}"
        )
    gray = gray[: (h // BLOCK) * BLOCK, : (w // BLOCK) * BLOCK]
    if gray.min() == gray.max():
        raise ValueError("NIQE is undefined for a constant image (no local structure to model)")
    return gray


def niqe_block_features(image: np.ndarray) -> np.ndarray:
    """Per-block NIQE features, shape (n_blocks, 36), NaN where a fit is undefined.

    Columns 0-17 come from the full-resolution 96x96 blocks, 18-35 from the
    matching 48x48 blocks of the half-resolution image. A block with no
    negative (or no positive) coefficients has NaN scales, as in MATLAB.
    """
    img = _prepare(image)
    feats = []
    for scale in (1, 2):
        structdis, _ = matlab.mscn(img, border="replicate")
        feats.append(_scale_features(structdis, BLOCK // scale))
        if scale == 1:
            img = matlab.imresize(img, 0.5)
    return np.concatenate(feats, axis=1)


def _nancov(x: np.ndarray) -> np.ndarray:
    """MATLAB ``nancov``: covariance of the rows without NaN, normalised by n-1 (n if n == 1)."""
    rows = x[~np.isnan(x).any(axis=1)]
    n = rows.shape[0]
    if n == 0:
        raise ValueError("NIQE is undefined: every block has an undefined feature (flat image?)")
    centred = rows - rows.mean(axis=0)
    return centred.T @ centred / (n - 1 if n > 1 else 1)


def niqe(image: np.ndarray) -> float:
    """NIQE score of a uint8 RGB (H, W, 3) or gray (H, W) image; lower is better.

    A port of LIVE's ``computequality(im, 96, 96, 0, 0, mu_prisparam,
    cov_prisparam)`` with LIVE's pristine model. Raises ``ValueError`` for a
    non-uint8 input, an image smaller than one 96x96 block, a constant
    image, or an image whose features are undefined in every block, so a
    NaN is never returned.
    """
    feats = niqe_block_features(image)
    mu_p, cov_p = _pristine()
    with np.errstate(invalid="ignore"):
        mu_d = np.nanmean(feats, axis=0)
    cov_d = _nancov(feats)
    if not (np.all(np.isfinite(mu_d)) and np.all(np.isfinite(cov_d))):
        raise ValueError("NIQE is undefined: some feature has no finite value in any block")
    diff = mu_p - mu_d
    avg = (cov_p + cov_d) / 2.0
    # MATLAB pinv: singular values below max(size) * eps(norm) are dropped.
    inv = np.linalg.pinv(avg, rcond=max(avg.shape) * np.finfo(np.float64).eps)
    quality = float(np.sqrt(diff @ inv @ diff))
    if not np.isfinite(quality):  # pragma: no cover - guarded above
        raise ValueError("NIQE score is not finite")
    return quality


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402  (core above stays import-light)
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class NIQE(FrameIQAMetric):
    """NIQE of uniformly sampled frames, pooled (lower is better)."""

    name = "niqe"
    version = "1"
    fields = (ScoreField("niqe", 0.0, None, False,
                         "distance of the frames' natural-scene statistics from LIVE's pristine "
                         "model; about 3-6 for clean natural video, higher is worse"),)
    description = "NIQE (LIVE MATLAB release port) per frame, pooled over sampled frames."
    reference = "Mittal, Soundararajan & Bovik, IEEE SPL 2013; LIVE computequality.m"
    image_score = staticmethod(niqe)

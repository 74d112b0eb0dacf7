"""PIQE: a torch-free, vectorised port of MATLAB's ``piqe``.

PIQE (Venkatanath N et al., NCC 2015) is training-free. The gray image is
padded (replicate, bottom/right) to whole 16x16 blocks and turned into MSCN
coefficients (7x7 Gaussian, sigma 7/6, replicate padding, C = 1). A block is
*active* when the sample variance of its coefficients exceeds 0.1. An active
block is

* *impaired* (noticeable artefact, e.g. blockiness) when any run of 6
  consecutive coefficients along one of its four edges has a sample
  standard deviation below 0.1, and contributes ``1 - var``;
* *noisy* when its standard deviation exceeds twice ``beta``, the relative
  gap between it and the ratio of the centre-column to surround standard
  deviations, and contributes ``var``.

The score is ``100 * (sum of contributions + 1) / (number of active blocks + 1)``,
in [0, 100], lower is better; an image without active blocks (for example a
uniform one) scores 100, as MATLAB documents. All blocks are evaluated at
once with array operations.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from . import matlab

__all__ = ["piqe", "piqe_maps"]

BLOCK = 16
_ACTIVITY_THRESHOLD = 0.1
_IMPAIRED_THRESHOLD = 0.1
_SEGMENT = 6

# Centre and surround columns of MATLAB's centre-surround deviation. With a
# 16-pixel block the centre is columns 8 and 9 (1-based); MATLAB then deletes
# column 8 and, from the *shortened* block, column 9 (originally column 10),
# so the surround keeps original column 9 and drops column 10. We keep that
# quirk because it is what MATLAB's scores are made of.
_CENTRE = np.array([7, 8])
_SURROUND = np.array([c for c in range(BLOCK) if c not in (7, 9)])


def _blocks(x: np.ndarray) -> np.ndarray:
    r, c = x.shape[0] // BLOCK, x.shape[1] // BLOCK
    return x.reshape(r, BLOCK, c, BLOCK).transpose(0, 2, 1, 3).reshape(r * c, BLOCK, BLOCK)


def piqe_maps(image: np.ndarray) -> tuple[float, np.ndarray, np.ndarray, np.ndarray]:
    """PIQE score plus per-block masks (active, impaired, noisy), each (rows, cols) of blocks.

    The masks are at block resolution over the padded image, in row-major
    block order; they help to see where the score comes from.
    """
    gray = matlab.gray_float(image)
    h, w = gray.shape
    ph, pw = (-h) % BLOCK, (-w) % BLOCK
    if ph or pw:
        gray = np.pad(gray, ((0, ph), (0, pw)), mode="edge")
    rows, cols = gray.shape[0] // BLOCK, gray.shape[1] // BLOCK
    # MATLAB computes round(255 * im2double(I)); for uint8 that is the identity.
    imnorm, _ = matlab.mscn(gray, border="replicate")
    blocks = _blocks(imnorm)
    n = blocks.shape[0]
    flat = blocks.reshape(n, -1)
    var = flat.var(axis=1, ddof=1)
    active = var > _ACTIVITY_THRESHOLD

    # Noticeable distortion: 11 sliding 6-sample segments on each edge.
    edges = np.stack(
        [blocks[:, 0, :], blocks[:, :, BLOCK - 1], blocks[:, BLOCK - 1, :], blocks[:, :, 0]], axis=1
    )  # (n, 4, 16)
    seg_std = sliding_window_view(edges, _SEGMENT, axis=2).std(axis=3, ddof=1)  # (n, 4, 11)
    impaired = (seg_std < _IMPAIRED_THRESHOLD).any(axis=(1, 2))

    # Noise: centre-surround deviation ratio against the block deviation.
    sigma = np.sqrt(var)
    centre_std = blocks[:, :, _CENTRE].reshape(n, -1).std(axis=1, ddof=1)
    surround_std = blocks[:, :, _SURROUND].reshape(n, -1).std(axis=1, ddof=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        ratio = centre_std / surround_std
        ratio = np.where(np.isnan(ratio), 0.0, ratio)  # 0/0 -> 0 as in MATLAB
        beta = np.abs(sigma - ratio) / np.maximum(sigma, ratio)
        noisy = sigma > 2.0 * beta  # NaN beta (inf ratio) compares False, as in MATLAB

    artefact = np.where(active & impaired, 1.0 - var, 0.0)
    noise = np.where(active & noisy, var, 0.0)
    # MATLAB adds the two terms of each block in turn, block after block in
    # row-major order; a cumulative sum over the interleaved terms does the
    # same additions in the same order.
    total = float(np.cumsum(np.stack([artefact, noise], axis=1).ravel())[-1])
    score = (total + 1.0) / (1.0 + float(active.sum())) * 100.0
    shape = (rows, cols)
    return (score, active.reshape(shape), (active & impaired).reshape(shape),
            (active & noisy).reshape(shape))


def piqe(image: np.ndarray) -> float:
    """PIQE score of a uint8 RGB (H, W, 3) or gray (H, W) image, in [0, 100]; lower is better.

    A port of MATLAB's training-free ``piqe``. Defined for any non-empty
    image: one smaller than a block is padded; a uniform image has no active
    block and scores 100. Raises ``ValueError`` only for invalid input
    (non-uint8 dtype, wrong shape, empty).
    """
    return piqe_maps(image)[0]


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402  (core above stays import-light)
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class PIQE(FrameIQAMetric):
    """PIQE of uniformly sampled frames, pooled (lower is better)."""

    name = "piqe"
    version = "1"
    fields = (ScoreField("piqe", 0.0, 100.0, False,
                         "share of salient 16x16 blocks showing blockiness or noise, weighted; "
                         "0 best, 100 worst (also for frames without texture)"),)
    description = "PIQE (MATLAB piqe port) per frame, pooled over sampled frames."
    reference = "Venkatanath N et al., NCC 2015; MATLAB Image Processing Toolbox piqe"
    image_score = staticmethod(piqe)

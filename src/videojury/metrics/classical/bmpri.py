"""BMPRI: a numpy port of the BMPRI code LOVE ships (``NRIQA/BMPRI``).

BMPRI (Min, Zhai, Gu, Liu & Yang, "Blind Image Quality
Estimation via Distortion Aggravation", IEEE Trans. Broadcasting 2018)
distorts the image further in four ways, five strengths each, and measures
how much of the image's local binary pattern (LBP, 4 neighbours, radius 1)
structure survives in each of these *pseudo-reference* images:

* JPEG at quality 0, 2, 4, 6, 8 (LBP code 0: flat centre);
* JPEG 2000 at compression ratios 150, 175, 200, 225, 250 (codes 2-3: edges);
* 3x3 Gaussian blur, sigma 0.5 ... 2.5 (codes 2-3);
* Gaussian noise of variance 0.3 ... 0.7 on the 0-1 scale (codes 0-1).

Each of the 20 features is ``sum(map_image & map_pseudo) / (sum(map_pseudo) + 1)``;
an epsilon-SVR (RBF, libsvm) maps them, scaled to [-1, 1] with the released
ranges, to a quality score, lower is better (it predicts DMOS-like numbers).

Against the same MATLAB code run in GNU Octave (``docs/metrics.md``) all 20
features agree exactly on the calibration images: Pillow's libjpeg-turbo
and OpenJPEG give the same pseudo-references as Octave's encoders there, and
the noise uses Octave's own ``randn`` stream under ``rng(seed)``
(``noise="octave"``, :mod:`.octave_rng`; ``"pcg64"`` is numpy's instead).
MATLAB's own draw is not reproduced by either. The libsvm text round trips
of the release (features printed with ``%f``, scaled features with ``%g``)
are reproduced.
"""

from __future__ import annotations

import io
from functools import lru_cache, partial
from importlib import resources

import numpy as np
from scipy.ndimage import correlate

from . import matlab
from ._jit import kernel

__all__ = [
    "bmpri", "bmpri_features", "bmpri_score", "lbp41_count", "jpeg_roundtrip", "jp2_roundtrip",
    "gaussian_noise", "noise_draw", "imfilter_uint8", "svm_scale", "load_svm",
]

JPEG_QUALITIES = (0, 2, 4, 6, 8)
JP2_RATIOS = (150, 175, 200, 225, 250)
BLUR_SIGMAS = (0.5, 1.0, 1.5, 2.0, 2.5)
NOISE_VARIANCES = (0.3, 0.4, 0.5, 0.6, 0.7)
NOISE_SEED = 0


@lru_cache(maxsize=2)
def load_svm(name: str) -> dict[str, np.ndarray]:
    """The released libsvm model and ranges, ``bmpri`` or ``bpri``."""
    with resources.files(__package__).joinpath(f"data/{name}_svm.npz").open("rb") as fh:
        with np.load(fh) as z:
            return {k: z[k] for k in z.files}


def lbp41_count(gray: np.ndarray) -> np.ndarray:
    """Per interior pixel, how many of its 4 neighbours (E, N, W, S) are >= it."""
    g = np.asarray(gray)
    c = g[1:-1, 1:-1]
    return ((g[1:-1, 2:] >= c).astype(np.int8) + (g[:-2, 1:-1] >= c)
            + (g[1:-1, :-2] >= c) + (g[2:, 1:-1] >= c))


def _ratio(dist: np.ndarray, pri: np.ndarray) -> float:
    return float(np.count_nonzero(dist & pri)) / (float(np.count_nonzero(pri)) + 1.0)


def imfilter_uint8(gray: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """MATLAB ``imfilter(uint8, weights)``: correlation, zero padding, rounded to uint8.

    SciPy's ``correlate`` does the sums (from zero, the weights in row-major
    order, those within DBL_EPSILON of zero left out); a 3x3 window with no
    such weight runs compiled when numba is installed, the same sums in the
    same order."""
    weights = np.asarray(weights, dtype=np.float64)
    if gray.ndim == 2 and weights.shape == (3, 3) and np.all(np.abs(weights) > _EPS) \
            and _FILTER3_KERNEL.ok():
        out = np.empty(gray.shape, dtype=np.uint8)
        _FILTER3_KERNEL(np.pad(gray, 1), weights, out)
        return out
    out = correlate(gray.astype(np.float64), weights, mode="constant", cval=0.0)
    return np.clip(np.floor(out + 0.5), 0, 255).astype(np.uint8)


_EPS = float(np.finfo(np.float64).eps)


def _filter3_loop(padded, w, out):  # pragma: no cover - compiled by numba
    """:func:`imfilter_uint8`'s correlation and rounding for a 3x3 window over a
    zero-padded image (SciPy multiplies the zeros outside too: adding 0 changes no sum)."""
    for y in range(out.shape[0]):
        r0, r1, r2 = padded[y], padded[y + 1], padded[y + 2]
        for x in range(out.shape[1]):
            t = 0.0
            t += r0[x] * w[0, 0]
            t += r0[x + 1] * w[0, 1]
            t += r0[x + 2] * w[0, 2]
            t += r1[x] * w[1, 0]
            t += r1[x + 1] * w[1, 1]
            t += r1[x + 2] * w[1, 2]
            t += r2[x] * w[2, 0]
            t += r2[x + 1] * w[2, 1]
            t += r2[x + 2] * w[2, 2]
            out[y, x] = np.uint8(min(max(np.floor(t + 0.5), 0.0), 255.0))


_FILTER3_KERNEL = kernel(_filter3_loop)


def jpeg_roundtrip(image: np.ndarray, quality: int) -> np.ndarray:
    """Encode with libjpeg (Pillow) at ``quality`` (0 acts as 1, as in libjpeg) and decode."""
    buf = io.BytesIO()
    from PIL import Image

    Image.fromarray(image).save(buf, format="JPEG", quality=int(quality))
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im.convert(im.mode))


def jp2_roundtrip(image: np.ndarray, ratio: float) -> np.ndarray:
    """JPEG 2000 at compression ``ratio`` (OpenJPEG via Pillow) and back.

    MATLAB's lossy defaults: irreversible 9/7 wavelet, 5 decomposition
    levels (6 resolutions), colour transform for RGB, one quality layer.
    An image with a side under 32 pixels gets fewer levels (OpenJPEG needs
    ``2 ** (resolutions - 1)`` pixels per side).
    """
    from PIL import Image

    side = min(image.shape[0], image.shape[1])
    levels = max(1, min(6, side.bit_length()))
    buf = io.BytesIO()
    Image.fromarray(image).save(buf, format="JPEG2000", quality_mode="rates",
                                quality_layers=[float(ratio)], irreversible=True,
                                num_resolutions=levels, mct=1 if image.ndim == 3 else 0)
    buf.seek(0)
    with Image.open(buf) as im:
        return np.asarray(im)


NOISE_STREAMS = ("octave", "pcg64")


@lru_cache(maxsize=4)
def _draw(shape: tuple[int, ...], seed: int, noise: str) -> np.ndarray:
    if noise == "octave":
        from .octave_rng import matlab_twister_state, octave_randn

        z = octave_randn(shape, matlab_twister_state(seed))
    elif noise == "pcg64":
        z = np.random.Generator(np.random.PCG64(seed)).standard_normal(shape)
    else:
        raise ValueError(f"unknown noise stream {noise!r}: use one of {', '.join(NOISE_STREAMS)}")
    # Octave fills the draw column-major; keep it row-major, the order the
    # pseudo-references are computed in (the same numbers)
    z = np.ascontiguousarray(z)
    z.setflags(write=False)
    return z


def noise_draw(shape: tuple[int, ...], seed: int = NOISE_SEED, noise: str = "octave") -> np.ndarray:
    """The standard normal draw behind every noise pseudo-reference of one image.

    The release calls ``rng(seed)`` before each ``imnoise``, so all strengths
    share one draw, scaled; we draw once and scale it too. ``noise="octave"``
    (the default) is GNU Octave's ``rng(seed); randn(size(img))`` for the
    release's ``seed.mat`` (MATLAB's ``rng(seed, 'twister')`` structure), draw
    for draw (:mod:`.octave_rng`); ``"pcg64"`` is numpy's PCG64 seeded with
    ``seed``. Neither is MATLAB's own draw (``docs/metrics.md``). The draw
    is cached per (shape, seed, stream) and read-only.
    """
    return _draw(tuple(int(s) for s in shape), int(seed), str(noise))


# The largest double below 0.5 (0.5 - 2^-54).
_BELOW_HALF = float(np.nextafter(0.5, 0.0))


def _to_uint8(x: np.ndarray) -> np.ndarray:
    """Octave/MATLAB ``uint8(x)`` of doubles: round half away from zero, saturate.

    Works in place on ``x`` (a float64 scratch array). For x in [0, 255],
    ``floor(x + (0.5 - 2^-54))`` is that rounding: with ``r`` the fractional
    part, the sum reaches the next integer exactly when ``r >= 0.5`` (at
    ``r = 0.5`` it lies 2^-54 below it and rounds up to it), and stays below it
    otherwise. Plain ``floor(x + 0.5)`` would round the largest double below
    0.5 up to 1. Checked against the definition around every half-integer in
    the tests.
    """
    np.clip(x, 0.0, 255.0, out=x)
    x += _BELOW_HALF
    return x.astype(np.uint8)  # truncation: floor, the values being >= 0


_STRIP_BYTES = 1 << 19  # rows per step of about 512 KiB of doubles stay in cache


def gaussian_noise(image: np.ndarray, variance: float, seed: int = NOISE_SEED,
                   draw: np.ndarray | None = None, noise: str = "octave",
                   base: np.ndarray | None = None) -> np.ndarray:
    """``imnoise(uint8, 'gaussian', 0, variance)`` after ``rng(seed)``: im2double,
    plus ``sqrt(variance)`` times the draw, back to uint8 (``uint8(x * 255)``).

    ``base`` may pass ``image / 255.0`` when several variances share an image.
    Computed in row strips that stay in cache (the same operations per pixel).
    """
    z = noise_draw(image.shape, seed, noise) if draw is None else draw
    s = np.sqrt(variance)
    out = np.empty(image.shape, dtype=np.uint8)
    if _NOISE_KERNEL.ok():
        if z.shape != image.shape:
            raise ValueError(f"noise draw of shape {z.shape} for an image of shape {image.shape}")
        _NOISE_KERNEL(np.ravel(image), np.ravel(z), s, out.reshape(-1))
        return out
    row = int(np.prod(image.shape[1:], dtype=np.int64)) * 8
    rows = max(1, _STRIP_BYTES // max(row, 1))
    buf = np.empty((min(rows, image.shape[0]),) + image.shape[1:])
    im = np.empty_like(buf) if base is None else None
    for r0 in range(0, image.shape[0], rows):
        r1 = min(image.shape[0], r0 + rows)
        x = buf[:r1 - r0]
        np.multiply(z[r0:r1], s, out=x)
        if base is None:
            x += np.divide(image[r0:r1], 255.0, out=im[:r1 - r0])
        else:
            x += base[r0:r1]
        x *= 255.0
        out[r0:r1] = _to_uint8(x)
    return out


def _noise_loop(image, z, s, out):  # pragma: no cover - compiled by numba
    """:func:`gaussian_noise`'s numpy steps element by element (flat arrays)."""
    for i in range(image.size):
        v = z[i] * s
        v += image[i] / 255.0
        v *= 255.0
        v = min(max(v, 0.0), 255.0) + _BELOW_HALF
        out[i] = np.uint8(v)


_NOISE_KERNEL = kernel(_noise_loop)


def _gray(image: np.ndarray) -> np.ndarray:
    return matlab.rgb2gray(image) if image.ndim == 3 else image


def bmpri_features(image: np.ndarray, seed: int = NOISE_SEED,
                   noise: str = "octave") -> np.ndarray:
    """The 20 BMPRI features (JPEG, JPEG 2000, blur, noise; 5 strengths each).

    ``seed`` and ``noise`` choose the noise pseudo-references' draw (see
    :func:`noise_draw`; varying the seed shows how much the score depends on it).
    """
    img = matlab.as_uint8_image(image)
    gray = _gray(img)
    if min(gray.shape) < 3:
        raise ValueError(f"image {gray.shape[0]}x{gray.shape[1]} is too small for BMPRI "
                         "(needs at least 3x3 pixels)")
    count = lbp41_count(gray)
    flat, edge, noisy = count == 0, (count == 2) | (count == 3), count <= 1
    feats = []
    for q in JPEG_QUALITIES:
        feats.append(_ratio(flat, lbp41_count(_gray(jpeg_roundtrip(img, q))) == 0))
    for r in JP2_RATIOS:
        c = lbp41_count(_gray(jp2_roundtrip(img, r)))
        feats.append(_ratio(edge, (c == 2) | (c == 3)))
    for s in BLUR_SIGMAS:
        c = lbp41_count(imfilter_uint8(gray, matlab.gaussian_window(3, s)))
        feats.append(_ratio(edge, (c == 2) | (c == 3)))
    draw = noise_draw(img.shape, seed, noise)
    base = img.astype(np.float64) / 255.0
    for v in NOISE_VARIANCES:
        pri = gaussian_noise(img, v, draw=draw, base=base)
        feats.append(_ratio(noisy, lbp41_count(_gray(pri)) <= 1))
    return np.array(feats)


def _printf(values: np.ndarray, fmt: str) -> np.ndarray:
    return np.array([float(format(float(v), fmt)) for v in values])


def svm_scale(features: np.ndarray, model: dict[str, np.ndarray]) -> np.ndarray:
    """libsvm's ``svm-scale -r range`` of features written with MATLAB's ``%f``.

    The release writes the features with ``%f`` (6 decimals) and svm-scale
    writes the scaled values with ``%g`` (6 significant digits); both
    roundings are applied here so the SVM sees the same numbers.
    """
    x = _printf(features, "f")
    lo, hi = float(model["scale_lower"]), float(model["scale_upper"])
    fmin, fmax = model["feature_min"], model["feature_max"]
    with np.errstate(invalid="ignore", divide="ignore"):
        scaled = lo + (hi - lo) * (x - fmin) / (fmax - fmin)
    scaled = np.where(x == fmin, lo, np.where(x == fmax, hi, scaled))
    scaled = np.where(fmax == fmin, 0.0, scaled)
    return _printf(scaled, "g")


def rbf_kernel(x: np.ndarray, model: dict[str, np.ndarray]) -> np.ndarray:
    sv = model["support_vectors"]
    diff = sv - x[None, :]
    return np.exp(-float(model["gamma"]) * np.sum(diff * diff, axis=1))


def bmpri(image: np.ndarray, seed: int = NOISE_SEED, noise: str = "octave") -> float:
    """BMPRI of a uint8 RGB (H, W, 3) or gray (H, W) image; lower is better.

    Raises ``ValueError`` for invalid input or an image smaller than 3x3.
    """
    return bmpri_score(bmpri_features(image, seed, noise))


def bmpri_score(features: np.ndarray) -> float:
    """The released SVR on 20 BMPRI features (``BMPRI_score.m``: svm-scale, svm-predict)."""
    model = load_svm("bmpri")
    x = svm_scale(np.asarray(features, dtype=np.float64), model)
    return float(model["sv_coef"][0] @ rbf_kernel(x, model) - model["rho"][0])


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class BMPRI(FrameIQAMetric):
    """BMPRI of uniformly sampled frames, pooled (lower is better)."""

    name = "bmpri"
    version = "2"
    fields = (ScoreField("bmpri", None, None, False,
                         "multiple-pseudo-reference LBP similarity mapped by the released SVR; "
                         "a DMOS-like number, lower is better"),)
    description = "BMPRI (LOVE NRIQA MATLAB code port) per frame, pooled over sampled frames."
    reference = "Min et al., IEEE Trans. Broadcasting 2018; IntMeGroup/LOVE NRIQA/BMPRI"
    image_score = staticmethod(bmpri)
    default_options = {**FrameIQAMetric.default_options, "noise": "octave"}
    option_choices = {"noise": NOISE_STREAMS}

    def image_function(self):
        return partial(bmpri, noise=self.options["noise"])

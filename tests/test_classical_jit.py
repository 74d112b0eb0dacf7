"""The compiled kernels (numba, the ``fast`` extra) against the numpy code they replace.

Each kernel must give the numpy path's bits. QAC is the exception: its
blurs sum their taps in another order and its distances are double sums in
another order than OpenBLAS's (after a single-precision screening, tested
here on its own), so its patches agree to the last bits and its scores to
1e-14. The other classical test files run whichever path is installed
against the Octave reference numbers and the definitional forms; without
numba these tests skip and those files cover the numpy paths.
"""

from __future__ import annotations

import os
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from videojury.metrics.classical import _jit, bmpri, bpri, hosa, matlab, qac

pytestmark = pytest.mark.skipif(not _jit.available(),
                                reason="the compiled kernels are off (numba, the `fast` extra, "
                                       "is not installed, or VIDEOJURY_JIT=0): the numpy paths "
                                       "run and the other classical tests cover them")

CALIBRATION = Path(__file__).resolve().parents[2] / "shared" / "reference" / "iqa-calibration"


@contextmanager
def numpy_path():
    old = _jit.DISABLED
    _jit.DISABLED = True
    try:
        yield
    finally:
        _jit.DISABLED = old


def both(fn, *args, **kw):
    compiled = fn(*args, **kw)
    with numpy_path():
        plain = fn(*args, **kw)
    return compiled, plain


def same_bits(a, b) -> bool:
    a, b = np.asarray(a), np.asarray(b)
    return a.shape == b.shape and a.dtype == b.dtype and a.tobytes() == b.tobytes()


def frame(seed: int, h: int, w: int) -> np.ndarray:
    """Smooth structure, hard edges and flat areas (plateaux for the corner maxima)."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:h, :w]
    img = 128 + 60 * np.sin(xx / 9.0 + seed) * np.cos(yy / 13.0) + rng.normal(0, 8, (h, w))
    img[: h // 4] = 90.0
    img[h // 2:, : w // 3] += 50.0
    rgb = np.stack([img, img * 0.8 + 20, 255 - img], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def images():
    rng = np.random.default_rng(5)
    out = [frame(0, 96, 130), frame(1, 37, 53), rng.integers(0, 256, (40, 31, 3), dtype=np.uint8),
           np.full((24, 24, 3), 77, np.uint8)]
    if CALIBRATION.is_dir():
        from PIL import Image

        out.append(np.asarray(Image.open(CALIBRATION / "I04.bmp").convert("RGB")))
    return out


def test_kernels_are_used_and_can_be_switched_off():
    assert _jit.available()
    with numpy_path():
        assert not _jit.available() and not qac._DOG_KERNEL.ok()
    env = {**os.environ, "VIDEOJURY_JIT": "0"}
    out = subprocess.run([sys.executable, "-c", "from videojury.metrics.classical import _jit; "
                          "print(_jit.available())"], env=env, capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "False"


_IN_BOUNDS = """
import numpy as np
from videojury.metrics.classical import bmpri, bpri, hosa, qac
rng = np.random.default_rng(0)
for shape in [(12, 12, 3), (13, 29), (12, 14), (25, 37, 3), (40, 31)]:
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    hosa.hosa(img), qac.qac(img), bmpri.bmpri(img), bpri.bpri(img)
for shape in [(3, 3), (3, 9), (11, 3)]:
    img = rng.integers(0, 256, shape, dtype=np.uint8)
    bmpri.bmpri(img), bpri.bpri(img)
print("ok")
"""


def test_kernels_stay_in_bounds(tmp_path):
    # numba does not check indices; with NUMBA_BOUNDSCHECK=1 (and a fresh cache,
    # so that nothing compiled without the checks is reused) an index outside an
    # array raises. Smallest images and odd sizes are where a kernel would stray.
    env = {**os.environ, "NUMBA_BOUNDSCHECK": "1", "NUMBA_CACHE_DIR": str(tmp_path)}
    out = subprocess.run([sys.executable, "-c", _IN_BOUNDS], env=env, capture_output=True,
                         text=True, timeout=600)
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_a_kernel_compiles_without_a_cache_where_numba_cannot_write_one(monkeypatch, caplog):
    real = _jit._numba.njit

    def njit(*args, cache=False, **kw):
        if cache:
            raise RuntimeError("cannot cache function: no locator available for file")
        return real(*args, cache=cache, **kw)

    monkeypatch.setattr(_jit._numba, "njit", njit)
    k = _jit.kernel(lambda a: a + 1.0)
    assert k(1.5) == 2.5
    assert "compiled in each process" in caplog.text


def test_rgb2gray_on_every_colour_and_on_strided_input():
    codes = np.arange(1 << 24, dtype=np.uint32)
    img = np.stack([codes & 255, (codes >> 8) & 255, codes >> 16], axis=-1).astype(np.uint8)
    img = img.reshape(4096, 4096, 3)
    levels, plain = both(matlab.gray_float, img)
    assert same_bits(levels, plain)
    u8, plain8 = both(matlab.rgb2gray, img)
    assert same_bits(u8, plain8)
    view = img[7:900:3, 5:1000:2]  # neither C-contiguous nor aligned rows
    assert same_bits(*both(matlab.gray_float, view))
    assert same_bits(*both(matlab.rgb2gray, view))


def test_corner_metric_bits():
    rng = np.random.default_rng(0)
    grays = [matlab.rgb2gray(im) for im in images()]
    grays += [bmpri.jpeg_roundtrip(g, 0) for g in grays[:2]]  # JPEG's blocks: flat plateaux
    grays += [rng.integers(0, 3, (60, 70), dtype=np.uint8), np.zeros((3, 3), np.uint8),
              rng.integers(0, 256, (3, 9), dtype=np.uint8), rng.integers(0, 256, (11, 3), np.uint8)]
    for g in grays:
        assert same_bits(bpri.min_eigen_metric(g), bpri.min_eigen_numpy(g)), g.shape


def test_noise_pseudo_references_bits_near_every_rounding_boundary():
    for im in images()[:3]:
        for v in (0.3, 0.5, 0.7):
            assert same_bits(*both(bmpri.gaussian_noise, im, v)), (im.shape, v)
        gray = matlab.rgb2gray(im)
        assert same_bits(*both(bmpri.gaussian_noise, gray, 0.5))
    # draws that put x * 255 within a few ulps of every k + 0.5 and of 0 and 255
    targets = np.concatenate([np.arange(-1, 257) + 0.5, [0.0, 255.0]]) / 255.0
    z = [targets]
    for _ in range(6):
        z.append(np.nextafter(z[-1], np.inf))
        z.insert(0, np.nextafter(z[0], -np.inf))
    z = np.concatenate(z)
    image = np.zeros(z.size, np.uint8)
    assert same_bits(*both(bmpri.gaussian_noise, image, 1.0, draw=z))


def test_blur_pseudo_references_bits():
    rng = np.random.default_rng(4)
    grays = [matlab.rgb2gray(im) for im in images()] + [rng.integers(0, 256, (3, 3), np.uint8)]
    for g in grays:
        for s in bmpri.BLUR_SIGMAS:
            w = matlab.gaussian_window(3, s)
            assert same_bits(*both(bmpri.imfilter_uint8, g, w)), (g.shape, s)
        assert same_bits(*both(bmpri.imfilter_uint8, g, np.full((3, 3), 1.0 / 9.0)))


def test_hosa_features_bits():
    for im in images():
        assert same_bits(*both(hosa.hosa_features, im)), im.shape
    rng = np.random.default_rng(1)
    assert same_bits(*both(hosa.hosa_features, rng.integers(0, 256, (12, 14), dtype=np.uint8)))


def test_pairwise_sum_is_numpys():
    rng = np.random.default_rng(2)
    for n in (1, 5, 7, 8, 9, 15, 16, 17, 49, 63, 64, 100, 128):
        a = rng.standard_normal(n) * np.exp(3 * rng.standard_normal(n))
        assert hosa._pairwise_sum(a) == np.sum(a), n


def test_qac_patches_to_the_last_bit_and_scores_to_1e_14():
    rng = np.random.default_rng(3)
    cases = images() + [rng.integers(0, 256, (12, 12, 3), dtype=np.uint8),
                        rng.integers(0, 256, (13, 29), dtype=np.uint8)]
    for im in cases:
        a = qac.dog_patches(im)
        b = qac.dog_patches_numpy(im)
        assert a.shape == b.shape
        # a blurred pixel in [0, 1] may differ in its last bits; |DoG| * 8 scales it
        np.testing.assert_allclose(a, b, rtol=0, atol=2e-14)
        s, t = both(qac.qac, im)
        assert abs(s - t) <= 1e-14 * abs(t), im.shape


def test_qac_single_precision_screening_keeps_the_two_nearest_levels():
    # Patches at a centre (distance 0, where the clamp at zero makes ties), halfway
    # between centres of two levels (equal distances), near-copies of centres and
    # random ones. The screened minima must equal the same double sums taken over
    # every centre, and give the same two nearest levels, ties included. (Against
    # the numpy path's BLAS product an exact tie can go either way: the two sum in
    # different orders; on images the scores agree, test above.)
    centres = qac._centres().reshape(-1, 192)
    rng = np.random.default_rng(6)
    a, b = rng.integers(0, 300, 100), rng.integers(0, 300, 100)
    # off the midpoint by 1e-10 .. 1e-3 of the way: the nearer centre is within
    # single precision's error for some of these, and only the double sums know it
    same = (a // 30) * 30 + (b % 30)  # b's position in a's level
    off = np.logspace(-10, -3, 100)[:, None]
    feats = np.concatenate([
        centres, (centres[a] + centres[b]) / 2.0,
        (centres[a] + centres[b]) / 2.0 + off * (centres[a] - centres[b]),
        (centres[a] + centres[same]) / 2.0 + off * (centres[a] - centres[same]),
        centres[a] * (1.0 + 1e-9 * rng.standard_normal((100, 192))),
        np.abs(rng.normal(0.0, 0.05, (100, 192))), np.zeros((1, 192)),
    ])
    levels, k, _ = qac._centres().shape
    m2c, cc = qac._distance_terms()
    aa = np.einsum("ij,ij->i", feats, feats)
    screened = np.empty((levels, feats.shape[0]))
    qac._MINIMA_KERNEL(feats.astype(np.float32) @ qac._centres_f32().T, feats, m2c, cc, aa,
                       levels, k, qac._F32_BOUND, screened)
    # the kernel's double sums over every centre: four interleaved running sums
    # (cumsum adds in order), combined in pairs, then |c|^2
    full = np.empty((levels * k, feats.shape[0]))
    for j0 in range(0, feats.shape[0], 50):
        prod = m2c[:, None, :] * feats[None, j0:j0 + 50, :]
        part = [np.cumsum(prod[..., r::4], axis=-1)[..., -1] for r in range(4)]
        full[:, j0:j0 + 50] = ((part[0] + part[1]) + (part[2] + part[3])) + cc[:, None]
    full = full.reshape(levels, k, -1).min(axis=1)
    kept = np.isfinite(screened)
    assert (kept.sum(axis=0) >= 2).all()
    assert same_bits(screened[kept], full[kept])

    def nearest(d2):
        dist = np.sqrt(np.maximum(d2 + aa[None, :], 0.0))
        return np.argsort(dist, axis=0, kind="stable")[:2]

    assert np.array_equal(nearest(screened), nearest(full))


def test_scores_of_the_four_metrics_agree_between_paths():
    for im in images()[:2]:
        for fn in (hosa.hosa, bmpri.bmpri, bpri.bpri):
            compiled, plain = both(fn, im)
            assert compiled == plain, (fn.__name__, im.shape)

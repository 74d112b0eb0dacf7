"""Properties of the classical IQA ports that need no reference images.

MATLAB-compatibility of the building blocks, the vectorised grid search
against the plain grid search it replaces, monotone quality ladders on a
seeded synthetic image, determinism, and the edge-case policy (defined
score or ValueError, never NaN).
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import pytest

from videojury.metrics.classical import matlab
from videojury.metrics.classical.brisque import brisque, brisque_features
from videojury.metrics.classical.niqe import niqe, niqe_block_features
from videojury.metrics.classical.piqe import piqe, piqe_maps


def natural_image(seed: int = 0, h: int = 288, w: int = 384) -> np.ndarray:
    """A seeded natural-looking RGB image: 1/f noise plus hard-edged discs."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(h)[:, None]
    fx = np.fft.fftfreq(w)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spectrum = (rng.normal(size=(h, w)) + 1j * rng.normal(size=(h, w))) / f
    img = np.real(np.fft.ifft2(spectrum))
    img = (img - img.mean()) / img.std() * 30.0 + 128.0
    yy, xx = np.ogrid[:h, :w]
    for _ in range(12):
        y, x, r = rng.integers(0, h), rng.integers(0, w), rng.integers(8, 40)
        img[(yy - y) ** 2 + (xx - x) ** 2 < r * r] += rng.uniform(-50, 50)
    rgb = np.stack([img, img * 0.9 + 10.0, img * 0.8 + 20.0], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def image() -> np.ndarray:
    return natural_image(0)


def _blur(img: np.ndarray, sigma: float) -> np.ndarray:
    return img if sigma == 0 else cv2.GaussianBlur(img, (0, 0), sigma)


def _noise(img: np.ndarray, std: float) -> np.ndarray:
    rng = np.random.default_rng(1)
    return np.clip(np.round(img + rng.normal(0.0, std, img.shape)), 0, 255).astype(np.uint8)


# --- MATLAB building blocks --------------------------------------------------

def test_rgb2gray_matches_matlab_on_primaries():
    # MATLAB: rgb2gray(uint8([255 0 0])) = 76, green 150, blue 29, white 255.
    px = np.array([[[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0]]],
                  dtype=np.uint8)
    np.testing.assert_array_equal(matlab.rgb2gray(px)[0], [76, 150, 29, 255, 0])
    np.testing.assert_allclose(matlab._RGB2GRAY, [0.298936021293775, 0.587043074451121,
                                                  0.114020904255103], atol=1e-15)


def test_rgb2gray_rounds_half_away_from_zero():
    # 0.2989*R + 0.5870*G + 0.1140*B close to .5 from above rounds up.
    rgb = np.array([[[1, 0, 0]]], dtype=np.uint8)  # 0.2989 -> 0
    assert matlab.rgb2gray(rgb)[0, 0] == 0
    rgb = np.array([[[2, 0, 0]]], dtype=np.uint8)  # 0.5979 -> 1
    assert matlab.rgb2gray(rgb)[0, 0] == 1


def test_rgb2gray_every_colour_is_the_double_sum_rounded():
    # All 2^24 colours (16 blocks of 1024 x 1024) against the definition written
    # out: (R*w0 + G*w1) + B*w2 in double, rounded half away from zero; and on
    # strided views (the pair-table path reads two bytes of each pixel at once).
    w = matlab._RGB2GRAY
    for block in range(16):
        c = np.arange(block << 20, (block + 1) << 20, dtype=np.uint32)
        img = np.stack([(c >> 16) & 255, (c >> 8) & 255, c & 255], -1).astype(np.uint8)
        img = img.reshape(1024, 1024, 3)
        f = img.astype(np.float64)
        want = np.floor(f[..., 0] * w[0] + f[..., 1] * w[1] + f[..., 2] * w[2] + 0.5)
        np.testing.assert_array_equal(matlab.rgb2gray(img), want.astype(np.uint8))
        np.testing.assert_array_equal(matlab.gray_float(img), want)
        np.testing.assert_array_equal(matlab.rgb2gray(img[1::7, 5::3]),
                                      want[1::7, 5::3].astype(np.uint8))


def test_gaussian_window_is_fspecial():
    w = matlab.gaussian_window()
    g = matlab.gaussian_kernel_1d()
    assert w.shape == (7, 7)
    assert w.sum() == pytest.approx(1.0, abs=1e-15)
    np.testing.assert_allclose(np.outer(g, g), w, rtol=1e-14)
    # Centre of fspecial('gaussian', 7, 7/6).
    assert w[3, 3] == pytest.approx(0.117396355, abs=1e-9)


def test_filter_borders():
    x = np.arange(35, dtype=np.float64).reshape(5, 7) ** 1.5
    g = matlab.gaussian_kernel_1d()
    rep = matlab.filter_same(x, g, "replicate")
    zero = matlab.filter_same(x, g, "zero")
    w = matlab.gaussian_window()
    padded_rep = np.pad(x, 3, mode="edge")
    padded_zero = np.pad(x, 3)
    want_rep = np.array([[(padded_rep[i:i + 7, j:j + 7] * w).sum() for j in range(7)]
                         for i in range(5)])
    want_zero = np.array([[(padded_zero[i:i + 7, j:j + 7] * w).sum() for j in range(7)]
                          for i in range(5)])
    np.testing.assert_allclose(rep, want_rep, rtol=1e-12)
    np.testing.assert_allclose(zero, want_zero, rtol=1e-12)


def _imresize_loop(x: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB's documented bicubic imresize, written out plainly, one axis at a time."""

    def axis(v: np.ndarray) -> np.ndarray:
        n = v.shape[0]
        m = math.ceil(scale * n)
        width = 4.0 / scale
        out = np.zeros((m,) + v.shape[1:])
        for i in range(1, m + 1):
            u = i / scale + 0.5 * (1 - 1 / scale)
            left = math.floor(u - width / 2)
            taps = [left + k for k in range(math.ceil(width) + 2)]
            ws = []
            for j in taps:
                d = abs(scale * (u - j))
                c = (1.5 * d**3 - 2.5 * d**2 + 1) if d <= 1 else (
                    (-0.5 * d**3 + 2.5 * d**2 - 4 * d + 2) if d <= 2 else 0.0)
                ws.append(scale * c)
            total = sum(ws)
            for j, wj in zip(taps, ws, strict=True):
                jj = (j - 1) % (2 * n)
                src = jj if jj < n else 2 * n - 1 - jj
                out[i - 1] += wj / total * v[src]
        return out

    return axis(axis(x).T).T


@pytest.mark.parametrize("shape", [(20, 30), (17, 9), (8, 8)])
def test_imresize_half_matches_plain_algorithm(shape):
    rng = np.random.default_rng(3)
    x = rng.uniform(0, 255, shape)
    got = matlab.imresize(x, 0.5)
    assert got.shape == (math.ceil(shape[0] / 2), math.ceil(shape[1] / 2))
    np.testing.assert_allclose(got, _imresize_loop(x, 0.5), rtol=1e-12, atol=1e-10)


def test_imresize_reproduces_a_ramp_away_from_borders():
    # The antialiased cubic kernel is symmetric and normalised, so a linear
    # ramp is resampled exactly: output j (0-based) sits at input 2j + 0.5.
    x = np.tile(np.arange(64, dtype=np.float64), (8, 1))
    got = matlab.imresize(x, 0.5)
    np.testing.assert_allclose(got[:, 3:-3], np.tile(2 * np.arange(32) + 0.5, (4, 1))[:, 3:-3],
                               atol=1e-12)


def _brute_index(table: np.ndarray, t: float, squared: bool) -> int:
    d = (table - t) ** 2 if squared else np.abs(t - table)
    if np.all(np.isnan(d)):
        return 0
    return int(np.nanargmin(d))  # first minimum, like MATLAB's min


@pytest.mark.parametrize("which", ["aggd", "ggd"])
def test_vectorised_grid_search_equals_full_search(which):
    table = matlab._R_AGGD if which == "aggd" else matlab._R_GGD
    squared = which == "aggd"
    rng = np.random.default_rng(7)
    lo, hi = float(table.min()), float(table.max())
    targets = np.concatenate([
        rng.uniform(lo, hi, 3000),
        rng.uniform(lo - 1.0, hi + 1.0, 300),
        table[rng.integers(0, table.size, 200)],  # exactly on the grid
        (table[:-1] + table[1:])[rng.integers(0, table.size - 1, 200)] / 2,  # midpoints
        [lo, hi, -np.inf, np.inf, np.nan, 0.0],
    ])
    got = matlab.grid_index(table, targets, squared=squared)
    want = np.array([_brute_index(table, t, squared) for t in targets])
    np.testing.assert_array_equal(got, want)


def test_grid_is_matlab_colon():
    g = matlab.ALPHA_GRID
    assert g.size == 9801 and g[0] == 0.2 and g[-1] == 10.0
    np.testing.assert_allclose(np.diff(g), 0.001, atol=1e-12)
    assert np.all(np.diff(matlab._R_AGGD) > 0) and np.all(np.diff(matlab._R_GGD) < 0)


def test_ggd_fits_recover_known_shapes():
    rng = np.random.default_rng(0)
    _, a_gauss, s_gauss = matlab.fit_ggd(rng.normal(0, 2.0, 400_000))
    _, a_lap, _ = matlab.fit_ggd(rng.laplace(0, 1.0, 400_000))
    assert a_gauss == pytest.approx(2.0, abs=0.05) and s_gauss == pytest.approx(2.0, rel=0.01)
    assert a_lap == pytest.approx(1.0, abs=0.05)
    # An AGGD with alpha 2: Gaussian halves of scale 1 (left) and 3 (right),
    # each side drawn with probability proportional to its scale.
    x = np.abs(rng.normal(0, 1, 400_000))
    x = np.where(rng.random(x.size) < 0.25, -x, 3 * x)
    _, a, left, right = matlab.fit_aggd(x)
    assert a == pytest.approx(2.0, abs=0.1)
    assert left == pytest.approx(1.0, rel=0.01) and right == pytest.approx(3.0, rel=0.01)


def test_aggd_with_an_empty_side_behaves_like_matlab():
    # mean([]) is NaN in MATLAB; min over an all-NaN vector returns index 1.
    _, alpha, left, right = matlab.fit_aggd(np.array([[0.5, 1.0, 2.0, 0.0]]))
    assert alpha[0] == 0.2 and np.isnan(left[0]) and right[0] > 0


def _niqe_features_loop(gray: np.ndarray) -> np.ndarray:
    """NIQE block features the way computefeature.m does them: block by block, full search."""
    g1, g2, g3 = (lambda a: math.gamma(1 / a)), (lambda a: math.gamma(2 / a)), (
        lambda a: math.gamma(3 / a))
    table = matlab._R_AGGD

    def aggd(v):
        left = math.sqrt(np.mean(v[v < 0] ** 2))
        right = math.sqrt(np.mean(v[v > 0] ** 2))
        gh = left / right
        rhat = np.mean(np.abs(v)) ** 2 / np.mean(v**2)
        rn = rhat * (gh**3 + 1) * (gh + 1) / (gh**2 + 1) ** 2
        a = matlab.ALPHA_GRID[_brute_index(table, rn, True)]
        return a, left * math.sqrt(g1(a) / g3(a)), right * math.sqrt(g1(a) / g3(a))

    rows = []
    img = gray
    per_scale = []
    for scale in (1, 2):
        s, _ = matlab.mscn(img, "replicate")
        size = 96 // scale
        feats = []
        for bi in range(s.shape[0] // size):
            for bj in range(s.shape[1] // size):
                b = s[bi * size:(bi + 1) * size, bj * size:(bj + 1) * size]
                a, bl, br = aggd(b.ravel())
                f = [a, (bl + br) / 2]
                for sh in ((0, 1), (1, 0), (1, 1), (1, -1)):
                    a, bl, br = aggd((b * np.roll(b, sh, axis=(0, 1))).ravel())
                    f += [a, (br - bl) * g2(a) / g1(a), bl, br]
                feats.append(f)
        per_scale.append(np.array(feats))
        img = matlab.imresize(img, 0.5)
    rows = np.concatenate(per_scale, axis=1)
    return rows


def test_vectorised_niqe_features_equal_block_loop(image):
    small = image[:192, :192]
    got = niqe_block_features(small)
    want = _niqe_features_loop(matlab.gray_float(small))
    assert got.shape == (4, 36)
    # Same grid choices: the shape parameters are identical, the rest equal
    # up to summation order.
    shapes = [0, 2, 6, 10, 14, 18, 20, 24, 28, 32]
    np.testing.assert_array_equal(got[:, shapes], want[:, shapes])
    np.testing.assert_allclose(got, want, rtol=1e-10)


# --- quality ladders ---------------------------------------------------------

@pytest.mark.parametrize("metric", [niqe, brisque], ids=["niqe", "brisque"])
def test_more_blur_is_never_better(image, metric):
    scores = [metric(_blur(image, s)) for s in (0, 1, 2, 3)]
    assert all(np.diff(scores) > 0), scores


@pytest.mark.parametrize("metric", [niqe, brisque, piqe], ids=["niqe", "brisque", "piqe"])
def test_more_noise_is_never_better(image, metric):
    scores = [metric(_noise(image, s)) for s in (0, 5, 10, 20)]
    assert all(np.diff(scores) > 0), scores


def test_ladder_values_are_in_expected_bands(image):
    # Coarse sanity: a clean textured image is "good", heavy blur is "bad".
    assert 4.0 < niqe(image) < 9.0 and niqe(_blur(image, 3)) > 10.0
    assert 10.0 < brisque(image) < 35.0 and brisque(_blur(image, 3)) > 65.0
    assert 30.0 < piqe(image) < 60.0 and piqe(_blur(image, 3)) > 90.0


# --- determinism -------------------------------------------------------------

@pytest.mark.parametrize("metric", [niqe, brisque, piqe], ids=["niqe", "brisque", "piqe"])
def test_repeatable_and_order_independent(image, metric):
    other = _noise(natural_image(5), 10)
    a1 = metric(image)
    b1 = metric(other)
    b2 = metric(other)
    a2 = metric(image)
    assert a1 == a2 and b1 == b2  # bit-identical, whatever ran in between
    assert metric(image.copy(order="F")) == a1  # memory layout does not matter
    assert image.flags.writeable and np.array_equal(image, natural_image(0))  # input untouched


# --- input handling and edge cases ------------------------------------------

@pytest.mark.parametrize("metric", [niqe, brisque, piqe], ids=["niqe", "brisque", "piqe"])
def test_gray_input_equals_gray_rgb(image, metric):
    gray = matlab.rgb2gray(image)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    assert metric(gray) == metric(rgb) == metric(gray[:, :, None])


@pytest.mark.parametrize("metric", [niqe, brisque, piqe], ids=["niqe", "brisque", "piqe"])
def test_invalid_input_raises_value_error(metric):
    with pytest.raises(ValueError, match="uint8"):
        metric(np.zeros((128, 128), dtype=np.float32))
    with pytest.raises(ValueError, match="channels"):
        metric(np.zeros((128, 128, 4), dtype=np.uint8))
    with pytest.raises(ValueError, match="empty"):
        metric(np.zeros((0, 128), dtype=np.uint8))


def test_niqe_needs_one_block(image):
    with pytest.raises(ValueError, match="at least 96x96"):
        niqe(image[:95, :200])
    assert math.isfinite(niqe(image[:96, :96]))  # one block: nancov of one row is 0


@pytest.mark.parametrize("value", [0, 128, 255])
def test_niqe_and_brisque_refuse_constant_images(value):
    flat = np.full((128, 160, 3), value, dtype=np.uint8)
    with pytest.raises(ValueError, match="constant"):
        niqe(flat)
    with pytest.raises(ValueError, match="constant"):
        brisque(flat)


def test_brisque_needs_16_pixels(image):
    with pytest.raises(ValueError, match="at least 16x16"):
        brisque(image[:15, :64])
    assert math.isfinite(brisque(image[:16, :16]))


@pytest.mark.parametrize("value", [0, 77, 255])
def test_piqe_of_uniform_image_is_100(value):
    assert piqe(np.full((64, 48), value, dtype=np.uint8)) == 100.0


def test_piqe_pads_small_and_odd_sizes(image):
    for h, w in [(5, 7), (17, 33), (100, 90)]:
        s = piqe(image[:h, :w])
        assert 0.0 <= s <= 100.0
    score, active, impaired, noisy = piqe_maps(image[:100, :90])
    assert active.shape == impaired.shape == noisy.shape == (7, 6)
    assert not np.any(impaired & ~active) and not np.any(noisy & ~active)


@pytest.mark.parametrize("metric", [niqe, brisque, piqe], ids=["niqe", "brisque", "piqe"])
def test_letterboxed_frame_scores_finite(image, metric):
    # Black bars make whole blocks flat; their undefined fits are dropped
    # (NIQE's nancov) and the score stays finite.
    boxed = image.copy()
    boxed[:96] = 0
    boxed[-48:] = 0
    assert math.isfinite(metric(boxed))


def test_brisque_features_shape(image):
    f = brisque_features(image)
    assert f.shape == (36,) and np.all(np.isfinite(f))
    # Shapes on the grid, variances positive.
    assert np.all((f[[0, 2, 6, 10, 14, 18, 20, 24, 28, 32]] >= 0.2))
    assert np.all(f[[1, 19]] > 0)


@pytest.mark.parametrize("shift", [(0, 1), (1, 0), (1, 1), (1, -1), (-1, 1), (0, 0), (5, -7)])
def test_circshift_product_equals_roll(shift):
    a = np.random.default_rng(2).normal(size=(3, 12, 10))
    want = a * np.roll(a, shift, axis=(-2, -1))
    np.testing.assert_array_equal(matlab.circshift_product(a, shift), want)
    np.testing.assert_array_equal(matlab.circshift_product(a[0], shift), want[0])

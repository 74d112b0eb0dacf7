"""HOSA, QAC, BMPRI and BPRI against LOVE's MATLAB code run in GNU Octave.

The reference numbers below were produced by
``benchmarks/parity/octave_nriqa/run.py`` (LOVE commit 919fe92, Octave 7.3.0
on Debian's reference BLAS, image package 2.14.0, Debian libsvm-tools,
OpenJPEG 2.5 tools) on the five calibration images; the tests need no
Octave. The images are read from ``../shared/reference/iqa-calibration/``
and those tests skip without it.

Everything must agree: HOSA and QAC to 1e-9; all 20 BMPRI features and
BPRI's three exactly (the noise pseudo-references use Octave's own ``randn``
stream, ``noise="octave"``, and PSS Octave's ``bwmorph`` shrink,
``shrink="octave"``); the SVM / mapping stages exactly when fed Octave's
features, hence the scores.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from videojury.errors import MetricError
from videojury.metrics import load_metric
from videojury.metrics.classical.bmpri import (
    bmpri, bmpri_features, bmpri_score, lbp41_count, svm_scale, load_svm,
)
from videojury.metrics.classical.bpri import (
    _matlab_length, _regional_max, _shrink, _shrink_octave, bpri, bpri_features, bpri_score, corners,
)
from videojury.metrics.classical.hosa import hosa
from videojury.metrics.classical.pooling import love_matlab_pool
from videojury.metrics.classical.qac import qac
from videojury.video import FramePolicy, sample, write_video

CALIBRATION = Path(__file__).resolve().parents[2] / "shared" / "reference" / "iqa-calibration"

OCTAVE = {
    "I03": {"hosa": 93.17276798236836, "qac": 0.4484365548286851, "bmpri": 72.47991118411926,
            "bpri": 0.12229012038438408},
    "I04": {"hosa": 12.026923881809893, "qac": 0.8018626748933825, "bmpri": -0.4551667155507175,
            "bpri": -0.008793872414243507},
    "I06": {"hosa": 11.828652214018035, "qac": 0.7218389426050411, "bmpri": 8.445510340273188,
            "bpri": -0.009304698377593616},
    "I08": {"hosa": 13.53133299944595, "qac": 0.7033928325670311, "bmpri": 7.477756867298069,
            "bpri": -0.006714906071888921},
    "I19": {"hosa": 68.32993223902903, "qac": 0.48893947206498145, "bmpri": 80.89930397813765,
            "bpri": 0.19970690628462953},
}
OCTAVE_BMPRI_FEATURES = {
    "I03": [0.0, 0.0, 0.0, 0.0, 0.05555555555555555, 0.90449493533748, 0.9031484894683748,
            0.9016490479840331, 0.9001843800505338, 0.8986816925366787, 0.9941797540208136,
            0.9472655814679158, 0.9314164259306381, 0.9311836649151959, 0.9311885745937408,
            0.019585760517799353, 0.019522804655438035, 0.019544901498873904,
            0.019350908572465457, 0.01922677737415672],
    "I04": [0.12903225806451613, 0.12903225806451613, 0.09848484848484848, 0.08176100628930817,
            0.09021113243761997, 0.6018275341216814, 0.600151395244813, 0.5992762148513557,
            0.5984277466205509, 0.5993481961223897, 0.8259363037215359, 0.6412101808006888,
            0.6251543694051521, 0.6214501349149101, 0.6202843741230238, 0.24551100047969093,
            0.244028187989015, 0.24329228775113415, 0.2422218475624781, 0.24116478121387658],
    "I06": [0.19540229885057472, 0.19540229885057472, 0.1537190082644628, 0.1663353214049039,
            0.18264659270998415, 0.5758684112986132, 0.5733389513237965, 0.5716910132694107,
            0.5717536594366313, 0.5708901981935237, 0.8382777810920682, 0.6354603484362081,
            0.6116812008683475, 0.6051233410645346, 0.6024551814279561, 0.2941100020794344,
            0.2909815839372451, 0.28802025842477763, 0.28622449642203146, 0.28478354162060937],
    "I08": [0.2155425219941349, 0.21502209131075112, 0.15151515151515152, 0.16879432624113475,
            0.17488471089038665, 0.5805794959162198, 0.5796394459324257, 0.5791587610575857,
            0.5779183721058672, 0.5772083943387019, 0.8281394781760546, 0.6407921293398687,
            0.6221354039263923, 0.6173013239237432, 0.6148760909951277, 0.29763035642250185,
            0.29403346256928004, 0.2912147153193645, 0.289817978666736, 0.2884940338471937],
    "I19": [0.6367432150313153, 0.63125, 0.9914529914529915, 0.6684491978609626,
            0.9759862778730704, 0.417954503712644, 0.41899954709847653, 0.41876336503025613,
            0.41897450490887217, 0.4183206402979092, 0.773273370432682, 0.7307109483520646,
            0.7224658996932805, 0.7197877528807208, 0.7187591577008414, 0.035339957140074034,
            0.034698432471711824, 0.034030835573913155, 0.03356463433650397,
            0.03330733229329173],
}
OCTAVE_BPRI_FEATURES = {  # LSSs, LSSn, PSS
    "I03": [0.8842168109514265, 0.01900877424877576, 0.08505747126436781],
    "I04": [0.5413825252282416, 0.17894425748143347, 0.05239179954441914],
    "I06": [0.49971727364803986, 0.20663728769344003, 0.072992700729927],
    "I08": [0.521183470242482, 0.20832829967753627, 0.07340241796200346],
    "I19": [0.6696362286562731, 0.03257086026852312, 0.6409335727109515],
}


def _images() -> dict[str, np.ndarray]:
    if not CALIBRATION.is_dir():
        pytest.skip(f"calibration images not found at {CALIBRATION}")
    from PIL import Image

    return {name: np.asarray(Image.open(CALIBRATION / f"{name}.bmp").convert("RGB"))
            for name in OCTAVE}


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    return _images()


@pytest.fixture(scope="module")
def ours(images) -> dict[str, dict[str, float]]:
    return {name: {"hosa": hosa(im), "qac": qac(im), "bmpri_f": bmpri_features(im),
                   "bpri_f": bpri_features(im)} for name, im in images.items()}


@pytest.mark.parametrize("metric", ["hosa", "qac"])
def test_hosa_and_qac_equal_octave(ours, metric):
    for name, ref in OCTAVE.items():
        assert ours[name][metric] == pytest.approx(ref[metric], rel=1e-9, abs=1e-12), name


def test_bmpri_features_equal_octave(ours):
    # JPEG (1-5), JPEG 2000 (6-10), blur (11-15) and noise (16-20) pseudo-references.
    for name, ref in OCTAVE_BMPRI_FEATURES.items():
        np.testing.assert_allclose(ours[name]["bmpri_f"], ref, rtol=0, atol=1e-15, err_msg=name)


def test_bpri_features_equal_octave(ours):
    for name, ref in OCTAVE_BPRI_FEATURES.items():
        np.testing.assert_allclose(ours[name]["bpri_f"], ref, rtol=0, atol=1e-15, err_msg=name)


def test_scoring_stage_reproduces_octave_from_its_features():
    # No image needed: libsvm scaling/prediction and BPRI's mapping, exactly.
    for name, ref in OCTAVE.items():
        assert bmpri_score(OCTAVE_BMPRI_FEATURES[name]) == pytest.approx(ref["bmpri"], abs=1e-9)
        assert bpri_score(OCTAVE_BPRI_FEATURES[name]) == pytest.approx(ref["bpri"], abs=1e-12)


def test_bmpri_and_bpri_scores_equal_octave(ours):
    for name in OCTAVE:
        m, b = bmpri_score(ours[name]["bmpri_f"]), bpri_score(ours[name]["bpri_f"])
        assert m == pytest.approx(OCTAVE[name]["bmpri"], abs=1e-9), name
        assert b == pytest.approx(OCTAVE[name]["bpri"], abs=1e-12), name


def test_other_noise_stream_and_shrink_move_only_their_features(images):
    im = images["I04"]
    f, g = bmpri_features(im), bpri_features(im)
    f_pcg = bmpri_features(im, noise="pcg64")
    assert np.array_equal(f_pcg[:15], f[:15]) and not np.array_equal(f_pcg[15:], f[15:])
    # numpy's PCG64 draw moves the noise features by the draw's spread only.
    np.testing.assert_allclose(f_pcg[15:], f[15:], atol=0.004)
    g_sub = bpri_features(im, shrink="subfield")
    assert g_sub[:2].tolist() == g[:2].tolist() and g_sub[2] != g[2]
    assert abs(g_sub[2] - g[2]) < 0.003
    with pytest.raises(ValueError, match="noise stream"):
        bmpri_features(im, noise="matlab")
    with pytest.raises(ValueError, match="shrink"):
        bpri_features(im, shrink="matlab")


def test_image_functions_equal_features_then_score(images):
    im = images["I19"]
    assert bmpri(im) == bmpri_score(bmpri_features(im))
    assert bpri(im) == bpri_score(bpri_features(im))
    assert bmpri(im, seed=1) != bmpri(im)  # the seed moves only the noise features


# --- building blocks, no images -------------------------------------------------

def test_lbp_count_and_svm_scale_rounding():
    g = np.array([[5, 9, 5], [1, 5, 5], [5, 2, 5]], dtype=np.uint8)
    assert lbp41_count(g).tolist() == [[2]]  # E (5>=5) and N (9>=5); W 1 and S 2 are lower
    model = load_svm("bmpri")
    x = model["feature_min"] + 0.123456789 * (model["feature_max"] - model["feature_min"])
    scaled = svm_scale(x, model)
    # %f then %g: six significant digits, like svm-scale's text output.
    assert all(len(f"{v:g}".lstrip("-").replace(".", "").lstrip("0")) <= 6 for v in scaled)
    assert svm_scale(model["feature_min"], model)[0] == -1.0


def test_octave_shrink_lookup_tables():
    # Octave's own bwmorph test: true(11) shrinks to the single pixel (6, 6).
    out = _shrink_octave(np.ones((11, 11), bool))
    assert out.sum() == 1 and out[5, 5]
    blob = np.zeros((9, 9), bool)
    blob[2:6, 3:7] = True
    lone = blob.copy()
    lone[8, 0] = True  # an isolated pixel stays
    out = _shrink_octave(lone)
    assert out[8, 0] and out.sum() == 2 and lone[out].all()
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[3, 3] = False  # a hole: Euler number kept, never shrinks to a point
    assert _shrink_octave(ring).sum() >= 4


def test_fast_paths_equal_their_plain_forms():
    from videojury.metrics.classical.bmpri import imfilter_uint8
    from videojury.metrics.classical.bpri import (
        _KEEP_LUT, _MARK_LUT, _apply_lut, _box3_uint8,
    )

    rng = np.random.default_rng(5)
    for _ in range(10):
        g = rng.integers(0, 256, (37, 53), dtype=np.uint8)
        assert np.array_equal(_box3_uint8(g), imfilter_uint8(g, np.full((3, 3), 1.0 / 9.0)))
        bw = rng.random((30, 41)) < rng.uniform(0.05, 0.8)
        full = bw.copy()
        while True:  # Octave's loop over the whole image
            nxt = full & _apply_lut(_apply_lut(full, _MARK_LUT), _KEEP_LUT)
            if np.array_equal(nxt, full):
                break
            full = nxt
        assert np.array_equal(_shrink_octave(bw), full)


def test_corner_window_sums_are_conv2s_nine_products_in_its_order():
    # imfilter(v, w, 'replicate', 'full', 'conv') written out: kernel columns outer,
    # rows inner, each product w[i, j] * x rounded, added from zero. The fast form
    # shares the products of equal weights and works in row strips; it must give
    # the same bits, flat regions (equal neighbours) and strip edges included.
    from videojury.metrics.classical.bpri import _W, _smooth_full

    rng = np.random.default_rng(11)
    for shape in [(3, 3), (4, 900), (300, 517), (1100, 29)]:
        v = rng.random(shape) ** 3
        v[: shape[0] // 2] = 0.25
        pad = np.pad(v, 2, mode="edge")
        h, w = shape[0] + 2, shape[1] + 2
        want = np.zeros((h, w))
        for j in range(3):
            for i in range(3):
                want = want + _W[i, j] * pad[2 - i:2 - i + h, 2 - j:2 - j + w]
        assert np.array_equal(_smooth_full(v), want), shape
    # the corner metric, strip by strip, equals its formula on whole smoothed images
    from videojury.metrics.classical.bpri import min_eigen_metric

    for shape in [(3, 3), (130, 700), (700, 40)]:
        g = rng.integers(0, 256, shape, dtype=np.uint8)
        g[: shape[0] // 3] = 77
        img = g.astype(np.float64) / 255.0
        gx, gy = img[1:-1, :-2] - img[1:-1, 2:], img[:-2, 1:-1] - img[2:, 1:-1]
        a, b, c = _smooth_full(gx * gx), _smooth_full(gy * gy), _smooth_full(gx * gy)
        plain = ((a + b) - np.sqrt((a - b) ** 2 + 4.0 * c * c)) / 2.0
        assert np.array_equal(min_eigen_metric(g), plain), shape


def test_uint8_cast_rounds_half_away_from_zero_and_saturates():
    # MATLAB's uint8(x): round half away from zero, saturate at 0 and 255; checked on
    # the 40 doubles either side of every k + 0.5 and every k, and random values.
    from videojury.metrics.classical.bmpri import _to_uint8

    vals = []
    for k in range(-2, 258):
        for centre in (k + 0.5, float(k)):
            up = dn = centre
            for _ in range(40):
                up, dn = np.nextafter(up, np.inf), np.nextafter(dn, -np.inf)
                vals += [up, dn]
            vals.append(centre)
    x = np.concatenate([vals, np.random.default_rng(2).uniform(-10, 265, 100_000)])
    f = np.floor(x)
    want = np.clip(np.where(x - f >= 0.5, f + 1, f), 0, 255).astype(np.uint8)
    assert np.array_equal(_to_uint8(x.copy()), want)


def test_noise_pseudo_reference_is_imnoise_written_out():
    # imnoise(uint8, 'gaussian', 0, v) after rng(seed): uint8((im2double + sqrt(v) z) * 255),
    # MATLAB's rounding (half away from zero, saturating); computed in row strips, it
    # must give the same bytes over many strips, gray and RGB.
    from videojury.metrics.classical.bmpri import gaussian_noise, noise_draw

    rng = np.random.default_rng(3)
    for shape in [(200, 700, 3), (90, 2100), (2, 2)]:
        img = rng.integers(0, 256, shape, dtype=np.uint8)
        z = noise_draw(shape)
        for v in (0.3, 0.7):
            x = (img.astype(np.float64) / 255.0 + np.sqrt(v) * z) * 255.0
            want = np.where(x < 0.5, 0, np.minimum(np.floor(x + 0.5), 255)).astype(np.uint8)
            assert np.array_equal(gaussian_noise(img, v), want), (shape, v)


def test_regional_maxima_with_plateaux_equal_the_plain_definition():
    # imregionalmax(m, 8) written plainly: 8-connected components of pixels no lower
    # than any neighbour, kept when no pixel next to the component has their value;
    # on quantised values, so plateaux (and plateaux that leak) are common. The
    # shrink given the plateau maxima equals the shrink that labels the whole image.
    from scipy.ndimage import binary_dilation, label, maximum_filter

    rng = np.random.default_rng(7)
    eight = np.ones((3, 3), dtype=bool)
    for t in range(60):
        h, w = rng.integers(3, 40, 2)
        m = rng.integers(0, rng.integers(2, 8), (h, w)).astype(np.float64) * 0.5
        floor = float(rng.choice([-np.inf, 0.5, 1.0]))
        cand = (m >= maximum_filter(m, size=3, mode="constant", cval=-np.inf)) & (m >= floor)
        lab, n = label(cand, structure=eight)
        want = np.zeros_like(cand)
        for k in range(1, n + 1):
            comp = lab == k
            rim = binary_dilation(comp, structure=eight) & ~comp
            if not (m[rim] == m[comp][0]).any():
                want |= comp
        got, plateaux = _regional_max(m, floor, plateaux=True)
        assert np.array_equal(got, want), t
        assert np.array_equal(_shrink_octave(got, plateaux), _shrink_octave(got)), t


def test_matlab_length_and_shrink_and_regional_max():
    assert [_matlab_length(n) for n in (0, 1, 2, 5)] == [0, 2, 2, 5]
    blob = np.zeros((9, 9), bool)
    blob[2:6, 3:7] = True
    out = _shrink(blob)
    assert out.sum() == 1 and blob[out].all()
    line = np.zeros((5, 12), bool)
    line[2, 1:11] = True
    assert _shrink(line).sum() == 1
    ring = np.zeros((7, 7), bool)
    ring[1:6, 1:6] = True
    ring[3, 3] = False  # a hole: shrinks to a ring, never to nothing
    assert _shrink(ring).sum() >= 4
    m = np.zeros((6, 6))
    m[2, 2:4] = 5.0  # a 2-pixel plateau is one regional maximum
    m[4, 4] = 3.0
    m[4, 5] = 4.0  # 3 is not a maximum: its neighbour 4 is higher
    rm = _regional_max(m)
    assert rm[2, 2] and rm[2, 3] and rm[4, 5] and not rm[4, 4]


def test_corners_on_a_checkerboard_fall_on_block_corners():
    board = ((np.arange(64)[:, None] // 8 + np.arange(64)[None, :] // 8) % 2 * 200 + 20
             ).astype(np.uint8)
    pts = corners(board)
    assert len(pts) > 0
    assert np.all(np.isin(pts % 8, [0, 1])), pts[:5]


def test_too_small_and_wrong_inputs_raise_value_error():
    tiny = np.zeros((8, 8, 3), np.uint8)
    for fn in (hosa, qac):
        with pytest.raises(ValueError, match="too small"):
            fn(tiny)
    for fn in (bmpri, bpri):
        with pytest.raises(ValueError, match="too small"):
            fn(np.zeros((2, 40), np.uint8))
        with pytest.raises(ValueError, match="uint8"):
            fn(np.zeros((16, 16), np.float32))
    # Small and flat frames still score (JPEG 2000 with fewer wavelet levels
    # under 32 pixels a side); nothing returns NaN.
    rng = np.random.default_rng(1)
    for im in (rng.integers(0, 256, (16, 20, 3), dtype=np.uint8), np.zeros((40, 48), np.uint8)):
        for fn in (hosa, qac, bmpri, bpri):
            assert np.isfinite(fn(im)), fn.__name__


# --- LOVE's videobench.m pooling --------------------------------------------------

def test_love_matlab_pool_formula():
    s = np.arange(1.0, 9.0)  # sum 36
    assert love_matlab_pool(s, 8) == pytest.approx(36 / 8)
    assert love_matlab_pool(s, 14) == pytest.approx(36 / 8)
    assert love_matlab_pool(s, 15) == pytest.approx(36 / 15)
    assert love_matlab_pool(s, 121) == pytest.approx(36 / 120)  # floor(120/7)=17 -> 1+119
    with pytest.raises(MetricError, match="at least 8 frames"):
        love_matlab_pool(s, 7)


def test_registered_metrics_and_love_matlab_pooling(tmp_path):
    rng = np.random.default_rng(3)
    base = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    clip = np.stack([np.roll(base, 3 * i, axis=1) // (1 + i % 3) for i in range(20)])
    path = tmp_path / "clip.mp4"
    write_video(path, clip, fps=8)
    for name, better in (("hosa", False), ("qac", True), ("bmpri", False), ("bpri", False)):
        cls = load_metric(name)
        assert cls.fields[0].higher_is_better is better
    m = load_metric("qac", pool="love_matlab")
    policy = m.frame_policy()
    assert policy.mode == "all" and policy.min_frames == 8 and policy.stream
    frames = sample(str(path), policy)
    first = [qac(f) for f in sample(str(path), FramePolicy.all()).array[:8]]
    got = m.check_scores(m.score(frames, None))["qac"]
    assert got == pytest.approx(sum(first) / (1 + 7 * ((20 - 1) // 7)), rel=1e-12)
    mean = load_metric("qac", frames=8)
    assert mean.options["pool"] == "mean"
    with pytest.raises(MetricError, match="love_matlab"):
        load_metric("qac", pool="love")


def test_metric_options_reach_the_image_function():
    rng = np.random.default_rng(4)
    im = rng.integers(0, 256, (40, 48, 3), dtype=np.uint8)
    m = load_metric("bmpri", noise="pcg64")
    assert m.image_function()(im) == bmpri(im, noise="pcg64") != bmpri(im)
    b = load_metric("bpri", shrink="subfield", noise="pcg64")
    assert b.image_function()(im) == bpri(im, noise="pcg64", shrink="subfield")
    assert load_metric("bpri").image_function()(im) == bpri(im)
    with pytest.raises(MetricError, match="noise"):
        load_metric("bmpri", noise="matlab")
    with pytest.raises(MetricError, match="shrink"):
        load_metric("bpri", shrink="pratt")

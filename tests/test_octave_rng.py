"""Octave's ``rng(s); randn(...)`` stream in numpy (videojury.metrics.classical.octave_rng).

Reference values: GNU Octave 7.3.0, ``load seed.mat seed; rng(seed); x =
randn(200000, 1)`` with the ``seed.mat`` of LOVE's BMPRI/BPRI (MATLAB's
``rng(0, 'twister')`` structure).
"""

from __future__ import annotations

import numpy as np
import pytest

from videojury.metrics.classical.octave_rng import (
    _temper, matlab_twister_state, octave_randn, octave_words,
)

OCTAVE_FIRST = [-1.666894264829624, 0.10771104797625666, -0.30713568234163385,
                -0.4915460587201006, -1.173960147769209, 1.3419026659557283]
OCTAVE_AT = {1000: -0.08517319557835834, 54321: -0.1614619393907957,
             151766: None, 199999: 0.3280487046486482}
OCTAVE_SUM = 269.175748200534
OCTAVE_WEIGHTED_SUM = 38549294.224992156  # sum(x .* (0:199999)')
OCTAVE_MAX_ABS = 4.614149867770618  # at index 151766 (0-based): a tail draw


def test_state_is_matlabs_twister_seed_zero():
    s = matlab_twister_state(0)
    assert s.shape == (625,) and s[0] == 5489 and s[1] == 1301868182 and s[624] == 624
    assert s[623] == 79981964 and not s.flags.writeable


def test_word_stream_reads_the_untwisted_words_first():
    s = matlab_twister_state(0)
    w = octave_words(700)
    # left = 624: Octave returns state[1..623] tempered, then regenerates.
    assert np.array_equal(w[:623], _temper(s[1:624]))
    bg = np.random.MT19937(0)
    bg.state = {"bit_generator": "MT19937", "state": {"key": s[:624].copy(), "pos": 624}}
    assert np.array_equal(w[623:], bg.random_raw(77).astype(np.uint32))
    # left = 1 is the plain MT19937 stream of init_genrand(5489) (MATLAB's reading
    # of index 624): its first 53-bit uniform is the well-known 0.8147236863931789.
    s1 = s.copy()
    s1[624] = 1
    a, b = (int(v) for v in octave_words(2, s1))
    assert ((a >> 5) * 67108864.0 + (b >> 6)) / 2.0 ** 53 == 0.8147236863931789
    with pytest.raises(ValueError, match="625-word"):
        octave_words(1, np.zeros(10, np.uint32))


def test_randn_equals_octave_draw_for_draw():
    x = octave_randn(200000)
    assert x[:6].tolist() == OCTAVE_FIRST
    for i, v in OCTAVE_AT.items():
        if v is not None:
            assert x[i] == v
    assert float(np.abs(x).max()) == OCTAVE_MAX_ABS and int(np.argmax(np.abs(x))) == 151766
    assert float(x.sum()) == pytest.approx(OCTAVE_SUM, rel=0, abs=1e-9)
    assert float((x * np.arange(x.size)).sum()) == pytest.approx(OCTAVE_WEIGHTED_SUM, rel=1e-14)


def test_arrays_fill_column_major_and_prefixes_agree():
    y = octave_randn((3, 4, 2))
    assert y.shape == (3, 4, 2)
    assert y.ravel(order="F")[:6].tolist() == OCTAVE_FIRST
    assert np.array_equal(octave_randn(1000), octave_randn(5000)[:1000])
    assert octave_randn(0).shape == (0,)


def test_vectorised_walk_equals_the_stepwise_walk():
    from videojury.metrics.classical.octave_rng import _randn_stepwise

    for seed in (0, 7):
        s = matlab_twister_state(seed)
        assert np.array_equal(octave_randn(30000, s), _randn_stepwise(30000, s)), seed

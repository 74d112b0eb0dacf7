"""GNU Octave's ``randn`` stream after ``rng(s)``, in numpy.

LOVE's BMPRI and BPRI build their noise pseudo-references with
``rng(seed); imnoise(img, 'gaussian', 0, v)``, where ``seed`` (the
releases' ``seed.mat``) is MATLAB's ``rng`` structure for ``rng(0,
'twister')``: type ``'twister'``, seed 0 and the 625-word Mersenne Twister
state, i.e. MT19937's ``init_genrand(5489)`` array followed by the index
624. This module reproduces what Octave 7 (``rng.m``, ``liboctave``'s
``oct-rand.cc`` and ``randmtzig.cc``) draws from that structure, so the
ports can be compared with LOVE's code run in Octave draw for draw:

* ``rng(s)`` passes ``s.State`` to ``randn("state", ...)``. A 625-word
  vector whose last word is in 1..624 is taken as a saved state: the 624
  words are copied and the last word is Octave's ``left`` counter, so the
  next word read is ``state[625 - left]``. With ``left = 624`` (MATLAB's
  index), Octave first returns the *untwisted* words 1..623, tempered, and
  only then regenerates the array and continues as MT19937 does (MATLAB,
  which reads 624 as "regenerate now", starts at the regenerated array).
* ``randn`` is Marsaglia and Tsang's ziggurat with 256 levels on 54-bit
  integers: two 32-bit words ``lo``, ``hi`` give ``r = (hi & 0x3fffff) << 32 |
  lo``; bit 0 of ``r`` is the sign, ``rabs = r >> 1`` (53 bits), its low 8
  bits the level. ``x = ±rabs * w[level]`` is returned when ``rabs <
  k[level]`` (about 99 % of draws); otherwise the wedge test reads one
  53-bit uniform (two more words: ``(a >> 5) * 2**26 + (b >> 6)``, over
  ``2**53``) and the base strip uses Marsaglia's tail method.
* Arrays are filled in column-major order.

The common path is vectorised; the rare wedge and tail cases run in a short
Python loop, with ``math.exp``/``math.log`` (the C library's, as in Octave).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np

__all__ = ["matlab_twister_state", "octave_words", "octave_randn"]

_MT_N = 624
_NOR_R = 3.6541528853610088
_NOR_INV_R = 0.27366123732975828
_NOR_AREA = 0.00492867323399
_MANT = 9007199254740992.0  # 2 ** 53


@lru_cache(maxsize=4)
def matlab_twister_state(seed: int = 0) -> np.ndarray:
    """MATLAB's ``rng(seed, 'twister')`` state (625 uint32: MT array, index 624).

    MATLAB maps seed 0 to MT19937's default 5489; other seeds are used as is.
    """
    s = 5489 if seed == 0 else int(seed)
    out = np.empty(_MT_N + 1, dtype=np.uint32)
    v = s & 0xFFFFFFFF
    out[0] = v
    for j in range(1, _MT_N):
        v = (1812433253 * (v ^ (v >> 30)) + j) & 0xFFFFFFFF
        out[j] = v
    out[_MT_N] = _MT_N
    out.setflags(write=False)
    return out


def _temper(y: np.ndarray) -> np.ndarray:
    y = y.astype(np.uint32)
    y ^= y >> np.uint32(11)
    y ^= (y << np.uint32(7)) & np.uint32(0x9D2C5680)
    y ^= (y << np.uint32(15)) & np.uint32(0xEFC60000)
    return y ^ (y >> np.uint32(18))


class _Words:
    """Octave's 32-bit word stream from a saved 625-word state, in growing blocks."""

    def __init__(self, state: np.ndarray):
        st = np.asarray(state, dtype=np.uint32)
        if st.shape != (_MT_N + 1,) or not 0 < int(st[_MT_N]) <= _MT_N:
            raise ValueError("expected a 625-word saved twister state with left in 1..624")
        left = int(st[_MT_N])
        key = st[:_MT_N].copy()
        # words still to be read from the current array: state[625-left .. 623]
        self.buf = _temper(key[_MT_N + 1 - left:])
        self._bg = np.random.MT19937(0)
        self._bg.state = {"bit_generator": "MT19937", "state": {"key": key, "pos": _MT_N}}

    def ensure(self, n: int) -> np.ndarray:
        if self.buf.size < n:
            more = self._bg.random_raw(n - self.buf.size).astype(np.uint32)
            self.buf = np.concatenate([self.buf, more])
        return self.buf


def octave_words(n: int, state: np.ndarray | None = None) -> np.ndarray:
    """The first ``n`` 32-bit words Octave's generator returns after ``rand("state", state)``."""
    return _Words(matlab_twister_state(0) if state is None else state).ensure(n)[:n].copy()


@lru_cache(maxsize=1)
def _tables() -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    ki = [0] * 256
    wi = [0.0] * 256
    fi = [0.0] * 256
    x1 = _NOR_R
    wi[255] = x1 / _MANT
    fi[255] = math.exp(-0.5 * x1 * x1)
    ki[0] = int(x1 * fi[255] / _NOR_AREA * _MANT)
    wi[0] = _NOR_AREA / fi[255] / _MANT
    fi[0] = 1.0
    for i in range(254, 0, -1):
        x = math.sqrt(-2.0 * math.log(_NOR_AREA / x1 + fi[i + 1]))
        ki[i + 1] = int(x / x1 * _MANT)
        wi[i] = x / _MANT
        fi[i] = math.exp(-0.5 * x * x)
        x1 = x
    ki[1] = 0
    return np.array(ki, dtype=np.int64), np.array(wi), np.array(fi)


def _u53(a: int, b: int) -> float | None:
    a >>= 5
    b >>= 6
    if a == 0 and b == 0:
        return None
    return (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)


def octave_randn(shape: int | tuple[int, ...], state: np.ndarray | None = None) -> np.ndarray:
    """``rng(s); randn(shape)`` as Octave computes it (float64, column-major fill).

    ``state`` is the 625-word ``s.State``; by default MATLAB's ``rng(0,
    'twister')`` state, which is what LOVE's ``seed.mat`` holds.
    """
    shape = (int(shape),) if np.isscalar(shape) else tuple(int(s) for s in shape)
    n = int(np.prod(shape, dtype=np.int64))
    st = matlab_twister_state(0) if state is None else state
    pairs = n + n // 16 + 64
    while True:
        words = _Words(st)
        out = _randn_pairs(words.ensure(2 * pairs)[:2 * pairs], n)
        if out is not None:
            return out.reshape(shape, order="F")
        if pairs > 4 * n + 4096:
            break  # a rejected all-zero uniform (about 2**-53 per uniform): stepwise path
        pairs *= 2
    return _randn_stepwise(n, st).reshape(shape, order="F")


def _randn_pairs(buf: np.ndarray, n: int) -> np.ndarray | None:
    """The first ``n`` normals from an even-length word buffer, or None when the
    buffer is too short (or a uniform's two words were both rejected as zero).

    Every word pair is a candidate draw; the fast ones are accepted at once.
    A slow draw's wedge test reads the next pair as its uniform, so that pair
    is no draw; only these few positions are walked in Python.
    """
    ki, wi, fi = _tables()
    w0 = buf[0::2].astype(np.int64)
    w1 = buf[1::2].astype(np.int64)
    r = ((w1 & 0x3FFFFF) << 32) | w0
    rabs = r >> 1
    idx = rabs & 0xFF
    val = np.where((r & 1) == 1, -rabs, rabs).astype(np.float64) * wi[idx]
    slow = np.flatnonzero(rabs >= ki[idx])
    emit = np.ones(val.size, dtype=bool)
    emit[slow] = False
    npairs = val.size
    # Wedge tests of every slow pair with the following pair as uniform.
    nxt = np.minimum(slow + 1, npairs - 1)
    a, b = w0[nxt] >> 5, w1[nxt] >> 6
    u = (a * 67108864.0 + b) * (1.0 / 9007199254740992.0)
    lvl = idx[slow]
    lhs = (fi[np.maximum(lvl - 1, 0)] - fi[lvl]) * u + fi[lvl]
    xs = val[slow]
    zero_u = (a == 0) & (b == 0)
    free = 0  # first pair not yet read
    for j, s in enumerate(slow.tolist()):
        if s < free:
            continue  # read as an earlier draw's uniform
        if s + 1 >= npairs:
            emit[s:] = False
            break
        if lvl[j] == 0:  # the base strip: Marsaglia's tail method
            value, used = _slow(buf, 2 * s, int(rabs[s]), 0, float(xs[j]), fi)
            if used is None or used % 2:
                return None
            m = used // 2
            val[s] = value
            emit[s] = True
            emit[s + 1:s + m] = False
            free = s + m
            continue
        if zero_u[j]:
            return None
        if float(lhs[j]) < math.exp(-0.5 * float(xs[j]) * float(xs[j])):
            emit[s] = True
        emit[s + 1] = False
        free = s + 2
    out = val[emit]
    if out.size < n:
        return None
    return out[:n].copy()


def _randn_stepwise(n: int, state: np.ndarray) -> np.ndarray:
    """The same stream, walked draw by draw at the slow positions (any word parity)."""
    words = _Words(state)
    ki, wi, fi = _tables()
    out = np.empty(n, dtype=np.float64)
    filled = 0
    pos = 0  # next word to read
    while filled < n:
        need = 2 * (n - filled)
        buf = words.ensure(pos + need + need // 50 + 64)
        seg = buf[pos:pos + 2 * ((buf.size - pos) // 2)]
        lo = seg[0::2].astype(np.int64)
        hi = seg[1::2].astype(np.int64) & 0x3FFFFF
        r = (hi << 32) | lo
        rabs = r >> 1
        idx = rabs & 0xFF
        x = np.where((r & 1) == 1, -rabs, rabs).astype(np.float64) * wi[idx]
        slow = np.flatnonzero(rabs >= ki[idx])
        k = 0  # next pair of seg to read
        restart = False
        for s in slow.tolist():
            if s < k:
                continue  # already read as a uniform by an earlier slow draw
            take = min(s - k, n - filled)
            out[filled:filled + take] = x[k:k + take]
            filled += take
            k += take
            if filled == n:
                break
            value, used = _slow(seg, 2 * s, int(rabs[s]), int(idx[s]), float(x[s]), fi)
            if used is None:
                break  # the buffer ended inside this draw: resume at it with more words
            if value is not None:
                out[filled] = value
                filled += 1
            end = 2 * s + used
            if end % 2:  # a rejected all-zero uniform shifted the word parity
                pos += end
                restart = True
                break
            k = end // 2
        else:
            take = min(x.size - k, n - filled)
            out[filled:filled + take] = x[k:k + take]
            filled += take
            k += take
        if not restart:
            pos += 2 * k
    return out


def _slow(seg: np.ndarray, w: int, rabs: int, idx: int, x: float,
          fi: np.ndarray) -> tuple[float | None, int | None]:
    """One wedge or tail step starting at word ``w`` (the draw's ``lo``).

    Returns (value or None when rejected, words used) or (None, None) when
    the buffer ends first.
    """
    p = w + 2
    size = seg.size

    def u53() -> float | None:
        nonlocal p
        while True:
            if p + 2 > size:
                return None
            u = _u53(int(seg[p]), int(seg[p + 1]))
            p += 2
            if u is not None:
                return u

    if idx == 0:
        while True:
            u1 = u53()
            if u1 is None:
                return None, None
            u2 = u53()
            if u2 is None:
                return None, None
            xx = -_NOR_INV_R * math.log(u1)
            yy = -math.log(u2)
            if not yy + yy <= xx * xx:
                break
        return ((-_NOR_R - xx) if (rabs & 0x100) else (_NOR_R + xx)), p - w
    u = u53()
    if u is None:
        return None, None
    if (float(fi[idx - 1]) - float(fi[idx])) * u + float(fi[idx]) < math.exp(-0.5 * x * x):
        return x, p - w
    return None, p - w

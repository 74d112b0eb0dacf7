"""BPRI: a numpy port of the BPRI code LOVE ships (``NRIQA/BPRI``).

BPRI (Min, Gu, Zhai, Liu, Yang & Chen, "Blind Quality Assessment Based on
Pseudo Reference Image", IEEE Trans. Multimedia 2018) builds one
pseudo-reference image (PRI) per distortion type and scores how similar the
image is to it:

* ``LSSs`` (sharpness): PRI = 3x3 box blur; Jaccard-like overlap of the
  LBP edge maps (codes 2-3): ``|A & B| / (|A | B| + 1)``;
* ``LSSn`` (noise): PRI = Gaussian noise of variance 0.5; overlap of the
  LBP "bright/isolated" maps (codes 0-1);
* ``PSS`` (blockiness): PRI = JPEG at quality 0; share of the PRI's
  minimum-eigenvalue corners lying on 8x8 block corners that the image also
  has there: ``|corners(I) & corners(PRI)| / (|corners(PRI)| + 1)`` (with
  MATLAB's ``length`` of an n x 2 array, which is 2 when n is 1).

Each is mapped by its released logistic-plus-linear curve and the three are
mixed by the probabilities of a 3-class libsvm C-SVC (RBF) on the raw
features scaled to [0, 1] (``BPRIp``, the release's default output). Lower is
better (DMOS-like).

Against LOVE's code in GNU Octave the three features agree exactly on the
calibration images with the defaults: Octave's noise stream (see
:mod:`.bmpri`) and Octave's ``bwmorph(..., 'shrink', Inf)`` (Pratt's lookup
tables, ``shrink="octave"``) inside MATLAB's ``corner``, which we
re-implement from its documented algorithm (:func:`corners`);
``shrink="subfield"`` is a simple-pixel sub-field shrink instead.
"""

from __future__ import annotations

from functools import partial

import numpy as np
from scipy.ndimage import label, maximum_filter

from . import matlab
from ._jit import kernel
from .bmpri import (
    NOISE_STREAMS, _gray, _printf, gaussian_noise, jpeg_roundtrip, lbp41_count, load_svm,
    rbf_kernel, svm_scale,
)

__all__ = ["bpri", "bpri_features", "bpri_score", "corners", "svc_probabilities"]

NOISE_VARIANCE = 0.5
_FILTER = matlab.gaussian_kernel_1d(3, 0.5)
_EIGHT = np.ones((3, 3), dtype=bool)


def _overlap(a: np.ndarray, b: np.ndarray) -> float:
    return float(np.count_nonzero(a & b)) / (float(np.count_nonzero(a | b)) + 1.0)


_W = np.outer(_FILTER, _FILTER)


# The window is symmetric: its nine weights take three values (corners, edges,
# centre), so each pixel's product with a weight is computed once and shared
# by the outputs that use it -- the same products, hence the same sums.
_W_KIND = np.array([[0, 1, 0], [1, 2, 1], [0, 1, 0]])
assert all(_W[i, j] == _W[_W_KIND == _W_KIND[i, j]][0] for i in range(3) for j in range(3))
_W_VALUES = (_W[0, 0], _W[0, 1], _W[1, 1])


def _strip_rows(w: int) -> int:
    return max(8, (1 << 19) // (8 * w))  # strips of about 512 KiB stay in cache


def _smooth_strip(p: np.ndarray, r0: int, r1: int, prod: np.ndarray, o: np.ndarray) -> None:
    """Rows ``r0:r1`` of the full 3x3 convolution of the 2-padded ``p`` into ``o``:
    the nine products added in Octave's ``conv2`` order (kernel columns outer,
    rows inner, from zero); ``prod`` is scratch of at least (3, r1-r0+2, width)."""
    w = p.shape[1] - 2
    src = p[r0:r1 + 2, :]  # the padded rows these outputs read
    for k, wk in enumerate(_W_VALUES):
        np.multiply(src, wk, out=prod[k, :r1 - r0 + 2])
    first = True
    for j in range(3):
        for i in range(3):
            t = prod[_W_KIND[i, j], 2 - i:2 - i + r1 - r0, 2 - j:2 - j + w]
            if first:
                o[...] = t  # 0 + w*x is w*x
                first = False
            else:
                o += t


def _smooth_full(v: np.ndarray) -> np.ndarray:
    """``imfilter(v, w, 'replicate', 'full', 'conv')`` for the 3x3 window ``w``:
    the input padded by 2 (replicate), the valid part of the convolution.

    The nine products are summed in the order of Octave's ``conv2`` (kernel
    columns outer, rows inner, from zero, each sum rounded), so the metric is
    bit for bit that of the Octave reference on a non-FMA BLAS; on flat
    regions the regional maxima depend on such last-bit differences.
    """
    p = np.pad(v, 2, mode="edge")
    h, w = v.shape[0] + 2, v.shape[1] + 2
    out = np.empty((h, w))
    rows = _strip_rows(w)
    prod = np.empty((3, rows + 2, w + 2))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        _smooth_strip(p, r0, r1, prod, out[r0:r1])
    return out


def _eigen_loop(gray, wc, we, wm, rows, out):  # pragma: no cover - compiled by numba
    """:func:`min_eigen_numpy` row by row: the same operations in the same order.

    ``rows`` is (3, 3, W + 2) scratch: for each gradient product the last three
    rows of its replicate-padded image (padded row ``y`` in slot ``y % 3``);
    ``wc``, ``we``, ``wm`` are the window's corner, edge and centre weights."""
    h, w = gray.shape
    sums = np.empty((3, w))
    for y in range(h + 2):
        # padded row y repeats product row py; the product at (py, px) reads
        # the image at rows py..py+2, columns px..px+2, each divided by 255
        py = min(max(y - 2, 0), h - 3)
        g0, g1, g2 = gray[py], gray[py + 1], gray[py + 2]
        xx, yy, xy = rows[0, y % 3], rows[1, y % 3], rows[2, y % 3]
        for px in range(w - 2):
            gx = g1[px] / 255.0 - g1[px + 2] / 255.0
            gy = g0[px + 1] / 255.0 - g2[px + 1] / 255.0
            xx[px + 2] = gx * gx
            yy[px + 2] = gy * gy
            xy[px + 2] = gx * gy
        for q in (xx, yy, xy):
            q[0] = q[1] = q[2]
            q[w + 1] = q[w] = q[w - 1]
        if y < 2:
            continue
        r = y - 2  # output row r reads padded rows r, r + 1, r + 2
        for k in range(3):
            # conv2's order: kernel columns j outer, rows i inner; term (i, j) is
            # w[i, j] * p[r + 2 - i, c + 2 - j]
            p0, p1, p2, s = rows[k, r % 3], rows[k, (r + 1) % 3], rows[k, (r + 2) % 3], sums[k]
            for c in range(w):
                v = wc * p2[c + 2]
                v += we * p1[c + 2]
                v += wc * p0[c + 2]
                v += we * p2[c + 1]
                v += wm * p1[c + 1]
                v += we * p0[c + 1]
                v += wc * p2[c]
                v += we * p1[c]
                v += wc * p0[c]
                s[c] = v
        o, a, b, cc = out[r], sums[0], sums[1], sums[2]
        for c in range(w):
            d = a[c] - b[c]
            t = d * d + (4.0 * cc[c]) * cc[c]
            o[c] = ((a[c] + b[c]) - np.sqrt(t)) / 2.0


_EIGEN_KERNEL = kernel(_eigen_loop)


def min_eigen_metric(gray: np.ndarray) -> np.ndarray:
    """MATLAB ``cornermetric(I, 'MinimumEigenvalue', 'FilterCoefficients', g3)``:
    ``((a + b) - sqrt((a - b)^2 + 4 c^2)) / 2`` of the smoothed gradient products
    (compiled when numba is installed, else :func:`min_eigen_numpy`; the same bits)."""
    if not _EIGEN_KERNEL.ok():
        return min_eigen_numpy(gray)
    h, w = gray.shape
    out = np.empty((h, w))
    _EIGEN_KERNEL(gray, *_W_VALUES, np.empty((3, 3, w + 2)), out)
    return out


def min_eigen_numpy(gray: np.ndarray) -> np.ndarray:
    """:func:`min_eigen_metric` in numpy, row strip by row strip (each strip's sums
    and formula stay in cache; the same operations in the same order as on whole
    images)."""
    img = gray.astype(np.float64) / 255.0
    gx = img[1:-1, :-2] - img[1:-1, 2:]
    gy = img[:-2, 1:-1] - img[2:, 1:-1]
    h, w = gx.shape[0] + 2, gx.shape[1] + 2
    pads = []
    for x, y in ((gx, gx), (gy, gy), (gx, gy)):
        pad = np.empty((h + 2, w + 2))  # the product, replicate-padded by 2
        np.multiply(x, y, out=pad[2:-2, 2:-2])
        pad[:2, 2:-2] = pad[2, 2:-2]
        pad[-2:, 2:-2] = pad[-3, 2:-2]
        pad[:, :2] = pad[:, 2:3]
        pad[:, -2:] = pad[:, -3:-2]
        pads.append(pad)
    out = np.empty((h, w))
    rows = _strip_rows(w)
    prod = np.empty((3, rows + 2, w + 2))
    a, b, c, t = (np.empty((rows, w)) for _ in range(4))
    for r0 in range(0, h, rows):
        r1 = min(h, r0 + rows)
        n = r1 - r0
        sa, sb, sc, st = a[:n], b[:n], c[:n], t[:n]
        for pad, o in zip(pads, (sa, sb, sc)):
            _smooth_strip(pad, r0, r1, prod, o)
        o = out[r0:r1]
        np.add(sa, sb, out=o)                 # a + b
        np.subtract(sa, sb, out=st)
        np.square(st, out=st)                 # (a - b) ** 2
        np.multiply(4.0, sc, out=sa)
        sa *= sc                              # 4.0 * c * c
        st += sa
        np.sqrt(st, out=st)
        o -= st
        o /= 2.0
    return out


_RING8 = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], dtype=np.uint8)


def _regional_max(m: np.ndarray, floor: float = -np.inf, *, plateaux: bool = False):
    """``imregionalmax(m, 8)``: 8-connected plateaux with only lower neighbours.

    Only pixels ``>= floor`` are returned (the others are dropped right after
    by ``corner``); a plateau is all one value, so this is the same result,
    found faster. A pixel above all eight neighbours is a maximum on its own
    (none of its neighbours can be one); only pixels with an equal neighbour
    and none higher need the plateau test. ``plateaux=True`` also returns the
    coordinates ``(ys, xs)`` of the maxima found on plateaux: every pixel of an
    object larger than one pixel is among them.
    """
    import cv2

    # Largest of the 8 neighbours (OpenCV's dilation ignores the outside, as
    # cval=-inf would).
    ring = cv2.dilate(m, _RING8) if m.dtype == np.float64 else \
        maximum_filter(m, footprint=_RING8.astype(bool), mode="constant", cval=-np.inf)
    above = m >= floor
    out = (m > ring) & above
    flat = (m == ring) & above
    ys, xs = np.nonzero(flat)
    if ys.size:
        lab, n = label(flat, structure=_EIGHT)
        # A plateau fails when an equal neighbour is not on it (such a neighbour
        # has a higher one); only the plateau pixels' neighbours are looked at.
        vals = m[ys, xs]
        pad_m = np.pad(m, 1, constant_values=np.nan)
        pad_c = np.pad(flat, 1, constant_values=True)
        bad = np.zeros(n + 1, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy == 0 and dx == 0:
                    continue
                qy, qx = ys + 1 + dy, xs + 1 + dx
                leak = ~pad_c[qy, qx] & (pad_m[qy, qx] == vals)
                bad[lab[ys[leak], xs[leak]]] = True
        bad[0] = True
        keep = ~bad[lab[ys, xs]]
        ys, xs = ys[keep], xs[keep]
        out[ys, xs] = True
    return (out, (ys, xs)) if plateaux else out


# Neighbours in the order E, NE, N, NW, W, SW, S, SE (Yokoi's x1..x8).
_RING = ((0, 1), (-1, 1), (-1, 0), (-1, -1), (0, -1), (1, -1), (1, 0), (1, 1))


def _deletable_table() -> np.ndarray:
    """For each 8-bit neighbourhood code (bit k = ring neighbour k set), whether a
    set centre pixel may go: Yokoi's 8-connectivity number is 1 (deleting it
    changes no connectivity) and it is not isolated."""
    table = np.zeros(256, dtype=bool)
    for code in range(1, 256):
        x = [1 - ((code >> k) & 1) for k in range(8)]
        n = sum(x[k] - x[k] * x[(k + 1) % 8] * x[(k + 2) % 8] for k in (0, 2, 4, 6))
        table[code] = n == 1
    return table


_DELETABLE = _deletable_table()


def _shrink(bw: np.ndarray) -> np.ndarray:
    """``bwmorph(bw, 'shrink', Inf)``: delete simple, non-isolated pixels in four
    parity sub-fields (odd/odd, even/even, odd/even, even/odd rows/columns,
    1-based) until nothing changes; objects without holes end as one pixel.
    Pixels of one sub-field are never neighbours, so each sub-field is done
    at once; only pixels of objects larger than one pixel are visited."""
    lab, n = label(bw, structure=_EIGHT)
    if n == 0:
        return bw.copy()
    sizes = np.bincount(lab.ravel())
    big = sizes > 1
    big[0] = False
    ys, xs = np.nonzero(big[lab])
    if ys.size == 0:
        return bw.copy()
    pad = np.pad(bw, 1)
    py, px = ys + 1, xs + 1
    fields = [np.flatnonzero((ys % 2 == pr) & (xs % 2 == pc))
              for pr, pc in ((0, 0), (1, 1), (0, 1), (1, 0))]
    changed = True
    while changed:
        changed = False
        for idx in fields:
            cy, cx = py[idx], px[idx]
            on = pad[cy, cx]
            if not on.any():
                continue
            code = np.zeros(idx.size, dtype=np.int64)
            for k, (dy, dx) in enumerate(_RING):
                code |= pad[cy + dy, cx + dx].astype(np.int64) << k
            drop = on & _DELETABLE[code]
            if drop.any():
                pad[cy[drop], cx[drop]] = False
                changed = True
    return pad[1:-1, 1:-1].copy()


# Octave image package's ``bwmorph(bw, 'shrink')`` step: Pratt's conditional
# ("S") mark patterns, then his unconditional patterns on the mark map (the
# second table also keeps every unmarked pixel). Both are 512-entry lookup
# tables over a 3x3 neighbourhood, entry ``sum(bit * weight) + 1`` with the
# weights of Octave's ``applylut`` (row-major: 256 32 4 / 128 16 2 / 64 8 1);
# stored here as the 512 bits, first entry first.
_PRATT_SHRINK_MARK = (
    "00007bd300009b01000080d1000000010000800000000800000080d100000800"
    "000080000000bb0100000000000000010000800000008b00000080d100008bcc")
_PRATT_SHRINK_KEEP = (
    "ffff2882ffff1032ffff070dffff7f75ffff053fffff7fcdffff0d2dffff75d5"
    "ffff957fffff652fffff7f7fffff7f7fffff452fffffffffffff7f7fffffffff")
_LUT_WEIGHTS = ((256, 32, 4), (128, 16, 2), (64, 8, 1))


def _lut(hex_bits: str) -> np.ndarray:
    return np.unpackbits(np.frombuffer(bytes.fromhex(hex_bits), dtype=np.uint8)).astype(bool)


_MARK_LUT, _KEEP_LUT = _lut(_PRATT_SHRINK_MARK), _lut(_PRATT_SHRINK_KEEP)


def _apply_lut(bw: np.ndarray, lut: np.ndarray) -> np.ndarray:
    """Octave's ``applylut(bw, lut)`` for a 3x3 LUT (zero padding outside)."""
    h, w = bw.shape
    pad = np.pad(bw, 1).astype(np.int16)
    code = np.zeros((h, w), dtype=np.int16)
    for dy in range(3):
        for dx in range(3):
            code += pad[dy:dy + h, dx:dx + w] * np.int16(_LUT_WEIGHTS[dy][dx])
    return lut[code]


def _shrink_octave(bw: np.ndarray, among: tuple[np.ndarray, np.ndarray] | None = None
                   ) -> np.ndarray:
    """Octave's ``bwmorph(bw, 'shrink', Inf)``: ``bw & keep(mark(bw))`` until
    nothing changes.

    Evaluated only at the pixels of objects larger than one pixel: the mark
    table never marks an unset or an isolated pixel, and the keep table keeps
    every unmarked one, so nothing else can change (and a pixel's neighbours
    are in its own object or unset). Equal to applying :func:`_apply_lut` to
    the whole image, which ``check_shrink.py`` compares with Octave.
    ``among``: coordinates known to hold every pixel of the objects larger than
    one pixel (the plateau maxima of :func:`_regional_max`), which spares
    labelling the whole image.
    """
    out = bw.copy()
    h, w = bw.shape
    if among is None:
        lab, n = label(bw, structure=_EIGHT)
        if n == 0:
            return out
        sizes = np.bincount(lab.ravel())
        big = sizes > 1
        big[0] = False
        ys, xs = np.nonzero(big[lab])
    else:
        # the pixels of objects larger than one pixel: those with a set neighbour
        ys, xs = among
        pad = np.pad(bw, 1)
        alone = np.ones(ys.size, dtype=bool)
        for dy in (-1, 0, 1):
            for dx in (-1, 0, 1):
                if dy or dx:
                    alone &= ~pad[ys + 1 + dy, xs + 1 + dx]
        ys, xs = ys[~alone], xs[~alone]
    if ys.size == 0:
        return out
    cur = np.zeros((h + 2, w + 2), dtype=bool)
    py, px = ys + 1, xs + 1
    cur[py, px] = True
    marks = np.zeros_like(cur)
    offsets = [(dy, dx, np.int16(_LUT_WEIGHTS[dy + 1][dx + 1]))
               for dy in (-1, 0, 1) for dx in (-1, 0, 1)]

    def codes(a: np.ndarray) -> np.ndarray:
        c = np.zeros(py.size, dtype=np.int16)
        for dy, dx, wgt in offsets:
            c += a[py + dy, px + dx] * wgt
        return c

    while True:
        marks[py, px] = _MARK_LUT[codes(cur)]
        on = cur[py, px]
        nxt = on & _KEEP_LUT[codes(marks)]
        if np.array_equal(nxt, on):
            break
        cur[py, px] = nxt
    out[ys, xs] = cur[py, px]
    return out


SHRINKS = ("octave", "subfield")


def corners(gray: np.ndarray, quality: float = 0.001, shrink: str = "octave") -> np.ndarray:
    """MATLAB ``corner(I, 'MinimumEigenvalue', N, 'FilterCoefficients',
    fspecial('gaussian', [3 1], 0.5), 'QualityLevel', quality)`` for large N:
    1-based ``[x, y]`` rows of the shrunk regional maxima above ``quality * max``.

    ``shrink`` is the ``bwmorph(..., 'shrink', Inf)`` used: ``"octave"``
    (Octave image package's, Pratt's lookup tables) or ``"subfield"``
    (simple-pixel deletion in four parity sub-fields)."""
    if shrink not in SHRINKS:
        raise ValueError(f"unknown shrink {shrink!r}: use one of {', '.join(SHRINKS)}")
    m = min_eigen_metric(gray)
    top = float(m.max())
    if not top > 0:
        return np.zeros((0, 2), dtype=np.int64)
    bw, plateaux = _regional_max(m, quality * top, plateaux=True)
    bw = _shrink_octave(bw, plateaux) if shrink == "octave" else _shrink(bw)
    bw[[0, -1], :] = False
    bw[:, [0, -1]] = False
    ys, xs = np.nonzero(bw)
    return np.stack([xs + 1, ys + 1], axis=1)


def _on_block_corner(pts: np.ndarray) -> np.ndarray:
    x, y = pts[:, 0] % 8, pts[:, 1] % 8
    keep = ((x == 1) | (x == 0)) & ((y == 1) | (y == 0))
    return pts[keep]


def _matlab_length(rows: int) -> int:
    return 0 if rows == 0 else max(rows, 2)


def pss(gray: np.ndarray, shrink: str = "octave") -> float:
    pts = _on_block_corner(corners(gray, shrink=shrink))
    pri = _on_block_corner(corners(jpeg_roundtrip(gray, 0), shrink=shrink))
    # intersect(pp, ppPRI, 'rows'): the distinct points in both, by a 1-D key.
    span = int(max(pts[:, 1].max(initial=0), pri[:, 1].max(initial=0))) + 1
    common = np.intersect1d(pts[:, 0] * span + pts[:, 1], pri[:, 0] * span + pri[:, 1]).size
    return _matlab_length(common) / (_matlab_length(len(pri)) + 1.0)


def _box3_uint8(gray: np.ndarray) -> np.ndarray:
    """``imfilter(uint8, ones(3) / 9)`` (zero padding, rounded to uint8).

    OpenCV's filter sums in another order than :func:`imfilter_uint8`, but a
    sum of nine integers over 9 lies at least 1/18 from any rounding
    boundary, far beyond their last-bit differences, so the bytes are equal.
    """
    import cv2

    out = cv2.filter2D(gray.astype(np.float64), cv2.CV_64F, np.full((3, 3), 1.0 / 9.0),
                       borderType=cv2.BORDER_CONSTANT)
    return np.floor(out + 0.5).astype(np.uint8)


def bpri_features(image: np.ndarray, seed: int = 0, noise: str = "octave",
                  shrink: str = "octave") -> np.ndarray:
    """``[LSSs, LSSn, PSS]`` of a uint8 RGB or gray image."""
    img = matlab.as_uint8_image(image)
    gray = _gray(img)
    if min(gray.shape) < 3:
        raise ValueError(f"image {gray.shape[0]}x{gray.shape[1]} is too small for BPRI "
                         "(needs at least 3x3 pixels)")
    count = lbp41_count(gray)
    box = lbp41_count(_box3_uint8(gray))
    edge = (count == 2) | (count == 3)
    lss_s = _overlap(edge, (box == 2) | (box == 3))
    noisy = lbp41_count(_gray(gaussian_noise(img, NOISE_VARIANCE, seed, noise=noise)))
    lss_n = _overlap(noisy <= 1, count <= 1)
    return np.array([lss_s, lss_n, pss(gray, shrink)])


def _sigmoid(dec: float, a: float, b: float) -> float:
    f = dec * a + b
    return float(np.exp(-f) / (1.0 + np.exp(-f))) if f >= 0 else float(1.0 / (1.0 + np.exp(f)))


def _couple(r: np.ndarray) -> np.ndarray:
    """libsvm's ``multiclass_probability`` (Wu, Lin & Weng's second method)."""
    k = r.shape[0]
    q = np.zeros((k, k))
    for t in range(k):
        for j in range(k):
            if j != t:
                q[t, t] += r[j, t] * r[j, t]
                q[t, j] = -r[j, t] * r[t, j]
    p = np.full(k, 1.0 / k)
    eps = 0.005 / k
    for _ in range(max(100, k)):
        qp = q @ p
        pqp = float(p @ qp)
        if np.max(np.abs(qp - pqp)) < eps:
            break
        for t in range(k):
            diff = (-qp[t] + pqp) / q[t, t]
            p[t] += diff
            pqp = (pqp + diff * (diff * q[t, t] + 2 * qp[t])) / (1 + diff) / (1 + diff)
            qp = (qp + diff * q[t]) / (1 + diff)
            p /= 1 + diff
    return p


def svc_probabilities(x: np.ndarray, model: dict[str, np.ndarray]) -> tuple[int, np.ndarray]:
    """libsvm ``svm-predict -b 1`` for a C-SVC: (label, probabilities in label order),
    both rounded like svm-predict's ``%g`` output."""
    kv = rbf_kernel(x, model)
    nr = int(model["nr_class"])
    nsv = model["nr_sv"].astype(int)
    start = np.concatenate([[0], np.cumsum(nsv)[:-1]])
    coef = model["sv_coef"]
    pair = np.zeros((nr, nr))
    p = 0
    for i in range(nr):
        for j in range(i + 1, nr):
            si, sj = slice(start[i], start[i] + nsv[i]), slice(start[j], start[j] + nsv[j])
            dec = coef[j - 1, si] @ kv[si] + coef[i, sj] @ kv[sj] - model["rho"][p]
            prob = _sigmoid(float(dec), float(model["probA"][p]), float(model["probB"][p]))
            pair[i, j] = min(max(prob, 1e-7), 1 - 1e-7)
            pair[j, i] = 1 - pair[i, j]
            p += 1
    probs = _couple(pair)
    lab = int(model["label"][int(np.argmax(probs))])
    return lab, _printf(probs, "g")


def _align(beta: np.ndarray, x: float) -> float:
    return float(beta[0] * (0.5 - 1.0 / (1.0 + np.exp(beta[1] * (x - beta[2]))))
                 + beta[3] * x + beta[4])


def bpri(image: np.ndarray, seed: int = 0, noise: str = "octave", shrink: str = "octave") -> float:
    """BPRI (probability-weighted, the release's ``BPRIp``) of a uint8 image; lower is better.

    Raises ``ValueError`` for invalid input or an image smaller than 3x3.
    """
    return bpri_score(bpri_features(image, seed, noise, shrink))


def bpri_score(feats: np.ndarray) -> float:
    """``BPRI.m`` from ``[LSSs, LSSn, PSS]``: mapped scores mixed by the classifier's probabilities."""
    model = load_svm("bpri")
    feats = np.asarray(feats, dtype=np.float64)
    mapped = np.array([_align(model["paraLSSs"], feats[0]), _align(model["paraLSSn"], feats[1]),
                       _align(model["paraPSS"], feats[2])])
    _, probs = svc_probabilities(svm_scale(feats, model), model)
    return float(np.sum(mapped * probs))


# --- registered video metric --------------------------------------------------

from ..base import ScoreField, register_metric  # noqa: E402
from .pooling import FrameIQAMetric  # noqa: E402


@register_metric
class BPRI(FrameIQAMetric):
    """BPRI of uniformly sampled frames, pooled (lower is better)."""

    name = "bpri"
    version = "2"
    fields = (ScoreField("bpri", None, None, False,
                         "pseudo-reference similarity for blur, noise and blockiness, mixed by "
                         "the released distortion classifier's probabilities; lower is better"),)
    description = "BPRI (LOVE NRIQA MATLAB code port) per frame, pooled over sampled frames."
    reference = "Min et al., IEEE Trans. Multimedia 2018; IntMeGroup/LOVE NRIQA/BPRI"
    image_score = staticmethod(bpri)
    default_options = {**FrameIQAMetric.default_options, "noise": "octave", "shrink": "octave"}
    option_choices = {"noise": NOISE_STREAMS, "shrink": SHRINKS}

    def image_function(self):
        return partial(bpri, noise=self.options["noise"], shrink=self.options["shrink"])

"""Compare videojury's HOSA, QAC, BMPRI and BPRI with the Octave run of LOVE's code.

Usage: ``python benchmarks/parity/octave_nriqa/compare.py OCTAVE.csv`` (the CSV
``run.py`` writes). Prints, per metric and image, Octave's score, ours (the
defaults: Octave's noise stream and shrink) and the relative difference; the
scoring stage fed Octave's features; what the other options do (numpy's
PCG64 noise draw, seeds 0-4; the sub-field shrink); and the largest feature
differences by group, as Markdown tables. Run ``run.py`` on the reference
BLAS (its default) for last-bit agreement of BPRI's corner metric.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from videojury.metrics.classical.bmpri import bmpri, bmpri_features, bmpri_score
from videojury.metrics.classical.bpri import bpri, bpri_features, bpri_score
from videojury.metrics.classical.hosa import hosa
from videojury.metrics.classical.qac import qac

PORTS = {"hosa": hosa, "qac": qac, "bmpri": bmpri, "bpri": bpri}
GROUPS = {"jpeg": range(0, 5), "jp2k": range(5, 10), "blur": range(10, 15), "noise": range(15, 20)}


def rel(a: float, b: float) -> float:
    return abs(a - b) / max(abs(a), 1e-12)


def main(path: Path) -> None:
    rows = list(csv.DictReader(path.open()))
    images = {Path(r["path"]).stem: np.asarray(Image.open(r["path"]).convert("RGB")) for r in rows}
    print("| metric | image | Octave | videojury | rel. diff |")
    print("|---|---|---:|---:|---:|")
    for name, fn in PORTS.items():
        for r in rows:
            stem = Path(r["path"]).stem
            ours = fn(images[stem])
            ref = float(r[name])
            print(f"| {name} | {stem} | {ref:.6g} | {ours:.6g} | {100 * rel(ref, ours):.3f}% |")
    print()
    print("Scoring stage alone (our SVM/mapping on Octave's features):")
    print("| image | BMPRI Octave | ours from Octave's features | BPRI Octave | ours from Octave's features |")
    print("|---|---:|---:|---:|---:|")
    for r in rows:
        f_oct = [float(r[f"bmpri_f{i}"]) for i in range(1, 21)]
        g_oct = [float(r[k]) for k in ("lss_s", "lss_n", "pss")]
        print(f"| {Path(r['path']).stem} | {float(r['bmpri']):.9g} | {bmpri_score(f_oct):.9g} "
              f"| {float(r['bpri']):.9g} | {bpri_score(g_oct):.9g} |")
    print()
    print("Other options: numpy's PCG64 noise draw (seeds 0-4), BPRI's sub-field shrink")
    print("| image | BMPRI pcg64 sd | BMPRI |Octave - pcg64 seed 0| | BPRI pcg64 sd "
          "| BPRI |Octave - pcg64 seed 0| | BPRI shrink=subfield |")
    print("|---|---:|---:|---:|---:|---:|")
    for r in rows:
        stem = Path(r["path"]).stem
        m = [bmpri(images[stem], seed=s, noise="pcg64") for s in range(5)]
        b = [bpri(images[stem], seed=s, noise="pcg64") for s in range(5)]
        sub = bpri(images[stem], shrink="subfield")
        print(f"| {stem} | {np.std(m, ddof=1):.3g} | {abs(float(r['bmpri']) - m[0]):.3g} "
              f"| {np.std(b, ddof=1):.3g} | {abs(float(r['bpri']) - b[0]):.3g} | {sub:.6g} |")
    print()
    print("| image | BMPRI features: max abs diff per group (jpeg, jp2k, blur, noise) "
          "| BPRI LSSs, LSSn, PSS abs diff |")
    print("|---|---|---|")
    for r in rows:
        stem = Path(r["path"]).stem
        f_oct = np.array([float(r[f"bmpri_f{i}"]) for i in range(1, 21)])
        f_our = bmpri_features(images[stem])
        groups = ", ".join(f"{np.max(np.abs(f_oct[list(g)] - f_our[list(g)])):.2g}"
                           for g in GROUPS.values())
        g_oct = np.array([float(r[k]) for k in ("lss_s", "lss_n", "pss")])
        g_our = bpri_features(images[stem])
        print(f"| {stem} | {groups} | "
              + ", ".join(f"{d:.2g}" for d in np.abs(g_oct - g_our)) + " |")


if __name__ == "__main__":
    if len(sys.argv) != 2:
        raise SystemExit(__doc__)
    main(Path(sys.argv[1]))

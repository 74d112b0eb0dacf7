"""Run LOVE's NRIQA MATLAB code (HOSA, QAC, BMPRI, BPRI) in GNU Octave.

Usage::

    python benchmarks/parity/octave_nriqa/run.py LOVE_CHECKOUT OUT.csv IMAGE [IMAGE ...]

``LOVE_CHECKOUT`` is a checkout of https://github.com/IntMeGroup/LOVE
(commit 919fe928478eb91c26a69892db3891ba5c69150d was used). The ``NRIQA``
folder is copied to a temporary folder and patched so it runs on Linux in
Octave; nothing else in LOVE's code is changed:

* ``BMPRI_score.m``, ``classifyType.m``: the Windows path ``'\\SVM'`` becomes
  ``'/SVM'``; the shipped ``svm-*.exe`` are replaced by Debian's
  ``libsvm-tools`` (``svm-scale``, ``svm-predict`` on the PATH).
* HOSA: liblinear's MEX predictor is replaced by ``shims/liblinearpredict.m``
  (the model's dot product plus bias).
* ``LBPjp2k.m``: Octave cannot write JPEG 2000, so the ``imwrite(...,
  'compressionratio', R)`` / ``imread`` pair becomes ``shims/jp2_roundtrip.m``
  (OpenJPEG's ``opj_compress``/``opj_decompress``).
* ``PSS.m`` calls MATLAB's ``corner``, which Octave's image package lacks:
  ``shims/corner.m`` follows MATLAB's documented minimum-eigenvalue algorithm.

Needs: ``apt-get install octave octave-image libsvm-tools libopenjp2-tools``.
Writes one CSV row per image with the four scores and Octave's seconds.

BLAS: Octave's ``conv2`` sums with BLAS ``daxpy``; Debian's OpenBLAS uses
fused multiply-adds there, so the last bit of ``corner``'s metric (and with
it which pixels of a flat plateau are regional maxima, hence BPRI's PSS)
depends on the BLAS and the CPU. When Debian's reference BLAS
(``libblas3``, ``/usr/lib/x86_64-linux-gnu/blas``) is installed it is used
for the run (``LD_LIBRARY_PATH``), which makes the reference reproducible;
``--openblas`` keeps the system's default.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
REFERENCE_BLAS = Path("/usr/lib/x86_64-linux-gnu/blas")

PATCHES = {
    "BMPRI/BMPRI_score.m": [("[SVMpath '\\SVM']", "[SVMpath '/SVM']")],
    "BPRI/classifyType.m": [("[SVMpath '\\SVM']", "[SVMpath '/SVM']")],
    "BMPRI/LBPjp2k.m": [(
        "imwrite(img,tmpName,'compressionratio',R(i));\n    imgPRI = imread(tmpName);\n"
        "    delete(tmpName);",
        "imgPRI = jp2_roundtrip(img, tmpName, R(i));",
    )],
}


def prepare(love: Path, dest: Path) -> Path:
    root = dest / "NRIQA"
    shutil.copytree(love / "NRIQA", root)
    for mex in (root / "HOSA_release_v0").glob("liblinearpredict.mex*"):
        mex.unlink()
    for demo in ("HOSA_release_v0/example.m", "BMPRI/demo.m", "BPRI/demo.m"):
        (root / demo).unlink()  # they shadow Octave functions; not needed
    for rel, subs in PATCHES.items():
        path = root / rel
        text = path.read_text().replace("\r\n", "\n")
        for old, new in subs:
            if old not in text:
                raise SystemExit(f"{rel}: expected text not found, is this LOVE's code? {old!r}")
            text = text.replace(old, new)
        path.write_text(text)
    return root


def run(love: Path, out: Path, images: list[Path], openblas: bool = False) -> None:
    for tool in ("octave-cli", "svm-scale", "svm-predict", "opj_compress", "opj_decompress"):
        if shutil.which(tool) is None:
            raise SystemExit(f"{tool} not found: apt-get install octave octave-image "
                             "libsvm-tools libopenjp2-tools")
    with tempfile.TemporaryDirectory(prefix="love_nriqa_") as tmp:
        root = prepare(love, Path(tmp))
        lst = Path(tmp) / "images.txt"
        lst.write_text("\n".join(str(p.resolve()) for p in images) + "\n")
        env = dict(os.environ)
        if not openblas and (REFERENCE_BLAS / "libblas.so.3").exists():
            env["LD_LIBRARY_PATH"] = f"{REFERENCE_BLAS}:{env.get('LD_LIBRARY_PATH', '')}"
        elif not openblas:
            print("reference BLAS not found (apt-get install libblas3): using the default BLAS",
                  file=sys.stderr)
        subprocess.run(["octave-cli", "--no-gui", "--quiet", str(HERE / "score_images.m"),
                        str(root), str(lst), str(out.resolve())], check=True, cwd=HERE, env=env)


if __name__ == "__main__":
    args = [a for a in sys.argv[1:] if a != "--openblas"]
    if len(args) < 3:
        raise SystemExit(__doc__)
    run(Path(args[0]), Path(args[1]), [Path(p) for p in args[2:]],
        openblas="--openblas" in sys.argv[1:])

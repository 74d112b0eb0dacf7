"""Throughput of the classical IQA metrics (NIQE, BRISQUE, PIQE, HOSA, QAC, BMPRI, BPRI) on one core.

Scores seeded synthetic natural-looking RGB frames at 512x384 and 1280x720
and prints frames per second for each metric, single-threaded (OpenMP,
OpenBLAS and MKL limited to one thread, ``cv2.setNumThreads(1)``). Timing is
the best of ``--repeat`` runs per frame (the median is printed as well):
the best run is the least disturbed by other work on the machine.

Optionally compares with pyiqa, which needs torch and so must live in its
own throw-away virtual environment: pass its interpreter with
``--pyiqa-python /path/to/venv/bin/python``. pyiqa downloads its NIQE and
BRISQUE parameter files at run time; with no network we hand it the same
LIVE parameters from our data folder (as a .mat and a .pth it can load), so
the comparison needs no download. Without the option the comparison is
skipped and the reason printed.

HOSA, QAC, BMPRI and BPRI can be compared with the MATLAB code they port,
run in GNU Octave on the same frames (what a user without MATLAB has): pass
a LOVE checkout with ``--octave-love PATH``; the harness in
``benchmarks/parity/octave_nriqa`` runs it (Octave, octave-image,
libsvm-tools and OpenJPEG's tools must be installed). Octave's time is its
best of ``--octave-repeat`` calls per frame. Two more rows split BMPRI:
``bmpri-jp2``, its five JPEG 2000 round trips alone (OpenJPEG on both
sides), and ``bmpri-rest``, BMPRI without them.

With numba installed (``videojury[fast]``) the metrics run their compiled
kernels; the first line says which. ``VIDEOJURY_JIT=0`` times the numpy
paths instead.

Run: ``python benchmarks/classical.py [--repeat 7] [--pyiqa-python PATH]
[--octave-love PATH] [--only hosa,qac,bmpri,bpri]``.
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import cv2  # noqa: E402
import numpy as np  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

from videojury.metrics.classical import _jit  # noqa: E402
from videojury.metrics.classical.bmpri import JP2_RATIOS, bmpri, jp2_roundtrip  # noqa: E402
from videojury.metrics.classical.bpri import bpri  # noqa: E402
from videojury.metrics.classical.brisque import brisque  # noqa: E402
from videojury.metrics.classical.hosa import hosa  # noqa: E402
from videojury.metrics.classical.niqe import niqe  # noqa: E402
from videojury.metrics.classical.piqe import piqe  # noqa: E402
from videojury.metrics.classical.qac import qac  # noqa: E402

DATA = ROOT / "src" / "videojury" / "metrics" / "classical" / "data"
SIZES = ((512, 384), (1280, 720))
METRICS = {"niqe": niqe, "brisque": brisque, "piqe": piqe, "hosa": hosa, "qac": qac,
           "bmpri": bmpri, "bpri": bpri}
OCTAVE_METRICS = ("hosa", "qac", "bmpri", "bpri")


def natural_frame(seed: int, width: int, height: int) -> np.ndarray:
    """A seeded natural-looking RGB frame: 1/f noise plus hard-edged discs."""
    rng = np.random.default_rng(seed)
    fy = np.fft.fftfreq(height)[:, None]
    fx = np.fft.fftfreq(width)[None, :]
    f = np.hypot(fx, fy)
    f[0, 0] = 1.0
    spec = (rng.normal(size=(height, width)) + 1j * rng.normal(size=(height, width))) / f
    img = np.real(np.fft.ifft2(spec))
    img = (img - img.mean()) / img.std() * 30.0 + 128.0
    yy, xx = np.ogrid[:height, :width]
    for _ in range(12):
        y, x, r = rng.integers(0, height), rng.integers(0, width), rng.integers(8, 60)
        img[(yy - y) ** 2 + (xx - x) ** 2 < r * r] += rng.uniform(-50, 50)
    rgb = np.stack([img, img * 0.9 + 10.0, img * 0.8 + 20.0], axis=-1)
    return np.clip(np.round(rgb), 0, 255).astype(np.uint8)


def time_calls(fn, frame: np.ndarray, repeat: int) -> tuple[float, float]:
    """Best and median seconds of ``fn(frame)`` over ``repeat`` runs (after one warm-up)."""
    fn(frame)
    runs = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn(frame)
        runs.append(time.perf_counter() - t0)
    return min(runs), float(np.median(runs))


_PYIQA_SCRIPT = r"""
import json, sys, time
import numpy as np, scipy.io, torch
torch.set_num_threads(1)
import pyiqa

frames_path, data_dir, work, repeat = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
niqe_p = np.load(f"{data_dir}/niqe_pris_params.npz")
scipy.io.savemat(f"{work}/niqe.mat", {"mu_prisparam": niqe_p["mu_pris_param"][None, :],
                                      "cov_prisparam": niqe_p["cov_pris_param"]})
svr = np.load(f"{data_dir}/brisque_svr.npz")
torch.save((torch.from_numpy(svr["dual_coef"]), torch.from_numpy(svr["support_vectors"])),
           f"{work}/brisque.pth")
metrics = {
    "niqe": pyiqa.create_metric("niqe", device="cpu", pretrained_model_path=f"{work}/niqe.mat"),
    "brisque": pyiqa.create_metric("brisque", device="cpu",
                                   pretrained_model_path=f"{work}/brisque.pth"),
    "piqe": pyiqa.create_metric("piqe", device="cpu"),
}
frames = np.load(frames_path)
out = {}
with torch.no_grad():
    for key in frames.files:
        x = torch.from_numpy(frames[key]).permute(2, 0, 1)[None].double() / 255.0
        for name, m in metrics.items():
            score = float(m(x))
            runs = []
            for _ in range(repeat):
                t0 = time.perf_counter(); m(x); runs.append(time.perf_counter() - t0)
            out[f"{key}/{name}"] = {"best": min(runs), "median": float(np.median(runs)),
                                    "score": score}
print(json.dumps({"pyiqa": pyiqa.__version__, "torch": torch.__version__, "results": out}))
"""


def run_pyiqa(python: str, frames: dict[str, np.ndarray], repeat: int) -> dict:
    """Time pyiqa in another interpreter on the same frames; returns its JSON report."""
    with tempfile.TemporaryDirectory() as work:
        np.savez(f"{work}/frames.npz", **frames)
        env = dict(os.environ)
        proc = subprocess.run(
            [python, "-c", _PYIQA_SCRIPT, f"{work}/frames.npz", str(DATA), work, str(repeat)],
            capture_output=True, text=True, env=env, cwd=work, timeout=1800,
        )
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def run_octave(love: str, frames: dict[str, np.ndarray], repeat: int) -> dict:
    """Octave's best seconds and score per frame and metric (LOVE's MATLAB code)."""
    import csv

    from PIL import Image

    sys.path.insert(0, str(ROOT / "benchmarks" / "parity" / "octave_nriqa"))
    import run as octave_run  # noqa: PLC0415 - the harness, next to this script

    with tempfile.TemporaryDirectory() as work:
        paths = []
        for key, frame in frames.items():
            path = Path(work) / f"{key}.png"
            Image.fromarray(frame).save(path)
            paths += [path] * repeat
        out = Path(work) / "octave.csv"
        octave_run.run(Path(love), out, paths, openblas=True)  # Octave as installed
        rows = list(csv.DictReader(out.open()))
    result: dict[str, dict] = {}
    for row in rows:
        key = Path(row["path"]).stem
        for name in OCTAVE_METRICS:
            r = result.setdefault(f"{key}/{name}", {"best": float("inf"), "score": 0.0})
            r["best"] = min(r["best"], float(row[f"{name}_s"]))
            r["score"] = float(row[name])
        r = result.setdefault(f"{key}/{JP2}", {"best": float("inf"), "score": float("nan")})
        r["best"] = min(r["best"], float(row["bmpri_jp2_s"]))
    return result


# BMPRI's five JPEG 2000 round trips, timed alone on both sides: OpenJPEG does
# them for both (Pillow's in-process library for us, its command-line tools in
# the Octave harness, since Octave cannot write JPEG 2000); and BMPRI less them.
JP2, REST = "bmpri-jp2", "bmpri-rest"


def jp2_five(frame: np.ndarray) -> None:
    for ratio in JP2_RATIOS:
        jp2_roundtrip(frame, ratio)


def time_bmpri_rest(frame: np.ndarray, repeat: int) -> tuple[float, float]:
    """BMPRI's best and median seconds with its JPEG 2000 round trips served from memory."""
    from videojury.metrics.classical import bmpri as module

    done = {ratio: jp2_roundtrip(frame, ratio) for ratio in JP2_RATIOS}
    real = module.jp2_roundtrip
    module.jp2_roundtrip = lambda image, ratio: done[ratio]
    try:
        return time_calls(bmpri, frame, repeat)
    finally:
        module.jp2_roundtrip = real


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--repeat", type=int, default=7, help="timed runs per frame and metric")
    ap.add_argument("--pyiqa-python", default=None,
                    help="python of a throw-away venv with pyiqa (and torch) for the ratio")
    ap.add_argument("--octave-love", default=None,
                    help="a checkout of IntMeGroup/LOVE: time its NRIQA MATLAB code in Octave")
    ap.add_argument("--octave-repeat", type=int, default=3, help="Octave calls per frame")
    ap.add_argument("--only", default=None, help="comma-separated metrics to time (default all)")
    args = ap.parse_args()
    metrics = METRICS
    if args.only:
        unknown = set(args.only.split(",")) - set(METRICS)
        if unknown:
            ap.error(f"unknown metric(s) {', '.join(sorted(unknown))}: use {', '.join(METRICS)}")
        metrics = {k: v for k, v in METRICS.items() if k in args.only.split(",")}
    cv2.setNumThreads(1)

    print(f"# classical IQA, one core: {platform.processor() or platform.machine()}, "
          f"python {platform.python_version()}, numpy {np.__version__}, "
          f"load average {os.getloadavg()[0]:.1f}")
    if _jit.available():
        print(f"# compiled kernels on (numba {_jit._numba.__version__}; VIDEOJURY_JIT=0 for the "
              "numpy paths)")
    else:
        print("# compiled kernels off: the numpy paths (pip install 'videojury[fast]' for numba)")
    frames = {f"{w}x{h}": natural_frame(0, w, h) for w, h in SIZES}
    ours: dict[str, tuple[float, float, float]] = {}
    print(f"{'size':>10} {'metric':>8} {'best ms':>9} {'median ms':>10} {'frames/s':>9} "
          f"{'score':>9}")
    for key, frame in frames.items():
        for name, fn in metrics.items():
            best, median = time_calls(fn, frame, args.repeat)
            score = fn(frame)
            ours[f"{key}/{name}"] = (best, median, score)
            print(f"{key:>10} {name:>8} {best * 1e3:9.1f} {median * 1e3:10.1f} "
                  f"{1.0 / best:9.2f} {score:9.3f}")

    if args.octave_love:
        import shutil

        version = subprocess.run(["octave-cli", "--version"], capture_output=True, text=True
                                 ).stdout.splitlines()[0] if shutil.which("octave-cli") else "?"
        try:
            octave = run_octave(args.octave_love, frames, args.octave_repeat)
        except (Exception, SystemExit) as exc:  # noqa: BLE001 - report why and go on
            print(f"\nOctave comparison skipped: {exc}")
        else:
            load_after = os.getloadavg()[0]
            # Time ours again right after Octave and keep the better of the two
            # runs, so that a change of load during the Octave run favours neither.
            for key in octave:
                size, name = key.split("/")
                if key in ours and name in metrics:
                    best, median = time_calls(metrics[name], frames[size], args.repeat)
                    if best < ours[key][0]:
                        ours[key] = (best, median, ours[key][2])
            nan = float("nan")
            for size, frame in frames.items() if "bmpri" in metrics else ():
                best, median = time_calls(jp2_five, frame, args.repeat)
                ours[f"{size}/{JP2}"] = (best, median, nan)
                best, median = time_bmpri_rest(frame, args.repeat)
                ours[f"{size}/{REST}"] = (best, median, nan)
                # Octave's: its BMPRI less its round trips (best of each)
                octave[f"{size}/{REST}"] = {"score": nan, "best": octave[f"{size}/bmpri"]["best"]
                                            - octave[f"{size}/{JP2}"]["best"]}
            print(f"\n# {version}: LOVE's NRIQA MATLAB code on the same frames, best of "
                  f"{args.octave_repeat}; load average {load_after:.1f} after it, "
                  f"{os.getloadavg()[0]:.1f} after timing ours again (best of both runs)")
            print(f"{'size':>10} {'metric':>11} {'Octave ms':>10} {'ours ms':>8} "
                  f"{'Octave f/s':>11} {'ours f/s':>9} {'speed-up':>9} {'Octave':>9} {'ours':>9}")
            for key, r in octave.items():
                if key not in ours:
                    continue
                size, name = key.split("/")
                best, _, score = ours[key]
                print(f"{size:>10} {name:>11} {r['best'] * 1e3:10.1f} {best * 1e3:8.1f} "
                      f"{1.0 / r['best']:11.2f} {1.0 / best:9.2f} "
                      f"{r['best'] / best:8.1f}x {r['score']:9.4g} {score:9.4g}")
            if "bmpri" in metrics:
                print(f"{JP2}: BMPRI's five JPEG 2000 round trips alone (OpenJPEG on both sides); "
                      f"{REST}: BMPRI without them (ours: the pseudo-references served from "
                      "memory; Octave's: its BMPRI less its round trips)")
    else:
        print("\nOctave comparison skipped: pass --octave-love PATH (a LOVE checkout) to time "
              "its MATLAB HOSA/QAC/BMPRI/BPRI in GNU Octave on the same frames")

    if not args.pyiqa_python:
        print("\npyiqa comparison skipped: pyiqa needs torch, which the project's own "
              "environment does not use; pass --pyiqa-python PATH (a throw-away venv with pyiqa) "
              "to include it")
        return
    try:
        report = run_pyiqa(args.pyiqa_python, frames, args.repeat)
    except Exception as exc:  # noqa: BLE001 - report why and stop
        print(f"\npyiqa comparison skipped: running pyiqa failed ({exc})")
        return
    print(f"\n# pyiqa {report['pyiqa']} (torch {report['torch']}, CPU, 1 thread), same frames")
    print(f"{'size':>10} {'metric':>8} {'pyiqa ms':>9} {'ours ms':>8} {'speed-up':>9} "
          f"{'pyiqa':>9} {'ours':>9}")
    for key, r in report["results"].items():
        size, name = key.split("/")
        best, _, score = ours[key]
        print(f"{size:>10} {name:>8} {r['best'] * 1e3:9.1f} {best * 1e3:8.1f} "
              f"{r['best'] / best:8.2f}x {r['score']:9.3f} {score:9.3f}")


if __name__ == "__main__":
    main()

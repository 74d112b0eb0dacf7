"""Peak memory of the all-frames metrics against clip length.

Run: python benchmarks/memory.py [--size 1280x720] [--frames 120 600]
                                 [--metrics flicker frozen motion_smoothness]

Writes a clip of each length (a continuous pan, H.264), then scores each
metric on each clip in a fresh subprocess and prints that process's peak
resident memory (``ru_maxrss``), with the baseline of a process that only
imports videojury and probes the clip. Streaming metrics hold a few frames,
so the peak should not grow with the number of frames. The peak is the
child's ``VmHWM`` (Linux; ``ru_maxrss`` elsewhere, which after fork+exec
also counts the parent's size at the fork).

``--src DIR`` runs the subprocesses with another checkout's ``src`` first on
the path (to measure an older version).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CHILD = r"""
import json, resource, sys, time
import videojury
from videojury.video import probe
path, metric = sys.argv[1], sys.argv[2]
probe(path, exact=True)
t = time.perf_counter()
if metric != "-":
    df = videojury.score([path], metrics=[metric])
    err = df["error"][0]
    value = {c: float(df[c][0]) for c in df.columns if c not in ("video", "error")}
else:
    err, value = None, {}
try:  # this process's own high-water mark (ru_maxrss would include the forking parent's)
    with open("/proc/self/status") as fh:
        rss = int(fh.read().split("VmHWM:")[1].split()[0]) / 1024
except (OSError, IndexError, ValueError):
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
print(json.dumps({"rss_mb": rss,
                  "seconds": time.perf_counter() - t, "error": err, "value": value}))
"""


def pan(width: int, height: int, n: int):
    import numpy as np

    from videojury.data.synthetic import ClipSpec, make_clip

    base = make_clip(0, ClipSpec(width, height, 1, 30.0))[0]
    for i in range(n):
        yield np.roll(base, 3 * i, axis=1)


def run_child(path: Path, metric: str, src: str | None) -> dict:
    env = dict(os.environ)
    if src:
        env["PYTHONPATH"] = src + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, "-c", CHILD, str(path), metric], env=env,
                         capture_output=True, text=True, check=False)
    if out.returncode != 0:
        return {"rss_mb": float("nan"), "seconds": float("nan"),
                "error": f"exit {out.returncode}: {out.stderr.strip().splitlines()[-1:]}"}
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="1280x720")
    ap.add_argument("--frames", type=int, nargs="+", default=[120, 600])
    ap.add_argument("--metrics", nargs="+", default=["flicker", "frozen", "motion_smoothness"])
    ap.add_argument("--src", default=None, help="a checkout's src folder to import instead")
    args = ap.parse_args()
    from videojury.video import write_video

    w, h = (int(v) for v in args.size.lower().split("x"))
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for n in args.frames:
            path = Path(tmp) / f"pan_{n}.mp4"
            t = time.perf_counter()
            write_video(path, pan(w, h, n), fps=30, crf=23)
            print(f"wrote {n} frames {w}x{h}: {time.perf_counter() - t:.1f} s, "
                  f"{path.stat().st_size / 1e6:.1f} MB", flush=True)
            clips[n] = path
        print(f"\npeak RSS (MB) per subprocess; {args.size}; "
              f"{'src=' + args.src if args.src else 'this checkout'}")
        header = f"{'metric':20s}" + "".join(f"{str(n) + ' frames':>16s}" for n in args.frames)
        print(header)
        for metric in ["-", *args.metrics]:
            cells = []
            for n in args.frames:
                r = run_child(clips[n], metric, args.src)
                cell = f"{r['rss_mb']:.0f} ({r['seconds']:.0f}s)"
                if r.get("error"):
                    cell += " ERR"
                cells.append(f"{cell:>16s}")
            name = "baseline (probe)" if metric == "-" else metric
            print(f"{name:20s}" + "".join(cells), flush=True)


if __name__ == "__main__":
    main()

"""Throughput of the local and Ray backends on the same synthetic videos.

Run: python benchmarks/scale.py [--videos 200] [--workers 1 2] [--repeat 2]
     [--metrics flicker frozen ...] [--data DIR] [--address ADDR]

Writes ``--videos`` synthetic clips (256x192, 24 frames; pristine and degraded
versions, reused from ``--data`` when present), then scores them from scratch
(in-memory store) with the weight-free metrics: once in process (local), then
with the Ray backend for each worker count. Each configuration runs
``--repeat`` times and the fastest is shown. "setup" is Ray's per-run cost of
starting the scoring actors; "steady" is the rate once they are up. Every
backend's results are checked to be identical to the local ones. Ray's own
start-up and the cost of one empty task round trip are printed apart, to
explain the overhead.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import pandas as pd

import videojury
from videojury.api import resolve_metrics
from videojury.data.items import load_items
from videojury.data.synthetic import ClipSpec, make_dataset
from videojury.run.executor import RunStats, get_executor, plan
from videojury.run.store import Store

WEIGHT_FREE = ("flicker", "frozen", "dynamic_degree", "motion_smoothness", "niqe", "brisque",
               "piqe")


def dataset(folder: Path, n: int) -> list[str]:
    """Paths of ``n`` synthetic videos in ``folder`` (written the first time)."""
    manifest = folder / "manifest.csv"
    per_clip = 19  # pristine + 6 degradations x 3 levels
    if not manifest.exists() or len(pd.read_csv(manifest)) < n:
        make_dataset(folder, n_clips=-(-n // per_clip), spec=ClipSpec())
    rows = pd.read_csv(manifest).head(n)
    return [str(folder / v) for v in rows["video"]]


def run_once(paths: list[str], metrics: list[str], backend: str, options: dict
             ) -> tuple[RunStats, float, pd.DataFrame]:
    """Score from scratch; returns the stats, Ray's setup seconds and the results."""
    executor = get_executor(backend, **options)
    with Store(None) as st:
        job = plan(load_items(paths), resolve_metrics(metrics), st)
        stats = executor.run(job, st)
        table = st.to_frame().sort_values(["video_hash", "metric", "field"]).reset_index(
            drop=True)[["video_hash", "metric", "field", "value", "error"]]
    return stats, getattr(executor, "setup_seconds", 0.0), table


def empty_task_ms(ray, n: int = 200) -> float:
    """Milliseconds per empty task round trip (submit, schedule, return, get)."""
    noop = ray.remote(lambda: None).options(num_cpus=1)
    ray.get([noop.remote() for _ in range(8)])  # warm the worker pool
    t = time.perf_counter()
    ray.get([noop.remote() for _ in range(n)])
    return (time.perf_counter() - t) / n * 1000


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--videos", type=int, default=200)
    ap.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--metrics", nargs="+", default=None,
                    help="default: the weight-free metrics that are registered")
    ap.add_argument("--data", type=Path, default=Path(tempfile.gettempdir()) /
                    "videojury-scale-bench")
    ap.add_argument("--address", default=None, help="Ray cluster (default: start a local one)")
    args = ap.parse_args()

    metrics = args.metrics or [m for m in WEIGHT_FREE if m in videojury.list_metrics()]
    paths = dataset(args.data, args.videos)
    print(f"{len(paths)} videos (256x192, 24 frames, H.264) in {args.data}; metrics: "
          f"{', '.join(metrics)}; {os.cpu_count()} CPUs")

    import ray

    t = time.perf_counter()
    if args.address:
        ray.init(address=args.address, logging_level="WARNING")
    else:
        ray.init(include_dashboard=False, logging_level="WARNING")
    ray_start = time.perf_counter() - t
    noop_ms = empty_task_ms(ray)
    print(f"ray {ray.__version__}: ray.init {ray_start:.1f}s (once per process); empty task "
          f"round trip {noop_ms:.2f} ms; cluster {ray.cluster_resources().get('CPU', 0):g} CPUs")

    configs = [("local", 1, {})] + [("ray", w, {"workers": w}) for w in args.workers]
    reference: pd.DataFrame | None = None
    rows = []
    for backend, workers, options in configs:
        best: tuple[RunStats, float] | None = None
        for _ in range(args.repeat):
            stats, setup, table = run_once(paths, metrics, backend, options)
            if reference is None:
                reference = table
            elif not table.equals(reference):
                raise SystemExit(f"{backend} x{workers}: results differ from local")
            if best is None or stats.seconds < best[0].seconds:
                best = (stats, setup)
        stats, setup = best
        if backend == "local":
            per = ", ".join(f"{k} {v / stats.videos * 1000:.0f}" for k, v in
                            sorted(stats.model_seconds.items(), key=lambda kv: -kv[1]))
            decode_ms = stats.decode_seconds / stats.videos * 1000
            print(f"local cost per video, ms: decode {decode_ms:.0f}; {per}")
        steady = stats.videos / (stats.seconds - setup) if stats.seconds > setup else 0.0
        rows.append({
            "backend": backend, "workers": workers, "wall s": stats.seconds, "setup s": setup,
            "videos/s": stats.videos / stats.seconds, "steady videos/s": steady,
            "decode s": stats.decode_seconds, "model s": sum(stats.model_seconds.values()),
            "peak MB": stats.peak_rss_mb,
        })
    ray.shutdown()

    df = pd.DataFrame(rows)
    base = df.loc[0, "videos/s"]
    df["x local"] = df["videos/s"] / base
    print("\nbest of", args.repeat, "runs; decode/model are seconds of work summed over "
          "processes; peak MB is the largest process")
    print(df.to_string(index=False, float_format=lambda v: f"{v:.2f}"))
    one = df[(df.backend == "ray") & (df.workers == 1)]
    two = df[(df.backend == "ray") & (df.workers == 2)]
    if len(one) and len(two):
        print(f"\nray 1 -> 2 workers: x{two['videos/s'].iloc[0] / one['videos/s'].iloc[0]:.2f} "
              f"end to end, x{two['steady videos/s'].iloc[0] / one['steady videos/s'].iloc[0]:.2f}"
              " steady")
    print("all backends gave identical results")


if __name__ == "__main__":
    main()

"""``videojury score``: score videos with one or more metrics."""

from __future__ import annotations

from pathlib import Path

from ._common import add_store_args, frame_table, progress_bar, store_arg


def register(sub) -> None:
    p = sub.add_parser("score", help="score videos with one or more metrics",
                       description="Score a folder of videos, a manifest (CSV/JSONL/Parquet) "
                                   "or single files. Results go to a store, so a rerun computes "
                                   "only what is missing.")
    p.add_argument("inputs", nargs="+", help="a folder, a manifest, or video files")
    p.add_argument("-m", "--metric", action="append", required=True, metavar="NAME[:OPT=VAL,..]",
                   help="metric to compute, with options (repeatable), e.g. niqe:pool=median")
    p.add_argument("--prompts", type=Path, default=None,
                   help="prompts file for a folder: JSON {file: prompt}, or CSV/JSONL with "
                        "video|prompt_id and prompt columns")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="write the results table (.csv, .parquet or .jsonl)")
    add_store_args(p)
    p.add_argument("--retry-errors", action="store_true",
                   help="recompute items whose stored result is an error")
    p.add_argument("--backend", default="local", choices=["local", "ray"],
                   help="where to run (ray needs the [ray] extra)")
    p.add_argument("--address", default=None, help="Ray cluster address (auto, ray://host:port)")
    p.add_argument("--workers", type=int, default=None, help="Ray: number of workers")
    p.add_argument("--gpus-per-worker", type=float, default=None, help="Ray: GPUs per worker")
    p.add_argument("--batch-size", type=int, default=None, metavar="N",
                   help="items per model call for every metric that batches (sets its "
                        "batch_size option; not part of the store key)")
    p.add_argument("--dry-run", action="store_true",
                   help="plan only: how many results are cached, how many remain, and the "
                        "estimated time from scoring a short sample (kept in the store)")
    p.add_argument("--sample", type=int, default=3,
                   help="videos scored by --dry-run to estimate the time (default 3; 0: none)")
    p.add_argument("--quiet", action="store_true", help="no table on the terminal")
    p.set_defaults(func=run)


def _backend_options(args) -> dict:
    opts = {}
    for name in ("address", "workers", "gpus_per_worker"):
        value = getattr(args, name)
        if value is not None:
            opts[name] = value
    if opts and args.backend == "local":
        from ..errors import VideoJuryError

        raise VideoJuryError(f"--{next(iter(opts)).replace('_', '-')} applies to --backend ray "
                             "only")
    return opts


def _with_batch_size(specs: list[str], batch_size: int | None) -> list:
    """Metric specs, with ``batch_size=N`` given to every metric that takes it
    and whose spec does not set it."""
    if batch_size is None:
        return specs
    from ..errors import InputError
    from ..metrics.base import load_metric, parse_spec

    if batch_size < 1:
        raise InputError("--batch-size must be at least 1")
    out = []
    for spec in specs:
        metric = load_metric(spec)
        if "batch_size" in metric.default_options and "batch_size" not in parse_spec(spec)[1]:
            metric = load_metric(spec, batch_size=batch_size)
        out.append(metric)
    return out


def run(args) -> int:
    from ..api import resolve_metrics
    from ..data.items import check_text_needs, load_inputs
    from ..run.executor import get_executor, plan
    from ..run.results import results_table
    from ..run.store import Store, export_frame
    from . import console, out, styled, warn

    items = load_inputs(args.inputs, args.prompts, warn=warn)
    metrics = resolve_metrics(_with_batch_size(args.metric, args.batch_size))
    for m in metrics:
        check_text_needs(items, m.name, m.needs_prompt, m.needs_question)
    executor = get_executor(args.backend, **_backend_options(args))
    store_path = store_arg(args)
    with Store(store_path) as store:
        job = plan(items, metrics, store, retry_errors=args.retry_errors)
        console.print(f"{len(items)} videos x {len(metrics)} metrics: {len(job.cached)} results "
                      f"cached, {len(job.pending)} to compute"
                      + (f" (store: {store_path})" if store_path else " (no store)"))
        if args.dry_run:
            _estimate(job, store, executor, args.sample)
            return 0
        with progress_bar(len(job.pending), "scoring") as advance:
            stats = executor.run(job, store, progress=advance)
        df = results_table(job, store)
    console.print(stats.summary())
    if args.out is not None:
        export_frame(df, args.out)
        console.print(f"wrote {args.out}")
    if not args.quiet:
        shown = df.copy()
        # Paths are long; on the terminal the file name is enough (files keep full paths).
        shown["error"] = [None if e is None else e.replace(v + ": ", "")
                          for v, e in zip(shown["video"], shown["error"])]
        shown["video"] = [Path(v).name for v in shown["video"]]
        out.print(frame_table(shown))
    failed = int(df["error"].notna().sum())
    if failed:
        console.print(styled((f"{failed} of {len(df)} videos had errors", "yellow"),
                             " (see the 'error' column)"))
        return 1
    return 0


def _estimate(job, store, executor, n: int) -> None:
    """Score the first ``n`` pending videos and extrapolate to the rest."""
    from ..run.executor import _duration
    from . import console

    remaining = job.pending_videos
    if remaining == 0 or n <= 0:
        console.print(f"{remaining} videos to score")
        return
    stats = executor.run(job.first_videos(n), store)
    left = remaining - stats.videos
    console.print(f"sample: {stats.videos} videos in {stats.seconds:.1f}s "
                  f"(setup {stats.setup_seconds:.1f}s, then "
                  f"{stats.seconds_per_video:.2f}s per video; decode "
                  f"{stats.decode_seconds:.1f}s, preprocess "
                  f"{sum(stats.preprocess_seconds.values()):.1f}s, model "
                  f"{sum(stats.model_seconds.values()):.1f}s); results kept in the store")
    # The real run pays the setup (model loads, workers) again, once.
    console.print(f"estimated time for the remaining {left} videos: "
                  f"{_duration(stats.setup_seconds + stats.seconds_per_video * left)}")

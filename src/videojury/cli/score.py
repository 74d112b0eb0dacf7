"""``videojury score``: score videos with one or more metrics."""

from __future__ import annotations

from pathlib import Path

from ._common import (MetricAppend, add_store_args, check_output_file, frame_table, progress_bar,
                      store_arg)


def register(sub) -> None:
    p = sub.add_parser("score", help="score videos with one or more metrics",
                       description="Score a folder of videos, a manifest (CSV/JSONL/Parquet) "
                                   "or single files. Results go to a store, so a rerun computes "
                                   "only what is missing.")
    p.add_argument("inputs", nargs="+", help="a folder, a manifest, or video files")
    p.add_argument("-m", "--metric", action=MetricAppend, default=[], metavar="NAME[:OPT=VAL,..]",
                   help="metric to compute, with options (repeatable, or names joined by commas: "
                        "-m niqe,brisque), e.g. niqe:pool=median")
    p.add_argument("--suite", default=None, metavar="NAME",
                   help="add a baseline collection's metrics: seed-baselines (LOVE's V2T evaluators that run "
                        "without weights) or seed-baselines-all (also those whose weights download on first "
                        "use); `videojury metrics --suite seed-baselines` lists them")
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
    p.add_argument("--trust-remote-code", action="store_true",
                   help="let model checkpoints run code from their repositories (sets "
                        "trust_remote_code=true on every metric that has the option; part of "
                        "the store key). Only for checkpoints whose code you trust")
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


OUT_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl")


def with_remote_code(spec: str) -> str:
    """``spec`` with ``trust_remote_code=true`` when its metric has that option and the
    spec does not set it (``--trust-remote-code``); other specs unchanged."""
    from ..metrics.base import metric_class, parse_spec

    try:
        name, opts = parse_spec(spec)
        cls = metric_class(name)
    except Exception:  # noqa: BLE001 - an unknown or malformed spec is reported later
        return spec
    if "trust_remote_code" not in cls.default_options or "trust_remote_code" in opts:
        return spec
    return (spec + ",trust_remote_code=true") if opts else f"{name}:trust_remote_code=true"


def run(args) -> int:
    """Parse, call :func:`videojury.api.score` (or ``estimate``), render."""
    import warnings
    from contextlib import ExitStack

    from ..api import MetricLoadWarning, estimate, score
    from ..errors import InputError
    from ..run.store import export_frame
    from . import console, out, styled, warn

    # Everything about the run's inputs is checked before any video is decoded.
    if args.suite is not None:
        from ..metrics.baselines import suite_metrics

        args.metric = list(args.metric) + [m for m in suite_metrics(args.suite)
                                           if m not in args.metric]
    if not args.metric:
        raise InputError("give at least one -m/--metric (or --suite seed-baselines)")
    if args.trust_remote_code:
        args.metric = [with_remote_code(m) for m in args.metric]
    if args.prompts is not None and len(args.inputs) != 1:
        raise InputError("--prompts goes with a single folder input")
    if not args.dry_run:
        check_output_file(args.out, OUT_SUFFIXES, "-o/--out")
    if args.batch_size is not None and args.batch_size < 1:
        raise InputError(f"--batch-size must be at least 1 (got {args.batch_size})")
    if args.sample < 0:
        raise InputError(f"--sample must be 0 or more (got {args.sample})")
    store_path = store_arg(args)
    common = dict(backend=args.backend, backend_options=_backend_options(args),
                  batch_size=args.batch_size, retry_errors=args.retry_errors, warn=warn)
    bar: dict = {"advance": lambda n=1: None}

    def on_plan(job) -> None:
        view = job.view()
        console.print(f"{len(view.items)} videos x {len(view.metrics)} metrics: "
                      f"{len(view.cached)} results cached, {len(view.pending)} to compute"
                      + (f" (store: {store_path})" if store_path else " (no store)"))
        if not args.dry_run:
            bar["advance"] = stack.enter_context(progress_bar(len(job.pending), "scoring"))

    inputs = [str(i) for i in args.inputs]
    if args.dry_run:
        est = estimate(inputs, args.prompts, args.metric, store_path, sample=args.sample,
                       on_plan=on_plan, **common)
        console.print(est.summary())
        return 0
    with ExitStack() as stack:
        # A metric that cannot be loaded is reported below, as an error, not as a warning.
        stack.enter_context(warnings.catch_warnings())
        warnings.simplefilter("ignore", MetricLoadWarning)
        df, stats = score(inputs, args.prompts, args.metric, store_path, on_plan=on_plan,
                          progress=lambda n: bar["advance"](n), return_stats=True, **common)
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
    if stats.load_errors:
        for label, msg in stats.load_errors.items():
            console.print(styled(("error:", "bold red"), f" metric {label} could not be loaded: "
                                 f"{msg}. Nothing was stored for it; fix this and run again."))
        return 2
    failed = int(df["error"].notna().sum())
    if failed:
        console.print(styled((f"{failed} of {len(df)} videos had errors", "yellow"),
                             " (see the 'error' column)"))
        return 1
    return 0

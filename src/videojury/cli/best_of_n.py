"""``videojury best-of-n``: pick the best of N candidates per prompt, and what it gains."""

from __future__ import annotations

import os
from pathlib import Path

from ._common import MetricAppend, add_store_args, frame_table, store_arg

_OUT_SUFFIXES = (".csv", ".parquet", ".pq", ".jsonl")


def register(sub) -> None:
    p = sub.add_parser(
        "best-of-n", help="pick the best of N candidate videos per prompt",
        description="From a manifest with a prompt_id column and N >= 2 candidate videos per "
                    "prompt, pick the best candidate per prompt under one metric (its first "
                    "field, direction-aware) or a weighted sum of metrics normalised within "
                    "the prompt, and report the gain of the pick over a random pick (mean "
                    "and bootstrap CI over prompts) on every metric given. Scores go through "
                    "the store, so a rerun computes only what is missing.")
    p.add_argument("manifest", type=Path, help="manifest (CSV/JSONL/Parquet) with video and "
                                               "prompt_id columns")
    p.add_argument("-m", "--metric", action=MetricAppend, required=True,
                   metavar="NAME[:OPT=VAL,..]",
                   help="metric (repeatable, or names joined by commas); without --weights the "
                        "first one decides and the others are reported")
    p.add_argument("--weights", default=None, metavar="W[,W..]|NAME=W[,..]",
                   help="one weight per -m in order (1,0.5) or by column/metric name "
                        "(niqe=1,clipscore=0.5); weight 0 = report only")
    p.add_argument("--normalize", default="zscore", choices=["zscore", "rank"],
                   help="within-prompt normalisation when several fields are weighted "
                        "(default zscore)")
    p.add_argument("-o", "--out", type=Path, required=True,
                   help="picks table (.csv, .parquet or .jsonl): prompt_id, video, scores")
    p.add_argument("--gains", type=Path, default=None,
                   help="also write the gain-over-random table here (.csv, .parquet, .jsonl)")
    p.add_argument("--resamples", type=int, default=1000,
                   help="bootstrap resamples of prompts for the gain CIs (default 1000)")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    add_store_args(p)
    p.add_argument("--retry-errors", action="store_true",
                   help="recompute items whose stored result is an error")
    p.add_argument("--quiet", action="store_true", help="no tables on the terminal")
    p.set_defaults(func=run)


def check_output(path: Path, what: str = "--out") -> None:
    """Refuse an output path that cannot be written, before any scoring."""
    from ..errors import InputError

    if path.is_dir():
        raise InputError(f"{what} {path} is a directory; give a file name such as "
                         f"{path / 'picks.csv'}")
    if path.suffix.lower() not in _OUT_SUFFIXES:
        raise InputError(f"{what} {path}: unknown output format {path.suffix!r}; use .csv, "
                         ".parquet or .jsonl")
    parent = path.parent if str(path.parent) else Path(".")
    probe = parent
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    if probe.exists() and not probe.is_dir():
        raise InputError(f"{what} {path}: {probe} is a file, not a folder")
    if not os.access(probe, os.W_OK):
        raise InputError(f"{what} {path}: cannot write in {probe} (permission denied)")


def run(args) -> int:
    from ..errors import InputError
    from ..io import write_table
    from ..selection import best_of_n, parse_weights
    from . import console, out, styled

    check_output(args.out)
    if args.gains is not None:
        check_output(args.gains, "--gains")
    if args.resamples < 0:
        raise InputError("--resamples must be >= 0")
    weights = parse_weights(args.weights) if args.weights else None
    res = best_of_n(args.manifest, args.metric, weights=weights, normalize=args.normalize,
                    store=store_arg(args), n_resamples=args.resamples, seed=args.seed,
                    retry_errors=args.retry_errors)
    if res.stats is not None:
        console.print(res.stats.summary())
    write_table(res.picks, args.out)
    console.print(f"wrote {args.out} ({len(res.picks)} picks)")
    if args.gains is not None:
        write_table(res.gains, args.gains)
        console.print(f"wrote {args.gains}")
    if res.skipped:
        console.print(styled((f"{len(res.skipped)} prompt(s) had no candidate with finite "
                              "scores and got no pick", "yellow"),
                             f": {', '.join(res.skipped[:5])}"))
    if not args.quiet:
        shown = res.picks[["prompt_id", "video", *res.weights, "objective",
                           "n_candidates"]].copy()
        shown["video"] = [Path(v).name for v in shown["video"]]
        out.print(frame_table(shown, title="picks"))
        pct = int(round(res.confidence * 100))
        out.print(frame_table(res.gains, title=f"gain of the pick over a random pick (mean over "
                                               f"prompts, {pct}% bootstrap CI)"))
    failed = int(res.table["error"].notna().sum())
    if failed:
        console.print(styled((f"{failed} of {len(res.table)} candidates had errors", "yellow"),
                             " (they cannot be picked)"))
        return 1
    return 0

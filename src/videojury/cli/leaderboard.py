"""``videojury leaderboard``: rank models (or evaluators) on several metrics."""

from __future__ import annotations

import sys
from pathlib import Path

_NAME_GUESSES = ("model", "name", "evaluator", "method", "metric")


def register(sub) -> None:
    """Add the ``leaderboard`` sub-command."""
    p = sub.add_parser(
        "leaderboard", help="rank rows of a table on several metrics (rank sum or weighted)",
        description="Rank each name on each metric in its own direction, sum the ranks and rank "
                    "the sums (ties share a rank: 1, 2, 2, 4), as LOVE's leaderboards do; or "
                    "min-max normalise and take a weighted mean, as VBench does. A table with "
                    "several rows per name is averaged first; with --bootstrap and "
                    "--prompt-column, prompts are resampled to give each name a rank interval.")
    p.add_argument("table", type=Path, help="CSV/TSV/JSONL/JSON/Parquet table")
    p.add_argument("-n", "--name-column", default=None,
                   help="column naming the rows (default: the first of model, name, evaluator, "
                        "method, metric that exists)")
    p.add_argument("-m", "--metric", action="append", required=True, metavar="COL[:lower]",
                   help="column to rank on (repeatable); its direction comes from the table's field "
                        "metadata (a videojury results table), else add :lower or :higher")
    p.add_argument("-f", "--format", default="md", choices=["md", "csv", "json", "html"],
                   help="output format (default md)")
    p.add_argument("-o", "--output", type=Path, default=None,
                   help="write here instead of standard output")
    p.add_argument("--method", default="ranksum", choices=["ranksum", "weighted"],
                   help="ranksum (default) or weighted (VBench-style min-max normalised mean)")
    p.add_argument("--weight", action="append", default=[], metavar="COL=W",
                   help="weight of a metric for --method weighted (default 1)")
    p.add_argument("--range", action="append", default=[], metavar="COL=LO:HI", dest="ranges",
                   help="fixed normalisation bounds for --method weighted (default: the "
                        "table's min and max)")
    p.add_argument("--bootstrap", type=int, default=0,
                   help="bootstrap replicates over prompts for rank intervals (needs "
                        "--prompt-column; default 0: none)")
    p.add_argument("--prompt-column", default=None,
                   help="column identifying the prompt of each row, for --bootstrap")
    p.add_argument("--seed", type=int, default=0, help="bootstrap seed (default 0)")
    p.add_argument("--confidence", type=float, default=0.95,
                   help="rank interval level (default 0.95)")
    p.add_argument("--title", default="Leaderboard", help="title of the HTML page")
    p.set_defaults(func=run)


def _pairs(items: list[str], what: str) -> dict[str, str]:
    from ..errors import InputError

    out = {}
    for item in items:
        key, eq, value = item.rpartition("=")
        if not eq or not key:
            raise InputError(f"{what} {item!r} is not of the form COL=VALUE")
        out[key] = value
    return out


def _note_missing(table, name_col: str) -> None:
    """A weighted score averages the metrics a name has: say where one is missing (L2)."""
    from . import warn

    cols = [m.column for m in table.attrs.get("metrics", [])]
    for _, row in table.iterrows():
        lacking = [c for c in cols if row[c] != row[c]]
        if lacking and len(lacking) < len(cols):
            warn(f"{name_col} {str(row[name_col])!r} has no value for {', '.join(map(repr, lacking))}: its "
                 f"weighted score averages only its other metric(s), so its rank is not comparable "
                 "with names measured on all of them")


def run(args) -> int:
    from ..analysis.leaderboard import (
        bootstrap_ranks,
        parse_metric_spec,
        rank_table,
        weighted_table,
    )
    from ..report.leaderboard import render
    from ..io import read_table
    from ..errors import InputError
    from . import console

    df = read_table(args.table)
    name_col = args.name_column
    if name_col is None:
        name_col = next((c for c in _NAME_GUESSES if c in df.columns), None)
        if name_col is None:
            raise InputError(f"{args.table}: say which column names the rows with "
                             f"--name-column (columns: {', '.join(map(str, df.columns))})")
    specs = [parse_metric_spec(m) for m in args.metric]
    weights: dict[str, float] = {}
    for k, v in _pairs(args.weight, "--weight").items():
        try:
            weights[k] = float(v)
        except ValueError:
            raise InputError(f"--weight {k}={v}: the weight must be a number") from None
    ranges: dict[str, tuple[float, float]] = {}
    for k, v in _pairs(args.ranges, "--range").items():
        lo, colon, hi = v.partition(":")
        try:
            ranges[k] = (float(lo), float(hi))
        except ValueError:
            raise InputError(f"--range {k}={v}: give LO:HI numbers") from None
        if not colon or ranges[k][0] >= ranges[k][1]:
            raise InputError(f"--range {k}={v}: give LO:HI with LO < HI")
    if (weights or ranges) and args.method != "weighted":
        raise InputError("--weight and --range apply to --method weighted")
    if args.method == "weighted":
        table = weighted_table(df, name_col, specs, weights, ranges)
        _note_missing(table, name_col)
    else:
        table = rank_table(df, name_col, specs)
    intervals = None
    if args.bootstrap:
        if args.prompt_column is None:
            raise InputError("--bootstrap resamples prompts: give --prompt-column")
        intervals = bootstrap_ranks(df, name_col, args.prompt_column, specs,
                                    n_boot=args.bootstrap, seed=args.seed,
                                    confidence=args.confidence, method=args.method,
                                    weights=weights)
    text = render(table, args.format, intervals, title=args.title)
    if args.output is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text, encoding="utf-8")
        console.print(f"wrote {args.output} ({len(table)} rows)")
    return 0

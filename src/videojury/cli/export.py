"""``videojury export``: dump a results store to CSV, Parquet or JSONL."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("export", help="export a results store (long format)",
                       description="Write every stored result, one row per (video, metric, "
                                   "field), with errors as rows of their own; the 'identity' "
                                   "column says what model metrics ran on (device kind, dtype, "
                                   "checkpoint and processor).")
    p.add_argument("store", type=Path, help="the SQLite store")
    p.add_argument("-o", "--out", type=Path, required=True, help=".csv, .parquet or .jsonl")
    p.add_argument("--metric", default=None, help="only this metric")
    p.set_defaults(func=run)


def run(args) -> int:
    from ..errors import InputError
    from ..run.store import Store, export_frame
    from . import console

    if not args.store.exists():
        raise InputError(f"{args.store}: no such store")
    # Read-only: exporting never writes, so a read-only store, one a run is
    # writing to, or an old-schema store (not migrated) can be exported too.
    with Store(args.store, read_only=True) as store:
        df = store.to_frame(args.metric)
    export_frame(df, args.out)
    console.print(f"wrote {len(df)} rows to {args.out}")
    return 0

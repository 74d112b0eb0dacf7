"""``videojury fit``: learn a fusion of metric scores to human MOS (CPU, seconds)."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "fit", help="fit a fusion model from metric scores to human MOS",
        description="Learn ridge and gradient-boosting mappings from stored metric scores to "
                    "human MOS, cross-validated with folds grouped by prompt, and compare them "
                    "with every single metric. The chosen model is saved as JSON and scores "
                    "new videos with --metric trained:DIR.")
    p.add_argument("scores", type=Path,
                   help="scores table from 'videojury score -o' (CSV/Parquet/JSONL), or a "
                        "results store (.sqlite)")
    p.add_argument("-o", "--out", type=Path, required=True, help="output folder (fusion.json)")
    p.add_argument("--mos", type=Path, default=None,
                   help="human labels: table with video and mos columns (the output of "
                        "'videojury mos' works), or a LOVE/AIGVE-60K JSONL file")
    p.add_argument("--mos-column", default="mos",
                   help="the MOS column (in --mos, or in the scores table when --mos is not "
                        "given; default: mos)")
    p.add_argument("--dimension", default=None,
                   help="with several dimensions in --mos, the one to fit")
    p.add_argument("--features", default=None,
                   help="comma-separated input columns (default: the table's score columns, "
                        "from its field metadata; for a table without it, the columns a "
                        "registered metric declares as fields)")
    p.add_argument("--input", dest="inputs", action="append", default=[],
                   metavar="COLUMN=METRIC",
                   help="the metric spec that computes COLUMN, for columns the registry does "
                        "not know (repeatable)")
    p.add_argument("--metrics", default=None,
                   help="with a store: only these metrics (comma-separated names)")
    p.add_argument("--model", default="auto", choices=["auto", "ridge", "gbm"],
                   help="fusion model (auto: the better by cross-validated SRCC)")
    p.add_argument("--folds", type=int, default=5, help="cross-validation folds (default 5)")
    p.add_argument("--group-by", default="prompt", choices=["prompt", "model", "video", "none"],
                   help="keep each group's videos in one fold (default: prompt)")
    p.add_argument("--name", default="fusion", help="name of the score field (default fusion)")
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=run)


def _labels(args):
    from ..errors import InputError
    from ..human.importers import load_human_labels

    df = load_human_labels(args.mos, mos=args.mos_column)
    dims = sorted(df["dimension"].astype(str).unique())
    if len(dims) > 1:
        if not args.dimension:
            raise InputError(f"{args.mos} holds several dimensions ({', '.join(dims)}); pick "
                             "one with --dimension")
        df = df[df["dimension"].astype(str) == args.dimension]
        if df.empty:
            raise InputError(f"{args.mos}: no rows for dimension {args.dimension!r}")
    return df


def _check_mos_varies(scores, mos_col: str, where) -> None:
    """A fusion fitted to a constant MOS learns nothing and its CV SRCC is undefined: refuse it."""
    import numpy as np
    import pandas as pd

    from ..errors import InputError

    y = pd.to_numeric(scores[mos_col], errors="coerce").to_numpy(dtype=float)
    y = y[np.isfinite(y)]
    if y.size and np.ptp(y) == 0:
        raise InputError(f"{where}: every human score ({mos_col!r}) of the {y.size} matched videos is "
                         f"{y[0]:g}; a fusion model cannot learn from a constant MOS (nothing saved)")


def run(args) -> int:
    from ..errors import InputError
    from ..io import read_table
    from ..train.fusion import save_fusion
    from ..train.fusion_fit import attach_mos, discover_inputs, fit_fusion, store_table
    from . import console, out, styled
    from ._common import check_output_dir, frame_table

    check_output_dir(args.out, "-o/--out")
    if args.folds < 2:
        raise InputError(f"--folds must be >= 2 (cross-validation), got {args.folds}")
    src = args.scores
    if src.suffix.lower() in (".sqlite", ".db", ".sqlite3"):
        metrics = [m.strip() for m in args.metrics.split(",")] if args.metrics else None
        scores = store_table(src, metrics)
        if args.mos is None:
            raise InputError("a store holds no human scores; pass --mos FILE")
    else:
        scores = read_table(src)
    if args.mos is not None:
        labels = _labels(args)
        scores = attach_mos(scores.drop(columns=["mos"], errors="ignore"), labels,
                            args.mos.resolve().parent)
        if scores.attrs.get("matched", 0) == 0:
            raise InputError(f"no video of {src} matches a video in {args.mos} (compared by "
                             "path, absolute path and file name)")
        console.print(f"{scores.attrs['matched']} videos matched to human scores")
        mos_col = "mos"
    else:
        mos_col = args.mos_column
        if mos_col not in scores.columns:
            raise InputError(f"{src}: no column {mos_col!r}; pass --mos FILE with human "
                             "scores or --mos-column")
    _check_mos_varies(scores, mos_col, args.mos or src)
    specs = {}
    for item in args.inputs:
        col, eq, spec = item.partition("=")
        if not eq or not col.strip() or not spec.strip():
            raise InputError(f"--input {item!r} is not of the form COLUMN=METRIC")
        specs[col.strip()] = spec.strip()
    features = [f.strip() for f in args.features.split(",") if f.strip()] if args.features \
        else None
    inputs = discover_inputs(scores, features, specs, exclude=[mos_col])
    model, report = fit_fusion(scores, mos=mos_col, inputs=inputs, group_by=args.group_by,
                               model=args.model, folds=args.folds, seed=args.seed,
                               name=args.name)
    path = save_fusion(model, args.out)
    table = report.table()
    table.to_csv(args.out / "cv.csv", index=False)
    out.print(frame_table(table, title=f"cross-validated agreement with MOS ({report.n} videos, "
                                       f"{report.n_groups} groups, {report.folds} folds)"))
    ch, bs = report.chosen_row(), report.best_single
    out.print(f"fusion ({report.chosen}, {len(inputs)} inputs): CV SRCC {ch['cv_srcc']:.4f}; "
              f"best single metric {bs['model']}: CV SRCC {bs['cv_srcc']:.4f} "
              f"({ch['cv_srcc'] - bs['cv_srcc']:+.4f})")
    for note in report.notes:
        console.print(styled(("note:", "yellow"), f" {note}"))
    if report.dropped:
        console.print(styled((f"{report.dropped} row(s) lacked an input or a MOS and were "
                              "left out", "yellow")))
    out.print(f"wrote {path}; use it: videojury score VIDEOS --metric trained:{args.out}")
    return 0

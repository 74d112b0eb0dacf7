"""``videojury mos``: raw ratings to MOS with BT.500 screening and reliability."""

from __future__ import annotations

import math
from pathlib import Path


def register(sub) -> None:
    """Add the ``mos`` sub-command."""
    p = sub.add_parser(
        "mos",
        help="raw human ratings -> MOS (BT.500 rater screening, z-scores, CIs, reliability)",
        description="Read long-format ratings (one row per rater x video [x dimension], any numeric "
                    "scale), screen raters per ITU-R BT.500, z-score each rater, rescale to 0-100 and "
                    "average per video and dimension. Reports rejected raters with their P, Q, N and "
                    "split-half reliability. See docs/agreement.md.",
    )
    p.add_argument("ratings", type=Path, help="ratings table: .csv, .tsv, .jsonl, .json or .parquet")
    p.add_argument("-o", "--out", type=Path, default=None,
                   help="MOS table (.csv/.tsv/.jsonl/.parquet, plus <stem>.raters.* and <stem>.summary.json "
                        "beside it; or .json for everything in one file)")
    p.add_argument("--rater-col", default="rater", help="rater column (default: rater)")
    p.add_argument("--video-col", default="video", help="video column (default: video)")
    p.add_argument("--score-col", default="score", help="score column (default: score)")
    p.add_argument("--dimension-col", default="dimension",
                   help="dimension column, optional in the file (default: dimension)")
    p.add_argument("--scale", nargs="+", default=["1", "5"], metavar="LOW HIGH",
                   help="the rating scale: a score outside [LOW, HIGH] is refused naming its row "
                        "(default: 1 5; e.g. --scale 0 100 for a slider; --scale any: no check)")
    p.add_argument("--no-screen", action="store_true", help="skip BT.500 rater screening")
    p.add_argument("--no-zscore", action="store_true", help="average raw scores instead of per-rater z-scores")
    p.add_argument("--per-dimension", action="store_true",
                   help="screen raters separately in each dimension (default: pooled over dimensions)")
    p.add_argument("--drop-outlier-scores", action="store_true",
                   help="also drop single scores outside mean +- k*std of their video (as LOVE's script does)")
    p.add_argument("--confidence", type=float, default=0.95, help="CI level (default: 0.95)")
    p.add_argument("--splits", type=int, default=100, help="random rater splits for reliability (default: 100; 0 skips)")
    p.add_argument("--seed", type=int, default=0, help="seed for the rater splits (default: 0)")
    p.set_defaults(func=run)


def _scale(values: list[str]) -> tuple[float, float] | None:
    """``--scale LOW HIGH`` as numbers, or None for ``--scale any``."""
    from ..errors import InputError

    if len(values) == 1 and values[0].strip().lower() == "any":
        return None
    try:
        low, high = (float(v) for v in values)
    except ValueError:
        raise InputError(f"--scale {' '.join(values)}: give two numbers LOW HIGH (e.g. --scale 1 5) "
                         "or --scale any") from None
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InputError(f"--scale {' '.join(values)}: give two finite numbers with LOW < HIGH")
    return low, high


def _why_no_mos(ratings, raters, *, zscore: bool) -> str:
    """The reason no video got a MOS, for the one-line error."""
    s = ratings["score"].to_numpy(dtype=float)
    rej = raters[raters["rejected"]]
    novar = int(rej["reason"].astype(str).str.startswith("no variance").sum())
    if zscore and s.size and (s == s[0]).all():
        return (f"every one of the {s.size} ratings is {s[0]:g}: with no variance no rater can be "
                "z-scored, so no video has a MOS; pass --no-zscore to average the raw scores")
    parts = []
    if novar:
        parts.append(f"{novar} gave the same score throughout (no variance, cannot be z-scored; "
                     "--no-zscore averages raw scores)")
    if len(rej) - novar:
        parts.append(f"{len(rej) - novar} were rejected by BT.500 screening (--no-screen keeps them)")
    return (f"no video has a MOS: every rater was excluded: {'; '.join(parts) or 'see the raters table'}")


def run(args) -> int:
    """Compute MOS, write the outputs, print rejected raters and reliability."""
    import pandas as pd

    from ..errors import InputError
    from ..human.importers import load_ratings, sidecar, write_json, write_table
    from ..human.mos import compute_mos
    from ..human.reliability import split_half_reliability
    from . import console, out, styled
    from ._common import check_output_file, frame_table

    if not 0 < args.confidence < 1:
        raise InputError(f"--confidence must be between 0 and 1, got {args.confidence}")
    if args.splits < 0:
        raise InputError(f"--splits must be >= 0 (0 skips reliability), got {args.splits}")
    scale = _scale(args.scale)
    check_output_file(args.out, (".csv", ".tsv", ".jsonl", ".ndjson", ".json", ".parquet", ".pq"), "-o/--out")
    ratings = load_ratings(args.ratings, rater=args.rater_col, video=args.video_col, score=args.score_col,
                           dimension=args.dimension_col, scale=scale)
    res = compute_mos(ratings, screen=not args.no_screen, zscore=not args.no_zscore,
                      per_dimension=args.per_dimension, drop_outlier_scores=args.drop_outlier_scores,
                      confidence=args.confidence)
    res.settings["scale"] = list(scale) if scale else None
    if len(res.mos) == 0:
        raise InputError(_why_no_mos(ratings, res.raters, zscore=not args.no_zscore))
    rel = []
    if args.splits > 0:
        try:
            rel = split_half_reliability(ratings, n_splits=args.splits, seed=args.seed,
                                         zscore=not args.no_zscore, exclude_raters=res.excluded)
        except InputError as exc:
            console.print(styled(("reliability skipped:", "yellow"), f" {exc}"))
    rel_df = pd.DataFrame([r.as_dict() for r in rel])
    summary = {
        "ratings": str(args.ratings),
        "n_ratings": res.settings["n_ratings"],
        "n_ratings_kept": res.settings["n_ratings_kept"],
        "n_raters": int(ratings["rater"].nunique()),
        "rejected": res.rejected,
        "reliability": rel_df,
        "settings": res.settings,
    }
    if args.out is not None:
        if args.out.suffix.lower() == ".json":
            write_json({**summary, "mos": res.mos, "raters": res.raters}, args.out)
            console.print(f"wrote {args.out}")
        else:
            write_table(res.mos, args.out)
            rpath = sidecar(args.out, "raters")
            write_table(res.raters, rpath)
            spath = sidecar(args.out, "summary", ".json")
            write_json(summary, spath)
            console.print(f"wrote {args.out}, {rpath} and {spath}")

    nr = summary["n_raters"]
    console.print(
        f"{summary['n_ratings']} ratings from {nr} raters on {ratings['video'].nunique()} videos; "
        f"{len(res.rejected)} rater(s) rejected, {summary['n_ratings_kept']} ratings kept"
    )
    rej = res.raters[res.raters["rejected"]]
    if len(rej):
        out.print(frame_table(rej[["rater", "dimension", "N", "P", "Q", "outlier_ratio", "asymmetry", "reason"]],
                              title="Rejected raters", floatfmt="{:.3f}"))
    if len(rel_df):
        out.print(frame_table(rel_df, title="Split-half reliability (SRCC, Spearman-Brown corrected)",
                              floatfmt="{:.3f}"))
    out.print(frame_table(res.mos, title="MOS (first rows)", floatfmt="{:.2f}", max_rows=15))
    lost = res.settings.get("videos_without_mos") or []
    if lost:
        console.print(styled((f"{len(lost)} video/dimension cell(s) have no MOS", "yellow"),
                             ": all their raters were excluded (BT.500 screening or no variance; see "
                             "Rejected raters)"))
    return 0

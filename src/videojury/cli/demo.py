"""``videojury demo``: make synthetic degraded clips, score them, rank the degradations."""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

from ._common import MetricAppend


def register(sub) -> None:
    p = sub.add_parser("demo", help="score built-in synthetic clips with every weight-free metric",
                       description="Render synthetic clips and graded degradations of them "
                                   "(blur, noise, compression, flicker, freeze, jitter), score "
                                   "them with every metric that needs no downloads, and print "
                                   "the degradations ranked. Runs offline in about a minute.")
    p.add_argument("--out", type=Path, default=None,
                   help="keep the clips, store and tables here (default: a temporary folder)")
    p.add_argument("--clips", type=int, default=2, help="source clips (default 2)")
    p.add_argument("--metric", action=MetricAppend, default=None,
                   help="metrics to use (default: every weight-free metric)")
    p.set_defaults(func=run)


def demo_metrics() -> list[str]:
    """Every registered metric that needs no optional extra (no downloads)."""
    from ..metrics.base import list_metrics, metric_class

    return [n for n in list_metrics() if metric_class(n).extra is None
            and not metric_class(n).needs_prompt and not metric_class(n).needs_question]


def rank_conditions(df, metrics) -> "object":
    """Mean of each score field per degradation and level, with ranks.

    Each field is ranked direction-aware (1 = best); the overall rank is the
    rank of the sum of ranks, ties sharing the best rank ("1, 2, 2, 4").
    """
    import pandas as pd

    fields = [(f.name, f.higher_is_better) for m in metrics for f in m.fields]
    ok = df[df["error"].isna()].copy()
    ok["level"] = pd.to_numeric(ok["level"]).astype(int)
    table = ok.groupby(["degradation", "level"], as_index=False)[[f for f, _ in fields]].mean()
    table["condition"] = ["pristine" if lv == 0 else f"{d}-{lv}"
                          for d, lv in zip(table["degradation"], table["level"])]
    ranks = pd.DataFrame({f: table[f].rank(ascending=not hib, method="min")
                          for f, hib in fields})
    table["rank_sum"] = ranks.sum(axis=1)
    table["overall_rank"] = table["rank_sum"].rank(method="min").astype(int)
    cols = ["overall_rank", "condition"] + [f for f, _ in fields]
    return table.sort_values(["overall_rank", "condition"])[cols].reset_index(drop=True)


def run(args) -> int:
    from ..api import resolve_metrics, score
    from ..data.synthetic import make_dataset
    from ..run.store import export_frame
    from ._common import frame_table, progress_bar
    from . import console, out, styled

    from ._common import check_output_dir

    check_output_dir(args.out, "--out")
    if args.clips < 1:
        from ..errors import InputError

        raise InputError(f"--clips must be at least 1, got {args.clips}")
    names = args.metric or demo_metrics()
    metrics = resolve_metrics(names)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="videojury-demo-") as tmp:
        root = args.out if args.out is not None else Path(tmp)
        console.print(f"rendering {args.clips} synthetic clips x 19 conditions in {root} ...")
        manifest = make_dataset(root / "videos", n_clips=args.clips)
        console.print(f"scoring with {', '.join(m.label for m in metrics)} ...")
        import pandas as pd

        n_items = len(pd.read_csv(manifest))
        with progress_bar(n_items * len(metrics), "scoring") as advance:
            df, stats = score(str(manifest), metrics=metrics, store=root / "scores.sqlite",
                              progress=advance, return_stats=True)
        table = rank_conditions(df, metrics)
        export_frame(df, root / "scores.csv")
        export_frame(table, root / "ranking.csv")
        out.print(frame_table(table, title="Degradations ranked by every weight-free metric "
                                           "(1 = best; means over clips)"))
        console.print(stats.summary())
        failed = int(df["error"].notna().sum())
        if failed:
            console.print(styled((f"{failed} videos had errors", "yellow")))
        console.print(f"done in {time.perf_counter() - t0:.0f}s"
                      + (f"; files in {root}" if args.out is not None else ""))
    return 1 if failed else 0

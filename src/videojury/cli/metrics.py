"""``videojury metrics``: list the metrics, their fields and what they need."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser("metrics", help="list available metrics",
                       description="Every registered metric: its score fields with range and "
                                   "direction, what it needs, and the extra that provides it.")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.add_argument("--suite", default=None, metavar="NAME",
                   help="list a baseline collection instead: seed-baselines (the 48 evaluators of LOVE's V2T "
                        "tables: which run now, which need weights, which need a later issue)")
    p.set_defaults(func=run)


def describe_metrics() -> list[dict]:
    """One record per registered metric (for listings and docs)."""
    from ..metrics.base import list_metrics, metric_class

    rows = []
    for name in list_metrics():
        cls = metric_class(name)
        needs = [w for w, flag in (("prompt", cls.needs_prompt),
                                   ("question", cls.needs_question)) if flag]
        try:
            frames = cls().frame_policy().describe()
        except Exception:  # noqa: BLE001 - some metrics need options to say
            frames = "depends on options"
        rows.append({
            "name": name,
            "version": cls.version,
            "fields": [{"name": f.name, "range": [f.low, f.high],
                        "higher_is_better": f.higher_is_better, "description": f.description}
                       for f in cls.fields],
            "needs": needs,
            "frames": frames,
            "extra": cls.extra or "core",
            "options": {k: v for k, v in cls.default_options.items()},
            "description": cls.description,
        })
    return rows


def run(args) -> int:
    from rich.table import Table
    from rich.text import Text

    from . import out

    if args.suite is not None:
        return _run_suite(args)
    rows = describe_metrics()
    if args.json:
        out.print_json(json.dumps(rows))
        return 0
    table = Table(title="videojury metrics")
    for col in ("metric", "fields: range, direction", "needs", "frames", "extra"):
        table.add_column(col, overflow="fold")
    for r in rows:
        fields = "\n".join(
            f"{f['name']} [{'-inf' if f['range'][0] is None else format(f['range'][0], 'g')}, "
            f"{'inf' if f['range'][1] is None else format(f['range'][1], 'g')}] "
            f"{'↑ higher better' if f['higher_is_better'] else '↓ lower better'}"
            for f in r["fields"])
        cells = (f"{r['name']} v{r['version']}", fields, ", ".join(r["needs"]) or "video",
                 r["frames"], r["extra"])
        table.add_row(*(Text(str(c)) for c in cells))  # plug-in text is never markup
    out.print(table)
    return 0


def _run_suite(args) -> int:
    from ..errors import InputError
    from ..metrics.baselines import SUITES, baseline_rows
    from . import out
    from ._common import frame_table

    if args.suite not in SUITES:
        raise InputError(f"unknown --suite {args.suite!r}; known: {', '.join(SUITES)}")
    rows = baseline_rows()
    if args.json:
        out.print_json(json.dumps(rows))
        return 0
    import pandas as pd

    counts = pd.Series([r["status"] for r in rows]).value_counts()
    title = (f"{args.suite}: LOVE's {len(rows)} V2T evaluators - "
             + ", ".join(f"{counts.get(k, 0)} {k}" for k in ("runs", "needs weights", "needs a key", "later")))
    out.print(frame_table(pd.DataFrame(rows), title=title, max_rows=len(rows)))
    return 0

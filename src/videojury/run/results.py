"""Turning a plan and its stored results into the user's table.

One row per item, the item's own columns first (video, prompt, model, ...,
and any extra manifest columns untouched), then one column per score field,
then ``error`` (``"metric: message"`` joined with "; ", empty when all went
well). A field's column is its declared name; when two metrics in one run
declare the same field name (the same metric with two option sets, say), the
column gets the metric's label in brackets: ``clipscore[clipscore:model=x]``.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..metrics.base import Metric, ScoreField
from .executor import Plan
from .store import Store


def field_columns(metrics: list[Metric]) -> list[tuple[int, ScoreField, str]]:
    """(metric index, field, column name) for every field of every metric."""
    counts = Counter(f.name for m in metrics for f in m.fields)
    out = []
    for m_i, m in enumerate(metrics):
        for f in m.fields:
            col = f.name if counts[f.name] == 1 else f"{f.name}[{m.label}]"
            out.append((m_i, f, col))
    return out


def results_table(plan: Plan, store: Store) -> pd.DataFrame:
    """The wide results table of a plan, read back from the store."""
    found = store.get_many(plan.keys.values())
    cols = field_columns(plan.metrics)
    records = []
    for i, item in enumerate(plan.items):
        rec = item.as_record()
        errors: dict[str, list[str]] = {}
        for m_i, f, col in cols:
            res = found.get(plan.keys[(i, m_i)])
            value = np.nan
            if res is not None and res.status == "ok" and res.scores is not None:
                value = res.scores.get(f.name, np.nan)
            rec[col] = value
        for m_i, metric in enumerate(plan.metrics):
            res = found.get(plan.keys[(i, m_i)])
            if res is None:
                errors.setdefault("not computed", []).append(metric.label)
            elif res.status == "error":
                errors.setdefault(res.error or "error", []).append(metric.label)
        # One message per distinct error, prefixed by the metrics it hit.
        rec["error"] = "; ".join(f"{', '.join(labels)}: {msg}"
                                 for msg, labels in errors.items()) or None
        records.append(rec)
    df = pd.DataFrame.from_records(records)
    if "error" not in df.columns:
        df["error"] = None
    # None (not NaN) where all went well, so `df.error is None` reads naturally.
    df["error"] = df["error"].astype(object).where(df["error"].notna(), None)
    return df

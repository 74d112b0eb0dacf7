"""Turning a plan and its stored results into the user's table.

One row per item, the item's own columns first (video, prompt, model, ...,
and any extra manifest columns untouched), then one column per score field,
then ``error`` (``"metric: message"`` joined with "; ", empty when all went
well). A field's column is its declared name; when two metrics in one run
declare the same field name (the same metric with two option sets, say), the
column gets the metric's label in brackets: ``clipscore[clipscore:model=x]``.

The table carries one :class:`~videojury.metrics.base.ResultField` per
score column in ``attrs`` (see :mod:`videojury.io`): which metric, options
and field each column holds and which way it points, so readers never look
a column up by its name.
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pandas as pd

from ..io import attach_fields
from ..metrics.base import Metric, ResultField, ScoreField
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


def result_fields(metrics: list[Metric]) -> list[ResultField]:
    """The field metadata of the score columns a run of ``metrics`` produces."""
    return [ResultField.of(metrics[m_i], f, col) for m_i, f, col in field_columns(metrics)]


def results_table(plan: Plan, store: Store, not_computed: dict[str, str] | None = None
                  ) -> pd.DataFrame:
    """The wide results table of a plan, read back from the store.

    ``not_computed`` maps a metric's label to why the run skipped it (its
    ``load()`` failed; see ``RunStats.load_errors``); its items' ``error`` says so.
    """
    not_computed = not_computed or {}
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
                why = not_computed.get(metric.label)
                errors.setdefault(f"not computed, the metric could not be loaded: {why}" if why
                                  else "not computed", []).append(metric.label)
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
    for _, _, col in cols:
        if col not in df.columns:  # a plan with no items
            df[col] = pd.Series(dtype=float)
    return attach_fields(df, result_fields(plan.metrics))

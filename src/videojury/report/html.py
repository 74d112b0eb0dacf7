"""The HTML report: one self-contained file, readable offline.

Figures and thumbnails are embedded as base64 data URIs, the style sheet and
the table-sorting script are inline, and nothing refers to the network, so
the file can be mailed, archived or opened from a laptop on a train. The
leaderboard sorts by any column on click (or Enter on a focused header):
the first click puts the best first, the second reverses.

The markup lives in jinja2 templates (``report/templates/*.html``, package
data) rendered with autoescaping: every value from the data (model names,
prompts, file names, messages) is escaped by the engine, never by hand. This
module only turns the data into plain values for the templates. The style
sheet and script are the package's own files, inserted as they are.
"""

from __future__ import annotations

import base64
import math
import re
from functools import lru_cache
from typing import Any, Sequence

import pandas as pd

from .._version import __version__
from ..analysis.leaderboard import MetricSpec
from ..bench.aggregate import ACCURACY, FieldInfo, normalise
from .build import Example, ReportData, field_title, figures


@lru_cache(maxsize=1)
def _env():
    import jinja2

    return jinja2.Environment(loader=jinja2.PackageLoader("videojury.report", "templates"),
                              autoescape=True, undefined=jinja2.StrictUndefined,
                              keep_trailing_newline=True)


@lru_cache(maxsize=1)
def _assets() -> tuple[Any, Any]:
    """The style sheet and the script, trusted package files (not escaped)."""
    from importlib.resources import files

    from markupsafe import Markup

    folder = files("videojury.report").joinpath("templates")
    return (Markup(folder.joinpath("report.css").read_text(encoding="utf-8")),
            Markup(folder.joinpath("report.js").read_text(encoding="utf-8")))


def _render(template: str, **context: Any) -> str:
    css, js = _assets()
    return _env().get_template(template).render(version=__version__, css=css, js=js, **context)


def _macro(name: str):
    return getattr(_env().get_template("_macros.html").module, name)


_BADGE = {1: "gold", 2: "silver", 3: "bronze"}


def _data_uri(data: bytes, mime: str) -> str:
    return f"data:{mime};base64," + base64.b64encode(data).decode("ascii")


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return math.nan
    return f


def fmt_value(v: Any, column: str = "") -> str:
    """A score for display: accuracy as a percentage, else 4 significant-ish digits."""
    f = _num(v)
    if not math.isfinite(f):
        return "\u2013"
    if column == ACCURACY:
        return f"{100 * f:.1f}%"
    if f != 0 and abs(f) < 0.001:
        return f"{f:.2e}"
    if abs(f) >= 1000:
        return f"{f:,.0f}"
    if abs(f) >= 100:
        return f"{f:.1f}"
    return f"{f:.4f}"


def _shade(x: float) -> str:
    """Background for a normalised value (0 worst .. 1 best): pale red to pale green."""
    if not math.isfinite(x):
        return ""
    hue = int(round(120 * x))
    return f"background-color:hsl({hue},62%,90%)"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def _board(table: pd.DataFrame, fields: Sequence[FieldInfo] | None = None,
           intervals: pd.DataFrame | None = None, name_col: str | None = None,
           table_id: str = "leaderboard") -> dict:
    """The leaderboard as plain values for the ``board`` macro."""
    name_col = name_col or table.attrs.get("name_col") or str(table.columns[0])
    specs: list[MetricSpec] = list(table.attrs.get("metrics") or [])
    if not specs:
        specs = [MetricSpec(c[5:]) for c in table.columns if str(c).startswith("rank:")]
    info = {f.column: f for f in (fields or [])}
    weighted = "score" in table.columns and "rank_sum" not in table.columns

    def th(label, tip, type_="num", first="asc", sort=None, cls=None, col=None) -> dict:
        return {"label": label, "tip": tip, "type": type_, "first": first, "sort": sort,
                "cls": cls, "col": col}

    head = [th("Rank", "overall rank (rank of the rank sum; ties share a rank)",
               sort="ascending"),
            th(str(name_col), "", type_="text", cls="txt")]
    head[1]["tip"] = None
    for m in specs:
        f = info.get(m.column)
        title = field_title(f) if f else m.title
        arrow = "\u2191" if m.higher_is_better else "\u2193"
        tip = (f.description + "; " if f and f.description else "") + (
            "higher is better" if m.higher_is_better else "lower is better")
        head.append(th(f"{title} {arrow}", tip, first="desc" if m.higher_is_better else "asc",
                       col=m.column))
    if weighted:
        head.append(th("Score", "weighted mean of the min-max normalised metrics", first="desc"))
    else:
        head.append(th("Rank sum", "sum of the per-metric ranks"))
    iv = None
    if intervals is not None and len(intervals):
        iv = intervals.set_index(intervals.columns[0])
        conf = int(round(100 * float(intervals.attrs.get("confidence", 0.95))))
        head.append(th(f"{conf}% rank interval",
                       f"{conf}% bootstrap interval of the overall rank, resampling prompts"))
    norms = {m.column: normalise(table[m.column].to_numpy(dtype=float), m.higher_is_better)
             for m in specs}
    rows = []
    for i, row in enumerate(table.itertuples(index=False)):
        rec = dict(zip(table.columns, row))
        rank = int(rec["overall_rank"])
        # CSS badges rather than emoji: a headless or minimal system may lack an emoji font.
        cells = [{"v": rank, "text": rank, "medal": _BADGE.get(rank)},
                 {"cls": "txt name", "v": None, "text": rec[name_col]}]
        for m in specs:
            v = _num(rec[m.column])
            r = rec.get(f"rank:{m.column}")
            rk = int(r) if r is not None and not (isinstance(r, float) and math.isnan(r)) \
                else None
            cells.append({"v": "" if not math.isfinite(v) else repr(v),
                          "style": _shade(norms[m.column][i]), "text": fmt_value(v, m.column),
                          "rk": rk})
        if weighted:
            sc = _num(rec["score"])
            cells.append({"v": repr(sc), "text": fmt_value(sc)})
        else:
            cells.append({"v": int(rec["rank_sum"]), "text": int(rec["rank_sum"])})
        if iv is not None:
            name = str(rec[name_col])
            if name in iv.index:
                lo, hi = int(iv.loc[name, "rank_lo"]), int(iv.loc[name, "rank_hi"])
                cells.append({"v": f"{lo + hi / 1000:.3f}", "text": f"{lo}\u2013{hi}"})
            else:
                cells.append({"v": "", "text": "\u2013"})
        rows.append({"name": rec[name_col], "cells": [
            {"cls": None, "style": None, "medal": None, "rk": None, **c} for c in cells]})
    return {"id": table_id, "head": head, "rows": rows}


def leaderboard_table(table: pd.DataFrame, fields: Sequence[FieldInfo] | None = None,
                      intervals: pd.DataFrame | None = None, name_col: str | None = None,
                      table_id: str = "leaderboard") -> str:
    """A sortable HTML table of a ranked table (from ``rank_table`` or ``weighted_table``)."""
    return str(_macro("board")(_board(table, fields, intervals, name_col, table_id)))


def leaderboard_page(table: pd.DataFrame, intervals: pd.DataFrame | None = None,
                     title: str = "Leaderboard") -> str:
    """A minimal self-contained page holding one sortable leaderboard."""
    method = table.attrs.get("method", "ranksum")
    how = ("Overall rank = rank of the sum of per-metric ranks (ties share a rank: 1, 2, 2, 4)."
           if method == "ranksum" else
           "Overall rank = rank of the weighted mean of min-max normalised metrics.")
    return _render("leaderboard.html", title=title, how=how,
                   table=_board(table, intervals=intervals))


def _heat(mat: pd.DataFrame, f: FieldInfo | None, column: str) -> dict:
    hib = True if f is None else f.higher_is_better
    vals = mat.to_numpy(dtype=float)
    norm = normalise(vals.ravel(), hib).reshape(vals.shape) if vals.size else vals
    return {"columns": [str(c) for c in mat.columns],
            "rows": [{"name": idx, "cells": [
                {"col": c, "style": _shade(norm[i, j]), "text": fmt_value(vals[i, j], column)}
                for j, c in enumerate(mat.columns)]} for i, idx in enumerate(mat.index)]}


def heat_table(mat: pd.DataFrame, f: FieldInfo | None, column: str) -> str:
    """A models x dimensions matrix as an HTML table with cells shaded worst (red) to best
    (green) over the whole matrix."""
    return str(_macro("heat")(_heat(mat, f, column)))


def _example(ex: Example, fields: dict[str, FieldInfo]) -> dict:
    parts = []
    for col, v in ex.scores.items():
        f = fields.get(col)
        arrow = "" if f is None else ("\u2191" if f.higher_is_better else "\u2193")
        parts.append(f"{col}{arrow} {fmt_value(v, col)}")
    return {"strip": None if ex.strip is None else _data_uri(ex.strip, "image/jpeg"),
            "why": ex.error or "the video could not be read", "rel": ex.rel, "kind": ex.kind,
            "prompt_id": ex.prompt_id, "prompt": ex.prompt, "error": ex.error,
            "score": "" if not math.isfinite(ex.combined) else f"combined {ex.combined:.2f} \u00b7",
            "values": " \u00b7 ".join(parts)}


def render_html(data: ReportData) -> str:
    """The whole report as one HTML string."""
    figs = figures(data)
    fields = data.field_by_column
    nav = [("leaderboard-sec", "Leaderboard")]
    if "dimensions" in figs or data.field_matrices:
        nav.append(("dimensions-sec", "Task dimensions"))
    if "bars" in figs:
        nav.append(("metrics-sec", "Metrics"))
    if "profiles" in figs:
        nav.append(("profiles-sec", "Profiles"))
    models = []
    if data.examples:
        nav.append(("examples-sec", "Best and worst videos"))
        order = [str(x) for x in data.leaderboard[data.name_col]]
        ranks = dict(zip(order, data.leaderboard["overall_rank"]))
        for i, model in enumerate(m for m in order if m in data.examples):
            models.append({"name": model, "slug": _slug(model), "open": i < 3,
                           "rank": int(ranks[model]),
                           "examples": [_example(ex, fields) for ex in data.examples[model]]})
    uri = {k: _data_uri(v, "image/png") for k, v in figs.items()}
    field_mats = [(field_title(fields.get(col)) if fields.get(col) else col,
                   _heat(mat, fields.get(col), col)) for col, mat in data.field_matrices.items()]
    return _render("report.html", title=data.title, nav=nav, facts=list(data.facts),
                   problems=list(data.problems), n_models=len(data.leaderboard),
                   table=_board(data.leaderboard, data.fields, data.intervals, data.name_col),
                   dimensions_fig=uri.get("dimensions"), bars_fig=uri.get("bars"),
                   profiles_fig=uri.get("profiles"), field_matrices=field_mats, models=models)


__all__ = ["fmt_value", "heat_table", "leaderboard_page", "leaderboard_table", "render_html"]

"""Leaderboards rendered: Markdown and HTML tables, and one ``render`` for every format.

The rank math (competition ranks, weighted scores, bootstrap intervals) is
:mod:`videojury.analysis.leaderboard`; its data forms (CSV, JSON records)
stay there. This module only turns a ranked table into text.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..analysis.leaderboard import MEDALS, _specs_of, to_csv, to_json
from ..errors import InputError
from .html import leaderboard_page

FORMATS = ("md", "markdown", "csv", "json", "html")


def _fmt(v: Any, digits: int = 4) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    if isinstance(v, float) and math.isinf(v):
        return "inf" if v > 0 else "-inf"
    if isinstance(v, (int, np.integer)):
        return str(int(v))
    return f"{float(v):.{digits}g}" if abs(float(v)) >= 1e4 else f"{float(v):.{digits}f}"


def md_cell(text: object) -> str:
    """Text for a Markdown table cell: pipes escaped, one line, ``<``/``>`` as entities
    (so a prompt like "a sign reading <open>" is shown, not taken for a tag)."""
    return (str(text).replace("|", "\\|").replace("\n", " ").replace("<", "&lt;")
            .replace(">", "&gt;"))


def to_markdown(table: pd.DataFrame, intervals: pd.DataFrame | None = None,
                digits: int = 4) -> str:
    """A Markdown table: overall rank (medals for 1, 2 and 3), name, each metric's
    value and rank (an arrow says which way is better), then the rank sum or score."""
    name_col = table.attrs.get("name_col", table.columns[0])
    specs = _specs_of(table)
    weighted = "score" in table.columns and "rank_sum" not in table.columns
    head = ["Rank", str(name_col)]
    for m in specs:
        arrow = "\u2191" if m.higher_is_better else "\u2193"
        head += [f"{m.title} {arrow}", "rank"]
    head.append("Score" if weighted else "Rank sum")
    iv = None
    if intervals is not None:
        iv = intervals.set_index(intervals.columns[0])
        head.append(f"{int(intervals.attrs.get('confidence', 0.95) * 100)}% rank interval")
    lines = ["| " + " | ".join(head) + " |",
             "|" + "|".join(["---:", ":---"] + ["---:"] * (len(head) - 2)) + "|"]
    for _, row in table.iterrows():
        rank = int(row["overall_rank"])
        medal = MEDALS.get(rank)
        cells = [f"{medal} {rank}" if medal else str(rank), md_cell(row[name_col])]
        for m in specs:
            cells += [_fmt(row[m.column], digits), str(int(row[f"rank:{m.column}"]))]
        cells.append(_fmt(row["score"], digits) if weighted else str(int(row["rank_sum"])))
        if iv is not None:
            name = str(row[name_col])
            cells.append(f"{int(iv.loc[name, 'rank_lo'])}–{int(iv.loc[name, 'rank_hi'])}"
                         if name in iv.index else "–")
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def render(table: pd.DataFrame, fmt: str, intervals: pd.DataFrame | None = None,
           title: str = "Leaderboard") -> str:
    """Render a ranked table as ``md``, ``csv``, ``json`` or ``html``."""
    fmt = fmt.lower()
    if fmt in ("md", "markdown"):
        return to_markdown(table, intervals)
    if fmt == "csv":
        return to_csv(table, intervals)
    if fmt == "json":
        return to_json(table, intervals)
    if fmt == "html":
        return leaderboard_page(table, intervals, title=title)
    raise InputError(f"unknown format {fmt!r}: use md, csv, json or html")




def write_markdown(table: pd.DataFrame, path: str | Path,
                   intervals: pd.DataFrame | None = None) -> Path:
    """Write :func:`to_markdown` to ``path`` (UTF-8) and return the path."""
    path = Path(path)
    path.write_text(to_markdown(table, intervals), encoding="utf-8")
    return path


__all__ = ["FORMATS", "md_cell", "render", "to_markdown", "write_markdown"]

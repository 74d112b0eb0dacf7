"""The Markdown report: the same content as the HTML one, for a repository or a wiki.

Figures and thumbnail strips are written as files into an assets folder
next to the Markdown file and linked relatively, so the page renders on
GitHub or in any Markdown viewer without a server.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path

import pandas as pd

from ..bench.aggregate import ACCURACY
from .build import ReportData, field_title, figures
from .html import fmt_value
from .leaderboard import md_cell as _cell
from .leaderboard import to_markdown


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_-]+", "-", text).strip("-") or "x"


def matrix_markdown(mat: pd.DataFrame, digits: int = 2) -> str:
    """A models x dimensions table in Markdown."""
    head = "| model | " + " | ".join(_cell(c) for c in mat.columns) + " |"
    sep = "|:---|" + "---:|" * len(mat.columns)
    rows = [f"| {_cell(idx)} | " + " | ".join(
        "\u2013" if not math.isfinite(float(v)) else f"{float(v):.{digits}f}" for v in row) + " |"
        for idx, row in zip(mat.index, mat.to_numpy(dtype=float))]
    return "\n".join([head, sep, *rows]) + "\n"


def render_markdown(data: ReportData, assets: str | os.PathLike) -> str:
    """The report as Markdown; images go to ``assets`` (created), linked relative to its
    parent folder (where the Markdown file is expected to be written)."""
    assets = Path(assets)
    assets.mkdir(parents=True, exist_ok=True)
    rel = assets.name
    figs = figures(data)

    def save(name: str, blob: bytes) -> str:
        (assets / name).write_bytes(blob)
        return f"{rel}/{name}"

    # Every name, title and message is the user's text: headings and list items escape it
    # like table cells, so a model called "<script>..." is shown, never run.
    out = [f"# {_cell(data.title)}", ""]
    for k, v in data.facts:
        out.append(f"- **{_cell(k)}:** {_cell(v)}")
    if data.facts:
        out.append("")
    if data.problems:
        out += ["> **Problems found before scoring**", ">"]
        out += [f"> - {_cell(p)}" for p in data.problems]
        out.append("")
    out += ["## Leaderboard", "",
            "Each metric is ranked in its own direction (\u2191 higher is better, \u2193 lower "
            "is better); the overall rank is the rank of the rank sum, ties sharing a rank.", "",
            to_markdown(data.leaderboard, data.intervals)]
    if data.dimension_matrix is not None and data.dimension_matrix.size:
        out += ["## Task dimensions", "",
                "Every metric's mean per model and dimension, normalised over all cells and "
                "averaged (1 = best cell, 0 = worst).", ""]
        if "dimensions" in figs:
            out += [f"![models by task dimensions]({save('dimensions.png', figs['dimensions'])})",
                    ""]
        out += [matrix_markdown(data.dimension_matrix)]
        for col, mat in data.field_matrices.items():
            f = data.field_by_column.get(col)
            title = field_title(f) if f else col
            pct = col == ACCURACY
            out += [f"### {_cell(title)} per dimension", "",
                    matrix_markdown(mat * (100.0 if pct else 1.0), 1 if pct else 3)]
    if "bars" in figs:
        bars = save("bars.png", figs["bars"])
        out += ["## Metrics per model", "", f"![metrics per model]({bars})", ""]
    if "profiles" in figs:
        out += ["## Model profiles", "",
                "Each model's metrics normalised over the models (outer ring = best).", "",
                f"![model profiles]({save('profiles.png', figs['profiles'])})", ""]
    if data.examples:
        out += ["## Best and worst videos", ""]
        order = [str(x) for x in data.leaderboard[data.name_col]]
        for j, model in enumerate(m for m in order if m in data.examples):
            out += [f"### {_cell(model)}", "", "| | frames | prompt | scores |", "|:---|:---|:---|:---|"]
            for i, ex in enumerate(data.examples[model]):
                if ex.strip is not None:
                    # The position keeps names apart whose slugs collide ("a b" and "a-b",
                    # or two names in a non-Latin script, which both slug to "x").
                    path = save(f"{j + 1:02d}-{_slug(model)}-{ex.kind}-{i}.jpg", ex.strip)
                    pic = f"![{_cell(ex.rel)}]({path})"
                else:
                    pic = f"no frames ({_cell(ex.error or 'unreadable')})"
                scores = ", ".join(f"{c} {fmt_value(v, c)}" for c, v in ex.scores.items())
                if ex.error:
                    scores += f" (error: {ex.error})"
                out.append(f"| {ex.kind} | {pic} | **{_cell(ex.prompt_id)}** {_cell(ex.prompt)}"
                           f" | {_cell(scores)} |")
            out.append("")
    return "\n".join(out).rstrip() + "\n"


__all__ = ["matrix_markdown", "render_markdown"]

"""The HTML report: one self-contained file, readable offline.

Figures and thumbnails are embedded as base64 data URIs, the style sheet and
the table-sorting script are inline, and nothing refers to the network, so
the file can be mailed, archived or opened from a laptop on a train. The
leaderboard sorts by any column on click (or Enter on a focused header):
the first click puts the best first, the second reverses.
"""

from __future__ import annotations

import base64
import html
import math
import re
from typing import Any, Sequence

import pandas as pd

from .._version import __version__
from ..analysis.leaderboard import MetricSpec
from ..bench.aggregate import ACCURACY, FieldInfo, normalise
from .build import Example, ReportData, field_title, figures

_CSS = """
:root { --fg:#1d232a; --muted:#5f6b7a; --line:#d8dee6; --head:#f3f5f8; --accent:#2456a6; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
       sans-serif; color: var(--fg); margin: 0; background: #fff; }
main { max-width: 1280px; margin: 0 auto; padding: 20px 24px 60px; }
h1 { font-size: 24px; margin: 8px 0 4px; }
h2 { font-size: 19px; margin: 34px 0 8px; padding-top: 8px; border-top: 1px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
nav { font-size: 13px; color: var(--muted); margin-bottom: 8px; }
nav a { color: var(--accent); text-decoration: none; margin-right: 14px; }
dl.facts { display: grid; grid-template-columns: max-content 1fr; gap: 2px 14px; margin: 10px 0;
           font-size: 13px; }
dl.facts dt { color: var(--muted); }
dl.facts dd { margin: 0; }
.note { color: var(--muted); font-size: 12.5px; }
.problems { background: #fff8e6; border: 1px solid #f0d9a0; padding: 8px 12px; border-radius: 6px;
            font-size: 13px; }
.problems li { margin: 3px 0; }
.tablewrap { overflow-x: auto; border: 1px solid var(--line); border-radius: 6px; }
table.board { border-collapse: separate; border-spacing: 0; font-size: 13px; width: 100%;
              font-variant-numeric: tabular-nums; }
table.board th { position: sticky; top: 0; background: var(--head); z-index: 1; text-align: right;
                 padding: 6px 8px; border-bottom: 1px solid var(--line); cursor: pointer;
                 white-space: nowrap; user-select: none; }
table.board th.txt, table.board td.txt { text-align: left; }
table.board th:hover, table.board th:focus { background: #e6ebf2; outline: none; }
table.board th[aria-sort="ascending"]::after { content: " \\25B2"; font-size: 10px; }
table.board th[aria-sort="descending"]::after { content: " \\25BC"; font-size: 10px; }
table.board td { padding: 4px 8px; text-align: right; border-bottom: 1px solid #eef1f5;
                 white-space: nowrap; }
table.board tbody tr:hover td { background-color: #f4f8ff; }
table.board td.name { font-weight: 600; }
table.board td .rk { color: var(--muted); font-size: 11px; margin-left: 4px; }
.medal { display: inline-block; min-width: 22px; padding: 0 5px; border-radius: 11px;
         text-align: center; font-weight: 700; color: #222; }
.medal.gold { background: #f5c542; } .medal.silver { background: #cfd6de; }
.medal.bronze { background: #e0a470; }
table.heat th.dim { max-width: 90px; overflow: hidden; text-overflow: ellipsis; cursor: default;
                   font-weight: 500; font-size: 11.5px; }
table.heat td { font-size: 11.5px; padding: 3px 5px; }
img.fig { max-width: 100%; height: auto; display: block; margin: 8px 0; }
details { margin: 6px 0; }
details > summary { cursor: pointer; color: var(--accent); }
.model { border: 1px solid var(--line); border-radius: 6px; padding: 4px 12px; margin: 10px 0; }
.model > summary { font-weight: 600; color: var(--fg); padding: 4px 0; }
.strips { display: grid; grid-template-columns: repeat(auto-fill, minmax(380px, 1fr));
          gap: 10px 16px; }
figure.ex { margin: 0; font-size: 12px; }
figure.ex img { max-width: 100%; height: auto; display: block; border-radius: 3px; }
figure.ex figcaption { margin-top: 3px; }
figure.ex .tag { display: inline-block; padding: 0 6px; border-radius: 8px; font-size: 11px;
                 margin-right: 4px; color: #fff; }
.tag.best { background: #2e8540; } .tag.worst { background: #b3261e; }
figure.ex code { color: var(--muted); font-size: 11px; word-break: break-all; }
.missing { background: #f6f6f6; color: var(--muted); padding: 14px; border-radius: 3px; }
footer { margin-top: 40px; color: var(--muted); font-size: 12px; }
"""

# Sorting: rows are re-appended in the new order; ties keep their previous order
# (Array.prototype.sort is stable), missing values always go last.
_JS = """
(function () {
  function key(cell, numeric) {
    var v = cell.getAttribute('data-v');
    if (v === null) { v = cell.textContent.trim(); }
    if (!numeric) { return v.toLowerCase(); }
    var x = parseFloat(v);
    return isNaN(x) ? null : x;
  }
  function sortBy(table, th) {
    var col = Array.prototype.indexOf.call(th.parentNode.cells, th);
    var numeric = th.getAttribute('data-type') === 'num';
    var cur = th.getAttribute('aria-sort');
    var dir = cur === 'ascending' ? 'descending' : cur === 'descending' ? 'ascending' :
              (th.getAttribute('data-first') === 'desc' ? 'descending' : 'ascending');
    var sign = dir === 'ascending' ? 1 : -1;
    var body = table.tBodies[0];
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = key(a.cells[col], numeric), y = key(b.cells[col], numeric);
      if (x === null && y === null) { return 0; }
      if (x === null) { return 1; }
      if (y === null) { return -1; }
      return x < y ? -sign : x > y ? sign : 0;
    });
    rows.forEach(function (r) { body.appendChild(r); });
    Array.prototype.forEach.call(th.parentNode.cells, function (h) {
      h.removeAttribute('aria-sort');
    });
    th.setAttribute('aria-sort', dir);
  }
  Array.prototype.forEach.call(document.querySelectorAll('table.sortable'), function (table) {
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.tabIndex = 0;
      th.addEventListener('click', function () { sortBy(table, th); });
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sortBy(table, th); }
      });
    });
  });
})();
"""


_BADGE = {1: "gold", 2: "silver", 3: "bronze"}


def _e(text: Any) -> str:
    return html.escape(str(text), quote=True)


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


def leaderboard_table(table: pd.DataFrame, fields: Sequence[FieldInfo] | None = None,
                      intervals: pd.DataFrame | None = None, name_col: str | None = None,
                      table_id: str = "leaderboard") -> str:
    """A sortable HTML table of a ranked table (from ``rank_table`` or ``weighted_table``)."""
    name_col = name_col or table.attrs.get("name_col") or str(table.columns[0])
    specs: list[MetricSpec] = list(table.attrs.get("metrics") or [])
    if not specs:
        specs = [MetricSpec(c[5:]) for c in table.columns if str(c).startswith("rank:")]
    info = {f.column: f for f in (fields or [])}
    weighted = "score" in table.columns and "rank_sum" not in table.columns
    head = ['<th data-type="num" data-first="asc" aria-sort="ascending" '
            'title="overall rank (rank of the rank sum; ties share a rank)">Rank</th>',
            f'<th class="txt" data-type="text" data-first="asc">{_e(name_col)}</th>']
    for m in specs:
        f = info.get(m.column)
        title = field_title(f) if f else m.title
        arrow = "\u2191" if m.higher_is_better else "\u2193"
        tip = (f.description + "; " if f and f.description else "") + (
            "higher is better" if m.higher_is_better else "lower is better")
        head.append(f'<th data-type="num" data-first="{"desc" if m.higher_is_better else "asc"}" '
                    f'data-col="{_e(m.column)}" title="{_e(tip)}">{_e(title)} {arrow}</th>')
    if weighted:
        head.append('<th data-type="num" data-first="desc" title="weighted mean of the '
                    'min-max normalised metrics">Score</th>')
    else:
        head.append('<th data-type="num" data-first="asc" title="sum of the per-metric ranks">'
                    'Rank sum</th>')
    iv = None
    if intervals is not None and len(intervals):
        iv = intervals.set_index(intervals.columns[0])
        conf = int(round(100 * float(intervals.attrs.get("confidence", 0.95))))
        head.append(f'<th data-type="num" data-first="asc" title="{conf}% bootstrap interval of '
                    f'the overall rank, resampling prompts">{conf}% rank interval</th>')
    norms = {m.column: normalise(table[m.column].to_numpy(dtype=float), m.higher_is_better)
             for m in specs}
    body = []
    for i, row in enumerate(table.itertuples(index=False)):
        rec = dict(zip(table.columns, row))
        rank = int(rec["overall_rank"])
        # CSS badges rather than emoji: a headless or minimal system may lack an emoji font.
        medal = _BADGE.get(rank)
        label = f'<span class="medal {medal}" title="{medal}">{rank}</span>' if medal else str(rank)
        cells = [f'<td data-v="{rank}">{label}</td>',
                 f'<td class="txt name">{_e(rec[name_col])}</td>']
        for m in specs:
            v = _num(rec[m.column])
            r = rec.get(f"rank:{m.column}")
            dv = "" if not math.isfinite(v) else repr(v)
            rk = f'<span class="rk">#{int(r)}</span>' if r is not None and not (
                isinstance(r, float) and math.isnan(r)) else ""
            cells.append(f'<td data-v="{dv}" style="{_shade(norms[m.column][i])}">'
                         f'{fmt_value(v, m.column)}{rk}</td>')
        if weighted:
            sc = _num(rec["score"])
            cells.append(f'<td data-v="{sc!r}">{fmt_value(sc)}</td>')
        else:
            cells.append(f'<td data-v="{int(rec["rank_sum"])}">{int(rec["rank_sum"])}</td>')
        if iv is not None:
            name = str(rec[name_col])
            if name in iv.index:
                lo, hi = int(iv.loc[name, "rank_lo"]), int(iv.loc[name, "rank_hi"])
                cells.append(f'<td data-v="{lo + hi / 1000:.3f}">{lo}\u2013{hi}</td>')
            else:
                cells.append('<td data-v="">\u2013</td>')
        body.append(f'<tr data-name="{_e(rec[name_col])}">' + "".join(cells) + "</tr>")
    return (f'<div class="tablewrap"><table class="board sortable" id="{_e(table_id)}">'
            f'<thead><tr>{"".join(head)}</tr></thead><tbody>\n' + "\n".join(body) +
            "\n</tbody></table></div>")


def _page(title: str, body: str) -> str:
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<meta name=\"generator\" content=\"videojury {_e(__version__)}\">"
            f"<title>{_e(title)}</title><style>{_CSS}</style></head>\n<body><main>\n{body}\n"
            f"<footer>Made with videojury {_e(__version__)}. Self-contained: no network access "
            f"is needed to view this file.</footer></main>\n<script>{_JS}</script>\n"
            "</body></html>\n")


def leaderboard_page(table: pd.DataFrame, intervals: pd.DataFrame | None = None,
                     title: str = "Leaderboard") -> str:
    """A minimal self-contained page holding one sortable leaderboard."""
    method = table.attrs.get("method", "ranksum")
    how = ("Overall rank = rank of the sum of per-metric ranks (ties share a rank: 1, 2, 2, 4)."
           if method == "ranksum" else
           "Overall rank = rank of the weighted mean of min-max normalised metrics.")
    body = (f"<h1>{_e(title)}</h1><p class=\"note\">{_e(how)} Click a column header to sort."
            f"</p>\n{leaderboard_table(table, intervals=intervals)}")
    return _page(title, body)


def _img(png: bytes, alt: str, mime: str = "image/png", cls: str = "fig") -> str:
    return f'<img class="{cls}" alt="{_e(alt)}" src="{_data_uri(png, mime)}">'


def heat_table(mat: pd.DataFrame, f: FieldInfo | None, column: str) -> str:
    """A models x dimensions matrix as an HTML table with cells shaded worst (red) to best
    (green) over the whole matrix."""
    hib = True if f is None else f.higher_is_better
    vals = mat.to_numpy(dtype=float)
    norm = normalise(vals.ravel(), hib).reshape(vals.shape) if vals.size else vals
    head = "".join(f'<th class="dim" title="{_e(c)}">{_e(c)}</th>' for c in mat.columns)
    rows = []
    for i, idx in enumerate(mat.index):
        cells = "".join(
            f'<td style="{_shade(norm[i, j])}" title="{_e(idx)} / {_e(c)}: '
            f'{fmt_value(vals[i, j], column)}">{fmt_value(vals[i, j], column)}</td>'
            for j, c in enumerate(mat.columns))
        rows.append(f'<tr><td class="txt name">{_e(idx)}</td>{cells}</tr>')
    return (f'<div class="tablewrap"><table class="board heat"><thead><tr><th class="txt">model'
            f'</th>{head}</tr></thead><tbody>' + "".join(rows) + "</tbody></table></div>")


def _example_html(ex: Example, fields: dict[str, FieldInfo]) -> str:
    if ex.strip is not None:
        pic = _img(ex.strip, f"frames of {ex.rel}", "image/jpeg", "strip")
    else:
        why = _e(ex.error or "the video could not be read")
        pic = f'<div class="missing">no frames: {why}</div>'
    parts = []
    for col, v in ex.scores.items():
        f = fields.get(col)
        arrow = "" if f is None else ("\u2191" if f.higher_is_better else "\u2193")
        parts.append(f"{_e(col)}{arrow} {fmt_value(v, col)}")
    score = "" if not math.isfinite(ex.combined) else f" combined {ex.combined:.2f} \u00b7"
    values = " \u00b7 ".join(parts)
    err = f'<br><span class="note">error: {_e(ex.error)}</span>' if ex.error else ""
    return (f'<figure class="ex">{pic}<figcaption><span class="tag {ex.kind}">{ex.kind}</span>'
            f'<b>{_e(ex.prompt_id)}</b> {_e(ex.prompt)}<br><span class="note">{score} '
            f'{values}</span>{err}<br><code>{_e(ex.rel)}</code></figcaption>'
            "</figure>")


def render_html(data: ReportData) -> str:
    """The whole report as one HTML string."""
    figs = figures(data)
    fields = data.field_by_column
    sections: list[str] = []
    nav = ['<a href="#leaderboard-sec">Leaderboard</a>']
    facts = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in data.facts)
    head = f"<h1>{_e(data.title)}</h1>" + (f'<dl class="facts">{facts}</dl>' if facts else "")
    if data.problems:
        items = "".join(f"<li>{_e(p)}</li>" for p in data.problems)
        head += (f'<details class="problems" open><summary>{len(data.problems)} problem(s) found '
                 f"before scoring</summary><ul>{items}</ul></details>")
    n = len(data.leaderboard)
    sections.append(
        f'<h2 id="leaderboard-sec">Leaderboard</h2><p class="note">{n} models. Each metric is '
        "ranked in its own direction (\u2191 higher is better, \u2193 lower is better); the "
        "overall rank is the rank of the rank sum, ties sharing a rank (1, 2, 2, 4). Cells are "
        "shaded from the worst (red) to the best (green) model on that column. Click a header "
        "to sort; click again to reverse.</p>" +
        leaderboard_table(data.leaderboard, data.fields, data.intervals, data.name_col))
    if "dimensions" in figs or data.field_matrices:
        nav.append('<a href="#dimensions-sec">Task dimensions</a>')
        parts = ['<h2 id="dimensions-sec">Task dimensions</h2>']
        if "dimensions" in figs:
            parts.append('<p class="note">Every metric\'s mean per model and task dimension, '
                         "normalised over all cells (direction-aware) and averaged: 1 is the "
                         "best cell of the table, 0 the worst.</p>")
            parts.append(_img(figs["dimensions"], "heatmap of models by task dimensions"))
        for col, mat in data.field_matrices.items():
            f = fields.get(col)
            parts.append(f"<details><summary>{_e(field_title(f) if f else col)} per "
                         f"dimension</summary>{heat_table(mat, f, col)}</details>")
        sections.append("".join(parts))
    if "bars" in figs:
        nav.append('<a href="#metrics-sec">Metrics</a>')
        sections.append('<h2 id="metrics-sec">Metrics per model</h2><p class="note">Each '
                        "metric's mean over a model's videos, best model on top.</p>" +
                        _img(figs["bars"], "bar charts of each metric per model"))
    if "profiles" in figs:
        nav.append('<a href="#profiles-sec">Profiles</a>')
        sections.append('<h2 id="profiles-sec">Model profiles</h2><p class="note">Each model\'s '
                        "metrics normalised over the models (outer ring = best model on that "
                        "metric, centre = worst).</p>" +
                        _img(figs["profiles"], "profile chart per model"))
    if data.examples:
        nav.append('<a href="#examples-sec">Best and worst videos</a>')
        order = [str(x) for x in data.leaderboard[data.name_col]]
        blocks = ['<h2 id="examples-sec">Best and worst videos</h2><p class="note">Per model, '
                  "its videos with the highest and lowest combined score (every metric "
                  "normalised over all videos, then averaged), as frames sampled uniformly "
                  "over time.</p>"]
        ranks = dict(zip(order, data.leaderboard["overall_rank"]))
        for i, model in enumerate(m for m in order if m in data.examples):
            exs = data.examples[model]
            figs_html = "".join(_example_html(ex, fields) for ex in exs)
            blocks.append(f'<details class="model" id="model-{_slug(model)}"'
                          f'{" open" if i < 3 else ""}><summary>#{int(ranks[model])} '
                          f'{_e(model)}</summary><div class="strips">{figs_html}</div>'
                          "</details>")
        sections.append("".join(blocks))
    body = f"<nav>{''.join(nav)}</nav>" + head + "\n".join(sections)
    return _page(data.title, body)


__all__ = ["fmt_value", "leaderboard_page", "leaderboard_table", "render_html"]

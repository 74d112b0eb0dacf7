"""Matplotlib figures for the report, returned as PNG bytes.

Every figure is sized from its data (rows x columns), so 3 models or 30
models by 20 dimensions both stay legible; the Agg backend is used
explicitly, so nothing needs a display.
"""

from __future__ import annotations

import io
import math
from typing import Sequence

import numpy as np
import pandas as pd

_DPI = 110


def _plt():
    import matplotlib  # noqa: PLC0415 - heavy; imported when a report is drawn

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt  # noqa: PLC0415

    return plt


def _png(fig, tight: bool = True) -> bytes:
    buf = io.BytesIO()
    # Fixed metadata keeps the bytes identical across runs (no creation date). A tight
    # bounding box costs a second draw; figures laid out by hand skip it.
    fig.savefig(buf, format="png", dpi=_DPI, bbox_inches="tight" if tight else None,
                metadata={"Software": None})
    _plt().close(fig)
    return buf.getvalue()


def _short(label: str, n: int = 28) -> str:
    return label if len(label) <= n else label[: n - 1] + "\u2026"


def heatmap(matrix: pd.DataFrame, title: str, *, vmin: float | None = None,
            vmax: float | None = None, higher_is_better: bool = True, cbar_label: str = "",
            fmt: str = "{:.2f}", annotate: bool | None = None) -> bytes:
    """Rows x columns heatmap (models x dimensions), values written in the cells.

    The colour map runs from red (worst) to green (best) whichever way the
    values point; missing cells are grey. ``annotate`` (default: up to 900
    cells, which covers 30 models x 30 dimensions) writes each value.
    """
    plt = _plt()
    n_r, n_c = matrix.shape
    w = min(3.0 + 0.62 * n_c, 22.0)
    h = min(1.6 + 0.3 * n_r, 24.0)
    fig, ax = plt.subplots(figsize=(w, h))
    data = matrix.to_numpy(dtype=float)
    cmap = plt.get_cmap("RdYlGn" if higher_is_better else "RdYlGn_r").with_extremes(
        bad="#dddddd")
    finite = data[np.isfinite(data)]
    lo = vmin if vmin is not None else (finite.min() if finite.size else 0.0)
    hi = vmax if vmax is not None else (finite.max() if finite.size else 1.0)
    if hi == lo:
        hi = lo + 1e-9
    im = ax.imshow(np.ma.masked_invalid(data), cmap=cmap, vmin=lo, vmax=hi, aspect="auto")
    ax.set_xticks(range(n_c))
    ax.set_xticklabels([_short(str(c), 22) for c in matrix.columns], rotation=40, ha="right",
                       fontsize=8)
    ax.set_yticks(range(n_r))
    ax.set_yticklabels([_short(str(r)) for r in matrix.index], fontsize=8)
    ax.set_title(title, fontsize=10, loc="left")
    size = 7 if n_c <= 12 else 6
    if annotate is None:
        annotate = n_r * n_c <= 900
    for i in range(n_r if annotate else 0):
        for j in range(n_c):
            v = data[i, j]
            if np.isfinite(v):
                # Dark text on the light middle of the map, white on the saturated ends.
                t = (v - lo) / (hi - lo)
                ax.text(j, i, fmt.format(v), ha="center", va="center", fontsize=size,
                        color="black" if 0.2 < t < 0.8 else "white")
    ax.set_xticks(np.arange(-0.5, n_c, 1), minor=True)
    ax.set_yticks(np.arange(-0.5, n_r, 1), minor=True)
    ax.grid(which="minor", color="white", linewidth=0.8)
    ax.tick_params(which="minor", length=0)
    cb = fig.colorbar(im, ax=ax, fraction=0.03, pad=0.02)
    cb.ax.tick_params(labelsize=7)
    if cbar_label:
        cb.set_label(cbar_label, fontsize=8)
    return _png(fig)


def field_bars(per_model: pd.DataFrame, fields: Sequence[tuple[str, bool, str]],
               name_col: str = "model") -> bytes:
    """One horizontal bar chart per field, models sorted best first (``fields``:
    ``(column, higher_is_better, title)``)."""
    plt = _plt()
    n = len(per_model)
    k = len(fields)
    cols = min(k, 3)
    rows = math.ceil(k / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, max(1.8, 0.9 + 0.2 * n) * rows),
                             squeeze=False)
    cmap = plt.get_cmap("viridis")
    for idx, (col, hib, title) in enumerate(fields):
        ax = axes[idx // cols][idx % cols]
        t = per_model[[name_col, col]].copy()
        t = t.sort_values(col, ascending=not hib, na_position="last", kind="mergesort")
        vals = t[col].to_numpy(dtype=float)
        y = np.arange(len(t))[::-1]
        colours = [cmap(0.15 + 0.7 * (1 - i / max(1, len(t) - 1))) for i in range(len(t))]
        ax.barh(y, np.nan_to_num(vals, nan=0.0), color=colours)
        ax.set_yticks(y)
        ax.set_yticklabels([_short(str(s), 22) for s in t[name_col]], fontsize=7)
        arrow = "\u2191 higher is better" if hib else "\u2193 lower is better"
        ax.set_title(f"{title}  ({arrow})", fontsize=9, loc="left")
        ax.tick_params(axis="x", labelsize=7)
        finite = vals[np.isfinite(vals)]
        if finite.size:
            lo, hi = finite.min(), finite.max()
            pad = (hi - lo) * 0.15 or abs(hi) * 0.05 or 1.0
            ax.set_xlim(max(0.0, lo - pad) if lo >= 0 else lo - pad, hi + pad * 0.3)
        ax.spines[["top", "right"]].set_visible(False)
    for idx in range(k, rows * cols):
        axes[idx // cols][idx % cols].axis("off")
    fig.tight_layout()
    return _png(fig, tight=False)


def profiles(norm: pd.DataFrame, title: str = "") -> bytes:
    """Small multiples, one radar per model (row of ``norm``) of its normalised field
    values (1 = best model on that field); a key in the first cell names the spokes.

    All radars are drawn as polygons on one plain axes: 30 polar sub-axes
    would cost seconds, this costs a fraction of one. With fewer than three
    fields a radar degenerates, so bars are drawn instead.
    """
    plt = _plt()
    n, k = norm.shape
    cells = n + 1
    cols = min(cells, 6)
    rows = math.ceil(cells / cols)
    fig, ax = plt.subplots(figsize=(2.1 * cols, 2.25 * rows))
    ax.set_xlim(-0.45, cols * 2.5 - 0.05)
    ax.set_ylim(-rows * 2.7 - 0.3, 0.25)  # room below the last row for its labels
    ax.set_aspect("equal")
    ax.axis("off")
    labels = [_short(str(c), 14) for c in norm.columns]
    angles = np.pi / 2 - np.linspace(0, 2 * np.pi, max(k, 1), endpoint=False)
    radar = k >= 3

    def centre(i: int) -> tuple[float, float]:
        return 1.0 + 2.5 * (i % cols), -1.25 - 2.7 * (i // cols)

    def frame(cx: float, cy: float) -> None:
        if radar:
            for r in (0.5, 1.0):
                xs = cx + r * np.cos(np.r_[angles, angles[:1]])
                ys = cy + r * np.sin(np.r_[angles, angles[:1]])
                ax.plot(xs, ys, color="#c8ced6", linewidth=0.6)
            for a in angles:
                ax.plot([cx, cx + np.cos(a)], [cy, cy + np.sin(a)], color="#c8ced6",
                        linewidth=0.6)
        else:
            ax.plot([cx - 1, cx - 1, cx + 1], [cy + 1, cy - 1, cy - 1], color="#c8ced6",
                    linewidth=0.6)

    # The key: spoke names around an empty frame.
    cx, cy = centre(0)
    frame(cx, cy)
    for j, lab in enumerate(labels):
        if radar:
            a = angles[j]
            ax.text(cx + 1.12 * np.cos(a), cy + 1.12 * np.sin(a), lab, fontsize=6.5,
                    ha="center", va="center")
        else:
            ax.text(cx - 0.95, cy + 0.7 - j * (1.6 / max(k, 1)), lab, fontsize=6.5, va="center")
    ax.text(cx, cy - 1.35, "key (outer = best)", fontsize=7, ha="center", va="top",
            color="#5f6b7a")
    for i, (model, row) in enumerate(norm.iterrows(), start=1):
        cx, cy = centre(i)
        frame(cx, cy)
        v = np.clip(np.nan_to_num(row.to_numpy(dtype=float), nan=0.0), 0.0, 1.0)
        if radar:
            xs = cx + v * np.cos(angles)
            ys = cy + v * np.sin(angles)
            ax.fill(xs, ys, color="#1f77b4", alpha=0.3, linewidth=0)
            ax.plot(np.r_[xs, xs[:1]], np.r_[ys, ys[:1]], color="#1f77b4", linewidth=1.1)
        else:
            h = 1.6 / max(k, 1)
            for j, x in enumerate(v):
                y = cy + 0.7 - j * h
                ax.fill([cx - 1, cx - 1 + 2 * x, cx - 1 + 2 * x, cx - 1],
                        [y - h * 0.35, y - h * 0.35, y + h * 0.35, y + h * 0.35], color="#1f77b4")
        ax.text(cx, cy - 1.35, _short(str(model), 26), fontsize=7.5, ha="center", va="top")
    if title:
        ax.set_title(title, fontsize=10, loc="left")
    fig.subplots_adjust(left=0.01, right=0.99, top=0.99, bottom=0.01)
    return _png(fig, tight=False)


__all__ = ["field_bars", "heatmap", "profiles"]

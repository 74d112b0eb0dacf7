"""Write a report: gather the data (:mod:`.build`), render HTML and Markdown, save files."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .build import ReportData, report_data
from .html import render_html
from .markdown import render_markdown

if TYPE_CHECKING:  # pragma: no cover - annotation only
    from ..bench.runner import BenchResult


def write_report(result: BenchResult | ReportData, html_path: str | os.PathLike,
                 md_path: str | os.PathLike | None = None, **kwargs: Any) -> dict[str, Path]:
    """Write the self-contained HTML report and, if asked, the Markdown one (its images go
    to a ``<name>_files/`` folder next to it). Returns the paths written."""
    data = result if isinstance(result, ReportData) else report_data(result, **kwargs)
    hp = Path(html_path)
    hp.parent.mkdir(parents=True, exist_ok=True)
    hp.write_text(render_html(data), encoding="utf-8")
    paths = {"html": hp}
    if md_path is not None:
        mp = Path(md_path)
        mp.parent.mkdir(parents=True, exist_ok=True)
        mp.write_text(render_markdown(data, mp.parent / f"{mp.stem}_files"), encoding="utf-8")
        paths["markdown"] = mp
    return paths


__all__ = ["write_report"]

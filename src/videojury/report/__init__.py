"""Reports of a benchmark: one self-contained HTML page and a Markdown version.

``report_data`` gathers a benchmark result (leaderboard, models x task
dimensions, model profiles, best and worst videos with thumbnail strips);
``write_report`` renders it with matplotlib figures embedded as base64, a
sortable leaderboard and no network access needed to view it.
"""

from .build import Example, ReportData, report_data
from .write import write_report

__all__ = ["Example", "ReportData", "report_data", "write_report"]

"""Benchmarking text-to-video models on a prompt suite.

``check_videos`` finds each model's videos and matches them to the suite
(reporting gaps and strays before anything runs), ``run_bench`` scores them
through the results store and aggregates per model, per task dimension and
task accuracy, and ``BenchResult.write`` saves tables that
``videojury report`` turns into an HTML page.
"""

from .aggregate import FieldInfo
from .layout import BenchCheck, VideoSet, check_videos, discover_videos, parse_name
from .runner import BenchResult, load_result, run_bench

__all__ = [
    "BenchCheck", "BenchResult", "FieldInfo", "VideoSet", "check_videos", "discover_videos",
    "load_result", "parse_name", "run_bench",
]

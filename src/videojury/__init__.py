"""videojury: judge AI-generated video, and judge the judges.

Score videos with any metric (``score``), list and load metrics
(``list_metrics``, ``load_metric``); the CLI is ``videojury``.
"""

from .api import score
from .errors import InputError, MetricError, MissingExtraError, VideoError, VideoJuryError
from .metrics import Metric, ScoreField, list_metrics, load_metric, register_metric

from ._version import __version__

__all__ = [
    "InputError", "Metric", "MetricError", "MissingExtraError", "ScoreField", "VideoError",
    "VideoJuryError", "__version__", "list_metrics", "load_metric", "register_metric", "score",
]

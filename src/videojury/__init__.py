"""videojury: judge AI-generated video, and judge the judges.

Score videos with any metric (``score``), list and load metrics
(``list_metrics``, ``load_metric``); the CLI is ``videojury``.
"""

from .api import score
from .errors import InputError, MetricError, MissingExtraError, VideoError, VideoJuryError
from .metrics import Metric, ScoreField, list_metrics, load_metric, register_metric
from .selection import BestOfN, best_of_n
from .train import metric as _trained_family  # noqa: F401 - registers the trained:DIR family

from ._version import __version__

__all__ = [
    "BestOfN", "InputError", "Metric", "MetricError", "MissingExtraError", "ScoreField", "VideoError",
    "VideoJuryError", "__version__", "list_metrics", "load_metric", "register_metric", "score",
    "best_of_n",
]

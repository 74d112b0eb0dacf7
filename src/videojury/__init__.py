"""videojury: judge AI-generated video, and judge the judges.

Score videos with any metric (``score``; ``estimate`` for a dry run), list
and load metrics (``list_metrics``, ``load_metric``); the CLI is
``videojury``, which calls these same functions.
"""

from .api import estimate, score
from .errors import InputError, MetricError, MissingExtraError, VideoError, VideoJuryError
from .metrics import Metric, ScoreField, list_metrics, load_metric, register_metric
from .selection import BestOfN, best_of_n
from .train import metric as _trained_family  # noqa: F401 - registers the trained:DIR family
from ._version import __version__

__all__ = [
    "BestOfN", "InputError", "Metric", "MetricError", "MissingExtraError", "ScoreField",
    "VideoError", "VideoJuryError", "__version__", "best_of_n", "estimate", "list_metrics",
    "load_metric", "register_metric", "score",
]

"""Metrics: the interface, the registry, and the built-in metrics.

Built-in metric modules live in sub-packages (``classical``, ``temporal``,
``vlm``, ...) and register themselves when imported; the registry imports
them on first use, so ``import videojury`` stays light.
"""

from .base import (
    Metric,
    ResultField,
    ScoreField,
    list_metrics,
    load_metric,
    metric_class,
    parse_spec,
    register_metric,
    register_scheme,
)

__all__ = [
    "Metric", "ResultField", "ScoreField", "list_metrics", "load_metric", "metric_class", "parse_spec",
    "register_metric", "register_scheme",
]

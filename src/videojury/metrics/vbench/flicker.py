"""VBench's temporal_flickering under its own name: the ``flicker`` metric, unchanged.

``flicker`` already equals VBench's ``temporal_flickering`` formula (see
:mod:`videojury.metrics.temporal.flicker`); this alias gives the dimension
VBench's name and field so VBench-style runs and tables line up.
"""

from __future__ import annotations

from typing import Any

from ...video import Frames
from ..base import ScoreField, register_metric
from ..temporal.flicker import Flicker


@register_metric
class TemporalFlickering(Flicker):
    """VBench temporal flickering: (255 - mean consecutive-frame MAE) / 255 (= ``flicker``)."""

    name = "temporal_flickering"
    version = "1"
    fields = (ScoreField("temporal_flickering", 0.0, 1.0, True,
                         "1 - mean absolute change between consecutive frames / 255"),)
    description = "VBench temporal_flickering (the flicker metric under VBench's name)."

    def score(self, frames: Frames, item: Any) -> dict[str, float]:
        # The same computation as ``flicker``, only the field is renamed.
        return {"temporal_flickering": super().score(frames, item)["flicker"]}

"""Joining a score table to human labels by video.

:func:`join_scores` matches each prediction's ``video`` to a labelled video
with the project's one matcher, :func:`videojury.matching.match_videos`
(exact path, then the longest unambiguous path suffix), checks both tables
(empty or repeated videos, repeated labels, a MOS that is not a number),
and reports how every video was matched and which were not.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..matching import match_videos

__all__ = ["JoinReport", "join_scores", "match_videos", "norm_series"]


def norm_series(s: pd.Series) -> list[str]:
    """:func:`~videojury.matching.norm_path` of a whole column, as a plain list."""
    return s.astype(str).str.replace("\\", "/", regex=False).str.strip().str.removeprefix("./").tolist()


@dataclass
class JoinReport:
    """How prediction videos were matched to human-labelled videos."""

    n_predictions: int
    n_human_videos: int
    matched: dict[str, int] = field(default_factory=dict)  # method -> count
    unmatched_predictions: list[str] = field(default_factory=list)
    unmatched_human: list[str] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        """JSON-friendly summary (lists truncated to 50 entries, counts exact)."""
        return {
            "n_predictions": self.n_predictions,
            "n_human_videos": self.n_human_videos,
            "matched": dict(self.matched),
            "n_unmatched_predictions": len(self.unmatched_predictions),
            "unmatched_predictions": self.unmatched_predictions[:50],
            "n_unmatched_human": len(self.unmatched_human),
            "unmatched_human": self.unmatched_human[:50],
            "n_ambiguous": len(self.ambiguous),
            "ambiguous": self.ambiguous[:50],
        }


def join_scores(
    predictions: pd.DataFrame,
    human: pd.DataFrame,
    *,
    allow_unmatched: bool = False,
    max_suffix: int = 4,
) -> tuple[pd.DataFrame, JoinReport]:
    """Join a score table to human labels by video; report how each was matched.

    ``predictions`` needs a ``video`` column (one row per video) and
    ``human`` the columns ``video, dimension, mos`` (as produced by
    :func:`videojury.human.importers.load_human_labels`). Matching: the
    exact path string (after turning backslashes into slashes); then, for
    the rest, the longest trailing path of up to ``max_suffix`` components
    that identifies exactly one human video and exactly one prediction,
    the human video not matched yet (so
    ``/data/Sora/001.mp4`` finds ``Sora/001.mp4`` even where ``001.mp4``
    alone is ambiguous). Prediction videos with no human label raise
    :class:`InputError` (naming rows) unless ``allow_unmatched``, in which
    case they are left out and listed in the report; human videos without
    a prediction are always listed. The result has one row per (video,
    human dimension) with the human columns renamed ``human_video``,
    ``human_dimension``, ``mos`` and a ``match`` column.
    """
    if "video" not in predictions.columns:
        raise InputError(f"{predictions.attrs.get('source', 'predictions')}: missing column 'video'")
    for c in ("video", "mos"):
        if c not in human.columns:
            raise InputError(f"{human.attrs.get('source', 'human labels')}: missing column {c!r}")
    pred = predictions.reset_index(drop=True).copy()
    pv = pd.Series(norm_series(pred["video"]))
    empty = pv.str.len() == 0
    if empty.any():
        i = int(np.flatnonzero(empty.to_numpy())[0])
        raise InputError(f"predictions row {i + 1}: field 'video' is empty")
    dup = pv.duplicated()
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"predictions row {i + 1}: video {pred['video'].iloc[i]!r} appears more than once; "
            "correlate needs one score per video"
        )
    hum = human.copy()
    if "dimension" not in hum.columns:
        hum["dimension"] = "mos"
    hv_all = norm_series(hum["video"])
    hvideos = list(dict.fromkeys(hv_all))
    match_of, ambiguous = match_videos(pv.tolist(), hvideos, max_suffix=max_suffix, normalized=True)
    used = {h for h, _ in match_of.values()}
    unmatched = [i for i in range(len(pv)) if i not in match_of]
    report = JoinReport(n_predictions=len(pv), n_human_videos=len(hvideos))
    for _, m in match_of.values():
        report.matched[m] = report.matched.get(m, 0) + 1
    report.unmatched_predictions = [str(pred["video"].iloc[i]) for i in unmatched]
    report.unmatched_human = [h for h in hvideos if h not in used]
    report.ambiguous = sorted(ambiguous)
    if unmatched and not allow_unmatched:
        shown = ", ".join(f"row {i + 1} ({pred['video'].iloc[i]!r})" for i in unmatched[:5])
        more = f" and {len(unmatched) - 5} more" if len(unmatched) > 5 else ""
        amb = f"; {len(ambiguous)} of them have an ambiguous file name" if ambiguous else ""
        raise InputError(
            f"{len(unmatched)} video(s) in the predictions have no human label (field 'video'): {shown}{more}{amb}. "
            "Pass allow_unmatched / --allow-unmatched to correlate the matched ones and list the rest."
        )
    pred["_row"] = np.arange(len(pred)) + 1
    pred["human_video"] = [match_of[i][0] if i in match_of else None for i in range(len(pred))]
    pred["match"] = [match_of[i][1] if i in match_of else None for i in range(len(pred))]
    pred = pred[pred["human_video"].notna()]
    hcols = hum.copy()
    hcols["human_video"] = hv_all
    hcols = hcols.rename(columns={"dimension": "human_dimension", "video": "_hvideo_raw"})
    keep_h = ["human_video", "human_dimension", "mos"] + [
        c for c in ("model", "prompt_id", "prompt") if c in hcols.columns
    ]
    hcols = hcols[keep_h]
    hdup = hcols.duplicated(["human_video", "human_dimension"])
    if hdup.any():
        i = int(np.flatnonzero(hdup.to_numpy())[0])
        raise InputError(
            f"human labels row {i + 1}: video {hcols['human_video'].iloc[i]!r} has more than one label "
            f"for dimension {hcols['human_dimension'].iloc[i]!r}"
        )
    hmos = pd.to_numeric(hcols["mos"], errors="coerce").to_numpy(dtype=float)
    if not np.all(np.isfinite(hmos)):
        i = int(np.flatnonzero(~np.isfinite(hmos))[0])
        raise InputError(f"human labels row {i + 1}: field 'mos' is missing or not a number: {hcols['mos'].iloc[i]!r}")
    hcols = hcols.assign(mos=hmos)
    # Prediction metadata wins over the human table's; fill gaps from the latter.
    for c in ("model", "prompt_id", "prompt"):
        if c in hcols.columns:
            hcols = hcols.rename(columns={c: f"_h_{c}"})
    joined = pred.merge(hcols, on="human_video", how="inner")
    for c in ("model", "prompt_id", "prompt"):
        hc = f"_h_{c}"
        if hc in joined.columns:
            if c in joined.columns:
                joined[c] = joined[c].where(joined[c].notna(), joined[hc])
            else:
                joined[c] = joined[hc]
            joined = joined.drop(columns=[hc])
    return joined.reset_index(drop=True), report

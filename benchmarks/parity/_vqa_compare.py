"""The comparing half of the deep-VQA parity scripts (fastvqa, vsfa, simplevqa).

``compare(metric, fields, ref_path, videos, tol, **options)`` scores each
video that the reference's JSON (``{"scores": {video: {key: value}}}``)
lists with videojury's ``metric`` (built with ``options``), prints per video
and key the reference value, ours and the absolute difference, then the
maximum, and returns the exit status: 0 within ``tol``, 1 above it.
``fields`` maps the reference's keys to the metric's fields.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src"))


def compare(metric: str, fields: dict[str, str], ref_path: str, videos: str, tol: float,
            **options) -> int:
    from videojury.metrics import load_metric
    from videojury.video import sample

    ref = json.loads(Path(ref_path).read_text())
    m = load_metric(metric, device="cpu", **options)
    worst = 0.0
    for name, vals in ref["scores"].items():
        got = m.score(sample(str(Path(videos) / name), m.frame_policy()), None)
        for key, field in fields.items():
            d = abs(got[field] - vals[key])
            worst = max(worst, d)
            print(f"{name:28s} {key:10s} ref {vals[key]: .8f} ours {got[field]: .8f} "
                  f"diff {d:.2e}")
    print(f"max abs difference: {worst:.2e}")
    return 0 if worst <= tol else 1

"""Synthetic MOS rows and preference pairs for the pairwise-stage test and benchmark.

Clips of textured shapes at flicker levels 0-3 (``videojury.data.synthetic``);
the truth is "less flicker is better". MOS rows exist for a few clips only,
with label noise (``MOS = 100 - 30 x level + N(0, noise)``); preference pairs
(every two levels of a clip, the lower level wins) cover many more clips, and
the held-out pairs are on clips seen in neither. Written losslessly (FFV1),
so the pixels are the same in every run.
"""

from __future__ import annotations

from itertools import combinations
from pathlib import Path

import numpy as np
import pandas as pd

from videojury.data.synthetic import PROMPTS, ClipSpec, degrade, make_clip
from videojury.video import write_video

SPEC = ClipSpec(width=56, height=56, frames=4, fps=8.0)


def _videos(root: Path, clips: range) -> list[dict]:
    rows = []
    for c in clips:
        clip = make_clip(c, SPEC)
        for level in range(4):
            name = f"c{c:03d}_flicker{level}.mkv"
            if not (root / name).exists():
                write_video(root / name, degrade(clip, "flicker", level, seed=c), fps=SPEC.fps,
                            codec="ffv1", crf=None)
            rows.append({"video": name, "clip": c, "level": level,
                         "prompt": PROMPTS[c % len(PROMPTS)], "prompt_id": f"p{c:03d}"})
    return rows


def _pairs(rows: list[dict]) -> pd.DataFrame:
    out = []
    by_clip: dict[int, list[dict]] = {}
    for r in rows:
        by_clip.setdefault(r["clip"], []).append(r)
    for vids in by_clip.values():
        for a, b in combinations(sorted(vids, key=lambda r: r["level"]), 2):
            # a has the lower flicker level: alternate sides so "a" is not always the winner
            if (a["clip"] + a["level"] + b["level"]) % 2:
                a, b = b, a
            out.append({"video_a": a["video"], "video_b": b["video"],
                        "winner": "a" if a["level"] < b["level"] else "b",
                        "prompt_id": a["prompt_id"]})
    return pd.DataFrame(out)


def write_dataset(root: Path, mos_clips: int = 3, pair_clips: int = 16, val_clips: int = 8,
                  noise: float = 40.0, seed: int = 0) -> dict[str, Path]:
    """``mos.csv`` (noisy MOS), ``pairs.csv`` (train pairs), ``val_pairs.csv`` under ``root``."""
    root.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    base = 1000 * seed
    mos_rows = _videos(root, range(base, base + mos_clips))
    for r in mos_rows:
        r["mos"] = float(np.clip(100 - 30 * r["level"] + rng.normal(0, noise), 0, 100))
    pair_rows = _videos(root, range(base + 100, base + 100 + pair_clips))
    val_rows = _videos(root, range(base + 200, base + 200 + val_clips))
    paths = {"mos": root / "mos.csv", "pairs": root / "pairs.csv",
             "val_pairs": root / "val_pairs.csv"}
    pd.DataFrame(mos_rows).to_csv(paths["mos"], index=False)
    _pairs(pair_rows).to_csv(paths["pairs"], index=False)
    _pairs(val_rows).to_csv(paths["val_pairs"], index=False)
    return paths

"""A synthetic benchmark: fake "T2V models" that differ only in how degraded they are.

Each fake model renders the same seeded clip per prompt
(:func:`videojury.data.synthetic.make_clip`) and damages it by its level:
per-frame Gaussian noise of increasing strength (which also raises the
frame-to-frame change that ``flicker`` reads, and hurts NIQE/BRISQUE/PIQE)
and the first ``level`` frames held still (a start-up stall that ``frozen``
counts). A higher level is therefore worse on every weight-free metric, and
a correct benchmark must rank the models in level order. Used by the tests,
the docs and the demo.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Sequence

import numpy as np
import pandas as pd

from ..data.suites import Suite, load_suite
from ..data.synthetic import ClipSpec, degrade, make_clip
from ..video import write_video

DEFAULT_MODELS = (("t2v-level1", 1), ("t2v-level2", 2), ("t2v-level3", 3))
TINY = ClipSpec(96, 72, 12, 8.0)  # small enough for tests, large enough for every fast metric


def fake_generation(seed: int, level: int, spec: ClipSpec) -> np.ndarray:
    """The clip a fake model of ``level`` (0 = pristine, up to 3) makes for prompt ``seed``."""
    clip = make_clip(seed, spec)
    out = degrade(clip, "noise", level, seed=seed) if level else clip.copy()
    hold = min(level, len(out) - 2)
    if hold > 0:
        out[1:hold + 1] = out[0]  # the first frames stall
    return out


def make_synthetic_bench(root: str | os.PathLike, suite: Suite | str = "demo",
                         models: Sequence[tuple[str, int]] = DEFAULT_MODELS,
                         spec: ClipSpec = TINY, samples: int = 1,
                         n_prompts: int | None = None, seed: int = 0) -> tuple[Path, Path]:
    """Write ``<root>/<suite name>.jsonl`` and ``<root>/videos/<model>/<prompt_id>[-k].mp4``.

    ``samples`` > 1 names files ``<prompt_id>-<k>.mp4`` with a different seed
    per sample. ``n_prompts`` keeps the suite's first prompts. Returns the
    suite path and the videos folder.
    """
    root = Path(root)
    s = load_suite(suite) if isinstance(suite, str) else suite
    prompts = s.prompts[:n_prompts] if n_prompts else s.prompts
    s = Suite(s.name, list(prompts), s.source)
    suite_path = s.write(root / f"{s.name}.jsonl")
    videos = root / "videos"
    for model, level in models:
        for i, sp in enumerate(prompts):
            for k in range(samples):
                name = f"{sp.prompt_id}.mp4" if samples == 1 else f"{sp.prompt_id}-{k}.mp4"
                frames = fake_generation(seed + 100 * i + k, level, spec)
                write_video(videos / model / name, frames, fps=spec.fps)
    return suite_path, videos


def human_answers_manifest(videos: str | os.PathLike, suite: Suite, models: Sequence[
        tuple[str, int]] = DEFAULT_MODELS, seed: int = 0) -> Path:
    """Write ``<videos>/../answers.csv``: simulated human yes/no answers per question, where
    a model of level L gets each answer wrong with probability 0.1 * L (seeded)."""
    videos = Path(videos)
    rng = np.random.default_rng(seed)
    rows = []
    for model, level in models:
        for f in sorted((videos / model).glob("*.mp4")):
            pid = f.stem.rsplit("-", 1)[0] if f.stem not in suite else f.stem
            for q in suite[pid].questions:
                wrong = rng.random() < 0.1 * level
                ans = q.expected if not wrong else ("no" if q.expected == "yes" else "yes")
                rows.append({"video": str(f.relative_to(videos.parent)), "model": model,
                             "prompt_id": pid, "question": q.question,
                             "answer": ans.capitalize() + "."})
    out = videos.parent / "answers.csv"
    pd.DataFrame(rows).to_csv(out, index=False)
    return out


__all__ = ["DEFAULT_MODELS", "TINY", "fake_generation", "human_answers_manifest",
           "make_synthetic_bench"]

"""Shared fixtures: small synthetic videos written once per test session."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

# pytest-xdist's workers get COLUMNS=80; the CLI's output, piped as in a
# plain run, is laid out for 250 columns (videojury.cli.out), as users see it.
os.environ.pop("COLUMNS", None)

from videojury.data.synthetic import ClipSpec, degrade, make_clip
from videojury.video import write_video

SHARED = Path(__file__).resolve().parents[1].parent / "shared"

SMALL = ClipSpec(width=96, height=72, frames=16, fps=8.0)


@pytest.fixture(scope="session")
def clip() -> np.ndarray:
    """A 16-frame 96x72 synthetic clip."""
    return make_clip(0, SMALL)


@pytest.fixture(scope="session")
def video_dir(tmp_path_factory, clip) -> Path:
    """A folder of good videos in several containers plus an image."""
    d = tmp_path_factory.mktemp("videos")
    write_video(d / "a.mp4", clip, fps=8)
    write_video(d / "b.mp4", degrade(clip, "noise", 2), fps=8)
    write_video(d / "c.mp4", degrade(clip, "flicker", 3), fps=8)
    return d


@pytest.fixture(scope="session")
def bad_dir(tmp_path_factory, clip) -> Path:
    """Good videos plus a zero-byte file, a truncated mp4 and a text file named .mp4."""
    d = tmp_path_factory.mktemp("bad")
    write_video(d / "good1.mp4", clip, fps=8)
    write_video(d / "good2.mp4", degrade(clip, "blur", 1), fps=8)
    (d / "empty.mp4").write_bytes(b"")
    data = (d / "good1.mp4").read_bytes()
    (d / "truncated.mp4").write_bytes(data[: len(data) // 2])
    (d / "notes.mp4").write_text("this is not a video\n")
    return d

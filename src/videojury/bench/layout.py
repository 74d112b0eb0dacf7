"""Finding the generated videos of a benchmark and checking them against the suite.

Two inputs are understood. A folder laid out as
``<root>/<t2v_model>/<prompt_id>[-<k>].<ext>``: each sub-folder of the root
is a model, each video under it (sub-folders allowed, as in VBench's
``<model>/<dimension>/<prompt>-<k>.mp4``) is named after its prompt id, with
an optional ``-<k>`` sample index. Or a manifest (CSV, TSV, JSONL, JSON,
Parquet) with ``video``, ``model`` and ``prompt_id`` columns, paths relative
to the manifest's folder; other columns (``question``/``answer`` from human
raters, human scores) travel through.

:func:`check_videos` compares what was found with the suite before anything
is scored: videos whose prompt id is not in the suite, files that are not
videos or sit outside a model folder, model folders without videos, manifest
rows whose file does not exist, and (model, prompt) pairs with no video.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ..data.items import MANIFEST_SUFFIXES, read_table
from ..data.suites import Suite
from ..errors import InputError
from ..video import VIDEO_EXTENSIONS

_SAMPLE = re.compile(r"^(?P<base>.+)-(?P<k>\d+)$")
# Files that commonly sit in a results folder and are not mistakes.
_IGNORED_NAMES = {".DS_Store", "Thumbs.db", "desktop.ini"}


@dataclass
class VideoSet:
    """The videos found, one row each: ``video`` (absolute path), ``model``,
    ``prompt_id``, ``sample`` (the ``-<k>`` index or None) and ``rel`` (the
    path shown in messages), plus a manifest's extra columns."""

    table: pd.DataFrame
    source: str
    kind: str  # "folder" or "manifest"
    models: list[str]
    unexpected: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    empty_models: list[str] = field(default_factory=list)


def parse_name(stem: str, known: set[str] | None = None) -> tuple[str, int | None]:
    """``(prompt_id, sample)`` from a file stem such as ``p003-2``.

    A stem that is itself a known prompt id wins over the ``-<k>`` reading,
    so ids that end in ``-<digits>`` still work when the suite is known.
    """
    if known is not None and stem in known:
        return stem, None
    m = _SAMPLE.match(stem)
    if m is not None:
        return m["base"], int(m["k"])
    return stem, None


def _scan_folder(root: Path, known: set[str] | None) -> VideoSet:
    rows = []
    unexpected: list[tuple[str, str]] = []
    models: list[str] = []
    empty: list[str] = []
    for entry in sorted(root.iterdir(), key=lambda p: p.name):
        if entry.name.startswith(".") or entry.name in _IGNORED_NAMES:
            continue
        if entry.is_file():
            why = ("a video outside any model folder; put it in <root>/<model>/"
                   if entry.suffix.lower() in VIDEO_EXTENSIONS else
                   "not inside a model folder")
            unexpected.append((entry.name, why))
            continue
        if not entry.is_dir():
            continue
        model = entry.name
        models.append(model)
        n_before = len(rows)
        for f in sorted(entry.rglob("*"), key=lambda p: str(p.relative_to(entry))):
            if not f.is_file() or f.name.startswith(".") or f.name in _IGNORED_NAMES:
                continue
            rel = str(f.relative_to(root))
            if f.suffix.lower() not in VIDEO_EXTENSIONS:
                unexpected.append((rel, "not a video file"))
                continue
            pid, k = parse_name(f.stem, known)
            rows.append({"video": str(f.absolute()), "model": model, "prompt_id": pid,
                         "sample": k, "rel": rel})
        if len(rows) == n_before:
            empty.append(model)
    table = pd.DataFrame(rows, columns=["video", "model", "prompt_id", "sample", "rel"])
    return VideoSet(table, str(root), "folder", models, unexpected, empty)


def _read_manifest(path: Path) -> VideoSet:
    df = read_table(path)
    missing = [c for c in ("video", "model", "prompt_id") if c not in df.columns]
    if missing:
        raise InputError(f"{path}: no {missing[0]!r} column (columns found: "
                         f"{', '.join(map(str, df.columns))}); a bench manifest needs 'video', "
                         "'model' and 'prompt_id' columns")
    if len(df) == 0:
        raise InputError(f"{path}: the manifest has no rows")
    base = path.absolute().parent
    out = df.copy()
    videos, rels = [], []
    for i, (v, m, pid) in enumerate(zip(df["video"], df["model"], df["prompt_id"]), 1):
        for col, val in (("video", v), ("model", m), ("prompt_id", pid)):
            if val is None or (isinstance(val, float) and val != val) or not str(val).strip():
                raise InputError(f"{path} row {i}, column {col!r}: empty")
        p = Path(str(v).strip())
        rels.append(str(p))
        videos.append(str(p if p.is_absolute() else base / p))
    out["video"] = videos
    out["model"] = df["model"].astype(str).str.strip().to_numpy()
    out["prompt_id"] = df["prompt_id"].astype(str).str.strip().to_numpy()
    if "sample" not in out.columns:
        out["sample"] = None
    out["rel"] = rels
    models = list(dict.fromkeys(out["model"]))
    return VideoSet(out.reset_index(drop=True), str(path), "manifest", models)


def discover_videos(videos: str | os.PathLike | pd.DataFrame, suite: Suite | None = None
                    ) -> VideoSet:
    """Find the generated videos in a folder, a manifest file or a DataFrame."""
    known = set(suite.ids) if suite is not None else None
    if isinstance(videos, pd.DataFrame):
        missing = [c for c in ("video", "model", "prompt_id") if c not in videos.columns]
        if missing:
            raise InputError(f"the videos table has no {missing[0]!r} column")
        t = videos.copy()
        t["video"] = [str(Path(v).absolute()) for v in t["video"]]
        t["model"] = t["model"].astype(str)
        t["prompt_id"] = t["prompt_id"].astype(str)
        if "sample" not in t.columns:
            t["sample"] = None
        t["rel"] = t["video"]
        return VideoSet(t.reset_index(drop=True), "<DataFrame>", "manifest",
                        list(dict.fromkeys(t["model"])))
    p = Path(videos)
    if not p.exists():
        raise InputError(f"{p}: no such folder or manifest")
    if p.is_dir():
        return _scan_folder(p, known)
    if p.suffix.lower() in MANIFEST_SUFFIXES:
        return _read_manifest(p)
    raise InputError(f"{p}: expected a folder laid out as <root>/<model>/<prompt_id>.mp4 or a "
                     f"manifest ({', '.join(MANIFEST_SUFFIXES)})")


@dataclass
class BenchCheck:
    """What the videos look like next to the suite, before any scoring."""

    suite: Suite
    videos: VideoSet
    matched: pd.DataFrame  # rows to score (file exists, prompt id known)
    unknown: pd.DataFrame  # rows whose prompt id is not in the suite
    missing_files: pd.DataFrame  # manifest rows whose file does not exist
    missing: pd.DataFrame  # (model, prompt_id) pairs of the suite with no video

    @property
    def models(self) -> list[str]:
        """Models with at least one video to score, in discovery order."""
        present = set(self.matched["model"])
        return [m for m in self.videos.models if m in present]

    @property
    def n_problems(self) -> int:
        return (len(self.unknown) + len(self.missing_files) + len(self.missing)
                + len(self.videos.unexpected) + len(self.videos.empty_models))

    def summary(self) -> str:
        """One line: how many models, prompts and videos will be scored."""
        n_prompts = self.matched["prompt_id"].nunique()
        # A manifest with human answers lists a video once per question: count files.
        n_videos = self.matched["video"].nunique()
        return (f"{len(self.models)} models x {n_prompts} of {len(self.suite)} prompts: "
                f"{n_videos} videos to score")

    def problems(self, limit: int = 10) -> list[str]:
        """Human-readable messages, one per problem kind (examples capped at ``limit``)."""
        msgs: list[str] = []
        src = self.videos.source

        def _few(items: list[str]) -> str:
            more = len(items) - limit
            return ", ".join(items[:limit]) + (f" and {more} more" if more > 0 else "")

        for model in self.videos.empty_models:
            msgs.append(f"model folder {model!r} has no videos (looked for "
                        f"{', '.join(sorted(VIDEO_EXTENSIONS))} under {src}/{model}); it is "
                        "left out")
        if len(self.missing_files):
            rows = list(dict.fromkeys(str(r) for r in self.missing_files["rel"]))
            msgs.append(f"{len(rows)} video file(s) listed in {src} do not exist: {_few(rows)}")
        if len(self.unknown):
            ids = list(dict.fromkeys(self.unknown["prompt_id"]))
            files = list(dict.fromkeys(str(r) for r in self.unknown["rel"]))
            msgs.append(f"{len(files)} video(s) have a prompt_id that is not in suite "
                        f"{self.suite.name!r} ({_few([repr(i) for i in ids])}); they are "
                        f"skipped: {_few(files)}")
        if self.videos.unexpected:
            items = [f"{p} ({why})" for p, why in self.videos.unexpected]
            msgs.append(f"{len(items)} unexpected file(s) in {src}: {_few(items)}")
        if len(self.missing):
            for model, grp in self.missing.groupby("model", sort=False):
                ids = [str(i) for i in grp["prompt_id"]]
                msgs.append(f"model {model!r} has no video for {len(ids)} of {len(self.suite)} "
                            f"prompts: {_few(ids)}")
        return msgs


def check_videos(suite: Suite, videos: VideoSet | str | os.PathLike | pd.DataFrame
                 ) -> BenchCheck:
    """Compare the videos found with the suite; raise only when nothing can be scored."""
    if len(suite) == 0:
        raise InputError(f"suite {suite.name!r} has no prompts")
    vs = videos if isinstance(videos, VideoSet) else discover_videos(videos, suite)
    t = vs.table
    if not vs.models:
        raise InputError(f"{vs.source}: no model folders found; lay videos out as "
                         "<root>/<model>/<prompt_id>[-<k>].mp4 or pass a manifest with "
                         "'video', 'model' and 'prompt_id' columns")
    if len(t) == 0:
        raise InputError(f"{vs.source}: the model folders ({', '.join(vs.models)}) hold no "
                         f"videos (looked for {', '.join(sorted(VIDEO_EXTENSIONS))})")
    exists = pd.Series([Path(v).is_file() for v in t["video"]], index=t.index, dtype=bool)
    known = t["prompt_id"].isin(set(suite.ids))
    matched = t[exists & known].reset_index(drop=True)
    unknown = t[exists & ~known].reset_index(drop=True)
    missing_files = t[~exists].reset_index(drop=True)
    if len(matched) == 0:
        found = list(dict.fromkeys(t["prompt_id"]))[:5]
        raise InputError(f"no video in {vs.source} matches a prompt of suite {suite.name!r}: "
                         f"videos are named like {', '.join(map(repr, found))} but the suite's "
                         f"prompt ids look like {', '.join(map(repr, suite.ids[:5]))}")
    have = set(zip(matched["model"], matched["prompt_id"]))
    models = [m for m in vs.models if m not in vs.empty_models]
    gaps = [(m, pid) for m in models for pid in suite.ids if (m, pid) not in have]
    missing = pd.DataFrame(gaps, columns=["model", "prompt_id"])
    return BenchCheck(suite, vs, matched, unknown, missing_files, missing)


__all__ = ["BenchCheck", "VideoSet", "check_videos", "discover_videos", "parse_name"]

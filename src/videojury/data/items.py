"""Items to score, and the inputs they come from (folders and manifests).

A manifest is a CSV, JSONL or Parquet table with a ``video`` column (paths
relative to the manifest's folder, or absolute) and the optional columns
``prompt``, ``prompt_id``, ``model`` (the T2V generator), ``dimension`` (task
category), ``question`` and ``answer``. Every other column (human scores,
say) travels through to the results untouched.

A folder is scanned (recursively, sorted) for video and image files; a
prompts file gives each video its prompt: JSON ``{file name: prompt}`` (the
VBench custom-input format), or CSV/JSONL with ``video`` (file name or
relative path) or ``prompt_id`` (matched to the file's stem) and ``prompt``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..video import MEDIA_EXTENSIONS

KNOWN_COLUMNS = ("video", "prompt", "prompt_id", "model", "dimension", "question", "answer")
MANIFEST_SUFFIXES = (".csv", ".tsv", ".jsonl", ".json", ".parquet", ".pq")


@dataclass
class Item:
    """One video to score, with the text and labels that go with it."""

    video: str
    prompt: str | None = None
    prompt_id: str | None = None
    model: str | None = None
    dimension: str | None = None
    question: str | None = None
    answer: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    source: str | None = None  # manifest or folder it came from
    row: int | None = None  # 1-based data row in the manifest (header not counted)

    @property
    def where(self) -> str:
        """Where the item came from, for messages (``manifest.csv row 12``)."""
        if self.source and self.row is not None:
            return f"{self.source} row {self.row}"
        return self.source or self.video

    def as_record(self) -> dict[str, Any]:
        """The item's columns (known ones first, then the extra ones)."""
        rec: dict[str, Any] = {"video": self.video}
        for key in KNOWN_COLUMNS[1:]:
            value = getattr(self, key)
            if value is not None:
                rec[key] = value
        rec.update(self.extra)
        return rec


def _clean(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:  # NaN
        return None
    if value is pd.NA:
        return None
    text = str(value)
    return text if text.strip() != "" else None


# Columns that must hold text: a number there is a mistake (a Parquet column
# of ids where paths belong), not a value to stringify. The other known
# columns (prompt_id, model, dimension, answer) may hold numbers ("7" for 7).
_TEXT_ONLY = ("video", "prompt", "question")


def _kind(value: Any) -> str:
    if isinstance(value, (bytes, bytearray, memoryview)):
        return "bytes"
    if isinstance(value, (bool, np.bool_)):
        return "a boolean"
    if isinstance(value, (int, np.integer)):
        return "an integer"
    if isinstance(value, (float, np.floating)):
        return "a number"
    if isinstance(value, (list, tuple, set, np.ndarray)):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return f"a {type(value).__name__}"


def _cell(value: Any, where: str, column: str) -> str | None:
    """A known column's cell as text (None when empty), or a clear :class:`InputError`.

    Text passes; bytes, lists and objects are refused (they would be
    stringified into ``b'...'`` or ``['a' 'b']``); numbers are refused in
    :data:`_TEXT_ONLY` columns and written plainly elsewhere (7, not 7.0).
    """
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, str):
        return value if value.strip() != "" else None
    if isinstance(value, (float, np.floating)) and value != value:  # NaN
        return None
    kind = _kind(value)
    shown = repr(value.tolist() if isinstance(value, np.ndarray) else value)
    if len(shown) > 60:
        shown = shown[:57] + "..."
    numeric = kind in ("an integer", "a number", "a boolean")
    if numeric and column not in _TEXT_ONLY:
        if isinstance(value, (float, np.floating)) and float(value).is_integer():
            return str(int(value))
        return str(value)
    what = "a path" if column == "video" else "text"
    raise InputError(f"{where}, column {column!r}: expected {what}, got {kind} ({shown}); "
                     f"write the '{column}' column as text (strings)")


def read_table(path: str | os.PathLike) -> pd.DataFrame:
    """Read a CSV/TSV, JSONL/JSON or Parquet table, with clear errors.

    :func:`videojury.io.read_table` does the reading (one set of strict
    rules: a CSV row with more fields than the header is refused naming its
    line, a JSON list element that is not an object is named); text columns
    stay strings.
    """
    from ..io import read_table as _read

    return _read(path)


def items_from_table(df: pd.DataFrame, source: str, base_dir: Path | None) -> list[Item]:
    """Turn a manifest table into items, validating it (names file, row, column)."""
    if "video" not in df.columns:
        cols = ", ".join(map(str, df.columns)) or "none"
        raise InputError(f"{source}: no 'video' column (columns found: {cols}); the manifest "
                         "needs a 'video' column with paths relative to the manifest's folder")
    if len(df) == 0:
        raise InputError(f"{source}: the manifest has no rows")
    items: list[Item] = []
    seen: dict[tuple, int] = {}
    extra_cols = [c for c in df.columns if c not in KNOWN_COLUMNS]
    for col in _TEXT_ONLY:
        # A whole column of numbers (Parquet int64/float64) is named once.
        if col in df.columns and df[col].notna().any() and (
                pd.api.types.is_numeric_dtype(df[col]) or pd.api.types.is_bool_dtype(df[col])):
            raise InputError(f"{source}: column {col!r} holds {df[col].dtype} values, expected "
                             f"{'paths' if col == 'video' else 'text'}; write the '{col}' column "
                             "as strings")
    records = df.to_dict("records")
    for i, rec in enumerate(records, 1):
        where = f"{source} row {i}"
        cells = {c: _cell(rec.get(c), where, c) for c in KNOWN_COLUMNS}
        video = cells["video"]
        if video is None:
            raise InputError(f"{source} row {i}, column 'video': empty; every row needs a "
                             "video path")
        path = Path(video)
        if not path.is_absolute() and base_dir is not None:
            path = base_dir / path
        item = Item(
            video=str(path),
            prompt=cells["prompt"],
            prompt_id=cells["prompt_id"],
            model=cells["model"],
            dimension=cells["dimension"],
            question=cells["question"],
            answer=cells["answer"],
            extra={c: rec[c] for c in extra_cols},
            source=source,
            row=i,
        )
        key = (item.video, item.prompt, item.question)
        if key in seen:
            raise InputError(f"{source} row {i}: duplicate of row {seen[key]} (same video, "
                             "prompt and question); remove one of them")
        seen[key] = i
        items.append(item)
    return items


def load_manifest(path: str | os.PathLike) -> list[Item]:
    """Read and validate a manifest (CSV, JSONL or Parquet)."""
    p = Path(path)
    df = read_table(p)
    return items_from_table(df, str(p), p.resolve().parent)


def _load_prompts(path: Path) -> dict[str, str]:
    if path.suffix.lower() == ".json" and path.is_file():
        try:
            obj = json.loads(path.read_text(encoding="utf-8"))
        except (ValueError, OSError):
            obj = None  # read_table gives the precise message
        if isinstance(obj, dict):
            bad = next((k for k, v in obj.items() if not isinstance(v, str)), None)
            if bad is not None:
                raise InputError(f"{path}: the prompt for {bad!r} is {_kind(obj[bad])}, not text; "
                                 "a prompts file maps each file name to its prompt "
                                 '({"a.mp4": "a cat running"})')
    df = read_table(path)
    if "prompt" not in df.columns:
        raise InputError(f"{path}: no 'prompt' column (columns found: {', '.join(df.columns)})")
    key = "video" if "video" in df.columns else "prompt_id" if "prompt_id" in df.columns else None
    if key is None:
        raise InputError(f"{path}: needs a 'video' or 'prompt_id' column next to 'prompt'")
    out: dict[str, str] = {}
    for i, (k, v) in enumerate(zip(df[key], df["prompt"]), 1):
        k, v = _cell(k, f"{path} row {i}", key), _cell(v, f"{path} row {i}", "prompt")
        if k is None or v is None:
            raise InputError(f"{path} row {i}: empty {key!r} or 'prompt'")
        out[k] = v
    return out


def scan_folder(folder: str | os.PathLike, prompts: str | os.PathLike | None = None) -> list[Item]:
    """Items for every media file under ``folder`` (sorted), with prompts if given."""
    root = Path(folder)
    # Every media-named entry that is not a folder: regular files, and also
    # broken or looping symbolic links and special files (FIFOs, devices), so
    # those become error rows that say what they are instead of vanishing.
    files = sorted(
        (p for p in root.rglob("*") if p.suffix.lower() in MEDIA_EXTENSIONS and not p.is_dir()),
        key=lambda p: str(p.relative_to(root)),
    )
    table = _load_prompts(Path(prompts)) if prompts is not None else {}
    items = []
    matched = 0
    for p in files:
        rel = str(p.relative_to(root))
        prompt = table.get(rel) or table.get(p.name) or table.get(p.stem)
        matched += prompt is not None
        items.append(Item(video=str(p), prompt=prompt,
                          prompt_id=p.stem if table and p.stem in table else None,
                          source=str(root)))
    if not items:
        if root.suffix.lower() in MEDIA_EXTENSIONS and prompts is None:
            # A folder named like a video (x.mp4/): one item, whose row says
            # "is a directory, not a video file"; the other inputs still run.
            return [Item(video=str(root), source=None)]
        raise InputError(f"{root}: no video or image files found (looked for "
                         f"{', '.join(sorted(MEDIA_EXTENSIONS))})")
    if table and not matched:
        keys = ", ".join(repr(k) for k in list(table)[:3])
        names = ", ".join(repr(p.name) for p in files[:3])
        raise InputError(f"{prompts}: none of its {len(table)} prompt(s) matches any of the "
                         f"{len(items)} video(s) in {root} (prompt keys such as {keys}; files "
                         f"such as {names}); key each prompt by the file name, its path "
                         "relative to the folder, or its stem (prompt_id)")
    return items


def load_items(
    videos: str | os.PathLike | Sequence[str | os.PathLike] | pd.DataFrame | Iterable[Item],
    prompts: str | os.PathLike | Sequence[str | None] | None = None,
) -> list[Item]:
    """Items from any input the API and CLI accept.

    ``videos`` may be a folder, a manifest file, a single video, a list of
    paths, a list of :class:`Item`, or a DataFrame shaped like a manifest.
    ``prompts`` may be a prompts file (for a folder) or a list of prompts
    aligned with a list of paths.
    """
    if isinstance(videos, pd.DataFrame):
        return items_from_table(videos, "<DataFrame>", None)
    if isinstance(videos, (str, os.PathLike)):
        p = Path(videos)
        if p.is_dir():
            if prompts is not None and not isinstance(prompts, (str, os.PathLike)):
                raise InputError("prompts for a folder must be a prompts file")
            return scan_folder(p, prompts)  # type: ignore[arg-type]
        if p.suffix.lower() in MANIFEST_SUFFIXES:
            if prompts is not None:
                raise InputError(f"{p}: a manifest carries its own 'prompt' column; do not pass "
                                 "prompts separately")
            return load_manifest(p)
        videos = [p]
    seq = list(videos)  # type: ignore[arg-type]
    if seq and all(isinstance(v, Item) for v in seq):
        return seq  # type: ignore[return-value]
    if isinstance(prompts, (str, os.PathLike)):
        raise InputError(f"{prompts}: a prompts file goes with a folder input; for single video "
                         "files give prompts as a list of strings, or use a manifest with a "
                         "'prompt' column")
    if prompts is not None and len(prompts) != len(seq):
        raise InputError(f"got {len(seq)} videos but {len(prompts)} prompts; give one prompt "
                         "per video (None where there is none)")
    return [Item(video=str(v), prompt=None if prompts is None else _clean(prompts[i]),
                 source=None) for i, v in enumerate(seq)]


def _dedupe_key(item: Item) -> tuple:
    return (str(Path(item.video).absolute()), item.prompt, item.prompt_id, item.model,
            item.dimension, item.question, item.answer)


def dedupe_items(items: Sequence[Item], warn: Callable[[str], None] | None = None) -> list[Item]:
    """``items`` without repeats (same video path, prompt, question and labels),
    first occurrence kept, with one warning saying what was dropped.

    Repeats across inputs (a file named three times, a manifest given twice)
    would be scored once but listed several times; inside one manifest a
    repeated row is an error instead (:func:`items_from_table`).
    """
    seen: dict[tuple, Item] = {}
    out: list[Item] = []
    dropped: list[tuple[Item, Item]] = []
    for it in items:
        key = _dedupe_key(it)
        if key in seen:
            dropped.append((it, seen[key]))
            continue
        seen[key] = it
        out.append(it)
    if dropped:
        examples = "; ".join(f"{d.where} repeats {first.where}" for d, first in dropped[:3])
        more = f" and {len(dropped) - 3} more" if len(dropped) > 3 else ""
        msg = (f"{len(dropped)} duplicate input(s) ignored ({examples}{more}); each video is "
               "scored and listed once")
        if warn is None:
            import warnings

            warnings.warn(msg, stacklevel=2)
        else:
            warn(msg)
    return out


def load_inputs(inputs: Sequence[str | os.PathLike], prompts: str | os.PathLike | None = None,
                warn: Callable[[str], None] | None = None) -> list[Item]:
    """Items from the command line's inputs: folders, manifests and video files, mixed.

    With several inputs a video file is one item (a folder named like a video
    file, ``x.mp4/``, becomes an error row, not the end of the run);
    ``prompts`` goes with a single folder. Duplicates across inputs are dropped
    with one warning (:func:`dedupe_items`).
    """
    inputs = list(inputs)
    if not inputs:
        raise InputError("no input given; pass a folder, a manifest or video files")
    if prompts is not None and len(inputs) != 1:
        raise InputError("--prompts goes with a single folder input")
    items: list[Item] = []
    for inp in inputs:
        p = Path(inp)
        if len(inputs) > 1 and not p.is_dir() and p.suffix.lower() not in MANIFEST_SUFFIXES:
            items.extend(load_items([p]))
        else:
            items.extend(load_items(p, prompts))
    return dedupe_items(items, warn)


def check_text_needs(items: Sequence[Item], metric_name: str, needs_prompt: bool,
                     needs_question: bool) -> None:
    """Raise a clear :class:`InputError` when a metric needs text some items lack."""
    for attr, needed in (("prompt", needs_prompt), ("question", needs_question)):
        if not needed:
            continue
        lacking = [it for it in items if not getattr(it, attr)]
        if not lacking:
            continue
        first = lacking[0]
        if all(not getattr(it, attr) for it in items):
            src = first.source or "the input"
            hint = ("add a 'prompt' column to the manifest, or pass --prompts FILE for a folder"
                    if attr == "prompt" else "add a 'question' column to the manifest")
            raise InputError(f"metric {metric_name!r} needs a {attr} for every video, but "
                             f"{src} has no '{attr}' column or it is empty; {hint}")
        raise InputError(f"metric {metric_name!r} needs a {attr}: {first.where}, column "
                         f"'{attr}' is empty for {first.video} ({len(lacking)} row(s) lack one)")

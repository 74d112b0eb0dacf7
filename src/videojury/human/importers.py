"""Readers (and the matching writers) for human annotation files.

Three families are supported:

* **Generic tables** (CSV, TSV, JSONL, JSON list, Parquet) in long format.
  Raw ratings: one row per (rater, video[, dimension]) with a numeric
  ``score``. Human labels (already aggregated): ``video, mos`` plus optional
  ``dimension, model, prompt_id, prompt, std, n``; the output of
  ``videojury mos`` is such a file. Column names are configurable.
* **LOVE / AIGVE-60K JSONL**: one JSON object per line,
  ``{"video": ..., "mos": ..., "conversations": [{"from": "human", "value":
  ...}, {"from": "gpt", "value": ...}]}``. Perception and correspondence
  MOS (0-100) come in separate files; QA files have the question in the
  human turn and the yes/no answer in the gpt turn and no ``mos``.
* **Pairwise preferences**: ``video_a, video_b, winner`` with winner in
  ``a``/``b``/``tie`` (also accepted: ``left``/``right``, ``1``/``2``/``0``,
  ``A``/``B``/``=``, or the winning video's own path).

Every reader validates as it goes and raises :class:`InputError` naming the
file, the row (1-based data row; for CSV that is the line number minus one)
and the field.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import InputError
# The table and JSON readers and writers live in videojury.io (re-exported here).
from ..io import read_records, read_table, sidecar, write_json, write_table  # noqa: F401
from ..text import normalize_yes_no

__all__ = [
    "LOVE_KINDS",
    "check_scale",
    "guess_love_kind",
    "load_human_labels",
    "load_love_jsonl",
    "load_pairs",
    "load_ratings",
    "read_table",
    "require_columns",
    "to_numeric_column",
    "write_json",
    "write_table",
]

LOVE_KINDS = ("perception", "correspondence", "qa")


def _source(df: pd.DataFrame) -> str:
    return df.attrs.get("source", "<table>")


def require_columns(df: pd.DataFrame, columns: Sequence[str], *, what: str = "table") -> None:
    """Raise :class:`InputError` naming every required column ``df`` lacks."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InputError(
            f"{_source(df)}: {what} is missing column(s) {', '.join(map(repr, missing))}; "
            f"found {', '.join(map(repr, map(str, df.columns)))}"
        )


def to_numeric_column(df: pd.DataFrame, column: str, *, allow_missing: bool = False) -> np.ndarray:
    """Convert ``df[column]`` to floats or raise :class:`InputError` naming the row.

    Empty cells and NaN are errors unless ``allow_missing``; text that is not
    a number and infinities are always errors. Row numbers are 1-based data
    rows (the header is not counted).
    """
    raw = df[column]
    vals = pd.to_numeric(raw, errors="coerce").to_numpy(dtype=float)
    bad_text = np.isnan(vals) & raw.notna().to_numpy() & (raw.astype(str).str.strip().str.lower() != "nan").to_numpy()
    if bad_text.any():
        i = int(np.flatnonzero(bad_text)[0])
        raise InputError(f"{_source(df)}: row {i + 1}: field {column!r} is not a number: {raw.iloc[i]!r}")
    if np.isinf(vals).any():
        i = int(np.flatnonzero(np.isinf(vals))[0])
        raise InputError(f"{_source(df)}: row {i + 1}: field {column!r} is infinite")
    if not allow_missing and np.isnan(vals).any():
        i = int(np.flatnonzero(np.isnan(vals))[0])
        raise InputError(f"{_source(df)}: row {i + 1}: field {column!r} is missing (empty or NaN)")
    return vals


def _text_column(df: pd.DataFrame, column: str) -> pd.Series:
    s = df[column]
    missing = s.isna().to_numpy() | (s.astype(str).str.strip() == "").to_numpy()
    if missing.any():
        i = int(np.flatnonzero(missing)[0])
        raise InputError(f"{_source(df)}: row {i + 1}: field {column!r} is empty")
    return s.astype(str).str.strip()


def load_ratings(
    source: str | Path | pd.DataFrame,
    *,
    rater: str = "rater",
    video: str = "video",
    score: str = "score",
    dimension: str | None = "dimension",
    default_dimension: str = "overall",
    scale: tuple[float, float] | None = None,
) -> pd.DataFrame:
    """Load raw long-format ratings into columns ``rater, video, dimension, score``.

    ``source`` is a path or a DataFrame. Column names are configurable; the
    dimension column is optional (absent: every rating belongs to
    ``default_dimension``). Scores may be on any numeric scale; with
    ``scale=(low, high)`` a score outside ``[low, high]`` is refused, naming
    its row (a typo such as 99 on a 1-5 scale would otherwise shift that
    rater's z-scores and the video's MOS). Missing columns, empty
    identifiers, non-numeric or missing scores and a second score by the
    same rater for the same (video, dimension) raise :class:`InputError`
    naming the row and field.
    """
    df = read_table(source) if not isinstance(source, pd.DataFrame) else source
    require_columns(df, [rater, video, score], what="ratings table")
    out = pd.DataFrame({
        "rater": _text_column(df, rater).to_numpy(),
        "video": _text_column(df, video).to_numpy(),
    })
    if dimension and dimension in df.columns:
        out["dimension"] = _text_column(df, dimension).to_numpy()
    else:
        out["dimension"] = default_dimension
    out["score"] = to_numeric_column(df, score)
    if scale is not None:
        check_scale(out["score"].to_numpy(dtype=float), scale, where=_source(df), field=score)
    # A second score of one rater for one video would count as another rater:
    # it inflates n, narrows the CI and skews the BT.500 counts.
    dup = out.duplicated(["rater", "video", "dimension"], keep="first").to_numpy()
    if dup.any():
        i = int(np.flatnonzero(dup)[0])
        r, v, d = out["rater"].iloc[i], out["video"].iloc[i], out["dimension"].iloc[i]
        first = int(np.flatnonzero(
            ((out["rater"] == r) & (out["video"] == v) & (out["dimension"] == d)).to_numpy()
        )[0])
        raise InputError(
            f"{_source(df)}: row {i + 1}: rater {r!r} already rated video {v!r} in dimension {d!r} "
            f"(row {first + 1}); give one score per rater, video and dimension (average repeats first)"
        )
    out.attrs["source"] = _source(df)
    return out


def check_scale(values: np.ndarray, scale: tuple[float, float], *, where: str = "<table>",
                field: str = "score") -> None:
    """Raise :class:`InputError` naming the first row (1-based) whose value lies outside
    ``scale = (low, high)``, with how many rows do; ``low < high`` is required."""
    low, high = (float(scale[0]), float(scale[1]))
    if not (math.isfinite(low) and math.isfinite(high) and low < high):
        raise InputError(f"scale {scale[0]!r} to {scale[1]!r}: give two finite numbers LOW < HIGH")
    v = np.asarray(values, dtype=float)
    bad = np.flatnonzero((v < low) | (v > high))
    if bad.size:
        i = int(bad[0])
        more = f" ({bad.size} rows are outside it: rows {', '.join(str(int(k) + 1) for k in bad[:5])}" \
               f"{', ...' if bad.size > 5 else ''})" if bad.size > 1 else ""
        raise InputError(
            f"{where}: row {i + 1}: field {field!r} is {v[i]:g}, outside the rating scale "
            f"{low:g} to {high:g}{more}; fix the row, or declare the scale the ratings use "
            "(videojury mos --scale LOW HIGH, or --scale any)"
        )


_LABEL_OPTIONAL = ("model", "prompt_id", "prompt")


def load_human_labels(
    source: str | Path | pd.DataFrame,
    *,
    video: str = "video",
    mos: str = "mos",
    dimension: str | None = "dimension",
    default_dimension: str | None = None,
    model: str | None = "model",
    prompt_id: str | None = "prompt_id",
    prompt: str | None = "prompt",
) -> pd.DataFrame:
    """Load aggregated human labels into ``video, dimension, mos[, model, prompt_id, prompt]``.

    Accepts a generic table (see the module docstring) or a LOVE/AIGVE-60K
    JSONL file (recognised by its ``conversations`` field; QA files are
    rejected here, use :func:`load_love_jsonl` for them). Without a
    dimension column every row gets ``default_dimension``, or for LOVE files
    the kind guessed from the file name (``perception``/``correspondence``),
    or ``"mos"``. Duplicate (video, dimension) rows and non-numeric or
    missing MOS raise :class:`InputError` naming the row and field.
    """
    if isinstance(source, (str, Path)) and Path(source).suffix.lower() in (".jsonl", ".json", ".ndjson"):
        recs_df = read_table(source)
        if "conversations" in recs_df.columns:
            kind = default_dimension or guess_love_kind(source) or "mos"
            if kind == "qa":
                raise InputError(f"{source}: this is a LOVE QA file; pass it as QA labels, not MOS labels")
            return load_love_jsonl(source, kind=kind)
        df = recs_df
    elif isinstance(source, pd.DataFrame):
        df = source
    else:
        df = read_table(source)
    require_columns(df, [video, mos], what="human labels table")
    out = pd.DataFrame({"video": _text_column(df, video).to_numpy()})
    if dimension and dimension in df.columns:
        out["dimension"] = _text_column(df, dimension).to_numpy()
    else:
        out["dimension"] = default_dimension or "mos"
    out["mos"] = to_numeric_column(df, mos)
    for name, col in (("model", model), ("prompt_id", prompt_id), ("prompt", prompt)):
        if col and col in df.columns:
            out[name] = df[col].astype("string").to_numpy()
    for extra in ("std", "n", "ci_low", "ci_high"):
        if extra in df.columns and extra not in out.columns:
            out[extra] = pd.to_numeric(df[extra], errors="coerce").to_numpy()
    dup = out.duplicated(["video", "dimension"], keep="first")
    if dup.any():
        i = int(np.flatnonzero(dup.to_numpy())[0])
        raise InputError(
            f"{_source(df)}: row {i + 1}: video {out['video'].iloc[i]!r} has a second "
            f"{mos!r} for dimension {out['dimension'].iloc[i]!r}; aggregate raw ratings with `videojury mos` first"
        )
    out.attrs["source"] = _source(df)
    return out


def guess_love_kind(path: str | Path) -> str | None:
    """Guess ``perception``, ``correspondence`` or ``qa`` from a LOVE file name."""
    name = Path(path).name.lower()
    if "percep" in name or "quality" in name:
        return "perception"
    if "corr" in name or "align" in name:
        return "correspondence"
    if re.search(r"(^|[^a-z])qa([^a-z]|$)", name) or "question" in name:
        return "qa"
    return None


_VIDEO_TAG = re.compile(r"^\s*(<video>\s*)+", re.IGNORECASE)
_FRAME_TAGS = re.compile(r"(Frame\d+:\s*<image>\s*)+", re.IGNORECASE)


def _clean_turn(text: str) -> str:
    # LOVE prefixes the human turn with "<video>\n" (or per-frame image tags);
    # they are placeholders for pixels, not part of the question.
    text = _VIDEO_TAG.sub("", text)
    text = _FRAME_TAGS.sub("", text)
    return " ".join(text.split())


def _turns(rec: dict, where: str) -> tuple[str, str]:
    conv = rec.get("conversations")
    if not isinstance(conv, list) or not conv:
        raise InputError(f"{where}: field 'conversations' is missing or empty")
    human = next((t for t in conv if isinstance(t, dict) and t.get("from") == "human"), None)
    gpt = next((t for t in conv if isinstance(t, dict) and t.get("from") in ("gpt", "assistant")), None)
    if human is None or "value" not in human:
        raise InputError(f"{where}: field 'conversations' has no human turn with a 'value'")
    if gpt is None or "value" not in gpt:
        raise InputError(f"{where}: field 'conversations' has no gpt turn with a 'value'")
    return str(human["value"]), str(gpt["value"])


def load_love_jsonl(
    path: str | Path,
    *,
    kind: str | None = None,
    model_from_path: bool = False,
) -> pd.DataFrame:
    """Read a LOVE / AIGVE-60K annotation file (JSONL or JSON list).

    ``kind`` is ``"perception"``, ``"correspondence"`` (any other name is
    taken as the dimension of a MOS file) or ``"qa"``; when
    omitted it is guessed from the file name, then from the content (rows
    without ``mos`` are QA). MOS files give ``video, dimension, mos,
    instruction, response`` (``dimension`` = the kind; ``instruction`` is the
    human turn without the ``<video>`` placeholder, ``response`` the
    reference gpt turn). QA files give ``video, question, answer,
    answer_norm`` where ``answer_norm`` is the yes/no normalisation of the
    human answer (None when it is neither; such rows are kept and counted
    by :func:`videojury.analysis.qa.qa_accuracy`, never dropped).
    ``model_from_path`` fills a ``model`` column with the first directory of
    the video path, for releases that store videos as ``<model>/<name>.mp4``.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    recs = read_records(p)
    if kind is None:
        kind = guess_love_kind(p)
    if kind is None:
        kind = "qa" if recs and all("mos" not in r for r in recs) else "perception"
    rows = []
    for i, rec in enumerate(recs, start=1):
        where = f"{p}: row {i}"
        vid = rec.get("video")
        if not isinstance(vid, str) or not vid.strip():
            raise InputError(f"{where}: field 'video' is missing or empty")
        human, gpt = _turns(rec, where)
        if kind == "qa":
            rows.append({
                "video": vid.strip(),
                "question": _clean_turn(human),
                "answer": gpt.strip(),
                "answer_norm": normalize_yes_no(gpt),
            })
        else:
            if "mos" not in rec:
                raise InputError(f"{where}: field 'mos' is missing (is this a QA file? pass kind='qa')")
            val = rec["mos"]
            try:
                mos = float(val)
            except (TypeError, ValueError):
                raise InputError(f"{where}: field 'mos' is not a number: {val!r}") from None
            if not math.isfinite(mos):
                raise InputError(f"{where}: field 'mos' is not finite: {val!r}")
            rows.append({
                "video": vid.strip(),
                "dimension": kind,
                "mos": mos,
                "instruction": _clean_turn(human),
                "response": gpt.strip(),
            })
    df = pd.DataFrame(rows)
    if "answer_norm" in df.columns:
        # Keep None (not NaN) for unparseable answers: it reads as "no answer".
        df["answer_norm"] = pd.Series([r["answer_norm"] for r in rows], dtype=object)
    if df.empty:
        cols = ["video", "question", "answer", "answer_norm"] if kind == "qa" else ["video", "dimension", "mos"]
        df = pd.DataFrame(columns=cols)
    if model_from_path and not df.empty:
        df["model"] = [v.replace("\\", "/").split("/")[0] if "/" in v.replace("\\", "/") else None for v in df["video"]]
    if kind != "qa":
        dup = df.duplicated(["video", "dimension"])
        if dup.any():
            i = int(np.flatnonzero(dup.to_numpy())[0])
            raise InputError(f"{p}: row {i + 1}: video {df['video'].iloc[i]!r} appears twice")
    df.attrs["source"] = str(p)
    df.attrs["love_kind"] = kind
    return df


_WINNER_A = {"a", "left", "1", "first", "video_a"}
_WINNER_B = {"b", "right", "2", "second", "video_b"}
_WINNER_TIE = {"tie", "draw", "equal", "=", "0", "same", "none"}


def load_pairs(
    source: str | Path | pd.DataFrame,
    *,
    video_a: str = "video_a",
    video_b: str = "video_b",
    winner: str = "winner",
    dimension: str | None = "dimension",
    model_a: str | None = "model_a",
    model_b: str | None = "model_b",
    prompt_id: str | None = "prompt_id",
    default_dimension: str = "overall",
    video_models: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """Load pairwise preferences into ``video_a, video_b, winner, dimension[, model_a, model_b]``.

    ``winner`` is normalised to ``"a"``, ``"b"`` or ``"tie"``; the winning
    video's own path is also accepted. ``video_models`` maps video to T2V
    model when the table has no model columns. A winner that cannot be
    read, an empty video, or a video compared with itself raises
    :class:`InputError` naming the row and field.
    """
    df = read_table(source) if not isinstance(source, pd.DataFrame) else source
    require_columns(df, [video_a, video_b, winner], what="pairs table")
    a = _text_column(df, video_a).to_numpy()
    b = _text_column(df, video_b).to_numpy()
    raw_w = df[winner]
    wins = []
    for i, (w, va, vb) in enumerate(zip(raw_w, a, b)):
        s = "" if w is None or (isinstance(w, float) and math.isnan(w)) else str(w).strip()
        low = s.lower()
        if low in _WINNER_A or s == va:
            wins.append("a")
        elif low in _WINNER_B or s == vb:
            wins.append("b")
        elif low in _WINNER_TIE:
            wins.append("tie")
        else:
            raise InputError(
                f"{_source(df)}: row {i + 1}: field {winner!r} must be a, b or tie (or the winning video), got {w!r}"
            )
        if va == vb:
            raise InputError(f"{_source(df)}: row {i + 1}: fields {video_a!r} and {video_b!r} name the same video")
    out = pd.DataFrame({"video_a": a, "video_b": b, "winner": wins})
    out["dimension"] = _text_column(df, dimension).to_numpy() if dimension and dimension in df.columns else default_dimension
    if model_a and model_b and model_a in df.columns and model_b in df.columns:
        out["model_a"] = _text_column(df, model_a).to_numpy()
        out["model_b"] = _text_column(df, model_b).to_numpy()
    elif video_models is not None:
        for side, vids in (("a", a), ("b", b)):
            missing = [v for v in vids if v not in video_models]
            if missing:
                i = int(np.flatnonzero(vids == missing[0])[0])
                raise InputError(f"{_source(df)}: row {i + 1}: video {missing[0]!r} is not in the video->model mapping")
            out[f"model_{side}"] = [video_models[v] for v in vids]
    if prompt_id and prompt_id in df.columns:
        out["prompt_id"] = df[prompt_id].astype("string").to_numpy()
    out.attrs["source"] = _source(df)
    return out

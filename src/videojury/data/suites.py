"""Prompt suites: the prompts a set of T2V models is benchmarked on.

A suite is a CSV/TSV, JSONL, JSON or Parquet table with one row per prompt,
or per (prompt, question):

``prompt_id`` (required)
    A short unique id; generated videos are named after it
    (``<model>/<prompt_id>[-<k>].mp4``).
``prompt`` (required)
    The text the video was generated from. Rows that share a ``prompt_id``
    must give the same prompt.
``dimension`` (optional)
    The task category (``motion``, ``spatial_relationship``, ...). Several
    are separated by ``|`` in a CSV cell, or given as a JSON list.
``question``, ``expected`` (optional)
    A yes/no question about the video and the answer a faithful video gets
    (``yes`` or ``no``; ``Yes.``, ``TRUE``, ``1`` are understood). One row per
    question; in JSONL, a ``questions`` list of ``{"question", "expected"}``
    objects on the prompt's row works too. A question counts towards its
    prompt's dimensions, unless a nested question names its own
    ``dimension``.

Any other column is kept as prompt metadata. Adapters read other
benchmarks' prompt files into the same :class:`Suite`:

* **VBench**: ``VBench_full_info.json`` (a list of ``{"prompt_en",
  "dimension": [...]}``) or a plain prompt list such as
  ``prompts/all_dimension.txt``. The ``prompt_id`` is the prompt text itself,
  because VBench names sampled videos ``<prompt>-<index>.mp4``.
* **LOVE / AIGVE-60K**: ``prompt.txt`` (one prompt per line), optionally with
  the ``video_names.txt`` that lists the matching video files line by line;
  the ids are then the video file stems, else ``p0001``, ``p0002``, ...

Built-in suites (``load_suite("demo")``) live next to this module in
``suites/``.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Sequence

import pandas as pd

from ..errors import InputError
from ..text import normalize_yes_no
from .items import read_table

BUILTIN_DIR = Path(__file__).with_name("suites")
FORMATS = ("auto", "videojury", "vbench", "love")
_SUITE_COLUMNS = ("prompt_id", "prompt", "dimension", "question", "expected", "questions")


@dataclass(frozen=True)
class Question:
    """A yes/no question about a video and the answer a faithful video gets."""

    question: str
    expected: str  # "yes" or "no"
    dimensions: tuple[str, ...] = ()


@dataclass(frozen=True)
class SuitePrompt:
    """One prompt of a suite, with its task dimensions and questions."""

    prompt_id: str
    prompt: str
    dimensions: tuple[str, ...] = ()
    questions: tuple[Question, ...] = ()
    extra: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)

    @property
    def dimension(self) -> str | None:
        """The dimensions joined with ``|`` (how a manifest cell holds them), or None."""
        return "|".join(self.dimensions) if self.dimensions else None


@dataclass
class Suite:
    """An ordered collection of prompts with unique ids."""

    name: str
    prompts: list[SuitePrompt]
    source: str | None = None

    def __post_init__(self) -> None:
        self._by_id: dict[str, SuitePrompt] = {}
        for p in self.prompts:
            if p.prompt_id in self._by_id:
                raise InputError(f"{self.source or self.name}: prompt_id {p.prompt_id!r} "
                                 "appears twice")
            self._by_id[p.prompt_id] = p

    def __len__(self) -> int:
        return len(self.prompts)

    def __contains__(self, prompt_id: object) -> bool:
        return prompt_id in self._by_id

    def __getitem__(self, prompt_id: str) -> SuitePrompt:
        return self._by_id[prompt_id]

    @property
    def ids(self) -> list[str]:
        return [p.prompt_id for p in self.prompts]

    @property
    def dimensions(self) -> list[str]:
        """Every dimension, in order of first appearance."""
        return list(dict.fromkeys(d for p in self.prompts for d in p.dimensions))

    @property
    def n_questions(self) -> int:
        return sum(len(p.questions) for p in self.prompts)

    def to_frame(self) -> pd.DataFrame:
        """One row per prompt: ``prompt_id``, ``prompt``, ``dimension`` (``|``-joined),
        ``n_questions`` and the metadata columns."""
        rows = []
        for p in self.prompts:
            rows.append({"prompt_id": p.prompt_id, "prompt": p.prompt, "dimension": p.dimension,
                         "n_questions": len(p.questions), **p.extra})
        return pd.DataFrame(rows, columns=None if rows else
                            ["prompt_id", "prompt", "dimension", "n_questions"])

    def questions_frame(self) -> pd.DataFrame:
        """One row per question: ``prompt_id``, ``prompt``, ``question``, ``expected``,
        ``dimension`` (the question's own, else its prompt's)."""
        rows = []
        for p in self.prompts:
            for q in p.questions:
                dims = q.dimensions or p.dimensions
                rows.append({"prompt_id": p.prompt_id, "prompt": p.prompt,
                             "question": q.question, "expected": q.expected,
                             "dimension": "|".join(dims) if dims else None})
        return pd.DataFrame(rows, columns=["prompt_id", "prompt", "question", "expected",
                                           "dimension"])

    def write(self, path: str | os.PathLike) -> Path:
        """Save in the videojury format (JSONL, one prompt per line, questions nested; or
        CSV, one row per question, by the file's suffix)."""
        p = Path(path)
        p.parent.mkdir(parents=True, exist_ok=True)
        if p.suffix.lower() == ".csv":
            rows = []
            for sp in self.prompts:
                base = {"prompt_id": sp.prompt_id, "prompt": sp.prompt,
                        "dimension": sp.dimension or ""}
                if not sp.questions:
                    rows.append({**base, "question": "", "expected": "", **sp.extra})
                for q in sp.questions:
                    rows.append({**base, "question": q.question, "expected": q.expected,
                                 **sp.extra})
            pd.DataFrame(rows).to_csv(p, index=False)
            return p
        with open(p, "w", encoding="utf-8") as fh:
            for sp in self.prompts:
                rec: dict[str, Any] = {"prompt_id": sp.prompt_id, "prompt": sp.prompt}
                if sp.dimensions:
                    rec["dimension"] = list(sp.dimensions) if len(sp.dimensions) > 1 \
                        else sp.dimensions[0]
                if sp.questions:
                    rec["questions"] = [
                        {"question": q.question, "expected": q.expected,
                         **({"dimension": "|".join(q.dimensions)} if q.dimensions else {})}
                        for q in sp.questions]
                rec.update(sp.extra)
                fh.write(json.dumps(rec, ensure_ascii=False, default=str) + "\n")
        return p


# --- the videojury format ---------------------------------------------------


def _cell(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, float) and value != value:
        return None
    text = str(value).strip()
    return text or None


def _dims(value: Any, where: str) -> tuple[str, ...]:
    """Dimensions from a cell: a string (``a|b``) or a list of strings."""
    if value is None or (isinstance(value, float) and value != value):
        return ()
    if isinstance(value, str):
        items = [v.strip() for v in value.split("|")]
    elif hasattr(value, "__iter__") and not isinstance(value, (bytes, dict)):
        items = [str(v).strip() for v in value]  # a JSON list, or an array from Parquet
    else:
        raise InputError(f"{where}, column 'dimension': expected text or a list, got "
                         f"{type(value).__name__}")
    return tuple(dict.fromkeys(v for v in items if v))


def _question(q: Any, e: Any, dims: tuple[str, ...], where: str) -> Question:
    qt = _cell(q)
    if qt is None:
        raise InputError(f"{where}: an 'expected' answer without a 'question'")
    if _cell(e) is None:
        raise InputError(f"{where}: question {qt!r} has no 'expected' answer; give the yes/no "
                         "answer a faithful video should get")
    norm = normalize_yes_no(e if isinstance(e, (str, bool)) else str(e))
    if norm is None:
        raise InputError(f"{where}, column 'expected': {e!r} is not a yes/no answer")
    return Question(qt, norm, dims)


def suite_from_table(df: pd.DataFrame, source: str, name: str | None = None) -> Suite:
    """Build and validate a :class:`Suite` from a table in the videojury format."""
    cols = list(df.columns)
    for req in ("prompt_id", "prompt"):
        if req not in cols:
            hint = ""
            if req == "prompt_id" and "prompt_en" in cols:
                hint = " (this looks like VBench's prompt file: use --suite-format vbench)"
            raise InputError(f"{source}: no {req!r} column (columns found: "
                             f"{', '.join(map(str, cols)) or 'none'}){hint}; a suite needs "
                             "'prompt_id' and 'prompt' columns")
    if len(df) == 0:
        raise InputError(f"{source}: the suite has no prompts")
    extra_cols = [c for c in cols if c not in _SUITE_COLUMNS]
    order: list[str] = []
    text: dict[str, tuple[str, int]] = {}
    dims: dict[str, list[str]] = {}
    questions: dict[str, list[Question]] = {}
    seen_q: dict[tuple[str, str], int] = {}
    extras: dict[str, dict[str, Any]] = {}
    for i, rec in enumerate(df.to_dict("records"), 1):
        where = f"{source} row {i}"
        pid = _cell(rec.get("prompt_id"))
        prompt = _cell(rec.get("prompt"))
        if pid is None:
            raise InputError(f"{where}, column 'prompt_id': empty; every prompt needs an id")
        if prompt is None:
            raise InputError(f"{where}, column 'prompt': empty for prompt_id {pid!r}")
        if pid in text and text[pid][0] != prompt:
            raise InputError(f"{where}: prompt_id {pid!r} has a different prompt than row "
                             f"{text[pid][1]}; one id, one prompt")
        if pid not in text:
            order.append(pid)
            text[pid] = (prompt, i)
            dims[pid] = []
            questions[pid] = []
            extras[pid] = {c: rec[c] for c in extra_cols if _cell(rec.get(c)) is not None}
        row_dims = _dims(rec.get("dimension"), where)
        dims[pid].extend(d for d in row_dims if d not in dims[pid])
        qs: list[Question] = []
        if _cell(rec.get("question")) is not None or _cell(rec.get("expected")) is not None:
            qs.append(_question(rec.get("question"), rec.get("expected"), (), where))
        nested = rec.get("questions")
        if isinstance(nested, list):
            for k, q in enumerate(nested, 1):
                if not isinstance(q, dict):
                    raise InputError(f"{where}, 'questions' item {k}: expected an object with "
                                     "'question' and 'expected'")
                qs.append(_question(q.get("question"), q.get("expected", q.get("answer")),
                                    _dims(q.get("dimension"), where),
                                    f"{where}, 'questions' item {k}"))
        elif nested is not None and not (isinstance(nested, float) and nested != nested):
            raise InputError(f"{where}, column 'questions': expected a list of objects")
        for q in qs:
            key = (pid, q.question)
            if key in seen_q:
                raise InputError(f"{where}: question {q.question!r} of prompt {pid!r} repeats "
                                 f"row {seen_q[key]}")
            seen_q[key] = i
            questions[pid].append(q)
    prompts = [SuitePrompt(pid, text[pid][0], tuple(dims[pid]), tuple(questions[pid]),
                           extras[pid]) for pid in order]
    return Suite(name or Path(source).stem, prompts, source)


# --- adapters ---------------------------------------------------------------


def _read_lines(path: Path) -> list[str]:
    try:
        with open(path, encoding="utf-8") as fh:
            return [ln.strip() for ln in fh if ln.strip()]
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text (byte {exc.start}); save it as "
                         "UTF-8") from None


def from_vbench(path: str | os.PathLike, dimensions: Sequence[str] | None = None) -> Suite:
    """Read VBench's ``VBench_full_info.json`` or a plain prompt list (``all_dimension.txt``).

    The prompt text is the ``prompt_id``: VBench saves videos as
    ``<prompt>-<index>.mp4``, so its sample folders match the suite as they
    are. A prompt listed under several dimensions keeps them all; VBench's
    ``auxiliary_info`` travels as metadata. ``dimensions`` keeps only
    prompts in those dimensions.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    if p.suffix.lower() == ".txt":
        lines = _read_lines(p)
        prompts = [SuitePrompt(t, t) for t in dict.fromkeys(lines)]
        if dimensions:
            raise InputError(f"{p}: a plain prompt list has no dimensions to select from; use "
                             "VBench_full_info.json")
    else:
        try:
            with open(p, encoding="utf-8") as fh:
                data = json.load(fh)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        if not isinstance(data, list):
            raise InputError(f"{p}: expected a JSON list of {{'prompt_en', 'dimension'}} objects "
                             "(VBench_full_info.json)")
        merged: dict[str, tuple[list[str], dict[str, Any]]] = {}
        for i, rec in enumerate(data, 1):
            if not isinstance(rec, dict) or _cell(rec.get("prompt_en")) is None:
                raise InputError(f"{p} item {i}: no 'prompt_en' text")
            text = str(rec["prompt_en"]).strip()
            dims = list(_dims(rec.get("dimension"), f"{p} item {i}"))
            slot = merged.setdefault(text, ([], {}))
            slot[0].extend(d for d in dims if d not in slot[0])
            if isinstance(rec.get("auxiliary_info"), dict):
                slot[1].setdefault("auxiliary_info", {}).update(rec["auxiliary_info"])
        prompts = [SuitePrompt(t, t, tuple(d), (), extra) for t, (d, extra) in merged.items()]
    if dimensions:
        want = set(dimensions)
        unknown = want - {d for sp in prompts for d in sp.dimensions}
        if unknown:
            raise InputError(f"{p}: no prompt has dimension {sorted(unknown)[0]!r}")
        prompts = [sp for sp in prompts if want & set(sp.dimensions)]
    if not prompts:
        raise InputError(f"{p}: the suite has no prompts")
    return Suite("vbench", prompts, str(p))


def from_love(path: str | os.PathLike, video_names: str | os.PathLike | None = None) -> Suite:
    """Read LOVE's ``prompt.txt`` (one prompt per line, blank lines skipped).

    With ``video_names`` (or a ``video_names.txt`` next to the prompt file),
    line *i* of the prompt file belongs to the video on line *i* of that file,
    as in LOVE's inference scripts, and each prompt's id is its video's file
    stem; several videos of one prompt (one per model) collapse to one entry.
    Otherwise the ids are ``p0001``, ``p0002``, ... in file order.
    """
    p = Path(path)
    if not p.exists():
        raise InputError(f"{p}: file does not exist")
    lines = _read_lines(p)
    if not lines:
        raise InputError(f"{p}: the suite has no prompts")
    names_path = Path(video_names) if video_names is not None else p.with_name("video_names.txt")
    if video_names is not None and not names_path.exists():
        raise InputError(f"{names_path}: file does not exist")
    if names_path.exists():
        names = _read_lines(names_path)
        if len(names) != len(lines):
            raise InputError(f"{names_path} lists {len(names)} videos but {p} has {len(lines)} "
                             "prompts; LOVE pairs them line by line")
        prompts: dict[str, str] = {}
        for i, (vid, text) in enumerate(zip(names, lines), 1):
            pid = Path(vid).stem
            if pid in prompts and prompts[pid] != text:
                raise InputError(f"{names_path} line {i}: video stem {pid!r} has two different "
                                 "prompts")
            prompts[pid] = text
        items = [SuitePrompt(k, v) for k, v in prompts.items()]
    else:
        width = max(4, len(str(len(lines))))
        items = [SuitePrompt(f"p{i:0{width}d}", t) for i, t in enumerate(lines, 1)]
    return Suite("love", items, str(p))


def builtin_suites() -> list[str]:
    """Names of the suites shipped with videojury."""
    if not BUILTIN_DIR.is_dir():
        return []
    return sorted(f.stem for f in BUILTIN_DIR.iterdir() if f.suffix in (".jsonl", ".csv"))


def _sniff(p: Path) -> str:
    """Guess a suite file's format from its suffix and first bytes."""
    suffix = p.suffix.lower()
    if suffix == ".txt":
        return "love" if p.with_name("video_names.txt").exists() else "vbench"
    if suffix == ".json":
        with open(p, encoding="utf-8", errors="replace") as fh:
            head = fh.read(4096)
        if '"prompt_en"' in head:
            return "vbench"
    return "videojury"


def load_suite(spec: str | os.PathLike, fmt: str = "auto", name: str | None = None) -> Suite:
    """A suite from a built-in name (``"demo"``) or a file, validated.

    ``fmt``: ``videojury`` (CSV/TSV/JSONL/JSON/Parquet in the format above),
    ``vbench``, ``love``, or ``auto`` (VBench JSON is recognised by its
    ``prompt_en`` key, a ``.txt`` file is a prompt list: LOVE's when a
    ``video_names.txt`` sits next to it, else VBench's).
    """
    if fmt not in FORMATS:
        raise InputError(f"unknown suite format {fmt!r}: use {', '.join(FORMATS)}")
    p = Path(spec)
    if not p.exists() and isinstance(spec, str) and spec in builtin_suites():
        files = [f for f in BUILTIN_DIR.iterdir() if f.stem == spec]
        return load_suite(files[0], "videojury", name=spec)
    if not p.exists():
        known = ", ".join(builtin_suites()) or "none"
        raise InputError(f"{spec}: no such suite file (built-in suites: {known})")
    if p.is_dir():
        raise InputError(f"{p}: is a folder; give the suite file (CSV, JSONL, JSON or .txt)")
    kind = _sniff(p) if fmt == "auto" else fmt
    if kind == "vbench":
        suite = from_vbench(p)
    elif kind == "love":
        suite = from_love(p)
    else:
        if p.suffix.lower() == ".txt":
            raise InputError(f"{p}: a .txt file is a plain prompt list; use --suite-format "
                             "vbench or love")
        try:
            df = read_table(p)
        except InputError as exc:
            if "has no rows" in str(exc) or "is empty" in str(exc):
                raise InputError(f"{p}: the suite has no prompts") from None
            raise
        suite = suite_from_table(df, str(p), name)
    if name:
        suite.name = name
    return suite


def suite_from_records(records: Iterable[dict[str, Any]], name: str = "suite") -> Suite:
    """A suite from dicts in the videojury format (handy in Python and tests)."""
    df = pd.DataFrame(list(records))
    return suite_from_table(df, name, name)


__all__ = [
    "BUILTIN_DIR", "FORMATS", "Question", "Suite", "SuitePrompt", "builtin_suites", "from_love",
    "from_vbench", "load_suite", "suite_from_records", "suite_from_table",
]

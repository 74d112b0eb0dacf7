"""Tables and JSON in and out, and the field metadata that travels with tables.

One module for every reader and writer of user-facing files:

* :func:`read_table` - CSV, TSV, JSONL (``.ndjson`` too), JSON (a list of
  objects, or a ``{video: prompt}`` mapping) and Parquet, by suffix. Text
  stays text (no guessing of numbers or dates: a ``video`` named ``001``
  keeps its zeros); a file that cannot be read raises one
  :class:`~videojury.errors.InputError` naming the file (and the line for
  JSON). ``attrs["source"]`` holds the path.
* :func:`write_table` - the same formats by suffix, written to a temporary
  name and renamed, so an interrupted run never leaves half a file under
  the requested name. :func:`write_json` - any JSON-able value (NumPy
  scalars, DataFrames; NaN and infinities become ``null``), also atomic.
* **Field metadata.** A results table carries one
  :class:`ResultField` per score column in
  ``df.attrs["videojury_fields"]``: the metric's name, label, version and
  options, the field, the direction, the range and a description.
  :func:`write_table` stores it in the Parquet schema metadata or, for
  CSV/TSV/JSONL/JSON, in a ``<file>.fields.json`` sidecar beside the table
  (``two.csv`` -> ``two.csv.fields.json``); :func:`read_table` reads it
  back, keeping the fields whose column is still in the table. Readers ask
  :func:`field_directions`, :func:`score_columns` and
  :func:`resolve_directions` - never a column's name - which way a score
  points; for a column with no metadata they ask the user
  (``--higher-better/--lower-better``) instead of assuming.

pandas copies ``attrs`` through most operations (slicing, ``copy``,
``assign``), but not through ``merge``/``concat`` of differing tables:
code that rebuilds a table re-attaches the fields with
:func:`attach_fields`.
"""

from __future__ import annotations

import json
import math
import os
import warnings
from pathlib import Path
from dataclasses import asdict, dataclass
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from .errors import InputError, MetricError

__all__ = [
    "FIELDS_ATTR", "FIELDS_FORMAT", "ITEM_COLUMNS", "ResultField", "TABLE_SUFFIXES",
    "attach_fields", "field_directions", "has_fields", "fields_sidecar", "jsonable", "read_json",
    "read_records", "read_table", "resolve_directions",
    "score_columns", "sidecar", "table_fields", "write_json", "write_table",
]

FIELDS_ATTR = "videojury_fields"
FIELDS_FORMAT = "videojury-fields"
FIELDS_VERSION = 1
_PARQUET_KEY = b"videojury_fields"
TABLE_SUFFIXES = (".csv", ".tsv", ".txt", ".jsonl", ".ndjson", ".json", ".parquet", ".pq")
_SIDECAR = ".fields.json"


# --- field metadata -----------------------------------------------------------------

@dataclass(frozen=True)
class ResultField:
    """One column of a results table and what it holds: the one field type.

    Built from a metric and one of its
    :class:`~videojury.metrics.base.ScoreField` s when a table is made
    (:meth:`of`), it travels with the table (``DataFrame.attrs``, the
    Parquet schema metadata, a ``<file>.fields.json`` sidecar) so every
    reader - ``correlate``, ``fit``,
    ``leaderboard``, ``bench``, ``report``, ``best-of-n`` - knows the
    column's direction without guessing from its name. ``metric`` is the
    metric's label as run (``niqe:frames=2``), ``name`` its registry name,
    ``options`` the canonical JSON of the options that decide the scores,
    ``field`` the declared field; ``higher_is_better`` is ``None`` when the
    direction is unknown (a foreign column). ``display`` is an optional
    title for tables (default: the column).
    """

    column: str
    metric: str = ""
    higher_is_better: bool | None = True
    low: float | None = None
    high: float | None = None
    description: str = ""
    name: str = ""
    version: str = ""
    options: str = ""
    field: str = ""
    display: str | None = None

    @classmethod
    def of(cls, metric: Any, field: Any, column: str | None = None) -> ResultField:
        """The column ``column`` (default: the field's name) holding ``field`` (a
        :class:`~videojury.metrics.base.ScoreField`) of ``metric`` (a
        :class:`~videojury.metrics.base.Metric`)."""
        return cls(column=field.name if column is None else column, metric=metric.label,
                   higher_is_better=field.higher_is_better, low=field.low, high=field.high,
                   description=field.description, name=metric.name, version=str(metric.version),
                   options=metric.options_key, field=field.name)

    @property
    def title(self) -> str:
        return self.display or self.column

    @property
    def direction(self) -> str | None:
        """``"higher"``, ``"lower"`` or ``None`` (unknown)."""
        if self.higher_is_better is None:
            return None
        return "higher" if self.higher_is_better else "lower"

    @property
    def range_text(self) -> str:
        lo = "-inf" if self.low is None else f"{self.low:g}"
        hi = "inf" if self.high is None else f"{self.high:g}"
        return f"[{lo}, {hi}]"

    def to_dict(self) -> dict[str, Any]:
        """JSON-friendly dict (every attribute; see :meth:`from_dict`)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, obj: Mapping[str, Any], where: str = "field metadata") -> ResultField:
        """Inverse of :meth:`to_dict`; unknown keys are ignored (newer writers),
        a missing ``column`` or a direction that is not true/false/null is refused."""
        if not isinstance(obj, Mapping) or not isinstance(obj.get("column"), str):
            raise MetricError(f"{where}: each field needs a 'column' string, got {obj!r}")
        hib = obj.get("higher_is_better", None)
        if hib is not None and not isinstance(hib, bool):
            raise MetricError(f"{where}: field {obj['column']!r}: higher_is_better must be "
                              f"true, false or null, got {hib!r}")
        known = {k: obj[k] for k in cls.__dataclass_fields__ if k in obj}
        for k in ("low", "high"):
            if known.get(k) is not None:
                known[k] = float(known[k])
        for k in ("metric", "description", "name", "version", "options", "field"):
            if known.get(k) is None:
                known.pop(k, None)
            else:
                known[k] = str(known[k])
        return cls(**known)


def attach_fields(df: pd.DataFrame, fields: Iterable[Any]) -> pd.DataFrame:
    """Set ``df``'s field metadata (in place; returns ``df``).

    ``fields`` are :class:`ResultField` s or their dicts; only those whose
    column is in ``df`` are kept, one per column (the last wins).
    """
    kept: dict[str, Any] = {}
    for f in fields:
        f = f if isinstance(f, ResultField) else ResultField.from_dict(f)
        if f.column in df.columns:
            kept[f.column] = f
    df.attrs[FIELDS_ATTR] = [f.to_dict() for f in kept.values()]
    return df


def table_fields(df: pd.DataFrame) -> dict[str, Any]:
    """``{column: ResultField}`` from ``df``'s metadata, in column order (empty if none)."""
    raw = df.attrs.get(FIELDS_ATTR) or []
    where = str(df.attrs.get("source", "table"))
    by_col = {}
    for d in raw:
        f = d if isinstance(d, ResultField) else ResultField.from_dict(d, where=where)
        by_col[f.column] = f
    return {c: by_col[c] for c in df.columns if c in by_col}


def has_fields(df: pd.DataFrame) -> bool:
    """Whether ``df`` carries field metadata (written by videojury)."""
    return FIELDS_ATTR in df.attrs


# Columns of a foreign table (one without field metadata) that are never scores.
ITEM_COLUMNS = frozenset({
    "video", "prompt", "model", "prompt_id", "dimension", "error", "seed", "path", "id", "index",
    "row", "n_frames", "num_frames", "frames", "fps", "duration", "duration_s", "width", "height",
    "seconds", "elapsed", "elapsed_s", "time_s", "runtime_s", "question", "answer", "status",
    "mos", "video_hash", "text", "human_video", "human_dimension", "match", "level", "label",
    "std", "n", "split",
})


def score_columns(df: pd.DataFrame) -> list[str]:
    """The score columns of a table, in table order: the one answer for every reader.

    A table written by videojury carries field metadata: exactly the
    columns it names. A foreign table (no metadata): the columns, other
    than :data:`ITEM_COLUMNS` and names starting with ``_``, where most
    non-empty cells are numbers - so a score column with a stray text cell
    ("n/a", an error message) still counts, and the reader stops on that
    cell naming its row instead of the column vanishing silently. The
    direction of such columns is unknown (:func:`resolve_directions`).
    """
    if has_fields(df):
        return list(table_fields(df))
    out = []
    for c in df.columns:
        if c in ITEM_COLUMNS or str(c).startswith("_"):
            continue
        raw = df[c]
        vals = pd.to_numeric(raw, errors="coerce")
        present = raw.notna() & (raw.astype(str).str.strip() != "")
        n_num = int(vals.notna().sum())
        if n_num and n_num > int((present & vals.isna()).sum()):
            out.append(c)
    return out


def field_directions(df: pd.DataFrame) -> dict[str, bool]:
    """``{column: higher_is_better}`` for every score column whose direction is known."""
    return {c: f.higher_is_better for c, f in table_fields(df).items()
            if f.higher_is_better is not None}


def resolve_directions(df: pd.DataFrame, columns: Sequence[str], *,
                       higher_better: Iterable[str] = (), lower_better: Iterable[str] = (),
                       where: str | None = None) -> dict[str, bool]:
    """The direction of each of ``columns``: the user's flags first, then the metadata.

    Raises :class:`InputError` naming every column whose direction is
    neither given nor in the table's metadata, and a column given both ways.
    Never assumes "higher is better".
    """
    hb, lb = list(higher_better), list(lower_better)
    both = sorted(set(hb) & set(lb))
    if both:
        raise InputError(f"field(s) {', '.join(map(repr, both))} given as both --higher-better "
                         "and --lower-better")
    known = field_directions(df)
    out: dict[str, bool] = {}
    unknown = []
    for c in columns:
        if c in hb:
            out[c] = True
        elif c in lb:
            out[c] = False
        elif c in known:
            out[c] = known[c]
        else:
            unknown.append(c)
    if unknown:
        src = where or df.attrs.get("source", "the table")
        why = ("it has no videojury field metadata (no .fields.json beside it)"
               if not has_fields(df) else "its field metadata does not cover them")
        raise InputError(
            f"{src}: direction unknown for column(s) {', '.join(map(repr, unknown))}: {why}. "
            f"Say which way each points with --higher-better {unknown[0]} or --lower-better "
            f"{unknown[0]} (repeatable)")
    return out


def fields_sidecar(path: str | os.PathLike) -> Path:
    """``scores.csv`` -> ``scores.csv.fields.json``."""
    p = Path(path)
    return p.with_name(p.name + _SIDECAR)


def _fields_doc(fields: list[dict]) -> dict:
    return {"format": FIELDS_FORMAT, "version": FIELDS_VERSION, "fields": fields}


def _parse_fields_doc(obj: Any, where: str) -> list[dict]:
    if not isinstance(obj, dict) or obj.get("format") != FIELDS_FORMAT:
        raise InputError(f"{where}: not a videojury field metadata file (expected "
                         f"format {FIELDS_FORMAT!r}); delete it or restore it")
    fields = obj.get("fields")
    if not isinstance(fields, list):
        raise InputError(f"{where}: 'fields' must be a list")
    try:
        return [ResultField.from_dict(f, where).to_dict() for f in fields]
    except (MetricError, TypeError, ValueError) as exc:
        raise InputError(str(exc)) from None


# --- reading -------------------------------------------------------------------------

def read_table(path: str | os.PathLike, *, fields: bool = True) -> pd.DataFrame:
    """Read a CSV/TSV, JSONL/JSON or Parquet table by suffix, with clear errors.

    Text columns stay strings; score-like columns are converted by the code
    that needs them. With ``fields`` (default) the field metadata written
    by :func:`write_table` (Parquet schema metadata or the
    ``.fields.json`` sidecar) is read into ``attrs``.
    """
    p = Path(path)
    if not p.exists():
        if p.is_symlink():
            raise InputError(f"{p}: is a broken or looping symbolic link; fix or remove it")
        raise InputError(f"{p}: file does not exist")
    if p.is_dir():
        raise InputError(f"{p}: is a folder, expected a CSV, JSONL or Parquet file")
    if not p.is_file():  # reading a FIFO or a device would block or never end
        raise InputError(f"{p}: is not a regular file (a named pipe, socket or device); save "
                         "the table to a file and pass that")
    suffix = p.suffix.lower()
    meta: list[dict] | None = None
    try:
        if suffix in (".csv", ".tsv", ".txt"):
            sep = "\t" if suffix == ".tsv" else ","
            _check_field_counts(p, sep)
            with warnings.catch_warnings():
                # index_col=False: a row's empty trailing fields (tolerated
                # above) are dropped instead of shifting columns into the index.
                warnings.simplefilter("ignore", pd.errors.ParserWarning)
                df = pd.read_csv(p, sep=sep, dtype=str, index_col=False,
                                 keep_default_na=False, na_values=[""], encoding="utf-8")
        elif suffix in (".jsonl", ".ndjson"):
            df = pd.DataFrame(_json_records(p, lines=True))
        elif suffix == ".json":
            df = _read_json(p)
        elif suffix in (".parquet", ".pq"):
            df, meta = _read_parquet(p)
        else:
            raise InputError(f"{p}: unsupported table format {suffix!r}; use .csv, .tsv, "
                             ".jsonl, .json or .parquet")
    except InputError:
        raise
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not valid UTF-8 text (byte {exc.start}: {exc.reason}); save "
                         "the file as UTF-8") from None
    except pd.errors.EmptyDataError:
        raise InputError(f"{p}: the file is empty") from None
    except pd.errors.ParserError as exc:
        raise InputError(f"{p}: malformed table ({exc})") from None
    except (OSError, ValueError) as exc:
        raise InputError(f"{p}: cannot be read as a table ({exc})") from None
    df.columns = [str(c).strip() for c in df.columns]
    df.attrs["source"] = str(p)
    if fields:
        side = fields_sidecar(p)
        if meta is None and side.is_file():
            meta = _parse_fields_doc(read_json(side), str(side))
        if meta is not None:
            attach_fields(df, meta)
    return df


def _check_field_counts(p: Path, sep: str) -> None:
    """Refuse a row with more fields than the header, naming its line.

    pandas would otherwise move the surplus leading columns into the index
    when every row has them (an unquoted comma in a prompt shifts every
    column silently). Empty trailing fields (``a,b,``) are tolerated.
    """
    import csv  # noqa: PLC0415

    with open(p, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        header = next(reader, None)
        if not header:
            return
        n = len(header)
        for row in reader:
            if len(row) > n and any(c.strip() for c in row[n:]):
                what = "tab" if sep == "\t" else "comma"
                raise InputError(
                    f"{p} line {reader.line_num}: {len(row)} fields but the header has {n} "
                    f"({sep.join(header)}); a value that holds a {what} (a prompt, say) must be "
                    'in double quotes, e.g. "a cat, running"')


def _json_records(p: Path, *, lines: bool) -> list[dict]:
    text = p.read_text(encoding="utf-8")
    if not text.strip():
        raise InputError(f"{p}: the file has no rows")
    if text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
        return _object_list(data, p)
    rows = []
    for lineno, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except json.JSONDecodeError as exc:
            raise InputError(f"{p} line {lineno}: not valid JSON ({exc.msg} at column "
                             f"{exc.colno})") from None
        if not isinstance(obj, dict):
            raise InputError(f"{p} line {lineno}: expected a JSON object, got "
                             f"{type(obj).__name__}")
        rows.append(obj)
    if not rows:
        raise InputError(f"{p}: the file has no rows")
    return rows


def read_records(path: str | os.PathLike) -> list[dict]:
    """The objects of a JSONL file (or of a JSON list), with the line of the first bad one."""
    return _json_records(Path(path), lines=True)


def _object_list(data: list, p: Path) -> list[dict]:
    for i, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise InputError(f"{p}: element {i + 1} of the list is a {type(obj).__name__}, "
                             "expected a JSON object")
    return data


def _read_json(p: Path) -> pd.DataFrame:
    text = p.read_text(encoding="utf-8")
    try:
        obj = json.loads(text)
    except json.JSONDecodeError as exc:
        if text.lstrip().startswith("{") and "\n" in text.strip():
            # One object per line under a .json name (LOVE ships such files).
            return pd.DataFrame(_json_records(p, lines=True))
        raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    if isinstance(obj, list):
        return pd.DataFrame(_object_list(obj, p))
    if isinstance(obj, dict) and obj and all(isinstance(v, str) for v in obj.values()):
        return pd.DataFrame({"video": list(obj), "prompt": list(obj.values())})
    if isinstance(obj, dict):
        return pd.DataFrame([obj])
    raise InputError(f"{p}: expected a list of objects or a {{video: prompt}} mapping")


def _read_parquet(p: Path) -> tuple[pd.DataFrame, list[dict] | None]:
    df = pd.read_parquet(p)
    meta = None
    try:
        import pyarrow.parquet as pq  # noqa: PLC0415

        kv = pq.read_schema(p).metadata or {}
    except ImportError:  # pragma: no cover - pandas reads Parquet through pyarrow
        kv = {}
    raw = kv.get(_PARQUET_KEY)
    if raw is not None:
        try:
            doc = json.loads(raw.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise InputError(f"{p}: its videojury field metadata is not valid JSON") from None
        meta = _parse_fields_doc(doc, f"{p} (Parquet metadata)")
    return df, meta


def read_json(path: str | os.PathLike, what: str = "JSON file") -> Any:
    """Parse a JSON file; :class:`InputError` naming the file and line if it is not JSON."""
    p = Path(path)
    if p.exists() and not p.is_file():
        raise InputError(f"{p}: {what} is a folder, a named pipe or a device, not a file")
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputError(f"{p}: {what} does not exist") from None
    except UnicodeDecodeError as exc:
        raise InputError(f"{p}: not valid UTF-8 text (byte {exc.start})") from None
    except OSError as exc:
        raise InputError(f"{p}: cannot be read ({exc.strerror or exc})") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None


# --- writing -------------------------------------------------------------------------

def jsonable(v: Any) -> Any:
    """``v`` with NumPy/pandas values made plain; NaN and infinities become ``None``."""
    if isinstance(v, Mapping):
        return {str(k): jsonable(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [jsonable(x) for x in v]
    if isinstance(v, pd.DataFrame):
        return jsonable(v.astype(object).where(v.notna(), None).to_dict("records"))
    if isinstance(v, np.ndarray):
        return jsonable(v.tolist())
    if isinstance(v, (bool, np.bool_)):
        return bool(v)
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, (float, np.floating)):
        f = float(v)
        return f if math.isfinite(f) else None
    if v is pd.NA or v is pd.NaT:
        return None
    if hasattr(v, "to_dict") and callable(v.to_dict):
        return jsonable(v.to_dict())
    if isinstance(v, os.PathLike):
        return os.fspath(v)
    return v


def _replace(tmp: Path, p: Path) -> None:
    try:
        os.replace(tmp, p)
    except OSError:
        tmp.unlink(missing_ok=True)
        raise


def write_json(obj: Any, path: str | os.PathLike, *, sort_keys: bool = False) -> Path:
    """Write ``obj`` as indented UTF-8 JSON, atomically (temporary file renamed over)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(p.name + ".part")
    text = json.dumps(jsonable(obj), indent=2, ensure_ascii=False, sort_keys=sort_keys,
                      allow_nan=False, default=str)
    tmp.write_text(text + "\n", encoding="utf-8")
    _replace(tmp, p)
    return p


def write_table(df: pd.DataFrame, path: str | os.PathLike, *,
                fields: Iterable[Any] | None = None) -> Path:
    """Write ``df`` as CSV, TSV, JSONL, JSON (list of records) or Parquet by suffix.

    Atomic (temporary name, then rename). The field metadata - ``fields``,
    or ``df``'s own - goes into the Parquet schema metadata, or beside a
    text table as ``<file>.fields.json``; a stale sidecar from an earlier
    table at that path is removed when the new table has no metadata.
    """
    p = Path(path)
    suffix = p.suffix.lower()
    if suffix not in TABLE_SUFFIXES or suffix == ".txt":
        raise InputError(f"{p}: unknown output format {suffix!r}; use .csv, .tsv, .jsonl, "
                         ".json or .parquet")
    p.parent.mkdir(parents=True, exist_ok=True)
    if fields is not None:
        df = attach_fields(df.copy(deep=False), fields)
    meta = df.attrs.get(FIELDS_ATTR) if has_fields(df) else None
    if meta is not None:
        meta = [f.to_dict() for f in table_fields(df).values()]
    tmp = p.with_name(p.name + ".part")
    try:
        if suffix == ".csv":
            df.to_csv(tmp, index=False)
        elif suffix == ".tsv":
            df.to_csv(tmp, index=False, sep="\t")
        elif suffix in (".jsonl", ".ndjson"):
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)
        elif suffix == ".json":
            tmp.write_text(json.dumps(jsonable(df), indent=2, ensure_ascii=False) + "\n",
                           encoding="utf-8")
        else:
            _write_parquet(df, tmp, meta)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    side = fields_sidecar(p)
    if suffix in (".parquet", ".pq") or meta is None:
        side.unlink(missing_ok=True)
    else:
        write_json(_fields_doc(meta), side)
    _replace(tmp, p)
    return p


def _write_parquet(df: pd.DataFrame, tmp: Path, meta: list[dict] | None) -> None:
    import pyarrow as pa  # noqa: PLC0415
    import pyarrow.parquet as pq  # noqa: PLC0415

    clean = df.copy(deep=False)
    clean.attrs = {}  # pandas would otherwise serialise attrs into its own metadata
    table = pa.Table.from_pandas(clean, preserve_index=False)
    if meta is not None:
        kv = dict(table.schema.metadata or {})
        kv[_PARQUET_KEY] = json.dumps(_fields_doc(meta)).encode("utf-8")
        table = table.replace_schema_metadata(kv)
    pq.write_table(table, tmp)


def sidecar(path: str | os.PathLike, tag: str, ext: str | None = None) -> Path:
    """``results.csv`` -> ``results.<tag>.csv`` (or with another extension)."""
    p = Path(path)
    return p.with_name(f"{p.stem}.{tag}{ext if ext is not None else p.suffix}")

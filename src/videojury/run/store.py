"""The results store: one SQLite database (WAL) of every score ever computed.

A result is keyed by the video's content hash, the metric's name, version
and options, the text it was given (prompt and/or question) and the
metric's *identity*: for a model metric the resolved device kind and dtype
and the identity of its checkpoint and processor (the hub commit, or a
digest of a local folder's files); empty for a weight-free metric. So a
rerun finds what is done whatever the files are called, and a changed
option, metric version, dtype or checkpoint is a new result. Each result is
written in its own short transaction: a run killed at any point (even
``kill -9``) keeps every result committed before it, and the primary key
forbids duplicates.

Content hashes are BLAKE2b over the file's bytes; a small table remembers the
hash of (absolute path, size, mtime_ns, ctime_ns, inode), so reruns do not
reread large files and an in-place rewrite is noticed even when the mtime is
set back (the ctime cannot be). A file changed within the clock's tick
around the moment it was hashed is hashed again next time (git's "racy"
rule), so a rewrite that lands in the same tick is not missed either.

Schema 2 (this version) added the identity column and the ctime/inode
columns; a schema-1 store is migrated in place the first time it is opened
for writing (old rows are kept, with an empty identity: weight-free metrics
keep being served from them, model metrics recompute). A store that cannot
be written (read-only file or folder) is opened read-only: it can be read,
exported and fully-cached runs served from it; a run that would add results
is refused before it starts. Store faults (locked by another process,
another program's database, disk full) are :class:`StoreError` messages,
never raw sqlite3 errors.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import stat
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

from ..errors import InputError

SCHEMA_VERSION = "2"
_APP = "videojury"
_OUR_TABLES = {"meta", "results", "files"}

_META = "CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)"
_RESULTS = """CREATE TABLE IF NOT EXISTS {name} (
    video_hash TEXT NOT NULL,
    metric     TEXT NOT NULL,
    version    TEXT NOT NULL,
    options    TEXT NOT NULL,
    text       TEXT NOT NULL,
    identity   TEXT NOT NULL DEFAULT '',
    status     TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    scores     TEXT,
    error      TEXT,
    video      TEXT NOT NULL,
    seconds    REAL,
    created    REAL NOT NULL,
    PRIMARY KEY (video_hash, metric, version, options, text, identity)
)"""
_FILES = """CREATE TABLE IF NOT EXISTS files (
    path       TEXT PRIMARY KEY,
    size       INTEGER NOT NULL,
    mtime_ns   INTEGER NOT NULL,
    ctime_ns   INTEGER NOT NULL,
    inode      INTEGER NOT NULL,
    checked_ns INTEGER NOT NULL,
    hash       TEXT NOT NULL
)"""
_RESULT_COLS = ("video_hash, metric, version, options, text, identity, status, scores, error, "
                "video, seconds, created")

_CHUNK = 1 << 20
# A file whose ctime is this close to (or after) the moment its hash was taken
# may have changed within the same clock tick: it is hashed again next time.
_RACY_NS = 50_000_000


class StoreError(InputError):
    """The store cannot be opened, read or written (names the store and what to do)."""


@dataclass(frozen=True)
class ResultKey:
    """What identifies one result."""

    video_hash: str
    metric: str
    version: str
    options: str
    text: str
    identity: str = ""


@dataclass
class Result:
    """One stored result: scores when ``status == 'ok'``, a message when ``'error'``."""

    key: ResultKey
    status: str
    scores: dict[str, float] | None
    error: str | None
    video: str
    seconds: float | None = None
    created: float = 0.0


def hash_bytes_of(path: Path) -> str:
    """BLAKE2b-128 of a file's content, hex."""
    h = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as fh:
        while True:
            chunk = fh.read(_CHUNK)
            if not chunk:
                break
            h.update(chunk)
    return h.hexdigest()


def missing_hash(path: str | os.PathLike) -> str:
    """Stand-in key for a file that cannot be read (its absolute path)."""
    return "missing:" + str(Path(path).absolute())


def _error_kind(exc: sqlite3.Error) -> str:
    """``locked``, ``readonly``, ``full``, ``io``, ``cantopen``, ``corrupt`` or ``other``."""
    name = getattr(exc, "sqlite_errorname", "") or ""
    msg = str(exc).lower()
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "locked" in msg:
        return "locked"
    if name.startswith("SQLITE_READONLY") or "readonly" in msg or "read-only" in msg:
        return "readonly"
    if name.startswith("SQLITE_FULL") or "disk is full" in msg:
        return "full"
    if name.startswith("SQLITE_IOERR") or "disk i/o error" in msg:
        return "io"
    if name.startswith("SQLITE_CANTOPEN") or "unable to open" in msg:
        return "cantopen"
    if name.startswith(("SQLITE_NOTADB", "SQLITE_CORRUPT")) or "not a database" in msg \
            or "malformed" in msg:
        return "corrupt"
    return "other"


class Store:
    """SQLite results store. ``Store(None)`` is an in-memory store for one session.

    Use it as a context manager or call :meth:`close`. Only one process
    should write at a time (the executor's writer); any number may read.
    ``timeout``: seconds to wait for another process's write lock before
    giving up with a message. ``read_only``: open without writing anything
    (also chosen by itself when the file or its folder cannot be written).
    """

    def __init__(self, path: str | os.PathLike | None = None, *, timeout: float = 60.0,
                 read_only: bool = False):
        self.path = None if path is None else Path(path)
        self.timeout = float(timeout)
        self.read_only = bool(read_only)
        self._legacy = False  # a schema-1 store opened read-only (no identity column)
        if self.path is not None:
            self._check_path()
        if self.path is None:
            self.conn = self._connect(":memory:")
            self._create()
            return
        if not self.read_only:
            try:
                self.conn = self._connect(str(self.path))
                self._open_for_writing()
                return
            except sqlite3.Error as exc:
                kind = _error_kind(exc)
                self._close_quietly()
                if kind not in ("readonly", "cantopen") or not self.path.is_file():
                    raise self._open_error(exc) from None
                self.read_only = True  # cannot write here: read what is there
        self._open_read_only()

    # --- opening ----------------------------------------------------------------
    def _check_path(self) -> None:
        p = self.path
        assert p is not None
        if p.is_dir():
            raise StoreError(f"{p}: the store must be a file path, not a folder")
        for parent in [p.parent, *p.parent.parents]:
            if parent.exists() and not parent.is_dir():
                raise StoreError(f"{p}: cannot create the store there, because {parent} is a "
                                 "file, not a folder; pass another --store path")
            if parent.exists():
                break
        if not self.read_only and not p.parent.exists():
            try:
                p.parent.mkdir(parents=True, exist_ok=True)
            except OSError as exc:
                raise StoreError(f"{p}: cannot create the store's folder {p.parent} "
                                 f"({exc.strerror or exc}); pass another --store path") from None

    def _connect(self, target: str, uri: bool = False) -> sqlite3.Connection:
        return sqlite3.connect(target, timeout=self.timeout, isolation_level=None,
                               check_same_thread=False, uri=uri)

    def _close_quietly(self) -> None:
        conn = self.__dict__.pop("conn", None)
        if conn is not None:
            try:
                conn.close()
            except sqlite3.Error:  # pragma: no cover - closing a broken handle
                pass

    def _open_error(self, exc: sqlite3.Error) -> StoreError:
        kind = _error_kind(exc)
        if kind == "locked":
            return self._locked_error("opening it")
        if kind == "full":
            return StoreError(f"{self.path}: cannot create or update the store: the disk is "
                              f"full ({exc}); free some space or pass another --store path")
        return StoreError(f"{self.path}: not a videojury store or it is corrupt ({exc}); "
                          "pass another --store path")

    def _locked_error(self, doing: str) -> StoreError:
        return StoreError(f"{self.path}: the store is locked by another process (waited "
                          f"{self.timeout:g} s while {doing}); wait for that run to finish, "
                          "or pass another --store path")

    def _tables(self) -> dict[str, list[str]]:
        """Table name -> column names, of the main database."""
        names = [r[0] for r in self.conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' AND name NOT LIKE 'sqlite_%'")]
        return {n: [r[1] for r in self.conn.execute(f'PRAGMA table_info("{n}")')]
                for n in names}

    def _schema_of(self) -> str | None:
        """The store's schema marker: ``None`` for an empty database (to be created).

        Raises :class:`StoreError` for a database that belongs to another program.
        """
        tables = self._tables()
        if not tables:
            return None
        ours = (set(tables) <= _OUR_TABLES and "meta" in tables
                and {"key", "value"} <= set(tables["meta"]))
        row = None
        if ours:
            row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            results_ok = "results" not in tables or {"video_hash", "metric", "version",
                                                     "options", "text", "scores"} \
                <= set(tables["results"])
            ours = results_ok and row is not None
        if not ours:
            # An empty meta table (with or without our other tables, all empty): an
            # older videojury's store creation cut short before its schema row.
            if set(tables) <= _OUR_TABLES and {"key", "value"} <= set(tables.get("meta", ())) \
                    and "video_hash" in tables.get("results", ["video_hash"]) and all(
                        self.conn.execute(f'SELECT COUNT(*) FROM "{t}"').fetchone()[0] == 0
                        for t in tables):
                return None
            names = ", ".join(sorted(tables))
            raise StoreError(f"{self.path}: this SQLite file belongs to another program (its "
                             f"tables: {names}), not a videojury store; it was left untouched. "
                             "Pass another --store path")
        return str(row[0])

    def _check_supported(self, schema: str) -> None:
        if schema not in ("1", SCHEMA_VERSION):
            raise StoreError(f"{self.path}: store schema {schema} is not supported by this "
                             f"videojury (schema {SCHEMA_VERSION}); use the videojury that "
                             "wrote it, or pass another --store path")

    def _open_for_writing(self) -> None:
        schema = self._schema_of()  # raises for a foreign file before anything is written
        if schema is not None:
            self._check_supported(schema)
        mode = self.conn.execute("PRAGMA journal_mode").fetchone()[0]
        if str(mode).lower() != "wal":
            self.conn.execute("PRAGMA journal_mode=WAL")
        self.conn.execute("PRAGMA synchronous=NORMAL")
        if schema != SCHEMA_VERSION:
            with self._transaction("setting the store up", raw=True):
                # Another process may have done it meanwhile: look again under the lock.
                schema = self._schema_of()
                if schema is None:
                    self._create_tables()
                elif schema == "1":
                    self._migrate_1_to_2()
                else:
                    self._check_supported(schema)

    def _open_read_only(self) -> None:
        assert self.path is not None
        if not self.path.is_file():
            raise StoreError(f"{self.path}: no such store (and it cannot be created here)")
        last: sqlite3.Error | None = None
        # mode=ro needs the WAL index files to exist or be creatable; a store in
        # a read-only folder after a clean close has neither: read it immutable.
        for query in ("mode=ro", "immutable=1"):
            try:
                self.conn = self._connect(f"{self.path.absolute().as_uri()}?{query}", uri=True)
                schema = self._schema_of()
                break
            except sqlite3.Error as exc:
                last = exc
                self._close_quietly()
        else:
            assert last is not None
            raise self._open_error(last)
        if schema is None:
            raise StoreError(f"{self.path}: an empty store that cannot be written (read-only); "
                             "pass another --store path")
        self._check_supported(schema)
        self._legacy = schema == "1"

    def _create(self) -> None:
        with self._transaction("creating the store"):
            self._create_tables()

    def _create_tables(self) -> None:
        self.conn.execute(_META)
        self.conn.execute(_RESULTS.format(name="results"))
        self.conn.execute(_FILES)
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        self.conn.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (_APP,))

    def _migrate_1_to_2(self) -> None:
        """Schema 1 -> 2 in place: results gain the identity column (empty for old rows,
        which keeps their keys), the content-hash cache is rebuilt with ctime and inode."""
        c = self.conn
        c.execute(_RESULTS.format(name="results_v2"))
        c.execute("INSERT INTO results_v2 (video_hash, metric, version, options, text, "
                  "identity, status, scores, error, video, seconds, created) "
                  "SELECT video_hash, metric, version, options, text, '', status, scores, "
                  "error, video, seconds, created FROM results ORDER BY rowid")
        c.execute("DROP TABLE results")
        c.execute("ALTER TABLE results_v2 RENAME TO results")
        c.execute("DROP TABLE IF EXISTS files")
        c.execute(_FILES)
        c.execute("INSERT OR REPLACE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        c.execute("INSERT OR REPLACE INTO meta VALUES ('app', ?)", (_APP,))
        c.execute("INSERT OR REPLACE INTO meta VALUES ('migrated_from_1', ?)",
                  (str(time.time()),))

    # --- lifecycle ------------------------------------------------------------
    def close(self) -> None:
        self._close_quietly()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema(self) -> str:
        """The schema this store is read with (``"1"`` only for a read-only old store)."""
        return "1" if self._legacy else SCHEMA_VERSION

    # --- faults -----------------------------------------------------------------
    @contextmanager
    def _guard(self, doing: str) -> Iterator[None]:
        """Turn sqlite3 errors inside the block into one :class:`StoreError` message."""
        try:
            yield
        except sqlite3.Error as exc:
            raise self._fault(exc, doing) from None

    def _fault(self, exc: sqlite3.Error, doing: str) -> StoreError:
        kind = _error_kind(exc)
        where = self.path if self.path is not None else "the in-memory store"
        if kind == "locked":
            return self._locked_error(doing)
        if kind == "readonly":
            return StoreError(f"{where}: the store is read-only, so {doing} is not possible; "
                              "make the file and its folder writable, or pass another "
                              "--store path")
        if kind in ("full", "io"):
            return StoreError(f"{where}: cannot write to the store while {doing}: the disk is "
                              f"full or failing ({exc}); the results committed so far are kept. "
                              "Free some space and run again to continue")
        return StoreError(f"{where}: store error while {doing} ({exc}); the results committed "
                          "so far are kept")

    def require_writable(self, missing: int) -> None:
        """Refuse, before any work, a run that must add ``missing`` results to a read-only store."""
        if missing > 0 and not self.read_only and self.path is not None:
            self._probe_writable()
        if self.read_only and missing > 0:
            raise StoreError(f"{self.path}: the store is read-only and {missing} result(s) are "
                             "not in it, so they could not be saved; make the file and its "
                             "folder writable, or pass another --store path (a run whose "
                             "results are all stored reads a read-only store fine)")

    def _probe_writable(self) -> None:
        """Find out whether the connection can write (take the write lock, release it)."""
        try:
            self.conn.execute("BEGIN IMMEDIATE")
            self.conn.execute("ROLLBACK")
        except sqlite3.Error as exc:
            if _error_kind(exc) != "readonly":
                raise self._fault(exc, "getting ready to save results") from None
            self.read_only = True

    # --- content hashes -------------------------------------------------------
    def content_hash(self, path: str | os.PathLike) -> str:
        """Hash of a file's content (cached by path, size, mtime, ctime and inode).

        Raises ``OSError`` when the file cannot be read; the caller records it.
        """
        p = Path(path).absolute()
        st = p.stat()
        if not stat.S_ISREG(st.st_mode):  # a FIFO or device would block or never end
            raise OSError(f"{p}: not a regular file")
        now_before = time.time_ns()
        if not self._legacy:
            with self._guard("reading the content-hash cache"):
                row = self.conn.execute(
                    "SELECT size, mtime_ns, ctime_ns, inode, checked_ns, hash FROM files "
                    "WHERE path=?", (str(p),)).fetchone()
            if row is not None and tuple(row[:4]) == (st.st_size, st.st_mtime_ns,
                                                      st.st_ctime_ns, st.st_ino) \
                    and st.st_ctime_ns < row[4] - _RACY_NS:
                return row[5]
        digest = hash_bytes_of(p)
        if not self.read_only:
            try:
                self.conn.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?,?,?,?)",
                                  (str(p), st.st_size, st.st_mtime_ns, st.st_ctime_ns,
                                   st.st_ino, now_before, digest))
            except sqlite3.Error as exc:
                if _error_kind(exc) != "readonly":
                    raise self._fault(exc, "caching a content hash") from None
                self.read_only = True  # the hash is right; it just cannot be kept
        return digest

    def file_identity(self, path: str | os.PathLike) -> str:
        """A file's identity for a metric's key (a model folder's weights and configs).

        A file-backed store gives the content hash (cached, so large weights
        are read once); an in-memory store, whose keys live only for this
        session, the file's (path, size, mtime, ctime, inode) instead of
        reading gigabytes of weights for a one-off run.
        """
        if self.path is not None:
            return self.content_hash(path)
        p = Path(path).absolute()
        st = p.stat()
        sig = f"{p}\0{st.st_size}\0{st.st_mtime_ns}\0{st.st_ctime_ns}\0{st.st_ino}"
        return "stat:" + hashlib.blake2b(sig.encode(), digest_size=16).hexdigest()

    # --- results ---------------------------------------------------------------
    def _cols(self) -> str:
        return _RESULT_COLS.replace("identity", "'' AS identity") if self._legacy \
            else _RESULT_COLS

    def _row(self, row: Sequence[Any]) -> Result:
        key = ResultKey(*row[:6])
        return Result(key, row[6], json.loads(row[7]) if row[7] else None, row[8], row[9],
                      row[10], row[11])

    def get_many(self, keys: Iterable[ResultKey]) -> dict[ResultKey, Result]:
        """The stored results among ``keys``."""
        out: dict[ResultKey, Result] = {}
        by_metric: dict[tuple[str, str, str], list[ResultKey]] = {}
        for k in keys:
            by_metric.setdefault((k.metric, k.version, k.options), []).append(k)
        cols = self._cols()
        with self._guard("reading results"):
            for (metric, version, options), ks in by_metric.items():
                wanted = set(ks)
                hashes = sorted({k.video_hash for k in ks})
                for start in range(0, len(hashes), 500):
                    part = hashes[start:start + 500]
                    marks = ",".join("?" * len(part))
                    cur = self.conn.execute(
                        f"SELECT {cols} FROM results WHERE metric=? AND version=? AND options=? "
                        f"AND video_hash IN ({marks})", (metric, version, options, *part))
                    for row in cur:
                        r = self._row(row)
                        if r.key in wanted:
                            out[r.key] = r
        return out

    def put(self, results: Sequence[Result]) -> None:
        """Write results in one transaction (replacing any with the same key)."""
        if not results:
            return
        if self.read_only:
            raise StoreError(f"{self.path}: the store is read-only, so results cannot be saved; "
                             "make the file and its folder writable, or pass another --store "
                             "path")
        now = time.time()
        rows = [(r.key.video_hash, r.key.metric, r.key.version, r.key.options, r.key.text,
                 r.key.identity, r.status,
                 json.dumps(r.scores, sort_keys=True) if r.scores is not None else None,
                 r.error, r.video, r.seconds, r.created or now) for r in results]
        with self._transaction("saving results"):
            self.conn.executemany(
                f"INSERT OR REPLACE INTO results ({_RESULT_COLS}) "
                "VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", rows)

    @contextmanager
    def _transaction(self, doing: str, raw: bool = False) -> Iterator[None]:
        """One write transaction; sqlite3 errors become :class:`StoreError` unless ``raw``."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            if raw:
                raise
            raise self._fault(exc, doing) from None
        try:
            yield
            conn.execute("COMMIT")
        except BaseException as exc:
            try:
                conn.execute("ROLLBACK")
            except sqlite3.Error:
                pass  # a failed write may have rolled back already
            if isinstance(exc, sqlite3.Error) and not raw:
                raise self._fault(exc, doing) from None
            raise

    def count(self, metric: str | None = None) -> int:
        """Number of stored results (of one metric if given)."""
        with self._guard("counting results"):
            if metric is None:
                return self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
            return self.conn.execute("SELECT COUNT(*) FROM results WHERE metric=?",
                                     (metric,)).fetchone()[0]

    def iter_results(self, metric: str | None = None) -> Iterator[Result]:
        """Every stored result (of one metric if given), oldest first."""
        q = f"SELECT {self._cols()} FROM results"
        args: tuple = ()
        if metric is not None:
            q += " WHERE metric=?"
            args = (metric,)
        with self._guard("reading results"):
            rows = self.conn.execute(q + " ORDER BY created, rowid", args).fetchall()
        for row in rows:
            yield self._row(row)

    def to_frame(self, metric: str | None = None) -> pd.DataFrame:
        """Long table: one row per stored result and score field (errors have no field)."""
        recs: list[dict[str, Any]] = []
        for r in self.iter_results(metric):
            base = {"video": r.video, "video_hash": r.key.video_hash, "metric": r.key.metric,
                    "version": r.key.version, "options": r.key.options, "text": r.key.text,
                    "identity": r.key.identity, "status": r.status}
            if r.status == "ok" and r.scores:
                for field, value in r.scores.items():
                    recs.append({**base, "field": field, "value": value, "error": None})
            else:
                recs.append({**base, "field": None, "value": None, "error": r.error})
        cols = ["video", "video_hash", "metric", "version", "options", "text", "identity",
                "status", "field", "value", "error"]
        return pd.DataFrame(recs, columns=cols)


def export_frame(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a results table by suffix, with its field metadata: :func:`videojury.io.write_table`."""
    from ..io import write_table  # noqa: PLC0415

    return write_table(df, path)

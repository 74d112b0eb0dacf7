"""The results store: one SQLite database (WAL) of every score ever computed.

A result is keyed by the video's content hash, the metric's name, version
and options, and the text it was given (prompt and/or question), so a rerun
finds what is done whatever the files are called, and a changed option or
metric version is a new result. Each result is written in its own short
transaction: a run killed at any point (even ``kill -9``) keeps every result
committed before it, and the primary key forbids duplicates.

Content hashes are BLAKE2b over the file's bytes; a small table remembers the
hash of (absolute path, size, mtime) so reruns do not reread large files.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable, Iterator, Sequence

import pandas as pd

from ..errors import InputError

SCHEMA_VERSION = "1"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS results (
    video_hash TEXT NOT NULL,
    metric     TEXT NOT NULL,
    version    TEXT NOT NULL,
    options    TEXT NOT NULL,
    text       TEXT NOT NULL,
    status     TEXT NOT NULL CHECK (status IN ('ok', 'error')),
    scores     TEXT,
    error      TEXT,
    video      TEXT NOT NULL,
    seconds    REAL,
    created    REAL NOT NULL,
    PRIMARY KEY (video_hash, metric, version, options, text)
);
CREATE TABLE IF NOT EXISTS files (
    path     TEXT PRIMARY KEY,
    size     INTEGER NOT NULL,
    mtime_ns INTEGER NOT NULL,
    hash     TEXT NOT NULL
);
"""

_CHUNK = 1 << 20


@dataclass(frozen=True)
class ResultKey:
    """What identifies one result."""

    video_hash: str
    metric: str
    version: str
    options: str
    text: str


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


class Store:
    """SQLite results store. ``Store(None)`` is an in-memory store for one session.

    Use it as a context manager or call :meth:`close`. Only one process
    should write at a time (the executor's writer); any number may read.
    """

    def __init__(self, path: str | os.PathLike | None = None):
        self.path = None if path is None else Path(path)
        if self.path is not None:
            if self.path.exists() and self.path.is_dir():
                raise InputError(f"{self.path}: the store must be a file path, not a folder")
            self.path.parent.mkdir(parents=True, exist_ok=True)
        target = ":memory:" if self.path is None else str(self.path)
        try:
            self.conn = sqlite3.connect(target, timeout=60.0, isolation_level=None,
                                        check_same_thread=False)
            self.conn.execute("PRAGMA journal_mode=WAL")
            self.conn.execute("PRAGMA synchronous=NORMAL")
            self.conn.executescript(_SCHEMA)
        except sqlite3.DatabaseError as exc:
            raise InputError(f"{self.path}: not a videojury store or it is corrupt ({exc}); "
                             "pass another --store path") from None
        row = self.conn.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        if row is None:
            self.conn.execute("INSERT OR IGNORE INTO meta VALUES ('schema', ?)", (SCHEMA_VERSION,))
        elif row[0] != SCHEMA_VERSION:
            raise InputError(f"{self.path}: store schema {row[0]} is not supported by this "
                             f"videojury (schema {SCHEMA_VERSION})")

    # --- lifecycle ------------------------------------------------------------
    def close(self) -> None:
        self.conn.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- content hashes -------------------------------------------------------
    def content_hash(self, path: str | os.PathLike) -> str:
        """Hash of a file's content (cached by path, size and mtime).

        Raises ``OSError`` when the file cannot be read; the caller records it.
        """
        p = Path(path).absolute()
        st = p.stat()
        row = self.conn.execute("SELECT size, mtime_ns, hash FROM files WHERE path=?",
                                (str(p),)).fetchone()
        if row is not None and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        digest = hash_bytes_of(p)
        self.conn.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?)",
                          (str(p), st.st_size, st.st_mtime_ns, digest))
        return digest

    # --- results ---------------------------------------------------------------
    def get_many(self, keys: Iterable[ResultKey]) -> dict[ResultKey, Result]:
        """The stored results among ``keys``."""
        out: dict[ResultKey, Result] = {}
        by_metric: dict[tuple[str, str, str], list[ResultKey]] = {}
        for k in keys:
            by_metric.setdefault((k.metric, k.version, k.options), []).append(k)
        for (metric, version, options), ks in by_metric.items():
            wanted = set(ks)
            hashes = sorted({k.video_hash for k in ks})
            for start in range(0, len(hashes), 500):
                part = hashes[start:start + 500]
                marks = ",".join("?" * len(part))
                cur = self.conn.execute(
                    f"SELECT video_hash, text, status, scores, error, video, seconds, created "
                    f"FROM results WHERE metric=? AND version=? AND options=? "
                    f"AND video_hash IN ({marks})", (metric, version, options, *part))
                for vh, text, status, scores, error, video, seconds, created in cur:
                    key = ResultKey(vh, metric, version, options, text)
                    if key in wanted:
                        out[key] = Result(key, status, json.loads(scores) if scores else None,
                                          error, video, seconds, created)
        return out

    def put(self, results: Sequence[Result]) -> None:
        """Write results in one transaction (replacing any with the same key)."""
        if not results:
            return
        now = time.time()
        rows = [(r.key.video_hash, r.key.metric, r.key.version, r.key.options, r.key.text,
                 r.status, json.dumps(r.scores, sort_keys=True) if r.scores is not None else None,
                 r.error, r.video, r.seconds, r.created or now) for r in results]
        with self._transaction():
            self.conn.executemany(
                "INSERT OR REPLACE INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)", rows)

    def _transaction(self):
        conn = self.conn

        class _Tx:
            def __enter__(self_inner):
                conn.execute("BEGIN IMMEDIATE")

            def __exit__(self_inner, exc_type, *rest):
                conn.execute("COMMIT" if exc_type is None else "ROLLBACK")

        return _Tx()

    def count(self, metric: str | None = None) -> int:
        """Number of stored results (of one metric if given)."""
        if metric is None:
            return self.conn.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        return self.conn.execute("SELECT COUNT(*) FROM results WHERE metric=?",
                                 (metric,)).fetchone()[0]

    def iter_results(self, metric: str | None = None) -> Iterator[Result]:
        """Every stored result (of one metric if given), oldest first."""
        q = ("SELECT video_hash, metric, version, options, text, status, scores, error, video, "
             "seconds, created FROM results")
        args: tuple = ()
        if metric is not None:
            q += " WHERE metric=?"
            args = (metric,)
        for row in self.conn.execute(q + " ORDER BY created, rowid", args):
            key = ResultKey(*row[:5])
            yield Result(key, row[5], json.loads(row[6]) if row[6] else None, row[7], row[8],
                         row[9], row[10])

    def to_frame(self, metric: str | None = None) -> pd.DataFrame:
        """Long table: one row per stored result and score field (errors have no field)."""
        recs: list[dict[str, Any]] = []
        for r in self.iter_results(metric):
            base = {"video": r.video, "video_hash": r.key.video_hash, "metric": r.key.metric,
                    "version": r.key.version, "options": r.key.options, "text": r.key.text,
                    "status": r.status}
            if r.status == "ok" and r.scores:
                for field, value in r.scores.items():
                    recs.append({**base, "field": field, "value": value, "error": None})
            else:
                recs.append({**base, "field": None, "value": None, "error": r.error})
        cols = ["video", "video_hash", "metric", "version", "options", "text", "status", "field",
                "value", "error"]
        return pd.DataFrame(recs, columns=cols)


def export_frame(df: pd.DataFrame, path: str | os.PathLike) -> Path:
    """Write a results table by suffix, with its field metadata: :func:`videojury.io.write_table`."""
    from ..io import write_table  # noqa: PLC0415

    return write_table(df, path)

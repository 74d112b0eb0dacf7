"""The study's SQLite database: stimuli, raters, schedule, what was shown, answers.

WAL journal with ``synchronous=FULL``: an answer is on disk when the
server replies, so a killed server keeps it; the primary key
``(rater, seq, dimension)`` makes a second copy impossible.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from ..errors import InputError

DB_NAME = "study.sqlite"

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS videos (
    id INTEGER PRIMARY KEY, label TEXT NOT NULL, path TEXT NOT NULL,
    prompt TEXT, prompt_id TEXT, model TEXT, golden TEXT
);
CREATE TABLE IF NOT EXISTS raters (
    rater TEXT PRIMARY KEY, token TEXT NOT NULL UNIQUE, ord INTEGER NOT NULL, started_at REAL
);
CREATE TABLE IF NOT EXISTS items (
    rater TEXT NOT NULL, seq INTEGER NOT NULL, kind TEXT NOT NULL,
    a INTEGER NOT NULL, b INTEGER, repeat_of INTEGER,
    PRIMARY KEY (rater, seq)
);
CREATE TABLE IF NOT EXISTS shown (
    rater TEXT NOT NULL, seq INTEGER NOT NULL, nonce TEXT NOT NULL, shown_at REAL NOT NULL,
    PRIMARY KEY (rater, seq)
);
CREATE TABLE IF NOT EXISTS answers (
    rater TEXT NOT NULL, seq INTEGER NOT NULL, dimension TEXT NOT NULL, value TEXT NOT NULL,
    answered_at REAL NOT NULL, view_s REAL NOT NULL,
    PRIMARY KEY (rater, seq, dimension)
);
"""


def db_path(folder: str | Path) -> Path:
    return Path(folder) / DB_NAME


def connect(folder: str | Path, *, create: bool = False) -> sqlite3.Connection:
    """Open the study database of ``folder`` (WAL, FULL sync, 10 s busy timeout)."""
    p = db_path(folder)
    if not create and not p.exists():
        raise InputError(f"{folder}: not a study folder (no {DB_NAME}); make one with `videojury study create`")
    con = sqlite3.connect(str(p), timeout=10.0, isolation_level=None, check_same_thread=False)
    con.execute("PRAGMA journal_mode=WAL")
    con.execute("PRAGMA synchronous=FULL")
    con.execute("PRAGMA foreign_keys=ON")
    if create:
        con.executescript(SCHEMA)
    return con


def read_config(con: sqlite3.Connection) -> dict:
    row = con.execute("SELECT value FROM meta WHERE key='config'").fetchone()
    if row is None:
        raise InputError("the study database has no configuration; was `videojury study create` interrupted?")
    return json.loads(row[0])


def read_meta(con: sqlite3.Connection, key: str) -> str | None:
    row = con.execute("SELECT value FROM meta WHERE key=?", (key,)).fetchone()
    return None if row is None else row[0]

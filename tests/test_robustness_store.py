"""Store cases ST1-ST20 and V34 of the robustness list, and the schema 1 -> 2 migration.

Every input is made here. Faults must end in one clear message (exit 2 or
:class:`~videojury.errors.InputError`), never a sqlite3 traceback, and must
never damage what is stored: another program's database is left untouched,
committed rows survive a full disk, a read-only store still serves what it
holds.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import videojury
from videojury.cli import main
from videojury.data.synthetic import ClipSpec, make_clip
from videojury.errors import InputError
from videojury.metrics import load_metric
from videojury.run import Result, ResultKey, Store
from videojury.run import store as store_mod
from videojury.video import write_video

ROOT = Path(__file__).resolve().parents[1]


def _videos(folder: Path, n: int) -> list[str]:
    """``n`` tiny videos of distinct content."""
    folder.mkdir(parents=True, exist_ok=True)
    base = make_clip(5, ClipSpec(32, 24, 4, 4.0))
    out = []
    for i in range(n):
        p = folder / f"v{i:02d}.mp4"
        write_video(p, np.roll(np.roll(base, i % 32, axis=2), i // 32, axis=1), fps=4)
        out.append(str(p))
    return out


@pytest.fixture(scope="module")
def vids(tmp_path_factory) -> list[str]:
    return _videos(tmp_path_factory.mktemp("st_videos"), 3)


def _cli(capsys, *args: str) -> tuple[int, str]:
    code = main([str(a) for a in args])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, " ".join(err.split())


def _tables(path: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(path) as c:
        return sorted(c.execute("SELECT name, sql FROM sqlite_master").fetchall())


def _md5(path: Path) -> str:
    return hashlib.md5(path.read_bytes()).hexdigest()


# --- files that are not (our) stores ------------------------------------------------

def test_st7_not_sqlite(vids, tmp_path, capsys):
    bogus = tmp_path / "s.sqlite"
    bogus.write_text("not a database at all, just text" * 100)
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", bogus)
    assert code == 2 and "not a videojury store or it is corrupt" in err


def test_st8_truncated_store(vids, tmp_path, capsys):
    p = tmp_path / "s.sqlite"
    with Store(p) as st:
        st.put([Result(ResultKey(f"h{i}", "m", "1", "{}", ""), "error", None, "x" * 2000, "v")
                for i in range(200)])
    data = p.read_bytes()
    p.write_bytes(data[: len(data) // 2])
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", p)
    assert code == 2 and "not a videojury store or it is corrupt" in err


def test_st9_future_schema_refused(vids, tmp_path, capsys):
    p = tmp_path / "s.sqlite"
    Store(p).close()
    with sqlite3.connect(p) as c:
        c.execute("UPDATE meta SET value='99' WHERE key='schema'")
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", p)
    assert code == 2 and "store schema 99 is not supported" in err


@pytest.mark.parametrize("ddl", [
    ["CREATE TABLE results (id INTEGER PRIMARY KEY, name TEXT)",
     "INSERT INTO results (name) VALUES ('theirs')"],                          # ST10
    ["CREATE TABLE meta (key TEXT PRIMARY KEY, val TEXT)",
     "INSERT INTO meta VALUES ('owner', 'someone')"],                          # ST11
    ["CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
     "CREATE TABLE notes (x)"],                                                # meta + others
    ["CREATE TABLE results (id INTEGER PRIMARY KEY, name TEXT)"],             # empty, theirs
], ids=["ST10-results", "ST11-meta", "meta-and-more", "empty-foreign-results"])
def test_st10_st11_foreign_sqlite_refused_and_untouched(ddl, vids, tmp_path, capsys):
    p = tmp_path / "theirs.db"
    with sqlite3.connect(p) as c:
        for stmt in ddl:
            c.execute(stmt)
    c.close()
    before, md5 = _tables(p), _md5(p)
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", p)
    assert code == 2 and "belongs to another program" in err and "left untouched" in err
    code, err = _cli(capsys, "export", p, "-o", tmp_path / "x.csv")
    assert code == 2 and "belongs to another program" in err
    assert _tables(p) == before and _md5(p) == md5  # no table added, not a byte changed


def test_empty_file_and_cut_short_creation_become_stores(tmp_path):
    empty = tmp_path / "empty.sqlite"
    empty.write_bytes(b"")
    with Store(empty) as st:
        assert st.count() == 0
    half = tmp_path / "half.sqlite"
    with sqlite3.connect(half) as c:  # an older videojury killed between its CREATEs
        c.execute("CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
    c.close()
    with Store(half) as st:
        assert st.count() == 0 and st.schema == store_mod.SCHEMA_VERSION


def test_st12_store_under_a_regular_file(vids, tmp_path, capsys):
    f = tmp_path / "plain.txt"
    f.write_text("x")
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", f / "sub" / "s.sqlite")
    assert code == 2 and "is a file, not a folder" in err and "plain.txt" in err


def test_st13_store_is_a_folder(vids, tmp_path, capsys):
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", tmp_path)
    assert code == 2 and "must be a file path, not a folder" in err


def test_st15_dev_null(vids, capsys):
    code, err = _cli(capsys, "score", vids[0], "-m", "flicker", "--store", "/dev/null")
    assert code == 2 and "not a videojury store or it is corrupt" in err


# --- locked, read-only, disk full ------------------------------------------------------

def test_st16_locked_store_is_a_message_naming_the_other_process(vids, tmp_path):
    p = tmp_path / "s.sqlite"
    Store(p).close()
    holder = sqlite3.connect(p, isolation_level=None)
    holder.execute("BEGIN EXCLUSIVE")
    try:
        t0 = time.perf_counter()
        with Store(p, timeout=0.3) as st:  # reading goes on beside the writer (WAL)
            assert st.count() == 0
            with pytest.raises(InputError, match="locked by another process") as info:
                videojury.score(vids, metrics=["flicker"], store=st)
            assert "waited 0.3 s" in str(info.value)
            with pytest.raises(InputError, match="locked by another process"):
                st.put([Result(ResultKey("h", "m", "1", "{}", ""), "ok", {"a": 1.0}, None, "v")])
        assert time.perf_counter() - t0 < 10
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert videojury.score(vids, metrics=["flicker"], store=p)["error"].isna().all()


def _drop_dac() -> None:  # pragma: no cover - runs in the child
    """As root: lose the capabilities that ignore file permissions (as the case did)."""
    libc = ctypes.CDLL(None, use_errno=True)
    for cap in (1, 2):  # CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH
        if libc.prctl(24, cap, 0, 0, 0) != 0:  # PR_CAPBSET_DROP
            raise OSError(ctypes.get_errno(), "prctl(PR_CAPBSET_DROP)")


_CHILD = r"""
import sys
from videojury.cli import main
for args in [a.split("\x1f") for a in sys.argv[1:]]:
    print("<<<", args[0], file=sys.stderr, flush=True)
    print("rc", main(args), file=sys.stderr, flush=True)
"""


def _unprivileged(*commands: list[str]) -> list[tuple[int, str]]:
    """Run CLI commands in a child that file permissions apply to; (exit code, stderr) each."""
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "250"}
    proc = subprocess.run([sys.executable, "-c", _CHILD,
                           *["\x1f".join(map(str, c)) for c in commands]],
                          capture_output=True, text=True, timeout=120, env=env,
                          preexec_fn=_drop_dac if os.geteuid() == 0 else None)
    assert "Traceback" not in proc.stderr, proc.stderr
    out = []
    for chunk in proc.stderr.split("<<<")[1:]:
        text, _, code = chunk.rpartition("rc ")
        out.append((int(code.split()[0]), " ".join(text.split())))
    assert len(out) == len(commands), proc.stderr
    return out


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="permissions test for Linux")
def test_st14_read_only_store_serves_exports_and_refuses_only_writes(vids, tmp_path):
    d = Path(tempfile.mkdtemp(prefix="vj_ro_"))
    try:
        os.chmod(d, 0o755)
        for v in vids:
            shutil.copy2(v, d)
        videos = sorted(str(p) for p in d.glob("*.mp4"))
        store = d / "s.sqlite"
        videojury.score(videos, metrics=["flicker"], store=store)
        os.chmod(store, 0o444)
        os.chmod(d, 0o555)
        out = tmp_path / "outs"
        out.mkdir()
        os.chmod(tmp_path, 0o777)
        os.chmod(out, 0o777)
        (cached, _), (export, _), (needs_write, msg) = _unprivileged(
            ["score", *videos, "-m", "flicker", "--store", store, "--quiet",
             "--out", out / "r.csv"],
            ["export", store, "-o", out / "e.csv"],
            ["score", *videos, "-m", "frozen", "--store", store, "--quiet"])
        assert cached == 0 and export == 0
        assert len(pd.read_csv(out / "r.csv")) == 3 and len(pd.read_csv(out / "e.csv")) == 3
        assert needs_write == 2
        assert "read-only" in msg and "3 result(s) are not in it" in msg
        assert "not a videojury store" not in msg
    finally:
        os.chmod(d, 0o755)
        shutil.rmtree(d, ignore_errors=True)


_FILL = r"""
import resource, sys
resource.setrlimit(resource.RLIMIT_FSIZE, (400_000, 400_000))
from videojury.run import Result, ResultKey, Store
from videojury.errors import InputError
done = 0
with Store(sys.argv[1]) as st:
    try:
        for i in range(10_000):
            st.put([Result(ResultKey(f"h{i}", "m", "1", "{}", ""), "error", None,
                           "x" * 4000, "v")])
            done += 1
    except InputError as exc:
        print("MSG", exc)
print("DONE", done)
"""


def test_st17_disk_full_is_a_message_and_committed_rows_are_kept(tmp_path):
    p = tmp_path / "s.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    proc = subprocess.run([sys.executable, "-c", _FILL, str(p)], capture_output=True,
                          text=True, timeout=120, env=env)
    assert proc.returncode == 0 and "Traceback" not in proc.stderr, proc.stderr
    msg = proc.stdout.split("MSG", 1)[1].split("DONE")[0]
    done = int(proc.stdout.rsplit("DONE", 1)[1])
    assert "disk is full or failing" in msg and "committed so far are kept" in msg
    assert 10 < done < 10_000
    with Store(p) as st:  # a rerun opens it and finds every committed row
        assert st.count() == done


# --- concurrency, signals, reruns (the "ok" rows) --------------------------------------

def _score_cmd(paths: list[str], store: Path, metric: str = "flicker", *extra: str) -> list[str]:
    code = ("import sys; sys.path.insert(0, %r); import tests._plugins; "
            "from videojury.cli import main; sys.exit(main(sys.argv[1:]))" % str(ROOT))
    return [sys.executable, "-c", code, "score", *paths, "-m", metric, "--store", str(store),
            "--quiet", *extra]


def test_st1_st2_two_runs_racing_on_a_new_store(tmp_path):
    paths = _videos(tmp_path / "v", 12)
    store = tmp_path / "s.sqlite"
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    procs = [subprocess.Popen(_score_cmd(paths[:9], store), env=env, stderr=subprocess.PIPE,
                              text=True),
             subprocess.Popen(_score_cmd(paths[3:], store), env=env, stderr=subprocess.PIPE,
                              text=True)]
    errs = [p.communicate(timeout=120)[1] for p in procs]
    assert [p.returncode for p in procs] == [0, 0], errs
    assert not any("Traceback" in e for e in errs)
    clean = videojury.score(paths, metrics=["flicker"])
    with sqlite3.connect(store) as c:
        rows = c.execute("SELECT video_hash, scores FROM results").fetchall()
    assert len(rows) == 12 and len({h for h, _ in rows}) == 12
    with Store(store) as st:
        again = videojury.score(paths, metrics=["flicker"], store=st)
    assert again["flicker"].tolist() == clean["flicker"].tolist()


def _default_sigint() -> None:
    """In the child before exec: SIGINT at its default, as a shell gives a foreground
    command. A child inherits an ignored SIGINT, and Python then installs no
    KeyboardInterrupt handler; the suite's own process has SIGINT ignored when it was
    started as a background job of a non-interactive shell (``pytest ... &`` in a
    script), and the run would then ignore the test's Ctrl-C."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _interrupt(cmd: list[str], store: Path, sig: int, after: int) -> str:
    """Start ``cmd``, send ``sig`` once ``after`` more results are stored; its stderr."""
    def stored() -> int:
        try:
            with sqlite3.connect(store, timeout=5) as c:
                return c.execute("SELECT COUNT(*) FROM results").fetchone()[0]
        except sqlite3.Error:
            return -1

    start = max(0, stored())
    t0 = time.time()
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=_default_sigint)
    seen: list[tuple[float, int]] = []  # (seconds, count) each time the count changed
    while time.time() < t0 + 90:
        n = stored()
        if not seen or seen[-1][1] != n:
            seen.append((round(time.time() - t0, 2), n))
        if n >= start + after:
            break
        time.sleep(0.05)
    finished_first = proc.poll() is not None
    proc.send_signal(sig)
    _, err = proc.communicate(timeout=90)
    assert not finished_first, f"the run ended before it could be interrupted; counts seen {seen}"
    # SIGINT: the CLI's own "interrupted" exit 130; SIGTERM: the default action
    # (a shell shows 143). Either way every committed result stays.
    assert proc.returncode in ((130,) if sig == signal.SIGINT else (143, -sig)), (seen, err)
    assert "Traceback" not in err
    return err


def test_st4_st5_interrupted_runs_keep_results(tmp_path):
    paths = _videos(tmp_path / "v", 24)
    store = tmp_path / "s.sqlite"
    # 0.2 s a video: the run lasts about 5 s, long enough to be interrupted mid-way even when
    # the store's commits arrive in bursts
    cmd = _score_cmd(paths, store, "test_slow_mean:sleep=0.2")
    err = _interrupt(cmd, store, signal.SIGINT, 4)                     # ST4
    assert "interrupted" in err and "kept" in err
    with Store(store) as st:
        first = st.count()
    _interrupt(cmd, store, signal.SIGTERM, 4)                          # ST5, on the rerun
    with Store(store) as st:
        kept = st.count()
    assert 4 <= first < kept < 24
    rerun = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert rerun.returncode == 0 and f"{kept} results cached, {24 - kept} to compute" in \
        " ".join(rerun.stderr.split())
    with Store(store) as st:
        assert st.count() == 24


def test_st18_rerun_on_a_fresh_store_is_byte_identical(vids, tmp_path, capsys):
    outs = []
    for k in range(2):
        out = tmp_path / f"r{k}.csv"
        code, _ = _cli(capsys, "score", *vids, "-m", "flicker", "-m", "frozen", "--store",
                       tmp_path / f"s{k}.sqlite", "--out", out, "--quiet")
        assert code == 0
        outs.append(_md5(out))
    assert outs[0] == outs[1]


def test_st20_export_and_export_of_an_unknown_metric(vids, tmp_path, capsys):
    p = tmp_path / "s.sqlite"
    videojury.score(vids, metrics=["flicker"], store=p)
    code, err = _cli(capsys, "export", p, "-o", tmp_path / "all.parquet")
    assert code == 0 and "wrote 3 rows" in err
    back = pd.read_parquet(tmp_path / "all.parquet")
    assert set(back["identity"]) == {""} and set(back["metric"]) == {"flicker"}
    code, err = _cli(capsys, "export", p, "-o", tmp_path / "none.csv", "--metric", "nosuch")
    assert code == 0 and "wrote 0 rows" in err


# --- content hashes (V34) ----------------------------------------------------------------

def _raw(path: Path, seed: int) -> Path:
    frames = np.random.default_rng(seed).integers(0, 255, (4, 24, 32, 3)).astype(np.uint8)
    return write_video(path, frames, fps=4, codec="rawvideo", crf=None, pix_fmt="bgr24")


def test_v34_same_size_rewrite_with_mtime_restored_is_noticed(tmp_path):
    video = _raw(tmp_path / "v.avi", 0)
    store = tmp_path / "s.sqlite"
    time.sleep(0.1)  # older than the clock-tick margin: a trusted cache entry
    first = videojury.score([str(video)], metrics=["flicker"], store=store)
    st0 = video.stat()
    tmp = _raw(tmp_path / "other.avi", 1)
    assert tmp.stat().st_size == st0.st_size
    with open(video, "r+b") as fh:  # in place: same inode, same size
        fh.write(tmp.read_bytes())
    os.utime(video, ns=(st0.st_atime_ns, st0.st_mtime_ns))
    st1 = video.stat()
    assert (st1.st_size, st1.st_mtime_ns, st1.st_ino) == (st0.st_size, st0.st_mtime_ns,
                                                          st0.st_ino)
    second, stats = videojury.score([str(video)], metrics=["flicker"], store=store,
                                    return_stats=True)
    truth = videojury.score([str(tmp)], metrics=["flicker"])
    assert stats.computed == 1
    assert second["flicker"][0] == truth["flicker"][0] != first["flicker"][0]


def test_content_hash_cache_is_used_and_racy_entries_rechecked(tmp_path, monkeypatch):
    calls = []
    real = store_mod.hash_bytes_of
    monkeypatch.setattr(store_mod, "hash_bytes_of", lambda p: calls.append(p) or real(p))
    f = tmp_path / "f.bin"
    f.write_bytes(b"a" * 1000)
    with Store(tmp_path / "s.sqlite") as st:
        h1 = st.content_hash(f)  # just written: hashed, and again next time (same tick?)
        f.write_bytes(b"b" * 1000)  # rewritten at once, mtime put back
        os.utime(f, ns=(f.stat().st_atime_ns, f.stat().st_mtime_ns))
        h2 = st.content_hash(f)
        assert h2 != h1 and h2 == real(f)
        time.sleep(0.1)
        n = len(calls)
        st.content_hash(f)
        st.content_hash(f)
        assert len(calls) == n + 1  # hashed once more (racy), then trusted
    with Store(tmp_path / "s.sqlite") as st:  # the cache persists
        st.content_hash(f)
    assert len(calls) == n + 1


# --- migration from schema 1 -------------------------------------------------------------

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE results (
    video_hash TEXT NOT NULL, metric TEXT NOT NULL, version TEXT NOT NULL,
    options TEXT NOT NULL, text TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'error')), scores TEXT, error TEXT,
    video TEXT NOT NULL, seconds REAL, created REAL NOT NULL,
    PRIMARY KEY (video_hash, metric, version, options, text));
CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '1');
"""


def _v1_store(path: Path, video: str) -> None:
    flicker = load_metric("flicker")
    vh = store_mod.hash_bytes_of(Path(video))
    with sqlite3.connect(path) as c:
        c.executescript(_V1)
        c.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                  (vh, "flicker", flicker.version, flicker.options_key, "", "ok",
                   json.dumps({"flicker": 0.123}), None, video, 0.1, 1.0))
        c.execute("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                  (vh, "clipscore", "1", json.dumps({"dtype": "", "model": "clip-vit-l-14"}),
                   "a cat", "ok", json.dumps({"clipscore": 0.7, "clip_cosine": 0.28}), None,
                   video, 0.1, 2.0))
        st = Path(video).stat()
        c.execute("INSERT INTO files VALUES (?,?,?,?)",
                  (str(Path(video).absolute()), st.st_size, st.st_mtime_ns, "stale-hash"))
    c.close()


def test_schema_1_store_is_migrated_in_place_and_old_rows_reused_when_keys_match(vids,
                                                                                  tmp_path):
    p = tmp_path / "old.sqlite"
    _v1_store(p, vids[0])
    # read-only first: readable as it is, not migrated
    with Store(p, read_only=True) as st:
        assert st.schema == "1" and st.count() == 2
        old = st.to_frame()
    assert set(old["metric"]) == {"flicker", "clipscore"} and set(old["identity"]) == {""}
    with sqlite3.connect(p) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "1"
    c.close()
    df, stats = videojury.score([vids[0]], metrics=["flicker"], store=p, return_stats=True)
    assert (stats.cached, stats.computed) == (1, 0)
    assert df["flicker"][0] == 0.123  # the old row, served as it was stored
    with sqlite3.connect(p) as c:
        assert c.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0] == "2"
        cols = [r[1] for r in c.execute("PRAGMA table_info(results)")]
        pk = [r[1] for r in sorted(c.execute("PRAGMA table_info(results)"), key=lambda r: r[5])
              if r[5]]
        assert "stale-hash" not in {r[0] for r in c.execute("SELECT hash FROM files")}
    c.close()
    assert "identity" in cols and pk[-1] == "identity"
    with Store(p) as st:
        new = st.to_frame()
    # both old rows kept, exportable; the old model row (dtype "" unresolved) is not reused
    assert sorted(new["metric"].unique()) == ["clipscore", "flicker"]
    assert len(new) == len(old)

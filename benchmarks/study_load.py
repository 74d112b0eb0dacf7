"""Load test of the study server: many raters answering at once, for a bounded time.

A study (ACR, two dimensions, 40 tiny clips, every rater sees all of them
plus 5 repeats) is served by ``videojury study serve`` in its own process on
a free loopback port. ``--raters`` client threads (default 50), each with
its own kept-alive HTTP connection, fetch their current item and answer it,
with no think time, until the study is done or ``--seconds`` have passed.
Every ``--retry-every``-th answer is POSTed a second time, as a browser
does after a lost reply. Afterwards the database is compared with what the
clients were told: an acknowledged answer missing from it is *lost*, a
second row or a stored answer that was never acknowledged is *duplicated*
or *unacknowledged*. Prints request latencies (p50/p95/p99, ms) and
throughput.

``--kill-after S`` SIGKILLs the server S seconds into the run and starts a
new one on the same port; clients retry a failed request (the same answer
again) until it gets a reply, as the rating page does.

Run: ``python benchmarks/study_load.py [--raters 50] [--seconds 20] [--kill-after 2]``.
"""

from __future__ import annotations

import argparse
import http.client
import os
import platform
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from tests._study_utils import HttpRater, make_clips, tokens, write_manifest  # noqa: E402
from videojury.study import create_study  # noqa: E402


def _serve(folder: Path, port: int):
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src"), "COLUMNS": "300"}
    proc = subprocess.Popen([sys.executable, "-m", "videojury", "study", "serve", str(folder), "--port", str(port)],
                            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True, env=env)
    text = ""
    while "admin page:" not in text:
        line = proc.stderr.readline()
        if not line:
            raise SystemExit(f"server did not start: {text}")
        text += line
    return proc, text


def _retrying(fn, *args, give_up: float = 60.0):
    """Call ``fn`` until it gets a reply: a dead or restarting server is waited for."""
    deadline = time.perf_counter() + give_up
    tries = 0
    while True:
        try:
            return fn(*args), tries
        except (OSError, http.client.HTTPException):
            tries += 1
            if time.perf_counter() > deadline:
                raise
            time.sleep(0.05)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--raters", type=int, default=50)
    ap.add_argument("--videos", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=20.0, help="stop answering after this long")
    ap.add_argument("--retry-every", type=int, default=10, help="POST every n-th answer twice (0: never)")
    ap.add_argument("--kill-after", type=float, default=None, help="SIGKILL and restart the server after S s")
    args = ap.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="study-load-"))
    clips = make_clips(tmp / "clips", args.videos, frames=2)
    man = write_manifest(tmp / "m.csv", [{"video": str(c), "prompt": f"p{k}"} for k, c in enumerate(clips)])
    folder = tmp / "study"
    create_study(folder, man, protocol="acr", dimensions=["quality", "motion"], raters=args.raters,
                 repeats=5, seed=0)
    tok = tokens(folder)
    proc, text = _serve(folder, 0)
    url = re.search(r"at (http://127\.0\.0\.1:\d+)/r/", text).group(1)

    get_ms: list[float] = []
    post_ms: list[float] = []
    acked: dict[str, set[int]] = {name: set() for name in tok}
    dup_acks = [0]
    failed_requests = [0]
    errors: list[str] = []
    lock = threading.Lock()
    barrier = threading.Barrier(args.raters + 1)
    stop_at = [0.0]
    go = threading.Event()

    def rater(name: str, token: str, k: int) -> None:
        rng = np.random.default_rng(k)
        r = HttpRater(url, token, timeout=60)
        mine_get, mine_post, n = [], [], 0
        try:
            r.start()
            barrier.wait()
            go.wait()
            while time.perf_counter() < stop_at[0]:
                t0 = time.perf_counter()
                d, g_tries = _retrying(r.page)
                t1 = time.perf_counter()
                if d["page"] == "done":
                    break
                payload = {"seq": d["seq"], "nonce": d["nonce"],
                           "answers": {dim: str(int(rng.integers(1, 6))) for dim in d["dimensions"]}}
                (status, reply), p_tries = _retrying(r.post, d["answer_url"], payload, d["csrf"])
                t2 = time.perf_counter()
                if g_tries or p_tries:
                    with lock:
                        failed_requests[0] += g_tries + p_tries
                else:  # latency of requests that did not wait for a restart
                    mine_get.append(t1 - t0)
                    mine_post.append(t2 - t1)
                if status != 200:
                    errors.append(f"{name} seq {d['seq']}: {status} {reply}")
                    break
                acked[name].add(d["seq"])
                n += 1
                if args.retry_every and n % args.retry_every == 0:
                    (status, reply), _ = _retrying(r.post, d["answer_url"], payload, d["csrf"])
                    if status == 200 and reply.get("duplicate"):
                        with lock:
                            dup_acks[0] += 1
                    else:
                        errors.append(f"{name} retry of seq {d['seq']}: {status} {reply}")
        except Exception as exc:  # noqa: BLE001 - reported below
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        with lock:
            get_ms.extend(mine_get)
            post_ms.extend(mine_post)

    threads = [threading.Thread(target=rater, args=(n, t, k)) for k, (n, t) in enumerate(tok.items())]
    for t in threads:
        t.start()
    barrier.wait()  # every rater has started the study
    t_start = time.perf_counter()
    stop_at[0] = t_start + args.seconds
    go.set()
    killed = ""
    if args.kill_after is not None:
        time.sleep(args.kill_after)
        port = int(url.rsplit(":", 1)[1])
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        t_kill = time.perf_counter()
        proc, text = _serve(folder, port)
        killed = (f"server SIGKILLed {t_kill - t_start:.1f} s in, a new one listened "
                  f"{time.perf_counter() - t_kill:.1f} s later")
    for t in threads:
        t.join()
    wall = time.perf_counter() - t_start
    admin = re.search(r"admin page: (\S+)", text).group(1)
    t0 = time.perf_counter()
    with urllib.request.urlopen(admin + "/status.json") as resp:
        resp.read()
    admin_ms = 1000 * (time.perf_counter() - t0)
    proc.terminate()
    proc.wait(10)

    con = sqlite3.connect(folder / "study.sqlite")
    rows = con.execute("SELECT rater, seq, dimension FROM answers").fetchall()
    total_items = con.execute("SELECT COUNT(*) FROM items").fetchone()[0]
    con.close()
    stored: dict[str, dict[int, int]] = {}
    for r_, s, _ in rows:
        stored.setdefault(r_, {}).setdefault(s, 0)
        stored[r_][s] += 1
    lost = sum(len(acked[n] - set(stored.get(n, {}))) for n in acked)
    unacked = sum(len(set(stored.get(n, {})) - acked[n]) for n in acked)
    duplicated = sum(c != 2 for per in stored.values() for c in per.values())
    gaps = sum(sorted(per) != list(range(len(per))) for per in stored.values())
    n_items = sum(len(a) for a in acked.values())

    def pct(v, q):
        return 1000 * float(np.percentile(v, q)) if v else float("nan")

    print(f"machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
          f"load average {os.getloadavg()[0]:.1f}")
    print(f"{args.raters} raters, {args.videos} videos x 2 dimensions (+5 repeats each), "
          f"{args.seconds:g} s budget: {n_items} of {total_items} items answered in {wall:.1f} s "
          f"({n_items / wall:.0f} items/s, {len(rows)} answer rows)")
    print(f"GET item page  p50 {pct(get_ms, 50):6.1f} ms  p95 {pct(get_ms, 95):6.1f} ms  p99 {pct(get_ms, 99):6.1f} ms")
    print(f"POST answer    p50 {pct(post_ms, 50):6.1f} ms  p95 {pct(post_ms, 95):6.1f} ms  p99 {pct(post_ms, 99):6.1f} ms")
    if killed:
        print(f"{killed}; {failed_requests[0]} failed requests retried (left out of the latencies)")
    print(f"admin status (progress, split-half, golden) over all answers: {admin_ms:.0f} ms")
    print(f"retried POSTs acknowledged as duplicates: {dup_acks[0]}")
    print(f"lost answers: {lost}; duplicated: {duplicated}; stored but not acknowledged: {unacked}; "
          f"raters with gaps in their sequence: {gaps}; client errors: {len(errors)}")
    for e in errors[:5]:
        print("  ", e)
    ok = lost == duplicated == unacked == gaps == 0 and not errors
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

"""What the store's keys cost: content hashes, a model folder's digest, planning, migration.

    python benchmarks/store.py [--weights-mb 512] [--rows 100000] [--items 2000]

Prints, on this machine:

* hashing a model folder of ``--weights-mb`` of safetensors (the first plan
  of a local checkpoint reads it all) and the cached lookup that later plans
  pay (stat + one row per file);
* planning ``--items`` cached items x 1 weight-free metric (content-hash
  lookups and the key query);
* migrating a schema-1 store of ``--rows`` results in place.

Everything is written under a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from videojury.data.items import Item  # noqa: E402
from videojury.metrics import load_metric  # noqa: E402
from videojury.models.checkpoints import folder_digest  # noqa: E402
from videojury.run.executor import plan  # noqa: E402
from videojury.run.store import Result, ResultKey, Store  # noqa: E402

_V1 = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE results (video_hash TEXT NOT NULL, metric TEXT NOT NULL, version TEXT NOT NULL,
    options TEXT NOT NULL, text TEXT NOT NULL, status TEXT NOT NULL, scores TEXT, error TEXT,
    video TEXT NOT NULL, seconds REAL, created REAL NOT NULL,
    PRIMARY KEY (video_hash, metric, version, options, text));
CREATE TABLE files (path TEXT PRIMARY KEY, size INTEGER NOT NULL, mtime_ns INTEGER NOT NULL,
    hash TEXT NOT NULL);
INSERT INTO meta VALUES ('schema', '1');
"""


def _clock(fn, repeat: int = 1) -> float:
    t0 = time.perf_counter()
    for _ in range(repeat):
        fn()
    return (time.perf_counter() - t0) / repeat


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--weights-mb", type=int, default=512)
    ap.add_argument("--rows", type=int, default=100_000)
    ap.add_argument("--items", type=int, default=2000)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        # a model folder: one big safetensors file and a few configs
        folder = root / "model"
        folder.mkdir()
        chunk = os.urandom(1 << 20)
        with open(folder / "model.safetensors", "wb") as fh:
            for _ in range(args.weights_mb):
                fh.write(chunk)
        for name in ("config.json", "tokenizer.json", "preprocessor_config.json"):
            (folder / name).write_text(json.dumps({"name": name}))
        time.sleep(0.1)  # older than the racy-tick margin, as a real checkpoint is
        with Store(root / "s.sqlite") as st:
            cold = _clock(lambda: folder_digest(folder, st.content_hash))
            warm = _clock(lambda: folder_digest(folder, st.content_hash), repeat=20)
        print(f"model folder digest, {args.weights_mb} MB of weights: first {cold:.2f} s "
              f"({args.weights_mb / cold:.0f} MB/s), cached {warm * 1e3:.2f} ms")

        # planning cached items (content-hash lookups + key query)
        vids = root / "videos"
        vids.mkdir()
        items = []
        for i in range(args.items):
            p = vids / f"v{i:05d}.bin"
            p.write_bytes(os.urandom(4096))
            items.append(Item(video=str(p)))
        time.sleep(0.1)
        metric = load_metric("flicker")
        with Store(root / "p.sqlite") as st:
            first = _clock(lambda: plan(items, [metric], st))
            keys = plan(items, [metric], st).keys.values()
            st.put([Result(k, "ok", {"flicker": 0.5}, None, "v") for k in keys])
            again = _clock(lambda: plan(items, [metric], st), repeat=3)
            assert len(plan(items, [metric], st).cached) == args.items
        print(f"plan, {args.items} items x flicker: first {first:.2f} s (hashing), all cached "
              f"{again:.3f} s ({again / args.items * 1e6:.0f} us per item)")

        # migrating a schema-1 store
        old = root / "old.sqlite"
        with sqlite3.connect(old) as c:
            c.executescript(_V1)
            c.executemany("INSERT INTO results VALUES (?,?,?,?,?,?,?,?,?,?,?)",
                          [(f"{i:032x}", "niqe", "1", '{"frames":0}', "", "ok",
                            '{"niqe": 4.2}', None, f"/data/v{i}.mp4", 0.1, float(i))
                           for i in range(args.rows)])
        c.close()
        size = old.stat().st_size / 2**20
        t = _clock(lambda: Store(old).close())
        with Store(old) as st:
            assert st.count() == args.rows and st.schema == "2"
        print(f"migration schema 1 -> 2, {args.rows} rows ({size:.0f} MB): {t:.2f} s")
        k = ResultKey(f"{7:032x}", "niqe", "1", '{"frames":0}', "")
        with Store(old) as st:
            assert st.get_many([k])[k].scores == {"niqe": 4.2}


if __name__ == "__main__":
    main()

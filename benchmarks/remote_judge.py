"""What a hosted judge (``vqascore:model=openai:NAME``) costs besides the server.

    python benchmarks/remote_judge.py [--videos 16] [--latency 0.2]

Against the loopback protocol server of ``tests/test_remote_judge.py``
answering each request after ``--latency`` seconds, prints on this machine:

* the request size per video (8 frames of a 640x360 clip as JPEG q90 and as
  PNG, base64) and the time to encode them;
* the wall time of ``--videos`` videos at concurrency 1, 4 and 8;
* a rerun of the same job from the store (requests sent: 0).

Everything is written under a temporary folder and removed.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

import videojury  # noqa: E402
from tests.test_remote_judge import Server  # noqa: E402
from videojury.metrics.base import load_metric  # noqa: E402
from videojury.metrics.vlm._remote import request_body  # noqa: E402
from videojury.video import write_video  # noqa: E402
from videojury.video.decode import sample  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()
    os.environ.setdefault("OPENAI_API_KEY", "sk-benchmark")
    server = Server()
    server.delay = args.latency
    with tempfile.TemporaryDirectory() as tmp:
        rng = np.random.default_rng(0)
        paths = []
        for i in range(args.videos):  # smooth content (a photo-like JPEG size), distinct videos
            small = rng.integers(0, 255, size=(9, 16, 3), dtype=np.uint8)
            base = cv2.resize(small, (640, 360), interpolation=cv2.INTER_CUBIC)
            clip = np.stack([np.roll(base, 4 * t, axis=1) for t in range(48)])
            paths.append(str(write_video(Path(tmp) / f"v{i}.mp4", clip, fps=24)))
        for fmt in ("jpeg", "png"):
            m = load_metric(f"vqascore:model=openai:x,base_url={server.url},image_format={fmt}")
            frames = sample(paths[0], m.frame_policy())
            t0 = time.perf_counter()
            body = request_body(m, frames, "q", 1)
            dt = time.perf_counter() - t0
            print(f"{fmt}: {len(frames)} frames {frames.array.shape[2]}x{frames.array.shape[1]}, "
                  f"request {len(json.dumps(body)) / 1024:.0f} KiB, encoded in {dt * 1000:.0f} ms")
        for conc in (1, 4, 8):
            store = Path(tmp) / f"s{conc}.db"
            spec = f"vqascore:model=openai:x,base_url={server.url},concurrency={conc}"
            n0 = len(server.requests)
            t0 = time.perf_counter()
            videojury.score(paths, ["a prompt"] * len(paths), [spec], store)
            dt = time.perf_counter() - t0
            print(f"concurrency={conc}: {args.videos} videos in {dt:.2f}s "
                  f"({len(server.requests) - n0} requests, latency {args.latency:g}s each)")
        n0 = len(server.requests)
        t0 = time.perf_counter()
        videojury.score(paths, ["a prompt"] * len(paths), [spec], store)
        print(f"rerun from the store: {time.perf_counter() - t0:.2f}s, "
              f"{len(server.requests) - n0} requests")
    server.close()


if __name__ == "__main__":
    main()

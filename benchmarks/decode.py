"""Decoding cost: 8 uniform frames versus every frame of a 10 s 1280x720 clip.

Run: python benchmarks/decode.py [--seconds 10] [--fps 24] [--repeat 3]

Prints the time to sample 8 frames uniformly (with keyframe seeking, and
without), the time to decode every frame, and frames/s for full decoding, for
the encoder's default keyframe interval (x264: 250) and a short one (1 s),
since seeking can only skip whole groups of pictures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from videojury.data.synthetic import ClipSpec, make_clip
from videojury.video import FramePolicy, iter_frames, probe, read_frames, sample, write_video


def best_of(fn, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=10.0)
    ap.add_argument("--fps", type=float, default=24.0)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    n = int(args.seconds * args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        base = make_clip(0, ClipSpec(1280, 720, 48, args.fps))
        frames = (base[i % 48] for i in range(n))
        clips = {}
        for label, gop in (("x264 default GOP (250)", None), (f"GOP {int(args.fps)} (1 s)",
                                                              int(args.fps))):
            path = Path(tmp) / f"clip_{gop}.mp4"
            write_video(path, (base[i % 48] for i in range(n)), fps=args.fps, gop=gop)
            clips[label] = path
        del frames
        print(f"clip: {args.seconds:g} s, 1280x720, {args.fps:g} fps, {n} frames (H.264, CRF 18)")
        for label, path in clips.items():
            info = probe(path, exact=True)
            pol = FramePolicy.uniform(8)
            idx = pol.indices(info.frame_count, info.fps)
            t_seek = best_of(lambda: sample(path, pol), args.repeat)
            t_noseek = best_of(lambda: read_frames(path, idx, info=info, allow_seek=False),
                               args.repeat)
            t_all = best_of(lambda: sum(1 for _ in iter_frames(path)), args.repeat)
            print(f"\n[{label}]")
            print(f"  uniform(8), keyframe seeks : {t_seek * 1000:8.1f} ms")
            print(f"  uniform(8), no seeking     : {t_noseek * 1000:8.1f} ms")
            print(f"  every frame (RGB out)      : {t_all * 1000:8.1f} ms  "
                  f"({info.frame_count / t_all:.0f} frames/s)")
            print(f"  speed-up of uniform(8) over full decode: {t_all / t_seek:.1f}x")
    _ = np


if __name__ == "__main__":
    main()

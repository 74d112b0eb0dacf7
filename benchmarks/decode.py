"""Decoding cost: uniform(8) versus every frame of a 20 s 1920x1080 clip.

Run: python benchmarks/decode.py [--seconds 20] [--fps 30] [--size 1920x1080] [--repeat 3]

The clip is a continuous pan (no scene cuts, so the encoder's keyframe
spacing is what was asked for), written with x264's default keyframe
interval (250) and with a 1 s interval. For each, prints the time to sample
8 frames uniformly (keyframe-index seeking, and sequential decoding), the
time to decode every frame, and how many packets were read, frames decoded
and seeks made. Seeking can only skip whole groups of pictures (GOPs), so the
gain grows with the number of GOPs between the sampled frames. Last, it times
niqe + piqe + brisque on a 600-frame 320x240 clip at the default keyframe
spacing (which never finished before the keyframe index).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np

from videojury.data.synthetic import ClipSpec, make_clip
from videojury.video import FramePolicy, probe, read_frames, write_video


def best_of(fn, repeat: int) -> tuple[float, dict]:
    times, stats = [], {}
    for _ in range(repeat):
        stats = {}
        t = time.perf_counter()
        fn(stats)
        times.append(time.perf_counter() - t)
    return min(times), stats


def pan(width: int, height: int, n: int, fps: float):
    base = make_clip(0, ClipSpec(width, height, 1, fps))[0]
    for i in range(n):
        yield np.roll(base, 3 * i, axis=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seconds", type=float, default=20.0)
    ap.add_argument("--fps", type=float, default=30.0)
    ap.add_argument("--size", default="1920x1080")
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    n = int(args.seconds * args.fps)
    with tempfile.TemporaryDirectory() as tmp:
        clips = {}
        for label, gop in (("x264 default keyint (250)", None),
                           (f"keyint {int(args.fps)} (1 s)", int(args.fps))):
            path = Path(tmp) / f"clip_{gop}.mp4"
            t = time.perf_counter()
            write_video(path, pan(w, h, n, args.fps), fps=args.fps, gop=gop)
            print(f"wrote {label}: {time.perf_counter() - t:.1f} s")
            clips[label] = path
        print(f"\nclip: {args.seconds:g} s, {w}x{h}, {args.fps:g} fps, {n} frames (H.264, CRF 18)")
        for label, path in clips.items():
            info = probe(path, exact=True)
            idx = FramePolicy.uniform(8).indices(info.frame_count, info.fps)
            everything = np.arange(info.frame_count)
            t_seek, s_seek = best_of(
                lambda st: read_frames(path, idx, info=info, stats=st), args.repeat)
            t_seq, s_seq = best_of(
                lambda st: read_frames(path, idx, info=info, allow_seek=False, stats=st),
                args.repeat)

            def every(st):
                # every frame decoded and converted, one at a time (nothing held)
                from videojury.video.decode import _decode, _rgb
                for _, frame in _decode(Path(path), info, everything.tolist(), stats=st):
                    _rgb(frame, info)

            t_all, s_all = best_of(every, args.repeat)
            print(f"\n[{label}]")
            for name, t, st in (("uniform(8), keyframe index", t_seek, s_seek),
                                ("uniform(8), sequential", t_seq, s_seq),
                                ("every frame", t_all, s_all)):
                print(f"  {name:27s}: {t * 1000:8.1f} ms  packets {st['packets']:4d}  "
                      f"decoded {st['frames']:4d}  seeks {st['seeks']:2d}"
                      + (f"  (index: {st['index_packets']} packets read)"
                         if st.get("index_packets") else ""))
            print(f"  uniform(8) with the index decodes {s_seek['frames']} of "
                  f"{s_all['frames']} frames: {t_all / t_seek:.1f}x faster than every frame")
        classical(Path(tmp))


def classical(tmp: Path) -> None:
    """The V24 case: niqe, piqe and brisque on 600 frames of 320x240 at x264's default
    keyframe spacing (this never finished before the keyframe index)."""
    import videojury

    path = write_video(tmp / "v24.mp4", pan(320, 240, 600, 30.0), fps=30, gop=None)
    t = time.perf_counter()
    df = videojury.score([str(path)], metrics=["niqe", "piqe", "brisque"])
    took = time.perf_counter() - t
    ok = "ok" if df["error"].isna().all() else f"error: {df['error'][0]}"
    print(f"\n[600 frames 320x240, x264 default keyint] niqe + piqe + brisque: {took:.2f} s "
          f"({ok})")


if __name__ == "__main__":
    main()

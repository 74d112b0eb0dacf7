"""Throughput of the vision-language metrics: videos/s, split into decode, preprocess and model.

Run on the tiny random checkpoint this machine can build (no download):

    python benchmarks/vlm.py                       # vqascore on a tiny Qwen2.5-VL, CPU
    python benchmarks/vlm.py --tiny internvl --metric judge_quality
    python benchmarks/vlm.py --tiny clip --metric clipscore

and on a real checkpoint on a GPU:

    python benchmarks/vlm.py --model qwen2.5-vl-7b --device cuda --batch-size 8 --videos 64
    python benchmarks/vlm.py --model internvl3-8b --metric judge_quality --device cuda

The clips are synthetic (seeded textured shapes, ``--seconds`` long at
``--size`` and ``--fps``). Timings: ``load`` is the first model load (not in
the rate); ``decode`` is sampling the metric's frames from the files;
``preprocess`` is the model's processor (resizing, patching, tokenising);
``model`` is the rest of the metric (forward passes, reading
probabilities). One batch is run first as a warm-up and not counted. The
rate is videos / (decode + preprocess + model), i.e. one process doing all
three in turn, as the local executor does.
"""

from __future__ import annotations

import argparse
import json
import platform
import tempfile
import time
from pathlib import Path

from videojury.data.items import Item
from videojury.data.synthetic import PROMPTS, ClipSpec, make_clip
from videojury.metrics import load_metric
from videojury.video import sample, write_video


def make_videos(folder: Path, n: int, seconds: float, fps: float, size: tuple[int, int]
                ) -> list[Item]:
    """``n`` synthetic clips with prompts."""
    spec = ClipSpec(width=size[0], height=size[1], frames=max(2, int(round(seconds * fps))),
                    fps=fps)
    items = []
    for i in range(n):
        p = folder / f"clip{i:03d}.mp4"
        write_video(p, make_clip(i, spec), fps=fps)
        items.append(Item(video=str(p), prompt=PROMPTS[i % len(PROMPTS)],
                          question="Is there a red ball?"))
    return items


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="", help="short name, folder or hub id (default: a tiny "
                                                "random checkpoint built here)")
    ap.add_argument("--tiny", default="qwen2_5_vl",
                    help="family of the tiny checkpoint when --model is not given")
    ap.add_argument("--metric", default="vqascore", help="metric name (options via --option)")
    ap.add_argument("--option", action="append", default=[],
                    help="extra metric option KEY=VALUE (repeatable)")
    ap.add_argument("--device", default="", help="cpu, cuda, cuda:1 (default: auto)")
    ap.add_argument("--dtype", default="", help="float32, bfloat16, float16 (default: auto)")
    ap.add_argument("--batch-size", type=int, default=4)
    ap.add_argument("--videos", type=int, default=16)
    ap.add_argument("--seconds", type=float, default=4.0)
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--size", default="320x240", help="WxH of the synthetic clips")
    ap.add_argument("--json", action="store_true", help="print one JSON line instead")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))

    with tempfile.TemporaryDirectory() as tmp:
        tmpdir = Path(tmp)
        model = args.model
        if not model:
            from videojury.models.tiny import build_tiny

            model = str(build_tiny(args.tiny, tmpdir / f"tiny_{args.tiny}"))
        options = dict(o.split("=", 1) for o in args.option)
        metric = load_metric(args.metric, model=model, device=args.device, dtype=args.dtype,
                             batch_size=args.batch_size, **options)
        items = make_videos(tmpdir, args.videos, args.seconds, args.fps, (w, h))
        policy = metric.frame_policy()

        t = time.perf_counter()
        frames = [sample(it.video, policy) for it in items]
        decode = time.perf_counter() - t
        n_frames = sum(len(f) for f in frames)

        bs = metric.batch_size
        t = time.perf_counter()
        metric.backbone()
        load = time.perf_counter() - t
        _score(metric, frames[:bs], items[:bs])  # warm-up: lazy imports, kernels, caches
        metric.timings.clear()
        _sync(metric)
        failed = 0
        t = time.perf_counter()
        for j in range(0, len(items), bs):
            failed += _score(metric, frames[j:j + bs], items[j:j + bs])
        _sync(metric)
        total = time.perf_counter() - t
        pre = metric.timings.get("preprocess", 0.0)
        mod = total - pre
        b = metric.backbone()
        result = {
            "metric": metric.label, "model": args.model or f"tiny:{args.tiny}",
            "device": b.device, "dtype": str(b.dtype).replace("torch.", ""),
            "batch_size": bs, "videos": len(items), "frames_per_video": n_frames / len(items),
            "frame_policy": policy.describe(), "clip": f"{args.seconds:g}s {w}x{h} @{args.fps:g}",
            "load_s": round(load, 3), "decode_s": round(decode, 3),
            "preprocess_s": round(pre, 3), "model_s": round(mod, 3),
            "videos_per_s": round(len(items) / (decode + pre + mod), 3),
            "failed_batches": failed,
            "cpu": platform.processor() or platform.machine(),
        }
    if args.json:
        print(json.dumps(result))
        return
    print(f"{result['metric']} on {result['model']} ({result['device']}, {result['dtype']}), "
          f"batch {bs}")
    print(f"{len(items)} clips of {result['clip']}, {result['frame_policy']} "
          f"-> {result['frames_per_video']:.1f} frames each")
    print(f"  load       {load:8.2f} s (once, not in the rate)")
    for key in ("decode", "preprocess", "model"):
        v = result[f"{key}_s"]
        print(f"  {key:<10} {v:8.2f} s  {v / len(items) * 1000:8.1f} ms/video  "
              f"{100 * v / (decode + pre + mod):5.1f}%")
    print(f"  rate       {result['videos_per_s']:8.2f} videos/s")
    if failed:
        print(f"  ({failed} batches raised, e.g. unparseable answers of a random model; their "
              "time is counted)")


def _score(metric, frames, items) -> int:
    """Score one batch; 1 if it raised (a random model's answer may not parse), else 0."""
    try:
        metric.score_batch(frames, items)
        return 0
    except Exception:  # noqa: BLE001 - the time spent is what is measured
        return 1


def _sync(metric) -> None:
    """Wait for queued GPU work so the timings are real."""
    try:
        import torch

        if metric.backbone().device.startswith("cuda"):
            torch.cuda.synchronize()
    except ImportError:  # pragma: no cover
        pass


if __name__ == "__main__":
    main()

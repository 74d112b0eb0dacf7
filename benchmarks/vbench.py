"""Speed of VBench's protocol: VBench's own code against ``videojury bench --dimension``.

Same videos, same dimensions, same CPU, same weight files (seeded random weights at the real
model sizes, in the official formats: DINO ViT-B/16, CLIP ViT-B/32 and ViT-L/14 with LAION's
head, ViCLIP-L/14, RAFT-large, AMT-S; imaging_quality with MUSIQ is not wired in yet). The
prompts are VBench's own: ``--per-group`` prompts of each
group of VBench_full_info.json that holds a requested dimension (VBench's prompt file puts
most dimensions on their own prompts; aesthetic_quality/imaging_quality/overall_consistency
and dynamic_degree/motion_smoothness/subject_consistency share theirs), one synthetic clip
per prompt (``<model>/<prompt>-0.mp4``, VBench's layout). ``--shared`` puts every chosen
prompt in every dimension instead (the case where one decode serves many dimensions).

VBench's side is what its ``evaluate`` does per dimension: build the dimension's models as
its ``compute_<dimension>`` does (with the authors' code: DINO's ``vision_transformer.py``,
OpenAI's ``clip.load``, VBench's ``ViCLIP``, ``get_aesthetic_model``, ``DynamicDegree``),
then call VBench's dimension function on the videos ``load_dimension_info`` lists for it.
videojury's side is :func:`videojury.bench.vbench.run_vbench` (the path of ``videojury bench
SUITE VIDEOS --dimension ...``; in-memory store). Both use ``torch.set_num_threads``
(``--threads``). The two sides alternate ``--repeat`` times; the script prints each side's
wall time and CPU time per run, the medians, the ratios, per-stage costs (VBench: model building, decoding
and the rest per dimension; videojury: setup, decoding and per metric preprocessing + model)
and the largest per-video difference (``dynamic_degree``: the count of differing booleans).

Needs VBench's sources and what they import, as for the parity scripts (README there)::

    # sources: git archive of github.com/Vchitect/VBench (commit 45e79ec) vbench/ -> /tmp/vbsrc
    /tmp/vbenchvenv/bin/pip install decord ftfy regex tqdm einops easydict omegaconf imageio
    python benchmarks/parity/vbench/make_inputs.py /tmp/vbspeed/full --full   # real sizes
    PYTHONPATH=/tmp/vbsrc:/tmp/vbref/openai+CLIP:/tmp/vbref/dino:/tmp/amtref/site \\
        /tmp/vbenchvenv/bin/python benchmarks/vbench.py --weights /tmp/vbspeed/full/weights \\
        [--per-group 2] [--frames 16] [--size 256x256] [--dimension NAME ...] [--repeat 3]
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import shutil
import statistics
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
# This file's folder comes first on sys.path and this file is called vbench.py: drop the
# folder so that ``import vbench`` finds VBench's package.
sys.path = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).resolve().parent]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_DIMS = ["subject_consistency", "background_consistency", "temporal_flickering",
                "motion_smoothness", "dynamic_degree", "aesthetic_quality", "appearance_style", "temporal_style",
                "overall_consistency"]


# --- inputs -----------------------------------------------------------------------------


def _clip(i: int, frames: int, h: int, w: int) -> np.ndarray:
    """A blurred random texture that pans: fast for even ``i`` (dynamic under VBench's RAFT
    rule), by a pixel every other frame for odd ``i`` (static)."""
    import cv2

    rng = np.random.default_rng(i)
    pad = 8 * frames
    tex = rng.integers(0, 256, size=(h + pad, w + pad, 3)).astype(np.float32)
    tex = np.clip(cv2.GaussianBlur(tex, (0, 0), 3) * 2.5 - 190, 0, 255).astype(np.uint8)
    step = (5, 3) if i % 2 == 0 else (0, 0)
    out = []
    for t in range(frames):
        dy, dx = (step[0] * t, step[1] * t) if i % 2 == 0 else (t // 2, 0)
        out.append(tex[dy:dy + h, dx:dx + w])
    return np.stack(out)


def _prompts(full_info: list[dict], dims: list[str], per_group: int, shared: bool
             ) -> list[dict]:
    """VBench's own prompt entries: ``per_group`` of each group (same dimension set) that
    holds a requested dimension, restricted to the requested dimensions."""
    groups: dict[tuple, list[dict]] = {}
    for e in full_info:
        key = tuple(sorted(set(e["dimension"]) & set(dims)))
        if key:
            groups.setdefault(key, []).append(e)
    chosen = []
    for key, entries in groups.items():
        for e in entries[:per_group]:
            e = dict(e)
            e["dimension"] = list(dims) if shared else [d for d in e["dimension"] if d in dims]
            chosen.append(e)
    if shared:  # appearance_style needs its auxiliary_info on every prompt
        style = next(e["auxiliary_info"] for e in full_info if "appearance_style"
                     in e.get("auxiliary_info", {}))
        for e in chosen:
            e.setdefault("auxiliary_info", {}).update(style)
    return chosen


# --- VBench's side ------------------------------------------------------------------------


class Timer:
    def __init__(self) -> None:
        self.t: dict[str, float] = {}

    def wrap(self, key: str, fn):
        def timed(*a, **k):
            t0 = time.perf_counter()
            try:
                return fn(*a, **k)
            finally:
                self.t[key] = self.t.get(key, 0.0) + time.perf_counter() - t0
        return timed


def vbench_side(dims: list[str], full_json: Path, weights: Path, device: str = "cpu"
                ) -> tuple[dict, dict[str, dict[str, float]]]:
    """VBench's compute_<dimension>, dimension after dimension: (results, costs)."""
    import torch

    results, costs = {}, {}
    for d in dims:
        timer = Timer()
        mod = importlib.import_module(f"vbench.{d}")
        # VBench's readers, timed where each dimension module calls them
        for name in ("load_video", "read_frames_decord_by_fps", "get_frames"):
            if hasattr(mod, name):
                setattr(mod, name, timer.wrap("decode", getattr(mod, name)))
        t0 = time.perf_counter()
        if d == "subject_consistency":
            import vision_transformer as vits  # DINO's own module (what torch.hub builds)

            sd = torch.load(weights / "dino_vitbase16_pretrain.pth", map_location="cpu",
                            weights_only=True)
            model = vits.VisionTransformer(patch_size=16, embed_dim=768, depth=12, num_heads=12,
                                           mlp_ratio=4, qkv_bias=True, num_classes=0,
                                           norm_layer=partial(torch.nn.LayerNorm, eps=1e-6))
            model.load_state_dict(sd, strict=True)
            model = model.to(device).eval()
            video_list, _ = mod.load_dimension_info(str(full_json), dimension=d, lang="en")
            t_load = time.perf_counter() - t0
            res = mod.subject_consistency(model, video_list, device, False)
        elif d in ("background_consistency", "appearance_style", "aesthetic_quality"):
            import clip

            if d == "aesthetic_quality":
                head = mod.get_aesthetic_model(str(weights)).to(device)
                net, pre = clip.load(str(weights / "ViT-L-14.pt"), device=device)
            else:
                net, pre = clip.load(str(weights / "ViT-B-32.pt"), device=device)
            video_list, info = mod.load_dimension_info(str(full_json), dimension=d, lang="en")
            t_load = time.perf_counter() - t0
            if d == "background_consistency":
                res = mod.background_consistency(net, pre, video_list, device, False)
            elif d == "appearance_style":
                res = mod.appearance_style(net, info, device)
            else:
                res = mod.laion_aesthetic(head, net, video_list, device)
        elif d in ("overall_consistency", "temporal_style"):
            from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer
            from vbench.third_party.ViCLIP.viclip import ViCLIP
            from vbench.utils import CACHE_DIR

            tok = SimpleTokenizer(os.path.join(CACHE_DIR, "ViCLIP/bpe_simple_vocab_16e6.txt.gz"))
            net = ViCLIP(tokenizer=tok, pretrain=str(weights / "ViClip-InternVid-10M-FLT.pth"))
            net = net.to(device)
            _, info = mod.load_dimension_info(str(full_json), dimension=d, lang="en")
            t_load = time.perf_counter() - t0
            res = getattr(mod, d)(net, info, tok, device)
        elif d == "dynamic_degree":
            from easydict import EasyDict

            mod.DynamicDegree.get_frames = timer.wrap("decode", mod.DynamicDegree.get_frames)
            dyn = mod.DynamicDegree(EasyDict({"model": str(weights / "raft-things.pth"),
                                              "small": False, "mixed_precision": False,
                                              "alternate_corr": False}), device)
            video_list, _ = mod.load_dimension_info(str(full_json), dimension=d, lang="en")
            t_load = time.perf_counter() - t0
            res = mod.dynamic_degree(dyn, video_list)
        elif d == "motion_smoothness":
            mod.FrameProcess.get_frames = timer.wrap("decode", mod.FrameProcess.get_frames)
            cfg = Path(mod.__file__).parent / "third_party" / "amt" / "cfgs" / "AMT-S.yaml"
            motion = mod.MotionSmoothness(str(cfg), str(weights / "amt-s.pth"), device)
            video_list, _ = mod.load_dimension_info(str(full_json), dimension=d, lang="en")
            t_load = time.perf_counter() - t0
            res = mod.motion_smoothness(motion, video_list)
        elif d == "temporal_flickering":
            t_load = 0.0
            res = mod.compute_temporal_flickering(str(full_json), device, [])
        else:
            raise SystemExit(f"{d}: not wired into this benchmark")
        total = time.perf_counter() - t0
        results[d] = res
        dec = timer.t.get("decode", 0.0)
        costs[d] = {"load": t_load, "decode": dec, "rest": total - t_load - dec, "total": total}
        importlib.reload(mod)  # undo the timing wrappers
    return results, costs


# --- videojury's side -----------------------------------------------------------------------


def videojury_side(suite: Path, videos: Path, dims: list[str]):
    from videojury.bench import check_videos
    from videojury.bench.vbench import run_vbench
    from videojury.data.suites import load_suite
    from videojury.metrics.vbench._base import clear_models

    clear_models()  # every run loads its models, as VBench's does
    check = check_videos(load_suite(suite), videos)
    return run_vbench(check, dims)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--weights", required=True, help="make_inputs.py --full's weights folder")
    ap.add_argument("--per-group", type=int, default=2, help="prompts per VBench prompt group")
    ap.add_argument("--shared", action="store_true",
                    help="every chosen prompt in every requested dimension")
    ap.add_argument("--frames", type=int, default=16)
    ap.add_argument("--size", default="256x256", help="HxW (RAFT needs at least 128x128)")
    ap.add_argument("--fps", type=float, default=8.0)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--dimension", action="append", default=None,
                    help=f"default: {', '.join(DEFAULT_DIMS)}")
    ap.add_argument("--json", default=None, help="write the figures here")
    args = ap.parse_args()
    dims = args.dimension or DEFAULT_DIMS
    h, w = (int(x) for x in args.size.split("x"))

    import torch

    torch.set_num_threads(args.threads)
    from videojury.metrics.vbench.raft import random_raft_checkpoint
    from videojury.video import write_video

    weights = Path(args.weights).resolve()
    tmp = Path(tempfile.mkdtemp(prefix="vb-speed-"))
    # the file names videojury's weight table and VBench's code look for, in one folder
    wdir = tmp / "weights"
    wdir.mkdir()
    for name in ("dino_vitbase16_pretrain.pth", "ViT-B-32.pt", "ViT-L-14.pt",
                 "ViClip-InternVid-10M-FLT.pth"):
        (wdir / name).symlink_to(weights / name)
    (wdir / "sa_0_4_vit_l_14_linear.pth").symlink_to(
        weights / "aesthetic" / "sa_0_4_vit_l_14_linear.pth")
    raft = weights / "raft-things.pth"
    if not raft.exists():
        random_raft_checkpoint(raft, 0)
    (wdir / "raft-things.pth").symlink_to(raft)
    amt = weights / "amt-s.pth"
    if "motion_smoothness" in dims and not amt.exists():
        from videojury.metrics.vbench.amt import random_amt_checkpoint

        random_amt_checkpoint(amt, 0)
    if amt.exists():
        (wdir / "amt-s.pth").symlink_to(amt)
    os.environ["VIDEOJURY_WEIGHTS"] = str(wdir)
    # VBench reads ViCLIP's BPE vocabulary from its cache: OpenAI's clip package's copy
    cache = tmp / "vbench_cache" / "ViCLIP"
    cache.mkdir(parents=True)
    shutil.copy(Path(importlib.util.find_spec("clip").origin).parent
                / "bpe_simple_vocab_16e6.txt.gz", cache / "bpe_simple_vocab_16e6.txt.gz")
    os.environ["VBENCH_CACHE_DIR"] = str(tmp / "vbench_cache")
    import vbench  # VBench's package (reads VBENCH_CACHE_DIR at import), for its prompt file

    full_info = json.loads((Path(vbench.__file__).parent / "VBench_full_info.json").read_text())
    entries = _prompts(full_info, dims, args.per_group, args.shared)
    vdir = tmp / "videos" / "model"
    for i, e in enumerate(entries):
        write_video(vdir / f"{e['prompt_en']}-0.mp4", _clip(i, args.frames, h, w), fps=args.fps)
    suite = tmp / "VBench_full_info.json"
    suite.write_text(json.dumps(entries))
    # what VBench's evaluate() writes before calling the dimensions: the prompts with their
    # video lists
    full = tmp / "model_full_info.json"
    full.write_text(json.dumps([dict(e, video_list=[str(vdir / f"{e['prompt_en']}-0.mp4")])
                                for e in entries]))
    n_dim = {d: sum(d in e["dimension"] for e in entries) for d in dims}
    print(f"{len(entries)} videos ({args.frames} frames at {w}x{h}, {args.fps:g} fps), "
          f"{'shared' if args.shared else 'VBench'} prompt groups; videos per dimension: "
          + ", ".join(f"{d} {n}" for d, n in n_dim.items())
          + f"; {args.threads} threads; load average {os.getloadavg()[0]:.2f}", flush=True)

    t_ref, t_vj, c_ref, c_vj, ref_costs, vj_stats = [], [], [], [], [], []
    ref = res = None
    for r in range(args.repeat):
        la0 = os.getloadavg()[0]
        t0, c0 = time.perf_counter(), time.process_time()
        ref, costs = vbench_side(dims, full, wdir)
        t_ref.append(time.perf_counter() - t0)
        c_ref.append(time.process_time() - c0)
        ref_costs.append(costs)
        t0, c0 = time.perf_counter(), time.process_time()
        res = videojury_side(suite, tmp / "videos", dims)
        t_vj.append(time.perf_counter() - t0)
        c_vj.append(time.process_time() - c0)
        vj_stats.append(res.stats)
        # CPU seconds (this process, all threads) are what a shared machine's load distorts
        # least; wall time is what a user waits.
        print(f"run {r + 1}: VBench's code {t_ref[-1]:.1f} s wall / {c_ref[-1]:.1f} s CPU, "
              f"videojury {t_vj[-1]:.1f} s wall / {c_vj[-1]:.1f} s CPU (ratio "
              f"{t_ref[-1] / t_vj[-1]:.2f}x wall, {c_ref[-1] / c_vj[-1]:.2f}x CPU; load average "
              f"{la0:.2f} -> {os.getloadavg()[0]:.2f})", flush=True)

    worst: dict[str, float] = {}
    for d in dims:
        mine = {Path(v["video_path"]).name: v["video_results"]
                for v in res.eval_results["model"][d][1]}
        theirs = {Path(v["video_path"]).name: v["video_results"] for v in ref[d][1]}
        assert set(mine) == set(theirs), (d, sorted(mine), sorted(theirs))
        worst[d] = max(abs(float(mine[k]) - float(theirs[k])) for k in theirs)

    med_ref, med_vj = statistics.median(t_ref), statistics.median(t_vj)
    print("\nVBench's code per dimension (median over runs): model build + decode + rest")
    for d in dims:
        c = {k: statistics.median(x[d][k] for x in ref_costs) for k in ("load", "decode",
                                                                        "rest", "total")}
        print(f"  {d:24s} {c['total']:7.1f} s = {c['load']:5.1f} + {c['decode']:5.1f} + "
              f"{c['rest']:7.1f}   max |videojury - VBench| {worst[d]:.3g}")
    s = vj_stats[len(vj_stats) // 2]
    print(f"videojury (one run): {s.seconds:.1f} s in the executor: setup (model loads) "
          f"{s.setup_seconds:.1f} s, decode {s.decode_seconds:.1f} s")
    for label in s.model_seconds:
        print(f"  {label:34s} preprocess {s.preprocess_seconds.get(label, 0):6.1f} s, "
              f"model {s.model_seconds[label]:7.1f} s")
    mc_ref, mc_vj = statistics.median(c_ref), statistics.median(c_vj)
    print(f"\nmedian of {args.repeat}: VBench's code {med_ref:.1f} s wall, {mc_ref:.1f} s CPU; "
          f"videojury {med_vj:.1f} s wall, {mc_vj:.1f} s CPU; ratio {med_ref / med_vj:.2f}x "
          f"wall, {mc_ref / mc_vj:.2f}x CPU")
    if args.json:
        Path(args.json).write_text(json.dumps({
            "videos": len(entries), "frames": args.frames, "size": [h, w], "dims": dims,
            "vbench_s": t_ref, "videojury_s": t_vj,
            "vbench_cpu_s": c_ref, "videojury_cpu_s": c_vj, "vbench_costs": ref_costs,
            "videojury_stats": [x.as_dict() for x in vj_stats], "max_diff": worst}, indent=1))


if __name__ == "__main__":
    main()

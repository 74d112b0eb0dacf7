"""Run DOVER's own evaluate_one_video.py on a checkpoint and videos; print JSON.

Usage (see README.md in this folder):
    /tmp/vqaref/bin/python benchmarks/parity/dover/reference.py --repo /tmp/dover_src \
        --ckpt /tmp/dv.pth --seed 0 --out REF.json VIDEO...

evaluate_one_video.py is executed unchanged with ``runpy`` (``-o OPT -v VIDEO
-d cpu -f``), with dover.yml's ``test_load_path`` pointed at ``--ckpt``. For a
small-width test checkpoint the two backbone classes it builds get that
width (DOVER's own ``SwinTransformer3D`` and ``ConvNeXt3D``, fewer channels
and blocks). Its random draws (NumPy's global generator for the frame
offsets, torch's for the fragment offsets) follow ``np.random.seed(seed);
torch.manual_seed(seed)`` set as ``spatial_temporal_view_decomposition``
starts, which is what videojury's ``seed`` reproduces. Reported: the two raw
branch scores (``results``) and ``fuse_results(results)``.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import runpy
import sys
from functools import partial
from pathlib import Path


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/dover_ref_work")
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "fastvqa"))
    import shims

    shims.install()
    sys.path.insert(0, a.repo)
    import numpy as np
    import torch
    import yaml

    import dover.datasets as dd
    import dover.models.evaluator as de
    from dover.models.conv_backbone import ConvNeXt3D
    from dover.models.swin_backbone import SwinTransformer3D

    sd = torch.load(a.ckpt, map_location="cpu", weights_only=True)
    opt = yaml.safe_load(Path(a.repo, "dover.yml").read_text())
    opt["test_load_path"] = str(Path(a.ckpt).resolve())
    width = int(sd["technical_backbone.patch_embed.proj.weight"].shape[0])
    if width != 96:  # a small test checkpoint: the same classes, narrower
        p = "technical_backbone."
        depth = 1 + max(int(k.split(".")[4]) for k in sd if k.startswith(p + "layers.0.blocks."))
        heads = [int(sd[f"{p}layers.{i}.blocks.0.attn.relative_position_bias_table"].shape[1])
                 for i in range(4)]
        de.VideoBackbone = partial(SwinTransformer3D, embed_dim=width, depths=[depth] * 4,
                                   num_heads=heads)
        q = "aesthetic_backbone."
        depths = [1 + max(int(k.split(".")[3]) for k in sd if k.startswith(f"{q}stages.{i}."))
                  for i in range(4)]
        dims = [int(sd[f"{q}stages.{i}.0.gamma"].shape[0]) for i in range(4)]
        de.convnext_3d_tiny = lambda pretrained=False, **kw: ConvNeXt3D(depths=depths, dims=dims)
        opt["model"]["args"]["vqa_head"]["in_channels"] = width * 8
    work = Path(a.work)
    work.mkdir(parents=True, exist_ok=True)
    (work / "dover.yml").write_text(yaml.safe_dump(opt, sort_keys=False))

    original = dd.spatial_temporal_view_decomposition

    def seeded(*args, **kwargs):
        np.random.seed(a.seed)
        torch.manual_seed(a.seed)
        return original(*args, **kwargs)

    dd.spatial_temporal_view_decomposition = seeded
    os.chdir(work)
    out = {}
    for v in a.videos:
        sys.argv = ["evaluate_one_video.py", "-o", str(work / "dover.yml"), "-v",
                    os.path.abspath(v), "-d", "cpu", "-f"]
        with contextlib.redirect_stdout(sys.stderr):
            g = runpy.run_path(str(Path(a.repo, "evaluate_one_video.py")), run_name="__main__")
            fused = float(g["fuse_results"](g["results"]))
        out[os.path.basename(v)] = {"technical": float(g["results"][0]),
                                    "aesthetic": float(g["results"][1]), "overall": fused}
    Path(a.out).write_text(json.dumps({"model": "DOVER", "seed": a.seed, "scores": out},
                                      indent=1))


if __name__ == "__main__":
    main()

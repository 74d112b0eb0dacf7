"""Run FAST-VQA's own inference script (vqa.py) on a checkpoint and videos; print JSON.

Usage (see README.md in this folder):
    /tmp/vqaref/bin/python benchmarks/parity/fastvqa/reference.py --repo /tmp/fastvqa_src \
        --ckpt /tmp/fv.pth --model FAST-VQA --seed 0 --out REF.json VIDEO...

vqa.py is executed unchanged with ``runpy`` (``-m MODEL -v VIDEO -d cpu``),
from a folder holding its option file with ``test_load_path`` pointed at
``--ckpt``. For a small-width test checkpoint the backbone class vqa.py
builds is given that width (the same class, fewer channels). Its fragment
offsets are drawn by torch's global generator: the call to
``get_spatial_fragments`` is preceded by ``torch.manual_seed(seed)`` (and
``np.random.seed(seed)``), which is what videojury's ``seed`` reproduces.
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

OPTS = {"FAST-VQA": "options/fast/fast-b.yml", "FasterVQA": "options/fast/f3dvqa-b.yml"}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repo", required=True)
    ap.add_argument("--ckpt", required=True)
    ap.add_argument("--model", choices=sorted(OPTS), default="FAST-VQA")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", required=True)
    ap.add_argument("--work", default="/tmp/fastvqa_ref_work")
    ap.add_argument("videos", nargs="+")
    a = ap.parse_args()

    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import shims

    shims.install()
    sys.path.insert(0, a.repo)
    import numpy as np
    import torch
    import yaml

    import fastvqa.datasets as fd
    import fastvqa.models.evaluator as fe
    from fastvqa.models.swin_backbone import SwinTransformer3D

    sd = torch.load(a.ckpt, map_location="cpu", weights_only=True)["state_dict"]
    width = int(sd["fragments_backbone.patch_embed.proj.weight"].shape[0])
    opt = yaml.safe_load(Path(a.repo, OPTS[a.model]).read_text())
    opt["test_load_path"] = str(Path(a.ckpt).resolve())
    if width != 96:  # a small test checkpoint: the same class, narrower
        depth = 1 + max(int(k.split(".")[4]) for k in sd if ".layers.0.blocks." in k)
        heads = [int(sd[f"fragments_backbone.layers.{i}.blocks.0.attn."
                        "relative_position_bias_table"].shape[1]) for i in range(4)]
        fe.VideoBackbone = partial(SwinTransformer3D, embed_dim=width, depths=[depth] * 4,
                                   num_heads=heads)
        opt["model"]["args"]["vqa_head"]["in_channels"] = width * 8
    work = Path(a.work)
    (work / OPTS[a.model]).parent.mkdir(parents=True, exist_ok=True)
    (work / OPTS[a.model]).write_text(yaml.safe_dump(opt, sort_keys=False))

    original = fd.get_spatial_fragments

    def seeded(*args, **kwargs):
        np.random.seed(a.seed)
        torch.manual_seed(a.seed)
        return original(*args, **kwargs)

    fd.get_spatial_fragments = seeded
    os.chdir(work)
    out = {}
    for v in a.videos:
        sys.argv = ["vqa.py", "-m", a.model, "-v", os.path.abspath(v), "-d", "cpu"]
        with contextlib.redirect_stdout(sys.stderr):  # vqa.py's prints
            g = runpy.run_path(str(Path(a.repo, "vqa.py")), run_name="__main__")
        out[os.path.basename(v)] = {"raw": float(g["result"].mean().item()),
                                    "score": float(g["score"])}
    Path(a.out).write_text(json.dumps({"model": a.model, "seed": a.seed, "scores": out},
                                      indent=1))


if __name__ == "__main__":
    main()

"""videojury's VBench dimensions on the parity inputs, against OUT/reference.json.

Run in videojury's environment after make_inputs.py and reference.py:
    python benchmarks/parity/vbench/compare.py OUT
Prints, per dimension, each video's value from both sides and the largest
absolute difference. Weights are passed as model=PATH, the loading path a real
checkpoint takes.
"""

import json
import sys
from pathlib import Path

import torch

from videojury.data.items import Item
from videojury.metrics import load_metric
from videojury.video import sample

out = Path(sys.argv[1])
w = out / "weights"
ref = json.loads((out / "reference.json").read_text())
torch.set_num_threads(1)
SPECS = {
    "subject_consistency": dict(model=str(w / "dino_vitbase16_pretrain.pth")),
    "background_consistency": dict(model=str(w / "ViT-B-32.pt")),
    "appearance_style": dict(model=str(w / "ViT-B-32.pt")),
    "aesthetic_quality": dict(model=str(w / "ViT-L-14.pt"),
                              head=str(w / "aesthetic" / "sa_0_4_vit_l_14_linear.pth")),
    "temporal_flickering": {},
    "overall_consistency": dict(model=str(w / "ViClip-InternVid-10M-FLT.pth")),
    "temporal_style": dict(model=str(w / "ViClip-InternVid-10M-FLT.pth")),
}
PROMPTS = ref.pop("_prompts", {})
STYLE = "Van Gogh style"
rows = []
for dim, values in sorted(ref.items()):
    metric = load_metric(dim, **SPECS[dim])
    worst = 0.0
    for name, want in sorted(values.items()):
        path = out / "videos" / name
        frames = sample(path, metric.frame_policy())
        item = Item(str(path), prompt=PROMPTS.get(name), extra={"appearance_style": STYLE})
        got = metric.score(frames, item)[dim]
        worst = max(worst, abs(got - want))
        print(f"{dim:24s} {name:24s} vbench {want:.9f} videojury {got:.9f} diff {got - want:+.2e}")
    rows.append((dim, len(values), worst))
print()
for dim, n, worst in rows:
    print(f"{dim:24s} videos {n}  max |diff| {worst:.2e}")

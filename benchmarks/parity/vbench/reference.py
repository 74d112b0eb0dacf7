"""VBench's own dimension functions on the parity inputs (the reference side).

Run in a throw-away environment that has VBench's sources on the path, never in
videojury's (see README.md here for the exact setup):
    PYTHONPATH=VBENCH:CLIP:DINO python reference.py OUT [DIMENSION ...]
OUT is the folder make_inputs.py wrote; writes OUT/reference.json:
{dimension: {video file name: value}}. The models are built by their authors'
code (DINO's vision_transformer.py sized like the checkpoint, OpenAI's
clip.load, VBench's get_aesthetic_model) and given the seeded checkpoint files.
"""

import json
import sys
from functools import partial
from pathlib import Path

import torch

out = Path(sys.argv[1])
dims = sys.argv[2:] or ["subject_consistency", "background_consistency", "aesthetic_quality",
                        "appearance_style", "temporal_flickering"]
videos = sorted(str(p) for p in (out / "videos").glob("*.mp4"))
weights = out / "weights"
STYLE = "Van Gogh style"
torch.set_num_threads(1)
ref_path = out / "reference.json"
result = json.loads(ref_path.read_text()) if ref_path.exists() else {}


def per_video(rows):
    return {Path(r["video_path"]).name: float(r["video_results"]) for r in rows}


if "subject_consistency" in dims:
    import vision_transformer as vits  # DINO's own module
    from vbench.subject_consistency import subject_consistency

    sd = torch.load(weights / "dino_vitbase16_pretrain.pth", map_location="cpu")
    width = sd["cls_token"].shape[-1]
    depth = len({k.split(".")[1] for k in sd if k.startswith("blocks.")})
    model = vits.VisionTransformer(patch_size=16, embed_dim=width, depth=depth,
                                   num_heads=width // 64, mlp_ratio=4, qkv_bias=True,
                                   norm_layer=partial(torch.nn.LayerNorm, eps=1e-6),
                                   num_classes=0)
    model.load_state_dict(sd, strict=True)
    model.eval()
    _, rows = subject_consistency(model, videos, "cpu", False)
    result["subject_consistency"] = per_video(rows)

if "background_consistency" in dims or "appearance_style" in dims:
    import clip

    clip_b, preprocess = clip.load(str(weights / "ViT-B-32.pt"), device="cpu")
    if "background_consistency" in dims:
        from vbench.background_consistency import background_consistency

        with torch.no_grad():
            _, rows = background_consistency(clip_b, preprocess, videos, "cpu", False)
        result["background_consistency"] = per_video(rows)
    if "appearance_style" in dims:
        from vbench.appearance_style import appearance_style

        info = [{"prompt": "a prompt", "video_list": videos,
                 "auxiliary_info": {"appearance_style": STYLE}}]
        _, rows = appearance_style(clip_b, info, "cpu")
        result["appearance_style"] = per_video(rows)

if "aesthetic_quality" in dims:
    import clip
    from vbench.aesthetic_quality import get_aesthetic_model, laion_aesthetic

    head = get_aesthetic_model(str(weights / "aesthetic"))
    clip_l, _ = clip.load(str(weights / "ViT-L-14.pt"), device="cpu")
    _, rows = laion_aesthetic(head, clip_l, videos, "cpu")
    result["aesthetic_quality"] = per_video(rows)

if "temporal_flickering" in dims:
    from vbench.temporal_flickering import temporal_flickering

    _, rows = temporal_flickering(videos)
    result["temporal_flickering"] = per_video(rows)

ref_path.write_text(json.dumps(result, indent=1, sort_keys=True))
print(json.dumps(result, indent=1, sort_keys=True))

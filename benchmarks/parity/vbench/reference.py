"""VBench's own dimension functions on the parity inputs (the reference side).

Run in a throw-away environment that has VBench's sources on the path, never in
videojury's (see README.md here for the exact setup):
    PYTHONPATH=VBENCH:CLIP:DINO python reference.py OUT [DIMENSION ...]
OUT is the folder make_inputs.py wrote; writes OUT/reference.json:
{dimension: {video file name: value}}. The models are built by their authors'
code (DINO's vision_transformer.py sized like the checkpoint, OpenAI's
clip.load, VBench's get_aesthetic_model) and given the seeded checkpoint files.
"""

import importlib.util
import json
import os
import shutil
import sys
from functools import partial
from pathlib import Path

import torch

out = Path(sys.argv[1])
# VBench reads its cache folder at import; ViCLIP's tokenizer wants OpenAI's BPE vocabulary
# there (VBench would download it): a copy of the one OpenAI's clip package ships.
os.environ["VBENCH_CACHE_DIR"] = str(out / "vbench_cache")
(out / "vbench_cache" / "ViCLIP").mkdir(parents=True, exist_ok=True)
shutil.copy(Path(importlib.util.find_spec("clip").origin).parent / "bpe_simple_vocab_16e6.txt.gz",
            out / "vbench_cache" / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz")
dims = sys.argv[2:] or ["subject_consistency", "background_consistency", "aesthetic_quality",
                        "appearance_style", "temporal_flickering", "overall_consistency",
                        "temporal_style"]
videos = sorted(str(p) for p in (out / "videos").glob("*.mp4"))
weights = out / "weights"
STYLE = "Van Gogh style"
# one prompt per video (sorted file names), for the ViCLIP dimensions
PROMPTS = ["a rabbit in a green meadow, camera panning", "cyclists racing on a street",
           "a man talking on a phone in a car", "a red ball moving over a colourful gradient",
           "a red blob on a striped square, Van Gogh style",
           "a tall narrow scene with a red light, in the style of Ukiyo, with a very long "
           "prompt that goes on past the thirty-two token context of the text encoder so it "
           "is truncated"]
torch.set_num_threads(1)
ref_path = out / "reference.json"
result = json.loads(ref_path.read_text()) if ref_path.exists() else {}


def per_video(rows):
    return {Path(r["video_path"]).name: float(r["video_results"]) for r in rows}


if "subject_consistency" in dims:
    import vision_transformer as vits  # DINO's own module
    from vbench.subject_consistency import subject_consistency

    sd = torch.load(weights / "dino_vitbase16_pretrain.pth", map_location="cpu", weights_only=True)
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

if "overall_consistency" in dims or "temporal_style" in dims:
    # ViCLIP's sizes are fixed in its constructor (ViT-L/14, 12-layer text); the tiny
    # checkpoint's sizes are given to VBench's own VisionTransformer and CLIP_TEXT classes
    # by replacing the two builder functions ViCLIP calls; the code path is unchanged.
    import vbench.third_party.ViCLIP.viclip as vc
    from vbench.third_party.ViCLIP.simple_tokenizer import SimpleTokenizer
    from vbench.third_party.ViCLIP.viclip_text import CLIP_TEXT
    from vbench.third_party.ViCLIP.viclip_vision import VisionTransformer

    ck = weights / "ViClip-InternVid-10M-FLT.pth"
    sd = torch.load(ck, map_location="cpu", weights_only=True)["model"]
    vw = sd["vision_encoder.conv1.weight"].shape[0]
    tw = sd["text_encoder.positional_embedding"].shape[1]
    emb = sd["vision_encoder.proj"].shape[1]

    def n_layers(prefix):
        return len({k[len(prefix):].split(".")[0] for k in sd if k.startswith(prefix)})

    def small_vision(**kw):
        return VisionTransformer(input_resolution=kw["input_resolution"], patch_size=14,
                                 width=vw, layers=n_layers("vision_encoder.transformer.resblocks."),
                                 heads=vw // 64, output_dim=emb, kernel_size=kw["kernel_size"],
                                 num_frames=kw["num_frames"], drop_path=kw["drop_path"],
                                 checkpoint_num=0).eval()

    def small_text(**kw):
        return CLIP_TEXT(emb, kw["context_length"], kw["vocab_size"], tw, tw // 64,
                         n_layers("text_encoder.transformer.resblocks."), 0).eval()

    vc.clip_joint_l14, vc.clip_text_l14 = small_vision, small_text
    bpe = out / "vbench_cache" / "ViCLIP" / "bpe_simple_vocab_16e6.txt.gz"
    viclip = vc.ViCLIP(tokenizer=SimpleTokenizer(str(bpe)), pretrain=str(ck)).eval()
    info = [{"prompt": p, "video_list": [v]} for v, p in zip(videos, PROMPTS)]
    result["_prompts"] = {Path(v).name: p for v, p in zip(videos, PROMPTS)}
    if "overall_consistency" in dims:
        from vbench.overall_consistency import overall_consistency

        _, rows = overall_consistency(viclip, info, None, "cpu")
        result["overall_consistency"] = per_video(rows)
    if "temporal_style" in dims:
        from vbench.temporal_style import temporal_style

        _, rows = temporal_style(viclip, info, None, "cpu")
        result["temporal_style"] = per_video(rows)

if "temporal_flickering" in dims:
    from vbench.temporal_flickering import temporal_flickering

    _, rows = temporal_flickering(videos)
    result["temporal_flickering"] = per_video(rows)

ref_path.write_text(json.dumps(result, indent=1, sort_keys=True))
print(json.dumps(result, indent=1, sort_keys=True))

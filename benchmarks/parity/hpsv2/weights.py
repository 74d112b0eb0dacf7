"""Seeded inputs for the hpsv2 parity check (shared by reference.py and the test).

``make(root)`` writes: ``hps-tiny.json``, a small open_clip model config
(ViT width 64, 2 layers, patch 8, 32 px; text width 64, 2 layers, with
OpenAI's 49408-token vocabulary and 77-token context so that HPSv2's
``get_tokenizer('ViT-H-14')`` fits it); ``hps_tiny.pt``, a checkpoint in
HPSv2's format (``{"state_dict": open_clip keys}``) drawn from a seeded
generator; ``frames.npy``, three clips of four 40x48 frames; and the prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

CONFIG = {"embed_dim": 16,
          "vision_cfg": {"image_size": 32, "layers": 2, "width": 64, "head_width": 32, "patch_size": 8},
          "text_cfg": {"context_length": 77, "vocab_size": 49408, "width": 64, "heads": 2, "layers": 2}}
PROMPTS = ["a red car on the road", "a cat sitting on a chair", "people walking in the city at night"]


def make(root: str | Path) -> dict[str, Path]:
    import open_clip

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    cfg = root / "hps-tiny.json"
    cfg.write_text(json.dumps(CONFIG))
    open_clip.add_model_config(str(cfg))
    model = open_clip.create_model("hps-tiny", pretrained=None)
    g = torch.Generator().manual_seed(5)
    sd = {}
    for k, v in sorted(model.state_dict().items()):
        if not v.is_floating_point():
            sd[k] = v.clone()
            continue
        t = torch.randn(v.shape, generator=g) * 0.1
        sd[k] = (1.0 + t) if (k.endswith(".weight") and v.ndim == 1) else t
    sd["logit_scale"] = torch.tensor(np.log(1 / 0.07), dtype=torch.float32)
    torch.save({"epoch": 1, "state_dict": sd}, root / "hps_tiny.pt")
    rng = np.random.default_rng(4)
    base = rng.integers(0, 256, (3, 1, 40, 48, 3))
    frames = np.clip(base + rng.integers(-20, 21, (3, 4, 40, 48, 3)), 0, 255).astype(np.uint8)
    np.save(root / "frames.npy", frames)
    return {"arch": cfg, "weights": root / "hps_tiny.pt", "frames": root / "frames.npy"}

"""Seeded inputs for the imagereward parity check (shared by reference.py and the test).

``make(root)`` writes ``ImageReward.pt`` in the official checkpoint's format
(``blip.visual_encoder.*`` of a BLIP ViT, ``blip.text_encoder.*`` of BLIP's
BERT with cross-attention, BLIP's unused ``vision_proj``/``text_proj`` and the
reward ``mlp.layers.*``), small (width 64, 2 layers, patch 16, 32 px), drawn
from a seeded generator; ``med_config.json`` for that BERT; a tiny
``bert``-style WordPiece tokenizer folder; three clips of four frames; prompts.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

W, LAYERS, PATCH, IMAGE, HIDDEN, MAXPOS = 64, 2, 16, 32, 64, 64
WORDS = ["a", "red", "car", "on", "the", "road", "cat", "sitting", "chair", "people", "walking",
         "in", "city", "at", "night", "blue", "dog"]
PROMPTS = ["a red car on the road", "a cat sitting on a chair", "people walking in the city at night"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def _vocab_size() -> int:
    return len(SPECIALS) + len(WORDS) + 2  # BLIP adds [DEC] and [ENC]


def shapes() -> dict[str, tuple[int, ...]]:
    grid = IMAGE // PATCH
    s = {"blip.visual_encoder.cls_token": (1, 1, W), "blip.visual_encoder.pos_embed": (1, grid * grid + 1, W),
         "blip.visual_encoder.patch_embed.proj.weight": (W, 3, PATCH, PATCH),
         "blip.visual_encoder.patch_embed.proj.bias": (W,),
         "blip.visual_encoder.norm.weight": (W,), "blip.visual_encoder.norm.bias": (W,)}
    for i in range(LAYERS):
        p = f"blip.visual_encoder.blocks.{i}."
        s.update({p + "norm1.weight": (W,), p + "norm1.bias": (W,), p + "attn.qkv.weight": (3 * W, W),
                  p + "attn.qkv.bias": (3 * W,), p + "attn.proj.weight": (W, W), p + "attn.proj.bias": (W,),
                  p + "norm2.weight": (W,), p + "norm2.bias": (W,), p + "mlp.fc1.weight": (4 * W, W),
                  p + "mlp.fc1.bias": (4 * W,), p + "mlp.fc2.weight": (W, 4 * W), p + "mlp.fc2.bias": (W,)})
    t = "blip.text_encoder."
    s.update({t + "embeddings.word_embeddings.weight": (_vocab_size(), HIDDEN),
              t + "embeddings.position_embeddings.weight": (MAXPOS, HIDDEN),
              t + "embeddings.LayerNorm.weight": (HIDDEN,), t + "embeddings.LayerNorm.bias": (HIDDEN,)})
    for i in range(LAYERS):
        p = f"{t}encoder.layer.{i}."
        for att, kv in (("attention", HIDDEN), ("crossattention", W)):
            s.update({p + f"{att}.self.query.weight": (HIDDEN, HIDDEN), p + f"{att}.self.query.bias": (HIDDEN,),
                      p + f"{att}.self.key.weight": (HIDDEN, kv), p + f"{att}.self.key.bias": (HIDDEN,),
                      p + f"{att}.self.value.weight": (HIDDEN, kv), p + f"{att}.self.value.bias": (HIDDEN,),
                      p + f"{att}.output.dense.weight": (HIDDEN, HIDDEN), p + f"{att}.output.dense.bias": (HIDDEN,),
                      p + f"{att}.output.LayerNorm.weight": (HIDDEN,),
                      p + f"{att}.output.LayerNorm.bias": (HIDDEN,)})
        s.update({p + "intermediate.dense.weight": (4 * HIDDEN, HIDDEN), p + "intermediate.dense.bias": (4 * HIDDEN,),
                  p + "output.dense.weight": (HIDDEN, 4 * HIDDEN), p + "output.dense.bias": (HIDDEN,),
                  p + "output.LayerNorm.weight": (HIDDEN,), p + "output.LayerNorm.bias": (HIDDEN,)})
    s.update({"blip.vision_proj.weight": (256, W), "blip.vision_proj.bias": (256,),
              "blip.text_proj.weight": (256, HIDDEN), "blip.text_proj.bias": (256,)})
    sizes = [HIDDEN, 1024, 128, 64, 16, 1]
    for i, (a, b) in zip((0, 2, 4, 6, 7), zip(sizes, sizes[1:])):
        s[f"mlp.layers.{i}.weight"], s[f"mlp.layers.{i}.bias"] = (b, a), (b,)
    return s


def make(root: str | Path) -> dict[str, Path]:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    g = torch.Generator().manual_seed(9)
    sd = {}
    for k, shp in sorted(shapes().items()):
        scale = 1.0 / np.sqrt(shp[-1]) if k.startswith("mlp.") and k.endswith("weight") else 0.1
        t = torch.randn(shp, generator=g) * scale
        norm = k.endswith(".weight") and ("norm" in k.lower()) and len(shp) == 1
        sd[k] = 1.0 + t if norm else t
    sd["blip.text_encoder.embeddings.position_ids"] = torch.arange(MAXPOS).unsqueeze(0)
    torch.save(sd, root / "ImageReward.pt")
    med = {"architectures": ["BertModel"], "attention_probs_dropout_prob": 0.1, "hidden_act": "gelu",
           "hidden_dropout_prob": 0.1, "hidden_size": HIDDEN, "initializer_range": 0.02,
           "intermediate_size": 4 * HIDDEN, "layer_norm_eps": 1e-12, "max_position_embeddings": MAXPOS,
           "model_type": "bert", "num_attention_heads": 1, "num_hidden_layers": LAYERS, "pad_token_id": 0,
           "type_vocab_size": 2, "vocab_size": _vocab_size(), "encoder_width": W, "add_cross_attention": True}
    (root / "med_config.json").write_text(json.dumps(med, indent=1))
    tok = root / "tokenizer"
    tok.mkdir(exist_ok=True)
    (tok / "vocab.txt").write_text("\n".join(SPECIALS + WORDS) + "\n")
    (tok / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer",
                                                           "model_max_length": 512}))
    rng = np.random.default_rng(6)
    base = rng.integers(0, 256, (3, 1, 40, 48, 3))
    frames = np.clip(base + rng.integers(-20, 21, (3, 4, 40, 48, 3)), 0, 255).astype(np.uint8)
    np.save(root / "frames.npy", frames)
    return {"weights": root / "ImageReward.pt", "med_config": root / "med_config.json", "tokenizer": tok,
            "frames": root / "frames.npy"}

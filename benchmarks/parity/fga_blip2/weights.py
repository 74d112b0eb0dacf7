"""Seeded inputs for the fga_blip2 parity check (shared by reference.py and the test).

``make(root)`` writes ``fga_blip2.pth`` in the layout EvalMuse's training run
saves (LAVIS ``runner_base._save_checkpoint``: ``{"model": state_dict,
"optimizer": ..., "config": ..., "scaler": ..., "epoch": ...}``, here with an
empty optimizer state), the state dict being FGA_Blip2's: the EVA ViT
``visual_encoder.*`` (``q_bias``/``v_bias`` beside a bias-free ``qkv``),
``ln_vision``, the Q-Former ``Qformer.bert.*`` (query-only FFNs
``intermediate_query``/``output_query``, cross-attention every 2nd layer) and
its unused LM head ``Qformer.cls.*`` (decoder tied to the word embeddings), ``query_tokens``, ``vision_proj``,
``text_proj``, ``itm_head``, ``temp`` and FGA's token-mask MLP
``mask_proj.layers.*``. Small: ViT width 176 (2 heads of 88, as EVA's
``width // 88``), 2 blocks, patch 14, 42 px; Q-Former width 128 (2 heads of
64), 2 layers, 32 query tokens (``FGA_PARITY_SIZE=wide``: the real model's widths, heads
and 364 px with 2 ViT blocks and 2 Q-Former layers). Also a tiny WordPiece vocabulary, three clips
of four frames and three prompts.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import numpy as np
import torch

W, DEPTH, PATCH, IMAGE, MLP = 176, 2, 14, 42, 768      # EVA ViT (mlp: int(176 * 4.3637))
H, LAYERS, INTER, MAXPOS, NQ, FREQ = 128, 2, 512, 64, 32, 2  # Q-Former
if os.environ.get("FGA_PARITY_SIZE") == "wide":  # FGA-BLIP2's real widths, 364 px, 2 + 2 layers
    W, DEPTH, PATCH, IMAGE, MLP = 1408, 2, 14, 364, 6144
    H, LAYERS, INTER, MAXPOS = 768, 2, 3072, 512
WORDS = ["a", "red", "car", "on", "the", "road", "cat", "sitting", "chair", "people", "walking",
         "in", "city", "at", "night", "blue", "dog", ",", "and"]
PROMPTS = ["A red car, on the road!", "a cat (sitting) on a chair.", "People walking in the city at night"]
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
SEED = 15


def vocab_size() -> int:
    return len(SPECIALS) + len(WORDS) + 1  # LAVIS adds the bos token [DEC]


def shapes() -> dict[str, tuple[int, ...]]:
    grid = IMAGE // PATCH
    v = "visual_encoder."
    s = {v + "cls_token": (1, 1, W), v + "pos_embed": (1, grid * grid + 1, W),
         v + "patch_embed.proj.weight": (W, 3, PATCH, PATCH), v + "patch_embed.proj.bias": (W,),
         "ln_vision.weight": (W,), "ln_vision.bias": (W,)}
    for i in range(DEPTH):
        p = f"{v}blocks.{i}."
        s.update({p + "norm1.weight": (W,), p + "norm1.bias": (W,), p + "attn.q_bias": (W,),
                  p + "attn.v_bias": (W,), p + "attn.qkv.weight": (3 * W, W),
                  p + "attn.proj.weight": (W, W), p + "attn.proj.bias": (W,),
                  p + "norm2.weight": (W,), p + "norm2.bias": (W,), p + "mlp.fc1.weight": (MLP, W),
                  p + "mlp.fc1.bias": (MLP,), p + "mlp.fc2.weight": (W, MLP), p + "mlp.fc2.bias": (W,)})
    b = "Qformer.bert."
    s.update({b + "embeddings.word_embeddings.weight": (vocab_size(), H),
              b + "embeddings.position_embeddings.weight": (MAXPOS, H),
              b + "embeddings.LayerNorm.weight": (H,), b + "embeddings.LayerNorm.bias": (H,)})
    for i in range(LAYERS):
        p = f"{b}encoder.layer.{i}."
        atts = [("attention", H)] + ([("crossattention", W)] if i % FREQ == 0 else [])
        for att, kv in atts:
            s.update({p + f"{att}.self.query.weight": (H, H), p + f"{att}.self.query.bias": (H,),
                      p + f"{att}.self.key.weight": (H, kv), p + f"{att}.self.key.bias": (H,),
                      p + f"{att}.self.value.weight": (H, kv), p + f"{att}.self.value.bias": (H,),
                      p + f"{att}.output.dense.weight": (H, H), p + f"{att}.output.dense.bias": (H,),
                      p + f"{att}.output.LayerNorm.weight": (H,), p + f"{att}.output.LayerNorm.bias": (H,)})
        for ffn in ("", "_query"):
            s.update({p + f"intermediate{ffn}.dense.weight": (INTER, H),
                      p + f"intermediate{ffn}.dense.bias": (INTER,),
                      p + f"output{ffn}.dense.weight": (H, INTER), p + f"output{ffn}.dense.bias": (H,),
                      p + f"output{ffn}.LayerNorm.weight": (H,), p + f"output{ffn}.LayerNorm.bias": (H,)})
    c = "Qformer.cls.predictions."
    s.update({c + "bias": (vocab_size(),), c + "transform.dense.weight": (H, H), c + "transform.dense.bias": (H,),
              c + "transform.LayerNorm.weight": (H,), c + "transform.LayerNorm.bias": (H,),
              c + "decoder.weight": (vocab_size(), H), c + "decoder.bias": (vocab_size(),)})
    s.update({"query_tokens": (1, NQ, H), "vision_proj.weight": (256, H), "vision_proj.bias": (256,),
              "text_proj.weight": (256, H), "text_proj.bias": (256,), "itm_head.weight": (2, H),
              "itm_head.bias": (2,), "temp": ()})
    sizes = [H, 256, 128, 64, 16, 1]
    for i, (a, o) in zip((0, 2, 4, 6, 8), zip(sizes, sizes[1:])):
        s[f"mask_proj.layers.{i}.weight"], s[f"mask_proj.layers.{i}.bias"] = (o, a), (o,)
    return s


def state_dict(seed: int = SEED) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shp in sorted(shapes().items()):
        t = torch.randn(shp, generator=g)
        if len(shp) == 1 and k.endswith(".weight") and ("norm" in k.lower() or "ln_vision" in k):
            sd[k] = 1.0 + 0.1 * t
        elif k == "itm_head.weight":
            sd[k] = 0.5 * t  # a spread of match probabilities, not all near 0 or 1
        elif k == "temp":
            sd[k] = torch.tensor(0.07)
        else:
            sd[k] = (1.0 / np.sqrt(shp[-1]) if len(shp) > 1 else 0.1) * t
    sd["Qformer.bert.embeddings.position_ids"] = torch.arange(MAXPOS).unsqueeze(0)
    # the LM head's decoder is tied to the word embeddings (and its bias to predictions.bias), as in
    # every LAVIS BERT checkpoint: loading writes the same parameter twice
    sd["Qformer.cls.predictions.decoder.weight"] = sd["Qformer.bert.embeddings.word_embeddings.weight"].clone()
    sd["Qformer.cls.predictions.decoder.bias"] = sd["Qformer.cls.predictions.bias"].clone()
    return sd


def make(root: str | Path) -> dict[str, Path]:
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    ckpt = {"model": state_dict(), "optimizer": {"state": {}, "param_groups": []},
            "config": {"model": {"arch": "fga_blip2", "model_type": "coco"}}, "scaler": None, "epoch": 3}
    torch.save(ckpt, root / "fga_blip2.pth")
    tok = root / "tokenizer"
    tok.mkdir(exist_ok=True)
    (tok / "vocab.txt").write_text("\n".join(SPECIALS + WORDS) + "\n")
    (tok / "tokenizer_config.json").write_text(json.dumps({"do_lower_case": True, "tokenizer_class": "BertTokenizer",
                                                           "model_max_length": 512}))
    rng = np.random.default_rng(16)
    base = rng.integers(0, 256, (3, 1, 40, 48, 3))
    frames = np.clip(base + rng.integers(-30, 31, (3, 4, 40, 48, 3)), 0, 255).astype(np.uint8)
    np.save(root / "frames.npy", frames)
    return {"weights": root / "fga_blip2.pth", "tokenizer": tok, "frames": root / "frames.npy"}

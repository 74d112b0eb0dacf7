"""Seeded inputs for the laion_aesthetic parity check (shared by reference.py and the test).

``make(root)`` writes, deterministically (same seed, same files):

* ``clip_openai.pt``: a small CLIP ViT in OpenAI's state-dict format (what
  ``clip.model.build_model`` reads; widths of 64 so that its ``width // 64``
  head rule gives one head), drawn from a seeded generator;
* ``clip_hf/``: the same weights converted, key by key, to transformers'
  ``CLIPModel`` (every tensor of both sides used exactly once, checked), with
  a tiny tokenizer and a 32 px image processor;
* ``head.pth``: the predictor's MLP in the repository's format
  (``layers.{0,2,4,6,7}``) on the 16-dim embedding, seeded;
* ``frames.npy``: three clips of four 48x40 RGB frames.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

WIDTH, LAYERS, PATCH, IMAGE, EMBED, CONTEXT = 64, 2, 8, 32, 16, 77


def _blocks(prefix: str, width: int, layers: int) -> dict[str, tuple[int, ...]]:
    out = {}
    for i in range(layers):
        p = f"{prefix}.resblocks.{i}."
        out.update({p + "attn.in_proj_weight": (3 * width, width), p + "attn.in_proj_bias": (3 * width,),
                    p + "attn.out_proj.weight": (width, width), p + "attn.out_proj.bias": (width,),
                    p + "ln_1.weight": (width,), p + "ln_1.bias": (width,),
                    p + "mlp.c_fc.weight": (4 * width, width), p + "mlp.c_fc.bias": (4 * width,),
                    p + "mlp.c_proj.weight": (width, 4 * width), p + "mlp.c_proj.bias": (width,),
                    p + "ln_2.weight": (width,), p + "ln_2.bias": (width,)})
    return out


def openai_state(vocab: int, seed: int = 7) -> dict[str, torch.Tensor]:
    grid = IMAGE // PATCH
    shapes = {"visual.class_embedding": (WIDTH,), "visual.conv1.weight": (WIDTH, 3, PATCH, PATCH),
              "visual.positional_embedding": (grid * grid + 1, WIDTH),
              "visual.ln_pre.weight": (WIDTH,), "visual.ln_pre.bias": (WIDTH,),
              "visual.ln_post.weight": (WIDTH,), "visual.ln_post.bias": (WIDTH,),
              "visual.proj": (WIDTH, EMBED),
              "token_embedding.weight": (vocab, WIDTH), "positional_embedding": (CONTEXT, WIDTH),
              "ln_final.weight": (WIDTH,), "ln_final.bias": (WIDTH,), "text_projection": (WIDTH, EMBED)}
    shapes.update(_blocks("visual.transformer", WIDTH, LAYERS))
    shapes.update(_blocks("transformer", WIDTH, LAYERS))
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k in sorted(shapes):
        t = torch.randn(shapes[k], generator=g) * 0.1
        if k.endswith(("ln_1.weight", "ln_2.weight", "ln_pre.weight", "ln_post.weight", "ln_final.weight")):
            t = 1.0 + t
        # OpenAI's released weights are fp16 (build_model casts to half): draw them fp16-exact
        sd[k] = t.half().float()
    sd["logit_scale"] = torch.tensor(np.log(1 / 0.07), dtype=torch.float32)
    return sd


def openai_to_hf(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """OpenAI CLIP (ViT) state dict -> transformers CLIPModel state dict; strict both ways."""
    out, used = {}, set()

    def take(k):
        used.add(k)
        return sd[k]

    def tower(src: str, dst: str, n: int):
        for i in range(n):
            s, d = f"{src}.resblocks.{i}.", f"{dst}.encoder.layers.{i}."
            q, k_, v = take(s + "attn.in_proj_weight").chunk(3)
            qb, kb, vb = take(s + "attn.in_proj_bias").chunk(3)
            for name, w, b in (("q_proj", q, qb), ("k_proj", k_, kb), ("v_proj", v, vb)):
                out[d + f"self_attn.{name}.weight"], out[d + f"self_attn.{name}.bias"] = w, b
            for a, b in (("attn.out_proj", "self_attn.out_proj"), ("ln_1", "layer_norm1"),
                         ("ln_2", "layer_norm2"), ("mlp.c_fc", "mlp.fc1"), ("mlp.c_proj", "mlp.fc2")):
                out[d + b + ".weight"] = take(s + a + ".weight")
                out[d + b + ".bias"] = take(s + a + ".bias")

    v = "vision_model."
    out[v + "embeddings.class_embedding"] = take("visual.class_embedding")
    out[v + "embeddings.patch_embedding.weight"] = take("visual.conv1.weight")
    out[v + "embeddings.position_embedding.weight"] = take("visual.positional_embedding")
    for a, b in (("ln_pre", "pre_layrnorm"), ("ln_post", "post_layernorm")):
        out[v + b + ".weight"], out[v + b + ".bias"] = take(f"visual.{a}.weight"), take(f"visual.{a}.bias")
    tower("visual.transformer", "vision_model", LAYERS)
    out["visual_projection.weight"] = take("visual.proj").T.contiguous()
    t = "text_model."
    out[t + "embeddings.token_embedding.weight"] = take("token_embedding.weight")
    out[t + "embeddings.position_embedding.weight"] = take("positional_embedding")
    out[t + "final_layer_norm.weight"], out[t + "final_layer_norm.bias"] = take("ln_final.weight"), take("ln_final.bias")
    tower("transformer", "text_model", LAYERS)
    out["text_projection.weight"] = take("text_projection").T.contiguous()
    out["logit_scale"] = take("logit_scale")
    left = sorted(set(sd) - used)
    if left:
        raise KeyError(f"unconverted OpenAI keys: {left}")
    return out


def head_state(dim: int = EMBED, seed: int = 11) -> dict[str, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    sizes = [dim, 1024, 128, 64, 16, 1]
    sd = {}
    for i, (a, b) in zip((0, 2, 4, 6, 7), zip(sizes, sizes[1:])):
        sd[f"layers.{i}.weight"] = torch.randn(b, a, generator=g) / np.sqrt(a)
        sd[f"layers.{i}.bias"] = torch.randn(b, generator=g) * 0.1
    return sd


def frames(seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    base = rng.integers(0, 256, (3, 1, 40, 48, 3))
    return np.clip(base + rng.integers(-20, 21, (3, 4, 40, 48, 3)), 0, 255).astype(np.uint8)


def make(root: str | Path) -> dict[str, Path]:
    from transformers import CLIPConfig, CLIPModel

    from videojury.models.tiny import build_tiny

    root = Path(root)
    hf = build_tiny("clip", root / "clip_hf")  # tokenizer and processor (32 px)
    vocab = CLIPConfig.from_pretrained(hf).text_config.vocab_size
    sd = openai_state(vocab)
    torch.save(sd, root / "clip_openai.pt")
    base = CLIPConfig.from_pretrained(hf)
    tc, vc = base.text_config.to_dict(), base.vision_config.to_dict()
    common = dict(hidden_size=WIDTH, intermediate_size=4 * WIDTH, num_hidden_layers=LAYERS,
                  num_attention_heads=WIDTH // 64, hidden_act="quick_gelu", layer_norm_eps=1e-5)
    tc.update(common, max_position_embeddings=CONTEXT)
    vc.update(common, image_size=IMAGE, patch_size=PATCH)
    cfg = CLIPConfig(text_config=tc, vision_config=vc, projection_dim=EMBED)
    model = CLIPModel(cfg)
    missing, unexpected = model.load_state_dict(openai_to_hf(sd), strict=False)
    missing = [k for k in missing if not k.endswith("position_ids")]
    if missing or unexpected:
        raise KeyError(f"HF CLIP: missing {missing}, unexpected {unexpected}")
    model.save_pretrained(hf)
    torch.save(head_state(), root / "head.pth")
    np.save(root / "frames.npy", frames())
    return {"clip_openai": root / "clip_openai.pt", "clip_hf": hf, "head": root / "head.pth",
            "frames": root / "frames.npy"}

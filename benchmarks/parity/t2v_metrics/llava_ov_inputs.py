"""The tiny LLaVA-OneVision checkpoint of the ``preset=t2v_metrics`` parity check, from a seed.

t2v_metrics scores LLaVA-OneVision through the LLaVA-NeXT repository's own
``llava`` package on an lmms-lab checkpoint (``lmms-lab/llava-onevision-qwen2-7b-ov``):
a ``LlavaQwenForCausalLM`` folder (``config.json`` with the ``mm_*`` fields,
safetensors in LLaVA-NeXT's key layout, a Qwen2 tokenizer without image
tokens) whose ``mm_vision_tower`` names a SigLIP checkpoint on the hub that
LLaVA-NeXT loads first (and then drops its last encoder layer).
:func:`build_lmms_checkpoint` writes such a folder with the same field values
as the released 7B one, at a tiny size: Qwen2 text model (2 layers, width 32),
SigLIP vision tower of width 32 at LLaVA-NeXT's fixed 384-pixel input and
14-pixel patches (its encoder asserts 729 patches a frame), and a hub-cache
folder ``models--google--siglip-so400m-patch14-384`` holding the tiny SigLIP
(one layer more than the checkpoint keeps, as the real tower has 27 for 26
kept) so LLaVA-NeXT finds it under its released name with ``HF_HUB_OFFLINE=1``.

Weights are drawn with ``torch.Generator`` from the seed by name and shape
only (no model class), so the project environment (transformers 5, the test)
and the reference environment (transformers 4.49, LLaVA-NeXT) read the same
numbers. The generation config carries Qwen2-Instruct's ``repetition_penalty
=1.05`` (LLaVA-NeXT's ``generate`` passes only embeddings, so it never applies).

Clips and prompts are those of ``inputs.py``.
"""

from __future__ import annotations

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
if str(HERE) not in sys.path:
    sys.path.insert(0, str(HERE))
import inputs  # noqa: E402

SIGLIP_ID = "google/siglip-so400m-patch14-384"   # the released config's mm_vision_tower
NUM_FRAMES = 16                                   # LLaVAOneVisionModel.forward's default
TEXT = dict(hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=2,
            num_key_value_heads=1)
VISION = dict(hidden_size=32, intermediate_size=64, num_attention_heads=2, image_size=384,
              patch_size=14, kept_layers=2)
VOCAB_PAD = 13  # the config's vocab_size exceeds the tokenizer (Qwen2: 152064 > 151646)
STD = 0.5


def _tokenizer():
    """The tiny word-level tokenizer with the Qwen2 specials (no image/video tokens)."""
    from videojury.models.tiny import _make_tokenizer

    return _make_tokenizer(["<|endoftext|>", "<|im_start|>", "<|im_end|>"],
                           pad="<|endoftext|>", eos="<|im_end|>")


def _shapes(vocab: int) -> dict[str, tuple[int, ...]]:
    """Every tensor of the checkpoint in LLaVA-NeXT's layout, with its shape."""
    d, f, kv = TEXT["hidden_size"], TEXT["intermediate_size"], TEXT["num_key_value_heads"]
    hd = d // TEXT["num_attention_heads"]
    s = {"model.embed_tokens.weight": (vocab, d), "model.norm.weight": (d,),
         "lm_head.weight": (vocab, d)}
    for i in range(TEXT["num_hidden_layers"]):
        p = f"model.layers.{i}."
        s.update({p + "self_attn.q_proj.weight": (d, d), p + "self_attn.q_proj.bias": (d,),
                  p + "self_attn.k_proj.weight": (kv * hd, d), p + "self_attn.k_proj.bias": (kv * hd,),
                  p + "self_attn.v_proj.weight": (kv * hd, d), p + "self_attn.v_proj.bias": (kv * hd,),
                  p + "self_attn.o_proj.weight": (d, d), p + "mlp.gate_proj.weight": (f, d),
                  p + "mlp.up_proj.weight": (f, d), p + "mlp.down_proj.weight": (d, f),
                  p + "input_layernorm.weight": (d,), p + "post_attention_layernorm.weight": (d,)})
    s.update(_vision_shapes("model.vision_tower.vision_tower.", VISION["kept_layers"]))
    vd = VISION["hidden_size"]
    s.update({"model.mm_projector.0.weight": (d, vd), "model.mm_projector.0.bias": (d,),
              "model.mm_projector.2.weight": (d, d), "model.mm_projector.2.bias": (d,),
              "model.image_newline": (d,)})
    return s


def _vision_shapes(prefix: str, layers: int) -> dict[str, tuple[int, ...]]:
    vd, vf, p = VISION["hidden_size"], VISION["intermediate_size"], VISION["patch_size"]
    n = (VISION["image_size"] // p) ** 2
    v = prefix + "vision_model."
    s = {v + "embeddings.patch_embedding.weight": (vd, 3, p, p),
         v + "embeddings.patch_embedding.bias": (vd,),
         v + "embeddings.position_embedding.weight": (n, vd),
         v + "post_layernorm.weight": (vd,), v + "post_layernorm.bias": (vd,)}
    for i in range(layers):
        q = f"{v}encoder.layers.{i}."
        for lin, shape in (("self_attn.q_proj", (vd, vd)), ("self_attn.k_proj", (vd, vd)),
                           ("self_attn.v_proj", (vd, vd)), ("self_attn.out_proj", (vd, vd)),
                           ("mlp.fc1", (vf, vd)), ("mlp.fc2", (vd, vf))):
            s[f"{q}{lin}.weight"], s[f"{q}{lin}.bias"] = shape, (shape[0],)
        for ln in ("layer_norm1", "layer_norm2"):
            s[f"{q}{ln}.weight"], s[f"{q}{ln}.bias"] = (vd,), (vd,)
    return s


def _draw(shapes: dict[str, tuple[int, ...]], seed: int) -> dict:
    """Seeded tensors in sorted-name order: norms' weights near 1, the rest N(0, STD)."""
    import torch

    g = torch.Generator().manual_seed(seed)
    out = {}
    for name in sorted(shapes):
        t = torch.randn(shapes[name], generator=g, dtype=torch.float32)
        if "norm" in name and name.endswith(".weight"):
            t = 1.0 + 0.1 * t
        else:
            t = STD * t
        out[name] = t.contiguous()
    return out


def _write_siglip(hub: Path, seed: int) -> Path:
    """The tiny SigLIP under the released id in a hub-cache layout (HF_HUB_CACHE=hub)."""
    from safetensors.torch import save_file

    repo = hub / ("models--" + SIGLIP_ID.replace("/", "--"))
    snap = repo / "snapshots" / ("0" * 40)
    snap.mkdir(parents=True, exist_ok=True)
    (repo / "refs").mkdir(exist_ok=True)
    (repo / "refs" / "main").write_text("0" * 40)
    layers = VISION["kept_layers"] + 1
    cfg = {"model_type": "siglip_vision_model", "architectures": ["SiglipVisionModel"],
           "hidden_size": VISION["hidden_size"], "intermediate_size": VISION["intermediate_size"],
           "num_attention_heads": VISION["num_attention_heads"], "num_hidden_layers": layers,
           "image_size": VISION["image_size"], "patch_size": VISION["patch_size"],
           "num_channels": 3, "hidden_act": "gelu_pytorch_tanh", "layer_norm_eps": 1e-6,
           "attention_dropout": 0.0, "torch_dtype": "float32"}
    (snap / "config.json").write_text(json.dumps(cfg, indent=1))
    save_file(_draw(_vision_shapes("", layers), seed + 1), str(snap / "model.safetensors"),
              metadata={"format": "pt"})
    return snap


def build_lmms_checkpoint(root: Path, seed: int = 0) -> tuple[Path, Path]:
    """Write the lmms-lab-layout checkpoint under ``root``; returns (checkpoint, hub cache)."""
    from safetensors.torch import save_file

    root = Path(root)
    ckpt, hub = root / "lmms_llava_ov", root / "hub"
    for p in (ckpt, hub):
        if p.exists():
            shutil.rmtree(p)
    ckpt.mkdir(parents=True)
    _write_siglip(hub, seed)
    tok = _tokenizer()
    tok.save_pretrained(ckpt)
    vocab = len(tok)
    ids = tok.get_vocab()
    # transformers 4.49 (the reference) cannot read every field transformers 5 writes;
    # the tokenizer is tokenizer.json with this plain config, as a fast tokenizer.
    (ckpt / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>", "unk_token": "<unk>", "model_max_length": 32768,
        "padding_side": "right", "clean_up_tokenization_spaces": False}, indent=1))
    for extra in ("special_tokens_map.json", "chat_template.jinja"):
        (ckpt / extra).unlink(missing_ok=True)
    cfg = {
        "architectures": ["LlavaQwenForCausalLM"], "model_type": "llava_qwen",
        "vocab_size": vocab + VOCAB_PAD, **TEXT, "hidden_act": "silu",
        "max_position_embeddings": 4096, "rms_norm_eps": 1e-6, "rope_theta": 1000000.0,
        "tie_word_embeddings": False, "use_sliding_window": False, "sliding_window": 4096,
        "max_window_layers": TEXT["num_hidden_layers"], "attention_dropout": 0.0,
        "initializer_range": 0.02, "use_cache": True, "torch_dtype": "float32",
        "bos_token_id": ids["<|endoftext|>"], "eos_token_id": ids["<|im_end|>"],
        # the mm_* fields as lmms-lab/llava-onevision-qwen2-7b-ov has them
        "mm_vision_tower": SIGLIP_ID, "mm_hidden_size": VISION["hidden_size"],
        "mm_projector_type": "mlp2x_gelu", "mm_vision_select_layer": -2,
        "mm_vision_select_feature": "patch", "mm_patch_merge_type": "spatial_unpad",
        "mm_spatial_pool_mode": "bilinear", "mm_use_im_start_end": False,
        "mm_use_im_patch_token": False, "mm_projector_lr": None, "mm_vision_tower_lr": 2e-6,
        "mm_tunable_parts": "mm_vision_tower,mm_mlp_adapter,mm_language_model",
        "image_aspect_ratio": "anyres_max_9", "image_crop_resolution": None,
        "image_split_resolution": None, "image_grid_pinpoints": [[384, 384], [384, 768]],
        "tokenizer_model_max_length": 32768, "tokenizer_padding_side": "right",
        "use_mm_proj": True, "vision_tower_pretrained": None, "tune_mm_mlp_adapter": False,
        "freeze_mm_mlp_adapter": False, "unfreeze_mm_vision_tower": True,
    }
    (ckpt / "config.json").write_text(json.dumps(cfg, indent=1))
    (ckpt / "generation_config.json").write_text(json.dumps({
        "bos_token_id": cfg["bos_token_id"], "eos_token_id": cfg["eos_token_id"],
        "pad_token_id": ids["<|endoftext|>"], "do_sample": True, "temperature": 0.7,
        "top_p": 0.8, "top_k": 20, "repetition_penalty": inputs.REPETITION_PENALTY},
        indent=1))
    save_file(_draw(_shapes(vocab + VOCAB_PAD), seed), str(ckpt / "model.safetensors"),
              metadata={"format": "pt"})
    return ckpt, hub


def sampled_npys(root: Path) -> dict[str, Path]:
    """The 16 frames t2v_metrics reads from each clip file, as .npy frames arrays
    (``np.linspace(0, N - 1, 16, dtype=int)``; repeats kept)."""
    import numpy as np

    out = {}
    for i in range(len(inputs.CLIPS)):
        arr = inputs.clip_frames(i)
        idx = np.linspace(0, len(arr) - 1, NUM_FRAMES, dtype=int)
        out[f"clip{i}"] = Path(root) / f"clip{i}_llava_ov_sampled.npy"
        np.save(out[f"clip{i}"], arr[idx])
    return out


if __name__ == "__main__":
    out = Path(sys.argv[1])
    print(build_lmms_checkpoint(out))
    inputs.write_clips(out / "clips")
    print(sampled_npys(out / "clips"))

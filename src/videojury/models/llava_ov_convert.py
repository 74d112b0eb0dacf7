"""Convert an lmms-lab LLaVA-OneVision checkpoint (LLaVA-NeXT's layout) to transformers' own.

t2v_metrics scores LLaVA-OneVision with the LLaVA-NeXT repository's code on
the lmms-lab checkpoints (``lmms-lab/llava-onevision-qwen2-7b-ov``: a
``LlavaQwenForCausalLM`` folder whose vision tower is named by
``mm_vision_tower``). videojury runs the native
``LlavaOnevisionForConditionalGeneration`` (the ``llava-hf/...-ov-hf``
checkpoints of the model table); :func:`convert_lmms_llava_ov` writes such a
folder from an lmms-lab one, so either can be scored::

    python -m videojury.models.llava_ov_convert SRC DST [--vision-config DIR]

Key map (every key of the source must match one rule and every parameter of
the native model must be filled, else :class:`~videojury.errors.InputError`
names the key): ``model.{embed_tokens,layers,norm}.*`` ->
``model.language_model.*``; ``model.vision_tower.vision_tower.vision_model.*``
-> ``model.vision_tower.*`` (transformers 5's module names; ``save_pretrained``
writes its own on-disk names); ``model.mm_projector.{0,2}.*`` ->
``model.multi_modal_projector.linear_{1,2}.*``; ``model.image_newline`` and
``lm_head.weight`` keep their names (``lm_head`` is the embedding when the
config ties them); ``*.rotary_emb.inv_freq`` buffers are dropped. Tensors are
copied unchanged (same dtype).

The vision tower keeps the layers the checkpoint holds (LLaVA-NeXT drops the
last of SigLIP's 27, and reads the output of the last kept one:
``vision_feature_layer=-1``, all 729 patches, no pooling head). Its sizes come
from the tensors; the head count and norm epsilon from the SigLIP folder's
config (``vision_config=``, or ``mm_vision_tower`` when it is a local folder
or in the Hugging Face cache), else SigLIP-so400m's (16 heads, 1e-6) for a
1152-wide tower, with its 384-pixel input (27 patches of 14 a side, the last 6 pixels
unread). The tokenizer gets ``<image>`` and ``<video>`` as two new
special tokens after its own ids (the native model replaces them by features);
the text vocabulary is not resized when they fit in the checkpoint's
``vocab_size`` (Qwen2's has unused rows).

Only configurations whose video path the native class computes are accepted:
``mm_projector_type=mlp2x_gelu``, ``mm_spatial_pool_mode=bilinear`` (2x2,
ceil), ``mm_patch_merge_type`` with ``unpad`` and ``mm_newline_position``
``one_token`` (or absent: one newline embedding after all frames), no
``add_faster_video``, no im_start/im_end or im_patch tokens.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

from ..errors import InputError

SIGLIP_SO400M = {"num_attention_heads": 16, "layer_norm_eps": 1e-6,
                 "hidden_act": "gelu_pytorch_tanh", "image_size": 384}

_RULES = (
    (re.compile(r"^model\.vision_tower\.vision_tower\.vision_model\.(.+)$"),
     r"model.vision_tower.\1"),
    (re.compile(r"^model\.mm_projector\.0\.(weight|bias)$"), r"model.multi_modal_projector.linear_1.\1"),
    (re.compile(r"^model\.mm_projector\.2\.(weight|bias)$"), r"model.multi_modal_projector.linear_2.\1"),
    (re.compile(r"^model\.image_newline$"), "model.image_newline"),
    (re.compile(r"^model\.((?:embed_tokens|layers|norm)\..+)$"), r"model.language_model.\1"),
    (re.compile(r"^lm_head\.weight$"), "lm_head.weight"),
)


def native_key(key: str) -> str | None:
    """The native name of an lmms-lab key (None: a buffer that is dropped)."""
    if key.endswith(".rotary_emb.inv_freq"):
        return None
    for pat, repl in _RULES:
        if pat.match(key):
            return pat.sub(repl, key)
    raise InputError(f"lmms-lab checkpoint: tensor {key!r} has no place in "
                     "LlavaOnevisionForConditionalGeneration (not a LLaVA-OneVision checkpoint?)")


def check_lmms_config(cfg: dict[str, Any], where: str = "config.json") -> None:
    """Refuse lmms-lab configurations whose video path the native class does not compute."""
    if cfg.get("model_type") != "llava_qwen":
        raise InputError(f"{where}: model_type={cfg.get('model_type')!r}; an lmms-lab "
                         "LLaVA-OneVision checkpoint has model_type 'llava_qwen'")
    want = {"mm_projector_type": "mlp2x_gelu", "mm_spatial_pool_mode": "bilinear"}
    for k, v in want.items():
        if cfg.get(k) != v:
            raise InputError(f"{where}: {k}={cfg.get(k)!r}; only {v!r} is converted "
                             "(the native class computes that one)")
    if "unpad" not in str(cfg.get("mm_patch_merge_type", "")):
        raise InputError(f"{where}: mm_patch_merge_type={cfg.get('mm_patch_merge_type')!r} "
                         "adds no newline embedding; only spatial_unpad is converted")
    if cfg.get("mm_newline_position", "one_token") != "one_token":
        raise InputError(f"{where}: mm_newline_position={cfg['mm_newline_position']!r}; only "
                         "one_token (one newline after all frames) is converted")
    for k in ("add_faster_video", "mm_use_im_start_end"):
        if cfg.get(k):
            raise InputError(f"{where}: {k}=true is not converted")
    if cfg.get("mm_use_im_patch_token", True):
        raise InputError(f"{where}: mm_use_im_patch_token is not false (LLaVA-NeXT would add "
                         "an <im_patch> token); not converted")


def _read_state(src: Path) -> dict[str, Any]:
    from safetensors.torch import load_file

    files = sorted(src.glob("*.safetensors"))
    if not files:
        raise InputError(f"{src}: no .safetensors files (only safetensors checkpoints are read)")
    state: dict[str, Any] = {}
    for f in files:
        for k, v in load_file(str(f)).items():
            if k in state:
                raise InputError(f"{f}: tensor {k!r} is in two files")
            state[k] = v
    return state


def _vision_extra(cfg: dict[str, Any], hidden: int, vision_config: str | Path | None) -> dict:
    path: Path | None = Path(vision_config) if vision_config is not None else None
    if path is None:
        name = str(cfg.get("mm_vision_tower") or "")
        if name and Path(name).is_dir():
            path = Path(name)
        elif name:
            try:
                from huggingface_hub import try_to_load_from_cache

                from .checkpoints import hub_cache_dir

                hit = try_to_load_from_cache(name, "config.json", cache_dir=hub_cache_dir())
                path = Path(hit).parent if isinstance(hit, str) else None
            except Exception:  # noqa: BLE001 - no cache, no hub: use the defaults below
                path = None
    if path is not None:
        f = path / "config.json" if path.is_dir() else path
        if not f.is_file():
            raise InputError(f"vision_config={vision_config}: no config.json there")
        vc = json.loads(f.read_text())
        vc = vc.get("vision_config", vc)
        return {k: vc.get(k, SIGLIP_SO400M[k]) for k in SIGLIP_SO400M}
    if hidden != 1152:
        raise InputError(f"the vision tower ({cfg.get('mm_vision_tower')!r}, width {hidden}) is "
                         "not in the cache and not SigLIP-so400m; pass vision_config= (its folder)")
    return dict(SIGLIP_SO400M)


def convert_lmms_llava_ov(src: str | Path, dst: str | Path, *,
                          vision_config: str | Path | None = None) -> Path:
    """Write the native LLaVA-OneVision checkpoint of the lmms-lab folder ``src`` to ``dst``."""
    import torch
    from transformers import (AutoTokenizer, LlavaOnevisionConfig,
                              LlavaOnevisionForConditionalGeneration, LlavaOnevisionImageProcessor,
                              LlavaOnevisionProcessor, LlavaOnevisionVideoProcessor)

    from .tiny import _chat_template

    src, dst = Path(src), Path(dst)
    if not (src / "config.json").is_file():
        raise InputError(f"{src}: no config.json (not a checkpoint folder)")
    cfg = json.loads((src / "config.json").read_text())
    check_lmms_config(cfg, str(src / "config.json"))
    state = _read_state(src)
    tied = bool(cfg.get("tie_word_embeddings", False))
    native: dict[str, Any] = {}
    for k, v in state.items():
        nk = native_key(k)
        if nk is not None:
            native[nk] = v
    if tied:
        native.pop("lm_head.weight", None)

    vis = "model.vision_tower."
    try:
        patch = native[vis + "embeddings.patch_embedding.weight"]
        npos = native[vis + "embeddings.position_embedding.weight"].shape[0]
        fc1 = native[vis + "encoder.layers.0.mlp.fc1.weight"]
    except KeyError as e:
        raise InputError(f"{src}: the checkpoint holds no vision tower weights ({e.args[0]})") from None
    layers = 1 + max(int(m.group(1)) for k in native
                     if (m := re.match(re.escape(vis) + r"encoder\.layers\.(\d+)\.", k)))
    side = math.isqrt(npos)
    if side * side != npos:
        raise InputError(f"{src}: {npos} vision positions are not a square grid")
    hidden = int(patch.shape[0])
    vision = dict(model_type="siglip_vision_model", hidden_size=hidden,
                  intermediate_size=int(fc1.shape[0]), num_hidden_layers=layers,
                  patch_size=int(patch.shape[-1]), vision_use_head=False,
                  **_vision_extra(cfg, hidden, vision_config))
    if vision["image_size"] // vision["patch_size"] != side:
        raise InputError(f"{src}: {side}x{side} vision positions do not fit image_size="
                         f"{vision['image_size']} in {vision['patch_size']}-pixel patches")
    text_keys = ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                 "num_attention_heads", "num_key_value_heads", "hidden_act",
                 "max_position_embeddings", "rms_norm_eps", "tie_word_embeddings",
                 "use_sliding_window", "sliding_window", "max_window_layers",
                 "attention_dropout", "bos_token_id", "eos_token_id")
    text = {k: cfg[k] for k in text_keys if k in cfg}
    text.update(model_type="qwen2", rope_parameters={"rope_type": "default",
                                                     "rope_theta": float(cfg.get("rope_theta", 1e6))})

    tok = AutoTokenizer.from_pretrained(str(src))
    n_text = len(tok)
    tok.add_tokens(["<image>", "<video>"], special_tokens=True)
    image_id, video_id = tok.convert_tokens_to_ids(["<image>", "<video>"])
    if (image_id, video_id) != (n_text, n_text + 1):
        raise InputError(f"{src}: the tokenizer already knows <image>/<video>; not an lmms-lab "
                         "tokenizer")
    if n_text + 2 > int(cfg["vocab_size"]):
        raise InputError(f"{src}: vocab_size={cfg['vocab_size']} leaves no room for the "
                         f"<image> and <video> tokens after the tokenizer's {n_text}")
    config = LlavaOnevisionConfig(
        text_config=text, vision_config=vision, image_token_index=image_id,
        video_token_index=video_id, vision_feature_layer=-1,
        vision_feature_select_strategy="full", use_image_newline_parameter=True,
        image_grid_pinpoints=cfg.get("image_grid_pinpoints"),
        tie_word_embeddings=tied, projector_hidden_act="gelu",
    )
    with torch.device("meta"):
        shell = LlavaOnevisionForConditionalGeneration(config)
    want = {k: tuple(v.shape) for k, v in shell.state_dict().items()}
    if tied:
        want.pop("lm_head.weight", None)
    missing = sorted(set(want) - set(native))
    extra = sorted(set(native) - set(want))
    if missing or extra:
        raise InputError(f"{src}: the checkpoint does not fill the native model: missing "
                         f"{missing[:3]}, left over {extra[:3]}")
    for k, shape in want.items():
        if tuple(native[k].shape) != shape:
            raise InputError(f"{src}: tensor for {k} has shape {tuple(native[k].shape)}, the "
                             f"configuration needs {shape}")
    dst.mkdir(parents=True, exist_ok=True)
    dtype = next(iter(native.values())).dtype
    config.dtype = dtype
    shell.load_state_dict(native, strict=not tied, assign=True)
    if tied:
        shell.tie_weights()
    shell.eval()
    shell.save_pretrained(str(dst), safe_serialization=True)
    size = {"height": vision["image_size"], "width": vision["image_size"]}
    template = _chat_template({"video": "<video>\n", "image": "<image>\n"},
                              "You are a helpful assistant.")
    n_tokens = (vision["image_size"] // vision["patch_size"]) ** 2
    proc = LlavaOnevisionProcessor(
        image_processor=LlavaOnevisionImageProcessor(size=size, image_grid_pinpoints=cfg.get(
            "image_grid_pinpoints") or [[size["height"], size["width"]]]),
        video_processor=LlavaOnevisionVideoProcessor(size=size), tokenizer=tok,
        num_image_tokens=n_tokens, vision_feature_select_strategy="full",
        chat_template=template)
    proc.save_pretrained(str(dst))
    gen = src / "generation_config.json"
    if gen.is_file():
        (dst / "generation_config.json").write_text(gen.read_text())
    return dst


def main(argv: list[str] | None = None) -> int:
    import argparse

    ap = argparse.ArgumentParser(prog="python -m videojury.models.llava_ov_convert",
                                 description="lmms-lab LLaVA-OneVision -> native transformers")
    ap.add_argument("src")
    ap.add_argument("dst")
    ap.add_argument("--vision-config", default=None,
                    help="the SigLIP folder (or its config.json) the checkpoint names")
    a = ap.parse_args(argv)
    try:
        print(convert_lmms_llava_ov(a.src, a.dst, vision_config=a.vision_config))
    except InputError as e:
        print(f"error: {e}")
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""OpenGVLab's InternVL chat layout (``model_type: internvl_chat``) -> native transformers.

OpenGVLab ships InternVL2 / 2.5 / 3 (``OpenGVLab/InternVL3-8B`` etc.) as its own
remote code: ``InternVLChatModel`` with ``vision_model.*`` (InternViT),
``mlp1.*`` (the projector) and ``language_model.*`` (Qwen2, Llama or
InternLM2). transformers has the same network natively as
``InternVLForConditionalGeneration`` (the ``-hf`` repositories).
:func:`convert_folder` writes such a native folder from an original-layout one,
with strict key checks, so no remote code is needed to run it; the key
mapping is the one LOVE's loader uses (:mod:`videojury.models.love`, same
InternVL layout), renamed to the native class's prefixes.

:func:`build_tiny_chat` writes a small random checkpoint in OpenGVLab's layout
(tests and the ``vqascore:preset=t2v_metrics`` parity check).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from ..errors import MetricError
from . import love as _love

IMG_START, IMG_END, IMG_CONTEXT = _love.IMG_START, _love.IMG_END, _love.IMG_CONTEXT
VIDEO_TOKEN = "<video>"
# conversation.py's "internvl2_5" template (InternVL2.5 and InternVL3 name it in their
# config.json): ChatML with this default system message.
TEMPLATE_NAME = "internvl2_5"
TEMPLATE_SYSTEM = ("你是书生·万象，英文名是InternVL，是由上海人工智能实验室、清华大学及多家合作单位"
                   "联合开发的多模态大语言模型。")
# attributes written into the native config.json so the template survives conversion
CONFIG_TEMPLATE_KEY = "opengvlab_template"
CONFIG_SYSTEM_KEY = "opengvlab_system_message"


def native_config(cfg: Any, context_id: int, template: str | None, system: str | None):
    """The ``InternVLConfig`` of a read chat config (:func:`videojury.models.love.read_config`)."""
    from transformers import InternVLConfig

    extra = {}
    if template:
        extra[CONFIG_TEMPLATE_KEY] = template
    if system is not None:
        extra[CONFIG_SYSTEM_KEY] = system
    text = cfg.text.to_dict()
    return InternVLConfig(vision_config=cfg.vision.to_dict(), text_config=text,
                          downsample_ratio=cfg.downsample_ratio, projector_hidden_act="gelu",
                          vision_feature_layer=-1, vision_feature_select_strategy="default",
                          image_token_id=int(context_id), image_seq_length=cfg.num_image_token,
                          tie_word_embeddings=False, **extra)


def convert_state(sd: dict, cfg: Any) -> dict:
    """Original keys -> ``InternVLForConditionalGeneration``'s (``model.*``, ``lm_head.*``)."""
    bad = [k for k in sd if not k.startswith(("vision_model.", "mlp1.", "language_model."))]
    if bad:
        raise MetricError(f"checkpoint key {bad[0]!r} is not part of InternVL's chat model "
                          "(vision_model.*, mlp1.*, language_model.*)")
    conv, _ignored = _love.convert_state_dict(sd, cfg)
    out = {}
    for k, v in conv.items():
        out["model." + k[len("vlm."):] if k.startswith("vlm.") else k] = v
    return out


def _check_chat_config(folder: Path) -> dict:
    p = folder / "config.json"
    if not p.is_file():
        raise MetricError(f"{folder}: no config.json (an OpenGVLab InternVL folder has one)")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MetricError(f"{p}: not valid JSON ({exc})") from None
    if raw.get("model_type") != "internvl_chat":
        raise MetricError(f"{folder}: config.json names model_type {raw.get('model_type')!r}, "
                          "not OpenGVLab's 'internvl_chat'")
    for k in ("use_backbone_lora", "use_llm_lora"):
        if raw.get(k):
            raise MetricError(f"{folder}: {k}={raw[k]}: LoRA-wrapped checkpoints are not "
                              "converted (merge the LoRA first)")
    return raw


def convert_folder(src: str | Path, dst: str | Path) -> Path:
    """Write OpenGVLab's ``src`` folder as a native ``InternVLForConditionalGeneration`` folder.

    Every native parameter must come from the checkpoint and every checkpoint key
    must be used (rotary ``inv_freq`` buffers excepted). The tokenizer is copied
    with the image tokens named for transformers' ``InternVLProcessor``; the
    template name and system message go into ``config.json``
    (``opengvlab_template``, ``opengvlab_system_message``), and the processor gets a
    ChatML chat template with that system message by default (for videojury's other
    LMM metrics; the t2v_metrics preset builds its own text). The tokenizer must
    load without remote code (InternVL3 and the Qwen-based InternVL2.5 ship a
    Qwen2 tokenizer; InternLM2's needs its own code and is refused).
    """
    import torch
    from safetensors.torch import save_file
    from transformers import (AutoTokenizer, GotOcr2ImageProcessor,
                              InternVLForConditionalGeneration, InternVLProcessor)
    from transformers.models.internvl.video_processing_internvl import InternVLVideoProcessor

    from .tiny import _chat_template
    from .vqa.nets import state_mismatch

    src, dst = Path(src), Path(dst)
    raw = _check_chat_config(src)
    cfg = _love.read_config(src)
    named = {"start_image_token": IMG_START, "end_image_token": IMG_END,
             "context_image_token": IMG_CONTEXT, "video_token": VIDEO_TOKEN}
    try:
        tok = AutoTokenizer.from_pretrained(str(src), trust_remote_code=False,
                                            extra_special_tokens=named)
    except Exception as exc:  # noqa: BLE001 - one line for the user
        raise MetricError(f"{src}: the tokenizer does not load without remote code "
                          f"({str(exc).splitlines()[0] if str(exc) else exc})") from None
    vocab = tok.get_vocab()
    missing = [t for t in (IMG_START, IMG_END, IMG_CONTEXT) if t not in vocab]
    if missing:
        raise MetricError(f"{src}: the tokenizer has no {missing[0]} token")
    if len(tok) > cfg.text.vocab_size:
        raise MetricError(f"{src}: the tokenizer ({len(tok)} tokens with {VIDEO_TOKEN}, which "
                          "transformers' processor needs) outgrows the embeddings "
                          f"({cfg.text.vocab_size} rows)")
    sd = _love.read_weights(src)
    conv = convert_state(sd, cfg)
    ncfg = native_config(cfg, tok.convert_tokens_to_ids(IMG_CONTEXT), raw.get("template"),
                         raw.get("system_message"))
    with torch.device("meta"):
        probe = InternVLForConditionalGeneration(ncfg)
    parts = state_mismatch(probe.state_dict(), conv)
    if parts:
        raise MetricError(f"{src}: does not convert to InternVLForConditionalGeneration: "
                          + "; ".join(parts))
    dst.mkdir(parents=True, exist_ok=True)
    ncfg.architectures = ["InternVLForConditionalGeneration"]
    ncfg.save_pretrained(str(dst))
    save_file({k: v.contiguous() for k, v in conv.items()}, str(dst / "model.safetensors"),
              metadata={"format": "pt"})
    size = {"height": cfg.image_size, "width": cfg.image_size}
    system = raw.get("system_message")
    nl = "{{ '\\n' }}"  # Jinja's whitespace control would eat a literal newline
    chat = _chat_template({"video": VIDEO_TOKEN + nl, "image": "<image>" + nl},
                          TEMPLATE_SYSTEM if system is None else system)
    norm = {"image_mean": list(_love.IMAGENET_MEAN), "image_std": list(_love.IMAGENET_STD)}
    proc = InternVLProcessor(image_processor=GotOcr2ImageProcessor(size=size,
                                                                   crop_to_patches=False,
                                                                   **norm),
                             tokenizer=tok,
                             video_processor=InternVLVideoProcessor(size=size, **norm),
                             image_seq_length=cfg.num_image_token, chat_template=chat)
    proc.save_pretrained(str(dst))
    gen = src / "generation_config.json"
    if gen.is_file():
        shutil.copyfile(gen, dst / "generation_config.json")
    return dst


# --- a tiny random checkpoint in OpenGVLab's layout --------------------------------

TINY_WORDS = ("Does this figure show \" ? Please answer Yes or No . Frame : system user "
              "assistant a red car on the road cat sitting chair dog running video image "
              "yes no 0 1 2 3 4 5 6 7 8 9").split()
TINY_SPECIALS = ("<unk>", "<|endoftext|>", "<|im_start|>", "<|im_end|>",
                 *_love.EXTRA_TOKENS, VIDEO_TOKEN)
AUTO_MAP = {"AutoConfig": "configuration_internvl_chat.InternVLChatConfig",
            "AutoModel": "modeling_internvl_chat.InternVLChatModel",
            "AutoModelForCausalLM": "modeling_internvl_chat.InternVLChatModel"}


def _tiny_tokenizer(bos: bool = False):
    """A word-level tokenizer with Qwen2's and InternVL's special tokens (no BOS, as Qwen2;
    ``bos=True``: ``<s>`` put first, as InternLM2's tokenizer does), whose vocabulary holds
    the pieces of the template's system message."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import processors

    pre = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"[0-9]|[^\w\s]"), behavior="isolated"),
    ])
    sys_words = [w for w, _ in pre.pre_tokenize_str(TEMPLATE_SYSTEM)]
    specials = [*TINY_SPECIALS, "<s>"] if bos else list(TINY_SPECIALS)
    words = list(dict.fromkeys([*specials, *TINY_WORDS, *sys_words, "\n"]))
    vocab = {w: i for i, w in enumerate(words)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre
    tk.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    if bos:
        tk.post_processor = processors.TemplateProcessing(single="<s> $A",
                                                          special_tokens=[("<s>", vocab["<s>"])])
    return tk, vocab


def tiny_state(seed: int, vocab: int, image_size: int = 448, patch: int = 28) -> tuple:
    """(config.json dict, state dict in OpenGVLab's key layout) of a small random InternVL3
    (InternViT + mlp1 + Qwen2). Values from ``torch.Generator().manual_seed(seed)`` in key
    order."""
    import numpy as np
    import torch

    vit = dict(architectures=["InternVisionModel"], model_type="intern_vit_6b",
               hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
               intermediate_size=64, patch_size=patch, image_size=image_size, qkv_bias=True,
               qk_normalization=False, norm_type="layer_norm", layer_norm_eps=1e-6,
               hidden_act="gelu", initializer_factor=0.1, drop_path_rate=0.0,
               use_flash_attn=False)
    h, heads, kv, inter, layers = 64, 4, 2, 128, 2
    llm = dict(architectures=["Qwen2ForCausalLM"], model_type="qwen2", vocab_size=vocab,
               hidden_size=h, intermediate_size=inter, num_hidden_layers=layers,
               num_attention_heads=heads, num_key_value_heads=kv, hidden_act="silu",
               max_position_embeddings=4096, rms_norm_eps=1e-6, rope_theta=1000000.0,
               use_sliding_window=False, sliding_window=4096, tie_word_embeddings=False,
               bos_token_id=1, eos_token_id=3, torch_dtype="float32")
    config = dict(architectures=["InternVLChatModel"], model_type="internvl_chat",
                  auto_map=AUTO_MAP, downsample_ratio=0.5, force_image_size=image_size,
                  template=TEMPLATE_NAME, ps_version="v2", select_layer=-1,
                  dynamic_image_size=True, use_thumbnail=True, use_backbone_lora=0,
                  use_llm_lora=0, pad2square=False, min_dynamic_patch=1, max_dynamic_patch=12,
                  vision_config=vit, llm_config=llm, hidden_size=h, torch_dtype="float32")
    shapes = _love.vision_shapes(vit, image_size, patch, h)
    hd = h // heads
    shapes["language_model.model.embed_tokens.weight"] = (vocab, h)
    for i in range(layers):
        p = f"language_model.model.layers.{i}."
        shapes.update({p + "self_attn.q_proj.weight": (heads * hd, h),
                       p + "self_attn.q_proj.bias": (heads * hd,),
                       p + "self_attn.k_proj.weight": (kv * hd, h),
                       p + "self_attn.k_proj.bias": (kv * hd,),
                       p + "self_attn.v_proj.weight": (kv * hd, h),
                       p + "self_attn.v_proj.bias": (kv * hd,),
                       p + "self_attn.o_proj.weight": (h, heads * hd),
                       p + "mlp.gate_proj.weight": (inter, h), p + "mlp.up_proj.weight": (inter, h),
                       p + "mlp.down_proj.weight": (h, inter),
                       p + "input_layernorm.weight": (h,),
                       p + "post_attention_layernorm.weight": (h,)})
    shapes["language_model.model.norm.weight"] = (h,)
    shapes["language_model.lm_head.weight"] = (vocab, h)
    g = torch.Generator().manual_seed(seed)
    sd = {}
    for k, shp in shapes.items():
        n = int(np.prod(shp))
        fan_in = int(np.prod(shp[1:])) if len(shp) > 1 else 1
        if k.endswith(("norm.weight", "norm1.weight", "norm2.weight", "layernorm.weight",
                       "mlp1.0.weight")):
            v = 1.0 + 0.1 * torch.randn(n, generator=g)
        elif k.endswith(("ls1", "ls2")):
            v = 0.5 + 0.1 * torch.randn(n, generator=g)
        else:
            v = torch.randn(n, generator=g) * (_gain(k) / max(1.0, float(fan_in)) ** 0.5)
        sd[k] = v.reshape(shp).contiguous()
    return config, sd


def _gain(key: str) -> float:
    # Sharper attention and logits than a 1/sqrt(fan_in) draw, so the score moves with the
    # frames and the prompt (P(Yes) 6e-4 .. 2e-3 on the parity clips instead of 0.007 +- 1e-5).
    if key.endswith(("q_proj.weight", "k_proj.weight", "lm_head.weight")):
        return 4.0
    if key.startswith("vision_model.") and key.endswith("qkv.weight"):
        return 3.0
    return 1.0


def build_tiny_chat(path: str | Path, seed: int = 0, bos: bool = False) -> Path:
    """Write a small random InternVL3 in OpenGVLab's layout: config.json (with the hub's
    ``auto_map``; the modeling files themselves are not written), model.safetensors,
    tokenizer.json + tokenizer_config.json. ``bos=True``: the tokenizer puts ``<s>`` first
    (as InternLM2's, in InternVL2/2.5-2B/8B/26B), so ``encode("Yes")[0]`` is that BOS."""
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tk, vocab = _tiny_tokenizer(bos)
    config, sd = tiny_state(seed, len(vocab))
    (path / "config.json").write_text(json.dumps(config, indent=1, ensure_ascii=False),
                                      encoding="utf-8")
    save_file(sd, str(path / "model.safetensors"), metadata={"format": "pt"})
    tk.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "eos_token": "<|im_end|>",
        "pad_token": "<|endoftext|>", "unk_token": "<unk>", "model_max_length": 8192}),
        encoding="utf-8")
    (path / "special_tokens_map.json").write_text(json.dumps({
        "eos_token": "<|im_end|>", "pad_token": "<|endoftext|>", "unk_token": "<unk>"}),
        encoding="utf-8")
    return path


def main(argv: list[str] | None = None) -> int:
    """``python -m videojury.models.internvl_chat SRC DST``: convert an OpenGVLab folder."""
    import sys

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m videojury.models.internvl_chat SRC DST  (SRC: an OpenGVLab "
              "InternVL folder, model_type internvl_chat; DST: the native folder to write)",
              file=sys.stderr)
        return 2
    try:
        out = convert_folder(args[0], args[1])
    except MetricError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(out)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

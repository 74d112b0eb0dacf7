"""LOVE's released evaluators (IntMeGroup/LOVE) on native transformers classes.

LOVE-Perception, LOVE-Correspondence and LOVE-QA are one architecture
(``InternVLChatModel`` of LOVE's ``model/internvl_chat_infer``), saved with
``save_pretrained`` in InternVL's original layout:

* ``vision_model.*``: InternViT (fused ``attn.qkv``, ``ls1``/``ls2``) ->
  transformers' ``InternVLVisionModel`` (q/k/v split, ``lambda_1``/``lambda_2``);
* ``mlp1.{0,1,3}``: the projector -> ``InternVLMultiModalProjector``;
* ``language_model.*``: InternLM2 (fused ``wqkv`` in grouped layout
  ``(kv_heads, q_per_kv + 2, head_dim)``, ``w1/w3/w2``) -> ``LlamaModel`` +
  ``lm_head`` (same math: RMSNorm, SwiGLU, rotary on half-split dims, GQA);
  a Llama or Qwen2 LLM is taken as it is;
* ``evaluator.fragments_backbone.*``: FAST-VQA's fragment Swin3D ->
  :class:`videojury.models.vqa.nets.FragmentSwin3D` (own code);
* ``fast_mlp.*`` (LayerNorm -> Linear -> GELU -> Linear) and ``mlpscore.*``
  (five Linear layers, ReLU after each, the last included): own code.

``temporal.pth`` (``{"state_dict": {"fragments_backbone.*"}}``) is what LOVE
loads into the evaluator before ``from_pretrained`` overwrites it with the
checkpoint's copy; it is read here only for keys the checkpoint lacks.
``lora_weights.pth`` is loaded over the checkpoint as LOVE does
(``load_state_dict(strict=False)``: keys the model does not have are ignored,
so LoRA factors count only when the config wraps the model with LoRA, and
are then merged with LOVE's scaling ``lora_alpha / r = 2``). Every parameter
of the converted model must be filled and every checkpoint key used
(strict), apart from the ignored ones, which the load note counts.

Nothing here needs remote code except, for the released folders, the
tokenizer (InternLM2's ``tokenization_internlm2.py``): see
:func:`load_tokenizer`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import MetricError

IMG_START, IMG_END, IMG_CONTEXT = "<img>", "</img>", "<IMG_CONTEXT>"
EXTRA_TOKENS = (IMG_START, IMG_END, IMG_CONTEXT, "<quad>", "</quad>", "<ref>", "</ref>",
                "<box>", "</box>")
# conversation.py, template "internlm2-chat" (the shell scripts' --conv_style)
SYSTEM = ("你是由上海人工智能实验室联合商汤科技开发的书生多模态大模型，英文名叫InternVL, "
          "是一个有用无害的人工智能助手。")
# train/infer_perception.py, infer_correspondence.py: the question and the
# (teacher-forced) answer of each aspect; eval_qa.py takes both from its data.
PROMPTS = {
    "perception": ("How is the quality of the video?", "The quality of the video is good."),
    "correspondence": ("How would you rate the correspondence of this video and its prompt? "
                       "prompt:{prompt}",
                       "The correspondence of the video and its prompt is good."),
}
QA_ANSWER = "Yes"  # placeholder answer after the question (see build_text)
N_FRAMES = 8
N_MOTION = 4
LOVE_RESIZE = 448  # dynamic_preprocess(image_size=448) in load_video, before the transform
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
LORA_SCALE = 2.0  # wrap_*_lora: lora_alpha = 2 * r


def build_text(question: str, answer: str, num_image_token: int) -> str:
    """The token text LOVE's ``video_get_item`` + ``preprocess_internlm`` feed the tokenizer.

    Eight ``FrameK: <image>`` lines, ``Motion Feature: <image>x4`` and
    ``Motion Feature2: <image>`` go before the question (no newline between);
    the first twelve ``<image>`` become ``<img><IMG_CONTEXT>*n</img>`` (256
    context tokens per frame at 448 px, one per motion slot) and the
    thirteenth stays as text, as in LOVE's code. The answer follows the
    assistant role, then ``<|im_end|>``.
    """
    special = "\n".join(f"Frame{i + 1}: <image>" for i in range(N_FRAMES))
    special += "\nMotion Feature: " + "<image>" * N_MOTION + "\nMotion Feature2: <image>"
    user = (special + question).strip()
    text = (f"<|im_start|>system\n{SYSTEM}<|im_end|><|im_start|>user\n{user}<|im_end|>"
            f"<|im_start|>assistant\n{answer.strip()}<|im_end|>")
    counts = [num_image_token] * N_FRAMES + [1] * N_MOTION
    for n in counts:
        text = text.replace("<image>", f"{IMG_START}{IMG_CONTEXT * n}{IMG_END}", 1)
    return text


def answer_start(text: str) -> int:
    """Character offset of the answer (after the last assistant role)."""
    return text.rindex("<|im_start|>assistant\n") + len("<|im_start|>assistant\n")


def frame_pixels(frame: np.ndarray, image_size: int):
    """One frame as LOVE's ``load_video`` + ``build_transform(False)`` make it.

    PIL resize to 448x448 (PIL's default bicubic, ``dynamic_preprocess`` with
    one tile), then torchvision's ``Resize((s, s), BICUBIC)`` (a PIL resize; no
    change when ``s`` is 448), ``ToTensor`` and ImageNet normalisation.
    """
    import torch
    from PIL import Image

    img = Image.fromarray(np.ascontiguousarray(frame)).convert("RGB")
    img = img.resize((LOVE_RESIZE, LOVE_RESIZE), Image.Resampling.BICUBIC)
    if image_size != LOVE_RESIZE:
        img = img.resize((image_size, image_size), Image.Resampling.BICUBIC)
    t = torch.from_numpy(np.asarray(img, dtype=np.uint8).copy()).permute(2, 0, 1)
    t = t.float().div(255)
    mean = torch.tensor(IMAGENET_MEAN).view(3, 1, 1)
    std = torch.tensor(IMAGENET_STD).view(3, 1, 1)
    return t.sub(mean).div(std)


# --- configuration ----------------------------------------------------------------

@dataclass
class LoveConfig:
    raw: dict
    vision: Any  # InternVLVisionConfig
    text: Any  # LlamaConfig / Qwen2Config
    llm_arch: str
    image_size: int
    downsample_ratio: float
    num_image_token: int
    lora: dict = field(default_factory=dict)  # {"vision_model": r, "language_model": r}


def read_config(folder: Path) -> LoveConfig:
    from transformers import InternVLVisionConfig, LlamaConfig, Qwen2Config

    p = folder / "config.json"
    if not p.is_file():
        raise MetricError(f"{folder}: no config.json; a LOVE folder (anonymousdb/LOVE-Perception, "
                          "-Correspondence, -QA) has one")
    try:
        raw = json.loads(p.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise MetricError(f"{p}: not valid JSON ({exc})") from None
    if raw.get("model_type") != "internvl_chat" or "llm_config" not in raw:
        raise MetricError(f"{folder}: config.json names model_type "
                          f"{raw.get('model_type')!r}, not LOVE's internvl_chat layout")
    v, t = raw.get("vision_config") or {}, raw["llm_config"]
    if raw.get("ps_version", "v2") != "v2":
        raise MetricError(f"{folder}: ps_version {raw.get('ps_version')!r}; only 'v2' (LOVE's) "
                          "is supported")
    if int(raw.get("select_layer", -1)) != -1:
        raise MetricError(f"{folder}: select_layer {raw.get('select_layer')}; LOVE uses -1")
    size = int(raw.get("force_image_size") or v.get("image_size", 448))
    if int(v.get("image_size", size)) != size:
        raise MetricError(f"{folder}: vision image_size {v.get('image_size')} differs from "
                          f"force_image_size {size} (position-embedding resizing is not "
                          "supported)")
    vision = InternVLVisionConfig(
        hidden_size=v["hidden_size"], num_hidden_layers=v["num_hidden_layers"],
        num_attention_heads=v["num_attention_heads"], intermediate_size=v["intermediate_size"],
        attention_bias=bool(v.get("qkv_bias", True)), use_qk_norm=bool(v.get("qk_normalization")),
        norm_type=v.get("norm_type", "layer_norm"), layer_norm_eps=v.get("layer_norm_eps", 1e-6),
        image_size=[size, size], patch_size=[v["patch_size"], v["patch_size"]],
        hidden_act=v.get("hidden_act", "gelu"), use_mean_pooling=True,
        use_absolute_position_embeddings=True, num_channels=v.get("num_channels", 3))
    arch = (t.get("architectures") or ["InternLM2ForCausalLM"])[0]
    common = dict(vocab_size=t["vocab_size"], hidden_size=t["hidden_size"],
                  intermediate_size=t["intermediate_size"],
                  num_hidden_layers=t["num_hidden_layers"],
                  num_attention_heads=t["num_attention_heads"],
                  num_key_value_heads=t.get("num_key_value_heads") or t["num_attention_heads"],
                  hidden_act=t.get("hidden_act", "silu"),
                  max_position_embeddings=t.get("max_position_embeddings", 32768),
                  rms_norm_eps=t.get("rms_norm_eps", 1e-6), tie_word_embeddings=False,
                  rope_parameters=_rope(t))
    if arch == "InternLM2ForCausalLM":
        text = LlamaConfig(attention_bias=bool(t.get("bias", False)), mlp_bias=False, **common)
    elif arch == "LlamaForCausalLM":
        text = LlamaConfig(attention_bias=bool(t.get("attention_bias", False)), **common)
    elif arch == "Qwen2ForCausalLM":
        text = Qwen2Config(**common)
    else:
        raise MetricError(f"{folder}: LLM architecture {arch} is not one LOVE's code builds "
                          "(InternLM2ForCausalLM, LlamaForCausalLM)")
    ratio = float(raw.get("downsample_ratio", 0.5))
    n_tok = int((size // int(v["patch_size"])) ** 2 * ratio ** 2)
    lora = {"vision_model": int(raw.get("use_backbone_lora") or 0),
            "language_model": int(raw.get("use_llm_lora") or 0)}
    return LoveConfig(raw, vision, text, arch, size, ratio, n_tok, lora)


def _rope(t: dict) -> dict:
    theta = float(t.get("rope_theta", 10000.0))
    rs = t.get("rope_scaling")
    if not rs:
        return {"rope_type": "default", "rope_theta": theta}
    kind = rs.get("type") or rs.get("rope_type")
    if kind not in ("dynamic", "linear"):
        raise MetricError(f"rope_scaling type {kind!r} is not one InternLM2 has")
    # InternLM2's dynamic NTK (base * (f*L/Lmax - (f-1))^(d/(d-2)) past Lmax) is
    # transformers' "dynamic" rope; below max_position_embeddings both are plain rope.
    return {"rope_type": kind, "factor": float(rs["factor"]), "rope_theta": theta}


# --- weights ----------------------------------------------------------------------

def _load_pth(path: Path) -> dict:
    """A ``.pth`` read weights-only (its ``state_dict`` when wrapped): the VQA nets' reader."""
    from .vqa.nets import _read

    return _read(path)


def read_weights(folder: Path) -> dict:
    """The checkpoint's state dict: ``*.safetensors`` (else ``pytorch_model*.bin``, weights only)."""
    from safetensors.torch import load_file

    files = sorted(folder.glob("*.safetensors"))
    sd: dict = {}
    if files:
        for f in files:
            sd.update(load_file(str(f)))
        return sd
    bins = sorted(folder.glob("pytorch_model*.bin"))
    if not bins:
        raise MetricError(f"{folder}: no weights (*.safetensors or pytorch_model*.bin)")
    for f in bins:
        sd.update(_load_pth(f))
    return sd


def merge_lora(sd: dict, scale: float = LORA_SCALE) -> dict:
    """Fold peft LoRA factors into their base weights and drop peft's key prefixes.

    ``X.base_layer.weight`` + ``scale * X.lora_B.default.weight @
    X.lora_A.default.weight`` -> ``X.weight``; ``.base_model.model.`` is removed.
    """
    out = {}
    for k, v in sd.items():
        if ".lora_A." in k or ".lora_B." in k:
            continue
        out[k.replace(".base_layer.", ".")] = v
    for k, a in sd.items():
        m = re.match(r"(.*)\.lora_A\.(\w+)\.weight$", k)
        if not m:
            continue
        b = sd.get(f"{m.group(1)}.lora_B.{m.group(2)}.weight")
        if b is None:
            raise MetricError(f"LoRA factor {k} has no lora_B partner")
        target = m.group(1) + ".weight"
        if target not in out:
            raise MetricError(f"LoRA factor {k} has no base weight {target}")
        w = out[target]
        out[target] = (w.float() + scale * (b.float() @ a.float())).to(w.dtype)
    return {k.replace(".base_model.model.", "."): v for k, v in out.items()}


def _split_wqkv(w, kv_heads: int, groups: int, head_dim: int):
    rest = w.shape[1:]
    g = w.reshape(kv_heads, groups + 2, head_dim, *rest)
    q = g[:, :groups].reshape(kv_heads * groups * head_dim, *rest)
    k = g[:, groups].reshape(kv_heads * head_dim, *rest)
    v = g[:, groups + 1].reshape(kv_heads * head_dim, *rest)
    return q, k, v


_VIT = [(r"embeddings\.class_embedding$", "embeddings.cls_token"),
        (r"embeddings\.patch_embedding\.(\w+)$", r"embeddings.patch_embeddings.projection.\1"),
        (r"embeddings\.position_embedding$", "embeddings.position_embeddings"),
        (r"encoder\.layers\.(\d+)\.attn\.proj\.(\w+)$", r"encoder.layer.\1.attention.projection_layer.\2"),
        (r"encoder\.layers\.(\d+)\.attn\.(q_norm|k_norm)\.(\w+)$", r"encoder.layer.\1.attention.\2.\3"),
        (r"encoder\.layers\.(\d+)\.mlp\.(fc1|fc2)\.(\w+)$", r"encoder.layer.\1.mlp.\2.\3"),
        (r"encoder\.layers\.(\d+)\.norm1\.(\w+)$", r"encoder.layer.\1.layernorm_before.\2"),
        (r"encoder\.layers\.(\d+)\.norm2\.(\w+)$", r"encoder.layer.\1.layernorm_after.\2"),
        (r"encoder\.layers\.(\d+)\.ls1$", r"encoder.layer.\1.lambda_1"),
        (r"encoder\.layers\.(\d+)\.ls2$", r"encoder.layer.\1.lambda_2")]
_LM = [(r"model\.tok_embeddings\.weight$", "embed_tokens.weight"),
       (r"model\.norm\.weight$", "norm.weight"),
       (r"model\.layers\.(\d+)\.attention\.wo\.(\w+)$", r"layers.\1.self_attn.o_proj.\2"),
       (r"model\.layers\.(\d+)\.feed_forward\.w1\.weight$", r"layers.\1.mlp.gate_proj.weight"),
       (r"model\.layers\.(\d+)\.feed_forward\.w3\.weight$", r"layers.\1.mlp.up_proj.weight"),
       (r"model\.layers\.(\d+)\.feed_forward\.w2\.weight$", r"layers.\1.mlp.down_proj.weight"),
       (r"model\.layers\.(\d+)\.attention_norm\.weight$", r"layers.\1.input_layernorm.weight"),
       (r"model\.layers\.(\d+)\.ffn_norm\.weight$", r"layers.\1.post_attention_layernorm.weight")]


def _rename(rules, k: str) -> str | None:
    for pat, rep in rules:
        if re.match(pat, k):
            return re.sub(pat, rep, k)
    return None


def convert_state_dict(sd: dict, cfg: LoveConfig) -> tuple[dict, list[str]]:
    """LOVE's keys -> this module's (:class:`LoveModel`); returns (converted, ignored keys)."""
    from .vqa.nets import convert_swin_keys

    out: dict = {}
    ignored: list[str] = []
    t = cfg.text
    kv = t.num_key_value_heads
    groups = t.num_attention_heads // kv
    head_dim = t.hidden_size // t.num_attention_heads
    heads_v = cfg.vision.num_attention_heads
    for k, v in sd.items():
        if k.endswith(("rotary_emb.inv_freq", "relative_position_index")):
            ignored.append(k)
            continue
        if k.startswith("vision_model."):
            sub = k[len("vision_model."):]
            m = re.match(r"encoder\.layers\.(\d+)\.attn\.qkv\.(\w+)$", sub)
            if m:
                q, kk, vv = v.chunk(3, dim=0)
                base = f"vlm.vision_tower.encoder.layer.{m.group(1)}.attention."
                for name, part in (("q_proj", q), ("k_proj", kk), ("v_proj", vv)):
                    out[f"{base}{name}.{m.group(2)}"] = part.contiguous()
                continue
            new = _rename(_VIT, sub)
            if new is None:
                raise MetricError(f"checkpoint key {k!r} has no place in InternViT")
            out["vlm.vision_tower." + new] = v
        elif k.startswith("mlp1."):
            idx = {"0": "layer_norm", "1": "linear_1", "3": "linear_2"}
            parts = k.split(".")
            if parts[1] not in idx:
                raise MetricError(f"checkpoint key {k!r} has no place in the projector")
            out[f"vlm.multi_modal_projector.{idx[parts[1]]}.{parts[2]}"] = v
        elif k.startswith("language_model."):
            sub = k[len("language_model."):]
            if cfg.llm_arch != "InternLM2ForCausalLM":
                if sub.startswith("lm_head."):
                    out[sub] = v
                elif sub.startswith("model."):
                    out["vlm.language_model." + sub[len("model."):]] = v
                else:
                    raise MetricError(f"checkpoint key {k!r} has no place in the LLM")
                continue
            if sub.startswith("output."):
                out["lm_head." + sub[len("output."):]] = v
                continue
            m = re.match(r"model\.layers\.(\d+)\.attention\.wqkv\.(\w+)$", sub)
            if m:
                q, kk, vv = _split_wqkv(v, kv, groups, head_dim)
                base = f"vlm.language_model.layers.{m.group(1)}.self_attn."
                for name, part in (("q_proj", q), ("k_proj", kk), ("v_proj", vv)):
                    out[f"{base}{name}.{m.group(2)}"] = part.contiguous()
                continue
            new = _rename(_LM, sub)
            if new is None:
                raise MetricError(f"checkpoint key {k!r} has no place in InternLM2")
            out["vlm.language_model." + new] = v
        elif k.startswith(("fast_mlp.", "mlpscore.")):
            out[k] = v
        elif k.startswith("evaluator."):
            if not k.startswith("evaluator.fragments_backbone."):
                raise MetricError(f"checkpoint key {k!r} has no place in LOVE's evaluator")
        else:
            raise MetricError(f"checkpoint key {k!r} is not part of LOVE's model")
    del heads_v
    swin = {k: v for k, v in sd.items() if k.startswith("evaluator.fragments_backbone.")}
    out.update(convert_swin_keys(swin, "evaluator.fragments_backbone.", "temporal."))
    return out, ignored


def love_keys_of(sd: dict, cfg: LoveConfig) -> dict:
    """Drop the keys LOVE's ``strict=False`` load of ``lora_weights.pth`` would ignore."""
    keep = {}
    for k, v in sd.items():
        top = k.split(".", 1)[0]
        peft = (".lora_A." in k or ".lora_B." in k or ".base_layer." in k
                or ".base_model.model." in k)
        if peft and not cfg.lora.get(top):
            continue
        keep[k] = v
    return keep


# --- the model --------------------------------------------------------------------

def _torch_modules():
    import torch
    from torch import nn

    class ScoreMLP(nn.Module):
        """LOVE's ``MLP``: hidden -> 1024 -> 256 -> 64 -> 16 -> 1, ReLU after each layer."""

        def __init__(self, dim: int) -> None:
            super().__init__()
            self.fc1 = nn.Linear(dim, 1024)
            self.fc2 = nn.Linear(1024, 256)
            self.fc3 = nn.Linear(256, 64)
            self.fc4 = nn.Linear(64, 16)
            self.fc5 = nn.Linear(16, 1)

        def forward(self, x):
            for fc in (self.fc1, self.fc2, self.fc3, self.fc4, self.fc5):
                x = torch.relu(fc(x))
            return x

    return ScoreMLP


class LoveModel:
    """Namespace for :func:`build_model`'s module (kept lazy: no torch at import)."""


def build_model(cfg: LoveConfig, swin_size: dict):
    import torch
    from torch import nn
    from transformers import InternVLConfig, InternVLModel

    from .vqa.nets import FragmentSwin3D

    ScoreMLP = _torch_modules()
    hidden = cfg.text.hidden_size

    class _Love(nn.Module):
        def __init__(self) -> None:
            super().__init__()
            ivl = InternVLConfig(vision_config=cfg.vision.to_dict(),
                                 text_config=cfg.text.to_dict(),
                                 downsample_ratio=cfg.downsample_ratio,
                                 projector_hidden_act="gelu", vision_feature_layer=-1,
                                 vision_feature_select_strategy="default")
            self.vlm = InternVLModel(ivl)
            self.lm_head = nn.Linear(hidden, cfg.text.vocab_size, bias=False)
            feat = swin_size["embed_dim"] * 2 ** (len(swin_size["depths"]) - 1)
            self.fast_mlp = nn.Sequential(nn.LayerNorm(feat), nn.Linear(feat, hidden), nn.GELU(),
                                          nn.Linear(hidden, hidden))
            self.mlpscore = ScoreMLP(hidden)
            self.temporal = FragmentSwin3D(**swin_size)

    with torch.device("meta"):
        probe = _Love()
    return _Love, probe


@dataclass
class LoadedLove:
    net: Any
    cfg: LoveConfig
    tokenizer: Any
    context_id: int
    notes: list[str]
    device: str
    dtype: Any


def load_tokenizer(folder: Path, trust_remote_code: bool):
    """The folder's tokenizer; LOVE's own (InternLM2, remote code) only with the user's flag."""
    from transformers import AutoTokenizer

    try:
        return AutoTokenizer.from_pretrained(str(folder), trust_remote_code=trust_remote_code,
                                             use_fast=None if trust_remote_code else True)
    except Exception as exc:  # noqa: BLE001 - report one line
        cfg_p = folder / "tokenizer_config.json"
        custom = cfg_p.is_file() and "auto_map" in cfg_p.read_text(encoding="utf-8")
        if custom and not trust_remote_code:
            raise MetricError(f"{folder}: the tokenizer is InternLM2's own code "
                              "(tokenization_internlm2.py in the folder); only it runs as remote "
                              "code (the model itself is converted to native classes). Pass "
                              "trust_remote_code=true (videojury score --trust-remote-code) "
                              "to allow it") from None
        raise MetricError(f"{folder}: cannot load the tokenizer "
                          f"({str(exc).splitlines()[0] if str(exc) else exc})") from None


def load_love(folder: str | Path, device: str = "cpu", dtype: Any = None,
              trust_remote_code: bool = False) -> LoadedLove:
    """A LOVE folder converted into native modules (strict), with its tokenizer."""
    import torch

    from .vqa.nets import _swin_size, state_mismatch

    folder = Path(folder)
    cfg = read_config(folder)
    notes: list[str] = []
    sd = read_weights(folder)
    if not any(k.startswith("evaluator.fragments_backbone.") for k in sd):
        tp = folder / "temporal.pth"
        if not tp.is_file():
            raise MetricError(f"{folder}: the checkpoint has no evaluator.fragments_backbone.* "
                              "weights and there is no temporal.pth next to it")
        sd.update({"evaluator." + k: v for k, v in _load_pth(tp).items()
                   if k.startswith("fragments_backbone.")})
        notes.append("temporal branch from temporal.pth")
    lp = folder / "lora_weights.pth"
    if lp.is_file():
        extra = _load_pth(lp)
        kept = love_keys_of(extra, cfg)
        if len(kept) < len(extra):
            notes.append(f"lora_weights.pth: {len(extra) - len(kept)} LoRA keys ignored as "
                         "LOVE's strict=False load ignores them (the config wraps no LoRA)")
        sd.update(kept)
        notes.append(f"lora_weights.pth: {len(kept)} tensors loaded over the checkpoint")
    if any(".lora_A." in k for k in sd):
        sd = merge_lora(sd)
        notes.append("LoRA merged (scale lora_alpha/r = 2)")
    else:
        sd = {k.replace(".base_model.model.", ".").replace(".base_layer.", "."): v
              for k, v in sd.items()}
    try:
        swin = _swin_size(sd, "evaluator.fragments_backbone.")
    except (KeyError, MetricError) as exc:
        raise MetricError(f"{folder}: LOVE's temporal branch is not a FAST-VQA Swin3D ({exc})") \
            from None
    conv, ignored = convert_state_dict(sd, cfg)
    cls, probe = build_model(cfg, swin)
    parts = state_mismatch(probe.state_dict(), conv)
    if parts:
        raise MetricError(f"{folder}: not a LOVE checkpoint: " + "; ".join(parts))
    dt = dtype or torch.float32
    net = cls()
    net.load_state_dict({k: v.to(torch.float32) for k, v in conv.items()}, strict=True)
    net = net.to(device=device, dtype=dt).eval()
    tok = load_tokenizer(folder, trust_remote_code)
    ctx = tok.convert_tokens_to_ids(IMG_CONTEXT)
    if ctx is None or ctx == tok.unk_token_id:
        raise MetricError(f"{folder}: the tokenizer has no {IMG_CONTEXT} token")
    if ignored:
        notes.append(f"{len(ignored)} rebuilt buffers ignored (rotary inv_freq, "
                     "relative_position_index)")
    return LoadedLove(net, cfg, tok, int(ctx), notes, device, dt)


def forward(m: LoadedLove, pixels, clips, text: str) -> dict[str, Any]:
    """One video through LOVE's ``InternVLChatModel.forward``.

    ``pixels`` (8, 3, S, S), ``clips`` (4, 3, 32, 224, 224). The frame
    features fill the ``<IMG_CONTEXT>`` slots in order, except the last one
    and the three 3, 6 and 9 positions before it, which take the four motion
    features (LOVE's ``last_true_mask``). Returns the score (``mlpscore`` on
    the final-norm hidden state at position -4) and the next-token logits at
    the position before the answer.
    """
    import torch

    net, dev, dt = m.net, m.device, m.dtype
    enc = m.tokenizer(text, return_tensors="pt")
    ids = enc["input_ids"].to(dev)
    start = answer_start(text)
    n_prompt = len(m.tokenizer(text[:start])["input_ids"])
    with torch.inference_mode():
        vit = net.vlm.get_image_features(pixels.to(dev, dt), vision_feature_layer=-1,
                                         vision_feature_select_strategy="default").pooler_output
        # one clip at a time (LOVE runs the four as one batch; the same per-clip math,
        # a quarter of the activation memory)
        feats = torch.cat([net.temporal(c[None].to(dev, dt)).mean((-3, -2, -1))
                           for c in clips])
        fast = net.fast_mlp(feats)
        emb = net.vlm.language_model.get_input_embeddings()(ids).clone()
        sel = (ids[0] == m.context_id)
        pos = torch.nonzero(sel).flatten()
        if len(pos) == 0:
            raise MetricError("the prompt has no image-context tokens")
        last = int(pos[-1])
        motion = torch.tensor([last - 9, last - 6, last - 3, last], device=dev)
        frame_mask = sel.clone()
        frame_mask[motion] = False
        hid = emb.shape[-1]
        vit = vit.reshape(-1, hid)
        if int(frame_mask.sum()) != vit.shape[0]:
            raise MetricError(f"the prompt has {int(frame_mask.sum())} frame slots for "
                              f"{vit.shape[0]} frame features")
        emb[0, frame_mask] = vit.to(emb.dtype)
        emb[0, motion] = fast.reshape(-1, hid).to(emb.dtype)
        out = net.vlm.language_model(inputs_embeds=emb, attention_mask=torch.ones_like(ids),
                                     use_cache=False)
        h = out.last_hidden_state
        x = torch.nan_to_num(h[:, -4, :], nan=0.0, posinf=1e9, neginf=-1e9)
        score = net.mlpscore(x).squeeze(1)
        logits = net.lm_head(h[0, n_prompt - 1]).float()
    return {"score": float(score[0].float()), "logits": logits.cpu(), "ids": ids[0].cpu()}


# --- a tiny random checkpoint in LOVE's layout (tests, parity) ---------------------

TINY_WORDS = ("How is the quality of the video ? would you rate correspondence this and its "
              "prompt : good . Frame Motion Feature Feature2 1 2 3 4 5 6 7 8 Yes No yes no a "
              "cat dog running red car on road is there Is Does show Please answer or").split()


def tiny_tokenizer():
    """A word-level fast tokenizer with InternLM2's specials (``<s>`` prepended)."""
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, pre_tokenizers
    from tokenizers import processors
    from transformers import PreTrainedTokenizerFast

    specials = ["<unk>", "<s>", "</s>", "<|im_start|>", "<|im_end|>", *EXTRA_TOKENS]
    words = specials + [w for w in dict.fromkeys(TINY_WORDS + ["\n", "system", "user",
                                                               "assistant", "<", ">",
                                                               "image"])]
    vocab = {w: i for i, w in enumerate(words)}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(r"\n"), behavior="isolated"),
        pre_tokenizers.Split(Regex(r"[ \t]+"), behavior="removed"),
        pre_tokenizers.Split(Regex(r"[0-9]|[^\w\s]"), behavior="isolated"),
    ])
    tk.decoder = decoders.WordPiece(prefix="##", cleanup=True)
    tk.add_special_tokens([AddedToken(s, special=True, normalized=False) for s in specials])
    tk.post_processor = processors.TemplateProcessing(single="<s> $A",
                                                      special_tokens=[("<s>", vocab["<s>"])])
    return PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", bos_token="<s>",
                                   eos_token="</s>", pad_token="</s>")


# LOVE's DiViDeAddEvaluator builds SwinTransformer3D() with its defaults (Swin-T), so
# the temporal branch keeps that size.
TINY_SWIN = {"embed_dim": 96, "depths": (2, 2, 6, 2), "num_heads": (3, 6, 12, 24),
             "frag_biases": (True, True, True, False)}


def vision_shapes(vit: dict, image_size: int, patch: int, llm_hidden: int) -> dict[str, tuple]:
    """Shapes of the InternViT tensors and the ``mlp1`` projector in OpenGVLab's
    chat layout (the keys :func:`convert_state_dict` reads), for tiny checkpoints."""
    c, d = vit["hidden_size"], vit["intermediate_size"]
    shapes: dict[str, tuple] = {
        "vision_model.embeddings.class_embedding": (1, 1, c),
        "vision_model.embeddings.patch_embedding.weight": (c, 3, patch, patch),
        "vision_model.embeddings.patch_embedding.bias": (c,),
        "vision_model.embeddings.position_embedding": (1, (image_size // patch) ** 2 + 1, c)}
    for i in range(vit["num_hidden_layers"]):
        p = f"vision_model.encoder.layers.{i}."
        shapes.update({p + "ls1": (c,), p + "ls2": (c,), p + "attn.qkv.weight": (3 * c, c),
                       p + "attn.qkv.bias": (3 * c,), p + "attn.proj.weight": (c, c),
                       p + "attn.proj.bias": (c,), p + "mlp.fc1.weight": (d, c),
                       p + "mlp.fc1.bias": (d,), p + "mlp.fc2.weight": (c, d),
                       p + "mlp.fc2.bias": (c,), p + "norm1.weight": (c,), p + "norm1.bias": (c,),
                       p + "norm2.weight": (c,), p + "norm2.bias": (c,)})
    h = llm_hidden
    shapes.update({"mlp1.0.weight": (4 * c,), "mlp1.0.bias": (4 * c,),
                   "mlp1.1.weight": (h, 4 * c), "mlp1.1.bias": (h,),
                   "mlp1.3.weight": (h, h), "mlp1.3.bias": (h,)})
    return shapes


def tiny_state(seed: int, vocab: int, image_size: int = 56, llm_hidden: int = 4096) -> tuple:
    """(config.json dict, state dict in LOVE's key layout) of a small random LOVE.

    LOVE's code fixes the motion and score heads at 768 -> 4096, so the LLM
    keeps InternLM2-7B's width (4096, 32 heads, 2 KV heads) with one layer.
    Values are drawn from ``torch.Generator().manual_seed(seed)`` in key order.
    """
    import torch

    vit = dict(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64,
               patch_size=14, image_size=image_size, qkv_bias=True, qk_normalization=False,
               norm_type="layer_norm", layer_norm_eps=1e-6, hidden_act="gelu",
               initializer_factor=0.1, use_flash_attn=False, drop_path_rate=0.0,
               architectures=["InternVisionModel"], model_type="intern_vit_6b")
    heads, kv, inter = (32, 2, 64) if llm_hidden == 4096 else (4, 2, 16)
    llm = dict(architectures=["InternLM2ForCausalLM"], model_type="internlm2", vocab_size=vocab,
               hidden_size=llm_hidden, intermediate_size=inter, num_hidden_layers=1,
               num_attention_heads=heads, num_key_value_heads=kv, hidden_act="silu",
               max_position_embeddings=32768, rms_norm_eps=1e-5, rope_theta=50000000,
               rope_scaling={"type": "dynamic", "factor": 2.0}, bias=False,
               bos_token_id=1, eos_token_id=2, pad_token_id=2, tie_word_embeddings=False,
               attn_implementation="eager")
    config = dict(architectures=["InternVLChatModel"], model_type="internvl_chat",
                  downsample_ratio=0.5, force_image_size=image_size, template="internlm2-chat",
                  ps_version="v2", select_layer=-1, dynamic_image_size=False, use_thumbnail=True,
                  use_backbone_lora=0, use_llm_lora=0, pad2square=False, min_dynamic_patch=1,
                  max_dynamic_patch=1, vision_config=vit, llm_config=llm, hidden_size=llm_hidden,
                  torch_dtype="float32")
    g = torch.Generator().manual_seed(seed)
    shapes = vision_shapes(vit, image_size, 14, llm_hidden)
    h = llm_hidden
    hd = h // heads
    shapes["language_model.model.tok_embeddings.weight"] = (vocab, h)
    for i in range(llm["num_hidden_layers"]):
        p = f"language_model.model.layers.{i}."
        shapes.update({p + "attention.wqkv.weight": ((heads + 2 * kv) * hd, h),
                       p + "attention.wo.weight": (h, heads * hd),
                       p + "feed_forward.w1.weight": (inter, h),
                       p + "feed_forward.w3.weight": (inter, h),
                       p + "feed_forward.w2.weight": (h, inter),
                       p + "attention_norm.weight": (h,), p + "ffn_norm.weight": (h,)})
    shapes["language_model.model.norm.weight"] = (h,)
    shapes["language_model.output.weight"] = (vocab, h)
    shapes.update({"fast_mlp.0.weight": (768,), "fast_mlp.0.bias": (768,),
                   "fast_mlp.1.weight": (h, 768), "fast_mlp.1.bias": (h,),
                   "fast_mlp.3.weight": (h, h), "fast_mlp.3.bias": (h,)})
    dims = [h, 1024, 256, 64, 16, 1]
    for i in range(5):
        shapes[f"mlpscore.fc{i + 1}.weight"] = (dims[i + 1], dims[i])
        shapes[f"mlpscore.fc{i + 1}.bias"] = (dims[i + 1],)
    shapes.update(_tiny_swin_shapes("evaluator.fragments_backbone."))
    sd = {}
    for k, shp in shapes.items():
        n = int(np.prod(shp))
        fan_in = shp[-1] if len(shp) > 1 else 1
        if k.endswith(("norm.weight", "norm1.weight", "norm2.weight", "attention_norm.weight",
                       "ffn_norm.weight", "mlp1.0.weight", "fast_mlp.0.weight")) \
                or re.search(r"\.norm\d?\.weight$", k):
            v = 1.0 + 0.1 * torch.randn(n, generator=g)
        elif k.endswith(("ls1", "ls2")):
            v = 0.5 + 0.1 * torch.randn(n, generator=g)
        elif k.startswith("mlpscore."):
            # positive weights keep the ReLU chain alive, as LOVE's init does
            v = torch.rand(n, generator=g) * (2.0 / fan_in) + (0.01 if "bias" in k else 0.0)
        else:
            v = torch.randn(n, generator=g) * (1.0 / max(1.0, float(fan_in)) ** 0.5)
        sd[k] = v.reshape(shp).contiguous()
    return config, sd


def _tiny_swin_shapes(prefix: str) -> dict:
    s = TINY_SWIN
    out = {prefix + "patch_embed.proj.weight": (s["embed_dim"], 3, 2, 4, 4),
           prefix + "patch_embed.proj.bias": (s["embed_dim"],),
           prefix + "patch_embed.norm.weight": (s["embed_dim"],),
           prefix + "patch_embed.norm.bias": (s["embed_dim"],)}
    ws = (8, 7, 7)
    n_rel = (2 * ws[0] - 1) * (2 * ws[1] - 1) * (2 * ws[2] - 1)
    for i, (depth, nh) in enumerate(zip(s["depths"], s["num_heads"])):
        dim = s["embed_dim"] * 2 ** i
        for j in range(depth):
            p = f"{prefix}layers.{i}.blocks.{j}."
            out.update({p + "norm1.weight": (dim,), p + "norm1.bias": (dim,),
                        p + "attn.relative_position_bias_table": (n_rel, nh),
                        p + "attn.qkv.weight": (3 * dim, dim), p + "attn.qkv.bias": (3 * dim,),
                        p + "attn.proj.weight": (dim, dim), p + "attn.proj.bias": (dim,),
                        p + "norm2.weight": (dim,), p + "norm2.bias": (dim,),
                        p + "mlp.fc1.weight": (4 * dim, dim), p + "mlp.fc1.bias": (4 * dim,),
                        p + "mlp.fc2.weight": (dim, 4 * dim), p + "mlp.fc2.bias": (dim,)})
            if s["frag_biases"][i]:
                out[p + "attn.fragment_position_bias_table"] = (n_rel, nh)
        if i < len(s["depths"]) - 1:
            p = f"{prefix}layers.{i}.downsample."
            out.update({p + "reduction.weight": (2 * dim, 4 * dim), p + "norm.weight": (4 * dim,),
                        p + "norm.bias": (4 * dim,)})
    out[prefix + "norm.weight"] = (s["embed_dim"] * 8,)
    out[prefix + "norm.bias"] = (s["embed_dim"] * 8,)
    return out


def build_tiny_love(path: str | Path, seed: int = 0, llm_hidden: int = 4096) -> Path:
    """Write a small random LOVE folder in the released layout: config.json,
    model.safetensors (LOVE's key names), temporal.pth, tokenizer files."""
    import torch
    from safetensors.torch import save_file

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tok = tiny_tokenizer()
    config, sd = tiny_state(seed, len(tok.get_vocab()), llm_hidden=llm_hidden)
    (path / "config.json").write_text(json.dumps(config, indent=1), encoding="utf-8")
    save_file(sd, str(path / "model.safetensors"), metadata={"format": "pt"})
    torch.save({"state_dict": {k[len("evaluator."):]: v for k, v in sd.items()
                               if k.startswith("evaluator.")}}, str(path / "temporal.pth"))
    tok._tokenizer.save(str(path / "tokenizer.json"))
    (path / "tokenizer_config.json").write_text(json.dumps({
        "tokenizer_class": "PreTrainedTokenizerFast", "bos_token": "<s>", "eos_token": "</s>",
        "pad_token": "</s>", "unk_token": "<unk>", "model_max_length": 4096}), encoding="utf-8")
    (path / "special_tokens_map.json").write_text(json.dumps({
        "bos_token": "<s>", "eos_token": "</s>", "pad_token": "</s>", "unk_token": "<unk>"}),
        encoding="utf-8")
    return path

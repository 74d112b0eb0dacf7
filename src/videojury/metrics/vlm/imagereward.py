"""ImageReward per frame (Xu et al., NeurIPS 2023), averaged over frames.

ImageReward is BLIP (a ViT image encoder and a BERT text encoder that
cross-attends to the image tokens) with an MLP on the text encoder's first
token: ``reward = (mlp(text_encoder(prompt, image)[:, 0]) - mean) / std`` with
the reference's mean 0.16717362830052426 and std 1.0333394966054072. The
networks are transformers' ``BlipVisionModel`` and ``BlipTextModel`` (ports
of BLIP's ``vit.py`` and ``med.py``); the official checkpoint
``ImageReward.pt`` (hub ``THUDM/ImageReward``, Apache-2.0) is read with
``torch.load(weights_only=True)`` and converted key by key: every tensor is
either used or one of BLIP's unused contrastive projections, anything else is
an error. The BERT configuration is the checkpoint's ``med_config.json``; the
tokenizer ``bert-base-uncased`` (BLIP's two added tokens do not change the
ids ImageReward reads), prompts padded to 35 tokens as the reference does.
Frames are preprocessed as the reference's ``_transform(224)`` (PIL bicubic
short-side resize, centre crop, CLIP mean/std).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import Metric, ScoreField, register_metric
from ._common import load_fitting

HUB_REPO = "THUDM/ImageReward"
MEAN, STD = 0.16717362830052426, 1.0333394966054072
CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
_UNUSED = ("blip.vision_proj.", "blip.text_proj.")
_LOCK = threading.Lock()


def convert_vision(sd: dict[str, Any]) -> dict[str, Any]:
    """BLIP ``visual_encoder`` tensors (prefix stripped) -> ``BlipVisionModel`` keys."""
    out = {"embeddings.class_embedding": sd.pop("cls_token"),
           "embeddings.position_embedding": sd.pop("pos_embed"),
           "embeddings.patch_embedding.weight": sd.pop("patch_embed.proj.weight"),
           "embeddings.patch_embedding.bias": sd.pop("patch_embed.proj.bias"),
           "post_layernorm.weight": sd.pop("norm.weight"), "post_layernorm.bias": sd.pop("norm.bias")}
    names = {"norm1": "layer_norm1", "attn.qkv": "self_attn.qkv", "attn.proj": "self_attn.projection",
             "norm2": "layer_norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}
    for k in sorted(k for k in sd if k.startswith("blocks.")):
        _, i, rest = k.split(".", 2)
        stem, _, leaf = rest.rpartition(".")
        if stem not in names:
            raise MetricError(f"imagereward: unexpected vision tensor blip.visual_encoder.{k}")
        out[f"encoder.layers.{i}.{names[stem]}.{leaf}"] = sd.pop(k)
    if sd:
        raise MetricError(f"imagereward: unexpected vision tensors: {', '.join(sorted(sd)[:5])}")
    return out


def split_checkpoint(state: dict[str, Any]) -> tuple[dict, dict, dict]:
    """(vision, text, mlp) tensors of an ImageReward state dict; unknown keys are errors."""
    vision, text, mlp, bad = {}, {}, {}, []
    for k, v in state.items():
        if k.startswith("blip.visual_encoder."):
            vision[k[len("blip.visual_encoder."):]] = v
        elif k.startswith("blip.text_encoder."):
            text[k[len("blip.text_encoder."):]] = v
        elif k.startswith("mlp."):
            mlp[k[len("mlp."):]] = v
        elif not k.startswith(_UNUSED):
            bad.append(k)
    if bad:
        raise MetricError(f"imagereward: the checkpoint has tensors ImageReward does not: "
                          f"{', '.join(sorted(bad)[:5])}")
    if not vision or not text or not mlp:
        raise MetricError("imagereward: the checkpoint lacks the BLIP image encoder, text encoder "
                          "or reward MLP (keys blip.visual_encoder.*, blip.text_encoder.*, mlp.*)")
    return vision, text, mlp


def build(state: dict[str, Any], med_config: dict[str, Any]):
    """(vision model, text model, MLP) loaded strictly from an ImageReward state dict."""
    from transformers import BlipTextConfig, BlipVisionConfig
    from transformers.models.blip.modeling_blip import BlipVisionModel
    from transformers.models.blip.modeling_blip_text import BlipTextModel

    from .laion_aesthetic import build_head

    vision_sd, text_sd, mlp_sd = split_checkpoint(dict(state))
    vision_sd = convert_vision(dict(vision_sd))
    width = int(vision_sd["embeddings.class_embedding"].shape[-1])
    patch = int(vision_sd["embeddings.patch_embedding.weight"].shape[-1])
    grid = round((vision_sd["embeddings.position_embedding"].shape[1] - 1) ** 0.5)
    depth = len({k.split(".")[2] for k in vision_sd if k.startswith("encoder.layers.")})
    vcfg = BlipVisionConfig(hidden_size=width, intermediate_size=4 * width, num_hidden_layers=depth,
                            num_attention_heads=max(1, width // 64), image_size=grid * patch,
                            patch_size=patch, hidden_act="gelu", layer_norm_eps=1e-6)
    vision = BlipVisionModel(vcfg)
    keys = {"vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads",
            "intermediate_size", "hidden_act", "hidden_dropout_prob", "attention_probs_dropout_prob",
            "max_position_embeddings", "layer_norm_eps", "pad_token_id"}
    tcfg = BlipTextConfig(**{k: v for k, v in med_config.items() if k in keys},
                          encoder_hidden_size=width)
    text = BlipTextModel(tcfg, add_pooling_layer=False)
    for name, model, sd in (("vision", vision, vision_sd), ("text", text, text_sd)):
        load_fitting(model, sd, f"imagereward: the {name} tensors do not fit",
                     extra_position_ids=True)
    mlp = build_head(mlp_sd, int(tcfg.hidden_size))
    return vision.eval(), text.eval(), mlp, int(vcfg.image_size)


@register_metric
class ImageReward(Metric):
    """ImageReward of the prompt against each frame, averaged over frames."""

    name = "imagereward"
    version = "1"
    extra = "models"
    needs_prompt = True
    fields = (ScoreField("imagereward", None, None, True,
                         "mean over frames of ImageReward's normalised reward (about -2 to 2)"),)
    description = "ImageReward (BLIP + reward MLP) of the prompt against each frame, averaged."
    reference = "ImageReward (Xu et al., NeurIPS 2023); ImageReward in LOVE's V2T tables"
    default_options = {"weights": HUB_REPO, "med_config": "", "tokenizer": "bert-base-uncased",
                       "device": "", "batch_size": 8, "frames": 8}
    runtime_options = frozenset({"device", "batch_size"})

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        self.batch_size = max(1, int(self.options["batch_size"]))
        if self.options["frames"] < 1:
            raise MetricError("imagereward: frames must be >= 1")
        self._nets = None

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.uniform(int(self.options["frames"]))

    def _files(self) -> tuple[str, str]:
        w, cfg = self.options["weights"], self.options["med_config"]
        if Path(w).is_file():
            cfg = cfg or str(Path(w).with_name("med_config.json"))
            if not Path(cfg).is_file():
                raise MetricError(f"imagereward: no med_config.json beside {w}; pass med_config=PATH")
            return w, cfg
        from huggingface_hub import hf_hub_download

        try:
            return (hf_hub_download(w, "ImageReward.pt"),
                    cfg or hf_hub_download(w, "med_config.json"))
        except Exception as e:  # noqa: BLE001 - offline, not cached
            raise MetricError(f"imagereward: cannot get ImageReward.pt from {w} ({e}); run "
                              f"`hf download {w}` or pass weights=PATH") from None

    def identity(self, hash_file) -> dict[str, str]:
        w, cfg = self._files()
        return {"weights": hash_file(w), "med_config": hash_file(cfg)}

    def load(self) -> None:
        if self._nets is not None:
            return
        import torch
        from transformers import AutoTokenizer

        w, cfg = self._files()
        try:
            state = torch.load(w, map_location="cpu", weights_only=True)
        except Exception as e:  # noqa: BLE001
            raise MetricError(f"imagereward: {w} is not a plain tensor checkpoint ({e})") from None
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        if not isinstance(state, dict):
            raise MetricError(f"imagereward: {w} holds no state dict")
        med = json.loads(Path(cfg).read_text())
        with _LOCK:
            vision, text, mlp, size = build(state, med)
            tok = AutoTokenizer.from_pretrained(self.options["tokenizer"])
        device = self.options["device"] or ("cuda" if torch.cuda.is_available() else "cpu")
        self._device = device
        self._nets = (vision.to(device), text.to(device), mlp.to(device), size, tok)

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        import torch

        from .laion_aesthetic import clip_pixels

        self.load()
        vision, text, mlp, size, tok = self._nets
        out = []
        with torch.inference_mode():
            for fr, it in zip(frames, items):
                enc = tok(it.prompt or "", padding="max_length", truncation=True, max_length=35,
                          return_tensors="pt")
                with self.timed("preprocess"):
                    px = clip_pixels(list(fr.array), size, CLIP_MEAN, CLIP_STD).to(self._device)
                img = vision(pixel_values=px).last_hidden_state
                n = img.shape[0]
                ids = enc["input_ids"].to(self._device).expand(n, -1)
                am = enc["attention_mask"].to(self._device).expand(n, -1)
                h = text(input_ids=ids, attention_mask=am, encoder_hidden_states=img,
                         encoder_attention_mask=torch.ones(img.shape[:-1], dtype=torch.long,
                                                           device=img.device),
                         return_dict=True).last_hidden_state[:, 0, :].float()
                r = (mlp(h).squeeze(-1) - MEAN) / STD
                out.append({"imagereward": float(np.mean(r.cpu().numpy().astype(np.float64)))})
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_nets"] = None
        return state

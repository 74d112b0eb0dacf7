"""FGA-BLIP2 per frame (EvalMuse-40K's fine-grained alignment evaluator), averaged over frames.

FGA-BLIP2 (Han et al., EvalMuse-40K, 2024) is LAVIS's BLIP-2 first stage
(EVA ViT-g/14 at 364 px, ``ln_vision``, the Q-Former with 32 query tokens)
fine-tuned on EvalMuse-40K's alignment ratings. Its scoring function
(``FGA_Blip2.element_score``, what the repository's ``eval.py`` reports as
``score_result``) runs the Q-Former's image-text-matching pass over the query
tokens and the prompt's tokens together, applies the ITM head to *every*
output token, takes the softmax probability of "match" per token, and reports

    alignment = mean over the 32 query tokens of P(match) * 4 + 1   (1 to 5)

(it averages probabilities, not logits as transformers' ``Blip2ForImageTextRetrieval``
does). The probabilities at the text tokens are its element-level output:
``eval.py`` averages them over an element's token span
(:func:`element_score`). FGA's ``mask_proj`` MLP is in the checkpoint but is
used only by the training loss; scoring never reads it.

Networks: transformers' ``Blip2VisionModel`` (EVA's ``ln_vision`` is its
``post_layernorm``, eps 1e-5 as LAVIS's ``LayerNorm``), ``Blip2TextEmbeddings``
and ``Blip2QFormerModel`` with the text FFNs, inside ``Blip2ForImageTextRetrieval``.
The official ``fga_blip2.pth`` (EvalMuse's training checkpoint:
``{"model": state_dict, ...}``) is read with ``torch.load(weights_only=True)``
and converted key by key: each tensor is used, or is one of the tensors
scoring does not read (``Qformer.cls.*``, ``temp``, ``mask_proj.*``), or it is
an error. The checkpoint does not say the head counts: EVA's rule
``width // 88`` (16 for ViT-g) and BERT's ``width // 64`` (12) are used.
Preprocessing is the reference's: LAVIS ``blip_image_eval`` (PIL bicubic
resize to a square of the checkpoint's image size, /255, CLIP mean/std) and
``blip_caption`` (lower case, ``.!"()*#:;~`` to spaces, at most 50 words);
the prompt is tokenized by ``bert-base-uncased`` (+ LAVIS's ``[DEC]``) without
padding or truncation, as ``element_score`` does.

The reference runs the ViT under fp16 autocast on a GPU (LAVIS's
``maybe_autocast``); videojury runs float32 everywhere, which is what the
reference does on a CPU.
"""

from __future__ import annotations

import re
import threading
from typing import Any, Sequence

import numpy as np

from ...errors import MetricError
from ...video import FramePolicy, Frames
from ..base import Metric, ScoreField, register_metric
from ._common import load_fitting

CLIP_MEAN = (0.48145466, 0.4578275, 0.40821073)
CLIP_STD = (0.26862954, 0.26130258, 0.27577711)
UNUSED = ("Qformer.cls.", "mask_proj.")
UNUSED_KEYS = ("temp", "Qformer.bert.embeddings.position_ids")
_LOCK = threading.Lock()
_VIT = {"norm1": "layer_norm1", "attn.qkv": "self_attn.qkv", "attn.proj": "self_attn.projection",
        "norm2": "layer_norm2", "mlp.fc1": "mlp.fc1", "mlp.fc2": "mlp.fc2"}


def pre_caption(caption: str, max_words: int = 50) -> str:
    """LAVIS ``BlipCaptionProcessor``'s cleaning of a prompt."""
    caption = re.sub(r"([.!\"()*#:;~])", " ", caption.lower())
    caption = re.sub(r"\s{2,}", " ", caption).rstrip("\n").strip(" ")
    words = caption.split(" ")
    return " ".join(words[:max_words]) if len(words) > max_words else caption


def pixels(frames: Sequence[np.ndarray], n: int):
    """(N, 3, n, n) float tensor as LAVIS's ``blip_image_eval`` makes it: PIL bicubic resize
    to n x n (no crop), /255, CLIP mean/std."""
    import torch
    from PIL import Image

    mean = np.asarray(CLIP_MEAN, dtype=np.float32)
    std = np.asarray(CLIP_STD, dtype=np.float32)
    out = []
    for f in frames:
        img = Image.fromarray(np.ascontiguousarray(f)).convert("RGB")
        if img.size != (n, n):
            img = img.resize((n, n), Image.BICUBIC)
        x = np.asarray(img, dtype=np.float32) / 255.0
        out.append(((x - mean) / std).transpose(2, 0, 1))
    return torch.from_numpy(np.stack(out))


def read_checkpoint(path) -> dict[str, Any]:
    """The model state dict of ``fga_blip2.pth`` (``{"model": ...}`` or a bare state dict)."""
    import torch

    try:
        ckpt = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as e:  # noqa: BLE001 - a pickle with code in it, or not a torch file
        raise MetricError(f"fga_blip2: {path} is not a plain tensor checkpoint (torch.load "
                          f"weights_only refused it: {e})") from None
    state = ckpt.get("model", ckpt) if isinstance(ckpt, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise MetricError(f"fga_blip2: {path} holds no state dict of tensors (expected EvalMuse's "
                          f"fga_blip2.pth: {{'model': state_dict, ...}})")
    return state


def convert(state: dict[str, Any]) -> tuple[dict[str, Any], dict[str, int]]:
    """LAVIS FGA_Blip2 tensors -> ``Blip2ForImageTextRetrieval`` keys, and the sizes read off them."""
    import torch

    sd = {k: v for k, v in state.items() if not k.startswith(UNUSED) and k not in UNUSED_KEYS}
    need = ("visual_encoder.cls_token", "visual_encoder.pos_embed", "visual_encoder.patch_embed.proj.weight",
            "ln_vision.weight", "query_tokens", "Qformer.bert.embeddings.word_embeddings.weight", "itm_head.weight")
    lacking = [k for k in need if k not in sd]
    if lacking:
        raise MetricError(f"fga_blip2: the checkpoint lacks {', '.join(lacking)}; is it FGA-BLIP2's "
                          f"fga_blip2.pth (a LAVIS BLIP-2 Q-Former model)?")
    out: dict[str, Any] = {}
    v = "vision_model."
    out[v + "embeddings.class_embedding"] = sd.pop("visual_encoder.cls_token")
    out[v + "embeddings.position_embedding"] = sd.pop("visual_encoder.pos_embed")
    for leaf in ("weight", "bias"):
        out[f"{v}embeddings.patch_embedding.{leaf}"] = sd.pop(f"visual_encoder.patch_embed.proj.{leaf}", None)
        out[f"{v}post_layernorm.{leaf}"] = sd.pop(f"ln_vision.{leaf}", None)
    blocks = sorted({int(k.split(".")[2]) for k in sd if k.startswith("visual_encoder.blocks.")})
    for i in blocks:
        p, q = f"visual_encoder.blocks.{i}.", f"{v}encoder.layers.{i}."
        qb, vb = sd.pop(p + "attn.q_bias", None), sd.pop(p + "attn.v_bias", None)
        if qb is None or vb is None:
            raise MetricError(f"fga_blip2: ViT block {i} has no attn.q_bias/attn.v_bias (EVA's q/v biases)")
        out[q + "self_attn.qkv.bias"] = torch.cat([qb, torch.zeros_like(vb), vb])
        for k in [k for k in sd if k.startswith(p)]:
            stem, _, leaf = k[len(p):].rpartition(".")
            if stem not in _VIT or (stem == "attn.qkv" and leaf != "weight"):
                raise MetricError(f"fga_blip2: unexpected ViT tensor {k} (layer scale or relative "
                                  f"position bias are not in BLIP-2's EVA ViT-g)")
            out[f"{q}{_VIT[stem]}.{leaf}"] = sd.pop(k)
    out["query_tokens"] = sd.pop("query_tokens")
    b = "Qformer.bert."
    for leaf in ("word_embeddings", "position_embeddings"):
        out[f"embeddings.{leaf}.weight"] = sd.pop(f"{b}embeddings.{leaf}.weight", None)
    for leaf in ("weight", "bias"):
        out[f"qformer.layernorm.{leaf}"] = sd.pop(f"{b}embeddings.LayerNorm.{leaf}", None)
    cross = []
    for k in [k for k in sd if k.startswith(b + "encoder.layer.")]:
        rest = k[len(b + "encoder.layer."):]
        i = int(rest.split(".", 1)[0])
        if ".crossattention." in rest and i not in cross:
            cross.append(i)
        rest = re.sub(r"(attention|crossattention)\.self\.", r"\1.attention.", rest)
        out[f"qformer.encoder.layer.{rest}"] = sd.pop(k)
    for a, o in (("vision_proj", "vision_projection"), ("text_proj", "text_projection"), ("itm_head", "itm_head")):
        for leaf in ("weight", "bias"):
            out[f"{o}.{leaf}"] = sd.pop(f"{a}.{leaf}", None)
    if sd:
        raise MetricError(f"fga_blip2: the checkpoint has tensors FGA-BLIP2 does not: "
                          f"{', '.join(sorted(sd)[:5])}")
    absent = sorted(k for k, t in out.items() if t is None)
    if absent:
        raise MetricError(f"fga_blip2: the checkpoint lacks the tensors for {', '.join(absent[:5])}")
    width = int(out[v + "embeddings.class_embedding"].shape[-1])
    hidden = int(out["query_tokens"].shape[-1])
    layers = len({k.split(".")[3] for k in out if k.startswith("qformer.encoder.layer.")})
    cross = sorted(cross)
    freq = cross[1] - cross[0] if len(cross) > 1 else max(layers, 1)
    if not cross or cross != list(range(0, layers, freq)):
        raise MetricError(f"fga_blip2: cross-attention in Q-Former layers {cross} is not every "
                          f"n-th layer from layer 0, as BLIP-2's Q-Former has it")
    sizes = {"width": width, "patch": int(out[v + "embeddings.patch_embedding.weight"].shape[-1]),
             "grid": round((out[v + "embeddings.position_embedding"].shape[1] - 1) ** 0.5),
             "depth": len(blocks), "mlp": int(out[f"{v}encoder.layers.0.mlp.fc1.weight"].shape[0]) if blocks else 0,
             "hidden": hidden, "layers": layers, "freq": freq, "queries": int(out["query_tokens"].shape[1]),
             "inter": int(out["qformer.encoder.layer.0.intermediate.dense.weight"].shape[0]),
             "vocab": int(out["embeddings.word_embeddings.weight"].shape[0]),
             "positions": int(out["embeddings.position_embeddings.weight"].shape[0]),
             "proj": int(out["vision_projection.weight"].shape[0])}
    if sizes["depth"] == 0:
        raise MetricError("fga_blip2: the checkpoint has no ViT blocks (visual_encoder.blocks.*)")
    return out, sizes


def build(state: dict[str, Any]):
    """(``Blip2ForImageTextRetrieval`` loaded strictly from an FGA-BLIP2 state dict, image size)."""
    import torch
    from transformers import Blip2Config, Blip2ForImageTextRetrieval

    sd, s = convert(dict(state))
    vision = {"hidden_size": s["width"], "intermediate_size": s["mlp"], "num_hidden_layers": s["depth"],
              "num_attention_heads": max(1, s["width"] // 88), "image_size": s["grid"] * s["patch"],
              "patch_size": s["patch"], "hidden_act": "gelu", "layer_norm_eps": 1e-6, "qkv_bias": True}
    qformer = {"vocab_size": s["vocab"], "hidden_size": s["hidden"], "num_hidden_layers": s["layers"],
               "num_attention_heads": max(1, s["hidden"] // 64), "intermediate_size": s["inter"],
               "max_position_embeddings": s["positions"], "hidden_act": "gelu", "layer_norm_eps": 1e-12,
               "cross_attention_frequency": s["freq"], "encoder_hidden_size": s["width"],
               "use_qformer_text_input": True, "pad_token_id": 0}
    cfg = Blip2Config(vision_config=vision, qformer_config=qformer, num_query_tokens=s["queries"],
                      image_text_hidden_size=s["proj"])
    cfg._attn_implementation = "eager"
    for sub in (cfg.vision_config, cfg.qformer_config):
        sub._attn_implementation = "eager"
    model = Blip2ForImageTextRetrieval(cfg)
    model.vision_model.post_layernorm.eps = 1e-5  # LAVIS's ln_vision is a default nn.LayerNorm
    sd = {k: t.float() if t.is_floating_point() else t for k, t in sd.items()}
    load_fitting(model, sd, "fga_blip2: the converted tensors do not fit BLIP-2")
    for name, p in model.state_dict().items():
        if name in sd and tuple(p.shape) != tuple(sd[name].shape):  # load_state_dict raises first
            raise MetricError(f"fga_blip2: tensor {name} has shape {tuple(sd[name].shape)}")
    return model.eval().to(torch.float32), int(cfg.vision_config.image_size)


def match_probabilities(model, px, input_ids):
    """(alignment 1-5 per image, P(match) per text token per image) for one tokenized prompt:
    ``FGA_Blip2.element_score`` on a batch of images."""
    import torch

    img = model.vision_model(pixel_values=px).last_hidden_state
    n, nq = img.shape[0], model.query_tokens.shape[1]
    ids = input_ids.expand(n, -1)
    q = model.query_tokens.expand(n, -1, -1)
    emb = model.embeddings(input_ids=ids, query_embeds=q)
    mask = torch.ones(emb.shape[:2], dtype=torch.long, device=emb.device)
    h = model.qformer(query_embeds=emb, query_length=nq, attention_mask=mask, encoder_hidden_states=img,
                      encoder_attention_mask=torch.ones(img.shape[:-1], dtype=torch.long, device=img.device),
                      return_dict=True).last_hidden_state
    p = torch.softmax(model.itm_head(h), dim=2)[:, :, 1]
    return p[:, :nq].mean(dim=1) * 4 + 1, p[:, nq:]


def _span(element_ids: list[int], prompt_ids: list[int]) -> int:
    for i in range(len(prompt_ids) - len(element_ids) + 1):
        if prompt_ids[i:i + len(element_ids)] == element_ids:
            return i
    return 0


def element_score(token_probs: Sequence[float], prompt_ids: list[int], element_ids: list[int]) -> float:
    """eval.py's element score: the mean P(match) over the element's first token span in the
    prompt (ids with [CLS]/[SEP]; the element's without), 0 where the span is not found."""
    i = _span(list(element_ids), list(prompt_ids))
    if not i or not element_ids:
        return 0.0
    return float(np.mean(np.asarray(token_probs, dtype=np.float64)[i:i + len(element_ids)]))


@register_metric
class FgaBlip2(Metric):
    """FGA-BLIP2's alignment score (1-5) of the prompt against each frame, averaged over frames."""

    name = "fga_blip2"
    version = "1"
    extra = "models"
    needs_prompt = True
    fields = (ScoreField("fga_blip2", 1.0, 5.0, True,
                         "mean over frames of FGA-BLIP2's alignment score: mean P(match) over the 32 "
                         "query tokens * 4 + 1"),)
    description = "FGA-BLIP2 (EvalMuse's BLIP-2 ITM over query tokens) of the prompt per frame, averaged."
    reference = "FGA-BLIP2 (Han et al., EvalMuse-40K, 2024); FGA-BLIP2 in LOVE's V2T tables"
    default_options = {"model": "fga-blip2", "tokenizer": "bert-base-uncased", "device": "",
                       "batch_size": 8, "frames": 8}
    runtime_options = frozenset({"device", "batch_size"})
    option_ranges = {"batch_size": ">= 1", "frames": ">= 1"}

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        if int(self.options["frames"]) < 1:
            raise MetricError("fga_blip2: frames must be >= 1")
        if int(self.options["batch_size"]) < 1:
            raise MetricError("fga_blip2: batch_size must be >= 1")
        self.batch_size = int(self.options["batch_size"])
        self._nets = None

    def frame_policy(self) -> FramePolicy:
        return FramePolicy.uniform(int(self.options["frames"]))

    def weight_path(self):
        from ...models.checkpoints import resolve_weight_file

        return resolve_weight_file(str(self.options["model"]), "FGA-BLIP2's checkpoint (fga_blip2.pth)")

    def device(self) -> str:
        from ...models.loading import select_device

        return select_device(self.options.get("device") or None)

    def identity(self, hash_file) -> dict[str, str]:
        from ...models.checkpoints import weight_file_identity

        return {"model": weight_file_identity(self.weight_path(), hash_file), "dtype": "float32"}

    def load(self) -> None:
        if self._nets is not None:
            return
        from transformers import AutoTokenizer

        path = self.weight_path()
        state = read_checkpoint(path)
        with _LOCK:
            model, size = build(state)
            try:
                tok = AutoTokenizer.from_pretrained(self.options["tokenizer"])
            except Exception as e:  # noqa: BLE001 - offline and not cached
                raise MetricError(f"fga_blip2: cannot load the tokenizer {self.options['tokenizer']!r} "
                                  f"({e}); run `hf download bert-base-uncased` or pass tokenizer=PATH") from None
            tok.add_special_tokens({"bos_token": "[DEC]"})
        if len(tok) > model.embeddings.word_embeddings.num_embeddings:
            raise MetricError(f"fga_blip2: the tokenizer has {len(tok)} tokens but the checkpoint's Q-Former "
                              f"{model.embeddings.word_embeddings.num_embeddings}; pass the tokenizer it was "
                              f"trained with (bert-base-uncased)")
        dev = self.device()
        self._nets = (model.to(dev), size, tok, dev)

    def encode(self, prompt: str) -> list[int]:
        """The prompt's token ids as ``element_score`` sees them ([CLS] ... [SEP], no truncation)."""
        self.load()
        _, _, tok, _ = self._nets
        ids = tok(pre_caption(prompt or ""), truncation=False)["input_ids"]
        limit = self._nets[0].embeddings.position_embeddings.num_embeddings
        if len(ids) > limit:
            raise MetricError(f"fga_blip2: the prompt has {len(ids)} tokens, more than the Q-Former's "
                              f"{limit} positions")
        return ids

    def frame_scores(self, frames: Sequence[np.ndarray], prompt: str):
        """(alignment per frame, P(match) per prompt token per frame) as float64 arrays."""
        import torch

        self.load()
        model, size, _, dev = self._nets
        ids = torch.tensor([self.encode(prompt)], device=dev)
        align, toks = [], []
        with torch.inference_mode():
            for i in range(0, len(frames), self.batch_size):
                with self.timed("preprocess"):
                    px = pixels(list(frames[i:i + self.batch_size]), size).to(dev)
                a, t = match_probabilities(model, px, ids)
                align.append(a.double().cpu().numpy())
                toks.append(t.double().cpu().numpy())
        return np.concatenate(align), np.concatenate(toks)

    def element_scores(self, frame: np.ndarray, prompt: str, elements: Sequence[str]) -> dict[str, float]:
        """EvalMuse's element scores of one image: for each element (``"cat (animal)"``: the
        text before the last ``(``), the mean P(match) over its tokens in the prompt."""
        _, toks = self.frame_scores([frame], prompt)
        _, _, tok, _ = self._nets
        ids = self.encode(prompt)
        # eval.py scores with the full token row (prompt ids include [CLS] and [SEP])
        return {e: element_score(toks[0], ids, tok(e.rpartition("(")[0])["input_ids"][1:-1])
                for e in elements}

    def score_batch(self, frames: Sequence[Frames], items: Sequence[Any]) -> list[dict[str, float]]:
        out = []
        for fr, it in zip(frames, items):
            align, _ = self.frame_scores(list(fr.array), it.prompt or "")
            out.append({"fga_blip2": float(np.mean(align))})
        return out

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_nets"] = None
        return state

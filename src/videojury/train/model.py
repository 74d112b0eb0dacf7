"""The LMM evaluator: a video chat backbone with LoRA and one regression head per dimension.

For each (video, dimension) the backbone reads the dimension's question and
the start of its answer ("The quality of the video is"), exactly as a level
judge would; the final hidden state of the token right before the level
word - the state from which the model would predict "good" or "poor" -
goes through a small MLP that predicts MOS/scale. This is LOVE's design.

Where that token is in a batch is computed per example from the tokenised
prompt, never as a fixed offset from the end (LOVE reads index -4, which is
only right for one answer template, one tokenizer and right-aligned rows):
the text before the level word and the full text are tokenised, the
processor's expansion of the video placeholder (which happens before the
answer) is the difference between the processor's row length and the
tokenised full text, and the collator shifts the index by the row's padding,
left or right. The token found is checked against the expected id, so a
tokenizer or processor that breaks the assumption fails loudly instead of
training on the wrong position.

Because attention is causal, the hidden state at that position is the same
whether or not the answer's level word follows it; training with the level
word present (for the language-model loss) and scoring without it read the
same quantity.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import torch

from ..errors import MetricError
from ..video import Frames

# Projector modules of the supported families: Qwen2.5/3-VL's patch merger(s),
# InternVL-hf's and LLaVA-OneVision's multi_modal_projector, remote-code
# InternVL's mlp1.
PROJECTOR_PATTERN = re.compile(r"(^|\.)(multi_modal_projector|merger|deepstack_merger_list|mlp1)"
                               r"(\.|$)")
_LANGUAGE_PATTERN = re.compile(r"(^|\.)language_model(\.|$)")
_VISION_PATTERN = re.compile(r"(^|\.)(visual|vision_tower|vision_model)(\.|$)")


# --- the backbone ---------------------------------------------------------------

def load_private_backbone(checkpoint, device: str | None, dtype: str | None,
                          trust_remote_code: bool):
    """Load a backbone that no other metric shares.

    :func:`videojury.models.loading.load_backbone` keeps one copy per process
    for every metric that names a checkpoint; an evaluator injects LoRA
    layers into its model and trains it, which must not change what a level
    judge in the same run sees. This loads through the same code path (same
    offline handling, safetensors only, same errors) with ``shared=False``,
    so the result is a fresh, private copy.
    """
    from ..models.loading import load_backbone

    return load_backbone(checkpoint, device, dtype, trust_remote_code, shared=False)


# --- prompts and level words ------------------------------------------------------

@dataclass(frozen=True)
class TargetPrompt:
    """A dimension the evaluator scores: question (may hold ``{prompt}``), answer prefix
    and the MOS scale."""

    name: str
    question: str
    prefix: str
    scale: float = 100.0

    @property
    def needs_prompt(self) -> bool:
        from ..metrics.vlm.prompts import placeholders

        return "prompt" in placeholders(self.question)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "question": self.question, "prefix": self.prefix,
                "scale": self.scale}


def target_prompts(targets) -> list[TargetPrompt]:
    """Prompts of the configured targets: the level-judge wording of ``dimension`` (or of
    the target's name, else ``quality``), overridden by ``question``/``prefix``."""
    from ..metrics.vlm.prompts import DIMENSIONS

    out = []
    for t in targets:
        key = t.dimension or (t.name if t.name in DIMENSIONS else "")
        if t.dimension and t.dimension not in DIMENSIONS:
            from ..errors import InputError

            raise InputError(f"config: targets[{t.name}].dimension {t.dimension!r} is unknown; "
                             f"choose one of {', '.join(DIMENSIONS)} or give question/prefix")
        dim = DIMENSIONS.get(key or "quality")
        out.append(TargetPrompt(t.name, t.question or dim.question, t.prefix or dim.prefix,
                                float(t.scale)))
    return out


def level_word(value: float) -> str:
    """The level word for a score in [0, 1]: five equal bins, bad ... excellent."""
    from ..metrics.vlm.prompts import LEVEL_VALUES, LEVEL_WORDS

    level = min(5, max(1, int(math.floor(float(value) * 5.0)) + 1))
    return LEVEL_WORDS[LEVEL_VALUES.index(level)]


def _joiner(prefix: str) -> str:
    return "" if (not prefix or prefix.endswith((" ", "\n"))) else " "


# --- turning an example into model inputs ------------------------------------------

@dataclass
class Encoded:
    """One example as the model reads it: processor outputs for a single row (batch
    dimension 1, no padding), the index of the anchor token in that row, the id the
    model should predict next (or -100), and the labels."""

    inputs: dict[str, Any]
    anchor: int
    lm_target: int
    target: int = -1
    value: float = float("nan")
    answer: int = -1
    index: int = -1
    choices: tuple[int, int] = (-1, -1)  # ids of "Yes" and "No" (QA examples)


class PromptEncoder:
    """Builds the texts of an example and runs the processor on one example at a time.

    It keeps the processor and chat template but not the model, so data-loader
    workers can receive it (and never touch GPU memory).
    """

    def __init__(self, backbone, targets: Sequence[TargetPrompt]) -> None:
        import dataclasses

        from ..models.lmm import VideoLMM

        lmm = VideoLMM(dataclasses.replace(backbone, model=None))
        self.lmm = lmm
        self.processor = lmm.processor
        self.tokenizer = lmm.tokenizer
        self.targets = list(targets)
        # The chat wrapper decides how a family's processor takes frames; reuse
        # its settings so training sees exactly what scoring sees.
        self.video_kwargs = dict(lmm.video_kwargs)
        # Temporal branch (:mod:`.temporal`): K slot tokens added after the video.
        self.temporal_tokens = 0
        self.vision_ids: set[int] = set()
        self.slot_id = 0

    def use_temporal(self, tokens: int, model_config) -> None:
        """Add ``tokens`` slot tokens after the video of every encoded row."""
        from .temporal import vision_token_ids

        tok = self.tokenizer
        pid = tok.pad_token_id if tok.pad_token_id is not None else tok.eos_token_id
        self.temporal_tokens = int(tokens)
        self.vision_ids = vision_token_ids(model_config)
        self.slot_id = int(pid if pid is not None else 0)

    # texts --------------------------------------------------------------------
    def mos_texts(self, target: int, prompt: str | None, value: float | None,
                  with_answer: bool) -> tuple[str, str]:
        """(text up to and including the anchor token, text with the answer's level word)."""
        from ..metrics.vlm.prompts import fill

        t = self.targets[target]
        before = self.lmm.render(fill(t.question, prompt=prompt or ""), prefix=t.prefix)
        if not with_answer or value is None or not math.isfinite(value):
            return before, before
        return before, before + _joiner(t.prefix) + level_word(value) + "."

    def qa_texts(self, question: str, answer: int | None, with_answer: bool) -> tuple[str, str]:
        """(prompt ending where the answer starts, prompt + "Yes"/"No")."""
        from ..metrics.vlm.prompts import QA_TEMPLATE, fill

        before = self.lmm.render(fill(QA_TEMPLATE, question=question))
        if not with_answer or answer is None or answer < 0:
            return before, before
        return before, before + ("Yes" if answer == 1 else "No")

    def answer_ids(self, before: str) -> tuple[int, int]:
        """Token ids of "Yes" and "No" as the continuation of ``before``."""
        return self.lmm.continuation_id(before, "Yes"), self.lmm.continuation_id(before, "No")

    # processor ----------------------------------------------------------------
    def run_processor(self, frames: Frames, text: str) -> dict[str, Any]:
        """Processor outputs for one example, on the CPU."""
        from ..models.lmm import VideoLMM

        video = np.ascontiguousarray(frames.array)
        try:
            out = self.processor(text=[text], videos=[video],
                                 video_metadata=[VideoLMM.metadata(frames)],
                                 return_tensors="pt", **self.video_kwargs)
        except TypeError:
            out = self.processor(text=[text], videos=[video], return_tensors="pt")
        return dict(out)

    def encode(self, frames: Frames, before: str, full: str) -> Encoded:
        """Processor outputs plus the anchor (last token of ``before``) and the next-token
        target (first token after ``before`` when ``full`` is longer)."""
        inputs = self.run_processor(frames, full)
        anchor, nxt = locate_anchor(self.tokenizer, before, full, inputs["input_ids"][0].tolist())
        if self.temporal_tokens:
            from .temporal import insert_slots

            inputs, anchor = insert_slots(inputs, anchor, self.temporal_tokens, self.slot_id,
                                          self.vision_ids, frames.array)
        return Encoded(inputs, anchor, nxt)


def locate_anchor(tokenizer, before: str, full: str, row_ids: Sequence[int]) -> tuple[int, int]:
    """Index in ``row_ids`` (one unpadded processor row for ``full``) of the last token of
    ``before``, and the id of the token after it (-100 when ``full == before``).

    The processor expands the video placeholder into many tokens; that happens
    before the answer, so the row has ``len(row) - len(tokens(full))`` extra
    tokens ahead of the anchor. Raises :class:`MetricError` when the
    tokenisation of ``before`` is not a prefix of that of ``full`` (the level
    word merged with the text before it) or when the token found is not the
    expected one.
    """
    ids_full = list(tokenizer(full)["input_ids"])
    ids_before = list(tokenizer(before)["input_ids"])
    n = len(ids_before)
    if n == 0 or ids_full[:n] != ids_before:
        raise MetricError("the tokenizer splits the answer differently once the level word "
                          "follows it (the text before the level word is not a token prefix of "
                          "the full answer); end the answer prefix with a word, not a space, "
                          "or change the prefix")
    extra = len(row_ids) - len(ids_full)
    anchor = extra + n - 1
    if extra < 0 or anchor >= len(row_ids) or int(row_ids[anchor]) != int(ids_before[-1]):
        raise MetricError("could not locate the token before the answer's level word in the "
                          "processor's input ids (the processor changed the text after the "
                          "video placeholder); this family's prompt layout is not supported "
                          "for training")
    nxt = -100
    if len(ids_full) > n:
        nxt = int(ids_full[n])
        if int(row_ids[anchor + 1]) != nxt:
            raise MetricError("the token after the anchor is not the answer's first token in "
                              "the processor's input ids")
    return anchor, nxt


def collate(batch: Sequence[Encoded], pad_id: int, side: str = "left") -> dict[str, Any]:
    """Pad a list of single-row examples into one batch and shift each anchor by its padding.

    Sequence tensors (shape ``(1, L)`` like ``input_ids``) are padded to the
    longest row on ``side`` (``input_ids`` with ``pad_id``, everything else
    with 0); every other tensor is concatenated along its first dimension,
    which is how the supported processors batch pixels and grid sizes.
    """
    lengths = [int(e.inputs["input_ids"].shape[1]) for e in batch]
    width = max(lengths)
    keys = list(batch[0].inputs)
    out: dict[str, Any] = {}
    for key in keys:
        vals = [e.inputs[key] for e in batch]
        if not isinstance(vals[0], torch.Tensor):
            continue
        seq = all(v.dim() == 2 and v.shape[0] == 1 and v.shape[1] == n
                  for v, n in zip(vals, lengths))
        if seq:
            fill = pad_id if key == "input_ids" else 0
            rows = []
            for v, n in zip(vals, lengths):
                pad = v.new_full((1, width - n), fill)
                rows.append(torch.cat([pad, v] if side == "left" else [v, pad], dim=1))
            out[key] = torch.cat(rows, dim=0)
        else:
            out[key] = torch.cat(vals, dim=0)
    shift = [(width - n) if side == "left" else 0 for n in lengths]
    anchors = torch.tensor([e.anchor + s for e, s in zip(batch, shift)], dtype=torch.long)
    return {
        "inputs": out,
        "anchors": anchors,
        "lm_target": torch.tensor([e.lm_target for e in batch], dtype=torch.long),
        "target": torch.tensor([e.target for e in batch], dtype=torch.long),
        "value": torch.tensor([e.value for e in batch], dtype=torch.float32),
        "answer": torch.tensor([e.answer for e in batch], dtype=torch.long),
        "index": torch.tensor([e.index for e in batch], dtype=torch.long),
        "choices": torch.tensor([list(e.choices) for e in batch], dtype=torch.long),
    }


# --- LoRA and the heads -------------------------------------------------------------

def lora_module_names(model, targets: Sequence[str], vision: bool,
                      vision_targets: Sequence[str], layers: str = "") -> list[str]:
    """Full names of the linear layers LoRA goes on.

    Language-model linears whose last name is in ``targets``; with
    ``vision``, vision-tower linears whose last name is in
    ``vision_targets``. Projectors are never LoRA-adapted (they are trained
    in full when asked). ``layers``: an extra regular expression the name
    must match (e.g. to adapt only the top layers).
    """
    pat = re.compile(layers) if layers else None
    names = []
    for name, module in model.named_modules():
        if not isinstance(module, torch.nn.Linear) or PROJECTOR_PATTERN.search(name):
            continue
        leaf = name.rsplit(".", 1)[-1]
        if _LANGUAGE_PATTERN.search(name):
            ok = leaf in targets
        elif vision and _VISION_PATTERN.search(name):
            ok = leaf in vision_targets
        else:
            ok = False
        if ok and (pat is None or pat.search(name)):
            names.append(name)
    return names


def projector_names(model) -> list[str]:
    """Parameter names of the vision-language projector."""
    return [n for n, _ in model.named_parameters() if PROJECTOR_PATTERN.search(n)]


def make_head(dim: int, hidden: int, dropout: float, init_bias: float):
    """An MLP: Linear(dim, hidden) -> GELU -> Dropout -> Linear(hidden, 1), fp32."""
    nn = torch.nn
    head = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout),
                         nn.Linear(hidden, 1))
    with torch.no_grad():
        head[3].bias.fill_(float(init_bias))
    return head


class Judge(torch.nn.Module):
    """AIGV-Assessor's pair judge for one dimension, antisymmetric (see :mod:`.pairwise`)."""

    def __init__(self, dim: int, hidden: int, score_weight: float) -> None:
        super().__init__()
        self.g = torch.nn.Sequential(torch.nn.Linear(dim, hidden), torch.nn.GELU(),
                                     torch.nn.Linear(hidden, 1))
        with torch.no_grad():
            self.g[2].weight.zero_()
            self.g[2].bias.zero_()
        self.score_weight = torch.nn.Parameter(torch.tensor(float(score_weight)))

    def forward(self, h_a, h_b, s_a, s_b):
        """The logit of "a is better" for each pair (hidden states (B, D), scores (B,))."""
        phi_a = h_a / (h_a.norm(dim=-1, keepdim=True) + 1e-6)
        phi_b = h_b / (h_b.norm(dim=-1, keepdim=True) + 1e-6)
        d = phi_a - phi_b
        return (self.g(d) - self.g(-d)).squeeze(-1) + self.score_weight * (s_a - s_b)


def make_judges(names: Sequence[str], dim: int, hidden: int, score_weight: float):
    """One :class:`Judge` per target, fp32."""
    return torch.nn.ModuleDict({n: Judge(dim, int(hidden) or 256, score_weight) for n in names})


def _inject_lora(model, names: list[str], r: int, alpha: int, dropout: float):
    from ..errors import require

    peft = require("peft", "models", "LoRA training")
    cfg = peft.LoraConfig(r=int(r), lora_alpha=int(alpha), lora_dropout=float(dropout),
                          target_modules=list(names), bias="none")
    return peft.get_peft_model(model, cfg)


def build_evaluator(backbone, targets: Sequence[TargetPrompt], *, lora_names: list[str],
                    r: int, alpha: int, dropout: float, head_hidden: int = 0,
                    head_dropout: float = 0.0, init_bias: float = 0.5,
                    judge: tuple[int, float] | None = None, temporal=None,
                    temporal_checkpoint: str = "", head_position: str = "anchor",
                    temporal_swin: dict | None = None):
    """An :class:`EvaluatorModel` over a (private) backbone: LoRA injected on
    ``lora_names`` (none when ``r`` is 0), one fresh head per target and, with
    ``judge`` = (hidden, score weight), one pair judge per target (:mod:`.pairwise`).
    ``temporal``: a :class:`.temporal.TemporalSpec` (its branch is built before LoRA
    touches the model, from ``temporal_checkpoint`` when given); ``head_position``:
    ``anchor`` or ``love_minus4`` (see :meth:`EvaluatorModel.hidden_at`)."""
    model = backbone.model
    branch = None
    if temporal is not None and temporal.on:
        from .temporal import TemporalBranch

        branch = TemporalBranch(temporal, int(_text_config(backbone.model).hidden_size),
                                temporal_checkpoint, temporal_swin).to(backbone.device)
    if r > 0:
        missing = [n for n in lora_names if n not in dict(model.named_modules())]
        if missing:
            raise MetricError(f"the base model has no module {missing[0]!r} (and "
                              f"{len(missing) - 1} more) to put LoRA on; the evaluator was "
                              "made for a different base checkpoint")
        if not lora_names:
            raise MetricError("no linear layer matched the LoRA targets; check lora.targets")
        model = _inject_lora(model, lora_names, r, alpha, dropout)
    dim = int(_text_config(backbone.model).hidden_size)
    hidden = int(head_hidden) or dim
    heads = torch.nn.ModuleDict({t.name: make_head(dim, hidden, head_dropout, init_bias)
                                 for t in targets})
    heads.to(backbone.device)
    judges = None
    if judge is not None:
        judges = make_judges([t.name for t in targets], dim, judge[0], judge[1])
        judges.to(backbone.device)
    return EvaluatorModel(model, heads, [t.name for t in targets], use_lora=r > 0,
                          judges=judges, temporal=branch, head_position=head_position)


def _text_config(model):
    cfg = model.config
    return getattr(cfg, "text_config", None) or getattr(cfg, "llm_config", None) or cfg


class EvaluatorModel(torch.nn.Module):
    """Backbone (with LoRA) + heads; ``forward`` returns per-target predictions at the
    anchors and, on request, the language-model logits there."""

    def __init__(self, model, heads, names: list[str], use_lora: bool, judges=None,
                 temporal=None, head_position: str = "anchor") -> None:
        super().__init__()
        self.model = model
        self.heads = heads
        self.judges = judges  # pair judges (a ModuleDict per target) or None
        self.names = list(names)
        self.use_lora = use_lora
        self.temporal = temporal  # a .temporal.TemporalBranch or None
        self.head_position = head_position
        self._slots = None
        if temporal is not None:
            from .temporal import SlotWriter, decoder_of

            self._slots = SlotWriter()
            decoder_of(self.hf).register_forward_pre_hook(self._slots, with_kwargs=True)

    @property
    def hf(self):
        """The transformers model under the PEFT wrapper."""
        return self.model.get_base_model() if self.use_lora else self.model

    def read_position(self, anchors, attention_mask=None):
        """Where the head reads each row: the anchor (the token before the level word), or
        with ``love_minus4`` LOVE's ``hidden_states[-1][:, -4]``: the fourth token from the
        end of the row's real tokens (the last 1 of its attention mask), so left or right
        padding reads the same token as the unpadded row (LOVE's literal ``[:, -4]``
        reads padding for the shorter rows of a right-padded batch)."""
        if self.head_position != "love_minus4":
            return anchors
        if attention_mask is None:
            raise MetricError("head.position love_minus4 needs the attention mask")
        real = (attention_mask != 0).to(torch.int64)
        last = real.shape[1] - 1 - real.flip(1).argmax(1)
        return last.to(anchors.device) - 3

    def hidden_at(self, inputs: dict[str, Any], anchors, both: bool = False):
        """Final hidden state (after the last norm) at each row's anchor; with ``both``,
        (state at the anchor, state where the head reads; see :meth:`read_position`)."""
        from .temporal import BACK_KEY, SLOT_KEY

        inputs = dict(inputs)
        video, back = inputs.pop(SLOT_KEY, None), inputs.pop(BACK_KEY, None)
        if self._slots is not None:
            if video is None:
                raise MetricError("the evaluator has a temporal branch but the batch carries "
                                  "no frames for it (encode with PromptEncoder.use_temporal)")
            k = int(self.temporal.spec.tokens)
            start = anchors.to(back.device) - back
            self._slots.positions = start[:, None] + torch.arange(k, device=back.device)
            self._slots.tokens = self.temporal(video.to(anchors.device))
        hf = self.hf
        core = getattr(hf, "model", None)
        try:
            if core is not None and hasattr(core, "language_model"):
                hs = core(**inputs, use_cache=False).last_hidden_state
            else:  # other layouts: the generic (slower) route through all hidden states
                hs = hf(**inputs, use_cache=False, output_hidden_states=True).hidden_states[-1]
        finally:
            if self._slots is not None:
                self._slots.tokens = self._slots.positions = None
        rows = torch.arange(hs.shape[0], device=hs.device)
        at = hs[rows, anchors.to(hs.device)]
        if not both:
            return at
        if self.head_position == "anchor":
            return at, at
        pos = self.read_position(anchors, inputs.get("attention_mask"))
        return at, hs[rows, pos.to(hs.device)]

    def forward(self, inputs: dict[str, Any], anchors, want_lm: bool = False,
                want_hidden: bool = False):
        h, h_head = self.hidden_at(inputs, anchors, both=True)
        hf32 = h_head.float()
        preds = torch.stack([self.heads[n](hf32).squeeze(-1) for n in self.names], dim=1)
        out = {"preds": preds}
        if want_hidden:
            out["hidden"] = hf32
        if want_lm:
            head = self.hf.get_output_embeddings()
            out["lm_logits"] = head(h.to(head.weight.dtype)).float()
        return out


def trainable_state(evaluator, projector: bool) -> dict[str, Any]:
    """The parameters an evaluator adds to its base: LoRA matrices and (when trained)
    the projector, under their names in the base model; heads apart (see :func:`heads_state`)."""
    out = {}
    for name, p in evaluator.hf.named_parameters():
        if "lora_" in name or (projector and PROJECTOR_PATTERN.search(name)):
            out[name] = p
    return out


def heads_state(evaluator) -> dict[str, Any]:
    """Head parameters keyed ``<target>.<layer>.<weight|bias>``."""
    return dict(evaluator.heads.named_parameters())


def judges_state(evaluator) -> dict[str, Any]:
    """Pair-judge parameters keyed ``<target>.<name>`` (empty without judges)."""
    judges = getattr(evaluator, "judges", None)
    return dict(judges.named_parameters()) if judges is not None else {}

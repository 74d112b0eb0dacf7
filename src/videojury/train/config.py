"""The training configuration: dataclasses, YAML/JSON loading, overrides.

A run is described by one :class:`TrainConfig`, read from a YAML or JSON
file by :func:`load_config` (unknown keys are errors that name the key and
the keys that are allowed, so a typo never silently falls back to a
default). ``--set section.key=value`` overrides from the command line go
through the same checks. The resolved configuration is written next to the
results, so a run can always be traced to the settings that made it.

Minimal YAML::

    base: internvl3-8b
    output_dir: runs/love-quality
    data:
      train: data/train.csv        # manifest with video, prompt, prompt_id, mos columns
      split: prompt
    targets:
      - name: quality
        column: mos
        dimension: quality         # wording from the level-judge table

Everything else has a default that follows LOVE (LoRA r=16, alpha=32,
dropout 0.05 on the language model; L1 loss on MOS/100).
"""

from __future__ import annotations

import dataclasses
import json
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError

# LoRA targets of the language model in every supported family (Qwen2-style
# decoders: attention and MLP projections).
DEFAULT_LM_TARGETS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                      "down_proj"]
# Linear layers of the vision towers: Qwen2.5/3-VL (qkv, proj, linear_fc1/2,
# gate/up/down), InternViT-hf (q/k/v_proj, projection_layer, fc1/2), SigLIP
# (q/k/v/out_proj, fc1/fc2).
DEFAULT_VISION_TARGETS = ["qkv", "proj", "q_proj", "k_proj", "v_proj", "out_proj",
                          "projection_layer", "fc1", "fc2", "linear_fc1", "linear_fc2",
                          "gate_proj", "up_proj", "down_proj"]
STAGE_KINDS = ("projector", "regression", "qa", "pairwise")


@dataclass
class DataConfig:
    """Where the examples come from and how videos become frames.

    ``train``/``val``/``qa``: a manifest (CSV/JSONL/Parquet with ``video``,
    ``prompt``, ``prompt_id``, ``model`` and MOS columns), a LOVE/AIGVE-60K
    JSONL file, or a list of them. ``val`` empty: the validation set is split
    off ``train`` by ``split`` (``prompt``: no prompt in both sets;
    ``model``: the generators in ``val_models``, or a fraction of them, are
    held out - LOVE's unseen-generator setting; ``none``: no validation).
    ``video_root``: folder that relative paths in LOVE files start from
    (default: the file's folder). ``prompts``: optional table ``video,
    prompt`` giving prompts to rows that lack one (LOVE MOS files carry
    none). ``pairs``/``val_pairs``: preference tables (``video_a``,
    ``video_b``, ``winner`` a/b/tie, optional ``dimension`` naming a target)
    for a ``pairwise`` stage; without ``val_pairs``, a pair touching a
    validation video is a validation pair. Frames: ``frames`` uniform frames at segment centres (LOVE: 8),
    resized to ``size`` (width, height); sampling is deterministic.
    """

    train: str | list[str] = ""
    val: str | list[str] = ""
    qa: str | list[str] = ""
    val_qa: str | list[str] = ""
    pairs: str | list[str] = ""
    val_pairs: str | list[str] = ""
    video_root: str = ""
    prompts: str = ""
    split: str = "prompt"
    val_fraction: float = 0.2
    val_models: list[str] = field(default_factory=list)
    frames: int = 8
    size: list[int] = field(default_factory=lambda: [448, 448])
    cache: bool = False
    num_workers: int = 0
    limit: int = 0


@dataclass
class TargetConfig:
    """One dimension the evaluator scores, with its own regression head.

    ``column``: the MOS column of a manifest, or the LOVE kind
    (``perception``/``correspondence``) for LOVE files (default: ``name``,
    then ``mos``). ``dimension``: wording from the level-judge table
    (``quality``, ``correspondence``, ...); ``question``/``prefix`` override
    it (``{prompt}`` in the question is the item's prompt). ``scale``: MOS
    range (the loss reads MOS/scale).
    """

    name: str = "quality"
    column: str = ""
    dimension: str = ""
    question: str = ""
    prefix: str = ""
    scale: float = 100.0


@dataclass
class LoraConfig:
    """LoRA on the language model (and optionally the vision tower), LOVE's defaults."""

    r: int = 16
    alpha: int = 32
    dropout: float = 0.05
    targets: list[str] = field(default_factory=lambda: list(DEFAULT_LM_TARGETS))
    vision: bool = False
    vision_targets: list[str] = field(default_factory=lambda: list(DEFAULT_VISION_TARGETS))
    layers: str = ""  # optional regular expression the module name must also match


@dataclass
class HeadConfig:
    """The MLP regression head on the hidden state before the level word."""

    hidden: int = 0  # 0: the backbone's hidden size
    dropout: float = 0.0
    init_bias: float = 0.5  # MOS/scale the untrained head is centred on
    # anchor: the token before the level word; love_minus4: LOVE's hidden_states[-1][:, -4]
    position: str = "anchor"


@dataclass
class TemporalConfig:
    """The temporal branch (:mod:`.temporal`): a video net whose features enter the
    language model as ``tokens`` extra tokens after the video.

    ``kind``: ``none``, ``dover_technical`` / ``fast_vqa`` (the Swin3D fragment
    net of DOVER's technical branch / FAST-VQA, LOVE's branch) or ``slowfast``
    (a SlowFast-style motion pathway, AIGV-Assessor). ``checkpoint``: an
    official Swin3D file (LOVE's temporal.pth, FAST-VQA, DOVER; empty: random
    init). ``trainable``: train the video net too (the projector always
    trains). ``width``: 0 for the real size (Swin-T 96, motion pathway 32).
    """

    kind: str = "none"
    checkpoint: str = ""
    trainable: bool = False
    tokens: int = 4
    width: int = 0


@dataclass
class JudgeConfig:
    """AIGV-Assessor's pair judge (see :mod:`.pairwise`): hidden width (0: 256) and the
    weight its score-difference term starts with."""

    hidden: int = 0
    score_weight: float = 10.0


@dataclass
class LossConfig:
    """Weights of the losses of the regression stage (L1 on MOS/scale always on)."""

    l1: float = 1.0
    plcc: float = 0.0
    rank: float = 0.0
    rank_margin: float = 0.0
    lm: float = 0.0  # cross-entropy on the level word (keeps the model a level judge too)


@dataclass
class StageConfig:
    """One training stage.

    ``kind``: ``projector`` (LOVE stage 1: only the vision-language
    projector, cross-entropy on the level word of each MOS), ``regression``
    (LoRA + heads, L1 and the optional losses), ``qa`` (LoRA,
    cross-entropy on the yes/no answer) or ``pairwise`` (AIGV-Assessor's
    stage 3: both videos of a preference pair through the same weights,
    LoRA + heads + the pair judge, cross-entropy on the preference). ``lr`` 0 takes
    ``train.lr``; ``train_projector`` also trains the projector in the
    regression and QA stages.
    """

    kind: str = "regression"
    epochs: float = 3
    lr: float = 0.0
    train_projector: bool = False


@dataclass
class VQAConfig:
    """Fine-tune a deep VQA network on MOS instead of an LMM (AIGV-Assessor's baselines).

    ``model``: ``fast_vqa``, ``faster_vqa`` or ``dover`` (empty: the LMM
    trainer). ``weights``: its official checkpoint (a short name of the
    weight-file table or a path; empty: the metric's default file).
    ``train``: ``head`` (frozen backbone, its features computed once and
    kept in memory; fast) or ``all`` (the whole network). ``seed``: the
    fragment draws of the test-time views (the metric's ``seed`` option), the
    same views at every epoch and at scoring time. ``calibrate``: start the
    output map (MOS/scale = a * raw + b) at the least-squares fit of the
    untrained network's raw scores on the training set.
    """

    model: str = ""
    weights: str = ""
    train: str = "head"
    seed: int = 0
    calibrate: bool = True


VQA_MODELS = ("fast_vqa", "faster_vqa", "dover")


@dataclass
class TrainLoopConfig:
    """Optimisation and bookkeeping.

    ``batch_size`` per process; the effective batch is ``batch_size x
    grad_accum x processes``. ``checkpoint_every``: optimizer steps between
    resumable checkpoints (0: at the end of each epoch only).
    ``max_steps`` > 0 stops a stage after that many optimizer steps (for
    smoke tests). ``bf16``: bf16 weights and autocast on CUDA (never on CPU).
    """

    lr: float = 1e-4
    head_lr: float = 0.0  # 0: the same as the stage's lr
    batch_size: int = 2
    eval_batch_size: int = 4
    grad_accum: int = 1
    weight_decay: float = 0.0
    warmup_ratio: float = 0.03
    schedule: str = "cosine"
    max_grad_norm: float = 1.0
    gradient_checkpointing: bool = False
    bf16: bool = True
    checkpoint_every: int = 0
    keep_checkpoints: int = 2
    padding_side: str = "left"
    max_steps: int = 0
    device: str = ""
    threads: int = 0  # CPU threads for torch (0: torch's default); 1 is fastest on a busy CPU
    select_by: str = "srcc"
    tensorboard: bool = True


@dataclass
class TrainConfig:
    """A whole training run (see the module docstring for the YAML layout)."""

    base: str = ""
    processor: str = ""
    trust_remote_code: bool = False
    output_dir: str = ""
    seed: int = 0
    data: DataConfig = field(default_factory=DataConfig)
    targets: list[TargetConfig] = field(default_factory=lambda: [TargetConfig()])
    lora: LoraConfig = field(default_factory=LoraConfig)
    head: HeadConfig = field(default_factory=HeadConfig)
    judge: JudgeConfig = field(default_factory=JudgeConfig)
    temporal: TemporalConfig = field(default_factory=TemporalConfig)
    loss: LossConfig = field(default_factory=LossConfig)
    stages: list[StageConfig] = field(default_factory=lambda: [StageConfig()])
    train: TrainLoopConfig = field(default_factory=TrainLoopConfig)
    vqa: VQAConfig = field(default_factory=VQAConfig)
    source: str = ""  # file the config was read from (relative paths start at its folder)

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able form (what ``config.json`` holds)."""
        return dataclasses.asdict(self)

    def validate(self) -> TrainConfig:
        """Check values that the types alone do not (raises :class:`InputError`)."""
        if self.vqa.model:
            self._validate_vqa()
        elif not self.base:
            raise InputError("config: 'base' is empty; name the backbone checkpoint (a short "
                             "name such as internvl3-8b, a folder, or a hub id)")
        if not self.output_dir:
            raise InputError("config: 'output_dir' is empty; say where the run is written")
        if not self.targets:
            raise InputError("config: 'targets' is empty; give at least one dimension to score")
        names = [t.name for t in self.targets]
        if len(set(names)) != len(names) or any(not n for n in names):
            raise InputError(f"config: target names must be non-empty and distinct, got {names}")
        for t in self.targets:
            if t.scale <= 0:
                raise InputError(f"config: targets[{t.name}].scale must be > 0")
        if self.data.split not in ("prompt", "model", "none"):
            raise InputError(f"config: data.split must be prompt, model or none, got "
                             f"{self.data.split!r}")
        if not 0.0 <= self.data.val_fraction < 1.0:
            raise InputError("config: data.val_fraction must be in [0, 1)")
        if self.data.frames < 1:
            raise InputError("config: data.frames must be >= 1")
        if len(self.data.size) != 2 or min(self.data.size) < 1:
            raise InputError(f"config: data.size must be [width, height], got {self.data.size}")
        if not self.stages:
            raise InputError("config: 'stages' is empty")
        for i, st in enumerate(self.stages):
            if st.kind not in STAGE_KINDS:
                raise InputError(f"config: stages[{i}].kind must be one of "
                                 f"{', '.join(STAGE_KINDS)}, got {st.kind!r}")
            if st.epochs < 0:
                raise InputError(f"config: stages[{i}].epochs must be >= 0")
        tl = self.train
        if tl.batch_size < 1 or tl.eval_batch_size < 1 or tl.grad_accum < 1:
            raise InputError("config: train.batch_size, eval_batch_size and grad_accum must "
                             "be >= 1")
        if tl.schedule not in ("cosine", "linear", "constant"):
            raise InputError(f"config: train.schedule must be cosine, linear or constant, got "
                             f"{tl.schedule!r}")
        if tl.padding_side not in ("left", "right"):
            raise InputError("config: train.padding_side must be left or right")
        if tl.select_by not in ("srcc", "plcc", "krcc", "loss", "pair_acc"):
            raise InputError("config: train.select_by must be srcc, plcc, krcc, loss or "
                             "pair_acc")
        if any(st.kind == "pairwise" and st.epochs > 0 for st in self.stages) \
                and not self.data.pairs:
            raise InputError("config: a pairwise stage needs preference pairs (data.pairs)")
        if self.judge.hidden < 0:
            raise InputError("config: judge.hidden must be >= 0")
        if self.head.position not in ("anchor", "love_minus4"):
            raise InputError(f"config: head.position must be anchor or love_minus4, got "
                             f"{self.head.position!r}")
        if self.head.position == "love_minus4" and self.loss.lm:
            raise InputError("config: head.position love_minus4 reads the 4th token from the "
                             "end of each row, and loss.lm appends the level word to training "
                             "rows but not to scored ones, so training and scoring would read "
                             "different tokens; set loss.lm to 0 or use head.position anchor")
        tc = self.temporal
        if tc.kind not in ("none", "dover_technical", "fast_vqa", "slowfast"):
            raise InputError(f"config: temporal.kind must be none, dover_technical, fast_vqa or "
                             f"slowfast, got {tc.kind!r}")
        if tc.kind != "none" and not 1 <= tc.tokens <= 64:
            raise InputError("config: temporal.tokens must be in 1..64")
        if tc.width < 0:
            raise InputError("config: temporal.width must be >= 0 (0: the real size)")
        if tc.checkpoint and tc.kind in ("none", "slowfast"):
            raise InputError(f"config: temporal.checkpoint is set but temporal.kind is "
                             f"{tc.kind!r}; a checkpoint is for dover_technical or fast_vqa")
        if tc.kind != "none" and self.vqa.model:
            raise InputError("config: temporal: is for an LMM evaluator; not with vqa.model")
        if self.lora.r < 0 or self.lora.alpha <= 0 or not 0 <= self.lora.dropout < 1:
            raise InputError("config: lora.r must be >= 0 (0: no LoRA), alpha > 0, "
                             "0 <= dropout < 1")
        return self

    def _validate_vqa(self) -> None:
        v = self.vqa
        if v.model not in VQA_MODELS:
            raise InputError(f"config: vqa.model must be one of {', '.join(VQA_MODELS)}, got "
                             f"{v.model!r}")
        if v.train not in ("head", "all"):
            raise InputError(f"config: vqa.train must be head or all, got {v.train!r}")
        if v.seed < 0:
            raise InputError("config: vqa.seed must be >= 0")
        if self.base:
            raise InputError("config: give either 'base' (an LMM) or 'vqa.model' (a VQA "
                             "network), not both")
        if len(self.targets) != 1:
            raise InputError(f"config: a VQA network predicts one score; give one target, got "
                             f"{len(self.targets)}")
        bad = [i for i, st in enumerate(self.stages) if st.kind != "regression"]
        if bad:
            raise InputError(f"config: stages[{bad[0]}].kind is {self.stages[bad[0]].kind!r}; "
                             "a VQA network trains regression stages only")
        if self.loss.lm:
            raise InputError("config: loss.lm needs a language model; set it to 0 with "
                             "vqa.model")

    def resolve_path(self, value: str) -> str:
        """``value`` relative to the config file's folder (absolute paths unchanged)."""
        if not value:
            return value
        p = Path(os.path.expanduser(value))
        if p.is_absolute() or not self.source:
            return str(p)
        return str(Path(self.source).resolve().parent / p)


# --- reading ------------------------------------------------------------------

def _type_name(tp: Any) -> str:
    return getattr(tp, "__name__", str(tp))


def _convert(value: Any, tp: Any, where: str) -> Any:
    """``value`` checked against (and gently coerced to) the annotated type ``tp``."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise InputError(f"config: {where} must be a mapping, got {type(value).__name__}")
        return _build(tp, value, where)
    if origin in (typing.Union, types.UnionType):
        errors = []
        # Try list first so "a" and ["a", "b"] both fit ``str | list[str]`` as written.
        for option in sorted(args, key=lambda a: typing.get_origin(a) is not list):
            try:
                return _convert(value, option, where)
            except InputError as exc:
                errors.append(str(exc))
        raise InputError(errors[-1])
    if origin is list:
        if isinstance(value, tuple):
            value = list(value)
        if not isinstance(value, list):
            raise InputError(f"config: {where} must be a list, got {value!r}")
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is bool:
        if isinstance(value, bool):
            return value
        if isinstance(value, str) and value.lower() in ("true", "yes", "on", "1", "false", "no",
                                                        "off", "0"):
            return value.lower() in ("true", "yes", "on", "1")
        raise InputError(f"config: {where} must be true or false, got {value!r}")
    if tp is int:
        if isinstance(value, bool):
            raise InputError(f"config: {where} must be an integer, got {value!r}")
        if isinstance(value, float) and value.is_integer():
            return int(value)
        try:
            return int(value)
        except (TypeError, ValueError):
            raise InputError(f"config: {where} must be an integer, got {value!r}") from None
    if tp is float:
        if isinstance(value, bool):
            raise InputError(f"config: {where} must be a number, got {value!r}")
        try:
            return float(value)
        except (TypeError, ValueError):
            raise InputError(f"config: {where} must be a number, got {value!r}") from None
    if tp is str:
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            raise InputError(f"config: {where} must be text, got {value!r}")
        return str(value)
    raise InputError(f"config: {where}: unsupported type {_type_name(tp)}")  # pragma: no cover


def _build(cls: type, data: dict[str, Any], where: str) -> Any:
    hints = typing.get_type_hints(cls)
    allowed = [f.name for f in dataclasses.fields(cls)]
    kwargs = {}
    for key, value in data.items():
        if key not in allowed:
            import difflib

            close = difflib.get_close_matches(str(key), allowed, n=1)
            hint = f" (did you mean {close[0]!r}?)" if close else ""
            raise InputError(f"config: unknown key {where + '.' if where else ''}{key}{hint}; "
                             f"allowed: {', '.join(allowed)}")
        kwargs[key] = _convert(value, hints[key], f"{where + '.' if where else ''}{key}")
    return cls(**kwargs)


def config_from_dict(data: dict[str, Any], source: str = "") -> TrainConfig:
    """A validated :class:`TrainConfig` from a plain mapping."""
    if not isinstance(data, dict):
        raise InputError(f"config {source or ''}: the top level must be a mapping")
    data = dict(data)
    data.pop("source", None)
    cfg = _build(TrainConfig, data, "")
    cfg.source = source
    return cfg.validate()


def _read_mapping(path: Path) -> dict[str, Any]:
    if not path.is_file():
        what = "does not exist" if not path.exists() else "is a folder, a named pipe or a device"
        raise InputError(f"{path}: config file {what}; pass a YAML or JSON file")
    try:
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(f"{path}: not valid UTF-8 text (byte {exc.start}); save the config as "
                         "UTF-8") from None
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    try:
        import yaml
    except ImportError:  # pragma: no cover - PyYAML ships with most environments
        raise InputError(f"{path}: reading YAML needs PyYAML (pip install pyyaml); or write "
                         "the config as JSON") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise InputError(f"{path}: not valid YAML ({exc})") from None
    if data is None:
        raise InputError(f"{path}: the config file is empty; docs/training.md lists its keys")
    if not isinstance(data, dict):
        raise InputError(f"{path}: a config is a mapping of sections (model:, data:, ...), got "
                         f"{type(data).__name__}")
    return data


def apply_overrides(data: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` overrides (values parsed as YAML/JSON scalars or lists)."""
    out = json.loads(json.dumps(data))
    for ov in overrides:
        key, eq, raw = ov.partition("=")
        if not eq or not key.strip():
            raise InputError(f"override {ov!r} is not of the form section.key=value")
        try:
            import yaml

            value = yaml.safe_load(raw)
        except Exception:  # noqa: BLE001 - fall back to the raw text
            value = raw
        node = out
        parts = key.strip().split(".")
        for part in parts[:-1]:
            if part.isdigit() and isinstance(node, list):
                node = node[int(part)]
                continue
            node = node.setdefault(part, {})
            if not isinstance(node, (dict, list)):
                raise InputError(f"override {ov!r}: {part} is not a section")
        last = parts[-1]
        if last.isdigit() and isinstance(node, list):
            node[int(last)] = value
        else:
            node[last] = value
    return out


def load_config(path: str | os.PathLike, overrides: list[str] | None = None) -> TrainConfig:
    """Read a YAML or JSON config file, apply overrides, validate."""
    p = Path(path)
    data = _read_mapping(p)
    if overrides:
        data = apply_overrides(data, overrides)
    return config_from_dict(data, source=str(p))

"""Training examples: reading manifests and LOVE files, splitting, frames.

An :class:`Example` is one (video, target) pair with its MOS, or one
(video, question) pair with its yes/no answer. They come from

* manifests (CSV/JSONL/Parquet read by :mod:`videojury.data.items`): a
  ``video`` column, ``prompt``/``prompt_id``/``model`` when known, one MOS
  column per target (``targets[].column``, default the target's name, then
  ``mos``), and for QA rows ``question`` and ``answer``;
* LOVE / AIGVE-60K JSONL (read by :mod:`videojury.human.importers`): MOS
  files (perception or correspondence, matched to the target whose
  ``column`` or name is that kind, or to the only target) and QA files.

The validation set is split off deterministically (seeded): by prompt, so
no prompt is in both sets, or by T2V model, so the validation generators are
unseen in training. Frames are ``frames`` uniform samples at segment centres
resized to a fixed size: the same frames at every epoch and at scoring time.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import InputError
from ..text import yes_no_int
from ..video import FramePolicy, Resize


@dataclass
class Example:
    """One training or validation example (``kind`` ``mos`` or ``qa``)."""

    video: str
    kind: str = "mos"
    target: int = -1
    value: float = float("nan")  # MOS / scale
    mos: float = float("nan")  # MOS as given
    answer: int = -1  # 1 yes, 0 no (QA)
    prompt: str | None = None
    prompt_id: str | None = None
    model: str | None = None
    question: str | None = None
    where: str = ""

    @property
    def group(self) -> str:
        """The prompt this example belongs to (prompt id, else prompt text, else video)."""
        return self.prompt_id or self.prompt or self.video


@dataclass
class PairExample:
    """One preference pair for the pairwise stage: ``label`` 1 (a better), 0 (b), 0.5 (tie)."""

    video_a: str
    video_b: str
    target: int
    label: float
    prompt: str | None = None
    where: str = ""


@dataclass
class Split:
    """Train and validation examples (MOS, QA and pairs), and how they were split."""

    train: list[Example] = field(default_factory=list)
    val: list[Example] = field(default_factory=list)
    train_qa: list[Example] = field(default_factory=list)
    val_qa: list[Example] = field(default_factory=list)
    train_pairs: list[PairExample] = field(default_factory=list)
    val_pairs: list[PairExample] = field(default_factory=list)
    how: str = ""

    def describe(self) -> str:
        pairs = (f", {len(self.train_pairs)} / {len(self.val_pairs)} pairs"
                 if self.train_pairs or self.val_pairs else "")
        return (f"{len(self.train)} train / {len(self.val)} validation MOS examples, "
                f"{len(self.train_qa)} / {len(self.val_qa)} QA{pairs} ({self.how})")


def frame_policy(frames: int, size: Sequence[int]) -> FramePolicy:
    """``frames`` uniform frames resized to ``size`` (width, height)."""
    return FramePolicy.uniform(int(frames), resize=Resize(size=(int(size[0]), int(size[1]))))


def _as_list(value: str | list[str]) -> list[str]:
    if not value:
        return []
    return [value] if isinstance(value, str) else [v for v in value if v]


def _is_love(path: Path) -> bool:
    if path.suffix.lower() not in (".jsonl", ".json", ".ndjson"):
        return False
    with open(path, encoding="utf-8") as fh:
        head = fh.read(4096)
    return '"conversations"' in head


def _num(value: Any) -> float:
    if value is None or (isinstance(value, str) and not value.strip()):
        return float("nan")
    try:
        return float(value)
    except (TypeError, ValueError):
        return float("inf")  # flagged by the caller with the row


def _clean(value: Any) -> str | None:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    s = str(value).strip()
    return s or None


def _yes_no(value: Any) -> int:
    return yes_no_int(value)


def _read_prompts(path: str) -> dict[str, str]:
    from ..data.items import read_table

    df = read_table(path)
    if "video" not in df.columns or "prompt" not in df.columns:
        raise InputError(f"{path}: a prompts table needs 'video' and 'prompt' columns")
    out = {}
    for v, p in zip(df["video"], df["prompt"]):
        v, p = _clean(v), _clean(p)
        if v and p:
            out[v] = p
            out.setdefault(Path(v).name, p)
    return out


def _target_for_kind(kind: str, targets, path: Path) -> int:
    for i, t in enumerate(targets):
        if (t.column or t.name) == kind or t.name == kind:
            return i
    if len(targets) == 1:
        return 0
    names = ", ".join(f"{t.name} (column {t.column or t.name})" for t in targets)
    raise InputError(f"{path}: a LOVE {kind} file, but no target has column {kind!r} "
                     f"(targets: {names}); set targets[].column to {kind!r}")


def load_examples(paths: str | list[str], targets, *, qa: bool = False, video_root: str = "",
                  prompts: dict[str, str] | None = None, resolve=lambda p: p) -> list[Example]:
    """Examples from manifests and LOVE files (MOS rows, or QA rows when ``qa``).

    ``resolve`` maps a path from the config to a real path (relative to the
    config's folder). Raises :class:`InputError` naming the file and row for
    missing columns and unreadable values.
    """
    from ..data.items import load_manifest
    from ..human.importers import load_love_jsonl

    out: list[Example] = []
    for raw in _as_list(paths):
        path = Path(resolve(raw))
        if not path.exists():
            raise InputError(f"{path}: data file does not exist")
        if _is_love(path):
            root = Path(resolve(video_root)) if video_root else path.resolve().parent
            df = load_love_jsonl(path, kind="qa" if qa else None, model_from_path=True)
            kind = df.attrs.get("love_kind", "")
            if qa != (kind == "qa"):
                raise InputError(f"{path}: a LOVE {kind} file given as "
                                 f"{'QA' if qa else 'MOS'} data; put it under data."
                                 f"{'train/val' if kind != 'qa' else 'qa'}")
            t_idx = -1 if qa else _target_for_kind(kind, targets, path)
            for i, rec in enumerate(df.to_dict("records"), 1):
                video = str(rec["video"])
                full = video if os.path.isabs(video) else str(root / video)
                prompt = (prompts or {}).get(video) or (prompts or {}).get(Path(video).name)
                ex = Example(video=full, prompt=prompt, model=_clean(rec.get("model")),
                             where=f"{path} row {i}")
                if qa:
                    ex.kind, ex.question, ex.answer = "qa", rec["question"], _yes_no(
                        rec.get("answer"))
                    if ex.answer < 0:
                        continue  # unparseable human answers teach nothing
                else:
                    ex.target, ex.mos = t_idx, float(rec["mos"])
                    ex.value = ex.mos / targets[t_idx].scale
                out.append(ex)
            continue
        items = load_manifest(path)
        cols = set(items[0].extra) if items else set()
        for item in items:
            prompt = item.prompt or (prompts or {}).get(item.video) or (prompts or {}).get(
                Path(item.video).name)
            base = dict(video=item.video, prompt=prompt, prompt_id=item.prompt_id,
                        model=item.model, where=item.where)
            if qa:
                if not item.question or item.answer is None:
                    raise InputError(f"{item.where}: QA rows need 'question' and 'answer' "
                                     "columns with values")
                ans = _yes_no(item.answer)
                if ans >= 0:
                    out.append(Example(kind="qa", question=item.question, answer=ans, **base))
                continue
            for t_idx, t in enumerate(targets):
                col = t.column or (t.name if t.name in cols else "mos")
                if col not in cols:
                    raise InputError(f"{path}: no column {col!r} for target {t.name!r} "
                                     f"(columns: {', '.join(sorted(cols)) or 'none'}); set "
                                     "targets[].column")
                v = _num(item.extra.get(col))
                if math.isnan(v):
                    continue  # this video has no score for this target
                if not math.isfinite(v):
                    raise InputError(f"{item.where}, column {col!r}: not a number: "
                                     f"{item.extra.get(col)!r}")
                out.append(Example(kind="mos", target=t_idx, mos=v, value=v / t.scale, **base))
    return out


def load_pair_examples(paths: str | list[str], targets, *, prompts: dict[str, str] | None = None,
                       resolve=lambda p: p) -> list[PairExample]:
    """Preference pairs from tables read by :func:`videojury.human.importers.load_pairs`.

    Relative video paths start at the table's folder. A ``dimension`` names
    the target the pair is about; with one target every pair is about it.
    """
    from ..human.importers import load_pairs

    names = [t.name for t in targets]
    out: list[PairExample] = []
    for raw in _as_list(paths):
        path = Path(resolve(raw))
        if not path.exists():
            raise InputError(f"{path}: pairs file does not exist")
        df = load_pairs(path)
        root = path.resolve().parent
        for i, rec in enumerate(df.to_dict("records"), 1):
            dim = str(rec.get("dimension") or "")
            if dim in names:
                t_idx = names.index(dim)
            elif len(names) == 1:
                t_idx = 0
            else:
                raise InputError(f"{path} row {i}: field 'dimension' is {dim!r}, not one of the "
                                 f"targets ({', '.join(names)}); name the target each pair is "
                                 "about")
            va, vb = (v if os.path.isabs(v) else str(root / v)
                      for v in (str(rec["video_a"]), str(rec["video_b"])))
            label = {"a": 1.0, "b": 0.0, "tie": 0.5}[rec["winner"]]
            prompt = None
            if prompts:
                prompt = prompts.get(va) or prompts.get(Path(va).name)
            out.append(PairExample(va, vb, t_idx, label, prompt, f"{path} row {i}"))
    return out


def _attach_pairs(cfg, out: Split, examples: list[Example], kw: dict) -> None:
    """Read the configured pairs into ``out`` (validation: ``val_pairs``, or the pairs that
    touch a validation video)."""
    d = cfg.data
    if not d.pairs and not d.val_pairs:
        return
    known = {e.video: e.prompt for e in examples if e.prompt}
    prompts = dict(kw.get("prompts") or {}, **known)
    train = load_pair_examples(d.pairs, cfg.targets, prompts=prompts, resolve=cfg.resolve_path) \
        if d.pairs else []
    if d.val_pairs:
        out.train_pairs = train
        out.val_pairs = load_pair_examples(d.val_pairs, cfg.targets, prompts=prompts,
                                           resolve=cfg.resolve_path)
        return
    val_videos = {e.video for e in out.val + out.val_qa}
    out.val_pairs = [p for p in train if p.video_a in val_videos or p.video_b in val_videos]
    out.train_pairs = [p for p in train if not (p.video_a in val_videos
                                                or p.video_b in val_videos)]


def _pick(keys: list[str], fraction: float, seed: int) -> set[str]:
    """A seeded random ``fraction`` of ``keys`` (at least one when fraction > 0)."""
    uniq = sorted(set(keys))
    if fraction <= 0 or len(uniq) < 2:
        return set()
    rng = np.random.default_rng(seed)
    order = rng.permutation(len(uniq))
    n = min(len(uniq) - 1, max(1, int(round(fraction * len(uniq)))))
    return {uniq[i] for i in order[:n]}


def split_examples(cfg) -> Split:
    """Read the configured data and split it (see :class:`~.config.DataConfig`)."""
    d = cfg.data
    prompts = _read_prompts(cfg.resolve_path(d.prompts)) if d.prompts else None
    kw = dict(video_root=d.video_root, prompts=prompts, resolve=cfg.resolve_path)
    train = load_examples(d.train, cfg.targets, **kw)
    qa = load_examples(d.qa, cfg.targets, qa=True, **kw) if d.qa else []
    if not train and not qa and not d.pairs:
        raise InputError("config: data.train gives no examples (is data.train set?)")
    if d.val:
        out = Split(train=train, val=load_examples(d.val, cfg.targets, **kw), train_qa=qa,
                    val_qa=load_examples(d.val_qa, cfg.targets, qa=True, **kw)
                    if d.val_qa else [], how="validation files given")
        _check_disjoint(out)
        # Videos never overlap (checked); prompts may, which LOVE's protocol
        # avoids. Say so in the split summary rather than refuse: it can be wanted.
        shared = ({e.group for e in out.train + out.train_qa if e.prompt_id or e.prompt}
                  & {e.group for e in out.val + out.val_qa if e.prompt_id or e.prompt})
        if shared:
            out.how += (f"; {len(shared)} prompts are in both sets, so validation is not "
                        "prompt-disjoint (e.g. " + repr(sorted(shared)[0]) + ")")
    elif d.split == "none":
        out = Split(train=train, train_qa=qa, how="no validation")
    else:
        if d.split == "prompt":
            key = lambda e: e.group  # noqa: E731
        else:
            missing = [e for e in train + qa if not e.model]
            if missing:
                raise InputError(f"{missing[0].where}: split by model needs a 'model' column "
                                 "(the T2V generator of each video)")
            key = lambda e: e.model  # noqa: E731
        if d.split == "model" and d.val_models:
            held = set(d.val_models)
            unknown = held - {key(e) for e in train + qa}
            if unknown:
                raise InputError(f"config: data.val_models names models not in the data: "
                                 f"{sorted(unknown)}")
        else:
            held = _pick([key(e) for e in train + qa], d.val_fraction, cfg.seed)
        # QA rows follow their video when its MOS rows are placed, so a video
        # never sits on both sides.
        val_videos = {e.video for e in train if key(e) in held}
        train_videos = {e.video for e in train if key(e) not in held}
        clash = val_videos & train_videos
        if clash:
            raise InputError(f"video {sorted(clash)[0]} has rows with different "
                             f"{d.split}s; it cannot be split by {d.split}")

        def in_val(e: Example) -> bool:
            return key(e) in held or e.video in val_videos

        out = Split(train=[e for e in train if not in_val(e)], val=[e for e in train if in_val(e)],
                    train_qa=[e for e in qa if not in_val(e)], val_qa=[e for e in qa if in_val(e)],
                    how=f"by {d.split}: {len(held)} of {len({key(e) for e in train + qa})} "
                        f"{d.split}s held out")
        if d.split == "prompt":
            loose = sum(1 for e in train + qa if not (e.prompt_id or e.prompt))
            if loose:
                # Without a prompt a row is its own group: say so, the split is then by video.
                out.how += (f"; {loose} rows have no prompt or prompt_id and are grouped by "
                            "video (give data.prompts or a prompt_id column)")
    if d.limit > 0:
        out.train, out.train_qa = out.train[:d.limit], out.train_qa[:d.limit]
    _attach_pairs(cfg, out, train + qa, kw)
    if d.limit > 0:
        out.train_pairs = out.train_pairs[:d.limit]
    return out


def _check_disjoint(split: Split) -> None:
    both = {e.video for e in split.train} & {e.video for e in split.val}
    if both:
        raise InputError(f"video {sorted(both)[0]} is in both the training and the validation "
                         "data")


class FrameCache:
    """Decodes a video's frames with the fixed policy; optionally keeps them in memory."""

    def __init__(self, policy: FramePolicy, keep: bool = False) -> None:
        self.policy = policy
        self.keep = keep
        self._frames: dict[str, Any] = {}

    def __call__(self, video: str):
        from ..video import sample

        hit = self._frames.get(video)
        if hit is not None:
            return hit
        frames = sample(video, self.policy)
        if self.keep:
            self._frames[video] = frames
        return frames


class EncodedDataset:
    """Map-style dataset: example index -> :class:`~.model.Encoded` (frames through the
    processor), for a ``torch.utils.data.DataLoader``.

    ``with_answer`` appends the level word (MOS) or Yes/No (QA) so the
    language-model loss has a target; the anchor is the same either way.
    ``cache`` keeps encoded examples in memory (use with ``num_workers=0``).
    """

    def __init__(self, examples: Sequence[Example], encoder, frames: FrameCache,
                 with_answer: bool, cache: bool = False) -> None:
        self.examples = list(examples)
        self.encoder = encoder
        self.frames = frames
        self.with_answer = with_answer
        self.cache = cache
        self._cache: dict[int, Any] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def __getitem__(self, i: int):
        hit = self._cache.get(i)
        if hit is not None:
            return hit
        ex = self.examples[i]
        frames = self.frames(ex.video)
        if ex.kind == "qa":
            before, full = self.encoder.qa_texts(ex.question or "", ex.answer, self.with_answer)
        else:
            before, full = self.encoder.mos_texts(ex.target, ex.prompt, ex.value,
                                                  self.with_answer)
        enc = self.encoder.encode(frames, before, full)
        if ex.kind == "qa":
            enc.choices = self.encoder.answer_ids(before)
        enc.target, enc.value, enc.answer, enc.index = ex.target, ex.value, ex.answer, i
        if self.cache:
            self._cache[i] = enc
        return enc

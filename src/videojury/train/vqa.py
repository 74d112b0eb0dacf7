"""Fine-tuning a deep VQA network on MOS (``videojury train`` with a ``vqa:`` section).

AIGV-Assessor fine-tunes its deep VQA baselines (FAST-VQA, DOVER, ...) on
each dataset's MOS; this trainer does the same for the networks of
:mod:`videojury.metrics.vqa`, starting from their official checkpoints::

    output_dir: runs/fastvqa-aigv
    vqa: {model: fast_vqa, weights: fast-vqa-b, train: head}
    data: {train: labelled.csv, split: prompt}
    targets: [{name: quality, column: mos, scale: 100}]
    stages: [{kind: regression, epochs: 20}]
    train: {lr: 1e-3, batch_size: 8}
    loss: {l1: 1.0, plcc: 1.0, rank: 0.0}

Each video becomes the metric's own test-time views (the same frames,
fragments and seeded draws as ``-m fast_vqa:seed=S`` scores it with), so
training and scoring see the same input. The network's raw score per video
(FAST-VQA: the mean over clips; DOVER: its fused logit
``w_t (t - m_t)/s_t + w_a (a - m_a)/s_a``) is mapped to MOS/scale by a
learnt ``a * raw + b``, started at the least-squares fit of the untrained
network on the training set (``vqa.calibrate``), so the "before training"
line of the log is the released network with the best linear map, and the
loss (L1 on MOS/scale, with the optional PLCC and rank terms of the LMM
trainer) is on the same units as the LMM trainer's.

``vqa.train: head`` trains the heads (and the map) on frozen backbone
features, which are computed once per video and kept in memory (FAST-VQA:
4.8 MB per video); ``all`` trains every weight (Swin stochastic depth and
head dropout active in training, as in the official training code). The
loop, checkpoints (``--resume``), validation, best-epoch selection and logs
are the LMM trainer's (:class:`~videojury.train.loop.Trainer`); the result
folder (``evaluator.json`` with ``kind: vqa`` + ``vqa.safetensors``, the
whole network) scores with ``trained:DIR``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..errors import InputError, MetricError, require
from ..io import write_json
from .loop import Trainer
from .saving import FORMAT, FORMAT_VERSION, META_FILE, save_tensors, sha256_of

__all__ = ["VQATrainer", "VQA_WEIGHTS_FILE", "build_regressor", "load_vqa_evaluator"]

VQA_WEIGHTS_FILE = "vqa.safetensors"


@dataclass
class VQATarget:
    """The one score a VQA network is trained to predict."""

    name: str
    scale: float

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def build_regressor(model: str, arch: dict[str, Any]):
    """The trainable module: the network of ``model`` with ``arch``'s sizes and the output map."""
    import torch
    from torch import nn

    from ..metrics.vqa import DOVER_FUSE
    from ..models.vqa.nets import DOVERNet, FastVQANet

    class Regressor(nn.Module):
        """``forward(inputs)`` -> ``{"preds": (B, 1)}`` in MOS/scale units.

        ``inputs`` holds views (``clips``; DOVER: ``tech`` and ``aes``) or, with a
        frozen backbone, their features (``*_feat``); the leading two dimensions are
        (video, clip).
        """

        def __init__(self) -> None:
            super().__init__()
            self.kind = model
            if model == "dover":
                self.net = DOVERNet(arch.get("swin"), arch.get("convnext"))
            else:
                self.net = FastVQANet(arch.get("swin"))
            self.a = nn.Parameter(torch.ones(()))
            self.b = nn.Parameter(torch.zeros(()))

        def features(self, name: str, x):
            """Backbone features of views ``x`` (B, clips, C, T, H, W) -> (B, clips, ...)."""
            b, k = x.shape[:2]
            bb = {"clips": "backbone", "tech": "technical_backbone",
                  "aes": "aesthetic_backbone"}[name]
            f = getattr(self.net, bb)(x.flatten(0, 1))
            return f.view(b, k, *f.shape[1:])

        def _branch(self, name: str, inputs: dict[str, Any]):
            head = {"clips": "head", "tech": "technical_head", "aes": "aesthetic_head"}[name]
            f = inputs.get(name + "_feat")
            if f is None:
                f = self.features(name, inputs[name])
            b, k = f.shape[:2]
            out = getattr(self.net, head)(f.flatten(0, 1)).flatten(1).mean(1)
            return out.view(b, k).mean(1)

        def raw(self, inputs: dict[str, Any]):
            """The network's raw score per video (DOVER: the fused logit)."""
            if self.kind == "dover":
                c = DOVER_FUSE
                t, a = self._branch("tech", inputs), self._branch("aes", inputs)
                return ((t - c["t_mean"]) / c["t_std"] * c["t_w"]
                        + (a - c["a_mean"]) / c["a_std"] * c["a_w"])
            return self._branch("clips", inputs)

        def forward(self, inputs: dict[str, Any], anchors=None, want_lm: bool = False):
            return {"preds": (self.a * self.raw(inputs) + self.b)[:, None]}

    return Regressor()


def _is_head(name: str) -> bool:
    """Whether a parameter of the regressor is a head's or the output map's."""
    parts = name.split(".")
    return parts[0] in ("a", "b") or (len(parts) > 1 and parts[1].endswith("head"))


def _load_official(model: str, path: Path):
    """The network from its official file, and the sizes it was built with."""
    from ..models.vqa.nets import _convnext_size, _read, _swin_size, load_dover, load_fastvqa

    if model == "dover":
        net = load_dover(path)
        sd = _read(path)
        arch = {"swin": _swin_size(sd, "technical_backbone."),
                "convnext": _convnext_size(sd, "aesthetic_backbone.")}
    else:
        net = load_fastvqa(path)
        arch = {"swin": _swin_size(_read(path), "fragments_backbone.")}
    return net, {k: {n: list(x) if isinstance(x, tuple) else x for n, x in d.items()}
                 for k, d in arch.items()}


class _ViewDataset:
    """Example index -> the metric's views of its video (features when the backbone is frozen)."""

    def __init__(self, examples, metric, featurize: Callable | None) -> None:
        self.examples = list(examples)
        self.metric = metric
        self.featurize = featurize
        self._cache: dict[str, dict[str, Any]] = {}

    def __len__(self) -> int:
        return len(self.examples)

    def inputs(self, video: str) -> dict[str, Any]:
        from ..video import sample

        hit = self._cache.get(video)
        if hit is not None:
            return hit
        frames = sample(video, self.metric.frame_policy())
        views = self.metric.views(frames)
        if self.metric.name == "dover":
            out = {"tech": views[0], "aes": views[1]}
        else:
            out = {"clips": views}
        if self.featurize is not None:
            out = self.featurize(out)
            self._cache[video] = out  # features are small enough to keep
        return out

    def __getitem__(self, i: int) -> dict[str, Any]:
        ex = self.examples[i]
        return {"inputs": self.inputs(ex.video), "target": ex.target, "value": ex.value,
                "index": i}


def _collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    import torch

    keys = items[0]["inputs"].keys()
    return {"inputs": {k: torch.stack([it["inputs"][k] for it in items]) for k in keys},
            "anchors": None,
            "target": torch.tensor([it["target"] for it in items], dtype=torch.long),
            "value": torch.tensor([it["value"] for it in items], dtype=torch.float32),
            "index": torch.tensor([it["index"] for it in items], dtype=torch.long)}


class VQATrainer(Trainer):
    """The LMM trainer's loop around a VQA network (see the module docstring)."""

    export_files = (VQA_WEIGHTS_FILE, "val_predictions.csv", META_FILE)

    def setup(self) -> None:
        torch = require("torch", "models", "fine-tuning VQA networks")
        accelerate = require("accelerate", "models", "fine-tuning VQA networks")
        from ..metrics.base import load_metric
        from ..models.checkpoints import resolve_weight_file
        from .data import split_examples

        cfg, v = self.cfg, self.cfg.vqa
        cpu = self._threads_and_device(torch)
        self.acc = accelerate.Accelerator(mixed_precision="no", cpu=cpu)
        self.main = self.acc.is_main_process
        if not self.main:
            self.say = lambda msg: None
        self.world, self.rank = self.acc.num_processes, self.acc.process_index
        torch.manual_seed(cfg.seed)
        self.split = split_examples(cfg)
        self.say(f"data: {self.split.describe()}")
        if not self.split.train:
            raise InputError("config: data.train gives no MOS rows to fine-tune on")
        self.targets = [VQATarget(cfg.targets[0].name, float(cfg.targets[0].scale))]
        self.metric = load_metric(v.model, seed=v.seed)
        weights = v.weights or str(self.metric.default_options["model"])
        if weights not in _weight_names() and not Path(weights).is_absolute():
            weights = cfg.resolve_path(weights) if Path(cfg.resolve_path(weights)).exists() \
                else weights
        self.weights = resolve_weight_file(weights, self.metric.weight_kind)
        net, self.arch = _load_official(v.model, self.weights)
        torch.manual_seed(cfg.seed)
        self.model = build_regressor(v.model, self.arch)
        self.model.net.load_state_dict(net.state_dict(), strict=True)
        self.model.to(self.acc.device)
        self.projector_trained = False
        self.backbone = type("_Dtype", (), {"dtype": torch.float32})()
        featurize = self._featurize if v.train == "head" else None
        self._views = {}
        for kind, examples in (("train", self.split.train), ("val", self.split.val)):
            self._views[kind] = _ViewDataset(examples, self.metric, featurize)
        self.say(f"{v.model} from {self.weights.name} on {self.acc.device}, {self.world} "
                 f"process(es); training {'the heads' if v.train == 'head' else 'all weights'}: "
                 f"{self._count(True):,} trainable of {self._count(False):,} parameters")
        if v.calibrate:
            self._calibrate()

    def _featurize(self, views: dict[str, Any]) -> dict[str, Any]:
        import torch

        was = self.model.training
        self.model.eval()
        try:
            with torch.no_grad():
                return {k + "_feat": self.model.features(k, x[None].to(self.acc.device))[0]
                        .cpu() for k, x in views.items()}
        finally:
            self.model.train(was)

    def _calibrate(self) -> None:
        """Start ``a * raw + b`` at the least-squares fit on the training set."""
        import torch

        ds = self._views["train"]
        idx = list(range(len(ds)))
        raws = []
        self.model.eval()
        with torch.no_grad():
            for start in range(0, len(idx), self.cfg.train.eval_batch_size):
                b = self._to_device(_collate([ds[i] for i in idx[start:start + self.cfg.train
                                                                  .eval_batch_size]]))
                raws += self.model.raw(b["inputs"]).float().cpu().tolist()
        x = np.asarray(raws, dtype=np.float64)
        y = np.asarray([e.value for e in ds.examples], dtype=np.float64)
        var = float(np.var(x))
        a = float(np.cov(x, y, bias=True)[0, 1] / var) if var > 1e-20 else 0.0
        b = float(y.mean() - a * x.mean())
        with torch.no_grad():
            self.model.a.fill_(a)
            self.model.b.fill_(b)
        self.say(f"output map calibrated on {len(x)} training videos: MOS/scale = "
                 f"{a:.6g} * raw + {b:.6g}")

    # --- what the loop asks of a trainer -------------------------------------------
    def _saved_params(self) -> dict[str, Any]:
        if self.cfg.vqa.train == "all":
            return dict(self.model.named_parameters())
        return {k: p for k, p in self.model.named_parameters() if _is_head(k)}

    def _set_trainable(self, kind: str, train_projector: bool) -> list[list[Any]]:
        for p in self.model.parameters():
            p.requires_grad_(False)
        body, heads = [], []
        for k, p in self._saved_params().items():
            p.requires_grad_(True)
            (heads if _is_head(k) else body).append(p)
        return [body, heads]

    def _dataset(self, examples, with_answer: bool, kind: str):
        key = "train" if kind.startswith("train") else "val"
        return self._views[key]

    def _loader(self, ds, batches: list[list[int]]):
        if self.cfg.vqa.train == "head":
            # Features live in this process's memory; no workers to fork.
            return iter([_collate([ds[i] for i in b]) for b in batches])
        from torch.utils.data import DataLoader

        return DataLoader(ds, batch_sampler=batches, num_workers=self.cfg.data.num_workers,
                          collate_fn=_collate)

    def _to_device(self, batch: dict[str, Any]) -> dict[str, Any]:
        import torch

        dev = self.acc.device
        out = {k: (v.to(dev) if isinstance(v, torch.Tensor) else v) for k, v in batch.items()}
        out["inputs"] = {k: v.to(dev) for k, v in batch["inputs"].items()}
        return out

    def _peak_gb(self) -> float | None:
        from .runlog import peak_gb

        return peak_gb(self.acc.device)

    # --- saving ------------------------------------------------------------------
    def meta(self, info: dict[str, Any]) -> dict[str, Any]:
        from .._version import __version__

        cfg, v = self.cfg, self.cfg.vqa
        return {
            "kind": "vqa",
            "vqa": {"model": v.model, "arch": self.arch, "seed": v.seed, "trained": v.train},
            "base": {"name": v.weights or str(self.metric.default_options["model"]),
                     "file": self.weights.name, "sha256": sha256_of(self.weights)},
            "targets": [t.to_dict() for t in self.targets],
            "training": {**info, "seed": cfg.seed, "videojury": __version__,
                         "config": cfg.to_dict()},
        }

    def _export(self, folder: Path, info: dict[str, Any]) -> None:
        if self.main:
            save_vqa_evaluator(folder, self.acc.unwrap_model(self.model), self.meta(info))
            table = getattr(self, "_val_table", None)
            if table:
                import pandas as pd

                pd.DataFrame(table).to_csv(folder / "val_predictions.csv", index=False)
        self.acc.wait_for_everyone()


def _weight_names() -> set[str]:
    from ..models.checkpoints import WEIGHT_FILES

    return set(WEIGHT_FILES)


def save_vqa_evaluator(folder: str | Path, model, meta: dict[str, Any]) -> Path:
    """Write ``vqa.safetensors`` (the whole network and its output map) and ``evaluator.json``."""
    import os
    import shutil

    out = Path(folder)
    tmp = out.with_name(out.name + ".tmp")
    if tmp.exists():
        shutil.rmtree(tmp)
    tmp.mkdir(parents=True)
    save_tensors(tmp / VQA_WEIGHTS_FILE, dict(model.state_dict()))
    meta = dict(meta, format=FORMAT, format_version=FORMAT_VERSION,
                files={VQA_WEIGHTS_FILE: sha256_of(tmp / VQA_WEIGHTS_FILE)})
    write_json(meta, tmp / META_FILE, sort_keys=True)
    if out.exists():
        shutil.rmtree(out)
    os.replace(tmp, out)
    return out


def load_vqa_evaluator(folder: str | Path, meta: dict[str, Any], device: str = "cpu"):
    """The fine-tuned regressor of an evaluator folder (checksums and keys checked strictly)."""
    from .saving import assign_exact, read_tensors, verify_files

    folder = Path(folder)
    verify_files(folder, meta)
    v = meta["vqa"]
    try:
        model = build_regressor(str(v["model"]), v["arch"])
    except (KeyError, TypeError) as exc:
        raise MetricError(f"{folder / META_FILE}: the 'vqa' section is incomplete ({exc})") \
            from None
    tensors = read_tensors(folder / VQA_WEIGHTS_FILE, "evaluator")
    state = model.state_dict(keep_vars=True)
    assign_exact({k: p for k, p in state.items()}, tensors, str(folder / VQA_WEIGHTS_FILE))
    return model.to(device).eval()

"""Resumable checkpoints: weights, optimizer, RNG states and the loop's position.

A checkpoint is written at an optimizer-step boundary into
``checkpoints/step-NNNNNNN`` (a temporary folder renamed when complete, then
``latest.json`` updated), so a run killed at any moment resumes from the last
complete one. :class:`CheckpointMixin` is part of
:class:`~videojury.train.loop.Trainer`.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..io import write_json
from .config import TrainConfig
from .saving import (
    assign_exact,
    optimizer_from_files,
    optimizer_to_files,
    read_tensors,
    rng_state,
    save_tensors,
    set_rng_state,
)

__all__ = ["VOLATILE", "CheckpointMixin", "fingerprint"]

# Config keys that may change between a run and its resumption.
VOLATILE = {("train", "max_steps"), ("train", "checkpoint_every"),
            ("train", "keep_checkpoints"), ("data", "num_workers"), ("data", "cache"),
            ("train", "tensorboard"), ("train", "eval_batch_size"), ("train", "threads")}


def fingerprint(cfg: TrainConfig) -> str:
    """The configuration without what may change on resume (see :data:`VOLATILE`)."""
    d = cfg.to_dict()
    d.pop("source", None)
    for sec, key in VOLATILE:
        d.get(sec, {}).pop(key, None)
    return json.dumps(d, sort_keys=True)


class CheckpointMixin:
    """Saving and restoring the run's state (a part of ``Trainer``)."""

    def _ckpt_dir(self) -> Path:
        return self.out / "checkpoints"

    def save_checkpoint(self, pos: dict[str, Any], optimizer) -> None:
        """Write a resumable checkpoint at an optimizer-step boundary."""
        root = self._ckpt_dir()
        name = f"step-{pos['global_step']:07d}"
        tmp = root / (name + ".tmp")
        if self.main:
            if tmp.exists():
                shutil.rmtree(tmp)
            tmp.mkdir(parents=True)
        self.acc.wait_for_everyone()
        save_tensors(tmp / f"rng-{self.rank}.safetensors", rng_state())
        self.acc.wait_for_everyone()
        if self.main:
            save_tensors(tmp / "weights.safetensors", self._saved_params())
            tensors, info = optimizer_to_files(optimizer.state_dict())
            save_tensors(tmp / "optimizer.safetensors", tensors)
            write_json(info, tmp / "optimizer.json", sort_keys=True)
            write_json({**pos, "fingerprint": fingerprint(self.cfg), "world": self.world},
                       tmp / "state.json", sort_keys=True)
            final = root / name
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
            write_json({"checkpoint": name}, root / "latest.json")
            keep = max(1, self.cfg.train.keep_checkpoints)
            old = sorted(p for p in root.glob("step-*") if p.is_dir() and not
                         p.name.endswith(".tmp"))
            for p in old[:-keep]:
                shutil.rmtree(p, ignore_errors=True)
        self.acc.wait_for_everyone()

    def load_checkpoint(self) -> dict[str, Any] | None:
        """Restore weights from the newest checkpoint; returns its state (None if none)."""
        latest = self._ckpt_dir() / "latest.json"
        if not latest.exists():
            return None
        name = json.loads(latest.read_text())["checkpoint"]
        folder = self._ckpt_dir() / name
        state = json.loads((folder / "state.json").read_text())
        if state.get("fingerprint") != fingerprint(self.cfg):
            raise InputError(f"{folder}: the configuration changed since this checkpoint was "
                             "written (only max_steps, checkpoint_every, keep_checkpoints, "
                             "num_workers, cache, tensorboard and eval_batch_size may change "
                             "on --resume); start a new output_dir or restore the config")
        if int(state.get("world", 1)) != self.world:
            raise InputError(f"{folder}: written by {state.get('world')} process(es), resumed "
                             f"with {self.world}; resume with the same number of processes")
        assign_exact(self._saved_params(), read_tensors(folder / "weights.safetensors",
                                                       "checkpoint"),
                     str(folder / "weights.safetensors"))
        state["folder"] = str(folder)
        return state

    def restore_optimizer(self, state: dict[str, Any], optimizer) -> None:
        """Load the optimizer and this process's RNG state from ``state``'s checkpoint."""
        folder = Path(state["folder"])
        optimizer.load_state_dict(optimizer_from_files(
            read_tensors(folder / "optimizer.safetensors", "checkpoint"),
            json.loads((folder / "optimizer.json").read_text())))
        set_rng_state(read_tensors(folder / f"rng-{self.rank}.safetensors", "checkpoint"))

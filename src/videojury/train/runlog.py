"""What a training run logs: ``metrics.csv``, TensorBoard curves, progress lines."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any, Callable, Sequence

__all__ = ["CsvLog", "fmt_metrics", "log_columns", "open_tensorboard", "peak_gb"]


def log_columns(target_names: Sequence[str]) -> list[str]:
    """The columns of ``metrics.csv`` (one row per optimizer step and per evaluation)."""
    return (["time", "stage", "kind", "epoch", "step", "global_step", "split", "lr", "loss",
             "l1", "plcc_loss", "rank_loss", "lm_loss", "ce", "val_l1", "srcc", "plcc",
             "krcc", "qa_acc", "pair_ce", "pair_acc", "pair_acc_scores", "seconds", "mem_gb"]
            + [f"{k}_{t}" for t in target_names for k in ("srcc", "plcc", "krcc")]
            + ([f"{k}_{t}" for t in target_names for k in ("l1", "pair_acc")]
               if len(target_names) > 1 else []))


class CsvLog:
    """Append-only CSV of training and evaluation rows (fixed columns)."""

    def __init__(self, path: Path, columns: list[str], enabled: bool) -> None:
        self.path = path
        self.columns = columns
        self.enabled = enabled

    def truncate_after(self, global_step: int) -> None:
        """Drop rows logged after ``global_step`` (they are replayed on resume)."""
        if not self.enabled or not self.path.exists():
            return
        with open(self.path, newline="", encoding="utf-8") as fh:
            rows = [r for r in csv.DictReader(fh) if int(r.get("global_step") or 0) <= global_step]
        with open(self.path, "w", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, self.columns, extrasaction="ignore")
            w.writeheader()
            w.writerows(rows)

    def append(self, row: dict[str, Any]) -> None:
        if not self.enabled:
            return
        new = not self.path.exists()
        with open(self.path, "a", newline="", encoding="utf-8") as fh:
            w = csv.DictWriter(fh, self.columns, extrasaction="ignore")
            if new:
                w.writeheader()
            w.writerow({k: (f"{v:.3f}" if k == "time" else f"{v:.6g}")
                        if isinstance(v, float) else v for k, v in row.items()})


def fmt_metrics(res: dict[str, Any]) -> str:
    """A progress line's validation figures: ``srcc 0.8123, plcc 0.7900, ...``."""
    keys = [k for k in ("srcc", "plcc", "krcc", "val_l1", "qa_acc", "pair_acc",
                        "pair_acc_scores") if k in res]
    return ", ".join(f"{k} {res[k]:.4f}" for k in keys)


def open_tensorboard(out: Path, say: Callable[[str], None]):
    """A TensorBoard writer under ``out/tensorboard``, or None (with a note) without it."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:
        say("TensorBoard is not installed; curves go to metrics.csv only")
        return None
    return SummaryWriter(str(out / "tensorboard"))


def peak_gb(device) -> float | None:
    """Peak CUDA memory allocated by this process so far, in GiB (None on CPU)."""
    import torch

    if device.type != "cuda":
        return None
    return torch.cuda.max_memory_allocated(device) / 2**30

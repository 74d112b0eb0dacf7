"""The table the two ``*choices.py`` scripts print: how far putting one protocol
choice back to videojury's default moves log P(Yes)."""

from __future__ import annotations

import numpy as np


def print_changes(base: list[float], changes: dict[str, list[float]]) -> None:
    """``base``: the preset's log P(Yes) per (clip, prompt); ``changes``: per choice,
    the change of log P(Yes) with that choice put back, for the same pairs."""
    scale = float(np.mean(np.abs(base)))
    print(f"preset log P(Yes): mean {np.mean(base):.4f} over {len(base)} (clip, prompt) pairs\n")
    print("| choice put back to videojury's default | mean abs change in log P(Yes) | max abs "
          "| mean abs / mean abs log P |")
    print("|---|---|---|---|")
    for name, change in changes.items():
        a = np.abs(change)
        print(f"| {name} | {a.mean():.4g} | {a.max():.4g} | {a.mean() / scale:.1%} |")

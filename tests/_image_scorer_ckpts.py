"""Seeded weight files for the per-frame image scorers (laion_aesthetic, hpsv2), in their
official formats, for the tiny-model fixtures (built by the parity harnesses' weights.py)."""

from __future__ import annotations

import sys
from pathlib import Path

PARITY = Path(__file__).resolve().parents[1] / "benchmarks" / "parity"


def _weights(name: str):
    sys.path.insert(0, str(PARITY / name))
    try:
        sys.modules.pop("weights", None)
        import weights
        return weights
    finally:
        sys.path.pop(0)
        sys.modules.pop("weights", None)


def write_all(root: str | Path) -> dict[str, Path]:
    """``laion_head`` (a predictor head on the tiny CLIP's 16-dim embedding) and
    ``hps_weights`` / ``hps_arch`` (a tiny HPSv2 checkpoint and its open_clip config),
    ``ir_weights`` / ``ir_med_config`` / ``ir_tokenizer`` (a tiny ImageReward checkpoint),
    ``fga_weights`` / ``fga_tokenizer`` (a tiny FGA-BLIP2 checkpoint)."""
    import torch

    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    head = root / "laion_head.pth"
    torch.save(_weights("laion_aesthetic").head_state(16), head)
    hps = _weights("hpsv2").make(root / "hps")
    ir = _weights("imagereward").make(root / "imagereward")
    fga = _weights("fga_blip2").make(root / "fga_blip2")
    return {"laion_head": head, "hps_weights": hps["weights"], "hps_arch": hps["arch"],
            "ir_weights": ir["weights"], "ir_med_config": ir["med_config"], "ir_tokenizer": ir["tokenizer"],
            "fga_weights": fga["weights"], "fga_tokenizer": fga["tokenizer"]}

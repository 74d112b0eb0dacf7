"""Human judgements: raw ratings to MOS, reliability, pairwise preferences, importers.

Torch-free; plain functions on pandas tables. See ``docs/agreement.md``.
"""

from __future__ import annotations

from .importers import load_human_labels, load_love_jsonl, load_pairs, load_ratings, read_table
from .mos import MOSResult, bt500_screen, compute_mos, zscore_ratings
from .pairs import BTResult, bradley_terry, pairwise_scores
from .reliability import SplitHalfResult, spearman_brown, split_half_reliability

__all__ = [
    "BTResult",
    "MOSResult",
    "SplitHalfResult",
    "bradley_terry",
    "bt500_screen",
    "compute_mos",
    "load_human_labels",
    "load_love_jsonl",
    "load_pairs",
    "load_ratings",
    "pairwise_scores",
    "read_table",
    "spearman_brown",
    "split_half_reliability",
    "zscore_ratings",
]

"""Analysis of metric scores against people: correlations, bootstrap, tests, QA.

Torch-free; plain functions on arrays and pandas tables. Submodules:
``qa`` (QA accuracy), ``join`` (scores to human labels by video, through
the one matcher in :mod:`videojury.matching`), ``statistics`` (the
instance, model and pair levels on arrays), ``agreement`` (the tidy
agreement table) and ``leaderboard`` (rank math). The pure statistics live one layer
down in :mod:`videojury.stats` (``correlation``, ``bootstrap``,
``significance``) and the yes/no parser in :mod:`videojury.text`; their
public names are re-exported here. See ``docs/agreement.md``.
"""

from __future__ import annotations

from .agreement import AgreementResult, JoinReport, agreement, correlate, join_scores, model_level, pair_accuracy
from ..stats.bootstrap import bootstrap_correlations
from ..stats.correlation import fit_logistic, krcc, logistic4, plcc, rmse, srcc
from .qa import normalize_yes_no, qa_accuracy
from ..stats.significance import compare_metrics, paired_bootstrap, steiger_z, williams_test

__all__ = [
    "AgreementResult",
    "JoinReport",
    "agreement",
    "bootstrap_correlations",
    "compare_metrics",
    "correlate",
    "fit_logistic",
    "join_scores",
    "krcc",
    "logistic4",
    "model_level",
    "normalize_yes_no",
    "pair_accuracy",
    "paired_bootstrap",
    "plcc",
    "qa_accuracy",
    "rmse",
    "srcc",
    "steiger_z",
    "williams_test",
]

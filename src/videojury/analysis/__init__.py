"""Analysis of metric scores against people: correlations, bootstrap, tests, QA.

Torch-free; plain functions on arrays and pandas tables. Submodules:
``correlation`` (SRCC/KRCC/PLCC, 4-parameter logistic, RMSE), ``bootstrap``
(vectorised seeded CIs), ``significance`` (paired bootstrap, Williams,
Steiger), ``qa`` (yes/no normalisation, QA accuracy) and ``agreement``
(the join and the tidy agreement table). See ``docs/agreement.md``.
"""

from __future__ import annotations

from .agreement import AgreementResult, JoinReport, agreement, correlate, join_scores, model_level, pair_accuracy
from .bootstrap import bootstrap_correlations
from .correlation import fit_logistic, krcc, logistic4, plcc, rmse, srcc
from .qa import normalize_yes_no, qa_accuracy
from .significance import compare_metrics, paired_bootstrap, steiger_z, williams_test

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

"""Pure statistics on arrays: correlations, the seeded bootstrap, significance tests.

The lowest analysis layer: numpy and scipy only, no pandas tables, no
imports from the rest of videojury, so ``data``, ``human``, ``metrics``,
``train`` and ``analysis`` can all use it. Submodules: ``correlation``
(SRCC/KRCC/PLCC, 4-parameter logistic, RMSE), ``bootstrap`` (vectorised
seeded CIs) and ``significance`` (paired bootstrap, Williams, Steiger).
"""

from __future__ import annotations

from .bootstrap import bootstrap_correlations
from .correlation import fit_logistic, krcc, logistic4, plcc, rmse, srcc
from .significance import compare_metrics, paired_bootstrap, steiger_z, williams_test

__all__ = [
    "bootstrap_correlations",
    "compare_metrics",
    "fit_logistic",
    "krcc",
    "logistic4",
    "paired_bootstrap",
    "plcc",
    "rmse",
    "srcc",
    "steiger_z",
    "williams_test",
]

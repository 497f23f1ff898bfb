"""Pearson and Spearman correlation and their two-sided p-values, as scipy.stats defines them.

Written out here so that the word-pair benchmarks and the distance profile need no scipy (it is
an optional extra), and so both compute Spearman the same way: ties get their average rank
(``scipy.stats.rankdata``'s default), which ``scipy.stats.spearmanr`` correlates.
"""

from __future__ import annotations

import math

import numpy as np


def pearson(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson's r of two equally long vectors; NaN when either is constant (no correlation)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    x = x - x.mean()
    y = y - y.mean()
    denominator = math.sqrt(float(x @ x) * float(y @ y))
    if denominator == 0:
        return math.nan  # a constant input has no correlation
    return max(-1.0, min(1.0, float(x @ y) / denominator))


def average_ranks(values: np.ndarray) -> np.ndarray:
    """Ranks from 1, ties given their average rank (as scipy's rankdata)."""
    values = np.asarray(values)
    order = np.argsort(values, kind="mergesort")
    _, first, counts = np.unique(values[order], return_index=True, return_counts=True)
    ranks = np.empty(len(values))
    ranks[order] = np.repeat(first + (counts + 1) / 2, counts)
    return ranks


def spearman(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman's rho: Pearson's r of the average ranks; NaN when either input is constant or
    holds a NaN (as scipy's spearmanr with its default nan_policy)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    # average_ranks would give every NaN one shared rank and so a number that means nothing
    if np.isnan(x).any() or np.isnan(y).any():
        return math.nan
    return pearson(average_ranks(x), average_ranks(y))


def correlation_pvalue(r: float, n: int) -> float:
    """Two-sided p-value of a correlation r over n pairs under no correlation: the t test with
    n - 2 degrees of freedom, which is what scipy's pearsonr and spearmanr report.
    P(|T| >= |t|) = I_{1 - r^2}(df / 2, 1 / 2), the regularised incomplete beta function."""
    if math.isnan(r):
        return math.nan
    df = n - 2
    if df <= 0:
        return 1.0
    return _incomplete_beta(df / 2, 0.5, 1.0 - r * r)


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """Regularised incomplete beta I_x(a, b) by its continued fraction (modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    log_front = (
        math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)
    )
    # the continued fraction converges quickly only for x < (a + 1) / (a + b + 2); past that
    # the symmetry I_x(a, b) = 1 - I_{1-x}(b, a) moves x below it
    if x < (a + 1) / (a + b + 2):
        return math.exp(log_front) * _beta_fraction(a, b, x) / a
    return 1.0 - math.exp(log_front) * _beta_fraction(b, a, 1.0 - x) / b


def _beta_fraction(a: float, b: float, x: float) -> float:
    tiny = 1e-300
    c = 1.0
    d = 1.0 - (a + b) * x / (a + 1)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 1000):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            step = c * d
            result *= step
        if abs(step - 1.0) < 1e-15:
            break
    return result

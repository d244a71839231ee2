"""What the data say about the fitted parameters: confidence intervals, correlations and the
pairs the data cannot separate, from the Jacobian at the optimum (linearised least squares).

With m residuals r (weighted, dimensionless), n parameters and J = dr/dtheta at the optimum:
- the residual variance s^2 = |r|^2 / (m - n) scales the weights to the scatter actually
  found (the weights set only how residuals compare, not their absolute size);
- the covariance of theta is s^2 (J^T J)^-1, taken as a pseudo-inverse through the singular
  values of J (directions the data do not determine get no finite variance of their own);
- 95 % intervals are theta +- t(0.975, m - n) sd, mapped to the parameters (on a log scale
  they are symmetric in ln p);
- a pair is reported as not separable when |correlation| > 0.95, and the whole problem as
  near-singular when the smallest singular value of J with unit columns is below 1e-4 of
  the largest (J^T J then has a condition number above 1e8); the parameters that make up
  that near-null direction are marked not identifiable (their intervals mean nothing), as
  is a parameter whose interval would be wider than the whole range searched (one data
  point, or a parameter the residuals do not depend on);
- on a linear scale, the interval of a parameter whose range is not negative stops at 0.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
from scipy import stats

CORRELATION_LIMIT = 0.95
SINGULAR_RATIO = 1e-4
MAX_HALF_WIDTH = 1.0     # of theta, the range searched: wider intervals are not determined
# a theta this close to 0 or 1 is on its bound (starts sit 1e-6 inside, fit.INTERIOR, and an
# optimiser that stays there moves them by round-off)
AT_BOUND = 1e-5


def column_norms(J):
    """The 2-norm of each column of J (1 for a zero column), without the underflow of the
    squares of small entries (a column of 1e-200 has norm 1e-200, not 0)."""
    peak = np.max(np.abs(J), axis=0)
    peak[peak == 0.0] = 1.0
    norms = peak * np.linalg.norm(J / peak, axis=0)
    norms[norms == 0.0] = 1.0
    return norms


def linearised(J, r):
    """Covariance of theta, residual variance, degrees of freedom, singular-value ratio."""
    m, n = J.shape
    dof = max(m - n, 1)
    variance = float(r @ r) / dof
    norms = column_norms(J)
    U, sv, Vt = np.linalg.svd(J / norms, full_matrices=False)
    ratio = float(sv[-1] / sv[0]) if sv[0] > 0 else 0.0
    keep = sv > 1e-12 * sv[0] if sv[0] > 0 else np.zeros_like(sv, dtype=bool)
    inverse = (Vt[keep].T / sv[keep] ** 2) @ Vt[keep]           # (J_n^T J_n)^+
    with np.errstate(divide="ignore", over="ignore"):   # columns of ~1e-200: infinite,
        covariance = variance * inverse / np.outer(norms, norms)    # i.e. not determined
    return covariance, variance, dof, ratio


def correlation_of(covariance):
    sd = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    with np.errstate(invalid="ignore", divide="ignore"):
        corr = covariance / np.outer(sd, sd)
    corr[~np.isfinite(corr)] = 0.0
    np.fill_diagonal(corr, 1.0)
    return np.clip(corr, -1.0, 1.0)


def summarise(parameters, theta, J, r):
    """The statistics of a fit: per parameter value and interval, the correlation matrix,
    the warnings about what the data cannot separate."""
    covariance, variance, dof, ratio = linearised(J, r)
    t = float(stats.t.ppf(0.975, dof))
    sd = np.sqrt(np.maximum(np.diag(covariance), 0.0))
    corr = correlation_of(covariance)
    singular = ratio < SINGULAR_RATIO
    pairs = [(i, j) for i, j in itertools.combinations(range(len(parameters)), 2)
             if abs(corr[i, j]) > CORRELATION_LIMIT]
    warnings = []
    if singular:
        condition = ratio ** -2 if ratio > 0 else math.inf
        warnings.append(f"J^T J is near-singular (smallest/largest singular value of the "
                        f"scaled Jacobian {ratio:.1e}, condition number {condition:.1e}): "
                        f"the data determine fewer combinations than there are parameters")
    unidentified = set()
    if singular:
        null = np.linalg.svd(J / column_norms(J))[2][-1]
        unidentified |= {i for i in range(len(parameters)) if abs(null[i]) > 0.1}
    for i, j in pairs:
        how = "at all" if {i, j} <= unidentified else "well"
        warnings.append(f"the data cannot separate {parameters[i].key} and {parameters[j].key} "
                        f"{how} (correlation {corr[i, j]:+.3f}): mainly a combination of them "
                        f"is determined, and their intervals are not independent")
    rows = []
    for i, p in enumerate(parameters):
        half = t * sd[i]
        at_bound = theta[i] <= AT_BOUND or theta[i] >= 1 - AT_BOUND
        # an interval wider than the whole range searched says the data do not determine
        # the parameter (and on a log scale it would overflow: 1e3 decades)
        determined = i not in unidentified and np.isfinite(half) and half < MAX_HALF_WIDTH
        if i not in unidentified and not determined:
            warnings.append(f"the data do not determine {p.key}: its 95 % interval would be "
                            f"wider than the whole range searched ({p.low:.4g} to "
                            f"{p.high:.4g}); none is given")
        interval = [None, None]
        if determined:
            interval = [p.from_unit(theta[i] - half), p.from_unit(theta[i] + half)]
            if p.scale == "linear" and p.low >= 0.0:      # a quantity that cannot be negative
                interval[0] = max(interval[0], 0.0)
        rows.append({
            "value": p.from_unit(theta[i]),
            "ci95": interval,
            "theta": float(theta[i]),
            "standard_error_theta": float(sd[i]),
            "at_bound": bool(at_bound),
            "identifiable": bool(determined),
        })
    for i, row in enumerate(rows):
        if row["at_bound"]:
            warnings.append(f"{parameters[i].key} ended on a bound of its range "
                            f"({row['value']:.4g}): widen the range or fix it; its interval "
                            f"assumes the bound is not active")
    return {"parameters": rows, "correlation": corr.tolist(), "residual_variance": variance,
            "dof": dof, "t95": t, "singular_value_ratio": ratio, "warnings": warnings,
            "identifiable": not (singular or pairs)
            and all(row["identifiable"] for row in rows),
            "not_separable": [[parameters[i].key, parameters[j].key, float(corr[i, j])]
                              for i, j in pairs]}


def rmse_mV(v_model, v_measured):
    return float(np.sqrt(np.mean((v_model - v_measured) ** 2)) * 1e3)

"""The cell model gives the residuals, Jacobians and time series recorded before it was
reshaped into physics terms (tests/golden/make_golden.py): the same to round-off."""

from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import solver
from solver.api import build_grid
from solver.model import CellModel
from tests.golden.cases import GOLDEN_CASES, golden_states

GOLDEN = np.load(Path(__file__).resolve().parent / "golden" / "model_golden.npz")
# Summation order differs between the two assemblies: entries agree to this fraction of
# the largest entry of their row (a residual row mixes terms of very different size).
ROW_RTOL = 1e-13


def _close_by_row(new, old, scale):
    return np.all(np.abs(new - old) <= ROW_RTOL * scale + 1e-300)


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_residual_and_jacobian_are_the_recorded_ones(name):
    case = GOLDEN_CASES[name]()
    model = CellModel(case, build_grid(case))
    for label, (u, history, a0, drive) in golden_states(model).items():
        key = f"{name}/{label}"
        R, data = model.residual_and_jacobian(u, history, a0, drive)
        n = model.n_unknowns
        J = model.jacobian_matrix(data).tocsr()
        J_old = sp.csr_matrix((GOLDEN[f"{key}/J_vals"], (GOLDEN[f"{key}/J_rows"],
                                                         GOLDEN[f"{key}/J_cols"])), shape=(n, n))
        row_scale = np.maximum(abs(J).max(axis=1).toarray().ravel(),
                               abs(J_old).max(axis=1).toarray().ravel())
        difference = abs(J - J_old).max(axis=1).toarray().ravel()
        assert np.all(difference <= ROW_RTOL * row_scale), (key, np.max(difference / np.maximum(row_scale, 1e-300)))
        R_old = GOLDEN[f"{key}/R"]
        # a residual entry is a sum of terms each about |J| |u| in size
        r_scale = np.maximum(abs(J) @ np.abs(u), np.abs(R_old))
        assert _close_by_row(R, R_old, r_scale), key


@pytest.mark.parametrize("name", list(GOLDEN_CASES))
def test_short_time_series_are_the_recorded_ones(name):
    result = solver.run(GOLDEN_CASES[name](short=True))
    for column in ("time_s", "voltage_V", "current_A", "capacity_mAh_cm2"):
        old = GOLDEN[f"{name}/series/{column}"]
        new = result.timeseries[column]
        assert new.shape == old.shape, (column, new.shape, old.shape)
        # Newton stops at a tolerance (in time steps 1e-3 of rtol, 1e-6 scaled updates at
        # the default), and the step control carries the last digits of each solve into the
        # next step; the series are those of the same solver, so they agree to round-off
        assert np.max(np.abs(new - old)) <= 1e-7 * np.max(np.abs(old)), column

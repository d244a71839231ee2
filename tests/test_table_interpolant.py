"""The tables' own PCHIP construction (solver.materials.table) against scipy's, which it
replaces to keep scipy.interpolate out of every process's start."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.interpolate import CubicHermiteSpline, PchipInterpolator

from solver.materials.table import Table, hermite_coefficients, pchip_slopes

finite = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)


@st.composite
def points(draw):
    """Strictly increasing x (uneven spacing) and y with flat stretches, turns and repeats."""
    n = draw(st.integers(2, 12))
    steps = draw(st.lists(st.floats(1e-3, 10.0), min_size=n - 1, max_size=n - 1))
    x = draw(finite) + np.concatenate([[0.0], np.cumsum(steps)])
    y = np.array(draw(st.lists(st.sampled_from([-2.0, 0.0, 0.5, 3.0]) | finite,
                               min_size=n, max_size=n)))
    return x, y


@settings(max_examples=300, deadline=None)
@given(points())
def test_pchip_pieces_equal_scipys(xy):
    x, y = xy
    ours = hermite_coefficients(x, y, pchip_slopes(x, y))
    with np.errstate(over="ignore"):             # scipy's, on secants near 1e-300
        theirs = PchipInterpolator(x, y).c
    np.testing.assert_allclose(ours, theirs, rtol=1e-13,
                               atol=1e-13 * (1.0 + np.abs(y).max()))


@settings(max_examples=100, deadline=None)
@given(points(), st.lists(finite, min_size=1, max_size=6))
def test_hermite_pieces_equal_scipys(xy, slopes):
    x, y = xy
    dydx = np.resize(np.array(slopes), x.size)
    np.testing.assert_allclose(hermite_coefficients(x, y, dydx),
                               CubicHermiteSpline(x, y, dydx).c, rtol=1e-13,
                               atol=1e-12 * (1.0 + np.abs(y).max() + np.abs(dydx).max()))


def test_table_values_and_end_slopes_equal_scipys_interpolant():
    x = np.array([0.0, 0.1, 0.15, 0.4, 0.7, 1.0])
    y = np.array([4.2, 4.0, 4.0, 3.9, 3.6, 3.0])
    table, reference = Table(x, y), PchipInterpolator(x, y)
    q = np.linspace(0.0, 1.0, 401)
    values, slopes = table.evaluate(q)
    np.testing.assert_allclose(values, reference(q), rtol=0, atol=1e-14)
    np.testing.assert_allclose(slopes, reference.derivative()(q), rtol=0, atol=1e-12)
    # the extrapolation continues along scipy's end slopes
    end = reference.derivative()(x[[0, -1]])
    np.testing.assert_allclose(table.derivative(np.array([-0.5, 1.5])), end, rtol=1e-14)


@pytest.mark.parametrize("log", [False, True])
def test_two_point_tables_are_straight_lines(log):
    table = Table([0.0, 1.0], [1.0, 3.0], log=log)
    assert table(0.25) == pytest.approx(np.exp(0.75 * np.log(1.0) + 0.25 * np.log(3.0))
                                        if log else 1.5, rel=1e-14)

"""The time-step growth after an accepted step (solver.simulate.step_growth)."""

import numpy as np

from solver.simulate import step_growth


def test_growth_stays_between_a_fifth_and_double():
    rng = np.random.default_rng(0)
    for _ in range(2000):
        err, dt = 10 ** rng.uniform(-6, 0), 10 ** rng.uniform(-6, 3)
        last = None if rng.random() < 0.2 else (10 ** rng.uniform(-6, 3), 10 ** rng.uniform(-6, 0))
        growth = step_growth(err, int(rng.integers(1, 3)), dt, last)
        assert 0.2 <= growth <= 2.0


def test_steady_errors_give_the_standard_controller():
    """Equal steps with equal errors: the trend adds nothing to safety err^(-1/(order+1))."""
    for err in (0.05, 0.3, 0.9):
        assert np.isclose(step_growth(err, 2, 10.0, (10.0, err)), step_growth(err, 2, 10.0, None))
    assert step_growth(0.5, 2, 10.0, None) == 0.9 * 0.5 ** (-1 / 3)


def test_a_growing_error_shortens_the_next_step_more_than_the_standard_controller():
    """At the knee of a discharge the error grows from step to step although each step is
    shorter: the standard controller lengthens the step slightly and the next is rejected."""
    err, dt = 0.87, 21.2
    standard = 0.9 * err ** (-1 / 3)
    predicted = step_growth(err, 2, dt, (26.0, 0.6))
    assert predicted < 0.8 < standard
    assert step_growth(0.0, 2, dt, (26.0, 0.6)) == 2.0

"""The series resistance term (cell.series_resistance): the terminal voltage lies I R below
the tab potential under any current, a held terminal voltage is held through it, and the
case key is checked."""

import numpy as np
import pytest

import solver
from solver.api import build_grid
from solver.errors import InputError
from solver.model import CellModel
from tests.conftest import assert_jacobian_matches_differences, perturbed_state, planar_case

R_S = "18 ohm*cm^2"                 # Raijmakers et al. 2020's fitted contact + lead resistance
R_S_SI = 18e-4                      # ohm m^2


def _case(protocol, resistance=R_S, cells=10):
    cell = {"series_resistance": resistance} if resistance is not None else None
    return planar_case(protocol=protocol, cell=cell, mesh={"cells_per_layer": cells})


@pytest.mark.parametrize("drive", [("current", 2e-5), ("voltage", 3.9)])
def test_jacobian_matches_differences(drive):
    case = _case([{"mode": "rest", "until_time": "1 s"}])
    model = CellModel(case, build_grid(case))
    u = perturbed_state(model, np.random.default_rng(5))
    assert_jacobian_matches_differences(model, u, 1e2, drive)


def test_terminal_voltage_is_i_r_below_the_cell_under_a_current():
    protocol = [{"mode": "discharge", "c_rate": 2, "until_time": "900 s"},
                {"mode": "charge", "c_rate": 1, "until_time": "600 s"}]
    with_r = solver.run(_case(protocol))
    without = solver.run(_case(protocol, resistance=None))
    area = with_r.summary["footprint_area_cm2"] * 1e-4
    t1, t0 = with_r.timeseries["time_s"], without.timeseries["time_s"]
    assert np.array_equal(t1.shape, t0.shape) and np.allclose(t1, t0, rtol=1e-12)
    current = with_r.timeseries["current_A"]
    expected = without.timeseries["voltage_V"] - current * R_S_SI / area
    assert np.allclose(with_r.timeseries["voltage_V"], expected, rtol=0, atol=1e-12)
    # 1C of the shipped cell is 21.7 uA: 2C through 18 ohm cm2 on 1 cm2 costs ~0.78 mV
    drop = without.timeseries["voltage_V"][5] - with_r.timeseries["voltage_V"][5]
    assert drop == pytest.approx(current[5] * 18.0, rel=1e-9)


def test_a_held_voltage_is_held_at_the_terminals():
    protocol = [{"mode": "discharge", "c_rate": 5, "until_time": "300 s"},
                {"mode": "hold", "voltage": "4.0 V", "until_time": "120 s"}]
    result = solver.run(_case(protocol, resistance="2000 ohm*cm^2"))
    hold = result.step_series(1)
    assert np.allclose(hold["voltage_V"], 4.0, atol=1e-9)
    # charging (I < 0) through the resistance: the cell's tab sits |I| R below the terminal
    u = result.snapshots[-1][2]
    model = result.model
    current = model.tab_current(u)
    assert current < -1e-7                               # still charging at the end
    assert u[model.i_V] - 4.0 == pytest.approx(current * 2000e-4 / 1e-4, rel=1e-9)


def test_the_drop_costs_capacity_at_a_voltage_cutoff():
    protocol = [{"mode": "discharge", "c_rate": 10, "until_voltage": "3.9 V"}]
    plain = solver.run(_case(protocol, resistance=None)).summary["steps"][0]
    resisted = solver.run(_case(protocol, resistance="4000 ohm*cm^2")).summary["steps"][0]
    assert resisted["capacity_mAh_cm2"] < plain["capacity_mAh_cm2"]
    assert resisted["mean_voltage_V"] < plain["mean_voltage_V"]


@pytest.mark.parametrize("value, expected", [("-1 ohm*cm^2", "zero or more"),
                                             ("3 V", "area-specific resistance")])
def test_bad_values_are_refused(value, expected):
    with pytest.raises(InputError, match=expected) as error:
        _case([{"mode": "rest", "until_time": "1 s"}], resistance=value)
    assert error.value.key == "cell.series_resistance"

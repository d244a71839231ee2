"""Protocols: step sequences, end conditions, events, and the stack variants of a planar cell."""

import numpy as np
import pytest

import solver
from tests.conftest import planar_case, shipped_case_dict
from solver.case import case_from_dict


@pytest.fixture(scope="module")
def cycled():
    case = planar_case(protocol=[
        {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"},
        {"mode": "rest", "until_time": "30 min"},
        {"mode": "charge", "c_rate": 1, "until_voltage": "4.2 V"},
        {"mode": "hold", "voltage": "4.2 V", "until_current": "0.5 uA"},
        {"repeat": 2, "steps": [
            {"mode": "discharge", "current_density": "50 uA/cm^2", "until_voltage": "3.5 V"},
            {"mode": "charge", "current": "20 uA", "until_time": "10 min"}]},
    ])
    return solver.run(case)


def test_every_step_ends_as_asked(cycled):
    reasons = [s["end_reason"] for s in cycled.summary["steps"]]
    assert reasons == ["until_voltage", "until_time", "until_voltage", "until_current",
                       "until_voltage", "until_time", "until_voltage", "until_time"]
    assert [s["mode"] for s in cycled.summary["steps"]] == [
        "discharge", "rest", "charge", "hold", "discharge", "charge", "discharge", "charge"]
    assert cycled.summary["steps"][1]["duration_s"] == pytest.approx(1800.0, rel=1e-12)
    assert cycled.summary["steps"][5]["duration_s"] == pytest.approx(600.0, rel=1e-12)


def test_currents_and_capacities_follow_the_steps(cycled):
    ts = cycled.timeseries
    steps = cycled.summary["steps"]
    rest = ts["step"] == 1
    assert np.all(ts["current_A"][rest] == 0.0)
    # relaxes upward after the discharge, up to the time integration tolerance (1 mV)
    assert np.all(np.diff(ts["voltage_V"][rest]) >= -5e-4)
    assert ts["voltage_V"][rest][-1] - ts["voltage_V"][rest][0] > 0.1
    charge = ts["step"] == 5
    assert np.allclose(ts["current_A"][charge], -20e-6, rtol=1e-9)
    # 20 uA for 10 min on 1 cm^2 is 3.333 uAh/cm^2
    assert steps[5]["capacity_mAh_cm2"] == pytest.approx(20e-6 * 600 / 3.6, rel=1e-9)
    discharge = ts["step"] == 4
    assert np.allclose(ts["current_A"][discharge], 50e-6, rtol=1e-9)
    hold = ts["step"] == 3
    assert np.allclose(ts["voltage_V"][hold], 4.2, atol=1e-9)
    assert abs(ts["current_A"][hold][-1]) == pytest.approx(0.5e-6, rel=2e-3)
    for k in range(len(steps)):
        cap = ts["capacity_mAh_cm2"][ts["step"] == k]
        # the first row is the instantaneous response, a billionth of the step in
        assert cap[0] <= 1e-6 * max(cap[-1], 1e-30) and np.all(np.diff(cap) >= 0.0)
        assert cap[-1] == pytest.approx(steps[k]["capacity_mAh_cm2"])


def test_step_capacities_equal_the_lithium_moved_into_the_cathode(cycled):
    ts = cycled.timeseries
    lco_per_mAh_cm2 = 51555.0 * 320e-9 * 96485.33212 / 3.6 / 1e4   # mAh/cm^2 per unit x
    for k, step in enumerate(cycled.summary["steps"]):
        x = ts["x_mean_cathode"][ts["step"] == k]
        assert abs(x[-1] - x[0]) * lco_per_mAh_cm2 == pytest.approx(
            step["capacity_mAh_cm2"], rel=1e-6, abs=1e-12)
    # after the hold the cathode surface sits at the hold voltage's open-circuit point
    lco = cycled.model.electrodes[cycled.model.positive]
    x_end = ts["x_surface_cathode"][ts["step"] == 3][-1]
    assert lco.open_circuit(x_end) == pytest.approx(4.2, abs=5e-3)


@pytest.mark.parametrize("rate", [0.5, 3, 12, 40])
def test_cutoff_voltage_is_met_within_one_millivolt(rate):
    case = planar_case(protocol=[{"mode": "discharge", "c_rate": rate, "until_voltage": "3.6 V"}])
    result = solver.run(case)
    assert result.summary["steps"][0]["end_reason"] == "until_voltage"
    assert abs(result.timeseries["voltage_V"][-1] - 3.6) < 1e-3


def test_running_past_the_capacity_ends_with_a_full_electrode():
    case = planar_case(protocol=[{"mode": "discharge", "c_rate": 1, "until_time": "5 h"}])
    result = solver.run(case)
    assert result.summary["steps"][0]["end_reason"] == "electrode_full"
    assert result.timeseries["x_surface_cathode"][-1] > 0.998


def _stack(layers):
    data = shipped_case_dict()
    data["cell"]["layers"] = layers
    data["protocol"] = [{"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"}]
    return case_from_dict(data, ".", "test")


def test_collectors_and_stack_order_do_not_change_a_thin_cell():
    base = shipped_case_dict()["cell"]["layers"]
    plain = solver.run(_stack(base)).summary["steps"][0]
    reversed_stack = solver.run(_stack(base[::-1])).summary["steps"][0]
    with_collectors = solver.run(_stack(
        [{"name": "cc_neg", "material": "Cu", "thickness": "200 nm"}] + base
        + [{"name": "cc_pos", "material": "Pt", "thickness": "100 nm"}])).summary["steps"][0]
    assert reversed_stack["capacity_mAh_cm2"] == pytest.approx(plain["capacity_mAh_cm2"], rel=1e-7)
    # metallic collectors add micro-ohms: the same discharge
    assert with_collectors["capacity_mAh_cm2"] == pytest.approx(plain["capacity_mAh_cm2"],
                                                                rel=1e-6)
    assert with_collectors["mean_voltage_V"] == pytest.approx(plain["mean_voltage_V"], abs=1e-6)


def test_api_time_series_match_the_csv(tmp_path):
    case = planar_case(protocol=[{"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"}])
    result = solver.run(case)
    result.write(tmp_path)
    table = np.genfromtxt(tmp_path / "timeseries.csv", delimiter=",", names=True)
    for column in ("time_s", "step", "current_A", "voltage_V", "capacity_mAh_cm2",
                   "energy_mWh_cm2"):
        assert np.array_equal(table[column], result.timeseries[column])
    import json
    assert json.loads((tmp_path / "summary.json").read_text()) == result.summary


def test_fields_are_written_every_n_steps(tmp_path):
    case = planar_case(protocol=[{"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"}],
                       solver={"fields_every": 5})
    result = solver.run(case)
    n_steps = len(result.timeseries["time_s"]) - 1
    assert len(result.fields) == n_steps // 5
    result.write(tmp_path)
    table = np.genfromtxt(tmp_path / "fields.csv", delimiter=",", names=True, dtype=None,
                          encoding="utf-8")
    assert table.size == len(result.fields) * result.grid.n_cells
    cathode = table[table["layer"] == "cathode"]
    last = cathode[cathode["time_s"] == cathode["time_s"].max()]
    # discharging: Li piles up at the electrolyte side (low z) of the cathode
    assert last["x"][np.argmin(last["z_m"])] > last["x"][np.argmax(last["z_m"])]
    assert np.all(np.isnan(table["x"][table["layer"] == "electrolyte"]))


def test_stripping_all_the_lithium_ends_the_discharge():
    data = shipped_case_dict()
    data["cell"]["layers"][0]["thickness"] = "30 nm"      # 6.19 uAh of Li, less than the LCO
    data["protocol"] = [{"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}]
    result = solver.run(case_from_dict(data, ".", "test"))
    step = result.summary["steps"][0]
    assert step["end_reason"] == "lithium_exhausted"
    # the Li film is the limiting electrode, so 1C strips it in exactly one hour
    assert step["duration_s"] == pytest.approx(3600.0, rel=1e-6)
    li_uAh_cm2 = 534.0 / 6.94e-3 * 30e-9 * 96485.33212 / 3.6e-3 / 1e4
    assert step["capacity_mAh_cm2"] * 1e3 == pytest.approx(li_uAh_cm2, rel=1e-6)
    assert abs(result.timeseries["thickness_um_anode"][-1]) < 1e-6 * 0.03

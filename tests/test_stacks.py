"""Bipolar stacks and anode-free cells: series connection, imbalance, plating and stripping."""

import copy
import tomllib

import numpy as np
import pytest

import solver
from solver.api import build_grid
from solver.case import case_from_dict
from solver.errors import InputError
from solver.model import CellModel
from solver.units import FARADAY
from tests.conftest import (ROOT, assert_jacobian_matches_differences, no_capacitances,
                            perturbed_state)

CASES = ROOT / "cases"


def case_dict(name):
    with open(CASES / name, "rb") as handle:
        return tomllib.load(handle)


def stack(n_cells=3, variations=(), protocol=None, cells=8):
    data = case_dict("bipolar_3cell_li_lipon_lco.toml")
    data["cell"]["bipolar"] = {"n_cells": n_cells, "variations": list(variations)}
    data["mesh"]["cells_per_layer"] = cells
    if protocol is None:          # the shipped 3-cell protocol, per cell: 3.0 V and 4.2 V
        protocol = [{"mode": "discharge", "c_rate": 1, "until_voltage": f"{3.0 * n_cells} V"},
                    {"mode": "charge", "c_rate": 1, "until_voltage": f"{4.2 * n_cells} V"}]
    data["protocol"] = protocol
    return data


def single_cell(data):
    """The unit cell of a stack case as a planar case."""
    single = copy.deepcopy(data)
    single["cell"]["architecture"] = "planar"
    del single["cell"]["bipolar"]
    return single


def run(data):
    return solver.run(case_from_dict(data, CASES, "test"))


DISCHARGE = [{"mode": "discharge", "c_rate": 2, "until_voltage": "9.0 V"}]


@pytest.fixture(scope="module")
def balanced():
    data = stack(protocol=DISCHARGE)
    data["solver"] = {"rtol": 1e-5}      # the two runs take different time steps
    return run(data), run(single_cell(data) | {"protocol": [
        {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}]})


def test_balanced_stack_is_three_cells_in_series(balanced):
    triple, one = balanced
    s3, s1 = triple.summary["steps"][0], one.summary["steps"][0]
    assert s3["end_reason"] == s1["end_reason"] == "until_voltage"
    # same current, same capacity; three times the voltage (the collectors cost nanovolts)
    assert triple.summary["nominal_capacity_uAh"] == pytest.approx(one.summary["nominal_capacity_uAh"])
    assert s3["capacity_mAh_cm2"] == pytest.approx(s1["capacity_mAh_cm2"], rel=1e-4)
    assert s3["mean_voltage_V"] == pytest.approx(3 * s1["mean_voltage_V"], rel=1e-5)
    assert s3["energy_mWh_cm2"] == pytest.approx(3 * s1["energy_mWh_cm2"], rel=1e-4)


def test_cell_voltages_add_up_to_the_stack_voltage(balanced):
    ts = balanced[0].timeseries
    cells = ts["voltage_cell_1"] + ts["voltage_cell_2"] + ts["voltage_cell_3"]
    assert np.max(np.abs(cells - ts["voltage_V"])) < 1e-6
    # identical cells stay identical
    assert np.max(np.abs(ts["voltage_cell_1"] - ts["voltage_cell_3"])) < 1e-6


def test_cell_voltages_leave_out_the_series_resistance_drop():
    # the contacts' I R is the stack's, no cell's: the cells add up to the terminal voltage
    # plus the drop (README, voltage_cell_K)
    data = stack(n_cells=2, protocol=[{"mode": "discharge", "c_rate": 3, "until_time": "60 s"}])
    data["cell"]["series_resistance"] = "2000 ohm*cm^2"
    ts = solver.run(case_from_dict(data, CASES, "test")).timeseries
    drop = ts["current_A"] * 2000.0            # on 1 cm^2: ~60 mV at 3C
    assert np.all(drop > 0.05)
    cells = ts["voltage_cell_1"] + ts["voltage_cell_2"]
    assert np.max(np.abs(cells - (ts["voltage_V"] + drop))) < 1e-6


def test_a_cccv_hold_keeps_the_cell_that_ended_the_charge_at_its_share():
    # the cells of an imbalanced stack reach voltage / n_cells before the stack reaches
    # voltage: the hold then held the stack at voltage, pushing the leading cells past their
    # share (4.206 V) and the current to 5 times the set constant current
    thin = {"cell": 2, "layer": "cathode", "thickness": "200 nm"}
    protocol = [{"mode": "discharge", "c_rate": 1, "until_voltage": "9.0 V"},
                {"mode": "cccv", "c_rate": 1, "voltage": "12.6 V", "until_current": "C/20"}]
    result = solver.run(case_from_dict(stack(variations=[thin], protocol=protocol),
                                       CASES, "test"))
    cccv, ts = result.summary["steps"][1], result.step_series(1)
    assert cccv["end_reason"] == "until_current"
    hold = ts["time_s"] - ts["time_s"][0] >= cccv["cv_start_s"] - 1e-9
    assert np.max(np.abs(ts["current_A"][hold])) <= cccv["applied_current_A"] * (1 + 1e-6)
    cells = np.stack([ts[f"voltage_cell_{n}"] for n in (1, 2, 3)])
    assert np.max(cells) <= 4.2 + 5e-4
    assert np.ptp(ts["voltage_V"][hold]) < 1e-9 and ts["voltage_V"][hold][0] < 12.6 - 5e-3


def test_imbalanced_stack_stops_at_its_weakest_cell():
    thin = {"cell": 2, "layer": "cathode", "thickness": "240 nm"}
    result = run(stack(variations=[thin], protocol=DISCHARGE))
    step = result.summary["steps"][0]
    ts = result.timeseries
    assert step["end_reason"] == "until_voltage"
    assert step["limiting_cell"] == 2
    # the weak cell is at its share of the cutoff (3.0 V) while the stack is still above 9 V
    assert ts["voltage_cell_2"][-1] == pytest.approx(3.0, abs=1e-3)
    assert ts["voltage_V"][-1] > 9.5
    assert min(ts["voltage_cell_1"][-1], ts["voltage_cell_3"][-1]) > 3.5
    # it delivers what the thin cell alone delivers at the same current
    alone = single_cell(stack(protocol=DISCHARGE))
    alone["cell"]["layers"][1]["thickness"] = "240 nm"
    alone["cell"]["nominal_capacity"] = f"{result.summary['nominal_capacity_uAh']} uAh"
    alone["protocol"] = [{"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}]
    single = run(alone).summary["steps"][0]
    assert step["capacity_mAh_cm2"] == pytest.approx(single["capacity_mAh_cm2"], rel=1e-3)


def test_identical_cells_have_no_one_limiting_cell(balanced):
    # three equal cells meet the cutoff together: naming one would be round-off
    assert "limiting_cell" not in balanced[0].summary["steps"][0]


@pytest.mark.parametrize("variations,reason,cell", [
    # cell 1's thin lithium runs out while cell 3, with the thinner cathode, is the lowest
    # in voltage: the cell is the one whose electrode ran out
    ([{"cell": 1, "layer": "anode", "thickness": "20 nm"},
      {"cell": 3, "layer": "cathode", "thickness": "280 nm"}], "lithium_exhausted", 1),
    ([{"cell": 2, "layer": "cathode", "thickness": "240 nm"}], "electrode_full", 2),
])
def test_a_stack_ended_by_an_electrode_names_that_electrodes_cell(variations, reason, cell):
    result = run(stack(variations=variations, protocol=[
        {"mode": "discharge", "c_rate": 2, "until_time": "1 h"}]))
    step, last = result.summary["steps"][0], result.timeseries
    assert step["end_reason"] == reason
    assert step["limiting_cell"] == cell
    if reason == "lithium_exhausted":
        assert np.argmin([last[f"voltage_cell_{n}"][-1] for n in (1, 2, 3)]) + 1 == 3


def test_stack_conserves_lithium_in_every_cell():
    # without capacitances: a double layer holds Li+ on the electrolyte side of its interface
    data = stack(n_cells=2, protocol=[
        {"mode": "discharge", "c_rate": 5, "until_time": "6 min"},
        {"mode": "charge", "c_rate": 5, "until_time": "3 min"}])
    result = run(no_capacitances(data))
    ts = result.timeseries
    model = result.model
    lco_mol = model.electrodes[model.positive].max_concentration * 320e-9 * 1e-4
    li_mol = 534.0 / 6.94e-3 * 1e-6 * 1e-4          # mol per um of Li on 1 cm^2
    for k in (1, 2):
        cathode = ts[f"x_mean_cathode_{k}"] * lco_mol
        anode = (ts[f"thickness_um_anode_{k}"] + ts[f"lost_um_anode_{k}"]) * li_mol
        assert np.max(np.abs((cathode + anode) - (cathode[0] + anode[0]))) < 1e-9 * anode[0]
    assert len(model.units) == 2


def test_stack_jacobian_matches_differences():
    case = case_from_dict(stack(n_cells=2, cells=4), CASES, "test")
    model = CellModel(case, build_grid(case))
    u = perturbed_state(model, np.random.default_rng(3))
    assert_jacobian_matches_differences(model, u, 1e3, ("current", 2e-5))


def test_bipolar_collector_floats_at_the_cell_voltage():
    """The shared collector between cells is tied to no tab: its potential comes from the
    kinetics on both sides, and must be exact at open circuit."""
    case = case_from_dict(stack(n_cells=2, cells=4), CASES, "test")
    model = CellModel(case, build_grid(case))
    u = model.initial_state()
    R, _ = model.residual_and_jacobian(u, -u[model.differential_columns], 1.0, ("current", 0.0))
    assert np.max(np.abs(R)) < 1e-10
    phi = u[model.s_phi]
    shared = build_grid(case).cells_with_tag("top_cc_1")
    assert np.allclose(phi[shared], model.cell_voltages(u)[1], atol=1e-12)


@pytest.mark.parametrize("change,key", [
    ({"n_cells": 0}, "cell.bipolar.n_cells"),
    ({"n_cells": 2.5}, "cell.bipolar.n_cells"),
    ({"variations": [{"cell": 4, "layer": "cathode", "thickness": "1 um"}]},
     "cell.bipolar.variations.0.cell"),
    ({"variations": [{"cell": 1, "layer": "separator", "thickness": "1 um"}]},
     "cell.bipolar.variations.0.layer"),
    ({"variations": [{"cell": 1, "layer": "cathode"}]}, "cell.bipolar.variations.0"),
    ({"variations": [{"cell": 1, "layer": "anode", "initial_stoichiometry": 0.5}]},
     "cell.bipolar.variations.0.initial_stoichiometry"),
    ({"variations": [{"cell": 1, "layer": "cathode", "thickness": "-1 um"}]},
     "cell.bipolar.variations.0.thickness"),
    ({"n_cells": 2, "colour": "red"}, "cell.bipolar.colour"),
])
def test_bad_bipolar_input_names_the_key(change, key):
    data = stack()
    data["cell"]["bipolar"].update(change)
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES, "test")
    assert info.value.key == key


# ---------------------------------------------------------------- anode-free cells

def anode_free(protocol, cells=8, efficiency=None):
    data = case_dict("anode_free_cu_lipon_lco.toml")
    data["mesh"]["cells_per_layer"] = cells
    data["protocol"] = protocol
    if efficiency is not None:
        data.setdefault("materials", {}).setdefault("Li", {})["coulombic_efficiency"] = efficiency
    return data


LI_MOL_PER_UM_CM2 = 534.0 / 6.94e-3 * 1e-6 * 1e-4


def test_anode_free_cell_plates_and_strips_all_its_lithium():
    result = run(anode_free([
        {"mode": "charge", "c_rate": 2, "until_voltage": "4.2 V"},
        {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}], efficiency=1.0))
    charge, discharge = result.summary["steps"]
    ts = result.timeseries
    thickness = ts["thickness_um_anode"]
    assert charge["end_reason"] == "until_voltage"
    assert discharge["end_reason"] == "lithium_exhausted"
    # the plated film holds exactly the charge passed (Faraday), and none is left at the end
    plated = thickness[ts["step"] == 0][-1]
    charge_mol = charge["capacity_mAh_cm2"] * 3.6 / FARADAY
    assert plated * LI_MOL_PER_UM_CM2 == pytest.approx(charge_mol, rel=1e-9)
    assert abs(thickness[-1]) < 1e-6 * plated
    assert np.all(np.diff(thickness[ts["step"] == 0]) >= 0)
    # with no side reaction, all the plated lithium comes back: coulombic efficiency 1
    assert discharge["capacity_mAh_cm2"] == pytest.approx(charge["capacity_mAh_cm2"], rel=1e-6)


def test_anode_free_cell_made_discharged_has_nothing_to_give():
    result = run(anode_free([{"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"},
                             {"mode": "charge", "c_rate": 1, "until_time": "10 min"}]))
    first, second = result.summary["steps"]
    assert first["end_reason"] == "lithium_exhausted"
    assert first["capacity_mAh_cm2"] < 1e-9
    # the protocol goes on: lithium exhausted ends a step, not the run
    assert second["end_reason"] == "until_time"
    assert result.timeseries["thickness_um_anode"][-1] > 0


def test_anode_free_cell_charges_under_a_held_voltage_from_empty():
    """A hold above the open-circuit voltage plates lithium on the empty collector: the
    lithium_exhausted event stops only a current that strips (found by trying the product:
    the hold ended at once as 'lithium exhausted')."""
    result = run(anode_free([
        {"mode": "hold", "voltage": "4.2 V", "until_current": "1 uA"},
        {"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}], efficiency=1.0))
    hold, discharge = result.summary["steps"]
    assert hold["end_reason"] == "until_current"
    assert hold["capacity_mAh_cm2"] > 0.5 * discharge["capacity_mAh_cm2"] > 0
    assert discharge["end_reason"] == "lithium_exhausted"
    assert discharge["capacity_mAh_cm2"] == pytest.approx(hold["capacity_mAh_cm2"], rel=1e-6)


def test_anode_free_cell_without_lithium_blocks_at_its_collector():
    """No lithium on the copper: nothing reacts there, and the interface blocks, leaving its
    double layer in series. The linearised Butler-Volmer law had given it the charge
    transfer of lithium that is not there (a faradaic arc and no capacitive tail)."""
    from solver.impedance import SmallSignal, interface_response, small_signal_solver
    from solver.simulate import Simulation
    from solver.units import GAS_CONSTANT

    band = {"mode": "impedance", "frequencies": ["1 Hz", "1 MHz"], "points_per_decade": 2}
    case = case_from_dict(anode_free([band]), CASES, "test")
    result = solver.run(case)
    (step,) = result.summary["steps"]
    assert step["blocking_electrodes"] == ["anode"]
    # the same operating point with the faradaic branch left in: the spectra differ by the
    # collector's interface, R_ct || C_dl against C_dl alone
    sim = Simulation(case, build_grid(case))
    m = sim.model
    u0 = sim._solve(m.initial_state(), None, None, ("current", 0.0))
    li = next(e for e in m.electrodes if e.kind == "lithium_metal")
    f = result.spectra[0].frequency_Hz
    faradaic = SmallSignal(m, u0, small_signal_solver(m, sim.linear_solver)).spectrum(f)
    r_ct = GAS_CONSTANT * case.temperature / (FARADAY * li.i0_constant) * 1e4    # ohm cm^2
    c_dl = li.double_layer_capacitance * 1e-4                                     # F/cm^2
    jwc = 2j * np.pi * f * c_dl
    expected = faradaic - r_ct / (1 + jwc * r_ct) + 1 / jwc
    assert np.allclose(result.spectra[0].z_ohm_cm2, expected, rtol=1e-6)
    blocked = SmallSignal(m, u0, small_signal_solver(m, sim.linear_solver), blocking=li.faces)
    assert interface_response(m, blocked.response(1.0))[1][li.faces] == pytest.approx(0.0)
    # plated, the interface reacts again
    plated = run(anode_free([{"mode": "charge", "c_rate": 1, "until_time": "5 min"}, band]))
    assert "blocking_electrodes" not in plated.summary["steps"][1]
    assert abs(plated.spectra[0].z_ohm_cm2[-1]) < 0.01 * abs(result.spectra[0].z_ohm_cm2[-1])


def test_anode_free_cell_without_lithium_nor_double_layer_has_no_spectrum():
    data = anode_free([{"mode": "impedance"}])
    data["materials"] = {"Li": {"double_layer_capacitance": 0}}
    with pytest.raises(InputError) as info:
        run(data)
    assert info.value.key == "materials.Li.double_layer_capacitance"
    assert "holds no lithium" in str(info.value)


def test_anode_free_jacobian_matches_differences():
    case = case_from_dict(anode_free([{"mode": "charge", "c_rate": 1, "until_time": 1.0}],
                                     cells=4), CASES, "test")
    model = CellModel(case, build_grid(case))
    li = next(e for e in model.electrodes if e.kind == "lithium_metal")
    assert li.cells.size == 0 and li.faces.size == 1
    u = perturbed_state(model, np.random.default_rng(5))
    assert_jacobian_matches_differences(model, u, 1e3, ("current", -2e-5))


def test_anode_free_trench_plates_on_the_whole_structured_collector():
    """Lithium of zero thickness works in a trench too: it plates over the conformal films'
    whole interface, and its thickness is the plated volume over that area."""
    data = case_dict("trench_si_lipon_lco.toml")
    for layer in data["cell"]["layers"]:
        if layer["material"] == "Si":
            layer.update(material="Li", thickness="0 um")
            layer.pop("initial_stoichiometry", None)
        if layer["material"] == "LiCoO2":
            layer["initial_stoichiometry"] = 0.99
    data["mesh"].update(max_cell_size="1 um", cells_per_layer=4)
    data["protocol"] = [{"mode": "charge", "c_rate": 2, "until_voltage": "4.2 V"},
                        {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}]
    result = run(data)
    charge, discharge = result.summary["steps"]
    assert charge["end_reason"] == "until_voltage"
    assert discharge["end_reason"] in ("until_voltage", "lithium_exhausted")
    ts = result.timeseries
    # plated: the active and the inactive lithium together
    plated = (ts["thickness_um_anode"] + ts["lost_um_anode"])[ts["step"] == 0][-1]
    model, grid = result.model, result.grid
    li = next(e for e in model.electrodes if e.kind == "lithium_metal")
    plating_area = np.sum(model.if_area[li.faces]) / grid.footprint_area    # per footprint
    assert plating_area == pytest.approx(result.summary["aef"], rel=0.02)    # the TiN film's
    charge_mol = charge["capacity_mAh_cm2"] * 3.6 / FARADAY                  # per cm^2 footprint
    assert plated * LI_MOL_PER_UM_CM2 * plating_area == pytest.approx(charge_mol, rel=1e-9)


def test_anode_free_cell_fades_by_its_coulombic_efficiency():
    """Of the lithium plated on each charge a share eta stays active: the next discharge
    strips only that, the cathode gets only that back, and so each cycle's capacity is eta
    times the last one; the lost lithium closes the lithium balance."""
    eta = 0.9
    cycle = [{"mode": "charge", "c_rate": 2, "until_voltage": "4.2 V"},
             {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}]
    # the faradaic cell: a double layer holds charge that moves no lithium
    result = run(no_capacitances(anode_free([{"repeat": 4, "steps": cycle}], efficiency=eta)))
    steps = result.summary["steps"]
    charges = np.array([s["capacity_mAh_cm2"] for s in steps[0::2]])
    discharges = np.array([s["capacity_mAh_cm2"] for s in steps[1::2]])
    assert all(s["end_reason"] == "lithium_exhausted" for s in steps[1::2])
    assert np.allclose(discharges / charges, eta, rtol=1e-6)
    assert np.allclose(charges[1:] / discharges[:-1], 1.0, rtol=2e-3)   # 4.2 V: the same x
    assert np.allclose(discharges[1:] / discharges[:-1], eta, rtol=2e-3)
    ts = result.timeseries
    model = result.model
    lost = ts["lost_um_anode"][-1] * LI_MOL_PER_UM_CM2
    assert lost == pytest.approx((1 - eta) * charges.sum() * 3.6 / FARADAY, rel=1e-6)
    cathode = ts["x_mean_cathode"] * model.electrodes[model.positive].max_concentration
    volume = model.electrodes[model.positive].volume.sum()
    total = ((cathode * volume) + (ts["thickness_um_anode"] + ts["lost_um_anode"])
             * LI_MOL_PER_UM_CM2)
    assert np.max(np.abs(total - total[0])) < 1e-9 * total[0]

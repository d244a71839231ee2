"""Binary and dissociation electrolytes: Jacobian, steady concentration polarisation against
its closed form, the single-ion limit, conservation of the carriers, and bad input."""

import numpy as np
import pytest

import solver
from solver.api import build_grid
from solver.errors import InputError
from solver.model import CellModel
from solver.units import FARADAY, GAS_CONSTANT
from tests.conftest import (
    assert_jacobian_matches_differences,
    perturbed_state,
    planar_case,
)

C0 = 1000.0            # mol/m^3 of mobile carriers
KAPPA = 2.3e-4         # S/m, the library LiPON at 25 degC


def binary(t_plus=0.5, protocol=None, cells=20, cathode=None, capacitances=True,
           **solver_settings):
    """capacitances=False: no double layers, no displacement current (as the closed forms)."""
    return planar_case(
        protocol=protocol or [{"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}],
        materials={"LiPON": {"model": "binary", "transference_number": t_plus,
                             "carrier_concentration": f"{C0} mol/m^3"}, **(cathode or {})},
        mesh={"cells_per_layer": cells}, solver=solver_settings or None,
        capacitances=capacitances)


def danilov(k_r="0.9e-8 m^3/(mol*s)"):
    return planar_case(
        cell={"layers": [
            {"name": "anode", "material": "Li", "thickness": "3 um"},
            {"name": "electrolyte", "material": "Li3PO4", "thickness": "1.5 um"},
            {"name": "cathode", "material": "LiCoO2", "thickness": "320 nm",
             "initial_stoichiometry": 0.5}]},
        materials={"Li3PO4": {"model": "dissociation", "recombination_rate_constant": k_r}},
        mesh={"cells_per_layer": 8},
        protocol=[{"mode": "discharge", "c_rate": 1.6, "until_voltage": "3.0 V"}])


@pytest.mark.parametrize("make", [binary, danilov])
def test_jacobian_matches_differences(make):
    case = make() if make is danilov else make(cells=5)
    model = CellModel(case, build_grid(case))
    assert model.n_c > 0
    u = perturbed_state(model, np.random.default_rng(11))
    assert_jacobian_matches_differences(model, u, 1e2, ("current", 2e-5))


def test_steady_concentration_profile_and_potential_match_the_closed_form():
    """Under a constant current j the carriers settle into a line with slope
    -(1 - t+) j / (F D_amb), and between two points the electrolyte potential falls by
    (beta - j / (kappa0 s)) ln(theta_2 / theta_1) (s the slope of theta = c / c0)."""
    t_plus, j = 0.5, 1.0                                  # A/m^2
    # the film at the crystal's capacity: 400 s at 1 A/m2 must not fill it
    result = solver.run(binary(t_plus, cells=40, capacitances=False, rtol=1e-6, cathode={
        "LiCoO2_003": {"active_fraction": 1.0}}, protocol=[
        {"mode": "discharge", "current_density": j, "until_time": "400 s"}]))
    assert result.summary["steps"][0]["end_reason"] == "until_time"
    model, grid = result.model, result.grid
    u = result.snapshots[-1][2]
    region = model.carriers[0]
    z = grid.cell_centroids[region.cells, 0] - grid.cell_centroids[region.cells, 0].min()
    theta = u[model.s_c][region.slice]
    T = model.temperature
    d_sum = KAPPA * GAS_CONSTANT * T / (FARADAY**2 * C0)
    d_amb = 2 * t_plus * (1 - t_plus) * d_sum
    slope = -(1 - t_plus) * j / (FARADAY * d_amb * C0)     # per m, of theta
    fit = np.polyfit(z, theta, 1)
    assert fit[0] == pytest.approx(slope, rel=1e-6)
    assert np.max(np.abs(theta - np.polyval(fit, z))) < 1e-9
    # carriers are conserved: the mean stays c0
    volumes = region.volume
    assert np.sum(theta * volumes) / np.sum(volumes) == pytest.approx(1.0, abs=1e-9)
    # potential between the first and the last electrolyte cell centre
    phi = u[model.s_phi][region.cells]
    beta = 2 * GAS_CONSTANT * T * (1 - t_plus) / FARADAY
    s = fit[0]
    expected = (beta - j / (KAPPA * s)) * np.log(theta[-1] / theta[0])
    assert phi[-1] - phi[0] == pytest.approx(expected, rel=2e-3)


def test_binary_electrolyte_tends_to_the_single_ion_one():
    single = solver.run(planar_case(mesh={"cells_per_layer": 10})).summary["steps"][0]
    near = solver.run(binary(t_plus=0.9999, cells=10)).summary["steps"][0]
    assert near["capacity_mAh_cm2"] == pytest.approx(single["capacity_mAh_cm2"], rel=1e-4)
    assert near["mean_voltage_V"] == pytest.approx(single["mean_voltage_V"], abs=1e-4)


def test_concentration_polarisation_costs_voltage():
    single = solver.run(planar_case(mesh={"cells_per_layer": 10})).summary["steps"][0]
    polarised = solver.run(binary(t_plus=0.3, cells=10)).summary["steps"][0]
    assert polarised["mean_voltage_V"] < single["mean_voltage_V"] - 1e-3


def test_danilov_dissociation_model_runs_and_recombination_limits_polarisation():
    slow = solver.run(danilov()).summary["steps"][0]
    fast = solver.run(danilov("0.9e-6 m^3/(mol*s)")).summary["steps"][0]
    assert slow["end_reason"] == fast["end_reason"] == "until_voltage"
    # faster recombination restores the carriers near the electrodes: a smaller overpotential
    assert fast["mean_voltage_V"] > slow["mean_voltage_V"]
    assert fast["capacity_mAh_cm2"] >= slow["capacity_mAh_cm2"]


@pytest.mark.parametrize("changes,key", [
    ({"model": "binary", "transference_number": 0.5}, "materials.LiPON.carrier_concentration"),
    ({"model": "binary", "carrier_concentration": "1000 mol/m^3"},
     "materials.LiPON.transference_number"),
    ({"model": "dissociation"}, "materials.LiPON.lithium_concentration"),
    ({"transference_number": 0.5}, "materials.LiPON.transference_number"),
])
def test_bad_electrolyte_model_input_names_the_key(changes, key):
    case = planar_case(materials={"LiPON": changes}, mesh={"cells_per_layer": 4})
    with pytest.raises(InputError) as info:
        CellModel(case, build_grid(case))
    assert info.value.key == key


def test_binary_electrolyte_in_a_trench_iterative_equals_direct():
    """The block preconditioner takes the carrier concentration with the stoichiometries."""
    import tomllib

    from solver.case import case_from_dict
    from solver.linear import LinearSolver
    from solver.simulate import Simulation
    from tests.conftest import ROOT

    with open(ROOT / "cases" / "trench_si_lipon_lco.toml", "rb") as handle:
        data = tomllib.load(handle)
    data.setdefault("materials", {})["LiPON"] = {
        "model": "binary", "transference_number": 0.5, "carrier_concentration": f"{C0} mol/m^3"}
    data["mesh"].update(max_cell_size="0.3 um", cells_per_layer=6)
    data["protocol"] = [{"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}]
    case = case_from_dict(data, ROOT / "cases", "test")
    iterative = Simulation(case, build_grid(case))
    assert type(iterative.linear_solver).__name__ == "KrylovSolver"
    direct = Simulation(case, iterative.grid)
    m = direct.model
    direct.linear_solver = LinearSolver(m.pattern.indptr, m.pattern.indices, m.n_unknowns)
    a, b = iterative.run().steps[0], direct.run().steps[0]
    assert a.end_reason == b.end_reason == "until_voltage"
    # Newton stops at 1e-3 of rtol with the direct solver, at 1e-8 with GMRES
    assert a.capacity_mAh_cm2 == pytest.approx(b.capacity_mAh_cm2, rel=1e-4)


def test_binary_cell_voltage_converges_at_second_order():
    """The interface half cell carries the diffusion potential and the concentration there
    (from the flux condition), so the voltage under concentration polarisation converges
    at second order like the single-ion cell (observed 1.97, 1.99, 2.00 over 5-80 cells)."""
    voltages = []
    for cells in (10, 20, 40):
        result = solver.run(binary(0.3, cells=cells, rtol=1e-8, protocol=[
            {"mode": "discharge", "c_rate": 5, "until_time": "100 s"}]))
        voltages.append(result.timeseries["voltage_V"][-1])
    d = np.abs(np.diff(voltages))
    assert np.log2(d[0] / d[1]) > 1.8


DISCHARGE = {"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}


def _with_electrolyte(material):
    from tests.conftest import shipped_case_dict

    layers = [dict(layer) for layer in shipped_case_dict()["cell"]["layers"]]
    (k,) = [k for k, layer in enumerate(layers) if layer["name"] == "electrolyte"]
    layers[k]["material"] = material
    return layers


def _reduced_warnings(result):
    return [w for w in result.summary.get("warnings", []) if "is reduced below" in w]


def test_an_electrolyte_below_its_reduction_potential_is_warned_about():
    """LLTO conducts electrons below 1.7 V vs Li (Ti4+ -> Ti3+), which the model leaves out:
    against lithium metal (0 V) that is said; LiPON, without a reduction potential, is not."""
    llto = solver.run(planar_case(cell={"layers": _with_electrolyte("LLTO")},
                                  protocol=[DISCHARGE]))
    (warning,) = _reduced_warnings(llto)
    assert "1.7 V" in warning and "down to 0 V" in warning
    assert "materials.LLTO.reduction_potential" in warning
    assert not _reduced_warnings(solver.run(planar_case(protocol=[DISCHARGE])))


@pytest.mark.parametrize("limit, warned", [(None, True), ("1.2 V", False)])
def test_an_intercalation_anode_is_measured_by_the_ocv_of_its_surface(limit, warned):
    """A Li4Ti5O12 anode sits near 1.55 V: below LLTO's 1.7 V, above a limit of 1.2 V."""
    layers = [{"name": "anode_cc", "material": "Pt", "thickness": "100 nm"},
              {"name": "anode", "material": "Li4Ti5O12", "thickness": "1 um",
               "initial_stoichiometry": 0.9}] + _with_electrolyte("LLTO")[1:]
    materials = {"LLTO": {"reduction_potential": limit}} if limit else None
    result = solver.run(planar_case(cell={"layers": layers}, materials=materials,
                                    protocol=[dict(DISCHARGE, until_voltage="1.5 V")]))
    warnings = _reduced_warnings(result)
    assert bool(warnings) == warned
    if warned:
        assert "went down to 1.5" in warnings[0]


@pytest.mark.parametrize("material, changes, key", [
    # the dissociation model computes kappa and t+ from its carriers: the override had
    # changed nothing, with no word
    ("Li3PO4", {"model": "dissociation", "conductivity": "1e-7 S/cm"}, "conductivity"),
    ("LiPON", {"carrier_concentration": "1000 mol/m^3"}, "carrier_concentration"),
    ("LiPON", {"model": "binary", "transference_number": 0.5,
               "carrier_concentration": "1000 mol/m^3", "mobile_fraction": 0.1},
     "mobile_fraction"),
])
def test_an_override_the_electrolyte_model_does_not_read_is_refused(material, changes, key):
    layers = [{"name": "anode", "material": "Li", "thickness": "3 um"},
              {"name": "electrolyte", "material": material, "thickness": "1.5 um"},
              {"name": "cathode", "material": "LiCoO2", "thickness": "320 nm",
               "initial_stoichiometry": 0.5}]
    with pytest.raises(InputError) as info:
        planar_case(cell={"layers": layers}, materials={material: changes})
    assert info.value.key == f"materials.{material}.{key}"
    assert "which does not read it" in info.value.expected

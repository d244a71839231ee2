"""Ambipolar intercalation films (electron_ion_diffusivity_ratio, solver/model/terms/
ambipolar.py): the share 1 / (1 + r) of the Li that enters at the electronic contact, against
the analytic slab with flux at both faces; conservation; the fast-electron limit; refusals."""

import numpy as np
import pytest

import solver
from solver.errors import InputError
from solver.units import FARADAY
from tests.conftest import ROOT, planar_case
from tests.test_verification import _cathode, _final_state, slab_solution

L, D, CMAX, J = 320e-9, 1.76e-15, 51555.0, 2.0     # film, m^2/s, mol/m^3, A/m^2


def _slab_run(cells, ratio, protocol=None, **mesh):
    t_end = 0.1 * L**2 / D
    materials = {"diffusivity": f"{D} m^2/s", "active_fraction": 1.0}
    if ratio is not None:
        materials["electron_ion_diffusivity_ratio"] = ratio
    case = planar_case(
        capacitances=False,
        protocol=protocol or [{"mode": "discharge", "current_density": J, "until_time": t_end}],
        mesh={"cells_per_layer": cells, **mesh}, materials={"LiCoO2_003": materials},
        solver={"rtol": 1e-8, "initial_step": 1e-6})
    return solver.run(case)


def _slab_error(cells, ratio):
    result = _slab_run(cells, ratio, grading=0.0)
    assert result.summary["steps"][0]["end_reason"] == "until_time"
    t, u = _final_state(result)
    model, e = result.model, _cathode(result)
    x = u[model.s_x][model.x_index[e.cells]]
    z = result.grid.cell_centroids[e.cells, -1]
    s = result.grid.face_centroids[result.grid.boundary_faces["top"], -1][0] - z
    share = 1.0 / (1.0 + ratio)
    # (1 - share) of the flux enters at the electrolyte face s = L, share at the collector s = 0
    rise = ((1 - share) * slab_solution(s, t, L, D, J / FARADAY)
            + share * slab_solution(L - s, t, L, D, J / FARADAY))
    return np.max(np.abs(x - (0.5 + rise / CMAX))), np.ptp(rise / CMAX)


@pytest.mark.parametrize("ratio", [3.0, 1.0])
def test_film_with_flux_at_both_faces_matches_the_series_at_second_order(ratio):
    errors = [_slab_error(n, ratio)[0] for n in (8, 16, 32)]
    orders = np.log2(np.array(errors[:-1]) / np.array(errors[1:]))
    assert errors[-1] < 1e-5
    assert np.all(orders > 1.9), f"orders {orders}, errors {errors}"


def test_equal_diffusivities_leave_the_film_symmetric():
    """r = 1: half the Li at each face, so the profile is symmetric about the middle."""
    result = _slab_run(16, 1.0, grading=0.0)
    _, u = _final_state(result)
    model, e = result.model, _cathode(result)
    z = result.grid.cell_centroids[e.cells, -1]
    x = u[model.s_x][model.x_index[e.cells]][np.argsort(z)]
    assert np.ptp(x) > 1e-3
    assert np.allclose(x, x[::-1], rtol=0, atol=1e-9)


def test_fast_electrons_are_the_film_without_the_key():
    protocol = [{"mode": "discharge", "c_rate": 40, "until_voltage": "3.0 V"}]
    plain = _slab_run(12, None, protocol=protocol).summary["steps"][0]["capacity_mAh_cm2"]
    fast = _slab_run(12, 1e12, protocol=protocol).summary["steps"][0]["capacity_mAh_cm2"]
    slow = _slab_run(12, 1.0, protocol=protocol).summary["steps"][0]["capacity_mAh_cm2"]
    # equal up to where the 3.0 V crossing is located (the step sequences differ in round-off)
    assert fast == pytest.approx(plain, rel=1e-4)
    assert slow > 1.05 * plain        # Li entering at both faces: a shorter diffusion path


def test_lithium_is_conserved_in_an_ambipolar_cell():
    case = planar_case(capacitances=False, materials={
        "LiCoO2_003": {"electron_ion_diffusivity_ratio": 2.0}}, protocol=[
        {"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"},
        {"mode": "rest", "until_time": "10 min"},
        {"mode": "charge", "c_rate": 2, "until_voltage": "4.2 V"}])
    result = solver.run(case)
    model = result.model
    anode = case.layer("anode").material
    density = anode.value("density") / anode.value("molar_mass")
    thickness = result.timeseries["thickness_um_anode"] + result.timeseries["lost_um_anode"]
    start = (model.lithium_in_electrodes(model.initial_state())["cathode"]
             + 3e-6 * case.footprint_area * density)
    steps = result.timeseries["step"]
    for (_, k, u) in result.snapshots:
        last = int(np.flatnonzero(steps == k)[-1])
        total = (model.lithium_in_electrodes(u)["cathode"]
                 + thickness[last] * 1e-6 * case.footprint_area * density)
        assert total == pytest.approx(start, rel=1e-12, abs=0)


def test_a_2d_cell_refuses_the_ratio_naming_the_key():
    """Refused with the case, before anything runs (sweeps and comparisons check cases up
    front), and by the model for grids that are not one-dimensional."""
    import tomllib

    from solver.case import case_from_dict

    path = ROOT / "cases" / "trench_si_lipon_lco.toml"
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    cathode = next(layer["material"] for layer in data["cell"]["layers"]
                   if layer["name"] == "cathode")
    data.setdefault("materials", {}).setdefault(cathode, {})[
        "electron_ion_diffusivity_ratio"] = 4.0
    with pytest.raises(InputError) as info:
        case_from_dict(data, path.parent, source="test")
    assert "electron_ion_diffusivity_ratio" in str(info.value)
    assert "one-dimensional" in str(info.value)


def test_a_model_without_the_term_refuses_the_ratio_on_update():
    from solver.api import build_grid
    from solver.model import CellModel

    case = planar_case(capacitances=False)
    model = CellModel(case, build_grid(case))
    with pytest.raises(InputError, match="electron_ion_diffusivity_ratio"):
        model.update_parameters(planar_case(capacitances=False, materials={
            "LiCoO2_003": {"electron_ion_diffusivity_ratio": 2.0}}))


@pytest.mark.parametrize("ratio", [0.05, 0.3, 1.0, 20.0])
def test_the_ambipolar_film_stays_passive(ratio, tmp_path):
    """Re Z >= 0 at every frequency, also where most Li enters at the contact (s > 2/3) on a
    steep OCV (x = 0.99): the electrons' share of the Li potential keeps the film passive
    (with the flux split alone Re Z fell to -122 ohm cm2 at 1 mHz for r = 0.1)."""
    import copy
    import csv

    from solver.case import case_from_dict
    from tests.conftest import SHIPPED_CASE, shipped_case_dict

    data = copy.deepcopy(shipped_case_dict())
    for layer in data["cell"]["layers"]:
        if layer["name"] == "cathode":
            layer.update(material="LiCoO2", thickness="1 um", initial_stoichiometry=0.99)
            layer.pop("initial_voltage", None)
    data["materials"] = {"LiCoO2": {"electron_ion_diffusivity_ratio": ratio}}
    data["mesh"] = {"cells_per_layer": 10}
    data["protocol"] = [{"mode": "impedance", "frequencies": ["1 mHz", "100 kHz"],
                         "points_per_decade": 4}]
    result = solver.run(case_from_dict(data, SHIPPED_CASE.parent, source="test"))
    result.write(tmp_path)
    with open(tmp_path / "impedance.csv") as handle:
        real = [float(row["z_real_ohm_cm2"]) for row in csv.DictReader(handle)]
    assert len(real) == 33 and min(real) > 0.0

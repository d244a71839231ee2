"""Verification: the discrete equations against analytic solutions and conservation laws."""

import numpy as np
import pytest

import solver
from solver.physics.kinetics import butler_volmer_overpotential, exchange_current_density
from solver.units import FARADAY
from tests.conftest import assert_jacobian_matches_differences, perturbed_state, planar_case


def _final_state(result):
    t, step, u = result.snapshots[-1]
    return t, u


def _cathode(result):
    model = result.model
    return next(e for e in model.intercalation if e.name == "cathode")


def slab_solution(s, t, L, D, flux, terms=400):
    """Carslaw & Jaeger: slab 0 < s < L, flux `flux` (mol/m^2/s) entering at s = L, none at
    s = 0, uniform start. Returns the concentration rise c - c0 (mol/m^3)."""
    n = np.arange(1, terms + 1)[:, None]
    series = ((-1.0) ** n / n**2 * np.exp(-D * n**2 * np.pi**2 * t / L**2)
              * np.cos(n * np.pi * s[None, :] / L)).sum(axis=0)
    return flux * t / L + flux * L / D * ((3 * s**2 - L**2) / (6 * L**2) - 2 / np.pi**2 * series)


def _slab_error(cells, grading=0.0, rtol=1e-8):
    L, D, cmax = 320e-9, 1.76e-15, 51555.0
    t_end = 0.1 * L**2 / D
    j = 2.0   # A/m^2: x rises by about 0.1 over the run
    case = planar_case(
        capacitances=False,
        protocol=[{"mode": "discharge", "current_density": j, "until_time": t_end}],
        mesh={"cells_per_layer": cells, "grading": grading},
        materials={"LiCoO2_003": {"diffusivity": f"{D} m^2/s", "active_fraction": 1.0}},
        solver={"rtol": rtol, "initial_step": 1e-6})
    result = solver.run(case)
    assert result.summary["steps"][0]["end_reason"] == "until_time"
    t, u = _final_state(result)
    model = result.model
    e = _cathode(result)
    x = u[model.s_x][model.x_index[e.cells]]
    z = result.grid.cell_centroids[e.cells, -1]
    s = result.grid.face_centroids[result.grid.boundary_faces["top"], -1][0] - z
    flux = j / FARADAY
    # the flux enters at the electrolyte side, s = L
    exact = 0.5 + slab_solution(s, t, L, D, flux) / cmax
    return np.max(np.abs(x - exact)), np.max(np.abs(exact - 0.5))


def _observed_orders(cells, **kwargs):
    errors = [_slab_error(n, **kwargs)[0] for n in cells]
    return np.log2(np.array(errors[:-1]) / np.array(errors[1:])), errors


def test_slab_diffusion_matches_series_at_second_order():
    orders, errors = _observed_orders((8, 16, 32))
    assert errors[-1] < 1e-5
    assert np.all(orders > 1.95), f"observed orders {orders}, errors {errors}"


def test_slab_diffusion_second_order_on_graded_cells():
    # cells graded towards the interfaces approach second order from below (1.83, 1.93, 1.96
    # for 8..64 cells): the grading map is fixed, so the ratio of neighbours tends to one
    orders, errors = _observed_orders((16, 32, 64), grading=0.5, rtol=1e-9)
    assert np.all(orders > 1.9), f"observed orders {orders}, errors {errors}"


def test_ohmic_drop_and_overpotentials_at_the_first_instant():
    # fast diffusion: no concentration drop across the half cell next to the interface
    current = 20e-6
    case = planar_case(capacitances=False, protocol=[{"mode": "discharge", "current": current,
                                  "until_voltage": "3.0 V"}],
                       materials={"LiCoO2_003": {"diffusivity": "1e-6 cm^2/s"}})
    result = solver.run(case)
    lco = case.layer("cathode").material
    x0 = 0.5
    area = case.footprint_area
    j = current / area
    r_electrolyte = 1.5e-6 / (case.layer("electrolyte").material.value("conductivity") * area)
    sigma = lco.value("electronic_conductivity")            # a table of x, uniform x0 here
    r_cathode = 320e-9 / ((sigma(x0) if callable(sigma) else sigma) * area)
    r_li = 3e-6 / (case.layer("anode").material.value("electronic_conductivity") * area)
    i0_c, _ = exchange_current_density(np.array([x0]), lco.value("rate_constant"), 51555.0,
                                       0.5, 0.5)
    i0_a = case.layer("anode").material.value("exchange_current_density")
    eta_c = butler_volmer_overpotential(np.array([j]), i0_c, 0.5, 0.5, case.temperature)[0][0]
    eta_a = butler_volmer_overpotential(np.array([j]), np.array([i0_a]), 0.5, 0.5,
                                        case.temperature)[0][0]
    ocv = float(lco.value("ocv")(np.array([x0]))[0])
    expected = ocv - eta_c - eta_a - current * (r_electrolyte + r_cathode + r_li)
    v0 = result.timeseries["voltage_V"][0]
    assert current * r_electrolyte == pytest.approx(0.0013043, rel=1e-3)   # I L / (kappa A)
    assert v0 == pytest.approx(expected, abs=2e-7)


def test_capacity_at_low_rate_equals_film_capacity_to_the_cutoff():
    case = planar_case(protocol=[{"mode": "discharge", "c_rate": 0.005,
                                  "until_voltage": "3.0 V"}])
    result = solver.run(case)
    lco = case.layer("cathode").material
    ocv = lco.value("ocv")
    x = np.linspace(0.5, 0.9999, 200001)
    x_cut = x[np.argmin(np.abs(ocv(x) - 3.0))]
    cmax = lco.value("max_concentration") * lco.value("active_fraction")   # the film's sites
    expected_mAh_cm2 = cmax * 320e-9 * (x_cut - 0.5) * FARADAY / 3.6 / 1e4
    delivered = result.summary["steps"][0]["capacity_mAh_cm2"]
    assert result.summary["steps"][0]["end_reason"] == "until_voltage"
    assert delivered == pytest.approx(expected_mAh_cm2, rel=5e-3)


def test_lithium_is_conserved_between_the_electrodes():
    case = planar_case(capacitances=False, protocol=[
        {"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"},
        {"mode": "rest", "until_time": "10 min"},
        {"mode": "charge", "c_rate": 2, "until_voltage": "4.2 V"},
    ])
    result = solver.run(case)
    model = result.model
    density = case.layer("anode").material.value("density") / case.layer("anode").material.value(
        "molar_mass")

    def total(u, thickness_um):
        return (model.lithium_in_electrodes(u)["cathode"]
                + thickness_um * 1e-6 * case.footprint_area * density)

    # active and inactive lithium together
    thickness = result.timeseries["thickness_um_anode"] + result.timeseries["lost_um_anode"]
    u0 = model.initial_state()
    start = total(u0, 3.0)          # 3 um of Li at t = 0
    for (t, k, u), last in zip(result.snapshots, _step_ends(result)):
        assert total(u, thickness[last]) == pytest.approx(start, rel=1e-12, abs=0)   # round-off over ~100 steps
    assert thickness[-1] < thickness[0] + 1e-9


def _step_ends(result):
    steps = result.timeseries["step"]
    return [int(np.flatnonzero(steps == k)[-1]) for k in range(len(result.summary["steps"]))]


def test_delivered_capacity_converges_under_mesh_and_time_refinement():
    def capacity(cells, rtol):
        case = planar_case(protocol=[{"mode": "discharge", "c_rate": 10,
                                      "until_voltage": "3.0 V"}],
                           mesh={"cells_per_layer": cells}, solver={"rtol": rtol})
        return solver.run(case).summary["steps"][0]["capacity_mAh_cm2"]

    by_mesh = [capacity(n, 1e-5) for n in (5, 10, 20, 40)]
    d_mesh = np.abs(np.diff(by_mesh))
    assert np.all(d_mesh[1:] < 0.5 * d_mesh[:-1]), by_mesh
    assert d_mesh[-1] < 1e-3 * by_mesh[-1]
    by_time = [capacity(20, r) for r in (1e-2, 1e-3, 1e-4, 1e-5)]
    assert abs(by_time[-2] - by_time[-1]) < 1e-3 * by_time[-1], by_time
    assert abs(by_time[0] - by_time[-1]) < 2e-2 * by_time[-1], by_time


def test_extruded_3d_planar_cell_equals_the_1d_cell():
    from meshes.planar import planar_grid
    from solver.api import cells_per_layer

    case = planar_case(protocol=[{"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"}],
                       mesh={"cells_per_layer": 8})
    one_d = solver.run(case)
    layers = [(layer.name, layer.thickness) for layer in case.layers]
    grid = planar_grid(layers, cells_per_layer(case), case.footprint_area, dim=3, lateral_cells=3,
                       grading=case.mesh.grading)
    three_d = solver.run(case, grid=grid)
    a, b = one_d.summary["steps"][0], three_d.summary["steps"][0]
    # equal to the Newton tolerance (1e-8 V), which also steers the adaptive time steps
    assert b["capacity_mAh_cm2"] == pytest.approx(a["capacity_mAh_cm2"], rel=1e-7)
    assert b["energy_mWh_cm2"] == pytest.approx(a["energy_mWh_cm2"], rel=1e-7)
    v_3d = np.interp(one_d.timeseries["time_s"], three_d.timeseries["time_s"],
                     three_d.timeseries["voltage_V"])
    assert np.max(np.abs(v_3d - one_d.timeseries["voltage_V"])) < 1e-6
    assert three_d.grid.n_cells == 9 * one_d.grid.n_cells


def test_jacobian_matches_finite_differences():
    from solver.api import build_grid
    from solver.model import CellModel

    case = planar_case(mesh={"cells_per_layer": 4})
    model = CellModel(case, build_grid(case))
    u = perturbed_state(model, np.random.default_rng(1))
    for drive in (("current", 2e-5), ("voltage", 3.9)):
        assert_jacobian_matches_differences(model, u, 20.0, drive)

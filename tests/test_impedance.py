"""Impedance spectroscopy (solver.impedance): the spectrum of a planar cell against its
closed form, its convergence, Kramers-Kronig consistency, the small-signal limit of a
time-domain sine, 3D cells against their planar and axisymmetric twins, the double-layer
transient of a current pulse, the input checks and the files written."""

import copy
import csv
import json

import numpy as np
import pytest

import solver
from solver.api import build_grid
from solver.case import case_from_dict, load_case
from solver.errors import InputError
from solver.kramers_kronig import MIN_FREQUENCIES, kramers_kronig_residual, lin_kk_residuals
from solver.linear import make_linear_solver
from solver.model.parameters import electrode_laws
from solver.newton import newton_solve
from solver.simulate import History, Simulation, bdf_coefficients
from solver.units import FARADAY, GAS_CONSTANT, VACUUM_PERMITTIVITY
from tests.conftest import ROOT, planar_case, zero_depth_trench_twins

IMPEDANCE = {"mode": "impedance", "frequencies": ["1 mHz", "1 MHz"], "points_per_decade": 10}
# LiCoO2 with a constant i0 (the closed form's charge-transfer resistance) at x = 0.6
CONSTANT_I0 = {"LiCoO2_003": {"exchange_current_density": "0.4 mA/cm^2"}}
# a film whose diffusion layer the default mesh resolves at every frequency (L^2/D = 1 s)
RESOLVED = {"LiCoO2_003": {"exchange_current_density": "0.4 mA/cm^2",
                       "diffusivity": "1e-13 m^2/s"}}


def planar(materials, cells=20, x0=0.6, protocol=(IMPEDANCE,)):
    case = planar_case(materials=materials, mesh={"cells_per_layer": cells},
                       protocol=list(protocol))
    data = copy.deepcopy(case.raw)
    data["cell"]["layers"][2]["initial_stoichiometry"] = x0
    return case_from_dict(data, ROOT / "cases", "test")


def spectrum(case, grid=None):
    result = solver.run(case, grid=grid)
    assert not result.failed, result.summary
    return result.spectra[0]


def closed_form(case, frequencies, x0=0.6):
    """Li | single-ion electrolyte | intercalation film: the electrolyte's R || C_geo, each
    interface's R_ct || C_dl, the film's reflective finite-length diffusion impedance in
    series with its charge transfer, and the film's electronic resistance (ohm cm^2)."""
    omega = 2 * np.pi * frequencies
    T = case.temperature
    lipon, lco, li = (case.layer(n).material for n in ("electrolyte", "cathode", "anode"))
    L_e, L_c = case.layer("electrolyte").thickness, case.layer("cathode").thickness
    R_el = L_e / lipon.value("conductivity")
    C_geo = VACUUM_PERMITTIVITY * lipon.value("relative_permittivity") / L_e

    def charge_transfer(material):        # alpha_a + alpha_c = 1
        return GAS_CONSTANT * T / (FARADAY * material.value("exchange_current_density"))

    R_li, C_li = charge_transfer(li), li.value("double_layer_capacitance")
    R_ct, C_dl = charge_transfer(lco), lco.value("double_layer_capacitance")
    laws = electrode_laws(lco, T)                  # tables and active fraction at x0
    dU_dc = laws.ocv(x0)[1] / laws.max_concentration
    D = laws.diffusivity(x0)[0]
    sigma = laws.conductivity(x0)[0]
    s = np.sqrt(1j * omega * L_c**2 / D)
    Z_D = -dU_dc * L_c / (FARADAY * D) / np.tanh(s) / s
    Z_c = (R_ct + Z_D) / (1 + 1j * omega * C_dl * (R_ct + Z_D))
    Z = (R_el / (1 + 1j * omega * R_el * C_geo) + R_li / (1 + 1j * omega * R_li * C_li) + Z_c
         + L_c / sigma)
    return Z * 1e4


def errors(materials, cells):
    case = planar(materials, cells)
    s = spectrum(case)
    exact = closed_form(case, s.frequency_Hz)
    magnitude = np.abs(np.abs(s.z_ohm_cm2) / np.abs(exact) - 1.0)
    phase = np.abs(np.degrees(np.angle(s.z_ohm_cm2 / exact)))
    return np.max(magnitude), np.max(phase)


def test_planar_spectrum_matches_the_closed_form_at_the_default_mesh():
    magnitude, phase = errors(RESOLVED, cells=20)
    assert magnitude < 0.01 and phase < 1.0


def test_spectrum_converges_at_second_order_when_the_diffusion_layer_is_resolved():
    e = [errors(RESOLVED, cells)[0] for cells in (10, 20, 40)]
    orders = np.log2(np.array(e[:-1]) / np.array(e[1:]))
    assert np.all(orders > 1.5), (e, orders)


def test_spectrum_of_the_library_film_converges_under_refinement():
    """With the library's LiCoO2 (D = 1.76e-15 m^2/s, L^2/D = 58 s) the diffusion layer
    sqrt(D / omega) is thinner than the first cell from about 10 Hz: the surface half cell's
    diffusion resistance shows through until the double layer shorts it (3 % at 20 cells,
    near 1 kHz). It converges at order above one in the maximum over the spectrum."""
    e = [errors(CONSTANT_I0, cells)[0] for cells in (10, 20, 40)]
    orders = np.log2(np.array(e[:-1]) / np.array(e[1:]))
    assert np.all(orders > 1.0), (e, orders)


def test_computed_spectra_are_kramers_kronig_consistent_and_a_broken_one_is_not():
    s = spectrum(planar({}, cells=12))
    assert np.max(lin_kk_residuals(s.frequency_Hz, s.z_ohm_cm2)) < 1e-4
    broken = s.z_ohm_cm2.real + 1j * 1.02 * s.z_ohm_cm2.imag
    assert np.max(lin_kk_residuals(s.frequency_Hz, broken)) > 1e-3


def test_too_few_frequencies_give_no_kramers_kronig_residual():
    """Lin-KK fits any spectrum of fewer than 4 frequencies exactly (3 + M coefficients for
    2 numbers per frequency): a zigzag no causal system makes then gives 1e-16, which is no
    check, and is reported as None; from 4 frequencies on it is caught."""
    for n in range(1, 7):
        f = np.logspace(0, 4, n)
        zigzag = 100.0 - 50j * np.where(np.arange(n) % 2, 1.0, 3.0)
        if n < MIN_FREQUENCIES:
            assert np.max(lin_kk_residuals(f, zigzag)) < 1e-12
            assert kramers_kronig_residual(f, zigzag) is None
        else:
            assert kramers_kronig_residual(f, zigzag) > 0.1


def sine_response(case, frequency, periods, steps_per_period=100, relative_amplitude=1e-4):
    """Run the nonlinear model (BDF2, fixed steps) under I = I0 cos(omega t) from its
    open-circuit state and return the impedance (ohm cm^2) from the voltage's fundamental
    over the last three periods (a + b t + c cos + d sin fitted)."""
    sim = Simulation(case, build_grid(case))
    model = sim.model
    u = sim._solve(model.initial_state(), None, None, ("current", 0.0))
    amplitude = relative_amplitude * sim.nominal_capacity / 3600.0
    omega = 2 * np.pi * frequency
    dt = 1.0 / (frequency * steps_per_period)
    history = History()
    history.push(0.0, u, np.zeros(1))
    solver_ = make_linear_solver(model)
    times, voltages = [], []
    for n in range(1, periods * steps_per_period + 1):
        t = n * dt
        coeff, terms = bdf_coefficients(dt, history)
        hist = sum(a * history.states[k][model.differential_columns] for a, k in terms)
        drive = ("current", amplitude * np.cos(omega * t))
        u = newton_solve(lambda v: model.residual_and_jacobian(v, hist, coeff, drive), solver_,
                         history.states[-1], sim.scales, sim.bounded, tol=1e-12).u
        history.push(t, u, np.zeros(1))
        times.append(t)
        voltages.append(model.voltage(u))
    t, v = np.array(times), np.array(voltages)
    last = t > (periods - 3) / frequency
    basis = np.column_stack([np.ones(last.sum()), t[last], np.cos(omega * t[last]),
                             np.sin(omega * t[last])])
    _, _, c, d = np.linalg.lstsq(basis, v[last], rcond=None)[0]
    # v ~ Re((c - j d) e^{j omega t}); discharge current Re(I0 e^{j omega t})
    return -(c - 1j * d) / amplitude * case.footprint_area * 1e4


@pytest.mark.parametrize("frequency, periods", [(10.0, 6), (1e3, 6), (1e5, 25)])
def test_small_sinusoidal_current_gives_the_small_signal_impedance(frequency, periods):
    protocol = [{"mode": "impedance", "frequencies": [f"{frequency / 10} Hz", f"{frequency} Hz"],
                 "points_per_decade": 1}]
    case = planar({}, cells=10, protocol=protocol)
    z = spectrum(case).z_ohm_cm2[0]
    z_time = sine_response(case, frequency, periods)
    assert abs(z_time / z - 1.0) < 0.01, (z, z_time)


def test_current_pulse_shows_the_double_layer_charging_transient():
    """A current step on a cell whose LiCoO2 double layer charges slowly (50 uF/cm^2, tau =
    R_ct C_dl = 3.2 ms, far from the other time constants): the voltage relaxes from the
    ohmic jump towards the charge-transfer drop with that time constant; without the double
    layer it jumps at once."""
    materials = {"LiCoO2_003": {"exchange_current_density": "0.4 mA/cm^2", "diffusivity":
                            "1e-12 m^2/s", "double_layer_capacitance": "50 uF/cm^2"}}
    current = 2.0                                    # A/m^2: eta = 13 mV, nearly linear
    protocol = [{"mode": "discharge", "current_density": current, "until_time": "20 ms"}]
    case = planar(materials, cells=10, protocol=protocol)
    case = case_from_dict({**case.raw, "solver": {"initial_step": 1e-5, "max_step": 1e-4,
                                                  "rtol": 1e-5}}, ROOT / "cases", "test")
    ts = solver.run(case).timeseries
    R_ct = GAS_CONSTANT * case.temperature / (FARADAY * 4.0)
    tau = R_ct * 50e-6 * 1e4
    late = ts["voltage_V"][-1]
    drop = ts["voltage_V"] - late                    # -> I R_ct exp(-t/tau) once ohmic
    window = (ts["time_s"] > 0.5 * tau) & (ts["time_s"] < 3 * tau)
    slope = np.polyfit(ts["time_s"][window], np.log(drop[window]), 1)[0]
    assert -1.0 / slope == pytest.approx(tau, rel=0.05)
    assert drop[window][0] == pytest.approx(current * R_ct * np.exp(
        -ts["time_s"][window][0] / tau), rel=0.05)


TRENCH_CASE = ROOT / "cases" / "trench_si_lipon_lco.toml"
PILLAR_CASE = ROOT / "cases" / "micropillar_si_lipon_lco.toml"
COARSE_BAND = {"mode": "impedance", "frequencies": ["10 mHz", "100 kHz"],
               "points_per_decade": 2}


def structured(path, protocol=(COARSE_BAND,), mesh=None, materials=None, **geometry):
    data = copy.deepcopy(load_case(path).raw)
    data["cell"][data["cell"]["architecture"]].update(geometry)
    data["mesh"] = mesh or {"cells_per_layer": 2, "max_cell_size": "1 um"}
    data["protocol"] = list(protocol)
    data["materials"] = materials or {}
    return case_from_dict(data, path.parent, "test")


# films whose diffusion layers the coarse grids resolve at these frequencies, so that two
# grids of one cell agree to their (second-order) discretisation error
RESOLVED_FILMS = {"LiCoO2": {"diffusivity": "1e-11 m^2/s"}, "Si": {"diffusivity": "1e-13 m^2/s"}}


def test_zero_depth_trench_has_the_spectrum_of_the_planar_cell():
    trench = structured(TRENCH_CASE, mesh={"cells_per_layer": 6, "max_cell_size": "2 um"},
                        materials=RESOLVED_FILMS)
    grid, planar = zero_depth_trench_twins(trench)
    flat = spectrum(planar)
    zero_depth = spectrum(trench, grid=grid)
    # the generators space the cells through the fill differently (as for the discharge)
    assert np.allclose(zero_depth.z_ohm_cm2, flat.z_ohm_cm2, rtol=1e-3)


def test_axisymmetric_pillar_spectrum_approximates_the_3d_unit():
    three_d = spectrum(structured(PILLAR_CASE, lattice="hexagonal", materials=RESOLVED_FILMS))
    axisymmetric = spectrum(structured(PILLAR_CASE, lattice="hexagonal", axisymmetric=True,
                                       materials=RESOLVED_FILMS))
    # hexagonal unit and its axisymmetric cell of equal area: 0.2 % apart (1 % allowed, as
    # for their discharges)
    assert np.allclose(axisymmetric.z_ohm_cm2, three_d.z_ohm_cm2, rtol=0.01)


@pytest.mark.parametrize("path", [TRENCH_CASE, PILLAR_CASE], ids=["trench", "pillar"])
def test_spectrum_by_gmres_equals_the_direct_solve(path):
    """The complex block preconditioner (trench, 2D: LU of the potentials; pillar, 3D: AMG
    on the real proxies, complex Galerkin operators) against SuperLU on the whole system."""
    from solver.impedance import SmallSignal
    from solver.krylov import KrylovSolver
    from solver.linear import LinearSolver

    case = structured(path, mesh={"cells_per_layer": 2, "max_cell_size": "2 um"})
    sim = Simulation(case, build_grid(case))
    model = sim.model
    u0 = sim._solve(model.initial_state(), None, None, ("current", 0.0))
    p = model.pattern
    direct = SmallSignal(model, u0, LinearSolver(p.indptr, p.indices, model.n_unknowns))
    krylov = make_linear_solver(model, direct_limit=0)
    assert isinstance(krylov, KrylovSolver)
    gmres = SmallSignal(model, u0, krylov)
    f = np.array([1e5, 1e2, 1e-2])
    assert np.allclose(gmres.spectrum(f), direct.spectrum(f), rtol=1e-7)


@pytest.mark.parametrize("step, key", [
    ({"frequencies": ["1 MHz", "1 mHz"]}, "protocol.0.frequencies"),
    ({"frequencies": ["1 mHz"]}, "protocol.0.frequencies"),
    ({"frequencies": ["-1 Hz", "1 kHz"]}, "protocol.0.frequencies"),
    ({"frequencies": ["1 mHz", "3 V"]}, "protocol.0.frequencies"),
    ({"points_per_decade": 0}, "protocol.0.points_per_decade"),
    ({"points_per_decade": 1000}, "protocol.0.points_per_decade"),
    ({"field_frequencies": "1 kHz"}, "protocol.0.field_frequencies"),
    # one file each: the same frequency twice (or to 6 digits) wrote one file twice
    ({"field_frequencies": ["10 Hz", "0.01 kHz"]}, "protocol.0.field_frequencies"),
    ({"field_frequencies": ["3.3 Hz", "3.3000001 Hz"]}, "protocol.0.field_frequencies"),
    ({"c_rate": 1}, "protocol.0.c_rate"),
])
def test_impedance_step_input_is_checked(step, key):
    with pytest.raises(InputError) as error:
        planar_case(protocol=[{"mode": "impedance", **step}])
    assert error.value.key == key


def test_field_frequencies_of_a_one_dimensional_cell_are_warned_about(tmp_path):
    """A planar cell's interfaces are single faces: there is no current distribution to
    write, and field_frequencies had been ignored without a word."""
    band = {"mode": "impedance", "frequencies": ["1 Hz", "1 kHz"], "points_per_decade": 1,
            "field_frequencies": ["10 Hz"]}
    result = solver.run(planar_case(protocol=[{"repeat": 2, "steps": [band]}],
                                    mesh={"cells_per_layer": 4}))
    (warning,) = result.summary["warnings"]
    assert warning.startswith("protocol.0.steps.0.field_frequencies: no impedance fields are "
                              "written for a planar cell")
    assert not [p for p in result.write(tmp_path) if p.suffix == ".vtu"]


def test_impedance_outputs_and_step_summary(tmp_path):
    protocol = [{"mode": "discharge", "c_rate": 1, "until_voltage": "3.9 V"},
                {"mode": "impedance", "frequencies": ["10 mHz", "10 kHz"],
                 "points_per_decade": 6},
                {"mode": "rest", "until_time": "60 s"}]
    result = solver.run(planar_case(protocol=protocol, mesh={"cells_per_layer": 8}))
    steps = result.summary["steps"]
    assert [s["end_reason"] for s in steps] == ["until_voltage", "spectrum_done", "until_time"]
    state = steps[1]["state"]
    assert state["voltage_V"] > 3.9 and 0.5 < state["x_mean_cathode"] < 1.0
    assert steps[1]["n_frequencies"] == 37 and steps[1]["kramers_kronig_residual"] < 1e-3
    result.write(tmp_path)
    with open(tmp_path / "impedance.csv") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["step", "frequency_Hz", "z_real_ohm_cm2", "z_imag_ohm_cm2"]
    assert {r["step"] for r in rows} == {"1"} and len(rows) == 37
    assert all(float(r["z_imag_ohm_cm2"]) < 0 for r in rows)          # capacitive
    for name in ("nyquist.png", "bode.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"
    assert json.loads((tmp_path / "summary.json").read_text())["steps"][1]["state"] == state


def test_an_impedance_step_interrupted_while_it_computes_ends_interrupted(monkeypatch):
    # a signal (SIGTERM, Ctrl-C) during the frequency sweep: the step was recorded as
    # "spectrum_done" before its spectrum existed, with mean voltage 0 and no state
    from solver.errors import RunInterrupted
    from solver.impedance import SmallSignal

    def stopped(self, frequencies):
        raise RunInterrupted("stopped by the test")

    monkeypatch.setattr(SmallSignal, "spectrum", stopped)
    protocol = [{"mode": "discharge", "c_rate": 1, "until_voltage": "3.9 V"}, IMPEDANCE]
    with pytest.raises(RunInterrupted) as interrupted:
        solver.run(planar_case(protocol=protocol, mesh={"cells_per_layer": 8}))
    result = interrupted.value.result
    step = result.summary["steps"][1]
    assert step["end_reason"] == "interrupted" and "step 1 (impedance" in step["message"]
    assert step["mean_voltage_V"] == pytest.approx(result.step_series(1)["voltage_V"][-1])
    assert "state" not in step and not result.spectra


def test_trench_writes_the_small_signal_interface_current(tmp_path):
    import meshio

    protocol = [{**COARSE_BAND, "field_frequencies": ["10 mHz", "1 kHz"]}]
    result = solver.run(structured(TRENCH_CASE, protocol=protocol))
    written = {p.name for p in result.write(tmp_path)}
    assert {"impedance_step0_0.01Hz.vtu", "impedance_step0_1000Hz.vtu"} <= written
    mesh = meshio.read(tmp_path / "impedance_step0_1000Hz.vtu")
    relative = np.concatenate(mesh.cell_data["eis_current_relative"])
    assert np.nanmax(relative) > np.nanmin(relative) > 0.0
    assert np.sum(np.isfinite(relative)) == np.unique(result.model.if_cell_e).size


def test_field_frequencies_outside_the_spectrum_are_written_and_warned_about(tmp_path):
    """A field below or above the spectrum's frequencies (a unit slip, '10 MHz' for
    '10 mHz', most likely) had been written without a word."""
    band = {**COARSE_BAND, "points_per_decade": 1,
            "field_frequencies": ["1 mHz", "1 kHz", "1 MHz"]}
    result = solver.run(structured(TRENCH_CASE, protocol=[band]))
    warnings = [w for w in result.summary["warnings"] if "field_frequencies" in w]
    assert warnings == ["protocol.0.field_frequencies: 0.001 Hz, 1e+06 Hz outside the "
                        "spectrum's 0.01 to 100000 Hz: the fields there are written all the "
                        "same, with no point of impedance.csv at their frequency"]
    written = {p.name for p in result.write(tmp_path)}
    assert {"impedance_step0_0.001Hz.vtu", "impedance_step0_1e+06Hz.vtu"} <= written


def test_interface_response_is_relative_to_each_electrodes_mean():
    from solver.impedance import SmallSignal, interface_response

    case = structured(TRENCH_CASE)
    sim = Simulation(case, build_grid(case))
    model = sim.model
    u0 = sim._solve(model.initial_state(), None, None, ("current", 0.0))
    small = SmallSignal(model, u0, sim.linear_solver)
    for f in (1e-2, 1e3):
        relative, faradaic = interface_response(model, small.response(f))
        for e in model.electrodes:
            area = model.if_area[e.faces]
            assert np.sum(relative[e.faces] * area) / np.sum(area) == pytest.approx(1.0)
        assert np.all((faradaic >= 0.0) & (faradaic <= 1.0 + 1e-12))


def test_zero_capacitances_give_the_model_without_them_and_tiny_ones_its_results():
    """Capacitances 0 (or absent): no double-layer or half-cell unknowns, the model of old;
    tiny ones: the capacitive formulation (v_half = R_l i_t, i_dl = 0 in the limit) gives
    the same discharge."""
    def run(capacitance, permittivity):
        materials = {"LiCoO2_003": {"double_layer_capacitance": capacitance},
                     "Li": {"double_layer_capacitance": capacitance},
                     "LiPON": {"relative_permittivity": permittivity}}
        protocol = [{"mode": "discharge", "c_rate": 2, "until_time": "600 s"}]
        return solver.run(planar_case(materials=materials, protocol=protocol,
                                      mesh={"cells_per_layer": 8}))

    zero, tiny = run(0, 0), run("1e-12 uF/cm^2", 1e-9)
    assert not zero.model.capacitive and "i_dl" not in zero.model.layout
    assert tiny.model.capacitive and "v_half" in tiny.model.layout
    for column in ("voltage_V", "capacity_mAh_cm2"):
        assert tiny.timeseries[column][-1] == pytest.approx(zero.timeseries[column][-1],
                                                            rel=1e-9)



def test_a_negative_real_part_below_the_solver_resolution_is_warned_about():
    # the shipped anode-free cell after its discharge: the stripped copper face blocks, |Z|
    # grows as 1/(omega C_dl) and below ~0.1 Hz its real part drowns in the solve's error
    from tests.conftest import ROOT

    path = ROOT / "cases" / "anode_free_cu_lipon_lco.toml"
    shipped = solver.run(load_case(path))
    assert shipped.spectra[0].z_ohm_cm2.real.min() > 0.0
    assert not any("negative" in w for w in shipped.summary.get("warnings", []))
    data = copy.deepcopy(load_case(path).raw)
    data["protocol"][-1]["frequencies"] = ["1 mHz", "1 Hz"]
    low = solver.run(case_from_dict(data, path.parent, "test"))
    z = low.spectra[0].z_ohm_cm2
    assert z.real.min() < 0.0                  # the solve's error, not the cell
    warned = [w for w in low.summary["warnings"] if "real part of the impedance is negative" in w]
    assert len(warned) == 1 and warned[0].startswith("protocol.3:")

"""`thinfilm fit`: sensitivities of whole runs, recovery of known parameters from synthetic
curves (with honest intervals), non-identifiable parameters reported as such, the fit file's
checks, the command, its outputs and resuming."""

import copy
import json
import tomllib

import numpy as np
import pytest
import tomli_w

from solver.case import case_from_dict
from solver.errors import InputError
from solver.cli import main
from solver.fit import fit, load_fit
from solver.fit.spec import base_values
from solver.fit.evaluate import Objective, model_at
from solver.materials.schema import PARAMETERS
from solver.model import CellModel
from solver.api import build_grid, run
from solver.results import measurable_rows
from tests.conftest import SHIPPED_CASE, no_capacitances, shipped_case_dict
from tests.golden.cases import GOLDEN_CASES

TRUE = {"materials.LiCoO2.diffusivity": 1.76e-15, "materials.LiCoO2.rate_constant": 1.89e-9,
        "materials.LiPON.conductivity": 2.3e-4}
RANGES = {"materials.LiCoO2.diffusivity": ("1e-12 cm^2/s", "1e-9 cm^2/s", "1e-10 cm^2/s"),
          "materials.LiCoO2.rate_constant": ("1e-10 m/s", "1e-7 m/s", "1e-8 m/s"),
          "materials.LiPON.conductivity": ("1e-7 S/cm", "1e-4 S/cm", "1e-5 S/cm"),
          "cell.series_resistance": ("1 ohm*cm^2", "1000 ohm*cm^2", "100 ohm*cm^2")}
STORAGE = {"materials.LiCoO2.max_concentration": ("3e4 mol/m^3", "8e4 mol/m^3", "5e4 mol/m^3"),
           "protocol.0.c_rate": (5, 20, 10)}
RATES = (1, 4, 10, 20)


def base_case(rtol=1e-4):
    raw = shipped_case_dict()
    raw["mesh"]["cells_per_layer"] = 12
    for layer in raw["cell"]["layers"]:         # the library film the parameters are of
        if layer["material"].startswith("LiCoO2"):
            layer["material"] = "LiCoO2"
    raw["materials"] = {"LiCoO2": {"diffusivity": TRUE["materials.LiCoO2.diffusivity"],
                                   "rate_constant": TRUE["materials.LiCoO2.rate_constant"]},
                        "LiPON": {"conductivity": TRUE["materials.LiPON.conductivity"]}}
    raw["protocol"] = [{"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}]
    raw["solver"] = {"rtol": rtol}
    return raw


_CURVES = {}


def true_curve(raw, rate):
    """thinfilm's own curve at a rate, run to rtol 1e-5 (the measured cell), cached."""
    key = (json.dumps(raw, sort_keys=True), rate)
    if key not in _CURVES:
        r = copy.deepcopy(raw)
        r["protocol"][0]["c_rate"] = rate
        r["solver"] = {"rtol": 1e-5}
        series = run(case_from_dict(r, SHIPPED_CASE.parent)).step_series(0)
        keep = measurable_rows(series["time_s"])       # as a cycler samples it
        _CURVES[key] = (series["capacity_mAh_cm2"][keep], series["voltage_V"][keep])
    return _CURVES[key]


def measured_curves(folder, raw, rates, noise_mV=1.0, seed=0, points=40):
    """Curves of thinfilm itself at each rate, sampled at `points` capacities (through the
    same monotone interpolation the fit uses), plus Gaussian noise; one CSV each."""
    rng = np.random.default_rng(seed)
    names = []
    for c in rates:
        q, v = true_curve(raw, c)
        q_data = np.linspace(0.0, q[-1], points)
        v_data = model_at(q, v, q_data, "", None)[0] + 1e-3 * noise_mV * rng.standard_normal(points)
        name = f"data_{c:g}C_{seed}.csv"
        np.savetxt(folder / name, np.column_stack([q_data, v_data]), delimiter=",",
                   header="capacity_mAh_cm2,voltage_V", comments="")
        names.append(name)
    return names


def fit_file(folder, raw, rates, names, keys, roles=None, settings=None, name="fit.toml"):
    (folder / "cell.toml").write_text(tomli_w.dumps(raw))
    roles = roles or ["fit"] * len(rates)
    spec = {"base": "cell.toml", "fit": {"starts": 1, **(settings or {})},
            "experiment": [{"name": f"{c:g}C", "data": n, "role": role,
                            "set": {"protocol.0.c_rate": c}}
                           for c, n, role in zip(rates, names, roles)],
            "parameters": {k: {"min": RANGES[k][0], "max": RANGES[k][1], "initial": RANGES[k][2]}
                           for k in keys}}
    path = folder / name
    path.write_text(tomli_w.dumps(spec))
    return path


# ------------------------------------------------------------------------------------------
# sensitivities

ONE_STEP = [{"mode": "discharge", "c_rate": 10, "until_voltage": "3.0 V"}]


@pytest.mark.parametrize("protocol, keys, theta", [
    (ONE_STEP, list(RANGES), [0.55, 0.45, 0.62, 0.3]),  # D 1.8e-15, k 2.2e-9, kappa 2.3e-4, R 8
    # the measured step starts where a cutoff ended the one before: its end state moves
    ([{"mode": "discharge", "c_rate": 8, "until_voltage": "3.8 V"},
      {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}], list(RANGES),
     [0.55, 0.45, 0.62, 0.3]),
    # c_max moves the storage (mass matrix) and, through the capacity, the 10C current
    # (the cell then holds 24 uAh/cm2: the points stop short of its end, where a measured
    # point meets the held cutoff and differences straddle the kink)
    (ONE_STEP, ["materials.LiCoO2.max_concentration"], [0.6]),
    # a protocol quantity moves the drive, not a term: its column is a difference of runs
    # (it was a zero 'sensitivity', and the fit called it not identifiable)
    (ONE_STEP, ["protocol.0.c_rate"], [0.5]),
    # the step ends where the cathode's surface reaches the end of its OCV table, above the
    # cutoff: that end moves with the parameters in time, at the voltage the surface gives
    # there (the sensitivities at the step's last time put it on the steep end of the OCV)
    ([{"mode": "discharge", "c_rate": 10, "until_voltage": "2.0 V"}], list(RANGES),
     [0.55, 0.45, 0.62, 0.3]),
], ids=["one_step", "after_a_cutoff", "storage_and_drive", "protocol_quantity",
        "electrode_full"])
def test_sensitivities_match_differences_of_whole_runs(tmp_path, protocol, keys, theta,
                                                       monkeypatch):
    # whole runs end within VOLTAGE_EVENT_TOL of a cutoff (SURFACE_TOLERANCE of an
    # electrode's limit); located to round-off here, so that their differences see the state
    # a cutoff hands on, and the voltage an electrode's limit ends at, move smoothly
    monkeypatch.setattr("solver.simulate.VOLTAGE_EVENT_TOL", 1e-9)
    monkeypatch.setattr("solver.simulate.SURFACE_TOLERANCE", 1e-9)
    raw = base_case(rtol=1e-6)
    raw["protocol"] = protocol
    raw["cell"]["series_resistance"] = "30 ohm*cm^2"
    end = 0.0195 if len(keys) > 1 else 0.0155
    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n" + "".join(
        f"{q:.6f},3.9\n" for q in np.linspace(0, end, 25)))
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    spec = load_fit({"base": "cell.toml", "experiment": [{"name": "a", "data": "d.csv",
                                                          "role": "fit",
                                                          "step": len(protocol) - 1}],
                     "parameters": {k: {"min": {**RANGES, **STORAGE}[k][0],
                                        "max": {**RANGES, **STORAGE}[k][1]}
                                    for k in keys}}, base_dir=tmp_path)
    objective = Objective(spec)
    theta = np.array(theta)
    r, J, _ = objective.evaluate(theta, jacobian=True)
    step = 2e-3
    for j in range(theta.size):
        plus, minus = theta.copy(), theta.copy()
        plus[j] += step
        minus[j] -= step
        difference = (objective.evaluate(plus)[0] - objective.evaluate(minus)[0]) / (2 * step)
        scale = np.linalg.norm(difference)
        assert scale > 0, keys[j]
        assert np.linalg.norm(J[:, j] - difference) <= 0.02 * scale, keys[j]


def test_a_point_near_the_model_end_has_one_slope_on_both_sides_of_it():
    """The curve beyond its end went flat at the cutoff: a point on the steep end of an OCV
    moved steeply with the end on one side of it and not at all on the other."""
    q = np.linspace(0.0, 1.0, 41)
    v = 4.0 - 0.2 * q - 1.5 * q ** 12                     # a plateau, then a steep end
    for end_reason, cutoff in (("until_voltage", 2.6), ("electrode_full", None)):
        point = np.array([model_at(q, v, np.zeros(1), end_reason, cutoff)[1]])   # the end

        def voltage_at_point(stretch):
            return model_at(q * stretch, v, point, end_reason, cutoff)[0][0]
        h = 1e-3                       # the model's end moves across the point
        shorter = (voltage_at_point(1.0) - voltage_at_point(1.0 - h)) / h
        longer = (voltage_at_point(1.0 + h) - voltage_at_point(1.0)) / h
        assert longer > 10.0 and shorter == pytest.approx(longer, rel=0.05), end_reason


def test_a_last_point_at_the_model_end_has_the_sensitivity_of_whole_runs(tmp_path,
                                                                          monkeypatch):
    """10C to 3.0 V on the library LiCoO2, whose OCV falls from 3.17 to 2.6 V over its last
    0.4 % of x, the measured curve ending where the model's does: its last point's row of
    dr/dD from sensitivities was twice that of differences of whole runs, or zero."""
    monkeypatch.setattr("solver.simulate.VOLTAGE_EVENT_TOL", 1e-9)
    raw = base_case(rtol=1e-6)
    raw["protocol"] = ONE_STEP
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    key = "materials.LiCoO2.diffusivity"
    theta = np.array([0.52])

    def objective(end):
        (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n" + "".join(
            f"{q:.17g},3.9\n" for q in np.linspace(0, end, 25)))
        return Objective(load_fit({"base": "cell.toml", "parameters": {key: {
            "min": RANGES[key][0], "max": RANGES[key][1]}}, "experiment": [
                {"name": "a", "data": "d.csv", "role": "fit"}]}, base_dir=tmp_path))

    x_end = model_at(*(lambda c: (c.x, c.voltage, np.zeros(1), c.end_reason, c.cutoff))(
        objective(0.01).models["a"].run(theta)))[1]
    fitted = objective(x_end * (1 - 1e-5))     # a whisker before the end
    J = fitted.evaluate(theta, jacobian=True)[1][:, 0]
    step = 2e-3
    difference = (fitted.evaluate(theta + step)[0] - fitted.evaluate(theta - step)[0]) / (2 * step)
    last = 24                                           # (row 25 is the end's residual)
    assert abs(difference[last]) > 100.0                # the steep end of the OCV
    assert J[last] == pytest.approx(difference[last], rel=0.05)
    assert np.linalg.norm(J - difference) <= 0.05 * np.linalg.norm(difference)


# ------------------------------------------------------------------------------------------
# recovery of known parameters

@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    folder = tmp_path_factory.mktemp("synthetic")
    raw = base_case()
    return folder, raw


def _recovered(folder, raw, seed):
    names = measured_curves(folder, raw, RATES, seed=seed)
    start = copy.deepcopy(raw)
    path = fit_file(folder, start, RATES, names, list(TRUE), name=f"fit_{seed}.toml")
    return fit(path)


def test_synthetic_recovery_within_the_intervals(synthetic):
    folder, raw = synthetic
    result = _recovered(folder, raw, seed=0)
    summary = result.summary
    for key, truth in TRUE.items():
        low, high = summary["parameters"][key]["ci95"]
        assert low < truth < high, (key, low, truth, high)
        assert summary["parameters"][key]["identifiable"]
        # the starting values were a factor 4 to 40 away
        assert abs(np.log(summary["parameters"][key]["value"] / truth)) < 0.1
    for e in summary["experiments"]:
        assert 0.6 < e["rmse_mV"] < 1.5                 # the 1 mV of noise, no more
    assert 0.8 < summary["residual_std"] < 1.25
    corr = np.array(summary["correlation"])
    assert np.allclose(corr, corr.T) and np.allclose(np.diag(corr), 1.0)


@pytest.mark.slow
def test_intervals_cover_the_truth_about_95_percent_of_the_time(synthetic):
    folder, raw = synthetic
    inside = total = 0
    for seed in range(20):
        summary = _recovered(folder, raw, seed=100 + seed).summary
        for key, truth in TRUE.items():
            low, high = summary["parameters"][key]["ci95"]
            inside += low < truth < high
            total += 1
    print(f"coverage: {inside} of {total} 95 % intervals hold the truth")
    # 60 intervals at 95 %: 57 expected, binomial sd 1.7; below 51 means they are too narrow
    assert inside >= 51, f"{inside} of {total} intervals hold the truth"


# ------------------------------------------------------------------------------------------
# what the data cannot tell apart

def test_two_resistances_in_series_at_one_rate_are_not_identifiable(tmp_path):
    # without capacitances: the LiPON's geometric capacitance (in parallel with its
    # resistance only) would tell the two apart in the first microseconds of the step
    raw = no_capacitances(base_case(rtol=1e-4))
    raw["cell"]["series_resistance"] = "100 ohm*cm^2"
    names = measured_curves(tmp_path, raw, [5], points=30)
    path = fit_file(tmp_path, raw, [5], names,
                    ["materials.LiPON.conductivity", "cell.series_resistance"])
    summary = fit(path).summary
    pair = {"materials.LiPON.conductivity", "cell.series_resistance"}
    assert not summary["identifiable"]
    assert any(set(p[:2]) == pair and abs(p[2]) > 0.95 for p in summary["not_separable"])
    assert any("cell.series_resistance" in w and "materials.LiPON.conductivity" in w
               for w in summary["warnings"])
    assert not summary["parameters"]["cell.series_resistance"]["identifiable"]


# ------------------------------------------------------------------------------------------
# the command, its outputs, predictions and resuming

def test_fit_command_writes_outputs_predicts_and_resumes(tmp_path, capsys):
    raw = base_case(rtol=1e-4)
    raw["materials"]["LiPON"]["conductivity"] = "1e-6 S/cm"     # the fit must find 2.3e-6
    truth = base_case(rtol=1e-4)
    names = measured_curves(tmp_path, truth, [2, 10, 20], points=25)
    path = fit_file(tmp_path, raw, [2, 10, 20], names, ["materials.LiPON.conductivity"],
                    roles=["fit", "fit", "predict"], settings={"starts": 2})
    out = tmp_path / "out"
    assert main(["fit", str(path), "--out", str(out), "--workers", "2"]) == 0
    summary = json.loads((out / "fit.json").read_text())
    for key in ("parameters", "correlation", "experiments", "evaluations", "wall_time_s"):
        assert key in summary
    entry = summary["parameters"]["materials.LiPON.conductivity"]
    assert {"value", "ci95", "unit"} <= set(entry) and entry["unit"] == "S/m"
    assert entry["ci95"][0] < entry["value"] < entry["ci95"][1]
    assert entry["value"] == pytest.approx(2.3e-4, rel=0.05)        # 4 standard errors
    predicted = next(e for e in summary["experiments"] if e["role"] == "predict")
    assert predicted["name"] == "20C" and predicted["rmse_mV"] < 3.0
    assert abs(predicted["capacity_error"]) < 0.005
    fitted = tomllib.loads((out / "fitted.toml").read_text())
    case = case_from_dict(fitted, out)
    assert case.layer("electrolyte").material.value("conductivity") == pytest.approx(
        entry["value"], rel=1e-5)
    report = (out / "report.md").read_text()
    assert "overlays.png" in report and "predict" in report
    assert f"| {predicted['end_measured']:.5g} mAh/cm² |" in report       # with its unit
    assert (out / "overlays.png").read_bytes()[:4] == b"\x89PNG"
    # again: both starts are reused, nothing is recomputed
    assert main(["fit", str(path), "--out", str(out)]) == 0
    again = json.loads((out / "fit.json").read_text())
    assert all(s["reused"] for s in again["starts"]) and again["model_runs"] == 0
    assert again["parameters"] == summary["parameters"]


def test_predicted_data_do_not_move_the_fit(tmp_path):
    raw = base_case(rtol=1e-3)
    names = measured_curves(tmp_path, raw, [2, 10], points=15)
    path = fit_file(tmp_path, raw, [2, 10], names, ["materials.LiPON.conductivity"],
                    roles=["fit", "predict"])
    first = fit(path).values
    data = tmp_path / names[1]
    q, v = np.loadtxt(data, delimiter=",", skiprows=1).T           # nonsense for the prediction
    np.savetxt(data, np.column_stack([q, v - 1.0]), delimiter=",",
               header="capacity_mAh_cm2,voltage_V", comments="")
    assert fit(path).values == first


# ------------------------------------------------------------------------------------------
# fit files are checked before anything runs

def _spec(tmp_path, **changes):
    raw = base_case()
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n0,4.1\n0.01,3.9\n0.02,3.5\n")
    spec = {"base": "cell.toml",
            "experiment": [{"name": "1C", "data": "d.csv", "role": "fit",
                            "set": {"protocol.0.c_rate": 1}}],
            "parameters": {"materials.LiPON.conductivity": {"min": "1e-7 S/cm",
                                                            "max": "1e-5 S/cm"}}}
    for key, value in changes.items():
        target = spec
        parts = key.split("/")
        for part in parts[:-1]:
            target = target[int(part)] if part.isdigit() else target[part]
        if value is None:
            del target[parts[-1]]
        else:
            target[parts[-1]] = value
    return spec


@pytest.mark.parametrize("changes, key, words", [
    ({"bases": "x"}, "bases", "did you mean 'base'"),
    ({"parameters": None}, "parameters", "[parameters]"),
    ({"parameters": {"materials.LiPON.conductivity": {"min": "1e-5 S/cm", "max": "1e-7 S/cm"}}},
     "parameters.materials.LiPON.conductivity", "max greater than min"),
    ({"parameters": {"materials.LiPON.conductivity": {"min": "1 um", "max": "2 um"}}},
     "parameters.materials.LiPON.conductivity.min", "conductivity"),
    ({"parameters": {"materials.LiCoO2.ocv": {"min": 1, "max": 2}}},
     "parameters.materials.LiCoO2.ocv", "numeric case key"),
    ({"parameters": {"materials.LiPON.conductivty": {"min": 1, "max": 2}}},
     "parameters.materials.LiPON.conductivty", "conductivity"),
    ({"parameters": {"mesh.cells_per_layer": {"min": 4, "max": 20}}},   # was: = None
     "parameters.mesh.cells_per_layer", "numeric case key"),
    ({"parameters": {"materials.LiMn2O4.diffusivity": {"min": 1e-18, "max": 1e-14}}},
     "parameters.materials.LiMn2O4.diffusivity", "a material the cell uses"),
    ({"parameters": {"cell.series_resistance": {"min": 0, "max": "5 ohm*cm^2"}}},
     "parameters.cell.series_resistance.min", "log scale"),
    # a bound the case refuses: starts beyond it were refused, and report.md raised
    ({"parameters": {"materials.LiCoO2.diffusivity": {"min": "-1e-11 cm^2/s",
                                                      "max": "1e-9 cm^2/s",
                                                      "scale": "linear"}}},
     "parameters.materials.LiCoO2.diffusivity.min", "a diffusivity such as"),
    ({"parameters": {"cell.layers.cathode.initial_stoichiometry": {"min": 0.5, "max": 1.2,
                                                                   "scale": "linear"}}},
     "parameters.cell.layers.cathode.initial_stoichiometry.max", "is valid"),
    ({"experiment/0/role": "train"}, "experiment.0.role", "'fit' or 'predict'"),
    ({"experiment/0/data": "missing.csv"}, "experiment.0.data", "readable"),
    ({"experiment/0/set": {"protocol.3.c_rate": 2}}, "experiment.0.set.protocol.3.c_rate",
     "protocol step"),
    ({"experiment/0/set": {"protocol.0.current": "10 uA"}},       # the base sets c_rate
     "experiment.0.set.protocol.0.current", "exactly one of c_rate, current"),
    ({"experiment/0/step": 1}, "experiment.0.step", "0 (discharge)"),   # the run has one
    # a bound where the case is invalid: the optimiser reaches it, and the starts that did
    # were refused one by one after the others had run (a report then failed to write)
    ({"parameters": {"cell.series_resistance": {"min": "-1 ohm*cm^2", "max": "5 ohm*cm^2",
                                                "scale": "linear"}}},
     "parameters.cell.series_resistance.min", "zero or more"),
    ({"parameters": {"cell.layers.cathode.thickness": {"min": "100 nm", "max": "5 mm"}}},
     "parameters.cell.layers.cathode.thickness.max", "at most 1 mm"),
    ({"fit": {"jacobian": "adjoint"}}, "fit.jacobian", "sensitivities"),
    ({"fit": {"start": 3}}, "fit.start", "did you mean 'starts'"),
    ({"fit": {"starts": 10 ** 8}}, "fit.starts", "at most 1000 starts"),   # had hung
    ({"experiment/0/role": "predict"}, "experiment", "role = 'fit'"),
])
def test_bad_fit_files_name_the_key(tmp_path, changes, key, words):
    from solver.errors import InputError

    with pytest.raises(InputError) as info:
        load_fit(_spec(tmp_path, **changes), base_dir=tmp_path)
    assert info.value.key == key and words in str(info.value)


@pytest.mark.parametrize("text, words", [
    ("capacity_mAh_cm2,voltage_V\n0,4100\n0.01,3900\n", "millivolts?"),
    ("capacity_mAh_cm2,voltage_V\n0,0\n0.01,0\n", "above 0"),
    ("capacity_mAh_cm2,voltage_V\n0,4.1\n0.01,9\n",        # no lithium cell reaches 9 V
     "at most 6 V (6 V per cell, 1 in series) (data row 2: 9)"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n1,100,20\n10,50,5\n", "-Z''"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n1e30,1,-2\n10,50,-5\n",   # had been fitted
     "to 1e+12 Hz (beyond, ions hop: no continuum model holds) (data row 1: 1e+30 Hz)"),
    ("q,voltage_V\n0,4\n", "capacity_mAh_cm2"),
    ("capacity_mAh_cm2,voltage_V\n0.02,4\n0.01,3.9\n", "never decreasing"),
    ("capacity_mAh_cm2,voltage_V\n0,abc\n", "numbers in every row"),
    ("time_s,capacity_mAh_cm2,voltage_V\n0,0,4\n", "one of capacity_mAh_cm2, time_s"),
    ("capacity_mAh_cm2;voltage_V\n0;4\n", "separated by commas"),
    # a unit not of the column's quantity (a charge, not per area), or none known
    ("capacity_uAh,voltage_V\n0,4\n", "capacity_uAh: not a unit of its quantity"),
    ("time_s,voltage_volt_s\n0,4\n", "voltage_volt_s: not a unit of its quantity"),
    ("time_s,voltage_V,voltage_mV\n0,4,4000\n", "one column of each quantity"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm\n1,100,-20\n", "z_imag_ohm: not a unit"),
])
def test_bad_data_files_name_the_experiment(tmp_path, text, words):
    from solver.errors import InputError

    spec = _spec(tmp_path)
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "experiment.0.data" and words in str(info.value)


@pytest.mark.parametrize("text", [
    "capacity_uAh_cm2,voltage_mV\n0,4100\n10,3900\n20,3500\n",
    "capacity_mAh/cm^2,Voltage_V\n0,4.1\n0.01,3.9\n0.02,3.5\n",
    "time_h,voltage_V\n0,4.1\n0.5,3.9\n1,3.5\n",
    "time_min,current_mA,voltage_V\n0,1,4.1\n30,1,3.9\n60,1,3.5\n",
    "frequency_kHz,z_real_kohm_cm2,z_imag_ohm_cm2\n1,0.1,-20\n0.01,0.5,-300\n",
])
def test_data_columns_in_other_units_are_converted(tmp_path, text):
    """Headers with their unit in the name (capacity_uAh_cm2, voltage_mV, time_h, time_min)
    had been refused: each is read in the fit's units."""
    spec = _spec(tmp_path)
    (tmp_path / "d.csv").write_text(text)
    if text.startswith("frequency"):          # a spectrum: measured at an impedance step
        raw = tomllib.loads((tmp_path / "cell.toml").read_text())
        raw["protocol"].append({"mode": "impedance"})
        (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    e = load_fit(spec, base_dir=tmp_path).experiments[0]
    if e.kind == "impedance":
        assert np.allclose(e.x, [1000.0, 10.0])
        assert np.allclose(e.impedance, [100 - 20j, 500 - 300j])
        return
    assert np.allclose(e.voltage, [4.1, 3.9, 3.5])
    expected = {"capacity": [0.0, 0.01, 0.02], "time": [0.0, 1800.0, 3600.0]}[e.abscissa]
    assert np.allclose(e.x, expected) and e.end == pytest.approx(expected[-1])


def test_measured_voltages_may_reach_6_V_per_cell_of_the_stack(tmp_path):
    """A 3-cell stack's curve lies near 12 V, up to 18 V; an experiment that sets the stack's
    cell count is checked with its own."""
    from solver.errors import InputError

    stack = SHIPPED_CASE.parent / "bipolar_3cell_li_lipon_lco.toml"
    spec = _spec(tmp_path, base=str(stack))
    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n0,12.3\n0.01,11.7\n")
    assert load_fit(spec, base_dir=tmp_path).experiments[0].voltage.max() == 12.3
    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n0,12.3\n0.01,18.5\n")
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "experiment.0.data" and info.value.value == "d.csv"
    assert "at most 18 V (6 V per cell, 3 in series) (data row 2: 18.5)" in str(info.value)
    spec["experiment"][0]["set"]["cell.bipolar.n_cells"] = 4
    assert load_fit(spec, base_dir=tmp_path).experiments[0].voltage.max() == 18.5


def test_a_parameter_with_initial_needs_no_value_in_the_base_case(tmp_path):
    """cell.nominal_capacity is not in the base case (1C is the electrodes' capacity): with
    `initial` the fit starts there; without, the key has no value to start from."""
    spec = _spec(tmp_path, parameters={"cell.nominal_capacity": {
        "min": "5 uAh", "max": "20 uAh", "initial": "12 uAh"}})
    loaded = load_fit(spec, base_dir=tmp_path)
    assert base_values(loaded) == [pytest.approx(12e-6 * 3600)]
    del spec["parameters"]["cell.nominal_capacity"]["initial"]
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "parameters.cell.nominal_capacity" and "initial" in str(info.value)


@pytest.mark.parametrize("rows, experiments, keys, key, words", [
    # one point, its capacity the end: a fit had run, exited 0, and called it not identifiable
    ("0.01,3.9", 1, 1, "experiment.0.data", "at least 2 measured values in the fit "
                                            "experiments for 1 fitted parameter"),
    ("0.005,3.95\n0.01,3.9", 1, 2, "experiment.0.data", "they hold 2 (1C: 2)"),
    # counted over every fit experiment
    ("0.01,3.9", 2, 2, "experiment", "they hold 2 (1C: 1, 2C: 1)"),
    # an end at capacity 0 had been divided by: 'residuals are not finite', exit 3
    ("0,3.9", 1, 1, "experiment.0.end_capacity", "beyond capacity 0"),
])
def test_data_too_few_for_the_parameters_are_refused(tmp_path, rows, experiments, keys, key,
                                                     words):
    spec = _spec(tmp_path)
    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n" + rows + "\n")
    spec["experiment"] += [dict(spec["experiment"][0], name="2C", set={"protocol.0.c_rate": 2})
                           ][:experiments - 1]
    spec["parameters"]["cell.series_resistance"] = {"min": "1 ohm*cm^2", "max": "1000 ohm*cm^2",
                                                    "initial": "10 ohm*cm^2"}
    spec["parameters"] = dict(list(spec["parameters"].items())[:keys])
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == key and words in str(info.value)
    if key != "experiment.0.end_capacity":    # a measured end given apart is one value more
        spec["experiment"][0]["end_capacity"] = "20 uAh/cm^2"
        assert load_fit(spec, base_dir=tmp_path).experiments[0].end == pytest.approx(0.02)


def test_an_input_error_every_run_meets_exits_2_naming_the_experiment(tmp_path, capsys):
    """A cutoff above the voltage the cell starts from is refused by the run, not by the
    case: every start meets it, and it is the fit file's error, not the solver's."""
    spec = _spec(tmp_path, **{"experiment/0/set": {"protocol.0.until_voltage": "4.5 V"}})
    (tmp_path / "fit.toml").write_text(tomli_w.dumps(spec))
    assert main(["fit", str(tmp_path / "fit.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith("thinfilm: invalid input: experiment 1C: "
                              "protocol.0.until_voltage = '4.5 V'")


def test_a_curve_that_stops_before_its_cutoff_is_warned_about(tmp_path):
    """The data's last point is the measured end by default; 0.3 V above the cutoff the
    model's step ends on, it is not the end, and the warning says what to set."""
    raw = base_case(rtol=1e-3)
    names = measured_curves(tmp_path, raw, [5], points=20)
    data = tmp_path / names[0]
    q, v = np.loadtxt(data, delimiter=",", skiprows=1).T
    short = v > 3.8
    np.savetxt(data, np.column_stack([q[short], v[short]]), delimiter=",",
               header="capacity_mAh_cm2,voltage_V", comments="")
    path = fit_file(tmp_path, raw, [5], names, ["materials.LiPON.conductivity"],
                    settings={"max_evaluations": 2})
    warned = [w for w in fit(path).summary["warnings"] if "end_capacity = false" in w]
    assert len(warned) == 1 and "from the step's cutoff (3 V)" in warned[0]
    spec = tomllib.loads(path.read_text())
    spec["experiment"][0]["end_capacity"] = False
    path.write_text(tomli_w.dumps(spec))
    assert not any("end_capacity" in w for w in fit(path).summary["warnings"])


def test_a_stack_curve_ends_where_its_weakest_cell_stops(tmp_path):
    """The shipped 3-cell stack (a thinner middle cathode) stops when that cell meets
    3.0 V, the stack near 10.6 V and not at its 9.0 V cutoff: at the true parameters the
    model's end is the run's, not a secant extrapolated down to 9 V (+2.9 % before)."""
    from solver.fit.evaluate import experiment_residuals

    raw = tomllib.loads((SHIPPED_CASE.parent / "bipolar_3cell_li_lipon_lco.toml").read_text())
    raw["mesh"]["cells_per_layer"] = 6
    raw["protocol"] = [{"mode": "discharge", "c_rate": 5, "until_voltage": "9.0 V"}]
    (tmp_path / "stack.toml").write_text(tomli_w.dumps(raw))
    series = run(case_from_dict(raw, SHIPPED_CASE.parent)).step_series(0)
    keep = measurable_rows(series["time_s"])
    q, v = series["capacity_mAh_cm2"][keep], series["voltage_V"][keep]
    assert v[-1] > 10.0                          # the weakest cell ended the step
    q_data = np.linspace(0.0, q[-1], 25)
    v_data = model_at(q, v, q_data, "", None)[0]
    np.savetxt(tmp_path / "stack.csv", np.column_stack([q_data, v_data]), delimiter=",",
               header="capacity_mAh_cm2,voltage_V", comments="")
    spec = load_fit({"base": "stack.toml",
                     "experiment": [{"name": "5C", "data": "stack.csv", "role": "fit"}],
                     "parameters": {"materials.LiPON.conductivity": {
                         "min": "1e-7 S/cm", "max": "1e-4 S/cm", "initial": "2.3e-6 S/cm"}}},
                    base_dir=tmp_path)
    theta = [spec.parameters[0].to_unit(2.3e-4)]
    for sensitivities in (False, True):
        curve = Objective(spec).models["5C"].run(theta, sensitivities=sensitivities)
        r, J, _, x_end = experiment_residuals(spec.experiments[0], curve, spec.settings)
        assert x_end == pytest.approx(q[-1], rel=1e-4)
        assert np.max(np.abs(r)) < 0.1
    assert abs(J[-1, 0]) > 0                     # the end still moves with the parameter


@pytest.mark.parametrize("protocol, step, data", [
    # the cccv step itself, to a set time (a step whose sensitivities are otherwise followed)
    ([{"mode": "discharge", "c_rate": 2, "until_voltage": "11.4 V"},
      {"mode": "cccv", "c_rate": 5, "voltage": "12.6 V", "until_time": "15 min"}], 1,
     "time_s,voltage_V\n" + "".join(f"{t:g},12\n" for t in np.linspace(1, 890, 20))),
    # a discharge from the state the hold left
    ([{"mode": "discharge", "c_rate": 2, "until_voltage": "11.4 V"},
      {"mode": "cccv", "c_rate": 5, "voltage": "12.6 V", "until_current": "C/5"},
      {"mode": "discharge", "c_rate": 5, "until_voltage": "9.0 V"}], 2,
     "capacity_mAh_cm2,voltage_V\n" + "".join(f"{q:g},12\n" for q in np.linspace(0, 0.01, 20))),
], ids=["the_cccv_step", "a_step_after_it"])
def test_a_stack_held_at_the_voltage_it_reached_has_the_jacobian_of_whole_runs(
        tmp_path, monkeypatch, protocol, step, data):
    """The shipped 3-cell stack's thinner cathode reaches its share of a cccv step's 12.6 V
    first, and the stack is held where it stands, at a voltage its state sets: the
    sensitivities held it fixed (dV/dD zero through the hold, 10 % off the whole runs')."""
    monkeypatch.setattr("solver.simulate.VOLTAGE_EVENT_TOL", 1e-9)
    monkeypatch.setattr("solver.simulate.SURFACE_TOLERANCE", 1e-9)
    raw = tomllib.loads((SHIPPED_CASE.parent / "bipolar_3cell_li_lipon_lco.toml").read_text())
    raw["mesh"]["cells_per_layer"] = 6
    # whole runs' differences carry their adaptive steps' noise: at rtol 1e-6 it alone set
    # them 2.6 % apart at one step size and 4 % at another; at 1e-7 0.4-0.6 %
    raw["solver"] = {"rtol": 1e-7}
    raw["cell"]["layers"][1]["material"] = "LiCoO2"
    raw["materials"] = {"LiCoO2": {"diffusivity": "1.76e-11 cm^2/s"}}
    raw["protocol"] = protocol
    (tmp_path / "stack.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "d.csv").write_text(data)
    key = "materials.LiCoO2.diffusivity"
    objective = Objective(load_fit({
        "base": "stack.toml", "parameters": {key: {"min": RANGES[key][0], "max": RANGES[key][1]}},
        "experiment": [{"name": "a", "data": "d.csv", "role": "fit", "step": step,
                        "end_capacity": False}]}, base_dir=tmp_path))
    theta = np.array([0.55])
    J = objective.evaluate(theta, jacobian=True)[1][:, 0]
    h = 2e-3
    difference = (objective.evaluate(theta + h)[0] - objective.evaluate(theta - h)[0]) / (2 * h)
    assert np.linalg.norm(difference) > 0
    assert np.linalg.norm(J - difference) <= 0.02 * np.linalg.norm(difference)


def test_bad_fit_file_exits_2_with_one_line(tmp_path, capsys):
    path = tmp_path / "fit.toml"
    path.write_text(tomli_w.dumps(_spec(tmp_path, **{"experiment/0/role": "train"})))
    assert main(["fit", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "experiment.0.role" in err[0]
    assert not (tmp_path / "out").exists()


# ------------------------------------------------------------------------------------------
# what the fit relies on: a model updated in place is the model built afresh

def _changed(value, spec):
    if spec.rule == "open-unit" or spec.rule == "fraction":
        return 0.5 * value + 0.2 if value < 0.6 else 0.7 * value
    return value * 1.37


@pytest.mark.parametrize("name", ["planar", "binary", "dissociation", "si_anode"])
def test_every_material_parameter_updates_in_place_as_a_fresh_model(name):
    """For each numeric parameter of each material of a golden cell, update_parameters
    gives the residual, Jacobian, mass matrix and initial state of a model built afresh."""
    case = GOLDEN_CASES[name]()
    grid = build_grid(case)
    model = CellModel(case, grid)
    u = model.initial_state()
    u[model.s_x] *= 1.01
    u[model.s_i] = 0.3
    history = np.zeros(model.s_dynamic.stop - model.s_dynamic.start)
    checked = 0
    for layer in case.layers:
        material = layer.material
        for param, spec in PARAMETERS[material.kind].items():
            if spec.form not in ("quantity", "quantity or table") or not material.has(param):
                continue
            value = material.value(param)
            if callable(value) or param in ("density", "molar_mass"):
                continue
            raw = copy.deepcopy(case.raw)
            raw.setdefault("materials", {}).setdefault(material.name, {})[param] = \
                _changed(value, spec)
            try:                      # a change the case refuses (t+ < 1 for single-ion)
                changed = case_from_dict(raw, SHIPPED_CASE.parent, source="test")
                fresh = CellModel(changed, grid)
            except InputError:
                continue
            model.update_parameters(changed)
            for drive in (("current", 2e-5), ("voltage", 3.9)):
                R1, J1 = model.residual_and_jacobian(u, history, 0.1, drive)
                R2, J2 = fresh.residual_and_jacobian(u, history, 0.1, drive)
                assert np.allclose(R1, R2, rtol=1e-13, atol=1e-13 * np.max(np.abs(R2))), param
                assert np.allclose(J1, J2, rtol=1e-13, atol=1e-13 * np.max(np.abs(J2))), param
            assert np.allclose(model.mass_matrix.toarray(), fresh.mass_matrix.toarray()), param
            assert np.array_equal(model.initial_state(), fresh.initial_state()), param
            checked += 1
    model.update_parameters(case)
    assert checked >= 5


# ------------------------------------------------------------------------------------------
# validation studies that fit some experiments and predict the others

def test_a_study_fits_then_compares_its_predictions(tmp_path):
    """The fit's experiments are runs of the study; records on fit experiments say
    fitted_to_this, those on predicted ones do not; the report lists the fitted values."""
    from solver import validation

    folder = tmp_path / "studies" / "toy"
    folder.mkdir(parents=True)
    raw = base_case(rtol=1e-3)
    names = measured_curves(folder, raw, [2, 10], points=12)
    raw["materials"]["LiPON"]["conductivity"] = "1e-6 S/cm"
    fit_file(folder, raw, [2, 10], names, ["materials.LiPON.conductivity"],
             roles=["fit", "predict"])
    q2, q10 = (true_curve(base_case(rtol=1e-3), c)[0][-1] * 1e3 for c in (2, 10))
    (folder / "reference.csv").write_text(
        "id,quantity,value,unit,source,location,obtained,note\n"
        f"q2,capacity at 2C,{q2},uAh/cm^2,synthetic,thinfilm,derived,\n"
        f"q10,capacity at 10C,{q10},uAh/cm^2,synthetic,thinfilm,derived,\n")
    (folder / "study.toml").write_text(
        '[study]\ntitle = "toy"\nsource = "synthetic"\nfast = true\n'
        '[fit]\nfile = "fit.toml"\n'
        '[[comparisons]]\nreference = "q2"\nmetric = "capacity"\nrun = "2C"\nrel_tol = 0.01\n'
        '[[comparisons]]\nreference = "q10"\nmetric = "capacity"\nrun = "10C"\nrel_tol = 0.01\n')
    result = validation.run_suite(tmp_path / "out", root=tmp_path / "studies", workers=1,
                                  plots=False)
    by_run = {r["run"]: r for r in result["records"]}
    assert by_run["2C"]["fitted_to_this"] and not by_run["10C"]["fitted_to_this"]
    assert by_run["10C"]["passed"]
    report = (tmp_path / "out" / "report.md").read_text()
    assert "toy: fitted parameters" in report and "materials.LiPON.conductivity" in report
    assert (tmp_path / "out" / "fits" / "toy" / "fit.json").is_file()


def test_shipped_fit_study_loads_and_names_its_predictions():
    from solver import validation

    study = validation.load_study(validation.VALIDATION_DIR / "danilov2011_fit")
    spec = load_fit(study.fit)
    roles = {e.name: e.role for e in spec.experiments}
    assert roles == {"1.6C": "fit", "3.2C": "predict", "6.4C": "fit", "12.8C": "predict",
                     "25.6C": "fit", "51.2C": "predict"}
    assert {c.run for c in study.comparisons} >= {"3.2C", "12.8C", "51.2C"}


def test_overpotential_and_start_voltage_metrics(tmp_path):
    from solver import validation

    (tmp_path / "emf.csv").write_text("# an EMF\ncapacity_uAh_cm2,emf_V\n0,4.2\n5,4.0\n10,3.8\n")
    q = np.linspace(0, 10, 101)
    # rows from a microsecond on: the start voltage is the first row from a millisecond on
    elapsed = np.geomspace(1e-6, 1e3, 101)
    out = {"run": "a", "folder": str(tmp_path),
           "series": [{"capacity_uAh_cm2": q.tolist(),
                       "voltage_V": (4.2 - 0.04 * q - 0.025).tolist(),
                       "elapsed_s": elapsed.tolist()}]}
    _, eta = validation.RUN_METRICS["overpotential_window"]
    assert eta(out, {"emf": "emf.csv", "window": [2, 6]}, {}) == pytest.approx(-25.0, abs=0.5)
    _, first = validation.RUN_METRICS["start_voltage"]
    sampled = int(np.argmax(elapsed >= 1e-3))
    assert sampled > 0
    assert first(out, {}, {}) == pytest.approx(4.175 - 0.04 * q[sampled])


# ------------------------------------------------------------------------------------------
# statistics and starts at their edges (found by trying the product as a stranger)

def _parameters(*scales):
    from solver.fit.spec import Parameter

    return [Parameter(f"p{i}", (), "conductivity", 1e-5, 1e-2, scale, None)
            for i, scale in enumerate(scales)]


def test_a_parameter_the_residuals_do_not_depend_on_is_not_identifiable():
    """A zero Jacobian column (an activation energy at the reference temperature): the
    statistics said 'condition number 0 ** -2' and the fit stopped with a traceback."""
    from solver.fit.statistics import summarise

    rng = np.random.default_rng(1)
    J = np.column_stack([rng.standard_normal(30), np.zeros(30)])
    stats = summarise(_parameters("log", "log"), np.array([0.4, 0.6]), J,
                      0.01 * rng.standard_normal(30))
    first, second = stats["parameters"]
    assert first["identifiable"] and first["ci95"][0] < first["value"] < first["ci95"][1]
    assert not second["identifiable"] and second["ci95"] == [None, None]
    assert not stats["identifiable"] and "condition number inf" in stats["warnings"][0]


def test_an_interval_wider_than_the_range_searched_is_not_determined():
    """One data point: the interval was [6.6e-121, 3.6e110] and called identifiable; on a log
    scale a wider one overflowed."""
    from solver.fit.statistics import summarise

    for J in (np.array([[1e-3]]), np.array([[1e-200]])):
        stats = summarise(_parameters("log"), np.array([0.5]), J, np.array([0.3]))
        (row,) = stats["parameters"]
        assert row["ci95"] == [None, None] and not row["identifiable"]
        assert any("do not determine p0" in w for w in stats["warnings"])


def test_tiny_jacobian_columns_have_their_own_norm_not_an_underflow():
    """The squares of a column of 1e-200 underflow: its norm came out 0, and the
    pseudo-inverse divided by zero. A zero column stays a column without information."""
    import warnings

    from solver.fit.statistics import column_norms, linearised

    J = np.array([[1e-200, 1.0, 0.0], [2e-200, 3.0, 0.0]])
    np.testing.assert_allclose(column_norms(J), [np.sqrt(5.0) * 1e-200, np.sqrt(10.0), 1.0])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        covariance = linearised(J, np.array([0.3, 0.1]))[0]
    assert covariance[0, 0] == np.inf and covariance[2, 2] == 0.0
    assert np.isfinite(covariance[1, 1]) and covariance[1, 1] > 0


def test_a_linear_interval_of_a_quantity_that_cannot_be_negative_stops_at_zero():
    from solver.fit.statistics import summarise

    J = np.array([[4.0], [3.0], [5.0]])
    stats = summarise(_parameters("linear"), np.array([0.05]), J, np.array([0.3, -0.2, 0.25]))
    (row,) = stats["parameters"]
    assert row["identifiable"] and row["ci95"][0] == 0.0 < row["value"] < row["ci95"][1]


def test_more_starts_keep_the_starts_already_made(tmp_path):
    """A fit run again with more starts computes only the new ones: the points of a Latin
    hypercube all moved with their number, those of a Halton sequence do not."""
    from solver.fit import start_points

    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n0,4.1\n0.005,3.9\n0.01,3.8\n")

    def spec(n):
        return load_fit({"base": str(SHIPPED_CASE), "fit": {"starts": n},
                         "experiment": [{"name": "1C", "role": "fit", "data": "d.csv"}],
                         "parameters": {
                             "materials.LiPON.conductivity": {"min": "1e-7 S/cm",
                                                              "max": "1e-4 S/cm"},
                             "materials.Li.exchange_current_density": {
                                 "min": "0.01 mA/cm^2", "max": "10 mA/cm^2"}}},
                        base_dir=tmp_path)

    three, five = start_points(spec(3)), start_points(spec(5))
    assert len(three) == 3 and len(five) == 5
    assert all(np.array_equal(a, b) for a, b in zip(three, five))
    assert len({tuple(p) for p in five}) == 5


def test_a_fit_whose_model_runs_fail_says_so_and_exits_3(tmp_path, capsys):
    """Every run stopped by max_duration: the fit had exited 0 with a 229 mV rms 'fit' and
    no word of it."""
    raw = base_case()
    raw["protocol"] = [{"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V",
                        "max_duration": "60 s"}]
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "d.csv").write_text("capacity_mAh_cm2,voltage_V\n0,4.1\n0.005,3.9\n0.01,3.8\n")
    (tmp_path / "fit.toml").write_text(tomli_w.dumps({
        "base": "cell.toml", "fit": {"starts": 1, "max_evaluations": 3},
        "experiment": [{"name": "5C", "role": "fit", "data": "d.csv"}],
        "parameters": {"materials.LiPON.conductivity": {"min": "1e-7 S/cm",
                                                        "max": "1e-4 S/cm"}}}))
    assert main(["fit", str(tmp_path / "fit.toml"), "--out", str(tmp_path / "out"),
                 "--workers", "1", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "experiment 5C: the model run failed" in err and "max_duration" in err
    summary = json.loads((tmp_path / "out" / "fit.json").read_text())
    assert summary["failed_experiments"] == ["5C"]


def test_a_fit_that_starts_where_the_cell_delivers_nothing_exits_3(tmp_path, capsys):
    """A LiPON conductivity of 1e-11 S/cm ends every run at once: the residuals stay flat,
    the optimiser never leaves its start and had exited 0 with a 957 mV rms 'fit', the
    parameter on its bound yet not reported so."""
    raw = base_case(rtol=1e-3)
    names = measured_curves(tmp_path, raw, [1], points=20)
    path = fit_file(tmp_path, raw, [1], names, [])
    spec = tomllib.loads(path.read_text())
    spec["parameters"] = {"materials.LiPON.conductivity": {
        "min": "1e-11 S/cm", "max": "1e-4 S/cm", "initial": "1e-11 S/cm"}}
    path.write_text(tomli_w.dumps(spec))
    out = tmp_path / "out"
    assert main(["fit", str(path), "--out", str(out), "--workers", "1", "--quiet"]) == 3
    err = capsys.readouterr().err
    assert "nothing was fitted" in err and "delivers nothing of 1C" in err
    summary = json.loads((out / "fit.json").read_text())
    assert summary["nothing_fitted"] and summary["nothing_delivered"] == ["1C"]
    assert summary["starts"][0]["nothing_at_start"] == ["1C"]
    assert summary["parameters"]["materials.LiPON.conductivity"]["at_bound"]
    warned = " ".join(summary["warnings"])
    assert "began there and could not leave it" in warned and "times their weights" in warned
    assert "nothing of 1C" in (out / "report.md").read_text()


def test_a_fit_that_fits_reports_nothing_undelivered(tmp_path):
    raw = base_case(rtol=1e-3)
    names = measured_curves(tmp_path, raw, [2], points=15)
    summary = fit(fit_file(tmp_path, raw, [2], names, ["materials.LiPON.conductivity"])).summary
    assert not summary["nothing_fitted"] and summary["nothing_delivered"] == []
    assert summary["starts"][0]["nothing_at_start"] == []
    assert not any("times their weights" in w for w in summary["warnings"])


@pytest.mark.parametrize("jacobian", ["sensitivities", "differences"])
def test_the_end_of_a_step_its_electrode_ends_has_an_interval(tmp_path, jacobian):
    """A curve that ends electrode_full (the cathode's surface at the end of its OCV table,
    above the cutoff): its end moves with D, yet its interval was a point (the end taken for
    fixed by sensitivities), and null with jacobian = 'differences'."""
    raw = base_case(rtol=1e-3)
    raw["protocol"][0]["until_voltage"] = "2.0 V"
    names = measured_curves(tmp_path, raw, [10], points=20)
    path = fit_file(tmp_path, raw, [10], names, ["materials.LiCoO2.diffusivity"],
                    settings={"jacobian": jacobian})
    (experiment,) = fit(path).summary["experiments"]
    assert experiment["end_reason"] == "electrode_full"
    low, high = experiment["end_ci95"]
    assert low < experiment["end_model"] < high
    assert high - low > 1e-6 * experiment["end_model"]


def test_the_report_lists_a_start_that_did_not_finish(tmp_path):
    """A start refused or lost (no cost) beside one that finished: report.md had failed
    to format its cost, and the command ended as an internal error after the fit."""
    from solver.fit.report import report_markdown

    raw = base_case(rtol=1e-3)
    names = measured_curves(tmp_path, raw, [2], points=15)
    path = fit_file(tmp_path, raw, [2], names, ["materials.LiPON.conductivity"])
    summary = fit(path).summary
    summary["starts"].append({"index": 1, "theta0": [0.3], "theta": None, "cost": None,
                              "evaluations": 2, "status": "invalid_input", "reused": False})
    assert "| 1 | (0.300) |  |  | 2 | invalid_input |" in report_markdown(load_fit(path),
                                                                             summary)


def test_a_fitted_key_set_by_an_experiment_is_refused(tmp_path):
    raw = base_case()
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "d.csv").write_bytes(b"\xef\xbb\xbfcapacity_mAh_cm2,voltage_V\n0,4.1\n0.005,3.9\n"
                                     b"0.01,3.8\n")            # with Excel's BOM: read
    spec = {"base": "cell.toml",
            "experiment": [{"name": "1C", "role": "fit", "data": "d.csv",
                            "set": {"materials.LiPON.conductivity": "1e-5 S/cm"}}],
            "parameters": {"materials.LiPON.conductivity": {"min": "1e-7 S/cm",
                                                            "max": "1e-4 S/cm"}}}
    with pytest.raises(InputError, match=r"experiment\.0\.set\.materials\.LiPON\.conductivity"):
        load_fit(spec, base_dir=tmp_path)
    del spec["experiment"][0]["set"]
    assert load_fit(spec, base_dir=tmp_path).experiments[0].x.size == 3

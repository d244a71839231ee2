"""`thinfilm fit` with measured impedance spectra: the model spectrum at the measured
frequencies, recovery of a known electrolyte conductivity and double-layer capacitance from
a noisy synthetic spectrum (inside their 95 % intervals), a fit of a discharge curve and a
spectrum together, and the checks of a spectrum's CSV."""

import copy
import json

import numpy as np
import pytest
import tomli_w

from solver.api import run
from solver.case import case_from_dict
from solver.errors import InputError
from solver.fit import fit, load_fit
from solver.fit.evaluate import Objective, model_at
from solver.results import measurable_rows
from tests.conftest import SHIPPED_CASE, shipped_case_dict

TRUE = {"materials.LiPON.conductivity": 2.3e-4,                      # S/m
        "materials.LiCoO2.double_layer_capacitance": 5.3e-3,         # F/m^2 (0.53 uF/cm^2)
        "materials.LiCoO2.diffusivity": 1.76e-15}                    # m^2/s
RANGES = {"materials.LiPON.conductivity": ("1e-7 S/cm", "1e-4 S/cm", "1e-5 S/cm"),
          "materials.LiCoO2.double_layer_capacitance": ("0.01 uF/cm^2", "100 uF/cm^2",
                                                        "3 uF/cm^2"),
          "materials.LiCoO2.diffusivity": ("1e-12 cm^2/s", "1e-9 cm^2/s", "1e-10 cm^2/s")}
SPECTRUM = {"mode": "impedance", "frequencies": ["1 Hz", "1 MHz"], "points_per_decade": 5}
DISCHARGE = {"mode": "discharge", "c_rate": 5, "until_voltage": "3.0 V"}


def base_case(protocol=(SPECTRUM,)):
    """The shipped planar cell on a coarse mesh, with the library LiCoO2 film and the true
    values of the fitted parameters."""
    raw = shipped_case_dict()
    raw["mesh"]["cells_per_layer"] = 8
    for layer in raw["cell"]["layers"]:
        if layer["material"].startswith("LiCoO2"):
            layer["material"] = "LiCoO2"
    raw["materials"] = {"LiPON": {"conductivity": TRUE["materials.LiPON.conductivity"]},
                        "LiCoO2": {k.split(".")[-1]: v for k, v in TRUE.items()
                                   if k.startswith("materials.LiCoO2.")}}
    raw["protocol"] = copy.deepcopy(list(protocol))
    raw["solver"] = {"rtol": 1e-4}
    return raw


def measured_spectrum(folder, raw, noise=0.005, seed=0, name="eis.csv"):
    """thinfilm's own spectrum of the first impedance step, with Gaussian noise of `noise`
    |Z| on the real and on the imaginary part, as a CSV with the impedance.csv columns."""
    result = run(case_from_dict(raw, SHIPPED_CASE.parent))
    s = result.spectra[0]
    rng = np.random.default_rng(seed)
    z = s.z_ohm_cm2 + noise * np.abs(s.z_ohm_cm2) * (rng.standard_normal(s.z_ohm_cm2.size)
                                                     + 1j * rng.standard_normal(s.z_ohm_cm2.size))
    np.savetxt(folder / name, np.column_stack([s.frequency_Hz, z.real, z.imag]), delimiter=",",
               header="frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2", comments="")
    return s


def fit_file(folder, raw, experiments, keys, settings=None):
    start = copy.deepcopy(raw)          # the fit starts a factor 4 to 6 off the truth
    for key in keys:
        _, material, parameter = key.split(".")
        start["materials"][material][parameter] = RANGES[key][2]
    (folder / "cell.toml").write_text(tomli_w.dumps(start))
    spec = {"base": "cell.toml", "fit": {"starts": 1, **(settings or {})},
            "experiment": experiments,
            "parameters": {k: {"min": RANGES[k][0], "max": RANGES[k][1]} for k in keys}}
    path = folder / "fit.toml"
    path.write_text(tomli_w.dumps(spec))
    return path


# ------------------------------------------------------------------------------------------
# the model spectrum

def test_the_model_spectrum_is_computed_at_the_measured_frequencies(tmp_path):
    """Measured frequencies off the step's grid and in any order: the experiment's model is
    the run's spectrum at exactly those frequencies; the run stops after the measured step."""
    raw = base_case([SPECTRUM, DISCHARGE])
    grid = run(case_from_dict(raw, SHIPPED_CASE.parent)).spectra[0]
    picked = [30, 0, 17, 5, 22]                      # 1 Hz, 1 MHz, ... shuffled
    frequencies = grid.frequency_Hz[picked]
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    (tmp_path / "eis.csv").write_text("frequency_Hz,z_imag_ohm_cm2,z_real_ohm_cm2\n" + "".join(
        f"{float(f)!r},-1.0,100.0\n" for f in frequencies))
    keys = ["materials.LiPON.conductivity"]
    spec = load_fit({"base": "cell.toml",
                     "experiment": [{"name": "eis", "data": "eis.csv", "role": "fit"}],
                     "parameters": {k: {"min": RANGES[k][0], "max": RANGES[k][1]}
                                    for k in keys}}, base_dir=tmp_path)
    assert spec.experiments[0].kind == "impedance"
    assert np.array_equal(spec.experiments[0].impedance, np.full(5, 100.0 - 1.0j))
    theta = [spec.parameters[0].to_unit(TRUE[keys[0]])]
    r, J, outputs = Objective(spec).evaluate(theta, jacobian=True)
    model = outputs["eis"]
    assert np.array_equal(model.frequency, frequencies)
    assert np.allclose(model.z, grid.z_ohm_cm2[picked], rtol=1e-9)
    assert [s["mode"] for s in model.result.summary["steps"]] == ["impedance"]
    # residuals: real parts, then imaginary parts, relative to |Z| / impedance_error
    scaled = (model.z - (100.0 - 1.0j)) / (0.01 * abs(100.0 - 1.0j))
    assert np.allclose(r, np.concatenate([scaled.real, scaled.imag]))
    assert J.shape == (10, 1) and np.all(np.isfinite(J)) and np.any(J != 0)


# ------------------------------------------------------------------------------------------
# recovery of known parameters

def test_conductivity_and_double_layer_recovered_from_noisy_spectra(tmp_path):
    """Twelve noise draws on the same spectrum: every fit lands within 3 % of the truth, and
    the 95 % intervals hold it about 95 % of the time (22 of 24 here; over 40 draws 76 of
    80). A spectrum's fit takes half a second."""
    keys = ["materials.LiPON.conductivity", "materials.LiCoO2.double_layer_capacitance"]
    raw = base_case()
    inside = total = 0
    for seed in range(12):
        measured_spectrum(tmp_path, raw, noise=0.005, seed=seed, name="eis.csv")
        path = fit_file(tmp_path, raw, [{"name": "eis", "data": "eis.csv", "role": "fit"}],
                        keys, settings={"impedance_error": 0.005})
        out = tmp_path / "out" if seed == 0 else None
        summary = fit(path, out=out).summary
        for key in keys:
            entry = summary["parameters"][key]
            low, high = entry["ci95"]
            inside += low < TRUE[key] < high
            total += 1
            assert entry["identifiable"] and not entry["at_bound"]
            assert abs(np.log(entry["value"] / TRUE[key])) < 0.03, (seed, key, entry["value"])
        # the noise (0.5 % of |Z| on each part, 0.71 % in all), no more
        (e,) = summary["experiments"]
        assert e["kind"] == "impedance" and e["rmse_mV"] is None and e["points"] == 31
        assert 0.5 < e["rmse_percent"] < 0.9
        assert e["kramers_kronig_residual"] < 0.02   # noisy, but a linear response's data
        assert 0.75 < summary["residual_std"] < 1.3
        if out is not None:
            saved = json.loads((out / "fit.json").read_text())
            assert saved["experiments"][0]["rmse_percent"] == pytest.approx(e["rmse_percent"])
            report = (out / "report.md").read_text()
            assert f"{e['rmse_percent']:.2f} % of \\|Z\\|" in report
            assert "impedance error 0.5 %" in report
            assert (out / "overlays.png").read_bytes()[:4] == b"\x89PNG"
    # 24 intervals at 95 %: 22.8 expected, binomial sd 1.1
    assert inside >= 20, f"{inside} of {total} intervals hold the truth"


def test_a_spectrum_of_too_few_frequencies_for_the_kramers_kronig_check_has_none(tmp_path):
    """One frequency: the fit runs, but Lin-KK would fit it exactly, so no residual is
    reported (null, with a warning saying why) rather than a perfect-looking 1e-16."""
    raw = base_case()
    s = measured_spectrum(tmp_path, raw, noise=0.0)
    z = s.z_ohm_cm2[10]
    (tmp_path / "one.csv").write_text("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n"
                                      f"{s.frequency_Hz[10]:.17g},{z.real:.17g},{z.imag:.17g}\n")
    path = fit_file(tmp_path, raw, [{"name": "eis", "data": "one.csv", "role": "fit"}],
                    ["materials.LiPON.conductivity"], settings={"max_evaluations": 3})
    summary = fit(path).summary
    assert summary["experiments"][0]["kramers_kronig_residual"] is None
    assert any("eis: 1 frequency is too few for the Kramers-Kronig check" in w
               for w in summary["warnings"])


def test_a_discharge_curve_and_a_spectrum_fitted_together(tmp_path):
    """The curve's rows from forward sensitivities, the spectrum's from differences of whole
    runs: the mixed Jacobian is the one differences of everything give."""
    keys = ["materials.LiPON.conductivity", "materials.LiCoO2.diffusivity"]
    raw = base_case([SPECTRUM, DISCHARGE])
    measured_spectrum(tmp_path, raw, noise=0.005)
    result = run(case_from_dict(raw, SHIPPED_CASE.parent))
    series = result.step_series(1)
    keep = measurable_rows(series["time_s"] - result.step_series(0)["time_s"][-1])
    q = np.linspace(0.0, series["capacity_mAh_cm2"][-1], 30)
    v = model_at(series["capacity_mAh_cm2"][keep], series["voltage_V"][keep], q, "", None)[0]
    v += 1e-3 * np.random.default_rng(1).standard_normal(q.size)
    np.savetxt(tmp_path / "5C.csv", np.column_stack([q, v]), delimiter=",",
               header="capacity_mAh_cm2,voltage_V", comments="")
    experiments = [{"name": "5C", "data": "5C.csv", "role": "fit"},
                   {"name": "eis", "data": "eis.csv", "role": "fit"}]
    path = fit_file(tmp_path, raw, experiments, keys)
    summary = fit(path, out=tmp_path / "out").summary
    assert summary["jacobian"] == "sensitivities"
    for key in keys:
        low, high = summary["parameters"][key]["ci95"]
        assert low < TRUE[key] < high, (key, low, TRUE[key], high)
    curve, spectrum = summary["experiments"]
    assert curve["kind"] == "curve" and curve["rmse_mV"] < 1.5 and curve["rmse_percent"] is None
    assert spectrum["kind"] == "impedance" and spectrum["rmse_percent"] < 1.5
    # the Jacobian at the optimum: the curve's rows are its forward sensitivities, the
    # spectrum's rows the differences of whole runs a "differences" fit takes
    spec = load_fit(path)
    theta = np.array([p.to_unit(summary["parameters"][p.key]["value"])
                      for p in spec.parameters])
    curve_only = Objective(spec, experiments=spec.experiments[:1])
    sensitivities = curve_only.evaluate(theta, jacobian=True)[1]
    mixed = Objective(spec).evaluate(theta, jacobian=True)[1]
    spec.settings["jacobian"] = "differences"
    whole = Objective(spec, experiments=spec.experiments[1:]).evaluate(theta, jacobian=True)[1]
    rows = curve["points"] + 1                              # its voltages and its end
    assert np.array_equal(mixed[:rows], sensitivities)
    assert np.array_equal(mixed[rows:], whole) and mixed.shape == (rows + 62, 2)


# ------------------------------------------------------------------------------------------
# a spectrum's CSV is checked before anything runs

def _spec_with(tmp_path, text):
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(base_case()))
    (tmp_path / "eis.csv").write_text(text)
    return {"base": "cell.toml",
            "experiment": [{"name": "eis", "data": "eis.csv", "role": "fit"}],
            "parameters": {"materials.LiPON.conductivity": {"min": "1e-7 S/cm",
                                                            "max": "1e-5 S/cm"}}}


@pytest.mark.parametrize("text, words", [
    ("frequency_Hz,z_real_ohm_cm2\n1,100\n10,90\n", "lacks z_imag_ohm_cm2"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n10,100,-5\n-1,120,-9\n",
     "frequencies greater than zero (data row 2"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n10,100,-5\n1,nan,-9\n",
     "finite numbers (data row 2)"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n10,100,-5\n1,inf,-9\n", "finite numbers"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n10,100,-5\n1,abc,-9\n", "numbers in every row"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n10,0,0\n1,100,-9\n", "non-zero impedance"),
    ("step,frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n0,10,100,-5\n2,10,100,-5\n",
     "one spectrum"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n", "at least one measured frequency"),
    ("frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n100,300,-20\n10,400,-50\n100,310,-21\n",
     "each frequency once (data row 3: 100 Hz, as data row 1)"),
])
def test_bad_spectrum_files_name_the_experiments_data_key(tmp_path, text, words):
    with pytest.raises(InputError) as info:
        load_fit(_spec_with(tmp_path, text), base_dir=tmp_path)
    assert info.value.key == "experiment.0.data" and words in str(info.value)
    assert "\n" not in str(info.value)


def test_bad_spectrum_settings_name_their_keys(tmp_path):
    spec = _spec_with(tmp_path, "frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2\n10,100,-5\n")
    spec["experiment"][0]["end_capacity"] = True
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "experiment.0.end_capacity"
    del spec["experiment"][0]["end_capacity"]
    spec["fit"] = {"impedance_error": 1.5}
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "fit.impedance_error" and "1 % of |Z|" in str(info.value)
    del spec["fit"]
    spec["experiment"][0]["step"] = 1
    raw = base_case([DISCHARGE, SPECTRUM])
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(raw))
    assert load_fit(spec, base_dir=tmp_path).experiments[0].step == 1
    spec["experiment"][0]["step"] = 0
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "experiment.0.step" and "impedance step of the run (1)" in str(
        info.value)
    del spec["experiment"][0]["step"]
    (tmp_path / "cell.toml").write_text(tomli_w.dumps(base_case([DISCHARGE])))
    with pytest.raises(InputError) as info:
        load_fit(spec, base_dir=tmp_path)
    assert info.value.key == "experiment.0.data" and "no impedance step" in str(info.value)

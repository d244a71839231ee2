"""`thinfilm import-bpx`: BPX electrode parameters become case keys, every other BPX field
is reported with the reason it was not mapped, and the case runs."""

import copy
import json
import math

import numpy as np
import pytest

import solver
from solver import cli
from solver.bpx_import import import_bpx
from solver.bpx_read import SEP, bpx_fields, read_bpx
from solver.case import case_from_dict, load_case
from solver.errors import InputError

NEGATIVE_OCP = "1.55 - 0.1 * tanh(8 * (x - 0.5)) - 0.2 * x"
NEGATIVE_D = "1e-14 * exp(-2 * x)"
POSITIVE_OCP = {"x": [0.95, 0.2, 0.5, 0.8, 1.0], "y": [3.6, 4.3, 4.0, 3.75, 3.5]}  # unsorted


def small_bpx() -> dict:
    """A made-up BPX 1.1 file of a small cell: an expression OCP and diffusivity on one
    side, a table OCP on the other, and fields of every section."""
    return {
        "Header": {"BPX": "1.1.0", "Title": "Small test cell", "Model": "DFN",
                   "Description": "made up for thinfilm's tests", "References": "none"},
        "Parameterisation": {
            "Cell": {"Electrode area [m2]": 1e-4,
                     "Number of electrode pairs connected in parallel to make a cell": 2,
                     "Lower voltage cut-off [V]": 1.5, "Upper voltage cut-off [V]": 3.0,
                     "Nominal cell capacity [A.h]": 4e-5, "Reference temperature [K]": 298.15,
                     "Density [kg.m-3]": 2000.0, "Specific heat capacity [J.K-1.kg-1]": 900.0},
            "Electrolyte": {"Cation transference number": 0.26,
                            "Diffusivity [m2.s-1]": "8e-11 + 1e-14 * x",
                            "Conductivity [S.m-1]": 1.0,
                            "Conductivity activation energy [J.mol-1]": 17100.0},
            "Negative electrode": {
                "Thickness [m]": 1e-6, "Porosity": 0.25, "Transport efficiency": 0.1,
                "Conductivity [S.m-1]": 10.0, "Particle radius [m]": 3e-6,
                "Surface area per unit volume [m-1]": 5e5, "Diffusivity [m2.s-1]": NEGATIVE_D,
                "Diffusivity activation energy [J.mol-1]": 30000.0, "OCP [V]": NEGATIVE_OCP,
                "Entropic change coefficient [V.K-1]": -1e-5,
                "Reaction rate constant [mol.m-2.s-1]": 1e-5,
                "Reaction rate constant activation energy [J.mol-1]": 50000.0,
                "Minimum stoichiometry": 0.05, "Maximum stoichiometry": 0.9,
                "Maximum concentration [mol.m-3]": 20000.0},
            "Positive electrode": {
                "Thickness [m]": 0.7e-6, "Porosity": 0.3, "Transport efficiency": 0.15,
                "Conductivity [S.m-1]": 1.0, "Particle radius [m]": 3e-6,
                "Surface area per unit volume [m-1]": 6e5, "Diffusivity [m2.s-1]": 1e-13,
                "OCP [V]": POSITIVE_OCP, "Reaction rate constant [mol.m-2.s-1]": 2e-5,
                "Minimum stoichiometry": 0.4, "Maximum stoichiometry": 0.95,
                "Maximum concentration [mol.m-3]": 50000.0},
            "Separator": {"Thickness [m]": 2e-5, "Porosity": 0.47, "Transport efficiency": 0.32},
        },
        "State": {"Initial conditions": {"Initial state-of-charge": 0.8,
                                         "Initial temperature [K]": 308.15,
                                         "Initial electrolyte concentration [mol.m-3]": 1000.0},
                  "Thermal environment": {"Ambient temperature [K]": 298.15}},
    }


def _write(tmp_path, data, name="cell.json"):
    path = tmp_path / name
    path.write_text(json.dumps(data))
    return path


@pytest.fixture
def imported(tmp_path):
    source = _write(tmp_path, small_bpx())
    outcome = import_bpx(source, tmp_path / "out" / "small.toml")
    return source, outcome, load_case(outcome.case_path)


def test_electrode_parameters_become_case_keys(imported):
    _, outcome, case = imported
    assert outcome.case_path.is_file()
    assert case.name == "Small test cell"
    assert case.footprint_area == pytest.approx(1e-4)
    assert case.temperature == pytest.approx(308.15)
    assert case.nominal_capacity == pytest.approx(4e-5 / 2 * 3600)   # per electrode pair
    assert [layer.name for layer in case.layers] == ["negative", "electrolyte", "positive"]
    negative, positive = case.layer("negative"), case.layer("positive")
    assert negative.thickness == pytest.approx(1e-6) and positive.thickness == pytest.approx(7e-7)
    assert negative.initial_stoichiometry == pytest.approx(0.05 + 0.8 * 0.85)
    assert positive.initial_stoichiometry == pytest.approx(0.95 - 0.8 * 0.55)
    neg, pos = negative.material, positive.material
    assert neg.value("stoichiometry_range") == pytest.approx((0.05, 0.9))
    assert neg.value("max_concentration") == pytest.approx(20000)
    assert neg.value("active_fraction") == pytest.approx(5e5 * 3e-6 / 3)
    assert neg.value("rate_constant") == pytest.approx(1e-5 / 20000)
    assert pos.value("rate_constant") == pytest.approx(2e-5 / 50000)
    assert neg.value("charge_transfer_coefficient") == 0.5
    assert neg.value("diffusivity_activation_energy") == pytest.approx(30000)
    assert neg.value("rate_constant_activation_energy") == pytest.approx(50000)
    assert neg.value("electronic_conductivity") == pytest.approx(10)
    assert neg.value("reference_temperature") == pytest.approx(298.15)
    assert pos.value("diffusivity") == pytest.approx(1e-13)
    assert not neg.has("exchange_current_density")


def test_functions_of_stoichiometry_become_tables_beside_the_case(imported):
    _, outcome, case = imported
    assert {p.name for p in outcome.written} == {
        "small.toml", "small_negative_ocv.csv", "small_negative_diffusivity.csv",
        "small_positive_ocv.csv", "small_bpx_report.md"}
    neg, pos = case.layer("negative").material, case.layer("positive").material
    x = np.linspace(0.0, 1.0, 37)
    expected_ocv = 1.55 - 0.1 * np.tanh(8 * (x - 0.5)) - 0.2 * x
    assert neg.value("ocv")(x) == pytest.approx(expected_ocv, abs=1e-6)
    diffusivity = neg.value("diffusivity")
    assert diffusivity.log and diffusivity(x) == pytest.approx(1e-14 * np.exp(-2 * x), rel=1e-6)
    order = np.argsort(POSITIVE_OCP["x"])
    table = pos.value("ocv")
    assert list(table.x) == list(np.array(POSITIVE_OCP["x"])[order])
    assert list(table.y) == list(np.array(POSITIVE_OCP["y"])[order])


def _report_rows(report: str, heading: str) -> dict:
    section = report.split(heading, 1)[1].split("\n## ", 1)[0]
    rows = {}
    for line in section.splitlines():
        if line.startswith("| ") and not line.startswith("| BPX field"):
            cells = [c.strip() for c in line.strip("|").split(" | ")]
            rows[cells[0]] = cells[1:]
    return rows


def test_every_bpx_field_is_reported_once_mapped_or_not_with_a_reason(imported):
    source, outcome, _ = imported
    model, _ = read_bpx(source)
    fields = [path for path, _ in bpx_fields(model)]
    mapped = _report_rows(outcome.report, "## Mapped")
    unmapped = _report_rows(outcome.report, "## Not mapped")
    assert not set(mapped) & set(unmapped)
    assert set(mapped) | set(unmapped) == set(fields)
    assert all(why and why[0] for why in unmapped.values())
    electrode = f"Parameterisation{SEP}Negative electrode{SEP}"
    for path in (f"Parameterisation{SEP}Electrolyte{SEP}Conductivity [S.m-1]",
                 f"Parameterisation{SEP}Separator{SEP}Thickness [m]",
                 f"{electrode}Porosity", f"{electrode}Entropic change coefficient [V.K-1]",
                 f"State{SEP}Initial conditions{SEP}Initial electrolyte concentration [mol.m-3]",
                 f"Parameterisation{SEP}Cell{SEP}Density [kg.m-3]"):
        assert path in unmapped, path
    assert "liquid electrolyte" in unmapped[f"Parameterisation{SEP}Electrolyte{SEP}"
                                            f"Conductivity [S.m-1]"][0]
    assert "isothermal" in unmapped[f"{electrode}Entropic change coefficient [V.K-1]"][0]
    assert "dense" in mapped[f"{electrode}Particle radius [m]"][1]
    assert outcome.case_path.with_name("small_bpx_report.md").read_text() == outcome.report


def test_a_minimal_file_reports_only_the_fields_it_has(tmp_path):
    data = small_bpx()
    for name in ("Description", "References"):
        del data["Header"][name]
    del data["State"]
    del data["Parameterisation"]["Negative electrode"]["Diffusivity activation energy [J.mol-1]"]
    source = _write(tmp_path, data)
    outcome = import_bpx(source, tmp_path / "c.toml")
    model, _ = read_bpx(source)
    reported = {**_report_rows(outcome.report, "## Mapped"),
                **_report_rows(outcome.report, "## Not mapped")}
    assert set(reported) == {path for path, _ in bpx_fields(model)}
    assert "starts charged (SOC = 1)" in outcome.report
    case = load_case(outcome.case_path)
    assert case.layer("negative").initial_stoichiometry == pytest.approx(0.9)
    assert case.temperature == pytest.approx(298.15)
    assert case.layer("negative").material.value("diffusivity_activation_energy") == 0
    assert "no Diffusivity activation energy [J.mol-1]" in outcome.report


def test_the_imported_case_runs(imported):
    _, outcome, case = imported
    data = copy.deepcopy(case.raw)
    data["mesh"] = {"cells_per_layer": 8}
    data["protocol"] = [{"mode": "discharge", "c_rate": 1, "until_time": "2 min"}]
    result = solver.run(case_from_dict(data, outcome.case_path.parent))
    step = result.summary["steps"][0]
    assert step["end_reason"] == "until_time"
    assert 1.5 < step["mean_voltage_V"] < 3.0
    assert step["capacity_mAh_cm2"] == pytest.approx(2e-5 * 1e3 / 1.0 * (2 / 60), rel=0.01)


def test_a_blended_electrode_imports_its_largest_particle(tmp_path):
    data = small_bpx()
    positive = data["Parameterisation"]["Positive electrode"]
    particle = {k: positive.pop(k) for k in list(positive)
                if k not in ("Thickness [m]", "Porosity", "Transport efficiency",
                             "Conductivity [S.m-1]")}
    small = dict(particle, **{"Surface area per unit volume [m-1]": 1e5})
    positive["Particle"] = {"Primary": small, "Secondary": particle}
    outcome = import_bpx(_write(tmp_path, data), tmp_path / "blend.toml")
    assert outcome.case_path.is_file()
    material = load_material_of(outcome, "positive")
    assert material.value("active_fraction") == pytest.approx(6e5 * 3e-6 / 3)
    unmapped = _report_rows(outcome.report, "## Not mapped")
    primary = [p for p in unmapped if f"Particle{SEP}Primary{SEP}" in p]
    assert len(primary) == len(small) and all("blended" in unmapped[p][0] for p in primary)


def load_material_of(outcome, side):
    return load_case(outcome.case_path).layer(side).material


def test_cli_prints_the_report_and_refuses_invalid_bpx_in_one_line(tmp_path, capsys):
    source = _write(tmp_path, small_bpx())
    assert cli.main(["import-bpx", str(source), "--out", str(tmp_path / "c.toml")]) == 0
    out = capsys.readouterr().out
    assert "## Not mapped" in out and "c_bpx_report.md" in out
    broken = small_bpx()
    del broken["Parameterisation"]["Negative electrode"]["Maximum concentration [mol.m-3]"]
    bad = _write(tmp_path, broken, "bad.json")
    assert cli.main(["import-bpx", str(bad), "--out", str(tmp_path / "d.toml")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("thinfilm: invalid input: ")
    assert "Maximum concentration" in err[0] and not (tmp_path / "d.toml").exists()


@pytest.mark.parametrize("option,value,words", [
    ("--negative-material", "LiPON", "intercalation material"),
    ("--electrolyte", "LiCoO2", "solid electrolyte"),
    ("--electrolyte-thickness", "1 V", "length"),
])
def test_bad_options_are_refused_naming_the_option(tmp_path, option, value, words):
    source = _write(tmp_path, small_bpx())
    kwargs = {"negative": None, "positive": None, "electrolyte": "LiPON",
              "electrolyte_thickness": "1.5 um"}
    kwargs[{"--negative-material": "negative", "--electrolyte": "electrolyte",
            "--electrolyte-thickness": "electrolyte_thickness"}[option]] = value
    with pytest.raises(InputError) as info:
        import_bpx(source, tmp_path / "c.toml", **kwargs)
    assert info.value.key == option and words in info.value.expected


def test_a_chosen_library_material_is_overridden(tmp_path):
    outcome = import_bpx(_write(tmp_path, small_bpx()), tmp_path / "c.toml",
                         positive="LiCoO2", negative="Li4Ti5O12")
    case = load_case(outcome.case_path)
    assert case.layer("positive").material.name == "LiCoO2"
    assert case.layer("negative").material.name == "Li4Ti5O12"
    assert case.layer("positive").material.value("max_concentration") == pytest.approx(50000)
    assert "kept from library LiCoO2:" in outcome.report
    assert math.isclose(case.layer("positive").material.value("double_layer_capacitance"), 0)


def test_an_expression_calling_an_unknown_function_is_refused_and_nothing_written(tmp_path):
    data = small_bpx()                      # the positive electrode is mapped after the negative
    data["Parameterisation"]["Positive electrode"]["Diffusivity [m2.s-1]"] = "1e-14 * log(2 + x)"
    source = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        import_bpx(source, tmp_path / "out" / "c.toml")
    assert info.value.key.endswith(f"Positive electrode{SEP}Diffusivity [m2.s-1]")
    assert "exp, tanh, cosh" in info.value.expected
    assert list(tmp_path.iterdir()) == [source]


def test_an_ocp_that_bpx_cannot_evaluate_is_refused_naming_the_file(tmp_path):
    """bpx's own validators evaluate the OCPs as Python: log(x) passes its grammar and
    raised a NameError there, an internal error (exit 1)."""
    data = small_bpx()
    data["Parameterisation"]["Positive electrode"]["OCP [V]"] = "4 - log(x + 1)"
    source = _write(tmp_path, data)
    assert cli.main(["import-bpx", str(source), "--out", str(tmp_path / "out" / "c.toml")]) == 2
    with pytest.raises(InputError) as info:
        import_bpx(source, tmp_path / "out" / "c.toml")
    assert info.value.key == str(source) and "could not evaluate it: NameError" in str(info.value)
    assert list(tmp_path.iterdir()) == [source]


@pytest.mark.parametrize("where, value, field", [
    (("Parameterisation", "Positive electrode", "Thickness [m]"), -1e-6,
     f"Positive electrode{SEP}Thickness [m]"),
    (("State", "Initial conditions", "Initial state-of-charge"), 1.5,
     "Initial state-of-charge"),
    (("Parameterisation", "Negative electrode", "Thickness [m]"), 0.5,
     f"Negative electrode{SEP}Thickness [m]"),
    # cut-offs the wrong way round: the case was written, and refused only when run
    (("Parameterisation", "Cell", "Lower voltage cut-off [V]"), 3.5,
     f"Cell{SEP}Lower voltage cut-off [V]")])
def test_a_case_that_would_be_refused_is_refused_naming_the_bpx_field(tmp_path, where, value,
                                                                      field):
    """The case a BPX file makes is checked before anything is written; the refusal names
    the BPX field the value came from (found by trying the product: the case, its tables
    and report were written, and the message named keys of the generated case)."""
    data = small_bpx()
    table = data
    for key in where[:-1]:
        table = table.setdefault(key, {})
    table[where[-1]] = value
    source = _write(tmp_path, data)
    with pytest.raises(InputError) as info:
        import_bpx(source, tmp_path / "out" / "c.toml")
    assert info.value.key.endswith(field)
    assert list(tmp_path.iterdir()) == [source]


def test_an_electrolyte_thickness_without_a_unit_names_the_option(tmp_path):
    source = _write(tmp_path, small_bpx())
    with pytest.raises(InputError) as info:
        import_bpx(source, tmp_path / "out" / "c.toml", electrolyte_thickness="5")
    assert info.value.key == "--electrolyte-thickness"
    assert info.value.value == "5"          # as given, not the case's '5000000 um'
    assert list(tmp_path.iterdir()) == [source]


def test_an_ocp_fit_that_leaves_the_voltage_range_near_an_end_is_cut_there(tmp_path):
    # like the BPX project's LFP example, whose OCP has a term 3.5e14 exp(-396 x)
    data = small_bpx()
    data["Parameterisation"]["Positive electrode"]["OCP [V]"] = \
        "4.0 - 0.5 * x + 1e14 * exp(-400 * x)"
    outcome = import_bpx(_write(tmp_path, data), tmp_path / "c.toml")
    assert outcome.case_path.is_file()
    table = load_case(outcome.case_path).layer("positive").material.value("ocv")
    low, high = table.x_range
    assert 0 < low < 0.4 and high == 1.0 and table.y.max() <= 6.0
    x = np.linspace(0.4, 0.95, 23)
    assert table(x) == pytest.approx(4.0 - 0.5 * x + 1e14 * np.exp(-400 * x), abs=1e-6)
    assert "beyond, it is not an OCV within 0..6 V" in outcome.report

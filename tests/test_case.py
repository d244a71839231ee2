"""Case files: valid ones load in SI units, invalid ones raise InputError naming the key."""

import copy
import math
import tomllib
from pathlib import Path

import pytest

import solver
from solver.case import Case, MeshSettings, SolverSettings, Step, case_from_dict, load_case
from solver.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
SHIPPED = ROOT / "cases" / "planar_li_lipon_lco.toml"


def base() -> dict:
    """The shipped case as a dict, to be spoiled one entry at a time."""
    return {
        "cell": {
            "name": "test cell",
            "architecture": "planar",
            "footprint_area": "1 cm^2",
            "temperature": "25 degC",
            "nominal_capacity": "10 uAh",
            "layers": [
                {"name": "anode", "material": "Li", "thickness": "3 um"},
                {"name": "electrolyte", "material": "LiPON", "thickness": "1.5 um"},
                {"name": "cathode", "material": "LiCoO2", "thickness": "320 nm",
                 "initial_stoichiometry": 0.5},
            ],
        },
        "protocol": [{"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}],
    }


def build(data, tmp_path=None):
    return case_from_dict(data, tmp_path or ROOT / "cases", source="test.toml")


def error(data, tmp_path=None) -> InputError:
    with pytest.raises(InputError) as info:
        build(data, tmp_path)
    return info.value


def layer(data, name):
    return next(item for item in data["cell"]["layers"] if item["name"] == name)


def a_collector():
    """A collector material from the library, or skip."""
    from solver.materials import library_names, load_material

    for name in library_names():
        if load_material(name).kind == "collector":
            return name
    pytest.skip("no current collector material in the library")


# ------------------------------------------------------------------------------------------
# valid cases

def test_shipped_case_loads_in_si_units():
    case = load_case(SHIPPED)
    assert isinstance(case, Case)
    assert case.architecture == "planar"
    assert case.footprint_area == pytest.approx(1e-4)
    assert case.temperature == pytest.approx(298.15)
    assert case.nominal_capacity is None       # 1C from the cathode's theoretical capacity
    assert [l.name for l in case.layers] == ["anode", "electrolyte", "cathode"]
    assert [l.material.name for l in case.layers] == ["Li", "LiPON", "LiCoO2_003"]
    assert [l.material.kind for l in case.layers] == ["lithium_metal", "electrolyte",
                                                       "intercalation"]
    assert [l.thickness for l in case.layers] == pytest.approx([3e-6, 1.5e-6, 320e-9])
    assert case.layer("cathode").initial_stoichiometry == 0.5
    assert case.layer("anode").initial_stoichiometry is None
    assert case.protocol == [Step(mode="discharge", c_rate=1.0, until_voltage=3.0, index=0,
                                  key="protocol.0"),
                             Step(mode="impedance", frequencies=(1e-3, 1e6),
                                  points_per_decade=10, index=1, key="protocol.1")]
    assert case.mesh == MeshSettings(cells_per_layer=20, max_cell_size=None, grading=0.5)
    assert case.solver == SolverSettings(rtol=1e-3, fields_every=0)
    assert case.path == SHIPPED.resolve()
    assert case.raw == tomllib.loads(SHIPPED.read_text())


def test_load_case_is_exported_from_the_package():
    assert solver.load_case is load_case


def test_units_and_plain_si_numbers():
    data = base()
    data["cell"]["footprint_area"] = 2.5e-5
    data["cell"]["temperature"] = "310.15 K"
    data["cell"]["nominal_capacity"] = "1 mAh"
    layer(data, "anode")["thickness"] = 3e-6
    layer(data, "electrolyte")["thickness"] = "1.5 um"
    layer(data, "cathode")["thickness"] = "0.32 um"
    data["mesh"] = {"cells_per_layer": 8, "max_cell_size": "1 um", "grading": 0}
    data["solver"] = {"rtol": "1e-4", "max_step": "1 min", "initial_step": "1 ms",
                      "fields_every": 5}
    data["protocol"] = [
        {"mode": "charge", "current": "16 uA", "until_voltage": "4.2 V", "until_time": "2 h"},
        {"mode": "hold", "voltage": "4.2 V", "until_current": "1 uA"},
        {"mode": "rest", "until_time": "10 min"},
        {"mode": "discharge", "current_density": "10 uA/cm^2", "until_time": 3600},
    ]
    case = build(data)
    assert case.footprint_area == 2.5e-5
    assert case.temperature == pytest.approx(310.15)
    assert case.nominal_capacity == pytest.approx(3.6)
    assert [l.thickness for l in case.layers] == pytest.approx([3e-6, 1.5e-6, 3.2e-7])
    assert case.mesh == MeshSettings(8, pytest.approx(1e-6), 0.0)
    assert case.solver.rtol == pytest.approx(1e-4)
    assert case.solver.max_step == pytest.approx(60)
    assert case.solver.initial_step == pytest.approx(1e-3)
    assert case.solver.fields_every == 5
    charge, hold, rest, discharge = case.protocol
    assert charge.current == pytest.approx(16e-6)
    assert charge.until_voltage == pytest.approx(4.2)
    assert charge.until_time == pytest.approx(7200)
    assert hold.voltage == pytest.approx(4.2) and hold.until_current == pytest.approx(1e-6)
    assert rest.until_time == pytest.approx(600)
    assert discharge.current_density == pytest.approx(0.1)
    assert discharge.c_rate is None and discharge.until_voltage is None
    assert [s.index for s in case.protocol] == [0, 1, 2, 3]


def test_angle_units_are_refused_not_read_as_plain_numbers():
    """pint counts radians as plain numbers: '1 cycle/s' would be 2 pi Hz, '1 rad/s' 1 Hz
    (an angular frequency taken for a frequency), '30 deg' a ratio of 0.52."""
    from solver.units import parse_quantity

    for text, dimension in (("1 cycle/s", "frequency"), ("1000 rad/s", "frequency"),
                            ("60 rpm", "frequency"), ("30 deg", "dimensionless"),
                            ("1 rad*um", "length")):
        with pytest.raises(InputError) as info:
            parse_quantity(text, dimension, "k")
        assert "angle" in info.value.expected
    assert parse_quantity("1 kHz", "frequency", "k") == 1000.0
    assert parse_quantity("50 %", "dimensionless", "k") == 0.5
    data = base()
    data["protocol"].append({"mode": "impedance", "frequencies": ["1 cycle/s", "1 MHz"]})
    with pytest.raises(InputError) as info:
        build(data)
    assert info.value.key == "protocol.1.frequencies"


def test_optional_entries_take_defaults():
    data = base()
    del data["cell"]["nominal_capacity"]
    del data["cell"]["name"]
    case = build(data)
    assert case.nominal_capacity is None
    assert case.name == "test"
    assert case.mesh == MeshSettings()
    assert case.solver == SolverSettings()
    assert case.path is None


def test_repeat_blocks_are_flattened_with_indices():
    data = base()
    cycle = [{"mode": "charge", "c_rate": 1, "until_voltage": "4.2 V"},
             {"mode": "discharge", "c_rate": 1, "until_voltage": "3.0 V"}]
    data["protocol"] = [
        {"mode": "rest", "until_time": "1 min"},
        {"repeat": 3, "steps": copy.deepcopy(cycle)},
        {"repeat": 2, "steps": [{"mode": "rest", "until_time": "1 s"},
                                {"repeat": 2, "steps": copy.deepcopy(cycle)}]},
    ]
    case = build(data)
    modes = [s.mode for s in case.protocol]
    assert modes == (["rest"] + ["charge", "discharge"] * 3
                     + (["rest"] + ["charge", "discharge"] * 2) * 2)
    assert [s.index for s in case.protocol] == list(range(len(modes)))
    assert case.protocol[1].key == "protocol.1.steps.0"
    assert case.protocol[7].key == "protocol.2.steps.0"
    assert case.protocol[9].key == "protocol.2.steps.1.steps.1"
    assert case.protocol[9].until_voltage == pytest.approx(3.0)


def test_repeat_key_in_error_uses_the_original_position():
    data = base()
    data["protocol"] = [
        {"mode": "rest", "until_time": "1 min"},
        {"repeat": 2, "steps": [{"mode": "rest", "until_time": "1 s"}]},
        {"repeat": 2, "steps": [{"mode": "discharge", "c_rate": 1, "until_voltage": "3 s"}]},
    ]
    err = error(data)
    assert err.key == "protocol.2.steps.0.until_voltage"
    assert "voltage" in str(err)


def test_material_override_changes_the_layer_material(tmp_path):
    data = base()
    data["materials"] = {"LiPON": {"conductivity": "3e-6 S/cm"}}
    case = build(data, tmp_path)
    assert case.layer("electrolyte").material.value("conductivity") == pytest.approx(3e-4)


def test_library_default_initial_stoichiometry():
    from solver.materials import load_material

    if not load_material("LiCoO2").has("initial_stoichiometry"):
        pytest.skip("LiCoO2 has no library initial_stoichiometry")
    data = base()
    del layer(data, "cathode")["initial_stoichiometry"]
    case = build(data)
    expected = load_material("LiCoO2").value("initial_stoichiometry")
    assert case.layer("cathode").initial_stoichiometry == pytest.approx(expected)


def test_initial_stoichiometry_required_without_library_default(monkeypatch):
    import solver.materials as materials

    original = materials.load_material

    def without_default(name, *args, **kwargs):
        material = original(name, *args, **kwargs)
        material.parameters.pop("initial_stoichiometry", None)
        material.parameters.pop("initial_voltage", None)
        return material

    monkeypatch.setattr(materials, "load_material", without_default)
    data = base()
    del layer(data, "cathode")["initial_stoichiometry"]
    err = error(data)
    assert err.key == "cell.layers.cathode.initial_stoichiometry"
    assert "required" in str(err)


def test_initial_voltage_starts_the_film_where_its_ocv_equals_it():
    """initial_voltage = V gives the x in the usable range with OCV(x) = V; the library
    LiCoO2's default is its 4.2 V charge cut-off; out of range and both keys are refused."""
    from solver.materials import load_material

    ocv = load_material("LiCoO2").value("ocv")
    for volts in ("4.2 V", "4.0 V", "3.9 V"):
        data = base()
        cathode = layer(data, "cathode")
        del cathode["initial_stoichiometry"]
        cathode["initial_voltage"] = volts
        x = build(data).layer("cathode").initial_stoichiometry
        assert float(ocv(x)) == pytest.approx(float(volts.split()[0]), abs=1e-9)
    data = base()
    del layer(data, "cathode")["initial_stoichiometry"]
    default = build(data).layer("cathode").initial_stoichiometry
    assert float(ocv(default)) == pytest.approx(4.2, abs=1e-9)
    data = base()
    layer(data, "cathode")["initial_voltage"] = "4.2 V"
    assert error(data).key == "cell.layers.cathode.initial_voltage"       # both given
    data = base()
    cathode = layer(data, "cathode")
    del cathode["initial_stoichiometry"]
    cathode["initial_voltage"] = "5 V"
    err = error(data)
    assert err.key == "cell.layers.cathode.initial_voltage" and "open-circuit range" in str(err)
    data = base()
    layer(data, "anode")["initial_voltage"] = "0.1 V"
    assert error(data).key == "cell.layers.anode.initial_voltage"          # lithium metal


def test_anode_free_cell_with_collector():
    collector = a_collector()
    data = base()
    layer(data, "anode")["thickness"] = "0 um"
    data["cell"]["layers"].insert(0, {"name": "tab", "material": collector,
                                      "thickness": "200 nm"})
    case = build(data)
    assert [l.name for l in case.layers] == ["tab", "anode", "electrolyte", "cathode"]
    assert case.layer("anode").thickness == 0.0


# ------------------------------------------------------------------------------------------
# invalid input: each names its key

def test_wrong_dimension():
    data = base()
    layer(data, "cathode")["thickness"] = "320 s"
    err = error(data)
    assert err.key == "cell.layers.cathode.thickness"
    assert "cell.layers.cathode.thickness" in str(err) and "length" in str(err)

    data = base()
    data["cell"]["footprint_area"] = "1 cm"
    assert error(data).key == "cell.footprint_area"

    data = base()
    data["cell"]["nominal_capacity"] = "10 uA"
    assert error(data).key == "cell.nominal_capacity"

    data = base()
    data["protocol"][0]["until_voltage"] = "3 A"
    assert error(data).key == "protocol.0.until_voltage"


@pytest.mark.parametrize("value", ["-1 um", "0 um", -1e-6, 0])
def test_negative_or_zero_thickness(value):
    data = base()
    layer(data, "electrolyte")["thickness"] = value
    err = error(data)
    assert err.key == "cell.layers.electrolyte.thickness"
    assert "greater than zero" in str(err)


def test_zero_lithium_without_collector():
    data = base()
    layer(data, "anode")["thickness"] = "0 um"
    err = error(data)
    assert err.key == "cell.layers.anode.thickness"
    assert "collector" in str(err)


@pytest.mark.parametrize("key,value", [
    ("footprint_area", "0 cm^2"), ("footprint_area", "-1 cm^2"),
    ("nominal_capacity", "0 uAh"), ("nominal_capacity", -3.6),
])
def test_negative_or_zero_cell_sizes(key, value):
    data = base()
    data["cell"][key] = value
    err = error(data)
    assert err.key == f"cell.{key}"
    assert f"cell.{key}" in str(err)


@pytest.mark.parametrize("where,key", [
    (lambda d: d, "colour"),
    (lambda d: d["cell"], "thikness"),
    (lambda d: layer(d, "cathode"), "thikness"),
    (lambda d: d["protocol"][0], "until_volts"),
    (lambda d: d.setdefault("mesh", {}), "cells"),
    (lambda d: d.setdefault("solver", {}), "atol"),
])
def test_unknown_keys(where, key):
    data = base()
    where(data)[key] = 1
    err = error(data)
    prefixes = {"colour": "", "thikness": None, "until_volts": "protocol.0.",
                "cells": "mesh.", "atol": "solver."}
    assert err.key.endswith(key)
    if prefixes[key] is not None:
        assert err.key == prefixes[key] + key
    assert err.key in str(err)
    assert "one of" in str(err) or "known" in str(err)


def test_unknown_key_in_layer_and_cell_have_full_path():
    data = base()
    layer(data, "cathode")["thikness"] = "1 um"
    err = error(data)
    assert err.key == "cell.layers.cathode.thikness"
    assert "did you mean 'thickness'" in str(err)
    data = base()
    data["cell"]["temprature"] = "25 degC"
    assert error(data).key == "cell.temprature"


def test_unknown_material():
    data = base()
    layer(data, "cathode")["material"] = "Unobtainium"
    err = error(data)
    assert err.key == "cell.layers.cathode.material"
    assert "LiCoO2" in str(err)  # the library is listed


def test_override_of_unknown_material():
    data = base()
    data["materials"] = {"Unobtainium": {"conductivity": 1}}
    err = error(data)
    assert err.key == "materials.Unobtainium"
    assert "LiPON" in str(err)


def test_override_with_missing_ocv_table_file(tmp_path):
    data = base()
    data["materials"] = {"LiCoO2": {"ocv": "no_such_ocv.csv"}}
    err = error(data, tmp_path)
    assert err.key.startswith("materials.LiCoO2")
    assert "materials.LiCoO2" in str(err)


def test_override_with_wrong_dimension():
    data = base()
    data["materials"] = {"LiCoO2": {"diffusivity": "1e-11 cm^2"}}
    err = error(data)
    assert err.key == "materials.LiCoO2.diffusivity"


@pytest.mark.parametrize("value", [1.5, -0.1, "2"])
def test_stoichiometry_outside_0_1(value):
    data = base()
    layer(data, "cathode")["initial_stoichiometry"] = value
    err = error(data)
    assert err.key == "cell.layers.cathode.initial_stoichiometry"
    assert "between 0 and 1" in str(err)


def test_stoichiometry_on_a_non_intercalation_layer():
    data = base()
    layer(data, "electrolyte")["initial_stoichiometry"] = 0.5
    err = error(data)
    assert err.key == "cell.layers.electrolyte.initial_stoichiometry"


@pytest.mark.parametrize("set_value,key", [
    (lambda d, v: layer(d, "cathode").__setitem__("thickness", v),
     "cell.layers.cathode.thickness"),
    (lambda d, v: d["cell"].__setitem__("footprint_area", v), "cell.footprint_area"),
    (lambda d, v: d["cell"].__setitem__("temperature", v), "cell.temperature"),
    (lambda d, v: layer(d, "cathode").__setitem__("initial_stoichiometry", v),
     "cell.layers.cathode.initial_stoichiometry"),
    (lambda d, v: d["protocol"][0].__setitem__("c_rate", v), "protocol.0.c_rate"),
    (lambda d, v: d["protocol"][0].__setitem__("until_voltage", v), "protocol.0.until_voltage"),
    (lambda d, v: d.__setitem__("mesh", {"grading": v}), "mesh.grading"),
    (lambda d, v: d.__setitem__("solver", {"rtol": v}), "solver.rtol"),
])
@pytest.mark.parametrize("value", [math.nan, math.inf, -math.inf, "nan", "inf um", "nan V"])
def test_nan_and_inf(set_value, key, value):
    data = base()
    set_value(data, value)
    err = error(data)
    assert err.key == key


def test_nan_from_toml_file(tmp_path):
    path = tmp_path / "nan.toml"
    text = SHIPPED.read_text().replace('thickness = "320 nm"', "thickness = nan")
    path.write_text(text)
    with pytest.raises(InputError) as info:
        load_case(path)
    assert info.value.key == "cell.layers.cathode.thickness"
    assert "finite" in str(info.value)


@pytest.mark.parametrize("value", ["-300 degC", -1.0, "-10 K", "-500 degF"])
def test_temperature_below_absolute_zero(value):
    data = base()
    data["cell"]["temperature"] = value
    err = error(data)
    assert err.key == "cell.temperature"
    assert "below absolute zero" in str(err)


@pytest.mark.parametrize("value", ["300 delta_degC", "540 delta_degF"])
def test_a_temperature_difference_is_not_a_temperature(value):
    """Each converts to 300 K as a span: the cell ran at 27 degC with no word."""
    data = base()
    data["cell"]["temperature"] = value
    err = error(data)
    assert err.key == "cell.temperature" and "not a temperature difference" in str(err)


def test_temperature_of_zero_kelvin():
    data = base()
    data["cell"]["temperature"] = "-273.15 degC"
    assert error(data).key == "cell.temperature"


def test_toml_syntax_error(tmp_path):
    path = tmp_path / "broken.toml"
    path.write_text('[cell]\nname = "unterminated\nfootprint_area = "1 cm^2"\n')
    with pytest.raises(InputError) as info:
        load_case(path)
    assert info.value.key == "broken.toml"
    assert "line 2" in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(InputError) as info:
        load_case(tmp_path / "nothing.toml")
    assert "nothing.toml" in info.value.key


def test_architecture_not_available():
    for architecture in ("spiral", 3):
        data = base()
        data["cell"]["architecture"] = architecture
        err = error(data)
        assert err.key == "cell.architecture"
        assert "planar" in str(err) and "trench" in str(err) and "micropillar" in str(err)
    data = base()
    data["cell"]["architecture"] = "bipolar"
    missing = error(data)                             # its table is required: n_cells,
    assert missing.key == "cell.bipolar"              # not a substrate's sizes
    assert "n_cells" in str(missing) and "substrate" not in str(missing)
    data = base()
    data["cell"]["architecture"] = "trenches"
    assert "did you mean 'trench'" in str(error(data))
    data = base()
    data["cell"]["trench"] = {"width": "10 um", "depth": "50 um", "pitch": "20 um"}
    assert error(data).key == "cell.trench"
    data = base()
    data["cell"]["bipolar"] = {"n_cells": 3}
    assert error(data).key == "cell.bipolar"


@pytest.mark.parametrize("order", [
    ["electrolyte", "anode", "cathode"],
    ["anode", "cathode"],
    ["anode", "electrolyte", "cathode", "electrolyte"],
])
def test_wrong_layer_order(order):
    data = base()
    by_name = {item["name"]: item for item in data["cell"]["layers"]}
    data["cell"]["layers"] = [copy.deepcopy(by_name[n]) for n in order]
    for i, item in enumerate(data["cell"]["layers"]):
        item["name"] = f"{item['name']}{i}"
    err = error(data)
    assert err.key == "cell.layers"
    assert "electrode, electrolyte, electrode" in str(err)


def test_collector_in_the_middle():
    collector = a_collector()
    data = base()
    data["cell"]["layers"].insert(2, {"name": "pt", "material": collector,
                                      "thickness": "100 nm"})
    assert error(data).key == "cell.layers"


def test_layer_problems():
    data = base()
    layer(data, "cathode")["name"] = "anode"
    err = error(data)
    assert err.key == "cell.layers.2.name" and "unique" in str(err)

    data = base()
    del layer(data, "cathode")["thickness"]
    assert error(data).key == "cell.layers.cathode.thickness"

    data = base()
    data["cell"]["layers"] = []
    assert error(data).key == "cell.layers"

    data = base()
    data["cell"]["layers"] = {"name": "anode"}
    assert error(data).key == "cell.layers"


@pytest.mark.parametrize("value", [0, -3, 2.5, True, "20"])
def test_bad_cells_per_layer(value):
    data = base()
    data["mesh"] = {"cells_per_layer": value}
    assert error(data).key == "mesh.cells_per_layer"


@pytest.mark.parametrize("key,value", [
    ("grading", 1.0), ("grading", -0.1), ("max_cell_size", "0 um"), ("max_cell_size", "1 s"),
])
def test_bad_mesh(key, value):
    data = base()
    data["mesh"] = {key: value}
    assert error(data).key == f"mesh.{key}"


@pytest.mark.parametrize("key,value", [
    ("rtol", 0), ("rtol", 0.5), ("max_step", "-1 s"), ("initial_step", "1 m"),
    ("fields_every", -1), ("fields_every", 1.5),
])
def test_bad_solver_settings(key, value):
    data = base()
    data["solver"] = {key: value}
    assert error(data).key == f"solver.{key}"


@pytest.mark.parametrize("step,key,text", [
    ({"mode": "dischrage", "c_rate": 1, "until_voltage": 3.0}, "protocol.0.mode", "discharge"),
    ({"c_rate": 1, "until_voltage": 3.0}, "protocol.0.mode", "discharge"),
    ({"mode": "discharge", "until_voltage": 3.0}, "protocol.0", "exactly one"),
    ({"mode": "discharge", "c_rate": 1, "current": "1 uA", "until_voltage": 3.0},
     "protocol.0", "exactly one"),
    ({"mode": "discharge", "c_rate": 1}, "protocol.0", "until_voltage"),
    ({"mode": "discharge", "c_rate": -1, "until_voltage": 3.0}, "protocol.0.c_rate", "zero"),
    ({"mode": "discharge", "c_rate": "1 A", "until_voltage": 3.0}, "protocol.0.c_rate",
     "number"),
    ({"mode": "charge", "current": "0 uA", "until_voltage": 4.2}, "protocol.0.current", "zero"),
    ({"mode": "charge", "current_density": "1 uA", "until_time": 1},
     "protocol.0.current_density", "current density"),
    ({"mode": "discharge", "c_rate": 1, "until_time": "-1 h"}, "protocol.0.until_time", "zero"),
    # frequencies where no continuum model holds (1e30 Hz had run, with a spectrum)
    ({"mode": "impedance", "frequencies": ["1 Hz", "1e30 Hz"]}, "protocol.0.frequencies",
     "to 1e+12 Hz"),
    ({"mode": "impedance", "frequencies": ["1e-30 Hz", "1 Hz"]}, "protocol.0.frequencies",
     "from 1e-15 Hz"),
    ({"mode": "impedance", "field_frequencies": ["1 PHz"]}, "protocol.0.field_frequencies",
     "to 1e+12 Hz"),
    # times the clock cannot follow: a rest of 1e20 s had run for ever
    ({"mode": "rest", "until_time": 1e20}, "protocol.0.until_time", "at most 1e+15 s"),
    ({"mode": "discharge", "c_rate": 1, "until_voltage": 3.0, "max_duration": "1e16 s"},
     "protocol.0.max_duration", "at most 1e+15 s"),
    ({"mode": "discharge", "c_rate": 1, "until_voltage": 3.0, "max_duration": "1 ns"},
     "protocol.0.max_duration", "at least 1 us"),
    ({"mode": "discharge", "c_rate": 1, "until_voltage": 3.0, "voltage": 3.0},
     "protocol.0.voltage", "discharge step"),
    ({"mode": "rest"}, "protocol.0.until_time", "required"),
    ({"mode": "rest", "until_time": "1 h", "c_rate": 1}, "protocol.0.c_rate", "rest step"),
    ({"mode": "hold", "until_time": "1 h"}, "protocol.0.voltage", "required"),
    ({"mode": "hold", "voltage": "4.2 V"}, "protocol.0", "until_current"),
    ({"mode": "hold", "voltage": "4.2 V", "until_current": "1 V"}, "protocol.0.until_current",
     "current"),
    ({"repeat": 0, "steps": [{"mode": "rest", "until_time": 1}]}, "protocol.0.repeat", ">= 1"),
    ({"repeat": 2.5, "steps": [{"mode": "rest", "until_time": 1}]}, "protocol.0.repeat",
     "whole"),
    ({"repeat": 2, "steps": []}, "protocol.0.steps", "non-empty"),
    ({"repeat": 2, "steps": [{"mode": "rest"}]}, "protocol.0.steps.0.until_time", "required"),
    ({"repeat": 2, "mode": "rest", "steps": [{"mode": "rest", "until_time": 1}]},
     "protocol.0.mode", "repeat"),
    ({"repeat": 10**6, "steps": [{"mode": "rest", "until_time": 1}]}, "protocol.0.repeat",
     "steps"),
    ("discharge", "protocol.0", "step"),
])
def test_bad_protocol(step, key, text):
    data = base()
    data["protocol"] = [step]
    err = error(data)
    assert err.key == key
    assert key in str(err)
    assert text in str(err)


@pytest.mark.parametrize("protocol", [[], {"mode": "rest", "until_time": 1}, None])
def test_protocol_must_be_a_non_empty_list(protocol):
    data = base()
    if protocol is None:
        del data["protocol"]
    else:
        data["protocol"] = protocol
    err = error(data)
    assert err.key == "protocol"


def test_missing_required_cell_entries():
    for key in ("footprint_area", "temperature"):
        data = base()
        del data["cell"][key]
        err = error(data)
        assert err.key == f"cell.{key}"
        assert "required" in str(err)
    data = base()
    del data["cell"]
    assert error(data).key == "cell"
    data = base()
    data["cell"]["name"] = ""
    assert error(data).key == "cell.name"


def test_raw_is_a_copy_of_the_input():
    data = base()
    case = build(data)
    assert case.raw == data
    data["cell"]["name"] = "changed"
    assert case.raw["cell"]["name"] == "test cell"


# ------------------------------------------------------------------------------------------
# trench and micropillar architectures

def structured(architecture: str, **sizes) -> dict:
    """A Li-filled cell on a structured substrate: TiN barrier, LiCoO2, LiPON, Li, Cu top."""
    data = base()
    data["cell"]["architecture"] = architecture
    data["cell"]["layers"] = [
        {"name": "barrier", "material": "TiN", "thickness": "50 nm"},
        {"name": "cathode", "material": "LiCoO2", "thickness": "320 nm",
         "initial_stoichiometry": 0.5},
        {"name": "electrolyte", "material": "LiPON", "thickness": "1.5 um"},
        {"name": "anode", "material": "Li", "thickness": "3 um"},
        {"name": "top", "material": "Cu", "thickness": "200 nm"},
    ]
    if architecture == "trench":
        table = {"width": "10 um", "depth": "50 um", "pitch": "20 um"}
    else:
        table = {"diameter": "10 um", "height": "50 um", "pitch": "20 um"}
    table.update(sizes)
    data["cell"][architecture] = table
    return data


def test_trench_case_loads_in_si_units_with_defaults():
    from solver.case import TrenchSettings

    case = build(structured("trench"))
    assert case.architecture == "trench"
    assert case.micropillar is None
    assert case.trench == TrenchSettings(width=pytest.approx(10e-6), depth=pytest.approx(50e-6),
                                         pitch=pytest.approx(20e-6), dimension=2, length=None)
    assert case.trench.wall_width == pytest.approx(10e-6)
    assert case.trench.area_enhancement == pytest.approx((20 + 2 * 50) / 20)
    # derived: min(pitch/20, width/10, (pitch - width)/10, depth/20) = 1 um
    assert case.mesh.max_cell_size == pytest.approx(1e-6)
    assert [l.thickness for l in case.layers] == pytest.approx([50e-9, 320e-9, 1.5e-6, 3e-6,
                                                                200e-9])


def test_trench_in_3d_and_plain_si_numbers():
    data = structured("trench", width=4e-6, depth=3e-6, pitch="0.02 mm", dimension=3)
    data["mesh"] = {"cells_per_layer": 4}     # 20 would need about 2.7e6 cells: refused
    case = build(data)
    assert case.trench.dimension == 3
    assert case.trench.length == pytest.approx(20e-6)        # default: one pitch
    assert case.trench.width == 4e-6 and case.trench.depth == 3e-6
    assert case.mesh.max_cell_size == pytest.approx(0.15e-6)  # depth / 20
    case = build(structured("trench", dimension=3, length="5 um"))
    assert case.trench.length == pytest.approx(5e-6)


def test_micropillar_case_loads_in_si_units_with_defaults():
    from solver.case import MicropillarSettings

    case = build(structured("micropillar"))
    assert case.architecture == "micropillar"
    assert case.trench is None
    assert case.micropillar == MicropillarSettings(
        diameter=pytest.approx(10e-6), height=pytest.approx(50e-6), pitch=pytest.approx(20e-6),
        lattice="square", holes=False, axisymmetric=False)
    assert case.micropillar.unit_cell_area == pytest.approx(400e-12)
    assert case.micropillar.area_enhancement == pytest.approx(1 + math.pi * 10 * 50 / 400)
    assert case.micropillar.equivalent_radius == pytest.approx(math.sqrt(400e-12 / math.pi))
    assert case.mesh.max_cell_size == pytest.approx(1e-6)


def test_micropillar_options():
    case = build(structured("micropillar", lattice="hexagonal", holes=True, axisymmetric=True,
                            diameter="15 um", height="0.1 mm"))
    settings = case.micropillar
    assert (settings.lattice, settings.holes, settings.axisymmetric) == ("hexagonal", True,
                                                                        True)
    assert settings.diameter == pytest.approx(15e-6) and settings.height == pytest.approx(1e-4)
    hexagon = math.sqrt(3) / 2 * (20e-6) ** 2
    assert settings.unit_cell_area == pytest.approx(hexagon)
    assert settings.equivalent_radius == pytest.approx(math.sqrt(hexagon / math.pi))
    assert case.mesh.max_cell_size == pytest.approx(0.5e-6)   # (pitch - diameter) / 10


def test_given_max_cell_size_is_kept():
    data = structured("trench")
    data["mesh"] = {"max_cell_size": "0.25 um"}
    assert build(data).mesh.max_cell_size == pytest.approx(0.25e-6)
    assert build(base()).mesh.max_cell_size is None            # planar: no default


def test_default_max_cell_size_formula():
    from solver.case import MicropillarSettings, TrenchSettings, default_max_cell_size

    assert default_max_cell_size(TrenchSettings(2e-6, 100e-6, 20e-6)) == pytest.approx(0.2e-6)
    assert default_max_cell_size(TrenchSettings(18e-6, 100e-6, 20e-6)) == pytest.approx(0.2e-6)
    assert default_max_cell_size(TrenchSettings(10e-6, 100e-6, 40e-6)) == pytest.approx(1e-6)
    assert default_max_cell_size(MicropillarSettings(30e-6, 200e-6, 100e-6)) == pytest.approx(
        3e-6)


def test_stack_roles_split_films_fill_and_top():
    from solver.case import stack_roles

    case = build(structured("micropillar"))
    films, fill, top = case.stack_roles()
    assert [l.name for l in films] == ["barrier", "cathode", "electrolyte"]
    assert fill.name == "anode" and fill.material.name == "Li"
    assert [l.name for l in top] == ["top"]
    roles = stack_roles(case.layers)
    assert roles.fill is fill and roles.films == films and roles.top == top

    films, fill, top = build(base()).stack_roles()           # no collectors
    assert [l.name for l in films] == ["anode", "electrolyte"]
    assert fill.name == "cathode" and top == []


def test_stack_roles_cathode_fill_without_collectors():
    data = structured("trench")
    layers = data["cell"]["layers"]
    data["cell"]["layers"] = [layers[3], layers[2], layers[1]]   # Li, LiPON, LiCoO2 fill
    films, fill, top = build(data).stack_roles()
    assert [l.name for l in films] == ["anode", "electrolyte"]
    assert fill.name == "cathode" and top == []


def test_existing_case_constructor_still_works():
    case = build(base())
    rebuilt = Case(case.name, case.architecture, case.footprint_area, case.temperature,
                   case.nominal_capacity, case.layers, case.mesh, case.protocol, case.solver)
    assert rebuilt.trench is None and rebuilt.micropillar is None


@pytest.mark.parametrize("architecture", ["trench", "micropillar"])
def test_missing_architecture_table(architecture):
    data = structured(architecture)
    del data["cell"][architecture]
    err = error(data)
    assert err.key == f"cell.{architecture}"
    assert f"[cell.{architecture}]" in str(err) and "required" in str(err)
    data = structured(architecture)
    data["cell"][architecture] = "10 um"
    assert error(data).key == f"cell.{architecture}"


@pytest.mark.parametrize("architecture,other", [
    ("trench", "micropillar"), ("micropillar", "trench"), ("trench", "bipolar"),
])
def test_table_of_another_architecture(architecture, other):
    data = structured(architecture)
    data["cell"][other] = structured(other)["cell"].get(other, {"n_cells": 2})
    err = error(data)
    assert err.key == f"cell.{other}"
    assert f"{architecture} cell" in str(err)


@pytest.mark.parametrize("architecture,key", [
    ("trench", "width"), ("trench", "depth"), ("trench", "pitch"),
    ("micropillar", "diameter"), ("micropillar", "height"), ("micropillar", "pitch"),
])
@pytest.mark.parametrize("value", [None, "0 um", "-1 um", "10 s", math.nan, True])
def test_bad_or_missing_sizes(architecture, key, value):
    data = structured(architecture)
    if value is None:
        del data["cell"][architecture][key]
    else:
        data["cell"][architecture][key] = value
    err = error(data)
    assert err.key == f"cell.{architecture}.{key}"
    if value is None:
        assert "required" in str(err)


@pytest.mark.parametrize("width", ["20 um", "25 um"])
def test_trench_width_not_smaller_than_pitch(width):
    err = error(structured("trench", width=width))
    assert err.key == "cell.trench.width"
    assert "width must be smaller than pitch" in str(err)


@pytest.mark.parametrize("diameter", ["20 um", 3e-5])
def test_diameter_not_smaller_than_pitch(diameter):
    for holes in (False, True):
        err = error(structured("micropillar", diameter=diameter, holes=holes))
        assert err.key == "cell.micropillar.diameter"
        assert "diameter must be smaller than pitch" in str(err)


@pytest.mark.parametrize("value", [1, 4, 2.5, 3.0, "3", True])
def test_trench_dimension_is_2_or_3(value):
    err = error(structured("trench", dimension=value))
    assert err.key == "cell.trench.dimension"
    assert "2" in err.expected and "3" in err.expected


def test_trench_length():
    err = error(structured("trench", length="40 um"))          # dimension 2
    assert err.key == "cell.trench.length"
    assert "dimension = 3" in str(err)
    for value in ("0 um", "1 V"):
        assert error(structured("trench", dimension=3, length=value)).key == "cell.trench.length"


@pytest.mark.parametrize("value", ["hexagon", "triangular", 4, "Square"])
def test_bad_lattice(value):
    err = error(structured("micropillar", lattice=value))
    assert err.key == "cell.micropillar.lattice"
    assert "square" in str(err) and "hexagonal" in str(err)
    if value == "hexagon":
        assert "did you mean 'hexagonal'" in str(err)


@pytest.mark.parametrize("key", ["holes", "axisymmetric"])
@pytest.mark.parametrize("value", ["true", 1, 0, "yes"])
def test_non_bool_flags(key, value):
    err = error(structured("micropillar", **{key: value}))
    assert err.key == f"cell.micropillar.{key}"
    assert "true or false" in str(err)


@pytest.mark.parametrize("architecture,key,close", [
    ("trench", "widht", "width"), ("trench", "dimensions", "dimension"),
    ("micropillar", "diametre", "diameter"), ("micropillar", "hole", "holes"),
    ("micropillar", "axisymetric", "axisymmetric"),
])
def test_unknown_key_in_architecture_table(architecture, key, close):
    data = structured(architecture)
    data["cell"][architecture][key] = 1
    err = error(data)
    assert err.key == f"cell.{architecture}.{key}"
    assert f"did you mean {close!r}" in str(err)


def test_films_must_leave_room_for_the_fill():
    # films: 50 nm + 320 nm + 1.5 um = 1.87 um on each side
    err = error(structured("trench", width="3.7 um", pitch="10 um"))
    assert err.key == "cell.trench.width"
    assert "'anode'" in str(err) and "barrier, cathode, electrolyte" in str(err)
    assert build(structured("trench", width="3.8 um", pitch="10 um")).trench is not None

    err = error(structured("micropillar", diameter="16.3 um"))   # gap 3.7 um
    assert err.key == "cell.micropillar.pitch"
    assert build(structured("micropillar", diameter="16.2 um")).micropillar is not None

    err = error(structured("micropillar", diameter="3.7 um", holes=True))
    assert err.key == "cell.micropillar.diameter"
    assert build(structured("micropillar", diameter="3.8 um", holes=True)).micropillar


def test_structured_cells_keep_the_layer_order_rule():
    data = structured("trench")
    layers = data["cell"]["layers"]
    data["cell"]["layers"] = [layers[0], layers[1], layers[3], layers[2], layers[4]]
    err = error(data)
    assert err.key == "cell.layers"
    assert "electrode, electrolyte, electrode" in str(err)


def test_structured_case_from_a_toml_file(tmp_path):
    text = SHIPPED.read_text().replace('architecture = "planar"', 'architecture = "micropillar"')
    text = text.replace("\n[[cell.layers]]", '\n[cell.micropillar]\ndiameter = "12 um"\n'
                        'height = "10 um"\npitch = "20 um"\nlattice = "hexagonal"\n'
                        'holes = true\n\n[[cell.layers]]', 1)
    path = tmp_path / "pillar.toml"
    path.write_text(text)
    case = load_case(path)
    assert case.micropillar.holes is True and case.micropillar.lattice == "hexagonal"
    assert case.micropillar.pitch == pytest.approx(20e-6)
    assert case.raw["cell"]["micropillar"]["diameter"] == "12 um"
    films, fill, _ = case.stack_roles()
    assert [l.name for l in films] == ["anode", "electrolyte"] and fill.name == "cathode"


@pytest.mark.parametrize("where", ["cell", "layer"])
def test_names_longer_than_max_name_are_refused(where):
    """A name is written into every result (a 1e6-character name made a run 35 times
    slower, found by trying the product)."""
    from solver.case import MAX_NAME

    def case_with(name):
        data = base()
        if where == "cell":
            data["cell"]["name"] = name
        else:
            data["cell"]["layers"][0]["name"] = name
        return case_from_dict(data, SHIPPED.parent, source="test")

    assert case_with("n" * MAX_NAME) is not None
    with pytest.raises(InputError, match=f"at most {MAX_NAME} characters"):
        case_with("n" * (MAX_NAME + 1))


def test_an_initial_voltage_on_a_plateau_is_refused():
    """On LiFePO4's two-phase plateau a voltage does not say where the electrode is (x =
    0.615 was picked silently, found by trying the product); LiCoO2 at 4.2 V is steep."""
    data = base()
    cathode = next(layer for layer in data["cell"]["layers"] if layer["name"] == "cathode")
    cathode.pop("initial_stoichiometry", None)
    cathode.update(material="LiFePO4", initial_voltage="3.43 V")
    with pytest.raises(InputError, match="plateau of LiFePO4"):
        case_from_dict(data, SHIPPED.parent, source="test")
    cathode.update(material="LiCoO2", initial_voltage="4.2 V")
    case = case_from_dict(data, SHIPPED.parent, source="test")
    assert 0.5 < case.layer("cathode").initial_stoichiometry < 0.6

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
    assert [l.material.name for l in case.layers] == ["Li", "LiPON", "LiCoO2"]
    assert [l.material.kind for l in case.layers] == ["lithium_metal", "electrolyte",
                                                       "intercalation"]
    assert [l.thickness for l in case.layers] == pytest.approx([3e-6, 1.5e-6, 320e-9])
    assert case.layer("cathode").initial_stoichiometry == 0.5
    assert case.layer("anode").initial_stoichiometry is None
    assert case.protocol == [Step(mode="discharge", c_rate=1.0, until_voltage=3.0, index=0,
                                  key="protocol.0")]
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
        return material

    monkeypatch.setattr(materials, "load_material", without_default)
    data = base()
    del layer(data, "cathode")["initial_stoichiometry"]
    err = error(data)
    assert err.key == "cell.layers.cathode.initial_stoichiometry"
    assert "required" in str(err)


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
    for architecture in ("trench", "bipolar", "micropillar", "spiral"):
        data = base()
        data["cell"]["architecture"] = architecture
        err = error(data)
        assert err.key == "cell.architecture"
        assert "planar" in str(err)
    data = base()
    data["cell"]["trench"] = {"width": "10 um", "depth": "50 um", "pitch": "20 um"}
    assert error(data).key == "cell.trench"


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

"""`thinfilm schema`: a JSON Schema of the case format that accepts every shipped case and
flags the mistakes the validator refuses."""

import copy
import json
import tomllib

import jsonschema
import pytest

from solver import case as case_format
from solver import cli
from solver.case import case_from_dict
from solver.case_schema import CASE_KEY_HELP, CASE_TABLE_KEYS, case_schema
from solver.errors import InputError
from tests.conftest import ROOT, shipped_case_dict


@pytest.fixture(scope="module")
def validator():
    schema = case_schema()
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def _shipped_case_files():
    files = sorted(ROOT.glob("cases/*.toml")) + sorted(ROOT.glob("validation/*/*.toml"))
    cases = []
    for path in files:
        with open(path, "rb") as handle:
            if "cell" in tomllib.load(handle):        # sweep, study and fit files are not cases
                cases.append(path)
    return cases


def test_there_are_shipped_cases_to_check():
    names = {path.name for path in _shipped_case_files()}
    assert "planar_li_lipon_lco.toml" in names and "trench_si_lipon_lco.toml" in names
    assert len(names) >= 10


@pytest.mark.parametrize("path", _shipped_case_files(), ids=lambda p: p.parent.name + "/" + p.name)
def test_every_shipped_case_is_valid(validator, path):
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(data)]
    assert errors == []


def _with(change):
    data = shipped_case_dict()
    change(data)
    return data


WRONG = {
    "unknown top-level table": lambda d: d.update(meshes={"cells_per_layer": 4}),
    "typo in a cell key": lambda d: d["cell"].update(temprature="25 degC"),
    "unknown architecture": lambda d: d["cell"].update(architecture="pillar"),
    "trench without its table": lambda d: d["cell"].update(architecture="trench"),
    "trench table in a planar cell": lambda d: d["cell"].update(
        trench={"width": "5 um", "depth": "20 um", "pitch": "10 um"}),
    "material not in the library": lambda d: d["cell"]["layers"][0].update(material="Lithium"),
    "layer without thickness": lambda d: d["cell"]["layers"][1].pop("thickness"),
    "thickness as a bare word": lambda d: d["cell"]["layers"][1].update(thickness="thin"),
    "unknown mode": lambda d: d["protocol"][0].update(mode="drain"),
    "discharge without an end": lambda d: d["protocol"][0].pop("until_voltage"),
    "discharge with two currents": lambda d: d["protocol"][0].update(current="10 uA"),
    "rest with a current": lambda d: d["protocol"].append(
        {"mode": "rest", "until_time": "1 h", "c_rate": 1}),
    "unknown key of an override": lambda d: d["materials"].update(
        {"LiCoO2_003": {"diffusion": "1e-11 cm^2/s"}}),
    "ocv override that is no table file": lambda d: d["materials"].update(
        {"LiCoO2_003": {"ocv": "3.9 V"}}),
    "both kinetics of an electrode": lambda d: d["materials"].update(
        {"LiCoO2_003": {"rate_constant": "1e-9 m/s",
                        "exchange_current_density": "0.1 mA/cm^2"}}),
    "rtol as a string": lambda d: d["solver"].update(rtol="small"),
    "block without steps": lambda d: d["protocol"].append({"repeat": 2}),
}


@pytest.mark.parametrize("name", WRONG)
def test_wrong_files_are_flagged_by_the_schema_and_refused_by_the_validator(validator, name):
    data = _with(lambda d: d.setdefault("materials", {}))
    WRONG[name](data)
    assert list(validator.iter_errors(data)), f"the schema accepts: {name}"
    with pytest.raises(InputError):
        case_from_dict(copy.deepcopy(data), ROOT / "cases")


def test_numbers_written_as_strings_are_accepted_as_the_validator_accepts_them(validator):
    data = shipped_case_dict()
    data["protocol"][0]["c_rate"] = "1"
    data["cell"]["layers"][2]["initial_stoichiometry"] = "0.5"
    data["mesh"]["grading"] = "0.3"
    assert list(validator.iter_errors(data)) == []
    case_from_dict(data, ROOT / "cases")


@pytest.mark.parametrize("written", ["C/20", "0.05C", "1 C", " c / 2 "])
def test_currents_written_as_c_rates_are_accepted_as_the_validator_accepts_them(validator,
                                                                               written):
    data = shipped_case_dict()
    data["protocol"] = [{"mode": "cccv", "current": written, "voltage": "4.2 V",
                         "until_current": written}]
    assert list(validator.iter_errors(data)) == []
    case_from_dict(data, ROOT / "cases")


def test_the_schema_describes_exactly_the_keys_the_validator_takes():
    for table, keys in CASE_TABLE_KEYS.items():
        assert set(CASE_KEY_HELP[table]) == set(keys), table
    schema = case_schema()
    cell = schema["properties"]["cell"]
    assert set(cell["properties"]) == set(case_format.CELL_KEYS)
    layer = cell["properties"]["layers"]["items"]
    assert set(layer["properties"]) == set(case_format.LAYER_KEYS)
    assert "a length such as '1.5 um'" in layer["properties"]["thickness"]["description"]
    assert layer["properties"]["material"]["enum"] == sorted(
        layer["properties"]["material"]["enum"], key=str.lower)


def test_material_overrides_carry_the_materials_schema():
    from solver.materials import PARAMETERS, library_names, load_material

    schema = case_schema()
    materials = schema["properties"]["materials"]["properties"]
    assert set(materials) == set(library_names())
    for name in ("LiCoO2", "LiPON", "Li", "Pt"):
        kind = load_material(name).kind
        ref = materials[name]["$ref"].rsplit("/", 1)[-1]
        properties = schema["$defs"][ref]["properties"]
        assert set(properties) == set(PARAMETERS[kind])
        for parameter, spec in PARAMETERS[kind].items():
            if spec.help:
                assert spec.help in properties[parameter]["description"]
    diffusivity = schema["$defs"]["materials_intercalation"]["properties"]["diffusivity"]
    assert "cm^2/s" in diffusivity["description"]


def test_cli_prints_and_writes_the_schema(tmp_path, capsys):
    assert cli.main(["schema"]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed == json.loads(json.dumps(case_schema()))
    assert printed["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    out = tmp_path / "case.schema.json"
    assert cli.main(["schema", "--out", str(out)]) == 0
    assert json.loads(out.read_text()) == printed

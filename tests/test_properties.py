"""Property tests over the case format: whatever a case file holds, `thinfilm run` ends with
exit 0 (finite results), 2 (one line naming a key, nothing written) or 3 (the solver's
message, complete files), never a traceback.

Cases are the shipped planar cell (4 cells per layer, so that a run takes hundredths of a
second) with mutations: any value in any key (numbers of any size, quantities with any
unit, text, lists, tables), keys removed, unknown keys added, and protocols of any
structure (steps and nested repeat blocks). The default profile runs a bounded number of
examples; `python -m pytest -m slow tests/test_properties.py` runs the long profile.
"""

import copy
import csv
import itertools
import json
import math

import pytest

hypothesis = pytest.importorskip("hypothesis")
tomli_w = pytest.importorskip("tomli_w")

from hypothesis import HealthCheck, example, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from solver import cli  # noqa: E402
from solver.case import case_from_dict  # noqa: E402
from solver.errors import InputError  # noqa: E402
from solver.fit import load_fit  # noqa: E402
from solver.sweep import load_sweep  # noqa: E402
from solver.case import MODES, STEP_KEYS  # noqa: E402
from solver.materials import PARAMETERS  # noqa: E402
from solver.results import BASE_COLUMNS  # noqa: E402
from tests.conftest import shipped_case_dict  # noqa: E402

RESULT_FILES = ("timeseries.csv", "summary.json", "voltage.png")
# a run still going after this long is stopped with exit 3 (counted as a failure below)
TIME_LIMIT_S = 60

settings.register_profile("thinfilm-fast", max_examples=30, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])
settings.register_profile("thinfilm-long", max_examples=400, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow,
                                                 HealthCheck.function_scoped_fixture])

UNITS = ["", "um", "nm", "m", "km", "cm^2", "m^2", "degC", "K", "degF", "uAh", "mAh", "C",
         "V", "mV", "s", "ms", "h", "min", "uA", "A", "mA/cm^2", "uA/cm^2", "S/cm", "S/m",
         "cm^2/s", "m^2/s", "mol/m^3", "eV", "kJ/mol", "ohm*cm^2", "g/cm^3", "g/mol", "m/s",
         "furlong", "%", "1/s", "um^2", "uF/cm^2"]

magnitudes = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-12, 12).map(lambda e: 10.0 ** e),
    st.sampled_from([0, 1, -1, 25, 320, 1e-300, 1e308, 1e-30, 0.5, 1.5e-6]))
quantities = st.builds(lambda number, unit: f"{number:g} {unit}".strip(),
                       magnitudes, st.sampled_from(UNITS))
leaves = st.one_of(st.integers(min_value=-2 ** 62, max_value=2 ** 62), magnitudes,
                   quantities, st.text(max_size=20), st.booleans())
values = st.recursive(leaves, lambda inner: st.one_of(
    st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=8), inner, max_size=3)),
    max_leaves=6)

# keys of the shipped case and of the tables it may have
MATERIAL_KEYS = [("materials", name, param) for name, kind in
                 (("LiCoO2_003", "intercalation"), ("LiPON", "electrolyte"),
                  ("Li", "lithium_metal"))
                 for param in PARAMETERS[kind]]
CASE_KEYS = ([("cell", k) for k in ("name", "architecture", "footprint_area", "temperature",
                                    "nominal_capacity", "allow_large", "trench", "bipolar")]
             + [("cell", "layers", i, k) for i in range(3)
                for k in ("name", "material", "thickness")]
             + [("cell", "layers", 2, "initial_stoichiometry")]
             + MATERIAL_KEYS
             + [("mesh", k) for k in ("cells_per_layer", "grading", "max_cell_size")]
             + [("solver", k) for k in ("rtol", "max_step", "initial_step", "fields_every")]
             + [("protocol", 0, k) for k in STEP_KEYS + ("repeat", "steps")]
             + [("cell",), ("mesh",), ("protocol",), ("materials",), ("unknown",)])

# steps and blocks of plausible values, so that many protocols run
step_values = {
    "c_rate": st.floats(0.05, 20),
    "current": st.floats(1e-7, 1e-4).map(lambda a: f"{a * 1e6:.4g} uA"),
    "current_density": st.floats(1, 200).map(lambda a: f"{a:.4g} uA/cm^2"),
    "until_voltage": st.floats(2.0, 4.6).map(lambda v: f"{v:.3f} V"),
    "until_time": st.floats(1, 7200).map(lambda t: f"{t:.4g} s"),
    "until_current": st.one_of(st.floats(1e-9, 1e-5).map(lambda a: f"{a * 1e9:.4g} nA"),
                               st.floats(1e-3, 1).map(lambda r: f"C/{1 / r:.4g}")),
    "voltage": st.floats(3.0, 4.4).map(lambda v: f"{v:.3f} V"),
    "frequencies": st.tuples(st.floats(1e-3, 1e2), st.floats(1e2, 1e6)).map(
        lambda band: [f"{band[0]:.3g} Hz", f"{band[1]:.3g} Hz"]),
    "points_per_decade": st.integers(1, 4),
}
DRIVE = ("c_rate", "current", "current_density")
# what each mode needs: a choice from each group (DESIGN.md section 6)
NEEDS = {"discharge": (DRIVE, ("until_voltage", "until_time")),
         "charge": (DRIVE, ("until_voltage", "until_time")),
         "rest": (("until_time",),),
         "hold": (("voltage",), ("until_current", "until_time")),
         "cccv": (DRIVE, ("voltage",), ("until_current", "until_time")),
         "impedance": (("frequencies",), ("points_per_decade",))}


def _complete_step(mode):
    groups = [st.sampled_from(group) for group in NEEDS[mode]]
    return st.tuples(*groups).flatmap(lambda keys: st.fixed_dictionaries(
        {"mode": st.just(mode), **{k: step_values[k] for k in keys}}))


any_step = st.builds(
    lambda mode, chosen: {"mode": mode, **chosen},
    st.sampled_from(MODES),
    st.dictionaries(st.sampled_from(sorted(step_values)), st.none(), max_size=4).flatmap(
        lambda keys: st.fixed_dictionaries({k: step_values[k] for k in keys})))
complete_step = st.sampled_from(MODES).flatmap(_complete_step)
steps = st.one_of(complete_step, complete_step, complete_step, any_step)
protocols = st.recursive(
    steps,
    lambda inner: st.builds(lambda repeat, body, cutoff: {"repeat": repeat, "steps": body,
                                                          **cutoff},
                            st.integers(1, 3), st.lists(inner, min_size=1, max_size=3),
                            st.one_of(st.just({}), st.just({}), st.just({}),
                                      step_values["until_voltage"].map(
                                          lambda v: {"until_voltage": v}))),
    max_leaves=6)


def small_case() -> dict:
    data = shipped_case_dict()
    data["mesh"]["cells_per_layer"] = 4
    return data


def set_key(data: dict, path: tuple, value) -> None:
    """Set a value by its path; a missing table on the way is made, a missing list entry
    (an integer part: a TOML key is text) ends the change."""
    node = data
    for part in path[:-1]:
        if isinstance(node, dict) and not isinstance(part, int):
            node = node.setdefault(part, {})
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            node = node[part]
        else:
            return
        if not isinstance(node, (dict, list)):
            return
    last = path[-1]
    if isinstance(node, dict) and not isinstance(last, int):
        node[last] = value
    elif isinstance(node, list) and isinstance(last, int) and last < len(node):
        node[last] = value


def delete_key(data: dict, path: tuple) -> None:
    node = data
    for part in path[:-1]:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return
    if isinstance(node, dict):
        node.pop(path[-1], None)


mutations = st.lists(st.one_of(
    st.tuples(st.just("set"), st.sampled_from(CASE_KEYS), values),
    st.tuples(st.just("set"), st.sampled_from(CASE_KEYS), quantities),
    st.tuples(st.just("delete"), st.sampled_from(CASE_KEYS), st.none())), min_size=1,
    max_size=3)


def mutated(changes) -> dict:
    data = small_case()
    for action, path, value in changes:
        if action == "set":
            set_key(data, path, copy.deepcopy(value))
        else:
            delete_key(data, path)
    return data


def run_cli(tmp_path, data: dict, capsys):
    """`thinfilm run` in-process on `data`; (exit status, stderr lines, out folder)."""
    case = tmp_path / "case.toml"
    case.write_text(tomli_w.dumps(data))
    out = tmp_path / "out"
    code = cli.main(["run", str(case), "--out", str(out), "--quiet",
                     "--time-limit", str(TIME_LIMIT_S)])
    err = capsys.readouterr().err
    return code, err.strip().splitlines(), out


def _strict_number(text):
    raise ValueError(f"not JSON: {text}")


def check_outcome(code, err, out):
    """The contract of the exit status (DESIGN.md section 7)."""
    hypothesis.event(f"exit {code}")
    assert code in (0, 2, 3), (code, err)
    assert not any("Traceback" in line for line in err)
    if code == 2:
        assert len(err) == 1 and err[0].startswith("thinfilm: invalid input: "), err
        assert " = " in err[0] and ": expected " in err[0], err
        assert not out.exists(), "nothing is written on invalid input"
        return
    assert sorted(p.name for p in out.iterdir() if p.name in RESULT_FILES) == \
        sorted(RESULT_FILES), "complete files on exit 0 and 3"
    summary = json.loads((out / "summary.json").read_text(), parse_constant=_strict_number)
    with open(out / "timeseries.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0][:len(BASE_COLUMNS)]) == BASE_COLUMNS
    steps = summary["steps"]
    assert all(0 <= int(row[1]) < len(steps) for row in rows[1:])
    assert (out / "voltage.png").read_bytes()[:4] == b"\x89PNG"
    if code == 3:
        assert err and err[-1].startswith("thinfilm: "), err
        assert "time limit" not in err[-1], f"a run longer than {TIME_LIMIT_S} s: {err}"
        return
    assert not any(s["end_reason"] in ("solver_failed", "interrupted") for s in steps)
    numbers = [float(x) for row in rows[1:] for x in row]
    assert all(math.isfinite(x) for x in numbers), "finite time series on exit 0"
    for step in steps:
        for name in ("duration_s", "capacity_mAh_cm2", "energy_mWh_cm2", "mean_voltage_V"):
            assert isinstance(step[name], float) and math.isfinite(step[name]), (name, step)


@settings(settings.get_profile("thinfilm-fast"))
@given(changes=mutations)
@example(changes=[("delete", ("cell",), None), ("set", ("cell", "layers", 0, "name"), [])])
def test_any_value_in_any_key_exits_0_2_or_3(tmp_path_factory, capsys, changes):
    tmp_path = tmp_path_factory.mktemp("mutated")
    check_outcome(*run_cli(tmp_path, mutated(changes), capsys))


@settings(settings.get_profile("thinfilm-fast"))
@given(protocol=st.lists(protocols, min_size=1, max_size=3))
def test_any_protocol_structure_exits_0_2_or_3(tmp_path_factory, capsys, protocol):
    tmp_path = tmp_path_factory.mktemp("protocol")
    data = small_case()
    data["protocol"] = protocol
    check_outcome(*run_cli(tmp_path, data, capsys))


# C-rates as people write them: (text, the multiple of 1C it means)
padding = st.sampled_from(["", " ", "  "])
multiples = st.builds(lambda rate, c, a, b: (f"{a}{rate!r}{b}{c}{a}", rate),
                      st.floats(1e-6, 1e4), st.sampled_from("Cc"), padding, padding)
fractions = st.builds(lambda n, c, a, b: (f"{a}{c}{b}/{b}{n!r}{a}", 1 / n),
                      st.floats(1e-4, 1e6), st.sampled_from("Cc"), padding, padding)
not_positive = st.one_of(st.floats(max_value=0.0, allow_nan=False, allow_infinity=False),
                         st.integers(-10 ** 6, 0))


def cccv_with(key: str, value) -> dict:
    """The small case charged by one cccv step whose `key` (until_current or current) is
    `value`."""
    data = small_case()
    step = {"mode": "cccv", "c_rate": 1, "voltage": "4.2 V", "until_current": "1 uA"}
    if key == "current":
        del step["c_rate"]
    data["protocol"] = [{**step, key: value}]
    return data


@settings(settings.get_profile("thinfilm-fast"))
@given(written=st.one_of(multiples, fractions), key=st.sampled_from(["until_current",
                                                                       "current"]))
def test_a_c_rate_in_any_spelling_is_the_multiple_of_1c_it_says(written, key):
    text, rate = written
    step = case_from_dict(cccv_with(key, text), ".", "test").protocol[0]
    field = {"until_current": "until_current_c_rate", "current": "c_rate"}[key]
    assert getattr(step, field) == pytest.approx(rate, rel=1e-12)
    assert getattr(step, key) is None            # nothing in amperes until the run


@settings(settings.get_profile("thinfilm-fast"))
@given(number=not_positive, fraction=st.booleans(), key=st.sampled_from(["until_current",
                                                                           "current"]))
def test_a_c_rate_not_greater_than_zero_is_refused_naming_the_key(number, fraction, key):
    text = f"C/{number!r}" if fraction else f"{number!r}C"
    with pytest.raises(InputError) as info:
        case_from_dict(cccv_with(key, text), ".", "test")
    assert info.value.key == f"protocol.0.{key}" and info.value.value == text
    assert "a C-rate such as 'C/20'" in info.value.expected
    assert "greater than zero" in info.value.expected


# A measured curve or spectrum as people export it: any header of the accepted columns (and
# others), any cells, separators, a BOM, CRLF.
data_columns = st.sampled_from(["capacity_mAh_cm2", "voltage_V", "time_s", "time_h",
                                "voltage_mV", "frequency_Hz", "z_real_ohm_cm2",
                                "z_imag_ohm_cm2", "step", "capacity_uAh", "x", ""])
data_cells = st.one_of(magnitudes.map(repr), st.integers(-5, 5).map(str), st.text(max_size=6),
                       st.sampled_from(["", "nan", "inf", "1e400", "4,1", "0x10", "1_0"]))


@settings(settings.get_profile("thinfilm-fast"))
@given(header=st.lists(data_columns, max_size=4), sep=st.sampled_from([",", ";", "\t"]),
       rows=st.lists(st.lists(data_cells, max_size=4), max_size=6), bom=st.booleans(),
       crlf=st.booleans())
def test_any_fit_data_file_is_read_or_refused_in_one_line(tmp_path_factory, header, sep, rows,
                                                          bom, crlf):
    folder = tmp_path_factory.mktemp("fit_data")
    (folder / "cell.toml").write_text(tomli_w.dumps(small_case()))
    newline = "\r\n" if crlf else "\n"
    text = newline.join(sep.join(row) for row in [header] + rows) + newline
    (folder / "d.csv").write_bytes(b"\xef\xbb\xbf" * bom + text.encode())
    spec = {"base": "cell.toml", "experiment": [{"name": "e", "data": "d.csv", "role": "fit"}],
            "parameters": {"materials.LiPON.conductivity": {"min": "1e-7 S/cm",
                                                            "max": "1e-5 S/cm"}}}
    try:
        load_fit(spec, base_dir=folder)
    except InputError as error:
        assert error.key.startswith("experiment") and "\n" not in str(error)


sweep_keys = st.sampled_from(["protocol.0.c_rate", "cell.temperature", "protocol.0",
                              "materials.LiPON.conductivity", "cell.layers.cathode.thickness",
                              "cell.layers.9.thickness", "protocol.x.c_rate", "solver.rtol",
                              "mesh.cells_per_layer", "cell", "", "materials", "cell.layers",
                              "protocol.0.steps.0.mode", "cell.trench.width", "a.b.c.d"])


@settings(settings.get_profile("thinfilm-fast"))
@given(grid=st.dictionaries(sweep_keys, values, max_size=3))
def test_any_sweep_grid_builds_its_cases_or_is_refused_in_one_line(grid):
    try:
        spec = load_sweep({"base": small_case(), "grid": grid})
        for settings_ in itertools.islice(spec.combinations(), 3):
            case_from_dict(spec.case_dict(settings_), ".", "sweep")
    except InputError as error:
        assert "\n" not in str(error)


@pytest.mark.slow
@settings(settings.get_profile("thinfilm-long"))
@given(changes=mutations, protocol=st.one_of(st.none(), st.lists(protocols, min_size=1,
                                                                 max_size=3)))
def test_long_profile_mutations_and_protocols(tmp_path_factory, capsys, changes, protocol):
    tmp_path = tmp_path_factory.mktemp("long")
    data = mutated(changes)
    if protocol is not None:
        data["protocol"] = protocol
    check_outcome(*run_cli(tmp_path, data, capsys))

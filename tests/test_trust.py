"""Trustworthy runs (issue 9), input, command-line and I/O side: one test (or more) per class
of failure found, each named after its class.

Exit 0 means physical numbers, 2 a refused input (one line naming the key, nothing written),
3 a solver that stopped (its message, complete files), 130/143 an interruption (the results
so far). See tests/test_properties.py for the same contract over generated cases.
"""

import csv
import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import solver
from solver import cli
from solver.case import case_from_dict, load_case
from solver.errors import InputError
from solver.materials import library_names, load_material
from solver.files import write_atomic
from solver.results import BASE_COLUMNS, Result
from tests.conftest import SHIPPED_CASE, shipped_case_dict

CASES = SHIPPED_CASE.parent
RESULT_FILES = {"timeseries.csv", "summary.json", "voltage.png"}


def write_case(tmp_path, old=None, new=None, text=None, name="case.toml"):
    """The shipped planar case with `old` replaced by `new` (or `text`), as a file."""
    text = text if text is not None else SHIPPED_CASE.read_text()
    if old is not None:
        assert old in text, old
        text = text.replace(old, new, 1)
    path = tmp_path / name
    path.write_text(text)
    return path


def run_cli(args, capsys):
    code = cli.main([str(a) for a in args])
    captured = capsys.readouterr()
    return code, captured.out, captured.err.strip().splitlines()


def assert_refused(code, err, out: Path, key: str):
    """Exit 2, one line naming the key, nothing written."""
    assert code == 2, err
    assert len(err) == 1 and err[0].startswith("thinfilm: invalid input: "), err
    assert key in err[0], err
    assert not out.exists()


def assert_complete(out: Path):
    assert RESULT_FILES <= {p.name for p in out.iterdir()}
    summary = json.loads((out / "summary.json").read_text())
    with open(out / "timeseries.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    assert tuple(rows[0][:len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert (out / "voltage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    return summary, rows[1:]


def failing_newton(monkeypatch, fail_at: int):
    """Make the solver's Newton iteration fail from its `fail_at`-th call on (1: the initial
    open-circuit state, 2: the first time step of step 0, ...): a failure the solver cannot
    recover from, wherever it strikes."""
    from solver import simulate
    from solver.newton import NewtonFailure

    real = simulate.newton_solve
    calls = {"n": 0}

    def newton(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] >= fail_at:
            raise NewtonFailure("injected failure", "the drive")
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate, "newton_solve", newton)


# ------------------------------------------------------------------------------------------
# class 1: a failed first step

@pytest.mark.parametrize("fail_at", [1, 2])
def test_class1_empty_step_writes_complete_result(tmp_path, capsys, monkeypatch, fail_at):
    failing_newton(monkeypatch, fail_at)
    out = tmp_path / "out"
    code, _, err = run_cli(["run", SHIPPED_CASE, "--out", out, "--quiet"], capsys)
    assert code == 3
    assert err[-1].startswith("thinfilm: ") and "injected failure" in err[-1]
    summary, rows = assert_complete(out)
    assert rows == []                                       # an empty series, not a crash
    assert summary["steps"][0]["end_reason"] == "solver_failed"
    assert summary["steps"][0]["capacity_mAh_cm2"] == 0.0
    assert "injected failure" in summary["message"]
    if fail_at == 1:
        assert "initial open-circuit state" in summary["message"]


def test_class1_plot_of_a_result_without_rows_says_there_is_no_data():
    from solver.plots import voltage_figure

    summary = {"case": "c", "steps": [{"mode": "discharge", "end_reason": "solver_failed"}],
               "message": "the solver could not find the initial open-circuit state"}
    figure = voltage_figure(Result(summary, []))
    texts = [t.get_text() for ax in figure.axes for t in ax.texts]
    assert any("no data" in t and "open-circuit" in t for t in texts)


# ------------------------------------------------------------------------------------------
# class 3: nonsense accepted as input

@pytest.mark.parametrize("value", ['25', '"100 K"', '"1 K"', "1e308", '"200 degC"',
                                   '"-60 degC"', '"1e308 K"'])
def test_class3_temperature_outside_the_materials_range_is_refused(tmp_path, capsys, value):
    path = write_case(tmp_path, 'temperature = "25 degC"', f"temperature = {value}")
    out = tmp_path / "out"
    assert_refused(*run_cli(["run", path, "--out", out], capsys)[::2], out, "cell.temperature")


def test_class3_materials_declare_where_their_data_hold():
    for name in library_names():
        material = load_material(name)
        low, high = material.value("temperature_range")
        assert low < 298.15 < high, name
        assert material.source("temperature_range").strip(), name
    lipon = load_material("LiPON")
    assert lipon.value("temperature_range") == pytest.approx((247.15, 413.15))
    assert "Yu" in lipon.source("temperature_range")
    assert load_material("Li").value("temperature_range")[1] < 453.75   # melts at 180.5 degC


def test_class3_a_wider_range_is_an_explicit_override(tmp_path):
    data = shipped_case_dict()
    data["cell"]["temperature"] = "160 degC"
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES)
    assert info.value.key == "cell.temperature" and "LiPON" in info.value.expected
    assert "plain number" not in info.value.expected        # the hint is for 433, not degC
    data["cell"]["temperature"] = 433.15
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES)
    assert "(a plain number is kelvin)" in info.value.expected
    data["materials"] = {"LiPON": {"temperature_range": ["-26 degC", "170 degC"]}}
    assert case_from_dict(data, CASES).temperature == pytest.approx(433.15)


@pytest.mark.parametrize("key,old,new,meant", [
    ("cell.layers.cathode.thickness", 'thickness = "320 nm"', "thickness = 320", False),
    ("cell.layers.cathode.thickness", 'thickness = "320 nm"', 'thickness = "2 mm"', True),
    ("cell.layers.anode.thickness", 'thickness = "3 um"', 'thickness = "3 m"', False),
])
def test_class3_films_thicker_than_1_mm_need_allow_large(tmp_path, capsys, key, old, new,
                                                         meant):
    path = write_case(tmp_path, old, new)
    out = tmp_path / "out"
    code, _, err = run_cli(["run", path, "--out", out], capsys)
    assert_refused(code, err, out, key)
    assert "allow_large" in err[0]
    text = path.read_text().replace('architecture = "planar"',
                                    'architecture = "planar"\nallow_large = true', 1)
    if meant:
        assert load_case(write_case(tmp_path, text=text)).layer(key.split(".")[2]).thickness > 1e-3
    else:                   # beyond any battery even when meant
        with pytest.raises(InputError, match="at most 1 m"):
            load_case(write_case(tmp_path, text=text))


@pytest.mark.parametrize("name,key,value", [
    ("trench_si_lipon_lco.toml", "depth", "2 cm"), ("trench_si_lipon_lco.toml", "pitch", "5 cm"),
    ("micropillar_si_lipon_lco.toml", "height", "1.5 cm")])
def test_class3_structures_larger_than_1_cm_need_allow_large(name, key, value):
    data = _case(name)
    architecture = data["cell"]["architecture"]
    data["cell"][architecture][key] = value
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES)
    assert info.value.key == f"cell.{architecture}.{key}" and "allow_large" in str(info.value)


def _case(name):
    import tomllib

    with open(CASES / name, "rb") as handle:
        return tomllib.load(handle)


# ------------------------------------------------------------------------------------------
# class 4: crashes become one line

DEEP_BLOCKS = "protocol = [" + "{repeat = 1, steps = [" * 12 + \
    '{mode = "discharge", c_rate = 1, until_voltage = "3.0 V"}' + "]}" * 12 + "]\n"
SHIPPED_PROTOCOL = '[[protocol]]\nmode = "discharge"\nc_rate = 1\nuntil_voltage = "3.0 V"\n'
SHIPPED_IMPEDANCE = r'\[\[protocol\]\]\nmode = "impedance"\n(?:\w+ = [^\n]*\n)*'

CRASHES = {
    "collapsing cells": ("cell.layers.cathode.thickness", 'thickness = "320 nm"',
                         'thickness = "1e-300 m"'),
    "infinite length": ("cell.layers.cathode.thickness", 'thickness = "320 nm"',
                        'thickness = "inf um"'),
    "overflow in SI": ("cell.layers.cathode.thickness", 'thickness = "320 nm"',
                       'thickness = "1e308 km"'),
    "list as mode": ("protocol.0.mode", '[[protocol]]\nmode = "discharge"',
                     '[[protocol]]\nmode = ["discharge"]'),
    "table as mode": ("protocol.0.mode", '[[protocol]]\nmode = "discharge"',
                      '[[protocol]]\nmode = {a = 1}'),
    "list as material": ("cell.layers.electrolyte.material", 'material = "LiPON"',
                         'material = ["LiPON"]'),
    "list as architecture": ("cell.architecture", 'architecture = "planar"',
                             'architecture = ["planar"]'),
    "huge cells_per_layer": ("mesh.cells_per_layer", "cells_per_layer = 20",
                             "cells_per_layer = 100000000"),
    "huge repeat": ("protocol.0.repeat", '[[protocol]]\nmode = "discharge"\nc_rate = 1\n'
                    'until_voltage = "3.0 V"', '[[protocol]]\nrepeat = 1000000000\nsteps = '
                    '[{mode = "discharge", c_rate = 1, until_voltage = "3.0 V"}]'),
    "deep repeat blocks": ("protocol.0", SHIPPED_PROTOCOL, ""),
    "deep lists": ("case.toml", 'name = "Li | LiPON | LiCoO2 planar thin-film cell"',
                   "name = " + "[" * 2000 + "]" * 2000),
    "zero max_step": ("solver.max_step", '# max_step = "60 s"', "max_step = 0"),
    "tiny max_step": ("solver.max_step", '# max_step = "60 s"', 'max_step = "1e-300 s"'),
    "tiny initial_step": ("solver.initial_step", '# initial_step = "1 ms"',
                          'initial_step = "1e-300 s"'),
    "tiny until_time": ("protocol.0.until_time", 'c_rate = 1\nuntil_voltage = "3.0 V"',
                        'c_rate = 1\nuntil_time = "1e-300 s"'),
    "huge c_rate": ("protocol.0.c_rate", "c_rate = 1\n", "c_rate = 1e300\n"),
}


@pytest.mark.parametrize("name", list(CRASHES))
def test_class4_crashes_become_one_line(tmp_path, capsys, name):
    key, old, new = CRASHES[name]
    path = write_case(tmp_path, old, new)
    if name == "deep repeat blocks":          # top-level keys come before the tables
        path.write_text(DEEP_BLOCKS + re.sub(SHIPPED_IMPEDANCE, "", path.read_text()))
    out = tmp_path / "out"
    code, _, err = run_cli(["run", path, "--out", out], capsys)
    assert_refused(code, err, out, key)


@pytest.mark.parametrize("where, why", [("a file", "this is a file"),
                                        ("/dev/null", "this is a file"),
                                        ("below a file", "is a file"),
                                        ("a dangling link", "link to gone, which does not exist")])
def test_class4_out_that_cannot_be_a_folder_is_refused(tmp_path, capsys, where, why):
    (tmp_path / "afile").write_text("x")
    (tmp_path / "link").symlink_to("gone")      # had been "(File exists)"
    out = {"a file": tmp_path / "afile", "/dev/null": Path("/dev/null"),
           "below a file": tmp_path / "afile" / "sub", "a dangling link": tmp_path / "link"}[where]
    code, _, err = run_cli(["run", SHIPPED_CASE, "--out", out], capsys)
    assert code == 2 and len(err) == 1 and "--out" in err[0] and why in err[0], err
    assert (tmp_path / "afile").read_text() == "x"


def test_class4_reading_errors_of_the_case_are_one_line(tmp_path, capsys):
    (tmp_path / "folder.toml").mkdir()
    (tmp_path / "bytes.toml").write_bytes(b"\xff\xfe[cell]\n")
    for case in ("missing.toml", "folder.toml", "bytes.toml"):
        out = tmp_path / "out"
        code, _, err = run_cli(["run", tmp_path / case, "--out", out], capsys)
        assert_refused(code, err, out, case)


# ------------------------------------------------------------------------------------------
# class 5: hangs and sizes beyond the machine

@pytest.mark.parametrize("name,change,key", [
    ("trench_si_lipon_lco.toml", {"cell": {"allow_large": True, "trench": {"depth": "1 m"}}},
     "cell.trench.depth"),
    ("micropillar_si_lipon_lco.toml", {"mesh": {"max_cell_size": "1 nm"}},
     "mesh.max_cell_size"),
    ("planar_li_lipon_lco.toml", {"mesh": {"cells_per_layer": 3_000_000}},
     "mesh.cells_per_layer"),
    # the shipped trench sets max_cell_size too: it had been named, not cells_per_layer
    ("trench_si_lipon_lco.toml", {"mesh": {"cells_per_layer": 5000}}, "mesh.cells_per_layer"),
    ("trench_si_lipon_lco.toml", {"protocol": [{"repeat": 50_000, "steps": [
        {"mode": "discharge", "c_rate": 1, "until_voltage": "3 V"},
        {"mode": "charge", "c_rate": 1, "until_voltage": "4.2 V"}]}],
        "solver": {"fields_every": 1}}, "protocol"),
])
def test_class5_sizes_beyond_the_machine_are_refused_with_the_estimate(name, change, key):
    data = _case(name)
    for table, values in change.items():
        if isinstance(values, dict):
            for k, v in values.items():
                if isinstance(v, dict):
                    data[table].setdefault(k, {}).update(v)
                else:
                    data.setdefault(table, {})[k] = v
        else:
            data[table] = values
    started = time.process_time()
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES)
    assert info.value.key == key
    assert "grid cells" in info.value.expected and "GiB" in info.value.expected
    assert time.process_time() - started < 30       # refused up front, not after meshing


def test_class5_size_estimate_is_a_lower_bound_of_the_grid():
    from solver.api import build_grid
    from solver.limits import estimate_cells

    for name, change in [("trench_si_lipon_lco.toml", {}),
                         ("trench_si_lipon_lco.toml", {"dimension": 3, "length": "4 um"}),
                         ("trench_si_lipon_lco.toml", {"depth": "200 um"}),
                         ("micropillar_si_lipon_lco.toml", {}),
                         ("micropillar_si_lipon_lco.toml", {"lattice": "hexagonal",
                                                            "holes": True}),
                         ("micropillar_si_lipon_lco.toml", {"axisymmetric": True}),
                         ("bipolar_3cell_li_lipon_lco.toml", {})]:
        data = _case(name)
        architecture = data["cell"]["architecture"]
        data["cell"][architecture].update(change)
        case = case_from_dict(data, CASES)
        estimate, dim = estimate_cells(case)
        grid = build_grid(case)
        assert dim == grid.dim
        assert 0.4 * grid.n_cells <= estimate <= grid.n_cells, (name, change)


def test_class5_stacks_of_many_cells_are_refused(tmp_path):
    data = _case("bipolar_3cell_li_lipon_lco.toml")
    data["cell"]["bipolar"]["n_cells"] = 10_000
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES)
    assert info.value.key == "cell.bipolar.n_cells"


def test_class5_unit_strings_are_bounded_before_parsing():
    from solver.units import MAX_QUANTITY_LENGTH, parse_quantity

    for text in ("1 " + "u" * 100_000, "1" + " " * 100_000 + "um", "1 " + "(" * 50_000):
        with pytest.raises(InputError) as info:
            parse_quantity(text, "length", "k")
        assert f"at most {MAX_QUANTITY_LENGTH} characters" in info.value.expected
        assert len(str(info.value)) < 400
    assert parse_quantity("  1.5   um ", "length", "k") == pytest.approx(1.5e-6)
    assert parse_quantity("2.5e3nm", "length", "k") == pytest.approx(2.5e-6)


def test_class5_a_fifo_or_device_is_not_read(tmp_path):
    from solver.sweep import load_sweep

    fifo = tmp_path / "case.toml"
    os.mkfifo(fifo)
    proc = subprocess.run([sys.executable, "-m", "solver.cli", "run", str(fifo), "--out",
                           str(tmp_path / "out")], capture_output=True, text=True, timeout=120)
    lines = proc.stderr.strip().splitlines()
    assert proc.returncode == 2 and len(lines) == 1 and "regular file" in lines[0], proc.stderr
    # the same reader serves devices, tables and sweep bases
    os.mkfifo(tmp_path / "ocv.csv")
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "case.toml"\n[grid]\n"protocol.0.c_rate" = [1]\n')
    for load, key in ((lambda: load_case("/dev/zero"), "/dev/zero"),
                      (lambda: load_material("LiCoO2", {"ocv": "ocv.csv"}, tmp_path,
                                             key="materials.LiCoO2"), "materials.LiCoO2.ocv"),
                      (lambda: load_sweep(sweep), "base")):
        with pytest.raises(InputError) as info:
            load()
        assert info.value.key == key and "regular file" in info.value.expected


def _grid_sweep(tmp_path, grid: dict, name="sweep.toml") -> Path:
    lines = [f'base = "{os.path.relpath(SHIPPED_CASE, tmp_path)}"', "[grid]"]
    lines += [f'"{key}" = {json.dumps(values)}' for key, values in grid.items()]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path


def test_class5_a_sweep_of_a_million_combinations_is_refused_with_the_count(tmp_path, capsys):
    path = _grid_sweep(tmp_path, {"protocol.0.c_rate": [1 + k / 1000 for k in range(1000)],
                                  "mesh.cells_per_layer": list(range(1, 1001))})
    started = time.process_time()
    code, _, err = run_cli(["sweep", path, "--out", tmp_path / "out"], capsys)
    assert code == 2 and len(err) == 1 and "1000000 combinations" in err[0], err
    assert time.process_time() - started < 30           # no validation of a million cases
    assert not (tmp_path / "out").exists()


def test_class5_sweep_cases_are_validated_as_they_are_run(tmp_path):
    from solver.sweep import _jobs, _Progress, load_sweep

    spec = load_sweep(_grid_sweep(tmp_path, {"protocol.0.c_rate": [0.5, 1, 2, 4, 8]}))
    state = _Progress(spec, tmp_path)
    jobs = _jobs(spec, state, tmp_path / "runs", echo=lambda line: None)
    first = next(jobs)
    assert first.case.protocol[0].c_rate == 0.5
    assert len(state.entries) == 1                   # the rest not validated yet
    rows = state.table()
    assert [r["status"] for r in rows] == ["not_run"] * 5




def test_class5_sweep_runs_over_the_time_limit_get_a_status(tmp_path, client):
    path = _grid_sweep(tmp_path, {"protocol.0.c_rate": [1, 2], "mesh.cells_per_layer": [4]})
    out = tmp_path / "out"
    table = solver.sweep(path, out, scheduler=client, time_limit=1e-9)
    assert [r["status"] for r in table] == ["time_limit"] * 2
    assert all("time limit" in r["message"] for r in table)
    with open(out / "results.csv", newline="") as handle:
        assert [r["status"] for r in csv.DictReader(handle)] == ["time_limit"] * 2
    assert not list(out.glob("runs/*/summary.json"))     # a stopped run is not a result
    again = solver.sweep(path, out, scheduler=client)    # resumed without the limit
    assert [r["status"] for r in again] == ["ok", "ok"] and len(again.ran) == 2


def test_class5_workers_beyond_the_cores_are_capped(tmp_path, client):
    path = _grid_sweep(tmp_path, {"protocol.0.c_rate": [1], "mesh.cells_per_layer": [4]})
    out = tmp_path / "out"
    solver.sweep(path, out, scheduler=client)
    lines = []                      # all done already: no cluster starts, the cap is told
    table = solver.sweep(path, out, workers=(os.cpu_count() or 1) + 6, echo=lines.append)
    assert len(table.reused) == 1
    assert any(f"using {os.cpu_count()}" in line for line in lines), lines


# ------------------------------------------------------------------------------------------
# class 6: invalid values are input errors, not solver failures

@pytest.mark.parametrize("key,old,new", [
    ("cell.temperature", 'temperature = "25 degC"', 'temperature = "1 K"'),
    ("cell.temperature", 'temperature = "25 degC"', "temperature = 1e308"),
    ("cell.layers.cathode.thickness", 'thickness = "320 nm"', 'thickness = "1e-300 m"'),
    ("cell.layers.cathode.thickness", 'thickness = "320 nm"', 'thickness = "1e308 km"'),
    ("materials.LiPON.conductivity", "[mesh]", '[materials.LiPON]\nconductivity = 1e308\n[mesh]'),
    ("materials.LiCoO2_003.diffusivity", "[mesh]",
     '[materials.LiCoO2_003]\ndiffusivity = 1e308\n[mesh]'),
    ("materials.LiCoO2_003.diffusivity", "[mesh]",
     '[materials.LiCoO2_003]\ndiffusivity = "1e300 cm^2/s"\n[mesh]'),
    ("materials.Li.density", "[mesh]", '[materials.Li]\ndensity = 1e308\n[mesh]'),
    ("materials.LiCoO2_003.electronic_conductivity", "[mesh]",
     '[materials.LiCoO2_003]\nelectronic_conductivity = "1e308 S/cm"\n[mesh]'),
    ("cell.footprint_area", 'footprint_area = "1 cm^2"', 'footprint_area = "1e-300 m^2"'),
])
def test_class6_values_that_break_the_initial_state_are_input_errors(tmp_path, capsys, key,
                                                                       old, new):
    path = write_case(tmp_path, old, new)
    out = tmp_path / "out"
    assert_refused(*run_cli(["run", path, "--out", out], capsys)[::2], out, key)


@pytest.mark.parametrize("fail_at", [1, 2, 12])
def test_class6_every_exit_3_writes_its_files(tmp_path, capsys, monkeypatch, fail_at):
    failing_newton(monkeypatch, fail_at)
    out = tmp_path / "out"
    code, _, err = run_cli(["run", SHIPPED_CASE, "--out", out, "--quiet"], capsys)
    assert code == 3 and "injected failure" in err[-1]
    summary, rows = assert_complete(out)
    assert summary["steps"][-1]["end_reason"] == "solver_failed"
    assert (len(rows) > 0) == (fail_at > 2)


# ------------------------------------------------------------------------------------------
# class 7: signals

LONG_PROTOCOL = ('[[protocol]]\nrepeat = 400\nsteps = [\n'
                 '  { mode = "discharge", c_rate = 2, until_voltage = "3.0 V" },\n'
                 '  { mode = "charge", c_rate = 2, until_voltage = "4.2 V" },\n]\n')


def _long_case(tmp_path) -> Path:
    text = SHIPPED_CASE.read_text()
    head = text[:text.index(SHIPPED_PROTOCOL)]
    text = head.replace("cells_per_layer = 20", "cells_per_layer = 4") + LONG_PROTOCOL
    return write_case(tmp_path, text=text)


def _lines(stream, sink):
    for line in iter(stream.readline, ""):
        sink.put(line)
    sink.put(None)


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_class7_signals_end_a_run_with_one_line_and_its_results(tmp_path, signum):
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "solver.cli", "run", str(_long_case(tmp_path)),
                             "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    lines = queue.Queue()
    threading.Thread(target=_lines, args=(proc.stderr, lines), daemon=True).start()
    try:
        line = ""
        while line is not None and "step" not in line:   # a progress line: the run is going
            line = lines.get(timeout=120)
        assert line is not None
        proc.send_signal(signum)
        proc.wait(timeout=120)
    finally:
        proc.kill()
    rest = []
    while (line := lines.get(timeout=10)) is not None:
        rest.append(line)
    assert proc.returncode == 128 + signum
    final = [line for line in rest if line.strip() and not line.startswith("step")]
    assert len(final) == 1 and final[0].startswith("thinfilm: "), rest
    assert ("SIGINT" if signum == signal.SIGINT else "SIGTERM") in final[0]
    summary, rows = assert_complete(out)
    assert summary["steps"][-1]["end_reason"] == "interrupted"
    assert len(rows) > 0 and all(s["end_reason"] != "" for s in summary["steps"])


def test_class7_an_interrupted_sweep_keeps_its_runs_and_resumes(tmp_path, client):
    base = _long_case(tmp_path)
    base.write_text(base.read_text().replace("repeat = 400", "repeat = 3"))
    sweep = tmp_path / "sweep.toml"
    sweep.write_text('base = "case.toml"\n[grid]\n"protocol.0.steps.0.c_rate" = '
                     '[1, 1.5, 2, 2.5, 3, 3.5]\n')
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "solver.cli", "sweep", str(sweep), "--out",
                             str(out), "--workers", "1", "--quiet"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "results.csv").exists() and "ok" in _statuses(out):
                break                                # written while the sweep runs
            time.sleep(0.1)
        assert proc.poll() is None, "the sweep ended before it could be interrupted"
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=120)
    finally:
        proc.kill()
    assert proc.returncode == 143, err
    # one line: no worker's log of a scheduler gone (a traceback, at times)
    assert err.strip().splitlines() == [f"thinfilm: terminated (SIGTERM); finished runs are "
                                        f"kept in {out}/runs/ and {out}/results.csv lists "
                                        f"the rest as not_run: run the same command again "
                                        f"to resume"]
    statuses = _statuses(out)
    assert len(statuses) == 6 and "ok" in statuses and "not_run" in statuses
    finished = statuses.count("ok")
    again = solver.sweep(sweep, out, scheduler=client)          # the same sweep, resumed
    assert [row["status"] for row in again] == ["ok"] * 6 == _statuses(out)
    assert len(again.reused) == finished and len(again.ran) == 6 - finished


def _statuses(out: Path) -> list:
    with open(out / "results.csv", newline="") as handle:
        return [row["status"] for row in csv.DictReader(handle)]


# ------------------------------------------------------------------------------------------
# class 9: tables in PyBaMM's format, flat stretches

def _pybamm_style(path: Path, x, y):
    """Comment lines, no header row, rows x,y: the layout of PyBaMM's data files."""
    body = "".join(f"{float(a)!r},{float(b)!r}\n" for a, b in zip(x, y))
    path.write_text("# OCP for LiCoO2 (sampled from the library's table)\n"
                    "# stoichiometry , OCP [V]\n" + body)


def test_class9_headerless_tables_with_flat_stretches_are_read(tmp_path):
    ocv = load_material("LiCoO2").value("ocv")
    x = np.linspace(0.45, 0.999, 1000)
    y = np.round(ocv(x), 3)                  # rounding to 1 mV makes flat stretches
    assert np.any(np.diff(y) == 0)
    _pybamm_style(tmp_path / "ocv.csv", x, y)
    material = load_material("LiCoO2", {"ocv": "ocv.csv"}, tmp_path)
    table = material.value("ocv")
    assert table.columns == ("stoichiometry", "OCP [V]")
    assert table(x) == pytest.approx(y, abs=1e-12)           # flat stretches stay flat
    data = shipped_case_dict()
    data["mesh"]["cells_per_layer"] = 8
    reference = solver.run(case_from_dict(data, CASES)).summary["steps"][0]
    data["materials"] = {"LiCoO2_003": {"ocv": str(tmp_path / "ocv.csv")}}
    step = solver.run(case_from_dict(data, CASES)).summary["steps"][0]
    assert step["end_reason"] == "until_voltage"
    assert step["capacity_mAh_cm2"] == pytest.approx(reference["capacity_mAh_cm2"], rel=0.02)


def test_class9_an_exactly_flat_ocv_is_accepted(tmp_path):
    _pybamm_style(tmp_path / "flat.csv", [0.0, 0.5, 1.0], [3.9, 3.9, 3.9])
    data = shipped_case_dict()
    data["mesh"]["cells_per_layer"] = 4
    data["materials"] = {"LiCoO2_003": {"ocv": str(tmp_path / "flat.csv")}}
    data["protocol"] = [{"mode": "discharge", "c_rate": 1, "until_time": "10 min"}]
    result = solver.run(case_from_dict(data, CASES))
    assert result.summary["steps"][0]["end_reason"] == "until_time"
    rest = result.timeseries["voltage_V"]
    assert np.all(rest < 3.9) and np.all(rest > 3.8)          # the OCV less the overpotentials


@pytest.mark.parametrize("text,words", [
    ("0.1,4.0\n0.5,nan\n", "line 2"),
    ("0.1,4.0\n0.1,3.9\n", "strictly increasing"),
    ("0.5,4.0\n0.1,3.9\n", "strictly increasing"),
    ("0.5,4.0\n", "at least two rows"),
    ("# only comments\n", "at least two rows"),
    ("x,U\n0.1,3.5\n0.9,4.0\n", "does not rise"),
])
def test_class9_only_tables_that_cannot_be_interpolated_are_refused(tmp_path, text, words):
    (tmp_path / "bad.csv").write_text(text)
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", {"ocv": "bad.csv"}, tmp_path, key="materials.LiCoO2")
    assert info.value.key == "materials.LiCoO2.ocv" and words in info.value.expected


# ------------------------------------------------------------------------------------------
# class 10: one BLAS thread per process by default

def _threads_seen(monkeypatch):
    from threadpoolctl import threadpool_info

    from solver import api

    seen = []
    real = api.run

    def run(*args, **kwargs):      # the largest thread count of the loaded BLAS/OpenMP pools
        seen.append(max(pool["num_threads"] for pool in threadpool_info()))
        return real(*args, **kwargs)

    monkeypatch.setattr(api, "run", run)
    return seen


def test_class10_runs_use_one_blas_thread_unless_told(tmp_path, capsys, monkeypatch):
    seen = _threads_seen(monkeypatch)
    case = write_case(tmp_path, "cells_per_layer = 20", "cells_per_layer = 4")
    assert cli.main(["run", str(case), "--out", str(tmp_path / "a"), "--quiet"]) == 0
    assert seen[-1] == 1
    assert cli.main(["run", str(case), "--out", str(tmp_path / "b"), "--quiet",
                     "--threads", "2"]) == 0
    assert seen[-1] == 2
    monkeypatch.setenv("THINFILM_THREADS", "2")
    assert cli.main(["run", str(case), "--out", str(tmp_path / "c"), "--quiet"]) == 0
    assert seen[-1] == 2
    monkeypatch.setenv("THINFILM_THREADS", "many")
    code, _, err = run_cli(["run", case, "--out", tmp_path / "d"], capsys)
    assert code == 2 and "THINFILM_THREADS" in err[0]


def test_class10_sweep_and_validation_workers_use_the_thread_count(monkeypatch):
    from solver import validation
    from solver.sweep import run_case

    seen = _threads_seen(monkeypatch)
    data = shipped_case_dict()
    data["mesh"]["cells_per_layer"] = 4
    assert run_case(case_from_dict(data, CASES))["status"] == "ok"
    assert seen[-1] == 1
    assert run_case(case_from_dict(data, CASES), threads=2)["status"] == "ok"
    assert seen[-1] == 2
    out = validation.execute_run(case_from_dict(data, CASES), "s", "r", threads=1)
    assert out["status"] == "ok" and seen[-1] == 1


# ------------------------------------------------------------------------------------------
# class 11: small things users meet

@pytest.mark.parametrize("umask,mode", [(0o022, 0o644), (0o002, 0o664), (0o077, 0o600)])
def test_class11_result_files_respect_the_umask(tmp_path, umask, mode):
    old = os.umask(umask)
    try:
        path = write_atomic(tmp_path / "f.txt", "text")
    finally:
        os.umask(old)
    assert path.stat().st_mode & 0o777 == mode
    assert [p.name for p in tmp_path.iterdir()] == ["f.txt"]       # no temporary left


def test_class11_writing_results_leaves_matplotlib_alone(tmp_path):
    import matplotlib
    import matplotlib.pyplot as plt

    before = matplotlib.get_backend()
    figures = plt.get_fignums()
    data = shipped_case_dict()
    data["mesh"]["cells_per_layer"] = 4
    written = solver.run(case_from_dict(data, CASES)).write(tmp_path / "out")
    # the shipped protocol ends with an impedance step: its table and two figures
    assert {p.name for p in written} == RESULT_FILES | {"impedance.csv", "nyquist.png",
                                                         "bode.png"}
    assert matplotlib.get_backend() == before and plt.get_fignums() == figures


def test_class11_override_of_a_material_the_cell_does_not_use_is_refused(tmp_path, capsys):
    path = write_case(tmp_path, "[mesh]", '[materials.LiMn2O4]\ndiffusivity = "1e-12 cm^2/s"'
                                          '\n\n[mesh]')
    out = tmp_path / "out"
    code, _, err = run_cli(["run", path, "--out", out], capsys)
    assert_refused(code, err, out, "materials.LiMn2O4")
    assert "Li, LiPON, LiCoO2" in err[0]


def test_class11_progress_lines_count_steps_from_0(capsys):
    case = load_case(SHIPPED_CASE)
    progress = cli._Progress(case, quiet=False, delay=0.0)
    progress(0, case.protocol[0], 5.0, 3.9, 0.01)
    progress.close()
    lines = capsys.readouterr().err.splitlines()
    assert lines and all(line.startswith("step 0 (0..1) discharge:") for line in lines)


# ------------------------------------------------------------------------------------------
# class 14: table paths must not leak what they point at

@pytest.mark.parametrize("target", ["/proc/self/environ", "/etc/passwd", "binary", "long"])
def test_class14_table_errors_never_show_file_content(tmp_path, monkeypatch, target):
    secret = "THINFILM_SECRET_8f3a"
    monkeypatch.setenv("TRUST_TEST_TOKEN", secret)
    if target == "binary":
        (tmp_path / "binary").write_bytes(os.urandom(300) + secret.encode())
    elif target == "long":
        (tmp_path / "long").write_text(secret + "," + "x" * 5000 + "\n1,2\n")
    source = Path(target) if target.startswith("/") else tmp_path / target
    if not source.exists():
        pytest.skip(f"{source} is not on this system")
    (tmp_path / "table.csv").symlink_to(source)
    data = shipped_case_dict()
    data["materials"] = {"LiCoO2_003": {"ocv": "table.csv"}}
    with pytest.raises(InputError) as info:
        case_from_dict(data, tmp_path)
    message = str(info.value)
    assert info.value.key == "materials.LiCoO2_003.ocv"
    assert secret not in message and "root:" not in message
    assert len(message) < 400 and "\n" not in message


def test_class14_case_and_sweep_files_that_are_not_toml_are_not_shown(tmp_path, monkeypatch):
    from solver.sweep import load_sweep

    secret = "THINFILM_SECRET_5d1c"
    monkeypatch.setenv("TRUST_TEST_TOKEN", secret)
    (tmp_path / "env.toml").symlink_to("/proc/self/environ")
    (tmp_path / "notes.toml").write_text(f"[cell]\nname = '{secret}\n")   # broken TOML
    for path in (tmp_path / "env.toml", tmp_path / "notes.toml"):
        with pytest.raises(InputError) as info:
            load_case(path)
        assert secret not in str(info.value) and "valid TOML" in str(info.value)
    with pytest.raises(InputError) as info:
        load_sweep({"base": str(tmp_path / "notes.toml"), "grid": {"protocol.0.c_rate": [1]}})
    assert info.value.key == "base" and secret not in str(info.value)


def test_class14_echoed_values_are_capped_in_every_message():
    from solver.errors import MAX_SHOWN

    error = InputError("cell.name", "x" * 10_000 + "\nsecond line", "a name")
    text = str(error)
    assert len(text) < 2 * MAX_SHOWN + 50 and "\n" not in text
    data = shipped_case_dict()
    data["cell"]["layers"][0]["material"] = "Li" * 5000
    with pytest.raises(InputError) as info:
        case_from_dict(data, CASES)
    assert len(str(info.value)) < 1000


# ------------------------------------------------------------------------------------------
# class 15: complete result sets

def test_class15_summary_json_is_written_last(tmp_path, monkeypatch):
    from solver import plots

    data = shipped_case_dict()
    data["mesh"]["cells_per_layer"] = 4
    result = solver.run(case_from_dict(data, CASES))
    out = tmp_path / "out"
    result.write(out)
    assert (out / "summary.json").exists()

    def killed(_):
        raise KeyboardInterrupt       # the process dies while drawing

    monkeypatch.setattr(plots, "voltage_figure_png", killed)
    with pytest.raises(KeyboardInterrupt):
        result.write(out)
    # the earlier run's summary.json is gone: no complete-looking mixed set is left
    assert not (out / "summary.json").exists()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]


def test_class4_a_bug_is_one_line_and_exit_1_unless_debugging(monkeypatch, capsys):
    """A programming error reaches the user as one line (THINFILM_DEBUG=1 re-raises it)."""
    from solver import cli as command

    def broken(args):
        raise NameError("name 'np' is not defined")

    monkeypatch.setitem(command.OTHER_COMMANDS, "materials", broken)
    monkeypatch.delenv("THINFILM_DEBUG", raising=False)
    assert command.main(["materials"]) == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "internal error" in err[0] and "NameError" in err[0]
    monkeypatch.setenv("THINFILM_DEBUG", "1")
    with pytest.raises(NameError):
        command.main(["materials"])

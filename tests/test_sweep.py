"""Parameter sweeps: key paths, the product, Dask runs, results.csv, resume, bad input."""

import copy
import csv
import json
import os
import shutil
from pathlib import Path

import pytest

import solver
from solver import cli
from solver.case import case_from_dict
from solver.errors import InputError
from solver.sweep import (
    RESULT_COLUMNS,
    SweepTable,
    load_sweep,
    resolve_key,
    result_row,
    results_csv,
)
from tests.conftest import SHIPPED_CASE, shipped_case_dict

distributed = pytest.importorskip("distributed")

# a coarse 2 x 2 sweep of the shipped planar cell: each run takes a few hundredths of a second
GRID = {"materials.LiPON.conductivity": ["1e-7 S/cm", "1e-6 S/cm"],
        "protocol.0.c_rate": [1, 5],
        "mesh.cells_per_layer": [4]}


def _sweep_file(folder: Path, grid=GRID, base=None) -> Path:
    """A sweep file in `folder` whose base is the shipped case, by a relative path."""
    base = base or os.path.relpath(SHIPPED_CASE, folder)
    lines = [f'base = "{base}"', "[grid]"]
    lines += [f'"{key}" = {json.dumps(values)}' for key, values in grid.items()]
    path = folder / "sweep.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def _direct(settings: dict) -> dict:
    """summary of solver.run on the shipped case with `settings` applied by hand."""
    data = shipped_case_dict()
    data.setdefault("materials", {}).setdefault("LiPON", {})["conductivity"] = \
        settings["materials.LiPON.conductivity"]
    data["protocol"][0]["c_rate"] = settings["protocol.0.c_rate"]
    data["mesh"]["cells_per_layer"] = settings["mesh.cells_per_layer"]
    return solver.run(case_from_dict(data, SHIPPED_CASE.parent, source="direct")).summary


def _mtimes(out: Path) -> dict:
    return {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}




# ------------------------------------------------------------------------------------------
# key paths and the sweep file

def test_key_paths_address_the_case():
    base = shipped_case_dict()
    assert resolve_key(base, "materials.LiPON.conductivity") == ("materials", "LiPON",
                                                                 "conductivity")
    assert resolve_key(base, "cell.layers.cathode.thickness") == ("cell", "layers", 2,
                                                                  "thickness")
    assert resolve_key(base, "cell.layers.0.thickness") == ("cell", "layers", 0, "thickness")
    assert resolve_key(base, "protocol.0.c_rate") == ("protocol", 0, "c_rate")
    assert resolve_key(base, "protocol.0.until_time") == ("protocol", 0, "until_time")
    assert resolve_key(base, "cell.temperature") == ("cell", "temperature")
    assert resolve_key(base, "cell.nominal_capacity") == ("cell", "nominal_capacity")
    assert resolve_key(base, "mesh.cells_per_layer") == ("mesh", "cells_per_layer")
    assert resolve_key(base, "solver.max_step") == ("solver", "max_step")
    gitt = copy.deepcopy(base)
    gitt["protocol"] = [{"repeat": 3, "steps": [{"mode": "discharge", "c_rate": 1,
                                                 "until_time": 60}]}]
    assert resolve_key(gitt, "protocol.0.steps.0.c_rate") == ("protocol", 0, "steps", 0,
                                                              "c_rate")
    assert resolve_key(gitt, "protocol.0.repeat") == ("protocol", 0, "repeat")


def test_impedance_step_keys_can_be_swept(tmp_path):
    """frequencies, points_per_decade and field_frequencies are keys of an impedance step:
    a sweep over the spectrum's band was refused as an unknown key."""
    base = shipped_case_dict()
    assert base["protocol"][1]["mode"] == "impedance"
    assert resolve_key(base, "protocol.1.points_per_decade") == ("protocol", 1,
                                                                 "points_per_decade")
    grid = {"protocol.1.frequencies": [["1 Hz", "1 kHz"], ["10 mHz", "100 Hz"]],
            "protocol.1.field_frequencies": [["1 Hz"]]}
    spec = load_sweep(_sweep_file(tmp_path, grid))
    steps = [case_from_dict(spec.case_dict(settings), spec.base_dir).protocol[1]
             for settings in spec.combinations()]
    assert [step.frequencies for step in steps] == [(1.0, 1000.0), (0.01, 100.0)]
    assert [step.field_frequencies for step in steps] == [(1.0,), (1.0,)]


@pytest.mark.parametrize("key, words", [
    ("cell.temprature", "did you mean 'temperature'"),
    ("cell.layers.separator.thickness", "anode, electrolyte, cathode"),
    ("cell.layers.cathode.thicknes", "did you mean 'thickness'"),
    ("cell.layers.5.thickness", "numbered from 0 to 2"),
    ("protocol.2.c_rate", "numbered from 0 to 1"),
    ("protocol.first.c_rate", "protocol step index"),
    ("protocol.0.c_rat", "did you mean 'c_rate'"),
    ("materials.LiPONX.conductivity", "did you mean 'LiPON'"),
    ("materials.LiPON.conductivty", "did you mean 'conductivity'"),
    ("materials.LiPON.diffusivity", "a key of materials.LiPON"),   # not an electrolyte key
    ("cell.temperature.unit", "cell.temperature is a value"),
    ("geometry.width", "a key of the case"),
    ("cell..thickness", "a dotted case key"),
])
def test_unknown_key_paths_are_named(key, words):
    with pytest.raises(InputError) as info:
        resolve_key(shipped_case_dict(), key, [1])
    assert info.value.key == key
    assert words in str(info.value)


@pytest.mark.parametrize("sweep, key, words", [
    ({"grid": {"protocol.0.c_rate": [1]}}, "base", "required"),
    ({"base": "nowhere.toml", "grid": {"protocol.0.c_rate": [1]}}, "base", "no file"),
    ({"base": "BASE"}, "grid", "required"),
    ({"base": "BASE", "grid": {}}, "grid", "non-empty"),
    ({"base": "BASE", "grid": {"protocol.0.c_rate": []}}, "protocol.0.c_rate", "non-empty list"),
    ({"base": "BASE", "grid": {"protocol.0.c_rate": 2}}, "protocol.0.c_rate", "non-empty list"),
    ({"base": "BASE", "grid": {"protocol.0.c_rate": [1, 2, 1]}}, "protocol.0.c_rate",
     "distinct"),
    ({"base": "BASE", "grid": {"cell.layers.cathode.thickness": ["1 um"],
                               "cell.layers.2.thickness": ["2 um"]}},
     "cell.layers.2.thickness", "overlap"),
    ({"base": "BASE", "grid": {"protocol.3.c_rate": [1]}}, "protocol.3.c_rate", "has 2"),
    ({"base": "BASE", "gird": {}}, "gird", "did you mean 'grid'"),
])
def test_bad_sweep_files_name_the_key(tmp_path, sweep, key, words):
    if sweep.get("base") == "BASE":
        sweep = {**sweep, "base": str(SHIPPED_CASE)}
    with pytest.raises(InputError) as info:
        load_sweep(sweep, base_dir=tmp_path)
    assert info.value.key == key
    assert words in str(info.value)


def test_bad_sweep_file_exits_2_before_anything_runs(tmp_path, capsys):
    path = _sweep_file(tmp_path, {"cell.layers.separator.thickness": ["1 um"]})
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "cell.layers.separator.thickness" in err and "Traceback" not in err
    assert not out.exists()


def test_product_size_order_and_cases(tmp_path):
    grid = {"materials.LiPON.conductivity": ["1e-6 S/cm", "3e-6 S/cm", "1e-5 S/cm"],
            "cell.layers.cathode.thickness": ["0.5 um", "1 um"],
            "protocol.0.c_rate": [0.5, 1, 2, 5]}
    spec = load_sweep(_sweep_file(tmp_path, grid))
    combos = list(spec.combinations())
    assert len(combos) == len(spec) == 24
    assert combos[0] == {"materials.LiPON.conductivity": "1e-6 S/cm",
                         "cell.layers.cathode.thickness": "0.5 um", "protocol.0.c_rate": 0.5}
    assert combos[1]["protocol.0.c_rate"] == 1          # the last key varies fastest
    assert len({tuple(c.values()) for c in combos}) == 24
    raw = spec.case_dict(combos[-1])
    assert raw["materials"]["LiPON"]["conductivity"] == "1e-5 S/cm"   # table created
    assert raw["cell"]["layers"][2]["thickness"] == "1 um"
    assert raw["protocol"][0]["c_rate"] == 5
    assert "materials" not in spec.base_raw                # the base is left alone
    case = case_from_dict(raw, spec.base_dir)
    assert case.layer("cathode").thickness == pytest.approx(1e-6)


def test_toml_nesting_gives_the_same_keys(tmp_path):
    path = tmp_path / "nested.toml"
    path.write_text(f'base = "{SHIPPED_CASE}"\n[grid]\nprotocol.0.c_rate = [1, 2]\n'
                    f'[grid.materials.LiPON]\nconductivity = ["1e-6 S/cm"]\n')
    spec = load_sweep(path)
    assert spec.keys == ["protocol.0.c_rate", "materials.LiPON.conductivity"]


# ------------------------------------------------------------------------------------------
# running: a LocalCluster of two worker processes, through the command line

def test_sweep_command_runs_the_product_on_a_local_cluster(tmp_path, capsys):
    path = _sweep_file(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["sweep", str(path), "--out", str(out), "--workers", "2"]) == 0
    assert "4 cases: 4 run now, 0 reused" in capsys.readouterr().out
    with open(out / "results.csv", newline="") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    assert reader.fieldnames == list(GRID) + list(RESULT_COLUMNS)
    assert len(rows) == 4
    assert [(r["materials.LiPON.conductivity"], r["protocol.0.c_rate"]) for r in rows] == [
        ("1e-7 S/cm", "1"), ("1e-7 S/cm", "5"), ("1e-6 S/cm", "1"), ("1e-6 S/cm", "5")]
    for row in rows:
        settings = {"materials.LiPON.conductivity": row["materials.LiPON.conductivity"],
                    "protocol.0.c_rate": float(row["protocol.0.c_rate"]),
                    "mesh.cells_per_layer": int(row["mesh.cells_per_layer"])}
        step = _direct(settings)["steps"][0]
        for name in ("capacity_mAh_cm2", "energy_mWh_cm2", "mean_voltage_V"):
            assert float(row[name]) == pytest.approx(step[name], rel=1e-12), name
        assert row["end_reason"] == step["end_reason"] == "until_voltage"
        assert row["status"] == "ok" and row["message"] == "" and row["warnings"] == ""
        assert float(row["wall_time_s"]) > 0
        folder = out / "runs" / row["run_id"]
        assert {p.name for p in folder.iterdir()} == {"summary.json", "timeseries.csv",
                                                     "case.json", "impedance.csv"}  # no plots
        spectrum = (folder / "impedance.csv").read_text().splitlines()   # the impedance step's
        assert spectrum[0] == "step,frequency_Hz,z_real_ohm_cm2,z_imag_ohm_cm2"
        assert len(spectrum) - 1 == _direct(settings)["steps"][1]["n_frequencies"]
        recorded = json.loads((folder / "summary.json").read_text())["sweep"]
        assert recorded["run_id"] == row["run_id"]
        assert recorded["parameters"]["materials.LiPON.conductivity"] == \
            row["materials.LiPON.conductivity"]
    # the low conductivity costs voltage at 5C
    assert float(rows[1]["mean_voltage_V"]) < float(rows[3]["mean_voltage_V"]) - 0.05


# ------------------------------------------------------------------------------------------
# resume, invalid combinations (on the shared in-process cluster)

def test_resume_runs_only_what_is_missing(tmp_path, client):
    path = _sweep_file(tmp_path)
    out = tmp_path / "out"
    first = solver.sweep(path, out, scheduler=client)
    assert isinstance(first, SweepTable) and len(first) == 4
    assert len(first.ran) == 4 and first.reused == []
    before = _mtimes(out)
    assert len(before) == 4

    again = solver.sweep(path, out, scheduler=client)
    assert again.ran == [] and len(again.reused) == 4           # nothing new ran
    assert _mtimes(out) == before
    assert again == first                                        # the same table

    victim = first[2]["run_id"]
    shutil.rmtree(out / "runs" / victim)
    third = solver.sweep(path, out, scheduler=client)
    assert third.ran == [victim]
    after = _mtimes(out)
    assert {k: v for k, v in after.items() if k != victim} == \
        {k: v for k, v in before.items() if k != victim}
    assert third[2]["capacity_mAh_cm2"] == pytest.approx(first[2]["capacity_mAh_cm2"],
                                                         rel=1e-12)

    # a run folder without summary.json (interrupted while writing) is run again
    (out / "runs" / victim / "summary.json").unlink()
    assert solver.sweep(path, out, scheduler=client).ran == [victim]


@pytest.mark.parametrize("key, values, shown", [
    ("cell.temperature", ["25 degC", "298.15 K"], "'25 degC' and '298.15 K'"),
    ("cell.temperature", [298.15, "25 degC"], "298.15 and '25 degC'"),
    ("cell.layers.cathode.thickness", ["1 um", "2 um", "1000 nm"], "'1 um' and '1000 nm'"),
    ("protocol.0.until_time", ["1 h", "60 min"], "'1 h' and '60 min'"),
    ("materials.LiPON.conductivity", ["3e-6 S/cm", "3e-4 S/m"], "'3e-6 S/cm' and '3e-4 S/m'"),
    ("protocol.0.c_rate", [2, 2.0], "2 and 2.0"),
    ("protocol.0.current", ["1 C", "1C"], "'1 C' and '1C'"),
    ("protocol.0.current", ["C/2", "0.5 C"], "'C/2' and '0.5 C'"),
    ("protocol.1.frequencies", [["1 mHz", "1 MHz"], ["0.001 Hz", "1e6 Hz"]],
     "['1 mHz', '1 MHz'] and ['0.001 Hz', '1e6 Hz']"),
])
def test_values_that_mean_the_same_are_one_value(key, values, shown):
    """'25 degC' and '298.15 K' in one list ran the same case twice."""
    with pytest.raises(InputError) as info:
        load_sweep({"base": str(SHIPPED_CASE), "grid": {key: values}})
    assert info.value.key == key
    assert str(info.value).endswith(f"expected a list of distinct values ({shown} are the "
                                    f"same value)")


def test_a_long_list_of_values_is_checked_in_linear_time():
    """Each value had been compared with every other: 100 000 values took minutes."""
    import time

    from solver.sweep import MAX_COMBINATIONS

    values = [0.001 * (k + 1) for k in range(MAX_COMBINATIONS)]
    started = time.perf_counter()
    spec = load_sweep({"base": str(SHIPPED_CASE), "grid": {"protocol.0.c_rate": values}})
    assert len(spec) == MAX_COMBINATIONS and time.perf_counter() - started < 30


@pytest.mark.parametrize("key, values", [
    ("protocol.0.current", ["1C", 1]),            # a C-rate, and 1 A
    ("cell.nominal_capacity", ["1 C", "1 mAh"]),   # coulombs here: no C-rate
    ("cell.layers.cathode.thickness", ["1 um", "1.000001 um"]),
])
def test_values_that_differ_stay_apart(key, values):
    spec = load_sweep({"base": str(SHIPPED_CASE), "grid": {key: values}})
    first, second = (spec.identity(settings) for settings in spec.combinations())
    assert first != second


def test_resume_knows_a_value_by_what_it_means(tmp_path, client):
    """A sweep edited from '25 degC' to '298.15 K' ran its finished runs again."""
    from solver.sweep import case_hash

    grid = {"cell.temperature": ["25 degC"], "protocol.0.c_rate": [5],
            "mesh.cells_per_layer": [4]}
    out = tmp_path / "out"
    first = solver.sweep(_sweep_file(tmp_path, grid), out, scheduler=client)
    grid["cell.temperature"] = ["298.15 K", "30 degC"]
    second = solver.sweep(_sweep_file(tmp_path, grid), out, scheduler=client)
    assert second.reused == [first[0]["run_id"]] and len(second.ran) == 1
    assert [row["cell.temperature"] for row in second] == ["298.15 K", "30 degC"]
    assert second[0]["capacity_mAh_cm2"] == first[0]["capacity_mAh_cm2"]

    # values written as plain numbers keep the run ids they had: the hash of the case as is
    grid = {"protocol.0.c_rate": [1, 5], "mesh.cells_per_layer": [4]}
    spec = load_sweep(_sweep_file(tmp_path, grid))
    table = solver.sweep(_sweep_file(tmp_path, grid), out, scheduler=client)
    assert [row["run_id"] for row in table] == [
        case_hash(spec.case_dict(settings), spec.base_dir)[:16]
        for settings in spec.combinations()]


def test_plots_asked_for_on_resume_are_drawn(tmp_path, client):
    """--plots on a sweep that ran without it: every run had been reused without a figure."""
    path = _sweep_file(tmp_path)
    out = tmp_path / "out"
    first = solver.sweep(path, out, scheduler=client)
    assert not list((out / "runs").glob("*/voltage.png"))
    drawn = solver.sweep(path, out, scheduler=client, plots=True)
    assert sorted(drawn.ran) == sorted(first.ran) and drawn.reused == []
    assert len(list((out / "runs").glob("*/voltage.png"))) == 4
    again = solver.sweep(path, out, scheduler=client, plots=True)
    assert again.ran == [] and len(again.reused) == 4
    assert solver.sweep(path, out, scheduler=client).ran == []      # plots or not


def test_changed_sweep_never_reuses_other_parameters(tmp_path, client):
    out = tmp_path / "out"
    first = solver.sweep(_sweep_file(tmp_path), out, scheduler=client)
    grid = dict(GRID, **{"protocol.0.c_rate": [1, 2]})          # 5C replaced by 2C
    second = solver.sweep(_sweep_file(tmp_path, grid), out, scheduler=client)
    assert len(second.ran) == 2 and len(second.reused) == 2
    assert [r["run_id"] for r in second][0::2] == [r["run_id"] for r in first][0::2]
    assert [r["protocol.0.c_rate"] for r in second] == [1, 2, 1, 2]
    for row in second:
        recorded = json.loads((out / "runs" / row["run_id"] / "summary.json").read_text())
        assert recorded["sweep"]["parameters"]["protocol.0.c_rate"] == row["protocol.0.c_rate"]

    # a run folder whose summary records another case is not taken for this one
    folder = out / "runs" / second[0]["run_id"]
    summary = json.loads((folder / "summary.json").read_text())
    summary["sweep"]["case_sha256"] = "0" * 64
    (folder / "summary.json").write_text(json.dumps(summary))
    third = solver.sweep(_sweep_file(tmp_path, grid), out, scheduler=client)
    assert third.ran == [second[0]["run_id"]]


def test_invalid_combination_is_a_row_and_the_rest_run(tmp_path, client, capsys):
    lines = []
    grid = {"cell.layers.cathode.thickness": ["-1 um", "320 nm"], "mesh.cells_per_layer": [4]}
    table = solver.sweep(_sweep_file(tmp_path, grid), tmp_path / "out", scheduler=client,
                         echo=lines.append)
    assert [r["status"] for r in table] == ["invalid_input", "ok"]
    bad = table[0]
    assert bad["end_reason"] == "invalid_input" and bad["run_id"] is None
    assert "cell.layers.cathode.thickness" in bad["message"] and "greater than zero" in \
        bad["message"]
    assert bad["capacity_mAh_cm2"] is None
    assert table.invalid == [0] and len(table.ran) == 1
    assert len(lines) == 1 and "case 0" in lines[0]              # told before the runs
    text = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert text[1].startswith("-1 um,4,,,,invalid_input,")
    assert len(list((tmp_path / "out" / "runs").iterdir())) == 1

    # the command: the valid run is done already (no cluster starts); exit status 3
    capsys.readouterr()
    assert cli.main(["sweep", str(tmp_path / "sweep.toml"), "--out",
                     str(tmp_path / "out")]) == 3
    captured = capsys.readouterr()
    assert "case 0 (cell.layers.cathode.thickness = '-1 um', mesh.cells_per_layer = 4) is " \
        "invalid and will not run" in captured.err
    assert "2 cases: 0 run now, 1 reused, 1 not ok" in captured.out


def test_run_warnings_reach_results_csv_and_the_terminal(tmp_path, client, capsys):
    """A run's warnings and step messages (what `thinfilm run` prints) are its row's
    `warnings` and go to stderr, reused runs' too; --quiet counts them in one line."""
    tomli_w = pytest.importorskip("tomli_w")
    lto = {"name": "anode", "material": "Li4Ti5O12", "thickness": "2 um",
           "initial_stoichiometry": 0.95}      # cannot deliver 500C on the unrefined mesh
    grid = {"cell.layers.0": [lto, {"name": "anode", "material": "Li", "thickness": "3 um"}],
            "protocol.0": [{"mode": "discharge", "c_rate": 500, "until_time": "1 s"}],
            "mesh.refine": [False]}
    path = tmp_path / "sweep.toml"
    path.write_bytes(tomli_w.dumps({"base": str(SHIPPED_CASE), "grid": grid}).encode())
    out = tmp_path / "out"
    table = solver.sweep(path, out, scheduler=client)
    summary = json.loads((out / "runs" / table[0]["run_id"] / "summary.json").read_text())
    notes = table[0]["warnings"]
    assert notes[0] == f"step 0: {summary['steps'][0]['message']}"
    assert notes[1:] == summary["warnings"] and notes[-1].startswith("UNDER-RESOLVED")
    assert table[1]["warnings"] is None
    with open(out / "results.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert json.loads(rows[0]["warnings"]) == notes and rows[1]["warnings"] == ""

    capsys.readouterr()
    assert cli.main(["sweep", str(path), "--out", str(out),
                     "--scheduler", client.scheduler.address]) == 0
    err = capsys.readouterr().err.splitlines()
    assert [line for line in err if "UNDER-RESOLVED" in line] == [
        f"thinfilm: cell.layers.0={table[0]['cell.layers.0']}, protocol.0="
        f"{table[0]['protocol.0']}, mesh.refine=False: {notes[-1]}"]
    assert cli.main(["sweep", str(path), "--out", str(out), "--quiet",
                     "--scheduler", client.scheduler.address]) == 0
    assert capsys.readouterr().err.splitlines() == [
        f"thinfilm: warning: 1 of 2 runs have warnings (the warnings column of "
        f"{out}/results.csv)"]


def test_no_valid_combination_is_an_input_error_up_front(tmp_path):
    grid = {"cell.layers.cathode.thickness": ["-1 um", "-2 um"]}
    lines = []
    with pytest.raises(InputError) as info:
        solver.sweep(_sweep_file(tmp_path, grid), tmp_path / "out", echo=lines.append)
    assert info.value.key == "cell.layers.cathode.thickness"
    assert not (tmp_path / "out").exists()
    assert lines == []          # the refusal is its one line, not one per combination too


def test_every_run_refused_is_an_input_error(tmp_path, client):
    """Cutoffs above the cell's open-circuit voltage are valid cases that every run refuses:
    the rows were all invalid_input and the sweep exited 3."""
    grid = {"protocol.0.until_voltage": ["4.5 V", "4.4 V"]}
    with pytest.raises(InputError) as info:
        solver.sweep(_sweep_file(tmp_path, grid), tmp_path / "out", scheduler=client)
    assert info.value.key == "protocol.0.until_voltage" and info.value.value == "4.5 V"
    assert "every run was refused; the first is protocol.0.until_voltage = '4.5 V'" in \
        str(info.value)
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()[1:]
    assert len(rows) == 2 and all(",invalid_input," in row for row in rows)


# ------------------------------------------------------------------------------------------
# rows of results.csv

def _summary(steps):
    return {"wall_time_s": 0.5, "steps": steps}


def _step(mode, end_reason="until_voltage", capacity=0.02):
    return {"mode": mode, "end_reason": end_reason, "duration_s": 10.0,
            "capacity_mAh_cm2": capacity, "energy_mWh_cm2": 0.08, "mean_voltage_V": 3.9}


def test_rows_report_the_first_discharge_step():
    steps = [_step("charge", capacity=0.5), _step("discharge", capacity=0.01),
             _step("discharge", capacity=0.02)]
    row = result_row({"k": 1}, {"status": "ok", "summary": _summary(steps)}, "abc")
    assert row["capacity_mAh_cm2"] == 0.01 and row["end_reason"] == "until_voltage"
    assert row["wall_time_s"] == 0.5 and row["run_id"] == "abc" and row["k"] == 1

    # no discharge step: the numbers stay empty
    row = result_row({"k": 1}, {"status": "ok", "summary": _summary([_step("charge")])}, "x")
    assert row["end_reason"] == "no_discharge_step" and row["capacity_mAh_cm2"] is None

    # a solver failure before any discharge: the failed step, and the message
    failed = {"status": "solver_failed", "message": "step 0: Newton diverged",
              "summary": _summary([_step("charge", "solver_failed", 0.003)])}
    row = result_row({"k": 1}, failed, "y")
    assert row["end_reason"] == "solver_failed" and row["capacity_mAh_cm2"] == 0.003
    assert row["message"] == "step 0: Newton diverged" and row["status"] == "solver_failed"

    # a solver failure raised before any step
    row = result_row({"k": 1}, {"status": "solver_failed", "message": "m", "summary": None})
    assert row["end_reason"] == "solver_failed" and row["message"] == "m"

    # not run (interrupted) and invalid
    assert result_row({"k": 1}, None, "z")["end_reason"] == "not_run"
    assert result_row({"k": 1}, None, None, "bad")["end_reason"] == "invalid_input"
    # refused by the run (a cutoff above the starting voltage): no folder, so no run id
    row = result_row({"k": 1}, {"status": "invalid_input", "message": "m", "summary": None},
                     "abc")
    assert row["end_reason"] == "invalid_input" and row["run_id"] is None


def test_results_csv_cells():
    rows = [result_row({"a.b": "1 um", "c": [0.1, 0.9]}, None, None, "bad")]
    table = SweepTable(rows, ["a.b", "c"], ["a.b", "c"] + list(RESULT_COLUMNS), Path("."),
                       [], [], [0])
    lines = results_csv(table).splitlines()
    assert lines[0].split(",")[:3] == ["a.b", "c", "capacity_mAh_cm2"]
    assert lines[1].startswith('1 um,"[0.1, 0.9]",,,,invalid_input,')

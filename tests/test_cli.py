"""The command line: results on success, one clear line and no files on bad input."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from solver import cli
from tests.conftest import SHIPPED_CASE

RESULT_FILES = {"timeseries.csv", "summary.json", "voltage.png", "impedance.csv", "nyquist.png",
                "bode.png"}


def test_run_writes_complete_results(tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["run", str(SHIPPED_CASE), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == RESULT_FILES
    summary = json.loads((out / "summary.json").read_text())
    for key in ("case", "architecture", "footprint_area_cm2", "aef", "n_cells", "n_unknowns",
                "wall_time_s", "steps"):
        assert key in summary
    assert summary["architecture"] == "planar" and summary["aef"] == 1.0
    assert summary["footprint_area_cm2"] == pytest.approx(1.0)
    step = summary["steps"][0]
    assert set(step) >= {"mode", "end_reason", "duration_s", "capacity_mAh_cm2",
                         "energy_mWh_cm2", "mean_voltage_V"}
    assert step["end_reason"] == "until_voltage"
    header = (out / "timeseries.csv").read_text().splitlines()[0].split(",")
    assert header[:6] == ["time_s", "step", "current_A", "voltage_V", "capacity_mAh_cm2",
                          "energy_mWh_cm2"]
    assert (out / "voltage.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "until_voltage" in capsys.readouterr().out


def _write_case(tmp_path, text):
    path = tmp_path / "case.toml"
    path.write_text(text)
    return path


def _shipped_text():
    return SHIPPED_CASE.read_text()


BAD_CASES = {
    "wrong dimension": ('thickness = "320 nm"', 'thickness = "320 mV"',
                        "cell.layers.cathode.thickness"),
    "negative size": ('thickness = "1.5 um"', 'thickness = "-1.5 um"',
                      "cell.layers.electrolyte.thickness"),
    "unknown key": ('mode = "discharge"\nc_rate = 1', 'mode = "discharge"\nc_rate = 1\nuntil_volts = 3',
                    "protocol.0"),
    "unknown material": ('material = "LiPON"', 'material = "LiPONX"',
                         "cell.layers.electrolyte.material"),
    "stoichiometry": ("initial_stoichiometry = 0.5", "initial_stoichiometry = 1.5",
                      "cell.layers.cathode.initial_stoichiometry"),
    "nan": ('footprint_area = "1 cm^2"', "footprint_area = nan", "cell.footprint_area"),
    "below absolute zero": ('temperature = "25 degC"', 'temperature = "-300 degC"',
                            "cell.temperature"),
    "toml syntax": ('name = "Li | LiPON', 'name = "Li | LiPON\n', "case.toml"),
    "missing ocv table": ("[mesh]", '[materials.LiCoO2_003]\nocv = "no_such_file.csv"\n\n[mesh]',
                          "materials.LiCoO2_003.ocv"),
}


@pytest.mark.parametrize("name", list(BAD_CASES))
def test_bad_input_exits_2_with_one_line_and_no_results(tmp_path, name):
    old, new, key = BAD_CASES[name]
    text = _shipped_text()
    assert old in text
    path = _write_case(tmp_path, text.replace(old, new, 1))
    out = tmp_path / "out"
    proc = subprocess.run([sys.executable, "-m", "solver.cli", "run", str(path), "--out", str(out)],
                          capture_output=True, text=True)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and key in lines[0], proc.stderr
    assert not out.exists()


def test_solver_failure_exits_3_and_keeps_the_results_so_far(tmp_path, monkeypatch):
    from solver import simulate
    from solver.newton import NewtonFailure

    real = simulate.newton_solve
    calls = {"n": 0}

    def failing(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] > 30:
            raise NewtonFailure("injected failure", "the drive")
        return real(*args, **kwargs)

    monkeypatch.setattr(simulate, "newton_solve", failing)
    out = tmp_path / "out"
    assert cli.main(["run", str(SHIPPED_CASE), "--out", str(out)]) == 3
    summary = json.loads((out / "summary.json").read_text())
    assert summary["steps"][0]["end_reason"] == "solver_failed"
    assert "injected failure" in summary["message"]
    rows = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    assert rows.size > 3 and summary["steps"][0]["capacity_mAh_cm2"] > 0


def test_materials_listing_and_entry(capsys):
    assert cli.main(["materials"]) == 0
    listing = capsys.readouterr().out
    for name in ("LiCoO2", "LiPON", "Li3PO4", "Li", "Pt", "Cu", "Au", "TiN"):
        assert name in listing
    assert cli.main(["materials", "LiCoO2"]) == 0
    entry = capsys.readouterr().out
    assert "Danilov" in entry and "max_concentration" in entry
    assert cli.main(["materials", "Unobtainium"]) == 2
    assert cli.main(["materials", ""]) == 2            # had printed the listing
    assert "expected one of" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [[], ["frobnicate"], ["run", "case.toml"],
                                  ["run", "case.toml", "--out", "o", "--threads", "two"],
                                  ["sweep", "s.toml", "--out", "o", "--workers", "1.5"]])
def test_a_command_line_argparse_refuses_is_one_line_exit_2(capsys, argv):
    """argparse printed its usage over several lines before the error."""
    with pytest.raises(SystemExit) as stop:
        cli.main(argv)
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("thinfilm: invalid input: ")
    assert err[0].endswith("--help)")


SCRIPT = shutil.which("thinfilm", path=str(Path(sys.executable).parent))


@pytest.mark.skipif(SCRIPT is None, reason="console script not installed")
def test_console_script_runs():
    proc = subprocess.run([SCRIPT, "materials"], capture_output=True, text=True)
    assert proc.returncode == 0 and "LiCoO2" in proc.stdout


def test_unsupported_electrolyte_model_is_an_input_error(tmp_path):
    text = _shipped_text().replace("[mesh]", '[materials.LiPON]\nmodel = "binary"\n\n[mesh]', 1)
    path = _write_case(tmp_path, text)
    out = tmp_path / "out"
    assert cli.main(["run", str(path), "--out", str(out)]) == 2
    assert not out.exists()


def test_a_time_limit_says_where_the_run_stopped(tmp_path, capsys, monkeypatch):
    """As a solver failure does: the step (its key) and the simulated time reached."""
    from solver import api

    clock = iter(range(10 ** 6))          # each reading of the wall clock: one second later
    monkeypatch.setattr(api.time, "perf_counter", lambda: float(next(clock)))
    out = tmp_path / "out"
    assert cli.main(["run", str(SHIPPED_CASE), "--out", str(out), "--quiet",
                     "--time-limit", "5 s"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    summary = json.loads((out / "summary.json").read_text())
    step = summary["steps"][-1]
    assert step["end_reason"] == "interrupted" and step["key"] == "protocol.0"
    rows = np.genfromtxt(out / "timeseries.csv", delimiter=",", names=True)
    where = f"in step 0 (discharge, protocol.0) at t = {rows['time_s'][-1]:.6g} s"
    assert len(err) == 1 and err[0].startswith("thinfilm: time limit of 5 s reached " + where)
    assert summary["message"] == step["message"] == f"time limit of 5 s reached {where}"


@pytest.mark.parametrize("command", [
    ["run", str(SHIPPED_CASE)], ["mesh", str(SHIPPED_CASE)], ["validate"], ["sweep", "s.toml"],
    ["fit", "f.toml"], ["compare", "c.toml"], ["import-bpx", "b.json"], ["schema"]])
@pytest.mark.parametrize("out", ["", "  "])
def test_an_empty_out_is_refused_not_taken_for_the_current_folder(tmp_path, capsys,
                                                                  monkeypatch, command, out):
    monkeypatch.chdir(tmp_path)
    assert cli.main(command + ["--out", out]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"thinfilm: invalid input: --out = {out!r}")
    assert not list(tmp_path.iterdir())


@pytest.mark.parametrize("command, name", [
    (["run", ""], "case"), (["mesh", " "], "case"), (["sweep", ""], "SWEEP.toml"),
    (["fit", ""], "FIT.toml"), (["compare", ""], "COMPARE.toml"),
    (["import-bpx", ""], "FILE.json"), (["validate", "--root", ""], "--root")])
def test_an_empty_input_path_is_refused_not_taken_for_the_current_folder(tmp_path, capsys,
                                                                           command, name):
    assert cli.main(command + ["--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"thinfilm: invalid input: {name} = ")
    assert not (tmp_path / "out").exists()


TOO_LONG = "x" * 300            # a name longer than file systems take (255 bytes)


@pytest.mark.parametrize("command, name", [
    (["run", str(SHIPPED_CASE), "--out", TOO_LONG], "--out"),
    (["mesh", str(SHIPPED_CASE), "--out", TOO_LONG], "--out"),
    (["import-bpx", "b.json", "--out", f"{TOO_LONG}/c.toml"], "--out"),
    (["sweep", "s.toml", "--out", TOO_LONG], "--out"),
    (["run", f"{TOO_LONG}.toml", "--out", "out"], "case"),
    (["fit", f"{TOO_LONG}.toml", "--out", "out"], "FIT.toml"),
    (["sweep", "long_base.toml", "--out", "out"], "base")])
def test_a_path_the_system_cannot_look_up_is_refused_in_one_line(tmp_path, capsys, monkeypatch,
                                                                command, name):
    """pathlib's exists() raises for a name too long: it had been an internal error."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "long_base.toml").write_text(f'base = "{TOO_LONG}.toml"\n'
                                             f'[grid]\n"protocol.0.c_rate" = [1]\n')
    assert cli.main(command) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith(f"thinfilm: invalid input: {name} = ")
    assert "a path the system can look up (File name too long)" in err[0]


# ------------------------------------------------------------------------------------------
# one command at a time per --out folder

ROOT = SHIPPED_CASE.parents[1]
COMMAND_ARGUMENTS = {
    "run": [str(SHIPPED_CASE)],
    "mesh": [str(SHIPPED_CASE)],
    "sweep": [str(ROOT / "cases" / "sweep_planar_rate.toml")],
    "compare": [str(ROOT / "cases" / "compare_planar_trench_pillar.toml")],
    "fit": ["fit.toml"],
    "validate": ["--fast"],
}
HOLD_LOCK = ("import sys; from solver.files import folder_lock\n"
             "with folder_lock(sys.argv[1]):\n"
             "    print('locked', flush=True); sys.stdin.read()\n")


def _holder(out):
    """Another process holding the lock of `out` until its stdin closes."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(out)], text=True,
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, cwd=ROOT)
    assert proc.stdout.readline() == "locked\n"
    return proc


def test_every_command_that_writes_a_folder_is_locked():
    """Every subcommand with a folder as --out takes the lock (schema and import-bpx
    write one file, atomically)."""
    subparsers = next(a for a in cli._parser()._actions if a.choices and "run" in a.choices)
    with_out = {name for name, parser in subparsers.choices.items()
                if any("--out" in action.option_strings for action in parser._actions)}
    assert with_out - {"schema", "import-bpx"} == set(cli.FOLDER_COMMANDS) \
        == set(COMMAND_ARGUMENTS)


@pytest.mark.parametrize("command", cli.FOLDER_COMMANDS)
def test_a_second_command_on_the_same_out_folder_is_refused(tmp_path, capsys, command):
    """Two commands writing into one folder at once interleaved their files: the second
    exits 2, naming --out, the folder and the other command, and writes nothing."""
    out = tmp_path / "out"
    holder = _holder(out)
    try:
        assert cli.main([command, *COMMAND_ARGUMENTS[command], "--out", str(out)]) == 2
        assert [p.name for p in out.iterdir()] == [".thinfilm.lock"]
    finally:
        holder.communicate("")
    (line,) = capsys.readouterr().err.splitlines()
    assert line.startswith(f"thinfilm: invalid input: --out = '{out}': expected a folder no "
                           f"other thinfilm command is writing to")
    assert f"(process {holder.pid})" in line
    assert not out.exists()              # the holder created it, and removed it empty


def test_a_killed_commands_lock_does_not_block_the_next(tmp_path, capsys):
    out = tmp_path / "out"
    holder = _holder(out)
    holder.kill()                        # SIGKILL: no clean-up, the lock file stays
    holder.communicate()
    assert (out / ".thinfilm.lock").exists()
    assert cli.main(["mesh", str(SHIPPED_CASE), "--out", str(out)]) == 0
    assert {p.name for p in out.iterdir()} == {"mesh.vtu", "mesh.json"}


def test_the_lock_covers_its_folder_only(tmp_path):
    """A command's runs write into subfolders of its --out (runs/, starts/, fits/): they are
    not blocked by it, nor is a folder beside it."""
    from solver.files import folder_lock

    with folder_lock(tmp_path / "out"), folder_lock(tmp_path / "out" / "runs" / "a"), \
            folder_lock(tmp_path / "out2"):
        pass
    assert not any(tmp_path.iterdir())


def test_a_run_into_a_used_folder_leaves_only_its_own_results(tmp_path, capsys):
    """A case without an impedance step (or a run stopped before it) run into the folder of
    an earlier run left that run's impedance.csv, nyquist.png and bode.png beside its own
    summary; so too fields beyond its last and the temporary files of a killed write."""
    out = tmp_path / "out"
    assert cli.main(["run", str(SHIPPED_CASE), "--out", str(out), "--quiet"]) == 0
    for name in ("fields_0007.vtu", "fields.pvd", "fields.csv", "impedance_step3_10Hz.vtu",
                 ".fields_0001.vtu.tmp.vtu"):
        (out / name).write_text("of an earlier run")
    (out / "notes.txt").write_text("the user's")
    text = SHIPPED_CASE.read_text()
    case = tmp_path / "case.toml"
    case.write_text(text[:text.index('[[protocol]]\nmode = "impedance"')])
    assert cli.main(["run", str(case), "--out", str(out), "--quiet"]) == 0
    assert {p.name for p in out.iterdir()} == {"timeseries.csv", "voltage.png",
                                               "summary.json", "notes.txt"}

    # a folder that held no run keeps its files, whatever their names (measured data)
    data = tmp_path / "data"
    data.mkdir()
    (data / "impedance.csv").write_text("measured")
    assert cli.main(["run", str(case), "--out", str(data), "--quiet"]) == 0
    assert (data / "impedance.csv").read_text() == "measured"

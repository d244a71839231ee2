"""Results from Python and notebooks (issue 14): series by name, repr, Result.plot without
pyplot, cycles of repeated protocols (summary and the `cycle` column), legends with rate,
current and temperature, stack figures with each cell's voltage, validation figures, and
the quickstart example run as a script."""

import csv
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import solver
from solver.describe import current_text, step_label
from solver.plots import MAX_LEGEND, line_style, voltage_figure
from solver.results import BASE_COLUMNS, Result
from tests.conftest import ROOT, planar_case

COARSE = {"cells_per_layer": 6}
CYCLING = [
    {"repeat": 2, "steps": [
        {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"},
        {"mode": "charge", "c_rate": 2, "until_voltage": "4.2 V"},
        {"mode": "hold", "voltage": "4.1 V", "until_time": "2 min"},
    ]},
    {"mode": "rest", "until_time": "1 min"},
]


@pytest.fixture(scope="module")
def cycling():
    return solver.run(planar_case(protocol=CYCLING, mesh=COARSE))


# ------------------------------------------------------------------------------ cycles
def test_cycles_number_the_turns_of_top_level_blocks():
    rest = {"mode": "rest", "until_time": "1 min"}
    case = planar_case(protocol=[
        rest,
        {"repeat": 2, "steps": [rest, {"repeat": 2, "steps": [rest]}]},
        rest,
        {"steps": [rest]},
    ])
    assert [step.cycle for step in case.protocol] == [0, 1, 1, 1, 2, 2, 2, 0, 3]


def _step_direction_from_rows(result, k):
    """+1 if the step's net current delivered charge (current_A > 0 on discharge)."""
    series = result.step_series(k)
    current, time = series["current_A"], series["time_s"]
    return int(np.sign(np.sum(0.5 * (current[1:] + current[:-1]) * np.diff(time))))


def test_summary_lists_capacity_per_cycle(cycling):
    steps, cycles = cycling.summary["steps"], cycling.summary["cycles"]
    assert [c["cycle"] for c in cycles] == [1, 2]
    assert steps[-1]["cycle"] == 0                 # the rest after the block: in no cycle
    for entry in cycles:
        members = [k for k, s in enumerate(steps) if s["cycle"] == entry["cycle"]]
        assert (entry["first_step"], entry["last_step"]) == (members[0], members[-1])
        delivered, taken = np.zeros(2), np.zeros(2)        # capacity, energy
        for k in members:
            # the step's totals from its last row, its direction from its current
            last = cycling.step_series(k)
            totals = np.array([last["capacity_mAh_cm2"][-1], last["energy_mWh_cm2"][-1]])
            direction = _step_direction_from_rows(cycling, k)
            delivered += totals if direction > 0 else 0.0
            taken += totals if direction < 0 else 0.0
        assert entry["discharge_capacity_mAh_cm2"] == pytest.approx(delivered[0], rel=1e-12)
        assert entry["charge_capacity_mAh_cm2"] == pytest.approx(taken[0], rel=1e-12)
        assert entry["discharge_energy_mWh_cm2"] == pytest.approx(delivered[1], rel=1e-12)
        assert entry["charge_energy_mWh_cm2"] == pytest.approx(taken[1], rel=1e-12)
        assert entry["coulombic_efficiency"] == pytest.approx(delivered[0] / taken[0],
                                                              rel=1e-12)
        assert entry["energy_efficiency"] == pytest.approx(delivered[1] / taken[1], rel=1e-12)
    hold = next(k for k, s in enumerate(steps) if s["mode"] == "hold")
    assert _step_direction_from_rows(cycling, hold) != 0


@pytest.mark.parametrize("pulse,missing", [("discharge", "charge"), ("charge", "discharge")])
def test_a_cycle_one_way_only_has_no_efficiency(pulse, missing):
    result = solver.run(planar_case(protocol=[
        {"mode": "discharge", "c_rate": 2, "until_time": "5 min"},      # room to charge
        {"repeat": 2, "steps": [{"mode": pulse, "c_rate": 2, "until_time": "2 min"},
                                {"mode": "rest", "until_time": "2 min"}]}], mesh=COARSE))
    cycles = result.summary["cycles"]
    assert len(cycles) == 2
    assert all(c["coulombic_efficiency"] is None and c["energy_efficiency"] is None
               and c[f"{missing}_capacity_mAh_cm2"] == 0 and c[f"{pulse}_capacity_mAh_cm2"] > 0
               for c in cycles)
    assert "cycles" not in solver.run(planar_case(
        protocol=[{"mode": "discharge", "c_rate": 2, "until_time": "2 min"}],
        mesh=COARSE)).summary


def test_a_held_voltage_is_booked_the_way_its_current_went():
    # cycle 1's cccv starts above its voltage (4.235 V): it holds 4.1 V and discharges;
    # cycle 2's starts at 3.0 V and charges
    result = solver.run(planar_case(protocol=[{"repeat": 2, "steps": [
        {"mode": "cccv", "c_rate": 2, "voltage": "4.1 V", "until_time": "5 min"},
        {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"}]}], mesh=COARSE))
    steps, cycles = result.summary["steps"], result.summary["cycles"]
    assert [_step_direction_from_rows(result, k) for k in (0, 2)] == [1, -1]
    first, second = cycles
    assert first["discharge_capacity_mAh_cm2"] == pytest.approx(
        steps[0]["capacity_mAh_cm2"] + steps[1]["capacity_mAh_cm2"], rel=1e-12)
    assert first["charge_capacity_mAh_cm2"] == 0 and first["coulombic_efficiency"] is None
    assert second["charge_capacity_mAh_cm2"] == steps[2]["capacity_mAh_cm2"]
    assert second["coulombic_efficiency"] == pytest.approx(
        steps[3]["capacity_mAh_cm2"] / steps[2]["capacity_mAh_cm2"], rel=1e-12)
    # and drawn that way: the discharging cccv solid, the charging one dashed
    assert [line_style(result, k) for k in range(4)] == ["-", "-", "--", "-"]


def test_timeseries_csv_has_a_cycle_column_after_the_base_columns(cycling, tmp_path):
    cycling.write(tmp_path)
    with open(tmp_path / "timeseries.csv", newline="") as handle:
        rows = list(csv.reader(handle))
    header = rows[0]
    assert tuple(header[:len(BASE_COLUMNS)]) == BASE_COLUMNS
    assert header[len(BASE_COLUMNS)] == "cycle"
    steps = cycling.summary["steps"]
    at = header.index
    for row in rows[1:]:
        assert row[at("cycle")] == str(steps[int(row[at("step")])]["cycle"])
    in_cycle_2 = [row for row in rows[1:] if row[at("cycle")] == "2"]
    assert len(in_cycle_2) == cycling.series("time_s", cycle=2).size > 0


def test_an_interrupted_step_counts_in_its_cycle():
    from solver.errors import RunInterrupted

    def stop_in_the_charge(k, step, elapsed, voltage, capacity):
        if k == 1 and capacity > 1e-3:            # 1 µAh/cm2 into the charge of cycle 1
            raise RunInterrupted("stopped by the test")

    with pytest.raises(RunInterrupted) as stopped:
        solver.run(planar_case(protocol=CYCLING, mesh=COARSE), progress=stop_in_the_charge)
    summary = stopped.value.result.summary
    assert summary["steps"][1]["end_reason"] == "interrupted"
    (cycle,) = summary["cycles"]
    assert cycle["charge_capacity_mAh_cm2"] == summary["steps"][1]["capacity_mAh_cm2"] > 1e-3
    assert cycle["discharge_capacity_mAh_cm2"] == summary["steps"][0]["capacity_mAh_cm2"]


# ------------------------------------------------------------------------------ by name
def test_series_by_name(cycling):
    assert cycling["voltage_V"] is cycling.timeseries["voltage_V"]
    np.testing.assert_array_equal(cycling.series("voltage_V", step=1),
                                  cycling.step_series(1)["voltage_V"])
    assert "voltage_V" in cycling and "voltage" not in cycling
    assert cycling.names == cycling.columns
    with pytest.raises(KeyError) as missing:
        cycling["voltage"]
    message = str(missing.value)
    assert "'voltage'" in message
    assert all(name in message for name in cycling.names)


def test_repr_shows_case_steps_end_reasons_capacities_and_cycles(cycling):
    text = repr(cycling)
    assert cycling.summary["case"] in text
    lines = text.splitlines()
    for k, step in enumerate(cycling.summary["steps"]):
        line = next(line for line in lines if re.match(rf"\s+{k}\s+{step['mode']}\b", line))
        assert step["end_reason"] in line
        assert f"{step['capacity_mAh_cm2'] * 1e3:.3f}" in line
    assert "2 cycles" in text
    assert "2C (" in text and "µA)" in text


def test_repr_of_a_long_protocol_stays_short():
    steps = [{"mode": "rest", "end_reason": "until_time", "duration_s": 60.0,
              "capacity_mAh_cm2": 0.0, "energy_mWh_cm2": 0.0, "mean_voltage_V": 4.0}] * 500
    text = repr(Result({"case": "long", "steps": steps}, []))
    assert len(text.splitlines()) < 25
    assert f"{500 - 12} more steps" in text


# ------------------------------------------------------------------------------ plots
def test_current_and_step_labels():
    assert current_text(1.08e-5) == "10.8 µA"
    assert current_text(2e-3) == "2 mA"
    assert current_text(5e-10) == "500 pA"
    summary = {"temperature_K": 298.15, "steps": [
        {"mode": "discharge", "c_rate": 1.0, "applied_current_A": 1.08e-5, "cycle": 0},
        {"mode": "charge", "c_rate": 0.5, "applied_current_A": 5.4e-6, "cycle": 3}]}
    assert step_label(summary, 0) == "step 0 discharge 1C (10.8 µA), 25 °C"
    assert step_label(summary, 1) == "step 1 (cycle 3) charge 0.5C (5.4 µA), 25 °C"


def test_plot_returns_a_figure_with_a_labelled_curve_per_current_step(cycling):
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    from solver.plots import new_figure

    figure = cycling.plot()
    assert isinstance(figure, Figure)
    ax = figure.axes[0]
    drawn = [k for k, s in enumerate(cycling.summary["steps"])
             if s["mode"] in ("discharge", "charge")]
    assert len(ax.lines) == len(drawn)
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == [step_label(cycling.summary, k) for k in drawn]
    for label, k in zip(labels, drawn):
        rate = cycling.summary["steps"][k]["c_rate"]
        assert f"{rate:.3g}C (" in label and "µA)" in label and label.endswith("25 °C")
    for line, k in zip(ax.lines, drawn):
        np.testing.assert_array_equal(line.get_ydata(), cycling.series("voltage_V", step=k))
    own = new_figure(4, 3).add_subplot()
    assert cycling.plot(ax=own) is own and isinstance(own, Axes)
    assert len(own.lines) == len(drawn)
    hours = cycling.plot(x="time").axes[0].lines[0].get_xdata()
    np.testing.assert_allclose(hours, cycling.series("time_s", step=0) / 3600)


def test_many_steps_are_coloured_by_cycle_with_one_legend_entry_per_kind():
    steps, rows = [], []
    for k in range(2 * MAX_LEGEND):
        mode = ("discharge", "charge")[k % 2]
        steps.append({"mode": mode, "end_reason": "until_voltage", "cycle": k // 2 + 1,
                      "c_rate": 1.0, "applied_current_A": 1e-5})
        rows += [{"time_s": 10.0 * k + t, "step": k, "current_A": 1e-5,
                  "voltage_V": 4.0 - 0.1 * t, "capacity_mAh_cm2": 1e-3 * t,
                  "energy_mWh_cm2": 4e-3 * t} for t in range(3)]
    figure = Result({"case": "cycled", "temperature_K": 298.15, "steps": steps}, rows).plot()
    ax, colourbar = figure.axes
    assert colourbar.get_ylabel() == "cycle"
    labels = [text.get_text() for text in ax.get_legend().get_texts()]
    assert labels == ["discharge 1C (10 µA)", "charge 1C (10 µA)"]
    assert "25 °C" in ax.get_legend().get_title().get_text()


def test_stack_figure_shows_each_cells_voltage():
    from solver.case import case_from_dict, load_case

    case = load_case(ROOT / "cases" / "bipolar_3cell_li_lipon_lco.toml")
    raw = dict(case.raw, mesh={"cells_per_layer": 6},
               protocol=[{"mode": "discharge", "c_rate": 2, "until_voltage": "9.0 V"}])
    result = solver.run(case_from_dict(raw, case.path.parent, source="test"))
    figure = voltage_figure(result)
    stack, cells = figure.axes
    assert len(stack.lines) == 1
    labels = [text.get_text() for text in cells.get_legend().get_texts()]
    assert labels == ["cell 1", "cell 2", "cell 3"]
    for n, line in enumerate(cells.lines, start=1):
        np.testing.assert_array_equal(line.get_ydata(), result[f"voltage_cell_{n}"])
    assert len({line.get_color() for line in cells.lines}) == 3
    single = result.plot_cells()
    assert len(single.axes[0].lines) == 3


def test_no_module_switches_the_backend_or_uses_pyplot():
    pattern = re.compile(r"matplotlib\.use\(|import matplotlib\.pyplot|from matplotlib "
                         r"import pyplot")
    offenders = [str(path.relative_to(ROOT)) for folder in ("solver", "meshes")
                 for path in (ROOT / folder).rglob("*.py") if pattern.search(path.read_text())]
    assert offenders == []


# ------------------------------------------------------------------------------ validation
def test_validation_figure_has_distinct_runs_and_whole_labels():
    from solver.validation import Comparison, RunSpec, Study
    from solver.validation_figure import study_figure

    names = [f"run{k}" for k in range(14)]
    quantity = "Mean discharge voltage of a long-named cell at a rate nobody can read in 38"
    records = [{"run": n, "reference_id": f"r{k}", "quantity": f"{quantity} ({k})",
                "unit": "V", "reported": 3.9, "model": 3.9 + 0.01 * k, "tolerance": 0.05,
                "passed": k < 5} for k, n in enumerate(names)]
    study = Study(name="demo", path=ROOT, title="A study whose title is long " * 6,
                  source="Someone et al., J. Nowhere 1 (2000) 1", fast=True,
                  runs={n: RunSpec(n, ROOT / "x.toml", label=f"label {n}") for n in names},
                  comparisons=[Comparison(quantity=r["quantity"], reference=r["reference_id"],
                                          metric="mean_voltage", run=r["run"])
                               for r in records],
                  references={})
    series = [{"capacity_uAh_cm2": [0.0, 1.0], "voltage_V": [4.0, 3.0]}]
    runs = {n: {"status": "ok", "series": [{"capacity_uAh_cm2": [], "voltage_V": []}] + series,
                "summary": {"steps": [{"mode": "impedance"}, {"mode": "discharge"}],
                            "footprint_area_cm2": 1.0}, "layers": {}} for n in names}
    figure = study_figure(study, runs, records)
    curves, ratios = figure.axes
    styles = {(line.get_color(), line.get_linestyle()) for line in curves.lines
              if line.get_label() in {f"label {n}" for n in names}}
    assert len(styles) == len(names)                  # every run told apart
    legend = [text.get_text() for text in curves.get_legend().get_texts()]
    assert legend == [f"label {n}" for n in names]     # first drawn step labelled
    shown = [t.get_text().replace("\n", " ") for t in ratios.get_yticklabels()]
    assert shown == [r["quantity"] for r in records]
    title = figure._suptitle.get_text().replace("\n", " ")
    assert study.title.strip() in title and study.source in title
    assert figure.get_figheight() > 4.8


# ------------------------------------------------------------------------------ example
def test_quickstart_example_runs_without_touching_pyplot(tmp_path):
    script = ROOT / "examples" / "notebook_quickstart.py"
    check = (
        "import runpy, sys\n"
        f"sys.argv = [{str(script)!r}, '--quick', '--out', {str(tmp_path)!r}]\n"
        f"runpy.run_path({str(script)!r}, run_name='__main__')\n"
        "import matplotlib\n"
        "assert 'matplotlib.pyplot' not in sys.modules, 'pyplot was imported'\n"
        "assert dict.__getitem__(matplotlib.rcParams, 'backend') is "
        "matplotlib.rcsetup._auto_backend_sentinel, 'the backend was set'\n")
    # a backend chosen by the environment (CI sets MPLBACKEND) is not one thinfilm set
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    proc = subprocess.run([sys.executable, "-c", check], capture_output=True, text=True,
                          cwd=tmp_path, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr
    assert "<thinfilm Result:" in proc.stdout and "KeyError: no time series" in proc.stdout
    assert re.search(r"cycle 3: discharge [\d.]+ µAh/cm², charge [\d.]+ µAh/cm²", proc.stdout)
    for name in ("voltage.png", "cycles.png", "cycling-run/summary.json",
                 "cycling-run/timeseries.csv"):
        assert (Path(tmp_path) / name).stat().st_size > 0

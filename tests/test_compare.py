"""Architecture comparisons: the comparison file, the cells built from the base case,
compare.csv's figures of merit, the figures, resume, bad input."""

import csv
import json
import tomllib
from pathlib import Path

import pytest

from solver import cli
from solver.case import case_from_dict
from solver.compare import COMPARE_COLUMNS, CompareTable, compare, load_compare
from solver.errors import InputError
from solver.results import summary_warnings
from solver.sweep import RESULT_COLUMNS

distributed = pytest.importorskip("distributed")

ROOT = Path(__file__).resolve().parents[1]
TRENCH = ROOT / "cases" / "trench_si_lipon_lco.toml"
EXAMPLE = ROOT / "cases" / "compare_planar_trench_pillar.toml"
COARSE = {"cells_per_layer": 2, "max_cell_size": "1 um"}

# the shipped trench cell's films as four cells (shallow structures, coarse meshes) at two
# rates
TINY = {
    "base": str(TRENCH),
    "rates": [1, 5],
    "until_voltage": "3.0 V",
    "architectures": {
        "planar": {"mesh": {"cells_per_layer": 4}},
        "trench": {"depth": "5 um", "mesh": COARSE},
        "pillar": {"architecture": "micropillar", "diameter": "5 um", "height": "5 um",
                   "pitch": "10 um", "axisymmetric": True, "mesh": COARSE},
        "bipolar": {"n_cells": 2, "mesh": {"cells_per_layer": 4}},
    },
}


def _write(folder: Path, data: dict) -> Path:
    """The comparison `data` as a TOML file in `folder`."""
    import tomli_w

    path = folder / "compare.toml"
    path.write_bytes(tomli_w.dumps(data).encode())
    return path




# ------------------------------------------------------------------------------------------
# the comparison file

def _with(**changes):
    data = json.loads(json.dumps(TINY))
    for key, value in changes.items():
        if value is None:
            data.pop(key)
        else:
            data[key] = value
    return data


def _cells(**tables):
    return _with(architectures=tables)


@pytest.mark.parametrize("data, key, words", [
    (_with(base=None), "base", "required"),
    (_with(base="nowhere.toml"), "base", "no file"),
    (_with(rate=[1]), "rate", "did you mean 'rates'"),
    (_with(rates=None), "rates", "required"),
    (_with(rates=[]), "rates", "non-empty list"),
    (_with(rates=[1, -2]), "rates", "-2 is not"),
    (_with(rates=[1, True]), "rates", "True is not"),
    (_with(rates=[1, 1.0]), "rates", "distinct"),
    # beyond a step's C-rate limit: the first rate had been named protocol.0.c_rate, a later
    # one a row of invalid input (exit 3) after the other runs
    (_with(rates=[1e6]), "rates", "a C-rate of at most 100000"),
    (_with(rates=[1, 2e5]), "rates", "200000.0 is not"),
    (_with(until_voltage="3 A"), "until_voltage", "voltage"),
    (_with(until_voltage="-1 V"), "until_voltage", "greater than zero"),
    (_with(architectures=None), "architectures", "required"),
    (_with(architectures={}), "architectures", "one table per cell"),
    (_cells(pillar={"diameter": "5 um"}), "architectures.pillar", "architecture = NAME"),
    (_cells(planr={}), "architectures.planr", "did you mean 'planar'"),
    (_cells(a={"architecture": "trenches"}), "architectures.a.architecture",
     "did you mean 'trench'"),
    (_cells(trench={"widht": "5 um"}), "architectures.trench.widht", "did you mean 'width'"),
    (_cells(planar={"depth": "5 um"}), "architectures.planar.depth", "keys of a planar cell"),
    (_cells(trench={"depth": "-5 um"}), "architectures.trench.depth", ""),
    (_cells(trench={"mesh": 3}), "architectures.trench.mesh", "table of [mesh] keys"),
    (_cells(planar={"layers": {"separator": {"thickness": "1 um"}}}),
     "architectures.planar.layers.separator", "a layer of the base case"),
    (_cells(planar={"layers": {"cathode": {"thickness": "1 A"}}}),
     "architectures.planar.layers.cathode.thickness", "a length"),
    (_cells(trench={"mesh": {"max_cell_size": "0 um"}}),
     "architectures.trench.mesh.max_cell_size", ""),
    (_cells(planar={"layers": {"cathode": {"thickness": "1 um", "colour": "red"}}}),
     "architectures.planar.layers.cathode.colour", "one of the keys"),
    (_cells(bipolar={}), "architectures.bipolar.n_cells", ""),
])
def test_bad_comparison_files_name_the_key(data, key, words):
    with pytest.raises(InputError) as info:
        load_compare(data, base_dir=ROOT)
    assert info.value.key == key, str(info.value)
    assert words in str(info.value)


def test_bad_comparison_file_exits_2_with_one_line(tmp_path, capsys):
    path = _write(tmp_path, _cells(trench={"widht": "5 um"}))
    out = tmp_path / "out"
    assert cli.main(["compare", str(path), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("thinfilm: invalid input: architectures.trench.widht = ")
    assert not out.exists()


def test_cells_share_the_films_and_get_their_geometry():
    spec = load_compare(TINY, base_dir=ROOT)
    assert spec.labels == ["planar", "trench", "pillar", "bipolar"]
    assert spec.kinds == {"planar": "planar", "trench": "trench", "pillar": "micropillar",
                          "bipolar": "bipolar"}
    cases = {label: case_from_dict(spec.case_dict({"architecture": label, "c_rate": 5}),
                                   spec.base_dir) for label in spec.labels}
    base = case_from_dict(spec.base_raw, spec.base_dir)
    films = [(lay.material.name, lay.thickness) for lay in base.layers]
    for label, case in cases.items():
        layers = [(lay.material.name, lay.thickness) for lay in case.layers]
        if label == "bipolar":                     # two units: the films, then again
            assert layers[:len(films)] == films and layers[-len(films) + 1:] == films[1:]
        else:
            assert layers == films, label
        assert case.footprint_area == base.footprint_area
        assert len(case.protocol) == 1 and case.protocol[0].mode == "discharge"
        assert case.protocol[0].c_rate == 5
    assert cases["trench"].trench.depth == pytest.approx(5e-6)
    assert cases["trench"].trench.pitch == base.trench.pitch    # inherited from the base
    assert cases["pillar"].micropillar.axisymmetric
    assert cases["bipolar"].protocol[0].until_voltage == pytest.approx(6.0)   # 2 x 3.0 V
    assert cases["planar"].protocol[0].until_voltage == pytest.approx(3.0)
    assert cases["trench"].mesh.max_cell_size == pytest.approx(1e-6)        # the cell's mesh


def test_a_rate_is_one_run_however_it_is_written():
    """rates = [1.0, 5.0] edited to [1, 5] (or back) ran every cell again on resume."""
    spec = load_compare(TINY, base_dir=ROOT)
    floats = load_compare(_with(rates=[1.0, 5.0]), base_dir=ROOT)
    assert [spec.digest(s) for s in spec.combinations()] == \
        [floats.digest(s) for s in floats.combinations()]


def test_until_voltage_defaults_to_the_base_discharge():
    spec = load_compare(_with(until_voltage=None), base_dir=ROOT)
    assert spec.until_voltage == pytest.approx(3.0)


PLANAR_CELLS = {"base": str(ROOT / "cases" / "planar_li_lipon_lco.toml"), "rates": [1, 2],
                "until_voltage": "4.5 V",
                "architectures": {"planar": {"mesh": {"cells_per_layer": 4}},
                                  "bipolar": {"n_cells": 2, "mesh": {"cells_per_layer": 4}}}}


def test_a_cutoff_every_run_refuses_exits_2_naming_until_voltage(tmp_path, capsys):
    """A cutoff above the cell's open-circuit voltage is refused by each run, not by the
    case: every row was invalid_input, and the command exited 3 naming the built case's
    protocol.0.until_voltage."""
    out = tmp_path / "out"
    assert cli.main(["compare", str(_write(tmp_path, PLANAR_CELLS)), "--out", str(out),
                     "--workers", "1", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("thinfilm: invalid input: until_voltage = '4.5 V': expected a "
                          "cutoff below the voltage")
    rows = list(csv.DictReader((out / "results.csv").open()))
    assert [r["status"] for r in rows] == ["invalid_input"] * 4


def test_a_refused_default_cutoff_names_the_base_step_it_came_from(tmp_path, client):
    base = tomllib.loads(Path(PLANAR_CELLS["base"]).read_text())
    base["protocol"] = [{"mode": "rest", "until_time": "1 s"},
                        {"mode": "discharge", "c_rate": 1, "until_voltage": "4.4 V"}]
    data = dict(PLANAR_CELLS, base=base, architectures={"bipolar": {"n_cells": 2}})
    del data["until_voltage"]
    with pytest.raises(InputError) as info:
        compare(data, tmp_path / "out", scheduler=client, base_dir=ROOT / "cases")
    assert info.value.key == "until_voltage" and info.value.value == "4.4 V"
    assert "the base case's protocol.1.until_voltage" in str(info.value)
    assert "cell 'bipolar' stacks its cells: its cutoff was" in str(info.value)


def test_shipped_example_is_valid():
    spec = load_compare(EXAMPLE)
    assert set(spec.kinds.values()) == {"planar", "trench", "micropillar", "bipolar"}
    assert min(spec.rates) <= 0.1 and max(spec.rates) >= 20


# ------------------------------------------------------------------------------------------
# a tiny comparison: compare.csv, the figures, resume

def _read_csv(path):
    with open(path, newline="") as handle:
        reader = csv.DictReader(handle)
        return reader.fieldnames, list(reader)


def test_a_stopped_comparison_leaves_no_other_comparisons_figures(tmp_path, monkeypatch):
    """An edited comparison stopped in the folder of an earlier one left that one's
    compare.csv and figures beside its own results.csv; a refused one touches nothing."""
    import importlib

    from solver.compare import COMPARE_FILES

    compare_module = importlib.import_module("solver.compare")   # (solver.compare: the function)

    out = tmp_path / "out"
    out.mkdir()
    for name in COMPARE_FILES:
        (out / name).write_text("of an earlier comparison")
    with pytest.raises(InputError):
        compare(_with(rates=[]), out, base_dir=ROOT)
    assert sorted(p.name for p in out.iterdir()) == sorted(COMPARE_FILES)

    def stopped(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(compare_module, "run_spec", stopped)
    with pytest.raises(KeyboardInterrupt):
        compare(TINY, out, base_dir=ROOT)
    assert not any(out.iterdir())


def test_tiny_comparison_and_resume(tmp_path, client, capsys):
    out = tmp_path / "out"
    first = compare(_write(tmp_path, TINY), out, scheduler=client)
    assert isinstance(first, CompareTable) and len(first) == 8
    assert len(first.runs.ran) == 8 and first.runs.reused == []

    columns, rows = _read_csv(out / "compare.csv")
    assert columns == list(COMPARE_COLUMNS)
    runs_columns, runs = _read_csv(out / "results.csv")
    assert runs_columns == ["architecture", "c_rate"] + list(RESULT_COLUMNS)
    assert [(r["architecture"], float(r["c_rate"])) for r in rows] == [
        (label, rate) for label in ("planar", "trench", "pillar", "bipolar") for rate in (1, 5)]
    for row, run in zip(rows, runs):
        assert row["status"] == "ok" and row["end_reason"] == "until_voltage", row
        assert row["run_id"] == run["run_id"]
        assert (out / "runs" / row["run_id"] / "summary.json").is_file()
        capacity, energy = float(row["capacity_mAh_cm2"]), float(row["energy_mWh_cm2"])
        assert capacity == float(run["capacity_mAh_cm2"])
        assert energy == pytest.approx(capacity * float(row["mean_voltage_V"]), rel=1e-9)
        power = float(row["power_mW_cm2"])
        assert power == pytest.approx(energy * 3600 / float(row["duration_s"]), rel=1e-9)
        height_cm = float(row["stack_height_um"]) * 1e-4
        assert float(row["energy_mWh_cm3"]) == pytest.approx(energy / height_cm, rel=1e-9)
        assert float(row["power_mW_cm3"]) == pytest.approx(power / height_cm, rel=1e-9)
        summary = json.loads((out / "runs" / row["run_id"] / "summary.json").read_text())
        assert float(row["aef"]) == pytest.approx(summary["aef"], rel=1e-9)
        assert json.loads(row["warnings"] or "[]") == summary_warnings(summary)
    by = {(r["architecture"], float(r["c_rate"])): r for r in rows}
    films_um = 0.05 + 0.1 + 1.0 + 0.5 + 0.1
    assert float(by["planar", 1]["aef"]) == 1.0
    assert float(by["planar", 1]["stack_height_um"]) == pytest.approx(films_um)
    assert float(by["trench", 1]["aef"]) == pytest.approx((10 + 2 * 5) / 10)
    assert float(by["trench", 1]["stack_height_um"]) == pytest.approx(5 + films_um)
    assert float(by["pillar", 1]["stack_height_um"]) == pytest.approx(5 + films_um)
    # a 5C discharge is five times as fast: about five times the power
    for label in ("planar", "trench", "pillar", "bipolar"):
        ratio = float(by[label, 5]["power_mW_cm2"]) / float(by[label, 1]["power_mW_cm2"])
        assert 3.5 < ratio < 5.5, label
    # the structures hold more cathode on the footprint than the flat films
    for label in ("trench", "pillar"):
        assert float(by[label, 1]["capacity_mAh_cm2"]) > \
            1.5 * float(by["planar", 1]["capacity_mAh_cm2"]), label
    # two planar cells in series: the same charge at twice the voltage
    assert float(by["bipolar", 1]["capacity_mAh_cm2"]) == pytest.approx(
        float(by["planar", 1]["capacity_mAh_cm2"]), rel=0.02)
    assert float(by["bipolar", 1]["mean_voltage_V"]) == pytest.approx(
        2 * float(by["planar", 1]["mean_voltage_V"]), rel=0.02)
    for name in ("ragone.png", "rate_capability.png"):
        assert (out / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"

    before = {p.parent.name: p.stat().st_mtime_ns for p in (out / "runs").glob("*/summary.json")}
    again = compare(_write(tmp_path, TINY), out, scheduler=client)
    assert again.runs.ran == [] and len(again.runs.reused) == 8
    assert {p.parent.name: p.stat().st_mtime_ns
            for p in (out / "runs").glob("*/summary.json")} == before
    assert _read_csv(out / "compare.csv")[1] == rows

    # the command line on the same folder: everything reused, a line per run
    capsys.readouterr()
    assert cli.main(["compare", str(_write(tmp_path, TINY)), "--out", str(out),
                     "--scheduler", client.scheduler.address]) == 0
    printed = capsys.readouterr().out
    assert "8 runs: 0 run now, 8 reused, 0 not ok" in printed
    assert sum(line.startswith(("planar ", "trench ", "pillar ", "bipolar "))
               for line in printed.splitlines()) == 8

    # the planar cell alone at one more rate: only that run is new
    planar = _with(rates=[1, 5, 2], architectures={"planar": TINY["architectures"]["planar"]})
    third = compare(_write(tmp_path, planar), out, scheduler=client)
    assert len(third.runs.ran) == 1 and len(third.runs.reused) == 2
    assert [r["run_id"] for r in third[:2]] == [r["run_id"] for r in rows[:2]]

"""The validation suite: study files, the runner, validation.json and report.md."""

import json
import shutil

import pytest

from solver import cli, validation
from solver.errors import InputError

REQUIRED_KEYS = {"study", "source", "quantity", "reported", "model", "tolerance", "passed"}


def _check_records(records):
    assert isinstance(records, list) and records
    for r in records:
        assert REQUIRED_KEYS <= set(r)
        assert isinstance(r["study"], str) and isinstance(r["source"], str)
        assert isinstance(r["quantity"], str)
        for key in ("reported", "model", "tolerance"):
            assert isinstance(r[key], float)
        assert isinstance(r["passed"], bool)
        if r.get("bound") == "below":
            assert r["passed"] == (r["model"] < r["reported"])
        elif r.get("bound") == "above":
            assert r["passed"] == (r["model"] > r["reported"])
        else:
            assert r["passed"] == (abs(r["model"] - r["reported"]) <= r["tolerance"])


def test_every_study_loads_and_names_its_sources():
    studies = validation.select_studies()
    names = {s.name for s in studies}
    assert {"bookkeeping", "danilov2011", "west2002", "bates1997", "pearse2018",
            "talin2016"} <= names
    for study in studies:
        assert study.comparisons, study.name
        assert (study.path / "README.md").is_file(), study.name
        for ref in study.references.values():
            assert ref.obtained in validation.OBTAINED
            assert ref.source and ref.location


def test_bookkeeping_through_the_solver_code_paths():
    study = validation.load_study(validation.VALIDATION_DIR / "bookkeeping")
    records, skipped = validation.evaluate(study, {})
    assert not skipped
    _check_records(records)
    by_id = {r["reference_id"]: r for r in records}
    # 1 um at 2.3 uS/cm: 43.48 ohm cm2, from the finite-volume operator
    assert by_id["lipon_asr_1um"]["model"] == pytest.approx(1e-4 / 2.3e-6, rel=1e-9)
    assert by_id["sigma_min_30um"]["model"] == pytest.approx(0.003 / 3.75, rel=1e-9)
    assert by_id["llt_25C"]["model"] == pytest.approx(1.48e-4, rel=0.01)
    assert all(r["passed"] for r in records)


def test_layer_resistance_is_exact_on_a_graded_grid():
    assert validation.layer_resistance(2e-6, 0.5, area=1e-4, cells=5) == pytest.approx(
        2e-6 / (0.5 * 1e-4), rel=1e-12)


def test_runner_writes_json_and_report(tmp_path):
    """The CLI on the cheap Danilov study: its runs, a skipped variant, the files."""
    out = tmp_path / "val"
    assert cli.main(["validate", "--study", "danilov2011", "--study", "bookkeeping",
                     "--out", str(out)]) == 0
    records = json.loads((out / "validation.json").read_text())
    _check_records(records)
    assert {r["study"] for r in records} == {"danilov2011", "bookkeeping"}
    danilov = [r for r in records if r["study"] == "danilov2011"]
    assert any(r["run"] == "1.6C" and r["passed"] for r in danilov)
    report = (out / "report.md").read_text()
    assert ("| study | kind | quantity | reported | model | tolerance | unit | parameters | "
            "fitted to it | pass |") in report
    assert "## Library defaults" in report and "### measured" in report
    assert (out / "danilov2011.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "danilov2011.png" in report
    # the dissociation variant is either evaluated (model available) or skipped with a reason
    diss = [r for r in records if r["run"] and r["run"].startswith("diss")]
    if not diss:
        assert "dissociation" in report and "Skipped" in report


def test_an_input_error_skips_only_runs_marked_for_it(tmp_path):
    root = tmp_path / "validation"
    study = root / "toy"
    shutil.copytree(validation.VALIDATION_DIR / "west2002", study)
    text = (study / "cell.toml").read_text().replace('material = "LiPON"',
                                                      'material = "LiPON"\n# bad below')
    text = text.replace('c_rate = 0.1', 'c_rate = 0.1\nuntil_volts = 3')
    (study / "bad.toml").write_text(text)
    spec = (study / "study.toml").read_text()
    spec += '\n[runs.bad_skip]\ncase = "bad.toml"\nskip_on_input_error = true\n'
    (study / "study.toml").write_text(spec)
    result = validation.run_suite(tmp_path / "out", root=root, workers=1, plots=False)
    status = {name: out["status"] for name, out in result["runs"]["toy"].items()}
    assert status == {"C/10": "ok", "bad_skip": "skipped"}
    assert "protocol.0" in result["runs"]["toy"]["bad_skip"]["message"]
    # a run not marked for it is a broken study: refused before anything runs
    (study / "study.toml").write_text(spec + '\n[runs.bad_error]\ncase = "bad.toml"\n')
    with pytest.raises(InputError, match="toy: runs.bad_error: protocol.0"):
        validation.run_suite(tmp_path / "out2", root=root, workers=1, plots=False)
    assert not (tmp_path / "out2").exists()


def test_bad_study_files_name_the_key(tmp_path):
    study = tmp_path / "s"
    shutil.copytree(validation.VALIDATION_DIR / "west2002", study)
    spec = (study / "study.toml").read_text().replace('metric = "mean_voltage"',
                                                      'metric = "mean_volts"')
    (study / "study.toml").write_text(spec)
    with pytest.raises(InputError, match="comparisons.1.metric"):
        validation.load_study(study)
    (study / "study.toml").write_text(spec.replace("mean_volts", "mean_voltage"))
    csv = (study / "reference.csv").read_text().replace(",printed,", ",guessed,", 1)
    (study / "reference.csv").write_text(csv)
    with pytest.raises(InputError, match="obtained"):
        validation.load_study(study)


@pytest.mark.parametrize("old, new, key", [
    ("rel_tol = 0.10", "rel_tol = -0.1", "comparisons.0.rel_tol"),
    ("rel_tol = 0.10", 'rel_tol = "10 %"', "comparisons.0.rel_tol"),
    ("rel_tol = 0.10", "rel_tol = nan", "comparisons.0.rel_tol"),
    ("rel_tol = 0.10", "rel_tol = inf", "comparisons.0.rel_tol"),
    ("fast = true", 'fast = "yes"', "study.fast"),
])
def test_tolerances_and_flags_are_checked(tmp_path, old, new, key):
    """Found by trying the product: a negative or text tolerance ended in a traceback, an
    infinite one passed every model, 'nan' failed every one."""
    study = tmp_path / "s"
    shutil.copytree(validation.VALIDATION_DIR / "west2002", study)
    spec = (study / "study.toml").read_text()
    assert old in spec
    (study / "study.toml").write_text(spec.replace(old, new, 1))
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        validation.load_study(study)


def test_references_are_finite_and_named_once(tmp_path):
    study = tmp_path / "s"
    shutil.copytree(validation.VALIDATION_DIR / "west2002", study)
    text = (study / "reference.csv").read_text()
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    header, first = lines[0], lines[1]
    (study / "reference.csv").write_text(text + first + "\n")
    with pytest.raises(InputError, match="ids that appear once"):
        validation.load_study(study)
    fields = first.split(",")
    value_column = header.split(",").index("value")
    fields[value_column] = "nan"
    (study / "reference.csv").write_text(text.replace(first, ",".join(fields)))
    with pytest.raises(InputError, match="a finite number"):
        validation.load_study(study)


def test_a_comparison_naming_a_missing_layer_or_step_is_refused_before_running(tmp_path):
    root = tmp_path / "validation"
    study = root / "toy"
    shutil.copytree(validation.VALIDATION_DIR / "west2002", study)
    spec = (study / "study.toml").read_text()
    assert 'layer = "cathode" }' in spec
    (study / "study.toml").write_text(spec.replace('layer = "cathode" }', 'layer = "cathodee" }'))
    with pytest.raises(InputError, match="args.layer = 'cathodee'"):
        validation.run_suite(tmp_path / "out", root=root, workers=1, plots=False)
    assert not (tmp_path / "out").exists()


def test_apply_settings_by_index_and_layer_name():
    raw = {"protocol": [{"c_rate": 1}], "cell": {"layers": [{"name": "cathode", "thickness": 1}]}}
    new = validation.apply_settings(raw, {"protocol.0.c_rate": 3.2,
                                          "cell.layers.cathode.thickness": "2 um",
                                          "materials.LiPON.conductivity": "1e-6 S/cm"})
    assert new["protocol"][0]["c_rate"] == 3.2
    assert new["cell"]["layers"][0]["thickness"] == "2 um"
    assert new["materials"]["LiPON"]["conductivity"] == "1e-6 S/cm"
    assert raw["protocol"][0]["c_rate"] == 1


def _fake_run(name, capacity_mAh_cm2, status="ok"):
    return {"run": name, "status": status, "message": "",
            "summary": {"footprint_area_cm2": 1.0,
                        "steps": [{"capacity_mAh_cm2": capacity_mAh_cm2}]}}


def test_retention_ratio_metric():
    """(Q(a_hi)/Q(a_lo)) / (Q(b_hi)/Q(b_lo)), and a failed partner run is an error."""
    runs = {"a_lo": _fake_run("a_lo", 0.2), "a_hi": _fake_run("a_hi", 0.15),
            "b_lo": _fake_run("b_lo", 0.04), "b_hi": _fake_run("b_hi", 0.02)}
    unit, metric = validation.RUN_METRICS["retention_ratio"]
    assert unit == "1"
    args = {"relative_to": "a_lo", "compare_run": "b_hi", "compare_relative_to": "b_lo"}
    assert metric(runs["a_hi"], args, runs) == pytest.approx(0.75 / 0.5)
    runs["b_hi"] = _fake_run("b_hi", 0.0, status="solver_failed")
    with pytest.raises(RuntimeError, match="b_hi"):
        metric(runs["a_hi"], args, runs)


def test_trend_study_compares_signs_as_bounds():
    """talin2016 compares signs: each reported "below 1" is a bound, not 0.5 +- 0.5."""
    study = validation.load_study(validation.VALIDATION_DIR / "talin2016")
    for comp in study.comparisons:
        assert comp.metric == "retention_ratio"
        assert study.references[comp.reference].value == 1.0 and comp.bound == "below"
        assert comp.abs_tol is None and comp.rel_tol is None


# The measured comparisons outside their tolerance, each explained in its study's README
# (validation/README.md, "Outside tolerance, and why"); any other miss is a regression.
KNOWN_MISSES = {
    ("bates1997", "retention_2mA"),       # thick LiCoO2 faster than the library's D table
    ("oukassi2019", "retention_3mA"),     # the same, a ~22 um film
    ("danilov2011_fit", "v0_3.2"),        # first sample 5 mV low (reading error 3 mV)
    ("gambe2015", "plateau_2"),           # losses in their plates and contacts
    ("gambe2015", "plateau_3"),
    ("pearse2018", "capacity_per_um"),    # ALD V2O5 film below the crystal's capacity
    ("talin2016", "lag_3d"),              # their 3D geometry and wall films not known
}


@pytest.mark.slow
def test_full_suite(tmp_path):
    """All studies on two workers: every measured comparison that is not a known, explained
    miss passes, and every known miss still runs (none is silently skipped)."""
    result = validation.run_suite(tmp_path / "out", workers=2)
    records = json.loads((tmp_path / "out" / "validation.json").read_text())
    _check_records(records)
    assert len(records) >= 70
    measured = [r for r in records if validation.counts_toward_fidelity(r)]
    missed = {(r["study"], r["reference_id"]) for r in measured if not r["passed"]}
    assert missed <= KNOWN_MISSES, missed - KNOWN_MISSES
    compared = {(r["study"], r["reference_id"]) for r in measured}
    assert KNOWN_MISSES <= compared, KNOWN_MISSES - compared
    assert result["elapsed_s"] < 600


def test_kinds_bounds_and_fitted_comparisons_are_counted_apart():
    """Fidelity counts measured comparisons not fitted to their data; a bound passes on its
    side; the library-default table takes the worst error of the library runs."""
    def record(kind="measured", fitted=False, parameters="study", model=1.0, reported=1.0,
               bound=None, passed=True, quantity="q"):
        return {"study": "s", "kind": kind, "fitted_to_this": fitted, "parameters": parameters,
                "model": model, "reported": reported, "bound": bound, "passed": passed,
                "quantity": quantity, "error_relative": (model - reported) / reported,
                "source": "x", "unit": "1", "tolerance": 0.1, "tolerance_relative": None}
    records = [record(), record(passed=False), record(fitted=True), record(kind="bookkeeping"),
               record(parameters="library", model=1.12, quantity="at 2C"),
               record(parameters="library", model=0.95, quantity="at 1C")]
    assert [validation.counts_toward_fidelity(r) for r in records] == [
        True, True, False, False, True, True]
    line = validation.fidelity_line(records)
    assert "measured (not fitted to them): 3 of 4" in line and "bookkeeping: 1 of 1" in line
    worst = validation.library_default_errors(records)
    assert len(worst) == 1 and worst[0]["worst"] == pytest.approx(0.12)
    assert worst[0]["worst_quantity"] == "at 2C" and worst[0]["n"] == 2
    assert validation._reported(record(bound="below")) == "< 1"


def test_a_bound_passes_on_its_side_only(tmp_path):
    root = tmp_path / "validation"
    study = root / "bound"
    shutil.copytree(validation.VALIDATION_DIR / "bookkeeping", study)
    spec = (study / "study.toml").read_text()
    first = spec.index("[[comparisons]]")
    tail = spec[first:].split("[[comparisons]]")[1]
    below = "[[comparisons]]" + "\n".join(line for line in tail.splitlines()
                                          if not line.startswith(("rel_tol", "abs_tol")))
    (study / "study.toml").write_text(spec[:first] + below + '\nbound = "below"\n')
    loaded = validation.load_study(study)
    comparison = loaded.comparisons[0]
    assert comparison.bound == "below" and comparison.kind == "bookkeeping"
    records, _ = validation.evaluate(loaded, {})
    reported = loaded.references[comparison.reference].value
    assert records[0]["passed"] == (records[0]["model"] < reported)
    (study / "study.toml").write_text(spec[:first] + below + '\nbound = "below"\nabs_tol = 1\n')
    with pytest.raises(InputError):
        validation.load_study(study)

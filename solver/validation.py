"""The validation suite: published numbers against the model (`thinfilm validate`).

A study is a folder under ``validation/`` with

- ``study.toml``: what to run and what to compare (see validation/README.md);
- ``reference.csv``: the published numbers, one row each, with the paper, the table or
  figure and how the number was obtained (printed, digitised, derived);
- case files (TOML) for the runs, and a ``README.md`` arguing the tolerances and declaring
  every parameter the paper does not print.

`run_suite` runs the cases of the selected studies (on Dask, through solver.runner as sweeps
do), evaluates every comparison and writes ``validation.json`` (a list of {"study",
"source", "quantity", "reported", "model", "tolerance", "passed", ...}) and ``report.md``
with its plots.
A comparison passes when |model - reported| <= tolerance, the tolerance being absolute in the
reported unit (a relative tolerance in study.toml is converted: rel_tol * |reported|).

Comparisons are of two kinds: a metric of a run (a capacity, a mean voltage, ...) or a
calculation ("calc") through the solver's own code paths (unit parsing, the materials
library, Arrhenius law, Butler-Volmer kinetics, the finite-volume conduction operator) for
bookkeeping numbers that need no time integration.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import json
import math
import time
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError, RunInterrupted, SolverError
from .results import measurable_rows
from .shipped import VALIDATION_DIR
from .units import parse_quantity

REFERENCE_COLUMNS = ("id", "quantity", "value", "unit", "source", "location", "obtained", "note")
OBTAINED = ("printed", "digitised", "derived")
# what a reported number is (DESIGN.md section 7): measured on a real cell, arithmetic from
# printed numbers, or another model's output; fidelity is counted over measured ones only
KINDS = ("measured", "bookkeeping", "model")
# which parameters a run uses: the library's defaults only (what a user gets before any
# fitting), or values the study sets from its paper
PARAMETER_SETS = ("library", "study")
# "below 1"-type statements: the reported value is a bound the model must stay under/over
BOUNDS = ("below", "above")


# ------------------------------------------------------------------------------------------
# study files

@dataclass
class RunSpec:
    name: str
    case: Path
    set: dict = field(default_factory=dict)      # dotted case keys -> values
    label: str = ""
    skip_on_input_error: bool = False            # a feature the solver may not have yet


@dataclass
class Comparison:
    quantity: str
    reference: str             # id of the row in reference.csv
    metric: str
    run: str | None = None
    args: dict = field(default_factory=dict)
    rel_tol: float | None = None
    abs_tol: float | None = None
    if_failed: str = ""
    kind: str = "measured"
    fitted_to_this: bool = False     # a parameter of the run was fitted to this reference
    parameters: str = "study"        # "library": the run uses library defaults only
    bound: str | None = None         # the reference is an upper ("below") or lower bound


@dataclass
class Reference:
    id: str
    quantity: str
    value: float
    unit: str
    source: str
    location: str
    obtained: str
    note: str = ""


@dataclass
class Study:
    name: str
    path: Path
    title: str
    source: str
    fast: bool
    runs: dict
    comparisons: list
    references: dict
    plot: dict = field(default_factory=dict)
    fit: Path | None = None                 # a fit file: its experiments are runs (see below)


RUN_ARGS = ("relative_to", "compare_run", "compare_relative_to")   # args naming runs
FILE_ARGS = ("emf", "case")                                         # args naming files


def _study_error(path, key, value, expected):
    return InputError(f"{path}: {key}", value, expected)


def load_study(folder) -> Study:
    """Read and check a study folder (study.toml + reference.csv)."""
    folder = Path(folder)
    spec_path = folder / "study.toml"
    try:
        with spec_path.open("rb") as handle:
            data = tomllib.load(handle)
    except FileNotFoundError:
        raise _study_error(folder, "study.toml", None, "a study.toml file") from None
    except tomllib.TOMLDecodeError as exc:
        raise _study_error(spec_path, "toml", str(exc), "valid TOML") from None
    head = data.get("study", {})
    for key in ("title", "source"):
        if not isinstance(head.get(key), str) or not head[key].strip():
            raise _study_error(spec_path, f"study.{key}", head.get(key), "a non-empty string")
    references = read_references(folder / "reference.csv")
    if not isinstance(head.get("fast", False), bool):
        raise _study_error(spec_path, "study.fast", head["fast"], "true or false")

    runs = {}
    for name, entry in data.get("runs", {}).items():
        key = f"runs.{name}"
        if not isinstance(entry, dict) or "case" not in entry:
            raise _study_error(spec_path, key, entry, "a table with at least `case`")
        case = folder / entry["case"]
        if not case.is_file():
            raise _study_error(spec_path, f"{key}.case", entry["case"],
                               "a case file in the study folder")
        unknown = set(entry) - {"case", "set", "label", "skip_on_input_error"}
        if unknown:
            raise _study_error(spec_path, key, sorted(unknown),
                               "only case, set, label, skip_on_input_error")
        runs[name] = RunSpec(name, case, dict(entry.get("set", {})), entry.get("label", name),
                             bool(entry.get("skip_on_input_error", False)))

    fit_file, fit_runs = _study_fit(folder, spec_path, data.get("fit"))
    comparisons = []
    for k, entry in enumerate(data.get("comparisons", [])):
        key = f"comparisons.{k}"
        unknown = set(entry) - {"quantity", "reference", "metric", "run", "args", "rel_tol",
                                "abs_tol", "if_failed", "kind", "fitted_to_this", "parameters",
                                "bound"}
        if unknown:
            raise _study_error(spec_path, key, sorted(unknown), "known comparison keys")
        metric = entry.get("metric")
        if metric not in RUN_METRICS and metric not in CALCULATIONS:
            raise _study_error(spec_path, f"{key}.metric", metric,
                               f"one of {', '.join(list(RUN_METRICS) + list(CALCULATIONS))}")
        ref = entry.get("reference")
        if ref not in references:
            raise _study_error(spec_path, f"{key}.reference", ref, "an id of reference.csv")
        run = entry.get("run")
        if metric in RUN_METRICS and run not in runs and run not in fit_runs:
            raise _study_error(spec_path, f"{key}.run", run, "a run of this study")
        bound = entry.get("bound")
        if bound is not None and bound not in BOUNDS:
            raise _study_error(spec_path, f"{key}.bound", bound, " | ".join(BOUNDS))
        if bound is None and ("rel_tol" in entry) == ("abs_tol" in entry):
            raise _study_error(spec_path, key, entry, "exactly one of rel_tol, abs_tol")
        if bound is not None and ("rel_tol" in entry or "abs_tol" in entry):
            raise _study_error(spec_path, key, entry,
                               "no tolerance with a bound (the model must be below or above it)")
        for name in ("rel_tol", "abs_tol"):
            value = entry.get(name, 0.0)
            if (isinstance(value, bool) or not isinstance(value, (int, float))
                    or not math.isfinite(value) or value < 0):
                raise _study_error(spec_path, f"{key}.{name}", value,
                                   "a finite number, zero or more (abs_tol in the reported "
                                   "unit, rel_tol a fraction of the reported value)")
        args = entry.get("args", {})
        for name in RUN_ARGS:
            if name in args and args[name] not in runs and args[name] not in fit_runs:
                raise _study_error(spec_path, f"{key}.args.{name}", args[name],
                                   "a run of this study")
        for name in FILE_ARGS:
            if name in args and not (isinstance(args[name], str)
                                     and (folder / args[name]).is_file()):
                raise _study_error(spec_path, f"{key}.args.{name}", args[name],
                                   "a file, relative to the study folder")
        kind = entry.get("kind", "bookkeeping" if metric in CALCULATIONS else "measured")
        if kind not in KINDS:
            raise _study_error(spec_path, f"{key}.kind", kind, " | ".join(KINDS))
        parameters = entry.get("parameters", "study")
        if parameters not in PARAMETER_SETS:
            raise _study_error(spec_path, f"{key}.parameters", parameters,
                               " | ".join(PARAMETER_SETS))
        fitted = entry.get("fitted_to_this", False)
        if not isinstance(fitted, bool):
            raise _study_error(spec_path, f"{key}.fitted_to_this", fitted, "true or false")
        unit = RUN_METRICS.get(metric, CALCULATIONS.get(metric, (None, None)))[0]
        if references[ref].unit != unit:
            raise _study_error(folder / "reference.csv", f"{ref}.unit", references[ref].unit,
                               f"{unit!r}, the unit of metric {metric}")
        comparisons.append(Comparison(
            quantity=entry.get("quantity") or references[ref].quantity, reference=ref,
            metric=metric, run=run, args=dict(entry.get("args", {})),
            rel_tol=entry.get("rel_tol"), abs_tol=entry.get("abs_tol"),
            if_failed=entry.get("if_failed", ""), kind=kind, fitted_to_this=fitted,
            parameters=parameters, bound=bound))
    if not comparisons:
        raise _study_error(spec_path, "comparisons", [], "at least one [[comparisons]] table")
    return Study(name=folder.name, path=folder, title=head["title"], source=head["source"],
                 fast=bool(head.get("fast", False)), runs=runs, comparisons=comparisons,
                 references=references, plot=dict(data.get("plot", {})), fit=fit_file)


def read_references(path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise _study_error(path.parent, "reference.csv", None, "a reference.csv file")
    lines = [line for line in path.read_text().splitlines()
             if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.DictReader(lines)
    if tuple(reader.fieldnames or ()) != REFERENCE_COLUMNS:
        raise _study_error(path, "header", reader.fieldnames, ",".join(REFERENCE_COLUMNS))
    rows = {}
    for row in reader:
        rid = row["id"]
        if row["obtained"] not in OBTAINED:
            raise _study_error(path, f"{rid}.obtained", row["obtained"], " | ".join(OBTAINED))
        for key in ("source", "location", "quantity"):
            if not row[key].strip():
                raise _study_error(path, f"{rid}.{key}", row[key], "a non-empty entry")
        if rid in rows:
            raise _study_error(path, "id", rid, "ids that appear once")
        try:
            value = float(row["value"])
        except ValueError:
            raise _study_error(path, f"{rid}.value", row["value"], "a number") from None
        if not math.isfinite(value):
            raise _study_error(path, f"{rid}.value", row["value"], "a finite number")
        rows[rid] = Reference(rid, row["quantity"], value, row["unit"], row["source"],
                              row["location"], row["obtained"], row.get("note") or "")
    return rows


def discover(root=VALIDATION_DIR) -> list[Path]:
    """Study folders under `root` (those with a study.toml), sorted by name."""
    root = Path(root)
    return sorted(p.parent for p in root.glob("*/study.toml"))


# ------------------------------------------------------------------------------------------
# runs (in worker processes)

def apply_settings(raw: dict, settings: dict) -> dict:
    """A copy of a case's TOML dict with dotted keys set, as in sweeps:
    "protocol.0.c_rate", "materials.LiPON.conductivity", "cell.layers.cathode.thickness"."""
    from .sweep import resolve_key, set_path

    raw = copy.deepcopy(raw)
    for dotted, value in settings.items():
        set_path(raw, resolve_key(raw, dotted, value), value)
    return raw


@dataclass
class RunJob:
    """A run of a study, its case loaded and checked (in this process)."""
    study: str
    name: str
    case: object
    may_skip: bool = False


def _run_output(study, name, **fields) -> dict:
    out = {"study": study, "run": name, "status": "ok", "message": "", "summary": None,
           "series": [], "layers": {}}
    out.update(fields)
    return out


def _invalid_output(study, name, may_skip, exc) -> dict:
    # a feature the solver does not have yet is a skip, a broken study case an error
    return _run_output(study, name, status="skipped" if may_skip else "error",
                       message=f"the solver rejects this case (invalid input): {exc}")


def prepare_run(study: str, spec: RunSpec):
    """(RunJob, None) for a run whose case loads, else (None, its output: skipped/error)."""
    from .case import case_from_dict, load_case

    try:
        case = load_case(spec.case)
        if spec.set:
            case = case_from_dict(apply_settings(case.raw, spec.set), case.path.parent,
                                  source=str(spec.case))
    except InputError as exc:
        if not spec.skip_on_input_error:     # a broken study, refused before anything runs
            raise InputError(f"{study}: runs.{spec.name}: {exc.key}", exc.value,
                             exc.expected) from None
        return None, _invalid_output(study, spec.name, spec.skip_on_input_error, exc)
    return RunJob(study, spec.name, case, spec.skip_on_input_error), None


def execute_run(case, study: str, name: str, may_skip: bool = False, threads: int = 1,
                time_limit: float | None = None) -> dict:
    """Run one study case (on a worker). Returns a small picklable dict; never raises for a
    bad case, a solver failure or a run beyond `time_limit` seconds (status says which)."""
    from .api import run
    from .threads import limited_threads

    started = time.perf_counter()
    out = _run_output(study, name, layers={layer.name: layer.thickness
                                           for layer in case.layers})
    try:
        with limited_threads(threads):
            result = run(case, time_limit=time_limit)
    except InputError as exc:
        return _invalid_output(study, name, may_skip, exc)
    except SolverError as exc:
        out.update(status="solver_failed", message=str(exc))
        return out
    except RunInterrupted as exc:
        if not exc.reason.startswith("time limit"):
            raise                    # a signal in an in-process run: stop the suite
        out.update(status="time_limit", message=exc.message)
        return out
    except Exception as exc:  # noqa: BLE001 - report it, do not take the suite down
        out.update(status="error", message=f"{type(exc).__name__}: {exc}")
        return out
    out["summary"] = result.summary
    if result.failed:
        out.update(status="solver_failed", message=result.summary.get("message", ""))
    out["series"] = _series(result)
    out["wall_time_s"] = time.perf_counter() - started
    return out


def _series(result):
    """Per step of a run: its capacity (uAh/cm2) and voltage points."""
    series = []
    start = 0.0
    for k, _ in enumerate(result.summary["steps"]):
        s = result.step_series(k)
        if "capacity_mAh_cm2" in s and "voltage_V" in s and s["time_s"].size:
            series.append({"capacity_uAh_cm2": (s["capacity_mAh_cm2"] * 1e3).tolist(),
                           "voltage_V": s["voltage_V"].tolist(),
                           "elapsed_s": (s["time_s"] - start).tolist()})
            start = float(s["time_s"][-1])
        else:                           # a step that failed before its first time step
            series.append({"capacity_uAh_cm2": [], "voltage_V": [], "elapsed_s": []})
    return series


def check_comparison_args(study: Study, cases: dict) -> None:
    """The layer and step a comparison names exist in its run's case (before anything
    runs: a typo would otherwise skip the comparison after the runs)."""
    for k, comp in enumerate(study.comparisons):
        case = cases.get(comp.run)
        if case is None:
            continue
        key = f"{study.path / 'study.toml'}: comparisons.{k}.args"
        layers = [layer.name for layer in case.layers]
        if "layer" in comp.args and comp.args["layer"] not in layers:
            raise InputError(f"{key}.layer", comp.args["layer"],
                             f"a layer of run {comp.run} ({', '.join(layers)})")
        step = comp.args.get("step", 0)
        if isinstance(step, bool) or not isinstance(step, int) \
                or not 0 <= step < len(case.protocol):
            raise InputError(f"{key}.step", step, f"a step of run {comp.run}: 0 to "
                                                  f"{len(case.protocol) - 1}")


def run_studies(studies, workers=None, scheduler=None, threads=1, time_limit=None,
                progress=False) -> list[dict]:
    """The outputs of every run of the studies, run on the shared Dask runner (a local
    cluster of `workers` processes, or `scheduler`); cases that do not load are outputs
    with status skipped/error without running."""
    from .runner import run_all

    outputs, jobs = [], []
    for study in studies:
        cases = {}
        for spec in study.runs.values():
            job, output = prepare_run(study.name, spec)
            outputs.append(output)
            if job is not None:
                jobs.append(job)
                cases[spec.name] = job.case
        check_comparison_args(study, cases)
    ran = iter(run_all(execute_run, jobs, _job_arguments, _job_key, _worker_error,
                       workers=workers, scheduler=scheduler, progress=progress,
                       desc="validate", describe=lambda job, out: f"{job.study} {job.name}: "
                                                                 f"{out['status']}",
                       threads=threads, time_limit=time_limit))
    return [output if output is not None else next(ran) for output in outputs]


def _job_arguments(job: RunJob):
    return job.case, job.study, job.name, job.may_skip


def _job_key(job: RunJob) -> str:
    return f"thinfilm-validate-{job.study}-{job.name}-{id(job):x}"


def _worker_error(job: RunJob, exc) -> dict:     # e.g. a worker that died
    return _run_output(job.study, job.name, status="error",
                       message=f"{type(exc).__name__}: {exc}")


# ------------------------------------------------------------------------------------------
# metrics of runs: name -> (unit, function(run_output, args, runs) -> float)

def _step(out, args):
    steps = out["summary"]["steps"]
    k = int(args.get("step", 0))
    if k >= len(steps):
        raise ValueError(f"run {out['run']} has no step {k}")
    return steps[k]


def _capacity(out, args, runs):
    return _step(out, args)["capacity_mAh_cm2"] * 1e3


def _capacity_total(out, args, runs):
    return _step(out, args)["capacity_mAh_cm2"] * 1e3 * out["summary"]["footprint_area_cm2"]


def _capacity_per_thickness(out, args, runs):
    thickness_um = out["layers"][args["layer"]] * 1e6
    return _capacity(out, args, runs) / thickness_um


def _mean_voltage(out, args, runs):
    return _step(out, args)["mean_voltage_V"]


def _start_voltage(out, args, runs):
    """The voltage at the start of a step as a measurement sees it: its first row from
    results.FIRST_SAMPLE_S on (the ohmic and kinetic drops have happened, the double layers
    have charged)."""
    series = out["series"][int(args.get("step", 0))]
    if not series["voltage_V"]:
        raise ValueError(f"run {out['run']} has no rows in that step")
    first = int(np.argmax(measurable_rows(series["elapsed_s"])))
    return float(series["voltage_V"][first])


def _energy(out, args, runs):
    return _step(out, args)["energy_mWh_cm2"] * 1e3


def _capacity_ratio(out, args, runs):
    other = runs[args["relative_to"]]
    if other["status"] != "ok":
        raise RuntimeError(f"run {args['relative_to']}: {other['status']} {other['message']}")
    return _capacity(out, args, runs) / _capacity(other, {"step": args.get("relative_step", 0)},
                                                  runs)


def _retention_ratio(out, args, runs):
    """(Q(run) / Q(relative_to)) / (Q(compare_run) / Q(compare_relative_to)): how much more
    (> 1) or less (< 1) of its capacity one cell keeps at a rate than another cell does, each
    against its own reference run (e.g. a 3D cell against its planar twin)."""
    own = _capacity_ratio(out, {"relative_to": args["relative_to"],
                                "step": args.get("step", 0)}, runs)
    other_name = args["compare_run"]
    other = runs[other_name]
    if other["status"] != "ok":
        raise RuntimeError(f"run {other_name}: {other['status']} {other['message']}")
    theirs = _capacity_ratio(other, {"relative_to": args["compare_relative_to"],
                                     "step": args.get("step", 0)}, runs)
    return own / theirs


RUN_METRICS = {
    "capacity": ("uAh/cm^2", _capacity),
    "capacity_total": ("uAh", _capacity_total),
    "capacity_per_thickness": ("uAh/cm^2/um", _capacity_per_thickness),
    "mean_voltage": ("V", _mean_voltage),
    "start_voltage": ("V", _start_voltage),
    "energy": ("uWh/cm^2", _energy),
    "capacity_ratio": ("1", _capacity_ratio),
    "retention_ratio": ("1", _retention_ratio),
}


# ------------------------------------------------------------------------------------------
# calculations through the solver's code paths (no time integration)

def layer_resistance(thickness, conductivity, area=1e-4, cells=8):
    """Resistance (ohm) of a uniform layer between two equipotential faces, from the
    finite-volume conduction operator the solver assembles (meshes.planar + operators)."""
    import scipy.sparse.linalg as spla

    from .operators import boundary_transmissibility, diffusion_matrix
    from .siblings import sibling

    planar_grid = sibling("meshes.planar").planar_grid
    grid = planar_grid([("layer", thickness)], cells, area, dim=1, grading=0.5)
    bottom, top = grid.boundary_faces["bottom"], grid.boundary_faces["top"]
    faces = np.concatenate([bottom, top])
    K = diffusion_matrix(grid, conductivity, dirichlet_faces=faces)
    rhs = np.zeros(grid.n_cells)
    t_bottom = boundary_transmissibility(grid, np.full(grid.n_cells, conductivity), bottom)
    np.add.at(rhs, grid.face_cells[bottom, 0], t_bottom * 1.0)      # 1 V on the bottom face
    phi = spla.spsolve(K.tocsc(), rhs)
    current = float(np.sum(t_bottom * (1.0 - phi[grid.face_cells[bottom, 0]])))
    return 1.0 / current


def _q(args, key, dimension):
    return parse_quantity(args[key], dimension, key)


def calc_electrolyte_asr(args, base):
    """Area-specific resistance (ohm cm^2) of a library electrolyte film at a temperature."""
    from .materials import load_material
    from .physics.arrhenius import arrhenius

    material = load_material(args["material"], args.get("overrides"), base)
    temperature = _q(args, "temperature", "temperature") if "temperature" in args else \
        material.value("reference_temperature")
    kappa = arrhenius(material.value("conductivity"), material.value("activation_energy"),
                      temperature, material.value("reference_temperature"))
    area = 1e-4
    return layer_resistance(_q(args, "thickness", "length"), kappa, area) * area * 1e4


def calc_threshold_conductivity(args, base):
    """Smallest conductivity (S/cm) for which a film of `thickness` stays within `asr`."""
    area = 1e-4
    asr_unit = layer_resistance(_q(args, "thickness", "length"), 1.0, area) * area   # at 1 S/m
    target = _q(args, "asr", "area_resistance")
    return asr_unit / target / 100.0


def calc_lithium_areal_capacity(args, base):
    """Charge (mAh/cm^2) held by a lithium film of `thickness` (library Li density, M)."""
    from .materials import load_material

    li = load_material(args.get("material", "Li"), args.get("overrides"), base)
    return li.volumetric_capacity() * _q(args, "thickness", "length") / 3.6 / 1e4


def calc_lithium_thickness(args, base):
    """Thickness (um) of lithium metal holding `areal_capacity`."""
    from .materials import load_material

    li = load_material(args.get("material", "Li"), args.get("overrides"), base)
    return _q(args, "areal_capacity", "areal_charge") / li.volumetric_capacity() * 1e6


def calc_arrhenius_conductivity(args, base):
    """A conductivity (S/cm) moved along the solver's Arrhenius law to `temperature`."""
    from .physics.arrhenius import arrhenius

    return arrhenius(_q(args, "conductivity", "conductivity"),
                     _q(args, "activation_energy", "molar_energy"),
                     _q(args, "temperature", "temperature"),
                     _q(args, "reference_temperature", "temperature")) / 100.0


def _case_of(args, base):
    from .case import case_from_dict, load_case

    case = load_case(Path(base) / args["case"])
    if args.get("set"):
        case = case_from_dict(apply_settings(case.raw, args["set"]), case.path.parent)
    return case


def calc_theoretical_capacity(args, base):
    """Theoretical capacity (uAh) of one layer of a case (usable stoichiometry range)."""
    case = _case_of(args, base)
    layer = case.layer(args["layer"])
    return layer.material.volumetric_capacity() * layer.thickness * case.footprint_area / 3.6e-3


def calc_charge_transfer_resistance(args, base):
    """Linear charge-transfer resistance (ohm cm^2) of a layer's interface at stoichiometry
    x: 1 / (di/deta at eta = 0), from the solver's Butler-Volmer functions."""
    from .physics.kinetics import butler_volmer, exchange_current_density

    case = _case_of(args, base)
    material = case.layer(args["layer"]).material
    alpha_a = material.value("charge_transfer_coefficient")
    if material.has("rate_constant"):
        i0, _ = exchange_current_density(np.array([float(args["stoichiometry"])]),
                                         material.value("rate_constant"),
                                         material.value("max_concentration"),
                                         alpha_a, 1.0 - alpha_a)
    else:
        i0 = np.array([material.value("exchange_current_density")])
    _, di_deta = butler_volmer(np.zeros(1), i0, alpha_a, 1.0 - alpha_a, case.temperature)
    return float(1.0 / di_deta[0]) * 1e4


CALCULATIONS = {
    "electrolyte_asr": ("ohm*cm^2", calc_electrolyte_asr),
    "threshold_conductivity": ("S/cm", calc_threshold_conductivity),
    "lithium_areal_capacity": ("mAh/cm^2", calc_lithium_areal_capacity),
    "lithium_thickness": ("um", calc_lithium_thickness),
    "arrhenius_conductivity": ("S/cm", calc_arrhenius_conductivity),
    "theoretical_capacity": ("uAh", calc_theoretical_capacity),
    "charge_transfer_resistance": ("ohm*cm^2", calc_charge_transfer_resistance),
}


# ------------------------------------------------------------------------------------------
# evaluation

def evaluate(study: Study, runs: dict) -> tuple[list, list]:
    """(records, skipped) of one study, given the outputs of its runs by name."""
    records, skipped = [], []
    for comp in study.comparisons:
        ref = study.references[comp.reference]
        try:
            if comp.metric in CALCULATIONS:
                model = float(CALCULATIONS[comp.metric][1](comp.args, study.path))
            else:
                out = runs[comp.run]
                if out["status"] != "ok":
                    skipped.append({"study": study.name, "quantity": comp.quantity,
                                    "run": comp.run, "status": out["status"],
                                    "reason": out["message"]})
                    continue
                model = float(RUN_METRICS[comp.metric][1](out, comp.args, runs))
        except (InputError, RuntimeError, ValueError, KeyError, ZeroDivisionError,
                OSError) as exc:
            skipped.append({"study": study.name, "quantity": comp.quantity, "run": comp.run,
                            "status": "error", "reason": f"{type(exc).__name__}: {exc}"})
            continue
        if comp.bound is not None:
            tolerance = 0.0
            passed = bool(math.isfinite(model) and (model < ref.value if comp.bound == "below"
                                                    else model > ref.value))
        else:
            tolerance = (comp.abs_tol if comp.abs_tol is not None
                         else comp.rel_tol * abs(ref.value))
            passed = bool(math.isfinite(model) and abs(model - ref.value) <= tolerance)
        records.append({
            "study": study.name,
            "source": f"{ref.source}, {ref.location}",
            "quantity": comp.quantity,
            "reported": ref.value,
            "model": model,
            "tolerance": float(tolerance),
            "passed": passed,
            "unit": ref.unit,
            "tolerance_relative": comp.rel_tol,
            "obtained": ref.obtained,
            "reference_id": ref.id,
            "run": comp.run,
            "if_failed": "" if passed else comp.if_failed,
            "kind": comp.kind,
            "metric": comp.metric,
            "fitted_to_this": comp.fitted_to_this,
            "parameters": comp.parameters,
            "bound": comp.bound,
            "error_relative": (model - ref.value) / abs(ref.value) if ref.value else None,
        })
    return records, skipped


def select_studies(root=VALIDATION_DIR, names=None, fast_only=False) -> list[Study]:
    """The studies under `root` (only `names`, only the fast ones); none is an error, so
    that a suite that found nothing to compare never passes."""
    found = discover(root)
    if not found:
        raise InputError("--root", str(root), "a folder of validation studies (subfolders "
                                              "with a study.toml); none found there")
    every = [load_study(p) for p in found]
    studies = every
    if names:
        known = {s.name for s in every}
        missing = [n for n in names if n not in known]
        if missing:
            raise InputError("--study", ",".join(missing), f"one of: {', '.join(sorted(known))}")
        studies = [s for s in every if s.name in names]
    if fast_only:
        studies = [s for s in studies if s.fast]
        if not studies:
            fast = ", ".join(s.name for s in every if s.fast) or "none"
            key, value = ("--study", ",".join(names)) if names else ("--fast", True)
            raise InputError(key, value, f"with --fast, a fast study (the fast ones: {fast})")
    return studies


def run_suite(out_dir, root=VALIDATION_DIR, names=None, fast_only=False, workers=None,
              plots=True, threads=1, scheduler=None, time_limit=None, progress=False,
              echo=None) -> dict:
    """Run the studies, write validation.json and report.md (+ PNG plots) to `out_dir`.

    The runs and the studies' fits share one Dask runner (solver.runner, as sweeps and
    fits do): a local cluster of `workers` processes (default: the CPU cores, at most one
    per run) or a running `scheduler` (an address or a distributed.Client); each run on
    `threads` BLAS threads, stopped after `time_limit` seconds (status time_limit).
    progress: a progress bar on stderr (a terminal only). echo: told of a worker count
    reduced to the CPU cores.
    """
    from .runner import DaskRunner, default_workers
    from .sweep import check_workers

    started = time.perf_counter()
    workers = check_workers(workers, scheduler, echo)
    if time_limit is not None and not (isinstance(time_limit, (int, float))
                                       and time_limit > 0):
        raise InputError("time_limit", time_limit, "a time greater than zero, or none")
    studies = select_studies(root, names, fast_only)
    n_runs = sum(len(s.runs) for s in studies)
    with contextlib.ExitStack() as stack:
        client, used = None, "no"
        if n_runs or any(s.fit is not None for s in studies):
            runner = stack.enter_context(DaskRunner(workers or default_workers(n_runs or 1),
                                                    scheduler))
            client, used = runner.client, runner.n_workers
        outputs = run_studies(studies, scheduler=client, threads=threads,
                              time_limit=time_limit, progress=progress)
        by_study = {s.name: {} for s in studies}
        for out in outputs:
            by_study[out["study"]][out["run"]] = out
        fits = run_fits(studies, by_study, Path(out_dir), client)
    records, skipped = [], []
    for study in studies:
        rec, skip = evaluate(study, by_study[study.name])
        mark_fitted(rec, fits.get(study.name))
        records += rec
        skipped += skip
        for out in by_study[study.name].values():
            if out["status"] != "ok" and not any(s.get("run") == out["run"]
                                                 and s["study"] == study.name for s in skip):
                skipped.append({"study": study.name, "quantity": "(run without comparisons)",
                                "run": out["run"], "status": out["status"],
                                "reason": out["message"]})
    elapsed = time.perf_counter() - started
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    from .files import write_atomic

    write_atomic(out_dir / "validation.json", json.dumps(records, indent=2) + "\n")
    figures = {}
    if plots:
        for study in studies:
            png = study_figure_png(study, by_study[study.name],
                                   [r for r in records if r["study"] == study.name])
            if png is not None:
                name = f"{study.name}.png"
                write_atomic(out_dir / name, png)
                figures[study.name] = name
    report = report_markdown(studies, records, skipped, by_study, figures, elapsed, used)
    report += fit_sections(studies, fits)
    write_atomic(out_dir / "report.md", report)
    return {"records": records, "skipped": skipped, "runs": by_study, "elapsed_s": elapsed,
            "studies": [s.name for s in studies], "fits": fits}


# ------------------------------------------------------------------------------------------
# fit and predict (DESIGN.md section 8): a study's [fit] names a fit file (solver.fit); its
# experiments, run at the fitted values, become runs of the study under their names.
# Comparisons on `predict` experiments are the ones that validate (fitted_to_this = false);
# those on `fit` experiments only show how well the fit went (fitted_to_this = true).

def _study_fit(folder, spec_path, table):
    """(fit file, its experiment names) of a study's [fit] table, or (None, set())."""
    if table is None:
        return None, set()
    if not isinstance(table, dict) or set(table) != {"file"}:
        raise _study_error(spec_path, "fit", table, "a table with only file = 'FIT.toml'")
    path = folder / str(table["file"])
    if not path.is_file():
        raise _study_error(spec_path, "fit.file", table["file"], "a fit file in the study folder")
    from .fit import load_fit

    return path, {e.name for e in load_fit(path).experiments}


def run_fits(studies, by_study, out_dir, client) -> dict:
    """Run each study's fit (into OUT/fits/STUDY/, resumable) on the suite's Dask client;
    add its experiments as runs."""
    from .fit import fit, load_fit

    fits = {}
    for study in studies:
        for out in by_study[study.name].values():      # metrics with study files need it
            out.setdefault("folder", str(study.path))
        if study.fit is None:
            continue
        try:
            result = fit(study.fit, out_dir / "fits" / study.name, scheduler=client)
        except (InputError, SolverError) as exc:
            for name in {e.name for e in load_fit(study.fit).experiments}:
                by_study[study.name][name] = {"study": study.name, "run": name,
                                              "status": "solver_failed", "message": str(exc),
                                              "summary": None, "series": [], "layers": {}}
            continue
        fits[study.name] = result
        for e in result.spec.experiments:
            curve = result.curves[e.name]
            out = {"study": study.name, "run": e.name, "status": "ok", "message": "",
                   "summary": None, "series": [], "layers": {}, "fit_role": e.role,
                   "folder": str(study.path)}
            if curve.result is None or curve.failed:
                out.update(status="solver_failed", message=curve.message)
            if curve.result is not None:
                out["summary"] = curve.result.summary
                out["series"] = _series(curve.result)
                out["layers"] = {layer.name: layer.thickness
                                 for layer in curve.result.model.case.layers}
                out["wall_time_s"] = curve.result.summary["wall_time_s"]
            by_study[study.name][e.name] = out
    return fits


def mark_fitted(records, fit_result) -> None:
    """Records of a study's `fit` experiments are fitted to their own data (on top of the
    comparisons that say fitted_to_this themselves)."""
    fitted = {e.name for e in fit_result.spec.experiments if e.role == "fit"} if fit_result \
        else set()
    for record in records:
        record["fitted_to_this"] = bool(record.get("fitted_to_this")) \
            or record.get("run") in fitted


def fit_sections(studies, fits) -> str:
    from .fit.report import rmse_text

    lines = []
    for study in studies:
        result = fits.get(study.name)
        if result is None:
            continue
        s = result.summary
        lines += ["", f"## {study.name}: fitted parameters", "",
                  f"Fit file `{study.fit.name}`; fitted to "
                  + ", ".join(e.name for e in result.spec.experiments if e.role == "fit")
                  + "; predicted (the comparisons that validate): "
                  + ", ".join(e.name for e in result.spec.experiments if e.role == "predict")
                  + f". {s['evaluations']} evaluations, {s['wall_time_s']:.1f} s.", "",
                  "| parameter | value | 95 % interval | unit |", "|---|---|---|---|"]
        for key, entry in s["parameters"].items():
            low, high = entry["ci95"]
            interval = f"{low:.4g} – {high:.4g}" if low is not None else "not determined"
            lines.append(f"| `{key}` | {entry['value']:.4g} | {interval} | {entry['unit']} |")
        lines += [""] + [f"- {w}" for w in s["warnings"]]
        lines += ["", "| experiment | role | RMSE | end error |", "|---|---|---|---|"]
        for e in s["experiments"]:
            end = "" if e["capacity_error"] is None else f"{e['capacity_error'] * 100:+.2f} %"
            lines.append(f"| {e['name']} | {e['role']} | {rmse_text(e, markdown=True)} | "
                         f"{end} |")
    return "\n".join(lines) + ("\n" if lines else "")


def _overpotential_window(out, args, runs):
    """Median over a capacity window ([from, to] in uAh/cm2) of the model's voltage minus an
    EMF table (`emf`: CSV in the study folder, columns capacity_uAh_cm2, emf_V), in mV."""
    from scipy.interpolate import PchipInterpolator

    text = (Path(out["folder"]) / args["emf"]).read_text().splitlines()
    rows = list(csv.DictReader(line for line in text if line.strip() and not line.startswith("#")))
    emf = PchipInterpolator([float(r["capacity_uAh_cm2"]) for r in rows],
                            [float(r["emf_V"]) for r in rows])
    series = out["series"][int(args.get("step", 0))]
    q, v = np.array(series["capacity_uAh_cm2"]), np.array(series["voltage_V"])
    low, high = args["window"]
    inside = (q >= low) & (q <= high)
    if not np.any(inside):
        raise ValueError(f"run {out['run']} has no point between {low} and {high} uAh/cm2")
    return float(np.median(v[inside] - emf(q[inside])) * 1e3)


RUN_METRICS.update({
    "overpotential_window": ("mV", _overpotential_window),
})


# ------------------------------------------------------------------------------------------
# report

def _fmt(value):
    if value is None:
        return ""
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.3e}"


def _reported(r) -> str:
    if r.get("bound") == "below":
        return f"< {_fmt(r['reported'])}"
    if r.get("bound") == "above":
        return f"> {_fmt(r['reported'])}"
    return _fmt(r["reported"])


def _tolerance(r) -> str:
    if r.get("bound"):
        return "(bound)"
    tol = f"±{_fmt(r['tolerance'])}"
    if r.get("tolerance_relative") is not None:
        tol += f" ({r['tolerance_relative'] * 100:g} %)"
    return tol


def counts_toward_fidelity(record) -> bool:
    """Measured on a real cell, and no parameter of the run fitted to that measurement."""
    return record.get("kind", "measured") == "measured" and not record.get("fitted_to_this")


def summary_table(records) -> str:
    """The markdown table of validation.json (also used in validation/README.md)."""
    lines = ["| study | kind | quantity | reported | model | tolerance | unit | parameters | "
             "fitted to it | pass |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for r in records:
        lines.append(f"| {r['study']} | {r.get('kind', 'measured')} | {r['quantity']} | "
                     f"{_reported(r)} | {_fmt(r['model'])} | {_tolerance(r)} | {r['unit']} | "
                     f"{r.get('parameters', 'study')} | "
                     f"{'yes' if r.get('fitted_to_this') else 'no'} | "
                     f"{'yes' if r['passed'] else '**no**'} |")
    return "\n".join(lines)


def fidelity_line(records) -> str:
    """Fidelity over measured comparisons not fitted to their data, and the other kinds."""
    counted = [r for r in records if counts_toward_fidelity(r)]
    n_pass = sum(r["passed"] for r in counted)
    parts = [f"measured (not fitted to them): {n_pass} of {len(counted)} within tolerance"
             + (f" ({100.0 * n_pass / len(counted):.0f} %)" if counted else "")]
    fitted = [r for r in records if r.get("kind", "measured") == "measured"
              and r.get("fitted_to_this")]
    if fitted:
        parts.append(f"measured but fitted to: {sum(r['passed'] for r in fitted)} of "
                     f"{len(fitted)}")
    for kind in ("bookkeeping", "model"):
        these = [r for r in records if r.get("kind") == kind]
        if these:
            parts.append(f"{kind}: {sum(r['passed'] for r in these)} of {len(these)}")
    return "; ".join(parts)


def library_default_errors(records) -> list[dict]:
    """Per study, the worst relative error of its measured comparisons that use library
    defaults only: what a user gets before any fitting."""
    out = {}
    for r in records:
        if r.get("parameters") != "library" or r.get("kind", "measured") != "measured":
            continue
        if r.get("error_relative") is None or r.get("bound"):
            continue
        entry = out.setdefault(r["study"], {"study": r["study"], "n": 0, "worst": 0.0,
                                            "worst_quantity": "", "passed": 0,
                                            "fitted_to_this": False})
        entry["n"] += 1
        entry["passed"] += int(r["passed"])
        entry["fitted_to_this"] |= bool(r.get("fitted_to_this"))
        if abs(r["error_relative"]) >= abs(entry["worst"]):
            entry["worst"] = r["error_relative"]
            entry["worst_quantity"] = r["quantity"]
    return list(out.values())


def library_default_table(records) -> str:
    rows = library_default_errors(records)
    if not rows:
        return ""
    lines = ["| study | comparisons | within tolerance | worst error | at | a default fitted "
             "to these data |", "|---|---|---|---|---|---|"]
    for e in rows:
        lines.append(f"| {e['study']} | {e['n']} | {e['passed']} | {e['worst'] * 100:+.1f} % | "
                     f"{e['worst_quantity']} | {'yes' if e['fitted_to_this'] else 'no'} |")
    return "\n".join(lines)


def report_markdown(studies, records, skipped, by_study, figures, elapsed, workers) -> str:
    papers = {r["source"].split(",")[0] for r in records}
    counts = (f"{len(records)} comparisons from {len(studies)} studies "
              f"({len(papers)} distinct first-named sources); {fidelity_line(records)}; "
              f"{len(skipped)} skipped. Wall time {elapsed:.1f} s on {workers} worker "
              f"process(es).")
    rule = ("A comparison passes when |model − reported| ≤ tolerance (absolute, in the "
            "reported unit; a relative tolerance is shown in brackets), or, for a bound, when "
            "the model lies on its side. Kinds: measured (on a real cell), bookkeeping "
            "(arithmetic from printed numbers), model (another model's output). Fidelity "
            "counts measured comparisons whose runs have no parameter fitted to them. "
            "`parameters`: library = the library's defaults only (what a user gets), study = "
            "values the study sets from its paper. Each study's README.md "
            "(validation/<study>/) argues its tolerances and lists the parameters the paper "
            "does not print.")
    lines = ["# thinfilm validation report", "", counts, "", rule, ""]
    defaults = library_default_table(records)
    if defaults:
        lines += ["## Library defaults (what a user gets before any fitting)", "", defaults, ""]
    lines += ["## Summary", ""]
    for kind in KINDS:
        these = [r for r in records if r.get("kind", "measured") == kind]
        if these:
            lines += [f"### {kind}", "", summary_table(these), ""]
    if skipped:
        lines += ["## Skipped", "", "| study | quantity | run | status | reason |",
                  "|---|---|---|---|---|"]
        for s in skipped:
            reason = s["reason"].replace("|", "\\|").replace("\n", " ")
            lines.append(f"| {s['study']} | {s['quantity']} | {s.get('run') or ''} | "
                         f"{s['status']} | {reason} |")
        lines.append("")
    for study in studies:
        recs = [r for r in records if r["study"] == study.name]
        lines += [f"## {study.name}: {study.title}", "", f"Source: {study.source}", ""]
        runs = by_study[study.name]
        if runs:
            lines += ["| run | status | steps: end reason, capacity (µAh/cm²), mean V | wall s |",
                      "|---|---|---|---|"]
            for name, out in runs.items():
                if out["summary"]:
                    steps = "; ".join(f"{s['end_reason']}, {s['capacity_mAh_cm2'] * 1e3:.3f},"
                                      f" {s['mean_voltage_V']:.3f}"
                                      for s in out["summary"]["steps"])
                else:
                    steps = out["message"].replace("|", "\\|")
                lines.append(f"| {name} | {out['status']} | {steps} | "
                             f"{out.get('wall_time_s', 0.0):.2f} |")
            lines.append("")
        failed = [r for r in recs if not r["passed"]]
        for r in failed:
            text = (f"**Outside tolerance: {r['quantity']}** (model {_fmt(r['model'])}, "
                    f"reported {_reported(r)} {r['unit']}). "
                    f"{r['if_failed'] or 'See the study README.'}")
            lines += [text, ""]
        if study.name in figures:
            lines += [f"![{study.name}]({figures[study.name]})", ""]
    return "\n".join(lines) + "\n"


def study_figure_png(study: Study, runs: dict, records: list) -> bytes | None:
    """The study's figure (solver.validation_figure)."""
    from .validation_figure import study_figure_png as figure_png

    return figure_png(study, runs, records)


def suite_summary_line(result) -> str:
    records = result["records"]
    return (f"{len(records)} comparisons; {fidelity_line(records)}; "
            f"{len(result['skipped'])} skipped, {result['elapsed_s']:.1f} s")

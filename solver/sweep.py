"""Parameter sweeps (`thinfilm sweep`): the full product of a few case keys, run on Dask.

A sweep file (TOML) names a base case and a grid of dotted case keys, each with a list of
values::

    base = "planar_li_lipon_lco.toml"          # relative to the sweep file
    [grid]
    "materials.LiPON.conductivity" = ["1e-6 S/cm", "3e-6 S/cm"]
    "protocol.0.c_rate" = [0.5, 1, 2]

`sweep` checks the file (every key must address the case: `cell.KEY`,
`cell.layers.NAME_OR_INDEX.KEY`, `cell.trench.KEY`, ..., `materials.MATERIAL.PARAMETER`,
`mesh.KEY`, `solver.KEY`, `protocol.INDEX[.steps.INDEX].KEY`), builds every combination's
case and validates it with `case_from_dict` before anything runs, then runs the cases that
are not already in ``OUT/runs/`` through `dask.distributed` (a LocalCluster of worker
processes, or a running scheduler) and writes ``OUT/results.csv``, one row per combination.

Runs are content-addressed: a run's folder ``OUT/runs/<id>/`` is named by a hash of the
case it ran (the base case with the combination's values set, by what they mean: "25 degC"
and "298.15 K" are one run; plus the bytes of any table files it names), and it is complete when its ``summary.json`` exists (written last,
atomically) and records that same hash. Running a sweep again computes only the missing
cases; editing the sweep or the base case changes the hashes of the cases it changes, so
runs of other parameters are never reused.

Workers get the validated `Case` (tables already loaded) and send back the file contents;
the client writes them. So a remote cluster needs thinfilm installed on its workers but no
file system shared with the client.
"""

from __future__ import annotations

import contextlib
import copy
import csv
import difflib
import hashlib
import io
import itertools
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .case import MISSING
from .errors import InputError, RunInterrupted, SolverError
from .files import path_exists, read_text, write_atomic
from .results import summary_json, summary_warnings
from .runner import DaskRunner, default_workers, progress_bar, signals_deferred

SWEEP_KEYS = ("base", "grid")
# after the swept keys, in this order (of the first discharge step; wall_time_s of the run)
RESULT_COLUMNS = ("capacity_mAh_cm2", "energy_mWh_cm2", "mean_voltage_V", "end_reason",
                  "wall_time_s", "duration_s", "status", "message", "warnings", "run_id")
STATUSES = ("ok", "solver_failed", "invalid_input", "error", "time_limit", "not_run")
# A sweep validates its combinations as it runs them and lists each in results.csv: a
# million would take half an hour to validate and a row each; beyond this, split the sweep.
MAX_COMBINATIONS = 100_000
DEFAULT_TIME_LIMIT = 3600.0      # s of wall time per run (`--time-limit`)

_LEAF = None       # schema marker: a value, no keys below it


# ------------------------------------------------------------------------------------------
# the sweep file

@dataclass
class SweepSpec:
    """A checked sweep: its base case dict, where the base lives, the keys and the values."""
    base_raw: dict
    base_dir: Path
    base_name: str
    keys: list[str]
    paths: list[tuple]
    values: list[list]
    # key -> (dimension, takes C-rates) of the quantity it sets (see physical_value)
    quantities: dict = field(default_factory=dict, kw_only=True)

    def combinations(self):
        """Every combination as {key: value}, in product order (the last key varies
        fastest), one at a time."""
        return (dict(zip(self.keys, combo)) for combo in itertools.product(*self.values))

    def case_dict(self, settings: dict) -> dict:
        """The base case dict with the combination's values set."""
        raw = copy.deepcopy(self.base_raw)
        for key, path in zip(self.keys, self.paths):
            set_path(raw, path, copy.deepcopy(settings[key]))
        return raw

    def identity(self, settings: dict) -> dict:
        """The combination's values by what they mean (physical_value): the run of
        "25 degC" is the run of "298.15 K"."""
        return {key: physical_value(value, self.quantities.get(key, (None, False)), key)
                for key, value in settings.items()}

    def digest(self, settings: dict) -> str:
        """The hash that names a combination's run: of its case, its values by what they
        mean."""
        return case_hash(self.case_dict(self.identity(settings)), self.base_dir)

    def __len__(self):
        return math.prod(len(v) for v in self.values)

    def refused(self, settings: dict, error: InputError) -> InputError:
        """A combination's case error as an error of this file: a sweep's keys are the
        case's own (a subclass that builds its cases otherwise names its file's keys)."""
        return error


def load_sweep(path_or_dict, base_dir=None) -> SweepSpec:
    """Read and check a sweep file (or the dict it parses to); raises InputError naming the key.

    A dict's `base` is a case file path (relative to `base_dir`, default the current folder)
    or a case dict itself; a file's `base` is relative to the sweep file.
    """
    data, folder, source = read_spec(path_or_dict, base_dir, "sweep file")
    for key, value in data.items():
        if key not in SWEEP_KEYS:
            expected = f"one of the sweep file's keys: {', '.join(SWEEP_KEYS)}"
            close = difflib.get_close_matches(str(key), SWEEP_KEYS, n=1)
            if close:
                expected += f" (did you mean {close[0]!r}?)"
            raise InputError(key, value, expected)

    base_raw, case_dir, base_name = read_base(data, folder, source, "sweep file",
                                              "the case file to sweep", "planar.toml")

    if "grid" not in data:
        raise InputError("grid", MISSING, "a [grid] table of dotted case keys, each with a "
                                          "list of values (required)")
    if not isinstance(data["grid"], dict) or not data["grid"]:
        raise InputError("grid", data["grid"], "a non-empty [grid] table of dotted case keys, "
                                               "each with a list of values, such as "
                                               "\"protocol.0.c_rate\" = [0.5, 1, 2]")
    grid = {}
    _flatten_grid(data["grid"], "", grid)

    keys, paths, values, quantities = [], [], [], {}
    for key, items in grid.items():
        if not isinstance(items, list) or not items:
            raise InputError(key, items,
                             "a non-empty list of values, such as [0.5, 1, 2] or "
                             "[\"1 um\", \"2 um\"]")
        path = resolve_key(base_raw, key, items)
        quantities[key] = _key_quantity(path)
        _check_distinct(key, items, quantities[key])
        for other, other_path in zip(keys, paths):
            n = min(len(path), len(other_path))
            if path[:n] == other_path[:n]:
                raise InputError(key, items, f"a key that does not overlap another swept key "
                                             f"({other} sets the same part of the case)")
        keys.append(key)
        paths.append(path)
        values.append(items)
    return SweepSpec(base_raw, case_dir, base_name, keys, paths, values, quantities=quantities)


def _check_distinct(key: str, items: list, quantity: tuple) -> None:
    """Each value of a key once, by what it means: '25 degC' and '298.15 K' would run one
    case twice."""
    seen = {}                        # the meaning (as JSON: lists, tables) -> its value
    for item in items:
        meaning = json.dumps(physical_value(item, quantity, key), sort_keys=True, default=str)
        if meaning in seen:
            first = seen[meaning]
            twice = (f"{item!r} is listed twice" if repr(first) == repr(item)
                     else f"{first!r} and {item!r} are the same value")
            raise InputError(key, items, f"a list of distinct values ({twice})")
        seen[meaning] = item


def read_spec(path_or_dict, base_dir, what):
    """(data, folder its paths are relative to, source name) of a file or its dict (whose
    paths are relative to `base_dir`, default the current folder)."""
    if isinstance(path_or_dict, dict):
        return path_or_dict, Path(base_dir) if base_dir is not None else Path.cwd(), "<dict>"
    path = Path(path_or_dict)
    return _read_toml(path, what), path.resolve().parent, str(path)


def read_base(data, folder, source, what, meaning, example):
    """(case dict, folder its paths are relative to, its name) of a sweep or comparison
    file's `base`: a case file relative to that file, or a case dict."""
    base = data.get("base", MISSING)
    if base is MISSING:
        raise InputError("base", MISSING, f"{meaning}, relative to the {what}, such as "
                                          f"base = '{example}' (required in {source})")
    if isinstance(base, dict):
        return copy.deepcopy(base), folder, "<dict>"
    if isinstance(base, str) and base.strip():
        base_path = folder / base
        if not path_exists(base_path, "base"):   # (a FIFO or device: read_text says why not)
            raise InputError("base", base, f"an existing case file, relative to the {what} "
                                           f"(there is no file {base_path})")
        return (_read_toml(base_path, "case file", key="base"), base_path.resolve().parent,
                str(base_path))
    raise InputError("base", base, f"the path of a case file (TOML), relative to the "
                                   f"{what}, such as '{example}'")


def check_workers(workers, scheduler, echo=None):
    """A local cluster's worker count, or a scheduler: not both (InputError). Returns the
    count, reduced to the CPU cores (said through `echo`)."""
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int)
                                or workers < 1):
        raise InputError("workers", workers, "a whole number >= 1")
    if workers is not None and scheduler is not None:
        raise InputError("workers", workers, "no worker count with a scheduler (the cluster "
                                             "has its own workers)")
    cores = os.cpu_count() or 1
    if workers is not None and workers > cores:
        if echo is not None:
            echo(f"--workers {workers} is more than the {cores} CPU cores: using {cores}")
        workers = cores
    return workers


def _read_toml(path: Path, what: str, key: str | None = None) -> dict:
    from .case import parse_toml

    name = key or str(path)
    return parse_toml(read_text(path, name, what), path, key=name)


def _flatten_grid(table: dict, prefix: str, out: dict) -> None:
    """Quoted dotted keys ("a.b.c" = [...]) and TOML's own nesting (a.b.c = [...],
    [grid.a.b] c = [...]) give the same keys."""
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict):
            if not value:
                raise InputError(dotted, value, "a non-empty list of values")
            _flatten_grid(value, dotted, out)
        elif dotted in out:
            raise InputError(dotted, value, "a key listed once in [grid]")
        else:
            out[dotted] = value


# ------------------------------------------------------------------------------------------
# key paths

def _case_schema():
    from . import case as c

    leaves = lambda names: {name: _LEAF for name in names}
    cell = leaves(k for k in c.CELL_KEYS if k not in ("layers", "bipolar", "trench",
                                                       "micropillar"))
    cell["layers"] = ("named list", leaves(c.LAYER_KEYS), "layer")
    cell["bipolar"] = {"n_cells": _LEAF,
                       "variations": ("list", leaves(c.VARIATION_KEYS), "variation")}
    cell["trench"] = leaves(c.TRENCH_KEYS)
    cell["micropillar"] = leaves(c.MICROPILLAR_KEYS)
    return {"cell": cell, "materials": "materials", "mesh": leaves(c.MESH_KEYS),
            "solver": leaves(c.SOLVER_KEYS), "protocol": ("list", "step", "protocol step")}


def resolve_key(base: dict, key: str, values=MISSING) -> tuple:
    """The path of a dotted sweep key in the case dict: dict keys and list indices.

    Layers may be named (`cell.layers.cathode.thickness`) or numbered; protocol steps are
    numbered (`protocol.0.c_rate`, `protocol.1.steps.0.until_time`). Every part must be a key
    the case format knows; a layer, protocol step or variation must exist in the base case;
    tables (`materials.NAME`, `mesh`, ...) and the last key may be absent (they are created).
    Raises InputError naming `key` (and showing `values`, the key's list in the sweep).
    """
    from . import case as c

    if not isinstance(key, str) or not key or any(not part for part in key.split(".")):
        raise InputError(str(key), key, "a dotted case key such as "
                                        "'cell.layers.cathode.thickness'")
    parts = key.split(".")
    schema, node, path = _case_schema(), base, []
    for position, part in enumerate(parts):
        here = ".".join(parts[:position]) or "the case"
        if schema is _LEAF:
            raise InputError(key, values, f"a key that ends at {here}: {here} is a value, "
                                          f"with no keys below it")
        if schema == "materials":                 # materials.NAME: a library material
            path.append(part)
            node = node.get(part) if isinstance(node, dict) else None
            schema = _material_schema(key, part, values)
            continue
        if schema == "step":
            block = isinstance(node, dict) and ("repeat" in node or "steps" in node)
            schema = ({"repeat": _LEAF, "until_voltage": _LEAF,
                       "steps": ("list", "step", "step of the block")} if block
                      else {name: _LEAF for name in c.STEP_KEYS + c.IMPEDANCE_KEYS})
        if isinstance(schema, tuple):              # a list in the case: index (or name)
            kind, item_schema, what = schema
            if not isinstance(node, list) or not node:
                raise InputError(key, values, f"a {what} of the base case, but {here} has "
                                              f"none")
            if part.isdigit():
                index = int(part)
                if index >= len(node):
                    raise InputError(key, values, f"a {what} of the base case: {here} has "
                                                  f"{len(node)}, numbered from 0 to "
                                                  f"{len(node) - 1}")
            elif kind == "named list":
                names = [item.get("name") for item in node if isinstance(item, dict)]
                if part not in names:
                    expected = f"a {what} of the base case by name or index: " + ", ".join(
                        str(n) for n in names)
                    close = difflib.get_close_matches(part, [str(n) for n in names], n=1)
                    if close:
                        expected += f" (did you mean {close[0]!r}?)"
                    raise InputError(key, values, expected)
                index = names.index(part)
            else:
                raise InputError(key, values, f"a {what} index (0 to {len(node) - 1}) "
                                              f"after {here}")
            path.append(index)
            node, schema = node[index], item_schema
            continue
        if part not in schema:
            known = list(schema)
            expected = f"a key of {here}: one of {', '.join(known)}"
            close = difflib.get_close_matches(part, known, n=1)
            if close:
                expected += f" (did you mean {close[0]!r}?)"
            raise InputError(key, values, expected)
        path.append(part)
        node = node.get(part) if isinstance(node, dict) else None
        schema = schema[part]
    if schema in ("materials", "step"):
        schema = {}
    if isinstance(schema, tuple) and not isinstance(node, list):
        raise InputError(key, values, f"a key of the base case ({key} is not in it)")
    return tuple(path)


def _material_schema(key: str, name: str, values):
    from .materials import library_names, load_material
    from .materials.schema import PARAMETERS

    names = library_names()
    if name not in names:
        expected = f"a library material after materials.: {', '.join(names)}"
        close = difflib.get_close_matches(name, names, n=1)
        if close:
            expected += f" (did you mean {close[0]!r}?)"
        raise InputError(key, values, expected)
    kind = load_material(name).kind
    return {param: _LEAF for param in PARAMETERS[kind]}


def _key_quantity(path: tuple) -> tuple:
    """(dimension, whether it also takes a C-rate) of the value at a resolved key path, as
    the case format reads it; dimension None for a value that is not a quantity."""
    from .case import C_RATE_KEYS
    from .case_schema import CASE_KEY_TYPES
    from .materials import load_material
    from .materials.schema import PARAMETERS

    name = path[-1]
    if path[0] == "materials":
        spec = PARAMETERS[load_material(path[1]).kind].get(name) if len(path) == 3 else None
        return (spec.dimension if spec is not None else None), False
    tables = [part for part in path[:-1] if isinstance(part, str)]
    if not tables or not isinstance(name, str):
        return None, False
    if tables[0] == "protocol":
        shapes = {**CASE_KEY_TYPES["protocol.impedance"], **CASE_KEY_TYPES["protocol.step"]}
        takes_c_rate = name in C_RATE_KEYS
    else:
        shapes, takes_c_rate = CASE_KEY_TYPES.get(".".join(tables), {}), False
    shape = shapes.get(name, {})
    shape = shape.get("items", shape)                   # a list of quantities: each item's
    if "x-thinfilm-dimension" in shape:
        return shape["x-thinfilm-dimension"], takes_c_rate
    return ("dimensionless" if "anyOf" in shape else None), False


def physical_value(value, quantity: tuple, key: str):
    """What a value of a key with `quantity` (from _key_quantity) means: a quantity in SI
    ('25 degC' and '298.15 K' alike, '1 um' and '1000 nm' to 12 significant digits), a
    C-rate as ['C-rate', multiple] ('1C', '1 C'), a list item by item; any other value,
    and one the case will refuse, as written."""
    from .units import parse_c_rate, parse_quantity

    dimension, takes_c_rate = quantity
    if isinstance(value, list):
        return [physical_value(item, quantity, key) for item in value]
    if dimension is None or isinstance(value, bool):
        return value
    try:
        rate = parse_c_rate(value, key) if takes_c_rate else None
        if rate is not None:
            return ["C-rate", _significant(rate)]
        return _significant(parse_quantity(value, dimension, key))
    except InputError:
        return value


def _significant(number: float):
    """`number` to 12 significant digits; a whole number as an int (so that its JSON, and
    the hash of a run, is that of 2 as of 2.0)."""
    number = float(f"{number:.12g}")
    return int(number) if number.is_integer() and abs(number) < 2 ** 53 else number


def set_path(raw, path: tuple, value) -> None:
    """Set a value at a path from `resolve_key`, creating absent tables on the way."""
    node = raw
    for part in path[:-1]:
        if isinstance(part, int):
            node = node[part]
        else:
            if not isinstance(node.get(part), (dict, list)):
                node[part] = {}
            node = node[part]
    node[path[-1]] = value


# ------------------------------------------------------------------------------------------
# run identity

def case_hash(raw: dict, base_dir: Path) -> str:
    """sha256 of the case dict (canonical JSON) and of the table files it names."""
    digest = hashlib.sha256()
    digest.update(json.dumps(raw, sort_keys=True, default=str, separators=(",", ":"))
                  .encode())
    materials = raw.get("materials")
    if isinstance(materials, dict):
        for name in sorted(materials):
            table = materials[name]
            if not isinstance(table, dict):
                continue
            for param in sorted(table):
                value = table[param]
                if isinstance(value, str) and value.strip().lower().endswith(".csv"):
                    file = Path(base_dir) / value.strip()     # (an absolute path stays)
                    if file.is_file():
                        digest.update(f"\0{name}.{param}\0".encode())
                        digest.update(file.read_bytes())
    return digest.hexdigest()


# ------------------------------------------------------------------------------------------
# one run (in a Dask worker)

def run_case(case, plots: bool = False, time_limit: float | None = None,
             threads: int = 1) -> dict:
    """Run a validated case; returns its summary and output files as bytes (picklable).

    Never raises for a bad case, a solver failure or a run beyond `time_limit` seconds:
    `status` says what happened ("time_limit": stopped, nothing kept, runs again on resume).
    """
    from .api import run
    from .threads import limited_threads

    out = {"status": "ok", "message": "", "summary": None, "files": {}}
    try:
        with limited_threads(threads):
            result = run(case, time_limit=time_limit)
    except InputError as exc:        # e.g. a geometry the mesher cannot build
        out.update(status="invalid_input", message=str(exc),
                   input_error=(exc.key, exc.value, exc.expected))
        return out
    except SolverError as exc:
        out.update(status="solver_failed", message=str(exc))
        return out
    except RunInterrupted as exc:
        if not exc.reason.startswith("time limit"):
            raise                    # a signal in an in-process worker: stop the sweep
        out.update(status="time_limit", message=exc.message)
        return out
    except Exception as exc:  # noqa: BLE001 - one bad case must not take the sweep down
        out.update(status="error", message=f"{type(exc).__name__}: {exc}")
        return out
    out["summary"] = result.summary
    if result.failed:
        out.update(status="solver_failed", message=result.summary.get("message", ""))
    files = {"timeseries.csv": result.timeseries_csv().encode()}
    if result.spectra:
        from .impedance_results import impedance_csv
        files["impedance.csv"] = impedance_csv(result.spectra).encode()
    try:
        if plots:
            from .plots import voltage_figure_png
            files["voltage.png"] = voltage_figure_png(result)
        if result.grid is not None and result.grid.dim > 1:
            from .fields import write_vtu_series
            snapshots = sorted(result.fields + result.snapshots, key=lambda s: (s[0], s[1]))
            with tempfile.TemporaryDirectory() as tmp:
                for path in write_vtu_series(Path(tmp), result.grid, result.model, snapshots):
                    files[Path(path).name] = Path(path).read_bytes()
        elif result.fields:
            files["fields.csv"] = result.fields_csv().encode()
    except Exception as exc:  # noqa: BLE001
        out.update(status="error", message=f"writing the results: {type(exc).__name__}: {exc}")
    out["files"] = files
    return out


# ------------------------------------------------------------------------------------------
# the sweep

class SweepTable(list):
    """The rows of results.csv (dicts, in combination order), with what this call did:
    `keys` (the swept keys), `columns`, `out` (the folder), `ran` and `reused` (run ids),
    `invalid` (indices of the rows of invalid combinations)."""

    def __init__(self, rows, keys, columns, out, ran, reused, invalid):
        super().__init__(rows)
        self.keys = keys
        self.columns = columns
        self.out = out
        self.ran = ran
        self.reused = reused
        self.invalid = invalid


@dataclass
class _Job:
    """A valid combination to run: its validated case and identity."""
    run_id: str
    case: object
    digest: str
    settings: dict
    raw: dict


class _Progress:
    """What a sweep has learnt so far: one entry per combination validated (in product
    order), the outcomes by run id, what ran now and what was reused."""

    def __init__(self, spec, out: Path):
        self.spec = spec
        self.out = out
        self.entries = []        # {"settings", "id" (None: invalid), "message"}
        self.done = {}           # run id -> outcome {"status", "summary", "message"}
        self.ran = []
        self.reused = []
        self.first_error = None
        self.n_invalid = 0
        self.written = 0.0       # when results.csv was last written

    def table(self) -> SweepTable:
        """results.csv's rows: the combinations validated so far, then those not reached
        yet (status not_run)."""
        rows, invalid = [], []
        for index, entry in enumerate(self.entries):
            if entry["id"] is None:
                invalid.append(index)
            rows.append(result_row(entry["settings"], self.done.get(entry["id"]),
                                   entry["id"], entry["message"]))
        later = itertools.islice(self.spec.combinations(), len(self.entries), None)
        rows += [result_row(settings, None, None, status="not_run") for settings in later]
        columns = list(self.spec.keys) + list(RESULT_COLUMNS)
        return SweepTable(rows, list(self.spec.keys), columns, self.out, list(self.ran),
                          list(self.reused), invalid)

    def write(self, every: float = 0.0) -> SweepTable | None:
        """Rewrite results.csv (atomically), at most once per `every` seconds."""
        now = time.monotonic()
        if now - self.written < every:
            return None
        table = self.table()
        write_atomic(self.out / "results.csv", results_csv(table))
        self.written = now
        return table


def _jobs(spec, progress: _Progress, runs_dir: Path, echo, plots: bool = False):
    """The combinations to run, validated one at a time as the runs need them (a sweep of
    many combinations neither waits for all of them to validate nor holds their cases);
    invalid ones and runs already complete in `runs_dir` (with their plot, when `plots`)
    are recorded in `progress`."""
    from .case import case_from_dict

    seen = set()
    # lines about invalid combinations wait for the first valid one: a sweep with none is
    # refused in the one line of its InputError
    pending: list[str] | None = []
    for index, settings in enumerate(spec.combinations()):
        raw = spec.case_dict(settings)
        try:
            case = case_from_dict(raw, spec.base_dir, source=spec.base_name)
        except InputError as exc:
            progress.first_error = progress.first_error or (settings, exc)
            progress.n_invalid += 1
            progress.entries.append({"settings": settings, "id": None, "message": str(exc)})
            line = f"case {index} ({_describe(settings)}) is invalid and will not run: {exc}"
            if pending is None:
                echo(line)
            else:
                pending.append(line)
            continue
        if pending:
            for line in pending:
                echo(line)
        pending = None
        digest = spec.digest(settings)
        run_id = digest[:16]
        progress.entries.append({"settings": settings, "id": run_id, "message": ""})
        if run_id in seen:
            continue
        seen.add(run_id)
        summary = _complete_run(runs_dir / run_id, digest, plots)
        if summary is not None:
            progress.done[run_id] = {"status": _status_of(summary), "summary": summary,
                                     "message": summary.get("message", "")}
            progress.reused.append(run_id)
            continue
        yield _Job(run_id, case, digest, settings, raw)


def sweep(path_or_dict, out, workers: int | None = None, scheduler=None, plots: bool = False,
          progress: bool = False, echo=None, base_dir=None,
          time_limit: float | None = DEFAULT_TIME_LIMIT, threads: int = 1) -> SweepTable:
    """Run a sweep file (or its dict) into folder `out`; returns the rows of results.csv.

    workers: worker processes of the local Dask cluster (default: the CPU count, at most
    the number of runs to do; more than the CPU count is reduced to it, with a line to
    `echo`). scheduler: the address of a running Dask scheduler ("tcp://host:8786"), or a
    `distributed.Client` to use (left open). plots: also write voltage.png in each run
    folder. progress: a progress bar on stderr (a terminal only). echo: a function taking a
    line of text, told of invalid combinations. time_limit: seconds of wall time after which
    a run stops with status "time_limit" (None: no limit). threads: BLAS threads per run.

    Combinations are validated as the runs need them, and results.csv is rewritten as runs
    finish (at most once a second) and at the end, also on an interruption. Raises
    InputError before anything runs for a bad sweep file, a sweep of more than
    MAX_COMBINATIONS combinations, or when no combination is a valid case; an invalid
    combination among valid ones becomes an "invalid_input" row.
    """
    spec = load_sweep(path_or_dict, base_dir=base_dir)
    return run_spec(spec, out, workers=workers, scheduler=scheduler, plots=plots,
                    progress=progress, echo=echo, time_limit=time_limit, threads=threads)


def run_spec(spec: SweepSpec, out, workers: int | None = None, scheduler=None,
             plots: bool = False, progress: bool = False, echo=None,
             time_limit: float | None = DEFAULT_TIME_LIMIT, threads: int = 1) -> SweepTable:
    """Run every combination of a checked spec into folder `out` (the options of `sweep`).

    `spec` is a SweepSpec, or any subclass whose `case_dict(settings)` builds the case of a
    combination (as `thinfilm compare` does)."""
    echo = echo or (lambda line: None)
    workers = check_workers(workers, scheduler, echo)
    if time_limit is not None and not (isinstance(time_limit, (int, float))
                                       and time_limit > 0):
        raise InputError("time_limit", time_limit, "a time greater than zero, or none")
    if len(spec) > MAX_COMBINATIONS:
        sizes = " x ".join(str(len(v)) for v in spec.values)
        raise InputError("grid", f"{len(spec)} combinations ({sizes})",
                         f"a sweep of at most {MAX_COMBINATIONS} combinations; split it, or "
                         f"sweep fewer values")
    out = Path(out)
    runs_dir = out / "runs"
    state = _Progress(spec, out)
    jobs = _jobs(spec, state, runs_dir, echo, plots)
    first = next(jobs, None)
    runner = None
    try:
        if first is not None:   # connect first: a wrong address is an input error, nothing written
            runner = DaskRunner(workers or default_workers(len(spec)), scheduler)
        elif not state.done:
            settings, exc = state.first_error
            exc = spec.refused(settings, exc)
            raise InputError(exc.key, exc.value, f"{exc.expected} (no combination of the "
                                                 f"sweep is a valid case; the first is "
                                                 f"{_describe(settings)})")
        runs_dir.mkdir(parents=True, exist_ok=True)
        try:
            if first is not None:
                _run_on_dask(runner, itertools.chain([first], jobs), state, runs_dir,
                             dict(plots=plots, time_limit=time_limit, threads=threads),
                             show=progress)
        finally:  # also on Ctrl-C: the table of what is there, unfinished runs "not_run"
            with signals_deferred():
                table = state.write()
    finally:
        if runner is not None:
            runner.close()
    _refuse_if_every_run_was(spec, state, table)
    return table


def _refuse_if_every_run_was(spec, state: _Progress, table) -> None:
    """Every combination refused, by its case or by its run (a cutoff above the voltage the
    cell starts from): the input was refused, as when no combination is a valid case."""
    if not table or any(row["status"] != "invalid_input" for row in table):
        return
    settings, error = next((entry["settings"], InputError(*state.done[entry["id"]]["input_error"]))
                           for entry in state.entries
                           if "input_error" in state.done.get(entry["id"], {}))
    error = spec.refused(settings, error)
    raise InputError(error.key, error.value, f"{error.expected} (every run was refused; the "
                                             f"first is {_describe(settings)})")


def _run_on_dask(runner, jobs, state: _Progress, runs_dir: Path, options: dict, show: bool):
    """Run the jobs on the runner and record each run as it finishes: its folder, then
    results.csv (at most once a second)."""
    settled = len(state.reused) + state.n_invalid
    with progress_bar(len(state.spec), "run", "sweep", enabled=show,
                      initial=settled) as bar, \
            contextlib.closing(runner.run(run_case, jobs, lambda job: (job.case,),
                                          lambda job: f"thinfilm-run-{job.run_id}",
                                          _worker_error, **options)) as finished:
        failed = 0
        for job, outcome in finished:
            if outcome["summary"] is not None and outcome["status"] in ("ok", "solver_failed"):
                _write_run(runs_dir / job.run_id, outcome, job.run_id, job.digest,
                           job.settings, job.raw)
            outcome.pop("files", None)
            state.done[job.run_id] = outcome
            state.ran.append(job.run_id)
            failed += outcome["status"] != "ok"
            # combinations validated meanwhile (invalid ones, reused runs) count as settled
            bar.n = len(state.ran) + len(state.reused) + state.n_invalid
            if failed:
                bar.set_postfix_str(f"{failed} not ok", refresh=False)
            bar.update(0)
            state.write(every=1.0)


def _worker_error(job, exc) -> dict:
    return {"status": "error", "message": f"{type(exc).__name__}: {exc}", "summary": None,
            "files": {}}


def _write_run(folder: Path, outcome: dict, run_id, digest, settings, raw) -> None:
    """Files first, summary.json last (the mark of a complete run)."""
    if folder.exists():
        shutil.rmtree(folder)          # a stale or half-written run of this id
    folder.mkdir(parents=True)
    for name, content in outcome["files"].items():
        write_atomic(folder / name, content)
    write_atomic(folder / "case.json", json.dumps(raw, indent=2, default=str) + "\n")
    summary = dict(outcome["summary"])
    summary["sweep"] = {"run_id": run_id, "case_sha256": digest,
                        "parameters": settings}
    write_atomic(folder / "summary.json", summary_json(summary))


def _complete_run(folder: Path, digest: str, plots: bool = False):
    """The summary of a finished run of this exact case, else None; None too when `plots`
    asks for the voltage.png an earlier sweep without --plots did not draw (the run is then
    run again, its figure drawn with it)."""
    if plots and not (folder / "voltage.png").is_file():
        return None
    try:
        summary = json.loads((folder / "summary.json").read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(summary, dict) or summary.get("sweep", {}).get("case_sha256") != digest:
        return None
    return summary


def _status_of(summary: dict) -> str:
    steps = summary.get("steps", [])
    return "solver_failed" if any(s.get("end_reason") == "solver_failed" for s in steps) else "ok"


# ------------------------------------------------------------------------------------------
# the table

def _describe(settings: dict) -> str:
    return ", ".join(f"{k} = {v!r}" for k, v in settings.items())


def result_row(settings: dict, outcome: dict | None, run_id=None, message="",
               status=None) -> dict:
    """One row of results.csv from a run's outcome: the first discharge step's numbers.

    No discharge step in the summary: a failed run reports its failed step
    (end_reason solver_failed); a finished one leaves the numbers empty with end_reason
    "no_discharge_step". Without an outcome the row is "not_run" (a valid case not run
    yet, or a combination not reached) or "invalid_input" (no run id); `status` says which
    when given.
    """
    row = dict(settings)
    row.update({c: None for c in RESULT_COLUMNS})
    row["run_id"] = run_id
    if outcome is None:
        status = status or ("invalid_input" if run_id is None else "not_run")
        row.update(status=status, end_reason=status, message=message or None)
        return row
    status, summary = outcome["status"], outcome.get("summary")
    row["status"] = status
    if status == "invalid_input":          # refused by the run itself: nothing was kept
        row["run_id"] = None
    row["message"] = outcome.get("message") or None
    if summary is None:
        row["end_reason"] = status
        return row
    steps = summary.get("steps", [])
    chosen = next((s for s in steps if s.get("mode") == "discharge"), None)
    if chosen is None and status == "solver_failed":
        chosen = next((s for s in steps if s.get("end_reason") == "solver_failed"), None)
    row["wall_time_s"] = summary.get("wall_time_s")
    row["warnings"] = summary_warnings(summary) or None
    if chosen is None:
        row["end_reason"] = "solver_failed" if status == "solver_failed" else "no_discharge_step"
        return row
    for name in ("capacity_mAh_cm2", "energy_mWh_cm2", "mean_voltage_V", "end_reason",
                 "duration_s"):
        row[name] = chosen.get(name)
    return row


def results_csv(table: SweepTable) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(table.columns)
    for row in table:
        writer.writerow([_cell(row.get(c)) for c in table.columns])
    return buffer.getvalue()


def _cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    if isinstance(value, (int, str)):
        return str(value)
    return json.dumps(value, default=str)        # lists, tables, dates

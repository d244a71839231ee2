"""Architecture comparisons (`thinfilm compare`): the same films as planar, trench,
micropillar and bipolar cells on one footprint, discharged at a list of C-rates.

A comparison file (TOML) names a base case, whose films, materials, footprint, temperature,
mesh and solver settings every cell shares, the rates, and one table per cell::

    base = "trench_si_lipon_lco.toml"     # relative to the comparison file
    rates = [0.1, 1, 5, 20]               # C-rates of the discharges
    until_voltage = "3.0 V"               # per cell (default: the base's first discharge)
    [architectures.planar]
    [architectures.trench]                # geometry keys of [cell.trench]; missing ones
    depth = "20 um"                       # come from the base case when it is a trench
    [architectures.pillars]
    architecture = "micropillar"          # when the table's name is not an architecture
    diameter = "5 um"
    height = "20 um"
    pitch = "10 um"
    axisymmetric = true
    [architectures.bipolar]
    n_cells = 3

Each table may also carry `mesh` (keys of [mesh] that replace the base's) and `layers`
(`layers.NAME = {thickness = ...}`: changes to the base's layer NAME in this cell only).

Every (cell, rate) pair is one discharge from the base's initial state to until_voltage
(times n_cells for a bipolar stack), run on the sweep machinery (`sweep.run_spec`: Dask,
content-addressed run folders, resumable, time limits), which writes OUT/results.csv and
OUT/runs/. This module then adds the figures of merit per footprint and per stack volume
(compare.csv) and the figures (ragone.png, rate_capability.png).

Stack volume: the footprint times the height of the grid, from its lowest point (the trench
floor, the foot of the pillars, the bottom of the holes; the bottom tab of a planar stack)
to its top: the structure and the films, not the substrate below the structure.
"""

from __future__ import annotations

import copy
import csv
import difflib
import io
from dataclasses import dataclass
from pathlib import Path

from .case import ARCHITECTURES, MICROPILLAR_KEYS, MISSING, TRENCH_KEYS
from .case.protocol import check_c_rate
from .errors import InputError
from .results import write_atomic
from .sweep import DEFAULT_TIME_LIMIT, SweepSpec, read_base, read_spec, run_spec

COMPARE_KEYS = ("base", "rates", "until_voltage", "architectures", "name")
GEOMETRY_KEYS = {"planar": (), "bipolar": ("n_cells",), "trench": TRENCH_KEYS,
                 "micropillar": MICROPILLAR_KEYS}
TABLE_KEYS = ("architecture", "mesh", "layers")
COVERAGE_KEYS = ("step_coverage", "bottom_coverage")     # of films on a structure only
MAX_RATES = 100
COMPARE_COLUMNS = ("architecture", "kind", "c_rate", "capacity_mAh_cm2", "energy_mWh_cm2",
                   "power_mW_cm2", "energy_mWh_cm3", "power_mW_cm3", "mean_voltage_V", "aef",
                   "stack_height_um", "duration_s", "end_reason", "status", "run_id", "message",
                   "warnings")
SECONDS_PER_HOUR = 3600.0
COMPARE_FILES = ("compare.csv", "ragone.png", "rate_capability.png")    # beside the sweep's


# ------------------------------------------------------------------------------------------
# the comparison file

@dataclass
class CompareSpec(SweepSpec):
    """A checked comparison: a sweep over (architecture label, C-rate) whose cases are built
    from the base case by `case_dict`."""
    name: str
    kinds: dict               # label -> planar | bipolar | trench | micropillar
    tables: dict              # label -> its [architectures.LABEL] table
    until_voltage: float      # V, per cell
    cutoff: tuple             # (the value as written, where: '' or the base's key)

    @property
    def labels(self):
        return self.values[0]

    @property
    def rates(self):
        return self.values[1]

    def case_dict(self, settings: dict) -> dict:
        label, rate = settings["architecture"], settings["c_rate"]
        return architecture_case(self.base_raw, label, self.kinds[label], self.tables[label],
                                 rate, self.until_voltage)

    def refused(self, settings: dict, error: InputError) -> InputError:
        """A run's case error named by this file's key: the cutoff of every cell is
        until_voltage (the base's discharge step's when not set), the rate one of rates,
        the rest as _in_table names it."""
        label = settings["architecture"]
        kind = self.kinds[label]
        if error.key == "protocol.0.until_voltage":
            written, origin = self.cutoff
            where = (f" (until_voltage is not set: it is the base case's {origin})"
                     if origin else "")
            if kind == "bipolar":
                where += f" (cell {label!r} stacks its cells: its cutoff was {error.value})"
            return InputError("until_voltage", written, error.expected + where)
        if error.key == "protocol.0.c_rate":
            return InputError("rates", settings["c_rate"], error.expected)
        return _in_table(error, label, kind, self.tables[label])


def architecture_case(base_raw: dict, label: str, kind: str, table: dict, rate,
                      until_voltage: float) -> dict:
    """The case dict of cell `label` (of architecture `kind`) discharged at `rate`."""
    raw = copy.deepcopy(base_raw)
    cell = raw.setdefault("cell", {})
    base_kind = cell.get("architecture", "planar")
    structures = {k: cell.pop(k) for k in ("trench", "micropillar", "bipolar") if k in cell}
    cell["architecture"] = kind
    if isinstance(cell.get("name"), str):
        cell["name"] = f"{label}: {cell['name']}"
    geometry = {k: copy.deepcopy(v) for k, v in table.items() if k not in TABLE_KEYS}
    if kind != "planar":
        inherited = structures.get(kind, {}) if base_kind == kind else {}
        cell[kind] = {**(inherited if isinstance(inherited, dict) else {}), **geometry}
    layers = cell.get("layers")
    if isinstance(layers, list):
        for layer in layers:
            if not isinstance(layer, dict):
                continue
            if kind in ("planar", "bipolar"):
                for key in COVERAGE_KEYS:
                    layer.pop(key, None)
            name = layer.get("name")
            if isinstance(name, str):
                layer.update(copy.deepcopy(table.get("layers", {}).get(name, {})))
    if "mesh" in table:
        raw["mesh"] = {**(raw.get("mesh") or {}), **copy.deepcopy(table["mesh"])}
    n_cells = cell["bipolar"].get("n_cells", 1) if kind == "bipolar" else 1
    cutoff = until_voltage * n_cells if isinstance(n_cells, int) else until_voltage
    raw["protocol"] = [{"mode": "discharge", "c_rate": rate, "until_voltage": cutoff}]
    return raw


def load_compare(path_or_dict, base_dir=None) -> CompareSpec:
    """Read and check a comparison file (or its dict); raises InputError naming the key.

    Every cell is built and validated as a case before anything runs; an error in a cell
    names the key of its [architectures.LABEL] table where it can.
    """
    data, folder, source = read_spec(path_or_dict, base_dir, "comparison file")
    for key, value in data.items():
        if key not in COMPARE_KEYS:
            raise InputError(key, value, _one_of("the comparison file's keys", key,
                                                 COMPARE_KEYS))
    base_raw, case_dir, base_name = read_base(data, folder, source, "comparison file",
                                              "the case file whose films the cells share",
                                              "trench.toml")
    base = data["base"]
    if not isinstance(base_raw.get("cell"), dict):
        raise InputError("base", base, "a case file with a [cell] table")

    rates = _rates(data.get("rates", MISSING))
    until_voltage, cutoff = _until_voltage(data.get("until_voltage", MISSING), base_raw)
    kinds, tables = _architectures(data.get("architectures", MISSING))
    default_name = base_raw["cell"].get("name")
    name = data.get("name", default_name if isinstance(default_name, str) else base_name)
    if not isinstance(name, str):
        raise InputError("name", name, "a title for the figures, such as 'same films, "
                                       "three architectures'")
    labels = list(kinds)
    spec = CompareSpec(base_raw, case_dir, base_name, ["architecture", "c_rate"], [(), ()],
                       [labels, rates], name, kinds, tables, until_voltage, cutoff,
                       quantities={"c_rate": ("dimensionless", False)})
    for label in labels:
        _check_cell(spec, label)
    return spec


def _one_of(what: str, key, allowed) -> str:
    expected = f"one of {what}: {', '.join(allowed)}"
    close = difflib.get_close_matches(str(key), allowed, n=1)
    return expected + (f" (did you mean {close[0]!r}?)" if close else "")


def _rates(rates) -> list:
    example = "a non-empty list of C-rates greater than zero, such as [0.1, 1, 5, 20]"
    if rates is MISSING:
        raise InputError("rates", MISSING, f"{example} (required)")
    if not isinstance(rates, list) or not rates:
        raise InputError("rates", rates, example)
    if len(rates) > MAX_RATES:
        raise InputError("rates", f"{len(rates)} rates", f"at most {MAX_RATES} rates")
    for rate in rates:
        if isinstance(rate, bool) or not isinstance(rate, (int, float)) or not rate > 0 \
                or rate == float("inf"):
            raise InputError("rates", rates, f"{example} ({rate!r} is not)")
    if len(set(rates)) != len(rates):
        raise InputError("rates", rates, "a list of distinct C-rates (a rate is listed twice)")
    for rate in rates:                          # a step's limit, for every rate up front
        try:
            check_c_rate(rate, rates, "rates")
        except InputError as exc:
            raise InputError("rates", rates, f"{exc.expected} ({rate!r} is not)") from None
    return list(rates)


def _until_voltage(value, base_raw: dict) -> tuple[float, tuple]:
    """The cutoff per cell (V): the file's, else the base's first discharge step's (divided
    by the base's n_cells if it is a bipolar stack); and (its value as written, '' or the
    base's key it came from)."""
    from .units import parse_quantity

    if value is not MISSING:
        volts = parse_quantity(value, "voltage", "until_voltage")
        if not volts > 0:
            raise InputError("until_voltage", value, "a cutoff voltage greater than zero, "
                                                     "such as '3.0 V'")
        return volts, (value, "")
    steps = base_raw.get("protocol")
    steps = steps if isinstance(steps, list) else []
    index = next((i for i, s in enumerate(steps) if isinstance(s, dict)
                  and s.get("mode") == "discharge" and "until_voltage" in s), None)
    if index is None:
        raise InputError("until_voltage", MISSING, "the discharge cutoff per cell, such as "
                                                   "'3.0 V' (required: the base case has no "
                                                   "discharge step with an until_voltage)")
    first = steps[index]
    volts = parse_quantity(first["until_voltage"], "voltage", "base: protocol until_voltage")
    bipolar = base_raw["cell"].get("bipolar")
    if base_raw["cell"].get("architecture") == "bipolar" and isinstance(bipolar, dict):
        n_cells = bipolar.get("n_cells", 1)
        if isinstance(n_cells, int) and not isinstance(n_cells, bool) and n_cells >= 1:
            volts /= n_cells
    return volts, (first["until_voltage"], f"protocol.{index}.until_voltage")


def _architectures(tables) -> tuple[dict, dict]:
    example = ("one table per cell, such as [architectures.planar] and "
               "[architectures.trench] with depth = '20 um'")
    if tables is MISSING:
        raise InputError("architectures", MISSING, f"{example} (required)")
    if not isinstance(tables, dict) or not tables:
        raise InputError("architectures", tables, example)
    kinds = {}
    for label, table in tables.items():
        key = f"architectures.{label}"
        if not isinstance(table, dict):
            raise InputError(key, table, "a table of the cell's geometry keys (may be empty "
                                         "for planar)")
        kind = table.get("architecture", label)
        if kind not in ARCHITECTURES:
            if "architecture" in table:
                raise InputError(f"{key}.architecture", kind, _one_of("the architectures",
                                                                      kind, ARCHITECTURES))
            close = difflib.get_close_matches(label, ARCHITECTURES, n=1)
            raise InputError(key, table, f"a table named after its architecture "
                                         f"({', '.join(ARCHITECTURES)}), or one with "
                                         f"architecture = NAME" +
                                         (f" (did you mean {close[0]!r}?)" if close else ""))
        allowed = TABLE_KEYS + GEOMETRY_KEYS[kind]
        for name, value in table.items():
            if name not in allowed:
                raise InputError(f"{key}.{name}", value,
                                 _one_of(f"the keys of a {kind} cell", name, allowed))
        for name in ("mesh", "layers"):
            if name in table and not isinstance(table[name], dict):
                raise InputError(f"{key}.{name}", table[name],
                                 "a table of [mesh] keys" if name == "mesh" else
                                 "a table of layer names, each a table of layer keys")
        for layer, changes in table.get("layers", {}).items():
            if not isinstance(changes, dict):
                raise InputError(f"{key}.layers.{layer}", changes,
                                 "a table of layer keys, such as {thickness = '1 um'}")
        kinds[label] = kind
    return kinds, copy.deepcopy(tables)


def _check_cell(spec: CompareSpec, label: str) -> None:
    """Build and validate one cell's case; its errors name the comparison file's keys."""
    from .case import case_from_dict

    table = spec.tables[label]
    names = [layer.get("name") for layer in spec.base_raw["cell"].get("layers", [])
             if isinstance(layer, dict)]
    for layer in table.get("layers", {}):
        if layer not in names:
            raise InputError(f"architectures.{label}.layers.{layer}", table["layers"][layer],
                             f"a layer of the base case ({', '.join(map(str, names))})")
    settings = {"architecture": label, "c_rate": spec.rates[0]}
    try:
        case_from_dict(spec.case_dict(settings), spec.base_dir, source=spec.base_name)
    except InputError as exc:
        raise spec.refused(settings, exc) from None


def _in_table(exc: InputError, label: str, kind: str, table: dict) -> InputError:
    """A case error of cell `label` as an error of its table where the key is one of its:
    its geometry, or a mesh or layer key it sets."""
    own = {f"cell.{kind}.{key}": key for key in GEOMETRY_KEYS[kind] if kind != "planar"}
    own.update({f"mesh.{key}": f"mesh.{key}" for key in table.get("mesh", {})})
    own.update({f"cell.layers.{layer}.{key}": f"layers.{layer}.{key}"
                for layer, changes in table.get("layers", {}).items() for key in changes})
    if exc.key in own:
        return InputError(f"architectures.{label}.{own[exc.key]}", exc.value, exc.expected)
    return InputError(exc.key, exc.value, f"{exc.expected} (in cell {label!r}, built from "
                                          f"the base case)")


# ------------------------------------------------------------------------------------------
# the run

class CompareTable(list):
    """The rows of compare.csv (dicts), with the sweep's table (`runs`) and the folder."""

    def __init__(self, rows, runs, out):
        super().__init__(rows)
        self.runs = runs
        self.out = out


def compare(path_or_dict, out, workers: int | None = None, scheduler=None,
            progress: bool = False, echo=None, base_dir=None,
            time_limit: float | None = DEFAULT_TIME_LIMIT, threads: int = 1) -> CompareTable:
    """Run a comparison file (or its dict) into folder `out`: results.csv and runs/ (of the
    sweep machinery, whose options these are), compare.csv, ragone.png and
    rate_capability.png. Running it again on the same folder runs only what is missing."""
    from .plots_compare import ragone_png, rate_capability_png

    spec = load_compare(path_or_dict, base_dir=base_dir)
    out = Path(out)
    # those of an earlier comparison in `out` go first: stopped, this one leaves its
    # results.csv and runs only, never another comparison's figures beside them
    for name in COMPARE_FILES:
        (out / name).unlink(missing_ok=True)
    runs = run_spec(spec, out, workers=workers, scheduler=scheduler, progress=progress,
                    echo=echo, time_limit=time_limit, threads=threads)
    geometry = {label: cell_geometry(spec, label) for label in spec.labels}
    rows = [figures_of_merit(row, spec.kinds[row["architecture"]],
                             geometry[row["architecture"]]) for row in runs]
    write_atomic(out / "compare.csv", compare_csv(rows))
    write_atomic(out / "ragone.png", ragone_png(rows, spec.name))
    write_atomic(out / "rate_capability.png", rate_capability_png(rows, spec.name))
    return CompareTable(rows, runs, out)


def cell_geometry(spec: CompareSpec, label: str) -> dict:
    """AEF (substrate surface / footprint) and stack height (m: the grid's extent along its
    last coordinate, z, from the foot of the structure to the top of the films)."""
    from .api import build_grid
    from .case import case_from_dict
    from .geometry import area_enhancement

    case = case_from_dict(spec.case_dict({"architecture": label, "c_rate": spec.rates[0]}),
                          spec.base_dir, source=spec.base_name)
    grid = build_grid(case)
    z = grid.points.reshape(len(grid.points), -1)[:, -1]
    return {"aef": area_enhancement(grid), "stack_height_m": float(z.max() - z.min())}


def figures_of_merit(row: dict, kind: str, geometry: dict) -> dict:
    """A compare.csv row from a results.csv row: power = energy / discharge duration, per
    footprint, and energy and power per stack volume (footprint x stack height)."""
    out = {name: row.get(name) for name in COMPARE_COLUMNS}
    out["kind"] = kind
    out["aef"] = geometry["aef"]
    height_cm = geometry["stack_height_m"] * 100.0
    out["stack_height_um"] = geometry["stack_height_m"] * 1e6
    energy, duration = row.get("energy_mWh_cm2"), row.get("duration_s")
    if energy is not None:
        out["energy_mWh_cm3"] = energy / height_cm
        if duration:
            out["power_mW_cm2"] = energy * SECONDS_PER_HOUR / duration
            out["power_mW_cm3"] = out["power_mW_cm2"] / height_cm
    return out


def compare_csv(rows) -> str:
    from .sweep import _cell

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COMPARE_COLUMNS)
    for row in rows:
        writer.writerow([_cell(row.get(c)) for c in COMPARE_COLUMNS])
    return buffer.getvalue()

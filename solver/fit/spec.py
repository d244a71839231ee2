"""Fit files (`thinfilm fit FIT.toml`): the base case, the measured experiments and the
parameters to identify, checked before anything runs (DESIGN.md section 6).

    base = "cell.toml"                       # relative to the fit file
    [fit]                                    # optional settings (defaults below)
    starts = 4                               # least-squares starts: the base case's values,
                                             #   then points of a scrambled Halton sequence
    seed = 0                                 # of the Halton sequence
    jacobian = "sensitivities"               # or "differences" (of whole runs)
    voltage_error = "1 mV"                   # weight of a voltage residual
    end_error = 0.005                        # weight of an end residual: this fraction of
                                             #   the measured end capacity (or time)
    impedance_error = 0.01                   # weight of an impedance residual: this fraction
                                             #   of the measured |Z| (real and imaginary parts)
    max_evaluations = 60                     # model evaluations per start
    [[experiment]]
    name = "1C"
    data = "discharge_1C.csv"                # capacity_mAh_cm2 (or time_s), voltage_V; or
                                             #   frequency_Hz, z_real_ohm_cm2, z_imag_ohm_cm2:
                                             #   an impedance spectrum (see below)
    set = { "protocol.0.c_rate" = 1 }
    role = "fit"                             # fit | predict
    step = 0                                 # optional: the step of the run the data measure
                                             #   (default: the first discharge or charge, for a
                                             #   spectrum the first impedance step)
    end_capacity = true                      # optional: true (the data's last point), false,
                                             #   or the measured end ("9.95 uAh/cm^2", "1.2 h")
    [parameters]
    "materials.LiCoO2.diffusivity" = { min = "1e-16 m^2/s", max = "1e-12 m^2/s" }
    "cell.series_resistance" = { min = 0, max = "50 ohm*cm^2", scale = "linear" }

A data column may carry any unit of its quantity in its name (capacity_uAh_cm2, voltage_mV,
time_h, frequency_kHz, z_real_kohm_cm2): it is converted to the unit of the names above.
A data file whose header names frequency_Hz, z_real_ohm_cm2 and z_imag_ohm_cm2 (the columns
of impedance.csv: per footprint area, z_imag < 0 for capacitive behaviour; other columns are
ignored, a `step` column must hold one value) makes an impedance experiment: its model is the
spectrum of its run's impedance step at the measured frequencies (solver.fit.evaluate).
"""

from __future__ import annotations

import copy
import csv
import difflib
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .. import limits
from ..case import MISSING, STEP_QUANTITIES, case_from_dict
from ..errors import InputError
from ..sweep import case_hash, read_base, read_spec, resolve_key, set_path
from ..units import parse_quantity

FIT_KEYS = ("base", "fit", "experiment", "parameters")
SETTINGS = {"starts": 4, "seed": 0, "jacobian": "sensitivities", "voltage_error": 1e-3,
            "end_error": 0.005, "impedance_error": 0.01, "max_evaluations": 60}
# Each start is a least-squares search of up to max_evaluations model runs (seconds to
# minutes); beyond this many, a fit would run for weeks, and its start points alone (a
# Halton sequence, a list of tasks) would fill the memory before the first run.
MAX_STARTS = 1000
JACOBIANS = ("sensitivities", "differences")
EXPERIMENT_KEYS = ("name", "data", "set", "role", "step", "end_capacity")
ROLES = ("fit", "predict")
PARAMETER_KEYS = ("min", "max", "scale", "initial")
SCALES = ("log", "linear")
IMPEDANCE_COLUMNS = ("frequency_Hz", "z_real_ohm_cm2", "z_imag_ohm_cm2")
# a data column is QUANTITY_UNIT: its quantity, the dimension of its unit and the unit the
# fit reads it in (the name above); the unit spells '/' (or a product) as '_' and powers as
# digits (capacity_uAh_cm2, z_real_kohm_cm2), or as units.py writes them
COLUMN_QUANTITIES = {"capacity": ("areal_charge", "mAh/cm^2"), "time": ("time", "s"),
                     "voltage": ("voltage", "V"), "frequency": ("frequency", "Hz"),
                     "z_real": ("area_resistance", "ohm*cm^2"),
                     "z_imag": ("area_resistance", "ohm*cm^2")}
ACCEPTED_COLUMNS = ("voltage_V and one of capacity_mAh_cm2, time_s (a curve), or "
                    "frequency_Hz, z_real_ohm_cm2 and z_imag_ohm_cm2 (a spectrum), each in "
                    "any unit of its quantity: voltage_mV, capacity_uAh_cm2, time_min, time_h, "
                    "frequency_kHz, z_real_kohm_cm2")
# case keys outside materials that a fit may change, with their dimensions
CELL_PARAMETERS = {"cell.series_resistance": "area_resistance", "cell.temperature": "temperature",
                   "cell.nominal_capacity": "charge"}
LAYER_PARAMETERS = {"thickness": "length", "initial_stoichiometry": "dimensionless"}


@dataclass
class Parameter:
    key: str
    path: tuple
    dimension: str
    low: float                  # SI
    high: float
    scale: str                  # log | linear
    initial: float | None       # SI; None: the base case's value

    def to_unit(self, value):
        """A parameter value (SI) as its coordinate in [0, 1] between the bounds."""
        if self.scale == "log":
            return (math.log(value) - math.log(self.low)) / (math.log(self.high) - math.log(self.low))
        return (value - self.low) / (self.high - self.low)

    def from_unit(self, theta):
        if self.scale == "log":
            return math.exp(math.log(self.low) + theta * (math.log(self.high) - math.log(self.low)))
        return self.low + theta * (self.high - self.low)

    @property
    def span(self):
        """d(natural coordinate)/d(theta): ln p for log scale, p for linear."""
        if self.scale == "log":
            return math.log(self.high) - math.log(self.low)
        return self.high - self.low


@dataclass
class Experiment:
    """A measured curve (kind "curve": voltage against capacity or time) or a measured
    spectrum (kind "impedance": x the frequencies, `impedance` Z per footprint area)."""
    name: str
    role: str
    settings: dict              # dotted case key -> value
    abscissa: str               # capacity | time | frequency
    x: np.ndarray               # mAh/cm^2 or s, from the start of the measured step; or Hz
    voltage: np.ndarray         # V (empty for a spectrum)
    step: int | None            # the measured step of the run (None: the first discharge or
                                #   charge, or the first impedance step)
    end: float | None           # measured end of the step (x units), None: no end residual
    data_path: Path | None = None
    data_bytes: bytes = b""
    impedance: np.ndarray | None = None     # ohm cm^2, complex (spectra only)
    end_at_last_point: bool = False         # `end` is the data's last point (the default)

    @property
    def kind(self) -> str:
        return "impedance" if self.impedance is not None else "curve"

    @property
    def n_residuals(self) -> int:
        if self.impedance is not None:
            return 2 * self.x.size              # real and imaginary parts
        return self.x.size + (self.end is not None)

    @property
    def n_measured(self) -> int:
        """The measured values the residuals compare: the end residual of a curve whose end
        is its last point (the default) measures that point's capacity again."""
        return self.n_residuals - (self.end is not None and self.end_at_last_point)


@dataclass
class FitSpec:
    base_raw: dict
    base_dir: Path
    base_name: str
    source: str
    parameters: list[Parameter]
    experiments: list[Experiment]
    settings: dict = field(default_factory=lambda: dict(SETTINGS))

    def case_dict(self, values, experiment: Experiment | None = None) -> dict:
        """The base case with parameter values (SI) and an experiment's settings set."""
        raw = copy.deepcopy(self.base_raw)
        if experiment is not None:
            for key, value in experiment.settings.items():
                set_path(raw, resolve_key(raw, key, value), copy.deepcopy(value))
        for parameter, value in zip(self.parameters, values):
            set_path(raw, parameter.path, float(value))
        return raw

    def case(self, values, experiment=None):
        return case_from_dict(self.case_dict(values, experiment), self.base_dir,
                              source=self.base_name)

    def fingerprint(self) -> str:
        """sha256 of everything a start's result depends on, except its starting point."""
        digest = hashlib.sha256()
        digest.update(case_hash(self.base_raw, self.base_dir).encode())
        settings = {k: v for k, v in self.settings.items() if k not in ("starts", "seed")}
        digest.update(json.dumps({
            "settings": settings,
            "parameters": [(p.key, p.low, p.high, p.scale) for p in self.parameters],
            "experiments": [(e.name, e.role, e.settings, e.abscissa, e.step, e.end)
                            for e in self.experiments],
        }, sort_keys=True, default=str).encode())
        for e in self.experiments:
            digest.update(e.data_bytes)
        return digest.hexdigest()

    @property
    def fitted(self):
        return [e for e in self.experiments if e.role == "fit"]


# ------------------------------------------------------------------------------------------
# reading

def load_fit(path_or_dict, base_dir=None) -> FitSpec:
    """Read and check a fit file (or its dict); raises InputError naming the key."""
    data, folder, source = read_spec(path_or_dict, base_dir, "fit file")
    for key in data:
        if key not in FIT_KEYS:
            raise InputError(key, data[key], _one_of("a key of the fit file", FIT_KEYS, key))
    base_raw, base_dir_, base_name = read_base(data, folder, source, "fit file",
                                               "the case file to fit", "cell.toml")
    settings = _settings(data.get("fit", {}))
    parameters = _parameters(data, base_raw, base_dir_)
    experiments = _experiments(data, folder, base_raw)
    spec = FitSpec(base_raw, base_dir_, base_name, source, parameters, experiments, settings)
    if not spec.fitted:
        raise InputError("experiment", [e.name for e in experiments],
                         "at least one experiment with role = 'fit'")
    fitted_keys = {p.key for p in parameters}
    for k, e in enumerate(experiments):     # the fitted value would silently win
        for key in e.settings:
            if key in fitted_keys:
                raise InputError(f"experiment.{k}.set.{key}", e.settings[key],
                                 "no key that is fitted (it is in [parameters]): fit it, or "
                                 "set it in the experiments")
    _check_enough_data(spec)
    starting = [_starting_value(p, base_raw, base_dir_) for p in parameters]
    for k, e in enumerate(experiments):    # every experiment must be a valid case, before
        try:                               # any run
            case = spec.case(starting, e)
        except InputError as exc:
            raise _fit_file_error(exc, data["parameters"], parameters, e, k) from None
        _check_bounds(spec, starting, e, data["parameters"])
        if e.kind == "impedance":
            _check_impedance_step(case.protocol, e, f"experiment.{k}")
        else:
            _check_curve_step(case.protocol, e, f"experiment.{k}")
            _check_voltages(e, case.n_units, f"experiment.{k}.data",
                            data["experiment"][k]["data"])
    return spec


def _check_enough_data(spec) -> None:
    """The fit experiments must hold more measured values than there are parameters: with
    as many or fewer, the data cannot determine them (any values may meet them exactly) and
    leave no scatter to scale the intervals by (one point, with its capacity as the end, had
    been fitted and reported only as not identifiable)."""
    n = len(spec.parameters)
    held = {e.name: e.n_measured for e in spec.fitted}
    if sum(held.values()) > n:
        return
    fitted = [k for k, e in enumerate(spec.experiments) if e.role == "fit"]
    key, value = "experiment", held
    if len(fitted) == 1:
        e = spec.experiments[fitted[0]]
        key, value = f"experiment.{fitted[0]}.data", e.data_path.name if e.data_path else e.name
    counts = ", ".join(f"{name}: {count}" for name, count in held.items())
    raise InputError(key, value,
                     f"at least {n + 1} measured values in the fit experiments for {n} fitted "
                     f"parameter{'s' if n > 1 else ''} (one per point of a curve and per "
                     f"end_capacity given, two per frequency of a spectrum; a curve's default "
                     f"end is its last point's capacity, no value of its own): they hold "
                     f"{sum(held.values())} ({counts})")


def _check_bounds(spec, starting, experiment, table) -> None:
    """Each parameter's min and max (the others at their starting values) must make a valid
    case of the experiment: the optimiser searches up to both, and a start there would be
    refused only after the other starts had run (a linear range of a series resistance
    from below zero, a thickness range reaching below an atomic layer)."""
    flat = {}
    _flatten(table, "", flat)
    for i, p in enumerate(spec.parameters):
        for end, value in (("min", p.low), ("max", p.high)):
            values = list(starting)
            values[i] = value
            try:
                spec.case(values, experiment)
            except InputError as exc:
                raise InputError(f"parameters.{p.key}.{end}", flat[p.key][end],
                                 f"a bound at which the case of experiment "
                                 f"{experiment.name!r} is valid ({exc})") from None


def _fit_file_error(exc: InputError, table, parameters, experiment, k) -> InputError:
    """A case's InputError named by the fit file's key behind it: the parameter, or the
    experiment's `set` key, whose case key it concerns (a material the cell does not use, a
    value out of range, a step made invalid); otherwise the base case's own error as it is."""
    def concerns(key):
        return key == exc.key or key.startswith(exc.key + ".") or exc.key.startswith(key + ".")

    flat = {}
    _flatten(table, "", flat)
    for p in parameters:
        if concerns(p.key):
            return InputError(f"parameters.{p.key}", flat[p.key], exc.expected)
    for key, value in experiment.settings.items():
        if concerns(key):
            return InputError(f"experiment.{k}.set.{key}", value, exc.expected)
    return exc


def _check_voltages(experiment, n_units, key, value):
    """Measured voltages lie where the case's cells can be: above 0 and at most
    MAX_CELL_VOLTAGE per cell of its stack (as a protocol's voltages); a file in millivolts,
    or of zeros, is refused rather than fitted."""
    v, high = experiment.voltage, limits.MAX_CELL_VOLTAGE * n_units
    outside = np.flatnonzero((v <= 0.0) | (v > high))
    if outside.size:
        row = outside[0]
        hint = "; millivolts?" if v[row] >= 1e3 else ""
        raise InputError(key, value, f"voltage_V in volts, above 0 and at most {high:g} V "
                                     f"({limits.MAX_CELL_VOLTAGE:g} V per cell, {n_units} in "
                                     f"series) (data row {row + 1}: {v[row]:g}{hint})")


def _check_curve_step(protocol, experiment, prefix):
    """A curve's run must reach the step it measures: by default its first discharge or
    charge; a `step` must exist and carry a voltage curve (no impedance step; against
    capacity, no rest). Runs whose blocks end early number their steps as they run: the
    run tells."""
    modes = [s.mode for s in protocol]
    k = experiment.step
    if k is None:
        if not {"discharge", "charge"} & set(modes):
            raise InputError(f"{prefix}.step", MISSING, "the index of the step the curve "
                                                        "measures: the run has no discharge "
                                                        "or charge step to take by default")
        return
    if any(s.ends_block for s in protocol):
        return
    refused = ("impedance", "rest") if experiment.abscissa == "capacity" else ("impedance",)
    if k >= len(modes) or modes[k] in refused:
        steps = ", ".join(f"{i} ({mode})" for i, mode in enumerate(modes) if mode not in refused)
        raise InputError(f"{prefix}.step", k, f"the index of a step of the run that a curve "
                                              f"against {experiment.abscissa} measures: {steps}")


def _check_impedance_step(protocol, experiment, prefix):
    """A spectrum's run must reach an impedance step; a `step` must be one (the run's step
    numbers are the protocol's positions unless a block ends early: then the run tells)."""
    modes = [s.mode for s in protocol]
    if "impedance" not in modes:
        raise InputError(f"{prefix}.data", experiment.data_path.name if experiment.data_path
                         else experiment.name,
                         "a curve (capacity_mAh_cm2 or time_s, voltage_V) for this run: its "
                         "protocol has no impedance step for a measured spectrum")
    k = experiment.step
    if k is not None and not any(s.ends_block for s in protocol) and (
            k >= len(modes) or modes[k] != "impedance"):
        steps = ", ".join(str(i) for i, mode in enumerate(modes) if mode == "impedance")
        raise InputError(f"{prefix}.step", k, f"the index of an impedance step of the run "
                                              f"({steps})")


def _one_of(what, names, given):
    text = f"{what}: {', '.join(names)}"
    close = difflib.get_close_matches(str(given), names, n=1)
    return text + (f" (did you mean {close[0]!r}?)" if close else "")


def _settings(table) -> dict:
    if not isinstance(table, dict):
        raise InputError("fit", table, "a [fit] table of settings")
    settings = dict(SETTINGS)
    for key, value in table.items():
        name = f"fit.{key}"
        if key not in SETTINGS:
            raise InputError(name, value, _one_of("a fit setting", list(SETTINGS), key))
        if key in ("starts", "max_evaluations"):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise InputError(name, value, "a whole number >= 1")
            if key == "starts" and value > MAX_STARTS:
                raise InputError(name, value, f"at most {MAX_STARTS} starts (each is a "
                                              f"least-squares search of up to "
                                              f"max_evaluations model runs)")
        elif key == "seed":
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise InputError(name, value, "a whole number >= 0")
        elif key == "jacobian":
            if value not in JACOBIANS:
                raise InputError(name, value, " or ".join(repr(j) for j in JACOBIANS))
        elif key == "voltage_error":
            value = parse_quantity(value, "voltage", name)
            if not value > 0:
                raise InputError(name, table[key], "a voltage greater than zero, such as '1 mV'")
        elif key in ("end_error", "impedance_error"):
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < 1:
                example = "0.005" if key == "end_error" else "0.01 (1 % of |Z|)"
                raise InputError(name, value, f"a fraction between 0 and 1, such as {example}")
            value = float(value)
        settings[key] = value
    return settings


def parameter_dimension(key: str) -> str:
    """The dimension of a numeric case key a fit may change; InputError otherwise."""
    from ..materials import load_material
    from ..materials.schema import PARAMETERS

    parts = key.split(".")
    if parts[0] == "materials" and len(parts) == 3:
        spec = PARAMETERS[load_material(parts[1]).kind].get(parts[2])
        if spec is not None and spec.form in ("quantity", "quantity or table"):
            return spec.dimension
    elif key in CELL_PARAMETERS:
        return CELL_PARAMETERS[key]
    elif parts[:2] == ["cell", "layers"] and len(parts) == 4 and parts[3] in LAYER_PARAMETERS:
        return LAYER_PARAMETERS[parts[3]]
    elif parts[0] == "protocol" and parts[-1] in STEP_QUANTITIES:
        return STEP_QUANTITIES[parts[-1]]
    raise InputError(key, None, "a numeric case key a fit can change: materials.NAME.PARAMETER, "
                                "cell.series_resistance, cell.temperature, "
                                "cell.layers.NAME.thickness or .initial_stoichiometry, or a "
                                "protocol quantity")


def parse_parameter_value(value, dimension, key) -> float:
    from ..materials.library import _quantity

    return _quantity(value, dimension, key)


def _parameters(data, base_raw, base_dir) -> list[Parameter]:
    table = data.get("parameters", MISSING)
    if not isinstance(table, dict) or not table:
        raise InputError("parameters", table, "a [parameters] table of dotted case keys, each "
                                              "{ min = ..., max = ... }")
    parameters = []
    flat = {}
    _flatten(table, "", flat)
    for key, entry in flat.items():
        name = f"parameters.{key}"
        try:
            path = resolve_key(base_raw, key, entry)
            dimension = parameter_dimension(key)
        except InputError as exc:
            raise InputError(name, entry, exc.expected) from None
        if not isinstance(entry, dict) or "min" not in entry or "max" not in entry:
            raise InputError(name, entry, "a table { min = ..., max = ... } (scale = 'log' or "
                                          "'linear', initial = ... optional)")
        for k in entry:
            if k not in PARAMETER_KEYS:
                raise InputError(f"{name}.{k}", entry[k], _one_of("a key of a parameter",
                                                                 PARAMETER_KEYS, k))
        low = parse_parameter_value(entry["min"], dimension, f"{name}.min")
        high = parse_parameter_value(entry["max"], dimension, f"{name}.max")
        scale = entry.get("scale", "log")
        if scale not in SCALES:
            raise InputError(f"{name}.scale", scale, "'log' or 'linear'")
        if not high > low:
            raise InputError(name, entry, "max greater than min")
        if scale == "log" and not low > 0:
            raise InputError(f"{name}.min", entry["min"], "a value greater than zero on a log "
                                                          "scale (or scale = 'linear')")
        initial = None
        if "initial" in entry:
            initial = parse_parameter_value(entry["initial"], dimension, f"{name}.initial")
            if not low <= initial <= high:
                raise InputError(f"{name}.initial", entry["initial"], "a value between min and max")
        for other in parameters:
            if other.path == path:
                raise InputError(name, entry, f"a key listed once ({other.key} is the same)")
        parameter = Parameter(key, path, dimension, low, high, scale, initial)
        _starting_value(parameter, base_raw, base_dir)  # fails early for a table value
        parameters.append(parameter)
    return parameters


def _flatten(table, prefix, out):
    """Quoted dotted keys and TOML nesting give the same keys; a parameter's own table is a
    leaf (it has min and max)."""
    for key, value in table.items():
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, dict) and not ({"min", "max"} & set(value)):
            _flatten(value, dotted, out)
        else:
            out[dotted] = value


def _starting_value(parameter: Parameter, base_raw, base_dir) -> float:
    """The parameter's `initial`, else its value in the base case (SI): the case file's or
    the library's. A table there cannot be fitted, with or without `initial`."""
    node = base_raw
    for part in parameter.path:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = MISSING
            break
    key = parameter.key
    if node is MISSING:
        parts = key.split(".")
        if parts[0] == "materials":
            from ..materials import load_material

            material = load_material(parts[1])
            if material.has(parts[2]):
                node = material.value(parts[2])
        elif key == "cell.series_resistance":
            node = 0.0
    if callable(node) or (isinstance(node, str) and node.strip().lower().endswith(".csv")):
        raise InputError(f"parameters.{key}", node if isinstance(node, str) else "a table",
                         "a key whose value is a number: its value (in the base case or the "
                         "library) is a table, which cannot be fitted; set a number for it in "
                         "the base case to fit a constant")
    if parameter.initial is not None:
        return parameter.initial
    if node is MISSING or node is None:
        raise InputError(f"parameters.{key}", None, "a key with a value in the base case or the "
                                                    "library (or give initial = ...)")
    return node if isinstance(node, float) else parse_parameter_value(node, parameter.dimension, key)


def base_values(spec: FitSpec) -> list[float]:
    """The starting values of the base case (or `initial`), clipped into the bounds."""
    values = []
    for p in spec.parameters:
        v = _starting_value(p, spec.base_raw, spec.base_dir)
        values.append(min(max(v, p.low), p.high))
    return values


def _experiments(data, folder, base_raw) -> list[Experiment]:
    entries = data.get("experiment", MISSING)
    if not isinstance(entries, list) or not entries:
        raise InputError("experiment", entries, "one or more [[experiment]] tables with name, "
                                                "data, set and role")
    experiments, names = [], set()
    for k, entry in enumerate(entries):
        prefix = f"experiment.{k}"
        if not isinstance(entry, dict):
            raise InputError(prefix, entry, "an [[experiment]] table")
        for key in entry:
            if key not in EXPERIMENT_KEYS:
                raise InputError(f"{prefix}.{key}", entry[key],
                                 _one_of("a key of an experiment", EXPERIMENT_KEYS, key))
        name = entry.get("name", MISSING)
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{prefix}.name", name, "a non-empty name")
        if name in names:
            raise InputError(f"{prefix}.name", name, "a name used by one experiment only")
        names.add(name)
        role = entry.get("role", MISSING)
        if role not in ROLES:
            raise InputError(f"{prefix}.role", role, "'fit' or 'predict'")
        settings = entry.get("set", {})
        if not isinstance(settings, dict):
            raise InputError(f"{prefix}.set", settings, "a table of dotted case keys and values")
        flat = {}
        _flatten(settings, "", flat)
        for key, value in flat.items():
            try:
                resolve_key(base_raw, key, value)
            except InputError as exc:
                raise InputError(f"{prefix}.set.{key}", value, exc.expected) from None
        step = entry.get("step")
        if step is not None and (isinstance(step, bool) or not isinstance(step, int) or step < 0):
            raise InputError(f"{prefix}.step", step, "the index (0, 1, ...) of a step of the run")
        abscissa, x, v, path, raw_bytes = _read_data(entry.get("data", MISSING), folder,
                                                     f"{prefix}.data")
        z = None
        if abscissa == "frequency":
            z, v, end = v, np.zeros(0), None
            if "end_capacity" in entry:
                raise InputError(f"{prefix}.end_capacity", entry["end_capacity"],
                                 "no end_capacity: the data are an impedance spectrum")
        else:
            end = _end(entry.get("end_capacity", True), abscissa, x, f"{prefix}.end_capacity")
        experiments.append(Experiment(name, role, flat, abscissa, x, v, step, end, path,
                                      raw_bytes, z, entry.get("end_capacity", True) is True))
    return experiments


def _end(value, abscissa, x, key):
    if value is True:
        if not x[-1] > 0:          # no end: its residual would be over 0.5 % of nothing
            raise InputError(key, value, f"the data's last point, the measured end by default, "
                                         f"beyond {abscissa} 0; or false, or the measured end")
        return float(x[-1])
    if value is False:
        return None
    if abscissa == "capacity":
        end = parse_quantity(value, "areal_charge", key) / 36000.0    # C/m^2 -> mAh/cm^2
    else:
        end = parse_quantity(value, "time", key)
    if not end > 0:
        raise InputError(key, value, "true, false or a positive capacity (or time)")
    return end


def _read_data(value, folder, key):
    """(abscissa, x, voltage, path, bytes) of a measured curve's CSV; for a spectrum's
    ("frequency", f, Z complex, path, bytes)."""
    if not isinstance(value, str) or not value.strip():
        raise InputError(key, value, "a CSV file of the measured curve, relative to the fit "
                                     "file: columns capacity_mAh_cm2 (or time_s) and voltage_V, "
                                     "or frequency_Hz, z_real_ohm_cm2 and z_imag_ohm_cm2")
    path = folder / value.strip()
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8-sig")        # Excel's "CSV UTF-8" begins with a BOM
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(key, value, f"a readable UTF-8 CSV file ({exc})") from None
    lines = [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    reader = csv.reader(lines)
    header = [h.strip() for h in next(reader, [])]
    columns, unreadable = _data_columns(header, value, key)
    if {"frequency", "z_real", "z_imag"} & set(columns):
        return ("frequency",) + _read_spectrum(header, columns, unreadable, reader, value,
                                               key) + (path, raw)
    abscissa = [q for q in ("capacity", "time") if q in columns]
    if len(abscissa) != 1 or "voltage" not in columns:
        has = f"it has {', '.join(header)}" if header else "it has no header, nor rows"
        if len(header) == 1 and header[0].count(";") + header[0].count("\t"):
            has += ": columns are separated by commas"
        raise InputError(key, value, f"a CSV whose header names {ACCEPTED_COLUMNS} "
                                     f"({has}{_not_units(unreadable)})")
    (ix, x_factor), (iv, v_factor) = columns[abscissa[0]], columns["voltage"]
    xs, vs = [], []
    for number, row in enumerate(reader, start=2):
        try:
            x, v = float(row[ix]) * x_factor, float(row[iv]) * v_factor
        except (ValueError, IndexError):
            raise InputError(key, value, f"numbers in every row (data row {number - 1}: "
                                         f"{','.join(row)})") from None
        if not (math.isfinite(x) and math.isfinite(v)):
            raise InputError(key, value, f"finite numbers (data row {number - 1})")
        xs.append(x)
        vs.append(v)
    x, v = np.array(xs), np.array(vs)
    if x.size < 1:
        raise InputError(key, value, "at least one measured point")
    if np.any(np.diff(x) < 0) or x[0] < 0:
        raise InputError(key, value, f"{header[ix]} from 0 up, never decreasing")
    return abscissa[0], x, v, path, raw


def _data_columns(header, value, key):
    """({quantity: (column index, factor to the unit the fit reads it in)} of the columns a
    fit reads, [the names of the columns of such a quantity whose unit is not of its
    dimension]); other columns are ignored, a quantity named twice is refused."""
    columns, unreadable = {}, []
    for index, name in enumerate(header):
        quantity = next((q for q in sorted(COLUMN_QUANTITIES, key=len, reverse=True)
                         if name.lower().startswith(q + "_")), None)
        if quantity is None:
            continue
        factor = _unit_factor(name[len(quantity) + 1:], *COLUMN_QUANTITIES[quantity])
        if factor is None:
            unreadable.append(name)
            continue
        if quantity in columns:
            first = header[columns[quantity][0]]
            raise InputError(key, value, f"one column of each quantity ({first} and {name})")
        columns[quantity] = (index, factor)
    return columns, unreadable


def _not_units(names):
    return "".join(f"; {name}: not a unit of its quantity" for name in names)


def _unit_factor(text, dimension, unit):
    """The factor from a column's unit (as its name spells it) to `unit`, or None."""
    if not text:
        return None
    parts = [re.sub(r"(?<=[A-Za-z])(\d+)$", r"^\1", part) for part in text.split("_")]
    for joint in ("/", "*"):           # mAh_cm2 is per cm^2, ohm_cm2 times cm^2
        try:
            return (parse_quantity(f"1 {joint.join(parts)}", dimension, text)
                    / parse_quantity(f"1 {unit}", dimension, text))
        except InputError:
            continue
    return None


def _read_spectrum(header, columns, unreadable, reader, value, key):
    """(frequencies, Z) of a measured spectrum: columns frequency_Hz, z_real_ohm_cm2 and
    z_imag_ohm_cm2 (any order, in any unit of their quantities, more columns ignored; a
    `step` column must hold one value)."""
    missing = [c for c, q in zip(IMPEDANCE_COLUMNS, ("frequency", "z_real", "z_imag"))
               if q not in columns]
    if missing:
        raise InputError(key, value, f"a CSV whose header names {ACCEPTED_COLUMNS} (it lacks "
                                     f"{', '.join(missing)}{_not_units(unreadable)})")
    read = [columns[q] for q in ("frequency", "z_real", "z_imag")]
    step_column = header.index("step") if "step" in header else None
    rows, steps = [], set()
    for number, row in enumerate(reader, start=1):
        try:
            rows.append([float(row[c]) * factor for c, factor in read])
        except (ValueError, IndexError):
            raise InputError(key, value, f"numbers in every row (data row {number}: "
                                         f"{','.join(row)})") from None
        if step_column is not None and step_column < len(row):
            steps.add(row[step_column].strip())
        if not all(math.isfinite(v) for v in rows[-1]):
            raise InputError(key, value, f"finite numbers (data row {number})")
        if not rows[-1][0] > 0:
            raise InputError(key, value, f"frequencies greater than zero (data row {number}: "
                                         f"{rows[-1][0]:g} Hz)")
        if not limits.MIN_FREQUENCY <= rows[-1][0] <= limits.MAX_FREQUENCY:
            raise InputError(key, value, f"{limits.FREQUENCY_RANGE_TEXT} (data row {number}: "
                                         f"{rows[-1][0]:g} Hz)")
        if rows[-1][1] == 0 and rows[-1][2] == 0:
            raise InputError(key, value, f"a non-zero impedance (data row {number}): the "
                                         f"residuals are relative to |Z|")
    if len(steps) > 1:
        raise InputError(key, value, f"one spectrum (its step column holds "
                                     f"{', '.join(sorted(steps))}): one file per step")
    if not rows:
        raise InputError(key, value, "at least one measured frequency")
    data = np.array(rows)
    _check_frequencies_once(data[:, 0], value, key)
    if np.all(data[:, 2] > 0):
        raise InputError(key, value, "z_imag_ohm_cm2 as Z'' (negative where the cell is "
                                     "capacitive); it is positive at every frequency here: "
                                     "a -Z'' column? change its sign")
    return data[:, 0], data[:, 1] + 1j * data[:, 2]


def _check_frequencies_once(frequencies, value, key):
    """Two impedances at one frequency: no model meets both, and the Kramers-Kronig check
    would count the frequency twice."""
    _, first = np.unique(frequencies, return_index=True)
    repeated = np.setdiff1d(np.arange(frequencies.size), first)
    if repeated.size:
        row = repeated[0]
        earlier = np.flatnonzero(frequencies == frequencies[row])[0]
        raise InputError(key, value, f"each frequency once (data row {row + 1}: "
                                     f"{frequencies[row]:g} Hz, as data row {earlier + 1})")

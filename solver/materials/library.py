"""The materials library: data files with a source for every number, and case overrides.

Each material is one TOML file in ``data/`` (``data/<Name>.toml``)::

    name = "LiCoO2"
    kind = "intercalation"
    description = "one line"
    [parameters.max_concentration]
    value = "51555 mol/m^3"        # number in SI, string with units, list, or "file.csv"
    source = "paper, table, page"

A string value ending in ``.csv`` is a table file, relative to ``data/`` for the library and
to the case file's directory for overrides. Values are parsed into SI once, here.
"""

from __future__ import annotations

import textwrap
import tomllib
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..units import DIMENSIONS, FARADAY, parse_quantity
from .schema import (CHOICE, DEFAULT_TEMPERATURE_RANGE, DEFAULT_TEMPERATURE_SOURCE,
                     DISPLAY_UNITS, KINDS, KINETICS, PARAMETERS, QUANTITY_OR_TABLE, RANGE,
                     TABLE, UNREAD_BY_MODEL, Spec, plausible)
from .table import Table, read_table

DATA_DIR = Path(__file__).resolve().parent / "data"
OVERRIDE_SOURCE = "case file override"


@dataclass(frozen=True)
class Parameter:
    name: str
    value: object          # float (SI) | Table | tuple of floats | str
    source: str
    dimension: str


class Material:
    """A material: its kind and parameters (SI values or Tables), each with its source."""

    def __init__(self, name: str, kind: str, description: str,
                 parameters: dict[str, Parameter], path: Path | None = None):
        self.name = name
        self.kind = kind
        self.description = description
        self.parameters = dict(parameters)
        self.path = path

    def has(self, param: str) -> bool:
        return param in self.parameters

    def value(self, param: str):
        """The value in SI units: a float, a Table, a tuple (ranges) or a string (choices)."""
        return self._get(param).value

    def source(self, param: str) -> str:
        return self._get(param).source

    def dimension(self, param: str) -> str:
        return self._get(param).dimension

    def names(self) -> list[str]:
        """Parameter names in the order of the schema for this kind."""
        order = list(PARAMETERS[self.kind])
        return sorted(self.parameters, key=lambda p: order.index(p) if p in order else len(order))

    def volumetric_capacity(self) -> float:
        """Charge the material can store per volume between its usable limits, C/m^3.

        Intercalation: f c_max F (x_max - x_min), f the active fraction of the film;
        lithium metal: F density / molar mass.
        """
        if self.kind == "intercalation":
            low, high = self.value("stoichiometry_range")
            fraction = self.value("active_fraction") if self.has("active_fraction") else 1.0
            return fraction * self.value("max_concentration") * FARADAY * (high - low)
        if self.kind == "lithium_metal":
            return FARADAY * self.value("density") / self.value("molar_mass")
        raise ValueError(f"material {self.name!r} ({self.kind}) stores no lithium")

    def _get(self, param: str) -> Parameter:
        try:
            return self.parameters[param]
        except KeyError:
            raise KeyError(f"material {self.name!r} has no parameter {param!r} "
                           f"(it has: {', '.join(self.names())})") from None

    def __repr__(self) -> str:
        return f"Material({self.name!r}, kind={self.kind!r}, {len(self.parameters)} parameters)"


# ------------------------------------------------------------------------------------------
# library

def library_names() -> list[str]:
    """Names of the materials in the library, sorted case-insensitively."""
    return sorted((p.stem for p in DATA_DIR.glob("*.toml")), key=str.lower)


@lru_cache(maxsize=None)
def _library_file(name: str) -> dict:
    path = DATA_DIR / f"{name}.toml"
    key = f"materials.{name}"
    try:
        with path.open("rb") as handle:
            data = tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise InputError(key, str(path), f"a valid TOML material file ({exc})") from None
    return data


def load_material(name, overrides=None, base_dir=None, key: str = "materials") -> Material:
    """A library material with the case's overrides applied and every value checked.

    `overrides` is the case file's [materials.NAME] table: each key must be a parameter of
    the material's kind; values are numbers (SI), strings with units, or table files
    relative to `base_dir`. Overridden values get the source "case file override". A case
    that sets exchange_current_density drops the library's rate_constant, and vice versa.
    """
    names = library_names()
    if not isinstance(name, str) or name not in names:
        raise InputError(key, name, f"one of: {', '.join(names)}")
    data = _library_file(name)
    path = DATA_DIR / f"{name}.toml"
    file_key = f"materials.{name}"

    kind = data.get("kind")
    if kind not in KINDS:
        raise InputError(f"{file_key}.kind", kind, f"one of: {', '.join(KINDS)} (in {path})")
    if data.get("name", name) != name:
        raise InputError(f"{file_key}.name", data.get("name"), f"{name!r}, the file's name")
    schema = PARAMETERS[kind]
    raw_parameters = data.get("parameters", {})
    if not isinstance(raw_parameters, dict):
        raise InputError(f"{file_key}.parameters", raw_parameters, "a table of parameters")

    parameters: dict[str, Parameter] = {}
    for param, entry in raw_parameters.items():
        pkey = f"{file_key}.{param}"
        if param not in schema:
            raise InputError(pkey, entry, f"one of: {', '.join(schema)} (in {path})")
        if not isinstance(entry, dict) or "value" not in entry:
            raise InputError(pkey, entry, f"a table with value and source (in {path})")
        source = entry.get("source")
        if not isinstance(source, str) or not source.strip():
            raise InputError(f"{pkey}.source", source, f"a non-empty citation (in {path})")
        value = _parse_value(entry["value"], schema[param], pkey, DATA_DIR)
        parameters[param] = Parameter(param, value, source.strip(), schema[param].dimension)

    if overrides is not None:
        if not isinstance(overrides, dict):
            raise InputError(file_key, overrides, f"a table of parameter overrides: [{file_key}]")
        chosen = [p for p in KINETICS if p in overrides]
        if len(chosen) > 1 and kind == "intercalation":
            raise InputError(f"{file_key}.{chosen[0]}", overrides[chosen[0]],
                             "either exchange_current_density or rate_constant, not both")
        for param, raw in overrides.items():
            pkey = f"{file_key}.{param}"
            if param not in schema:
                raise InputError(pkey, raw, f"one of: {', '.join(schema)}")
            folder = Path(base_dir) if base_dir is not None else Path.cwd()
            value = _parse_value(raw, schema[param], pkey, folder)
            parameters[param] = Parameter(param, value, OVERRIDE_SOURCE, schema[param].dimension)
            if param in KINETICS and kind == "intercalation":
                for other in KINETICS:
                    if other != param:
                        parameters.pop(other, None)

    if overrides and kind == "electrolyte":
        _check_read_by_model(overrides, parameters["model"].value, file_key)
    parameters.setdefault("temperature_range", Parameter(
        "temperature_range", DEFAULT_TEMPERATURE_RANGE, DEFAULT_TEMPERATURE_SOURCE,
        "temperature"))
    material = Material(name, kind, str(data.get("description", "")).strip(), parameters, path)
    _check_complete(material, file_key)
    return material


# ------------------------------------------------------------------------------------------
# parsing and checking

def _parse_value(raw, spec: Spec, key: str, folder: Path):
    if spec.form == CHOICE:
        if not isinstance(raw, str) or raw not in spec.choices:
            raise InputError(key, raw, f"one of: {', '.join(spec.choices)}")
        return raw
    if spec.form == RANGE:
        ends = "x_min, x_max" if spec.dimension == "dimensionless" else "low, high"
        if (not isinstance(raw, (list, tuple)) or len(raw) != 2):
            raise InputError(key, raw, f"two numbers [{ends}]")
        low, high = (_quantity(v, spec.dimension, key) for v in raw)
        for v in (low, high):
            problem = spec.check(v) or plausible(spec.dimension, v, v)
            if problem:
                raise InputError(key, raw, f"two numbers [{ends}], each {problem}")
        if not low < high:
            first, second = ends.split(", ")
            raise InputError(key, raw, f"two numbers [{ends}] with {first} < {second}")
        return (low, high)
    if isinstance(raw, str) and raw.strip().lower().endswith(".csv"):
        if spec.form not in (TABLE, QUANTITY_OR_TABLE):
            raise InputError(key, raw, f"{_described(spec.dimension)}, not a table file")
        table_path = Path(raw.strip())
        if not table_path.is_absolute():
            table_path = folder / table_path
        table = read_table(table_path, key, log=spec.log_table, name=key.rsplit(".", 1)[-1])
        _check_table(table, spec, key)
        return table
    if spec.form == TABLE:
        raise InputError(key, raw, "a table file 'NAME.csv' (CSV: header line, then rows "
                                   "stoichiometry,value)")
    value = _quantity(raw, spec.dimension, key)
    problem = spec.check(value) or plausible(spec.dimension, value, value)
    if problem:
        raise InputError(key, raw, f"{_described(spec.dimension)}: {problem}")
    return value


def _check_table(table: Table, spec: Spec, key: str) -> None:
    shown = str(table.path) if table.path is not None else table.name
    low, high = table.x_range
    if low < 0 or high > 1:
        hint = ""
        if "concentration" in table.columns[0].lower():   # PyBaMM's sodium-ion tables
            hint = (f"; its first column is {table.columns[0]!r}: divide it by the maximum "
                    f"concentration")
        raise InputError(key, shown, f"a table over stoichiometries between 0 and 1 "
                                     f"(it spans {low:g} to {high:g}{hint})")
    if spec.dimension == "voltage":
        if not table.is_non_increasing():
            rise = int(np.argmax(np.diff(table.y) > 0))
            raise InputError(key, shown, "an OCV table that does not rise with stoichiometry "
                                         "(the potential vs Li/Li+ falls, or stays flat, as Li "
                                         "is inserted; it rises by "
                                         f"{(table.y[rise + 1] - table.y[rise]) * 1e3:.3g} mV "
                                         f"from x = {table.x[rise]:g} to {table.x[rise + 1]:g}: "
                                         f"smooth measured data first)")
        if table.y.min() < 0 or table.y.max() > 6:
            raise InputError(key, shown, "an OCV table with potentials between 0 and 6 V")
    elif spec.rule == "positive" and table.y.min() <= 0:
        raise InputError(key, shown, f"a table of {_described(spec.dimension)} values "
                                     f"greater than zero")
    problem = plausible(spec.dimension, float(table.y.min()), float(table.y.max()))
    if problem:
        raise InputError(key, shown, f"a table of {problem}")


def _check_read_by_model(overrides: dict, model: str, key: str) -> None:
    """An override the electrolyte's model does not read would change nothing, silently
    (a conductivity set on a dissociation electrolyte, whose conductivity follows from its
    carriers): it is refused, naming the model that reads it."""
    for param, raw in overrides.items():
        if param in UNREAD_BY_MODEL.get(model, ()):
            readers = [m for m, unread in UNREAD_BY_MODEL.items() if param not in unread]
            raise InputError(f"{key}.{param}", raw,
                             f"no {param} with model = {model!r}, which does not read it "
                             f"(model = {' or '.join(repr(m) for m in readers)} does)")


def _check_complete(material: Material, key: str) -> None:
    schema = PARAMETERS[material.kind]
    missing = [p for p, s in schema.items() if s.required and not material.has(p)]
    if missing:
        raise InputError(f"{key}.{missing[0]}", None,
                         f"a value: {material.kind} materials need "
                         f"{', '.join(p for p, s in schema.items() if s.required)}")
    if material.kind == "intercalation":
        if not any(material.has(p) for p in KINETICS):
            raise InputError(f"{key}.exchange_current_density", None,
                             "a value: an intercalation electrode needs "
                             "exchange_current_density or rate_constant")
        ocv = material.value("ocv")
        low, high = material.value("stoichiometry_range")
        t_low, t_high = ocv.x_range
        if low < t_low - 1e-12 or high > t_high + 1e-12:
            raise InputError(f"{key}.stoichiometry_range", [low, high],
                             f"a range inside the OCV table's stoichiometries "
                             f"[{t_low:g}, {t_high:g}]")


def _quantity(raw, dimension: str, key: str) -> float:
    return parse_quantity(raw, dimension, key)


def _described(dimension: str) -> str:
    return DIMENSIONS[dimension][1]


# ------------------------------------------------------------------------------------------
# listings for people (thinfilm materials [NAME])

def format_library() -> str:
    """One line per library material: name, kind, description."""
    rows = []
    for name in library_names():
        data = _library_file(name)
        rows.append((name, str(data.get("kind", "?")), str(data.get("description", "")).strip()))
    width_name = max(len("name"), *(len(r[0]) for r in rows))
    width_kind = max(len("kind"), *(len(r[1]) for r in rows))
    lines = [f"{'name':<{width_name}}  {'kind':<{width_kind}}  description",
             f"{'-' * width_name}  {'-' * width_kind}  {'-' * 11}"]
    lines += [f"{n:<{width_name}}  {k:<{width_kind}}  {d}" for n, k, d in rows]
    lines.append("")
    lines.append("thinfilm materials NAME shows every parameter of one material with its source.")
    return "\n".join(lines)


def format_material(name, overrides=None, base_dir=None) -> str:
    """Every parameter of one material: value in readable units and its source."""
    material = load_material(name, overrides, base_dir)
    lines = [f"{material.name} ({material.kind})", material.description]
    if material.path is not None:
        lines.append(f"data file: {material.path}")
    lines.append("")
    width = max(len(p) for p in material.names())
    for param in material.names():
        shown = format_value(material.value(param), material.dimension(param))
        lines.append(f"{param:<{width}}  {shown}")
        lines += textwrap.wrap(f"source: {material.source(param)}", width=100,
                               initial_indent=" " * (width + 2),
                               subsequent_indent=" " * (width + 10),
                               break_on_hyphens=False)
    if material.kind in ("intercalation", "lithium_metal"):
        capacity = material.volumetric_capacity() / 3.6e7  # C/m^3 -> uAh/(cm^2 um)
        lines.append("")
        lines.append(f"{'capacity':<{width}}  {capacity:.4g} uAh/(cm^2 um) "
                     f"(derived from the values above)")
    return "\n".join(lines)


def format_value(value, dimension: str) -> str:
    """A value in the unit people read for its dimension."""
    unit, factor = DISPLAY_UNITS.get(dimension, ("(SI)", 1.0))
    if isinstance(value, Table):
        source = value.path.name if value.path is not None else value.name
        y_unit, y_factor = (("V", 1.0) if dimension == "voltage" else (unit, factor))
        low, high = value.x_range
        return (f"table {source}: {len(value)} points, x {low:g}..{high:g}, "
                f"{value.columns[1]} {value.y.min() / y_factor:.4g}..{value.y.max() / y_factor:.4g}"
                f" {y_unit}".rstrip())
    if isinstance(value, tuple) and dimension == "temperature":
        low, high = value
        return f"{low:.6g}..{high:.6g} K ({low - 273.15:.6g}..{high - 273.15:.6g} degC)"
    if isinstance(value, tuple):
        return "[" + ", ".join(f"{v:g}" for v in value) + "]"
    if isinstance(value, str):
        return value
    text = f"{value / factor:.6g} {unit}".rstrip()
    if dimension == "temperature":
        text += f" ({value - 273.15:.6g} degC)"
    elif dimension == "molar_energy":
        text += f" ({value / 1000:.4g} kJ/mol)"
    return text

"""Case files: a TOML description of a cell and what to do with it, turned into a `Case`.

Everything is validated in this package, once, so that the rest of the code can trust it:
every quantity is converted to SI units, every mistake raises an `InputError` whose key is the
dotted path of the offending entry in the case file (``cell.layers.cathode.thickness``,
``materials.LiCoO2.diffusivity``, ``protocol.2.steps.0.until_voltage``) and whose message says
what is allowed. The format is described in DESIGN.md section 6 and in the commented case
``cases/planar_li_lipon_lco.toml``.

Trench and micropillar cells take their substrate structure from ``[cell.trench]`` or
``[cell.micropillar]``; their layers are listed from the substrate outward and split by
`stack_roles` into the conformal films, the fill (the last electrode) and the planar top
layers that the mesh generators build.

The package's modules, by the part of the case they check: `settings` (what a validated
case is), `entries` (reading keys and values), `cell` (the cell, its geometry, layers,
materials, mesh and solver), `protocol` (steps and repeat blocks); this module reads the
file and puts them together.
"""

from __future__ import annotations

import copy
import tomllib
from dataclasses import replace
from pathlib import Path

from .. import limits
from ..errors import InputError
from ..files import read_text
from ..shipped import KINDS, file_command
from .settings import (  # noqa: F401  (the case format, as solver.case.NAME)
    ARCHITECTURES, BIPOLAR_KEYS, BipolarSettings, BLOCK_END_REASONS, BLOCK_KEYS, C_RATE_KEYS,
    Case, CELL_KEYS, default_max_cell_size, DRIVES, ELECTRODE_KINDS, FOOTPRINT_RANGE,
    IMPEDANCE_KEYS, LATTICES, Layer, LAYER_KEYS, MAX_BLOCK_DEPTH, MAX_FREQUENCIES, MAX_NAME,
    MAX_NESTING, MAX_PROTOCOL_STEPS, MESH_KEYS, MeshSettings, MICROPILLAR_KEYS, MicropillarSettings,
    MISSING, MODES, SOLVER_KEYS, SolverSettings, stack_roles, StackRoles, Step, STEP_KEYS,
    STEP_QUANTITIES, STEP_RULES, TOP_KEYS, TRENCH_KEYS, TrenchSettings, VARIATION_KEYS)
from .entries import _boolean, _check_keys, _get, _join, _number, _positive, _table
from .cell import (
    _architecture, _bipolar, _case_name, _check_films_fit, _check_one_dimensional_films,
    _check_temperature_range, _layers, _load_materials, _mesh, _micropillar, _solver,
    _step_coverage, _temperature, _trench, bipolar_stack)
from .protocol import _protocol


def load_case(path) -> Case:
    """Read and validate a TOML case file; raises InputError naming the offending key."""
    path = Path(path)
    text = read_text(path, str(path), "case file")
    data = parse_toml(text, path)
    case = case_from_dict(data, path.resolve().parent, source=str(path))
    case.path = path.resolve()
    return case


def parse_toml(text: str, path: Path, key: str | None = None) -> dict:
    """The dict of the TOML text of file `path`; InputError naming `key` (default: the
    file's name) for invalid TOML."""
    key = key or path.name
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:     # its message gives the line, never the text
        raise InputError(key, str(path), f"valid TOML; the parser says: {exc}") from None
    except RecursionError:
        raise InputError(key, str(path), f"TOML with tables and lists nested at most "
                                         f"{MAX_NESTING} deep") from None
    check_nesting(data, key)
    return data


def check_nesting(data, source: str) -> None:
    """Refuse tables and lists nested deeper than MAX_NESTING (naming the deepest key):
    everything downstream, copies and hashes included, may then recurse safely."""
    stack = [(data, "", 0)]
    while stack:
        node, key, depth = stack.pop()
        if depth > MAX_NESTING:
            raise InputError(key or source, "<nested deeper>",
                             f"tables and lists nested at most {MAX_NESTING} deep")
        items = node.items() if isinstance(node, dict) else (
            enumerate(node) if isinstance(node, list) else ())
        stack.extend((value, _join(key, name), depth + 1) for name, value in items)


def case_from_dict(data: dict, base_dir: Path, source: str = "<dict>") -> Case:
    """Validate a case given as the dict TOML parses to. Paths in it are relative to base_dir."""
    if not isinstance(data, dict):
        raise InputError(source, data, "a case: tables cell and protocol, optionally "
                                       "materials, mesh and solver")
    check_nesting(data, source)
    base_dir = Path(base_dir)
    command = file_command(data)
    if command != "run":
        raise InputError(source, f"a {KINDS[command][0]} of base = {data['base']!r}",
                         f"a case file with a [cell] table (run it with "
                         f"thinfilm {command} {source} --out DIR)")
    _check_keys(data, TOP_KEYS, "", what="top-level table")

    cell = _table(data, "cell", "", required=True)
    _check_keys(cell, CELL_KEYS, "cell")
    name = _case_name(cell, source)
    allow_large = _boolean(cell, "allow_large", "cell", False,
                           "true accepts films thicker than 1 mm and structures larger than "
                           "1 cm, which are otherwise taken for unit mistakes")
    architecture = _architecture(cell)
    trench = _trench(cell, allow_large) if architecture == "trench" else None
    micropillar = _micropillar(cell, allow_large) if architecture == "micropillar" else None
    footprint_area = _positive(_get(cell, "footprint_area", "cell", "area"), "area",
                               "cell.footprint_area")
    low, high = FOOTPRINT_RANGE
    if not low <= footprint_area <= high:
        raise InputError("cell.footprint_area", cell["footprint_area"],
                         "an area from 1 um^2 to 1 m^2")
    temperature_value = _get(cell, "temperature", "cell", "temperature")
    temperature = _temperature(temperature_value)
    nominal_capacity = None
    if "nominal_capacity" in cell:
        nominal_capacity = _positive(cell["nominal_capacity"], "charge", "cell.nominal_capacity")
    series_resistance = 0.0
    if "series_resistance" in cell:
        series_resistance = _number(cell["series_resistance"], "area_resistance",
                                    "cell.series_resistance")
        if series_resistance < 0:
            raise InputError("cell.series_resistance", cell["series_resistance"],
                             "an area-specific resistance such as '18 ohm*cm^2', zero or more")

    materials = _load_materials(data, cell, base_dir)
    layers = _layers(cell, materials, allow_large)
    layers = _step_coverage(cell, layers, architecture)
    _check_one_dimensional_films(layers, architecture)
    _check_temperature_range(temperature, temperature_value, layers)
    bipolar = None
    if architecture == "bipolar":
        bipolar = _bipolar(cell, layers, allow_large)
        layers = bipolar_stack(layers, bipolar)
    geometry = trench or micropillar
    if geometry is not None:
        _check_films_fit(cell, geometry, stack_roles(layers))
    mesh_table = _table(data, "mesh", "")
    mesh = _mesh(mesh_table)
    if geometry is not None and mesh.max_cell_size is None:
        mesh = replace(mesh, max_cell_size=default_max_cell_size(geometry))
    n_units = bipolar.n_cells if bipolar is not None else 1
    protocol = _protocol(data, n_units, footprint_area)
    solver = _solver(_table(data, "solver", ""))

    case = Case(name=name, architecture=architecture, footprint_area=footprint_area,
                temperature=temperature, nominal_capacity=nominal_capacity, layers=layers,
                mesh=mesh, protocol=protocol, solver=solver, path=None,
                raw=copy.deepcopy(data), trench=trench, micropillar=micropillar,
                bipolar=bipolar, series_resistance=series_resistance)
    limits.check_run_size(case, mesh_keys=tuple(mesh_table))
    return case

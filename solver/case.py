"""Case files: a TOML description of a cell and what to do with it, turned into a `Case`.

Everything is validated here, once, so that the rest of the code can trust it: every
quantity is converted to SI units, every mistake raises an `InputError` whose key is the
dotted path of the offending entry in the case file (``cell.layers.cathode.thickness``,
``materials.LiCoO2.diffusivity``, ``protocol.2.steps.0.until_voltage``) and whose message says
what is allowed. The format is described in DESIGN.md section 6 and in the commented case
``cases/planar_li_lipon_lco.toml``.

Trench and micropillar cells take their substrate structure from ``[cell.trench]`` or
``[cell.micropillar]``; their layers are listed from the substrate outward and split by
`stack_roles` into the conformal films, the fill (the last electrode) and the planar top
layers that the mesh generators build.
"""

from __future__ import annotations

import copy
import difflib
import math
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple

from . import limits
from .errors import InputError
from .files import read_text
from .units import DIMENSIONS, ZERO_CELSIUS, parse_quantity

if TYPE_CHECKING:  # the materials package is imported when a case is built
    from .materials import Material

ARCHITECTURES = ("planar", "bipolar", "trench", "micropillar")
MODES = ("discharge", "charge", "rest", "hold", "cccv", "impedance")
ELECTRODE_KINDS = ("intercalation", "lithium_metal")
MAX_PROTOCOL_STEPS = 100_000  # after expanding repeats
MAX_BLOCK_DEPTH = 8           # repeat blocks inside repeat blocks
MAX_NESTING = 32              # tables and lists inside each other, anywhere in a case

TOP_KEYS = ("cell", "materials", "mesh", "protocol", "solver")
CELL_KEYS = ("name", "architecture", "footprint_area", "temperature", "nominal_capacity",
             "series_resistance", "layers", "allow_large") + ARCHITECTURES[1:]
# a footprint from a square micrometre (below any cell that can be contacted) to a square metre
FOOTPRINT_RANGE = (1e-12, 1.0)          # m^2
LAYER_KEYS = ("name", "material", "thickness", "initial_stoichiometry", "initial_voltage",
              "step_coverage", "bottom_coverage")
MESH_KEYS = ("cells_per_layer", "max_cell_size", "grading", "refine")
SOLVER_KEYS = ("rtol", "max_step", "initial_step", "fields_every", "store_every")
TRENCH_KEYS = ("width", "depth", "pitch", "dimension", "length")
MICROPILLAR_KEYS = ("diameter", "height", "pitch", "lattice", "holes", "axisymmetric")
LATTICES = ("square", "hexagonal")
BIPOLAR_KEYS = ("n_cells", "variations")
VARIATION_KEYS = ("cell", "layer", "thickness", "initial_stoichiometry")
BLOCK_KEYS = ("repeat", "steps", "until_voltage")
# a step of a block with its own until_voltage that ends for one of these ends the block
BLOCK_END_REASONS = ("until_voltage", "electrode_full", "electrode_empty")

# step parameter -> dimension; every one of them must be > 0
STEP_QUANTITIES = {
    "c_rate": "dimensionless",
    "current": "current",
    "current_density": "current_density",
    "voltage": "voltage",
    "until_voltage": "voltage",
    "until_time": "time",
    "until_current": "current",
    "max_duration": "time",
}
STEP_KEYS = ("mode",) + tuple(STEP_QUANTITIES)
DRIVES = ("c_rate", "current", "current_density")
# mode -> (keys the step may have besides mode, groups of which at least one is required)
STEP_RULES = {
    "discharge": (DRIVES + ("until_voltage", "until_time"), (("until_voltage", "until_time"),)),
    "charge": (DRIVES + ("until_voltage", "until_time"), (("until_voltage", "until_time"),)),
    "rest": (("until_time",), (("until_time",),)),
    "hold": (("voltage", "until_current", "until_time"),
             (("voltage",), ("until_current", "until_time"))),
    # constant-current charge up to `voltage`, then held at `voltage` until the current falls
    # to until_current (or until_time, counted from the start of the step)
    "cccv": (DRIVES + ("voltage", "until_current", "until_time"),
             (("voltage",), ("until_current", "until_time"))),
}
# every step may carry max_duration: the bound of a step that may not reach its end
STEP_RULES = {mode: (allowed + ("max_duration",), groups)
              for mode, (allowed, groups) in STEP_RULES.items()}


class _Missing:
    """Stands for a value that is not in the case file, in error messages."""

    def __repr__(self) -> str:
        return "<missing>"


MISSING = _Missing()


@dataclass(frozen=True)
class Layer:
    name: str
    material: Material
    thickness: float                        # m
    initial_stoichiometry: float | None     # intercalation electrodes only
    # step coverage of a film on a structured substrate: its thickness at the top of the
    # wall, at the foot of the wall and on the floor over `thickness` (on the top surfaces)
    coverage: tuple[float, float, float] = (1.0, 1.0, 1.0)


class StackRoles(NamedTuple):
    """The layers of a cell by the part they play in a trench or micropillar geometry."""
    films: list[Layer]      # conformal films on the substrate, in deposition order
    fill: Layer             # the last electrode: fills what the films leave
    top: list[Layer]        # planar layers above the fill (top current collectors)


@dataclass(frozen=True)
class BipolarSettings:
    """N unit cells in series; the layer list is one unit, neighbours share a collector."""
    n_cells: int
    variations: tuple = ()     # ((cell, layer name, {field: value}), ...), cells 1-based


@dataclass(frozen=True)
class TrenchSettings:
    """Parallel trenches etched in the substrate (lengths in m)."""
    width: float                            # opening of a trench
    depth: float
    pitch: float                            # period: trench width + wall width
    dimension: int = 2                      # 2: cross-section of one period; 3: extruded
    length: float | None = None             # extrusion length (dimension 3 only)

    @property
    def wall_width(self) -> float:
        return self.pitch - self.width

    @property
    def area_enhancement(self) -> float:
        """Substrate surface area / footprint area: (pitch + 2 depth) / pitch."""
        return (self.pitch + 2 * self.depth) / self.pitch


@dataclass(frozen=True)
class MicropillarSettings:
    """Pillars (or holes) on a square or hexagonal lattice (lengths in m)."""
    diameter: float
    height: float                           # pillar height, or hole depth
    pitch: float                            # nearest-neighbour distance of the lattice
    lattice: str = "square"                 # square | hexagonal
    holes: bool = False                     # True: holes of this diameter instead of pillars
    axisymmetric: bool = False              # True: 2D axisymmetric cell of equal area

    @property
    def unit_cell_area(self) -> float:
        """Footprint per pillar: pitch^2 (square) or sqrt(3)/2 pitch^2 (hexagonal)."""
        if self.lattice == "hexagonal":
            return math.sqrt(3) / 2 * self.pitch ** 2
        return self.pitch ** 2

    @property
    def equivalent_radius(self) -> float:
        """Radius of the axisymmetric cell with the footprint of one lattice cell."""
        return math.sqrt(self.unit_cell_area / math.pi)

    @property
    def area_enhancement(self) -> float:
        """Substrate surface area / footprint area: 1 + pi d h / unit cell area."""
        return 1 + math.pi * self.diameter * self.height / self.unit_cell_area


@dataclass(frozen=True)
class MeshSettings:
    cells_per_layer: int = 20
    max_cell_size: float | None = None      # m, along surfaces (2D/3D); trench and
                                            # micropillar cells: default_max_cell_size
    grading: float = 0.5                    # 0 = uniform, towards 1 = refined at interfaces
    refine: bool = True                     # refine where a film's surface is under-resolved


@dataclass(frozen=True)
class Step:
    mode: str                               # discharge | charge | rest | hold | cccv
    c_rate: float | None = None             # 1/h, relative to the nominal capacity
    current: float | None = None            # A, > 0 (the mode gives the direction)
    current_density: float | None = None    # A/m^2 of footprint, > 0
    until_voltage: float | None = None      # V
    until_time: float | None = None         # s
    until_current: float | None = None      # A (hold and cccv steps)
    voltage: float | None = None            # V (hold: held; cccv: CC up to it, then held)
    frequencies: tuple | None = None        # impedance: (f_min, f_max) in Hz
    points_per_decade: int | None = None    # impedance: frequencies per decade
    field_frequencies: tuple = ()           # impedance: Hz at which to write the fields
    index: int = 0                          # position in the flattened protocol
    key: str = ""                           # where it is in the case file, e.g. "protocol.2.steps.0"
    ends_block: bool = False                # its until_voltage is its block's: reaching it (or
                                            # an electrode limit) ends the whole block
    block_end: int | None = None            # ends_block: index of the first step after the block
    max_duration: float | None = None       # s: longer ends the step as solver_failed
    cutoff_key: str = ""                    # ends_block: the key of its block's until_voltage
    cycle: int = 0                          # 1, 2, ...: the turn of a top-level block it runs
                                            # in, numbered on through the protocol; 0: in none


@dataclass(frozen=True)
class SolverSettings:
    rtol: float = 1e-3
    max_step: float | None = None           # s
    initial_step: float | None = None       # s
    fields_every: int = 0                   # write fields every N accepted steps (0: never)
    store_every: int = 1                    # keep every Nth accepted step's row (and
                                            # each step's first and last)


@dataclass
class Case:
    name: str
    architecture: str
    footprint_area: float                   # m^2
    temperature: float                      # K
    nominal_capacity: float | None          # C
    layers: list[Layer]
    mesh: MeshSettings
    protocol: list[Step]
    solver: SolverSettings
    path: Path | None = None
    raw: dict = field(default_factory=dict)
    trench: TrenchSettings | None = None            # architecture == "trench" only
    micropillar: MicropillarSettings | None = None  # architecture == "micropillar" only
    bipolar: BipolarSettings | None = None          # architecture == "bipolar" only
    series_resistance: float = 0.0          # ohm m^2 of footprint: contacts and leads

    def layer(self, name: str) -> Layer:
        for layer in self.layers:
            if layer.name == name:
                return layer
        raise KeyError(name)

    def stack_roles(self) -> StackRoles:
        """(films, fill, top): see `stack_roles`."""
        return stack_roles(self.layers)


def stack_roles(layers: list[Layer]) -> StackRoles:
    """Split a validated layer list (substrate outward) into films, fill and top layers.

    The fill is the last electrode; the films are the layers before it (optional collector
    films such as a TiN barrier, the first electrode, the electrolyte) and the top layers the
    collectors after it. For a planar stack the same split reads bottom to top.
    """
    for index in range(len(layers) - 1, -1, -1):
        if layers[index].material.kind in ELECTRODE_KINDS:
            return StackRoles(list(layers[:index]), layers[index], list(layers[index + 1:]))
    raise ValueError("a layer list without an electrode")


def default_max_cell_size(geometry: TrenchSettings | MicropillarSettings) -> float:
    """The largest cell along surfaces when [mesh] max_cell_size is not given (m).

    min(pitch / 20, feature / 10, (pitch - feature) / 10, depth / 20), where the feature is the
    trench width or the pillar (hole) diameter and depth the trench depth or pillar height:
    ten cells across the narrowest lateral feature, twenty along the period and the depth.
    """
    if isinstance(geometry, TrenchSettings):
        feature, depth = geometry.width, geometry.depth
    else:
        feature, depth = geometry.diameter, geometry.height
    pitch = geometry.pitch
    return min(pitch / 20, feature / 10, (pitch - feature) / 10, depth / 20)


# ------------------------------------------------------------------------------------------
# entry points

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


# ------------------------------------------------------------------------------------------
# generic checks

def _join(prefix: str, key) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def _listing(names) -> str:
    names = list(names)
    return ", ".join(names) if names else "(none)"


def _check_keys(table: dict, allowed, prefix: str, what: str | None = None) -> None:
    for key, value in table.items():
        if key not in allowed:
            expected = f"one of the keys {_listing(allowed)}"
            if what:
                expected = f"a known {what}: {_listing(allowed)}"
            close = difflib.get_close_matches(str(key), list(allowed), n=1)
            if close:
                expected += f" (did you mean {close[0]!r}?)"
            raise InputError(_join(prefix, key), value, expected)


def _get(table: dict, name: str, prefix: str, dimension: str | None = None,
         expected: str | None = None):
    if name not in table:
        if expected is None:
            expected = DIMENSIONS[dimension][1] if dimension else "a value"
        raise InputError(_join(prefix, name), MISSING, f"{expected} (required)")
    return table[name]


def _table(parent: dict, name: str, prefix: str, required: bool = False) -> dict:
    key = _join(prefix, name)
    if name not in parent:
        if required:
            raise InputError(key, MISSING, f"a [{key}] table (required)")
        return {}
    value = parent[name]
    if not isinstance(value, dict):
        raise InputError(key, value, f"a table: [{key}]")
    return value


def _number(value, dimension: str, key: str) -> float:
    return parse_quantity(value, dimension, key)


def _positive(value, dimension: str, key: str) -> float:
    number = parse_quantity(value, dimension, key)
    if number <= 0:
        raise InputError(key, value, f"{DIMENSIONS[dimension][1]}, greater than zero")
    return number


def _integer(value, key: str, minimum: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = {0: "a whole number >= 0", 1: "a whole number >= 1"}.get(
            minimum, f"a whole number >= {minimum}")
        raise InputError(key, value, f"{what}, such as {example}")
    return value


# ------------------------------------------------------------------------------------------
# cell

def _case_name(cell: dict, source: str) -> str:
    if "name" not in cell:
        stem = Path(source).stem if source and not source.startswith("<") else ""
        return stem or "case"
    name = cell["name"]
    if not isinstance(name, str) or not name.strip():
        raise InputError("cell.name", name, "a non-empty string")
    return name


def _architecture(cell: dict) -> str:
    architecture = cell.get("architecture", "planar")
    if not isinstance(architecture, str) or architecture not in ARCHITECTURES:
        expected = f"one of {_listing(ARCHITECTURES)}"
        if isinstance(architecture, str):
            close = difflib.get_close_matches(architecture, list(ARCHITECTURES), n=1)
            if close:
                expected += f" (did you mean {close[0]!r}?)"
        raise InputError("cell.architecture", architecture, expected)
    for other in ARCHITECTURES[1:]:
        if other != architecture and other in cell:
            raise InputError(f"cell.{other}", cell[other],
                             f"no [cell.{other}] table in a {architecture} cell (it describes "
                             f"architecture = {other!r}; set architecture = {other!r} to use it)")
    return architecture


def _geometry_table(cell: dict, architecture: str, allowed) -> dict:
    key = f"cell.{architecture}"
    if architecture not in cell:
        raise InputError(key, MISSING, f"a [{key}] table (required for architecture = "
                                       f"{architecture!r}: the sizes of the substrate structure)")
    table = cell[architecture]
    if not isinstance(table, dict):
        raise InputError(key, table, f"a table: [{key}]")
    _check_keys(table, allowed, key)
    return table


def _boolean(table: dict, name: str, prefix: str, default: bool, meaning: str) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise InputError(_join(prefix, name), value, f"true or false ({meaning})")
    return value


def _structure_length(table: dict, name: str, prefix: str, allow_large: bool) -> float:
    key = f"{prefix}.{name}"
    value = _positive(_get(table, name, prefix, "length"), "length", key)
    return limits.check_length(value, table[name], key, structure=True, allow_large=allow_large)


def _structure_sizes(table: dict, prefix: str, names, feature_text: str, why: str,
                     allow_large: bool) -> dict:
    """The three positive lengths of a structure (feature, depth or height, pitch), the
    feature (trench width, pillar diameter) smaller than the pitch."""
    sizes = {name: _structure_length(table, name, prefix, allow_large) for name in names}
    feature = names[0]
    if sizes[feature] >= sizes["pitch"]:
        raise InputError(f"{prefix}.{feature}", table[feature],
                         f"{feature_text} below pitch = {table['pitch']!r} ({feature} must be "
                         f"smaller than pitch: {why})")
    return sizes


def _trench(cell: dict, allow_large: bool) -> TrenchSettings:
    prefix = "cell.trench"
    table = _geometry_table(cell, "trench", TRENCH_KEYS)
    sizes = _structure_sizes(table, prefix, ("width", "depth", "pitch"),
                             "a trench width", "a wall stands between neighbouring trenches",
                             allow_large)
    dimension = table.get("dimension", 2)
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension not in (2, 3):
        raise InputError(f"{prefix}.dimension", dimension,
                         "2 (the cross-section of one period) or 3 (extruded along the trench)")
    length = None
    if "length" in table:
        if dimension != 3:
            raise InputError(f"{prefix}.length", table["length"],
                             "no length in a 2D trench cell (length is the extrusion length "
                             "along the trench; it needs dimension = 3)")
        length = _structure_length(table, "length", prefix, allow_large)
    elif dimension == 3:
        length = sizes["pitch"]
    return TrenchSettings(dimension=dimension, length=length, **sizes)


def _bipolar(cell: dict, unit: list[Layer], allow_large: bool) -> BipolarSettings:
    prefix = "cell.bipolar"
    table = _geometry_table(cell, "bipolar", BIPOLAR_KEYS)
    n_cells = _integer(_get(table, "n_cells", prefix, expected="a whole number >= 1"),
                       f"{prefix}.n_cells", 1,
                       "3 (the number of unit cells in series)")
    items = table.get("variations", [])
    if not isinstance(items, list):
        raise InputError(f"{prefix}.variations", items,
                         "a list of [[cell.bipolar.variations]] tables")
    names = {layer.name: layer for layer in unit}
    variations = []
    for index, item in enumerate(items):
        key = f"{prefix}.variations.{index}"
        if not isinstance(item, dict):
            raise InputError(key, item, "a table with cell, layer and the values to change")
        _check_keys(item, VARIATION_KEYS, key)
        cell_number = _integer(_get(item, "cell", key, expected="a cell number (1 is the bottom cell)"),
                               f"{key}.cell", 1,
                               f"a cell number from 1 to n_cells = {n_cells}")
        if cell_number > n_cells:
            raise InputError(f"{key}.cell", cell_number,
                             f"a cell number from 1 to n_cells = {n_cells}")
        name = _get(item, "layer", key, expected="a layer name")
        if name not in names:
            raise InputError(f"{key}.layer", name, f"a layer of the unit cell: {_listing(names)}")
        layer = names[name]
        changes = {}
        if "thickness" in item:
            thickness = _number(item["thickness"], "length", f"{key}.thickness")
            if not thickness > 0:
                raise InputError(f"{key}.thickness", item["thickness"],
                                 "a length such as '0.9 um', greater than zero")
            changes["thickness"] = limits.check_length(thickness, item["thickness"],
                                                       f"{key}.thickness",
                                                       allow_large=allow_large)
        if "initial_stoichiometry" in item:
            if layer.material.kind != "intercalation":
                raise InputError(f"{key}.initial_stoichiometry", item["initial_stoichiometry"],
                                 f"no initial_stoichiometry: layer {name!r} is "
                                 f"{_kind_text(layer.material.kind)}")
            x = _number(item["initial_stoichiometry"], "dimensionless",
                        f"{key}.initial_stoichiometry")
            if not 0 <= x <= 1:
                raise InputError(f"{key}.initial_stoichiometry", item["initial_stoichiometry"],
                                 "a number between 0 and 1 (the lithium fraction x)")
            changes["initial_stoichiometry"] = x
        if not changes:
            raise InputError(key, item, "a change: thickness or initial_stoichiometry")
        variations.append((cell_number, name, changes))
    return BipolarSettings(n_cells=n_cells, variations=tuple(variations))


def bipolar_stack(unit: list[Layer], bipolar: BipolarSettings) -> list[Layer]:
    """The layers of a series stack, bottom to top, named NAME_k for cell k (1-based).

    When the unit starts and ends with a collector, cell k+1 sits on cell k's top collector
    (the bipolar collector they share) instead of bringing its own bottom one.
    """
    shared = (len(unit) > 1 and unit[0].material.kind == "collector"
              and unit[-1].material.kind == "collector")
    changes = {}
    for cell_number, name, change in bipolar.variations:
        changes.setdefault((cell_number, name), {}).update(change)
    numbers = range(1, bipolar.n_cells + 1)        # the stack's battery cells, bottom up
    return [replace(layer, name=f"{layer.name}_{number}",
                    **changes.get((number, layer.name), {}))
            for number in numbers for index, layer in enumerate(unit)
            if not (shared and number > 1 and index == 0)]


def _micropillar(cell: dict, allow_large: bool) -> MicropillarSettings:
    prefix = "cell.micropillar"
    table = _geometry_table(cell, "micropillar", MICROPILLAR_KEYS)
    sizes = _structure_sizes(table, prefix, ("diameter", "height", "pitch"),
                             "a diameter", "neighbours may not touch", allow_large)
    lattice = table.get("lattice", "square")
    if not isinstance(lattice, str) or lattice not in LATTICES:
        expected = f"one of {_listing(LATTICES)}"
        if isinstance(lattice, str):
            close = difflib.get_close_matches(lattice, list(LATTICES), n=1)
            if close:
                expected += f" (did you mean {close[0]!r}?)"
        raise InputError(f"{prefix}.lattice", lattice, expected)
    holes = _boolean(table, "holes", prefix, False,
                     "false: pillars; true: holes of that diameter, height deep")
    axisymmetric = _boolean(table, "axisymmetric", prefix, False,
                            "false: the 3D symmetry unit; true: the 2D axisymmetric cell of "
                            "equal area")
    return MicropillarSettings(lattice=lattice, holes=holes, axisymmetric=axisymmetric, **sizes)


def _check_films_fit(cell: dict, geometry, roles: StackRoles) -> None:
    """The conformal films must leave room for the fill between the substrate's walls."""
    total = sum(layer.thickness for layer in roles.films)
    names = ", ".join(layer.name for layer in roles.films) or "none"
    films = (f"twice the conformal films ({names}: 2 x {total * 1e6:.4g} um), so that the "
             f"fill layer {roles.fill.name!r} can enter")
    if isinstance(geometry, TrenchSettings):
        if geometry.width <= 2 * total:
            raise InputError("cell.trench.width", cell["trench"]["width"],
                             f"a trench wider than {films}; widen the trench or thin the films")
    elif geometry.holes:
        if geometry.diameter <= 2 * total:
            raise InputError("cell.micropillar.diameter", cell["micropillar"]["diameter"],
                             f"holes wider than {films}; widen the holes or thin the films")
    elif geometry.pitch - geometry.diameter <= 2 * total:
        gap = (geometry.pitch - geometry.diameter) * 1e6
        raise InputError("cell.micropillar.pitch", cell["micropillar"]["pitch"],
                         f"a gap between pillars (pitch - diameter = {gap:.4g} um) wider than "
                         f"{films}; increase the pitch or thin the films")


def _temperature(value) -> float:
    kelvin = parse_quantity(value, "temperature", "cell.temperature")
    if kelvin < 0:
        raise InputError("cell.temperature", value,
                         f"a temperature above absolute zero (0 K = {-ZERO_CELSIUS} degC); "
                         f"this is {kelvin:.6g} K, below absolute zero")
    if kelvin == 0:
        raise InputError("cell.temperature", value, "a temperature above absolute zero (0 K)")
    return kelvin


def _check_temperature_range(kelvin: float, value, layers: list[Layer]) -> None:
    """The cell's temperature must lie where the data of every material in it hold."""
    ranges = {layer.material.name: layer.material.value("temperature_range") for layer in layers}
    low_name = max(ranges, key=lambda name: ranges[name][0])
    high_name = min(ranges, key=lambda name: ranges[name][1])
    low, high = ranges[low_name][0], ranges[high_name][1]
    if low <= kelvin <= high:
        return
    name = low_name if kelvin < low else high_name
    raise InputError("cell.temperature", value,
                     f"a temperature within {low:.6g}..{high:.6g} K ({low - ZERO_CELSIUS:.4g}.."
                     f"{high - ZERO_CELSIUS:.4g} degC), where the data of the cell's materials "
                     f"hold; this is {kelvin:.6g} K (a plain number is kelvin), outside the "
                     f"range of {name}: to go beyond, set [materials.{name}] temperature_range")


# ------------------------------------------------------------------------------------------
# materials and layers

def _load_materials(data: dict, cell: dict, base_dir: Path) -> dict[str, Material]:
    """Load every material a layer uses, and every [materials.NAME] table, once each."""
    from . import materials as matlib

    library = list(matlib.library_names())
    overrides = _table(data, "materials", "")
    used = []
    layers = cell.get("layers")
    if isinstance(layers, list):
        for item in layers:
            if isinstance(item, dict) and isinstance(item.get("material"), str):
                used.append(item["material"])

    loaded: dict[str, Material] = {}
    for name, table in overrides.items():
        key = f"materials.{name}"
        if name not in library:
            expected = (f"the name of a library material: {_listing(library)}; a "
                        f"[materials.NAME] table changes parameters of a library material")
            close = difflib.get_close_matches(str(name), library, n=1)
            if close:
                expected += f" (did you mean {close[0]!r}?)"
            raise InputError(key, table, expected)
        if isinstance(layers, list) and name not in used:
            raise InputError(key, table, f"overrides of a material the cell uses: "
                                         f"{_listing(dict.fromkeys(used))} (no layer is made "
                                         f"of {name}; a typo in a layer's material?)")
        if not isinstance(table, dict):
            raise InputError(key, table, f"a table of parameter overrides: [{key}]")
        loaded[name] = matlib.load_material(name, table, base_dir, key=key)
    for name in used:
        if name not in loaded and name in library:  # unknown names: reported by _layers
            loaded[name] = matlib.load_material(name, None, base_dir, key=f"materials.{name}")
    return loaded


def _layers(cell: dict, materials: dict, allow_large: bool) -> list[Layer]:
    from . import materials as matlib

    items = _get(cell, "layers", "cell",
                 expected="a list of layers, one [[cell.layers]] table each, from the bottom "
                          "tab to the top tab")
    if not isinstance(items, list) or not items:
        raise InputError("cell.layers", items,
                         "a non-empty list of layers, one [[cell.layers]] table each, "
                         "from the bottom tab to the top tab")

    layers: list[Layer] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        prefix = f"cell.layers.{index}"
        if not isinstance(item, dict):
            raise InputError(prefix, item, "a table with name, material and thickness")
        name = item.get("name", MISSING)
        if not isinstance(name, str) or not name.strip():
            raise InputError(f"{prefix}.name", name, "a non-empty string such as 'cathode'")
        if "." in name:
            raise InputError(f"{prefix}.name", name,
                             "a name without '.' (names are used in keys like "
                             "cell.layers.NAME.thickness)")
        if name in seen:
            raise InputError(f"{prefix}.name", name,
                             f"a unique layer name ({name!r} is already layer {seen[name]})")
        seen[name] = index
        prefix = f"cell.layers.{name}"
        _check_keys(item, LAYER_KEYS, prefix)

        material_name = _get(item, "material", prefix, expected="a material name")
        if not isinstance(material_name, str) or material_name not in materials:
            library = list(matlib.library_names())
            expected = f"a material from the library: {_listing(library)}"
            if isinstance(material_name, str):
                close = difflib.get_close_matches(material_name, library, n=1)
                if close:
                    expected += f" (did you mean {close[0]!r}?)"
            raise InputError(f"{prefix}.material", material_name, expected)
        material = materials[material_name]

        thickness_value = _get(item, "thickness", prefix, "length")
        thickness = _number(thickness_value, "length", f"{prefix}.thickness")
        if thickness < 0 or (thickness == 0 and material.kind != "lithium_metal"):
            raise InputError(f"{prefix}.thickness", thickness_value,
                             "a length such as '1.5 um', greater than zero")
        if thickness > 0:
            limits.check_length(thickness, thickness_value, f"{prefix}.thickness",
                                allow_large=allow_large)

        stoichiometry = _initial_stoichiometry(item, material, prefix)
        layers.append(Layer(name=name, material=material, thickness=thickness,
                            initial_stoichiometry=stoichiometry))

    _check_stack(layers)
    for index, layer in enumerate(layers):
        if layer.thickness == 0:
            neighbours = [layers[j] for j in (index - 1, index + 1) if 0 <= j < len(layers)]
            if not any(n.material.kind == "collector" for n in neighbours):
                raise InputError(f"cell.layers.{layer.name}.thickness",
                                 items[index]["thickness"],
                                 "a length greater than zero (0 is allowed only for a lithium "
                                 "layer next to a current collector layer: an anode-free cell)")
    return layers


def _initial_stoichiometry(item: dict, material, prefix: str) -> float | None:
    """The lithium fraction an intercalation layer starts at: its initial_stoichiometry, or
    the x at which its open-circuit potential vs Li equals its initial_voltage, or the
    material's default (an initial_voltage or initial_stoichiometry of the library entry)."""
    given = [name for name in ("initial_stoichiometry", "initial_voltage") if name in item]
    if material.kind != "intercalation":
        if given:
            raise InputError(f"{prefix}.{given[0]}", item[given[0]],
                             f"no {given[0]}: material {material.name!r} is "
                             f"{_kind_text(material.kind)}; only intercalation electrodes "
                             f"take one")
        return None
    if len(given) == 2:
        raise InputError(f"{prefix}.initial_voltage", item["initial_voltage"],
                         "either initial_stoichiometry or initial_voltage, not both")
    key = f"{prefix}.initial_stoichiometry"
    if "initial_stoichiometry" in item:
        x = _number(item["initial_stoichiometry"], "dimensionless", key)
        if not 0 <= x <= 1:
            raise InputError(key, item["initial_stoichiometry"],
                             "a number between 0 and 1 (the lithium fraction x)")
        return x
    if "initial_voltage" in item:
        voltage = _number(item["initial_voltage"], "voltage", f"{prefix}.initial_voltage")
        return stoichiometry_at_voltage(material, voltage, f"{prefix}.initial_voltage",
                                        item["initial_voltage"])
    if material.has("initial_voltage"):
        return stoichiometry_at_voltage(material, material.value("initial_voltage"),
                                        f"materials.{material.name}.initial_voltage",
                                        material.value("initial_voltage"))
    if material.has("initial_stoichiometry"):
        return float(material.value("initial_stoichiometry"))
    raise InputError(key, MISSING,
                     f"a number between 0 and 1, or an initial_voltage (required: material "
                     f"{material.name!r} has no default initial state)")


def stoichiometry_at_voltage(material, voltage: float, key: str, value) -> float:
    """The x in the material's usable range at which its OCV vs Li equals `voltage`."""
    from scipy.optimize import brentq

    low, high = material.value("stoichiometry_range")
    ocv = material.value("ocv")
    u_low, u_high = float(ocv(low)), float(ocv(high))
    top, bottom = max(u_low, u_high), min(u_low, u_high)
    if not bottom <= voltage <= top:
        raise InputError(key, value,
                         f"a voltage within the open-circuit range of {material.name} over its "
                         f"usable stoichiometries x = {low:g} .. {high:g}: {bottom:.4g} to "
                         f"{top:.4g} V")
    if voltage == u_low:
        return float(low)
    if voltage == u_high:
        return float(high)
    return float(brentq(lambda x: float(ocv(x)) - voltage, low, high, xtol=1e-12))


def _coverage_text(where: str) -> str:
    return (f"a ratio in (0, 1]: the film's thickness on the {where} over its thickness on the "
            f"top surfaces (1 = conformal, as ALD deposits it; sputtered films are thinner)")


def _step_coverage(cell: dict, layers: list[Layer], architecture: str) -> list[Layer]:
    """Step coverage of the films of trench and micropillar cells (meshes/coverage.py).

    step_coverage: the wall's ratio (a number), or [at the top of the wall, at its foot]
    (linear in height between them); bottom_coverage: the floor's ratio (trench floor, floor
    between pillars, hole bottom), by default the wall's at its foot. Planar and bipolar cells
    have no walls: the keys are accepted there and change nothing. The fill and the layers
    above it are not deposited films in a structured cell, so they take no ratio.
    """
    items = {item["name"]: item for item in cell["layers"]}
    structured = architecture in ("trench", "micropillar")
    films = {layer.name for layer in stack_roles(layers).films}
    out = []
    for layer in layers:
        item, prefix = items[layer.name], f"cell.layers.{layer.name}"
        given = [key for key in ("step_coverage", "bottom_coverage") if key in item]
        if not given:
            out.append(layer)
            continue
        if structured and layer.name not in films:
            raise InputError(f"{prefix}.{given[0]}", item[given[0]],
                             f"no {given[0]}: layer {layer.name!r} is not a film on the "
                             f"structured substrate (only the layers below the fill, "
                             f"{_listing(sorted(films))}, are deposited as films; the fill "
                             f"takes the space they leave, the layers above it are planar)")
        wall = item.get("step_coverage", 1.0)
        key = f"{prefix}.step_coverage"
        if isinstance(wall, list):
            if len(wall) != 2:
                raise InputError(key, wall, f"{_coverage_text('walls')}; as a list, two ratios: "
                                            "[at the top of the wall, at its foot]")
            top, foot = (_ratio(value, f"{key}.{k}", "walls") for k, value in enumerate(wall))
        else:
            top = foot = _ratio(wall, key, "walls")
        bottom = foot
        if "bottom_coverage" in item:
            bottom = _ratio(item["bottom_coverage"], f"{prefix}.bottom_coverage", "floor")
        out.append(replace(layer, coverage=(top, foot, bottom)))
    return out


def _ratio(value, key: str, where: str) -> float:
    try:
        ratio = _number(value, "dimensionless", key)
    except InputError:
        raise InputError(key, value, _coverage_text(where)) from None
    if not 0 < ratio <= 1:
        raise InputError(key, value, _coverage_text(where))
    return ratio


def _kind_text(kind: str) -> str:
    return {"intercalation": "an intercalation electrode", "electrolyte": "an electrolyte",
            "lithium_metal": "lithium metal", "collector": "a current collector"}.get(
                kind, f"of kind {kind!r}")


def _check_stack(layers: list[Layer]) -> None:
    kinds = [layer.material.kind for layer in layers]
    core = list(kinds)
    if core and core[0] == "collector":
        core = core[1:]
    if core and core[-1] == "collector":
        core = core[:-1]
    if (len(core) == 3 and core[0] in ELECTRODE_KINDS and core[1] == "electrolyte"
            and core[2] in ELECTRODE_KINDS):
        return
    stack = [f"{layer.name} ({layer.material.name}: {layer.material.kind})" for layer in layers]
    raise InputError("cell.layers", " | ".join(stack),
                     "layers from the bottom tab to the top tab in the order: optional "
                     "current collector, electrode, electrolyte, electrode, optional current "
                     "collector (an electrode is an intercalation material or lithium metal)")


# ------------------------------------------------------------------------------------------
# mesh and solver settings

def _mesh(table: dict) -> MeshSettings:
    _check_keys(table, MESH_KEYS, "mesh")
    defaults = MeshSettings()
    cells = defaults.cells_per_layer
    if "cells_per_layer" in table:
        cells = _integer(table["cells_per_layer"], "mesh.cells_per_layer", 1, "20")
    max_cell_size = None
    if "max_cell_size" in table:
        max_cell_size = limits.check_length(
            _positive(table["max_cell_size"], "length", "mesh.max_cell_size"),
            table["max_cell_size"], "mesh.max_cell_size", structure=True, allow_large=True)
    grading = defaults.grading
    if "grading" in table:
        grading = _number(table["grading"], "dimensionless", "mesh.grading")
        if not 0 <= grading < 1:
            raise InputError("mesh.grading", table["grading"],
                             "a number from 0 (uniform cells) up to but not including 1 "
                             "(cells ever finer towards the interfaces)")
    refine = table.get("refine", defaults.refine)
    if not isinstance(refine, bool):
        raise InputError("mesh.refine", refine, "true (refine where a film's surface is "
                                                "under-resolved; the default) or false")
    return MeshSettings(cells_per_layer=cells, max_cell_size=max_cell_size, grading=grading,
                        refine=refine)


def _solver(table: dict) -> SolverSettings:
    _check_keys(table, SOLVER_KEYS, "solver")
    defaults = SolverSettings()
    rtol = defaults.rtol
    if "rtol" in table:
        rtol = _number(table["rtol"], "dimensionless", "solver.rtol")
        if not 0 < rtol <= 0.1:
            raise InputError("solver.rtol", table["rtol"],
                             "a relative tolerance greater than 0 and at most 0.1, such as 1e-3")
    max_step = initial_step = None
    if "max_step" in table:
        max_step = limits.check_time(_positive(table["max_step"], "time", "solver.max_step"),
                                     table["max_step"], "solver.max_step")
    if "initial_step" in table:
        initial_step = limits.check_time(
            _positive(table["initial_step"], "time", "solver.initial_step"),
            table["initial_step"], "solver.initial_step")
    fields_every = defaults.fields_every
    if "fields_every" in table:
        fields_every = _integer(table["fields_every"], "solver.fields_every", 0, "0 (never) or 10")
    store_every = defaults.store_every
    if "store_every" in table:
        store_every = _integer(table["store_every"], "solver.store_every", 1,
                               "1 (every row) or 10")
    return SolverSettings(rtol=rtol, max_step=max_step, initial_step=initial_step,
                          fields_every=fields_every, store_every=store_every)


# ------------------------------------------------------------------------------------------
# protocol

class _StepLimits(NamedTuple):
    """Bounds of step quantities that depend on the cell."""
    voltage: float          # V: MAX_CELL_VOLTAGE per unit cell of the stack
    current: float          # A: MAX_CURRENT_DENSITY over the footprint


def _protocol(data: dict, n_units: int, footprint_area: float) -> list[Step]:
    expected = ("a non-empty list of steps, one [[protocol]] table each, such as "
                "mode = 'discharge', c_rate = 1, until_voltage = '3.0 V'")
    items = data.get("protocol", MISSING)
    if items is MISSING:
        raise InputError("protocol", MISSING, expected + " (required)")
    if not isinstance(items, list) or not items:
        raise InputError("protocol", items, expected)
    steps: list[Step] = []
    bounds = _StepLimits(limits.MAX_CELL_VOLTAGE * n_units,
                         limits.MAX_CURRENT_DENSITY * footprint_area)
    _flatten(items, "protocol", steps, bounds=bounds)
    return steps


def _flatten(items: list, prefix: str, out: list[Step], cutoff=None, depth: int = 0,
             bounds: _StepLimits | None = None) -> None:
    """Validate each step of `items` and append it to `out`, expanding repeat blocks.

    `cutoff` is (voltage, key) of the enclosing block's until_voltage: the block's discharge
    and charge steps take it as their until_voltage and, on reaching it, end the whole block
    (`Step.ends_block`). Until the top level numbers the steps, such a step's `block_end` is
    its distance to the first step after its block; then it becomes that step's index.
    At the top level each turn of a block is a cycle (`Step.cycle`).
    """
    cycles = 0
    for position, item in enumerate(items):
        key = f"{prefix}.{position}"
        if not isinstance(item, dict):
            raise InputError(key, item, "a step table with a mode, or a block with repeat "
                                        "and steps")
        if "repeat" in item or "steps" in item:
            _check_keys(item, BLOCK_KEYS, key)
            if depth >= MAX_BLOCK_DEPTH:
                raise InputError(key, "<a block>", f"blocks nested at most {MAX_BLOCK_DEPTH} "
                                                   f"deep (repeat inside repeat)")
            repeat = 1
            if "repeat" in item:
                repeat = _integer(item["repeat"], f"{key}.repeat", 1, "10")
            inner = item.get("steps", MISSING)
            if not isinstance(inner, list) or not inner:
                raise InputError(f"{key}.steps", inner,
                                 "a non-empty list of steps to repeat")
            own = None
            if "until_voltage" in item:
                if cutoff is not None:
                    raise InputError(f"{key}.until_voltage", item["until_voltage"],
                                     f"no until_voltage on a block inside a block that has "
                                     f"one ({cutoff[1]}); set it on one of the two blocks")
                own = (_step_quantity(item, "until_voltage", key, bounds),
                       f"{key}.until_voltage")
            block: list[Step] = []
            _flatten(inner, f"{key}.steps", block, own or cutoff, depth + 1, bounds)
            if own is not None:
                modes = sorted({step.mode for step in block if step.ends_block})
                if not modes:
                    raise InputError(f"{key}.until_voltage", item["until_voltage"],
                                     "a block until_voltage only in a block with discharge "
                                     "or charge steps (it is their cutoff voltage, and "
                                     "reaching it ends the block)")
                if len(modes) > 1:
                    raise InputError(f"{key}.until_voltage", item["until_voltage"],
                                     "a block until_voltage only in a block whose current "
                                     "steps all go one way (all discharge or all charge): "
                                     "it is their cutoff; put discharge and charge in "
                                     "blocks of their own")
            if len(out) + repeat * len(block) > MAX_PROTOCOL_STEPS:
                raise InputError(f"{key}.repeat", item.get("repeat", 1),
                                 f"a repeat count that keeps the protocol within "
                                 f"{MAX_PROTOCOL_STEPS} steps in all (this one has at "
                                 f"least {len(out) + repeat * len(block)})")
            for turn in range(repeat):
                if own is None:
                    turn_steps = block
                else:
                    remaining = (repeat - turn) * len(block)
                    turn_steps = [replace(step, block_end=remaining - j, cutoff_key=own[1])
                                  if step.ends_block else step
                                  for j, step in enumerate(block)]
                if depth == 0:                  # each turn of a top-level block is a cycle
                    cycles += 1
                    turn_steps = [replace(step, cycle=cycles) for step in turn_steps]
                out.extend(turn_steps)
        else:
            out.append(_step(item, key, cutoff, bounds))
            if len(out) > MAX_PROTOCOL_STEPS:
                raise InputError(key, item, f"at most {MAX_PROTOCOL_STEPS} protocol steps")
    if prefix == "protocol":
        for index, step in enumerate(out):
            end = None if step.block_end is None else index + step.block_end
            out[index] = replace(step, index=index, block_end=end)


def _step_quantity(item: dict, name: str, key: str, bounds: _StepLimits | None) -> float:
    """A step's quantity, > 0 and within what a cell can do."""
    raw, key = item[name], f"{key}.{name}"
    value = _positive(raw, STEP_QUANTITIES[name], key)
    if name == "until_time":
        limits.check_time(value, raw, key)
    elif name == "c_rate" and value > limits.MAX_C_RATE:
        raise InputError(key, raw, f"a C-rate of at most {limits.MAX_C_RATE:g} (a discharge "
                                   f"in {3600 / limits.MAX_C_RATE * 1e3:g} ms)")
    elif bounds is not None and name in ("voltage", "until_voltage") and value > bounds.voltage:
        raise InputError(key, raw, f"a voltage of at most {bounds.voltage:g} V "
                                   f"({limits.MAX_CELL_VOLTAGE:g} V per cell: no lithium "
                                   f"cell reaches more)")
    elif bounds is not None and name in ("current", "until_current") and value > bounds.current:
        raise InputError(key, raw, f"a current of at most {bounds.current:g} A "
                                   f"({limits.MAX_CURRENT_DENSITY / 1e4:g} A/cm^2 over the "
                                   f"footprint)")
    elif name == "current_density" and value > limits.MAX_CURRENT_DENSITY:
        raise InputError(key, raw, f"a current density of at most "
                                   f"{limits.MAX_CURRENT_DENSITY / 1e4:g} A/cm^2")
    return value


def _step(item: dict, key: str, cutoff=None, bounds: _StepLimits | None = None) -> Step:
    mode = item.get("mode", MISSING)
    if mode == "impedance":
        return _impedance_step(item, key)
    if not isinstance(mode, str) or mode not in STEP_RULES:
        raise InputError(f"{key}.mode", mode,
                         f"one of {_listing(MODES)} (or a block with repeat and steps)")
    allowed, required_groups = STEP_RULES[mode]
    for name, value in item.items():
        if name == "mode" or name in allowed:
            continue
        if name in STEP_QUANTITIES or name in BLOCK_KEYS:
            raise InputError(f"{key}.{name}", value,
                             f"no {name} in a {mode} step (a {mode} step takes "
                             f"{_listing(allowed)})")
        _check_keys({name: value}, ("mode",) + allowed, key)

    values = {name: _step_quantity(item, name, key, bounds) for name in allowed if name in item}

    inherits = cutoff is not None and mode in ("discharge", "charge")
    if inherits:
        if "until_voltage" in item:
            raise InputError(f"{key}.until_voltage", item["until_voltage"],
                             f"no until_voltage in a step of a block that has one "
                             f"({cutoff[1]} is this step's cutoff, and reaching it ends "
                             f"the block)")
        values["until_voltage"] = cutoff[0]

    if mode in ("discharge", "charge", "cccv"):
        given = [name for name in DRIVES if name in item]
        if len(given) != 1:
            shown = {name: item[name] for name in given} if given else dict(item)
            raise InputError(key, shown,
                             f"exactly one of c_rate, current or current_density in a "
                             f"{mode} step (they all set its current)")
    for group in required_groups:
        if not any(name in values for name in group):
            if len(group) == 1:
                raise InputError(f"{key}.{group[0]}", MISSING,
                                 f"{_describe(group[0])} (required in a {mode} step)")
            raise InputError(key, dict(item),
                             f"a {mode} step with at least one of {_listing(group)} "
                             f"(when to end it)")
    return Step(mode=mode, key=key, ends_block=inherits, **values)


IMPEDANCE_KEYS = ("mode", "frequencies", "points_per_decade", "field_frequencies")
MAX_FREQUENCIES = 2000


def _impedance_step(item: dict, key: str) -> Step:
    """A small-signal impedance spectrum at the present state (solver.impedance):
    frequencies = [f_min, f_max] (default 1 mHz to 1 MHz), points_per_decade (default 10),
    field_frequencies: where to write the small-signal fields of 2D and 3D cells."""
    _check_keys(item, IMPEDANCE_KEYS, key)
    band = item.get("frequencies", ["1 mHz", "1 MHz"])
    expected = "two frequencies [f_min, f_max] with 0 < f_min < f_max, such as ['1 mHz', '1 MHz']"
    if not isinstance(band, list) or len(band) != 2:
        raise InputError(f"{key}.frequencies", band, expected)
    low, high = (_positive(f, "frequency", f"{key}.frequencies") for f in band)
    if not low < high:
        raise InputError(f"{key}.frequencies", band, expected)
    per_decade = _integer(item.get("points_per_decade", 10), f"{key}.points_per_decade", 1, "10")
    if per_decade * math.log10(high / low) > MAX_FREQUENCIES:
        raise InputError(f"{key}.points_per_decade", per_decade,
                         f"at most {MAX_FREQUENCIES} frequencies in all over "
                         f"{math.log10(high / low):.3g} decades")
    fields = item.get("field_frequencies", [])
    if not isinstance(fields, list):
        raise InputError(f"{key}.field_frequencies", fields,
                         "a list of frequencies, such as ['10 mHz', '1 kHz']")
    chosen = tuple(_positive(f, "frequency", f"{key}.field_frequencies") for f in fields)
    return Step(mode="impedance", key=key, frequencies=(low, high),
                points_per_decade=per_decade, field_frequencies=chosen)


def _describe(name: str) -> str:
    return DIMENSIONS[STEP_QUANTITIES[name]][1] + ", greater than zero"

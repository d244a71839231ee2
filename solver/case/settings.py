"""What a validated case is: its dataclasses (Case, Layer, Step, the geometry and mesh
settings) and the keys each table of a case file allows."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple, TYPE_CHECKING


if TYPE_CHECKING:  # the materials package is imported when a case is built
    from ..materials import Material


ARCHITECTURES = ("planar", "bipolar", "trench", "micropillar")


MODES = ("discharge", "charge", "rest", "hold", "cccv", "impedance")


ELECTRODE_KINDS = ("intercalation", "lithium_metal")


MAX_PROTOCOL_STEPS = 100_000  # after expanding repeats


MAX_BLOCK_DEPTH = 8           # repeat blocks inside repeat blocks


MAX_NESTING = 32              # tables and lists inside each other, anywhere in a case


TOP_KEYS = ("cell", "materials", "mesh", "protocol", "solver")

MAX_NAME = 200               # characters of a case or layer name (shown in every result)


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


# current keys that also take a C-rate ("C/20": that multiple of the cell's 1C current) ->
# the Step field that keeps it: a current so written is the step's c_rate, an until_current
# is turned into amperes by the run, once the nominal capacity is known
C_RATE_KEYS = {"current": "c_rate", "until_current": "until_current_c_rate"}


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
    until_current_c_rate: float | None = None   # until_current written as a C-rate: the run
                                            # sets until_current from it (solver.protocol)
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


@dataclass(frozen=True)
class SolverSettings:
    rtol: float = 1e-3
    max_step: float | None = None           # s
    initial_step: float | None = None       # s
    fields_every: int = 0                   # write fields every N accepted steps (0: never)
    store_every: int = 1                    # keep every Nth accepted step's row (and


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

    @property
    def n_units(self) -> int:
        """The battery cells in series: a bipolar stack's n_cells, else 1."""
        return self.bipolar.n_cells if self.bipolar is not None else 1


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


IMPEDANCE_KEYS = ("mode", "frequencies", "points_per_decade", "field_frequencies")


MAX_FREQUENCIES = 2000

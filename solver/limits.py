"""The sizes a case may have: each bound with its reason, and the cost estimate of a run.

A case is refused before anything is built when a length, a time or a size lies where the
model means nothing or the machine cannot follow: a film of less than an atomic layer, a
film thicker than a millimetre or a structure larger than a centimetre (unless the case says
``[cell] allow_large = true``), a time step that double precision cannot add to the clock,
or a grid and protocol whose memory exceeds the machine's. `check_run_size` estimates the
grid from the geometry alone (a lower bound: the generators refine towards interfaces and
corners), so that a size that cannot fit is refused in milliseconds, not after minutes of
meshing, with the estimate in the message.
"""

from __future__ import annotations

import math

from .errors import InputError

# Below one atomic layer (about 0.1 nm) a film is no continuum; thinner cells would also
# collapse against the coordinates of micrometre stacks in double precision.
MIN_LENGTH = 1e-10                      # m
MIN_LENGTH_TEXT = (f"at least {MIN_LENGTH * 1e9:g} nm (about one atomic layer; a thinner film "
                   f"is not a continuum)")
# Thin-film cells have films of nanometres to tens of micrometres on structures of up to
# hundreds of micrometres; a millimetre film or a centimetre structure is almost always a
# unit mistake ("320" read as metres). `[cell] allow_large = true` accepts them up to
# MAX_LENGTH, beyond which nothing in the library (film data) applies.
LARGE_FILM = 1e-3                       # m
LARGE_STRUCTURE = 1e-2                  # m
MAX_LENGTH = 1.0                        # m
# Time steps and step durations: t + dt must differ from t in double precision (relative
# resolution 2.2e-16) over runs of up to 1e9 s (30 years): dt >= 1 us keeps 3 digits.
MIN_TIME = 1e-6                         # s
# A step's until_time and max_duration, and the time a step's current takes to pass the
# nominal capacity: no cell is kept for longer (30 million years; a femtoampere discharges
# the shipped film in 4e13 s). Far beyond it the time steps lose their meaning against the
# clock: a rest of 1e20 s after a discharge crawled on for ever with steps its error
# estimate could not judge, one of 1e30 s and a discharge at 1e-30 A ended as failures of
# the lithium balance (a rest of 1e16 s still ran as it should).
MAX_TIME = 1e15                         # s
# Impedance frequencies: a period the clock keeps (1 / MAX_TIME) up to 1 THz, where ions in
# a solid hop (attempt frequencies 1e12-1e13 Hz) and no continuum of concentrations and
# potentials describes the response (the shipped cell "ran" at 1e30 Hz).
MIN_FREQUENCY = 1.0 / MAX_TIME          # Hz
MAX_FREQUENCY = 1e12                    # Hz
FREQUENCY_RANGE_TEXT = (f"a frequency from {MIN_FREQUENCY:g} Hz (a period the clock keeps) to "
                        f"{MAX_FREQUENCY:g} Hz (beyond, ions hop: no continuum model holds)")
# A step asked for finer time steps (solver.max_step) than this many over its
# characteristic time would not end in any time the run can be waited for (1 us over a
# 1 h discharge is 3.6e9 steps), nor hold its rows in memory: a time step of a coarse 1D
# cell takes about 0.7 ms, so 1e5 of them, ten times the MAX_TIME_STEPS of solver.guards,
# take about a minute (a 2D or 3D cell ten to a hundred times longer).
MAX_FINE_TIME_STEPS = 1e5
# A full discharge in 36 ms (1e5 C) is beyond any thin-film measurement (the fastest reported
# are of the order of 1000 C); currents beyond it only make the first time step vanish.
MAX_C_RATE = 1e5
# 10 A/cm^2 is ten times what industrial electrolysers pass; a thin film at 1e5 C passes about
# 2 A/cm^2 (20 uA/cm^2 at 1C).
MAX_CURRENT_DENSITY = 1e5               # A/m^2
# No lithium cell chemistry exceeds 6 V (the library's OCVs all lie within 0..6 V vs Li).
MAX_CELL_VOLTAGE = 6.0                  # V per unit cell of a stack
# A stack's unit cells are coupled one by one (each its electrodes, interfaces and voltage
# event): 100 cells take about 30 s for one 1C discharge, and the cost grows faster than the
# cell count (measured with cases/bipolar_3cell_li_lipon_lco.toml, 2 cores, Nov 2026).
MAX_BIPOLAR_CELLS = 100
# Beyond 2e6 grid cells a run takes hours on one machine (a 1e5-cell pillar takes a minute,
# growing about linearly, benchmarks/README.md); DESIGN.md section 10 puts such runs on PETSc.
MAX_CELLS = 2_000_000
# Peak memory, measured (benchmarks/structured_results.json and a 2e5-cell planar run):
# about 150 MB of interpreter and libraries, then per grid cell 1.2 kB (1D), 10 kB (2D),
# 13 kB (3D); per protocol step about 50 kB of time-series rows, plus its end-of-step state
# (8 bytes per unknown, about 2 unknowns per cell).
BASE_BYTES = 150e6
BYTES_PER_CELL = {1: 1.2e3, 2: 10e3, 3: 13e3}
BYTES_PER_STEP_ROWS = 50e3
UNKNOWNS_PER_CELL = 2.0
ROWS_PER_STEP = 50


def check_length(value: float, raw, key: str, *, structure: bool = False,
                 allow_large: bool = False) -> float:
    """A film thickness (or a structure size with structure=True) within the bounds above."""
    if value < MIN_LENGTH:
        raise InputError(key, raw, f"a length of {MIN_LENGTH_TEXT}")
    large, what = (LARGE_STRUCTURE, "structure") if structure else (LARGE_FILM, "film")
    if value > large and not allow_large:
        raise InputError(key, raw, f"a {what} size of at most {_length(large)} (this is "
                                   f"{_length(value)}; if that is meant, set [cell] "
                                   f"allow_large = true)")
    if value > MAX_LENGTH:
        raise InputError(key, raw, f"a length of at most {_length(MAX_LENGTH)} (this is "
                                   f"{_length(value)}), even with allow_large")
    return value


def check_time(value: float, raw, key: str) -> float:
    if value < MIN_TIME:
        raise InputError(key, raw, f"a time of at least {MIN_TIME * 1e6:g} us (shorter steps "
                                   f"vanish against the clock in double precision)")
    if value > MAX_TIME:
        raise InputError(key, raw, f"a time of at most {MAX_TIME:g} s (about "
                                   f"{MAX_TIME / 3.15576e7:.3g} years; far longer, the "
                                   f"clock in double precision loses the time steps)")
    return value


def check_frequency(value: float, raw, key: str) -> float:
    if not MIN_FREQUENCY <= value <= MAX_FREQUENCY:
        raise InputError(key, raw, FREQUENCY_RANGE_TEXT)
    return value


def _length(metres: float) -> str:
    for unit, factor in (("m", 1.0), ("mm", 1e-3), ("um", 1e-6), ("nm", 1e-9)):
        if metres >= factor:
            return f"{metres / factor:.4g} {unit}"
    return f"{metres:.3g} m"


# ------------------------------------------------------------------------------------------
# the cost of a run

def estimate_cells(case) -> tuple[float, int]:
    """(a lower bound on the grid's cell count, its dimension), from the geometry alone.

    Structured cells: the film cells times the cells along the substrate surface (each
    straight stretch graded from the film cell size at its corners up to max_cell_size, as
    meshes.conformal grades it), plus the fill and top layers at max_cell_size.
    """
    from .api import cells_per_layer        # the cells the grid builders put in each layer

    per_layer = dict(zip((layer.name for layer in case.layers), cells_per_layer(case)))
    if case.architecture in ("planar", "bipolar"):
        return float(sum(per_layer.values())), 1
    films, fill, top = case.stack_roles()
    film_cells = sum(per_layer[layer.name] for layer in films)
    top_cells = sum(per_layer[layer.name] for layer in top)
    total = sum(layer.thickness for layer in films)
    most = max(per_layer[layer.name] for layer in films + top)
    first = min(layer.thickness for layer in films if layer.thickness > 0) / most  # at corners
    h = case.mesh.max_cell_size

    def along(length):
        return _graded_count(length, first, h, 1.0 / most)

    if case.architecture == "trench":
        t = case.trench
        half = t.pitch / 2
        surface = along(half - t.width / 2) + along(t.depth) + along(t.width / 2)
        fill_area = (max(t.width / 2 - total, 0.0) * max(t.depth - total, 0.0)
                     + half * fill.thickness)
        cells = surface * film_cells + fill_area / h ** 2 + half / h * top_cells
        if t.dimension == 3:
            return cells * max(2.0, math.ceil(t.length / h)), 3
        return cells, 2
    p = case.micropillar
    radius = p.diameter / 2
    if p.axisymmetric:
        outer = p.equivalent_radius
        surface = along(outer - radius) + along(p.height) + along(radius)
        fill_area = outer * fill.thickness
        return surface * film_cells + fill_area / h ** 2 + outer / h * top_cells, 2
    # the 3D unit: the (r, z) profile turned about the pillar's axis in n_phi steps
    from .siblings import sibling

    micropillar = sibling("meshes.micropillar")
    LATTICES, MIN_CELLS_AROUND = micropillar.LATTICES, micropillar.MIN_CELLS_AROUND

    square = p.lattice == "square"
    wedge = LATTICES[p.lattice] / (2 if square else 1)
    half = p.pitch / 2
    n_phi = (2 if square else 1) * max(MIN_CELLS_AROUND, math.ceil(half * math.tan(wedge) / h),
                                       math.ceil(wedge * (radius + total) / h))
    surface = n_phi * (along(radius) + along(p.height) + along(max(half - radius, h)))
    unit = half ** 2 if square else p.pitch ** 2 / (8 * math.sqrt(3))
    flat = unit / h ** 2
    return surface * film_cells + flat * fill.thickness / h + flat * top_cells, 3


def _graded_count(length: float, first: float, largest: float, growth: float) -> float:
    """Cells over a stretch whose cell size grows linearly (by `growth` per unit length,
    i.e. about that ratio per cell) from `first` at both ends, capped at `largest`."""
    first = min(first, largest)
    ramp = (largest - first) / growth
    if length >= 2 * ramp:
        return 2 * math.log(largest / first) / growth + (length - 2 * ramp) / largest
    return 2 * math.log((first + growth * length / 2) / first) / growth


def estimate_bytes(cells: float, dim: int, n_steps: int, fields_every: int = 0) -> float:
    """Peak memory of a run (bytes): the grid and solver, the rows and end-of-step states."""
    unknowns = UNKNOWNS_PER_CELL * cells
    per_step = BYTES_PER_STEP_ROWS + 8 * unknowns
    if fields_every:
        per_step += 8 * unknowns * ROWS_PER_STEP / fields_every
    return BASE_BYTES + BYTES_PER_CELL[dim] * cells + n_steps * per_step


def available_bytes() -> float:
    """The machine's physical memory: a run needing more cannot fit, whatever else runs
    (the total, not what is free now, so that a case is accepted or refused alike at any
    moment)."""
    try:
        import psutil

        return float(psutil.virtual_memory().total)
    except Exception:  # noqa: BLE001 - no psutil, or no /proc: assume nothing to compare
        return math.inf


def check_run_size(case, mesh_keys=()) -> None:
    """Refuse a case whose grid or memory is beyond one machine, naming the key that drives
    it, with the estimate. `mesh_keys` are the [mesh] keys the case file set."""
    if case.bipolar is not None and case.bipolar.n_cells > MAX_BIPOLAR_CELLS:
        raise InputError("cell.bipolar.n_cells", case.bipolar.n_cells,
                         f"at most {MAX_BIPOLAR_CELLS} unit cells in a stack (each adds its "
                         f"own equations and events: 100 cells take about 30 s for one "
                         f"discharge, and the time grows faster than the count)")
    cells, dim = estimate_cells(case)
    n_steps = len(case.protocol)
    need = estimate_bytes(cells, dim, n_steps, case.solver.fields_every)
    have = available_bytes()
    if cells <= MAX_CELLS and need <= have:
        return
    key, value = _size_driver(case, cells, need - estimate_bytes(cells, dim, 0), mesh_keys)
    memory = f"{need / 2 ** 30:.3g} GiB estimated"
    if math.isfinite(have):
        memory += f", {have / 2 ** 30:.3g} GiB in this machine"
    raise InputError(key, value, f"a run that fits one machine: this one needs at least "
                                 f"{cells:.3g} grid cells ({dim}D; at most {MAX_CELLS:.0e}) "
                                 f"and {n_steps} protocol steps, {memory}")


def _size_driver(case, cells, protocol_bytes, mesh_keys):
    """The key (and its value in the case file) that makes the run large: the protocol when
    its rows and states dominate, a structure size beyond LARGE_STRUCTURE, the mesh settings
    the case gave, else the structure's tallest size."""
    raw = case.raw
    if protocol_bytes > 0.5 * BYTES_PER_CELL[3] * cells and len(case.protocol) > 1:
        return "protocol", f"{len(case.protocol)} steps after expanding repeats"
    if case.architecture in ("planar", "bipolar"):
        return "mesh.cells_per_layer", case.mesh.cells_per_layer
    name = case.architecture
    geometry = case.trench or case.micropillar
    table = raw["cell"][name]
    names = (("width", "depth", "pitch") + (("length",) if geometry.length else ())
             if name == "trench" else ("diameter", "height", "pitch"))
    largest = max(names, key=lambda k: getattr(geometry, k))
    if getattr(geometry, largest) > LARGE_STRUCTURE:
        return f"cell.{name}.{largest}", table.get(largest, getattr(geometry, largest))
    mesh = raw.get("mesh", {})
    given = [key for key in ("max_cell_size", "cells_per_layer") if key in mesh_keys]
    if given:       # the one whose default would shrink the grid most
        key = min(given, key=lambda k: _cells_with_default(case, k))
        return f"mesh.{key}", mesh[key]
    return f"cell.{name}.{largest}", table.get(largest, getattr(geometry, largest))


def _cells_with_default(case, key: str) -> float:
    """The grid estimate of a structured case with one [mesh] setting at its default."""
    from dataclasses import replace

    from .case.settings import MeshSettings, default_max_cell_size

    default = (MeshSettings().cells_per_layer if key == "cells_per_layer"
               else default_max_cell_size(case.trench or case.micropillar))
    return estimate_cells(replace(case, mesh=replace(case.mesh, **{key: default})))[0]

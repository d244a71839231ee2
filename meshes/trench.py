"""Trench cells: conformal films in parallel trenches etched into a conducting substrate.

One symmetric half period of the cross-section is meshed (2D, x across the trenches, y up),
with the symmetry planes x = 0 (mesa centre) and x = pitch / 2 (trench centre); the grid is
built by meshes.conformal.conformal_grid (see there for the block layout and the quality of
the cells). Optionally the cross-section is extruded along the trenches into hexahedra and
prisms (3D, coordinates (x, along the trench, up)).

The 2D grid stands for a square (pitch / 2) x extent of the wafer, extent = pitch / 2 by
default, so footprint_area = (pitch / 2)^2 and every volume and area is per that footprint;
the extruded grid's footprint is (pitch / 2) x length. AEF = (pitch + 2 depth) / pitch.
"""

from __future__ import annotations

from collections.abc import Sequence

from .conformal import (
    check_films_fit,
    check_mesh_settings,
    check_stack,
    conformal_grid,
    format_length,
)
from .siblings import sibling

InputError = sibling("solver.errors").InputError
Grid = sibling("solver.grid").Grid


def trench_grid(films: Sequence[tuple[str, float]], fill: tuple[str, float],
                top: Sequence[tuple[str, float]], width: float, depth: float, pitch: float,
                cells_per_layer=4, max_cell_size: float | None = None, grading: float = 0.5,
                extrude: tuple[float, int] | None = None, holes: bool = False,
                extent: float | None = None, growth: float | None = None,
                min_fan_cells: int = 8, key: str = "cell.trench", coverage=None) -> Grid:
    """Grid of one half period of a trench cell.

    films : [(name, thickness)] conformal films from the substrate outward (m);
    fill : (name, planar thickness): the last electrode fills the rest of the trench and
        stands this much above the films' highest point;
    top : [(name, thickness)] planar layers above the fill (e.g. a top collector);
    width, depth, pitch : the trench (m); depth = 0 gives the planar stack;
    cells_per_layer : cells through each film (one int, or one per film [+ one per top
        layer]); max_cell_size : largest cell along the surfaces and in the fill (default
        pitch / 40); grading : toward the film faces, as in meshes.planar.layer_nodes;
    extrude : (length, n_cells) to sweep the cross-section along the trench into 3D;
    holes : mirror the half period, trench centre at x = 0 and mesa at x = pitch / 2;
    extent : depth of the 2D cross-section (default pitch / 2);
    coverage : step coverage per film (meshes.coverage.StepCoverage: wall_top, wall_foot,
        bottom as fractions of the film's thickness on the mesa top), None: conformal.

    Cell tags index films + [fill] + top; boundary groups "bottom" (the whole substrate
    surface: mesa top, walls and trench floor), "top" (the last layer's outer face),
    "symmetry". Impossible geometry raises InputError naming `key`.width / .depth / .pitch
    or cell.layers.<name>.thickness.
    """
    width, depth, pitch = float(width), float(depth), float(pitch)
    if not pitch > 0:
        raise InputError(f"{key}.pitch", pitch, "a positive length")
    if not width > 0:
        raise InputError(f"{key}.width", width, "a positive length")
    if not depth >= 0:
        raise InputError(f"{key}.depth", depth, "a length >= 0 (0 gives the planar stack)")
    if not width < pitch:
        raise InputError(f"{key}.width", width, "a width smaller than the pitch "
                         f"({format_length(pitch)}): width >= pitch leaves no mesa between "
                         "neighbouring trenches")
    total = check_stack(films, fill, top)
    if depth > 0:
        check_films_fit(films, total, width, "trench width")
        if not total < depth:
            raise InputError(f"{key}.depth", depth, "a depth larger than the total film "
                             f"thickness T = {format_length(total)}: conformal films of "
                             "T >= depth bury the trench's step")
    check_mesh_settings(cells_per_layer, max_cell_size)
    half = 0.5 * pitch
    extent = half if extent is None else float(extent)
    if not extent > 0:
        raise ValueError(f"extent must be > 0, got {extent}")
    return conformal_grid(films, fill, top, mesa=half - 0.5 * width, trench=0.5 * width,
                          depth=depth, trench_first=holes, cells_per_layer=cells_per_layer,
                          max_cell_size=max_cell_size, grading=grading, growth=growth,
                          min_fan_cells=min_fan_cells, extent=extent, extrude=extrude,
                          coverage=coverage)

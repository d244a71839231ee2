"""Structured grids pinned as golden data: the step-coverage generators must rebuild them
exactly when every coverage ratio is 1 (tests/test_step_coverage.py).

    python tests/golden/meshes.py        # writes tests/golden/mesh_golden.npz

Recorded from the conformal-film generators before step coverage existed; regenerate only
when a change of the conformal meshes is intended, and say so in the commit.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
OUT = Path(__file__).resolve().parent / "mesh_golden.npz"

UM = 1e-6
FILMS = [("anode", 0.5 * UM), ("electrolyte", 1.0 * UM)]
FILL = ("cathode", 2.0 * UM)
TOP = [("collector", 0.5 * UM)]


def golden_grids():
    """name -> (generator, keyword arguments): trench (2D, mirrored, extruded),
    axisymmetric pillar and hole, 3D pillar (square) and hole (hexagonal) units."""
    from meshes.conformal import axisymmetric_grid
    from meshes.micropillar import micropillar_grid
    from meshes.trench import trench_grid

    stack = {"films": FILMS, "fill": FILL, "top": TOP}
    coarse = {"cells_per_layer": 3, "max_cell_size": 1.5 * UM}
    return {
        "trench": (trench_grid, {**stack, **coarse, "width": 8 * UM, "depth": 20 * UM,
                                 "pitch": 16 * UM}),
        "trench_holes": (trench_grid, {**stack, **coarse, "width": 8 * UM, "depth": 20 * UM,
                                       "pitch": 16 * UM, "holes": True}),
        "trench_3d": (trench_grid, {**stack, **coarse, "width": 8 * UM, "depth": 10 * UM,
                                    "pitch": 16 * UM, "extrude": (4 * UM, 2)}),
        "axisymmetric_pillar": (axisymmetric_grid, {**stack, **coarse, "diameter": 5 * UM,
                                                    "height": 20 * UM, "radius": 6 * UM}),
        "axisymmetric_hole": (axisymmetric_grid, {**stack, **coarse, "diameter": 8 * UM,
                                                  "height": 20 * UM, "radius": 8 * UM,
                                                  "holes": True}),
        "pillar_square": (micropillar_grid, {**stack, "cells_per_layer": 2,
                                             "max_cell_size": 2.0 * UM, "diameter": 6 * UM,
                                             "height": 16 * UM, "pitch": 14 * UM}),
        "hole_hexagonal": (micropillar_grid, {**stack, "cells_per_layer": 2,
                                              "max_cell_size": 2.0 * UM, "diameter": 8 * UM,
                                              "height": 16 * UM, "pitch": 14 * UM,
                                              "lattice": "hexagonal", "holes": True}),
    }


def grid_arrays(grid):
    """The arrays that define a grid: points, cells per block, tags, boundary faces."""
    out = {"points": grid.points, "tags": grid.cell_tags}
    for k, (cell_type, cells) in enumerate(grid.cell_blocks):
        out[f"block{k}_{cell_type}"] = cells
    for name, faces in grid.boundary_faces.items():
        out[f"boundary_{name}"] = np.sort(faces)
    return out


def main():
    sys.path.insert(0, str(ROOT))
    data = {}
    for name, (make, kwargs) in golden_grids().items():
        grid = make(**kwargs)
        for key, value in grid_arrays(grid).items():
            data[f"{name}/{key}"] = value
        print(f"{name}: {grid.n_cells} cells")
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()

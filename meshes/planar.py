"""Planar layer stacks: 1D intervals, 2D quadrilaterals or 3D hexahedra along the last axis.

Within each layer the cells follow one fixed smooth map s -> t of the unit interval,
t(s) = (1 - g) s + g (1 - cos(pi s)) / 2, which clusters cells toward both faces of the
layer (the interfaces, where the surface concentration and the kinetics live). The cell
size ratio centre/face tends to 1 + g pi / (2 (1 - g)). Because refinement keeps the map, the
grid stays smooth under refinement and the finite-volume scheme keeps second order.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from .siblings import sibling

Grid = sibling("solver.grid").Grid


def _layer_map(s: np.ndarray, grading: float) -> np.ndarray:
    return (1.0 - grading) * s + grading * 0.5 * (1.0 - np.cos(np.pi * s))


def _cells_list(cells_per_layer, n_layers: int) -> list[int]:
    if np.ndim(cells_per_layer) == 0:
        cells = [int(cells_per_layer)] * n_layers
    else:
        cells = [int(n) for n in cells_per_layer]
    if len(cells) != n_layers:
        raise ValueError(f"cells_per_layer has {len(cells)} entries for {n_layers} layers")
    return cells


def layer_nodes(thicknesses: Sequence[float], cells_per_layer, grading: float = 0.5) -> np.ndarray:
    """Node coordinates z (n+1,) from 0 to the total thickness through a stack of layers.

    `cells_per_layer` is one int for all layers or one per layer; zero-thickness layers
    get no cells. `grading` in [0, 1): 0 is uniform, larger clusters cells at the faces.
    Every interface is hit exactly (interface positions are the cumulative sums).
    """
    thicknesses = np.asarray(thicknesses, dtype=float).reshape(-1)
    if np.any(thicknesses < 0) or not np.all(np.isfinite(thicknesses)):
        raise ValueError(f"layer thicknesses must be finite and >= 0, got {thicknesses.tolist()}")
    if not thicknesses.sum() > 0:
        raise ValueError("the stack has zero total thickness")
    if not 0.0 <= grading < 1.0:
        raise ValueError(f"grading must be in [0, 1), got {grading}")
    cells = _cells_list(cells_per_layer, len(thicknesses))
    interfaces = np.concatenate([[0.0], np.cumsum(thicknesses)])
    z = [interfaces[:1]]
    for h, n, z0, z1 in zip(thicknesses, cells, interfaces[:-1], interfaces[1:]):
        if h == 0:
            continue
        if n < 1:
            raise ValueError(f"a layer of thickness {h} needs at least one cell, got {n}")
        t = _layer_map(np.linspace(0.0, 1.0, n + 1)[1:], grading)
        z.append(z0 * (1.0 - t) + z1 * t)       # exact at t = 1: ends on z1
    return np.concatenate(z)


def planar_grid(layers: Sequence[tuple[str, float]], cells_per_layer, footprint_area: float,
                dim: int = 1, lateral_cells=1, grading: float = 0.5) -> Grid:
    """Grid of a planar layer stack, first layer at the bottom (z = 0).

    1D: intervals, extent = footprint_area. 2D: quadrilaterals on [0, W] x [0, total] with
    W = sqrt(footprint_area) and depth W. 3D: hexahedra on [0, W]^2 x [0, total].
    `lateral_cells` cells along x (and y); in 3D a pair (nx, ny) is accepted too.
    Cell tags index the layers; boundary groups "bottom", "top" and "symmetry".
    """
    if dim not in (1, 2, 3):
        raise ValueError(f"dim must be 1, 2 or 3, got {dim}")
    if not footprint_area > 0:
        raise ValueError(f"footprint_area must be > 0, got {footprint_area}")
    names = [str(name) for name, _ in layers]
    thicknesses = np.array([float(h) for _, h in layers])
    cells = _cells_list(cells_per_layer, len(layers))
    z = layer_nodes(thicknesses, cells, grading)
    total = z[-1]
    # layer index of each cell row (zero-thickness layers contribute no rows)
    row_tags = np.repeat(np.arange(len(layers)), np.where(thicknesses > 0, cells, 0))
    nz = len(z) - 1

    width = np.sqrt(footprint_area)
    lateral = np.broadcast_to(np.asarray(lateral_cells, dtype=int), (dim - 1,)) if dim > 1 else ()
    if np.any(np.asarray(lateral) < 1):
        raise ValueError(f"lateral_cells must be >= 1, got {lateral_cells}")
    axes = [np.linspace(0.0, width, n + 1) for n in lateral] + [z]
    shape = [len(a) for a in axes]                       # nodes per axis, x fastest
    grids = np.meshgrid(*axes, indexing="ij")
    points = np.stack([g.transpose(*reversed(range(dim))).ravel() for g in grids], axis=1)

    # point index of node (i, j, k) = i + nx1 * (j + ny1 * k); x varies fastest
    node = np.arange(points.shape[0]).reshape(list(reversed(shape)))
    corner = node[tuple(slice(0, -1) for _ in range(dim))]  # lowest corner of each cell
    strides = np.cumprod([1] + shape[:-1])                 # point-index step along each axis
    # basix tensor-product vertex order: vertex bits (bx, by, bz), x the lowest bit
    offsets = np.array([sum(((v >> a) & 1) * strides[a] for a in range(dim))
                        for v in range(2 ** dim)])
    connectivity = corner.reshape(-1, 1) + offsets
    cell_type = {1: "interval", 2: "quadrilateral", 3: "hexahedron"}[dim]
    n_lateral = int(np.prod(lateral)) if dim > 1 else 1
    tags = np.repeat(row_tags, n_lateral)                   # cells ordered with z slowest
    assert len(tags) == len(connectivity) == nz * n_lateral

    tol = 1e-9 * total

    def classify(centroids, normals):
        bottom = (np.abs(centroids[:, -1]) <= tol) & (normals[:, -1] < -0.5)
        top = (np.abs(centroids[:, -1] - total) <= tol) & (normals[:, -1] > 0.5)
        return {"bottom": bottom, "top": top, "symmetry": ~(bottom | top)}

    extent = {1: footprint_area, 2: width, 3: 1.0}[dim]
    return Grid(points, [(cell_type, connectivity)], tags, names, classify,
                extent=extent, footprint_area=footprint_area)

"""Geometric figures of a grid: area enhancement, interface areas, and mesh quality."""

import numpy as np


def substrate_area(grid) -> float:
    """Area of the bottom tab (the substrate surface in trench and pillar cells)."""
    return float(np.sum(grid.face_areas[grid.boundary_faces["bottom"]]))


def area_enhancement(grid) -> float:
    """AEF: substrate surface area over footprint area (1 for a planar stack)."""
    return substrate_area(grid) / grid.footprint_area


def interface_areas(grid) -> dict:
    """Area (m^2, of the grid's unit) of each interface between two layers, keyed "a|b" in
    stack order."""
    fc = grid.face_cells
    interior = grid.interior_faces
    a, b = grid.cell_tags[fc[interior, 0]], grid.cell_tags[fc[interior, 1]]
    crossing = a != b
    low, high = np.minimum(a, b)[crossing], np.maximum(a, b)[crossing]
    areas = grid.face_areas[interior[crossing]]
    out = {}
    for i, j in sorted(set(zip(low.tolist(), high.tolist()))):
        mask = (low == i) & (high == j)
        out[f"{grid.tag_names[i]}|{grid.tag_names[j]}"] = float(np.sum(areas[mask]))
    return out


def face_angles(grid) -> np.ndarray:
    """(n_faces,) non-orthogonality in degrees: the angle between each face's normal and the
    line from the centroid of face_cells[:, 0] to that of face_cells[:, 1] (on the boundary:
    to the face centroid). 0 where two-point fluxes are exact."""
    fc = grid.face_cells
    c = grid.cell_centroids
    far = np.where((fc[:, 1] >= 0)[:, None], c[np.maximum(fc[:, 1], 0)], grid.face_centroids)
    d = far - c[fc[:, 0]]
    cosine = np.einsum("fi,fi->f", d, grid.face_normals) / np.linalg.norm(d, axis=1)
    return np.degrees(np.arccos(np.clip(np.abs(cosine), 0.0, 1.0)))


def non_orthogonality(grid) -> np.ndarray:
    """Angle (degrees) between each interior face's normal and the line joining the
    centres of its two cells (`face_angles` of grid.interior_faces)."""
    return face_angles(grid)[grid.interior_faces]


def quality(grid) -> dict:
    """Cell counts and the figures that tell whether TPFA is trustworthy on this grid."""
    fc = grid.face_cells
    f = grid.interior_faces
    v = grid.cell_volumes
    ratio = np.maximum(v[fc[f, 0]], v[fc[f, 1]]) / np.minimum(v[fc[f, 0]], v[fc[f, 1]])
    angles = non_orthogonality(grid)
    counts = {}
    for cell_type, cells in grid.cell_blocks:
        counts[cell_type] = counts.get(cell_type, 0) + len(cells)
    return {
        "dimension": grid.dim,
        "n_cells": int(grid.n_cells),
        "n_faces": int(grid.n_faces),
        "cell_types": counts,
        "cells_per_layer": {name: int(np.sum(grid.cell_tags == k))
                            for k, name in enumerate(grid.tag_names)},
        "max_neighbour_volume_ratio": float(ratio.max()) if ratio.size else 1.0,
        "max_non_orthogonality_deg": float(angles.max()) if angles.size else 0.0,
        "mean_non_orthogonality_deg": float(angles.mean()) if angles.size else 0.0,
        "faces_over_10_deg": int(np.sum(angles > 10.0)),
        "min_cell_volume": float(v.min()),
    }


def geometry_summary(grid, footprint_area) -> dict:
    """AEF and interface areas for summary.json: areas for the whole cell footprint."""
    scale = footprint_area / grid.footprint_area
    return {
        "aef": area_enhancement(grid),
        "substrate_area_cm2": substrate_area(grid) * scale * 1e4,
        "interface_area_cm2": {k: a * scale * 1e4 for k, a in interface_areas(grid).items()},
    }


def mesh_report(grid) -> dict:
    """`quality(grid)` plus what the mesh generators' tests check: footprint, substrate
    area, AEF, interface areas ("a|b"), volume per layer, and the non-orthogonality
    (degrees) of faces between two layers and of boundary faces."""
    angles = face_angles(grid)
    inner = grid.interior_faces
    tags = grid.cell_tags[grid.face_cells[inner]]
    between = inner[tags[:, 0] != tags[:, 1]]
    return {
        **quality(grid),
        "footprint_area": grid.footprint_area,
        "substrate_area": substrate_area(grid),
        "aef": area_enhancement(grid),
        "interface_areas": interface_areas(grid),
        "volumes": {name: float(grid.cell_volumes[grid.cell_tags == k].sum())
                    for k, name in enumerate(grid.tag_names)},
        "fraction_over_5_deg": float(np.mean(angles[inner] > 5.0)) if len(inner) else 0.0,
        "max_interface_non_orthogonality_deg": float(angles[between].max(initial=0.0)),
        "max_boundary_non_orthogonality_deg": float(np.delete(angles, inner).max(initial=0.0)),
    }

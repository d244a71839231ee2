"""Unstructured cell-centred finite-volume grid, one structure for 1D, 2D and 3D.

Cells come in blocks of one basix cell type each, with basix's vertex ordering
(tensor-product for quadrilaterals and hexahedra). Faces are found from the cell
connectivity with basix's reference-cell topology and deduplicated in one vectorised
pass; geometry (volumes, centroids, face areas, normals) comes from the P1 coordinate
element of each reference cell integrated with basix quadrature.

In 1D and 2D the dimensions that are not meshed contribute the factor `extent`
(cross-section area in 1D, depth in 2D) to every volume and face area.

An axisymmetric 2D grid (`axisymmetric=True`) is the (r, z) half-plane of a body of
revolution: the first coordinate is the radius r >= 0, volumes and face areas are the
revolved measures (the same quadrature with the weight 2 pi r), centroids are the (r, z)
centroids of those measures, and faces on the axis have zero area.
"""

from __future__ import annotations

from functools import cached_property, lru_cache
from typing import Callable, Mapping

import basix
import numpy as np
import scipy.sparse as sp

CELL_DIMS = {
    "interval": 1,
    "triangle": 2,
    "quadrilateral": 2,
    "tetrahedron": 3,
    "hexahedron": 3,
    "prism": 3,
}

# meshio name and the permutation taking basix vertex order to VTK/meshio order
# (each permutation is its own inverse).
MESHIO_CELLS = {
    "interval": ("line", [0, 1]),
    "triangle": ("triangle", [0, 1, 2]),
    "quadrilateral": ("quad", [0, 1, 3, 2]),
    "tetrahedron": ("tetra", [0, 1, 2, 3]),
    "hexahedron": ("hexahedron", [0, 1, 3, 2, 4, 5, 7, 6]),
    # VTK wants the first triangle's right-hand normal pointing away from the second.
    "prism": ("wedge", [0, 2, 1, 3, 5, 4]),
}

# Quadrature degrees: exact for volume and first moments of the P1 maps (trilinear hex:
# det J is quadratic per direction, x det J cubic). Face areas of warped quadrilaterals
# involve a square root, so they get a richer rule.
_CELL_DEGREE = {"interval": 2, "triangle": 2, "quadrilateral": 3,
                "tetrahedron": 2, "hexahedron": 3, "prism": 4}
_FACE_DEGREE = {"interval": 2, "triangle": 2, "quadrilateral": 5}


@lru_cache(maxsize=None)
def reference_facets(cell_type: str) -> tuple[tuple[int, ...], ...]:
    """Local vertex ids of each facet of a basix reference cell, in basix order."""
    ct = basix.CellType[cell_type]
    return tuple(tuple(f) for f in basix.topology(ct)[CELL_DIMS[cell_type] - 1])


@lru_cache(maxsize=None)
def _reference_map(cell_type: str, degree: int):
    """P1 shape functions and their reference derivatives at the quadrature points.

    Returns (phi (nq, nv), dphi (tdim, nq, nv), weights (nq,)).
    """
    ct = basix.CellType[cell_type]
    element = basix.create_element(basix.ElementFamily.P, ct, 1)
    points, weights = basix.make_quadrature(ct, degree)
    tab = element.tabulate(1, points)[..., 0]
    return tab[0], tab[1:], weights


def _facet_type(dim: int, n_vertices: int) -> str:
    if dim < 3:
        return "point" if dim == 1 else "interval"
    return "triangle" if n_vertices == 3 else "quadrilateral"


def _sorted_padded(vertex_lists, width: int) -> np.ndarray:
    """Rows of vertex ids sorted ascending, padded on the right with -1 to `width`.

    `vertex_lists` is an (m, k) array (-1 entries are padding) or a list of such arrays.
    """
    if isinstance(vertex_lists, np.ndarray):  # one array; 1D means one vertex per face
        arrays = [vertex_lists.reshape(-1, 1) if vertex_lists.ndim == 1 else vertex_lists]
    else:
        items = list(vertex_lists)
        if items and np.ndim(items[0]) == 2:
            arrays = [np.asarray(a, dtype=np.int64) for a in items]
        else:
            a = np.asarray(items, dtype=np.int64)
            arrays = [a.reshape(-1, 1) if a.ndim == 1 else a]
    rows = []
    big = np.iinfo(np.int64).max
    for a in arrays:
        a = np.sort(np.where(a < 0, big, a), axis=1)
        a = np.where(a == big, -1, a)
        if a.shape[1] > width:
            if np.any(a[:, width:] >= 0):
                raise ValueError(f"face given with more than {width} vertices")
            a = a[:, :width]
        rows.append(np.pad(a, ((0, 0), (0, width - a.shape[1])), constant_values=-1))
    return np.concatenate(rows) if rows else np.empty((0, width), dtype=np.int64)


def _group_rows(keys: np.ndarray, tiebreak: np.ndarray | None = None):
    """Unique rows of an int array in lexicographic order, by one vectorised lexsort.

    Returns (unique rows, inverse (index of each row's unique row), order). `order` sorts
    the rows grouped by unique row and, within a group, by `tiebreak`.
    """
    sort_keys = [keys[:, j] for j in reversed(range(keys.shape[1]))]
    order = np.lexsort(([tiebreak] if tiebreak is not None else []) + sort_keys)
    ordered = keys[order]
    new = np.ones(len(keys), dtype=bool)
    new[1:] = np.any(ordered[1:] != ordered[:-1], axis=1)
    inverse = np.empty(len(keys), dtype=np.int64)
    inverse[order] = np.cumsum(new) - 1
    return ordered[new], inverse, order


def _readonly(a: np.ndarray) -> np.ndarray:
    a.setflags(write=False)
    return a


class Grid:
    """Cells, faces and their geometry for cell-centred finite volumes.

    Parameters
    ----------
    points : (n_points, dim) coordinates, dim 1, 2 or 3 (a 1D array is taken as 1D).
    cell_blocks : list of (basix cell type name, (n, nv) vertex ids in basix order).
    cell_tags : (n_cells,) index into `tag_names`, cells numbered block by block.
    tag_names : region (layer) names; a name may have no cells.
    boundary_faces_by_vertices : how to group boundary faces. Either a dict
        name -> faces given by their vertex ids ((m, k) int array, -1 padded, or a list of
        such arrays), or a callable (centroids (nb, dim), unit outward normals (nb, dim))
        -> dict name -> boolean mask over those nb boundary faces. Boundary faces in no
        group are put in "symmetry" (zero flux).
    extent : measure of the dimensions not meshed (area in 1D, depth in 2D, 1 in 3D).
    footprint_area : projected area of the unit's footprint; by default the projection of
        the "bottom" group onto the plane normal to the last coordinate.
    axisymmetric : 2D only: points are (r, z) with r >= 0 and every measure is revolved
        about the axis r = 0 (extent must stay 1); the default footprint is then the revolved
        "bottom" group projected on the r axis (pi R^2 for a disc of radius R).
    """

    def __init__(self, points, cell_blocks, cell_tags, tag_names,
                 boundary_faces_by_vertices: Mapping | Callable | None = None,
                 extent: float = 1.0, footprint_area: float | None = None,
                 axisymmetric: bool = False):
        points = np.array(points, dtype=float)         # own copies: the arrays are frozen
        if points.ndim == 1:
            points = points[:, None]
        if points.ndim != 2 or points.shape[1] not in (1, 2, 3):
            raise ValueError(f"points must have shape (n, 1|2|3), got {points.shape}")
        self.dim = points.shape[1]
        self.points = _readonly(points)

        blocks = []
        for cell_type, cells in cell_blocks:
            if cell_type not in CELL_DIMS:
                raise ValueError(f"unknown cell type {cell_type!r}; known: {list(CELL_DIMS)}")
            if CELL_DIMS[cell_type] != self.dim:
                raise ValueError(f"cell type {cell_type!r} does not fit a {self.dim}D grid")
            cells = np.array(cells, dtype=np.int64)
            nv = len(basix.geometry(basix.CellType[cell_type]))
            if cells.ndim != 2 or cells.shape[1] != nv:
                raise ValueError(f"{cell_type} cells need shape (n, {nv}), got {cells.shape}")
            if cells.size and (cells.min() < 0 or cells.max() >= len(points)):
                raise ValueError(f"{cell_type} cells refer to points that do not exist")
            blocks.append((cell_type, _readonly(cells)))
        if not blocks:
            raise ValueError("a grid needs at least one cell block")
        self.cell_blocks = blocks
        self.block_offsets = np.cumsum([0] + [len(c) for _, c in blocks])
        self.n_cells = int(self.block_offsets[-1])

        self.tag_names = list(tag_names)
        tags = np.array(cell_tags, dtype=np.int64).reshape(-1)
        if len(tags) != self.n_cells:
            raise ValueError(f"{len(tags)} cell tags for {self.n_cells} cells")
        if tags.size and (tags.min() < 0 or tags.max() >= len(self.tag_names)):
            raise ValueError("cell tags must index tag_names")
        self.cell_tags = _readonly(tags)

        self.axisymmetric = bool(axisymmetric)
        if self.axisymmetric:
            if self.dim != 2:
                raise ValueError(f"an axisymmetric grid must be 2D (r, z), got {self.dim}D")
            if float(extent) != 1.0:
                raise ValueError("extent has no meaning for an axisymmetric grid (the "
                                 f"revolution gives the third dimension), got {extent}")
            scale = np.abs(points).max(initial=0.0)
            if points.size and points[:, 0].min() < -1e-12 * scale:
                raise ValueError("an axisymmetric grid needs radii r = points[:, 0] >= 0, got "
                                 f"{points[:, 0].min()}")
        self.extent = float(extent) if self.dim < 3 else 1.0
        self._boundary_spec = boundary_faces_by_vertices
        self._footprint_area = footprint_area
        self._topology  # noqa: B018  (fail early on non-manifold connectivity)
        if np.any(self.cell_volumes <= 0.0):
            raise ValueError(f"{np.count_nonzero(self.cell_volumes <= 0)} cells have zero volume")

    def __repr__(self):
        types = ", ".join(f"{len(c)} {t}" for t, c in self.cell_blocks)
        kind = "2D axisymmetric" if self.axisymmetric else f"{self.dim}D"
        return f"Grid({kind}: {types}; {self.n_faces} faces; tags {self.tag_names})"

    # ---------------------------------------------------------------- topology
    @cached_property
    def _topology(self):
        width = max(len(f) for t, _ in self.cell_blocks for f in reference_facets(t))
        max_facets = max(len(reference_facets(t)) for t, _ in self.cell_blocks)
        keys, raw, cell_ids, local_ids = [], [], [], []
        for (cell_type, cells), offset in zip(self.cell_blocks, self.block_offsets):
            ids = offset + np.arange(len(cells))
            for local, facet in enumerate(reference_facets(cell_type)):
                verts = cells[:, facet]
                pad = ((0, 0), (0, width - len(facet)))
                raw.append(np.pad(verts, pad, constant_values=-1))
                keys.append(np.pad(np.sort(verts, axis=1), pad, constant_values=-1))
                cell_ids.append(ids)
                local_ids.append(np.full(len(cells), local))
        keys, raw = np.concatenate(keys), np.concatenate(raw)
        cell_ids, local_ids = np.concatenate(cell_ids), np.concatenate(local_ids)

        # occurrences grouped by face, lower cell first: that cell is face_cells[:, 0]
        face_keys, inverse, order = _group_rows(keys, tiebreak=cell_ids)
        n_faces = len(face_keys)
        counts = np.bincount(inverse, minlength=n_faces)
        if counts.max() > 2:
            raise ValueError(f"{np.count_nonzero(counts > 2)} faces are shared by more than "
                             "two cells")
        start = np.concatenate([[0], np.cumsum(counts)[:-1]])
        first = order[start]
        second = order[np.minimum(start + 1, len(order) - 1)]
        face_cells = np.stack([cell_ids[first], np.where(counts == 2, cell_ids[second], -1)],
                              axis=1)

        cell_faces = np.full((self.n_cells, max_facets), -1, dtype=np.int64)
        cell_faces[cell_ids, local_ids] = inverse
        # vertex ids of each face in the local order of its first cell, which matches the
        # vertex order of the facet's basix reference cell
        face_vertices = raw[first]
        return tuple(_readonly(a) for a in (face_keys, face_vertices, face_cells, cell_faces))

    @property
    def n_faces(self) -> int:
        return len(self._topology[0])

    @property
    def face_cells(self) -> np.ndarray:
        return self._topology[2]

    @property
    def face_vertices(self) -> np.ndarray:
        """(n_faces, k) vertex ids of each face, -1 padded (prism grids mix 3 and 4)."""
        return self._topology[1]

    @property
    def cell_faces(self) -> np.ndarray:
        """(n_cells, max facets per cell) face ids in basix local facet order, -1 padded."""
        return self._topology[3]

    # ---------------------------------------------------------------- geometry
    @cached_property
    def _cell_geometry(self):
        volumes = np.empty(self.n_cells)
        centroids = np.empty((self.n_cells, self.dim))
        for (cell_type, cells), offset in zip(self.cell_blocks, self.block_offsets):
            phi, dphi, weights = _reference_map(cell_type, _CELL_DEGREE[cell_type])
            x = self.points[cells]                                  # (n, nv, dim)
            jac = np.einsum("cvi,jqv->cqij", x, dphi, optimize=True)  # (n, nq, dim, tdim)
            det = np.linalg.det(jac)
            if np.any(det.min(axis=1) * det.max(axis=1) < 0):
                raise ValueError(f"tangled {cell_type} cells (Jacobian changes sign)")
            dv = weights * np.abs(det)                              # (n, nq)
            if self.axisymmetric:                                   # revolved: 2 pi r dA
                dv = dv * (2.0 * np.pi) * np.einsum("qv,cv->cq", phi, x[..., 0])
            vol = dv.sum(axis=1)
            sl = slice(offset, offset + len(cells))
            volumes[sl] = vol
            moment = np.einsum("cq,qv,cvi->ci", dv, phi, x, optimize=True)
            centroids[sl] = moment / np.where(vol > 0, vol, 1.0)[:, None]
        return _readonly(volumes * self.extent), _readonly(centroids)

    @property
    def cell_volumes(self) -> np.ndarray:
        return self._cell_geometry[0]

    @property
    def cell_centroids(self) -> np.ndarray:
        return self._cell_geometry[1]

    @cached_property
    def _face_geometry(self):
        n = self.n_faces
        areas = np.empty(n)
        centroids = np.empty((n, self.dim))
        vectors = np.empty((n, self.dim))     # integral of the (unnormalised) normal
        measured = np.empty((n, self.dim))    # the same with the revolved weight 2 pi r
        verts = self.face_vertices
        n_vertices = np.count_nonzero(verts >= 0, axis=1)
        for k in np.unique(n_vertices):
            ids = np.flatnonzero(n_vertices == k)
            x = self.points[verts[ids, :k]]                         # (m, k, dim)
            ftype = _facet_type(self.dim, k)
            if ftype == "point":
                areas[ids], centroids[ids], vectors[ids] = 1.0, x[:, 0], 1.0
                continue
            phi, dphi, weights = _reference_map(ftype, _FACE_DEGREE[ftype])
            jac = np.einsum("cvi,jqv->cqij", x, dphi, optimize=True)  # (m, nq, dim, dim-1)
            if self.dim == 2:
                normal = np.stack([jac[..., 1, 0], -jac[..., 0, 0]], axis=-1)
            else:
                a, b = jac[..., 0], jac[..., 1]
                normal = np.stack([a[..., 1] * b[..., 2] - a[..., 2] * b[..., 1],
                                   a[..., 2] * b[..., 0] - a[..., 0] * b[..., 2],
                                   a[..., 0] * b[..., 1] - a[..., 1] * b[..., 0]], axis=-1)
            ds = weights * np.linalg.norm(normal, axis=-1)          # (m, nq)
            areas[ids] = ds.sum(axis=1)
            moment = np.einsum("cq,qv,cvi->ci", ds, phi, x, optimize=True)
            centroids[ids] = moment / areas[ids, None]
            vectors[ids] = np.einsum("q,cqi->ci", weights, normal)
            if self.axisymmetric:      # revolved measure 2 pi r ds, zero on the axis
                radius = 2.0 * np.pi * np.einsum("qv,cv->cq", phi, x[..., 0])
                ds = ds * radius
                revolved = ds.sum(axis=1)
                moment = np.einsum("cq,qv,cvi->ci", ds, phi, x, optimize=True)
                on_axis = revolved <= 0.0          # these keep their planar centroid
                centroids[ids] = np.where(on_axis[:, None], centroids[ids],
                                          moment / np.where(on_axis, 1.0, revolved)[:, None])
                areas[ids] = revolved
                measured[ids] = np.einsum("q,cq,cqi->ci", weights, radius, normal)
        # orient from face_cells[:, 0] outward (towards face_cells[:, 1])
        away = centroids - self.cell_centroids[self.face_cells[:, 0]]
        sign = np.where(np.einsum("fi,fi->f", vectors, away) < 0, -1.0, 1.0)
        # unit normals from the plain geometry (also on zero-area axis faces)
        normals = vectors * sign[:, None]
        normals /= np.linalg.norm(normals, axis=1, keepdims=True)
        if self.axisymmetric:
            vectors = measured * sign[:, None]
        else:
            vectors *= sign[:, None] * self.extent
        return (_readonly(areas * self.extent), _readonly(centroids), _readonly(normals),
                _readonly(vectors))

    @property
    def face_areas(self) -> np.ndarray:
        return self._face_geometry[0]

    @property
    def face_centroids(self) -> np.ndarray:
        return self._face_geometry[1]

    @property
    def face_normals(self) -> np.ndarray:
        return self._face_geometry[2]

    @property
    def face_area_vectors(self) -> np.ndarray:
        """(n_faces, dim) integral of the oriented unit normal over each face.

        Equals face_areas * face_normals on planar faces; on warped quadrilateral faces it
        is the vector area that closes exactly around every cell.
        """
        return self._face_geometry[3]

    # ---------------------------------------------------------------- FV operators
    @cached_property
    def interior_faces(self) -> np.ndarray:
        return _readonly(np.flatnonzero(self.face_cells[:, 1] >= 0))

    @cached_property
    def _boundary_face_ids(self) -> np.ndarray:
        return _readonly(np.flatnonzero(self.face_cells[:, 1] < 0))

    @cached_property
    def half_transmissibility(self) -> np.ndarray:
        """(n_faces, 2): A_f |n_f . d| / (d . d), d = x_face - x_cell, per side."""
        ht = np.zeros((self.n_faces, 2))
        for side in (0, 1):
            faces = np.arange(self.n_faces) if side == 0 else self.interior_faces
            d = self.face_centroids[faces] - self.cell_centroids[self.face_cells[faces, side]]
            nd = np.abs(np.einsum("fi,fi->f", self.face_normals[faces], d))
            ht[faces, side] = self.face_areas[faces] * nd / np.einsum("fi,fi->f", d, d)
        return _readonly(ht)

    @cached_property
    def div(self) -> sp.csr_matrix:
        """(n_cells, n_faces): sum of outgoing face fluxes of each cell."""
        inner = self.interior_faces
        rows = np.concatenate([self.face_cells[:, 0], self.face_cells[inner, 1]])
        cols = np.concatenate([np.arange(self.n_faces), inner])
        data = np.concatenate([np.ones(self.n_faces), -np.ones(len(inner))])
        return sp.csr_matrix((data, (rows, cols)), shape=(self.n_cells, self.n_faces))

    # ---------------------------------------------------------------- groups
    @cached_property
    def boundary_faces(self) -> dict[str, np.ndarray]:
        bnd = self._boundary_face_ids
        spec = self._boundary_spec
        groups: dict[str, np.ndarray] = {}
        if callable(spec):
            masks = spec(self.face_centroids[bnd], self.face_normals[bnd])
            groups = {name: bnd[np.asarray(mask, dtype=bool)] for name, mask in masks.items()}
        elif spec:
            groups = {name: self.find_faces(verts) for name, verts in spec.items()}
            for name, ids in groups.items():
                if np.any(self.face_cells[ids, 1] >= 0):
                    raise ValueError(f"boundary group {name!r} contains interior faces")
        claimed = np.zeros(self.n_faces, dtype=np.int64)
        for ids in groups.values():
            np.add.at(claimed, ids, 1)
        if claimed.max(initial=0) > 1:
            raise ValueError(f"{np.count_nonzero(claimed > 1)} faces are in more than one "
                             "boundary group")
        rest = bnd[claimed[bnd] == 0]
        if len(rest) or "symmetry" not in groups:
            symmetry = np.concatenate([groups.get("symmetry", []), rest]).astype(np.int64)
            groups["symmetry"] = np.sort(symmetry)
        return {name: _readonly(np.asarray(ids, dtype=np.int64)) for name, ids in groups.items()}

    def find_faces(self, vertex_lists) -> np.ndarray:
        """Face ids of faces given by their vertex ids (any vertex order, -1 padding)."""
        keys = self._topology[0]
        query = _sorted_padded(vertex_lists, keys.shape[1])
        _, inverse, _ = _group_rows(np.concatenate([keys, query]))
        lookup = np.full(len(keys) + len(query), -1, dtype=np.int64)
        lookup[inverse[:len(keys)]] = np.arange(len(keys))
        ids = lookup[inverse[len(keys):]]
        if np.any(ids < 0):
            raise ValueError(f"{np.count_nonzero(ids < 0)} given vertex lists are not faces "
                             "of the grid")
        return ids

    def cells_with_tag(self, name: str) -> np.ndarray:
        if name not in self.tag_names:
            raise KeyError(f"no tag {name!r}; tags are {self.tag_names}")
        return np.flatnonzero(self.cell_tags == self.tag_names.index(name))

    @cached_property
    def footprint_area(self) -> float:
        if self._footprint_area is not None:
            return float(self._footprint_area)
        if self.boundary_faces.get("bottom") is not None and len(self.boundary_faces["bottom"]):
            ids = self.boundary_faces["bottom"]
            return float(np.abs(self.face_area_vectors[ids, -1]).sum())
        # a domain bounded below and above: half its boundary projected on the last axis
        ids = self._boundary_face_ids
        return float(0.5 * np.abs(self.face_area_vectors[ids, -1]).sum())

    # ---------------------------------------------------------------- output
    def split_by_block(self, values) -> list[np.ndarray]:
        """Cell array (n_cells, ...) -> list with one array per cell block."""
        values = np.asarray(values)
        if values.shape[0] != self.n_cells:
            raise ValueError(f"cell data has {values.shape[0]} rows for {self.n_cells} cells")
        return [values[a:b] for a, b in zip(self.block_offsets[:-1], self.block_offsets[1:])]

    def to_meshio(self, cell_data: dict | None = None):
        """meshio.Mesh with VTK vertex order, 3D points and the cell tags as "layer"."""
        import meshio

        points = np.pad(self.points, ((0, 0), (0, 3 - self.dim)))
        cells = [(MESHIO_CELLS[t][0], c[:, MESHIO_CELLS[t][1]]) for t, c in self.cell_blocks]
        data = {"layer": self.split_by_block(self.cell_tags)}
        for name, values in (cell_data or {}).items():
            data[name] = self.split_by_block(values)
        return meshio.Mesh(points, cells, cell_data=data)

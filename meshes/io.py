"""Grids to and from mesh files (.vtu, .xdmf, and anything else meshio knows).

Besides the "layer" tags, `write_grid` stores what is needed to rebuild the same Grid:
cell data "boundary" (per cell, per local facet in basix order: the index of the face's
boundary group in BOUNDARY_NAMES + the grid's other groups, -1 if none), and the constant
cell data "extent", "footprint_area" and "axisymmetric" (1 for an (r, z) grid revolved
about r = 0, else 0; a file without it reads as not axisymmetric). Names are not stored
(meshio's VTU and XDMF writers drop field data), so `read_grid` takes the layer names as an
argument.

XDMF is written and read here, as one self-contained XDMF 3 file with its data inline
(XML): meshio 5.3's XDMF reader and writer import h5py even for inline data. The files
follow the layout meshio writes, so meshio (with h5py) and ParaView read them.
"""

from __future__ import annotations

import io
import os
import uuid
import xml.etree.ElementTree as ET
from pathlib import Path

import meshio
import numpy as np

from .siblings import sibling

_grid = sibling("solver.grid")
CELL_DIMS, MESHIO_CELLS, Grid, reference_facets = (
    _grid.CELL_DIMS, _grid.MESHIO_CELLS, _grid.Grid, _grid.reference_facets)

BOUNDARY_NAMES = ("bottom", "top", "symmetry")
_FROM_MESHIO = {name: (basix_type, perm) for basix_type, (name, perm) in MESHIO_CELLS.items()}


def _boundary_names(grid: Grid) -> list[str]:
    return list(BOUNDARY_NAMES) + sorted(set(grid.boundary_faces) - set(BOUNDARY_NAMES))


def write_grid(grid: Grid, path, cell_data: dict | None = None) -> None:
    """Write `grid` (and optional per-cell arrays) to `path`; the format follows the suffix.

    The file appears complete or not at all (written under a temporary name, then renamed).
    XDMF is written with its data inline (XML), so it is one self-contained file.
    """
    path = Path(path)
    group = np.full(grid.n_faces, -1, dtype=np.int32)
    for code, name in enumerate(_boundary_names(grid)):
        group[grid.boundary_faces.get(name, [])] = code
    faces = grid.cell_faces
    data = {
        "boundary": np.where(faces >= 0, group[faces], -1).astype(np.int32),
        "extent": np.full(grid.n_cells, grid.extent),
        "footprint_area": np.full(grid.n_cells, grid.footprint_area),
        "axisymmetric": np.full(grid.n_cells, int(grid.axisymmetric), dtype=np.int32),
    }
    data.update(cell_data or {})
    mesh = grid.to_meshio(data)
    # a fresh name beside the target (same suffix: meshio picks the format from it); the
    # writer creates it, so it gets the usual permissions
    tmp = path.with_name(f".{path.stem}.{uuid.uuid4().hex[:12]}{path.suffix}")
    try:
        if _is_xdmf(path):
            _write_xdmf(tmp, mesh)
        else:
            meshio.write(tmp, mesh)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_grid(path, tag_names: list[str] | None = None,
              boundary_names: list[str] | None = None) -> Grid:
    """Rebuild a Grid from a mesh file, with the "layer" cell data as cell tags.

    Only the cell blocks of the highest topological dimension are kept; the coordinates
    are truncated to that dimension. Without `tag_names` layers are named "layer<i>".
    Boundary groups come from the "boundary" cell data written by `write_grid`, named by
    `boundary_names` (default "bottom", "top", "symmetry", then "boundary<i>").
    """
    mesh = _read_xdmf(path) if _is_xdmf(path) else meshio.read(path)
    blocks = [(i, block) for i, block in enumerate(mesh.cells) if block.type in _FROM_MESHIO]
    if not blocks:
        raise ValueError(f"{path}: no cells of a supported type")
    dim = max(CELL_DIMS[_FROM_MESHIO[b.type][0]] for _, b in blocks)
    blocks = [(i, b) for i, b in blocks if CELL_DIMS[_FROM_MESHIO[b.type][0]] == dim]

    def gather(name):
        if name not in mesh.cell_data:
            return None
        return np.concatenate([np.asarray(mesh.cell_data[name][i]) for i, _ in blocks])

    cell_blocks = [(_FROM_MESHIO[b.type][0], np.asarray(b.data)[:, _FROM_MESHIO[b.type][1]])
                   for _, b in blocks]
    n_cells = sum(len(c) for _, c in cell_blocks)
    tags = gather("layer")
    tags = np.zeros(n_cells, dtype=np.int64) if tags is None else tags.astype(np.int64).reshape(-1)
    if tag_names is None:
        tag_names = [f"layer{i}" for i in range(int(tags.max(initial=0)) + 1)]

    codes = gather("boundary")
    spec = None
    if codes is not None:
        codes = codes.astype(np.int64).reshape(n_cells, -1)
        names = list(boundary_names or BOUNDARY_NAMES)
        names += [f"boundary{i}" for i in range(len(names), int(codes.max(initial=-1)) + 1)]
        spec = {}
        offset = 0
        for cell_type, cells in cell_blocks:
            block_codes = codes[offset:offset + len(cells)]
            offset += len(cells)
            for local, facet in enumerate(reference_facets(cell_type)):
                for code in np.unique(block_codes[:, local]):
                    if code >= 0:
                        verts = cells[block_codes[:, local] == code][:, facet]
                        spec.setdefault(names[code], []).append(verts)

    extent = gather("extent")
    footprint = gather("footprint_area")
    axisymmetric = gather("axisymmetric")
    return Grid(mesh.points[:, :dim], cell_blocks, tags, tag_names, spec,
                extent=1.0 if extent is None else float(extent[0]),
                footprint_area=None if footprint is None else float(footprint[0]),
                axisymmetric=axisymmetric is not None and bool(axisymmetric.reshape(-1)[0]))


# ---------------------------------------------------------------- XDMF (inline XML)
_XDMF_TYPES = {"line": ("Polyline", 2, 2), "triangle": ("Triangle", 4, 3),
               "quad": ("Quadrilateral", 5, 4), "tetra": ("Tetrahedron", 6, 4),
               "wedge": ("Wedge", 8, 6), "hexahedron": ("Hexahedron", 9, 8)}
_XDMF_BY_NAME = {name: meshio_type for meshio_type, (name, _, _) in _XDMF_TYPES.items()}
_XDMF_BY_ID = {code: meshio_type for meshio_type, (_, code, _) in _XDMF_TYPES.items()}


def _is_xdmf(path) -> bool:
    return Path(path).suffix.lower() in (".xdmf", ".xmf")


def _data_item(parent, array: np.ndarray) -> None:
    array = np.asarray(array)
    if array.dtype.kind in "iub":
        array, kind, fmt = array.astype(np.int64), "Int", "%d"
    else:
        array, kind, fmt = array.astype(np.float64), "Float", "%.17g"
    item = ET.SubElement(parent, "DataItem", DataType=kind, Precision="8", Format="XML",
                         Dimensions=" ".join(str(n) for n in array.shape))
    text = io.StringIO()
    np.savetxt(text, array.reshape(len(array), -1), fmt=fmt)
    item.text = "\n" + text.getvalue()


def _write_xdmf(path, mesh: meshio.Mesh) -> None:
    root = ET.Element("Xdmf", Version="3.0")
    grid = ET.SubElement(ET.SubElement(root, "Domain"), "Grid", Name="Grid")
    _data_item(ET.SubElement(grid, "Geometry", GeometryType="XYZ"), mesh.points)
    n_cells = sum(len(block.data) for block in mesh.cells)
    if len(mesh.cells) == 1:
        block = mesh.cells[0]
        name, _, nv = _XDMF_TYPES[block.type]
        topology = ET.SubElement(grid, "Topology", TopologyType=name,
                                 NumberOfElements=str(n_cells), NodesPerElement=str(nv))
        _data_item(topology, block.data)
    else:
        # Mixed: each cell is its type id (and, for lines, its vertex count), then vertices
        records = []
        for block in mesh.cells:
            _, code, nv = _XDMF_TYPES[block.type]
            head = [code, nv] if block.type == "line" else [code]
            records.append(np.hstack([np.tile(head, (len(block.data), 1)), block.data]).ravel())
        topology = ET.SubElement(grid, "Topology", TopologyType="Mixed",
                                 NumberOfElements=str(n_cells))
        _data_item(topology, np.concatenate(records))
    for name, blocks in mesh.cell_data.items():
        values = np.concatenate([np.asarray(b) for b in blocks])
        kind = "Scalar" if values.ndim == 1 else ("Vector" if values.shape[1] == 3 else "Matrix")
        attribute = ET.SubElement(grid, "Attribute", Name=name, AttributeType=kind, Center="Cell")
        _data_item(attribute, values)
    ET.indent(root)
    ET.ElementTree(root).write(path, encoding="utf-8", xml_declaration=True)


class _NotInline(Exception):
    """The XDMF file keeps its data outside (HDF5 or binary)."""


def _read_item(item) -> np.ndarray:
    if item.get("Format", "XML") != "XML":
        raise _NotInline
    kind = item.get("DataType", item.get("NumberType", "Float"))
    dtype = np.int64 if kind in ("Int", "UInt") else np.float64
    shape = [int(n) for n in item.get("Dimensions").split()]
    return np.array((item.text or "").split(), dtype=dtype).reshape(shape)


def _split_mixed(flat: np.ndarray) -> list[tuple[str, np.ndarray]]:
    """Cell blocks of a Mixed topology, one run of same-type cells at a time."""
    blocks = []
    pos = 0
    while pos < len(flat):
        meshio_type = _XDMF_BY_ID[int(flat[pos])]
        nv = _XDMF_TYPES[meshio_type][2]
        head = 2 if meshio_type == "line" else 1
        stride = head + nv
        run = flat[pos:len(flat) - stride + 1:stride]
        n = int(np.argmax(run != flat[pos])) if np.any(run != flat[pos]) else len(run)
        records = flat[pos:pos + n * stride].reshape(n, stride)
        blocks.append((meshio_type, records[:, head:]))
        pos += n * stride
    return blocks


def _read_xdmf(path) -> meshio.Mesh:
    try:
        grid = ET.parse(path).getroot().find("Domain/Grid")
        points = _read_item(grid.find("Geometry/DataItem"))
        topology = grid.find("Topology")
        kind = topology.get("TopologyType", topology.get("Type"))
        flat = _read_item(topology.find("DataItem"))
        cells = _split_mixed(flat.ravel()) if kind == "Mixed" else \
            [(_XDMF_BY_NAME[kind], flat.reshape(int(topology.get("NumberOfElements")), -1))]
        bounds = np.cumsum([0] + [len(c) for _, c in cells])
        cell_data = {}
        for attribute in grid.findall("Attribute"):
            if attribute.get("Center") == "Cell":
                values = _read_item(attribute.find("DataItem"))
                cell_data[attribute.get("Name")] = [values[a:b] for a, b in
                                                    zip(bounds[:-1], bounds[1:])]
    except _NotInline:
        return meshio.read(path)            # heavy data in HDF5: meshio (needs h5py)
    return meshio.Mesh(points, cells, cell_data=cell_data)

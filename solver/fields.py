"""Fields inside the cell as a VTU time series (ParaView .pvd collection), via meshio."""

from pathlib import Path

import numpy as np

from .files import write_atomic


def cell_fields(model, u) -> dict:
    """Cell data of one state: c, x, phi_s, phi_e and the interface current (the layer tag
    is added by Grid.to_meshio).

    Quantities that do not exist in a cell (c in the electrolyte, phi_e in a conductor)
    are NaN, so ParaView leaves them blank.
    """
    n = model.n_cells
    x = np.full(n, np.nan)
    c = np.full(n, np.nan)
    for e in model.intercalation:
        xe = u[model.s_x][model.x_index[e.cells]]
        x[e.cells] = xe
        c[e.cells] = xe * e.max_concentration
    phi = u[model.s_phi]
    phi_s = np.where(model.is_ionic, np.nan, phi)
    phi_e = np.where(model.is_ionic, phi, np.nan)
    # Butler-Volmer current density (A/m^2, anodic > 0) shown on the electrode cell at
    # each interface face, area-weighted where a cell has several such faces
    weights = np.bincount(model.if_cell_e, model.if_area, minlength=n)
    current = np.bincount(model.if_cell_e, u[model.s_i] * model.if_area, minlength=n)
    interface_current = np.where(weights > 0, current / np.where(weights > 0, weights, 1.0),
                                 np.nan)
    return {"c": c, "x": x, "phi_s": phi_s, "phi_e": phi_e,
            "interface_current": interface_current}


def write_vtu_series(out_dir, grid, model, snapshots) -> list[Path]:
    """fields_NNNN.vtu per snapshot and fields.pvd listing them with their times (nothing
    when there is no snapshot: a run stopped before its first)."""
    import meshio

    if not snapshots:
        return []

    out = Path(out_dir)
    written = []
    entries = []
    for k, (t, step, u) in enumerate(snapshots):
        name = f"fields_{k:04d}.vtu"
        mesh = grid.to_meshio(cell_data=cell_fields(model, u))
        tmp = out / f".{name}.tmp.vtu"
        meshio.write(tmp, mesh, binary=True)
        tmp.replace(out / name)
        written.append(out / name)
        entries.append(f'    <DataSet timestep="{float(t)!r}" part="0" file="{name}"/>')
    pvd = ('<?xml version="1.0"?>\n<VTKFile type="Collection" version="0.1">\n  <Collection>\n'
           + "\n".join(entries) + "\n  </Collection>\n</VTKFile>\n")
    written.append(write_atomic(out / "fields.pvd", pvd))
    return written

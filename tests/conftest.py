import copy
import tomllib
from pathlib import Path

import pytest

from solver.case import case_from_dict

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CASE = ROOT / "cases" / "planar_li_lipon_lco.toml"


def shipped_case_dict() -> dict:
    with open(SHIPPED_CASE, "rb") as handle:
        return tomllib.load(handle)


# the shipped cell without its double layers and the LiPON's permittivity: for checks of the
# faradaic model to round-off (the capacitors hold charge that the tabs pass but that moves
# no lithium) and against closed forms that leave them out
def no_capacitances(data: dict) -> dict:
    """A case dict whose electrodes have no double layer and whose electrolytes no
    permittivity (the faradaic model: the closed forms and bookkeeping checks hold for it)."""
    from solver.materials import load_material

    data = copy.deepcopy(data)
    for layer in data["cell"]["layers"]:
        name = layer["material"]
        kind = load_material(name).kind
        key = {"electrolyte": "relative_permittivity", "intercalation":
               "double_layer_capacitance", "lithium_metal": "double_layer_capacitance"}.get(kind)
        if key:
            data.setdefault("materials", {}).setdefault(name, {})[key] = 0
    return data


def planar_case(protocol=None, materials=None, mesh=None, solver=None, cell=None, base_dir=None,
                capacitances=True):
    """The shipped planar case with parts replaced or merged, as a validated Case."""
    data = copy.deepcopy(shipped_case_dict())
    if not capacitances:
        data = no_capacitances(data)
    if protocol is not None:
        data["protocol"] = protocol
    for table, changes in (("materials", materials), ("mesh", mesh), ("solver", solver),
                           ("cell", cell)):
        if changes:
            data.setdefault(table, {})
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(data[table].get(key), dict):
                    data[table][key].update(value)
                else:
                    data[table][key] = value
    return case_from_dict(data, base_dir or SHIPPED_CASE.parent, source="test")


@pytest.fixture
def make_case():
    return planar_case


def perturbed_state(model, rng, spread=0.1):
    """A state away from equilibrium, for Jacobian checks."""
    u = model.initial_state()
    u[model.s_x] += spread * rng.random(model.n_x)
    u[model.s_xs] += spread * rng.random(model.n_xs)
    u[model.s_i] = 0.5 * rng.standard_normal(model.n_if)
    u[model.s_phi] += 1e-3 * rng.standard_normal(model.n_cells)
    u[model.s_c] *= 1.0 + 0.2 * rng.random(model.n_c)
    return u


def assert_jacobian_matches_differences(model, u, coeff, drive, columns=None):
    """Analytic Jacobian columns against central differences of the residual.

    Central differences carry round-off of about eps |R| / h: allowed are 1e-6 of the
    larger of the entry's row and column scales, plus 1e-3 of the entry itself (the drive
    row, in amperes, holds entries of micro-units).
    """
    import numpy as np

    history = -coeff * u[model.differential_columns]
    _, data = model.residual_and_jacobian(u, history, coeff, drive)
    J = model.jacobian_matrix(data).toarray()
    row_scale = np.abs(J).max(axis=1)
    for k in range(model.n_unknowns) if columns is None else columns:
        h = 1e-7 * max(1.0, abs(u[k]))
        up, um = u.copy(), u.copy()
        up[k] += h
        um[k] -= h
        fd = (model.residual_and_jacobian(up, history, coeff, drive, False)[0]
              - model.residual_and_jacobian(um, history, coeff, drive, False)[0]) / (2 * h)
        scale = np.maximum(row_scale, np.maximum(np.abs(fd), np.abs(J[:, k])).max())
        assert np.all(np.abs(J[:, k] - fd) <= 1e-6 * scale + 1e-3 * np.abs(J[:, k])), k


def film_concentration(name="LiCoO2_003") -> float:
    """Li sites per volume of a library electrode film (c_max times its active fraction)."""
    from solver.materials import load_material

    material = load_material(name)
    fraction = material.value("active_fraction") if material.has("active_fraction") else 1.0
    return material.value("max_concentration") * fraction
def zero_depth_trench_twins(trench):
    """A trench case's cell with depth 0, as a 2D grid of its own generator (with the case's
    6 cells per film), and its planar twin (the same layers on a flat wafer, a 1D case)."""
    from meshes.trench import trench_grid

    films, fill, top = trench.stack_roles()
    grid = trench_grid([(f.name, f.thickness) for f in films], (fill.name, fill.thickness),
                       [(t.name, t.thickness) for t in top], width=5e-6, depth=0.0,
                       pitch=10e-6, cells_per_layer=[2, 6, 6, 2], max_cell_size=2e-6)
    data = copy.deepcopy(trench.raw)
    data["cell"]["architecture"] = "planar"
    del data["cell"]["trench"]
    return grid, case_from_dict(data, trench.path.parent if trench.path else ROOT / "cases",
                                "planar twin")


@pytest.fixture(scope="module")
def client():
    """An in-process Dask cluster (threads, two workers) for the runs of one test module:
    starting a LocalCluster of processes takes about 1.5 s (the tests that need processes
    start their own)."""
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=False,
                                  dashboard_address=":0") as cluster:
        with distributed.Client(cluster) as c:
            yield c

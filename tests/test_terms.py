"""Each physics term of the cell model on its own: its Jacobian against differences of its
residual, the mass matrix as the derivative in the BDF coefficient, conservation of charge
and lithium term by term, and parameters changed without rebuilding the model."""

import copy
import tomllib
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from solver.api import build_grid
from solver.case import case_from_dict
from solver.model import CellModel
from solver.model.assembly import Evaluation
from solver.units import FARADAY
from tests.conftest import ROOT, planar_case
from tests.golden.cases import GOLDEN_CASES

STEEP_SIGMA = Path(__file__).resolve().parent / "data" / "steep_sigma.csv"


def _shipped(relative, **tables):
    """A shipped case file with some of its tables replaced."""
    path = ROOT / relative
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    data.update(tables)
    return case_from_dict(data, path.parent, source=str(path))


EXTRA_CASES = {
    "planar_series_resistance": lambda: planar_case(
        cell={"series_resistance": "500 ohm*cm^2"}, mesh={"cells_per_layer": 6}),
    # sigma(x) films: at the top tab (planar) and between collectors (bipolar stack)
    "planar_sigma_table": lambda: planar_case(
        materials={"LiCoO2_003": {"electronic_conductivity": str(STEEP_SIGMA)}},
        mesh={"cells_per_layer": 8}),
    "bipolar_sigma_table": lambda: _shipped(
        "cases/bipolar_3cell_li_lipon_lco.toml", mesh={"cells_per_layer": 4},
        materials={"LiCoO2": {"electronic_conductivity": str(STEEP_SIGMA)}}),
    # ambipolar films: Li entering at the tab (planar) and at each collector (stack)
    "planar_ambipolar": lambda: planar_case(
        materials={"LiCoO2_003": {"electron_ion_diffusivity_ratio": 3.0}},
        mesh={"cells_per_layer": 6}),
    "bipolar_ambipolar": lambda: _shipped(
        "cases/bipolar_3cell_li_lipon_lco.toml", mesh={"cells_per_layer": 4},
        materials={"LiCoO2": {"electron_ion_diffusivity_ratio": 3.0,
                              "electronic_conductivity": str(STEEP_SIGMA)}}),
}
CASES = [name for name in GOLDEN_CASES if name != "trench"] + list(EXTRA_CASES)


def _model(name):
    case = EXTRA_CASES[name]() if name in EXTRA_CASES else GOLDEN_CASES[name]()
    return CellModel(case, build_grid(case))


def _state(model, seed=3):
    rng = np.random.default_rng(seed)
    u = model.initial_state()
    u[model.s_x] += 0.05 * rng.random(model.n_x)
    u[model.s_xs] += 0.05 * rng.random(model.n_xs)
    u[model.s_i] = 3.0 * rng.standard_normal(model.n_if)
    u[model.s_phi] += 1e-3 * rng.standard_normal(model.n_cells)
    u[model.s_c] *= 1.0 + 0.2 * rng.random(model.n_c)
    return u


def term_contributions(model, u, drive):
    """Each term's residual contribution and Jacobian (sparse), evaluated in model order."""
    assembly = model.assembly
    ev = Evaluation(model.layout, u, drive, model.if_area)
    for term in assembly.terms:
        term.prepare(ev)
    out = {}
    for term, block_list in zip(assembly.terms, [t.blocks() for t in assembly.terms]):
        ev.R[:] = 0.0                # terms only add to R: this is the term's own part
        values = term.evaluate(ev)
        n = model.n_unknowns
        rows = [np.asarray(r, dtype=np.int64) for r, _ in block_list]
        cols = [np.asarray(c, dtype=np.int64) for _, c in block_list]
        vals = [np.broadcast_to(np.asarray(v, dtype=float), r.shape) for v, r in zip(values, rows)]
        J = sp.csr_matrix((np.concatenate(vals or [np.zeros(0)]),
                           (np.concatenate(rows or [np.zeros(0, int)]),
                            np.concatenate(cols or [np.zeros(0, int)]))), shape=(n, n))
        out[term.name] = (ev.R.copy(), J)
    return out


@pytest.mark.parametrize("name", CASES)
@pytest.mark.parametrize("drive", [("current", 3e-5), ("voltage", 3.9)])
def test_each_term_jacobian_matches_differences_of_its_residual(name, drive):
    model = _model(name)
    model.assembly.check(_state(model), drive)       # values line up with reserved blocks
    u = _state(model)
    base = term_contributions(model, u, drive)
    h = 1e-7
    columns = {}
    for k in range(model.n_unknowns):
        step = h * max(1.0, abs(u[k]))
        up, um = u.copy(), u.copy()
        up[k] += step
        um[k] -= step
        plus, minus = term_contributions(model, up, drive), term_contributions(model, um, drive)
        columns[k] = {t: (plus[t][0] - minus[t][0]) / (2 * step) for t in base}
    for term, (_, J) in base.items():
        J = J.toarray()
        fd = np.column_stack([columns[k][term] for k in range(model.n_unknowns)])
        scale = np.maximum(np.abs(J).max(axis=1, keepdims=True), np.abs(fd).max(axis=1, keepdims=True))
        assert np.all(np.abs(J - fd) <= 1e-6 * scale + 1e-12), (term, np.max(np.abs(J - fd) / np.maximum(scale, 1e-300)))


@pytest.mark.parametrize("name", list(GOLDEN_CASES) + ["bipolar_sigma_table"])
def test_mass_matrix_is_the_derivative_in_the_bdf_coefficient(name):
    """J(a0) - J(0) = a0 M; on the rows of the dynamic unknowns M is their storage, and the
    capacitances put the rest of M on charge, double-layer and half-cell rows only."""
    model = _model(name)
    u = _state(model)
    history = np.zeros(model.differential_columns.size)
    a0 = 0.37
    J1 = model.jacobian_matrix(model.residual_and_jacobian(u, history, a0, ("current", 1e-5))[1])
    J0 = model.jacobian_matrix(model.residual_and_jacobian(u, history, 0.0, ("current", 1e-5))[1])
    M = model.mass_matrix
    difference = (J1 - J0 - a0 * M).toarray()
    assert np.max(np.abs(difference)) <= 1e-12 * np.max(np.abs(J1.toarray()))
    storage = np.zeros(model.n_unknowns)
    for e in model.intercalation:
        storage[model.s_x.start + model.x_index[e.cells]] = e.max_concentration * e.volume
    for region, params in zip(model.carriers, model.parameters.carrier.values()):
        storage[model.s_c.start + np.arange(region.slice.start, region.slice.stop)] = (
            params.c0 * region.volume)
    dynamic = np.arange(model.s_dynamic.start, model.s_dynamic.stop)
    assert np.allclose(M[dynamic].toarray(), np.diag(storage)[dynamic], rtol=1e-15, atol=0)
    capacitive = np.zeros(model.n_unknowns, dtype=bool)
    for block in ("phi", "i_dl", "v_half"):
        capacitive[model.layout.slice(block)] = True
    rows_with_mass = np.unique(M.tocoo().row[M.tocoo().data != 0.0])
    assert np.all(capacitive[rows_with_mass] | np.isin(rows_with_mass, dynamic))
    assert model.capacitive == bool(np.any(capacitive[rows_with_mass]))


@pytest.mark.parametrize("name", CASES)
def test_every_term_conserves_charge_and_lithium(name):
    """Summed over the cells of a network, each term's charge rows give only what crosses
    the tabs (ohm, electronic_conduction) or nothing (the interface current enters one side
    and leaves the other); summed over an electrode's cells, Fick's rows vanish and the
    surface term's give the reaction flux sum i A / F."""
    model = _model(name)
    u = _state(model)
    parts = term_contributions(model, u, ("current", 3e-5))
    phi_rows = np.setdiff1d(np.arange(model.n_cells), model.tied)
    scale = np.max(np.abs(u[model.s_i] * model.if_area))
    terms = {term.name: term for term in model.assembly.terms}
    for name in ("ohm", "electronic_conduction"):
        through_tabs = terms[name].tab_flux(u)
        assert parts[name][0][phi_rows].sum() == pytest.approx(
            through_tabs, abs=1e-9 * max(scale, abs(through_tabs))), name
    assert abs(parts["butler_volmer"][0][phi_rows].sum()) <= 1e-12 * scale
    if "double_layer" in parts:     # its current leaves one side and enters the other
        i_dl = np.max(np.abs(u[model.s_dl] * model.if_area))
        assert abs(parts["double_layer"][0][phi_rows].sum()) <= 1e-12 * max(i_dl, scale)
    if "nernst_planck" in parts:
        assert abs(parts["nernst_planck"][0][model.s_phi].sum()) <= 1e-9 * scale
    flux = u[model.s_i] * model.if_area / FARADAY
    for e in model.intercalation:
        rows = model.s_x.start + model.x_index[e.cells]
        fick = parts["fick"][0][rows].sum()
        assert abs(fick) <= 1e-12 * np.max(np.abs(parts["fick"][0][rows])) + 1e-30
        assert parts["surface"][0][rows].sum() == pytest.approx(np.sum(flux[e.faces]), rel=1e-12)
        if "ambipolar_insertion" in parts:    # it moves Li inside the film, creates none
            moved = parts["ambipolar_insertion"][0][rows]
            assert np.any(moved != 0.0)
            assert abs(moved.sum()) <= 1e-12 * np.max(np.abs(moved))


def test_changing_parameters_equals_a_fresh_model():
    """update_parameters re-evaluates the material laws on the same pattern: the residual
    and Jacobian equal those of a model built from the changed case."""
    from solver.case import case_from_dict

    case = GOLDEN_CASES["binary"]()
    model = CellModel(case, build_grid(case))
    raw = copy.deepcopy(case.raw)
    raw["materials"]["LiPON"]["conductivity"] = "7e-6 S/cm"
    raw["materials"]["LiPON"]["transference_number"] = 0.3
    raw.setdefault("materials", {}).setdefault("LiCoO2_003", {})["diffusivity"] = "3e-12 cm^2/s"
    raw["materials"].setdefault("Li", {})["exchange_current_density"] = "2 mA/cm^2"
    raw["cell"]["temperature"] = "45 degC"
    changed = case_from_dict(raw, case.path.parent if case.path else ".", source="test")
    fresh = CellModel(changed, build_grid(changed))
    u = _state(model)
    history = np.zeros(model.differential_columns.size)
    before = model.residual_and_jacobian(u, history, 0.1, ("current", 3e-5))[0]
    model.update_parameters(changed)
    R1, J1 = model.residual_and_jacobian(u, history, 0.1, ("current", 3e-5))
    R2, J2 = fresh.residual_and_jacobian(u, history, 0.1, ("current", 3e-5))
    assert not np.allclose(before, R2)
    assert np.array_equal(model.pattern.indices, fresh.pattern.indices)
    assert np.allclose(R1, R2, rtol=1e-14, atol=1e-14 * np.max(np.abs(R2)))
    assert np.allclose(J1, J2, rtol=1e-14, atol=1e-14 * np.max(np.abs(J2)))

"""The cells and states whose residuals, Jacobians and time series are pinned as golden data:
planar, bipolar, anode-free, binary and dissociation electrolytes, Si anode, trench."""

import copy
import tomllib
from pathlib import Path

import numpy as np

from solver.case import case_from_dict

ROOT = Path(__file__).resolve().parents[2]
SHORT = [{"mode": "discharge", "c_rate": 2, "until_time": "600 s"},
         {"mode": "rest", "until_time": "60 s"},
         {"mode": "charge", "c_rate": 1, "until_time": "300 s"}]


def _load(relative, mesh=None, materials=None, short=False, protocol=None):
    path = ROOT / relative
    with open(path, "rb") as handle:
        data = tomllib.load(handle)
    data = copy.deepcopy(data)
    data["mesh"] = {**data.get("mesh", {}), **(mesh or {})}
    for name, changes in (materials or {}).items():
        data.setdefault("materials", {}).setdefault(name, {}).update(changes)
    if short:
        data["protocol"] = protocol or SHORT
    return case_from_dict(data, path.parent, source=str(path))


GOLDEN_CASES = {
    "planar": lambda short=False: _load("cases/planar_li_lipon_lco.toml",
                                        {"cells_per_layer": 12}, short=short),
    "si_anode": lambda short=False: _load("cases/planar_si_lipon_lco.toml",
                                          {"cells_per_layer": 8}, short=short),
    "bipolar": lambda short=False: _load("cases/bipolar_3cell_li_lipon_lco.toml",
                                         {"cells_per_layer": 8}, short=short),
    "anode_free": lambda short=False: _load(
        "cases/anode_free_cu_lipon_lco.toml", {"cells_per_layer": 8}, short=short,
        protocol=[{"mode": "charge", "c_rate": 2, "until_time": "600 s"},
                  {"mode": "discharge", "c_rate": 2, "until_time": "300 s"}]),
    "binary": lambda short=False: _load(
        "cases/planar_li_lipon_lco.toml", {"cells_per_layer": 10},
        {"LiPON": {"model": "binary", "transference_number": 0.5,
                   "carrier_concentration": "1000 mol/m^3"}}, short=short),
    "dissociation": lambda short=False: _load("validation/danilov2011/cell_dissociation.toml",
                                              {"cells_per_layer": 8}, short=short),
    "trench": lambda short=False: _load("cases/trench_si_lipon_lco.toml",
                                        {"cells_per_layer": 2, "max_cell_size": "1 um"},
                                        short=short),
}


def golden_states(model):
    """(u, history, a0, drive) at which the model is evaluated: the initial state and two
    perturbed states, under a current and a voltage drive, at a0 = 0 and a0 = 1/(10 s)."""
    rng = np.random.default_rng(20261204)
    states = {"initial": model.initial_state()}
    for k in range(2):
        u = model.initial_state()
        u[model.s_x] += 0.05 * rng.random(model.n_x)
        u[model.s_xs] += 0.05 * rng.random(model.n_xs)
        u[model.s_i] = 2.0 * rng.standard_normal(model.n_if)
        u[model.s_phi] += 1e-3 * rng.standard_normal(model.n_cells)
        u[model.s_c] *= 1.0 + 0.2 * rng.random(model.n_c)
        states[f"perturbed{k}"] = u
    out = {}
    for label, u in states.items():
        dynamic = u[model.differential_columns]
        history = -dynamic * (1.0 + 0.01 * rng.standard_normal(dynamic.size)) / 10.0
        out[f"{label}/a0/current"] = (u, history, 0.1, ("current", 3e-5))
        out[f"{label}/zero/voltage"] = (u, history, 0.0, ("voltage", 3.9))
    return out

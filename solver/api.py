"""The Python entry points: build the grid for a case and run its protocol."""

import time

from .errors import InputError, SolverError
from .results import Result, step_summaries
from .simulate import Simulation


# Metal layers (lithium, collectors) are equipotential to a nanovolt at any current a thin
# film passes: resolving them would only add unknowns and round-off.
METAL_LAYER_CELLS = 2


def cells_per_layer(case):
    """`mesh.cells_per_layer` through electrodes and electrolytes, a few cells in metals."""
    metal = ("lithium_metal", "collector")
    return [METAL_LAYER_CELLS if layer.material.kind in metal else case.mesh.cells_per_layer
            for layer in case.layers]


def build_grid(case):
    """The grid of a case's architecture."""
    from meshes.planar import planar_grid

    if case.architecture != "planar":
        raise InputError("cell.architecture", case.architecture,
                         "planar (the trench and micropillar grids are not wired in yet)")
    layers = [(layer.name, layer.thickness) for layer in case.layers]
    return planar_grid(layers, cells_per_layer(case), case.footprint_area,
                       dim=1, grading=case.mesh.grading)


def run(case, grid=None, progress=None) -> Result:
    """Run a validated case; returns a Result whose summary equals summary.json.

    A solver failure does not raise: the result keeps what was computed, and the failed
    step's end_reason is "solver_failed" (see Result.failed and summary["message"]).
    """
    started = time.perf_counter()
    grid = grid if grid is not None else build_grid(case)
    sim = Simulation(case, grid, progress=progress)
    sim.run()
    summary = {
        "case": case.name,
        "architecture": case.architecture,
        "footprint_area_cm2": case.footprint_area * 1e4,
        "aef": 1.0,
        "n_cells": int(grid.n_cells),
        "n_unknowns": int(sim.model.n_unknowns),
        "wall_time_s": time.perf_counter() - started,
        "temperature_K": case.temperature,
        "nominal_capacity_uAh": sim.nominal_capacity / 3.6e-3,
        "theoretical_capacity_uAh": {k: v / 3.6e-3 for k, v in sim.capacities.items()},
        "steps": step_summaries(sim.steps),
    }
    if sim.failure:
        summary["message"] = sim.failure
    return Result(summary, sim.rows, snapshots=sim.snapshots, grid=grid, model=sim.model,
                  fields=sim.fields)


__all__ = ["run", "build_grid", "SolverError"]

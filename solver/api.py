"""The Python entry points: build the grid for a case and run its protocol."""

import time

import numpy as np

from .errors import InputError, SolverError
from .geometry import geometry_summary
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
    """The grid of a case's architecture: the 1D stack, a trench period (2D, or 3D
    extruded), a micropillar or microhole unit (3D, or 2D axisymmetric)."""
    if case.architecture in ("planar", "bipolar"):
        from meshes.planar import planar_grid

        layers = [(layer.name, layer.thickness) for layer in case.layers]
        return planar_grid(layers, cells_per_layer(case), case.footprint_area,
                           dim=1, grading=case.mesh.grading)
    films, fill, top = case.stack_roles()
    cells = dict(zip((layer.name for layer in case.layers), cells_per_layer(case)))
    stack = {"films": [(layer.name, layer.thickness) for layer in films],
             "fill": (fill.name, fill.thickness),
             "top": [(layer.name, layer.thickness) for layer in top],
             "cells_per_layer": [cells[layer.name] for layer in films + top],
             "max_cell_size": case.mesh.max_cell_size, "grading": case.mesh.grading}
    if case.architecture == "trench":
        from meshes.trench import trench_grid

        t = case.trench
        extrude = None
        if t.dimension == 3:
            extrude = (t.length, max(2, int(np.ceil(t.length / case.mesh.max_cell_size))))
        return trench_grid(width=t.width, depth=t.depth, pitch=t.pitch, extrude=extrude,
                           **stack)
    if case.architecture == "micropillar":
        p = case.micropillar
        if p.axisymmetric:
            from meshes.conformal import axisymmetric_grid

            return axisymmetric_grid(diameter=p.diameter, height=p.height,
                                     radius=p.equivalent_radius, holes=p.holes, **stack)
        from meshes.micropillar import micropillar_grid

        stack["cells_per_layer"] = [cells[layer.name] for layer in films + [fill] + top]
        return micropillar_grid(diameter=p.diameter, height=p.height, pitch=p.pitch,
                                lattice=p.lattice, holes=p.holes, **stack)
    raise InputError("cell.architecture", case.architecture,
                     "planar, bipolar, trench or micropillar")


def run(case, grid=None, progress=None) -> Result:
    """Run a validated case; returns a Result whose summary equals summary.json.

    A solver failure does not raise: the result keeps what was computed, and the failed
    step's end_reason is "solver_failed" (see Result.failed and summary["message"]).
    """
    started = time.perf_counter()
    grid = grid if grid is not None else build_grid(case)
    sim = Simulation(case, grid, progress=progress)
    sim.run()
    geometry = geometry_summary(grid, case.footprint_area)
    summary = {
        "case": case.name,
        "architecture": case.architecture,
        "footprint_area_cm2": case.footprint_area * 1e4,
        "aef": geometry["aef"],
        "n_cells": int(grid.n_cells),
        "n_unknowns": int(sim.model.n_unknowns),
        "wall_time_s": time.perf_counter() - started,
        "temperature_K": case.temperature,
        "nominal_capacity_uAh": sim.nominal_capacity / 3.6e-3,
        "theoretical_capacity_uAh": {k: v / 3.6e-3 for k, v in sim.capacities.items()},
        "substrate_area_cm2": geometry["substrate_area_cm2"],
        "interface_area_cm2": geometry["interface_area_cm2"],
        "steps": step_summaries(sim.steps),
    }
    if sim.failure:
        summary["message"] = sim.failure
    return Result(summary, sim.rows, snapshots=sim.snapshots, grid=grid, model=sim.model,
                  fields=sim.fields, spectra=sim.spectra, impedance_fields=sim.impedance_fields)


__all__ = ["run", "build_grid", "SolverError"]

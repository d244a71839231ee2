"""The Python entry points: build the grid for a case and run its protocol."""

import time

import numpy as np

from . import guards
from .case.entries import as_written
from .cycles import cycle_summaries
from .errors import InputError, RunInterrupted, SolverError
from .geometry import geometry_summary
from .resolution import refine_until_resolved, under_resolved, unresolved_warning
from .results import Result, net_charge, step_summaries, time_integral
from .siblings import sibling
from .simulate import (Simulation, StepRecord, mean_voltage, place_in_run,
                       step_direction)


# Metal layers (lithium, collectors) are equipotential to a nanovolt at any current a thin
# film passes: resolving them would only add unknowns and round-off.
METAL_LAYER_CELLS = 2


def cells_per_layer(case):
    """`mesh.cells_per_layer` through electrodes and electrolytes, a few cells in metals."""
    metal = ("lithium_metal", "collector")
    return [METAL_LAYER_CELLS if layer.material.kind in metal else case.mesh.cells_per_layer
            for layer in case.layers]


def build_grid(case, cells=None, grading=None):
    """The grid of a case's architecture: the 1D stack, a trench period (2D, or 3D
    extruded), a micropillar or microhole unit (3D, or 2D axisymmetric). `cells` (one per
    layer) and `grading` replace the case's mesh settings (refinement). A size the mesh
    generators refuse is named with its value as the case file wrote it."""
    try:
        return _architecture_grid(case, cells, grading)
    except InputError as exc:
        raise as_written(exc, case.raw or {}) from None


def _architecture_grid(case, cells, grading):
    cells = cells_per_layer(case) if cells is None else cells
    grading = case.mesh.grading if grading is None else grading
    if case.architecture in ("planar", "bipolar"):
        planar_grid = sibling("meshes.planar").planar_grid
        layers = [(layer.name, layer.thickness) for layer in case.layers]
        return planar_grid(layers, cells, case.footprint_area, dim=1, grading=grading)
    films, fill, top = case.stack_roles()
    cells = dict(zip((layer.name for layer in case.layers), cells))
    stack = {"films": [(layer.name, layer.thickness) for layer in films],
             "fill": (fill.name, fill.thickness),
             "top": [(layer.name, layer.thickness) for layer in top],
             "cells_per_layer": [cells[layer.name] for layer in films + top],
             "max_cell_size": case.mesh.max_cell_size, "grading": grading,
             "coverage": [layer.coverage for layer in films]}
    if case.architecture == "trench":
        trench_grid = sibling("meshes.trench").trench_grid
        t = case.trench
        extrude = None
        if t.dimension == 3:
            extrude = (t.length, max(2, int(np.ceil(t.length / case.mesh.max_cell_size))))
        return trench_grid(width=t.width, depth=t.depth, pitch=t.pitch, extrude=extrude,
                           **stack)
    if case.architecture == "micropillar":
        p = case.micropillar
        if p.axisymmetric:
            axisymmetric_grid = sibling("meshes.conformal").axisymmetric_grid
            return axisymmetric_grid(diameter=p.diameter, height=p.height,
                                     radius=p.equivalent_radius, holes=p.holes, **stack)
        micropillar_grid = sibling("meshes.micropillar").micropillar_grid
        stack["cells_per_layer"] = [cells[layer.name] for layer in films + [fill] + top]
        return micropillar_grid(diameter=p.diameter, height=p.height, pitch=p.pitch,
                                lattice=p.lattice, holes=p.holes, **stack)
    raise InputError("cell.architecture", case.architecture,
                     "planar, bipolar, trench or micropillar")


def run(case, grid=None, progress=None, time_limit=None) -> Result:
    """Run a validated case; returns a Result whose summary equals summary.json.

    A solver failure does not raise: the result keeps what was computed, and the failed
    step's end_reason is "solver_failed" (see Result.failed and summary["message"]); a
    failure to find the initial state fails step 0.

    An interruption (KeyboardInterrupt, or `solver.errors.RunInterrupted` raised by a
    signal handler) or a run longer than `time_limit` seconds of wall time raises
    RunInterrupted whose `result` holds what was computed up to then (the step that was
    running ends "interrupted"), or None when no state was computed yet.
    """
    started = time.perf_counter()
    report, warnings = None, []
    progress = _with_time_limit(progress, time_limit, started)
    mesh_given = grid is not None
    simulations = []              # every Simulation started, the running one last

    def simulate(on_grid):
        sim = Simulation(case, on_grid, progress=progress)
        simulations.append(sim)
        return _run_simulation(case, sim)

    try:
        grid = grid if mesh_given else build_grid(case)
        sim = simulate(grid)
        # a film whose surface the mesh does not resolve: refine it and run again
        fixed = ("the grid was given" if mesh_given else
                 None if case.mesh.refine else "mesh.refine = false")
        sim, report, warnings = refine_until_resolved(
            case, sim, cells_per_layer(case), case.mesh.grading,
            lambda cells, grading: build_grid(case, cells, grading), simulate, fixed)
        grid = sim.grid
    except KeyboardInterrupt as exc:
        reason = exc.reason if isinstance(exc, RunInterrupted) else "interrupted (SIGINT)"
        result, where = None, ""
        if len(simulations) > 1:
            result, where = _before_interrupted_refinement(simulations, reason, started)
        elif simulations:
            sim = simulations[-1]
            where = _close_interrupted_step(sim, reason)
            sim.failure = RunInterrupted(reason, where=where).message
            result = simulation_result(sim, started, report, warnings)
        raise RunInterrupted(reason, result, where) from None
    return simulation_result(sim, started, report, warnings)


def _before_interrupted_refinement(simulations, reason, started):
    """(result, where) of a run interrupted while it ran the case again on a refined grid:
    the run before, which finished the protocol, is the result (the rerun's few steps on a
    grid the case did not ask for would replace it), saying where the rerun stopped and
    that its films' surfaces may be under-resolved."""
    rerun, finished = simulations[-1], simulations[-2]
    where = (f"{_close_interrupted_step(rerun, reason)} of the rerun on a refined grid of "
             f"{rerun.grid.n_cells} cells")
    finished.failure = (f"{RunInterrupted(reason, where=where).message}: the results are "
                        f"those of the finished run before it, on {finished.grid.n_cells} cells")
    gaps = under_resolved(finished.steps)
    warnings = [unresolved_warning(gaps, "its refinement was interrupted")] if gaps else []
    return simulation_result(finished, started, finished.refined, warnings), where


def _run_simulation(case, sim):
    """Run a Simulation; a failure to find the initial state fails step 0 (nothing of it
    ran)."""
    try:
        sim.run()
    except SolverError as exc:
        sim.failure = str(exc)
        sim.steps.append(StepRecord(mode=case.protocol[0].mode, key=case.protocol[0].key,
                                    end_reason="solver_failed", message=str(exc),
                                    cycle=case.protocol[0].cycle))
    return sim


def _with_time_limit(progress, time_limit, started):
    """The progress callback, raising RunInterrupted once `time_limit` seconds have passed
    (Simulation calls it after every accepted time step)."""
    if time_limit is None:
        return progress

    def check(*args):
        if time.perf_counter() - started > time_limit:
            raise RunInterrupted(f"time limit of {time_limit:g} s reached")
        if progress is not None:
            progress(*args)
    return check


def _close_interrupted_step(sim, reason) -> str:
    """End the step that was running when the run was interrupted, from its rows so far;
    returns where it stopped (its step and simulated time; "" before any step)."""
    if not sim.steps:
        return ""
    record, k = sim.steps[-1], len(sim.steps) - 1
    latest = sim.latest
    where = place_in_run(k, record.mode, record.key,
                         latest["time_s"] if latest else getattr(sim, "step_start", 0.0))
    if record.end_reason:
        return where
    rows = [row for row in sim.rows if row["step"] == k]
    record.end_reason = "interrupted"
    record.message = RunInterrupted(reason, where=where).message
    if rows:
        first, last = rows[0], rows[-1]
        record.duration_s = last["time_s"] - first["time_s"]
        record.capacity_mAh_cm2 = last["capacity_mAh_cm2"]
        record.energy_mWh_cm2 = last["energy_mWh_cm2"]
        times = [r["time_s"] for r in rows]
        record.direction = step_direction(record.direction, net_charge(
            [r["current_A"] for r in rows], times))
        record.mean_voltage_V = mean_voltage(
            record.direction, last["capacity_mAh_cm2"], last["energy_mWh_cm2"],
            time_integral([r["voltage_V"] for r in rows], times), record.duration_s,
            last["voltage_V"])
    return where


def simulation_result(sim, started, report=None, warnings=()) -> Result:
    """The Result of a Simulation that has run (`started`: its perf_counter start; `report`
    and `warnings`: of the refinement of its films)."""
    case, grid = sim.case, sim.grid
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
    cycles = cycle_summaries(sim.steps)
    if cycles:
        summary["cycles"] = cycles
    if getattr(sim, "failure", None):
        summary["message"] = sim.failure
    if report is not None:
        summary["refined"] = report
    warnings = (list(warnings) + guards.constant_in_temperature(case)
                + guards.reduced_electrolytes(sim.model, sim.rows)
                + guards.impedance_fields_not_written(case, grid)
                + guards.unresolved_impedance(sim.spectra, sim.steps)
                + guards.impedance_fields_outside_spectra(sim.spectra, sim.impedance_fields,
                                                          sim.steps))
    if warnings:
        summary["warnings"] = warnings
    return Result(summary, sim.rows, snapshots=sim.snapshots, grid=grid, model=sim.model,
                  fields=sim.fields, spectra=sim.spectra, impedance_fields=sim.impedance_fields)


__all__ = ["run", "build_grid", "SolverError"]

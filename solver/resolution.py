"""Is the diffusion layer at each film's surface resolved? Refine the mesh until it is.

During a step a film's surface moves ahead of its interior over the diffusion length
sqrt(D t). When that length is below the cells next to the interface, the surface
stoichiometry (an unknown of its own on each interface face) runs away from its cell's in
one half cell, and the step reaches its voltage cutoff or electrode limit far too early:
a 20 um LiCoO2 film with D = 1e-16 m^2/s at 1C on 40 cells per layer "delivers" nothing,
where the converged answer is 2.1 uAh/cm^2 over 12 s.

The a-posteriori indicator, per electrode and step (`Simulation` records it as
`StepRecord.surface_gap`, guards.surface_gaps): the largest change of stoichiometry over
half a cell at the end of the step (a face's surface to its interface cell's centre, or
half the difference of neighbouring cells), over the largest change of the surface in the
step. For a semi-infinite film under constant flux on equal cells h it is the surface's
gap, sqrt(pi) h / (4 sqrt(D t)). The gap at the surface alone is not enough: a mesh graded
towards the faces shrinks it with its first cell, while the wider cells further in, which
the diffusion layer still crosses, keep the error (500 nm of Si at 10C on 24 cells is 2 %
low at grading 0.5 and 0.95 alike, with surface gaps of 0.13 and 0.03). Measured on planar
Si and LiCoO2 films (200 nm to 20 um, 1C to 30C, 16 to 48 cells, grading 0 to 0.95) the
capacity error is 0.6 to 2.2 times the indicator's square. A step is resolved below
RESOLVED_GAP (about 1 % in capacity); otherwise the film's cells are refined (more cells
in that layer, and in 2D a stronger grading towards the interfaces) and the case is run
again, until it is resolved or refinement would exceed REFINE_LIMITS (3D grids are not
refined), in which case the result carries a warning.
"""

from __future__ import annotations

import numpy as np

from .siblings import sibling

layer_nodes = sibling("meshes.planar").layer_nodes

# A step is resolved when its surface gap is at most this: capacity error at most about
# 2 gap^2 ~ 1 %.
RESOLVED_GAP = 0.07
# Refinement aims at this gap (the error then ~0.25 %, so the last change of capacity
# measures the error of the run before).
TARGET_GAP = 0.035
# A refined run is converged when, besides being resolved, its step capacities changed by
# less than this in the last refinement; else the refined layers' first cells are halved
# once more.
CHANGE_TOL = 0.01
# Steps whose end the surface stoichiometry decides; until_time ends at its time whatever
# the mesh (the capacity is the current times the time).
STATE_ENDS = ("until_voltage", "until_current", "electrode_full", "electrode_empty")
# In 2D, refinement first grades the cells more strongly towards the interfaces (free: the
# same number of cells), up to this grading; then adds cells.
STRONGEST_GRADING = 0.9
MAX_ROUNDS = 4
# Steps that deliver less than this fraction of the run's largest step are left out of the
# checks above: an instantly ended step's surface gap and capacity are meaningless. When
# no step delivered anything they stay in: a film's surface emptied at once by a current
# its coarse interface cell could not pass (500 nm of Si at 30C on 16 equal cells, 6.6
# uAh/cm2 converged) is the mesh's doing.
NEGLIGIBLE = 1e-3
# Largest refined grid (cells) by dimension: 1D stacks are cheap; a 2D trench period of
# 1e5 cells takes a minute or so per discharge; 3D grids are not refined.
REFINE_LIMITS = {1: 200_000, 2: 100_000, 3: 0}


def under_resolved(steps) -> dict[str, float]:
    """Electrode name -> its worst surface gap above RESOLVED_GAP, over the steps whose end
    the surface decides."""
    worst: dict[str, float] = {}
    floor = NEGLIGIBLE * _largest_capacity(steps)
    for record in steps:
        if record.end_reason not in STATE_ENDS or abs(record.capacity_mAh_cm2) < floor:
            continue
        for name, gap in record.surface_gap.items():
            if gap > RESOLVED_GAP:
                worst[name] = max(gap, worst.get(name, 0.0))
    return worst


def interface_cell_fraction(cells: int, grading: float) -> float:
    """Size of a layer's first cell as a fraction of the layer (meshes.planar.layer_nodes,
    which the structured generators use through the films too)."""
    return float(layer_nodes([1.0], [cells], grading)[1])


def layers_to_refine(case, layer: int) -> list[int]:
    """The layers whose cells set an electrode's cells next to its interface: its own, except
    in a trench or pillar cell. There the fill starts with the last film's last cell; and a
    film's cells along its surface next to a concave corner (the trench or pillar foot) are
    the cells through the films above it, which the block-structured grid carries round the
    corner: refining the film alone leaves the corner's gap as it was (a 100 nm Si film
    under 1 um of LiPON at 5C: 0.09, 0.08, 0.08, 0.08 in four refinements up to 30 Si
    cells, where 12 LiPON cells take it to 0.016)."""
    if case.architecture not in ("trench", "micropillar"):
        return [layer]
    films, fill, _ = case.stack_roles()
    names = [l.name for l in case.layers]
    film_layers = [names.index(film.name) for film in films]
    if case.layers[layer].name == fill.name:
        return film_layers[-1:] or [layer]
    return [layer] + [k for k in film_layers if k > layer]


def refined_mesh(cells: list[int], grading: float, layers: dict[int, float], dim: int):
    """(cells, grading) that shrink the first cell of each layer in `layers` (index ->
    surface gap) by gap / TARGET_GAP: in 2D the grading first, then cells (where the
    gap lies in the wider cells inside, the next round's indicator finds it)."""
    new_grading = max(grading, STRONGEST_GRADING) if dim == 2 else grading
    new_cells = list(cells)
    for index, gap in layers.items():
        target = interface_cell_fraction(cells[index], grading) * TARGET_GAP / gap
        n = cells[index]
        while interface_cell_fraction(n, new_grading) > target:
            n = int(np.ceil(n * 1.25))
        new_cells[index] = n
    return new_cells, new_grading


def capacity_change(before, after) -> float:
    """Largest relative change of a step's capacity between two runs of the protocol
    (steps matched by position; a step that delivered next to nothing on both, against the
    largest step, counts against that: a rest's or an instantly ended step's capacity is
    round-off, whose relative change means nothing)."""
    change = 0.0
    floor = NEGLIGIBLE * max(_largest_capacity(before), _largest_capacity(after))
    for a, b in zip(before, after):
        scale = max(abs(a.capacity_mAh_cm2), abs(b.capacity_mAh_cm2), floor)
        if scale > 0:
            change = max(change, abs(b.capacity_mAh_cm2 - a.capacity_mAh_cm2) / scale)
    return change


def _largest_capacity(steps) -> float:
    return max((abs(record.capacity_mAh_cm2) for record in steps), default=0.0)


def refine_until_resolved(case, sim, cells, grading, build, simulate, fixed=None):
    """Run again on refined meshes while a film's surface is under-resolved.

    sim: the run on the case's own mesh (cells per layer `cells`, `grading`); build(cells,
    grading) -> grid and simulate(grid) -> a finished Simulation; fixed: why the mesh may
    not be refined (None: it may). Returns the last Simulation, a record of what was done
    for summary["refined"] (None if nothing) and warnings for the terminal and
    summary["warnings"].
    """
    gaps = under_resolved(sim.steps)
    if not gaps or sim.failure:
        return sim, None, []
    dim = sim.grid.dim
    limit = 0 if fixed else REFINE_LIMITS.get(dim, 0)
    n_cells = [sim.grid.n_cells]
    refined_layers = set()
    change = None
    stopped = f"{MAX_ROUNDS} refinements did not resolve it"
    for _ in range(MAX_ROUNDS):
        layers = {}
        for name, gap in gaps.items():
            electrode = next(e for e in sim.model.electrodes if e.name == name)
            for index in layers_to_refine(case, electrode.layer):
                layers[index] = max(gap, layers.get(index, 0.0))
        if not layers:
            if change is None or change <= CHANGE_TOL:
                break
            # resolved, but the capacity moved: halve the refined layers' first cells again
            layers = dict.fromkeys(refined_layers, 2 * TARGET_GAP)
        new_cells, new_grading = refined_mesh(cells, grading, layers, dim)
        # the cells through the layers are a lower bound of the grid's
        grid = build(new_cells, new_grading) if sum(new_cells) <= limit else None
        if grid is None or grid.n_cells > limit:
            stopped = (fixed or "3D grids are not refined" if limit == 0 else
                       f"a grid fine enough would exceed {limit} cells")
            break
        refined = simulate(grid)
        change = capacity_change(sim.steps, refined.steps)
        sim, cells, grading = refined, new_cells, new_grading
        n_cells.append(grid.n_cells)
        refined_layers |= set(layers)
        # kept with the run: a stop in the next rerun returns this one (solver.api)
        sim.refined = {"cells_per_layer": {case.layers[k].name: cells[k]
                                           for k in sorted(refined_layers)},
                       "grading": grading, "n_cells": list(n_cells),
                       "capacity_change": float(change)}
        gaps = under_resolved(sim.steps)
    report, warnings = sim.refined, []
    if report is not None:
        converged = not gaps and change <= CHANGE_TOL
        warnings.append(
            f"the films' surfaces were under-resolved on the case's mesh: refined to "
            f"{n_cells[-1]} cells (cells_per_layer "
            f"{', '.join(f'{k} = {n}' for k, n in report['cells_per_layer'].items())}, "
            f"grading {grading:g}); the step capacities changed by {change:.2%} in the last "
            f"refinement{' (converged)' if converged else ''}")
        if not gaps and not converged:
            warnings.append(f"NOT CONVERGED: the step capacities still changed by {change:.1%} "
                            f"in the last refinement, and {stopped}; raise "
                            f"mesh.cells_per_layer")
    if gaps:
        warnings.append(unresolved_warning(gaps, stopped))
    return sim, report, warnings


def unresolved_warning(gaps: dict[str, float], stopped: str) -> str:
    """The warning of a result whose films' surfaces are under-resolved (gaps: electrode
    -> surface gap, from under_resolved); stopped: why it was not refined further."""
    worst = max(gaps, key=gaps.get)
    return (f"UNDER-RESOLVED: the diffusion layer at the surface of {worst} is thinner than "
            f"its interface cells (surface gap {gaps[worst]:.2f}; resolved below "
            f"{RESOLVED_GAP:g}): capacities may be low by about {min(gaps[worst] ** 2, 1):.0%} "
            f"or more, and {stopped}; raise mesh.cells_per_layer (and mesh.grading)")

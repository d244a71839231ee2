"""Step coverage: films thinner down the walls of a structured substrate than on top.

Sputtered and evaporated films reach the walls and floors of trenches, holes and the gaps
between pillars through a narrowed opening, so they grow thinner there than on the top
surfaces; ALD films grow the same everywhere (conformal). Each film carries its thickness on
the top surfaces (mesa tops, pillar tops, the surface around holes: what a flat witness
sample would measure) and three ratios to it (`StepCoverage`):

- wall_top: on the wall just below the convex edge;
- wall_foot: on the wall at its foot; linear in height between the two;
- bottom: on the floor (trench floor, floor between pillars, hole bottom).

Around the convex edge the film thickness along the direction at angle theta from the wall
normal (0) to the top normal (pi/2) blends geometrically from wall_top to 1,
f(theta) = wall_top ** (1 - 2 theta / pi): the film surface turns by the same angle to the
radial direction everywhere in the fan, the least it can (atan(2 ln(1 / wall_top) / pi),
24 degrees for wall_top = 0.5; 0 when conformal). In the concave corner each film keeps its
wall thickness up to the floor film's top and its floor thickness beside the wall's
(L-shaped film faces meeting at (wall thickness, floor thickness) from the corner).

The generators build the conformal grid's offsets s (through the films, graded toward every
film face) and move each node by `FilmProfile.shift`: the sum over the films below it of
(ratio - 1) x (its thickness below the node). Past the films (the fill next to them) the
shift of the films' outer face fades linearly to zero at a given distance, so the fill
takes the space the films leave and the grid away from the films is unchanged. With every
ratio 1 the shift is exactly zero and the grids are the conformal ones bit for bit.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

import numpy as np


class StepCoverage(NamedTuple):
    """Film thickness on the wall (top and foot of the wall) and on the floor, as fractions
    of its thickness on the top surfaces; all 1 for a conformal film."""
    wall_top: float = 1.0
    wall_foot: float = 1.0
    bottom: float = 1.0


CONFORMAL = StepCoverage()


def film_coverages(coverage, n_films: int) -> list[StepCoverage]:
    """One StepCoverage per film: None (all conformal) or a sequence of StepCoverage or
    (wall_top, wall_foot, bottom) tuples, each ratio in (0, 1]."""
    if coverage is None:
        return [CONFORMAL] * n_films
    items = [StepCoverage(*item) for item in coverage]
    if len(items) != n_films:
        raise ValueError(f"coverage has {len(items)} entries for {n_films} films")
    ratios = np.array(items, dtype=float)
    if ratios.size and not np.all((ratios > 0) & (ratios <= 1)):
        raise ValueError(f"step-coverage ratios must lie in (0, 1], got {items}")
    return items


class FilmProfile:
    """Thickness ratios of the films along a stepped substrate whose wall is `height` tall.

    thicknesses : the films' thicknesses on top (m); coverage : one StepCoverage per film.
    """

    def __init__(self, thicknesses: Sequence[float], coverage: Sequence[StepCoverage],
                 height: float):
        self.thicknesses = np.asarray(thicknesses, dtype=float)
        self.ratios = np.array(coverage, dtype=float).reshape(-1, 3)
        self.height = float(height)
        self.edges = np.concatenate([[0.0], np.cumsum(self.thicknesses)])

    def wall(self, y) -> np.ndarray:
        """(len(y), n_films) ratios on the wall at heights y above its foot."""
        u = np.clip(np.asarray(y, dtype=float) / self.height, 0.0, 1.0)[:, None]
        return self.ratios[:, 1] + (self.ratios[:, 0] - self.ratios[:, 1]) * u

    def fan(self, theta) -> np.ndarray:
        """(len(theta), n_films) ratios around the convex edge, theta from the wall normal
        (0) to the top normal (pi/2)."""
        exponent = 1.0 - np.asarray(theta, dtype=float)[:, None] / (0.5 * np.pi)
        return self.ratios[:, 0] ** exponent

    def floor(self) -> np.ndarray:
        """(n_films,) ratios on the floor."""
        return self.ratios[:, 2]

    def shift(self, s, ratios, outer: float | None = None) -> np.ndarray:
        """Displacement of the conformal offsets s (from the substrate, m) under the film
        ratios (..., n_films): sum_j (ratio_j - 1) x (film j's thickness below s). Offsets
        past the films take the shift of their outer face, fading linearly to zero at
        `outer` (and staying zero beyond it). Shape ratios.shape[:-1] + s.shape."""
        s = np.asarray(s, dtype=float)
        below = np.clip(s[:, None] - self.edges[None, :-1], 0.0, self.thicknesses[None, :])
        total = self.edges[-1]
        if outer is not None:
            fade = np.clip((outer - s) / (outer - total), 0.0, 1.0)
            below = below * np.where(s > total, fade, 1.0)[:, None]
        return (np.asarray(ratios, dtype=float) - 1.0) @ below.T

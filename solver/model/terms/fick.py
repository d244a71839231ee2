"""Fick's law in intercalation electrodes (mass rows, one per electrode cell, in mol/s):

    c_max V dx/dt + sum over faces of c_max (F Phi(x))_f = 0,   Phi(x) = integral of D dx

with F the corrected two-point flux stencil of the electrode (Topology.region_stencil).
Written in the Kirchhoff transform Phi, the flux D(x) grad x = grad Phi(x) is linear in Phi
and exact for a steady flux between two cells whatever D(x) does between them; with D at
the faces' mean stoichiometry instead, a D that falls steeply with x (LiCoO2 towards
x = 0.84) lets the discrete flux pass through a maximum and Newton's method stall there.
For a constant D it is the same flux. The storage c_max V is the term's mass-matrix
diagonal; what crosses the interface is added by the surface term.
"""

import numpy as np

from ..assembly import Term


class Fick(Term):
    name = "fick"

    def __init__(self, topology, layout):
        self.electrodes = topology.intercalation
        self.x_index = topology.x_index
        self.x = layout.slice("x")
        self.offset = self.x.start
        self.n_x = topology.n_x

    def blocks(self):
        o = self.offset
        blocks = []
        for e in self.electrodes:
            s = e.stencil
            xa, xb = o + s.a, o + s.b
            blocks += [(xa[s.face], o + s.col), (xb[s.face], o + s.col)]
        return blocks

    def mass(self):
        rows = np.concatenate([self.offset + self.x_index[e.cells] for e in self.electrodes]
                              or [np.zeros(0, dtype=np.int64)])
        values = np.concatenate([e.max_concentration * e.volume for e in self.electrodes]
                                or [np.zeros(0)])
        return rows, rows, values

    def evaluate(self, ev):
        x = ev["x"]
        r_x = ev.rows("x")
        values = []
        for e in self.electrodes:
            s = e.stencil
            cmax = e.laws.max_concentration
            phi, D = e.laws.diffusion(x)
            flux = cmax * s.flux(phi)                 # T (Phi_a - Phi_b) + C Phi
            r_x += np.bincount(s.a, flux, minlength=self.n_x)
            r_x -= np.bincount(s.b, flux, minlength=self.n_x)
            stencil = cmax * s.weight * D[s.col]
            values += [stencil, -stencil]
        return values

    def refresh(self, parameters):
        pass                      # D and c_max are read from the electrodes' laws

    def outputs(self):
        def mean(e):
            cells = self.x.start + self.x_index[e.cells]
            volume = e.volume.sum()
            return lambda u: float((u[cells] * e.volume).sum() / volume)
        return {f"x_mean_{e.name}": mean(e) for e in self.electrodes}

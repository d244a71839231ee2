"""The surface stoichiometry of each interface face of an intercalation electrode: Fick
across the half cell between the face and its cell's centre carries what the reaction
takes (surface rows, mol/s),

    c_max t_half (Phi(x_cell) - Phi(xs)) - i A / F = 0,    Phi(x) = integral of D dx

(the Kirchhoff transform, as in the fick term: exact for the steady flux across the half
cell, and monotone in xs however steeply D(x) changes),

and the interface cell's mass row loses that flux, i A / F. Resolving xs this way keeps the
discharge curve second-order accurate in the cell size next to the interface.
"""

import numpy as np

from ...units import FARADAY
from ...sparse import ScatterAdd
from ..assembly import Term


class SurfaceHalfCell(Term):
    name = "surface"

    def __init__(self, topology, layout):
        self.topo = topology
        self.electrodes = topology.intercalation
        self.x0 = layout.slice("x").start
        self.i0 = layout["i"].start
        self.xs0 = layout.slice("xs").start
        self.n_x = topology.n_x
        # the x unknown of each electrode's interface cells, in the x numbering
        self.x_of_face = {e.name: topology.x_index[topology.if_cell_e[e.faces]]
                          for e in self.electrodes}
        # per electrode, what the geometry fixes: its faces' half-cell transmissibility
        # (t_half), their areas over F, and where their flux leaves the x rows
        self._faces = [(topology.if_ht_e[e.faces], topology.if_area[e.faces] / FARADAY,
                        ScatterAdd(self.x_of_face[e.name], self.n_x))
                       for e in self.electrodes]

    def blocks(self):
        blocks = []
        for e in self.electrodes:
            xe = self.x0 + self.x_of_face[e.name]
            i = self.i0 + e.faces
            xs = self.xs0 + np.arange(e.xs_slice.start, e.xs_slice.stop)
            blocks += [(xe, i), (xs, xe), (xs, xs), (xs, i)]
        return blocks

    def evaluate(self, ev):
        x, xs = ev["x"], ev["xs"]
        r_x, r_xs = ev.rows("x"), ev.rows("xs")
        current = ev.current
        values = []
        for e, (half_transmissibility, area, leaves_cell) in zip(self.electrodes, self._faces):
            xe = self.x_of_face[e.name]
            cmax = e.laws.max_concentration
            phi_c, D_c = e.laws.diffusion(x[xe])
            phi_s, D_s = e.laws.diffusion(xs[e.xs_slice])
            g = cmax * half_transmissibility
            flux = current[e.faces] / FARADAY
            r_xs[e.xs_slice] += g * (phi_c - phi_s) - flux
            leaves_cell.add(r_x, flux)
            values += [area, g * D_c, -g * D_s, -area]
        return values

    def outputs(self):
        def surface(e):
            area = self.topo.if_area[e.faces]
            faces = slice(self.xs0 + e.xs_slice.start, self.xs0 + e.xs_slice.stop)
            total = area.sum()
            return lambda u: float((u[faces] * area).sum() / total)
        return {f"x_surface_{e.name}": surface(e) for e in self.electrodes}

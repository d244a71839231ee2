"""The double layer of every electrode | electrolyte interface face: a capacitor C_dl (per
interface area, the electrode material's `double_layer_capacitance`) in parallel with the
faradaic branch (film resistance, charge transfer, surface half cell), charged through the
potential difference across the interface,

    Delta = phi_s,f - phi_e,f = phi_node - R_e (i + i_dl) - phi_cell - v_half,

the electrode's potential at the face (its cell's less the drop R_e across its half cell,
which both currents pass) less the electrolyte's (its cell's plus v_half, the dielectric
term's half-cell unknown):

    i_dl - C_dl dDelta/dt = 0           (double-layer rows, A/m^2, anodic > 0).

C_dl dDelta/dt is this term's mass (phi, i, i_dl and v_half columns): in a steady state, and
in the equilibrium at fixed stoichiometry, i_dl = 0. The double-layer current i_dl A leaves
the electrode side's charge row and enters the electrolyte cell's, as the faradaic current
does; the kinetics rows lose its drop across the electrode half cell, R_e i_dl. A face with
C_dl = 0 keeps its row (i_dl = 0), so the pattern does not depend on the values.

In a film whose conductivity is a table sigma(x), R_e is taken at the film's initial
stoichiometry, so that M stays constant: R_e of a metallic film's half cell (~1e-10 ohm m^2)
is seven decades below the charge-transfer resistance the double layer sits beside.
"""

import numpy as np

from ..assembly import Term
from .butler_volmer import half_cell_resistances


class DoubleLayer(Term):
    name = "double_layer"
    storage = False

    def __init__(self, topology, layout, parameters):
        self.topo = topology
        self.phi0 = layout["phi"].start
        self.i_cols = layout["i"].indices
        self.rows = layout["i_dl"].indices
        self.v_cols = layout["v_half"].indices
        self.refresh(parameters)

    def refresh(self, parameters):
        topo = self.topo
        capacitance = np.zeros(topo.n_if)
        for e in topo.electrodes:
            capacitance[e.faces] = parameters.electrode[e.layer].double_layer_capacitance
        self.capacitance = capacitance
        r_electrode, _ = half_cell_resistances(topo, parameters)
        for e in topo.intercalation:
            law = parameters.electrode[e.layer]
            if law.conductivity_varies:
                sigma, _ = law.conductivity(np.array([e.initial_x]))
                f = e.faces
                r_electrode[f] = topo.if_area[f] / (sigma[0] * topo.if_ht_e[f])
        self.r_electrode = r_electrode

    def blocks(self):
        topo, o, rows = self.topo, self.phi0, self.rows
        return [(o + topo.if_node_e, rows), (o + topo.if_cell_l, rows), (rows, rows),
                (self.i_cols, rows)]

    def mass(self):
        topo, o, rows = self.topo, self.phi0, self.rows
        C, R = self.capacitance, self.r_electrode
        return (np.concatenate([rows] * 5),
                np.concatenate([o + topo.if_node_e, o + topo.if_cell_l, self.i_cols, rows,
                                self.v_cols]),
                np.concatenate([-C, C, C * R, C * R, C]))

    def evaluate(self, ev):
        topo = self.topo
        i_dl = ev["i_dl"]
        n = topo.n_cells
        current = i_dl * topo.if_area
        r_phi = ev.rows("phi")
        r_phi += np.bincount(topo.if_node_e, current, minlength=n)
        r_phi -= np.bincount(topo.if_cell_l, current, minlength=n)
        r_dl, r_i = ev.rows("i_dl"), ev.rows("i")
        r_dl += i_dl
        r_i -= self.r_electrode * i_dl
        return [topo.if_area, -topo.if_area, np.ones(topo.n_if), -self.r_electrode]

    def charge(self, u):
        """Charge the double layers hold, sum of C_dl Delta A over the faces (C, grid unit):
        the lithium ions that make up the electrolyte's side of it are this over F, less
        than in the electrodes (guards.violation counts them)."""
        topo = self.topo
        phi = u[self.phi0:self.phi0 + topo.n_cells]
        delta = (phi[topo.if_node_e] - phi[topo.if_cell_l]
                 - self.r_electrode * (u[self.i_cols] + u[self.rows]) - u[self.v_cols])
        return float(np.sum(self.capacitance * delta * topo.if_area))

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
        self.r_electrode, _ = half_cell_resistances(topo, parameters)

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

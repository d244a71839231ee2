"""The electrolyte as a dielectric: beside its conduction current, the displacement current
eps d/dt(-grad phi) (eps = eps0 eps_r of the layer, the material's `relative_permittivity`),
which gives a layer of thickness L between two flat electrodes its geometric capacitance
eps / L in parallel with its resistance L / kappa.

Bulk (charge rows of the electrolyte cells, A): on every face inside an electrolyte layer the
displacement current is the two-point flux stencil of Ohm's law (solver.operators, the same
geometric weights) times eps, applied to dphi/dt. It is all mass: M_phi,phi = eps K.

Half cells (one row per interface face, V): between an interface face and its electrolyte
cell's centre the conduction and the displacement current together carry the interface
current i_t = i + i_dl (faradaic and double layer),

    v_half + tau dv_half/dt - R_l (i + i_dl) = 0,

v_half the potential of the face above the cell's centre, R_l = d / kappa the half cell's
resistance (times area), tau = eps / kappa: the half cell is R_l in parallel with its own
geometric capacitance eps / d, with the time constant of every other part of the layer, so
a uniform layer of any grading gives R / (1 + j omega tau) exactly. The kinetics rows read
the electrolyte's potential at the face through v_half (-v_half in them; the Butler-Volmer
term then leaves R_l out of its ohmic drop). A layer with eps_r = 0 keeps its rows (v_half
= R_l i_t, purely ohmic), so the pattern does not depend on the values.

In binary and dissociation electrolytes the capacitive currents cross the half cell as an
ohmic current at the reference concentration (R_l at kappa0); the concentration step of the
half cell (nernst_planck.CarrierHalfCell) is driven by the faradaic current alone.
"""

import numpy as np

from ...operators import divergence, region_flux_matrix
from ..assembly import Term
from .butler_volmer import half_cell_resistances


class Dielectric(Term):
    name = "dielectric"
    storage = False

    def __init__(self, topology, layout, parameters):
        self.topo = topology
        g = topology.grid
        self.phi0 = layout["phi"].start
        self.i_cols = layout["i"].indices
        self.dl_cols = layout["i_dl"].indices
        self.i_rows = layout["i"].indices
        self.rows = layout["v_half"].indices
        # faces inside one electrolyte layer, and the geometric flux stencil on them
        fc = g.face_cells[g.interior_faces]
        inside = ((g.cell_tags[fc[:, 0]] == g.cell_tags[fc[:, 1]])
                  & topology.is_ionic[fc[:, 0]])
        faces = g.interior_faces[inside]
        stencil = (divergence(g, faces) @ region_flux_matrix(g, faces, g.cell_tags)).tocoo()
        self.bulk_rows, self.bulk_cols = stencil.row, stencil.col
        self.bulk_weights = stencil.data
        self.bulk_layer = g.cell_tags[stencil.row]
        self.layer_of_face = g.cell_tags[topology.if_cell_l]
        self.refresh(parameters)

    def refresh(self, parameters):
        eps = parameters.layer_permittivity
        self.bulk_mass = self.bulk_weights * eps[self.bulk_layer]
        _, self.r_electrolyte = half_cell_resistances(self.topo, parameters)
        kappa = parameters.layer_conductivity[self.layer_of_face]
        self.tau = eps[self.layer_of_face] / kappa

    def blocks(self):
        rows = self.rows
        return [(rows, rows), (rows, self.i_cols), (rows, self.dl_cols), (self.i_rows, rows)]

    def mass(self):
        o = self.phi0
        return (np.concatenate([o + self.bulk_rows, self.rows]),
                np.concatenate([o + self.bulk_cols, self.rows]),
                np.concatenate([self.bulk_mass, self.tau]))

    def evaluate(self, ev):
        v, i, i_dl = ev["v_half"], ev["i"], ev["i_dl"]
        r_v, r_i = ev.rows("v_half"), ev.rows("i")
        r_v += v - self.r_electrolyte * (i + i_dl)
        r_i -= v
        ones = np.ones(v.size)
        return [ones, -self.r_electrolyte, -self.r_electrolyte, -ones]

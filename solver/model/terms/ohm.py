"""Ohm's law: the current leaving each cell through its faces sums to the current its
interfaces and tabs exchange (charge rows, one per cell, in A).

Inside a layer the corrected two-point flux of solver.operators, across two layers of one
network (collector | electrode) the harmonic two-point flux. The cells of a piece of metal
share one potential (Topology.node): their rows are summed into the node's, and each other
cell's row says phi_cell - phi_node = 0. The positive tab is coupled to the tab potential V
through the boundary conductance of its faces; the negative tab is grounded.

Faces of films whose conductivity depends on the stoichiometry (inside them, to their
neighbours and to the tabs) are not here: their conductances change with the state
(terms.electronic_conduction). Everything here is constant.
"""

import numpy as np
import scipy.sparse as sp

from ...operators import (BalanceOperator, boundary_transmissibility, flux_triplets,
                          transmissibility)
from ...sparse import ScatterAdd
from ..assembly import Term


class Ohm(Term):
    name = "ohm"

    def __init__(self, topology, layout, parameters):
        self.topo = topology
        phi = layout["phi"]
        self.offset = phi.start
        self.i_V = layout["V"].start
        g = topology.grid
        node = topology.node
        K = topology.inside_operator
        across = topology.conduction_across
        across_rows, across_cols, _ = flux_triplets(g, across, np.zeros(across.size))
        tied = topology.tied
        self.inside_layer = g.cell_tags[K.row]
        rows = np.concatenate([node[K.row], node[across_rows], tied, tied])
        cols = np.concatenate([node[K.col], node[across_cols], tied, node[tied]])
        self.rows, self.cols = rows, cols
        self.pos_cells, self.pos_faces = self._constant_tab(topology.positive_tab)
        self.neg_cells, self.neg_faces = self._constant_tab(topology.negative_tab)
        self.pos_rows = ScatterAdd(self.pos_cells, topology.n_cells)
        self.neg_rows = ScatterAdd(self.neg_cells, topology.n_cells)
        self.refresh(parameters)

    def _constant_tab(self, side):
        """The tab's cells (their nodes) and faces whose conductance is a constant."""
        cells, faces = self.topo.tabs[side]
        constant = ~self.topo.varying_conductivity[cells]
        return cells[constant], faces[constant]

    def refresh(self, parameters):
        topo, g = self.topo, self.topo.grid
        sigma = parameters.layer_conductivity[g.cell_tags]
        K = topo.inside_operator
        inside = K.data * parameters.layer_conductivity[self.inside_layer]
        _, _, across = flux_triplets(g, topo.conduction_across,
                                     transmissibility(g, sigma, topo.conduction_across))
        tied = np.ones(topo.tied.size)
        self.values = np.concatenate([inside, across, tied, -tied])
        n = topo.n_cells
        # summed as conductance times potential differences: see BalanceOperator
        self.matrix = BalanceOperator(sp.csr_matrix((self.values, (self.rows, self.cols)),
                                                    shape=(n, n)))
        self.pos_g = boundary_transmissibility(g, sigma, self.pos_faces)
        self.minus_pos_g = -self.pos_g
        self.neg_g = boundary_transmissibility(g, sigma, self.neg_faces)

    def blocks(self):
        o = self.offset
        pos, neg = o + self.pos_cells, o + self.neg_cells
        return [(o + self.rows, o + self.cols),
                (pos, pos), (pos, np.full_like(pos, self.i_V)), (neg, neg)]

    def evaluate(self, ev):
        phi, V = ev["phi"], ev.u[self.i_V]
        r = ev.rows("phi")
        r += self.matrix @ phi
        pos, neg = self.pos_cells, self.neg_cells
        self.pos_rows.add(r, self.pos_g * (phi[pos] - V))
        self.neg_rows.add(r, self.neg_g * phi[neg])
        return [self.values, self.pos_g, self.minus_pos_g, self.neg_g]

    def tab_flux(self, u):
        """Current leaving this term's charge rows through the tabs (A)."""
        phi, V = u[self.offset:self.offset + self.topo.n_cells], u[self.i_V]
        return float(np.sum(self.pos_g * (phi[self.pos_cells] - V))
                     + np.sum(self.neg_g * phi[self.neg_cells]))

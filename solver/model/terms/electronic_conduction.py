"""Ohm's law in intercalation films whose electronic conductivity depends on the
stoichiometry, sigma(x) (a table; LixCoO2 is a semiconductor near x = 1 and a metal when
delithiated, DESIGN.md section 2): the charge-row fluxes that the constant Ohm matrix leaves
out, on three kinds of faces, each cell a uniform conductor at its own x:

  inside the film   the corrected two-point flux of solver.operators times the
                    conductance of the two half cells in series,
                        sigma_f = 1 / (lambda_a / sigma(x_a) + lambda_b / sigma(x_b)),
                    lambda the share of the centre-to-centre distance on each side (from
                    the half transmissibilities). It is exact for cells of uniform sigma (a
                    steady drop is sum h / sigma(x_c), the midpoint rule of the integral of
                    dz / sigma), gives sigma for a uniform film, and lets an insulating cell
                    block the current through it. An arithmetic mean, or sigma at the mean x
                    (the geometric mean for a log table), would overrate a face across an
                    insulator-metal front by up to a quarter of (or the square root of) the
                    conductivity ratio: a film that turns insulating would still conduct;
  to another layer  the harmonic two-point transmissibility (a collector, Ohm's own rule)
                    with the film cell's sigma(x);
  to a tab          the film cell's conductance to the tab face.

The Jacobian holds d/dphi (the stencil times the conductance) and d/dx of every cell whose
sigma sets a face's conductance (phi rows, x columns). The Arrhenius factor of
`electronic_conductivity_activation_energy` is in the law (model.parameters).
"""

import numpy as np

from ...errors import InputError
from ..assembly import Term
from ..topology import stencil_differences


class ElectronicConduction(Term):
    name = "electronic_conduction"

    def __init__(self, topology, layout, parameters):
        self.topo = topology
        g = topology.grid
        fc = g.face_cells
        self.phi0 = layout["phi"].start
        self.x0 = layout.slice("x").start
        self.i_V = layout["V"].start
        self.electrodes = [e for e in topology.intercalation
                           if e.layer in topology.x_conduction_layers]
        self.n_x = topology.n_x
        self.x_index = topology.x_index
        self.varying = topology.varying_conductivity
        cell_of_x = np.zeros(topology.n_x, dtype=np.int64)
        for e in topology.intercalation:
            cell_of_x[e.x_slice] = e.cells
        # faces inside the films: their Fick stencils (x numbering), one after the other
        stencils = [e.stencil for e in self.electrodes]
        offsets = np.cumsum([0] + [s.a.size for s in stencils])[:-1]

        def joined(arrays, dtype=np.int64):
            return np.concatenate(arrays) if arrays else np.zeros(0, dtype=dtype)

        a, b = joined([s.a for s in stencils]), joined([s.b for s in stencils])
        face = joined([s.face + k for s, k in zip(stencils, offsets)])
        col, faces = joined([s.col for s in stencils]), joined([s.faces for s in stencils])
        weight = joined([s.weight for s in stencils], float)
        self.a, self.b, self.face, self.weight = a, b, face, weight
        self.cell_a, self.cell_b, self.col_cell = cell_of_x[a], cell_of_x[b], cell_of_x[col]
        self.cell_a_of_entry = self.cell_a[self.face]
        resistance = 1.0 / g.half_transmissibility[faces]          # distance / area per side
        self.lam_a = resistance[:, 0] / resistance.sum(axis=1)
        self.lam_b = 1.0 - self.lam_a
        # faces to other layers of the network
        across = topology.conduction_across_varying
        self.sides = fc[across]                                     # (n, 2) grid cells
        self.across_t = g.half_transmissibility[across]
        self.across_nodes = topology.node[self.sides]
        self.across_varying = self.varying[self.sides]
        self.across_x = np.where(self.across_varying, self.x_index[self.sides], 0)
        # tab faces of the films
        self.tab = {}
        for side in (topology.positive_tab, topology.negative_tab):
            cells, tab_faces = topology.tabs[side]
            mine = self.varying[cells]
            self.tab[side] = (cells[mine], g.half_transmissibility[tab_faces[mine], 0],
                              self.x_index[cells[mine]])
        self.refresh(parameters)

    def refresh(self, parameters):
        # the constant conductivity of every cell (NaN in films with a table sigma(x))
        self.constant_sigma = parameters.layer_conductivity[self.topo.grid.cell_tags]
        added = {e.layer for e in self.topo.intercalation
                 if parameters.electrode[e.layer].conductivity_varies} - {
                     e.layer for e in self.electrodes}
        if added:
            layer = self.topo.case.layers[min(added)]
            raise InputError(f"materials.{layer.material.name}.electronic_conductivity",
                             "a table", "a constant, as in the model being updated (a model "
                             "built with a constant conductivity cannot take a table)")

    # ------------------------------------------------------------ conductivities
    def _sigma_of_x(self, x):
        """sigma and dsigma/dx at every x unknown of the films (zero elsewhere)."""
        sigma, slope = np.zeros(self.n_x), np.zeros(self.n_x)
        for e in self.electrodes:
            sigma[e.x_slice], slope[e.x_slice] = e.conductivity(x[e.x_slice])
        return sigma, slope

    def cell_conductivity(self, u, cells):
        """Electronic (or ionic) conductivity of grid cells at state u (S/m)."""
        cells = np.asarray(cells)
        sigma = self.constant_sigma[cells].copy()
        varying = self.varying[cells]
        if np.any(varying):
            s, _ = self._sigma_of_x(u[self.x0:self.x0 + self.n_x])
            sigma[varying] = s[self.x_index[cells[varying]]]
        return sigma

    # ------------------------------------------------------------ pattern
    def blocks(self):
        p, x, V = self.phi0, self.x0, self.i_V
        ca, cb = p + self.cell_a, p + self.cell_b
        blocks = [(ca[self.face], p + self.col_cell), (cb[self.face], p + self.col_cell),
                  (ca, x + self.a), (ca, x + self.b), (cb, x + self.a), (cb, x + self.b)]
        n0, n1 = p + self.across_nodes[:, 0], p + self.across_nodes[:, 1]
        blocks += [(n0, n0), (n0, n1), (n1, n0), (n1, n1)]
        for k in (0, 1):
            v = self.across_varying[:, k]
            blocks += [(n0[v], x + self.across_x[v, k]), (n1[v], x + self.across_x[v, k])]
        pos_cells, _, pos_x = self.tab[self.topo.positive_tab]
        neg_cells, _, neg_x = self.tab[self.topo.negative_tab]
        blocks += [(p + pos_cells, p + pos_cells), (p + pos_cells, np.full(pos_cells.size, V)),
                   (p + pos_cells, x + pos_x),
                   (p + neg_cells, p + neg_cells), (p + neg_cells, x + neg_x)]
        return blocks

    # ------------------------------------------------------------ evaluation
    def evaluate(self, ev):
        if not self.electrodes:
            return []
        phi, V = ev["phi"], ev.u[self.i_V]
        n = phi.size
        r = ev.rows("phi")
        sigma, slope = self._sigma_of_x(ev["x"])
        values = self._inside(phi, sigma, slope, r, n)
        values += self._across(phi, sigma, slope, r, n)
        values += self._tabs(phi, V, sigma, slope, r, n)
        return values

    def _inside(self, phi, sigma, slope, r, n):
        sa, sb = sigma[self.a], sigma[self.b]
        sf = 1.0 / (self.lam_a / sa + self.lam_b / sb)
        dsf_a = sf**2 * self.lam_a / sa**2 * slope[self.a]
        dsf_b = sf**2 * self.lam_b / sb**2 * slope[self.b]
        drop = stencil_differences(self.face, self.col_cell, self.weight,
                                   self.cell_a_of_entry, phi, self.cell_a.size)
        flux = sf * drop
        r += np.bincount(self.cell_a, flux, minlength=n) - np.bincount(self.cell_b, flux,
                                                                       minlength=n)
        stencil = sf[self.face] * self.weight
        da, db = dsf_a * drop, dsf_b * drop
        return [stencil, -stencil, da, db, -da, -db]

    def _across(self, phi, sigma, slope, r, n):
        v = self.across_varying
        cells = self.sides
        s = np.where(v, sigma[self.across_x], self.constant_sigma[cells])
        ds = np.where(v, slope[self.across_x], 0.0)
        t = self.across_t
        T = 1.0 / (1.0 / (s[:, 0] * t[:, 0]) + 1.0 / (s[:, 1] * t[:, 1]))
        dT = T[:, None]**2 / (s**2 * t) * ds                      # dT/dx of each side's cell
        nodes = self.across_nodes
        drop = phi[nodes[:, 0]] - phi[nodes[:, 1]]
        flux = T * drop
        r += (np.bincount(nodes[:, 0], flux, minlength=n)
              - np.bincount(nodes[:, 1], flux, minlength=n))
        values = [T, -T, -T, T]
        for k in (0, 1):
            d = dT[v[:, k], k] * drop[v[:, k]]
            values += [d, -d]
        return values

    def _tab_conductances(self, sigma):
        """Per tab (positive, negative): its film cells, their conductances to the tab and
        the x unknowns they depend on."""
        out = []
        for side in (self.topo.positive_tab, self.topo.negative_tab):
            cells, t, x = self.tab[side]
            out.append((cells, sigma[x] * t, t, x))
        return out

    def _tabs(self, phi, V, sigma, slope, r, n):
        (pos, g_pos, t_pos, x_pos), (neg, g_neg, t_neg, x_neg) = self._tab_conductances(sigma)
        pos_drop, neg_drop = phi[pos] - V, phi[neg]
        r += np.bincount(pos, g_pos * pos_drop, minlength=n)
        r += np.bincount(neg, g_neg * neg_drop, minlength=n)
        return [g_pos, -g_pos, slope[x_pos] * t_pos * pos_drop,
                g_neg, slope[x_neg] * t_neg * neg_drop]

    def tab_flux(self, u):
        """Current leaving this term's charge rows through the tabs (A)."""
        if not self.electrodes:
            return 0.0
        phi, V = u[self.phi0:self.phi0 + self.topo.n_cells], u[self.i_V]
        sigma, _ = self._sigma_of_x(u[self.x0:self.x0 + self.n_x])
        (pos, g_pos, _, _), (neg, g_neg, _, _) = self._tab_conductances(sigma)
        return float(np.sum(g_pos * (phi[pos] - V)) + np.sum(g_neg * phi[neg]))

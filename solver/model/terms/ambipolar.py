"""Intercalation films whose electrons diffuse like their Li+ ions (the ambipolar model of
Raijmakers, Danilov, Eichel, Notten, Electrochim. Acta 330 (2020) 135147; material key
`electron_ion_diffusivity_ratio` r = D_e / D_Li+).

Each carrier moves down its own electrochemical potential, J_Li+ = -(D_Li+ c / RT) grad mu_Li+
and J_e = -(D_e c / RT) grad mu_e (electroneutral, c_e = c_Li+ = c, one beta(x) factor in
both D). With mu_Li = mu_Li+ + mu_e = -F U(x) and the current i = F (J_Li+ - J_e), the field
eliminates to

    J_Li+ = -D_p grad c + s i / F,         grad mu_e = s grad mu_Li + F i / sigma,

    s = D_Li+ / (D_Li+ + D_e) = 1 / (1 + r),   D_p = 2 D_Li+ D_e / (D_Li+ + D_e) (ideal),
    sigma = F^2 c (D_Li+ + D_e) / RT,

so that, in one dimension:
- Fick's law holds with the ambipolar (chemical) diffusivity, the material's `diffusivity`;
- a current I inserts (1 - s) I / F at the electrolyte face and s I / F at the electronic
  contact, where the electrons enter;
- the electrons' potential falls across the film by the ohmic drop (the film's electronic
  conductivity, as in every film) plus s (U(x_front) - U(x_back)), so the cell sees
  (1 - s) U(x_front) + s U(x_back) where a film with fast electrons (r -> infinity) shows
  U(x_front). This keeps the film passive: with the flux split alone its low-frequency
  impedance would turn negative for s > 2/3.

This term moves the share s of each electrode's faradaic current from its interface faces
(where the surface term put it) to the cells at its electronic contact (its terminal
faces: to a collector, the next cell or a tab, shared by contact area), and adds s (U(x_s) - U(x_contact)) to the kinetics rows
of its faces (x_contact: the contact cells' centres, area-weighted). Exact in one dimension,
where the electrons cross the film with the whole current, so only one-dimensional grids
(planar cells and bipolar stacks) are accepted. The lithium each current inserts is
unchanged.
"""

import numpy as np

from ...errors import InputError
from ...units import FARADAY
from ..assembly import Term


class AmbipolarInsertion(Term):
    name = "ambipolar_insertion"

    def __init__(self, topology, layout):
        self.n_x = topology.n_x
        self.x0 = layout.slice("x").start
        self.xs0 = layout.slice("xs").start
        self.i0 = layout["i"].start
        self.if_area = topology.if_area
        self.electrodes = []
        for e in topology.intercalation:
            share = e.laws.contact_insertion_share
            if share == 0.0:
                continue
            key = f"materials.{topology.case.layers[e.layer].material.name}" \
                  ".electron_ion_diffusivity_ratio"
            if topology.grid.dim != 1:
                raise InputError(key, e.laws.electron_ion_diffusivity_ratio,
                                 "no value in a 2D or 3D cell: the ambipolar film is a "
                                 "one-dimensional model (planar cells and bipolar stacks)")
            cells, areas = topology.contact_cells(e)
            if cells.size == 0:
                raise InputError(key, e.laws.electron_ion_diffusivity_ratio,
                                 f"no value for layer '{e.name}', which touches no collector "
                                 "or tab (its electrons have nowhere to enter)")
            self.electrodes.append((e, topology.x_index[topology.if_cell_e[e.faces]],
                                    topology.x_index[cells], areas / areas.sum()))

    def covers(self, e):
        """Whether electrode e's contact rows are in this term (its pattern)."""
        return any(e is mine for mine, *_ in self.electrodes)

    def blocks(self):
        blocks = []
        for e, x_front, x_back, _ in self.electrodes:
            i = self.i0 + e.faces
            xs = self.xs0 + np.arange(e.xs_slice.start, e.xs_slice.stop)
            back_rows = np.repeat(self.x0 + x_back, i.size)
            blocks += [(xs, i), (self.x0 + x_front, i), (back_rows, np.tile(i, x_back.size)),
                       (i, xs), (np.repeat(i, x_back.size), np.tile(self.x0 + x_back, i.size))]
        return blocks

    def evaluate(self, ev):
        x, xs = ev["x"], ev["xs"]
        r_x, r_xs, r_i = ev.rows("x"), ev.rows("xs"), ev.rows("i")
        current = ev.current
        values = []
        for e, x_front, x_back, weight in self.electrodes:
            share = e.laws.contact_insertion_share        # read here: parameters may change
            moved = share * current[e.faces] / FARADAY           # mol/s per interface face
            r_xs[e.xs_slice] += moved
            r_x -= np.bincount(x_front, moved, minlength=self.n_x)
            r_x += np.bincount(x_back, weight * moved.sum(), minlength=self.n_x)
            d_moved = share * self.if_area[e.faces] / FARADAY
            # the electrons' share of the Li potential between the interface and the contact
            u_surface, du_surface = e.laws.ocv(xs[e.xs_slice])
            u_contact, du_contact = e.laws.ocv(x[x_back])
            r_i[e.faces] += share * (u_surface - np.dot(weight, u_contact))
            values += [d_moved, -d_moved, np.outer(weight, d_moved).ravel(),
                       share * du_surface,
                       np.tile(-share * weight * du_contact, e.faces.size)]
        return values

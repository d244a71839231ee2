"""Lithium that enters an intercalation film at its electronic contact, when the film's
electrons are a diffusing carrier like its Li+ ions (the ambipolar model of Raijmakers,
Danilov, Eichel, Notten, Electrochim. Acta 330 (2020) 135147, material key
`electron_ion_diffusivity_ratio` r = D_e / D_Li+).

With both carriers in the film, electroneutral (c_e = c_Li+ = c) and sharing one
concentration factor beta(x), the field between them can be eliminated: the neutral Li obeys
one Fick equation with the ambipolar diffusivity D_p = 2 D_Li+ D_e / (D_Li+ + D_e) (the
chemical diffusivity a GITT or EIS measurement gives: the material's `diffusivity`), and its
flux J_n = (D_e J_Li+ + D_Li+ J_e) / (D_Li+ + D_e). At the electrolyte face only Li+ crosses,
at the collector face only electrons, so a current I inserts

    (1 - s) I / F  at the electrolyte face,   s I / F  at the electronic contact,
    s = D_Li+ / (D_Li+ + D_e) = 1 / (1 + r).

Fast electrons (r -> infinity, the usual film, and every film without the key) put all of
it at the electrolyte face. This term moves the share s of each electrode's faradaic
current from its interface faces (where the surface term put it) to the cells at its
electronic contact (faces to a collector or to a tab), shared by contact area: exact in one
dimension, where the electrons cross the film with the whole current, so only
one-dimensional grids (planar cells and bipolar stacks) are accepted. The total lithium each
current inserts is unchanged.

Left out: the diffusion potential between the two carriers, (RT/F) 2 s ln(x_front / x_back)
across the film (5 mV for r = 4.18 at a ratio of 1.7); the ohmic part of the carriers'
drift is the film's electronic conductivity, as in every film.
"""

import numpy as np

from ...errors import InputError
from ...units import FARADAY
from ..assembly import Term


def electronic_contact_cells(topology, e):
    """The cells of electrode e next to a collector or on a tab, and their contact areas."""
    g = topology.grid
    fc = g.face_cells
    inside = np.zeros(g.n_cells, dtype=bool)
    inside[e.cells] = True
    faces = g.interior_faces
    a, b = fc[faces, 0], fc[faces, 1]
    to_metal = (inside[a] & topology.is_metal[b]) | (inside[b] & topology.is_metal[a])
    cells = [np.where(inside[a[to_metal]], a[to_metal], b[to_metal])]
    areas = [g.face_areas[faces[to_metal]]]
    for side in ("bottom", "top"):
        boundary = g.boundary_faces[side]
        on_tab = inside[fc[boundary, 0]]
        cells.append(fc[boundary[on_tab], 0])
        areas.append(g.face_areas[boundary[on_tab]])
    return np.concatenate(cells), np.concatenate(areas)


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
            cells, areas = electronic_contact_cells(topology, e)
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
            blocks += [(xs, i), (self.x0 + x_front, i), (back_rows, np.tile(i, x_back.size))]
        return blocks

    def evaluate(self, ev):
        r_x, r_xs = ev.rows("x"), ev.rows("xs")
        current = ev.current
        values = []
        for e, x_front, x_back, weight in self.electrodes:
            share = e.laws.contact_insertion_share        # read here: parameters may change
            moved = share * current[e.faces] / FARADAY           # mol/s per interface face
            r_xs[e.xs_slice] += moved
            r_x -= np.bincount(x_front, moved, minlength=self.n_x)
            r_x += np.bincount(x_back, weight * moved.sum(), minlength=self.n_x)
            d_moved = share * self.if_area[e.faces] / FARADAY
            values += [d_moved, -d_moved, np.outer(weight, d_moved).ravel()]
        return values

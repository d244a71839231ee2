"""Butler-Volmer kinetics on every electrode | electrolyte face, in the inverse form:

    phi_s,f - phi_e,f - i (R_half + R_film) - U(xs) - eta(i; i0) = 0      (kinetics rows, V)

with phi_s,f - phi_e,f read at the two cell centres and the ohmic drop of the half cells
between them and the face (R_half), i0 = F k (c_max - c_s)^alpha_a c_s^alpha_c or a
constant, times the carrier activity a of a binary electrolyte where it has one (shared by
the nernst_planck half-cell term as "activity", with d ln a / di and d ln a / dtheta:
this term's rows depend on theta through it). The faradaic current i A leaves the
electrode side's charge row and enters the electrolyte cell's. In a film whose electronic
conductivity depends on x, the electrode side of R_half is A / (sigma(x_cell) t_half) with
the x of the face's cell (each cell a uniform conductor, as in terms.electronic_conduction),
and the kinetics rows depend on that x.

With capacitances (terms double_layer and dielectric) the electrolyte's half cell is an
unknown of its own, v_half (its drop carries the displacement current too): this term then
leaves R_half of the electrolyte side out of its ohmic drop, and the dielectric term puts
-v_half into these rows.
"""

import numpy as np

from ...physics.kinetics import butler_volmer_overpotential, exchange_current_density
from ...sparse import ScatterAdd
from ..assembly import Term


class ButlerVolmer(Term):
    name = "butler_volmer"

    def __init__(self, topology, layout, parameters, electrolyte_half_cell=True):
        self.topo = topology
        self.electrolyte_half_cell = electrolyte_half_cell   # R_half of the electrolyte side
        self.electrodes = topology.electrodes
        self.offset = layout["phi"].start
        self.i_rows = layout["i"].indices
        self.xs_start = layout.slice("xs").start
        c0 = layout.slice("c").start
        # faces of binary electrolytes: their i0 carries the activity of the theta beside them
        self.carrier_faces = [(r.if_faces, c0 + r.slice.start + r.if_local)
                              for r in topology.carriers]
        self.temperature = parameters.temperature
        # films whose sigma depends on x: their faces and the x unknown of each face's cell
        self.x_start = layout.slice("x").start
        self.varying = [(e, topology.x_index[topology.if_cell_e[e.faces]])
                        for e in topology.intercalation
                        if e.layer in topology.x_conduction_layers]
        # the faradaic current leaves the electrode's charge rows, enters the electrolyte's
        n_cells = layout["phi"].size
        self.leaves = ScatterAdd(topology.if_node_e, n_cells)
        self.enters = ScatterAdd(topology.if_cell_l, n_cells)
        self.intercalation = [e for e in self.electrodes if e.kind == "intercalation"]
        # faces of no electrode (if any) get no equilibrium potential or overpotential
        covered = np.zeros(topology.n_if, dtype=bool)
        for e in self.electrodes:
            covered[e.faces] = True
        self.no_electrode = np.flatnonzero(~covered)
        self.refresh(parameters)

    def refresh(self, parameters):
        topo = self.topo
        # ohmic resistance (times area) of the two half cells between the centres and the face
        # (the electrode side of films with a sigma(x) is added at each evaluation)
        electrode_side, electrolyte_side = half_cell_resistances(topo, parameters)
        for e, _ in self.varying:
            electrode_side[e.faces] = 0.0
        half_cells = (electrode_side + electrolyte_side if self.electrolyte_half_cell
                      else electrode_side)
        film = np.zeros(topo.n_if)
        for e in self.electrodes:
            film[e.faces] = e.film_resistance
        self.ohmic = half_cells + film
        self._minus_ohmic = -self.ohmic
        self.temperature = parameters.temperature
        # per face, made once rather than at every evaluation: the exchange current where
        # it is a constant (1 where it is a function of xs, or the face has no electrode),
        # and the transfer coefficients (numbers when every face has the same, as usual)
        i0 = np.ones(topo.n_if)
        alpha_a, alpha_c = np.full(topo.n_if, 0.5), np.full(topo.n_if, 0.5)
        for e in self.electrodes:
            if e.laws.i0_constant is not None:
                i0[e.faces] = e.laws.i0_constant
            alpha_a[e.faces], alpha_c[e.faces] = e.laws.alpha_a, e.laws.alpha_c
        self._i0_constant = i0
        uniform = {(e.laws.alpha_a, e.laws.alpha_c) for e in self.electrodes}
        self._alphas = uniform.pop() if len(uniform) == 1 else (alpha_a, alpha_c)
        self._area, self._minus_area = topo.if_area, -topo.if_area
        self._ones, self._minus_ones = np.ones(topo.n_if), -np.ones(topo.n_if)

    def blocks(self):
        topo, o, i = self.topo, self.offset, self.i_rows
        blocks = [(o + topo.if_node_e, i), (o + topo.if_cell_l, i),
                  (i, o + topo.if_node_e), (i, o + topo.if_cell_l), (i, i)]
        for e in topo.intercalation:
            blocks.append((i[e.faces], self.xs_start + np.arange(e.xs_slice.start, e.xs_slice.stop)))
        blocks += [(i[faces], theta) for faces, theta in self.carrier_faces]
        blocks += [(i[e.faces], self.x_start + x_cells) for e, x_cells in self.varying]
        return blocks

    def _film_sides(self, ev):
        """Resistance (times area) of the electrode half cell of each face of the films with
        a sigma(x), and its derivative in the cell's x, per such film."""
        topo, x = self.topo, ev["x"]
        out = []
        for e, x_cells in self.varying:
            sigma, slope = e.conductivity(x[x_cells])
            length = topo.if_area[e.faces] / topo.if_ht_e[e.faces]
            resistance = length / sigma
            out.append((resistance, -resistance / sigma * slope))
        return out

    def _surface_laws(self, xs):
        """The equilibrium potential U and exchange current i0 of every face (U = 0 and i0
        constant where they are not functions of xs), and per intercalation electrode their
        derivatives in xs on its faces, (dU/dxs, di0/dxs)."""
        U = np.zeros(self.topo.n_if)
        i0 = self._i0_constant.copy()
        slopes = []
        for e in self.intercalation:
            law, f = e.laws, e.faces
            s = xs[e.xs_slice]
            U[f], dU = law.ocv(s)
            if law.rate_constant is not None:
                i0[f], di0 = exchange_current_density(s, law.rate_constant,
                                                      law.kinetic_concentration, law.alpha_a,
                                                      law.alpha_c)
            else:
                di0 = np.zeros(f.size)
            slopes.append((dU, di0))
        return U, i0, slopes

    def evaluate(self, ev):
        topo = self.topo
        phi, i, xs = ev["phi"], ev["i"], ev["xs"]
        current = ev.current
        r_phi = ev.rows("phi")
        self.leaves.add(r_phi, current)
        self.enters.subtract(r_phi, current)
        # the potential difference and ohmic drop of every face, then its equilibrium
        # potential and overpotential, all faces at once
        ohmic = self.ohmic
        film_sides = self._film_sides(ev) if self.varying else []
        if film_sides:
            ohmic = ohmic.copy()
            for (e, _), (resistance, _) in zip(self.varying, film_sides):
                ohmic[e.faces] += resistance
        r_i = ev.rows("i")
        r_i += phi[topo.if_node_e] - phi[topo.if_cell_l] - ohmic * i
        U, i0, slopes = self._surface_laws(xs)
        activity = ev.shared.get("activity")
        if activity is not None:
            i0 = i0 * activity
            slopes = [(dU, di0 * activity[e.faces])
                      for e, (dU, di0) in zip(self.intercalation, slopes)]
        # the overpotential that drives each face's current, all faces at once
        eta, deta_di, deta_di0 = butler_volmer_overpotential(i, i0, *self._alphas,
                                                             self.temperature)
        if self.no_electrode.size:
            eta[self.no_electrode] = deta_di[self.no_electrode] = 0.0
            deta_di0[self.no_electrode] = 0.0
        r_i -= U + eta
        d_di = (-ohmic if film_sides else self._minus_ohmic) - deta_di
        d_dxs = [-dU - deta_di0[e.faces] * di0
                 for e, (dU, di0) in zip(self.intercalation, slopes)]
        d_dtheta = []
        if activity is not None:       # through ln a: d/di on the diagonal, d/dtheta
            d_dln_activity = -deta_di0 * i0
            d_di += d_dln_activity * ev.shared["d_ln_activity_di"]
            d_dtheta = [d_dln_activity[faces] * slope
                        for (faces, _), slope in zip(self.carrier_faces,
                                                     ev.shared["d_ln_activity_dtheta"])]
        d_dx = [-i[e.faces] * d_resistance
                for (e, _), (_, d_resistance) in zip(self.varying, film_sides)]
        return [self._area, self._minus_area, self._ones, self._minus_ones, d_di] \
            + d_dxs + d_dtheta + d_dx


def half_cell_resistances(topology, parameters):
    """Ohmic resistance (times area, ohm m^2) of the two half cells of each interface face,
    from the electrode cell's centre and from the electrolyte cell's centre to the face
    (NaN on the electrode side of films whose conductivity is a table of x)."""
    sigma = parameters.layer_conductivity[topology.grid.cell_tags]
    area = topology.if_area
    return (area / (sigma[topology.if_cell_e] * topology.if_ht_e),
            area / (sigma[topology.if_cell_l] * topology.if_ht_l))

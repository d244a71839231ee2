"""Electrolytes with carriers (binary and dissociation models; physics.electrolyte).

NernstPlanck, in each such electrolyte layer, with theta = c / c0:
  charge rows    the current kappa0 theta_f (F phi - beta F ln theta) leaving each cell
                 (Ohm with the diffusion potential; these layers are not in the ohm term)
  carrier rows   c0 V dtheta/dt + c0 D_amb (F theta) - V G(theta) - (1 - t+) i A / F = 0

CarrierHalfCell, on each interface face of such a layer: the potential step between the
electrolyte cell's centre and the face beyond the ohmic drop at c0 that the kinetics row
already has,
    phi_face - phi_cell = i d / (kappa0 theta_mean) + beta ln(theta_s / theta_cell),
with the surface value theta_s = theta_cell + gamma i from the flux condition
D_amb c0 dtheta/dn = (1 - t+) i / F, and the carrier activity theta_s^alpha_a that
multiplies i0 in the Butler-Volmer term. It shares the activity and its derivatives (in
`prepare`, before any term evaluates); the kinetics rows' dependence on it is the
Butler-Volmer term's, the potential step is this term's.
"""

import numpy as np

from ...units import FARADAY
from ..assembly import Term


class NernstPlanck(Term):
    name = "nernst_planck"

    def __init__(self, topology, layout, parameters):
        self.topo = topology
        self.regions = topology.carriers
        self.phi0 = layout["phi"].start
        self.c = layout.slice("c")
        self.i0 = layout["i"].start
        self.refresh(parameters)

    def refresh(self, parameters):
        self.params = [parameters.carrier[r.layer] for r in self.regions]

    def _unknowns(self, r):
        return self.c.start + np.arange(r.slice.start, r.slice.stop)

    def blocks(self):
        blocks = []
        for r in self.regions:
            s = r.stencil
            cells, th = self.phi0 + r.cells, self._unknowns(r)
            a, b = s.a[s.face], s.b[s.face]
            blocks += [(cells[a], cells[s.col]), (cells[b], cells[s.col]),
                       (cells[a], th[s.col]), (cells[b], th[s.col]),
                       (cells[s.a], th[s.a]), (cells[s.a], th[s.b]),
                       (cells[s.b], th[s.a]), (cells[s.b], th[s.b]),
                       (th[a], th[s.col]), (th[b], th[s.col]), (th, th),
                       (th[r.if_local], self.i0 + r.if_faces)]
        return blocks

    def mass(self):
        if not self.regions:
            return None
        rows = np.concatenate([self._unknowns(r) for r in self.regions])
        values = np.concatenate([p.c0 * r.volume for r, p in zip(self.regions, self.params)])
        return rows, rows, values

    def evaluate(self, ev):
        values = []
        r_phi_all, r_c_all = ev.rows("phi"), ev.rows("c")
        phi_all, c_all = ev["phi"], ev["c"]
        for r, p in zip(self.regions, self.params):
            s = r.stencil
            n = r.cells.size
            phi = phi_all[r.cells]
            theta = c_all[r.slice]
            # Ohm with the diffusion potential: I = kappa0 theta_f (F phi - beta F ln theta)
            theta_f = 0.5 * (theta[s.a] + theta[s.b])
            drive = s.flux(phi) - p.beta * s.flux(np.log(theta))
            flux = p.kappa0 * theta_f * drive
            r_phi_all[r.cells] += np.bincount(s.a, flux, minlength=n) - np.bincount(s.b, flux,
                                                                                    minlength=n)
            k_w = p.kappa0 * theta_f[s.face] * s.weight
            k_ln = -p.beta * k_w / theta[s.col]
            k_t = 0.5 * p.kappa0 * drive
            # carriers: diffusion, reaction and what the interfaces put in
            diffusion = p.c0 * p.d_ambipolar
            carried = s.flux(theta)
            r_c = r_c_all[r.slice]
            r_c += diffusion * (np.bincount(s.a, carried, minlength=n)
                                - np.bincount(s.b, carried, minlength=n))
            g, dg = p.reaction(theta)
            r_c -= r.volume * g
            source = (1.0 - p.t_plus) / FARADAY
            r_c -= np.bincount(r.if_local, source * ev.current[r.if_faces], minlength=n)
            d_w = diffusion * s.weight
            values += [k_w, -k_w, k_ln, -k_ln, k_t, k_t, -k_t, -k_t,
                       d_w, -d_w, -r.volume * dg, -source * self.topo.if_area[r.if_faces]]
        return values


class CarrierHalfCell(Term):
    name = "carrier_half_cell"

    def __init__(self, topology, layout, parameters):
        self.topo = topology
        self.regions = topology.carriers
        self.c = layout.slice("c")
        self.i_rows = layout["i"].indices
        self.refresh(parameters)

    def refresh(self, parameters):
        topo = self.topo
        self.params = [parameters.carrier[r.layer] for r in self.regions]
        alpha = np.zeros(topo.n_if)
        for e in topo.electrodes:
            alpha[e.faces] = e.alpha_a
        self.alpha_a = alpha
        # per region: the half cell's resistance at c0 and the rise of theta per unit current
        # density across it
        self.resistance = [r.if_distance / p.kappa0 for r, p in zip(self.regions, self.params)]
        self.gamma = [(1.0 - p.t_plus) * r.if_distance / (FARADAY * p.d_ambipolar * p.c0)
                      for r, p in zip(self.regions, self.params)]

    def blocks(self):
        blocks = []
        for r in self.regions:
            rows = self.i_rows[r.if_faces]
            blocks += [(rows, rows), (rows, self.c.start + r.slice.start + r.if_local)]
        return blocks

    def prepare(self, ev):
        if not self.regions:
            return
        activity = np.ones(self.topo.n_if)
        d_ln_di = np.zeros(self.topo.n_if)
        d_ln_dtheta = []
        i_all, c_all = ev["i"], ev["c"]
        steps = []
        for r, p, rl, gamma in zip(self.regions, self.params, self.resistance, self.gamma):
            f = r.if_faces
            i = i_all[f]
            theta_l = c_all[r.slice][r.if_local]
            theta_s = theta_l + gamma * i
            theta_m = 0.5 * (theta_l + theta_s)
            beta = p.beta
            extra = i * rl * (1.0 / theta_m - 1.0) + beta * np.log(theta_s / theta_l)
            activity[f] = theta_s ** self.alpha_a[f]
            d_ln_di[f] = self.alpha_a[f] * gamma / theta_s
            d_ln_dtheta.append(self.alpha_a[f] / theta_s)
            d_extra_di = (rl * (1.0 / theta_m - 1.0) - 0.5 * i * rl * gamma / theta_m**2
                          + beta * gamma / theta_s)
            d_extra_dtheta = -i * rl / theta_m**2 + beta * (1.0 / theta_s - 1.0 / theta_l)
            steps.append((extra, d_extra_di, d_extra_dtheta))
        ev.shared["activity"] = activity
        ev.shared["d_ln_activity_di"] = d_ln_di
        ev.shared["d_ln_activity_dtheta"] = d_ln_dtheta
        ev.shared["carrier_half_cells"] = steps

    def evaluate(self, ev):
        if not self.regions:
            return []
        r_i = ev.rows("i")
        values = []
        for r, (extra, d_extra_di, d_extra_dtheta) in zip(self.regions,
                                                         ev.shared["carrier_half_cells"]):
            r_i[r.if_faces] -= extra
            values += [-d_extra_di, -d_extra_dtheta]
        return values

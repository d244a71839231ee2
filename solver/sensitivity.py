"""Forward sensitivities of a run: how every recorded voltage and capacity moves with a few
parameters, from the discrete model itself (DESIGN.md section 4).

At an accepted time step the integrator has solved, on the dynamic unknowns with BDF,

    R(u_n; p) = F(u_n; p) + M (a0 u_n + sum_k a_k u_{n-k}) = 0.

Differentiating at fixed step sizes gives the sensitivity s_n = du_n/dp_j of each parameter:

    (dF/du + a0 M) s_n = -(dR/dp_j + M sum_k a_k s_{n-k}),

whose matrix is the Newton matrix of that step: it is solved with the factorisation Newton's
last iteration left (`LinearSolver.solve_again`; a solver without one refactorises). dR/dp_j
is a forward difference of R at fixed u between the run's model and a model of the same grid
whose parameter j is moved by a small step (`Perturbation`; its drive follows a changed
nominal capacity). The initial open-circuit solve, F(u) + M (u - u0) = 0, is differentiated
the same way, with the perturbed model's own u0. Outputs (terminal voltage, tab current) are
linear in u and differenced along (s, step); the charge passed integrates the current's
sensitivity with the BDF formula the run's charge uses. A step that ended on a voltage or
current cutoff ends at a time that moves with p: its end state's dynamic sensitivity gets
u_dot dt_end/dp before the next step starts from it.

Not differentiated: where a cccv step switches to its hold within the step (the hold is
taken to start at a fixed time), and the step sizes themselves (the sensitivities are those
of the discrete solution on the run's time grid). Nor the voltage a stack is held at when
one of its cells reached its share of a cccv step's voltage first (the stack held where it
stood, at a voltage the state sets, not the step): the steps with such a hold are listed in
`held_at_reached`, and the rows from there on carry no sensitivities a caller may trust
(solver.fit.evaluate takes differences of whole runs for them).
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from .simulate import Simulation, bdf_coefficients


@dataclass
class Perturbation:
    """A parameter direction: the model at p + step e_j (same grid and pattern), the step
    (in whatever coordinate the caller differentiates by) and the factor a changed nominal
    capacity puts on the current of c_rate steps."""
    model: object
    step: float
    current_scale: float = 1.0


class _RecordingSolver:
    """A linear solver without `solve_again` (Krylov): remember the last matrix and solve
    each sensitivity column with it again."""

    def __init__(self, solver):
        self.solver = solver
        self.data = None

    @property
    def last_solve_loose(self):
        return self.solver.last_solve_loose

    def solve(self, data, rhs):
        self.data = data
        return self.solver.solve(data, rhs)

    def solve_again(self, rhs):
        if rhs.ndim == 1:
            return self.solver.solve(self.data, rhs)
        return np.column_stack([self.solver.solve(self.data, rhs[:, j])
                                for j in range(rhs.shape[1])])


class SensitivitySimulation(Simulation):
    """A Simulation that also carries d(state)/dp for each Perturbation; after `run()`,
    `row_sensitivities[r]` is (dV, dQ) of time-series row r: the terminal voltage (V) and
    the step's capacity (mAh/cm^2), each an array over the perturbations."""

    KEEP = 6         # states whose sensitivities are kept (BDF needs the last three)

    def __init__(self, case, grid, perturbations, model=None, uses=None):
        super().__init__(case, grid, model=model)
        self.perturbations = list(perturbations)
        if not hasattr(self.linear_solver, "solve_again"):
            self.linear_solver = _RecordingSolver(self.linear_solver)
        self.row_sensitivities = []
        self.held_at_reached = []       # steps held at the voltage the stack reached
        self._states = OrderedDict()    # id(u) -> (u, S (n, P), u_dot on the differential columns)
        self._charges = OrderedDict()   # id(integrals) -> (integrals, dQ (P,) in C)
        self._pending = None
        self._step = None
        m = self.model
        # u_dot and its history live on the differential columns (the storage unknowns,
        # and with capacitances the potentials they couple): M there, n x columns
        self._columns = m.differential_columns
        self._mass = m.assembly.compressed_mass()
        # which terms each perturbation moves (`uses`: from an earlier run of the same keys)
        self.uses = uses or [self._terms_moved_by(p) for p in self.perturbations]
        self._per_mAh_cm2 = 1.0 / (3600.0 * 1e-3 * case.footprint_area * 1e4)

    # ------------------------------------------------------------ hooks into the run
    def _run_step(self, k, step, drive, u, t_start, n_li):
        self._step = step
        if k > 0:
            self._shift_end_of_step(k - 1, u)
        return super()._run_step(k, step, drive, u, t_start, n_li)

    def _begin_hold(self, record, step, history, t_start):
        begun = super()._begin_hold(record, step, history, t_start)
        if begun[0].value != step.voltage:
            self.held_at_reached.append(len(self.steps) - 1)
        return begun

    def _solve(self, guess, dt, history, drive, step=None):
        u = super()._solve(guess, dt, history, drive, step)
        columns = self._columns
        if dt is None:
            coeff, hist, memory = 1.0, -guess[columns], []
        else:
            coeff, terms = bdf_coefficients(dt, history)
            memory = [(a, history.states[i], history.integrals[i]) for a, i in terms]
            hist = sum(a * state[columns] for a, state, _ in memory)
        self._pending = (u, dt, coeff, hist, memory, drive)
        if dt is None:          # the open-circuit state: a history state, never a row
            self._remember(self._states, u, (u,) + self._state_sensitivity(self._pending))
        return u

    def _record(self, t, k, u, integrals, keep=True):
        # every row is kept (solver.store_every aside): the fit compares rows to points
        super()._record(t, k, u, integrals, keep=True)
        pending = self._pending
        fresh = pending is not None and pending[0] is u
        if fresh:
            self._remember(self._states, u, (u,) + self._state_sensitivity(pending))
            self._pending = None
        S = self._lookup(self._states, u)
        P = len(self.perturbations)
        if S is None:
            S = (u, np.zeros((u.size, P)), None)
        dV, dI = self._output_sensitivities(u, S[1])
        if fresh and pending[1] is not None:
            a0, terms = pending[2], pending[4]
            current = self.rows[-1]["current_A"]
            dQ = (np.sign(current) * dI
                  - sum(a * self._charge_of(q) for a, _, q in terms)) / a0
        else:
            dQ = self._charge_of(integrals)
        self._remember(self._charges, integrals, (integrals, dQ))
        self.row_sensitivities.append((dV, dQ * self._per_mAh_cm2))

    # ------------------------------------------------------------ the sensitivities
    def _drive_of(self, perturbation, drive):
        step = self._step
        if drive[0] == "current" and step is not None and step.c_rate is not None:
            return ("current", drive[1] * perturbation.current_scale)
        return drive

    def _terms_moved_by(self, p):
        """(which terms' residuals the perturbation moves, whether it moves the storage):
        compared on a probe state under both kinds of drive, so that dR/dp differences only
        those terms. The others cancel exactly in R_p - R."""
        m = self.model
        rng = np.random.default_rng(1)            # gradients everywhere: every flux moves
        probe = m.initial_state()
        probe[m.s_x] = np.clip(probe[m.s_x] + 0.05 * rng.random(m.n_x), 0.01, 0.99)
        probe[m.s_xs] = np.clip(probe[m.s_xs] + 0.05 * rng.random(m.n_xs), 0.01, 0.99)
        probe[m.s_phi] += 1e-3 * rng.standard_normal(m.n_cells)
        probe[m.s_i] = 0.3 * rng.standard_normal(m.n_if)
        probe[m.s_c] *= 1.0 + 0.1 * rng.random(m.n_c)
        moved = np.zeros(len(m.assembly.terms), dtype=bool)
        for drive, moved_drive in ((("current", 1e-5), ("current", 1e-5 * p.current_scale)),
                                   (("voltage", 3.7), ("voltage", 3.7))):
            base = m.assembly.contributions(probe, drive)
            other = p.model.assembly.contributions(probe, moved_drive)
            moved |= [not np.array_equal(a, b) for a, b in zip(base, other)]
        mass = not np.array_equal(m.assembly.mass_values, p.model.assembly.mass_values)
        return moved, mass or p.model is m

    def _state_sensitivity(self, pending):
        u, dt, coeff, hist, memory, drive = pending
        m = self.model
        columns = self._columns
        equilibrium = dt is None           # F(u) + M_s (u - u0): storage alone, relaxed
        rhs = np.empty((u.size, len(self.perturbations)))
        for j, p in enumerate(self.perturbations):
            hist_j = hist if not equilibrium else -p.model.initial_state()[columns]
            use, mass = self.uses[j]
            if equilibrium:                # u0 itself may move: its storage row counts
                mass = True
            R0 = m.assembly.residual_of(u, coeff * u[columns] + hist, drive, use, mass,
                                        storage_only=equilibrium)
            R = p.model.assembly.residual_of(u, coeff * u[columns] + hist_j,
                                             self._drive_of(p, drive), use, mass,
                                             storage_only=equilibrium)
            rhs[:, j] = -(R - R0) / p.step
        for a, state, _ in memory:
            previous = self._lookup(self._states, state)
            if previous is not None:
                rhs -= a * (self._mass @ previous[1][columns])
        S = self.linear_solver.solve_again(rhs)
        return S, coeff * u[columns] + hist

    def _output_sensitivities(self, u, S):
        """d(terminal voltage)/dp and d(tab current, A)/dp along each perturbation."""
        m = self.model
        V0, I0 = m.voltage(u), m.tab_current(u)
        dV = np.empty(len(self.perturbations))
        dI = np.empty(len(self.perturbations))
        for j, p in enumerate(self.perturbations):
            moved = u + p.step * S[:, j]
            dV[j] = (p.model.voltage(moved) - V0) / p.step
            dI[j] = (p.model.tab_current(moved) - I0) / p.step * self.area_scale
        return dV, dI

    def _shift_end_of_step(self, k, u):
        """The step k ended on a cutoff at a time that moves with p: the state it hands on
        moves by u_dot dt_end/dp (g(u(t_end)) = 0 gives dt_end/dp = -(dg/dp)/(dg/dt))."""
        reason = self.steps[k].end_reason
        entry = self._lookup(self._states, u)
        rows = [r for r, row in enumerate(self.rows) if row["step"] == k]
        if entry is None or entry[2] is None or len(rows) < 2 or \
                reason not in ("until_voltage", "until_current"):
            return
        last, before = rows[-1], rows[-2]
        if reason == "until_voltage":
            g1, g0 = self.rows[last]["voltage_V"], self.rows[before]["voltage_V"]
            dg = self.row_sensitivities[last][0]
        else:
            g1, g0 = abs(self.rows[last]["current_A"]), abs(self.rows[before]["current_A"])
            dg = np.sign(self.rows[last]["current_A"]) * self._output_sensitivities(u, entry[1])[1]
        dt = self.rows[last]["time_s"] - self.rows[before]["time_s"]
        if dt <= 0.0 or g1 == g0:
            return
        shift = -dg / ((g1 - g0) / dt)
        S = entry[1].copy()
        S[self._columns] += np.outer(entry[2], shift)
        self._remember(self._states, u, (u, S, entry[2]))

    # ------------------------------------------------------------ bookkeeping
    def _charge_of(self, integrals):
        entry = self._lookup(self._charges, integrals)
        return entry[1] if entry is not None else np.zeros(len(self.perturbations))

    @staticmethod
    def _lookup(table, array):
        entry = table.get(id(array))
        return entry if entry is not None and entry[0] is array else None

    def _remember(self, table, array, entry):
        table[id(array)] = entry
        table.move_to_end(id(array))
        while len(table) > self.KEEP:
            table.popitem(last=False)

__all__ = ["Perturbation", "SensitivitySimulation"]

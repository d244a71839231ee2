"""Time integration of a case under its protocol: adaptive BDF2, events, bookkeeping."""

from dataclasses import dataclass, field

import numpy as np

from .case import BLOCK_END_REASONS
from .errors import SolverError
from . import guards
from .model import CellModel
from .model.cell import SURFACE_LIMIT, SURFACE_TOLERANCE
from .impedance import (SmallSignal, Spectrum, frequency_grid, interface_fields,
                        small_signal_solver)
from .kramers_kronig import kramers_kronig_residual
from .linear import make_linear_solver
from .newton import NewtonFailure, QuadraticRate, newton_solve
from .protocol import (SECONDS_PER_HOUR, StepDrive, current_cutoff, drive_for_step,
                       hold_drive, one_c_current, theoretical_capacities, voltage_cutoff,
                       with_end_current)
from .units import FARADAY

C_PER_MAH_PER_CM2 = 3.6 / 1e-4          # 1 mAh/cm^2 in C/m^2
VOLTAGE_EVENT_TOL = 5e-4                # cutoff voltages are met within 0.5 mV
EXHAUSTED = 1e-6                        # of the stripping scale: a lithium electrode this
                                        # near empty is exhausted
# Newton's method in a time step stops at scaled updates below this share of solver.rtol,
# or NEWTON_TOL if that is looser: the error it leaves is then a thousandth of the local error
# the step control allows (IDA stops at a third of it, in its own norm). At the default rtol
# that is 1e-6 instead of 1e-8: 25 % fewer Newton iterations over the shipped planar and
# stack cases and the 1C benchmark, 8 % fewer on the shipped trench and pillar (GMRES),
# capacities within 1e-4 of the tighter solves. An update from a loose GMRES solve never
# counts as converged (newton.newton_solve), which is what makes this safe there too.
NEWTON_TOL = 1e-8
NEWTON_SHARE = 1e-3
NOTHING_DELIVERED = 1e-6                # of the nominal capacity: a step that passed no more
                                        # faradaic charge than this delivered nothing


@dataclass
class StepRecord:
    mode: str
    end_reason: str = ""
    duration_s: float = 0.0
    capacity_mAh_cm2: float = 0.0
    energy_mWh_cm2: float = 0.0
    mean_voltage_V: float = 0.0
    message: str = ""
    limiting_cell: int | None = None  # stacks: the cell (1-based) nearest the cutoff at the end
    key: str = ""                   # the step in the case file, e.g. "protocol.1.steps.0"
    cv_start_s: float | None = None  # cccv: time into the step when the voltage hold began
    surface_gap: dict = field(default_factory=dict)   # electrode -> resolution indicator
                                                      # (solver.resolution)
    details: dict = field(default_factory=dict)   # more summary entries (impedance: its state)
    cycle: int = 0                  # the protocol step's cycle (solver.case.Step.cycle)
    applied_current_A: float | None = None   # discharge, charge, cccv: the set current
    c_rate: float | None = None              # ... over the nominal capacity per hour
    direction: int | None = 0       # +1 delivered charge, -1 took it, 0 neither by design;
                                    # None while a held voltage decides (StepDrive.direction)


def place_in_run(k: int, mode: str, key: str, t: float) -> str:
    """Where a run stopped, for its messages: the step and the simulated time."""
    return f"step {k} ({mode}, {key or 'protocol'}) at t = {t:.6g} s"


@dataclass
class History:
    """Accepted states for the BDF formula and the predictor (newest last).

    Besides the unknowns u, each entry holds the integrated scalars (see INTEGRALS), which
    advance with the same BDF formula as the stoichiometries, so that lithium inventory and
    charge passed stay consistent with the electrodes to round-off.
    """
    times: list = field(default_factory=list)
    states: list = field(default_factory=list)
    integrals: list = field(default_factory=list)

    def push(self, t, u, integrals, keep=3):
        self.times.append(t)
        self.states.append(u)
        self.integrals.append(integrals)
        del self.times[:-keep], self.states[:-keep], self.integrals[:-keep]


# integrated scalars: charge (C), energy (J), time integral of V (V s), the faradaic charge
# into the positive electrode (C, > 0 on discharge: the tab's charge less what its double
# layer holds), then the lithium inventories (mol): the active lithium of each
# lithium-metal electrode, then the inactive lithium each has lost in plating
# (Simulation.active, Simulation.lost)
CHARGE, ENERGY, VOLT_SECONDS, SIGNED_CHARGE = range(4)
LITHIUM = slice(4, None)


def step_direction(direction, signed_charge):
    """+1 for a step that delivered charge, -1 for one that took it, 0 for one that moved
    none by design. `direction`: the record's so far, None once the step held a voltage (a
    hold, the hold of a cccv step): its current could take either sign, so the step goes
    the way its net faradaic charge (> 0 delivered) went."""
    return int(np.sign(signed_charge)) if direction is None else direction


def mean_voltage(direction, charge, energy, volt_seconds, duration, last_voltage):
    """A step's mean voltage: energy over charge for a step that passed current one way, the
    time average (volt_seconds / duration) for a rest, the last voltage for a step that took
    no time. A rest's current is zero only to round-off once double layers relax in it:
    energy over that charge weighs the voltage by noise (a rest after 100C came out 0.33 V
    below every voltage it held for most of its time)."""
    if direction and charge > 0:
        return energy / charge
    if duration > 0:
        return volt_seconds / duration
    return last_voltage


def _single_nearest(margins, tolerance):
    """The index of the smallest margin, None if there is none or another is within
    `tolerance` of it (no one stands out)."""
    order = np.argsort(margins)
    if order.size == 0 or (order.size > 1 and
                           margins[order[1]] - margins[order[0]] <= tolerance):
        return None
    return int(order[0])


def bdf_coefficients(dt, history: History):
    """dx/dt ~ a0 x_new + sum a_k x_k: backward Euler on one point, variable-step BDF2 on two."""
    if len(history.times) < 2:
        return 1.0 / dt, [(-1.0 / dt, -1)]
    dt_prev = history.times[-1] - history.times[-2]
    w = dt / dt_prev
    return ((1 + 2 * w) / ((1 + w) * dt),
            [(-(1 + w) / dt, -1), (w * w / ((1 + w) * dt), -2)])


def weighted_sum(terms):
    """sum of a * x over (a, x) (as sum() would, without its first 0 + a x)."""
    total = None
    for a, x in terms:
        total = a * x if total is None else total + a * x
    return total


def extrapolate(history: History, t_new):
    """Lagrange extrapolation through the stored states (order len-1, at most 2)."""
    ts, us = history.times[-3:], history.states[-3:]
    if len(ts) == 1:
        return us[-1].copy(), 0
    result = None
    for j, (tj, uj) in enumerate(zip(ts, us)):
        weight = 1.0
        for k, tk in enumerate(ts):
            if k != j:
                weight *= (t_new - tk) / (tj - tk)
        if result is None:
            result = weight * uj
        else:
            result += weight * uj
    return result, len(ts) - 1


def _diagonal_positions(pattern, rows):
    """Positions of the diagonal entries (k, k) of the given rows in the CSR data."""
    entry_rows = np.repeat(np.arange(len(pattern.indptr) - 1), np.diff(pattern.indptr))
    diagonal = np.flatnonzero(entry_rows == pattern.indices)
    position = np.full(len(pattern.indptr) - 1, -1, dtype=np.int64)
    position[entry_rows[diagonal]] = diagonal
    return position[rows]


class _LastResult:
    """f(u) remembered for the last u it was asked for (the same array object: states are
    never changed in place once made)."""

    def __init__(self, f):
        self.f = f
        self.u = self.value = None

    def __call__(self, u):
        if u is not self.u:
            self.u, self.value = u, self.f(u)
        return self.value


class Simulation:
    """Runs a case's protocol on a grid; collects the time series and step summaries."""

    def __init__(self, case, grid, progress=None, model=None):
        self.case = case
        self.grid = grid
        # a model built before (a fit reuses one per experiment: update_parameters(case))
        self.model = model if model is not None else CellModel(case, grid)
        self.progress = progress
        self.area_scale = case.footprint_area / grid.footprint_area   # grid unit -> whole cell
        self.capacities = theoretical_capacities(case, self.model)
        guards.refuse_unusable_start(case, self.model, self.capacities)
        # an anode-free cell's lithium (none yet) does not limit it
        self.nominal_capacity = case.nominal_capacity or min(
            c for c in self.capacities.values() if c > 0)
        guards.refuse_endless_steps(case, self.nominal_capacity)
        m = self.model
        self.scales = np.ones(m.n_unknowns)
        self.bounded = m.layout.bounded
        pattern = m.pattern
        self.linear_solver = make_linear_solver(m)
        currents = np.arange(m.s_i.start, m.s_i.stop)
        self.current_unknowns = (currents, _diagonal_positions(pattern, currents))
        # the cell current as weights on the unknowns (tab_current is linear in them), and
        # the smallest current the time-step error test resolves (1e-3 C, grid unit)
        positive = m.electrodes[m.positive].faces
        self.tab_current_weights = np.zeros(m.n_unknowns)
        self.tab_current_weights[m.s_i.start + positive] = m.if_area[positive]
        self.current_floor = 1e-3 * one_c_current(self.nominal_capacity) / self.area_scale
        self.newton_rate = QuadraticRate()
        self.lithium_metal = [e for e in m.electrodes if e.kind == "lithium_metal"]
        n_metal = len(self.lithium_metal)
        self.active = slice(LITHIUM.start, LITHIUM.start + n_metal)
        self.lost = slice(LITHIUM.start + n_metal, LITHIUM.start + 2 * n_metal)
        self.efficiency = np.array([e.coulombic_efficiency for e in self.lithium_metal])
        self.lost_share = 1.0 - self.efficiency         # of the lithium plated
        self.positive_electrode = m.electrodes[m.positive]
        # each lithium-metal electrode's columns of the time series: its thickness, the
        # thickness of the lithium it lost (if it loses any), its density and plating area
        self.metal_columns = [(f"thickness_um_{e.name}",
                               f"lost_um_{e.name}" if e.coulombic_efficiency < 1.0 else None,
                               e.density_molar, np.sum(m.if_area[e.faces]))
                              for e in self.lithium_metal]
        # all the lithium the electrodes could hold, x from 0 to 1 (mol, grid unit): the
        # scale of the conservation checks; as charge of the whole cell, of the step bounds
        self.lithium_scale = sum(
            float(np.sum(e.volume)) * e.max_concentration for e in m.intercalation) + float(
            np.sum(self._initial_lithium()))
        self.lithium_capacity = max(self.lithium_scale * FARADAY * self.area_scale,
                                    self.nominal_capacity)
        # a lithium electrode's scale (mol, grid unit): it is empty within EXHAUSTED of it
        self.stripping_scale = max(np.max(self._initial_lithium(), initial=0.0),
                                   self.nominal_capacity / FARADAY / self.area_scale)
        self.rows = []
        self.latest = None          # the last state's row (kept in rows or not: store_every)
        self.steps = []
        self.snapshots = []         # (time, step, u) at the end of every step
        self.fields = []            # (time, step, u) every `fields_every` accepted time steps
        self.fields_every = case.solver.fields_every
        self.store_every = case.solver.store_every
        self.accepted = 0
        self.spectra = []           # solver.impedance.Spectrum of every impedance step
        self.impedance_fields = []  # (step, frequency, cell data) of 2D/3D impedance steps
        self.refined = None         # a rerun on a refined grid: summary["refined"] of it
                                    # (solver.resolution)
        # a fit's hooks (solver.fit.evaluate): every impedance step at these frequencies (Hz)
        # in place of its own grid, and a predicate (k, step) after which the run stops
        self.spectrum_frequencies = None
        self.stop_after = None

    # ------------------------------------------------------------ public
    def run(self):
        m = self.model
        u = m.initial_state()
        try:
            u = self._solve(u, dt=None, history=None, drive=("current", 0.0))
        except NewtonFailure as exc:
            raise SolverError(f"the solver could not find the initial open-circuit state: {exc}") from None
        self.open_circuit_state = u.copy()
        n_li = self._initial_lithium()
        self.balance = guards.Balance(self.lithium_scale,
                                      sum(guards.lithium_by_electrode(m, u, n_li[:len(
                                          self.lithium_metal)])),
                                      double_layer=m.double_layer_charge(u),
                                      area_scale=self.area_scale)
        t = 0.0
        self.failure = None
        protocol = self.case.protocol
        position = 0
        while position < len(protocol):
            # k numbers the steps run (the `step` column, summary["steps"][k]); it differs
            # from the position in the protocol once a block has ended early
            k, step = len(self.steps), protocol[position]
            try:
                if step.mode == "impedance":
                    u = self._impedance_step(k, step, u, t, n_li)
                else:
                    step = with_end_current(step, self.nominal_capacity)
                    drive = drive_for_step(step, self.nominal_capacity,
                                           self.case.footprint_area)
                    u, t, n_li = self._run_step(k, step, drive, u, t, n_li)
            except SolverError as exc:
                self.failure = str(exc)
                break
            self.snapshots.append((t, k, u.copy()))
            reason = self.steps[-1].end_reason
            if reason == "solver_failed":
                break
            if self.stop_after is not None and self.stop_after(k, step):
                break
            if step.ends_block and reason in BLOCK_END_REASONS:
                position = step.block_end          # the rest of its block is skipped
            else:
                position += 1
        return self

    # ------------------------------------------------------------ one protocol step
    def _run_step(self, k, step, drive: StepDrive, u, t_start, n_li):
        m = self.model
        guards.refuse_unreachable_end(m, step, drive, u, self.nominal_capacity)
        record = StepRecord(mode=step.mode, key=step.key, cycle=step.cycle,
                            direction=drive.direction)
        if drive.kind == "current" and drive.sign != 0:
            record.applied_current_A = abs(drive.value)
            record.c_rate = abs(drive.value) / one_c_current(self.nominal_capacity)
        self.steps.append(record)
        t_char = drive.characteristic_time(self.nominal_capacity)
        dt_min = 1e-10 * t_char
        max_step = self.case.solver.max_step or t_char / 10.0
        dt = self.case.solver.initial_step or 1e-4 * t_char
        t0 = t_start
        t_end = t0 + step.until_time if step.until_time else np.inf
        max_duration, max_time_steps = guards.step_bounds(
            step, drive, self.lithium_capacity, max_step, self.case.solver.max_step is not None)
        u_start = u
        self.step_start = t_start
        self.balance.positive = guards.lithium_by_electrode(
            m, u, n_li[:len(self.lithium_metal)])[m.positive]

        # the instantaneous (ohmic and kinetic) response: a first, tiny backward-Euler step
        history = History()
        history.push(t0, u, np.concatenate([np.zeros(LITHIUM.start), n_li]))
        tiny = 1e-9 * t_char
        try:
            u = self._solve(u, tiny, history, drive.unit(self.area_scale), step=k)
        except NewtonFailure as exc:
            # an electrode surface driven empty or full at once: the current is more than
            # the electrode can pass at all, and the step delivers nothing
            reason = (self._limit_reason(exc.last, drive) if exc.last is not None
                      else None)
            if reason is None:
                raise self._fail(record, t0, k, step, exc) from None
            record.end_reason = reason
            where, why = guards.surface_at_limit(m, reason, exc.last, u_start,
                                                  drive.direction)
            how = "fills" if reason == "electrode_full" else "empties"
            record.message = (f"the current of step {k} ({step.mode}) {how} {where} at once: "
                              f"{why}, and the step delivered nothing")
            record.surface_gap = guards.surface_gaps(m, u_start, exc.last)
            self._record(t0, k, u, history.integrals[-1])
            self._close_record(record, limit_state=exc.last)
            return u, t0, n_li
        integrals = self._integrals_after(u, tiny, history)
        events = self._events(step, drive)
        reason = self._event_reached(events, u, integrals)
        if (reason == "until_voltage" and not self._hold_begins(step, drive, reason)
                and guards.voltage_out_of_range(m, u) is not None):
            # the instantaneous drop alone takes the voltage past the cutoff and out of the
            # range of a lithium cell (a current far beyond what the cell, or its series
            # resistance, can pass): the step delivers nothing, and the state before it is
            # the one recorded, so no unphysical voltage is written
            record.end_reason = reason
            record.message = guards.nothing_delivered(m, reason, step, drive, u_start, u,
                                                      m.tab_current(u) * self.area_scale)
            record.surface_gap = guards.surface_gaps(m, u_start, u_start)
            self._record(t0, k, u_start, history.integrals[-1])
            self._close_record(record)
            return u_start, t0, n_li
        t0 += tiny
        history = History()
        history.push(t0, u, integrals)
        self._check_state(record, k, step, t0, u, integrals)
        self._record(t0, k, u, integrals)
        if self._hold_begins(step, drive, reason):
            drive, events, history, reason = self._begin_hold(record, step, history, t_start)
        if reason is not None:
            record.message = guards.nothing_delivered(m, reason, step, drive, u_start, u,
                                                      m.tab_current(u) * self.area_scale)
        taken = 0
        while reason is None:
            if t_end - history.times[-1] <= 1e-9 * t_char:
                reason = "until_time"
                break
            t_n = history.times[-1]
            if t_n - t_start >= max_duration * (1 - 1e-12) or taken >= max_time_steps:
                record.duration_s = t_n - t_start
                raise self._fail(record, t_n, k, step, guards.bound_message(
                    step, t_n - t_start, max_duration, taken, max_time_steps))
            dt = min(dt, max_step, t_end - t_n, t_start + max_duration - t_n)
            u_new, s_new, dt, err, order = self._attempt(history, dt, drive, k, dt_min)
            if u_new is None:                      # Newton kept failing: an electrode limit?
                reason = self._limit_reason(history.states[-1], drive)
                if reason is None:
                    record.duration_s = t_n - t_start
                    raise self._fail(record, t_n, k, step, err)
                break
            if err > 1.0:
                dt *= max(0.2, 0.9 * err ** (-1.0 / (order + 1)))
                if dt < dt_min:
                    # the estimate does not shrink with the step: the solution is not smooth
                    # at the tolerance asked for (or Newton leaves noise of that size)
                    record.duration_s = t_n - t_start
                    raise self._fail(record, t_n, k, step, (
                        f"the time step fell below {dt_min:.3g} s with the local error "
                        f"estimate still {err:.3g} times solver.rtol"))
                continue
            values = [g(u_new, s_new) for _, g, _ in events]     # once for both tests below
            crossing = self._crossing(events, history, values)
            if crossing is not None:
                name, theta, close = crossing
                if not close:
                    dt = max(dt * min(max(theta, 0.02), 0.98), dt_min)
                    if dt > dt_min:
                        continue
                reason = name
            t_new = t_n + dt
            self._check_state(record, k, step, t_new, u_new, s_new)
            history.push(t_new, u_new, s_new)
            taken += 1
            self._record(t_new, k, u_new, s_new, keep=taken % self.store_every == 0)
            self.accepted += 1
            if self.fields_every and self.accepted % self.fields_every == 0:
                self.fields.append((t_new, k, u_new))
            self._report_progress(k, step, t_new - t0, u_new)
            if reason is None:
                reason = self._event_reached(events, u_new, s_new, values)
            growth = 2.0 if err == 0.0 else min(2.0, 0.9 * err ** (-1.0 / (order + 1)))
            dt = dt * max(growth, 0.2)
            if self._hold_begins(step, drive, reason):
                drive, events, history, reason = self._begin_hold(record, step, history,
                                                                  t_start)
                dt = self.case.solver.initial_step or 1e-4 * t_char
        record.end_reason = reason
        record.duration_s = history.times[-1] - t_start
        faradaic = abs(history.integrals[-1][SIGNED_CHARGE])
        # ended with no more than its double layers' charge: as if at once
        nothing = (reason != "until_time" and drive.kind == "current"
                   and faradaic < NOTHING_DELIVERED * self.nominal_capacity)
        if nothing and not record.message:
            record.message = guards.nothing_delivered(
                m, reason, step, drive, u_start, history.states[-1],
                m.tab_current(history.states[-1]) * self.area_scale)
        record.surface_gap = guards.surface_gaps(m, u_start, history.states[-1])
        if reason == "until_voltage" and guards.overpotential_ends(
                m, step, drive, u_start, history.states[-1], nothing):
            record.surface_gap = dict.fromkeys(record.surface_gap, 0.0)
        self._close_record(record)
        return history.states[-1], history.times[-1], history.integrals[-1][LITHIUM]

    def _impedance_step(self, k, step, u, t, n_li):
        """The impedance spectrum at the present state (solver.impedance): the operating
        point at open circuit (stoichiometries held, capacitances relaxed), recorded as the
        step's one row, then the small-signal impedance at each frequency. Takes no time;
        the run goes on from the operating point."""
        # its end_reason is set once the spectrum is done: a run interrupted before that
        # closes the step as "interrupted" (solver.api)
        record = StepRecord(mode=step.mode, key=step.key, cycle=step.cycle)
        self.steps.append(record)
        try:
            u0 = self._solve(u, dt=None, history=None, drive=("current", 0.0))
        except NewtonFailure as exc:
            raise self._fail(record, t, k, step,
                             f"no open-circuit operating point: {exc}") from None
        # the operating point holds the electrodes' lithium and relaxes the double layers:
        # the balances are taken from it
        m = self.model
        self.balance.double_layer += m.double_layer_charge(u0) - m.double_layer_charge(u)
        self.balance.positive = guards.lithium_by_electrode(
            m, u0, n_li[:len(self.lithium_metal)])[m.positive]
        self._record(t, k, u0, np.concatenate([np.zeros(LITHIUM.start), n_li]))
        frequencies = (frequency_grid(*step.frequencies, step.points_per_decade)
                       if self.spectrum_frequencies is None
                       else np.asarray(self.spectrum_frequencies, dtype=float))
        empty = self._empty_lithium(n_li)
        guards.refuse_blocking_without_double_layer(self.case, empty, step)
        blocking = np.concatenate([e.faces for e in empty]) if empty else ()
        small = SmallSignal(self.model, u0, small_signal_solver(self.model, self.linear_solver),
                            blocking=blocking)
        try:
            z = small.spectrum(frequencies)
            for f in step.field_frequencies if self.grid.dim > 1 else ():
                self.impedance_fields.append((k, f, interface_fields(self.model,
                                                                     small.response(f))))
        except SolverError as exc:
            raise self._fail(record, t, k, step, exc) from None
        self.spectra.append(Spectrum(k, frequencies, z))
        record.end_reason = "spectrum_done"
        self._close_record(record)
        state = {name: value for name, value in self.rows[-1].items()
                 if name not in ("time_s", "step", "current_A", "capacity_mAh_cm2",
                                 "energy_mWh_cm2")}
        record.details = {"state": state, "n_frequencies": int(frequencies.size),
                          "frequency_range_Hz": [float(frequencies.min()),
                                                 float(frequencies.max())],
                          "kramers_kronig_residual": kramers_kronig_residual(frequencies, z)}
        if empty:
            record.details["blocking_electrodes"] = [e.name for e in empty]
        return u0

    def _empty_lithium(self, n_li):
        """The lithium-metal electrodes that hold no lithium (within EXHAUSTED of none): an
        anode-free cell before its first charge, or one stripped to the end."""
        return [e for e, n in zip(self.lithium_metal, n_li)
                if n <= EXHAUSTED * self.stripping_scale]

    @staticmethod
    def _hold_begins(step, drive, reason):
        """A cccv step's constant-current phase reached its voltage: hold it from here."""
        return step.mode == "cccv" and drive.kind == "current" and reason == "until_voltage"

    def _begin_hold(self, record, step, history, t_start):
        """The constant-voltage phase of a cccv step, from the last accepted state: its drive,
        events, a history restarted there (the current's slope jumps) and the first event.

        In a stack whose cell reached its share of the voltage first (the stack still below
        it), the stack is held where it stands: held at the step's voltage, that cell would
        be charged past its share and the current would jump above the constant current."""
        reached = self.model.voltage(history.states[-1])
        drive = hold_drive(step, reached if step.voltage - reached > VOLTAGE_EVENT_TOL
                           else step.voltage)
        record.cv_start_s = history.times[-1] - t_start
        record.direction = drive.direction
        restart = History()
        restart.push(history.times[-1], history.states[-1], history.integrals[-1])
        events = self._events(step, drive)
        reached = self._event_reached(events, history.states[-1], history.integrals[-1])
        # that state's current is the constant-current phase's, not the hold's: which way
        # the hold drives the surfaces, and so whether one is at its limit, its first time
        # step says (a cell above `voltage` at the end of its usable range is discharged)
        return drive, events, restart, (None if reached in ("electrode_full",
                                                            "electrode_empty") else reached)

    def _attempt(self, history, dt, drive, k, dt_min):
        """One time step of size dt, shrinking it on Newton failure. Returns the new state,
        its integrals, the step size used, the scaled error estimate and the predictor order
        (or None, dt, the last failure, 0 when Newton failed down to dt_min)."""
        failure = f"the time step {dt:.3g} s is below its minimum {dt_min:.3g} s"
        while dt >= dt_min:
            guess, order = extrapolate(history, history.times[-1] + dt)
            try:
                u_new = self._solve(guess, dt, history, drive.unit(self.area_scale), step=k)
            except NewtonFailure as exc:
                failure = exc
                dt *= 0.25
                continue
            err = self._error(u_new, guess, order, drive) if order > 0 else 0.0
            return u_new, self._integrals_after(u_new, dt, history), dt, err, order
        if failure is None:         # the error control, not Newton, drove dt below dt_min
            failure = (f"the time step fell below its minimum ({dt_min:.3g} s) before the "
                       f"local error met solver.rtol")
        return None, None, dt, failure, 0

    def _solve(self, guess, dt, history, drive, step=None):
        m = self.model
        if dt is None:          # an equilibrium at fixed stoichiometry, capacitances relaxed
            def equations(u):
                return m.equilibrium_residual_and_jacobian(u, guess, drive)
        else:
            coeff, terms = bdf_coefficients(dt, history)
            columns = m.differential_columns
            hist = weighted_sum((a, history.states[idx][columns]) for a, idx in terms)

            def equations(u):
                return m.residual_and_jacobian(u, hist, coeff, drive)
        total = None
        if drive[0] == "voltage" and history is not None:
            # the held current to a tenth of what the error test asks of it (see _error)
            scale = max(abs(m.tab_current(history.states[-1])), self.current_floor)
            total = (self.tab_current_weights, 0.1 * self.case.solver.rtol * scale)
        in_time_step = dt is not None
        tol = (max(NEWTON_TOL, NEWTON_SHARE * self.case.solver.rtol) if in_time_step
               else NEWTON_TOL)
        result = newton_solve(equations,
                              self.linear_solver, guess, self.scales, self.bounded, tol=tol,
                              describe=m.describe, measured_by_row=self.current_unknowns,
                              rate=self.newton_rate, total=total)
        return result.u

    def _error(self, u_new, guess, order, drive):
        """Local error estimate (Milne's device) scaled by the tolerance: accept if <= 1.

        Measured on the stoichiometries and the cell voltage (in volts), and under a held
        voltage on the current too, relative to itself: a decaying current must not
        overshoot through zero when the steps grow.
        """
        m = self.model
        rtol = self.case.solver.rtol
        constant = 0.5 if order == 1 else 0.2
        dynamic = m.s_dynamic
        dx = np.abs(u_new[dynamic] - guess[dynamic]).max(initial=0.0)
        dv = abs(m.voltage(u_new) - m.voltage(guess))
        err = max(dx, dv)
        if drive.kind == "voltage":
            i_new, i_guess = m.tab_current(u_new), m.tab_current(guess)
            err = max(err, abs(i_new - i_guess) / max(abs(i_new), abs(i_guess),
                                                      self.current_floor))
        return constant * err / rtol

    # ------------------------------------------------------------ integrated scalars
    def _initial_lithium(self):
        """Moles of lithium in each lithium-metal electrode (none in an anode-free cell),
        then the inactive lithium of each (none yet)."""
        active = [np.sum(self.grid.cell_volumes[e.cells]) * e.density_molar
                  for e in self.lithium_metal]
        return np.concatenate([active, np.zeros(len(active))])

    def _integrals_after(self, u_new, dt, history):
        """Advance d/dt [Q, E, int V, n_Li, n_lost] = [|I|, |I| V, V, -I_Li/F, ...] with the
        BDF formula the electrodes use: n_Li + n_lost then balance the cathode's lithium to
        round-off, and Q the charge that the electrodes exchanged. Of the lithium plated
        (I_Li < 0) a share eta (the coulombic efficiency) stays active, the rest is lost."""
        m = self.model
        current, voltage = self._current_and_voltage(u_new)
        i_li = np.array([m.interface_current(u_new, e) for e in self.lithium_metal])
        lost = self.lost_share * (np.maximum(-i_li, 0.0) / FARADAY)
        faradaic = -m.interface_current(u_new, self.positive_electrode) * self.area_scale
        rates = np.concatenate([[abs(current), abs(current) * voltage, voltage, faradaic],
                                -i_li / FARADAY - lost, lost])
        a0, terms = bdf_coefficients(dt, history)
        return (rates - weighted_sum((a, history.integrals[idx]) for a, idx in terms)) / a0

    # ------------------------------------------------------------ events
    def _events(self, step, drive):
        """Functions that are positive during the step and cross zero at its end."""
        m = self.model
        events = []
        v_cut, i_cut = voltage_cutoff(step, drive), current_cutoff(step, drive)
        if v_cut is not None:
            sign = 1.0 if drive.sign > 0 else -1.0
            events.append(("until_voltage", lambda u, s: sign * (m.voltage(u) - v_cut),
                           VOLTAGE_EVENT_TOL))
            n_units = len(m.units)
            if n_units > 1:
                # a stack's cutoff holds for each of its cells too: the weakest one ends it
                events.append(("until_voltage",
                               lambda u, s: np.min(sign * (m.cell_voltages(u) - v_cut / n_units)),
                               VOLTAGE_EVENT_TOL / n_units))
        if i_cut is not None:
            events.append(("until_current",
                           lambda u, s: abs(m.tab_current(u)) * self.area_scale - i_cut,
                           1e-3 * i_cut))
        if self.lithium_metal and (drive.sign > 0 or drive.kind == "voltage"):
            # stripping (discharge, or a hold that discharges) can empty a lithium electrode;
            # a hold that plates on an empty one (an anode-free cell) goes on
            scale = self.stripping_scale

            def stripped(u, s):
                plating = np.array([m.interface_current(u, e) <= 0.0
                                    for e in self.lithium_metal])
                return np.min(s[self.active] + np.where(plating, scale, 0.0))

            events.append(("lithium_exhausted",
                           (lambda u, s: s[self.active].min()) if drive.kind == "current"
                           else stripped, EXHAUSTED * scale))
        if m.intercalation:
            # a surface driven to the end of its open-circuit data (or near x = 0 or 1) ends
            # the step (CellModel.surface_limits)
            margins = _LastResult(lambda u: m.surfaces_driven_to_limits(u, drive.direction))
            events.append(("electrode_full", lambda u, s: margins(u)[0], SURFACE_TOLERANCE))
            events.append(("electrode_empty", lambda u, s: margins(u)[1], SURFACE_TOLERANCE))
        return events

    @staticmethod
    def _event_reached(events, u, integrals, values=None):
        """The first event met at the state (values: its event functions there, if known)."""
        for k, (name, g, tol) in enumerate(events):
            if (g(u, integrals) if values is None else values[k]) <= tol:
                return name
        return None

    @staticmethod
    def _crossing(events, history, values):
        """The earliest event crossed in the trial step: (name, fraction of dt, close enough);
        values: the event functions at the trial state."""
        u_old, s_old = history.states[-1], history.integrals[-1]
        best = None
        for (name, g, tol), g_new in zip(events, values):
            if g_new >= 0.0:
                continue
            if g_new >= -tol:
                candidate = (name, 1.0, True)
            else:
                g_old = g(u_old, s_old)
                theta = g_old / (g_old - g_new) if g_old > g_new else 0.0
                candidate = (name, theta, False)
            if best is None or candidate[1] < best[1]:
                best = candidate
        return best

    def _limit_reason(self, u, drive):
        """The electrode limit the step's drive holds a surface at in state u, or None."""
        m = self.model
        if not m.intercalation:
            return None
        to_full, to_empty = m.surfaces_driven_to_limits(u, drive.direction)
        if to_full < SURFACE_LIMIT:
            return "electrode_full"
        if to_empty < SURFACE_LIMIT:
            return "electrode_empty"
        return None

    def state_violation(self, u, integrals):
        """What makes a state of the running step unphysical (solver.guards.violation)."""
        return guards.violation(self.model, u, integrals, integrals[self.active],
                                integrals[SIGNED_CHARGE], self.balance, self.model.describe,
                                n_lost=integrals[self.lost])

    def _check_state(self, record, k, step, t, u, integrals):
        """Raise a solver failure (the state is not recorded) if the state is unphysical."""
        self.balance.states += 1
        violation = self.state_violation(u, integrals)
        if violation is not None:
            # the step lasted to its last recorded state, whose capacity it reports
            kept = self.latest is not None and self.latest["step"] == k
            record.duration_s = (self.latest["time_s"] - self.step_start) if kept else 0.0
            raise self._fail(record, t, k, step, violation)

    def _fail(self, record, t, k, step, failure):
        record.end_reason = "solver_failed"
        record.message = (f"the solver could not continue in "
                          f"{place_in_run(k, step.mode, step.key, t)}: {failure}")
        self._close_record(record)
        return SolverError(record.message)

    # ------------------------------------------------------------ bookkeeping
    def _current_and_voltage(self, u):
        return self.model.tab_current(u) * self.area_scale, self.model.voltage(u)

    def _record(self, t, k, u, integrals, keep=True):
        """The time-series row of a state; kept in `rows` if `keep`, else only until the
        next one (`solver.store_every`: a step's last row is always kept)."""
        m = self.model
        current, voltage = self._current_and_voltage(u)
        per_mAh_cm2 = 1.0 / (SECONDS_PER_HOUR * 1e-3 * self.case.footprint_area * 1e4)
        row = {
            "time_s": t,
            "step": k,
            "current_A": current,
            "voltage_V": voltage,
            "capacity_mAh_cm2": integrals[CHARGE] * per_mAh_cm2,
            "energy_mWh_cm2": integrals[ENERGY] * per_mAh_cm2,
        }
        for name, output in m.outputs_by_name.items():
            row[name] = output(u)
        lost = integrals[self.lost]
        for (thickness, lost_name, density, area), n_li, n_lost in zip(
                self.metal_columns, integrals[self.active], lost):
            # spread over the interface it plates on and strips from (the footprint if planar)
            row[thickness] = n_li / density / area * 1e6
            if lost_name is not None:     # the inactive lithium, as a thickness
                row[lost_name] = n_lost / density / area * 1e6
        if len(m.units) > 1:
            for n, v in enumerate(m.cell_voltages(u), start=1):
                row[f"voltage_cell_{n}"] = float(v)
        self.latest = row
        if keep:
            self.rows.append(row)
        self.last_state, self.last_integrals = u, integrals

    def _close_record(self, record, limit_state=None):
        """Complete the record of a step from its last row (limit_state: the state that met
        the step's electrode limit, if not the last recorded one)."""
        if not self.rows:
            return
        if self.rows[-1] is not self.latest:
            self.rows.append(self.latest)
        last = self.rows[-1]
        integrals = self.last_integrals
        record.capacity_mAh_cm2 = last["capacity_mAh_cm2"]
        record.energy_mWh_cm2 = last["energy_mWh_cm2"]
        record.direction = step_direction(record.direction, integrals[SIGNED_CHARGE])
        record.mean_voltage_V = mean_voltage(record.direction, integrals[CHARGE],
                                             integrals[ENERGY], integrals[VOLT_SECONDS],
                                             record.duration_s, last["voltage_V"])
        if len(self.model.units) > 1:
            record.limiting_cell = self._limiting_cell(
                record, self.last_state if limit_state is None else limit_state, integrals)

    def _limiting_cell(self, record, u, integrals):
        """The stack's cell (1-based) that ended the step: on a lithium or electrode limit,
        the cell whose electrode reached it; else the cell nearest the voltage cutoff (lowest
        on discharge, highest on charge). None for a step that passed no current by design,
        and where another cell is as near, within the tolerance the end is met to: a tie
        (identical cells) has no one limiting cell."""
        m = self.model
        if not record.direction:
            return None
        if record.end_reason == "lithium_exhausted":
            layers = [e.layer for e in self.lithium_metal]
            margins, tolerance = integrals[self.active], EXHAUSTED * self.stripping_scale
        elif record.end_reason in ("electrode_full", "electrode_empty"):
            layers, margins = m.surface_margins(u, record.direction,
                                                record.end_reason == "electrode_full")
            tolerance = SURFACE_TOLERANCE
        else:
            margins = record.direction * m.cell_voltages(u)      # lowest on discharge
            layers = [m.electrodes[unit.positive].layer for unit in m.units]
            tolerance = VOLTAGE_EVENT_TOL / len(margins)
        nearest = _single_nearest(margins, tolerance)
        return None if nearest is None else m.unit_of_layer[layers[nearest]] + 1

    def _report_progress(self, k, step, elapsed, u):
        if self.progress is not None:
            self.progress(k, step, elapsed, self.model.voltage(u),
                          self.latest["capacity_mAh_cm2"])

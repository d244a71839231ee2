"""One experiment of a fit at given parameter values: its run, its model curve, and its
residuals against the measured curve (with their Jacobian in the fit's coordinates).

Residuals of an experiment (dimensionless, so that curves and end points can be summed):
- per measured point, (V_model(x) - V_measured) / voltage_error, x the capacity (or time)
  since the start of the measured step; where the model's step ended before x, V_model goes
  on with the curve's end slope, then its mean slope (model_at), so a model that runs out
  early is penalised at every point it did not reach, and a point near the end has a
  residual continuous and differentiable in the parameters whichever side of the end it
  falls on;
- when the experiment has an end, (x_end,model - x_end,measured) / (end_error x_end,measured):
  the end of the model's step is located on its cutoff by a secant through its last two
  points, so it moves smoothly with the parameters.
A voltage_error of 1 mV and an end_error of 0.5 % make a 1 mV miss at one point weigh as
much as missing the end capacity by 0.5 %; a long curve holds many points and the end only
one, so the curve dominates unless the data are a few points (then the end matters).

Residuals of an impedance experiment (a measured spectrum): per measured frequency the real
and the imaginary part of (Z_model - Z_measured) / (impedance_error |Z_measured|), relative
errors because |Z| spans decades over a spectrum. Z_model is computed at the measured
frequencies themselves: the run is the experiment's case as it is, except that its impedance
steps take the measured frequencies in place of their own grid (Simulation.
spectrum_frequencies) and the run stops after the measured step (Simulation.stop_after), so
the spectrum comes from the step's own operating point and checks, with no interpolation
between grid frequencies. Their Jacobian is always by forward differences of whole runs:
the forward sensitivities (solver.sensitivity) follow the time stepping and have no
derivative of a small-signal solve; a spectrum's run is a few Newton solves and one complex
solve per frequency, so a difference costs little.

The fit's coordinates are theta in [0, 1] per parameter (log or linear between its bounds,
spec.Parameter). Models are built once per experiment and updated in place
(`CellModel.update_parameters`) when every fitted key is a material value, the series
resistance, the temperature or a protocol quantity; a key that changes the geometry (a
layer thickness) builds the grid and model again for each evaluation.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
from scipy.interpolate import PchipInterpolator

from ..errors import InputError, SolverError
from ..protocol import theoretical_capacities
from ..results import measurable_rows
from ..sensitivity import Perturbation, SensitivitySimulation
from ..simulate import Simulation

THETA_STEP = 1e-7           # forward step in theta for dR/dtheta (sensitivities)
DIFFERENCE_STEP = 1e-3      # step in theta for differences of whole runs
# a model step that ends before this share of the measured curve delivered nothing of it:
# its residuals then hardly move with the parameters (a plateau the optimiser cannot leave)
NOTHING_DELIVERED = 0.01
# the ends whose time the forward sensitivities follow: a voltage cutoff (located by the
# secant of model_at) and a set time. A step that its state ends (an electrode's surface at
# the end of its OCV table, its lithium used up, a current falling to until_current) ends at
# a time that moves with the parameters, which sensitivities at that time leave out: they
# would take the last node's voltage, on the steep end of an OCV, for a derivative. A step
# at or after a stack's cccv hold at the voltage it reached (SensitivitySimulation.
# held_at_reached) takes differences of runs too: that voltage moves with the parameters
SENSITIVITY_ENDS = ("until_voltage", "until_time")
# beyond the model's end its curve keeps its end slope this far in voltage (model_at): more
# than the noise of a last point on the cutoff, and than the voltage there moves in a
# difference step (10-20 mV at 10C on the steep end of the LiCoO2 OCV)
END_SLOPE_V = 0.05
IN_PLACE_PREFIXES = ("materials.", "protocol.", "solver.")
DRIVE_PREFIXES = ("protocol.",)
IN_PLACE_KEYS = ("cell.series_resistance", "cell.temperature", "cell.nominal_capacity")


def updatable_in_place(key: str) -> bool:
    return key.startswith(IN_PLACE_PREFIXES) or key in IN_PLACE_KEYS or (
        key.startswith("cell.layers.") and key.endswith(".initial_stoichiometry"))


@dataclass
class Curve:
    """The model's measured step: nodes (x, V), their sensitivities (n, P) or None, how the
    step ended and at which cutoff."""
    x: np.ndarray
    voltage: np.ndarray
    dx: np.ndarray | None
    dvoltage: np.ndarray | None
    end_reason: str
    cutoff: float | None
    failed: bool = False
    message: str = ""
    result: object = None                 # the Result of the run (for plots and validation)
    extra: dict = field(default_factory=dict)


@dataclass
class ModelSpectrum:
    """The model's measured impedance step: Z (ohm cm^2 of footprint, complex) at the
    measured frequencies; failed runs give Z = 0 (finite residuals, as a failed curve)."""
    frequency: np.ndarray
    z: np.ndarray
    end_reason: str
    failed: bool = False
    message: str = ""
    result: object = None


class ExperimentModel:
    """The runs of one experiment; keeps its grid and models between evaluations."""

    def __init__(self, spec, experiment):
        self.spec = spec
        self.experiment = experiment
        self.in_place = all(updatable_in_place(p.key) for p in spec.parameters)
        self._models = {}              # slot (None: the run, j: perturbation j) -> (grid, model)
        self._uses = None              # the terms each parameter moves (found on the first run)

    # ------------------------------------------------------------ models
    def _model(self, case, slot):
        from ..api import build_grid
        from ..model import CellModel

        kept = self._models.get(slot)
        if kept is not None and self.in_place:
            kept[1].update_parameters(case)
            return kept
        if self.in_place and slot is not None and None in self._models:
            grid = self._models[None][0]          # perturbed models share the run's grid
        else:
            grid = build_grid(case)
        made = (grid, CellModel(case, grid))
        self._models[slot] = made
        return made

    @staticmethod
    def _nominal(case, model):
        return case.nominal_capacity or min(c for c in theoretical_capacities(case, model).values()
                                            if c > 0)

    # ------------------------------------------------------------ runs
    def run(self, theta, sensitivities=False):
        """The model curve at theta (an array in [0, 1]), with d/dtheta when asked; for an
        impedance experiment its ModelSpectrum (never with sensitivities). An input error
        found by the run (a cutoff the cell starts beyond, a step it does not reach) names
        the experiment."""
        try:
            return self._run(theta, sensitivities)
        except InputError as exc:
            raise InputError(f"experiment {self.experiment.name}: {exc.key}", exc.value,
                             exc.expected) from None

    def _run(self, theta, sensitivities):
        from ..api import simulation_result

        spec = self.spec
        values = [p.from_unit(t) for p, t in zip(spec.parameters, theta)]
        case = spec.case(values, self.experiment)
        grid, model = self._model(case, None)
        started = time.perf_counter()
        if sensitivities:
            perturbations = []
            nominal = self._nominal(case, model)
            for j, p in enumerate(spec.parameters):
                step = THETA_STEP if theta[j] < 0.5 else -THETA_STEP
                moved = list(theta)
                moved[j] += step
                case_j = spec.case([q.from_unit(t) for q, t in zip(spec.parameters, moved)],
                                   self.experiment)
                _, model_j = self._model(case_j, j)
                perturbations.append(Perturbation(model_j, step,
                                                  self._nominal(case_j, model_j) / nominal))
            sim = SensitivitySimulation(case, grid, perturbations, model=model,
                                        uses=self._uses if self.in_place else None)
            self._uses = sim.uses
        else:
            sim = Simulation(case, grid, model=model)
        spectrum = self.experiment.kind == "impedance"
        if spectrum:
            self._measure_spectrum(sim)
        try:
            sim.run()
        except SolverError as exc:       # the initial state could not be found
            if spectrum:
                return self._failed_spectrum(str(exc))
            return Curve(np.zeros(0), np.zeros(0), None, None, "solver_failed", None, True,
                         str(exc))
        result = simulation_result(sim, started)
        if spectrum:
            return self._spectrum(sim, result)
        return self._curve(sim, case, result, sensitivities)

    def _measure_spectrum(self, sim):
        """Impedance steps at the measured frequencies; no run past the measured step."""
        e = self.experiment
        sim.spectrum_frequencies = e.x
        sim.stop_after = ((lambda k, step: k == e.step) if e.step is not None
                          else (lambda k, step: step.mode == "impedance"))

    def _failed_spectrum(self, message, result=None):
        e = self.experiment
        return ModelSpectrum(e.x, np.zeros(e.x.size, dtype=complex), "solver_failed", True,
                             message, result)

    def _spectrum(self, sim, result) -> ModelSpectrum:
        e = self.experiment
        by_step = {s.step: s for s in sim.spectra}
        k = e.step if e.step is not None else min(by_step, default=None)
        if k in by_step:
            return ModelSpectrum(e.x, by_step[k].z_ohm_cm2, sim.steps[k].end_reason,
                                 result=result)
        reached = k is not None and k < len(sim.steps)
        if (reached and sim.steps[k].mode != "impedance") or not (
                sim.failure or any(s.end_reason == "solver_failed" for s in sim.steps)):
            raise InputError("step", e.step, "a step that the run reaches (an impedance step)")
        message = sim.failure or next((s.message for s in sim.steps
                                       if s.end_reason == "solver_failed"), "")
        return self._failed_spectrum(message, result)

    def _curve(self, sim, case, result, sensitivities) -> Curve:
        from ..protocol import drive_for_step, voltage_cutoff

        e = self.experiment
        k = e.step
        if k is None:
            k = next((n for n, s in enumerate(sim.steps) if s.mode in ("discharge", "charge")),
                     None)
        if k is None or k >= len(sim.steps):
            raise InputError("step", e.step,
                             "a step that the run reaches (a discharge or charge step)")
        record = sim.steps[k]
        rows = [r for r, row in enumerate(sim.rows) if row["step"] == k]
        start = 0.0
        if k > 0:
            previous = [row["time_s"] for row in sim.rows if row["step"] == k - 1]
            start = previous[-1] if previous else 0.0
        # the curve a measurement could have sampled (after the capacitive transient)
        elapsed = np.array([sim.rows[r]["time_s"] for r in rows]) - start
        rows = [r for r, keep in zip(rows, measurable_rows(elapsed)) if keep]
        if e.abscissa == "capacity":
            x = np.array([sim.rows[r]["capacity_mAh_cm2"] for r in rows])
        else:
            x = np.array([sim.rows[r]["time_s"] for r in rows]) - start
        voltage = np.array([sim.rows[r]["voltage_V"] for r in rows])
        dx = dv = None
        if sensitivities and (record.end_reason in SENSITIVITY_ENDS
                              or record.end_reason == "solver_failed") \
                and not any(held <= k for held in sim.held_at_reached):
            dv = np.array([sim.row_sensitivities[r][0] for r in rows]).reshape(len(rows), -1)
            dx = (np.array([sim.row_sensitivities[r][1] for r in rows]).reshape(len(rows), -1)
                  if e.abscissa == "capacity" else np.zeros_like(dv))
        step = next((s for s in case.protocol if s.key == record.key), None)
        cutoff = None
        if step is not None:
            drive = drive_for_step(step, sim.nominal_capacity, case.footprint_area)
            cutoff = voltage_cutoff(step, drive)
        if cutoff is not None and case.n_units > 1 and voltage.size \
                and record.end_reason == "until_voltage":
            # a stack's step ends where its weakest cell meets until_voltage / n_cells, the
            # stack then above its own cutoff (unless the cells are alike): the end is at the
            # stack voltage the run located it at, not extrapolated down to the stack cutoff
            cutoff = float(voltage[-1])
        return Curve(x, voltage, dx, dv, record.end_reason, cutoff,
                     record.end_reason == "solver_failed", record.message, result)


# ------------------------------------------------------------------------------------------
# residuals

def model_at(x_nodes, v_nodes, x_data, end_reason, cutoff):
    """(V_model at the measured x, the model's end x): PCHIP through the nodes up to the
    end, located on the cutoff by the secant through the last two nodes; beyond the end,
    that secant's line for END_SLOPE_V, then the line of the step's mean slope (PCHIP
    joins them smoothly).

    The curve goes on with its own slope at its end (PCHIP's slope at a node between two
    equal secants is that secant), so that the residual of a measured point moves smoothly
    as the model's end passes it. Held at the cutoff beyond the end, a last point on the
    steep end of an OCV had a residual that moved steeply with the parameters on one side
    of the end and not at all on the other: sensitivities and differences of runs disagreed
    there by orders of magnitude, and intervals changed 7-fold with the side it fell on."""
    x_nodes, keep = np.unique(x_nodes, return_index=True)
    v_nodes = v_nodes[keep]
    if x_nodes.size == 0:        # no curve at all (no initial state): 0 V, finite residuals
        return np.zeros(x_data.shape), 0.0
    # the secant's second node: far enough back that the slope is not round-off (a cutoff
    # located very closely can leave a last step of almost nothing); the nodes between it
    # and the end are dropped, so that the curve's last piece is that secant
    apart = np.flatnonzero(x_nodes < x_nodes[-1] - 1e-4 * abs(x_nodes[-1]))
    if not apart.size:
        return np.full(x_data.shape, v_nodes[-1]), x_nodes[-1]
    before = apart[-1]
    x_end, v_end = x_nodes[-1], v_nodes[-1]
    slope = (v_end - v_nodes[before]) / (x_end - x_nodes[before])
    x_line, v_line = list(x_nodes[:before + 1]), list(v_nodes[:before + 1])
    if end_reason == "until_voltage" and cutoff is not None and slope != 0.0:
        # (the last node may lie a little past the cutoff: the end then moves back smoothly)
        x_end, v_end = max(x_end + (cutoff - v_end) / slope, x_nodes[before]), cutoff
    if x_end > x_line[-1]:
        x_line.append(x_end)
        v_line.append(v_end)
    else:
        v_line[-1] = v_end
    # beyond the end: the end slope for END_SLOPE_V, then the step's mean slope. A slope of
    # nodes at the steep end moves with the parameters at fixed time steps, unlike runs'
    # adaptive ones: neither it nor the reach it sets may enter the far line, which is the
    # mean slope's through the end moved 2 END_SLOPE_V (a piece between nodes whose
    # neighbouring secants are its own is straight; PCHIP bends from x_end + reach to
    # x_end + 4 reach)
    span = x_end - x_nodes[0]
    mean = (v_end - v_nodes[0]) / span if span > 0 else slope
    reach = max(span, x_nodes[-1] - x_nodes[before])
    if slope != 0.0:
        reach = min(reach, END_SLOPE_V / abs(slope))
    turn = v_end + 2 * slope * reach
    far = x_end + reach * np.array([3.0, 4.0, 5.0])
    far[-1] = max(far[-1], float(np.max(x_data, initial=x_end)) + reach)
    x_line += [x_end + reach, x_end + 2 * reach, *far]
    v_line += [v_end + slope * reach, turn, *(turn + mean * (far - x_end))]
    return PchipInterpolator(x_line, v_line)(np.maximum(x_data, x_nodes[0])), x_end


def delivered(experiment, curve: Curve) -> tuple[float, float]:
    """(how far the model's step went, how far the measured curve goes: its end, or its
    last point without one), in capacity or time as the data are."""
    span = experiment.end if experiment.end is not None else float(np.max(experiment.x))
    return (float(np.max(curve.x)) if curve.x.size else 0.0), span


def delivered_nothing(experiment, output) -> bool:
    """Whether a curve experiment's model step (not failed) ended before NOTHING_DELIVERED
    of the measured curve."""
    if experiment.kind != "curve" or output.failed:
        return False
    reached, span = delivered(experiment, output)
    return span > 0.0 and reached < NOTHING_DELIVERED * span


def spectrum_residuals(experiment, spectrum: ModelSpectrum, settings):
    """The real parts, then the imaginary parts, of (Z_model - Z_measured) /
    (impedance_error |Z_measured|)."""
    measured = experiment.impedance
    scaled = (spectrum.z - measured) / (settings["impedance_error"] * np.abs(measured))
    return np.concatenate([scaled.real, scaled.imag])


def rmse_percent(spectrum: ModelSpectrum, measured):
    """The root mean square of |Z_model - Z_measured| / |Z_measured|, in %."""
    return float(np.sqrt(np.mean(np.abs((spectrum.z - measured) / np.abs(measured)) ** 2))
                 * 100.0)


def residuals_of(experiment, output, settings, jacobian=False):
    """(residuals, their d/dtheta or None) of any experiment from its run's output."""
    if experiment.kind == "impedance":
        return spectrum_residuals(experiment, output, settings), None
    r, J, _, _ = experiment_residuals(experiment, output, settings, jacobian=jacobian)
    return r, J


def experiment_residuals(experiment, curve: Curve, settings, jacobian=True):
    """(residuals, their d/dtheta or None, V_model at the measured x, model end x)."""
    e = experiment
    v_model, x_end = model_at(curve.x, curve.voltage, e.x, curve.end_reason, curve.cutoff)
    scale_v = settings["voltage_error"]
    r = [(v_model - e.voltage) / scale_v]
    end_scale = None
    if e.end is not None:
        end_scale = settings["end_error"] * e.end
        r.append(np.array([(x_end - e.end) / end_scale]))
    r = np.concatenate(r)
    if not jacobian or curve.dvoltage is None:
        return r, None, v_model, x_end
    P = curve.dvoltage.shape[1]
    J = np.empty((r.size, P))
    for j in range(P):
        dx, dv = curve.dx[:, j], curve.dvoltage[:, j]
        size = max(np.max(np.abs(dv)), np.max(np.abs(dx)) / max(abs(curve.x[-1]), 1e-300), 1e-12)
        eps = 1e-6 / size
        plus = model_at(curve.x + eps * dx, curve.voltage + eps * dv, e.x, curve.end_reason,
                        curve.cutoff)
        minus = model_at(curve.x - eps * dx, curve.voltage - eps * dv, e.x, curve.end_reason,
                         curve.cutoff)
        J[:e.x.size, j] = (plus[0] - minus[0]) / (2 * eps) / scale_v
        if end_scale is not None:
            J[-1, j] = (plus[1] - minus[1]) / (2 * eps) / end_scale
    return r, J, v_model, x_end


class Objective:
    """The fit's residual vector over its fit experiments, and its Jacobian, in theta;
    counts evaluations and keeps the last one (least_squares asks for the Jacobian at the
    point it just evaluated). With jacobian = "sensitivities" the curves' rows come from
    forward sensitivities and the spectra's from differences of whole runs; with
    "differences" every row from differences."""

    def __init__(self, spec, experiments=None):
        self.spec = spec
        self.models = {e.name: ExperimentModel(spec, e) for e in spec.experiments}
        self.experiments = experiments if experiments is not None else spec.fitted
        self.method = spec.settings["jacobian"]
        # protocol quantities move the drive and the events, not the model's terms: their
        # columns come from differences of whole runs (a sensitivity would be zero)
        self.difference_columns = [j for j, p in enumerate(spec.parameters)
                                   if p.key.startswith(DRIVE_PREFIXES)]
        self.evaluations = 0
        self.model_runs = 0
        self._last = None
        # the experiments whose model delivered nothing at the first point evaluated
        self.nothing_at_start = None

    def evaluate(self, theta, jacobian=False, experiments=None, differences=True):
        """(r, J or None, model outputs by name). differences=False: no runs for the rows
        sensitivities do not give (J is then None; the curves still carry sensitivities)."""
        theta = np.asarray(theta, dtype=float)
        experiments = experiments if experiments is not None else self.experiments
        sens = jacobian and self.method == "sensitivities"
        r, blocks, outputs = self._run(theta, sens, experiments)
        J = self._complete(theta, r, blocks) if jacobian and differences else None
        return r, J, outputs

    def _run(self, theta, sens, experiments):
        """(r, [(experiment, its rows, its Jacobian block or None)], outputs by name)."""
        parts, blocks, outputs = [], [], {}
        start = 0
        for e in experiments:
            with_sens = sens and e.kind == "curve"
            output = self.models[e.name].run(theta, sensitivities=with_sens)
            self.model_runs += 1
            r, J = residuals_of(e, output, self.spec.settings, jacobian=with_sens)
            # (J None otherwise: an end the sensitivities do not follow, differences of runs)
            if with_sens and J is None and output.failed:   # no run at all: nothing moves it
                J = np.zeros((r.size, theta.size))
            parts.append(r)
            blocks.append((e, slice(start, start + r.size), J))
            start += r.size
            outputs[e.name] = output
        return np.concatenate(parts), blocks, outputs

    def _complete(self, theta, r, blocks):
        """The Jacobian: the blocks sensitivities gave, forward differences of whole runs
        (away from the nearer bound) for the others."""
        J = np.empty((r.size, theta.size))
        todo = []                         # (experiment, its rows, the columns to difference)
        for e, rows, block in blocks:
            if block is None:
                todo.append((e, rows, range(theta.size)))
            else:
                J[rows] = block
                if self.difference_columns and e is not None:
                    todo.append((e, rows, self.difference_columns))
        for j in range(theta.size):
            items = [(e, rows) for e, rows, columns in todo if j in columns]
            if not items:
                continue
            step = DIFFERENCE_STEP if theta[j] < 0.5 else -DIFFERENCE_STEP
            moved = theta.copy()
            moved[j] += step
            for e, rows in items:
                output = self.models[e.name].run(moved)
                self.model_runs += 1
                moved_r = residuals_of(e, output, self.spec.settings)[0]
                J[rows, j] = (moved_r - r[rows]) / step
        return J

    # least_squares' callables. With sensitivities the curves' Jacobian comes with every
    # evaluation (a fraction of a run's cost) and is handed over when asked for; differences
    # of whole runs are computed only when asked for.
    def residuals(self, theta):
        theta = np.array(theta, dtype=float)
        r, blocks, outputs = self._run(theta, self.method == "sensitivities", self.experiments)
        if self.nothing_at_start is None:
            self.nothing_at_start = [e.name for e in self.experiments
                                     if delivered_nothing(e, outputs[e.name])]
        self.evaluations += 1
        self._last = (theta, r, blocks)
        return r

    def jacobian(self, theta):
        if self._last is None or not np.array_equal(self._last[0], theta):
            self.residuals(theta)
        theta, r, blocks = self._last
        J = self._complete(theta, r, blocks)
        self._last = (theta, r, [(None, slice(0, r.size), J)])
        return J

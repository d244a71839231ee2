"""One experiment of a fit at given parameter values: its run, its model curve, and its
residuals against the measured curve (with their Jacobian in the fit's coordinates).

Residuals of an experiment (dimensionless, so that curves and end points can be summed):
- per measured point, (V_model(x) - V_measured) / voltage_error, x the capacity (or time)
  since the start of the measured step; where the model's step ended before x, V_model is
  the voltage it ended at (its cutoff), so a model that runs out early is penalised at every
  point it did not reach;
- when the experiment has an end, (x_end,model - x_end,measured) / (end_error x_end,measured):
  the end of the model's step is located on its cutoff by a secant through its last two
  points, so it moves smoothly with the parameters.
A voltage_error of 1 mV and an end_error of 0.5 % make a 1 mV miss at one point weigh as
much as missing the end capacity by 0.5 %; a long curve holds many points and the end only
one, so the curve dominates unless the data are a few points (then the end matters).

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
from ..sensitivity import Perturbation, SensitivitySimulation
from ..simulate import Simulation

THETA_STEP = 1e-7           # forward step in theta for dR/dtheta (sensitivities)
DIFFERENCE_STEP = 1e-3      # step in theta for differences of whole runs
IN_PLACE_PREFIXES = ("materials.", "protocol.", "solver.")
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
    def run(self, theta, sensitivities=False) -> Curve:
        """The model curve at theta (an array in [0, 1]); with d/dtheta when asked."""
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
        try:
            sim.run()
        except SolverError as exc:       # the initial state could not be found
            return Curve(np.zeros(0), np.zeros(0), None, None, "solver_failed", None, True,
                         str(exc))
        result = simulation_result(sim, started)
        return self._curve(sim, case, result, sensitivities)

    def _curve(self, sim, case, result, sensitivities) -> Curve:
        from ..protocol import drive_for_step, voltage_cutoff

        e = self.experiment
        k = e.step
        if k is None:
            k = next((n for n, s in enumerate(sim.steps) if s.mode in ("discharge", "charge")),
                     None)
        if k is None or k >= len(sim.steps):
            raise InputError(f"experiment {e.name}: step", e.step,
                             "a step that the run reaches (a discharge or charge step)")
        record = sim.steps[k]
        rows = [r for r, row in enumerate(sim.rows) if row["step"] == k]
        start = 0.0
        if k > 0:
            previous = [row["time_s"] for row in sim.rows if row["step"] == k - 1]
            start = previous[-1] if previous else 0.0
        if e.abscissa == "capacity":
            x = np.array([sim.rows[r]["capacity_mAh_cm2"] for r in rows])
        else:
            x = np.array([sim.rows[r]["time_s"] for r in rows]) - start
        voltage = np.array([sim.rows[r]["voltage_V"] for r in rows])
        dx = dv = None
        if sensitivities:
            dv = np.array([sim.row_sensitivities[r][0] for r in rows]).reshape(len(rows), -1)
            dx = (np.array([sim.row_sensitivities[r][1] for r in rows]).reshape(len(rows), -1)
                  if e.abscissa == "capacity" else np.zeros_like(dv))
        step = next((s for s in case.protocol if s.key == record.key), None)
        cutoff = None
        if step is not None:
            drive = drive_for_step(step, sim.nominal_capacity, case.footprint_area)
            cutoff = voltage_cutoff(step, drive)
        return Curve(x, voltage, dx, dv, record.end_reason, cutoff,
                     record.end_reason == "solver_failed", record.message, result)


# ------------------------------------------------------------------------------------------
# residuals

def model_at(x_nodes, v_nodes, x_data, end_reason, cutoff):
    """(V_model at the measured x, the model's end x): PCHIP through the nodes, the end
    located on the cutoff by a secant through the last two nodes, the cutoff held beyond."""
    x_nodes, keep = np.unique(x_nodes, return_index=True)
    v_nodes = v_nodes[keep]
    if x_nodes.size == 0:        # no curve at all (no initial state): 0 V, finite residuals
        return np.zeros(x_data.shape), 0.0
    end_voltage = v_nodes[-1]
    x_end = x_nodes[-1]
    # the secant's second node: far enough back that the slope is not round-off (a cutoff
    # located very closely can leave a last step of almost nothing)
    apart = np.flatnonzero(x_nodes < x_nodes[-1] - 1e-4 * abs(x_nodes[-1]))
    if end_reason == "until_voltage" and cutoff is not None and apart.size \
            and v_nodes[-1] != v_nodes[apart[-1]]:
        before = apart[-1]
        slope = (x_nodes[-1] - x_nodes[before]) / (v_nodes[-1] - v_nodes[before])
        # (the last node may lie a little past the cutoff: the end then moves back smoothly)
        x_end = max(x_nodes[-1] + (cutoff - v_nodes[-1]) * slope, x_nodes[before])
        keep = x_nodes < x_end
        x_nodes = np.append(x_nodes[keep], x_end)
        v_nodes = np.append(v_nodes[keep], cutoff)
        end_voltage = cutoff
    if x_nodes.size == 1:
        return np.where(x_data <= x_end, v_nodes[0], end_voltage), x_end
    inside = np.clip(x_data, x_nodes[0], x_end)
    v = PchipInterpolator(x_nodes, v_nodes)(inside)
    return np.where(x_data <= x_end, v, end_voltage), x_end


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
    point it just evaluated)."""

    def __init__(self, spec, experiments=None):
        self.spec = spec
        self.models = {e.name: ExperimentModel(spec, e) for e in spec.experiments}
        self.experiments = experiments if experiments is not None else spec.fitted
        self.method = spec.settings["jacobian"]
        self.evaluations = 0
        self.model_runs = 0
        self._last = None

    def evaluate(self, theta, jacobian=False, experiments=None):
        """(r, J or None, curves by name)."""
        theta = np.asarray(theta, dtype=float)
        experiments = experiments if experiments is not None else self.experiments
        sens = jacobian and self.method == "sensitivities"
        parts, jacobians, curves = [], [], {}
        for e in experiments:
            curve = self.models[e.name].run(theta, sensitivities=sens)
            self.model_runs += 1
            r, J, _, _ = experiment_residuals(e, curve, self.spec.settings, jacobian=sens)
            parts.append(r)
            if sens and J is None:              # no run at all: nothing moves it
                J = np.zeros((r.size, theta.size))
            jacobians.append(J)
            curves[e.name] = curve
        r = np.concatenate(parts)
        J = np.vstack(jacobians) if sens else None
        if jacobian and not sens:
            J = self._differences(theta, r, experiments)
        return r, J, curves

    def _differences(self, theta, r, experiments):
        """Forward differences of whole runs, away from the nearer bound."""
        J = np.empty((r.size, theta.size))
        for j in range(theta.size):
            step = DIFFERENCE_STEP if theta[j] < 0.5 else -DIFFERENCE_STEP
            moved = theta.copy()
            moved[j] += step
            parts = []
            for e in experiments:
                curve = self.models[e.name].run(moved)
                self.model_runs += 1
                parts.append(experiment_residuals(e, curve, self.spec.settings, False)[0])
            J[:, j] = (np.concatenate(parts) - r) / step
        return J

    # least_squares' callables. With sensitivities the Jacobian comes with every evaluation
    # (a fraction of a run's cost) and is handed over when asked for; differences of whole
    # runs are computed only when asked for.
    def residuals(self, theta):
        sens = self.method == "sensitivities"
        r, J, _ = self.evaluate(theta, jacobian=sens)
        self.evaluations += 1
        self._last = (np.array(theta, dtype=float), r, J)
        return r

    def jacobian(self, theta):
        if self._last is None or not np.array_equal(self._last[0], theta):
            self.residuals(theta)
        theta, r, J = self._last
        if J is None:
            J = self._differences(theta, r, self.experiments)
        return J

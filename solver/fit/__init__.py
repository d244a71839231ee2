"""Parameter identification from measured curves (`thinfilm fit`), with the statistics that
say what the data determine, and predictions of the experiments it did not see.

    solver.fit.fit("fit.toml", out="out/fit")      # -> FitResult; writes fit.json, ...

Method: bounded nonlinear least squares (scipy.optimize.least_squares, trust region
reflective) in theta in [0, 1]^n (each parameter log- or linearly mapped onto its bounds),
from several starts: the base case's values, then points of a scrambled Halton sequence
(scipy.stats.qmc). The Jacobian comes from forward sensitivities of the discrete model
(solver.sensitivity; `jacobian = "differences"` takes forward differences of whole runs
instead; measured impedance spectra always take differences, solver.fit.evaluate). Starts are independent and run on Dask like sweeps (a local cluster of worker
processes, or a scheduler's address); each finished start is kept in OUT/starts/ under a
hash of everything it depends on, so running the fit again recomputes only what is missing.
The best start's Jacobian gives the confidence intervals and correlations
(solver.fit.statistics); every experiment, fitted or predicted, is then run once more at the
optimum for the report.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import InputError
from .evaluate import Objective
from .spec import FitSpec, base_values, load_fit

__all__ = ["fit", "load_fit", "FitResult", "run_start", "start_points"]

INTERIOR = 1e-6          # starts are moved this far inside the bounds (trust region reflective)
# a measured curve whose last point is further than this from the cutoff its model step ends
# on has stopped before the end (a cycler logs the point where it meets its cutoff)
END_GAP_V = 0.05
# a fit whose weighted residuals' rms exceeds this misses its data by far more than the
# errors it was told (1 at a fit to within the noise)
MISFIT_LIMIT = 30.0


@dataclass
class FitResult:
    """`summary` equals fit.json; `fitted` is the fitted case dict (fitted.toml);
    `curves` the model curves at the optimum by experiment name; `spec` the fit file."""
    summary: dict
    fitted: dict
    curves: dict
    spec: FitSpec
    written: list = field(default_factory=list)

    @property
    def values(self) -> dict:
        return {k: float(v["value"]) for k, v in self.summary["parameters"].items()}


def start_points(spec: FitSpec) -> list[np.ndarray]:
    """theta of each start: the base case's values, then the points of a scrambled Halton
    sequence (seeded). Its first points do not depend on how many are asked for (a Latin
    hypercube's do), so a fit run again with more starts keeps the ones it has."""
    from scipy.stats import qmc

    first = np.array([p.to_unit(v) for p, v in zip(spec.parameters, base_values(spec))])
    points = [first]
    n = spec.settings["starts"] - 1
    if n > 0:
        sampler = qmc.Halton(d=len(spec.parameters), scramble=True, seed=spec.settings["seed"])
        points += list(sampler.random(n))
    return [np.clip(p, INTERIOR, 1 - INTERIOR) for p in points]


def run_start(spec: FitSpec, theta0) -> dict:
    """One least-squares start (in a Dask worker). Never raises for a model problem."""
    from scipy.optimize import least_squares

    from ..errors import SolverError

    started = time.perf_counter()
    objective = Objective(spec)
    out = {"theta0": [float(t) for t in theta0], "status": "ok", "message": ""}
    try:
        solution = least_squares(objective.residuals, np.asarray(theta0, dtype=float),
                                 jac=objective.jacobian, bounds=(0.0, 1.0), method="trf",
                                 max_nfev=spec.settings["max_evaluations"], ftol=1e-8,
                                 xtol=1e-8, gtol=1e-8)
        J = objective.jacobian(solution.x)
        out.update(theta=solution.x.tolist(), cost=float(solution.cost),
                   residuals=solution.fun.tolist(), jacobian=np.asarray(J).tolist(),
                   message=str(solution.message), optimizer_status=int(solution.status))
    except InputError as exc:           # the case at these values, or at any (fit() tells)
        out.update(status="invalid_input", message=str(exc),
                   input_error=[exc.key, exc.value, exc.expected])
    except (SolverError, ValueError, np.linalg.LinAlgError) as exc:
        out.update(status="error", message=f"{type(exc).__name__}: {exc}")
    out.update(evaluations=objective.evaluations, model_runs=objective.model_runs,
               nothing_at_start=objective.nothing_at_start or [],
               wall_time_s=time.perf_counter() - started)
    return out


def _stopped_before_the_end(experiment, curve) -> list[str]:
    """A warning when the data's last point is taken as the measured end (end_capacity's
    default) but lies well off the cutoff the model's step ends on: the points stop early,
    and the end residual would pull the model's end back to where the measurement stopped."""
    if not experiment.end_at_last_point or curve.end_reason != "until_voltage" \
            or curve.cutoff is None:
        return []
    last = float(experiment.voltage[-1])
    if abs(last - curve.cutoff) <= END_GAP_V:
        return []
    return [f"experiment {experiment.name}: its last point ({last:.3f} V) lies "
            f"{abs(last - curve.cutoff) * 1e3:.0f} mV from the step's cutoff "
            f"({curve.cutoff:g} V) yet is taken as the measured end (end_capacity = true, the "
            f"default): if the measurement stopped before the end, set end_capacity = false "
            f"or to the measured end"]


def _delivered_nothing(experiment, curve, start) -> str:
    """The warning for a curve experiment whose model, at the fitted values, ended its step
    before it delivered any of the measured curve: nothing there was fitted."""
    from .evaluate import delivered

    unit = "mAh/cm2" if experiment.abscissa == "capacity" else "s"
    reached, span = delivered(experiment, curve)
    how = (f"the best start (start {start['index']}) began there and could not leave it"
           if experiment.name in start.get("nothing_at_start", []) else "the fit ended there")
    return (f"experiment {experiment.name}: at the fitted values the model delivers nothing "
            f"of the measured curve (its step ended, {curve.end_reason}, at {reached:.3g} "
            f"against the measured {span:.4g} {unit}), where its residuals hardly move with "
            f"the parameters: {how}, and nothing of this experiment was "
            f"{'fitted' if experiment.role == 'fit' else 'predicted'}. Give the "
            f"parameters initial values (or bounds) at which the cell delivers")


def _misfit(spec, residual_std) -> list[str]:
    """A warning when the fitted model misses the data by far more than their weights."""
    if not residual_std > MISFIT_LIMIT:
        return []
    kinds = {e.kind for e in spec.fitted}
    weights = []
    if "curve" in kinds:
        weights.append(f"voltage_error {spec.settings['voltage_error'] * 1e3:g} mV")
    if "impedance" in kinds:
        weights.append(f"impedance_error {spec.settings['impedance_error'] * 100:g} %")
    return [f"the fitted model misses the fitted data by {residual_std:.3g} times their "
            f"weights (the rms of the weighted residuals; {', '.join(weights)}): it does not "
            f"describe them, or the optimiser stopped far from a fit; the intervals are "
            f"scaled to that scatter"]


def _start_file(folder: Path, index, fingerprint, theta0) -> Path:
    digest = hashlib.sha256((fingerprint + json.dumps([round(t, 12) for t in theta0]))
                            .encode()).hexdigest()[:16]
    return folder / f"start_{index:03d}_{digest}.json"


def _finished(path: Path, fingerprint):
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return data if data.get("fingerprint") == fingerprint else None


def _run_starts(spec, points, folder, workers, scheduler, echo):
    """Outcomes of every start, reusing the finished ones in `folder` (None: keep none)."""
    from ..files import write_atomic

    fingerprint = spec.fingerprint()
    outcomes, todo = {}, []
    for i, theta0 in enumerate(points):
        path = _start_file(folder, i, fingerprint, theta0) if folder else None
        done = _finished(path, fingerprint) if path else None
        if done is not None:
            done["reused"] = True
            outcomes[i] = done
        else:
            todo.append(i)

    def keep(i, outcome):
        outcome.update(index=i, fingerprint=fingerprint, reused=False)
        outcomes[i] = outcome
        if folder is not None and outcome["status"] == "ok":
            folder.mkdir(parents=True, exist_ok=True)
            write_atomic(_start_file(folder, i, fingerprint, points[i]),
                         json.dumps(outcome) + "\n")
        echo(f"start {i}: {outcome['status']}, cost {outcome.get('cost', float('nan')):.6g}, "
             f"{outcome['evaluations']} evaluations, {outcome['wall_time_s']:.1f} s")

    if len(todo) == 1 and scheduler is None:            # no cluster for a single start
        keep(todo[0], run_start(spec, points[todo[0]]))
    elif todo:
        from ..runner import DaskRunner, default_workers

        def failed(i, exc):               # a worker that died
            return {"theta0": list(points[i]), "status": "error",
                    "message": f"{type(exc).__name__}: {exc}", "evaluations": 0,
                    "model_runs": 0, "wall_time_s": 0.0}

        with DaskRunner(workers or default_workers(len(todo)), scheduler) as runner:
            for i, outcome in runner.run(run_start, todo, lambda i: (spec, points[i]),
                                         lambda i: f"thinfilm-fit-start-{i}-{fingerprint[:12]}",
                                         failed):
                keep(i, outcome)
    return [outcomes[i] for i in range(len(points))]


def fit(path_or_dict, out=None, workers=None, scheduler=None, base_dir=None,
        echo=None) -> FitResult:
    """Run a fit file (or its dict); write fit.json, fitted.toml, report.md and
    overlays.png to `out` (if given). workers / scheduler: as for sweeps (a local cluster
    of that many processes, or a running scheduler's address or a Client)."""
    from .report import fitted_case, unit_of, write_outputs
    from .statistics import summarise

    started = time.perf_counter()
    echo = echo or (lambda line: None)
    from ..sweep import check_workers

    workers = check_workers(workers, scheduler, echo)
    spec = load_fit(path_or_dict, base_dir=base_dir)
    points = start_points(spec)
    folder = Path(out) / "starts" if out is not None else None
    starts = _run_starts(spec, points, folder, workers, scheduler, echo)
    ok = [s for s in starts if s["status"] == "ok"]
    refused = [s for s in starts if s["status"] == "invalid_input"]
    if not ok and refused:               # no start got past an input error: the fit file's
        raise InputError(*refused[0]["input_error"])
    if not ok:
        from ..errors import SolverError

        raise SolverError("no start of the fit finished: " + "; ".join(
            f"start {s['index']}: {s['message']}" for s in starts))
    best = min(ok, key=lambda s: s["cost"])
    theta = np.array(best["theta"])
    stats = summarise(spec.parameters, theta, np.array(best["jacobian"]),
                      np.array(best["residuals"]))

    # every experiment at the optimum: the curves, the errors and, for the ends, intervals
    objective = Objective(spec, experiments=spec.experiments)
    from ..kramers_kronig import MIN_FREQUENCIES, kramers_kronig_residual
    from .evaluate import delivered_nothing, experiment_residuals, rmse_percent
    from .statistics import linearised, rmse_mV

    covariance = linearised(np.array(best["jacobian"]), np.array(best["residuals"]))[0]
    # the Jacobian of every experiment, for the intervals of the curves' ends
    _, J_all, curves = objective.evaluate(theta, jacobian=True)
    ends = np.cumsum([e.n_residuals for e in spec.experiments]) - 1
    experiments, warnings, nothing = [], list(stats["warnings"]), []
    for e, end_row in zip(spec.experiments, ends):
        curve = curves[e.name]
        if e.kind == "impedance":
            kk = kramers_kronig_residual(e.x, e.impedance)
            if kk is None:
                few = f"{e.x.size} frequenc{'y is' if e.x.size == 1 else 'ies are'} too few"
                warnings.append(f"experiment {e.name}: {few} for the Kramers-Kronig check "
                                f"(its Lin-KK fit could meet any spectrum of fewer than "
                                f"{MIN_FREQUENCIES} exactly): its kramers_kronig_residual is "
                                f"null")
            experiments.append({
                "name": e.name, "role": e.role, "kind": e.kind, "abscissa": e.abscissa,
                "points": int(e.x.size), "rmse_mV": None,
                "rmse_percent": rmse_percent(curve, e.impedance), "end_model": None,
                "end_measured": None, "capacity_error": None, "end_ci95": None,
                "end_reason": curve.end_reason,
                "kramers_kronig_residual": kk})
            continue
        r, _, v_model, x_end = experiment_residuals(e, curve, spec.settings, jacobian=False)
        warnings += _stopped_before_the_end(e, curve)
        if delivered_nothing(e, curve):
            nothing.append(e.name)
            warnings.append(_delivered_nothing(e, curve, best))
        entry = {"name": e.name, "role": e.role, "kind": e.kind, "abscissa": e.abscissa,
                 "points": int(e.x.size), "rmse_mV": rmse_mV(v_model, e.voltage),
                 "rmse_percent": None, "end_model": float(x_end),
                 "end_measured": e.end, "capacity_error": None, "end_ci95": None,
                 "end_reason": curve.end_reason, "kramers_kronig_residual": None}
        if e.end is not None:
            entry["capacity_error"] = float(x_end / e.end - 1.0)
            d_end = J_all[end_row] * spec.settings["end_error"] * e.end
            sd = float(np.sqrt(max(d_end @ covariance @ d_end, 0.0)))
            entry["end_ci95"] = [float(x_end - stats["t95"] * sd),
                                 float(x_end + stats["t95"] * sd)]
        experiments.append(entry)

    if best.get("optimizer_status") == 0:
        warnings.append(f"the best start (start {best['index']}) stopped after "
                        f"fit.max_evaluations = {spec.settings['max_evaluations']} evaluations "
                        f"before it converged: its values and intervals are not a fit's; "
                        f"raise fit.max_evaluations")
    warnings += _misfit(spec, float(np.sqrt(stats["residual_variance"])))
    failed = [e.name for e in spec.experiments if curves[e.name].failed]
    for name in failed:
        warnings.append(f"experiment {name}: the model run failed at the fitted values "
                        f"({curves[name].message or 'solver failed'}); its residuals compare "
                        f"only what was computed")

    values = [p.from_unit(t) for p, t in zip(spec.parameters, theta)]
    parameters = {}
    for p, row in zip(spec.parameters, stats["parameters"]):
        parameters[p.key] = dict(row, unit=unit_of(p.dimension), min=p.low, max=p.high,
                                 scale=p.scale)
    summary = {
        "parameters": parameters,
        "correlation": stats["correlation"],
        "experiments": experiments,
        "evaluations": int(best["evaluations"]),
        "model_runs": int(sum(s.get("model_runs", 0) for s in starts if not s.get("reused"))),
        "wall_time_s": time.perf_counter() - started,
        "jacobian": spec.settings["jacobian"],
        "cost": float(best["cost"]),
        "residual_std": float(np.sqrt(stats["residual_variance"])),
        "dof": int(stats["dof"]),
        "identifiable": stats["identifiable"],
        "not_separable": stats["not_separable"],
        "warnings": warnings,
        "failed_experiments": failed,
        "nothing_delivered": nothing,
        "nothing_fitted": all(e.name in nothing for e in spec.fitted),
        "best_start": int(best["index"]),
        "starts": [{k: s.get(k) for k in ("index", "theta0", "theta", "cost", "evaluations",
                                          "model_runs", "wall_time_s", "status", "message",
                                          "nothing_at_start", "reused")} for s in starts],
    }
    raw = fitted_case(spec, values, out)
    result = FitResult(summary, raw, curves, spec)
    if out is not None:
        result.written = write_outputs(out, spec, summary, raw, curves)
    for warning in warnings:
        echo(f"warning: {warning}")
    return result

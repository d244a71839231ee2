"""What a fit writes: fit.json, fitted.toml (the base case with the fitted values),
report.md and the overlay plot of measured and model curves, with a Nyquist panel per
measured spectrum (DESIGN.md section 7)."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import numpy as np

from ..files import write_atomic

# the unit of a curve's end (fit.json's end_model, end_measured, end_ci95): its abscissa's
END_UNITS = {"capacity": "mAh/cm²", "time": "s"}


def display(value, dimension):
    """A value (SI) as a string in the unit people use for its dimension."""
    from ..materials.schema import DISPLAY_UNITS
    from ..units import DIMENSIONS

    if dimension in DISPLAY_UNITS and DISPLAY_UNITS[dimension][0]:
        unit, factor = DISPLAY_UNITS[dimension]
        return f"{value / factor:.6g} {unit}"
    if dimension in DIMENSIONS and dimension != "dimensionless":
        return f"{value:.6g} {DIMENSIONS[dimension][0]}"
    return f"{value:.6g}"


def rmse_text(entry, width=0, markdown=False):
    """An experiment's error as people read it: mV for a curve, % of |Z| for a spectrum."""
    if entry.get("rmse_percent") is not None:
        bars = "\\|" if markdown else "|"
        return f"{entry['rmse_percent']:{width}.2f} % of {bars}Z{bars}"
    return f"{entry['rmse_mV']:{width}.2f} mV"


def unit_of(dimension):
    from ..units import DIMENSIONS

    unit = DIMENSIONS[dimension][0]
    return "" if unit == "dimensionless" else unit


def fitted_case(spec, values, out=None) -> dict:
    """The base case dict with the fitted values (in display units); table files of the
    materials point at the same files from `out` (or absolutely, without one)."""
    from ..sweep import set_path

    raw = copy.deepcopy(spec.base_raw)
    for p, v in zip(spec.parameters, values):
        set_path(raw, p.path, display(v, p.dimension))
    for material in (raw.get("materials") or {}).values():
        if not isinstance(material, dict):
            continue
        for key, value in material.items():
            if isinstance(value, str) and value.strip().lower().endswith(".csv"):
                file = (spec.base_dir / value.strip()).resolve()
                material[key] = os.path.relpath(file, Path(out).resolve()) if out else str(file)
    return raw


def fitted_toml(spec, summary, raw) -> str:
    import tomli_w

    lines = [f"# {spec.base_name} with the parameters fitted by `thinfilm fit {spec.source}`",
             "# (value, 95 % interval):"]
    for key, entry in summary["parameters"].items():
        lo, hi = entry["ci95"]
        interval = f"[{lo:.4g}, {hi:.4g}]" if lo is not None else "[not determined]"
        lines.append(f"#   {key} = {entry['value']:.6g} {entry['unit']}  {interval}")
    return "\n".join(lines) + "\n\n" + tomli_w.dumps(raw)


def overlay_png(spec, curves, summary) -> bytes:
    """Measured points and model curves, fitted experiments left, predicted right; then a
    Nyquist panel (measured points, model line) for each impedance experiment."""
    from matplotlib import colormaps

    from ..plots import new_figure, png_bytes

    measured_curves = [e for e in spec.experiments if e.kind == "curve"]
    roles = [r for r in ("fit", "predict") if any(e.role == r for e in measured_curves)]
    spectra = [e for e in spec.experiments if e.kind == "impedance"]
    panels = len(roles) + len(spectra)
    fig = new_figure(6.4 * panels, 4.6, dpi=110)
    axes = fig.subplots(1, panels, squeeze=False)
    most = max([sum(e.role == r for e in measured_curves) for r in roles], default=1)
    colours = colormaps["tab10" if most <= 10 else "tab20"].colors
    rows = {row["name"]: row for row in summary["experiments"]}
    for ax, role in zip(axes[0], roles):
        shown = [x for x in measured_curves if x.role == role]
        for n, e in enumerate(shown):
            colour = colours[n % len(colours)]
            curve = curves.get(e.name)
            label = f"{e.name}: {rmse_text(rows[e.name])} rms"
            if curve is not None and curve.x.size:
                ax.plot(curve.x, curve.voltage, color=colour, lw=1.4, label=label)
            ax.plot(e.x, e.voltage, "o", ms=3.5, mfc="none", color=colour)
            if e.end is not None:
                ax.axvline(e.end, color=colour, lw=0.6, ls=":")
        ax.set_xlabel("capacity (mAh/cm²)" if shown[0].abscissa == "capacity"
                      else "time in the step (s)")
        ax.set_ylabel("voltage (V)")
        ax.set_title("fitted: model (lines), measured (circles)" if role == "fit"
                     else "predicted (not fitted): model (lines), measured (circles)", fontsize=9)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="lower left")
    for ax, e in zip(axes[0][len(roles):], spectra):
        _nyquist(ax, e, curves.get(e.name), rows[e.name])
    fig.tight_layout()
    return png_bytes(fig)


def _nyquist(ax, experiment, spectrum, row):
    """Z' against -Z'' on equal axes: measured circles, the model through the same
    frequencies as a line."""
    z = experiment.impedance
    ax.plot(z.real, -z.imag, "o", ms=3.5, mfc="none", color="C0", label="measured")
    if spectrum is not None and not spectrum.failed:
        order = np.argsort(experiment.x)
        ax.plot(spectrum.z.real[order], -spectrum.z.imag[order], color="C1", lw=1.4,
                label=f"model: {rmse_text(row)} rms")
    ax.set_aspect("equal", adjustable="datalim")
    ax.set_xlabel("Z' (Ω cm²)")
    ax.set_ylabel("−Z'' (Ω cm²)")
    what = "fitted" if experiment.role == "fit" else "predicted (not fitted)"
    ax.set_title(f"{experiment.name}, {what}: Nyquist", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper left")


def report_markdown(spec, summary) -> str:
    params = summary["parameters"]
    keys = list(params)
    lines = ["# thinfilm fit report", "",
             f"Fit file `{spec.source}`, base case `{spec.base_name}`. "
             f"{summary['evaluations']} evaluations of the best start "
             f"({summary['model_runs']} model runs by this call over all starts), "
             f"{len(summary['starts'])} starts, Jacobian from {summary['jacobian']}, {summary['wall_time_s']:.1f} s.",
             "", "## Parameters", "",
             "| parameter | value | 95 % interval | unit | range (scale) | identifiable |",
             "|---|---|---|---|---|---|"]
    for p in spec.parameters:
        e = params[p.key]
        lo, hi = e["ci95"]
        interval = f"{lo:.4g} – {hi:.4g}" if lo is not None else "not determined"
        lines.append(f"| `{p.key}` | {e['value']:.4g} | {interval} | {e['unit']} | "
                     f"{p.low:.3g} – {p.high:.3g} ({p.scale}) | "
                     f"{'yes' if e['identifiable'] else '**no**'} |")
    lines += ["", "## Correlation", "", "| | " + " | ".join(f"`{k}`" for k in keys) + " |",
              "|---|" + "---|" * len(keys)]
    for k, row in zip(keys, summary["correlation"]):
        lines.append(f"| `{k}` | " + " | ".join(f"{c:+.3f}" for c in row) + " |")
    if summary["warnings"]:
        lines += ["", "## Warnings", ""] + [f"- {w}" for w in summary["warnings"]]
    weights = (f"voltage error {spec.settings['voltage_error'] * 1e3:g} mV per point, end "
               f"error {spec.settings['end_error'] * 100:g} % of the measured end")
    if any(e.kind == "impedance" for e in spec.experiments):
        weights += (f"; impedance error {spec.settings['impedance_error'] * 100:g} % of the "
                    f"measured \\|Z\\| on the real and the imaginary part at each frequency "
                    f"(a spectrum's RMSE is that of \\|Z_model − Z_measured\\| / "
                    f"\\|Z_measured\\|, its points are frequencies)")
    lines += ["", "## Experiments", "",
              f"Residual weights: {weights}. Predicted experiments were not used in the fit: "
              "their errors are the model's prediction errors.", "",
              "| experiment | role | points | RMSE | end, model | end, measured | end error |",
              "|---|---|---|---|---|---|---|"]
    for e in summary["experiments"]:
        unit = END_UNITS.get(e["abscissa"], "")
        end_m = "" if e["end_model"] is None else f"{e['end_model']:.5g} {unit}"
        end_d = "" if e["end_measured"] is None else f"{e['end_measured']:.5g} {unit}"
        err = "" if e["capacity_error"] is None else f"{e['capacity_error'] * 100:+.2f} %"
        if e.get("end_ci95"):
            end_m += f" ({e['end_ci95'][0]:.5g} – {e['end_ci95'][1]:.5g})"
        lines.append(f"| {e['name']} | {e['role']} | {e['points']} | "
                     f"{rmse_text(e, markdown=True)} | "
                     f"{end_m} | {end_d} | {err} |")
    checked = [e for e in summary["experiments"]
               if e.get("kramers_kronig_residual") is not None]
    if checked:
        lines += ["", "Kramers-Kronig consistency of the measured spectra (Lin-KK, the largest "
                      "residual over the frequencies relative to \\|Z\\|; the noise level "
                      "means a linear, causal, stable response):", ""]
        lines += [f"- {e['name']}: {e['kramers_kronig_residual']:.2g}" for e in checked]
    lines += ["", "![measured and model curves](overlays.png)", "", "## Starts", "",
              "| start | from (theta) | to (theta) | cost | evaluations | status |",
              "|---|---|---|---|---|---|"]
    for s in summary["starts"]:
        lines.append(f"| {s['index']} | {_vector(s['theta0'])} | {_vector(s.get('theta'))} | "
                     f"{_cost(s)} | {s.get('evaluations', '')} | "
                     f"{s['status']}{_began_on_nothing(s)}"
                     f"{' (reused)' if s.get('reused') else ''} |")
    return "\n".join(lines) + "\n"


def _began_on_nothing(start):
    names = start.get("nothing_at_start") or []
    return f", began where the model delivers nothing of {', '.join(names)}" if names else ""


def _cost(start) -> str:
    """A start's cost; none for a start that did not finish (refused, or its worker lost)."""
    return "" if start.get("cost") is None else f"{start['cost']:.4g}"


def _vector(values):
    if values is None:
        return ""
    return "(" + ", ".join(f"{v:.3f}" for v in values) + ")"


def write_outputs(out, spec, summary, raw, curves):
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    write_atomic(out / "fit.json", json.dumps(summary, indent=2, default=_json) + "\n")
    write_atomic(out / "fitted.toml", fitted_toml(spec, summary, raw))
    write_atomic(out / "overlays.png", overlay_png(spec, curves, summary))
    write_atomic(out / "report.md", report_markdown(spec, summary))
    return [out / n for n in ("fit.json", "fitted.toml", "report.md", "overlays.png")]


def _json(value):
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return str(value)

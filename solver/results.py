"""Results of a run: the summary, the time series, and writers that never leave partial files."""

import csv
import io
import json
import math
from dataclasses import asdict
from pathlib import Path

import numpy as np

from .files import write_atomic

# the columns every time series has (DESIGN.md section 7), also when it has no rows
BASE_COLUMNS = ("time_s", "step", "current_A", "voltage_V", "capacity_mAh_cm2",
                "energy_mWh_cm2")

# A measured curve's first point is a cycler's first sample after the current is switched
# on, no sooner than about a millisecond: by then the double layers (R_ct C_dl, tens of
# microseconds with the library's values) and the electrolytes' geometric capacitances
# (below a microsecond) have charged, while diffusion has barely started. Model curves
# compared with measured ones (fits, validation) start there, not at the first row (a
# backward-Euler step of 1e-9 of the step's time scale, before the double layers have
# taken the charge-transfer drop).
FIRST_SAMPLE_S = 1e-3


def measurable_rows(elapsed):
    """Mask of the rows of a step (elapsed: seconds since the step began) that a measured
    curve could hold: from FIRST_SAMPLE_S on (the last row alone if the step was shorter)."""
    keep = np.asarray(elapsed) >= FIRST_SAMPLE_S * (1.0 - 1e-9)
    if keep.size and not keep.any():
        keep[-1] = True
    return keep


# The files Result.write may write (glob patterns), and the temporary VTU files of one
# killed while writing
RUN_FILES = ("timeseries.csv", "voltage.png", "fields_*.vtu", "fields.pvd", "fields.csv",
             "impedance.csv", "nyquist.png", "bode.png", "impedance_step*Hz.vtu",
             ".*.tmp.vtu")

# integer columns: written without a decimal point
INTEGER_COLUMNS = ("step", "cycle")


class SeriesNotFound(KeyError):
    """A time series asked for by a name the result does not have; says which it has."""

    def __str__(self) -> str:
        return self.args[0]


class Result:
    """What a run produced. `summary` equals summary.json; `timeseries` holds the CSV columns.

    In Python or a notebook: `result["voltage_V"]` (or `result.series("voltage_V", step=0)`)
    is a column by name, `result.names` lists them, `result.plot()` draws voltage against
    capacity per step, and `repr(result)` lists the steps and what they delivered.
    """

    def __init__(self, summary: dict, rows: list[dict], snapshots=None, grid=None, model=None,
                 fields=None, spectra=None, impedance_fields=None):
        self.summary = summary
        # the cycle of each row's step (solver.cycles), right after the columns every run has
        self.columns = list(BASE_COLUMNS) + ["cycle"]
        for row in rows:
            for key in row:
                if key not in self.columns:
                    self.columns.append(key)
        self.timeseries = {c: np.array([row.get(c, np.nan) for row in rows], dtype=float)
                           for c in self.columns}
        self.timeseries["step"] = self.timeseries["step"].astype(int)
        self.timeseries["cycle"] = _cycle_of_rows(summary, self.timeseries["step"])
        self.snapshots = snapshots or []
        self.fields = fields or []
        self.grid = grid
        self.model = model
        self.spectra = spectra or []                   # solver.impedance.Spectrum per step
        self.impedance_fields = impedance_fields or []

    @property
    def failed(self) -> bool:
        return any(s["end_reason"] == "solver_failed" for s in self.summary["steps"])

    def step_series(self, k: int) -> dict:
        mask = self.timeseries["step"] == k
        return {c: v[mask] for c, v in self.timeseries.items()}

    # -------------------------------------------------------------- by name, for people
    @property
    def names(self) -> list[str]:
        """The time series' names: the columns of timeseries.csv."""
        return list(self.columns)

    def series(self, name: str, step: int | None = None, cycle: int | None = None):
        """The time series `name` (a column of timeseries.csv) as a numpy array, of one
        protocol step or one cycle if given."""
        if name not in self.timeseries:
            raise SeriesNotFound(f"no time series {name!r} in this result; it has "
                                 f"{', '.join(self.columns)}")
        values = self.timeseries[name]
        if step is None and cycle is None:
            return values
        mask = np.ones(values.shape, dtype=bool)
        if step is not None:
            mask &= self.timeseries["step"] == step
        if cycle is not None:
            mask &= self.timeseries["cycle"] == cycle
        return values[mask]

    def __getitem__(self, name: str):
        return self.series(name)

    def __contains__(self, name) -> bool:
        return name in self.timeseries

    def plot(self, ax=None, x: str = "capacity"):
        """Cell voltage against capacity (x = "capacity") or time ("time"), one curve per
        discharge, charge or cccv step, labelled with its C-rate, current and temperature.

        Without `ax`, returns a new matplotlib Figure, the one voltage.png shows (stacks:
        with each cell's voltage beside the stack's); it is not registered with pyplot and
        the backend is left as it is, so a notebook displays it as the cell's value. With
        `ax` (say from pyplot.subplots()), draws the voltage on it and returns it."""
        from .plots import draw_voltage, voltage_figure

        if ax is None:
            return voltage_figure(self, x=x)
        draw_voltage(ax, self, x=x)
        return ax

    def plot_cells(self, ax=None, x: str = "capacity"):
        """A bipolar stack's unit cells, each cell's voltage per step (see `plot`)."""
        from .plots import draw_cell_voltages, new_figure

        figure = None
        if ax is None:
            figure = new_figure(6.0, 4.0)
            ax = figure.add_subplot()
        draw_cell_voltages(ax, self, x=x)
        return figure if figure is not None else ax

    def __repr__(self) -> str:
        from .describe import describe_result

        return describe_result(self)

    # -------------------------------------------------------------- writers
    def write(self, out_dir) -> list[Path]:
        """Write the result files; summary.json last, so that its presence marks a complete
        set (a run killed while writing leaves no summary.json)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
        earlier_run = any((out / name).is_file() for name in ("summary.json", "timeseries.csv"))
        (out / "summary.json").unlink(missing_ok=True)     # of an earlier run in `out`
        from .plots import voltage_figure_png
        written = [write_atomic(out / "timeseries.csv", self.timeseries_csv()),
                   write_atomic(out / "voltage.png", voltage_figure_png(self))]
        if self.grid is not None and self.grid.dim > 1:
            from .fields import write_vtu_series
            snapshots = sorted(self.fields + self.snapshots, key=lambda s: (s[0], s[1]))
            written += write_vtu_series(out, self.grid, self.model, snapshots)
        elif self.fields:
            written.append(write_atomic(out / "fields.csv", self.fields_csv()))
        from .impedance_results import write_impedance
        written += write_impedance(out, self)
        if earlier_run:              # (not a folder of other files that share our names)
            _remove_other_runs_files(out, written)
        written.append(write_atomic(out / "summary.json", summary_json(self.summary)))
        return written

    def field_values(self, u) -> dict:
        """Cell fields of a state: the potential (phi_s or phi_e) and Li stoichiometry x."""
        m = self.model
        x = np.full(m.n_cells, np.nan)
        inside = m.x_index >= 0
        x[inside] = u[m.s_x][m.x_index[inside]]
        return {"phi_V": u[m.s_phi], "x": x}

    def fields_csv(self) -> str:
        """The fields every `solver.fields_every` time steps, one row per cell (1D grids)."""
        grid = self.grid
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["time_s", "step", "cell", "layer", "z_m", "phi_V", "x"])
        layers = np.array(grid.tag_names, dtype=object)[grid.cell_tags]
        z = grid.cell_centroids[:, -1]
        cells = np.arange(grid.n_cells)
        for t, k, u in self.fields:
            values = self.field_values(u)
            writer.writerows(zip([repr(float(t))] * grid.n_cells, [k] * grid.n_cells, cells,
                                 layers, map(repr, z.tolist()),
                                 map(repr, values["phi_V"].tolist()),
                                 map(repr, values["x"].tolist())))
        return buffer.getvalue()

    def timeseries_csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(self.columns)
        for r in range(len(self.timeseries["time_s"])):
            writer.writerow([_format(self.timeseries[c][r], c) for c in self.columns])
        return buffer.getvalue()


def _format(value, column):
    if column in INTEGER_COLUMNS:
        return str(int(value))
    return repr(float(value))


def _cycle_of_rows(summary: dict, steps: np.ndarray) -> np.ndarray:
    """Each row's cycle: its step's (summary["steps"][k]["cycle"]; 0 outside a repeat block)."""
    cycles = np.array([s.get("cycle", 0) for s in summary.get("steps", [])] + [0], dtype=int)
    return cycles[np.clip(steps, 0, len(cycles) - 1)] if steps.size else steps.copy()


def summary_warnings(summary: dict) -> list[str]:
    """What a run says beyond its numbers, as `thinfilm run` prints it: the message of each
    step that has one but did not fail (a step that delivered nothing says why; a failed
    step's message is the run's), then the run's warnings."""
    notes = [f"step {k}: {step['message']}" for k, step in enumerate(summary.get("steps", []))
             if step.get("message") and step.get("end_reason") != "solver_failed"]
    return notes + list(summary.get("warnings", []))


def summary_json(summary: dict) -> str:
    """summary.json's text: strict JSON, a number that is not finite written as null (and
    anything else JSON lacks, such as a date from a swept TOML value, as its text)."""
    return json.dumps(_finite_or_none(summary), indent=2, allow_nan=False, default=str) + "\n"


def _finite_or_none(value):
    if isinstance(value, dict):
        return {k: _finite_or_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_finite_or_none(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def time_integral(values, time) -> float:
    """The integral over time of a quantity on a step's rows (trapezoids)."""
    values, time = np.asarray(values, dtype=float), np.asarray(time, dtype=float)
    if values.size < 2:
        return float(np.sum(values))
    return float(np.sum(0.5 * (values[1:] + values[:-1]) * np.diff(time)))


def net_charge(current, time) -> float:
    """The charge a step's rows passed (> 0 delivered)."""
    return time_integral(current, time)


def step_summaries(records) -> list[dict]:
    keys = ("mode", "end_reason", "duration_s", "capacity_mAh_cm2", "energy_mWh_cm2",
            "mean_voltage_V")
    out = []
    for r in records:
        d = asdict(r)
        entry = {k: (d[k] if isinstance(d[k], str) else float(d[k])) for k in keys}
        if d.get("message"):
            entry["message"] = d["message"]
        if d.get("limiting_cell") is not None:
            entry["limiting_cell"] = d["limiting_cell"]
        if d.get("cv_start_s") is not None:
            entry["cv_start_s"] = float(d["cv_start_s"])
        if d.get("key"):
            entry["key"] = d["key"]
        entry["cycle"] = int(d.get("cycle", 0))
        for name in ("applied_current_A", "c_rate"):
            if d.get(name) is not None:
                entry[name] = float(d[name])
        entry.update(d.get("details") or {})
        out.append(entry)
    return out


def _remove_other_runs_files(out: Path, written: list[Path]) -> None:
    """Remove the result files an earlier run left in `out` that this one did not write
    (its impedance.csv when this run has no impedance step or stopped before it, fields
    beyond this run's last): the folder holds one run's results, never a mix."""
    kept = set(written)
    for pattern in RUN_FILES:
        for path in out.glob(pattern):
            if path not in kept and path.is_file():
                path.unlink(missing_ok=True)

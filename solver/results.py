"""Results of a run: the summary, the time series, and writers that never leave partial files."""

import csv
import io
import json
import math
import os
import secrets
from dataclasses import asdict
from pathlib import Path

import numpy as np

# the columns every time series has (DESIGN.md section 7), also when it has no rows
BASE_COLUMNS = ("time_s", "step", "current_A", "voltage_V", "capacity_mAh_cm2",
                "energy_mWh_cm2")


class Result:
    """What a run produced. `summary` equals summary.json; `timeseries` holds the CSV columns."""

    def __init__(self, summary: dict, rows: list[dict], snapshots=None, grid=None, model=None,
                 fields=None, spectra=None, impedance_fields=None):
        self.summary = summary
        self.columns = list(BASE_COLUMNS)
        for row in rows:
            for key in row:
                if key not in self.columns:
                    self.columns.append(key)
        self.timeseries = {c: np.array([row.get(c, np.nan) for row in rows], dtype=float)
                           for c in self.columns}
        self.timeseries["step"] = self.timeseries["step"].astype(int)
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

    # -------------------------------------------------------------- writers
    def write(self, out_dir) -> list[Path]:
        """Write the result files; summary.json last, so that its presence marks a complete
        set (a run killed while writing leaves no summary.json)."""
        out = Path(out_dir)
        out.mkdir(parents=True, exist_ok=True)
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
    if column == "step":
        return str(int(value))
    return repr(float(value))


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


def write_atomic(path: Path, content) -> Path:
    """Write to a temporary file beside `path`, then rename: the file is complete or absent.

    The file is created with mode 0666 less the umask, as open() would (mkstemp's 0600
    would hide results from the group).
    """
    path = Path(path)
    data = content if isinstance(content, bytes) else content.encode("utf-8")
    tmp = path.parent / f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


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

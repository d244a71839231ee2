"""Figures: the discharge (and charge) curves of a run.

Drawn through matplotlib's object API (a Figure on an Agg canvas), never through pyplot:
writing results must not switch the backend or touch the figures of a notebook.
"""

import io
import re
import textwrap
import warnings

import numpy as np

from .describe import drive_text, step_label, temperature_text
from .results import net_charge

MAX_LEGEND = 10          # curves with a legend entry each (tab10: ten distinct colours);
                         # more are coloured by cycle, with a colour bar
CURVE_MODES = ("discharge", "charge", "cccv")
DISCHARGE_STYLE, CHARGE_STYLE = "-", "--"
AXIS = {"capacity": ("capacity_mAh_cm2", 1e3, "capacity (µAh/cm²)"),
        "time": ("time_s", 1.0 / 3600.0, "time (h)")}
CELL_COLUMN = re.compile(r"voltage_cell_(\d+)$")


def new_figure(width: float, height: float, dpi: int = 120):
    """A Figure on its own Agg canvas, outside pyplot's figure registry."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=dpi)
    FigureCanvasAgg(fig)
    return fig


def png_bytes(fig, **savefig) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", **savefig)
    return buffer.getvalue()


def distinct_colours(n: int) -> list:
    """n colours told apart at a glance: tab10 up to 10, tab20 up to 20, then viridis."""
    from matplotlib import colormaps

    if n <= 10:
        return list(colormaps["tab10"].colors[:n])
    if n <= 20:
        return list(colormaps["tab20"].colors[:n])
    return [colormaps["viridis"](v) for v in np.linspace(0.0, 1.0, n)]


def fitted_title(text: str, width_inches: float, fontsize: float = 9) -> str:
    """`text` wrapped to lines that fit a figure `width_inches` wide: titles shown whole."""
    characters = max(20, int(width_inches * 72 / (0.55 * fontsize)))
    return textwrap.fill(text, characters)


def voltage_figure_png(result) -> bytes:
    return png_bytes(voltage_figure(result))


def voltage_figure(result, x: str = "capacity"):
    """Voltage against capacity per footprint, one curve per current-carrying step; a stack
    gets a second panel with each unit cell's voltage. A run without such a curve says so,
    and why, on the figure."""
    cells = cell_columns(result)
    width = 6.0 * (2 if cells else 1)
    fig = new_figure(width, 4.0 + (0.3 if cells else 0.0))
    axes = fig.subplots(1, 2 if cells else 1, squeeze=False)[0]
    draw_voltage(axes[0], result, x=x, title=False)
    if cells:
        draw_cell_voltages(axes[1], result, x=x, title=False)
        axes[0].set_title(f"the stack of {len(cells)} cells", fontsize=9)
        axes[1].set_title("each cell", fontsize=9)
    fig.suptitle(fitted_title(_title(result), width), fontsize=9)
    with warnings.catch_warnings():         # a layout it cannot improve is no news
        warnings.simplefilter("ignore")
        fig.tight_layout()
    return fig


def current_steps(result) -> list[int]:
    """The steps drawn: discharge, charge and cccv steps with rows."""
    steps = result.summary.get("steps", [])
    return [k for k, step in enumerate(steps) if step["mode"] in CURVE_MODES
            and np.any(result.timeseries["step"] == k)]


def line_style(result, k: int) -> str:
    """Solid for a step that delivered charge, dashed for one that took it: by the sign of
    its net current, not its mode (a cccv step held below the cell's voltage discharges)."""
    series = result.step_series(k)
    return (DISCHARGE_STYLE if net_charge(series["current_A"], series["time_s"]) >= 0
            else CHARGE_STYLE)


def cell_columns(result) -> list[str]:
    """voltage_cell_1, voltage_cell_2, ... of a stack's time series, in cell order."""
    found = [(int(m.group(1)), c) for c in result.columns if (m := CELL_COLUMN.match(c))]
    return [c for _, c in sorted(found)]


def draw_voltage(ax, result, x: str = "capacity", title: bool = True):
    """The cell voltage of each current step on `ax`: a legend entry per step (its C-rate,
    current and temperature) for up to MAX_LEGEND steps, else colours by cycle."""
    column, scale, xlabel = _axis(x)
    steps = current_steps(result)
    summary = result.summary
    if len(steps) <= MAX_LEGEND:
        for k, colour in zip(steps, distinct_colours(len(steps))):
            series = result.step_series(k)
            ax.plot(series[column] * scale, series["voltage_V"], color=colour,
                    ls=line_style(result, k), label=step_label(summary, k))
        if steps:
            ax.legend(fontsize=7, loc="best")
    else:
        _draw_by_cycle(ax, result, steps, column, scale)
    if not steps:
        reason = summary.get("message") or "no discharge or charge step ran"
        ax.text(0.5, 0.5, f"no data\n{_wrap(reason)}", transform=ax.transAxes, ha="center",
                va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("cell voltage (V)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(fitted_title(_title(result), _axes_width(ax)), fontsize=9)
    return ax


def draw_cell_voltages(ax, result, x: str = "capacity", title: bool = True):
    """Each unit cell's voltage of a stack (voltage_cell_N), a colour per cell, discharge
    solid and charge dashed; a cell that is not a stack says so."""
    column, scale, xlabel = _axis(x)
    cells = cell_columns(result)
    colours = distinct_colours(len(cells))
    for j, k in enumerate(current_steps(result) if cells else []):
        series = result.step_series(k)
        style = line_style(result, k)
        for n, (name, colour) in enumerate(zip(cells, colours), start=1):
            ax.plot(series[column] * scale, series[name], color=colour,
                    ls=style, lw=1.2, label=f"cell {n}" if j == 0 else None)
    if cells and ax.lines:
        ax.legend(fontsize=7, loc="best", title=_modes_note(result), title_fontsize=7)
    elif not cells:
        ax.text(0.5, 0.5, "not a stack: one cell, no voltage_cell_N series",
                transform=ax.transAxes, ha="center", va="center", fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("unit cell voltage (V)")
    ax.grid(alpha=0.3)
    if title:
        ax.set_title(fitted_title(_title(result) + ": each cell", _axes_width(ax)),
                     fontsize=9)
    return ax


def _draw_by_cycle(ax, result, steps, column, scale):
    """Many steps (cycling): colour by cycle (or by step outside cycles) with a colour bar,
    line style by direction, one legend entry per kind of step."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    summary = result.summary
    order = np.array([summary["steps"][k].get("cycle", 0) for k in steps])
    what = "cycle"
    if not np.any(order > 0):
        order, what = np.array(steps), "step"
    norm = Normalize(vmin=order.min(), vmax=max(order.max(), order.min() + 1))
    cmap = colormaps["viridis"]
    kinds = {}
    for k, value in zip(steps, order):
        series = result.step_series(k)
        step = summary["steps"][k]
        style = line_style(result, k)
        ax.plot(series[column] * scale, series["voltage_V"], color=cmap(norm(value)),
                ls=style, lw=1.0)
        kinds.setdefault(" ".join(w for w in (step["mode"], drive_text(step)) if w), style)
    for label, style in kinds.items():
        ax.plot([], [], color="0.3", ls=style, label=label)
    degrees = temperature_text(summary)
    ax.legend(fontsize=7, loc="best", title=f"{len(steps)} steps" + (
        f", {degrees}" if degrees else ""), title_fontsize=7)
    colourbar = ax.figure.colorbar(ScalarMappable(norm=norm, cmap=cmap), ax=ax)
    colourbar.set_label(what)


def _modes_note(result) -> str:
    styles = {line_style(result, k) for k in current_steps(result)}
    if len(styles) > 1:
        return "discharge solid, charge dashed"
    return ""


def _title(result) -> str:
    """The case name (the legends say the temperature)."""
    return result.summary.get("case", "")


def _axis(x: str):
    if x not in AXIS:
        raise ValueError(f"x = {x!r}: expected one of {', '.join(AXIS)}")
    return AXIS[x]


def _axes_width(ax) -> float:
    return ax.figure.get_figwidth() * ax.get_position().width


def _wrap(text: str, width: int = 70, lines: int = 4) -> str:
    return "\n".join(textwrap.wrap(text, width)[:lines])

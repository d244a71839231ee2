"""Figures: the discharge (and charge) curves of a run.

Drawn through matplotlib's object API (a Figure on an Agg canvas), never through pyplot:
writing results must not switch the backend or touch the figures of a notebook.
"""

import io
import warnings

MAX_LEGEND = 12          # curves with a legend entry each; more get a count


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


def voltage_figure_png(result) -> bytes:
    return png_bytes(voltage_figure(result))


def voltage_figure(result):
    """Voltage against capacity per footprint, one curve per current-carrying step; a run
    without such a curve says so, and why, on the figure."""
    fig = new_figure(6.0, 4.0)
    ax = fig.add_subplot()
    steps = result.summary.get("steps", [])
    for k, step in enumerate(steps):
        series = result.step_series(k)
        if series["time_s"].size == 0 or step["mode"] not in ("discharge", "charge"):
            continue
        ax.plot(series["capacity_mAh_cm2"] * 1e3, series["voltage_V"],
                label=f"step {k}: {step['mode']}")
    ax.set_xlabel("capacity (µAh/cm²)")
    ax.set_ylabel("cell voltage (V)")
    ax.set_title(result.summary.get("case", ""), fontsize=9)
    ax.grid(alpha=0.3)
    if 0 < len(ax.lines) <= MAX_LEGEND:
        ax.legend(fontsize=8)
    elif ax.lines:                          # cycling: a legend would cover the plot
        ax.text(0.98, 0.02, f"{len(ax.lines)} steps", transform=ax.transAxes, ha="right",
                va="bottom", fontsize=8)
    else:
        reason = result.summary.get("message") or "no discharge or charge step ran"
        ax.text(0.5, 0.5, f"no data\n{_wrap(reason)}", transform=ax.transAxes, ha="center",
                va="center", fontsize=8)
    with warnings.catch_warnings():         # a layout it cannot improve is no news
        warnings.simplefilter("ignore")
        fig.tight_layout()
    return fig


def _wrap(text: str, width: int = 70, lines: int = 4) -> str:
    import textwrap

    return "\n".join(textwrap.wrap(text, width)[:lines])

"""Figures: the discharge (and charge) curves of a run."""

import io

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402


def voltage_figure_png(result) -> bytes:
    """Voltage against capacity per footprint, one curve per current-carrying step."""
    fig, ax = plt.subplots(figsize=(6.0, 4.0), dpi=120)
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
    if ax.lines:
        ax.legend(fontsize=8)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png")
    plt.close(fig)
    return buffer.getvalue()

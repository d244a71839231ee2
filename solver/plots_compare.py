"""Figures of `thinfilm compare`: Ragone plots and rate capability, one line per cell.

Rows are those of compare.csv (dicts); only runs with status "ok" are drawn.
"""

import warnings

from matplotlib.ticker import NullFormatter

from .plots import _wrap, new_figure, png_bytes


def _series(rows, x_key, y_key):
    """{architecture: (xs, ys, rates)} of the ok rows with both numbers, in C-rate order."""
    out = {}
    for row in sorted(rows, key=lambda r: r["c_rate"]):
        x, y = row.get(x_key), row.get(y_key)
        if row.get("status") != "ok" or x is None or y is None or not (x > 0 and y > 0):
            continue
        xs, ys, rates = out.setdefault(row["architecture"], ([], [], []))
        xs.append(x)
        ys.append(y)
        rates.append(row["c_rate"])
    return out


def _finish(fig, axes, title, empty_reason="no run finished"):
    for ax in axes:
        ax.grid(alpha=0.3, which="both")
        if ax.lines:
            ax.legend(fontsize=8)
        else:
            ax.text(0.5, 0.5, f"no data\n{_wrap(empty_reason)}", transform=ax.transAxes,
                    ha="center", va="center", fontsize=8)
    fig.suptitle(title, fontsize=9)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fig.tight_layout()
    return png_bytes(fig)


def ragone_png(rows, title: str) -> bytes:
    """Energy against power (log-log), per footprint and per stack volume; each point is
    labelled with its C-rate."""
    fig = new_figure(10.0, 4.2)
    panels = (("power_mW_cm2", "energy_mWh_cm2", 1e3, "power (µW/cm² footprint)",
               "energy (µWh/cm² footprint)"),
              ("power_mW_cm3", "energy_mWh_cm3", 1.0, "power (mW/cm³ stack)",
               "energy (mWh/cm³ stack)"))
    axes = []
    for k, (x_key, y_key, scale, x_label, y_label) in enumerate(panels):
        ax = fig.add_subplot(1, 2, k + 1)
        for name, (xs, ys, rates) in _series(rows, x_key, y_key).items():
            xs, ys = [x * scale for x in xs], [y * scale for y in ys]
            line, = ax.plot(xs, ys, "o-", label=name)
            for x, y, rate in zip(xs, ys, rates):
                ax.annotate(f"{rate:g}C", (x, y), textcoords="offset points", xytext=(3, 3),
                            fontsize=6, color=line.get_color())
        if ax.lines:
            ax.set_xscale("log")
            ax.set_yscale("log")
        ax.set_xlabel(x_label)
        ax.set_ylabel(y_label)
        axes.append(ax)
    return _finish(fig, axes, f"Ragone: {title}")


def rate_capability_png(rows, title: str) -> bytes:
    """Capacity per footprint against C-rate, and the same relative to each cell's capacity
    at its lowest rate."""
    fig = new_figure(10.0, 4.2)
    left, right = fig.add_subplot(1, 2, 1), fig.add_subplot(1, 2, 2)
    for name, (rates, caps, _) in _series(rows, "c_rate", "capacity_mAh_cm2").items():
        left.plot(rates, [c * 1e3 for c in caps], "o-", label=name)
        right.plot(rates, [c / caps[0] * 100.0 for c in caps], "o-",
                   label=f"{name} (100 % = {caps[0] * 1e3:.3g} µAh/cm² at {rates[0]:g}C)")
    rates = sorted({row["c_rate"] for row in rows})
    for ax in (left, right):
        if ax.lines:
            ax.set_xscale("log")
            ax.set_xticks(rates, [f"{rate:g}C" for rate in rates])
            ax.xaxis.set_minor_formatter(NullFormatter())
        ax.set_xlabel("C-rate")
    left.set_ylabel("capacity (µAh/cm² footprint)")
    right.set_ylabel("capacity retained (%)")
    return _finish(fig, (left, right), f"Rate capability: {title}")

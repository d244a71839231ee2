"""The figure of one validation study (`thinfilm validate`, report.md): the model's curves
with the reported numbers marked on them, and model over reported for every comparison.

Every run has a colour and line style of its own (ten colours, then the next line style),
titles and quantities are wrapped to the figure rather than cut, and the figure grows with
the number of comparisons so that their labels never overlap.
"""

import textwrap

import numpy as np

from .plots import distinct_colours, fitted_title, new_figure, png_bytes

LINE_STYLES = ("-", "--", ":", "-.")
LEGEND_INSIDE = 6            # more runs: the legend goes beside the panel
QUANTITY_WIDTH = 48          # characters per line of a comparison's label
LABEL_LINE_INCHES = 0.12     # a line of 7-point text
PANEL_HEIGHT = 4.8


def run_styles(n: int) -> list[tuple]:
    """(colour, line style) for n runs, no two alike: tab10 with solid lines, then dashed..."""
    colours = distinct_colours(min(n, 10))
    return [(colours[k % 10], LINE_STYLES[(k // 10) % len(LINE_STYLES)]) for k in range(n)]


def study_figure_png(study, runs: dict, records: list) -> bytes | None:
    fig = study_figure(study, runs, records)
    return None if fig is None else png_bytes(fig)


def study_figure(study, runs: dict, records: list):
    """Overlay plot of one study: model discharge curves with the reported capacities and
    voltages marked on them (left, when the study has runs), and model/reported with the
    tolerance band for every comparison (right). None when there is nothing to draw."""
    ok_runs = {n: o for n, o in runs.items() if o["status"] == "ok"}
    if not ok_runs and not records:
        return None
    labels = [textwrap.fill(r["quantity"], QUANTITY_WIDTH) for r in records]
    label_lines = sum(label.count("\n") + 1 for label in labels)
    height = max(PANEL_HEIGHT, 1.5 + label_lines * LABEL_LINE_INCHES + 0.1 * len(records))
    legend_outside = len(ok_runs) > LEGEND_INSIDE
    widths = ([6.4 + (2.8 if legend_outside else 0.0)] if ok_runs else []) + (
        [7.2] if records else [])
    fig = new_figure(sum(widths), height, dpi=110)
    axes = list(fig.subplots(1, len(widths), squeeze=False,
                             gridspec_kw={"width_ratios": widths})[0])
    if ok_runs:
        _curves(axes.pop(0), study, ok_runs, records, legend_outside)
    if records:
        _ratios(axes.pop(0), records, labels)
    title = f"{study.title} (study {study.name})\nSource: {study.source}"
    fig.suptitle("\n".join(fitted_title(line, sum(widths)) for line in title.split("\n")),
                 fontsize=9)
    fig.tight_layout()
    return fig


def _curves(ax, study, ok_runs, records, legend_outside):
    for (name, out), (colour, style) in zip(ok_runs.items(), run_styles(len(ok_runs))):
        label = (study.runs[name].label if name in study.runs else "") or name
        for j, series in enumerate(out["series"]):
            if out["summary"]["steps"][j]["mode"] not in ("discharge", "charge"):
                continue
            ax.plot(series["capacity_uAh_cm2"], series["voltage_V"], color=colour, ls=style,
                    label=label)
            label = None                    # one legend entry per run
        for r in records:
            if r["run"] == name:
                _mark_reported(ax, study, out, r, colour)
    ax.set_xlabel("capacity (µAh/cm²)")
    ax.set_ylabel("cell voltage (V)")
    ax.set_title("model (lines), reported (open markers, with tolerance)", fontsize=9)
    ax.grid(alpha=0.3)
    if legend_outside:
        ax.legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0)
    else:
        ax.legend(fontsize=7, loc="lower left")


def _mark_reported(ax, study, out, r, colour):
    """A reported capacity at the end voltage of its step, a reported voltage halfway
    through it, each with its tolerance as the error bar."""
    comp = next(c for c in study.comparisons if c.reference == r["reference_id"]
                and c.run == r["run"] and c.quantity == r["quantity"])
    series = out["series"][int(comp.args.get("step", 0))]
    if not series["voltage_V"]:
        return
    x = None
    if r["unit"] == "uAh/cm^2":
        x = r["reported"]
    elif r["unit"] == "uAh/cm^2/um":
        x = r["reported"] * out["layers"][comp.args["layer"]] * 1e6
    elif r["unit"] == "uAh":
        x = r["reported"] / out["summary"]["footprint_area_cm2"]
    if x is not None:
        ax.errorbar([x], [series["voltage_V"][-1]],
                    xerr=[[r["tolerance"] * x / r["reported"]]] * 2,
                    fmt="o", color=colour, mfc="white", capsize=3)
    elif r["unit"] == "V":
        ax.errorbar([0.5 * series["capacity_uAh_cm2"][-1]], [r["reported"]],
                    yerr=r["tolerance"], fmt="s", color=colour, mfc="white", capsize=3)


def _ratios(ax, records, labels):
    y = np.arange(len(records))
    ratio = np.array([r["model"] / r["reported"] if r["reported"] else np.nan
                      for r in records])
    tol = np.array([r["tolerance"] / abs(r["reported"]) if r["reported"] else np.nan
                    for r in records])
    ax.barh(y, 2 * tol, left=1 - tol, color="0.85", label="tolerance")
    passed = np.array([bool(r["passed"]) for r in records])
    for mask, colour, label in ((passed, "tab:green", "model / reported: within"),
                                (~passed, "tab:red", "model / reported: outside")):
        if mask.any():
            ax.scatter(ratio[mask], y[mask], c=colour, zorder=3, label=label)
    ax.axvline(1.0, color="0.3", lw=0.8)
    ax.set_yticks(y)
    ax.set_yticklabels(labels, fontsize=7)
    ax.set_ylim(len(records) - 0.5, -0.5)
    ax.set_xlabel("model / reported")
    ax.grid(axis="x", alpha=0.3)
    ax.legend(fontsize=7, loc="best")

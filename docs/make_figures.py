"""Regenerate the figures in docs/ from the solver.

    python docs/make_figures.py                   # every figure below (a few seconds)
    python docs/make_figures.py trench_current    # only the named ones

docs/voltage_planar.png: the shipped planar cell (cases/planar_li_lipon_lco.toml) discharged
at several C-rates. Each curve is one `solver.run` of that case with the c_rate of its
single discharge step changed; everything else is as shipped.

docs/trench_current.png: the Butler-Volmer current density along the anode | electrolyte
interface of the shipped trench cell (cases/trench_si_lipon_lco.toml, its own mesh), at
0.1C and at 5C, once 10 % of the nominal charge has passed (the discharge step ends at
until_time = 360 s / C-rate), normalised by its mean over the interface. The maximum over
mean of each curve is printed. (docs/ragone_example.png is drawn by
`thinfilm compare cases/compare_planar_trench_pillar.toml`.)

docs/stack_and_anode_free.png: left, the shipped 3-cell bipolar stack
(cases/bipolar_3cell_li_lipon_lco.toml, cell 2 with a thinner cathode) discharged at 1C:
each cell's voltage against the charge passed, the step ending when cell 2 reaches 3.0 V;
right, the shipped anode-free cell (cases/anode_free_cu_lipon_lco.toml): voltage and
plated lithium thickness through its charge, rest and discharge.

docs/validation_rates.png: the two measured rate data sets of the validation suite
(validation/raijmakers2020, validation/danilov2011): for each, the model's discharge curves
with the library's defaults at every measured rate, the measured end capacities (at 3.0 V)
marked on them, and capacity against rate for the library defaults and the paper's own
parameters, with the measurements and a +-15 % band around them.
"""

import copy
import sys
from pathlib import Path

import matplotlib
import matplotlib.colors
import matplotlib.ticker
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout's solver/, meshes/
import solver  # noqa: E402
from solver.case import case_from_dict  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "planar_li_lipon_lco.toml"
C_RATES = (0.1, 1, 5, 10, 20)
TRENCH_CASE = ROOT / "cases" / "trench_si_lipon_lco.toml"
TRENCH_RATES = (0.1, 5.0)
CHARGE_FRACTION = 0.1          # of the nominal capacity, passed before the snapshot


def with_c_rate(case, c_rate):
    """The case with the c_rate of its first protocol step replaced, validated again."""
    raw = copy.deepcopy(case.raw)
    raw["protocol"][0]["c_rate"] = c_rate
    return case_from_dict(raw, case.path.parent, source=str(case.path))


def voltage_planar(out_path):
    case = solver.load_case(CASE)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=130)
    colours = plt.cm.viridis([0.0, 0.25, 0.5, 0.72, 0.9])
    for c_rate, colour in zip(C_RATES, colours):
        result = solver.run(with_c_rate(case, c_rate))
        step = result.summary["steps"][0]
        series = result.step_series(0)
        ax.plot(series["capacity_mAh_cm2"] * 1e3, series["voltage_V"], color=colour,
                label=f"{c_rate:g}C: {step['capacity_mAh_cm2'] * 1e3:.2f} µAh/cm²")
        print(f"{c_rate:>5g}C  {step['end_reason']:14s} "
              f"{step['capacity_mAh_cm2'] * 1e3:7.3f} uAh/cm2  "
              f"mean {step['mean_voltage_V']:.4f} V", file=sys.stderr)
    nominal = result.summary["nominal_capacity_uAh"]
    basis = ("the case's nominal capacity" if case.nominal_capacity
             else "the capacity of the limiting electrode")
    ax.set_xlabel("capacity (µAh/cm²)")
    ax.set_ylabel("cell voltage (V)")
    ax.set_title(f"{case.name}, {case.temperature - 273.15:g} °C\n"
                 f"1C = {nominal:.3g} µA ({basis}, {nominal:.3g} µAh)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="C-rate: capacity to 3.0 V", title_fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def interface_path(grid, faces):
    """Order the faces of a 2D interface (edges) into a path starting at the smaller x.

    Returns the order (positions in `faces`), the arc length (m) at each face's midpoint and
    the path's vertex coordinates.
    """
    ends_of = grid.face_vertices[faces]
    touching = {}
    for k, (a, b) in enumerate(ends_of):
        touching.setdefault(a, []).append(k)
        touching.setdefault(b, []).append(k)
    ends = [v for v, ks in touching.items() if len(ks) == 1]
    if len(ends) != 2:
        raise ValueError(f"the interface is not one open path ({len(ends)} ends)")
    vertex = min(ends, key=lambda v: grid.points[v, 0])
    order, path, previous = [], [vertex], None
    while True:
        nxt = [k for k in touching[vertex] if k != previous]
        if not nxt:
            break
        k = nxt[0]
        a, b = ends_of[k]
        vertex = b if a == vertex else a
        order.append(k)
        path.append(vertex)
        previous = k
    if len(order) != len(faces):
        raise ValueError("the interface faces do not form a single path")
    points = grid.points[path]
    s_nodes = np.concatenate([[0.0], np.cumsum(np.linalg.norm(np.diff(points, axis=0), axis=1))])
    return np.array(order), 0.5 * (s_nodes[1:] + s_nodes[:-1]), points


def trench_interface_current(case, c_rate):
    """Run the trench case at `c_rate` until CHARGE_FRACTION of the nominal charge has
    passed; the anode | electrolyte interface current along the interface path."""
    raw = copy.deepcopy(case.raw)
    step = {key: value for key, value in raw["protocol"][0].items()
            if key not in ("current", "current_density")}
    raw["protocol"] = [dict(step, c_rate=c_rate, until_time=CHARGE_FRACTION * 3600.0 / c_rate)]
    result = solver.run(case_from_dict(raw, case.path.parent, source=str(case.path)))
    step = result.summary["steps"][0]
    if step["end_reason"] != "until_time":
        raise RuntimeError(f"{c_rate:g}C ended by {step['end_reason']}, before the snapshot")
    model, grid = result.model, result.grid
    u = result.snapshots[-1][2]                      # the state at the end of the step
    anode = model.electrodes[model.negative]
    order, s, points = interface_path(grid, model.if_faces[anode.faces])
    faces = anode.faces[order]
    current = u[model.s_i][faces]                    # A/m^2, anodic > 0
    area = model.if_area[faces]
    mean = np.sum(current * area) / np.sum(area)
    centres = grid.face_centroids[model.if_faces[faces]]
    return {"s": s, "ratio": current / mean, "mean": mean, "points": points,
            "centres": centres, "grid": grid, "anode": anode.name}


def _draw_cross_section(ax, grid, points, ratio, norm, cmap):
    """The layers of the half period as filled cells, the interface coloured by `ratio`."""
    from matplotlib.collections import LineCollection, PolyCollection

    layer_colours = {"barrier": "0.55", "anode": "#8c6bb1", "electrolyte": "#c7e9c0",
                     "cathode": "#fdd49e", "collector": "0.75"}
    polygons, colours = [], []   # cells are numbered block by block
    for cell_type, vertices in grid.cell_blocks:
        loop = vertices[:, [0, 1, 3, 2]] if cell_type == "quadrilateral" else vertices
        polygons += list(grid.points[loop] * 1e6)
        colours += [layer_colours.get(grid.tag_names[t], "white")
                    for t in grid.cell_tags[len(colours):len(polygons)]]
    ax.add_collection(PolyCollection(polygons, facecolors=colours, edgecolors="none"))
    segments = np.stack([points[:-1], points[1:]], axis=1) * 1e6
    lines = LineCollection(segments, cmap=cmap, norm=norm, linewidths=3.0, capstyle="round")
    lines.set_array(ratio)
    ax.add_collection(lines)
    ax.set_xlim(0, grid.points[:, 0].max() * 1e6)
    ax.set_ylim(0, grid.points[:, 1].max() * 1e6)
    ax.set_aspect("equal")
    ax.set_facecolor("0.88")                     # what is not meshed: the silicon
    ax.text(0.25, 0.5, "Si", transform=ax.transAxes, ha="center", fontsize=8)
    ax.set_xlabel("x (µm)")
    ax.set_ylabel("height (µm)")
    return lines


def trench_current(out_path):
    case = solver.load_case(TRENCH_CASE)
    t = case.trench
    profiles = {rate: trench_interface_current(case, rate) for rate in TRENCH_RATES}

    fig = plt.figure(figsize=(8.6, 4.6), dpi=130)
    grid_spec = fig.add_gridspec(1, 2, width_ratios=[4.2, 1.0], wspace=0.35)
    ax = fig.add_subplot(grid_spec[0])
    section = fig.add_subplot(grid_spec[1])
    colours = {TRENCH_RATES[0]: "tab:blue", TRENCH_RATES[-1]: "tab:red"}
    for rate, p in profiles.items():
        ratio = p["ratio"]
        ax.plot(p["s"] * 1e6, ratio, color=colours[rate],
                label=f"{rate:g}C: mean {p['mean'] * 100:.3g} µA/cm² of interface, "
                      f"max/mean {ratio.max():.2f}, min/mean {ratio.min():.2f}")
        print(f"{rate:>5g}C  mean {p['mean'] * 0.1:.4g} mA/cm2 of interface  "
              f"max/mean {ratio.max():.3f}  min/mean {ratio.min():.3f}  "
              f"(max at x = {p['centres'][np.argmax(ratio), 0] * 1e6:.2f} um, "
              f"height {p['centres'][np.argmax(ratio), 1] * 1e6:.2f} um)", file=sys.stderr)
    # where the straight parts of the interface begin and end: the substrate's mesa, wall
    # and floor offset by the films below the interface (the barrier and the anode)
    anode = next(iter(profiles.values()))["anode"]
    films, _, _ = case.stack_roles()
    names = [layer.name for layer in films]
    offset = sum(layer.thickness for layer in films[:names.index(anode) + 1])
    length = next(iter(profiles.values()))["s"][-1]
    mesa = 0.5 * (t.pitch - t.width)
    marks = np.cumsum([mesa, 0.5 * np.pi * offset, t.depth - offset]) * 1e6
    for x in marks:
        ax.axvline(x, color="0.6", lw=0.8, ls="--")
    ax.axhline(1.0, color="0.3", lw=0.6)
    top = max(p["ratio"].max() for p in profiles.values())
    regions = ((0.15, "mesa\ntop", "left"), ((marks[1] + marks[2]) / 2, "wall", "center"),
               (length * 1e6 - 0.15, "trench\nfloor", "right"))
    for x, label, align in regions:
        ax.text(x, top + 0.05, label, ha=align, va="bottom", fontsize=8)
    ax.text(marks[0] + 0.3, top + 0.05, "corner", ha="left", va="bottom", fontsize=8,
            color="0.4")
    ax.set_ylim(min(p["ratio"].min() for p in profiles.values()) - 0.08, top + 0.2)
    ax.set_xlim(0, length * 1e6)
    ax.set_xlabel("arc length along the anode | electrolyte interface, from the mesa centre (µm)")
    ax.set_ylabel("interface current density / its mean")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")

    fast = profiles[TRENCH_RATES[-1]]
    norm = matplotlib.colors.Normalize(vmin=fast["ratio"].min(), vmax=fast["ratio"].max())
    lines = _draw_cross_section(section, fast["grid"], fast["points"], fast["ratio"],
                                norm, plt.cm.inferno)
    colourbar = fig.colorbar(lines, ax=section, fraction=0.12, pad=0.08)
    colourbar.ax.tick_params(labelsize=7)
    colourbar.set_label("current density / mean", fontsize=7)
    section.set_title(f"{TRENCH_RATES[-1]:g}C, anode interface", fontsize=8)
    section.tick_params(labelsize=7)
    fig.suptitle(f"{case.name}: width {t.width * 1e6:g} µm, depth {t.depth * 1e6:g} µm, "
                 f"pitch {t.pitch * 1e6:g} µm, discharge after {CHARGE_FRACTION:.0%} of the "
                 f"nominal charge", fontsize=9)
    fig.subplots_adjust(left=0.08, right=0.95, bottom=0.12, top=0.9)
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def stack_and_anode_free(out_path):
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.0), dpi=130)
    stack = solver.run(solver.load_case(ROOT / "cases" / "bipolar_3cell_li_lipon_lco.toml"))
    series = stack.step_series(0)
    step = stack.summary["steps"][0]
    for k, colour in zip((1, 2, 3), ("tab:blue", "tab:red", "tab:green")):
        label = {1: "cell 1 (under cell 3: the same films)", 2: "cell 2 (thinner cathode)",
                 3: "cell 3"}[k]
        left.plot(series["capacity_mAh_cm2"] * 1e3, series[f"voltage_cell_{k}"], color=colour,
                  ls="--" if k == 1 else "-", label=label)
    left.axhline(3.0, color="0.5", lw=0.8, ls="--")
    left.set(xlabel="charge passed (µAh/cm²)", ylabel="cell voltage (V)",
             title=f"3-cell stack at 1C: ends at {step['capacity_mAh_cm2'] * 1e3:.2f} µAh/cm², "
                   f"limiting cell {step['limiting_cell']}")
    left.legend(loc="lower left")
    free = solver.run(solver.load_case(ROOT / "cases" / "anode_free_cu_lipon_lco.toml"))
    ts = free.timeseries
    hours = ts["time_s"] / 3600
    right.plot(hours, ts["voltage_V"], color="tab:blue")
    right.set(xlabel="time (h)", ylabel="voltage (V)",
              title="anode-free Cu | LiPON | LiCoO2: charge, rest, discharge")
    twin = right.twinx()
    twin.plot(hours, ts["thickness_um_anode"] * 1e3, color="tab:orange")
    twin.set_ylabel("plated lithium (nm)", color="tab:orange")
    ends = [s["end_reason"] for s in free.summary["steps"]]
    right.text(0.02, 0.04, "steps end: " + ", ".join(ends), transform=right.transAxes, fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


RATE_STUDIES = (
    ("raijmakers2020", "commercial 0.7 mAh cell (Raijmakers 2020)", "paper_"),
    ("danilov2011", "Li | Li3PO4 | LiCoO2 320 nm (Danilov 2011)", ""),
)


def validation_rates(out_path):
    from solver import validation

    fig, axes = plt.subplots(2, 2, figsize=(11.5, 8.4), dpi=120)
    for row, (name, title, paper_prefix) in zip(axes, RATE_STUDIES):
        study = validation.load_study(ROOT / "validation" / name)
        rates, measured, library, paper = [], [], [], []
        colours = plt.cm.viridis(np.linspace(0.0, 0.9, sum(
            1 for r in study.runs if r.startswith("library_"))))
        curves, k = row[0], 0
        for run_name, spec in study.runs.items():
            if not run_name.startswith("library_"):
                continue
            label = run_name.removeprefix("library_")
            rate = float(spec.set["protocol.0.c_rate"])
            case = solver.load_case(spec.case)
            raw = validation.apply_settings(case.raw, spec.set)
            result = solver.run(case_from_dict(raw, case.path.parent, source=str(spec.case)))
            series = result.step_series(0)
            ref = study.references[f"q_{label}"].value
            curves.plot(series["capacity_mAh_cm2"] * 1e3, series["voltage_V"],
                        color=colours[k], label=f"{label}")
            curves.plot([ref], [3.0], "o", mfc="white", color=colours[k])
            k += 1
            paper_spec = study.runs[f"{paper_prefix}{label}"]
            paper_case = solver.load_case(paper_spec.case)
            paper_raw = validation.apply_settings(paper_case.raw, paper_spec.set)
            paper_result = solver.run(case_from_dict(paper_raw, paper_case.path.parent,
                                                     source=str(paper_spec.case)))
            rates.append(rate)
            measured.append(ref)
            library.append(result.summary["steps"][0]["capacity_mAh_cm2"] * 1e3)
            paper.append(paper_result.summary["steps"][0]["capacity_mAh_cm2"] * 1e3)
        curves.set_xlabel("capacity (µAh/cm²)")
        curves.set_ylabel("voltage (V)")
        curves.set_title(f"{title}: library defaults (lines),\nmeasured end capacity "
                         f"at 3.0 V (open circles)", fontsize=9)
        curves.grid(alpha=0.3)
        curves.legend(fontsize=7, title="C-rate", title_fontsize=7)
        rate_ax = row[1]
        rates, measured = np.array(rates), np.array(measured)
        rate_ax.fill_between(rates, 0.85 * measured, 1.15 * measured, color="0.88",
                             label="measured ± 15 %")
        rate_ax.plot(rates, measured, "ko", mfc="white", label="measured (digitised)")
        rate_ax.plot(rates, library, "s-", color="tab:blue", label="library defaults")
        rate_ax.plot(rates, paper, "^--", color="tab:orange", label="paper's parameters")
        errors = 100 * (np.array(library) / measured - 1)
        for r, q, e in zip(rates, library, errors):
            rate_ax.annotate(f"{e:+.1f} %", (r, q), textcoords="offset points", xytext=(4, 6),
                             fontsize=7, color="tab:blue")
        rate_ax.set_xscale("log")
        rate_ax.set_xticks(rates, [f"{r:g}" for r in rates])
        rate_ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        rate_ax.set_xlabel("C-rate")
        rate_ax.set_ylabel("capacity to 3.0 V (µAh/cm²)")
        rate_ax.set_title(f"{title}: capacity vs rate\n(worst library-default error "
                          f"{errors[np.argmax(np.abs(errors))]:+.1f} %)", fontsize=9)
        rate_ax.grid(alpha=0.3, which="both")
        rate_ax.legend(fontsize=7)
        print(f"{name}: library errors " + ", ".join(f"{r:g}C {e:+.1f} %"
                                                      for r, e in zip(rates, errors)))
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


FIGURES = {"voltage_planar": voltage_planar, "trench_current": trench_current,
           "validation_rates": validation_rates,
           "stack_and_anode_free": stack_and_anode_free}


def main(names=None):
    for name in names or FIGURES:
        if name not in FIGURES:
            raise SystemExit(f"unknown figure {name!r}; choose from {', '.join(FIGURES)}")
        out = FIGURES[name](ROOT / "docs" / f"{name}.png")
        print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main(sys.argv[1:])

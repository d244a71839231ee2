"""Talin 2016 study: the 3D/planar rate retention against the step coverage of the sputtered
LiCoO2 and LiPON films (the ratio is not printed, so the study sweeps it).

    python validation/talin2016/sensitivity.py      # about a minute; writes step_coverage.png

For each ratio r (wall and floor thickness over the top thickness of both films) the 3D cell
(cell_3d.toml, axisymmetric) is discharged at 0.1C and 20C, and compared with two planar
twins: the study's (the same films as deposited on top: cell_planar.toml), and one with the
3D cell's mean loading (each film's volume over the substrate area). Prints a Markdown table
for the README.
"""

import copy
import sys
import tomllib
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parents[1]))

import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import solver  # noqa: E402
from solver.api import build_grid  # noqa: E402
from solver.case import case_from_dict  # noqa: E402

RATIOS = [1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2]
RATES = (0.1, 20.0)
FILMS = ("cathode", "electrolyte")


def load(name):
    with open(HERE / name, "rb") as handle:
        return tomllib.load(handle)


def retention(data):
    """Q(20C) / Q(0.1C) of a case dict."""
    capacities = []
    for rate in RATES:
        case = copy.deepcopy(data)
        case["protocol"][0]["c_rate"] = rate
        step = solver.run(case_from_dict(case, HERE)).summary["steps"][0]
        capacities.append(step["capacity_mAh_cm2"])
    return capacities[1] / capacities[0]


def main():
    cell_3d, cell_planar = load("cell_3d.toml"), load("cell_planar.toml")
    planar = retention(cell_planar)
    rows = []
    for ratio in RATIOS:
        data = copy.deepcopy(cell_3d)
        for layer in data["cell"]["layers"]:
            if layer["name"] in FILMS:
                layer["step_coverage"] = ratio
        grid = build_grid(case_from_dict(data, HERE))
        substrate = grid.face_areas[grid.boundary_faces["bottom"]].sum()
        loaded = copy.deepcopy(cell_planar)
        for layer in loaded["cell"]["layers"]:
            if layer["name"] in FILMS:
                volume = grid.cell_volumes[grid.cells_with_tag(layer["name"])].sum()
                layer["thickness"] = f"{volume / substrate * 1e6:.6g} um"
        r3d, r_loaded = retention(data), retention(loaded)
        rows.append((ratio, r3d, r3d / planar, r3d / r_loaded))
        print(f"r = {ratio}: 3D {r3d:.4f}, / planar twin {r3d / planar:.4f}, "
              f"/ equal-loading twin {r3d / r_loaded:.4f}", flush=True)

    print(f"\nplanar twin (as deposited on top): retention {planar:.4f}\n")
    print("| step coverage r | 3D retention Q(20C)/Q(0.1C) | 3D / planar twin (study) | "
          "3D / planar twin of equal loading |")
    print("|---|---|---|---|")
    for ratio, r3d, a, b in rows:
        print(f"| {ratio:g} | {r3d:.4f} | {a:.4f} | {b:.4f} |")

    fig, ax = plt.subplots(figsize=(6.4, 4.2))
    x = [row[0] for row in rows]
    ax.axhspan(0.0, 1.0, color="tab:green", alpha=0.08, label="reported: below 1")
    ax.axhline(1.0, color="0.5", lw=0.8)
    ax.plot(x, [row[2] for row in rows], "o-", label="3D / planar twin as deposited (study)")
    ax.plot(x, [row[3] for row in rows], "s--", label="3D / planar twin of equal loading")
    ax.set_xlabel("step coverage r of LiCoO2 and LiPON (wall and floor / top)")
    ax.set_ylabel("retention ratio Q(20C)/Q(0.1C), 3D over planar")
    ax.set_ylim(0.8, max(1.3, max(row[2] for row in rows) + 0.05))
    ax.invert_xaxis()
    ax.legend(loc="lower left", fontsize=8)
    ax.set_title("Talin 2016 trend study: sensitivity to step coverage", fontsize=10)
    fig.tight_layout()
    fig.savefig(HERE / "step_coverage.png", dpi=110)
    print(f"\nwrote {HERE / 'step_coverage.png'}")


if __name__ == "__main__":
    main()

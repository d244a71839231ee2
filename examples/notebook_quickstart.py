"""thinfilm from Python or a notebook: run the shipped cell, read its result, plot it.

    python examples/notebook_quickstart.py [--quick] [--out DIR]

The `# %%` lines make cells in Jupyter (open it with jupytext, or "Run Cell" in VS Code or
Spyder); as a script it prints what a notebook would show and saves the figures in DIR
(default out/quickstart). --quick (what the tests run) uses a coarse mesh: the numbers move
by a few per cent, the steps stay the same.
"""

# %% The shipped case: Li | LiPON | LiCoO2 on 1 cm², a 1C discharge, then its impedance
import argparse
import copy
import sys
from pathlib import Path

import thinfilm


parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
parser.add_argument("--quick", action="store_true", help="coarse mesh (seconds)")
parser.add_argument("--out", type=Path, default=Path("out/quickstart"))
args = parser.parse_args(sys.argv[1:] if __name__ == "__main__" else [])
args.out.mkdir(parents=True, exist_ok=True)

CASES = thinfilm.CASES_DIR            # the shipped cases (in a clone: its cases/ folder)
case = thinfilm.load_case(CASES / "planar_li_lipon_lco.toml")


def changed(case, **tables):
    """A copy of `case` with some of its TOML tables replaced (mesh, protocol, ...)."""
    raw = copy.deepcopy(case.raw)
    raw.update(tables)
    return thinfilm.case_from_dict(raw, CASES, case.name)


if args.quick:
    case = changed(case, mesh={**case.raw["mesh"], "cells_per_layer": 8})

# %% Run it. In a notebook, `result` on the last line of a cell shows its summary.
result = thinfilm.run(case)
print(repr(result))

# %% Time series by name: numpy arrays, the columns of timeseries.csv
voltage = result["voltage_V"]
capacity = result.series("capacity_mAh_cm2", step=0)      # step 0 only
print(f"{voltage.size} rows; step 0 delivered {capacity[-1] * 1e3:.2f} µAh/cm² "
      f"and ended at {result.series('voltage_V', step=0)[-1]:.3f} V")
try:
    result["voltage"]
except KeyError as missing:          # a misspelt name says which names there are
    print(f"KeyError: {missing}")

# %% Plot: a new matplotlib Figure (pyplot and its backend are left alone), which a
# notebook shows as the cell's value; result.plot(ax=ax) draws on axes of your own
figure = result.plot()
figure.savefig(args.out / "voltage.png")

# %% Cycling: a repeat block; summary["cycles"] and the `cycle` column
cycling = changed(case, protocol=[{"repeat": 3, "steps": [
    {"mode": "discharge", "c_rate": 2, "until_voltage": "3.0 V"},
    {"mode": "cccv", "c_rate": 2, "voltage": "4.2 V", "until_current": "2 uA"},
]}])
cycles = thinfilm.run(cycling)
for entry in cycles.summary["cycles"]:
    print(f"cycle {entry['cycle']}: discharge {entry['discharge_capacity_mAh_cm2'] * 1e3:.3f}"
          f" µAh/cm², charge {entry['charge_capacity_mAh_cm2'] * 1e3:.3f} µAh/cm², "
          f"coulombic efficiency {entry['coulombic_efficiency']:.4f}")
print(f"rows of cycle 2: {cycles.series('time_s', cycle=2).size}")
cycles.plot().savefig(args.out / "cycles.png")

# %% The files `thinfilm run` writes (timeseries.csv, summary.json, voltage.png, ...)
written = cycles.write(args.out / "cycling-run")
print("wrote", ", ".join(path.name for path in written))

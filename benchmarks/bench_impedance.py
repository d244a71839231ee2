"""Benchmark: impedance spectra (solver.impedance) of the shipped cells, the DESIGN.md §9
target being 60 frequencies on a 2e4-cell trench period in under a minute on one core.

    python benchmarks/bench_impedance.py              # all three, ~2 min
    python benchmarks/bench_impedance.py --no-json    # print only

Each cell runs in a fresh Python subprocess with one BLAS/OpenMP thread (set before numpy
loads; a multithreaded BLAS on a loaded machine made the complex Gram-Schmidt of GMRES ten
times slower here). In it: the case is loaded and meshed, the model, its linear solver and
the open-circuit operating point are built (`setup`), then the impedance at N frequencies
log-spaced from 1 MHz down to 1 mHz is computed (`spectrum`: wall and CPU time of the
process, GMRES iterations and preconditioner set-ups where the solver is KrylovSolver).
Cells:
  trench   cases/trench_si_lipon_lco.toml with [mesh] cells_per_layer = 10,
           max_cell_size = 0.08 um (21 100 cells, 2D), 60 frequencies
  pillar   cases/micropillar_si_lipon_lco.toml as shipped (23 220 cells, 3D quarter
           pillar), 60 frequencies
  planar   cases/planar_li_lipon_lco.toml as shipped (1D), 60 frequencies
Writes benchmarks/impedance_results.json. It reports numbers; it never fails because
something was slow.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse
import datetime
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "impedance_results.json"
MARK = "BENCH_IMPEDANCE "
CELLS = {
    "trench": ("cases/trench_si_lipon_lco.toml", {"cells_per_layer": 10,
                                                  "max_cell_size": "0.08 um"}),
    "pillar": ("cases/micropillar_si_lipon_lco.toml", None),
    "planar": ("cases/planar_li_lipon_lco.toml", None),
}
FREQUENCIES = 60

CHILD = r"""
import copy, json, sys, time
sys.path.insert(0, {root!r})
import numpy as np
from solver.api import build_grid
from solver.case import case_from_dict, load_case
from solver.impedance import SmallSignal
from solver.simulate import Simulation

started, cpu = time.perf_counter(), time.process_time()
base = load_case({path!r})
data = copy.deepcopy(base.raw)
if {mesh!r} is not None:
    data["mesh"] = {mesh!r}
case = case_from_dict(data, base.path.parent, "bench")
sim = Simulation(case, build_grid(case))
model = sim.model
u0 = sim._solve(model.initial_state(), None, None, ("current", 0.0))
small = SmallSignal(model, u0, sim.linear_solver)
setup = (time.perf_counter() - started, time.process_time() - cpu)
solver_ = sim.linear_solver
before = (sum(getattr(solver_, "iterations", [])), dict(getattr(solver_, "setups", {{}})))
frequencies = np.logspace(6, -3, {n})
started, cpu = time.perf_counter(), time.process_time()
z = small.spectrum(frequencies)
wall, cpu = time.perf_counter() - started, time.process_time() - cpu
setups = {{k: v - before[1].get(k, 0) for k, v in getattr(solver_, "setups", {{}}).items()}}
print({mark!r} + json.dumps({{
    "cells": int(model.grid.n_cells), "unknowns": int(model.n_unknowns),
    "dimension": int(model.grid.dim), "linear_solver": type(solver_).__name__,
    "frequencies": int(frequencies.size),
    "setup_wall_s": setup[0], "setup_cpu_s": setup[1],
    "spectrum_wall_s": wall, "spectrum_cpu_s": cpu,
    "per_frequency_cpu_s": cpu / frequencies.size,
    "gmres_iterations": sum(getattr(solver_, "iterations", [])) - before[0],
    "preconditioner_setups": setups,
    "z_1MHz_ohm_cm2": [float(z[0].real), float(z[0].imag)],
    "z_1mHz_ohm_cm2": [float(z[-1].real), float(z[-1].imag)]}}))
"""


def run(name):
    path, mesh = CELLS[name]
    code = CHILD.format(root=str(ROOT), path=str(ROOT / path), mesh=mesh, n=FREQUENCIES,
                        mark=MARK)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         env=os.environ.copy())
    for line in out.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "no result"}


def machine():
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    revision = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                              capture_output=True, text=True).stdout.strip()
    return {"date": datetime.date.today().isoformat(), "revision": revision,
            "cpus": os.cpu_count(), "load_average_1min": load, "threads": 1}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cells", nargs="*", default=list(CELLS), choices=list(CELLS))
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()
    results = {"machine": machine(), "runs": {}}
    print("| cell | cells | unknowns | solver | set-up (s) | 60 frequencies: wall / CPU (s) "
          "| GMRES iterations | potential set-ups |")
    print("|---|---|---|---|---|---|---|---|")
    for name in args.cells:
        r = run(name)
        results["runs"][name] = r
        if "error" in r:
            print(f"| {name} | failed: {r['error']} |")
            continue
        print(f"| {name} | {r['cells']} | {r['unknowns']} | {r['linear_solver']} | "
              f"{r['setup_wall_s']:.1f} | {r['spectrum_wall_s']:.1f} / {r['spectrum_cpu_s']:.1f} | "
              f"{r['gmres_iterations']} | {r['preconditioner_setups'].get('potential', '-')} |")
    if not args.no_json:
        RESULTS.write_text(json.dumps(results, indent=2) + "\n")
        print(f"wrote {RESULTS}")


if __name__ == "__main__":
    main()

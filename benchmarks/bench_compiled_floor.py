"""Benchmark: how fast a fully compiled solver can do bench_pybamm.py's problem (a floor).

    pip install pybamm numba                 # not dependencies of thinfilm: this script only
    python benchmarks/bench_compiled_floor.py            # 21 alternating repeats
    python benchmarks/bench_compiled_floor.py --repeats 5 --no-json

benchmarks/compiled_floor.py solves the PyBaMM model's equations of bench_pybamm.py (planar
Fick in the LiCoO2, Ohm in the LiPON and the LiCoO2, inverse Butler-Volmer at both faces, the
library OCV by PCHIP, 100 uniform cells per layer, 1C to 3.0 V) in one numba call: variable-
order BDF (1-5), Newton with a reused analytic Jacobian, a banded LU of its own, the cutoff
located on the interpolated solution. It answers one question for DESIGN.md section 9's
0.4x IDAKLU target: what would a compiled core reach? Timed alternating with IDAKLU (rtol
1e-4 and 1e-3) and thinfilm (model reused), as bench_pybamm.py times them; wall and thread
CPU time (the CPU medians are the numbers to compare on a loaded machine). Prints the
capacities side by side, and numba's import time; writes compiled_floor_results.json.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_pybamm  # noqa: E402

_started = time.perf_counter()
import compiled_floor as floor  # noqa: E402   (imports numba)
NUMBA_IMPORT_S = time.perf_counter() - _started

from solver.api import build_grid  # noqa: E402
from solver.api import run as solver_run  # noqa: E402
from solver.model import CellModel  # noqa: E402
from solver.simulate import Simulation  # noqa: E402

NO_HISTORY = np.zeros((0, 5))
T_END = 7200.0


def floor_arrays(case):
    """The compiled floor's parameter vector, OCV breakpoints and PCHIP pieces, from the case
    as bench_pybamm.same_equations reads it."""
    from scipy.interpolate import PchipInterpolator

    anode, electrolyte, cathode = case.layers
    lco, lipon, li = cathode.material, electrolyte.material, anode.material
    c_max = lco.value("max_concentration")
    low, high = lco.value("stoichiometry_range")
    current = c_max * cathode.thickness * bench_pybamm.FARADAY * (high - low) / 3600.0
    frt = bench_pybamm.FARADAY / (bench_pybamm.GAS_CONSTANT * case.temperature)
    p = np.zeros(floor.P_NPAR)
    p[floor.P_NE] = p[floor.P_NC] = bench_pybamm.CELLS
    p[floor.P_HE] = electrolyte.thickness / bench_pybamm.CELLS
    p[floor.P_HC] = cathode.thickness / bench_pybamm.CELLS
    p[floor.P_D] = lco.value("diffusivity")
    p[floor.P_I] = current
    p[floor.P_F] = bench_pybamm.FARADAY
    p[floor.P_CMAX] = c_max
    p[floor.P_KAPPA] = lipon.value("conductivity")
    p[floor.P_SIGMA] = lco.value("electronic_conductivity")
    p[floor.P_K] = lco.value("rate_constant")
    p[floor.P_FRT] = frt
    p[floor.P_ETALI] = 2 / frt * np.arcsinh(current / (2 * li.value("exchange_current_density")))
    p[floor.P_VCUT] = case.protocol[0].until_voltage
    p[floor.P_X0] = cathode.initial_stoichiometry
    ocv = lco.value("ocv")
    x = np.array(ocv.x, dtype=float)
    return p, x, np.ascontiguousarray(PchipInterpolator(x, np.array(ocv.y)).c), current


def floor_solve(arrays, rtol, atol=1e-6):
    """The counters of one compiled run (floor.STATS), the cutoff time among them."""
    p, x, pieces, _ = arrays
    stats = np.zeros(len(floor.STATS))
    floor.run(p, x, pieces, rtol, atol, T_END, stats, 1, 0.33, NO_HISTORY)
    return dict(zip(floor.STATS, stats.tolist()))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=21)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as folder:
        case = bench_pybamm.thinfilm_case(folder)
    grid = build_grid(case)
    model = CellModel(case, grid)
    arrays = floor_arrays(case)
    started = time.perf_counter()
    floor_solve(arrays, 1e-4)                 # compiles, or loads numba's cache
    first_call_s = time.perf_counter() - started
    pybamm_runs = {rtol: bench_pybamm.same_equations(case, rtol, 1e-6) for rtol in (1e-4, 1e-3)}

    def idaklu(rtol):
        model_, solver_, _ = pybamm_runs[rtol]
        return solver_.solve(model_, [0.0, T_END])

    timed = {
        "compiled_floor_rtol_1e-4": lambda: floor_solve(arrays, 1e-4),
        "compiled_floor_rtol_1e-3": lambda: floor_solve(arrays, 1e-3),
        "idaklu_rtol_1e-4": lambda: idaklu(1e-4),
        "idaklu_rtol_1e-3": lambda: idaklu(1e-3),
        "thinfilm_model_reused": lambda: Simulation(case, grid, model=model).run(),
    }
    for run in timed.values():
        run()
    wall = {name: [] for name in timed}
    cpu = {name: [] for name in timed}
    loads = [os.getloadavg()[0]]
    for _ in range(args.repeats):
        for name, run in timed.items():
            gc.collect()
            cpu_start, wall_start = time.thread_time(), time.perf_counter()
            run()
            wall[name].append(time.perf_counter() - wall_start)
            cpu[name].append(time.thread_time() - cpu_start)
        loads.append(os.getloadavg()[0])
    median = {name: statistics.median(v) for name, v in wall.items()}
    cpu_median = {name: statistics.median(v) for name, v in cpu.items()}
    fastest = {name: min(v) for name, v in wall.items()}
    reference = "idaklu_rtol_1e-4"
    print(f"{args.repeats} alternating repeats, load average {min(loads):.2f}-{max(loads):.2f}")
    print("| run | median | fastest | CPU median | CPU / IDAKLU rtol 1e-4 |\n|---|---|---|---|---|")
    for name in timed:
        print(f"| {name} | {median[name] * 1e3:.3f} ms | {fastest[name] * 1e3:.3f} ms | "
              f"{cpu_median[name] * 1e3:.3f} ms | {cpu_median[name] / cpu_median[reference]:.2f} |")
    capacities = {}
    for rtol in (1e-4, 1e-3):
        stats = floor_solve(arrays, rtol)
        solution = idaklu(rtol)
        capacities[f"rtol_{rtol:g}"] = {
            "compiled_floor": stats["t_event"] * arrays[3] / 3.6 * 0.1,
            "idaklu": float(solution.t[-1]) * pybamm_runs[rtol][2] / 3.6 * 0.1,
            "compiled_floor_counters": stats}
    result = solver_run(case)
    capacities["thinfilm"] = result.summary["steps"][0]["capacity_mAh_cm2"] * 1e3
    print(json.dumps(capacities, indent=1))
    print(f"numba import {NUMBA_IMPORT_S * 1e3:.0f} ms; first compiled call (compile or "
          f"cache load) {first_call_s:.2f} s")
    if not args.no_json:
        out = Path(__file__).resolve().parent / "compiled_floor_results.json"
        out.write_text(json.dumps({
            "wall_s": wall, "cpu_s": cpu, "loads": loads, "median_s": median,
            "cpu_median_s": cpu_median, "fastest_s": fastest,
            "cpu_ratio_to_idaklu_rtol_1e-4": {n: cpu_median[n] / cpu_median[reference]
                                              for n in timed},
            "capacities_uAh_cm2": capacities, "numba_import_s": NUMBA_IMPORT_S,
            "first_call_s": first_call_s}, indent=1), encoding="utf-8")
        print(f"wrote {out}")


if __name__ == "__main__":
    main()

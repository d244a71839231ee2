"""Benchmark: full 1C discharges of the shipped trench (2D) and micropillar (3D) cells
at five mesh sizes each, and how the cost per time step grows with the cell count.

    python benchmarks/bench_structured.py                     # everything, ~7 min (the
                                                              # largest pillar ~1.5 min)
    python benchmarks/bench_structured.py --quick --no-json   # 2 trench + 1 pillar, ~20 s
    python benchmarks/bench_structured.py --max-cells 30000   # skip the larger grids
    python benchmarks/bench_structured.py --cases pillar --sizes 5 --merge   # redo one run,
                                                              # keep the others in the JSON
    python benchmarks/bench_structured.py --report            # reprint and refit the JSON

The cases are cases/trench_si_lipon_lco.toml (2D cross-section of one trench half period)
and cases/micropillar_si_lipon_lco.toml (3D quarter pillar) as shipped, with [mesh]
cells_per_layer and max_cell_size changed together (see SIZES) and their one discharge at
1C to 3.0 V. The variants are built with solver.case.case_from_dict from the loaded
case's .raw.

Every mesh size runs in a fresh Python subprocess (so that peak RSS is that run's), on one
thread (OMP/OpenBLAS/MKL threads set to 1 before numpy loads). In it, after the imports:
  grid   wall time of solver.build_grid(case);
  solve  wall time of solver.run(case, grid=grid): the model and the linear solver's set-up,
         the open-circuit start and the whole time loop; median over up to --repeats runs
         in the same process (fewer once --repeat-budget seconds of solving are spent).
Counted in the timed runs (the wrappers cost a counter and a clock per call): accepted time
steps (rows of the time series), nonlinear solves (solver.simulate.newton_solve calls,
rejected steps included), Newton iterations (residual + Jacobian evaluations), the time in
assembly (the residual and Jacobian) and in the linear solver, the linear solver's class
(the object Simulation(case, grid).linear_solver holds, captured from
solver.simulate.make_linear_solver) and its own counters (factorisations, GMRES iterations)
where it has them. Peak memory is the subprocess's peak resident set at the end (VmHWM;
also ru_maxrss, which on Linux starts from the peak of the parent process, so it is
only meaningful where the run needs more than the parent held).

The scaling of the time per accepted step (and per Newton iteration, and of the whole
solve) with the cell count is fitted as a power law, the slope of a least-squares line
through log(time) against log(cells) of the runs that finished.

Prints markdown tables and writes benchmarks/structured_results.json (after every run, so
an interrupted benchmark keeps what it finished). It reports numbers; it never fails
because something was slow, and a run the solver fails or that exceeds --timeout is
recorded as such.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"          # before numpy is imported, here or in the subprocesses

import argparse
import copy
import datetime
import json
import math
import resource
import statistics
import subprocess
import sys
import time
import traceback
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(ROOT))   # the checkout's solver/, meshes/
RESULTS = HERE / "structured_results.json"
RESULT_MARK = "BENCH_STRUCTURED_RESULT "

CASES = {
    "trench": ROOT / "cases" / "trench_si_lipon_lco.toml",
    "pillar": ROOT / "cases" / "micropillar_si_lipon_lco.toml",
}
# (cells_per_layer, max_cell_size): about 2e3 .. 4e4 cells for the 2D trench period (the
# shipped mesh, 4 / 0.25 um, has 2.7e3), 4e3 .. 1e5 for the 3D quarter pillar (the shipped
# mesh, 3 / 0.5 um, is the middle one; the generator's angular minimum keeps the coarsest
# pillar grid near 4e3 cells). Cell counts on this revision are in the comments.
SIZES = {
    "trench": [(3, "0.3 um"),      # 1 954
               (5, "0.18 um"),     # 4 852
               (7, "0.12 um"),     # 10 070
               (10, "0.08 um"),    # 21 100
               (14, "0.06 um")],   # 37 586
    "pillar": [(2, "2 um"),        # 3 944
               (3, "0.8 um"),      # 11 000
               (3, "0.5 um"),      # 23 220 (as shipped)
               (4, "0.35 um"),     # 53 896
               (5, "0.28 um")],    # 101 076
}
QUICK_SIZES = {"trench": 2, "pillar": 1}    # --quick: the smallest, one run each (~30 s)
C_RATE = 1.0
UNTIL_VOLTAGE = "3.0 V"

# DESIGN.md section 9 and the issue: one core of this machine
TARGETS = {
    "trench": {"cells": 2e4, "solve_s": 10.0,
               "text": "2D trench period, 2e4 cells: a full 1C discharge in 10 s"},
    "pillar": {"cells": 1e5, "solve_s": 60.0,
               "text": "3D pillar unit, 1e5 cells: a full 1C discharge in 60 s"},
    "scaling": "time per step close to linear in the cell count (exponent near 1)",
}


# ----------------------------------------------------------------------------- the case

def bench_case(key, cells_per_layer, max_cell_size):
    """The shipped case with the mesh set and one 1C discharge to 3.0 V, validated again."""
    from solver.case import case_from_dict, load_case

    case = load_case(CASES[key])
    data = copy.deepcopy(case.raw)
    data.setdefault("mesh", {})
    data["mesh"]["cells_per_layer"] = cells_per_layer
    data["mesh"]["max_cell_size"] = max_cell_size
    data["protocol"] = [{"mode": "discharge", "c_rate": C_RATE, "until_voltage": UNTIL_VOLTAGE}]
    return case_from_dict(data, case.path.parent, source=str(case.path))


def grid_cells(key, cells_per_layer, max_cell_size):
    """Cell count of a mesh size (builds the grid only: under 2 s for 1e5 cells)."""
    from solver.api import build_grid

    return int(build_grid(bench_case(key, cells_per_layer, max_cell_size)).n_cells)


# ----------------------------------------------------------------------------- one run

def peak_rss_mib():
    """Peak resident memory of this process, MiB: VmHWM from /proc/self/status (Linux).

    Not ru_maxrss alone: Linux carries it over fork and exec, so a subprocess would report
    at least the peak of the parent that started it (which builds grids to count cells);
    VmHWM belongs to the process image and starts afresh at exec."""
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except (OSError, ValueError, IndexError):
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0     # KiB on Linux


def linear_solver_stats(ls):
    """Whatever counters the linear solver keeps (solver/linear.py, solver/krylov.py)."""
    if ls is None:
        return None
    stats = {"class": type(ls).__name__, "module": type(ls).__module__}
    if hasattr(ls, "banded"):
        stats["banded"] = bool(ls.banded)
    if hasattr(ls, "factorisations"):
        stats["factorisations"] = int(ls.factorisations)
    if hasattr(ls, "potential"):                 # KrylovSolver: how T^-1 is done, set-ups
        stats["potential"] = str(ls.potential)
    if isinstance(getattr(ls, "setups", None), dict):
        stats["setups"] = {k: int(v) for k, v in ls.setups.items()}
    its = getattr(ls, "iterations", None)
    if isinstance(its, list):
        stats["gmres_solves"] = len(its)
        stats["gmres_iterations"] = int(sum(its))
        stats["gmres_max_iterations"] = int(max(its)) if its else 0
    return stats


def worker(key, cells_per_layer, max_cell_size, repeats, budget):
    """Runs in the subprocess: one mesh size, returns a dict (printed as JSON)."""
    import numpy as np
    import scipy.sparse.linalg  # noqa: F401  (imported before timing, like everything else)
    try:
        import pyamg  # noqa: F401  (the Krylov solver imports it lazily: not in the timing)
    except ImportError:
        pass
    import solver
    from solver import simulate
    from solver.api import build_grid

    out = {"case": key, "cells_per_layer": cells_per_layer, "max_cell_size": max_cell_size,
           "rss_after_imports_MiB": peak_rss_mib()}
    case = bench_case(key, cells_per_layer, max_cell_size)
    started = time.perf_counter()
    grid = build_grid(case)
    out["grid_s"] = time.perf_counter() - started
    out["cells"] = int(grid.n_cells)
    out["rss_after_grid_MiB"] = peak_rss_mib()

    # instrumentation: counters and clocks around the solver's own entry points
    counts = {}
    original_newton = getattr(simulate, "newton_solve", None)
    original_make = getattr(simulate, "make_linear_solver", None)

    def counting_newton(equations, linear_solver, *args, **kwargs):
        counts["solves"] += 1

        def counted(u):
            counts["iterations"] += 1
            t0 = time.perf_counter()
            try:
                return equations(u)
            finally:
                counts["assembly_s"] += time.perf_counter() - t0
        return original_newton(counted, linear_solver, *args, **kwargs)

    def timed_make(model, *args, **kwargs):
        t0 = time.perf_counter()
        ls = original_make(model, *args, **kwargs)
        counts["linear_setup_s"] += time.perf_counter() - t0
        counts["linear_solver"] = ls
        solve = ls.solve

        def timed_solve(data, rhs):
            counts["linear_solves"] += 1
            t1 = time.perf_counter()
            try:
                return solve(data, rhs)
            finally:
                counts["linear_s"] += time.perf_counter() - t1
        ls.solve = timed_solve
        return ls

    if original_newton is not None:
        simulate.newton_solve = counting_newton
    if original_make is not None:
        simulate.make_linear_solver = timed_make

    times, cpu_times, result, error = [], [], None, None
    for _ in range(max(1, repeats)):
        counts.update(solves=0, iterations=0, assembly_s=0.0, linear_setup_s=0.0,
                      linear_solves=0, linear_s=0.0, linear_solver=None)
        started, cpu_started = time.perf_counter(), time.process_time()
        try:
            result = solver.run(case, grid=grid)
        except Exception as exc:  # noqa: BLE001  (the solver failed: record it, no timing)
            error = f"{type(exc).__name__}: {exc}"
            out["traceback"] = traceback.format_exc(limit=-8)   # the innermost frames
            break
        times.append(time.perf_counter() - started)
        cpu_times.append(time.process_time() - cpu_started)
        if sum(times) >= budget:
            break
    out["peak_rss_MiB"] = peak_rss_mib()
    out["ru_maxrss_MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0

    ls = counts.get("linear_solver")
    if ls is None and error is None:             # the solver no longer goes through it
        ls = simulate.Simulation(case, grid).linear_solver
    out["linear_solver"] = linear_solver_stats(ls)
    if error is not None:
        out["status"] = "error"
        out["error"] = error
        out["unknowns"] = getattr(ls, "n", None)
        out["newton_solves_before_error"] = counts["solves"]
        return out

    s = result.summary
    step = s["steps"][0]
    n_steps = len(result.timeseries["time_s"])
    median = statistics.median(times)
    counted = original_newton is not None and counts["solves"] > 0
    out.update({
        "status": "failed" if step["end_reason"] == "solver_failed" else "ok",
        "unknowns": int(s["n_unknowns"]),
        "aef": s.get("aef"),
        "solve_times_s": times,
        "solve_median_s": median,
        "solve_min_s": min(times),
        "solve_cpu_times_s": cpu_times,
        "solve_cpu_median_s": statistics.median(cpu_times),
        "accepted_steps": n_steps,
        "nonlinear_solves": counts["solves"] if counted else None,
        "newton_iterations": counts["iterations"] if counted else None,
        "assembly_s": counts["assembly_s"] if counted else None,
        "linear_setup_s": counts["linear_setup_s"] if original_make else None,
        "linear_solves": counts["linear_solves"] if original_make else None,
        "linear_s": counts["linear_s"] if original_make else None,
        "per_step_ms": median / n_steps * 1e3 if n_steps else None,
        "per_step_cpu_ms": (statistics.median(cpu_times) / n_steps * 1e3
                            if n_steps else None),
        "per_newton_iteration_ms": (median / counts["iterations"] * 1e3
                                    if counted and counts["iterations"] else None),
        "end_reason": step["end_reason"],
        "capacity_uAh_cm2": step["capacity_mAh_cm2"] * 1e3,
        "mean_voltage_V": step["mean_voltage_V"],
        "duration_s": step["duration_s"],
        "message": s.get("message"),
    })
    del np
    return out


def run_size(key, cells_per_layer, max_cell_size, repeats, budget, timeout):
    """One mesh size in a fresh interpreter; returns its record."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", key,
               str(cells_per_layer), max_cell_size, str(repeats), str(budget)]
    started = time.perf_counter()
    try:
        proc = subprocess.run(command, check=False, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, env=os.environ.copy(), cwd=ROOT,
                              timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"case": key, "cells_per_layer": cells_per_layer, "max_cell_size": max_cell_size,
                "status": "timeout", "error": f"no result within --timeout {timeout:g} s",
                "process_s": time.perf_counter() - started}
    elapsed = time.perf_counter() - started
    for line in reversed(proc.stdout.splitlines()):
        if line.startswith(RESULT_MARK):
            record = json.loads(line[len(RESULT_MARK):])
            record["process_s"] = elapsed
            return record
    return {"case": key, "cells_per_layer": cells_per_layer, "max_cell_size": max_cell_size,
            "status": "error", "process_s": elapsed,
            "error": f"worker exited with {proc.returncode} and no result",
            "stderr_tail": proc.stderr[-3000:]}


# ----------------------------------------------------------------------------- scaling

def power_fit(xs, ys):
    """Least-squares slope and prefactor of log y = log a + p log x, or None."""
    pts = [(math.log(x), math.log(y)) for x, y in zip(xs, ys) if x and y and x > 0 and y > 0]
    if len(pts) < 2 or len({p[0] for p in pts}) < 2:
        return None
    mx = sum(p[0] for p in pts) / len(pts)
    my = sum(p[1] for p in pts) / len(pts)
    sxx = sum((p[0] - mx) ** 2 for p in pts)
    slope = sum((p[0] - mx) * (p[1] - my) for p in pts) / sxx
    return {"exponent": slope, "log_prefactor": my - slope * mx, "points": len(pts)}


def scaling(runs, key):
    done = [r for r in runs if r["case"] == key and r.get("status") == "ok"]
    cells = [r["cells"] for r in done]
    fits = {
        "per_step_ms": power_fit(cells, [r["per_step_ms"] for r in done]),
        "per_step_cpu_ms": power_fit(cells, [r.get("per_step_cpu_ms") for r in done]),
        "per_newton_iteration_ms": power_fit(cells, [r.get("per_newton_iteration_ms")
                                                      for r in done]),
        "solve_s": power_fit(cells, [r["solve_median_s"] for r in done]),
        "linear_s": power_fit(cells, [r.get("linear_s") for r in done]),
        "assembly_s": power_fit(cells, [r.get("assembly_s") for r in done]),
    }
    # the same fit within each linear solver (the solver changes with the size)
    classes = sorted({(r.get("linear_solver") or {}).get("class") for r in done} - {None})
    fits["per_step_ms_by_linear_solver"] = {
        name: power_fit([r["cells"] for r in done if r["linear_solver"]["class"] == name],
                        [r["per_step_ms"] for r in done if r["linear_solver"]["class"] == name])
        for name in classes}
    target = TARGETS[key]
    fit = fits["solve_s"]
    if fit is not None:
        fits["solve_s_at_target_cells_from_fit"] = math.exp(
            fit["log_prefactor"] + fit["exponent"] * math.log(target["cells"]))
    return fits


# ----------------------------------------------------------------------------- report

def secs(v):
    if v is None:
        return "n/a"
    return f"{v * 1e3:.0f} ms" if v < 1 else f"{v:.2f} s" if v < 100 else f"{v:.0f} s"


def _count(v):
    return "n/a" if v is None else str(v)


def table(runs, key):
    cols = ["cells (mesh)", "unknowns", "linear solver", "steps", "Newton solves / its",
            "solve (median of n)", "CPU", "per step", "per Newton it", "assembly / linear", "grid",
            "capacity µAh/cm² (end)", "peak RSS"]
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    for r in sorted((r for r in runs if r["case"] == key), key=lambda r: r.get("cells") or 0):
        mesh = f"{r.get('cells', '?')} ({r['cells_per_layer']} / {r['max_cell_size']})"
        info = r.get("linear_solver") or {}
        ls = info.get("class", "?")
        notes = []
        if "factorisations" in info:
            notes.append(f"{info['factorisations']} LU")
        if "potential" in info:
            notes.append(f"potentials by {'LU' if info['potential'] == 'lu' else 'AMG'}")
        if "setups" in info:
            notes.append(f"{info['setups'].get('potential', 0)} + "
                         f"{info['setups'].get('stoichiometry', 0)} set-ups")
        if "gmres_iterations" in info:
            notes.append(f"{info['gmres_iterations']} GMRES its")
            if info.get("gmres_solves"):
                notes.append(f"{info['gmres_iterations'] / info['gmres_solves']:.1f} its/solve")
        if notes:
            ls += " (" + ", ".join(notes) + ")"
        rss = f"{r['peak_rss_MiB']:.0f} MiB" if r.get("peak_rss_MiB") else ""
        if r.get("status") != "ok":
            why = r.get("error") or r.get("message") or ""
            row = [mesh, str(r.get("unknowns", "")), ls, f"**{r.get('status')}**: {why}"]
            row += [""] * (len(cols) - len(row) - 1) + [rss]
            lines.append("| " + " | ".join(row) + " |")
            continue
        per_it = r.get("per_newton_iteration_ms")
        row = [mesh, str(r["unknowns"]), ls, str(r["accepted_steps"]),
               f"{_count(r.get('nonlinear_solves'))} / {_count(r.get('newton_iterations'))}",
               f"{secs(r['solve_median_s'])} ({len(r['solve_times_s'])})",
               secs(r.get("solve_cpu_median_s")),
               f"{r['per_step_ms']:.0f} ms",
               "n/a" if per_it is None else f"{per_it:.0f} ms",
               f"{secs(r.get('assembly_s'))} / {secs(r.get('linear_s'))}",
               secs(r["grid_s"]),
               f"{r['capacity_uAh_cm2']:.2f} ({r['end_reason']})", rss]
        lines.append("| " + " | ".join(row) + " |")
    return lines


def fits_lines(fits):
    def e(name):
        f = fits.get(name)
        return "n/a" if f is None else f"{f['exponent']:.2f}"
    points = max((f["points"] for f in fits.values() if isinstance(f, dict) and "points" in f),
                 default=0)
    return [(f"fitted exponents p in time ~ cells^p, over {points} finished runs: "
             f"per step {e('per_step_ms')} (wall) / {e('per_step_cpu_ms')} (CPU), "
             f"per Newton iteration {e('per_newton_iteration_ms')}, "
             f"whole solve {e('solve_s')}, linear solver {e('linear_s')}, "
             f"assembly {e('assembly_s')}")] + [
            f"per step within {name} only: {f['exponent']:.2f} over {f['points']} runs"
            for name, f in fits.get("per_step_ms_by_linear_solver", {}).items()
            if f is not None and 1 < f["points"] < points]


def machine_info():
    sys.path.insert(0, str(HERE))
    try:
        from bench_planar import git_revision, machine
        info, revision = machine(), git_revision()
    finally:
        sys.path.pop(0)
    try:
        import pyamg
        info["pyamg"] = pyamg.__version__
    except ImportError:
        info["pyamg"] = None
    return info, revision


def git_revision_now():
    """The revision the subprocess ran (others may commit while a long benchmark runs)."""
    sys.path.insert(0, str(HERE))
    try:
        from bench_planar import git_revision
        return git_revision()
    finally:
        sys.path.pop(0)


def write_json(path, record):
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if argv and argv[0] == "--worker":
        key, cpl, mcs, repeats, budget = argv[1:6]
        out = worker(key, int(cpl), mcs, int(repeats), float(budget))
        print(RESULT_MARK + json.dumps(out), flush=True)
        return 0

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", nargs="+", choices=sorted(CASES), default=["trench", "pillar"])
    parser.add_argument("--sizes", type=int, nargs="+", default=None,
                        help="which of the five mesh sizes of each case, 1 (coarsest) .. 5")
    parser.add_argument("--max-cells", type=int, default=None,
                        help="skip grids with more cells than this")
    parser.add_argument("--quick", action="store_true",
                        help=f"the {QUICK_SIZES} smallest sizes of each case, one run each")
    parser.add_argument("--repeats", type=int, default=3,
                        help="timed solves per size, in one process (default 3)")
    parser.add_argument("--repeat-budget", type=float, default=30.0,
                        help="stop repeating a size once this many seconds of solving are "
                             "spent on it (default 30: large grids are run once)")
    parser.add_argument("--timeout", type=float, default=3600.0,
                        help="seconds allowed to one mesh size's subprocess (default 3600)")
    parser.add_argument("--json", type=Path, default=RESULTS,
                        help=f"where to write the results (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--no-json", action="store_true", help="print only")
    parser.add_argument("--merge", action="store_true",
                        help="keep the runs already in the JSON that this invocation does not redo")
    parser.add_argument("--report", action="store_true",
                        help="run nothing: print the tables of the JSON and refit (and rewrite it)")
    args = parser.parse_args(argv)
    if args.quick:
        args.repeats = 1
    indices = args.sizes or list(range(1, len(SIZES["trench"]) + 1))

    if args.report:
        return finish(json.loads(args.json.read_text(encoding="utf-8")), args)

    info, revision = machine_info()
    previous = []
    if args.merge and args.json.is_file():
        previous = json.loads(args.json.read_text(encoding="utf-8")).get("runs", [])
    record = {
        "benchmark": "structured cells: full 1C discharges to 3.0 V at five mesh sizes",
        "date": datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
        "revision": revision,
        "machine": info,
        "cases": {k: str(CASES[k].relative_to(ROOT)) for k in CASES},
        "sizes": {k: [{"cells_per_layer": c, "max_cell_size": m} for c, m in v]
                  for k, v in SIZES.items()},
        "what": {
            "solve": "solver.run(case, grid=grid) wall time in a fresh subprocess after imports "
                     "and the grid; median over up to `repeats` runs",
            "solve_cpu": "the same, process CPU time (less sensitive to other load on the "
                         "machine)",
            "grid": "solver.api.build_grid(case) wall time",
            "accepted_steps": "rows of the time series",
            "nonlinear_solves": "solver.simulate.newton_solve calls (rejected steps included)",
            "newton_iterations": "residual + Jacobian evaluations",
            "assembly_s / linear_s": "time in residual+Jacobian / in linear_solver.solve, "
                                     "last timed run",
            "peak_rss_MiB": "peak resident set (VmHWM) of the run's subprocess; ru_maxrss_MiB "
                            "is getrusage's, floored by the parent's peak on Linux",
            "fits": "least-squares slope of log(time) against log(cells), finished runs",
        },
        "targets": TARGETS,
        "options": {"repeats": args.repeats, "repeat_budget_s": args.repeat_budget,
                    "timeout_s": args.timeout, "max_cells": args.max_cells,
                    "quick": args.quick},
        "runs": [],
        "fits": {},
    }

    for key in args.cases:
        for i in indices:
            if args.quick and i > QUICK_SIZES[key]:
                continue
            cpl, mcs = SIZES[key][i - 1]
            n = grid_cells(key, cpl, mcs)
            if args.max_cells is not None and n > args.max_cells:
                print(f"{key} size {i} ({cpl} / {mcs}): {n} cells > --max-cells, skipped",
                      file=sys.stderr)
                continue
            print(f"{key} size {i} ({cpl} / {mcs}, {n} cells) ...", file=sys.stderr, flush=True)
            revision_now = git_revision_now()
            r = run_size(key, cpl, mcs, args.repeats, args.repeat_budget, args.timeout)
            r.setdefault("cells", n)
            r["size_index"] = i
            r["revision"] = revision_now
            record["runs"].append(r)
            print(f"    {r.get('status')}: solve {secs(r.get('solve_median_s'))}, "
                  f"{r.get('accepted_steps')} steps, {r.get('end_reason') or r.get('error')}, "
                  f"process {secs(r.get('process_s'))}", file=sys.stderr, flush=True)
            if not args.no_json:
                write_json(args.json, _merged(record, previous))

    return finish(_merged(record, previous), args)


def finish(record, args):
    """Fit, print the tables, write the JSON."""
    record["fits"] = {}
    for key in sorted({r["case"] for r in record["runs"]}):
        record["fits"][key] = scaling(record["runs"], key)

    m = record["machine"]
    print(f"one thread; {m['cpu']}, {m['nproc']} cores, Python {m['python']}, numpy {m['numpy']}, "
          f"scipy {m['scipy']}, pyamg {m['pyamg']}; revision {record['revision']}\n")
    for key in ("trench", "pillar"):
        if key not in record["fits"]:
            continue
        print(f"{key}: {CASES[key].relative_to(ROOT)}, 1C discharge to 3.0 V "
              f"(mesh: cells_per_layer / max_cell_size)\n")
        print("\n".join(table(record["runs"], key)))
        print()
        print("\n".join(fits_lines(record["fits"][key])))
        print(f"target: {TARGETS[key]['text']}\n")
    print(f"target: {TARGETS['scaling']}")

    if not args.no_json:
        write_json(args.json, record)
        print(f"\nwrote {args.json}")
    return 0


def _merged(record, previous):
    """The record with the previous runs it does not redo (same case and mesh) kept."""
    redone = {(r["case"], r["cells_per_layer"], r["max_cell_size"]) for r in record["runs"]}
    kept = [r for r in previous
            if (r["case"], r["cells_per_layer"], r["max_cell_size"]) not in redone]
    merged = dict(record)
    merged["runs"] = sorted(kept + record["runs"],
                            key=lambda r: (r["case"], r.get("cells") or 0))
    return merged


if __name__ == "__main__":
    sys.exit(main())

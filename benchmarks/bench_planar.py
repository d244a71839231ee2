"""Benchmark: a 1C discharge of the shipped planar Li | LiPON | LiCoO2 cell, fine mesh.

    python benchmarks/bench_planar.py                 # 15 solves, 5 CLI runs
    python benchmarks/bench_planar.py --repeats 5 --cli-repeats 2 --no-json   # quick look

The case is cases/planar_li_lipon_lco.toml with [mesh] cells_per_layer = 100 (100 cells
through each layer, the cathode included) and its discharge at c_rate = 1 to 3.0 V.

Measured, on one thread (OMP/OpenBLAS/MKL threads are set to 1 before numpy loads):
  solve  wall time of `solver.run(case)` alone (the case is loaded once, imports are done),
         median over --repeats runs after one untimed warm-up run;
  cli    wall time of `thinfilm run CASE --out DIR --quiet` as a subprocess (interpreter
         start-up, imports, case loading, solve and writing the results), median over
         --cli-repeats runs.
Also counted, in one extra untimed run: accepted time steps (rows of the time series),
nonlinear solves and Newton iterations (residual + Jacobian evaluations), when the solver's
internals allow counting them; otherwise they are reported as null.

Prints a markdown table and writes benchmarks/results.json. It reports numbers; it never
fails because something was slow.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"          # before numpy is imported, here or in the subprocess

import argparse  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import scipy  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout's solver/, meshes/
import solver  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED_CASE = ROOT / "cases" / "planar_li_lipon_lco.toml"
RESULTS = Path(__file__).resolve().parent / "results.json"
TARGET_S = 0.050       # solve time target (DESIGN.md section 9: "well under 0.1 s")
AIM_S = 0.020


# ----------------------------------------------------------------------------- the case

def case_text(cells_per_layer, c_rate):
    """The shipped case file with the mesh and C-rate set (comments kept, so it stays a
    case a user could have written)."""
    text = SHIPPED_CASE.read_text(encoding="utf-8")
    text, n_mesh = re.subn(r"(?m)^cells_per_layer\s*=.*$",
                           f"cells_per_layer = {cells_per_layer}", text)
    text, n_rate = re.subn(r"(?m)^c_rate\s*=.*$", f"c_rate = {c_rate:g}", text)
    # the discharge alone: the shipped case's impedance step (its own benchmark) goes
    text = re.sub(r"(?ms)^\[\[protocol\]\]\s*\nmode = \"impedance\".*?(?=^\[|\Z)", "", text)
    if n_mesh != 1 or n_rate != 1:
        raise SystemExit(f"bench_planar: {SHIPPED_CASE} no longer has exactly one "
                         f"'cells_per_layer =' and one 'c_rate =' line; update case_text()")
    return text


def load_bench_case(path, cells_per_layer, c_rate):
    case = solver.load_case(path)
    if case.mesh.cells_per_layer != cells_per_layer or len(case.protocol) != 1 \
            or case.protocol[0].c_rate != c_rate or case.protocol[0].mode != "discharge":
        raise SystemExit(f"bench_planar: {path} is not the intended benchmark case "
                         f"(one discharge at {c_rate}C, {cells_per_layer} cells per layer)")
    return case


# ----------------------------------------------------------------------------- counting

def count_newton(case):
    """Run once more, counting nonlinear solves and Newton iterations by wrapping the
    solver's Newton entry point (untimed). Returns (solves, iterations) or (None, None)."""
    try:
        import solver.simulate as simulate
        original = simulate.newton_solve
    except (ImportError, AttributeError):
        return None, None
    counts = {"solves": 0, "iterations": 0}

    def counting_newton(equations, *args, **kwargs):
        counts["solves"] += 1

        def counted(u):
            counts["iterations"] += 1
            return equations(u)
        return original(counted, *args, **kwargs)

    simulate.newton_solve = counting_newton
    try:
        solver.run(case)
    finally:
        simulate.newton_solve = original
    if counts["solves"] == 0:          # the solver no longer goes through newton_solve
        return None, None
    return counts["solves"], counts["iterations"]


# ----------------------------------------------------------------------------- timing

def time_solve(case, repeats):
    solver.run(case)                                  # warm-up: caches, lazy imports
    times = []
    result = None
    for _ in range(repeats):
        started = time.perf_counter()
        result = solver.run(case)
        times.append(time.perf_counter() - started)
    return times, result


def thinfilm_command():
    exe = Path(sys.executable).parent / "thinfilm"
    if exe.exists():
        return [str(exe)]
    found = shutil.which("thinfilm")
    if found:
        return [found]
    return [sys.executable, "-m", "solver.cli"]


def time_cli(case_path, repeats, workdir):
    command = thinfilm_command()
    times = []
    for k in range(repeats):
        out = Path(workdir) / f"cli_{k}"
        started = time.perf_counter()
        proc = subprocess.run(command + ["run", str(case_path), "--out", str(out), "--quiet"],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=os.environ.copy())
        times.append(time.perf_counter() - started)
        if proc.returncode != 0:
            raise SystemExit(f"bench_planar: thinfilm run exited with {proc.returncode}:\n"
                             f"{proc.stdout}{proc.stderr}")
        missing = [n for n in ("timeseries.csv", "summary.json", "voltage.png")
                   if not (out / n).is_file()]
        if missing:
            raise SystemExit(f"bench_planar: thinfilm run did not write {', '.join(missing)}")
    return times, " ".join(Path(c).name if i == 0 else c for i, c in enumerate(command))


PHASES_SCRIPT = """
import sys, time, json
t0 = time.perf_counter()
import solver.cli
t1 = time.perf_counter()
from solver.case import load_case
case = load_case(sys.argv[1])
t2 = time.perf_counter()
import solver
result = solver.run(case)
t3 = time.perf_counter()
result.write(sys.argv[2])
t4 = time.perf_counter()
print(json.dumps({"import": t1 - t0, "load_case": t2 - t1, "run": t3 - t2, "write": t4 - t3}))
"""


def time_cli_phases(case_path, repeats, workdir):
    """Where a cold `thinfilm run` spends its time: the same work as the CLI in a fresh
    interpreter, timed phase by phase (median of each phase over the repeats)."""
    phases = []
    for k in range(repeats):
        out = Path(workdir) / f"phases_{k}"
        proc = subprocess.run([sys.executable, "-c", PHASES_SCRIPT, str(case_path), str(out)],
                              stdin=subprocess.DEVNULL, capture_output=True, text=True,
                              env=os.environ.copy(), cwd=ROOT)
        if proc.returncode != 0:
            return None                      # the API moved; the CLI timing still stands
        phases.append(json.loads(proc.stdout.strip().splitlines()[-1]))
    return {name: statistics.median(p[name] for p in phases) for name in phases[0]}


# ----------------------------------------------------------------------------- machine

def machine():
    cpu = platform.processor() or ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:
        usable = os.cpu_count()
    return {
        "cpu": cpu,
        "nproc": usable,
        "platform": platform.platform(),
        "python": platform.python_version(),
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "threads": os.environ["OMP_NUM_THREADS"],
    }


def git_revision():
    """The commit and whether the working tree differs from it (read-only git calls)."""
    try:
        head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,
                              capture_output=True, text=True, check=True).stdout.strip()
        dirty = subprocess.run(["git", "--no-optional-locks", "status", "--porcelain",
                                "--untracked-files=no"], cwd=ROOT, capture_output=True,
                               text=True, check=True).stdout.strip()
        return head + ("+modified" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return None


# ----------------------------------------------------------------------------- report

def ms(seconds):
    return f"{seconds * 1e3:.1f} ms" if seconds < 1 else f"{seconds:.2f} s"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=15, help="timed solves (default 15)")
    parser.add_argument("--cli-repeats", type=int, default=5,
                        help="timed CLI runs (default 5; 0 skips them)")
    parser.add_argument("--cells", type=int, default=100, help="cells per layer (default 100)")
    parser.add_argument("--c-rate", type=float, default=1.0, help="discharge C-rate (default 1)")
    parser.add_argument("--json", type=Path, default=RESULTS,
                        help=f"where to write the results (default {RESULTS.relative_to(ROOT)})")
    parser.add_argument("--no-json", action="store_true", help="print only")
    args = parser.parse_args(argv)
    if args.repeats < 1:
        parser.error("--repeats must be at least 1")

    with tempfile.TemporaryDirectory(prefix="thinfilm-bench-") as workdir:
        case_path = Path(workdir) / "bench_planar.toml"
        case_path.write_text(case_text(args.cells, args.c_rate), encoding="utf-8")
        case = load_bench_case(case_path, args.cells, args.c_rate)

        solve_times, result = time_solve(case, args.repeats)
        solves, iterations = count_newton(case)
        cli_times, cli_command = (time_cli(case_path, args.cli_repeats, workdir)
                                  if args.cli_repeats > 0 else ([], None))
        cli_phases = (time_cli_phases(case_path, args.cli_repeats, workdir)
                      if args.cli_repeats > 0 else None)

    step = result.summary["steps"][0]
    n_steps = int(len(result.timeseries["time_s"]))
    grid = getattr(result, "grid", None)
    cells_by_layer = ({name: int(np.sum(grid.cell_tags == k))
                       for k, name in enumerate(grid.tag_names)} if grid is not None else None)
    solve_median = statistics.median(solve_times)
    record = {
        "benchmark": "planar 1D discharge, shipped Li | LiPON | LiCoO2 cell",
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "revision": git_revision(),
        "machine": machine(),
        "case": {
            "file": str(SHIPPED_CASE.relative_to(ROOT)),
            "cells_per_layer": args.cells,
            "c_rate": args.c_rate,
            "n_cells": result.summary["n_cells"],
            "cells_by_layer": cells_by_layer,
            "n_unknowns": result.summary["n_unknowns"],
        },
        "solve": {
            "what": "solver.run(case) wall time; case loaded once, after one warm-up run",
            "repeats": args.repeats,
            "median_s": solve_median,
            "min_s": min(solve_times),
            "max_s": max(solve_times),
            "times_s": solve_times,
            "target_s": TARGET_S,
            "aim_s": AIM_S,
        },
        "cli": {
            "what": "thinfilm run CASE --out DIR --quiet, as a subprocess",
            "command": cli_command,
            "repeats": args.cli_repeats,
            "median_s": statistics.median(cli_times) if cli_times else None,
            "min_s": min(cli_times) if cli_times else None,
            "max_s": max(cli_times) if cli_times else None,
            "times_s": cli_times,
            "phases_median_s": cli_phases,
            "phases_what": "a fresh interpreter doing what the CLI does: import solver.cli, "
                           "load_case, solver.run (cold), Result.write",
        },
        "run": {
            "end_reason": step["end_reason"],
            "capacity_uAh_cm2": step["capacity_mAh_cm2"] * 1e3,
            "mean_voltage_V": step["mean_voltage_V"],
            "duration_s": step["duration_s"],
            "accepted_time_steps": n_steps,
            "nonlinear_solves": solves,
            "newton_iterations": iterations,
            "solve_time_per_step_ms": solve_median / n_steps * 1e3 if n_steps else None,
        },
    }

    m, r = record["machine"], record["run"]
    layers = (", ".join(f"{n} {name}" for name, n in cells_by_layer.items())
              if cells_by_layer else f"{record['case']['n_cells']}")
    lines = [
        f"planar {args.c_rate:g}C discharge, cells_per_layer = {args.cells} "
        f"(cells: {layers}; {record['case']['n_unknowns']} unknowns), "
        f"one thread; {m['nproc']} cores, Python {m['python']}, numpy {m['numpy']}, "
        f"scipy {m['scipy']}; revision {record['revision']}",
        "",
        "| quantity | value |",
        "|---|---|",
        f"| solve time, median of {args.repeats} (`solver.run`) | {ms(solve_median)} "
        f"(min {ms(min(solve_times))}, max {ms(max(solve_times))}) |",
    ]
    if cli_times:
        lines.append(f"| CLI time, median of {args.cli_repeats} (`thinfilm run`) | "
                     f"{ms(record['cli']['median_s'])} (min {ms(min(cli_times))}, "
                     f"max {ms(max(cli_times))}) |")
        if cli_phases:
            lines.append("| CLI phases, medians (cold process) | " + ", ".join(
                f"{name} {ms(v)}" for name, v in cli_phases.items()) + " |")
    count = (lambda v: "n/a" if v is None else str(v))
    lines += [
        f"| accepted time steps | {n_steps} |",
        f"| nonlinear solves (incl. rejected steps) | {count(solves)} |",
        f"| Newton iterations | {count(iterations)} |",
        f"| solve time per accepted step | {r['solve_time_per_step_ms']:.2f} ms |",
        f"| capacity to 3.0 V | {r['capacity_uAh_cm2']:.3f} uAh/cm2 ({r['end_reason']}) |",
        f"| mean voltage | {r['mean_voltage_V']:.4f} V |",
        f"| target / aim for the solve time | {ms(TARGET_S)} / {ms(AIM_S)} |",
    ]
    print("\n".join(lines))

    if not args.no_json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        tmp = args.json.with_name(f".{args.json.name}.tmp")
        tmp.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        os.replace(tmp, args.json)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

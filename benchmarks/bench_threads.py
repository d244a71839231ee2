"""Benchmark: a 2D and a 3D run with and without competing processes, with one BLAS thread
(thinfilm's default) and with a thread per core (numpy's default, what thinfilm did before).

    python benchmarks/bench_threads.py                 # 2 cases x 2 thread counts x 2 loads,
                                                       # 3 repeats each, ~5 min on 2 cores
    python benchmarks/bench_threads.py --repeats 1 --no-json      # a quick look

The cases are cases/trench_si_lipon_lco.toml with [mesh] cells_per_layer = 7 and
max_cell_size = "0.12 um" (2D, about 1e4 cells) and cases/micropillar_si_lipon_lco.toml as
shipped (3D quarter pillar, about 2.3e4 cells), each with its one 1C discharge to 3.0 V.

Each run is a fresh Python subprocess that loads the case, builds the grid and times
`solver.run(case, grid=grid)` inside `solver.threads.limited_threads(n)`: n = 1 (the
default of `thinfilm run`, sweeps and validation) or n = the CPU count (numpy's own
default). "Loaded" runs have `--load` busy processes beside them (default: the CPU count;
each spins a numpy matrix product on one thread, as another user's job would), started
before and stopped after the run. The conditions are interleaved repeat by repeat, so that
slow drifts of the machine fall on all of them alike; the tables give medians and the
ratios of medians of this one invocation.

Prints a markdown table and writes benchmarks/threads_results.json. It reports numbers; it
never fails because something was slow.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "threads_results.json"
MARK = "BENCH_THREADS_RESULT "

CASES = {
    "trench 2D": (ROOT / "cases" / "trench_si_lipon_lco.toml",
                  {"cells_per_layer": 7, "max_cell_size": "0.12 um"}),
    "pillar 3D": (ROOT / "cases" / "micropillar_si_lipon_lco.toml", {}),
}

RUN = r"""
import json, sys, time, tomllib
from solver.api import build_grid, run
from solver.case import case_from_dict
from solver.threads import limited_threads
path, mesh, threads = sys.argv[1], json.loads(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as handle:
    data = tomllib.load(handle)
data.setdefault("mesh", {}).update(mesh)
case = case_from_dict(data, __import__("pathlib").Path(path).parent)
grid = build_grid(case)
with limited_threads(threads):
    started = time.perf_counter()
    cpu = time.process_time()
    result = run(case, grid=grid)
    wall, cpu = time.perf_counter() - started, time.process_time() - cpu
step = result.summary["steps"][0]
print("MARK" + json.dumps({"wall_s": wall, "cpu_s": cpu, "cells": grid.n_cells,
                           "end_reason": step["end_reason"],
                           "capacity_uAh_cm2": step["capacity_mAh_cm2"] * 1e3}))
""".replace("MARK", MARK)

BUSY = r"""
import os
os.environ["OPENBLAS_NUM_THREADS"] = "1"
import numpy as np
a = np.random.default_rng(0).random((400, 400))
while True:
    a = a @ a
    a /= np.abs(a).max()
"""


def one_run(case: str, threads: int) -> dict:
    path, mesh = CASES[case]
    proc = subprocess.run([sys.executable, "-c", RUN, str(path), json.dumps(mesh), str(threads)],
                          capture_output=True, text=True, cwd=ROOT, timeout=3600)
    for line in proc.stdout.splitlines():
        if line.startswith(MARK):
            return json.loads(line[len(MARK):])
    return {"error": proc.stderr.strip().splitlines()[-1:] or ["no output"]}


def with_load(n_busy: int, action):
    busy = [subprocess.Popen([sys.executable, "-c", BUSY]) for _ in range(n_busy)]
    try:
        time.sleep(1.0)                      # let them reach their loop
        return action()
    finally:
        for proc in busy:
            proc.kill()
            proc.wait()


def main():
    cores = os.cpu_count() or 1
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--load", type=int, default=cores, help="busy processes (default: "
                                                                 "the CPU count)")
    parser.add_argument("--cases", nargs="*", default=list(CASES), choices=list(CASES))
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args()

    conditions = [(case, threads, loaded) for case in args.cases for threads in (1, cores)
                  for loaded in (False, True)]
    runs = {c: [] for c in conditions}
    for repeat in range(args.repeats):
        for case, threads, loaded in conditions:
            action = lambda: one_run(case, threads)  # noqa: E731
            before = os.getloadavg()[0]
            outcome = with_load(args.load, action) if loaded else action()
            outcome["loadavg_1min_before"] = before
            runs[(case, threads, loaded)].append(outcome)
            print(f"repeat {repeat + 1}: {case}, {threads} thread(s), "
                  f"{'loaded' if loaded else 'idle'}: {outcome}", file=sys.stderr)

    def median(case, threads, loaded, what="wall_s"):
        values = [r[what] for r in runs[(case, threads, loaded)] if what in r]
        return statistics.median(values) if values else float("nan")

    print(f"\n| case | cells | threads | idle (s) | with {args.load} busy processes (s) | "
          f"loaded / idle |")
    print("|---|---|---|---|---|---|")
    summary = []
    for case in args.cases:
        cells = next((r["cells"] for r in runs[(case, 1, False)] if "cells" in r), None)
        for threads in (1, cores):
            idle, busy = median(case, threads, False), median(case, threads, True)
            print(f"| {case} | {cells} | {threads} | {idle:.2f} | {busy:.2f} | "
                  f"{busy / idle:.2f} |")
            summary.append({"case": case, "cells": cells, "threads": threads,
                            "idle_median_s": idle, "loaded_median_s": busy,
                            "loaded_over_idle": busy / idle})
        print(f"| {case} | | {cores} / 1 under load | | "
              f"{median(case, cores, True) / median(case, 1, True):.2f} | |")
    if not args.no_json:
        record = {
            "benchmark": "2D and 3D runs with and without competing processes, 1 BLAS thread "
                         "vs one per core",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "revision": _revision(),
            "machine": {"nproc": cores, "platform": platform.platform(),
                        "python": platform.python_version()},
            "options": {"repeats": args.repeats, "busy_processes": args.load},
            "note": "loadavg_1min_before: the machine's 1-minute load average before each "
                    "run, from other work; 'idle' means without the benchmark's own busy "
                    "processes",
            "summary": summary,
            "runs": [{"case": c, "threads": t, "loaded": lo, "runs": runs[(c, t, lo)]}
                     for (c, t, lo) in conditions],
        }
        RESULTS.write_text(json.dumps(record, indent=1) + "\n")
        print(f"\nwritten {RESULTS.relative_to(ROOT)}")


def _revision() -> str:
    try:
        rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True,
                             text=True, cwd=ROOT).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               capture_output=True, text=True, cwd=ROOT).stdout.strip()
        return rev + ("+modified" if dirty else "")
    except OSError:
        return "unknown"


if __name__ == "__main__":
    main()

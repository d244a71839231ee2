"""Benchmark: a 3-parameter fit to three rates of a planar cell (DESIGN.md section 9: under
a minute on 2 cores), with the Jacobian from sensitivities and from differences of runs.

    python benchmarks/bench_fit.py                  # writes benchmarks/fit_results.json
    python benchmarks/bench_fit.py --no-json

The measured curves are thinfilm's own (the shipped planar cell, 12 cells per layer, its
library D, k and kappa) at 1, 5 and 20C, 40 points each with 1 mV of Gaussian noise; the fit
starts from D, k and kappa 4 to 40 times off (materials.LiCoO2.diffusivity, .rate_constant,
materials.LiPON.conductivity, log scale over three decades each), rtol 1e-4.

Timed, wall clock of `solver.fit.fit` (file reading, the starts, the final runs of every
experiment, the statistics; no output files):
- one start in this process, Jacobian from forward sensitivities;
- the same with forward differences of whole runs (P more runs per Jacobian);
- two starts (the base values and one point of a scrambled Halton sequence) on a local Dask cluster of two
  worker processes (cluster start-up included), sensitivities.
Prints a table and the recovered values against the truth.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import copy  # noqa: E402
import datetime  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import tomllib  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import tomli_w  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout's solver/, meshes/
import solver  # noqa: E402
from solver.case import case_from_dict  # noqa: E402
from solver.fit import fit  # noqa: E402
from solver.fit.evaluate import model_at  # noqa: E402
from solver.results import measurable_rows  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "planar_li_lipon_lco.toml"
RESULTS = Path(__file__).resolve().parent / "fit_results.json"
RATES = (1, 5, 20)
TRUTH = {"materials.LiCoO2.diffusivity": 1.76e-15, "materials.LiCoO2.rate_constant": 1.89e-9,
         "materials.LiPON.conductivity": 2.3e-4}
PARAMETERS = {
    "materials.LiCoO2.diffusivity": {"min": "1e-12 cm^2/s", "max": "1e-9 cm^2/s",
                                     "initial": "1e-10 cm^2/s"},
    "materials.LiCoO2.rate_constant": {"min": "1e-10 m/s", "max": "1e-7 m/s",
                                       "initial": "1e-8 m/s"},
    "materials.LiPON.conductivity": {"min": "1e-7 S/cm", "max": "1e-4 S/cm",
                                     "initial": "1e-5 S/cm"},
}


def write_problem(folder: Path):
    with open(CASE, "rb") as handle:
        raw = tomllib.load(handle)
    raw["mesh"]["cells_per_layer"] = 12
    raw["solver"] = {"rtol": 1e-4}
    for layer in raw["cell"]["layers"]:           # the library film the parameters are of,
        if layer["material"].startswith("LiCoO2"):  # with constant values at the truth
            layer["material"] = "LiCoO2"
    raw["materials"] = {"LiCoO2": {"diffusivity": TRUTH["materials.LiCoO2.diffusivity"],
                                   "rate_constant": TRUTH["materials.LiCoO2.rate_constant"]},
                        "LiPON": {"conductivity": TRUTH["materials.LiPON.conductivity"]}}
    raw["protocol"] = raw["protocol"][:1]          # the discharge (not the impedance step)
    (folder / "cell.toml").write_text(tomli_w.dumps(raw))
    rng = np.random.default_rng(0)
    experiments = []
    for c in RATES:
        r = copy.deepcopy(raw)
        r["protocol"][0]["c_rate"] = c
        r["solver"] = {"rtol": 1e-6}
        series = solver.run(case_from_dict(r, CASE.parent)).step_series(0)
        keep = measurable_rows(series["time_s"])            # as a cycler samples it
        q, v = series["capacity_mAh_cm2"][keep], series["voltage_V"][keep]
        q_data = np.linspace(0, q[-1], 40)
        v_data = model_at(q, v, q_data, "", None)[0] + 1e-3 * rng.standard_normal(q_data.size)
        np.savetxt(folder / f"{c}C.csv", np.column_stack([q_data, v_data]), delimiter=",",
                   header="capacity_mAh_cm2,voltage_V", comments="")
        experiments.append({"name": f"{c}C", "data": f"{c}C.csv", "role": "fit",
                            "set": {"protocol.0.c_rate": c}})
    spec = {"base": "cell.toml", "experiment": experiments, "parameters": PARAMETERS}
    return spec


def timed_fit(folder, spec, settings, workers=None):
    spec = copy.deepcopy(spec)
    spec["fit"] = settings
    path = folder / "fit.toml"
    path.write_text(tomli_w.dumps(spec))
    started, cpu = time.perf_counter(), time.process_time()
    result = fit(path, workers=workers)
    # CPU time of this process: all of it for in-process fits, the client's only on Dask
    return time.perf_counter() - started, time.process_time() - cpu, result.summary


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        spec = write_problem(folder)
        runs = {
            "sensitivities, 1 start": timed_fit(folder, spec, {"starts": 1}),
            "differences, 1 start": timed_fit(folder, spec, {"starts": 1,
                                                             "jacobian": "differences"}),
            "sensitivities, 2 starts on 2 workers": timed_fit(folder, spec, {"starts": 2},
                                                              workers=2),
        }
    print(f"3-parameter fit, three rates ({', '.join(f'{c}C' for c in RATES)}), planar cell; "
          f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print("| fit | wall time | CPU (this process) | evaluations (best start) | model runs | "
          "D | k | kappa |")
    print("|---|---|---|---|---|---|---|---|")
    record = {}
    for name, (seconds, cpu, summary) in runs.items():
        values = [summary["parameters"][k]["value"] / TRUTH[k] for k in TRUTH]
        print(f"| {name} | {seconds:.1f} s | {cpu:.1f} s | {summary['evaluations']} | "
              f"{summary['model_runs']} | "
              + " | ".join(f"{v:.3f} x truth" for v in values) + " |")
        record[name] = {"wall_time_s": seconds, "cpu_s": cpu,
                        "evaluations": summary["evaluations"],
                        "model_runs": summary["model_runs"],
                        "value_over_truth": dict(zip(TRUTH, values)),
                        "ci95": {k: summary["parameters"][k]["ci95"] for k in TRUTH}}
    if not args.no_json:
        RESULTS.write_text(json.dumps({
            "benchmark": "3-parameter fit to three rates of a planar cell",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"nproc": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "load_average": os.getloadavg()},
            "runs": record}, indent=2) + "\n")
        print(f"written {RESULTS}")


if __name__ == "__main__":
    main()

"""Benchmark: thinfilm against PyBaMM's IDAKLU solver on the same 1D planar discharge.

    pip install pybamm                      # not a dependency of thinfilm: this script only
    python benchmarks/bench_pybamm.py       # 15 alternating solves of each
    python benchmarks/bench_pybamm.py --repeats 5 --no-json

The problem is benchmarks/bench_planar.py's: the shipped Li | LiPON | LiCoO2 cell with 100
cells through each layer, discharged at 1C to 3.0 V (one thread).

PyBaMM's built-in lithium-ion models (SPM, SPMe, DFN) are porous electrodes of spherical
particles; a dense film with one reacting face is not among them (a sphere's diffusion length
and surface per volume cannot both match a film's). So the PyBaMM side is PyBaMM's own
machinery on the same equations, written as a pybamm.BaseModel from the thinfilm case's
values:
- LiCoO2 film, thickness L_c, 100 uniform cells: dx/dt = D d2x/dz2, Li entering at the
  electrolyte face at I / (F c_max), none at the collector face;
- LiPON, thickness L_e, 100 uniform cells: d2phi_e/dz2 = 0, the current I through it, phi_e at
  the Li face = -eta_Li (Butler-Volmer with the Li i0; the Li metal at 0 V);
- LiCoO2 electronic potential, d2phi_s/dz2 = 0, the current I through it, phi_s at the
  electrolyte face = phi_e + U(x_s) + eta_c, eta_c from Butler-Volmer in the inverse (asinh)
  form with i0 = F k c_max sqrt(x_s (1 - x_s)) (alpha = 0.5, as the library);
- U: the library's OCV table through pybamm.Interpolant (PCHIP, as thinfilm's tables);
- the terminal voltage phi_s at the collector face; an event at 3.0 V.
Lengths are in micrometres inside the PyBaMM model (its algebraic solver works on unscaled
residuals). Differences left: thinfilm grades its cells toward the interfaces and resolves
the surface stoichiometry with a half cell; PyBaMM extrapolates x to the surface on a uniform
grid. The capacities at 3.0 V are printed side by side: they agree to about 0.05 %.

Timed (medians, after one untimed warm-up each, alternating so that a loaded machine slows
both alike, a garbage collection before each call: without it the call after a thinfilm run
paid for its garbage, and IDAKLU's times split into 2 and 12 ms): `solver.run(case)` (builds the grid and model, runs, collects the result) and
the same run reusing the model as a fit does (`Simulation(case, grid, model=model)`), against
PyBaMM's `IDAKLUSolver.solve` on the model built and discretised once (PyBaMM's set-up is
excluded, its fastest case). IDAKLU at its default tolerances (rtol 1e-4, atol 1e-6) and at
rtol 1e-3 (thinfilm's default rtol). Writes benchmarks/pybamm_results.json.
"""

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS",
             "VECLIB_MAXIMUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import datetime  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import statistics  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import bench_planar  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))   # the checkout's solver/, meshes/
import solver  # noqa: E402
from solver.api import build_grid  # noqa: E402
from solver.model import CellModel  # noqa: E402
from solver.simulate import Simulation  # noqa: E402
from solver.units import FARADAY, GAS_CONSTANT  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "pybamm_results.json"
CELLS = 100
UM = 1e-6


# The equations PyBaMM is given below have constant D and sigma, the whole film active and no
# capacitances: the shipped case's library values that are tables or capacitances are
# replaced by constants of the same order (the benchmark compares solvers, not materials).
SAME_EQUATIONS = """
[materials.LiCoO2_003]
diffusivity = "1.76e-11 cm^2/s"
electronic_conductivity = "0.05 S/cm"
active_fraction = 1.0
double_layer_capacitance = 0

[materials.Li]
double_layer_capacitance = 0

[materials.LiPON]
relative_permittivity = 0
"""


def thinfilm_case(folder):
    path = Path(folder) / "bench_planar.toml"
    path.write_text(bench_planar.case_text(CELLS, 1.0) + SAME_EQUATIONS, encoding="utf-8")
    return bench_planar.load_bench_case(path, CELLS, 1.0)


def same_equations(case, rtol, atol):
    """PyBaMM's model of the thinfilm case's equations, discretised: (model, solver, I)."""
    import pybamm

    anode, electrolyte, cathode = case.layers
    lco, lipon, li = cathode.material, electrolyte.material, anode.material
    T = case.temperature
    cmax, D = lco.value("max_concentration"), lco.value("diffusivity")
    k, sigma = lco.value("rate_constant"), lco.value("electronic_conductivity")
    kappa, i0_li = lipon.value("conductivity"), li.value("exchange_current_density")
    ocv = lco.value("ocv")
    low, high = lco.value("stoichiometry_range")
    L_e, L_c = electrolyte.thickness, cathode.thickness
    current = cmax * L_c * FARADAY * (high - low) / 3600.0        # A/m^2 at 1C
    f = FARADAY / (GAS_CONSTANT * T)

    model = pybamm.BaseModel()
    x = pybamm.Variable("x", domain="positive electrode")
    phi_e = pybamm.Variable("phi_e", domain="separator")
    phi_s = pybamm.Variable("phi_s", domain="positive electrode")
    model.rhs = {x: pybamm.div(D / UM ** 2 * pybamm.grad(x))}
    model.algebraic = {phi_e: pybamm.div(pybamm.grad(phi_e)),
                       phi_s: pybamm.div(pybamm.grad(phi_s))}
    xs = pybamm.boundary_value(x, "left")
    xs_clipped = pybamm.maximum(pybamm.minimum(xs, 1 - 1e-9), 1e-9)
    i0 = FARADAY * k * cmax * pybamm.sqrt(xs_clipped * (1 - xs_clipped))
    U = pybamm.Interpolant(np.array(ocv.x), np.array(ocv.y), xs, interpolator="pchip")
    eta_li = 2 / f * np.arcsinh(current / (2 * i0_li))
    eta_c = 2 / f * pybamm.arcsinh(-current / (2 * i0))
    model.boundary_conditions = {
        x: {"left": (pybamm.Scalar(-current / (FARADAY * D * cmax) * UM), "Neumann"),
            "right": (pybamm.Scalar(0), "Neumann")},
        phi_e: {"left": (pybamm.Scalar(-eta_li), "Dirichlet"),
                "right": (pybamm.Scalar(-current / kappa * UM), "Neumann")},
        phi_s: {"left": (pybamm.boundary_value(phi_e, "right") + U + eta_c, "Dirichlet"),
                "right": (pybamm.Scalar(-current / sigma * UM), "Neumann")},
    }
    voltage = pybamm.boundary_value(phi_s, "right")
    model.variables = {"voltage": voltage}
    model.initial_conditions = {x: pybamm.Scalar(cathode.initial_stoichiometry),
                                phi_e: pybamm.Scalar(-eta_li),
                                phi_s: pybamm.Scalar(float(ocv(cathode.initial_stoichiometry)))}
    model.events = [pybamm.Event("3.0 V", voltage - case.protocol[0].until_voltage)]
    z_e = pybamm.SpatialVariable("z_e", domain=["separator"], coord_sys="cartesian")
    z_c = pybamm.SpatialVariable("z_c", domain=["positive electrode"], coord_sys="cartesian")
    geometry = {"separator": {z_e: {"min": pybamm.Scalar(0), "max": pybamm.Scalar(L_e / UM)}},
                "positive electrode": {z_c: {"min": pybamm.Scalar(0),
                                             "max": pybamm.Scalar(L_c / UM)}}}
    submesh = {"separator": pybamm.Uniform1DSubMesh, "positive electrode": pybamm.Uniform1DSubMesh}
    mesh = pybamm.Mesh(geometry, submesh, {z_e: CELLS, z_c: CELLS})
    methods = {"separator": pybamm.FiniteVolume(), "positive electrode": pybamm.FiniteVolume()}
    pybamm.Discretisation(mesh, methods).process_model(model)
    return model, pybamm.IDAKLUSolver(rtol=rtol, atol=atol), current


def main(argv=None):
    import pybamm

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--repeats", type=int, default=15)
    parser.add_argument("--no-json", action="store_true")
    args = parser.parse_args(argv)

    with tempfile.TemporaryDirectory() as folder:
        case = thinfilm_case(folder)
    grid = build_grid(case)
    model = CellModel(case, grid)
    pybamm_runs = {label: same_equations(case, rtol, 1e-6)
                   for label, rtol in (("idaklu_rtol_1e-4", 1e-4), ("idaklu_rtol_1e-3", 1e-3))}
    t_end = 2 * 3600.0

    def thinfilm_run():
        return solver.run(case)

    def thinfilm_reused():
        sim = Simulation(case, grid, model=model)
        sim.run()
        return sim

    def pybamm_solve(label):
        m, s, _ = pybamm_runs[label]
        return s.solve(m, [0.0, t_end])

    timed = {"thinfilm_run": thinfilm_run, "thinfilm_model_reused": thinfilm_reused}
    timed.update({label: (lambda label=label: pybamm_solve(label)) for label in pybamm_runs})
    for fn in timed.values():
        fn()                                              # warm-up
    times = {name: [] for name in timed}
    for _ in range(args.repeats):
        for name, fn in timed.items():
            gc.collect()           # each timed call starts clean: no garbage of the last one
            started = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - started)
    medians = {name: statistics.median(t) for name, t in times.items()}
    minima = {name: min(t) for name, t in times.items()}

    result = solver.run(case)
    capacity = {"thinfilm": result.summary["steps"][0]["capacity_mAh_cm2"] * 1e3}
    steps = {"thinfilm": int(result.timeseries["time_s"].size)}
    for label, (m, s, current) in pybamm_runs.items():
        solution = s.solve(m, [0.0, t_end])
        capacity[label] = float(solution.t[-1]) * current / 3.6 * 0.1      # uAh/cm2
        steps[label] = int(len(solution.t))
    reference = "idaklu_rtol_1e-4"
    ratios = {name: medians[name] / medians[reference]
              for name in ("thinfilm_run", "thinfilm_model_reused")}
    ratios_rtol_1e3 = {name: medians[name] / medians["idaklu_rtol_1e-3"]
                       for name in ("thinfilm_run", "thinfilm_model_reused")}

    print(f"1D planar 1C discharge, {CELLS} cells per layer, one thread; "
          f"pybamm {pybamm.__version__}, {args.repeats} alternating repeats\n")
    print("| solver | median solve | output points | capacity to 3.0 V (uAh/cm2) |")
    print("|---|---|---|---|")
    rows = (("thinfilm `solver.run`", "thinfilm_run", "thinfilm"),
            ("thinfilm, model reused (a fit)", "thinfilm_model_reused", "thinfilm"),
            ("PyBaMM IDAKLU, rtol 1e-4 (default)", "idaklu_rtol_1e-4", "idaklu_rtol_1e-4"),
            ("PyBaMM IDAKLU, rtol 1e-3", "idaklu_rtol_1e-3", "idaklu_rtol_1e-3"))
    for label, name, key in rows:
        print(f"| {label} | {medians[name] * 1e3:.2f} ms | {steps[key]} | {capacity[key]:.4f} |")
    print(f"\nthinfilm / IDAKLU (rtol 1e-4): run {ratios['thinfilm_run']:.2f}x, model reused "
          f"{ratios['thinfilm_model_reused']:.2f}x; against rtol 1e-3: "
          f"{ratios_rtol_1e3['thinfilm_run']:.2f}x, {ratios_rtol_1e3['thinfilm_model_reused']:.2f}x"
          f" (target: at most 0.4x)")
    print(f"fastest of each: thinfilm run {minima['thinfilm_run'] * 1e3:.1f} ms, model reused "
          f"{minima['thinfilm_model_reused'] * 1e3:.1f} ms, IDAKLU "
          f"{minima['idaklu_rtol_1e-4'] * 1e3:.2f} ms (rtol 1e-4), "
          f"{minima['idaklu_rtol_1e-3'] * 1e3:.2f} ms (rtol 1e-3): run / IDAKLU rtol 1e-4 = "
          f"{minima['thinfilm_run'] / minima['idaklu_rtol_1e-4']:.1f}x")
    if not args.no_json:
        record = {
            "benchmark": "thinfilm vs PyBaMM IDAKLU, 1D planar 1C discharge, same equations",
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "machine": {"nproc": os.cpu_count(), "platform": platform.platform(),
                        "python": platform.python_version(), "pybamm": pybamm.__version__,
                        "load_average": os.getloadavg()},
            "cells_per_layer": CELLS, "repeats": args.repeats,
            "median_s": medians, "min_s": minima, "times_s": times, "capacity_uAh_cm2": capacity,
            "output_points": steps, "ratio_to_idaklu_rtol_1e-4": ratios,
            "ratio_to_idaklu_rtol_1e-3": ratios_rtol_1e3,
        }
        RESULTS.write_text(json.dumps(record, indent=2) + "\n")
        print(f"written {RESULTS}")


if __name__ == "__main__":
    main()

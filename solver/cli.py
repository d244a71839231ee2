"""The `thinfilm` command: run cases and sweeps, build meshes, list materials, validate."""

import argparse
import sys
import time
from pathlib import Path

from .errors import InputError, SolverError

EXIT_INVALID_INPUT = 2
EXIT_SOLVER_FAILED = 3


def _parser():
    parser = argparse.ArgumentParser(
        prog="thinfilm",
        description="Continuum solver for all-solid-state thin-film lithium batteries.")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a case file and write its results")
    run.add_argument("case", type=Path, help="case file (TOML)")
    run.add_argument("--out", type=Path, required=True, help="output folder")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    mesh = sub.add_parser("mesh", help="build a case's grid and write it with quality figures, "
                                       "without solving")
    mesh.add_argument("case", type=Path, help="case file (TOML)")
    mesh.add_argument("--out", type=Path, required=True, help="output folder")
    materials = sub.add_parser("materials", help="list the materials library, or show one entry")
    materials.add_argument("name", nargs="?", help="material name, e.g. LiCoO2")
    validate = sub.add_parser("validate", help="run the validation studies (validation/) and "
                                               "write validation.json and report.md")
    validate.add_argument("--out", type=Path, required=True, help="output folder")
    validate.add_argument("--study", action="append", metavar="NAME",
                          help="run only this study (repeatable); default: all")
    validate.add_argument("--fast", action="store_true",
                          help="only the fast studies (the CI subset)")
    validate.add_argument("--workers", type=int, default=None,
                          help="worker processes for the runs (default: 2)")
    validate.add_argument("--root", type=Path, default=None,
                          help="folder of the studies (default: the repository's validation/)")
    sweep = sub.add_parser("sweep", help="run every combination of a sweep file's values "
                                         "(on Dask) and write results.csv")
    sweep.add_argument("sweep_file", type=Path, metavar="SWEEP.toml",
                       help="sweep file: base = CASE.toml and a [grid] of dotted keys")
    sweep.add_argument("--out", type=Path, required=True,
                       help="output folder (results.csv, runs/); run again to resume")
    sweep.add_argument("--scheduler", metavar="ADDRESS", default=None,
                       help="address of a running Dask scheduler (default: a local cluster)")
    sweep.add_argument("--workers", type=int, default=None,
                       help="worker processes of the local cluster (default: the CPU count)")
    sweep.add_argument("--plots", action="store_true", help="also write voltage.png per run")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or table")
    return parser


class _Progress:
    """Prints a progress line to stderr once a run has taken more than a couple of seconds."""

    def __init__(self, case, quiet):
        self.n_steps = len(case.protocol)
        self.started = time.perf_counter()
        self.last = self.started
        self.quiet = quiet
        self.shown = False

    def __call__(self, k, step, elapsed, voltage, capacity):
        now = time.perf_counter()
        if self.quiet or now - self.started < 2.0 or now - self.last < 1.0:
            return
        self.last = now
        self.shown = True
        end = "" if sys.stderr.isatty() else "\n"   # redraw one line on a terminal only
        print(f"\rstep {k + 1}/{self.n_steps} {step.mode}: t = {elapsed:10.1f} s, "
              f"V = {voltage:.4f} V, {capacity * 1e3:9.3f} uAh/cm2", end=end, file=sys.stderr)

    def close(self):
        if self.shown and sys.stderr.isatty():
            print(file=sys.stderr)


def _run(args):
    from .api import run
    from .case import load_case

    case = load_case(args.case)
    progress = _Progress(case, args.quiet)
    result = run(case, progress=progress)
    progress.close()
    written = result.write(args.out)
    for k, step in enumerate(result.summary["steps"]):
        print(f"step {k} {step['mode']:9s} {step['end_reason']:18s} "
              f"{step['capacity_mAh_cm2'] * 1e3:10.3f} uAh/cm2  "
              f"{step['energy_mWh_cm2'] * 1e3:10.3f} uWh/cm2  "
              f"mean {step['mean_voltage_V']:.4f} V  ({step['duration_s']:.1f} s)")
        if step.get("message") and step["end_reason"] != "solver_failed":
            print(f"thinfilm: step {k}: {step['message']}", file=sys.stderr)
    for line in result.summary.get("warnings", []):
        print(f"thinfilm: {line}", file=sys.stderr)
    print(f"results in {args.out}/ ({', '.join(path.name for path in written)})")
    if result.failed:
        print(f"thinfilm: {result.summary.get('message', 'the solver failed')}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    return 0


def _mesh(args):
    import json

    from meshes.io import write_grid

    from .api import build_grid
    from .case import load_case
    from .geometry import geometry_summary, quality
    from .results import write_atomic

    case = load_case(args.case)
    grid = build_grid(case)
    report = {"case": case.name, "architecture": case.architecture,
              "footprint_area_cm2": case.footprint_area * 1e4,
              **geometry_summary(grid, case.footprint_area), **quality(grid)}
    args.out.mkdir(parents=True, exist_ok=True)
    write_grid(grid, args.out / "mesh.vtu")
    write_atomic(args.out / "mesh.json", json.dumps(report, indent=2) + "\n")
    print(f"{report['n_cells']} cells ({', '.join(f'{n} {t}' for t, n in report['cell_types'].items())}), "
          f"AEF {report['aef']:.4f}, non-orthogonality max {report['max_non_orthogonality_deg']:.1f} deg "
          f"(mean {report['mean_non_orthogonality_deg']:.2f}), "
          f"neighbour volume ratio max {report['max_neighbour_volume_ratio']:.1f}")
    for name, area in report["interface_area_cm2"].items():
        print(f"  interface {name}: {area:.6g} cm2 ({area / report['footprint_area_cm2']:.4f} x footprint)")
    print(f"mesh in {args.out}/ (mesh.vtu, mesh.json)")
    return 0


def _materials(args):
    from . import materials

    if args.name:
        print(materials.format_material(args.name))
    else:
        print(materials.format_library())
    return 0


def _validate(args):
    from . import validation

    workers = args.workers if args.workers is not None else validation.default_workers()
    if workers < 1:
        raise InputError("--workers", args.workers, "a whole number >= 1")
    result = validation.run_suite(args.out, root=args.root or validation.VALIDATION_DIR,
                                  names=args.study, fast_only=args.fast, workers=workers)
    for r in result["records"]:
        print(f"{'pass' if r['passed'] else 'FAIL'}  {r['study']:14s} {r['quantity'][:60]:60s} "
              f"reported {r['reported']:.4g}  model {r['model']:.4g}  (±{r['tolerance']:.3g} "
              f"{r['unit']})")
    for s in result["skipped"]:
        print(f"skip  {s['study']:14s} {s['quantity'][:60]:60s} {s['status']}")
    print(validation.suite_summary_line(result))
    print(f"results in {args.out}/ (validation.json, report.md)")
    return 0


def _sweep(args):
    from .sweep import sweep

    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", args.workers, "a whole number >= 1")
    if args.workers is not None and args.scheduler is not None:
        raise InputError("--workers", args.workers,
                         "no --workers with --scheduler (the cluster has its own workers)")

    def echo(line):
        print(f"thinfilm: {line}", file=sys.stderr)

    try:
        table = sweep(args.sweep_file, args.out, workers=args.workers,
                      scheduler=args.scheduler, plots=args.plots, progress=not args.quiet,
                      echo=echo)
    except InputError as exc:
        if exc.key in ("scheduler", "workers"):        # the options' names on this command
            raise InputError(f"--{exc.key}", exc.value, exc.expected) from None
        raise
    except KeyboardInterrupt:
        print(f"thinfilm: interrupted; finished runs are kept in {args.out}/runs/ and "
              f"{args.out}/results.csv lists the rest as not_run: run the same command "
              f"again to resume", file=sys.stderr)
        return 130
    if not args.quiet:
        for row in table:
            keys = "  ".join(f"{k}={row[k]}" for k in table.keys)
            if row["capacity_mAh_cm2"] is None:
                print(f"{keys}  {row['end_reason']}"
                      + (f": {row['message']}" if row["message"] else ""))
            else:
                print(f"{keys}  {row['capacity_mAh_cm2'] * 1e3:10.3f} uAh/cm2  "
                      f"{row['energy_mWh_cm2'] * 1e3:10.3f} uWh/cm2  "
                      f"mean {row['mean_voltage_V']:.4f} V  {row['end_reason']}"
                      + (f"  ({row['status']}: {row['message']})" if row["status"] != "ok"
                         else ""))
    failed = [row for row in table if row["status"] != "ok"]
    print(f"{len(table)} cases: {len(table.ran)} run now, {len(table.reused)} reused, "
          f"{len(failed)} not ok; results in {args.out}/results.csv")
    return EXIT_SOLVER_FAILED if failed else 0


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        if args.command == "run":
            return _run(args)
        if args.command == "mesh":
            return _mesh(args)
        if args.command == "validate":
            return _validate(args)
        if args.command == "sweep":
            return _sweep(args)
        return _materials(args)
    except InputError as exc:
        print(f"thinfilm: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except SolverError as exc:
        print(f"thinfilm: {exc}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    except BrokenPipeError:          # output piped into a reader that stopped (| head)
        sys.stdout = None
        return 0


if __name__ == "__main__":
    sys.exit(main())

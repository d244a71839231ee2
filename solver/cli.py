"""The `thinfilm` command: run cases and sweeps, fit parameters, build meshes, list
materials, validate."""

import argparse
import os
import signal
import sys
from pathlib import Path

from .errors import InputError, RunInterrupted, SolverError, shorten
from .files import LOCK_NAME, folder_lock, path_exists
from .shipped import resolve_case
from .signals import signal_handlers
from .version import __version__

EXIT_INVALID_INPUT = 2
EXIT_SOLVER_FAILED = 3
EXIT_INTERNAL_ERROR = 1          # a bug in thinfilm, not the input or the solver
# a run stopped by a signal exits 128 + its number, as a shell reports it
SIGNAL_REASONS = {signal.SIGINT: "interrupted (SIGINT)", signal.SIGTERM: "terminated (SIGTERM)"}


def _threads_option(parser):
    parser.add_argument("--threads", type=int, default=None, metavar="N",
                        help="BLAS/OpenMP threads per process (default: 1, or the environment "
                             "variable THINFILM_THREADS)")


class _Parser(argparse.ArgumentParser):
    """argparse with its errors on one line, as every input error (exit status 2): its
    usage, printed first by default, is a --help away. Subcommands use it too."""

    def error(self, message):
        self.exit(EXIT_INVALID_INPUT, f"thinfilm: invalid input: {message} (see {self.prog} "
                                      f"--help)\n")


def _parser():
    parser = _Parser(
        prog="thinfilm",
        description="Continuum solver for all-solid-state thin-film lithium batteries.")
    parser.add_argument("--version", action="version", version=f"thinfilm {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run a case file and write its results")
    run.add_argument("case", type=str, help="case file (TOML), or the name of a shipped case "
                                             "(thinfilm cases)")
    run.add_argument("--out", type=str, required=True, help="output folder")
    run.add_argument("--quiet", action="store_true", help="no progress output")
    run.add_argument("--time-limit", default="none", metavar="TIME",
                     help="stop the run after this much wall time, e.g. '2 h', keeping the "
                          "results so far (exit status 3; default: none)")
    _threads_option(run)
    mesh = sub.add_parser("mesh", help="build a case's grid and write it with quality figures, "
                                       "without solving")
    mesh.add_argument("case", type=str, help="case file (TOML), or the name of a shipped case")
    mesh.add_argument("--out", type=str, required=True, help="output folder")
    sub.add_parser("cases", help="list the shipped cases, with their paths (run one by its "
                                 "name: thinfilm run NAME --out DIR)")
    materials = sub.add_parser("materials", help="list the materials library, or show one entry")
    materials.add_argument("name", nargs="?", help="material name, e.g. LiCoO2")
    validate = sub.add_parser("validate", help="run the validation studies (validation/) and "
                                               "write validation.json and report.md")
    validate.add_argument("--study", action="append", metavar="NAME",
                          help="run only this study (repeatable); default: all")
    validate.add_argument("--fast", action="store_true",
                          help="only the fast studies (the CI subset)")
    validate.add_argument("--root", type=str, default=None,
                          help="folder of the studies (default: the shipped ones, the "
                               "repository's validation/)")
    _dask_options(validate, "output folder (validation.json, report.md, plots)")
    _time_limit_option(validate, "none")
    validate.add_argument("--quiet", action="store_true", help="no progress bar")
    sweep = sub.add_parser("sweep", help="run every combination of a sweep file's values "
                                         "(on Dask) and write results.csv")
    sweep.add_argument("sweep_file", type=str, metavar="SWEEP.toml",
                       help="sweep file: base = CASE.toml and a [grid] of dotted keys")
    _dask_options(sweep, "output folder (results.csv, runs/); run again to resume")
    _time_limit_option(sweep, "1 h")
    sweep.add_argument("--plots", action="store_true", help="also write voltage.png per run")
    sweep.add_argument("--quiet", action="store_true", help="no progress bar or table")
    fit = sub.add_parser("fit", help="identify parameters from measured curves (a fit file) "
                                     "and predict the experiments not fitted")
    fit.add_argument("fit_file", type=str, metavar="FIT.toml",
                     help="fit file: base = CASE.toml, [[experiment]] tables, [parameters]")
    _dask_options(fit, "output folder (fit.json, fitted.toml, report.md); run again to resume")
    fit.add_argument("--quiet", action="store_true", help="no progress lines")
    compare = sub.add_parser("compare", help="the same films as planar, trench, micropillar "
                                             "and bipolar cells at a list of C-rates (on "
                                             "Dask): compare.csv, ragone.png")
    compare.add_argument("compare_file", type=str, metavar="COMPARE.toml",
                         help="comparison file: base = CASE.toml, rates, [architectures.*]")
    _dask_options(compare, "output folder (compare.csv, ragone.png, rate_capability.png, "
                           "results.csv, runs/); run again to resume")
    _time_limit_option(compare, "1 h")
    compare.add_argument("--quiet", action="store_true", help="no progress bar or table")
    schema = sub.add_parser("schema", help="print the JSON Schema of case files (for TOML "
                                           "editors: completion and checks)")
    schema.add_argument("--out", type=str, default=None,
                        help="write it to this file instead of printing it")
    bpx = sub.add_parser("import-bpx", help="turn a BPX parameter file (JSON) into a case "
                                            "with its electrode parameters, and report what "
                                            "was not mapped")
    bpx.add_argument("bpx_file", type=str, metavar="FILE.json", help="BPX file (JSON or YAML)")
    bpx.add_argument("--out", type=str, required=True, metavar="CASE.toml",
                     help="case file to write; its tables and the report go beside it")
    bpx.add_argument("--negative-material", default=None, metavar="NAME",
                     help="library material the negative electrode overrides (default: the "
                          "intercalation material whose OCV is closest)")
    bpx.add_argument("--positive-material", default=None, metavar="NAME",
                     help="library material the positive electrode overrides (default: the "
                          "intercalation material whose OCV is closest)")
    bpx.add_argument("--electrolyte", default="LiPON", metavar="NAME",
                     help="library solid electrolyte between the films (default: LiPON)")
    bpx.add_argument("--electrolyte-thickness", default="1.5 um", metavar="LENGTH",
                     help="its thickness (default: 1.5 um)")
    return parser


def _on_dask(call, out: Path, kept: str | None = None):
    """The result of a command that runs on Dask, or its exit status after a signal (said
    with what is `kept`; nothing kept: the signal goes on to main). Errors in its scheduler
    or workers are named as this command's options."""
    try:
        return call()
    except InputError as exc:
        if exc.key in ("scheduler", "workers"):
            raise InputError(f"--{exc.key}", exc.value, exc.expected) from None
        raise
    except OSError as exc:
        raise _out_error(out, exc) from None
    except KeyboardInterrupt as exc:
        if kept is None or not _holds_results(out):
            raise
        reason = exc.reason if isinstance(exc, RunInterrupted) else SIGNAL_REASONS[signal.SIGINT]
        print(f"thinfilm: {reason}; {kept}: run the same command again to resume",
              file=sys.stderr)
        return _interrupt_status(reason)


def _holds_results(out: Path) -> bool:
    """Whether --out holds anything (a command stopped before its first run wrote none)."""
    return out.is_dir() and any(path.name != LOCK_NAME for path in out.iterdir())


def _time_limit_option(parser, default):
    parser.add_argument("--time-limit", default=default, metavar="TIME",
                        help=f"wall time after which a run is stopped and listed with status "
                             f"time_limit, e.g. '30 min' (default: {default}; 'none': no limit)")


def _dask_options(parser, out_help):
    """--out, --scheduler, --workers and --threads of the commands that run on Dask."""
    parser.add_argument("--out", type=str, required=True, help=out_help)
    parser.add_argument("--scheduler", metavar="ADDRESS", default=None,
                        help="address of a running Dask scheduler (default: a local cluster)")
    parser.add_argument("--workers", type=int, default=None,
                        help="worker processes of the local cluster (default: the CPU count; "
                             "more than the CPU count is reduced to it)")
    _threads_option(parser)


def _check_dask_options(args):
    if args.workers is not None and args.workers < 1:
        raise InputError("--workers", args.workers, "a whole number >= 1")
    if args.workers is not None and args.scheduler is not None:
        raise InputError("--workers", args.workers,
                         "no --workers with --scheduler (the cluster has its own workers)")


class _Progress:
    """A tqdm bar on stderr over the protocol's steps, from a couple of seconds into the run
    (none with --quiet). Off a terminal each redraw is a line of its own (a log keeps one
    a second), so each line starts with "step K"."""

    def __init__(self, case, quiet, delay=2.0):
        from tqdm import tqdm

        self.n_steps = len(case.protocol)
        stream = sys.stderr if sys.stderr.isatty() else _Lines(sys.stderr)
        self.bar = None if quiet else tqdm(
            total=self.n_steps, file=stream, delay=delay, mininterval=1.0, miniters=0,
            leave=False, dynamic_ncols=True, unit="step",
            desc=f"step 0 (0..{self.n_steps - 1}) {case.protocol[0].mode}:",
            bar_format="{desc} {percentage:3.0f}%|{bar}| {n}/{total} steps done, "
                       "[{elapsed}]{postfix}")

    def __call__(self, k, step, elapsed, voltage, capacity):
        if self.bar is None:
            return
        self.bar.set_description_str(f"step {k} (0..{self.n_steps - 1}) {step.mode}:",
                                     refresh=False)
        self.bar.set_postfix_str(f"t = {elapsed:.1f} s, V = {voltage:.4f} V, "
                                 f"{capacity * 1e3:.3f} uAh/cm2", refresh=False)
        self.bar.update(k - self.bar.n)

    def close(self):
        if self.bar is not None:
            self.bar.close()


class _Lines:
    """A stream that writes tqdm's redraws ("\\r" + text) as lines of their own."""

    def __init__(self, stream):
        self.stream = stream

    def write(self, text):
        text = text.strip("\r ")
        if text:
            self.stream.write(text + "\n")

    def flush(self):
        self.stream.flush()


def _run(args):
    from .api import run
    from .case import load_case
    from .results import summary_warnings

    time_limit = _time_limit(args.time_limit)
    case = load_case(resolve_case(args.case))
    progress = _Progress(case, args.quiet)
    try:
        result = run(case, progress=progress, time_limit=time_limit)
    except RunInterrupted as exc:
        progress.close()
        if exc.result is not None:
            with _signals_ignored():
                _write(exc.result, args.out)
        kept = f"; results so far in {args.out}/" if exc.result is not None else ""
        print(f"thinfilm: {exc.message}{kept}", file=sys.stderr)
        return _interrupt_status(exc.reason)
    progress.close()
    with _signals_ignored():
        written = _write(result, args.out)
    for k, step in enumerate(result.summary["steps"]):
        print(f"step {k} {step['mode']:9s} {step['end_reason']:18s} "
              f"{step['capacity_mAh_cm2'] * 1e3:10.3f} uAh/cm2  "
              f"{step['energy_mWh_cm2'] * 1e3:10.3f} uWh/cm2  "
              f"mean {step['mean_voltage_V']:.4f} V  ({step['duration_s']:.1f} s)")
    for line in summary_warnings(result.summary):
        print(f"thinfilm: {line}", file=sys.stderr)
    print(f"results in {args.out}/ ({', '.join(path.name for path in written)})")
    if result.failed:
        print(f"thinfilm: {result.summary.get('message', 'the solver failed')}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    return 0


def _write(result, out: Path):
    try:
        return result.write(out)
    except OSError as exc:
        raise _out_error(out, exc) from None


def check_out_dir(out: Path, key: str = "--out") -> None:
    """An output folder that exists as a writable folder, or can be created: checked before
    the run, so that a bad --out costs nothing and writes nothing."""
    out = Path(out)
    if out.exists():
        if not out.is_dir():
            raise InputError(key, str(out), "a folder for the results (this is a file)")
        if not os.access(out, os.W_OK | os.X_OK):
            raise InputError(key, str(out), "a folder that can be written")
        return
    if out.is_symlink():
        raise InputError(key, str(out), f"a folder path ({out} is a symbolic link to "
                                        f"{os.readlink(out)}, which does not exist)")
    parent = out.absolute().parent
    while not parent.exists():
        parent = parent.parent
    if not parent.is_dir():
        raise InputError(key, str(out), f"a folder path ({parent} is a file)")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(key, str(out), f"a folder that can be created ({parent} cannot be "
                                        f"written)")


def _out_error(out: Path, exc: OSError) -> InputError:
    return InputError("--out", str(out), f"a folder the results can be written to "
                                         f"({exc.strerror or type(exc).__name__})")


def _interrupt_status(reason: str) -> int:
    for number, text in SIGNAL_REASONS.items():
        if reason == text:
            return 128 + number
    return EXIT_SOLVER_FAILED


def _raise_interrupted(number, frame):
    raise RunInterrupted(SIGNAL_REASONS[number])


def _signals_interrupt():
    """SIGINT and SIGTERM raise RunInterrupted (the run keeps what it has)."""
    return signal_handlers(dict.fromkeys(SIGNAL_REASONS, _raise_interrupted))


def _signals_ignored():
    """While results are written, a second Ctrl-C must not leave them half done."""
    return signal_handlers(dict.fromkeys(SIGNAL_REASONS, signal.SIG_IGN))


def _mesh(args):
    import json

    from .api import build_grid
    from .case import load_case
    from .geometry import geometry_summary, quality
    from .files import write_atomic
    from .siblings import sibling

    case = load_case(resolve_case(args.case))
    grid = build_grid(case)
    report = {"case": case.name, "architecture": case.architecture,
              "footprint_area_cm2": case.footprint_area * 1e4,
              **geometry_summary(grid, case.footprint_area), **quality(grid)}
    try:
        args.out.mkdir(parents=True, exist_ok=True)
        sibling("meshes.io").write_grid(grid, args.out / "mesh.vtu")
        write_atomic(args.out / "mesh.json", json.dumps(report, indent=2) + "\n")
    except OSError as exc:
        raise _out_error(args.out, exc) from None
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

    if args.name is not None:          # "" is a name too (refused), not the listing
        print(materials.format_material(args.name))
    else:
        print(materials.format_library())
    return 0


def _cases(args):
    from .shipped import CASES_DIR, describe, shipped_cases

    paths = shipped_cases()
    if not paths:
        raise InputError("cases", str(CASES_DIR), "the folder of the shipped cases; none found")
    width = max(len(path.stem) for path in paths)
    for path in paths:
        print(f"{path.stem:{width}s}  {describe(path)}")
    print(f"in {CASES_DIR}/ (run one by name: thinfilm run NAME --out DIR; copy one to edit it)")
    return 0


def _validate(args):
    from . import validation

    _check_dask_options(args)
    time_limit = _time_limit(args.time_limit)

    def echo(line):
        print(f"thinfilm: {line}", file=sys.stderr)

    result = _on_dask(lambda: validation.run_suite(
        args.out, root=args.root or validation.VALIDATION_DIR, names=args.study,
        fast_only=args.fast, workers=args.workers, scheduler=args.scheduler,
        threads=args.n_threads, time_limit=time_limit, progress=not args.quiet, echo=echo),
        args.out)
    for r in result["records"]:
        print(f"{'pass' if r['passed'] else 'FAIL'}  {r['study']:14s} {r['quantity'][:60]:60s} "
              f"reported {validation._reported(r)}  model {r['model']:.4g}  "
              f"({validation._tolerance(r)} {r['unit']})")
    for s in result["skipped"]:
        print(f"skip  {s['study']:14s} {s['quantity'][:60]:60s} {s['status']}")
    print(validation.suite_summary_line(result))
    print(f"results in {args.out}/ (validation.json, report.md)")
    # a study may skip a run by design (a model the solver does not have yet: "skipped");
    # a run that stopped (time limit), failed or raised left its comparisons unevaluated
    stopped = [s for s in result["skipped"] if s["status"] != "skipped"]
    if stopped:
        first = stopped[0]
        print(f"thinfilm: {len(stopped)} comparison(s) not evaluated: their runs did not "
              f"finish (first: {first['study']} run {first['run']}, {first['status']}: "
              f"{shorten(first['reason'])}); report.md lists them", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    return 0


def _sweep(args):
    from .sweep import sweep

    _check_dask_options(args)

    def echo(line):
        print(f"thinfilm: {line}", file=sys.stderr)

    time_limit = _time_limit(args.time_limit)
    table = _on_dask(lambda: sweep(resolve_case(args.sweep_file, "sweep"), args.out,
                                   workers=args.workers, scheduler=args.scheduler, plots=args.plots,
                                   progress=not args.quiet, echo=echo, time_limit=time_limit,
                                   threads=args.n_threads),
                     args.out, f"finished runs are kept in {args.out}/runs/ and "
                               f"{args.out}/results.csv lists the rest as not_run")
    if isinstance(table, int):
        return table
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
    _report_warnings(table, lambda row: ", ".join(f"{k}={row[k]}" for k in table.keys),
                     f"{args.out}/results.csv", args.quiet)
    failed = [row for row in table if row["status"] != "ok"]
    print(f"{len(table)} cases: {len(table.ran)} run now, {len(table.reused)} reused, "
          f"{len(failed)} not ok; results in {args.out}/results.csv")
    return EXIT_SOLVER_FAILED if failed else 0


def _compare(args):
    from .compare import compare

    _check_dask_options(args)

    def echo(line):
        print(f"thinfilm: {line}", file=sys.stderr)

    table = _on_dask(lambda: compare(resolve_case(args.compare_file, "compare"), args.out,
                                     workers=args.workers, scheduler=args.scheduler,
                                     progress=not args.quiet, echo=echo,
                                     time_limit=_time_limit(args.time_limit),
                                     threads=args.n_threads),
                     args.out, f"finished runs are kept in {args.out}/runs/")
    if isinstance(table, int):
        return table
    if not args.quiet:
        print(f"{'cell':14s} {'C-rate':>6s} {'uAh/cm2':>9s} {'uWh/cm2':>9s} {'uW/cm2':>10s} "
              f"{'mWh/cm3':>9s} {'mW/cm3':>10s} {'mean V':>7s} {'AEF':>5s}  end")
        for row in table:
            if row["capacity_mAh_cm2"] is None or row["power_mW_cm2"] is None:
                print(f"{row['architecture']:14s} {row['c_rate']:6g}  {row['end_reason']}"
                      + (f"  ({row['status']}: {row['message']})" if row.get("message")
                         else ""))
                continue
            print(f"{row['architecture']:14s} {row['c_rate']:6g} "
                  f"{row['capacity_mAh_cm2'] * 1e3:9.3f} {row['energy_mWh_cm2'] * 1e3:9.3f} "
                  f"{row['power_mW_cm2'] * 1e3:10.3f} {row['energy_mWh_cm3']:9.3f} "
                  f"{row['power_mW_cm3']:10.3f} {row['mean_voltage_V']:7.3f} "
                  f"{row['aef']:5.2f}  {row['end_reason']}"
                  + (f" ({row['status']}" + (f": {row['message']}" if row.get("message")
                                              else "") + ")" if row["status"] != "ok" else ""))
    _report_warnings(table, lambda row: f"{row['architecture']} at {row['c_rate']:g}C",
                     f"{args.out}/compare.csv", args.quiet)
    failed = [row for row in table if row["status"] != "ok"]
    print(f"{len(table)} runs: {len(table.runs.ran)} run now, {len(table.runs.reused)} reused, "
          f"{len(failed)} not ok; results in {args.out}/compare.csv, ragone.png, "
          f"rate_capability.png")
    return EXIT_SOLVER_FAILED if failed else 0


def _report_warnings(table, label, csv_path: str, quiet: bool) -> None:
    """The warnings of a sweep's runs on stderr (their `warnings` column): each with its
    row's label, or with --quiet one line counting them (never nothing)."""
    flagged = [row for row in table if row.get("warnings")]
    if quiet and flagged:
        print(f"thinfilm: warning: {len(flagged)} of {len(table)} runs have warnings "
              f"(the warnings column of {csv_path})", file=sys.stderr)
        return
    for row in flagged:
        for line in row["warnings"]:
            print(f"thinfilm: {label(row)}: {line}", file=sys.stderr)


def _time_limit(text: str) -> float | None:
    """--time-limit: a time such as '30 min' (a plain number is seconds), or 'none'."""
    from .units import parse_quantity

    if text.strip().lower() in ("none", "off"):
        return None
    try:
        value = float(text)
    except ValueError:
        value = text
    seconds = parse_quantity(value, "time", "--time-limit")
    if not seconds > 0:
        raise InputError("--time-limit", text, "a time greater than zero such as '30 min', "
                                               "or none")
    return seconds


def _fit(args):
    from .fit import fit

    _check_dask_options(args)

    def echo(line):                   # --quiet hides progress, never a warning
        if not args.quiet or line.startswith("warning:"):
            print(f"thinfilm: {line}", file=sys.stderr)

    result = _on_dask(lambda: fit(args.fit_file, args.out, workers=args.workers,
                                  scheduler=args.scheduler, echo=echo),
                      args.out, f"finished starts are kept in {args.out}/starts/")
    if isinstance(result, int):
        return result
    from .fit.report import rmse_text

    summary = result.summary
    for key, entry in summary["parameters"].items():
        low, high = entry["ci95"]
        interval = f"[{low:.4g}, {high:.4g}]" if low is not None else "[not determined]"
        print(f"{key:40s} {entry['value']:.5g} {entry['unit']:10s} 95 % {interval}"
              + ("" if entry["identifiable"] else "  NOT IDENTIFIABLE"))
    for e in summary["experiments"]:
        end = "" if e["capacity_error"] is None else f", end {e['capacity_error'] * 100:+.2f} %"
        print(f"{e['role']:8s} {e['name']:20s} {rmse_text(e, 8)} rms{end}")
    print(f"{summary['evaluations']} evaluations, {summary['wall_time_s']:.1f} s; results in "
          f"{args.out}/ (fit.json, fitted.toml, report.md, overlays.png)")
    if summary["failed_experiments"]:
        print(f"thinfilm: the model run of {', '.join(summary['failed_experiments'])} failed "
              f"at the fitted values (fit.json says where); results kept", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    if summary["nothing_fitted"]:
        print(f"thinfilm: nothing was fitted: at the fitted values the model delivers nothing "
              f"of {', '.join(summary['nothing_delivered'])} (fit.json's warnings say where); "
              f"results kept", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    return 0


def _schema(args):
    import json

    from .case_schema import case_schema
    from .results import write_atomic

    text = json.dumps(case_schema(), indent=2) + "\n"
    if args.out is None:
        sys.stdout.write(text)
        return 0
    try:
        write_atomic(args.out, text)
    except OSError as exc:
        why = exc.strerror or type(exc).__name__
        raise InputError("--out", str(args.out), f"a file that can be written ({why})") from None
    print(f"case schema in {args.out}")
    return 0


def _import_bpx(args):
    from .bpx_import import import_bpx

    outcome = import_bpx(args.bpx_file, args.out, negative=args.negative_material,
                         positive=args.positive_material, electrolyte=args.electrolyte,
                         electrolyte_thickness=args.electrolyte_thickness)
    print(outcome.report)
    print(f"case in {outcome.case_path}; tables and report beside it "
          f"({', '.join(path.name for path in outcome.written[1:])})")
    return 0


# the path arguments, as the command line names them: read as text, since Path("") is the
# current folder
PATH_ARGUMENTS = {"out": "--out", "root": "--root", "case": "case", "sweep_file": "SWEEP.toml",
                  "fit_file": "FIT.toml", "compare_file": "COMPARE.toml",
                  "bpx_file": "FILE.json"}


def _paths(args) -> None:
    """The path arguments as Paths; an empty one is refused, and so is one the system
    cannot even look up (a name too long, a folder on the way that cannot be searched):
    pathlib's exists() and is_file() raise for those instead of answering."""
    for attr, name in PATH_ARGUMENTS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if not value.strip():
            raise InputError(name, value, "a path (an empty one would be the current folder)")
        path_exists(value, name)
        setattr(args, attr, Path(value))


# the commands that write into the folder --out names, one at a time per folder (the lock
# is held while the command runs: its runs on Dask write through this process, into
# subfolders of the folder it holds)
FOLDER_COMMANDS = {"run": _run, "mesh": _mesh, "validate": _validate, "sweep": _sweep,
                   "fit": _fit, "compare": _compare}
OTHER_COMMANDS = {"materials": _materials, "cases": _cases, "schema": _schema,
                  "import-bpx": _import_bpx}


def main(argv=None):
    args = _parser().parse_args(argv)
    try:
        _paths(args)
        with _signals_interrupt():
            if args.command in OTHER_COMMANDS:
                return OTHER_COMMANDS[args.command](args)
            from .threads import limited_threads, threads

            args.n_threads = threads(getattr(args, "threads", None))
            check_out_dir(args.out)
            with folder_lock(args.out), limited_threads(args.n_threads):
                return FOLDER_COMMANDS[args.command](args)
    except InputError as exc:
        print(f"thinfilm: invalid input: {exc}", file=sys.stderr)
        return EXIT_INVALID_INPUT
    except KeyboardInterrupt as exc:          # outside a run: nothing to keep
        reason = exc.reason if isinstance(exc, RunInterrupted) else SIGNAL_REASONS[signal.SIGINT]
        print(f"thinfilm: {reason}", file=sys.stderr)
        return _interrupt_status(reason)
    except SolverError as exc:
        print(f"thinfilm: {exc}", file=sys.stderr)
        return EXIT_SOLVER_FAILED
    except BrokenPipeError:          # output piped into a reader that stopped (| head)
        sys.stdout = None
        return 0
    except Exception as exc:         # a bug: one line for the user, the traceback on request
        if os.environ.get("THINFILM_DEBUG"):
            raise
        print(f"thinfilm: internal error, please report it: {type(exc).__name__}: "
              f"{shorten(str(exc))} (THINFILM_DEBUG=1 shows where)", file=sys.stderr)
        return EXIT_INTERNAL_ERROR


if __name__ == "__main__":
    sys.exit(main())

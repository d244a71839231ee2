"""thinfilm: continuum solver for all-solid-state thin-film lithium batteries.

The public API::

    import thinfilm

    case = thinfilm.load_case(thinfilm.shipped_case("planar_li_lipon_lco"))
    result = thinfilm.run(case)                 # result.summary, result.write("out/planar")
    thinfilm.sweep("sweep.toml", "out/sweep")   # results.csv and one folder per run
    thinfilm.compare("compare.toml", "out/compare")   # compare.csv, ragone.png, ...
    thinfilm.fit("fit.toml", "out/fit")         # fit.json, fitted.toml, report.md
    thinfilm.validate("out/validation", fast_only=True)

The code is in `thinfilm.solver` and `thinfilm.meshes`; the shipped cases and validation
studies are package data (`thinfilm.shipped_cases()`, `thinfilm.VALIDATION_DIR`).
"""

import importlib
import importlib.util
import sys
from pathlib import Path


def _packages():
    """(solver, meshes): installed from a wheel, this package's own subpackages. In a
    checkout the repository keeps solver/ and meshes/ at its top level; when those are
    importable as `solver` and `meshes` (the tests, a script run at the top of the
    repository), they are the ones used, registered as thinfilm.solver and thinfilm.meshes,
    so that a process never holds two copies of a module (two InputError classes). Else (an
    editable install used from elsewhere) setuptools' finder maps thinfilm.solver to solver/."""
    here = Path(__file__).resolve().parent
    if not (here / "solver").is_dir():
        spec = importlib.util.find_spec("solver")
        top_level = spec is not None and spec.origin is not None and \
            Path(spec.origin).resolve() == here.parent / "solver" / "__init__.py"
        if top_level:
            packages = importlib.import_module("solver"), importlib.import_module("meshes")
            for package in packages:
                sys.modules[f"{__name__}.{package.__name__}"] = package
            return packages
    return (importlib.import_module(f"{__name__}.solver"),
            importlib.import_module(f"{__name__}.meshes"))


solver, meshes = _packages()


def _module(name: str):
    return importlib.import_module(f"{solver.__name__}.{name}")


__version__ = _module("version").__version__
load_case = solver.load_case
run = solver.run
sweep = solver.sweep
compare = solver.compare
case_from_dict = _module("case").case_from_dict
build_grid = _module("api").build_grid
InputError = _module("errors").InputError
SolverError = _module("errors").SolverError
_shipped = _module("shipped")
CASES_DIR, VALIDATION_DIR = _shipped.CASES_DIR, _shipped.VALIDATION_DIR
shipped_cases, shipped_case = _shipped.shipped_cases, _shipped.shipped_case


def fit(path_or_dict, out=None, **options):
    """Fit a case's parameters to measured curves (a fit file or its dict); see
    thinfilm.solver.fit.fit for the options."""
    return _module("fit").fit(path_or_dict, out, **options)


def validate(out_dir, fast_only=False, names=None, root=None, **options):
    """Run the validation studies (the shipped ones, or those under `root`) and write
    validation.json and report.md to `out_dir`; returns the records and what was skipped."""
    validation = _module("validation")
    return validation.run_suite(out_dir, root=root or VALIDATION_DIR, names=names,
                                fast_only=fast_only, **options)


def main(argv=None) -> int:
    """The `thinfilm` command."""
    return _module("cli").main(argv)


__all__ = [
    "CASES_DIR", "InputError", "SolverError", "VALIDATION_DIR", "__version__", "build_grid",
    "case_from_dict", "compare", "fit", "load_case", "main", "meshes", "run", "shipped_case",
    "shipped_cases", "solver", "sweep", "validate",
]

"""Distribution: one package, `thinfilm`, that carries everything a user needs; the same
code imports as the repository's top-level `solver` and `meshes` (the tests) and as
`thinfilm.solver` and `thinfilm.meshes` (the wheel); `thinfilm --version`; a validation run
that finds no studies is an error."""

import ast
import json
import os
import re
import shutil
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import pytest

import solver
from solver import cli, shipped, validation, version
from solver.errors import InputError

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("solver", "meshes")
# the folders that go into the wheel, under thinfilm/ (pyproject.toml's package-dir)
SHIPPED_FOLDERS = ("thinfilm", "solver", "meshes", "cases", "validation")


def test_version_is_printed_as_thinfilm_x_y_z(capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(["--version"])
    assert stop.value.code == 0
    line = capsys.readouterr().out.strip()
    assert re.fullmatch(r"thinfilm \d+\.\d+\.\d+", line)
    assert line == f"thinfilm {version.__version__}"


def test_validate_without_studies_exits_2_naming_the_folder(tmp_path, capsys):
    empty = tmp_path / "no-studies"
    empty.mkdir()
    out = tmp_path / "out"
    assert cli.main(["validate", "--root", str(empty), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("thinfilm: invalid input: --root = ")
    assert str(empty) in err[0]
    assert not (out / "validation.json").exists()


def test_validate_fast_with_only_slow_studies_selected_exits_2(tmp_path, capsys):
    slow = [s.name for s in validation.select_studies() if not s.fast]
    if not slow:
        pytest.skip("every shipped study is fast")
    out = tmp_path / "out"
    assert cli.main(["validate", "--fast", "--study", slow[0], "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and f"--study = '{slow[0]}'" in err[0] and "fast" in err[0]
    assert not (out / "validation.json").exists()


def test_shipped_cases_are_found_by_name(capsys):
    names = [path.stem for path in shipped.shipped_cases()]
    assert "planar_li_lipon_lco" in names
    assert shipped.resolve_case(Path("planar_li_lipon_lco")) == \
        shipped.CASES_DIR / "planar_li_lipon_lco.toml"
    assert shipped.resolve_case(Path("planar_li_lipon_lco.toml")).is_file()
    # a path that is not a bare name is left for load_case to judge
    assert shipped.resolve_case(Path("cases/nope.toml")) == Path("cases/nope.toml")
    with pytest.raises(InputError, match="the name of a shipped case .*planar_li_lipon_lco"):
        shipped.resolve_case(Path("no_such_case"))
    assert cli.main(["cases"]) == 0
    listed = capsys.readouterr().out
    assert all(name in listed for name in names) and str(shipped.CASES_DIR) in listed
    # each file is labelled with the command that runs it
    lines = {line.split()[0]: line for line in listed.splitlines() if line.strip()}
    assert "(thinfilm compare)" in lines["compare_planar_trench_pillar"]
    assert "(thinfilm sweep)" in lines["sweep_planar_rate"]


def test_a_sweep_or_compare_file_given_to_run_says_which_command_runs_it(tmp_path, capsys):
    for name, command in (("sweep_planar_rate", "sweep"),
                          ("compare_planar_trench_pillar", "compare")):
        path = shipped.CASES_DIR / f"{name}.toml"
        # by name, and by path: the file and the command that runs it, not its `base`
        for given, key in ((name, "case"), (str(path), str(path))):
            assert cli.main(["run", given, "--out", str(tmp_path / name)]) == 2
            err = capsys.readouterr().err.strip().splitlines()
            assert len(err) == 1 and err[0].startswith(f"thinfilm: invalid input: {key} = ")
            assert f"run it with thinfilm {command} {given} --out DIR" in err[0]
            assert not (tmp_path / name).exists()
    assert cli.main(["sweep", "planar_li_lipon_lco", "--out", str(tmp_path / "s")]) == 2
    assert "run it with thinfilm run planar_li_lipon_lco" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["run", "sweep", "compare"])
def test_an_unknown_name_lists_only_the_files_its_command_runs(command):
    kinds = {path.stem: shipped.file_command(tomllib.loads(path.read_text(encoding="utf-8")))
             for path in shipped.shipped_cases()}
    with pytest.raises(InputError) as error:
        shipped.resolve_case(Path("no_such_case"), command)
    listed = str(error.value).rsplit("(", 1)[1]
    assert {name for name in kinds if name in listed} == {
        name for name, kind in kinds.items() if kind == command}


def test_checkout_facade_uses_the_top_level_packages():
    """In a checkout (the repository root on sys.path) `import thinfilm` reuses `solver`
    and `meshes`: one copy of every module, one InputError class."""
    import meshes
    import thinfilm

    assert thinfilm.solver is solver and thinfilm.meshes is meshes
    assert thinfilm.load_case is solver.load_case and thinfilm.run is solver.run
    for name in solver.__all__:                     # the whole API, compare included
        assert name in thinfilm.__all__ and getattr(thinfilm, name) is getattr(solver, name)
    assert thinfilm.InputError is solver.errors.InputError
    assert thinfilm.__version__ == version.__version__
    assert not any(name.startswith(("thinfilm.solver.", "thinfilm.meshes."))
                   for name in sys.modules)


def _absolute_sibling_imports(package: str) -> list[str]:
    found = []
    for path in sorted((ROOT / package).rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            found += [f"{path.relative_to(ROOT)}:{node.lineno} {name}" for name in names
                      if name.split(".")[0] in PACKAGES]
    return found


@pytest.mark.parametrize("package", PACKAGES)
def test_no_absolute_imports_of_solver_or_meshes_inside_them(package):
    """`from meshes.x import` inside solver/ would fail in the wheel (there it is
    thinfilm.meshes): within a package import relatively, across them with siblings.sibling."""
    assert _absolute_sibling_imports(package) == []


def test_every_subpackage_is_listed_for_the_wheel():
    """pyproject.toml lists the packages of the wheel by hand (the package-dir mapping
    needs it): a new folder with an __init__.py under solver/ or meshes/ must be added."""
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]
    assert config["package-dir"] == {"thinfilm": "thinfilm", "thinfilm.solver": "solver",
                                     "thinfilm.meshes": "meshes", "thinfilm.cases": "cases",
                                     "thinfilm.validation": "validation"}
    on_disk = {"thinfilm"} | {
        "thinfilm." + ".".join(init.parent.relative_to(ROOT).parts)
        for package in PACKAGES for init in (ROOT / package).rglob("__init__.py")}
    assert on_disk <= set(config["packages"]), sorted(on_disk - set(config["packages"]))


def _tracked_files() -> list[str]:
    try:
        proc = subprocess.run(["git", "ls-files", *SHIPPED_FOLDERS], cwd=ROOT,
                              capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return proc.stdout.split() if proc.returncode == 0 else []


@pytest.fixture(scope="module")
def wheel(tmp_path_factory):
    """The wheel `python -m build` makes of this checkout (as CI does)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout")
    pytest.importorskip("build")
    out = tmp_path_factory.mktemp("dist")
    # sdist, then the wheel from it (a clean copy: no stale build/ of the checkout in it)
    proc = subprocess.run([sys.executable, "-m", "build", "--outdir", str(out),
                           str(ROOT)], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    (path,) = out.glob("thinfilm-*.whl")
    return path


@pytest.mark.slow          # builds the sdist and the wheel: 10-20 s (CI builds it too)
def test_wheel_holds_only_thinfilm_with_every_shipped_file(wheel):
    names = zipfile.ZipFile(wheel).namelist()
    tops = {name.split("/")[0] for name in names}
    assert {top for top in tops if not top.endswith(".dist-info")} == {"thinfilm"}
    tracked = _tracked_files()
    assert tracked, "git ls-files listed nothing"
    expected = {f if f.startswith("thinfilm/") else f"thinfilm/{f}" for f in tracked}
    missing = sorted(expected - set(names))
    assert missing == [], f"not in the wheel (list new subpackages in pyproject.toml): {missing}"
    for needed in ("thinfilm/solver/materials/data/LiCoO2.toml",
                   "thinfilm/cases/planar_li_lipon_lco.toml",
                   "thinfilm/validation/bookkeeping/study.toml"):
        assert needed in names
    entry_points = next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    assert "thinfilm = thinfilm:main" in zipfile.ZipFile(wheel).read(entry_points).decode()


@pytest.mark.slow
def test_unpacked_wheel_imports_as_thinfilm_only(wheel, tmp_path):
    """The wheel's layout, outside the checkout: thinfilm.solver and thinfilm.meshes import
    each other, the shipped cases and studies are found, and no generic name is imported."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    script = """
import importlib.util, json, sys
import thinfilm
case = thinfilm.load_case(thinfilm.shipped_case("planar_li_lipon_lco"))
grid = thinfilm.build_grid(case)
from thinfilm.solver import validation
print(json.dumps({
    "solver": thinfilm.solver.__name__, "file": thinfilm.solver.__file__,
    "cells": int(grid.n_cells), "case": str(case.path),
    "studies": [p.name for p in validation.discover()],
    "generic": sorted({m.split(".")[0] for m in sys.modules} & {"solver", "meshes"}),
    "importable": [n for n in ("solver", "meshes") if importlib.util.find_spec(n)],
}))
"""
    env = {**os.environ, "PYTHONPATH": str(site)}
    proc = subprocess.run([sys.executable, "-c", script], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    report = json.loads(proc.stdout.strip().splitlines()[-1])
    assert report["solver"] == "thinfilm.solver"
    assert Path(report["file"]).is_relative_to(site)
    assert Path(report["case"]).is_relative_to(site / "thinfilm" / "cases")
    assert report["cells"] > 0
    assert "bookkeeping" in report["studies"]
    assert report["generic"] == [] and report["importable"] == []


def _readme_table(readme: str, header: str) -> list[list[str]]:
    """The rows (their cells) of README's table under `header`."""
    lines = readme[readme.index(header):].splitlines()[2:]
    rows = [line for line in lines[:next(i for i, l in enumerate(lines)
                                         if not l.strip().startswith("|"))]]
    return [[cell.strip() for cell in row.strip().strip("|").split("|")] for row in rows]


def test_readme_documents_every_material_key_by_kind():
    """[materials.Li] coulombic_efficiency, a real key (the library's Li: 0.99999), was not
    in README's table of lithium-metal keys."""
    from solver.materials.schema import PARAMETERS

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    documented, kind = {}, None
    for row in _readme_table(readme, "| kind | key | dimension | meaning |"):
        kind = row[0].replace(" ", "_") or kind
        documented.setdefault(kind, set()).update(re.findall(r"`(\w+)`", row[1]))
    for kind, keys in PARAMETERS.items():
        missing = set(keys) - documented[kind] - documented["every_kind"]
        assert not missing, f"{kind}: {sorted(missing)} not in README"


def test_readme_documents_every_timeseries_column():
    """lost_um_LAYER, in every planar Li run's timeseries.csv, was not in README's table."""
    from solver.case import case_from_dict
    from tests.conftest import SHIPPED_CASE, shipped_case_dict

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    columns = {row[0].strip("`") for row in _readme_table(readme, "| column | meaning |")}
    data = shipped_case_dict()
    data["protocol"] = [{"mode": "rest", "until_time": "1 s"}]
    result = solver.run(case_from_dict(data, SHIPPED_CASE.parent, "test"))
    layers = "|".join(layer["name"] for layer in data["cell"]["layers"])
    written = {re.sub(rf"_({layers})$", "_LAYER", name) for name in result.timeseries}
    assert "lost_um_LAYER" in written and written <= columns, written - columns

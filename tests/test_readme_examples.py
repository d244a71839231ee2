"""README's examples are tests: its Python blocks run as written, in order, from a folder with
the shipped cases; its TOML blocks are read by the loader they are written for."""

import re
from pathlib import Path

import pytest

from solver.case import case_from_dict, parse_toml
from solver.compare import load_compare
from solver.sweep import load_sweep

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text(encoding="utf-8")
SHIPPED = ROOT / "cases"


def blocks(language):
    """(line, text) of each fenced block of `language`."""
    return [(README[:m.start()].count("\n") + 1, m.group(1))
            for m in re.finditer(rf"```{language}\n(.*?)```", README, re.S)]


def shipped_raw(name):
    path = SHIPPED / name
    return parse_toml(path.read_text(encoding="utf-8"), path)


def test_the_python_examples_run_as_written(tmp_path, monkeypatch):
    """The `thinfilm` API as README shows it (the sweep's example, minutes of runs, is
    checked by its loader below): one namespace, as a reader pasting them in turn has."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    (tmp_path / "cases").symlink_to(SHIPPED)
    monkeypatch.chdir(tmp_path)
    _, ax = plt.subplots()
    namespace = {"ax": ax}
    ran = 0
    for line, code in blocks("python"):
        if "sweep(" in code:
            continue
        exec(compile(code, f"README.md, line {line}", "exec"), namespace)
        ran += 1
    plt.close("all")
    assert ran >= 4
    assert (tmp_path / "out" / "planar" / "summary.json").is_file()


@pytest.mark.parametrize("line, text", [b for b in blocks("toml") if b[1].startswith(
    "[[protocol]]")])
def test_the_protocol_examples_are_cases(line, text):
    """Each protocol block, as the protocol of the shipped planar case, is accepted."""
    raw = shipped_raw("planar_li_lipon_lco.toml")
    raw["protocol"] = parse_toml(text, Path(f"README.md line {line}"))["protocol"]
    case = case_from_dict(raw, SHIPPED)
    assert len(case.protocol) >= 1


@pytest.mark.parametrize("line, text", [b for b in blocks("toml") if b[1].startswith(
    "[[cell.layers]]")])
def test_the_layer_examples_fit_the_shipped_micropillar(line, text):
    """A layer block replaces the layer of that name in the shipped micropillar cell."""
    raw = shipped_raw("micropillar_si_lipon_lco.toml")
    (layer,) = parse_toml(text, Path(f"README.md line {line}"))["cell"]["layers"]
    layers = raw["cell"]["layers"]
    (index,) = [k for k, given in enumerate(layers) if given["name"] == layer["name"]]
    layers[index] = layer
    case_from_dict(raw, SHIPPED)


@pytest.mark.parametrize("loader, first_key", [(load_sweep, "[grid]"),
                                               (load_compare, "[architectures.")])
def test_the_sweep_and_compare_examples_load(loader, first_key):
    """The sweep and compare files as README shows them, next to the shipped cases."""
    (text,) = [text for _, text in blocks("toml")
               if text.startswith("base = ") and first_key in text]
    spec = loader(parse_toml(text, Path("README.md")), SHIPPED)
    assert spec is not None

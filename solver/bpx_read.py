"""Reading BPX files (Battery Parameter eXchange) with the `bpx` package, listing their
fields, and BPX functions of stoichiometry (numbers, expressions, tables) as tables.

The `bpx` package's pydantic models validate a file; a BPX v0 file is converted by it (with
a warning, which is returned). Expressions (bpx.Function: numbers, + - * / **, x and calls
of exp, tanh, cosh) are evaluated with numpy.
"""

from __future__ import annotations

import json
import warnings
from pathlib import Path

import numpy as np

from .errors import InputError
from .files import read_text

# Functions a BPX expression may call (bpx.Function: exp, tanh, cosh of x), vectorised.
EXPRESSION_FUNCTIONS = {"exp": np.exp, "tanh": np.tanh, "cosh": np.cosh}
SAMPLES = 1001            # points over 0..1 of a table sampled from an expression
SEP = " / "               # joins the names of a BPX field's path (names contain '.')


def read_bpx(path: Path):
    """The BPX model of a file, validated by the bpx package, and its warnings."""
    try:
        import bpx
        from pydantic import ValidationError
    except ImportError:                                             # pragma: no cover
        raise InputError(str(path), "<BPX file>", "the bpx package to read BPX files "
                                                  "(pip install bpx)") from None
    text = read_text(Path(path), str(path), "BPX file (JSON)")
    try:
        if Path(path).suffix.lower() in (".yml", ".yaml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:                      # json and yaml errors: say where, not what
        raise InputError(str(path), "<file>", f"a BPX file in JSON ({type(exc).__name__}: "
                                              f"{str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "<file>", "a BPX file: a JSON object with Header and "
                                              "Parameterisation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = bpx.parse_bpx_obj(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise InputError(f"{path}: {where}" if where else str(path),
                             first.get("input", "<missing>"),
                             f"a valid BPX file; bpx says: {first.get('msg')}") from None
        except ValueError as exc:
            raise InputError(str(path), "<file>", f"a valid BPX file; bpx says: {exc}") from None
        except Exception as exc:        # noqa: BLE001 - bpx's validators evaluate the file's
            # expressions as Python: a name its grammar admits but Python lacks (log), a
            # division by zero, an overflow
            raise InputError(str(path), "<file>", f"a valid BPX file; bpx could not evaluate "
                                                  f"it: {type(exc).__name__}: {exc}") from None
    messages = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    return model, messages


def bpx_fields(model, prefix: str = ""):
    """(path, value) of every field set in a BPX model, sections walked into; a path joins
    the BPX names with SEP ("Parameterisation / Negative electrode / OCP [V]")."""
    from bpx import InterpolatedTable
    from pydantic import BaseModel

    def nested(value):
        return isinstance(value, BaseModel) and not isinstance(value, InterpolatedTable)

    declared = type(model).model_fields
    for name in [*declared, *(model.model_extra or {})]:
        if name not in model.model_fields_set:
            continue
        info = declared.get(name)
        alias = (info.alias or name) if info is not None else name
        value = getattr(model, name)
        path = f"{prefix}{SEP}{alias}" if prefix else alias
        if value is None:
            continue
        if nested(value) and path != "Validation":
            yield from bpx_fields(value, path)
        elif isinstance(value, dict) and value and path != "Validation" and all(
                nested(v) for v in value.values()):
            for key, item in value.items():
                yield from bpx_fields(item, f"{path}{SEP}{key}")
        elif isinstance(value, dict) and path == "Validation":
            for key in value:
                yield f"{path}{SEP}{key}", value[key]
        else:
            yield path, value


# ------------------------------------------------------------------------------------------
# functions of stoichiometry

def sample(value, path: str, x: np.ndarray) -> np.ndarray:
    """A BPX float, expression (bpx.Function) or table evaluated at x."""
    from bpx import Function, InterpolatedTable

    if isinstance(value, InterpolatedTable):
        xs, ys = _sorted_table(value)
        return np.interp(x, xs, ys)
    if isinstance(value, Function):
        return evaluate_expression(str(value), path, x)
    return np.full_like(x, float(value))


def evaluate_expression(text: str, path: str, x: np.ndarray, *, finite: bool = True):
    """A BPX expression of x at the points x (refused where not finite, unless `finite` is
    False). bpx's grammar admits numbers, + - * / **, x and function calls only, so no
    name but those of EXPRESSION_FUNCTIONS can be met."""
    try:
        code = compile(text, "<BPX expression>", "eval")
        with np.errstate(all="ignore"):
            values = eval(code, {"__builtins__": {}, **EXPRESSION_FUNCTIONS}, {"x": x})
    except Exception as exc:
        raise InputError(path, text, f"an expression of x using "
                                     f"{', '.join(EXPRESSION_FUNCTIONS)} "
                                     f"({type(exc).__name__})") from None
    values = np.broadcast_to(np.asarray(values, dtype=float), x.shape).copy()
    if finite and not np.all(np.isfinite(values)):
        bad = x[~np.isfinite(values)][0]
        raise InputError(path, text, f"an expression finite for x in [{x[0]:g}, {x[-1]:g}] "
                                     f"(not at x = {bad:g})")
    return values


def _sorted_table(table) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(table.x, float), np.asarray(table.y, float)
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def function_table(value, path: str, usable: tuple[float, float], ocv: bool):
    """(x, y, how) of a BPX function as a table over stoichiometry: a BPX table as given, a
    constant as a flat table, an expression sampled over the usable range and as far
    beyond it, up to 0 and 1, as it stays a value thinfilm takes (finite; an OCV within
    0..6 V and not rising, a diffusivity positive). BPX fits often leave that range near
    the ends: the LFP example's OCP has a term 3.5e14 exp(-396 x)."""
    from bpx import Function, InterpolatedTable

    if isinstance(value, InterpolatedTable):
        xs, ys = _sorted_table(value)
        return xs, ys, "the BPX table"
    if not isinstance(value, Function):
        return np.array([0.0, 1.0]), np.full(2, float(value)), "a constant"
    grid = np.linspace(0.0, 1.0, SAMPLES)
    near = np.min(np.abs(grid[:, None] - np.asarray(usable)[None, :]), axis=1) < 1e-9
    xs = np.union1d(grid[~near], usable)          # the usable ends, without twins 1e-16 off
    ys = evaluate_expression(str(value), path, xs, finite=False)
    with np.errstate(invalid="ignore"):
        takes = np.isfinite(ys) & ((ys >= 0) & (ys <= 6) if ocv else ys > 0)
    low, high = np.searchsorted(xs, usable)
    while low > 0 and takes[low - 1] and (not ocv or ys[low - 1] >= ys[low]):
        low -= 1
    while high < xs.size - 1 and takes[high + 1] and (not ocv or ys[high + 1] <= ys[high]):
        high += 1
    xs, ys = xs[low:high + 1], ys[low:high + 1]
    if not np.all(np.isfinite(ys)):
        bad = xs[~np.isfinite(ys)][0]
        raise InputError(path, str(value), f"an expression finite over the usable "
                                           f"stoichiometries (not at x = {bad:g})")
    how = f"the expression sampled at {xs.size} points over x = {xs[0]:g}..{xs[-1]:g}"
    if xs[0] > 0 or xs[-1] < 1:
        how += (" (beyond, it is not " + ("an OCV within 0..6 V that does not rise"
                                          if ocv else "a positive finite value") + ")")
    return xs, ys, how

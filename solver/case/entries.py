"""Reading the entries of a case's tables: allowed keys, required tables, numbers and
quantities with units, whole numbers and booleans, each error naming its dotted key."""

from __future__ import annotations

import difflib

from ..errors import InputError
from ..units import DIMENSIONS, parse_quantity
from .settings import MISSING


def _join(prefix: str, key) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


def written_value(data: dict, key: str):
    """The entry at dotted `key` as the case file `data` wrote it (in a list of tables, such
    as cell.layers, an item is named by its name or its index), or MISSING."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict):
            node = node.get(part, MISSING)
        elif isinstance(node, list):
            named = [item for item in node if isinstance(item, dict) and item.get("name") == part]
            index = int(part) if part.isdigit() else len(node)
            node = named[0] if named else node[index] if index < len(node) else MISSING
        else:
            return MISSING
    return node


def as_written(error: InputError, data: dict) -> InputError:
    """`error` with its value as the case file `data` wrote it ('1.15 um', not the metres
    the mesh generators check), when the key names an entry of the file."""
    value = written_value(data, error.key)
    if value is MISSING:
        return error
    return InputError(error.key, value, error.expected)


def _listing(names) -> str:
    names = list(names)
    return ", ".join(names) if names else "(none)"


def _did_you_mean(given, names) -> str:
    """' (did you mean 'x'?)' for the closest of `names` to a mistyped `given`, else ''."""
    close = difflib.get_close_matches(str(given), [str(n) for n in names], n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def _choice(value, choices, key: str) -> str:
    """`value` if it is one of the strings `choices`; else an InputError naming `key`."""
    if not isinstance(value, str) or value not in choices:
        raise InputError(key, value, f"one of {_listing(choices)}"
                         + (_did_you_mean(value, choices) if isinstance(value, str) else ""))
    return value


def _check_keys(table: dict, allowed, prefix: str, what: str | None = None) -> None:
    for key, value in table.items():
        if key not in allowed:
            expected = f"one of the keys {_listing(allowed)}"
            if what:
                expected = f"a known {what}: {_listing(allowed)}"
            raise InputError(_join(prefix, key), value, expected + _did_you_mean(key, allowed))


def _get(table: dict, name: str, prefix: str, dimension: str | None = None,
         expected: str | None = None):
    if name not in table:
        if expected is None:
            expected = DIMENSIONS[dimension][1] if dimension else "a value"
        raise InputError(_join(prefix, name), MISSING, f"{expected} (required)")
    return table[name]


def _table(parent: dict, name: str, prefix: str, required: bool = False) -> dict:
    key = _join(prefix, name)
    if name not in parent:
        if required:
            raise InputError(key, MISSING, f"a [{key}] table (required)")
        return {}
    value = parent[name]
    if not isinstance(value, dict):
        raise InputError(key, value, f"a table: [{key}]")
    return value


def _number(value, dimension: str, key: str) -> float:
    return parse_quantity(value, dimension, key)


def _positive(value, dimension: str, key: str) -> float:
    number = parse_quantity(value, dimension, key)
    if number <= 0:
        raise InputError(key, value, f"{DIMENSIONS[dimension][1]}, greater than zero")
    return number


def _integer(value, key: str, minimum: int, example: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        what = {0: "a whole number >= 0", 1: "a whole number >= 1"}.get(
            minimum, f"a whole number >= {minimum}")
        raise InputError(key, value, f"{what}, such as {example}")
    return value


def _boolean(table: dict, name: str, prefix: str, default: bool, meaning: str) -> bool:
    value = table.get(name, default)
    if not isinstance(value, bool):
        raise InputError(_join(prefix, name), value, f"true or false ({meaning})")
    return value

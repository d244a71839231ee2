"""The [[protocol]] of a case file: steps and repeat blocks, flattened into a list of
Steps, with each step's end conditions and drive checked against the cell."""

from __future__ import annotations

import math
from dataclasses import replace
from typing import NamedTuple

from .. import limits
from ..errors import InputError
from ..impedance_results import field_file_name
from ..units import C_RATE_EXAMPLES, DIMENSIONS, parse_c_rate
from .settings import (
    BLOCK_KEYS, C_RATE_KEYS, DRIVES, IMPEDANCE_KEYS, MAX_BLOCK_DEPTH, MAX_FREQUENCIES,
    MAX_PROTOCOL_STEPS, MISSING, MODES, Step, STEP_QUANTITIES, STEP_RULES)
from .entries import _check_keys, _integer, _listing, _positive


class _StepLimits(NamedTuple):
    """Bounds of step quantities that depend on the cell."""
    voltage: float          # V: MAX_CELL_VOLTAGE per unit cell of the stack
    current: float          # A: MAX_CURRENT_DENSITY over the footprint


def _protocol(data: dict, n_units: int, footprint_area: float) -> list[Step]:
    expected = ("a non-empty list of steps, one [[protocol]] table each, such as "
                "mode = 'discharge', c_rate = 1, until_voltage = '3.0 V'")
    items = data.get("protocol", MISSING)
    if items is MISSING:
        raise InputError("protocol", MISSING, expected + " (required)")
    if not isinstance(items, list) or not items:
        raise InputError("protocol", items, expected)
    steps: list[Step] = []
    bounds = _StepLimits(limits.MAX_CELL_VOLTAGE * n_units,
                         limits.MAX_CURRENT_DENSITY * footprint_area)
    _flatten(items, "protocol", steps, bounds=bounds)
    return steps


def _flatten(items: list, prefix: str, out: list[Step], cutoff=None, depth: int = 0,
             bounds: _StepLimits | None = None) -> None:
    """Validate each step of `items` and append it to `out`, expanding repeat blocks.

    `cutoff` is (voltage, key) of the enclosing block's until_voltage: the block's discharge
    and charge steps take it as their until_voltage and, on reaching it, end the whole block
    (`Step.ends_block`). Until the top level numbers the steps, such a step's `block_end` is
    its distance to the first step after its block; then it becomes that step's index.
    At the top level each turn of a block is a cycle (`Step.cycle`).
    """
    cycles = 0
    for position, item in enumerate(items):
        key = f"{prefix}.{position}"
        if not isinstance(item, dict):
            raise InputError(key, item, "a step table with a mode, or a block with repeat "
                                        "and steps")
        if "repeat" in item or "steps" in item:
            _check_keys(item, BLOCK_KEYS, key)
            if depth >= MAX_BLOCK_DEPTH:
                raise InputError(key, "<a block>", f"blocks nested at most {MAX_BLOCK_DEPTH} "
                                                   f"deep (repeat inside repeat)")
            repeat = 1
            if "repeat" in item:
                repeat = _integer(item["repeat"], f"{key}.repeat", 1, "10")
            inner = item.get("steps", MISSING)
            if not isinstance(inner, list) or not inner:
                raise InputError(f"{key}.steps", inner,
                                 "a non-empty list of steps to repeat")
            own = None
            if "until_voltage" in item:
                if cutoff is not None:
                    raise InputError(f"{key}.until_voltage", item["until_voltage"],
                                     f"no until_voltage on a block inside a block that has "
                                     f"one ({cutoff[1]}); set it on one of the two blocks")
                own = (_step_quantity(item, "until_voltage", key, bounds),
                       f"{key}.until_voltage")
            block: list[Step] = []
            _flatten(inner, f"{key}.steps", block, own or cutoff, depth + 1, bounds)
            if own is not None:
                modes = sorted({step.mode for step in block if step.ends_block})
                if not modes:
                    raise InputError(f"{key}.until_voltage", item["until_voltage"],
                                     "a block until_voltage only in a block with discharge "
                                     "or charge steps (it is their cutoff voltage, and "
                                     "reaching it ends the block)")
                if len(modes) > 1:
                    raise InputError(f"{key}.until_voltage", item["until_voltage"],
                                     "a block until_voltage only in a block whose current "
                                     "steps all go one way (all discharge or all charge): "
                                     "it is their cutoff; put discharge and charge in "
                                     "blocks of their own")
            if len(out) + repeat * len(block) > MAX_PROTOCOL_STEPS:
                raise InputError(f"{key}.repeat", item.get("repeat", 1),
                                 f"a repeat count that keeps the protocol within "
                                 f"{MAX_PROTOCOL_STEPS} steps in all (this one has at "
                                 f"least {len(out) + repeat * len(block)})")
            for turn in range(repeat):
                if own is None:
                    turn_steps = block
                else:
                    remaining = (repeat - turn) * len(block)
                    turn_steps = [replace(step, block_end=remaining - j, cutoff_key=own[1])
                                  if step.ends_block else step
                                  for j, step in enumerate(block)]
                if depth == 0:                  # each turn of a top-level block is a cycle
                    cycles += 1
                    turn_steps = [replace(step, cycle=cycles) for step in turn_steps]
                out.extend(turn_steps)
        else:
            out.append(_step(item, key, cutoff, bounds))
            if len(out) > MAX_PROTOCOL_STEPS:
                raise InputError(key, item, f"at most {MAX_PROTOCOL_STEPS} protocol steps")
    if prefix == "protocol":
        for index, step in enumerate(out):
            end = None if step.block_end is None else index + step.block_end
            out[index] = replace(step, index=index, block_end=end)


def _step_entry(item: dict, name: str, key: str, bounds: _StepLimits | None):
    """(the Step field, its value) of a step's quantity: a current key written as a C-rate
    ("C/20") fills the C-rate field C_RATE_KEYS names."""
    if name not in C_RATE_KEYS:
        return name, _step_quantity(item, name, key, bounds)
    raw, full_key = item[name], f"{key}.{name}"
    rate = parse_c_rate(raw, full_key)
    if rate is not None:
        check_c_rate(rate, raw, full_key)
        return C_RATE_KEYS[name], rate
    try:
        return name, _step_quantity(item, name, key, bounds)
    except InputError as error:
        raise InputError(error.key, error.value,
                         f"{error.expected}, or {C_RATE_EXAMPLES}") from None


def check_c_rate(value: float, raw, key: str) -> None:
    if value > limits.MAX_C_RATE:
        raise InputError(key, raw, f"a C-rate of at most {limits.MAX_C_RATE:g} (a discharge "
                                   f"in {3600 / limits.MAX_C_RATE * 1e3:g} ms)")


def _step_quantity(item: dict, name: str, key: str, bounds: _StepLimits | None) -> float:
    """A step's quantity, > 0 and within what a cell can do."""
    raw, key = item[name], f"{key}.{name}"
    value = _positive(raw, STEP_QUANTITIES[name], key)
    if name in ("until_time", "max_duration"):
        limits.check_time(value, raw, key)
    elif name == "c_rate":
        check_c_rate(value, raw, key)
    elif bounds is not None and name in ("voltage", "until_voltage") and value > bounds.voltage:
        raise InputError(key, raw, f"a voltage of at most {bounds.voltage:g} V "
                                   f"({limits.MAX_CELL_VOLTAGE:g} V per cell: no lithium "
                                   f"cell reaches more)")
    elif bounds is not None and name in ("current", "until_current") and value > bounds.current:
        raise InputError(key, raw, f"a current of at most {bounds.current:g} A "
                                   f"({limits.MAX_CURRENT_DENSITY / 1e4:g} A/cm^2 over the "
                                   f"footprint)")
    elif name == "current_density" and value > limits.MAX_CURRENT_DENSITY:
        raise InputError(key, raw, f"a current density of at most "
                                   f"{limits.MAX_CURRENT_DENSITY / 1e4:g} A/cm^2")
    return value


def _step(item: dict, key: str, cutoff=None, bounds: _StepLimits | None = None) -> Step:
    mode = item.get("mode", MISSING)
    if mode == "impedance":
        return _impedance_step(item, key)
    if not isinstance(mode, str) or mode not in STEP_RULES:
        raise InputError(f"{key}.mode", mode,
                         f"one of {_listing(MODES)} (or a block with repeat and steps)")
    allowed, required_groups = STEP_RULES[mode]
    for name, value in item.items():
        if name == "mode" or name in allowed:
            continue
        if name in STEP_QUANTITIES or name in BLOCK_KEYS:
            raise InputError(f"{key}.{name}", value,
                             f"no {name} in a {mode} step (a {mode} step takes "
                             f"{_listing(allowed)})")
        _check_keys({name: value}, ("mode",) + allowed, key)

    values = dict(_step_entry(item, name, key, bounds) for name in allowed if name in item)

    inherits = cutoff is not None and mode in ("discharge", "charge")
    if inherits:
        if "until_voltage" in item:
            raise InputError(f"{key}.until_voltage", item["until_voltage"],
                             f"no until_voltage in a step of a block that has one "
                             f"({cutoff[1]} is this step's cutoff, and reaching it ends "
                             f"the block)")
        values["until_voltage"] = cutoff[0]

    if mode in ("discharge", "charge", "cccv"):
        given = [name for name in DRIVES if name in item]
        if len(given) != 1:
            shown = {name: item[name] for name in given} if given else dict(item)
            raise InputError(key, shown,
                             f"exactly one of c_rate, current or current_density in a "
                             f"{mode} step (they all set its current)")
    for group in required_groups:
        if not any(name in item or name in values for name in group):
            if len(group) == 1:
                raise InputError(f"{key}.{group[0]}", MISSING,
                                 f"{_describe(group[0])} (required in a {mode} step)")
            raise InputError(key, dict(item),
                             f"a {mode} step with at least one of {_listing(group)} "
                             f"(when to end it)")
    return Step(mode=mode, key=key, ends_block=inherits, **values)


def _impedance_step(item: dict, key: str) -> Step:
    """A small-signal impedance spectrum at the present state (solver.impedance):
    frequencies = [f_min, f_max] (default 1 mHz to 1 MHz), points_per_decade (default 10),
    field_frequencies: where to write the small-signal fields of 2D and 3D cells."""
    _check_keys(item, IMPEDANCE_KEYS, key)
    band = item.get("frequencies", ["1 mHz", "1 MHz"])
    expected = "two frequencies [f_min, f_max] with 0 < f_min < f_max, such as ['1 mHz', '1 MHz']"
    if not isinstance(band, list) or len(band) != 2:
        raise InputError(f"{key}.frequencies", band, expected)
    low, high = (limits.check_frequency(_positive(f, "frequency", f"{key}.frequencies"), band,
                                        f"{key}.frequencies") for f in band)
    if not low < high:
        raise InputError(f"{key}.frequencies", band, expected)
    per_decade = _integer(item.get("points_per_decade", 10), f"{key}.points_per_decade", 1, "10")
    if per_decade * math.log10(high / low) > MAX_FREQUENCIES:
        raise InputError(f"{key}.points_per_decade", per_decade,
                         f"at most {MAX_FREQUENCIES} frequencies in all over "
                         f"{math.log10(high / low):.3g} decades")
    fields = item.get("field_frequencies", [])
    if not isinstance(fields, list):
        raise InputError(f"{key}.field_frequencies", fields,
                         "a list of frequencies, such as ['10 mHz', '1 kHz']")
    chosen = tuple(limits.check_frequency(_positive(f, "frequency", f"{key}.field_frequencies"),
                                          f, f"{key}.field_frequencies") for f in fields)
    names = [field_file_name(0, f) for f in chosen]
    twice = next((f for f, name in zip(fields, names) if names.count(name) > 1), None)
    if twice is not None:
        raise InputError(f"{key}.field_frequencies", fields,
                         f"each frequency once, to 6 significant digits as in the file names "
                         f"({twice!r} is listed twice)")
    return Step(mode="impedance", key=key, frequencies=(low, high),
                points_per_decade=per_decade, field_frequencies=chosen)


def _describe(name: str) -> str:
    return DIMENSIONS[STEP_QUANTITIES[name]][1] + ", greater than zero"

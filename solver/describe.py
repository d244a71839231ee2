"""Results in words: step labels for legends and the text `repr(result)` shows."""

import math
import textwrap

KELVIN_AT_0_DEGC = 273.15
CURRENT_PREFIXES = ((1.0, "A"), (1e-3, "mA"), (1e-6, "µA"), (1e-9, "nA"), (1e-12, "pA"))
STEPS_SHOWN = (8, 4)             # a long protocol: its first and last steps
CYCLES_SHOWN = (5, 3)


def current_text(amperes: float) -> str:
    """A current with the prefix that puts 1 to 999 before it: 1.08e-5 -> '10.8 µA'."""
    magnitude = abs(amperes)
    for scale, unit in CURRENT_PREFIXES:
        if magnitude >= scale * 0.9995:
            break
    return f"{amperes / scale:.3g} {unit}"


def temperature_text(summary: dict) -> str:
    kelvin = summary.get("temperature_K")
    return "" if kelvin is None else f"{kelvin - KELVIN_AT_0_DEGC:.3g} °C"


def drive_text(step: dict) -> str:
    """A current step's rate and current, '1C (21.7 µA)'; a hold its voltage; else ''."""
    if step.get("c_rate") is not None and step.get("applied_current_A") is not None:
        return f"{step['c_rate']:.3g}C ({current_text(step['applied_current_A'])})"
    return ""


def step_label(summary: dict, k: int, temperature: bool = True) -> str:
    """'step 0 discharge 1C (21.7 µA), 25 °C' (in a repeat block 'step 3 (cycle 1) ...'):
    a legend entry for step k."""
    step = summary["steps"][k]
    name = f"step {k} (cycle {step['cycle']})" if step.get("cycle") else f"step {k}"
    words = " ".join(w for w in (name, step["mode"], drive_text(step)) if w)
    degrees = temperature_text(summary) if temperature else ""
    return f"{words}, {degrees}" if degrees else words


def describe_result(result) -> str:
    """Case, cell, each step (rate, end reason, capacity, energy, mean voltage, duration),
    the cycles of a repeated protocol and the names of the time series."""
    s = result.summary
    steps = s.get("steps", [])
    area = s.get("footprint_area_cm2")
    cell = ", ".join(x for x in (
        s.get("architecture", ""),
        f"{area:g} cm² footprint" if area is not None else "",
        temperature_text(s),
        f"{s['n_cells']} cells" if "n_cells" in s else "",
        f"solved in {s['wall_time_s']:.3g} s" if "wall_time_s" in s else "") if x)
    lines = [f"<thinfilm Result: {s.get('case', '')!s}"] + ([f"  {cell}"] if cell else [])
    if steps:
        lines.append(f"  {'step':>4}  {'mode':9s} {'rate':18s} {'end reason':17s} "
                     f"{'µAh/cm²':>10s} {'µWh/cm²':>10s} {'mean V':>8s} {'time (s)':>9s}")
    for k in _shown(len(steps), STEPS_SHOWN):
        if k is None:
            lines.append(f"  {'...':>4}  ({len(steps) - sum(STEPS_SHOWN)} more steps)")
            continue
        step = steps[k]
        lines.append(f"  {k:4d}  {step.get('mode', '?'):9s} {drive_text(step):18s} "
                     f"{step.get('end_reason') or '-':17s} "
                     f"{_number(step.get('capacity_mAh_cm2'), 1e3, 10, 3)} "
                     f"{_number(step.get('energy_mWh_cm2'), 1e3, 10, 3)} "
                     f"{_number(step.get('mean_voltage_V'), 1, 8, 4)} "
                     f"{_number(step.get('duration_s'), 1, 9, 1)}")
    cycles = s.get("cycles", [])
    if cycles:
        lines.append(f"  {len(cycles)} cycles: discharge / charge µAh/cm², coulombic efficiency")
    for j in _shown(len(cycles), CYCLES_SHOWN):
        if j is None:
            lines.append(f"    ... ({len(cycles) - sum(CYCLES_SHOWN)} more cycles)")
            continue
        c = cycles[j]
        efficiency = c.get("coulombic_efficiency")
        lines.append(f"    cycle {c['cycle']}: "
                     f"{_number(c.get('discharge_capacity_mAh_cm2'), 1e3, 0, 3)} / "
                     f"{_number(c.get('charge_capacity_mAh_cm2'), 1e3, 0, 3)}, "
                     f"{_number(efficiency, 1, 0, 4)}")
    if s.get("message"):
        lines.append(f"  stopped: {s['message']}")
    n_rows = len(result.timeseries["time_s"])
    lines += textwrap.wrap(f"{n_rows} rows of {', '.join(result.columns)}", 88,
                           initial_indent="  ", subsequent_indent="    ")
    lines.append('  result["voltage_V"], result.series("voltage_V", step=0), result.plot()>')
    return "\n".join(lines)


def _shown(n: int, ends: tuple[int, int]):
    """Indices 0..n-1, or the first and last few with None for the gap."""
    head, tail = ends
    if n <= head + tail + 1:
        return list(range(n))
    return list(range(head)) + [None] + list(range(n - tail, n))


def _number(value, scale: float, width: int, digits: int) -> str:
    """value * scale in a field `width` wide (0: as wide as it needs), '-' if not a number."""
    if not isinstance(value, (int, float)) or not math.isfinite(value):
        return f"{'-':>{width}s}"
    return f"{value * scale:{width}.{digits}f}"

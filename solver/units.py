"""Quantities with units, parsed once at the boundary into SI floats.

A value is either a plain number (taken as SI) or a string "number unit", e.g. "1.5 um",
"3e-6 S/cm", "25 degC", "10 uA/cm^2". Each key is checked against the physical dimension it
must have; a mismatch raises an InputError naming the key.
"""

import math
import re
from functools import lru_cache

from .errors import InputError
from .unit_atoms import in_si

AVOGADRO = 6.02214076e23
FARADAY = 96485.33212          # C/mol
GAS_CONSTANT = 8.314462618     # J/(mol K)
ZERO_CELSIUS = 273.15          # K
VACUUM_PERMITTIVITY = 8.8541878128e-12   # F/m (CODATA 2018)

# dimension name -> (pint unit in SI the value is converted to, human description)
DIMENSIONS = {
    "dimensionless": ("dimensionless", "a plain number"),
    "length": ("m", "a length such as '1.5 um'"),
    "area": ("m^2", "an area such as '1 cm^2'"),
    "volume": ("m^3", "a volume such as '1 um^3'"),
    "time": ("s", "a time such as '2 h' or '60 s'"),
    "temperature": ("K", "a temperature such as '25 degC' or '298.15 K'"),
    "current": ("A", "a current such as '16 uA'"),
    "current_density": ("A/m^2", "a current density such as '10 uA/cm^2'"),
    "charge": ("C", "a charge such as '10 uAh'"),
    "areal_charge": ("C/m^2", "an areal capacity such as '0.5 mAh/cm^2'"),
    "voltage": ("V", "a voltage such as '3.0 V'"),
    "conductivity": ("S/m", "a conductivity such as '3e-6 S/cm'"),
    "diffusivity": ("m^2/s", "a diffusivity such as '1e-11 cm^2/s'"),
    "concentration": ("mol/m^3", "a concentration such as '51555 mol/m^3'"),
    "rate_constant": ("m/s", "a rate constant such as '1e-11 m/s'"),
    "area_resistance": ("ohm*m^2", "an area-specific resistance such as '10 ohm*cm^2'"),
    "density": ("kg/m^3", "a density such as '0.534 g/cm^3'"),
    "molar_mass": ("kg/mol", "a molar mass such as '6.94 g/mol'"),
    "molar_volume": ("m^3/mol", "a molar volume such as '13 cm^3/mol'"),
    "molar_energy": ("J/mol", "an activation energy such as '0.55 eV' or '50 kJ/mol'"),
    "volumetric_rate_constant": ("m^3/(mol*s)",
                                 "a second-order rate constant such as '1e-8 m^3/(mol*s)'"),
    "areal_capacitance": ("F/m^2", "a capacitance per area such as '50 uF/cm^2'"),
    "frequency": ("Hz", "a frequency such as '10 mHz' or '1 MHz'"),
}

# a number at the start of a (stripped) quantity string; the rest is its unit
_NUMBER = re.compile(r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?")
# A C-rate: a multiple of the cell's 1C current, written "2C", "0.05 C" or "C/20" (C in any
# case; plain enough for a JSON Schema pattern too, see solver.case_schema)
C_RATE_PATTERN = rf"^\s*(?:({_NUMBER.pattern})\s*[Cc]|[Cc]\s*/\s*({_NUMBER.pattern}))\s*$"
_C_RATE = re.compile(C_RATE_PATTERN)
C_RATE_EXAMPLES = "a C-rate such as 'C/20', '0.05C' or '2C'"
# No quantity needs more characters than this ("1.76e-11 cm^2/s", "1e-8 m^3/(mol*s)"); a
# longer string is refused before parsing (pint's unit parsing grows quadratically with it).
MAX_QUANTITY_LENGTH = 100


@lru_cache(maxsize=1)
def _registry():
    import pint

    ureg = pint.UnitRegistry(autoconvert_offset_to_baseunit=True)
    ureg.define("Ah = ampere * hour")
    return ureg


def _finite(key: str, value: float, original) -> float:
    if not math.isfinite(value):
        raise InputError(key, original, "a finite number")
    return value


def parse_quantity(value, dimension: str, key: str) -> float:
    """Return `value` in SI units as a float, checking it has the given dimension."""
    if dimension not in DIMENSIONS:
        raise ValueError(f"unknown dimension {dimension!r}")
    described = DIMENSIONS[dimension][1]
    if isinstance(value, bool):
        raise InputError(key, value, described)
    if isinstance(value, (int, float)):
        return _finite(key, float(value), value)
    if not isinstance(value, str):
        raise InputError(key, value, described)
    if len(value) > MAX_QUANTITY_LENGTH:
        raise InputError(key, value, f"{described}, in at most {MAX_QUANTITY_LENGTH} "
                                     f"characters")
    try:
        return _string_in_si(value, dimension)
    except _Refused as refused:
        raise InputError(key, value, str(refused)) from None


def parse_c_rate(value, key: str) -> float | None:
    """The multiple of 1C that a C-rate string means ("C/20": 0.05, "2 C": 2), or None for a
    value not written as a C-rate; a C-rate that is not finite and greater than zero ("C/0",
    "0C", "C/-2") raises an InputError naming `key`."""
    if not isinstance(value, str) or len(value) > MAX_QUANTITY_LENGTH:
        return None
    match = _C_RATE.match(value)
    if match is None:
        return None
    times, over = match.groups()
    if over is None:
        rate = float(times)
    else:
        divisor = float(over)
        rate = 1.0 / divisor if math.isfinite(divisor) and divisor > 0 else math.nan
    if not (math.isfinite(rate) and rate > 0):
        raise InputError(key, value, f"{C_RATE_EXAMPLES}, finite and greater than zero")
    return rate


class _Refused(ValueError):
    """A string that is not a quantity of the dimension (the text says what was expected)."""


@lru_cache(maxsize=4096)
def _string_in_si(value: str, dimension: str) -> float:
    """A "number unit" string in SI (cached: a fit or sweep parses the same strings again
    for every case it builds, and pint's parsing is most of what building a case costs)."""
    si_unit, described = DIMENSIONS[dimension]
    text = value.strip()
    match = _NUMBER.match(text)
    if match is None:
        if text.lower() in ("nan", "inf", "+inf", "-inf", "infinity"):
            raise _Refused("a finite number")
        raise _Refused(described)
    number = float(match.group(0))
    if not math.isfinite(number):
        raise _Refused("a finite number")
    unit = text[match.end():].strip()
    if not unit:
        return number
    si = _without_pint(number, unit, dimension)
    if si is None:
        si = _with_pint(number, unit, dimension)
    if not math.isfinite(si):          # finite as written, out of range in SI ("1e308 km")
        raise _Refused(f"{described}, finite in SI units")
    return si


def _without_pint(number: float, unit: str, dimension: str) -> float | None:
    """The common spellings (solver.unit_atoms), or None: pint's import and registry cost
    a process more than everything else loading a case does."""
    if dimension == "temperature":
        return number + ZERO_CELSIUS if unit in ("degC", "°C", "C") else (
            in_si(number, unit, "K"))
    if dimension == "dimensionless":
        return None
    return in_si(number, unit, DIMENSIONS[dimension][0],
                 per_mole=AVOGADRO if dimension == "molar_energy" else None)


def _with_pint(number: float, unit: str, dimension: str) -> float:
    si_unit, described = DIMENSIONS[dimension]
    ureg = _registry()
    try:
        quantity = ureg.Quantity(number, _pint_spelling(unit, dimension))
    except Exception:
        raise _Refused(f"{described} (unknown unit {unit!r})") from None
    # pint counts radians (rad, deg, cycle, rpm) as plain numbers: '1 cycle/s' is 2 pi Hz
    # to it, '1 rad/s' 1 Hz; no quantity of a case is an angle, so such a unit is a slip
    if any(name == "radian" for name, _ in quantity.to_root_units().unit_items()):
        raise _Refused(f"{described}, in a unit without an angle ({unit!r} counts radians, "
                       f"which would be taken for plain numbers)")
    # a temperature difference (delta_degC, delta_degF) converts to kelvin as a span, so
    # "25 delta_degC" would be read as 25 K: no key of a case is a temperature difference
    if dimension == "temperature" and any(name.startswith("delta_")
                                          for name, _ in quantity.unit_items()):
        raise _Refused(f"{described}, not a temperature difference ({unit!r})")
    if dimension == "molar_energy" and quantity.check("[energy]"):
        quantity = quantity * ureg.Quantity(AVOGADRO, "1/mol")
    try:
        return float(quantity.to(si_unit).magnitude)
    except Exception:
        raise _Refused(described) from None


def _pint_spelling(unit: str, dimension: str) -> str:
    unit = unit.replace("^", "**")
    if dimension == "temperature":
        unit = {"C": "degC", "°C": "degC", "F": "degF"}.get(unit, unit)
    return unit


def temperature_from_celsius(t_celsius: float) -> float:
    return t_celsius + ZERO_CELSIUS

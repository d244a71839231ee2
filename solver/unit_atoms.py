"""The units cases are written in, converted to SI without pint.

pint is the authority on units (solver.units), but importing it and building its registry
costs every process 0.3-0.5 s, most of the time it takes to load a case. The spellings
cases actually use ("1.5 um", "3e-6 S/cm", "10 uA/cm^2", "m^3/(mol*s)", "0.55 eV") are
products and quotients of prefixed SI and a few other units: those are converted here.
Anything else (unit names, other units, offsets other than a plain temperature) returns
None, and the caller asks pint, which also words every refusal: this module only ever
says yes. tests/test_unit_atoms.py checks every atom and random expressions of them
against pint.
"""

import math
import re

# dimension exponents: (m, kg, s, A, K, mol)
_LENGTH, _MASS, _TIME, _CURRENT, _TEMPERATURE, _AMOUNT = (
    tuple(int(i == k) for i in range(6)) for k in range(6))
_NONE = (0,) * 6


def _combine(*parts):
    """The exponents of a product of (exponents, power) pairs."""
    return tuple(sum(d[i] * p for d, p in parts) for i in range(6))


_ENERGY = _combine((_MASS, 1), (_LENGTH, 2), (_TIME, -2))
_CHARGE = _combine((_CURRENT, 1), (_TIME, 1))
_VOLTAGE = _combine((_ENERGY, 1), (_CHARGE, -1))
_ELEMENTARY_CHARGE = 1.602176634e-19            # C (exact, SI 2019)

# base units: symbol -> (factor to SI, dimension exponents, takes SI prefixes)
_BASES = {
    "m": (1.0, _LENGTH, True),
    "g": (1e-3, _MASS, True),
    "s": (1.0, _TIME, True),
    "A": (1.0, _CURRENT, True),
    "K": (1.0, _TEMPERATURE, True),
    "mol": (1.0, _AMOUNT, True),
    "C": (1.0, _CHARGE, True),
    "Ah": (3600.0, _CHARGE, True),
    "V": (1.0, _VOLTAGE, True),
    "ohm": (1.0, _combine((_VOLTAGE, 1), (_CURRENT, -1)), True),
    "S": (1.0, _combine((_VOLTAGE, -1), (_CURRENT, 1)), True),
    "F": (1.0, _combine((_CHARGE, 1), (_VOLTAGE, -1)), True),
    "J": (1.0, _ENERGY, True),
    "eV": (_ELEMENTARY_CHARGE, _ENERGY, True),
    "W": (1.0, _combine((_ENERGY, 1), (_TIME, -1)), True),
    "Hz": (1.0, _combine((_TIME, -1),), True),
    "h": (3600.0, _TIME, False),
    "min": (60.0, _TIME, False),
}
_PREFIXES = {"p": 1e-12, "n": 1e-9, "u": 1e-6, "m": 1e-3, "c": 1e-2, "k": 1e3, "M": 1e6,
             "G": 1e9}
ATOMS = {symbol: (factor, dims) for symbol, (factor, dims, _) in _BASES.items()}
for _symbol, (_factor, _dims, _prefixed) in _BASES.items():
    if _prefixed:
        for _prefix, _scale in _PREFIXES.items():
            ATOMS.setdefault(_prefix + _symbol, (_scale * _factor, _dims))

_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|(\*\*|\^)\s*(-?[1-9]\d?)|([*/()]))")


def si_factor(unit: str):
    """(factor to SI, dimension exponents) of a unit expression, or None if not one of the
    simple forms this module knows."""
    tokens = []
    position = 0
    while position < len(unit):
        match = _TOKEN.match(unit, position)
        if match is None:
            return None
        tokens.append(match.groups())
        position = match.end()
    parsed = _product(tokens, 0, 0)
    if parsed is None or parsed[2] != len(tokens) or not 0.0 < parsed[0] < math.inf:
        return None
    return parsed[0], parsed[1]


def _product(tokens, start, depth):
    """term (('*' | '/') term)*, left to right; returns (factor, dims, next token)."""
    factor, dims, i = 1.0, _NONE, start
    divide = False
    while True:
        term = _term(tokens, i, depth)
        if term is None:
            return None
        sign = -1 if divide else 1
        factor = factor / term[0] if divide else factor * term[0]
        dims = _combine((dims, 1), (term[1], sign))
        i = term[2]
        if i < len(tokens) and tokens[i][3] in ("*", "/"):
            divide = tokens[i][3] == "/"
            i += 1
            continue
        return factor, dims, i


def _term(tokens, i, depth):
    """An atom or a parenthesised product, with an optional integer power."""
    if i >= len(tokens):
        return None
    name, _, _, symbol = tokens[i]
    if name is not None and name in ATOMS:
        factor, dims = ATOMS[name]
        i += 1
    elif symbol == "(" and depth < 4:
        inner = _product(tokens, i + 1, depth + 1)
        if inner is None or inner[2] >= len(tokens) or tokens[inner[2]][3] != ")":
            return None
        factor, dims, i = inner[0], inner[1], inner[2] + 1
    else:
        return None
    if i < len(tokens) and tokens[i][1] is not None:
        power = int(tokens[i][2])
        try:
            factor, dims = factor ** power, _combine((dims, power))
        except OverflowError:          # '((GAh)^3)^3)^3': pint's to judge
            return None
        i += 1
    if not 0.0 < factor < math.inf:     # under- or overflowed (a '/' would divide by 0)
        return None
    return factor, dims, i


def in_si(number: float, unit: str, si_unit: str, per_mole: float | None = None):
    """`number` `unit` in the SI unit `si_unit`, or None when this module does not know
    the unit or its dimension differs: pint then decides. `per_mole` (Avogadro's number):
    an energy per particle is taken per mole (eV -> J/mol), as solver.units does."""
    parsed, wanted = si_factor(unit), si_factor(si_unit)
    if parsed is None or wanted is None:
        return None
    factor, dims = parsed
    if per_mole is not None and dims == _ENERGY:
        factor, dims = factor * per_mole, _combine((dims, 1), (_AMOUNT, -1))
    if dims != wanted[1]:
        return None
    return number * factor / wanted[0]

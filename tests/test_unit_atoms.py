"""solver.unit_atoms converts the common unit spellings without pint: every answer it gives
must be pint's, and whatever it does not know must reach pint (solver.units)."""

import pint
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from solver import units
from solver.unit_atoms import ATOMS, in_si, si_factor
from solver.units import AVOGADRO, DIMENSIONS, parse_quantity


BASE_SYMBOLS = {"meter": "m", "kilogram": "kg", "second": "s", "ampere": "A", "kelvin": "K",
                "mole": "mol"}


@pytest.fixture(scope="module")
def ureg():
    return units._registry()


def _pint_si(ureg, number, unit, si_unit, per_mole=False):
    quantity = ureg.Quantity(number, unit.replace("^", "**"))
    if per_mole and quantity.check("[energy]"):
        quantity = quantity * ureg.Quantity(AVOGADRO, "1/mol")
    return float(quantity.to(si_unit).magnitude)


@pytest.mark.parametrize("atom", sorted(ATOMS))
def test_every_atom_is_pints_unit_of_that_name(ureg, atom):
    factor, _ = si_factor(atom)
    base = ureg.Quantity(1.0, atom).to_base_units()
    assert factor == pytest.approx(base.magnitude, rel=1e-14)
    # and the same dimension: its SI base units, as a product of powers, read back to it
    si = "*".join(f"{BASE_SYMBOLS[name]}^{int(power)}" for name, power in base.unit_items())
    assert in_si(2.5, atom, si) == pytest.approx(2.5 * base.magnitude, rel=1e-14)


@pytest.mark.parametrize("dimension", sorted(set(DIMENSIONS) - {"dimensionless"}))
def test_every_si_unit_of_a_dimension_is_known(dimension):
    assert si_factor(DIMENSIONS[dimension][0]) is not None


expressions = st.recursive(
    st.sampled_from(sorted(ATOMS)),
    lambda inner: st.one_of(
        st.tuples(inner, st.sampled_from(["*", "/"]), inner).map(" ".join),
        st.tuples(inner, st.sampled_from([-3, -2, -1, 1, 2, 3])).map(lambda t: f"({t[0]})^{t[1]}"),
        inner.map(lambda e: f"({e})")),
    max_leaves=5)


def _si_of(ureg, unit):
    """pint's value of 1 `unit` in SI base units, and those units as a product of powers."""
    base = ureg.Quantity(1.0, unit.replace("^", "**")).to_base_units()
    return base.magnitude, "*".join(f"{BASE_SYMBOLS[name]}^{int(power)}"
                                    for name, power in base.unit_items()) or None


@settings(max_examples=400, deadline=None)
@given(expressions)
def test_expressions_convert_as_pint_converts_them(ureg, unit):
    magnitude, si = _si_of(ureg, unit)
    if si is None:                     # dimensionless: never this module's
        assert in_si(1.7, unit, "m") is None
        return
    assert in_si(1.7, unit, si) == pytest.approx(1.7 * magnitude, rel=1e-12)


@settings(max_examples=200, deadline=None)
@given(expressions, st.sampled_from(sorted(set(DIMENSIONS) - {"dimensionless"})))
def test_an_expression_of_another_dimension_is_left_to_pint(ureg, unit, dimension):
    si_unit = DIMENSIONS[dimension][0]
    molar = dimension == "molar_energy"
    ours = in_si(1.7, unit, si_unit, per_mole=AVOGADRO if molar else None)
    try:
        theirs = _pint_si(ureg, 1.7, unit, si_unit, per_mole=molar)
    except pint.DimensionalityError:
        theirs = None
    assert (ours is None) == (theirs is None)
    if ours is not None:
        assert ours == pytest.approx(theirs, rel=1e-12)


@pytest.mark.parametrize("text", ["1 inch", "3 mS/cm ", "2 hr", "1 ohm cm^2", "5 %", "1 m^999",
                                  "10 1/s", "1 kelvin", "1 µm", "1 mh", "25 degC/s"])
def test_what_is_not_an_atom_expression_is_left_to_pint(text):
    number, unit = text.split(" ", 1)
    assert in_si(float(number), unit, "m") is None or unit == "inch"


@pytest.mark.parametrize("value, dimension, expected", [
    ("1.5 um", "length", 1.5e-6), ("3e-6 S/cm", "conductivity", 3e-4),
    ("25 degC", "temperature", 298.15), ("25 C", "temperature", 298.15),
    ("300 K", "temperature", 300.0), ("0.55 eV", "molar_energy", 0.55 * 96485.33212),
    ("50 kJ/mol", "molar_energy", 5e4), ("10 uA/cm^2", "current_density", 0.1),
    ("0.5 mAh/cm^2", "areal_charge", 1.8e4), ("1e-8 m^3/(mol*s)",
                                                "volumetric_rate_constant", 1e-8),
    ("2 h", "time", 7200.0), ("10 min", "time", 600.0), ("1 MHz", "frequency", 1e6),
    ("77 degF", "temperature", 298.15), ("1 inch", "length", 0.0254)])
def test_parse_quantity_gives_pints_values(value, dimension, expected):
    assert parse_quantity(value, dimension, "key") == pytest.approx(expected, rel=1e-6)


@pytest.mark.parametrize("unit", ["(((GAh)^3)^3)^3", "((pm)^9)^9", "(km^9)^9/(pm^9)^9"])
def test_powers_beyond_floats_are_left_to_pint(unit):
    """Found by the property test: ((GAh)^3)^3)^3 overflowed (OverflowError, exit 1)."""
    assert si_factor(unit) is None


def test_a_product_that_underflows_is_left_to_pint():
    tiny = "*".join(["pm"] * 30)
    assert si_factor(f"m/({tiny})") is None

"""Materials library: data completeness and sources, Table interpolation, overrides, listings."""

import math

import numpy as np
import pytest

import solver.materials as materials
from solver.errors import InputError
from solver.materials import Table, library, load_material
from solver.materials.schema import KINETICS, PARAMETERS
from solver.units import FARADAY

EXPECTED = {"LiCoO2": "intercalation", "LiPON": "electrolyte", "Li3PO4": "electrolyte",
            "Li": "lithium_metal", "Pt": "collector", "Cu": "collector", "Co": "collector",
            "Au": "collector", "TiN": "collector"}


# ------------------------------------------------------------------------------ library data

def test_library_lists_the_expected_materials():
    names = materials.library_names()
    for name, kind in EXPECTED.items():
        assert name in names
        assert load_material(name).kind == kind
    assert names == sorted(names, key=str.lower)


@pytest.mark.parametrize("name", materials.library_names())
def test_every_entry_loads_complete_and_sourced(name):
    m = load_material(name)
    assert m.name == name
    assert m.description
    schema = PARAMETERS[m.kind]
    for param, spec in schema.items():
        if spec.required:
            assert m.has(param), f"{name} lacks {param}"
    if m.kind == "intercalation":
        assert sum(m.has(p) for p in KINETICS) == 1
    for param in m.names():
        assert param in schema
        source = m.source(param)
        assert isinstance(source, str) and len(source.strip()) > 10
        value = m.value(param)
        if isinstance(value, float):
            assert math.isfinite(value)


@pytest.mark.parametrize("name", [n for n in materials.library_names()
                                  if load_material(n).kind == "intercalation"])
def test_ocv_tables_monotone_and_in_window(name):
    m = load_material(name)
    ocv = m.value("ocv")
    assert isinstance(ocv, Table)
    assert ocv.is_strictly_decreasing()
    low, high = m.value("stoichiometry_range")
    assert ocv.x_range[0] <= low < high <= ocv.x_range[1]
    x = np.linspace(low, high, 400)
    u = ocv(x)
    assert np.all(np.diff(u) < 0)                # monotone between the points too
    assert np.all(ocv.derivative(x) < 0)
    if u.max() > 3.0:       # a cathode vs Li (LNMO charged: 4.85 V; V2O5 at x = 0.99: 2.49 V)
        assert u.min() >= 2.45 and u.max() <= 4.9


def test_licoo2_ocv_table_reproduces_the_recorded_fit():
    """The CSV header records the Ramadass 2004 function; the table must follow it."""
    def fit(y):
        num = (-4.656 + 88.669 * y**2 - 401.119 * y**4 + 342.909 * y**6 - 462.471 * y**8
               + 433.434 * y**10)
        den = -1 + 18.933 * y**2 - 79.532 * y**4 + 37.311 * y**6 - 73.083 * y**8 + 95.96 * y**10
        return num / den

    ocv = load_material("LiCoO2").value("ocv")
    assert np.allclose(ocv.y, fit(ocv.x), atol=6e-5)          # rounding to 0.1 mV
    mid = 0.5 * (ocv.x[1:] + ocv.x[:-1])
    plateau = mid < 0.95
    assert np.max(np.abs(ocv(mid[plateau]) - fit(mid[plateau]))) < 1e-3
    assert abs(ocv(0.5) - 4.235) < 1e-3 and abs(ocv(0.99) - 3.429) < 1e-3
    assert any("Ramadass" in note for note in ocv.notes)


def test_key_values_and_units_in_si():
    lco = load_material("LiCoO2")
    assert lco.value("max_concentration") == pytest.approx(51555.0)
    assert lco.value("active_fraction") == pytest.approx(0.61)
    diffusivity = lco.value("diffusivity")          # Xie et al. 2008, EIS on a (104) film
    assert diffusivity.log and diffusivity(0.63) == pytest.approx(4.9e-13)
    assert diffusivity(0.2) == pytest.approx(diffusivity.y[0])     # held beyond the ends
    assert lco.value("charge_transfer_coefficient") == 0.5
    assert lco.value("stoichiometry_range") == (0.5, 0.999)
    assert lco.value("reference_temperature") == pytest.approx(298.15)
    # i0 at x = 0.75 reproduces R_ct = 75 ohm cm^2 (Danilov et al. 2011) it was derived from
    k, cmax = lco.value("rate_constant"), lco.value("max_concentration")
    i0 = FARADAY * k * cmax * math.sqrt(0.75 * 0.25)
    assert 8.314462618 * 298.15 / (FARADAY * i0) == pytest.approx(75e-4, rel=0.01)   # ohm m^2

    lipon = load_material("LiPON")
    assert lipon.value("conductivity") == pytest.approx(2.3e-4)          # S/m
    assert lipon.value("activation_energy") == pytest.approx(0.55 * FARADAY, rel=1e-6)
    assert lipon.value("transference_number") == 1.0
    assert lipon.value("model") == "single-ion"

    lpo = load_material("Li3PO4")
    sigma = (FARADAY**2 / (8.314462618 * 298.15) * lpo.value("mobile_fraction")
             * lpo.value("lithium_concentration")
             * (lpo.value("cation_diffusivity") + lpo.value("anion_diffusivity")))
    assert lpo.value("conductivity") == pytest.approx(sigma, rel=0.01)
    assert lpo.value("recombination_rate_constant") == pytest.approx(0.9e-8)

    li = load_material("Li")
    assert li.value("density") == pytest.approx(534.0)
    assert li.value("molar_mass") == pytest.approx(6.94e-3)
    assert li.value("electronic_conductivity") == pytest.approx(1 / 9.28e-8, rel=1e-3)
    assert load_material("Cu").value("electronic_conductivity") == pytest.approx(1 / 1.678e-8,
                                                                                  rel=1e-3)


def test_volumetric_capacity():
    lco = load_material("LiCoO2")
    assert lco.volumetric_capacity() == pytest.approx(0.61 * 51555 * FARADAY * 0.499)
    # about 42 uAh per cm^2 per um of film (West et al. 2002: 40 at C/10 from 4.2 V)
    assert lco.volumetric_capacity() / 3.6e7 == pytest.approx(42.06, abs=0.1)
    li = load_material("Li")
    assert li.volumetric_capacity() == pytest.approx(FARADAY * 534.0 / 6.94e-3)
    with pytest.raises(ValueError):
        load_material("LiPON").volumetric_capacity()


def test_missing_parameter_is_a_clear_key_error():
    with pytest.raises(KeyError, match="rate_constant"):
        load_material("LiPON").value("rate_constant")


# ------------------------------------------------------------------------------ Table

def test_table_interpolates_points_and_is_monotone():
    x = np.array([0.0, 0.1, 0.4, 0.5, 1.0])
    y = np.array([4.0, 3.9, 3.85, 3.2, 3.0])
    t = Table(x, y)
    assert np.allclose(t(x), y)
    q = np.linspace(0, 1, 1001)
    assert np.all(np.diff(t(q)) <= 1e-15)       # PCHIP: no overshoot of monotone data
    assert isinstance(t(0.3), float) and isinstance(t.derivative(0.3), float)
    assert t(np.array([[0.2, 0.3]])).shape == (1, 2)


def test_table_derivative_matches_finite_differences_inside_and_outside():
    x = np.linspace(0.2, 0.9, 8)
    y = 4.2 - 1.1 * x**2 + 0.3 * np.sin(5 * x)
    for t in (Table(x, y), Table(x, np.exp(y), log=True)):
        q = np.linspace(0.0, 1.1, 57)            # inside, between knots, and outside
        h = 1e-6
        fd = (t(q + h) - t(q - h)) / (2 * h)
        scale = np.maximum(1.0, np.abs(fd))
        assert np.all(np.abs(t.derivative(q) - fd) / scale < 1e-5)


def test_table_extrapolates_linearly_with_end_slopes():
    x = np.array([0.5, 0.6, 0.8, 0.9])
    y = np.array([4.2, 4.0, 3.9, 3.7])
    t = Table(x, y)
    s0, s1 = t.derivative(0.5), t.derivative(0.9)
    assert t(0.3) == pytest.approx(4.2 + s0 * (0.3 - 0.5))
    assert t(1.0) == pytest.approx(3.7 + s1 * (1.0 - 0.9))
    assert t.derivative(0.0) == pytest.approx(s0) and t.derivative(2.0) == pytest.approx(s1)
    # continuous value and slope at the ends
    for end, inward in ((0.5, 1), (0.9, -1)):
        assert t(end + inward * 1e-9) == pytest.approx(t(end - inward * 1e-9), abs=1e-8)
        assert t.derivative(end + inward * 1e-7) == pytest.approx(
            t.derivative(end - inward * 1e-7), rel=1e-4)


def test_log_table_interpolates_in_log_space():
    t = Table([0.0, 1.0], [1e-16, 1e-14], log=True)
    assert t(0.5) == pytest.approx(1e-15, rel=1e-12)          # geometric mean
    assert t(2.0) == pytest.approx(1e-12, rel=1e-12)          # exponential extrapolation
    assert t(-1.0) == pytest.approx(1e-18, rel=1e-12)
    assert np.all(t(np.linspace(-3, 3, 50)) > 0)


@pytest.mark.parametrize("x, y, log", [([0.0, 0.0, 1.0], [1, 2, 3], False),
                                       ([0.0, 1.0, 0.5], [1, 2, 3], False),
                                       ([0.0], [1.0], False),
                                       ([0.0, 1.0], [1.0, math.nan], False),
                                       ([0.0, 1.0], [1.0, -1.0], True)])
def test_table_rejects_bad_points(x, y, log):
    with pytest.raises(ValueError):
        Table(x, y, log=log)


# ------------------------------------------------------------------------------ overrides

def write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_overrides_parse_units_and_record_their_source(tmp_path):
    m = load_material("LiCoO2", {
        "max_concentration": "23300 mol/m^3",
        "diffusivity": "1e-11 cm^2/s",
        "electronic_conductivity": 0.5,              # a plain number is SI: S/m
        "charge_transfer_coefficient": 0.6,
        "stoichiometry_range": [0.52, 0.98],
        "diffusivity_activation_energy": "30 kJ/mol",
        "film_resistance": "10 ohm*cm^2",
    }, tmp_path, key="materials.LiCoO2")
    assert m.value("max_concentration") == pytest.approx(23300)
    assert m.value("diffusivity") == pytest.approx(1e-15)
    assert m.value("electronic_conductivity") == 0.5
    assert m.value("stoichiometry_range") == (0.52, 0.98)
    assert m.value("diffusivity_activation_energy") == pytest.approx(30e3)
    assert m.value("film_resistance") == pytest.approx(1e-3)
    for p in ("max_concentration", "diffusivity", "stoichiometry_range"):
        assert m.source(p) == materials.OVERRIDE_SOURCE
    assert "Ramadass" in m.source("ocv")                   # untouched keeps its citation
    # the library itself is not changed by an override
    assert load_material("LiCoO2").value("max_concentration") == pytest.approx(51555)


def test_override_tables_relative_to_base_dir(tmp_path):
    write(tmp_path / "ocv.csv", "# measured, cell 7\nstoichiometry,voltage_V\n"
                                "0.4,4.3\n0.6,4.0\n0.8,3.9\n1.0,3.5\n")
    write(tmp_path / "d.csv", "stoichiometry,diffusivity_m2_s\n0.4,1e-14\n1.0,1e-16\n")
    m = load_material("LiCoO2", {"ocv": "ocv.csv", "diffusivity": "d.csv"}, tmp_path)
    ocv = m.value("ocv")
    assert ocv(0.6) == pytest.approx(4.0) and ocv.notes == ("measured, cell 7",)
    d = m.value("diffusivity")
    assert d.log and d(0.7) == pytest.approx(1e-15)
    assert m.source("ocv") == materials.OVERRIDE_SOURCE


@pytest.mark.parametrize("overrides, bad_key, expected", [
    ({"diffusion": "1e-11 cm^2/s"}, "materials.LiCoO2.diffusion", "one of: max_concentration"),
    ({"diffusivity": "1 V"}, "materials.LiCoO2.diffusivity", "diffusivity"),
    ({"diffusivity": "fast"}, "materials.LiCoO2.diffusivity", "diffusivity"),
    ({"diffusivity": -1e-15}, "materials.LiCoO2.diffusivity", "greater than zero"),
    ({"max_concentration": 0}, "materials.LiCoO2.max_concentration", "greater than zero"),
    ({"electronic_conductivity": "nan S/m"}, "materials.LiCoO2.electronic_conductivity", ""),
    ({"charge_transfer_coefficient": 1.2}, "materials.LiCoO2.charge_transfer_coefficient",
     "between 0 and 1"),
    ({"charge_transfer_coefficient": 0}, "materials.LiCoO2.charge_transfer_coefficient",
     "between 0 and 1"),
    ({"stoichiometry_range": [0.9, 0.6]}, "materials.LiCoO2.stoichiometry_range", "x_min <"),
    ({"stoichiometry_range": [0.5, 1.2]}, "materials.LiCoO2.stoichiometry_range", "between"),
    ({"stoichiometry_range": 0.5}, "materials.LiCoO2.stoichiometry_range", "two numbers"),
    ({"stoichiometry_range": [0.3, 0.9]}, "materials.LiCoO2.stoichiometry_range",
     "inside the OCV table"),
    ({"initial_stoichiometry": 1.5}, "materials.LiCoO2.initial_stoichiometry", "between"),
    ({"diffusivity_activation_energy": "-0.1 eV"},
     "materials.LiCoO2.diffusivity_activation_energy", "zero or more"),
    ({"reference_temperature": "-300 degC"}, "materials.LiCoO2.reference_temperature",
     "greater than zero"),
    ({"ocv": 4.0}, "materials.LiCoO2.ocv", "table file"),
    ({"max_concentration": "c.csv"}, "materials.LiCoO2.max_concentration", "not a table"),
    ({"exchange_current_density": "1 mA/cm^2", "rate_constant": 1e-9},
     "materials.LiCoO2.exchange_current_density", "not both"),
])
def test_bad_overrides_name_the_key(tmp_path, overrides, bad_key, expected):
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", overrides, tmp_path, key="materials.LiCoO2")
    assert info.value.key == bad_key
    assert expected in info.value.expected
    assert bad_key in str(info.value)


def test_bad_overrides_of_other_kinds(tmp_path):
    with pytest.raises(InputError) as info:
        load_material("LiPON", {"model": "liquid"}, tmp_path)
    assert info.value.key == "materials.LiPON.model" and "single-ion" in info.value.expected
    with pytest.raises(InputError) as info:
        load_material("LiPON", {"transference_number": 0}, tmp_path)
    assert info.value.key == "materials.LiPON.transference_number"
    with pytest.raises(InputError) as info:
        load_material("LiPON", {"conductivity": "3e-6 S/cm^2"}, tmp_path)
    assert info.value.key == "materials.LiPON.conductivity"
    with pytest.raises(InputError) as info:
        load_material("Li", {"rate_constant": 1e-9}, tmp_path)   # not a lithium-metal parameter
    assert info.value.key == "materials.Li.rate_constant"
    with pytest.raises(InputError) as info:
        load_material("Pt", ["electronic_conductivity"], tmp_path)
    assert info.value.key == "materials.Pt"
    m = load_material("Li3PO4", {"model": "dissociation",
                                 "recombination_rate_constant": "0.9e-2 cm^3/(mol*s)"})
    assert m.value("recombination_rate_constant") == pytest.approx(0.9e-8)
    with pytest.raises(InputError) as info:
        load_material("Li3PO4", {"model": "dissociation", "recombination_rate_constant": "1 m/s"})
    assert info.value.key == "materials.Li3PO4.recombination_rate_constant"


def test_missing_and_bad_table_files_name_key_and_path(tmp_path):
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", {"ocv": "no_such.csv"}, tmp_path)
    assert info.value.key == "materials.LiCoO2.ocv"
    assert str(tmp_path / "no_such.csv") == info.value.value

    write(tmp_path / "rising.csv", "x,U\n0.4,3.5\n0.7,3.9\n1.0,4.1\n")
    with pytest.raises(InputError, match="does not rise") as info:
        load_material("LiCoO2", {"ocv": "rising.csv"}, tmp_path)
    assert info.value.key == "materials.LiCoO2.ocv"

    write(tmp_path / "noheader.csv", "0.4,4.1\n1.0,3.5\n")       # PyBaMM's format
    assert load_material("LiCoO2", {"ocv": "noheader.csv"}, tmp_path).value("ocv")(0.4) == 4.1

    write(tmp_path / "badrow.csv", "x,U\n0.4,4.1\n0.7;3.9\n1.0,3.5\n")
    with pytest.raises(InputError, match="line 3"):
        load_material("LiCoO2", {"ocv": "badrow.csv"}, tmp_path)

    write(tmp_path / "outside.csv", "x,U\n0.4,4.1\n1.2,3.5\n")
    with pytest.raises(InputError, match="between 0 and 1"):
        load_material("LiCoO2", {"ocv": "outside.csv"}, tmp_path)

    write(tmp_path / "negd.csv", "x,D\n0.4,1e-15\n1.0,0\n")
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", {"diffusivity": "negd.csv"}, tmp_path)
    assert info.value.key == "materials.LiCoO2.diffusivity"


# other table layouts: the header line is fine, the first row says what is wrong
@pytest.mark.parametrize("text, where, problem", [
    ("x\tD\n0.4\t1e-15\n1.0\t2e-15\n", "line 2:", "1 column, not 2 separated by ',': its "
                                                     "fields are separated by tabs"),
    ("x;D\n0.4;1e-15\n1.0;2e-15\n", "line 2:", "separated by ';'"),
    ("x;D\n0,4;1e-15\n1,0;2e-15\n", "line 2:", "y is not a finite number; it holds ';'"),
    ("x,D,\n0.4,1e-15,\n1.0,2e-15,\n", "line 2:", "3 columns, not 2 separated by ',': the "
                                                  "last is empty, from a trailing ','"),
    ("x,D,note\n0.4,1e-15,a\n1.0,2e-15,b\n", "line 2:", "3 columns, not 2"),
    ("# D(x)\nx,D\n0.4,1e-15,,\n", "line 3:", "4 columns, not 2 separated by ',': the last 2 "
                                              "are empty"),
    ("0.4\t1e-15\n1.0\t2e-15\n", "line 1:", "separated by tabs"),     # no header
    ("x,D\n0.4,1e-15\n1.0,nan\n", "line 3:", "y is not a finite number"),
    ("x,D,T\n0.4,1e-15\n1.0,2e-15\n", "line 1, the header:", "3 columns, not 2"),
])
def test_a_table_of_another_layout_names_its_first_bad_row_and_why(tmp_path, text, where,
                                                                     problem):
    write(tmp_path / "d.csv", text)
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", {"diffusivity": "d.csv"}, tmp_path)
    message = str(info.value)
    assert f"({where} " in message and problem in message
    assert "2 columns separated by ','" in message


def test_unknown_material_lists_the_library():
    with pytest.raises(InputError) as info:
        load_material("LiFePO5", key="cell.layers.cathode.material")
    assert info.value.key == "cell.layers.cathode.material"
    assert info.value.value == "LiFePO5"
    for name in EXPECTED:
        assert name in info.value.expected


# ------------------------------------------------------------------------------ kinetics choice

def test_case_exchange_current_replaces_library_rate_constant():
    m = load_material("LiCoO2", {"exchange_current_density": "0.1 mA/cm^2"})
    assert m.has("exchange_current_density") and not m.has("rate_constant")
    assert m.value("exchange_current_density") == pytest.approx(1.0)
    assert m.source("exchange_current_density") == materials.OVERRIDE_SOURCE
    m = load_material("LiCoO2", {"rate_constant": "2e-9 m/s"})
    assert m.value("rate_constant") == pytest.approx(2e-9) and not m.has("exchange_current_density")


@pytest.fixture
def private_library(tmp_path, monkeypatch):
    """A throw-away library directory (the loader's cache is cleared around the test)."""
    monkeypatch.setattr(library, "DATA_DIR", tmp_path)
    library._library_file.cache_clear()
    yield tmp_path
    library._library_file.cache_clear()


FILM = """name = "Film"
kind = "intercalation"
description = "test film"
[parameters.max_concentration]
value = 20000
source = "test value"
[parameters.diffusivity]
value = "film_d.csv"
source = "test table"
[parameters.electronic_conductivity]
value = "1 S/m"
source = "test value"
[parameters.exchange_current_density]
value = "0.2 mA/cm^2"
source = "test value"
[parameters.charge_transfer_coefficient]
value = 0.5
source = "test value"
[parameters.ocv]
value = "film_ocv.csv"
source = "test table"
[parameters.stoichiometry_range]
value = [0.1, 0.9]
source = "test value"
[parameters.reference_temperature]
value = 298.15
source = "test value"
"""


def test_case_rate_constant_replaces_library_exchange_current(private_library):
    write(private_library / "film_ocv.csv", "x,U\n0.0,3.0\n1.0,1.0\n")
    write(private_library / "film_d.csv", "x,D\n0.0,1e-14\n1.0,1e-15\n")
    write(private_library / "Film.toml", FILM)
    assert materials.library_names() == ["Film"]
    base = load_material("Film")
    assert base.has("exchange_current_density") and not base.has("rate_constant")
    assert base.value("diffusivity").log                      # library tables: log for D
    m = load_material("Film", {"rate_constant": 1e-10})
    assert m.has("rate_constant") and not m.has("exchange_current_density")


def test_library_file_errors_are_input_errors(private_library):
    write(private_library / "film_ocv.csv", "x,U\n0.0,3.0\n1.0,1.0\n")
    write(private_library / "film_d.csv", "x,D\n0.0,1e-14\n1.0,1e-15\n")
    write(private_library / "Film.toml", FILM.replace('source = "test table"\n', 'source = ""\n', 1))
    with pytest.raises(InputError) as info:
        load_material("Film")
    assert info.value.key == "materials.Film.diffusivity.source"
    library._library_file.cache_clear()
    write(private_library / "Film.toml", FILM.replace("[parameters.ocv]", "[parameters.ocvx]"))
    with pytest.raises(InputError) as info:
        load_material("Film")
    assert info.value.key == "materials.Film.ocvx"
    library._library_file.cache_clear()
    no_kinetics = FILM.replace('[parameters.exchange_current_density]\nvalue = "0.2 mA/cm^2"\n'
                               'source = "test value"\n', "")
    assert "exchange_current_density" not in no_kinetics
    write(private_library / "Film.toml", no_kinetics)
    with pytest.raises(InputError, match="exchange_current_density or rate_constant"):
        load_material("Film")


# ------------------------------------------------------------------------------ listings

def test_format_library_lists_every_material():
    text = materials.format_library()
    lines = text.splitlines()
    assert lines[0].split()[:3] == ["name", "kind", "description"]
    for name in materials.library_names():
        m = load_material(name)
        row = next(line for line in lines if line.split() and line.split()[0] == name)
        assert m.kind in row and m.description[:30] in row


@pytest.mark.parametrize("name", materials.library_names())
def test_format_material_shows_every_parameter_with_its_source(name):
    text = materials.format_material(name)
    m = load_material(name)
    flat = " ".join(text.split())
    for param in m.names():
        assert param in text
        assert " ".join(m.source(param).split())[:60] in flat


def test_format_material_uses_readable_units():
    text = materials.format_material("LiCoO2")
    assert "diffusivity from LiCoO2_diffusivity.csv" in text or "LiCoO2_diffusivity.csv" in text
    assert "cm^2/s" in text
    assert "51555 mol/m^3" in text
    assert "298.15 K (25 degC)" in text
    assert "LiCoO2_ocv.csv: 59 points" in text
    text = materials.format_material("LiPON")
    assert "2.3e-06 S/cm" in text and "0.55 eV" in text
    assert "0.58 mA/cm^2" in materials.format_material("Li")
    assert "0.534 g/cm^3" in materials.format_material("Li")


# ------------------------------------------------------------------------------ thin-film entries
# (Si, TiO2, LTO, LiMn2O4, V2O5, LNMO, LiFePO4, NMC811 and the film electrolytes)

NEW_ENTRIES = {"Si": "intercalation", "TiO2": "intercalation", "Li4Ti5O12": "intercalation",
               "LiMn2O4": "intercalation", "V2O5": "intercalation", "LNMO": "intercalation",
               "LiFePO4": "intercalation", "NMC811": "intercalation",
               "Li2PO2N": "electrolyte", "LiPON_ALD": "electrolyte", "LLZO": "electrolyte",
               "LATP": "electrolyte", "LLTO": "electrolyte", "Li3PS4": "electrolyte",
               "Li7P3S11": "electrolyte", "LiSON": "electrolyte"}
ANODES = ("Si", "TiO2", "Li4Ti5O12")
CATHODES = ("LiMn2O4", "V2O5", "LNMO", "LiFePO4", "NMC811")
RT_F = 8.314462618 * 298.15 / FARADAY


def full_capacity(name):
    """c_max F over x = 0..1 in uAh/(cm^2 um)."""
    return load_material(name).value("max_concentration") * FARADAY / 3.6e7


def test_thin_film_entries_exist_with_their_kinds():
    names = materials.library_names()
    for name, kind in NEW_ENTRIES.items():
        assert name in names
        assert load_material(name).kind == kind


@pytest.mark.parametrize("name, expected, rel", [
    ("Si", 3579 * 2.33 / 10, 0.002),          # Li15Si4: 3579 mAh/g x 2.33 g/cm^3 -> ~834
    ("TiO2", 128.0, 0.002),                   # 1280 mAh/cm^3 for TiO2 -> LiTiO2 (Moitzheim 2019)
    ("Li4Ti5O12", 175 * 3.48 / 10, 0.01),     # 175 mAh/g x 3.48 g/cm^3
    ("LiMn2O4", 148 * 4.36 / 10, 0.01),       # 148 mAh/g x 4.36 g/cm^3 (a = 8.199 A film)
    ("LiFePO4", 170 * 3.6 / 10, 0.01),        # 170 mAh/g x 3.6 g/cm^3
    ("LNMO", 146.6 * 4.46 / 10, 0.01),
    ("V2O5", 147.4 * 3.35 / 10, 0.01),        # one Li per V2O5
    ("NMC811", 169.1, 0.002),                 # 63104 mol/m^3 (Chen et al. 2020)
])
def test_theoretical_capacity_per_area_and_thickness(name, expected, rel):
    assert full_capacity(name) == pytest.approx(expected, rel=rel)


def test_si_capacity_is_li15si4_in_dense_si():
    si = load_material("Si")
    c_si = 2330 / 28.0855e-3                                       # mol Si per m^3
    assert si.value("max_concentration") / c_si == pytest.approx(3.75, rel=1e-3)
    mah_per_g = si.value("max_concentration") / 2330 * FARADAY / 3600  # Ah/kg = mAh/g
    assert mah_per_g == pytest.approx(3579, rel=1e-3)
    low, high = si.value("stoichiometry_range")
    assert si.volumetric_capacity() / 3.6e7 == pytest.approx(834 * (high - low), rel=2e-3)


@pytest.mark.parametrize("name", ANODES + CATHODES)
def test_thin_film_ocv_windows_and_initial_state(name):
    m = load_material(name)
    low, high = m.value("stoichiometry_range")
    u = m.value("ocv")(np.linspace(low, high, 200))
    x0 = m.value("initial_stoichiometry")
    assert low <= x0 <= high
    if name in ANODES:                       # low potentials; charged = lithiated = high x
        assert 0.05 <= u.min() and u.max() <= 2.0
        assert x0 == high
    else:                                    # cathodes; charged = delithiated = low x
        assert 2.45 <= u.min() and u.max() <= 4.9   # LNMO charged 4.85 V, V2O5 lithiated 2.49 V
        assert x0 == low


def test_thin_film_ocv_plateau_values():
    assert 0.2 < load_material("Si").value("ocv")(0.5) < 0.45
    assert load_material("Li4Ti5O12").value("ocv")(0.5) == pytest.approx(1.55, abs=2e-3)
    assert load_material("TiO2").value("ocv")(0.3) == pytest.approx(1.85, abs=2e-3)   # y = 0.5
    lnmo = load_material("LNMO").value("ocv")          # the two Ni plateaus (Pron et al. 2019)
    assert lnmo(0.3) == pytest.approx(4.780, abs=2e-3)
    assert lnmo(0.6) == pytest.approx(4.746, abs=2e-3)
    assert load_material("LiFePO4").value("ocv")(0.5) == pytest.approx(3.4323, abs=2e-4)
    assert 3.9 < load_material("LiMn2O4").value("ocv")(0.6) < 4.15
    assert 3.5 < load_material("NMC811").value("ocv")(0.9) < 3.6
    v2o5 = load_material("V2O5").value("ocv")
    assert v2o5(0.02) == pytest.approx(3.58, abs=0.01) and v2o5(0.98) == pytest.approx(2.52, abs=0.01)


def test_thin_film_ocv_tables_reproduce_the_recorded_functions():
    """Every CSV header records its function; the tables must follow it (0.1 mV rounding)."""
    def regsol(y, e0, w=1.8):
        return e0 - RT_F * (np.log(y / (1 - y)) + w * (1 - 2 * y))

    pl = [-96.63, 372.6, -587.6, 489.9, -232.8, 62.99, -9.286, 0.8633]
    pd = [-51.02, 161.3, -205.7, 140.2, -58.76, 16.87, -3.792, 0.9937]
    fits = {
        "Si": lambda x: 0.5 * (np.polyval(pl, x) + np.polyval(pd, x)),
        "Li4Ti5O12": lambda x: regsol(x, 1.55),
        "TiO2": lambda x: regsol(x / 0.6, 1.85),
        "V2O5": lambda x: 3.05 - 0.9 * (x - 0.5) - RT_F * np.log(x / (1 - x)),
        "LiMn2O4": lambda y: (4.19829 + 0.0565661 * np.tanh(-14.5546 * y + 8.60942)
                              - 0.0275479 * (1 / ((0.998432 - y) ** 0.492465) - 1.90111)
                              - 0.157123 * np.exp(-0.04738 * y ** 8)
                              + 0.810239 * np.exp(-40 * (y - 0.133875))),
        "LiFePO4": lambda y: (3.4323 - 0.8428 * np.exp(-80.2493 * (1 - y) ** 1.3198)
                              - 3.2474e-6 * np.exp(20.2645 * (1 - y) ** 3.8003)
                              + 3.2482e-6 * np.exp(20.2646 * (1 - y) ** 3.7995)
                              - 0.02 * (y - 0.5)),
        "NMC811": lambda x: (-0.8090 * x + 4.4875 - 0.0428 * np.tanh(18.5138 * (x - 0.5542))
                             - 17.7326 * np.tanh(15.7890 * (x - 0.3117))
                             + 17.5842 * np.tanh(15.9308 * (x - 0.3120))),
    }
    for name, fit in fits.items():
        ocv = load_material(name).value("ocv")
        assert np.allclose(ocv.y, fit(ocv.x), atol=6e-5), name
        assert len(ocv) >= 30, name
        assert ocv.notes, name                                   # the header carries the source


def test_thin_film_sources_label_constructed_and_assumed_values():
    for name in ("TiO2", "Li4Ti5O12", "V2O5"):
        source = load_material(name).source("ocv")
        assert "constructed" in source and "Why it stays constructed" in source
    for name in ("Si", "LiMn2O4", "Li4Ti5O12", "V2O5", "LiFePO4"):
        source = load_material(name).source("exchange_current_density")
        assert "assumed" in source and "proxy" in source and "Why it stays assumed" in source


# points of Pron et al., J. Electrochem. Soc. 166 (2019) A2255, as tabulated in BattMo
# (computeOCP_LNMO_Pron.m): charged end, Ni3+/Ni4+ and Ni2+/Ni3+ plateaus, end-of-discharge fall
LNMO_POINTS = [(0.0189085, 4.85689), (0.305011, 4.77974), (0.499164, 4.75038),
               (0.846583, 4.69072), (0.928332, 4.27123), (0.969204, 4.06852),
               (0.989642, 3.98918), (0.99986, 3.55626)]


def test_lnmo_ocv_is_the_measured_pron_curve():
    lnmo = load_material("LNMO")
    ocv = lnmo.value("ocv")
    assert len(ocv) == 88                                   # 96 source points, 8 noisy dropped
    for x, u in LNMO_POINTS:
        i = int(np.argmin(np.abs(ocv.x - x)))
        assert ocv.x[i] == pytest.approx(x, abs=1e-9) and ocv.y[i] == pytest.approx(u, abs=1e-9)
    assert any("Pron" in note for note in ocv.notes)
    assert any("BattMo" in note for note in ocv.notes)
    assert "Pron" in lnmo.source("ocv") and "constructed" not in lnmo.source("ocv")


def test_lnmo_window_crosses_a_4_volt_cutoff():
    """A discharge to 4.0 V must end on the voltage, inside the usable window, not on a full
    electrode: the OCV at the lithiated end of the window lies below 4.0 V."""
    lnmo = load_material("LNMO")
    low, high = lnmo.value("stoichiometry_range")
    ocv = lnmo.value("ocv")
    assert ocv(high) < 4.0 < ocv(high - 0.02)
    assert ocv(low) > 4.8                                     # charged: above a 4.8 V charge cut


def test_sn_entry_says_why_there_is_no_snnx():
    assert "No SnNx entry" in load_material("Sn").source("ocv")


def test_thin_film_kinetics_and_transport_values():
    tio2 = load_material("TiO2")
    assert tio2.value("rate_constant") == pytest.approx(3.5e-12)          # Lindstrom 1997
    assert tio2.value("diffusivity_activation_energy") == pytest.approx(0.4 * FARADAY, rel=1e-6)
    lnmo = load_material("LNMO")                                          # RT/(F 7.6 ohm cm^2)
    assert lnmo.value("exchange_current_density") == pytest.approx(
        8.314462618 * 298.15 / (FARADAY * 7.6e-4), rel=0.01)
    nmc = load_material("NMC811")                                         # m_ref sqrt(1000)/F
    assert nmc.value("rate_constant") == pytest.approx(3.42e-6 * math.sqrt(1000) / FARADAY,
                                                       rel=0.01)
    assert load_material("Si").value("diffusivity") == pytest.approx(1e-17)
    assert load_material("Si").value("electronic_conductivity") == pytest.approx(0.1)
    assert load_material("LiMn2O4").value("diffusivity") == pytest.approx(1.23e-15)


@pytest.mark.parametrize("name, sigma, ea_ev, t_ref", [
    ("Li2PO2N", 6.51e-7, 0.53, 308.15),
    ("LiPON_ALD", 6.6e-7, 0.53, 298.15),
    ("LLZO", 4.2e-6, 0.50, 298.15),
    ("LATP", 6.47e-6, 0.55, 298.15),
    ("LLTO", 3.5e-5, 0.35, 298.15),
    ("Li3PS4", 5.3e-4, 0.47, 298.15),
    ("Li7P3S11", 1.7e-2, 17e3 / FARADAY, 298.15),
    ("LiSON", 2e-5, 0.55, 298.15),
])
def test_film_electrolytes(name, sigma, ea_ev, t_ref):
    m = load_material(name)
    assert m.value("conductivity") == pytest.approx(sigma * 100)          # S/cm -> S/m
    assert m.value("activation_energy") == pytest.approx(ea_ev * FARADAY, rel=1e-3)
    assert m.value("reference_temperature") == pytest.approx(t_ref)
    assert m.value("transference_number") == 1.0
    assert m.value("model") == "single-ion"


# ------------------------------------------------------------------------------ library-wide ranges

INTERCALATION = [n for n in materials.library_names() if load_material(n).kind == "intercalation"]
EV = FARADAY                                        # J/mol per eV


@pytest.mark.parametrize("name", INTERCALATION)
def test_ocv_tables_follow_the_library_convention(name):
    """U(x) vs Li/Li+ with x the Li fraction: strictly decreasing in x (inserting Li lowers the
    potential, for cathodes and anodes alike), between 0 and 5.5 V, and dense enough."""
    ocv = load_material(name).value("ocv")
    assert np.all(np.diff(ocv.x) > 0) and np.all(np.diff(ocv.y) < 0)
    assert 0.0 < ocv.y.min() and ocv.y.max() < 5.5
    x = np.linspace(*ocv.x_range, 2000)
    assert np.all(np.diff(ocv(x)) < 0)
    assert len(ocv) >= 10


@pytest.mark.parametrize("name", materials.library_names())
def test_activation_energies_are_physical(name):
    m = load_material(name)
    for param in ("activation_energy", "diffusivity_activation_energy",
                  "rate_constant_activation_energy", "exchange_current_density_activation_energy"):
        if m.has(param):
            assert 0.0 <= m.value(param) < 1.5 * EV, param
    if m.kind == "electrolyte":
        assert m.has("activation_energy")
        assert 0.1 * EV < m.value("activation_energy") < 1.0 * EV   # Li+ conductors, 0.17-0.63 eV


@pytest.mark.parametrize("name", materials.library_names())
def test_transport_values_in_physical_ranges(name):
    """Orders of magnitude that any real film falls in (SI units inside the library)."""
    m = load_material(name)
    if m.kind == "electrolyte":
        assert 1e-10 * 100 <= m.value("conductivity") <= 1e-1 * 100            # S/cm -> S/m
        assert 0 < m.value("transference_number") <= 1
    elif m.kind == "collector":
        assert 1e5 < m.value("electronic_conductivity") < 1e8                  # metals, S/m
    elif m.kind == "lithium_metal":
        assert 1e6 < m.value("electronic_conductivity") < 1e8
        assert 500 < m.value("density") < 600 and 6.9e-3 < m.value("molar_mass") < 7.0e-3
    else:
        sigma = m.value("electronic_conductivity")
        values = sigma.y if isinstance(sigma, Table) else np.array([sigma])
        assert np.all((1e-12 <= values) & (values <= 1e8))                      # S/m
        d = m.value("diffusivity")
        values = d.y if isinstance(d, Table) else np.array([d])
        assert np.all((1e-22 <= values) & (values <= 1e-9))                    # m^2/s
        assert 1e3 < m.value("max_concentration") < 4e5                        # mol/m^3
        low, high = m.value("stoichiometry_range")
        assert 0 <= low < high <= 1
    if m.has("reference_temperature"):
        assert 250 < m.value("reference_temperature") < 400


# ------------------------------------------------------------------------------ Sn

def test_sn_is_an_anode_with_li22sn5_capacity():
    sn = load_material("Sn")
    assert sn.kind == "intercalation"
    sites = 7300 / 118.71e-3                                    # mol Sn per m^3 of white tin
    assert sn.value("max_concentration") / sites == pytest.approx(4.4, rel=1e-3)
    mah_per_g = sn.value("max_concentration") / 7300 * FARADAY / 3600
    assert mah_per_g == pytest.approx(993.6, rel=1e-3)
    assert full_capacity("Sn") == pytest.approx(993.6 * 7.30 / 10, rel=1e-3)   # 725 uAh/cm^2/um
    assert sn.value("diffusivity") == pytest.approx(3e-16)
    low, high = sn.value("stoichiometry_range")
    u = sn.value("ocv")(np.linspace(low, high, 200))
    assert 0.05 <= u.min() and u.max() <= 2.0                    # an anode
    assert sn.value("initial_stoichiometry") == high             # charged = lithiated


def test_sn_ocv_table_holds_the_wen_huggins_plateaus():
    ocv = load_material("Sn").value("ocv")
    plateaus = [(0.570, 0.57, 1.0), (0.455, 1.0, 2.33), (0.430, 2.33, 2.5), (0.387, 2.5, 2.6),
                (0.283, 2.6, 3.5), (0.170, 3.5, 4.4)]
    for volts, start, end in plateaus:
        assert ocv(0.5 * (start + end) / 4.4) == pytest.approx(volts, abs=1e-6)
        inner = np.linspace(start + 0.02, end - 0.02, 20) / 4.4
        assert np.all(np.abs(ocv(inner) - volts) <= 5e-3 + 1e-6)   # the documented tilt
    assert any("Wen & Huggins" in note for note in ocv.notes)
    assert any("415 degC" in note for note in ocv.notes)


def test_sn_sources_say_what_is_constructed_or_assumed():
    sn = load_material("Sn")
    assert "constructed" in sn.source("ocv") and "415 degC" in sn.source("ocv")
    assert "assumed" in sn.source("exchange_current_density")
    assert "assumed" in sn.source("charge_transfer_coefficient")
    assert "Lyons" in sn.source("diffusivity")

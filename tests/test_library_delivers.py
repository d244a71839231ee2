"""Library defaults that deliver (issue 10, item 7): a 1 um film of every intercalation
electrode in the library, against LiPON and lithium at 25 degC, discharged (lithiated) at
0.1C from the low end of its usable range, delivers at least 80 % of its theoretical
capacity. A default that delivers nothing in an ordinary cell is a bug."""

import numpy as np
import pytest

import solver
from solver.case import case_from_dict
from solver.materials import library_names, load_material

INTERCALATION = [name for name in library_names()
                 if load_material(name).kind == "intercalation"]
# Films whose published diffusivities cannot pass 1 um at 0.1C, with why, and the thickness
# such films are made at, where they must deliver. Each must still fall short at 1 um (so
# that a better library value removes it from here).
SHORT_OF_80 = {
    "TiO2": ("anatase: Li fills it top-down, D ~2.5e-15 cm^2/s; ALD films are 30-100 nm",
             "35 nm"),
    "V2O5": ("the sputtered film's largest GITT D (4e-13 cm^2/s) gives 79 % in 1 um", "0.5 um"),
    "Si": ("a-Si: the sputtered film's largest D (4e-13 cm^2/s) gives 77 % in 1 um; Si film "
           "anodes are 50-200 nm", "200 nm"),
}


def discharge(name, thickness="1 um", c_rate=0.1):
    """Capacity delivered (uAh/cm^2) and theoretical capacity (uAh) of a Li | 1 um LiPON |
    film cell at 25 degC, the film discharged (lithiated) from the low end of its range to
    0.2 V below its open-circuit range."""
    material = load_material(name)
    low, high = material.value("stoichiometry_range")
    ocv = material.value("ocv")(np.linspace(low, high, 200))
    cutoff = max(float(ocv.min()) - 0.2, 0.005)
    data = {"cell": {"footprint_area": "1 cm^2", "temperature": "25 degC", "layers": [
        {"name": "lithium", "material": "Li", "thickness": "10 um"},
        {"name": "electrolyte", "material": "LiPON", "thickness": "1 um"},
        {"name": "film", "material": name, "thickness": thickness,
         "initial_stoichiometry": low}]},
        "mesh": {"cells_per_layer": 20},
        "protocol": [{"mode": "discharge", "c_rate": c_rate, "until_voltage": cutoff}]}
    result = solver.run(case_from_dict(data, ".", source=name))
    step = result.summary["steps"][0]
    assert step["end_reason"] in ("until_voltage", "electrode_full"), step
    return step["capacity_mAh_cm2"] * 1e3, result.summary["theoretical_capacity_uAh"]["film"]


def delivered_fraction(name, thickness="1 um"):
    delivered, theoretical = discharge(name, thickness)
    return delivered / theoretical


@pytest.mark.parametrize("name", INTERCALATION)
def test_a_micrometre_film_delivers_at_a_tenth_of_c(name):
    fraction = delivered_fraction(name)
    if name in SHORT_OF_80:
        assert fraction < 0.8, f"{name} now delivers {fraction:.2f}: remove it from SHORT_OF_80"
        thickness = SHORT_OF_80[name][1]
        assert delivered_fraction(name, thickness) >= 0.8, f"{name} in {thickness}"
        return
    assert fraction >= 0.8, f"{name} delivers {fraction:.2f} of its capacity at 0.1C"


def test_every_shortfall_is_a_library_electrode():
    assert set(SHORT_OF_80) <= set(INTERCALATION)


@pytest.mark.parametrize("mode", ["discharge", "charge"])
@pytest.mark.parametrize("name", INTERCALATION)
def test_no_film_is_driven_past_its_open_circuit_data(name, mode):
    """A film driven on with no voltage cutoff stops where its open-circuit table ends
    (electrode_full on discharge, electrode_empty on charge), and every library film's usable
    range spans its table, so no half cell delivers more than the film's theoretical capacity,
    whatever its cutoff. Beyond the table the open-circuit voltage is the end slope extended,
    not data: there anatase went on to 154 % of its theoretical capacity at 60 degC; and where
    the range stopped short of the table NMC811 (LG M50's full-cell window, x = 0.27-0.90, on a
    table to x = 1) delivered 1.15 times its theoretical capacity in a 3.0 V half cell."""
    material = load_material(name)
    table_low, table_high = material.value("ocv").x_range
    start = material.value("stoichiometry_range")[0 if mode == "discharge" else 1]
    data = {"cell": {"footprint_area": "1 cm^2", "temperature": "25 degC", "layers": [
        {"name": "lithium", "material": "Li", "thickness": "10 um"},
        {"name": "electrolyte", "material": "LiPON", "thickness": "1 um"},
        {"name": "film", "material": name, "thickness": "50 nm",
         "initial_stoichiometry": start}]},
        "mesh": {"cells_per_layer": 10},
        "protocol": [{"mode": mode, "c_rate": 0.2, "until_time": "20 h"}]}
    result = solver.run(case_from_dict(data, ".", source=name))
    step = result.summary["steps"][0]
    assert step["end_reason"] == ("electrode_full" if mode == "discharge" else "electrode_empty")
    surface = result.timeseries["x_surface_film"]
    tolerance = 1e-4                                  # what an electrode limit is met to
    assert surface.min() >= min(table_low, start) - tolerance, surface.min()
    assert surface.max() <= max(table_high, start) + tolerance, surface.max()
    theoretical = result.summary["theoretical_capacity_uAh"]["film"]
    assert step["capacity_mAh_cm2"] * 1e3 <= theoretical * (1 + 1e-3)


def test_anatase_delivers_what_the_ald_film_its_diffusivity_comes_from_does():
    """TiO2's D is derived from a 35 nm ALD anatase film that delivers 1.2 uAh/cm^2 at 1C (ECS
    meeting abstract, sofc2015 Paper54505): the library's film must deliver that. Its earlier
    1e-15 cm^2/s, from a planar estimate, delivered 0.51 uAh/cm^2."""
    delivered, _ = discharge("TiO2", "35 nm", c_rate=1.0)
    assert delivered == pytest.approx(1.2, rel=0.1)

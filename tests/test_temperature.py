"""Temperature: Arrhenius laws on kappa, D and k (or a constant i0) against their closed forms.

X(T) = X_ref exp(-Ea/R (1/T - 1/T_ref)); activation energies are given in eV (per particle,
times the Faraday constant per mole) or in J/mol, and must not be negative.
"""

import math

import numpy as np
import pytest

import solver
from solver.api import build_grid
from solver.errors import InputError
from solver.materials import load_material
from solver.model import CellModel
from solver.physics.kinetics import exchange_current_density
from tests.conftest import planar_case

R = 8.314462618
F = 96485.33212
T_REF = 298.15
KAPPA_REF = 2.3e-6 * 100          # LiPON at 25 degC, S/m (Yu et al. 1997)
EA_LIPON = 0.55 * F               # J/mol
TEMPERATURES = {"0 degC": 273.15, "25 degC": 298.15, "60 degC": 333.15}


def arrhenius_factor(ea, t, t_ref=T_REF):
    return math.exp(-ea / R * (1.0 / t - 1.0 / t_ref))


# ------------------------------------------------------------------ electrolyte ohmic drop

@pytest.mark.parametrize("celsius", list(TEMPERATURES))
def test_electrolyte_ohmic_drop_follows_the_arrhenius_conductivity(celsius):
    """phi_e falls linearly across a single-ion electrolyte by I L / (kappa(T) A)."""
    current, thickness, area = 20e-6, 1.5e-6, 1e-4
    case = planar_case(cell={"temperature": celsius},
                       protocol=[{"mode": "discharge", "current": "20 uA", "until_time": "1 s"}])
    result = solver.run(case)
    m, grid = result.model, result.grid
    u = result.snapshots[-1][2]
    cells = grid.cells_with_tag("electrolyte")
    z = grid.cell_centroids[cells, -1]
    phi = u[m.s_phi][cells]
    slope = np.polyfit(z, phi, 1)[0]
    assert np.max(np.abs(phi - np.polyval(np.polyfit(z, phi, 1), z))) < 1e-9   # linear
    drop = abs(slope) * thickness
    kappa = KAPPA_REF * arrhenius_factor(EA_LIPON, TEMPERATURES[celsius])
    expected = current * thickness / (kappa * area)
    assert abs(result.timeseries["current_A"][-1]) == pytest.approx(current, rel=1e-9)
    assert drop == pytest.approx(expected, rel=1e-6)
    assert m.parameters.layer_conductivity[case.layers.index(case.layer("electrolyte"))] == pytest.approx(
        kappa, rel=1e-9)


def test_ohmic_drop_at_0_degC_is_seven_times_that_at_25_degC():
    # exp(0.55 eV / k_B (1/273.15 - 1/298.15)) = 7.1: the closed form, in numbers
    assert 1.0 / arrhenius_factor(EA_LIPON, 273.15) == pytest.approx(7.10, abs=0.01)


# ------------------------------------------------------------------ D and i0 in the model

ACTIVATED = {"LiCoO2_003": {"diffusivity_activation_energy": "0.3 eV",
                        "rate_constant_activation_energy": "40 kJ/mol"}}


def _model(celsius, materials=ACTIVATED):
    case = planar_case(cell={"temperature": celsius}, materials=materials)
    return CellModel(case, build_grid(case))


@pytest.mark.parametrize("celsius", ["0 degC", "60 degC"])
def test_model_diffusivity_and_rate_constant_scale_with_temperature(celsius):
    t = TEMPERATURES[celsius]
    ref, hot = _model("25 degC"), _model(celsius)
    lco_ref, lco = ref.electrodes[ref.positive], hot.electrodes[hot.positive]
    x = np.array([0.55, 0.7, 0.9])
    d_ratio = lco.diffusivity(x)[0] / lco_ref.diffusivity(x)[0]
    assert np.allclose(d_ratio, arrhenius_factor(0.3 * F, t), rtol=1e-12)
    table = load_material("LiCoO2_003").value("diffusivity")
    assert np.allclose(lco_ref.diffusivity(x)[0], table(x), rtol=1e-9)   # at T_ref
    assert lco.rate_constant / lco_ref.rate_constant == pytest.approx(
        arrhenius_factor(40e3, t), rel=1e-9)
    # the exchange current density the interface sees scales the same way
    i0_ref = exchange_current_density(x, lco_ref.rate_constant, lco_ref.kinetic_concentration,
                                      0.5, 0.5)[0]
    i0 = exchange_current_density(x, lco.rate_constant, lco.kinetic_concentration, 0.5, 0.5)[0]
    assert np.allclose(i0 / i0_ref, arrhenius_factor(40e3, t), rtol=1e-12)
    k_ref = load_material("LiCoO2_003").value("rate_constant")
    assert i0_ref[0] == pytest.approx(F * k_ref * 51555.0 * math.sqrt(0.55 * 0.45), rel=1e-9)


def _electrode(model, side):
    unit = model.units[0]
    return model.electrodes[unit.positive if side == "positive" else unit.negative]


# a constant i0 of each electrode kind, its kinetic activation energy and the material's
# reference temperature: (material, overrides, electrode, i0 in A/m^2, T_ref)
CONSTANT_I0_KINETICS = [
    ("LiCoO2_003", {"exchange_current_density": "0.3 mA/cm^2",
                    "rate_constant_activation_energy": "0.4 eV"}, "positive", 3.0, "25 degC"),
    ("Li", {"exchange_current_density_activation_energy": "0.4 eV"}, "negative", 5.8,
     "20 degC"),
]


@pytest.mark.parametrize("material, overrides, side, i0_ref, reference", CONSTANT_I0_KINETICS,
                         ids=["intercalation", "lithium metal"])
def test_a_constant_exchange_current_density_takes_its_kinds_kinetic_activation_energy(
        material, overrides, side, i0_ref, reference):
    materials = {material: overrides}
    ref, cold = _model(reference, materials), _model("0 degC", materials)
    assert _electrode(ref, side).i0_constant == pytest.approx(i0_ref, rel=1e-9)
    assert _electrode(cold, side).i0_constant == pytest.approx(
        i0_ref * arrhenius_factor(0.4 * F, 273.15, ref.parameters.temperature), rel=1e-9)


def test_the_lithium_arc_shrinks_with_temperature_as_its_activation_energy_says():
    """At 80 degC the spectra of the shipped cell with and without an activation energy on
    Li's i0 differ by the Li | LiPON arc alone: R || C_dl with R = RT/(F i0(T)), i0(T) the
    library's 0.58 mA/cm^2 at 20 degC times exp(-Ea/R (1/T - 1/T_ref)) (alpha_a + alpha_c = 1)."""
    impedance = [{"mode": "impedance", "frequencies": ["10 mHz", "1 MHz"],
                  "points_per_decade": 4}]
    spectra = [solver.run(planar_case(cell={"temperature": "80 degC"}, protocol=impedance,
                                      materials=materials)).spectra[0]
               for materials in (None, {"Li": {"exchange_current_density_activation_energy":
                                               "0.3 eV"}})]
    li = load_material("Li")

    def r_ct(t, ea):                                                  # ohm m^2
        return R * t / (F * li.value("exchange_current_density")
                        * arrhenius_factor(ea, t, li.value("reference_temperature")))

    omega, c_dl = 2 * np.pi * spectra[0].frequency_Hz, li.value("double_layer_capacitance")
    arc = [r / (1 + 1j * omega * r * c_dl) * 1e4 for r in (r_ct(353.15, 0.0),
                                                           r_ct(353.15, 0.3 * F))]
    assert r_ct(353.15, 0.3 * F) < r_ct(298.15, 0.3 * F) / 5      # warmer: faster Li kinetics
    assert np.allclose(spectra[1].z_ohm_cm2 - spectra[0].z_ohm_cm2, arc[1] - arc[0],
                       rtol=0, atol=1e-6 * abs(arc[0][0]))


def test_without_activation_energies_only_the_electrolyte_changes():
    ref, hot = _model("25 degC", None), _model("60 degC", None)
    lco_ref, lco = ref.electrodes[ref.positive], hot.electrodes[hot.positive]
    x = np.array([0.6])
    assert lco.diffusivity(x)[0] == lco_ref.diffusivity(x)[0]
    assert lco.rate_constant == lco_ref.rate_constant
    assert hot.parameters.layer_conductivity[1] / ref.parameters.layer_conductivity[1] == pytest.approx(
        arrhenius_factor(EA_LIPON, 333.15), rel=1e-9)


# ------------------------------------------------------------------ capacity vs temperature

@pytest.mark.parametrize("materials", [None, ACTIVATED], ids=["library", "activated LCO"])
def test_discharge_capacity_grows_with_temperature(materials):
    capacities = []
    for celsius in TEMPERATURES:
        case = planar_case(cell={"temperature": celsius}, materials=materials,
                           protocol=[{"mode": "discharge", "c_rate": 10,
                                      "until_voltage": "3.6 V"}])
        step = solver.run(case).summary["steps"][0]
        assert step["end_reason"] == "until_voltage"
        capacities.append(step["capacity_mAh_cm2"])
    cold, room, hot = capacities
    assert cold < room < hot
    assert hot < 0.0217                               # never more than the film holds


# ------------------------------------------------------------------ units and checks

@pytest.mark.parametrize("text", ["0.55 eV", "53.06693 kJ/mol", "53066.93 J/mol", 53066.93])
def test_activation_energy_in_ev_or_j_per_mol(text):
    lipon = load_material("LiPON", {"activation_energy": text})
    assert lipon.value("activation_energy") == pytest.approx(0.55 * F, rel=1e-5)
    assert lipon.value("activation_energy") == pytest.approx(53.07e3, rel=1e-3)


def test_case_activation_energies_in_either_unit_give_the_same_model():
    ev = _model("0 degC", {"LiPON": {"activation_energy": "0.45 eV"},
                           "LiCoO2_003": {"diffusivity_activation_energy": "0.3 eV"}})
    kj = _model("0 degC", {"LiPON": {"activation_energy": f"{0.45 * F / 1e3} kJ/mol"},
                           "LiCoO2_003": {"diffusivity_activation_energy": f"{0.3 * F} J/mol"}})
    assert ev.parameters.layer_conductivity[1] == pytest.approx(kj.parameters.layer_conductivity[1], rel=1e-9)
    x = np.array([0.7])
    assert ev.electrodes[ev.positive].diffusivity(x)[0] == pytest.approx(
        kj.electrodes[kj.positive].diffusivity(x)[0], rel=1e-9)


@pytest.mark.parametrize("material, param, value", [
    ("LiPON", "activation_energy", "-0.55 eV"),
    ("LiPON", "activation_energy", "-10 kJ/mol"),
    ("LiCoO2_003", "diffusivity_activation_energy", "-0.3 eV"),
    ("LiCoO2_003", "rate_constant_activation_energy", -1.0),
    ("Li", "exchange_current_density_activation_energy", "-0.3 eV"),
])
def test_negative_activation_energy_is_an_input_error_naming_the_key(material, param, value):
    with pytest.raises(InputError) as info:
        planar_case(materials={material: {param: value}})
    assert info.value.key == f"materials.{material}.{param}"
    assert "zero or more" in info.value.expected


@pytest.mark.parametrize("value", ["0.55 V", "0.55 eV/s", "fast"])
def test_activation_energy_of_the_wrong_dimension_names_the_key(value):
    with pytest.raises(InputError) as info:
        planar_case(materials={"LiPON": {"activation_energy": value}})
    assert info.value.key == "materials.LiPON.activation_energy"


def _temperature_warnings(case):
    from solver.guards import constant_in_temperature

    return constant_in_temperature(case)


def test_properties_without_an_activation_energy_are_named_away_from_their_reference():
    """At 0 degC the library's LiCoO2_003 keeps its 25 degC D and k (no activation energies)
    and Li its 20 degC i0: a run said nothing, as if the cell's kinetics had cooled with it;
    its sigma, which has one, is not named. Within 10 K of the reference nothing is said."""
    cold = _temperature_warnings(planar_case(cell={"temperature": "0 degC"}))
    li, lco = cold
    assert li.startswith("Li: its exchange_current_density keeps its value at 20 degC")
    assert "materials.Li.exchange_current_density_activation_energy" in li
    assert lco.startswith("LiCoO2_003: its rate_constant and diffusivity keep their values")
    assert "electronic_conductivity" not in lco
    assert not _temperature_warnings(planar_case(cell={"temperature": "30 degC"}))
    given = planar_case(cell={"temperature": "0 degC"}, materials={
        "LiCoO2_003": {"rate_constant_activation_energy": "0.3 eV",
                       "diffusivity_activation_energy": "0.3 eV"},
        "Li": {"exchange_current_density_activation_energy": "0.3 eV"}})
    assert not _temperature_warnings(given)


def test_a_run_away_from_the_reference_temperature_carries_the_warning():
    result = solver.run(planar_case(cell={"temperature": "60 degC"}, mesh={"cells_per_layer": 8},
                                    protocol=[{"mode": "discharge", "c_rate": 1,
                                               "until_voltage": "3.0 V"}]))
    assert any(w.startswith("LiCoO2_003: its rate_constant and diffusivity")
               for w in result.summary["warnings"])

"""What parameters each kind of material has, their dimensions and their allowed values."""

from __future__ import annotations

import math
from dataclasses import dataclass

KINDS = ("intercalation", "electrolyte", "lithium_metal", "collector")
ELECTROLYTE_MODELS = ("single-ion", "binary", "dissociation")

# value forms
QUANTITY = "quantity"          # a number (SI) or a string with units
QUANTITY_OR_TABLE = "quantity or table"
TABLE = "table"                # a CSV file of stoichiometry -> value
RANGE = "range"                # two numbers [low, high]
CHOICE = "choice"              # one of a few strings


@dataclass(frozen=True)
class Spec:
    """One parameter: its dimension, its form and the rule its value must satisfy."""
    dimension: str
    form: str = QUANTITY
    required: bool = True
    rule: str = "positive"     # positive | non-negative | open-unit | fraction | unit-interval | any
    log_table: bool = False    # interpolate the table in log space (diffusivities)
    choices: tuple[str, ...] = ()
    help: str = ""

    def check(self, value: float) -> str | None:
        """None if `value` obeys the rule, else what was expected."""
        if not math.isfinite(value):
            return "a finite number"
        if self.rule == "positive" and not value > 0:
            return "a value greater than zero"
        if self.rule == "non-negative" and not value >= 0:
            return "a value of zero or more"
        if self.rule == "open-unit" and not 0 < value < 1:
            return "a number strictly between 0 and 1"
        if self.rule == "fraction" and not 0 < value <= 1:
            return "a number greater than 0 and at most 1"
        if self.rule == "unit-interval" and not 0 <= value <= 1:
            return "a number between 0 and 1"
        return None


# The temperatures a material's data hold for, when its file declares none: -50 to 200 degC.
# The library's transport and kinetic values are measured at or near room temperature and
# reach other temperatures only through Arrhenius laws, whose activation energies were
# measured over about -30 to 150 degC (LiPON: -26 to 140 degC, Yu et al. 1997). From 25 degC
# to -50 degC LiPON's 0.55 eV divides its conductivity by 1300, to 200 degC it multiplies it
# by 2700; beyond that the numbers are extrapolations the data cannot support (and at tens
# of kelvin exp(-Ea/RT) underflows: 25 K makes LiPON an insulator of 1e-90 S/cm). A
# material whose data say more (or less) declares its own temperature_range.
DEFAULT_TEMPERATURE_RANGE = (223.15, 473.15)     # K
DEFAULT_TEMPERATURE_SOURCE = (
    "library default (-50 to 200 degC): room-temperature data carried by Arrhenius laws "
    "measured over about -30 to 150 degC (LiPON: -26 to 140 degC, Yu, Bates, Jellison, Hart, "
    "J. Electrochem. Soc. 144 (1997) 524); further out the values are extrapolations the data "
    "cannot support")
_TEMPERATURE_RANGE = Spec("temperature", RANGE, required=False,
                          help="temperatures the data hold for [low, high]; a case outside "
                               "the range of any of its materials is refused")

# Kinetics: an intercalation electrode gives either a constant exchange current density or a
# rate constant k with i0 = F k (c_max - c_s)^alpha_a c_s^alpha_c; a case's choice replaces the
# library's (see load_material).
KINETICS = ("exchange_current_density", "rate_constant")

# The activation energy of each electrode kind's kinetics: an intercalation electrode's
# scales its rate constant (or constant i0), lithium metal's its exchange current density.
KINETIC_ACTIVATION_ENERGY = {"intercalation": "rate_constant_activation_energy",
                             "lithium_metal": "exchange_current_density_activation_energy"}

_DISSOCIATION_HELP = "optional, used by the 'dissociation' electrolyte model"
DISSOCIATION_KEYS = ("lithium_concentration", "mobile_fraction", "cation_diffusivity",
                     "anion_diffusivity", "recombination_rate_constant")
# The electrolyte parameters each model does not read (solver.physics.electrolyte): the
# dissociation model computes its conductivity and t+ from its own five.
UNREAD_BY_MODEL = {
    "single-ion": ("carrier_concentration",) + DISSOCIATION_KEYS,
    "binary": DISSOCIATION_KEYS,
    "dissociation": ("conductivity", "transference_number", "carrier_concentration"),
}

PARAMETERS: dict[str, dict[str, Spec]] = {
    "intercalation": {
        "max_concentration": Spec("concentration", help="c_max, Li sites per volume of the crystal"),
        "active_fraction": Spec("dimensionless", required=False, rule="fraction",
                                help="share of the film's volume that stores Li as the crystal "
                                     "does (film density and utilisation): the film holds "
                                     "active_fraction c_max Li sites per volume"),
        "diffusivity": Spec("diffusivity", QUANTITY_OR_TABLE, log_table=True,
                            help="chemical diffusivity of Li, constant or a table of x"),
        "electronic_conductivity": Spec("conductivity", QUANTITY_OR_TABLE, log_table=True,
                                        help="electronic conductivity of the film, constant "
                                             "or a table of x (LixCoO2: semiconducting near "
                                             "x = 1, metallic when delithiated)"),
        "exchange_current_density": Spec("current_density", required=False,
                                         help="constant i0 (instead of rate_constant)"),
        "rate_constant": Spec("rate_constant", required=False,
                              help="k in i0 = F k (c_max - c_s)^alpha_a c_s^alpha_c"),
        "charge_transfer_coefficient": Spec("dimensionless", rule="open-unit",
                                            help="alpha_a; alpha_c = 1 - alpha_a"),
        "ocv": Spec("voltage", TABLE, help="open-circuit potential vs Li/Li+ of x"),
        "stoichiometry_range": Spec("dimensionless", RANGE, rule="unit-interval",
                                    help="usable [x_min, x_max]"),
        "initial_stoichiometry": Spec("dimensionless", required=False, rule="unit-interval"),
        "initial_voltage": Spec("voltage", required=False,
                                help="default initial state: the x where the OCV vs Li is this"),
        "film_resistance": Spec("area_resistance", required=False, rule="non-negative"),
        "diffusivity_activation_energy": Spec("molar_energy", required=False,
                                              rule="non-negative"),
        "rate_constant_activation_energy": Spec("molar_energy", required=False,
                                                rule="non-negative"),
        "electronic_conductivity_activation_energy": Spec("molar_energy", required=False,
                                                          rule="non-negative"),
        "reference_temperature": Spec("temperature"),
        "temperature_range": _TEMPERATURE_RANGE,
        "double_layer_capacitance": Spec("areal_capacitance", required=False,
                                         rule="non-negative",
                                         help="of the interface with the electrolyte, per "
                                              "interface area; 0 or absent: none"),
        "electron_ion_diffusivity_ratio": Spec(
            "dimensionless", required=False, rule="positive",
            help="D_e / D_Li+ when the film's electrons diffuse like its ions (the ambipolar "
                 "model of Raijmakers et al. 2020): a share 1 / (1 + ratio) of the Li enters "
                 "at the electronic contact; absent: fast electrons, all at the electrolyte "
                 "face (1D cells only)"),
    },
    "electrolyte": {
        "conductivity": Spec("conductivity", help="ionic conductivity at the reference T"),
        "activation_energy": Spec("molar_energy", rule="non-negative"),
        "reference_temperature": Spec("temperature"),
        "transference_number": Spec("dimensionless", rule="fraction", help="t+"),
        "model": Spec("dimensionless", CHOICE, rule="any", choices=ELECTROLYTE_MODELS),
        "carrier_concentration": Spec("concentration", required=False,
                                      help="mobile Li+ (and counter-charge) concentration; "
                                           "used by the 'binary' electrolyte model"),
        "lithium_concentration": Spec("concentration", required=False,
                                      help="total Li (a0); " + _DISSOCIATION_HELP),
        "mobile_fraction": Spec("dimensionless", required=False, rule="open-unit",
                                help="fraction of Li dissociated in equilibrium (delta); "
                                     + _DISSOCIATION_HELP),
        "cation_diffusivity": Spec("diffusivity", required=False,
                                   help="D of Li+; " + _DISSOCIATION_HELP),
        "anion_diffusivity": Spec("diffusivity", required=False,
                                  help="D of the compensating negative carrier; "
                                       + _DISSOCIATION_HELP),
        "recombination_rate_constant": Spec("volumetric_rate_constant", required=False,
                                            help="k_r of Li+ + n- -> Li0; "
                                                 + _DISSOCIATION_HELP),
        "temperature_range": _TEMPERATURE_RANGE,
        "relative_permittivity": Spec("dimensionless", required=False, rule="non-negative",
                                      help="eps_r: the geometric (dielectric) capacitance "
                                           "eps0 eps_r / L; 0 or absent: none"),
        "reduction_potential": Spec("voltage", required=False, rule="non-negative",
                                    help="vs Li/Li+: below it the electrolyte is reduced "
                                         "(e.g. Ti4+ to Ti3+) and conducts electrons, which "
                                         "the model leaves out; a run whose negative electrode "
                                         "goes below it is warned about. Absent: stable down "
                                         "to lithium metal"),
    },
    "lithium_metal": {
        "exchange_current_density": Spec("current_density"),
        "coulombic_efficiency": Spec("dimensionless", required=False, rule="fraction",
                                     help="share of the lithium plated at this interface "
                                          "that stays active (the rest becomes inactive)"),
        "charge_transfer_coefficient": Spec("dimensionless", rule="open-unit"),
        "exchange_current_density_activation_energy": Spec("molar_energy", required=False,
                                                           rule="non-negative"),
        "reference_temperature": Spec("temperature",
                                      help="where exchange_current_density takes its given "
                                           "value"),
        "electronic_conductivity": Spec("conductivity"),
        "density": Spec("density"),
        "molar_mass": Spec("molar_mass"),
        "temperature_range": _TEMPERATURE_RANGE,
        "double_layer_capacitance": Spec("areal_capacitance", required=False,
                                         rule="non-negative",
                                         help="of the interface with the electrolyte, per "
                                              "interface area; 0 or absent: none"),
    },
    "collector": {
        "electronic_conductivity": Spec("conductivity"),
        "temperature_range": _TEMPERATURE_RANGE,
    },
}

# Where a material's value can lie, by dimension (SI): a value outside is a unit mistake or a
# number no material has, and it would break the numbers downstream (1e308 S/m overflows a
# flux to infinity, a Li density of 1e308 writes NaN). Bounds and their reasons:
PLAUSIBLE = {
    "conductivity": (1e-20, 1e9, "from below the best insulators (fused silica, about "
                                 "1e-18 S/m) to above silver (6.3e7 S/m)"),
    "diffusivity": (1e-30, 1e-4, "from less than an atomic distance a year to above "
                                 "diffusion in gases (about 1e-5 m^2/s)"),
    "concentration": (1e-3, 1e6, "up to above the atom density of any solid (diamond: "
                                 "2.9e5 mol/m^3)"),
    "current_density": (1e-12, 1e6, "up to 100 A/cm^2, far above any measured exchange "
                                    "current density"),
    "rate_constant": (1e-30, 1e-3, "up to an exchange current density of about 100 A/cm^2 "
                                   "at solid concentrations"),
    "area_resistance": (0.0, 1.0, "up to 10^4 ohm cm^2"),
    "density": (100.0, 1e5, "from below lithium (534 kg/m^3) to above osmium "
                            "(22 590 kg/m^3)"),
    "molar_mass": (1e-3, 1.0, "from hydrogen to 1 kg/mol"),
    "molar_energy": (0.0, 3e5, "up to about 3 eV (ion-hopping barriers are below 1.5 eV; "
                               "at 3 eV, 75 K of cooling divides a value by e^135)"),
    "temperature": (100.0, 1000.0, "100 to 1000 K"),
    "volumetric_rate_constant": (0.0, 1e3, "up to 1e3 m^3/(mol s), beyond the diffusion "
                                           "limit of ion recombination"),
    "voltage": (0.0, 6.0, "0 to 6 V vs Li/Li+ (no lithium electrode lies outside)"),
}


def plausible(dimension: str, low: float, high: float) -> str | None:
    """None if values from `low` to `high` lie within PLAUSIBLE for the dimension, else what
    is expected."""
    if dimension not in PLAUSIBLE:
        return None
    lo, hi, why = PLAUSIBLE[dimension]
    if low < lo or high > hi:
        return f"a value from {lo:g} to {hi:g} in SI units ({why})"
    return None


# how each dimension is shown to people: (unit label, SI value per shown unit)
DISPLAY_UNITS = {
    "concentration": ("mol/m^3", 1.0),
    "diffusivity": ("cm^2/s", 1e-4),
    "conductivity": ("S/cm", 100.0),
    "current_density": ("mA/cm^2", 10.0),
    "rate_constant": ("m/s", 1.0),
    "area_resistance": ("ohm*cm^2", 1e-4),
    "density": ("g/cm^3", 1000.0),
    "molar_mass": ("g/mol", 1e-3),
    "molar_energy": ("eV", 96485.33212),
    "temperature": ("K", 1.0),
    "voltage": ("V", 1.0),
    "dimensionless": ("", 1.0),
    "volumetric_rate_constant": ("m^3/(mol*s)", 1.0),
    "areal_capacitance": ("uF/cm^2", 1e-2),
}

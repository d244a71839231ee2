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


# Kinetics: an intercalation electrode gives either a constant exchange current density or a
# rate constant k with i0 = F k (c_max - c_s)^alpha_a c_s^alpha_c; a case's choice replaces the
# library's (see load_material).
KINETICS = ("exchange_current_density", "rate_constant")

_DISSOCIATION_HELP = "optional, used by the 'dissociation' electrolyte model"

PARAMETERS: dict[str, dict[str, Spec]] = {
    "intercalation": {
        "max_concentration": Spec("concentration", help="c_max, Li sites per volume"),
        "diffusivity": Spec("diffusivity", QUANTITY_OR_TABLE, log_table=True,
                            help="chemical diffusivity of Li, constant or a table of x"),
        "electronic_conductivity": Spec("conductivity"),
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
        "film_resistance": Spec("area_resistance", required=False, rule="non-negative"),
        "diffusivity_activation_energy": Spec("molar_energy", required=False,
                                              rule="non-negative"),
        "rate_constant_activation_energy": Spec("molar_energy", required=False,
                                                rule="non-negative"),
        "reference_temperature": Spec("temperature"),
        "double_layer_capacitance": Spec("areal_capacitance", required=False,
                                         rule="non-negative",
                                         help="of the interface with the electrolyte, per "
                                              "interface area; 0 or absent: none"),
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
        "relative_permittivity": Spec("dimensionless", required=False, rule="non-negative",
                                      help="eps_r: the geometric (dielectric) capacitance "
                                           "eps0 eps_r / L; 0 or absent: none"),
    },
    "lithium_metal": {
        "exchange_current_density": Spec("current_density"),
        "charge_transfer_coefficient": Spec("dimensionless", rule="open-unit"),
        "electronic_conductivity": Spec("conductivity"),
        "density": Spec("density"),
        "molar_mass": Spec("molar_mass"),
        "double_layer_capacitance": Spec("areal_capacitance", required=False,
                                         rule="non-negative",
                                         help="of the interface with the electrolyte, per "
                                              "interface area; 0 or absent: none"),
    },
    "collector": {
        "electronic_conductivity": Spec("conductivity"),
    },
}

# Dimensions that solver.units does not know; parsed by the materials loader itself.
# name -> (pint unit of the SI value, description)
EXTRA_DIMENSIONS = {
    "volumetric_rate_constant": ("m**3/(mol*s)",
                                 "a second-order rate constant such as '1e-8 m^3/(mol*s)'"),
}

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

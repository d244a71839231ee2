"""Arrhenius temperature dependence: X(T) = X_ref exp(-Ea/R (1/T - 1/T_ref))."""

import numpy as np

from ..units import GAS_CONSTANT


def arrhenius(value_ref, activation_energy, temperature, reference_temperature):
    """Scale a property known at `reference_temperature` (K) to `temperature` (K).

    `activation_energy` is molar (J/mol); a per-particle energy in eV is converted to
    J/mol when the case file is parsed.
    """
    factor = np.exp(-activation_energy / GAS_CONSTANT
                    * (1.0 / temperature - 1.0 / reference_temperature))
    return value_ref * factor

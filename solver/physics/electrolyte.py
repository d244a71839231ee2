"""Solid electrolytes with a mobile counter-charge: the binary and dissociation models.

Both carry Li+ and a compensating negative carrier n- with diffusivities D+ and D-, under
electroneutrality (c+ = c- = c) and dilute Nernst-Planck fluxes (Newman, Electrochemical
Systems, ch. 11-12, for a 1:1 binary electrolyte):

  current        i = -kappa(c) grad phi_e + (2 R T / F) (1 - t+) kappa(c) grad ln c
                 kappa(c) = F^2 / (R T) (D+ + D-) c,    t+ = D+ / (D+ + D-)
  Li+ balance    dc/dt = div(D_amb grad c) + G(c),      D_amb = 2 D+ D- / (D+ + D-)
  at an electrode, the anodic current i puts (1 - t+) i / F of carriers into the electrolyte
  (the rest is carried off by migration); the counter-charge does not cross.

phi_e is the potential a lithium reference electrode would measure. The `binary` model has
no reaction (G = 0). The `dissociation` model of Danilov, Niessen, Notten, J. Electrochem.
Soc. 158 (2011) A215 adds Li0 <-> Li+ + n- with G = k_f (a0 - c) - k_r c^2, in equilibrium
at c0 = delta a0, so k_f = k_r c0^2 / (a0 - c0). With t+ -> 1 both reduce to the single-ion
electrolyte (no concentration change, no diffusion potential).

Unknowns are the normalised concentration theta = c / c0 (c0 the equilibrium carrier
concentration), so that a fresh film has theta = 1 everywhere.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..units import FARADAY, GAS_CONSTANT
from .arrhenius import arrhenius

MODELS = ("binary", "dissociation")


@dataclass(frozen=True)
class CarrierElectrolyte:
    """Transport parameters of a binary or dissociation electrolyte at the case temperature."""
    model: str
    c0: float                 # equilibrium carrier concentration, mol/m^3
    kappa0: float             # conductivity at c0, S/m
    t_plus: float
    d_ambipolar: float        # m^2/s
    beta: float               # 2 R T (1 - t+) / F, V: the diffusion potential per unit ln c
    k_forward: float = 0.0    # 1/s (dissociation)
    k_reverse: float = 0.0    # m^3/(mol s) (dissociation)
    total_lithium: float = 0.0  # a0, mol/m^3 (dissociation)

    def reaction(self, theta):
        """Net dissociation per volume G (mol/m^3/s) and dG/dtheta."""
        if self.model != "dissociation":
            return np.zeros_like(theta), np.zeros_like(theta)
        c = self.c0 * theta
        g = self.k_forward * (self.total_lithium - c) - self.k_reverse * c * c
        dg = -self.c0 * (self.k_forward + 2.0 * self.k_reverse * c)
        return g, dg


def carrier_electrolyte(material, temperature):
    """The binary or dissociation parameters of an electrolyte material, or an InputError
    naming the key that is missing or out of range."""
    name = material.name
    model = material.value("model")

    def need(parameter, why):
        if not material.has(parameter):
            from ..case import MISSING

            raise InputError(f"materials.{name}.{parameter}", MISSING,
                             f"a value (the {model!r} electrolyte model needs {why}; "
                             f"{name} has none: add it under [materials.{name}])")
        return material.value(parameter)

    t_ref = material.value("reference_temperature") if material.has("reference_temperature") \
        else temperature
    ea = material.value("activation_energy") if material.has("activation_energy") else 0.0
    scale = arrhenius(1.0, ea, temperature, t_ref)     # mobilities follow the conductivity
    rt = GAS_CONSTANT * temperature
    if model == "binary":
        t_plus = material.value("transference_number")
        if not t_plus < 1.0:
            raise InputError(f"materials.{name}.transference_number", t_plus,
                             "a transference number below 1 for the binary model (t+ = 1 is "
                             "the single-ion model: set model = 'single-ion')")
        c0 = need("carrier_concentration", "the concentration of mobile Li+")
        kappa0 = material.value("conductivity") * scale
        d_sum = kappa0 * rt / (FARADAY**2 * c0)
        d_plus, d_minus = t_plus * d_sum, (1.0 - t_plus) * d_sum
        extra = {}
    else:
        a0 = need("lithium_concentration", "the total Li concentration a0")
        delta = need("mobile_fraction", "the dissociated fraction delta")
        d_plus = need("cation_diffusivity", "D of Li+") * scale
        d_minus = need("anion_diffusivity", "D of the negative carrier") * scale
        k_r = need("recombination_rate_constant", "the recombination rate constant k_r")
        c0 = delta * a0
        t_plus = d_plus / (d_plus + d_minus)
        kappa0 = FARADAY**2 / rt * (d_plus + d_minus) * c0
        extra = {"k_forward": k_r * c0 * c0 / (a0 - c0), "k_reverse": k_r, "total_lithium": a0}
    return CarrierElectrolyte(
        model=model, c0=c0, kappa0=kappa0, t_plus=t_plus,
        d_ambipolar=2.0 * d_plus * d_minus / (d_plus + d_minus),
        beta=2.0 * rt * (1.0 - t_plus) / FARADAY, **extra)

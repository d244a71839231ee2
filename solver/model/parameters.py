"""Material laws at the case temperature: what the terms evaluate, apart from the topology.

Everything here depends on the case's materials and temperature only, never on the grid's
connectivity, so a fit or a sweep that changes a material parameter re-evaluates these
(`CellModel.update_parameters`) without rebuilding the model: Arrhenius factors, tables as
functions of the stoichiometry, conductivities per layer, electrolyte carrier parameters.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..physics.arrhenius import arrhenius
from ..physics.electrolyte import MODELS as CARRIER_MODELS
from ..physics.electrolyte import carrier_electrolyte
from ..units import VACUUM_PERMITTIVITY


def function_of_x(value):
    """A constant or a Table as one vectorised callable x -> (f(x), df/dx(x))."""
    if callable(value):
        return value.evaluate
    constant = float(value)
    return lambda x: (np.full(np.shape(x), constant), np.zeros(np.shape(x)))


def _scaled(function, factor):
    if factor == 1.0:
        return function
    return lambda x: tuple(factor * v for v in function(x))


def optional(material, name, default):
    return material.value(name) if material.has(name) else default


def _reference_temperature(material, temperature):
    return optional(material, "reference_temperature", temperature)


def check_single_ion(material):
    """A single-ion electrolyte carries all its current by Li+: t+ = 1."""
    t_plus = optional(material, "transference_number", 1.0)
    if t_plus != 1.0:
        raise InputError(f"materials.{material.name}.transference_number", t_plus,
                         "1 for a single-ion electrolyte (for t+ < 1 set model = 'binary')")


def is_carrier_electrolyte(material) -> bool:
    """An electrolyte with a concentration field (binary or dissociation model)."""
    return (material.kind == "electrolyte"
            and optional(material, "model", "single-ion") in CARRIER_MODELS)


def layer_conductivity(material, temperature, carrier=None) -> float:
    """Conductivity of a layer (S/m): electronic for conductors, ionic for electrolytes
    (at c0 for an electrolyte with carriers)."""
    if carrier is not None:
        return carrier.kappa0
    if material.kind == "electrolyte":
        check_single_ion(material)
        return arrhenius(material.value("conductivity"),
                         optional(material, "activation_energy", 0.0), temperature,
                         _reference_temperature(material, temperature))
    return material.value("electronic_conductivity")


@dataclass
class ElectrodeLaws:
    """The material laws of an electrode at the case temperature."""
    ocv: object = None                # x -> (U, dU/dx), intercalation
    diffusivity: object = None        # x -> (D, dD/dx), intercalation
    max_concentration: float = 0.0
    x_range: tuple = (0.0, 1.0)
    density_molar: float = 0.0        # mol/m^3, lithium metal
    rate_constant: float | None = None
    i0_constant: float | None = None
    film_resistance: float = 0.0
    alpha_a: float = 0.5
    alpha_c: float = 0.5
    double_layer_capacitance: float = 0.0   # F/m^2 of interface


def electrode_laws(material, temperature) -> ElectrodeLaws:
    t_ref = _reference_temperature(material, temperature)
    laws = ElectrodeLaws()
    if material.kind == "intercalation":
        laws.ocv = function_of_x(material.value("ocv"))
        factor = arrhenius(1.0, optional(material, "diffusivity_activation_energy", 0.0),
                           temperature, t_ref)
        laws.diffusivity = _scaled(function_of_x(material.value("diffusivity")), factor)
        laws.max_concentration = material.value("max_concentration")
        laws.x_range = tuple(material.value("stoichiometry_range"))
    else:
        laws.density_molar = material.value("density") / material.value("molar_mass")
    kinetic_energy = optional(material, "rate_constant_activation_energy", 0.0)
    if material.has("rate_constant"):
        laws.rate_constant = arrhenius(material.value("rate_constant"), kinetic_energy,
                                       temperature, t_ref)
    else:
        laws.i0_constant = arrhenius(material.value("exchange_current_density"),
                                     kinetic_energy, temperature, t_ref)
    laws.film_resistance = optional(material, "film_resistance", 0.0)
    laws.alpha_a = material.value("charge_transfer_coefficient")
    laws.alpha_c = 1.0 - laws.alpha_a
    laws.double_layer_capacitance = optional(material, "double_layer_capacitance", 0.0)
    return laws


@dataclass
class CellParameters:
    """Everything the terms read that comes from the materials and the temperature."""
    temperature: float
    layer_conductivity: np.ndarray          # S/m per layer
    electrode: dict                         # layer index -> ElectrodeLaws
    carrier: dict                           # layer index -> CarrierElectrolyte
    series_resistance: float = 0.0          # ohm m^2 of footprint (cell.series_resistance)
    layer_permittivity: np.ndarray = None   # F/m per layer: eps0 eps_r of electrolytes, else 0

    @property
    def capacitive(self) -> bool:
        """Whether any interface has a double layer or any electrolyte a permittivity."""
        return (any(laws.double_layer_capacitance > 0 for laws in self.electrode.values())
                or bool(np.any(self.layer_permittivity > 0)))


def cell_parameters(case) -> CellParameters:
    T = case.temperature
    carriers = {k: carrier_electrolyte(layer.material, T)
                for k, layer in enumerate(case.layers) if is_carrier_electrolyte(layer.material)}
    conductivity = np.array([layer_conductivity(layer.material, T, carriers.get(k))
                             for k, layer in enumerate(case.layers)])
    electrodes = {k: electrode_laws(layer.material, T) for k, layer in enumerate(case.layers)
                  if layer.material.kind in ("intercalation", "lithium_metal")}
    permittivity = np.array([VACUUM_PERMITTIVITY * optional(layer.material,
                                                            "relative_permittivity", 0.0)
                             if layer.material.kind == "electrolyte" else 0.0
                             for layer in case.layers])
    return CellParameters(T, conductivity, electrodes, carriers,
                          getattr(case, "series_resistance", 0.0), permittivity)

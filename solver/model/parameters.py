"""Material laws at the case temperature: what the terms evaluate, apart from the topology.

Everything here depends on the case's materials and temperature only, never on the grid's
connectivity, so a fit or a sweep that changes a material parameter re-evaluates these
(`CellModel.update_parameters`) without rebuilding the model: Arrhenius factors, tables as
functions of the stoichiometry, conductivities per layer, electrolyte carrier parameters.
"""

from dataclasses import dataclass

import numpy as np

from ..errors import InputError
from ..materials.schema import KINETIC_ACTIVATION_ENERGY
from ..materials.table import Table
from ..physics.arrhenius import arrhenius
from ..physics.electrolyte import MODELS as CARRIER_MODELS
from ..physics.electrolyte import carrier_electrolyte
from ..units import VACUUM_PERMITTIVITY


def function_of_x(value):
    """A constant or a Table as one vectorised callable x -> (f(x), df/dx(x))."""
    if callable(value):
        return value.evaluate
    constant = float(value)

    def constant_of_x(x):
        shape = np.shape(x)
        return np.full(shape, constant), np.zeros(shape)
    return constant_of_x


def integral_of_x(value):
    """The Kirchhoff transform of a constant or Table f: x -> (integral of f from a fixed
    point to x, f(x)), vectorised."""
    if callable(value):
        return value.integral()
    constant = float(value)

    def linear_in_x(x):
        x = np.asarray(x, dtype=float)
        f = np.empty_like(x)
        f.fill(constant)                # (np.full costs 3x more on a few values)
        return constant * x, f
    return linear_in_x


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


def conductivity_varies(material) -> bool:
    """An intercalation film whose electronic conductivity is a table of x."""
    return (material.kind == "intercalation"
            and callable(material.value("electronic_conductivity")))


def _electronic_arrhenius(material, temperature) -> float:
    return arrhenius(1.0, optional(material, "electronic_conductivity_activation_energy", 0.0),
                     temperature, _reference_temperature(material, temperature))


def electronic_conductivity(material, temperature):
    """x -> (sigma, dsigma/dx) of an intercalation film at `temperature` (S/m): the table
    or constant of the material times its Arrhenius factor."""
    return _scaled(function_of_x(material.value("electronic_conductivity")),
                   _electronic_arrhenius(material, temperature))


def layer_conductivity(material, temperature, carrier=None) -> float:
    """Conductivity of a layer (S/m) where it is one number: electronic for conductors,
    ionic for electrolytes (at c0 for an electrolyte with carriers). NaN for a film whose
    conductivity depends on x: its law is ElectrodeLaws.conductivity."""
    if carrier is not None:
        return carrier.kappa0
    if material.kind == "electrolyte":
        check_single_ion(material)
        return arrhenius(material.value("conductivity"),
                         optional(material, "activation_energy", 0.0), temperature,
                         _reference_temperature(material, temperature))
    if conductivity_varies(material):
        return np.nan
    if material.kind == "intercalation":
        return material.value("electronic_conductivity") * _electronic_arrhenius(material,
                                                                                 temperature)
    return material.value("electronic_conductivity")


@dataclass
class ElectrodeLaws:
    """The material laws of an electrode at the case temperature."""
    ocv: object = None                # x -> (U, dU/dx), intercalation
    diffusivity: object = None        # x -> (D, dD/dx), intercalation
    diffusion: object = None          # x -> (integral of D dx, D): the Kirchhoff transform
    conductivity: object = None       # x -> (sigma, dsigma/dx), S/m, intercalation
    conductivity_varies: bool = False  # sigma is a table of x (else a constant)
    max_concentration: float = 0.0    # Li sites per volume of the film: storage, Fick
    kinetic_concentration: float = 0.0  # c_max of the crystal, in i0 = F k (c_max - c)^a c^a
    x_range: tuple = (0.0, 1.0)
    ocv_domain: tuple = (0.0, 1.0)    # x where the OCV is data (a table's ends), not extrapolated
    density_molar: float = 0.0        # mol/m^3, lithium metal
    coulombic_efficiency: float = 1.0  # lithium metal: plated lithium that stays active
    rate_constant: float | None = None
    i0_constant: float | None = None
    film_resistance: float = 0.0
    alpha_a: float = 0.5
    alpha_c: float = 0.5
    double_layer_capacitance: float = 0.0   # F/m^2 of interface
    electron_ion_diffusivity_ratio: float = np.inf   # D_e / D_Li+ of an ambipolar film

    @property
    def contact_insertion_share(self) -> float:
        """1 / (1 + D_e / D_Li+): the share of the Li an ambipolar film takes in at its
        electronic contact (0 for fast electrons)."""
        return 1.0 / (1.0 + self.electron_ion_diffusivity_ratio)


def electrode_laws(material, temperature) -> ElectrodeLaws:
    t_ref = _reference_temperature(material, temperature)
    laws = ElectrodeLaws()
    if material.kind == "intercalation":
        ocv = material.value("ocv")
        laws.ocv = function_of_x(ocv)
        if isinstance(ocv, Table):
            laws.ocv_domain = ocv.x_range
        factor = arrhenius(1.0, optional(material, "diffusivity_activation_energy", 0.0),
                           temperature, t_ref)
        laws.diffusivity = _scaled(function_of_x(material.value("diffusivity")), factor)
        laws.diffusion = _scaled(integral_of_x(material.value("diffusivity")), factor)
        laws.conductivity = electronic_conductivity(material, temperature)
        laws.conductivity_varies = conductivity_varies(material)
        laws.kinetic_concentration = material.value("max_concentration")
        laws.max_concentration = (optional(material, "active_fraction", 1.0)
                                  * laws.kinetic_concentration)
        laws.x_range = tuple(material.value("stoichiometry_range"))
        if material.has("electron_ion_diffusivity_ratio"):
            laws.electron_ion_diffusivity_ratio = material.value("electron_ion_diffusivity_ratio")
    else:
        laws.density_molar = material.value("density") / material.value("molar_mass")
        laws.coulombic_efficiency = optional(material, "coulombic_efficiency", 1.0)
    kinetic_energy = optional(material, KINETIC_ACTIVATION_ENERGY[material.kind], 0.0)
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
    layer_conductivity: np.ndarray          # S/m per layer whose conductivity is one
                                            # number; NaN for films with a table sigma(x)
                                            # (their law: electrode[k].conductivity)
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

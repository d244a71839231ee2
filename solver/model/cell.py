"""The discrete cell model M du/dt + F(u) = 0: unknowns, terms, assembly, outputs.

Unknowns (solver.model.layout), in this order in u:
  phi   one potential per cell: electronic (phi_s) in conductors, ionic (phi_e) in the
        electrolyte                                                               [V]
  x     Li stoichiometry c / c_max in every cell of an intercalation electrode       [-]
  c     carrier concentration c / c0 in every cell of a binary electrolyte           [-]
  i     Butler-Volmer current density on every electrode | electrolyte face
        (anodic > 0: Li+ leaves the electrode)                                     [A/m^2]
  xs    surface stoichiometry on the faces of intercalation electrodes             [-]
  i_dl  double-layer current density on every interface face (anodic > 0)     [A/m^2]
  v_half  potential of each interface face above its electrolyte cell's centre   [V]
  V     potential of the positive tab (the negative tab is grounded)               [V]

i_dl and v_half exist when the cell has capacitances (a double-layer capacitance on an
electrode or a permittivity of an electrolyte); without them the model is the one before.

Equations, one row per unknown, each written by one term (solver.model.terms): ohm and
electronic_conduction (phi; the latter for films whose sigma depends on x), fick (x),
nernst_planck (c and its layers' phi), butler_volmer (i), surface (xs; ambipolar_insertion
moves a share of an ambipolar film's insertion to its electronic contact), double_layer
(i_dl), dielectric (v_half and the displacement current), drive (V).
"""

from functools import cached_property

import numpy as np
import scipy.sparse as sp

from ..errors import InputError
from .assembly import Assembly
from .layout import Block, Layout
from .parameters import cell_parameters
from .terms.ambipolar import AmbipolarInsertion
from .terms.butler_volmer import ButlerVolmer
from .terms.dielectric import Dielectric
from .terms.double_layer import DoubleLayer
from .terms.drive import Drive
from .terms.electronic_conduction import ElectronicConduction
from .terms.fick import Fick
from .terms.nernst_planck import CarrierHalfCell, NernstPlanck
from .terms.ohm import Ohm
from .terms.series_resistance import SeriesResistance
from .terms.surface import SurfaceHalfCell
from .topology import Topology

SURFACE_LIMIT = 1e-3            # a surface stoichiometry stops this far from x = 0 and 1 at the nearest
SURFACE_TOLERANCE = 0.1 * SURFACE_LIMIT   # and reaches its limits to within this


def cell_layout(topology, capacitive=False) -> Layout:
    g = topology.grid
    layer_of = np.array(g.tag_names, dtype=object)[g.cell_tags]

    def charge(k):
        return f"charge balance of cell {k} in layer '{layer_of[k]}'"

    def mass(k):
        return "Li mass balance in an electrode cell"

    def carriers(k):
        return "carrier balance in a binary electrolyte cell"

    def kinetics(k):
        return "Butler-Volmer current on an interface face"

    def surface(k):
        return "surface stoichiometry on an interface face"

    blocks = [Block("phi", topology.n_cells, "potential", unit="V", describe=charge),
              Block("x", topology.n_x, "dynamic", bounded=True, describe=mass),
              Block("c", topology.n_c, "dynamic", describe=carriers),
              Block("i", topology.n_if, "interface", unit="A/m^2", describe=kinetics),
              Block("xs", topology.n_xs, "interface", bounded=True, describe=surface),
              Block("V", 1, "scalar", unit="V",
                    describe=lambda k: "the drive (applied current or voltage)")]
    if capacitive:
        blocks += [Block("i_dl", topology.n_if, "interface", unit="A/m^2",
                         describe=lambda k: "double-layer current on an interface face"),
                   Block("v_half", topology.n_if, "interface", unit="V",
                         describe=lambda k: "electrolyte half cell at an interface face")]
    return Layout(blocks)


class CellModel:
    """Residual and Jacobian of one cell (a case on a grid) at a given drive and time step.

    Topology attributes (electrodes, units, interfaces, stencils: solver.model.topology)
    are readable on the model itself.
    """

    def __init__(self, case, grid):
        self.case = case
        self.grid = grid
        self.parameters = cell_parameters(case)
        self.topology = Topology(case, grid, self.parameters)
        self.capacitive = self.parameters.capacitive
        self.layout = layout = cell_layout(self.topology, self.capacitive)
        # where the blocks sit in u (read at every step: plain attributes)
        self.s_phi, self.s_x, self.s_c = (layout.slice(b) for b in ("phi", "x", "c"))
        self.s_i, self.s_xs = layout.slice("i"), layout.slice("xs")
        self.s_dl = layout.slice("i_dl")
        self.s_dynamic = layout.group("dynamic")
        self.i_V = layout["V"].start
        self.n_unknowns = layout.n
        self.drive = Drive(self.topology, self.layout)
        self.series = SeriesResistance(self.topology, self.layout, self.parameters)
        self.conduction = ElectronicConduction(self.topology, self.layout, self.parameters)
        terms = [Ohm(self.topology, self.layout, self.parameters), self.conduction,
                 Fick(self.topology, self.layout),
                 ButlerVolmer(self.topology, self.layout, self.parameters,
                              electrolyte_half_cell=not self.capacitive),
                 SurfaceHalfCell(self.topology, self.layout),
                 self.drive, self.series]
        self.ambipolar = None
        if any(e.laws.contact_insertion_share > 0 for e in self.topology.intercalation):
            self.ambipolar = AmbipolarInsertion(self.topology, self.layout)
            terms.append(self.ambipolar)
        if self.topology.carriers:
            terms += [NernstPlanck(self.topology, self.layout, self.parameters),
                      CarrierHalfCell(self.topology, self.layout, self.parameters)]
        if self.capacitive:
            terms += [DoubleLayer(self.topology, self.layout, self.parameters),
                      Dielectric(self.topology, self.layout, self.parameters)]
        self.assembly = Assembly(self.layout, terms, self.topology.if_area)
        self.pattern = self.assembly.pattern
        self.differential_columns = self.assembly.differential_columns
        self._outputs = self.assembly.outputs()

    def __getattr__(self, name):
        topology = self.__dict__.get("topology")
        if topology is None:
            raise AttributeError(name)
        return getattr(topology, name)

    # ---------------------------------------------------------------- unknowns
    @property
    def temperature(self):
        return self.parameters.temperature

    @property
    def differential(self):
        """Unknowns with a time derivative (the columns of the mass matrix)."""
        return self.assembly.differential

    @property
    def mass_matrix(self) -> sp.csr_matrix:
        """M of M du/dt + F(u) = 0 (constant)."""
        return self.assembly.mass_matrix

    def mass_data(self):
        """M as CSR data on `pattern` (for J + j omega M, with J's data at dt_coeff = 0)."""
        return self.assembly.mass_data()

    def describe(self, index) -> str:
        """The equation of row `index`, in words."""
        return self.layout.describe(index)

    def block_layout(self):
        """Where the unknowns sit, for block solvers: bulk (potentials and dynamic unknowns),
        interface (i, xs, and i_dl, v_half with capacitances), V, and for each interface
        unknown its face (the position of its face's current among the i unknowns)."""
        faces = np.arange(self.n_if)
        layout = self.layout
        face_of = np.concatenate([faces, self._xs_faces] + [faces] * (2 if self.capacitive else 0))
        bulk = slice(0, layout.group("dynamic").stop)
        return {"bulk": bulk, "interface": layout.group("interface"), "n_if": self.n_if,
                "face_of": face_of, "V": self.i_V,
                "phi": self.s_phi, "x": self.s_x, "c": self.s_c}

    # ---------------------------------------------------------------- equations
    def residual_and_jacobian(self, u, history, dt_coeff, drive, want_jacobian=True):
        """Residual R(u) = F(u) + M u_dot and its Jacobian's CSR data on `pattern`.

        history:  the part of the time derivative from previous steps, so that
                  du/dt ~ dt_coeff u + history (BDF), given on the differential columns
                  (`differential`, in order), on all of u, or on the stored unknowns
                  `s_dynamic` alone (the capacitive columns' history then 0).
        drive:    ("current", I) with I > 0 on discharge, or ("voltage", V_set).
        """
        columns = self.differential_columns
        u_dot = dt_coeff * u[columns]
        if len(history) == self.n_unknowns:
            u_dot += history[columns]
        elif len(history) == columns.size:
            u_dot += history
        else:                       # on the stored unknowns only (s_dynamic): the rest 0
            stored = (columns >= self.s_dynamic.start) & (columns < self.s_dynamic.stop)
            u_dot[stored] += history
        return self.assembly.evaluate(u, u_dot, dt_coeff, drive, want_jacobian)

    def equilibrium_residual_and_jacobian(self, u, held, drive, want_jacobian=True):
        """Residual and Jacobian of the state whose stoichiometries and concentrations are
        `held`'s and whose capacitances have relaxed: F(u) + M_s (u - held), with M_s the
        storage part of M (so u = held on those unknowns), every capacitive current zero."""
        u_dot = u[self.differential_columns] - held[self.differential_columns]
        return self.assembly.evaluate(u, u_dot, 1.0, drive, want_jacobian, storage_only=True)

    def jacobian_matrix(self, data):
        """The Jacobian as a scipy CSR matrix, from the data `residual_and_jacobian` returns."""
        return sp.csr_matrix((data, self.pattern.indices, self.pattern.indptr),
                             shape=(self.n_unknowns, self.n_unknowns))

    def update_parameters(self, case):
        """Take the material values of `case` (the same cell and grid, other parameters):
        re-evaluates the laws and refreshes the terms; the pattern is kept."""
        parameters = cell_parameters(case)
        for e in self.intercalation:   # a film that conducts by a table has its own faces
            if (parameters.electrode[e.layer].conductivity_varies
                    and e.layer not in self.topology.x_conduction_layers):
                material = case.layers[e.layer].material.name
                raise InputError(f"materials.{material}.electronic_conductivity", "a table",
                                 "a constant, as in the model being updated (a model built "
                                 "with a constant conductivity cannot take a table)")
        if parameters.capacitive and not self.capacitive:
            # a model with capacitances takes them at zero, not one without at nonzero
            raise InputError("materials", "a double-layer capacitance or a permittivity",
                             "none, as in the model being updated (capacitances add "
                             "unknowns: build a new model)")
        for e in self.intercalation:   # an ambipolar film adds rows at its contact
            if (parameters.electrode[e.layer].contact_insertion_share > 0
                    and not (self.ambipolar and self.ambipolar.covers(e))):
                material = case.layers[e.layer].material.name
                raise InputError(f"materials.{material}.electron_ion_diffusivity_ratio",
                                 parameters.electrode[e.layer].electron_ion_diffusivity_ratio,
                                 "no value, as in the model being updated (an ambipolar film "
                                 "adds Jacobian entries: build a new model)")
        for e in self.electrodes:
            e.laws = parameters.electrode[e.layer]
            if e.kind == "intercalation":
                e.initial_x = case.layers[e.layer].initial_stoichiometry
        for derived in ("_surface_limits", "_limits_by_direction"):   # the OCV tables' ends
            self.__dict__.pop(derived, None)
        self.case = case
        self.parameters = parameters
        self.assembly.refresh(parameters)

    # ---------------------------------------------------------------- state
    def initial_state(self):
        """Uniform stoichiometry, zero current, potentials at open circuit (tab - = 0 V)."""
        u = np.zeros(self.n_unknowns)
        levels = self._open_circuit_levels()
        u[self.s_phi] = levels[self.grid.cell_tags]
        for e in self.intercalation:
            u[self.s_x][e.x_slice] = e.initial_x
            u[self.s_xs][e.xs_slice] = e.initial_x
        u[self.s_c] = 1.0                     # carriers at their equilibrium concentration
        tab_layer = 0 if self.positive_tab == "bottom" else len(self.layer_kinds) - 1
        u[self.i_V] = levels[tab_layer]
        return u

    def _open_circuit_levels(self):
        """Potential of each layer at open circuit: conductors share their network's level,
        an electrolyte sits U(electrode) below each of its electrodes; the negative tab is 0."""
        levels = np.zeros(len(self.layer_kinds))
        level = 0.0
        upper = {self.electrodes[n].layer: unit for unit in self.units
                 for n in (unit.negative, unit.positive)
                 if self.electrodes[n].layer > unit.electrolyte_layer}
        lower = {unit.electrolyte_layer: unit for unit in self.units}
        for k in range(len(self.layer_kinds)):
            if k in lower:
                unit = lower[k]
                below = unit.negative if unit.positive_on_top else unit.positive
                level -= self._open_circuit(below)
            elif k in upper:
                unit = upper[k]
                above = unit.positive if unit.positive_on_top else unit.negative
                level += self._open_circuit(above)
            levels[k] = level
        negative_tab_layer = 0 if self.negative_tab == "bottom" else len(levels) - 1
        return levels - levels[negative_tab_layer]

    def _open_circuit(self, n):
        e = self.electrodes[n]
        return e.open_circuit(e.initial_x)

    # ---------------------------------------------------------------- outputs
    def outputs(self, u) -> dict:
        """The named quantities the terms provide, evaluated at u."""
        return {name: f(u) for name, f in self._outputs.items()}

    @property
    def outputs_by_name(self) -> dict:
        """name -> callable(u) of the quantities `outputs` evaluates."""
        return self._outputs

    def voltage(self, u):
        """Terminal voltage of the cell (V): the positive tab's potential less the drop
        across the series resistance."""
        if self.series.resistance == 0.0:
            return float(u[self.i_V])
        return float(u[self.i_V]) - self.series.drop(u)

    def tab_current(self, u):
        """Current leaving the cell through the positive tab (A, > 0 on discharge)."""
        return self.drive.tab_current(u)

    def terminal_potential(self, u, n):
        """Potential on the outer side of electrode n: the area mean over its outer faces of
        the two-point face potential, or its tab's potential."""
        phi = u[self.s_phi]
        kind, *data = self.terminals[n]
        if kind == "node":
            return float(phi[data[0]])
        faces, tab, tab_areas = data
        g = self.grid
        sides = g.face_cells[faces]
        sigma = self.conduction.cell_conductivity(u, sides)
        conductance = g.half_transmissibility[faces] * sigma
        face_phi = (np.sum(conductance * phi[self.node[sides]], axis=1)
                    / np.sum(conductance, axis=1))
        tab_phi = u[self.i_V] if tab == self.positive_tab else 0.0
        areas = g.face_areas[faces]
        total = np.sum(areas) + np.sum(tab_areas)
        return float((np.sum(face_phi * areas) + tab_phi * np.sum(tab_areas)) / total)

    def cell_voltages(self, u):
        """Voltage of each unit cell (positive minus negative terminal potential, V; the
        series resistance is the whole stack's and not in these)."""
        return np.array([self.terminal_potential(u, unit.positive)
                         - self.terminal_potential(u, unit.negative) for unit in self.units])

    def lithium_in_electrodes(self, u):
        """Moles of Li in each intercalation electrode."""
        x = u[self.s_x]
        return {e.name: float(np.sum(e.max_concentration * e.volume * x[self.x_index[e.cells]]))
                for e in self.intercalation}

    def x_columns(self, e):
        """The columns of an intercalation electrode's cell stoichiometries in u."""
        return self._x_columns[e.layer]

    @cached_property
    def _x_columns(self):
        return {e.layer: self.s_x.start + self.x_index[e.cells] for e in self.intercalation}

    def double_layer_charge(self, u):
        """Charge held by the double layers (C, grid unit; 0 without them)."""
        return sum(t.charge(u) for t in self._double_layers)

    @cached_property
    def _double_layers(self):
        return [t for t in self.assembly.terms if t.name == "double_layer"]

    def surfaces_driven_to_limits(self, u, direction=None):
        """(smallest margin of the surfaces the tab current lithiates to their highest x,
        smallest of those it delithiates to their lowest; inf where there are none; the
        limits are surface_limits'). A surface near its limit limits a step only while the
        current drives it further that way: a discharge fills the positive electrodes and
        empties the negative ones, a charge the reverse, a rest neither (a hold or a rest
        after a full charge moves the surfaces back).

        direction: +1 discharge, -1 charge, 0 rest, as a current drive sets it (a rest's tab
        current is zero only to Newton's tolerance, and its sign is noise); None under a held
        voltage, whose current's sign decides."""
        direction = self.driven_direction(u, direction)
        if direction == 0:
            return np.inf, np.inf
        (filling, high), (emptying, low) = self._limits_by_direction[direction > 0]
        xs = u[self.s_xs]
        return (float(np.min(high - xs[filling], initial=np.inf)),
                float(np.min(xs[emptying] - low, initial=np.inf)))

    @cached_property
    def _limits_by_direction(self):
        """Per direction (discharge: True) the surfaces it fills with their highest x and
        those it empties with their lowest (found once: the events ask at every step)."""
        low, high = self.surface_limits()
        positive = self._xs_positive
        return {discharge: ((filling, high[filling]), (~filling, low[~filling]))
                for discharge, filling in ((True, positive), (False, ~positive))}

    def driven_direction(self, u, direction=None):
        """`direction` (+1 discharge, -1 charge, 0 rest), or under a held voltage (None) the
        sign of the tab current in u."""
        if direction is None:
            current = self.tab_current(u)
            direction = 0 if current == 0.0 else (1 if current > 0.0 else -1)
        return direction

    def surface_limits(self):
        """(lowest, highest) x of each surface stoichiometry unknown (_surface_limits)."""
        return self._surface_limits

    @cached_property
    def _surface_limits(self):
        """(lowest, highest) x each surface stoichiometry unknown may reach: the ends of its
        electrode's open-circuit table (beyond them the open-circuit voltage would be the
        table's end slope extended, not data, and the lithium stored there no capacity the
        data vouch for), and no nearer x = 0 or 1 than SURFACE_LIMIT (closer in, the
        exchange current vanishes and each time step costs many Newton iterations). A step
        that drives a surface to one ends: electrode_full or electrode_empty."""
        low, high = np.zeros(self.n_xs), np.ones(self.n_xs)
        for e in self.intercalation:
            table_low, table_high = e.ocv_domain
            low[e.xs_slice] = max(table_low, SURFACE_LIMIT)
            high[e.xs_slice] = min(table_high, 1.0 - SURFACE_LIMIT)
        return low, high

    def surface_margins(self, u, direction, full):
        """(layers, margins): of each intercalation electrode a current of `direction` (+1
        discharge, -1 charge) drives towards its highest x (`full`) or its lowest, how far
        its surface is from there (the end of the step, electrode_full or electrode_empty,
        at the nearest)."""
        toward = [e for e in self.intercalation
                  if (e.layer in self._positive_layers) == ((direction > 0) == full)]
        low, high = self.surface_limits()
        xs = u[self.s_xs]
        margins = [np.min(high[e.xs_slice] - xs[e.xs_slice]) if full
                   else np.min(xs[e.xs_slice] - low[e.xs_slice]) for e in toward]
        return [e.layer for e in toward], np.array(margins)

    @cached_property
    def _positive_layers(self) -> set:
        return {self.electrodes[unit.positive].layer for unit in self.units}

    @cached_property
    def unit_of_layer(self) -> dict:
        """The unit cell (0-based, from the bottom) of each electrode layer."""
        return {self.electrodes[n].layer: k for k, unit in enumerate(self.units)
                for n in (unit.negative, unit.positive)}

    @cached_property
    def _xs_faces(self):
        """The interface face of each surface stoichiometry unknown."""
        faces = np.empty(self.n_xs, dtype=np.int64)
        for e in self.intercalation:
            faces[e.xs_slice] = e.faces
        return faces

    @cached_property
    def _xs_positive(self):
        """Whether each surface stoichiometry unknown is of a positive electrode."""
        flags = np.zeros(self.n_xs, dtype=bool)
        for e in self.intercalation:
            flags[e.xs_slice] = e.layer in self._positive_layers
        return flags

    def interface_current(self, u, electrode):
        """Total anodic current (A) across an electrode's interface."""
        columns, areas = self._interface_columns[electrode.layer]
        return float((u[columns] * areas).sum())

    @cached_property
    def _interface_columns(self):
        """Per electrode (by layer): the columns of its faces' current densities, their areas."""
        return {e.layer: (self.s_i.start + e.faces, self.if_area[e.faces])
                for e in self.electrodes}

"""The discrete cell model: unknowns, residual and analytic Jacobian on any grid.

Unknowns, in this order in the state vector u:
  phi   one potential per cell: electronic (phi_s) in conductors, ionic (phi_e) in the
        electrolyte                                                          [V]
  x     Li stoichiometry c / c_max in every cell of an intercalation electrode  [-]
  i     Butler-Volmer current density on every electrode | electrolyte face
        (anodic > 0: Li+ leaves the electrode)                                [A/m^2]
  xs    surface stoichiometry on the faces of intercalation electrodes        [-]
  V     potential of the positive tab (the negative tab is grounded)          [V]

Equations (finite volumes, two-point fluxes; one row per unknown, same order):
  charge    Ohm: sum of currents leaving each cell = 0                        [A]
  mass      Fick: c_max V dx/dt + sum of Li fluxes leaving = 0                [mol/s]
  kinetics  Butler-Volmer, inverse form: phi_s,f - phi_e,f - U(xs) - i R_film - eta(i) = 0  [V]
  surface   Fick across the half cell: c_max D (x_cell - xs) T_half - i A / F = 0  [mol/s]
  drive     galvanostatic: current into the positive tab = I; potentiostatic: V = V_set
"""

from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .errors import InputError
from .physics.arrhenius import arrhenius
from .operators import (BalanceOperator, boundary_transmissibility, divergence, flux_triplets,
                        region_flux_matrix, transmissibility)
from .physics.electrolyte import MODELS as CARRIER_MODELS
from .physics.electrolyte import carrier_electrolyte
from .physics.kinetics import butler_volmer_overpotential, exchange_current_density
from .sparse import TripletPattern
from .units import FARADAY

ELECTRODE_KINDS = ("intercalation", "lithium_metal")
METAL_KINDS = ("lithium_metal", "collector")


def _function_of_x(value):
    """A constant or a Table as one vectorised callable x -> (f(x), df/dx(x))."""
    if callable(value):
        return value.evaluate
    constant = float(value)
    return lambda x: (np.full(np.shape(x), constant), np.zeros(np.shape(x)))


def _optional(material, name, default):
    return material.value(name) if material.has(name) else default


def _check_single_ion(material):
    """A single-ion electrolyte carries all its current by Li+: t+ = 1."""
    t_plus = _optional(material, "transference_number", 1.0)
    if t_plus != 1.0:
        raise InputError(f"materials.{material.name}.transference_number", t_plus,
                         "1 for a single-ion electrolyte (for t+ < 1 set model = 'binary')")


@dataclass
class CarrierRegion:
    """An electrolyte layer with a concentration field (binary or dissociation model)."""
    layer: int
    params: object               # physics.electrolyte.CarrierElectrolyte
    cells: np.ndarray


@dataclass
class Electrode:
    """An electrode region: its layer, cells, interface faces and material laws."""
    layer: int
    name: str
    kind: str
    cells: np.ndarray            # grid cell ids
    faces: np.ndarray            # interface face positions (indices into the i unknowns)
    ocv: object = None           # x -> (U(x), U'(x))
    diffusivity: object = None   # x -> (D(x), D'(x)) at the case temperature
    max_concentration: float = 0.0
    x_range: tuple = (0.0, 1.0)
    initial_x: float = 0.0
    density_molar: float = 0.0   # mol/m^3 of Li metal
    contact_layer: int = -1      # the layer whose cells touch the electrolyte: the electrode's
                                 # own, or for lithium of zero thickness (an anode-free cell)
                                 # the collector it plates on

    def open_circuit(self, x):
        return float(self.ocv(np.array([x]))[0][0]) if self.kind == "intercalation" else 0.0


@dataclass
class Unit:
    """One electrochemical cell of the stack: an electrolyte layer and its two electrodes
    (positions in CellModel.electrodes)."""
    electrolyte_layer: int
    negative: int
    positive: int
    positive_on_top: bool


class CellModel:
    """Residual and Jacobian of one cell (a case on a grid) at a given drive and time step."""

    def __init__(self, case, grid):
        self.case = case
        self.grid = grid
        self.temperature = case.temperature
        self._classify_regions()
        self._build_conduction()
        self._build_interfaces()
        self._build_terminals()
        self._build_diffusion()
        self._build_layout()
        self._build_pattern()

    # ---------------------------------------------------------------- set-up
    def _classify_regions(self):
        case, grid = self.case, self.grid
        kinds = [layer.material.kind for layer in case.layers]
        self.layer_kinds = kinds
        tags = grid.cell_tags
        self.cell_kind = np.array(kinds, dtype=object)[tags]
        self.is_ionic = np.array([k == "electrolyte" for k in kinds])[tags]
        T = self.temperature
        self.carriers = []
        conductivity = np.empty(len(case.layers))
        for k, layer in enumerate(case.layers):
            m = layer.material
            if m.kind == "electrolyte" and _optional(m, "model", "single-ion") in CARRIER_MODELS:
                params = carrier_electrolyte(m, T)
                self.carriers.append(CarrierRegion(k, params, grid.cells_with_tag(layer.name)))
                conductivity[k] = params.kappa0
            elif m.kind == "electrolyte":
                _check_single_ion(m)
                conductivity[k] = arrhenius(
                    m.value("conductivity"), _optional(m, "activation_energy", 0.0), T,
                    _optional(m, "reference_temperature", T))
            else:
                conductivity[k] = m.value("electronic_conductivity")
        self.layer_conductivity = conductivity
        self.cell_conductivity = conductivity[tags]

        self.electrodes = []
        for k, layer in enumerate(case.layers):
            if layer.material.kind in ELECTRODE_KINDS:
                self.electrodes.append(self._electrode(k, layer))
        self._pair_electrodes(kinds)

    def _pair_electrodes(self, kinds):
        """Unit cells: each electrolyte layer with the nearest electrode below and above it.

        A bipolar stack has several; all face the same way, so the positive tab is on the
        side of the positive electrodes. `self.positive` is the positive electrode at the
        positive tab, through whose interface the applied current is imposed.
        """
        electrode_of_layer = {e.layer: n for n, e in enumerate(self.electrodes)}
        self.units = []
        for k, kind in enumerate(kinds):
            if kind != "electrolyte":
                continue
            below = [j for j in electrode_of_layer if j < k]
            above = [j for j in electrode_of_layer if j > k]
            if not below or not above:
                raise InputError("cell.layers", [l.name for l in self.case.layers],
                                 "an electrode on each side of every electrolyte layer")
            pair = [electrode_of_layer[max(below)], electrode_of_layer[min(above)]]
            ocvs = [self.electrodes[n].open_circuit(self.electrodes[n].initial_x) for n in pair]
            positive = pair[int(np.argmax(ocvs))]
            negative = pair[1 - int(np.argmax(ocvs))]
            self.units.append(Unit(electrolyte_layer=k, negative=negative, positive=positive,
                                   positive_on_top=positive == pair[1]))
        if len(self.electrodes) != 2 * len(self.units):
            raise InputError("cell.layers", [l.name for l in self.case.layers],
                             "two electrodes for every electrolyte layer")
        if len({u.positive_on_top for u in self.units}) > 1:
            raise InputError("cell.layers", [l.name for l in self.case.layers],
                             "unit cells that all face the same way (a series stack)")
        on_top = self.units[0].positive_on_top
        self.positive_tab = "top" if on_top else "bottom"
        self.negative_tab = "bottom" if on_top else "top"
        at_tab = self.units[-1] if on_top else self.units[0]
        self.positive, self.negative = at_tab.positive, at_tab.negative

    def _electrode(self, k, layer):
        m = layer.material
        T = self.temperature
        cells = self.grid.cells_with_tag(layer.name)
        e = Electrode(layer=k, name=layer.name, kind=m.kind, cells=cells, faces=None,
                      contact_layer=k)
        if cells.size == 0:
            e.contact_layer = self._plating_collector(k)
        t_ref = _optional(m, "reference_temperature", T)
        if m.kind == "intercalation":
            e.ocv = _function_of_x(m.value("ocv"))
            d_factor = arrhenius(1.0, _optional(m, "diffusivity_activation_energy", 0.0), T, t_ref)
            d = _function_of_x(m.value("diffusivity"))
            e.diffusivity = (d if d_factor == 1.0 else
                             lambda x, d=d, s=d_factor: tuple(s * v for v in d(x)))
            e.max_concentration = m.value("max_concentration")
            e.x_range = tuple(m.value("stoichiometry_range"))
            e.initial_x = layer.initial_stoichiometry
            self._kinetics_of(e, m, t_ref)
        else:
            e.density_molar = m.value("density") / m.value("molar_mass")
            self._kinetics_of(e, m, t_ref)
        e.film_resistance = _optional(m, "film_resistance", 0.0)
        e.alpha_a = m.value("charge_transfer_coefficient")
        e.alpha_c = 1.0 - e.alpha_a
        return e

    def _plating_collector(self, k):
        """The collector next to a lithium layer of zero thickness (checked by the case)."""
        layers = self.case.layers
        for j in (k - 1, k + 1):
            if 0 <= j < len(layers) and layers[j].material.kind == "collector":
                return j
        raise InputError(f"cell.layers.{layers[k].name}.thickness", 0.0,
                         "a positive thickness, or a collector next to this lithium layer")

    def _kinetics_of(self, e, m, t_ref):
        T = self.temperature
        if m.has("rate_constant"):
            e.rate_constant = arrhenius(m.value("rate_constant"),
                                        _optional(m, "rate_constant_activation_energy", 0.0),
                                        T, t_ref)
            e.i0_constant = None
        else:
            e.rate_constant = None
            e.i0_constant = arrhenius(m.value("exchange_current_density"),
                                      _optional(m, "rate_constant_activation_energy", 0.0),
                                      T, t_ref)

    def _build_metal_nodes(self):
        """One potential per connected piece of metal (collectors and lithium in contact).

        Metals are equipotential at the currents thin films pass, and their conductance
        (1e7 S across a 50 nm Pt cell) would only add round-off: a face current G (phi_a -
        phi_b) carries an error of about G eps |phi|, as large as the 1C current of a 10 uAh
        cell at 12 V, and a floating piece of metal (the bipolar collector of a stack) would
        get no accurate potential at all. So the cells of a piece share its first cell's
        potential (`node`): their Kirchhoff rows are summed into that cell's row, and each
        other cell's row says phi_cell = phi_node.
        """
        g = self.grid
        fc = g.face_cells
        metal = np.isin(self.cell_kind, METAL_KINDS)
        interior = g.interior_faces
        joined = interior[metal[fc[interior, 0]] & metal[fc[interior, 1]]]
        n = g.n_cells
        graph = sp.coo_matrix((np.ones(joined.size), (fc[joined, 0], fc[joined, 1])), shape=(n, n))
        _, piece = connected_components(graph, directed=False)
        first = np.full(piece.max() + 1, n)
        np.minimum.at(first, piece, np.arange(n))
        self.node = np.where(metal, first[piece], np.arange(n))
        self.tied = np.flatnonzero(self.node != np.arange(n))     # cells tied to their node
        self.is_metal = metal

    def _build_conduction(self):
        """Ohm's law on faces inside one conduction network, and at the two tabs."""
        self._build_metal_nodes()
        g = self.grid
        fc = g.face_cells
        node = self.node
        interior = g.interior_faces
        c0, c1 = fc[interior, 0], fc[interior, 1]
        same_network = self.is_ionic[c0] == self.is_ionic[c1]
        same_layer = g.cell_tags[c0] == g.cell_tags[c1]
        within_metal = self.is_metal[c0] & self.is_metal[c1]
        carrier = np.zeros(g.n_cells, dtype=bool)       # their Ohm's law depends on c
        for region in self.carriers:
            carrier[region.cells] = True
        in_carrier = same_layer & carrier[c0]
        inside = interior[same_network & same_layer & ~within_metal & ~in_carrier]  # corrected
        across = interior[same_network & ~same_layer & ~within_metal]  # collector | electrode
        K = (divergence(g, inside) @ sp.diags(self.cell_conductivity[fc[inside, 0]])
             @ region_flux_matrix(g, inside, g.cell_tags)).tocoo()
        rows, cols, vals = flux_triplets(g, across,
                                         transmissibility(g, self.cell_conductivity, across))
        tied = self.tied
        rows = np.concatenate([node[K.row], node[rows], tied, tied])
        cols = np.concatenate([node[K.col], node[cols], tied, node[tied]])
        vals = np.concatenate([K.data, vals, np.ones(tied.size), -np.ones(tied.size)])
        self.tabs = {}
        for side in ("bottom", "top"):
            faces = g.boundary_faces[side]
            cells = fc[faces, 0]
            if np.any(self.is_ionic[cells]):
                raise InputError("cell.layers", side,
                                 "an electrode or a current collector at each tab, not the electrolyte")
            self.tabs[side] = (node[cells],
                               boundary_transmissibility(g, self.cell_conductivity, faces))
        self.conduction_rows, self.conduction_cols, self.conduction_vals = rows, cols, vals
        self.n_cells = g.n_cells

    def _build_interfaces(self):
        """Faces between an electrode cell and an electrolyte cell carry Butler-Volmer."""
        g = self.grid
        fc = g.face_cells
        interior = g.interior_faces
        c0, c1 = fc[interior, 0], fc[interior, 1]
        crossing = self.is_ionic[c0] != self.is_ionic[c1]
        faces = interior[crossing]
        first_is_electrode = ~self.is_ionic[fc[faces, 0]]
        side_e = np.where(first_is_electrode, 0, 1)
        cell_e = fc[faces, side_e]
        cell_l = fc[faces, 1 - side_e]
        electrode_layer = g.cell_tags[cell_e]
        ht = g.half_transmissibility
        ht_e = ht[faces, side_e]
        ht_l = ht[faces, 1 - side_e]
        area = g.face_areas[faces]
        self.if_faces = faces
        self.if_cell_e, self.if_cell_l, self.if_area = cell_e, cell_l, area
        self.if_node_e = self.node[cell_e]         # where the electrode side's charge goes
        self.if_ht_e = ht_e
        self.if_ht_l = ht_l
        # ohmic resistance (times area) of the two half cells between the centres and the face
        self.if_half_cell_resistance = (area / (self.cell_conductivity[cell_e] * ht_e)
                                        + area / (self.cell_conductivity[cell_l] * ht_l))
        self.n_if = faces.size
        for e in self.electrodes:
            e.faces = np.flatnonzero(electrode_layer == e.contact_layer)
            if e.faces.size == 0:
                raise InputError("cell.layers", e.name, "an electrode that touches the electrolyte")
        self.if_film_resistance = np.zeros(self.n_if)
        for e in self.electrodes:
            self.if_film_resistance[e.faces] = e.film_resistance

    def _build_diffusion(self):
        """Fick's law on faces inside each intercalation electrode."""
        g = self.grid
        fc = g.face_cells
        interior = g.interior_faces
        self.intercalation = [e for e in self.electrodes if e.kind == "intercalation"]
        x_index = -np.ones(g.n_cells, dtype=np.int64)
        offset = 0
        for e in self.intercalation:
            x_index[e.cells] = offset + np.arange(e.cells.size)
            e.x_slice = slice(offset, offset + e.cells.size)
            offset += e.cells.size
        self.n_x = offset
        self.x_index = x_index
        for e in self.intercalation:
            in_e = np.isin(fc[interior], e.cells).all(axis=1)
            f = interior[in_e]
            e.diff_a = x_index[fc[f, 0]]
            e.diff_b = x_index[fc[f, 1]]
            # F x = T (x_a - x_b) + C x on each face, in the electrode's own x numbering
            F = region_flux_matrix(g, f, g.cell_tags)[:, e.cells].tocoo()
            e.diff_face, e.diff_col = F.row, x_index[e.cells][F.col]
            e.diff_operator = sp.csr_matrix((F.data, (F.row, e.diff_col)),
                                            shape=(f.size, offset))
            e.diff_weight = F.data
            e.volume = g.cell_volumes[e.cells]
        xs_offset = 0
        for e in self.intercalation:
            e.xs_slice = slice(xs_offset, xs_offset + e.faces.size)
            xs_offset += e.faces.size
        self.n_xs = xs_offset

    def _build_carriers(self):
        """Indices and flux stencils of the carrier concentration in each binary electrolyte."""
        g = self.grid
        fc = g.face_cells
        interior = g.interior_faces
        offset = 0
        for r in self.carriers:
            local = -np.ones(g.n_cells, dtype=np.int64)
            local[r.cells] = np.arange(r.cells.size)
            r.slice = slice(offset, offset + r.cells.size)       # within the c unknowns
            offset += r.cells.size
            f = interior[np.isin(fc[interior], r.cells).all(axis=1)]
            W = region_flux_matrix(g, f, g.cell_tags)[:, r.cells].tocoo()
            r.operator = sp.csr_matrix((W.data, (W.row, W.col)), shape=(f.size, r.cells.size))
            r.w_face, r.w_col, r.w = W.row, W.col, W.data
            r.fa, r.fb = local[fc[f, 0]], local[fc[f, 1]]
            r.volume = g.cell_volumes[r.cells]
            on_face = np.isin(self.if_cell_l, r.cells)
            r.if_faces = np.flatnonzero(on_face)                  # interface faces it touches
            r.if_local = local[self.if_cell_l[r.if_faces]]
            # the half cell between the electrolyte cell centre and the interface: its
            # resistance at c0 and the rise of theta per unit current density across it
            # (the flux condition D c0 dtheta/dn = (1 - t+) i / F)
            distance = self.if_area[r.if_faces] / self.if_ht_l[r.if_faces]
            r.if_resistance = distance / r.params.kappa0
            r.if_gamma = (1.0 - r.params.t_plus) * distance / (
                FARADAY * r.params.d_ambipolar * r.params.c0)
        self.n_c = offset
        # per interface face: which electrode's alpha_a raises the carrier activity in i0
        self.if_alpha_a = np.zeros(self.n_if)
        for e in self.electrodes:
            self.if_alpha_a[e.faces] = e.alpha_a

    def _build_layout(self):
        self._build_carriers()
        n, nx, nc, ni, nxs = self.n_cells, self.n_x, self.n_c, self.n_if, self.n_xs
        self.s_phi = slice(0, n)
        self.s_x = slice(n, n + nx)
        self.s_c = slice(n + nx, n + nx + nc)
        self.s_dynamic = slice(n, n + nx + nc)         # unknowns with a time derivative
        start = n + nx + nc
        self.s_i = slice(start, start + ni)
        self.s_xs = slice(start + ni, start + ni + nxs)
        self.i_V = start + ni + nxs
        self.n_unknowns = self.i_V + 1
        self.differential = np.zeros(self.n_unknowns, dtype=bool)
        self.differential[self.s_dynamic] = True
        for r in self.carriers:
            r.unknowns = self.s_c.start + np.arange(r.slice.start, r.slice.stop)

    def _build_pattern(self):
        """All (row, col) pairs the Jacobian can fill, in the order `jacobian_values` emits."""
        rows, cols = [self.conduction_rows], [self.conduction_cols]
        n = self.n_cells
        # tabs: charge rows of the tab cells; the positive tab couples to V
        pos_cells, _ = self.tabs[self.positive_tab]
        neg_cells, _ = self.tabs[self.negative_tab]
        rows += [pos_cells, pos_cells, neg_cells]
        cols += [pos_cells, np.full_like(pos_cells, self.i_V), neg_cells]
        # interface current in the charge rows
        i_cols = self.s_i.start + np.arange(self.n_if)
        rows += [self.if_node_e, self.if_cell_l]
        cols += [i_cols, i_cols]
        # mass rows
        for e in self.intercalation:
            xa = n + e.diff_a
            xb = n + e.diff_b
            rows += [xa, xa, xb, xb]
            cols += [xa, xb, xa, xb]
            rows += [xa[e.diff_face], xb[e.diff_face]]
            cols += [n + e.diff_col, n + e.diff_col]
            xc = n + self.x_index[e.cells]
            rows += [xc]
            cols += [xc]
            xe = n + self.x_index[self.if_cell_e[e.faces]]
            rows += [xe]
            cols += [i_cols[e.faces]]
        # kinetics rows: phi_e-side, phi_l-side, i, (xs)
        rows += [i_cols, i_cols, i_cols]
        cols += [self.if_node_e, self.if_cell_l, i_cols]
        for e in self.intercalation:
            xs_cols = self.s_xs.start + np.arange(e.xs_slice.start, e.xs_slice.stop)
            rows += [i_cols[e.faces]]
            cols += [xs_cols]
            # surface rows: x_cell, xs, i
            xe = n + self.x_index[self.if_cell_e[e.faces]]
            rows += [xs_cols, xs_cols, xs_cols]
            cols += [xe, xs_cols, i_cols[e.faces]]
        # drive row: the current through the positive electrode's interface, or V
        pos_faces = self.electrodes[self.positive].faces
        rows += [np.full(pos_faces.size, self.i_V), [self.i_V]]
        cols += [i_cols[pos_faces], [self.i_V]]
        for r in self.carriers:
            cells, th = r.cells, r.unknowns
            a, b = r.fa[r.w_face], r.fb[r.w_face]
            # charge rows: phi stencil, ln c stencil, the face conductivity's c
            rows += [cells[a], cells[b], cells[a], cells[b]]
            cols += [cells[r.w_col], cells[r.w_col], th[r.w_col], th[r.w_col]]
            rows += [cells[r.fa], cells[r.fa], cells[r.fb], cells[r.fb]]
            cols += [th[r.fa], th[r.fb], th[r.fa], th[r.fb]]
            # carrier rows: diffusion stencil, storage and reaction, interface source
            rows += [th[a], th[b], th, th[r.if_local]]
            cols += [th[r.w_col], th[r.w_col], th, i_cols[r.if_faces]]
            # kinetics rows: the carrier activity in i0
            rows += [i_cols[r.if_faces]]
            cols += [th[r.if_local]]
        rows = np.concatenate([np.asarray(r, dtype=np.int64) for r in rows])
        cols = np.concatenate([np.asarray(c, dtype=np.int64) for c in cols])
        self.pattern = TripletPattern(rows, cols, (self.n_unknowns, self.n_unknowns))
        self.conduction_matrix = BalanceOperator(sp.csr_matrix(
            (self.conduction_vals, (self.conduction_rows, self.conduction_cols)), shape=(n, n)))

    def block_layout(self):
        """Where the unknowns sit, for block solvers: bulk (phi, x), interface (i, xs), V,
        and for each xs unknown the position of its face's current among the i unknowns."""
        xs_face = np.empty(self.n_xs, dtype=np.int64)
        for e in self.intercalation:
            xs_face[e.xs_slice] = e.faces
        return {"bulk": slice(0, self.s_c.stop), "interface": slice(self.s_i.start, self.s_xs.stop),
                "n_if": self.n_if, "xs_face": xs_face, "V": self.i_V,
                "phi": self.s_phi, "x": self.s_x, "c": self.s_c}

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

    def _build_terminals(self):
        """Where each unit cell's voltage is read: the faces on the outer side of each
        electrode (towards the next cell or the tab), so that the cells of a stack add up to
        the stack voltage exactly; a plating collector (anode-free) is read as a whole."""
        g = self.grid
        fc = g.face_cells
        interior = g.interior_faces
        tags = g.cell_tags
        self.terminals = {}
        for unit in self.units:
            for n in (unit.negative, unit.positive):
                e = self.electrodes[n]
                upward = e.layer > unit.electrolyte_layer
                if e.cells.size == 0:
                    self.terminals[n] = ("node", self.node[self.potential_cells(e)[0]])
                    continue
                in0 = np.isin(fc[interior, 0], e.cells)
                in1 = np.isin(fc[interior, 1], e.cells)
                other = np.where(in0, fc[interior, 1], fc[interior, 0])
                outward = tags[other] > e.layer if upward else tags[other] < e.layer
                faces = interior[(in0 != in1) & outward & ~self.is_ionic[other]]
                sides = fc[faces]
                conductance = g.half_transmissibility[faces] * self.cell_conductivity[sides]
                tab = "top" if upward else "bottom"
                tab_faces = g.boundary_faces[tab]
                at_tab = np.isin(fc[tab_faces, 0], e.cells)
                self.terminals[n] = ("faces", self.node[sides], conductance, g.face_areas[faces],
                                     tab, g.face_areas[tab_faces[at_tab]])

    def potential_cells(self, e):
        """Cells whose potential is the electrode's: its own, or the collector it plates on."""
        return e.cells if e.cells.size else self.grid.cells_with_tag(
            self.case.layers[e.contact_layer].name)

    def terminal_potential(self, u, n):
        """Potential on the outer side of electrode n: the area mean over its outer faces of
        the two-point face potential, or its tab's potential."""
        phi = u[self.s_phi]
        kind, *data = self.terminals[n]
        if kind == "node":
            return float(phi[data[0]])
        sides, conductance, areas, tab, tab_areas = data
        face_phi = np.sum(conductance * phi[sides], axis=1) / np.sum(conductance, axis=1)
        tab_phi = u[self.i_V] if tab == self.positive_tab else 0.0
        total = np.sum(areas) + np.sum(tab_areas)
        return float((np.sum(face_phi * areas) + tab_phi * np.sum(tab_areas)) / total)

    def cell_voltages(self, u):
        """Voltage of each unit cell (positive minus negative terminal potential, V)."""
        return np.array([self.terminal_potential(u, unit.positive)
                         - self.terminal_potential(u, unit.negative) for unit in self.units])

    # ---------------------------------------------------------------- equations
    def residual_and_jacobian(self, u, history, dt_coeff, drive, want_jacobian=True):
        """Residual R(u) and Jacobian dR/du.

        history:  the part of the time derivative from previous steps, so that
                  dx/dt ~ dt_coeff * x + history (BDF); per x unknown.
        drive:    ("current", I) with I > 0 on discharge, or ("voltage", V_set).
        """
        n = self.n_cells
        phi = u[self.s_phi]
        x = u[self.s_x]
        i = u[self.s_i]
        xs = u[self.s_xs]
        V = u[self.i_V]
        R = np.empty_like(u)
        vals = [self.conduction_vals]

        # charge conservation (Ohm)
        r_phi = self.conduction_matrix @ phi
        pos_cells, pos_g = self.tabs[self.positive_tab]
        neg_cells, neg_g = self.tabs[self.negative_tab]
        r_phi += np.bincount(pos_cells, pos_g * (phi[pos_cells] - V), minlength=n)
        r_phi += np.bincount(neg_cells, neg_g * phi[neg_cells], minlength=n)
        vals += [pos_g, -pos_g, neg_g]
        current = i * self.if_area
        r_phi += np.bincount(self.if_node_e, current, minlength=n)
        r_phi -= np.bincount(self.if_cell_l, current, minlength=n)
        vals += [self.if_area, -self.if_area]
        R[self.s_phi] = r_phi

        # Li mass conservation (Fick)
        r_x = R[self.s_x]
        r_x[:] = 0.0
        nx = self.n_x
        for e in self.intercalation:
            cmax = e.max_concentration
            xa, xb = x[e.diff_a], x[e.diff_b]
            xm = 0.5 * (xa + xb)
            D, dD = e.diffusivity(xm)
            difference = e.diff_operator @ x              # T (x_a - x_b) + C x
            flux = cmax * D * difference
            r_x += np.bincount(e.diff_a, flux, minlength=nx)
            r_x -= np.bincount(e.diff_b, flux, minlength=nx)
            # D(x_mean) depends on x_a and x_b; the difference on its whole stencil
            d_mean = 0.5 * cmax * dD * difference
            vals += [d_mean, d_mean, -d_mean, -d_mean]
            stencil = cmax * D[e.diff_face] * e.diff_weight
            vals += [stencil, -stencil]
            xc = self.x_index[e.cells]
            storage = cmax * e.volume
            r_x[xc] += storage * (dt_coeff * x[xc] + history[xc])
            vals += [storage * dt_coeff]
            xe = self.x_index[self.if_cell_e[e.faces]]
            r_x += np.bincount(xe, current[e.faces] / FARADAY, minlength=nx)
            vals += [self.if_area[e.faces] / FARADAY]

        # Butler-Volmer (inverse form), per electrode; next to a binary electrolyte i0 carries
        # the carrier activity (c / c0)^alpha_a
        r_i = R[self.s_i]
        ohmic = self.if_half_cell_resistance + self.if_film_resistance
        d_di = np.empty(self.n_if)
        d_dxs_parts = []
        activity = np.ones(self.n_if)
        half_cells = [self._carrier_half_cell(r, u, activity) for r in self.carriers]
        d_dactivity = np.zeros(self.n_if)       # d(residual)/d(ln activity) / alpha_a
        for e in self.electrodes:
            f = e.faces
            if e.kind == "intercalation":
                s = xs[e.xs_slice]
                U, dU = e.ocv(s)
                if e.rate_constant is not None:
                    i0, di0 = exchange_current_density(s, e.rate_constant, e.max_concentration,
                                                       e.alpha_a, e.alpha_c)
                else:
                    i0, di0 = np.full(f.size, e.i0_constant), np.zeros(f.size)
            else:
                U = dU = 0.0
                i0, di0 = np.full(f.size, e.i0_constant), np.zeros(f.size)
            i0, di0 = i0 * activity[f], di0 * activity[f]
            eta, deta_di, deta_di0 = butler_volmer_overpotential(i[f], i0, e.alpha_a, e.alpha_c,
                                                                 self.temperature)
            d_dactivity[f] = -deta_di0 * i0
            r_i[f] = (phi[self.if_node_e[f]] - phi[self.if_cell_l[f]] - ohmic[f] * i[f]
                      - U - eta)
            d_di[f] = -ohmic[f] - deta_di
            if e.kind == "intercalation":
                d_dxs_parts.append(-dU - deta_di0 * di0)
        for r, (extra, d_extra_di, _, theta_s) in zip(self.carriers, half_cells):
            f = r.if_faces
            r_i[f] -= extra
            d_di[f] += -d_extra_di + d_dactivity[f] * self.if_alpha_a[f] * r.if_gamma / theta_s
        vals += [np.ones(self.n_if), -np.ones(self.n_if), d_di]

        # surface concentration (Fick across the half cell next to the interface)
        r_xs = R[self.s_xs]
        for e, d_dxs in zip(self.intercalation, d_dxs_parts):
            f = e.faces
            cmax = e.max_concentration
            xc = x[self.x_index[self.if_cell_e[f]]]
            s = xs[e.xs_slice]
            xm = 0.5 * (xc + s)
            D, dD = e.diffusivity(xm)
            g = cmax * self.if_ht_e[f]
            r_xs[e.xs_slice] = g * D * (xc - s) - current[f] / FARADAY
            vals += [d_dxs,
                     g * (D + 0.5 * dD * (xc - s)),
                     g * (-D + 0.5 * dD * (xc - s)),
                     -self.if_area[f] / FARADAY]

        # drive. The tab current is imposed through the positive electrode's interface
        # current, equal to it by charge conservation in the electronic network; written
        # through the tab conductance instead, a metal collector (1e11 S and more across a
        # thin cell) would leave the current to round-off.
        kind, value = drive
        pos_faces = self.electrodes[self.positive].faces
        if kind == "current":
            R[self.i_V] = -np.sum(current[pos_faces]) - value
            vals += [-self.if_area[pos_faces], [0.0]]
        else:
            R[self.i_V] = V - value
            vals += [np.zeros(pos_faces.size), [1.0]]
        if self.carriers:
            R[self.s_c] = 0.0
            for r, half_cell in zip(self.carriers, half_cells):
                vals += self._carrier_terms(r, u, R, history, dt_coeff, current, d_dactivity,
                                            half_cell)
        if not want_jacobian:
            return R, None
        return R, self.pattern.fill(np.concatenate(vals))

    def _carrier_half_cell(self, r, u, activity):
        """The electrolyte half cell of each interface face of a binary electrolyte: the
        potential step between the cell centre and the face beyond the ohmic drop at c0
        that the kinetics row already has,
            phi_face - phi_cell = i d / (kappa0 theta_mean) + beta ln(theta_s / theta_cell),
        with the surface value theta_s = theta_cell + gamma i from the flux condition, and
        the carrier activity theta_s^alpha_a of i0 into `activity`. Returns that extra step,
        its derivatives in i and theta_cell, and theta_s."""
        f = r.if_faces
        i = u[self.s_i][f]
        theta_l = u[self.s_c][r.slice][r.if_local]
        theta_s = theta_l + r.if_gamma * i
        theta_m = 0.5 * (theta_l + theta_s)
        beta, rl = r.params.beta, r.if_resistance
        extra = i * rl * (1.0 / theta_m - 1.0) + beta * np.log(theta_s / theta_l)
        activity[f] = theta_s ** self.if_alpha_a[f]
        d_extra_di = (rl * (1.0 / theta_m - 1.0) - 0.5 * i * rl * r.if_gamma / theta_m**2
                      + beta * r.if_gamma / theta_s)
        d_extra_dtheta = -i * rl / theta_m**2 + beta * (1.0 / theta_s - 1.0 / theta_l)
        return extra, d_extra_di, d_extra_dtheta, theta_s

    def _carrier_terms(self, r, u, R, history, dt_coeff, current, d_dactivity, half_cell):
        """Nernst-Planck in a binary electrolyte (see physics.electrolyte): adds its charge
        and carrier residuals to R, returns its Jacobian values in pattern order."""
        p = r.params
        phi = u[self.s_phi][r.cells]
        theta = u[self.s_c][r.slice]
        a, b = r.fa[r.w_face], r.fb[r.w_face]
        # Ohm with the diffusion potential: I = kappa0 theta_f (F phi - beta F ln theta)
        theta_f = 0.5 * (theta[r.fa] + theta[r.fb])
        drive = r.operator @ phi - p.beta * (r.operator @ np.log(theta))
        flux = p.kappa0 * theta_f * drive
        R[self.s_phi][r.cells] += (np.bincount(r.fa, flux, minlength=r.cells.size)
                                   - np.bincount(r.fb, flux, minlength=r.cells.size))
        k_w = p.kappa0 * theta_f[r.w_face] * r.w
        k_ln = -p.beta * k_w / theta[r.w_col]
        k_t = 0.5 * p.kappa0 * drive
        # carriers: c0 V dtheta/dt + sum of diffusive fluxes - V G - (1 - t+) i A / F = 0
        th = R[self.s_c][r.slice]
        diffusion = p.c0 * p.d_ambipolar
        th += diffusion * (np.bincount(r.fa, r.operator @ theta, minlength=r.cells.size)
                           - np.bincount(r.fb, r.operator @ theta, minlength=r.cells.size))
        dynamic = self.n_x + np.arange(r.slice.start, r.slice.stop)
        g, dg = p.reaction(theta)
        th += p.c0 * r.volume * (dt_coeff * theta + history[dynamic]) - r.volume * g
        source = (1.0 - p.t_plus) / FARADAY
        th -= np.bincount(r.if_local, source * current[r.if_faces], minlength=r.cells.size)
        d_w = diffusion * r.w
        _, _, d_extra_dtheta, theta_s = half_cell
        alpha = self.if_alpha_a[r.if_faces]
        kinetic = -d_extra_dtheta + d_dactivity[r.if_faces] * alpha / theta_s
        return [k_w, -k_w, k_ln, -k_ln, k_t, k_t, -k_t, -k_t,
                d_w, -d_w, p.c0 * r.volume * dt_coeff - r.volume * dg,
                -source * self.if_area[r.if_faces], kinetic]

    def jacobian_matrix(self, data):
        """The Jacobian as a scipy CSR matrix, from the data `residual_and_jacobian` returns."""
        return sp.csr_matrix((data, self.pattern.indices, self.pattern.indptr),
                             shape=(self.n_unknowns, self.n_unknowns))

    # ---------------------------------------------------------------- outputs
    def tab_current(self, u):
        """Current leaving the cell through the positive tab (A, > 0 on discharge): the
        cathodic current of the positive electrode, which charge conservation makes equal."""
        faces = self.electrodes[self.positive].faces
        return float(-np.sum(u[self.s_i][faces] * self.if_area[faces]))

    def lithium_in_electrodes(self, u):
        """Moles of Li in each intercalation electrode."""
        x = u[self.s_x]
        return {e.name: float(np.sum(e.max_concentration * e.volume * x[self.x_index[e.cells]]))
                for e in self.intercalation}

    def interface_current(self, u, electrode):
        """Total anodic current (A) across an electrode's interface."""
        return float(np.sum(u[self.s_i][electrode.faces] * self.if_area[electrode.faces]))

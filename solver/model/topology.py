"""Where the physics lives on the grid: regions, metal pieces, interfaces, unit cells, and the
flux stencils of each region. Built once per grid; no material values in here except the
open-circuit voltages that tell the positive electrode of each unit cell from the negative.
"""

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from ..errors import InputError
from ..operators import divergence, region_flux_matrix
from .parameters import ElectrodeLaws, is_carrier_electrolyte

ELECTRODE_KINDS = ("intercalation", "lithium_metal")
METAL_KINDS = ("lithium_metal", "collector")


@dataclass
class Electrode:
    """An electrode region: its layer, cells and interface faces; its material laws
    (`laws`, re-evaluated when parameters change) are read through it as attributes."""
    layer: int
    name: str
    kind: str
    cells: np.ndarray            # grid cell ids
    contact_layer: int           # the layer whose cells touch the electrolyte: the electrode's
                                 # own, or for lithium of zero thickness (an anode-free cell)
                                 # the collector it plates on
    initial_x: float = 0.0
    laws: ElectrodeLaws = field(default_factory=ElectrodeLaws)
    faces: np.ndarray = None     # interface face positions (indices into the i unknowns)
    x_slice: slice = None            # its cells among the x unknowns
    xs_slice: slice = None           # its faces among the xs unknowns
    volume: np.ndarray = None        # volumes of its cells
    stencil: object = None           # DiffusionStencil (intercalation)

    def __getattr__(self, name):
        laws = self.__dict__.get("laws")
        if laws is not None and hasattr(laws, name):
            return getattr(laws, name)
        raise AttributeError(name)

    def open_circuit(self, x):
        return float(self.ocv(np.array([x]))[0][0]) if self.kind == "intercalation" else 0.0


@dataclass
class Unit:
    """One electrochemical cell of the stack: an electrolyte layer and its two electrodes
    (positions in Topology.electrodes)."""
    electrolyte_layer: int
    negative: int
    positive: int
    positive_on_top: bool


def stencil_differences(face, col, weight, a_of_entry, u, n_faces):
    """F u on each face as sum_j F_fj (u_j - u_a(f)): a flux stencil's rows sum to zero (a
    uniform u carries no flux), so this equals F u, but each term is a difference of
    neighbouring values, exact to their size where F u's products carry a round-off of
    eps |F| |u| (potentials of tens of volts in a stack against currents of picoamperes).
    a_of_entry: a(f) of each entry's face f (a_of_face[face])."""
    return np.bincount(face, weight * (u[col] - u[a_of_entry]), minlength=n_faces)


@dataclass
class FluxStencil:
    """F u = T (u_a - u_b) + C u on the faces inside one region, in the region's own
    numbering of its cells: `a`, `b` the two cells of each face, `operator` the sparse
    (faces x cells) F, and its entries (face, col, weight)."""
    a: np.ndarray
    b: np.ndarray
    operator: sp.csr_matrix
    face: np.ndarray
    col: np.ndarray
    weight: np.ndarray

    def flux(self, u):
        """F u on each face, in difference form (stencil_differences)."""
        return stencil_differences(self.face, self.col, self.weight, self.a_of_entry, u,
                                   self.a.size)

    @cached_property
    def a_of_entry(self):
        return self.a[self.face]
    faces: np.ndarray = None        # the grid's face ids, in the stencil's face order


def region_stencil(grid, cells, numbering, n_columns):
    """The flux stencil of the faces whose two cells are both in `cells`."""
    fc = grid.face_cells
    interior = grid.interior_faces
    faces = interior[np.isin(fc[interior], cells).all(axis=1)]
    F = region_flux_matrix(grid, faces, grid.cell_tags)[:, cells].tocoo()
    col = numbering[cells][F.col]
    return FluxStencil(a=numbering[fc[faces, 0]], b=numbering[fc[faces, 1]],
                       operator=sp.csr_matrix((F.data, (F.row, col)), shape=(faces.size, n_columns)),
                       face=F.row, col=col, weight=F.data, faces=faces)


@dataclass
class CarrierRegion:
    """An electrolyte layer with a concentration field (binary or dissociation model)."""
    layer: int
    cells: np.ndarray
    slice: slice = None             # its cells among the c unknowns
    stencil: FluxStencil = None     # in the region's own numbering
    volume: np.ndarray = None
    if_faces: np.ndarray = None     # interface faces it touches (positions among i)
    if_local: np.ndarray = None     # their electrolyte cells, in the region's numbering
    if_distance: np.ndarray = None  # cell centre to face (area / half transmissibility)


class Topology:
    """Regions, interfaces and stencils of a case on a grid."""

    def __init__(self, case, grid, parameters):
        self.case = case
        self.grid = grid
        kinds = [layer.material.kind for layer in case.layers]
        self.layer_kinds = kinds
        tags = grid.cell_tags
        self.n_cells = grid.n_cells
        self.cell_kind = np.array(kinds, dtype=object)[tags]
        self.is_ionic = np.array([k == "electrolyte" for k in kinds])[tags]
        self.carriers = [CarrierRegion(k, grid.cells_with_tag(layer.name))
                         for k, layer in enumerate(case.layers)
                         if is_carrier_electrolyte(layer.material)]
        self.electrodes = [self._electrode(k, layer, parameters.electrode[k])
                           for k, layer in enumerate(case.layers)
                           if layer.material.kind in ELECTRODE_KINDS]
        self._pair_electrodes()
        self._metal_nodes()
        self._interfaces()
        self._terminals()
        self._diffusion()
        self._carriers()

    # ------------------------------------------------------------ electrodes and units
    def _electrode(self, k, layer, laws):
        cells = self.grid.cells_with_tag(layer.name)
        contact = k if cells.size else self._plating_collector(k)
        return Electrode(layer=k, name=layer.name, kind=layer.material.kind, cells=cells,
                         contact_layer=contact, laws=laws,
                         initial_x=(layer.initial_stoichiometry
                                    if layer.material.kind == "intercalation" else 0.0))

    def _plating_collector(self, k):
        """The collector next to a lithium layer of zero thickness (checked by the case)."""
        layers = self.case.layers
        for j in (k - 1, k + 1):
            if 0 <= j < len(layers) and layers[j].material.kind == "collector":
                return j
        raise InputError(f"cell.layers.{layers[k].name}.thickness", 0.0,
                         "a positive thickness, or a collector next to this lithium layer")

    def _pair_electrodes(self):
        """Unit cells: each electrolyte layer with the nearest electrode below and above it.

        A bipolar stack has several; all face the same way, so the positive tab is on the
        side of the positive electrodes. `positive` is the positive electrode at the
        positive tab, through whose interface the applied current is imposed.
        """
        layers = self.case.layers
        electrode_of_layer = {e.layer: n for n, e in enumerate(self.electrodes)}
        self.units = []
        for k, kind in enumerate(self.layer_kinds):
            if kind != "electrolyte":
                continue
            below = [j for j in electrode_of_layer if j < k]
            above = [j for j in electrode_of_layer if j > k]
            if not below or not above:
                raise InputError("cell.layers", [layer.name for layer in layers],
                                 "an electrode on each side of every electrolyte layer")
            pair = [electrode_of_layer[max(below)], electrode_of_layer[min(above)]]
            ocvs = [self.electrodes[n].open_circuit(self.electrodes[n].initial_x) for n in pair]
            positive = pair[int(np.argmax(ocvs))]
            negative = pair[1 - int(np.argmax(ocvs))]
            self.units.append(Unit(electrolyte_layer=k, negative=negative, positive=positive,
                                   positive_on_top=positive == pair[1]))
        if len(self.electrodes) != 2 * len(self.units):
            raise InputError("cell.layers", [layer.name for layer in layers],
                             "two electrodes for every electrolyte layer")
        if len({u.positive_on_top for u in self.units}) > 1:
            raise InputError("cell.layers", [layer.name for layer in layers],
                             "unit cells that all face the same way (a series stack)")
        on_top = self.units[0].positive_on_top
        self.positive_tab = "top" if on_top else "bottom"
        self.negative_tab = "bottom" if on_top else "top"
        at_tab = self.units[-1] if on_top else self.units[0]
        self.positive, self.negative = at_tab.positive, at_tab.negative

    # ------------------------------------------------------------ conduction networks
    def _metal_nodes(self):
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

        # faces of Ohm's law: inside a layer (corrected fluxes) and across two layers of one
        # network (collector | electrode: two-point), none inside metal or carrier layers;
        # faces of films whose conductivity depends on x apart (their sigma changes with the
        # state: the electronic_conduction term), the rest has constant conductances
        c0, c1 = fc[interior, 0], fc[interior, 1]
        same_network = self.is_ionic[c0] == self.is_ionic[c1]
        same_layer = g.cell_tags[c0] == g.cell_tags[c1]
        within_metal = metal[c0] & metal[c1]
        carrier = np.zeros(n, dtype=bool)       # their Ohm's law depends on c
        for region in self.carriers:
            carrier[region.cells] = True
        in_carrier = same_layer & carrier[c0]
        self.x_conduction_layers = frozenset(
            e.layer for e in self.electrodes
            if e.kind == "intercalation" and e.laws.conductivity_varies)
        varying = np.zeros(n, dtype=bool)       # cells whose sigma is a function of their x
        for e in self.electrodes:
            if e.layer in self.x_conduction_layers:
                varying[e.cells] = True
        self.varying_conductivity = varying
        touches_varying = varying[c0] | varying[c1]
        self.conduction_inside = interior[same_network & same_layer & ~within_metal & ~in_carrier
                                          & ~touches_varying]
        across = same_network & ~same_layer & ~within_metal
        self.conduction_across = interior[across & ~touches_varying]
        self.conduction_across_varying = interior[across & touches_varying]
        inside = self.conduction_inside
        geometric = (divergence(g, inside) @ region_flux_matrix(g, inside, g.cell_tags)).tocoo()
        # each entry couples two cells of one layer: the conductivity of that layer scales it
        self.inside_operator = geometric

        self.tabs = {}
        for side in ("bottom", "top"):
            faces = g.boundary_faces[side]
            cells = fc[faces, 0]
            if np.any(self.is_ionic[cells]):
                raise InputError("cell.layers", side,
                                 "an electrode or a current collector at each tab, not the "
                                 "electrolyte")
            self.tabs[side] = (self.node[cells], faces)

    # ------------------------------------------------------------ interfaces
    def _interfaces(self):
        """Faces between an electrode cell and an electrolyte cell carry Butler-Volmer."""
        g = self.grid
        fc = g.face_cells
        interior = g.interior_faces
        c0, c1 = fc[interior, 0], fc[interior, 1]
        faces = interior[self.is_ionic[c0] != self.is_ionic[c1]]
        side_e = np.where(~self.is_ionic[fc[faces, 0]], 0, 1)
        self.if_faces = faces
        self.if_cell_e = fc[faces, side_e]
        self.if_cell_l = fc[faces, 1 - side_e]
        self.if_node_e = self.node[self.if_cell_e]     # where the electrode side's charge goes
        ht = g.half_transmissibility
        self.if_ht_e = ht[faces, side_e]
        self.if_ht_l = ht[faces, 1 - side_e]
        self.if_area = g.face_areas[faces]
        self.n_if = faces.size
        electrode_layer = g.cell_tags[self.if_cell_e]
        for e in self.electrodes:
            e.faces = np.flatnonzero(electrode_layer == e.contact_layer)
            if e.faces.size == 0:
                raise InputError("cell.layers", e.name, "an electrode that touches the electrolyte")
        # per interface face: its electrode's position in `electrodes`
        self.if_electrode = np.empty(self.n_if, dtype=np.int64)
        for n, e in enumerate(self.electrodes):
            self.if_electrode[e.faces] = n

    def potential_cells(self, e):
        """Cells whose potential is the electrode's: its own, or the collector it plates on."""
        return e.cells if e.cells.size else self.grid.cells_with_tag(
            self.case.layers[e.contact_layer].name)

    def contact_cells(self, e):
        """The cells of electrode e at its outer (terminal) faces, where its electrons come
        in from a collector, the next cell or a tab, and the areas of those faces."""
        kind, *data = self.terminals[self.electrodes.index(e)]
        if kind == "node":
            return np.zeros(0, dtype=np.int64), np.zeros(0)
        faces, tab, tab_areas = data
        g = self.grid
        fc = g.face_cells
        inner = np.where(np.isin(fc[faces, 0], e.cells), fc[faces, 0], fc[faces, 1])
        tab_faces = g.boundary_faces[tab]
        at_tab = tab_faces[np.isin(fc[tab_faces, 0], e.cells)]
        return (np.concatenate([inner, fc[at_tab, 0]]),
                np.concatenate([g.face_areas[faces], tab_areas]))

    def _terminals(self):
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
                tab = "top" if upward else "bottom"
                tab_faces = g.boundary_faces[tab]
                at_tab = np.isin(fc[tab_faces, 0], e.cells)
                self.terminals[n] = ("faces", faces, tab, g.face_areas[tab_faces[at_tab]])

    # ------------------------------------------------------------ stencils
    def _diffusion(self):
        """Fick's law on faces inside each intercalation electrode, in the x numbering."""
        g = self.grid
        self.intercalation = [e for e in self.electrodes if e.kind == "intercalation"]
        x_index = -np.ones(g.n_cells, dtype=np.int64)
        offset = 0
        for e in self.intercalation:
            x_index[e.cells] = offset + np.arange(e.cells.size)
            e.x_slice = slice(offset, offset + e.cells.size)
            offset += e.cells.size
        self.n_x = offset
        self.x_index = x_index
        xs_offset = 0
        for e in self.intercalation:
            e.stencil = region_stencil(g, e.cells, x_index, offset)
            e.volume = g.cell_volumes[e.cells]
            e.xs_slice = slice(xs_offset, xs_offset + e.faces.size)
            xs_offset += e.faces.size
        self.n_xs = xs_offset

    def _carriers(self):
        """Indices and flux stencils of the carrier concentration in each binary electrolyte."""
        g = self.grid
        offset = 0
        for r in self.carriers:
            local = -np.ones(g.n_cells, dtype=np.int64)
            local[r.cells] = np.arange(r.cells.size)
            r.slice = slice(offset, offset + r.cells.size)
            offset += r.cells.size
            r.stencil = region_stencil(g, r.cells, local, r.cells.size)
            r.volume = g.cell_volumes[r.cells]
            r.if_faces = np.flatnonzero(np.isin(self.if_cell_l, r.cells))
            r.if_local = local[self.if_cell_l[r.if_faces]]
            r.if_distance = self.if_area[r.if_faces] / self.if_ht_l[r.if_faces]
        self.n_c = offset

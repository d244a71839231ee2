"""The drive (the tab row, in A or V): galvanostatic, the current through the positive
tab equals the applied current I (> 0 on discharge); potentiostatic, V = V_set.

The tab current is imposed through the positive electrode's interface current, equal to it
by charge conservation in the electronic network; written through the tab conductance
instead, a metal collector (1e11 S and more across a thin cell) would leave the current to
round-off. With a double layer, the current through the tab is the positive electrode's
faradaic and double-layer current together.
"""

import numpy as np

from ..assembly import Term


class Drive(Term):
    name = "drive"

    def __init__(self, topology, layout):
        self.topo = topology
        self.i_V = layout["V"].start
        self.i_cols, self.area = tab_current_columns(topology, layout)
        # the Jacobian values of the two drives (constant)
        self._current_values = [-self.area, np.zeros(1)]
        self._voltage_values = [np.zeros(self.i_cols.size), np.ones(1)]

    def blocks(self):
        return [(np.full(self.i_cols.size, self.i_V), self.i_cols), ([self.i_V], [self.i_V])]

    def evaluate(self, ev):
        kind, value = ev.drive
        if kind == "current":
            ev.R[self.i_V] += -(ev.u[self.i_cols] * self.area).sum() - value
            return self._current_values
        ev.R[self.i_V] += ev.u[self.i_V] - value
        return self._voltage_values

    def tab_current(self, u):
        """Current leaving the cell through the positive tab (A, > 0 on discharge): the
        cathodic current of the positive electrode, which charge conservation makes equal."""
        return -float(u[self.i_cols] @ self.area)


def tab_current_columns(topology, layout):
    """The unknowns u_k and areas a_k with sum(u_k a_k) the positive electrode's anodic
    interface current, which is minus the tab current: its faradaic current densities, and
    its double-layer ones when the model has them."""
    faces = topology.electrodes[topology.positive].faces
    blocks = [b for b in ("i", "i_dl") if b in layout]
    cols = np.concatenate([layout[b].start + faces for b in blocks])
    return cols, np.tile(topology.if_area[faces], len(blocks))

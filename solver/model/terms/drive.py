"""The drive (the tab row, in A or V): galvanostatic, the current through the positive
tab equals the applied current I (> 0 on discharge); potentiostatic, V = V_set.

The tab current is imposed through the positive electrode's interface current, equal to it
by charge conservation in the electronic network; written through the tab conductance
instead, a metal collector (1e11 S and more across a thin cell) would leave the current to
round-off.
"""

import numpy as np

from ..assembly import Term


class Drive(Term):
    name = "drive"

    def __init__(self, topology, layout):
        self.topo = topology
        self.i_V = layout["V"].start
        self.pos_faces = topology.electrodes[topology.positive].faces
        self.i_cols = layout["i"].start + self.pos_faces
        self.area = topology.if_area[self.pos_faces]

    def blocks(self):
        return [(np.full(self.pos_faces.size, self.i_V), self.i_cols), ([self.i_V], [self.i_V])]

    def evaluate(self, ev):
        kind, value = ev.drive
        if kind == "current":
            ev.R[self.i_V] += -np.sum(ev.current[self.pos_faces]) - value
            return [-self.area, [0.0]]
        ev.R[self.i_V] += ev.u[self.i_V] - value
        return [np.zeros(self.pos_faces.size), [1.0]]

    def tab_current(self, u):
        """Current leaving the cell through the positive tab (A, > 0 on discharge): the
        cathodic current of the positive electrode, which charge conservation makes equal."""
        return -float(u[self.i_cols] @ self.area)

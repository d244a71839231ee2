"""The series resistance of a cell: contacts, leads and whatever else lies in series with
the stack and is not modelled (DESIGN.md section 6, `cell.series_resistance`, an
area-specific resistance r_s per footprint area).

The tab potential V of the model stays the potential of the positive tab; what a
potentiostat sees at the terminals is
    V_terminal = V - R I,      R = r_s / A_footprint,  I the tab current (> 0 on discharge),
so under a held voltage the drive row holds V_terminal (this term adds R sum(i A) over the
positive electrode's faces to it), and the reported voltage is V_terminal (`drop`). Under
an applied current the solution inside the cell does not depend on R.
"""

import numpy as np

from ..assembly import Term
from .drive import tab_current_columns


class SeriesResistance(Term):
    name = "series_resistance"

    def __init__(self, topology, layout, parameters):
        self.footprint_area = topology.grid.footprint_area
        self.i_V = layout["V"].start
        self.i_cols, self.area = tab_current_columns(topology, layout)
        self.refresh(parameters)

    def blocks(self):
        return [(np.full(self.i_cols.size, self.i_V), self.i_cols)]

    def evaluate(self, ev):
        if ev.drive[0] != "voltage":
            return [np.zeros(self.i_cols.size)]
        ev.R[self.i_V] += self.resistance * np.sum(ev.u[self.i_cols] * self.area)
        return [self.resistance * self.area]

    def drop(self, u):
        """R I: how far the terminal voltage lies below the tab potential (V)."""
        if self.resistance == 0.0:
            return 0.0
        return -self.resistance * float(np.sum(u[self.i_cols] * self.area))

    def refresh(self, parameters):
        # ohm for the grid's unit, which carries the current of its own footprint
        self.resistance = parameters.series_resistance / self.footprint_area

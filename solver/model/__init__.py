"""The cell model as physics terms: layout of unknowns, topology, parameters, terms, assembly.

    CellModel(case, grid)     the model of a case on a grid (solver.model.cell)
"""

from .cell import CellModel
from .topology import Electrode, Unit

__all__ = ["CellModel", "Electrode", "Unit"]

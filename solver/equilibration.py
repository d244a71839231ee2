"""What every linear solver of a Newton step shares: row and column equilibration of a
matrix on a fixed CSR pattern, the round-off floor, and the failure it raises."""

import numpy as np

# Residuals of the equilibrated system (rows scaled to unit maximum) below this are
# round-off: a right-hand side that small (an equilibrium) is solved, whatever rtol says.
ROUND_OFF = 1e-14


class SingularMatrix(Exception):
    pass


class Equilibration:
    """Scale rows to unit maximum, then columns: (D_r A D_c) y = D_r b, x = D_c y.

    The pattern is fixed, so the positions of rows and of columns in the CSR data are
    found once here."""

    def __init__(self, indptr, indices, n):
        self.indptr, self.indices, self.n = np.asarray(indptr), np.asarray(indices), n
        self.rows = np.repeat(np.arange(n), np.diff(self.indptr))
        # entries of the CSR data in column-major order, for column maxima
        self.to_csc = np.lexsort((self.rows, self.indices))
        self.col_starts = np.searchsorted(self.indices[self.to_csc], np.arange(n))
        self.row_starts = self.indptr[:-1]

    def scales(self, data):
        """(row, col) scales of the matrix with CSR values `data`: 1 / the row maxima, then
        1 / the column maxima of the row-scaled matrix (as divisors)."""
        _, row, col = self.equilibrate(data)
        return row, col

    def equilibrate(self, data):
        """The equilibrated CSR values, data / row / col, and the scales (row, col)."""
        row = np.maximum.reduceat(np.abs(data), self.row_starts)
        row[row == 0.0] = 1.0
        by_row = data / row[self.rows]
        col = np.maximum.reduceat(np.abs(by_row[self.to_csc]), self.col_starts)
        col[col == 0.0] = 1.0
        return by_row / col[self.indices], row, col

    def scaled(self, data, rhs):
        """The equilibrated values, right-hand side and the column scale to undo."""
        scaled, row, col = self.equilibrate(data)
        return scaled, rhs / row, col

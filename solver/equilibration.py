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
        self.row_maxima = SegmentMaxima(self.row_starts, self.indices.size)
        self.col_maxima = SegmentMaxima(self.col_starts, self.indices.size)

    def scales(self, data):
        """(row, col) scales of the matrix with CSR values `data`: 1 / the row maxima, then
        1 / the column maxima of the row-scaled matrix (as divisors)."""
        _, row, col = self.equilibrate(data)
        return row, col

    def equilibrate(self, data):
        """The equilibrated CSR values, data / row / col, and the scales (row, col)."""
        row = self.row_maxima(np.abs(data))
        row[row == 0.0] = 1.0
        by_row = data / row[self.rows]
        col = self.col_maxima(np.abs(by_row[self.to_csc]))
        col[col == 0.0] = 1.0
        return by_row / col[self.indices], row, col

    def scaled(self, data, rhs):
        """The equilibrated values, right-hand side and the column scale to undo."""
        scaled, row, col = self.equilibrate(data)
        return scaled, rhs / row, col


class SegmentMaxima:
    """Maxima of consecutive segments of a vector of values >= 0 (the rows, or the columns,
    of a fixed CSR pattern), as np.maximum.reduceat(values, starts).

    Where the segments are about equally long, each value is placed at (its place in its
    segment, its segment) of a zero-padded table whose column maxima are the segments':
    half the cost of reduceat on the small banded Jacobians of 1D cells. Empty segments
    (reduceat gives them the next segment's first value) or very unequal ones (a long row
    would pad every other) keep reduceat.
    """

    def __init__(self, starts, total):
        self.starts = np.asarray(starts)
        n = self.starts.size
        counts = np.diff(np.append(self.starts, total))
        self.width, self.n = int(counts.max(initial=0)), n
        self.padded = bool(n) and counts.min() > 0 and self.width * n <= 2 * total + 64
        if self.padded:
            place = np.arange(total) - np.repeat(self.starts, counts)
            self.position = place * n + np.repeat(np.arange(n), counts)

    def __call__(self, values):
        if not self.padded:
            return np.maximum.reduceat(values, self.starts)
        table = np.zeros(self.width * self.n, dtype=values.dtype)
        table[self.position] = values
        return table.reshape(self.width, self.n).max(axis=0)

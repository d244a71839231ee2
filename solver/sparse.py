"""Sparse matrices assembled from triplets whose pattern is fixed: built once, refilled."""

import numpy as np
import scipy.sparse as sp


class TripletPattern:
    """A CSR pattern for a fixed list of (row, col) triplets; `matrix(values)` refills it.

    Duplicate (row, col) pairs are summed, as in COO assembly, but the sorting and
    deduplication happen once, here, rather than at every Newton iteration.
    """

    def __init__(self, rows, cols, shape):
        rows = np.asarray(rows, dtype=np.int64)
        cols = np.asarray(cols, dtype=np.int64)
        self.shape = shape
        keys = rows * shape[1] + cols
        unique_keys, self._slot = np.unique(keys, return_inverse=True)
        self.nnz = unique_keys.size
        unique_rows = unique_keys // shape[1]
        self._indices = (unique_keys % shape[1]).astype(np.int32)
        self._indptr = np.searchsorted(unique_rows, np.arange(shape[0] + 1)).astype(np.int32)
        self.n_triplets = keys.size

    @property
    def indices(self):
        return self._indices

    @property
    def indptr(self):
        return self._indptr

    def fill(self, values) -> np.ndarray:
        """CSR data for the triplet values (duplicates summed)."""
        return np.bincount(self._slot, weights=values, minlength=self.nnz)

    def matrix(self, values) -> sp.csr_matrix:
        return sp.csr_matrix((self.fill(values), self._indices.copy(), self._indptr.copy()),
                             shape=self.shape)


class ScatterAdd:
    """target += bincount(index, values, minlength=target.size) for a fixed index.

    Where no index repeats (a few interface faces or tab cells into a long row block) the
    values are added in place at their positions instead: the same sums, without a
    full-length temporary at every Newton iteration.
    """

    def __init__(self, index, n):
        self.index = np.asarray(index, dtype=np.int64)
        self.n = n
        self.repeats = np.unique(self.index).size < self.index.size

    def add(self, target, values):
        if self.repeats:
            target += np.bincount(self.index, values, minlength=self.n)
        else:
            target[self.index] += values

    def subtract(self, target, values):
        if self.repeats:
            target -= np.bincount(self.index, values, minlength=self.n)
        else:
            target[self.index] -= values

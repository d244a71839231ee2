"""M du/dt + F(u) = 0 on one fixed sparsity pattern, assembled from physics terms.

A term (solver.model.terms) reserves, once, the Jacobian blocks it fills (`blocks`: a list of
(rows, cols) index arrays) and its constant mass-matrix entries (`mass`: rows, cols,
values); at each evaluation it adds its part of F to the residual and returns the values of
its blocks in the same order (`evaluate`). The assembly builds the TripletPattern once from
all blocks and the mass entries, so the pattern and the values cannot drift apart.

The time integrator owns the BDF formula: it passes u and the derivative's history, so
that du/dt ~ a0 u + history; the assembly adds M (a0 u + history) to F and a0 M to its
Jacobian. Terms never see a0: J(a0) - J(0) = a0 M holds by construction.
"""

import numpy as np
import scipy.sparse as sp

from ..sparse import TripletPattern


class Term:
    """One physics equation's contribution to F(u), its Jacobian and M (see module doc)."""
    name = "term"

    def blocks(self) -> list:
        return []

    def mass(self):
        """Constant mass-matrix entries (rows, cols, values), or None."""
        return None

    def prepare(self, ev) -> None:
        """Quantities later terms need (into ev.shared), before any term evaluates."""

    def evaluate(self, ev) -> list:
        """Add this term's part of F to ev.R; return the values of `blocks`, in order."""
        return []

    def refresh(self, parameters) -> None:
        """Re-read material values after the parameters changed (topology unchanged)."""

    def outputs(self) -> dict:
        """Named quantities of a state this term provides, as time-series columns:
        name -> callable(u) -> float."""
        return {}


class Evaluation:
    """One evaluation of F: the state by block, the residual, and what terms share."""
    __slots__ = ("u", "R", "drive", "shared", "_slices", "_current")

    def __init__(self, layout, u, drive, area):
        self._slices = layout._slices
        self.u = u
        self.R = np.zeros(u.shape)
        self.drive = drive
        self.shared = {}
        self._current = u[layout.slice("i")] * area

    def __getitem__(self, name):
        """The state of a block (a view of u)."""
        return self.u[self._slices[name]]

    def rows(self, name):
        """The residual rows of a block (a view of R: add to it)."""
        return self.R[self._slices[name]]

    @property
    def current(self):
        """Butler-Volmer current of each interface face, A (current density times area)."""
        return self._current


class Assembly:
    """The terms of a model on one pattern: residual, Jacobian data and the mass matrix."""

    def __init__(self, layout, terms, interface_area):
        self.layout = layout
        self.terms = list(terms)
        self.interface_area = interface_area
        n = layout.n
        rows, cols, self.sizes = [], [], []
        for term in self.terms:
            size = 0
            for r, c in term.blocks():
                r = np.asarray(r, dtype=np.int64)
                c = np.asarray(c, dtype=np.int64)
                if r.shape != c.shape:
                    raise ValueError(f"term {term.name}: a block with {r.size} rows and "
                                     f"{c.size} columns")
                rows.append(r)
                cols.append(c)
                size += r.size
            self.sizes.append(size)
        m_rows, m_cols, m_vals = [], [], []
        for term in self.terms:
            entries = term.mass()
            if entries is not None:
                m_rows.append(np.asarray(entries[0], dtype=np.int64))
                m_cols.append(np.asarray(entries[1], dtype=np.int64))
                m_vals.append(np.asarray(entries[2], dtype=float))
        self.mass_rows = np.concatenate(m_rows) if m_rows else np.zeros(0, dtype=np.int64)
        self.mass_cols = np.concatenate(m_cols) if m_cols else np.zeros(0, dtype=np.int64)
        self.mass_values = np.concatenate(m_vals) if m_vals else np.zeros(0)
        self.mass_matrix = sp.csr_matrix((self.mass_values, (self.mass_rows, self.mass_cols)),
                                         shape=(n, n))
        # storage terms give a diagonal M: then M u_dot is one product on those rows
        self.diagonal_mass = (np.array_equal(self.mass_rows, self.mass_cols)
                              and np.unique(self.mass_rows).size == self.mass_rows.size)
        # columns with a time derivative: the history the integrator passes covers these
        self.differential = np.zeros(n, dtype=bool)
        self.differential[self.mass_cols] = True
        rows.append(self.mass_rows)
        cols.append(self.mass_cols)
        self.pattern = TripletPattern(np.concatenate(rows), np.concatenate(cols), (n, n))

    def refresh(self, parameters):
        for term in self.terms:
            term.refresh(parameters)

    def evaluate(self, u, u_dot, a0, drive, want_jacobian=True):
        """F(u) + M u_dot and, if wanted, the CSR data of dF/du + a0 M on the pattern.

        u_dot: the time derivative on all of u, or (a diagonal M) on the mass rows only,
        in the order of `mass_rows`."""
        ev = Evaluation(self.layout, u, drive, self.interface_area)
        for term in self.terms:
            term.prepare(ev)
        values = []
        for term in self.terms:
            values += term.evaluate(ev)
        if self.mass_values.size:
            if u_dot.size == self.mass_rows.size and self.diagonal_mass:
                ev.R[self.mass_rows] += self.mass_values * u_dot
            else:
                ev.R += self.mass_matrix @ u_dot
        if not want_jacobian:
            return ev.R, None
        values.append(a0 * self.mass_values)
        return ev.R, self.pattern.fill(np.concatenate(values))

    def check(self, u, drive):
        """Each term returns as many Jacobian values as its blocks reserved (a test aid:
        a mismatch would otherwise shift every later term's values)."""
        ev = Evaluation(self.layout, u, drive, self.interface_area)
        for term in self.terms:
            term.prepare(ev)
        for term, reserved in zip(self.terms, self.sizes):
            given = sum(np.size(v) for v in term.evaluate(ev))
            if given != reserved:
                raise RuntimeError(f"term {term.name}: {given} Jacobian values for {reserved} "
                                   f"reserved entries")

    def outputs(self):
        named = {}
        for term in self.terms:
            named.update(term.outputs())
        return named

"""M du/dt + F(u) = 0 on one fixed sparsity pattern, assembled from physics terms.

A term (solver.model.terms) reserves, once, the Jacobian blocks it fills (`blocks`: a list of
(rows, cols) index arrays) and its constant mass-matrix entries (`mass`: rows, cols,
values); at each evaluation it adds its part of F to the residual and returns the values of
its blocks in the same order (`evaluate`). The assembly builds the TripletPattern once from
all blocks and the mass entries, so the pattern and the values cannot drift apart.

The time integrator owns the BDF formula: it passes the time derivative of the columns of
M (the differential columns) and a0, du/dt ~ a0 u + history; the assembly adds M du/dt to
F and a0 M to its Jacobian. Terms never see a0: J(a0) - J(0) = a0 M holds by construction.

Mass is either storage (of lithium, of carriers: `Term.storage`), which an equilibrium at
fixed stoichiometry holds, or capacitive (double layer, dielectric), which relaxes in it.
"""

import numpy as np
import scipy.sparse as sp

from ..sparse import TripletPattern


class Term:
    """One physics equation's contribution to F(u), its Jacobian and M (see module doc)."""
    name = "term"
    storage = True            # its mass stores a conserved quantity (else: a capacitance)

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
        # the terms that share something before the others evaluate
        self.preparing = [t for t in self.terms if type(t).prepare is not Term.prepare]
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
        m_rows, m_cols = [], []
        for term in self.terms:
            entries = term.mass()
            if entries is not None:
                m_rows.append(np.asarray(entries[0], dtype=np.int64))
                m_cols.append(np.asarray(entries[1], dtype=np.int64))
        self.mass_rows = np.concatenate(m_rows) if m_rows else np.zeros(0, dtype=np.int64)
        self.mass_cols = np.concatenate(m_cols) if m_cols else np.zeros(0, dtype=np.int64)
        # columns with a time derivative: the integrator passes du/dt on these, in order
        self.differential_columns = np.unique(self.mass_cols)
        self.differential = np.zeros(n, dtype=bool)
        self.differential[self.differential_columns] = True
        self._mass_position = np.searchsorted(self.differential_columns, self.mass_cols)
        # M's entries in the order of the differential columns (as when storage alone)
        self._mass_in_column_order = np.array_equal(self._mass_position,
                                                    np.arange(self.mass_cols.size))
        self._mass_values()
        rows.append(self.mass_rows)
        cols.append(self.mass_cols)
        self.pattern = TripletPattern(np.concatenate(rows), np.concatenate(cols), (n, n))

    def _mass_values(self):
        """The values of M from the terms (they may change with the parameters), and which
        entries are storage; M as (n, n), and compressed to the differential columns."""
        values, storage = [], []
        for term in self.terms:
            entries = term.mass()
            if entries is not None:
                values.append(np.asarray(entries[2], dtype=float))
                storage.append(np.full(values[-1].size, term.storage))
        self.mass_values = np.concatenate(values) if values else np.zeros(0)
        self.storage_entries = np.concatenate(storage) if storage else np.zeros(0, dtype=bool)
        n = self.layout.n
        self.mass_matrix = sp.csr_matrix((self.mass_values, (self.mass_rows, self.mass_cols)),
                                         shape=(n, n))
        n_diff = self.differential_columns.size
        self._compressed = {
            storage_only: sp.csr_matrix((np.where(keep, self.mass_values, 0.0),
                                         (self.mass_rows, self._mass_position)),
                                        shape=(n, n_diff))
            for storage_only, keep in ((False, np.ones_like(self.storage_entries)),
                                       (True, self.storage_entries))}
        # storage terms alone give a diagonal M: then M u_dot is one product on those rows
        self.diagonal_mass = (np.array_equal(self.mass_rows, self.mass_cols)
                              and np.unique(self.mass_rows).size == self.mass_rows.size
                              and bool(np.all(self.storage_entries)))

    def refresh(self, parameters):
        for term in self.terms:
            term.refresh(parameters)
        self._mass_values()

    def mass_data(self):
        """M as CSR data on the Jacobian's pattern (zero off its entries)."""
        return self.pattern.fill(np.concatenate([np.zeros(sum(self.sizes)),
                                                 self.mass_values]))

    def evaluate(self, u, u_dot, a0, drive, want_jacobian=True, storage_only=False):
        """F(u) + M u_dot and, if wanted, the CSR data of dF/du + a0 M on the pattern.

        u_dot: the time derivative on the differential columns, in their order.
        storage_only: M is its storage entries alone (an equilibrium at fixed stoichiometry,
        in which the capacitances have relaxed)."""
        ev = Evaluation(self.layout, u, drive, self.interface_area)
        for term in self.preparing:
            term.prepare(ev)
        values = []
        for term in self.terms:
            values += term.evaluate(ev)
        if self.mass_values.size:
            if self.diagonal_mass:
                ev.R[self.mass_rows] += self.mass_values * (
                    u_dot if self._mass_in_column_order else u_dot[self._mass_position])
            else:
                ev.R += self._compressed[storage_only] @ u_dot
        if not want_jacobian:
            return ev.R, None
        mass = self.mass_values
        if storage_only:
            mass = np.where(self.storage_entries, mass, 0.0)
        values.append(a0 * mass)
        return ev.R, self.pattern.fill(np.concatenate(values))

    def compressed_mass(self, storage_only=False):
        """M on the differential columns, (n, n_differential), as CSR."""
        return self._compressed[storage_only]

    def residual_of(self, u, u_dot, drive, use, with_mass=True, storage_only=False):
        """The part of F(u) + M u_dot (u_dot on the differential columns; M its storage
        entries alone if storage_only) that the terms flagged in `use` (and, with_mass, M)
        contribute: forward sensitivities difference only what a parameter moves."""
        ev = Evaluation(self.layout, u, drive, self.interface_area)
        for term in self.terms:
            term.prepare(ev)
        for term, used in zip(self.terms, use):
            if used:
                term.evaluate(ev)
        if with_mass and self.mass_values.size:
            ev.R += self._compressed[storage_only] @ u_dot
        return ev.R

    def contributions(self, u, drive):
        """Each term's residual rows at u (a test and sensitivity aid)."""
        parts = []
        for k in range(len(self.terms)):
            use = [j == k for j in range(len(self.terms))]
            parts.append(self.residual_of(u, np.zeros(self.differential_columns.size), drive, use,
                                          with_mass=False))
        return parts

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

"""Impedance spectroscopy: the small-signal response of a cell at a state (DESIGN.md §6-7).

An impedance step measures at the state the previous steps left, at open circuit: the
stoichiometries and electrolyte concentrations stay where they are, everything else (the
potentials, the interface currents, the charge of the double layers and of the
electrolyte's geometric capacitance) relaxes to zero tab current
(CellModel.equilibrium_residual_and_jacobian). About that operating point u0 a small tab
current dI exp(j omega t) (> 0 on discharge) drives the linearised model

    (j omega M + J) du = e_V dI,        J = dF/du at u0, M the model's mass matrix,

e_V the drive row (-sum (i + i_dl) A - I = 0 under an applied current). With the current
taken positive into the positive terminal (a potentiostat's convention: a capacitance gives
a negative imaginary part), the impedance is

    Z = dV_terminal / dI_charge = R_s - dV / dI,

R_s the series resistance, and per footprint area Z A_unit (the grid's unit carries the
current of its own footprint A_unit). The linearisation is exact (the analytic Jacobian), so
the spectrum holds for amplitudes small against RT/F across each interface.

1D cells solve each frequency directly (complex banded LU); 2D and 3D cells with the block
preconditioner of solver.krylov in complex arithmetic, its set-ups kept across neighbouring
frequencies while they serve.
"""

from dataclasses import dataclass

import numpy as np

from .errors import SolverError
from .linear import SingularMatrix

# relative residual of the (equilibrated) complex systems solved by GMRES
RTOL = 1e-9


def frequency_grid(f_min, f_max, points_per_decade):
    """Frequencies from f_max down to f_min, `points_per_decade` per decade, both ends
    included (the order in which analysers sweep)."""
    decades = np.log10(f_max / f_min)
    n = max(int(round(points_per_decade * decades)) + 1, 2)
    return np.logspace(np.log10(f_max), np.log10(f_min), n)


@dataclass
class Spectrum:
    """The impedance of one step: frequencies (Hz, from high to low) and Z (ohm cm^2 of
    footprint, complex, negative imaginary part for capacitive behaviour)."""
    step: int
    frequency_Hz: np.ndarray
    z_ohm_cm2: np.ndarray


class SmallSignal:
    """The linearised model at an operating point u0: its impedance and its response at a
    frequency, solved with `linear_solver` (a solver.linear.LinearSolver or a
    solver.krylov.KrylovSolver on the model's pattern)."""

    def __init__(self, model, u0, linear_solver, blocking=()):
        self.model = model
        self.u0 = u0
        _, jacobian = model.residual_and_jacobian(
            u0, np.zeros(model.differential_columns.size), 0.0, ("current", 0.0))
        self.jacobian, self.mass = _blocked(model, jacobian, model.mass_data(),
                                            np.asarray(blocking, dtype=np.int64))
        self.rhs = np.zeros(model.n_unknowns)
        self.rhs[model.i_V] = 1.0                  # dI = 1 A through the unit's tab
        self.linear_solver = linear_solver
        self.area_cm2 = model.grid.footprint_area * 1e4

    def response(self, frequency):
        """du per ampere of tab current (discharge positive) at `frequency` (Hz)."""
        data = self.jacobian + 2j * np.pi * frequency * self.mass
        try:
            if hasattr(self.linear_solver, "face_blocks"):      # GMRES, to a tight tolerance
                du = self.linear_solver.solve(data, self.rhs, rtol=RTOL)
            else:
                du = self.linear_solver.solve(data, self.rhs)
        except SingularMatrix as exc:
            raise SolverError(f"the small-signal system at {frequency:.4g} Hz could not be "
                              f"solved ({exc})") from None
        if not np.all(np.isfinite(du)):
            raise SolverError(f"the small-signal response at {frequency:.4g} Hz is not finite")
        return du

    def impedance(self, du):
        """Z (ohm cm^2 of footprint) from a response `response` returned."""
        return (self.model.series.resistance - du[self.model.i_V]) * self.area_cm2

    def spectrum(self, frequencies):
        return np.array([self.impedance(self.response(f)) for f in frequencies])


def _blocked(model, jacobian, mass, faces):
    """J and M (data on the model's pattern) with the faradaic current of interface `faces`
    held at zero (their kinetics rows become di = 0): a lithium electrode that holds no
    lithium has nothing to react, so its interface blocks and only its double layer carries
    the small signal. The linearised Butler-Volmer law would let lithium that is not there
    strip in every anodic half period."""
    if not faces.size:
        return jacobian, mass
    pattern = model.pattern
    entry_rows = np.repeat(np.arange(pattern.indptr.size - 1), np.diff(pattern.indptr))
    held = np.isin(entry_rows, model.s_i.start + faces)
    jacobian, mass = jacobian.copy(), mass.copy()
    jacobian[held] = mass[held] = 0.0
    jacobian[held & (pattern.indices == entry_rows)] = 1.0
    return jacobian, mass


def small_signal_solver(model, linear_solver):
    """The linear solver for the complex systems: the time stepping's when it is a banded
    LU (1D stacks) or GMRES; for small 2D/3D grids, which the time stepping solves with
    SuperLU, GMRES with the block preconditioner all the same: SuperLU's complex
    factorisations of these systems fill with subnormal numbers and run 10-100 times
    slower than its real ones (0.03-1.7 s a frequency on 2 500 unknowns)."""
    if getattr(linear_solver, "banded", False) or hasattr(linear_solver, "face_blocks"):
        return linear_solver
    from .linear import make_linear_solver

    return make_linear_solver(model, direct_limit=0)


def interface_response(model, du):
    """Where the small-signal current crosses each interface: per interface face, its total
    current density (faradaic and double layer) over its electrode's mean (complex: 1 for a
    uniform distribution in phase with the electrode's total), and the faradaic fraction
    |di_F| / |di_F + di_dl|."""
    i_f = du[model.s_i]
    i_t = i_f + (du[model.s_dl] if model.capacitive else 0.0)
    relative = np.zeros(model.n_if, dtype=complex)
    for e in model.electrodes:
        f = e.faces
        total = np.sum(i_t[f] * model.if_area[f])
        relative[f] = i_t[f] * np.sum(model.if_area[f]) / total
    magnitude = np.abs(i_t)
    faradaic = np.divide(np.abs(i_f), magnitude, out=np.ones(model.n_if), where=magnitude > 0)
    return relative, faradaic


def interface_fields(model, du) -> dict:
    """Cell data of a small-signal response, on each interface's electrode cells (area
    means where a cell has several interface faces; NaN elsewhere): the interface current
    density relative to its electrode's mean (magnitude and phase in degrees) and the
    faradaic fraction."""
    relative, faradaic = interface_response(model, du)
    n = model.n_cells
    weights = np.bincount(model.if_cell_e, model.if_area, minlength=n)
    has = weights > 0

    def on_cells(values):
        summed = np.bincount(model.if_cell_e, values * model.if_area, minlength=n)
        return np.where(has, summed / np.where(has, weights, 1.0), np.nan)

    mean = on_cells(relative.real) + 1j * on_cells(relative.imag)
    return {"eis_current_relative": np.abs(mean),
            "eis_current_phase_deg": np.degrees(np.angle(mean)),
            "eis_faradaic_fraction": on_cells(faradaic)}

"""Kramers-Kronig consistency of an impedance spectrum: the linear KK test (Lin-KK) of
Schoenleber, Klotz, Ivers-Tiffee, Electrochim. Acta 131 (2014) 20, after Boukamp,
J. Electrochem. Soc. 142 (1995) 1885.

The spectrum is fitted, by linear least squares weighted with 1/|Z|, with a series resistance,
a series capacitance and inductance and M Voigt elements R_k / (1 + j omega tau_k), their
time constants spread logarithmically over 1/omega_max .. 1/omega_min. Every such element
satisfies the Kramers-Kronig relations, so a spectrum that does (a causal, linear, stable
system, as a linearised model must be) is fitted to its noise or round-off; one that does
not leaves residuals. The paper grows M until the fit starts to over-fit noisy data (its mu
criterion); a computed spectrum has no noise, and M is set by a density, 7 elements per
decade (at most one per frequency): the model's spectra then fit to about 1e-6 of |Z|,
while an imaginary part 2 % off its real part leaves residuals near 1e-2.

The fit has 3 + M coefficients for 2 numbers per frequency: unless the numbers outnumber
the coefficients, any spectrum is fitted exactly and its zero residual says nothing. With M
up to one per frequency, that takes 4 frequencies, whatever their spread.
"""

import numpy as np

MIN_FREQUENCIES = 4     # 2 n > 3 + n: more numbers than coefficients, with M = n


def _design(omega, taus):
    columns = [np.ones_like(omega, dtype=complex), 1.0 / (1j * omega), 1j * omega]
    columns += [1.0 / (1.0 + 1j * omega * tau) for tau in taus]
    return np.column_stack(columns)


def lin_kk_fit(frequencies, z, elements_per_decade=7):
    """(fitted Z, number of Voigt elements) of the Lin-KK test."""
    omega = 2.0 * np.pi * np.asarray(frequencies, dtype=float)
    z = np.asarray(z, dtype=complex)
    decades = np.log10(omega.max() / omega.min())
    count = int(min(max(np.ceil(elements_per_decade * decades), 1), omega.size))
    taus = np.logspace(-np.log10(omega.max()), -np.log10(omega.min()), count)
    A = _design(omega, taus)
    weight = 1.0 / np.abs(z)
    rows = np.vstack([A.real * weight[:, None], A.imag * weight[:, None]])
    rhs = np.concatenate([z.real * weight, z.imag * weight])
    scale = np.linalg.norm(rows, axis=0)
    scale[scale == 0.0] = 1.0
    coefficients = np.linalg.lstsq(rows / scale, rhs, rcond=None)[0] / scale
    return A @ coefficients, count


def lin_kk_residuals(frequencies, z, elements_per_decade=7):
    """Per frequency the larger of the real and imaginary Lin-KK residuals relative to |Z|."""
    z = np.asarray(z, dtype=complex)
    fit, _ = lin_kk_fit(frequencies, z, elements_per_decade)
    relative = (z - fit) / np.abs(z)
    return np.maximum(np.abs(relative.real), np.abs(relative.imag))


def kramers_kronig_residual(frequencies, z, elements_per_decade=7) -> float | None:
    """The largest Lin-KK residual of the spectrum, None for fewer than MIN_FREQUENCIES
    distinct frequencies: the test could fit them exactly, whatever they are."""
    if np.unique(np.asarray(frequencies, dtype=float)).size < MIN_FREQUENCIES:
        return None
    return float(np.max(lin_kk_residuals(frequencies, z, elements_per_decade)))

"""Butler-Volmer interface kinetics.

    i = i0 [exp(alpha_a F eta / RT) - exp(-alpha_c F eta / RT)]

i > 0 is anodic: the electrode gives up Li+ (and electrons). The solver uses the inverse
form, eta(i), because it grows like a logarithm where i(eta) grows like an exponential,
which keeps Newton's method robust at high rates.
"""

import numpy as np

from ..units import FARADAY, GAS_CONSTANT

_SURFACE_CLIP = 1e-9   # keeps i0 finite and positive at an empty or full surface
_MAX_EXPONENT = 600.0


def exchange_current_density(x_surface, rate_constant, max_concentration, alpha_a, alpha_c):
    """i0 = F k (c_max - c_s)^alpha_a c_s^alpha_c with c_s = x c_max; returns (i0, di0/dx)."""
    x = np.minimum(np.maximum(x_surface, _SURFACE_CLIP), 1.0 - _SURFACE_CLIP)  # np.clip: 5x
    scale = FARADAY * rate_constant * max_concentration ** (alpha_a + alpha_c)
    vacant = 1.0 - x
    i0 = scale * vacant ** alpha_a * x ** alpha_c
    inside = (x_surface > _SURFACE_CLIP) & (x_surface < 1.0 - _SURFACE_CLIP)
    di0_dx = np.where(inside, i0 * (alpha_c / x - alpha_a / vacant), 0.0)
    return i0, di0_dx


def _rate_factor(eta, alpha_a, alpha_c, f):
    """g(eta) = exp(alpha_a f eta) - exp(-alpha_c f eta) and dg/deta."""
    ea = np.exp(np.minimum(alpha_a * f * eta, _MAX_EXPONENT))
    ec = np.exp(np.minimum(-alpha_c * f * eta, _MAX_EXPONENT))
    return ea - ec, f * (alpha_a * ea + alpha_c * ec)


def butler_volmer(eta, i0, alpha_a, alpha_c, temperature):
    """Interface current density i(eta) and di/deta."""
    f = FARADAY / (GAS_CONSTANT * temperature)
    g, dg = _rate_factor(eta, alpha_a, alpha_c, f)
    return i0 * g, i0 * dg


def _symmetric(alpha_a, alpha_c):
    """alpha_a == alpha_c (numbers, or arrays of one per face: on every face)."""
    if isinstance(alpha_a, (float, int)) and isinstance(alpha_c, (float, int)):
        return abs(alpha_a - alpha_c) <= 1e-12
    return bool(np.all(np.abs(np.subtract(alpha_a, alpha_c)) <= 1e-12))


def butler_volmer_overpotential(i, i0, alpha_a, alpha_c, temperature):
    """The overpotential that drives current density i: solves i = i0 g(eta) for eta.

    Returns (eta, deta/di, deta/di0). Exact in closed form for alpha_a == alpha_c (then
    g = 2 sinh(alpha f eta), eta = asinh(i / 2 i0) / (alpha f) and dg/deta =
    alpha f sqrt(4 + (i/i0)^2), no exponentials); otherwise a few vectorised Newton steps
    from the symmetric guess.
    """
    f = FARADAY / (GAS_CONSTANT * temperature)
    ratio = i / i0
    alpha_mean = 0.5 * (alpha_a + alpha_c)
    eta = np.arcsinh(0.5 * ratio) / (alpha_mean * f)
    if _symmetric(alpha_a, alpha_c):
        dg = alpha_mean * f * np.sqrt(4.0 + ratio * ratio)
    else:
        for _ in range(50):
            g, dg = _rate_factor(eta, alpha_a, alpha_c, f)
            step = (g - ratio) / dg
            eta = eta - step
            if np.max(np.abs(step)) < 1e-15:
                break
        g, dg = _rate_factor(eta, alpha_a, alpha_c, f)
    deta_di = 1.0 / (i0 * dg)
    deta_di0 = -ratio * deta_di
    return eta, deta_di, deta_di0

"""Figures of impedance spectra: Nyquist (-Z'' against Z', equal scales) and Bode (|Z| and
phase against frequency), one curve per impedance step. Drawn on Figures outside pyplot,
as solver.plots does."""

import numpy as np

from .plots import new_figure, png_bytes


def _png(fig) -> bytes:
    fig.tight_layout()
    return png_bytes(fig)


def nyquist_axes(ax, spectra, labels, marked=None):
    """Draw spectra (solver.impedance.Spectrum) on `ax` as a Nyquist plot, the decades of
    the `marked` ones (default: all) labelled."""
    for n, (spectrum, label) in enumerate(zip(spectra, labels)):
        z = spectrum.z_ohm_cm2
        line, = ax.plot(z.real, -z.imag, ".-", ms=3, lw=1, label=label)
        f = spectrum.frequency_Hz
        decades = np.isclose(np.log10(f), np.round(np.log10(f)), atol=1e-9)
        if marked is not None and n not in marked:
            continue
        for fk, zk in zip(f[decades], z[decades]):
            ax.annotate(f"{fk:g} Hz", (zk.real, -zk.imag), fontsize=6, color=line.get_color(),
                        xytext=(3, 3), textcoords="offset points")
    ax.set_xlabel("Z' (Ω cm²)")
    ax.set_ylabel("−Z'' (Ω cm²)")
    ax.set_aspect("equal", adjustable="datalim")
    ax.grid(alpha=0.3)
    if len(spectra) > 1 or labels[0]:
        ax.legend(fontsize=8)


def nyquist_png(spectra, title="") -> bytes:
    fig = new_figure(6.0, 4.5)
    ax = fig.add_subplot()
    nyquist_axes(ax, spectra, [f"step {s.step}" for s in spectra])
    ax.set_title(title, fontsize=9)
    return _png(fig)


def bode_png(spectra, title="") -> bytes:
    fig = new_figure(6.0, 5.0)
    top, bottom = fig.subplots(2, 1, sharex=True)
    for s in spectra:
        top.loglog(s.frequency_Hz, np.abs(s.z_ohm_cm2), ".-", ms=3, lw=1, label=f"step {s.step}")
        bottom.semilogx(s.frequency_Hz, np.degrees(np.angle(s.z_ohm_cm2)), ".-", ms=3, lw=1)
    top.set_ylabel("|Z| (Ω cm²)")
    bottom.set_ylabel("phase (°)")
    bottom.set_xlabel("frequency (Hz)")
    for ax in (top, bottom):
        ax.grid(alpha=0.3, which="both")
    top.legend(fontsize=8)
    top.set_title(title, fontsize=9)
    return _png(fig)

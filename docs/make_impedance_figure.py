"""docs/nyquist_architectures.png: impedance spectra of planar, trench and pillar cells with
the same films, and where the small-signal current crosses a pillar's anode interface.

    python docs/make_impedance_figure.py        # about 10 s

The cells are cases/trench_si_lipon_lco.toml and cases/micropillar_si_lipon_lco.toml (its
2D axisymmetric twin of equal footprint, `axisymmetric = true`), on their shipped meshes,
and their planar twin (the same layer list on a flat wafer: 50 nm TiN, 100 nm a-Si, 1 um
LiPON, 0.5 um LiCoO2, 100 nm Pt), each fresh (as its case starts: LiCoO2 at x = 0.5, Si
at x = 0.95), with one impedance step from 1 MHz to 1 mHz at 10 points per decade in place
of its protocol. Left: Nyquist plots per footprint area above 0.1 Hz; middle: |Z| over the
whole band. Right: the small-signal current
density across the pillar cell's anode | electrolyte interface relative to its mean, along
the interface from the pillar's axis over its top, down its wall and out along the floor,
at 1 kHz and at 10 mHz. The numbers the README quotes are printed.
"""

import copy
import sys
from pathlib import Path

import matplotlib
import numpy as np

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "docs"))

import solver  # noqa: E402
from make_figures import interface_path  # noqa: E402
from solver.case import case_from_dict, load_case  # noqa: E402
from solver.impedance import SmallSignal, Spectrum, interface_response  # noqa: E402
from solver.plots_impedance import nyquist_axes  # noqa: E402

CASES = ROOT / "cases"
SPECTRUM = [{"mode": "impedance", "frequencies": ["1 mHz", "1 MHz"], "points_per_decade": 10}]
FIELD_FREQUENCIES = (1e3, 1e-2)
NYQUIST_FROM = 0.1             # Hz: below it the diffusion tails dwarf the arcs


def cells():
    trench = load_case(CASES / "trench_si_lipon_lco.toml")
    pillar = load_case(CASES / "micropillar_si_lipon_lco.toml")
    out = {}
    flat = copy.deepcopy(trench.raw)
    flat["cell"]["architecture"] = "planar"
    del flat["cell"]["trench"]
    axisymmetric = copy.deepcopy(pillar.raw)
    axisymmetric["cell"]["micropillar"]["axisymmetric"] = True
    for name, data in (("planar", flat), ("trench", copy.deepcopy(trench.raw)),
                       ("pillar (axisymmetric)", axisymmetric)):
        data["protocol"] = SPECTRUM
        out[name] = case_from_dict(data, CASES, name)
    return out


def pillar_current(result):
    """Relative current density along the anode | electrolyte interface of an axisymmetric
    pillar cell at FIELD_FREQUENCIES: (arc length um, {frequency: relative magnitude})."""
    model = result.model
    sim_solver = solver.simulate.make_linear_solver(model)
    _, _, u0 = result.snapshots[-1]
    small = SmallSignal(model, u0, sim_solver)
    anode = next(e for e in model.electrodes if e.name == "anode")
    order, arc, _ = interface_path(result.grid, model.if_faces[anode.faces])
    profiles = {}
    for f in FIELD_FREQUENCIES:
        relative, _ = interface_response(model, small.response(f))
        profiles[f] = np.abs(relative[anode.faces][order])
    return arc * 1e6, profiles


def main(out_path=ROOT / "docs" / "nyquist_architectures.png"):
    results = {name: solver.run(case) for name, case in cells().items()}
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(15.0, 4.6), dpi=120)
    spectra = [r.spectra[0] for r in results.values()]
    labels = [f"{name} (AEF {r.summary['aef']:.2f})" for name, r in results.items()]
    above = [Spectrum(s.step, s.frequency_Hz[s.frequency_Hz >= NYQUIST_FROM],
                      s.z_ohm_cm2[s.frequency_Hz >= NYQUIST_FROM]) for s in spectra]
    nyquist_axes(left, above, labels, marked=[0, 1])
    left.set_title(f"Nyquist, {NYQUIST_FROM:g} Hz to 1 MHz, per footprint area", fontsize=9)
    for s, label in zip(spectra, labels):
        middle.loglog(s.frequency_Hz, np.abs(s.z_ohm_cm2), label=label)
    middle.set_xlabel("frequency (Hz)")
    middle.set_ylabel("|Z| (Ω cm²)")
    middle.set_title("Bode, 1 mHz to 1 MHz", fontsize=9)
    middle.grid(alpha=0.3, which="both")
    middle.legend(fontsize=8)
    for name, r in results.items():
        z = r.spectra[0].z_ohm_cm2
        f = r.spectra[0].frequency_Hz
        print(f"{name:22s} AEF {r.summary['aef']:.2f}  Z(1 MHz) {z[0]:.1f}  "
              f"Z(1 kHz) {z[np.argmin(abs(f - 1e3))]:.1f}  Z(1 Hz) {z[np.argmin(abs(f - 1))]:.1f}"
              f"  Z(1 mHz) {z[-1]:.1f} ohm cm2  "
              f"KK {r.summary['steps'][0]['kramers_kronig_residual']:.1e}")
    arc, profiles = pillar_current(results["pillar (axisymmetric)"])
    for f, profile in profiles.items():
        right.plot(arc, profile, label=f"{f:g} Hz")
        print(f"pillar anode interface at {f:g} Hz: relative current max {profile.max():.2f} "
              f"at {arc[np.argmax(profile)]:.1f} um, min {profile.min():.2f} at "
              f"{arc[np.argmin(profile)]:.1f} um")
    right.axhline(1.0, color="0.6", lw=0.8)
    right.set_xlabel("along the a-Si | LiPON interface: pillar top, wall, floor (µm)")
    right.set_ylabel("|small-signal current density| / mean")
    right.set_title("pillar cell: where the current crosses the anode interface", fontsize=9)
    right.grid(alpha=0.3)
    right.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(out_path)
    print(f"wrote {out_path}")


if __name__ == "__main__":
    main()

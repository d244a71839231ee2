"""Write lco_sigma_ambipolar.csv: the electronic conductivity that the ambipolar LiCoO2 of
Raijmakers et al. 2020 (Table 3, Fig. 5) implies, for cell_paper.toml.

    python validation/raijmakers2020/make_ambipolar_sigma.py

In their film Li+ and electrons both move by Nernst-Planck with D_Li+ = D0_Li+ beta(x) and
D_e = D0_e beta(x). Eliminating the field between them (c_e = c_Li+ = x c_max), the
electrons' quasi-Fermi level falls across the film by the current over

    sigma(x) = F^2 x c_max (D_Li+(x) + D_e(x)) / (R T) = F^2 x c_max D_p(x) (1 + r)^2 / (2 r R T)

(plus the electrons' share of the Li potential: solver/model/terms/ambipolar.py), with
D_p = 2 D_Li+ D_e / (D_Li+ + D_e) the table lco_diffusivity_paper.csv and r = D0_e / D0_Li+ =
5.06e-13 / 1.21e-13 (Table 3). Derived arithmetic on their fitted values, at their 20 degC.
"""

from pathlib import Path

import numpy as np

FARADAY, GAS_CONSTANT = 96485.33212, 8.314462618
HERE = Path(__file__).resolve().parent
RATIO = 5.06e-13 / 1.21e-13            # D0_e / D0_Li+, Table 3
C_MAX = 3.22e4                         # mol/m^3, Table 3
TEMPERATURE = 293.15                   # K, 20 degC


def main():
    lines = (HERE / "lco_diffusivity_paper.csv").read_text(encoding="utf-8").splitlines()
    rows = [line.split(",") for line in lines if line and not line.startswith("#")][1:]
    x, d_p = np.array(rows, dtype=float).T
    sigma = (FARADAY ** 2 * x * C_MAX * d_p * (1 + RATIO) ** 2
             / (2 * RATIO * GAS_CONSTANT * TEMPERATURE))
    text = __doc__.strip().splitlines()[4:]
    header = "\n".join(["# Written by make_ambipolar_sigma.py from the docstring's formula."]
                       + [("# " + line).rstrip() for line in text])
    rows = "\n".join(f"{a:.2f},{s:.4g}" for a, s in zip(x, sigma))
    (HERE / "lco_sigma_ambipolar.csv").write_text(
        header + "\nstoichiometry,electronic_conductivity_S_per_m\n" + rows + "\n",
        encoding="utf-8")


if __name__ == "__main__":
    main()

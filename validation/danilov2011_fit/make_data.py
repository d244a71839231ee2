"""Write the measured points of the Danilov 2011 fit study from the digitised numbers.

    python validation/danilov2011_fit/make_data.py

Reads ../_sources/data/danilov2011_rate_capability.csv and danilov2011_emf.csv (third-party
digitisation of Danilov, Niessen, Notten, J. Electrochem. Soc. 158 (2011) A215, Figs. 3-6;
see validation/_sources/rate_datasets.md) and writes, next to this script:

- lco_emf_ocv.csv: the authors' EMF of this film as an OCV table of x in LixCoO2. The paper
  gives the EMF against the charge taken out (Q_out, uAh/cm2), not x; with the fitted
  a_max = 2.33e4 mol/m3 in 320 nm, 1 uAh/cm2 is dx = 1 / 19.98, and x0 is set so that the
  EMF's 3.0 V point (Q_out = 10.1138) falls at x = 0.99: x = 0.4838 + Q_out / 19.98.
- rate_<C>C.csv: per rate, the points a fit can use (the full curves were not published):
  Q = 0 with the measured first voltage (Fig. 3), and Q = 2, 3, 4, 5, 6 uAh/cm2 with
  EMF(Q) + the plateau overpotential (Fig. 6: the median over Q = 2..6 of the measured
  voltage minus the authors' EMF), EMF(Q) by monotone (PCHIP) interpolation of the EMF points.
  The end capacity at 3.0 V (Fig. 3) is given in fit.toml.
"""

import csv
from pathlib import Path

import numpy as np
from scipy.interpolate import PchipInterpolator

HERE = Path(__file__).resolve().parent
SOURCES = HERE.parent / "_sources" / "data"
Q_PER_X = 96485.33212 * 2.33e4 * 320e-9 * 1e-4 / 3.6e-3       # uAh/cm2 per unit of x
X0 = 0.99 - 10.1138 / Q_PER_X
PLATEAU = (2.0, 3.0, 4.0, 5.0, 6.0)


def rows(path):
    lines = [line for line in path.read_text().splitlines()
             if line.strip() and not line.startswith("#")]
    return list(csv.DictReader(lines))


def main():
    emf_rows = rows(SOURCES / "danilov2011_emf.csv")
    q = np.array([float(r["capacity_uAh_cm2"]) for r in emf_rows])
    v = np.array([float(r["emf_V"]) for r in emf_rows])
    emf = PchipInterpolator(q, v)
    head = ("# Derived by make_data.py from validation/_sources/data/danilov2011_emf.csv (the authors' EMF,\n"
            "# digitised by a third party from Danilov et al. 2011 Figs. 4/5): x = %.4f + Q_out / %.3f\n"
            % (X0, Q_PER_X))
    with open(HERE / "lco_emf_ocv.csv", "w") as f:
        f.write(head + "stoichiometry,voltage_V\n")
        for qi, vi in zip(q, v):
            f.write(f"{X0 + qi / Q_PER_X:.5f},{vi:.4f}\n")
    for r in rows(SOURCES / "danilov2011_rate_capability.csv"):
        rate = r["rate_C"]
        eta = float(r["plateau_overpotential_mV"]) * 1e-3
        with open(HERE / f"rate_{rate}C.csv", "w") as f:
            f.write(f"# Derived by make_data.py: Danilov et al. 2011 at {rate}C (third-party digitisation):\n"
                    f"# Q = 0: measured first voltage (Fig. 3, +-1 mV); Q = 2..6 uAh/cm2: authors' EMF(Q)\n"
                    f"# + plateau overpotential {eta * 1e3:.1f} mV (Fig. 6, +-0.6 mV)\n"
                    "capacity_mAh_cm2,voltage_V\n")
            f.write(f"0,{float(r['voltage_at_Q0_V']):.4f}\n")
            for qi in PLATEAU:
                f.write(f"{qi * 1e-3:.4f},{float(emf(qi)) + eta:.4f}\n")


if __name__ == "__main__":
    main()

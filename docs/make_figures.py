"""Regenerate the figures in docs/ from the solver.

    python docs/make_figures.py            # writes docs/voltage_planar.png

docs/voltage_planar.png: the shipped planar cell (cases/planar_li_lipon_lco.toml) discharged
at several C-rates. Each curve is one `solver.run` of that case with the c_rate of its
single discharge step changed; everything else is as shipped.
"""

import copy
import sys
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

import solver  # noqa: E402
from solver.case import case_from_dict  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
CASE = ROOT / "cases" / "planar_li_lipon_lco.toml"
C_RATES = (0.1, 1, 5, 10, 20)


def with_c_rate(case, c_rate):
    """The case with the c_rate of its first protocol step replaced, validated again."""
    raw = copy.deepcopy(case.raw)
    raw["protocol"][0]["c_rate"] = c_rate
    return case_from_dict(raw, case.path.parent, source=str(case.path))


def voltage_planar(out_path):
    case = solver.load_case(CASE)
    fig, ax = plt.subplots(figsize=(6.4, 4.2), dpi=130)
    colours = plt.cm.viridis([0.0, 0.25, 0.5, 0.72, 0.9])
    for c_rate, colour in zip(C_RATES, colours):
        result = solver.run(with_c_rate(case, c_rate))
        step = result.summary["steps"][0]
        series = result.step_series(0)
        ax.plot(series["capacity_mAh_cm2"] * 1e3, series["voltage_V"], color=colour,
                label=f"{c_rate:g}C: {step['capacity_mAh_cm2'] * 1e3:.2f} µAh/cm²")
        print(f"{c_rate:>5g}C  {step['end_reason']:14s} "
              f"{step['capacity_mAh_cm2'] * 1e3:7.3f} uAh/cm2  "
              f"mean {step['mean_voltage_V']:.4f} V", file=sys.stderr)
    nominal = result.summary["nominal_capacity_uAh"]
    basis = ("the case's nominal capacity" if case.nominal_capacity
             else "the capacity of the limiting electrode")
    ax.set_xlabel("capacity (µAh/cm²)")
    ax.set_ylabel("cell voltage (V)")
    ax.set_title(f"{case.name}, {case.temperature - 273.15:g} °C\n"
                 f"1C = {nominal:.3g} µA ({basis}, {nominal:.3g} µAh)", fontsize=9)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, title="C-rate: capacity to 3.0 V", title_fontsize=8, loc="lower left")
    fig.tight_layout()
    fig.savefig(out_path)
    plt.close(fig)
    return out_path


def main():
    out = voltage_planar(ROOT / "docs" / "voltage_planar.png")
    print(f"wrote {out.relative_to(ROOT)}")


if __name__ == "__main__":
    main()

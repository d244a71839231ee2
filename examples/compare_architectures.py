"""Planar, trench and micropillar cells of the same materials on the same footprint.

The trench and pillar cells are the shipped cases (TiN | a-Si | LiPON | LiCoO2 | Pt on
structured silicon); the planar twin is the same layer stack on a flat wafer, with the
LiCoO2 as thick as the trench cell's fill would be if spread flat, so that all three
hold comparable cathode capacity and differ in how much Si film and interface area they
fit on 1 cm^2. Each cell is discharged to 3.0 V at several rates.

    python examples/compare_architectures.py [--rates 0.2 1 5] [--out docs/compare_architectures.png]
                                             [--axisymmetric]

Prints a table (areal capacity, energy, mean voltage per rate) and draws capacity against
C-rate and the 1C discharge curves.
"""

import argparse
import copy
from pathlib import Path

import thinfilm
from thinfilm import case_from_dict, load_case

CASES = thinfilm.CASES_DIR         # the shipped cases (the clone's cases/, or installed)


def variant(case, rate, **cell_changes):
    data = copy.deepcopy(case.raw)
    data["protocol"] = [{"mode": "discharge", "c_rate": rate, "until_voltage": "3.0 V"}]
    for key, value in cell_changes.items():
        data["cell"][key] = value
    return case_from_dict(data, CASES, case.name)


def planar_twin(trench_case, cathode_thickness):
    data = copy.deepcopy(trench_case.raw)
    data["cell"]["architecture"] = "planar"
    data["cell"]["name"] = "planar twin: TiN | a-Si | LiPON | LiCoO2 | Pt"
    del data["cell"]["trench"]
    for layer in data["cell"]["layers"]:
        if layer["name"] == "cathode":
            layer["thickness"] = cathode_thickness
    return case_from_dict(data, CASES, "planar twin")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rates", type=float, nargs="+", default=[0.2, 1.0, 5.0])
    parser.add_argument("--out", type=Path, default=None, help="figure (PNG)")
    parser.add_argument("--axisymmetric", action="store_true",
                        help="solve the pillar cell on its 2D axisymmetric twin (fast)")
    args = parser.parse_args()

    trench = load_case(CASES / "trench_si_lipon_lco.toml")
    pillar = load_case(CASES / "micropillar_si_lipon_lco.toml")
    if args.axisymmetric:
        data = copy.deepcopy(pillar.raw)
        data["cell"]["micropillar"]["axisymmetric"] = True
        pillar = case_from_dict(data, CASES, pillar.name)
    cells = {"planar": planar_twin(trench, "6 um"), "trench": trench, "micropillar": pillar}

    results = {}
    print(f"{'cell':12s} {'C-rate':>6s} {'uAh/cm2':>9s} {'uWh/cm2':>9s} {'mean V':>7s}  end")
    for name, case in cells.items():
        for rate in args.rates:
            r = thinfilm.run(variant(case, rate))
            s = r.summary["steps"][0]
            results[name, rate] = r
            print(f"{name:12s} {rate:6.2f} {s['capacity_mAh_cm2'] * 1e3:9.2f} "
                  f"{s['energy_mWh_cm2'] * 1e3:9.2f} {s['mean_voltage_V']:7.3f}  "
                  f"{s['end_reason']} (AEF {r.summary['aef']:.2f})")
    if args.out:
        draw(results, args.rates, args.out)
        print(f"figure: {args.out}")


def draw(results, rates, path):
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), dpi=120)
    names = sorted({name for name, _ in results}, key=["planar", "trench", "micropillar"].index)
    for name in names:
        caps = [results[name, r].summary["steps"][0]["capacity_mAh_cm2"] * 1e3 for r in rates]
        left.plot(rates, caps, "o-", label=name)
        one_c = min(rates, key=lambda r: abs(r - 1.0))
        ts = results[name, one_c].timeseries
        right.plot(ts["capacity_mAh_cm2"] * 1e3, ts["voltage_V"], label=f"{name}, {one_c:g}C")
    left.set_xscale("log")
    left.set_xticks(rates, [f"{r:g}C" for r in rates])
    left.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    left.set_xlabel("C-rate")
    left.set_ylabel("capacity to 3.0 V (µAh/cm² footprint)")
    right.set_xlabel("capacity (µAh/cm² footprint)")
    right.set_ylabel("cell voltage (V)")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Same films, same 1 cm² footprint: planar vs trench vs micropillar", fontsize=10)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


if __name__ == "__main__":
    main()

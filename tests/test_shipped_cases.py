"""Every shipped planar and bipolar case runs, at a coarse mesh, to the end its file promises."""

import tomllib

import pytest

import solver
from solver.case import case_from_dict
from tests.conftest import ROOT

CASES = ROOT / "cases"

# file -> expected end of each protocol step, and the capacity (uAh/cm^2) of the first one
EXPECTED = {
    "planar_li_lipon_lco.toml": (["until_voltage", "spectrum_done"], 10.97),
    "bipolar_3cell_li_lipon_lco.toml": (["until_voltage", "until_voltage", "spectrum_done"],
                                        11.74),
    "anode_free_cu_lipon_lco.toml": (["until_voltage", "until_time", "lithium_exhausted",
                                      "spectrum_done"], 12.73),
    "planar_lnmo_lipon_li.toml": (["until_voltage", "until_voltage", "spectrum_done"], 30.83),
    "planar_si_lipon_lco.toml": (["until_voltage", "until_voltage", "spectrum_done"], 13.3),
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_case_runs(name):
    with open(CASES / name, "rb") as handle:
        data = tomllib.load(handle)
    data["mesh"]["cells_per_layer"] = 6
    result = solver.run(case_from_dict(data, CASES, name))
    reasons, capacity = EXPECTED[name]
    steps = result.summary["steps"]
    assert [s["end_reason"] for s in steps] == reasons
    assert steps[0]["capacity_mAh_cm2"] * 1e3 == pytest.approx(capacity, rel=0.02)
    # each ends with an impedance spectrum, Kramers-Kronig consistent
    assert result.spectra and steps[-1]["kramers_kronig_residual"] < 1e-3


def test_every_planar_or_bipolar_case_is_covered():
    shipped = set()
    for path in CASES.glob("*.toml"):
        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        if "cell" not in data:          # a sweep file (base = ..., [grid]), not a case
            continue
        architecture = data["cell"].get("architecture", "planar")
        if architecture in ("planar", "bipolar"):
            shipped.add(path.name)
    assert shipped == set(EXPECTED)

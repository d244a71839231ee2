"""Tables as PyBaMM ships them (pybamm/input/parameters/*/data/*.csv) read as they are.

The files here are small ones written in each layout PyBaMM's data files use: a commented
title and a commented header ('# sto,ocp'), a comment between data rows ('# extra point to
avoid extrapolation'), a header row of names with units and CRLF line ends (the sodium-ion
tables), values padded with spaces or after ', ', no header at all.
"""

import numpy as np
import pytest

from solver.errors import InputError
from solver.materials import load_material, read_table

X = [0.0, 0.25, 0.5, 0.75, 1.0]
OCP = [4.4, 4.1, 3.9, 3.7, 3.5]

LAYOUTS = {
    # graphite_LGM50_ocp_Chen2020.csv: title, commented header, comments between rows
    "commented_header_and_row_comments": (
        "# OCP data for an electrode\n# sto,ocp\n# extra point to avoid extrapolation\n"
        "0,4.4\n# experimentally measured data\n0.25,4.1\n0.5,3.9\n0.75,3.7\n1,3.5\n",
        ("sto", "ocp")),
    # nmc811_18650_ocp_Zhuo2023.csv: values padded with spaces
    "padded_values": (
        "# OCP data\n# sto,ocp\n" + "".join(f"    {x:f},     {y:f}\n" for x, y in zip(X, OCP)),
        ("sto", "ocp")),
    # U_p.csv (sodium-ion): a header row of names with units, CRLF
    "header_row_crlf": (
        "Positive particle stoichiometry,Positive electrode open-circuit potential [V]\r\n"
        + "".join(f"{x},{y}\r\n" for x, y in zip(X, OCP)),
        ("Positive particle stoichiometry", "Positive electrode open-circuit potential [V]")),
    # nca_ocp_Kim2011_data.csv: no comment, no header, ', ' between values
    "bare_rows": ("".join(f"{x!r}, {y!r}\n" for x, y in zip(X, OCP)), ("x", "y")),
    # lico2_ocp_Ai2020.csv: '# stoichiometry , OCP [V]'
    "spaced_commented_header": (
        "# OCP for lico2\n# stoichiometry , OCP [V]\n"
        + "".join(f"{x},{y}\n" for x, y in zip(X, OCP)), ("stoichiometry", "OCP [V]")),
    # a spreadsheet export: byte-order mark before a headerless first row
    "byte_order_mark": ("\ufeff" + "".join(f"{x},{y}\n" for x, y in zip(X, OCP)), ("x", "y")),
}


@pytest.mark.parametrize("layout", LAYOUTS)
def test_pybamm_layouts_read_every_point_and_name_the_columns(tmp_path, layout):
    text, columns = LAYOUTS[layout]
    path = tmp_path / f"{layout}.csv"
    path.write_bytes(text.encode("utf-8"))
    table = read_table(path, "materials.LiCoO2.ocv")
    assert table.columns == columns
    assert list(table.x) == X and list(table.y) == OCP
    material = load_material("LiCoO2", {"ocv": path.name, "stoichiometry_range": [0.3, 0.9]},
                             tmp_path)
    assert material.value("ocv")(0.5) == pytest.approx(3.9)


def test_a_pybamm_diffusivity_table_is_read_as_a_log_table(tmp_path):
    # measured_graphite_diffusivity_Ecker2015.csv: bare rows, decades of D
    x = np.array([0.04, 0.2, 0.5, 0.8, 0.99])
    d = np.array([2.5e-13, 2.3e-14, 1.1e-14, 4.0e-15, 1.4e-14])
    (tmp_path / "d.csv").write_text("".join(f"{a:.17g},{b:.17g}\n" for a, b in zip(x, d)))
    material = load_material("LiCoO2", {"diffusivity": "d.csv"}, tmp_path)
    table = material.value("diffusivity")
    assert table.log and table(x) == pytest.approx(d, rel=1e-12)
    assert table(0.12) == pytest.approx(np.exp(np.interp(0.12, x, np.log(d))), rel=0.3)


def test_a_noisy_measured_ocv_is_refused_saying_where_it_rises(tmp_path):
    # graphite_LGM50_ocp_Chen2020.csv rises by 0.15 mV near x = 0.19: measurement noise
    (tmp_path / "noisy.csv").write_text("# sto,ocp\n0.1,0.30\n0.18,0.2183\n0.19,0.2185\n"
                                        "0.5,0.13\n0.9,0.09\n")
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", {"ocv": "noisy.csv"}, tmp_path, key="materials.LiCoO2")
    assert info.value.key == "materials.LiCoO2.ocv"
    assert "rises by 0.2 mV from x = 0.18 to 0.19" in info.value.expected


def test_a_table_of_concentration_is_refused_with_a_hint(tmp_path):
    # D_n.csv (sodium-ion): the first column is a concentration, not a stoichiometry
    (tmp_path / "D_n.csv").write_text(
        "Negative particle concentration [mol.m-3],Negative electrode diffusivity [m2.s-1]\r\n"
        "73.9,2.57E-16\r\n246.3,3.03E-16\r\n14433.5,1.24E-15\r\n")
    with pytest.raises(InputError) as info:
        load_material("LiCoO2", {"diffusivity": "D_n.csv"}, tmp_path, key="materials.LiCoO2")
    assert info.value.key == "materials.LiCoO2.diffusivity"
    assert "divide it by the maximum concentration" in info.value.expected

"""Library material sources cite papers by their names, never the project's or other tools' files.

`thinfilm materials NAME` shows every parameter's source to users, and the '#' header of each
data table is its provenance: they name authors, journal, year (and figure or table), refer to
other library entries by their material name ("the LiPON entry") and to other tools by name
(PyBaMM, BattMo, MPET), never by a file name, a path or an internal label such as "seed 004".
"""

import re

import pytest

import solver.materials as materials
from solver.materials import load_material
from solver.materials.library import DATA_DIR

# a file name with an extension (LiPON.toml, LNMO_ocv.csv, LiMn2O4_ss.py, LNMO_Pron.json,
# double_layer.md, computeJ0SiliconLi2012.m), an internal path or an internal label
FORBIDDEN = re.compile(
    r"\w\.(toml|csv|py|json|md|m)\b"
    r"|seed 0|seeds/|project (design|seed|brief)|design\.md"
    r"|validation/|solver/|src/|data_for_manuscripts",
    re.IGNORECASE)


def test_the_pattern_catches_what_it_should():
    for text in ("see LiCoO2.toml", "the CSV LNMO_ocv.csv", "MPET's LiMn2O4_ss.py",
                 "BattMo's LNMO_Pron.json", "validation/_sources/double_layer.md",
                 "BattMo's computeJ0SiliconLi2012.m returns", "project seed 004, Table 4",
                 "seed 002 ref. [96]", "project design: single-ion"):
        assert FORBIDDEN.search(text), text
    for text in ("Wu et al., Batteries 9 (2023) 186, Table 4", "J. Electrochem. Soc. 158 (2011) A215",
                 "see the LiPON entry", "1/rho with rho = 9.28e-8 ohm*m at 293 K",
                 "PyBaMM's Chen2020 parameter set", "modelling choice: single-ion"):
        assert not FORBIDDEN.search(text), text


@pytest.mark.parametrize("name", materials.library_names())
def test_sources_cite_papers_not_files(name):
    material = load_material(name)
    for param in material.names():
        source = material.source(param)
        hit = FORBIDDEN.search(source)
        assert hit is None, f"{name}.{param}: source cites {hit.group(0)!r}: {source}"


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.csv")), ids=lambda p: p.name)
def test_table_headers_cite_papers_not_files(path):
    notes = " ".join(line.lstrip("#").strip()
                     for line in path.read_text().splitlines() if line.startswith("#"))
    hit = FORBIDDEN.search(notes)
    assert hit is None, f"{path.name}: the '#' header cites {hit.group(0)!r}"


@pytest.mark.parametrize("path", sorted(DATA_DIR.glob("*.toml")), ids=lambda p: p.name)
def test_toml_comments_cite_papers_not_files(path):
    comments = [line for line in path.read_text().splitlines() if line.lstrip().startswith("#")]
    for line in comments:
        assert not FORBIDDEN.search(line), f"{path.name}: {line}"

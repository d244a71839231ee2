import copy
import tomllib
from pathlib import Path

import pytest

from solver.case import case_from_dict

ROOT = Path(__file__).resolve().parents[1]
SHIPPED_CASE = ROOT / "cases" / "planar_li_lipon_lco.toml"


def shipped_case_dict() -> dict:
    with open(SHIPPED_CASE, "rb") as handle:
        return tomllib.load(handle)


def planar_case(protocol=None, materials=None, mesh=None, solver=None, cell=None, base_dir=None):
    """The shipped planar case with parts replaced or merged, as a validated Case."""
    data = copy.deepcopy(shipped_case_dict())
    if protocol is not None:
        data["protocol"] = protocol
    for table, changes in (("materials", materials), ("mesh", mesh), ("solver", solver),
                           ("cell", cell)):
        if changes:
            data.setdefault(table, {})
            for key, value in changes.items():
                if isinstance(value, dict) and isinstance(data[table].get(key), dict):
                    data[table][key].update(value)
                else:
                    data[table][key] = value
    return case_from_dict(data, base_dir or SHIPPED_CASE.parent, source="test")


@pytest.fixture
def make_case():
    return planar_case

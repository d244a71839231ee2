"""What a command pays before it computes anything (DESIGN.md section 9: the command line
starts in under half a second): loading a case and building its model import neither
scipy.interpolate (with scipy.special and scipy.optimize, about 0.2 s; the tables build
their PCHIP pieces themselves) nor pint (0.3-0.45 s; solver.unit_atoms reads the common
unit spellings)."""

import subprocess
import sys

HEAVY = ("pint", "scipy.interpolate", "scipy.optimize", "scipy.special")


def test_loading_a_case_and_building_its_model_leave_the_heavy_modules_unloaded():
    code = ("import sys, pathlib; import solver.cli; from solver.case import load_case; "
            "from solver.shipped import resolve_case; from solver.api import build_grid; "
            "from solver.model import CellModel; "
            "case = load_case(resolve_case(pathlib.Path('planar_li_lipon_lco'))); "
            "CellModel(case, build_grid(case)); "
            f"print(sorted(m for m in {HEAVY!r} if m in sys.modules))")
    shown = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           check=True).stdout.strip()
    assert shown == "[]"

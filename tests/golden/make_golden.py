"""Record the cell model's residuals, Jacobians and short time series as golden data.

    python tests/golden/make_golden.py        # writes tests/golden/model_golden.npz

The model was reshaped into physics terms (solver/model/) with these values pinned:
tests/test_golden.py asserts that the model still gives them. Regenerate only when a
change of results is intended, and say so in the commit.
"""

import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.golden.cases import GOLDEN_CASES, golden_states  # noqa: E402

import solver  # noqa: E402
from solver.api import build_grid  # noqa: E402
from solver.model import CellModel  # noqa: E402

OUT = Path(__file__).resolve().parent / "model_golden.npz"


def main():
    data = {}
    for name, make in GOLDEN_CASES.items():
        case = make()
        model = CellModel(case, build_grid(case))
        for label, (u, history, a0, drive) in golden_states(model).items():
            R, J = model.residual_and_jacobian(u, history, a0, drive)
            matrix = model.jacobian_matrix(J).tocoo()
            data[f"{name}/{label}/R"] = R
            data[f"{name}/{label}/J_rows"] = matrix.row
            data[f"{name}/{label}/J_cols"] = matrix.col
            data[f"{name}/{label}/J_vals"] = matrix.data
        result = solver.run(make(short=True))
        for column in ("time_s", "voltage_V", "current_A", "capacity_mAh_cm2"):
            data[f"{name}/series/{column}"] = result.timeseries[column]
        print(f"{name}: {model.n_unknowns} unknowns, {len(result.timeseries['time_s'])} rows")
    np.savez_compressed(OUT, **data)
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB)")


if __name__ == "__main__":
    main()

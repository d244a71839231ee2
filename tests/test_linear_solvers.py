"""The iterative linear solvers (solver.krylov, solver.precondition) against the direct one
on trench and pillar Jacobians, and on broken input."""

import copy

import numpy as np
import pytest
import scipy.sparse as sp
import scipy.sparse.linalg as spla

from solver.api import build_grid
from solver.case import case_from_dict, load_case
from solver.krylov import KrylovSolver, left_gmres
from solver.linear import LinearSolver, SingularMatrix, make_linear_solver
from solver.model import CellModel
from solver.precondition import FaceBlocks, SubBlock, VCycle, sparsified
from tests.conftest import ROOT, perturbed_state

CASES = {"trench": (ROOT / "cases" / "trench_si_lipon_lco.toml", 3, "0.5 um"),
         "pillar": (ROOT / "cases" / "micropillar_si_lipon_lco.toml", 2, "2 um")}


def small_model(name):
    path, cells_per_layer, max_cell_size = CASES[name]
    data = copy.deepcopy(load_case(path).raw)
    data["mesh"] = {"cells_per_layer": cells_per_layer, "max_cell_size": max_cell_size}
    case = case_from_dict(data, path.parent, "test")
    return CellModel(case, build_grid(case))


@pytest.fixture(scope="module", params=["trench", "pillar"])
def model(request):
    return small_model(request.param)


def jacobian(model, drive, coeff=0.2, seed=0):
    """Jacobian data and residual at a state away from equilibrium (BDF coefficient
    `coeff` = 1/dt)."""
    u = perturbed_state(model, np.random.default_rng(seed), spread=0.05)
    history = -coeff * u[model.differential_columns]
    R, data = model.residual_and_jacobian(u, history, coeff, drive)
    return data, R


def krylov(model, **options):
    p = model.pattern
    return KrylovSolver(p.indptr, p.indices, model.n_unknowns, model.block_layout(), **options)


def assert_close_by_block(model, x, reference, rtol):
    """Within each kind of unknown (phi, x, i, xs, V) to rtol of that block's largest value."""
    for block in (model.s_phi, model.s_x, model.s_i, model.s_xs, slice(model.i_V, None)):
        scale = np.max(np.abs(reference[block]), initial=0.0)
        if scale > 0.0:
            assert np.max(np.abs(x[block] - reference[block])) <= rtol * scale


@pytest.mark.parametrize("potential", ["amg", "lu"])
@pytest.mark.parametrize("drive", [("current", 2e-6), ("voltage", 3.9)])
def test_block_preconditioned_gmres_gives_the_direct_solution(model, potential, drive):
    data, R = jacobian(model, drive)
    reference = LinearSolver(model.pattern.indptr, model.pattern.indices,
                             model.n_unknowns).solve(data, R)
    solver = krylov(model, potential=potential, rtol=1e-10)
    assert_close_by_block(model, solver.solve(data, R), reference, 1e-7)
    assert 0 < solver.iterations[-1] <= 40
    # the default tolerance (1e-6 on the equilibrated residual), as Newton uses it
    assert_close_by_block(model, krylov(model, potential=potential).solve(data, R),
                          reference, 1e-3)


def test_set_up_is_reused_and_stays_correct_across_changing_systems(model):
    solver = krylov(model, rtol=1e-10)
    direct = LinearSolver(model.pattern.indptr, model.pattern.indices, model.n_unknowns)
    # different states, time steps (the mass term of the stoichiometries) and drives
    for seed, coeff, drive in [(0, 0.2, ("current", 2e-6)), (1, 0.2, ("current", 2e-6)),
                               (2, 0.02, ("current", 1e-6)), (3, 2.0, ("voltage", 3.8))]:
        data, R = jacobian(model, drive, coeff=coeff, seed=seed)
        assert_close_by_block(model, solver.solve(data, R), direct.solve(data, R), 1e-7)
    assert solver.setups["potential"] < 4          # the potential set-up is kept


def test_broken_input_raises_singular_matrix_not_garbage(model):
    data, R = jacobian(model, ("current", 2e-6))
    solver = krylov(model)
    bad = data.copy()
    bad[::7] = np.nan
    with pytest.raises(SingularMatrix):
        solver.solve(bad, R)
    # a Butler-Volmer row of zeros: the interface block of that face is singular
    rows = np.repeat(np.arange(model.n_unknowns), np.diff(model.pattern.indptr))
    zero_row = data.copy()
    zero_row[rows == model.s_i.start] = 0.0
    with pytest.raises(SingularMatrix):
        solver.solve(zero_row, R)
    # and the solver recovers on a good matrix afterwards
    reference = LinearSolver(model.pattern.indptr, model.pattern.indices,
                             model.n_unknowns).solve(data, R)
    assert_close_by_block(model, solver.solve(data, R), reference, 1e-3)


def test_linear_solver_is_chosen_by_size_and_dimension(model):
    assert isinstance(make_linear_solver(model, direct_limit=10**9), LinearSolver)
    chosen = make_linear_solver(model, direct_limit=0)
    assert isinstance(chosen, KrylovSolver)
    assert chosen.potential == ("lu" if model.grid.dim == 2 else "amg")


def test_sub_blocks_match_slicing():
    rng = np.random.default_rng(0)
    A = sp.random(60, 60, density=0.1, random_state=1, format="csr") + sp.eye(60)
    A = sp.csr_matrix(A)
    A.sort_indices()
    for rows, cols in [((0, 30), (0, 30)), ((30, 60), (10, 45)), ((59, 60), (0, 60))]:
        block = SubBlock(A.indptr, A.indices, rows, cols)
        data = rng.standard_normal(A.nnz)
        B = sp.csr_matrix((data, A.indices, A.indptr), shape=A.shape)
        expected = B[rows[0]:rows[1], cols[0]:cols[1]].toarray()
        assert np.array_equal(block.matrix(data).toarray(), expected)


def test_face_blocks_invert_the_interface_blocks_of_any_size_real_or_complex():
    """Faces with 1 to 4 unknowns (Li metal; intercalation; with capacitances), in any order
    in the layout: the per-face inverse is exact, for real and complex values."""
    rng = np.random.default_rng(2)
    face_of = np.array([0, 1, 2, 3, 0, 2, 0, 1, 2, 3, 0, 3, 2])
    size = face_of.size
    same = face_of[:, None] == face_of[None, :]
    rows, cols = np.nonzero(same)
    pattern = sp.csr_matrix((np.ones(rows.size), (rows, cols)), shape=(size, size))
    blocks = FaceBlocks(SubBlock(pattern.indptr, pattern.indices, (0, size), (0, size)), face_of)
    for values in (rng.standard_normal(pattern.nnz),
                   rng.standard_normal(pattern.nnz) + 1j * rng.standard_normal(pattern.nnz)):
        A = sp.csr_matrix((values, pattern.indices, pattern.indptr), shape=(size, size))
        assert np.allclose((blocks.inverse(values) @ A).toarray(), np.eye(size))
    singular = np.ones(pattern.nnz)                  # every block all ones: det = 0
    with pytest.raises(FloatingPointError):
        blocks.inverse(singular)


def test_v_cycle_preconditions_a_laplacian_and_refreshes_its_values():
    m = 60
    lap = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    A = sp.csr_matrix(sp.kronsum(lap, lap) + 1e-3 * sp.eye(m * m))
    b = np.random.default_rng(4).standard_normal(m * m)
    cycle = VCycle(A, max_coarse=50)
    assert cycle.levels > 2
    for matrix in (A, sp.csr_matrix(A @ sp.diags(1.0 + 0.1 * np.cos(np.arange(m * m))))):
        cycle.refresh(matrix)
        count = []
        x, info = spla.gmres(matrix, b, M=spla.LinearOperator(A.shape, matvec=cycle.apply),
                             rtol=1e-10, callback=count.append, callback_type="pr_norm")
        assert info == 0 and len(count) < 20
        assert np.linalg.norm(matrix @ x - b) < 1e-8 * np.linalg.norm(b)


def test_sparsified_lumps_only_mutually_weak_entries_and_keeps_row_sums():
    A = sp.csr_matrix(np.array([[4.0, -3.0, -0.01, -0.5],
                                [-3.0, 4.0, 0.0, -1.0],
                                [-0.01, 0.0, 1.0, -0.99],
                                [-0.002, -1.0, -1.0, 3.0]]))
    S = sparsified(A, 0.05).toarray()
    assert S[0, 2] == S[2, 0] == 0.0              # weak in row 0 and in row 2: lumped
    assert S[0, 3] == -0.5 and S[3, 0] == -0.002  # weak in row 3 only: kept both ways
    assert np.allclose(S.sum(axis=1), A.toarray().sum(axis=1))
    cycle = VCycle(sp.csr_matrix(sp.kronsum(*(2 * [sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1],
                                                             shape=(40, 40))]))),
                   max_coarse=20, coarse_drop=0.05)
    assert cycle.levels > 2


def test_left_gmres_stops_where_scipy_gmres_does():
    m = 40
    lap = sp.diags([-1.0, 2.0, -1.0], [-1, 0, 1], shape=(m, m))
    A = sp.csr_matrix(sp.kronsum(lap, lap) + sp.diags(np.linspace(0.0, 0.5, m * m), 1,
                                                      shape=(m * m, m * m)))
    b = np.random.default_rng(5).standard_normal(m * m)
    cycle = VCycle(A, max_coarse=50)
    count = [0]
    x, info = left_gmres(A, b, cycle.apply, rtol=1e-8, atol=1e-14, restart=60, maxiter=4,
                         count=count)
    reference = []
    _, ref_info = spla.gmres(A, b, M=spla.LinearOperator(A.shape, matvec=cycle.apply),
                             rtol=1e-8, restart=60, maxiter=4, callback=reference.append,
                             callback_type="pr_norm")
    assert info == 0 == ref_info and abs(count[0] - len(reference)) <= 1
    assert np.linalg.norm(A @ x - b) <= 1e-8 * np.linalg.norm(b)


@pytest.mark.parametrize("dim", [2, 3])
def test_lithium_metal_electrode_on_a_2d_and_3d_stack(dim):
    # lithium metal: 1x1 interface blocks (no surface stoichiometry), no x unknowns there
    from meshes.planar import planar_grid
    from tests.conftest import planar_case

    case = planar_case()
    layers = [(layer.name, layer.thickness) for layer in case.layers]
    grid = planar_grid(layers, 12, case.footprint_area, dim=dim,
                       lateral_cells=12 if dim == 2 else 5)
    model = CellModel(case, grid)
    assert any(e.kind == "lithium_metal" for e in model.electrodes)
    data, R = jacobian(model, ("current", 1e-5))
    reference = LinearSolver(model.pattern.indptr, model.pattern.indices,
                             model.n_unknowns).solve(data, R)
    for potential in ("amg", "lu"):
        x = krylov(model, potential=potential, rtol=1e-10).solve(data, R)
        assert_close_by_block(model, x, reference, 1e-7)


def test_newton_stops_at_once_when_a_bound_blocks_the_update():
    # a stoichiometry at 0 that the update pushes below: the iterate cannot move, and the
    # solver used to repeat the same linear solve until max_iterations (20 solves per
    # failed attempt at the end of every pillar discharge)
    from solver.newton import NewtonFailure, newton_solve

    class Diagonal:
        calls = 0

        def solve(self, data, rhs):
            Diagonal.calls += 1
            return rhs / data

    def equations(u):                   # R = u - (-1, 0.5): the first unknown wants -1
        return u - np.array([-1.0, 0.5]), np.ones(2)

    with pytest.raises(NewtonFailure, match="blocked"):
        newton_solve(equations, Diagonal(), np.array([0.0, 0.2]), np.ones(2),
                     np.array([True, True]))
    assert Diagonal.calls == 1


@pytest.mark.parametrize("name", ["trench", "pillar"])
def test_discharge_with_the_automatic_iterative_solver_equals_the_direct_one(name,
                                                                             monkeypatch):
    # the solver make_linear_solver picks for large grids (block GMRES, potentials by LU in
    # 2D and AMG in 3D, loose first solves of each Newton solve), forced on a small grid
    import solver
    from solver import linear, simulate

    path = CASES[name][0]
    data = copy.deepcopy(load_case(path).raw)
    data["mesh"] = {"cells_per_layer": 2, "max_cell_size": "1 um" if name == "trench"
                    else "2 um"}
    data["protocol"] = data["protocol"][:1]           # the discharge
    case = case_from_dict(data, path.parent, "test")
    monkeypatch.setattr(simulate, "make_linear_solver",
                        lambda model: linear.make_linear_solver(model, direct_limit=10**9))
    direct = solver.run(case).summary["steps"][0]
    chosen = []

    def forced(model):
        chosen.append(linear.make_linear_solver(model, direct_limit=0))
        return chosen[-1]

    monkeypatch.setattr(simulate, "make_linear_solver", forced)
    iterative = solver.run(case).summary["steps"][0]
    assert isinstance(chosen[0], KrylovSolver) and chosen[0].loose_rtol is not None
    assert iterative["end_reason"] == direct["end_reason"]
    for key in ("capacity_mAh_cm2", "energy_mWh_cm2"):
        # Newton stops at 1e-3 of rtol with the direct solver, at 1e-8 with GMRES
        assert iterative[key] == pytest.approx(direct[key], rel=1e-4)


def test_stoichiometry_amg_on_the_face_neighbour_pattern_gives_the_direct_solution(model):
    from solver.linear import stoichiometry_adjacency

    data, R = jacobian(model, ("current", 2e-6), coeff=0.02)
    reference = LinearSolver(model.pattern.indptr, model.pattern.indices,
                             model.n_unknowns).solve(data, R)
    adjacency = stoichiometry_adjacency(model)
    assert adjacency.shape == (model.n_x, model.n_x) and adjacency.nnz > model.n_x
    solver = krylov(model, rtol=1e-10, x_adjacency=adjacency)
    S = solver._operators(solver.equilibration.scaled(data, R)[0])["S_xx"]
    cut = solver._two_point(S)
    assert cut.nnz < S.nnz
    assert np.allclose(np.asarray(cut.sum(axis=1)).ravel(), np.asarray(S.sum(axis=1)).ravel())
    assert_close_by_block(model, solver.solve(data, R), reference, 1e-7)

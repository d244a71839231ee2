"""The one runner of sweeps, validation and fits (solver/runner.py), and the progress
bars: validation's runs go through it (a given scheduler), worker errors are outcomes with
a status, and --quiet shows no progress."""

import io
import shutil
import sys

import pytest

from solver import cli, runner, validation
from tests.conftest import SHIPPED_CASE

distributed = pytest.importorskip("distributed")




def _toy_root(tmp_path):
    """A study root with one quick study: West 2002's C/10 run and its comparisons."""
    root = tmp_path / "validation"
    shutil.copytree(validation.VALIDATION_DIR / "west2002", root / "toy")
    return root


class _Terminal(io.StringIO):
    """A stderr that says it is a terminal: where progress bars are drawn."""

    def isatty(self):
        return True


def test_validation_runs_on_the_shared_runner_through_a_scheduler(tmp_path, client):
    root = _toy_root(tmp_path)
    with distributed.get_task_stream(client) as tasks:
        result = validation.run_suite(tmp_path / "out", root=root, scheduler=client,
                                      plots=False)
    keys = [str(task["key"]) for task in tasks.data]
    assert any(key.startswith("thinfilm-validate-toy-C/10") for key in keys), keys
    assert result["runs"]["toy"]["C/10"]["status"] == "ok"
    direct = validation.execute_run(
        validation.prepare_run("toy", validation.load_study(root / "toy").runs["C/10"])[0].case,
        "toy", "C/10")
    assert result["runs"]["toy"]["C/10"]["summary"]["steps"] == direct["summary"]["steps"]
    assert client.status == "running"           # a client given is left open


def test_the_validate_command_takes_a_scheduler_address(tmp_path, client, capsys):
    root = _toy_root(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["validate", "--root", str(root), "--out", str(out), "--quiet",
                     "--scheduler", client.scheduler.address]) == 0
    assert "results in" in capsys.readouterr().out and (out / "validation.json").is_file()
    assert cli.main(["validate", "--root", str(root), "--out", str(out), "--workers", "1",
                     "--scheduler", client.scheduler.address]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("thinfilm: invalid input: --workers")


def test_a_validation_whose_runs_did_not_finish_exits_3(tmp_path, client, capsys):
    """Every run stopped by --time-limit: no comparison was evaluated, and validate had
    exited 0."""
    root = _toy_root(tmp_path)
    out = tmp_path / "out"
    assert cli.main(["validate", "--root", str(root), "--out", str(out), "--quiet",
                     "--scheduler", client.scheduler.address, "--time-limit", "1 ms"]) == 3
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not evaluated" in err[0] and "time_limit" in err[0]
    assert "time_limit" in (out / "report.md").read_text()


@pytest.mark.parametrize("reply", [None, b"HTTP/1.0 400 Bad Request\r\n\r\n"],
                         ids=["silent", "http"])
def test_a_scheduler_address_where_no_scheduler_answers_is_refused_in_time(monkeypatch,
                                                                          reply):
    """A server that accepts the connection and says nothing, or something that is not
    Dask (an HTTP server at that port): distributed's Client had waited for ever."""
    import socket
    import threading
    import time

    monkeypatch.setattr(runner, "CONNECT_TIMEOUT_S", 1)
    server = socket.create_server(("127.0.0.1", 0))
    held = []

    def accept():
        conn, _ = server.accept()
        held.append(conn)
        if reply is not None:
            conn.recv(1024)
            conn.sendall(reply)

    threading.Thread(target=accept, daemon=True).start()
    address = f"tcp://127.0.0.1:{server.getsockname()[1]}"
    started = time.perf_counter()
    try:
        with pytest.raises(cli.InputError) as info:
            runner._connect(address, 1)
    finally:
        server.close()
        for conn in held:
            conn.close()
    assert info.value.key == "scheduler" and "could not connect" in str(info.value)
    assert time.perf_counter() - started < 5


def test_a_run_that_raises_in_a_worker_is_a_run_with_status_error(tmp_path, client,
                                                                  monkeypatch):
    import solver.api

    def broken(*args, **kwargs):
        raise RuntimeError("a bug in the solver")

    monkeypatch.setattr(solver.api, "run", broken)   # the cluster's workers are threads here
    result = validation.run_suite(tmp_path / "out", root=_toy_root(tmp_path),
                                  scheduler=client, plots=False)
    out = result["runs"]["toy"]["C/10"]
    assert out["status"] == "error" and "RuntimeError: a bug in the solver" in out["message"]
    assert {s["status"] for s in result["skipped"]} == {"error"}


def test_an_exception_on_a_worker_is_an_outcome_in_job_order(client):
    def fails(value):
        if value == 2:
            raise ValueError(f"job {value} failed")
        return {"job": value, "status": "ok"}

    outcomes = runner.run_all(fails, [1, 2, 3], lambda job: (job,), lambda job: f"fails-{job}",
                              lambda job, exc: {"job": job, "status": "error",
                                                "message": f"{type(exc).__name__}: {exc}"},
                              scheduler=client)
    assert [o["job"] for o in outcomes] == [1, 2, 3]
    assert [o["status"] for o in outcomes] == ["ok", "error", "ok"]
    assert outcomes[1]["message"] == "ValueError: job 2 failed"


def test_progress_bars_show_on_a_terminal_and_never_with_quiet(tmp_path, client, monkeypatch):
    root = _toy_root(tmp_path)
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    assert cli.main(["validate", "--root", str(root), "--out", str(tmp_path / "a"),
                     "--scheduler", client.scheduler.address]) == 0
    assert "validate" in terminal.getvalue() and "1/1" in terminal.getvalue()
    for argv in (["validate", "--root", str(root), "--out", str(tmp_path / "b"), "--quiet",
                  "--scheduler", client.scheduler.address],
                 ["run", str(SHIPPED_CASE), "--out", str(tmp_path / "c"), "--quiet"]):
        terminal.seek(0)
        terminal.truncate()
        assert cli.main(argv) == 0
        assert terminal.getvalue() == "", argv


def test_the_sweep_bar_shows_on_a_terminal_and_never_with_quiet(tmp_path, client,
                                                                 monkeypatch):
    sweep = tmp_path / "sweep.toml"
    sweep.write_text(f'base = "{SHIPPED_CASE}"\n[grid]\n"protocol.0.c_rate" = [1, 2]\n'
                     f'"mesh.cells_per_layer" = [4]\n')
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    address = client.scheduler.address
    assert cli.main(["sweep", str(sweep), "--out", str(tmp_path / "a"),
                     "--scheduler", address]) == 0
    assert "sweep" in terminal.getvalue() and "2/2" in terminal.getvalue()
    terminal.seek(0)
    terminal.truncate()
    assert cli.main(["sweep", str(sweep), "--out", str(tmp_path / "b"), "--quiet",
                     "--scheduler", address]) == 0
    assert terminal.getvalue() == ""


def test_run_progress_with_quiet_prints_nothing(monkeypatch):
    from solver.case import load_case

    terminal = _Terminal()
    monkeypatch.setattr(sys, "stderr", terminal)
    case = load_case(SHIPPED_CASE)
    progress = cli._Progress(case, quiet=True, delay=0.0)
    for k, step in enumerate(case.protocol):
        progress(k, step, 10.0, 3.9, 0.01)
    progress.close()
    assert terminal.getvalue() == ""
    shown = cli._Progress(case, quiet=False, delay=0.0)
    shown(1, case.protocol[1], 10.0, 3.9, 0.01)
    shown.close()
    assert "step 0 (0..1)" in terminal.getvalue()


def test_a_signal_while_the_local_cluster_starts_closes_it(monkeypatch):
    """SIGTERM or Ctrl-C while the workers started left a cluster half started, which
    distributed's exit hook then failed to close with a traceback."""
    import signal

    started = []

    class Signalled(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            super().__init__(*args, **kwargs)
            started.append(self)
            signal.raise_signal(signal.SIGTERM)      # the same at any point of the start

    monkeypatch.setattr(distributed, "LocalCluster", Signalled)
    try:
        with cli._signals_interrupt(), pytest.raises(KeyboardInterrupt):
            runner.DaskRunner(1)
        assert started[0].status.name == "closed"
    finally:
        started[0].close()


def test_a_command_stopped_before_any_run_says_nothing_was_kept(tmp_path, capsys,
                                                                monkeypatch):
    """It had said its finished runs were kept, in a folder it had not written."""
    from solver.errors import RunInterrupted

    def stopped(*args, **kwargs):
        raise RunInterrupted("terminated (SIGTERM)")

    monkeypatch.setattr(runner, "_connect", stopped)
    sweep = SHIPPED_CASE.parent / "sweep_planar_rate.toml"
    out = tmp_path / "out"
    assert cli.main(["sweep", str(sweep), "--out", str(out)]) == 143
    assert capsys.readouterr().err.splitlines() == ["thinfilm: terminated (SIGTERM)"]
    assert not out.exists()


def test_a_second_signal_while_the_cluster_closes_waits_for_it(monkeypatch):
    """A second Ctrl-C (or SIGTERM) while a stopped sweep closed its cluster left it half
    closed: worker processes and leaked semaphores reported at exit."""
    import signal

    dask_runner = runner.DaskRunner(1)
    cluster = dask_runner.cluster
    close = cluster.close

    def signalled_close(*args, **kwargs):
        signal.raise_signal(signal.SIGINT)
        return close(*args, **kwargs)

    monkeypatch.setattr(cluster, "close", signalled_close)
    try:
        with pytest.raises(KeyboardInterrupt):
            dask_runner.close()
        assert cluster.status.name == "closed" and dask_runner.cluster is None
    finally:
        close()


def test_a_signal_while_results_csv_is_written_waits_for_it(tmp_path, monkeypatch, client):
    """A second signal while a stopped sweep wrote its results.csv left none (or the one
    of a second before)."""
    import importlib
    import signal

    sweep = importlib.import_module("solver.sweep")     # (solver.sweep is the function)
    text = sweep.results_csv

    def signalled(table):
        signal.raise_signal(signal.SIGINT)
        return text(table)

    monkeypatch.setattr(sweep, "results_csv", signalled)
    grid = {"base": str(SHIPPED_CASE), "grid": {"protocol.0.c_rate": [5],
                                                "mesh.cells_per_layer": [4]}}
    with pytest.raises(KeyboardInterrupt):
        sweep.sweep(grid, tmp_path / "out", scheduler=client)
    rows = (tmp_path / "out" / "results.csv").read_text().splitlines()
    assert len(rows) == 2 and ",ok," in rows[1]


def test_the_worker_processes_start_with_ctrl_c_ignored(monkeypatch):
    """Ctrl-C reaches the whole process group: workers still importing (before dask_setup)
    printed KeyboardInterrupt tracebacks. They inherit SIGINT ignored from the cluster's
    start; the handler of this process is back once it has started."""
    import signal

    during = []

    class Recording(distributed.LocalCluster):
        def __init__(self, *args, **kwargs):
            during.append(signal.getsignal(signal.SIGINT))
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(distributed, "LocalCluster", Recording)
    before = signal.getsignal(signal.SIGINT)
    with runner.DaskRunner(1) as dask_runner:
        assert during == [signal.SIG_IGN] and signal.getsignal(signal.SIGINT) is before
        assert dask_runner.client.run(signal.getsignal, signal.SIGINT) == \
            {address: signal.SIG_IGN for address in dask_runner.client.nthreads()}

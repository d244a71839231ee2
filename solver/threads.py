"""Threads of the numerical libraries (BLAS, LAPACK, OpenMP): one per process by default.

thinfilm's linear algebra is sparse and its dense pieces are small, so BLAS threads buy
little; on a machine where other work runs, they fight it for the cores (a 23 000-cell
trench ran 7-12 times slower with the default thread count beside two busy processes,
issue 9). Runs, sweep workers and validation workers therefore use `threads()` threads: 1
unless `--threads N` or the environment variable THINFILM_THREADS says otherwise.
"""

from __future__ import annotations

import contextlib
import os

from .errors import InputError

ENVIRONMENT = "THINFILM_THREADS"
DEFAULT_THREADS = 1


def threads(requested=None) -> int:
    """The thread count: `requested` (from --threads), else THINFILM_THREADS, else 1."""
    key, value = "--threads", requested
    if value is None:
        key, value = ENVIRONMENT, os.environ.get(ENVIRONMENT)
        if value is None or not value.strip():
            return DEFAULT_THREADS
        try:
            value = int(value)
        except ValueError:
            raise InputError(key, os.environ[ENVIRONMENT], "a whole number >= 1") from None
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise InputError(key, value, "a whole number >= 1")
    return value


@contextlib.contextmanager
def limited_threads(n: int):
    """Limit the BLAS/LAPACK/OpenMP pools of this process to `n` threads inside the block.

    The libraries are loaded first (numpy's, scipy's and basix's BLAS, scipy's sparse
    solvers): threadpoolctl acts on loaded libraries only. (A library built for fewer
    threads keeps its own count.)
    """
    import basix  # noqa: F401
    import numpy  # noqa: F401
    import scipy.linalg  # noqa: F401
    import scipy.sparse.linalg  # noqa: F401
    from threadpoolctl import threadpool_limits

    with threadpool_limits(limits=n):
        yield

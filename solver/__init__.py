"""thinfilm: continuum solver for all-solid-state thin-film lithium batteries."""

from .case import load_case
from .api import run
from .sweep import sweep
from .compare import compare

__all__ = ["load_case", "run", "sweep", "compare"]

"""thinfilm: continuum solver for all-solid-state thin-film lithium batteries."""

from .case import load_case
from .api import run

__all__ = ["load_case", "run"]

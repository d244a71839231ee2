"""The package beside this one (`meshes` beside `solver`), under the parent this package was
imported as: the repository keeps `solver/` and `meshes/` at its top level (the tests import
them so), and the wheel installs them as `thinfilm.solver` and `thinfilm.meshes` (no generic
top-level names in site-packages). Importing the sibling by the same parent means one process
never holds two copies of a module (two `InputError` classes, two caches)."""

import importlib

_PARENT = __package__.rpartition(".")[0]     # "" in a checkout, "thinfilm" installed


def sibling(module: str):
    """The module `module` ("meshes.planar") of the sibling package."""
    return importlib.import_module(f"{_PARENT}.{module}" if _PARENT else module)

"""The version of thinfilm, in one place: the build (pyproject.toml) and `thinfilm
--version` read it."""

__version__ = "0.1.0"

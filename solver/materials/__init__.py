"""Materials library: data files (one TOML per material, CSV tables) and their loader.

Every number carries its source. Public interface (see docs/internals.md, Materials)::

    library_names() -> list[str]
    load_material(name, overrides=None, base_dir=None, key="materials") -> Material
    Material.name, .kind, .description, .value(p), .source(p), .has(p)
    Table(x, y, log=False): callable y(x) and .derivative(x), vectorised
    format_library() -> str;  format_material(name) -> str
"""

from .library import (DATA_DIR, OVERRIDE_SOURCE, Material, Parameter, format_library,
                      format_material, format_value, library_names, load_material)
from .schema import ELECTROLYTE_MODELS, KINDS, KINETICS, PARAMETERS
from .table import Table, read_table

__all__ = [
    "DATA_DIR", "ELECTROLYTE_MODELS", "KINDS", "KINETICS", "OVERRIDE_SOURCE", "PARAMETERS",
    "Material", "Parameter", "Table", "format_library", "format_material", "format_value",
    "library_names", "load_material", "read_table",
]

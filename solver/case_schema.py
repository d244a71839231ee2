"""A JSON Schema (draft 2020-12) of the case format, for editors (`thinfilm schema`).

Generated, never written by hand: the keys each table takes come from the tuples the
validator checks against (solver/case.py: CELL_KEYS, LAYER_KEYS, STEP_RULES, ...), the
parameters of [materials.NAME] and their dimensions from the materials schema
(solver/materials/schema.py) and the library, the unit examples from solver/units.py.
What a key means is said once, in CASE_KEY_HELP below; a test checks that it describes
exactly the keys the validator takes. The schema lets an editor complete keys and flag
unknown keys, wrong types and missing required keys; the validator (`thinfilm run`) stays
the judge of values and the source of the messages.
"""

from __future__ import annotations

from . import case as case_format
from .materials import library_names, load_material
from .materials.schema import CHOICE, KINETICS, PARAMETERS, QUANTITY_OR_TABLE, RANGE, TABLE
from .units import _NUMBER, C_RATE_EXAMPLES, C_RATE_PATTERN, DIMENSIONS, MAX_QUANTITY_LENGTH

SCHEMA_ID = "https://thinfilm.invalid/schema/case.json"
DRAFT = "https://json-schema.org/draft/2020-12/schema"

# A quantity written as a string: a number, then optionally a unit (pint parses the unit).
QUANTITY_PATTERN = rf"^\s*{_NUMBER.pattern}(\s*\S.*)?$"

# What each case key means, by its table. Types and dimensions are in CASE_KEY_TYPES.
CASE_KEY_HELP: dict[str, dict[str, str]] = {
    "": {
        "cell": "the cell: its size, temperature and layers",
        "materials": "overrides of library materials, one [materials.NAME] table each",
        "mesh": "grid settings",
        "protocol": "what to do with the cell: [[protocol]] steps run in order",
        "solver": "time stepping and output settings",
    },
    "cell": {
        "name": "name of the case, shown in results",
        "architecture": "planar | bipolar | trench | micropillar",
        "footprint_area": "area of the substrate the cell covers",
        "temperature": "cell temperature (isothermal)",
        "nominal_capacity": "defines the C-rate; default: the theoretical capacity of the "
                            "limiting electrode",
        "series_resistance": "contacts and leads, per footprint area",
        "layers": "layers from the bottom tab to the top tab, one [[cell.layers]] table each",
        "allow_large": "true accepts films thicker than 1 mm and structures larger than "
                       "1 cm, otherwise taken for unit mistakes",
        "bipolar": "unit cells in series (architecture = 'bipolar')",
        "trench": "trenches etched in the substrate (architecture = 'trench')",
        "micropillar": "pillars or holes on a lattice (architecture = 'micropillar')",
    },
    "cell.layers": {
        "name": "layer name, unique, without '.'",
        "material": "a library material (thinfilm materials lists them)",
        "thickness": "film thickness; '0 um' of Li next to a collector: an anode-free cell",
        "initial_stoichiometry": "lithium fraction x the film starts at (intercalation "
                                 "electrodes)",
        "initial_voltage": "instead of initial_stoichiometry: the x at which the film's OCV "
                           "vs Li equals this",
        "step_coverage": "film thickness on the walls over its thickness on top: a ratio, "
                         "or [at the top of the wall, at its foot]",
        "bottom_coverage": "film thickness on the floor over its thickness on top",
    },
    "cell.bipolar": {
        "n_cells": "number of unit cells in series",
        "variations": "per-cell changes, one [[cell.bipolar.variations]] table each",
    },
    "cell.bipolar.variations": {
        "cell": "the cell to change, 1 = the bottom cell",
        "layer": "the layer of the unit cell to change",
        "thickness": "its thickness in this cell",
        "initial_stoichiometry": "its initial x in this cell",
    },
    "cell.trench": {
        "width": "opening of a trench",
        "depth": "depth of a trench",
        "pitch": "period: trench width + wall width",
        "dimension": "2: the cross-section of one period; 3: extruded along the trench",
        "length": "extrusion length (dimension = 3)",
    },
    "cell.micropillar": {
        "diameter": "pillar (or hole) diameter",
        "height": "pillar height, or hole depth",
        "pitch": "nearest-neighbour distance of the lattice",
        "lattice": "square | hexagonal",
        "holes": "true: holes of this diameter instead of pillars",
        "axisymmetric": "true: solve the 2D axisymmetric cell of equal footprint",
    },
    "mesh": {
        "cells_per_layer": "cells through each film's thickness",
        "max_cell_size": "largest cell along surfaces (2D and 3D cells)",
        "grading": "0 = uniform cells, towards 1 = ever finer towards the interfaces",
        "refine": "refine where a film's surface is under-resolved",
    },
    "solver": {
        "rtol": "relative tolerance of the adaptive time stepping",
        "max_step": "largest time step",
        "initial_step": "first time step",
        "fields_every": "write the fields every N accepted steps (0: never)",
        "store_every": "keep every Nth accepted step's row",
    },
    "protocol.step": {
        "mode": "discharge | charge | rest | hold | cccv | impedance",
        "c_rate": "current as a multiple of the nominal capacity per hour",
        "current": "current (the mode gives the direction)",
        "current_density": "current per footprint area",
        "voltage": "hold: the voltage held; cccv: charged up to it, then held",
        "until_voltage": "end the step at this cell voltage",
        "until_time": "end the step after this time",
        "until_current": "end a hold (or the CV part of cccv) when the current falls to this",
        "max_duration": "bound of a step that may not reach its end (then solver_failed)",
    },
    "protocol.block": {
        "repeat": "how many times to run the steps",
        "steps": "the steps to repeat (steps or blocks)",
        "until_voltage": "cutoff of the block's discharge or charge steps; reaching it ends "
                         "the block",
    },
    "protocol.impedance": {
        "mode": "impedance: small-signal spectrum at the present state",
        "frequencies": "[f_min, f_max]",
        "points_per_decade": "frequencies per decade",
        "field_frequencies": "frequencies at which to write the small-signal fields "
                             "(trench and micropillar cells)",
    },
}

# The keys each table takes, as the validator lists them.
CASE_TABLE_KEYS = {
    "": case_format.TOP_KEYS,
    "cell": case_format.CELL_KEYS,
    "cell.layers": case_format.LAYER_KEYS,
    "cell.bipolar": case_format.BIPOLAR_KEYS,
    "cell.bipolar.variations": case_format.VARIATION_KEYS,
    "cell.trench": case_format.TRENCH_KEYS,
    "cell.micropillar": case_format.MICROPILLAR_KEYS,
    "mesh": case_format.MESH_KEYS,
    "solver": case_format.SOLVER_KEYS,
    "protocol.step": case_format.STEP_KEYS,
    "protocol.block": case_format.BLOCK_KEYS,
    "protocol.impedance": case_format.IMPEDANCE_KEYS,
}


# ------------------------------------------------------------------------------------------
# value shapes

def quantity(dimension: str, *, positive: bool = False, **bounds) -> dict:
    """A number (SI) or a "number unit" string of the dimension (parse_quantity takes
    both, also for plain numbers); `bounds` are JSON Schema limits of the number."""
    number: dict = {"type": "number", **bounds}
    if positive:
        number["exclusiveMinimum"] = 0
    string = {"type": "string", "pattern": QUANTITY_PATTERN, "maxLength": MAX_QUANTITY_LENGTH}
    if dimension == "dimensionless":
        return {"anyOf": [number, string]}
    si_unit, described = DIMENSIONS[dimension]
    return {"anyOf": [number, string], "x-thinfilm-dimension": dimension,
            "x-thinfilm-unit": f"{described}; a plain number is in {si_unit}"}


def current_or_c_rate() -> dict:
    """A current, or a C-rate string ("C/20") as the keys of C_RATE_KEYS take it."""
    shape = quantity("current", positive=True)
    c_rate = {"type": "string", "pattern": C_RATE_PATTERN}
    return {**shape, "anyOf": [*shape["anyOf"], c_rate],
            "x-thinfilm-unit": f"{shape['x-thinfilm-unit']}; or {C_RATE_EXAMPLES}"}


def integer(minimum: int) -> dict:
    return {"type": "integer", "minimum": minimum}


def ratio() -> dict:
    return quantity("dimensionless", exclusiveMinimum=0, maximum=1)


def fraction() -> dict:
    return quantity("dimensionless", minimum=0, maximum=1)


BOOLEAN = {"type": "boolean"}
STRING = {"type": "string", "minLength": 1}

# Shapes of the case keys (table -> key -> JSON Schema of its value). Sub-tables, lists of
# tables and the protocol are built in `case_schema`.
CASE_KEY_TYPES: dict[str, dict[str, dict]] = {
    "cell": {
        "name": {**STRING, "maxLength": case_format.MAX_NAME},
        "architecture": {"enum": list(case_format.ARCHITECTURES)},
        "footprint_area": quantity("area", positive=True),
        "temperature": quantity("temperature"),
        "nominal_capacity": quantity("charge", positive=True),
        "series_resistance": quantity("area_resistance", minimum=0),
        "allow_large": BOOLEAN,
    },
    "cell.layers": {
        "name": {"type": "string", "pattern": r"^[^.]+$", "maxLength": case_format.MAX_NAME},
        "material": {"enum": library_names()},
        "thickness": quantity("length", minimum=0),
        "initial_stoichiometry": fraction(),
        "initial_voltage": quantity("voltage", positive=True),
        "step_coverage": {"anyOf": [ratio(), {"type": "array", "items": ratio(),
                                              "minItems": 2, "maxItems": 2}]},
        "bottom_coverage": ratio(),
    },
    "cell.bipolar": {"n_cells": integer(1)},
    "cell.bipolar.variations": {
        "cell": integer(1),
        "layer": STRING,
        "thickness": quantity("length", positive=True),
        "initial_stoichiometry": fraction(),
    },
    "cell.trench": {
        "width": quantity("length", positive=True),
        "depth": quantity("length", positive=True),
        "pitch": quantity("length", positive=True),
        "dimension": {"enum": [2, 3]},
        "length": quantity("length", positive=True),
    },
    "cell.micropillar": {
        "diameter": quantity("length", positive=True),
        "height": quantity("length", positive=True),
        "pitch": quantity("length", positive=True),
        "lattice": {"enum": list(case_format.LATTICES)},
        "holes": BOOLEAN,
        "axisymmetric": BOOLEAN,
    },
    "mesh": {
        "cells_per_layer": integer(1),
        "max_cell_size": quantity("length", positive=True),
        "grading": quantity("dimensionless", minimum=0, exclusiveMaximum=1),
        "refine": BOOLEAN,
    },
    "solver": {
        "rtol": quantity("dimensionless", exclusiveMinimum=0, maximum=0.1),
        "max_step": quantity("time", positive=True),
        "initial_step": quantity("time", positive=True),
        "fields_every": integer(0),
        "store_every": integer(1),
    },
    "protocol.step": {
        "mode": {"enum": list(case_format.STEP_RULES)},
        **{name: quantity(dimension, positive=True)
           for name, dimension in case_format.STEP_QUANTITIES.items()},
        **{name: current_or_c_rate() for name in case_format.C_RATE_KEYS},
    },
    "protocol.block": {
        "repeat": integer(1),
        "until_voltage": quantity("voltage", positive=True),
    },
    "protocol.impedance": {
        "mode": {"const": "impedance"},
        "frequencies": {"type": "array", "items": quantity("frequency", positive=True),
                        "minItems": 2, "maxItems": 2},
        "points_per_decade": integer(1),
        "field_frequencies": {"type": "array",
                              "items": quantity("frequency", positive=True)},
    },
}


def _described(shape: dict, help_text: str) -> dict:
    """`shape` with a description: the key's meaning, then its unit when it has one."""
    shape = dict(shape)
    unit = shape.pop("x-thinfilm-unit", None)
    shape.pop("x-thinfilm-dimension", None)
    shape["description"] = f"{help_text} ({unit})" if unit else help_text
    return shape


def _table(name: str, extra: dict | None = None, required=()) -> dict:
    """An object of the keys the validator takes for table `name`, no others."""
    extra = extra or {}
    properties = {}
    for key in CASE_TABLE_KEYS[name]:
        shape = extra.get(key, CASE_KEY_TYPES.get(name, {}).get(key))
        if shape is None:
            raise KeyError(f"case_schema: no shape for {name}.{key}")
        properties[key] = _described(shape, CASE_KEY_HELP[name][key])
    schema = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


# ------------------------------------------------------------------------------------------
# materials

# the limits of a material parameter's rule (materials.schema.Spec.check) in JSON Schema
RULE_BOUNDS = {"positive": {"exclusiveMinimum": 0}, "non-negative": {"minimum": 0},
               "open-unit": {"exclusiveMinimum": 0, "exclusiveMaximum": 1},
               "fraction": {"exclusiveMinimum": 0, "maximum": 1},
               "unit-interval": {"minimum": 0, "maximum": 1}}


def _parameter_shape(spec) -> dict:
    if spec.form == CHOICE:
        return {"enum": list(spec.choices)}
    if spec.form == RANGE:
        item = quantity(spec.dimension, **RULE_BOUNDS.get(spec.rule, {}))
        return {"type": "array", "items": item, "minItems": 2, "maxItems": 2}
    table = {"type": "string", "pattern": r"(?i)\.csv\s*$"}
    if spec.form == TABLE:
        return table
    shape = quantity(spec.dimension, **RULE_BOUNDS.get(spec.rule, {}))
    if spec.form == QUANTITY_OR_TABLE:
        unit = shape.pop("x-thinfilm-unit", None)
        shape = {"anyOf": [*shape.pop("anyOf"), table], **shape}
        if unit:
            shape["x-thinfilm-unit"] = unit + "; or a CSV table of stoichiometry, SI value"
    return shape


def _parameter_help(spec) -> str:
    text = spec.help or spec.dimension.replace("_", " ")
    if spec.form == TABLE:
        text += " (CSV table: stoichiometry, value in SI; path relative to the case)"
    if not spec.required:
        text += " (optional)"
    return text


def _materials_schema() -> tuple[dict, dict]:
    """(the [materials] table's schema, the $defs of one override table per kind)."""
    defs = {}
    for kind, parameters in PARAMETERS.items():
        properties = {name: _described(_parameter_shape(spec), _parameter_help(spec))
                      for name, spec in parameters.items()}
        schema = {"type": "object", "properties": properties, "additionalProperties": False,
                  "description": f"overrides of a library material of kind {kind}"}
        if kind == "intercalation":
            schema["not"] = {"required": list(KINETICS)}
        defs[f"materials_{kind}"] = schema
    properties = {}
    for name in library_names():
        material = load_material(name)
        properties[name] = {"$ref": f"#/$defs/materials_{material.kind}",
                            "description": f"{name} ({material.kind}): "
                                           f"{material.description}"[:400]}
    table = {"type": "object", "properties": properties, "additionalProperties": False,
             "description": CASE_KEY_HELP[""]["materials"]}
    return table, defs


# ------------------------------------------------------------------------------------------
# protocol

def _step_schema() -> dict:
    """A step: its mode decides the keys it takes (STEP_RULES) and those it needs."""
    base = _table("protocol.step", required=("mode",))
    rules = []
    for mode, (allowed, groups) in case_format.STEP_RULES.items():
        then: dict = {"propertyNames": {"enum": ["mode", *allowed]}}
        needs = [{"anyOf": [{"required": [key]} for key in group]} for group in groups]
        if set(case_format.DRIVES) <= set(allowed):
            needs.append({"oneOf": [{"required": [key]} for key in case_format.DRIVES]})
        if needs:
            then["allOf"] = needs
        rules.append({"if": {"properties": {"mode": {"const": mode}}, "required": ["mode"]},
                      "then": then})
    base["allOf"] = rules
    base["properties"]["mode"]["enum"] = [m for m in case_format.MODES if m != "impedance"]
    return base


def _protocol_item_ref() -> dict:
    return {"anyOf": [{"$ref": "#/$defs/step"}, {"$ref": "#/$defs/impedance_step"},
                      {"$ref": "#/$defs/block"}]}


def _block_schema() -> dict:
    steps = {"type": "array", "minItems": 1, "items": _protocol_item_ref()}
    return _table("protocol.block", {"steps": steps}, required=("steps",))


# ------------------------------------------------------------------------------------------
# the whole case

def case_schema() -> dict:
    """The JSON Schema (draft 2020-12) of a case file, as a dict."""
    materials, defs = _materials_schema()
    variations = {"type": "array",
                  "items": _table("cell.bipolar.variations", required=("cell", "layer"))}
    layers = {"type": "array", "minItems": 1,
              "items": _table("cell.layers", required=("name", "material", "thickness"))}
    cell = _table("cell", {
        "layers": layers,
        "bipolar": _table("cell.bipolar", {"variations": variations}, required=("n_cells",)),
        "trench": _table("cell.trench", required=("width", "depth", "pitch")),
        "micropillar": _table("cell.micropillar", required=("diameter", "height", "pitch")),
    }, required=("footprint_area", "temperature", "layers"))
    cell["allOf"] = [
        {"if": {"properties": {"architecture": {"const": name}}, "required": ["architecture"]},
         "then": {"required": [name]}, "else": {"not": {"required": [name]}}}
        for name in case_format.ARCHITECTURES[1:]]
    defs.update({
        "step": _step_schema(),
        "impedance_step": _table("protocol.impedance", required=("mode",)),
        "block": _block_schema(),
    })
    protocol = {"type": "array", "minItems": 1, "items": _protocol_item_ref()}
    top = _table("", {"cell": cell, "materials": materials, "protocol": protocol,
                      "mesh": _table("mesh"), "solver": _table("solver")},
                 required=("cell", "protocol"))
    top = _without_unit_notes(top)
    return {"$schema": DRAFT, "$id": SCHEMA_ID, "title": "thinfilm case file",
            "description": "A thinfilm case (TOML). Generated by `thinfilm schema` from the "
                           "validator's key lists and the materials schema; `thinfilm run` "
                           "checks the values and says what is wrong.",
            **top, "$defs": _without_unit_notes(defs)}


def _without_unit_notes(node):
    """Drop the unit notes left where no description took them in (array items)."""
    if isinstance(node, dict):
        return {k: _without_unit_notes(v) for k, v in node.items() if k != "x-thinfilm-unit"}
    if isinstance(node, list):
        return [_without_unit_notes(v) for v in node]
    return node

"""The [cell] table of a case file: its architecture and geometry (trench, micropillar,
bipolar stack), its layers and their materials (with the [materials] overrides), the
temperature, step coverage, and the [mesh] and [solver] tables."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .. import limits
from ..errors import InputError
from ..units import ZERO_CELSIUS, parse_quantity
from .settings import (
    ARCHITECTURES, BIPOLAR_KEYS, BipolarSettings, ELECTRODE_KINDS, LATTICES, Layer, LAYER_KEYS,
    MAX_NAME, MESH_KEYS, MeshSettings, MICROPILLAR_KEYS, MicropillarSettings, MISSING, SOLVER_KEYS,
    SolverSettings, stack_roles, StackRoles, TRENCH_KEYS, TrenchSettings, VARIATION_KEYS)
from .entries import (
    _boolean, _check_keys, _choice, _did_you_mean, _get, _integer, _listing, _number, _positive,
    _table)

if TYPE_CHECKING:  # the materials package is imported when a case is built
    from ..materials import Material


def _case_name(cell: dict, source: str) -> str:
    if "name" not in cell:
        stem = Path(source).stem if source and not source.startswith("<") else ""
        return stem or "case"
    name = cell["name"]
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
        raise InputError("cell.name", name, f"a non-empty string of at most {MAX_NAME} "
                                            f"characters")
    return name


def _architecture(cell: dict) -> str:
    architecture = cell.get("architecture", "planar")
    _choice(architecture, ARCHITECTURES, "cell.architecture")
    for other in ARCHITECTURES[1:]:
        if other != architecture and other in cell:
            raise InputError(f"cell.{other}", cell[other],
                             f"no [cell.{other}] table in a {architecture} cell (it describes "
                             f"architecture = {other!r}; set architecture = {other!r} to use it)")
    return architecture


def _geometry_table(cell: dict, architecture: str, allowed) -> dict:
    key = f"cell.{architecture}"
    if architecture not in cell:
        what = ("n_cells, how many cells are stacked" if architecture == "bipolar"
                else "the sizes of the substrate structure")
        raise InputError(key, MISSING, f"a [{key}] table (required for architecture = "
                                       f"{architecture!r}: {what})")
    table = cell[architecture]
    if not isinstance(table, dict):
        raise InputError(key, table, f"a table: [{key}]")
    _check_keys(table, allowed, key)
    return table


def _structure_length(table: dict, name: str, prefix: str, allow_large: bool) -> float:
    key = f"{prefix}.{name}"
    value = _positive(_get(table, name, prefix, "length"), "length", key)
    return limits.check_length(value, table[name], key, structure=True, allow_large=allow_large)


def _structure_sizes(table: dict, prefix: str, names, feature_text: str, why: str,
                     allow_large: bool) -> dict:
    """The three positive lengths of a structure (feature, depth or height, pitch), the
    feature (trench width, pillar diameter) smaller than the pitch."""
    sizes = {name: _structure_length(table, name, prefix, allow_large) for name in names}
    feature = names[0]
    if sizes[feature] >= sizes["pitch"]:
        raise InputError(f"{prefix}.{feature}", table[feature],
                         f"{feature_text} below pitch = {table['pitch']!r} ({feature} must be "
                         f"smaller than pitch: {why})")
    return sizes


def _trench(cell: dict, allow_large: bool) -> TrenchSettings:
    prefix = "cell.trench"
    table = _geometry_table(cell, "trench", TRENCH_KEYS)
    sizes = _structure_sizes(table, prefix, ("width", "depth", "pitch"),
                             "a trench width", "a wall stands between neighbouring trenches",
                             allow_large)
    dimension = table.get("dimension", 2)
    if isinstance(dimension, bool) or not isinstance(dimension, int) or dimension not in (2, 3):
        raise InputError(f"{prefix}.dimension", dimension,
                         "2 (the cross-section of one period) or 3 (extruded along the trench)")
    length = None
    if "length" in table:
        if dimension != 3:
            raise InputError(f"{prefix}.length", table["length"],
                             "no length in a 2D trench cell (length is the extrusion length "
                             "along the trench; it needs dimension = 3)")
        length = _structure_length(table, "length", prefix, allow_large)
    elif dimension == 3:
        length = sizes["pitch"]
    return TrenchSettings(dimension=dimension, length=length, **sizes)


def _bipolar(cell: dict, unit: list[Layer], allow_large: bool) -> BipolarSettings:
    prefix = "cell.bipolar"
    table = _geometry_table(cell, "bipolar", BIPOLAR_KEYS)
    n_cells = _integer(_get(table, "n_cells", prefix, expected="a whole number >= 1"),
                       f"{prefix}.n_cells", 1,
                       "3 (the number of unit cells in series)")
    items = table.get("variations", [])
    if not isinstance(items, list):
        raise InputError(f"{prefix}.variations", items,
                         "a list of [[cell.bipolar.variations]] tables")
    names = {layer.name: layer for layer in unit}
    variations = []
    for index, item in enumerate(items):
        key = f"{prefix}.variations.{index}"
        if not isinstance(item, dict):
            raise InputError(key, item, "a table with cell, layer and the values to change")
        _check_keys(item, VARIATION_KEYS, key)
        cell_number = _integer(_get(item, "cell", key, expected="a cell number (1 is the bottom cell)"),
                               f"{key}.cell", 1,
                               f"a cell number from 1 to n_cells = {n_cells}")
        if cell_number > n_cells:
            raise InputError(f"{key}.cell", cell_number,
                             f"a cell number from 1 to n_cells = {n_cells}")
        name = _get(item, "layer", key, expected="a layer name")
        if name not in names:
            raise InputError(f"{key}.layer", name, f"a layer of the unit cell: {_listing(names)}")
        layer = names[name]
        changes = {}
        if "thickness" in item:
            thickness = _number(item["thickness"], "length", f"{key}.thickness")
            if not thickness > 0:
                raise InputError(f"{key}.thickness", item["thickness"],
                                 "a length such as '0.9 um', greater than zero")
            changes["thickness"] = limits.check_length(thickness, item["thickness"],
                                                       f"{key}.thickness",
                                                       allow_large=allow_large)
        if "initial_stoichiometry" in item:
            if layer.material.kind != "intercalation":
                raise InputError(f"{key}.initial_stoichiometry", item["initial_stoichiometry"],
                                 f"no initial_stoichiometry: layer {name!r} is "
                                 f"{_kind_text(layer.material.kind)}")
            x = _number(item["initial_stoichiometry"], "dimensionless",
                        f"{key}.initial_stoichiometry")
            if not 0 <= x <= 1:
                raise InputError(f"{key}.initial_stoichiometry", item["initial_stoichiometry"],
                                 "a number between 0 and 1 (the lithium fraction x)")
            changes["initial_stoichiometry"] = x
        if not changes:
            raise InputError(key, item, "a change: thickness or initial_stoichiometry")
        variations.append((cell_number, name, changes))
    return BipolarSettings(n_cells=n_cells, variations=tuple(variations))


def bipolar_stack(unit: list[Layer], bipolar: BipolarSettings) -> list[Layer]:
    """The layers of a series stack, bottom to top, named NAME_k for cell k (1-based).

    When the unit starts and ends with a collector, cell k+1 sits on cell k's top collector
    (the bipolar collector they share) instead of bringing its own bottom one.
    """
    shared = (len(unit) > 1 and unit[0].material.kind == "collector"
              and unit[-1].material.kind == "collector")
    changes = {}
    for cell_number, name, change in bipolar.variations:
        changes.setdefault((cell_number, name), {}).update(change)
    numbers = range(1, bipolar.n_cells + 1)        # the stack's battery cells, bottom up
    return [replace(layer, name=f"{layer.name}_{number}",
                    **changes.get((number, layer.name), {}))
            for number in numbers for index, layer in enumerate(unit)
            if not (shared and number > 1 and index == 0)]


def _micropillar(cell: dict, allow_large: bool) -> MicropillarSettings:
    prefix = "cell.micropillar"
    table = _geometry_table(cell, "micropillar", MICROPILLAR_KEYS)
    sizes = _structure_sizes(table, prefix, ("diameter", "height", "pitch"),
                             "a diameter", "neighbours may not touch", allow_large)
    lattice = table.get("lattice", "square")
    _choice(lattice, LATTICES, f"{prefix}.lattice")
    holes = _boolean(table, "holes", prefix, False,
                     "false: pillars; true: holes of that diameter, height deep")
    axisymmetric = _boolean(table, "axisymmetric", prefix, False,
                            "false: the 3D symmetry unit; true: the 2D axisymmetric cell of "
                            "equal area")
    return MicropillarSettings(lattice=lattice, holes=holes, axisymmetric=axisymmetric, **sizes)


def _check_films_fit(cell: dict, geometry, roles: StackRoles) -> None:
    """The conformal films must leave room for the fill between the substrate's walls."""
    total = sum(layer.thickness for layer in roles.films)
    names = ", ".join(layer.name for layer in roles.films) or "none"
    films = (f"twice the conformal films ({names}: 2 x {total * 1e6:.4g} um), so that the "
             f"fill layer {roles.fill.name!r} can enter")
    if isinstance(geometry, TrenchSettings):
        if geometry.width <= 2 * total:
            raise InputError("cell.trench.width", cell["trench"]["width"],
                             f"a trench wider than {films}; widen the trench or thin the films")
    elif geometry.holes:
        if geometry.diameter <= 2 * total:
            raise InputError("cell.micropillar.diameter", cell["micropillar"]["diameter"],
                             f"holes wider than {films}; widen the holes or thin the films")
    elif geometry.pitch - geometry.diameter <= 2 * total:
        gap = (geometry.pitch - geometry.diameter) * 1e6
        raise InputError("cell.micropillar.pitch", cell["micropillar"]["pitch"],
                         f"a gap between pillars (pitch - diameter = {gap:.4g} um) wider than "
                         f"{films}; increase the pitch or thin the films")


def _temperature(value) -> float:
    kelvin = parse_quantity(value, "temperature", "cell.temperature")
    if kelvin < 0:
        raise InputError("cell.temperature", value,
                         f"a temperature above absolute zero (0 K = {-ZERO_CELSIUS} degC); "
                         f"this is {kelvin:.6g} K, below absolute zero")
    if kelvin == 0:
        raise InputError("cell.temperature", value, "a temperature above absolute zero (0 K)")
    return kelvin


def _check_temperature_range(kelvin: float, value, layers: list[Layer]) -> None:
    """The cell's temperature must lie where the data of every material in it hold."""
    ranges = {layer.material.name: layer.material.value("temperature_range") for layer in layers}
    low_name = max(ranges, key=lambda name: ranges[name][0])
    high_name = min(ranges, key=lambda name: ranges[name][1])
    low, high = ranges[low_name][0], ranges[high_name][1]
    if low <= kelvin <= high:
        return
    name = low_name if kelvin < low else high_name
    plain = " (a plain number is kelvin)" if isinstance(value, (int, float)) else ""
    raise InputError("cell.temperature", value,
                     f"a temperature within {low:.6g}..{high:.6g} K ({low - ZERO_CELSIUS:.4g}.."
                     f"{high - ZERO_CELSIUS:.4g} degC), where the data of the cell's materials "
                     f"hold; this is {kelvin:.6g} K{plain}, outside the "
                     f"range of {name}: to go beyond, set [materials.{name}] temperature_range")


def _load_materials(data: dict, cell: dict, base_dir: Path) -> dict[str, Material]:
    """Load every material a layer uses, and every [materials.NAME] table, once each."""
    from .. import materials as matlib

    library = list(matlib.library_names())
    overrides = _table(data, "materials", "")
    used = []
    layers = cell.get("layers")
    if isinstance(layers, list):
        for item in layers:
            if isinstance(item, dict) and isinstance(item.get("material"), str):
                used.append(item["material"])

    loaded: dict[str, Material] = {}
    for name, table in overrides.items():
        key = f"materials.{name}"
        if name not in library:
            expected = (f"the name of a library material: {_listing(library)}; a "
                        f"[materials.NAME] table changes parameters of a library material")
            raise InputError(key, table, expected + _did_you_mean(name, library))
        if isinstance(layers, list) and name not in used:
            raise InputError(key, table, f"overrides of a material the cell uses: "
                                         f"{_listing(dict.fromkeys(used))} (no layer is made "
                                         f"of {name}; a typo in a layer's material?)")
        if not isinstance(table, dict):
            raise InputError(key, table, f"a table of parameter overrides: [{key}]")
        loaded[name] = matlib.load_material(name, table, base_dir, key=key)
    for name in used:
        if name not in loaded and name in library:  # unknown names: reported by _layers
            loaded[name] = matlib.load_material(name, None, base_dir, key=f"materials.{name}")
    return loaded


def _layers(cell: dict, materials: dict, allow_large: bool) -> list[Layer]:
    from .. import materials as matlib

    items = _get(cell, "layers", "cell",
                 expected="a list of layers, one [[cell.layers]] table each, from the bottom "
                          "tab to the top tab")
    if not isinstance(items, list) or not items:
        raise InputError("cell.layers", items,
                         "a non-empty list of layers, one [[cell.layers]] table each, "
                         "from the bottom tab to the top tab")

    layers: list[Layer] = []
    seen: dict[str, int] = {}
    for index, item in enumerate(items):
        prefix = f"cell.layers.{index}"
        if not isinstance(item, dict):
            raise InputError(prefix, item, "a table with name, material and thickness")
        name = item.get("name", MISSING)
        if not isinstance(name, str) or not name.strip() or len(name) > MAX_NAME:
            raise InputError(f"{prefix}.name", name, f"a non-empty string such as 'cathode', "
                                                     f"at most {MAX_NAME} characters")
        if "." in name:
            raise InputError(f"{prefix}.name", name,
                             "a name without '.' (names are used in keys like "
                             "cell.layers.NAME.thickness)")
        if name in seen:
            raise InputError(f"{prefix}.name", name,
                             f"a unique layer name ({name!r} is already layer {seen[name]})")
        seen[name] = index
        prefix = f"cell.layers.{name}"
        _check_keys(item, LAYER_KEYS, prefix)

        material_name = _get(item, "material", prefix, expected="a material name")
        if not isinstance(material_name, str) or material_name not in materials:
            library = list(matlib.library_names())
            expected = f"a material from the library: {_listing(library)}"
            if isinstance(material_name, str):
                expected += _did_you_mean(material_name, library)
            raise InputError(f"{prefix}.material", material_name, expected)
        material = materials[material_name]

        thickness_value = _get(item, "thickness", prefix, "length")
        thickness = _number(thickness_value, "length", f"{prefix}.thickness")
        if thickness < 0 or (thickness == 0 and material.kind != "lithium_metal"):
            raise InputError(f"{prefix}.thickness", thickness_value,
                             "a length such as '1.5 um', greater than zero")
        if thickness > 0:
            limits.check_length(thickness, thickness_value, f"{prefix}.thickness",
                                allow_large=allow_large)

        stoichiometry = _initial_stoichiometry(item, material, prefix)
        layers.append(Layer(name=name, material=material, thickness=thickness,
                            initial_stoichiometry=stoichiometry))

    _check_stack(layers)
    for index, layer in enumerate(layers):
        if layer.thickness == 0:
            neighbours = [layers[j] for j in (index - 1, index + 1) if 0 <= j < len(layers)]
            if not any(n.material.kind == "collector" for n in neighbours):
                raise InputError(f"cell.layers.{layer.name}.thickness",
                                 items[index]["thickness"],
                                 "a length greater than zero (0 is allowed only for a lithium "
                                 "layer next to a current collector layer: an anode-free cell)")
    return layers


def _initial_stoichiometry(item: dict, material, prefix: str) -> float | None:
    """The lithium fraction an intercalation layer starts at: its initial_stoichiometry, or
    the x at which its open-circuit potential vs Li equals its initial_voltage, or the
    material's default (an initial_voltage or initial_stoichiometry of the library entry)."""
    given = [name for name in ("initial_stoichiometry", "initial_voltage") if name in item]
    if material.kind != "intercalation":
        if given:
            raise InputError(f"{prefix}.{given[0]}", item[given[0]],
                             f"no {given[0]}: material {material.name!r} is "
                             f"{_kind_text(material.kind)}; only intercalation electrodes "
                             f"take one")
        return None
    if len(given) == 2:
        raise InputError(f"{prefix}.initial_voltage", item["initial_voltage"],
                         "either initial_stoichiometry or initial_voltage, not both")
    key = f"{prefix}.initial_stoichiometry"
    if "initial_stoichiometry" in item:
        x = _number(item["initial_stoichiometry"], "dimensionless", key)
        if not 0 <= x <= 1:
            raise InputError(key, item["initial_stoichiometry"],
                             "a number between 0 and 1 (the lithium fraction x)")
        return x
    if "initial_voltage" in item:
        voltage = _number(item["initial_voltage"], "voltage", f"{prefix}.initial_voltage")
        return stoichiometry_at_voltage(material, voltage, f"{prefix}.initial_voltage",
                                        item["initial_voltage"])
    if material.has("initial_voltage"):
        return stoichiometry_at_voltage(material, material.value("initial_voltage"),
                                        f"materials.{material.name}.initial_voltage",
                                        material.value("initial_voltage"))
    if material.has("initial_stoichiometry"):
        return float(material.value("initial_stoichiometry"))
    raise InputError(key, MISSING,
                     f"a number between 0 and 1, or an initial_voltage (required: material "
                     f"{material.name!r} has no default initial state)")


PLATEAU_TOLERANCE = 1e-3   # V: an initial_voltage this close to the OCV over more than
PLATEAU_SPAN = 0.1         #   this share of the usable range does not fix the state


def stoichiometry_at_voltage(material, voltage: float, key: str, value) -> float:
    """The x in the material's usable range at which its OCV vs Li equals `voltage`."""
    from scipy.optimize import brentq

    low, high = material.value("stoichiometry_range")
    ocv = material.value("ocv")
    u_low, u_high = float(ocv(low)), float(ocv(high))
    top, bottom = max(u_low, u_high), min(u_low, u_high)
    if not bottom <= voltage <= top:
        raise InputError(key, value,
                         f"a voltage within the open-circuit range of {material.name} over its "
                         f"usable stoichiometries x = {low:g} .. {high:g}: {bottom:.4g} to "
                         f"{top:.4g} V")
    if voltage == u_low:
        return float(low)
    if voltage == u_high:
        return float(high)
    # on a plateau (a two-phase OCV such as LiFePO4's) a voltage does not say where the
    # electrode is: refused rather than one x picked silently
    xs = np.linspace(low, high, 2001)
    near = xs[np.abs(ocv(xs) - voltage) <= PLATEAU_TOLERANCE]
    if near.size and near[-1] - near[0] > PLATEAU_SPAN * (high - low):
        raise InputError(key, value,
                         f"a voltage off the plateau of {material.name}'s open-circuit "
                         f"potential: every x from {near[0]:.3g} to {near[-1]:.3g} lies within "
                         f"{PLATEAU_TOLERANCE * 1e3:g} mV of it; give initial_stoichiometry")
    return float(brentq(lambda x: float(ocv(x)) - voltage, low, high, xtol=1e-12))


def _coverage_text(where: str) -> str:
    return (f"a ratio in (0, 1]: the film's thickness on the {where} over its thickness on the "
            f"top surfaces (1 = conformal, as ALD deposits it; sputtered films are thinner)")


def _check_one_dimensional_films(layers: list[Layer], architecture: str) -> None:
    """Ambipolar films (electron_ion_diffusivity_ratio) are a one-dimensional model
    (solver/model/terms/ambipolar.py): refused in trench and micropillar cells up front, so
    that sweeps and comparisons refuse them before anything runs."""
    if architecture not in ("trench", "micropillar"):
        return
    for layer in layers:
        material = layer.material
        if material.kind == "intercalation" and material.has("electron_ion_diffusivity_ratio"):
            raise InputError(f"materials.{material.name}.electron_ion_diffusivity_ratio",
                             material.value("electron_ion_diffusivity_ratio"),
                             f"no value in a {architecture} cell: the ambipolar film is a "
                             "one-dimensional model (planar cells and bipolar stacks)")


def _step_coverage(cell: dict, layers: list[Layer], architecture: str) -> list[Layer]:
    """Step coverage of the films of trench and micropillar cells (meshes/coverage.py).

    step_coverage: the wall's ratio (a number), or [at the top of the wall, at its foot]
    (linear in height between them); bottom_coverage: the floor's ratio (trench floor, floor
    between pillars, hole bottom), by default the wall's at its foot. Planar and bipolar cells
    have no walls: the keys are accepted there and change nothing. The fill and the layers
    above it are not deposited films in a structured cell, so they take no ratio.
    """
    items = {item["name"]: item for item in cell["layers"]}
    structured = architecture in ("trench", "micropillar")
    films = {layer.name for layer in stack_roles(layers).films}
    out = []
    for layer in layers:
        item, prefix = items[layer.name], f"cell.layers.{layer.name}"
        given = [key for key in ("step_coverage", "bottom_coverage") if key in item]
        if not given:
            out.append(layer)
            continue
        if structured and layer.name not in films:
            raise InputError(f"{prefix}.{given[0]}", item[given[0]],
                             f"no {given[0]}: layer {layer.name!r} is not a film on the "
                             f"structured substrate (only the layers below the fill, "
                             f"{_listing(sorted(films))}, are deposited as films; the fill "
                             f"takes the space they leave, the layers above it are planar)")
        wall = item.get("step_coverage", 1.0)
        key = f"{prefix}.step_coverage"
        # the film on the walls and floor is a film too, as thin as the case format allows
        # (planar and bipolar cells have neither: nothing to check there)
        thickness = layer.thickness if structured else None
        if isinstance(wall, list):
            if len(wall) != 2:
                raise InputError(key, wall, f"{_coverage_text('walls')}; as a list, two ratios: "
                                            "[at the top of the wall, at its foot]")
            top, foot = (_ratio(value, f"{key}.{k}", "walls", thickness)
                         for k, value in enumerate(wall))
        else:
            top = foot = _ratio(wall, key, "walls", thickness)
        bottom = foot
        if "bottom_coverage" in item:
            bottom = _ratio(item["bottom_coverage"], f"{prefix}.bottom_coverage", "floor",
                            thickness)
        out.append(replace(layer, coverage=(top, foot, bottom)))
    return out


def _ratio(value, key: str, where: str, thickness: float | None) -> float:
    """A coverage ratio; with the film's `thickness` on the top surfaces, one that leaves
    the film on the `where` at least limits.MIN_LENGTH thick."""
    try:
        ratio = _number(value, "dimensionless", key)
    except InputError:
        raise InputError(key, value, _coverage_text(where)) from None
    if not 0 < ratio <= 1:
        raise InputError(key, value, _coverage_text(where))
    if thickness and thickness * ratio < limits.MIN_LENGTH:
        raise InputError(key, value,
                         f"{_coverage_text(where)}, here at least "
                         f"{limits.MIN_LENGTH / thickness:.3g}: the film on the {where} "
                         f"(thickness {thickness * 1e9:.4g} nm x ratio = "
                         f"{thickness * ratio * 1e9:.3g} nm) must be {limits.MIN_LENGTH_TEXT}")
    return ratio


def _kind_text(kind: str) -> str:
    return {"intercalation": "an intercalation electrode", "electrolyte": "an electrolyte",
            "lithium_metal": "lithium metal", "collector": "a current collector"}.get(
                kind, f"of kind {kind!r}")


def _check_stack(layers: list[Layer]) -> None:
    kinds = [layer.material.kind for layer in layers]
    core = list(kinds)
    if core and core[0] == "collector":
        core = core[1:]
    if core and core[-1] == "collector":
        core = core[:-1]
    if (len(core) == 3 and core[0] in ELECTRODE_KINDS and core[1] == "electrolyte"
            and core[2] in ELECTRODE_KINDS):
        return
    stack = [f"{layer.name} ({layer.material.name}: {layer.material.kind})" for layer in layers]
    raise InputError("cell.layers", " | ".join(stack),
                     "layers from the bottom tab to the top tab in the order: optional "
                     "current collector, electrode, electrolyte, electrode, optional current "
                     "collector (an electrode is an intercalation material or lithium metal)")


def _mesh(table: dict) -> MeshSettings:
    _check_keys(table, MESH_KEYS, "mesh")
    defaults = MeshSettings()
    cells = defaults.cells_per_layer
    if "cells_per_layer" in table:
        cells = _integer(table["cells_per_layer"], "mesh.cells_per_layer", 1, "20")
    max_cell_size = None
    if "max_cell_size" in table:
        max_cell_size = limits.check_length(
            _positive(table["max_cell_size"], "length", "mesh.max_cell_size"),
            table["max_cell_size"], "mesh.max_cell_size", structure=True, allow_large=True)
    grading = defaults.grading
    if "grading" in table:
        grading = _number(table["grading"], "dimensionless", "mesh.grading")
        if not 0 <= grading < 1:
            raise InputError("mesh.grading", table["grading"],
                             "a number from 0 (uniform cells) up to but not including 1 "
                             "(cells ever finer towards the interfaces)")
    refine = table.get("refine", defaults.refine)
    if not isinstance(refine, bool):
        raise InputError("mesh.refine", refine, "true (refine where a film's surface is "
                                                "under-resolved; the default) or false")
    return MeshSettings(cells_per_layer=cells, max_cell_size=max_cell_size, grading=grading,
                        refine=refine)


def _solver(table: dict) -> SolverSettings:
    _check_keys(table, SOLVER_KEYS, "solver")
    defaults = SolverSettings()
    rtol = defaults.rtol
    if "rtol" in table:
        rtol = _number(table["rtol"], "dimensionless", "solver.rtol")
        if not 0 < rtol <= 0.1:
            raise InputError("solver.rtol", table["rtol"],
                             "a relative tolerance greater than 0 and at most 0.1, such as 1e-3")
    max_step = initial_step = None
    if "max_step" in table:
        max_step = limits.check_time(_positive(table["max_step"], "time", "solver.max_step"),
                                     table["max_step"], "solver.max_step")
    if "initial_step" in table:
        initial_step = limits.check_time(
            _positive(table["initial_step"], "time", "solver.initial_step"),
            table["initial_step"], "solver.initial_step")
    fields_every = defaults.fields_every
    if "fields_every" in table:
        fields_every = _integer(table["fields_every"], "solver.fields_every", 0, "0 (never) or 10")
    store_every = defaults.store_every
    if "store_every" in table:
        store_every = _integer(table["store_every"], "solver.store_every", 1,
                               "1 (every row) or 10")
    return SolverSettings(rtol=rtol, max_step=max_step, initial_step=initial_step,
                          fields_every=fields_every, store_every=store_every)

"""BPX parameter files (Battery Parameter eXchange, JSON) turned into thinfilm cases.

`import_bpx` reads a BPX file with the `bpx` package (its pydantic models validate it),
maps what fits a thin-film cell onto case keys and writes the case, its tables (CSV beside
it) and a report of every BPX field: where it went, or why it was not mapped.

A BPX file describes a Li-ion cell of porous electrodes in a liquid electrolyte; thinfilm
models dense films and a solid electrolyte. What carries over is the electrode material:
its OCP, diffusivity, maximum concentration, usable stoichiometries, reaction rate constant,
conductivity and activation energies, the electrode thickness, and the share of the
electrode's volume that is active material (a R / 3 from the particles' surface area per
volume a and radius R), which keeps each electrode's capacity. The particle radius is no
diffusion length in a dense film, the liquid electrolyte and the separator have no
counterpart, and thinfilm is isothermal: those fields are reported, not mapped. The case
takes the films between a library solid electrolyte (LiPON by default); each electrode
overrides the library intercalation material whose OCV is closest to its OCP (a case names
library materials), and the report lists what that material still supplies.

BPX's exchange current density is i0 = F k_n sqrt((c_e/c_e0) x (1 - x)) with x = c/c_max
and k_n in mol/(m^2 s); thinfilm's is i0 = F k (c_max - c)^alpha c^(1-alpha), so with
alpha = 1/2 and no electrolyte concentration factor (a solid electrolyte), k = k_n / c_max.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .errors import InputError
from .files import read_text
from .units import parse_quantity

# Functions a BPX expression may call (bpx.Function: exp, tanh, cosh of x), vectorised.
EXPRESSION_FUNCTIONS = {"exp": np.exp, "tanh": np.tanh, "cosh": np.cosh}
SAMPLES = 1001            # points over 0..1 of a table sampled from an expression
SIDES = (("negative", "Negative electrode"), ("positive", "Positive electrode"))
SEP = " / "               # joins the names of a BPX field's path (names contain '.')

# Why a BPX field has no counterpart, by its name (the last part of its path).
NOT_MAPPED = {
    "Porosity": "thin films are dense: no electrolyte-filled pores (the active volume "
                "fraction carries the electrode's capacity)",
    "Transport efficiency": "no electrolyte in the film's pores",
    "Entropic change coefficient [V.K-1]": "thinfilm is isothermal; its OCV does not depend "
                                           "on temperature",
    "OCP (delithiation) [V]": "thinfilm has one OCV, no hysteresis (OCP [V] is used)",
    "OCP (lithiation) [V]": "thinfilm has one OCV, no hysteresis (OCP [V] is used)",
    "OCP hysteresis decay constant": "thinfilm has no OCV hysteresis",
    "External surface area [m2]": "thinfilm is isothermal: no heat exchange",
    "Volume [m3]": "the stack's volume follows from its layers",
    "Density [kg.m-3]": "thinfilm is isothermal: no heat balance",
    "Specific heat capacity [J.K-1.kg-1]": "thinfilm is isothermal: no heat balance",
    "Heat transfer coefficient [W.m-2.K-1]": "thinfilm is isothermal: no heat exchange",
    "Ambient temperature [K]": "the cell is isothermal at the initial temperature",
    "Initial electrolyte concentration [mol.m-3]": "liquid electrolyte: thinfilm models a "
                                                   "solid electrolyte film",
    "Initial hysteresis state: Positive electrode": "thinfilm has no OCV hysteresis",
    "Initial hysteresis state: Negative electrode": "thinfilm has no OCV hysteresis",
    "LLI": "thinfilm starts from the stoichiometries of the initial state of charge; a loss "
           "of lithium inventory is not applied",
    "LAM: Positive electrode": "loss of active material not applied (lower active_fraction "
                               "by hand)",
    "LAM: Negative electrode": "loss of active material not applied (lower active_fraction "
                               "by hand)",
    "BPX": "format version (read by the bpx package)",
    "Model": "the model BPX was fitted with; thinfilm solves its own thin-film model",
}
SECTION_NOT_MAPPED = {
    "Parameterisation / Electrolyte": "liquid electrolyte: thinfilm models a solid electrolyte "
                                    "film (the case uses a library one, see --electrolyte)",
    "Parameterisation / Separator": "porous separator soaked in the liquid electrolyte: the "
                                  "solid electrolyte film replaces it",
    "Validation": "measured curves: not imported (thinfilm fit reads measured curves as CSV)",
    "Parameterisation / User-defined": "user-defined parameters have no defined meaning",
}


@dataclass
class Outcome:
    case_path: Path
    written: list[Path]           # the case first, then its tables and the report
    report: str
    problem: str | None = None    # why the written case does not load, if it does not


@dataclass
class _Ledger:
    """Where each BPX field went, or why it did not."""
    mapped: list[tuple[str, str, str]] = field(default_factory=list)   # field, key, note
    unmapped: list[tuple[str, str]] = field(default_factory=list)      # field, why
    notes: list[str] = field(default_factory=list)
    done: set[str] = field(default_factory=set)

    def map(self, path: str, key: str, note: str = "") -> None:
        self.mapped.append((path, key, note))
        self.done.add(path)

    def skip(self, path: str, why: str) -> None:
        self.unmapped.append((path, why))
        self.done.add(path)


# ------------------------------------------------------------------------------------------
# reading

def read_bpx(path: Path):
    """The BPX model of a file, validated by the bpx package, and its warnings."""
    try:
        import bpx
        from pydantic import ValidationError
    except ImportError:                                             # pragma: no cover
        raise InputError(str(path), "<BPX file>", "the bpx package to read BPX files "
                                                  "(pip install bpx)") from None
    text = read_text(Path(path), str(path), "BPX file (JSON)")
    try:
        if Path(path).suffix.lower() in (".yml", ".yaml"):
            import yaml
            data = yaml.safe_load(text)
        else:
            data = json.loads(text)
    except Exception as exc:                      # json and yaml errors: say where, not what
        raise InputError(str(path), "<file>", f"a BPX file in JSON ({type(exc).__name__}: "
                                              f"{str(exc).splitlines()[0]})") from None
    if not isinstance(data, dict):
        raise InputError(str(path), "<file>", "a BPX file: a JSON object with Header and "
                                              "Parameterisation")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model = bpx.parse_bpx_obj(data)
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first.get("loc", ()))
            raise InputError(f"{path}: {where}" if where else str(path),
                             first.get("input", "<missing>"),
                             f"a valid BPX file; bpx says: {first.get('msg')}") from None
        except ValueError as exc:
            raise InputError(str(path), "<file>", f"a valid BPX file; bpx says: {exc}") from None
    messages = list(dict.fromkeys(" ".join(str(w.message).split()) for w in caught))
    return model, messages


def bpx_fields(model, prefix: str = ""):
    """(path, value) of every field set in a BPX model, sections walked into; a path joins
    the BPX names with SEP ("Parameterisation / Negative electrode / OCP [V]")."""
    from bpx import InterpolatedTable
    from pydantic import BaseModel

    def nested(value):
        return isinstance(value, BaseModel) and not isinstance(value, InterpolatedTable)

    declared = type(model).model_fields
    for name in [*declared, *(model.model_extra or {})]:
        if name not in model.model_fields_set:
            continue
        info = declared.get(name)
        alias = (info.alias or name) if info is not None else name
        value = getattr(model, name)
        path = f"{prefix}{SEP}{alias}" if prefix else alias
        if value is None:
            continue
        if nested(value) and path != "Validation":
            yield from bpx_fields(value, path)
        elif isinstance(value, dict) and value and path != "Validation" and all(
                nested(v) for v in value.values()):
            for key, item in value.items():
                yield from bpx_fields(item, f"{path}{SEP}{key}")
        elif isinstance(value, dict) and path == "Validation":
            for key in value:
                yield f"{path}{SEP}{key}", value[key]
        else:
            yield path, value


# ------------------------------------------------------------------------------------------
# functions of stoichiometry

def sample(value, path: str, x: np.ndarray) -> np.ndarray:
    """A BPX float, expression (bpx.Function) or table evaluated at x."""
    from bpx import Function, InterpolatedTable

    if isinstance(value, InterpolatedTable):
        xs, ys = _sorted_table(value)
        return np.interp(x, xs, ys)
    if isinstance(value, Function):
        return evaluate_expression(str(value), path, x)
    return np.full_like(x, float(value))


def evaluate_expression(text: str, path: str, x: np.ndarray, *, finite: bool = True):
    """A BPX expression of x at the points x (refused where not finite, unless `finite` is
    False). bpx's grammar admits numbers, + - * / **, x and function calls only, so no
    name but those of EXPRESSION_FUNCTIONS can be met."""
    try:
        code = compile(text, "<BPX expression>", "eval")
        with np.errstate(all="ignore"):
            values = eval(code, {"__builtins__": {}, **EXPRESSION_FUNCTIONS}, {"x": x})
    except Exception as exc:
        raise InputError(path, text, f"an expression of x using "
                                     f"{', '.join(EXPRESSION_FUNCTIONS)} "
                                     f"({type(exc).__name__})") from None
    values = np.broadcast_to(np.asarray(values, dtype=float), x.shape).copy()
    if finite and not np.all(np.isfinite(values)):
        bad = x[~np.isfinite(values)][0]
        raise InputError(path, text, f"an expression finite for x in [{x[0]:g}, {x[-1]:g}] "
                                     f"(not at x = {bad:g})")
    return values


def _sorted_table(table) -> tuple[np.ndarray, np.ndarray]:
    xs, ys = np.asarray(table.x, float), np.asarray(table.y, float)
    order = np.argsort(xs, kind="stable")
    return xs[order], ys[order]


def _table_points(value, path: str, usable: tuple[float, float], ocv: bool):
    """(x, y, how) of a BPX function as a table over stoichiometry: a BPX table as given, a
    constant as a flat table, an expression sampled over the usable range and as far
    beyond it, up to 0 and 1, as it stays a value thinfilm takes (finite; an OCV within
    0..6 V and not rising, a diffusivity positive). BPX fits often leave that range near
    the ends: the LFP example's OCP has a term 3.5e14 exp(-396 x)."""
    from bpx import Function, InterpolatedTable

    if isinstance(value, InterpolatedTable):
        xs, ys = _sorted_table(value)
        return xs, ys, "the BPX table"
    if not isinstance(value, Function):
        return np.array([0.0, 1.0]), np.full(2, float(value)), "a constant"
    grid = np.linspace(0.0, 1.0, SAMPLES)
    near = np.min(np.abs(grid[:, None] - np.asarray(usable)[None, :]), axis=1) < 1e-9
    xs = np.union1d(grid[~near], usable)          # the usable ends, without twins 1e-16 off
    ys = evaluate_expression(str(value), path, xs, finite=False)
    with np.errstate(invalid="ignore"):
        takes = np.isfinite(ys) & ((ys >= 0) & (ys <= 6) if ocv else ys > 0)
    low, high = np.searchsorted(xs, usable)
    while low > 0 and takes[low - 1] and (not ocv or ys[low - 1] >= ys[low]):
        low -= 1
    while high < xs.size - 1 and takes[high + 1] and (not ocv or ys[high + 1] <= ys[high]):
        high += 1
    xs, ys = xs[low:high + 1], ys[low:high + 1]
    if not np.all(np.isfinite(ys)):
        bad = xs[~np.isfinite(ys)][0]
        raise InputError(path, str(value), f"an expression finite over the usable "
                                           f"stoichiometries (not at x = {bad:g})")
    how = f"the expression sampled at {xs.size} points over x = {xs[0]:g}..{xs[-1]:g}"
    if xs[0] > 0 or xs[-1] < 1:
        how += (" (beyond, it is not " + ("an OCV within 0..6 V that does not rise"
                                          if ocv else "a positive finite value") + ")")
    return xs, ys, how


def _write_table(path: Path, xs, ys, columns: str, header: list[str]) -> None:
    from .results import write_atomic

    lines = [f"# {line}" for line in header]
    lines.append(columns)
    lines += [f"{float(x)!r},{float(y)!r}" for x, y in zip(xs, ys)]     # exact round trip
    write_atomic(path, "\n".join(lines) + "\n")


# ------------------------------------------------------------------------------------------
# choosing the library materials the electrodes override

def closest_library_material(ocp, path: str, usable: tuple[float, float],
                             exclude: tuple[str, ...] = ()) -> tuple[str, float]:
    """The library intercalation material whose OCV is closest (RMS over the usable
    stoichiometries) to a BPX OCP, and that RMS in volts."""
    from .materials import library_names, load_material

    x = np.linspace(usable[0], usable[1], 50)
    target = sample(ocp, path, x)
    best = None
    for name in library_names():
        if name in exclude:
            continue
        material = load_material(name)
        if material.kind != "intercalation":
            continue
        rms = float(np.sqrt(np.mean((material.value("ocv")(x) - target) ** 2)))
        if best is None or rms < best[1]:
            best = (name, rms)
    return best


def _base_material(name: str | None, option: str):
    from .materials import library_names, load_material

    if name is None:
        return None
    if name not in library_names() or load_material(name).kind != "intercalation":
        names = [n for n in library_names() if load_material(n).kind == "intercalation"]
        raise InputError(option, name, f"an intercalation material of the library: "
                                       f"{', '.join(names)}")
    return name


# ------------------------------------------------------------------------------------------
# mapping

def _quantity_text(value: float, unit: str) -> str:
    return f"{value:.8g} {unit}"


def _particle(electrode, path: str, ledger: _Ledger):
    """The particle (active material) of an electrode and its path: the electrode itself,
    or of a blend the particle with the largest active volume fraction (the others are
    reported)."""
    particles = getattr(electrode, "particle", None)
    if not particles:
        return electrode, path
    fractions = {name: p.surface_area_per_unit_volume * p.particle_radius / 3
                 for name, p in particles.items()}
    chosen = max(fractions, key=fractions.get)
    for name in particles:
        if name != chosen:
            for sub, _ in bpx_fields(particles[name], f"{path}{SEP}Particle{SEP}{name}"):
                ledger.skip(sub, f"blended electrode: a thinfilm film is one material; "
                                 f"the {chosen!r} particle (largest active volume fraction, "
                                 f"{fractions[chosen]:.3g}) was imported")
    return particles[chosen], f"{path}{SEP}Particle{SEP}{chosen}"


def _electrode(side: str, electrode, path: str, ledger: _Ledger, folder: Path, stem: str,
               reference_temperature: float, tables: list[Path], source: str):
    """(material overrides, layer thickness, particle, its path) of one electrode; the
    tables it needs are appended to `tables` as (path, x, y, columns, header lines)."""
    particle, ppath = _particle(electrode, path, ledger)
    overrides: dict = {}
    layer_key = f"cell.layers.{side}"

    def field_path(name):
        return f"{ppath}{SEP}{name}"

    usable = (float(particle.minimum_stoichiometry), float(particle.maximum_stoichiometry))
    overrides["stoichiometry_range"] = list(usable)
    ledger.map(field_path("Minimum stoichiometry"), f"{side} material stoichiometry_range")
    ledger.map(field_path("Maximum stoichiometry"), f"{side} material stoichiometry_range")

    c_max = float(particle.maximum_concentration)
    overrides["max_concentration"] = _quantity_text(c_max, "mol/m^3")
    ledger.map(field_path("Maximum concentration [mol.m-3]"), f"{side} max_concentration")

    fraction = particle.surface_area_per_unit_volume * particle.particle_radius / 3
    if 0 < fraction <= 1:
        overrides["active_fraction"] = round(float(fraction), 6)
        note = (f"active volume fraction a R / 3 = {fraction:.4g} (with the particle radius)")
        ledger.map(field_path("Surface area per unit volume [m-1]"),
                   f"{side} active_fraction", note)
        ledger.map(field_path("Particle radius [m]"), f"{side} active_fraction",
                   "only in a R / 3; not a diffusion length: a dense film's is its thickness")
    else:
        why = (f"a R / 3 = {fraction:.4g} is no volume fraction in (0, 1]; thin films are "
               f"dense: no particles")
        ledger.skip(field_path("Surface area per unit volume [m-1]"), why)
        ledger.skip(field_path("Particle radius [m]"), why)

    # OCP: a table file of stoichiometry, volts
    ocv_path = folder / f"{stem}_{side}_ocv.csv"
    xs, ys, how = _table_points(particle.ocp, field_path("OCP [V]"), usable, ocv=True)
    tables.append((ocv_path, xs, ys, "stoichiometry,OCP [V]",
                   [f"{side} electrode open-circuit potential vs Li/Li+ from BPX file {source}",
                    f"field {field_path('OCP [V]')}: {how}"]))
    overrides["ocv"] = ocv_path.name
    ledger.map(field_path("OCP [V]"), f"{side} ocv", f"{ocv_path.name}: {how}")

    # diffusivity: a number, or a table file of stoichiometry, m^2/s
    diffusivity = particle.diffusivity
    dpath = field_path("Diffusivity [m2.s-1]")
    if isinstance(diffusivity, (int, float)):
        overrides["diffusivity"] = _quantity_text(float(diffusivity), "m^2/s")
        ledger.map(dpath, f"{side} diffusivity")
    else:
        table_path = folder / f"{stem}_{side}_diffusivity.csv"
        xs, ys, how = _table_points(diffusivity, dpath, usable, ocv=False)
        tables.append((table_path, xs, ys, "stoichiometry,diffusivity [m^2/s]",
                       [f"{side} electrode diffusivity from BPX file {source}",
                        f"field {dpath}: {how}"]))
        overrides["diffusivity"] = table_path.name
        ledger.map(dpath, f"{side} diffusivity", f"{table_path.name}: {how}")
    if particle.diffusivity_activation_energy is not None:
        overrides["diffusivity_activation_energy"] = _quantity_text(
            float(particle.diffusivity_activation_energy), "J/mol")
        ledger.map(field_path("Diffusivity activation energy [J.mol-1]"),
                   f"{side} diffusivity_activation_energy")

    k = float(particle.reaction_rate_constant) / c_max
    overrides["rate_constant"] = _quantity_text(k, "m/s")
    overrides["charge_transfer_coefficient"] = 0.5
    ledger.map(field_path("Reaction rate constant [mol.m-2.s-1]"), f"{side} rate_constant",
               f"k = k_BPX / c_max = {k:.4g} m/s, alpha = 0.5 (BPX's symmetric "
               f"Butler-Volmer; no electrolyte concentration factor)")
    if particle.reaction_rate_constant_activation_energy is not None:
        overrides["rate_constant_activation_energy"] = _quantity_text(
            float(particle.reaction_rate_constant_activation_energy), "J/mol")
        ledger.map(field_path("Reaction rate constant activation energy [J.mol-1]"),
                   f"{side} rate_constant_activation_energy")

    conductivity = getattr(electrode, "conductivity", None)
    if conductivity is not None:
        overrides["electronic_conductivity"] = _quantity_text(float(conductivity), "S/m")
        # the conductivity is the porous electrode's effective one: no correction for
        # density or tortuosity is known that would give the film's
        overrides["electronic_conductivity_activation_energy"] = "0 J/mol"
        ledger.map(f"{path}{SEP}Conductivity [S.m-1]", f"{side} electronic_conductivity",
                   "BPX's is the porous electrode's effective conductivity; used as the "
                   "film's, without temperature dependence")
    overrides["reference_temperature"] = _quantity_text(reference_temperature, "K")
    # BPX has no double layer nor film resistance: none is inherited from the library entry
    overrides["double_layer_capacitance"] = 0
    overrides["film_resistance"] = 0

    thickness = float(electrode.thickness)
    ledger.map(f"{path}{SEP}Thickness [m]", f"{layer_key}.thickness")
    return overrides, thickness, particle, ppath


def _cell_temperature(model, ledger: _Ledger) -> tuple[float, float]:
    """(cell temperature, reference temperature) in K."""
    cell = model.parameterisation.cell
    state = model.state
    initial = getattr(getattr(state, "initial_conditions", None), "initial_temperature", None)
    ambient = getattr(getattr(state, "thermal_environment", None), "ambient_temperature", None)
    reference = cell.reference_temperature
    temperature = next((t for t in (initial, ambient, reference) if t is not None), 298.15)
    if initial is not None:
        ledger.map("State / Initial conditions / Initial temperature [K]", "cell.temperature")
    elif ambient is not None:
        ledger.map("State / Thermal environment / Ambient temperature [K]", "cell.temperature",
                   "no initial temperature given")
    elif reference is None:
        ledger.notes.append("no temperature given: the cell is at 298.15 K")
    if reference is not None:
        ledger.map("Parameterisation / Cell / Reference temperature [K]",
                   "materials.*.reference_temperature")
    else:
        reference = temperature
        ledger.notes.append(f"no reference temperature given: the electrodes' Arrhenius "
                            f"laws refer to the cell temperature, {temperature:g} K")
    return float(temperature), float(reference)


def _initial_soc(model, ledger: _Ledger) -> float:
    soc = getattr(getattr(model.state, "initial_conditions", None), "initial_soc", None)
    if soc is None:
        ledger.notes.append("no initial state of charge given: the cell starts charged "
                            "(SOC = 1)")
        return 1.0
    ledger.map("State / Initial conditions / Initial state-of-charge",
               "cell.layers.*.initial_stoichiometry",
               "x = x_min + SOC (x_max - x_min) (negative), x_max - SOC (x_max - x_min) "
               "(positive)")
    return float(soc)


def import_bpx(bpx_file, out, *, negative: str | None = None, positive: str | None = None,
               electrolyte: str = "LiPON", electrolyte_thickness="1.5 um") -> Outcome:
    """Write the case of a BPX file to `out` (tables and report beside it)."""
    import tomli_w

    from .case import load_case
    from .materials import OVERRIDE_SOURCE, library_names, load_material
    from .results import write_atomic

    bpx_file, out = Path(bpx_file), Path(out)
    if out.suffix.lower() != ".toml" or out.is_dir():
        raise InputError("--out", str(out), "a case file path ending in .toml (its tables "
                                            "and the report are written beside it)")
    names = {"--negative-material": _base_material(negative, "--negative-material"),
             "--positive-material": _base_material(positive, "--positive-material")}
    if negative is not None and negative == positive:
        raise InputError("--positive-material", positive,
                         "a material other than the negative electrode's (each "
                         "[materials.NAME] table belongs to one electrode)")
    if electrolyte not in library_names() or load_material(electrolyte).kind != "electrolyte":
        raise InputError("--electrolyte", electrolyte, "a solid electrolyte of the library, "
                                                       "such as LiPON")
    thickness_e = parse_quantity(electrolyte_thickness, "length", "--electrolyte-thickness")
    if not thickness_e > 0:
        raise InputError("--electrolyte-thickness", electrolyte_thickness,
                         "a length greater than zero, such as '1.5 um'")

    model, bpx_warnings = read_bpx(bpx_file)
    parameters = model.parameterisation
    missing = [title for title, attr in (("Cell", "cell"), ("Negative electrode",
                                                          "negative_electrode"),
                                         ("Positive electrode", "positive_electrode"))
               if getattr(parameters, attr, None) is None]
    if missing:
        raise InputError(f"{bpx_file}: Parameterisation{SEP}{missing[0]}", "<missing>",
                         "a BPX file with Cell, Negative electrode and Positive electrode "
                         "sections (a thin-film cell needs both electrodes)")

    ledger = _Ledger()
    folder = out.resolve().parent
    stem = out.stem
    tables: list = []                      # written once everything is known to map
    temperature, reference = _cell_temperature(model, ledger)
    soc = _initial_soc(model, ledger)

    materials: dict = {}
    layers: list = []
    chosen: dict[str, str] = {}
    lines_base = []
    particles = {}
    for side, title in SIDES:
        electrode = getattr(parameters, f"{side}_electrode")
        path = f"Parameterisation{SEP}{title}"
        overrides, thickness, particle, ppath = _electrode(
            side, electrode, path, ledger, folder, stem, reference, tables, bpx_file.name)
        particles[side] = particle
        usable = tuple(overrides["stoichiometry_range"])
        base = names[f"--{side}-material"]
        if base is None:
            base, rms = closest_library_material(particle.ocp, f"{ppath}{SEP}OCP [V]", usable,
                                                 exclude=tuple(chosen.values()))
            lines_base.append(f"{side} electrode: overrides library material {base} (the "
                              f"closest OCV over x = {usable[0]:g}..{usable[1]:g}: RMS "
                              f"{rms * 1e3:.0f} mV; choose with --{side}-material)")
        else:
            lines_base.append(f"{side} electrode: overrides library material {base} "
                              f"(--{side}-material)")
        if base in chosen.values():
            raise InputError(f"--{side}-material", base,
                             "a material other than the other electrode's (each "
                             "[materials.NAME] table belongs to one electrode)")
        chosen[side] = base
        materials[base] = overrides
        low, high = usable
        x0 = low + soc * (high - low) if side == "negative" else high - soc * (high - low)
        layers.append({"name": side, "material": base,
                       "thickness": _quantity_text(thickness * 1e6, "um"),
                       "initial_stoichiometry": round(x0, 10)})
        if side == "negative":
            layers.append({"name": "electrolyte", "material": electrolyte,
                           "thickness": _quantity_text(thickness_e * 1e6, "um")})

    cell_bpx = parameters.cell
    pairs = int(cell_bpx.number_of_electrodes)
    capacity = float(cell_bpx.nominal_cell_capacity) / max(pairs, 1)
    ledger.map("Parameterisation / Cell / Nominal cell capacity [A.h]", "cell.nominal_capacity",
               f"per electrode pair: {cell_bpx.nominal_cell_capacity:g} Ah / {pairs}")
    ledger.map("Parameterisation / Cell / Number of electrode pairs connected in parallel "
               "to make a cell", "cell.nominal_capacity", "the case is one electrode pair")
    ledger.map("Parameterisation / Cell / Electrode area [m2]", "cell.footprint_area")
    ledger.map("Parameterisation / Cell / Lower voltage cut-off [V]",
               "protocol (discharge until_voltage)")
    ledger.map("Parameterisation / Cell / Upper voltage cut-off [V]",
               "protocol (charge until_voltage)")
    title = model.header.title or bpx_file.stem
    ledger.map("Header / Title", "cell.name")
    for name in ("Description", "References"):
        ledger.map(f"Header{SEP}{name}", "comment at the top of the case")

    discharge = {"mode": "discharge", "c_rate": 1,
                 "until_voltage": _quantity_text(float(cell_bpx.lower_voltage_cutoff), "V")}
    charge = {"mode": "charge", "c_rate": 1,
              "until_voltage": _quantity_text(float(cell_bpx.upper_voltage_cutoff), "V")}
    case = {
        "cell": {"name": title, "architecture": "planar",
                 "footprint_area": _quantity_text(float(cell_bpx.electrode_area) * 1e4,
                                                  "cm^2"),
                 "temperature": _quantity_text(temperature, "K"),
                 "nominal_capacity": _quantity_text(capacity * 1e3, "mAh"),
                 "layers": layers},
        "materials": materials,
        "mesh": {"cells_per_layer": 20},
        "protocol": [discharge, charge] if soc >= 0.5 else [charge, discharge],
    }

    for path, _ in bpx_fields(model):
        if path in ledger.done:
            continue
        section = next((s for s in SECTION_NOT_MAPPED if path.startswith(s + SEP)), None)
        name = path.rsplit(SEP, 1)[-1]
        if section is not None:
            ledger.skip(path, SECTION_NOT_MAPPED[section])
        else:
            ledger.skip(path, NOT_MAPPED.get(name, "no counterpart in thinfilm's case format"))

    header = [f"Imported by thinfilm import-bpx from {bpx_file.name} ({title}).",
              f"What was not mapped, and why: {stem}_bpx_report.md"]
    for name in ("description", "references"):
        text = getattr(model.header, name, None)
        if text:
            header.append(f"{name.capitalize()}: {' '.join(str(text).split())}")
    comment = "".join(f"# {line}\n" for line in header)
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for table in tables:
            _write_table(*table)
    except OSError as exc:
        raise InputError("--out", str(out), f"a case file path whose folder can be written "
                                            f"({exc.strerror or type(exc).__name__})") from None
    steps = case.pop("protocol")        # as [[protocol]] tables, as the shipped cases are
    body = tomli_w.dumps(case) + "".join("\n[[protocol]]\n" + tomli_w.dumps(step)
                                         for step in steps)
    case["protocol"] = steps
    write_atomic(out, comment + "\n" + body)

    problem, loaded = None, None
    try:
        loaded = load_case(out)
    except InputError as exc:
        problem = str(exc)

    lines = [f"# BPX import: {title}", "",
             f"from {bpx_file} (BPX {model.header.bpx}, model {model.header.model}) into "
             f"{out.name}", ""]
    lines += [f"- {line}" for line in lines_base]
    lines.append(f"- electrolyte: library {electrolyte}, {thickness_e * 1e6:g} um "
                 f"(--electrolyte, --electrolyte-thickness)")
    if loaded is not None:
        for side in ("negative", "positive"):
            layer = loaded.layer(side)
            kept = [p for p in layer.material.names()      # (the layer sets the initial x)
                    if layer.material.source(p) != OVERRIDE_SOURCE
                    and p not in ("initial_stoichiometry", "initial_voltage")]
            lines.append(f"- kept from library {layer.material.name}: "
                         f"{', '.join(kept) or 'nothing'}")
            stored = (layer.material.volumetric_capacity() * layer.thickness
                      * loaded.footprint_area / 3600)
            lines.append(f"- {side} film holds {stored * 1e3:.4g} mAh between its "
                         f"stoichiometry limits (nominal per electrode pair: "
                         f"{capacity * 1e3:.4g} mAh)")
    lines += [f"- {note}" for note in ledger.notes]
    lines += [f"- bpx warned: {message}" for message in bpx_warnings]
    lines.append(f"- the written case loads: {'yes' if problem is None else 'NO: ' + problem}")
    lines += ["", f"## Mapped ({len(ledger.mapped)} fields)", "",
              "| BPX field | case key | note |", "|---|---|---|"]
    lines += [f"| {p} | {k} | {n} |" for p, k, n in ledger.mapped]
    lines += ["", f"## Not mapped ({len(ledger.unmapped)} fields)", "",
              "| BPX field | why |", "|---|---|"]
    lines += [f"| {p} | {why} |" for p, why in ledger.unmapped]
    report = "\n".join(lines) + "\n"
    report_path = folder / f"{stem}_bpx_report.md"
    write_atomic(report_path, report)
    return Outcome(out, [out, *(table[0] for table in tables), report_path], report, problem)

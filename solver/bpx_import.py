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

import tempfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .bpx_read import SEP, bpx_fields, function_table, read_bpx, sample
from .errors import InputError
from .units import parse_quantity

SIDES = (("negative", "Negative electrode"), ("positive", "Positive electrode"))

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
# tables

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


def _activation_energy(value, path: str, key: str, side: str, overrides: dict,
                       ledger: _Ledger) -> None:
    """An Arrhenius activation energy; one BPX leaves out is 0 (as BPX readers take it),
    not the library material's."""
    overrides[key] = _quantity_text(float(value or 0.0), "J/mol")
    if value is None:
        ledger.notes.append(f"{side} electrode: no {path.rsplit(SEP, 1)[-1]}: {key} = 0")
    else:
        ledger.map(path, f"{side} {key}")


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
    xs, ys, how = function_table(particle.ocp, field_path("OCP [V]"), usable, ocv=True)
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
        xs, ys, how = function_table(diffusivity, dpath, usable, ocv=False)
        tables.append((table_path, xs, ys, "stoichiometry,diffusivity [m^2/s]",
                       [f"{side} electrode diffusivity from BPX file {source}",
                        f"field {dpath}: {how}"]))
        overrides["diffusivity"] = table_path.name
        ledger.map(dpath, f"{side} diffusivity", f"{table_path.name}: {how}")
    _activation_energy(particle.diffusivity_activation_energy,
                       field_path("Diffusivity activation energy [J.mol-1]"),
                       "diffusivity_activation_energy", side, overrides, ledger)

    k = float(particle.reaction_rate_constant) / c_max
    overrides["rate_constant"] = _quantity_text(k, "m/s")
    overrides["charge_transfer_coefficient"] = 0.5
    ledger.map(field_path("Reaction rate constant [mol.m-2.s-1]"), f"{side} rate_constant",
               f"k = k_BPX / c_max = {k:.4g} m/s, alpha = 0.5 (BPX's symmetric "
               f"Butler-Volmer; no electrolyte concentration factor)")
    _activation_energy(particle.reaction_rate_constant_activation_energy,
                       field_path("Reaction rate constant activation energy [J.mol-1]"),
                       "rate_constant_activation_energy", side, overrides, ledger)

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


def _options(out: Path, negative, positive, electrolyte, electrolyte_thickness):
    """The checked command-line choices: (base materials by option, electrolyte thickness)."""
    from .materials import library_names, load_material

    if out.suffix.lower() != ".toml" or out.is_dir():
        raise InputError("--out", str(out), "a case file path ending in .toml (its tables "
                                            "and the report are written beside it)")
    names = {"negative": _base_material(negative, "--negative-material"),
             "positive": _base_material(positive, "--positive-material")}
    if negative is not None and negative == positive:
        raise InputError("--positive-material", positive,
                         "a material other than the negative electrode's (each "
                         "[materials.NAME] table belongs to one electrode)")
    if electrolyte not in library_names() or load_material(electrolyte).kind != "electrolyte":
        raise InputError("--electrolyte", electrolyte, "a solid electrolyte of the library, "
                                                       "such as LiPON")
    thickness = parse_quantity(electrolyte_thickness, "length", "--electrolyte-thickness")
    if not thickness > 0:
        raise InputError("--electrolyte-thickness", electrolyte_thickness,
                         "a length greater than zero, such as '1.5 um'")
    return names, thickness


def _cell(model, source: Path, ledger: _Ledger, temperature: float, layers: list,
          soc: float) -> dict:
    """The [cell] table and the protocol (a 1C discharge and charge between the cut-offs,
    the one the initial state allows first)."""
    cell = model.parameterisation.cell
    pairs = int(cell.number_of_electrodes)
    capacity = float(cell.nominal_cell_capacity) / max(pairs, 1)
    ledger.map(f"Parameterisation{SEP}Cell{SEP}Nominal cell capacity [A.h]",
               "cell.nominal_capacity",
               f"per electrode pair: {cell.nominal_cell_capacity:g} Ah / {pairs}")
    ledger.map(f"Parameterisation{SEP}Cell{SEP}Number of electrode pairs connected in "
               f"parallel to make a cell", "cell.nominal_capacity",
               "the case is one electrode pair")
    ledger.map(f"Parameterisation{SEP}Cell{SEP}Electrode area [m2]", "cell.footprint_area")
    ledger.map(f"Parameterisation{SEP}Cell{SEP}Lower voltage cut-off [V]",
               "protocol (discharge until_voltage)")
    ledger.map(f"Parameterisation{SEP}Cell{SEP}Upper voltage cut-off [V]",
               "protocol (charge until_voltage)")
    for name, key in (("Title", "cell.name"), ("Description", "comment atop the case"),
                      ("References", "comment atop the case")):
        if getattr(model.header, name.lower(), None):
            ledger.map(f"Header{SEP}{name}", key)
    lower, upper = float(cell.lower_voltage_cutoff), float(cell.upper_voltage_cutoff)
    if not lower < upper:
        raise InputError(f"{source.name}: Parameterisation{SEP}Cell{SEP}Lower voltage cut-off "
                         f"[V]", lower, f"a cut-off below the upper one ({upper:g} V): the "
                                        f"case discharges down to it and charges up to that")
    discharge = {"mode": "discharge", "c_rate": 1,
                 "until_voltage": _quantity_text(float(cell.lower_voltage_cutoff), "V")}
    charge = {"mode": "charge", "c_rate": 1,
              "until_voltage": _quantity_text(float(cell.upper_voltage_cutoff), "V")}
    return {
        "cell": {"name": model.header.title or source.stem, "architecture": "planar",
                 "footprint_area": _quantity_text(float(cell.electrode_area) * 1e4, "cm^2"),
                 "temperature": _quantity_text(temperature, "K"),
                 "nominal_capacity": _quantity_text(capacity * 1e3, "mAh"),
                 "layers": layers},
        "protocol": [discharge, charge] if soc >= 0.5 else [charge, discharge],
    }


def _report_the_rest(model, ledger: _Ledger) -> None:
    """Every field not mapped yet goes to the not-mapped list, with its reason."""
    for path, _ in bpx_fields(model):
        if path in ledger.done:
            continue
        section = next((s for s in SECTION_NOT_MAPPED if path.startswith(s + SEP)), None)
        if section is not None:
            ledger.skip(path, SECTION_NOT_MAPPED[section])
        else:
            ledger.skip(path, NOT_MAPPED.get(path.rsplit(SEP, 1)[-1],
                                             "no counterpart in thinfilm's case format"))


def _case_text(model, case: dict, source: Path, stem: str) -> str:
    """The case as TOML, under comments naming its source, [[protocol]] tables last."""
    import tomli_w

    header = [f"Imported by thinfilm import-bpx from {source.name} ({case['cell']['name']}).",
              f"What was not mapped, and why: {stem}_bpx_report.md"]
    for name in ("description", "references"):
        text = getattr(model.header, name, None)
        if text:
            header.append(f"{name.capitalize()}: {' '.join(str(text).split())}")
    tables = {key: value for key, value in case.items() if key != "protocol"}
    return ("".join(f"# {line}\n" for line in header) + "\n" + tomli_w.dumps(tables)
            + "".join("\n[[protocol]]\n" + tomli_w.dumps(step) for step in case["protocol"]))


def _report(model, source: Path, out: Path, ledger: _Ledger, bases: list[str],
            electrolyte: str, thickness: float, loaded, warned) -> str:
    from .materials import OVERRIDE_SOURCE

    title = model.header.title or source.stem
    lines = [f"# BPX import: {title}", "",
             f"from {source} (BPX {model.header.bpx}, model {model.header.model}) into "
             f"{out.name}", ""]
    lines += [f"- {line}" for line in bases]
    lines.append(f"- electrolyte: library {electrolyte}, {thickness * 1e6:g} um "
                 f"(--electrolyte, --electrolyte-thickness)")
    for side, _ in SIDES:
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
                     f"{loaded.nominal_capacity / 3.6:.4g} mAh)")
    lines += [f"- {note}" for note in ledger.notes]
    lines += [f"- bpx warned: {message}" for message in warned]
    lines.append("- the written case loads: yes (checked before anything was written)")
    lines += ["", f"## Mapped ({len(ledger.mapped)} fields)", "",
              "| BPX field | case key | note |", "|---|---|---|"]
    lines += [f"| {p} | {k} | {n} |" for p, k, n in ledger.mapped]
    lines += ["", f"## Not mapped ({len(ledger.unmapped)} fields)", "",
              "| BPX field | why |", "|---|---|"]
    lines += [f"| {p} | {why} |" for p, why in ledger.unmapped]
    return "\n".join(lines) + "\n"


def _bpx_field(key: str, ledger: _Ledger, materials: dict, bpx_file: Path) -> str:
    """The BPX field (or command-line option) a key of the generated case came from, for
    an error message; the case key itself when none did."""
    parts = key.split(".")
    wanted = {key}
    if parts[0] == "materials" and len(parts) >= 3:
        side = next((s for s, base in zip(("negative", "positive"), materials)
                     if base == parts[1]), None)
        if side is not None:
            wanted |= {f"{side} {parts[2]}", f"{side} material {parts[2]}"}
    if parts[:2] == ["cell", "layers"] and len(parts) >= 4:
        if parts[2] == "electrolyte" and parts[3] == "thickness":
            return "--electrolyte-thickness"
        wanted.add(f"cell.layers.*.{parts[3]}")
    fields = [field for field, mapped, _ in ledger.mapped if mapped in wanted]
    if parts[:2] == ["cell", "layers"] and len(parts) >= 4 and len(fields) > 1:
        fields = [f for f in fields if parts[2].capitalize() in f] or fields
    if fields:
        return f"{bpx_file.name}: {fields[0]}"
    return f"{key} (of the case made from {bpx_file.name})"


def import_bpx(bpx_file, out, *, negative: str | None = None, positive: str | None = None,
               electrolyte: str = "LiPON", electrolyte_thickness="1.5 um") -> Outcome:
    """Write the case of a BPX file to `out`, its tables and report beside it. Nothing is
    written unless every field maps or is reported and the case it makes is valid (else an
    InputError naming the BPX field, or the option, the refused value came from)."""
    from .case import load_case
    from .results import write_atomic

    bpx_file, out = Path(bpx_file), Path(out)
    names, thickness_e = _options(out, negative, positive, electrolyte, electrolyte_thickness)
    model, warned = read_bpx(bpx_file)
    parameters = model.parameterisation
    missing = [title for title, attr in (("Cell", "cell"),
                                         ("Negative electrode", "negative_electrode"),
                                         ("Positive electrode", "positive_electrode"))
               if getattr(parameters, attr, None) is None]
    if missing:
        raise InputError(f"{bpx_file}: Parameterisation{SEP}{missing[0]}", "<missing>",
                         "a BPX file with Cell, Negative electrode and Positive electrode "
                         "sections (a thin-film cell needs both electrodes)")

    ledger = _Ledger()
    folder, stem = out.resolve().parent, out.stem
    tables: list = []                      # written once everything is known to map
    temperature, reference = _cell_temperature(model, ledger)
    soc = _initial_soc(model, ledger)
    materials, layers, bases = {}, [], []
    for side, title in SIDES:
        path = f"Parameterisation{SEP}{title}"
        overrides, thickness, particle, ppath = _electrode(
            side, getattr(parameters, f"{side}_electrode"), path, ledger, folder, stem,
            reference, tables, bpx_file.name)
        low, high = usable = tuple(overrides["stoichiometry_range"])
        base = names[side]
        if base is None:
            base, rms = closest_library_material(particle.ocp, f"{ppath}{SEP}OCP [V]", usable,
                                                 exclude=tuple(materials))
            bases.append(f"{side} electrode: overrides library material {base} (the closest "
                         f"OCV over x = {low:g}..{high:g}: RMS {rms * 1e3:.0f} mV; choose "
                         f"with --{side}-material)")
        else:
            bases.append(f"{side} electrode: overrides library material {base} "
                         f"(--{side}-material)")
        if base in materials:
            raise InputError(f"--{side}-material", base,
                             "a material other than the other electrode's (each "
                             "[materials.NAME] table belongs to one electrode)")
        materials[base] = overrides
        x0 = low + soc * (high - low) if side == "negative" else high - soc * (high - low)
        layers.append({"name": side, "material": base,
                       "thickness": _quantity_text(thickness * 1e6, "um"),
                       "initial_stoichiometry": round(x0, 10)})
        if side == "negative":
            layers.append({"name": "electrolyte", "material": electrolyte,
                           "thickness": _quantity_text(thickness_e * 1e6, "um")})
    case = _cell(model, bpx_file, ledger, temperature, layers, soc)
    case["materials"] = materials
    case["mesh"] = {"cells_per_layer": 20}
    _report_the_rest(model, ledger)

    case_text = _case_text(model, case, bpx_file, stem)
    # checked as the case it makes, in a scratch folder: nothing is written if it is refused
    with tempfile.TemporaryDirectory(prefix="thinfilm-bpx-") as scratch:
        scratch = Path(scratch)
        for path, *table in tables:
            _write_table(scratch / path.name, *table)
        write_atomic(scratch / out.name, case_text)
        try:
            loaded = load_case(scratch / out.name)
        except InputError as exc:
            field = _bpx_field(exc.key, ledger, materials, bpx_file)
            shown = electrolyte_thickness if field == "--electrolyte-thickness" else exc.value
            raise InputError(field, shown, exc.expected) from None
    try:
        folder.mkdir(parents=True, exist_ok=True)
        for table in tables:
            _write_table(*table)
        write_atomic(out, case_text)
    except OSError as exc:
        raise InputError("--out", str(out), f"a case file path whose folder can be written "
                                            f"({exc.strerror or type(exc).__name__})") from None
    report = _report(model, bpx_file, out, ledger, bases, electrolyte, thickness_e, loaded,
                     warned)
    report_path = folder / f"{stem}_bpx_report.md"
    write_atomic(report_path, report)
    return Outcome(out, [out, *(table[0] for table in tables), report_path], report)

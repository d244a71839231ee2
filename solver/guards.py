"""What a run checks before and while it runs each step, so that exit 0 means physical numbers.

Input that only the model can judge (InputError, before anything runs), the bounds of every
step, the physics of every state (a violation is a solver failure), why a step delivered
nothing, and the resolution indicator of the films' surfaces (solver.resolution). Plain
functions of the model and its states; `solver.simulate.Simulation` calls them.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .case.settings import DRIVES
from .errors import InputError
from .limits import MAX_FINE_TIME_STEPS, MAX_TIME
from .materials.schema import KINETIC_ACTIVATION_ENERGY
from .protocol import drive_for_step, one_c_current, voltage_cutoff, with_end_current
from .units import FARADAY

# Every step is bounded. Without until_time a current step ends (solver_failed) after this
# many times the time its current takes to pass all the lithium the electrodes could hold
# (no monotone process passes more); a held voltage after that many times the time
# until_current takes to pass it (the current cannot stay above until_current longer).
# `max_duration` on a step sets the bound instead.
MAX_DURATION_FACTOR = 2.0
# ... and a step ends (solver_failed) after this many accepted time steps (rows), or after
# 4 (max_duration or until_time) / solver.max_step when the case asks for finer steps: a
# 1C discharge takes 30-100, a 0.01C cccv 200.
MAX_TIME_STEPS = 10_000
# A unit cell's voltage outside this range is no lithium chemistry: a solver failure.
CELL_VOLTAGE_RANGE = (-1.0, 6.0)        # V
# Lithium and charge balances hold to what Newton leaves: it accepts a state once its
# update is below 1e-8 (stoichiometry; with a direct linear solver in a time step 1e-3 of
# solver.rtol, up to 1e-4, converging quadratically to about its square; up to 1e-6 where
# round-off stalls it); balances off by more than this fraction of the cell's lithium
# capacity are a solver failure (normal runs stay at 1e-15).
CONSERVATION_TOL = 1e-6
# ... and from state to state they may drift by what each Newton solve leaves: a solve
# whose updates stall below 1e-6 (newton_solve's `roundoff`: in GMRES-solved 2D and 3D
# cells the inexact linear solves set that floor, not round-off) is accepted, leaving up to
# 1e-6 of the cell's lithium capacity. The shipped trench at 0.1C drifted 4e-7 per state
# and was stopped as a failure after ten states. The balances may drift by this fraction
# per accepted state, up to MAX_DRIFT (gross failures, a diffusivity of 1e30, are off by
# the whole capacity).
DRIFT_PER_STATE = 1e-6
MAX_DRIFT = 1e-3
# A held current settles at round-off, about 1e-15 of the 1C current of the library's
# cells (eps times the exchange current): an until_current below this fraction of the 1C
# current may never be reached, and is refused.
CURRENT_RESOLUTION = 1e-12
# A cell further than this from a material's reference temperature (K) is told which of its
# properties have no activation energy and keep their reference values (the library's Li
# gives its i0 at 20 degC: a 25 degC cell is no cause to say so).
UNCORRECTED_TEMPERATURE = 10.0
# A surface that moved less than this in a step is not a diffusion layer to resolve.
SURFACE_CHANGE_FLOOR = 1e-6
# A step that delivered nothing was ended by the ohmic and kinetic drop, not by its films'
# surfaces, when these supplied at most this share of the way from open circuit to the
# cutoff: an axisymmetric pillar at -40 degC drops 1.1 V at once and its surfaces add 7 mV
# (0.6 %) in the 2 ms its double layers take to charge, while a 20 um film too coarsely
# meshed for its diffusivity owes its surfaces 90 % of the way (solver.resolution refines
# that one).
DROP_SHARE = 0.05


# ------------------------------------------------------------------ input errors at run time
def refuse_unusable_start(case, model, capacities):
    """An initial stoichiometry outside the range of its electrode's OCV table (the voltage
    would be extrapolated), or a layer whose lithium capacity is not a finite number."""
    for e in model.electrodes:
        layer = case.layers[e.layer]
        material = layer.material
        name = layer.name.rsplit("_", 1)[0] if case.bipolar is not None else layer.name
        if e.kind == "intercalation":
            table = material.value("ocv")
            low, high = float(table.x[0]), float(table.x[-1])
            if not low <= e.initial_x <= high:
                raise InputError(f"cell.layers.{name}.initial_stoichiometry", e.initial_x,
                                 f"a stoichiometry within {low:g}..{high:g}, the range of the "
                                 f"OCV table of {material.name} (beyond it the voltage would "
                                 f"be extrapolated)")
        if not np.isfinite(capacities[e.name]):
            parameter = "max_concentration" if e.kind == "intercalation" else "density"
            raise InputError(f"materials.{material.name}.{parameter}", material.value(parameter),
                             f"a value that gives layer {layer.name!r} a finite lithium "
                             f"capacity (this one overflows double precision)")


def refuse_endless_steps(case, nominal_capacity):
    """A step that would not end in any time one can wait for: a current so small that,
    without an until_time, it takes more than MAX_TIME to pass the nominal capacity (1e-30
    A ran to 1e25 s and failed there on round-off), or a solver.max_step that takes it
    more than MAX_FINE_TIME_STEPS time steps over its characteristic time (the time its
    current passes the nominal capacity, or its until_time)."""
    max_step = case.solver.max_step
    for step in case.protocol:
        if step.mode == "impedance":
            continue
        drive = drive_for_step(with_end_current(step, nominal_capacity), nominal_capacity,
                               case.footprint_area)
        if drive.kind == "current" and drive.value != 0.0 and step.until_time is None:
            passing = nominal_capacity / abs(drive.value)
            if passing > MAX_TIME:
                name = next(n for n in DRIVES if getattr(step, n) is not None)
                raise InputError(f"{step.key}.{name}", getattr(step, name),
                                 f"a current that passes the nominal capacity within "
                                 f"{MAX_TIME:g} s, or an until_time (this one takes "
                                 f"{passing:.3g} s)")
        t_char = drive.characteristic_time(nominal_capacity)
        if max_step is not None and t_char / max_step > MAX_FINE_TIME_STEPS:
            raise InputError("solver.max_step", case.raw.get("solver", {}).get("max_step",
                                                                               max_step),
                             f"a largest time step of at least {t_char / MAX_FINE_TIME_STEPS:.3g}"
                             f" s: {step.key} ({step.mode}) takes {t_char:.4g} s to pass its "
                             f"charge or time, {t_char / max_step:.3g} time steps of "
                             f"{max_step:g} s (at most {MAX_FINE_TIME_STEPS:g})")


def surface_potential(model, e, u):
    """An electrode's open-circuit potential (V vs Li) at its present surface stoichiometry,
    the area mean over its faces (0 for lithium metal)."""
    if e.kind != "intercalation":
        return 0.0
    area = model.if_area[e.faces]
    return float(np.sum(e.ocv(u[model.s_xs][e.xs_slice])[0] * area) / np.sum(area))


def open_circuit_voltage(model, u):
    """The stack's voltage at zero current with its present surface stoichiometries."""
    return sum(surface_potential(model, model.electrodes[unit.positive], u)
               - surface_potential(model, model.electrodes[unit.negative], u)
               for unit in model.units)


def refuse_unreachable_end(model, step, drive, u, nominal_capacity):
    """Before a step runs: a discharge (charge) whose cutoff lies at or above (below) the
    open-circuit voltage it starts from cannot run at any current (a cccv step above its
    voltage goes straight to its hold); an until_current below CURRENT_RESOLUTION of the
    1C current may never be reached."""
    floor = CURRENT_RESOLUTION * one_c_current(nominal_capacity)
    if step.until_current is not None and step.until_current < floor:
        given = f"{step.until_current:g} A"
        if step.until_current_c_rate is not None:
            given = f"{step.until_current_c_rate:g}C ({given})"
        raise InputError(f"{step.key}.until_current", given,
                         f"a current of at least {floor:.3g} A ({CURRENT_RESOLUTION:g} of the "
                         f"1C current): a held current settles at round-off near that size "
                         f"and may never fall below it")
    v_cut = voltage_cutoff(step, drive)
    if v_cut is None or step.mode == "cccv":
        return
    v_oc = open_circuit_voltage(model, u)
    if (v_oc <= v_cut) if drive.sign > 0 else (v_oc >= v_cut):
        side = "below" if drive.sign > 0 else "above"
        raise InputError(step.cutoff_key or f"{step.key}.until_voltage", f"{v_cut:g} V",
                         f"a cutoff {side} the voltage the {step.mode} of {step.key} starts "
                         f"from ({v_oc:.4f} V at open circuit): it is met before the step "
                         f"begins, at any current")


def refuse_blocking_without_double_layer(case, electrodes, step):
    """An impedance step at which a lithium electrode holds no lithium: its interface blocks
    the faradaic current (solver.impedance), and without a double layer nothing crosses it
    at any frequency (the system is singular, the impedance infinite)."""
    for e in electrodes:
        if e.double_layer_capacitance > 0.0:
            continue
        material = case.layers[e.layer].material
        raise InputError(f"materials.{material.name}.double_layer_capacitance",
                         e.double_layer_capacitance,
                         f"a double-layer capacitance greater than zero for the impedance "
                         f"step {step.key}: layer {e.name!r} holds no lithium there, so its "
                         f"interface blocks the faradaic current and only its double layer "
                         f"could carry the small signal (or measure once lithium is plated)")


# ------------------------------------------------------------------ bounds of a step
def step_bounds(step, drive, lithium_capacity, max_step, max_step_given):
    """The longest duration (s) and the most accepted time steps a step may take;
    lithium_capacity (C) is all the lithium the electrodes could hold."""
    if step.max_duration is not None:
        duration = step.max_duration
    else:
        current = abs(drive.value) if drive.kind == "current" else 0.0
        if step.until_current is not None:
            current = min(current, step.until_current) if current else step.until_current
        duration = MAX_DURATION_FACTOR * lithium_capacity / current if current else np.inf
    if step.until_time is not None:
        duration = min(duration, step.until_time)
    steps = MAX_TIME_STEPS
    if max_step_given and np.isfinite(duration):
        steps = max(steps, int(4 * duration / max_step))
    return duration, steps


def bound_message(step, elapsed, max_duration, taken, max_time_steps):
    end = {"discharge": "its until_voltage", "charge": "its until_voltage",
           "hold": "its until_current", "cccv": "its until_current"}.get(step.mode, "its end")
    if taken >= max_time_steps:
        return (f"{taken} time steps ({elapsed:.4g} s) without reaching {end}: a step takes "
                f"at most {max_time_steps} (the current or the cutoff cannot be what was "
                f"meant, or the solution is not smooth at solver.rtol)")
    why = ("its max_duration" if step.max_duration is not None else
           f"{MAX_DURATION_FACTOR:g} times the time its current takes to pass all the lithium "
           f"the electrodes can hold; set max_duration on the step to allow more")
    return f"{end} not reached within {max_duration:.4g} s ({why})"


def nothing_delivered(model, reason, step, drive, u_start, u, current):
    """Why a step that started from u_start ended as soon as it began, in u (its message,
    shown on the terminal). A voltage cutoff is met by the ohmic and kinetic drop
    (overpotential_ends) or by an electrode's surface driven to where its open-circuit
    potential passes it."""
    if reason == "until_voltage":
        if overpotential_ends(model, step, drive, u_start, u, delivered_nothing=True):
            return _drop_passed_cutoff(model, step, drive, u_start, u, current)
        return _surface_passed_cutoff(model, step, drive, u_start, u, current)
    if reason == "until_current":
        return (f"the step delivered nothing: the current at {drive.value:g} V is "
                f"{abs(current):.4g} A from the start, not above until_current "
                f"({step.until_current:.4g} A)")
    if reason == "lithium_exhausted":
        return "the step delivered nothing: the lithium electrode is already empty"
    where, why = surface_at_limit(model, reason, u, u_start, drive.direction)
    return f"the step delivered nothing: {where} is at its limit ({reason}) as the step begins: {why}"


def _drop_passed_cutoff(model, step, drive, u_start, u, current):
    """The message of a step whose cutoff the ohmic and kinetic drop met at once."""
    drop = model.series.drop(u)
    series = (f", {abs(drop):.4g} V of it across cell.series_resistance" if drop != 0.0
              else "")
    return (f"the step delivered nothing: its current ({abs(current):.4g} A) took the "
            f"voltage from {open_circuit_voltage(model, u_start):.4f} V at open circuit to "
            f"{model.voltage(u):.4f} V at once (the ohmic and kinetic drop{series}), past the "
            f"cutoff {voltage_cutoff(step, drive):g} V (per cell in a stack); a lower current "
            f"would deliver charge")


def _surface_passed_cutoff(model, step, drive, u_start, u, current):
    """The message of a step whose cutoff an electrode's surface met at once: the electrode
    whose surface potential moved most, how far, and why (already full or empty, or
    diffusion in its film too slow for the current)."""
    e = max(model.intercalation, key=lambda electrode: abs(
        surface_potential(model, electrode, u) - surface_potential(model, electrode, u_start)))
    surface = model.outputs_by_name[f"x_surface_{e.name}"]
    x_start, x_end = surface(u_start), surface(u)
    mean = model.outputs_by_name[f"x_mean_{e.name}"](u_start)
    return (f"the step delivered nothing: its current ({abs(current):.4g} A) drove the surface "
            f"of {e.name} from x = {x_start:.4f} to {x_end:.4f} at once, which took the "
            f"open-circuit voltage from {open_circuit_voltage(model, u_start):.4f} V to "
            f"{open_circuit_voltage(model, u):.4f} V and the voltage to "
            f"{model.voltage(u):.4f} V, past the cutoff {voltage_cutoff(step, drive):g} V "
            f"(per cell in a stack): {_why_at_limit(model, [e], [mean], x_end > x_start)}")


def _why_at_limit(model, electrodes, means, full):
    """Why electrodes' surfaces reached a limit: an electrode already full or empty (its
    mean x, of `means`, within 0.02 of its limit), or diffusion in the film."""
    low, high = model.surface_limits()
    limits = [(high if full else low)[e.xs_slice][0] for e in electrodes]
    if any(abs(limit - mean) < 0.02 for limit, mean in zip(limits, means)):
        return f"the electrode is already {'full' if full else 'empty'}"
    return "diffusion in the film cannot pass that current"


def surface_at_limit(model, reason, u_limit, u_start, direction):
    """(which surfaces the step's `direction` (None: a held voltage's) drives to the limit
    `reason` in u_limit, with their electrodes' mean x in u_start; why: the electrode is
    already full or empty, or diffusion in the film cannot pass the current). The limits
    are the ends of each electrode's open-circuit data, at most x = 1 or 0
    (CellModel.surface_limits), not the material's usable range."""
    full = reason == "electrode_full"
    direction = model.driven_direction(u_limit, direction)
    layers, margins = (model.surface_margins(u_limit, direction, full) if direction
                       else ([], []))
    near = {layer for layer, margin in zip(layers, margins) if margin < 0.01}
    at_limit = [e for e in model.intercalation if e.layer in near]
    if not at_limit:
        return "an electrode surface", "diffusion in the film cannot pass the current"
    means = model.outputs(u_start)
    mean = [means[f"x_mean_{e.name}"] for e in at_limit]
    where = (f"the surface of {', '.join(e.name for e in at_limit)} "
             f"(mean x {', '.join(f'{x:.3f}' for x in mean)})")
    return where, _why_at_limit(model, at_limit, mean, full)


# ------------------------------------------------------------------ physics of a state
def lithium_by_electrode(model, u, n_li):
    """Lithium (mol, grid unit) in each electrode, in the order of model.electrodes; n_li
    holds the inventories of the lithium-metal ones."""
    metal = iter(n_li)
    return [float((e.laws.max_concentration * e.volume * u[model.x_columns(e)]).sum())
            if e.kind == "intercalation" else float(next(metal)) for e in model.electrodes]


@dataclass
class Balance:
    """What the lithium and charge balances of a state are measured against (mol, grid unit)."""
    scale: float                # all the lithium the electrodes could hold
    total: float                # lithium in the electrodes at the start of the run
    double_layer: float = 0.0   # charge the double layers held then (C, grid unit)
    positive: float = 0.0       # lithium in the positive electrode at the start of the step
    area_scale: float = 1.0     # grid unit -> whole cell
    states: int = 0             # accepted states since the start of the run

    @property
    def tolerance(self) -> float:
        """How far the balances may be off now (mol, grid unit)."""
        return min(max(CONSERVATION_TOL, DRIFT_PER_STATE * self.states), MAX_DRIFT) * self.scale


def voltage_out_of_range(model, u):
    """Why a state's voltage is not a lithium cell's, or None: a unit cell's voltage, or the
    terminal voltage per cell (the series resistance's drop included), outside
    CELL_VOLTAGE_RANGE."""
    low, high = CELL_VOLTAGE_RANGE
    voltages = model.cell_voltages(u) if len(model.units) > 1 else [float(u[model.i_V])]
    for n, v in enumerate(voltages, start=1):
        if not low <= v <= high:
            which = f"cell {n}" if len(voltages) > 1 else "the cell"
            return (f"the voltage of {which} ({v:.4g} V) left the physical range "
                    f"{low:g}..{high:g} V of a lithium cell")
    terminal = model.voltage(u) / len(model.units)
    if not low <= terminal <= high:
        per_cell = " per cell" if len(model.units) > 1 else ""
        return (f"the terminal voltage ({terminal:.4g} V{per_cell}) left the physical range "
                f"{low:g}..{high:g} V of a lithium cell: cell.series_resistance drops "
                f"{model.series.drop(u):.4g} V at this current")
    return None


def violation(model, u, integrals, n_li, signed_charge, balance: Balance, describe,
              n_lost=()):
    """What makes a state unphysical, or None: non-finite numbers (in u or the integrated
    scalars), a unit cell's voltage outside CELL_VOLTAGE_RANGE, lithium not conserved, or
    the lithium taken up by the positive electrode since the step began not matching the
    faradaic charge it passed (signed_charge, C of the whole cell, > 0 on discharge: a double
    layer holds the rest of what the tab passed), both to
    balance.tolerance; n_li: the lithium-metal inventories (mol), n_lost:
    the lithium each has lost in plating (mol)."""
    if not np.isfinite(u).all():
        return f"the state is not finite: {describe(int(np.argmin(np.isfinite(u))))}"
    if not np.isfinite(integrals).all():
        return ("the charge, energy or lithium inventory integrated over the step is not "
                "finite")
    beyond = voltage_out_of_range(model, u)
    if beyond is not None:
        return beyond
    lithium = lithium_by_electrode(model, u, n_li)
    tolerance = balance.tolerance
    # lithium ions that left the electrodes to charge a double layer are not lost
    stored = (model.double_layer_charge(u) - balance.double_layer) / FARADAY
    change = sum(lithium) + float(np.add.reduce(n_lost)) - stored - balance.total
    if abs(change) > tolerance:
        return (f"lithium is not conserved: the electrodes hold {change:+.4g} mol "
                f"({change / balance.scale:+.3g} of the cell's capacity) more than at the start")
    taken_up = lithium[model.positive] - balance.positive
    passed = signed_charge / balance.area_scale / FARADAY
    if abs(taken_up - passed) > tolerance:
        return (f"charge is not conserved: the positive electrode took up {taken_up:.4g} mol "
                f"of lithium in this step while the current passed {passed:.4g} mol of charge")
    return None


# ------------------------------------------------------------------ resolution of the films
def surface_gaps(model, u_start, u_end):
    """Per intercalation electrode: the largest change of stoichiometry over half a cell at
    the end of a step (between a face's surface and its interface cell's centre, and half
    the difference between neighbouring cells), over the largest change of the surface in
    the step (the indicator of solver.resolution). The cells inside count as the first
    does: a mesh graded towards the faces resolves the surface with its small first cell
    while its wider cells further in cut the diffusion layer as coarsely as a uniform
    mesh would (LiCoO2 | LiPON | 500 nm Si at 10C, grading 0.9, 24 cells: surface gap
    0.045, inner cells 0.100, capacity 2 % low)."""
    gaps = {}
    x = u_end[model.s_x]
    for e in model.intercalation:
        surface = u_end[model.s_xs][e.xs_slice]
        cell = x[model.x_index[model.if_cell_e[e.faces]]]
        change = np.max(np.abs(surface - u_start[model.s_xs][e.xs_slice]))
        inside = np.abs(x[e.stencil.a] - x[e.stencil.b]) / 2
        widest = max(np.max(np.abs(surface - cell)), np.max(inside, initial=0.0))
        gaps[e.name] = float(widest / change) if change > SURFACE_CHANGE_FLOOR else 0.0
    return gaps


def overpotential_ends(model, step, drive, u_start, u_end, delivered_nothing=False):
    """Would the voltage cutoff have been met with the surfaces where they started (within
    DROP_SHARE of the way to it, for a step that delivered nothing)? Then the ohmic and
    kinetic drop ended the step (a current beyond the cell's), however well the films'
    surface layers are resolved."""
    v_cut = voltage_cutoff(step, drive)
    if v_cut is None:
        return False
    v_oc = open_circuit_voltage(model, u_start)
    v = model.voltage(u_end) + (v_oc - open_circuit_voltage(model, u_end))
    slack = DROP_SHARE * abs(v_oc - v_cut) if delivered_nothing else 0.0
    return v <= v_cut + slack if drive.sign > 0 else v >= v_cut - slack


# ------------------------------------------------------------------ warnings after a run

def unresolved_impedance(spectra, steps) -> list[str]:
    """A warning for each spectrum whose real part is negative anywhere: a passive cell's is
    not, so there the impedance is below the solver's resolution (a blocking interface's
    1/(omega C) dwarfs the real part at low frequency: the error of the small-signal solve
    grows with |Z|)."""
    warnings = []
    for spectrum in spectra:
        negative = spectrum.z_ohm_cm2.real < 0.0
        if not negative.any():
            continue
        f = spectrum.frequency_Hz[negative]
        warnings.append(
            f"{steps[spectrum.step].key}: the real part of the impedance is negative at "
            f"{int(negative.sum())} of {negative.size} frequencies, up to {f.max():.3g} Hz "
            f"(|Z| up to {np.abs(spectrum.z_ohm_cm2[negative]).max():.3g} ohm cm^2): below "
            f"the solver's resolution there, not the cell's (raise the step's lowest "
            f"frequency)")
    return warnings


def impedance_fields_outside_spectra(spectra, fields, steps) -> list[str]:
    """A warning for each impedance step whose field_frequencies lie outside its spectrum's
    frequencies: their fields are computed all the same (the linearisation holds at any
    frequency), but impedance.csv has no point there; most likely a slip of the unit
    ('10 MHz' for '10 mHz')."""
    bands = {s.step: (s.frequency_Hz.min(), s.frequency_Hz.max()) for s in spectra}
    outside = {}
    for k, frequency, _ in fields:
        low, high = bands[k]
        if not low * (1 - 1e-9) <= frequency <= high * (1 + 1e-9):
            outside.setdefault((steps[k].key, low, high), {})[frequency] = None
    return [f"{key}.field_frequencies: {', '.join(f'{f:.6g} Hz' for f in frequencies)} "
            f"outside the spectrum's {low:.6g} to {high:.6g} Hz: the fields there are written "
            f"all the same, with no point of impedance.csv at their frequency"
            for (key, low, high), frequencies in outside.items()]


def constant_in_temperature(case) -> list[str]:
    """A warning for each electrode material of a cell more than UNCORRECTED_TEMPERATURE from
    its reference temperature whose diffusivity, kinetics or electronic conductivity has no
    activation energy: those keep their reference values (the Arrhenius factor is 1), so
    the cell's temperature acts through the others alone (the electrolyte's, say)."""
    warnings, seen = [], set()
    for layer in case.layers:
        material = layer.material
        if (material.name in seen or material.kind not in KINETIC_ACTIVATION_ENERGY
                or not material.has("reference_temperature")):
            continue
        seen.add(material.name)
        reference = material.value("reference_temperature")
        if abs(case.temperature - reference) <= UNCORRECTED_TEMPERATURE:
            continue
        kinetics = "rate_constant" if material.has("rate_constant") else \
            "exchange_current_density"
        energies = {kinetics: KINETIC_ACTIVATION_ENERGY[material.kind]}
        if material.kind == "intercalation":
            energies.update(diffusivity="diffusivity_activation_energy",
                            electronic_conductivity="electronic_conductivity_activation_energy")
        missing = {name: energy for name, energy in energies.items()
                   if material.has(name) and not material.has(energy)}
        if missing:
            keep = "keeps its value" if len(missing) == 1 else "keep their values"
            keys = _listed([f"materials.{material.name}.{energy}"
                            for energy in missing.values()])
            warnings.append(
                f"{material.name}: its {_listed(list(missing))} {keep} at "
                f"{reference - 273.15:g} degC in this cell at {case.temperature - 273.15:g} "
                f"degC, for want of an activation energy ({keys}): only its properties that "
                f"have one follow the temperature")
    return warnings


def _listed(names):
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else f"{', '.join(names[:-1])} and {names[-1]}"


def reduced_electrolytes(model, rows) -> list[str]:
    """A warning for each electrolyte with a reduction_potential whose negative electrode
    went below it in the run (lithium metal sits at 0 V vs Li; an intercalation electrode at
    the open-circuit voltage of its surface in the recorded rows): there it is reduced and
    conducts electrons, which the model leaves out."""
    warnings = []
    for unit in model.units:
        material = model.case.layers[unit.electrolyte_layer].material
        if not material.has("reduction_potential"):
            continue
        limit = material.value("reduction_potential")
        e = model.electrodes[unit.negative]
        if e.kind == "intercalation":
            xs = np.array([row[f"x_surface_{e.name}"] for row in rows
                           if f"x_surface_{e.name}" in row])
            if xs.size == 0:
                continue
            lowest = float(np.min(e.ocv(xs)[0]))
        else:
            lowest = 0.0
        warning = (f"{material.name} is reduced below {limit:.3g} V vs Li (it then conducts "
                   f"electrons, which this model leaves out: the results assume it stays an "
                   f"electrolyte), and its negative electrode {e.name} went down to "
                   f"{lowest:.3g} V vs Li (materials.{material.name}.reduction_potential)")
        if lowest < limit and warning not in warnings:
            warnings.append(warning)
    return warnings


def impedance_fields_not_written(case, grid) -> list[str]:
    """A warning for each impedance step that asks for field_frequencies in a 1D cell (a
    planar cell or stack): its interfaces are single faces, where the small-signal current
    is uniform, so there is no distribution to write."""
    if grid.dim > 1:
        return []
    keys = dict.fromkeys(step.key for step in case.protocol if step.field_frequencies)
    return [f"{key}.field_frequencies: no impedance fields are written for a "
            f"{case.architecture} cell, whose interfaces carry a uniform current in 1D (trench "
            f"and micropillar cells write them)" for key in keys]

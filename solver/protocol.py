"""Protocol steps as drives: the applied current or voltage of each step."""

from dataclasses import dataclass, replace

import numpy as np

from .units import FARADAY

SECONDS_PER_HOUR = 3600.0


@dataclass(frozen=True)
class StepDrive:
    kind: str        # "current" or "voltage"
    value: float     # A for the whole cell (> 0 on discharge), or V
    sign: int        # +1 discharge, -1 charge, 0 rest or hold
    until_time: float | None = None

    @property
    def direction(self):
        """+1 a set discharge current, -1 a set charge current, 0 none (rest); None for a
        held voltage, whose current takes either sign (the step's net charge decides)."""
        return None if self.kind == "voltage" else self.sign

    def unit(self, area_scale):
        """The drive for the grid's unit (a symmetry cell carries a share of the current)."""
        if self.kind == "current":
            return ("current", self.value / area_scale)
        return ("voltage", self.value)

    def characteristic_time(self, nominal_capacity):
        """Time to pass the nominal capacity at this current, or the step's own duration."""
        if self.kind == "current" and self.value != 0.0:
            t = nominal_capacity / abs(self.value)
            return min(t, self.until_time) if self.until_time else t
        return self.until_time or SECONDS_PER_HOUR


def one_c_current(nominal_capacity):
    """The 1C current (A): the nominal capacity (C) passed in an hour."""
    return nominal_capacity / SECONDS_PER_HOUR


def applied_current(step, nominal_capacity, footprint_area):
    """Magnitude of the step's current in A from c_rate, current or current_density."""
    if step.c_rate is not None:
        return step.c_rate * one_c_current(nominal_capacity)
    if step.current is not None:
        return step.current
    return step.current_density * footprint_area


def with_end_current(step, nominal_capacity):
    """The step with its until_current in A: one written as a C-rate ("C/20") is that
    multiple of the 1C current, as a c_rate step's current is."""
    if step.until_current_c_rate is None:
        return step
    return replace(step, until_current=step.until_current_c_rate
                   * one_c_current(nominal_capacity))


def drive_for_step(step, nominal_capacity, footprint_area) -> StepDrive:
    """The drive a step starts with (a cccv step starts with its constant-current charge)."""
    if step.mode == "hold":
        return StepDrive("voltage", step.voltage, 0, step.until_time)
    if step.mode == "rest":
        return StepDrive("current", 0.0, 0, step.until_time)
    sign = 1 if step.mode == "discharge" else -1          # charge and cccv: charging
    current = applied_current(step, nominal_capacity, footprint_area)
    return StepDrive("current", sign * current, sign, step.until_time)


def theoretical_capacities(case, model):
    """Charge (C) each electrode can store over its usable range, for the whole footprint."""
    scale = case.footprint_area / model.grid.footprint_area
    volumes = model.grid.cell_volumes
    out = {}
    for e in model.electrodes:
        volume = float(np.sum(volumes[e.cells])) * scale
        if e.kind == "intercalation":
            x_min, x_max = e.x_range
            out[e.name] = e.max_concentration * volume * FARADAY * (x_max - x_min)
        else:
            out[e.name] = e.density_molar * volume * FARADAY
    return out


def hold_drive(step, voltage) -> StepDrive:
    """The constant-voltage phase of a cccv step: `voltage` held (its own, or below it in a
    stack whose cell ended the constant-current phase)."""
    return StepDrive("voltage", voltage, 0, step.until_time)


def voltage_cutoff(step, drive: StepDrive):
    """The voltage that ends the current phase of a step (None: no voltage cutoff).

    discharge and charge: until_voltage; cccv: its `voltage` ends the constant-current phase
    (the step goes on at that voltage); a held voltage has no voltage cutoff.
    """
    if drive.kind == "voltage":
        return None
    if step.mode == "cccv":
        return step.voltage
    return step.until_voltage


def current_cutoff(step, drive: StepDrive):
    """The current magnitude (A) that ends a held voltage (hold, or the CV phase of cccv)."""
    return step.until_current if drive.kind == "voltage" else None

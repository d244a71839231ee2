"""Capacity per cycle of a repeated protocol: summary["cycles"].

A cycle is one turn of a top-level repeat block (`solver.case.Step.cycle`); steps outside
blocks belong to none. Discharge sums the steps that delivered charge, charge those that
took it (a step that held a voltage, hold or cccv, counts the way its net charge went); the
coulombic efficiency is the discharge capacity over the charge capacity of the same cycle,
whichever came first, and None for a cycle that lacks either (a GITT block, say).
"""

CYCLE_FIELDS = ("discharge_capacity_mAh_cm2", "charge_capacity_mAh_cm2",
                "discharge_energy_mWh_cm2", "charge_energy_mWh_cm2")


def cycle_summaries(records) -> list[dict]:
    """One entry per cycle that ran, in order: its steps, capacities, energies and
    efficiencies (None where the cycle did not both discharge and charge). `records`: the
    StepRecords of a run (cycle, direction, capacity_mAh_cm2, energy_mWh_cm2), indexed as
    the `step` column."""
    cycles: dict[int, dict] = {}
    ways: dict[int, set] = {}                  # the directions each cycle's steps went
    for k, record in enumerate(records):
        if record.cycle <= 0:
            continue
        entry = cycles.setdefault(record.cycle, {"cycle": record.cycle, "first_step": k,
                                                 "last_step": k,
                                                 **dict.fromkeys(CYCLE_FIELDS, 0.0)})
        entry["last_step"] = k
        ways.setdefault(record.cycle, set()).add(record.direction)
        if record.direction:
            way = "discharge" if record.direction > 0 else "charge"
            entry[f"{way}_capacity_mAh_cm2"] += float(record.capacity_mAh_cm2)
            entry[f"{way}_energy_mWh_cm2"] += float(record.energy_mWh_cm2)
    for cycle, entry in cycles.items():
        both = {1, -1} <= ways[cycle]
        entry["coulombic_efficiency"] = _ratio(entry["discharge_capacity_mAh_cm2"],
                                               entry["charge_capacity_mAh_cm2"], both)
        entry["energy_efficiency"] = _ratio(entry["discharge_energy_mWh_cm2"],
                                            entry["charge_energy_mWh_cm2"], both)
    return list(cycles.values())


def _ratio(delivered: float, taken: float, both_ways: bool):
    return delivered / taken if both_ways and taken > 0 else None

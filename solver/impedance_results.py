"""Writers of impedance steps (DESIGN.md §7): impedance.csv (step, frequency_Hz,
z_real_ohm_cm2, z_imag_ohm_cm2; per footprint area, z_imag < 0 for capacitive behaviour),
nyquist.png and bode.png, and for 2D/3D cells the small-signal interface current at the
chosen frequencies as impedance_step<K>_<F>Hz.vtu."""

import csv
import io
from pathlib import Path

from .files import write_atomic

COLUMNS = ("step", "frequency_Hz", "z_real_ohm_cm2", "z_imag_ohm_cm2")


def field_file_name(step: int, frequency: float) -> str:
    """The VTU file of a step's small-signal fields at a frequency (6 significant digits:
    field frequencies equal to those are one file, protocol.py refuses them)."""
    return f"impedance_step{step}_{frequency:g}Hz.vtu"


def impedance_csv(spectra) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(COLUMNS)
    for s in spectra:
        for f, z in zip(s.frequency_Hz, s.z_ohm_cm2):
            writer.writerow([s.step, repr(float(f)), repr(float(z.real)), repr(float(z.imag))])
    return buffer.getvalue()


def write_impedance(out_dir, result) -> list[Path]:
    """The impedance files of a result (none when it has no impedance step)."""
    spectra = getattr(result, "spectra", None)
    if not spectra:
        return []
    from .plots_impedance import bode_png, nyquist_png

    out = Path(out_dir)
    title = result.summary.get("case", "")
    written = [write_atomic(out / "impedance.csv", impedance_csv(spectra)),
               write_atomic(out / "nyquist.png", nyquist_png(spectra, title)),
               write_atomic(out / "bode.png", bode_png(spectra, title))]
    if result.impedance_fields:
        import meshio

        for step, frequency, data in result.impedance_fields:
            name = field_file_name(step, frequency)
            tmp = out / f".{name}.tmp.vtu"
            meshio.write(tmp, result.grid.to_meshio(cell_data=data), binary=True)
            tmp.replace(out / name)
            written.append(out / name)
    return written

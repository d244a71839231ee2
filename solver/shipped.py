"""The files shipped with thinfilm besides the code: the example cases and the validation
studies. In a checkout they are the repository's `cases/` and `validation/`; installed from
a wheel they are the package data `thinfilm/cases/` and `thinfilm/validation/`. Both lie
one folder above this package, so one path serves both layouts."""

import tomllib
from pathlib import Path

from .errors import InputError

ROOT = Path(__file__).resolve().parents[1]
CASES_DIR = ROOT / "cases"
VALIDATION_DIR = ROOT / "validation"


def shipped_cases() -> list[Path]:
    """The shipped case and sweep files, sorted by name."""
    return sorted(CASES_DIR.glob("*.toml"))


# the command that runs each kind of file, the words for it, and its argument's name
KINDS = {"run": ("case file", "case"), "sweep": ("sweep file", "SWEEP.toml"),
         "compare": ("comparison file", "COMPARE.toml")}


def file_command(data: dict) -> str:
    """The command that runs a file of this content: compare or sweep (a `base` case and no
    [cell] table of its own), else run (a case)."""
    if "base" in data and "cell" not in data:
        return "compare" if "architectures" in data else "sweep"
    return "run"


def _read(path: Path) -> dict | str:
    """The TOML of a shipped file, or why it cannot be read."""
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return f"(unreadable: {type(exc).__name__})"


def _command_of(path: Path) -> str | None:
    data = _read(path)
    return file_command(data) if isinstance(data, dict) else None


def shipped_case(name: str, command: str | None = None) -> Path:
    """The shipped file called `name` (with or without .toml), e.g. "planar_li_lipon_lco";
    with `command` (run, sweep, compare), one that command runs."""
    stem = name[:-5] if name.endswith(".toml") else name
    path = CASES_DIR / f"{stem}.toml"
    what, key = KINDS[command or "run"]
    if "/" in stem or "\\" in stem or not path.is_file():
        names = ", ".join(p.stem for p in shipped_cases()
                          if command is None or _command_of(p) == command)
        raise InputError(key, name, f"a {what}, or the name of a shipped "
                                    f"{what.removesuffix(' file')} "
                                    f"({names or f'none in {CASES_DIR}'})")
    kind = _command_of(path)
    if command is not None and kind is not None and kind != command:
        raise InputError(key, name, f"a {what}: {path.name} is a shipped {KINDS[kind][0]} "
                                    f"(run it with thinfilm {kind} {stem} --out DIR)")
    return path


def resolve_case(path: Path, command: str = "run") -> Path:
    """`path` when it exists or is more than a bare name (its loading then says what is
    wrong); else the shipped file of that name that `command` runs (`thinfilm run
    planar_li_lipon_lco`)."""
    if path.exists() or len(path.parts) != 1 or path.suffix not in ("", ".toml"):
        return path
    return shipped_case(str(path), command)


def describe(path: Path) -> str:
    """One line on a shipped file: its cell's name, or what a sweep runs."""
    data = _read(path)
    if not isinstance(data, dict):
        return data
    cell = data.get("cell")
    if isinstance(cell, dict) and isinstance(cell.get("name"), str):
        return cell["name"]
    if isinstance(data.get("base"), str):
        if file_command(data) == "compare":
            return f"comparison of architectures on {data['base']} (thinfilm compare)"
        return f"sweep of {data['base']} (thinfilm sweep)"
    return ""

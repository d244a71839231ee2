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


def shipped_case(name: str) -> Path:
    """The shipped file called `name` (with or without .toml), e.g. "planar_li_lipon_lco"."""
    stem = name[:-5] if name.endswith(".toml") else name
    path = CASES_DIR / f"{stem}.toml"
    if "/" in stem or "\\" in stem or not path.is_file():
        names = ", ".join(p.stem for p in shipped_cases()) or f"none in {CASES_DIR}"
        raise InputError("case", name, f"a case file, or the name of a shipped case ({names})")
    return path


def resolve_case(path: Path) -> Path:
    """`path` when it exists or is more than a bare name (its loading then says what is
    wrong); else the shipped case of that name (`thinfilm run planar_li_lipon_lco`)."""
    if path.exists() or len(path.parts) != 1 or path.suffix not in ("", ".toml"):
        return path
    return shipped_case(str(path))


def describe(path: Path) -> str:
    """One line on a shipped file: its cell's name, or what a sweep runs."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        return f"(unreadable: {type(exc).__name__})"
    cell = data.get("cell")
    if isinstance(cell, dict) and isinstance(cell.get("name"), str):
        return cell["name"]
    if isinstance(data.get("base"), str):
        if "architectures" in data:
            return f"comparison of architectures on {data['base']} (thinfilm compare)"
        return f"sweep of {data['base']} (thinfilm sweep)"
    return ""

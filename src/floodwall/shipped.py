"""Data files that ship with the package (policies, scenarios), found by name or by path."""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent


def resolve(name_or_path: str, folder: str, what: str) -> Path:
    """A .toml file by path, or by name in the package's `folder`; ValueError lists the names known."""
    p = Path(name_or_path)
    if p.suffix == ".toml" and p.exists():
        return p
    shipped = PACKAGE / folder / f"{name_or_path}.toml"
    if shipped.exists():
        return shipped
    known = sorted(x.stem for x in (PACKAGE / folder).glob("*.toml"))
    raise ValueError(f"no {what} {name_or_path!r}: not a .toml file, nor one of {', '.join(known)}")

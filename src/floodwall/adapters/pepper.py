"""The API keys' pepper: the HMAC secret kept outside the database, and how it is rotated.

Where it comes from: ``FLOODWALL_KEY_PEPPER`` (the current pepper; ``FLOODWALL_KEY_PEPPER_PREVIOUS``
lists earlier ones, comma-separated), else the file ``FLOODWALL_KEY_PEPPER_FILE`` names, else
``~/.config/floodwall/key-pepper`` (mode 0600, made on first use). The file holds one pepper a line, the
current one first; the lines after it are earlier peppers, still accepted. A key hashed under an earlier
pepper verifies once and is hashed again under the current one, so once no active key is left under an
earlier pepper (``floodwall keys pepper`` counts them), that pepper can be dropped.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

MIN_LENGTH = 32  # characters


@dataclass(frozen=True)
class Peppers:
    """The current pepper and the earlier ones still accepted (newest first)."""

    current: bytes
    previous: tuple[bytes, ...] = ()

    def by_fingerprint(self, fp: str) -> bytes | None:
        """The pepper with this fingerprint, if it is the current or an earlier one."""
        return next((p for p in (self.current, *self.previous) if fingerprint(p) == fp), None)


def fingerprint(pepper: bytes) -> str:
    """A short public name for a pepper (stored beside each hash, shown by `keys pepper`)."""
    return hashlib.sha256(b"floodwall key pepper\0" + pepper).hexdigest()[:12]


def pepper_file() -> Path:
    """The pepper file's path (FLOODWALL_KEY_PEPPER_FILE, else ~/.config/floodwall/key-pepper)."""
    return Path(os.environ.get("FLOODWALL_KEY_PEPPER_FILE") or Path.home() / ".config" / "floodwall" / "key-pepper")


def load_peppers() -> Peppers:
    """The peppers from the environment or the file (made on first use); ValueError names a short one."""
    env = os.environ.get("FLOODWALL_KEY_PEPPER")
    if env:
        earlier = os.environ.get("FLOODWALL_KEY_PEPPER_PREVIOUS", "")
        return _checked(env.encode(), [p.strip().encode() for p in earlier.split(",") if p.strip()],
                        "FLOODWALL_KEY_PEPPER")
    path = pepper_file()
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        try:  # created 0600 in one step: no moment where another user could read it
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:  # another process made it first: use theirs
            pass
        else:
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_hex(32))
    lines = [line.strip().encode() for line in path.read_text().splitlines() if line.strip()]
    if not lines:
        raise ValueError(f"the key pepper file {path} is empty")
    return _checked(lines[0], lines[1:], str(path))


def _checked(current: bytes, previous: list[bytes], where: str) -> Peppers:
    for p in (current, *previous):
        if len(p) < MIN_LENGTH:
            raise ValueError(f"a key pepper in {where} is shorter than {MIN_LENGTH} characters")
    return Peppers(current, tuple(previous))


def rotate() -> Peppers:
    """Put a new random pepper first in the pepper file, keeping the others after it; the new Peppers."""
    if os.environ.get("FLOODWALL_KEY_PEPPER"):
        raise ValueError("the pepper comes from FLOODWALL_KEY_PEPPER: set the new one there and move the old one "
                         "to FLOODWALL_KEY_PEPPER_PREVIOUS, in every process that serves the store")
    old = load_peppers()
    new = secrets.token_hex(32).encode()
    _write(pepper_file(), [new, old.current, *old.previous])
    return Peppers(new, (old.current, *old.previous))


def drop_previous() -> Peppers:
    """Keep only the current pepper in the pepper file (keys still under an earlier one stop verifying)."""
    if os.environ.get("FLOODWALL_KEY_PEPPER"):
        raise ValueError("the peppers come from the environment: unset FLOODWALL_KEY_PEPPER_PREVIOUS instead")
    cur = load_peppers().current
    _write(pepper_file(), [cur])
    return Peppers(cur)


def _write(path: Path, peppers: list[bytes]) -> None:
    """Replace the file in one step (a reader sees the old file or the new one), mode 0600."""
    tmp = path.with_name(f"{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, b"".join(p + b"\n" for p in peppers))
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)

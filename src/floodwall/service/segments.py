"""The bytes of a SQLite journal's event batches, in append-only segment files beside the database.

A batch of raw frames is megabytes. In a ``journal`` row it was written three times (the WAL, then the
checkpoint's copy into the database, with SQLite's page work and checksums on each), which cost more CPU
than the API's own parsing. Here the committer writes a group's batches to the current segment in one
``write`` and one ``fdatasync`` (none with FLOODWALL_SYNC=normal), then commits the rows, whose bodies are
only references. A batch is accepted once its row is committed, as before: a record whose row never made
it (a process killed in between) is referenced by nothing, and goes at the next cut.

Each record starts with a header (magic, seq, length, CRC-32), and a reference names the segment, the
record's place and its CRC, so a damaged or stale record is refused on reading, naming its file.
Segments are named by the journal's boot and the seq of their first record: a start never appends to a
file an earlier process may have left torn.
"""

from __future__ import annotations

import hashlib
import os
import re
import struct
import threading
import zlib
from collections.abc import Iterable
from pathlib import Path

REF = b"\xc1"  # a byte msgpack never uses: a journal body that starts with it is a reference to a record
SEGMENT_BYTES = 64 << 20  # a segment is closed once it holds this much; the next write opens a new one

_HEAD = struct.Struct("<4sQII")  # magic, seq, length, CRC-32 of the body
_MAGIC = b"FWJ1"
_REF = struct.Struct("<IQQII")  # boot, the segment's first seq, offset of the record, length, CRC-32
_IOV_MAX = 512  # buffers a writev takes (Linux allows 1,024)
_NAME = re.compile(r"(\d{6})-(\d{12})\.seg")


class SegmentError(RuntimeError):
    """A referenced record is missing or damaged (the message names the file)."""


def segment_folder(database: str, run: str) -> Path:
    """Where a run's segments live: ``<database>.segments/<run>`` (a run name unfit for a path is hashed)."""
    name = run if re.fullmatch(r"[A-Za-z0-9_-][A-Za-z0-9_.-]{0,63}", run) else \
        "run-" + hashlib.sha256(run.encode()).hexdigest()[:16]
    return Path(f"{database}.segments") / name


def is_ref(body: bytes) -> bool:
    """True when a journal body is a reference into a segment rather than the batch itself."""
    return body[:1] == REF


def _write_all(fd: int, parts: list[bytes]) -> None:
    """Write every part, in order, without joining them (megabytes of frames are not copied once more)."""
    for i in range(0, len(parts), _IOV_MAX):
        chunk = parts[i:i + _IOV_MAX]
        done = os.writev(fd, chunk)
        if done < sum(map(len, chunk)):  # a short write (a full disk, a signal): the rest, byte by byte
            rest = memoryview(b"".join(chunk))[done:]
            while rest:
                n = os.write(fd, rest)
                if n <= 0:
                    raise OSError("the disk took none of a journal write")
                rest = rest[n:]


class Segments:
    """Append-only segment files in one folder: written by the committer, read back at a start."""

    def __init__(self, folder: str | Path, fsync: bool = True) -> None:
        self.folder = Path(folder)
        self.fsync = fsync
        self.boot = 0
        self._fd: int | None = None  # the segment being written (this boot's newest)
        self._name: tuple[int, int] | None = None
        self._size = 0
        self._lock = threading.Lock()  # a cut's clean-up never removes the file a write is going to

    def open(self, boot: int) -> None:
        """Get ready to write for this boot (the folder is made on the first write)."""
        self.boot = boot

    def close(self) -> None:
        """Close the segment being written."""
        with self._lock:
            self._close()

    def write(self, records: list[tuple[int, bytes]]) -> list[bytes]:
        """Append (seq, body) records in one write (and one fdatasync); returns a reference per record."""
        with self._lock:
            if self._fd is None or self._size >= SEGMENT_BYTES:
                self._start(records[0][0])
            assert self._fd is not None and self._name is not None
            parts, refs, at = [], [], self._size
            for seq, body in records:
                crc = zlib.crc32(body)
                parts += (_HEAD.pack(_MAGIC, seq, len(body), crc), body)
                refs.append(REF + _REF.pack(*self._name, at, len(body), crc))
                at += _HEAD.size + len(body)
            try:
                _write_all(self._fd, parts)
                if self.fsync:
                    os.fdatasync(self._fd)
            except OSError:
                self._close()  # the next write starts a new segment rather than append after a torn record
                raise
            self._size = at
            return refs

    def read(self, seq: int, ref: bytes) -> bytes:
        """The body a reference points to; SegmentError if its record is missing or damaged."""
        boot, first, offset, length, crc = _REF.unpack(ref[len(REF):])
        path = self._path(boot, first)
        try:
            with open(path, "rb") as f:
                f.seek(offset)
                data = f.read(_HEAD.size + length)
        except FileNotFoundError:
            raise SegmentError(f"journal batch {seq}: segment {path} is missing") from None
        if len(data) < _HEAD.size + length:
            raise SegmentError(f"journal batch {seq}: segment {path} ends inside its record at byte {offset}")
        magic, got_seq, got_len, got_crc = _HEAD.unpack_from(data)
        body = data[_HEAD.size:]
        if (magic, got_seq, got_len, got_crc) != (_MAGIC, seq, length, crc) or zlib.crc32(body) != crc:
            raise SegmentError(f"journal batch {seq}: the record at byte {offset} of {path} is damaged")
        return body

    def keep_only(self, refs: Iterable[bytes]) -> int:
        """Remove every segment that no reference names, except the one being written; returns how many."""
        with self._lock:
            keep = {_REF.unpack(r[len(REF):])[:2] for r in refs if is_ref(r)}
            if self._name is not None:
                keep.add(self._name)
            gone = 0
            for path in self.folder.glob("*.seg") if self.folder.is_dir() else ():
                m = _NAME.fullmatch(path.name)
                if m and (int(m[1]), int(m[2])) not in keep:
                    path.unlink(missing_ok=True)
                    gone += 1
            return gone

    def _start(self, first: int) -> None:
        self._close()
        self.folder.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = (self.boot, first)
        self._fd = os.open(self._path(*name), os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        self._name, self._size = name, os.fstat(self._fd).st_size
        if self.fsync:  # the new file's name is on disk before any row points into it
            dfd = os.open(self.folder, os.O_RDONLY)
            try:
                os.fsync(dfd)
            finally:
                os.close(dfd)

    def _close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
        self._fd, self._name, self._size = None, None, 0

    def _path(self, boot: int, first: int) -> Path:
        return self.folder / f"{boot:06d}-{first:012d}.seg"

"""Gate answers on disk before the reply, in one write: the journal's copy of them follows behind.

A go-live gate call waits for nothing but its decision and one ``write`` of the event and answer to an
append-only file beside the SQLite store. The same record goes to the journal's next group commit
without the caller waiting for it; once the journal holds every record written, the file is cut back
to nothing. A restart first copies into the journal the records it lacks (a process killed between
the reply and the group commit), so a retried gate call answers the first decision across restarts.

The write is not fsynced, the same promise the journal's commit of a gate answer made (SQLite's
``synchronous=NORMAL``): a killed process keeps it, a power loss may not. Records carry the journal's
boot number, so a file left beside a database that was replaced is never replayed into it, while a
start that dies before it cuts the file leaves its records to the next one.
"""

from __future__ import annotations

import logging
import os
import struct
from pathlib import Path

import msgspec

from floodwall.events import StreamStarted

log = logging.getLogger("floodwall.gatelog")

CUT_AT = 1 << 20  # bytes: past this, the file is cut back once the journal holds every record written

_HEAD = struct.Struct("<I")  # record length, then msgpack [boot, event, answer]
_encoder = msgspec.msgpack.Encoder()
_decoder = msgspec.msgpack.Decoder(tuple[int, StreamStarted, bytes])


class GateLog:
    """An append-only file of (event, answer) records, written on the caller's thread."""

    def __init__(self, path: str | Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None  # opened by restore() at each start, closed at each stop
        self.size = 0
        self.boot = 0  # set by restore(): the journal's boot these records belong to
        self.written = 0
        self.journaled = 0  # records the journal has committed (counted by its committer thread)

    def write(self, event: StreamStarted, answer: bytes) -> None:
        """Append one record (OSError if the disk refuses it, or the log is not open)."""
        if self._fd is None:
            raise OSError(f"the gate log {self.path} is not open")
        if self.size > CUT_AT and self.journaled == self.written:  # every record so far is in the journal
            os.ftruncate(self._fd, 0)
            self.size = 0
        rec = _encoder.encode((self.boot, event, answer))
        data = _HEAD.pack(len(rec)) + rec
        os.write(self._fd, data)
        self.size += len(data)
        self.written += 1

    def on_journaled(self, fut) -> None:
        """Future callback: count a record the journal committed (a failed commit leaves it to the file)."""
        if not fut.cancelled() and fut.exception() is None:
            self.journaled += 1

    def records(self) -> list[tuple[int, StreamStarted, bytes]]:
        """Every whole record in the file, in order (a torn last one, from a power loss, is left out)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        out, at = [], 0
        while at + _HEAD.size <= len(data):
            (n,) = _HEAD.unpack_from(data, at)
            if at + _HEAD.size + n > len(data):
                break
            try:
                out.append(_decoder.decode(data[at + _HEAD.size:at + _HEAD.size + n]))
            except (msgspec.DecodeError, msgspec.ValidationError):
                log.warning("gate log %s: an unreadable record at byte %d; the rest is left out", self.path, at)
                break
            at += _HEAD.size + n
        return out

    def restore(self, journal) -> int:
        """Open the file; copy into the journal (opened, not started) the earlier boots' records it lacks,
        then cut the file back; how many were copied."""
        self.close()
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        # Earlier boots of this journal only: a start cuts the file, so a file left beside a replaced
        # database is cut at the new one's first start, whose boot (1) no record can precede.
        mine = [(ev, answer) for boot, ev, answer in self.records() if boot < journal.boot]
        missing = [(ev, answer) for ev, answer in mine if journal.answer(ev.id) is None]
        if missing:
            journal.commit_now([([ev], "done", (ev.id, answer)) for ev, answer in missing])
            log.info("copied %d gate answers from the gate log into the journal", len(missing))
        os.ftruncate(self._fd, 0)
        self.size = self.written = self.journaled = 0
        self.boot = journal.boot
        return len(missing)

    def close(self) -> None:
        """Close the file (a later restore() opens it again)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

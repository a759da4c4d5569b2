"""Frames drawn ahead in a second process, while the engine handles the current tick.

The renderer is a pure function of a frame's (kind, seed, source time, look): the same pixels across
instances, batches and processes (tests/test_render.py). So the frames a platform's schedule holds for
the next DEPTH ticks can be drawn early by another process, on the machine's other core. The platform
asks for every frame it sends by those four values: one drawn ahead is used, any other is drawn on the
spot, and one drawn for a room taken down meanwhile is dropped. What the platform sends is the same
either way. Frames scheduled after their tick was asked for (a room the engine now samples every
second) go as a late batch for the next tick, drawn before the batch asked for after it.

Two ticks ahead: with one, the platform waited for the drawing whenever the engine's tick was the
shorter. The pixels come back through memory-mapped files (in /dev/shm where there is one), one per
batch in flight, not through the pipe: its copies of a tick's megabytes ate most of what drawing ahead
saved. The pipe carries only the keys, as int64 columns (looks by number, each sent once); a semaphore
says a batch is drawn (no reply through the pipe: a batch long drawn is then taken without a system
call). A file's name is removed once both processes have it mapped, so a killed replay leaves none.
Between batches the process makes the base images of the shots rooms will show next (_Warmer).
"""
from __future__ import annotations

import heapq
import logging
import math
import mmap
import multiprocessing as mp
import os
import pickle
import struct
import tempfile
import time
from collections import deque
from collections.abc import Hashable, Sequence

import numpy as np

from floodwall.sim.render.look import Look
from floodwall.sim.render.renderer import Renderer

log = logging.getLogger("floodwall.sim")

FrameKey = tuple[int, int, float, Hashable]  # kind, seed, source time, look (or None)
DEPTH = 2  # ticks drawn ahead
SLOTS = DEPTH + 2  # shared files: a tick's batch, a late one for the next tick, one being drawn, one free
# A job: frame count, slot, extra bytes; then kinds, seeds, times (float64 bits) and look numbers as int64
# columns; then (only when there are any) the looks first seen and the slot's new shared file, pickled.
_HEAD = struct.Struct("<qqq")

__all__ = ["DEPTH", "SLOTS", "FrameKey", "FramePlan", "RenderAhead", "frame_key"]


def frame_key(kind: int, seed: int, t: float, look: Look | None) -> FrameKey:
    """The values a frame's pixels depend on, as a dictionary key."""
    return (int(kind), int(seed), float(t), look)


class FramePlan:
    """A platform's scheduled frames (time, room, schedule version), by whole second, to ask for ahead."""

    def __init__(self) -> None:
        self._by_second: dict[int, list[tuple[float, str, int]]] = {}
        self._seconds: list[int] = []  # the keys of _by_second as a heap: go-lives are planned hours ahead
        self._late: list[tuple[float, str, int]] = []  # scheduled after their tick was asked for
        self._asked_to = -math.inf  # the end of the ticks asked for so far

    def add(self, t: float, room: str, ver: int) -> None:
        """A frame scheduled at ``t``."""
        if t < self._asked_to:  # its tick was already asked for: it goes with the next late batch
            self._late.append((t, room, ver))
            return
        sec = int(t)
        frames = self._by_second.get(sec)
        if frames is None:
            frames = self._by_second[sec] = []
            heapq.heappush(self._seconds, sec)
        frames.append((t, room, ver))

    def due(self, t: float, dt: float, nxt: float) -> tuple[list[tuple[float, str, int]], list[tuple[float, str, int]]]:
        """(late frames from ``nxt`` on, frames in [t, t + dt)), each asked for once."""
        late, self._late = [x for x in self._late if x[0] >= nxt], []  # earlier ones are past
        by, secs, todo, keep = self._by_second, self._seconds, [], []
        while secs and secs[0] < t + dt:
            sec = heapq.heappop(secs)
            if sec + 1 > t:
                todo += [x for x in by[sec] if t <= x[0] < t + dt]
            if sec + 1 <= t + dt:  # nothing left in it for a later call
                del by[sec]
            else:
                keep.append(sec)
        for sec in keep:
            heapq.heappush(secs, sec)
        self._asked_to = max(self._asked_to, t + dt)
        return late, todo


def _map(path: str, size: int) -> mmap.mmap:
    with open(path, "r+b") as f:
        return mmap.mmap(f.fileno(), size)


class _Warmer:
    """Base images of the shots a room will show at its next frame, made while the drawing process waits.

    A shot's base image (Renderer._make) is most of a batch's drawing, and it is made when the shot's first
    frame is asked for. A room's frames come at a steady interval, so the shot of its next frame is known
    from its last two: made in the time between batches, it is off the path the platform waits on.
    What is drawn does not change (the renderer is a pure function of the key); a wrong guess costs only
    idle time.
    """

    def __init__(self, renderer: Renderer) -> None:
        self.renderer = renderer
        self._last: dict[tuple[int, int], float] = {}  # a room's (kind, seed) -> its last frame's source time
        self._seen: deque[tuple[np.ndarray, np.ndarray, np.ndarray]] = deque()  # batches not yet looked at
        self._todo: list[tuple[int, int, int]] = []  # shots to have made, last first
        self.made = 0

    def saw(self, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray) -> None:
        """A batch was drawn (kept to look at when idle: nothing is computed here)."""
        self._seen.append((kinds, seeds, t))
        if len(self._seen) > 8:  # never idle for long: the oldest batches' guesses are stale anyway
            self._seen.popleft()

    def step(self) -> bool:
        """Do one small piece of the work (one batch's guesses, or one base image); False once none is left."""
        if self._todo:
            self.made += self.renderer.make_shot(*self._todo.pop())
            return True
        if not self._seen:
            return False
        kinds, seeds, t = self._seen.popleft()
        last = self._last
        nxt = np.empty(len(t))
        for i, (k, s, ti) in enumerate(zip(kinds.tolist(), seeds.tolist(), t.tolist())):
            prev = last.get((k, s))
            last[(k, s)] = ti
            nxt[i] = ti + (ti - prev if prev is not None and 0 < ti - prev <= 60 else 1.0)
        shot, _ = self.renderer.shots(kinds, seeds, nxt)
        self._todo = list(dict.fromkeys(zip(kinds.tolist(), seeds.tolist(), shot.tolist())))
        if len(last) > 200_000:
            last.clear()
        return True


def _serve(conn, done, size: int) -> None:
    """The drawing process: render each batch of keys into its slot's shared file, release ``done``;
    between batches, make the base images of the shots coming next (_Warmer)."""
    renderer = Renderer(size)
    warmer = _Warmer(renderer)
    looks: list[Look] = []
    bufs: dict[int, mmap.mmap] = {}
    while True:
        while not conn.poll(0) and warmer.step():
            pass
        job = conn.recv_bytes()
        if not job:
            return
        n, slot, n_extra = _HEAD.unpack_from(job)
        cols = np.frombuffer(job, np.int64, 4 * n, _HEAD.size).reshape(4, n)
        if n_extra:  # looks first seen, or a larger file for this slot
            new_looks, grown = pickle.loads(job[_HEAD.size + cols.nbytes:])
            looks += new_looks
            if grown is not None:
                if slot in bufs:
                    bufs[slot].close()
                bufs[slot] = _map(*grown)
        kinds, seeds, ts = cols[0], cols[1], cols[2].view(np.float64)
        px = renderer.render(kinds, seeds, ts, [looks[i] if i >= 0 else None for i in cols[3].tolist()])
        np.frombuffer(bufs[slot], np.uint8, px.size)[:] = px.reshape(-1)
        done.release()
        warmer.saw(kinds, seeds, ts)


class _Slot:
    """One batch's shared file, and the frames it holds once drawn."""

    def __init__(self) -> None:
        self.path: str | None = None
        self.buf: mmap.mmap | None = None
        self.ready: dict[FrameKey, np.ndarray] = {}
        self.tick = -math.inf  # the tick its last batch was for

    def grow(self, need: int, folder: str) -> tuple[str, int] | None:
        """At least ``need`` bytes: (path, size) of a new file when one was made, else None."""
        if self.buf is not None and len(self.buf) >= need:
            return None
        size = max(need, 2 * len(self.buf) if self.buf is not None else 0, 1 << 22)
        self.drop()
        fd, path = tempfile.mkstemp(prefix="floodwall-frames-", dir=folder)
        try:
            os.ftruncate(fd, size)
            self.buf = mmap.mmap(fd, size)
        finally:
            os.close(fd)
        self.path = path
        return path, size

    def unlink(self) -> None:
        """Remove the file's name (both processes keep their mappings): a killed replay leaves nothing behind."""
        if self.path is not None:
            try:
                os.unlink(self.path)
            except OSError:
                pass
            self.path = None

    def drop(self) -> None:
        """Unmap and remove the file."""
        self.ready = {}
        if self.buf is not None:
            try:
                self.buf.close()
            except BufferError:  # a frame view still holds it: the mapping goes with the last view
                pass
            self.buf = None
        self.unlink()


class RenderAhead:
    """A second process that draws the frames of the next DEPTH ticks, a batch or two per tick."""

    def __init__(self, size: int) -> None:
        """Start the drawing process for frames of ``size`` x ``size`` pixels."""
        self.size = size
        self._frame_bytes = size * size * 3
        ctx = mp.get_context("spawn")  # no fork of a process with threads (progress bars, BLAS)
        self._conn, child = ctx.Pipe()
        self._done = ctx.Semaphore(0)  # released once per batch drawn, in the order they came
        self._proc = ctx.Process(target=_serve, args=(child, self._done, size), name="floodwall-render-ahead",
                                 daemon=True)
        self._proc.start()
        child.close()
        self._dir = "/dev/shm" if os.path.isdir("/dev/shm") else tempfile.gettempdir()
        self._slots = [_Slot() for _ in range(SLOTS)]
        self._looks: dict[Look, int] = {}
        self._flight: deque[tuple[float, int, list[FrameKey]]] = deque()  # (tick, slot, keys), oldest first
        self.drawn = self.used = 0
        self.waited_s = 0.0  # the platform's time spent waiting for a batch
        self.failed: str | None = None

    def submit(self, t: float, keys: Sequence[FrameKey]) -> None:
        """Start drawing frames for the tick starting at ``t`` (batches are drawn in the order they came)."""
        if len(self._flight) == SLOTS - 1:
            self._collect()
        if not keys or self.failed:
            return
        busy = [k for _, k, _ in self._flight]
        # The free file whose frames are oldest: their tick is past (at most one other holds a future tick's).
        k = min((i for i in range(SLOTS) if i not in busy), key=lambda i: self._slots[i].tick)
        slot = self._slots[k]
        slot.ready, slot.tick = {}, t
        n = len(keys)
        try:
            grown = slot.grow(n * self._frame_bytes, self._dir)
            new: list[Look] = []
            kinds, seeds, ts, looks = zip(*keys)
            cols = np.empty((4, n), np.int64)
            cols[0], cols[1] = kinds, seeds
            cols[2] = np.array(ts, np.float64).view(np.int64)
            cols[3] = [self._look_id(look, new) for look in looks]
            extra = pickle.dumps((new, grown)) if new or grown else b""
            self._conn.send_bytes(_HEAD.pack(n, k, len(extra)) + cols.tobytes() + extra)
        except (OSError, ValueError) as exc:
            self._fail(exc)
            return
        self._flight.append((t, k, list(keys)))

    def take(self, t: float, keys: Sequence[FrameKey]) -> list[np.ndarray | None]:
        """Frames drawn ahead for these keys of the tick starting at ``t``, None for each that was not."""
        while self._flight and self._flight[0][0] <= t:
            self._collect()
        got = [None] * len(keys)
        for slot in self._slots:
            if slot.ready:
                ready = slot.ready
                got = [g if g is not None else ready.get(k) for g, k in zip(got, keys)]
        self.used += sum(g is not None for g in got)
        return got

    def close(self) -> None:
        """Stop the drawing process and remove the shared files."""
        try:
            while self._flight:
                self._collect()
            if not self.failed:
                self._conn.send_bytes(b"")
        except (OSError, ValueError):
            pass
        self._proc.join(timeout=10)
        if self._proc.is_alive():
            self._proc.kill()
        self._conn.close()
        for slot in self._slots:
            slot.drop()

    def _look_id(self, look: Look | None, new: list[Look]) -> int:
        if look is None:
            return -1
        i = self._looks.get(look)
        if i is None:
            i = self._looks[look] = len(self._looks)
            new.append(look)
        return i

    def _collect(self) -> None:
        """Wait for the oldest batch in flight and index its frames."""
        _t, k, asked = self._flight.popleft()
        t0 = time.perf_counter()
        while not self._done.acquire(timeout=0.5):
            if not self._proc.is_alive():
                self._flight.clear()
                self._fail(EOFError(f"the drawing process exited ({self._proc.exitcode})"))
                return
        self.waited_s += time.perf_counter() - t0
        n = len(asked)
        s, slot = self.size, self._slots[k]
        slot.unlink()  # the drawing process has mapped it by now
        px = np.frombuffer(slot.buf, np.uint8, n * self._frame_bytes).reshape(n, s, s, 3)  # type: ignore[arg-type]
        slot.ready = dict(zip(asked, px))
        self.drawn += n

    def _fail(self, exc: BaseException) -> None:
        # Nothing is lost: every frame not drawn ahead is drawn by the platform itself.
        self.failed = f"{type(exc).__name__}: {exc}"
        log.warning("drawing frames ahead stopped (%s); the platform draws them itself", self.failed)

"""`floodwall record`: a simulated replay's events as a compact JSON Lines log, with its labels file.

Frames are written in one of four forms (``--frames``): ``pdq`` (the default: the PDQ hash, its
quality and mirror hash, about 250 bytes a frame), ``jpeg`` or ``webp`` (the frame as an image, for
backtesting the robust policy or an image model, which need pixels), or ``raw`` (base64 RGB, about
11 KB a 64x64 frame: the old format). The size is known before anything is written; above
``ASK_ABOVE`` bytes nothing is written without ``yes``.

Beside ``NAME.jsonl`` goes ``NAME.labels.txt``: the attack streams' ids, one a line, the truth a
backtest (``replay --events NAME.jsonl --labels NAME.labels.txt``) scores against. The engine never
reads it.
"""

from __future__ import annotations

import dataclasses
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import msgspec
import numpy as np

from floodwall.content.frames import encode_image
from floodwall.content.pdq import hash_frames, to_hex_many
from floodwall.events import Event, FrameSampled, encode_event

__all__ = ["ASK_ABOVE", "FRAME_FORMS", "Recorded", "compact_frames", "labels_path", "record"]

FRAME_FORMS = ("pdq", "jpeg", "webp", "raw")
ASK_ABOVE = 250_000_000  # bytes (250 MB): a larger log needs --yes
JPEG_QUALITY = 90  # PDQ moves a few bits at 90 (tests/test_frames.py); far inside the match radius


@dataclass(frozen=True)
class Recorded:
    """What record wrote (or would have written)."""

    events: int
    frames: int
    bytes: int
    attack_streams: int
    written: bool
    events_path: Path
    labels_path: Path


def labels_path(events_path: str | Path) -> Path:
    """``NAME.labels.txt`` beside ``NAME.jsonl`` (any last suffix replaced)."""
    p = Path(events_path)
    return p.with_name((p.stem if p.suffix else p.name) + ".labels.txt")


def compact_frames(events: list[Event], form: str) -> list[Event]:
    """The events with every raw-pixel frame rewritten in ``form`` (pdq, jpeg, webp; raw: unchanged)."""
    if form not in FRAME_FORMS:
        raise ValueError(f"--frames {form!r}: expected one of {', '.join(FRAME_FORMS)}")
    if form == "raw":
        return events
    out = list(events)
    by_size: dict[tuple[int, int], list[int]] = defaultdict(list)
    for i, ev in enumerate(out):
        if type(ev) is FrameSampled and ev.pixels:
            by_size[(ev.height, ev.width)].append(i)
    for (h, w), idx in by_size.items():
        px = np.frombuffer(b"".join(out[i].pixels for i in idx), dtype=np.uint8).reshape(len(idx), h, w, 3)
        if form == "pdq":
            hashes, quality, mirrored = hash_frames(px, with_mirror=True)
            hx, mx, q = to_hex_many(hashes), to_hex_many(mirrored), quality.tolist()
            for k, i in enumerate(idx):
                out[i] = msgspec.structs.replace(out[i], width=0, height=0, pixels=b"", pdq=hx[k],
                                                 pdq_quality=int(q[k]), pdq_mirrored=mx[k])
        else:
            for k, i in enumerate(idx):
                out[i] = msgspec.structs.replace(out[i], width=0, height=0, pixels=b"",
                                                 image=encode_image(px[k], form, JPEG_QUALITY))
    return out


def record(scenario, policy: str, *, seed: int, scale: float, out: str | Path, frames: str = "pdq",
           yes: bool = False, progress: bool = True, say: Callable[[str], None] = print) -> Recorded:
    """Replay ``scenario`` against ``policy`` and write its events (frames in ``frames`` form) and labels."""
    from floodwall.engine.policy import load_policy
    from floodwall.sim.replay import run_policy

    if frames not in FRAME_FORMS:
        raise ValueError(f"--frames {frames!r}: expected one of {', '.join(FRAME_FORMS)}")
    lines: list[bytes] = []
    counts = {"frames": 0}

    def keep_lines(events: list[Event]) -> None:
        # Compacted and encoded tick by tick: raw pixels never pile up in memory (except with --frames raw).
        evs = compact_frames(events, frames)
        counts["frames"] += sum(type(e) is FrameSampled for e in evs)
        lines.extend(encode_event(e) for e in evs)

    kept: dict = {}
    run_policy(scenario, load_policy(policy), seed=seed, scale=scale, record=keep_lines, progress=progress,
               keep=kept)
    size = sum(len(b) + 1 for b in lines)
    attack = sorted(sid for sid, st in kept["platform"].streams.items() if st.attack)
    events_path, lab_path = Path(out), labels_path(out)
    result = Recorded(len(lines), counts["frames"], size, len(attack), False, events_path, lab_path)
    say(f"{len(lines)} events ({counts['frames']} frames as {frames}): {size / 1e6:.1f} MB to write to {events_path}")
    if size > ASK_ABOVE and not yes:
        return result
    with open(events_path, "wb") as fh:
        for b in lines:
            fh.write(b)
            fh.write(b"\n")
    lab_path.write_text(
        f"# attack stream ids of {events_path.name} (scenario {scenario.name}, seed {seed}, scale {scale:g}):\n"
        "# the truth a backtest scores against; the engine never reads it\n"
        + "".join(f"{s}\n" for s in attack), encoding="utf-8")
    return dataclasses.replace(result, written=True)

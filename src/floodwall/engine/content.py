"""Content: a batch's frames hashed, matched against the banks, scored and clustered; confirmed content banked.

``handle_frames`` is the engine's one frame-handling entry point: every FrameSampled of a batch goes
through it, after the batch's other events.
"""

from __future__ import annotations

from collections import defaultdict
from typing import TYPE_CHECKING

import numpy as np

from floodwall.content.frames import frame_groups, frame_rgb
from floodwall.content.pdq import to_hex_many
from floodwall.engine.batch import Batch
from floodwall.engine.derive import account_signals, trusted
from floodwall.engine.ingest import ring_news, stream_from_frame
from floodwall.engine.state import Stream
from floodwall.events import Confirmed, FrameSampled

if TYPE_CHECKING:
    from floodwall.engine.engine import Engine

QUALITY_MIN = 50  # PDQ hashes of quality 49 or less are discarded (Meta's guidance)


def handle_frames(e: Engine, b: Batch, frames: list[FrameSampled]) -> None:
    """Count a batch's frames, then hash, match, score and cluster them, one group per frame size."""
    e.frames += len(frames)
    for f in frames:
        st = e.streams.get(f.stream)
        if st is None and f.account:
            st = stream_from_frame(e, b, f)
        if st is not None:
            st.frames += 1
            if st.live:
                st.last_frame = f
    if not e.settings.content:
        return
    # Every frame is hashed, also one whose room ended in this batch: its hash is evidence too.
    # content/frames.py: raw pixels and decoded images grouped by size, edge PDQ hashes as sent.
    groups = frame_groups(frames)
    e.frames_undecodable += len(groups.undecodable)
    for g in groups:
        group, pixels, hashes, quality, mirrored = g.frames, g.pixels, g.hashes, g.quality, g.mirrored
        e.frames_hashed += len(group)
        live = np.fromiter((f.stream in e.streams and e.streams[f.stream].live for f in group),
                           dtype=bool, count=len(group))
        if not live.any():
            continue
        if not live.all():
            idx = np.flatnonzero(live)
            group = [group[i] for i in idx]
            hashes, quality, mirrored = hashes[idx], quality[idx], mirrored[idx]
            pixels = pixels[idx] if pixels is not None else None
        # Hash-only frames have no pixels to score: the classifier sees the others.
        scores = e.classifier.score(group, pixels) if e.classifier is not None and pixels is not None else None
        _content(e, b, group, pixels, hashes, mirrored, quality, scores)


def _content(e: Engine, b: Batch, group, pixels, hashes, mirrored, quality, scores) -> None:
    good = quality >= QUALITY_MIN
    # A frame matches if one of its views does (itself and its mirror image; robust: trimmed boxes too).
    m = e.matcher.match_frames(pixels, hashes, mirrored, quality)
    allowed = m.allowed.tolist()  # lists, not numpy scalars, in the loop
    hit_idx = set(np.flatnonzero(m.matched).tolist())
    dist = m.distance
    good_l = good.tolist()
    score_l = scores.tolist() if scores is not None else None
    streams = e.streams
    for i, f in enumerate(group):
        st = streams[f.stream]
        notable = st.frames == 1
        if score_l is not None:
            sc = score_l[i]
            notable |= sc >= 0.3 or bool(st.scores and max(st.scores) >= 0.3)
            st.scores.append(sc)
            st.classifier_model = e.classifier.name  # type: ignore[union-attr]
        if good_l[i]:
            st.hashes.append(hashes[i])
            if allowed[i]:
                st.allow_match = True
            if i in hit_idx:
                d = int(dist[i])
                if not st.bank_match or d < st.bank_distance:
                    st.bank_match, st.bank, st.bank_distance = True, m.bank[i], d
                notable = True
        if notable:
            b.dirty.add(st.id)
    if e.clusters is not None and good.any():
        idx = np.flatnonzero(good)
        rooms_of = [group[i].stream for i in idx]
        before = {s: e.clusters.root(s) for s in set(rooms_of)}
        changed = e.clusters.observe(rooms_of, hashes[idx], mirrored[idx], b.now)
        for root in sorted(changed):
            rooms = sorted(e.clusters.members.get(root, ()))
            live_rooms = [r for r in rooms if r in streams and streams[r].live]
            b.dirty.update(live_rooms)
            if root not in e.confirmed_clusters and any(before.get(r, r) in e.confirmed_clusters for r in rooms):
                e.confirmed_clusters.add(root)
            if e.rings is not None:
                _link_cluster_accounts(e, b, live_rooms)
    if e.sketch is not None and good.any():
        _sketch_frames(e, b, group, hashes, mirrored, good)


def _sketch_frames(e: Engine, b: Batch, group: list[FrameSampled], hashes: np.ndarray, mirrored: np.ndarray,
                   good: np.ndarray) -> None:
    """Tell the coordinator each room's good frame hashes, with its owner's standing now."""
    rows: dict[str, list[int]] = defaultdict(list)
    for i in np.flatnonzero(good).tolist():
        rows[group[i].stream].append(i)
    standing: dict[str, dict] = {}
    for sid, idx in rows.items():
        st = e.streams[sid]
        sig = standing.get(st.account)
        if sig is None:
            sig = standing[st.account] = account_signals(e, e.accounts[st.account], b.now)
        e.sketch.add_frames(sid, st.account, b.now, hashes[idx], mirrored[idx],  # type: ignore[union-attr]
                            float(sig["risk"]), bool(sig["trusted"]))  # type: ignore[arg-type]


def _link_cluster_accounts(e: Engine, b: Batch, rooms: list[str]) -> None:
    owners = [e.streams[r].account for r in rooms]
    untrusted = [a for a in dict.fromkeys(owners) if not trusted(e.accounts[a], b.now)]
    for x, y in zip(untrusted, untrusted[1:]):
        ring_news(e, b, e.rings.on_content(x, y, b.now))  # type: ignore[union-attr]


def confirm_content(e: Engine, b: Batch, st: Stream, bank: str, source: str) -> None:
    """Bank a stream's frames and mark its cluster and ring: one decision acts everywhere."""
    banked = np.zeros((0, 4), dtype=np.uint64)
    if e.settings.confirm_banks and e.settings.content:
        banked = st.recent_hashes()
        if len(banked):
            e.banks[bank].add(banked, source=source, added_at=b.now)
        f = st.last_frame
        if e.matcher.robust is not None and f is not None:
            # Derived views (crops, rotations) of the latest frame, under the same source so an undo withdraws them.
            px = frame_rgb(f)  # None for a hash-only frame: nothing to derive views from
            if px is not None:
                derived, notes = e.matcher.bank_views(px)
                e.banks[bank].add(derived, source=source, added_at=b.now, note=notes)
                banked = np.concatenate([banked, np.asarray(derived, dtype=np.uint64).reshape(-1, 4)])
    if e.sketch is not None:  # other partitions: the same bank entries (derived views too), cluster and ring
        e.sketch.confirmed.append(Confirmed(st.id, st.account, bank, source, to_hex_many(banked)))
    if e.clusters is not None:
        root = e.clusters.root(st.id)
        e.confirmed_clusters.add(root)
        for r in e.clusters.members.get(root, ()):
            if r in e.streams and e.streams[r].live:
                b.dirty.add(r)
    if e.rings is not None:
        ring = e.rings.ring_of(st.account)
        if ring is not None and not ring.confirmed:
            e.rings.confirm(st.account, source)
            for aid in sorted(ring.members):
                b.mark_account(e.accounts[aid])

"""Engine snapshots: a restored engine decides what the original decides; a changed snapshot is refused."""

from __future__ import annotations

import random

import pytest
import sqlalchemy as sa

from floodwall.clock import VirtualClock
from floodwall.engine import snapshot
from floodwall.engine.engine import Engine
from floodwall.engine.policy import load_policy
from floodwall.events import AccountRegistered, FrameSampled, Login, ReportFiled, StreamEnded, StreamStarted
from floodwall.service.compaction import SnapshotRefused, load, sign
from floodwall.service.journal import Journal, tune_sqlite

T0 = 1_766_411_400.0


class Orders:
    def __init__(self) -> None:
        self.orders: list = []

    def apply(self, orders) -> None:
        self.orders.extend(orders)


def _engine(clock: VirtualClock) -> tuple[Engine, Orders]:
    out = Orders()
    return Engine(load_policy("floodwall"), clock=clock, enforcer=out), out


def _events(seed: int) -> list[list]:
    """Minutes of a small attack and its bystanders: a farm going live with one clip, honest rooms, reports."""
    rng = random.Random(seed)
    clip = [f"{rng.getrandbits(256):064x}" for _ in range(6)]
    minutes: list[list] = []
    for m in range(12):
        t = T0 + 60 * m
        batch: list = []
        for k in range(4):
            a = f"farm{m}-{k}"
            batch += [AccountRegistered(id=f"reg-{a}", ts=t, account=a, phone=f"+8617000{m:02d}{k:03d}",
                                        device="dv-farm", ip=f"45.60.{m}.{k + 1}"),
                      StreamStarted(id=f"go-{a}", ts=t + 5, stream=f"s-{a}", account=a, device="dv-farm",
                                    ip=f"45.60.{m}.{k + 1}")]
            batch += [FrameSampled(id=f"f-{a}-{j}", ts=t + 10 + 10 * j, stream=f"s-{a}", account=a,
                                   pdq=clip[(m + j) % len(clip)], pdq_quality=100) for j in range(4)]
        h = f"honest{m}"
        batch += [AccountRegistered(id=f"reg-{h}", ts=t - 400 * 86400, account=h, phone=f"+861380000{m:04d}",
                                    device=f"dv-{h}", ip=f"1.2.{m}.3"),
                  Login(id=f"in-{h}", ts=t + 1, account=h, device=f"dv-{h}", ip=f"1.2.{m}.3"),
                  StreamStarted(id=f"go-{h}", ts=t + 2, stream=f"s-{h}", account=h, device=f"dv-{h}", ip=f"1.2.{m}.3"),
                  FrameSampled(id=f"f-{h}", ts=t + 12, stream=f"s-{h}", account=h,
                               pdq=f"{rng.getrandbits(256):064x}", pdq_quality=100),
                  ReportFiled(id=f"rep-{m}", ts=t + 30, stream=f"s-farm{m}-0", reporter=f"u{m}", reason="illegal")]
        if m >= 2:
            batch.append(StreamEnded(id=f"end-{m}", ts=t + 50, stream=f"s-honest{m - 2}", account=f"honest{m - 2}"))
        minutes.append(sorted(batch, key=lambda e: e.ts))
    return minutes


def _decided(orders: Orders, engine: Engine) -> tuple:
    return ([(o.key, o.action, o.target) for o in orders.orders], engine.verdicts, engine.events,
            {a: (acc.frozen, acc.takedowns) for a, acc in engine.accounts.items()})


@pytest.mark.parametrize("seed", [1, 2, 3])
@pytest.mark.parametrize("cut", [3, 6, 9])
def test_a_restored_engine_decides_what_the_original_decides(seed, cut):
    minutes = _events(seed)
    clock = VirtualClock(T0)
    original, out = _engine(clock)
    for batch in minutes[:cut]:
        clock.advance_to(batch[-1].ts)
        original.handle(batch)
    data = snapshot.dumps(original)
    clock2 = VirtualClock(clock.now())
    restored, out2 = _engine(clock2)
    snapshot.loads(restored, data)
    out.orders.clear()
    for batch in minutes[cut:]:
        clock.advance_to(batch[-1].ts)
        clock2.advance_to(batch[-1].ts)
        original.handle(batch)
        restored.handle(batch)
    assert _decided(out2, restored) == _decided(out, original)
    assert out.orders  # the rest of the attack was acted on
    before = restored.duplicates
    restored.handle(minutes[cut - 1][:5])  # ids it saw before the snapshot: skipped as repeats
    assert restored.duplicates == before + 5


def test_a_changed_snapshot_or_another_key_is_refused(tmp_path):
    eng = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
    tune_sqlite(eng)
    j = Journal(eng, "service", deliver=lambda seq, evs: None)
    j.open()
    clock = VirtualClock(T0)
    e, _ = _engine(clock)
    e.handle(_events(1)[0])
    data = snapshot.dumps(e)
    j.commit_now([(_events(1)[1], "event", None)])
    assert j.cut(1, data, sign(b"k" * 32, data), part=1000) == 1  # in parts, the journal row it covers gone
    assert list(j.rows()) == []
    fresh, _ = _engine(VirtualClock(T0))
    assert load(j, fresh, b"k" * 32) == 1 and fresh.events == e.events
    with pytest.raises(SnapshotRefused, match="does not match its MAC"):
        load(j, _engine(VirtualClock(T0))[0], b"x" * 32)
    from floodwall.persistence.tables import journal_snapshots as t

    with eng.begin() as conn:  # one byte of one part changed in the database
        body = conn.execute(sa.select(t.c.body).where(t.c.part == 3)).scalar()
        conn.execute(t.update().where(t.c.part == 3).values(body=bytes([body[0] ^ 1]) + body[1:]))
    with pytest.raises(SnapshotRefused):
        load(j, _engine(VirtualClock(T0))[0], b"k" * 32)


def test_a_snapshot_of_another_version_is_set_aside_and_the_start_goes_on(tmp_path, monkeypatch, caplog):
    eng = sa.create_engine(f"sqlite:///{tmp_path}/fw.db")
    tune_sqlite(eng)
    j = Journal(eng, "service", deliver=lambda seq, evs: None)
    j.open()
    e, _ = _engine(VirtualClock(T0))
    e.handle(_events(1)[0])
    monkeypatch.setattr(snapshot, "layout", lambda: "an-older-one")
    data = snapshot.dumps(e)
    monkeypatch.undo()
    j.cut(0, data, sign(b"k" * 32, data))
    fresh, _ = _engine(VirtualClock(T0))
    with caplog.at_level("CRITICAL", logger="floodwall.compaction"):
        assert load(j, fresh, b"k" * 32) == 0
    assert fresh.events == 0 and "another version" in caplog.text and "set aside" in caplog.text

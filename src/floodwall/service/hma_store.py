"""What HMA's API adds on top of Floodwall's banks: bank settings, content ids, metadata and derived views.

The hashes themselves live in the engine's banks (``Backend.bank_*``), so the engine matches live
rooms against them; these tables (SQLAlchemy Core, in ``floodwall.persistence.tables``) keep what HMA's clients see on
top: a content id per added photo or signal, the bank's matching ratio, the content's metadata,
and the derived views (crops, rotations) banked for robust matching. Lookups go through an
in-memory ``HashIndex`` over these tables, rebuilt when their signature changes (another API
process may have written), as HMA's matchers rebuild on a checkpoint change.
"""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import numpy as np
import sqlalchemy as sa

from floodwall.content.index import HashIndex
from floodwall.content.pdq import from_hex_many
from floodwall.persistence.schema import ensure
from floodwall.persistence.tables import hma_banks, hma_content, hma_views

__all__ = ["BANK_NAME", "BankExists", "HmaStore"]

#: HMA's bank names: CAPS_AND_UNDERSCORE, not starting with a digit.
BANK_NAME = re.compile(r"[A-Z_][A-Z0-9_]{0,63}")



class BankExists(Exception):
    """A bank of that name is already registered."""


@dataclass(frozen=True)
class _Index:
    signature: tuple
    plain: HashIndex  # each content's own signal, id = content id
    robust: HashIndex  # signal and derived views, id = content id


class HmaStore:
    """HMA's banks and content rows for one run; every method is synchronous (call it off the event loop)."""

    def __init__(self, engine: sa.Engine, run: str) -> None:
        """Create the tables if missing."""
        self.engine = engine
        self.run = run
        ensure(engine)
        self._index: _Index | None = None
        self._lock = threading.Lock()

    # -- banks ---------------------------------------------------------------------------

    def banks(self) -> list[dict]:
        """Every bank as HMA shows it: name, matching_enabled_ratio (oldest first)."""
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(hma_banks).where(hma_banks.c.run == self.run)
                                .order_by(hma_banks.c.created, hma_banks.c.name)).all()
        return [_bank_json(r) for r in rows]

    def bank(self, name: str) -> dict | None:
        """One bank, or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(hma_banks).where(hma_banks.c.run == self.run, hma_banks.c.name == name)).first()
        return _bank_json(r) if r is not None else None

    def create_bank(self, name: str, enabled_ratio: float) -> dict:
        """Register a bank; BankExists if the name is taken."""
        try:
            with self.engine.begin() as conn:
                conn.execute(hma_banks.insert().values(run=self.run, name=name, enabled_ratio=float(enabled_ratio),
                                                       created=time.time()))
        except sa.exc.IntegrityError:
            raise BankExists(name) from None
        return {"name": name, "matching_enabled_ratio": float(enabled_ratio)}

    def update_bank(self, name: str, *, new_name: str | None = None, enabled_ratio: float | None = None) -> dict:
        """Rename and/or set the ratio (BankExists if the new name is taken); returns the bank."""
        values: dict = {}
        if enabled_ratio is not None:
            values["enabled_ratio"] = float(enabled_ratio)
        try:
            with self.engine.begin() as conn:
                if new_name is not None and new_name != name:
                    values["name"] = new_name
                    conn.execute(hma_content.update().where(hma_content.c.run == self.run,
                                                            hma_content.c.bank == name).values(bank=new_name))
                if values:
                    conn.execute(hma_banks.update().where(hma_banks.c.run == self.run, hma_banks.c.name == name)
                                 .values(**values))
        except sa.exc.IntegrityError:
            raise BankExists(new_name or name) from None
        out = self.bank(new_name or name)
        assert out is not None
        return out

    def delete_bank(self, name: str) -> set[str]:
        """Forget a bank and its content; returns every hash it held (to take out of the engine's bank)."""
        held = self.bank_hashes(name)
        with self.engine.begin() as conn:
            ids = sa.select(hma_content.c.id).where(hma_content.c.run == self.run, hma_content.c.bank == name)
            conn.execute(hma_views.delete().where(hma_views.c.content_id.in_(ids)))
            conn.execute(hma_content.delete().where(hma_content.c.run == self.run, hma_content.c.bank == name))
            conn.execute(hma_banks.delete().where(hma_banks.c.run == self.run, hma_banks.c.name == name))
        return held

    def bank_hashes(self, name: str) -> set[str]:
        """Every PDQ hex the bank's content holds (signals and derived views)."""
        with self.engine.connect() as conn:
            plain = conn.execute(sa.select(hma_content.c.pdq).where(hma_content.c.run == self.run,
                                                                    hma_content.c.bank == name)).scalars().all()
            derived = conn.execute(sa.select(hma_views.c.hash)
                                   .join(hma_content, hma_views.c.content_id == hma_content.c.id)
                                   .where(hma_content.c.run == self.run, hma_content.c.bank == name)).scalars().all()
        return set(plain) | set(derived)

    # -- content -------------------------------------------------------------------------

    def add_content(self, bank: str, pdq_hex: str, views: list[tuple[str, str]] = (), *,  # type: ignore[assignment]
                    meta: dict | None = None, media_uri: str | None = None) -> int:
        """A new content row with its signal and derived views; returns its id."""
        with self.engine.begin() as conn:
            cid = conn.execute(hma_content.insert().values(
                run=self.run, bank=bank, pdq=pdq_hex, disable_until_ts=0, original_media_uri=media_uri, meta=meta,
                created=time.time())).inserted_primary_key[0]
            rows = {h: v for h, v in views if h != pdq_hex}
            if rows:
                conn.execute(hma_views.insert(), [{"content_id": cid, "hash": h, "view": v} for h, v in rows.items()])
        return int(cid)

    def content(self, content_id: int, *, with_views: bool = False) -> dict | None:
        """One content row (bank name, signal, metadata), or None."""
        with self.engine.connect() as conn:
            r = conn.execute(sa.select(hma_content).where(hma_content.c.run == self.run,
                                                          hma_content.c.id == content_id)).first()
            if r is None:
                return None
            views = conn.execute(sa.select(hma_views.c.hash, hma_views.c.view).where(
                hma_views.c.content_id == content_id)).all() if with_views else []
        out = {"id": r.id, "bank": r.bank, "pdq": r.pdq, "disable_until_ts": int(r.disable_until_ts),
               "original_media_uri": r.original_media_uri, "meta": r.meta}
        if with_views:
            out["views"] = [(h, v) for h, v in views]
        return out

    def remove_content(self, bank: str, content_id: int) -> tuple[int, set[str]]:
        """Delete a content row of this bank: (rows deleted, hashes no other content of the bank still holds)."""
        c = self.content(content_id, with_views=True)
        if c is None or c["bank"] != bank:
            return 0, set()
        mine = {c["pdq"], *(h for h, _ in c["views"])}
        with self.engine.begin() as conn:
            conn.execute(hma_views.delete().where(hma_views.c.content_id == content_id))
            conn.execute(hma_content.delete().where(hma_content.c.id == content_id))
        # Two photos can share a hash (exact copies): the engine keeps it while another content holds it.
        return 1, mine - self.bank_hashes(bank)

    # -- lookups -------------------------------------------------------------------------

    def _signature(self, conn: sa.Connection) -> tuple:
        c = hma_content.c
        row = conn.execute(sa.select(sa.func.count(), sa.func.coalesce(sa.func.max(c.id), 0),
                                     sa.func.coalesce(sa.func.sum(c.id), 0)).where(c.run == self.run)).one()
        return tuple(row)

    def index(self) -> _Index:
        """The lookup indexes, rebuilt when the content tables changed since the last build."""
        with self._lock, self.engine.connect() as conn:
            sig = self._signature(conn)
            if self._index is not None and self._index.signature == sig:
                return self._index
            rows = conn.execute(sa.select(hma_content.c.id, hma_content.c.pdq)
                                .where(hma_content.c.run == self.run)).all()
            views = conn.execute(sa.select(hma_views.c.content_id, hma_views.c.hash).join(
                hma_content, hma_views.c.content_id == hma_content.c.id).where(hma_content.c.run == self.run)).all()
        plain, robust = HashIndex(), HashIndex()
        if rows:
            ids = np.array([r[0] for r in rows], np.int64)
            hashes = from_hex_many([r[1] for r in rows])
            plain.add(hashes, ids)
            robust.add(hashes, ids)
        if views:
            robust.add(from_hex_many([v[1] for v in views]), np.array([v[0] for v in views], np.int64))
        self._index = _Index(sig, plain, robust)
        return self._index

    def lookup(self, queries: np.ndarray, radius: int, *, robust: bool = False) -> dict[int, int]:
        """Content id -> smallest distance from any query hash (n, 4) within ``radius``."""
        idx = self.index()
        qi, ids, d = (idx.robust if robust else idx.plain).query(queries, radius)
        best: dict[int, int] = {}
        for cid, dist in zip(ids.tolist(), d.tolist()):
            if cid not in best or dist < best[cid]:
                best[cid] = dist
        return best

    def contents(self, ids: list[int]) -> dict[int, dict]:
        """Rows of these content ids: bank and disable_until_ts."""
        if not ids:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(hma_content.c.id, hma_content.c.bank, hma_content.c.disable_until_ts)
                                .where(hma_content.c.run == self.run, hma_content.c.id.in_(ids))).all()
        return {r.id: {"bank": r.bank, "disable_until_ts": int(r.disable_until_ts)} for r in rows}


def _bank_json(r: sa.Row) -> dict:
    return {"name": r.name, "matching_enabled_ratio": float(r.enabled_ratio)}

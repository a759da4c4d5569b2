# ruff: noqa: B008  (FastAPI declares dependencies as argument defaults)
"""Meta's HMA (OpenMediaMatch) API under ``/hma``: same paths, JSON shapes and status codes, Floodwall's banks.

A platform with an HMA client points its base URL at ``https://floodwall.example/hma`` and sends
a Floodwall key as ``Authorization: Bearer``. Hashes added here go into the engine's banks
(``Backend.bank_*``), so the next live room that shows them is taken down; HMA's content ids,
bank ratios and metadata are kept beside them (``hma_store``). Lookups and hashing need the
``gate`` scope, curation (adding, removing, bank settings) ``operate``. Errors are HMA's
``{"message": ...}`` with HMA's status codes; a missing or weak key is Floodwall's 401/403.
Floodwall extension: ``robust=true`` on adding a photo banks its derived views (crops,
rotations) and on a photo lookup queries trimmed and mirrored views at radius 47 (docs/hma.md).
"""

from __future__ import annotations

import random
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio
import numpy as np
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse

from floodwall.adapters.keys import ApiKey
from floodwall.content.pdq import MIN_QUALITY, from_hex, hamming
from floodwall.content.robust import THRESHOLD as ROBUST_RADIUS
from floodwall.service.auth import ApiError, require_scope
from floodwall.service.backends import Backend
from floodwall.service.hma_media import (
    MediaError,
    decode_photo,
    derived_views,
    fetch_url,
    photo_pdq,
    query_views,
)
from floodwall.service.hma_input import (
    BANK_BODY,
    COIN_PARAMS,
    CONTENT_TYPES,
    HmaError,
    MAX_UPLOAD,
    PDQ_SCHEMA,
    ROBUST_PARAM,
    SIGNAL_PARAMS,
    SIGNAL_TYPES,
    URL_PARAM,
    banks_param,
    check_bank_name,
    check_bool,
    check_metadata,
    check_pdq,
    check_ratio,
    check_signal_type,
    flag,
    json_body,
    metadata_from_json,
    openapi,
    parse_content_id,
    query_param,
)
from floodwall.service.hma_store import BankExists, HmaStore

__all__ = ["PREFIX", "PDQ_RADIUS", "HmaError", "hma_router", "mount_hma"]

PREFIX = "/hma"
PDQ_RADIUS = 31  # python-threatexchange's PdqSignal match threshold, which HMA uses


def _json_ok(body: object, status: int = 200) -> JSONResponse:
    return JSONResponse(body, status_code=status)


class _Hma:
    """The routes' shared state: backend, HMA tables, URL fetching switch."""

    def __init__(self, backend: Backend, fetch_urls: bool) -> None:
        self.backend = backend
        self.store = HmaStore(backend.store.engine, backend.store.run)
        self.fetch_urls = fetch_urls

    async def call(self, fn, *args, **kw):
        """A blocking store call in a worker thread."""
        return await anyio.to_thread.run_sync(lambda: fn(*args, **kw))

    async def need_bank(self, name: str) -> dict:
        bank = await self.call(self.store.bank, name)
        if bank is None:
            raise HmaError(404, f"bank '{name}' not found")
        return bank

    async def engine_bank(self, name: str) -> None:
        """Make sure the engine holds a block bank of this name (HMA banks are block lists)."""
        kinds = {b["name"]: b["kind"] for b in await self.backend.bank_list()}
        if name not in kinds:
            try:
                await self.backend.bank_create(name, "block")
            except ApiError as exc:
                if exc.status != 409:  # created meanwhile by another call: fine
                    raise
        elif kinds[name] != "block":
            raise HmaError(403, f"Floodwall bank '{name}' is an allow list; HMA banks are block lists")

    async def sync(self) -> None:
        """Put every HMA bank's hashes into the engine (after a restart the embedded engine starts empty)."""
        for bank in await self.call(self.store.banks):
            await self.engine_bank(bank["name"])
            hashes = sorted(await self.call(self.store.bank_hashes, bank["name"]))
            if hashes:
                await self.backend.bank_add(bank["name"], hashes, source="hma:sync")

    # -- media --------------------------------------------------------------------------

    async def photo_from_request(self, request: Request) -> tuple[np.ndarray, dict | None, str | None]:
        """The photo of a request (multipart ``photo``, or ``?url=`` where allowed), its metadata and URL."""
        url = request.query_params.get("url")
        if url:
            content_type = request.query_params.get("content_type") or "photo"
            if content_type not in CONTENT_TYPES:
                raise HmaError(400, f"no such content_type: '{content_type}'")
            data = await self.fetch(url)
            meta = await metadata_from_json(request)
            return await self.decode(data), meta, url
        ctype = request.headers.get("content-type", "")
        if not ctype.startswith("multipart/form-data"):
            raise HmaError(400, "Neither `url` nor multipart file upload was received")
        form = await request.form()
        files = [(k, v) for k, v in form.multi_items() if hasattr(v, "read")]
        if not files:
            raise HmaError(400, "Missing multipart/form-data file upload")
        if len(files) > 1:
            raise HmaError(400, "Only one file allowed per request")
        field, upload = files[0]
        if field not in CONTENT_TYPES:
            raise HmaError(400, f"no such content_type: '{field}' (Floodwall hashes photos: field `photo`)")
        data = await upload.read(MAX_UPLOAD + 1)
        meta = check_metadata(form.get("metadata")) if isinstance(form.get("metadata"), str) else None
        return await self.decode(data), meta, None

    async def fetch(self, url: str) -> bytes:
        if not self.fetch_urls:
            raise HmaError(403, "Hashing by url is disabled on this server (floodwall serve --hma-fetch-urls "
                                "turns it on); upload the photo as multipart/form-data field `photo`")
        try:
            return await anyio.to_thread.run_sync(fetch_url, url)
        except MediaError as exc:
            raise HmaError(400, str(exc)) from None

    async def decode(self, data: bytes) -> np.ndarray:
        try:
            return await anyio.to_thread.run_sync(decode_photo, data)
        except MediaError as exc:
            raise HmaError(400, str(exc)) from None

    # -- matching -----------------------------------------------------------------------

    async def matches(self, queries: np.ndarray, *, robust: bool, banks: set[str] | None,
                      coinflip: float | None) -> dict[str, list[dict]]:
        """HMA's bank -> [{bank_content_id, distance}] for these query hashes; ``coinflip`` None checks no ratio."""
        radius = ROBUST_RADIUS if robust else PDQ_RADIUS

        def run() -> dict[str, list[dict]]:
            best = self.store.lookup(queries, radius, robust=robust)
            rows = self.store.contents(list(best))
            ratios = {b["name"]: b["matching_enabled_ratio"] for b in self.store.banks()}
            now = time.time()
            out: dict[str, list[dict]] = {}
            for cid in sorted(best, key=lambda c: (best[c], c)):
                row = rows.get(cid)
                if row is None or row["disable_until_ts"] > now:
                    continue
                name = row["bank"]
                if banks is not None and name not in banks:
                    continue
                if coinflip is not None and ratios.get(name, 0.0) < coinflip:
                    continue
                out.setdefault(name, []).append({"bank_content_id": cid, "distance": str(best[cid])})
            return out
        return await anyio.to_thread.run_sync(run)


def hma_router(backend: Backend, *, fetch_urls: bool = False) -> tuple[APIRouter, _Hma]:
    """HMA's routes under ``/hma`` over this backend's banks, and their shared state."""
    hma = _Hma(backend, fetch_urls)
    read = Depends(require_scope("gate"))
    write = Depends(require_scope("operate"))
    r = APIRouter(prefix=PREFIX, tags=["hma"])

    # ---- status -----------------------------------------------------------------------------

    @r.get("/status", response_class=PlainTextResponse)
    async def status() -> PlainTextResponse:
        """HMA's liveness answer (no key needed, as load balancers call it)."""
        ok = all((await backend.ready()).values())
        return PlainTextResponse("I-AM-ALIVE" if ok else "NOT-READY", status_code=200 if ok else 503)

    @r.get("/site-map")
    async def site_map(key: ApiKey = read) -> JSONResponse:
        """Every HMA path this server answers, relative to the base URL, in HMA's notation."""
        paths = {route.path[len(PREFIX):].replace("{", "<").replace("}", ">")
                 for route in r.routes if getattr(route, "path", "").startswith(PREFIX)}
        return _json_ok(sorted(paths))

    # ---- hashing ----------------------------------------------------------------------------

    @r.post("/h/hash", openapi_extra=openapi(photo=True))
    async def hash_post(request: Request, key: ApiKey = read) -> JSONResponse:
        """PDQ of a photo uploaded as multipart field ``photo``: ``{"pdq": hex}``."""
        pixels, _, _ = await hma.photo_from_request(request)
        h, _ = await anyio.to_thread.run_sync(photo_pdq, pixels)
        return _json_ok({"pdq": h})

    @r.get("/h/hash", openapi_extra=openapi(URL_PARAM))
    async def hash_get(request: Request, key: ApiKey = read) -> JSONResponse:
        """PDQ of the photo at ``?url=`` (only where the server allows fetching URLs)."""
        url = request.query_params.get("url")
        if not url:
            raise HmaError(400, "url is required")
        pixels, _, _ = await hma.photo_from_request(request)
        h, _ = await anyio.to_thread.run_sync(photo_pdq, pixels)
        return _json_ok({"pdq": h})

    # ---- matching ---------------------------------------------------------------------------

    def coinflip(request: Request, bypass: bool) -> float:
        seed = request.query_params.get("seed")
        return 0.0 if bypass else random.Random(seed).random()

    @r.get("/m/lookup", openapi_extra=openapi(query_param("signal_type", "pdq"), query_param("signal", "PDQ hash"),
                                              URL_PARAM, *COIN_PARAMS, ROBUST_PARAM))
    async def lookup_get(request: Request, key: ApiKey = read) -> JSONResponse:
        """Banks' content within PDQ distance 31 of ``signal`` (or of the photo at ``url``)."""
        q = request.query_params
        bypass = flag(request, "bypass_coinflip")
        banks = banks_param(request)
        if q.get("url"):
            pixels, _, _ = await hma.photo_from_request(request)
            robust = flag(request, "robust")
            queries = await _photo_queries(pixels, robust)
            res = await hma.matches(queries, robust=robust, banks=banks, coinflip=coinflip(request, bypass))
            return _json_ok(res if q.get("signal_type") == "pdq" else {"pdq": res})
        if not q.get("signal") or not q.get("signal_type"):
            raise HmaError(400, "Either url or both signal and signal_type are required")
        check_signal_type(q.get("signal_type"))
        h = check_pdq(q.get("signal"))
        if flag(request, "robust"):
            # A hash alone cannot be trimmed or mirrored: robust=true looks it up against the derived views at 47.
            res = await hma.matches(from_hex(h)[None], robust=True, banks=banks, coinflip=coinflip(request, bypass))
        else:
            res = await hma.matches(from_hex(h)[None], robust=False, banks=banks, coinflip=coinflip(request, bypass))
        return _json_ok(res)

    @r.post("/m/lookup", openapi_extra=openapi(*COIN_PARAMS, ROBUST_PARAM, photo=True))
    async def lookup_post(request: Request, key: ApiKey = read) -> JSONResponse:
        """Hash the uploaded photo and look it up: ``{"pdq": {bank: [{bank_content_id, distance}]}}``."""
        bypass = flag(request, "bypass_coinflip")
        robust = flag(request, "robust")
        pixels, _, _ = await hma.photo_from_request(request)
        queries = await _photo_queries(pixels, robust)
        res = await hma.matches(queries, robust=robust, banks=banks_param(request), coinflip=coinflip(request, bypass))
        return _json_ok({"pdq": res})

    @r.get("/m/raw_lookup", openapi_extra=openapi(
        *SIGNAL_PARAMS, COIN_PARAMS[2], query_param("include_distance", "true: ids with distances", kind="boolean")))
    async def raw_lookup(request: Request, key: ApiKey = read) -> JSONResponse:
        """Content ids within distance 31 (bank ratios not checked): ``{"matches": [...]}``."""
        q = request.query_params
        if not q.get("signal") or not q.get("signal_type"):
            raise HmaError(400, "signal and signal_type are required")
        check_signal_type(q.get("signal_type"))
        h = check_pdq(q.get("signal"))
        with_distance = flag(request, "include_distance")
        res = await hma.matches(from_hex(h)[None], robust=False, banks=banks_param(request), coinflip=None)
        flat = sorted((m for ms in res.values() for m in ms), key=lambda m: (int(m["distance"]), m["bank_content_id"]))
        return _json_ok({"matches": flat if with_distance else [m["bank_content_id"] for m in flat]})

    @r.post("/m/compare", openapi_extra=openapi(body={"type": "object", "properties": {
        "pdq": {"type": "array", "items": PDQ_SCHEMA, "minItems": 2, "maxItems": 2}}}))
    async def compare(request: Request, key: ApiKey = read) -> JSONResponse:
        """Distance between pairs of hashes: ``{"pdq": [a, b]}`` -> ``{"pdq": [matched, {"distance": n}]}``."""
        body = await json_body(request)
        out = {}
        for st, pair in body.items():
            if not isinstance(pair, list):
                raise HmaError(400, f"Comparison hashes for {st} was not a list")
            if len(pair) != 2:
                raise HmaError(400, "Comparison hash list length must be exactly 2")
            check_signal_type(st)
            a, b = (from_hex(check_pdq(x, st)) for x in pair)
            d = int(hamming(a, b))
            out[st] = [d <= PDQ_RADIUS, {"distance": d}]
        return _json_ok(out)

    # ---- curation: banks --------------------------------------------------------------------

    @r.get("/c/banks")
    async def banks_index(key: ApiKey = read) -> JSONResponse:
        """Every HMA bank: ``[{name, matching_enabled_ratio}]``."""
        return _json_ok(await hma.call(hma.store.banks))

    @r.post("/c/banks", status_code=201, openapi_extra=openapi(body={**BANK_BODY, "required": ["name"]}))
    async def bank_create(request: Request, key: ApiKey = write) -> JSONResponse:
        """Create a bank (201); 400 for a bad name, 403 if it exists."""
        body = await json_body(request)
        if body.get("name") is None:
            raise HmaError(400, "name is required")
        name = check_bank_name(body["name"])
        ratio = 1.0
        if body.get("enabled_ratio") is not None:
            ratio = check_ratio(body["enabled_ratio"], "enabled_ratio")
        elif body.get("enabled") is not None:
            ratio = 1.0 if check_bool(body["enabled"], "enabled") else 0.0
        await hma.engine_bank(name)
        try:
            bank = await hma.call(hma.store.create_bank, name, ratio)
        except BankExists:
            raise HmaError(403, "Bank already exists") from None
        await anyio.to_thread.run_sync(backend_audit, request, key, "hma.bank.create", name)
        return _json_ok(bank, 201)

    @r.get("/c/bank/{bank_name}")
    async def bank_show(bank_name: str, key: ApiKey = read) -> JSONResponse:
        """One bank's settings (404 if none)."""
        return _json_ok(await hma.need_bank(bank_name))

    @r.put("/c/bank/{bank_name}", openapi_extra=openapi(body=BANK_BODY))
    async def bank_update(bank_name: str, request: Request, key: ApiKey = write) -> JSONResponse:
        """Rename and/or set ``enabled`` / ``enabled_ratio``; the engine's bank moves with a rename."""
        await hma.need_bank(bank_name)
        body = await json_body(request)
        new_name = check_bank_name(body["name"]) if body.get("name") is not None else None
        ratio = None
        if body.get("enabled") is not None:
            ratio = 1.0 if check_bool(body["enabled"], "enabled") else 0.0
        if body.get("enabled_ratio") is not None:
            ratio = check_ratio(body["enabled_ratio"], "enabled_ratio")
        if new_name is not None and new_name != bank_name:
            if await hma.call(hma.store.bank, new_name) is not None:
                raise HmaError(403, "Bank name already exists")
            await hma.engine_bank(new_name)
            held = sorted(await hma.call(hma.store.bank_hashes, bank_name))
            if held:
                await backend.bank_add(new_name, held, source=f"hma:{key.name}", note=f"renamed from {bank_name}")
        try:
            bank = await hma.call(hma.store.update_bank, bank_name, new_name=new_name, enabled_ratio=ratio)
        except BankExists:
            raise HmaError(403, "Bank name already exists") from None
        if new_name is not None and new_name != bank_name:
            for h in held:
                await backend.bank_remove(bank_name, h)
        await anyio.to_thread.run_sync(backend_audit, request, key, "hma.bank.update", bank_name,
                                       {"name": new_name, "enabled_ratio": ratio})
        return _json_ok(bank)

    @r.delete("/c/bank/{bank_name}")
    async def bank_delete(bank_name: str, request: Request, key: ApiKey = write) -> JSONResponse:
        """Delete a bank and take its hashes out of the engine (200 even if there was none, as HMA)."""
        if await hma.call(hma.store.bank, bank_name) is not None:
            held = await hma.call(hma.store.delete_bank, bank_name)
            for h in sorted(held):
                await backend.bank_remove(bank_name, h)
            await anyio.to_thread.run_sync(backend_audit, request, key, "hma.bank.delete", bank_name,
                                           {"hashes": len(held)})
        return _json_ok({"message": "Done"})

    # ---- curation: content ------------------------------------------------------------------

    async def add_signals(request: Request, key: ApiKey, bank: str, pdq_hex: str, views: list[tuple[str, str]],
                          meta: dict | None, media_uri: str | None) -> JSONResponse:
        cid = await hma.call(hma.store.add_content, bank, pdq_hex, views, meta=meta, media_uri=media_uri)
        await hma.engine_bank(bank)
        await backend.bank_add(bank, [pdq_hex], source=f"hma:{key.name}", note=f"hma:{cid}")
        if views:
            await backend.bank_add(bank, [h for h, _ in views], source=f"hma:{key.name}", note=f"hma:{cid} derived")
        await anyio.to_thread.run_sync(backend_audit, request, key, "hma.content.add", bank,
                                       {"id": cid, "pdq": pdq_hex, "views": len(views)})
        return _json_ok({"id": cid, "signals": {"pdq": pdq_hex}})

    @r.post("/c/bank/{bank_name}/content", openapi_extra=openapi(ROBUST_PARAM, URL_PARAM, photo=True))
    async def bank_add_content(bank_name: str, request: Request, key: ApiKey = write) -> JSONResponse:
        """Add a photo (multipart ``photo`` or ``?url=``); ``robust=true`` also banks its derived views."""
        await hma.need_bank(bank_name)
        robust = flag(request, "robust")
        pixels, meta, url = await hma.photo_from_request(request)
        h, _ = await anyio.to_thread.run_sync(photo_pdq, pixels)
        views = await anyio.to_thread.run_sync(derived_views, pixels) if robust else []
        return await add_signals(request, key, bank_name, h, views, meta, url)

    @r.post("/c/bank/{bank_name}/signal", openapi_extra=openapi(body={"type": "object", "required": ["pdq"],
                                                                               "properties": {"pdq": PDQ_SCHEMA}}))
    async def bank_add_signal(bank_name: str, request: Request, key: ApiKey = write) -> JSONResponse:
        """Add a hash: ``{"pdq": hex}``."""
        await hma.need_bank(bank_name)
        body = await json_body(request)
        if not body:
            raise HmaError(400, "No signals given")
        for st in body:
            if st not in SIGNAL_TYPES:
                raise HmaError(400, f"No such signal type {st}")
        return await add_signals(request, key, bank_name, check_pdq(body["pdq"]), [], None, None)

    @r.get("/c/bank/{bank_name}/content/{content_id}",
           openapi_extra=openapi(query_param("include_signals", "true: add the content's hash", kind="boolean")))
    async def bank_get_content(bank_name: str, content_id: str, request: Request, key: ApiKey = read) -> JSONResponse:
        """One content item: id, bank, disable_until_ts, metadata; ``include_signals=true`` adds its hash."""
        bank = await hma.need_bank(bank_name)
        cid = parse_content_id(content_id)
        c = await hma.call(hma.store.content, cid)
        if c is None or c["bank"] != bank_name:
            raise HmaError(404, f"content '{content_id}' not found")
        out: dict = {"id": c["id"], "disable_until_ts": c["disable_until_ts"], "collab_metadata": {},
                     "original_media_uri": c["original_media_uri"], "bank": bank}
        if c["meta"] is not None:
            out["metadata"] = c["meta"]
        if flag(request, "include_signals"):
            out["signals"] = {"pdq": c["pdq"]}
        return _json_ok(out)

    @r.delete("/c/bank/{bank_name}/content/{content_id}")
    async def bank_delete_content(bank_name: str, content_id: str, request: Request,
                                  key: ApiKey = write) -> JSONResponse:
        """Remove a content item: ``{"deleted": 1}`` (0 if the bank did not hold it)."""
        await hma.need_bank(bank_name)
        cid = parse_content_id(content_id)
        count, gone = await hma.call(hma.store.remove_content, bank_name, cid)
        for h in sorted(gone):
            await backend.bank_remove(bank_name, h)
        if count:
            await anyio.to_thread.run_sync(backend_audit, request, key, "hma.content.remove", bank_name, {"id": cid})
        return _json_ok({"deleted": count})

    # ---- configuration ----------------------------------------------------------------------

    @r.get("/c/signal_type")
    async def signal_types(key: ApiKey = read) -> JSONResponse:
        """Signal types this server matches."""
        return _json_ok([{"name": "pdq", "enabled_ratio": 1.0}])

    @r.get("/c/content_type")
    async def content_types(key: ApiKey = read) -> JSONResponse:
        """Content types this server hashes."""
        return _json_ok([{"name": "photo", "enabled": True}])

    return r, hma


async def _photo_queries(pixels: np.ndarray, robust: bool) -> np.ndarray:
    if robust:
        return await anyio.to_thread.run_sync(query_views, pixels, MIN_QUALITY)
    h, _ = await anyio.to_thread.run_sync(photo_pdq, pixels)
    return from_hex(h)[None]


def backend_audit(request: Request, key: ApiKey, action: str, target: str, detail: dict | None = None) -> None:
    """Write an HMA curation call to Floodwall's audit chain."""
    request.app.state.keys.audit(key.id, action, target, detail)


def mount_hma(app: FastAPI, backend: Backend, *, fetch_urls: bool = False) -> None:
    """Serve HMA's API under /hma on ``app``; at start, the engine gets every HMA bank's hashes."""
    router, hma = hma_router(backend, fetch_urls=fetch_urls)
    app.include_router(router)

    @app.exception_handler(HmaError)
    async def hma_error(request: Request, exc: HmaError) -> JSONResponse:
        return JSONResponse({"message": exc.message}, status_code=exc.status)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def lifespan(a: FastAPI) -> AsyncIterator[None]:
        async with inner(a) as state:
            await hma.sync()
            yield state

    app.router.lifespan_context = lifespan

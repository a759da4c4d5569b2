# ruff: noqa: B008  (FastAPI declares dependencies and query parameters as argument defaults)
"""The HTTP API: ingest, the go-live gate, cases and decisions, incidents, hash banks, keys, operations.

``create_app(backend, keys)`` builds it; ``extra_routers`` mounts other pages (reviewer console,
status page) into the same app, behind the same keys (``floodwall.service.auth.require_scope``).
"""

from __future__ import annotations

import gc
import logging
import threading
import time
from collections.abc import Iterable
from contextlib import asynccontextmanager
from typing import Literal

import anyio
import msgspec
from fastapi import APIRouter, Depends, FastAPI, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, PlainTextResponse, Response
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field

from floodwall.adapters.keys import ApiKey, KeyStore, TokenBucket
from floodwall.content.bank import parse_hash_lines
from floodwall.events import DeadLetter, Event, EventError, StreamStarted, decode_event
from floodwall.service.auth import ApiError, require_scope
from floodwall.service.backends import Backend
from floodwall.service.gatepath import GatePath, gate_answer_body
from floodwall.adapters.wire import body_format, decode_checked, decode_clean, raw_text, split_batch
from floodwall.service.limits import DEFAULT_MAX_BODY, EdgeLimits, whole_body
from floodwall.service.openapi_doc import add_error_responses
from floodwall.service.principals import principal, vet_feedback
from floodwall.service.attempts import FailedAttempts
from floodwall.service.sessions import SessionStore

log = logging.getLogger("floodwall.api")

MAX_EVENTS = 50_000  # per ingest request


class DecisionIn(BaseModel):
    """A reviewer's decision on a case."""

    violating: bool
    note: str = Field("", max_length=2000)


class UndoIn(BaseModel):
    """Why a decision is undone."""

    note: str = Field("", max_length=2000)


class HashesIn(BaseModel):
    """PDQ hashes, 64 hex digits each."""

    hashes: list[str] = Field(..., min_length=1, max_length=100_000)
    note: str = Field("", max_length=500)


class BankIn(BaseModel):
    """A new hash bank."""

    name: str = Field(..., pattern=r"^[A-Za-z0-9_.-]{1,64}$")
    kind: Literal["block", "allow"] = "block"


class KeyIn(BaseModel):
    """A new API key."""

    name: str = Field(..., min_length=1, max_length=128)
    scopes: list[Literal["ingest", "gate", "review", "operate", "admin"]] = Field(..., min_length=1)
    rate: float = Field(1000.0, gt=0, le=1e6)
    burst: float = Field(2000.0, ge=1, le=1e7)


class CountRequests:
    """ASGI middleware counting requests by route template and status (cheaper than BaseHTTPMiddleware)."""

    def __init__(self, app, metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        status = 500

        async def send_status(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            route = scope.get("route")
            self.metrics.requests.labels(getattr(route, "path", "unmatched"), str(status)).inc()


class SharedStart:
    """One backend start for every lifespan of one app that overlaps another (a test client beside
    schemathesis's own, a server running one per event loop): the first starts it, the last stops it.
    Starting it twice ran two journal committers on one connection."""

    def __init__(self, backend: Backend) -> None:
        self.backend = backend
        self.users = 0
        self._lock = threading.Lock()  # the count only; never held across an await
        self._ready = threading.Event()
        self._error: BaseException | None = None

    async def enter(self) -> bool:
        """Start the backend unless a lifespan already did (then wait for that start); True if this one did."""
        with self._lock:
            self.users += 1
            first = self.users == 1
            if first:
                self._ready.clear()
                self._error = None
        if not first:
            await anyio.to_thread.run_sync(self._ready.wait)
            if self._error is not None:
                with self._lock:
                    self.users -= 1
                raise RuntimeError("the backend failed to start in another lifespan") from self._error
            return False
        try:
            await self.backend.start()
        except BaseException as exc:
            self._error = exc
            with self._lock:
                self.users -= 1
            raise
        finally:
            self._ready.set()
        return True

    async def leave(self) -> None:
        """Stop the backend when the last lifespan ends."""
        with self._lock:
            self.users -= 1
            last = self.users == 0
        if last:
            await self.backend.stop()


def too_many(n: int) -> None:
    """413 when a batch holds more events than one request may."""
    if n > MAX_EVENTS:
        raise ApiError(413, "too_many_events", f"{n} events; at most {MAX_EVENTS} per request")


def _event_schemas() -> tuple[dict, dict]:
    """JSON schemas of an event batch and of a StreamStarted, with their components (from msgspec)."""
    (batch, started), components = msgspec.json.schema_components(
        (list[Event], StreamStarted), ref_template="#/components/schemas/{name}")
    return {"batch": batch, "started": started}, components


def _body(schema: dict) -> dict:
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": schema}}}}


def create_app(backend: Backend, keys: KeyStore, *, extra_routers: Iterable[APIRouter] = (),
               title: str = "Floodwall", hma_fetch_urls: bool = False,
               max_body: int = DEFAULT_MAX_BODY) -> FastAPI:
    """The FastAPI app over a backend (embedded Hub or NATS) and a key store; HMA's API under /hma."""
    schemas, components = _event_schemas()

    shared = SharedStart(backend)

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if await shared.enter():
            # Move everything loaded at start (policy, classifier, imports) out of the collector's view:
            # full collections then scan only what requests create (shorter pauses, lower tail latency).
            gc.collect()
            gc.freeze()
            log.info("floodwall API up", extra={"mode": backend.mode, "durable": backend.durable})
        try:
            yield
        finally:
            await shared.leave()

    # FastAPIOffline: /docs and /redoc load Swagger UI and ReDoc from files in the wheel
    # (served under /static-offline-docs), not from a CDN an offline deployment cannot reach.
    app = FastAPIOffline(title=title, version="1", lifespan=lifespan, swagger_ui_parameters={"validatorUrl": None},
                         description="Floodwall: events in, verdicts and actions out. Every call but /healthz, /v1/schema/events, "
                                     "/readyz and /metrics needs an API key (Authorization: Bearer fw_...).")
    app.state.backend = backend
    app.state.keys = keys
    app.state.sessions = SessionStore(keys.engine)  # the console's sign-ins
    app.state.attempts = FailedAttempts(store=keys.engine)  # failed keys, per address and key id, across processes
    app.state.buckets = TokenBucket()
    app.state.metrics = metrics = backend.metrics

    @app.exception_handler(ApiError)
    async def api_error(request: Request, exc: ApiError):
        return exc.response()

    @app.exception_handler(RequestValidationError)
    async def validation_error(request: Request, exc: RequestValidationError):
        errs = [{"field": ".".join(str(x) for x in e["loc"][1:]), "reason": e["msg"]} for e in exc.errors()]
        return JSONResponse({"error": {"type": "invalid_request", "message": "the request failed validation",
                                       "errors": errs}}, status_code=422)

    @app.exception_handler(RecursionError)
    async def too_deep(request: Request, exc: RecursionError):  # msgspec's own limit (the events route), a backstop
        return JSONResponse({"error": {"type": "too_deep", "message": "the body nests too deeply"}}, status_code=400)

    # 413 / 400 before any route reads a body; the events route's msgspec decoding bounds its own nesting.
    app.add_middleware(GatePath, state=app.state)  # the gate's common case, inside the body limits
    app.add_middleware(EdgeLimits, max_body=max_body, own_depth=frozenset({"/v1/events"}))
    app.add_middleware(CountRequests, metrics=metrics)

    def audit(key: ApiKey, action: str, target: str, detail: dict | None = None) -> None:
        keys.audit(key.id, action, target, detail)

    # ---- operations -----------------------------------------------------------------------

    @app.get("/healthz", tags=["operations"])
    async def healthz() -> dict:
        """The process is up."""
        return {"status": "ok"}

    @app.get("/readyz", tags=["operations"])
    async def readyz():
        """Every dependency answers (store, loop or NATS)."""
        checks = await backend.ready()
        ok = all(checks.values())
        return JSONResponse({"ready": ok, "checks": checks, "mode": backend.mode}, status_code=200 if ok else 503)

    @app.get("/metrics", tags=["operations"], response_class=PlainTextResponse)
    async def prometheus() -> Response:
        """Prometheus text format."""
        return Response(metrics.render(), media_type="text/plain; version=0.0.4")

    # ---- events -----------------------------------------------------------------------------

    @app.post("/v1/events", tags=["events"], status_code=202, openapi_extra=_body(schemas["batch"]))
    async def ingest(request: Request, key: ApiKey = Depends(require_scope("ingest"))):
        """Ingest an array of events (JSON, or msgpack as application/msgpack); bad ones are rejected by index, kept as dead letters."""
        fmt = body_format(request.headers.get("content-type"))
        if fmt is None:
            raise ApiError(415, "unsupported_media_type",
                           "send application/json or application/msgpack (an array of events)")
        body = await whole_body(request)
        rejected, dead = [], []
        clean = decode_clean(body, fmt)  # every event valid: one decoder call for them all
        if clean is not None:
            good, where = clean, range(len(clean))  # each good event's index in the body
        else:
            try:
                raws = split_batch(body, fmt)
            except ValueError as exc:
                raise ApiError(400, "invalid_body", str(exc)) from None
            too_many(len(raws))  # before decoding each: bad events cost more than good ones
            good, where = [], []
            for i, raw in enumerate(raws):
                try:
                    good.append(decode_checked(raw, fmt))
                    where.append(i)
                except EventError as err:
                    rejected.append({"index": i, "field": err.field, "reason": err.reason})
                    dead.append(DeadLetter(raw=raw_text(raw, fmt)[:10_000], field=err.field, reason=err.reason,
                                           line=i))
        too_many(len(good) + len(rejected))
        decisions = vet_feedback(good, where, key)  # 403 for forged decisions, before anything is kept
        if dead:
            await backend.dead(dead)
            metrics.events_in.labels("rejected").inc(len(dead))
        out: dict = {"accepted": len(good), "rejected": rejected}
        if good:
            out.update(await backend.ingest(good))
            metrics.events_in.labels("accepted").inc(len(good))
            for action, ev in decisions:
                await anyio.to_thread.run_sync(audit, key, action, ev.item, {"event": ev.id, "note": ev.note})
        if rejected and not good:
            return JSONResponse({"error": {"type": "invalid_events", "message": "no event in the batch was valid",
                                           **out}}, status_code=422)
        return out

    @app.get("/v1/schema/events", tags=["events"])
    async def event_schema() -> Response:
        """JSON Schema of one event (every type), generated from events.py; no key needed."""
        from floodwall.schema import events_schema

        return Response(msgspec.json.encode(events_schema()), media_type="application/schema+json")

    @app.post("/v1/gate", tags=["gate"], openapi_extra=_body(schemas["started"]))
    async def gate(request: Request, key: ApiKey = Depends(require_scope("gate"))):
        """The go-live gate: POST a stream_started event, get the verdict, its rules and evidence."""
        body = await request.body()
        try:
            ev = decode_event(body)
        except EventError as err:
            raise ApiError(422, "invalid_event", str(err), field=err.field, reason=err.reason) from None
        if type(ev) is not StreamStarted:
            raise ApiError(422, "invalid_event", "the gate takes a stream_started event", field="type",
                           reason="expected stream_started")
        return Response(await gate_answer_body(backend, ev, metrics), media_type="application/json")

    @app.post("/v1/reports", tags=["events"], status_code=202)
    async def report(stream: str = Query(..., min_length=1, max_length=128),
                     reporter: str = Query(..., min_length=1, max_length=128),
                     reason: str = Query("other", max_length=64), key: ApiKey = Depends(require_scope("ingest"))):
        """A user's report of a stream (shorthand for a report_filed event)."""
        from uuid import uuid4

        from floodwall.events import ReportFiled

        ev = ReportFiled(id=f"rp-{uuid4().hex}", ts=time.time(), stream=stream, reporter=reporter, reason=reason)
        return {"event": ev.id, **await backend.ingest([ev])}

    @app.get("/v1/dead-letters", tags=["events"])
    async def dead_letters(limit: int = Query(100, ge=1, le=1000), key: ApiKey = Depends(require_scope("operate"))):
        """Malformed events, newest first, with the field and the reason."""
        return {"items": await anyio.to_thread.run_sync(backend.dead_letters, limit)}

    # ---- decisions, cases, incidents ----------------------------------------------------------

    @app.get("/v1/decisions/{key}", tags=["decisions"])
    async def decisions(key: str, who: ApiKey = Depends(require_scope("review"))):
        """Every verdict (rules, evidence) and action about a stream or account."""
        return await anyio.to_thread.run_sync(backend.decisions, key)

    @app.get("/v1/cases", tags=["review"])
    async def list_cases(limit: int = Query(50, ge=1, le=1000), key: ApiKey = Depends(require_scope("review"))):
        """Open review cases, highest expected harm first."""
        return {"items": await anyio.to_thread.run_sync(backend.cases, limit)}

    @app.post("/v1/cases/{case}/decision", tags=["review"], status_code=202)
    async def decide(case: str, body: DecisionIn, key: ApiKey = Depends(require_scope("review"))):
        """Decide a case; the decision acts on every room and account the case covers."""
        out = await backend.decide(case, body.violating, body.note, reviewer=principal(key))
        await anyio.to_thread.run_sync(audit, key, "review.decide", case,
                                       {"violating": body.violating, "note": body.note, "event": out["event"]})
        return out

    @app.post("/v1/cases/{case}/undo", tags=["review"], status_code=202)
    async def undo(case: str, body: UndoIn, key: ApiKey = Depends(require_scope("review"))):
        """Undo a case's decision: what it removed comes back and the case reopens."""
        out = await backend.undo(case, body.note, reviewer=principal(key))
        await anyio.to_thread.run_sync(audit, key, "review.undo", case, {"note": body.note, "event": out["event"]})
        return out

    @app.get("/v1/incidents", tags=["incidents"])
    async def incidents(key: ApiKey = Depends(require_scope("review"))):
        """The incident level and what it rests on."""
        return await anyio.to_thread.run_sync(backend.incident)

    # ---- hash banks ---------------------------------------------------------------------------

    @app.get("/v1/banks", tags=["banks"])
    async def list_banks(key: ApiKey = Depends(require_scope("operate"))):
        """Every bank: name, kind, live entries."""
        return {"items": await backend.bank_list()}

    @app.post("/v1/banks", tags=["banks"], status_code=201)
    async def create_bank(body: BankIn, key: ApiKey = Depends(require_scope("operate"))):
        """Create an empty bank (with NATS: in every partition, through the log)."""
        await backend.bank_create(body.name, body.kind)
        await anyio.to_thread.run_sync(audit, key, "bank.create", body.name, {"kind": body.kind})
        return {"name": body.name, "kind": body.kind, "size": 0}

    @app.post("/v1/banks/{name}/hashes", tags=["banks"])
    async def add_hashes(name: str, body: HashesIn, key: ApiKey = Depends(require_scope("operate"))):
        """Add PDQ hashes (64 hex digits each); returns how many were new."""
        try:
            hexes = parse_hash_lines("\n".join(h.strip() or "-" for h in body.hashes))
        except ValueError as exc:
            raise ApiError(422, "invalid_hash", str(exc)) from None
        added = await backend.bank_add(name, hexes, source=f"api:{key.name}", note=body.note)
        await anyio.to_thread.run_sync(audit, key, "bank.add", name, {"added": added, "given": len(hexes)})
        return {"bank": name, "added": added}

    @app.delete("/v1/banks/{name}/hashes/{hex_hash}", tags=["banks"])
    async def remove_hash(name: str, hex_hash: str, key: ApiKey = Depends(require_scope("operate"))):
        """Remove one hash from a bank."""
        if not await backend.bank_remove(name, hex_hash):
            raise ApiError(404, "not_found", f"bank {name!r} does not hold {hex_hash!r}")
        await anyio.to_thread.run_sync(audit, key, "bank.remove", name, {"hash": hex_hash})
        return {"bank": name, "removed": hex_hash}

    @app.post("/v1/banks/{name}/import", tags=["banks"],
              openapi_extra={"requestBody": {"required": True, "content": {"text/plain": {"schema": {"type": "string"}}}}})
    async def import_bank(name: str, request: Request, key: ApiKey = Depends(require_scope("operate"))):
        """Import ThreatExchange-style PDQ hex, one hash a line (extra columns and # comments ignored)."""
        text = (await request.body()).decode("utf-8", "replace")
        try:
            hexes = parse_hash_lines(text)
        except ValueError as exc:
            raise ApiError(422, "invalid_hash", str(exc)) from None
        added = await backend.bank_add(name, hexes, source=f"import:{key.name}")
        await anyio.to_thread.run_sync(audit, key, "bank.import", name, {"added": added, "lines": len(hexes)})
        return {"bank": name, "added": added, "read": len(hexes)}

    @app.get("/v1/banks/{name}/export", tags=["banks"], response_class=PlainTextResponse)
    async def export_bank(name: str, key: ApiKey = Depends(require_scope("operate"))):
        """The bank's live hashes as PDQ hex, one a line."""
        return PlainTextResponse(await backend.bank_export(name))

    # ---- keys and audit -------------------------------------------------------------------------

    @app.post("/v1/keys", tags=["admin"], status_code=201)
    async def create_key(body: KeyIn, key: ApiKey = Depends(require_scope("admin"))):
        """Create an API key; the secret is in this response only."""
        secret, new = await anyio.to_thread.run_sync(
            lambda: keys.create(body.name, body.scopes, rate=body.rate, burst=body.burst, created_by=key.id))
        await anyio.to_thread.run_sync(audit, key, "key.create", new.id, {"name": body.name, "scopes": body.scopes})
        return {"id": new.id, "name": new.name, "scopes": sorted(new.scopes), "secret": secret}

    @app.get("/v1/keys", tags=["admin"])
    async def list_keys(key: ApiKey = Depends(require_scope("admin"))):
        """Every key (never its secret or hash)."""
        return {"items": await anyio.to_thread.run_sync(keys.list)}

    @app.delete("/v1/keys/{key_id}", tags=["admin"])
    async def revoke_key(key_id: str, key: ApiKey = Depends(require_scope("admin"))):
        """Revoke a key."""
        if not await anyio.to_thread.run_sync(keys.revoke, key_id):
            raise ApiError(404, "not_found", f"no active key {key_id!r}")
        await anyio.to_thread.run_sync(app.state.sessions.end_for_key, key_id)
        await anyio.to_thread.run_sync(audit, key, "key.revoke", key_id)
        return {"revoked": key_id}

    @app.get("/v1/audit", tags=["admin"])
    async def audit_log(limit: int = Query(100, ge=1, le=1000), key: ApiKey = Depends(require_scope("admin"))):
        """The newest audit rows and whether the hash chain is intact."""
        rows, ok = await anyio.to_thread.run_sync(lambda: (keys.audit_log(limit), keys.verify_audit()))
        return {"items": rows, "chain_ok": ok}

    for router in extra_routers:
        app.include_router(router)
    from floodwall.service.hma import mount_hma  # Meta's HMA API over the same banks (docs/hma.md)

    mount_hma(app, backend, fetch_urls=hma_fetch_urls)

    def openapi() -> dict:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            spec = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
            spec.setdefault("components", {}).setdefault("schemas", {}).update(components)
            spec["components"]["securitySchemes"] = {"apiKey": {"type": "http", "scheme": "bearer"}}
            spec["security"] = [{"apiKey": []}]
            app.openapi_schema = add_error_responses(spec)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app

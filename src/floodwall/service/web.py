"""The web pages people use during a replay or beside the service: reviewer console and status page."""

from __future__ import annotations

import anyio
from fastapi import APIRouter, FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, RedirectResponse

from floodwall.service.hub import Hub
from floodwall.service.sessions import SESSION_COOKIE, SessionStore, cookie_secure, same_origin


def page_routers(hub: Hub, guard=None) -> list[APIRouter]:
    """The console's router (behind ``guard`` if given), and the public status page's."""
    from floodwall.service.console import router as console

    return [console(hub, guard=guard), status_router(hub)]


def status_router(hub: Hub, refresh_s: int = 5) -> APIRouter:
    """GET /status (HTML, refreshing itself) and GET /status.json, read from the Hub's engine under its lock."""
    from floodwall.response.statuspage import render_status, status, texts_of

    r = APIRouter()

    def snapshot() -> dict:
        with hub.lock:
            responder = getattr(hub.engine, "responder", None)
            changes = responder.timeline() if responder is not None else []
            now = hub.engine.clock.now()
            texts = texts_of(responder)
        return status(changes, now, texts)

    @r.get("/status.json")
    def status_json() -> dict:
        return snapshot()

    # response_model=None: the return annotation is a string under `from __future__ import annotations`,
    # and FastAPI would otherwise try to build a response model from it (500 on /openapi.json).
    @r.get("/status", response_class=HTMLResponse, response_model=None)
    def status_page() -> HTMLResponse:
        return HTMLResponse(render_status(snapshot(), refresh_s))

    return r


def people_guard(scope: str):
    """The service's key check for pages: a browser without a key is sent to the sign-in page."""
    from floodwall.service.auth import ApiError, require_scope

    check = require_scope(scope)

    async def guard(request: Request):
        try:
            return await check(request)
        except ApiError as exc:
            if exc.status == 401 and request.method == "GET" and "text/html" in request.headers.get("accept", ""):
                raise HTTPException(303, "sign in with an API key", headers={"Location": "/login"}) from None
            raise

    return guard


_LOGIN = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Sign in · Floodwall</title>
<style>body{font:15px system-ui,sans-serif;max-width:32em;margin:4em auto}input{width:100%;padding:6px}</style>
</head><body><h1>Floodwall</h1><p>Paste an API key with the <code>review</code> scope
(<code>floodwall keys create --scope review --name YOUR-NAME</code>).</p>
<form method="post" action="/login"><p><input name="key" type="password" autofocus placeholder="fw_..."></p>
<p><button>Sign in</button></p></form>{error}</body></html>"""


def login_router() -> APIRouter:
    """GET/POST /login: a verified API key opens a server-side session; the browser gets only its random id.
    POST /logout ends it."""
    r = APIRouter(include_in_schema=False)

    @r.get("/login", response_class=HTMLResponse)
    def login_page() -> HTMLResponse:
        return HTMLResponse(_LOGIN.replace("{error}", ""))

    @r.post("/login", response_model=None)
    async def login(request: Request, key: str = Form("")) -> HTMLResponse | RedirectResponse:
        from floodwall.service.auth import ApiError, verify_limited

        if not same_origin(request):  # no signing a victim in to an attacker's session (login CSRF)
            return HTMLResponse(_LOGIN.replace("{error}", "<p><strong>Cross-origin sign-in refused.</strong></p>"),
                                status_code=403)
        try:
            found = await verify_limited(request, key.strip()) if key.strip() else None
        except ApiError as exc:
            if exc.status == 429:
                return HTMLResponse(_LOGIN.replace("{error}", "<p><strong>Too many failed sign-ins; wait a minute."
                                                              "</strong></p>"), status_code=429, headers=exc.headers)
            found = None
        if found is None or not found.allows("review"):
            return HTMLResponse(_LOGIN.replace("{error}", "<p><strong>That key is unknown, revoked, or lacks the "
                                                          "review scope.</strong></p>"), status_code=401)
        sessions: SessionStore = request.app.state.sessions
        sid, _ = await anyio.to_thread.run_sync(sessions.create, found.id)
        resp = RedirectResponse("/review", status_code=303)
        resp.set_cookie(SESSION_COOKIE, sid, httponly=True, samesite="strict", secure=cookie_secure(request),
                        max_age=int(sessions.TTL), path="/")
        return resp

    @r.post("/logout", response_model=None)
    async def logout(request: Request) -> RedirectResponse:
        from floodwall.service.auth import session_key

        key = await session_key(request)  # same origin and the CSRF token, like any other form
        if key is not None:
            request.app.state.sessions.end(request.cookies[SESSION_COOKIE])
        resp = RedirectResponse("/login", status_code=303)
        resp.delete_cookie(SESSION_COOKIE, path="/", httponly=True, samesite="strict", secure=cookie_secure(request))
        return resp

    return r


def make_app(hub: Hub) -> FastAPI:
    """A small app serving the people-facing pages over one hub (a local replay: no keys)."""
    app = FastAPI(title="Floodwall console", summary=f"Reviewer console and status page for {hub.name}")
    for r in page_routers(hub):
        app.include_router(r)

    @app.get("/", include_in_schema=False)
    def root() -> RedirectResponse:
        return RedirectResponse("/review")

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict:
        return {"ok": True, "batches": hub.seq}

    return app


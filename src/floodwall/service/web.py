"""The web pages people use during a replay or beside the service: reviewer console and status page."""

from __future__ import annotations

from fastapi import FastAPI
from fastapi.responses import RedirectResponse

from floodwall.service.hub import Hub


def page_routers(hub: Hub) -> list:
    """The console's router, and the status page's where that module is present."""
    from floodwall.review.console import router as console

    routers = [console(hub)]
    try:
        from floodwall.response.statuspage import router as status
    except ImportError:  # the status page is optional to the console
        status = None
    if status is not None:
        routers.append(status(hub))
    return routers


def make_app(hub: Hub) -> FastAPI:
    """A small app serving the people-facing pages over one hub."""
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

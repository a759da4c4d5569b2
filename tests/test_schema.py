"""The event reference: JSON Schema from events.py, served, printed, and docs/events.md kept current."""

from __future__ import annotations

import json
from pathlib import Path

from fastapi.testclient import TestClient

from floodwall.adapters.keys import KeyStore
from floodwall.cli import main
from floodwall.events import EVENT_TYPES
from floodwall.schema import events_markdown, events_schema
from floodwall.service.app import create_app
from floodwall.service.serve import build_backend

DOC = Path(__file__).resolve().parents[1] / "docs" / "events.md"


def test_schema_names_every_event_and_field() -> None:
    schema = events_schema()
    defs = schema["$defs"]
    for cls in EVENT_TYPES:
        props = defs[cls.__name__]["properties"]
        assert set(cls.__struct_fields__) <= set(props)
        assert props["type"]["enum"] == [cls.__struct_config__.tag]
    frame = defs["FrameSampled"]["properties"]
    assert {"image", "pdq", "pdq_quality", "pdq_mirrored"} <= set(frame)


def test_docs_events_md_is_current() -> None:
    assert DOC.read_text(encoding="utf-8") == events_markdown() + "\n", (
        "docs/events.md is stale: run `floodwall schema events --markdown > docs/events.md`")


def test_cli_prints_the_schema(capsys) -> None:
    assert main(["schema", "events"]) == 0
    assert json.loads(capsys.readouterr().out) == events_schema()


def test_api_serves_the_schema_without_a_key(tmp_path) -> None:
    backend = build_backend(store_url=f"sqlite:///{tmp_path}/fw.db", tick=0.05)
    with TestClient(create_app(backend, KeyStore(backend.store.engine))) as client:
        r = client.get("/v1/schema/events")
        assert r.status_code == 200 and r.headers["content-type"] == "application/schema+json"
        assert r.json() == events_schema()

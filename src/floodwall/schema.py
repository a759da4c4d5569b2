"""The event reference, generated from events.py: JSON Schema (msgspec) and the Markdown of docs/events.md.

One source of truth: the event types in ``floodwall.events``. ``events_schema()`` is served at
``GET /v1/schema/events`` and printed by ``floodwall schema events``; ``events_markdown()`` is
docs/events.md (a test fails when the file is not current: regenerate with
``floodwall schema events --markdown > docs/events.md``).
"""

from __future__ import annotations

import inspect
import json

import msgspec

from floodwall.events import EVENT_TYPES, SCHEMA_VERSION, Event

__all__ = ["events_markdown", "events_schema"]


def events_schema() -> dict:
    """JSON Schema (2020-12) of one event: a ``oneOf`` over every type, tagged by ``type``."""
    schema = msgspec.json.schema(Event)
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = f"Floodwall event (schema version {SCHEMA_VERSION})"
    schema["description"] = ("One event a platform sends to POST /v1/events (an array of these, as JSON or "
                             "msgspec-compatible msgpack). Bytes fields are base64 in JSON, binary in msgpack.")
    return schema


def _type_of(prop: dict) -> str:
    """A short, readable type for one property of the schema."""
    if "anyOf" in prop:
        return " or ".join(_type_of(p) for p in prop["anyOf"])
    if "enum" in prop:
        return " \\| ".join(json.dumps(v) for v in prop["enum"])
    if "const" in prop:
        return json.dumps(prop["const"])
    t = prop.get("type", "any")
    if t == "string" and prop.get("contentEncoding") == "base64":
        return "bytes (base64 in JSON)"
    if t == "array":
        return f"array of {_type_of(prop.get('items', {}))}"
    if "$ref" in prop:
        return prop["$ref"].rsplit("/", 1)[-1]
    return str(t)


_LIMITS = {"minLength": "length >= {}", "maxLength": "length <= {}", "minimum": ">= {}", "maximum": "<= {}",
           "exclusiveMinimum": "> {}", "exclusiveMaximum": "< {}", "minItems": "items >= {}", "maxItems": "items <= {}"}


def _limits(prop: dict) -> str:
    """The schema's constraints on one property, readable (checks in __post_init__ are in the descriptions)."""
    parts = [fmt.format(prop[k]) for k, fmt in _LIMITS.items() if k in prop]
    if "pattern" in prop:
        parts.append(f"pattern `{prop['pattern']}`")
    for sub in prop.get("anyOf", ()):
        if sub.get("type") != "null" and _limits(sub):
            parts.append(_limits(sub))
    return ", ".join(parts)


def events_markdown() -> str:
    """docs/events.md: every event with its fields, types, defaults and description."""
    schema = events_schema()
    defs = schema["$defs"]
    out = ["# Event reference", "",
           "Generated from `src/floodwall/events.py` by `floodwall schema events --markdown` (a test checks that "
           "this file is current). The JSON Schema itself: `floodwall schema events`, or `GET /v1/schema/events` "
           "on a running service.", "",
           f"Every event has `type` (the tag below), `id` (unique per event: repeats are dropped), `ts` (seconds "
           f"since the Unix epoch) and `v` (schema version, default {SCHEMA_VERSION}). POST them to `/v1/events` "
           "as a JSON array, or as a msgpack array with `Content-Type: application/msgpack`. Bytes fields are "
           "base64 strings in JSON and binary in msgpack.", ""]
    for cls in EVENT_TYPES:
        d = defs[cls.__name__]
        tag = cls.__struct_config__.tag
        out += [f"## `{tag}` ({cls.__name__})", "", inspect.cleandoc(cls.__doc__ or ""), "",
                "| field | type | required | default | limits |", "| --- | --- | --- | --- | --- |"]
        required = set(d.get("required", ()))
        for name, prop in d["properties"].items():
            if name == "type":
                continue
            default = json.dumps(prop["default"]) if "default" in prop else ""
            out.append(f"| `{name}` | {_type_of(prop)} | {'yes' if name in required else ''} | {default} | "
                       f"{_limits(prop)} |")
        out.append("")
    return "\n".join(out)

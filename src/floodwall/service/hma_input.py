"""HMA requests read by hand, each field checked with HMA's error text; the OpenAPI of routes that do so.

The HMA routes (service/hma.py) read their own query and body, so that a bad field gets HMA's 400 and
``{"message": ...}`` rather than FastAPI's 422.
"""

from __future__ import annotations

import json

from fastapi import Request

from floodwall.content.pdq import from_hex
from floodwall.service.hma_store import BANK_NAME

SIGNAL_TYPES = ("pdq",)
CONTENT_TYPES = ("photo",)
META_KEYS = {"content_id", "content_uri", "json"}


class HmaError(Exception):
    """An HMA-style error: the status code and ``{"message": ...}``."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def flag(request: Request, name: str) -> bool:
    """A true/false query parameter (absent is false); anything else is HMA's 400 naming it."""
    raw = request.query_params.get(name, "false").lower()
    if raw in ("true", "1"):
        return True
    if raw in ("false", "0", ""):
        return False
    raise HmaError(400, f"invalid boolean parameter {name}={raw!r} - prefer true/false")


def check_pdq(value: object, field: str = "pdq") -> str:
    """A PDQ hash as 64 hex digits, lower-cased; otherwise a 400 naming the field."""
    if not isinstance(value, str) or len(value) != 64:
        raise HmaError(400, f"Invalid {field} signal: expected 64 hex digits")
    try:
        from_hex(value)
    except ValueError as exc:
        raise HmaError(400, f"Invalid {field} signal: {exc}") from None
    return value.lower()


def check_signal_type(name: str | None) -> str:
    """The signal type, which must be one this server knows (pdq)."""
    if not name:
        raise HmaError(400, "signal_type is required")
    if name not in SIGNAL_TYPES:
        raise HmaError(400, f"No such SignalType '{name}'")
    return name


def check_bank_name(name: object, field: str = "name") -> str:
    """A bank name in HMA's CAPS_AND_UNDERSCORE form."""
    if not isinstance(name, str) or not BANK_NAME.fullmatch(name):
        raise HmaError(400, f"Field `{field}` must be CAPS_AND_UNDERSCORE (/^[A-Z_][A-Z0-9_]*$/, at most 64), "
                            f"got {name!r}")
    return name


def check_ratio(value: object, field: str) -> float:
    """A ratio in [0, 1] (a bool is refused, as HMA does)."""
    if isinstance(value, bool):
        raise HmaError(400, f"Invalid float for {field}: {value!r}")
    try:
        r = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        raise HmaError(400, f"Invalid float for {field}: {value!r}") from None
    if not 0.0 <= r <= 1.0:
        raise HmaError(400, f"{field} must be between 0.0 and 1.0, got {r}")
    return r


async def json_body(request: Request) -> dict:
    """The request's JSON object body."""
    try:
        body = json.loads(await request.body() or b"null")
    except ValueError:
        raise HmaError(400, "the request body must be JSON") from None
    if not isinstance(body, dict):
        raise HmaError(400, "this endpoint expects a json object payload")
    return body


def query_param(name: str, description: str, *, required: bool = False, kind: str = "string") -> dict:
    """One query parameter in OpenAPI form."""
    return {"name": name, "in": "query", "required": required, "description": description, "schema": {"type": kind}}


def openapi(*params: dict, body: dict | None = None, photo: bool = False) -> dict:
    """OpenAPI for a route that reads its own query and body (so HMA's 400s stay HMA's, not FastAPI's 422s)."""
    out: dict = {"parameters": list(params)}
    if photo:
        out["requestBody"] = {"content": {"multipart/form-data": {"schema": {
            "type": "object", "required": ["photo"],
            "properties": {"photo": {"type": "string", "format": "binary"},
                           "metadata": {"type": "string", "description": "JSON: content_id, content_uri, json"}}}}}}
    elif body is not None:
        out["requestBody"] = {"required": True, "content": {"application/json": {"schema": body}}}
    return out


PDQ_SCHEMA = {"type": "string", "pattern": "^[0-9a-fA-F]{64}$"}
SIGNAL_PARAMS = (query_param("signal_type", "pdq", required=True),
                 query_param("signal", "PDQ hash, 64 hex digits", required=True))
COIN_PARAMS = (query_param("bypass_coinflip", "true: check every bank whatever its enabled ratio", kind="boolean"),
               query_param("seed", "seed of the coinflip against each bank's enabled ratio"),
               query_param("banks", "comma-separated bank names to restrict to"))
ROBUST_PARAM = query_param("robust", "Floodwall: also find mirrored, cropped and padded copies (docs/hma.md)",
                           kind="boolean")
URL_PARAM = query_param("url", "photo to fetch (only where the server runs with --hma-fetch-urls)")
BANK_BODY = {"type": "object", "properties": {"name": {"type": "string", "pattern": "^[A-Z_][A-Z0-9_]*$"},
                                              "enabled_ratio": {"type": "number", "minimum": 0, "maximum": 1},
                                              "enabled": {"type": "boolean"}}}


MAX_UPLOAD = 20 << 20  # bytes of one uploaded photo


def check_metadata(raw: object) -> dict | None:
    """HMA's content metadata (content_id, content_uri, json), checked key by key and bounded."""
    if raw is None:
        return None
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            raise HmaError(400, "metadata should be a json object") from None
    if not isinstance(raw, dict):
        raise HmaError(400, "metadata should be a json object")
    unexpected = set(raw) - META_KEYS
    if unexpected:
        raise HmaError(400, f"metadata contains unexpected keys: {', '.join(sorted(unexpected))}")
    for k in ("content_id", "content_uri"):
        if k in raw and not isinstance(raw[k], str | None):
            raise HmaError(400, f"metadata.{k} must be a string")
    if "json" in raw and not isinstance(raw["json"], dict | None):
        raise HmaError(400, "metadata.json must be a json object")
    if len(json.dumps(raw)) > 10_000:
        raise HmaError(400, "metadata is over 10000 bytes of JSON")
    return raw


async def metadata_from_json(request: Request) -> dict | None:
    """The metadata of a JSON body, if the request has one."""
    if not request.headers.get("content-type", "").startswith("application/json"):
        return None
    body = await request.body()
    if not body:
        return None
    try:
        j = json.loads(body)
    except ValueError:
        raise HmaError(400, "the request body must be JSON") from None
    return check_metadata(j.get("metadata")) if isinstance(j, dict) else None


def banks_param(request: Request) -> set[str] | None:
    """The ``banks`` query parameter as a set of names (None: every bank)."""
    raw = request.query_params.get("banks")
    return {b.strip() for b in raw.split(",") if b.strip()} if raw else None


def check_bool(value: object, field: str) -> bool:
    """A JSON bool, or its string form."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "1", "false", "0"):
        return value.lower() in ("true", "1")
    raise HmaError(400, f"invalid boolean {field}={value!r} - prefer true/false")


def parse_content_id(raw: str) -> int:
    """A content id from a path; one that cannot exist is HMA's 404."""
    if not raw.isdigit() or len(raw) > 18:
        raise HmaError(404, f"content '{raw}' not found")
    return int(raw)

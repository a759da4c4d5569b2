"""The error answers every operation can give, added to the OpenAPI document so that clients (and the
schemathesis test) find each status code the service answers documented."""

from __future__ import annotations

ERROR_SCHEMA = {
    "type": "object",
    "properties": {"error": {"type": "object", "properties": {"type": {"type": "string"},
                                                              "message": {"type": "string"}}}},
}
_REASONS = {
    400: "the body is not valid JSON, or nests deeper than the limit",
    401: "no API key, or an unknown, wrong or revoked one",
    403: "the key lacks the scope this operation needs (or a cross-origin form post)",
    404: "the named thing does not exist",
    409: "the request conflicts with the current state",
    413: "the body is larger than the service's cap (--max-body)",
    422: "a field failed validation; the answer names it",
    429: "too many requests (or failed sign-ins); see Retry-After",
}
PUBLIC = frozenset({"/healthz", "/readyz", "/metrics", "/status", "/status.json"})
_METHODS = ("get", "post", "put", "patch", "delete")


def add_error_responses(spec: dict) -> dict:
    """Document, on every operation, the error statuses the service's edges can answer with."""
    for path, item in spec.get("paths", {}).items():
        for method in _METHODS:
            op = item.get(method)
            if op is None:
                continue
            codes = [400, 413, 422]
            if path not in PUBLIC:
                codes += [401, 403, 429]
            if "{" in path or method != "get":
                codes += [404, 409]
            responses = op.setdefault("responses", {})
            for code in codes:
                responses.setdefault(str(code), {
                    "description": _REASONS[code],
                    "content": {"application/json": {"schema": ERROR_SCHEMA}}})
    return spec

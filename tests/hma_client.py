"""A small HMA (OpenMediaMatch) client written from HMA's docs/api.md and its API tests, not from Floodwall.

It knows only a base URL and a bearer token, as HMA clients do (the Ruby gem, coop, policyserv):
paths and payloads are HMA's, and it raises on any status HMA would not send for the call.
"""

from __future__ import annotations

from pathlib import Path

import httpx


class HmaHttpError(Exception):
    """A reply with an unexpected status code."""

    def __init__(self, r: httpx.Response) -> None:
        super().__init__(f"{r.request.method} {r.request.url} -> {r.status_code}: {r.text[:300]}")
        self.status = r.status_code
        self.body = r.text


class HmaClient:
    """HMA's API over httpx: banks, content, hashing, lookups."""

    def __init__(self, base_url: str, token: str | None, *, client: httpx.Client | None = None) -> None:
        """``base_url`` ends where HMA's root would be (e.g. ``http://host/hma``)."""
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.base = base_url.rstrip("/")
        self.http = client or httpx.Client(timeout=60)
        self.headers = headers

    def _call(self, method: str, path: str, *, expect: int = 200, **kw) -> httpx.Response:
        r = self.http.request(method, self.base + path, headers=self.headers, **kw)
        if r.status_code != expect:
            raise HmaHttpError(r)
        return r

    def _json(self, method: str, path: str, *, expect: int = 200, **kw):
        r = self._call(method, path, expect=expect, **kw)
        if not r.headers.get("content-type", "").startswith("application/json"):
            raise AssertionError(f"{path}: HMA replies with JSON, got {r.headers.get('content-type')}")
        return r.json()

    # status
    def status(self) -> str:
        return self._call("GET", "/status").text

    def site_map(self) -> list[str]:
        return self._json("GET", "/site-map")

    # banks
    def banks(self) -> list[dict]:
        return self._json("GET", "/c/banks")

    def create_bank(self, name: str, enabled_ratio: float | None = None) -> dict:
        body: dict = {"name": name}
        if enabled_ratio is not None:
            body["enabled_ratio"] = enabled_ratio
        return self._json("POST", "/c/banks", json=body, expect=201)

    def bank(self, name: str) -> dict:
        return self._json("GET", f"/c/bank/{name}")

    def update_bank(self, bank: str, **changes) -> dict:
        return self._json("PUT", f"/c/bank/{bank}", json=changes)

    def delete_bank(self, name: str) -> dict:
        return self._json("DELETE", f"/c/bank/{name}")

    # content
    def add_photo(self, bank: str, photo: Path, **params) -> dict:
        with open(photo, "rb") as f:
            return self._json("POST", f"/c/bank/{bank}/content", params=params, files={"photo": (photo.name, f)})

    def add_hash(self, bank: str, pdq: str) -> dict:
        return self._json("POST", f"/c/bank/{bank}/signal", json={"pdq": pdq})

    def content(self, bank: str, content_id: int, include_signals: bool = False) -> dict:
        params = {"include_signals": "true"} if include_signals else {}
        return self._json("GET", f"/c/bank/{bank}/content/{content_id}", params=params)

    def remove_content(self, bank: str, content_id: int) -> dict:
        return self._json("DELETE", f"/c/bank/{bank}/content/{content_id}")

    # hashing and matching
    def hash_photo(self, photo: Path) -> dict:
        with open(photo, "rb") as f:
            return self._json("POST", "/h/hash", files={"photo": (photo.name, f)})

    def lookup_hash(self, pdq: str, **params) -> dict:
        return self._json("GET", "/m/lookup", params={"signal_type": "pdq", "signal": pdq, **params})

    def lookup_photo(self, photo: Path, **params) -> dict:
        with open(photo, "rb") as f:
            return self._json("POST", "/m/lookup", params=params, files={"photo": (photo.name, f)})

    def raw_lookup(self, pdq: str, include_distance: bool = False) -> dict:
        params = {"signal_type": "pdq", "signal": pdq}
        if include_distance:
            params["include_distance"] = "true"
        return self._json("GET", "/m/raw_lookup", params=params)

    def compare(self, a: str, b: str) -> dict:
        return self._json("POST", "/m/compare", json={"pdq": [a, b]})

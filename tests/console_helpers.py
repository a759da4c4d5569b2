"""Signing in to the console the way a browser does."""

from __future__ import annotations

import re


def sign_in(client, secret: str, page: str = "/review") -> dict[str, str]:
    """Sign in through /login (the client keeps the session cookie); returns the hidden form fields of
    ``page`` (its CSRF token) to post back with a form."""
    r = client.post("/login", data={"key": secret}, follow_redirects=False)
    assert r.status_code == 303, r.text
    html = client.get(page).text
    return dict(re.findall(r'<input type="hidden" name="([^"]+)" value="([^"]*)"', html))

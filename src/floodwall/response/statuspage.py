"""The public status page: what users see, what is being done, when it ended, in plain words.

:func:`status` builds the page's data from an incident timeline; :func:`render_status` turns it into
HTML. The routes that serve them (`GET /status`, `GET /status.json`) are in service/web.py.
"""

from __future__ import annotations

import html
from datetime import datetime, timedelta, timezone

from floodwall.response.levels import LEVELS

DEFAULT_PUBLIC = {
    0: "Everything is working normally.",
    1: "We are looking into unusual activity. Live streaming works normally.",
    2: "An automated attack is under way. You can still go live; some new rooms are not recommended until checked.",
    3: "A large automated attack is under way. Established streamers keep broadcasting; some new accounts must wait.",
}
DEFAULT_DOING = {
    0: "Nothing special: our usual checks are running.",
    1: "We are checking new rooms more often.",
    2: "New and unverified rooms start in probation while attack rooms are removed.",
    3: "Risky new accounts are held for checks and owners of compromised accounts are being contacted.",
}
TZ = timezone(timedelta(hours=8))  # the platform's local time (the scenario's); a deployment sets its own


def _clock(t: float, tz: timezone = TZ) -> str:
    return datetime.fromtimestamp(t, tz=tz).strftime("%H:%M")


def status(changes: list[dict], now: float, texts: dict[int, tuple[str, str]] | None = None) -> dict:
    """The page's data: current state in plain words and the timeline of the latest incident."""
    texts = texts or {}
    level = LEVELS.index(changes[-1]["level"]) if changes else 0
    public, doing = texts.get(level, ("", ""))
    # The latest incident: from the last rise out of normal to now (or to its return to normal).
    start = None
    for i, c in enumerate(changes):
        if c["previous"] == "normal" and c["level"] != "normal":
            start = i
    incident = changes[start:] if start is not None else []
    ended = incident[-1]["t"] if incident and incident[-1]["level"] == "normal" else None
    timeline = [
        {"t": c["t"], "time": _clock(c["t"]), "level": c["level"],
         "text": _line(c, texts), "source": c.get("source", "auto")}
        for c in incident
    ]
    return {
        "level": LEVELS[level],
        "state": "ongoing" if level > 0 else ("resolved" if ended is not None else "operational"),
        "headline": public or DEFAULT_PUBLIC[level],
        "doing": doing or DEFAULT_DOING[level],
        "started": _clock(incident[0]["t"]) if incident else None,
        "ended": _clock(ended) if ended is not None else None,
        "updated": _clock(now),
        "timeline": timeline,
    }


def _line(c: dict, texts: dict[int, tuple[str, str]]) -> str:
    lvl = LEVELS.index(c["level"])
    if lvl == 0:
        return "The attack is over. Everything is back to normal."
    rising = LEVELS.index(c["level"]) > LEVELS.index(c["previous"])
    public = texts.get(lvl, ("", ""))[0] or DEFAULT_PUBLIC[lvl]
    who = " (set by our operators)" if c.get("source") == "operator" else ""
    return f"{'Raised' if rising else 'Lowered'} to {c['level']}{who}. {public}"


def render_status(data: dict, refresh_s: int = 5) -> str:
    """The status page's HTML (it re-reads /status.json every few seconds; without JavaScript it reloads)."""
    e = html.escape
    items = "\n".join(
        f'<li data-level="{e(x["level"])}"><time>{e(x["time"])}</time> {e(x["text"])}</li>' for x in data["timeline"]
    ) or "<li>No incidents recently.</li>"
    ended = f'<p id="ended">Ended at {e(data["ended"])}.</p>' if data["ended"] and data["state"] == "resolved" else ""
    started = f'<p id="started">Started at {e(data["started"])}.</p>' if data["started"] else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Live streaming status</title>
<noscript><meta http-equiv="refresh" content="{refresh_s}"></noscript>
<style>
body {{ font-family: system-ui, sans-serif; max-width: 720px; margin: 2rem auto; color: #222; padding: 0 1rem; }}
.badge {{ display: inline-block; padding: .2rem .6rem; border-radius: .3rem; color: #fff; }}
.normal {{ background: #2e7d32; }} .elevated {{ background: #f9a825; }} .severe {{ background: #ef6c00; }}
.critical {{ background: #c62828; }} time {{ font-weight: 600; margin-right: .5rem; }}
</style></head><body>
<h1>Live streaming status</h1>
<div id="status"><p><span id="level" class="badge {e(data["level"])}">{e(data["level"])}</span>
<strong id="state">{e(data["state"])}</strong></p>
<p id="headline">{e(data["headline"])}</p>
<p><b>What we are doing:</b> <span id="doing">{e(data["doing"])}</span></p>
{started}{ended}
<h2>Timeline</h2><ol id="timeline">{items}</ol>
<p><small>Updated <span id="updated">{e(data["updated"])}</span> (local time).</small></p></div>
<script>
async function refresh() {{
  try {{
    const r = await fetch("status", {{cache: "no-store"}});
    if (!r.ok) return;
    const html = await r.text();
    const doc = new DOMParser().parseFromString(html, "text/html");
    document.getElementById("status").replaceWith(doc.getElementById("status"));
  }} catch (e) {{}}
}}
setInterval(refresh, {int(refresh_s * 1000)});
</script>
</body></html>
"""


def texts_of(responder) -> dict[int, tuple[str, str]]:
    """Per level (public, doing) texts from a responder's playbook."""
    pb = getattr(responder, "playbook", None)
    if pb is None:
        return {}
    return {n: (p.public, p.doing) for n, p in pb.levels.items()}


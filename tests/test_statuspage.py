"""The public status page: plain words from the incident timeline; in headless Chromium during a replay."""

import os
import shutil
import time

import pytest
from service_helpers import served

from floodwall.response.statuspage import render_status, status

T0 = 1_766_412_000.0  # 2025-12-22 22:00 at UTC+8
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TINY = os.path.join(os.path.dirname(__file__), "data", "scenarios", "tiny.toml")


def change(t, level, previous, source="auto"):
    return {"t": t, "level": level, "previous": previous, "why": "numbers", "evidence": {}, "source": source,
            "operator": ""}


def test_quiet_page_says_everything_works():
    data = status([], T0)
    assert data["state"] == "operational" and data["timeline"] == []
    assert "Everything is working normally." in render_status(data)


def test_ongoing_and_resolved_incident_in_plain_words():
    changes = [change(T0, "elevated", "normal"), change(T0 + 60, "severe", "elevated"),
               change(T0 + 900, "elevated", "severe"), change(T0 + 1500, "normal", "elevated")]
    texts = {2: ("Attack under way; new rooms are checked first.", "Probation for new rooms.")}
    live = status(changes[:2], T0 + 120, texts)
    assert live["state"] == "ongoing" and live["level"] == "severe" and live["started"] == "22:00"
    assert live["headline"] == "Attack under way; new rooms are checked first." and live["ended"] is None
    done = status(changes, T0 + 1600, texts)
    assert done["state"] == "resolved" and done["ended"] == "22:25"
    assert [x["text"].split(".")[0] for x in done["timeline"]] == [
        "Raised to elevated", "Raised to severe", "Lowered to elevated", "The attack is over"]
    page = render_status(done)
    assert 'id="ended">Ended at 22:25.' in page and "Raised to severe" in page
    # An earlier incident is not mixed into the latest one.
    again = status(changes + [change(T0 + 3600, "elevated", "normal", "operator")], T0 + 3700, texts)
    assert again["started"] == "23:00" and len(again["timeline"]) == 1
    assert "set by our operators" in again["timeline"][0]["text"]


def test_page_escapes_text():
    data = status([], T0, {0: ("<script>x</script>", "")})
    assert "<script>x</script>" not in render_status(data) and "&lt;script&gt;" in render_status(data)


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed")
def test_status_page_in_chromium_shows_the_incident_rising_and_ending():
    from playwright.sync_api import sync_playwright

    from floodwall.engine.policy import load_policy
    from floodwall.service.web import make_app
    from floodwall.sim.live import LiveReplay
    from floodwall.sim.scenario import load_scenario

    def read_both(page) -> tuple[str, str]:
        # One evaluation: the page may refresh between two separate reads and pair a new level with an old state.
        lvl, state = page.evaluate("[document.querySelector('#level').innerText, document.querySelector('#state').innerText]")
        return (lvl, state)

    live = LiveReplay(load_scenario(TINY), load_policy("floodwall"), seed=1, scale=0.01, speed=0)
    hub = live.start()
    live.paused.set()  # hold the replay until the page is open
    with hub.lock:
        # A 90-s hold instead of the playbook's 10 min, so the 40-minute slice also sees the incident end.
        hub.engine.responder.tracker.hold_s = 90
        start = hub.engine.clock.now()
    seen: list[tuple[str, str]] = []
    try:
        with served(make_app(hub)) as url, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            page = browser.new_page()
            page.goto(f"{url}/status")
            seen.append(read_both(page))
            live.paused.clear()
            # Warm-up at full speed; the attack (22:00) at 30 simulated seconds per second, so the page's own
            # 5-s refresh sees each level.
            while hub.engine.clock.now() < start + 8 * 60 and not live.done:
                time.sleep(0.05)
            live.speed = 30
            deadline = time.monotonic() + 75
            while time.monotonic() < deadline and not live.done:
                page.wait_for_timeout(500)
                now = read_both(page)
                if now != seen[-1]:
                    seen.append(now)
                if now[1] == "resolved":
                    break
            timeline = page.inner_text("#timeline")
            ended = page.inner_text("#ended") if page.query_selector("#ended") else ""
            browser.close()
    finally:
        live.stop()
    assert seen[0] == ("normal", "operational")
    risen = [lvl for lvl, state in seen if state == "ongoing"]
    assert risen and set(risen) <= {"elevated", "severe", "critical"}
    assert seen[-1] == ("normal", "resolved"), seen
    assert ended.startswith("Ended at 22:")
    assert "Raised to elevated" in timeline and "The attack is over" in timeline
    with hub.lock:
        levels = [c["level"] for c in hub.engine.responder.timeline()]
    assert levels[0] == "elevated" and levels[-1] == "normal"
    # The replay's report carries the same timeline and the notification figures.
    report = live.report
    assert report is not None and [c["level"] for c in report["incident_levels"]] == levels
    assert all(c["why"] for c in report["incident_levels"])
    assert set(report["notify_delay_seconds"]) >= {"median", "p99"}
    assert report["notify_outbox"]["sent"] == report["notify_delay_seconds"]["count"]

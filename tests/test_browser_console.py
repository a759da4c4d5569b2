"""The reviewer console in real headless Chromium, against a replay in progress.

A person opens the queue, moves to a cluster case with the keyboard, takes it down with `v`, sees every
room of the cluster go down, undoes the decision from the history with `u`, and sees the rooms restored.
"""

import os
import shutil
import time

import pytest
from service_helpers import served

from floodwall.engine.policy import load_policy
from floodwall.events import ReportFiled
from floodwall.service.web import make_app
from floodwall.sim.live import LiveReplay
from floodwall.sim.scenario import load_scenario

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
        "--disable-sync", "--no-first-run"]
TINY = os.path.join(os.path.dirname(__file__), "data", "scenarios", "tiny.toml")

pytestmark = pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed "
                                "(scripts/services.sh installs it)")


@pytest.fixture(scope="module")
def live_console():
    live = LiveReplay(load_scenario(TINY), load_policy("floodwall"), seed=1, scale=0.05, speed=0, reviewer_count=0)
    hub = live.start()
    # Wait for the honest co-broadcast to form a content cluster, then have three viewers report one of its
    # rooms: the engine opens one case for the whole cluster, which nobody but the test will decide.
    case = None
    deadline = time.monotonic() + 150
    while case is None and time.monotonic() < deadline and not live.done:
        time.sleep(0.2)
        with hub.lock:
            engine = hub.engine
            if not live.paused.is_set():
                for root, members in engine.clusters.members.items():
                    rooms = [s for s in members if s in engine.streams and engine.streams[s].live]
                    if len(rooms) >= 3:
                        live.paused.set()  # time stands still; people's decisions still go through
                        now = engine.clock.now()
                        hub.submit([ReportFiled(id=f"test-report-{i}", ts=now, stream=rooms[0], reporter=f"viewer-{i}",
                                                reason="other") for i in range(3)])
                        break
            for item in engine.review.open_items():
                if item.kind == "cluster" and item.status == "open":
                    case = item.id
    assert case is not None, "the replay opened no cluster case"
    with served(make_app(hub)) as url:
        yield url, hub, case
    live.stop()


def _statuses(page) -> list[str]:
    return page.locator("#rooms-body td:last-child").all_inner_texts()


def test_decide_a_cluster_case_by_keyboard_then_undo(live_console):
    from playwright.sync_api import sync_playwright

    url, hub, case = live_console
    with hub.lock:
        rooms = sorted(s for s in hub.engine.review.items[case].streams)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        page = browser.new_page()
        page.goto(f"{url}/review")
        page.wait_for_selector(f"tr[data-id='{case}']")
        ids = page.locator("tr[data-id]").evaluate_all("rs => rs.map(r => r.dataset.id)")
        for _ in range(ids.index(case)):
            page.keyboard.press("j")
        assert page.locator("tr.sel").get_attribute("data-id") == case
        page.keyboard.press("Enter")
        page.wait_for_url(f"**/review/case/{case}")
        assert set(_statuses(page)) >= {"live"}
        page.keyboard.press("v")
        page.wait_for_function("document.getElementById('case-status').dataset.status === 'decided'", timeout=15000)
        page.wait_for_function("Array.from(document.querySelectorAll('#rooms-body td:last-child'))"
                               ".every(td => td.textContent !== 'live')", timeout=15000)
        assert "down" in _statuses(page)
        assert "live" not in _statuses(page)
        with hub.lock:
            engine = hub.engine
            assert all(engine.streams[s].taken_down for s in rooms if engine.streams[s].ended is None)
            down = {o for o in rooms if engine.streams[o].taken_down}
            assert len(down) >= 2

        page.goto(f"{url}/review/history")
        assert page.locator("tr.sel").get_attribute("data-id") == case
        page.keyboard.press("u")
        page.wait_for_url(f"**/review/case/{case}")
        page.wait_for_function("document.getElementById('case-status').dataset.status === 'open'", timeout=15000)
        page.wait_for_function("Array.from(document.querySelectorAll('#rooms-body td:last-child'))"
                               ".some(td => td.textContent === 'restored')", timeout=15000)
        statuses = _statuses(page)
        assert statuses.count("restored") == len(down) and "down" not in statuses
        if os.environ.get("FLOODWALL_SCREENSHOTS"):
            page.screenshot(path=os.path.join(os.environ["FLOODWALL_SCREENSHOTS"], "console-case.png"), full_page=True)
        browser.close()
    with hub.lock:
        assert all(not hub.engine.streams[s].taken_down for s in down)
        assert hub.engine.review.history[-1].undone_by

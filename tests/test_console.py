"""The reviewer console's pages and views, over an engine fed by hand (no browser)."""

from fastapi.testclient import TestClient
from test_engine import Harness
from test_review import _cluster_case

from floodwall.service.console import case_view, history_view, queue_view
from floodwall.service.hub import Hub
from floodwall.service.web import make_app


def _console():
    h = Harness()
    rooms, case = _cluster_case(h)
    hub = Hub(h.engine, name="test")
    return h, hub, TestClient(make_app(hub)), rooms, case


def test_queue_lists_the_cluster_case_with_its_rooms():
    h, hub, client, rooms, case = _console()
    q = queue_view(h.engine)
    assert [c["id"] for c in q["cases"]] == [case.id]
    assert q["cases"][0]["rooms"] == len(rooms) and q["cases"][0]["rooms_live"] == len(rooms)
    page = client.get("/review")
    assert page.status_code == 200 and case.id in page.text
    assert client.get("/review/api/queue").json()["cases"][0]["id"] == case.id


def test_case_page_shows_evidence_frames_and_rooms():
    h, hub, client, rooms, case = _console()
    page = client.get(f"/review/case/{case.id}")
    assert page.status_code == 200
    assert "review-reports" in page.text
    for a in rooms:
        assert f"s-{a}" in page.text
    png = client.get(f"/review/frame/s-{rooms[0]}.png")
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/review/frame/nope.png").status_code == 404
    assert client.get("/review/case/rv-999").status_code == 404


def test_decide_and_undo_through_the_console_act_on_every_room():
    h, hub, client, rooms, case = _console()
    r = client.post(f"/review/case/{case.id}/decide", data={"violating": "1", "reviewer": "ana", "note": "clip"},
                    follow_redirects=False)
    assert r.status_code == 303
    assert h.actions("takedown") == set()  # the decision waits for the loop's next batch
    hub.handle([])
    assert h.actions("takedown") == {f"s-{a}" for a in rooms}
    view = case_view(h.engine, case.id)
    assert view["status"] == "decided" and {x["status"] for x in view["room_list"]} == {"down"}
    assert client.post(f"/review/case/{case.id}/decide", data={"violating": "0", "reviewer": "ana"}).status_code == 409
    hist = history_view(h.engine)
    assert hist[0]["reviewer"] == "ana" and hist[0]["undoable"]
    assert client.post(f"/review/case/{case.id}/undo", data={"reviewer": "ben"}, follow_redirects=False).status_code == 303
    hub.handle([])
    assert h.actions("restore") == {f"s-{a}" for a in rooms}
    view = case_view(h.engine, case.id)
    assert view["status"] == "open" and {x["status"] for x in view["room_list"]} == {"restored"}
    assert "undone by ben" in client.get("/review/history").text
    assert client.post(f"/review/case/{case.id}/undo", data={"reviewer": "ben"}).status_code == 409


def test_bad_decisions_are_refused_with_a_reason():
    h, hub, client, rooms, case = _console()
    r = client.post(f"/review/case/{case.id}/decide", data={"violating": "maybe", "reviewer": "ana"})
    assert r.status_code == 422 and "violating" in r.text
    r = client.post(f"/review/case/{case.id}/decide", data={"violating": "1", "reviewer": "  "})
    assert r.status_code == 422 and "reviewer" in r.text
    assert client.post("/review/case/rv-999/decide", data={"violating": "1", "reviewer": "a"}).status_code == 404
    hub.handle([])
    assert h.actions("takedown") == set()

"""Signals for attacker tactics beyond the shipped script, each on a hand-made event sequence.

Stolen sessions (no login event), dormant or renamed channels, one API principal fanning out
over many accounts, a compromised key's privileged scope, and go-lives that skipped the gate.
"""

from floodwall.engine.signals import ACCOUNT_SIGNALS, FANOUT_ACCOUNTS, SIGNAL_SCHEMA, STREAM_SIGNALS
from floodwall.events import ApiCall, Login, ProfileChanged, StreamStarted
from floodwall.sim.render import CLIP
from test_engine import Harness

DAY = 86_400.0


def _aged(h: Harness, aid: str, *, last_login_days: float = 1.0) -> None:
    """An aged account with avatar and title, last logged in ``last_login_days`` ago from its own device."""
    h.send(*h.account(aid, fresh=False))
    h.send(Login(id=h.eid(), ts=h.clock.now() - last_login_days * DAY, account=aid, device=f"d-{aid}", ip="1.2.3.4"))


def _golive(h: Harness, aid: str, *, device: str | None = None, ip: str = "1.2.3.4", sid: str | None = None):
    return StreamStarted(id=h.eid(), ts=h.clock.now(), stream=sid or f"s-{aid}", account=aid,
                         device=device or f"d-{aid}", ip=ip)


def test_new_signals_are_in_the_schema():
    for name in ("principal_fanout", "golive_new_place_s", "dormant_days", "renamed_s"):
        assert name in ACCOUNT_SIGNALS and name in SIGNAL_SCHEMA["account"]
    assert SIGNAL_SCHEMA["stream"]["gate_skipped"] == "bool" and "gate_skipped" in STREAM_SIGNALS


def test_owner_going_live_as_usual_has_no_hijack_sign():
    h = Harness()
    _aged(h, "owner")
    h.send(_golive(h, "owner"))
    sig = h.engine.account_signals(h.engine.accounts["owner"])
    assert sig["hijack_signs"] == 0 and sig["trusted"] is True
    assert sig["golive_new_place_s"] >= 1e11 and sig["dormant_days"] < 2


def test_stolen_session_go_live_from_new_device_and_network_without_login_is_a_hijack_sign():
    h = Harness()
    _aged(h, "victim")
    # No Login event: the attacker replays the owner's session token from its own machine.
    h.send(_golive(h, "victim", device="vm-77", ip="203.0.113.9"))
    sig = h.engine.account_signals(h.engine.accounts["victim"])
    assert sig["golive_new_place_s"] < 60
    assert sig["hijack_signs"] == 1
    assert sig["trusted"] is False


def test_login_from_new_place_then_go_live_counts_as_the_login_sign_not_a_stolen_session():
    h = Harness()
    _aged(h, "moved")
    h.send(Login(id=h.eid(), ts=h.clock.now(), account="moved", device="d-new", ip="9.9.9.9"))
    h.send(_golive(h, "moved", device="d-new", ip="9.9.9.9"))
    sig = h.engine.account_signals(h.engine.accounts["moved"])
    assert sig["golive_new_place_s"] >= 1e11
    assert sig["hijack_signs"] == 2  # new device login + go-live after it, as before


def test_go_live_after_long_dormancy_on_the_owners_own_device_is_a_hijack_sign():
    h = Harness()
    _aged(h, "sleepy", last_login_days=90)
    h.send(_golive(h, "sleepy"))  # owner's own device and network, no login: a session stolen from it
    sig = h.engine.account_signals(h.engine.accounts["sleepy"])
    assert sig["dormant_days"] >= 89
    assert sig["hijack_signs"] == 1
    # The sign fades a day after that go-live.
    assert h.engine.account_signals(h.engine.accounts["sleepy"], h.clock.now() + 2 * DAY)["hijack_signs"] == 0


def test_renaming_an_aged_channel_right_before_going_live_is_a_hijack_sign():
    h = Harness()
    _aged(h, "chan")
    h.send(ProfileChanged(id=h.eid(), ts=h.clock.now(), account="chan", title="OFFICIAL giveaway LIVE"))
    h.send(_golive(h, "chan"), dt=600)
    sig = h.engine.account_signals(h.engine.accounts["chan"])
    assert sig["renamed_s"] < 700
    assert sig["hijack_signs"] == 1


def test_first_title_of_a_new_account_is_not_a_rename():
    h = Harness()
    h.send(*h.account("newbie", fresh=True))
    h.send(_golive(h, "newbie"))
    sig = h.engine.account_signals(h.engine.accounts["newbie"])
    assert sig["renamed_s"] >= 1e11 and sig["hijack_signs"] == 0


def test_one_principal_starting_streams_for_many_accounts_raises_fanout_and_risk():
    h = Harness()
    ids = [f"a{i}" for i in range(FANOUT_ACCOUNTS + 2)]
    for aid in ids:
        _aged(h, aid)
    calls = [ApiCall(id=h.eid(), ts=h.clock.now(), principal="svc-live-ops", endpoint="/internal/live/start",
                     scope="live:start", account=aid) for aid in ids]
    h.send(*calls)
    sig = h.engine.account_signals(h.engine.accounts["a0"])
    assert sig["principal_fanout"] == len(ids)
    assert h.engine.flagged_principals == {"svc-live-ops"}
    base = h.engine.account_signals(h.engine.accounts["a0"], h.clock.now() + 3600)
    assert base["principal_fanout"] == 0  # out of the window
    assert sig["risk"] - base["risk"] == 1.0
    # An account acting for itself is no fan-out.
    _aged(h, "solo")
    h.send(ApiCall(id=h.eid(), ts=h.clock.now(), principal="solo", endpoint="/api/profile", scope="user",
                   account="solo"))
    assert h.engine.account_signals(h.engine.accounts["solo"])["principal_fanout"] == 0


def test_a_keys_first_privileged_scope_flags_every_account_it_acts_on_that_day():
    h = Harness()
    for aid in ("x1", "x2", "x3"):
        _aged(h, aid)
    # The key has a history of ordinary calls, then starts using a whitelist scope for many accounts.
    h.send(ApiCall(id=h.eid(), ts=h.clock.now(), principal="svc-key", endpoint="/api/stats", scope="read"))
    h.send(*[ApiCall(id=h.eid(), ts=h.clock.now(), principal="svc-key", endpoint="/internal/live/start_unverified",
                     scope="whitelist:skip_verify", account=aid) for aid in ("x1", "x2")])
    h.send(ApiCall(id=h.eid(), ts=h.clock.now(), principal="svc-key", endpoint="/internal/live/start_unverified",
                   scope="whitelist:skip_verify", account="x3"), dt=1800)
    for aid in ("x1", "x2", "x3"):
        assert h.engine.account_signals(h.engine.accounts[aid])["restricted_api_new"] is True
    assert "svc-key" in h.engine.flagged_principals


def test_an_integrations_nightly_whitelist_call_is_not_flagged():
    h = Harness()
    _aged(h, "m1")
    # Its very first call used the scope (three days ago); tonight's is routine.
    h.send(ApiCall(id=h.eid(), ts=h.clock.now() - 3 * DAY, principal="partner-1", endpoint="/whitelist/live/start",
                   scope="whitelist:skip_verify", account="m1"))
    h.send(ApiCall(id=h.eid(), ts=h.clock.now(), principal="partner-1", endpoint="/whitelist/live/start",
                   scope="whitelist:skip_verify", account="m1"))
    assert h.engine.account_signals(h.engine.accounts["m1"])["restricted_api_new"] is False
    assert h.engine.flagged_principals == set()


def test_a_room_known_only_from_its_frames_skipped_the_gate_and_is_judged():
    h = Harness()
    _aged(h, "ghost")
    h.send(h.frame("s-ghost", "ghost", h.render(CLIP, 5, 3.0)))
    st = h.engine.streams["s-ghost"]
    assert st.gate_skipped and st.live
    assert h.engine.stream_signals(st)["gate_skipped"] is True
    assert "s-ghost" in h.engine.accounts["ghost"].live
    # A room that came through the gate did not skip it.
    h.send(_golive(h, "ghost", sid="s-gated"))
    h.send(h.frame("s-gated", "ghost", h.render(CLIP, 5, 4.0)))
    assert h.engine.stream_signals(h.engine.streams["s-gated"])["gate_skipped"] is False

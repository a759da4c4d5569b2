"""The scenario library: every family loads and replays, zero counts work, ids are opaque, tactics show in events."""

from __future__ import annotations

import datetime as dt
import json
import re
from collections import defaultdict
from pathlib import Path

import msgspec
import pytest

from floodwall import shipped
from floodwall.engine.policy import PolicyError, load_policy, parse_policy
from floodwall.events import AccountRegistered, ApiCall, Login, StreamStarted
from floodwall.sim.evalsets import load_sets
from floodwall.sim.platform import SimPlatform
from floodwall.sim.replay import record_events, run_policy
from floodwall.sim.scenario import ScenarioError, load_scenario, parse_scenario

FAMILIES = sorted(p.stem for p in (shipped.PACKAGE / "scenarios").glob("*.toml"))
OPAQUE = re.compile(r"^[asdk]-[a-z2-7]{8}$")
# the old, role-naming forms: accounts hN/xN/frN/hcJ-R/uN, streams s-hN/s-xN, devices dv-..., keys partner-N
OLD_FORMS = re.compile(r"(h|x|fr|u)\d+|hc\d+-\d+|s-(h|x|hc)[\d-]+(-[ur])?|dv-.*|partner-\d+|insider-\d+")


def window(name: str, before: float = 2, after: float = 8):
    """A family cut down to a few minutes around its attack's start (tests stay quick)."""
    sc = load_scenario(name)
    a0 = sc.attack.start
    return msgspec.structs.replace(sc, start=a0 - dt.timedelta(minutes=before), end=a0 + dt.timedelta(minutes=after))


def test_the_library_has_at_least_eight_families_with_a_note_each():
    assert len(FAMILIES) >= 8
    for name in FAMILIES:
        text = (shipped.PACKAGE / "scenarios" / f"{name}.toml").read_text()
        assert text.startswith("#"), f"{name}: needs a note on the real attack it models"
        assert load_scenario(name).name == name


@pytest.mark.parametrize("name", FAMILIES)
def test_every_family_replays_at_tiny_scale(name):
    sc = window(name)
    res = run_policy(sc, load_policy("floodwall"), seed=2, scale=0.005, progress=False)
    assert res["legit_streams"] > 0
    for key in ("co_broadcast_rooms_interrupted", "principals_flagged", "attack_principals_flagged"):
        assert key in res
    if sc.attack.accounts and sc.attack.slots:
        assert res["attack_streams"] > 0
    else:
        assert res["attack_streams"] == 0


def test_zero_is_allowed_for_every_count():
    text = """
name = "empty"
start = 2025-12-22T21:50:00+08:00
end = 2025-12-22T22:00:00+08:00
[platform]
honest_streams = 0
campus_blocks = 0
agencies = 0
agency_accounts = 0
carrier_nat_blocks = 0
partner_api_share = 0
travellers_share = 0
chat_per_minute = 0
honest_reports_per_hour = 0
co_broadcasts = [{ start = 2025-12-22T21:52:00+08:00, minutes = 5, rooms = 0 }]
[attack]
accounts = 0
slots = 0
proxy_blocks = 0
phone_blocks = 0
clips = 0
false_report_targets = 0
false_reporters = 0
false_reports_each = 0
[reviewers]
count = 0
"""
    sc = parse_scenario(text)
    res = run_policy(sc, load_policy("manual"), seed=1, scale=1.0, progress=False)
    assert res["attack_streams"] == res["legit_streams"] == res["reports_sent"] == 0
    # an attack with no clips streams nothing; honest rooms with no reports still play
    sc = parse_scenario(text.replace("honest_streams = 0", "honest_streams = 5").replace("accounts = 0", "accounts = 5")
                        .replace("slots = 0", "slots = 2"))
    p = SimPlatform(sc, seed=1, scale=1.0)
    assert len(p.truth.legit_streams) == 5 and len(p.pool) == 5 and not p.false_report_targets


def test_bad_values_name_the_field():
    base = Path(shipped.PACKAGE / "scenarios" / "session-theft.toml").read_text()
    with pytest.raises(ScenarioError, match=r"attack.slots must not be negative"):
        parse_scenario(base.replace("[attack]\n", "[attack]\nslots = -1\n"), "x.toml")
    with pytest.raises(ScenarioError, match="must add up to 1"):
        parse_scenario(base.replace("session_theft_share = 0.7", "session_theft_share = 0.6"), "x.toml")
    with pytest.raises(ScenarioError, match="attack.network"):
        parse_scenario(base.replace("residential = 0.5", "residential = 0.4"), "x.toml")
    with pytest.raises(ScenarioError, match="unknown field `colour`"):
        parse_scenario(base.replace("[attack.network]", "[attack.network]\ncolour = 1"), "x.toml")
    with pytest.raises(ScenarioError, match=r"reports\[0\].target"):
        parse_scenario(base + '\n[[reports]]\nstart = 2025-12-22T22:00:00+08:00\ntarget = "everyone"\n', "x.toml")


def _record(tmp_path: Path, name: str, **kw) -> tuple[list[dict], set[str]]:
    events, labels = tmp_path / "e.jsonl", tmp_path / "e.labels.txt"
    record_events(window(name, **kw), "floodwall", seed=3, scale=0.005, path=events, progress=False, labels=labels)
    return [json.loads(line) for line in events.open()], set(labels.read_text().split())


def test_recorded_ids_are_opaque_and_say_nothing_about_role(tmp_path):
    rows, attack_streams = _record(tmp_path, "kuaishou-2025-12-22", before=20, after=10)
    ids: dict[str, set[str]] = defaultdict(set)
    for r in rows:
        for key in ("account", "stream", "device", "principal", "reporter"):
            if r.get(key):
                ids[key].add(r[key])
    assert ids["account"] and ids["stream"] and ids["device"] and ids["reporter"] and attack_streams
    for key, values in ids.items():
        for v in values:
            assert OPAQUE.match(v), f"{key} id {v!r} is not opaque"
            assert not OLD_FORMS.fullmatch(v), f"{key} id {v!r} names a role"
    # attack and honest rooms share one id shape: the same prefix, length and alphabet, spread alike
    honest = ids["stream"] - attack_streams
    assert honest and attack_streams & ids["stream"]
    for group in (honest, attack_streams & ids["stream"]):
        assert {v[:2] for v in group} == {"s-"} and {len(v) for v in group} == {10}
    first = lambda group: {v[2] for v in group}  # noqa: E731
    assert len(first(honest) & first(attack_streams)) >= min(len(first(attack_streams)), 8) // 2
    # no truth in the log itself: no line says attack, hijack or honest
    text = (tmp_path / "e.jsonl").read_text()
    assert not re.search(r'"(attack|hijacked|honest|truth)"', text)
    # titles come from one pool for every role
    titles = defaultdict(set)
    for r in rows:
        if r["type"] == "stream_started" and r.get("title"):
            titles[r["stream"] in attack_streams].add(re.sub(r"\d+$", "", r["title"]))
    assert titles[True] and titles[True] <= set(titles[False]) | titles[True]
    assert titles[True] & titles[False]


def test_session_theft_goes_live_without_a_login_from_the_owners_own_device():
    sc = window("session-theft")
    rep = msgspec.structs.replace
    sc = rep(sc, attack=rep(sc.attack, registered_share=0.0, sourcing=rep(sc.attack.sourcing, session_theft_share=1.0)))
    p = SimPlatform(sc, seed=1, scale=0.01)
    events = list(p.initial_events())
    t = p.t0
    while t < p.t_end:
        events += p.tick(t, 1.0)
        t += 1.0
    session = {a.id for a in p.accounts.values() if a.session}
    assert session
    live = [e for e in events if type(e) is StreamStarted and e.account in session]
    assert live
    logins_tonight = {e.account for e in events if type(e) is Login and e.ts >= p.t0}
    assert not logins_tonight & {e.account for e in live}
    registered_device = {e.account: e.device for e in p.initial_events() if type(e) is AccountRegistered}
    assert all(registered_device[e.account] == e.device for e in live)


def test_insider_key_fans_out_over_many_accounts_and_skips_the_gate():
    p = SimPlatform(window("insider-key", after=15), seed=1, scale=0.01)
    events = list(p.initial_events())
    t = p.t0
    while t < p.t_end:
        events += p.tick(t, 1.0)
        t += 1.0
    calls = [e for e in events if type(e) is ApiCall and e.principal in p.insider_keys and e.ts >= p.t0]
    per_key = defaultdict(set)
    for c in calls:
        per_key[c.principal].add(c.account)
    assert max(len(v) for v in per_key.values()) >= 5
    history = [e for e in events if type(e) is ApiCall and e.principal in p.insider_keys and e.ts < p.t0]
    assert history  # a real service's key: it had ordinary calls before tonight
    skipped = [s for s in p.truth.attack_streams.values() if s.skip_gate and s.went_live]
    assert skipped
    from floodwall.events import ActionOrder

    st = skipped[0]
    if st.ended is None:
        p.apply([ActionOrder(key="k1", ts=p.t_end, action="limit", subject="stream", target=st.id, verdict="v", reason="r")])
        assert st.limited_at is None  # the privileged path ignores the gate's limit


def test_bought_aged_accounts_share_carrier_nat_with_honest_users():
    p = SimPlatform(window("bought-aged-nat"), seed=1, scale=0.01)
    nat = {ip.rsplit(".", 1)[0] for ip in (a.ip for a in p.accounts.values() if not a.attack)}
    bad = [a for a in p.accounts.values() if a.attack and a.id in {acc.id for acc in p.pool}]
    assert bad
    shared = sum(1 for a in bad if a.ip.rsplit(".", 1)[0] in nat)
    assert shared >= len(bad) // 2
    assert all(a.registered < p.t0 - 19 * 86_400 for a in bad)
    assert not any(a.ip.startswith("45.") for a in bad if a.ip.rsplit(".", 1)[0] in nat)


def test_clip_schedule_brings_new_clips_and_per_room_transforms():
    sc = window("clip-schedule", after=40)
    p = SimPlatform(sc, seed=1, scale=0.01)
    t = p.t0
    while t < p.t_end:
        p.tick(t, 1.0)
        t += 1.0
    rooms = [s for s in p.truth.attack_streams.values() if s.went_live]
    assert {s.seed for s in rooms} - set(range(sc.attack.clips))  # clips introduced during the attack
    assert len({s.speed for s in rooms}) > 1 and any(s.look.pad > 0 for s in rooms) and any(s.look.rotate for s in rooms)


def test_manual_shutdown_fires_relative_to_the_incident(tmp_path):
    policy = tmp_path / "m.toml"
    policy.write_text((shipped.PACKAGE / "policies" / "manual.toml").read_text()
                      .replace("after_minutes = 110", "after_minutes = 3"))
    gaps = []
    for shift in (0, 3):  # the same attack three hours later: the shutdown moves with it
        sc = load_scenario("tests/data/scenarios/tiny.toml")
        h = dt.timedelta(hours=shift)
        sc = msgspec.structs.replace(sc, start=sc.start + h, end=sc.end + h,
                                     attack=msgspec.structs.replace(sc.attack, start=sc.attack.start + h))
        kept: dict = {}
        run_policy(sc, load_policy(str(policy)), seed=1, scale=0.01, progress=False, keep=kept)
        severe = next(c.t for c in kept["engine"].responder.tracker.changes if c.level >= 2)
        assert kept["platform"].paused_from is not None
        gaps.append(kept["platform"].paused_from - severe)
    assert all(180 <= g <= 182 for g in gaps), gaps
    with pytest.raises(PolicyError, match="`after` must be one of"):
        parse_policy('name = "m"\n[[scheduled]]\naction = "pause_all"\nafter = "panic"\n')
    with pytest.raises(PolicyError, match="exactly one of `at`"):
        parse_policy('name = "m"\n[[scheduled]]\naction = "pause_all"\nafter = "severe"\nat = 2025-12-23T00:05:00+08:00\n')


def test_eval_sets_split_families_and_seeds():
    sets = load_sets()
    assert set(sets.test.families) == set(FAMILIES) and sets.tune.families
    assert not set(sets.tune.seeds) & set(sets.test.seeds)
    assert set(sets.held_out) == set(FAMILIES) - set(sets.tune.families)


def test_eval_prints_the_matrix_and_writes_json_and_html(tmp_path, capsys):
    from floodwall.cli import main

    out, page = tmp_path / "m.json", tmp_path / "m.html"
    tiny = "tests/data/scenarios/tiny.toml"
    assert main(["eval", "--families", tiny, "--seeds", "1", "--scale", "0.005", "--quiet",
                 "--json", str(out), "--html", str(page)]) == 0
    printed = capsys.readouterr().out
    assert "ttd p99 s" in printed and "principals flagged" in printed and tiny in printed
    result = json.loads(out.read_text())
    (c,) = result["cells"]
    assert c["family"] == tiny and c["seed"] == 1 and c["attack_streams"] > 0
    assert set(c["pass"]) >= {"exposure_ratio", "ttd_median", "ttd_p99", "never_removed", "honest_interrupted"}
    assert c["all_pass"] == all(v for v in c["pass"].values() if v is not None)
    assert "<table>" in page.read_text() and tiny in page.read_text()
    assert main(["eval", "--families", "no-such-family", "--seeds", "1"]) == 2
    assert "no-such-family" in capsys.readouterr().err


def test_honest_surges_and_a_storm_on_the_most_watched_merchants():
    p = SimPlatform(load_scenario("honest-surge-storm"), seed=1, scale=0.02)
    assert not p.truth.attack_streams and not p.pool
    surge = [s for s in p.truth.legit_streams.values() if s.group == "surge"]
    office = [s for s in surge if s.start < p.sc.platform.surges[1].start.timestamp()]
    assert len(office) == 6 and len({s.ip.rsplit(".", 1)[0] for s in office}) == 1
    assert len({s.device for s in office}) <= 20
    midnight = [s for s in surge if s not in office]
    assert max(s.start for s in midnight) - min(s.start for s in midnight) <= 60
    relays = [s for s in p.truth.legit_streams.values() if s.group == "co_broadcast"]
    assert any(s.account.registered > p.t0 for s in relays)  # fresh accounts relay too
    from floodwall.sim.render import MERCHANT

    rs = p.sc.reports[0]
    t0, t1 = rs.start.timestamp(), rs.start.timestamp() + rs.minutes * 60
    live = [s for s in p.truth.legit_streams.values() if s.kind == MERCHANT and s.start < t1 and s.planned_end > t0]
    top = sorted(live, key=lambda s: -s.peak)[:len(p.false_report_targets)]
    assert p.false_report_targets == {s.id for s in top}
    assert all(reason == "illegal_content" for _, reason in p.storm_reports)

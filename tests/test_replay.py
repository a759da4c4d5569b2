"""Replays are deterministic, score what happened, and back-test recorded events."""

import copy
import json
from pathlib import Path

import pytest

from floodwall.cli import main
from floodwall.sim.replay import backtest, record_events, run_replay
from floodwall.sim.scenario import ScenarioError, load_scenario, parse_scenario

TINY = str(Path(__file__).parent / "data" / "scenarios" / "tiny.toml")


def strip_wall(report: dict) -> dict:
    report = copy.deepcopy(report)
    for res in report["policies"].values():
        res.pop("wall_seconds")
    return report


@pytest.fixture(scope="module")
def tiny_report():
    return run_replay(load_scenario(TINY), ["manual", "floodwall"], seed=2, scale=0.01, progress=False)


def test_same_seed_same_json(tiny_report):
    again = run_replay(load_scenario(TINY), ["manual", "floodwall"], seed=2, scale=0.01, progress=False)
    assert json.dumps(strip_wall(again), sort_keys=True) == json.dumps(strip_wall(tiny_report), sort_keys=True)


def test_other_seed_other_plan():
    a = run_replay(load_scenario(TINY), ["manual"], seed=2, scale=0.01, progress=False)
    b = run_replay(load_scenario(TINY), ["manual"], seed=5, scale=0.01, progress=False)
    assert a["policies"]["manual"]["events"] != b["policies"]["manual"]["events"]


def test_report_has_the_promised_keys(tiny_report):
    keys = {
        "exposure_viewer_minutes", "ttd_seconds", "attack_streams", "attack_streams_never_removed", "legit_streams",
        "legit_streams_wrongly_interrupted", "legit_streamer_minutes_lost", "review_items", "review_queue_max",
        "reports_received", "reports_dropped", "events", "frames", "wall_seconds",
    }
    assert set(tiny_report) >= {"scenario", "seed", "scale", "policies"}
    for res in tiny_report["policies"].values():
        assert keys <= set(res)
        assert set(res["ttd_seconds"]) >= {"median", "p90", "p99", "max"}


def test_manual_baseline_does_not_hash_and_floodwall_hashes_every_frame(tiny_report):
    manual, fw = tiny_report["policies"]["manual"], tiny_report["policies"]["floodwall"]
    assert manual["frames_hashed"] == 0
    assert fw["frames_hashed"] == fw["frames"] > 0
    assert manual["attack_streams"] > 0 and fw["attack_streams"] > 0
    assert manual["reports_dropped"] == 0 and fw["reports_dropped"] == 0


def test_floodwall_beats_manual_on_the_same_plan(tiny_report):
    manual, fw = tiny_report["policies"]["manual"], tiny_report["policies"]["floodwall"]
    assert fw["exposure_viewer_minutes"] * 100 <= manual["exposure_viewer_minutes"]
    assert fw["attack_streams_never_removed"] == 0
    assert fw["ttd_seconds"]["median"] <= 5


def test_bad_scenario_names_the_key():
    text = Path(TINY).read_text().replace("ramp_minutes = 5", "ramp_minutes = 'soon'")
    with pytest.raises(ScenarioError, match=r"attack.ramp_minutes"):
        parse_scenario(text, "bad.toml")
    with pytest.raises(ScenarioError, match="unknown field `colour`"):
        parse_scenario(Path(TINY).read_text() + "\ncolour = 1\n", "bad.toml")


def test_backtest_of_recorded_events_with_labels(tmp_path):
    events = tmp_path / "events.jsonl"
    labels = tmp_path / "labels.txt"
    n = record_events(load_scenario(TINY), "manual", seed=4, scale=0.005, path=events, progress=False, labels=labels)
    assert n > 1000
    with events.open("a") as fh:
        fh.write('{"type": "login", "id": "broken", "ts": "yesterday"}\n')
    started = {json.loads(line)["stream"] for line in events.open() if '"stream_started"' in line}
    ids = sorted(set(labels.read_text().split()) & started)
    # Recorded events carry no classifier scores: this policy uses what events alone show.
    policy = tmp_path / "clusters.toml"
    policy.write_text(
        'name = "clusters"\n[engine]\nclassifier = false\n'
        '[[rules]]\nname = "risky-cluster"\n'
        'when = "stream.cluster_rooms >= 3 && stream.cluster_risky_share >= 0.5 && account.risk >= 3.0"\n'
        'action = "takedown"\nconfirm = true\n'
    )
    report = backtest(events, [str(policy)], labels_path=labels, progress=False)
    res = report["policies"]["clusters"]
    assert res["dead_letters"] == 1
    assert res["dead_letter_examples"][0]["field"] == "ts"
    assert res["labelled_attack_streams"] == len(ids) > 0
    assert res["takedown_recall"] is not None and res["takedown_recall"] > 0.5
    assert res["takedown_precision"] is not None and res["takedown_precision"] > 0.9


def test_cli_replay_writes_json_and_html(tmp_path, capsys):
    out, page = tmp_path / "r.json", tmp_path / "r.html"
    rc = main(["replay", TINY, "--policy", "manual", "--scale", "0.005", "--seed", "1", "--quiet",
               "--json", str(out), "--html", str(page)])
    assert rc == 0
    report = json.loads(out.read_text())
    assert report["scenario"] == "tiny" and list(report["policies"]) == ["manual"]
    assert "<svg" in page.read_text()
    assert "exposure (viewer-minutes)" in capsys.readouterr().out


def test_cli_reports_a_bad_policy_clearly(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text('name = "bad"\n[[rules]]\nname = "x"\nwhen = "stream.nothing"\naction = "takedown"\n')
    rc = main(["replay", TINY, "--policy", str(bad), "--quiet"])
    assert rc == 2
    assert "rule 'x': unknown signal stream.nothing" in capsys.readouterr().err


def test_frames_drawn_ahead_in_a_second_process_change_nothing(tiny_report):
    """The replay with the next ticks' frames drawn in another process gives the same figures as drawing them
    in place (tiny_report runs with the default, drawing ahead on this machine of 2 cores or more)."""
    from floodwall.engine.policy import load_policy
    from floodwall.sim.replay import run_policy

    sc, pol = load_scenario(TINY), load_policy("floodwall")
    kept_on, kept_off = {}, {}
    on = run_policy(sc, pol, seed=2, scale=0.01, progress=False, draw_ahead=True, keep=kept_on)
    off = run_policy(sc, pol, seed=2, scale=0.01, progress=False, draw_ahead=False, keep=kept_off)
    on.pop("wall_seconds"), off.pop("wall_seconds")
    assert json.dumps(on, sort_keys=True) == json.dumps(off, sort_keys=True)
    assert kept_on["platform"].frames_sent == kept_off["platform"].frames_sent > 0
    assert kept_on["platform"].ahead is None  # the second process is gone once the replay ends

"""Policies load, validate with clear errors, and reload without a restart."""

import os
import time

import cel
import pytest

from floodwall.engine.policy import PolicyError, PolicyFile, load_policy, parse_policy
from floodwall.engine.signals import sample_context


def policy_text(when: str, action: str = "takedown", extra: str = "") -> str:
    return f'name = "t"\n[[rules]]\nname = "r1"\nwhen = "{when}"\naction = "{action}"\n{extra}'


@pytest.mark.parametrize(
    "text, words",
    [
        (policy_text("stream.bank_match &&"), "rule 'r1': CEL syntax error"),
        (policy_text("stream.bank_hit"), "rule 'r1': unknown signal stream.bank_hit"),
        (policy_text("stream.frames + 1"), "rule 'r1': `when` must be true or false, got int"),
        (policy_text("stream.bank_match", action="nuke"), "rule 'r1': action 'nuke' is not one of"),
        (policy_text("stream.bank_match", action="sample"), "rule 'r1': action 'sample' needs `sample_every`"),
        (policy_text("stream.bank_match", extra="colour = 1"), "rule 'r1': unknown keys ['colour']"),
        ('name = "t"\n[engine]\nreview = "lifo"', "review must be 'case' or 'fifo'"),
        ('name = "t"\n[engine]\nspeed = 1', "unknown [engine] keys ['speed']"),
        ("name = ", "not valid TOML"),
        ('[[rules]]\nname="a"\nwhen="true"\naction="allow"', "`name` (a non-empty string) is required"),
    ],
)
def test_invalid_policies_name_rule_and_problem(text, words):
    with pytest.raises(PolicyError) as exc:
        parse_policy(text, source="mine.toml")
    assert words in str(exc.value)
    assert str(exc.value).startswith("mine.toml")


def test_duplicate_rule_names_are_rejected():
    text = policy_text("true") + '\n[[rules]]\nname = "r1"\nwhen = "false"\naction = "allow"\n'
    with pytest.raises(PolicyError, match="rule 'r1': duplicate rule name"):
        parse_policy(text)


@pytest.mark.parametrize("name", ["floodwall", "manual"])
def test_shipped_policies_load(name):
    policy = load_policy(name)
    assert policy.name == name


def test_rules_fire_on_their_signals_and_shadow_is_separate():
    text = (
        'name = "t"\n'
        '[[rules]]\nname = "big"\nwhen = "stream.cluster_rooms >= 3"\naction = "takedown"\n'
        '[[rules]]\nname = "watch"\nwhen = "stream.cluster_rooms >= 2"\naction = "review"\nshadow = true\n'
    )
    policy = parse_policy(text)
    ctx = sample_context()
    ctx["stream"]["cluster_rooms"] = 2
    fired, shadow = policy.evaluate(cel.Context(ctx))
    assert [r.name for r in fired] == [] and [r.name for r in shadow] == ["watch"]
    ctx["stream"]["cluster_rooms"] = 3
    fired, shadow = policy.evaluate(cel.Context(ctx))
    assert [r.name for r in fired] == ["big"] and [r.name for r in shadow] == ["watch"]


def test_reload_without_restart_keeps_last_good_policy(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text(policy_text("stream.frames > 1"))
    pf = PolicyFile(str(path))
    assert pf.policy.rules[0].when == "stream.frames > 1"
    path.write_text(policy_text("stream.frames > 5"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert pf.reload_if_changed()
    assert pf.policy.rules[0].when == "stream.frames > 5"
    path.write_text(policy_text("stream.nope"))
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 2_000_000))
    assert not pf.reload_if_changed()
    assert pf.policy.rules[0].when == "stream.frames > 5"
    assert "rule 'r1': unknown signal stream.nope" in pf.last_error

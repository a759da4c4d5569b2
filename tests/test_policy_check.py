"""Policies are compiled at load: every name resolved against the signal schema and every type checked."""

import os
import time

import pytest

from floodwall import cli
from floodwall.engine.celcheck import check_expression
from floodwall.engine.policy import _ENGINE_KEYS, PolicyError, PolicyFile, load_policy, parse_policy
from floodwall.engine.signals import SIGNAL_SCHEMA
from floodwall.events import ACTIONS


def rule(name: str, when: str, action: str = "takedown") -> str:
    return f'[[rules]]\nname = "{name}"\nwhen = "{when}"\naction = "{action}"\n'


BOGUS = 'name = "t"\n' + rule("bogus", "account.trusted && stream.bogus_signal > 1")


def test_unknown_signal_fails_naming_rule_and_signal():
    # It passed the old sample-evaluation check (&& short-circuits on the default trusted=false).
    with pytest.raises(PolicyError) as exc:
        parse_policy(BOGUS, source="p.toml")
    assert str(exc.value) == "p.toml: rule 'bogus': unknown signal stream.bogus_signal"


def test_every_problem_is_listed_not_just_the_first():
    text = ('name = "t"\n[engine]\nspeed = 1\n' + rule("a", "stream.nope > 1") + rule("b", "acount.trusted")
            + rule("c", "stream.frames + 1.5 > 2.0") + rule("d", "stream.bank_match", action="nuke")
            + rule("ok", "stream.bank_match"))
    with pytest.raises(PolicyError) as exc:
        parse_policy(text, source="p.toml")
    assert exc.value.problems == [
        f"unknown [engine] keys ['speed']; known: {sorted(_ENGINE_KEYS)}",
        "rule 'a': unknown signal stream.nope",
        "rule 'b': unknown name `acount` (signals are account.*, stream.*, incident.*)",
        "rule 'c': `+` is not defined for int and double (CEL does not convert: use double(x) or int(x))",
        "rule 'd': action 'nuke' is not one of " + ", ".join(ACTIONS),
    ]
    assert str(exc.value).startswith("p.toml: 5 problems:\n  1. unknown [engine] keys")


@pytest.mark.parametrize("when, problem", [
    ("!stream.frames", "`!` needs bool, got int"),
    ("stream.bank_match > 1", "`>` cannot order bool against int"),
    ("stream.bank == 3", "`==` compares string with int"),
    ("stream.frames && true", "`&&` needs bool on both sides, got int"),
    ("stream.report_weight * 2 > 1.0", "`*` is not defined for double and int"),
    ("stream.frames", "`when` must be true or false, got int"),
    ("incident.level >= 2 && incident.phase == 1", "unknown signal incident.phase"),
    ("-stream.bank == 'x'", "`-` needs a number, got string"),
])
def test_type_errors_are_found_before_any_event(when, problem):
    problems = check_expression(when, SIGNAL_SCHEMA)
    assert any(p.startswith(problem) for p in problems), problems


@pytest.mark.parametrize("when", [
    "account.risk >= 3 && !account.trusted",  # int against double orders fine in CEL
    "has(stream.frames) && stream.bank in ['confirmed', 'reviewed']",
    "(size(stream.bank) > 0 ? stream.bank_distance : 256) < 32",
    "double(stream.frames) * 0.5 >= stream.report_weight || stream.frames * 2 > 10",
    "[1, 2, 3].exists(x, x > stream.frames)",
    "stream.bank.startsWith('conf') && {'a': 1}['a'] == 1",
    "stream.classifier_model == \\\"\\\" || stream.reports == 0u + 0u",
])
def test_valid_expressions_pass(when):
    assert check_expression(when, SIGNAL_SCHEMA) == []
    parse_policy('name = "t"\n' + rule("r", when.replace("\\\\", "\\")))


def test_every_shipped_policy_is_clean():
    for name in ("floodwall", "floodwall-robust", "manual"):
        for r in load_policy(name).rules:
            assert check_expression(r.when, SIGNAL_SCHEMA) == [], r.name


def test_check_policy_command_lists_every_problem(tmp_path, capsys):
    path = tmp_path / "bad.toml"
    path.write_text('name = "t"\n' + rule("one", "stream.bogus_signal > 1") + rule("two", "account.nope"))
    assert cli.main(["check-policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert "rule 'one': unknown signal stream.bogus_signal" in err
    assert "rule 'two': unknown signal account.nope" in err


def test_hot_reload_refuses_an_unknown_signal(tmp_path):
    path = tmp_path / "p.toml"
    path.write_text('name = "t"\n' + rule("r", "stream.frames > 1"))
    pf = PolicyFile(str(path))
    path.write_text(BOGUS)
    os.utime(path, ns=(time.time_ns(), time.time_ns() + 1_000_000))
    assert not pf.reload_if_changed()
    assert pf.policy.rules[0].name == "r"  # the last good policy stays in force
    assert pf.last_error.endswith("rule 'bogus': unknown signal stream.bogus_signal")


def test_serve_refuses_a_bad_policy_at_start(tmp_path):
    from floodwall.adapters.enforcer import RecordingEnforcer
    from floodwall.clock import VirtualClock
    from floodwall.service.runtime import build_engine

    path = tmp_path / "p.toml"
    path.write_text(BOGUS)
    with pytest.raises(PolicyError, match="rule 'bogus': unknown signal stream.bogus_signal"):
        build_engine(str(path), clock=VirtualClock(0.0), store=None, enforcer=RecordingEnforcer(), chat=False)

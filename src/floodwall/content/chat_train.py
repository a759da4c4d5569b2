"""Training the chat diversion model on the labelled lines: folds, threshold, final fit (offline only)."""

from __future__ import annotations

import time
from collections.abc import Iterable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from floodwall.content.chat_features import HASH_BITS, Featurized, featurize
from floodwall.content.chat_model import ChatClassifier, LinearFit, predict, sigmoid

__all__ = ["HP", "ChatLine", "choose_threshold", "load_lines", "train"]

# Hyper-parameters fixed a priori / by cross-validation on the train split (see bench/RESULTS-chat.md).
HP = {"l2_ngram": 1e-4, "l2_dense": 1e-5, "iters": 250, "lr": 0.05}


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One labelled line from ``chat_lines.tsv``."""

    label: int
    split: str
    text: str


def data_path() -> Path:
    """The shipped labelled lines."""
    return Path(str(resources.files("floodwall") / "data" / "chat_lines.tsv"))


def load_lines(path: str | Path | None = None) -> list[ChatLine]:
    """Read ``label<TAB>split<TAB>text`` lines (``#`` comments skipped); defaults to the shipped set."""
    p = Path(path) if path is not None else data_path()
    out = []
    for raw in p.read_text(encoding="utf-8").splitlines():
        if not raw or raw.startswith("#"):
            continue
        label, split, text = raw.split("\t", 2)
        out.append(ChatLine(int(label), split, text))
    return out


def _fit(X: Featurized, y: np.ndarray, *, l2_ngram: float, l2_dense: float, iters: int, lr: float) -> LinearFit:
    """Class-balanced L2 logistic regression by full-batch Adam over the columns present in X."""
    uniq, inv = np.unique(X.cols, return_inverse=True)
    k = len(uniq)
    n, f = X.dense.shape
    pos = max(1, int(y.sum()))
    neg = max(1, n - pos)
    sw = np.where(y == 1, n / (2.0 * pos), n / (2.0 * neg)) / n  # balanced weights, mean loss
    theta = np.zeros(k + f + 1)
    m1 = np.zeros_like(theta)
    m2 = np.zeros_like(theta)
    reg = np.concatenate([np.full(k, l2_ngram), np.full(f, l2_dense), [0.0]])
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iters + 1):
        w, v, b = theta[:k], theta[k : k + f], theta[-1]
        z = np.bincount(X.rows, weights=w[inv] * X.vals, minlength=n) + X.dense @ v + b
        r = (sigmoid(z) - y) * sw
        grad = np.concatenate([np.bincount(inv, weights=r[X.rows] * X.vals, minlength=k), X.dense.T @ r, [r.sum()]])
        grad += reg * theta
        m1 = b1 * m1 + (1 - b1) * grad
        m2 = b2 * m2 + (1 - b2) * grad * grad
        theta -= lr * (m1 / (1 - b1**t)) / (np.sqrt(m2 / (1 - b2**t)) + eps)
    full = np.zeros(1 << HASH_BITS, dtype=np.float64)
    full[uniq] = theta[:k]
    return LinearFit(full, theta[k : k + f].copy(), float(theta[-1]))


def _subset(X: Featurized, idx: np.ndarray) -> Featurized:
    remap = np.full(X.n, -1, dtype=np.int64)
    remap[idx] = np.arange(len(idx))
    keep = remap[X.rows] >= 0
    return Featurized(remap[X.rows[keep]], X.cols[keep], X.vals[keep], X.dense[idx], len(idx))


def choose_threshold(y: np.ndarray, p: np.ndarray, beta: float = 0.5) -> float:
    """Threshold maximising F-beta (precision-weighted) on out-of-fold train scores; ties -> higher."""
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.10, 0.951, 0.01), 2):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        fp = float(np.sum(pred & (y == 0)))
        fn = float(np.sum(~pred & (y == 1)))
        denom = (1 + beta**2) * tp + beta**2 * fn + fp
        f = (1 + beta**2) * tp / denom if denom else 0.0
        if f >= best_f - 1e-12:
            best_t, best_f = float(t), f
    return best_t


def train(lines: Iterable[ChatLine] | None = None, *, folds: int = 4, seed: int = 0, **hp: float) -> ChatClassifier:
    """Train on the ``train`` split only; the threshold comes from ``folds``-fold CV within it."""
    t0 = time.perf_counter()
    data = [ln for ln in (load_lines() if lines is None else lines) if ln.split == "train"]
    params = {**HP, **hp}
    params["iters"] = int(params["iters"])
    y = np.array([ln.label for ln in data], dtype=np.float64)
    X, _ = featurize([ln.text for ln in data])
    threshold, oof = 0.5, None
    if folds >= 2 and len(data) >= 2 * folds:
        rng = np.random.default_rng(seed)
        fold_of = rng.permutation(len(data)) % folds
        oof = np.zeros(len(data))
        for k in range(folds):
            tr, te = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
            f = _fit(_subset(X, tr), y[tr], **params)
            oof[te] = predict(f, _subset(X, te))
        threshold = choose_threshold(y, oof)
    fit = _fit(X, y, **params)
    return ChatClassifier(fit, threshold, train_seconds=time.perf_counter() - t0, n_train=len(data), cv_scores=oof)

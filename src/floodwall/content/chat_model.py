"""The chat diversion model: a linear score over chat features, its weights as data, and the classifier."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from floodwall.content.chat_features import HASH_BITS, Featurized, featurize
from floodwall.content.chat_patterns import FEATURE_NAMES, pattern_matches

__all__ = ["ChatClassifier", "LinearFit", "load_weights", "predict", "save_weights", "sigmoid"]

WEIGHTS_FORMAT = "floodwall-chat-weights/1"
SCORE_CACHE = 1 << 16  # lines whose scores are kept


def sigmoid(z: np.ndarray) -> np.ndarray:
    """Overflow-free logistic."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


@dataclass
class LinearFit:
    """Logistic-regression weights: a full hashed n-gram table, dense-feature weights and a bias."""

    w: np.ndarray  # full hashed weight table, 2**HASH_BITS entries
    v: np.ndarray  # dense-feature weights, aligned with FEATURE_NAMES
    b: float


def predict(fit: LinearFit, X: Featurized) -> np.ndarray:
    """Scores in [0, 1] for each row of ``X``."""
    z = np.bincount(X.rows, weights=fit.w[X.cols] * X.vals, minlength=X.n) + X.dense @ fit.v + fit.b
    return sigmoid(z)


@dataclass
class ChatClassifier:
    """Scores a chat line or stream title for coded off-platform diversion / malicious links."""

    fit: LinearFit
    threshold: float = 0.5
    name: str = "chat-diversion-v1"
    train_seconds: float = 0.0
    n_train: int = 0
    cv_scores: np.ndarray | None = field(default=None, repr=False)
    # Scores of recent lines: spam repeats itself, and a line's score depends on nothing else.
    _seen: dict[str, float] = field(default_factory=dict, repr=False, compare=False)

    def score(self, text: str) -> float:
        """Probability-like score in [0, 1] that ``text`` steers viewers off-platform."""
        return float(self.score_many([text])[0])

    def score_many(self, texts: Sequence[str]) -> np.ndarray:
        """Scores for a batch of lines (vectorised n-gram hashing), shape ``(len(texts),)``."""
        texts = texts if isinstance(texts, list) else list(texts)
        seen = self._seen
        out = np.empty(len(texts), dtype=np.float64)
        todo: dict[str, list[int]] = {}
        for i, t in enumerate(texts):
            s = seen.get(t)
            if s is None:
                todo.setdefault(t, []).append(i)
            else:
                out[i] = s
        if todo:
            new = list(todo)
            X, _ = featurize(new)
            for t, s in zip(new, predict(self.fit, X).tolist()):
                out[todo[t]] = s
                seen[t] = s
            while len(seen) > SCORE_CACHE:  # oldest first (dicts keep insertion order)
                try:
                    del seen[next(iter(seen))]
                except (KeyError, RuntimeError, StopIteration):  # another thread got there first
                    break
        return out

    def predict(self, text: str) -> bool:
        """True when ``score(text) >= threshold``."""
        return self.score(text) >= self.threshold

    def explain(self, text: str) -> dict[str, Any]:
        """Evidence for a verdict: normalised text, digits view, matched patterns, feature values, score."""
        X, norms = featurize([text])
        nm = norms[0]
        matches = pattern_matches(nm)
        s = float(predict(self.fit, X)[0])
        dense = X.dense[0]
        contrib = {n: round(float(v * w), 4) for n, v, w in zip(FEATURE_NAMES, dense, self.fit.v) if v}
        return {
            "classifier": self.name,
            "text": text,
            "normalized": nm.text,
            "digits": list(nm.digits),
            "patterns": matches,
            "obfuscation": {
                "share_changed": round(nm.obfuscation, 4),
                "invisible_chars": nm.invisible,
                "homoglyphs": nm.homoglyph,
                "spaced_runs": nm.spaced,
                "leet_tokens": nm.leet,
                "digit_word_runs": nm.digit_words,
            },
            "feature_contributions": contrib,
            "score": s,
            "threshold": self.threshold,
            "flagged": s >= self.threshold,
        }


def save_weights(clf: ChatClassifier, path: str | Path) -> None:
    """Write the classifier's weights as a small .npz: only the n-gram columns that have a weight."""
    cols = np.flatnonzero(clf.fit.w).astype(np.int32)
    meta = {"format": WEIGHTS_FORMAT, "name": clf.name, "hash_bits": HASH_BITS, "features": list(FEATURE_NAMES),
            "threshold": clf.threshold, "n_train": clf.n_train}
    with open(path, "wb") as fh:  # a file handle keeps np.savez from appending ".npz" to the name
        np.savez_compressed(fh, cols=cols, w=clf.fit.w[cols], v=clf.fit.v, b=np.array([clf.fit.b]),
                            meta=np.array(json.dumps(meta, sort_keys=True)))


def load_weights(path: str | Path) -> ChatClassifier:
    """Read weights written by :func:`save_weights`; a file for other features or hashing is refused."""
    with np.load(path, allow_pickle=False) as z:
        meta = json.loads(str(z["meta"]))
        if meta.get("format") != WEIGHTS_FORMAT:
            raise ValueError(f"{path}: meta.format: expected {WEIGHTS_FORMAT!r}, got {meta.get('format')!r}")
        if meta.get("hash_bits") != HASH_BITS or tuple(meta.get("features", ())) != FEATURE_NAMES:
            raise ValueError(f"{path}: meta.hash_bits/features: weights were trained for other features")
        cols, w, v, b = z["cols"], z["w"], z["v"], z["b"]
    if cols.shape != w.shape or v.shape != (len(FEATURE_NAMES),) or b.shape != (1,):
        raise ValueError(f"{path}: cols/w/v/b: shapes {cols.shape}/{w.shape}/{v.shape}/{b.shape} do not fit")
    if len(cols) and (int(cols.min()) < 0 or int(cols.max()) >= 1 << HASH_BITS):
        raise ValueError(f"{path}: cols: column out of range for {HASH_BITS} hash bits")
    full = np.zeros(1 << HASH_BITS, dtype=np.float64)
    full[cols] = w
    return ChatClassifier(LinearFit(full, v.astype(np.float64), float(b[0])), float(meta["threshold"]),
                          name=str(meta["name"]), n_train=int(meta["n_train"]))

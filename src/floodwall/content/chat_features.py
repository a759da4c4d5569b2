"""Chat line features: hashed character 2-4 grams of the normalised text (vectorised) plus pattern features."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from floodwall.content.chat_patterns import FEATURE_NAMES, informative_digits, pattern_features
from floodwall.content.chat_text import Normalized, analyze

__all__ = ["HASH_BITS", "Featurized", "featurize"]

HASH_BITS = 20
_NGRAMS = (2, 3, 4)
_MULT = np.uint64(0x9E3779B97F4A7C15)
_STEP = np.uint64(1000003)
_DIGIT_RUN = re.compile(r"\d+")


def _gram_text(norm: Normalized) -> str:
    """Text the n-grams see: random ids are masked to their shape so the model learns context, not ids."""

    def mask(mm: re.Match[str]) -> str:
        d = mm.group(0)
        return "0" * min(len(d), 12) if informative_digits(d) or len(d) >= 13 else d

    return "\x02" + _DIGIT_RUN.sub(mask, norm.text) + "\x03"


def _hash_ngrams(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR-like (rows, cols, vals) of unique hashed n-grams per text; vals are 1/sqrt(count)."""
    n = len(texts)
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    joined = "\x00".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    row_of_char = np.repeat(np.arange(n, dtype=np.int64), lens + 1)[: len(cps)]
    is_sep = (cps == 0).astype(np.int64)
    csep = np.concatenate([[0], np.cumsum(is_sep)])
    rows_all, cols_all = [], []
    mask_bits = np.uint64((1 << HASH_BITS) - 1)
    for g in _NGRAMS:
        m = len(cps) - g + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64((g * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for k in range(g):
            h = h * _STEP + cps[k : k + m]
        h = (h ^ (h >> np.uint64(29))) * _MULT
        h ^= h >> np.uint64(32)
        ok = (csep[g : g + m] - csep[0:m]) == 0  # window contains no line separator
        rows_all.append(row_of_char[:m][ok])
        cols_all.append((h[ok] & mask_bits).astype(np.int64))
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    key = np.unique(rows << HASH_BITS | cols)
    rows = key >> HASH_BITS
    cols = key & ((1 << HASH_BITS) - 1)
    counts = np.bincount(rows, minlength=n).astype(np.float64)
    vals = 1.0 / np.sqrt(np.maximum(counts[rows], 1.0))
    return rows, cols, vals


@dataclass(frozen=True)
class Featurized:
    """A batch of lines as sparse hashed n-grams (rows, cols, vals) and dense pattern features."""

    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    dense: np.ndarray
    n: int


def featurize(texts: Sequence[str]) -> tuple[Featurized, list[Normalized]]:
    """Normalise and featurise a batch of lines; also returns each line's normalisation."""
    norms = [analyze(t) for t in texts]
    rows, cols, vals = _hash_ngrams([_gram_text(nm) for nm in norms])
    dense = np.vstack([pattern_features(nm) for nm in norms]) if norms else np.zeros((0, len(FEATURE_NAMES)))
    return Featurized(rows, cols, vals, dense, len(texts)), norms

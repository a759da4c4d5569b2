"""Offline training of the chat diversion model: writes its weights and held-out evaluation as data.

Run ``python -m floodwall.data.train_chat_model`` after changing ``chat_lines.tsv`` or the features.
It trains exactly as ``content/chat_train.train`` does (train split only, 4 folds for the threshold,
then a final fit), scores the held-out ``test`` split once, and writes ``chat_model.npz`` (weights)
and ``chat_model.json`` (evaluation) next to this file. ``--check`` retrains and compares instead.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import numpy as np

from floodwall.content.chat_model import ChatClassifier, load_weights, save_weights
from floodwall.content.chat_train import HP, ChatLine, data_path, load_lines, train

HERE = Path(__file__).resolve().parent
FOLDS = 4
SEED = 0


def evaluate(clf: ChatClassifier, lines: list[ChatLine]) -> dict[str, float | int]:
    """Precision, recall and counts of ``clf`` at its threshold on the ``test`` split of ``lines``."""
    test = [ln for ln in lines if ln.split == "test"]
    y = np.array([ln.label for ln in test])
    pred = clf.score_many([ln.text for ln in test]) >= clf.threshold
    tp = int(np.sum(pred & (y == 1)))
    fp = int(np.sum(pred & (y == 0)))
    fn = int(np.sum(~pred & (y == 1)))
    precision = tp / max(1, tp + fp)
    recall = tp / max(1, tp + fn)
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"n_test": len(test), "tp": tp, "fp": fp, "fn": fn,
            "precision": round(precision, 4), "recall": round(recall, 4), "f1": round(f1, 4)}


def build(lines_path: Path | None = None) -> tuple[ChatClassifier, dict[str, object]]:
    """Train on the shipped (or given) lines and return the classifier with its evaluation record."""
    path = lines_path or data_path()
    lines = load_lines(path)
    clf = train(lines, folds=FOLDS, seed=SEED)
    record: dict[str, object] = {
        "classifier": clf.name,
        "data_sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "n_train": clf.n_train,
        "folds": FOLDS,
        "seed": SEED,
        "hyper_parameters": HP,
        "threshold": clf.threshold,
        "threshold_rule": "max F0.5 on out-of-fold train scores",
        "heldout": evaluate(clf, lines),
        "train_seconds": round(clf.train_seconds, 3),
        "numpy": np.__version__,
    }
    return clf, record


def same_weights(a: ChatClassifier, b: ChatClassifier) -> bool:
    """True when two classifiers have the same threshold and (to float rounding) the same weights."""
    return (a.threshold == b.threshold and np.allclose(a.fit.w, b.fit.w, rtol=1e-9, atol=1e-12)
            and np.allclose(a.fit.v, b.fit.v, rtol=1e-9, atol=1e-12) and abs(a.fit.b - b.fit.b) < 1e-9)


def main(argv: list[str] | None = None) -> int:
    """Train and write the weights and evaluation, or with ``--check`` verify the shipped ones."""
    ap = argparse.ArgumentParser(prog="python -m floodwall.data.train_chat_model", description=__doc__)
    ap.add_argument("--out-dir", type=Path, default=HERE, help="where chat_model.npz and .json go")
    ap.add_argument("--check", action="store_true", help="retrain and compare with the files in --out-dir")
    args = ap.parse_args(argv)
    clf, record = build()
    npz, js = args.out_dir / "chat_model.npz", args.out_dir / "chat_model.json"
    if args.check:
        shipped = load_weights(npz)
        ok = same_weights(clf, shipped)
        print(f"{npz}: {'reproduced' if ok else 'DIFFERS from a fresh training'}")
        return 0 if ok else 1
    args.out_dir.mkdir(parents=True, exist_ok=True)
    save_weights(clf, npz)
    js.write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    h = record["heldout"]
    print(f"wrote {npz} ({npz.stat().st_size:,} bytes) and {js}")
    print(f"threshold {clf.threshold:.2f}; held-out precision {h['precision']:.4f} recall {h['recall']:.4f}"  # type: ignore[index]
          f" (tp={h['tp']} fp={h['fp']} fn={h['fn']})")  # type: ignore[index]
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Chat / title classifier for coded diversion to outside platforms (contact steering, malicious links).

Three layers, each in its own module and re-exported here:

* :func:`normalize` / :func:`analyze` (``chat_text.py``) undo the evasions seen in the Kuaishou attack
  (invisible characters, homoglyphs, leetspeak, digit words, spaced letters, spelled-out dots) while
  keeping a separate digits view so handles and phone/QQ numbers survive.
* :func:`pattern_features` (``chat_patterns.py``) turns the normalised text into evidence: platform
  names and nicknames, calls to action, links, long digit runs, @handles and how obfuscated it was.
* :class:`ChatClassifier` (``chat_model.py``): plain-numpy logistic regression over hashed character
  2-4 grams of the normalised text plus the pattern features. It is trained offline by
  ``python -m floodwall.data.train_chat_model`` (``chat_train.py``: train split only, threshold by
  cross-validation within it), which ships its weights as ``data/chat_model.npz`` and its held-out
  evaluation as ``data/chat_model.json``. Processes only load them: :func:`default_classifier`.
"""

from __future__ import annotations

from functools import lru_cache
from importlib import resources
from pathlib import Path

from floodwall.content.chat_model import ChatClassifier, load_weights
from floodwall.content.chat_patterns import FEATURE_NAMES, pattern_features, pattern_matches
from floodwall.content.chat_text import Normalized, analyze, normalize
from floodwall.content.chat_train import ChatLine, load_lines, train

__all__ = [
    "FEATURE_NAMES",
    "ChatClassifier",
    "ChatLine",
    "Normalized",
    "analyze",
    "default_classifier",
    "load_lines",
    "normalize",
    "pattern_features",
    "pattern_matches",
    "train",
    "weights_path",
]


def weights_path() -> Path:
    """The shipped weights, written by ``python -m floodwall.data.train_chat_model``."""
    return Path(str(resources.files("floodwall") / "data" / "chat_model.npz"))


@lru_cache(maxsize=1)
def default_classifier() -> ChatClassifier:
    """The shipped classifier, loaded once per process from its weights (no training)."""
    return load_weights(weights_path())

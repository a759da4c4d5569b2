"""The simulated image classifier: scores with the scenario's declared quality (simulation only).

The simulator cannot render illegal content, so a real model cannot be asked about it; this
adapter plays a model of known quality instead. It is told which frames are violating by the
simulated platform and turns that into a noisy score: the engine receives only the score.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from floodwall.events import FrameSampled


class DeclaredClassifier:
    """Classifier port adapter: violating frames score >= 0.5 with probability tpr, honest ones with fpr."""

    def __init__(self, is_violating, tpr: float, fpr: float, seed: int) -> None:
        self.is_violating = is_violating
        self.tpr = tpr
        self.fpr = fpr
        self.rng = np.random.default_rng([seed, 17])
        self.name = f"declared(tpr={tpr:g},fpr={fpr:g})"

    def score(self, frames: Sequence[FrameSampled], pixels: np.ndarray) -> np.ndarray:
        """A score in [0, 1] per frame."""
        n = len(frames)
        bad = np.fromiter((self.is_violating(f.id) for f in frames), dtype=bool, count=n)
        u = self.rng.random(n)
        hit = np.where(bad, u < self.tpr, u < self.fpr)
        high = 0.5 + 0.5 * self.rng.beta(2.0, 1.2, n)
        low = 0.5 * self.rng.beta(1.0, 6.0, n)
        return np.where(hit, high, low)

"""Look: the per-room perturbation a re-streamer applies to every frame it sends."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Look:
    """Per-room perturbation applied by a re-streamer to every frame it sends."""

    # Order of application: crop, mirror, rotate, pad, downscale, colour, overlay, noise, JPEG.
    crop: tuple[float, float, float, float] = (0.0, 0.0, 0.0, 0.0)  # fractions cut: left, top, right, bottom
    mirror: bool = False  # horizontal flip
    scale: float = 1.0  # re-encoded at round(size * scale) px, then resampled back
    rotate: float = 0.0  # degrees about the centre; corners black
    pad: float = 0.0  # border of pad * picture size on each side; the picture shrinks to fit
    pad_mode: str = "solid"  # "solid" (black bars) or "blur" (blurred stretched picture)
    brightness: float = 0.0  # additive, fraction of full scale, in [-0.3, 0.3]
    contrast: float = 1.0  # gain about mid-grey
    hue: float = 0.0  # degrees of hue rotation (YIQ chroma plane; luma kept)
    overlay: int | None = None  # seed of a watermark: room handle text on a translucent strip
    noise: float = 0.0  # Gaussian sigma in 0..255 units, on luma, fixed per frame
    jpeg: int | None = None  # re-encoding quality 1..100 (IJG scaling of Annex K tables)

    def __post_init__(self) -> None:
        object.__setattr__(self, "crop", tuple(float(v) for v in self.crop))  # hashable even if given a list
        if self.pad_mode not in ("solid", "blur"):
            raise ValueError(f"pad_mode must be 'solid' or 'blur', not {self.pad_mode!r}")
        if len(self.crop) != 4 or self.crop[0] + self.crop[2] >= 0.9 or self.crop[1] + self.crop[3] >= 0.9:
            raise ValueError(f"bad crop {self.crop!r}")
        if not 0.05 <= self.scale <= 1.0:
            raise ValueError(f"scale must be in [0.05, 1], not {self.scale}")
        if self.jpeg is not None and not 1 <= self.jpeg <= 100:
            raise ValueError(f"jpeg quality must be in 1..100, not {self.jpeg}")
        if not -0.3 <= self.brightness <= 0.3 or self.contrast <= 0 or self.noise < 0 or not 0 <= self.pad <= 1:
            raise ValueError("brightness must be in [-0.3, 0.3], contrast > 0, noise >= 0, pad in [0, 1]")

    @property
    def is_identity(self) -> bool:
        """True when the look leaves pixels unchanged."""
        return self == _IDENTITY

    @staticmethod
    def random(rng: np.random.Generator, intensity: str = "mild") -> Look:
        """Draw a look: "none", "mild" (every attack copy), "strong" or "broadcast" (honest co-broadcaster).

        mild: <= 3 % cropped in total, mirror 50 %, scale 0.6-1, brightness +-0.08,
        contrast 0.85-1.15, hue +-20 deg, watermark 80 %, noise <= 6, JPEG 50-90.
        strong: the same plus 5-10 % of each axis cropped, rotation +-4 deg and, for half of
        them, 20 % padding (solid or blur). broadcast: channel logo, scale 0.75-1, JPEG 60-90.
        """
        if intensity == "none":
            return Look()
        u = rng.random(16)
        overlay = int(rng.integers(0, 2**31))
        if intensity == "broadcast":
            # Honest relay of a public event: channel logo, re-encode, tiny resize.
            return Look(
                scale=float(0.75 + 0.25 * u[0]),
                brightness=float(0.04 * (u[1] - 0.5)),
                contrast=float(0.95 + 0.1 * u[2]),
                overlay=overlay,
                jpeg=int(60 + 31 * u[3]),
            )
        if intensity not in ("mild", "strong"):
            raise ValueError(f"unknown intensity {intensity!r}")
        common = dict(
            mirror=bool(u[4] < 0.5),
            scale=float(0.6 + 0.4 * u[5]),
            brightness=float(0.16 * (u[6] - 0.5)),
            contrast=float(0.85 + 0.3 * u[7]),
            hue=float(40.0 * (u[8] - 0.5)),
            overlay=overlay if u[9] < 0.8 else None,
            noise=float(6.0 * u[10]),
            jpeg=int(50 + 41 * u[11]),
        )
        if intensity == "mild":
            # <= 3 % cropped in total, split over the four sides. PDQ itself cannot absorb
            # 3 % per side (Meta's bridge reference photo moves 60 bits), so per side is out.
            crop = tuple(float(x) for x in 0.03 * u[12] * rng.dirichlet(np.ones(4)))
            return Look(crop=crop, **common)  # type: ignore[arg-type]
        # 5-10 % of each axis cropped, split between its two sides.
        ax = 0.05 + 0.05 * rng.random(2)
        sp = rng.random(2)
        crop = (float(ax[0] * sp[0]), float(ax[1] * sp[1]), float(ax[0] * (1 - sp[0])), float(ax[1] * (1 - sp[1])))
        pad = 0.2 if u[15] < 0.5 else 0.0
        return Look(
            crop=crop,  # type: ignore[arg-type]
            rotate=float(8.0 * (u[13] - 0.5)),
            pad=pad,
            pad_mode="blur" if u[14] < 0.5 else "solid",
            **common,
        )


_IDENTITY = Look()

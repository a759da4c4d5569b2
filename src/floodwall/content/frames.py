"""Sampled frames in their three forms (raw pixels, encoded images, edge PDQ hashes) made ready to match.

A platform may send a frame as raw RGB, as a JPEG/PNG/WebP image, or as the PDQ hash it computed
at the edge (see ``FrameSampled``). The engine wants, per batch, groups of frames with their PDQ
hashes, quality and mirror hashes, plus the RGB where there is any (the classifier and robust views
need pixels). ``frame_groups`` does that; ``frame_rgb`` gives one frame's RGB (a reviewer's view,
derived bank views).

Images are hostile input: a decoder is asked for the header first and refuses anything that is not
JPEG, PNG or WebP, whose sides are outside 8..4096, or whose pixel count would exceed
``MAX_PIXELS`` (a decompression bomb), before any pixel is decoded. A frame that does not decode is
left out of the batch and counted (``FrameGroups.undecodable``): it never stops the engine.
"""

from __future__ import annotations

import io
import logging
from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from floodwall.content.pdq import from_hex_many, hash_frames

if TYPE_CHECKING:
    from floodwall.events import FrameSampled

__all__ = ["FrameError", "FrameGroup", "FrameGroups", "MAX_PIXELS", "check_image", "decode_image",
           "encode_image", "frame_groups", "frame_rgb"]

log = logging.getLogger("floodwall.frames")

FORMATS = {"JPEG": "jpeg", "PNG": "png", "WEBP": "webp"}
MIN_SIDE, MAX_SIDE = 8, 4096
MAX_PIXELS = 4_194_304  # 2048 x 2048: a keyframe needs far fewer; bounds decode memory at 12 MiB of RGB
UNKNOWN_QUALITY = 100  # an edge hash without a quality: the edge is trusted to have dropped flat frames


class FrameError(ValueError):
    """A frame's content is unusable; ``field`` names the event field (``image``, ``width`` ...)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def check_image(data: bytes, width: int = 0, height: int = 0) -> tuple[str, int, int]:
    """Format and size of an encoded image from its header alone, or FrameError naming the field."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as img:
            fmt, (w, h) = img.format, img.size
    except Image.DecompressionBombError:
        raise FrameError("image", f"too many pixels (a decompression bomb); at most {MAX_PIXELS}") from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
        raise FrameError("image", f"not a readable JPEG, PNG or WebP image ({type(exc).__name__})") from None
    except Exception as exc:  # noqa: BLE001  (a decoder bug on hostile bytes must not escape as a 500)
        raise FrameError("image", f"could not read the image ({type(exc).__name__})") from None
    if fmt not in FORMATS:
        raise FrameError("image", f"format {fmt} is not accepted; send JPEG, PNG or WebP")
    if not (MIN_SIDE <= w <= MAX_SIDE and MIN_SIDE <= h <= MAX_SIDE):
        raise FrameError("image", f"{w}x{h}: each side must be between {MIN_SIDE} and {MAX_SIDE}")
    if w * h > MAX_PIXELS:
        raise FrameError("image", f"{w}x{h} is {w * h} pixels; at most {MAX_PIXELS}")
    if (width and width != w) or (height and height != h):
        raise FrameError("width", f"width x height {width}x{height} does not match the image's {w}x{h}")
    return FORMATS[fmt], w, h


def decode_image(data: bytes, width: int = 0, height: int = 0) -> np.ndarray:
    """RGB (h, w, 3) uint8 of an encoded image (checked first), or FrameError naming the field."""
    from PIL import Image

    check_image(data, width, height)
    try:
        with Image.open(io.BytesIO(data)) as img:
            img.load()
            rgb = img.convert("RGB")
    except Exception as exc:  # noqa: BLE001  (truncated or corrupt data after a good header)
        raise FrameError("image", f"the image does not decode ({type(exc).__name__}: {exc})"[:300]) from None
    return np.asarray(rgb, dtype=np.uint8)


def encode_image(rgb: np.ndarray, form: str = "jpeg", quality: int = 90) -> bytes:
    """An RGB (h, w, 3) uint8 frame as JPEG, PNG or WebP bytes (what an edge sends)."""
    from PIL import Image

    fmt = {"jpeg": "JPEG", "jpg": "JPEG", "png": "PNG", "webp": "WEBP"}.get(form.lower())
    if fmt is None:
        raise ValueError(f"image form {form!r}: expected jpeg, png or webp")
    buf = io.BytesIO()
    kw = {} if fmt == "PNG" else {"quality": int(quality)}
    Image.fromarray(np.asarray(rgb, dtype=np.uint8)).save(buf, format=fmt, **kw)
    return buf.getvalue()


def frame_rgb(frame: FrameSampled) -> np.ndarray | None:
    """One frame's RGB (h, w, 3): its pixels or its decoded image; None for a hash-only or bad frame."""
    if frame.pixels:
        return np.frombuffer(frame.pixels, dtype=np.uint8).reshape(frame.height, frame.width, 3)
    if frame.image:
        try:
            return decode_image(frame.image, frame.width, frame.height)
        except FrameError:
            return None
    return None


@dataclass
class FrameGroup:
    """Frames to match together: same-size RGB (``pixels``), or edge hashes only (``pixels`` None)."""

    frames: list
    pixels: np.ndarray | None
    hashes: np.ndarray
    quality: np.ndarray
    mirrored: np.ndarray


@dataclass
class FrameGroups:
    """A batch's frames in groups, and the frames left out because their image did not decode."""

    groups: list[FrameGroup] = field(default_factory=list)
    undecodable: list = field(default_factory=list)

    def __iter__(self):
        return iter(self.groups)


def frame_groups(frames: list[FrameSampled]) -> FrameGroups:
    """Hash a batch's frames: RGB ones grouped by size and hashed here, edge-hashed ones taken as sent."""
    by_size: dict[tuple[int, int], list] = defaultdict(list)
    rgb: dict[tuple[int, int], list[np.ndarray]] = defaultdict(list)
    hashed: list = []
    out = FrameGroups()
    for f in frames:
        if f.pixels:
            by_size[(f.height, f.width)].append(f)
            rgb[(f.height, f.width)].append(np.frombuffer(f.pixels, dtype=np.uint8))
        elif f.image:
            try:
                px = decode_image(f.image, f.width, f.height)
            except FrameError as err:
                out.undecodable.append(f)
                log.warning("frame %s of stream %s left out: %s", f.id, f.stream, err)
                continue
            key = px.shape[:2]
            by_size[key].append(f)
            rgb[key].append(px.reshape(-1))
        else:
            hashed.append(f)
    for (h, w), group in by_size.items():
        pixels = np.concatenate(rgb[(h, w)]).reshape(len(group), h, w, 3)
        hashes, quality, mirrored = hash_frames(pixels, with_mirror=True)
        out.groups.append(FrameGroup(group, pixels, hashes, quality, mirrored))
    if hashed:
        hashes = from_hex_many([f.pdq for f in hashed])
        # Without an edge mirror hash, the frame's own hash stands in (a mirrored copy then needs pixels).
        mirrored = from_hex_many([f.pdq_mirrored or f.pdq for f in hashed])
        quality = np.fromiter((UNKNOWN_QUALITY if f.pdq_quality is None else f.pdq_quality for f in hashed),
                              dtype=np.int32, count=len(hashed))
        out.groups.append(FrameGroup(hashed, None, hashes, quality, mirrored))
    return out


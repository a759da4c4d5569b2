"""Photos for HMA's routes: decode uploaded bytes safely, fetch a URL (only where configured), hash them.

Every input is hostile: the byte size, the pixel count and the format are bounded before any
pixel is decoded, and URL fetching is off unless the operator turns it on (it lets callers make
the server open connections), with a byte cap and a timeout.
"""

from __future__ import annotations

import io
import warnings

import numpy as np

from floodwall.content.pdq import hash_frame, to_hex
from floodwall.content.robust import RobustMatcher

__all__ = ["MAX_BYTES", "MAX_PIXELS", "MediaError", "decode_photo", "derived_views", "fetch_url", "photo_pdq",
           "query_views"]

MAX_BYTES = 20 << 20  # per upload or fetched file
MAX_PIXELS = 40_000_000  # beyond this a "photo" is a decompression bomb
_FORMATS = ("JPEG", "PNG", "WEBP", "GIF", "BMP", "TIFF")


class MediaError(ValueError):
    """The bytes are not a photo Floodwall will hash; the message says why."""


def decode_photo(data: bytes) -> np.ndarray:
    """(h, w, 3) uint8 RGB from JPEG/PNG/WebP/GIF/BMP/TIFF bytes; MediaError if not one or too large."""
    from PIL import Image

    if not data:
        raise MediaError("the photo is empty")
    if len(data) > MAX_BYTES:
        raise MediaError(f"the photo is {len(data)} bytes; at most {MAX_BYTES}")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=_FORMATS) as im:
                w, h = im.size
                if w * h > MAX_PIXELS:
                    raise MediaError(f"the photo is {w}x{h} pixels; at most {MAX_PIXELS} in all")
                if min(w, h) < 5:
                    raise MediaError(f"the photo is {w}x{h} pixels; PDQ needs at least 5 on a side")
                return np.asarray(im.convert("RGB"), dtype=np.uint8)
    except MediaError:
        raise
    except Exception as exc:  # noqa: BLE001  (PIL raises many types for bad input; the caller gets a 400)
        raise MediaError(f"not a readable photo ({', '.join(_FORMATS)}): {exc}") from None


def photo_pdq(pixels: np.ndarray) -> tuple[str, int]:
    """PDQ hex and quality of a decoded photo."""
    h, quality = hash_frame(pixels)
    return to_hex(h), int(quality)


_matcher = RobustMatcher()


def derived_views(pixels: np.ndarray) -> list[tuple[str, str]]:
    """(PDQ hex, view name) of the photo's derived views (crops, rotations) that robust matching banks."""
    return [(h, tag) for h, tag in _matcher.bank_entries(pixels) if tag != "plain"]


def query_views(pixels: np.ndarray, min_quality: int) -> np.ndarray:
    """Robust query hashes (m, 4) of a photo: itself and trimmed content boxes, each mirrored; flat views dropped."""
    hashes, quality = _matcher.query_views(pixels[None])
    keep = quality >= min_quality
    return hashes[keep] if keep.any() else hashes[:1]


def fetch_url(url: str, timeout: float = 10.0) -> bytes:
    """GET an http(s) URL's body, at most MAX_BYTES; MediaError on a bad URL, status, type or size."""
    import httpx

    if not url.startswith(("http://", "https://")):
        raise MediaError("url must be an http:// or https:// URL")
    try:
        with httpx.Client(timeout=timeout, follow_redirects=True, max_redirects=3) as client, \
                client.stream("GET", url) as r:
            if r.status_code != 200:
                raise MediaError(f"fetching the url gave HTTP {r.status_code}")
            ctype = r.headers.get("content-type", "")
            if not ctype.lower().startswith("image/"):
                raise MediaError(f"unsupported url ContentType: {ctype!r} (only photos: image/*)")
            body = bytearray()
            for chunk in r.iter_bytes():
                body += chunk
                if len(body) > MAX_BYTES:
                    raise MediaError(f"the url's body is over {MAX_BYTES} bytes")
            return bytes(body)
    except httpx.HTTPError as exc:
        raise MediaError(f"could not fetch the url: {exc}") from None

"""Fast, deterministic synthetic keyframe renderer for the attack simulator (a package).

Every live room sends small sampled keyframes (``size`` x ``size`` RGB uint8).
Honest rooms show their own procedurally generated scene (merchant table, game,
chat room, outdoor); EVENT rooms co-broadcast a shared source; CLIP rooms show a
looping abstract stand-in for contraband video (geometric shapes only), each copy
perturbed by the re-streamer's :class:`Look`.

Design (tens of thousands of frames/s on one core):

* A *shot* is a ``(kind, seed, shot)`` tuple. Its base image (``size * 5/4`` square,
  uint8) is generated once from ``np.random.default_rng`` seeded with that tuple and
  kept in a bounded LRU cache (``cache_entries``; ~19 KB each at size 64). Per frame we
  only slice a window out of it (camera pan) and stamp one moving sprite.
* Shot schedules and pan/sprite motion come from a vectorised splitmix64 hash of the
  tuple: nothing depends on process state, ``hash()``, call order or batch make-up.
* Looks are applied to all frames that have one, 16 frames at a time (temporaries stay
  in cache). Frames are carried as YCbCr with 4:2:0 chroma, like the codec a platform
  receives. The colour change (contrast, hue) is a per-frame 3x3 matrix on input; the
  axis-aligned geometry (crop, mirror, solid pad, downscale-and-back) is one resampling
  matrix per axis (two small GEMMs per plane, chroma straight to half resolution);
  watermark masks are cached per overlay seed; luma noise comes from a fixed bank of
  Gaussian fields picked per frame by hash; JPEG is an 8x8 block DCT round trip in numpy
  with the standard ITU-T T.81 Annex K luminance/chrominance tables scaled by the IJG
  quality formula, 4:2:0, no entropy coding (lossless, so it does not change pixels).
  Rotation and blurred padding (``"strong"`` looks) take a slower per-frame path.

Modules: ``mix.py`` (kinds, salts, hashing), ``look.py`` (:class:`Look`), ``draw.py`` (drawing
helpers), ``scenes.py`` (one generator per kind), ``lookops.py`` (look operators, JPEG),
``renderer.py`` (:class:`Renderer`, clip schedules, :func:`sample_frames`).
"""

from __future__ import annotations

from floodwall.sim.render.look import Look
from floodwall.sim.render.mix import CHAT, CLIP, EVENT, GAMER, HONEST_KINDS, KIND_NAMES, MERCHANT, OUTDOOR
from floodwall.sim.render.lookops import handle_text
from floodwall.sim.render.renderer import Renderer, clip_shots, sample_frames

__all__ = [
    "CHAT",
    "CLIP",
    "EVENT",
    "GAMER",
    "HONEST_KINDS",
    "KIND_NAMES",
    "MERCHANT",
    "OUTDOOR",
    "Look",
    "Renderer",
    "clip_shots",
    "handle_text",
    "sample_frames",
]

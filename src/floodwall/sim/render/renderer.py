"""The Renderer: shot schedules, cached base images, camera pan and sprite per frame, looks in chunks."""

from __future__ import annotations

from collections import OrderedDict
from functools import lru_cache

import numpy as np

from floodwall.sim.render.mix import (
    CLIP, EVENT, HONEST_KINDS, OUTDOOR, _CLIP_LOOP, _CLIP_SHOT, _MOTION, _SALT_BANK, _SALT_CLIP,
    _SALT_NOISE, _SALT_ROOM, _SALT_SCHED, _SALT_SHOT, _SHOT_RANGE, _mixi, _rng, _unit, _vmix,
)
from floodwall.sim.render.look import Look, _IDENTITY
from floodwall.sim.render.draw import _Ctx, _DIAM, _ELL, _RING, _TRI, _rgb, _stamp
from floodwall.sim.render.scenes import _GENERATORS, _gen_event
from floodwall.sim.render.lookops import (
    _LookOps, _blur_op, _jpeg_chroma, _jpeg_luma, _jpeg_tables, _overlay, _rot_map,
)


_CHUNK = 16
# Per-kind rows of _SHOT_RANGE (clips: (0, 1), their schedule is their own) and _MOTION, for lookups by kind.
_SHOT_TABLE = np.array([_SHOT_RANGE.get(k, (0.0, 1.0)) for k in range(CLIP + 1)], dtype=np.float64)
_MOTION_TABLE = np.array([(a, p0, p1, sa, s0, s1) for k in range(CLIP + 1)
                          for a, (p0, p1), sa, (s0, s1) in [_MOTION[k]]], dtype=np.float64)
_EIGHT = np.arange(8)[:, None]
_DRAW_MEMO = 1 << 16  # keys kept per memo of hash draws


def _sched_draws(keys: np.ndarray) -> np.ndarray:
    """(u1, u2) per (kind, seed) row: shot length and phase draws of a room's schedule."""
    h = _vmix(_SALT_SCHED, keys[:, 0], keys[:, 1])
    return np.stack([_unit(h), _unit(_vmix(h, 1))], axis=1)


def _motion_draws(keys: np.ndarray) -> np.ndarray:
    """The eight motion draws per (kind, seed, shot) row, (m, 8)."""
    h = _vmix(_SALT_SHOT, keys[:, 0], keys[:, 1], keys[:, 2])
    return _unit(_vmix(h[None, :], _EIGHT)).T


class _Shot:
    __slots__ = ("img", "sh", "spr_mask", "spr_rgb", "sw")

    def __init__(self, img: np.ndarray, spr_rgb: np.ndarray | None, spr_mask: np.ndarray | None) -> None:
        self.img = img
        self.spr_rgb = spr_rgb
        self.spr_mask = spr_mask
        self.sh = 0 if spr_rgb is None else spr_rgb.shape[0]
        self.sw = 0 if spr_rgb is None else spr_rgb.shape[1]


class Renderer:
    """Renders batches of keyframes for (kind, seed, t, look) tuples; deterministic, cached, vectorised."""

    def __init__(self, size: int = 64, cache_entries: int = 20_000, look_cache: int = 65_536) -> None:
        """size must be a multiple of 16; cache_entries bounds base images (~size*size*1.56*3 bytes each)."""
        if size % 16 or size < 32:
            raise ValueError("size must be a multiple of 16 and >= 32")
        self.size = size
        self.base = size + size // 4
        self.cache_entries = int(cache_entries)
        self.look_cache = int(look_cache)
        self._cache: OrderedDict[tuple[int, int, int], _Shot] = OrderedDict()
        self._looks: OrderedDict[Look, _LookOps] = OrderedDict()
        self._noise: np.ndarray | None = None
        B = self.base
        g = _rng(_SALT_BANK, size).standard_normal((2 * B, 2 * B)).astype(np.float32)
        self._grain = g * 3.0  # sensor grain: the texture PDQ's quality metric expects
        self.hits = 0
        self.misses = 0
        # Hash draws that depend only on the room (schedule) or the shot (motion), kept per key:
        # small batches every tick make a dict lookup far cheaper than re-hashing with numpy.
        self._sched: dict[tuple[int, int], tuple[float, float]] = {}
        self._motion: dict[tuple[int, int, int], tuple[float, ...]] = {}

    # -- schedules -------------------------------------------------------------------------

    def shots(self, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Shot index and time within the shot for every frame (vectorised)."""
        kinds = np.asarray(kinds, np.int64)
        seeds = np.asarray(seeds, np.int64)
        t = np.asarray(t, np.float64)
        shot = np.zeros(len(t), np.int64)
        tin = np.zeros(len(t), np.float64)
        u1, u2 = self._draws(self._sched, list(zip(kinds.tolist(), seeds.tolist())), _sched_draws).T
        lo, hi = _SHOT_TABLE[kinds].T
        length = lo + (hi - lo) * u1
        tt = t + u2 * length  # per-room phase so rooms do not cut in lockstep
        sh = np.floor(tt / length)
        shot[:] = sh.astype(np.int64)
        tin[:] = tt - sh * length
        clip = np.flatnonzero(kinds == CLIP)
        if clip.size:
            cs = seeds[clip]
            for cid in np.unique(cs).tolist():
                sel = clip[cs == cid]
                loop, bounds = _clip_schedule(cid)
                tm = np.mod(t[sel], loop)
                k = np.searchsorted(bounds, tm, side="right") - 1
                shot[sel] = k
                tin[sel] = tm - bounds[k]
        return shot, tin

    @staticmethod
    def _draws(memo: dict, keys: list[tuple[int, ...]], draw) -> np.ndarray:
        """Rows of hash draws for keys, (n, k) float64, computed once per key (bounded memo)."""
        uniq = dict.fromkeys(keys)
        missing = [k for k in uniq if k not in memo]
        if missing:
            if len(memo) + len(missing) > _DRAW_MEMO:
                memo.clear()  # then every key of this call is missing, not only the new ones
                missing = list(uniq)
            rows = draw(np.array(missing, dtype=np.int64)).tolist()
            memo.update(zip(missing, map(tuple, rows)))
        return np.array([memo[k] for k in keys], dtype=np.float64)

    # -- base images -----------------------------------------------------------------------

    def _make(self, kind: int, seed: int, shot: int) -> _Shot:
        B = self.base
        rng = _rng(_SALT_SHOT, kind, seed, shot)
        # Room palette (and an event's team colours) come from (kind, seed), not the shot,
        # so shots of one room share a look.
        h = _mixi(_SALT_ROOM, kind, seed)
        pal = [((h >> (12 * k)) & 0xFFF) / 4096.0 for k in range(5)]
        c = _Ctx(B, rng, pal)
        if kind == EVENT:
            _gen_event(c, pal)
        elif kind in _GENERATORS:
            _GENERATORS[kind](c)
        else:
            raise ValueError(f"unknown kind {kind}")
        img = c.img
        gy, gx = c.i(0, B), c.i(0, B)
        img += self._grain[gy : gy + B, gx : gx + B]
        np.clip(img, 0, 255, out=img)
        base = np.ascontiguousarray(img.transpose(1, 2, 0), dtype=np.uint8)
        # One moving sprite per shot (ball, bird, cursor, floating shape).
        s = max(3, int(self.size * c.u(0.07, 0.13)))
        shape = [_ELL, _DIAM, _RING, _TRI][c.i(0, 4)]
        mask = (_stamp(shape, s, s) > 0.5)[:, :, None]
        col = c.col(s=(0.6, 1.0), v=(0.7, 1.0)) if kind != OUTDOOR else _rgb(30, 30, 35)
        rgb = np.broadcast_to(col[:, 0, 0].astype(np.uint8), (s, s, 3)).copy()
        return _Shot(base, rgb, mask)

    def base_image(self, kind: int, seed: int, shot: int) -> np.ndarray:
        """The cached base image (base x base x 3 uint8) of a shot."""
        return self._get(int(kind), int(seed), int(shot)).img

    def make_shot(self, kind: int, seed: int, shot: int) -> bool:
        """Have a shot's base image cached (made now unless it was; kept as just used); True if it was made."""
        key = (kind, seed, shot)
        if key in self._cache:
            self._cache.move_to_end(key)
            return False
        self._get(kind, seed, shot)
        return True

    def _get(self, kind: int, seed: int, shot: int) -> _Shot:
        key = (kind, seed, shot)
        e = self._cache.get(key)
        if e is None:
            e = self._make(kind, seed, shot)
            self._cache[key] = e
            if len(self._cache) > self.cache_entries:
                self._cache.popitem(last=False)
        return e

    # -- rendering -------------------------------------------------------------------------

    def render(self, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray, looks: list[Look | None] | None = None) -> np.ndarray:
        """Render frames (n, size, size, 3) uint8 for per-frame kind, source seed, source time and look."""
        kinds = np.asarray(kinds, np.int64).ravel()
        seeds = np.asarray(seeds, np.int64).ravel()
        t = np.asarray(t, np.float64).ravel()
        n = len(kinds)
        if len(seeds) != n or len(t) != n or (looks is not None and len(looks) != n):
            raise ValueError("kinds, seeds, t and looks must have the same length")
        if n and (kinds.min() < 0 or kinds.max() > CLIP):
            raise ValueError("unknown kind")
        if not np.isfinite(t).all():
            raise ValueError("t must be finite")
        S, M = self.size, self.base - self.size
        out = np.empty((n, S, S, 3), np.uint8)
        if n == 0:
            return out
        shot, tin = self.shots(kinds, seeds, t)
        # Motion parameters hashed from the shot key, vectorised.
        amp, plo, phi, samp, slo, shi = _MOTION_TABLE[kinds].T
        keys = list(zip(kinds.tolist(), seeds.tolist(), shot.tolist()))
        us = self._draws(self._motion, keys, _motion_draws).T  # (8, n): the eight motion draws of each frame
        tau = 2 * np.pi
        per = plo + (phi - plo) * us[0]
        ox = M * (0.5 + 0.5 * amp * np.sin(tau * (tin / per + us[1])))
        oy = M * (0.5 + 0.15 * amp * np.sin(tau * (tin / (per * 1.37) + us[2])))
        sper = slo + (shi - slo) * us[3]
        # Sprite path: sinusoid of amplitude samp around a hashed centre, kept inside the frame.
        fx = 0.5 * samp + (1 - samp) * us[6] + 0.5 * samp * np.sin(tau * (tin / sper + us[4]))
        fy = 0.5 * samp + (1 - samp) * us[7] + 0.5 * samp * np.sin(tau * (tin / (sper * 0.71) + us[5]))
        oxl = np.clip(np.rint(ox), 0, M).astype(np.int64).tolist()
        oyl = np.clip(np.rint(oy), 0, M).astype(np.int64).tolist()
        fxl, fyl = fx.tolist(), fy.tolist()
        kl, sl, shl = kinds.tolist(), seeds.tolist(), shot.tolist()

        cache = self._cache
        get = cache.get
        mte = cache.move_to_end
        cap = self.cache_entries
        make = self._make
        copyto = np.copyto
        miss = 0
        for i in range(n):
            key = (kl[i], sl[i], shl[i])
            e = get(key)
            if e is None:
                e = make(*key)
                cache[key] = e
                miss += 1
                if len(cache) > cap:
                    cache.popitem(last=False)
            else:
                mte(key)
            x = oxl[i]
            y = oyl[i]
            o = out[i]
            o[:] = e.img[y : y + S, x : x + S]
            if e.sh:
                py = int(fyl[i] * (S - e.sh))
                px = int(fxl[i] * (S - e.sw))
                copyto(o[py : py + e.sh, px : px + e.sw], e.spr_rgb, where=e.spr_mask)
        self.misses += miss
        self.hits += n - miss

        if looks is not None:
            self._apply_looks(out, kinds, seeds, t, looks)
        return out

    def _ops(self, look: Look) -> _LookOps | None:
        c = self._looks
        ops = c.get(look)
        if ops is None:
            if look == _IDENTITY:
                return None
            ops = _LookOps(look, self.size)
            c[look] = ops
            if len(c) > self.look_cache:
                c.popitem(last=False)
        else:
            c.move_to_end(look)
        return ops

    def _noise_bank(self) -> np.ndarray:
        if self._noise is None:
            S = self.size
            # A fixed bank of unit Gaussian luma fields; each frame picks one by hash, which
            # is deterministic per frame and ~20x cheaper than drawing fresh normals.
            self._noise = _rng(_SALT_BANK, S, 1).standard_normal((128, S, S)).astype(np.float32)
        return self._noise

    def _apply_looks(self, out: np.ndarray, kinds: np.ndarray, seeds: np.ndarray, t: np.ndarray, looks: list[Look | None]) -> None:
        ops_of = self._ops
        idx: list[int] = []
        ops: list[_LookOps] = []
        for i, lk in enumerate(looks):
            if lk is not None:
                o = ops_of(lk)
                if o is not None:
                    idx.append(i)
                    ops.append(o)
        if not idx:
            return
        ia = np.asarray(idx)
        # Noise field per frame: hash of (look, kind, seed, exact t), so it is fixed per frame.
        dig = np.array([o.digest for o in ops], dtype=np.uint64)
        pick = (_vmix(_SALT_NOISE, dig, kinds[ia], seeds[ia], t[ia].view(np.uint64)) % np.uint64(128)).astype(np.intp).tolist()
        # Chunks of 16 frames keep every temporary in L2 and below malloc's mmap threshold;
        # whole-batch temporaries (MBs each) cost more in page faults than in arithmetic.
        for a in range(0, len(idx), _CHUNK):
            self._look_chunk(out, ia[a : a + _CHUNK], ops[a : a + _CHUNK], pick[a : a + _CHUNK])

    def _look_chunk(self, out: np.ndarray, ia: np.ndarray, ops: list[_LookOps], pick: list[int]) -> None:
        S, H = self.size, self.size // 2
        n = len(ia)
        matmul = np.matmul
        # Colour matrix (to YCbCr, contrast, hue) on input; linear, so it commutes with geometry.
        x = matmul(out[ia].reshape(n, S * S, 3).astype(np.float32), np.stack([o.mat for o in ops]))
        x = x.reshape(n, S, S, 3)
        yin = np.ascontiguousarray(x[..., 0])
        cin = np.ascontiguousarray(x[..., 1:].transpose(0, 1, 3, 2)).reshape(n, S, 2 * S)
        y = np.empty((n, S, S), np.float32)
        c = np.empty((n, H, 2, H), np.float32)
        cv = c.reshape(n, S, H)
        for j, o in enumerate(ops):
            # Per-frame GEMMs: stacking per-frame matrices cost more than the call overhead.
            if o.fast:
                matmul(matmul(o.ry, yin[j]), o.rxt, out=y[j])
                matmul(matmul(o.ryc, cin[j]).reshape(S, S), o.rxct, out=cv[j])
            else:
                p = self._slow_geometry(np.ascontiguousarray(x[j].transpose(2, 0, 1)), o)
                y[j] = p[0]
                ch = p[1:]  # (2, S, S) -> 4:2:0 layout (H, 2, H)
                c[j] = (0.25 * (ch[:, 0::2, 0::2] + ch[:, 1::2, 0::2] + ch[:, 0::2, 1::2] + ch[:, 1::2, 1::2])).transpose(1, 0, 2)
        # Brightness/contrast offset (luma only); +0.5 makes the final float->uint8 cast round.
        y += np.array([o.offset + 0.5 for o in ops], np.float32)[:, None, None]
        for j, o in enumerate(ops):
            if o.overlay is not None:  # the watermark goes on after the colour change
                r0, r1, keep, add, keep_c, add_c = _overlay(S, o.overlay)
                v = y[j, r0:r1]
                v *= keep
                v += add
                v = c[j, r0 // 2 : r1 // 2]
                v *= keep_c
                v += add_c
        sig = [o.sigma for o in ops]
        if any(sig):
            bank = self._noise_bank()
            for j in range(n):
                if sig[j]:
                    y[j] += bank[pick[j]] * sig[j]
        jq = [j for j in range(n) if ops[j].jpeg is not None]
        if jq:
            ja = np.asarray(jq) if len(jq) < n else slice(None)
            tabs = np.stack([_jpeg_tables(ops[j].jpeg) for j in jq])
            y[ja] = _jpeg_luma(y[ja], tabs[:, 0], tabs[:, 1])
            c[ja] = _jpeg_chroma(c[ja], tabs[:, 2], tabs[:, 3])
        # YCbCr -> RGB; chroma repeated along x once, then broadcast over row pairs so every
        # numpy inner loop runs along a full row.
        cx = c.repeat(2, axis=3)
        cb = cx[:, :, 0:1, :]
        cr = cx[:, :, 1:2, :]
        y4 = y.reshape(n, H, 2, S)
        rgb = np.empty((n, S, S, 3), np.float32)
        v = rgb.reshape(n, H, 2, S, 3)
        np.add(y4, 1.402 * cr, out=v[..., 0])
        np.subtract(y4, 0.344136 * cb + 0.714136 * cr, out=v[..., 1])
        np.add(y4, 1.772 * cb, out=v[..., 2])
        np.clip(rgb, 0, 255, out=rgb)
        out[ia] = rgb

    def _slow_geometry(self, x: np.ndarray, o: _LookOps) -> np.ndarray:
        """Per-frame geometry for rotation / blurred padding: planar x (3, S, S) -> (3, S, S)."""
        S = self.size

        def sep(ry: np.ndarray, rx: np.ndarray, v: np.ndarray) -> np.ndarray:
            return np.matmul(np.matmul(ry, v), rx.T)  # per-plane 64^3 GEMMs: single-threaded

        p = sep(o.pre_y, o.pre_x, x)
        if o.rot:
            gi, gw = _rot_map(S, o.rot)
            p = (p.reshape(3, S * S)[:, gi] * gw).sum(1).reshape(3, S, S)
        if o.pad_op is not None:
            inner = sep(o.pad_op, o.pad_op, p)
            if o.blur:
                g = _blur_op(S)
                inside = o.pad_op.sum(1) > 0
                inner += sep(g, g, p) * ~(inside[:, None] & inside[None, :])
            p = inner
        if o.scale_op is not None:
            p = sep(o.scale_op, o.scale_op, p)
        return p


@lru_cache(maxsize=4096)
def _clip_schedule(clip_id: int) -> tuple[float, np.ndarray]:
    """Loop length and shot start times of a clip (2-5 min, shots 8-20 s)."""
    r = _rng(_SALT_CLIP, clip_id)
    loop = float(r.uniform(*_CLIP_LOOP))
    d = r.uniform(*_CLIP_SHOT, size=64)
    starts = np.concatenate([[0.0], np.cumsum(d)])
    k = int(np.searchsorted(starts, loop - _CLIP_SHOT[0], side="right"))
    bounds = starts[:k]  # the last shot absorbs the remainder, so it is >= 8 s ...
    if loop - bounds[-1] > _CLIP_SHOT[1]:  # ... and is halved when that makes it > 20 s
        bounds = np.append(bounds, (bounds[-1] + loop) / 2)
    bounds.flags.writeable = False
    return loop, bounds


def clip_shots(clip_id: int) -> tuple[float, np.ndarray]:
    """Public view of a clip's loop length (s) and shot start times (s)."""
    loop, b = _clip_schedule(int(clip_id))
    return loop, b.copy()


def sample_frames(n: int, size: int = 64, seed: int = 0) -> np.ndarray:
    """n distinct realistic frames of mixed honest kinds (for benchmarks)."""
    r = _rng(_SALT_ROOM, seed, n)
    kinds = np.asarray(HONEST_KINDS)[r.integers(0, len(HONEST_KINDS), n)]
    seeds = r.permutation(np.arange(n, dtype=np.int64) * 7919 + int(r.integers(0, 2**40)))
    t = r.uniform(0, 3600, n)
    # Every frame is its own room, so the cache only needs to hold one chunk.
    rend = Renderer(size, cache_entries=4096)
    out = np.empty((n, size, size, 3), np.uint8)
    for a in range(0, n, 4096):
        out[a : a + 4096] = rend.render(kinds[a : a + 4096], seeds[a : a + 4096], t[a : a + 4096], None)
    return out

"""Base images of shots: one procedural generator per kind of room (honest kinds, events, clips)."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from floodwall.sim.render.mix import CHAT, CLIP, GAMER, MERCHANT, OUTDOOR
from floodwall.sim.render.draw import (
    _BLACK, _BOTTLE, _CONE, _Ctx, _DIAM, _ELL, _PERSON, _RECT, _RING, _TREE, _TRI, _WHITE, _field,
    _glyphs, _hsv, _person, _put, _rect, _rgb, _up_matrix,
)


def _gen_merchant(c: _Ctx) -> None:
    B, img = c.B, c.img
    wall = _hsv(c.pal[0], 0.05 + 0.25 * c.pal[1], 0.55 + 0.4 * c.pal[2])
    img[:] = _field(B, 3, c.jitter(wall, 3, 60))
    ty = B * c.u(0.55, 0.74)
    if c.u() < 0.5:  # shelf of goods behind the presenter
        sy = B * c.u(0.08, 0.3)
        _rect(img, sy, B * c.u(0, 0.4), B * 0.05, B * c.u(0.3, 0.6), c.col(s=(0.1, 0.4), v=(0.2, 0.6)))
        for _ in range(c.i(2, 6)):
            _put(img, _RECT if c.u() < 0.6 else _BOTTLE, sy - B * 0.12, B * c.u(0, 0.9), B * 0.12, B * c.u(0.04, 0.09), c.col())
    else:  # poster
        _rect(img, B * c.u(0.05, 0.2), B * c.u(0.05, 0.7), B * c.u(0.2, 0.35), B * c.u(0.2, 0.3), c.col(v=(0.3, 1.0)))
    pw = B * c.u(0.35, 0.55)
    _person(c, img, B * c.u(0.2, 0.8), ty + B * 0.05, pw, B * c.u(0.5, 0.7))
    tcol = c.col(h=[0.08, 0.0, 0.6, c.u()][c.i(0, 4)], s=(0.05, 0.7), v=(0.2, 0.95))
    t0 = int(ty)
    img[:, t0:] = tcol
    img[:, t0 : t0 + 2] = np.minimum(tcol * 1.35 + 20, 255)
    if c.u() < 0.4:  # cloth stripes
        img[:, t0 + 3 :: 6] = c.col()
    n = c.i(3, 7)
    for x in sorted(c.u(0.0, 0.9) for _ in range(n)):
        w = B * c.u(0.08, 0.18)
        h = B * c.u(0.1, 0.32)
        shape = [_RECT, _BOTTLE, _ELL, _RECT][c.i(0, 4)]
        y = ty + B * c.u(0.0, 0.12) - h
        _put(img, shape, y, x * B, h, w, c.col(s=(0.5, 1.0), v=(0.4, 1.0)))
        if shape != _ELL:  # label band
            _rect(img, y + h * c.u(0.35, 0.55), x * B, h * 0.22, w, c.col(s=(0.0, 0.3), v=(0.8, 1.0)))
    for _ in range(c.i(1, 4)):  # price tags
        th, tw = B * c.u(0.07, 0.11), B * c.u(0.13, 0.22)
        ty2, tx = B * c.u(0.05, 0.88), B * c.u(0.0, 0.85)
        k = c.i(0, 3)
        _rect(img, ty2, tx, th, tw, [_rgb(255, 230, 40), _rgb(250, 250, 245), _rgb(220, 30, 40)][k])
        _glyphs(c, ty2 + th * 0.2, tx + tw * 0.1, th * 0.6, 4, _rgb(20, 20, 25) if k < 2 else _WHITE)
    if c.u() < 0.5:  # sale banner
        _rect(img, 0, 0, B * 0.1, B, c.col(h=c.pal[3], s=(0.7, 1.0), v=(0.6, 1.0)))
        _glyphs(c, B * 0.02, B * c.u(0.05, 0.4), B * 0.06, c.i(4, 9), _WHITE)


@lru_cache(maxsize=8)
def _bevel(B: int, T: int) -> np.ndarray:
    """Multiplicative tile shading (B, B) so tile maps read as tiles, not flat blocks."""
    p = np.ones(T, np.float32)
    p[0] = 1.25
    p[-1] = 0.7
    row = np.tile(p, B // T + 1)[:B]
    return (row[:, None] * 0.5 + row[None, :] * 0.5).astype(np.float32)


def _gen_gamer(c: _Ctx) -> None:
    B, img = c.B, c.img
    T = 8
    nt = (B + T - 1) // T
    pal = np.stack([c.col(h=c.pal[0] + k * (0.15 + 0.2 * c.pal[1]), s=(0.3, 1.0), v=(0.15, 0.95))[:, 0, 0] for k in range(6)])
    if c.u() < 0.5:  # side-scroller: sky, platforms, ground
        idx = np.zeros((nt, nt), np.int64)
        ground = c.vals(nt)
        for j in range(nt):
            gh = int(nt * (0.65 + 0.25 * ground[j]))
            idx[gh:, j] = 1
            idx[gh, j] = 2
        for _ in range(c.i(2, 5)):
            py, px, pl = c.i(2, nt - 4), c.i(0, nt - 2), c.i(2, 5)
            idx[py, px : px + pl] = 3
    else:  # top-down map: thresholded random field -> terrain classes
        f = _field(nt, 3, c.vals(9).reshape(1, 3, 3))[0] + c.vals(nt * nt).reshape(nt, nt) * 0.35
        idx = np.minimum((f * 4.0).astype(np.int64), 5)
    img[:] = pal.T[:, idx].repeat(T, 1).repeat(T, 2)[:, :B, :B]
    img *= _bevel(B, T)
    for _ in range(c.i(3, 7)):  # sprites with dark outline
        s = B * c.u(0.08, 0.14)
        y, x = B * c.u(0.15, 0.85), B * c.u(0.0, 0.9)
        shape = [_ELL, _DIAM, _PERSON, _RECT][c.i(0, 4)]
        _put(img, shape, y - 1, x - 1, s + 2, s * 0.8 + 2, _BLACK)
        _put(img, shape, y, x, s, s * 0.8, c.col(s=(0.7, 1.0), v=(0.8, 1.0)))
    top = B * 0.1
    reg = img[:, : int(top)]  # translucent HUD bar
    reg *= 0.3
    reg += _rgb(15, 15, 22) * 0.7
    hl = B * c.u(0.15, 0.35)
    _rect(img, top * 0.25, B * 0.03, top * 0.5, hl, _rgb(220, 30, 30))
    _rect(img, top * 0.25, B * 0.03 + hl, top * 0.5, B * 0.35 - hl, _rgb(60, 60, 60))
    _glyphs(c, top * 0.2, B * c.u(0.55, 0.7), top * 0.6, c.i(3, 7), _rgb(250, 240, 120))
    mm = B * c.u(0.18, 0.26)
    corner = c.i(0, 2)
    my, mx = B - mm - 2, (2 if corner else B - mm - 2)
    _rect(img, my, mx, mm, mm, _rgb(25, 30, 35))  # minimap
    for _ in range(5):
        _rect(img, my + c.u(0.1, 0.85) * mm, mx + c.u(0.1, 0.85) * mm, 2, 2, c.col(v=(0.9, 1.0)))
    if c.u() < 0.45:  # face-cam box
        fw = B * c.u(0.22, 0.3)
        fx = B - fw - 2 if corner else 2
        fy = top + 2
        _rect(img, fy, fx, fw, fw, c.col(s=(0.0, 0.3), v=(0.3, 0.7)))
        sub = img[:, int(fy) : int(fy + fw), int(fx) : int(fx + fw)]
        _person(c, sub, fw * 0.5, fw, fw * 0.8, fw * 0.75)


def _gen_chat(c: _Ctx) -> None:
    B, img = c.B, c.img
    wall = _hsv(c.pal[0], 0.1 + 0.4 * c.pal[1], 0.3 + 0.6 * c.pal[2])
    img[:] = _field(B, 3, c.jitter(wall, 3, 50))
    if c.u() < 0.6:
        img[:, int(B * c.u(0.75, 0.9)) :] = c.col(h=0.08, s=(0.2, 0.6), v=(0.2, 0.6))
    for _ in range(c.i(2, 5)):
        kind = c.i(0, 5)
        x, y = B * c.u(0.0, 0.8), B * c.u(0.05, 0.5)
        if kind == 0:  # shelf with books
            w = B * c.u(0.25, 0.45)
            _rect(img, y + B * 0.14, x, B * 0.03, w, c.col(h=0.08, s=(0.3, 0.7), v=(0.2, 0.5)))
            bx = x
            while bx < x + w - 2:
                bw = B * c.u(0.025, 0.05)
                bh = B * c.u(0.08, 0.14)
                _rect(img, y + B * 0.14 - bh, bx, bh, bw, c.col(v=(0.3, 0.9)))
                bx += bw + 1
        elif kind == 1:  # door
            _rect(img, y, x, B * 0.7, B * 0.22, c.col(h=0.08, s=(0.2, 0.6), v=(0.25, 0.7)))
            _put(img, _ELL, y + B * 0.35, x + B * 0.17, 3, 3, _rgb(220, 200, 90))
        elif kind == 2:  # framed picture
            w, h = B * c.u(0.15, 0.3), B * c.u(0.12, 0.25)
            _rect(img, y - 1, x - 1, h + 2, w + 2, _rgb(30, 25, 20))
            sub = img[:, int(y) : int(y + h), int(x) : int(x + w)]
            if sub.size:
                sub[:] = c.col()
                _put(sub, _TRI, sub.shape[1] * 0.3, 0, sub.shape[1] * 0.7, sub.shape[2], c.col())
        elif kind == 3:  # lamp
            _put(img, _ELL, y, x, B * 0.2, B * 0.2, _rgb(255, 245, 200), 0.5)
            _put(img, _ELL, y + B * 0.05, x + B * 0.05, B * 0.1, B * 0.1, _rgb(255, 250, 230))
        else:  # plant
            _put(img, _TREE, y + B * 0.2, x, B * 0.3, B * 0.2, c.col(h=0.3, s=(0.5, 0.9), v=(0.3, 0.7)))
    if c.u() < 0.5:  # RGB LED strip, a streamer classic
        _rect(img, B * c.u(0.0, 0.1), 0, 2, B, c.col(s=(0.9, 1.0), v=(0.9, 1.0)))
    _person(c, img, B * c.u(0.3, 0.7), B * 1.05, B * c.u(0.45, 0.75), B * c.u(0.6, 0.85))
    if c.u() < 0.4:  # microphone on a boom
        mx = B * c.u(0.1, 0.8)
        _rect(img, B * 0.7, mx + 2, B * 0.3, 2, _rgb(30, 30, 30))
        _put(img, _ELL, B * 0.6, mx, B * 0.12, 7, _rgb(40, 40, 45))


@lru_cache(maxsize=8)
def _ramp(B: int) -> np.ndarray:
    """Vertical 0..1 ramp (B, 1) for sky gradients."""
    return np.linspace(0, 1, B, dtype=np.float32)[:, None]


def _gen_outdoor(c: _Ctx) -> None:
    B, img = c.B, c.img
    style = c.i(0, 3)  # 0 day, 1 sunset, 2 overcast
    top = [_hsv(0.6, c.u(0.5, 0.8), c.u(0.6, 0.9)), _hsv(c.u(0.7, 0.8), 0.6, 0.5), _hsv(0.6, 0.05, c.u(0.5, 0.7))][style]
    bot = [_hsv(0.55, 0.25, 0.95), _hsv(c.u(0.02, 0.1), 0.7, 0.95), _hsv(0.6, 0.03, c.u(0.7, 0.85))][style]
    img[:] = top + (bot - top) * _ramp(B)
    for _ in range(c.i(0, 5)):  # clouds
        w = B * c.u(0.15, 0.4)
        _put(img, _ELL, B * c.u(0.0, 0.3), B * c.u(-0.1, 0.9), w * c.u(0.3, 0.5), w, _WHITE, c.u(0.5, 0.9))
    if style == 1 or c.u() < 0.3:  # sun
        s = B * c.u(0.08, 0.15)
        _put(img, _ELL, B * c.u(0.1, 0.35), B * c.u(0.1, 0.8), s, s, _rgb(255, 240, 190))
    yy = np.arange(B, dtype=np.float32)[:, None]
    hz = c.u(0.35, 0.6)
    far = B * (hz - 0.05 - 0.2 * (_up_matrix(B, 7) @ c.vals(7)))
    np.copyto(img, _hsv(c.u(0.55, 0.7), c.u(0.1, 0.4), c.u(0.35, 0.65)), where=yy >= far)
    near = B * (hz + 0.06 * (_up_matrix(B, 5) @ c.vals(5)))
    gcol = _hsv([0.28, 0.1, 0.14, 0.3][c.i(0, 4)], c.u(0.35, 0.8), c.u(0.3, 0.6))
    np.copyto(img, _field(B, 4, c.jitter(gcol, 4, 70)), where=yy >= near)
    if c.u() < 0.3:  # water band with light streaks
        wy = B * c.u(0.75, 0.88)
        _rect(img, wy, 0, B, B, _hsv(0.58, 0.5, 0.55))
        for k in range(int(wy) + 2, B, 4):
            _rect(img, k, B * c.u(0, 0.6), 1, B * c.u(0.1, 0.4), _hsv(0.55, 0.2, 0.85))
    if c.u() < 0.35:  # city skyline with lit windows
        x = 0.0
        wc = _rgb(250, 230, 150)
        while x < B:
            w, h = B * c.u(0.08, 0.18), B * c.u(0.1, 0.4)
            y = near[min(int(x), B - 1)] - h
            _rect(img, y, x, h + 2, w, _hsv(c.u(0.55, 0.65), c.u(0.0, 0.2), c.u(0.2, 0.5)))
            img[:, max(int(y) + 2, 0) : int(y + h) : 3, max(int(x) + 2, 0) : int(x + w) - 1 : 3] = wc
            x += w + c.u(0, 4)
    for _ in range(c.i(4, 13)):  # trees
        x = B * c.u(-0.05, 0.95)
        s = B * c.u(0.1, 0.35)
        base = near[min(max(int(x + s / 3), 0), B - 1)] + B * c.u(0.0, 0.3)
        tc = _hsv(c.u(0.22, 0.38), c.u(0.4, 0.9), c.u(0.15, 0.5))
        _put(img, _CONE if c.u() < 0.5 else _TREE, base - s, x, s, s * c.u(0.45, 0.75), tc)


def _gen_event(c: _Ctx, ev: list[float]) -> None:
    """ev: per-event constants (style, team colours) shared by every shot of the event."""
    B, img = c.B, c.img
    white = _rgb(240, 240, 240)
    if ev[0] < 0.6:  # sports: stands, ad boards, striped pitch, players, score bug
        close = c.u() < 0.35
        stripe = max(B // (6 if close else 10), 1)
        g0 = _hsv(0.3 + 0.04 * ev[1], 0.6, 0.55)
        img[:] = g0
        for k in range(stripe, B, 2 * stripe):  # mowing stripes
            img[:, :, k : k + stripe] *= 0.85
        cy = int(B * c.u(0.15, 0.3)) if not close else int(B * c.u(0.0, 0.12))
        if cy > 0:
            # Crowd: 2-px mosaic of shirt colours, dimmed.
            ch = (cy + 1) // 2
            m = c.vals(3 * ch * (B // 2)).reshape(3, ch, B // 2) * 140 + 15
            img[:, :cy] = m.repeat(2, 1).repeat(2, 2)[:, :cy]
            bh = max(2, int(B * 0.05))
            x = 0.0
            while x < B:  # advertising boards
                w = B * c.u(0.15, 0.3)
                bc = _hsv(c.u(), c.u(0.5, 1.0), c.u(0.5, 1.0))
                _rect(img, cy, x, bh, w, bc)
                _glyphs(c, cy + 1, x + 2, bh - 2, int(w / 3), white if bc.mean() < 140 else _BLACK)
                x += w
            cy += bh
        lx = B * c.u(0.1, 0.9)
        lw = 2 if not close else 3
        _rect(img, cy, lx, B, lw, white)
        r = B * c.u(0.25, 0.5)
        _put(img, _RING, B * c.u(0.3, 0.7) - r / 2, lx - r / 2, r, r * 1.4, white, 0.9)
        _rect(img, cy + 1, 0, lw, B, white)
        if c.u() < 0.6:  # penalty box
            bx = B * (c.u(-0.1, 0.1) if c.u() < 0.5 else c.u(0.7, 0.9))
            _rect(img, B * c.u(0.35, 0.5), bx, lw, B * 0.3, white)
            _rect(img, B * c.u(0.35, 0.5), bx + B * 0.3, B * 0.4, lw, white)
        tc = [_hsv(ev[2], 0.85, 0.9), _hsv(ev[3], 0.8, 0.35 + 0.6 * ev[4])]
        shorts = [_WHITE, _rgb(20, 20, 30)]
        for k in range(c.i(6, 14) if not close else c.i(2, 5)):
            s = B * (c.u(0.1, 0.18) if not close else c.u(0.25, 0.45))
            py, px = B * c.u(0.35, 0.95) - s, B * c.u(-0.05, 0.95)
            _put(img, _RECT, py + s * 0.85, px + s * 0.14, s * 0.3, s * 0.27, shorts[k % 2])
            _put(img, _PERSON, py, px, s * 0.9, s * 0.55, tc[k % 2])
        _put(img, _ELL, B * c.u(0.4, 0.9), B * c.u(0.1, 0.9), 3, 3, white)  # ball
        _rect(img, B * 0.04, B * 0.04, B * 0.09, B * 0.4, _rgb(20, 20, 60))  # score bug
        _rect(img, B * 0.04, B * 0.04, B * 0.09, B * 0.06, tc[0])
        _glyphs(c, B * 0.055, B * 0.12, B * 0.06, 7, white)
    else:  # concert: dark stage, light rig, beams, LED screen, performers, crowd
        img[:] = _field(B, 3, c.jitter(_hsv(ev[1], 0.6, 0.15) + 20, 3, 40))
        sx, sw = B * c.u(0.1, 0.35), B * c.u(0.35, 0.55)
        _rect(img, B * 0.12, sx, B * 0.35, sw, _hsv(ev[2] + c.u(-0.1, 0.1), 0.7, 0.8))
        for _ in range(c.i(4, 9)):  # visuals on the LED screen
            s = B * c.u(0.05, 0.15)
            _put(img, [_ELL, _DIAM, _RING][c.i(0, 3)], B * c.u(0.12, 0.4), sx + c.u(0, sw - s), s, s, c.col(s=(0.6, 1.0), v=(0.7, 1.0)))
        lamp = _rgb(255, 250, 220)
        for k in range(int(B // 6)):  # light rig
            _put(img, _ELL, B * 0.03, k * 6 + 1, 3, 3, lamp)
        for _ in range(c.i(4, 8)):  # beams
            w = B * c.u(0.12, 0.3)
            _put(img, _TRI, B * 0.04, B * c.u(-0.1, 0.9), B * c.u(0.5, 0.9), w, _hsv(ev[3] + c.u(-0.15, 0.15), 0.6, 1.0), c.u(0.3, 0.6))
        _rect(img, B * 0.62, 0, B, B, _rgb(35, 30, 40))
        for _ in range(c.i(1, 4)):
            s = B * c.u(0.3, 0.5)
            _put(img, _PERSON, B * 0.62 - s * 0.9, B * c.u(0.1, 0.8), s, s * 0.45, _rgb(15, 12, 20))
        for _ in range(c.i(15, 30)):  # confetti / pyro sparks
            _rect(img, B * c.u(0.0, 0.6), B * c.u(0.0, 1.0), 2, 2, c.col(s=(0.0, 1.0), v=(0.8, 1.0)))
        phone = _rgb(230, 240, 255)
        for _ in range(32):  # crowd heads, rim-lit by the stage colours, and raised phones
            s = B * c.u(0.07, 0.15)
            hx = B * c.u(-0.05, 1.0)
            _put(img, _ELL, B * c.u(0.7, 0.95), hx, s, s * 0.9, _hsv(ev[3] + c.u(-0.2, 0.2), c.u(0.3, 0.9), c.u(0.03, 0.4)))
            if c.u() < 0.3:
                _rect(img, B * c.u(0.62, 0.8), hx, 3, 2, phone)


@lru_cache(maxsize=8)
def _grids(B: int) -> tuple[np.ndarray, np.ndarray]:
    """Row and column index grids (B, 1), (1, B)."""
    return np.arange(B)[:, None], np.arange(B)[None, :]


def _gen_clip(c: _Ctx) -> None:
    """Abstract high-contrast stand-in for contraband video: bold geometric shapes only."""
    B, img = c.B, c.img
    bg = [_rgb(5, 5, 8), _rgb(245, 245, 240), c.col(s=(0.8, 1.0), v=(0.5, 1.0))][c.i(0, 3)]
    img[:] = _field(B, 2, c.jitter(bg, 2, 80))
    yy, xx = _grids(B)
    # A couple of large forms, then many small ones: busy compositions keep PDQ stable
    # under watermarks and crops (few-big-shape frames lost ~20 % more mild copies).
    n_big = c.i(1, 3)
    for k in range(n_big + c.i(12, 20)):
        kind = c.i(0, 6)
        if c.u() < 0.8:
            col = c.col(s=(0.7, 1.0), v=(0.6, 1.0))
        else:
            col = _rgb(*[c.u(0, 30)] * 3) if c.u() < 0.5 else _WHITE
        s = B * (c.u(0.45, 0.8) if k < n_big else c.u(0.1, 0.35))
        y, x = B * c.u(-0.2, 0.95), B * c.u(-0.2, 0.95)
        if kind == 0:
            _put(img, _ELL, y, x, s, s * c.u(0.7, 1.3), col)
        elif kind == 1:
            _put(img, _RING, y, x, s, s, col)
        elif kind == 2:
            _put(img, _TRI, y, x, s, s * c.u(0.8, 1.4), col)
        elif kind == 3:  # bar
            if c.u() < 0.5:
                _rect(img, y, 0, B * c.u(0.04, 0.1), B, col)
            else:
                _rect(img, 0, x, B, B * c.u(0.04, 0.1), col)
        elif kind == 4:  # checker / stripe patch
            p = c.i(3, 7)
            y0, x0 = max(int(y), 0), max(int(x), 0)
            y1, x1 = min(int(y + s), B), min(int(x + s), B)
            if y0 < y1 and x0 < x1:
                if c.u() < 0.5:
                    m = ((yy[y0:y1] // p + xx[:, x0:x1] // p) % 2) == 0
                else:
                    m = ((yy[y0:y1] + xx[:, x0:x1]) // p) % 2 == 0
                np.copyto(img[:, y0:y1, x0:x1], col, where=m)
        else:
            _put(img, _DIAM, y, x, s, s, col)


_GENERATORS = {MERCHANT: _gen_merchant, GAMER: _gen_gamer, CHAT: _gen_chat, OUTDOOR: _gen_outdoor, CLIP: _gen_clip}

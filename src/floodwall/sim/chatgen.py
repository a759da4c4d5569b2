"""Chat lines for simulated rooms: honest chatter, and coded lines steering viewers off-platform.

Written apart from the classifier's labelled set, so the replay does not test the classifier on
its own training lines.
"""

from __future__ import annotations

import numpy as np

_HONEST = [
    "主播好漂亮", "这个多少钱", "已下单，期待", "666666", "哈哈哈笑死我了", "晚上好各位",
    "can you show the blue one again", "gg well played", "这个颜色有货吗", "主播几点下播",
    "刚来，错过了什么", "上链接吧", "first time here, love the stream", "what server are you on",
    "这首歌叫什么名字", "风景太美了", "在哪里拍的", "明天还播吗", "加油加油", "主播声音好好听",
    "买了三件了", "小黄车里第几个", "nice shot!", "lol that was close", "关注了", "求回放",
    "价格能便宜点吗", "包邮吗", "家人们冲", "这局稳了", "天气真好", "下雨了吗那边",
    "that combo was insane", "主播今天状态好", "多少度", "这是哪个城市", "点赞了",
]

_PLATFORMS = ["vx", "薇", "V信", "qq", "扣扣", "tg", "t.me", "飞机", "微 信", "w x"]
_CALLS = ["加", "私我", "看主页", "滴滴", "找我", "来", "戳", "add"]
_ZW = "\u200b"


def _digits(rng: np.random.Generator, n: int) -> str:
    return "".join(str(int(d)) for d in rng.integers(0, 10, n))


def _obfuscate(rng: np.random.Generator, s: str) -> str:
    mode = int(rng.integers(0, 5))
    if mode == 0:
        return " ".join(s)
    if mode == 1:
        return _ZW.join(s)
    if mode == 2:
        words = "零一二三四五六七八九"
        return "".join(words[int(c)] if c.isdigit() else c for c in s)
    if mode == 3:
        return "".join(f"{c}\ufe0f\u20e3" if c.isdigit() else c for c in s)
    return s.replace("o", "0").replace("e", "3")


def coded_line(rng: np.random.Generator) -> str:
    """A line steering viewers to an outside contact, written to slip past filters."""
    plat = _PLATFORMS[int(rng.integers(0, len(_PLATFORMS)))]
    call = _CALLS[int(rng.integers(0, len(_CALLS)))]
    handle = _obfuscate(rng, _digits(rng, int(rng.integers(6, 11))))
    forms = [
        f"{call}{plat} {handle}",
        f"完整版{call}{plat}：{handle}",
        f"想看更多的{call} {plat} {handle} 免费",
        f"{plat}{handle}",
        f"more vids {plat} {handle}",
        f"去{plat}搜 {handle} 有惊喜",
    ]
    return forms[int(rng.integers(0, len(forms)))]


_HOMOGLYPHS = {"v": "ѵ", "x": "х", "q": "ԛ", "t": "т", "g": "ɡ", "w": "ա", "e": "е", "o": "о", "a": "а",
               "c": "с", "p": "р", "微": "徾", "信": "言", "薇": "蔵", "加": "伽", "扣": "叩"}


def obfuscated(rng: np.random.Generator, line: str) -> str:
    """The line again in look-alike letters, with its digits spaced out or full-width."""
    out = "".join(_HOMOGLYPHS.get(c, c) if rng.random() < 0.7 else c for c in line)
    if rng.random() < 0.5:
        return "".join(f"{c} " if c.isdigit() else c for c in out).rstrip()
    return "".join(chr(ord(c) + 0xFEE0) if c.isdigit() else c for c in out)


def honest_line(rng: np.random.Generator) -> str:
    """Ordinary chatter."""
    return _HONEST[int(rng.integers(0, len(_HONEST)))]

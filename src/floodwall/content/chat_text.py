"""Chat text normalisation: undo the evasions seen in the Kuaishou attack.

Zero-width and other invisible characters, homoglyphs, fullwidth / mathematical / circled letters,
leetspeak, digits written as words or emoji, spaced-out letters and spelled-out dots are undone,
while a separate digits view keeps handles and phone/QQ numbers.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Normalized", "analyze", "normalize"]

# ------------------------------------------------------------------------------------------
# Character-level folding
# ------------------------------------------------------------------------------------------

# Invisible code points that are not category Cf (which is stripped wholesale).
_EXTRA_INVISIBLE = {0x034F, 0x115F, 0x1160, 0x17B4, 0x17B5, 0x180B, 0x180C, 0x180D, 0x180E, 0x2800, 0x3164, 0xFFA0}
# Combining marks that only decorate Latin-like letters (diacritics, keycap enclosure U+20E3).
# Kana voicing marks (U+3099/309A) are deliberately not here so Japanese text survives.
_STRIP_MARK_RANGES = ((0x0300, 0x036F), (0x1AB0, 0x1AFF), (0x1DC0, 0x1DFF), (0x20D0, 0x20FF), (0xFE20, 0xFE2F))


def _is_invisible(c: str) -> bool:
    o = ord(c)
    return (
        0xFE00 <= o <= 0xFE0F
        or 0xE0100 <= o <= 0xE01EF
        or o in _EXTRA_INVISIBLE
        or unicodedata.category(c) == "Cf"
        or (unicodedata.category(c) == "Cc" and not c.isspace())  # NUL/STX etc. are never content
    )


def _is_strip_mark(c: str) -> bool:
    o = ord(c)
    return any(a <= o <= b for a, b in _STRIP_MARK_RANGES)


def _build_explicit() -> dict[str, str]:
    """Look-alike digits/letters that NFKC leaves alone (or folds to '(1)' / '1.')."""
    m: dict[str, str] = {}
    for i in range(10):  # ❶..❿, ➀..➉, ➊..➓ (10 -> "10")
        for base in (0x2776, 0x2780, 0x278A):
            m[chr(base + i)] = str(i + 1)
    for i in range(10):  # ⓫..⓴ = 11..20, ⓵..⓾ = 1..10
        m[chr(0x24EB + i)] = str(i + 11)
        m[chr(0x24F5 + i)] = str(i + 1)
    m["\u24ff"] = "0"  # ⓿
    m["\U0001F10B"] = "0"
    m["\U0001F10C"] = "0"
    m["\U0001F51F"] = "10"  # 🔟
    for i in range(20):  # ⑴..⒇ and ⒈..⒛
        m[chr(0x2474 + i)] = str(i + 1)
        m[chr(0x2488 + i)] = str(i + 1)
    for i in range(26):
        letter = chr(97 + i)
        m[chr(0x249C + i)] = letter  # ⒜
        m[chr(0x1F110 + i)] = letter  # 🄐 parenthesized
        m[chr(0x1F150 + i)] = letter  # 🅐 negative circled
        m[chr(0x1F170 + i)] = letter  # 🅰 negative squared
    return m


_EXPLICIT = _build_explicit()

# Lowercase confusables -> ASCII.  Applied only inside tokens that are already (partly) Latin or
# entirely look-alike, so genuine Russian/Greek words are left alone.
_CONFUSABLE = {
    # Cyrillic
    "а": "a", "в": "b", "с": "c", "ԁ": "d", "е": "e", "г": "r", "һ": "h", "і": "i", "ј": "j", "к": "k",
    "ӏ": "l", "м": "m", "н": "h", "о": "o", "р": "p", "ԛ": "q", "ѕ": "s", "т": "t", "у": "y", "х": "x",
    "ԝ": "w", "п": "n", "ь": "b", "ү": "y", "ѵ": "v", "ɡ": "g",
    # Greek
    "α": "a", "β": "b", "γ": "y", "δ": "d", "ε": "e", "ζ": "z", "η": "n", "ι": "i", "κ": "k", "ν": "v",
    "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ω": "w", "μ": "u", "ϲ": "c", "ϳ": "j",
    # Armenian
    "ո": "n", "ս": "u", "հ": "h", "օ": "o", "զ": "q", "ց": "g",
    # Latin oddities and small capitals (IPA block)
    "ɑ": "a", "ı": "i", "ȷ": "j", "ɩ": "i", "ʀ": "r", "ᴀ": "a", "ʙ": "b", "ᴄ": "c", "ᴅ": "d", "ᴇ": "e",
    "ꜰ": "f", "ɢ": "g", "ʜ": "h", "ɪ": "i", "ᴊ": "j", "ᴋ": "k", "ʟ": "l", "ᴍ": "m", "ɴ": "n", "ᴏ": "o",
    "ᴘ": "p", "ǫ": "q", "ꜱ": "s", "ᴛ": "t", "ᴜ": "u", "ᴠ": "v", "ᴡ": "w", "ʏ": "y", "ᴢ": "z", "ø": "o",
    "đ": "d", "ħ": "h", "ł": "l",
}


@lru_cache(maxsize=1 << 16)
def _fold_char(c: str) -> tuple[str, str, bool]:
    """(plain fold, confusable fold, is_confusable) for one visible character."""
    if c in _EXPLICIT:
        v = _EXPLICIT[c]
        return v, v, False
    s = unicodedata.normalize("NFKC", c).lower()
    plain = "".join(ch for ch in unicodedata.normalize("NFD", s) if not _is_strip_mark(ch))
    conf = "".join(_CONFUSABLE.get(ch, ch) for ch in plain)
    return plain, conf, conf != plain


def _is_cjk(c: str) -> bool:
    o = ord(c)
    return 0x3400 <= o <= 0x9FFF or 0xF900 <= o <= 0xFAFF or 0x20000 <= o <= 0x2FFFF


_ASCII_ALNUM = re.compile(r"[a-z0-9]")
_OBF_OUT = re.compile(r"^[a-z0-9]*$")


def _fold(text: str) -> tuple[str, int, int, int, int]:
    """Strip invisibles and fold glyphs. Returns (text, invisible, changed, homoglyph, visible) counts."""
    invisible = 0
    kept: list[str] = []
    for c in text:
        if _is_invisible(c):
            invisible += 1
        else:
            kept.append(c)
    changed = homoglyph = visible = 0
    out: list[str] = []
    # Tokenise on whitespace so the confusable decision is made per word.
    for tok in re.split(r"(\s+)", "".join(kept)):
        if not tok:
            continue
        if tok.isspace():
            out.append(" ")
            continue
        folds = [_fold_char(c) for c in tok]
        use_conf = False
        if any(f[2] for f in folds):
            plain_tok = "".join(f[0] for f in folds)
            has_ascii = _ASCII_ALNUM.search("".join(f[0] for f in folds if not f[2])) is not None
            other_letters = any(
                ch.isalpha() and not ch.isascii() and not _is_cjk(ch) for f in folds if not f[2] for ch in f[0]
            )
            use_conf = has_ascii or (not other_letters and plain_tok != "")
        for c, (plain, conf, is_conf) in zip(tok, folds):
            res = conf if use_conf else plain
            visible += 1
            if res != c.lower() and (res == "" or _OBF_OUT.match(res)):
                changed += 1
                if use_conf and is_conf:
                    homoglyph += 1
            out.append(res)
    return unicodedata.normalize("NFC", "".join(out)), invisible, changed, homoglyph, visible


# ------------------------------------------------------------------------------------------
# String-level rewrites
# ------------------------------------------------------------------------------------------

_EN_DIGIT = {w: str(i) for i, w in enumerate(["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"])}
_EN_TOK = r"(?:zero|one|two|three|four|five|six|seven|eight|nine|\d+)"
_EN_RUN = re.compile(rf"(?<![a-z]){_EN_TOK}(?:[\s\-_.,·]*{_EN_TOK}){{2,}}(?![a-z])")
_EN_SPLIT = re.compile(_EN_TOK)

_ZH_DIGIT = {
    "零": "0", "〇": "0", "一": "1", "幺": "1", "壹": "1", "二": "2", "贰": "2", "貳": "2", "三": "3", "叁": "3",
    "參": "3", "四": "4", "肆": "4", "五": "5", "伍": "5", "六": "6", "陆": "6", "陸": "6", "七": "7", "柒": "7",
    "八": "8", "捌": "8", "九": "9", "玖": "9",
}
_ZH_CLASS = "".join(_ZH_DIGIT)
_ZH_RUN = re.compile(rf"[{_ZH_CLASS}0-9](?:[\s\-_.,·、]*[{_ZH_CLASS}0-9]){{2,}}")

# Space-separated single characters ("t e l e g r a m", "d i s c o r d . g g").
_SPACED = re.compile(r"(?<![a-z0-9])[a-z0-9./:@_+#-](?: [a-z0-9./:@_+#-]){2,}(?![a-z0-9])")
# Same-punctuation-separated single characters ("w.e.c.h.a.t", "j_e_s_s_y").
_PUNCT_RUN = re.compile(r"(?<![a-z0-9])[a-z0-9](?P<sep>[._\-·*~|+/])[a-z0-9](?:(?P=sep)[a-z0-9])*(?![a-z0-9])")
_CJK = r"\u3400-\u9fff\uf900-\ufaff"
_CJK_SEP = re.compile(rf"(?<=[{_CJK}])[\s·._\-*~|•]{{1,3}}(?=[{_CJK}])")
# Spelled-out dots; the right-hand side must start with a letter (TLDs do) to spare "9点30".
_DOTWORD = re.compile(
    r"(?<=[a-z0-9])(?:\s*[(\[{<]\s*(?:\.|dot|点|點|。)\s*[)\]}>]\s*|\s+dot\s+|\s*(?:点|點|。)\s*|[·•])(?=[a-z])"
)
_WS = re.compile(r"\s+")

_LEET = {"0": "o", "1": "i", "3": "e", "4": "a", "5": "s", "7": "t", "@": "a", "$": "s"}
_LEET_TOKEN = re.compile(r"[a-z0-9@$]+")
_ORDINAL = re.compile(r"^\d+(?:st|nd|rd|th|s)$")
# Words that decide whether a leet "1" was an "i" or an "l".
_LEET_KEYWORDS = (
    "telegram", "line", "link", "discord", "click", "whatsapp", "wechat", "weixin", "kik", "snapchat", "skype",
    "signal", "onlyfans", "online", "lily", "girl", "flirt", "leak", "live", "love", "lol", "vip", "hello",
    "free", "gift", "bonus", "bit", "tiktok", "instagram", "mail", "real", "full", "bili", "lulu", "private",
)


def _en_digit_words(s: str) -> tuple[str, int]:
    n = 0

    def rep(m: re.Match[str]) -> str:
        nonlocal n
        toks = _EN_SPLIT.findall(m.group(0))
        if all(t.isdigit() for t in toks):
            return m.group(0)  # plain numbers are not an evasion; the digits view joins them anyway
        n += 1
        return "".join(_EN_DIGIT.get(t, t) for t in toks)

    return _EN_RUN.sub(rep, s), n


def _zh_digit_words(s: str) -> tuple[str, int]:
    n = 0

    def rep(m: re.Match[str]) -> str:
        nonlocal n
        g = m.group(0)
        if sum(1 for ch in g if ch in _ZH_DIGIT) < 2:
            return g
        n += 1
        return "".join(_ZH_DIGIT.get(ch, ch) for ch in g if ch in _ZH_DIGIT or ch.isdigit())

    return _ZH_RUN.sub(rep, s), n


def _collapse(s: str) -> tuple[str, int]:
    n = 0

    def rep_space(m: re.Match[str]) -> str:
        nonlocal n
        g = m.group(0)
        if sum(ch.isalnum() for ch in g) < 2:
            return g
        n += 1
        return g.replace(" ", "")

    s = _SPACED.sub(rep_space, s)

    def rep_punct(m: re.Match[str]) -> str:
        nonlocal n
        g = m.group(0)
        chars = g[0::2]
        # Digit-only runs need 4+ singles so prices ("9.9") and scores ("3-1") survive.
        if not any(ch.isalpha() for ch in chars) and len(chars) < 4:
            return g
        n += 1
        return chars

    s = _PUNCT_RUN.sub(rep_punct, s)
    # Spelled dots after collapsing, so "q·i·n·g·1·7" is one run rather than mixed separators.
    s = _DOTWORD.sub(".", s)
    s, k = _CJK_SEP.subn("", s)
    return s, n + (1 if k else 0)


def _deleet_token(tok: str) -> str:
    if _ORDINAL.match(tok) or not any(ch.isalpha() for ch in tok):
        return tok
    chars = list(tok)
    L = len(chars)
    hit = [False] * L
    i = 0
    while i < L:
        if chars[i] in _LEET:
            j = i
            while j < L and chars[j] in _LEET:
                j += 1
            run = j - i
            left = chars[i - 1].isalpha() if i > 0 else False
            right = chars[j].isalpha() if j < L else False
            if left and right and run <= 2:
                # Inside a word ("t3l3gram"); long digit runs inside handles are kept.
                for k in range(i, j):
                    hit[k] = True
            elif i == 0 and run == 1 and chars[0] != "@" and L >= 3 and tok[1:].isalpha():
                hit[0] = True  # leading "4dd", "0nlyfans", "$nap"; "@name" stays a handle
            i = j
        else:
            i += 1
    if not any(hit):
        return tok
    variants = []
    for one in ("i", "l"):
        variants.append("".join((one if c == "1" else _LEET[c]) if h else c for c, h in zip(chars, hit)))
    if "1" in [c for c, h in zip(chars, hit) if h]:
        for v in variants:
            if any(k in v for k in _LEET_KEYWORDS):
                return v
    return variants[0]


def _deleet(s: str) -> tuple[str, int]:
    n = 0

    def rep(m: re.Match[str]) -> str:
        nonlocal n
        t = m.group(0)
        r = _deleet_token(t)
        if r != t:
            n += 1
        return r

    return _LEET_TOKEN.sub(rep, s), n


_DIGIT_GROUPS = re.compile(r"\d(?:[\s.\-_·/]{0,2}\d)*")


@dataclass(frozen=True, slots=True)
class Normalized:
    """Result of :func:`analyze`: the normalised text, its digits view and evasion counters."""

    original: str
    text: str
    digits: tuple[str, ...]
    invisible: int
    changed: int
    homoglyph: int
    spaced: int
    leet: int
    digit_words: int
    visible: int

    @property
    def obfuscation(self) -> float:
        """Share of visible characters that normalisation rewrote (plus invisibles), in [0, 1]."""
        total = max(1, self.visible + self.invisible)
        return min(1.0, (self.changed + self.invisible) / total)


def analyze(text: str) -> Normalized:
    """Normalise ``text`` and record which evasions were undone (see module docstring)."""
    s, invisible, changed, homoglyph, visible = _fold(text)
    s = _WS.sub(" ", s).strip()
    s, n_en = _en_digit_words(s)
    s, n_zh = _zh_digit_words(s)
    s, spaced = _collapse(s)
    s, leet = _deleet(s)
    s = _WS.sub(" ", s).strip()
    digits = tuple(re.sub(r"\D", "", g) for g in _DIGIT_GROUPS.findall(s))
    return Normalized(text, s, digits, invisible, changed, homoglyph, spaced, leet, n_en + n_zh, visible)


def normalize(text: str) -> str:
    """Undo chat evasions (invisibles, homoglyphs, leet, digit words, spacing, spelled dots); lowercase."""
    return analyze(text).text

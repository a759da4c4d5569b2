"""Chat / title classifier for coded diversion to outside platforms (contact steering, malicious links).

Three layers:

* :func:`normalize` / :func:`analyze` undo the evasions seen in the Kuaishou attack (zero-width and
  other invisible characters, homoglyphs, fullwidth / mathematical / circled letters, leetspeak,
  digits written as words or emoji, spaced-out letters, spelled-out dots) while keeping a separate
  digits view so handles and phone/QQ numbers survive.
* :func:`pattern_features` turns the normalised text into evidence: platform names and nicknames,
  calls to action, links, long digit runs, @handles and how obfuscated the line was.
* :class:`ChatClassifier`: plain-numpy logistic regression over hashed character 2-4 grams of the
  normalised text plus the pattern features, trained in-process (well under 2 s) on the shipped
  ``floodwall/data/chat_lines.tsv``.  Its decision threshold is chosen by cross-validation on the
  train split only.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np

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
]

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


# ------------------------------------------------------------------------------------------
# Pattern features
# ------------------------------------------------------------------------------------------

_APP = re.compile(
    r"telegram|telegrm|\btg\b|t\.me\b|电报|纸飞机|飞机(?:号|群|聊|搜|id|:|@)|(?:去|加|上|来|有|搜)飞机(?!场)"
    r"|wechat|weixin|\bwx\b|\bv\s?x\b|v信|微信|薇信|威信|徽信|危信|维信|卫星|(?:加|\+|➕)\s?(?:v|薇|微)"
    r"|\bq\s?q\b|扣扣|企鹅|\bq群|蔻蔻|抠抠"
    r"|whats\s?app|wa\.me\b|\bline\s?(?:id|:|@|号)|(?:加|add)\s?line\b|\bkik\b|snapchat|\bsnap\b|skype|\bsignal\b"
    r"|discord"
)
_MEDIA = re.compile(
    r"instagram|\binsta\b|\big\b|\bins\b|onlyfans|\bof\b|twitter|推特|油管|youtube|tiktok|douyin|抖音|微博|weibo"
    r"|b站|bilibili|小红书|xiaohongshu"
)
_NICK = re.compile(
    r"\bv\s?x\b|\bwx\b|v信|薇|威信|徽信|卫星|扣扣|企鹅|飞机|\btg\b|\bq群|同(?:手机)?号|👻|🐧|✈|🛩"
)
# Phrases that announce moving the conversation (or a deal) off the platform.
_OFFSITE = re.compile(
    r"私下|不走平台|站外|外站|平台外|这里不能说|这里说不了|(?:这里|直播间)?不方便(?:说|发)?|不让发|要被封|被封了|限流|"
    r"(?:kik|snap|line|telegram|whatsapp|wechat|ig|insta|signal|skype) me\b|dm for|link in bio|in (?:my )?bio"
)
_CTA = re.compile(
    r"add me|dm me|text me|message me|msg me|hit me up|contact me|find me|hmu|join my|dm for|"
    r"加我|加一下|私聊|私信|私我|主页|联系方式|联系我|找我|滴滴|戳我|速加|快加|备注|简介|头像|搜|同号|进群|加群|"
    r"(?:^|\s)(?:\+|➕)|去.{0,4}(?:聊|看)"
)
_LURE = re.compile(
    r"福利|资源|完整版|私房|一对一|兼职|日结|刷单|返利|代充|代练|彩票|菠菜|赚钱|网赚|红包|提现|彩金|稳赚|尺度|"
    r"私人|内部|懂的|惊喜|中奖|领取|usdt|free|nitro|crypto|bonus|giveaway|prize|claim|uncensored|exclusive|"
    r"premium|vip|private|signals|easy money|no limits|full (?:video|vid|clip)"
)
_URL = re.compile(r"https?:/{0,2}|www\.")
_SHORT = re.compile(
    r"\b(?:bit\.ly|t\.cn|tinyurl\.com|dwz\.cn|suo\.im|cutt\.ly|is\.gd|rb\.gy|url\.cn|goo\.gl|t\.co|ow\.ly|tiny\.cc"
    r"|v\.gd|shorturl\.at|s\.id)\b"
)
_TLDS = (
    "com|net|org|top|vip|xyz|cc|club|cn|me|site|app|link|info|io|gg|gift|co|ly|tv|live|shop|store|online|fun|icu|"
    "win|bet|pw|ws|to|su|ru|tk|ml|ga|cf|biz|pro|asia|hk|tw|us|uk|cloud|life|work|buzz|click|cyou|monster"
)
_DOMAIN = re.compile(rf"\b[a-z0-9][a-z0-9\-]{{0,40}}(?:\.[a-z0-9\-]+)*\.(?:{_TLDS})\b(?:/\S*)?")
_INVITE = re.compile(r"t\.me/|discord(?:\.gg|\.gift|app\.com/invite)/|wa\.me/|line\.me/|qm\.qq\.com")
_AT = re.compile(r"(?<![a-z0-9])@[a-z0-9_.]{3,}")
_AFTER = re.compile(r"^\s*(?:号码|号是|号|id|账号|搜|是|:|@|\+|\s)*\s*[@+]?[a-z0-9][a-z0-9_.\-]{3,}")
_BEFORE = re.compile(r"[a-z0-9_.\-]{4,}\s*(?:加|\+|➕)?\s*$")
_PHONE = re.compile(r"(?<!\d)(?:86)?1[3-9]\d{9}(?!\d)")
_EMAIL = re.compile(r"[a-z0-9._\-]+@[a-z0-9\-]+\.[a-z]{2,}")
_BENIGN = re.compile(
    r"(?:微信|wechat|qq|支付宝)\s?(?:支付|pay|区|红包|运动|音乐|邮箱|飞车|空间|视频号|朋友圈|扫码)|"
    r"(?:用|在)(?:抖音|微博|b站|小红书)|刷到|看到|上看到|(?:on|in) (?:douyin|tiktok|weibo|youtube|bilibili)"
)
_WARNING = re.compile(
    r"骗子|诈骗|别信|不要信|不要相信|别相信|不要加|谨防|防骗|警惕|当心|小心|钓鱼|举报|别点|"
    r"scam|report|\bban\b|don't click|do not click|ignore|spam|beware|房管"
)
_MERCHANT = re.compile(r"小黄车|号链接|下单|包邮|拍下|领券|库存|发货|运费|尺码|客服|店铺|\d+元|元\b|直播间专属|粉丝团")
_GAME = re.compile(r"游戏|区|服|server|clan|rank|天梯|段位|开黑|组队|求带")


def _informative(run: str) -> bool:
    """A digit run that could be a phone/QQ id: long, varied, not a count-up/down or '666666'."""
    if len(run) < 6 or len(set(run)) < 3:
        return False
    diffs = {(int(b) - int(a)) % 10 for a, b in zip(run, run[1:])}
    return not (len(diffs) == 1 and diffs <= {1, 9})


def pattern_matches(norm: Normalized) -> dict[str, list[str]]:
    """Named pattern hits on a normalised line (used as evidence in verdicts)."""
    t = norm.text
    out: dict[str, list[str]] = {}

    def add(name: str, rx: re.Pattern[str]) -> list[re.Match[str]]:
        ms = list(rx.finditer(t))
        if ms:
            out[name] = [m.group(0) for m in ms]
        return ms

    apps = add("platform_app", _APP)
    add("platform_media", _MEDIA)
    add("platform_nick", _NICK)
    add("call_to_action", _CTA)
    add("lure", _LURE)
    add("offsite_phrase", _OFFSITE)
    add("url", _URL)
    add("short_link", _SHORT)
    add("domain", _DOMAIN)
    add("invite_link", _INVITE)
    add("at_handle", _AT)
    add("phone", _PHONE)
    add("email", _EMAIL)
    add("benign_context", _BENIGN)
    add("warning", _WARNING)
    add("merchant_context", _MERCHANT)
    add("game_context", _GAME)
    media = list(_MEDIA.finditer(t))
    handles = []
    for m in apps + media:
        a = _AFTER.match(t, m.end())
        if a and a.group(0).strip():
            handles.append(a.group(0).strip())
        b = _BEFORE.search(t, 0, m.start())
        if b:
            handles.append(b.group(0).strip())
    if handles:
        out["handle_near_platform"] = handles
    long_runs = [d for d in norm.digits if _informative(d)]
    if long_runs:
        out["long_digits"] = long_runs
    raw_max = max((len(re.sub(r"\D", "", g)) for g in _DIGIT_GROUPS.findall(norm.original)), default=0)
    recovered = [d for d in long_runs if len(d) > raw_max]
    if recovered:
        out["recovered_digits"] = recovered
    return out


FEATURE_NAMES: tuple[str, ...] = (
    "platform_app", "platform_media", "platform_nick", "call_to_action", "lure", "url", "short_link", "domain",
    "invite_link", "at_handle", "handle_near_platform", "long_digits_6_12", "long_digits_13p", "recovered_digits",
    "phone", "email", "benign_context", "warning", "merchant_context", "game_context", "obfuscation",
    "invisible_chars", "spaced_letters", "leet", "homoglyph", "digit_words", "app_and_contact", "cta_and_lure",
    "link_and_lure", "any_link", "offsite_phrase",
)


def pattern_features(norm: Normalized, matches: dict[str, list[str]] | None = None) -> np.ndarray:
    """Dense feature vector in [0, 1] aligned with :data:`FEATURE_NAMES`."""
    m = pattern_matches(norm) if matches is None else matches

    def c(name: str, cap: float = 2.0) -> float:
        return min(len(m.get(name, ())), cap) / cap

    long_runs = m.get("long_digits", [])
    mid = any(6 <= len(d) <= 12 for d in long_runs)
    very = any(len(d) >= 13 for d in long_runs)
    app = bool(m.get("platform_app") or m.get("platform_nick"))
    contact = bool(m.get("handle_near_platform") or m.get("at_handle") or mid or m.get("call_to_action"))
    link = bool(m.get("url") or m.get("short_link") or m.get("domain") or m.get("invite_link"))
    lure = bool(m.get("lure"))
    return np.array(
        [
            c("platform_app"), c("platform_media"), c("platform_nick"), c("call_to_action"), c("lure"), c("url", 1),
            c("short_link", 1), c("domain", 1), c("invite_link", 1), c("at_handle", 1), c("handle_near_platform"),
            float(mid), float(very), c("recovered_digits", 1), c("phone", 1), c("email", 1), c("benign_context", 1),
            c("warning", 1), c("merchant_context"), c("game_context", 1), norm.obfuscation,
            float(norm.invisible > 0), float(norm.spaced > 0), float(norm.leet > 0), float(norm.homoglyph > 0),
            float(norm.digit_words > 0), float(app and contact), float(bool(m.get("call_to_action")) and lure),
            float(link and lure), float(link), c("offsite_phrase", 1),
        ],
        dtype=np.float64,
    )


# ------------------------------------------------------------------------------------------
# Hashed character n-grams (vectorised over a batch of lines)
# ------------------------------------------------------------------------------------------

HASH_BITS = 20
_NGRAMS = (2, 3, 4)
_MULT = np.uint64(0x9E3779B97F4A7C15)
_STEP = np.uint64(1000003)
_DIGIT_RUN = re.compile(r"\d+")


def _gram_text(norm: Normalized) -> str:
    """Text the n-grams see: random ids are masked to their shape so the model learns context, not ids."""

    def mask(mm: re.Match[str]) -> str:
        d = mm.group(0)
        return "0" * min(len(d), 12) if _informative(d) or len(d) >= 13 else d

    return "\x02" + _DIGIT_RUN.sub(mask, norm.text) + "\x03"


def _hash_ngrams(texts: Sequence[str]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """CSR-like (rows, cols, vals) of unique hashed n-grams per text; vals are 1/sqrt(count)."""
    n = len(texts)
    if n == 0:
        e = np.zeros(0, dtype=np.int64)
        return e, e, np.zeros(0)
    joined = "\x00".join(texts)
    cps = np.frombuffer(joined.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    lens = np.fromiter((len(t) for t in texts), dtype=np.int64, count=n)
    row_of_char = np.repeat(np.arange(n, dtype=np.int64), lens + 1)[: len(cps)]
    is_sep = (cps == 0).astype(np.int64)
    csep = np.concatenate([[0], np.cumsum(is_sep)])
    rows_all, cols_all = [], []
    mask_bits = np.uint64((1 << HASH_BITS) - 1)
    for g in _NGRAMS:
        m = len(cps) - g + 1
        if m <= 0:
            continue
        h = np.full(m, np.uint64((g * 0x9E3779B97F4A7C15) & 0xFFFFFFFFFFFFFFFF), dtype=np.uint64)
        for k in range(g):
            h = h * _STEP + cps[k : k + m]
        h = (h ^ (h >> np.uint64(29))) * _MULT
        h ^= h >> np.uint64(32)
        ok = (csep[g : g + m] - csep[0:m]) == 0  # window contains no line separator
        rows_all.append(row_of_char[:m][ok])
        cols_all.append((h[ok] & mask_bits).astype(np.int64))
    rows = np.concatenate(rows_all)
    cols = np.concatenate(cols_all)
    key = np.unique(rows << HASH_BITS | cols)
    rows = key >> HASH_BITS
    cols = key & ((1 << HASH_BITS) - 1)
    counts = np.bincount(rows, minlength=n).astype(np.float64)
    vals = 1.0 / np.sqrt(np.maximum(counts[rows], 1.0))
    return rows, cols, vals


# ------------------------------------------------------------------------------------------
# Data
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ChatLine:
    """One labelled line from ``chat_lines.tsv``."""

    label: int
    split: str
    text: str


def _data_path() -> Path:
    return Path(str(resources.files("floodwall") / "data" / "chat_lines.tsv"))


def load_lines(path: str | Path | None = None) -> list[ChatLine]:
    """Read ``label<TAB>split<TAB>text`` lines (``#`` comments skipped); defaults to the shipped set."""
    p = Path(path) if path is not None else _data_path()
    out = []
    for raw in p.read_text(encoding="utf-8").splitlines():
        if not raw or raw.startswith("#"):
            continue
        label, split, text = raw.split("\t", 2)
        out.append(ChatLine(int(label), split, text))
    return out


# ------------------------------------------------------------------------------------------
# Model
# ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Featurized:
    rows: np.ndarray
    cols: np.ndarray
    vals: np.ndarray
    dense: np.ndarray
    n: int


def _featurize(texts: Sequence[str]) -> tuple[_Featurized, list[Normalized]]:
    norms = [analyze(t) for t in texts]
    rows, cols, vals = _hash_ngrams([_gram_text(nm) for nm in norms])
    dense = np.vstack([pattern_features(nm) for nm in norms]) if norms else np.zeros((0, len(FEATURE_NAMES)))
    return _Featurized(rows, cols, vals, dense, len(texts)), norms


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free logistic


@dataclass
class _Fit:
    w: np.ndarray  # full hashed weight table
    v: np.ndarray  # dense-feature weights
    b: float


def _fit(
    X: _Featurized, y: np.ndarray, *, l2_ngram: float, l2_dense: float, iters: int, lr: float
) -> _Fit:
    """Class-balanced L2 logistic regression by full-batch Adam over the columns present in X."""
    uniq, inv = np.unique(X.cols, return_inverse=True)
    k = len(uniq)
    n, f = X.dense.shape
    pos = max(1, int(y.sum()))
    neg = max(1, n - pos)
    sw = np.where(y == 1, n / (2.0 * pos), n / (2.0 * neg)) / n  # balanced weights, mean loss
    theta = np.zeros(k + f + 1)
    m1 = np.zeros_like(theta)
    m2 = np.zeros_like(theta)
    reg = np.concatenate([np.full(k, l2_ngram), np.full(f, l2_dense), [0.0]])
    b1, b2, eps = 0.9, 0.999, 1e-8
    for t in range(1, iters + 1):
        w, v, b = theta[:k], theta[k : k + f], theta[-1]
        z = np.bincount(X.rows, weights=w[inv] * X.vals, minlength=n) + X.dense @ v + b
        r = (_sigmoid(z) - y) * sw
        grad = np.concatenate([np.bincount(inv, weights=r[X.rows] * X.vals, minlength=k), X.dense.T @ r, [r.sum()]])
        grad += reg * theta
        m1 = b1 * m1 + (1 - b1) * grad
        m2 = b2 * m2 + (1 - b2) * grad * grad
        theta -= lr * (m1 / (1 - b1**t)) / (np.sqrt(m2 / (1 - b2**t)) + eps)
    full = np.zeros(1 << HASH_BITS, dtype=np.float64)
    full[uniq] = theta[:k]
    return _Fit(full, theta[k : k + f].copy(), float(theta[-1]))


def _predict(fit: _Fit, X: _Featurized) -> np.ndarray:
    z = np.bincount(X.rows, weights=fit.w[X.cols] * X.vals, minlength=X.n) + X.dense @ fit.v + fit.b
    return _sigmoid(z)


def _subset(X: _Featurized, idx: np.ndarray) -> _Featurized:
    remap = np.full(X.n, -1, dtype=np.int64)
    remap[idx] = np.arange(len(idx))
    keep = remap[X.rows] >= 0
    return _Featurized(remap[X.rows[keep]], X.cols[keep], X.vals[keep], X.dense[idx], len(idx))


def _choose_threshold(y: np.ndarray, p: np.ndarray, beta: float = 0.5) -> float:
    """Threshold maximising F-beta (precision-weighted) on out-of-fold train scores; ties -> higher."""
    best_t, best_f = 0.5, -1.0
    for t in np.round(np.arange(0.10, 0.951, 0.01), 2):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        fp = float(np.sum(pred & (y == 0)))
        fn = float(np.sum(~pred & (y == 1)))
        denom = (1 + beta**2) * tp + beta**2 * fn + fp
        f = (1 + beta**2) * tp / denom if denom else 0.0
        if f >= best_f - 1e-12:
            best_t, best_f = float(t), f
    return best_t


@dataclass
class ChatClassifier:
    """Scores a chat line or stream title for coded off-platform diversion / malicious links."""

    fit: _Fit
    threshold: float = 0.5
    name: str = "chat-diversion-v1"
    train_seconds: float = 0.0
    n_train: int = 0
    cv_scores: np.ndarray | None = field(default=None, repr=False)

    def score(self, text: str) -> float:
        """Probability-like score in [0, 1] that ``text`` steers viewers off-platform."""
        return float(self.score_many([text])[0])

    def score_many(self, texts: Sequence[str]) -> np.ndarray:
        """Scores for a batch of lines (vectorised n-gram hashing), shape ``(len(texts),)``."""
        X, _ = _featurize(list(texts))
        return _predict(self.fit, X)

    def predict(self, text: str) -> bool:
        """True when ``score(text) >= threshold``."""
        return self.score(text) >= self.threshold

    def explain(self, text: str) -> dict[str, Any]:
        """Evidence for a verdict: normalised text, digits view, matched patterns, feature values, score."""
        X, norms = _featurize([text])
        nm = norms[0]
        matches = pattern_matches(nm)
        s = float(_predict(self.fit, X)[0])
        dense = X.dense[0]
        contrib = {n: round(float(v * w), 4) for n, v, w in zip(FEATURE_NAMES, dense, self.fit.v) if v}
        return {
            "classifier": self.name,
            "text": text,
            "normalized": nm.text,
            "digits": list(nm.digits),
            "patterns": matches,
            "obfuscation": {
                "share_changed": round(nm.obfuscation, 4),
                "invisible_chars": nm.invisible,
                "homoglyphs": nm.homoglyph,
                "spaced_runs": nm.spaced,
                "leet_tokens": nm.leet,
                "digit_word_runs": nm.digit_words,
            },
            "feature_contributions": contrib,
            "score": s,
            "threshold": self.threshold,
            "flagged": s >= self.threshold,
        }


# Hyper-parameters fixed a priori / by cross-validation on the train split (see bench/RESULTS-chat.md).
_HP = {"l2_ngram": 1e-4, "l2_dense": 1e-5, "iters": 250, "lr": 0.05}


def train(
    lines: Iterable[ChatLine] | None = None, *, folds: int = 4, seed: int = 0, **hp: float
) -> ChatClassifier:
    """Train on the ``train`` split only; the threshold comes from ``folds``-fold CV within it."""
    t0 = time.perf_counter()
    data = [ln for ln in (load_lines() if lines is None else lines) if ln.split == "train"]
    params = {**_HP, **hp}
    params["iters"] = int(params["iters"])
    y = np.array([ln.label for ln in data], dtype=np.float64)
    X, _ = _featurize([ln.text for ln in data])
    threshold, oof = 0.5, None
    if folds >= 2 and len(data) >= 2 * folds:
        rng = np.random.default_rng(seed)
        fold_of = rng.permutation(len(data)) % folds
        oof = np.zeros(len(data))
        for k in range(folds):
            tr, te = np.flatnonzero(fold_of != k), np.flatnonzero(fold_of == k)
            f = _fit(_subset(X, tr), y[tr], **params)
            oof[te] = _predict(f, _subset(X, te))
        threshold = _choose_threshold(y, oof)
    fit = _fit(X, y, **params)
    return ChatClassifier(fit, threshold, train_seconds=time.perf_counter() - t0, n_train=len(data), cv_scores=oof)


@lru_cache(maxsize=1)
def default_classifier() -> ChatClassifier:
    """The classifier trained once per process on the shipped ``chat_lines.tsv``."""
    return train()

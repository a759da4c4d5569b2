"""The evasions a diverter uses to hide a handle, platform word or link from a chat filter (for make_chat_lines).

Each is the inverse of something floodwall.content.chat.normalize undoes: zero-width characters,
homoglyphs, fullwidth and mathematical letters, circled and keycap digits, digits spelled out, leet,
spacing, "dot" for ".".
"""

from __future__ import annotations

import random
from collections.abc import Callable

# --------------------------------------------------------------------------------------------
# Evasion transforms (the inverse of what floodwall.content.chat.normalize undoes)
# --------------------------------------------------------------------------------------------

ZW_CHARS = ["\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u00ad", "\ufe0f", "\ufe0e"]
HOMO = {
    "a": ["\u0430", "\u03b1"], "e": ["\u0435", "\u03b5"], "o": ["\u043e", "\u03bf"],
    "p": ["\u0440", "\u03c1"], "c": ["\u0441"], "x": ["\u0445", "\u03c7"], "y": ["\u0443"],
    "i": ["\u0456", "\u03b9"], "s": ["\u0455"], "k": ["\u043a", "\u03ba"], "t": ["\u0442", "\u03c4"],
    "h": ["\u04bb"], "j": ["\u0458"], "v": ["\u03bd"], "m": ["\u043c"], "b": ["\u0432"],
    "n": ["\u0578"], "d": ["\u0501"], "g": ["\u0261"], "w": ["\u051d"], "q": ["\u051b"],
}
# (capital A, small a, digit 0) code points of NFKC-folding mathematical alphabets without holes.
MATH_STYLES = [
    (0x1D400, 0x1D41A, 0x1D7CE),  # bold
    (0x1D468, 0x1D482, 0x1D7CE),  # bold italic
    (0x1D5D4, 0x1D5EE, 0x1D7EC),  # sans-serif bold
    (0x1D670, 0x1D68A, 0x1D7F6),  # monospace
    (0x1D4D0, 0x1D4EA, 0x1D7D8),  # bold script / double-struck digits
    (0x1D56C, 0x1D586, 0x1D7E2),  # bold fraktur / sans digits
]
LEET = {"a": ["4", "@"], "e": ["3"], "i": ["1"], "o": ["0"], "s": ["5", "$"], "t": ["7"], "l": ["1"]}
EN_DIGITS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]
ZH_DIGITS = ["零", "一", "二", "三", "四", "五", "六", "七", "八", "九"]
ZH_CAPS = ["零", "壹", "贰", "叁", "肆", "伍", "陆", "柒", "捌", "玖"]
CIRCLED = ["\u24ea"] + [chr(0x2460 + i) for i in range(9)]
NEG_CIRCLED = ["\u24ff"] + [chr(0x2776 + i) for i in range(9)]
DOTS = [" dot ", "(.)", "[.]", "点", "點", " (dot) ", "。", "[dot]"]
SEPS = [" ", ".", "-", "_", " ", "·"]


def ev_zw(s: str, r: random.Random) -> str:
    """Insert zero-width / format characters between characters."""
    out = []
    for ch in s:
        out.append(ch)
        if r.random() < 0.6:
            out.append(r.choice(ZW_CHARS))
    return "".join(out)


def ev_homo(s: str, r: random.Random) -> str:
    """Swap Latin letters for Cyrillic/Greek/Armenian look-alikes (at least one)."""
    out, hit = [], False
    for ch in s:
        low = ch.lower()
        if low in HOMO and r.random() < 0.7:
            out.append(r.choice(HOMO[low]))
            hit = True
        else:
            out.append(ch)
    if not hit:  # guarantee at least one swap so the evasion is really present
        for i, ch in enumerate(out):
            if ch.lower() in HOMO:
                out[i] = HOMO[ch.lower()][0]
                break
    return "".join(out)


def ev_full(s: str, r: random.Random) -> str:
    """Fullwidth forms (ＡＢＣ１２３)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else ("\u3000" if c == " " else c) for c in s)


def ev_math(s: str, r: random.Random) -> str:
    """Mathematical alphanumeric styles (𝐛𝐨𝐥𝐝, 𝚖𝚘𝚗𝚘, ...)."""
    cap, small, dig = r.choice(MATH_STYLES)
    out = []
    for c in s:
        if "A" <= c <= "Z":
            out.append(chr(cap + ord(c) - 65))
        elif "a" <= c <= "z":
            out.append(chr(small + ord(c) - 97))
        elif "0" <= c <= "9":
            out.append(chr(dig + ord(c) - 48))
        else:
            out.append(c)
    return "".join(out)


def ev_circled(s: str, r: random.Random) -> str:
    """Circled or negative-circled letters and digits."""
    neg = r.random() < 0.3
    out = []
    for c in s:
        if "a" <= c <= "z":
            # Negative circled letters only exist as capitals (U+1F150..), so use them for both cases.
            out.append(chr((0x1F150 if neg else 0x24D0) + ord(c) - 97))
        elif "A" <= c <= "Z":
            out.append(chr((0x1F170 if neg else 0x24B6) + ord(c) - 65))
        elif "0" <= c <= "9":
            out.append((NEG_CIRCLED if neg else CIRCLED)[ord(c) - 48])
        else:
            out.append(c)
    return "".join(out)


def ev_spaced(s: str, r: random.Random) -> str:
    """Separate every character with a space, dot, dash, underscore or middle dot."""
    sep = r.choice(SEPS)
    return sep.join(c for c in s if c != " ")


def ev_leet(s: str, r: random.Random) -> str:
    """Leetspeak inside words (t3l3gram, wh@tsapp)."""
    out, hit = [], False
    chars = list(s)
    for i, c in enumerate(chars):
        # Leet only inside words: evaders keep the word shape so readers still recognise it.
        inside = 0 < i < len(chars) - 1 and chars[i - 1].isalpha() and chars[i + 1].isalpha()
        if c.lower() in LEET and (inside or (i == 0 and len(s) > 3)) and r.random() < 0.6:
            out.append(r.choice(LEET[c.lower()]))
            hit = True
        else:
            out.append(c)
    if not hit:
        for i in range(1, len(out) - 1):
            if out[i].lower() in LEET and out[i - 1].isalpha() and out[i + 1].isalpha():
                out[i] = LEET[out[i].lower()][0]
                break
    return "".join(out)


def ev_words_en(s: str, r: random.Random) -> str:
    """Digits as English words (one three eight)."""
    out = []
    for c in s:
        out.append(EN_DIGITS[int(c)] if c.isascii() and c.isdigit() else c)
    return r.choice([" ", "-", " "]).join(out)


def ev_words_zh(s: str, r: random.Random) -> str:
    """Digits as Chinese numerals (一三八 / 壹叁捌, 〇 and 幺 variants)."""
    table = list(r.choice([ZH_DIGITS, ZH_CAPS]))
    if r.random() < 0.5:
        table[0] = "〇"
    if r.random() < 0.3:
        table[1] = "幺"
    return "".join(table[int(c)] if c.isascii() and c.isdigit() else c for c in s)


def ev_keycap(s: str, r: random.Random) -> str:
    """Digits as keycap emoji (1️⃣)."""
    return "".join(c + "\ufe0f\u20e3" if c.isascii() and c.isdigit() else c for c in s)


def ev_circdig(s: str, r: random.Random) -> str:
    """Digits as circled digits (①, ❶)."""
    table = r.choice([CIRCLED, NEG_CIRCLED])
    return "".join(table[int(c)] if c.isascii() and c.isdigit() else c for c in s)


def ev_dot(s: str, r: random.Random) -> str:
    """Spell out the dots of a link (dot, (.), [.], 点, 點, 。)."""
    d = r.choice(DOTS)
    return s.replace(".", d)


# Which slot kinds each evasion is applied to: "word" = platform/CTA words, "handle" = ids, "link" = URLs.
EVASIONS: dict[str, tuple[Callable[[str, random.Random], str], tuple[str, ...]]] = {
    "zw": (ev_zw, ("word", "handle", "link")),
    "homo": (ev_homo, ("word", "handle", "link")),
    "full": (ev_full, ("word", "handle", "link")),
    "math": (ev_math, ("word", "handle")),
    "circled": (ev_circled, ("word", "handle")),
    "spaced": (ev_spaced, ("word", "handle")),
    "leet": (ev_leet, ("word",)),
    "words_en": (ev_words_en, ("digits",)),
    "words_zh": (ev_words_zh, ("digits",)),
    "keycap": (ev_keycap, ("digits",)),
    "circdig": (ev_circdig, ("digits",)),
    "dot": (ev_dot, ("link",)),
}
EVASION_NAMES = sorted(EVASIONS)
APPLY_ORDER = ["spaced", "dot", "leet", "words_en", "words_zh", "keycap", "circdig", "homo", "math", "circled",
               "full", "zw"]


def apply_combo(kind: str, value: str, combo: list[str], r: random.Random) -> str:
    """Apply the combo's evasions that make sense for this slot kind."""
    # Structural tricks first, glyph swaps next, invisible characters last (as a human evader would).
    for name in sorted(combo, key=APPLY_ORDER.index):
        fn, kinds = EVASIONS[name]
        if kind == "handle" and "digits" in kinds:
            # Digit evasions only touch the digit run of a handle, letters stay.
            value = "".join(fn(ch, r) if ch.isdigit() else ch for ch in value) if name != "words_en" else _words_en_runs(value, r)
        elif kind in kinds:
            if kind == "word" and not any(c.isascii() and c.isalpha() for c in value) and name not in ("zw", "spaced"):
                continue  # Latin-letter tricks do nothing to Chinese words
            value = fn(value, r)
    return value


def _words_en_runs(value: str, r: random.Random) -> str:
    """Each run of ASCII digits in a handle spelled out in English words."""
    out, run = [], []
    for ch in value + "\0":
        if ch.isascii() and ch.isdigit():
            run.append(ch)
            continue
        if run:
            out.append(" " + ev_words_en("".join(run), r) + " ")
            run = []
        if ch != "\0":
            out.append(ch)
    return "".join(out).strip()

"""Pattern evidence on a normalised chat line: platform names, calls to action, links, digit runs."""

from __future__ import annotations

import re

import numpy as np

from floodwall.content.chat_text import _DIGIT_GROUPS, Normalized

__all__ = ["FEATURE_NAMES", "informative_digits", "pattern_features", "pattern_matches"]

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


def informative_digits(run: str) -> bool:
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
    long_runs = [d for d in norm.digits if informative_digits(d)]
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

"""What chat lines are made of (for make_chat_lines): vocabularies, diversion and honest templates, hand lines.

Every word was written for this file; nothing is downloaded.
"""

from __future__ import annotations

import random

from floodwall.data.chat_evasions import CIRCLED, apply_combo, ev_full, ev_keycap, ev_math, ev_zw

# --------------------------------------------------------------------------------------------
# Slot vocabularies
# --------------------------------------------------------------------------------------------

NAMES = ["lily", "amy", "coco", "mimi", "xiaomei", "tianxin", "sweet", "baby", "vip", "kitty", "honey",
         "angel", "jessy", "nana", "yoyo", "candy", "lucky", "sunny", "ruby", "bella", "meimei", "qingqing",
         "xiaoyu", "duoduo", "tangtang", "kiki", "lulu", "dream", "fuli", "boss"]
PLAT_ZH = ["微信", "薇信", "威信", "v信", "vx", "VX", "wx", "薇", "扣扣", "qq", "QQ", "企鹅", "飞机", "纸飞机",
           "电报", "tg", "抖音", "微博", "油管", "推特", "ins", "微", "徽信", "卫星"]
PLAT_EN = ["telegram", "tg", "wechat", "weixin", "whatsapp", "line", "kik", "snapchat", "snap", "instagram",
           "ig", "discord", "onlyfans", "twitter", "skype", "signal", "qq", "vx"]
OFFER_ZH = ["福利", "完整版", "高清资源", "私房照", "一对一", "内部资源", "赚钱项目", "兼职日结", "低价代充",
            "上分代练", "彩票内部群", "免费皮肤", "大额红包", "高额返利", "看片资源", "无门槛提现", "私人视频", "内部优惠"]
OFFER_EN = ["free gifts", "full video", "private pics", "vip content", "free nitro", "crypto signals",
            "easy money", "free skins", "bonus codes", "exclusive content", "1 on 1 chat", "free coins",
            "uncensored clips", "giveaway prize"]
CTA_ZH = ["加我", "加", "私我", "私聊", "来找我", "滴滴我", "戳我", "联系我", "速加", "快加", "找我", "+", "➕"]
CTA_EN = ["add me", "dm me", "text me", "message me", "hit me up", "contact me", "find me", "msg me"]
NOTES = ["快手", "直播间", "ks", "宝贝", "666", "老粉"]
DOMAINS = ["fuli", "vip", "free", "gift", "hongbao", "bonus", "kuaishou-event", "ks-gift", "live-vip", "bc365",
           "xx-video", "lookhere", "hotgirl", "cash", "win888", "ks-official", "reward", "coinflip", "aa-club"]
TLDS = ["com", "top", "vip", "xyz", "cc", "net", "club", "cn", "me", "site", "app", "link", "info", "io"]
SHORT = ["bit.ly", "t.cn", "tinyurl.com", "dwz.cn", "suo.im", "cutt.ly", "is.gd", "rb.gy", "url.cn", "goo.gl"]
PRIZE_EN = ["iPhone 17", "1000 coins", "gift card", "free skin", "red packet", "cash prize"]


def handle(r: random.Random) -> str:
    """A random contact handle: name+digits, QQ-style number, phone number or name mash."""
    kind = r.random()
    if kind < 0.45:
        sep = r.choice(["", "_", "", ".", "_"])
        return r.choice(NAMES) + sep + str(r.randint(10, 999999))
    if kind < 0.7:
        return str(r.randint(10 ** 5, 10 ** r.randint(6, 10) - 1))
    if kind < 0.85:
        return "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))
    return r.choice(NAMES) + r.choice(NAMES)[:3] + str(r.randint(1, 99))


def digits(r: random.Random) -> str:
    """A random QQ-style or mobile number."""
    if r.random() < 0.5:
        return str(r.randint(10 ** 5, 10 ** r.randint(6, 10) - 1))
    return "1" + r.choice("3456789") + "".join(r.choice("0123456789") for _ in range(9))


def code(r: random.Random, n: int = 6) -> str:
    """A random short-link / invite code."""
    return "".join(r.choice("abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(n))


def link(r: random.Random) -> str:
    """A random suspicious link: odd domain, shortener, t.me or discord invite."""
    k = r.random()
    if k < 0.4:
        host = r.choice(DOMAINS) + (str(r.randint(1, 99)) if r.random() < 0.3 else "") + "." + r.choice(TLDS)
        url = (r.choice(["www.", "", "m."]) + host + (("/" + code(r, 4)) if r.random() < 0.4 else ""))
    elif k < 0.8:
        url = r.choice(SHORT) + "/" + code(r)
    elif k < 0.9:
        url = "t.me/" + r.choice(["+", "", "joinchat/"]) + code(r, 8)
    else:
        url = "discord.gg/" + code(r, 7)
    if r.random() < 0.35:
        url = r.choice(["http://", "https://"]) + url
    return url


# --------------------------------------------------------------------------------------------
# Templates.  Slots: {pz} platform (zh), {pe} platform (en), {h} handle, {d} digit id, {u} link,
# {oz}/{oe} offer, {cz}/{ce} call to action, {note}, {prize}.  Each template is one unit of split.
# --------------------------------------------------------------------------------------------

POS_TEMPLATES: dict[str, str] = {
    "p01": "想要{oz}的{cz}{pz}：{h}",
    "p02": "{oz}{cz}，{pz}号{h}",
    "p03": "{pz} {h} 备注{note}",
    "p04": "主页有{pz}，{oz}{cz}",
    "p05": "看简介 {pz}{h} {oz}",
    "p06": "{ce} on {pe}: {h}",
    "p07": "{oe}? {ce} on {pe} {h}",
    "p08": "{u} {oz}点进去就有",
    "p09": "get {oe} here -> {u}",
    "p10": "{pz}搜{h}，{oz}",
    "p11": "这里说话不方便，去{pz}聊 {h}",
    "p12": "join my {pe} {u} for {oe}",
    "p13": "{u} {oe} inside",
    "p14": "联系方式在头像，{pz}{h}",
    "p15": "{h} 加{pz}，{oz}",
    "p16": "主播太卡了，我们去{pz}看，{h}",
    "p17": "{pe} +{d} {oe}",
    "p18": "恭喜中奖！请添加{pz}{h}领取",
    "p19": "{oz}私聊，{pz}{d}",
    "p20": "直播间不让发，{pz}号是{h}，记得备注{note}",
    "p21": "check {u} to claim your {prize}",
    "p22": "别在这看了，{pe} {h} 有{oz}",
    "p23": "{pz}: {h} ←{oz}",
    "p24": "加群{d} {oz}",
    "p25": "{pe} id {h} 24h online",
    "p26": "{oz}看这里 {u}",
    "p27": "新人注册送88元 {u}",
    "p28": "{pz}同号 {d}",
    "p29": "brothers {ce} on {pe}, name is {h}",
    "p30": "快手限流了，老粉{cz}{pz}{h}",
    "p31": "官方活动，点击 {u} 领{oz}",
    "p32": "{pe}👉{h}👈 {oe}",
    "p33": "姐妹们{pz}{h}，{oz}天天更新",
    "p34": "who wants {oe}? {pe}: {h}",
    "p35": "{cz} {pz} {d} 带你{oz}",
    "p36": "要{oz}的去{u}",
}

NEG_TEMPLATES: dict[str, str] = {
    "n01": "{item}{price}元，小黄车{n}号链接",
    "n02": "关注主播不迷路，{greet}",
    "n03": "join server {server} tonight, clan {clan} is recruiting",
    "n04": "我们在天梯见，{game}{rank}",
    "n05": "第{n}名好厉害{emo}",
    "n06": "{s1}比{s2}，{team}赢了",
    "n07": "主播几点下播？{hour}点吗",
    "n08": "I saw this on {plat_en} yesterday {emo}",
    "n09": "支持{pay}支付吗",
    "n10": "主播{age}岁了吗",
    "n11": "这个{item}多少钱，{price}吗",
    "n12": "{emo}{emo}{emo} 主播好美",
    "n13": "订单号{order}怎么还没发货",
    "n14": "游戏ID {gid} 求带飞，{game}{server}",
    "n15": "{city}的家人们晚上好{emo}",
    "n16": "点赞到{n}万就抽奖",
    "n17": "买了{n}件{item}，质量很好",
    "n18": "今天{month}月{day}号，{hour}点开播",
    "n19": "谢谢{name}送的{gift}{emo}",
    "n20": "it's {hour}:{minute} here in {country}",
    "n21": "gg wp, {s1}-{s2}",
    "n22": "line up at {hour}pm for the {raid}",
    "n23": "这首歌在{music}上能搜到吗",
    "n24": "主播用的是什么手机，{phone}吗",
    "n25": "hello from {country} {emo}",
    "n26": "快手小店下单，{price}包邮",
    "n27": "{n}号链接有{color}的吗",
    "n28": "上次在{plat_zh}刷到你了，好巧{emo}",
    "n29": "有没有人一起打{game}，我在{server}",
    "n30": "{digits_fun}",
    "n31": "how much is shipping to {country}?",
    "n32": "拍下备注{color}和尺码就行",
    "n33": "主播主页有{replay}，可以去看",
    "n34": "{fancy} 主播{emo}",
    "n35": "倒数{countdown}，开抢！",
    "n36": "我是{server}的，{game}加不了好友",
    "n37": "领券再减{n}元，{item}到手{price}",
    "n38": "can you show the {color_en} one again? {emo}",
    "n39": "{keycap}号链接还有货吗",
    "n40": "{circ}质量好{circ2}发货快，好评",
    "n41": "my {plat_en} got hacked lol, anyway love the stream",
    "n42": "{spaced_hi} {emo}",
    "n43": "售后问题请私信店铺客服，{greet}",
    "n44": "rank {n} on {server} now, {game} grind",
    "n45": "{pay}支付和快手支付都可以吗",
}

ITEMS = ["连衣裙", "卫衣", "口红", "面膜", "牛仔裤", "运动鞋", "保温杯", "零食大礼包", "手机壳", "耳机", "羽绒服",
         "茶叶", "洗发水", "瑜伽垫", "台灯"]
PRICES = ["9.9", "19.9", "29", "39", "59", "69", "99", "128", "199", "299", "399", "599", "1299"]
GREETS = ["晚上好", "大家好", "欢迎新来的宝宝", "今天福袋多多", "主播天天开播", "记得点赞"]
SERVERS = ["Asia-3", "NA-East", "EU-West", "微信区", "QQ区", "安卓QQ区", "iOS微信区", "国服", "亚服", "S12区",
           "SEA-1", "server 7"]
CLANS = ["Red Dragons", "NightOwls", "天下第一", "Team Phoenix", "Wolfpack", "老年队"]
GAMES = ["王者荣耀", "和平精英", "原神", "英雄联盟", "lol", "pubg", "apex", "valorant", "我的世界", "金铲铲"]
RANKS = ["王者50星", "钻石2", "大师段位", "荣耀王者", "星耀1", "铂金3"]
TEAMS = ["红队", "蓝队", "主队", "EDG", "T1", "我们"]
PLAT_EN_HONEST = ["douyin", "tiktok", "weibo", "bilibili", "youtube", "xiaohongshu", "instagram", "twitter"]
PLAT_ZH_HONEST = ["抖音", "b站", "微博", "小红书", "西瓜视频", "微信视频号"]
PAYS = ["微信", "支付宝", "wechat", "银行卡", "花呗", "云闪付"]
CITIES = ["杭州", "广州", "成都", "东北", "山东", "上海", "武汉", "西安", "重庆", "深圳"]
NAMES_HONEST = ["小鱼儿", "大哥", "老铁", "阿强", "Mike", "Jenny", "榜一大哥", "小甜甜", "王哥"]
GIFTS = ["火箭", "穿云箭", "小心心", "棒棒糖", "跑车", "啤酒", "玫瑰", "墨镜"]
COUNTRIES = ["Malaysia", "Brazil", "Canada", "Japan", "Germany", "the US", "Vietnam", "Thailand"]
RAIDS = ["boss raid", "guild war", "tournament", "squad match"]
MUSIC = ["qq音乐", "网易云", "酷狗", "Apple Music", "Spotify", "酷我"]
PHONES = ["iPhone15", "华为mate60", "小米14", "vivo x100", "oppo find x7", "荣耀90"]
COLORS = ["黑色", "白色", "粉色", "蓝色", "灰色", "卡其色"]
COLORS_EN = ["blue", "red", "black", "white", "pink"]
REPLAYS = ["往期回放", "作品合集", "上次的直播片段", "教程视频"]
EMOS = ["😂", "❤️", "👍", "🔥", "🎉", "😍", "👏", "🌹", "😭", "🐱", "✨", "💪", "🙏", "🥰", ""]
FANCY = ["𝓵𝓸𝓿𝓮", "𝐋𝐎𝐕𝐄", "ｌｏｖｅ", "ⓛⓞⓥⓔ", "𝕃𝕆𝕍𝔼", "𝒽𝑒𝓁𝓁𝑜", "ＨＩ", "𝙝𝙞", "𝐍𝐢𝐜𝐞"]
FUNNY_DIGITS = ["666666", "6666666666", "2333333", "88888888", "1314520", "99999", "111111", "555555哭了",
                "666666666666", "2333333333笑死", "7777777", "5201314"]
COUNTDOWNS = ["五四三二一", "三二一", "十九八七六五四三二一", "5 4 3 2 1", "3、2、1", "five four three two one"]
SPACED_HI = ["h e l l o", "h.i", "g g", "l o l", "o m g", "w o w", "n i c e", "h-e-l-l-o", "b r b"]


def neg_fill(r: random.Random) -> dict[str, str]:
    """Slot values for an honest template."""
    n = r.randint(1, 30)
    return {
        "item": r.choice(ITEMS), "price": r.choice(PRICES), "n": str(n), "greet": r.choice(GREETS),
        "server": r.choice(SERVERS), "clan": r.choice(CLANS), "game": r.choice(GAMES), "rank": r.choice(RANKS),
        "emo": r.choice(EMOS), "s1": str(r.randint(0, 30)), "s2": str(r.randint(0, 30)), "team": r.choice(TEAMS),
        "hour": str(r.randint(1, 12)), "minute": f"{r.randint(0, 59):02d}", "plat_en": r.choice(PLAT_EN_HONEST),
        "plat_zh": r.choice(PLAT_ZH_HONEST), "pay": r.choice(PAYS), "age": str(r.randint(18, 40)),
        "order": str(r.randint(10 ** 11, 10 ** 18)), "gid": str(r.randint(10 ** 5, 10 ** 9)),
        "city": r.choice(CITIES), "month": str(r.randint(1, 12)), "day": str(r.randint(1, 28)),
        "name": r.choice(NAMES_HONEST), "gift": r.choice(GIFTS), "country": r.choice(COUNTRIES),
        "raid": r.choice(RAIDS), "music": r.choice(MUSIC), "phone": r.choice(PHONES), "color": r.choice(COLORS),
        "color_en": r.choice(COLORS_EN), "replay": r.choice(REPLAYS), "fancy": r.choice(FANCY),
        "digits_fun": r.choice(FUNNY_DIGITS), "countdown": r.choice(COUNTDOWNS),
        "keycap": ev_keycap(str(r.randint(1, 9)), r), "circ": CIRCLED[r.randint(1, 4)],
        "circ2": CIRCLED[r.randint(5, 9)], "spaced_hi": r.choice(SPACED_HI),
    }


def pos_fill(r: random.Random, combo: list[str]) -> dict[str, str]:
    """Slot values for a diversion template, with the evasion combo applied to the sensitive slots."""
    def w(v: str) -> str:
        return apply_combo("word", v, combo, r)

    return {
        "pz": w(r.choice(PLAT_ZH)), "pe": w(r.choice(PLAT_EN)), "h": apply_combo("handle", handle(r), combo, r),
        "d": apply_combo("handle", digits(r), combo, r), "u": apply_combo("link", link(r), combo, r),
        "oz": r.choice(OFFER_ZH), "oe": r.choice(OFFER_EN), "cz": w(r.choice(CTA_ZH)), "ce": w(r.choice(CTA_EN)),
        "note": r.choice(NOTES), "prize": r.choice(PRIZE_EN),
    }


def benign_style(text: str, r: random.Random) -> str:
    """Stylistic noise honest users add (fancy fonts / fullwidth on Latin words, stray zero-width)."""
    k = r.random()
    if k < 0.35:
        return ev_full(text, r)
    if k < 0.6:
        return " ".join(ev_math(tok, r) if tok.isascii() else tok for tok in text.split(" ")) if " " in text else ev_math(text, r)
    if k < 0.8:
        return ev_zw(text, r)
    return text + " " + r.choice(["✨✨", "💕💕💕", "🎉🎉", "🔥🔥🔥"])


# --------------------------------------------------------------------------------------------
# Hand-written lines
# --------------------------------------------------------------------------------------------

HAND_POS = [
    "想看完整版的➕薇❤：mm520lili",
    "加v：x i a o m e i 8 8 9 9",
    "ⓥⓧ：ｌｉｌｙ０８２５",
    "私下微信转账便宜50，加我",
    "主页简介有飞机号，福利多多",
    "t.me/freegift_bonus 领红包",
    "bit.ly/3xYz9Qa 免费领取皮肤",
    "www点fuli888点com 懂的都懂",
    "扣扣：①③⑤⑦⑨②④⑥",
    "Q群 八七六五四三二一 内部资源",
    "tele gram @vip_lily",
    "t e l e g r a m: @sweetgirl99",
    "wh4ts4pp +8613812345678",
    "𝐭𝐞𝐥𝐞𝐠𝐫𝐚𝐦 @hotvip",
    "w\u0435ch\u0430t : lucky7788",
    "add me on snap: amy.x99",
    "my OF link in bio 😘 onlyfans.com/amyxx",
    "discord.gg/freenitro claim now",
    "free nitro: discord.gift/Ab3dE9",
    "看主页，主页有联系方式",
    "这里不能说，去主页找我",
    "直播间不方便，私聊给你发链接",
    "带你赚钱，日结三百，私我",
    "兼职刷单，一单一结，加vx",
    "彩票内部群，稳赚不赔，加群",
    "菠菜平台注册送彩金 www.bc365.vip",
    "低价代充，扣扣联系",
    "中奖了请联系客服微信kf_8866领取",
    "恭喜你被抽中iPhone，点击 http://t.cn/Rabc12 领取",
    "快手官方活动 点 kuaishou-gift.top 领取",
    "抖音号：lily0825 那边尺度更大",
    "微博搜 小美酱 有福利",
    "来油管看完整版",
    "这里要被封了，大家去tg群 t.me/+AbCdEfGh",
    "手机号 幺三八 一二三四 五六七八 加我",
    "电话：138-1234-5678 随时联系",
    "1️⃣3️⃣8️⃣1️⃣2️⃣3️⃣4️⃣5️⃣6️⃣7️⃣8️⃣ 微同号",
    "v同手机号，不懂的问",
    "l i n e: kawaii_88",
    "kik me: sweetie_22",
    "snap 👻 jessy.love",
    "ig: @hot.jessy dm for more",
    "twitter搜 @xiaomei_vip 有惊喜",
    "❤️看我头像❤️有惊喜",
    "头像有联系方式，懂的来",
    "简介有联系方式，福利自取",
    "加\u200b微\u200b信\u200b：\u200bmimi\u200b520",
    "薇❤ 同 名",
    "➕V：tt168168 看私房",
    "威信 kiki_0918 夜里聊",
    "企鹅号 贰叁肆伍陆柒捌 备注快手",
    "扣扣号⑨⑧⑦⑥⑤④③ 来",
    "TG：＠ｓｅｘｙ＿ｖｉｐ",
    "🅣🅔🅛🅔🅖🅡🅐🅜 @freegiftz",
    "d i s c o r d . g g / n i t r o x",
    "whatsapp wa.me/8613912345678",
    "free coins here → coinflip[.]xyz",
    "claim your gift card at giftbonus(dot)top",
    "visit lookhere dot cc for full vid",
    "嘘～去纸飞机聊，搜 @dream_ks",
    "这里说不了，电报搜 sweetbaby",
    "加我薇 x i a o y u 1 2 3 领资源",
    "懂的加q 三五七九二四六八",
    "要资源的评论区留言，我私信发你vx",
    "想赚钱的私聊我，不收任何费用，加微",
    "外站有完整版，去 xxvideo.site 看",
    "主播不让发，我发在群里了，q群 seven seven eight eight nine nine",
    "hit me up on telegram for crypto signals, 10x guaranteed",
    "DM me on whatsapp, I'll send the full clip",
    "kik: angel_x 🥵 no limits",
    "snapchat: sweet.ruby premium",
    "join our telegram for free bets t.me/betking888",
    "usdt投资日赚千元，联系飞机 @usdt_king",
    "网赚项目，手机就能做，ＶＸ：ｚｈｕａｎ８８８",
    "别在快手买了，加我微信便宜一半",
    "私下交易更便宜，加我vx不走平台",
    "链接发你微信了，注意查收 vx lucky_mm",
    "我在ins上发了，搜 coco.xx",
    "ＱＱ：叁捌陆柒伍肆贰壹",
    "w-e-c-h-a-t: angel_1314",
    "v . x : t i a n x i n 6 6",
    "one three eight one two three four five six seven eight 加我",
    "tg群号 @ks_fuli_group 进群领红包",
    "小黄车里没有的，加我微信私发",
    "想要同款的加微，比小黄车便宜",
]

HAND_NEG = [
    "主播晚上好呀", "来了来了", "这件衣服有黑色的吗", "99元两件包邮吗", "小黄车3号链接是什么材质",
    "刚下单了，期待", "点点关注，主播天天开播", "今晚八点准时开播", "第1名的礼物好大",
    "恭喜主播拿到小时榜第3名", "哈哈哈哈哈笑死我了", "666 主播牛", "88 明天见", "gg", "nice shot!!",
    "that was insane 🔥🔥🔥", "😂😂😂😂", "❤️❤️❤️主播好美", "👍👍👍", "where are you from streamer?",
    "I saw this on douyin yesterday, so funny", "this clip is everywhere on tiktok lol", "我在抖音刷到过这个主播",
    "微博热搜上看到的，来围观", "支持微信支付吗？还是只能快手支付", "wechat pay accepted? 我在国外",
    "qq音乐能搜到这首歌吗", "网易云上有这首歌", "这首歌叫什么名字", "主播唱的是周杰伦的晴天吗",
    "line up for the boss at 9pm", "stand in line guys, one at a time", "discord is down again today lol",
    "telegram is blocked here right?", "在b站看过你的视频", "小红书上看到你推荐的", "淘宝上同款卖199，这里便宜",
    "京东也有，但这里有赠品", "我在拼多多买过类似的", "join server Asia-3 tonight, we need healers",
    "我们在天梯见", "王者荣耀谁来开黑，我在微信区", "我是QQ区的，加不了", "和平精英QQ区有人吗",
    "今天上了王者50星", "分数3:2，太刺激了", "比分 21-19 赢了", "第一局输了第二局赢了", "主播你的KD是多少",
    "rank 1 on the server lol", "kda 12/3/5 not bad", "主播身高多少？170吗", "我今年18岁",
    "我家在杭州，离你好近", "广州的家人们来报到", "现在凌晨2点还在看", "已经看了3个小时了",
    "订单号20251222123456怎么还没发货", "快递单号SF1234567890查不到", "客服电话是多少？",
    "售后问题请私信店铺客服", "想要的宝宝点小黄车，直接拍", "链接在小黄车里", "1号链接已经上架了",
    "库存只剩20件了", "满199减30", "今天直播间专属价59.9", "3件8折", "领券再减10元", "拍下备注颜色和尺码",
    "主页有往期回放", "主播主页的作品都好好看", "加入粉丝团，每天签到", "粉丝灯牌点亮了", "送个小心心❤",
    "谢谢大哥的火箭🚀", "感谢老铁送的穿云箭", "老铁们双击666", "点赞到10万就抽奖", "抽奖什么时候开奖",
    "中奖了！谢谢主播", "福袋什么时候开", "福利什么时候发", "今天有什么福利吗", "链接怎么打不开",
    "can you show the blue one again?", "how much is shipping to Malaysia?", "price in USD please",
    "is it 99 yuan or 199?", "ordered 2, thanks!", "what's the brand of your mic?", "what game is this?",
    "first time here, hello from Brazil 🇧🇷", "hi from 🇺🇸", "lol the cat 🐱", "1st!!!", "top 3 gifts today",
    "score was 3-1", "we need 2 more players", "play again at 10:30?", "I'm on level 45 now", "gg ez",
    "the stream is lagging for me", "audio out of sync", "brb", "love this song", "can you say hi to my mom",
    "主播你好漂亮", "声音好好听", "为什么卡了", "网卡了吗", "刚来，错过了什么", "回放在哪看",
    "下次直播是什么时候", "明天见👋", "晚安主播🌙", "手机号注册的快手号能改吗", "1号链接和2号链接有什么区别",
    "买一送一吗", "一二三四五六七，大家一起数", "倒数五四三二一开抢", "三二一上链接", "one two three go!",
    "①质量好②发货快③客服态度好", "1️⃣号链接还有吗", "𝓵𝓸𝓿𝓮 𝔂𝓸𝓾 主播", "ＨＥＬＬＯ from Japan",
    "Ｌｏｖｅ ｔｈｉｓ ｓｏｎｇ", "h e l l o", "G G", "w.t.f lol", "o m g 😱", "l o l", "3q主播", "4k画质好清楚",
    "5g信号就是快", "ps5还是xbox", "买了iPhone15，拍照好看", "我在B站也关注你了", "刚从抖音过来的",
    "微信运动步数第一哈哈", "微信红包抢到了", "用qq邮箱注册的", "我的qq号被盗了，好烦",
    "有人用line吗，日本朋友都用", "whatsapp在国内用不了吧", "The link in the cart is the same product",
    "check the cart for the link", "微信支付和支付宝都能用", "666666", "2333333333", "88888888",
    "主播1314520", "5201314 永远爱主播", "第10086次来看你", "我的快手号就是这个名字",
    "房管在吗，有人刷屏", "举报了，刷广告的太多了", "别信那些加微信的，都是骗子", "主播提醒：不要加陌生人微信",
    "谨防诈骗，官方不会私聊你", "看到有人发链接别点，是钓鱼", "不要相信站外的兼职刷单",
    "今天的福袋是口红", "点关注抽免单", "新来的宝宝点个关注", "主播今天化的妆好好看",
    "这个色号叫什么", "黄皮能用吗", "敏感肌可以用吗", "保质期多久", "发什么快递", "几天能到",
    "可以开发票吗", "有没有运费险", "退货地址在哪", "七天无理由吗", "一单能拍几件",
    "第二件半价吗", "赠品是什么", "尺码怎么选，我160 100斤", "s码还有吗", "xl码断货了吗",
    "主播你在哪个城市", "你是四川人吗，听口音像", "老家东北的来扣1", "1", "11111", "扣1扣1",
    "扣2退出", "扣666", "来晚了，扣个1", "打卡第30天", "这局能赢吗", "大龙要刷了",
    "对面五个人", "主播快回城", "输了不怪你", "下把再来", "这把carry了", "MVP!!!",
    "Who's the best player on your team?", "what's your sensitivity setting?", "what mouse do you use?",
    "love from India 🇮🇳", "bro you're cracked", "chat is so fast today", "W stream", "L take lol",
    "pog", "the music is too loud", "mods please ban the spam bots", "someone is spamming links, report them",
    "don't click the links guys, it's a scam", "ignore the telegram bots in chat",
    "主播可以唱一首起风了吗", "点歌：孤勇者", "这首是什么歌，好好听", "再来一首",
    "我给你点了10个赞", "已分享给朋友", "转发到朋友圈了", "分享到微信群了，大家一起来看",
    "妈妈问我为什么跪着看直播", "上班摸鱼看直播", "下班了来看你", "今天好累啊",
    "北京下雪了", "你们那里冷不冷", "吃饭了吗主播", "主播吃的什么，看着好香", "我也想养猫",
    "猫咪叫什么名字", "狗狗好可爱", "拍一下后面的背景", "灯光好好看", "麦克风有杂音",
    "声音小一点", "画面卡住了", "刷新一下就好了", "我这边正常", "wifi不好", "4g也卡",
]

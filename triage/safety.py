"""The safety layer: curated, tested patterns for red flags.

It reads every clause of a message (a 2,000-character message is scanned
whole: nothing is truncated) and returns a *floor* — the lowest urgency the
message may get — with the category that raised it and human-readable
signals. The combined rule (``triage.classifier``) lets this layer raise the
model's urgency, never lower it.

What raises the floor to red (taxonomy.md):
* a first-person (or reported) wish to die together with a means, a time word
  for now, a farewell, or an attempt under way;
* violence happening now or imminently threatened; a minor locked in;
* sexual assault now or within the last days, or sextortion with a threat;
* a child missing, taken or followed now; a young child alone in danger;
* a medical emergency (unconscious, overdose, heavy bleeding).
A wish to die without a plan raises the floor to orange.

What keeps a clause from counting (the signal still names it, for operators):
negation right before the trigger ("我没有想自杀"), news, fiction and game talk
("新闻里说", "游戏里被杀"), hypotheticals ("如果有人…"), and jokes or
hyperbole ("笑死", "累死了", "作业多到想死哈哈") for intent-only triggers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from knowledge.text import normalize
from triage.labels import Category, Urgency

_CLAUSE_SPLIT = re.compile(r"[。！？!?；;\n]+|(?<=[，,])\s*(?=但|可是|不过|然后|结果)")


def _rx(*alternatives: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{a})" for a in alternatives))


# ---------------------------------------------------------------- triggers
SUICIDE_INTENT = _rx(
    r"不想活",
    r"活不下去",
    r"活着(?:没|没有)(?:意思|意义)",
    r"想(?:要)?死(?!你|我了|他|她)",
    r"(?<![笑累热饿困烦气吓冷忙渴])想去死",
    r"去死吧?算了",
    r"自杀",
    r"轻生",
    r"结束(?:自己的?)?(?:生命|一切)",
    r"结束这一切",
    r"(?:今晚|今天|马上|明天)就?(?:结束|解脱)(?:了|吧)?(?:$|[，,。])",
    r"了结自己",
    r"不如死了",
    r"死了算了",
    r"想(?:跳楼|跳河|跳桥|跳江|上吊|割腕|跳下去)",
    r"紫砂",
    r"想鼠",
    r"鼠鼠(?:我)?不想活",
    r"(?:wo ?)?bu ?xiang ?huo",
    r"\bbxhl\b",
    r"xiang ?si ?le",
    r"\bzi ?sha\b",
    r"kill myself",
    r"want to die",
    r"suicid",
    r"离开这个世界",
    r"消失(?:掉)?就好了",
)
SELF_HARM = _rx(r"割腕", r"划(?:自己|手腕|胳膊)", r"自残", r"用刀片", r"割(?:自己|手)")
MEANS = _rx(
    r"安眠药",
    r"药(?:已经)?(?:买|攒|准备)好",
    r"攒了(?:很多|一瓶|好多)?药",
    r"农药",
    r"百草枯",
    r"老鼠药",
    r"刀片",
    r"绳子",
    r"烧炭",
    r"天台",
    r"楼顶",
    r"顶楼",
    r"(?:河|江|湖|海)边",
    r"大桥",
    r"铁轨",
    r"一整瓶",
    r"吃了(?:一瓶|好多|很多|一把)",
    r"💊",
    r"🔪",
)
FAREWELL = _rx(
    r"遗书",
    r"遗言",
    r"永别",
    r"再见了?(?:这个世界|大家|各位|妈妈|爸爸)",
    r"最后一(?:次|条)(?:消息|说话|跟你|联系)",
    r"下辈子",
    r"来世",
    r"别找我了",
    r"后事",
    r"🪦",
    r"⚰",
)
# Means that speak for themselves once a time or farewell is near ("药已经买好了，今晚…").
STRONG_MEANS = _rx(
    r"安眠药", r"药(?:已经)?(?:买|攒|准备)好", r"攒了(?:很多|一瓶|好多)?药", r"农药", r"百草枯", r"老鼠药", r"烧炭"
)
ATTEMPT = _rx(
    r"已经(?:吃|吞)了",
    r"(?:刚|刚刚|刚才)(?:吃|吞)了",
    r"正在割",
    r"血止不住",
    r"站在(?:天台|楼顶|顶楼|桥上|窗台|栏杆外)",
    r"(?:已经|现在)在(?:天台|楼顶|顶楼|桥上|河边|江边)",
)
NOW = _rx(
    r"现在",
    r"正在",
    r"刚才",
    r"刚刚",
    r"今晚",
    r"今天晚上",
    r"今夜",
    r"马上",
    r"立刻",
    r"一会儿?",
    r"待会",
    r"等会",
    r"此刻",
    r"这会",
    r"快来",
    r"赶紧",
    r"还在",
    r"救命",
    r"救救",
    r"\bsos\b",
    r"\bhelp\b",
)
PAST = _rx(
    r"经常",
    r"以前",
    r"好几次",
    r"一直",
    r"总是",
    r"老是",
    r"小时候",
    r"去年",
    r"上个月",
    r"那时候",
    r"曾经",
    r"之前",
    r"每次",
)
VIOLENCE = _rx(
    r"(?:打|揍|踢|掐|抽|砍|捅|勒)(?:我|他|她|孩子|弟弟|妹妹|小孩|儿子|女儿)",
    r"掐(?:着)?(?:我的?)?脖子",
    r"拿(?:着)?(?:刀|菜刀|棍子|皮带|衣架|砖头)",
    r"(?:要|说要|扬言)(?:杀|砍|弄死|打死)",
    r"往死里打",
    r"打得(?:流血|出血|骨折|晕|站不起来)",
    r"(?:头|鼻子|嘴)(?:破了|流血)",
    r"围(?:着|住)(?:我|他|她)打",
    r"(?:在|正在)(?:打|殴打)",
    r"家暴",
)
# A weapon or a threat to kill is imminent danger by itself (no time word needed).
SEVERE_VIOLENCE = _rx(
    r"拿(?:着)?(?:刀|菜刀|剪刀|斧头)",
    r"(?:要|说要|扬言|威胁要?)(?:杀|砍|弄死|打死|捅)",
    r"掐(?:着)?(?:我的?)?脖子",
    r"往死里打",
)
CONFINED = _rx(
    r"(?:被|把我)(?:关|锁|反锁)(?:在|起来|了)",
    r"关在(?:房间|屋|地下室|厕所|笼子|柜子|小黑屋)",
    r"锁在(?:房间|屋|家里|地下室|厕所|车里)",
    r"不让我(?:出门|出去|离开|吃饭)",
)
SEXUAL = _rx(
    r"强奸",
    r"性侵",
    r"猥亵",
    r"侵犯了?我",
    r"摸我(?:的)?(?:胸|下面|隐私|屁股|身体|大腿)?",
    r"脱(?:我的?)?衣服",
    r"让我脱",
    r"逼我.{0,4}(?:脱|摸|亲|看|拍|发生关系)",
    r"裸照",
    r"私密照",
    r"不雅(?:照|视频)",
    r"发生关系",
    r"开房",
)
SEXTORTION = _rx(r"(?:照片|视频|裸照|私密照).{0,12}(?:发出去|曝光|发给|公开|传到)", r"不给钱就.{0,8}(?:发|曝光)")
RECENT = _rx(
    r"昨(?:天|晚)",
    r"前天",
    r"这两天",
    r"今(?:天|晚)",
    r"刚才",
    r"刚刚",
    r"现在",
    r"正在",
    r"在门外",
    r"(?:约|叫)我.{0,6}(?:今晚|今天|明天|出去|见面)",
)
MISSING = _rx(
    r"走丢",
    r"走失",
    r"(?:孩子|女儿|儿子|弟弟|妹妹|娃|宝宝|小孩|闺女).{0,6}(?:不见了|找不到了?|没回家|还没回来|失联|联系不上|丢了)",
    r"被(?:人|陌生人)?(?:抱走|拐|带走|拉上车|抢走|掳走)",
    r"拐走",
    r"有人(?:一直)?(?:跟着我|跟踪我|尾随)",
    r"陌生人.{0,8}(?:跟着|跟踪|拉我|抱走|拽)",
    r"(?:一夜|一晚上|整晚|到现在)(?:都)?没回(?:家|来)",
)
YOUNG_CHILD_ALONE = _rx(
    r"(?:[一二两三四五六七1-7]岁|[0-9一二两三四五六七八九十]+个月|婴儿|宝宝|幼儿).{0,10}(?:一个人|独自|单独|自己).{0,6}(?:在家|在车|锁)",
    r"(?:宝宝|婴儿|小孩|孩子|幼儿).{0,6}(?:锁在车|关在车|留在车|落在车)",
    r"(?:[一二两三四五六七1-7]岁).{0,8}(?:没人管|没有人管|饿了.{0,3}天|一个人在)",
)
MEDICAL = _rx(
    r"昏迷",
    r"叫不醒",
    r"没(?:有)?呼吸",
    r"不省人事",
    r"口吐白沫",
    r"抽搐",
    r"大出血",
    r"流了(?:很多|好多)血",
    r"血止不住",
    r"喘不上气",
)

# ---------------------------------------------------------------- what does not count
NEGATION_BEFORE = re.compile(
    r"(?:没有|没|不是|不会|并不|从没|从来没|从不|不再|别|不要|并没有|也没)(?:想|要|打算|会)?(?:过)?$"
)
REPORTED = _rx(
    r"新闻",
    r"报道",
    r"热搜",
    r"电视剧",
    r"电影",
    r"小说",
    r"剧里",
    r"动漫",
    r"视频里",
    r"短视频",
    r"听说有(?:个|人)",
    r"网上说",
    r"文章",
    r"游戏里",
    r"对面",
    r"打野",
    r"团战",
    r"五杀",
    r"副本",
    r"歌词",
)
HYPOTHETICAL = _rx(r"如果", r"假如", r"假设", r"万一", r"怎么预防", r"怎么判", r"判几年", r"犯什么罪", r"法律规定")
JOKE = _rx(
    r"哈哈",
    r"hhh",
    r"233",
    r"🤣",
    r"😂",
    r"开玩笑",
    r"开个玩笑",
    r"[笑累热饿困气吓冷忙渴]死(?:了|我了)?",
    r"杀疯了",
    r"社死",
    r"想死你",
    r"\bjk\b",
)


@dataclass(frozen=True, slots=True)
class SafetyResult:
    """The lowest urgency the message may get, and why."""

    floor: Urgency
    category: Category | None
    signals: tuple[str, ...]


def _first(pattern: re.Pattern[str], text: str) -> str | None:
    m = pattern.search(text)
    return m.group(0) if m else None


def _unnegated(pattern: re.Pattern[str], clause: str, signals: list[str]) -> str | None:
    """The first match in ``clause`` that is not negated just before it."""
    for m in pattern.finditer(clause):
        before = clause[max(0, m.start() - 6) : m.start()]
        if NEGATION_BEFORE.search(before):
            signals.append(f"否定: {clause[max(0, m.start() - 4) : m.end()]}")
            continue
        return m.group(0)
    return None


def assess(text: str) -> SafetyResult:
    """Scan every clause of ``text`` for red flags; return the floor and its reasons."""
    return assess_normalized(normalize(text))


def assess_normalized(normalized: str) -> SafetyResult:
    """:func:`assess` of text already through :func:`knowledge.text.normalize`."""
    signals: list[str] = []
    found: dict[str, str] = {}
    for clause in _CLAUSE_SPLIT.split(normalized):
        clause = clause.strip()
        if not clause:
            continue
        reported = _first(REPORTED, clause)
        hypothetical = _first(HYPOTHETICAL, clause)
        if reported or hypothetical:
            if any(p.search(clause) for p in (SUICIDE_INTENT, VIOLENCE, SEXUAL, MISSING, CONFINED)):
                signals.append(f"转述: {reported}" if reported else f"假设: {hypothetical}")
            continue
        joke = _first(JOKE, clause)
        for name, pattern in (
            ("intent", SUICIDE_INTENT),
            ("selfharm", SELF_HARM),
            ("violence", VIOLENCE),
            ("severe_violence", SEVERE_VIOLENCE),
            ("sexual", SEXUAL),
            ("missing", MISSING),
            ("confined", CONFINED),
        ):
            hit = _unnegated(pattern, clause, signals)
            if hit is None:
                continue
            if joke and name in ("intent", "violence", "severe_violence"):
                signals.append(f"玩笑: {joke}")
                continue
            found.setdefault(name, hit)
        for name, pattern in (
            ("means", MEANS),
            ("strong_means", STRONG_MEANS),
            ("farewell", FAREWELL),
            ("attempt", ATTEMPT),
            ("now", NOW),
            ("past", PAST),
            ("recent", RECENT),
            ("sextortion", SEXTORTION),
            ("child_alone", YOUNG_CHILD_ALONE),
            ("medical", MEDICAL),
        ):
            hit = (
                _unnegated(pattern, clause, signals)
                if name not in ("now", "past", "recent")
                else _first(pattern, clause)
            )
            if hit is not None:
                found.setdefault(name, hit)
    return _decide(found, signals)


def _decide(found: dict[str, str], signals: list[str]) -> SafetyResult:
    def sig(label: str, key: str) -> str:
        return f"{label}: {found[key]}"

    now = "now" in found
    past_only = "past" in found and not now
    reasons: list[str] = []
    floor = Urgency.BLUE
    category: Category | None = None

    def raise_to(level: Urgency, cat: Category, *why: str) -> None:
        nonlocal floor, category
        if level.rank > floor.rank:
            floor, category = level, cat
        reasons.extend(w for w in why if w and w not in reasons)

    intent = "intent" in found or "selfharm" in found
    if intent:
        intent_sig = sig("意图", "intent") if "intent" in found else sig("自伤", "selfharm")
        plan = [k for k in ("means", "farewell", "attempt") if k in found]
        labels = {"means": "手段", "farewell": "告别", "attempt": "正在进行"}
        if plan:
            raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, intent_sig, *(sig(labels[k], k) for k in plan))
        elif now and not past_only:
            raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, intent_sig, sig("时间", "now"))
        else:
            raise_to(Urgency.ORANGE, Category.SUICIDE_SELFHARM, intent_sig)
    elif "farewell" in found and ("means" in found or "attempt" in found):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("告别", "farewell"))
    elif "strong_means" in found and (now or "farewell" in found):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("手段", "strong_means"), sig("时间", "now") if now else "")
    if "attempt" in found and ("means" in found or "medical" in found):
        raise_to(Urgency.RED, Category.SUICIDE_SELFHARM, sig("正在进行", "attempt"))
    if "violence" in found and now:
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("暴力", "violence"), sig("时间", "now"))
    if "severe_violence" in found and not past_only:
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("暴力", "severe_violence"))
    if "sexual" in found and "recent" in found and not past_only:
        raise_to(Urgency.RED, Category.SEXUAL_ABUSE, sig("性侵害", "sexual"), sig("时间", "recent"))
    if "sextortion" in found:
        raise_to(Urgency.RED, Category.SEXUAL_ABUSE, sig("威胁", "sextortion"))
    if "missing" in found and not past_only:
        raise_to(Urgency.RED, Category.MISSING, sig("走失/被带走", "missing"))
    if "child_alone" in found:
        raise_to(Urgency.RED, Category.NEGLECT, sig("幼童独处", "child_alone"))
    if "confined" in found and not past_only:
        raise_to(Urgency.RED, Category.FAMILY_VIOLENCE, sig("被关", "confined"))
    if "medical" in found and not past_only:
        raise_to(Urgency.RED, category or Category.SUICIDE_SELFHARM, sig("急症", "medical"))
    if floor is Urgency.BLUE and "past" in found and any(k in found for k in ("violence", "sexual")):
        reasons.append(sig("时间", "past"))
    notes = [s for s in dict.fromkeys(signals)]
    return SafetyResult(floor, category, tuple(reasons + notes)[:8])
